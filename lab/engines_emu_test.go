//go:build emu

package lab

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/olmolab/olmolab/gpu"
	"github.com/olmolab/olmolab/lab/data" // registers cuda-emu and cuda-emu-fp32
	"github.com/olmolab/olmolab/model/safetensors"
)

// gqaRecipe is tinyRecipe on a model whose attention runs the GPU engine's
// tensor-core kernels (head size 64, grouped-query: 2 heads, 1 KV head),
// OLMo 2's path, at a size the emulator trains a step of in seconds.
func gqaRecipe(t *testing.T, overrides ...string) *Recipe {
	t.Helper()
	y := strings.Replace(tinyRecipe, "model: {preset: cpu_xs}", "model: {preset: cpu_xs, hidden_size: 128, num_attention_heads: 2, num_key_value_heads: 1}", 1)
	r, err := ParseRecipe("gqa.yaml", []byte(y), overrides)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// closeLosses fails t where got and want differ by more than tol
// (relative) at a step, and returns the largest relative difference.
func closeLosses(t *testing.T, what string, got, want []float64, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d steps, the CPU's uninterrupted run %d", what, len(got), len(want))
	}
	worst := 0.0
	for i := range want {
		d := math.Abs(got[i]-want[i]) / want[i]
		worst = max(worst, d)
		if d > tol {
			t.Errorf("%s: step %d loss %v, the CPU's uninterrupted run %v (relative %.1e > %.0e)", what, i+1, got[i], want[i], d, tol)
		}
	}
	return worst
}

// checkpointFiles are a checkpoint's file names and its model.safetensors
// tensors (name, dtype, shape), what a Hugging Face loader reads.
func checkpointFiles(t *testing.T, dir string) (names []string, tensors []safetensors.Header) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		names = append(names, e.Name())
	}
	f, err := safetensors.Read(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.Tensors {
		tensors = append(tensors, f.Tensors[i].Header())
	}
	return names, tensors
}

// TestMoveRunBetweenEngines (issue 8: "same checkpoints as the CPU engine,
// a run can move between them"): a run started on the CPU, stopped, and
// resumed on the emulated GPU engine (RunParams.Backend, --batch --resume
// --backend), and one started on the GPU and resumed on the CPU, go on with
// the losses of an uninterrupted CPU run: bit for bit where the CPU trained
// them, within float32 rounding (1e-4) on the fp32 engine, within bf16's
// (2e-2) on the bf16 engine. The GPU writes the CPU's checkpoint: the same
// files, config.json and tensors (names, dtypes, shapes). go test -tags emu
// ./lab/ -run TestMoveRunBetweenEngines
func TestMoveRunBetweenEngines(t *testing.T) {
	root := t.TempDir()
	rec := gqaRecipe(t, "max_tokens=1536", "checkpoint.interval=0")
	if _, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "full"}); err != nil {
		t.Fatal(err)
	}
	want := losses(t, filepath.Join(root, "full"))
	const at = 3
	for _, tc := range []struct {
		name, from, to string
		tol            float64
	}{
		{"c2g", "cpu", "cuda-emu-fp32", 1e-4},
		{"g2c", "cuda-emu-fp32", "cpu", 1e-4},
		{"c2gbf16", "cpu", "cuda-emu", 2e-2},
	} {
		dir := filepath.Join(root, tc.name)
		r := gqaRecipe(t, "max_tokens=1536", "checkpoint.interval=0", "backend="+tc.from)
		stopAt(t, RunParams{Recipe: r, RunsDir: root, Name: tc.name}, tc.name, at)
		if s, err := runToEnd(t, RunParams{ResumeDir: dir, Backend: tc.to}); err != nil || s.State != "finished" {
			t.Fatalf("%s: resumed on %s: %v %q", tc.name, tc.to, err, s.State)
		}
		got := losses(t, dir)
		if tc.from == "cpu" && !slices.Equal(got[:at], want[:at]) {
			t.Errorf("%s: the CPU's steps %v, uninterrupted %v", tc.name, got[:at], want[:at])
		}
		worst := closeLosses(t, tc.name+" ("+tc.from+" → "+tc.to+")", got, want, tc.tol)
		if m := resumedMessages(t, dir); len(m) != 1 || !strings.HasSuffix(m[0], ", moved from backend "+tc.from+" to "+tc.to) {
			t.Errorf("%s: resumed events %q, want one saying the run moved from %s to %s", tc.name, m, tc.from, tc.to)
		}
		t.Logf("%s → %s at step %d: losses within %.1e (relative) of the CPU's uninterrupted run", tc.from, tc.to, at, worst)
	}
	// the GPU's checkpoint (g2c's step 3) is the CPU's (c2g's step 3)
	gpuCk, cpuCk := filepath.Join(root, "g2c", "checkpoints", "step-3"), filepath.Join(root, "c2g", "checkpoints", "step-3")
	gn, gt := checkpointFiles(t, gpuCk)
	cn, ct := checkpointFiles(t, cpuCk)
	if !slices.Equal(gn, cn) || !slices.EqualFunc(gt, ct, func(a, b safetensors.Header) bool {
		return a.Name == b.Name && a.DType == b.DType && slices.Equal(a.Shape, b.Shape)
	}) {
		t.Errorf("the GPU's checkpoint: %v\n%v\nthe CPU's: %v\n%v", gn, gt, cn, ct)
	}
	for _, f := range []string{"config.json", "tokenizer.json", "tokenizer_config.json"} {
		g, err1 := os.ReadFile(filepath.Join(gpuCk, f))
		c, err2 := os.ReadFile(filepath.Join(cpuCk, f))
		if err1 != nil || err2 != nil || !bytes.Equal(g, c) {
			t.Errorf("%s differs between the GPU's checkpoint and the CPU's (%v, %v)", f, err1, err2)
		}
	}
}

// frontEndLine is what a front end reads of an event (the TUI's chart markers
// and log, --batch's stderr): its kind, what changed, where, and the words,
// with the run's directory made alike.
func frontEndLine(e Event, root string) string {
	return fmt.Sprintf("%s %s %s step %d tokens %d %s/%s ingredient %s %s",
		e.Type, e.Change, e.Phase, e.Step, e.Tokens, e.SoupKind, e.Refused, e.Ingredient, strings.ReplaceAll(e.Message, root, "ROOT"))
}

// TestActionsOnEmulatedGPU (issue 8: the TUI works unchanged on the GPU
// engine): the actions a person sends from the lab (its action channel,
// Run.Do, as the TUI sends them: switch the mix, checkpoint, evaluate,
// pause, resume, anneal now; a soup of 2) while the run trains on
// cuda-emu-fp32 are answered as on the CPU: the same events in the same
// order (kinds, changes, phases, steps, tokens, words), the same steps,
// losses and scores within float32 rounding, the soup's ingredients and
// its average the CPU's. go test -tags emu ./lab/ -run
// TestActionsOnEmulatedGPU
func TestActionsOnEmulatedGPU(t *testing.T) {
	web := []data.SourceSpec{{Name: "web", TargetRatio: 1, Paths: []string{"builtin:web_clean"}}}
	for _, tc := range []struct {
		name      string
		overrides []string
		at        int64
		acts      []Action
		want      []string // in the events, as frontEndLine writes them
	}{
		{"acts", []string{"max_tokens=2048"}, 2, []Action{{Kind: ActSwitchMix, Mix: web}, {Kind: ActCheckpoint}, {Kind: ActEval},
			{Kind: ActPause}, {Kind: ActResume}, {Kind: ActAnneal, Tokens: 512}},
			[]string{"phase mix stage1 step 2", "checkpoint  stage1 step 2", "eval  stage1 step 2", "phase paused stage1 step 2", "phase resumed stage1 step 2", "phase anneal anneal step 2", "done  anneal step 4"}},
		{"soup", []string{"max_tokens=768"}, 1, []Action{{Kind: ActSoup, K: 2, Tokens: 256}},
			[]string{"phase soup_done stage1 step 1", "done  stage1 step 3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := map[string][]string{}
			loss := map[string][]float64{}
			scores := map[string][]EvalScore{}
			for _, be := range []string{"cpu", "cuda-emu-fp32"} {
				root := filepath.Join(t.TempDir(), be)
				rec := gqaRecipe(t, append([]string{"checkpoint.interval=0", "eval.tasks=[arith]", "eval.limit=4", "backend=" + be}, tc.overrides...)...)
				jsonlTestWriter = nil
				hand := actAtStep(t, tc.name, tc.at, tc.acts...)
				r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: tc.name, PeakFLOPS: 1e11})
				if err != nil {
					t.Fatal(err)
				}
				hand(r)
				if s, err := waitRun(t, r); err != nil || s.State != "finished" {
					t.Fatalf("%s: %v %q", be, err, s.State)
				}
				dir := filepath.Join(root, tc.name)
				for _, e := range readLines[Event](t, filepath.Join(dir, EventsFile)) {
					evs[be] = append(evs[be], frontEndLine(e, root))
					scores[be] = append(scores[be], e.Evals...)
				}
				loss[be] = losses(t, dir)
				for _, m := range must(filepath.Glob(filepath.Join(dir, "soups", "*", "*", MetricsFile))) {
					for _, e := range readLines[Event](t, m) { // an ingredient's steps go on from the run's
						loss[be] = append(loss[be], e.Loss)
					}
				}
			}
			for _, w := range tc.want { // the actions were taken, not refused
				if !slices.ContainsFunc(evs["cpu"], func(l string) bool { return strings.Contains(l, w) }) {
					t.Errorf("no event says %q:\n%s", w, strings.Join(evs["cpu"], "\n"))
				}
			}
			if !slices.Equal(evs["cpu"], evs["cuda-emu-fp32"]) {
				t.Errorf("events on the GPU:\n%s\non the CPU:\n%s", strings.Join(evs["cuda-emu-fp32"], "\n"), strings.Join(evs["cpu"], "\n"))
			}
			closeLosses(t, tc.name, loss["cuda-emu-fp32"], loss["cpu"], 1e-4)
			c, g := scores["cpu"], scores["cuda-emu-fp32"]
			if len(c) != len(g) || len(c) == 0 {
				t.Fatalf("%d scores on the GPU, %d on the CPU", len(g), len(c))
			}
			for i := range c {
				if c[i].Task != g[i].Task || c[i].Metric != g[i].Metric || math.Abs(c[i].Value-g[i].Value) > 1e-4*math.Max(1, math.Abs(c[i].Value)) {
					t.Errorf("score %d: %+v on the GPU, %+v on the CPU", i, g[i], c[i])
				}
			}
			t.Logf("%d events, %d steps, %d scores alike", len(evs["cpu"]), len(loss["cpu"]), len(c))
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
