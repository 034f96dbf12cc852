//go:build emu

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
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

// TestEvalRecordOnEmulatedGPU: olmolab eval --record --backend
// cuda-emu-fp32 scores each checkpoint a run kept, loaded one after
// another into one forward-only GPU engine (and its Scorers), and records
// what the CPU backend records of the same checkpoints: the same records
// (run, step, tokens, task, metric; the GPU's replacing the CPU's, as a
// second --record of the task does) with every value within float32
// rounding of the CPU's, the tasks' and --val's. go test -tags emu . -run
// TestEvalRecordOnEmulatedGPU
func TestEvalRecordOnEmulatedGPU(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "a", "--set", "checkpoint.keep=2"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	dir := filepath.Join(runs, "a")
	type key struct {
		run          string
		step         int
		tokens       int64
		task, metric string
	}
	recorded := map[string]map[key]olmes.EvalRecord{}
	for _, be := range []string{"cpu", "cuda-emu-fp32"} {
		out.Reset()
		errb.Reset()
		if code := run([]string{"eval", "--model", dir, "--record", "--backend", be, "--tasks", "arith", "--limit", "6", "--val", "64"}, &out, &errb); code != 0 {
			t.Fatalf("eval --record --backend %s: exit %d: %s", be, code, errb.String())
		}
		t.Logf("%s:\n%s", be, out.String())
		recs, err := olmes.ReadEvalRecords(filepath.Join(dir, "evals.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[key]olmes.EvalRecord{}
		for _, r := range recs {
			if r.Recorded() {
				got[key{r.Run, r.Step, r.Tokens, r.Task, r.Metric}] = r
			}
		}
		recorded[be] = got
	}
	c, g := recorded["cpu"], recorded["cuda-emu-fp32"]
	steps := map[int]bool{}
	tasks := map[string]bool{}
	for k := range c {
		steps[k.step], tasks[k.task] = true, true
	}
	if len(steps) != 2 || !tasks["arith"] || !tasks["val/web"] || !tasks["val/qa"] {
		t.Fatalf("the CPU recorded steps %v, tasks %v: want 2 checkpoints of arith, val/web and val/qa", steps, tasks)
	}
	if len(g) != len(c) {
		t.Errorf("the GPU recorded %d scores, the CPU %d (the GPU's replace the CPU's)", len(g), len(c))
	}
	worst := 0.0
	for k, cr := range c {
		gr, ok := g[k]
		if !ok {
			t.Errorf("the GPU recorded no %+v", k)
			continue
		}
		if !strings.Contains(gr.Settings, "backend cuda-fp32") || !strings.Contains(cr.Settings, "backend cpu") {
			t.Errorf("%+v: settings %q (GPU), %q (CPU): want each backend named", k, gr.Settings, cr.Settings)
		}
		d := math.Abs(gr.Value-cr.Value) / math.Max(1, math.Abs(cr.Value))
		worst = math.Max(worst, d)
		if d > 1e-4 || gr.Primary != cr.Primary || gr.Phase != cr.Phase {
			t.Errorf("%+v: GPU %v (primary %v, phase %q), CPU %v (primary %v, phase %q)", k, gr.Value, gr.Primary, gr.Phase, cr.Value, cr.Primary, cr.Phase)
		}
	}
	t.Logf("%d records, largest relative difference %.2e", len(c), worst)
}

// TestEvalRecordOnEmulatedGPUBF16: eval --record --backend cuda-emu (the
// bf16 engine, --backend cuda's) of a model with head size 64 and GQA (the
// tensor-core attention, OLMo 2's path) loads the run's checkpoints one
// after another into one forward-only engine, its matrices cast to bf16 on
// the device through its scratch, which its Scorers borrow: each
// checkpoint's records are the scores of that checkpoint loaded alone into
// a fresh engine, bit for bit (nothing of the checkpoint before lingers),
// and the CPU's within bf16 rounding. go test -tags emu . -run
// TestEvalRecordOnEmulatedGPUBF16
func TestEvalRecordOnEmulatedGPUBF16(t *testing.T) {
	runs := t.TempDir()
	tiny, err := os.ReadFile("testdata/tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	recipe := filepath.Join(t.TempDir(), "gqa64.yaml")
	gqa := strings.Replace(string(tiny), "model: cpu_xs", "model: {preset: cpu_xs, hidden_size: 128, num_attention_heads: 2, num_key_value_heads: 1}", 1)
	if err := os.WriteFile(recipe, []byte(gqa), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", recipe, "--runs", runs, "--name", "a", "--set", "checkpoint.keep=2"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	dir := filepath.Join(runs, "a")
	task := []string{"--tasks", "arith", "--limit", "6"}
	record := func(be string) map[string]olmes.EvalRecord { // step/metric → record
		out.Reset()
		errb.Reset()
		if code := run(append([]string{"eval", "--model", dir, "--record", "--backend", be}, task...), &out, &errb); code != 0 {
			t.Fatalf("eval --record --backend %s: exit %d: %s", be, code, errb.String())
		}
		recs, err := olmes.ReadEvalRecords(filepath.Join(dir, "evals.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]olmes.EvalRecord{}
		for _, r := range recs {
			if r.Recorded() {
				got[fmt.Sprintf("step %d %s", r.Step, r.Metric)] = r
			}
		}
		return got
	}
	c, g := record("cpu"), record("cuda-emu")
	if len(g) != len(c) || len(g) == 0 {
		t.Fatalf("the GPU recorded %d scores, the CPU %d", len(g), len(c))
	}
	// the last checkpoint alone, on a fresh engine
	js := filepath.Join(t.TempDir(), "step-10.json")
	errb.Reset()
	if code := run(append([]string{"eval", "--model", filepath.Join(dir, "checkpoints", "step-10"), "--backend", "cuda-emu", "--json", js}, task...), &out, &errb); code != 0 {
		t.Fatalf("eval of step-10 alone: exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var alone olmes.Results
	if err := json.Unmarshal(b, &alone); err != nil {
		t.Fatal(err)
	}
	if len(alone.Scores) != 1 {
		t.Fatalf("step-10 alone: %d scores, want arith's", len(alone.Scores))
	}
	for m, v := range alone.Scores[0].Metrics {
		if r, ok := g["step 10 "+m]; !ok || r.Value != v {
			t.Errorf("step 10 %s: recorded %v after step 8 was scored, %v alone on a fresh engine: want the same bits", m, r.Value, v)
		}
	}
	worst := 0.0
	for k, cr := range c {
		gr := g[k]
		if strings.HasPrefix(cr.Metric, "acc") { // an accuracy may flip between near-equal choices under bf16
			continue
		}
		d := math.Abs(gr.Value-cr.Value) / math.Max(1, math.Abs(cr.Value))
		worst = math.Max(worst, d)
		if d > 2e-2 {
			t.Errorf("%s: GPU (bf16) %v, CPU %v", k, gr.Value, cr.Value)
		}
	}
	t.Logf("%d records; log-likelihood metrics within %.2e (relative) of the CPU's", len(c), worst)
}
