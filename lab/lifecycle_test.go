package lab

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab/olmes"
)

// follow drains a run's events until it ends, handing each to on (which may
// act on the run) and returning them all.
func follow(t *testing.T, r *Run, on func(Event)) []Event {
	t.Helper()
	var all []Event
	deadline := time.After(waitLimit)
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
			t.Fatalf("the run did not end within %v; goroutines:\n%s", waitLimit, goroutines())
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
	if s, _ := waitRun(t, r); s.State != "stopped" {
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
	if _, err := waitRun(t, r); !errors.Is(err, ErrInterrupted) {
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

	// A finished run has nothing to resume: ErrFinished, and nothing touched.
	before := map[string][]byte{}
	for _, f := range []string{MetricsFile, EventsFile, EvalsFile, SummaryFile} {
		before[f], _ = os.ReadFile(filepath.Join(dir, f))
	}
	if _, err := StartRun(context.Background(), RunParams{ResumeDir: dir, PeakFLOPS: 1e11}); !errors.Is(err, ErrFinished) ||
		!strings.Contains(err.Error(), "step 20") {
		t.Fatalf("resume of a finished run: %v, want ErrFinished at step 20", err)
	}
	for f, b := range before {
		if after, _ := os.ReadFile(filepath.Join(dir, f)); string(after) != string(b) {
			t.Errorf("the refused resume changed %s", f)
		}
	}
	noLock(t, dir, "refused resume of a finished run")
	// A run killed after its last checkpoint but before its summary: resumable.
	os.Remove(filepath.Join(dir, SummaryFile))

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

// writeLockAt writes a lock as another process would, with its heartbeat
// (the file's mtime) at beat.
func writeLockAt(t *testing.T, dir string, l RunLock, beat time.Time) {
	t.Helper()
	b, _ := json.Marshal(l)
	path := filepath.Join(dir, LockFile)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, beat, beat); err != nil {
		t.Fatal(err)
	}
}

// TestLiveLockHeartbeat: a lock written on another host is live while its
// heartbeat is younger than LockStaleAfter, so a dead node's run can be taken
// over; a lock of this host goes by its pid whatever its heartbeat.
func TestLiveLockHeartbeat(t *testing.T) {
	host, _ := os.Hostname()
	now := time.Now()
	dead := sleeper(t)
	dead.Process.Kill()
	dead.Wait()
	for _, tc := range []struct {
		name string
		lock RunLock
		age  time.Duration // of the heartbeat
		live bool
	}{
		{"another host, fresh heartbeat", RunLock{PID: 1, Host: "node-7"}, 0, true},
		{"another host, two missed beats", RunLock{PID: 1, Host: "node-7"}, LockStaleAfter - time.Minute, true},
		{"another host, heartbeat too old: a dead node", RunLock{PID: 1, Host: "node-7"}, LockStaleAfter + time.Second, false},
		{"another host, heartbeat ahead of this clock", RunLock{PID: 1, Host: "node-7"}, -time.Minute, true},
		{"this host, live pid, old heartbeat", RunLock{PID: os.Getpid(), Host: host, Started: now}, time.Hour, true},
		{"this host, dead pid, fresh heartbeat", RunLock{PID: dead.Process.Pid, Host: host, Started: now}, 0, false},
		{"no host, live pid", RunLock{PID: os.Getpid(), Started: now}, time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeLockAt(t, dir, tc.lock, now.Add(-tc.age))
			if l, live := LiveLock(dir); live != tc.live || l.PID != tc.lock.PID {
				t.Errorf("LiveLock = %+v, %v; want live %v", l, live, tc.live)
			}
		})
	}
}

// TestRemoteLockTakeover: a fresh lock of another host refuses the run with
// the host and how long ago its heartbeat was; a stale one is replaced.
func TestRemoteLockTakeover(t *testing.T) {
	dir := t.TempDir()
	remote := RunLock{PID: 4242, Mode: LockHeadless, Host: "node-7", Started: time.Now().Add(-time.Hour)}
	writeLockAt(t, dir, remote, time.Now().Add(-20*time.Second))
	err := acquireLock(dir, LockHeadless)
	if err == nil {
		t.Fatal("a live lock of another host was replaced")
	}
	for _, want := range []string{dir, "pid 4242", "on node-7", "heartbeat 2", "HINT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
	if l, _ := ReadLock(dir); l.PID != 4242 {
		t.Fatalf("the refusal touched the other host's lock: %+v", l)
	}

	writeLockAt(t, dir, remote, time.Now().Add(-LockStaleAfter-time.Minute))
	if err := acquireLock(dir, LockHeadless); err != nil {
		t.Fatalf("a dead node's lock blocked the run: %v", err)
	}
	if l, ok := LiveLock(dir); !ok || l.PID != os.Getpid() {
		t.Fatalf("lock after the takeover: %+v, live %v", l, ok)
	}
}

// TestLockHeartbeat: a training run refreshes its lock's mtime, and stops
// once the lock is released; the heartbeat leaves another process's lock
// alone.
func TestLockHeartbeat(t *testing.T) {
	lockHeartbeat = 10 * time.Millisecond
	t.Cleanup(func() { lockHeartbeat = LockHeartbeat })
	old := time.Now().Add(-time.Hour)
	beaten := func(dir string) bool {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if l, ok := ReadLock(dir); ok && time.Since(l.Heartbeat) < time.Minute {
				return true
			}
		}
		return false
	}
	path := func(dir string) string { return filepath.Join(dir, LockFile) }

	r, err := StartRun(context.Background(), RunParams{Recipe: parseTiny(t, "max_tokens=1M", "checkpoint.interval=0"), RunsDir: t.TempDir(), Name: "beat", PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path(r.Dir), old, old)
	if !beaten(r.Dir) {
		t.Error("the training run did not refresh its lock")
	}
	r.Do(Action{Kind: ActStop})
	waitRun(t, r)
	noLock(t, r.Dir, "stopped")

	// stop returns once the goroutine has ended: no beat after it
	dir := t.TempDir()
	writeLockAt(t, dir, RunLock{PID: os.Getpid(), Mode: LockTUI}, old)
	stop := heartbeat(dir, os.Getpid())
	if !beaten(dir) {
		t.Fatal("heartbeat did not refresh the lock")
	}
	stop()
	os.Chtimes(path(dir), old, old)
	time.Sleep(50 * time.Millisecond)
	if l, _ := ReadLock(dir); time.Since(l.Heartbeat) < time.Minute {
		t.Errorf("a beat after stop: heartbeat %v", l.Heartbeat)
	}

	// another process's lock is not ours to keep alive
	writeLockAt(t, dir, RunLock{PID: 4242, Mode: LockHeadless}, old)
	stop = heartbeat(dir, os.Getpid())
	time.Sleep(50 * time.Millisecond)
	stop()
	if l, _ := ReadLock(dir); time.Since(l.Heartbeat) < time.Minute {
		t.Errorf("the heartbeat refreshed pid %d's lock", l.PID)
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
	// evaluations at 10 and 20, the final one; checkpoints every 5 steps
	if evals != 2 || ckpts != 4 {
		t.Errorf("%d evaluations, %d checkpoints; want 2 and 4", evals, ckpts)
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
	if line := progressLine(last, &Throughput{}, 0); !strings.Contains(line, "(100%)") {
		t.Errorf("progress line at the end: %s", line)
	}
}

// TestManualSoupIsASideJob: a soup made during stage 1 starts from a
// checkpoint and leaves the run as it was: the run goes on in stage 1 with
// its own weights, optimizer state and data order, so its losses are those of
// a run without the soup, bit for bit. The soup's ingredients end at their
// (whole-step) token budget with LR 0.
func TestManualSoupIsASideJob(t *testing.T) {
	root := t.TempDir()
	over := []string{"max_tokens=10240", "eval.tasks=[fake]"}
	if _, err := runToEnd(t, RunParams{Recipe: parseTiny(t, over...), RunsDir: root, Name: "plain", Evaluator: &fakeEval{}}); err != nil {
		t.Fatal(err)
	}
	want := losses(t, filepath.Join(root, "plain"))

	// The pause is sent while the run is held in its evaluation at step 3
	// (evaluations leave the weights and the data order alone), so it
	// comes at step 3: sent on reading a step's event, it came after the
	// run's last step when the test was that late, and there was no soup.
	gate := newGateEval()
	r, err := StartRun(context.Background(), RunParams{Recipe: parseTiny(t, append(over, "eval.interval=3")...), RunsDir: root, Name: "souped", Evaluator: gate, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	gate.reached(t, r)
	r.Do(Action{Kind: ActPause})
	gate.open()
	var pausedAt int64
	var soupDone *Event
	var ingLast map[string]Event = map[string]Event{}
	evs := follow(t, r, func(e Event) {
		switch {
		case e.Type == EvPhase && e.Message == "paused" && pausedAt == 0:
			pausedAt = e.Step
			r.Do(Action{Kind: ActSoup, K: 2, Tokens: 1000, Seeds: []uint64{5, 6}})
			r.Do(Action{Kind: ActResume})
		case e.Type == EvPhase && strings.HasPrefix(e.Message, "soup done"):
			e := e
			soupDone = &e
		case e.Type == EvStep && e.Run != r.Name:
			ingLast[e.Run] = e
		case e.Type == EvStep && soupDone != nil && e.Phase != "stage1":
			t.Errorf("step %d after the soup in phase %q", e.Step, e.Phase)
		}
	})
	s, err := waitRun(t, r)
	if err != nil || s.State != "finished" || s.Steps != int64(len(want)) {
		t.Fatalf("souped run: state %q, %d steps, err %v (want finished after %d)", s.State, s.Steps, err, len(want))
	}
	if pausedAt != 3 {
		t.Fatalf("paused at step %d, want 3", pausedAt)
	}
	if soupDone == nil || soupDone.Phase != "stage1" || !strings.Contains(soupDone.Message, "stage1 goes on from step") {
		t.Fatalf("soup done event: %+v", soupDone)
	}
	if s.Soup == nil || s.Soup.FromStep != pausedAt || len(s.Soup.Ingredients) != 2 || s.Soup.Tokens != 1024 {
		t.Fatalf("soup report %+v (paused at %d)", s.Soup, pausedAt)
	}
	if len(ingLast) != 2 {
		t.Fatalf("ingredients' last steps: %v", ingLast)
	}
	for name, e := range ingLast {
		if e.Tokens != e.TotalTokens || e.Tokens != s.Soup.FromTokens+1024 || e.LR != 0 {
			t.Errorf("%s ends at %d of %d tokens with LR %v", name, e.Tokens, e.TotalTokens, e.LR)
		}
	}
	got := losses(t, filepath.Join(root, "souped"))
	for i := range want {
		if got[i] != want[i] && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Fatalf("step %d: loss %v with a soup at step %d, %v without", i+1, got[i], pausedAt, want[i])
		}
	}
	// the summary's evaluation is the run's own, not the soup's
	if n := len(evs); n == 0 || evs[n-1].Type != EvDone {
		t.Fatal("no done event")
	}
	if len(s.Evals) == 0 || s.Evals[0].Value == s.Soup.Soup.Evals[0].Value {
		t.Errorf("final evaluation %+v is the soup's %+v", s.Evals, s.Soup.Soup.Evals)
	}
	// and the run directory stands for the run's own weights
	latest, _ := LatestCheckpoint(filepath.Join(root, "souped"))
	if s.Soup.Final || latest == "" {
		t.Errorf("side-job soup marked final (%v), latest checkpoint %q", s.Soup.Final, latest)
	}
	if got, err := ResolveCheckpoint(filepath.Join(root, "souped")); err != nil || got != latest {
		t.Errorf("ResolveCheckpoint(run) = %q, %v; want its latest checkpoint %q", got, err, latest)
	}
}

// TestPauseAndStopDuringASoup: pause holds a soup between ingredient steps
// until resume; stop abandons it and ends the run as stopped at the
// checkpoint the soup started from, from which a resume makes the recipe's
// soup again.
func TestPauseAndStopDuringASoup(t *testing.T) {
	root := t.TempDir()
	// the recipe's own soup at 2560 tokens, the run's last act; its base
	// checkpoint is the soup's own (no interval checkpoint at that step)
	rec := parseTiny(t, "anneal.auto_at=2560", "anneal.tokens=5120", "soup.ingredients=2", "max_tokens=1M", "checkpoint.interval=0", "eval.tasks=[fake]")
	// the pause is asked for as the first ingredient writes its third step
	// (13), and the stop with the resume: sent on reading the step's event
	// and the resume's, they came in the second ingredient, or after the
	// soup, when the test was 17 steps late (a loaded machine)
	started := actAtStep(t, "ingredient-1-seed-8", 13, Action{Kind: ActPause},
		Action{Kind: ActEval}) // refused during a soup, with a word
	r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: "sp", PeakFLOPS: 1e11, Evaluator: &fakeEval{}})
	if err != nil {
		t.Fatal(err)
	}
	started(r)
	var pause, resume Event
	var afterPause, ingSteps, stepsAtPause int
	paused := false
	resumeAt := time.Time{}
	evs := follow(t, r, func(e Event) {
		switch {
		case e.Type == EvStep && e.Run != r.Name:
			ingSteps++
			if paused {
				afterPause++
			}
		case e.Type == EvPhase && e.Message == "paused":
			pause, paused, stepsAtPause = e, true, ingSteps
			resumeAt = time.Now()
			go func() {
				time.Sleep(300 * time.Millisecond) // paused: no step comes meanwhile
				r.Do(Action{Kind: ActResume})
				r.Do(Action{Kind: ActStop}) // taken with the resume, before the next step
			}()
		case e.Type == EvPhase && e.Message == "resumed":
			resume, paused = e, false
		}
	})
	s, err := waitRun(t, r)
	if err != nil || s.State != "stopped" {
		t.Fatalf("stop during a soup: state %q, err %v", s.State, err)
	}
	if pause.Type == "" || resume.Type == "" || afterPause != 0 {
		t.Fatalf("pause %+v, resume %+v, %d soup steps while paused", pause, resume, afterPause)
	}
	if !resume.Time.After(resumeAt.Add(250 * time.Millisecond)) {
		t.Errorf("the soup resumed %v after the pause, before it was asked to", resume.Time.Sub(resumeAt))
	}
	if pause.Step != 13 || stepsAtPause != 3 || pause.Phase != "soup" || resume.Step != pause.Step {
		t.Errorf("pause marked at step %d phase %q after %d soup steps, resume at %d; want both at step 13 (3 steps into the soup from step 10)",
			pause.Step, pause.Phase, stepsAtPause, resume.Step)
	}
	var warned, stopped bool
	for _, e := range evs {
		warned = warned || e.Type == EvWarning && e.Message == "evaluate: a soup is being made (only pause, resume and stop apply); nothing done"
		stopped = stopped || e.Type == EvPhase && strings.HasPrefix(e.Message, "soup stopped")
	}
	if !warned || !stopped {
		t.Errorf("warning for the refused action %v, soup stopped event %v", warned, stopped)
	}
	if done := evs[len(evs)-1]; done.Type != EvDone || done.Phase != "stage1" || done.Step != 10 {
		t.Errorf("done event %+v, want stage1 at step 10", done)
	}
	ck, _ := LatestCheckpoint(filepath.Join(root, "sp"))
	if !strings.HasSuffix(ck, checkpointName(10)) {
		t.Errorf("latest checkpoint %s, want the soup's base (step 10)", ck)
	}

	// resumed, the run makes its soup again from that checkpoint and ends
	r, err = StartRun(context.Background(), RunParams{ResumeDir: filepath.Join(root, "sp"), PeakFLOPS: 1e11, Evaluator: &fakeEval{}})
	if err != nil {
		t.Fatal(err)
	}
	follow(t, r, nil)
	s, err = waitRun(t, r)
	if err != nil || s.State != "finished" || s.Soup == nil || s.Soup.FromStep != 10 || s.Steps != 10 {
		t.Fatalf("resumed soup: state %q, steps %d, soup %+v, err %v", s.State, s.Steps, s.Soup, err)
	}
	// and its files read as if the stopped attempt had not been: one record of
	// each evaluation, one step sequence per ingredient
	recs, err := olmes.ReadEvalRecords(filepath.Join(root, "sp", EvalsFile))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, rc := range recs {
		seen[rc.Run+" "+rc.Why+" "+strconv.Itoa(rc.Step)]++
	}
	for _, k := range []string{"sp before soup 10", "sp/ingredient-1-seed-8 soup ingredient 10", "sp/ingredient-2-seed-9 soup ingredient 10", "sp/soup soup 10"} {
		if seen[k] != 1 {
			t.Errorf("evals.jsonl holds %d records of %q, want 1 (all: %v)", seen[k], k, seen)
		}
	}
	for _, ing := range s.Soup.Ingredients {
		b, err := os.ReadFile(filepath.Join(root, "sp", "soups", "soup-10", ing.Name, MetricsFile))
		if err != nil {
			t.Fatal(err)
		}
		var steps []int64
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var e Event
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("%s: %v", ing.Name, err)
			}
			steps = append(steps, e.Step)
		}
		want := int(s.Soup.Tokens / 256)
		if len(steps) != want || steps[0] != 11 || steps[len(steps)-1] != int64(10+want) {
			t.Errorf("%s: metrics.jsonl holds steps %v, want 11 to %d once", ing.Name, steps, 10+want)
		}
	}
}

// TestExplainLockError: a lock that cannot be written for lack of permission
// says that the run directory is not writable (tests run as root here, where
// permissions do not stop a write, so the error is made by hand).
func TestExplainLockError(t *testing.T) {
	perm := &fs.PathError{Op: "open", Path: "runs/x/.olmolab.pid.1.tmp", Err: fs.ErrPermission}
	if err := explainLockError("runs/x", perm); !strings.Contains(err.Error(), "runs/x: the run directory is not writable") || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("permission: %v", err)
	}
	other := errors.New("disk on fire")
	if err := explainLockError("runs/x", other); err != other {
		t.Errorf("other errors pass through: %v", err)
	}
}

// TestStaleLockTakenOverOnce: two processes that find a run's lock stale at
// the same moment (a requeued Slurm task and a person's resume) both
// replaced it and both trained the run into the same files. One takes it
// over; the other is refused, naming the run.
func TestStaleLockTakenOverOnce(t *testing.T) {
	dir := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true:", err)
	}
	host, _ := os.Hostname()
	writeLockAt(t, dir, RunLock{PID: dead.Process.Pid, Mode: LockHeadless, Host: host, Started: time.Now().Add(-time.Hour)}, time.Now())
	a, b := sleeper(t).Process.Pid, sleeper(t).Process.Pid // two live processes
	var errB error
	// b takes the lock over while a is between finding it stale and replacing it
	lockRaceHook = func() {
		lockRaceHook = nil
		errB = acquireLockAs(dir, LockHeadless, b)
	}
	defer func() { lockRaceHook = nil }()
	errA := acquireLockAs(dir, LockHeadless, a)
	l, _ := ReadLock(dir)
	switch {
	case errA == nil && errB == nil:
		t.Fatalf("both processes hold the run (the lock names pid %d)", l.PID)
	case errA != nil && errB != nil:
		t.Fatalf("neither holds the run: %v; %v", errA, errB)
	}
	holder, refused := a, errB
	if errA != nil {
		holder, refused = b, errA
	}
	if l.PID != holder || !strings.Contains(refused.Error(), dir) {
		t.Errorf("the lock names pid %d, want the holder %d; the other's refusal: %v", l.PID, holder, refused)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestSoupAskedForWhilePaused: a soup asked for while the run is paused is
// made at once, as any action asked for then is (the lab tells the person
// "it applies now"); it started paused and waited for a resume. The run is
// paused again afterwards, at its step, and trains on when resumed.
func TestSoupAskedForWhilePaused(t *testing.T) {
	rec := parseTiny(t, "max_tokens=1M", "checkpoint.interval=0", "eval.tasks=[fake]")
	r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: t.TempDir(), Name: "ps", PeakFLOPS: 1e11, Evaluator: &fakeEval{}})
	if err != nil {
		t.Fatal(err)
	}
	var pausedAt int64 = -1
	var soupDone Event
	var ingSteps, ownAfterSoup int
	var resumeSent atomic.Bool
	stopSent := false
	// without the fix the soup waits for a resume: stop it, which ends the run
	stall := time.AfterFunc(30*time.Second, func() { r.Do(Action{Kind: ActStop}) })
	defer stall.Stop()
	evs := follow(t, r, func(e Event) {
		switch {
		case e.Type == EvStep && e.Run == r.Name:
			if e.Step >= 3 && pausedAt < 0 && !stopSent {
				r.Do(Action{Kind: ActPause})
			}
			if soupDone.Type != "" {
				ownAfterSoup++
				if !resumeSent.Load() {
					t.Errorf("step %d trained after the soup, before a resume", e.Step)
				}
				if !stopSent {
					stopSent = true
					r.Do(Action{Kind: ActStop})
				}
			}
		case e.Type == EvStep:
			ingSteps++
		case e.Type == EvPhase && e.Message == "paused" && pausedAt < 0:
			pausedAt = e.Step
			r.Do(Action{Kind: ActSoup, K: 2, Tokens: 512})
		case e.Type == EvPhase && strings.HasPrefix(e.Message, "soup done"):
			soupDone = e
			go func() {
				time.Sleep(300 * time.Millisecond) // paused: no step comes meanwhile
				resumeSent.Store(true)
				r.Do(Action{Kind: ActResume})
			}()
		}
	})
	s, err := r.Wait()
	if err != nil || s.State != "stopped" {
		t.Fatalf("state %q, err %v", s.State, err)
	}
	if soupDone.Type == "" {
		t.Fatalf("a soup asked for while paused was not made (%d ingredient steps) before the run was stopped 30 s later", ingSteps)
	}
	if ingSteps != 4 || soupDone.Step != pausedAt || !strings.Contains(soupDone.Message, "it is paused") {
		t.Errorf("soup of %d ingredient steps, done at step %d (%q); want 4, made at step %d, the run paused", ingSteps, soupDone.Step, soupDone.Message, pausedAt)
	}
	if ownAfterSoup == 0 {
		t.Error("the run did not train on once resumed after the soup")
	}
	// the pause markers: the run's pause, the soup's start (resumed), the
	// run paused again after the soup, and the person's resume, in that order
	var marks []string
	for _, e := range evs {
		if e.Type == EvPhase && (e.Message == "paused" || e.Message == "resumed") {
			marks = append(marks, e.Message+"@"+strconv.FormatInt(e.Step, 10))
		}
	}
	p := strconv.FormatInt(pausedAt, 10)
	if want := []string{"paused@" + p, "resumed@" + p, "paused@" + p, "resumed@" + p}; strings.Join(marks, " ") != strings.Join(want, " ") {
		t.Errorf("pause and resume events %v, want %v", marks, want)
	}
}

// TestResumeRemovesTemporaries: what a killed or quit process left
// half-written in a run (a checkpoint's .tmp-step-N directory, a soup's
// float32 copy of its start, a file being replaced) is removed by the next
// resume, once it holds the lock, even of a run that then has nothing to
// continue (finished); only a later checkpoint removed the checkpoint's,
// so a run never resumed past it kept a model's worth of disk. A temporary
// file of a live process is left alone.
func TestResumeRemovesTemporaries(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "tmps")
	if _, err := runToEnd(t, RunParams{Recipe: parseTiny(t), RunsDir: root, Name: "tmps"}); err != nil {
		t.Fatal(err)
	}
	live := sleeper(t)
	defer func() { live.Process.Kill(); live.Wait() }()
	dead := []string{
		filepath.Join(CkptDir, ".tmp-step-8-999999999", "model.safetensors"),
		filepath.Join(CkptDir, ".tmp-step-4-999999999.replaced", "config.json"),
		filepath.Join("soups", ".start-step-8-999999999", "model.safetensors"),
		SummaryFile + ".tmp-999999999",
		"." + LockFile + ".999999999.tmp",
	}
	kept := EvalsFile + ".tmp-" + strconv.Itoa(live.Process.Pid) // being written
	for _, f := range append(dead, kept) {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := StartRun(context.Background(), RunParams{ResumeDir: dir, PeakFLOPS: 1e11}); !errors.Is(err, ErrFinished) {
		t.Fatalf("resume of a finished run: %v, want ErrFinished", err)
	}
	for _, f := range dead {
		top := filepath.Join(dir, f)
		if filepath.Base(f) != f { // a directory's file: the directory goes
			top = filepath.Dir(top)
		}
		if _, err := os.Stat(top); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the resume left %s (%v)", top, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, kept)); err != nil {
		t.Errorf("the resume removed a live process's %s: %v", kept, err)
	}
	if _, err := os.Stat(filepath.Join(dir, CkptDir, checkpointName(20), StateFile)); err != nil {
		t.Errorf("the resume removed the run's checkpoint: %v", err)
	}
	noLock(t, dir, "refused resume of a finished run")
}

// TestResumeRefusedWhileRecording: a resume started while eval --record
// scores the run (its mark, StartRecording) is refused, naming the record
// and what to do; it went ahead, and the record, hours of scoring, was then
// refused at its write. Once the record has ended, the resume goes ahead. A
// record of a run a process trains is refused, and leaves no mark.
func TestResumeRefusedWhileRecording(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "rec")
	if _, err := runToEnd(t, RunParams{Recipe: parseTiny(t), RunsDir: root, Name: "rec"}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, SummaryFile)) // killed before its summary: resumable
	stop, err := StartRecording(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := Recording(dir); !ok || l.PID != os.Getpid() || l.Mode != LockRecording {
		t.Errorf("Recording: %+v, %v", l, ok)
	}
	_, err = StartRun(context.Background(), RunParams{ResumeDir: dir, PeakFLOPS: 1e11})
	var ie *InputError
	if want := "olmolab eval --record is scoring the run's checkpoints to record them in its evals.jsonl (pid " + strconv.Itoa(os.Getpid()); !errors.As(err, &ie) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "HINT: resume once it has recorded") {
		t.Fatalf("resume while recording: %v, want an InputError with %q", err, want)
	}
	noLock(t, dir, "refused resume")
	stop()
	if _, ok := Recording(dir); ok {
		t.Error("still recording after stop")
	}
	r, err := StartRun(context.Background(), RunParams{ResumeDir: dir, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatalf("resume after the record: %v", err)
	}
	if _, err := waitRun(t, r); err != nil {
		t.Fatal(err)
	}

	other := sleeper(t)
	defer func() { other.Process.Kill(); other.Wait() }()
	if err := WriteLock(dir, other.Process.Pid, LockHeadless); err != nil {
		t.Fatal(err)
	}
	if _, err := StartRecording(dir); !errors.As(err, &ie) || !strings.Contains(err.Error(), "is held by pid "+strconv.Itoa(other.Process.Pid)) {
		t.Errorf("record of a live run: %v", err)
	}
	if marks := recordingMarks(dir); len(marks) > 0 {
		t.Errorf("the refused record left %v", marks)
	}
}

// TestLiveLockZombie: a run killed with SIGKILL is a zombie until its parent
// reaps it, and kill(pid, 0) still finds it; its lock is not live, so a
// resume straight after the kill is not refused as "being trained by pid N".
func TestLiveLockZombie(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	dir := t.TempDir()
	p := sleeper(t)
	WriteLock(dir, p.Process.Pid, LockHeadless)
	if _, ok := LiveLock(dir); !ok {
		t.Fatal("the lock of a live process is not live")
	}
	if err := p.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// not waited for: the child stays a zombie until Cleanup's Wait
	deadline := time.Now().Add(10 * time.Second)
	for procState(p.Process.Pid) != 'Z' {
		if time.Now().After(deadline) {
			t.Fatalf("the killed child never became a zombie (state %q)", procState(p.Process.Pid))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if PIDAlive(p.Process.Pid) {
		t.Error("PIDAlive says a zombie (killed, not yet reaped) is alive")
	}
	if l, ok := LiveLock(dir); ok {
		t.Errorf("the lock of a killed run not yet reaped is live (pid %d)", l.PID)
	}
}
