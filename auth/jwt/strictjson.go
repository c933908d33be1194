package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
// follow the object. encoding/json does the decoding; checkKeys then walks
// the (now known valid) text for repeated keys and depth.
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errNotObject
	}
	end := int(dec.InputOffset())
	if len(bytes.TrimLeft(data[end:], " \t\r\n")) != 0 {
		return nil, errTrailing
	}
	if err := checkKeys(data[:end]); err != nil {
		return nil, err
	}
	return obj, nil
}

// objectKeys holds the keys seen in one object: a slice while small, a map
// beyond that, so hostile objects with many keys stay linear.
type objectKeys struct {
	list []string
	set  map[string]struct{}
}

const objectKeysListMax = 16

// add records key and reports whether it was new.
func (o *objectKeys) add(key string) bool {
	if o.set != nil {
		if _, dup := o.set[key]; dup {
			return false
		}
		o.set[key] = struct{}{}
		return true
	}
	for _, k := range o.list {
		if k == key {
			return false
		}
	}
	if len(o.list) < objectKeysListMax {
		o.list = append(o.list, key)
		return true
	}
	o.set = make(map[string]struct{}, 2*objectKeysListMax)
	for _, k := range o.list {
		o.set[k] = struct{}{}
	}
	o.set[key] = struct{}{}
	o.list = nil
	return true
}

type jsonLevel struct {
	object  bool
	wantKey bool
	keys    objectKeys
}

// checkKeys walks valid JSON text and fails on a key repeated within one
// object (compared after escape decoding, as encoding/json decodes them) or
// on nesting deeper than maxJSONDepth.
func checkKeys(data []byte) error {
	var stack []jsonLevel
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '{', '[':
			if len(stack) >= maxJSONDepth {
				return errTooDeep
			}
			stack = append(stack, jsonLevel{object: c == '{', wantKey: c == '{'})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if top := &stack[len(stack)-1]; top.object {
				top.wantKey = true
			}
		case '"':
			j := i + 1
			plain := true
			for ; data[j] != '"'; j++ {
				if data[j] == '\\' {
					j++
					plain = false
				} else if data[j] >= 0x80 {
					plain = false
				}
			}
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
				top := &stack[n-1]
				key := string(data[i+1 : j])
				if !plain {
					if err := json.Unmarshal(data[i:j+1], &key); err != nil {
						return err
					}
				}
				if !top.keys.add(key) {
					return fmt.Errorf("%w %q", errDuplicateKey, key)
				}
				top.wantKey = false
			}
			i = j
		}
	}
	return nil
}
