package lab

import (
	"context"
	"strings"
	"testing"
)

// TestSoupAtAutoAtEndsTheRunsPlan: a recipe whose soup starts at
// anneal.auto_at ends its own training there, so its planned total is
// auto_at (in whole steps), not max_tokens: a finished run read "step 10/3907
// … 0%" and its ETA counted the steps it never trains. The recipe's warning
// says the soup starts at auto_at, not that an anneal ends elsewhere.
func TestSoupAtAutoAtEndsTheRunsPlan(t *testing.T) {
	rec := parseTiny(t, "anneal.auto_at=2560", "anneal.tokens=512", "soup.ingredients=2", "max_tokens=1M", "checkpoint.interval=0")
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
	}
	if s, err := r.Wait(); err != nil || s.State != "finished" || s.Tokens != 2560 {
		t.Fatalf("state %q, tokens %d, err %v", s.State, s.Tokens, err)
	}
}
