package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/olmolab/olmolab/model"
	"github.com/olmolab/olmolab/model/safetensors"
)

// TestOLMESRequestsSplitHint: a split the data directory lacks is refused by
// olmes requests with a hint naming its own --split, not olmolab eval's (the
// hint said "olmolab eval --split validation" under olmes requests).
func TestOLMESRequestsSplitHint(t *testing.T) {
	olmesData := filepath.Join("..", "shared", "data", "olmes")
	if _, err := os.Stat(olmesData); err != nil {
		t.Skip("../shared/data/olmes is absent")
	}
	code, _, stderr := runCLI("olmes", "requests", "--task", "arc_easy", "--formulation", "rc", "--data", olmesData)
	if code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, stderr)
	}
	if want := "write its requests instead of the test split's with olmolab olmes requests --split validation"; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
	if strings.Contains(stderr, "olmolab eval --split") || strings.Contains(stderr, "eval.split") {
		t.Errorf("olmes requests' hint names eval's --split:\n%s", stderr)
	}
}

// TestEvalWarningsOnStderr: eval --record's warning goes to stderr with its
// HINT on a line of its own (it was on stdout, "…; HINT: …"), and --json -
// puts the JSON alone on stdout, the table on stderr; --json into a pipe
// writes into it and leaves it a pipe (a temporary file was renamed over it,
// as root over /dev/stdout too).
func TestEvalWarningsOnStderr(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	if code, _, errs := runCLI("--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "a"); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errs)
	}
	run := filepath.Join(runs, "a")
	code, stdout, stderr := runCLI("eval", "--model", run, "--record", "--tasks", "arith", "--limit", "4")
	if code != 0 {
		t.Fatalf("eval --record: exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "warning:") || strings.Contains(stdout, "HINT:") {
		t.Errorf("eval --record: a warning on stdout:\n%s", stdout)
	}
	if !strings.Contains(stderr, "warning: 1 checkpoint scored") || !strings.Contains(stderr, "\nHINT: keep more") || strings.Contains(stderr, "; HINT:") {
		t.Errorf("eval --record: stderr lacks the warning with its HINT on a line of its own:\n%s", stderr)
	}

	ckpts, _ := filepath.Glob(filepath.Join(run, "checkpoints", "step-*"))
	if len(ckpts) == 0 {
		t.Fatal("the run kept no checkpoint")
	}
	code, stdout, stderr = runCLI("eval", "--model", ckpts[0], "--tasks", "arith", "--limit", "4", "--json", "-")
	if code != 0 {
		t.Fatalf("eval --json -: exit %d: %s", code, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res["scores"] == nil {
		t.Errorf("eval --json -: stdout is not the results' JSON alone (%v):\n%s", err, stdout)
	}
	if !strings.Contains(stderr, "arith  rc") {
		t.Errorf("eval --json -: the table is not on stderr:\n%s", stderr)
	}

	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got := make(chan []byte)
	go func() {
		b, _ := os.ReadFile(fifo) // opens once eval opens it to write
		got <- b
	}()
	code, _, stderr = runCLI("eval", "--model", ckpts[0], "--tasks", "arith", "--limit", "4", "--json", fifo)
	if code != 0 {
		t.Fatalf("eval --json FIFO: exit %d: %s", code, stderr)
	}
	var b []byte
	select {
	case b = <-got:
	case <-time.After(10 * time.Second):
		os.OpenFile(fifo, os.O_WRONLY, 0) // let the reader go
		t.Fatal("eval --json FIFO wrote nothing into the pipe")
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Errorf("eval --json FIFO: the pipe got no JSON (%v): %q", err, b)
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("eval --json FIFO: %s is no longer a pipe: %v", fifo, st.Mode())
	}
}

// evalJSON runs eval with --json - and returns the results it wrote on stdout.
func evalJSON(t *testing.T, args ...string) (res struct {
	Scores []struct {
		Metrics map[string]float64 `json:"metrics"`
	} `json:"scores"`
	Longest   int `json:"longest_input"`
	Truncated int `json:"truncated"`
	Context   int `json:"context"`
}, stderr string) {
	t.Helper()
	code, stdout, stderr := runCLI(append(append([]string{"eval"}, args...), "--json", "-")...)
	if code != 0 {
		t.Fatalf("eval %v: exit %d: %s", args, code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res.Scores) == 0 {
		t.Fatalf("eval %v: %v:\n%s", args, err, stdout)
	}
	return res, stderr
}

// TestEvalDefaultContextIsOLMES: a checkpoint of 4096 positions is scored at
// OLMES's 2048 tokens by default, a longer request cut on the left as OLMES
// cuts it, the same scores as --seq 2048 (the default was the model's 4096
// positions, which scored it whole: another number than OLMES's); --seq 4096
// still scores it whole.
func TestEvalDefaultContextIsOLMES(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ck")
	if code, _, errs := runCLI("train", "--preset", "cpu_xs", "--steps", "1", "--batch", "2", "--seq", "16", "--out", dir); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	ctx := strings.Repeat("The cat sat on the mat and the dog ran to the park. ", 150) + "Question: where did the dog run?\nAnswer:"
	var lines []string
	for i, c := range []string{" to the park", " to the mat"} {
		l, _ := json.Marshal(map[string]any{"request_type": "loglikelihood", "task_name": "long", "doc_id": 0, "idx": i, "label": 0,
			"doc": map[string]any{"gold": 0}, "request": map[string]string{"context": ctx, "continuation": c}})
		lines = append(lines, string(l))
	}
	dump := filepath.Join(t.TempDir(), "requests.jsonl")
	if err := os.WriteFile(dump, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	def, _ := evalJSON(t, "--model", dir, "--tasks", dump)
	if def.Longest <= 2048 {
		t.Fatalf("the request is %d tokens, not longer than 2048", def.Longest)
	}
	if def.Context != 2048 || def.Truncated != 2 {
		t.Errorf("default: context %d, %d requests cut; want OLMES's 2048 and both cut", def.Context, def.Truncated)
	}
	cut, _ := evalJSON(t, "--model", dir, "--tasks", dump, "--seq", "2048")
	for m, v := range cut.Scores[0].Metrics {
		if def.Scores[0].Metrics[m] != v {
			t.Errorf("%s: %v by default, %v at --seq 2048", m, def.Scores[0].Metrics[m], v)
		}
	}
	whole, _ := evalJSON(t, "--model", dir, "--tasks", dump, "--seq", "4096")
	if whole.Context != 4096 || whole.Truncated != 0 {
		t.Errorf("--seq 4096: context %d, %d requests cut (longest %d); want 4096 and none", whole.Context, whole.Truncated, whole.Longest)
	}
}

// TestEvalTrainedContextHint: a run trained on 32-token sequences is scored at
// 32 tokens, and the hint under the table says the model was trained at 32
// rather than naming the --seq (465) that scores the requests whole at
// positions it never trained at (it said "--seq 465 scores them whole (the
// model has 4096 positions)"); a --seq past 32 is warned of.
func TestEvalTrainedContextHint(t *testing.T) {
	olmesData := filepath.Join("..", "shared", "data", "olmes")
	if _, err := os.Stat(olmesData); err != nil {
		t.Skip("../shared/data/olmes is absent")
	}
	runs := filepath.Join(t.TempDir(), "runs")
	if code, _, errs := runCLI("--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "a"); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errs)
	}
	run := filepath.Join(runs, "a")
	args := []string{"eval", "--model", run, "--data", olmesData, "--tasks", "arc_easy", "--split", "validation", "--limit", "2"}
	code, stdout, stderr := runCLI(args...)
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	flat := strings.Join(strings.Fields(stdout), " ")
	if want := "HINT: the model was trained on 32-token sequences, " + filepath.Join(run, "recipe.yaml") + "'s sequence_length: a longer --seq scores them at positions it never trained at"; !strings.Contains(flat, want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
	if strings.Contains(flat, "scores them whole") {
		t.Errorf("the hint invites scoring past the trained context:\n%s", stdout)
	}
	code, _, stderr = runCLI(append(args, "--seq", "64")...)
	if code != 0 {
		t.Fatalf("eval --seq 64: exit %d: %s", code, stderr)
	}
	if want := "warning: --seq 64 is longer than the 32-token sequences the model was trained on"; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}

// TestEvalTokenizerGuess: a checkpoint of no run, without a tokenizer.json,
// whose vocabulary is none of olmolab's tokenizers' was scored with dolma2, a
// guess, without a word: one too small for dolma2's ids is now refused, exit
// 2, naming config.json's vocab_size and the tokenizers that fit; a larger one
// is scored with dolma2 and a warning on stderr, its HINT on a line of its own.
func TestEvalTokenizerGuess(t *testing.T) {
	golden, err := model.ReadConfigFile(filepath.Join("model", "testdata", "golden", "olmo2-tiny", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	ckpt := func(vocab int) string {
		dir := filepath.Join(t.TempDir(), fmt.Sprint(vocab))
		cfg := golden
		cfg.VocabSize = vocab
		params := make([]float32, model.NewLayout(cfg).Size())
		for i := range params {
			params[i] = 0.01 * float32(i%7-3)
		}
		if err := model.SaveHF(dir, cfg, params, safetensors.F32, 0); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	for _, c := range []struct {
		vocab int
		code  int
		want  []string
	}{
		{96, 2, []string{"config.json: vocab_size 96 is none of olmolab's tokenizers' (100352 dolma2, 2048 world, 384 bytes), and there is no tokenizer.json", "\nHINT: none of olmolab's tokenizers fits 96 ids"}},
		{4096, 2, []string{"config.json: vocab_size 4096 is none of olmolab's tokenizers'", "\nHINT: --tokenizer world or bytes if the model was trained with it"}},
		{100480, 0, []string{"warning: ", "config.json: vocab_size 100480 is not dolma2's 100352 and no tokenizer.json says which tokenizer the model was trained with: scoring with dolma2, a guess", "\nHINT: --tokenizer NAME"}},
	} {
		code, _, stderr := runCLI("eval", "--model", ckpt(c.vocab), "--tasks", "arith", "--limit", "2")
		if code != c.code {
			t.Errorf("vocab %d: exit %d, want %d:\n%s", c.vocab, code, c.code, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("vocab %d: stderr lacks %q:\n%s", c.vocab, w, stderr)
			}
		}
		if strings.Contains(stderr, "; HINT:") {
			t.Errorf("vocab %d: a HINT not on a line of its own:\n%s", c.vocab, stderr)
		}
	}
	// a vocabulary of olmolab's, or --tokenizer, is no guess
	if code, _, stderr := runCLI("eval", "--model", ckpt(4096), "--tokenizer", "world", "--tasks", "arith", "--limit", "2"); code != 0 || strings.Contains(stderr, "warning") {
		t.Errorf("--tokenizer world: exit %d:\n%s", code, stderr)
	}
}
