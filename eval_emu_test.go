//go:build emu

package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/olmolab/olmolab/gpu" // registers cuda-emu and cuda-emu-fp32, and their forward-only engines
	"github.com/olmolab/olmolab/lab/olmes"
)

// TestEvalOnEmulatedGPU: olmolab eval --backend cuda-emu-fp32 loads the
// checkpoint into the GPU engine's forward-only form (model.NewScoringBackend)
// and scores the requests on a Scorer of rows fitted to them, as the CPU
// does: the same micro-batch, the same accuracies, and every metric within
// float32 rounding of the CPU's. go test -tags emu . -run TestEvalOnEmulatedGPU
// (about 35 s: 4096 rows of a forward on the emulator).
func TestEvalOnEmulatedGPU(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ck")
	var out, errb bytes.Buffer
	if code := run([]string{"train", "--preset", "cpu_xs", "--steps", "2", "--batch", "2", "--seq", "16", "--out", dir}, &out, &errb); code != 0 {
		t.Fatalf("train: %s", errb.String())
	}
	res := map[string]olmes.Results{}
	for _, be := range []string{"cpu", "cuda-emu-fp32"} {
		js := filepath.Join(t.TempDir(), be+".json")
		out.Reset()
		errb.Reset()
		if code := run([]string{"eval", "--backend", be, "--model", dir, "--tasks", "arith", "--limit", "6", "--seq", "64", "--json", js}, &out, &errb); code != 0 {
			t.Fatalf("eval --backend %s: exit %d: %s", be, code, errb.String())
		}
		b, err := os.ReadFile(js)
		if err != nil {
			t.Fatal(err)
		}
		var r olmes.Results
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		res[be] = r
		t.Logf("%s: %s", be, out.String())
	}
	c, g := res["cpu"], res["cuda-emu-fp32"]
	if g.Backend != "cuda-fp32" || g.Batch != c.Batch || g.Batch[1] >= 64 {
		t.Errorf("GPU scored on %s at %v, the CPU at %v: want the GPU engine at the CPU's reshaped rows", g.Backend, g.Batch, c.Batch)
	}
	for i, s := range c.Scores {
		for m, v := range s.Metrics {
			w := g.Scores[i].Metrics[m]
			if d := math.Abs(w - v); d > 1e-4*math.Max(1, math.Abs(v)) {
				t.Errorf("%s %s: GPU %v, CPU %v", s.Task, m, w, v)
			}
		}
	}
}
