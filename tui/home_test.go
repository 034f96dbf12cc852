package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab"
)

// The recipe list tells recipes apart at 60 columns: a name is cut only
// where the list has no room for it, not at a fixed 14 cells, which made
// olmo2_13B_stage1 and olmo2_13B_stage2 both "olmo2_13B_sta…".
func TestHomeRecipeNamesWholeAt60Columns(t *testing.T) {
	o := testOptions(t, 60, 16)
	yaml := shippedForTests()[0].YAML
	names := []string{"quickstart", "ablation_balanced", "ablation_curated", "olmo2_13B_stage1", "olmo2_13B_stage2"}
	o.Shipped = func() []experiments.Recipe {
		var out []experiments.Recipe
		for _, n := range names {
			out = append(out, experiments.Recipe{Name: n, Path: "experiments/" + n + ".yaml", YAML: yaml})
		}
		return out
	}
	m := New(o)
	checkFrame(t, m, 60, 16)
	s := screen(m)
	for _, n := range names {
		if !strings.Contains(s, " "+n+" ") || !strings.Contains(lineWith(s, " "+n+" "), "shipped") {
			t.Errorf("no line with %q and its source, shipped:\n%s", n, s)
		}
	}
}

// The recipes and runs list puts the runs' states in a column, as the runs
// view does (the same cells: glyph, name as wide as the longest, state): the
// state followed each name at its own width, "✓ soup-b finished" under
// "✓ quickstart-a finished". A name too long for the list is cut, not the
// state.
func TestHomeRunStatesAlign(t *testing.T) {
	for _, w := range []int{60, 80, 120} {
		o := testOptions(t, w, 24)
		runsFixture(t, o)
		long := filepath.Join(o.RunsDir, "a-run-with-a-name-longer-than-the-list")
		writeRunDir(t, long, testRecipe(t), nil)
		os.WriteFile(filepath.Join(long, lab.SummaryFile), []byte(`{"state":"interrupted","steps":3,"tokens":6144}`), 0o644)
		m := New(o)
		checkFrame(t, m, w, 24)
		s := screen(m)
		col := -1
		for _, c := range []struct{ name, state string }{{"quickstart-a", "finished"}, {"soup-b", "finished"}, {"a-run-with", "interrupted"}} {
			row := lineWith(s, c.name)
			i := strings.Index(row, " "+c.state)
			if i < 0 {
				t.Fatalf("%d columns: no state %q on the row of %s:\n%s", w, c.state, c.name, s)
			}
			if cell := ansi.StringWidth(row[:i]); col < 0 {
				col = cell
			} else if cell != col {
				t.Errorf("%d columns: %s's state at cell %d, quickstart-a's at %d:\n%s", w, c.name, cell, col, s)
			}
		}
	}
}

// The state column is as wide as the longest state listed: a fixed 11 cells
// for "interrupted" cut a name at 80 columns that fits beside "finished".
func TestHomeStateColumnAsWideAsItsStates(t *testing.T) {
	o := testOptions(t, 80, 24)
	runsFixture(t, o)
	dir := filepath.Join(o.RunsDir, "a-much-longer-run-name-b")
	writeRunDir(t, dir, testRecipe(t), nil)
	os.WriteFile(filepath.Join(dir, lab.SummaryFile), []byte(`{"state":"finished","steps":3,"tokens":6144}`), 0o644)
	m := New(o)
	s := screen(m)
	for _, want := range []string{"  ✓ a-much-longer-run-name-b finished", "  ✓ quickstart-a             finished"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q:\n%s", want, s)
		}
	}
}

// At 60 columns the list takes the width its rows need (leaving the details
// 20 cells): it was half the window, 30 cells, and cut two runs of one recipe
// to the same "tiny-20261129-0…" with room to spare. A name longer than that
// is cut before the time that tells the runs apart (runLabel). The
// details of a run wrap its losses instead of cutting the last one off.
func TestHomeListUsesTheWidthAt60Columns(t *testing.T) {
	for _, c := range []struct {
		names []string
		want  []string // on the rows, before the state
	}{
		{[]string{"tiny-20261129-024924", "tiny-20261129-024935"}, []string{"tiny-20261129-024924", "tiny-20261129-024935"}},
		{[]string{"quickstart-20261129-024924", "quickstart-20261129-024935"}, []string{"quicksta…20261129-024924", "quicksta…20261129-024935"}},
	} {
		o := testOptions(t, 60, 16)
		rec := testRecipe(t)
		for i, n := range c.names {
			dir := filepath.Join(o.RunsDir, n)
			writeRunDir(t, dir, rec, syntheticRun(n, rec))
			os.WriteFile(filepath.Join(dir, lab.SummaryFile), []byte(`{"state":"finished","steps":120,"tokens":245760}`), 0o644)
			ts := t0.Add(time.Duration(i) * time.Minute)
			os.Chtimes(filepath.Join(dir, lab.MetricsFile), ts, ts)
		}
		m := New(o)
		m.homeCursor = len(m.recipes) // the first run
		checkFrame(t, m, 60, 16)
		s := screen(m)
		for _, n := range c.want {
			if !strings.Contains(s, "✓ "+n+" finished") {
				t.Errorf("no row %q beside its state:\n%s", n, s)
			}
		}
		if !regexp.MustCompile(`last\s+\d\.\d{4}`).MatchString(s) {
			t.Errorf("the run's details lost its last loss:\n%s", s)
		}
	}
}

func TestTruncateMiddle(t *testing.T) {
	for _, c := range []struct {
		s    string
		w    int
		want string
	}{
		{"tiny-20261129-024924", 20, "tiny-20261129-024924"},
		{"tiny-20261129-024924", 12, "tiny-…024924"},
		{"quickstart-20261129-024935", 24, "quickstart-…61129-024935"},
		{"abc", 2, "a…"},
		{"abc", 0, ""},
	} {
		if got := truncateMiddle(c.s, c.w); got != c.want || ansi.StringWidth(got) > c.w {
			t.Errorf("truncateMiddle(%q, %d) = %q, want %q", c.s, c.w, got, c.want)
		}
	}
}

// A recipe that parses but fails to start (its data is missing) says why in
// full: the notice line had room for the start of the error only, and the
// end, where the lab says what was wrong with the pattern and its HINT line
// says what to do, was cut off. The whole error now shows beside the
// recipe, in the error colour, until a launch of it starts.
func TestLaunchErrorShownInFull(t *testing.T) {
	o := testOptions(t, 60, 16)
	fail := true
	o.StartRun = func(_ context.Context, p lab.RunParams) (Run, error) {
		if fail {
			return nil, errors.New(`quickstart.yaml: dataset: source "web": /nonexistent/data/*.npy: glob matches no file` +
				"\nHINT: check the pattern (* matches within one directory, ** across directories)")
		}
		return newFakeRun("quickstart-ok", filepath.Join(p.RunsDir, "quickstart-ok"), p.Recipe), nil
	}
	m := New(o)
	launch := func() {
		t.Helper()
		m.Update(keyMsg("enter")) // the launch dialog
		_, cmd := m.Update(keyMsg("enter"))
		if cmd == nil {
			t.Fatal("enter in the launch dialog started nothing")
		}
		m.Update(cmd())
	}
	launch()
	checkFrame(t, m, 60, 16)
	s := screen(m)
	for _, want := range []string{"could not start:", "glob matches no file", "HINT: check the pattern", "directories)"} {
		if !strings.Contains(s, want) {
			t.Errorf("the home view lacks %q:\n%s", want, s)
		}
	}
	fail = false
	launch()
	press(m, "n")
	if s := screen(m); strings.Contains(s, "could not start") {
		t.Errorf("the error stays after the recipe started:\n%s", s)
	}
}

// A recipes and runs list longer than the window says what is out of sight:
// at 80×24 the shipped recipes and a few files of the working directory fill
// it, and the runs under "Runs" were cut off without a word.
func TestHomeSaysWhatIsOutOfSight(t *testing.T) {
	o := testOptions(t, 80, 24)
	runsFixture(t, o)
	yaml := shippedForTests()[0].YAML
	o.Shipped = func() []experiments.Recipe {
		var out []experiments.Recipe
		for i := range 20 {
			n := fmt.Sprintf("recipe_%02d", i)
			out = append(out, experiments.Recipe{Name: n, Path: "experiments/" + n + ".yaml", YAML: yaml})
		}
		return out
	}
	m := New(o)
	checkFrame(t, m, 80, 24)
	if s := screen(m); !strings.Contains(s, "↓ 1 recipe, 2 runs more (↑/↓)") || strings.Contains(s, "quickstart-a") {
		t.Errorf("the list does not say the runs are below:\n%s", s)
	}
	for range 21 {
		press(m, "j")
	}
	checkFrame(t, m, 80, 24)
	if s := screen(m); !strings.Contains(s, "↑ 4 recipes more (↑/↓)") || !strings.Contains(s, "› ✓ soup-b") {
		t.Errorf("at the last run the list does not say the recipes are above:\n%s", s)
	}
}

// A recipe file that does not parse says what is wrong and what to do, and
// offers no launch: its details ended "enter: launch (with --set
// overrides)" under the parse error, and the help line offered enter.
func TestHomeBadRecipeOffersNoLaunch(t *testing.T) {
	o := testOptions(t, 100, 24)
	if err := os.WriteFile("broken.yaml", []byte("name: broken\nmax_tokens: lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := New(o)
	for i := range m.recipes {
		if m.recipes[i].Path == "broken.yaml" || strings.HasSuffix(m.recipes[i].Path, "broken.yaml") {
			m.homeCursor = i
		}
	}
	if e := m.recipes[m.homeCursor]; e.Err == nil {
		t.Fatalf("the cursor is on %s, which parses", e.Path)
	}
	m.updateKeys()
	checkFrame(t, m, 100, 24)
	s := screen(m)
	if strings.Contains(s, "enter: launch") || strings.Contains(s, "enter open") {
		t.Errorf("a recipe that does not parse offers enter:\n%s", s)
	}
	for _, want := range []string{"does not parse:", "max_tokens", "fix broken.yaml, then launch it (it is read again)"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q:\n%s", want, s)
		}
	}
	if m.keys.Open.Enabled() {
		t.Error("enter is enabled on a recipe that does not parse")
	}
	press(m, "enter")
	if m.dialog != nil {
		t.Errorf("enter opened the %q dialog", m.dialog.title)
	}
	// the other recipes launch as before
	press(m, "up")
	if !m.keys.Open.Enabled() || !strings.Contains(screen(m), "enter: launch (with --set overrides)") {
		t.Errorf("a recipe that parses does not offer its launch:\n%s", screen(m))
	}
}

// A recipe file fixed while olmolab runs launches: the list was read only
// when olmolab started, so a broken file's details said to restart it. The
// file under the cursor is read again when its size or modification time
// changes: on a key in the home view (enter launches what the file says
// now), when the cursor moves onto it, when the view is shown, at each scan
// of the runs; an unchanged file is not read again.
func TestHomeRecipeFixedWhileOpen(t *testing.T) {
	o := testOptions(t, 100, 30)
	broken := []byte("name: broken\nmax_tokens: lots\n")
	fixed := []byte(strings.Replace(flowRecipe, "name: flow", "name: broken", 1))
	mtime := time.Now()
	write := func(b []byte) {
		t.Helper()
		if err := os.WriteFile("broken.yaml", b, 0o644); err != nil {
			t.Fatal(err)
		}
		mtime = mtime.Add(time.Second) // a new modification time, however fast the test
		if err := os.Chtimes("broken.yaml", mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write(broken)
	m := New(o)
	at := -1
	for i := range m.recipes {
		if m.recipes[i].Path == "broken.yaml" {
			at = i
		}
	}
	if at < 0 {
		t.Fatal("broken.yaml is not listed")
	}
	m.homeCursor = at
	m.updateKeys()
	if !strings.Contains(screen(m), "does not parse:") {
		t.Fatalf("broken.yaml parses:\n%s", screen(m))
	}

	// fixed: enter launches it as it is now
	write(fixed)
	press(m, "enter")
	if m.dialog == nil || m.dialog.kind != dlgLaunch || string(m.dialog.recipe.YAML) != string(fixed) {
		t.Fatalf("enter on the fixed file: dialog %+v, want its launch with the fixed YAML", m.dialog)
	}
	press(m, "esc")

	// broken again, then seen from another recipe: the cursor moving onto it reads it
	write(broken)
	press(m, "up", "down")
	press(m, "enter")
	if m.dialog != nil {
		t.Errorf("enter on the file broken again opened %q", m.dialog.title)
	}
	if s := screen(m); !strings.Contains(s, "does not parse:") || m.keys.Open.Enabled() {
		t.Errorf("the file broken again offers its launch:\n%s", s)
	}

	// fixed with the view on screen and no key: the next scan of the runs shows it
	write(fixed)
	m.Update(runsScannedMsg{})
	checkFrame(t, m, 100, 30)
	s := screen(m)
	if strings.Contains(s, "does not parse") || !strings.Contains(s, "enter: launch (with --set overrides)") || !m.keys.Open.Enabled() {
		t.Errorf("the fixed file's details:\n%s", s)
	}
	requireGolden(t, s)

	// unchanged: not read again
	before := m.recipes[at].Recipe
	press(m, "up", "down")
	m.Update(runsScannedMsg{})
	if m.recipes[at].Recipe != before {
		t.Error("an unchanged recipe file was read and parsed again")
	}
}

// A recipe file created while olmolab runs is listed, and one deleted is no
// longer: the list was read when olmolab started, so a new file needed a
// restart and a deleted one stayed, "cannot read". The directory is listed
// again when its modification time changes, checked as the file under the
// cursor is (a key in the home view, the view shown, each scan of the runs);
// the cursor stays on the recipe or run it was on.
func TestHomeRecipeFilesComeAndGo(t *testing.T) {
	o := testOptions(t, 100, 30)
	recipe := func(name string) []byte { return []byte(strings.Replace(flowRecipe, "name: flow", "name: "+name, 1)) }
	for _, n := range []string{"alpha", "delta"} {
		if err := os.WriteFile(n+".yaml", recipe(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := New(o)
	paths := func() (out []string) {
		for _, e := range m.recipes {
			if e.File {
				out = append(out, e.Path)
			}
		}
		return out
	}
	on := func() string { return m.recipes[m.homeCursor].Path }
	for i, e := range m.recipes {
		if e.Path == "delta.yaml" {
			m.homeCursor = i
		}
	}
	for _, c := range []struct {
		name   string
		change func()
		see    func() // how the lab comes to look
		want   []string
	}{
		{"created, seen at the next scan", func() { os.WriteFile("beta.yaml", recipe("beta"), 0o644) },
			func() { m.Update(runsScannedMsg{}) }, []string{"alpha.yaml", "beta.yaml", "delta.yaml"}},
		{"deleted, seen on a key", func() { os.Remove("alpha.yaml") },
			func() { press(m, "l") }, []string{"beta.yaml", "delta.yaml"}},
		{"renamed, seen when the view is shown", func() { os.Rename("beta.yaml", "gamma.yaml") },
			func() { press(m, "1"); m.showHome() }, []string{"delta.yaml", "gamma.yaml"}},
		{"a file that does not parse", func() { os.WriteFile("broken.yaml", []byte("name: broken\nmax_tokens: lots\n"), 0o644) },
			func() { m.Update(runsScannedMsg{}) }, []string{"broken.yaml", "delta.yaml", "gamma.yaml"}},
	} {
		c.change()
		c.see()
		if got := paths(); !slices.Equal(got, c.want) {
			t.Errorf("%s: listed %v, want %v", c.name, got, c.want)
		}
		if on() != "delta.yaml" {
			t.Errorf("%s: the cursor moved to %s", c.name, on())
		}
		if m.mode != modeHome {
			t.Fatalf("%s: left the home view for %v", c.name, m.mode)
		}
	}
	checkFrame(t, m, 100, 30)
	s := screen(m)
	for _, want := range []string{"beta       ./gamma.yaml", "broken     does not parse"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "alpha") || strings.Contains(s, "./beta.yaml") {
		t.Errorf("a file gone is listed:\n%s", s)
	}
	// the cursor on a run stays on it when a recipe comes before it
	writeRunDir(t, filepath.Join(o.RunsDir, "r1"), testRecipe(t), nil)
	m.Update(runsScannedMsg{runs: m.scanner.scan(o.RunsDir, firstScanBudget)})
	m.homeCursor = len(m.recipes)
	os.WriteFile("aaa.yaml", recipe("aaa"), 0o644)
	m.Update(runsScannedMsg{runs: m.runs})
	if i := m.homeCursor - len(m.recipes); i != 0 || len(m.runs) == 0 {
		t.Errorf("the cursor on run r1 moved to item %d (%d recipes, %d runs)", m.homeCursor, len(m.recipes), len(m.runs))
	}
}
