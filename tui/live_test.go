package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/olmolab/olmolab/lab"
)

// awaitReload runs a command (a batch of them, as Update returns) and
// returns the live reload it produces. Commands that wait for more events
// are left waiting.
func awaitReload(t *testing.T, cmd tea.Cmd) liveReloadedMsg {
	t.Helper()
	got := make(chan tea.Msg, 16)
	var run func(tea.Cmd)
	run = func(c tea.Cmd) {
		if c == nil {
			return
		}
		go func() {
			msg := c()
			if b, ok := msg.(tea.BatchMsg); ok {
				for _, c := range b {
					run(c)
				}
				return
			}
			got <- msg
		}()
	}
	run(cmd)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case msg := <-got:
			if r, ok := msg.(liveReloadedMsg); ok {
				return r
			}
		case <-deadline:
			t.Fatal("no reload of the live run")
		}
	}
}

// steps checks a curve holds steps from..to, each once, in order.
func checkSteps(t *testing.T, c curve, from, to int64) {
	t.Helper()
	if int64(c.len()) != to-from+1 {
		t.Fatalf("%d points, want steps %d..%d", c.len(), from, to)
	}
	for i := range c.len() {
		if p := c.at(i); p.Step != from+int64(i) {
			t.Fatalf("point %d is step %d, want %d", i, p.Step, from+int64(i))
		}
	}
}

// TestReloadAfterDroppedEvents: when the live run's queue overflows (the UI
// was suspended) the charts would have gaps; the UI reads the run back from
// its files up to the newest event it got, folds in what arrived meanwhile,
// and shows what a session that missed nothing shows.
func TestReloadAfterDroppedEvents(t *testing.T) {
	o := testOptions(t, 100, 30)
	rec := testRecipe(t)
	evs := syntheticRun("quickstart-test", rec)
	more := []lab.Event{}
	for s := int64(121); s <= 125; s++ {
		e := stepEvent("quickstart-test", s, "anneal", 130*testGB)
		e.LR = 0.003 * float64(130-s) / 40
		more = append(more, e)
		if s == 123 { // something that is not a step: it must not count twice
			more = append(more, lab.Event{Type: lab.EvSpike, Time: e.Time.Add(time.Millisecond), Run: e.Run, Step: s, Tokens: e.Tokens,
				Phase: "anneal", Series: "grad_norm", Value: 3, Z: 8})
		}
	}
	// the session that missed nothing
	full, _ := liveModel(t, o, append(append([]lab.Event(nil), evs...), more...))

	m := New(o)
	dir := filepath.Join(o.RunsDir, "quickstart-test")
	f := newFakeRun("quickstart-test", dir, rec)
	f.q = lab.NewEventQueue(16) // overflows at once
	m.Update(launchedMsg{run: f})
	writeRunDir(t, dir, rec, evs) // the lab writes every event before publishing it
	for _, e := range evs {
		f.q.Publish(e)
	}
	msg := waitEvents(f, m.liveGen, 0, time.Time{})().(runEventsMsg)
	if msg.dropped == 0 {
		t.Fatal("the bridge does not say the queue dropped events")
	}
	_, cmd := m.Update(msg)
	if n := m.liveData.Main.len(); n >= 120 {
		t.Fatalf("the test needs a gap: %d points before the reload", n)
	}
	// more arrives before the files are read back
	writeRunDir(t, dir, rec, more)
	for _, e := range more {
		f.q.Publish(e)
	}
	m.Update(runEventsMsg{gen: m.liveGen, events: f.q.Drain(nil), dropped: msg.dropped})
	m.Update(awaitReload(t, cmd))

	checkSteps(t, m.liveData.Main, 1, 125)
	if m.cur != m.liveData {
		t.Fatal("the dashboard does not show the reloaded run")
	}
	body := func(m *Model) string {
		l := strings.Split(screen(m), "\n")
		return strings.Join(l[:len(l)-3], "\n")
	}
	if got, want := body(m), body(full); got != want {
		t.Fatalf("after the reload the dashboard differs from one that missed nothing\nwant:\n%s\ngot:\n%s", want, got)
	}
	// the same count again is no new loss: no second reload
	f.step = 125
	f.steps(1)
	if _, cmd := m.Update(runEventsMsg{gen: m.liveGen, events: f.q.Drain(nil), dropped: msg.dropped}); m.reloading {
		t.Errorf("reloaded again without new drops (%v)", cmd)
	}
}

// TestResumedRunShowsItsPast: a run resumed in the session (take over)
// shows its history from the run directory and what it trains from then on,
// each step once, with one resume marker where it resumed.
func TestResumedRunShowsItsPast(t *testing.T) {
	o := testOptions(t, 80, 24)
	rec := testRecipe(t)
	dir := filepath.Join(o.RunsDir, "quickstart-r")
	name := "quickstart-r"
	at := func(s int64) time.Time { return t0.Add(time.Duration(s)*100*time.Millisecond + 50*time.Millisecond) }
	var past []lab.Event
	for s := int64(1); s <= 30; s++ {
		past = append(past, stepEvent(name, s, "stage1", 300*testGB))
	}
	// killed after step 30, last checkpoint at 25: the lab truncates the
	// files to step 25 when it resumes
	past = append(past[:25], lab.Event{Type: lab.EvResumed, Time: at(40), Run: name, Step: 25, Tokens: 25 * testGB, Phase: "stage1",
		TotalTokens: 300 * testGB, Mix: rec.Dataset, Checkpoint: dir + "/checkpoints/step-25", Message: "from checkpoint step-25"})
	var now []lab.Event
	for s := int64(26); s <= 32; s++ {
		e := stepEvent(name, s, "stage1", 300*testGB)
		e.Time = at(40 + s)
		now = append(now, e)
	}
	// the lab writes every event before it publishes it
	writeRunDir(t, dir, rec, append(append([]lab.Event(nil), past...), now[:4]...))

	m := New(o)
	f := newFakeRun(name, dir, rec)
	m.Update(launchedMsg{run: f, resume: true})
	// the first events the session gets are in the files as well
	f.q.Publish(past[25])
	for _, e := range now[:4] {
		f.q.Publish(e)
	}
	first := waitEvents(f, m.liveGen, 0, time.Time{})()
	// and the run goes on while the session reads its past
	writeRunDir(t, dir, rec, now[4:])
	for _, e := range now[4:] {
		f.q.Publish(e)
	}
	_, cmd := m.Update(first)
	m.Update(runEventsMsg{gen: m.liveGen, events: f.q.Drain(nil)})
	m.Update(awaitReload(t, cmd))
	checkSteps(t, m.liveData.Main, 1, 32)
	var resumes int
	for _, mk := range m.liveData.Markers {
		if mk.Kind == markResume {
			resumes++
			if mk.Step != 25 {
				t.Errorf("resume marker at step %d, want 25", mk.Step)
			}
		}
	}
	if resumes != 1 || m.liveData.State != "running" || m.cur != m.liveData {
		t.Errorf("%d resume markers, state %q", resumes, m.liveData.State)
	}
}

// TestBusyStatus: the status line says when the run evaluates or writes a
// checkpoint, and for how long, until the result arrives.
func TestBusyStatus(t *testing.T) {
	o := testOptions(t, 120, 30)
	now := t0.Add(13 * time.Second)
	o.Now = func() time.Time { return now }
	name := "quickstart-test"
	m, f := liveModel(t, o, stage1Events(name))
	// the run's events come after the session's own notice (launch)
	at := now.Add(8 * time.Second)
	now = at.Add(9 * time.Second)
	status := func() string { return strings.Split(screen(m), "\n")[2] }

	f.q.Publish(lab.Event{Type: lab.EvEvaluating, Time: at, Run: name, Step: 40, Tokens: 40 * testGB, Phase: "stage1", Message: "interval"})
	m.Update(runEventsMsg{gen: m.liveGen, events: f.q.Drain(nil)})
	if s := status(); !strings.Contains(s, "evaluating (interval)… 9s") || strings.Contains(s, "no step for") {
		t.Errorf("status while evaluating: %q", s)
	}
	// the note goes after the figures: on a narrow terminal it is what is cut
	if s := status(); strings.Index(s, "evaluating") < strings.Index(s, "spike") {
		t.Errorf("busy note before the figures: %q", s)
	}
	o80 := testOptions(t, 80, 24)
	o80.Now = o.Now
	m80, f80 := liveModel(t, o80, stage1Events(name))
	f80.q.Publish(lab.Event{Type: lab.EvEvaluating, Time: at, Run: name, Step: 40, Tokens: 40 * testGB, Phase: "stage1", Message: "interval"})
	m80.Update(runEventsMsg{gen: m80.liveGen, events: f80.q.Drain(nil)})
	if s := strings.Split(screen(m80), "\n")[2]; !strings.Contains(s, "tok/s") || !strings.Contains(s, "MFU") {
		t.Errorf("80 columns while evaluating: figures cut from the status line: %q", s)
	}
	f.q.Publish(lab.Event{Type: lab.EvEval, Time: at.Add(time.Second), Run: name, Step: 40, Message: "interval",
		Evals: []lab.EvalScore{{Task: "arith", Metric: "acc", Value: 0.2, Primary: true}}})
	f.q.Publish(lab.Event{Type: lab.EvCheckpointing, Time: at.Add(time.Second), Run: name, Step: 40, Checkpoint: "runs/x/checkpoints/step-40"})
	m.Update(runEventsMsg{gen: m.liveGen, events: f.q.Drain(nil)})
	if s := status(); !strings.Contains(s, "writing a checkpoint…") || strings.Contains(s, "evaluating") {
		t.Errorf("status while writing a checkpoint: %q", s)
	}
	if !strings.Contains(screen(m), "writing a checkpoint at step 40") {
		t.Errorf("no word on the checkpoint being written:\n%s", screen(m))
	}
	f.q.Publish(lab.Event{Type: lab.EvCheckpoint, Time: at.Add(2 * time.Second), Run: name, Step: 40, Checkpoint: "runs/x/checkpoints/step-40"})
	m.Update(runEventsMsg{gen: m.liveGen, events: f.q.Drain(nil)})
	if s := status(); strings.Contains(s, "checkpoint…") || !strings.Contains(s, "no step for") {
		t.Errorf("status after the checkpoint: %q", s)
	}
}

// TestSoupOnRequest: while a soup is made only pause, resume and stop apply,
// and pausing says it holds the soup; once done, the run is back in stage 1
// (the lab says so) with its keys. (Up to its last ingredient's last step:
// TestActionsAfterTheSoupsLastStep has what follows it.)
func TestSoupOnRequest(t *testing.T) {
	o := testOptions(t, 80, 24)
	rec := testRecipe(t)
	name := "quickstart-test"
	evs := syntheticSoupRun(name, rec)
	done := evs[len(evs)-1]
	m, f := liveModel(t, o, evs[:len(evs)-2]) // the last ingredient's last step not yet
	f.phase, f.step = "soup", 100
	k := m.keys
	if !k.Pause.Enabled() || !k.Stop.Enabled() || k.Anneal.Enabled() || k.Soup.Enabled() || k.Mix.Enabled() || k.Checkpoint.Enabled() {
		t.Fatalf("keys during a soup: pause %v stop %v anneal %v soup %v mix %v checkpoint %v",
			k.Pause.Enabled(), k.Stop.Enabled(), k.Anneal.Enabled(), k.Soup.Enabled(), k.Mix.Enabled(), k.Checkpoint.Enabled())
	}
	press(m, "space")
	if m.dialog == nil || !strings.Contains(screen(m), "Pause the soup after its current step") {
		t.Fatalf("pause during a soup:\n%s", screen(m))
	}
	press(m, "enter")
	if got := f.actionKinds(); len(got) != 1 || got[0] != lab.ActPause {
		t.Fatalf("actions %v", got)
	}
	m.Update(runEventsMsg{gen: m.liveGen, events: f.q.Drain(nil)})
	if m.liveData.State != "paused" || !strings.Contains(screen(m), "● paused") {
		t.Fatalf("not shown as paused:\n%s", screen(m))
	}
	press(m, "space", "enter")
	m.Update(runEventsMsg{gen: m.liveGen, events: f.q.Drain(nil)})

	// the lab's soup done on request: the run is back in stage 1
	done.Phase = "stage1"
	done.Message = fmt.Sprintf("soup done: 2 ingredients averaged; stage1 goes on from step %d with the run's own weights", done.Step)
	f.q.Publish(done)
	m.Update(runEventsMsg{gen: m.liveGen, events: f.q.Drain(nil)})
	if m.liveData.Phase != "stage1" {
		t.Errorf("phase right after the soup: %q", m.liveData.Phase)
	}
	f.phase, f.step = "stage1", 90
	f.steps(1)
	m.Update(runEventsMsg{gen: m.liveGen, events: f.q.Drain(nil)})
	if m.liveData.Phase != "stage1" || m.liveData.SoupRunning || !m.keys.Anneal.Enabled() || !m.keys.Soup.Enabled() {
		t.Fatalf("after the soup: phase %q, soup running %v, anneal key %v", m.liveData.Phase, m.liveData.SoupRunning, m.keys.Anneal.Enabled())
	}
	if s := screen(m); !strings.Contains(s, "● running") || !strings.Contains(s, " stage1 ") {
		t.Errorf("after the soup:\n%s", s)
	}
	if len(m.liveData.Soups) != 1 {
		t.Errorf("soups %d", len(m.liveData.Soups))
	}
}

// Paused, the status line says so in place of tokens/s and gives no MFU and
// no ETA; on resume they come back.
func TestPausedStatus(t *testing.T) {
	m, f := liveModel(t, testOptions(t, 80, 24), stage1Events("quickstart-test"))
	f.step = 40
	status := func() string { return strings.Split(screen(m), "\n")[2] }
	for _, c := range []struct {
		keys     []string
		want     []string
		not      []string
		pausedUI bool
	}{
		{nil, []string{"20.5K tok/s", "MFU 31%", "ETA 25s"}, []string{"paused"}, false},
		// nor an MFU: nothing is computed (it read 31% beside "paused")
		{[]string{"space", "enter"}, []string{"stage1 │ paused │ MFU – │", "ETA –"}, []string{"tok/s", "ETA 25s", "31%"}, true},
		{[]string{"space", "enter"}, []string{"20.5K tok/s", "MFU 31%", "ETA 25s"}, []string{"paused"}, false},
	} {
		press(m, c.keys...)
		m.Update(runEventsMsg{gen: m.liveGen, events: f.q.Drain(nil)})
		s := status()
		for _, w := range c.want {
			if !strings.Contains(s, w) {
				t.Errorf("after %v the status line lacks %q: %q", c.keys, w, s)
			}
		}
		for _, w := range c.not {
			if strings.Contains(s, w) {
				t.Errorf("after %v the status line says %q: %q", c.keys, w, s)
			}
		}
		if got := m.liveData.State == "paused"; got != c.pausedUI {
			t.Errorf("after %v: paused %v, want %v", c.keys, got, c.pausedUI)
		}
	}
}

// The report of an action stays on the message line against the run's
// routine news for a while: a checkpoint asked for with c, written just
// before an interval evaluation, had its path replaced by "evaluation
// (interval) at step N" within a second. Ten seconds later routine news
// shows again; and a checkpoint not asked for is routine news itself.
func TestActionReportOutlivesRoutineNews(t *testing.T) {
	m, f := liveModel(t, testOptions(t, 100, 24), stage1Events("quickstart-test"))
	f.step = 40
	press(m, "c", "enter")
	at := func(d time.Duration) time.Time { return t0.Add(14*time.Second + d) }
	ckpt := "runs/quickstart-test/checkpoints/step-41"
	eval := func(d time.Duration) []lab.Event {
		return []lab.Event{{Type: lab.EvEvaluating, Time: at(d), Run: f.name, Step: 41, Message: "interval"},
			{Type: lab.EvEval, Time: at(d + time.Second/2), Run: f.name, Step: 41, Message: "interval",
				Evals: []lab.EvalScore{{Task: "arith", Metric: "acc_raw", Value: 0.2, Primary: true}}}}
	}
	message := func() string { lines := strings.Split(screen(m), "\n"); return lines[len(lines)-3] }
	m.Update(runEventsMsg{gen: m.liveGen, events: append([]lab.Event{
		{Type: lab.EvCheckpointing, Time: at(0), Run: f.name, Step: 41, Checkpoint: ckpt},
		{Type: lab.EvCheckpoint, Time: at(time.Second / 4), Run: f.name, Step: 41, Checkpoint: ckpt}}, eval(time.Second)...)})
	if got, want := message(), " checkpoint at step 41 → "+ckpt; got != want {
		t.Errorf("after the checkpoint asked for and an interval evaluation: %q, want %q", got, want)
	}
	m.Update(runEventsMsg{gen: m.liveGen, events: eval(12 * time.Second)})
	if got, want := message(), " evaluation (interval) at step 41"; got != want {
		t.Errorf("ten seconds on: %q, want %q", got, want)
	}
	// an interval checkpoint is routine: it does not hold the line
	m.Update(runEventsMsg{gen: m.liveGen, events: append([]lab.Event{
		{Type: lab.EvCheckpoint, Time: at(20 * time.Second), Run: f.name, Step: 42, Checkpoint: ckpt}}, eval(21*time.Second)...)})
	if got, want := message(), " evaluation (interval) at step 41"; got != want {
		t.Errorf("after an interval checkpoint and evaluation: %q, want %q", got, want)
	}
}

// The lab answers an action that changes nothing: a checkpoint asked for at
// a step that has one comes back as that checkpoint, said to be written
// already (the line said "checkpoint requested" and then nothing), and a
// warning (pause while paused) holds the line against routine news as a
// report does.
func TestAnswerToAnActionThatChangesNothing(t *testing.T) {
	m, f := liveModel(t, testOptions(t, 120, 24), stage1Events("quickstart-test"))
	f.step = 40
	press(m, "c", "enter")
	at := func(d time.Duration) time.Time { return t0.Add(14*time.Second + d) }
	ckpt := "runs/quickstart-test/checkpoints/step-40"
	interval := func(d time.Duration) lab.Event {
		return lab.Event{Type: lab.EvEval, Time: at(d), Run: f.name, Step: 40, Message: "interval",
			Evals: []lab.EvalScore{{Task: "arith", Metric: "acc_raw", Value: 0.2, Primary: true}}}
	}
	message := func() string { lines := strings.Split(screen(m), "\n"); return lines[len(lines)-3] }
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{
		{Type: lab.EvCheckpoint, Time: at(0), Run: f.name, Step: 40, Checkpoint: ckpt, Message: lab.CheckpointExists}, interval(time.Second)}})
	if got, want := message(), " checkpoint at step 40 → "+ckpt+" (already written at this step)"; got != want {
		t.Errorf("a checkpoint at a step that has one: %q, want %q", got, want)
	}
	if m.liveData.awaitCheckpoint {
		t.Error("the answer did not end the wait for the checkpoint")
	}
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{
		{Type: lab.EvWarning, Time: at(20 * time.Second), Run: f.name, Step: 40, Refused: lab.ActPause, Message: "pause: the run is paused already; nothing done"}, interval(21 * time.Second)}})
	if got, want := message(), " warning: pause: the run is paused already; nothing done"; got != want {
		t.Errorf("a warning then an interval evaluation: %q, want %q", got, want)
	}
}

// A soup made on request at the run's last step leaves the run's own scores
// on its evaluation line when the run then finishes: its "soup done" said the
// run went on with its own weights (lab.EndedWithSoup reads it so). The rule
// for runs from before the soup report's final flag took every soup at the
// last step for the run's final model.
func TestSideSoupAtTheLastStepKeepsTheRunsScores(t *testing.T) {
	own := []lab.EvalScore{{Task: "arith", Metric: "acc_raw", Value: 0.2, Primary: true}}
	soup := []lab.EvalScore{{Task: "arith", Metric: "acc_raw", Value: 0.9, Primary: true}}
	rep := &lab.SoupReport{FromStep: 100}
	for _, c := range []struct {
		done string
		want float64
	}{
		{"soup done: 2 ingredients averaged; stage1 goes on from step 100 with the run's own weights", 0.2},
		{"soup done: 2 ingredients averaged", 0.9}, // a run from before the flag: its recipe's soup
	} {
		d := newRunData("r", "runs/r", nil)
		for _, e := range []lab.Event{
			{Type: lab.EvEval, Step: 100, Message: "final", Evals: own},
			{Type: lab.EvPhase, Step: 100, Message: "soup: 2 ingredients"},
			{Type: lab.EvEval, Step: 100, Message: soupEval, Evals: soup},
			{Type: lab.EvPhase, Step: 100, Phase: "stage1", Message: c.done, Soup: rep},
			{Type: lab.EvDone, Step: 100, State: "finished", Summary: &lab.RunSummary{State: "finished", Steps: 100, Soup: rep}},
		} {
			d.apply(e)
		}
		if d.Eval == nil || d.Eval.Scores[0].Value != c.want {
			t.Errorf("after %q: evaluation %+v, want the score %v", c.done, d.Eval, c.want)
		}
	}
}

// TestSoupAskedSurvivesAReload: a soup confirmed here turns the action keys
// off (but pause and stop) until the lab starts or refuses it. Reading the
// run back from its files after the UI fell behind lost that (the files
// cannot say what was asked here): the keys came back until the soup's
// announcement; and a checkpoint asked for was no longer awaited, its
// report taken for routine news. The state now goes over to the picture read back, the
// lab's answer meanwhile (in the files or in the events since) still
// clearing it.
func TestSoupAskedSurvivesAReload(t *testing.T) {
	for _, answered := range []bool{false, true} {
		o := testOptions(t, 120, 40)
		rec := testRecipe(t)
		name := "quickstart-test"
		evs := stage1Events(name)
		m := New(o)
		dir := filepath.Join(o.RunsDir, name)
		f := newFakeRun(name, dir, rec)
		f.q = lab.NewEventQueue(16) // overflows with the steps below
		m.Update(launchedMsg{run: f})
		writeRunDir(t, dir, rec, evs[:10])
		for _, e := range evs[:10] {
			f.q.Publish(e)
		}
		m.Update(runEventsMsg{gen: m.liveGen, events: f.q.Drain(nil)})
		press(m, "c", "enter") // a checkpoint asked for: its report is the next checkpoint event
		press(m, "s", "enter")
		if on := keysOn(m); on != "space X" || !m.liveData.awaitCheckpoint {
			t.Fatalf("keys on once a soup is asked for: %q; checkpoint awaited %v", on, m.liveData.awaitCheckpoint)
		}
		writeRunDir(t, dir, rec, evs[10:])
		for _, e := range evs[10:] {
			f.q.Publish(e)
		}
		msg := waitEvents(f, m.liveGen, 0, time.Time{})().(runEventsMsg)
		if msg.dropped == 0 {
			t.Fatal("the test needs the queue to drop events")
		}
		_, cmd := m.Update(msg)
		if answered { // the lab refuses it while the files are read
			refused := lab.Event{Type: lab.EvWarning, Time: evs[39].Time.Add(time.Millisecond), Run: name, Step: 40, Refused: lab.ActSoup,
				Message: "soup: a soup from step 40 is made already (x); nothing done"}
			writeRunDir(t, dir, rec, []lab.Event{refused})
			m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{refused}, dropped: msg.dropped})
		}
		m.Update(awaitReload(t, cmd))
		checkSteps(t, m.liveData.Main, 1, 40)
		want := "space X"
		if answered {
			want = "a m s c v space X"
		}
		if on := keysOn(m); on != want || !m.liveData.awaitCheckpoint {
			t.Errorf("answered %v: keys on after the run is read back: %q, want %q; checkpoint awaited %v", answered, on, want, m.liveData.awaitCheckpoint)
		}
	}
}

// TestRecipeWarningShownAtLaunch: the recipe's warnings come as the run
// starts (an automatic anneal that ends before max_tokens, an unknown key),
// written before the session's "training … → dir" notice, which, newer,
// hid them for good: the message line shows the warning.
func TestRecipeWarningShownAtLaunch(t *testing.T) {
	m, f := liveModel(t, testOptions(t, 120, 30), nil)
	warn := "quickstart.yaml:34:3: the automatic anneal (60000 tokens from 200000) ends at 260000 tokens, not max_tokens 300000: the run ends when the anneal does"
	evs := append([]lab.Event{{Type: lab.EvWarning, Time: t0, Run: f.name, Phase: "stage1", Message: warn}}, stage1Events(f.name)[:3]...)
	m.Update(runEventsMsg{gen: m.liveGen, events: evs})
	if s := screen(m); !strings.Contains(s, "warning: "+warn[:60]) {
		t.Errorf("the recipe's warning is not on the message line:\n%s", s)
	}
}

// TestResumeSaidAtTakeOver: a run taken over (or resumed) in the session
// says where it resumed from as it starts, before the session's notice,
// which hid it: the message line read "training NAME → DIR", not the step
// and checkpoint it went on from.
func TestResumeSaidAtTakeOver(t *testing.T) {
	m := New(testOptions(t, 120, 30))
	rec := testRecipe(t)
	dir := filepath.Join("runs", "quickstart-test")
	os.MkdirAll(dir, 0o755)
	f := newFakeRun("quickstart-test", dir, rec)
	m.Update(launchedMsg{run: f, resume: true})
	ck := filepath.Join(dir, lab.CkptDir, "step-40")
	evs := append(stage1Events(f.name)[:40], lab.Event{Type: lab.EvResumed, Time: t0.Add(5 * time.Second), Run: f.name, Step: 40, Tokens: 40 * testGB,
		Phase: "stage1", Checkpoint: ck, Message: "from checkpoint " + ck + " (step 40, 81.9K tokens)"})
	m.Update(runEventsMsg{gen: m.liveGen, events: evs})
	if s := screen(m); !strings.Contains(s, "resumed at step 40 from checkpoint "+ck) {
		t.Errorf("the message line does not say where the run resumed:\n%s", s)
	}
}

// TestRequestedEvaluationSaysItStarted: an evaluation asked for with v is
// announced on the message line when it starts ("evaluating (requested) at
// step 40…"), even within 10 s of another report: the start was taken for
// routine news, so the line kept "eval requested: it applies at the next
// step boundary" while the status said it was evaluating; so is a
// checkpoint asked for with c.
func TestRequestedEvaluationSaysItStarted(t *testing.T) {
	for _, c := range []struct{ key, kind, want string }{
		{"v", "evaluating", "evaluating (requested) at step 40…"},
		{"c", "checkpointing", "writing a checkpoint at step 40…"},
	} {
		m, f := liveModel(t, testOptions(t, 120, 30), stage1Events("quickstart-test")[:40])
		// a report pinned 10 s: a pause and a resume at t0+5s
		at := t0.Add(5 * time.Second)
		m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{
			{Type: lab.EvPhase, Time: at, Run: f.name, Step: 40, Tokens: 40 * testGB, Phase: "stage1", Change: lab.ChangePaused, Message: "paused"},
			{Type: lab.EvPhase, Time: at, Run: f.name, Step: 40, Tokens: 40 * testGB, Phase: "stage1", Change: lab.ChangeResumed, Message: "resumed"}}})
		press(m, c.key, "enter")
		if len(f.actions) != 1 {
			t.Fatalf("%s: actions %v", c.key, f.actions)
		}
		e := lab.Event{Type: lab.EventKind(c.kind), Time: t0.Add(14 * time.Second), Run: f.name, Step: 40, Tokens: 40 * testGB, Phase: "stage1", Message: "requested"}
		if c.key == "c" {
			e.Message, e.Checkpoint = "", filepath.Join("runs", f.name, lab.CkptDir, "step-40")
		}
		m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{e}})
		if s := screen(m); !strings.Contains(s, c.want) {
			t.Errorf("%s: the message line does not say it started (%q):\n%s", c.key, c.want, s)
		}
	}
}
