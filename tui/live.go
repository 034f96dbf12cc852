package tui

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/olmolab/olmolab/lab"
)

// Run is a run training in this process, as the UI sees it: the lab's *lab.Run
// behind a small interface, so tests can drive the UI with runs of their own.
type Run interface {
	Name() string
	Dir() string
	Recipe() *lab.Recipe
	Events() *lab.EventQueue
	// Do hands an action to the run; it never blocks.
	Do(lab.Action) error
	Done() <-chan struct{}
}

// labRun adapts *lab.Run.
type labRun struct{ r *lab.Run }

func (l labRun) Name() string                  { return l.r.Name }
func (l labRun) Dir() string                   { return l.r.Dir }
func (l labRun) Recipe() *lab.Recipe           { return l.r.Recipe }
func (l labRun) Events() *lab.EventQueue       { return l.r.Events }
func (l labRun) Do(a lab.Action) error         { return l.r.Do(a) }
func (l labRun) Done() <-chan struct{}         { return l.r.Done() }
func (l labRun) Wait() (lab.RunSummary, error) { return l.r.Wait() }

// MemoryNeed is the host memory the run's memory check counted for it.
func (l labRun) MemoryNeed() int64 { return l.r.MemoryNeed() }

// StartLabRun starts a run with the lab; it is Options.StartRun's default.
// The lab marks the run directory as trained in this session (lab.LockTUI)
// until the run ends.
func StartLabRun(ctx context.Context, p lab.RunParams) (Run, error) {
	if p.LockMode == "" {
		p.LockMode = lab.LockTUI
	}
	r, err := lab.StartRun(ctx, p)
	if err != nil {
		return nil, err
	}
	return labRun{r}, nil
}

// waitEvents is the bridge from a run to the UI. It blocks until the run
// publishes something (or ends), then waits out the rest of the frame so that
// everything published meanwhile arrives as one message: Update and View run
// once per frame, not once per step, and the run never waits on the UI (the
// lab's queue never blocks its publisher). Update re-arms it after each
// message until the run is done. The message carries the queue's count of
// dropped step events, so Update can tell when the UI fell behind.
func waitEvents(r Run, gen int, frame time.Duration, last time.Time) tea.Cmd {
	q := r.Events()
	return func() tea.Msg {
		select {
		case <-q.Notify():
		case <-r.Done():
		}
		if d := frame - time.Since(last); d > 0 {
			time.Sleep(min(d, frame))
		}
		done := false
		select {
		case <-r.Done():
			done = true
		default:
		}
		evs, dropped := q.DrainDropped(nil)
		return runEventsMsg{gen: gen, events: evs, dropped: dropped, done: done, at: time.Now()}
	}
}
