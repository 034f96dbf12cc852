package olmes

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Field is one key of a Doc.
type Field struct {
	Key   string
	Value any
}

// Doc is a JSON object that keeps its key order, as a Python dict does: a dataset row, an oe-eval doc. Values
// are string, int, float64, bool, nil, []any, []string or Doc. oe-eval's request files are Python's json.dumps of
// such dicts, so the order is part of what a request file says.
type Doc []Field

// Get returns the value of key and whether it is present.
func (d Doc) Get(key string) (any, bool) {
	for _, f := range d {
		if f.Key == key {
			return f.Value, true
		}
	}
	return nil, false
}

// Set replaces the value of key in place, or appends key at the end: Python's d[key] = v.
func (d Doc) Set(key string, v any) Doc {
	for i := range d {
		if d[i].Key == key {
			d[i].Value = v
			return d
		}
	}
	return append(d, Field{key, v})
}

// Merge is HF datasets' map(): the row's columns updated by out's, new columns after the old ones.
func (d Doc) Merge(out Doc) Doc {
	r := append(Doc(nil), d...)
	for _, f := range out {
		r = r.Set(f.Key, f.Value)
	}
	return r
}

// Str returns the string value of key ("" if absent or not a string).
func (d Doc) Str(key string) string {
	v, _ := d.Get(key)
	s, _ := v.(string)
	return s
}

// Int returns the integer value of key and whether it is one. Integral floats count (JSON readers differ).
func (d Doc) Int(key string) (int, bool) {
	v, _ := d.Get(key)
	return asInt(v)
}

func asInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int(x), true
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i), true
		}
	}
	return 0, false
}

// Strings returns the value of key as a list of strings, or nil if it is not one.
func (d Doc) Strings(key string) []string {
	v, _ := d.Get(key)
	return asStrings(v)
}

func asStrings(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil
			}
			out[i] = s
		}
		return out
	}
	return nil
}

// Sub returns the value of key as a Doc (a nested object), or nil.
func (d Doc) Sub(key string) Doc {
	v, _ := d.Get(key)
	s, _ := v.(Doc)
	return s
}

// MarshalJSON writes d as Python's json.dumps would (see appendPyJSON).
func (d Doc) MarshalJSON() ([]byte, error) { return appendPyJSON(nil, d) }

// UnmarshalJSON reads an object keeping key order; numbers that are integers become int, others float64.
func (d *Doc) UnmarshalJSON(b []byte) error {
	v, err := parseJSON(b)
	if err != nil {
		return err
	}
	doc, ok := v.(Doc)
	if !ok {
		return fmt.Errorf("expected a JSON object, got %s", jsonKind(v))
	}
	*d = doc
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case Doc:
		return "an object"
	}
	return "a number"
}

// maxDepth bounds nesting in outside input (a fuzzed line must not overflow the stack).
const maxDepth = 64

// appendPyJSON appends v encoded as Python's json.dumps(v) with its defaults: ensure_ascii (every character
// outside ' '…'~' as \uXXXX, astral characters as surrogate pairs), separators ", " and ": ", keys in order.
func appendPyJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendPyString(b, x), nil
	case bool:
		if x {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		return appendPyFloat(b, x), nil
	case json.Number:
		return append(b, x...), nil
	case []string:
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendPyString(b, s)
		}
		return append(b, ']'), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ", "...)
			}
			var err error
			if b, err = appendPyJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case Doc:
		b = append(b, '{')
		for i, f := range x {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendPyString(b, f.Key)
			b = append(b, ": "...)
			var err error
			if b, err = appendPyJSON(b, f.Value); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("olmes: cannot encode %T as JSON", v)
}

const hexDigits = "0123456789abcdef"

func appendPyString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= ' ' && c <= '~' {
			if c == '"' || c == '\\' {
				b = append(b, '\\')
			}
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch r {
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		default:
			if r > 0xffff {
				r -= 0x10000
				b = appendU4(b, 0xd800|(r>>10)&0x3ff)
				b = appendU4(b, 0xdc00|r&0x3ff)
			} else {
				b = appendU4(b, r)
			}
		}
	}
	return append(b, '"')
}

func appendU4(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&15], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
}

// appendPyFloat writes repr(float): the shortest round-tripping digits, "1.0" for integral values, exponent
// form ("1e-05", "1e+16") outside 1e-4 ≤ |x| < 1e16, and NaN/Infinity as Python's json does.
func appendPyFloat(b []byte, x float64) []byte {
	switch {
	case math.IsNaN(x):
		return append(b, "NaN"...)
	case math.IsInf(x, 1):
		return append(b, "Infinity"...)
	case math.IsInf(x, -1):
		return append(b, "-Infinity"...)
	}
	ax := math.Abs(x)
	if ax != 0 && (ax < 1e-4 || ax >= 1e16) {
		s := strconv.FormatFloat(x, 'e', -1, 64) // e.g. 1e-05, 1.5e+16
		mant, exp, _ := strings.Cut(s, "e")
		sign := exp[0]
		exp = strings.TrimLeft(exp[1:], "0")
		if len(exp) < 2 {
			exp = strings.Repeat("0", 2-len(exp)) + exp
		}
		return append(b, mant+"e"+string(sign)+exp...)
	}
	s := strconv.FormatFloat(x, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return append(b, s...)
}
