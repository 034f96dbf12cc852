package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
)

func mustPreset(t testing.TB, name string) model.Config {
	t.Helper()
	c, err := model.PresetByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitLimit bounds every wait of a test on a run (its end, one of its
// events): a run that hangs, or ends without the event a test waits for,
// fails that test saying what it waited for, with every goroutine's stack,
// instead of holding the package until go test's -timeout (10 minutes) ends
// it with no word on which wait it was. Five minutes, not two: the longest run
// (TestAnnealLiftsTargetedTasks, ~30 s on an idle machine) went past two at
// a load average of 12-14.
const waitLimit = 5 * time.Minute

// goroutines is every goroutine's stack, for a wait that ran out.
func goroutines() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// waitRun is r.Wait bounded by waitLimit.
func waitRun(t testing.TB, r *Run) (RunSummary, error) {
	t.Helper()
	select {
	case <-r.Done():
	case <-time.After(waitLimit):
		t.Fatalf("run %s did not end within %v; goroutines:\n%s", r.Name, waitLimit, goroutines())
	}
	return r.Wait()
}

// runWatch reads a run's events for a test, one at a time (next).
type runWatch struct {
	r   *Run
	buf []Event // drained, not yet looked at
}

// next returns the run's first event not looked at yet that ok accepts
// (those before it are passed over). It fails the test when the run ends
// without one, or none comes within waitLimit.
func (w *runWatch) next(t testing.TB, what string, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.After(waitLimit)
	ended := false
	for {
		for len(w.buf) > 0 {
			e := w.buf[0]
			w.buf = w.buf[1:]
			if ok(e) {
				return e
			}
			if e.Type == EvDone {
				t.Fatalf("no %s event: the run ended first (%s at step %d: %s)", what, e.State, e.Step, e.Message)
			}
		}
		if ended {
			t.Fatalf("no %s event: the run ended first", what)
		}
		select {
		case <-w.r.Events.Notify():
		case <-w.r.Done(): // its events are all published: drained below
			ended = true
		case <-deadline:
			t.Fatalf("no %s event within %v; goroutines:\n%s", what, waitLimit, goroutines())
		}
		w.buf = w.r.Events.Drain(w.buf)
	}
}

// gateEval holds the run in its first evaluation until the test opens the
// gate (or the run's context ends), so that a test can act on the run at
// that step whatever the scheduling: an action sent when a step's event is
// read may come any number of steps later, after the run's end on a loaded
// machine. Its evaluations are fakeEval's.
type gateEval struct {
	fakeEval
	in   chan struct{} // closed when the first evaluation has begun
	gate chan struct{} // closed by open: the evaluation goes on
}

func newGateEval() *gateEval {
	return &gateEval{in: make(chan struct{}), gate: make(chan struct{})}
}

func (g *gateEval) Evaluate(ctx context.Context, b model.Backend, tok data.Tokenizer, spec EvalSpec) ([]EvalScore, error) {
	if g.calls == 0 {
		close(g.in)
		select {
		case <-g.gate:
		case <-ctx.Done():
		}
	}
	return g.fakeEval.Evaluate(ctx, b, tok, spec)
}

// reached waits until r is held in its first evaluation.
func (g *gateEval) reached(t testing.TB, r *Run) {
	t.Helper()
	select {
	case <-g.in:
	case <-r.Done():
		t.Fatal("the run ended before its first evaluation")
	case <-time.After(waitLimit):
		t.Fatalf("the run made no evaluation within %v; goroutines:\n%s", waitLimit, goroutines())
	}
}

// open lets the evaluation go on.
func (g *gateEval) open() { close(g.gate) }

// fatalTB takes a helper's failure instead of failing the test: Fatal and
// Fatalf record the message and end the helper's goroutine, as they would
// end the test's.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatal(args ...any) { f.msg = fmt.Sprint(args...); runtime.Goexit() }

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// failure runs a helper on its own goroutine with a fatalTB and returns its
// failure ("" when it returned), failing t if the helper has not ended
// within waitLimit.
func failure(t *testing.T, helper func(testing.TB)) string {
	t.Helper()
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		helper(f)
	}()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatalf("the helper did not return or fail within %v", waitLimit)
	}
	return f.msg
}

// A test waiting for an event of a run that ends without it (a pause sent
// too late) waited for ever: the waits fail at once, saying how the run
// ended, and the gate says the run made no evaluation.
func TestWaitsSayWhenTheRunEndedFirst(t *testing.T) {
	r, err := StartRun(context.Background(), RunParams{Recipe: parseTiny(t, "max_tokens=512"), RunsDir: t.TempDir(), Name: "short", PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	w := runWatch{r: r}
	got := failure(t, func(tb testing.TB) {
		w.next(tb, "paused", func(e Event) bool { return e.Type == EvPhase && e.Message == "paused" })
	})
	if want := "no paused event: the run ended first (finished at step 2: )"; got != want {
		t.Errorf("waiting for a pause of a run that ends: %q, want %q", got, want)
	}
	if got := failure(t, func(tb testing.TB) { w.next(tb, "step", func(e Event) bool { return e.Type == EvStep }) }); got != "no step event: the run ended first" {
		t.Errorf("waiting after the run's end: %q", got)
	}
	if got := failure(t, func(tb testing.TB) { newGateEval().reached(tb, r) }); got != "the run ended before its first evaluation" {
		t.Errorf("gate of a run without evaluations: %q", got)
	}
	if got := failure(t, func(tb testing.TB) { waitRun(tb, r) }); got != "" {
		t.Errorf("waitRun of an ended run: %q", got)
	}
}

// actAtStep sends acts to a run from the run's own goroutine as it writes
// step's line of a metrics.jsonl in a directory named dir (the run's own,
// or a soup ingredient's): they are applied at the next step boundary,
// however late the test reads the step's event. Sent on reading the event,
// they came after the steps a test meant them for when the test's
// goroutine was slow to run (a loaded machine, GOMAXPROCS=1): a ten-step
// run ended before its soup was asked for. The run is handed over with the
// function returned, as soon as StartRun gives it; the hook is removed when
// the test ends.
func actAtStep(t *testing.T, dir string, step int64, acts ...Action) func(*Run) {
	t.Helper()
	if jsonlTestWriter != nil {
		t.Fatal("actAtStep: jsonlTestWriter is taken")
	}
	run := make(chan *Run, 1)
	sent := false
	jsonlTestWriter = func(path string, f *os.File) io.Writer {
		if filepath.Base(path) != MetricsFile || filepath.Base(filepath.Dir(path)) != dir {
			return f
		}
		return writerFunc(func(b []byte) (int, error) {
			var e struct {
				Step int64 `json:"step"`
			}
			if !sent && json.Unmarshal(b, &e) == nil && e.Step == step {
				sent = true
				r := <-run
				for _, a := range acts {
					if err := r.Do(a); err != nil {
						t.Errorf("actAtStep: %s at step %d: %v", a.Kind, step, err)
					}
				}
			}
			return f.Write(b)
		})
	}
	t.Cleanup(func() { jsonlTestWriter = nil })
	return func(r *Run) { run <- r }
}

// writerFunc is a func as an io.Writer.
type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(b []byte) (int, error) { return w(b) }
