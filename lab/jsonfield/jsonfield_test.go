package jsonfield

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEach holds Each to encoding/json on the run files' lines: whenever
// Each takes a line apart, the line is one valid JSON object, and the keys
// and values it hands out are that object's, in order.
func FuzzEach(f *testing.F) {
	for _, s := range []string{
		`{"type":"step","step":12,"loss":2.5,"sources":{"web":1024},"message":"a \"quoted\" word"}`,
		`{"task":"arc_easy","metrics":[1,2,{"x":null}],"ok":true}`,
		`{}`, ` { "a" : 1 } `, `{"a":1,}`, `{"a\u0062":1}`, `{"a":"\"}`, `[1]`, `{"a":tru}`, `{"a":1}x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var keys []string
		var vals [][]byte
		if !Each(line, func(k, v []byte) {
			keys = append(keys, string(k))
			vals = append(vals, bytes.Clone(v))
		}) {
			return // the caller falls back to encoding/json
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(line, &obj); err != nil {
			// Each delimits values without validating them: a line it accepts
			// that encoding/json rejects must fail the caller's decoding of the
			// bad value, so at least one value must be invalid JSON
			for _, v := range vals {
				if !json.Valid(v) {
					return
				}
			}
			t.Fatalf("Each took apart %q, which encoding/json rejects: %v", line, err)
		}
		// later duplicates win in encoding/json, as in a reader filling fields in order
		want := map[string]any{}
		for i, k := range keys {
			var v any
			if err := json.Unmarshal(vals[i], &v); err != nil {
				t.Fatalf("value %q of key %q: %v", vals[i], k, err)
			}
			want[k] = v
		}
		got := map[string]any{}
		for k, raw := range obj {
			var v any
			json.Unmarshal(raw, &v)
			got[k] = v
		}
		// encoding/json turns invalid UTF-8 into U+FFFD, Each passes bytes
		// through; no key the lab looks up is invalid UTF-8
		if utf8.Valid(line) && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: Each gives %v, encoding/json %v", line, want, got)
		}
	})
}

// TestEach: what Each hands out, and the lines it leaves to encoding/json.
func TestEach(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // key=value pairs, or "!" when refused
	}{
		{`{"a":1,"b":"x,}","c":{"d":[1,{"e":"}"}]},"f":true}`, `a=1 b="x,}" c={"d":[1,{"e":"}"}]} f=true`},
		{` { "a" : -1.5e3 , "b" : null } ` + "\n", `a=-1.5e3 b=null`},
		{`{}`, ``},
		{`{"s":"a\"b\\"}`, `s="a\"b\\"`},
		{`{"k\u0065y":1}`, `!`},
		{`[1,2]`, `!`},
		{`{"a":1`, `!`},
		{`{"a":"x}`, `!`},
		{`{"a":1}x`, `!`},
		{`{"a" 1}`, `!`},
		{`{"a":}`, `!`},
		{"{\"\x04\":0}", `!`}, // a control character in a key
	} {
		var kv []string
		ok := Each([]byte(tc.in), func(k, v []byte) { kv = append(kv, string(k)+"="+string(v)) })
		got := strings.Join(kv, " ")
		if !ok {
			got = "!"
		}
		if got != tc.want {
			t.Errorf("Each(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
