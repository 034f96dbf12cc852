package tui

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab"
)

// A fork (olmolab --batch --resume RUN --from step-N) is listed as a run,
// and its details name the run and checkpoint it came from and the steps
// it skipped (its fork.json).
func TestHomeRunDetailsNameTheForksParent(t *testing.T) {
	o := testOptions(t, 140, 24)
	rec := testRecipe(t)
	writeRunDir(t, filepath.Join(o.RunsDir, "base"), rec, syntheticRun("base", rec))
	fork := filepath.Join(o.RunsDir, "base-from-10-skip3")
	writeRunDir(t, fork, rec, syntheticRun("base-from-10-skip3", rec))
	b, _ := json.Marshal(lab.ForkInfo{Parent: "/abs/runs/base", ParentRun: "base", Step: 10, SkipSteps: 3, SkipTokens: 768})
	if err := os.WriteFile(filepath.Join(fork, lab.ForkFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	m := New(o)
	i := slices.IndexFunc(m.runs, func(r runInfo) bool { return r.Name == "base-from-10-skip3" })
	j := slices.IndexFunc(m.runs, func(r runInfo) bool { return r.Name == "base" })
	if i < 0 || j < 0 {
		t.Fatalf("the run list lacks the fork or its parent: %+v", m.runs)
	}
	m.homeCursor = len(m.recipes) + i
	if s := screen(m); !strings.Contains(s, "forked from base at step-10, 3 steps (768 tokens) skipped") {
		t.Errorf("the fork's details do not name its parent:\n%s", s)
	}
	m.homeCursor = len(m.recipes) + j
	if s := screen(m); strings.Contains(s, "forked") {
		t.Errorf("the parent's details say forked:\n%s", s)
	}
}

const rewindRecipe = `name: rw
model: cpu_xs
tokenizer: world
sequence_length: 32
global_batch_size: 256
max_tokens: 5120
seed: 7
optimizer: {lr: 3.0e-3}
schedule: {name: cosine, warmup_tokens: 512}
dataset:
  sources:
    - {name: web, target_ratio: 0.7, paths: ["builtin:web_clean"]}
    - {name: qa, target_ratio: 0.3, paths: ["builtin:qa"]}
checkpoint: {interval: 5, keep: 0}
`

// TestFlowRewind: on a finished run's dashboard, w opens the rewind
// dialog, offering the checkpoint before the run's last; the last, where
// it ends, is refused in the dialog, naming the field; step-10 with 3 steps skipped forks the run
// (lab.Fork) and trains the fork here to its end, and the parent's files
// are untouched.
func TestFlowRewind(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	o := testOptions(t, 100, 30)
	o.Shipped = func() []experiments.Recipe { return nil }
	o.Frame = 50 * time.Millisecond
	rec, err := lab.ParseRecipe("rw.yaml", []byte(rewindRecipe), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := lab.StartRun(context.Background(), lab.RunParams{Recipe: rec, RunsDir: "runs", Name: "base", PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	parent, _ := os.ReadFile(filepath.Join("runs", "base", lab.MetricsFile))

	s := &spy{Model: New(o)}
	tm := teatest.NewTestModel(t, s, teatest.WithInitialTermSize(100, 30))
	waitText(t, s, "base", 5*time.Second)
	enter(tm)
	waitText(t, s, "w rewind •", 5*time.Second)
	tm.Type("w")
	waitText(t, s, "Rewind: fork from a checkpoint", 5*time.Second)
	waitText(t, s, "Kept: step-5, step-10, step-15, step-20", time.Second)
	// offered: the latest before the run's end, which has nothing to train
	waitText(t, s, "checkpoint  step-15", time.Second)
	tm.Send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	tm.Type("step-20")
	enter(tm)
	waitText(t, s, "checkpoint: step-20 is where the run ends", 5*time.Second)
	tm.Send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	tm.Type("step-10")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyTab})
	tm.Send(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	tm.Type("3")
	enter(tm)
	waitFor(t, s, "the fork trained to its end", 60*time.Second, func(sc string) bool {
		return strings.Contains(sc, "base-from-10-skip3") && strings.Contains(sc, "finished")
	})
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))

	fork := filepath.Join("runs", "base-from-10-skip3")
	fi, ok := lab.ReadFork(fork)
	if !ok || fi.ParentRun != "base" || fi.Step != 10 || fi.SkipSteps != 3 {
		t.Errorf("fork.json %+v (%v)", fi, ok)
	}
	b, _ := os.ReadFile(filepath.Join(fork, lab.MetricsFile))
	var steps []int64
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e lab.Event
		json.Unmarshal([]byte(l), &e)
		steps = append(steps, e.Step)
	}
	want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 19, 20}
	if !slices.Equal(steps, want) {
		t.Errorf("the fork's metrics at steps %v, want %v", steps, want)
	}
	if after, _ := os.ReadFile(filepath.Join("runs", "base", lab.MetricsFile)); string(after) != string(parent) {
		t.Error("the rewind changed the parent's metrics.jsonl")
	}
}
