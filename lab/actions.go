package lab

import (
	"fmt"
	"strings"

	"github.com/olmolab/olmolab/lab/plural"
)

// ActionState is what decides whether a run takes an action: the one rule
// (WhyNot) by which the run answers actions between its steps, and by which
// a front end, which knows the run from its events, decides which to offer.
type ActionState struct {
	// Phase is the run's phase: "stage1", "anneal", or a soup's ("soup",
	// "soup 2/3").
	Phase string
	// Soup: a soup is being made, from its announcement ("soup starting",
	// before its checkpoint and the evaluation before it, eval.at_anneal) to
	// its last ingredient's last step. An action that comes after that step
	// waits for the soup's last evaluations and is answered at the run's
	// next step boundary: after a side soup, in the phase the soup left;
	// after the recipe's soup, the run has ended (Ending with Soup).
	Soup bool
	// AnnealStarting: the recipe's anneal starts at step Step, and the
	// evaluation before it (eval.at_anneal) is being made; the run is still
	// in stage 1 by its events, but the anneal follows the evaluation at
	// once.
	AnnealStarting bool
	Step           int64
	// Ending: the run's final evaluation is being made, after which the run
	// writes its last checkpoint and ends; with Soup, the recipe's soup (the
	// run's last act) is past its last ingredient's last step.
	Ending bool
	// NoEval says why the run has nothing to evaluate; "" when it has.
	NoEval string
}

// ending is WhyNot's answer during the final evaluation; endingWithSoup
// during the recipe's soup's last evaluations.
const (
	ending         = "the run is ending (its final evaluation, then its last checkpoint)"
	endingWithSoup = "the run is ending (its soup's last evaluations; it ends with the soup's weights)"
)

// WhyNot says why the run does not take an action of kind k now, or "" when
// it does. An anneal or a soup (K anneals from one stage-1 checkpoint) starts
// from stage 1 only: not while the run anneals, nor while its recipe's anneal
// starts, nor while a soup is made, which takes only pause, resume and stop.
// During the final evaluation the run takes nothing: it ends after it.
//
// Whatever WhyNot refuses, the run answers with a warning naming the action
// and this reason; a front end that offers only what WhyNot allows is never
// answered so (the run may still answer an action that would change nothing,
// such as a pause while paused).
func (s ActionState) WhyNot(k ActionKind) string {
	soup := s.Soup || strings.HasPrefix(s.Phase, "soup")
	if s.Ending {
		if soup {
			return endingWithSoup
		}
		return ending
	}
	switch k {
	case ActPause, ActResume, ActStop:
		return ""
	case ActAnneal, ActSoup:
		switch {
		case soup:
		case s.Phase == "anneal":
			return "the run is annealing already"
		case s.AnnealStarting:
			return fmt.Sprintf("the run's anneal starts at step %d (evaluated before it first)", s.Step)
		case s.Phase != "stage1":
			return "the run is in its " + s.Phase + " phase, not stage 1"
		}
	case ActEval:
		if !soup {
			return s.NoEval
		}
	}
	if soup {
		return "a soup is being made (only pause, resume and stop apply)"
	}
	return ""
}

// PlannedSoup describes the soup rec plans as the run's last act, made from
// stage 1 at anneal.auto_at or at max_tokens ("3 ingredients at
// anneal.auto_at, 200.0K tokens"), or "" when it plans none (or makes it from
// load_path, a stage-2 recipe, before any action). An anneal asked for
// before it means it is never made: the run then ends with that anneal.
func (rec *Recipe) PlannedSoup() string {
	if rec == nil || rec.Soup.Ingredients <= 0 || rec.StartAsAnneal {
		return ""
	}
	at := fmt.Sprintf("max_tokens, %s tokens", HumanCount(rec.MaxTokens))
	if rec.Anneal.AutoAt > 0 {
		at = fmt.Sprintf("anneal.auto_at, %s tokens", HumanCount(rec.Anneal.AutoAt))
	}
	return fmt.Sprintf("%s at %s", plural.N(rec.Soup.Ingredients, "ingredient"), at)
}

// refusal is the warning that answers an action WhyNot refuses.
func refusal(k ActionKind, why string) string {
	return fmt.Sprintf("%s: %s; nothing done", k.verb(), why)
}

// verb names the action as the run's answers do ("switch mix", "evaluate").
func (k ActionKind) verb() string {
	if k == ActEval {
		return "evaluate"
	}
	return strings.ReplaceAll(string(k), "_", " ")
}

// actionState is the run's ActionState between its steps.
func (r *Run) actionState() ActionState {
	s := ActionState{Phase: r.st.Phase, Step: r.st.Step}
	if !r.canEvaluate() {
		s.NoEval = r.noEvalReason()
	}
	return s
}

// refuse answers a with a warning when s refuses it, and says whether it did.
func (r *Run) refuse(a Action, s ActionState) bool {
	why := s.WhyNot(a.Kind)
	if why == "" {
		return false
	}
	if a.Kind == ActAnneal && s.Phase == "anneal" && !s.Ending {
		why += fmt.Sprintf(", from %s to %s tokens", HumanCount(r.st.AnnealStart), HumanCount(r.st.TotalTokens))
	}
	r.emit(Event{Type: EvWarning, Refused: a.Kind, Message: refusal(a.Kind, why)})
	return true
}
