package tui

import (
	"strings"
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

// TestRunEndedWithItsSoupShowsTheSoup: a finished run that ended with its
// recipe's soup shows what it ended with, the soup: LR 0 (where its anneals
// ended) beside "soup", and the soup's mix. It showed its last stage-1
// step's LR ("lr 0.003 soup") and the stage-1 mix, which the lab's "soup
// done" named.
func TestRunEndedWithItsSoupShowsTheSoup(t *testing.T) {
	rec := testRecipe(t)
	evs := syntheticSoupRun("quickstart-test", rec)
	done := &evs[len(evs)-1]
	done.Change, done.SoupKind, done.SoupStep, done.Mix = lab.ChangeSoupDone, lab.SoupPlanned, 90, rec.Dataset
	done.Message = "soup done: 2 ingredients averaged; the run ends with the soup's weights"
	done.Soup.Final = true
	evs = append(evs, lab.Event{Type: lab.EvDone, Time: done.Time.Add(time.Second), Run: "quickstart-test", Step: 90, Tokens: done.Tokens, Phase: "soup", State: "finished"})
	m, _ := liveModel(t, testOptions(t, 80, 24), evs)
	lines := strings.Split(screen(m), "\n")
	if status := lines[1]; !strings.HasPrefix(status, " step 90/90 │ tok 184.3K/184.3K 100% │") {
		t.Errorf("status %q, want the run's own steps and tokens, which the soup ended, at 100%%", status)
	}
	if status := lines[2]; !strings.HasPrefix(status, " lr 0 soup │") {
		t.Errorf("status %q, want it to start \" lr 0 soup │\"", status)
	}
	var mix string
	for _, l := range lines {
		if strings.HasPrefix(l, " mix ") {
			mix = l
		}
	}
	for _, s := range rec.Anneal.Mix {
		if !strings.Contains(mix, s.Name) {
			t.Errorf("mix line %q lacks the soup's %s", mix, s.Name)
		}
	}
	if !strings.Contains(mix, "web_clean 50%") || strings.Contains(mix, "web_noisy") {
		t.Errorf("mix line %q, want the soup's mix (web_clean 50%%), not stage 1's", mix)
	}
}

// TestETAUnderASecond: the status says "<1s" for a time left under a second,
// as --batch's progress line does (lab.HumanDuration): it said "ETA 0s",
// done, while the last steps still ran.
func TestETAUnderASecond(t *testing.T) {
	var evs []lab.Event
	for s := int64(1); s <= 9; s++ {
		// 10 steps of 2048 tokens at 8192 tokens/s: a quarter of a second each
		evs = append(evs, lab.Event{Type: lab.EvStep, Time: t0.Add(time.Duration(s) * 250 * time.Millisecond), Run: "quickstart-test", Step: s,
			Tokens: s * testGB, Phase: "stage1", Loss: 3, GradNorm: 1, LR: 1e-3, TokensPerSec: 4 * testGB, TotalTokens: 10 * testGB, TokensLeft: (10 - s) * testGB})
	}
	m, _ := liveModel(t, testOptions(t, 100, 30), evs)
	if status := lineWith(screen(m), "ETA"); !strings.Contains(status, "ETA <1s") {
		t.Errorf("one step of a quarter second left: status %q, want ETA <1s", status)
	}
}

// TestEndedRunShowsItsOwnThroughput: a finished run whose last steps were a
// soup's ingredients' showed the last ingredient's tok/s and MFU (3,416 tok/s
// and 3.3% here), not the run's: its summary's figures, or without one (a
// run written before summaries) the run's own steps'.
func TestEndedRunShowsItsOwnThroughput(t *testing.T) {
	for _, c := range []struct {
		name    string
		summary *lab.RunSummary
		want    string
	}{
		{"summary", &lab.RunSummary{State: "finished", Steps: 90, TokensPerSec: 19000, MFU: 0.29}, "19.0K tok/s │ MFU 29% │"},
		{"no summary", nil, "20.5K tok/s │ MFU 31% │"}, // stepEvent's 20480 tok/s at MFU 0.31
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := testRecipe(t)
			evs := syntheticSoupRun("quickstart-test", rec)
			for i := range evs {
				if strings.Contains(evs[i].Run, "/ingredient-") {
					evs[i].TokensPerSec, evs[i].MFU = 3416, 0.033
				}
			}
			last := evs[len(evs)-1]
			evs = append(evs, lab.Event{Type: lab.EvDone, Time: last.Time.Add(time.Second), Run: "quickstart-test", Step: 90, Tokens: last.Tokens,
				Phase: "stage1", State: "finished", Summary: c.summary})
			m, _ := liveModel(t, testOptions(t, 120, 40), evs)
			if status := strings.Split(screen(m), "\n")[2]; !strings.Contains(status, c.want) {
				t.Errorf("status %q lacks %q", status, c.want)
			}
		})
	}
}
