package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/olmes"
	"github.com/olmolab/olmolab/lab/sweep"
)

// TestCLI checks exit codes and messages of the front door.
func TestCLI(t *testing.T) {
	golden := filepath.Join("model", "testdata", "golden", "olmo2-tiny")
	corrupt := filepath.Join(t.TempDir(), "ckpt")
	os.MkdirAll(corrupt, 0o755)
	cfg, _ := os.ReadFile(filepath.Join(golden, "config.json"))
	os.WriteFile(filepath.Join(corrupt, "config.json"), cfg, 0o644)
	w, _ := os.ReadFile(filepath.Join(golden, "model.safetensors"))
	os.WriteFile(filepath.Join(corrupt, "model.safetensors"), w[:len(w)/3], 0o644)

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"help", []string{"--help"}, 0, "verify", ""},
		{"no args", nil, 2, "", "usage: olmolab"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"unknown flag", []string{"--frob"}, 2, "", "unknown flag --frob"},
		{"unknown subcommand flag", []string{"presets", "--frob"}, 2, "", "usage: olmolab"},
		{"presets", []string{"presets"}, 0, "7,298,617,344", ""},
		{"verify ok", []string{"verify", "--model", golden, "--case", filepath.Join(golden, "case.safetensors")}, 0, "0 outside", ""},
		// the CPU backends are checked on every tensor --float64 checks,
		// activations too (cpu-f64 compared 65 of olmo2-tiny's 70)
		{"verify cpu-f64 backend", []string{"verify", "--backend", "cpu-f64", "--model", golden, "--case", filepath.Join(golden, "case.safetensors")}, 0, "70 tensors compared in float32 on cpu-f64: 70 within tolerance", ""},
		{"verify float64", []string{"verify", "--float64", "--model", golden, "--case", filepath.Join(golden, "case.safetensors")}, 0, "70 tensors compared in float64: 70 within tolerance", ""},
		// --float64 checks the CPU engine: it checked it, exit 0, for any --backend
		{"verify float64 of another backend", []string{"verify", "--float64", "--backend", "tpu", "--model", golden, "--case", filepath.Join(golden, "case.safetensors")}, 2, "", "verify --float64 checks the CPU engine in float64, not --backend tpu"},
		{"verify missing flags", []string{"verify"}, 2, "", "needs --model"},
		{"verify corrupt weights", []string{"verify", "--model", corrupt, "--case", filepath.Join(golden, "case.safetensors")}, 2, "", "model.safetensors"},
		{"verify case of another model", []string{"verify", "--model", golden, "--case", filepath.Join("model", "testdata", "golden", "olmo2-gqa", "case.safetensors")}, 2, "", "is not a case of this model (" + filepath.Join(golden, "config.json") + "): vocab_size 128 (the model's 96)"},
		{"verify missing case", []string{"verify", "--model", golden, "--case", "nope.safetensors"}, 2, "", "nope.safetensors"},
		{"unknown preset", []string{"train", "--preset", "olmo3_huge"}, 2, "", "unknown model preset"},
		{"unknown backend", []string{"verify", "--backend", "tpu", "--model", golden, "--case", filepath.Join(golden, "case.safetensors")}, 2, "", `unknown backend "tpu"`},
		{"train unknown backend", []string{"train", "--backend", "tpu", "--steps", "1"}, 2, "", `unknown backend "tpu"`},
		{"eval unknown backend", []string{"eval", "--backend", "tpu", "--model", golden, "--tasks", "arith", "--limit", "1"}, 2, "", `unknown backend "tpu"`},
		// a default build asked for the GPU says how to get one that has it
		{"train cuda in a default build", []string{"train", "--backend", "cuda", "--steps", "1"}, 2, "", "has no CUDA engine. HINT: on a machine with an NVIDIA GPU"},
		{"eval cuda in a default build", []string{"eval", "--backend", "cuda", "--model", golden, "--tasks", "arith", "--limit", "1"}, 2, "", "has no CUDA engine. HINT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, out.String())
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, errb.String())
			}
		})
	}
}

// TestTrainSmoke runs the train command briefly and saves a checkpoint that
// loads back.
func TestTrainSmoke(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var out, errb bytes.Buffer
	if code := run([]string{"train", "--preset", "cpu_xs", "--steps", "5", "--batch", "2", "--seq", "16", "--out", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "step    5") {
		t.Errorf("no step 5 line:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Error(err)
	}
	// --out over a directory that holds something (here the checkpoint just
	// written, or someone's files) is refused before training, untouched
	before, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	for _, target := range []string{dir, t.TempDir()} {
		os.WriteFile(filepath.Join(target, "notes.txt"), []byte("mine"), 0o644)
		out.Reset()
		errb.Reset()
		code := run([]string{"train", "--preset", "cpu_xs", "--steps", "5", "--batch", "2", "--seq", "16", "--seed", "2", "--out", target}, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), "train --out "+target+": the directory exists and is not empty") || strings.Contains(out.String(), "step") {
			t.Errorf("train --out over a non-empty %s: exit %d\nstdout: %s\nstderr: %s", target, code, out.String(), errb.String())
		}
		if b, _ := os.ReadFile(filepath.Join(target, "notes.txt")); string(b) != "mine" {
			t.Errorf("notes.txt changed: %q", b)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(before, after) {
		t.Error("the refused train replaced the checkpoint")
	}
}

func TestTokenizeCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "docs.jsonl")
	os.WriteFile(in, []byte("{\"text\": \"hello world\"}\n{\"text\": \"second document\"}\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"tokenize", in, "--out", filepath.Join(dir, "tok"), "--tokenizer", "dolma2"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "tok", "part-00000.npy"))
	if err != nil {
		t.Fatal(err)
	}
	// "hello world" → 15339 1917, EOS 100257, then the second document and its EOS
	if len(b)%4 != 0 || len(b) < 12 || b[0] != 0xEB || b[1] != 0x3B {
		t.Errorf("token file starts % x (len %d), want uint32 15339 first", b[:min(len(b), 12)], len(b))
	}
	// the summary says how fast: documents tokenized in under a second
	// would read as nothing of use in "seconds\t0.0"
	for _, w := range []string{"documents\t2", "tokens\t6\n", "tokens/s\t"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("summary lacks %q:\n%s", w, out.String())
		}
	}
	// --resume of a finished run keeps its file; with another tokenizer it is refused, naming it
	out.Reset()
	errb.Reset()
	if code := run([]string{"tokenize", in, "--out", filepath.Join(dir, "tok"), "--resume"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "resumed: 1 file of 1 written before were kept") {
		t.Errorf("--resume of a finished run: exit %d:\n%s", code, errb.String())
	}
	if !strings.Contains(out.String(), "tokens/s\t0\n") { // nothing tokenized this time
		t.Errorf("--resume of a finished run: summary says it tokenized:\n%s", out.String())
	}
	errb.Reset()
	if code := run([]string{"tokenize", in, "--out", filepath.Join(dir, "tok"), "--resume", "--tokenizer", "world"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--tokenizer world (the run's was dolma2)") {
		t.Errorf("--resume with another tokenizer: exit %d, want 2 and the tokenizers named:\n%s", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"tokenize", in, "--out", filepath.Join(dir, "t3"), "--dtype", "int8"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `--dtype "int8": want uint16 or uint32`) {
		t.Errorf("--dtype int8: exit %d, want 2 and the flag named:\n%s", code, errb.String())
	}
	if code := run([]string{"tokenize", filepath.Join(dir, "missing.jsonl"), "--out", filepath.Join(dir, "t2")}, &out, &errb); code != 2 {
		t.Errorf("missing input: exit %d, want 2", code)
	}
}

func TestEvalCommands(t *testing.T) {
	golden := filepath.Join("model", "testdata", "golden", "olmo2-tiny")
	olmesData := filepath.Join("..", "shared", "data", "olmes")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"eval builtin", []string{"eval", "--model", golden, "--tokenizer", "bytes", "--tasks", "arith", "--limit", "8", "--seq", "16"}, 2, "", "vocabulary"},
		{"eval unknown task", []string{"eval", "--model", golden, "--tasks", "nosuchtask"}, 2, "", "nosuchtask"},
		{"eval no model", []string{"eval"}, 2, "", "needs --model"},
		{"eval seq 0", []string{"eval", "--model", golden, "--seq", "0"}, 2, "", "eval: --seq 0: the context length must be at least 1"},
		{"eval limit -5", []string{"eval", "--model", golden, "--limit", "-5"}, 2, "", "eval: --limit -5"},
		{"eval val not a count", []string{"eval", "--model", golden, "--val", "lots"}, 2, "", `eval: --val "lots": want tokens per source`},
		{"eval val run, no run", []string{"eval", "--model", golden, "--tokenizer", "bytes", "--tasks", "", "--val", "run"}, 2, "", "belongs to no run"},
		{"eval json into a missing dir", []string{"eval", "--model", golden, "--json", "/no/such/dir/x.json"}, 2, "", "eval --json /no/such/dir/x.json: directory /no/such/dir does not exist"},
		{"snr json into a missing dir", []string{"snr", "/no/such/run", "--json", "/no/such/dir/x.json"}, 2, "", "snr --json /no/such/dir/x.json: directory"},
		{"tokenize max-file-mb 0", []string{"tokenize", "in.jsonl", "--out", "/tmp/x", "--max-file-mb", "0"}, 2, "", "--max-file-mb 0"},
		{"snr json into a directory", []string{"snr", "/no/such/run", "--json", os.TempDir()}, 2, "", "snr --json " + os.TempDir() + ": a directory"},
		{"snr nothing", []string{"snr"}, 2, "", "snr needs"},
		{"snr missing", []string{"snr", "/no/such/run"}, 2, "", "/no/such/run"},
		{"snr given a recipe", []string{"snr", "testdata/tiny.yaml"}, 2, "", "testdata/tiny.yaml: not an evals.jsonl file (a YAML file, such as a recipe)\nHINT: pass a run directory or its evals.jsonl"},
		{"snr last 0", []string{"snr", "/no/such/run", "--last", "0"}, 2, "", "snr: --last 0: want the number of checkpoints"},
		{"snr last -2", []string{"snr", "/no/such/run", "--last", "-2"}, 2, "", "snr: --last -2"},
		{"snr last 1 per-run", []string{"snr", "/no/such/run", "--last", "1"}, 2, "", "snr: --last 1: per-run noise"},
		{"olmes bad sub", []string{"olmes", "frob"}, 2, "", "requests"},
		{"olmes requests a built-in task", []string{"olmes", "requests", "--task", "arith", "--data", olmesData}, 2, "",
			"HINT: arith is a built-in task, evaluated directly (olmolab eval --tasks arith); requests are built for OLMES tasks: " + strings.Join(olmes.OLMESTaskNames(), ", ") + " (or mmlu_<subject>)\n"},
		{"olmes bad formulation", []string{"olmes", "requests", "--task", "piqa", "--formulation", "xx", "--data", olmesData}, 2, "", "rc or mc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.stderr) || !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout %q / stderr %q lack %q / %q", out.String(), errb.String(), tc.stdout, tc.stderr)
			}
		})
	}
	if _, err := os.Stat(olmesData); err != nil {
		t.Skip("../shared/data/olmes is absent")
	}
	var out, errb bytes.Buffer
	if code := run([]string{"olmes", "requests", "--task", "piqa", "--formulation", "mc", "--data", olmesData}, &out, &errb); code != 0 {
		t.Fatalf("olmes requests: exit %d: %s", code, errb.String())
	}
	if n := strings.Count(out.String(), "\n"); n < 1000 || !strings.Contains(out.String(), `"continuation"`) {
		t.Errorf("olmes requests wrote %d lines", n)
	}
}

func TestEvalCheckpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ck")
	var out, errb bytes.Buffer
	if code := run([]string{"train", "--preset", "cpu_xs", "--steps", "2", "--batch", "2", "--seq", "16", "--out", dir}, &out, &errb); code != 0 {
		t.Fatalf("train: %s", errb.String())
	}
	out.Reset()
	if code := run([]string{"eval", "--model", dir, "--tasks", "arith,fact_qa_heldout", "--limit", "8", "--seq", "64"}, &out, &errb); code != 0 {
		t.Fatalf("eval exit %d: %s", code, errb.String())
	}
	for _, w := range []string{"(tokenizer world)", "arith", "fact_qa_heldout", "acc_per_char"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("eval output lacks %q:\n%s", w, out.String())
		}
	}
	// a --seq beyond the model's positions is scored at them, and says so once
	errb.Reset()
	if code := run([]string{"eval", "--model", dir, "--tasks", "arith", "--limit", "2", "--seq", "5000"}, &out, &errb); code != 0 {
		t.Fatalf("eval --seq 5000: exit %d: %s", code, errb.String())
	}
	if want := "eval: --seq 5000 is longer than the model's 4096 positions: scoring at 4096"; strings.Count(errb.String(), want) != 1 {
		t.Errorf("eval --seq 5000: stderr %q, want %q once", errb.String(), want)
	}
}

// TestEvalLimitAndSplit: --limit caps OLMES tasks and request dumps as it
// does built-in tasks (it once applied to built-in tasks only, so --limit 20
// on a dump scored all of it), and --split scores the split a data directory
// has, which the missing-split error points to.
func TestEvalLimitAndSplit(t *testing.T) {
	olmesData := filepath.Join("..", "shared", "data", "olmes")
	if _, err := os.Stat(olmesData); err != nil {
		t.Skip("../shared/data/olmes is absent")
	}
	dir := filepath.Join(t.TempDir(), "ck")
	var out, errb bytes.Buffer
	if code := run([]string{"train", "--preset", "cpu_xs", "--steps", "1", "--batch", "2", "--seq", "16", "--out", dir}, &out, &errb); code != 0 {
		t.Fatalf("train: %s", errb.String())
	}
	dump := filepath.Join(olmesData, "requests", "arc_easy", "val_rc_5shot", "requests.jsonl.gz")
	// the same weights under a config.json of 128 positions
	short := filepath.Join(t.TempDir(), "short")
	os.MkdirAll(short, 0o755)
	w, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	os.WriteFile(filepath.Join(short, "model.safetensors"), w, 0o644)
	cj, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	os.WriteFile(filepath.Join(short, "config.json"), []byte(strings.Replace(string(cj), `"max_position_embeddings": 4096`, `"max_position_embeddings": 128`, 1)), 0o644)
	for _, c := range []struct {
		name string
		args []string
		code int
		want string // a line of stdout (fields joined by one space), or of stderr when code != 0
	}{
		{"dump", []string{"--tasks", dump, "--limit", "3"}, 0, "arc_easy rc olmes validation 3 acc_per_char"},
		// the table names the split each benchmark was scored on (it was in
		// --json only, so validation scores read as OLMES's test figures)
		{"olmes task on its split", []string{"--tasks", "piqa", "--limit", "4"}, 0, "task form group split n primary score"},
		{"olmes task on its split, row", []string{"--tasks", "piqa", "--limit", "4"}, 0, "piqa rc olmes validation 4 acc_per_char"},
		{"another split", []string{"--tasks", "arc_easy", "--split", "validation", "--limit", "2"}, 0, "arc_easy rc olmes validation 2 acc_per_char"},
		{"built-in beside a benchmark", []string{"--tasks", "arith,arc_easy", "--split", "validation", "--limit", "2"}, 0, "arith rc unseen - 2 acc_raw"},
		// requests cut to --seq are counted against --seq, not "the model's
		// context" (4096 positions here), and the way to score them whole is named
		{"truncated to --seq", []string{"--tasks", "arc_easy", "--split", "validation", "--limit", "2"}, 0,
			"are longer than the 64-token context and were scored on their last 64 tokens, few-shot examples and question cut away"},
		{"truncated to --seq, hint", []string{"--tasks", "arc_easy", "--split", "validation", "--limit", "2"}, 0, "HINT: --seq 465 scores them whole (the model has 4096 positions)"},
		// a model of fewer positions than the longest request cannot score it whole
		{"truncated to --seq, short model", []string{"--model", short, "--tasks", "arc_easy", "--split", "validation", "--limit", "2"}, 0,
			"HINT: --seq 128 scores more of them (the model has 128 positions); the longest needs 465"},
		{"missing split", []string{"--tasks", "arc_easy"}, 2, "score that one instead of the test split with olmolab eval --split validation, or in a run with eval.split: validation in its recipe"},
		{"bad split", []string{"--tasks", "arc_easy", "--split", "dev"}, 2, `eval: --split "dev": want train, validation or test`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"eval", "--model", dir, "--seq", "64", "--data", olmesData}, c.args...)
			if code := run(args, &out, &errb); code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, errb.String())
			}
			got := out.String()
			if c.code != 0 {
				got = errb.String()
			}
			if !strings.Contains(strings.Join(strings.Fields(got), " "), c.want) {
				t.Errorf("output lacks %q:\n%s", c.want, got)
			}
		})
	}
}

func TestBenchCommand(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"bench", "--vocab", "64", "--d-model", "32", "--layers", "1", "--heads", "2", "--mlp", "64", "--seq", "16", "--batch", "2", "--steps", "2", "--warmup", "1", "--gemm", "64"}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "tokens_per_s=") || !strings.Contains(last, " step_ms=") || !strings.Contains(last, " params=") {
		t.Errorf("last line %q", last)
	}
	if !strings.Contains(out.String(), "sgemm 64³:") {
		t.Errorf("no GEMM line:\n%s", out.String())
	}
	if code := run([]string{"bench", "--heads", "3", "--d-model", "32", "--gemm", ""}, &out, &errb); code != 2 {
		t.Errorf("bad shape: exit %d, want 2", code)
	}
	if code := run([]string{"bench", "--stat", "mode", "--gemm", ""}, &out, &errb); code != 2 {
		t.Errorf("bad --stat: exit %d, want 2", code)
	}

	// --scaling alternates 1 and --threads threads and reports their ratio.
	out.Reset()
	args = []string{"bench", "--vocab", "64", "--d-model", "32", "--layers", "1", "--heads", "2", "--mlp", "64", "--seq", "16", "--batch", "2",
		"--steps", "1", "--warmup", "0", "--gemm", "", "--threads", "2", "--scaling", "2", "--stat", "mean"}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("--scaling exit %d: %s", code, errb.String())
	}
	for _, w := range []string{"round 2: 1 thread ", "scaling (median of 2 rounds): 1 thread ", " 2 threads ", "speed-up "} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("--scaling output lacks %q:\n%s", w, out.String())
		}
	}
}

// TestEngineSizesFromFlags: bench's and train's shapes, batch and GEMM sizes
// that the host cannot hold are an error before anything is allocated (each
// used to end in a fatal out of memory: --layers 2000000000 built the layout,
// --steps 1e10 sized the timings, --gemm 1000000 asked for 12 TB).
func TestEngineSizesFromFlags(t *testing.T) {
	defer func(f func() int64) { memAvailable = f }(memAvailable)
	memAvailable = func() int64 { return 1 << 30 }
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bench", "--layers", "2000000000", "--gemm", ""}, 2, "only 1.0 GiB is available"},
		{[]string{"bench", "--d-model", "4611686018427387904", "--heads", "1", "--gemm", ""}, 2, "hidden_size 4611686018427387904"},
		{[]string{"bench", "--seq", "2000000000", "--gemm", ""}, 2, "--batch 4 × --seq 2000000000 is more than 2147483647 tokens"},
		{[]string{"bench", "--batch", "9000000000000000000", "--seq", "2", "--gemm", ""}, 2, "more than 2147483647 tokens"},
		{[]string{"bench", "--batch", "4096", "--seq", "4096", "--gemm", ""}, 2, "lower --batch or --seq"},
		{[]string{"bench", "--gemm", "64,1000000"}, 2, "--gemm 1000000: three 1000000×1000000 float32 matrices need"},
		{[]string{"bench", "--gemm", "4000000000"}, 2, "--gemm 4000000000"},
		{[]string{"train", "--batch", "1000000000"}, 2, "more than 2147483647 tokens"},
		{[]string{"train", "--preset", "cpu_s", "--batch", "20000", "--seq", "1024"}, 2, "only 1.0 GiB is available"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != tc.code || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("exit %d, want %d; stderr %q lacks %q", code, tc.code, errb.String(), tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("stdout before the refusal: %q", out.String())
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestEvalValidation: eval --val run on a run's checkpoint gives exactly the
// validation loss the run recorded at that step, and --val N on a checkpoint
// of no run scores every built-in source.
func TestEvalValidation(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "v", "--set", "eval.val.tokens=256"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	recs, err := olmes.ReadEvalRecords(filepath.Join(runs, "v", "evals.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{} // the final evaluation's val/ scores
	for _, r := range recs {
		if strings.HasPrefix(r.Task, "val/") && r.Metric == olmes.MetricCELoss {
			want[r.Task] = r.Value
		}
	}
	if len(want) != 2 {
		t.Fatalf("the run recorded %v, want val/web and val/qa", want)
	}
	js := filepath.Join(t.TempDir(), "eval.json")
	out.Reset()
	if code := run([]string{"eval", "--model", filepath.Join(runs, "v"), "--tasks", "", "--val", "run", "--json", js}, &out, &errb); code != 0 {
		t.Fatalf("eval --val run: exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var res olmes.Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Scores) != len(want) {
		t.Fatalf("eval scored %d sets, the run %d:\n%s", len(res.Scores), len(want), out.String())
	}
	for _, s := range res.Scores {
		if got := s.Metrics[olmes.MetricCELoss]; math.Abs(got-want[s.Task]) > 1e-6*want[s.Task] {
			t.Errorf("%s: eval --val run gives %v, the run recorded %v", s.Task, got, want[s.Task])
		}
		if s.Metrics[olmes.MetricBitsPerByte] <= 0 {
			t.Errorf("%s: bits_per_byte %v", s.Task, s.Metrics[olmes.MetricBitsPerByte])
		}
	}

	ck := filepath.Join(t.TempDir(), "ck")
	if code := run([]string{"train", "--preset", "cpu_xs", "--steps", "1", "--batch", "2", "--seq", "16", "--out", ck}, &out, &errb); code != 0 {
		t.Fatalf("train: %s", errb.String())
	}
	out.Reset()
	if code := run([]string{"eval", "--model", ck, "--tasks", "", "--val", "1K", "--seq", "64"}, &out, &errb); code != 0 {
		t.Fatalf("eval --val 1K: exit %d: %s", code, errb.String())
	}
	if n := strings.Count(out.String(), "val/"); n != 5 {
		t.Errorf("eval --val 1K on a checkpoint of no run: %d validation rows, want one per built-in source:\n%s", n, out.String())
	}
}

// TestEvalValShorterThanSeq: --val of a checkpoint of no run asks for fewer
// tokens than one sequence of the context (--seq, by default OLMES's 2048
// tokens): exit 2 with a hint that names --seq. The error read
// "olmolab: olmolab eval --val: eval.val.sources[0]: … HINT: ask for at least
// sequence_length tokens", a recipe's field for a command that has no recipe.
func TestEvalValShorterThanSeq(t *testing.T) {
	ck := filepath.Join(t.TempDir(), "ck")
	var out, errb bytes.Buffer
	if code := run([]string{"train", "--preset", "cpu_xs", "--steps", "1", "--batch", "2", "--seq", "16", "--out", ck}, &out, &errb); code != 0 {
		t.Fatalf("train: %s", errb.String())
	}
	errb.Reset()
	code := run([]string{"eval", "--model", ck, "--tasks", "", "--val", "1K"}, &out, &errb)
	if e := errb.String(); code != exitBadInput || !strings.Contains(e, "--seq") || !strings.Contains(e, "2048") || strings.Contains(e, "sequence_length") {
		t.Errorf("eval --val 1K at the default context: exit %d, want %d and a hint naming --seq and 2048:\n%s", code, exitBadInput, e)
	}
}

// snr over a run and a copy of its directory exits 2 and says they hold the
// same run, naming it and both directories.
func TestSNRSameRun(t *testing.T) {
	root := t.TempDir()
	var dirs []string
	for _, d := range []string{"quick", "quick-copy"} {
		dir := filepath.Join(root, d)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "evals.jsonl"), []byte(`{"run":"quick","step":1,"task":"arith","formulation":"rc","metric":"acc_raw","value":0.5}`+"\n"), 0o644)
		dirs = append(dirs, dir)
	}
	var out, errb bytes.Buffer
	if code := run(append([]string{"snr"}, dirs...), &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2: %s", code, errb.String())
	}
	if want := dirs[0] + " and " + dirs[1] + " hold the same run quick"; !strings.Contains(errb.String(), want) || !strings.Contains(errb.String(), "HINT:") {
		t.Errorf("stderr %q lacks %q and a hint", errb.String(), want)
	}
}

// TestRunRecipeOf: eval finds the run a checkpoint belongs to (its tokenizer,
// its validation sets) from every path a person may give, a shell's trailing
// slash included, and from a soup's or an ingredient's model.
func TestRunRecipeOf(t *testing.T) {
	root := t.TempDir()
	run := filepath.Join(root, "runs", "r")
	for _, d := range []string{"checkpoints/step-8", "soups/soup-8/soup", "soups/soup-8/ingredient-1-seed-42"} {
		if err := os.MkdirAll(filepath.Join(run, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(run, lab.RecipeFile), []byte("name: r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hf := filepath.Join(root, "hf", "model")
	if err := os.MkdirAll(hf, 0o755); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(run, lab.RecipeFile)
	for _, tc := range []struct{ path, want string }{
		{run, want},
		{run + "/", want},
		{filepath.Join(run, "checkpoints", "step-8"), want},
		{filepath.Join(run, "checkpoints", "step-8") + "/", want},
		{filepath.Join(run, "checkpoints", "step-8") + "//", want},
		{filepath.Join(run, "soups", "soup-8", "soup"), want},
		{filepath.Join(run, "soups", "soup-8", "ingredient-1-seed-42") + "/", want},
		{hf, ""},
		{hf + "/", ""},
	} {
		if got := runRecipeOf(tc.path); got != tc.want {
			t.Errorf("runRecipeOf(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// TestParseInterleaved: flags may come before, between and after positional
// arguments, in every command that takes both. The flag package alone stops at
// the first positional argument, and the flags after it were taken for more:
// tokenize read a file named "--tokenizer", snr a run named "--json", and
// --batch called --name an unexpected argument.
func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		pos       []string
		out, tok  string
		sets      string
		wantError bool
	}{
		{args: []string{"a", "b", "--out", "d"}, pos: []string{"a", "b"}, out: "d"},
		{args: []string{"--out", "d", "a", "b"}, pos: []string{"a", "b"}, out: "d"},
		{args: []string{"--out", "d", "a", "--tok", "world"}, pos: []string{"a"}, out: "d", tok: "world"},
		{args: []string{"--tok", "world", "a", "--out", "d", "b", "--set", "x=1", "c", "--set", "y=2"}, pos: []string{"a", "b", "c"}, out: "d", tok: "world", sets: "x=1,y=2"},
		{args: []string{"a", "-", "--out=d"}, pos: []string{"a", "-"}, out: "d"}, // "-" is an argument (stdin), not a flag
		{args: []string{"--out", "d", "--", "--tok", "a"}, pos: []string{"--tok", "a"}, out: "d"},
		{args: []string{"a", "--nope"}, wantError: true},
		{args: []string{"a", "--out"}, wantError: true},
		{args: nil},
	} {
		fs := newFlags("t", io.Discard, io.Discard)
		out := fs.String("out", "", "")
		tok := fs.String("tok", "", "")
		var sets stringList
		fs.Var(&sets, "set", "")
		pos, err := parseInterleaved(fs, tc.args)
		if tc.wantError {
			if err == nil {
				t.Errorf("%q: no error", tc.args)
			}
			continue
		}
		if err != nil || !slices.Equal(pos, tc.pos) || *out != tc.out || *tok != tc.tok || strings.Join(sets, ",") != tc.sets {
			t.Errorf("%q: positional %q, --out %q, --tok %q, --set %q, err %v; want %q, %q, %q, %q", tc.args, pos, *out, *tok, sets, err, tc.pos, tc.out, tc.tok, tc.sets)
		}
	}
}

// TestFlagsAfterArguments: each command that takes positional arguments reads
// a flag that follows one (exit codes and outputs of whole commands).
func TestFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "docs.jsonl")
	os.WriteFile(in, []byte("{\"text\": \"hello world\"}\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"tokenize", "--tokenizer", "world", in, "--out", filepath.Join(dir, "tok")}, &out, &errb); code != 0 {
		t.Fatalf("tokenize --tokenizer world IN --out DIR: exit %d: %s", code, errb.String())
	}
	// the world tokenizer's file: uint16 ids ending with its EOS, 2046
	if b, err := os.ReadFile(filepath.Join(dir, "tok", "part-00000.npy")); err != nil || len(b) < 4 || b[len(b)-2] != 0xFE || b[len(b)-1] != 0x07 {
		t.Errorf("tokenize --tokenizer world before the input: token file % x, %v; want uint16 ids ending in EOS 2046", b, err)
	}
	if !strings.Contains(out.String(), "documents\t1") {
		t.Errorf("tokenize summary: %s", out.String())
	}
	errb.Reset()
	if code := run([]string{"--batch", "--runs", dir, "testdata/tiny.yaml", "--name", "r", "--set", "max_tokens=512"}, &out, &errb); code != 0 {
		t.Fatalf("--batch --runs DIR RECIPE --name NAME: exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "r", "summary.json")); err != nil {
		t.Errorf("--name after the recipe was not used: %v", err)
	}
	js := filepath.Join(dir, "snr.json")
	errb.Reset()
	run([]string{"snr", "--last", "1", filepath.Join(dir, "r"), "--json", js}, &out, &errb)
	if strings.Contains(errb.String(), "--json") {
		t.Errorf("snr RUN --json FILE took --json for a run: %s", errb.String())
	}
}

// TestEvalUsesTheRunsWorld: eval --model RUN asks the built-in tasks about the
// world the run trained on (its recipe's world:), so its scores are the run's
// own evaluation's; it asked about the default world's facts.
func TestEvalUsesTheRunsWorld(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "w", "--set", "world.seed=5",
		"--set", "eval.tasks=[fact_qa_seen]", "--set", "eval.limit=20"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	s, ok := lab.ReadSummary(filepath.Join(runs, "w"))
	if !ok || len(s.Evals) == 0 {
		t.Fatalf("no final evaluation in the summary: %+v", s)
	}
	js := filepath.Join(t.TempDir(), "eval.json")
	if code := run([]string{"eval", "--model", filepath.Join(runs, "w"), "--tasks", "fact_qa_seen", "--limit", "20", "--seq", "32", "--json", js}, &out, &errb); code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var res olmes.Results
	if err := json.Unmarshal(b, &res); err != nil || len(res.Scores) != 1 {
		t.Fatalf("eval results %s: %v", b, err)
	}
	for _, e := range s.Evals {
		if got := res.Scores[0].Metrics[e.Metric]; math.Abs(got-e.Value) > 1e-9 {
			t.Errorf("%s: eval --model RUN gives %v, the run's final evaluation %v", e.Metric, got, e.Value)
		}
	}
}

// TestSNRRunEndedWithSoup: olmolab snr takes, for a run that ended with its
// recipe's soup, the soup's scores as its final ones (the model eval --model
// RUN scores), here for a run written before summary.json said "final", and
// says so; with --soups each run's final is its own.
func TestSNRRunEndedWithSoup(t *testing.T) {
	root := t.TempDir()
	write := func(path, s string) {
		t.Helper()
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	line := func(run string, step int, v float64) string {
		return fmt.Sprintf(`{"run":%q,"step":%d,"tokens":%d,"phase":"stage1","why":"interval","task":"arith","formulation":"rc","metric":"acc_raw","value":%v,"time":"2026-11-28T18:00:00Z"}`+"\n", run, step, step*100, v)
	}
	write(filepath.Join(root, "a", "evals.jsonl"), line("a", 10, 0.30)+line("a", 20, 0.32)+line("a", 30, 0.30)+line("a/soup", 30, 0.60))
	write(filepath.Join(root, "a", "summary.json"), `{"run":"a","state":"finished","steps":30,"soup":{"from_step":30}}`)
	write(filepath.Join(root, "b", "evals.jsonl"), line("b", 10, 0.40)+line("b", 20, 0.42)+line("b", 30, 0.40))
	write(filepath.Join(root, "b", "summary.json"), `{"run":"b","state":"finished","steps":30}`)
	for _, c := range []struct {
		args       []string
		mean, says string
	}{
		{[]string{"snr", root, "--last", "3"}, "0.5000", "but for a, which ended with its recipe's soup, the soup's"},
		{[]string{"snr", filepath.Join(root, "a"), filepath.Join(root, "b", "evals.jsonl"), "--last", "3"}, "0.5000", "but for a, which ended"},
		{[]string{"snr", root, "--last", "3", "--soups"}, "0.4333", "count as runs of their own (--soups)"},
	} {
		var out, errb strings.Builder
		if code := run(c.args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d, %s", c.args, code, errb.String())
		}
		if !strings.Contains(out.String(), c.says) || !strings.Contains(out.String(), "acc_raw") {
			t.Errorf("%v: output does not say %q:\n%s", c.args, c.says, out.String())
		}
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, "arith") && !strings.Contains(l, " "+c.mean+" ") {
				t.Errorf("%v: row %q, want the mean of the final scores %s", c.args, l, c.mean)
			}
		}
	}
}

// TestEvalRunSplit: olmolab eval of a run scores OLMES benchmarks on the run's
// eval.split, as its own evaluations did, and says so; --split overrides it.
// The data directory holds ARC-Easy's validation split only (published form).
func TestEvalRunSplit(t *testing.T) {
	data := t.TempDir()
	var lines []byte
	for i := range 4 {
		row, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("q%d", i), "answerKey": "A",
			"question": map[string]any{"stem": fmt.Sprintf("What is %d plus one?", i), "choices": []any{
				map[string]any{"label": "A", "text": fmt.Sprint(i + 1)}, map[string]any{"label": "B", "text": fmt.Sprint(i + 2)}}}})
		lines = append(append(lines, row...), '\n')
	}
	dev := filepath.Join(data, "ARC-V1-Feb2018-2", "ARC-Easy", "ARC-Easy-Dev.jsonl")
	os.MkdirAll(filepath.Dir(dev), 0o755)
	if err := os.WriteFile(dev, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OLMOLAB_OLMES_DATA", data)
	runs := t.TempDir()
	for _, name := range []string{"own", "split"} {
		var out, errb bytes.Buffer
		args := []string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", name}
		if name == "split" {
			args = append(args, "--set", "eval.split=validation")
		}
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("run %s: exit %d:\n%s", name, code, errb.String())
		}
	}
	for _, c := range []struct {
		name, run string
		args      []string
		code      int
		want      string // in stdout, or in stderr when code != 0
	}{
		{"run's split", "split", nil, 0, "OLMES benchmarks on the validation split: the run's eval.split (" + filepath.Join(runs, "split", "recipe.yaml") + "); --split overrides it"},
		{"--split over it", "split", []string{"--split", "test"}, 2, "no test split of arc_easy"},
		{"run without eval.split", "own", nil, 2, "no test split of arc_easy"},
		{"--split without the run's", "own", []string{"--split", "validation"}, 0, "arc_easy rc olmes validation 2 acc_per_char"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"eval", "--model", filepath.Join(runs, c.run), "--seq", "64", "--tasks", "arc_easy", "--limit", "2"}, c.args...)
			if code := run(args, &out, &errb); code != c.code {
				t.Fatalf("exit %d, want %d:\n%s%s", code, c.code, out.String(), errb.String())
			}
			got := out.String()
			if c.code != 0 {
				got = errb.String()
			}
			if !strings.Contains(strings.Join(strings.Fields(got), " "), c.want) {
				t.Errorf("output lacks %q:\n%s", c.want, got)
			}
			if c.run == "own" && strings.Contains(out.String(), "eval.split") {
				t.Errorf("a run without eval.split: %s", out.String())
			}
		})
	}
}

// TestEvalRunLimit: olmolab eval of a run scores its tasks on the run's
// eval.limit, as it does on its eval.split, so that the command's scores of a
// checkpoint are the run's own (it scored every one of arith's 55 instances
// where the run scored 5, and gave another number), and says so; --limit
// overrides it.
func TestEvalRunLimit(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "l", "--set", "eval.tasks=[arith]", "--set", "eval.limit=5"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	recs, err := olmes.ReadEvalRecords(filepath.Join(runs, "l", "evals.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := math.NaN() // the final evaluation's bits per byte of arith's gold answers
	for _, r := range recs {
		if r.Task == "arith" && r.Metric == olmes.MetricBPB {
			want = r.Value
		}
	}
	for _, c := range []struct {
		args []string
		n    int
		says bool
	}{
		{[]string{"--tasks", "arith"}, 5, true},
		{[]string{"--tasks", "arith", "--limit", "8"}, 8, false},
		// and on its eval.tasks, where it scored the built-in group (seven
		// tasks) whatever the run evaluated
		{nil, 5, true},
	} {
		js := filepath.Join(t.TempDir(), "eval.json")
		out.Reset()
		if code := run(append([]string{"eval", "--model", filepath.Join(runs, "l"), "--json", js}, c.args...), &out, &errb); code != 0 {
			t.Fatalf("eval %v: exit %d: %s", c.args, code, errb.String())
		}
		var res olmes.Results
		b, _ := os.ReadFile(js)
		if err := json.Unmarshal(b, &res); err != nil || len(res.Scores) != 1 {
			t.Fatalf("eval %v: %v %s", c.args, err, b)
		}
		s := res.Scores[0]
		if s.Instances != c.n {
			t.Errorf("eval %v: %d instances, want %d", c.args, s.Instances, c.n)
		}
		if c.n == 5 && math.Abs(s.Metrics[olmes.MetricBPB]-want) > 1e-9 {
			t.Errorf("eval of the run: bits_per_byte_corr %v, the run recorded %v", s.Metrics[olmes.MetricBPB], want)
		}
		if got := strings.Contains(out.String(), "5 instances per task: the run's eval.limit ("+filepath.Join(runs, "l", "recipe.yaml")+")"); got != c.says {
			t.Errorf("eval %v: says the run's limit: %v, want %v\n%s", c.args, got, c.says, out.String())
		}
		if got := strings.Contains(out.String(), "tasks: the run's eval.tasks ("+filepath.Join(runs, "l", "recipe.yaml")+"); --tasks overrides it"); got != (c.args == nil) {
			t.Errorf("eval %v: says the run's tasks: %v\n%s", c.args, got, out.String())
		}
	}
}

// TestEvalProgress: eval reports its progress on stderr (a line per interval
// when stderr is not a terminal, as in a Slurm log); MMLU on a CPU scored for
// minutes without a word.
func TestEvalProgress(t *testing.T) {
	defer func(d time.Duration) { evalProgressEvery = d }(evalProgressEvery)
	evalProgressEvery = 0 // every forward
	dir := filepath.Join(t.TempDir(), "ck")
	var out, errb bytes.Buffer
	if code := run([]string{"train", "--preset", "cpu_xs", "--steps", "1", "--batch", "2", "--seq", "16", "--out", dir}, &out, &errb); code != 0 {
		t.Fatalf("train: %s", errb.String())
	}
	errb.Reset()
	if code := run([]string{"eval", "--model", dir, "--tasks", "arith", "--limit", "8", "--seq", "16"}, &out, &errb); code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errb.String())
	}
	if !regexp.MustCompile(`(?m)^eval \[#+\] 100\.0%  32/32 requests  (<1s|\d+s)$`).MatchString(errb.String()) {
		t.Errorf("stderr has no progress line ending at 32/32 requests:\n%s", errb.String())
	}
}

// TestEvalProgressLineDuration: eval's progress line writes its elapsed time
// as the training progress line and the lab do (lab.HumanDuration: 1m05s,
// 1h01m), not in Go's form (1m5s, 1h1m1s).
func TestEvalProgressLineDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{{4 * time.Second, "4s"}, {65 * time.Second, "1m05s"}, {time.Hour + 61*time.Second, "1h01m"}} {
		line := evalProgressLine(16, 32, c.d)
		if want := "eval [###############...............]  50.0%  16/32 requests  " + c.want; line != want {
			t.Errorf("after %v: %q, want %q", c.d, line, want)
		}
	}
}

// TestEvalRunTasksNeedData: eval of a run whose eval.tasks (taken because
// --tasks was not given) need OLMES data that is not at hand says that the
// tasks are the run's, so that an error about a benchmark the user did not
// name explains itself.
func TestEvalRunTasksNeedData(t *testing.T) {
	olmesData, _ := filepath.Abs(filepath.Join("..", "shared", "data", "olmes"))
	if _, err := os.Stat(olmesData); err != nil {
		t.Skip("../shared/data/olmes is absent")
	}
	runs := t.TempDir()
	t.Setenv("OLMOLAB_OLMES_DATA", olmesData)
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "o", "--set", "eval.tasks=[arc_easy]",
		"--set", "eval.split=validation", "--set", "eval.limit=2"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	t.Setenv("OLMOLAB_OLMES_DATA", "")
	errb.Reset()
	code := run([]string{"eval", "--model", filepath.Join(runs, "o")}, &out, &errb)
	want := "tasks: the run's eval.tasks (" + filepath.Join(runs, "o", "recipe.yaml") + "; --tasks not given): no data directory for arc_easy"
	if code != exitBadInput || !strings.Contains(errb.String(), want) {
		t.Errorf("exit %d, stderr lacks %q:\n%s", code, want, errb.String())
	}
}

// TestEvalSeqDefault: eval's default context is the model's positions for a
// checkpoint of no run (OLMES's context) and a run's sequence_length for a
// run (its own evaluations' context). It was 512 whatever the model, which
// cut 5-shot BoolQ and MMLU prompts (up to 2,354 tokens) and gave scores
// unlike OLMES's.
func TestEvalSeqDefault(t *testing.T) {
	olmesData := filepath.Join("..", "shared", "data", "olmes")
	if _, err := os.Stat(olmesData); err != nil {
		t.Skip("../shared/data/olmes is absent")
	}
	dump := filepath.Join(olmesData, "requests", "boolq", "rc_5shot", "requests.jsonl.gz")
	dir := filepath.Join(t.TempDir(), "ck")
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"train", "--preset", "cpu_xs", "--steps", "1", "--batch", "2", "--seq", "16", "--out", dir}, &out, &errb); code != 0 {
		t.Fatalf("train: %s", errb.String())
	}
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "r", "--set", "max_tokens=512"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	for _, c := range []struct {
		name      string
		args      []string
		context   int // where requests are cut
		truncated bool
	}{
		{"checkpoint of no run: the model's positions", []string{"--model", dir, "--tasks", dump, "--limit", "2"}, 0, false},
		{"--seq given", []string{"--model", dir, "--tasks", dump, "--limit", "2", "--seq", "100"}, 100, true},
		{"a run: its sequence_length", []string{"--model", filepath.Join(runs, "r"), "--tasks", dump, "--limit", "2"}, 32, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			js := filepath.Join(t.TempDir(), "eval.json")
			var out, errb bytes.Buffer
			if code := run(append([]string{"eval", "--json", js}, c.args...), &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			var res olmes.Results
			b, _ := os.ReadFile(js)
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			// the context is the rows' (fitted to the requests) unless requests were cut
			if (res.Truncated > 0) != c.truncated || c.truncated && res.Context != c.context {
				t.Errorf("context %d, %d truncated (longest %d); want truncated %v at %d", res.Context, res.Truncated, res.Longest, c.truncated, c.context)
			}
			if c.name[0] == 'c' && res.Longest <= 512 {
				t.Errorf("the longest BoolQ request has %d tokens: the test needs one beyond the old default of 512", res.Longest)
			}
		})
	}
}

// TestEvalRecordSNR: tasks scored after the fact over every kept checkpoint
// of a few runs (eval --record) feed snr, which lists them; snr rejected
// eval's output and eval wrote nothing to a run. The records say they were
// made after the run, with which settings; a rerun replaces them; a task the
// run evaluated itself and a run a live process holds are refused, the
// run's evals.jsonl left as it was.
func TestEvalRecordSNR(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	for _, r := range []string{"a", "b", "c"} {
		if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", r, "--set", "seed=" + fmt.Sprint(len(r)+int(r[0])),
			"--set", "checkpoint.keep=5", "--set", "eval.tasks=[arith]", "--set", "eval.limit=5"}, &out, &errb); code != 0 {
			t.Fatalf("batch %s: exit %d: %s", r, code, errb.String())
		}
	}
	tasks := "fact_cloze"
	olmesData := filepath.Join("..", "shared", "data", "olmes")
	if _, err := os.Stat(olmesData); err == nil {
		tasks += ",arc_easy" // an OLMES benchmark, on the split the data has
	}
	record := func(r string, extra ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(append([]string{"eval", "--model", filepath.Join(runs, r), "--record", "--tasks", tasks, "--limit", "6", "--split", "validation", "--data", olmesData}, extra...), &out, &errb)
		return out.String(), errb.String(), code
	}
	snrTable := func() (string, olmes.SNRTable) {
		js := filepath.Join(t.TempDir(), "snr.json")
		var out, errb bytes.Buffer
		if code := run([]string{"snr", runs, "--last", "3", "--json", js}, &out, &errb); code != 0 {
			t.Fatalf("snr: exit %d: %s", code, errb.String())
		}
		var tab olmes.SNRTable
		b, _ := os.ReadFile(js)
		if err := json.Unmarshal(b, &tab); err != nil {
			t.Fatal(err)
		}
		return out.String(), tab
	}
	if s, _ := snrTable(); strings.Contains(s, "fact_cloze") {
		t.Fatalf("fact_cloze before it was recorded:\n%s", s)
	}
	for _, r := range []string{"a", "b", "c"} {
		o, e, code := record(r)
		if code != 0 {
			t.Fatalf("eval --record %s: exit %d: %s", r, code, e)
		}
		if !strings.Contains(o, "recorded ") || !strings.Contains(o, filepath.Join(runs, r, "evals.jsonl")) {
			t.Errorf("eval --record %s does not say where it recorded:\n%s", r, o)
		}
		// ARC-Easy's 5-shot requests are cut to the runs' 32 tokens, the length they trained at: the hint says
		// so, and names no --seq past it
		if strings.Contains(tasks, "arc_easy") && (!strings.Contains(o, "HINT: the model was trained on 32-token sequences") || strings.Contains(o, "scores them whole")) {
			t.Errorf("eval --record %s: no hint that the cut is the trained length:\n%s", r, o)
		}
		// the same requests at each checkpoint: the warning is said once, not per checkpoint
		if n := strings.Count(o, "longer than the 32-token context"); strings.Contains(tasks, "arc_easy") && n != 1 {
			t.Errorf("eval --record %s: the cut requests' warning %d times:\n%s", r, n, o)
		}
	}
	recs, err := olmes.ReadEvalRecords(filepath.Join(runs, "a", "evals.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	steps := map[int]bool{}
	final := map[string]float64{} // a's last checkpoint's score, per task
	n := 0
	for _, r := range recs {
		if r.Task == "arith" {
			if r.Recorded() {
				t.Errorf("the run's own arith record is marked recorded: %+v", r)
			}
			continue
		}
		n++
		steps[r.Step] = true
		if !r.Recorded() || r.Run != "a" || !strings.HasPrefix(r.Settings, fmt.Sprintf("checkpoints/step-%d: context 32, limit 6", r.Step)) || r.Time.IsZero() {
			t.Errorf("record %+v: want why %q, run a, and the checkpoint and settings it was scored with", r, olmes.WhyRecorded)
		}
		if r.Step == 10 && r.Metric == olmes.MetricAccRaw {
			final[r.Task] = r.Value
		}
	}
	if len(steps) != 3 || !steps[4] || !steps[8] || !steps[10] {
		t.Errorf("recorded at steps %v, want every kept checkpoint: 4, 8, 10", steps)
	}
	s, tab := snrTable()
	if !strings.Contains(s, "scored after the runs (olmolab eval --record") || !slices.Contains(tab.Recorded, "fact_cloze") {
		t.Errorf("snr does not say which tasks were scored after the runs (%v):\n%s", tab.Recorded, s)
	}
	found := false
	for _, r := range tab.Rows {
		if r.Task == "fact_cloze" && r.Metric == olmes.MetricAccRaw {
			found = true
			if r.Runs != 3 || r.LastN != 3 {
				t.Errorf("fact_cloze row over %d runs and %d checkpoints, want 3 and 3", r.Runs, r.LastN)
			}
		}
	}
	if !found {
		t.Errorf("snr lists no fact_cloze row:\n%s", s)
	}
	if strings.Contains(tasks, "arc_easy") && !slices.Contains(tab.Recorded, "arc_easy") {
		t.Errorf("snr lists no recorded arc_easy:\n%s", s)
	}
	// a rerun replaces; it does not add
	o, e, code := record("a", "--checkpoints", "last:2")
	if code != 0 || !strings.Contains(o, fmt.Sprintf("they replace %d an earlier --record wrote", n)) {
		t.Errorf("rerun: exit %d: %s\n%s", code, e, o)
	}
	recs2, _ := olmes.ReadEvalRecords(filepath.Join(runs, "a", "evals.jsonl"))
	if got, want := len(recs2), len(recs)-n/3; got != want {
		t.Errorf("after a rerun over the last 2 checkpoints: %d records, want %d", got, want)
	}
	for _, r := range recs2 {
		if r.Step == 10 && r.Metric == olmes.MetricAccRaw && r.Recorded() && r.Value != final[r.Task] {
			t.Errorf("%s at step 10: %v, the first recording %v", r.Task, r.Value, final[r.Task])
		}
	}
	// refusals leave the file as it was
	path := filepath.Join(runs, "b", "evals.jsonl")
	before, _ := os.ReadFile(path)
	if err := lab.WriteLock(filepath.Join(runs, "b"), os.Getpid(), lab.LockHeadless); err != nil {
		t.Fatal(err)
	}
	// bad input (exit 2), saying the holder's mode once
	if _, e, code := record("b"); code != 2 || !strings.Contains(e, "eval --record: "+filepath.Join(runs, "b")+" is held by pid") || strings.Count(e, "headless") != 1 {
		t.Errorf("a run a live process holds: exit %d, want 2, saying its mode once: %s", code, e)
	}
	lab.RemoveLock(filepath.Join(runs, "b"), os.Getpid())
	// on as many instances as the run's own (eval.limit 5): on 6 it is a series of its own
	tasks = "arith"
	if _, e, code := record("b", "--limit", "5"); code != 2 || !strings.Contains(e, path+":1: the run evaluated arith") {
		t.Errorf("a task the run evaluated: exit %d: %s", code, e)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("a refused --record changed evals.jsonl")
	}
	for _, c := range []struct{ args, err string }{
		{"--checkpoints last:0", `--checkpoints "last:0": want all or last:N with N at least 1`},
		{"--checkpoints some", `--checkpoints "some": want all or last:N`},
		{"--json x.json", "--json writes one model's results"},
	} {
		if _, e, code := record("b", strings.Fields(c.args)...); code != 2 || !strings.Contains(e, c.err) {
			t.Errorf("%s: exit %d: %s", c.args, code, e)
		}
	}
	var eb bytes.Buffer
	if code := run([]string{"eval", "--model", filepath.Join(runs, "b", "checkpoints", "step-10"), "--record"}, &out, &eb); code != 2 || !strings.Contains(eb.String(), "is not a run directory") {
		t.Errorf("--record of a checkpoint: exit %d: %s", code, eb.String())
	}
}

// TestEvalRecordSoup: a run that ended with its recipe's soup has the soup's
// scores as its final ones in snr (its final model); eval --record scores
// the soup too and records it as the run records it ("<run>/soup" at the
// step it was made from). Without it snr had no final score of the task
// for such a run and left its rows out.
func TestEvalRecordSoup(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	for i, r := range []string{"s1", "s2"} {
		if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", r, "--set", fmt.Sprintf("seed=%d", i+1),
			"--set", "soup.ingredients=2", "--set", "checkpoint.keep=5", "--set", "eval.tasks=[arith]", "--set", "eval.limit=5"}, &out, &errb); code != 0 {
			t.Fatalf("batch %s: exit %d: %s", r, code, errb.String())
		}
		if _, ok := lab.EndedWithSoup(filepath.Join(runs, r)); !ok {
			t.Fatalf("%s did not end with its soup", r)
		}
		if code := run([]string{"eval", "--model", filepath.Join(runs, r), "--record", "--tasks", "fact_cloze", "--limit", "6"}, &out, &errb); code != 0 {
			t.Fatalf("eval --record %s: exit %d: %s", r, code, errb.String())
		}
	}
	var soups []float64
	for _, r := range []string{"s1", "s2"} {
		recs, err := olmes.ReadEvalRecords(filepath.Join(runs, r, "evals.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range recs {
			if x.Task == "fact_cloze" && x.Run == r+"/soup" && x.Metric == olmes.MetricAccRaw {
				if !x.Recorded() || x.Phase != "soup" || !strings.HasPrefix(x.Settings, filepath.Join("soups", "soup-7", "soup")+": ") || x.Step != 7 {
					t.Errorf("the soup's record %+v", x)
				}
				soups = append(soups, x.Value)
			}
		}
	}
	if len(soups) != 2 {
		t.Fatalf("soup scores recorded: %v, want one per run", soups)
	}
	var sb, eb strings.Builder
	if code := run([]string{"snr", runs, "--last", "2"}, &sb, &eb); code != 0 {
		t.Fatalf("snr: exit %d: %s", code, eb.String())
	}
	want := fmt.Sprintf(" %.4f ", (soups[0]+soups[1])/2)
	found := false
	for _, l := range strings.Split(sb.String(), "\n") {
		if strings.HasPrefix(l, "fact_cloze") && strings.Contains(l, " acc_raw ") {
			found = true
			if !strings.Contains(l, want) {
				t.Errorf("row %q: want the mean of the soups' scores%s", l, want)
			}
		}
	}
	if !found {
		t.Errorf("snr lists no fact_cloze row:\n%s", sb.String())
	}
}

// TestEvalRecordBesideAnotherRecord: a run whose lock another eval --record
// holds (writing its scores of another task) is scored and recorded once
// that write is done; it was refused as if a process trained the run.
func TestEvalRecordBesideAnotherRecord(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "a", "--set", "checkpoint.keep=2"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	dir := filepath.Join(runs, "a")
	if err := lab.WriteLock(dir, os.Getppid(), lab.LockEval); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		lab.RemoveLock(dir, os.Getppid())
	}()
	if code := run([]string{"eval", "--model", dir, "--record", "--tasks", "fact_cloze", "--limit", "4"}, &out, &errb); code != 0 {
		t.Fatalf("eval --record: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "recorded ") {
		t.Errorf("nothing recorded:\n%s", out.String())
	}
}

// TestEvalRecordOneCheckpoint: recording a run that kept one checkpoint
// (the recipes' checkpoint.keep: 1) says that snr can measure no noise from
// it and how to keep more; it recorded one step in silence, and snr's rows
// then read "-".
func TestEvalRecordOneCheckpoint(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "a"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"eval", "--model", filepath.Join(runs, "a"), "--record", "--tasks", "fact_cloze", "--limit", "4"}, &out, &errb); code != 0 {
		t.Fatalf("eval --record: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "warning: 1 checkpoint scored: snr measures no noise from one") || !strings.Contains(errb.String(), "checkpoint.keep") {
		t.Errorf("no warning on stderr that one checkpoint gives no noise:\n%s", errb.String())
	}
}

// TestEvalRecordVal: eval --record --val scores each checkpoint's validation
// loss and records it (task val/<source>, formulation lm), as the run records
// its own eval.val; it printed the losses, said "recorded 0 scores" and exited
// 0, the scoring lost. A run that validates itself has its val/ series
// already: recording it again is refused as any task the run evaluated.
func TestEvalRecordVal(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "a", "--set", "checkpoint.keep=3"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	dir := filepath.Join(runs, "a")
	out.Reset()
	errb.Reset()
	if code := run([]string{"eval", "--model", dir, "--record", "--tasks", "", "--val", "64"}, &out, &errb); code != 0 {
		t.Fatalf("eval --record --val: exit %d: %s", code, errb.String())
	}
	recs, err := olmes.ReadEvalRecords(filepath.Join(dir, "evals.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range recs {
		if r.Recorded() {
			got[fmt.Sprintf("%s %v %s", r.Task, r.Formulation, r.Metric)]++
		}
	}
	for _, k := range []string{"val/web lm ce_loss", "val/web lm bits_per_byte", "val/qa lm ce_loss", "val/qa lm bits_per_byte"} {
		if got[k] != 3 {
			t.Errorf("%s recorded at %d checkpoints, want 3 (recorded: %v)\n%s", k, got[k], got, out.String())
		}
	}
	if strings.Contains(out.String(), "recorded 0 scores") {
		t.Errorf("eval --record --val says it recorded nothing:\n%s", out.String())
	}

	// a run with its own eval.val: its val/ series is the run's
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "v", "--set", "eval.val.tokens=64"}, &out, &errb); code != 0 {
		t.Fatalf("batch with eval.val: exit %d: %s", code, errb.String())
	}
	dir = filepath.Join(runs, "v")
	before, _ := os.ReadFile(filepath.Join(dir, "evals.jsonl"))
	out.Reset()
	errb.Reset()
	if code := run([]string{"eval", "--model", dir, "--record", "--tasks", "", "--val", "run"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "the run evaluated val/") || !strings.Contains(errb.String(), "HINT: leave out --val") {
		t.Errorf("eval --record --val run of a run that validates itself: exit %d, want 2 naming its own val/ records: %s", code, errb.String())
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "evals.jsonl")); !bytes.Equal(before, after) {
		t.Errorf("the refused --record changed evals.jsonl")
	}
}

// TestEvalOneCheckpointCounts: eval --record of one checkpoint counts it as
// one ("1 model", "steps 10", "recorded 2 scores"): it read "1 models" and
// "steps 10 to 10", the plurals helper not reaching eval's own lines.
func TestEvalOneCheckpointCounts(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "a"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"eval", "--model", filepath.Join(runs, "a"), "--record", "--tasks", "", "--val", "64", "--checkpoints", "last:3"}, &out, &errb); code != 0 {
		t.Fatalf("eval --record: exit %d: %s", code, errb.String())
	}
	o := out.String()
	for _, bad := range []string{"1 models", "steps 10 to 10", "1 checkpoints"} {
		if strings.Contains(o, bad) {
			t.Errorf("eval of one checkpoint says %q:\n%s", bad, o)
		}
	}
	for _, want := range []string{": 1 model (tokenizer", "of 1 model (step 10)", "--checkpoints last:3: the run kept 1 checkpoint (checkpoint.keep); scoring it"} {
		if !strings.Contains(o, want) {
			t.Errorf("eval of one checkpoint does not say %q:\n%s", want, o)
		}
	}
}

// TestFlagErrorSaysUsageOnce: a bad flag value is said once, with one usage
// line; the flag package printed the error and the full flag list, then main
// printed them both again. snr's errors do not start with the package name
// "olmes:" either.
func TestFlagErrorSaysUsageOnce(t *testing.T) {
	for _, args := range [][]string{{"snr", "--last", "x"}, {"eval", "--seq", "x"}} {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		e := errb.String()
		if code != 2 || strings.Count(e, "usage:") != 1 || strings.Count(e, `"x": want a whole number`) != 1 || strings.Contains(e, "  -") {
			t.Errorf("%v: exit %d, want 2 with one error and one usage line:\n%s", args, code, e)
		}
	}
	var out, errb bytes.Buffer
	missing := filepath.Join(t.TempDir(), "none")
	if code := run([]string{"snr", missing}, &out, &errb); code != 2 || !strings.HasPrefix(errb.String(), "olmolab: "+missing+": no such run directory") {
		t.Errorf("snr of a directory without evaluations: exit %d: %s", code, errb.String())
	}
}

// TestEvalCheckpointsOfALiveRun: eval --checkpoints of a run that trains
// meets checkpoints the run prunes (checkpoint.keep) while it scores. One
// removed once listed is said by name and the others are scored; one
// removed once opened is scored all the same. A removed checkpoint failed
// the whole eval with a raw "no such file" error.
func TestEvalCheckpointsOfALiveRun(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "a", "--set", "checkpoint.keep=3", "--set", "anneal.auto_at=0"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	dir := filepath.Join(runs, "a")
	ck := func(step int) string { return filepath.Join(dir, lab.CkptDir, fmt.Sprintf("step-%d", step)) }
	for _, step := range []int{4, 8, 10} { // checkpoint.interval 4 and the last
		if _, err := os.Stat(ck(step)); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { evalHook = func(string, []lab.KeptCheckpoint) {} }()
	evalHook = func(stage string, models []lab.KeptCheckpoint) {
		switch stage {
		case "listed": // pruned as the first were scored
			os.RemoveAll(ck(4))
		case "opened": // pruned after the opening: still read to the end
			os.RemoveAll(ck(8))
		}
	}
	out.Reset()
	errb.Reset()
	code := run([]string{"eval", "--model", dir, "--checkpoints", "last:3", "--tasks", "", "--val", "64"}, &out, &errb)
	if code != 0 {
		t.Fatalf("eval --checkpoints: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if want := "warning: " + ck(4) + " was removed before it could be opened (the run trains and keeps its newest checkpoints, checkpoint.keep); scoring the others"; !strings.Contains(errb.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, errb.String())
	}
	for _, want := range []string{"checkpoints/step-8: step 8", "checkpoints/step-10: step 10"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "step-4:") {
		t.Errorf("a removed checkpoint was scored:\n%s", out.String())
	}
}

// TestResumeWhileRecording: a --batch --resume started while eval --record
// scores the run is refused (exit 2), naming the record, and the record
// goes on to write its scores; the resume went ahead and the record was
// then refused at its write, its scoring lost. Meanwhile sweep --status
// reads the run as recorded, not trained.
func TestResumeWhileRecording(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "a", "--set", "checkpoint.keep=2"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	dir := filepath.Join(runs, "a")
	os.Remove(filepath.Join(dir, lab.SummaryFile)) // killed before its summary: resumable
	var resumeCode int
	var resumeErr string
	var status sweep.Status
	defer func() { evalHook = func(string, []lab.KeptCheckpoint) {} }()
	evalHook = func(stage string, _ []lab.KeptCheckpoint) {
		if stage != "opened" {
			return
		}
		status = sweep.ReadStatus(dir)
		var o, e bytes.Buffer
		resumeCode = run([]string{"--batch", "--resume", dir}, &o, &e)
		resumeErr = e.String()
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"eval", "--model", dir, "--record", "--tasks", "fact_cloze", "--limit", "4"}, &out, &errb); code != 0 {
		t.Fatalf("eval --record: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "recorded ") {
		t.Errorf("nothing recorded:\n%s", out.String())
	}
	if want := dir + ": olmolab eval --record is scoring the run's checkpoints"; resumeCode != exitBadInput || !strings.Contains(resumeErr, want) {
		t.Errorf("resume while recording: exit %d, want %d and %q:\n%s", resumeCode, exitBadInput, want, resumeErr)
	}
	if status.State == sweep.Running || status.Recording == nil || status.Recording.PID != os.Getpid() {
		t.Errorf("sweep status while recording: %s, recording %+v", status.State, status.Recording)
	}
	if _, ok := lab.Recording(dir); ok {
		t.Error("the record's mark outlived it")
	}
}
