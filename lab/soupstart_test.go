package lab

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSoupIsAnnouncedFirst: a soup says it starts ("soup starting", a phase
// event) before its checkpoint and the evaluation before it, from which on
// the run takes only pause, resume and stop. The first word of it was the
// "soup:" event after both, so a front end still saw stage 1 while the
// soup's checkpoint was written and offered what the run then refused. The
// announcement says whether the run ends with the soup (the recipe's) or goes
// on (one asked for).
func TestSoupIsAnnouncedFirst(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overrides []string
		ask       bool // the soup is asked for at the first step
		final     bool
		then      string
	}{
		{"the recipe's", []string{"anneal.auto_at=2560", "anneal.tokens=512", "max_tokens=3072", "soup.ingredients=2"}, false, true, "; the run ends with the soup"},
		{"asked for", []string{"max_tokens=2560"}, true, false, "; then stage1 goes on from step "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := parseTiny(t, append([]string{"checkpoint.interval=0", "eval.tasks=[fake]", "eval.at_anneal=true"}, tc.overrides...)...)
			// asked for as the run writes its first step, not as the test
			// reads it: late, the ten-step run had ended without a soup
			started := func(*Run) {}
			if tc.ask {
				started = actAtStep(t, "s", 1, Action{Kind: ActSoup, K: 1, Tokens: 512})
			}
			r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: t.TempDir(), Name: "s", Evaluator: &fakeEval{}, PeakFLOPS: 1e11})
			if err != nil {
				t.Fatal(err)
			}
			started(r)
			evs := follow(t, r, nil)
			if _, err := r.Wait(); err != nil {
				t.Fatal(err)
			}
			var order []string
			var announce Event
			for _, e := range evs {
				switch {
				case e.Change == ChangeSoupStarting:
					order, announce = append(order, "starting"), e
				case e.Type == EvCheckpointing:
					order = append(order, "checkpointing")
				case e.Type == EvEvaluating && e.Message == "before soup":
					order = append(order, "evaluating")
				case e.Change == ChangeSoup:
					order = append(order, "soup:")
				}
			}
			if want := []string{"starting", "checkpointing", "evaluating", "soup:"}; !slices.Equal(order[:min(4, len(order))], want) {
				t.Fatalf("events %q, want %q first", order, want)
			}
			kind := SoupSide
			if tc.final {
				kind = SoupPlanned
			}
			if !strings.Contains(announce.Message, tc.then) || announce.SoupKind != kind || announce.SideSoup() == tc.final || announce.SoupStep != announce.Step || announce.Phase != "stage1" {
				t.Errorf("announced %q in phase %q (soup %q from step %d, at step %d); want it to say %q, soup %q, in stage1", announce.Message, announce.Phase, announce.SoupKind, announce.SoupStep, announce.Step, tc.then, kind)
			}
			// a soup of one ingredient is "1 anneal" (it read "1 anneals")
			if n := map[bool]string{true: "2 anneals of 512 tokens", false: "1 anneal of 512 tokens"}[tc.final]; !strings.Contains(announce.Message, n) {
				t.Errorf("announced %q, want %q", announce.Message, n)
			}
			// the same fields in events.jsonl, and the wording alone (a run
			// written before them) tells the same
			written := readLines[Event](t, filepath.Join(r.Dir, EventsFile))
			i := slices.IndexFunc(written, func(e Event) bool { return e.Change == ChangeSoupStarting })
			if i < 0 || written[i].SoupKind != kind || written[i].SoupStep != announce.SoupStep {
				t.Fatalf("events.jsonl: no soup_starting event with soup_kind %q, soup_step %d", kind, announce.SoupStep)
			}
			old := Event{Type: EvPhase, Message: announce.Message}
			if old.Kind() != ChangeSoupStarting || old.SideSoup() == tc.final {
				t.Errorf("by its wording %q: kind %q, side %v; want soup_starting, side %v", old.Message, old.Kind(), old.SideSoup(), !tc.final)
			}
		})
	}
}

// TestAnnealBeforeTheRecipesSoupSaysSo: an anneal asked for before the
// recipe's soup (soup.ingredients, made from stage 1 at anneal.auto_at) means
// the soup is never made: the run ends with that anneal. It happened without
// a word; the run now says so with a warning, which a --batch run shows too.
func TestAnnealBeforeTheRecipesSoupSaysSo(t *testing.T) {
	rec := parseTiny(t, "checkpoint.interval=0", "anneal.auto_at=2560", "anneal.tokens=512", "max_tokens=3072", "soup.ingredients=2")
	// asked for as the run writes its first step, not as the test reads
	// it: late, the run reached its soup at step 10 first
	started := actAtStep(t, "a", 1, Action{Kind: ActAnneal, Tokens: 512})
	r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: t.TempDir(), Name: "a", PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	started(r)
	var warnings []string
	soups := 0
	follow(t, r, func(e Event) {
		switch {
		case e.Type == EvWarning:
			warnings = append(warnings, e.Message)
		case e.Type == EvPhase && strings.HasPrefix(e.Message, "soup"):
			soups++
		}
	})
	s, err := r.Wait()
	if err != nil || s.State != "finished" {
		t.Fatalf("ended %s (err %v)", s.State, err)
	}
	want := []string{"anneal: the recipe's soup (2 ingredients at anneal.auto_at, 2560 tokens) is not made: it starts from stage 1, and the run now ends with this anneal"}
	if !slices.Equal(warnings, want) || soups != 0 {
		t.Errorf("warnings %q, %d soup events; want %q and none", warnings, soups, want)
	}
	// a recipe without a soup, or whose soup is its start (stage 2), has none to lose
	for _, o := range [][]string{{"soup.ingredients=0"}, {"soup.ingredients=2", "anneal.auto_at=0", "max_tokens=3072"}} {
		if got := parseTiny(t, o...).PlannedSoup(); (o[0] == "soup.ingredients=0") != (got == "") {
			t.Errorf("%v: PlannedSoup %q", o, got)
		}
	}
	// a soup of one: "1 ingredient" (it read "1 ingredients")
	if got, want := parseTiny(t, "soup.ingredients=1").PlannedSoup(), "1 ingredient at max_tokens, 5120 tokens"; got != want {
		t.Errorf("PlannedSoup of one ingredient: %q, want %q", got, want)
	}
}

// TestSoupTooFewLeftCounts: the error of a soup whose ingredients diverged
// counts them in English; a soup of one said "1 of its 1 ingredients
// diverged, fewer than 1 are left to average".
func TestSoupTooFewLeftCounts(t *testing.T) {
	for _, tc := range []struct {
		dropped, k, need int
		want             string
	}{
		{1, 1, 1, "its only ingredient diverged, none is left to average"},
		{1, 2, 2, "with 1 of its 2 ingredients diverged, fewer than 2 are left to average"},
		{2, 3, 2, "with 2 of its 3 ingredients diverged, fewer than 2 are left to average"},
	} {
		if got := soupTooFewLeft(tc.dropped, tc.k, tc.need); got != tc.want {
			t.Errorf("soupTooFewLeft(%d, %d, %d) = %q, want %q", tc.dropped, tc.k, tc.need, got, tc.want)
		}
	}
}
