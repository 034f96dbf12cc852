package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestExportBadInput: every mistake is exit 2, names the file and field, and
// writes nothing.
func TestExportBadInput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no target", []string{"--out", out}, "export needs a target"},
		{"unknown target", []string{"megatron", "olmo2_1B_stage1", "--out", out}, `unknown export target "megatron"`},
		{"no recipe", []string{"olmo-core", "--out", out}, "needs a recipe"},
		{"no --out", []string{"olmo-core", "olmo2_1B_stage1"}, "export needs --out DIR"},
		{"unknown recipe", []string{"olmo-core", "nosuch", "--out", out}, "nosuch: no such recipe"},
		{"builtin source", []string{"olmo-core", "quickstart", "--out", out}, "experiments/quickstart.yaml: dataset.sources[0].paths: source"},
		{"jsonl source", []string{"olmo-core", "olmo2_1B_stage1", "--out", out, "--set", `dataset.sources=[{name: d, target_ratio: 1, paths: [/d/a.jsonl]}]`}, "HINT: `olmolab tokenize"},
		{"unsupported schedule", []string{"olmo-core", "olmo2_1B_stage1", "--out", out, "--set", "schedule.name=wsd"}, "experiments/olmo2_1B_stage1.yaml: schedule.t_max: OLMo-core's WSD"},
		{"bad --set", []string{"olmo-core", "olmo2_1B_stage1", "--out", out, "--set", "optimizer.lr=fast"}, "optimizer.lr: want a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(append([]string{"export"}, tc.args...)...)
			if code != exitBadInput || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, want 2, and stderr with %q:\n%s", code, tc.stderr, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatalf("%s was created", out)
			}
		})
	}
}

func TestExportWrites(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	args := []string{"export", "olmo-core", "olmo2_1B_stage1", "--out", out, "--nproc", "8", "--nodes", "2"}
	code, stdout, stderr := runCLI(args...)
	if code != exitOK || !strings.Contains(stdout, "not run") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, f := range []string{"train.py", "launch.sh", "EXPORT.md"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if code, _, stderr := runCLI(args...); code != exitBadInput || !strings.Contains(stderr, "--force") {
		t.Errorf("second export into %s: exit %d\n%s", out, code, stderr)
	}
	if code, _, stderr := runCLI(append(args, "--force")...); code != exitOK {
		t.Errorf("--force: exit %d\n%s", code, stderr)
	}
}

// TestExportFullDisk: an export that the disk refused (full, read-only) was
// exit 2, bad input, with no word of what to do; it is an error (exit 1)
// with a HINT. An --out in the way stays bad input.
func TestExportFullDisk(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	full := &fs.PathError{Op: "open", Path: filepath.Join(filepath.Dir(out), ".out.tmp-1", "launch.sh"), Err: syscall.ENOSPC}
	var stderr bytes.Buffer
	err := exportWriteError(out, fmt.Errorf("--out %s: %w", out, full))
	if code := exitCode(err, &stderr); code != exitError || !strings.Contains(stderr.String(), "HINT: free space on the disk of "+filepath.Dir(out)+", then run the command again (nothing was written") {
		t.Errorf("a full disk: exit %d, want 1, and a HINT:\n%s", code, stderr.String())
	}
	stderr.Reset()
	if code := exitCode(exportWriteError(out, errors.New(out+" exists and is not empty; give --force to replace it")), &stderr); code != exitBadInput {
		t.Errorf("an --out in the way: exit %d, want 2\n%s", code, stderr.String())
	}
}
