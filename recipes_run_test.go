package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab"
)

// TestShippedRecipesRun: every shipped recipe plans whole steps, and every
// one a CPU can run finishes a shortened run through --batch (its own model,
// data, anneal, soup and evaluations; two short sequences a step, four steps),
// exit 0, with the tokens it planned and, where it has one, its soup made.
// The olmo2_* recipes, on a build without CUDA, stop at once with exit 2,
// say that they need an NVIDIA GPU for a model of their size, and name the
// proxy recipe that trains the same architecture here.
func TestShippedRecipesRun(t *testing.T) {
	t.Setenv("OLMOLAB_OLMES_DATA", "")
	for _, sr := range experiments.All() {
		t.Run(sr.Name, func(t *testing.T) {
			r, err := lab.ParseRecipe(sr.Path, sr.YAML, nil)
			if err != nil {
				t.Fatal(err)
			}
			gb := int64(r.GlobalBatchSize)
			if r.Steps() <= 0 || r.PlannedTokens()%gb != 0 || r.Steps() != r.PlannedTokens()/gb {
				t.Errorf("plan: %d steps, %d tokens at %d a step", r.Steps(), r.PlannedTokens(), gb)
			}
			if r.Backend == "cuda" {
				var out, errb bytes.Buffer
				// the hint names a recipe this CPU runs (below), not --set
				// backend=cpu, which leaves OLMES data, token files and a
				// step of millions of tokens to find out about one by one
				want := fmt.Sprintf("needs an NVIDIA GPU (%s, %s parameters)", r.ModelName, lab.HumanCount(r.Model.NumParams()))
				code := run([]string{"--batch", sr.Name, "--runs", t.TempDir()}, &out, &errb)
				if code != 2 || !strings.Contains(errb.String(), want) || !strings.Contains(errb.String(), "olmolab --batch proxy_olmo2_14M") {
					t.Errorf("exit %d, want 2, %q and the proxy recipe to run instead:\n%s", code, want, errb.String())
				}
				return
			}

			// two sequences of 64 a step (the proxies' 100,352-row LM head
			// costs by the token); stage 1 and the anneal two steps each
			step := int64(2 * 64)
			sets := []string{"sequence_length=64", fmt.Sprintf("global_batch_size=%d", step), fmt.Sprintf("rank_microbatch_size=%d", step),
				fmt.Sprintf("max_tokens=%d", 4*step), fmt.Sprintf("schedule.warmup_tokens=%d", step)}
			if r.Anneal.AutoAt > 0 {
				sets = append(sets, fmt.Sprintf("anneal.auto_at=%d", 2*step))
			}
			if r.Anneal.Tokens > 0 {
				sets = append(sets, fmt.Sprintf("anneal.tokens=%d", 2*step))
			}
			if len(r.Eval.Tasks) > 0 {
				sets = append(sets, "eval.limit=10")
			}
			short, err := lab.ParseRecipe(sr.Path, sr.YAML, sets)
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"--batch", sr.Name, "--runs", t.TempDir(), "--name", "short"}
			for _, s := range sets {
				args = append(args, "--set", s)
			}
			var out, errb bytes.Buffer
			if code := run(args, &out, &errb); code != 0 {
				t.Fatalf("exit %d:\n%s", code, errb.String())
			}
			var done struct {
				Summary struct {
					State     string
					Tokens    int64
					SoupSteps int64 `json:"soup_steps"`
				}
			}
			sc := bufio.NewScanner(&out)
			sc.Buffer(make([]byte, 1<<20), 4<<20)
			for sc.Scan() {
				if bytes.Contains(sc.Bytes(), []byte(`"type":"done"`)) {
					if err := json.Unmarshal(sc.Bytes(), &done); err != nil {
						t.Fatal(err)
					}
				}
			}
			s := done.Summary
			if s.State != "finished" || s.Tokens != short.PlannedTokens() {
				t.Errorf("state %q after %d tokens, want finished after %d:\n%s", s.State, s.Tokens, short.PlannedTokens(), errb.String())
			}
			if hasSoup := r.Soup.Ingredients > 0; hasSoup != (s.SoupSteps > 0) {
				t.Errorf("soup %v, but %d soup steps", hasSoup, s.SoupSteps)
			}
		})
	}
}
