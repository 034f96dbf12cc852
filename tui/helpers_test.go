package tui

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab"
)

// t0 is the fixed start of every synthetic run, so views are deterministic.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const testGB = 2048 // tokens per step of the test recipe

// shippedForTests is quickstart as it was when the golden files were made
// (testdata/recipe.yaml), so edits to experiments/ do not churn them.
func shippedForTests() []experiments.Recipe {
	b, err := os.ReadFile(filepath.Join(pkgDir, "testdata", "recipe.yaml"))
	if err != nil {
		panic(err)
	}
	return []experiments.Recipe{{Name: "quickstart", Path: "experiments/quickstart.yaml", YAML: b}}
}

// testRecipe is that quickstart with a budget the synthetic runs fit.
func testRecipe(t testing.TB) *lab.Recipe {
	t.Helper()
	sr := shippedForTests()[0]
	rec, err := lab.ParseRecipe(sr.Path, sr.YAML, []string{"max_tokens=300K", "anneal.auto_at=200K", "anneal.tokens=60K"})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// fakeRun is a Run the test drives: it publishes what the test tells it to
// and answers actions the way the lab does (a phase event, done on stop).
type fakeRun struct {
	name, dir string
	rec       *lab.Recipe
	q         *lab.EventQueue
	done      chan struct{}

	mu      sync.Mutex
	actions []lab.Action
	step    int64
	ended   bool
	phase   string
}

func newFakeRun(name, dir string, rec *lab.Recipe) *fakeRun {
	return &fakeRun{name: name, dir: dir, rec: rec, q: lab.NewEventQueue(4096), done: make(chan struct{}), phase: "stage1"}
}

func (f *fakeRun) Name() string            { return f.name }
func (f *fakeRun) Dir() string             { return f.dir }
func (f *fakeRun) Recipe() *lab.Recipe     { return f.rec }
func (f *fakeRun) Events() *lab.EventQueue { return f.q }
func (f *fakeRun) Done() <-chan struct{}   { return f.done }

func (f *fakeRun) Do(a lab.Action) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended {
		return fmt.Errorf("the run has ended")
	}
	f.actions = append(f.actions, a)
	ev := lab.Event{Type: lab.EvPhase, Time: t0.Add(time.Duration(f.step) * 100 * time.Millisecond), Run: f.name, Step: f.step, Tokens: f.step * testGB}
	switch a.Kind {
	case lab.ActAnneal:
		f.phase = "anneal"
		ev.Phase, ev.Mix, ev.TotalTokens = "anneal", a.Mix, f.step*testGB+a.Tokens
		ev.Message = fmt.Sprintf("anneal: LR 0.003 → 0 over %d tokens onto the anneal mix", a.Tokens)
	case lab.ActPause:
		ev.Message = "paused"
	case lab.ActResume:
		ev.Message = "resumed"
	case lab.ActSwitchMix:
		ev.Message, ev.Mix = "switched mix", a.Mix
	case lab.ActStop:
		f.q.Publish(lab.Event{Type: lab.EvDone, Run: f.name, Step: f.step, State: "stopped", Time: ev.Time})
		f.ended = true
		close(f.done)
		return nil
	default:
		return nil
	}
	ev.Phase = f.phase
	f.q.Publish(ev)
	return nil
}

// steps publishes n more synthetic steps.
func (f *fakeRun) steps(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 0; i < n; i++ {
		f.step++
		f.q.Publish(stepEvent(f.name, f.step, f.phase, 300*testGB))
	}
}

func (f *fakeRun) actionKinds() []lab.ActionKind {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []lab.ActionKind
	for _, a := range f.actions {
		out = append(out, a.Kind)
	}
	return out
}

// stepEvent is a deterministic step: a falling loss with some wiggle.
func stepEvent(run string, step int64, phase string, total int64) lab.Event {
	s := float64(step)
	loss := 2 + 5.6*math.Exp(-s/25) + 0.08*math.Sin(s*1.7)
	lr := 0.003 * math.Min(1, s/20)
	return lab.Event{Type: lab.EvStep, Time: t0.Add(time.Duration(step) * 100 * time.Millisecond), Run: run, Step: step,
		Tokens: step * testGB, Phase: phase, Loss: loss, GradNorm: 1 + 0.5*math.Exp(-s/10) + 0.05*math.Cos(s), LR: lr,
		TokensPerSec: 20480, MFU: 0.31, LossZ: 0.4, GradZ: -0.2, TotalTokens: total,
		SpikeScore: &lab.SpikeScores{Loss: 0.8, GradNorm: 0}}
}

// syntheticRun is a run's events as the lab would publish them: 120 steps
// with a one-step loss spike at 57, an evaluation and an anneal onto a new
// mix at 90, a checkpoint at 100.
func syntheticRun(name string, rec *lab.Recipe) []lab.Event {
	var evs []lab.Event
	total := int64(300 * testGB)
	phase := "stage1"
	at := func(step int64) time.Time {
		return t0.Add(time.Duration(step)*100*time.Millisecond + 50*time.Millisecond)
	}
	for s := int64(1); s <= 120; s++ {
		e := stepEvent(name, s, phase, total)
		if phase == "anneal" {
			e.LR = 0.003 * float64(120-s+10) / 40
		}
		if s == 57 {
			e.Loss += 4
			e.LossZ = 9.1
		}
		evs = append(evs, e)
		switch s {
		case 57:
			evs = append(evs, lab.Event{Type: lab.EvSpike, Time: at(s), Run: name, Step: s, Tokens: s * testGB, Phase: phase, Series: "loss", Value: e.Loss, Z: 9.1})
		case 90:
			evs = append(evs, lab.Event{Type: lab.EvEval, Time: at(s), Run: name, Step: s, Tokens: s * testGB, Phase: phase, Message: "before anneal",
				Evals: []lab.EvalScore{{Task: "arith", Formulation: "rc", Metric: "acc_per_char", Value: 0.164, Primary: true},
					{Task: "arith", Formulation: "rc", Metric: "acc_raw", Value: 0.15},
					{Task: "fact_qa_seen", Formulation: "rc", Metric: "acc_per_char", Value: 0.355, Primary: true}}})
			phase = "anneal"
			total = 130 * testGB
			evs = append(evs, lab.Event{Type: lab.EvPhase, Time: at(s).Add(time.Millisecond), Run: name, Step: s, Tokens: s * testGB, Phase: phase,
				TotalTokens: total, Mix: rec.Anneal.Mix, Message: "anneal: LR 0.003 → 0 over 81920 tokens onto the anneal mix"})
		case 100:
			evs = append(evs, lab.Event{Type: lab.EvCheckpoint, Time: at(s), Run: name, Step: s, Tokens: s * testGB, Phase: phase,
				Checkpoint: "runs/" + name + "/checkpoints/step-100"})
		}
	}
	return evs
}

// writeRunDir lays events out as the lab does: recipe.yaml, step events in
// metrics.jsonl, the rest in events.jsonl, evaluations in evals.jsonl.
func writeRunDir(t testing.TB, dir string, rec *lab.Recipe, evs []lab.Event) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, lines []any) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, l := range lines {
			b, _ := json.Marshal(l)
			f.Write(append(b, '\n'))
		}
	}
	os.WriteFile(filepath.Join(dir, lab.RecipeFile), rec.YAML(), 0o644)
	var metrics, events, evals []any
	for _, e := range evs {
		if e.Type == lab.EvStep {
			metrics = append(metrics, e)
			continue
		}
		events = append(events, e)
		if e.Type == lab.EvEval {
			for _, s := range e.Evals {
				evals = append(evals, lab.EvalRecord{Run: e.Run, Step: e.Step, Tokens: e.Tokens, Phase: e.Phase, Why: e.Message,
					Task: s.Task, Form: s.Formulation, Metric: s.Metric, Value: s.Value, Time: e.Time})
			}
		}
	}
	write(lab.MetricsFile, metrics)
	write(lab.EventsFile, events)
	write(lab.EvalsFile, evals)
}

// testOptions are deterministic options over a temporary runs directory.
func testOptions(t testing.TB, w, h int) Options {
	root := t.TempDir()
	t.Chdir(root) // paths on screen are relative, as a person's are
	return Options{
		RunsDir: "runs", RecipeDir: ".", Size: [2]int{w, h}, DarkKnown: true, Dark: true,
		Now:     func() time.Time { return t0.Add(13 * time.Second) },
		Shipped: shippedForTests,
		Frame:   5 * time.Millisecond,
	}
}

// screen is the model's view without ANSI sequences, trailing spaces cut.
func screen(m *Model) string {
	lines := strings.Split(ansi.Strip(m.render()), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}

// liveModel is a model with a fake live run that has published evs.
func liveModel(t testing.TB, o Options, evs []lab.Event) (*Model, *fakeRun) {
	t.Helper()
	m := New(o)
	rec := testRecipe(t)
	dir := filepath.Join(o.RunsDir, "quickstart-test")
	os.MkdirAll(dir, 0o755)
	f := newFakeRun("quickstart-test", dir, rec)
	m.Update(launchedMsg{run: f})
	m.Update(runEventsMsg{gen: m.liveGen, events: evs})
	return m, f
}

// pkgDir is the package directory, where testdata/ lives; tests chdir away.
var pkgDir, _ = os.Getwd()

// requireGolden compares s with testdata/<TestName>.golden (go test -update
// rewrites it).
func requireGolden(t *testing.T, s string) {
	t.Helper()
	cwd, _ := os.Getwd()
	os.Chdir(pkgDir)
	defer os.Chdir(cwd)
	golden.RequireEqual(t, s)
}

// syntheticSoupRun is a run that makes a soup of two ingredients at step 90.
func syntheticSoupRun(name string, rec *lab.Recipe) []lab.Event {
	var evs []lab.Event
	total := int64(300 * testGB)
	for s := int64(1); s <= 90; s++ {
		evs = append(evs, stepEvent(name, s, "stage1", total))
	}
	at := func(step int64) time.Time {
		return t0.Add(time.Duration(step)*100*time.Millisecond + 50*time.Millisecond)
	}
	evs = append(evs, lab.Event{Type: lab.EvPhase, Time: at(90), Run: name, Step: 90, Tokens: 90 * testGB, Phase: "soup", Mix: rec.Anneal.Mix,
		Message: "soup: 2 anneals of 20480 tokens from step 90 (runs/x/checkpoints/step-90), LR 0.003 → 0"})
	rep := &lab.SoupReport{Dir: "soups/soup-90", FromStep: 90, FromTokens: 90 * testGB, Tokens: 20480, LR0: 0.003}
	clock := int64(90)
	for i, seed := range []uint64{42, 666} {
		ing := fmt.Sprintf("ingredient-%d-seed-%d", i+1, seed)
		phase := fmt.Sprintf("soup %d/2", i+1)
		evs = append(evs, lab.Event{Type: lab.EvPhase, Time: at(clock), Run: name, Step: 90, Tokens: 90 * testGB, Phase: phase,
			Message: fmt.Sprintf("%s: anneal with data-order seed %d", phase, seed)})
		for k := int64(1); k <= 10; k++ {
			clock++
			e := stepEvent(name+"/"+ing, 90+k, phase, 100*testGB)
			e.Time = t0.Add(time.Duration(clock) * 100 * time.Millisecond)
			e.Loss -= 0.02*float64(k) + 0.05*float64(i)
			e.LR = 0.003 * float64(10-k) / 10
			evs = append(evs, e)
		}
		rep.Ingredients = append(rep.Ingredients, lab.SoupComponent{Name: ing, Seed: seed, FinalLoss: 2.1 - 0.05*float64(i),
			Evals: []lab.EvalScore{{Task: "arith", Metric: "acc_per_char", Value: 0.2 + 0.01*float64(i), Primary: true}}})
	}
	rep.Soup = lab.SoupComponent{Name: "soup", Evals: []lab.EvalScore{{Task: "arith", Metric: "acc_per_char", Value: 0.23, Primary: true}}}
	evs = append(evs, lab.Event{Type: lab.EvPhase, Time: at(clock), Run: name, Step: 90, Tokens: 90 * testGB, Phase: "soup",
		Message: "soup done: 2 ingredients averaged", Soup: rep})
	return evs
}

// writeSoupFiles adds what a soup leaves in the run directory: each
// ingredient's metrics.jsonl and soup.json.
func writeSoupFiles(t testing.TB, dir string, evs []lab.Event) {
	t.Helper()
	name := filepath.Base(dir)
	for _, e := range evs {
		if e.Type == lab.EvStep && e.Run != name {
			ing := strings.TrimPrefix(e.Run, name+"/")
			d := filepath.Join(dir, "soups", "soup-90", ing)
			os.MkdirAll(d, 0o755)
			f, _ := os.OpenFile(filepath.Join(d, lab.MetricsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			b, _ := json.Marshal(e)
			f.Write(append(b, '\n'))
			f.Close()
		}
		if e.Soup != nil {
			b, _ := json.Marshal(e.Soup)
			os.WriteFile(filepath.Join(dir, "soups", "soup-90", "soup.json"), b, 0o644)
		}
	}
}

// writeEvalSeries writes evals.jsonl with evaluations every 20 steps; level
// shifts the run's scores so runs differ.
func writeEvalSeries(t testing.TB, dir, run string, level float64) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	f, err := os.Create(filepath.Join(dir, lab.EvalsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, step := range []int64{20, 40, 60, 80, 100} {
		for _, x := range []struct {
			task, metric string
			v            float64
		}{{"arith", "acc_per_char", 0.15}, {"arith", "acc_raw", 0.14}, {"arith", "bits_per_byte_corr", 1.9},
			{"fact_qa_seen", "acc_per_char", 0.30}, {"fact_qa_seen", "acc_raw", 0.31}} {
			wiggle := 0.004 * math.Sin(float64(i)*2.1+x.v*10)
			r := lab.EvalRecord{Run: run, Step: step, Tokens: step * testGB, Phase: "stage1", Why: "interval", Task: x.task, Form: "rc",
				Metric: x.metric, Value: x.v*(1+level) + wiggle, Time: t0.Add(time.Duration(step) * time.Second)}
			b, _ := json.Marshal(r)
			f.Write(append(b, '\n'))
		}
	}
}

func teaSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }
