package model

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/olmolab/olmolab/model/safetensors"
)

// streamConfig is a model of 4M parameters (15 MiB as float32), several
// StreamChunks, so that streams cross chunk and tensor boundaries.
func streamConfig() Config {
	c := tinyConfig(false, 2)
	c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers = 2048, 256, 704, 4
	return c
}

// TestSaveHFFromMatchesSaveHF: a checkpoint streamed from a backend is the
// files SaveHF writes from a host copy, byte for byte, in F32 and BF16,
// sharded or not; InitBackend gives Init's values bit for bit; OpenHF and
// WriteTo bring the weights back.
func TestSaveHFFromMatchesSaveHF(t *testing.T) {
	cfg := streamConfig()
	lay := NewLayout(cfg)
	params := make([]float32, lay.Size())
	Init(lay, params, 11)
	b := NewCPUBackend(cfg, 1, 8, 1)
	defer b.Close()
	InitBackend(b, 11, make([]float32, 1000003)) // a chunk that does not divide the tensors
	got := make([]float32, lay.Size())
	b.ReadParams(got)
	for i := range params {
		if math.Float32bits(got[i]) != math.Float32bits(params[i]) {
			t.Fatalf("InitBackend: param %d is %v, Init gives %v", i, got[i], params[i])
		}
	}
	for _, c := range []struct {
		dtype safetensors.DType
		shard int64
	}{{"F32", 0}, {"BF16", 0}, {"F32", 5 << 20}} {
		dirA, dirB := t.TempDir(), t.TempDir()
		if err := SaveHF(dirA, cfg, params, c.dtype, c.shard); err != nil {
			t.Fatal(err)
		}
		if err := SaveHFFrom(dirB, b, NewStreamBuf(lay.Size()), c.dtype, c.shard); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dirA, "*"))
		if len(files) < 2 {
			t.Fatalf("SaveHF wrote %v", files)
		}
		for _, f := range files {
			want, _ := os.ReadFile(f)
			have, err := os.ReadFile(filepath.Join(dirB, filepath.Base(f)))
			if err != nil || !bytes.Equal(have, want) {
				t.Errorf("%s %d: %s differs from SaveHF's (%d bytes, %v; want %d)", c.dtype, c.shard, filepath.Base(f), len(have), err, len(want))
			}
		}
		src, err := OpenHF(dirB)
		if err != nil {
			t.Fatal(err)
		}
		nb := NewCPUBackend(cfg, 1, 8, 1)
		if err := src.WriteTo(nb, make([]float32, 777)); err != nil {
			t.Fatal(err)
		}
		src.Close()
		_, loaded, err := LoadHF[float32](dirB)
		if err != nil {
			t.Fatal(err)
		}
		nb.ReadParams(got)
		nb.Close()
		for i := range loaded {
			if math.Float32bits(got[i]) != math.Float32bits(loaded[i]) {
				t.Fatalf("%s: WriteTo put %v at %d, LoadHF reads %v", c.dtype, got[i], i, loaded[i])
			}
		}
	}
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	f()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}

// TestStreamingAllocatesChunks: saving a checkpoint from a backend, loading
// one into it and copying its weights to another backend allocate a chunk's
// worth of memory, not the model's: each stays under a quarter of the
// model's float32 bytes (77 MiB here; a StreamChunk is 4 MiB, plus the
// writer's and reader's 1 MiB buffers). The former host-copy path
// (ReadParams into a model-sized buffer, then SaveHF) is measured too, to
// show the bound tells the two apart.
func TestStreamingAllocatesChunks(t *testing.T) {
	cfg := streamConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize = 8192, 512, 1408 // 20M parameters, 77 MiB
	lay := NewLayout(cfg)
	modelBytes := 4 * uint64(lay.Size())
	b := NewCPUBackend(cfg, 1, 8, 1)
	defer b.Close()
	nb := NewCPUBackend(cfg, 1, 8, 1)
	defer nb.Close()
	InitBackend(b, 1, NewStreamBuf(lay.Size()))
	dir := t.TempDir()
	old := allocated(func() {
		p := make([]float32, lay.Size())
		b.ReadParams(p)
		if err := SaveHF(t.TempDir(), cfg, p, "F32", 0); err != nil {
			t.Fatal(err)
		}
	})
	if old < modelBytes {
		t.Fatalf("the host-copy save allocated %d bytes, less than the model's %d: the measure is broken", old, modelBytes)
	}
	for _, c := range []struct {
		what string
		f    func()
	}{
		{"SaveHFFrom", func() {
			if err := SaveHFFrom(dir, b, NewStreamBuf(lay.Size()), "F32", 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"OpenHF + WriteTo", func() {
			src, err := OpenHF(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if err := src.WriteTo(nb, NewStreamBuf(lay.Size())); err != nil {
				t.Fatal(err)
			}
		}},
		{"CopyParams", func() { CopyParams(nb, b, NewStreamBuf(lay.Size())) }},
		{"InitBackend", func() { InitBackend(nb, 3, NewStreamBuf(lay.Size())) }},
	} {
		if a := allocated(c.f); a > modelBytes/4 {
			t.Errorf("%s allocated %.1f MiB, a model is %.1f MiB: want at most a quarter", c.what, float64(a)/(1<<20), float64(modelBytes)/(1<<20))
		} else {
			t.Logf("%s: %.1f MiB allocated (model %.1f MiB; the host-copy save %.1f MiB)", c.what, float64(a)/(1<<20), float64(modelBytes)/(1<<20), float64(old)/(1<<20))
		}
	}
}
