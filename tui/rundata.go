package tui

import (
	"cmp"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/data"
)

// markKind is what a chart marker stands for.
type markKind int

const (
	markSpikeLoss markKind = iota
	markSpikeGrad
	markSkipped
	markAnneal
	markMix
	markPause
	markResume
	markSoup
	markEval
)

// glyph is the marker row's letter or symbol for the kind.
func (k markKind) glyph() string {
	switch k {
	case markSpikeLoss, markSpikeGrad:
		return "▲"
	case markSkipped:
		return "✗"
	case markAnneal:
		return "A"
	case markMix:
		return "M"
	case markPause:
		return "P"
	case markResume:
		return "R"
	case markSoup:
		return "S"
	case markEval:
		return "E"
	}
	return "?"
}

// isPhase says whether the marker is a phase change (drawn as a vertical line).
func (k markKind) isPhase() bool { return k >= markAnneal && k <= markSoup }

type marker struct {
	Kind         markKind
	Step, Tokens int64
	Text         string
}

// The reasons the lab records a soup's evaluations under (evals.jsonl's why,
// the eval event's message).
const (
	soupEval           = "soup"
	soupIngredientEval = "soup ingredient"
	beforeAnnealEval   = "before anneal" // eval.at_anneal's, which the anneal follows at once
	beforeSoupEval     = "before soup"   // likewise, a soup's
	finalEval          = "final"         // at the end, after which the run writes its checkpoint and ends
)

// soupUnderWay says whether a soup is being made, the lab taking only pause,
// resume and stop: from its announcement ("soup starting", before its
// checkpoint and the evaluation before it) to "soup done", and from a soup
// asked for here until the lab answers it (the actions sent after it wait
// behind it); also while it evaluates before the soup (eval.at_anneal) when
// no announcement came (a run written before the lab made one).
func (d *runData) soupUnderWay() bool {
	return d.SoupRunning || d.soupAsked || d.Busy == "evaluating ("+beforeSoupEval+")"
}

// soupPastItsSteps says whether the soup being made is past its last
// ingredient's last step: the lab takes no action until the soup is done (its
// last evaluations), and answers one sent now at the run's next step
// boundary, after the soup: back in the phase it left after a side soup,
// the run ended after the recipe's.
func (d *runData) soupPastItsSteps() bool {
	if !d.SoupRunning {
		return false
	}
	// its last ingredient (lab.Event.SoupIngredient: its fields, or in a run
	// written before them, its phase "soup k/k")
	if _, i, k, ok := d.LastIng.SoupIngredient(); !ok || k == 0 || i != k {
		return false
	}
	return d.LastIng.TotalTokens > 0 && d.LastIng.Tokens >= d.LastIng.TotalTokens
}

// soupMadeAt says whether a soup from step is made (its "soup done" seen).
func (d *runData) soupMadeAt(step int64) bool {
	for _, s := range d.Soups {
		if s.FromStep == step {
			return true
		}
	}
	return false
}

// runMix is the run's own mix: during a side soup the dashboard shows the
// soup's, which the run leaves again after it.
func (d *runData) runMix() []data.SourceSpec {
	if d.SoupRunning && !d.soupFinal && d.mixBeforeSoup != nil {
		return d.mixBeforeSoup
	}
	return d.Mix
}

// annealStarting is the step the run's anneal is starting at, or -1: with
// eval.at_anneal the lab evaluates first and then anneals, so from the
// "evaluating (before anneal)" event until the anneal's own event (seconds
// later, after the evaluation) the run is still in stage 1 by its events,
// but its anneal is under way.
func (d *runData) annealStarting() int64 {
	switch {
	case d.Phase != "stage1":
		return -1
	case d.Busy == "evaluating ("+beforeAnnealEval+")":
		return d.Last.Step
	case d.Eval != nil && d.Eval.Why == beforeAnnealEval && d.Eval.Step == d.Last.Step:
		return d.Eval.Step
	}
	return -1
}

// actionState is the run's lab.ActionState as its events tell it (rec: its
// recipe), for the lab's rule of which actions it takes now.
func (d *runData) actionState(rec *lab.Recipe) lab.ActionState {
	s := lab.ActionState{Phase: d.Phase, Soup: d.soupUnderWay(), Ending: d.Busy == "evaluating ("+finalEval+")"}
	if d.soupPastItsSteps() && !d.soupAsked {
		if d.soupFinal {
			s.Ending = true // the run ends with the soup: the lab answers that it has ended
		} else {
			s.Phase, s.Soup = cmp.Or(d.soupFrom, "stage1"), false // answered after the soup, back in that phase
		}
	}
	if step := d.annealStarting(); step >= 0 {
		s.AnnealStarting, s.Step = true, step
	}
	if rec == nil || !rec.Eval.Any() {
		s.NoEval = lab.NothingToEvaluate
	}
	return s
}

// evalSnapshot is the latest evaluation of a run.
type evalSnapshot struct {
	Step   int64
	Why    string
	Scores []lab.EvalScore
}

// runData is everything the dashboard shows about one run. It is built the same
// way live (from the run's event queue) and when reopened (from the run
// directory's JSONL files), so both show the same picture.
type runData struct {
	Name, Dir string
	Recipe    *lab.Recipe

	Main        curve
	Ingredients []*curve // soup ingredients, in the order they started
	Markers     []marker

	Last        lab.Event // the latest step event of the run itself
	LastIng     lab.Event // the latest step event of a soup ingredient
	Phase       string
	State       string // running, paused, finished, stopped, failed, diverged, interrupted, crashed, headless
	Ended       bool
	TotalTokens int64
	Mix         []data.SourceSpec
	Eval        *evalSnapshot // the run's own latest evaluation, as the evaluation view shows
	SoupEval    *evalSnapshot // the latest soup's: the run's own if the run ends with that soup
	Summary     *lab.RunSummary
	Soups       []*lab.SoupReport
	Checkpoint  string
	CkptStep    int64 // the step Checkpoint was written at (0: none yet)
	// CkptBefore names what changed the run at CkptStep after its
	// checkpoint ("its anneal", "its mix switch"): the lab then writes that
	// step's checkpoint again when one is asked for ("" when none did)
	CkptBefore  string
	Message     string // the latest event worth a line
	MessageKind lab.EventKind
	MessageTime time.Time
	SpikeSteps  []spikeStep // the flagged steps in order, for the spikes line
	SoupRunning bool        // between "soup starting" (or "soup:") and "soup done" (or "soup stopped")
	Busy        string      // what the run is doing between steps: "evaluating (why)", "writing a checkpoint"
	BusySince   time.Time   // when it started

	// A report of what a person asked for (a phase change, a checkpoint or
	// an evaluation on request, a warning: the lab's answer to an action
	// that changes nothing) stays on the message line until pinUntil
	// against routine news (an interval evaluation or checkpoint, and the
	// "evaluating…" before it): at 50 steps a second the checkpoint's path
	// was replaced within a second.
	pinUntil        time.Time
	awaitCheckpoint bool              // a checkpoint was asked for: the next checkpoint event reports it
	soupWentOn      bool              // the last soup done said the run went on with its own weights
	soupGen         int               // counts the soups begun: an ingredient curve is of one (curve.soup)
	soupAsked       bool              // a soup was asked for here: until the lab starts it or refuses it
	soupFinal       bool              // the soup being made is the recipe's, the run's last act
	endedWithSoup   bool              // the recipe's soup is made: the run ends with its weights (its anneals' LR at 0, its mix)
	soupFrom        string            // the phase the soup being made left
	mixBeforeSoup   []data.SourceSpec // the run's mix as the soup being made started

	version   int            // counts applied events, so views can cache what they drew
	tps       lab.Throughput // smoothed over the recent steps: the tok/s shown, MFU beside it, the ETA
	ownTps    lab.Throughput // the same over the run's own steps, without its soups' ingredients'
	firstTime time.Time
	lastTime  time.Time
}

func newRunData(name, dir string, rec *lab.Recipe) *runData {
	d := &runData{Name: name, Dir: dir, Recipe: rec, State: "running", Phase: "stage1", Main: curve{Name: name}}
	if rec != nil {
		d.TotalTokens = rec.PlannedTokens()
		d.Mix = rec.Dataset
		if rec.StartAsAnneal {
			d.Phase = "anneal"
		}
	}
	return d
}

// apply folds one event into the run's picture.
func (d *runData) apply(e lab.Event) {
	d.version++
	if !e.Time.IsZero() {
		if d.firstTime.IsZero() {
			d.firstTime = e.Time
		}
		d.lastTime = e.Time
	}
	switch e.Type {
	case lab.EvEvaluating, lab.EvCheckpointing:
	default:
		d.Busy = "" // every other event means the work announced is over
	}
	switch e.Type {
	case lab.EvStep:
		d.applyStep(e)
	case lab.EvSpike:
		k := markSpikeLoss
		if e.Series == "grad_norm" {
			k = markSpikeGrad
		}
		d.addSpike(e)
		d.Markers = append(d.Markers, marker{Kind: k, Step: e.Step, Tokens: e.Tokens, Text: fmt.Sprintf("%s %.4g (z %.1f)", e.Series, e.Value, e.Z)})
		d.note(e, fmt.Sprintf("spike at step %d: %s %.4g (z = %.1f)", e.Step, e.Series, e.Value, e.Z))
	case lab.EvPhase:
		d.applyPhase(e)
	case lab.EvResumed:
		d.applyResumed(e)
	case lab.EvEvaluating:
		d.Busy, d.BusySince = "evaluating ("+e.Message+")", e.Time
		d.note(e, fmt.Sprintf("evaluating (%s) at step %d…", e.Message, e.Step))
	case lab.EvCheckpointing:
		d.Busy, d.BusySince = "writing a checkpoint", e.Time
		d.note(e, fmt.Sprintf("writing a checkpoint at step %d…", e.Step))
	case lab.EvCheckpoint:
		d.Checkpoint, d.CkptStep, d.CkptBefore = e.Checkpoint, e.Step, ""
		msg := fmt.Sprintf("checkpoint at step %d → %s", e.Step, e.Checkpoint)
		if e.Message != "" { // asked for at a step that had one (lab.CheckpointExists)
			msg += " (" + e.Message + ")"
		}
		d.note(e, msg)
		d.awaitCheckpoint = false
	case lab.EvEval:
		// a soup's ingredients and the soup itself are evaluated as they are
		// made; those scores are not the run's (the runs view lists them
		// under the soup), unless the soup is the run's final model: "soup
		// done" says (applyPhase), as the evaluation view and summary.json
		// count it
		mark := true
		switch snap := (&evalSnapshot{Step: e.Step, Why: e.Message, Scores: e.Evals}); e.Message {
		case soupIngredientEval:
			mark = false
		case soupEval:
			d.SoupEval = snap
			mark = d.soupFinal
		default:
			d.Eval = snap
		}
		// the run's chart marks the run's evaluations: the soup's
		// ingredients' and a side soup's are of other weights, recorded
		// at the soup's step, where with the one before the soup they read
		// "ESE2"; the recipe's soup is the run's final model
		if mark {
			d.Markers = append(d.Markers, marker{Kind: markEval, Step: e.Step, Tokens: e.Tokens, Text: e.Message})
		}
		d.note(e, fmt.Sprintf("evaluation (%s) at step %d", e.Message, e.Step))
	case lab.EvWarning:
		if e.RefusedAction() == lab.ActSoup {
			d.soupAsked = false // the lab's answer: no soup
		}
		d.note(e, "warning: "+e.Message)
	case lab.EvError:
		if e.Kind() == lab.ChangeStepSkipped {
			d.Markers = append(d.Markers, marker{Kind: markSkipped, Step: e.Step, Tokens: e.Tokens, Text: e.Message})
		}
		d.note(e, "error: "+e.Message)
	case lab.EvDone:
		d.soupAsked = false
		d.State = e.State
		if d.State == "" {
			d.State = "finished"
		}
		d.Ended = true
		d.Summary = e.Summary
		if s := e.Summary; s != nil && s.State == "finished" && s.Soup != nil && s.Soup.FromStep == s.Steps && !d.soupWentOn && d.SoupEval != nil {
			// a run from before the soup report said final: it finished at
			// its soup's step, so with the soup's weights, unless the soup
			// said the run went on (lab.EndedWithSoup)
			d.Eval = d.SoupEval
		}
		msg := fmt.Sprintf("run %s at step %d", d.State, e.Step)
		if e.Message != "" && e.Message != d.State {
			msg += ": " + e.Message
		}
		if resumable(d.State) {
			msg += "; continue it with: olmolab --batch --resume " + d.Dir
		}
		d.note(e, msg)
	}
}

// resumable says whether a run that ended in state has something for
// `olmolab --batch --resume` to continue: a stopped or interrupted one
// (a finished one has not: the resume says so and does nothing).
func resumable(state string) bool { return state == "stopped" || state == "interrupted" }

// endStep is the step the run ended at: its summary's, else its last step's.
func (d *runData) endStep() int64 {
	if d.Summary != nil {
		return d.Summary.Steps
	}
	return d.Last.Step
}

func (d *runData) note(e lab.Event, msg string) {
	if d.routine(e) && e.Time.Before(d.pinUntil) {
		return
	}
	d.Message, d.MessageKind, d.MessageTime = msg, e.Type, e.Time
	if e.Type == lab.EvPhase || e.Type == lab.EvCheckpoint || e.Type == lab.EvEval || e.Type == lab.EvWarning {
		// the routine ones returned above or are not pinned: only reports
		d.pinUntil = time.Time{}
		if !d.routine(e) {
			d.pinUntil = e.Time.Add(pinFor)
		}
	}
}

// pinFor is how long a report of an action stays against routine news.
const pinFor = 10 * time.Second

// routine says whether an event is news the run makes on its own, which
// does not replace the report of an action on the message line: an
// evaluation or a checkpoint not asked for, and the announcements before
// them (the status line says those too).
func (d *runData) routine(e lab.Event) bool {
	// the start of an evaluation or a checkpoint asked for is the first
	// answer to the action: a report pinned before it kept the line on
	// "eval requested: it applies at the next step boundary" while the
	// status said it was evaluating
	switch e.Type {
	case lab.EvEvaluating, lab.EvEval:
		return e.Message != "requested"
	case lab.EvCheckpointing, lab.EvCheckpoint:
		return !d.awaitCheckpoint
	}
	return false
}

func (d *runData) applyStep(e lab.Event) {
	p := stepPoint{Step: e.Step, Tokens: e.Tokens, Loss: e.Loss, Grad: e.GradNorm, LR: e.LR, Skipped: e.Skipped}
	if e.Skipped {
		p.Loss, p.Grad = math.NaN(), math.NaN()
	}
	if name, _, _, ok := e.SoupIngredient(); ok {
		// a soup ingredient (its field, or in a run written before it, a
		// step of "<run>/<ingredient>"): its own curve, continuing from the
		// soup's base step. The run's own events are not, and their name may
		// not be the directory's (a run directory renamed).
		// every soup's ingredients have the same names: a curve is of one
		// soup's (soupGen), or a second soup's steps join the first's
		var c *curve
		for _, x := range d.Ingredients {
			if x.Name == name && x.soup == d.soupGen {
				c = x
			}
		}
		if c == nil {
			c = &curve{Name: name, soup: d.soupGen}
			d.Ingredients = append(d.Ingredients, c)
		}
		c.add(p)
		d.Phase = e.Phase
		d.LastIng = e
		d.tps.Add(e.TokensPerSec) // the same model and batch: the run's rate
		return
	}
	if d.Ended {
		// steps after a done event without a resumed event (files written
		// before the lab announced resumes): the run was resumed
		d.Ended = false
		d.Markers = append(d.Markers, marker{Kind: markResume, Step: e.Step - 1, Tokens: d.Main.lastTokens(), Text: "resumed from checkpoint"})
	}
	if d.State != "paused" {
		d.State = "running"
	}
	// a resumed run rewrites its files from the checkpoint on: drop what it replaces
	d.Main.dropAfter(e.Step - 1)
	d.Main.add(p)
	d.Last = e
	d.Phase = e.Phase
	if e.TotalTokens > 0 {
		d.TotalTokens = e.TotalTokens
	}
	d.tps.Add(e.TokensPerSec)
	d.ownTps.Add(e.TokensPerSec)
}

// applyResumed: the run continues from a checkpoint, so the steps after it
// (a killed run's last ones) are gone from its files and from the chart.
func (d *runData) applyResumed(e lab.Event) {
	d.Ended = false
	d.State = "running"
	d.Main.dropAfter(e.Step)
	if e.Phase != "" {
		d.Phase = e.Phase
	}
	if e.TotalTokens > 0 {
		d.TotalTokens = e.TotalTokens
	}
	if len(e.Mix) > 0 {
		d.Mix = e.Mix
	}
	if e.Checkpoint != "" {
		// the resumed step has that checkpoint (a later one the files held
		// is gone or not resumed from): c there is answered with it
		d.Checkpoint, d.CkptStep, d.CkptBefore = e.Checkpoint, e.Step, ""
	}
	d.SoupRunning, d.soupAsked, d.LastIng, d.endedWithSoup = false, false, lab.Event{}, false
	d.Markers = append(d.Markers, marker{Kind: markResume, Step: e.Step, Tokens: e.Tokens, Text: "resumed " + e.Message})
	d.note(e, fmt.Sprintf("resumed at step %d %s", e.Step, e.Message))
}

// spikeStep is a step the lab flagged (lab.EvSpike), each series apart: the
// lab sends a step's loss flag and then its grad norm's as two events.
type spikeStep struct {
	Step        int64
	Loss, LossZ float64 // LossZ 0: the loss was not flagged at this step
	Grad, GradZ float64 // likewise the grad norm
}

// addSpike folds a spike event into the step it flags.
func (d *runData) addSpike(e lab.Event) {
	if n := len(d.SpikeSteps); n == 0 || d.SpikeSteps[n-1].Step != e.Step {
		d.SpikeSteps = append(d.SpikeSteps, spikeStep{Step: e.Step})
	}
	s := &d.SpikeSteps[len(d.SpikeSteps)-1]
	if e.Series == "grad_norm" {
		s.Grad, s.GradZ = e.Value, e.Z
	} else {
		s.Loss, s.LossZ = e.Value, e.Z
	}
}

// tokensPerSec is the smoothed throughput.
func (d *runData) tokensPerSec() float64 { return d.tps.TokensPerSec() }

func (d *runData) applyPhase(e lab.Event) {
	// what changed: the event's field, or the wording in a run written
	// before it (lab.Event.Kind)
	kind := e.Kind()
	if kind == lab.ChangeSoup && !d.SoupRunning {
		// no announcement before it (a run written before the lab made one)
		d.soupFrom, d.mixBeforeSoup = d.Phase, d.Mix
	}
	if (kind == lab.ChangeSoupStarting || kind == lab.ChangeSoup) && !d.SoupRunning {
		d.soupGen++ // a new soup: its ingredients' curves are its own
	}
	// the recipe's soup ends the run on its mix: its "soup done" named
	// the run's stage-1 mix, which the run no longer trains on
	endsWithSoup := kind == lab.ChangeSoupDone && e.Soup != nil && !e.SideSoup()
	if len(e.Mix) > 0 && !endsWithSoup {
		d.Mix = e.Mix
	}
	if e.TotalTokens > 0 {
		d.TotalTokens = e.TotalTokens
	}
	if e.Phase != "" && kind != lab.ChangeSoupIngredient {
		// an ingredient's "soup i/k" is the ingredient's phase, its steps'
		d.Phase = e.Phase
	}
	msg := e.Message
	add := func(k markKind) {
		d.Markers = append(d.Markers, marker{Kind: k, Step: e.Step, Tokens: e.Tokens, Text: msg})
	}
	// the lab's report says where an action landed: the dialog could only say
	// "at the first step boundary after you confirm"
	switch kind {
	case lab.ChangePaused:
		d.State = "paused"
		add(markPause)
		msg = fmt.Sprintf("paused after step %d", e.Step)
	case lab.ChangeResumed:
		d.State = "running"
		add(markResume)
		msg = fmt.Sprintf("resumed after step %d", e.Step)
	case lab.ChangeAnneal:
		add(markAnneal)
		d.changedAfterCheckpoint(e.Step, "its anneal")
		// where it really starts and ends: the anneal dialog could only say
		// "from the step boundary after you confirm"
		if ts := d.totalSteps(); ts > 0 && e.TotalTokens > 0 {
			msg += fmt.Sprintf(", from step %d: the run ends at step %d, %s tokens", e.Step, ts, lab.HumanCount(e.TotalTokens))
		}
	case lab.ChangeMix:
		add(markMix)
		d.changedAfterCheckpoint(e.Step, "its mix switch")
		if len(e.Mix) > 0 {
			msg += fmt.Sprintf(" after step %d: %s", e.Step, mixLine(e.Mix))
		}
	case lab.ChangeSoupDone, lab.ChangeSoupStopped:
		// the phase is the event's: the one the run returns to after a soup
		// made on request, "soup" after the recipe's final soup
		if e.Soup != nil {
			d.Soups = append(d.Soups, e.Soup)
			d.soupWentOn = e.SideSoup()
			if e.Soup.Final && d.SoupEval != nil {
				d.Eval = d.SoupEval
			}
			if !e.Soup.Final && d.SoupEval != nil {
				// the evaluation line keeps the run's scores: say where the
				// soup's are, first, where 80 columns show it
				msg = "soup done, its scores in the runs view: " + strings.TrimPrefix(msg, "soup done: ")
			}
		}
		if kind == lab.ChangeSoupStopped && len(e.Mix) == 0 && d.mixBeforeSoup != nil {
			// the run ends at the checkpoint the soup started from, on
			// the mix it had there; the event names none
			d.Mix = d.mixBeforeSoup
		}
		d.LastIng = lab.Event{}
		d.SoupRunning = false
		d.endedWithSoup = endsWithSoup
		if endsWithSoup && e.Soup.FromTokens > 0 {
			// the run's own training ended where the soup started (a
			// run written before the lab planned it so said max_tokens)
			d.TotalTokens = e.Soup.FromTokens
		}
	case lab.ChangeSoupStarting:
		// the lab takes only pause, resume and stop from here, while it
		// writes the soup's checkpoint and evaluates before it
		d.SoupRunning, d.soupAsked = true, false
		d.soupFinal, d.soupFrom, d.mixBeforeSoup = !e.SideSoup(), d.Phase, d.Mix
	case lab.ChangeSoup:
		d.SoupRunning, d.soupAsked = true, false
		add(markSoup)
	}
	d.note(e, msg)
}

// changedAfterCheckpoint notes that what (an anneal, a mix switch) changed
// the run at step after that step's checkpoint: the checkpoint holds the run
// before it, and the lab writes the step's checkpoint again when asked.
func (d *runData) changedAfterCheckpoint(step int64, what string) {
	if d.CkptStep == step && step > 0 {
		d.CkptBefore = what
	}
}

// checkpointAt says whether step's checkpoint is written and holds the run as
// it is now: a checkpoint asked for there writes nothing (the lab answers
// with its path).
func (d *runData) checkpointAt(step int64) bool {
	return step > 0 && d.CkptStep == step && d.CkptBefore == ""
}

// displayState is the state word the header shows: a running run in its
// anneal or soup says so.
func (d *runData) displayState() string {
	if d.State == "running" {
		switch {
		case d.Phase == "anneal":
			return "annealing"
		case d.SoupRunning:
			return "soup"
		}
	}
	return d.State
}

// eta estimates the time to the run's end from the smoothed throughput; a
// paused run has none.
func (d *runData) eta() (time.Duration, bool) {
	active := d.State == "running" || d.State == "headless"
	if d.Ended || !active || d.TotalTokens <= 0 {
		return 0, false
	}
	if d.SoupRunning && d.LastIng.Type == lab.EvStep {
		// the soup's ingredients left, and after a side soup the run's
		// own steps (lab.Event.Left)
		return d.tps.Left(d.LastIng.Left())
	}
	if d.Last.TotalTokens != d.TotalTokens {
		// an anneal since the last step moved the run's end (and
		// called off the recipe's soup)
		return d.tps.Left(d.TotalTokens - d.Last.Tokens)
	}
	return d.tps.Left(d.Last.Left())
}

// totalSteps is the step the run ends at, from its token budget.
func (d *runData) totalSteps() int64 {
	if d.Recipe == nil || d.Recipe.GlobalBatchSize <= 0 || d.TotalTokens <= 0 {
		return 0
	}
	gb := int64(d.Recipe.GlobalBatchSize)
	return (d.TotalTokens + gb - 1) / gb
}

// activeMix is the mix without sources switched off (ratio 0), largest first.
func activeMix(mix []data.SourceSpec) []data.SourceSpec {
	var out []data.SourceSpec
	sum := 0.0
	for _, s := range mix {
		if s.TargetRatio > 0 {
			out = append(out, s)
			sum += s.TargetRatio
		}
	}
	for i := range out {
		out[i].TargetRatio /= sum
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TargetRatio > out[j].TargetRatio })
	return out
}
