package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
