package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab/olmes"
)

// TestEvalLimitPicksAsTheEvalCommand: a recipe's eval.limit takes the instances
// olmolab eval --limit takes (OLMES's seeded subsample of a benchmark), so a
// run's scores and the command's on the same checkpoint are of the same
// instances. It took the first instances in file order.
func TestEvalLimitPicksAsTheEvalCommand(t *testing.T) {
	dir := t.TempDir()
	var lines []byte
	for i := range 40 { // BoolQ's published form
		row, _ := json.Marshal(map[string]any{"question": fmt.Sprintf("is %d even", i), "answer": i%2 == 0,
			"title": fmt.Sprintf("Number %d", i), "passage": fmt.Sprintf("Number %d is a number.", i)})
		lines = append(append(lines, row...), '\n')
	}
	if err := os.MkdirAll(filepath.Join(dir, "boolq"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "boolq", "dev.jsonl"), lines, 0o644); err != nil {
		t.Fatal(err)
	}
	const limit = 5
	tasks, err := NewOLMESEvaluator(dir).load(EvalSpec{Tasks: []string{"boolq"}, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	// what runEval loads for --tasks boolq --limit 5
	want, err := olmes.LoadTask("boolq", olmes.RC, olmes.LoadOptions{DataDir: dir, Builtin: olmes.BuiltinOptions{Limit: limit},
		Build: olmes.BuildOptions{Limit: limit}, DumpLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(task *olmes.Task) []any {
		var out []any
		for _, in := range task.Instances {
			out = append(out, in.NativeID)
		}
		return out
	}
	if got, w := ids(tasks[0]), ids(want); !slices.Equal(got, w) || len(got) != limit {
		t.Errorf("eval.limit %d scores BoolQ docs %v; olmolab eval --limit %d scores %v", limit, got, limit, w)
	}
}

// TestSharedEvaluator: the interactive lab shares one evaluator between the
// runs of a session. A later run of another model size (and sequence length)
// is scored as by an evaluator of its own; it was scored on the engine shaped
// for the first run's model, holding part of its weights.
func TestSharedEvaluator(t *testing.T) {
	root := t.TempDir()
	shared := NewOLMESEvaluator("")
	over := []string{"eval.tasks=[fact_qa_seen]", "eval.limit=40", "global_batch_size=512", "max_tokens=5120"}
	// the first run evaluates more than once, so the shared engine exists
	if _, err := runToEnd(t, RunParams{Recipe: parseTiny(t, append(over, "sequence_length=128", "eval.interval=4")...), RunsDir: root, Name: "a", Evaluator: shared}); err != nil {
		t.Fatal(err)
	}
	second := append(over, "model=cpu_s", "sequence_length=256")
	got, err := runToEnd(t, RunParams{Recipe: parseTiny(t, second...), RunsDir: root, Name: "b", Evaluator: shared})
	if err != nil {
		t.Fatal(err)
	}
	want, err := runToEnd(t, RunParams{Recipe: parseTiny(t, second...), RunsDir: root, Name: "c", Evaluator: NewOLMESEvaluator("")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Evals) == 0 || !slices.Equal(got.Evals, want.Evals) {
		t.Errorf("second run with the shared evaluator:\n%v\nwith its own:\n%v", got.Evals, want.Evals)
	}
}

// TestEvalTruncationWarns: requests longer than the run's rows are scored on
// their last tokens only (few-shot examples and question cut away); the run
// says so once, in a warning, as olmolab eval does under its table.
func TestEvalTruncationWarns(t *testing.T) {
	dir := t.TempDir()
	var lines []byte
	for i := range 8 {
		row, _ := json.Marshal(map[string]any{"question": fmt.Sprintf("is %d even", i), "answer": i%2 == 0,
			"title": fmt.Sprintf("Number %d", i), "passage": strings.Repeat(fmt.Sprintf("Number %d is a number. ", i), 20)})
		lines = append(append(lines, row...), '\n')
	}
	os.MkdirAll(filepath.Join(dir, "boolq"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "boolq", "dev.jsonl"), lines, 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if _, err := runToEnd(t, RunParams{Recipe: parseTiny(t, "eval.tasks=[boolq]", "eval.interval=5"), RunsDir: root, Name: "r", Evaluator: NewOLMESEvaluator(dir)}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "r", EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "longer than the run's 32-token rows"); n != 1 {
		t.Errorf("%d truncation warnings in events.jsonl, want 1 (the run evaluates several times)", n)
	}
}
