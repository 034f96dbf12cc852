package tui

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/olmolab/olmolab/lab"
)

func keyMsg(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

func press(m *Model, keys ...string) {
	for _, k := range keys {
		m.Update(keyMsg(k))
	}
}

// checkFrame asserts the view is exactly w×h cells.
func checkFrame(t *testing.T, m *Model, w, h int) {
	t.Helper()
	lines := strings.Split(m.render(), "\n")
	if len(lines) != h {
		t.Fatalf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if lw := lipgloss.Width(l); lw > w {
			t.Fatalf("line %d is %d cells wide, want at most %d: %q", i, lw, w, l)
		}
	}
}

func TestHome(t *testing.T) {
	o := testOptions(t, 80, 24)
	os.WriteFile(filepath.Join(o.RecipeDir, "mine.yaml"), []byte("name: mine\nmodel: cpu_xs\ntokenizer: world\nsequence_length: 32\nglobal_batch_size: 256\nmax_tokens: 2560\ndataset:\n  sources:\n    - {name: qa, target_ratio: 1, paths: [\"builtin:qa\"]}\n"), 0o644)
	rec := testRecipe(t)
	dir := filepath.Join(o.RunsDir, "quickstart-a")
	writeRunDir(t, dir, rec, syntheticRun("quickstart-a", rec))
	os.WriteFile(filepath.Join(dir, lab.SummaryFile), []byte(`{"state":"finished","steps":120,"tokens":245760}`), 0o644)
	m := New(o)
	checkFrame(t, m, 80, 24)
	requireGolden(t, screen(m))
}

func TestDashboard(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			m, _ := liveModel(t, testOptions(t, sz[0], sz[1]), syntheticRun("quickstart-test", testRecipe(t)))
			checkFrame(t, m, sz[0], sz[1])
			requireGolden(t, screen(m))
		})
	}
}

// TestReplayMatchesLive: a run reopened from its directory shows the same
// dashboard as it did live.
func TestReplayMatchesLive(t *testing.T) {
	o := testOptions(t, 100, 30)
	rec := testRecipe(t)
	evs := syntheticRun("quickstart-test", rec)
	live, _ := liveModel(t, o, evs)

	writeRunDir(t, live.liveData.Dir, rec, evs)
	d, _, err := loadRun(live.liveData.Dir)
	if err != nil {
		t.Fatal(err)
	}
	replay := New(o)
	replay.loadingTo = live.liveData.Dir
	replay.Update(runLoadedMsg{dir: live.liveData.Dir, data: d})
	// all but the notice and help lines: the live session has its own notice
	// and the keys that act on a live run (and one notice for both, as a
	// long one takes a line from the view)
	body := func(m *Model) string {
		m.notice, m.noticeAt = "the same notice", t0.Add(1000*time.Hour)
		l := strings.Split(screen(m), "\n")
		return strings.Join(l[:len(l)-3], "\n")
	}
	if got, want := body(replay), body(live); got != want {
		t.Fatalf("replayed dashboard differs from the live one\nlive:\n%s\nreplay:\n%s", want, got)
	}
}

// runsFixture is a runs directory with a finished run, a run with a soup and
// a crashed run.
func runsFixture(t *testing.T, o Options) {
	rec := testRecipe(t)
	a := filepath.Join(o.RunsDir, "quickstart-a")
	writeRunDir(t, a, rec, syntheticRun("quickstart-a", rec))
	os.WriteFile(filepath.Join(a, lab.SummaryFile), []byte(`{"state":"finished","steps":120,"tokens":245760}`), 0o644)
	writeEvalSeries(t, a, "quickstart-a", 0)
	b := filepath.Join(o.RunsDir, "soup-b")
	evs := syntheticSoupRun("soup-b", rec)
	writeRunDir(t, b, rec, evs)
	writeSoupFiles(t, b, evs)
	os.WriteFile(filepath.Join(b, lab.SummaryFile), []byte(`{"state":"finished","steps":90,"tokens":184320}`), 0o644)
	writeEvalSeries(t, b, "soup-b", 0.4)
	// oldest first, so the list order is fixed
	for i, d := range []string{b, a} {
		ts := t0.Add(time.Duration(i) * time.Minute)
		os.Chtimes(filepath.Join(d, lab.MetricsFile), ts, ts)
	}
}

func TestRunsView(t *testing.T) {
	o := testOptions(t, 80, 24)
	runsFixture(t, o)
	m := New(o)
	press(m, "2", "space", "j", "j", "j", "space")
	// the overlay curves are read by a command; run it here (press drops the
	// commands the keys returned, so no read is under way)
	m.overlayBusy = time.Time{}
	if cmd := m.loadOverlay(); cmd != nil {
		m.Update(cmd())
	}
	checkFrame(t, m, 80, 24)
	requireGolden(t, screen(m))
}

func TestEvalView(t *testing.T) {
	o := testOptions(t, 80, 24)
	runsFixture(t, o)
	m := New(o)
	m.loadingTo = filepath.Join(o.RunsDir, "quickstart-a")
	m.Update(m.openRun(m.loadingTo)())
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	checkFrame(t, m, 80, 24)
	requireGolden(t, screen(m))
}

func TestSoupDashboard(t *testing.T) {
	o := testOptions(t, 80, 24)
	runsFixture(t, o)
	m := New(o)
	m.loadingTo = filepath.Join(o.RunsDir, "soup-b")
	m.Update(m.openRun(m.loadingTo)())
	checkFrame(t, m, 80, 24)
	requireGolden(t, screen(m))
}

// The loss chart's legend names every marker docs/tui.md lists, on the title
// line where it fits, else on lines of its own, within the width.
func TestLegendListsEveryMarker(t *testing.T) {
	for _, c := range []struct {
		w        int
		ownLine  bool
		labelFor map[string]string
	}{
		{60, true, map[string]string{"✗": "skip"}},
		{80, false, map[string]string{"✗": "skip"}},
		{100, false, map[string]string{"✗": "skipped"}},
		{120, false, map[string]string{"✗": "skipped"}},
	} {
		m, _ := liveModel(t, testOptions(t, c.w, 24), syntheticRun("quickstart-test", testRecipe(t)))
		checkFrame(t, m, c.w, 24)
		lines := strings.Split(screen(m), "\n")
		title := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "▸ loss") })
		if title < 0 {
			t.Fatalf("%d columns: no loss chart:\n%s", c.w, strings.Join(lines, "\n"))
		}
		legend := lines[title]
		if c.ownLine {
			if strings.Contains(legend, "spike") {
				t.Errorf("%d columns: the legend cannot fit the title line, yet is there: %q", c.w, legend)
			}
			legend = lines[title+1] + lines[title+2] // two lines at 60 columns
		}
		for _, g := range []string{"▲ spike", "✗ " + c.labelFor["✗"], "E eval", "┊A anneal", "M mix", "S soup", "P/R pause/resume"} {
			if !strings.Contains(legend, g) {
				t.Errorf("%d columns: the legend lacks %q: %q", c.w, g, legend)
			}
		}
	}
}

// TestEvalViewWithValidationLoss: validation-loss records (val/<source>,
// formulation lm) show as rows of the latest scores, ce_loss in a column of
// its own and bits_per_byte in the bpb column, and enter the SNR table.
func TestEvalViewWithValidationLoss(t *testing.T) {
	o := testOptions(t, 80, 24)
	runsFixture(t, o)
	// each evaluation's validation records follow its task records, as the lab writes them
	for i, run := range []string{"quickstart-a", "soup-b"} {
		path := filepath.Join(o.RunsDir, run, lab.EvalsFile)
		old, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		lines := strings.SplitAfter(strings.TrimSpace(string(old)), "\n")
		for k, line := range lines {
			out = append(out, strings.TrimSpace(line)+"\n"...)
			var r lab.EvalRecord
			json.Unmarshal([]byte(line), &r)
			var next lab.EvalRecord
			if k+1 < len(lines) {
				json.Unmarshal([]byte(lines[k+1]), &next)
			}
			if next.Step == r.Step {
				continue
			}
			j := float64(r.Step / 20)
			for _, x := range []struct {
				metric string
				v      float64
			}{{"ce_loss", 3.17}, {"bits_per_byte", 1.37}} {
				v := lab.EvalRecord{Run: run, Step: r.Step, Tokens: r.Tokens, Phase: r.Phase, Why: r.Why, Task: "val/web_clean", Form: "lm",
					Metric: x.metric, Value: x.v - 0.01*j + 0.2*float64(i), Primary: x.metric == "ce_loss", Time: r.Time}
				b, _ := json.Marshal(v)
				out = append(append(out, b...), '\n')
			}
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := New(o)
	m.loadingTo = filepath.Join(o.RunsDir, "quickstart-a")
	m.Update(m.openRun(m.loadingTo)())
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	checkFrame(t, m, 80, 24)
	s := screen(m)
	for _, want := range []string{"validation loss    form        ce       bpb", "val/web_clean      lm      3.120*     1.320", "bpb, ce (validation loss, val/…): lower is better",
		"val/web_clean lm   ce_loss"} {
		if !strings.Contains(s, want) {
			t.Errorf("view lacks %q:\n%s", want, s)
		}
	}
}
