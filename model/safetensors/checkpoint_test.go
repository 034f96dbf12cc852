package safetensors

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// testTensors returns n F32 tensors of 16 bytes each plus one of 64 bytes.
func testTensors(n int) []Tensor {
	var ts []Tensor
	for i := range n {
		ts = append(ts, FromFloat32("layer."+string(rune('a'+i))+".weight", F32, []int{2, 2}, []float32{float32(i), 1, 2, 3}))
	}
	ts = append(ts, FromFloat32("big", F32, []int{16}, make([]float32, 16)))
	return ts
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteShardedRoundTrip(t *testing.T) {
	meta := map[string]string{"format": "pt"}
	tests := []struct {
		name     string
		maxShard int64
		files    []string
	}{
		{"one file when unlimited", 0, []string{"model.safetensors"}},
		{"one file when it fits", 1 << 20, []string{"model.safetensors"}},
		// 4 tensors of 16 bytes, then 64: {a,b} {c,d} {big} with 32-byte shards;
		// the oversized tensor gets a shard of its own.
		{"three shards", 32, []string{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", "model.safetensors.index.json"}},
		{"shard per tensor", 1, []string{"model-00001-of-00005.safetensors", "model-00002-of-00005.safetensors", "model-00003-of-00005.safetensors", "model-00004-of-00005.safetensors", "model-00005-of-00005.safetensors", "model.safetensors.index.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ckpt") // does not exist yet
			in := testTensors(4)
			if err := WriteSharded(dir, meta, in, tt.maxShard); err != nil {
				t.Fatal(err)
			}
			if got := dirNames(t, dir); !reflect.DeepEqual(got, tt.files) {
				t.Errorf("files = %v, want %v", got, tt.files)
			}
			c, err := OpenDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var got []Tensor
			for _, name := range c.Names() {
				tn, ok := c.Get(name)
				if !ok {
					t.Fatalf("Get(%q) failed", name)
				}
				if tn.Data != nil {
					t.Errorf("tensor %q: OpenDir read its data; it should stay in the file until asked for", name)
				}
				b, err := tn.Bytes() // the tensors stay in the files until asked for
				if err != nil {
					t.Fatal(err)
				}
				cp := *tn
				cp.Data = b
				got = append(got, cp)
			}
			if d := sameTensors(got, in); d != "" {
				t.Error(d)
			}
			if !reflect.DeepEqual(c.Metadata, meta) {
				t.Errorf("metadata = %v", c.Metadata)
			}
			if _, ok := c.Get("nope"); ok {
				t.Error("Get(nope) found a tensor")
			}
		})
	}
}

func TestWriteShardedIndex(t *testing.T) {
	dir := t.TempDir()
	if err := WriteSharded(dir, nil, testTensors(2), 16); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "metadata": {
    "total_size": 96
  },
  "weight_map": {
    "big": "model-00003-of-00003.safetensors",
    "layer.a.weight": "model-00001-of-00003.safetensors",
    "layer.b.weight": "model-00002-of-00003.safetensors"
  }
}
`
	if string(b) != want {
		t.Errorf("index =\n%s\nwant\n%s", b, want)
	}
}

// TestWriteShardedReplacesStale checks that saving over an earlier
// checkpoint in the other layout leaves nothing OpenDir could mistake for it.
func TestWriteShardedReplacesStale(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "config.json")
	if err := os.WriteFile(other, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		maxShard int64
		tensors  int
		files    []string
	}{
		{0, 2, []string{"config.json", "model.safetensors"}},
		{16, 4, []string{"config.json", "model-00001-of-00005.safetensors", "model-00002-of-00005.safetensors", "model-00003-of-00005.safetensors", "model-00004-of-00005.safetensors", "model-00005-of-00005.safetensors", "model.safetensors.index.json"}},
		{32, 2, []string{"config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"}},
		{0, 1, []string{"config.json", "model.safetensors"}},
	}
	for i, s := range steps {
		in := testTensors(s.tensors)
		if err := WriteSharded(dir, nil, in, s.maxShard); err != nil {
			t.Fatal(err)
		}
		if got := dirNames(t, dir); !reflect.DeepEqual(got, s.files) {
			t.Errorf("step %d: files = %v, want %v", i, got, s.files)
		}
		c, err := OpenDir(dir)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := c.Names(); len(got) != len(in) {
			t.Errorf("step %d: %d tensors, want %d", i, len(got), len(in))
		}
	}
}

func TestWriteShardedErrors(t *testing.T) {
	dir := t.TempDir()
	ts := testTensors(2)
	ts = append(ts, ts[0]) // the duplicate would land in another shard
	err := WriteSharded(dir, nil, ts, 16)
	if err == nil || !strings.Contains(err.Error(), `tensor "layer.a.weight": duplicate`) {
		t.Errorf("duplicate across shards: %v", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("a rejected save wrote %v", names)
	}
}

// shardedDir writes a 3-shard checkpoint and returns its directory.
func shardedDir(t *testing.T) string {
	dir := t.TempDir()
	if err := WriteSharded(dir, nil, testTensors(2), 16); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeIndex(t *testing.T, dir, body string) {
	if err := os.WriteFile(filepath.Join(dir, IndexFileName), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenDirErrors(t *testing.T) {
	shard1, shard2 := "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors"
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		file  string // the file the error must name, relative to dir
		want  []string
	}{
		{"empty dir", func(t *testing.T, dir string) { os.RemoveAll(dir); os.Mkdir(dir, 0o755) }, "", []string{"no model.safetensors"}},
		{"missing shard", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, shard2)) }, shard2,
			[]string{IndexFileName, `tensor "layer.b.weight"`, "does not exist"}},
		{"tensor absent from its shard", func(t *testing.T, dir string) {
			writeIndex(t, dir, `{"weight_map":{"layer.a.weight":"`+shard1+`","layer.b.weight":"`+shard2+`","big":"model-00003-of-00003.safetensors","ghost":"`+shard2+`"}}`)
		}, shard2, []string{`tensor "ghost"`, "absent"}},
		{"tensor in two shards", func(t *testing.T, dir string) {
			if err := Write(filepath.Join(dir, shard2), nil, testTensors(1)[:1]); err != nil {
				t.Fatal(err)
			}
		}, shard2, []string{`tensor "layer.a.weight"`, "also in shard", shard1}},
		{"tensor not in the index", func(t *testing.T, dir string) {
			extra := append(testTensors(2)[1:2], FromFloat32("extra", F32, []int{1}, []float32{1}))
			if err := Write(filepath.Join(dir, shard2), nil, extra); err != nil {
				t.Fatal(err)
			}
		}, shard2, []string{`tensor "extra"`, "not listed in"}},
		{"tensor in the wrong shard", func(t *testing.T, dir string) {
			writeIndex(t, dir, `{"weight_map":{"layer.a.weight":"`+shard2+`","layer.b.weight":"`+shard1+`","big":"model-00003-of-00003.safetensors"}}`)
		}, shard1, []string{`tensor "layer.a.weight"`, "lists it in shard " + shard2}},
		{"tensor listed twice", func(t *testing.T, dir string) {
			writeIndex(t, dir, `{"weight_map":{"big":"a.safetensors","big":"b.safetensors"}}`)
		}, IndexFileName, []string{`"big"`, "twice"}},
		{"shard outside dir", func(t *testing.T, dir string) {
			writeIndex(t, dir, `{"weight_map":{"big":"../model.safetensors"}}`)
		}, IndexFileName, []string{`tensor "big"`, "inside the checkpoint directory"}},
		{"bad index JSON", func(t *testing.T, dir string) { writeIndex(t, dir, `{"weight_map":`) }, IndexFileName, []string{"unexpected end"}},
		{"empty weight_map", func(t *testing.T, dir string) { writeIndex(t, dir, `{"metadata":{"total_size":0},"weight_map":{}}`) }, IndexFileName, []string{"lists no tensors"}},
		{"corrupt shard", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, shard1), []byte("nonsense"), 0o644) }, shard1, []string{"header length"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := shardedDir(t)
			tt.setup(t, dir)
			_, err := OpenDir(dir)
			if err == nil {
				t.Fatal("OpenDir succeeded")
			}
			msg := err.Error()
			t.Log(msg) // shown with -v, to read the messages a person would get
			for _, w := range append(slices.Clone(tt.want), filepath.Join(dir, tt.file)) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestOpenDirPrefersSingleFile(t *testing.T) {
	// transformers loads model.safetensors when both layouts are present.
	dir := shardedDir(t)
	if err := Write(filepath.Join(dir, SingleFileName), nil, testTensors(0)); err != nil {
		t.Fatal(err)
	}
	c, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Names(); !reflect.DeepEqual(got, []string{"big"}) {
		t.Errorf("Names = %v, want the single file's [big]", got)
	}
}
