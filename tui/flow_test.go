package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab"
)

// spy wraps the model so a flow test can read what the program last drew
// (the raw output is a stream of cursor moves and partial lines).
type spy struct {
	*Model
	mu   sync.Mutex
	last string
}

func (s *spy) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := s.Model.Update(msg)
	return s, cmd
}

func (s *spy) View() tea.View {
	v := s.Model.View()
	s.mu.Lock()
	s.last = ansi.Strip(v.Content)
	s.mu.Unlock()
	return v
}

func (s *spy) screen() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// waitFor polls the drawn screen until ok says yes.
func waitFor(t *testing.T, s *spy, what string, timeout time.Duration, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ok(s.screen()) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; screen:\n%s", what, s.screen())
}

func waitText(t *testing.T, s *spy, text string, timeout time.Duration) {
	t.Helper()
	waitFor(t, s, `"`+text+`"`, timeout, func(sc string) bool { return strings.Contains(sc, text) })
}

// markerRowA finds the anneal letter on a chart's marker row.
var markerRowA = regexp.MustCompile(`(?m)^ {8,}[ ▲E]*A[ ▲E]*$`)

func enter(tm *teatest.TestModel) { tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter}) }

// TestFlowAnneal: launch → anneal (confirm) → the marker shows → quit asks →
// stop, with a run the test drives.
func TestFlowAnneal(t *testing.T) {
	o := testOptions(t, 80, 24)
	fake := newFakeRun("quickstart-flow", filepath.Join("runs", "quickstart-flow"), nil)
	os.MkdirAll(fake.dir, 0o755)
	o.StartRun = func(_ context.Context, p lab.RunParams) (Run, error) {
		fake.rec = p.Recipe
		return fake, nil
	}
	s := &spy{Model: New(o)}
	tm := teatest.NewTestModel(t, s, teatest.WithInitialTermSize(80, 24))

	waitText(t, s, "quickstart", 5*time.Second)
	enter(tm)
	waitText(t, s, "Launch quickstart", 5*time.Second)
	enter(tm)
	waitText(t, s, "training quickstart-flow", 5*time.Second)
	fake.steps(40)
	waitText(t, s, "step 40/", 5*time.Second)

	tm.Type("a")
	waitText(t, s, "Anneal now", 5*time.Second)
	enter(tm)
	waitFor(t, s, "the anneal marker", 5*time.Second, func(sc string) bool {
		return markerRowA.MatchString(sc) && strings.Contains(sc, "annealing")
	})
	fake.steps(5)

	tm.Type("q")
	waitText(t, s, "Quit while training", 5*time.Second)
	tm.Type("s")
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	if got := fake.actionKinds(); !slices.Equal(got, []lab.ActionKind{lab.ActAnneal, lab.ActStop}) {
		t.Errorf("actions %v, want anneal then stop", got)
	}
	if msg := s.ExitMessage(); !strings.Contains(msg, "--resume") {
		t.Errorf("exit message %q does not say how to continue", msg)
	}
}

// flowRecipe is a tiny recipe that trains long enough to anneal by hand.
const flowRecipe = `name: flow
model: cpu_xs
tokenizer: world
sequence_length: 32
global_batch_size: 256
max_tokens: 2M
seed: 3
optimizer: {lr: 3.0e-3}
schedule: {name: cosine, warmup_tokens: 512}
dataset:
  sources:
    - {name: web, target_ratio: 0.5, paths: ["builtin:web_clean"]}
    - {name: qa, target_ratio: 0.5, paths: ["builtin:qa"]}
anneal:
  tokens: 2560
  mix:
    - {name: qa, target_ratio: 1, paths: ["builtin:qa"]}
checkpoint: {interval: 0, keep: 1}
`

// TestFlowRealRun drives the same flow over the lab itself: a tiny model
// trains in the test, anneals on a key and finishes; the run directory holds
// the anneal.
func TestFlowRealRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	o := testOptions(t, 80, 24)
	o.Shipped = func() []experiments.Recipe { return nil }
	o.Frame = 50 * time.Millisecond
	os.WriteFile("flow.yaml", []byte(flowRecipe), 0o644)
	s := &spy{Model: New(o)}
	tm := teatest.NewTestModel(t, s, teatest.WithInitialTermSize(80, 24))

	waitText(t, s, "flow", 5*time.Second)
	enter(tm)
	waitText(t, s, "Launch flow", 5*time.Second)
	enter(tm)
	waitFor(t, s, "a few steps", 30*time.Second, func(sc string) bool { return regexp.MustCompile(`step [1-9][0-9]*/`).MatchString(sc) })
	// the lab marks the run as trained in this session
	dirs, _ := filepath.Glob(filepath.Join("runs", "flow-*"))
	if len(dirs) != 1 {
		t.Fatalf("run directories %v", dirs)
	}
	if l, ok := lab.LiveLock(dirs[0]); !ok || l.PID != os.Getpid() || l.Mode != lab.LockTUI {
		t.Errorf("lock of the run training here: %+v (live %v)", l, ok)
	}
	tm.Type("a")
	waitText(t, s, "Anneal now", 5*time.Second)
	enter(tm)
	waitFor(t, s, "the anneal marker and the end", 60*time.Second, func(sc string) bool {
		return markerRowA.MatchString(sc) && strings.Contains(sc, "finished")
	})
	tm.Type("q") // finished: quits without asking
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))

	b, _ := os.ReadFile(filepath.Join(dirs[0], lab.EventsFile))
	if !strings.Contains(string(b), `"message":"anneal: LR`) {
		t.Errorf("events.jsonl has no anneal:\n%s", b)
	}
	if _, ok := lab.LiveLock(dirs[0]); ok {
		t.Error("the lock outlived the run")
	}
}

// TestFlowEvaluateTwice: v at a step the lab has evaluated (paused there)
// ran the whole evaluation again and wrote a second set of records. The
// dialog says the step is evaluated already, and the lab's answer, the same
// as --batch gets, is on the message line; evals.jsonl holds one set.
func TestFlowEvaluateTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	o := testOptions(t, 160, 30)
	o.Shipped = func() []experiments.Recipe { return nil }
	o.Frame = 50 * time.Millisecond
	os.WriteFile("flow.yaml", []byte(flowRecipe+"eval: {tasks: [arith], limit: 4}\n"), 0o644)
	s := &spy{Model: New(o)}
	tm := teatest.NewTestModel(t, s, teatest.WithInitialTermSize(160, 30))

	waitText(t, s, "flow", 5*time.Second)
	enter(tm)
	waitText(t, s, "Launch flow", 5*time.Second)
	enter(tm)
	waitFor(t, s, "a few steps", 30*time.Second, func(sc string) bool { return regexp.MustCompile(`step [1-9][0-9]*/`).MatchString(sc) })
	tm.Type(" ")
	waitText(t, s, "Pause training", 5*time.Second)
	enter(tm)
	waitText(t, s, "● paused", 10*time.Second)
	tm.Type("v")
	waitText(t, s, "Evaluate now", 5*time.Second)
	enter(tm)
	waitText(t, s, "evaluation (requested) at step", 30*time.Second)
	tm.Type("v")
	waitText(t, s, "is evaluated already (requested):", 5*time.Second)
	enter(tm)
	waitFor(t, s, "the lab's answer", 10*time.Second, func(sc string) bool {
		return regexp.MustCompile(`warning: evaluate: step [0-9]+ is evaluated already \(requested\); its scores are in runs/flow-[0-9-]+/evals\.jsonl`).MatchString(sc)
	})
	tm.Type("X")
	waitText(t, s, "Stop the run", 5*time.Second)
	enter(tm)
	waitText(t, s, "run stopped", 30*time.Second)
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))

	dirs, _ := filepath.Glob(filepath.Join("runs", "flow-*"))
	if len(dirs) != 1 {
		t.Fatalf("run directories %v", dirs)
	}
	b, err := os.ReadFile(filepath.Join(dirs[0], lab.EvalsFile))
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]bool{} // one time per evaluation's records
	for line := range bytes.Lines(b) {
		var r lab.EvalRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		sets[r.Time.String()] = true
	}
	if len(sets) != 1 {
		t.Errorf("evals.jsonl holds %d evaluations, want 1:\n%s", len(sets), b)
	}
}
