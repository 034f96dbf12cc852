package lab

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
)

func mustPreset(t *testing.T, name string) model.Config {
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
// it with no word on which wait it was.
const waitLimit = 2 * time.Minute

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
