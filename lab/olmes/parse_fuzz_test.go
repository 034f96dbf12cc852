package olmes

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// FuzzParseJSON holds the hand-written parser (jsonparse.go) to
// encoding/json: it never panics, it accepts exactly the documents
// encoding/json accepts (up to its nesting limit), and what it reads means
// the same, compared after a round trip through encoding/json.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{"a": 1, "b": [true, false, null], "c": {"d": "e"}}`,
		`[1, -2.5e3, 1e400, 12345678901234567890, -0, 0.1]`,
		`"\u00e9\ud83d\ude00\ud800 \"q\" \\ \/ \b\f\n\r\t"`,
		`{"a": 1, "a": 2}`,
		"\"\xff\xfe\"",
		`  {}  `, `[]`, `{"a":}`, `[1,]`, `01`, `1.`, `-`, `"\u12"`, `tru`, `{"a" 1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseJSON(b)
		if !json.Valid(b) {
			if err == nil {
				t.Fatalf("parseJSON accepted %q, which encoding/json rejects", b)
			}
			return
		}
		if err != nil {
			if depth(b) > maxDepth {
				return // deeper than our limit: refusing it is the contract
			}
			t.Fatalf("parseJSON rejected valid JSON %q: %v", b, err)
		}
		var got, want any
		if err := json.Unmarshal(b, &want); err != nil {
			// a number beyond float64 (1e400): encoding/json refuses it,
			// we read ±Inf as Python's json does
			return
		}
		ours, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("re-encoding %q: %v", b, err)
		}
		if err := json.Unmarshal(ours, &got); err != nil {
			t.Fatalf("our encoding %q of %q does not decode: %v", ours, b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: parseJSON gives %#v, encoding/json %#v", b, got, want)
		}
	})
}

// depth is the deepest nesting of arrays and objects in valid JSON b.
func depth(b []byte) int {
	d, deepest, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == '[' || c == '{'):
			d++
			deepest = max(deepest, d)
		case !inStr && (c == ']' || c == '}'):
			d--
		}
	}
	return deepest
}

// arrowSeed is a small Arrow IPC stream of the kinds of columns the OLMES
// datasets have: strings, integers, floats, booleans, lists, structs, nulls.
func arrowSeed(t testing.TB) []byte {
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "question", Type: arrow.BinaryTypes.String},
		{Name: "label", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "choices", Type: arrow.ListOf(arrow.BinaryTypes.String)},
		{Name: "meta", Type: arrow.StructOf(arrow.Field{Name: "src", Type: arrow.BinaryTypes.String})},
	}, nil)
	bld := array.NewRecordBuilder(mem, schema)
	defer bld.Release()
	bld.Field(0).(*array.StringBuilder).AppendValues([]string{"Which?", "Why?"}, nil)
	bld.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 0}, []bool{true, false})
	bld.Field(2).(*array.Float64Builder).AppendValues([]float64{0.5, -1}, nil)
	bld.Field(3).(*array.BooleanBuilder).AppendValues([]bool{true, false}, nil)
	lb := bld.Field(4).(*array.ListBuilder)
	vb := lb.ValueBuilder().(*array.StringBuilder)
	for _, row := range [][]string{{"a", "b"}, {"c"}} {
		lb.Append(true)
		vb.AppendValues(row, nil)
	}
	sb := bld.Field(5).(*array.StructBuilder)
	fb := sb.FieldBuilder(0).(*array.StringBuilder)
	for _, s := range []string{"x", "y"} {
		sb.Append(true)
		fb.Append(s)
	}
	rec := bld.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReadArrowSeed: the fuzz seed reads back as written.
func TestReadArrowSeed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.arrow")
	if err := os.WriteFile(path, arrowSeed(t), 0o644); err != nil {
		t.Fatal(err)
	}
	rows, err := ReadArrowFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(rows)
	want := `[{"question":"Which?","label":1,"score":0.5,"ok":true,"choices":["a","b"],"meta":{"src":"x"}},` +
		`{"question":"Why?","label":null,"score":-1.0,"ok":false,"choices":["c"],"meta":{"src":"y"}}]`
	if string(got) != want {
		t.Errorf("rows\n%s\nwant\n%s", got, want)
	}
}

// FuzzReadArrowFile: a corrupt or truncated Arrow file (a download cut
// short, a wrong file named .arrow) is an error naming the file, never a
// crash.
func FuzzReadArrowFile(f *testing.F) {
	seed := arrowSeed(f)
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add(seed[:len(seed)-8])
	f.Add([]byte("not arrow"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "data.arrow")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var ie *InputError
		if _, err := ReadArrowFile(path); err != nil && (!errors.As(err, &ie) || ie.Path != path) {
			t.Fatalf("error without the file's name: %v", err)
		}
	})
}

// FuzzReadJSONLRows: every line of an OLMES JSONL data file either parses
// or is an error naming the file and the line.
func FuzzReadJSONLRows(f *testing.F) {
	f.Add([]byte("{\"q\": \"a\", \"choices\": [\"x\", \"y\"], \"gold\": 1}\n{\"q\": \"b\"}\n"))
	f.Add([]byte("{\"q\": \"a\"}\n\n{bad\n"))
	f.Add([]byte("\x1f\x8b not gzip"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "rows.jsonl")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		rows, err := ReadJSONLRows(path)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.Path != path {
				t.Fatalf("error without the file's name: %v", err)
			}
			return
		}
		for _, r := range rows {
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("row %v does not encode: %v", r, err)
			}
		}
	})
}

// TestReadArrowFileCorruptBytes: every single-byte corruption of a small
// Arrow file reads or is an error naming the file. Before the metadata check
// (arrowcheck.go), one of them made arrow-go ask for a 377 GB slice, which
// ends the process ("fatal error: runtime: out of memory").
func TestReadArrowFileCorruptBytes(t *testing.T) {
	seed := arrowSeed(t)
	path := filepath.Join(t.TempDir(), "data.arrow")
	bad := 0
	for i := range seed {
		for _, v := range []byte{0xff, 0x7f, 0x80, 0x00} {
			b := append([]byte(nil), seed...)
			b[i] = v
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadArrowFile(path)
			var ie *InputError
			if err != nil && (!errors.As(err, &ie) || ie.Path != path) {
				t.Fatalf("byte %d = %#x: error without the file's name: %v", i, v, err)
			}
			if err != nil {
				bad++
			}
		}
	}
	t.Logf("%d of %d corruptions refused", bad, 4*len(seed))
}

// TestLongLineIsAnError: a .gz that decompresses to more than maxLine bytes
// without a newline (a gzip bomb, or not JSON lines at all) is an error
// naming the file and line from every JSONL reader; lines used to grow
// without bound (10 GB of zeros in a 10 MB .jsonl.gz: fatal out of memory).
func TestLongLineIsAnError(t *testing.T) {
	defer func(n int) { maxLine = n }(maxLine)
	maxLine = 1 << 20
	dir := t.TempDir()
	write := func(name string, lines ...[]byte) string {
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		for _, l := range lines {
			z.Write(l)
		}
		z.Close()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	bomb := bytes.Repeat([]byte{'0'}, 4<<20)
	for _, tc := range []struct {
		name string
		read func(string) error
	}{
		{"rows.jsonl.gz", func(p string) error { _, err := ReadJSONLRows(p); return err }},
		{"requests.jsonl.gz", func(p string) error { _, err := ReadRequests(p); return err }},
		{"evals.jsonl.gz", func(p string) error { _, err := ReadEvalRecords(p); return err }},
		{"labels.lst.gz", func(p string) error { _, err := readLines(p); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// line 2 is the long one, after a blank first line
			path := write(tc.name, []byte("\n"), bomb)
			err := tc.read(path)
			var ie *InputError
			if !errors.As(err, &ie) || ie.Path != path || ie.Line != 2 || !strings.Contains(err.Error(), "line longer than 1 MiB") {
				t.Errorf("got %v, want an InputError for %s line 2", err, path)
			}
		})
	}
	// a line just under the limit still reads
	path := write("ok.jsonl.gz", []byte(`{"a": "`), bytes.Repeat([]byte{'x'}, maxLine-16), []byte("\"}\n"))
	if rows, err := ReadJSONLRows(path); err != nil || len(rows) != 1 {
		t.Errorf("a line under the limit: %d rows, %v", len(rows), err)
	}
}

// FuzzReadTaskConfig: an oe-eval task config (config.json beside a request
// dump) reads or is an error naming the file; what reads has no negative
// counts.
func FuzzReadTaskConfig(f *testing.F) {
	f.Add([]byte(`{"task_name":"arc_easy:mc","task_config":{"task_core":"arc_easy","limit":1000000,"split":"test","num_shots":5,"primary_metric":"acc_raw","random_subsample_seed":1234},"num_instances":2376}`))
	f.Add([]byte(`{"task_config":{"task_name":"hellaswag:rc::olmes","limit":-3,"num_shots":-1}}`))
	f.Add([]byte(`{"task_name":5}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "config.json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := ReadTaskConfig(path)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) || ie.Path != path {
				t.Fatalf("error without the file's name: %v", err)
			}
			return
		}
		if c.Options.Limit < -1 || c.Options.Shots < -1 {
			t.Fatalf("limit %d, shots %d", c.Options.Limit, c.Options.Shots)
		}
	})
}
