package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab"
)

// TestRecordInterruptRemovesMark: eval --record stopped by Ctrl-C or
// SIGTERM while it scores exits 130 and leaves no record mark
// (olmolab.recording.HOST.PID) in the run directory. It left it: the signal's
// default action killed the process at once. The record is held in its
// scoring by a request dump that is a FIFO nobody writes.
func TestRecordInterruptRemovesMark(t *testing.T) {
	runs := t.TempDir()
	if code, _, errs := runCLI("--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "a", "--set", "checkpoint.keep=2"); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errs)
	}
	dir := filepath.Join(runs, "a")
	exe := selfAsOlmolab(t)
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		fifo := filepath.Join(t.TempDir(), "requests.jsonl")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skipf("no FIFO here: %v", err)
		}
		cmd := exec.Command(exe, "eval", "--model", dir, "--record", "--tasks", fifo)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
			if l, ok := lab.Recording(dir); ok && l.PID == cmd.Process.Pid {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("%v: the record's mark did not appear within a minute\n%s", sig, errb.String())
			}
		}
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
			t.Errorf("%v: exit %v, want %d\n%s", sig, err, exitInterrupted, errb.String())
		}
		if !strings.Contains(errb.String(), "nothing recorded in "+filepath.Join(dir, lab.EvalsFile)) {
			t.Errorf("%v: the quit does not say nothing was recorded:\n%s", sig, errb.String())
		}
		left, _ := filepath.Glob(filepath.Join(dir, lab.RecordingPrefix+"*"))
		if len(left) > 0 {
			t.Errorf("%v: the record left %v", sig, left)
		}
		for _, p := range left {
			os.Remove(p)
		}
	}
}

// TestRecordInterruptAfterWrite: SIGTERM to eval --record once its scores'
// evals.jsonl is renamed into place (before it prints "recorded …") says
// they were recorded, and they are there; it said "nothing recorded".
func TestRecordInterruptAfterWrite(t *testing.T) {
	runs := t.TempDir()
	if code, _, errs := runCLI("--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "a", "--set", "checkpoint.keep=2"); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errs)
	}
	dir := filepath.Join(runs, "a")
	evals := filepath.Join(dir, lab.EvalsFile)
	cmd := exec.Command(selfAsOlmolab(t), "eval", "--model", dir, "--record", "--tasks", "fact_cloze", "--limit", "4")
	cmd.Env = append(os.Environ(), "OLMOLAB_TEST_SIGTERM_AT=recorded")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Errorf("exit %v, want %d\n%s", err, exitInterrupted, errb.String())
	}
	if want := "quit; the scores had been recorded in " + evals + " just before"; !strings.Contains(errb.String(), want) || strings.Contains(errb.String(), "nothing recorded") {
		t.Errorf("the quit does not say the scores were recorded (%q):\n%s", want, errb.String())
	}
	if b, _ := os.ReadFile(evals); !strings.Contains(string(b), `"eval --record"`) {
		t.Errorf("%s holds no recorded scores:\n%s", evals, b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, lab.RecordingPrefix+"*")); len(left) > 0 {
		t.Errorf("the record left %v", left)
	}
}
