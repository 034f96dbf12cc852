package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
