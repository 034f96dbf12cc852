package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/olmolab/olmolab/lab"
)

// TestDetach: quit → d stops the run in this process (its context is
// cancelled, so the lab checkpoints and ends as interrupted), hands the run
// directory to the headless starter and marks the run with its pid (the lab
// marks a run training here itself: TestFlowRealRun).
func TestDetach(t *testing.T) {
	o := testOptions(t, 80, 24)
	var detached string
	o.Detach = func(dir string) (int, error) { detached = dir; return 4242, nil }
	fake := newFakeRun("quickstart-test", filepath.Join("runs", "quickstart-test"), testRecipe(t))
	os.MkdirAll(fake.dir, 0o755)
	o.StartRun = func(ctx context.Context, p lab.RunParams) (Run, error) {
		go func() {
			<-ctx.Done()
			fake.q.Publish(lab.Event{Type: lab.EvDone, Run: fake.name, State: "interrupted"})
			close(fake.done)
		}()
		return fake, nil
	}
	m := New(o)
	m.Update(m.startCmd(lab.RunParams{Recipe: fake.rec}, false)())
	fake.steps(10)
	m.Update(runEventsMsg{gen: m.liveGen, events: fake.q.Drain(nil)})
	press(m, "q", "d")
	select {
	case <-fake.done:
	case <-time.After(5 * time.Second):
		t.Fatal("detach did not stop the run in this process")
	}
	_, cmd := m.Update(runEventsMsg{gen: m.liveGen, events: fake.q.Drain(nil), done: true})
	if cmd == nil {
		t.Fatal("no headless start after the run ended")
	}
	_, cmd = m.Update(cmd())
	if detached != fake.dir {
		t.Errorf("detached %q, want %q", detached, fake.dir)
	}
	if l, ok := lab.ReadLock(fake.dir); !ok || l.PID != 4242 || l.Mode != lab.LockHeadless {
		t.Errorf("lock after detach: %+v", l)
	}
	if cmd == nil || !strings.Contains(m.ExitMessage(), "pid 4242") {
		t.Errorf("no quit or no word on the headless run: %q", m.ExitMessage())
	}
}

// TestQuitWhenTheRunEndsAnyway: a stop or a detach asked for as the run
// ends on its own (during its final evaluation, which the lab lets end the
// run finished) leaves a finished run: the session quits saying so, with no
// --resume line (a resume of a finished run does nothing) and no headless
// process to resume it; it said "run … finished; continue it with: olmolab
// --batch --resume …", or handed the finished run to a headless resume and
// said it keeps training there. A run that stopped or was interrupted gets
// the line, or its headless process.
func TestQuitWhenTheRunEndsAnyway(t *testing.T) {
	for _, tc := range []struct {
		key, state string
		want, not  string
		detached   bool
	}{
		{"s", "stopped", "run quickstart-test stopped; continue it with: olmolab --batch --resume ", "", false},
		{"s", "finished", "run quickstart-test finished at step 12; nothing to continue", "--resume", false},
		{"d", "interrupted", "keeps training headless (pid 4242)", "", true},
		{"d", "finished", "run quickstart-test finished at step 12; nothing to continue", "--resume", false},
		{"d", "failed", "run quickstart-test failed at step 12", "headless", false},
	} {
		t.Run(tc.key+" "+tc.state, func(t *testing.T) {
			o := testOptions(t, 80, 24)
			detached := false
			o.Detach = func(string) (int, error) { detached = true; return 4242, nil }
			m, f := liveModel(t, o, stage1Events("quickstart-test"))
			m.liveCancel = func() {} // the fake ends when the test says
			press(m, "q", tc.key)
			f.q.Drain(nil) // the fake's own answer to a stop
			done := lab.Event{Type: lab.EvDone, Time: t0.Add(time.Hour), Run: f.name, Step: 12, State: tc.state,
				Summary: &lab.RunSummary{State: tc.state, Steps: 12}}
			_, cmd := m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{done}, done: true})
			for cmd != nil {
				msg := cmd()
				if _, ok := msg.(tea.QuitMsg); ok {
					break
				}
				_, cmd = m.Update(msg)
			}
			msg := m.ExitMessage()
			if !strings.Contains(msg, tc.want) || tc.not != "" && strings.Contains(msg, tc.not) || detached != tc.detached {
				t.Errorf("exit message %q, detached %v; want %q, without %q, detached %v", msg, detached, tc.want, tc.not, tc.detached)
			}
		})
	}
}

// TestTakeOver: a run marked as trained by a live headless process shows as
// headless; t interrupts that process and resumes the run here.
func TestTakeOver(t *testing.T) {
	o := testOptions(t, 80, 24)
	rec := testRecipe(t)
	dir := filepath.Join("runs", "quickstart-b")
	writeRunDir(t, dir, rec, stage1Events("quickstart-b"))
	// a stand-in for `olmolab --batch --resume runs/quickstart-b`
	proc := exec.Command("sh", "-c", "sleep 30", "runs/quickstart-b")
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { proc.Wait(); close(exited) }()
	defer proc.Process.Kill()
	lab.WriteLock(dir, proc.Process.Pid, lab.LockHeadless)

	var resumed string
	o.Interrupt = func(pid int) error { return proc.Process.Kill() }
	o.StartRun = func(_ context.Context, p lab.RunParams) (Run, error) {
		resumed = p.ResumeDir
		return newFakeRun("quickstart-b", dir, rec), nil
	}
	m := New(o)
	if st := m.runs[0].State; st != "headless" {
		t.Fatalf("listed as %q, want headless", st)
	}
	m.loadingTo = dir
	m.Update(m.openRun(dir)())
	if !strings.Contains(screen(m), "● headless") || !m.keys.TakeOver.Enabled() {
		t.Fatalf("headless run not shown as such or t disabled:\n%s", screen(m))
	}
	press(m, "t")
	if m.dialog == nil || m.dialog.kind != dlgTakeOver {
		t.Fatal("t did not ask")
	}
	_, cmd := m.Update(keyMsg("enter"))
	select { // Interrupt kills it at once; unkilled, it would go on for 30 s
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the headless process was not interrupted")
	}
	_, cmd = m.Update(cmd()) // the process has exited: resume here
	m.Update(cmd())
	if resumed != dir || m.live == nil || m.cur != m.liveData {
		t.Fatalf("not resumed here: resumed %q, live %v", resumed, m.live)
	}
	if !m.keys.Anneal.Enabled() {
		t.Error("the taken-over run's keys are not back")
	}
}

// TestTakeOverRemote: a run whose lock was written on another host is not
// taken over here (its pid names no process here); the notice says the host
// and how long ago its heartbeat was. Once that heartbeat is stale, the node
// is taken as dead and the run no longer shows as headless.
func TestTakeOverRemote(t *testing.T) {
	o := testOptions(t, 80, 24)
	dir := filepath.Join("runs", "quickstart-b")
	writeRunDir(t, dir, testRecipe(t), stage1Events("quickstart-b"))
	lock := filepath.Join(dir, lab.LockFile)
	os.WriteFile(lock, []byte(`{"pid": 4242, "mode": "headless", "host": "node-7"}`), 0o644)
	beat := time.Now().Add(-20 * time.Second)
	os.Chtimes(lock, beat, beat)
	o.Interrupt = func(pid int) error { t.Errorf("signalled pid %d of another host", pid); return nil }
	m := New(o)
	if st := m.runs[0].State; st != "headless" {
		t.Fatalf("listed as %q, want headless", st)
	}
	m.loadingTo = dir
	m.Update(m.openRun(dir)())
	press(m, "t")
	if _, cmd := m.Update(keyMsg("enter")); cmd != nil {
		t.Error("a take-over of another host's run went ahead")
	}
	for _, want := range []string{"node-7", "heartbeat 2"} {
		if !strings.Contains(m.notice, want) {
			t.Errorf("notice %q lacks %q", m.notice, want)
		}
	}

	beat = time.Now().Add(-lab.LockStaleAfter - time.Minute)
	os.Chtimes(lock, beat, beat)
	if m = New(o); m.runs[0].State == "headless" {
		t.Error("a run whose node stopped its heartbeat still shows as headless")
	}
}

// While a run trains in the session, enter on a recipe says at once that
// another cannot start here, and why: it opened the launch dialog, took the
// overrides and the name, and refused only on enter.
func TestLaunchWhileTrainingSaysSoAtOnce(t *testing.T) {
	m, _ := liveModel(t, testOptions(t, 100, 24), stage1Events("quickstart-test"))
	press(m, "n", "enter")
	if m.dialog != nil {
		t.Fatalf("enter on a recipe opened the %q dialog while a run trains", m.dialog.title)
	}
	lines := strings.Split(screen(m), "\n")
	if got, want := lines[len(lines)-3], "one run trains at a time here, and quickstart-test is: stop it (X) or detach it (q, d) first"; !strings.Contains(got, want) {
		t.Errorf("notice %q, want %q", got, want)
	}
}

// A notice made of an error with a HINT line is drawn on one line: the
// newline in it made the frame a line taller than the window (a take-over
// whose resume fails, a recipe that does not parse with a hint).
func TestMultiLineNoticeKeepsTheFrame(t *testing.T) {
	m := New(testOptions(t, 80, 24))
	m.Update(launchedMsg{resume: true, err: errors.New("resume runs/x: no checkpoint\nHINT: the run never wrote one")})
	checkFrame(t, m, 80, 24)
	lines := strings.Split(screen(m), "\n")
	if got, want := lines[len(lines)-3], " could not start: resume runs/x: no checkpoint · HINT: the run never wrote one"; got != want {
		t.Errorf("notice %q, want %q", got, want)
	}
}

// TestRecordingRunIsNotRunning: a run that olmolab eval --record scores
// (its mark) or whose evals.jsonl it writes (the run's lock, mode eval) is
// listed as recording; the lock read as a run being trained ("running").
func TestRecordingRunIsNotRunning(t *testing.T) {
	self, _ := os.Hostname()
	for _, tc := range []struct{ name, file, mode string }{
		{"writing", lab.LockFile, lab.LockEval},
		{"scoring", lab.RecordingPrefix + self + ".1", lab.LockRecording},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t, 80, 24)
			dir := filepath.Join("runs", "quickstart-r")
			writeRunDir(t, dir, testRecipe(t), stage1Events("quickstart-r"))
			lock := fmt.Sprintf(`{"pid": %d, "mode": %q, "host": %q, "started": %q}`, os.Getpid(), tc.mode, self, time.Now().Format(time.RFC3339))
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(lock), 0o644); err != nil {
				t.Fatal(err)
			}
			m := New(o)
			if st := m.runs[0].State; st != "recording" {
				t.Errorf("listed as %q, want recording", st)
			}
		})
	}
}
