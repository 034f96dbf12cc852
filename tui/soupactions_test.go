package tui

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/olmolab/olmolab/lab"
)

// soupEvents are a soup of one ingredient of 4 steps from step 40 as the
// lab publishes them up to its ingredient's step last (1–4): its
// announcement (final: the recipe's soup), the checkpoint, the soup's own
// event and the ingredient's steps.
func soupEvents(rec *lab.Recipe, name string, final bool, last int64) []lab.Event {
	at := func(i int64) time.Time { return t0.Add(5*time.Second + time.Duration(i)*time.Millisecond) }
	then := "then stage1 goes on from step 40 with the run's own weights"
	if final {
		then = "the run ends with the soup"
	}
	ck := filepath.Join("runs", name, lab.CkptDir, "step-40")
	evs := []lab.Event{
		{Type: lab.EvPhase, Time: at(0), Run: name, Step: 40, Tokens: 40 * testGB, Phase: "stage1",
			Message: fmt.Sprintf("%s from step 40: 1 anneals of 8192 tokens after its step's checkpoint; %s", lab.SoupStarting, then)},
		{Type: lab.EvCheckpointing, Time: at(1), Run: name, Step: 40, Tokens: 40 * testGB, Phase: "stage1", Checkpoint: ck},
		{Type: lab.EvCheckpoint, Time: at(2), Run: name, Step: 40, Tokens: 40 * testGB, Phase: "stage1", Checkpoint: ck},
		{Type: lab.EvPhase, Time: at(3), Run: name, Step: 40, Tokens: 40 * testGB, Phase: "soup", Mix: rec.Anneal.Mix,
			Message: "soup: 1 anneals of 8192 tokens from step 40 (" + ck + "), LR 0.003 → 0"},
		{Type: lab.EvPhase, Time: at(4), Run: name, Step: 40, Tokens: 40 * testGB, Phase: "soup 1/1", Message: "soup 1/1: anneal with data-order seed 8"},
	}
	for k := int64(1); k <= last; k++ {
		e := stepEvent(name+"/ingredient-1-seed-8", 40+k, "soup 1/1", 44*testGB)
		e.Time = at(4 + k)
		evs = append(evs, e)
	}
	return evs
}

// keysOn says which action keys are on, as "a m s c v space X".
func keysOn(m *Model) string {
	k := m.keys
	var on []string
	for _, b := range []struct {
		name string
		on   bool
	}{{"a", k.Anneal.Enabled()}, {"m", k.Mix.Enabled()}, {"s", k.Soup.Enabled()}, {"c", k.Checkpoint.Enabled()},
		{"v", k.Evaluate.Enabled()}, {"space", k.Pause.Enabled()}, {"X", k.Stop.Enabled()}} {
		if b.on {
			on = append(on, b.name)
		}
	}
	return strings.Join(on, " ")
}

func flatDialog(t *testing.T, m *Model) string {
	t.Helper()
	return strings.Join(strings.Fields(dialogText(t, m)), " ")
}

// TestActionsOffFromTheSoupsAnnouncement: the lab takes only pause, resume
// and stop from a soup's announcement on, while it writes the soup's
// checkpoint (and evaluates before it): the TUI still saw stage 1 then, and
// offered what the lab refused with a warning. Likewise once a soup is asked
// for here, what is sent after it waits behind it and meets the soup; until
// the lab's answer (the soup refused: the keys are back).
func TestActionsOffFromTheSoupsAnnouncement(t *testing.T) {
	name := "quickstart-test"
	m, f := liveModel(t, testOptions(t, 120, 40), stage1Events(name))
	press(m, "m")
	m.Update(runEventsMsg{gen: m.liveGen, events: soupEvents(f.rec, name, false, 0)[:2]}) // announced, its checkpoint being written
	if s := flatDialog(t, m); !strings.Contains(s, "This no longer applies: a soup is being made (only pause, resume and stop apply).") {
		t.Errorf("the mix dialog does not say a soup is being made:\n%s", s)
	}
	press(m, "enter")
	if len(f.actions) != 0 {
		t.Errorf("enter sent %v", f.actionKinds())
	}
	press(m, "esc")
	if on := keysOn(m); on != "space X" {
		t.Errorf("keys on as the soup's checkpoint is written: %q, want pause and stop", on)
	}

	// a soup asked for here
	m, f = liveModel(t, testOptions(t, 120, 40), stage1Events(name))
	press(m, "s", "enter")
	if !slices.Equal(f.actionKinds(), []lab.ActionKind{lab.ActSoup}) {
		t.Fatalf("sent %v, want a soup", f.actionKinds())
	}
	if on := keysOn(m); on != "space X" {
		t.Errorf("keys on once a soup is asked for: %q, want pause and stop", on)
	}
	refused := lab.Event{Type: lab.EvWarning, Time: t0.Add(6 * time.Second), Run: name, Step: 41, Message: "soup: a soup from step 41 is made already (x); nothing done"}
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{refused}})
	if on := keysOn(m); on != "a m s c v space X" {
		t.Errorf("keys on once the soup is refused: %q, want all", on)
	}
}

// TestActionsAfterTheSoupsLastStep: the lab takes actions between a soup's
// steps; one sent after its last ingredient's last step waits for the
// soup's last evaluations and is answered at the run's next step boundary.
// After a side soup that is back in stage 1, where the lab applies it: the
// TUI refused everything but pause and stop until "soup done". After the
// recipe's soup the run has ended: nothing applies, and quitting waits for
// the end rather than offering a stop.
func TestActionsAfterTheSoupsLastStep(t *testing.T) {
	name := "quickstart-test"
	o := testOptions(t, 120, 40)
	o.Detach = func(string) (int, error) { return 4242, nil }
	m, f := liveModel(t, o, stage1Events(name))
	m.Update(runEventsMsg{gen: m.liveGen, events: soupEvents(f.rec, name, false, 3)})
	if on := keysOn(m); on != "space X" {
		t.Errorf("keys on before the soup's last step: %q, want pause and stop", on)
	}
	last := soupEvents(f.rec, name, false, 4)
	m.Update(runEventsMsg{gen: m.liveGen, events: last[len(last)-1:]})
	// a second soup from step 40 the lab refuses (it would overwrite this one)
	if on := keysOn(m); on != "a m c v space X" {
		t.Errorf("keys on after a side soup's last step: %q, want all but s", on)
	}
	press(m, "m")
	if s := flatDialog(t, m); !strings.Contains(s, "Now: "+mixLine(f.rec.Dataset)) {
		t.Errorf("the mix dialog does not give the run's own mix (the soup's is %s):\n%s", mixLine(f.rec.Anneal.Mix), s)
	}
	press(m, "enter")
	if !slices.Equal(f.actionKinds(), []lab.ActionKind{lab.ActSwitchMix}) {
		t.Errorf("sent %v, want the mix switch", f.actionKinds())
	}
	press(m, "X")
	if s := flatDialog(t, m); !strings.Contains(s, "Let the soup finish (its last evaluations), then end the run at step 40") {
		t.Errorf("the stop dialog does not say the soup finishes first:\n%s", s)
	}
	press(m, "esc", "space")
	if s := flatDialog(t, m); !strings.Contains(s, "Pause once the soup is done (its last evaluations), at step 40.") {
		t.Errorf("the pause dialog:\n%s", s)
	}
	press(m, "esc")

	// the recipe's soup: the run ends with it
	m, f = liveModel(t, o, stage1Events(name))
	m.Update(runEventsMsg{gen: m.liveGen, events: soupEvents(f.rec, name, true, 3)})
	press(m, "X")
	m.Update(runEventsMsg{gen: m.liveGen, events: soupEvents(f.rec, name, true, 4)[8:]})
	if s := flatDialog(t, m); !strings.Contains(s, "This no longer applies: the run is ending (its soup's last evaluations; it ends with the soup's weights).") {
		t.Errorf("the stop dialog after the recipe's soup's last step:\n%s", s)
	}
	press(m, "esc")
	if on := keysOn(m); on != "" {
		t.Errorf("keys on after the recipe's soup's last step: %q, want none", on)
	}
	press(m, "q")
	s := flatDialog(t, m)
	for _, w := range []string{"s quit when it has finished: the run is ending (its soup's last evaluations; it ends with the soup's weights)",
		"makes the recipe's soup again from its checkpoint, and finishes the run"} {
		if !strings.Contains(s, w) {
			t.Errorf("the quit dialog misses %q:\n%s", w, s)
		}
	}
	if strings.Contains(s, "stop:") {
		t.Errorf("the quit dialog offers a stop:\n%s", s)
	}
}

// TestQuitDuringTheFinalEvaluation: the run finishes after its final
// evaluation whatever is asked, so the quit dialog offers to quit once it has
// (s), not "stop: write a checkpoint, end the run", and sends no stop, which
// the lab would answer with a warning; detaching cuts the evaluation short
// and the headless process makes it again.
func TestQuitDuringTheFinalEvaluation(t *testing.T) {
	name := "quickstart-test"
	o := testOptions(t, 80, 24)
	o.Detach = func(string) (int, error) { return 4242, nil }
	m, f := liveModel(t, o, stage1Events(name))
	m.liveCancel = func() {}
	final := lab.Event{Type: lab.EvEvaluating, Time: t0.Add(5 * time.Second), Run: name, Step: 40, Phase: "stage1", Message: "final"}
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{final}})
	press(m, "q")
	checkFrame(t, m, 80, 24)
	s := flatDialog(t, m)
	for _, w := range []string{"s quit when it has finished: the run is ending (its final evaluation, then its last checkpoint)",
		"d detach: cut it short and quit; a headless process (olmolab --batch --resume) makes its final evaluation again, and finishes the run"} {
		if !strings.Contains(s, w) {
			t.Errorf("the quit dialog misses %q:\n%s", w, s)
		}
	}
	if strings.Contains(s, "write a checkpoint") {
		t.Errorf("the quit dialog offers a stop:\n%s", s)
	}
	if !strings.Contains(screen(m), "s quit when it has finished") {
		t.Errorf("the key line:\n%s", screen(m))
	}
	press(m, "s")
	if len(f.actions) != 0 {
		t.Errorf("sent %v", f.actionKinds())
	}
	done := lab.Event{Type: lab.EvDone, Time: t0.Add(time.Hour), Run: name, Step: 40, State: "finished", Summary: &lab.RunSummary{State: "finished", Steps: 40}}
	_, cmd := m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{done}, done: true})
	for cmd != nil {
		msg := cmd()
		if _, ok := msg.(tea.QuitMsg); ok {
			break
		}
		_, cmd = m.Update(msg)
	}
	if msg := m.ExitMessage(); !strings.Contains(msg, "finished at step 40; nothing to continue") {
		t.Errorf("exit message %q", msg)
	}
}

// TestAnnealDialogSaysThePlannedSoupIsLost: in a recipe that plans a soup
// (soup.ingredients, made from stage 1 at anneal.auto_at or max_tokens), an
// anneal asked for before it means the soup is never made: the dialog said
// nothing of it.
func TestAnnealDialogSaysThePlannedSoupIsLost(t *testing.T) {
	m, f := liveModel(t, testOptions(t, 120, 40), stage1Events("quickstart-test"))
	press(m, "a")
	const lost = "is then never made: it starts from stage 1, and the run ends with this anneal."
	if s := flatDialog(t, m); strings.Contains(s, lost) {
		t.Errorf("a recipe without a soup:\n%s", s)
	}
	press(m, "esc")
	f.rec.Soup.Ingredients = 3
	press(m, "a")
	if s, w := flatDialog(t, m), "The recipe's soup (3 ingredients at anneal.auto_at, "+lab.HumanCount(f.rec.Anneal.AutoAt)+" tokens) "+lost; !strings.Contains(s, w) {
		t.Errorf("the anneal dialog misses %q:\n%s", w, s)
	}
}

// TestCheckpointDialogAfterAChangeAtItsStep: the lab writes a step's
// checkpoint again when an anneal or a mix switch changed the run at that
// step after it (the checkpoint holds the run before); the dialog said
// "nothing is written" there.
func TestCheckpointDialogAfterAChangeAtItsStep(t *testing.T) {
	name := "quickstart-test"
	at := t0.Add(5 * time.Second)
	ckpt := filepath.Join("runs", name, lab.CkptDir, "step-40")
	checkpoint := lab.Event{Type: lab.EvCheckpoint, Time: at, Run: name, Step: 40, Checkpoint: ckpt}
	anneal := lab.Event{Type: lab.EvPhase, Time: at.Add(time.Second), Run: name, Step: 40, Phase: "anneal", TotalTokens: 60 * testGB,
		Message: "anneal: LR 0.003 → 0 over 40960 tokens"}
	mix := lab.Event{Type: lab.EvPhase, Time: at.Add(time.Second), Run: name, Step: 40, Phase: "stage1", Message: "switched mix"}
	paused := lab.Event{Type: lab.EvPhase, Time: at.Add(2 * time.Second), Run: name, Step: 40, Message: "paused"}
	for _, tc := range []struct {
		name   string
		evs    []lab.Event
		want   []string
		absent string
	}{
		{"paused after an anneal", []lab.Event{checkpoint, anneal, paused},
			[]string{"Write weights, optimizer state and data position to " + ckpt + ", the step the run is paused at", "Its checkpoint there (" + ckpt + ") is from before its anneal: it is written again."}, "Nothing is written"},
		{"paused after a mix switch", []lab.Event{checkpoint, mix, paused},
			[]string{"Its checkpoint there (" + ckpt + ") is from before its mix switch: it is written again."}, "Nothing is written"},
		{"running after an anneal", []lab.Event{checkpoint, anneal},
			[]string{"Step 40, the last drawn, has a checkpoint from before its anneal (" + ckpt + "): should the run still be at that step when this applies, it is written again."}, "nothing is written"},
		{"a checkpoint after the anneal", []lab.Event{anneal, checkpoint, paused},
			[]string{"Step 40, where the run is paused, has its checkpoint already: " + ckpt + ". Nothing is written"}, "written again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := liveModel(t, testOptions(t, 120, 40), append(stage1Events(name), tc.evs...))
			press(m, "c")
			s := flatDialog(t, m)
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("the dialog misses %q:\n%s", w, s)
				}
			}
			if strings.Contains(s, tc.absent) {
				t.Errorf("the dialog says %q:\n%s", tc.absent, s)
			}
		})
	}
}

// TestNoSecondSoupWhilePausedAtOnesStep: paused at the step a soup asked for
// was made from (a pause confirmed during the soup's last evaluations applies
// right after it), s offered a second soup from that step, which the lab
// refuses ("a soup from step 40 is made already": it would overwrite the
// first one's files).
func TestNoSecondSoupWhilePausedAtOnesStep(t *testing.T) {
	name := "quickstart-test"
	m, f := liveModel(t, testOptions(t, 120, 40), stage1Events(name))
	evs := soupEvents(f.rec, name, false, 4)
	at := evs[len(evs)-1].Time.Add(time.Second)
	done := lab.Event{Type: lab.EvPhase, Time: at, Run: name, Step: 40, Tokens: 40 * testGB, Phase: "stage1", Mix: f.rec.Dataset,
		Message: "soup done: 1 ingredients averaged; stage1 goes on from step 40 with the run's own weights",
		Soup:    &lab.SoupReport{Dir: "soups/soup-40", FromStep: 40, FromTokens: 40 * testGB, Tokens: 8192}}
	m.Update(runEventsMsg{gen: m.liveGen, events: append(evs, done)})
	if !m.keys.Soup.Enabled() {
		t.Fatal("s is off after the soup, running")
	}
	press(m, "s")
	paused := lab.Event{Type: lab.EvPhase, Time: at.Add(time.Second), Run: name, Step: 40, Message: "paused"}
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{paused}})
	if s := flatDialog(t, m); !strings.Contains(s, "This no longer applies: a soup from step 40 is made already.") {
		t.Errorf("the soup dialog, paused at the soup's step:\n%s", s)
	}
	press(m, "enter", "esc")
	if len(f.actions) != 0 || m.keys.Soup.Enabled() {
		t.Errorf("sent %v; s on %v", f.actionKinds(), m.keys.Soup.Enabled())
	}
}

// A soup stopped with X (the recipe's or one made with s) ends the run at
// the checkpoint it started from, in the phase it left, on that phase's mix:
// the stopped run's mix bar kept the soup's (its soup_stopped event carries
// no mix), beside "stage1".
func TestSoupStoppedGivesTheRunItsMixBack(t *testing.T) {
	name := "quickstart-test"
	for _, final := range []bool{true, false} {
		m, f := liveModel(t, testOptions(t, 80, 24), stage1Events(name))
		before := mixLine(m.liveData.Mix)
		evs := soupEvents(f.rec, name, final, 2)
		if got := mixLine(activeMix(evs[3].Mix)); got == before {
			t.Fatalf("the soup's mix %s is the run's", got)
		}
		at := evs[len(evs)-1].Time
		kind := lab.SoupSide
		if final {
			kind = lab.SoupPlanned
		}
		evs = append(evs,
			lab.Event{Type: lab.EvPhase, Time: at.Add(time.Millisecond), Run: name, Step: 40, Tokens: 40 * testGB, Phase: "stage1",
				Change: lab.ChangeSoupStopped, SoupStep: 40, SoupKind: kind, Message: "soup stopped after 0 of 1 ingredient; the run ends at its checkpoint of step 40"},
			lab.Event{Type: lab.EvDone, Time: at.Add(2 * time.Millisecond), Run: name, Step: 40, Tokens: 40 * testGB, Phase: "stage1", State: "stopped"})
		m.Update(runEventsMsg{gen: m.liveGen, events: evs, done: true})
		if got := mixLine(m.liveData.Mix); got != before {
			t.Errorf("final %v: the stopped run's mix is %s, want the run's own %s", final, got, before)
		}
	}
}

// TestSoupEvaluationsNotMarkedOnTheRun: the loss chart's E marks the run's
// own evaluations. A soup's ingredients and a side soup are evaluated too,
// recorded at the soup's step: their E's stood beside the one before the
// soup, "ESE2" on the chart where the run was evaluated once. The recipe's
// soup is the run's final model: its evaluation keeps its E.
func TestSoupEvaluationsNotMarkedOnTheRun(t *testing.T) {
	for _, kind := range []string{lab.SoupSide, lab.SoupPlanned} {
		d := newRunData("r", "runs/r", nil)
		at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
		ev := func(i int, why string) lab.Event {
			return lab.Event{Type: lab.EvEval, Time: at(i), Run: "r", Step: 40, Tokens: 40 * testGB, Message: why,
				Evals: []lab.EvalScore{{Task: "arith", Metric: "acc_raw", Value: 0.2, Primary: true}}}
		}
		phase := func(i int, c lab.Change) lab.Event {
			return lab.Event{Type: lab.EvPhase, Time: at(i), Run: "r", Step: 40, Tokens: 40 * testGB, Phase: "stage1", Change: c, SoupStep: 40, SoupKind: kind}
		}
		for _, e := range []lab.Event{stepEvent("r", 40, "stage1", 100*testGB), phase(1, lab.ChangeSoupStarting), ev(2, beforeSoupEval), phase(3, lab.ChangeSoup),
			ev(4, soupIngredientEval), ev(5, soupIngredientEval), ev(6, soupEval)} {
			d.apply(e)
		}
		var marks []string
		for _, mk := range d.Markers {
			marks = append(marks, mk.Kind.glyph())
		}
		want := "E S"
		if kind == lab.SoupPlanned {
			want = "E S E"
		}
		if got := strings.Join(marks, " "); got != want {
			t.Errorf("%s soup: markers %q, want %q", kind, got, want)
		}
	}
}

// After a side soup the run goes on from the step the soup started from,
// and its ingredients had trained past it: the charts' x axis reached the
// ingredients' end, so the run's curve stopped short of the right edge
// until the run passed it. The axis is now the run's own, the ingredients
// drawn as far as it reaches; while a soup is made, and after the recipe's
// soup that ends the run, the axis takes its ingredients in.
func TestSideSoupAxisIsTheRuns(t *testing.T) {
	name := "quickstart-test"
	right := func(m *Model) string { // the loss chart's right x label
		t.Helper()
		clear(m.plots) // a live chart is redrawn once a second at most
		checkFrame(t, m, 80, 24)
		l := lineWith(screen(m), " tokens")
		if l == "" {
			t.Fatalf("no x axis:\n%s", screen(m))
		}
		f := strings.Fields(l)
		return f[len(f)-2]
	}
	for _, final := range []bool{false, true} {
		m, f := liveModel(t, testOptions(t, 80, 24), stage1Events(name))
		evs := soupEvents(f.rec, name, final, 6) // the ingredient to step 46
		m.Update(runEventsMsg{gen: m.liveGen, events: evs})
		if got, want := right(m), shortCount(46*testGB); got != want {
			t.Errorf("final %v, during the soup: axis to %s, want the ingredient's %s", final, got, want)
		}
		kind, phase := lab.SoupSide, "stage1"
		if final {
			kind, phase = lab.SoupPlanned, "soup"
		}
		at := evs[len(evs)-1].Time
		done := lab.Event{Type: lab.EvPhase, Time: at.Add(time.Millisecond), Run: name, Step: 40, Tokens: 40 * testGB, Phase: phase,
			Change: lab.ChangeSoupDone, SoupStep: 40, SoupKind: kind, Message: "soup done: 1 ingredient averaged",
			Soup: &lab.SoupReport{Dir: "soups/soup-40", FromStep: 40, FromTokens: 40 * testGB, Tokens: 6 * testGB, Final: final,
				Ingredients: []lab.SoupComponent{{Name: "ingredient-1-seed-8", Seed: 8}}}}
		next := []lab.Event{done}
		if !final { // the run goes on: two steps of its own
			for s := int64(41); s <= 42; s++ {
				e := stepEvent(name, s, "stage1", 300*testGB)
				e.Time = at.Add(time.Duration(s) * time.Millisecond)
				next = append(next, e)
			}
		}
		m.Update(runEventsMsg{gen: m.liveGen, events: next})
		want := shortCount(42 * testGB) // the run's own last step
		if final {
			want = shortCount(46 * testGB) // the soup is the run's end
		}
		if got := right(m); got != want {
			t.Errorf("final %v, after the soup: axis to %s, want %s:\n%s", final, got, want, screen(m))
		}
	}
}

// Every soup's ingredients have the same names (ingredient-i-seed-s, the
// seeds following the run's), so a second side soup's ingredient steps
// joined the first soup's curves: one curve of two soups' steps, drawn with
// a line from the first soup's end to the second's start (at LR 0 on the
// LR chart, a stretch of training that never was). Each soup's
// ingredients are curves of their own.
func TestSecondSoupIngredientsAreTheirOwnCurves(t *testing.T) {
	name := "quickstart-test"
	m, f := liveModel(t, testOptions(t, 80, 24), stage1Events(name))
	evs := soupEvents(f.rec, name, false, 4) // ingredient steps 41..44
	at := evs[len(evs)-1].Time
	next := func() time.Time { at = at.Add(time.Millisecond); return at }
	evs = append(evs, lab.Event{Type: lab.EvPhase, Time: next(), Run: name, Step: 40, Tokens: 40 * testGB, Phase: "stage1",
		Change: lab.ChangeSoupDone, SoupStep: 40, SoupKind: lab.SoupSide, Message: "soup done: 1 ingredient averaged",
		Soup: &lab.SoupReport{Dir: "soups/soup-40", FromStep: 40, FromTokens: 40 * testGB, Tokens: 4 * testGB}})
	for s := int64(41); s <= 60; s++ {
		e := stepEvent(name, s, "stage1", 300*testGB)
		e.Time = next()
		evs = append(evs, e)
	}
	evs = append(evs,
		lab.Event{Type: lab.EvPhase, Time: next(), Run: name, Step: 60, Tokens: 60 * testGB, Phase: "stage1", Change: lab.ChangeSoupStarting,
			SoupStep: 60, SoupKind: lab.SoupSide, Message: lab.SoupStarting + " from step 60: 1 anneals of 8192 tokens after its step's checkpoint; then stage1 goes on"},
		lab.Event{Type: lab.EvPhase, Time: next(), Run: name, Step: 60, Tokens: 60 * testGB, Phase: "soup", Change: lab.ChangeSoup, SoupStep: 60,
			SoupKind: lab.SoupSide, Message: "soup: 1 anneals of 8192 tokens from step 60, LR 0.003 → 0"})
	for k := int64(1); k <= 4; k++ {
		e := stepEvent(name+"/ingredient-1-seed-8", 60+k, "soup 1/1", 64*testGB)
		e.Time = next()
		evs = append(evs, e)
	}
	m.Update(runEventsMsg{gen: m.liveGen, events: evs})
	ings := m.liveData.Ingredients
	if len(ings) != 2 {
		t.Fatalf("%d ingredient curves, want one per soup", len(ings))
	}
	for i, first := range []int64{41, 61} {
		if c := ings[i]; c.len() != 4 || c.at(0).Step != first || c.at(3).Step != first+3 {
			t.Errorf("curve %d: %d points, steps %d to %d; want 4 from %d", i, c.len(), c.at(0).Step, c.at(c.len()-1).Step, first)
		}
	}
}
