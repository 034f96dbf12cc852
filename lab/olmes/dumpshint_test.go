package olmes

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestMissingSplitNamesTheDumps: where a data directory lacks a benchmark's raw split but holds oe-eval's request
// dumps of it on that split (shared/data/olmes: HellaSwag, ARC and OpenBookQA test), the error names them, with
// their task names and instances, for --tasks; dumps of another split or task are not named.
func TestMissingSplitNamesTheDumps(t *testing.T) {
	dir := t.TempDir()
	dump := func(variant, taskName, split string, limit int) {
		t.Helper()
		d := filepath.Join(dir, "requests", "hellaswag", variant)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		core, _, _ := strings.Cut(taskName, ":")
		cfg := `{"task_name": "` + taskName + `", "task_config": {"task_name": "` + taskName + `", "task_core": "` + core +
			`", "split": "` + split + `", "limit": ` + strconv.Itoa(limit) + `, "num_shots": 5, "primary_metric": "acc_raw"}, "num_instances": 10042}`
		if err := os.WriteFile(filepath.Join(d, "config.json"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "requests.jsonl.gz"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dump("rc_5shot", "hellaswag", "validation", 1000)
	dump("mc_5shot", "hellaswag:mc", "validation", 1000)
	dump("train_rc", "hellaswag", "train", 1000)
	dump("piqa_rc", "piqa", "validation", 1000)
	want := dir + ": no validation split of hellaswag\nHINT: " + dir + " holds oe-eval's requests of hellaswag on the validation split, which olmolab eval --tasks DIR scores as they are: " +
		filepath.Join(dir, "requests", "hellaswag", "mc_5shot") + " (hellaswag:mc, 1000 instances), " +
		filepath.Join(dir, "requests", "hellaswag", "rc_5shot") + " (hellaswag, 1000 instances)\nlooked for "
	o := LoadOptions{DataDir: dir}
	_, err := LoadTasks([]string{"hellaswag"}, RC, o)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got\n%v\nwant it to start\n%s", err, want)
	}
	if _, cerr := CheckTasks([]string{"hellaswag"}, o); cerr == nil || cerr.Error() != err.Error() {
		t.Errorf("CheckTasks says\n%v\nLoadTasks\n%v", cerr, err)
	}
	// no dump of the split: the hint is what it was
	_, err = LoadTasks([]string{"hellaswag"}, RC, LoadOptions{DataDir: dir, Build: BuildOptions{Split: "test"}})
	if err == nil || strings.Contains(err.Error(), "oe-eval's requests") {
		t.Errorf("test split: %v", err)
	}
}

// TestDumpPrimaryMetricNote: a dump whose config.json names another primary metric than OLMES's config of its task
// (OLMo-in-loop-evals' arc_challenge, csqa and openbookqa RC: acc_per_char for acc_uncond) is scored on it, with a
// note that says so; one that agrees has none.
func TestDumpPrimaryMetricNote(t *testing.T) {
	line := func(docID, idx int, ctx, cont string) string {
		return `{"request_type": "loglikelihood", "doc": {"query": "Q?", "choices": ["yes", "no"], "gold": 0}, "request": {"context": "` + ctx +
			`", "continuation": "` + cont + `"}, "idx": ` + strconv.Itoa(idx) + `, "task_name": "arc_challenge", "doc_id": ` + strconv.Itoa(docID) +
			`, "native_id": "a", "label": 0}`
	}
	dump := line(0, 0, "Question: Q?\\nAnswer:", " yes") + "\n" + line(0, 1, "Question: Q?\\nAnswer:", " no") + "\n" +
		line(1000000, 0, "Answer:", " yes") + "\n" + line(1000000, 1, "Answer:", " no") + "\n"
	for _, tc := range []struct {
		primary string
		note    bool
	}{{"acc_per_char", true}, {"acc_uncond", false}} {
		dir := t.TempDir()
		var b bytes.Buffer
		z := gzip.NewWriter(&b)
		z.Write([]byte(dump))
		z.Close()
		path := filepath.Join(dir, "requests.jsonl.gz")
		os.WriteFile(path, b.Bytes(), 0o644)
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"task_name": "arc_challenge", "task_config": {"task_name": "arc_challenge", "task_core": "arc_challenge", "split": "test", "primary_metric": "`+tc.primary+`", "num_shots": 5}}`), 0o644)
		task, err := LoadRequestsTask(path)
		if err != nil {
			t.Fatal(err)
		}
		want := path + ": the dump's config.json makes acc_per_char its primary metric, where OLMES's arc_challenge:rc::olmes has acc_uncond; its primary score, and the suites', are the dump's (the table has both)"
		if task.Primary != tc.primary || tc.note != slices.Contains(task.Notes, want) || !tc.note && len(task.Notes) > 0 {
			t.Errorf("config primary %s: task primary %s, notes %q", tc.primary, task.Primary, task.Notes)
		}
	}
}
