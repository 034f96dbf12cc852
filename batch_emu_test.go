//go:build emu

package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/olmes"
)

// gqaBatchRecipe is testdata/tiny.yaml on a model whose attention runs the
// GPU engine's tensor-core kernels (head size 64, 2 heads on 1 KV head:
// OLMo 2's path), cut to what the emulator trains in about a minute, with
// every part of a run issue 8 names: an anneal at auto_at, checkpoints, an
// evaluation every 2 steps and a soup of 2 ingredients there.
func gqaBatchRecipe(t *testing.T) string {
	t.Helper()
	tiny, err := os.ReadFile("testdata/tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(string(tiny), "model: cpu_xs", "model: {preset: cpu_xs, hidden_size: 128, num_attention_heads: 2, num_key_value_heads: 1}", 1)
	for _, kv := range [][2]string{{"max_tokens: 2560", "max_tokens: 1536"}, {"auto_at: 1792", "auto_at: 1024"}, {"tokens: 768", "tokens: 512"}, {"checkpoint: {interval: 4, keep: 1}", "checkpoint: {interval: 2, keep: 0}"}} {
		if !strings.Contains(y, kv[0]) {
			t.Fatalf("testdata/tiny.yaml has no %q", kv[0])
		}
		y = strings.Replace(y, kv[0], kv[1], 1)
	}
	y += "eval: {tasks: [arith], interval: 2, limit: 4}\nsoup: {ingredients: 2}\n"
	path := filepath.Join(t.TempDir(), "gqa.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// jsonShape is v's keys, recursively, with every leaf replaced by its JSON
// type: what a reader of the file relies on.
func jsonShape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = jsonShape(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonShape(e)
		}
		return out
	case float64:
		return "number"
	case string:
		return "string"
	case bool:
		return "bool"
	}
	return "null"
}

// readRecords is a JSONL file's (or a JSON file's) records.
func readRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
	return out
}

var (
	numberRE = regexp.MustCompile(`[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?[KMG%]?`)
	timeRE   = regexp.MustCompile(`ETA \S+`)
)

// summaryText is the summary --batch prints on stderr (from "run NAME (")
// with the run's name, numbers and the timing that differs run to run
// (ETA, the speed line's figures) made alike.
func summaryText(errOut, name string) string {
	i := strings.Index(errOut, "run             "+name+" (")
	if i < 0 {
		return ""
	}
	s := strings.ReplaceAll(errOut[i:], name, "RUN")
	return numberRE.ReplaceAllString(timeRE.ReplaceAllString(s, "ETA"), "N")
}

// batchOn runs recipe with --batch on backend, named after it, and returns
// the run's directory and stdout and stderr.
func batchOn(t *testing.T, runs, recipe, backend string) (dir, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", recipe, "--runs", runs, "--name", backend, "--backend", backend}, &out, &errb); code != 0 {
		t.Fatalf("--batch on %s: exit %d: %s", backend, code, errb.String())
	}
	return filepath.Join(runs, backend), out.String(), errb.String()
}

// checkBatchOnEmulatedGPU runs the recipe of gqaBatchRecipe with --batch
// on the CPU and on backend, and compares what each left: every file the
// run writes (events, metrics, evals, summary, soup.json) has the CPU's
// records, in the same order, with the same fields (mfu apart: the emulator
// has no peak), the same steps, tokens, phases and messages; losses, grad
// norms and scores within tol of the CPU's (accuracies, which bf16 may
// flip between near-equal choices, apart where accFlips); the summary
// printed reads the same but for the figures. Then each run's soup is
// scored by olmolab eval --model RUN on the other engine, within tol of the
// scores its own engine gave the soup in the run.
func checkBatchOnEmulatedGPU(t *testing.T, backend string, tol float64, accFlips bool) {
	runs := t.TempDir()
	recipe := gqaBatchRecipe(t)
	cdir, cout, cerr := batchOn(t, runs, recipe, "cpu")
	gdir, gout, gerr := batchOn(t, runs, recipe, backend)
	if c, g := strings.Count(cout, "\n"), strings.Count(gout, "\n"); c != g || c == 0 {
		t.Errorf("stdout: %d JSONL lines on the GPU, %d on the CPU", g, c)
	}
	soup := func(dir string) string {
		m, _ := filepath.Glob(filepath.Join(dir, "soups", "*", "soup.json"))
		if len(m) != 1 {
			t.Fatalf("%s: soups %v, want one soup.json", dir, m)
		}
		return m[0]
	}
	worst := map[string]float64{}
	for _, f := range []string{lab.EventsFile, lab.MetricsFile, lab.EvalsFile, "summary.json", "soup.json"} {
		cp, gp := filepath.Join(cdir, f), filepath.Join(gdir, f)
		if f == "soup.json" {
			cp, gp = soup(cdir), soup(gdir)
		}
		c, g := readRecords(t, cp), readRecords(t, gp)
		if len(c) != len(g) || len(c) == 0 {
			t.Errorf("%s: %d records on %s, %d on the CPU", f, len(g), backend, len(c))
			continue
		}
		for i := range c {
			compareRecord(t, f+" record "+itoa(i+1), c[i], g[i], tol, accFlips, worst)
		}
	}
	cs, gs := summaryText(cerr, "cpu"), summaryText(gerr, backend)
	cl, gl := strings.Split(cs, "\n"), strings.Split(gs, "\n")
	speed := func(l string) bool { return strings.HasPrefix(l, "speed") }
	if cs == "" || len(cl) != len(gl) {
		t.Errorf("the summary on %s:\n%s\non the CPU:\n%s", backend, gs, cs)
	} else {
		for i := range cl {
			if cl[i] != gl[i] && !(speed(cl[i]) && speed(gl[i])) {
				t.Errorf("summary line %d on %s: %q, on the CPU: %q", i+1, backend, gl[i], cl[i])
			}
		}
	}
	if strings.Contains(gerr, "MFU 0.0%") {
		t.Errorf("the summary on %s says MFU 0.0%%: no peak is known there, so no MFU either:\n%s", backend, gerr[strings.Index(gerr, "speed"):])
	}
	t.Logf("%s against the CPU, largest relative differences: %v", backend, worst)

	// olmolab eval --model RUN (the run's soup) on the other engine: the
	// scores the run's own engine gave its soup (soup.json)
	for _, tc := range [][3]string{{cdir, "cpu", backend}, {gdir, backend, "cpu"}} {
		var rep lab.SoupReport
		if err := json.Unmarshal(must(os.ReadFile(soup(tc[0]))), &rep); err != nil || len(rep.Soup.Evals) == 0 {
			t.Fatalf("%s: %v, no soup scores", soup(tc[0]), err)
		}
		got := evalRun(t, tc[0], tc[2])
		if want := strings.Replace(tc[2], "cuda-emu", "cuda", 1); got.Backend != want || len(got.Scores) != 1 {
			t.Fatalf("eval --backend %s of the run trained on %s: %d scores on %s", tc[2], tc[1], len(got.Scores), got.Backend)
		}
		for _, e := range rep.Soup.Evals {
			w, ok := got.Scores[0].Metrics[e.Metric]
			if accFlips && strings.HasPrefix(e.Metric, "acc") {
				continue
			}
			if d := math.Abs(w-e.Value) / math.Max(1, math.Abs(e.Value)); !ok || d > tol {
				t.Errorf("eval --backend %s of the run trained on %s: %s %v, %v on %s in the run", tc[2], tc[1], e.Metric, w, e.Value, tc[1])
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// evalRun is olmolab eval --model dir --backend backend's results (arith,
// 4 questions, as the run's evaluations).
func evalRun(t *testing.T, dir, backend string) olmes.Results {
	t.Helper()
	js := filepath.Join(t.TempDir(), "scores.json")
	var out, errb bytes.Buffer
	if code := run([]string{"eval", "--model", dir, "--backend", backend, "--tasks", "arith", "--limit", "4", "--json", js}, &out, &errb); code != 0 {
		t.Fatalf("eval --model %s --backend %s: exit %d: %s", dir, backend, code, errb.String())
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var r olmes.Results
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// compareRecord compares one record of the GPU's run with the CPU's: the
// same keys (mfu apart), strings equal but for the run's name, numbers
// within tol (relative, of magnitude 1 at least) where they are training
// figures or scores, equal where they are counts.
func compareRecord(t *testing.T, where string, c, g map[string]any, tol float64, accFlips bool, worst map[string]float64) {
	t.Helper()
	delete(c, "mfu")
	delete(g, "mfu")
	delete(c, "time")
	delete(g, "time")
	if s, ok := c["summary"].(map[string]any); ok {
		delete(s, "mfu")
	}
	if s, ok := g["summary"].(map[string]any); ok {
		delete(s, "mfu")
	}
	cj, _ := json.Marshal(jsonShape(c))
	gj, _ := json.Marshal(jsonShape(g))
	if !bytes.Equal(cj, gj) {
		t.Errorf("%s: fields %s on the GPU, %s on the CPU", where, gj, cj)
		return
	}
	compareValue(t, where, "", c, g, tol, accFlips, worst)
}

// timing are the fields that measure the machine, not the model.
var timing = []string{"tokens_per_s", "seconds", "step_seconds", "eta_s", "elapsed_s", "tokens_per_sec"}

func compareValue(t *testing.T, where, key string, c, g any, tol float64, accFlips bool, worst map[string]float64) {
	switch cv := c.(type) {
	case map[string]any:
		gv := g.(map[string]any)
		keys := make([]string, 0, len(cv))
		for k := range cv {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		// an evaluation's score is named by its metric beside it
		if m, ok := cv["metric"].(string); ok {
			key = m
		}
		for _, k := range keys {
			kk := k
			if k == "value" {
				kk = key
			}
			compareValue(t, where, kk, cv[k], gv[k], tol, accFlips, worst)
		}
	case []any:
		gv := g.([]any)
		for i := range cv {
			compareValue(t, where, key, cv[i], gv[i], tol, accFlips, worst)
		}
	case string:
		gv := g.(string)
		if strings.NewReplacer("cuda-emu-fp32", "cpu", "cuda-emu", "cpu").Replace(gv) != cv {
			t.Errorf("%s: %s %q on the GPU, %q on the CPU", where, key, gv, cv)
		}
	case float64:
		gv := g.(float64)
		if slices.Contains(timing, key) || strings.HasPrefix(key, "seconds") {
			return
		}
		if accFlips && strings.HasPrefix(key, "acc") {
			return
		}
		d := math.Abs(gv-cv) / math.Max(1, math.Abs(cv))
		if d > worst[key] {
			worst[key] = d
		}
		if d > tol {
			t.Errorf("%s: %s %v on the GPU, %v on the CPU (relative %.1e > %.0e)", where, key, gv, cv, d, tol)
		}
	}
}

// TestBatchOnEmulatedGPU (issue 8: "same events, so the TUI and batch mode
// work unchanged"): olmolab --batch with backend cuda-emu-fp32 (the CUDA
// engine's host logic and kernels on the CPU emulator) leaves the CPU's run:
// the same records in events, metrics, evals, summary.json and soup.json,
// field for field, losses and scores within float32 rounding, and the
// summary reads the same; olmolab eval --model RUN --backend cuda-emu-fp32
// of the CPU's run, and --backend cpu of the GPU's, score as the run's own
// engine did. go test -tags emu . -run TestBatchOnEmulatedGPU (about two
// minutes on 2 loaded cores).
func TestBatchOnEmulatedGPU(t *testing.T) {
	checkBatchOnEmulatedGPU(t, "cuda-emu-fp32", 1e-4, false)
}

// TestBatchOnEmulatedGPUBF16: the same on cuda-emu (bf16 matrices, fp32
// master weights: --backend cuda's engine), within bf16 rounding (1e-2;
// accuracies, which may flip between near-equal choices, apart).
func TestBatchOnEmulatedGPUBF16(t *testing.T) {
	checkBatchOnEmulatedGPU(t, "cuda-emu", 1e-2, true)
}
