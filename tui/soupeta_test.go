package tui

import (
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab"
)

// TestETACountsTheSoup: the status's ETA counts what the run has yet to
// train, a soup's ingredients included (lab.Event.Left): it counted to the
// run's total_tokens, so before and during the recipe's soup it said 0s, and
// during a side soup the run's own steps without the ingredients left.
func TestETACountsTheSoup(t *testing.T) {
	const gb = 256 // 1 s a step at 256 tokens/s
	near := func(what string, d *runData, want int64) {
		t.Helper()
		got, ok := d.eta()
		if w := time.Duration(want) * time.Second; !ok || got < w-50*time.Millisecond || got > w+50*time.Millisecond {
			t.Errorf("%s: ETA %v (%v), want %v", what, got, ok, w)
		}
	}
	step := func(run string, s int64, phase string, total, left int64) lab.Event {
		return lab.Event{Type: lab.EvStep, Time: t0.Add(time.Duration(s) * time.Second), Run: run, Step: s, Tokens: s * gb, Phase: phase,
			Loss: 2, GradNorm: 1, LR: 1e-3, TokensPerSec: gb, TotalTokens: total, TokensLeft: left}
	}
	for _, kind := range []string{lab.SoupPlanned, lab.SoupSide} {
		d := newRunData("r", "runs/r", nil)
		after := int64(0) // the run's own steps after the soup: 10 for a side one
		if kind == lab.SoupSide {
			after = 10
		}
		for s := int64(1); s <= 10; s++ {
			left := (10 - s + after) * gb
			if kind == lab.SoupPlanned {
				left += 4 * gb // 2 ingredients of 2 steps
			}
			d.apply(step("r", s, "stage1", (10+after)*gb, left))
		}
		if kind == lab.SoupPlanned {
			near(kind+", its last step before the soup", d, 4)
		}
		d.apply(lab.Event{Type: lab.EvPhase, Run: "r", Step: 10, Tokens: 10 * gb, Phase: "stage1", Change: lab.ChangeSoupStarting, SoupStep: 10, SoupKind: kind})
		d.apply(lab.Event{Type: lab.EvPhase, Run: "r", Step: 10, Tokens: 10 * gb, Phase: "soup", Change: lab.ChangeSoup, SoupStep: 10, SoupKind: kind})
		d.apply(step("r/ingredient-1-seed-1", 11, "soup 1/2", 12*gb, (3+after)*gb))
		near(kind+", the soup's first step", d, 3+after)
		d.apply(step("r/ingredient-1-seed-1", 12, "soup 1/2", 12*gb, (2+after)*gb))
		near(kind+", the first ingredient's last step", d, 2+after)
	}
}
