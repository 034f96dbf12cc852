package safetensors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// sameConversion reports the first difference between what an in-memory
// tensor (from Parse or Read) and a streamed one (from Open) give for
// Bytes, Float32s, Float64s and Int64s, comparing floats bit for bit (NaN
// payloads included), or "". Where the in-memory tensor's conversion fails,
// the streamed one must fail with the same message, prefixed by its file.
func sameConversion(mem, str *Tensor) string {
	if str.Data != nil {
		return fmt.Sprintf("tensor %q: a streamed tensor has Data", str.Name)
	}
	errs := func(what string, e1, e2 error) (string, bool) {
		switch {
		case e1 == nil && e2 == nil:
			return "", false
		case e1 == nil || e2 == nil:
			return fmt.Sprintf("tensor %q: %s: in memory %v, streamed %v", mem.Name, what, e1, e2), true
		case !strings.HasSuffix(e2.Error(), e1.Error()) || !strings.HasPrefix(e2.Error(), str.src.path+": "):
			return fmt.Sprintf("tensor %q: %s: in memory %q, streamed %q", mem.Name, what, e1, e2), true
		}
		return "", true
	}
	b1, e1 := mem.Bytes()
	b2, e2 := str.Bytes()
	if d, stop := errs("Bytes", e1, e2); stop {
		return d
	}
	if !bytes.Equal(b1, b2) {
		return fmt.Sprintf("tensor %q: Bytes differ", mem.Name)
	}
	f1, e1 := mem.Float32s(nil)
	f2, e2 := str.Float32s(make([]float32, 3)) // a dst that must grow
	if d, _ := errs("Float32s", e1, e2); d != "" {
		return d
	}
	if len(f1) != len(f2) {
		return fmt.Sprintf("tensor %q: Float32s gives %d values in memory, %d streamed", mem.Name, len(f1), len(f2))
	}
	for i := range f1 {
		if math.Float32bits(f1[i]) != math.Float32bits(f2[i]) {
			return fmt.Sprintf("tensor %q: Float32s[%d] = %#x in memory, %#x streamed", mem.Name, i, math.Float32bits(f1[i]), math.Float32bits(f2[i]))
		}
	}
	d1, e1 := mem.Float64s(nil)
	d2, e2 := str.Float64s(nil)
	if d, _ := errs("Float64s", e1, e2); d != "" {
		return d
	}
	if len(d1) != len(d2) {
		return fmt.Sprintf("tensor %q: Float64s gives %d values in memory, %d streamed", mem.Name, len(d1), len(d2))
	}
	for i := range d1 {
		if math.Float64bits(d1[i]) != math.Float64bits(d2[i]) {
			return fmt.Sprintf("tensor %q: Float64s[%d] = %#x in memory, %#x streamed", mem.Name, i, math.Float64bits(d1[i]), math.Float64bits(d2[i]))
		}
	}
	i1, e1 := mem.Int64s()
	i2, e2 := str.Int64s()
	if d, _ := errs("Int64s", e1, e2); d != "" {
		return d
	}
	if !slices.Equal(i1, i2) {
		return fmt.Sprintf("tensor %q: Int64s differ", mem.Name)
	}
	return ""
}

// bigTensors returns a tensor of every dtype, the float ones larger than
// chunkBytes and not a multiple of it, filled with random bits (so NaNs
// with payloads, subnormals and infinities all occur), plus a U64 above
// math.MaxInt64 near the end of a multi-chunk tensor.
func bigTensors() []Tensor {
	r := rand.New(rand.NewPCG(1, 2))
	random := func(name string, d DType, n int) Tensor {
		b := make([]byte, n*d.Size())
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return Tensor{Name: name, DType: d, Shape: []int{n}, Data: b}
	}
	ts := []Tensor{
		random("f32", F32, 300_001),
		random("bf16", BF16, 700_003),
		random("f16", F16, 600_001),
		random("f64", F64, 150_001),
		random("f8e4m3", F8E4M3, 1_100_000),
		random("f8e5m2", F8E5M2, 1000),
		random("i64", I64, 140_000),
		random("i32", I32, 1000),
		random("u32", U32, 1000),
		random("i16", I16, 1000),
		random("u16", U16, 1000),
		random("i8", I8, 1000),
		random("u8", U8, 1000),
		random("bool", Bool, 1000),
		FromFloat32("scalar", F32, []int{}, []float32{1.5}),
		FromFloat32("empty", BF16, []int{0, 4}, nil),
	}
	u := make([]byte, 8*140_000)
	for i := range 140_000 {
		binary.LittleEndian.PutUint64(u[8*i:], uint64(i))
	}
	binary.LittleEndian.PutUint64(u[8*139_000:], math.MaxUint64)
	ts = append(ts, Tensor{Name: "u64", DType: U64, Shape: []int{140_000}, Data: u})
	return ts
}

// TestOpenMatchesRead: every tensor of every dtype converts to exactly the
// same bits whether the file is held in memory (Read) or streamed from disk
// (Open), across chunk boundaries, and writing the streamed tensors copies
// the file byte for byte.
func TestOpenMatchesRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big.safetensors")
	if err := Write(path, map[string]string{"format": "pt"}, bigTensors()); err != nil {
		t.Fatal(err)
	}
	mem, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	str, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer str.Close()
	if !slices.Equal(mem.Names(), str.Names()) || !sameMetadata(mem.Metadata, str.Metadata) {
		t.Fatalf("names %v or metadata %v differ from Read's %v, %v", str.Names(), str.Metadata, mem.Names(), mem.Metadata)
	}
	for i := range mem.Tensors {
		if d := sameConversion(&mem.Tensors[i], &str.Tensors[i]); d != "" {
			t.Error(d)
		}
	}
	copyPath := filepath.Join(dir, "copy.safetensors")
	if err := Write(copyPath, str.Metadata, str.Tensors); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(copyPath)
	if !bytes.Equal(a, b) {
		t.Error("writing the streamed tensors did not reproduce the file")
	}
}

// TestOpenAllocates checks what streaming is for: Open allocates about the
// header, and converting a tensor into a caller's buffer allocates nothing
// that grows with the tensor (F32 is read in place, BF16 goes through one
// pooled 1 MiB chunk). The file holds 16 MiB of F32 and 8 MiB of BF16;
// Read would allocate all 24 MiB.
func TestOpenAllocates(t *testing.T) {
	const n = 4 << 20
	path := filepath.Join(t.TempDir(), "alloc.safetensors")
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(i%128-64) * 0.25 // exact in BF16
	}
	err := Write(path, nil, []Tensor{FromFloat32("w32", F32, []int{n}, w), FromFloat32("w16", BF16, []int{n}, w)})
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, n)
	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	var file *File
	if a := allocated(func() { file, err = Open(path) }); err != nil || a > 64<<10 {
		t.Fatalf("Open: %v; allocated %d bytes, want < 64 KiB", err, a)
	}
	defer file.Close()
	for _, name := range []string{"w32", "w16"} {
		tn, _ := file.Get(name)
		var got []float32
		a := allocated(func() { got, err = tn.Float32s(dst) })
		if err != nil {
			t.Fatal(err)
		}
		if a > chunkBytes+64<<10 {
			t.Errorf("%s: Float32s allocated %d bytes, want at most one chunk (%d)", name, a, chunkBytes)
		}
		if &got[0] != &dst[0] {
			t.Errorf("%s: Float32s did not convert into dst", name)
		}
		for i, v := range got {
			if v != w[i] { // every value is exact in BF16 too
				t.Fatalf("%s[%d] = %v, want %v", name, i, v, w[i])
			}
		}
	}
}

// TestOpenErrors: a file that is bad before Open is refused by Open with
// Read's message; one that shrinks after Open read its header fails the
// conversion of each tensor whose bytes are gone, naming the file and the
// tensor; nothing panics or allocates what the header claims.
func TestOpenErrors(t *testing.T) {
	good := func(t *testing.T) []byte {
		var b bytes.Buffer
		err := Encode(&b, nil, []Tensor{
			FromFloat32("first", F32, []int{4}, []float32{1, 2, 3, 4}),
			FromFloat32("middle.bf16", BF16, []int{700_000}, make([]float32, 700_000)),
			FromFloat32("last.f32", F32, []int{300_000}, make([]float32, 300_000)),
		})
		if err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		file func(t *testing.T) []byte
		want []string
	}{
		{"empty", func(*testing.T) []byte { return nil }, []string{"0 bytes, too short"}},
		{"truncated", func(t *testing.T) []byte { b := good(t); return b[:len(b)/2] }, []string{`tensor "middle.bf16"`, "run past the end"}},
		{"one byte short", func(t *testing.T) []byte { b := good(t); return b[:len(b)-1] }, []string{`tensor "last.f32"`, "run past the end"}},
		{"header cut", func(t *testing.T) []byte { return good(t)[:40] }, []string{"header length", "runs past the end"}},
		{"absurd header length", func(t *testing.T) []byte { return setLen(good(t), 1<<62) }, []string{"exceeds the"}},
		{"tensor ends past EOF", func(*testing.T) []byte {
			return rawFile(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4))
		}, []string{`tensor "x"`, "data_offsets [0, 8] run past the end of the 4-byte buffer"}},
		{"huge tensor claimed", func(*testing.T) []byte {
			return rawFile(`{"x":{"dtype":"F32","shape":[1000000000000],"data_offsets":[0,4000000000000]}}`, make([]byte, 4))
		}, []string{`tensor "x"`, "run past the end"}},
		{"shape overflows", func(*testing.T) []byte {
			return rawFile(`{"x":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,4]}}`, make([]byte, 4))
		}, []string{`tensor "x"`, "overflows"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.safetensors")
			if err := os.WriteFile(path, tc.file(t), 0o644); err != nil {
				t.Fatal(err)
			}
			_, rerr := Read(path)
			f, err := Open(path)
			if err == nil {
				f.Close()
				t.Fatal("Open accepted a bad file")
			}
			if rerr == nil || rerr.Error() != err.Error() {
				t.Errorf("Open: %v\nRead: %v\nwant the same error", err, rerr)
			}
			for _, w := range append(tc.want, path+": ") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}

	// The file shrinks, or is closed, after Open read its header.
	for _, tc := range []struct {
		name    string
		keep    int64    // bytes cut from the end of the file
		closed  bool     // Close before reading
		broken  []string // tensors that fail to convert
		healthy []string // tensors that still convert
	}{
		{"last tensor cut by one byte", 1, false, []string{"last.f32"}, []string{"first", "middle.bf16"}},
		{"last two tensors cut", 1_300_000, false, []string{"last.f32", "middle.bf16"}, []string{"first"}},
		{"closed", 0, true, []string{"first", "middle.bf16", "last.f32"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.safetensors")
			b := good(t)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := os.Truncate(path, int64(len(b))-tc.keep); err != nil {
				t.Fatal(err)
			}
			if tc.closed {
				f.Close()
			}
			for _, name := range tc.broken {
				tn, _ := f.Get(name)
				_, err32 := tn.Float32s(nil)
				_, err64 := tn.Float64s(nil)
				_, errb := tn.Bytes()
				for _, err := range []error{err32, err64, errb} {
					if err == nil {
						t.Fatalf("tensor %q converted from a file that lost its bytes", name)
					}
					want := fmt.Sprintf("%s: tensor %q: reading its bytes", path, name)
					if !strings.HasPrefix(err.Error(), want) {
						t.Errorf("error %q does not start with %q", err, want)
					}
				}
			}
			for _, name := range tc.healthy {
				tn, _ := f.Get(name)
				if _, err := tn.Float32s(nil); err != nil {
					t.Errorf("tensor %q, whose bytes are all there: %v", name, err)
				}
			}
		})
	}
}

// TestStreamedTensorEdited: a streamed tensor whose Shape was changed
// cannot be made to read beyond its own bytes.
func TestStreamedTensorEdited(t *testing.T) {
	b := encode(t, nil, []Tensor{FromFloat32("a", F32, []int{2}, []float32{1, 2}), FromFloat32("b", F32, []int{2}, []float32{3, 4})})
	f, err := openReader("edit.safetensors", bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Get("a")
	a.Shape = []int{4}
	_, err = a.Float32s(nil)
	if err == nil || !strings.Contains(err.Error(), `edit.safetensors: tensor "a": shape [4] of F32 needs 16 bytes, data has 8`) {
		t.Errorf("Float32s of an enlarged shape: %v", err)
	}
}

// FuzzOpen checks the streaming reader against Parse: on any input the two
// agree on the verdict and the error message, an accepted file's tensors
// convert to the same bits, and when the file has shrunk to cut bytes after
// its header was read, each tensor either still converts to the same values
// (its bytes are all there) or fails with an error naming the file and the
// tensor, never a panic or a wrong value.
func FuzzOpen(f *testing.F) {
	for i, s := range fuzzSeeds(f) {
		f.Add(s, uint32(len(s)))
		f.Add(s, uint32(len(s)-i%7))
	}
	f.Fuzz(func(t *testing.T, b []byte, cut uint32) {
		const name = "fuzz.safetensors"
		mem, merr := Parse(name, b)
		str, serr := openReader(name, bytes.NewReader(b), int64(len(b)))
		if (merr == nil) != (serr == nil) || (merr != nil && merr.Error() != serr.Error()) {
			t.Fatalf("Parse: %v\nopenReader: %v", merr, serr)
		}
		if merr != nil {
			return
		}
		if !slices.Equal(mem.Names(), str.Names()) || !sameMetadata(mem.Metadata, str.Metadata) {
			t.Fatal("names or metadata differ")
		}
		for i := range mem.Tensors {
			if d := sameConversion(&mem.Tensors[i], &str.Tensors[i]); d != "" {
				t.Fatal(d)
			}
		}

		k := int64(cut) % int64(len(b)+1)
		short, err := openReader(name, bytes.NewReader(b[:k]), int64(len(b)))
		if err != nil {
			if !strings.HasPrefix(err.Error(), name+": ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for i := range short.Tensors {
			tn := &short.Tensors[i]
			got, err := tn.Float32s(nil)
			if tn.n == 0 || tn.off+tn.n <= k {
				want, _ := mem.Tensors[i].Float32s(nil)
				if err != nil || !slices.Equal(f32bits(got), f32bits(want)) {
					t.Fatalf("tensor %q, whose bytes are all there: %v", tn.Name, err)
				}
				continue
			}
			prefix := fmt.Sprintf("%s: tensor %q: reading its bytes", name, tn.Name)
			if err == nil || !strings.HasPrefix(err.Error(), prefix) {
				t.Fatalf("tensor %q, cut off at %d: %v", tn.Name, k, err)
			}
		}
	})
}

func f32bits(v []float32) []uint32 {
	u := make([]uint32, len(v))
	for i, x := range v {
		u[i] = math.Float32bits(x)
	}
	return u
}

// TestFloat32sAt: a range of a tensor converts to the same bits as that
// range of Float32s, for every dtype, in memory and streamed, at odd
// offsets and lengths, across the 1 MiB chunks; a range outside the tensor
// is an error naming it.
func TestFloat32sAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.safetensors")
	if err := Write(path, nil, bigTensors()); err != nil {
		t.Fatal(err)
	}
	mem, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	str, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer str.Close()
	for i := range mem.Tensors {
		whole, err := mem.Tensors[i].Float32s(nil)
		if err != nil {
			t.Fatal(err)
		}
		n := len(whole)
		for _, x := range []*Tensor{&mem.Tensors[i], &str.Tensors[i]} {
			for _, rg := range [][2]int{{0, n}, {0, 0}, {n, 0}, {n / 3, n / 2}, {1, n - 2}, {n - 1, 1}, {7, min(n-7, 524_301)}} {
				off, k := rg[0], rg[1]
				if off < 0 || k < 0 || off+k > n {
					continue
				}
				got := make([]float32, k)
				if err := x.Float32sAt(got, off); err != nil {
					t.Fatalf("%s [%d, +%d): %v", x.Name, off, k, err)
				}
				if !slices.Equal(f32bits(got), f32bits(whole[off:off+k])) {
					t.Fatalf("%s [%d, +%d), streamed=%v: not the bits of Float32s", x.Name, off, k, x.streamed())
				}
			}
			if err := x.Float32sAt(make([]float32, 2), n-1); err == nil || !strings.Contains(err.Error(), x.Name) {
				t.Errorf("%s: a range past the end gives %v, want an error naming it", x.Name, err)
			}
		}
	}
}

// TestCRC32C: a streamed tensor's CRC-32C, read in chunks, is that of its
// bytes in memory (crc32.Checksum, Castagnoli), for tensors of more than one
// chunk, and a flipped bit in its data changes it.
func TestCRC32C(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big.safetensors")
	if err := Write(path, nil, bigTensors()); err != nil {
		t.Fatal(err)
	}
	mem, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	str, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer str.Close()
	tab := crc32.MakeTable(crc32.Castagnoli)
	for i := range mem.Tensors {
		want := crc32.Checksum(mem.Tensors[i].Data, tab)
		for _, tt := range []*Tensor{&mem.Tensors[i], &str.Tensors[i]} {
			if got, err := tt.CRC32C(); err != nil || got != want {
				t.Errorf("tensor %q (%d bytes, streamed %v): CRC32C %08x, %v; want %08x", tt.Name, len(mem.Tensors[i].Data), tt.streamed(), got, err, want)
			}
		}
	}
	last := &mem.Tensors[len(mem.Tensors)-1]
	before, _ := last.CRC32C()
	last.Data[len(last.Data)/2] ^= 1
	if after, _ := last.CRC32C(); after == before {
		t.Errorf("tensor %q: a flipped bit left its CRC32C at %08x", last.Name, after)
	}
}
