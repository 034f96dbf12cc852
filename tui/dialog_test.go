package tui

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

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

// moreSteps folds steps from+1 … to into the live run, as frames do.
func moreSteps(m *Model, from, to int64) {
	var evs []lab.Event
	for s := from + 1; s <= to; s++ {
		evs = append(evs, stepEvent("quickstart-test", s, "stage1", 300*testGB))
	}
	m.Update(runEventsMsg{gen: m.liveGen, events: evs})
}

// A dialog stays open while the run trains on: what it says follows the
// run, and says where the action lands relative to the moment of enter
// (the lab applies it at the first step boundary after that, which may be
// steps past the last one drawn), never a step it cannot promise.
func TestDialogsFollowTheRun(t *testing.T) {
	for _, c := range []struct {
		key  string
		want []string // after 10 more steps (step 50)
		not  []string
	}{
		{"a", []string{"from the first step boundary after you confirm", "Now at step 50 (102.4K tokens): it ends at step 80 or later (163.8K tokens or more)"},
			[]string{"step 40", "≈80"}},
		{"s", []string{"from a checkpoint written at the first step boundary after you confirm (step 51 or later)", "soups/soup-N/, N the step it starts from", "goes on from that step"},
			[]string{"step 40", "step 41", "soup-40", "soup-50"}},
		{"c", []string{"checkpoints/step-N, N the step it follows (51 or later)"}, []string{"step-41", "step-51"}},
	} {
		t.Run(c.key, func(t *testing.T) {
			m, _ := liveModel(t, testOptions(t, 100, 40), stage1Events("quickstart-test"))
			press(m, c.key)
			moreSteps(m, 40, 50)
			s := strings.Join(strings.Fields(dialogText(t, m)), " ")
			for _, w := range c.want {
				if !strings.Contains(s, w) {
					t.Errorf("dialog misses %q:\n%s", w, s)
				}
			}
			for _, w := range c.not {
				if strings.Contains(s, w) {
					t.Errorf("dialog says %q, which the run has moved past or cannot promise:\n%s", w, s)
				}
			}
		})
	}
}

// Confirmed, the anneal starts where the lab is then; once the lab reports
// it, the notice says from which step and where the run now ends.
func TestAnnealReportsWhereItLanded(t *testing.T) {
	m, f := liveModel(t, testOptions(t, 120, 30), stage1Events("quickstart-test"))
	press(m, "a")
	for range m.dialog.fields[0].value {
		press(m, "backspace")
	}
	press(m, "4", "0", "K")
	f.step = 57 // the lab is 17 steps past what was drawn when enter comes
	press(m, "enter")
	m.Update(runEventsMsg{gen: m.liveGen, events: f.q.Drain(nil)})
	// 57·2048 + 40000 = 156736 tokens: step ⌈156736/2048⌉ = 77
	if msg := m.liveData.Message; !strings.Contains(msg, "from step 57: the run ends at step 77, 156.7K tokens") {
		t.Errorf("the run's message does not say where the anneal landed: %q", msg)
	}
}

// A dialog left open while its action stops applying (the recipe's own
// anneal starts, the run ends) says so and sends nothing on enter; the
// pause dialog follows the run's state.
func TestDialogThatNoLongerApplies(t *testing.T) {
	m, f := liveModel(t, testOptions(t, 80, 24), stage1Events("quickstart-test"))
	press(m, "a")
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{{Type: lab.EvPhase, Time: t0.Add(5 * time.Second), Run: "quickstart-test",
		Step: 41, Tokens: 41 * testGB, Phase: "anneal", TotalTokens: 71 * testGB, Message: "anneal: LR 0.003 → 0 over 61440 tokens"}}})
	if s := dialogText(t, m); !strings.Contains(s, "This no longer applies: the run is annealing already.") {
		t.Errorf("the anneal dialog does not say the run anneals already:\n%s", s)
	}
	press(m, "enter")
	if len(f.actions) != 0 {
		t.Fatalf("enter sent %v for an anneal that no longer applies", f.actionKinds())
	}
	press(m, "esc")

	press(m, "space")
	if s := dialogText(t, m); !strings.Contains(s, "Pause training") {
		t.Errorf("pause dialog:\n%s", s)
	}
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{{Type: lab.EvPhase, Time: t0.Add(6 * time.Second), Run: "quickstart-test",
		Step: 42, Tokens: 42 * testGB, Phase: "anneal", Message: "paused"}}})
	if s := dialogText(t, m); !strings.Contains(s, "Resume training") || !strings.Contains(s, "Continue training from step") {
		t.Errorf("the pause dialog does not follow the paused run:\n%s", s)
	}
	press(m, "enter")
	if !slices.Equal(f.actionKinds(), []lab.ActionKind{lab.ActResume}) {
		t.Fatalf("actions %v, want resume", f.actionKinds())
	}
}

// dialogText is the open dialog's box as plain text, borders and padding
// cut, one line per box line.
func dialogText(t *testing.T, m *Model) string {
	t.Helper()
	if m.dialog == nil {
		t.Fatal("no dialog is open")
	}
	var out []string
	for _, l := range strings.Split(ansi.Strip(m.viewDialog(m.dialogSize())), "\n") {
		l = strings.TrimSpace(l)
		l = strings.TrimPrefix(strings.TrimSuffix(l, "│"), "│")
		out = append(out, strings.TrimSpace(l))
	}
	return strings.Join(out, "\n")
}

// Every dialog wraps its text to the window: nothing is cut with "…", at the
// narrowest layout (60 columns), at 80 and at 100. Narrower than 60 the lab
// shows a note on the terminal's size instead (TestResizeRedraws).
func TestDialogsWrap(t *testing.T) {
	type open func(t *testing.T, m *Model)
	key := func(k ...string) open { return func(t *testing.T, m *Model) { press(m, k...) } }
	dialogs := []struct {
		name string
		open open
	}{
		{"launch", func(t *testing.T, m *Model) {
			m.live = nil // no launch while a run trains here (TestLaunchWhileTrainingSaysSoAtOnce)
			press(m, "n", "enter")
		}},
		{"anneal", key("a")},
		{"mix", key("m")},
		{"mix-edit", func(t *testing.T, m *Model) {
			press(m, "m")
			for m.dialog.mixes[m.dialog.mixIdx].name != "edit ratios…" {
				press(m, "right")
			}
		}},
		{"soup", key("s")},
		{"checkpoint", key("c")},
		{"eval", key("v")},
		{"pause", key("space")},
		{"stop", key("X")},
		{"quit", key("q")},
		{"bad-input", func(t *testing.T, m *Model) {
			press(m, "s", "backspace", "9", "9", "enter")
		}},
	}
	for _, w := range []int{60, 80, 100} {
		for _, dl := range dialogs {
			t.Run(fmt.Sprintf("%s-%d", dl.name, w), func(t *testing.T) {
				o := testOptions(t, w, 60)
				o.Detach = func(string) (int, error) { return 1, nil }
				m, _ := liveModel(t, o, stage1Events("quickstart-test"))
				dl.open(t, m)
				if m.dialog == nil {
					t.Fatal("no dialog opened")
				}
				checkFrame(t, m, w, 60)
				box := ansi.Strip(m.viewDialog(m.dialogSize()))
				if strings.Contains(strings.ReplaceAll(box, "edit ratios…", ""), "…") {
					t.Errorf("text cut at %d columns:\n%s", w, box)
				}
				s := strings.Join(strings.Fields(dialogText(t, m)), " ")
				var want []string
				for _, l := range m.dialogBody(m.dialog) {
					want = append(want, l)
				}
				want = append(want, strings.Split(m.dialog.err, "\n")...)
				for _, f := range m.dialog.fields {
					want = append(want, f.hint)
				}
				for _, l := range want {
					if l = strings.Join(strings.Fields(l), " "); !strings.Contains(s, l) {
						t.Errorf("at %d columns the dialog lacks %q:\n%s", w, l, box)
					}
				}
				if scr := screen(m); !strings.Contains(scr, strings.SplitN(box, "\n", 2)[0]) {
					t.Errorf("the dialog's box is not on screen whole:\n%s", scr)
				}
			})
		}
	}
}

// At the smallest window (60×16) a dialog taller than the screen scrolls its
// body between the title and the key line, which stay on screen: a line says
// how much is below (above) and which key shows it, pgdn/pgup (ctrl+d, and
// ctrl+u off a text field: TestCtrlUClearsTheField) scroll, every line of the body can be brought into view, the focused input
// follows tab, and a refused confirm shows its error.
func TestTallDialogsScroll(t *testing.T) {
	pgdn, pgup := tea.KeyPressMsg{Code: tea.KeyPgDown}, tea.KeyPressMsg{Code: tea.KeyPgUp}
	for _, c := range []struct {
		name string
		open func(m *Model)
	}{
		{"soup", func(m *Model) { press(m, "s") }},
		{"anneal", func(m *Model) { press(m, "a") }},
		{"mix-edit", func(m *Model) {
			press(m, "m")
			for m.dialog.mixes[m.dialog.mixIdx].name != "edit ratios…" {
				press(m, "right")
			}
		}},
		{"quit", func(m *Model) { press(m, "q") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := testOptions(t, 60, 16)
			o.Detach = func(string) (int, error) { return 1, nil }
			m, _ := liveModel(t, o, stage1Events("quickstart-test"))
			c.open(m)
			checkFrame(t, m, 60, 16)
			w, _ := m.dialogSize()
			lay := m.layoutDialog(w)
			keyLine := ansi.Strip(lay.help[0])
			seen := map[string]bool{}
			look := func() string {
				t.Helper()
				s := screen(m)
				if !strings.Contains(s, keyLine) || !strings.Contains(s, "╰") {
					t.Fatalf("the key line %q or the box's bottom is off screen:\n%s", keyLine, s)
				}
				for _, l := range strings.Split(s, "\n") { // the box's part of the line
					if i, j := strings.Index(l, "│"), strings.LastIndex(l, "│"); i < j {
						seen[strings.TrimSpace(l[i+len("│"):j])] = true
					}
				}
				return s
			}
			s := look()
			// a dialog with inputs opens on them (TestTallDialogsOpenOnTheirInputs): from its top
			for i := 0; i < 10 && strings.Contains(s, "more above"); i++ {
				m.Update(pgup)
				s = look()
			}
			if !strings.Contains(s, "more below · pgdn") || strings.Contains(s, "more above") {
				t.Fatalf("no hint of the lines below:\n%s", s)
			}
			if !m.keys.ScrollDown.Enabled() {
				t.Error("the scroll keys are not enabled on a dialog taller than the window")
			}
			for i := 0; i < 10 && strings.Contains(s, "more below"); i++ {
				m.Update(pgdn)
				s = look()
			}
			if strings.Contains(s, "more below") || !strings.Contains(s, "more above · pgup") {
				t.Fatalf("pgdn does not reach the end:\n%s", s)
			}
			for _, l := range lay.body {
				if l = strings.TrimSpace(ansi.Strip(l)); !seen[l] && !strings.Contains(l, "▏") {
					t.Errorf("body line %q never came into view", l)
				}
			}
			m.Update(pgup)
			m.Update(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
			m.Update(pgup)
			if s = look(); strings.Contains(s, "more above") {
				t.Errorf("pgup does not return to the top:\n%s", s)
			}
			for i := 0; i < len(m.dialog.slots()); i++ {
				press(m, "tab")
				if s = look(); !strings.Contains(s, "› ") {
					t.Fatalf("the focused input is out of view after %d tabs:\n%s", i+1, s)
				}
			}
		})
	}
	// a refused confirm scrolls to its error
	m, f := liveModel(t, testOptions(t, 60, 16), stage1Events("quickstart-test"))
	press(m, "s", "backspace", "9", "9")
	m.Update(pgup)
	m.Update(pgup)
	press(m, "enter")
	if s := screen(m); len(f.actions) != 0 || !strings.Contains(s, "ingredients: give a number from 1 to 16") {
		t.Errorf("the refused soup's error is out of view:\n%s", s)
	}
	// a dialog that fits has no scroll keys and no hint
	m, _ = liveModel(t, testOptions(t, 60, 16), stage1Events("quickstart-test"))
	press(m, "c")
	if s := screen(m); m.keys.ScrollDown.Enabled() || strings.Contains(s, "more below") {
		t.Errorf("a dialog that fits scrolls:\n%s", s)
	}
}

// The mix dialog follows the run's mix while open: when an anneal (or a
// switch applied meanwhile) changes it, the dialog says so, ratio fields the
// person has not touched take the new shares, one they typed in keeps its
// value with the run's share beside it, and ctrl+r takes the run's.
func TestMixDialogFollowsTheRun(t *testing.T) {
	m, f := liveModel(t, testOptions(t, 80, 40), stage1Events("quickstart-test"))
	press(m, "m")
	for m.dialog.mixes[m.dialog.mixIdx].name != "edit ratios…" {
		press(m, "right")
	}
	press(m, "tab", "backspace", "backspace", "2", "0") // web_noisy 60 → 20
	annealMix := testRecipe(t).Mixes[0].Sources
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{{Type: lab.EvPhase, Time: t0.Add(5 * time.Second), Run: "quickstart-test",
		Step: 41, Tokens: 41 * testGB, Phase: "anneal", Mix: annealMix, Message: "anneal"}}})
	s := strings.Join(strings.Fields(dialogText(t, m)), " ")
	for _, w := range []string{
		"The run's mix changed while this was open (it was web_noisy 60% · web_clean 15% · code 10% · math 10% · qa 5%).",
		"The ratios you typed are kept, the run's share beside each; ctrl+r takes the run's.",
		"web_noisy 20▏ % run's now 0", "web_clean 50 %", "code 0 %", "math 25 %", "qa 25 %",
		"ctrl+r ratios: take the run's mix",
	} {
		if !strings.Contains(s, w) {
			t.Errorf("the mix dialog misses %q:\n%s", w, s)
		}
	}
	if !m.keys.TakeMix.Enabled() {
		t.Fatal("ctrl+r is not enabled")
	}
	m.Update(tea.KeyPressMsg{Code: 'r', Mod: tea.ModCtrl})
	s = strings.Join(strings.Fields(dialogText(t, m)), " ")
	if !strings.Contains(s, "web_noisy 0▏ %") || !strings.Contains(s, "The ratio fields hold its shares.") || m.keys.TakeMix.Enabled() {
		t.Errorf("ctrl+r did not take the run's shares:\n%s", s)
	}
	press(m, "enter")
	if len(f.actions) != 1 || mixLine(f.actions[0].Mix) != mixLine(annealMix) {
		t.Fatalf("actions %+v, want a switch to %s", f.actions, mixLine(annealMix))
	}
}

// At 60×16 the help page lists every key that applies: its groups side by
// side were wider than the box, and the run actions (anneal, mix, soup, …)
// fell off its right edge. They now flow into one column that scrolls, and
// the page says how much is above and below.
func TestHelpPageFitsAt60x16(t *testing.T) {
	m, _ := liveModel(t, testOptions(t, 60, 16), stage1Events("quickstart-test"))
	press(m, "?")
	seen := ""
	boxW := -1
	for range 40 {
		checkFrame(t, m, 60, 16)
		s := screen(m)
		seen += s
		// the box keeps its width as it scrolls
		if top := strings.Split(s, "\n")[1]; boxW < 0 {
			boxW = strings.LastIndex(top, "╮") - strings.Index(top, "╭")
		} else if w := strings.LastIndex(top, "╮") - strings.Index(top, "╭"); w != boxW {
			t.Errorf("the box is %d bytes wide, then %d:\n%s", boxW, w, s)
		}
		if !strings.Contains(s, "↓") || !strings.Contains(s, "more: ↑/↓ pgup/pgdn · esc closes") {
			break
		}
		press(m, "j")
	}
	if !strings.Contains(seen, "more: ↑/↓ pgup/pgdn · esc closes") {
		t.Errorf("the page does not say it scrolls:\n%s", seen)
	}
	for _, b := range m.keys.all() {
		if b.Enabled() && !strings.Contains(seen, b.Help().Desc) {
			t.Errorf("the help page never shows %q (%s)", b.Help().Key, b.Help().Desc)
		}
	}
	press(m, "esc")
	if m.showHelp {
		t.Error("esc did not close the help page")
	}
}

// The checkpoint and evaluate dialogs say when the step the run is at has a
// checkpoint or an evaluation already (the lab answers with it and writes
// nothing), rather than promising to write one: paused there, the action
// applies at that step; running, it applies there only if the run has not
// moved on, and the dialog says so.
func TestDialogsSayTheStepHasItAlready(t *testing.T) {
	name := "quickstart-test"
	ckpt := filepath.Join("runs", name, lab.CkptDir, "step-40")
	at := t0.Add(5 * time.Second)
	checkpoint := func(step int64) lab.Event {
		return lab.Event{Type: lab.EvCheckpoint, Time: at, Run: name, Step: step, Checkpoint: filepath.Join("runs", name, lab.CkptDir, fmt.Sprintf("step-%d", step))}
	}
	eval := func(step int64) lab.Event {
		return lab.Event{Type: lab.EvEval, Time: at, Run: name, Step: step, Message: "interval",
			Evals: []lab.EvalScore{{Task: "arith", Metric: "acc_raw", Value: 0.2, Primary: true}}}
	}
	paused := lab.Event{Type: lab.EvPhase, Time: at.Add(time.Second), Run: name, Step: 40, Message: "paused"}
	open := func(key string, evs ...lab.Event) (*Model, string) {
		t.Helper()
		m, _ := liveModel(t, testOptions(t, 80, 24), append(stage1Events(name), evs...))
		press(m, key)
		return m, strings.Join(strings.Fields(dialogText(t, m)), " ")
	}
	has := func(what, s, w string) {
		t.Helper()
		if !strings.Contains(s, w) {
			t.Errorf("%s: the dialog misses %q:\n%s", what, w, s)
		}
	}
	hasNot := func(what, s, w string) {
		t.Helper()
		if strings.Contains(s, w) {
			t.Errorf("%s: the dialog says %q:\n%s", what, w, s)
		}
	}

	m, s := open("c", checkpoint(40), paused)
	has("checkpoint, paused at its step", s, "Step 40, where the run is paused, has its checkpoint already: "+ckpt+". Nothing is written; the lab answers with that path.")
	hasNot("checkpoint, paused at its step", s, "step-N")
	checkFrame(t, m, 80, 24)
	requireGolden(t, screen(m))
	_, s = open("c", checkpoint(40))
	has("checkpoint at the last step drawn, running", s, "Step 40, the last drawn, has its checkpoint already ("+ckpt+"): should the run still be at that step when this applies, nothing is written and the lab answers with that path.")
	has("checkpoint at the last step drawn, running", s, "N the step it follows (41 or later)")
	_, s = open("c", checkpoint(30), paused)
	has("paused after a checkpoint at an earlier step", s, "Write weights, optimizer state and data position to "+ckpt+", the step the run is paused at")
	hasNot("paused after a checkpoint at an earlier step", s, "already")
	_, s = open("c", checkpoint(30))
	hasNot("running after a checkpoint at an earlier step", s, "already")
	// resumed from step 40's checkpoint (the lab answers c there with it)
	resumed := lab.Event{Type: lab.EvResumed, Time: at, Run: name, Step: 40, Phase: "stage1", Checkpoint: ckpt, Message: "from checkpoint " + ckpt}
	_, s = open("c", checkpoint(30), resumed, paused)
	has("checkpoint, paused at the step resumed from", s, "Step 40, where the run is paused, has its checkpoint already: "+ckpt+". Nothing is written")

	_, s = open("v", eval(40), paused)
	has("evaluate, paused at an evaluated step", s, "Step 40, where the run is paused, is evaluated already (interval): nothing is evaluated again. Its scores are in the evaluation view (3) and "+filepath.Join("runs", name, lab.EvalsFile)+".")
	hasNot("evaluate, paused at an evaluated step", s, "Training waits")
	_, s = open("v", eval(40))
	has("evaluate at the last step drawn, running", s, "Step 40, the last drawn, is evaluated already (interval): should the run still be at that step when this applies, nothing is evaluated again")
	has("evaluate at the last step drawn, running", s, "Training waits while it runs")
	_, s = open("v", eval(30), paused)
	hasNot("paused after an evaluation at an earlier step", s, "already")
	has("paused after an evaluation at an earlier step", s, "Evaluate the weights of step 40, where the run is paused")
}

// A dialog taller than the window opens showing what the person acts on: its
// inputs, the focused one among them, above the key line. At 60×16 the launch
// and soup dialogs opened scrolled to the top, their description, and the
// focused field (--set, ingredients) was below the fold, with nothing on
// screen to type into. A dialog without inputs opens at its top.
func TestTallDialogsOpenOnTheirInputs(t *testing.T) {
	for _, c := range []struct {
		name, focus string
		open        func(t *testing.T) *Model
	}{
		{"launch", "› --set", func(t *testing.T) *Model {
			m := New(testOptions(t, 60, 16))
			press(m, "enter") // quickstart
			return m
		}},
		{"soup", "› ingredients", func(t *testing.T) *Model {
			m, _ := liveModel(t, testOptions(t, 60, 16), stage1Events("quickstart-test"))
			press(m, "s")
			return m
		}},
		{"anneal", "› tokens", func(t *testing.T) *Model {
			m, _ := liveModel(t, testOptions(t, 60, 16), stage1Events("quickstart-test"))
			press(m, "a")
			return m
		}},
		{"mix", "› target mix", func(t *testing.T) *Model {
			m, _ := liveModel(t, testOptions(t, 60, 16), stage1Events("quickstart-test"))
			press(m, "m")
			return m
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := c.open(t)
			if m.dialog == nil {
				t.Fatal("no dialog")
			}
			checkFrame(t, m, 60, 16)
			s := screen(m)
			if !strings.Contains(s, c.focus) {
				t.Errorf("the focused input %q is not on screen:\n%s", c.focus, s)
			}
			// every input of the dialog is in view, and the body's end
			w, _ := m.dialogSize()
			lay := m.layoutDialog(w)
			if last := strings.TrimSpace(ansi.Strip(lay.body[len(lay.body)-1])); !strings.Contains(s, last) || strings.Contains(s, "more below") {
				t.Errorf("the inputs' last line %q is not on screen:\n%s", last, s)
			}
		})
	}
	// without inputs: from the top
	m, _ := liveModel(t, testOptions(t, 60, 16), stage1Events("quickstart-test"))
	press(m, "X")
	if m.dialog == nil || m.dialog.scroll != 0 {
		t.Errorf("the stop dialog opened scrolled: %+v", m.dialog)
	}
}

// While the run is paused an action applies at once, at the step it is paused
// at (the lab applies actions while it waits): the evaluate dialog said it
// evaluated the weights "after this step" and the report on enter that the
// action "applies at the next step boundary", which never comes while
// paused. Running, both say what they did.
func TestActionsWhilePausedApplyNow(t *testing.T) {
	name := "quickstart-test"
	paused := lab.Event{Type: lab.EvPhase, Time: t0.Add(6 * time.Second), Run: name, Step: 40, Message: "paused"}
	for _, c := range []struct {
		name, key string
		evs       []lab.Event
		dialog    []string // what the dialog says
		notice    string
	}{
		{"evaluate, paused", "v", []lab.Event{paused}, []string{"Evaluate the weights of step 40, where the run is paused, on:"},
			"eval requested: the run is paused at step 40, so it applies now"},
		{"checkpoint, paused", "c", []lab.Event{paused}, nil, "checkpoint requested: the run is paused at step 40, so it applies now"},
		// the soup and the anneal said "from the first step boundary after
		// you confirm (step 41 or later)" and the soup that the run then
		// goes on; the lab makes them from step 40 and pauses again after
		// the soup
		{"soup, paused", "s", []lab.Event{paused}, []string{"from a checkpoint written at step 40, where the run is paused,",
			"Files: " + filepath.Join("runs", name) + "/soups/soup-40/.", "Then the run, its own weights back, is paused again at step 40; space resumes stage1 from there."},
			"soup requested: the run is paused at step 40, so it applies now"},
		{"anneal, paused", "a", []lab.Event{paused}, []string{"from step 40, where the run is paused; the run ends with the anneal."},
			"anneal requested: the run is paused at step 40, so it applies now"},
		{"soup, running", "s", nil, []string{"from a checkpoint written at the first step boundary after you confirm (step 41 or later),",
			"Then stage1 goes on from that step with the run's own weights."}, "soup requested: it applies at the next step boundary"},
		{"evaluate, running", "v", nil, []string{"Evaluate the current weights after this step on:"}, "eval requested: it applies at the next step boundary"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, f := liveModel(t, testOptions(t, 80, 24), append(stage1Events(name), c.evs...))
			press(m, c.key)
			s := strings.Join(strings.Fields(dialogText(t, m)), " ")
			for _, w := range c.dialog {
				if !strings.Contains(s, w) {
					t.Errorf("the dialog misses %q:\n%s", w, s)
				}
			}
			press(m, "enter")
			if len(f.actions) != 1 || m.notice != c.notice {
				t.Errorf("actions %+v, notice %q, want %q", f.actions, m.notice, c.notice)
			}
		})
	}
}

// The evaluation before the recipe's anneal means the anneal starts at that
// step: a soup or an anneal confirmed meanwhile (the evaluation takes
// seconds, the phase event comes after it) was sent, and the lab made the
// soup from the annealing run, while the dialog had said stage 1 goes on. The
// soup and anneal keys are off from the "evaluating (before anneal)" event
// on, as they are once the anneal starts, and a dialog left open says so and
// sends nothing.
func TestNoSoupOnceTheAnnealIsUnderWay(t *testing.T) {
	name := "quickstart-test"
	evaluating := lab.Event{Type: lab.EvEvaluating, Time: t0.Add(5 * time.Second), Run: name, Step: 40, Tokens: 40 * 300 * testGB, Phase: "stage1", Message: "before anneal"}
	evaluated := lab.Event{Type: lab.EvEval, Time: t0.Add(6 * time.Second), Run: name, Step: 40, Tokens: 40 * 300 * testGB, Phase: "stage1", Message: "before anneal",
		Evals: []lab.EvalScore{{Task: "arith", Metric: "acc_raw", Value: 0.2, Primary: true}}}
	for _, c := range []struct {
		name string
		evs  []lab.Event
	}{
		{"while it evaluates", []lab.Event{evaluating}},
		{"evaluated, the anneal's event not in yet", []lab.Event{evaluating, evaluated}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, key := range []string{"s", "a"} {
				m, f := liveModel(t, testOptions(t, 80, 24), stage1Events(name))
				press(m, key)
				m.Update(runEventsMsg{gen: m.liveGen, events: c.evs})
				if s := strings.Join(strings.Fields(dialogText(t, m)), " "); !strings.Contains(s, "This no longer applies: the run's anneal starts at step 40 (evaluated before it first).") {
					t.Errorf("%s: the dialog does not say the anneal starts:\n%s", key, s)
				}
				press(m, "enter")
				if len(f.actions) != 0 {
					t.Errorf("%s: enter sent %v", key, f.actionKinds())
				}
				if m.dialog != nil {
					press(m, "esc")
				}
				if m.keys.Soup.Enabled() || m.keys.Anneal.Enabled() || !m.keys.Mix.Enabled() {
					t.Errorf("%s: soup %v, anneal %v, mix %v enabled", key, m.keys.Soup.Enabled(), m.keys.Anneal.Enabled(), m.keys.Mix.Enabled())
				}
			}
		})
	}
	// an interval evaluation is no anneal
	m, _ := liveModel(t, testOptions(t, 80, 24), stage1Events(name))
	ev := evaluating
	ev.Message = "interval"
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{ev}})
	if !m.keys.Soup.Enabled() || !m.keys.Anneal.Enabled() {
		t.Error("an interval evaluation turned the soup or the anneal off")
	}
}

// Choosing "edit ratios…" in the mix dialog at 60×16 keeps the focused
// picker in view: the choice adds the ratio fields and the key line's "tab/↓
// next field", which takes the key line to two lines, and the scroll that
// keeps the focus in view was measured with the key line before the key, one
// line short: the picker fell just below the fold.
func TestMixEditKeepsThePickerInView(t *testing.T) {
	m, _ := liveModel(t, testOptions(t, 60, 16), stage1Events("quickstart-test"))
	press(m, "m")
	for i := 0; m.dialog.mixes[m.dialog.mixIdx].name != "edit ratios…"; i++ {
		if i > 10 {
			t.Fatal("no edit ratios… choice")
		}
		press(m, "right")
		checkFrame(t, m, 60, 16)
		if s := screen(m); !strings.Contains(s, "› target mix") {
			t.Fatalf("after %d →, the focused picker is out of view:\n%s", i+1, s)
		}
	}
}

// From the evaluation before a soup on, the soup is being made: the lab
// refuses every action but pause, resume and stop until it is done. The keys
// stayed on through that evaluation (the soup's own event comes after it),
// and what was confirmed then came back as the lab's warning.
func TestOnlyPauseAndStopOnceASoupIsUnderWay(t *testing.T) {
	name := "quickstart-test"
	evaluating := lab.Event{Type: lab.EvEvaluating, Time: t0.Add(5 * time.Second), Run: name, Step: 40, Phase: "stage1", Message: "before soup"}
	m, f := liveModel(t, testOptions(t, 80, 24), stage1Events(name))
	press(m, "m")
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{evaluating}})
	if s := strings.Join(strings.Fields(dialogText(t, m)), " "); !strings.Contains(s, "This no longer applies: a soup is being made (only pause, resume and stop apply).") {
		t.Errorf("the mix dialog does not say a soup is being made:\n%s", s)
	}
	press(m, "enter")
	if len(f.actions) != 0 {
		t.Errorf("enter sent %v", f.actionKinds())
	}
	press(m, "esc")
	k := m.keys
	for _, b := range []struct {
		name string
		on   bool
	}{{"a", k.Anneal.Enabled()}, {"m", k.Mix.Enabled()}, {"s", k.Soup.Enabled()}, {"c", k.Checkpoint.Enabled()}, {"v", k.Evaluate.Enabled()}} {
		if b.on {
			t.Errorf("%s is enabled while the soup is being made", b.name)
		}
	}
	if !k.Pause.Enabled() || !k.Stop.Enabled() {
		t.Errorf("pause %v, stop %v: want both", k.Pause.Enabled(), k.Stop.Enabled())
	}
	// and the stop dialog says the soup is abandoned
	press(m, "X")
	if s := strings.Join(strings.Fields(dialogText(t, m)), " "); !strings.Contains(s, "Abandon the soup and end the run at the checkpoint the soup started from") {
		t.Errorf("the stop dialog does not say the soup is abandoned:\n%s", s)
	}
	// one sentence, wrapped to the box: it was two fixed lines, the first
	// ending after "checkpoint" with 20 columns of the box free
	if s := dialogText(t, m); !strings.Contains(s, "Abandon the soup and end the run at the checkpoint the soup started\n") &&
		!strings.Contains(s, "Abandon the soup and end the run at the checkpoint the soup started from") {
		t.Errorf("the stop dialog breaks its sentence short of the box's width:\n%s", s)
	}
}

// The final evaluation ends the run: the lab then writes its last checkpoint
// and returns, and an action confirmed meanwhile was never applied, though
// the line said it "applies at the next step boundary". From the
// "evaluating (final)" event on, anneal, mix, soup, checkpoint, evaluate,
// pause and stop are off, as the lab's rule (lab.ActionState.WhyNot) has
// it: the lab answers them with a warning, the run ending anyway, finished;
// and a dialog open then says why.
func TestNoActionsDuringTheFinalEvaluation(t *testing.T) {
	name := "quickstart-test"
	final := lab.Event{Type: lab.EvEvaluating, Time: t0.Add(5 * time.Second), Run: name, Step: 40, Phase: "anneal", Message: "final"}
	m, f := liveModel(t, testOptions(t, 80, 24), stage1Events(name))
	press(m, "c")
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{final}})
	if s := strings.Join(strings.Fields(dialogText(t, m)), " "); !strings.Contains(s, "This no longer applies: the run is ending (its final evaluation, then its last checkpoint).") {
		t.Errorf("the checkpoint dialog does not say the run is ending:\n%s", s)
	}
	press(m, "enter")
	if len(f.actions) != 0 {
		t.Errorf("enter sent %v", f.actionKinds())
	}
	press(m, "esc")
	k := m.keys
	if k.Anneal.Enabled() || k.Mix.Enabled() || k.Soup.Enabled() || k.Checkpoint.Enabled() || k.Evaluate.Enabled() || k.Pause.Enabled() || k.Stop.Enabled() {
		t.Errorf("during the final evaluation: a %v m %v s %v c %v v %v space %v X %v", k.Anneal.Enabled(), k.Mix.Enabled(), k.Soup.Enabled(),
			k.Checkpoint.Enabled(), k.Evaluate.Enabled(), k.Pause.Enabled(), k.Stop.Enabled())
	}
}

// A window made smaller with a dialog open keeps its focused input in view:
// the soup dialog opened at 120×40 (all of it on screen, from its top) and
// then shown at 60×16 had its fields below the fold.
func TestDialogFocusInViewAfterResize(t *testing.T) {
	m, _ := liveModel(t, testOptions(t, 120, 40), stage1Events("quickstart-test"))
	press(m, "s")
	m.Update(tea.WindowSizeMsg{Width: 60, Height: 16})
	checkFrame(t, m, 60, 16)
	if s := screen(m); !strings.Contains(s, "› ingredients") {
		t.Errorf("the focused field is out of view after the resize:\n%s", s)
	}
}

// The launch dialog describes the recipe as its --set overrides make it, as
// they are typed: it described the file alone, so "max_tokens=200K" left it
// saying 1.70M tokens and 831 steps, and an override that does not parse
// said nothing until enter.
func TestLaunchDialogShowsTheOverrides(t *testing.T) {
	m := New(testOptions(t, 100, 40))
	press(m, "enter") // quickstart
	text := func() string { return strings.Join(strings.Fields(dialogText(t, m)), " ") }
	if s := text(); !strings.Contains(s, "1.70M tokens: 831 steps of 2048") {
		t.Fatalf("the launch dialog without overrides:\n%s", s)
	}
	for _, r := range "max_tokens=200K anneal.auto_at=150K" {
		press(m, string(r))
	}
	s := text()
	for _, want := range []string{"200.0K tokens: 98 steps of 2048", "anneal at 150.0K: 400.0K tokens", "(with --set max_tokens=200K anneal.auto_at=150K)"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "1.70M") {
		t.Errorf("the file's budget is still described:\n%s", s)
	}
	for range "150K" {
		press(m, "backspace")
	}
	press(m, "l", "o", "t", "s")
	if s := text(); !strings.Contains(s, "anneal.auto_at") || !strings.Contains(s, `"lots"`) {
		t.Errorf("a bad override says nothing before enter:\n%s", s)
	}
}

// In a text field ctrl+u clears it and ctrl+w (alt+backspace) deletes its
// last word, as in bubbles' textinput and readline, the field's cursor being
// at its end; ctrl+u scrolled the dialog up instead, so a wrong value went
// one backspace at a time. Where no field has the focus (a choice, a dialog
// without fields) ctrl+u still scrolls up, as ctrl+d scrolls down.
func TestCtrlUClearsTheField(t *testing.T) {
	ctrl := func(r rune) tea.KeyPressMsg { return tea.KeyPressMsg{Code: r, Mod: tea.ModCtrl} }
	for _, tc := range []struct {
		name, typed string
		key         tea.KeyPressMsg
		want        string
	}{
		{"ctrl+u", "1000 400K", ctrl('u'), ""},
		{"ctrl+w", "max_tokens=200K seed=3", ctrl('w'), "max_tokens=200K "},
		{"ctrl+w after spaces", "max_tokens=200K seed=3  ", ctrl('w'), "max_tokens=200K "},
		{"alt+backspace", "one", tea.KeyPressMsg{Code: tea.KeyBackspace, Mod: tea.ModAlt}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, f := liveModel(t, testOptions(t, 80, 24), stage1Events("quickstart-test"))
			press(m, "a")
			fl := m.dialog.focused().f
			if fl == nil {
				t.Fatal("the anneal dialog opens without its tokens field focused")
			}
			fl.value = tc.typed
			m.Update(tc.key)
			if fl.value != tc.want || m.dialog == nil || len(f.actions) != 0 {
				t.Errorf("field %q after %s, want %q (dialog open %v, actions %v)", fl.value, tc.name, tc.want, m.dialog != nil, f.actions)
			}
		})
	}
	// at 60×16 the soup dialog scrolls: ctrl+u on its mix choice scrolls up,
	// on a field it clears the field, which stays in view
	m, _ := liveModel(t, testOptions(t, 60, 16), stage1Events("quickstart-test"))
	press(m, "s")
	for m.dialog.hasInput() {
		press(m, "tab")
	}
	top := m.dialog.scroll
	m.Update(ctrl('u'))
	if m.dialog.scroll >= top || m.keys.ClearField.Enabled() {
		t.Errorf("ctrl+u on the mix choice: top %d → %d, want it scrolled up; clear key enabled %v", top, m.dialog.scroll, m.keys.ClearField.Enabled())
	}
	press(m, "tab")
	if !m.dialog.hasInput() {
		t.Fatal("tab from the mix choice leads to no field")
	}
	fl := m.dialog.focused().f
	m.Update(ctrl('u'))
	if s := screen(m); fl.value != "" || !strings.Contains(s, "› "+fl.label) || !m.keys.ClearField.Enabled() {
		t.Errorf("ctrl+u on the field %s: %q, want it cleared and in view:\n%s", fl.label, fl.value, s)
	}
}

// The launch dialog lists a recipe's mix_schedule, the switches the run
// will make by itself, with the mix each switches to.
func TestLaunchDialogShowsTheMixSchedule(t *testing.T) {
	m := New(testOptions(t, 120, 40))
	press(m, "enter") // quickstart
	text := func() string { return strings.Join(strings.Fields(dialogText(t, m)), " ") }
	if s := text(); strings.Contains(s, "mix at") {
		t.Fatalf("a recipe without mix_schedule lists a switch:\n%s", s)
	}
	for _, r := range `mix_schedule=[{"at_tokens":1M,"mix":anneal}]` {
		press(m, string(r))
	}
	want := "mix at 1.00M: anneal (web_clean 50% · math 25% · qa 25%)"
	if s := text(); !strings.Contains(s, want) {
		t.Errorf("no %q:\n%s", want, s)
	}
}

// A text field shows its end, where typing goes, when its value is wider
// than its column: the launch dialog's --set at 60 columns showed the first
// overrides and "…", the cursor and what was just typed out of sight. A
// field without the focus still shows its start.
func TestLongFieldShowsWhereYouType(t *testing.T) {
	for _, w := range []int{60, 80} {
		m := New(testOptions(t, w, 24))
		press(m, "enter") // quickstart
		set := "max_tokens=200K anneal.auto_at=150K anneal.tokens=50K checkpoint.interval=20 seed=7"
		for _, r := range set {
			press(m, string(r))
		}
		s := screen(m)
		if !strings.Contains(s, "seed=7▏") || !strings.Contains(s, "› --set       …") {
			t.Errorf("%d columns: the --set field does not show its end and cursor:\n%s", w, s)
		}
		press(m, "tab") // to the name: --set shows its start again
		if s := screen(m); !strings.Contains(s, "  --set       max_tokens=200K") {
			t.Errorf("%d columns: the --set field without the focus does not show its start:\n%s", w, s)
		}
		checkFrame(t, m, w, 24)
	}
}

// The launch dialog of a recipe whose soup starts at anneal.auto_at counts
// the steps the run trains itself, to auto_at: it counted them to
// max_tokens (3907 steps of a run that trains 390).
func TestLaunchDialogCountsToTheSoup(t *testing.T) {
	m := New(testOptions(t, 120, 40))
	press(m, "enter") // quickstart
	for _, r := range "max_tokens=1M anneal.auto_at=200K soup.ingredients=2" {
		press(m, string(r))
	}
	s := strings.Join(strings.Fields(dialogText(t, m)), " ")
	if want := "200.0K tokens: 98 steps of 2048, then the soup (anneal.auto_at; max_tokens 1.00M)"; !strings.Contains(s, want) {
		t.Errorf("no %q:\n%s", want, s)
	}
}

// TestHelpLineOffersResumeWhenPaused: paused, the help line puts "space
// resume training" first: it came after a, m, s, c and v, which at 80 and
// at 120 columns cut it off ("… • ? full help"), so a paused run did not say
// how to go on.
func TestHelpLineOffersResumeWhenPaused(t *testing.T) {
	for _, w := range []int{80, 120} {
		m, f := liveModel(t, testOptions(t, w, 24), stage1Events("quickstart-test"))
		help := func() string { s := strings.Split(strings.TrimRight(screen(m), "\n"), "\n"); return s[len(s)-1] }
		if h := help(); !strings.HasPrefix(h, "a anneal now") {
			t.Errorf("%d columns, training: help line %q, want the actions in their order", w, h)
		}
		m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{{Type: lab.EvPhase, Time: t0.Add(5 * time.Second), Run: f.name, Step: 40,
			Tokens: 40 * testGB, Phase: "stage1", Change: lab.ChangePaused, Message: "paused"}}})
		if h := help(); !strings.HasPrefix(h, "space resume training • a anneal now") {
			t.Errorf("%d columns, paused: help line %q, want it to start with space resume training", w, h)
		}
	}
}

// TestLaunchDialogShowsTheRecipesWarnings: what the run warns about as it
// starts is in the launch dialog, before enter: with the automatic anneal
// ending at 260K, the dialog said "300.0K tokens: 147 steps" and nothing of
// where the run would end (the run's warning then hid behind the launch
// notice: TestRecipeWarningShownAtLaunch).
func TestLaunchDialogShowsTheRecipesWarnings(t *testing.T) {
	m := New(testOptions(t, 100, 40))
	press(m, "enter") // quickstart
	text := func() string { return strings.Join(strings.Fields(dialogText(t, m)), " ") }
	if s := text(); strings.Contains(s, "warning") {
		t.Fatalf("quickstart as shipped has a warning:\n%s", s)
	}
	for _, r := range "max_tokens=300K anneal.auto_at=200K anneal.tokens=60K" {
		press(m, string(r))
	}
	if s := text(); !strings.Contains(s, "warning: ") || !strings.Contains(s, "ends at 260000 tokens, not max_tokens 300000") {
		t.Errorf("the dialog does not give the recipe's warning:\n%s", s)
	}
}

// TestSoupDialogSaysWhatItCosts: the soup dialog gives the soup's tokens in
// all and the time they take at the speed the status shows: its default, K
// anneals of the recipe's anneal length, can outlast the run itself (3 ×
// 400K tokens on a run with 1.4M to go), and it said each one's length only.
func TestSoupDialogSaysWhatItCosts(t *testing.T) {
	m, _ := liveModel(t, testOptions(t, 120, 40), stage1Events("quickstart-test"))
	press(m, "s")
	s := strings.Join(strings.Fields(dialogText(t, m)), " ")
	k, _ := strconv.Atoi(m.dialog.fields[0].value)
	n, _ := parseCount(m.dialog.fields[1].value)
	steps := int64(k) * ((n + testGB - 1) / testGB)
	left, _ := m.liveData.tps.Left(steps * testGB)
	want := fmt.Sprintf("In all %s tokens (≈%d steps), about %s at the current speed", lab.HumanCount(steps*testGB), steps, lab.HumanDuration(left))
	if !strings.Contains(s, want) || left < time.Second {
		t.Errorf("the soup dialog does not say %q:\n%s", want, s)
	}
}

// A run action key that does not apply now is left out of the help line, but
// pressed anyway it is answered on the notice line with why, not ignored:
// `s` during an anneal, `a` on a run that has ended or is trained elsewhere.
func TestDisabledActionKeySaysWhy(t *testing.T) {
	m, _ := liveModel(t, testOptions(t, 80, 24), syntheticRun("quickstart-test", testRecipe(t)))
	if m.keys.Soup.Enabled() {
		t.Fatal("the test expects s to be off during the anneal")
	}
	press(m, "s")
	if m.dialog != nil {
		t.Fatal("s opened a dialog during the anneal")
	}
	if s, want := screen(m), "s (make a soup) does not apply now: the run is annealing already"; !strings.Contains(s, want) {
		t.Errorf("no %q on the screen:\n%s", want, s)
	}
	for _, c := range []struct {
		state string
		ended bool
		want  string
	}{
		{"finished", true, "a (anneal now) does not apply now: the run has ended (finished)"},
		{"headless", false, "a (anneal now) does not apply now: it trains headless"}, // t only once this session's run ends
		{"running", false, "a (anneal now) does not apply now: it is not training in this session"},
	} {
		m.cur = newRunData("other", "runs/other", nil)
		m.cur.State, m.cur.Ended = c.state, c.ended
		m.updateKeys()
		press(m, "a")
		if s := screen(m); !strings.Contains(s, c.want) {
			t.Errorf("%s run: no %q on the screen:\n%s", c.state, c.want, s)
		}
	}
	// a key that applies opens its dialog, nothing said
	m.cur = m.liveData
	m.updateKeys()
	press(m, "m")
	if m.dialog == nil || m.dialog.kind != dlgMix {
		t.Error("m did not open the mix dialog during the anneal")
	}
}

// Quitting a paused run says it is paused, not "still training", and that
// detaching ends the pause: the headless run (olmolab --batch --resume) has
// no pause and trains on from that step, which a person who paused a
// misbehaving run to think would not expect.
func TestQuitWhilePausedSaysDetachTrainsOn(t *testing.T) {
	o := testOptions(t, 80, 24)
	o.Detach = func(string) (int, error) { return 4242, nil }
	m, f := liveModel(t, o, stage1Events("quickstart-test"))
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{{Type: lab.EvPhase, Time: t0.Add(5 * time.Second), Run: f.name, Step: 40,
		Tokens: 40 * testGB, Phase: "stage1", Change: lab.ChangePaused, Message: "paused"}}})
	press(m, "q")
	checkFrame(t, m, 80, 24)
	s := screen(m)
	for _, want := range []string{"quickstart-test is paused at step 40.", "The pause ends: the headless run trains on from step 40."} {
		if !strings.Contains(s, want) {
			t.Errorf("the quit dialog lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "still training") {
		t.Errorf("the quit dialog says a paused run is still training:\n%s", s)
	}
}
