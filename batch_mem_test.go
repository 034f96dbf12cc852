//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab"
)

// childLimit bounds an olmolab child process of a test (about 10 s here;
// under the race detector on a loaded machine, several times that).
const childLimit = 5 * time.Minute

// TestBatchPeakMemoryWithinEstimate runs `olmolab --batch` (this test binary
// as olmolab) on a small but not trivial run, olmo2_14M with dolma2's 100K
// vocabulary (27M parameters, a 256 MiB chunk of logits at most), and
// compares the child's peak resident memory (getrusage's ru_maxrss, Linux:
// KiB) with the estimate its memory check uses (lab.MemoryNeed). The run
// evaluates tasks twice, the second time on the engine shaped for the
// requests, and scores a validation set, the parts the estimate missed before
// (a second copy of the model, 107 MB here: the run peaked at 1009 MiB against an estimate of 655 before, 2026-11-29). It fails when the run takes more
// than the estimate, or far less (the check would then refuse runs that fit).
func TestBatchPeakMemoryWithinEstimate(t *testing.T) {
	if testing.Short() {
		t.Skip("trains olmo2_14M for 2 steps (about 10 s)")
	}
	dir := t.TempDir()
	recipe := filepath.Join(dir, "mem.yaml")
	os.WriteFile(recipe, []byte(`name: mem
model: olmo2_14M
tokenizer: dolma2
sequence_length: 128
global_batch_size: 512
max_tokens: 1024
seed: 1
optimizer: {lr: 3.0e-3}
dataset:
  sources:
    - {name: web, target_ratio: 1, paths: ["builtin:web_clean"]}
eval:
  tasks: [fact_qa_seen, arith]
  interval: 1
  limit: 20
  val: {tokens: 2K}
checkpoint: {interval: 0}
`), 0o644)
	rec, err := lab.LoadRecipe(recipe, nil)
	if err != nil {
		t.Fatal(err)
	}
	need, err := lab.MemoryNeed(rec)
	if err != nil {
		t.Fatal(err)
	}
	// about 10 s; a child that hangs is killed and the test says so, rather
	// than holding the package until go test's -timeout
	ctx, cancel := context.WithTimeout(context.Background(), childLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, selfAsOlmolab(t), "--batch", recipe, "--runs", filepath.Join(dir, "runs"))
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("olmolab --batch did not end within %v; killed:\n%s", childLimit, out)
	}
	if err != nil {
		t.Fatalf("olmolab --batch: %v\n%s", err, out)
	}
	peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
	const mib = 1 << 20
	t.Logf("estimate %d MiB, peak RSS %d MiB (%.2f)", need/mib, peak/mib, float64(peak)/float64(need))
	if peak > need {
		t.Errorf("peak RSS %d MiB is above the memory check's estimate %d MiB: the check lets runs start that do not fit", peak/mib, need/mib)
	}
	if peak < need*3/4 {
		t.Errorf("peak RSS %d MiB is under 3/4 of the estimate %d MiB: the check refuses runs that fit", peak/mib, need/mib)
	}
}
