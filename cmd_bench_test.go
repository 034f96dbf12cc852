package main

import (
	"math"
	"testing"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/model"
)

// TestEngineMemoryNeed: bench's and train's memory check counts the engine
// (on the CPU) or the host copy of the parameters (elsewhere), the step's ids
// and labels, and the process as a run's estimate counts it
// (lab.ProcessMemory: 24 MiB without a tokenizer); an absurd model does not
// overflow.
func TestEngineMemoryNeed(t *testing.T) {
	cfg, err := model.PresetByName("olmo2_14M")
	if err != nil {
		t.Fatal(err)
	}
	const process = 24 << 20
	if got := lab.ProcessMemory(0); got != process {
		t.Errorf("lab.ProcessMemory(0) = %d, want 24 MiB", got)
	}
	for _, tc := range []struct {
		backend    string
		batch, seq int
		want       int64
	}{
		{"cpu", 2, 32, model.EstimateCPUMemory(cfg, 2, 32) + 8*64 + process},
		{"cpu", 8, 512, model.EstimateCPUMemory(cfg, 8, 512) + 8*4096 + process},
		{"cpu-f64", 8, 512, model.EstimateCPU64Memory(cfg, 8, 512) + 8*4096 + process}, // it counted a float32 host copy
		{"cuda", 8, 512, 4*cfg.NumParams() + 8*4096 + process},
	} {
		if got := engineMemoryNeed(cfg, tc.batch, tc.seq, tc.backend); got != tc.want {
			t.Errorf("%s %d×%d: engineMemoryNeed %d, want %d", tc.backend, tc.batch, tc.seq, got, tc.want)
		}
	}
	huge := cfg
	huge.NumHiddenLayers, huge.IntermediateSize = 1<<20, 1<<30
	for _, b := range []string{"cpu", "cpu-f64"} {
		if got := engineMemoryNeed(huge, 256, 4096, b); got < math.MaxInt64/2 {
			t.Errorf("absurd model on %s: engineMemoryNeed %d, want at least math.MaxInt64/2 (saturated, not overflowed)", b, got)
		}
	}
}
