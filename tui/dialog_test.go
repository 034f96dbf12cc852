package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab"
)

// stage1Events are 40 steps of a run still in stage 1.
func stage1Events(name string) []lab.Event {
	var evs []lab.Event
	for s := int64(1); s <= 40; s++ {
		evs = append(evs, stepEvent(name, s, "stage1", 300*testGB))
	}
	return evs
}

func TestAnnealDialog(t *testing.T) {
	m, f := liveModel(t, testOptions(t, 80, 24), stage1Events("quickstart-test"))
	press(m, "a")
	if m.dialog == nil || m.dialog.kind != dlgAnneal {
		t.Fatal("a did not open the anneal dialog")
	}
	// type a new length: backspace the default, then 40K
	for range m.dialog.fields[0].value {
		press(m, "backspace")
	}
	press(m, "4", "0", "K")
	checkFrame(t, m, 80, 24)
	requireGolden(t, screen(m))
	press(m, "enter")
	if m.dialog != nil {
		t.Fatalf("dialog still open: %s", m.dialog.err)
	}
	if len(f.actions) != 1 || f.actions[0].Kind != lab.ActAnneal || f.actions[0].Tokens != 40000 {
		t.Fatalf("actions %+v, want one anneal of 40000 tokens", f.actions)
	}
	if mix := mixLine(f.actions[0].Mix); mix != "web_clean 50% · math 25% · qa 25%" {
		t.Errorf("anneal mix %q, want the recipe's anneal mix", mix)
	}
}

func TestMixDialogEditRatios(t *testing.T) {
	m, f := liveModel(t, testOptions(t, 80, 30), stage1Events("quickstart-test"))
	press(m, "m")
	d := m.dialog
	// choose "edit ratios…", the last choice
	for d.mixes[d.mixIdx].name != "edit ratios…" {
		press(m, "right")
	}
	// the first ratio field (web_noisy, 60) becomes 20
	press(m, "tab")
	press(m, "backspace", "backspace", "2", "0")
	checkFrame(t, m, 80, 30)
	requireGolden(t, screen(m))
	press(m, "enter")
	if len(f.actions) != 1 || f.actions[0].Kind != lab.ActSwitchMix {
		t.Fatalf("actions %+v", f.actions)
	}
	got := mixLine(f.actions[0].Mix)
	if !strings.HasPrefix(got, "web_noisy 33%") || !strings.Contains(got, "web_clean 25%") {
		t.Errorf("edited mix %q: want web_noisy 20/60 = 33%%, web_clean 15/60 = 25%%", got)
	}
}

func TestSoupDialog(t *testing.T) {
	m, f := liveModel(t, testOptions(t, 80, 24), stage1Events("quickstart-test"))
	press(m, "s")
	checkFrame(t, m, 80, 24)
	requireGolden(t, screen(m))
	press(m, "enter")
	if len(f.actions) != 1 || f.actions[0].Kind != lab.ActSoup || f.actions[0].K != 3 || len(f.actions[0].Seeds) != 3 {
		t.Fatalf("actions %+v, want a soup of 3 with its seeds", f.actions)
	}
}

func TestBadInputStaysInDialog(t *testing.T) {
	m, f := liveModel(t, testOptions(t, 80, 24), stage1Events("quickstart-test"))
	press(m, "a")
	for range m.dialog.fields[0].value {
		press(m, "backspace")
	}
	press(m, "x", "enter")
	if m.dialog == nil || m.dialog.err == "" || len(f.actions) != 0 {
		t.Fatalf("a bad token count was accepted: dialog %v, actions %v", m.dialog, f.actions)
	}
	press(m, "esc")
	if m.dialog != nil {
		t.Fatal("esc did not close the dialog")
	}
}

func TestQuitAsksWhileTraining(t *testing.T) {
	o := testOptions(t, 80, 24)
	o.Detach = func(string) (int, error) { return 4242, nil }
	m, f := liveModel(t, o, stage1Events("quickstart-test"))
	press(m, "q")
	if m.dialog == nil || m.dialog.kind != dlgQuit {
		t.Fatal("q while training did not ask")
	}
	requireGolden(t, screen(m))
	press(m, "s")
	if !slices.Equal(f.actionKinds(), []lab.ActionKind{lab.ActStop}) {
		t.Fatalf("actions %v, want stop", f.actionKinds())
	}
	// the run ends; the session quits with a message
	cmd := m.handleRunEvents(runEventsMsg{gen: m.liveGen, events: f.q.Drain(nil), done: true})
	if cmd == nil || !strings.Contains(m.ExitMessage(), "--resume") {
		t.Fatalf("no quit after the run stopped; exit message %q", m.ExitMessage())
	}
}

func TestHelpOnlyListsApplicableKeys(t *testing.T) {
	m, _ := liveModel(t, testOptions(t, 80, 24), syntheticRun("quickstart-test", testRecipe(t)))
	// annealing: no second anneal, no soup
	if m.keys.Anneal.Enabled() || m.keys.Soup.Enabled() {
		t.Error("anneal and soup keys are enabled during the anneal")
	}
	if !m.keys.Mix.Enabled() || !m.keys.Stop.Enabled() {
		t.Error("mix and stop keys should apply during the anneal")
	}
	press(m, "?")
	checkFrame(t, m, 80, 24)
	s := screen(m)
	if strings.Contains(s, "anneal now") || !strings.Contains(s, "switch data mix") {
		t.Errorf("help page lists keys that do not apply, or misses ones that do:\n%s", s)
	}
	requireGolden(t, s)
	press(m, "a") // ignored while the help page is up
	if m.dialog != nil {
		t.Error("a key reached the dashboard through the help page")
	}
	press(m, "esc")
	if m.showHelp {
		t.Error("esc did not close help")
	}
	// a finished run (read back) has no action keys at all
	m.cur = newRunData("other", "runs/other", nil)
	m.updateKeys()
	for _, b := range []bool{m.keys.Anneal.Enabled(), m.keys.Mix.Enabled(), m.keys.Stop.Enabled(), m.keys.Pause.Enabled()} {
		if b {
			t.Fatal("action keys enabled on a run that is not training here")
		}
	}
}

func TestResizeRedraws(t *testing.T) {
	m, _ := liveModel(t, testOptions(t, 80, 24), syntheticRun("quickstart-test", testRecipe(t)))
	for _, sz := range [][2]int{{80, 24}, {132, 43}, {100, 30}, {61, 17}} {
		m.Update(teaSize(sz[0], sz[1]))
		checkFrame(t, m, sz[0], sz[1])
	}
	// a terminal too small for the lab gets a note that fits it, wrapped
	for _, sz := range [][2]int{{40, 10}, {30, 8}, {59, 30}} {
		m.Update(teaSize(sz[0], sz[1]))
		checkFrame(t, m, sz[0], sz[1])
		if s := strings.Join(strings.Fields(screen(m)), " "); !strings.Contains(s, "at least 60×16") || !strings.Contains(s, fmt.Sprintf("(this one is %d×%d)", sz[0], sz[1])) {
			t.Errorf("%dx%d: a tiny terminal gets no whole note:\n%s", sz[0], sz[1], screen(m))
		}
	}
}

func TestNoColor(t *testing.T) {
	o := testOptions(t, 80, 24)
	o.NoColor = true
	m, _ := liveModel(t, o, syntheticRun("quickstart-test", testRecipe(t)))
	out := m.render()
	if strings.Contains(out, "38;5;") || strings.Contains(out, "48;5;") || strings.Contains(out, "38;2;") {
		t.Error("NO_COLOR output carries colours")
	}
	// without colour the raw series is dotted so it stays apart from the smoothed one
	if !strings.Contains(screen(m), "·") {
		t.Error("raw series is not drawn with dots under NO_COLOR")
	}
}
