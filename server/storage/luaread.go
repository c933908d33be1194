package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// ErrInvalidData reports a data file that is not a Prosody data file: not
// valid Lua, or Lua that does more than return one table built from literals.
var ErrInvalidData = errors.New("storage: invalid data file")

// DefaultEvalTimeout bounds the evaluation of one data file.
const DefaultEvalTimeout = 5 * time.Second

// maxNumberExprDepth bounds numeric expressions such as (-1/0).
const maxNumberExprDepth = 4

// UnmarshalLua reads a Prosody data file ("return { ... };") into a Table.
//
// The chunk is parsed with gopher-lua and must consist of exactly one return
// statement whose value is a table constructor made only of literals: strings,
// numbers (optionally negated or divided, as in Prosody's (1/0) for infinity),
// booleans, nil, and nested table constructors, at most MaxDepth deep. Anything
// else (names, calls, functions, operators, loops) is rejected before any code
// runs. The accepted chunk is then evaluated in a gopher-lua state with no
// libraries loaded, bounded by ctx, so the result has Lua's exact semantics
// (later duplicate keys win, nil values vanish, positional items get 1, 2...).
//
// Errors wrap ErrInvalidData when the content is at fault.
func UnmarshalLua(ctx context.Context, src []byte) (Table, error) {
	chunk, err := parse.Parse(bytes.NewReader(src), "data")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidData, err)
	}
	if err := checkChunk(chunk); err != nil {
		return nil, err
	}
	proto, err := lua.Compile(chunk, "data")
	if err != nil {
		return nil, fmt.Errorf("%w: compile: %v", ErrInvalidData, err)
	}
	// A small registry that may grow: most files are a few hundred bytes,
	// and the default registry (5120 slots) dominates the cost of a read.
	L := lua.NewState(lua.Options{
		SkipOpenLibs:     true,
		CallStackSize:    8,
		RegistrySize:     128,
		RegistryMaxSize:  1 << 20,
		RegistryGrowStep: 128,
	})
	defer L.Close()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultEvalTimeout)
		defer cancel()
	}
	L.SetContext(ctx)
	L.Push(L.NewFunctionFromProto(proto))
	if err := L.PCall(0, 1, nil); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("storage: evaluating data file: %w", ctxErr)
		}
		return nil, fmt.Errorf("%w: evaluate: %v", ErrInvalidData, err)
	}
	lt, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("%w: chunk did not return a table", ErrInvalidData)
	}
	return fromLua(lt, 1)
}

// checkChunk accepts exactly `return <table constructor>` (a trailing ";" is
// allowed by the grammar and leaves no trace in the AST).
func checkChunk(chunk []ast.Stmt) error {
	if len(chunk) != 1 {
		return fmt.Errorf("%w: want a single return statement, got %d statements", ErrInvalidData, len(chunk))
	}
	ret, ok := chunk[0].(*ast.ReturnStmt)
	if !ok || len(ret.Exprs) != 1 {
		return fmt.Errorf("%w: want `return { ... }`", ErrInvalidData)
	}
	tbl, ok := ret.Exprs[0].(*ast.TableExpr)
	if !ok {
		return fmt.Errorf("%w: returned value is not a table constructor", ErrInvalidData)
	}
	return checkTable(tbl, 1)
}

func checkTable(t *ast.TableExpr, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("%w: tables nested deeper than %d", ErrInvalidData, MaxDepth)
	}
	for _, f := range t.Fields {
		if f.Key != nil {
			// Table keys are not allowed: they cannot round-trip.
			if err := checkScalar(f.Key); err != nil {
				return fmt.Errorf("key: %w", err)
			}
			if _, isNil := f.Key.(*ast.NilExpr); isNil {
				return fmt.Errorf("%w: nil table key", ErrInvalidData)
			}
		}
		if sub, ok := f.Value.(*ast.TableExpr); ok {
			if err := checkTable(sub, depth+1); err != nil {
				return err
			}
			continue
		}
		if err := checkScalar(f.Value); err != nil {
			return err
		}
	}
	return nil
}

func checkScalar(e ast.Expr) error {
	switch e.(type) {
	case *ast.StringExpr, *ast.TrueExpr, *ast.FalseExpr, *ast.NilExpr:
		return nil
	}
	return checkNumber(e, 1)
}

// checkNumber accepts number literals, their negation and division of two
// such expressions (Prosody writes (1/0), (-1/0) and (0/0)).
func checkNumber(e ast.Expr, depth int) error {
	if depth > maxNumberExprDepth {
		return fmt.Errorf("%w: numeric expression too deep", ErrInvalidData)
	}
	switch e := e.(type) {
	case *ast.NumberExpr:
		return nil
	case *ast.UnaryMinusOpExpr:
		return checkNumber(e.Expr, depth+1)
	case *ast.ArithmeticOpExpr:
		if e.Operator != "/" {
			return fmt.Errorf("%w: operator %q not allowed", ErrInvalidData, e.Operator)
		}
		if err := checkNumber(e.Lhs, depth+1); err != nil {
			return err
		}
		return checkNumber(e.Rhs, depth+1)
	}
	return fmt.Errorf("%w: %T not allowed in a data file (line %d)", ErrInvalidData, e, e.Line())
}

// fromLua converts an evaluated table. The AST check guarantees that only
// strings, numbers, booleans and tables occur, but every case is checked
// again here.
func fromLua(lt *lua.LTable, depth int) (Table, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%w: tables nested deeper than %d", ErrInvalidData, MaxDepth)
	}
	out := Table{}
	var err error
	lt.ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		var key, val any
		switch k := k.(type) {
		case lua.LString:
			key = string(k)
		case lua.LNumber:
			if math.IsNaN(float64(k)) {
				err = fmt.Errorf("%w: NaN key", ErrInvalidData)
				return
			}
			key = float64(k)
		case lua.LBool:
			key = bool(k)
		default:
			err = fmt.Errorf("%w: key of type %s", ErrInvalidData, k.Type())
			return
		}
		switch v := v.(type) {
		case lua.LString:
			val = string(v)
		case lua.LNumber:
			val = float64(v)
		case lua.LBool:
			val = bool(v)
		case *lua.LTable:
			val, err = fromLua(v, depth+1)
			if err != nil {
				return
			}
		default:
			err = fmt.Errorf("%w: value of type %s", ErrInvalidData, v.Type())
			return
		}
		out[key] = val
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
