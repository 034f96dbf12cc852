package lab

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestSoupAtAutoAtEndsTheRunsPlan: a recipe whose soup starts at
// anneal.auto_at ends its own training there, so its planned total is
// auto_at (in whole steps), not max_tokens: a finished run read "step 10/3907
// … 0%" and its ETA counted the steps it never trains. The recipe's warning
// says the soup starts at auto_at, not that an anneal ends elsewhere.
func TestSoupAtAutoAtEndsTheRunsPlan(t *testing.T) {
	rec := parseTiny(t, "anneal.auto_at=2560", "anneal.tokens=512", "soup.ingredients=2", "max_tokens=1M", "checkpoint.interval=0",
		`soup.mix=[{name: qa, target_ratio: 1, paths: ["builtin:qa"]}]`)
	var warned string
	for _, w := range rec.Warnings {
		if strings.Contains(w, "auto_at") || strings.Contains(w, "anneal") {
			warned += w + "\n"
		}
	}
	if want := "the planned soup of 2 ingredients starts at anneal.auto_at 2560, not max_tokens 1000000: stage 1 ends there, each ingredient anneals 512 tokens from it (to 3072), and the run ends with the soup"; !strings.Contains(warned, want) || strings.Contains(warned, "ends at 3072 tokens, not max_tokens") {
		t.Errorf("warnings:\n%swant %q", warned, want)
	}
	r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: t.TempDir(), Name: "planned", PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range follow(t, r, nil) {
		if e.Type == EvStep && !strings.Contains(e.Run, "/") && e.TotalTokens != 2560 {
			t.Fatalf("step %d: total_tokens %d, want 2560 (auto_at, where the soup ends the run)", e.Step, e.TotalTokens)
		}
		// the run ends on the soup's mix (here the anneal's), which its
		// "soup done" names: it named stage 1's
		if e.Kind() == ChangeSoupDone && (len(e.Mix) != 1 || e.Mix[0].Name != "qa") {
			t.Errorf("soup done names the mix %v, want the soup's (qa)", e.Mix)
		}
	}
	if s, err := r.Wait(); err != nil || s.State != "finished" || s.Tokens != 2560 {
		t.Fatalf("state %q, tokens %d, err %v", s.State, s.Tokens, err)
	}
}

// TestTokensLeftCountsTheSoups: every step event says what the run has yet
// to train after it, the soups' ingredients included (tokens_left), and
// --batch's ETA counts that: it counted to total_tokens, so the last step
// before the recipe's soup said "ETA 0s", an ingredient's step only that
// ingredient's rest, and nothing counted the ingredients after it.
func TestTokensLeftCountsTheSoups(t *testing.T) {
	// from the first step of the run, or of its (side) soup: a step
	// before a soup asked for cannot know of it
	check := func(name string, all []Event, fromSoup bool) {
		t.Helper()
		var steps []Event
		for _, e := range all {
			if e.Type == EvStep && (!fromSoup || len(steps) > 0 || strings.Contains(e.Run, "/")) {
				steps = append(steps, e)
			}
		}
		if len(steps) == 0 {
			t.Fatalf("%s: no steps", name)
		}
		var after int64 // the tokens trained after steps[i]
		for i := len(steps) - 1; i >= 0; i-- {
			if got := steps[i].Left(); got != after {
				t.Errorf("%s: %s step %d (%s): %d tokens left, want %d", name, steps[i].Run, steps[i].Step, steps[i].Phase, got, after)
			}
			after += 256 // tiny's global batch
		}
	}
	// the recipe's soup at step 10: 2 ingredients of 2 steps
	rec := parseTiny(t, "anneal.auto_at=2560", "anneal.tokens=512", "soup.ingredients=2", "max_tokens=1M", "checkpoint.interval=0")
	r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: t.TempDir(), Name: "planned", PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	check("planned soup", follow(t, r, nil), false)
	if _, err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	// a soup asked for at step 3 (2 ingredients of 1 step); the run goes on to step 20
	rec = parseTiny(t, "checkpoint.interval=0", "eval.tasks=[fake]", "eval.interval=3")
	ev := &actingEval{run: make(chan *Run, 1), acts: []Action{{Kind: ActSoup, K: 2, Tokens: 256}}}
	r, err = StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: t.TempDir(), Name: "side", Evaluator: ev, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	ev.run <- r
	check("side soup", follow(t, r, nil), true)
	if s, err := r.Wait(); err != nil || s.SoupSteps != 2 {
		t.Fatalf("soup steps %d, err %v", s.SoupSteps, err)
	}
	// --batch's ETA: the first ingredient's last step, the second's 20 to go
	var tp Throughput
	tp.Add(256)
	e := Event{Type: EvStep, Phase: "soup 1/2", Step: 12, Tokens: 3072, TotalTokens: 3072, TokensLeft: 5120, TokensPerSec: 256}
	left, _ := tp.Left(5120)
	if got, want := progressLine(e, &tp, 0), "(100%)  ETA "+HumanDuration(left)+" "; !strings.Contains(got, want) || left < 19*time.Second {
		t.Errorf("progress line %q, want %q (the second ingredient's 5120 tokens)", got, want)
	}
}

// TestStepsCountToThePlannedEnd: a recipe whose soup starts at
// anneal.auto_at trains itself to auto_at (the run plans to end there), so
// its Steps and the warmup check count to auto_at. Steps counted to
// max_tokens: 3907 steps for a run of 10, and a warmup past the run's end
// passed as one below it.
func TestStepsCountToThePlannedEnd(t *testing.T) {
	soup := []string{"anneal.auto_at=2560", "anneal.tokens=512", "soup.ingredients=2", "max_tokens=1M",
		`soup.mix=[{name: qa, target_ratio: 1, paths: ["builtin:qa"]}]`}
	for _, tc := range []struct {
		name   string
		sets   []string
		steps  int64
		tokens int64
	}{
		{"no soup", []string{"max_tokens=1M"}, 3907, 3907 * 256},
		{"soup at auto_at", soup, 10, 2560},
		{"soup at max_tokens", []string{"max_tokens=2600", "soup.ingredients=2", "anneal.tokens=512"}, 11, 11 * 256},
	} {
		rec := parseTiny(t, tc.sets...)
		if got := rec.Steps(); got != tc.steps {
			t.Errorf("%s: Steps() = %d, want %d", tc.name, got, tc.steps)
		}
		if got := rec.PlannedTokens(); got != tc.tokens {
			t.Errorf("%s: PlannedTokens() = %d, want %d", tc.name, got, tc.tokens)
		}
	}
	rec := parseTiny(t, append(soup, "schedule.warmup_tokens=4096")...)
	want := "schedule.warmup_tokens 4096 is not below the 2560 tokens the run trains (anneal.auto_at 2560, where its soup starts)"
	if w := strings.Join(rec.Warnings, "\n"); !strings.Contains(w, want) {
		t.Errorf("warnings:\n%s\nwant %q", w, want)
	}
}
