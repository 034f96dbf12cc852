package safetensors

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// fuzzSeeds returns valid files covering every header feature, and corrupt
// variants of them, as a starting corpus for FuzzParse.
func fuzzSeeds(t testing.TB) [][]byte {
	valid := [][]byte{
		encode(t, nil, nil),
		encode(t, map[string]string{"format": "pt"}, []Tensor{
			FromFloat32("model.embed_tokens.weight", BF16, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
			FromFloat64("loss", F64, []int{}, []float64{4.6065637355133484}),
			FromInt64("input_ids", I64, []int{1, 2}, []int64{5, 94}),
			FromFloat32("empty", F16, []int{0}, nil),
			FromInt64("mask", Bool, []int{2}, []int64{0, 1}),
		}),
		encode(t, nil, []Tensor{
			FromFloat32("a", F32, []int{1}, []float32{1}),
			FromInt64("b", I8, []int{3}, []int64{-1, 0, 1}),
			FromInt64("c", U8, []int{1, 1}, []int64{255}),
			{Name: "d", DType: F8E4M3, Shape: []int{1}, Data: []byte{0x38}},
		}),
		rawFile(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"__metadata__":null,"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1, 2}),
		rawFile(`{"z":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"y":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil),
	}
	seeds := append([][]byte{}, valid...)
	for _, v := range valid {
		n := len(v)
		seeds = append(seeds,
			v[:n/2],                  // truncated
			v[:n-1],                  // one byte short
			append(v[:n:n], 0),       // one byte of trailing garbage
			setLen(v, uint64(n)),     // header length past the end
			setLen(v, 1<<63),         // absurd header length
			flip(v, 9), flip(v, n-1), // corrupt the JSON and the data
		)
	}
	return seeds
}

func setLen(b []byte, n uint64) []byte {
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint64(c, n)
	return c
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	if i < len(c) {
		c[i] ^= 0x41
	}
	return c
}

// FuzzParse checks that Parse never panics, that a rejected file's error
// names it, and that an accepted file re-encodes into a file that parses to
// the same tensors and metadata, and then re-encodes to the same bytes.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse("fuzz.safetensors", b)
		if err != nil {
			if file != nil {
				t.Fatal("Parse returned both a file and an error")
			}
			if !strings.HasPrefix(err.Error(), "fuzz.safetensors: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		var out bytes.Buffer
		if err := Encode(&out, file.Metadata, file.Tensors); err != nil {
			t.Fatalf("accepted file does not re-encode: %v", err)
		}
		again, err := Parse("re-encoded", out.Bytes())
		if err != nil {
			t.Fatalf("re-encoded file does not parse: %v", err)
		}
		if d := sameTensors(again.Tensors, file.Tensors); d != "" {
			t.Fatalf("re-encoded file differs: %s", d)
		}
		if !sameMetadata(again.Metadata, file.Metadata) {
			t.Fatalf("re-encoded metadata %v, want %v", again.Metadata, file.Metadata)
		}
		var out2 bytes.Buffer
		if err := Encode(&out2, again.Metadata, again.Tensors); err != nil || !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatalf("encoding is not a fixed point (err %v)", err)
		}
		// Every accepted tensor converts without panicking.
		for i := range file.Tensors {
			tn := &file.Tensors[i]
			if _, err := tn.Float64s(nil); err != nil {
				t.Fatalf("tensor %q: %v", tn.Name, err)
			}
			if _, err := tn.Float32s(nil); err != nil {
				t.Fatalf("tensor %q: %v", tn.Name, err)
			}
			if _, err := tn.Int64s(); err != nil && !tn.DType.IsFloat() && tn.DType != U64 {
				t.Fatalf("tensor %q: %v", tn.Name, err)
			}
			if got, ok := file.Get(tn.Name); !ok || got != tn {
				t.Fatalf("Get(%q) does not find the tensor", tn.Name)
			}
		}
	})
}
