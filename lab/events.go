package lab

import (
	"encoding/json"
	"math"
	"sync"
	"time"

	"github.com/olmolab/olmolab/lab/data"
)

// EventKind names what happened.
type EventKind string

const (
	EvStep       EventKind = "step"       // one optimizer step's metrics
	EvSpike      EventKind = "spike"      // the loss or grad norm jumped (per-step flag)
	EvPhase      EventKind = "phase"      // stage1 → anneal, mix switch, pause, resume, soup ingredient, …
	EvCheckpoint EventKind = "checkpoint" // a checkpoint was written; or, asked for at a step that has one, Message CheckpointExists
	EvEval       EventKind = "eval"       // evaluation results
	EvWarning    EventKind = "warning"
	EvError      EventKind = "error" // a step was skipped (non-finite), or the run failed
	EvDone       EventKind = "done"  // the run ended; State says how

	// Added later; a reader that does not know them can skip them: each is
	// followed by one of the events above, which carries the result.
	EvResumed       EventKind = "resumed"       // the run continues from Checkpoint (at its step and tokens)
	EvEvaluating    EventKind = "evaluating"    // an evaluation started (Message says why); eval (or a warning) follows
	EvCheckpointing EventKind = "checkpointing" // a checkpoint (Checkpoint) is being written; checkpoint (or an error) follows
)

// Event is one thing a run publishes; its JSON form is a line of --batch output
// and of the run's events.jsonl (metrics.jsonl holds the step events).
type Event struct {
	Type   EventKind `json:"type"`
	Time   time.Time `json:"time"`
	Run    string    `json:"run"`
	Step   int64     `json:"step"`
	Tokens int64     `json:"tokens"`
	Phase  string    `json:"phase,omitempty"`

	// step
	Loss         float64          `json:"loss,omitempty"`
	ZLoss        float64          `json:"z_loss,omitempty"`
	GradNorm     float64          `json:"grad_norm,omitempty"`
	LR           float64          `json:"lr,omitempty"`
	TokensPerSec float64          `json:"tokens_per_s,omitempty"`
	MFU          float64          `json:"mfu,omitempty"`
	LossZ        float64          `json:"loss_z,omitempty"` // z-score against the rolling window
	GradZ        float64          `json:"grad_z,omitempty"`
	SpikeScore   *SpikeScores     `json:"spike_score,omitempty"`
	Sources      map[string]int64 `json:"sources,omitempty"` // tokens served per source so far
	Skipped      bool             `json:"skipped,omitempty"`
	TotalTokens  int64            `json:"total_tokens,omitempty"` // where the run ends (moves when an anneal starts)

	// spike
	Series string  `json:"series,omitempty"` // "loss" or "grad_norm"
	Value  float64 `json:"value,omitempty"`
	Z      float64 `json:"z,omitempty"`

	// phase and mix
	Mix []data.SourceSpec `json:"mix,omitempty"`

	Message    string      `json:"message,omitempty"`
	Checkpoint string      `json:"checkpoint,omitempty"`
	Evals      []EvalScore `json:"evals,omitempty"`
	Soup       *SoupReport `json:"soup,omitempty"`
	State      string      `json:"state,omitempty"` // done: finished, stopped, failed, diverged, interrupted
	Summary    *RunSummary `json:"summary,omitempty"`
}

// SpikeScores are OLMo 2's spike scores (percent) of the two series.
type SpikeScores struct {
	Loss     float64 `json:"loss"`
	GradNorm float64 `json:"grad_norm"`
}

// EventQueue hands a run's events to one consumer without ever blocking the
// run: Publish appends and signals; when the consumer lags past the capacity the
// oldest step events are dropped first (they are in metrics.jsonl), so phase,
// checkpoint, eval and done events always arrive.
type EventQueue struct {
	mu      sync.Mutex
	buf     []Event
	max     int
	notify  chan struct{}
	dropped int64
	closed  bool
}

// NewEventQueue holds up to max events.
func NewEventQueue(max int) *EventQueue {
	return &EventQueue{max: max, notify: make(chan struct{}, 1)}
}

// Publish adds e; it never blocks.
func (q *EventQueue) Publish(e Event) {
	q.mu.Lock()
	if len(q.buf) >= q.max {
		drop := 0
		for i, x := range q.buf {
			if x.Type == EvStep {
				drop = i
				break
			}
		}
		q.buf = append(q.buf[:drop], q.buf[drop+1:]...)
		q.dropped++
	}
	q.buf = append(q.buf, e)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Notify receives a value whenever events are waiting.
func (q *EventQueue) Notify() <-chan struct{} { return q.notify }

// Drain moves every waiting event into dst and returns it.
func (q *EventQueue) Drain(dst []Event) []Event {
	q.mu.Lock()
	dst = append(dst, q.buf...)
	q.buf = q.buf[:0]
	q.mu.Unlock()
	return dst
}

// DrainDropped is Drain that also returns Dropped as it was at the drain: a
// consumer that sees the count grow knows that some step events published
// before the newest one it got are missing.
func (q *EventQueue) DrainDropped(dst []Event) ([]Event, int64) {
	q.mu.Lock()
	dst = append(dst, q.buf...)
	q.buf = q.buf[:0]
	n := q.dropped
	q.mu.Unlock()
	return dst, n
}

// Dropped counts step events dropped because the consumer lagged.
func (q *EventQueue) Dropped() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// ActionKind names something a person asks of a running run.
type ActionKind string

const (
	ActAnneal     ActionKind = "anneal"     // LR linearly to 0 over Tokens, optionally onto Mix
	ActSwitchMix  ActionKind = "switch_mix" // change the data mix from the next step
	ActPause      ActionKind = "pause"
	ActResume     ActionKind = "resume"
	ActCheckpoint ActionKind = "checkpoint" // write a checkpoint now
	ActEval       ActionKind = "eval"       // evaluate now
	ActSoup       ActionKind = "soup"       // K anneals from the current state, averaged, evaluated
	ActStop       ActionKind = "stop"       // checkpoint and end
)

// Action is applied by the run between steps, on its own goroutine. Every
// action is answered by an event. One the run does not take where it
// applies (ActionState.WhyNot: an anneal or a soup outside stage 1,
// anything but pause, resume and stop while a soup is made, anything during
// the final evaluation, an evaluation with nothing to evaluate) is answered
// by a warning naming the action and why, as is one still waiting when the
// run ends, and one that would change nothing (pause while paused, resume
// while running, a switch to the mix the run trains on, an evaluation at a
// step whose weights were evaluated already (which evaluation, and the
// evals.jsonl that holds its scores), a soup that would overwrite another's
// files); a checkpoint at a step that has one by a checkpoint event with its
// path and Message CheckpointExists.
type Action struct {
	Kind   ActionKind
	Tokens int64             // anneal/soup length; 0 means the recipe's
	Mix    []data.SourceSpec // anneal or switch target; nil keeps the current mix (anneal) or is an error (switch)
	Seeds  []uint64          // soup data-order seeds; nil means the recipe's or 1..K
	K      int               // soup ingredients; 0 means the recipe's (or 3)
}

// EvalScore is one metric of one task.
type EvalScore struct {
	Task        string  `json:"task"`
	Formulation string  `json:"formulation,omitempty"`
	Split       string  `json:"split,omitempty"` // an OLMES benchmark's dataset split (eval.split, else OLMES's)
	Metric      string  `json:"metric"`
	Value       float64 `json:"value"`
	Primary     bool    `json:"primary,omitempty"`
}

// MarshalJSON writes the event as its fields say, with two exceptions. A float
// that is not finite (the loss and grad norm of a step skipped for them, and
// their z scores) is written as null: encoding/json refuses NaN and ±Inf,
// which lost a diverging run's skipped steps from metrics.jsonl and the
// --batch output. Readers take null as NaN (tui) or as no value (resume's loss
// history). And a step's lr is written even when it is 0 (an anneal's last
// step), so that every step line has it.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event // without this method
	floats := []float64{e.Loss, e.ZLoss, e.GradNorm, e.LR, e.TokensPerSec, e.MFU, e.LossZ, e.GradZ, e.Value, e.Z}
	simple := !(e.Type == EvStep && e.LR == 0)
	for _, v := range floats {
		simple = simple && finite(v)
	}
	if simple {
		return json.Marshal(plain(e))
	}
	// nil leaves a field out, as omitempty does; the outer fields hide the
	// embedded ones of the same JSON name
	opt := func(v float64, always bool) *nullFloat {
		if v == 0 && !always {
			return nil
		}
		f := nullFloat(v)
		return &f
	}
	return json.Marshal(struct {
		plain
		Loss         *nullFloat `json:"loss,omitempty"`
		ZLoss        *nullFloat `json:"z_loss,omitempty"`
		GradNorm     *nullFloat `json:"grad_norm,omitempty"`
		LR           *nullFloat `json:"lr,omitempty"`
		TokensPerSec *nullFloat `json:"tokens_per_s,omitempty"`
		MFU          *nullFloat `json:"mfu,omitempty"`
		LossZ        *nullFloat `json:"loss_z,omitempty"`
		GradZ        *nullFloat `json:"grad_z,omitempty"`
		Value        *nullFloat `json:"value,omitempty"`
		Z            *nullFloat `json:"z,omitempty"`
	}{plain(e), opt(e.Loss, false), opt(e.ZLoss, false), opt(e.GradNorm, false), opt(e.LR, e.Type == EvStep),
		opt(e.TokensPerSec, false), opt(e.MFU, false), opt(e.LossZ, false), opt(e.GradZ, false), opt(e.Value, false), opt(e.Z, false)})
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// nullFloat is a float64 that JSON writes as null when it is not finite.
type nullFloat float64

func (f nullFloat) MarshalJSON() ([]byte, error) {
	if !finite(float64(f)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}
