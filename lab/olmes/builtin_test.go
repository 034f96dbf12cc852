package olmes

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/data/world"
	"github.com/olmolab/olmolab/model"
)

// TestBuiltinTasks checks every built-in task in both formulations: 4 distinct choices with the gold among them,
// the gold spread over positions (ties go to the first choice, so a fixed position would bias), determinism,
// and the development/unseen split: unseen tasks ask only about held-out entities and sums, and their shots come
// from seen material.
func TestBuiltinTasks(t *testing.T) {
	kb := world.Default()
	wantN := map[string]int{"fact_qa_seen": 200, "fact_cloze": 200, "arith_seen": 200, "story": 200, "code": 200,
		"fact_qa_heldout": 200, "arith": len(kb.Sums(true))}
	for _, f := range []Formulation{RC, MC} {
		tasks := BuiltinTasks(f, kb, BuiltinOptions{Shots: 2})
		if len(tasks) != 7 {
			t.Fatalf("%d tasks", len(tasks))
		}
		for _, task := range tasks {
			if task.Formulation != f || len(task.Instances) != wantN[task.Name] {
				t.Errorf("%s %s: %d instances, want %d", task.Name, f, len(task.Instances), wantN[task.Name])
			}
			if (task.Group == "unseen") != (task.Name == "fact_qa_heldout" || task.Name == "arith") {
				t.Errorf("%s in group %q", task.Name, task.Group)
			}
			pos := map[int]int{}
			for _, in := range task.Instances {
				if len(in.Choices) != 4 || in.Gold < 0 || in.Gold >= 4 {
					t.Fatalf("%s: %d choices, gold %d", task.Name, len(in.Choices), in.Gold)
				}
				seen := map[string]bool{}
				for _, c := range in.Choices {
					if seen[c.Continuation] || !strings.HasPrefix(c.Continuation, " ") || c.Context != in.Choices[0].Context {
						t.Fatalf("%s: bad choices %+v", task.Name, in.Choices)
					}
					seen[c.Continuation] = true
				}
				pos[in.Gold]++
				if strings.Count(in.Choices[0].Context, "\n\n") < 2 && task.Name != "code" {
					t.Fatalf("%s: expected 2 shots in %q", task.Name, in.Choices[0].Context)
				}
			}
			for p := range 4 {
				if pos[p] < len(task.Instances)/10 {
					t.Errorf("%s %s: gold at position %d only %d times of %d", task.Name, f, p, pos[p], len(task.Instances))
				}
			}
			again, _ := BuiltinTask(task.Name, f, kb, BuiltinOptions{Shots: 2})
			if !reflect.DeepEqual(again, task) {
				t.Errorf("%s: not deterministic", task.Name)
			}
		}
	}
	// Unseen means unseen: the held-out QA asks about held-out entities, with shots about seen ones.
	ho, _ := BuiltinTask("fact_qa_heldout", RC, kb, BuiltinOptions{Shots: 3, Limit: -1})
	for _, in := range ho.Instances {
		blocks := strings.Split(in.Choices[0].Context, "\n\n")
		for i, b := range blocks {
			held := mentionsHeldOut(kb, b)
			if i < len(blocks)-1 && held {
				t.Fatalf("shot about a held-out entity: %q", b)
			}
			if i == len(blocks)-1 && !held {
				t.Fatalf("held-out question about a seen entity: %q", b)
			}
		}
	}
	ar, _ := BuiltinTask("arith", RC, kb, BuiltinOptions{})
	for _, in := range ar.Instances {
		var a, b int
		if _, err := fmt.Sscanf(in.Choices[0].Context, "%d + %d =", &a, &b); err != nil || !kb.ArithHeldOut(a, b) {
			t.Fatalf("arith instance %q is not a held-out sum", in.Choices[0].Context)
		}
	}
	if _, err := BuiltinTask("fact_qa_unknown", RC, kb, BuiltinOptions{}); !IsInputError(err) {
		t.Errorf("unknown built-in task: %v", err)
	}
}

// mentionsHeldOut reports whether a "Q: …?\nA:…" block asks about a held-out entity.
func mentionsHeldOut(kb *world.KB, block string) bool {
	q, _, _ := strings.Cut(block, "\n")
	for _, w := range strings.FieldsFunc(q, func(r rune) bool { return r == ' ' || r == '?' }) {
		if e := kb.Entity(w); e >= 0 && kb.Entities[e].HeldOut {
			return true
		}
	}
	return false
}

// TestLoadTasks expands groups and formulation suffixes, and rejects unknown names and missing data.
func TestLoadTasks(t *testing.T) {
	ts, err := LoadTasks([]string{"development", "arith:mc"}, RC, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range ts {
		got = append(got, x.Name+":"+x.Formulation.String())
	}
	want := []string{"fact_qa_seen:rc", "fact_cloze:rc", "arith_seen:rc", "story:rc", "code:rc", "arith:mc"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := LoadTasks([]string{"unseen,nonesuch"}, RC, LoadOptions{}); !IsInputError(err) || !strings.Contains(err.Error(), `unknown task "nonesuch"`) {
		t.Errorf("unknown task: %v", err)
	}
	_, err = LoadTask("arc_easy", RC, LoadOptions{DataDir: t.TempDir()})
	if !IsInputError(err) || !strings.Contains(err.Error(), "HINT") {
		t.Errorf("missing data: %v", err)
	}
	if _, err := LoadTask("arc_easy", RC, LoadOptions{DataDir: "/nonexistent/olmes"}); !IsInputError(err) {
		t.Errorf("missing data dir: %v", err)
	}
	if _, err := LoadTask("missing/requests.jsonl.gz", RC, LoadOptions{}); !IsInputError(err) {
		t.Errorf("missing dump: %v", err)
	}
}

// TestBuiltinEvaluateRandomModel evaluates every built-in task on a small random model with the world
// tokenizer: a smoke test of the whole path (a random model sits near chance, 0.25).
func TestBuiltinEvaluateRandomModel(t *testing.T) {
	t.Parallel()
	tok, err := data.NewTokenizer("world")
	if err != nil {
		t.Fatal(err)
	}
	cfg := model.Config{VocabSize: tok.VocabSize(), HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 1,
		NumAttentionHeads: 2, NumKeyValueHeads: 2, MaxPositionEmbeddings: 128, RopeTheta: 500000, RMSNormEps: 1e-6}
	be := model.NewCPUBackend(cfg, 16, 96, 2)
	defer be.Close()
	model.Init(be.E.Layout, be.E.Params, 1)
	tasks := BuiltinTasks(RC, nil, BuiltinOptions{Limit: 40})
	res, err := Evaluate(context.Background(), be, tok, tasks, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Scores {
		if v := s.PrimaryScore(); v < 0.05 || v > 0.6 {
			t.Errorf("%s: random model scores %.3f", s.Task, v)
		}
		if s.Metrics[MetricBPB] <= 0 {
			t.Errorf("%s: bits per byte %v", s.Task, s.Metrics[MetricBPB])
		}
	}
	var b strings.Builder
	res.WriteTable(&b)
	t.Logf("\n%s", b.String())
}
