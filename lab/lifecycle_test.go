package lab

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// follow drains a run's events until it ends, handing each to on (which may
// act on the run) and returning them all.
func follow(t *testing.T, r *Run, on func(Event)) []Event {
	t.Helper()
	var all []Event
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case <-r.Events.Notify():
		case <-r.Done():
			for _, e := range r.Events.Drain(nil) {
				all = append(all, e)
				if on != nil {
					on(e)
				}
			}
			return all
		case <-deadline:
			t.Fatal("the run did not end")
		}
		for _, e := range r.Events.Drain(nil) {
			all = append(all, e)
			if on != nil {
				on(e)
			}
		}
	}
}

func noLock(t *testing.T, dir, when string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, LockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: %s is still there (%v)", when, LockFile, err)
	}
}

// sleeper is a live process that is not this one.
func sleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	c := exec.Command("sleep", "60")
	if err := c.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	return c
}

// TestRunLock: a run marks its directory with its pid while it trains and
// removes the mark when it ends, whether stopped, interrupted, diverged or
// refused before it started.
func TestRunLock(t *testing.T) {
	root := t.TempDir()
	host, _ := os.Hostname()

	// stopped (a --batch run: mode headless)
	r, err := StartRun(context.Background(), RunParams{Recipe: parseTiny(t, "max_tokens=1M", "checkpoint.interval=0"), RunsDir: root, Name: "stop", PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	l, ok := LiveLock(r.Dir)
	if !ok || l.PID != os.Getpid() || l.Mode != LockHeadless || l.Host != host || time.Since(l.Started) > time.Minute {
		t.Fatalf("lock of a training run: %+v, live %v", l, ok)
	}
	r.Do(Action{Kind: ActStop})
	if s, _ := r.Wait(); s.State != "stopped" {
		t.Fatalf("state %q", s.State)
	}
	noLock(t, r.Dir, "stopped")

	// interrupted (Ctrl-C), in the mode the caller names
	ctx, cancel := context.WithCancel(context.Background())
	r, err = StartRun(ctx, RunParams{Recipe: parseTiny(t, "max_tokens=1M", "checkpoint.interval=0"), RunsDir: root, Name: "int", PeakFLOPS: 1e11, LockMode: LockTUI})
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := ReadLock(r.Dir); !ok || l.Mode != LockTUI {
		t.Errorf("lock %+v, want mode %s", l, LockTUI)
	}
	cancel()
	if _, err := r.Wait(); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("got %v", err)
	}
	noLock(t, r.Dir, "interrupted")

	// diverged (an error end)
	_, err = runToEnd(t, RunParams{Recipe: parseTiny(t, "optimizer.lr=1e30", "optimizer.max_grad_norm=0", "schedule.warmup_tokens=0", "schedule.name=constant"),
		RunsDir: root, Name: "div", MaxSkipped: 2})
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("got %v, want diverged", err)
	}
	noLock(t, filepath.Join(root, "div"), "diverged")

	// refused after the lock was taken: a resume without a checkpoint
	bare := filepath.Join(root, "bare")
	os.MkdirAll(bare, 0o755)
	os.WriteFile(filepath.Join(bare, RecipeFile), parseTiny(t).YAML(), 0o644)
	var ie *InputError
	if _, err := StartRun(context.Background(), RunParams{ResumeDir: bare}); !errors.As(err, &ie) {
		t.Fatalf("got %v, want an InputError", err)
	}
	noLock(t, bare, "refused resume")
}

// TestResumeAndLocks: a live lock of another process refuses a resume, with
// the pid and what to do; a stale one does not. A resumed run says so first.
func TestResumeAndLocks(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "res")
	if _, err := runToEnd(t, RunParams{Recipe: parseTiny(t), RunsDir: root, Name: "res"}); err != nil {
		t.Fatal(err)
	}
	noLock(t, dir, "finished")

	other := sleeper(t)
	if err := WriteLock(dir, other.Process.Pid, LockHeadless); err != nil {
		t.Fatal(err)
	}
	_, err := StartRun(context.Background(), RunParams{ResumeDir: dir})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(other.Process.Pid)) || !strings.Contains(err.Error(), "HINT") {
		t.Fatalf("resume of a run another process trains: %v", err)
	}
	if l, _ := ReadLock(dir); l.PID != other.Process.Pid {
		t.Fatalf("the refused resume touched the other process's lock: %+v", l)
	}

	other.Process.Kill()
	other.Wait()
	if _, ok := LiveLock(dir); ok {
		t.Fatal("the lock of a dead process counts as live")
	}
	r, err := StartRun(context.Background(), RunParams{ResumeDir: dir, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatalf("a stale lock blocked the resume: %v", err)
	}
	if l, ok := LiveLock(dir); !ok || l.PID != os.Getpid() {
		t.Errorf("the resumed run did not take the lock: %+v", l)
	}
	evs := follow(t, r, nil)
	if len(evs) == 0 || evs[0].Type != EvResumed || evs[0].Step != 20 || evs[0].Tokens != 5120 ||
		!strings.HasSuffix(evs[0].Checkpoint, checkpointName(20)) || evs[0].TotalTokens != 5120 || len(evs[0].Mix) == 0 {
		t.Fatalf("first event of a resumed run: %+v", evs[0])
	}
	noLock(t, dir, "resumed run ended")
	// the resumed event is in events.jsonl, where a reader that does not know
	// the type skips it; metrics.jsonl still holds only steps
	b, _ := os.ReadFile(filepath.Join(dir, EventsFile))
	if !strings.Contains(string(b), `"type":"resumed"`) {
		t.Errorf("events.jsonl has no resumed event:\n%s", b)
	}
	onlySteps(t, dir)
}

// onlySteps checks that metrics.jsonl holds step events only, one per step,
// as it always has.
func onlySteps(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Type != EvStep {
			t.Fatalf("metrics.jsonl line %q (%v)", line, err)
		}
	}
	losses(t, dir) // steps 1, 2, 3, … in order
}

// TestLiveLockPIDReuse: a pid now held by a process younger than the lock is
// not the run's process.
func TestLiveLockPIDReuse(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	dir := t.TempDir()
	p := sleeper(t)
	stale, _ := json.Marshal(RunLock{PID: p.Process.Pid, Mode: LockTUI, Started: time.Now().Add(-time.Hour)})
	os.WriteFile(filepath.Join(dir, LockFile), stale, 0o644)
	if _, ok := LiveLock(dir); ok {
		t.Error("a lock written an hour before its pid's process started counts as live")
	}
	WriteLock(dir, p.Process.Pid, LockTUI)
	if _, ok := LiveLock(dir); !ok {
		t.Error("the lock of a live process written after it started is not live")
	}
}

// TestEventsAnnounceWork: every evaluation and checkpoint is announced before
// it starts (evaluating, checkpointing) and reported when done (eval,
// checkpoint), so a front end can say what the run is busy with.
func TestEventsAnnounceWork(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "eval.tasks=[fake]", "eval.interval=10")
	r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: "ann", Evaluator: &fakeEval{}, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	var open *Event
	var evals, ckpts int
	for _, e := range follow(t, r, nil) {
		switch e.Type {
		case EvEvaluating, EvCheckpointing:
			if open != nil {
				t.Fatalf("%s at step %d while %s is open", e.Type, e.Step, open.Type)
			}
			e := e
			open = &e
		case EvEval:
			if open == nil || open.Type != EvEvaluating || open.Message != e.Message || open.Step != e.Step {
				t.Fatalf("eval (%s) at step %d announced by %+v", e.Message, e.Step, open)
			}
			open = nil
			evals++
		case EvCheckpoint:
			if open == nil || open.Type != EvCheckpointing || open.Checkpoint != e.Checkpoint || open.Step != e.Step {
				t.Fatalf("checkpoint %s announced by %+v", e.Checkpoint, open)
			}
			open = nil
			ckpts++
		case EvStep:
			if open != nil {
				t.Fatalf("step %d while %s is open", e.Step, open.Type)
			}
		}
	}
	// evaluations at 10, 20 and the final one; checkpoints every 5 steps
	if evals != 3 || ckpts != 4 {
		t.Errorf("%d evaluations, %d checkpoints; want 3 and 4", evals, ckpts)
	}
	onlySteps(t, filepath.Join(root, "ann"))
}

// TestProgressStaysWithinTotal: budgets that are not whole steps end at the
// step that reaches them, and the total says so: no step's tokens pass it,
// the last step's equal it, and the anneal's and each soup ingredient's LR
// reaches zero exactly on their last step.
func TestProgressStaysWithinTotal(t *testing.T) {
	root := t.TempDir()
	// 256 tokens a step: 5000 → 20 steps; an anneal of 1000 → 4 steps
	rec := parseTiny(t, "max_tokens=5000", "anneal.auto_at=2560", "anneal.tokens=1000")
	r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: "whole", PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	var last Event
	for _, e := range follow(t, r, nil) {
		if e.Type == EvStep {
			if e.Tokens > e.TotalTokens {
				t.Fatalf("step %d: %d tokens of %d (%.1f%%)", e.Step, e.Tokens, e.TotalTokens, 100*float64(e.Tokens)/float64(e.TotalTokens))
			}
			last = e
		}
	}
	if last.Tokens != last.TotalTokens || last.Tokens != 2560+1024 || last.LR != 0 {
		t.Errorf("last step: %d of %d tokens, LR %v; want %d of %d, LR 0", last.Tokens, last.TotalTokens, last.LR, 3584, 3584)
	}
	if line := progressLine(last); !strings.Contains(line, "(100%)") {
		t.Errorf("progress line at the end: %s", line)
	}
}
