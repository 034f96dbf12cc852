package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// rawFile assembles a safetensors file from a literal header and buffer, for
// building inputs the writer would refuse to produce.
func rawFile(header string, buf []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, buf...)
}

// encode returns the bytes Encode writes, failing the test on error.
func encode(t testing.TB, meta map[string]string, tensors []Tensor) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, meta, tensors); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sameTensors reports the first difference between two tensor lists, or "".
func sameTensors(got, want []Tensor) string {
	if len(got) != len(want) {
		return "different tensor counts"
	}
	for i := range got {
		g, w := got[i], want[i]
		switch {
		case g.Name != w.Name:
			return "tensor " + w.Name + ": name " + g.Name
		case g.DType != w.DType:
			return "tensor " + w.Name + ": dtype " + string(g.DType)
		case len(g.Shape) != len(w.Shape) || (len(g.Shape) > 0 && !reflect.DeepEqual(g.Shape, w.Shape)):
			return "tensor " + w.Name + ": shape differs"
		case !bytes.Equal(g.Data, w.Data):
			return "tensor " + w.Name + ": data differs"
		}
	}
	return ""
}

func sameMetadata(a, b map[string]string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true // absent and empty are the same to readers
	}
	return reflect.DeepEqual(a, b)
}

func TestRoundTripEveryDType(t *testing.T) {
	ints := []int64{0, 1, -1, 7, -128, 127, 42}
	floats := []float64{0, 1, -2.5, 0.1, 65504, -1e-3, 3.140625}
	tests := []struct {
		dtype DType
		make  func(name string) Tensor
		// want is what Float64s must give back (the input rounded to the dtype).
		want []float64
	}{
		{F64, func(n string) Tensor { return FromFloat64(n, F64, []int{7}, floats) }, floats},
		{F32, func(n string) Tensor { return FromFloat64(n, F32, []int{7}, floats) },
			[]float64{0, 1, -2.5, float64(float32(0.1)), 65504, float64(float32(-1e-3)), 3.140625}},
		{BF16, func(n string) Tensor { return FromFloat64(n, BF16, []int{7}, floats) },
			[]float64{0, 1, -2.5, 0.10009765625, 65536, -0.00099945068359375, 3.140625}},
		{F16, func(n string) Tensor { return FromFloat64(n, F16, []int{7}, floats) },
			[]float64{0, 1, -2.5, 0.0999755859375, 65504, -0.0010004043579101562, 3.140625}},
		{I64, func(n string) Tensor { return FromInt64(n, I64, []int{7}, ints) }, []float64{0, 1, -1, 7, -128, 127, 42}},
		{I32, func(n string) Tensor { return FromInt64(n, I32, []int{7}, ints) }, []float64{0, 1, -1, 7, -128, 127, 42}},
		{I16, func(n string) Tensor { return FromInt64(n, I16, []int{7}, ints) }, []float64{0, 1, -1, 7, -128, 127, 42}},
		{I8, func(n string) Tensor { return FromInt64(n, I8, []int{7}, ints) }, []float64{0, 1, -1, 7, -128, 127, 42}},
		{U8, func(n string) Tensor { return FromInt64(n, U8, []int{7}, []int64{0, 1, 255, 7, 128, 127, 42}) }, []float64{0, 1, 255, 7, 128, 127, 42}},
		{Bool, func(n string) Tensor { return FromInt64(n, Bool, []int{7}, ints) }, []float64{0, 1, 1, 1, 1, 1, 1}},
		{U16, func(n string) Tensor {
			return Tensor{Name: n, DType: U16, Shape: []int{2}, Data: []byte{1, 0, 0xff, 0xff}}
		}, []float64{1, 65535}},
		{U32, func(n string) Tensor {
			return Tensor{Name: n, DType: U32, Shape: []int{1}, Data: []byte{0, 0, 0, 0x80}}
		}, []float64{1 << 31}},
		{U64, func(n string) Tensor {
			return Tensor{Name: n, DType: U64, Shape: []int{1}, Data: []byte{5, 0, 0, 0, 0, 0, 0, 0}}
		}, []float64{5}},
		{F8E4M3, func(n string) Tensor {
			return Tensor{Name: n, DType: F8E4M3, Shape: []int{2}, Data: []byte{0x38, 0xc0}}
		}, []float64{1, -2}},
		{F8E5M2, func(n string) Tensor {
			return Tensor{Name: n, DType: F8E5M2, Shape: []int{2}, Data: []byte{0x3c, 0xc0}}
		}, []float64{1, -2}},
	}
	for _, tt := range tests {
		t.Run(string(tt.dtype), func(t *testing.T) {
			in := tt.make("w." + string(tt.dtype))
			path := filepath.Join(t.TempDir(), "x.safetensors")
			if err := Write(path, nil, []Tensor{in}); err != nil {
				t.Fatal(err)
			}
			f, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if d := sameTensors(f.Tensors, []Tensor{in}); d != "" {
				t.Fatal(d)
			}
			got64, err := f.Tensors[0].Float64s(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got64, tt.want) {
				t.Errorf("Float64s = %v, want %v", got64, tt.want)
			}
			got32, err := f.Tensors[0].Float32s(nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got32 {
				if want := float32(tt.want[i]); got32[i] != want {
					t.Errorf("Float32s[%d] = %g, want %g", i, got32[i], want)
				}
			}
			ints, err := f.Tensors[0].Int64s()
			if tt.dtype.IsFloat() {
				if err == nil {
					t.Errorf("Int64s of %s succeeded", tt.dtype)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range ints {
				if float64(ints[i]) != tt.want[i] {
					t.Errorf("Int64s[%d] = %d, want %g", i, ints[i], tt.want[i])
				}
			}
		})
	}
}

func TestScalarAndEmptyTensors(t *testing.T) {
	tensors := []Tensor{
		FromFloat64("loss", F64, []int{}, []float64{4.6065637355133484}),
		FromFloat32("empty", F32, []int{0, 5}, nil),
		FromInt64("step", I64, nil, []int64{1000}),
		FromFloat32("also.empty", BF16, []int{3, 0}, nil),
	}
	f, err := Parse("mem", encode(t, nil, tensors))
	if err != nil {
		t.Fatal(err)
	}
	if d := sameTensors(f.Tensors, tensors); d != "" {
		t.Fatal(d)
	}
	loss, _ := f.Get("loss")
	if loss.NumElements() != 1 || len(loss.Shape) != 0 {
		t.Errorf("loss: %d elements, shape %v; want 1 element, shape []", loss.NumElements(), loss.Shape)
	}
	if v, _ := loss.Float64s(nil); v[0] != 4.6065637355133484 {
		t.Errorf("loss = %v", v)
	}
	empty, _ := f.Get("empty")
	if v, err := empty.Float32s(nil); err != nil || len(v) != 0 {
		t.Errorf("empty.Float32s = %v, %v", v, err)
	}
}

func TestMetadataAndHeaderLayout(t *testing.T) {
	meta := map[string]string{"format": "pt", "note": `quotes " and <html> & ünïcode`, "": "empty key"}
	tensors := []Tensor{
		FromFloat32("b", F32, []int{2}, []float32{1, 2}),
		FromFloat32("a<b>", BF16, []int{1, 3}, []float32{1, 2, 3}),
	}
	b := encode(t, meta, tensors)
	n := binary.LittleEndian.Uint64(b)
	if (8+n)%8 != 0 {
		t.Errorf("header length %d: buffer starts at %d, not a multiple of 8", n, 8+n)
	}
	hdr := string(b[8 : 8+n])
	if !strings.HasPrefix(hdr, `{"__metadata__":{`) {
		t.Errorf("header does not start with __metadata__: %s", hdr)
	}
	if !strings.Contains(hdr, `"a<b>"`) {
		t.Errorf("header escapes HTML in names: %s", hdr)
	}
	if strings.TrimRight(hdr, " ") != strings.TrimSpace(hdr) || len(hdr)-len(strings.TrimRight(hdr, " ")) >= 8 {
		t.Errorf("header padding is not 0-7 trailing spaces: %q", hdr)
	}
	f, err := Parse("mem", b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, meta) {
		t.Errorf("metadata = %v, want %v", f.Metadata, meta)
	}
	// File order is the given order, not alphabetical.
	if got := f.Names(); !reflect.DeepEqual(got, []string{"b", "a<b>"}) {
		t.Errorf("Names = %v", got)
	}
	// No metadata: the entry is omitted, and reads back as nil.
	f, err = Parse("mem", encode(t, nil, tensors))
	if err != nil || f.Metadata != nil {
		t.Errorf("no metadata: %v, %v", f.Metadata, err)
	}
	// Encoding is deterministic (metadata keys sorted).
	if !bytes.Equal(b, encode(t, meta, tensors)) {
		t.Error("two encodings of the same tensors differ")
	}
}

func TestJSONOrderIsNotFileOrder(t *testing.T) {
	// Writers such as the Rust reference list tensors in the header in one
	// order and lay out the buffer in another; file order is buffer order.
	hdr := `{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"__metadata__":null,"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`
	f, err := Parse("mem", rawFile(hdr, []byte{10, 20}))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Names(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Names = %v, want [a b]", got)
	}
	b, ok := f.Get("b")
	if !ok || b.Data[0] != 20 {
		t.Errorf("Get(b) = %v, %v", b, ok)
	}
	if _, ok := f.Get("c"); ok {
		t.Error("Get(c) found a tensor")
	}
}

func TestFloat32sReusesDst(t *testing.T) {
	tn := FromFloat32("w", BF16, []int{2, 2}, []float32{1, 2, 3, 4})
	buf := make([]float32, 6)
	got, err := tn.Float32s(buf[1:3:6]) // cap 5 is enough for 4 elements
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &buf[1] || !reflect.DeepEqual(buf, []float32{0, 1, 2, 3, 4, 0}) {
		t.Errorf("Float32s did not fill dst in place: %v", buf)
	}
	small := make([]float32, 1)
	got, _ = tn.Float32s(small)
	if len(got) != 4 || &got[0] == &small[0] {
		t.Errorf("Float32s with a small dst: %v", got)
	}
}

func TestConversionErrors(t *testing.T) {
	tests := []struct {
		name string
		t    Tensor
		want string
	}{
		{"short data", Tensor{Name: "w", DType: F32, Shape: []int{2}, Data: make([]byte, 7)}, "needs 8 bytes"},
		{"unknown dtype", Tensor{Name: "w", DType: "F128", Shape: []int{1}, Data: make([]byte, 16)}, "unknown dtype"},
		{"negative dim", Tensor{Name: "w", DType: F32, Shape: []int{-1}}, "negative"},
		{"huge shape", Tensor{Name: "w", DType: F32, Shape: []int{1 << 40, 1 << 40}, Data: make([]byte, 4)}, "overflows"},
	}
	for _, tt := range tests {
		if _, err := tt.t.Float32s(nil); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"w"`) {
			t.Errorf("%s: Float32s error %v, want one naming the tensor and containing %q", tt.name, err, tt.want)
		}
	}
	big := Tensor{Name: "u", DType: U64, Shape: []int{1}, Data: []byte{0, 0, 0, 0, 0, 0, 0, 0x80}}
	if _, err := big.Int64s(); err == nil {
		t.Error("Int64s of 2^63 as U64 succeeded")
	}
}

func TestConstructorPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"FromFloat32 length", func() { FromFloat32("w", F32, []int{2}, []float32{1}) }},
		{"FromFloat32 dtype", func() { FromFloat32("w", I32, []int{1}, []float32{1}) }},
		{"FromFloat64 length", func() { FromFloat64("w", F64, []int{}, nil) }},
		{"FromInt64 range", func() { FromInt64("w", I8, []int{1}, []int64{128}) }},
		{"FromInt64 dtype", func() { FromInt64("w", F32, []int{1}, []int64{1}) }},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", tt.name)
				} else if !strings.HasPrefix(r.(string), "safetensors: ") {
					t.Errorf("%s: panic %q lacks the package prefix", tt.name, r)
				}
			}()
			tt.f()
		}()
	}
}

// TestCorrupt feeds broken files to Read; each error must name the file
// and, where the problem belongs to one tensor, that tensor.
func TestCorrupt(t *testing.T) {
	good := encode(t, map[string]string{"format": "pt"}, []Tensor{
		FromFloat32("first.weight", F32, []int{2, 2}, []float32{1, 2, 3, 4}),
		FromFloat32("second.weight", F32, []int{3}, []float32{5, 6, 7}),
	})
	one := func(info string, buf []byte) []byte { return rawFile(`{"bad.tensor":`+info+`}`, buf) }
	tests := []struct {
		name   string
		data   []byte
		tensor string // "" when the problem belongs to no tensor
		want   string
	}{
		{"empty file", nil, "", "too short"},
		{"truncated length", good[:5], "", "too short"},
		{"truncated buffer", good[:len(good)-4], "second.weight", "run past the end"},
		{"truncated header", good[:40], "", "runs past the end"},
		{"header length too large", append(binary.LittleEndian.AppendUint64(nil, 1<<40), good[8:]...), "", "exceeds"},
		{"header length past file", append(binary.LittleEndian.AppendUint64(nil, uint64(len(good))), good[8:]...), "", "runs past the end"},
		{"bad JSON at top", rawFile(`{"a" 1}`, nil), "", "bad JSON"},
		{"bad JSON in tensor", one(`{"dtype":"F32" "shape":[1],"data_offsets":[0,4]}`, make([]byte, 4)), "bad.tensor", "bad JSON"},
		{"truncated JSON", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`, make([]byte, 4)), "", "unexpected end"},
		{"not an object", rawFile(`[1,2]`, nil), "", "expected"},
		{"trailing garbage", rawFile(`{} x`, nil), "", "after the JSON object"},
		{"two objects", rawFile(`{}{}`, nil), "", "after the JSON object"},
		{"invalid UTF-8", rawFile("{\"\xff\":1}", nil), "", "UTF-8"},
		{"unknown dtype", one(`{"dtype":"F128","shape":[1],"data_offsets":[0,16]}`, make([]byte, 16)), "bad.tensor", "unknown dtype"},
		{"dtype not a string", one(`{"dtype":4,"shape":[1],"data_offsets":[0,4]}`, make([]byte, 4)), "bad.tensor", "dtype must be a string"},
		{"offsets out of bounds", one(`{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`, make([]byte, 4)), "bad.tensor", "run past the end"},
		{"offsets reversed", one(`{"dtype":"F32","shape":[1],"data_offsets":[4,0]}`, make([]byte, 4)), "bad.tensor", "increasing"},
		{"offsets negative", one(`{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}`, make([]byte, 4)), "bad.tensor", "increasing"},
		{"three offsets", one(`{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}`, make([]byte, 4)), "bad.tensor", "[begin, end]"},
		{"size mismatch", one(`{"dtype":"F32","shape":[2],"data_offsets":[0,4]}`, make([]byte, 4)), "bad.tensor", "needs 8 bytes"},
		{"dtype size mismatch", one(`{"dtype":"F64","shape":[1],"data_offsets":[0,4]}`, make([]byte, 4)), "bad.tensor", "needs 8 bytes"},
		{"overflowing shape", one(`{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}`, make([]byte, 4)), "bad.tensor", "overflows"},
		{"negative dim", one(`{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}`, nil), "bad.tensor", "negative dimension"},
		{"fractional dim", one(`{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}`, make([]byte, 4)), "bad.tensor", "not an integer"},
		{"dim too large", one(`{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}`, make([]byte, 4)), "bad.tensor", "int64 range"},
		{"missing shape", one(`{"dtype":"F32","data_offsets":[0,4]}`, make([]byte, 4)), "bad.tensor", "missing"},
		{"unknown field", one(`{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}`, make([]byte, 4)), "bad.tensor", "unknown field"},
		{"repeated field", one(`{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}`, make([]byte, 4)), "bad.tensor", "twice"},
		{"info not an object", one(`[1]`, nil), "bad.tensor", "expected"},
		{"duplicate name", rawFile(`{"bad.tensor":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"bad.tensor":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, []byte{1, 2}), "bad.tensor", "duplicate"},
		{"overlap", rawFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"bad.tensor":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`, []byte{1, 2, 3}), "bad.tensor", "overlap"},
		{"same offsets twice", rawFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"bad.tensor":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 2}), "bad.tensor", "overlap"},
		{"hole", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"bad.tensor":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}`, []byte{1, 2, 3}), "bad.tensor", "hole"},
		{"hole at start", one(`{"dtype":"U8","shape":[1],"data_offsets":[1,2]}`, []byte{1, 2}), "bad.tensor", "uncovered"},
		{"trailing bytes", one(`{"dtype":"U8","shape":[1],"data_offsets":[0,1]}`, []byte{1, 2}), "bad.tensor", "trailing bytes"},
		{"bytes but no tensors", rawFile(`{}`, []byte{1}), "", "no tensors"},
		{"metadata not strings", rawFile(`{"__metadata__":{"step":1}}`, nil), "", "must be a string"},
		{"metadata duplicate key", rawFile(`{"__metadata__":{"a":"1","a":"2"}}`, nil), "", "twice"},
		{"metadata twice", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), "", "twice"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".safetensors")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Read(path)
			if err == nil {
				t.Fatal("Read succeeded")
			}
			msg := err.Error()
			t.Log(msg) // shown with -v, to read the messages a person would get
			if !strings.Contains(msg, path) {
				t.Errorf("error does not name the file: %v", err)
			}
			if tt.tensor != "" && !strings.Contains(msg, `tensor "`+tt.tensor+`"`) {
				t.Errorf("error does not name tensor %q: %v", tt.tensor, err)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not contain %q", msg, tt.want)
			}
			// Parse on the same bytes must agree with Read.
			if _, perr := Parse(path, tt.data); perr == nil {
				t.Errorf("Parse accepted what Read rejected")
			}
		})
	}
	if _, err := Read(filepath.Join(dir, "missing.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Read of a missing file: %v, want ErrNotExist", err)
	}
}

func TestWriteErrors(t *testing.T) {
	ok := FromFloat32("w", F32, []int{1}, []float32{1})
	tests := []struct {
		name    string
		meta    map[string]string
		tensors []Tensor
		want    string
	}{
		{"duplicate name", nil, []Tensor{ok, ok}, `tensor "w": duplicate`},
		{"reserved name", nil, []Tensor{{Name: "__metadata__", DType: U8, Shape: []int{0}}}, "reserved"},
		{"data length", nil, []Tensor{{Name: "w", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}, `tensor "w"`},
		{"unknown dtype", nil, []Tensor{{Name: "w", DType: "X", Shape: []int{0}}}, "unknown dtype"},
		{"bad UTF-8 name", nil, []Tensor{{Name: "\xff", DType: U8, Shape: []int{0}}}, "UTF-8"},
		{"bad UTF-8 metadata", map[string]string{"k": "\xff"}, []Tensor{ok}, "UTF-8"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		path := filepath.Join(dir, "x.safetensors")
		err := Write(path, tt.meta, tt.tensors)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and containing %q", tt.name, err, path, tt.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left files behind: %v", entries)
	}
}

func TestWriteFunc(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	headers := []Header{{Name: "a", DType: F32, Shape: []int{2}}, {Name: "b", DType: U8, Shape: []int{3}}}
	// Streaming in pieces works.
	err := WriteFunc(path, nil, headers, func(i int, w io.Writer) error {
		for j := range headers[i].Shape[0] {
			if i == 0 {
				w.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(j))))
			} else {
				w.Write([]byte{byte(j)})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Tensors[0].Float32s(nil); !reflect.DeepEqual(v, []float32{0, 1}) {
		t.Errorf("a = %v", v)
	}
	// Too few, too many, or a failing callback: an error naming the tensor,
	// and the existing file is left untouched.
	before, _ := os.ReadFile(path)
	fail := errors.New("disk on fire")
	for _, tc := range []struct {
		name  string
		write func(int, io.Writer) error
		want  string
	}{
		{"short", func(i int, w io.Writer) error { _, err := w.Write([]byte{1}); return err }, `tensor "a": wrote 1 bytes`},
		{"long", func(i int, w io.Writer) error { _, err := w.Write(make([]byte, 9)); return err }, `tensor "a": wrote more`},
		{"failing", func(i int, w io.Writer) error { return fail }, `tensor "a": disk on fire`},
	} {
		err := WriteFunc(path, nil, headers, tc.write)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a failed write changed the existing file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("failed writes left temporary files: %v", entries)
	}
}
