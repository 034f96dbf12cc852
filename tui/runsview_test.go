package tui

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/olmolab/olmolab/lab"
)

// soupWithValFixture is the runs fixture's soup run, its ingredients and soup
// evaluated on tasks (higher is better) and on validation loss (val/<source>,
// lower is better), as a recipe with eval.val records them.
func soupWithValFixture(t *testing.T, o Options) {
	t.Helper()
	soupFixture(t, o, func(d float64) []lab.EvalScore {
		return []lab.EvalScore{
			{Task: "world_cloze", Formulation: "rc", Metric: "acc_per_char", Value: 0.45 + d, Primary: true},
			{Task: "val/web_clean", Formulation: "lm", Metric: "ce_loss", Value: 1.57 + d, Primary: true},
			{Task: "val/web_clean", Formulation: "lm", Metric: "bits_per_byte", Value: 0.52 + d},
			{Task: "arith", Formulation: "rc", Metric: "acc_per_char", Value: 0.2 + d, Primary: true},
			{Task: "val/code", Formulation: "lm", Metric: "ce_loss", Value: 2.1 + d, Primary: true},
		}
	})
}

// soupFixture is run soup-v with a soup of two ingredients, ingredient i
// scored scores(0.01·i) and the soup scores(0.03).
func soupFixture(t *testing.T, o Options, scores func(d float64) []lab.EvalScore) {
	t.Helper()
	rec := testRecipe(t)
	dir := filepath.Join(o.RunsDir, "soup-v")
	evs := syntheticSoupRun("soup-v", rec)
	for _, e := range evs {
		if e.Soup == nil {
			continue
		}
		for i := range e.Soup.Ingredients {
			e.Soup.Ingredients[i].Evals = scores(0.01 * float64(i))
		}
		e.Soup.Soup.Evals = scores(0.03)
	}
	writeRunDir(t, dir, rec, evs)
	writeSoupFiles(t, dir, evs)
	os.WriteFile(filepath.Join(dir, lab.SummaryFile), []byte(`{"state":"finished","steps":90,"tokens":184320}`), 0o644)
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// The runs view gives an ingredient's and a soup's task scores and their
// validation losses apart: the tasks first, then the losses under "val"
// (ce_loss, fewer decimals), never one list sorted by name that puts
// "val/code 2.100" between two accuracies; and the scores have the width the
// window gives them, not a fixed 26 cells.
func TestRunsViewScoresApart(t *testing.T) {
	for _, c := range []struct {
		w          int
		ing, soup  string
		notContain []string
	}{
		{120, "├ ingredient-2-seed-666  final 2.0500 arith 0.210 · world_cloze 0.460 · val code 2.11 web_clean 1.58",
			"└ soup (uniform average) final – arith 0.230 · world_cloze 0.480 · val code 2.13 web_clean 1.60", nil},
		// too narrow for the losses: the tasks, then "…"
		{80, "├ ingredient-2-seed-666  final 2.0500 arith 0.210 · world_cloze 0.460 …",
			"└ soup (uniform average) final – arith 0.230 · world_cloze 0.480 …", []string{"val/", "2.1"}},
	} {
		o := testOptions(t, c.w, 24)
		soupWithValFixture(t, o)
		m := New(o)
		press(m, "2")
		checkFrame(t, m, c.w, 24)
		s := screen(m)
		for _, want := range []string{c.ing, c.soup} {
			if !strings.Contains(s, want) {
				t.Errorf("%d columns: no line %q:\n%s", c.w, want, s)
			}
		}
		for _, bad := range c.notContain {
			if l := lineWith(s, "ingredient-2"); strings.Contains(l, bad) {
				t.Errorf("%d columns: %q in %q", c.w, bad, l)
			}
		}
	}
}

// A run's row lines up with the header (state under "state", the last loss
// ending where "last" ends) at every width the lab supports, and a diverged
// run's loss of 5e8 (the mean of its last steps, one of 5e9) is written so
// that it fits its column, not cut to "505131021.…".
func TestRunsViewColumnsAlign(t *testing.T) {
	for _, w := range []int{60, 80, 120} {
		o := testOptions(t, w, 16)
		rec := testRecipe(t)
		dir := filepath.Join(o.RunsDir, "diverged")
		var evs []lab.Event
		for s := int64(1); s <= 19; s++ {
			e := stepEvent("diverged", s, "stage1", 300*testGB)
			if s == 19 {
				e.Loss = 5051310066.17
			}
			evs = append(evs, e)
		}
		writeRunDir(t, dir, rec, evs)
		os.WriteFile(filepath.Join(dir, lab.SummaryFile), []byte(`{"state":"diverged","steps":24,"tokens":49152}`), 0o644)
		m := New(o)
		press(m, "2")
		checkFrame(t, m, w, 16)
		lines := strings.Split(screen(m), "\n")
		head, row := lines[1], lineWith(screen(m), "✗ diverged")
		if row == "" {
			t.Fatalf("%d columns: no row for the run:\n%s", w, screen(m))
		}
		// in cells: the row's glyphs (✗) are several bytes
		cells := func(s string, i int) int { return ansi.StringWidth(s[:i]) }
		hs := cells(head, strings.Index(head, "state"))
		rs := cells(row, strings.LastIndex(row, "diverged"))
		if hs != rs {
			t.Errorf("%d columns: state at cell %d, header's \"state\" at %d:\n%s\n%s", w, rs, hs, head, row)
		}
		if !regexp.MustCompile(` [0-9]\.[0-9]{2}e\+0[89]$`).MatchString(row) {
			t.Errorf("%d columns: the last loss is not written as 5.05e+08 at the end of the row: %q", w, row)
		}
		if hw, rw := ansi.StringWidth(head), ansi.StringWidth(row); hw != rw {
			t.Errorf("%d columns: the row is %d cells wide, the header %d:\n%s\n%s", w, rw, hw, head, row)
		}
	}
}

// On a wide terminal a run's state and losses stay next to its name: the run
// column is as wide as the longest name needs (32 at least), not the whole
// width (at 200 columns the state sat 150 cells right of the name).
func TestRunsViewWideKeepsColumnsTogether(t *testing.T) {
	for _, w := range []int{80, 120, 200} {
		o := testOptions(t, w, 24)
		runsFixture(t, o)
		m := New(o)
		press(m, "2")
		checkFrame(t, m, w, 24)
		s := screen(m)
		head := strings.Split(s, "\n")[1]
		if i := strings.Index(head, "state"); i != 4+32+1 {
			t.Errorf("%d columns: the state column starts at %d, want 37 (a 32-cell run column):\n%s", w, i, s)
		}
		if row := lineWith(s, "✓ quickstart-a"); !strings.HasSuffix(row, "finished        120    1.9855    2.0640") {
			t.Errorf("%d columns: row %q", w, row)
		}
	}
}

// At 60 columns the runs view tells a soup's ingredients apart: their names
// were cut at the end, and both read "ingredien…".
func TestRunsViewIngredientsApartAt60Columns(t *testing.T) {
	o := testOptions(t, 60, 16)
	runsFixture(t, o)
	m := New(o)
	press(m, "2", "j", "j", "j", "j") // down to the second ingredient: the table has 5 rows here
	checkFrame(t, m, 60, 16)
	s := screen(m)
	a, b := lineWith(s, "final 2.1000"), lineWith(s, "final 2.0500")
	if a == "" || b == "" {
		t.Fatalf("no ingredient rows:\n%s", s)
	}
	name := func(row string) string {
		return strings.TrimSpace(strings.SplitN(strings.SplitN(row, "├", 2)[1], "final", 2)[0])
	}
	if name(a) == name(b) || !strings.HasSuffix(name(a), "42") || !strings.HasSuffix(name(b), "666") {
		t.Errorf("the ingredients read %q and %q:\n%s", name(a), name(b), s)
	}
}

// The runs view's overlay shows the item under the cursor while nothing is
// selected: the run's curve, an ingredient's, or a soup's ingredients on the
// soup's lines; it was empty ("no run selected") until space selected
// something. A selection is what it shows then, wherever the cursor is, and
// clearing it brings the cursor's item back.
func TestRunsViewOverlayShowsTheCursorsItem(t *testing.T) {
	o := testOptions(t, 80, 24)
	runsFixture(t, o)
	m := New(o)
	load := func() {
		t.Helper()
		m.overlayBusy = time.Time{} // press drops the commands the keys return
		if cmd := m.loadOverlay(); cmd != nil {
			m.Update(cmd())
		}
		checkFrame(t, m, 80, 24)
	}
	legend := func() string { // the overlay's last line: the curves' names
		lines := strings.Split(screen(m), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "■") {
				return l
			}
		}
		return ""
	}
	press(m, "2")
	load()
	rows := m.runRows()
	name := func(dir string) string { return "■ " + shortRunName(dir, o.RunsDir) }
	var ings []string
	for _, r := range rows {
		if r.kind == rowIngredient {
			ings = append(ings, name(r.curveDir))
		}
	}
	if rows[0].kind != rowRun || rows[1].kind != rowRun || rows[2].kind != rowSoup || rows[3].kind != rowIngredient || len(ings) != 2 {
		t.Fatalf("the fixture's rows changed: %+v", rows)
	}
	s := screen(m)
	if strings.Contains(s, "no run selected") || legend() != name(rows[0].curveDir) || !strings.Contains(s, "loss overlay · EMA 0.90 · under the cursor (space selects)\n") {
		t.Errorf("nothing selected: the overlay does not show the first run (legend %q):\n%s", legend(), s)
	}
	press(m, "j", "j") // the soup: its ingredients
	load()
	// (less the run and soup they share: legendNames)
	if got, want := legend(), "■ ingredient-1-seed-42  ■ ingredient-2-seed-666"; got != want {
		t.Errorf("on the soup: legend %q, want %q", got, want)
	}
	if _, ok := m.overlay[rows[0].curveDir]; ok || len(m.overlay) != 2 {
		t.Errorf("the curves read are kept after the cursor left them: %d curves", len(m.overlay))
	}
	press(m, "j", "space", "k", "k", "k") // ingredient 1 selected, the cursor on the first run
	load()
	if got := legend(); got != ings[0] || strings.Contains(screen(m), "under the cursor") {
		t.Errorf("with a selection: legend %q, want the selection alone, %q:\n%s", got, ings[0], screen(m))
	}
	press(m, "backspace")
	load()
	if got, want := legend(), name(rows[m.runsCursor].curveDir); got != want || rows[m.runsCursor].kind != rowRun {
		t.Errorf("selection cleared: legend %q, want the cursor's run, %q", got, want)
	}
}

// The cursor stays on its run (or its soup's row) when the scan of the runs
// directory finds a new run, which comes first (the newest) and pushed every
// row down: the cursor kept its index and so moved to another run, which
// enter then opened, in the recipes and runs list and in the runs view. A
// cursor not moved since the view opened stays on the top row, the newest.
func TestCursorStaysOnItsRunWhenARunAppears(t *testing.T) {
	o := testOptions(t, 80, 24)
	runsFixture(t, o)
	m := New(o)
	newRun := func(name string, at time.Time) {
		t.Helper()
		dir := filepath.Join(o.RunsDir, name)
		writeRunDir(t, dir, testRecipe(t), syntheticRun(name, testRecipe(t))[:5])
		os.Chtimes(filepath.Join(dir, lab.MetricsFile), at, at)
		m.Update(runsScannedMsg{runs: m.scanner.scan(o.RunsDir, firstScanBudget)})
		if m.runs[0].Name != name {
			t.Fatalf("the new run %s is not listed first: %+v", name, m.runs)
		}
	}
	// the recipes and runs list: on the second run
	m.homeCursor = len(m.recipes) + 1
	on := m.runs[1].Dir
	newRun("newer", time.Now())
	if i := m.homeCursor - len(m.recipes); i < 0 || i >= len(m.runs) || m.runs[i].Dir != on {
		t.Errorf("home: the cursor moved from %s to item %d", on, m.homeCursor)
	}
	// the runs view, opened on its top row, the newest run: there still
	// when a newer one comes
	press(m, "2")
	newRun("newer-still", time.Now().Add(time.Second))
	if m.runsCursor != 0 {
		t.Errorf("runs view: the cursor left the top row, the newest run, for row %d", m.runsCursor)
	}
	// moved onto an ingredient of soup-b: it stays on it
	rows := m.runRows()
	for i, r := range rows {
		if r.kind == rowIngredient {
			press(m, "j")
			m.runsCursor = i
			break
		}
	}
	ing := rows[m.runsCursor].curveDir
	newRun("newest", time.Now().Add(time.Minute))
	if rows := m.runRows(); m.runsCursor >= len(rows) || rows[m.runsCursor].curveDir != ing {
		t.Errorf("runs view: the cursor moved from %s to row %d", ing, m.runsCursor)
	}
}

// The runs view names the OLMES split of a soup's scores as the rest of the
// lab does: once, on the soup's line, when they share one ("soup-90: 2×20.5K
// from step 90 · validation split"), else after each task. It named none.
func TestRunsViewSoupNamesItsSplit(t *testing.T) {
	for _, c := range []struct {
		name            string
		split2          string // the second ingredient's
		soup, ing, ing2 string
	}{
		{"one split", "validation", "└ soup-90: 2×20.5K from step 90 · validation split",
			"├ ingredient-1-seed-42   final 2.1000 arc_easy 0.450 · arith 0.200", "├ ingredient-2-seed-666  final 2.0500 arc_easy 0.460 · arith 0.210"},
		{"two", "test", "└ soup-90: 2×20.5K from step 90\n",
			"├ ingredient-1-seed-42   final 2.1000 arc_easy (validation) 0.450 · arith 0.200", "├ ingredient-2-seed-666  final 2.0500 arc_easy (test) 0.460 · arith 0.210"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := testOptions(t, 120, 24)
			n := 0
			soupFixture(t, o, func(d float64) []lab.EvalScore {
				split := "validation"
				if n++; n == 2 {
					split = c.split2
				}
				return []lab.EvalScore{
					{Task: "arc_easy", Formulation: "rc", Split: split, Metric: "acc_per_char", Value: 0.45 + d, Primary: true},
					{Task: "arith", Formulation: "rc", Metric: "acc_per_char", Value: 0.2 + d, Primary: true},
				}
			})
			m := New(o)
			press(m, "2")
			checkFrame(t, m, 120, 24)
			s := screen(m)
			for _, want := range []string{c.soup, c.ing, c.ing2} {
				if !strings.Contains(s, want) {
					t.Errorf("no %q:\n%s", want, s)
				}
			}
		})
	}
}

// TestRunsViewDroppedIngredient: an ingredient that diverged and was left
// out of its soup (soup.json's dropped) has a directory like the others,
// and the runs view listed it as an ingredient with no final loss and no
// scores; it says it was dropped, at which step and why. The run is
// lab/testdata/run-before-event-fields, whose recipe's soup from step 10
// dropped ingredient-2-seed-12.
func TestRunsViewDroppedIngredient(t *testing.T) {
	o := testOptions(t, 120, 30)
	src := filepath.Join(pkgDir, "..", "lab", "testdata", "run-before-event-fields")
	if err := os.CopyFS(filepath.Join(o.RunsDir, "dropped"), os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	m := New(o)
	press(m, "2")
	checkFrame(t, m, 120, 30)
	s := screen(m)
	for _, want := range []string{
		"└ soup-10: 2×1024 from step 10 (1 of 3 dropped)",
		"├ ingredient-2-seed-12   dropped: diverged at step 13, 3 non-finite steps in a row (last loss 5.98",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q:\n%s", want, s)
		}
	}
	if l := lineWith(s, "ingredient-2-seed-12"); strings.Contains(l, "final") {
		t.Errorf("the dropped ingredient has a final loss: %q", l)
	}
	if l := lineWith(s, "ingredient-3-seed-13"); !strings.Contains(l, "final 5.8564 fake 0.006") {
		t.Errorf("the ingredient in the soup: %q", l)
	}
	// at 60 columns the reason is cut to the width
	o = testOptions(t, 60, 30)
	if err := os.CopyFS(filepath.Join(o.RunsDir, "dropped"), os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	m = New(o)
	press(m, "2")
	checkFrame(t, m, 60, 30)
	if l := lineWith(screen(m), "#2 seed 12"); !strings.Contains(l, "dropped: diverged at step 13") {
		t.Errorf("at 60 columns: %q\n%s", l, screen(m))
	}
}

// TestSoupDetailsSayDropped: the soup details of a soup that dropped a
// diverged ingredient had a column per averaged ingredient and nothing of the
// dropped one, so a soup of 3 read as a soup of 2; its title says how many
// were dropped, and the dropped one has its column, in the order of the
// ingredients' rows above, its loss cell reading "diverged" and no scores.
func TestSoupDetailsSayDropped(t *testing.T) {
	o := testOptions(t, 120, 30)
	src := filepath.Join(pkgDir, "..", "lab", "testdata", "run-before-event-fields")
	if err := os.CopyFS(filepath.Join(o.RunsDir, "dropped"), os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	m := New(o)
	press(m, "2")
	for range 10 { // to the soup's row
		if strings.Contains(lineWith(screen(m), "▸"), "soup-10") {
			break
		}
		press(m, "j")
	}
	enterSoup(t, m)
	checkFrame(t, m, 120, 30)
	if s := screen(m); !strings.Contains(lineWith(s, "tokens from step 10"), "1 of 3 dropped (diverged)") {
		t.Errorf("the soup details' title does not say an ingredient was dropped:\n%s", s)
	}
	s := screen(m)
	head := lineWith(s, "seed 11")
	if !regexp.MustCompile(`seed 11 +seed 12 +seed 13 +soup`).MatchString(head) {
		t.Errorf("columns %q, want seed 11, the dropped seed 12, seed 13 and the soup:\n%s", head, s)
	}
	if loss := lineWith(s, "final loss"); !regexp.MustCompile(`final loss +5\.8334◂? +diverged +5\.8564◂? +–`).MatchString(loss) {
		t.Errorf("final loss row %q, want the dropped ingredient's cell to read diverged", loss)
	}
	if fake := lineWith(s, "  fake "); !regexp.MustCompile(`fake +-?0\.\d{3}◂? +– +-?0\.\d{3}◂? +-?0\.\d{3}`).MatchString(fake) {
		t.Errorf("score row %q, want no score for the dropped ingredient", fake)
	}
	// at 60 columns two ingredients' columns fit: the averaged ones, not
	// the dropped one, which the title and the foot count
	m.Update(teaSize(60, 30))
	s = screen(m)
	// (the details' header, below their title; the rows above read "#1 seed 11")
	if head := lineWith(s[strings.Index(s, "soup-10 ·"):], "seed 11"); !regexp.MustCompile(`seed 11 +seed 13 +soup`).MatchString(head) || !strings.Contains(s, "1 more ingredient") {
		t.Errorf("at 60 columns: columns %q, want the averaged seeds 11 and 13 and a foot counting the dropped one:\n%s", head, s)
	}
}

// At 60 columns the ingredients' names were cut in the middle to
// "ingr…ed-11", "ingr…ed-12", which keeps the seed's last digits only and
// drops the ingredient's index; and the soup's row read "soup…rage)". They
// now shorten to what tells them apart: "#1 seed 11" (index and seed; the
// word "ingredient" is said by the soup row above), "soup (avg)".
func TestRunsViewIngredientNamesAt60(t *testing.T) {
	o := testOptions(t, 60, 30)
	src := filepath.Join(pkgDir, "..", "lab", "testdata", "run-before-event-fields")
	if err := os.CopyFS(filepath.Join(o.RunsDir, "dropped"), os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	m := New(o)
	press(m, "2")
	checkFrame(t, m, 60, 30)
	s := screen(m)
	for _, c := range []struct{ name, rest string }{
		{"├ #1 seed 11 ", "final 5.8334"}, {"├ #2 seed 12 ", "dropped: diverged at step 13"}, {"├ #3 seed 13 ", "final 5.8564"}, {"└ soup (avg) ", ""},
	} {
		if l := lineWith(s, c.name); l == "" || !strings.Contains(l, c.rest) {
			t.Errorf("no row %q with %q:\n%s", c.name, c.rest, s)
		}
	}
	// at 120 columns the names are whole
	m.Update(teaSize(120, 30))
	s = screen(m)
	for _, want := range []string{"├ ingredient-1-seed-11 ", "└ soup (uniform average) "} {
		if !strings.Contains(s, want) {
			t.Errorf("120 columns: no %q:\n%s", want, s)
		}
	}
}

func TestIngredientLabel(t *testing.T) {
	for _, c := range []struct {
		names []string
		w     int
		want  []string
	}{
		{[]string{"ingredient-1-seed-11", soupAvgName}, 22, []string{"ingredient-1-seed-11", soupAvgName}},
		{[]string{"ingredient-1-seed-11", soupAvgName}, 20, []string{"#1 seed 11", "soup (avg)"}},
		{[]string{"ingredient-1-seed-11", "ingredient-2-seed-12"}, 10, []string{"#1 seed 11", "#2 seed 12"}},
		// the column reads alike: both short where one must be
		{[]string{"ingredient-1-seed-42", "ingredient-2-seed-666"}, 10, []string{"#1 s42", "#2 s666"}},
		{[]string{"ingredient-1-seed-11", soupAvgName}, 5, []string{"#1 s…", "soup"}},
		{[]string{"ingredient-12-seed-123456"}, 6, []string{"#12 s…"}},
		{[]string{"something-else-long"}, 10, []string{"some…-long"}},
	} {
		form := ingredientForm(c.names, c.w)
		for i, n := range c.names {
			if got := ingredientLabel(n, c.w, form); got != c.want[i] {
				t.Errorf("%q in %d cells among %q: %q, want %q", n, c.w, c.names, got, c.want[i])
			}
		}
	}
}

// The overlay's legend named each curve by its path under the runs
// directory, the run's name first: two ingredients of one run's soups,
// selected to compare, took 76 cells at 70 columns and the second was cut
// to "dropped/soup-1…". The part every name shares is left out.
func TestOverlayLegendLeavesOutTheSharedRun(t *testing.T) {
	o := testOptions(t, 70, 30)
	src := filepath.Join(pkgDir, "..", "lab", "testdata", "run-before-event-fields")
	if err := os.CopyFS(filepath.Join(o.RunsDir, "dropped"), os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	m := New(o)
	press(m, "2")
	for _, row := range []string{"#1 seed 8 ", "#1 seed 11 "} { // the rows of ingredient-1-seed-8 and -11 at 70 columns
		for range 12 {
			if strings.Contains(lineWith(screen(m), "›"), row) {
				break
			}
			press(m, "j")
		}
		press(m, "space")
	}
	m.overlayBusy = time.Time{}
	if cmd := m.loadOverlay(); cmd != nil {
		m.Update(cmd())
	}
	checkFrame(t, m, 70, 30)
	s := screen(m)
	if want := " ■ soup-10/ingredient-1-seed-11  ■ soup-4/ingredient-1-seed-8\n"; !strings.Contains(s, want) {
		t.Errorf("legend is not %q:\n%s", want, s)
	}
}

func TestLegendNames(t *testing.T) {
	for _, c := range []struct{ dirs, want []string }{
		{[]string{"runs/a"}, []string{"a"}},
		{[]string{"runs/a", "runs/b"}, []string{"a", "b"}},
		{[]string{"runs/r/soups/soup-4/ing-1", "runs/r/soups/soup-10/ing-1"}, []string{"soup-4/ing-1", "soup-10/ing-1"}},
		{[]string{"runs/r/soups/soup-4/ing-1", "runs/r/soups/soup-4/ing-2"}, []string{"ing-1", "ing-2"}},
		{[]string{"runs/r", "runs/r/soups/soup-4/ing-1"}, []string{"r", "r/soup-4/ing-1"}},
		{[]string{"runs/r/soups/soup-4/ing-1", "runs/r"}, []string{"r/soup-4/ing-1", "r"}},
	} {
		if got := legendNames(c.dirs, "runs"); !slices.Equal(got, c.want) {
			t.Errorf("legendNames(%q) = %q, want %q", c.dirs, got, c.want)
		}
	}
}

// At 60 columns a sweep's runs, named PREFIX-<values>, were cut in the
// middle to "ablati…-seed1" and "ablati…-seed2": the learning rates, what
// tells them apart, were the part left out. The prefix they share goes
// instead ("…lr1e-3-seed2").
func TestRunsViewSweepNamesAt60(t *testing.T) {
	o := testOptions(t, 60, 20)
	rec := testRecipe(t)
	for _, n := range []string{"ablation_web-lr1e-3-seed1", "ablation_web-lr1e-3-seed2", "ablation_web-lr3e-3-seed1", "short-once"} {
		writeRunDir(t, filepath.Join(o.RunsDir, n), rec, syntheticRun(n, rec))
	}
	m := New(o)
	press(m, "2")
	checkFrame(t, m, 60, 20)
	s := screen(m)
	for _, want := range []string{" …lr1e-3-seed1 ", " …lr1e-3-seed2 ", " …lr3e-3-seed1 ", " short-once "} {
		if !strings.Contains(s, want) {
			t.Errorf("no run %q:\n%s", want, s)
		}
	}
}

func TestRunLabel(t *testing.T) {
	names := []string{"ablation_web-lr1e-3-seed1", "ablation_web-lr3e-3-seed1", "quickstart-20261129-090825", "solo-run-with-a-long-name"}
	for _, c := range []struct {
		name string
		w    int
		want string
	}{
		{"ablation_web-lr1e-3-seed1", 30, "ablation_web-lr1e-3-seed1"},
		{"ablation_web-lr1e-3-seed1", 13, "…lr1e-3-seed1"},
		{"ablation_web-lr1e-3-seed1", 9, "…lr1…eed1"},
		{"ablation_web-lr1e-3-seed1", 16, "abl…lr1e-3-seed1"},
		{"solo-run-with-a-long-name", 13, "solo-r…g-name"},
	} {
		if got := runLabel(c.name, c.w, names); got != c.want {
			t.Errorf("runLabel(%q, %d) = %q, want %q", c.name, c.w, got, c.want)
		}
	}
}
