package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab"
)

// The status line's MFU goes with the smoothed tokens/s beside it, not with
// the last step alone: one fast step (3× the others, as a step after an
// evaluation can be) must not show 3× the MFU next to a tokens/s that barely
// moved.
func TestStatusMFUFollowsSmoothedThroughput(t *testing.T) {
	evs := stage1Events("quickstart-test") // 20480 tokens/s at MFU 0.31
	last := &evs[len(evs)-1]
	last.TokensPerSec, last.MFU = 3*20480, 3*0.31
	m, _ := liveModel(t, testOptions(t, 120, 40), evs)
	tps := m.liveData.tokensPerSec()
	if tps < 20480*1.01 || tps > 20480*1.5 {
		t.Fatalf("smoothed tokens/s %.0f: the test expects one fast step to move it a little", tps)
	}
	status := strings.Split(screen(m), "\n")[2]
	want := fmt.Sprintf("%s tok/s │ MFU %s │", lab.HumanCount(int64(tps)), fmtPct(0.31*tps/20480))
	if !strings.Contains(status, want) {
		t.Errorf("status %q lacks %q", status, want)
	}
}

// A diverged run read back from its files shows the skipped steps that ended
// it: they have no line in metrics.jsonl (their grad norm is NaN), only an
// error event each, at steps past the last step drawn; the chart's x range
// reaches them, so their ✗ markers are on the charts and the axis ends at
// the run's last step.
func TestDivergedRunShowsSkippedSteps(t *testing.T) {
	o := testOptions(t, 80, 24)
	rec := testRecipe(t)
	dir := filepath.Join(o.RunsDir, "diverged")
	var evs []lab.Event
	for s := int64(1); s <= 19; s++ {
		evs = append(evs, stepEvent("diverged", s, "stage1", 300*testGB))
	}
	at := func(s int64) time.Time { return t0.Add(time.Duration(s) * 100 * time.Millisecond) }
	for s := int64(20); s <= 24; s++ {
		evs = append(evs, lab.Event{Type: lab.EvError, Time: at(s), Run: "diverged", Step: s, Tokens: s * testGB, Phase: "stage1",
			Message: fmt.Sprintf("step %d skipped: loss 1.1e+11, grad norm NaN (not finite); weights and optimizer untouched", s)})
	}
	evs = append(evs, lab.Event{Type: lab.EvDone, Time: at(24), Run: "diverged", Step: 24, Tokens: 24 * testGB, Phase: "stage1",
		State: "diverged", Message: "training diverged: 5 non-finite steps in a row"})
	writeRunDir(t, dir, rec, evs)
	os.WriteFile(filepath.Join(dir, lab.SummaryFile), []byte(`{"state":"diverged","steps":24,"tokens":49152}`), 0o644)
	m := New(o)
	m.Update(m.openRun(dir)())
	checkFrame(t, m, 80, 24)
	s := screen(m)
	markerRows := 0
	for _, l := range strings.Split(s, "\n") {
		if regexp.MustCompile(`^ {8,}[ ✗]*✗$`).MatchString(l) {
			markerRows++
		}
	}
	if markerRows != 2 { // the loss chart's, and the grad norm's and lr's on one line
		t.Errorf("%d marker rows end with ✗, want 2 (loss; grad norm and lr):\n%s", markerRows, s)
	}
	if !strings.Contains(s, "49.2K tokens") {
		t.Errorf("the x axis does not end at the last step's 49.2K tokens:\n%s", s)
	}
}

// At 60×16 there is no room for the grad norm and LR charts; the loss chart
// takes their lines instead of leaving three of them blank under the
// evaluation line. The status gives every figure, on three lines: cut at the
// width on two, it lost the grad norm (which no chart shows here) and the
// spike score. The marker legend would then leave the plot under 4 rows, so
// it is left out here (at 60×24 it has its lines, TestLegendListsEveryMarker).
func TestDashboard60x16UsesEveryLine(t *testing.T) {
	m, _ := liveModel(t, testOptions(t, 60, 16), syntheticRun("quickstart-test", testRecipe(t)))
	checkFrame(t, m, 60, 16)
	s := screen(m)
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			t.Errorf("line %d of 16 is blank:\n%s", i+1, s)
		}
	}
	for _, f := range []string{"step 120/130", "tok 245.8K/266.2K 92%", "loss 2.06 z+0.4", "grad 1.04 z-0.2", "lr 7.5e-4 anneal",
		"20.5K tok/s", "MFU 31%", "ETA 1s", "spike 0.8%/0% (1▲)"} {
		if !strings.Contains(s, f) {
			t.Errorf("the status lacks %q:\n%s", f, s)
		}
	}
	plot := 0
	for _, l := range lines {
		if strings.Contains(l, "┤") {
			plot++
		}
	}
	if plot < 4 {
		t.Errorf("the loss plot has %d rows, want at least 4:\n%s", plot, s)
	}
}

// The lab's report of a mix switch, a pause and a resume says where it
// landed (the dialog could only say "the first step boundary after you
// confirm"): after which step, and for a switch the mix the loader samples
// from then on. It said "switched mix", "paused", "resumed".
func TestActionReportsSayWhere(t *testing.T) {
	rec := testRecipe(t)
	for _, c := range []struct {
		ev   lab.Event
		want string
	}{
		{lab.Event{Type: lab.EvPhase, Step: 40, Phase: "stage1", Message: "switched mix", Mix: rec.Anneal.Mix},
			" switched mix after step 40: web_clean 50% · math 25% · qa 25%"},
		{lab.Event{Type: lab.EvPhase, Step: 40, Phase: "stage1", Message: "paused"}, " paused after step 40"},
		{lab.Event{Type: lab.EvPhase, Step: 40, Phase: "stage1", Message: "resumed"}, " resumed after step 40"},
	} {
		m, f := liveModel(t, testOptions(t, 80, 24), stage1Events("quickstart-test"))
		c.ev.Run, c.ev.Tokens, c.ev.Time = f.name, 40*testGB, t0.Add(14*time.Second) // after the launch notice
		m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{c.ev}})
		lines := strings.Split(screen(m), "\n")
		if got := lines[len(lines)-3]; got != c.want {
			t.Errorf("%s: message line %q, want %q", c.ev.Message, got, c.want)
		}
	}
}

// A stopped or interrupted run, read back, says how to continue it (the
// stop dialog and the exit message say it too), and not its state twice
// ("run interrupted at step 106: interrupted").
func TestInterruptedRunSaysHowToContinue(t *testing.T) {
	o := testOptions(t, 100, 24)
	rec := testRecipe(t)
	dir := filepath.Join(o.RunsDir, "cut")
	var evs []lab.Event
	for s := int64(1); s <= 30; s++ {
		evs = append(evs, stepEvent("cut", s, "stage1", 300*testGB))
	}
	evs = append(evs, lab.Event{Type: lab.EvDone, Time: t0.Add(4 * time.Second), Run: "cut", Step: 30, Tokens: 30 * testGB, Phase: "stage1",
		State: "interrupted", Message: "interrupted"})
	writeRunDir(t, dir, rec, evs)
	os.WriteFile(filepath.Join(dir, lab.SummaryFile), []byte(`{"state":"interrupted","steps":30,"tokens":61440}`), 0o644)
	m := New(o)
	m.Update(m.openRun(dir)())
	checkFrame(t, m, 100, 24)
	lines := strings.Split(screen(m), "\n")
	if got, want := lines[len(lines)-3], " run interrupted at step 30; continue it with: olmolab --batch --resume runs/cut"; got != want {
		t.Errorf("message line %q, want %q", got, want)
	}
}

// When a live run ends, its own last word stays on the notice line: the
// reason a run diverged, and the line that continues a stopped run. The
// session's "run NAME diverged" replaced it the moment the run ended, so
// nothing on screen said why, or how to go on.
func TestRunEndKeepsTheRunsLastWord(t *testing.T) {
	for _, c := range []struct {
		state, message, want string
	}{
		{"diverged", "training diverged: 5 non-finite steps in a row (last loss 1.3e+10, grad norm NaN)",
			"run diverged at step 40: training diverged: 5 non-finite steps in a row"},
		{"stopped", "", "run stopped at step 40; continue it with: olmolab --batch --resume runs/quickstart-test"},
	} {
		t.Run(c.state, func(t *testing.T) {
			o := testOptions(t, 160, 30)
			clock := t0
			o.Now = func() time.Time { clock = clock.Add(time.Second); return clock } // a notice comes after the events before it
			m, f := liveModel(t, o, stage1Events("quickstart-test"))
			done := lab.Event{Type: lab.EvDone, Time: clock.Add(time.Second / 2), Run: f.name, Step: 40, Tokens: 40 * testGB,
				State: c.state, Message: c.message}
			m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{done}, done: true})
			lines := strings.Split(screen(m), "\n")
			notice := lines[len(lines)-3] // above the help line and the final newline
			if !strings.Contains(notice, c.want) {
				t.Errorf("the notice line is %q, want %q", notice, c.want)
			}
			// a diverged run's in the error colour, as its error events were
			errStart, _, _ := strings.Cut(m.theme.Error.Render("x"), "x")
			raw := strings.Split(m.render(), "\n")
			if isErr := strings.HasPrefix(raw[len(raw)-2], errStart+" run "); isErr != (c.state == "diverged") {
				t.Errorf("notice in the error colour: %v, want %v: %q", isErr, c.state == "diverged", raw[len(raw)-2])
			}
		})
	}
}

// The header gives the open run's state whole at every width: at 60 columns
// the tabs left it 4 cells ("● a…" for annealing); they take short names
// there. The run's name gets what is left, cut in its middle.
func TestHeaderKeepsTheRunsState(t *testing.T) {
	for _, c := range []struct {
		w    int
		want string
	}{
		{60, "  n recipes     ● annealing"},
		{66, "  n recipes  ● annealing qui…test"}, // a name shows from 8 cells on ("t…05" said nothing)
		{80, " olmolab  1 dashboard  2 runs  3 evaluation  n recipes  ● annealing quick…-test"},
		{120, "● annealing quickstart-test"},
	} {
		m, _ := liveModel(t, testOptions(t, c.w, 24), syntheticRun("quickstart-test", testRecipe(t)))
		checkFrame(t, m, c.w, 24)
		if head := strings.Split(screen(m), "\n")[0]; !strings.Contains(head, c.want) {
			t.Errorf("%d columns: header %q lacks %q", c.w, head, c.want)
		}
	}
	// with room for fewer than 8 cells of it, no name: "q…st" says nothing
	m, _ := liveModel(t, testOptions(t, 62, 24), syntheticRun("quickstart-test", testRecipe(t)))
	if head := strings.Split(screen(m), "\n")[0]; !strings.HasSuffix(head, " ● annealing") {
		t.Errorf("62 columns: header %q does not end with the state", head)
	}
}

// x switches the charts' x axis to steps and back; the axis says which, in
// the plural ("120 steps", as "245.8K tokens"): it read "120 step". The
// runs view's overlay follows the same setting and says the same.
func TestXAxisSaysSteps(t *testing.T) {
	m, _ := liveModel(t, testOptions(t, 80, 24), syntheticRun("quickstart-test", testRecipe(t)))
	press(m, "x")
	if s := screen(m); strings.Count(s, " 120 steps") != 3 || strings.Contains(s, "tokens") {
		t.Errorf("after x the three axes do not end at 120 steps:\n%s", s)
	}
	press(m, "x")
	if s := screen(m); strings.Contains(s, "steps") || strings.Count(s, "245.8K tokens") != 3 {
		t.Errorf("a second x does not bring tokens back:\n%s", s)
	}
	o := testOptions(t, 80, 24)
	runsFixture(t, o)
	m = New(o)
	press(m, "2", "space", "x")
	m.overlayBusy = time.Time{}
	if cmd := m.loadOverlay(); cmd != nil {
		m.Update(cmd())
	}
	if s := screen(m); !regexp.MustCompile(`(?m)^ +1 +120 steps$`).MatchString(s) {
		t.Errorf("the overlay's axis does not end at 120 steps:\n%s", s)
	}
}

// During a soup the status's LR is the ingredient's, beside its phase
// ("soup 2/2"): it was the run's LR from before the soup, 0.003, while the
// ingredient annealed to 0.
func TestSoupStatusShowsTheIngredientsLR(t *testing.T) {
	evs := syntheticSoupRun("quickstart-test", testRecipe(t))
	m, _ := liveModel(t, testOptions(t, 80, 24), evs[:len(evs)-8]) // ingredient 2 at its 3rd step
	last := m.liveData.LastIng
	if last.Phase != "soup 2/2" {
		t.Fatalf("the last ingredient step is %q's", last.Phase)
	}
	status := strings.Split(screen(m), "\n")[2]
	if want := " lr " + fmtY(last.LR) + " soup 2/2 │"; !strings.HasPrefix(status, want) || last.LR == 0.003 {
		t.Errorf("status %q, want it to start %q", status, want)
	}
}

// A message longer than the window takes a second line rather than losing its
// end: at 80 columns a stopped run's "continue it with: olmolab --batch
// --resume runs/NAME" lost the run's directory, the part to copy, and an
// anneal's report where the run now ends. The view above gives up a line for
// it; a message that fits keeps one line, and a third is never taken.
func TestLongNoticeTakesTwoLines(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {60, 16}} {
		o := testOptions(t, size[0], size[1])
		clock := t0
		o.Now = func() time.Time { clock = clock.Add(time.Second); return clock }
		m, f := liveModel(t, o, stage1Events("quickstart-test"))
		full := screen(m)
		done := lab.Event{Type: lab.EvDone, Time: clock.Add(time.Second / 2), Run: f.name, Step: 40, Tokens: 40 * testGB, State: "stopped"}
		m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{done}, done: true})
		checkFrame(t, m, size[0], size[1])
		s := screen(m)
		lines := strings.Split(s, "\n")
		notice := strings.Join(strings.Fields(lines[len(lines)-4]+" "+lines[len(lines)-3]), " ")
		if want := "run stopped at step 40; continue it with: olmolab --batch --resume " + f.dir; notice != want {
			t.Errorf("%v: the notice reads %q, want %q:\n%s", size, notice, want, s)
		}
		// the view gave up its last line: the eval line is above the notice
		if !strings.HasPrefix(lines[len(lines)-5], " eval ") {
			t.Errorf("%v: the line above the notice is %q, want the eval line:\n%s", size, lines[len(lines)-5], s)
		}
		// a short one: one line, and the view has it back
		m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{{Type: lab.EvWarning, Time: clock.Add(time.Hour), Run: f.name, Step: 40, Message: "short"}}})
		s = screen(m)
		lines = strings.Split(s, "\n")
		if lines[len(lines)-3] != " warning: short" || !strings.HasPrefix(lines[len(lines)-4], " eval ") {
			t.Errorf("%v: a short notice:\n%s\nbefore the run ended:\n%s", size, s, full)
		}
	}
}

// The charts of one frame show one version of the run's data. Each chart was
// redrawn on its own once-a-second clock, so a chart drawn anew (here: the
// loss chart turned logarithmic) showed the newest steps while the grad norm
// and LR charts kept the axis of a second before (235.5K against 232.4K
// right after a soup).
func TestChartsOfOneFrameShareTheirXRange(t *testing.T) {
	evs := stage1Events("quickstart-test")
	m, _ := liveModel(t, testOptions(t, 120, 40), evs)
	ends := func() []string {
		var out []string
		for _, l := range regexp.MustCompile(`(\S+) tokens`).FindAllStringSubmatch(screen(m), -1) {
			out = append(out, l[1])
		}
		return out
	}
	before := ends()
	last := evs[len(evs)-1]
	var more []lab.Event
	for s := last.Step + 1; s <= last.Step+20; s++ {
		more = append(more, stepEvent("quickstart-test", s, last.Phase, last.TotalTokens))
	}
	m.Update(runEventsMsg{gen: m.liveGen, events: more})
	m.logY[chartLoss] = !m.logY[chartLoss]
	after := ends()
	if len(after) != 3 || len(before) != 3 {
		t.Fatalf("x axes %q then %q: the test expects three charts", before, after)
	}
	want := lab.HumanCount((last.Step + 20) * testGB)
	for i, e := range after {
		if e != want {
			t.Errorf("chart %d's x axis ends at %s, want %s with the loss chart (axes before the steps: %q, after: %q)", i, e, want, before, after)
		}
	}
}

// spikyRun is 120 steps with a grad-norm spike at 40 and a burst at 100–102
// (a mix switch to a very different source does this: the first step's loss
// and grad norm leap, the next two less), as the lab sends them: a step's
// loss flag, then its grad norm's.
func spikyRun(name string) []lab.Event {
	var evs []lab.Event
	flag := func(s int64, series string, v, z float64) lab.Event {
		return lab.Event{Type: lab.EvSpike, Time: t0.Add(time.Duration(s)*100*time.Millisecond + time.Millisecond), Run: name, Step: s,
			Tokens: s * testGB, Phase: "stage1", Series: series, Value: v, Z: z}
	}
	for s := int64(1); s <= 120; s++ {
		e := stepEvent(name, s, "stage1", 300*testGB)
		evs = append(evs, e)
		switch s {
		case 40:
			evs = append(evs, flag(s, "grad_norm", 3.1, 9.5))
		case 100:
			evs = append(evs, flag(s, "loss", 10.56, 33.5), flag(s, "grad_norm", 7.69, 62.8))
		case 101:
			evs = append(evs, flag(s, "loss", 8.35, 9.7), flag(s, "grad_norm", 5.33, 9.3))
		case 102:
			evs = append(evs, flag(s, "loss", 7.48, 6.9))
		}
	}
	return evs
}

// The flagged steps are listed with their step and z-score, the latest
// first: the chart's ▲ says neither, and the message line keeps only the last
// flag, which in a burst is the least (loss z+6.9 at 102, after z+33.5 and
// grad z+62.8 at 100). Where the line has no room for every step it counts
// the rest and names the worst of them.
func TestSpikesLineListsFlaggedSteps(t *testing.T) {
	for _, c := range []struct {
		w, h int
		want string
	}{
		{120, 40, " spikes 4 steps ▲ @102 loss z+6.9 · @101 loss z+9.7 grad z+9.3 · @100 loss z+33.5 grad z+62.8 · @40 grad z+9.5"},
		{80, 24, " spikes 4 steps ▲ @102 loss z+6.9 … 3 more, worst @100 grad z+62.8"},
		{60, 16, " spikes 4 steps, worst @100 grad z+62.8"},
	} {
		m, _ := liveModel(t, testOptions(t, c.w, c.h), spikyRun("quickstart-test"))
		checkFrame(t, m, c.w, c.h)
		s := screen(m)
		if !strings.Contains(s, c.want+"\n") {
			t.Errorf("%d×%d: no line %q:\n%s", c.w, c.h, c.want, s)
		}
		// the status counts flagged steps as the line does (docs/tui.md),
		// not flags: 100 and 101 flagged loss and grad norm both
		if !strings.Contains(s, "spike 0.8%/0% (4▲)") {
			t.Errorf("%d×%d: the status does not count 4 flagged steps:\n%s", c.w, c.h, s)
		}
		if c.w == 80 {
			requireGolden(t, s)
		}
	}
}

// z clips the focused chart's y range (TestClipYLeavesOutTheEarlyLoss): over
// 2000 steps the loss falls from 7.6 to 2 in the first 100, and its chart's
// top label drops from there to about the rest of the run; the title says
// so, and the grad norm chart, not focused, is left as it was.
func TestClipKeyOnFocusedChart(t *testing.T) {
	var evs []lab.Event
	for s := int64(1); s <= 2000; s++ {
		evs = append(evs, stepEvent("quickstart-test", s, "stage1", 3000*testGB))
	}
	m, _ := liveModel(t, testOptions(t, 80, 24), evs)
	topLabel := func(title string) float64 {
		lines := strings.Split(screen(m), "\n")
		for i, l := range lines {
			if strings.Contains(l, title) {
				for _, p := range lines[i+1 : i+5] { // the legend may come first
					if j := strings.Index(p, "┤"); j < 0 {
						continue
					} else if f, err := strconv.ParseFloat(strings.TrimSpace(p[:j]), 64); err == nil {
						return f
					}
				}
			}
		}
		t.Fatalf("no chart %q:\n%s", title, screen(m))
		return 0
	}
	before, grad := topLabel("loss EMA"), topLabel("grad norm EMA")
	press(m, "z")
	checkFrame(t, m, 80, 24)
	if s := screen(m); !strings.Contains(s, "▸ loss EMA 0.90 · clip") {
		t.Errorf("the loss chart's title does not say it is clipped:\n%s", s)
	}
	if after := topLabel("loss EMA"); before < 7 || after > 3 {
		t.Errorf("loss chart's top label %v, clipped %v: want the first loss (7.6), then under 3", before, after)
	}
	if g := topLabel("grad norm EMA"); g != grad {
		t.Errorf("the grad norm chart, not focused, changed its top label from %v to %v", grad, g)
	}
	press(m, "z")
	if after := topLabel("loss EMA"); after != before {
		t.Errorf("z again left the top label at %v, want %v", after, before)
	}
}

// While another run's dashboard is open, a spike (or a warning, an error,
// the end) of the run training in this session comes on the message line,
// named: it showed only on that run's own dashboard. Its routine news (an
// interval checkpoint) does not take the line.
func TestLiveRunSpikeShownWhileAnotherRunIsOpen(t *testing.T) {
	evs := spikyRun("quickstart-test")
	cut := slices.IndexFunc(evs, func(e lab.Event) bool { return e.Step == 90 })
	m, _ := liveModel(t, testOptions(t, 80, 24), evs[:cut])
	other := newRunData("other", "runs/other", nil)
	other.State, other.Ended = "finished", true
	other.Message, other.MessageKind, other.MessageTime = "run finished at step 10", lab.EvDone, t0
	m.cur = other
	// the rest comes after the test's clock (t0+13s), as news does
	rest := slices.Clone(evs[cut:])
	for i := range rest {
		rest[i].Time = rest[i].Time.Add(10 * time.Second)
	}
	ckpt := lab.Event{Type: lab.EvCheckpoint, Time: t0.Add(19 * time.Second), Run: "quickstart-test", Step: 90, Tokens: 90 * testGB,
		Phase: "stage1", Checkpoint: "runs/quickstart-test/checkpoints/step-90"}
	m.Update(runEventsMsg{gen: m.liveGen, events: append(slices.Clone(rest[:1]), ckpt)})
	if s := screen(m); strings.Contains(s, "checkpoint at step 90") {
		t.Errorf("the live run's routine checkpoint took the message line of another run's dashboard:\n%s", s)
	}
	m.Update(runEventsMsg{gen: m.liveGen, events: rest[1:]})
	checkFrame(t, m, 80, 24)
	if s, want := screen(m), " quickstart-test: spike at step 102: loss 7.48 (z = 6.9)"; !strings.Contains(s, want) {
		t.Errorf("no %q while another run is open:\n%s", want, s)
	}
}
