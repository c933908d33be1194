package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxJSONDepth bounds the nesting of token JSON. Real Jitsi tokens nest three
// levels (payload > context > user); the bound keeps hostile input cheap.
const maxJSONDepth = 32

var (
	errDuplicateKey = errors.New("duplicate object key")
	errNotObject    = errors.New("not a JSON object")
	errTooDeep      = errors.New("JSON nested too deeply")
	errTrailing     = errors.New("trailing data after JSON value")
)

// decodeObject decodes a JSON object the way a token segment must be read:
// numbers stay json.Number, a key repeated in any object is an error (two
// parsers reading different values from one token is a known attack, see
// SECURITY-CASES #112 / JSA-2023-0001), nesting is bounded, and nothing may
// follow the object.
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	obj, err := readObject(dec, 1)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errTrailing
		}
		return nil, err
	}
	return obj, nil
}

// readObject reads the members of an object whose '{' was consumed.
func readObject(dec *json.Decoder, depth int) (map[string]any, error) {
	if depth > maxJSONDepth {
		return nil, errTooDeep
	}
	obj := make(map[string]any)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key is %T", tok)
		}
		if _, dup := obj[key]; dup {
			return nil, fmt.Errorf("%w %q", errDuplicateKey, key)
		}
		val, err := readValue(dec, depth)
		if err != nil {
			return nil, err
		}
		obj[key] = val
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	return obj, nil
}

func readArray(dec *json.Decoder, depth int) ([]any, error) {
	if depth > maxJSONDepth {
		return nil, errTooDeep
	}
	arr := []any{}
	for dec.More() {
		val, err := readValue(dec, depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, val)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, err
	}
	return arr, nil
}

func readValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return readObject(dec, depth+1)
		case '[':
			return readArray(dec, depth+1)
		default:
			return nil, fmt.Errorf("unexpected %q", t)
		}
	default: // string, json.Number, bool, nil
		return t, nil
	}
}
