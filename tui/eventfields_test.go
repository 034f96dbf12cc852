package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab"
)

// reworded gives a soup's events as soupEvents makes them the fields the lab
// writes (change, soup_kind, soup_step, ingredient) and messages in words the
// TUI never parsed: what it does must follow the fields.
func reworded(evs []lab.Event, final bool) []lab.Event {
	kind := lab.SoupSide
	if final {
		kind = lab.SoupPlanned
	}
	out := slices.Clone(evs)
	for i := range out {
		e := &out[i]
		if e.Type != lab.EvPhase {
			continue
		}
		e.SoupStep, e.SoupKind = 40, kind
		switch {
		case strings.HasPrefix(e.Message, lab.SoupStarting):
			e.Change = lab.ChangeSoupStarting
		case strings.HasPrefix(e.Message, "soup:"):
			e.Change = lab.ChangeSoup
		default:
			e.Change, e.Ingredient = lab.ChangeSoupIngredient, "ingredient-1-seed-8"
		}
		e.Message = fmt.Sprintf("[%s] said otherwise", e.Change)
	}
	return out
}

// TestSoupReadFromTheEventFields: the TUI told a soup's start, whether it
// is the recipe's or a side job, its end, a refused soup and a skipped step
// by the wording of the lab's messages; it reads the events' fields now, so
// a rewording changes nothing (the wording is read only in runs written
// before the fields: TestRunBeforeTheEventFields).
func TestSoupReadFromTheEventFields(t *testing.T) {
	name := "quickstart-test"
	for _, final := range []bool{false, true} {
		m, f := liveModel(t, testOptions(t, 120, 40), stage1Events(name))
		evs := reworded(soupEvents(f.rec, name, final, 2), final)
		m.Update(runEventsMsg{gen: m.liveGen, events: evs[:2]}) // announced, its checkpoint being written
		if on := keysOn(m); on != "space X" {
			t.Errorf("final %v: keys on once the soup is announced: %q, want pause and stop", final, on)
		}
		if m.liveData.soupFinal != final {
			t.Errorf("final %v: taken for the recipe's soup: %v", final, m.liveData.soupFinal)
		}
		m.Update(runEventsMsg{gen: m.liveGen, events: evs[2:]})
		if !slices.ContainsFunc(m.liveData.Markers, func(mk marker) bool { return mk.Kind == markSoup && mk.Step == 40 }) {
			t.Errorf("final %v: no soup marker at step 40", final)
		}
		rep := &lab.SoupReport{FromStep: 40, Final: final}
		done := lab.Event{Type: lab.EvPhase, Time: evs[len(evs)-1].Time.Add(time.Second), Run: name, Step: 40, Phase: "stage1",
			Change: lab.ChangeSoupDone, SoupStep: 40, SoupKind: evs[0].SoupKind, Soup: rep, Message: "made the soup"}
		m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{done}})
		if m.liveData.SoupRunning || m.liveData.soupWentOn != !final {
			t.Errorf("final %v: after the soup: running %v, the run went on %v", final, m.liveData.SoupRunning, m.liveData.soupWentOn)
		}
	}

	// a soup asked for and refused, in other words
	m, _ := liveModel(t, testOptions(t, 120, 40), stage1Events(name))
	press(m, "s", "enter")
	if on := keysOn(m); on != "space X" {
		t.Fatalf("keys on once a soup is asked for: %q", on)
	}
	refused := lab.Event{Type: lab.EvWarning, Time: t0.Add(6 * time.Second), Run: name, Step: 41, Refused: lab.ActSoup, Message: "no soup now: one from step 41 exists"}
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{refused}})
	if on := keysOn(m); on != "a m s c v space X" {
		t.Errorf("keys on once the soup is refused: %q, want all", on)
	}
	// a skipped step, in other words; and an error that only says "skipped"
	skip := lab.Event{Type: lab.EvError, Time: t0.Add(7 * time.Second), Run: name, Step: 42, Change: lab.ChangeStepSkipped, Message: "step 42: not finite, left out"}
	other := lab.Event{Type: lab.EvError, Time: t0.Add(8 * time.Second), Run: name, Step: 43, Change: lab.ChangeIngredientDropped, Ingredient: "ingredient-1-seed-8", Message: "soup: ingredient-1-seed-8 skipped"}
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{skip, other}})
	var skipped []int64
	for _, mk := range m.liveData.Markers {
		if mk.Kind == markSkipped {
			skipped = append(skipped, mk.Step)
		}
	}
	if !slices.Equal(skipped, []int64{42}) {
		t.Errorf("skipped-step markers at %v, want one at 42", skipped)
	}
}

// TestRunBeforeTheEventFields: a run written before the events had their
// fields (lab/testdata/run-before-event-fields: a skipped step, a side
// soup asked for while paused, a mix switch, the recipe's soup with an
// ingredient dropped) reads as the same run written with them.
func TestRunBeforeTheEventFields(t *testing.T) {
	src := filepath.Join(pkgDir, "..", "lab", "testdata", "run-before-event-fields")
	old, _, err := replayRun(src, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run-before-event-fields")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(pkgDir, "..", "lab", "testdata", "run-before-event-fields.events-with-fields.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, lab.EventsFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	now, _, err := replayRun(dir, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	type picture struct {
		Markers                          []string
		Soups                            []int64
		WentOn, Final, Running, Asked    bool
		State, Phase, Message, SoupFrom  string
		EvalStep, SoupEvalStep, CkptStep int64
	}
	pic := func(d *runData) picture {
		p := picture{WentOn: d.soupWentOn, Final: d.soupFinal, Running: d.SoupRunning, Asked: d.soupAsked,
			State: d.State, Phase: d.Phase, Message: d.Message, SoupFrom: d.soupFrom, CkptStep: d.CkptStep}
		for _, mk := range d.Markers {
			p.Markers = append(p.Markers, fmt.Sprintf("%v@%d", mk.Kind, mk.Step))
		}
		for _, s := range d.Soups {
			p.Soups = append(p.Soups, s.FromStep)
		}
		if d.Eval != nil {
			p.EvalStep = d.Eval.Step
		}
		if d.SoupEval != nil {
			p.SoupEvalStep = d.SoupEval.Step
		}
		return p
	}
	o, n := pic(old), pic(now)
	if fmt.Sprint(o) != fmt.Sprint(n) {
		t.Fatalf("read by its wording:\n%+v\nby its fields:\n%+v", o, n)
	}
	// and what it shows is the run: the skipped step, the soups' and the
	// mix switch's markers, the recipe's soup last
	for _, want := range []string{fmt.Sprintf("%v@3", markSkipped), fmt.Sprintf("%v@4", markSoup), fmt.Sprintf("%v@5", markMix), fmt.Sprintf("%v@10", markSoup),
		fmt.Sprintf("%v@4", markPause), fmt.Sprintf("%v@4", markResume)} {
		if !slices.Contains(o.Markers, want) {
			t.Errorf("no marker %s in %v", want, o.Markers)
		}
	}
	if !slices.Equal(o.Soups, []int64{4, 10}) || o.WentOn || !o.Final || o.State != "finished" || o.EvalStep != 10 {
		t.Errorf("read by its wording: %+v", o)
	}
}

// TestSoupIngredientReadFromItsFields: which ingredient a soup's step is of,
// and whether it is the last (after whose last step the lab takes the run's
// actions again), came from the step's run "<run>/<ingredient>" and its
// phase "soup i/k"; the TUI reads the fields (ingredient, soup_index,
// soup_of), so a phase worded otherwise changes nothing.
func TestSoupIngredientReadFromItsFields(t *testing.T) {
	name := "quickstart-test"
	m, f := liveModel(t, testOptions(t, 120, 40), stage1Events(name))
	evs := soupEvents(f.rec, name, false, 4)
	for i := range evs {
		e := &evs[i]
		if e.Phase != "soup 1/1" {
			continue
		}
		e.Ingredient, e.SoupIndex, e.SoupOf, e.Phase = "ingredient-1-seed-8", 1, 1, "anneal of ingredient 1 of 1"
		if e.Type == lab.EvPhase {
			e.Change = lab.ChangeSoupIngredient
		}
	}
	m.Update(runEventsMsg{gen: m.liveGen, events: evs[:len(evs)-1]})
	if on := keysOn(m); on != "space X" {
		t.Errorf("keys on before the soup's last step: %q, want pause and stop", on)
	}
	if d := m.liveData; len(d.Ingredients) != 1 || d.Ingredients[0].Name != "ingredient-1-seed-8" || d.Ingredients[0].len() != 3 {
		t.Errorf("ingredient curves %+v, want ingredient-1-seed-8's 3 steps", d.Ingredients)
	}
	if status := lineWith(screen(m), "│ ETA"); !strings.Contains(status, "anneal of ingredient 1 of 1") {
		t.Errorf("status %q, want the ingredient's phase", status)
	}
	m.Update(runEventsMsg{gen: m.liveGen, events: evs[len(evs)-1:]})
	if on := keysOn(m); on != "a m c v space X" {
		t.Errorf("keys on after the side soup's last ingredient's last step: %q, want all but s", on)
	}
}
