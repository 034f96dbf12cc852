package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestEventJSON: events are written as their fields say, except that a float
// that is not finite is null (encoding/json refuses it, which dropped the line)
// and a step's lr is there even at 0 (an anneal's last step).
func TestEventJSON(t *testing.T) {
	for _, tc := range []struct {
		name       string
		e          Event
		has, lacks []string
	}{
		{"step", Event{Type: EvStep, Step: 3, Loss: 2.5, GradNorm: 0.5, LR: 1e-3}, []string{`"loss":2.5`, `"grad_norm":0.5`, `"lr":0.001`}, []string{`"z_loss"`, `"value"`}},
		{"last anneal step", Event{Type: EvStep, Step: 9, Loss: 2.5, GradNorm: 0.5}, []string{`"lr":0`, `"loss":2.5`}, []string{`"z_loss"`}},
		{"skipped step", Event{Type: EvStep, Step: 4, Loss: math.NaN(), GradNorm: math.Inf(1), LR: 1e-3, Skipped: true},
			[]string{`"loss":null`, `"grad_norm":null`, `"lr":0.001`, `"skipped":true`}, []string{`"mfu"`}},
		{"spike", Event{Type: EvSpike, Series: "grad_norm", Value: math.Inf(1), Z: math.NaN()}, []string{`"value":null`, `"z":null`}, []string{`"lr"`, `"loss"`}},
		{"phase", Event{Type: EvPhase, Message: "anneal"}, []string{`"message":"anneal"`}, []string{`"lr"`, `"loss"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.e)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.has {
				if !strings.Contains(string(b), s) {
					t.Errorf("%s lacks %s", b, s)
				}
			}
			for _, s := range tc.lacks {
				if strings.Contains(string(b), s) {
					t.Errorf("%s has %s", b, s)
				}
			}
			var back Event
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("%s does not read back: %v", b, err)
			}
			if back.Step != tc.e.Step || back.Type != tc.e.Type || back.Skipped != tc.e.Skipped {
				t.Errorf("%s read back as %+v", b, back)
			}
		})
	}
}

// TestEventKindOfOldEvents: what a run's events say changed is in their
// fields (change, soup_kind, soup_step, ingredient, refused) since they were
// added; a run written before has only the wording, which Kind, SideSoup and
// RefusedAction read instead. testdata/run-before-event-fields is a run of
// the tiny recipe (a step skipped, a side soup asked for while paused, a
// soup asked for during it and refused, a mix switch, the recipe's soup with
// its second ingredient dropped) recorded with the fields, its events.jsonl then
// stripped of them: read either way, every event says the same.
func TestEventKindOfOldEvents(t *testing.T) {
	old := readLines[Event](t, filepath.Join("testdata", "run-before-event-fields", EventsFile))
	now := readLines[Event](t, filepath.Join("testdata", "run-before-event-fields.events-with-fields.jsonl"))
	if len(old) != len(now) {
		t.Fatalf("%d events before, %d with the fields", len(old), len(now))
	}
	var kinds []Change
	for i := range old {
		o, n := old[i], now[i]
		if o.Change != "" || o.SoupKind != "" || o.Refused != "" {
			t.Fatalf("event %d of the old file has the new fields: %+v", i, o)
		}
		if o.Kind() != n.Change || n.Kind() != n.Change {
			t.Errorf("event %d (%s %q): kind by its wording %q, by its field %q", i, o.Type, o.Message, o.Kind(), n.Change)
		}
		if k := n.Change; k == ChangeSoupStarting || k == ChangeSoupDone {
			if o.SideSoup() != n.SideSoup() || n.SideSoup() != (n.SoupKind == SoupSide) {
				t.Errorf("event %d (%q): side soup by its wording %v, by its field %q", i, o.Message, o.SideSoup(), n.SoupKind)
			}
		}
		if o.RefusedAction() != n.Refused {
			t.Errorf("event %d (%q): refused by its wording %q, by its field %q", i, o.Message, o.RefusedAction(), n.Refused)
		}
		if n.Change != "" {
			kinds = append(kinds, n.Change)
		}
	}
	want := []Change{ChangeStepSkipped, ChangePaused, ChangeResumed, ChangeSoupStarting, ChangeSoup, ChangeSoupIngredient, ChangeSoupPauseLifted,
		ChangeSoupIngredient, ChangeSoupDone, ChangeMix, ChangeSoupStarting, ChangeSoup, ChangeSoupIngredient, ChangeSoupIngredient,
		ChangeIngredientDropped, ChangeSoupIngredient, ChangeSoupDone}
	if !slices.Equal(kinds, want) {
		t.Errorf("changes %q\nwant %q", kinds, want)
	}
	// the recipe's soup (planned) ended the run; the side soup did not
	if from, ok := EndedWithSoup(filepath.Join("testdata", "run-before-event-fields")); !ok || from != 10 {
		t.Errorf("EndedWithSoup = %d, %v; want the soup from step 10", from, ok)
	}
}

// TestEventFieldsOverTheWording: an event with the fields is read by them,
// whatever its message says (a rewording must not change what a front end
// does).
func TestEventFieldsOverTheWording(t *testing.T) {
	side := Event{Type: EvPhase, Change: ChangeSoupStarting, SoupKind: SoupSide, Message: "soup starting from step 4; the run ends with the soup"}
	planned := Event{Type: EvPhase, Change: ChangeSoupDone, SoupKind: SoupPlanned, Message: "soup done: 2 averaged; stage1 goes on from step 4"}
	renamed := Event{Type: EvPhase, Change: ChangeMix, Message: "anneal mix now"}
	notRefused := Event{Type: EvWarning, Change: ChangeSoupPauseLifted, Message: "soup: x; nothing done"}
	if !side.SideSoup() || planned.SideSoup() || renamed.Kind() != ChangeMix || notRefused.RefusedAction() != "" {
		t.Errorf("side %v, planned %v, kind %q, refused %q", side.SideSoup(), planned.SideSoup(), renamed.Kind(), notRefused.RefusedAction())
	}
}

// TestSoupIngredientFields: a soup ingredient's steps and the start of its
// anneal say which ingredient they are of how many in fields (ingredient,
// soup_index, soup_of): a front end knew it only from the step's run
// ("<run>/<ingredient>") and the phase ("soup 2/3"), which
// Event.SoupIngredient still reads in runs written before the fields, the
// same way.
func TestSoupIngredientFields(t *testing.T) {
	rec := parseTiny(t, "anneal.auto_at=2560", "anneal.tokens=512", "soup.ingredients=2", "max_tokens=1M", "checkpoint.interval=0")
	r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: t.TempDir(), Name: "planned", PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	var steps, starts int
	for _, e := range follow(t, r, nil) {
		if e.Type != EvStep && e.Change != ChangeSoupIngredient {
			continue
		}
		if e.Type == EvStep && !strings.Contains(e.Run, "/") {
			if _, _, _, ok := e.SoupIngredient(); ok || e.Ingredient != "" {
				t.Errorf("the run's own step %d reads as an ingredient's: %+v", e.Step, e)
			}
			continue
		}
		if e.Type == EvStep {
			steps++
		} else {
			starts++
		}
		want := strings.TrimPrefix(e.Run, "planned/")
		if e.Type != EvStep {
			want = e.Ingredient
		}
		if e.Ingredient == "" || e.Ingredient != want || e.SoupOf != 2 || e.SoupIndex < 1 || e.SoupIndex > 2 ||
			e.Phase != fmt.Sprintf("soup %d/%d", e.SoupIndex, e.SoupOf) || !strings.HasPrefix(e.Ingredient, fmt.Sprintf("ingredient-%d-", e.SoupIndex)) {
			t.Errorf("%s %q at step %d: ingredient %q, %d of %d", e.Type, e.Change, e.Step, e.Ingredient, e.SoupIndex, e.SoupOf)
		}
	}
	if _, err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	if steps != 4 || starts != 2 {
		t.Errorf("%d ingredient steps and %d starts, want 4 and 2", steps, starts)
	}

	// read back from a run written before the fields: the same, by the words
	dir := filepath.Join("testdata", "run-before-event-fields")
	old := readLines[Event](t, filepath.Join(dir, EventsFile))
	now := readLines[Event](t, filepath.Join("testdata", "run-before-event-fields.events-with-fields.jsonl"))
	var seen []string
	for j := range old {
		n1, i1, k1, ok1 := old[j].SoupIngredient()
		n2, i2, k2, ok2 := now[j].SoupIngredient()
		if ok1 != ok2 || i1 != i2 || k1 != k2 || n1 != "" || ok2 && n2 != now[j].Ingredient {
			t.Errorf("event %d (%q): by its words %q %d/%d %v, by its fields %q %d/%d %v", j, old[j].Message, n1, i1, k1, ok1, n2, i2, k2, ok2)
		}
		if ok2 {
			seen = append(seen, fmt.Sprintf("%s %d/%d", n2, i2, k2))
		}
	}
	if want := []string{"ingredient-1-seed-8 1/2", "ingredient-2-seed-9 2/2", "ingredient-1-seed-11 1/3", "ingredient-2-seed-12 2/3", "ingredient-3-seed-13 3/3"}; !slices.Equal(seen, want) {
		t.Errorf("ingredients %q, want %q", seen, want)
	}
	for _, e := range readLines[Event](t, filepath.Join(dir, "soups", "soup-10", "ingredient-2-seed-12", MetricsFile)) {
		if name, i, k, ok := e.SoupIngredient(); !ok || name != "ingredient-2-seed-12" || i != 2 || k != 3 {
			t.Errorf("an old ingredient's step %d reads as %q %d/%d %v", e.Step, name, i, k, ok)
		}
	}
}
