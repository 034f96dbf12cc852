package lab

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"strings"
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
	// TokensLeft is what the run has yet to train after this step, a soup's
	// ingredients included (the recipe's soup still ahead, the rest of the
	// one being made and, after a side soup, the run's own steps): what its
	// ETA counts (Event.Left)
	TokensLeft int64 `json:"tokens_left,omitempty"`

	// spike
	Series string  `json:"series,omitempty"` // "loss" or "grad_norm"
	Value  float64 `json:"value,omitempty"`
	Z      float64 `json:"z,omitempty"`

	// phase and mix
	Mix []data.SourceSpec `json:"mix,omitempty"`

	// What a phase event changed, and the like for the few other events a
	// front end acts on, as fields: Message words it for people and may be
	// reworded. Events written before these fields have none of them: read
	// them with Event.Kind, Event.SideSoup and Event.RefusedAction, which
	// fall back on the wording of the time.
	Change     Change     `json:"change,omitempty"`     // phase: what changed; error: ChangeStepSkipped, ChangeIngredientDropped
	SoupStep   int64      `json:"soup_step,omitempty"`  // a soup's events: the step it starts from, which names it (soups/soup-N)
	SoupKind   string     `json:"soup_kind,omitempty"`  // a soup's events: SoupPlanned (the recipe's, the run's last act) or SoupSide (asked for)
	Ingredient string     `json:"ingredient,omitempty"` // ChangeSoupIngredient, ChangeIngredientDropped, an ingredient's steps: the ingredient's name (its directory)
	Refused    ActionKind `json:"refused,omitempty"`    // a warning that answers an action with "nothing done": which
	// ChangeSoupIngredient and an ingredient's steps: which ingredient it is
	// (1-based) of how many, what their Phase "soup i/k" words
	SoupIndex int `json:"soup_index,omitempty"`
	SoupOf    int `json:"soup_of,omitempty"`

	Message    string      `json:"message,omitempty"`
	Checkpoint string      `json:"checkpoint,omitempty"`
	Evals      []EvalScore `json:"evals,omitempty"`
	Soup       *SoupReport `json:"soup,omitempty"`
	State      string      `json:"state,omitempty"` // done: finished, stopped, failed, diverged, interrupted
	Summary    *RunSummary `json:"summary,omitempty"`
}

// Change is what a phase event (Event.Change) says happened.
type Change string

const (
	ChangeLoadPath        Change = "load_path"         // the run started from another run's checkpoint (load_path)
	ChangePaused          Change = "paused"            // the run (or the soup it makes) waits between two steps
	ChangeResumed         Change = "resumed"           // and goes on
	ChangeAnneal          Change = "anneal"            // its anneal starts (TotalTokens moves)
	ChangeMix             Change = "mix"               // it switched mix (the m action or mix_schedule); Mix is the new one
	ChangeSoupStarting    Change = "soup_starting"     // a soup is announced, before its checkpoint and the evaluation before it
	ChangeSoup            Change = "soup"              // its ingredients start (Mix: theirs)
	ChangeSoupIngredient  Change = "soup_ingredient"   // one ingredient's anneal starts (Ingredient; Phase "soup i/k")
	ChangeSoupPauseLifted Change = "soup_pause_lifted" // a resume during a soup asked for while paused: the run goes on after it
	ChangeSoupDone        Change = "soup_done"         // the soup is made (Soup: its report)
	ChangeSoupStopped     Change = "soup_stopped"      // a stop abandoned it: the run ends at the checkpoint it started from

	// on error events
	ChangeStepSkipped       Change = "step_skipped"       // a step's loss or grad norm was not finite: skipped
	ChangeIngredientDropped Change = "ingredient_dropped" // a soup's ingredient (Ingredient) diverged and is left out
)

// Event.SoupKind's values.
const (
	SoupPlanned = "planned" // the recipe's soup: the run ends with its weights
	SoupSide    = "side"    // a soup asked for: the run goes on with its own weights after it
)

// Kind is what the event says changed: Change, or for an event written
// before the field (an old run's events.jsonl), what its message's wording
// said then; "" for any other event.
func (e Event) Kind() Change {
	if e.Change != "" {
		return e.Change
	}
	m := e.Message
	switch e.Type {
	case EvPhase:
		switch {
		case m == "paused":
			return ChangePaused
		case m == "resumed":
			return ChangeResumed
		case strings.HasPrefix(m, "load_path:"):
			return ChangeLoadPath
		case strings.HasPrefix(m, "anneal"):
			return ChangeAnneal
		case strings.HasPrefix(m, "switched mix"):
			return ChangeMix
		case strings.HasPrefix(m, "soup done"):
			return ChangeSoupDone
		case strings.HasPrefix(m, "soup stopped"):
			return ChangeSoupStopped
		case strings.HasPrefix(m, "soup starting"):
			return ChangeSoupStarting
		case strings.HasPrefix(m, "soup:"):
			return ChangeSoup
		case strings.HasPrefix(m, "resume: the run was paused when the soup"):
			return ChangeSoupPauseLifted
		case strings.HasPrefix(e.Phase, "soup ") && strings.Contains(m, ": anneal with data-order seed"):
			return ChangeSoupIngredient
		}
	case EvError:
		switch {
		case strings.HasPrefix(m, "soup: ") && strings.Contains(m, " diverged at step "):
			return ChangeIngredientDropped
		case strings.Contains(m, "skipped"):
			return ChangeStepSkipped
		}
	}
	return ""
}

// SoupIngredient says whether the event is a soup ingredient's (one of its
// steps, or the start of its anneal), which one (name, its directory) and
// its place in the soup, the i-th of k: the fields Ingredient, SoupIndex and
// SoupOf, or in events written before them what they said then: the step's
// run "<run>/<ingredient>" and the phase "soup i/k" (a name, i or k that
// nothing says is "" or 0).
func (e Event) SoupIngredient() (name string, i, k int, ok bool) {
	switch {
	case e.Type == EvStep:
		// a run's own steps carry its name, which has no "/"
		var cut string
		_, cut, ok = strings.Cut(e.Run, "/")
		name = cmp.Or(e.Ingredient, cut)
		ok = ok || e.Ingredient != ""
	case e.Kind() == ChangeSoupIngredient:
		name, ok = e.Ingredient, true
	}
	if !ok {
		return "", 0, 0, false
	}
	if i, k = e.SoupIndex, e.SoupOf; k == 0 {
		fmt.Sscanf(e.Phase, "soup %d/%d", &i, &k)
	}
	return name, i, k, true
}

// SideSoup says whether a soup's announcement (ChangeSoupStarting) or end
// (ChangeSoupDone) is of a soup asked for, after which the run goes on with
// its own weights, rather than the recipe's: SoupKind, or in events written
// before it the wording ("…; the run ends with the soup" closed the recipe's
// announcement, "… goes on from step N …" a side soup's end).
func (e Event) SideSoup() bool {
	switch e.SoupKind {
	case SoupSide:
		return true
	case SoupPlanned:
		return false
	}
	if e.Kind() == ChangeSoupStarting {
		return !strings.HasSuffix(e.Message, soupEndsRun)
	}
	return strings.Contains(e.Message, soupGoesOn)
}

// RefusedAction is the action a warning answers with "nothing done" (the
// run does not take it now): Refused, or in a warning written before it, the
// action whose verb begins the message ("soup: …; nothing done").
func (e Event) RefusedAction() ActionKind {
	if e.Refused != "" || e.Type != EvWarning || e.Change != "" {
		return e.Refused
	}
	for _, k := range []ActionKind{ActSoup, ActAnneal, ActSwitchMix, ActCheckpoint, ActEval, ActPause, ActResume, ActStop} {
		// the soup's refusals were read by their first words alone
		if strings.HasPrefix(e.Message, k.verb()+": ") && (k == ActSoup || strings.HasSuffix(e.Message, "; nothing done")) {
			return k
		}
	}
	return ""
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
// the final evaluation, an evaluation with nothing to evaluate; besides it,
// a switch or an anneal onto a mix that would take the whole run past a
// source's repetition_factor or max_source_ratio) is answered
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
	Split       string  `json:"split,omitempty"`     // an OLMES benchmark's dataset split (eval.split, else OLMES's)
	Instances   int     `json:"instances,omitempty"` // instances scored (eval.limit; olmes.EvalRecord.Instances)
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

// Left is the tokens the run has yet to train after this step event, its
// soups' ingredients included (TokensLeft): what the time left is estimated
// for. A step written before the field counts to its TotalTokens.
func (e Event) Left() int64 {
	if e.TokensLeft > 0 {
		return e.TokensLeft
	}
	return max(e.TotalTokens-e.Tokens, 0)
}
