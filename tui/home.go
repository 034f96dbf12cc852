package tui

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/plural"
)

// listWindow returns the first visible index of a list of n items shown in h
// rows with the cursor kept in view.
func listWindow(cursor, n, h int) int {
	if n <= h || cursor < h/2 {
		return 0
	}
	return min(cursor-h/2, n-h)
}

// stateGlyph is a run state's dot, with a distinct glyph where colour cannot
// carry it.
func stateGlyph(state string) string {
	switch state {
	case "running", "headless", "annealing", "soup":
		return "●"
	case "paused":
		return "‖"
	case "failed", "diverged", "crashed":
		return "✗"
	case "stopped", "interrupted":
		return "◼"
	case "recording": // olmolab eval --record scores it
		return "◐"
	}
	return "✓"
}

// stateW is the state column's width, that of the longest state
// ("interrupted").
const stateW = 11

// runCells is a run's state glyph, its name in a column nameW cells wide and
// its state in a column stateW wide: the start of a run's row in the runs view
// and its whole row in the recipes and runs list, so that both line up their
// states the same way. A name too long is cut in its middle, so the runs of
// one recipe, which differ in their ends (the time), stay apart.
func (m *Model) runCells(r runInfo, nameW, stateW int) string {
	t := m.theme
	st := m.runStateOf(r)
	return t.State(st).Render(stateGlyph(st)) + " " + t.Text.Render(padRight(m.runLabel(r.Name, nameW), nameW)) + " " +
		t.State(st).Render(padRight(st, stateW))
}

// runLabel is runLabel among the lab's runs.
func (m *Model) runLabel(name string, w int) string {
	if lenRunes(name) <= w {
		return name
	}
	names := make([]string, len(m.runs))
	for i, r := range m.runs {
		names[i] = r.Name
	}
	return runLabel(name, w, names)
}

// runLabel fits a run's name into w cells by what tells it from the runs
// beside it: a sweep's runs (PREFIX-lr1e-3-seed1, PREFIX-lr3e-3-seed1) cut
// in the middle read "ablati…-seed1" twice, the values that tell them apart
// left out. The cut is made in the shortest prefix up to a '-' that another
// of names shares instead, keeping what follows whole ("…lr1e-3-seed1",
// "quicksta…20261129-024924"), or cut in its middle where it alone does
// not fit; a name that shares none is cut in the middle.
func runLabel(name string, w int, names []string) string {
	if lenRunes(name) <= w {
		return name
	}
	for i, c := range name {
		if c != '-' || i == len(name)-1 {
			continue
		}
		for _, n := range names {
			if n != name && strings.HasPrefix(n, name[:i+1]) {
				rest := name[i+1:]
				if head := w - 1 - lenRunes(rest); head >= 0 {
					return ansi.Truncate(name[:i+1], head, "") + "…" + rest
				}
				return "…" + truncateMiddle(rest, max(w-1, 0))
			}
		}
	}
	return truncateMiddle(name, w)
}

// runNameWidth is the width of a column of the runs' names: the longest
// name's, at least least and at most most (most wins).
func runNameWidth(runs []runInfo, least, most int) int {
	w := least
	for _, r := range runs {
		w = max(w, lenRunes(r.Name))
	}
	return max(min(w, most), 1)
}

// fmtLoss writes a loss in at most 9 cells (the runs table's columns).
func fmtLoss(x float64) string {
	switch {
	case math.IsNaN(x):
		return "–"
	case math.Abs(x) >= 1e4: // a diverging run's: 5.05e+09, not 5051310066.1734, so the columns hold
		return fmt.Sprintf("%.3g", x)
	}
	return fmt.Sprintf("%.4f", x)
}

// viewHome lists the recipes to launch and the runs to open, with the facts
// of the one under the cursor beside them.
func (m *Model) viewHome(w, h int) []string {
	t := m.theme
	lw := m.homeListWidth(w)
	type item struct {
		text     string
		header   bool
		selIndex int
	}
	var items []item
	items = append(items, item{text: t.Heading.Render("Recipes") + t.Subtle.Render("  enter launches"), header: true, selIndex: -1})
	// the names as wide as the longest, within what leaves "shipped" its 7
	// cells: cut at a fixed 14 cells on a narrow terminal, olmo2_13B_stage1
	// and olmo2_13B_stage2 both read "olmo2_13B_sta…"
	nameW := 0
	for _, r := range m.recipes {
		nameW = max(nameW, lenRunes(r.Name))
	}
	nameW = max(min(nameW, lw-2-1-len("shipped")), 1)
	srcW := max(lw-2-nameW-1, 0)
	for i, r := range m.recipes {
		src := "shipped"
		if r.File {
			src = "./" + lastPathElem(r.Path)
		}
		name := r.Name
		st := t.Text
		if r.Err != nil {
			st, src = t.Faint, "does not parse"
		}
		items = append(items, item{text: st.Render(padRight(truncate(name, nameW), nameW)) + " " + t.Subtle.Render(truncate(src, srcW)), selIndex: i})
	}
	items = append(items, item{text: "", header: true, selIndex: -1})
	items = append(items, item{text: t.Heading.Render("Runs") + t.Subtle.Render(fmt.Sprintf("  in %s/", m.opts.RunsDir)), header: true, selIndex: -1})
	if len(m.runs) == 0 {
		items = append(items, item{text: t.Faint.Render("  none yet"), header: true, selIndex: -1})
	}
	// a run's state in a column, as in the runs view: after the longest
	// name, within what leaves the glyph and the longest state listed their
	// cells and a cell before the border (a fixed 11 for "interrupted" cut
	// names that fit beside "finished")
	stW := 0
	for _, r := range m.runs {
		stW = max(stW, lenRunes(m.runStateOf(r)))
	}
	runW := runNameWidth(m.runs, 0, lw-2-2-1-stW-1)
	for i, r := range m.runs {
		items = append(items, item{text: m.runCells(r, runW, stW), selIndex: len(m.recipes) + i})
	}
	cursorRow := 0
	for i, it := range items {
		if it.selIndex == m.homeCursor {
			cursorRow = i
		}
	}
	// a list longer than the window keeps its last line to say what is
	// out of sight: at 80×24 the shipped recipes and a few files fill the
	// window, and the runs under "Runs" were cut off without a word
	room := h
	if len(items) > h {
		room = max(h-1, 1)
	}
	start := listWindow(cursorRow, len(items), room)
	var left []string
	for i := start; i < len(items) && len(left) < room; i++ {
		it := items[i]
		line := "  " + it.text
		if !it.header && it.selIndex == m.homeCursor {
			line = t.Accent.Render("› ") + it.text
		}
		left = append(left, padRight(line, lw))
	}
	if room < h {
		count := func(items []item) (recipes, runs int) {
			for _, it := range items {
				switch {
				case it.selIndex >= len(m.recipes):
					runs++
				case it.selIndex >= 0:
					recipes++
				}
			}
			return
		}
		var more []string
		say := func(arrow string, recipes, runs int) {
			var n []string
			if recipes > 0 {
				n = append(n, plural.N(recipes, "recipe"))
			}
			if runs > 0 {
				n = append(n, plural.N(runs, "run"))
			}
			if len(n) > 0 {
				more = append(more, arrow+" "+strings.Join(n, ", "))
			}
		}
		recipes, runs := count(items[:start])
		say("↑", recipes, runs)
		recipes, runs = count(items[min(start+room, len(items)):])
		say("↓", recipes, runs)
		left = append(left, padRight(t.Faint.Render("  "+strings.Join(more, " · ")+" more (↑/↓)"), lw))
	}
	right := m.homeDetails(w-lw-2, h)
	out := make([]string, 0, h)
	for i := 0; i < h; i++ {
		l := strings.Repeat(" ", lw)
		if i < len(left) {
			l = left[i]
		}
		r := ""
		if i < len(right) {
			r = right[i]
		}
		out = append(out, l+t.Border.Render("│ ")+r)
	}
	return out
}

// homeListWidth is the width of the recipes and runs list: half the window
// (at most 44 cells), or, when a recipe's or a run's row needs more, what the
// longest needs, leaving the details beside it 20 cells. At 60 columns a
// fixed half cut the runs of one recipe to the same "tiny-20261129-0…" with
// room to spare.
func (m *Model) homeListWidth(w int) int {
	lw := min(44, w/2)
	need := 0
	for _, r := range m.recipes {
		src := len("shipped")
		switch {
		case r.Err != nil:
			src = len("does not parse")
		case r.File:
			src = lenRunes("./" + lastPathElem(r.Path))
		}
		need = max(need, 2+lenRunes(r.Name)+1+src)
	}
	stW := 0
	for _, r := range m.runs {
		stW = max(stW, lenRunes(m.runStateOf(r)))
	}
	for _, r := range m.runs {
		need = max(need, 2+2+lenRunes(r.Name)+1+stW)
	}
	need++ // a cell before the border
	if need > lw {
		lw = max(lw, min(need, w-2-20))
	}
	return lw
}

func lastPathElem(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// runStateOf is a listed run's state, the live one's from its events.
func (m *Model) runStateOf(r runInfo) string {
	if m.liveData != nil && absPath(r.Dir) == absPath(m.liveData.Dir) {
		return m.liveData.displayState()
	}
	return r.State
}

// showHome shows the home view, with the recipe under its cursor as its
// file says now.
func (m *Model) showHome() {
	m.mode = modeHome
	m.refreshRecipe()
}

// refreshRecipe lists the recipe files again when the directory changed
// (refreshRecipeFiles), then reads the recipe file under the home cursor
// again when its size or modification time changed since it was read, so
// that fixing a file that did not parse (or editing one that did) is enough
// to launch what it now says. It costs two stats; it is called when the
// cursor moves, on a key in the home view, when the view is shown and at
// each scan of the runs (every 2 s while the home view is shown),
// never per frame and never while the dashboard is.
func (m *Model) refreshRecipe() {
	m.refreshRecipeFiles()
	if m.homeCursor >= len(m.recipes) || !m.recipes[m.homeCursor].File {
		return
	}
	e := &m.recipes[m.homeCursor]
	fi, err := os.Stat(e.Path)
	if err == nil && fi.Size() == e.Size && fi.ModTime().Equal(e.ModTime) {
		return
	}
	if n, ok := readRecipeFile(e.Path); ok {
		*e = n
		return
	}
	// gone or unreadable: nothing to launch until it is back
	if err == nil {
		err = fmt.Errorf("read %s: cannot read the file", e.Path)
	}
	e.Recipe, e.Err, e.Size, e.ModTime = nil, err, 0, time.Time{}
}

// refreshRecipeFiles lists the *.yaml files of the recipe directory again
// when its modification time says a file was created, deleted or renamed
// there, so that a new file shows without a restart and a deleted one goes;
// the files listed before are kept as they were read (refreshRecipe reads the
// one under the cursor again when it changes), and the cursor stays on the
// recipe or the run it was on.
func (m *Model) refreshRecipeFiles() {
	dir := m.opts.RecipeDir
	if !m.recipeDir.changed(dir) {
		return
	}
	m.recipeDir = stampRecipeDir(dir)
	n := slices.IndexFunc(m.recipes, func(e recipeEntry) bool { return e.File })
	if n < 0 {
		n = len(m.recipes)
	}
	files := listRecipeFiles(dir, m.recipes[n:])
	onRecipe := m.homeCursor < len(m.recipes)
	var at string
	if onRecipe {
		at = m.recipes[m.homeCursor].Path
	}
	run := m.homeCursor - len(m.recipes)
	m.recipes = append(m.recipes[:n:n], files...)
	switch {
	case !onRecipe:
		m.homeCursor = len(m.recipes) + run
	case m.homeCursor >= n: // on a file: on it still, or where it was
		if i := slices.IndexFunc(m.recipes, func(e recipeEntry) bool { return e.Path == at }); i >= 0 {
			m.homeCursor = i
		} else {
			m.homeCursor = min(m.homeCursor, max(len(m.recipes)-1, 0))
		}
	}
}

func (m *Model) homeDetails(w, h int) []string {
	t := m.theme
	var lines []string
	wrap := func(s string) {
		for _, l := range strings.Split(lipgloss.NewStyle().Width(w).Render(s), "\n") {
			lines = append(lines, l)
		}
	}
	if m.homeCursor < len(m.recipes) {
		e := m.recipes[m.homeCursor]
		lines = append(lines, t.Heading.Render(e.Name), t.Subtle.Render(e.Path), "")
		if e.Path == m.startErrPath && m.startErr != "" {
			// first: on a short window the facts below give way
			lines = append(lines, t.Error.Render("could not start:"))
			for _, l := range strings.Split(m.startErr, "\n") {
				for _, wl := range wrapText(l, w) {
					lines = append(lines, t.Error.Render(wl))
				}
			}
			lines = append(lines, "")
		}
		if e.Err != nil {
			// what is wrong and what to do, not a launch: there is
			// nothing to launch (until the file changes: refreshRecipe)
			lines = append(lines, t.Error.Render("does not parse:"))
			for _, l := range recipeFacts(&e) {
				for _, wl := range wrapText(l, w) {
					lines = append(lines, t.Error.Render(wl))
				}
			}
			fix := "fix " + e.Path + ", then launch it (it is read again)"
			if !e.File {
				fix = "a shipped recipe that does not parse is a bug in this build of olmolab: please report it"
			}
			lines = append(lines, "")
			for _, wl := range wrapText(fix, w) {
				lines = append(lines, t.Subtle.Render(wl))
			}
			return lines
		}
		for _, f := range recipeFacts(&e) {
			wrap(f)
		}
		lines = append(lines, "", t.Subtle.Render("enter: launch (with --set overrides)"))
		return lines
	}
	i := m.homeCursor - len(m.recipes)
	if i < 0 || i >= len(m.runs) {
		return nil
	}
	r := m.runs[i]
	st := m.runStateOf(r)
	lines = append(lines, t.Heading.Render(truncate(r.Name, w)), t.Subtle.Render(truncate(r.Dir, w)), "",
		t.Subtle.Render("state  ")+t.State(st).Render(stateGlyph(st)+" "+st),
		t.Subtle.Render("recipe ")+t.Text.Render(r.Recipe))
	if r.Fork != nil {
		wrap(t.Subtle.Render("forked ") + t.Text.Render("from "+lab.ForkLine(*r.Fork)))
	}
	// wrapped, not cut: on a narrow window the last loss went
	wrap(t.Subtle.Render("steps  ") + t.Text.Render(fmt.Sprintf("%d (%s tokens)", r.Steps, lab.HumanCount(r.Tokens))))
	wrap(t.Subtle.Render("loss   ") + t.Text.Render(fmt.Sprintf("best %s · last %s", fmtLoss(r.BestLoss), fmtLoss(r.LastLoss))))
	if r.lockMode == "headless" {
		lines = append(lines, t.Running.Render("training headless; open it to follow, t takes it over"))
	}
	for _, s := range r.Soups {
		lines = append(lines, t.Soup.Render(s.Name+": "+plural.N(len(s.Ingredients), "ingredient")))
	}
	lines = append(lines, "", t.Subtle.Render("enter: open its dashboard"))
	return lines
}
