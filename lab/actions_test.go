package lab

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab/data"
)

// TestActionsRefusedWhereTheyDoNotApply: an action the run cannot take where
// it applies is answered with a warning saying why (ActionState.WhyNot), not
// taken nor dropped. A soup asked for during the evaluation before the
// recipe's anneal, or before an anneal asked for, was made from the annealing
// run (it is K anneals from one stage-1 checkpoint); what was asked for during
// the final evaluation, or the recipe's soup's, was dropped without a word as
// the run ended; a second soup from one step, or a soup at the step the
// recipe's soup starts from, overwrote the first one's files.
func TestActionsRefusedWhereTheyDoNotApply(t *testing.T) {
	const noEval = "checkpoint.interval=0"
	soup := Action{Kind: ActSoup, K: 2, Tokens: 512}
	every := []Action{{Kind: ActAnneal}, {Kind: ActSwitchMix, Mix: []data.SourceSpec{{Name: "web", TargetRatio: 1}}}, soup,
		{Kind: ActCheckpoint}, {Kind: ActEval}, {Kind: ActPause}, {Kind: ActResume}, {Kind: ActStop}}
	ending := func(verbs ...string) []string {
		var out []string
		for _, v := range verbs {
			out = append(out, v+": the run is ending (its final evaluation, then its last checkpoint); nothing done")
		}
		return out
	}
	cases := []struct {
		name      string
		overrides []string
		first     []Action // sent at the first step
		at        int      // the evaluation during which acts are sent
		acts      []Action
		want      []string // the warnings, DIR the run's directory
		state     string
		steps     int64
		soups     int // soup phase events ("soup: …")
	}{
		{name: "soup while the recipe's anneal starts", overrides: []string{"anneal.auto_at=2560", "anneal.tokens=1024", "max_tokens=3584"},
			at: 1, acts: []Action{soup},
			want:  []string{"soup: the run is annealing already; nothing done"},
			state: "finished", steps: 14},
		{name: "soup while an anneal asked for starts", overrides: []string{"max_tokens=1M"},
			first: []Action{{Kind: ActAnneal, Tokens: 1024}}, at: 1, acts: []Action{soup},
			want:  []string{"soup: the run is annealing already; nothing done"},
			state: "finished"},
		{name: "anything during the final evaluation", at: 1, acts: every,
			want:  ending("anneal", "switch mix", "soup", "checkpoint", "evaluate", "pause", "resume", "stop"),
			state: "finished", steps: 20},
		{name: "during the recipe's soup's evaluation", overrides: []string{"anneal.auto_at=2560", "anneal.tokens=512", "max_tokens=3072", "soup.ingredients=2"},
			at: 4, acts: []Action{{Kind: ActCheckpoint}, {Kind: ActPause}},
			want: []string{"checkpoint: the run has ended (finished at step 10); nothing done",
				"pause: the run has ended (finished at step 10); nothing done"},
			state: "finished", steps: 10, soups: 1},
		{name: "a soup at the step the recipe's soup starts from", overrides: []string{"anneal.auto_at=2560", "anneal.tokens=512", "max_tokens=3072", "soup.ingredients=2", "eval.interval=10"},
			at: 1, acts: []Action{soup},
			want:  []string{"soup: the recipe's soup (soup.ingredients) starts from step 10 next; nothing done"},
			state: "finished", steps: 10, soups: 1},
		{name: "a second soup from one step", overrides: []string{"max_tokens=1M"},
			first: []Action{soup}, at: 4, acts: []Action{soup, {Kind: ActStop}},
			want:  []string{"soup: a soup from step STEP is made already (DIR/soups/soup-STEP/soup.json); nothing done"},
			state: "stopped", soups: 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			rec := parseTiny(t, append([]string{noEval, "eval.tasks=[fake]", "eval.interval=0"}, tc.overrides...)...)
			ev := &actingEval{run: make(chan *Run, 1), at: map[int][]Action{tc.at: tc.acts}}
			name := fmt.Sprintf("r%d", i)
			r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: name, Evaluator: ev, PeakFLOPS: 1e11})
			if err != nil {
				t.Fatal(err)
			}
			ev.run <- r
			var warnings []string
			var soups int
			var soupStep int64
			sent := false
			follow(t, r, func(e Event) {
				switch {
				case e.Type == EvStep && !sent:
					sent = true
					for _, a := range tc.first {
						if err := r.Do(a); err != nil {
							t.Errorf("%s: %v", a.Kind, err)
						}
					}
				case e.Type == EvWarning:
					warnings = append(warnings, e.Message)
				case e.Type == EvPhase && strings.HasPrefix(e.Message, "soup:"):
					soups++
					soupStep = e.Step
				}
			})
			s, err := r.Wait()
			if err != nil || s.State != tc.state || tc.steps > 0 && s.Steps != tc.steps {
				t.Fatalf("ended %s at step %d (err %v); want %s at step %d", s.State, s.Steps, err, tc.state, tc.steps)
			}
			if len(ev.errs) > 0 {
				t.Fatalf("Do: %v", ev.errs)
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, strings.NewReplacer("DIR", filepath.Join(root, name), "STEP", fmt.Sprint(soupStep)).Replace(w))
			}
			if !slices.Equal(warnings, want) {
				t.Errorf("warnings\n%q\nwant\n%q", warnings, want)
			}
			if soups != tc.soups {
				t.Errorf("%d soups made, want %d", soups, tc.soups)
			}
		})
	}
	// once ended, Do refuses at once
	r, err := StartRun(context.Background(), RunParams{Recipe: parseTiny(t, noEval), RunsDir: t.TempDir(), Name: "end", PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	r.Wait()
	if err := r.Do(Action{Kind: ActCheckpoint}); err == nil || err.Error() != "the run has ended" {
		t.Errorf("Do after the end: %v", err)
	}
}

// TestActionStateWhyNot: the rule, phase by phase.
func TestActionStateWhyNot(t *testing.T) {
	const soup = "a soup is being made (only pause, resume and stop apply)"
	kinds := []ActionKind{ActAnneal, ActSoup, ActSwitchMix, ActCheckpoint, ActEval, ActPause, ActResume, ActStop}
	cases := []struct {
		name string
		s    ActionState
		want []string // in kinds' order
	}{
		{"stage 1", ActionState{Phase: "stage1"}, []string{"", "", "", "", "", "", "", ""}},
		{"stage 1, nothing to evaluate", ActionState{Phase: "stage1", NoEval: "no tasks"}, []string{"", "", "", "", "no tasks", "", "", ""}},
		{"annealing", ActionState{Phase: "anneal"}, []string{"the run is annealing already", "the run is annealing already", "", "", "", "", "", ""}},
		{"the recipe's anneal starts", ActionState{Phase: "stage1", AnnealStarting: true, Step: 40},
			[]string{"the run's anneal starts at step 40 (evaluated before it first)", "the run's anneal starts at step 40 (evaluated before it first)", "", "", "", "", "", ""}},
		{"a soup, by its evaluation", ActionState{Phase: "stage1", Soup: true, NoEval: "no tasks"}, []string{soup, soup, soup, soup, soup, "", "", ""}},
		{"a soup, by its phase", ActionState{Phase: "soup 2/3"}, []string{soup, soup, soup, soup, soup, "", "", ""}},
		{"another phase", ActionState{Phase: "stage3"}, []string{"the run is in its stage3 phase, not stage 1", "the run is in its stage3 phase, not stage 1", "", "", "", "", "", ""}},
		{"the final evaluation", ActionState{Phase: "anneal", Ending: true}, slices.Repeat([]string{ending}, len(kinds))},
		{"the recipe's soup's last evaluations", ActionState{Phase: "soup 2/2", Ending: true}, slices.Repeat([]string{endingWithSoup}, len(kinds))},
	}
	for _, tc := range cases {
		for i, k := range kinds {
			if got := tc.s.WhyNot(k); got != tc.want[i] {
				t.Errorf("%s: %s: %q, want %q", tc.name, k, got, tc.want[i])
			}
		}
	}
}
