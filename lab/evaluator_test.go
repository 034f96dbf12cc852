package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
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
	// no --seq past the 32 tokens the model trains on: it said "olmolab eval --seq N scores them whole"
	if strings.Contains(string(b), "--seq") || !strings.Contains(string(b), "the model trains on 32-token sequences") {
		t.Errorf("the warning invites scoring past the run's sequence_length, or does not say it:\n%s", b)
	}
}

// writeARCEasyDev writes n ARC-Easy questions as ARC's published
// validation file (ARC-Easy-Dev.jsonl) under dir: a data directory with the
// validation split only, as shared/data/olmes and most HF downloads are.
func writeARCEasyDev(t *testing.T, dir string, n int) {
	t.Helper()
	var lines []byte
	for i := range n {
		row, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("q%d", i), "answerKey": "A",
			"question": map[string]any{"stem": fmt.Sprintf("What is %d plus one?", i), "choices": []any{
				map[string]any{"label": "A", "text": fmt.Sprint(i + 1)}, map[string]any{"label": "B", "text": fmt.Sprint(i + 2)}}}})
		lines = append(append(lines, row...), '\n')
	}
	p := filepath.Join(dir, "ARC-V1-Feb2018-2", "ARC-Easy", "ARC-Easy-Dev.jsonl")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, lines, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRunEvalSplit: a recipe's eval.split scores its OLMES tasks on that
// split, which is all a data directory of validation splits allows (without
// it the run is refused before training, with a hint naming eval.split); the
// split is in evals.jsonl, the eval events and the summary.
func TestRunEvalSplit(t *testing.T) {
	dir := t.TempDir()
	writeARCEasyDev(t, dir, 6)
	root := t.TempDir()
	_, err := StartRun(context.Background(), RunParams{Recipe: parseTiny(t, "eval.tasks=[arc_easy]"), RunsDir: root, Name: "test", Evaluator: NewOLMESEvaluator(dir), PeakFLOPS: 1e11})
	if err == nil || !strings.Contains(err.Error(), "tiny.yaml: eval.tasks:") || !strings.Contains(err.Error(), "no test split of arc_easy") ||
		!strings.Contains(err.Error(), "eval.split: validation in its recipe (--set eval.split=validation)") {
		t.Fatalf("OLMES's test split, which the data lacks: got %v", err)
	}
	sum, err := runToEnd(t, RunParams{Recipe: parseTiny(t, "eval.tasks=[arc_easy, fact_qa_seen]", "eval.split=validation", "eval.limit=4"),
		RunsDir: root, Name: "val", Evaluator: NewOLMESEvaluator(dir)})
	if err != nil {
		t.Fatal(err)
	}
	splits := func(scores []EvalScore) map[string]string {
		out := map[string]string{}
		for _, s := range scores {
			out[s.Task] = s.Split
		}
		return out
	}
	want := map[string]string{"arc_easy": "validation", "fact_qa_seen": ""} // built-in tasks have no split
	if got := splits(sum.Evals); !maps.Equal(got, want) {
		t.Errorf("summary's splits %v, want %v", got, want)
	}
	recs := readLines[EvalRecord](t, filepath.Join(root, "val", EvalsFile))
	if len(recs) == 0 {
		t.Fatal("no evals.jsonl records")
	}
	for _, r := range recs {
		if r.Split != want[r.Task] {
			t.Errorf("evals.jsonl: %s %s split %q, want %q", r.Task, r.Metric, r.Split, want[r.Task])
		}
	}
	n := 0
	for _, e := range readLines[Event](t, filepath.Join(root, "val", EventsFile)) {
		if e.Type == EvEval {
			n++
			if got := splits(e.Evals); !maps.Equal(got, want) {
				t.Errorf("eval event's splits %v, want %v", got, want)
			}
			if line := eventLine(e); !strings.Contains(line, "arc_easy (validation) ") {
				t.Errorf("progress line %q does not say arc_easy's split", line)
			}
		}
	}
	if n == 0 {
		t.Error("no eval events")
	}
	var b strings.Builder
	printScores(&b, sum.Evals)
	if !regexp.MustCompile(`(?m)^  task +split +formulation +metric +value$`).MatchString(b.String()) ||
		!regexp.MustCompile(`(?m)^  arc_easy +validation +rc +acc_per_char `).MatchString(b.String()) ||
		!regexp.MustCompile(`(?m)^  fact_qa_seen +- +`).MatchString(b.String()) {
		t.Errorf("summary table:\n%s", b.String())
	}
}

// readLines decodes a JSONL file, a T a line.
func readLines[T any](t *testing.T, path string) []T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var v T
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%s: %v: %q", path, err, l)
		}
		out = append(out, v)
	}
	return out
}

// TestRunEvalRequestDump: a recipe's eval.tasks takes an oe-eval request dump
// as olmolab eval --tasks does, a relative path from the directory olmolab
// runs in (as the recipe's data paths are), and the split its config.json
// names is recorded with its scores; eval.split leaves a dump alone.
func TestRunEvalRequestDump(t *testing.T) {
	work := t.TempDir()
	dump := filepath.Join(work, "dumps", "arc_easy", "val_rc_5shot")
	if err := os.MkdirAll(dump, 0o755); err != nil {
		t.Fatal(err)
	}
	var lines []byte
	for doc := range 3 {
		for idx, c := range []string{" red", " blue"} {
			row, _ := json.Marshal(map[string]any{"request_type": "loglikelihood", "task_name": "arc_easy", "doc_id": doc, "idx": idx, "label": 0,
				"native_id": fmt.Sprintf("q%d", doc), "request": map[string]any{"context": fmt.Sprintf("Question: colour %d?\nAnswer:", doc), "continuation": c},
				"doc": map[string]any{"id": fmt.Sprintf("q%d", doc), "query": fmt.Sprintf("Question: colour %d?\nAnswer:", doc), "choices": []string{"red", "blue"}, "gold": 0}})
			lines = append(append(lines, row...), '\n')
		}
	}
	cfg := `{"task_name": "arc_easy", "task_config": {"task_name": "arc_easy", "task_core": "arc_easy", "split": "validation", "num_shots": 5, "primary_metric": "acc_raw"}}`
	if os.WriteFile(filepath.Join(dump, "requests.jsonl"), lines, 0o644) != nil || os.WriteFile(filepath.Join(dump, "config.json"), []byte(cfg), 0o644) != nil {
		t.Fatal("writing the dump")
	}
	t.Chdir(work)
	root := t.TempDir()
	sum, err := runToEnd(t, RunParams{Recipe: parseTiny(t, "eval.tasks=[dumps/arc_easy/val_rc_5shot]", "eval.split=test"),
		RunsDir: root, Name: "d", Evaluator: NewOLMESEvaluator(t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	var primary []string
	for _, s := range sum.Evals {
		if s.Primary {
			primary = append(primary, s.Task+" "+s.Split+" "+s.Metric)
		}
	}
	if want := []string{"arc_easy validation acc_raw"}; !slices.Equal(primary, want) {
		t.Errorf("the dump's primary scores %v, want %v", primary, want)
	}
	for _, r := range readLines[EvalRecord](t, filepath.Join(root, "d", EvalsFile)) {
		if r.Split != "validation" {
			t.Errorf("evals.jsonl: %s %s split %q, want the dump's validation", r.Task, r.Metric, r.Split)
		}
	}
}

// TestRunEvalSuiteScores: a run whose eval.tasks hold an OLMES benchmark in both formulations records its
// <task>::olmes at every evaluation, the better of the two primary scores (olmes.md §1.1), as eval --record
// does, so that snr ranks the run's own series of it.
func TestRunEvalSuiteScores(t *testing.T) {
	dir := t.TempDir()
	writeARCEasyDev(t, dir, 6)
	root := t.TempDir()
	if _, err := runToEnd(t, RunParams{Recipe: parseTiny(t, "eval.tasks=[arc_easy, arc_easy:mc]", "eval.split=validation", "eval.limit=4"),
		RunsDir: root, Name: "suite", Evaluator: NewOLMESEvaluator(dir)}); err != nil {
		t.Fatal(err)
	}
	primary := map[string]map[int64]float64{} // formulation -> step -> primary score
	for _, r := range readLines[EvalRecord](t, filepath.Join(root, "suite", EvalsFile)) {
		if r.Task != "arc_easy" && r.Task != "arc_easy::olmes" || !r.Primary {
			continue
		}
		if primary[r.Form] == nil {
			primary[r.Form] = map[int64]float64{}
		}
		primary[r.Form][r.Step] = r.Value
	}
	if len(primary["mc_or_rc"]) == 0 || len(primary["mc_or_rc"]) != len(primary["rc"]) {
		t.Fatalf("arc_easy::olmes at %d evaluations, arc_easy at %d", len(primary["mc_or_rc"]), len(primary["rc"]))
	}
	for step, v := range primary["mc_or_rc"] {
		if want := math.Max(primary["mc"][step], primary["rc"][step]); v != want {
			t.Errorf("arc_easy::olmes at step %d = %v, want max(mc %v, rc %v)", step, v, primary["mc"][step], primary["rc"][step])
		}
	}
}
