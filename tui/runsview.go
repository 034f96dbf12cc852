package tui

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/olmolab/olmolab/lab"
)

type rowKind int

const (
	rowRun rowKind = iota
	rowSoup
	rowIngredient
	rowSoupAvg
)

// runRow is a line of the runs view: a run, or one of its soups with the
// ingredients grouped under it.
type runRow struct {
	kind     rowKind
	run      *runInfo
	soup     *soupInfo
	name     string
	curveDir string // directory whose metrics.jsonl the overlay draws ("" if none)
	loss     float64
	scores   []lab.EvalScore     // an ingredient's or the soup's evaluation
	dropped  *lab.SoupDivergence // an ingredient left out of the soup: where and why it diverged
	last     bool                // last child (└ instead of ├)
}

// key is what the row is of, the same from one scan to the next: its run's,
// soup's or ingredient's directory.
func (r runRow) key() string {
	switch r.kind {
	case rowRun:
		return r.run.Dir
	case rowSoup:
		return r.soup.Dir
	case rowSoupAvg:
		return filepath.Join(r.soup.Dir, "soup")
	}
	return r.curveDir
}

// runRows flattens the runs and their soups.
func (m *Model) runRows() []runRow {
	if m.rowsCache != nil {
		return m.rowsCache
	}
	var out []runRow
	for i := range m.runs {
		r := &m.runs[i]
		out = append(out, runRow{kind: rowRun, run: r, name: r.Name, curveDir: r.Dir, loss: r.LastLoss})
		for j := range r.Soups {
			s := &r.Soups[j]
			desc := s.Name
			if rep := s.Report; rep != nil {
				desc = fmt.Sprintf("%s: %d×%s from step %d", s.Name, len(rep.Ingredients), lab.HumanCount(rep.Tokens), rep.FromStep)
				if n := len(rep.Dropped); n > 0 {
					desc += fmt.Sprintf(" (%d of %d dropped)", n, n+len(rep.Ingredients))
				}
			}
			losses := map[string]float64{}
			evals := map[string][]lab.EvalScore{}
			dropped := map[string]*lab.SoupDivergence{} // soup.json's dropped: diverged, not in the soup
			if rep := s.Report; rep != nil {
				for _, c := range rep.Dropped {
					if c.Diverged != nil {
						dropped[c.Name] = c.Diverged
					}
				}
				var all []lab.EvalScore
				for _, c := range rep.Ingredients {
					losses[c.Name] = c.FinalLoss
					evals[c.Name] = c.Evals
					all = append(all, c.Evals...)
				}
				evals["soup"] = rep.Soup.Evals
				all = append(all, rep.Soup.Evals...)
				// the OLMES split, as the evaluation view names it: once
				// on the soup's line, or after each task where they differ
				if split, _ := bySplit(all, scoreSplit); split != "" {
					desc += " · " + strings.TrimPrefix(split, "; ")
				} else if slices.ContainsFunc(all, func(s lab.EvalScore) bool { return s.Split != "" }) {
					for k, e := range evals {
						evals[k] = withSplits(e, scoreSplit)
					}
				}
			}
			out = append(out, runRow{kind: rowSoup, run: r, soup: s, name: desc, loss: math.NaN(), last: j == len(r.Soups)-1})
			for k, ing := range s.Ingredients {
				l, ok := losses[ing]
				if !ok {
					l = math.NaN()
				}
				out = append(out, runRow{kind: rowIngredient, run: r, soup: s, name: ing, curveDir: filepath.Join(s.Dir, ing),
					loss: l, scores: evals[ing], dropped: dropped[ing], last: k == len(s.Ingredients)-1 && s.Report == nil})
			}
			if s.Report != nil {
				out = append(out, runRow{kind: rowSoupAvg, run: r, soup: s, name: soupAvgName, loss: math.NaN(), scores: evals["soup"], last: true})
			}
		}
	}
	m.rowsCache = out
	return out
}

// soupAvgName names a soup's own row under its ingredients.
const soupAvgName = "soup (uniform average)"

// viewRuns is the runs table (state, steps, best and last loss, soups under
// their run) over an overlay of the selected runs' loss curves.
func (m *Model) viewRuns(w, h int) []string {
	t := m.theme
	rows := m.runRows()
	tableH := max(min(len(rows)+1, h*45/100), 4)
	chartH := h - tableH
	// The run column is as wide as the longest name needs (32 at least), not
	// the whole width, so that on a wide terminal a run's state and losses
	// stay next to its name; at most what leaves room for the other columns.
	// An ingredient's or a soup's name column is as wide as the longest
	// (within the run column), so its scores get the rest of the line.
	subW := 0
	var subNames []string
	for _, r := range rows {
		if r.kind == rowIngredient || r.kind == rowSoupAvg {
			subW = max(subW, lenRunes(r.name))
			subNames = append(subNames, r.name)
		}
	}
	// the run column holds the state glyph and a space, then the name
	nameW := max(min(w-48, max(32, runNameWidth(m.runs, 0, w)+3, subW+6)), 16)
	head := t.Subtle.Render(fmt.Sprintf("    %-*s %-*s %7s %9s %9s", nameW, "run", stateW, "state", "steps", "best", "last"))
	subW = min(subW, nameW-6)
	subForm := ingredientForm(subNames, subW)
	out := []string{padRight(head, w)}
	start := listWindow(m.runsCursor, len(rows), tableH-1)
	for i := start; i < len(rows) && len(out) < tableH; i++ {
		r := rows[i]
		sel := "   "
		if r.curveDir != "" {
			sel = "[ ]"
			if m.selected[r.curveDir] {
				sel = "[" + t.RunStyle(r.curveDir).Render("■") + "]"
			}
		}
		cursor := " "
		if i == m.runsCursor {
			cursor = t.Accent.Render("›")
		}
		var line string
		switch r.kind {
		case rowRun:
			best, last := r.run.BestLoss, r.run.LastLoss
			if m.liveData != nil && absPath(r.run.Dir) == absPath(m.liveData.Dir) {
				best, last = m.liveData.Main.bestLoss(), m.liveData.Main.lastLoss()
			}
			steps, bestS, lastS := fmt.Sprint(r.run.Steps), fmtLoss(best), fmtLoss(last)
			if r.run.pending { // its metrics.jsonl is being read
				if r.run.Steps == 0 {
					steps = "…"
				}
				if math.IsNaN(best) {
					bestS, lastS = "…", "…"
				}
			}
			line = fmt.Sprintf("%s%s %s %7s %9s %9s", cursor, sel, m.runCells(*r.run, nameW-3, stateW), steps, bestS, lastS)
		case rowSoup:
			branch := "├"
			if r.last {
				branch = "└"
			}
			line = fmt.Sprintf("%s%s  %s %s", cursor, sel, t.Border.Render(branch), t.Soup.Render(truncate(r.name, w-10)))
		default:
			branch := "├"
			if r.last {
				branch = "└"
			}
			txt := padRight(ingredientLabel(r.name, subW, subForm), subW)
			if d := r.dropped; d != nil {
				// no loss, no scores: it diverged and the soup left it out
				line = fmt.Sprintf("%s%s    %s %s ", cursor, sel, t.Border.Render(branch), t.Text.Render(txt))
				why := fmt.Sprintf("dropped: diverged at step %d, %s", d.Step, d.Reason)
				line += t.Error.Render(truncate(why, max(w-lipgloss.Width(line)-1, 0)))
				break
			}
			final := fmt.Sprintf("final %s", fmtLoss(r.loss))
			line = fmt.Sprintf("%s%s    %s %s %s", cursor, sel, t.Border.Render(branch), t.Text.Render(txt), t.Subtle.Render(final))
			// the primary scores, tasks and validation losses apart
			if room := w - lipgloss.Width(line) - 1; room > 0 && len(r.scores) > 0 {
				line += " " + m.scoresLine("", r.scores, room, " …")
			}
		}
		out = append(out, padRight(line, w))
	}
	for len(out) < tableH {
		out = append(out, "")
	}
	if s := m.openSoup(); s != nil {
		return append(out, m.soupDetails(s, w, chartH)...)
	}
	return append(out, m.overlayChart(w, chartH)...)
}

// overlayDirs are the directories whose loss curves the overlay draws: the
// runs and ingredients selected, sorted; with none selected, the item under
// the cursor (a run, an ingredient, or a soup's ingredients on the soup's
// rows), so that the overlay shows something from the start. cursor says
// which.
func (m *Model) overlayDirs() (dirs []string, cursor bool) {
	for d := range m.selected {
		dirs = append(dirs, d)
	}
	if len(dirs) > 0 {
		sort.Strings(dirs)
		return dirs, false
	}
	rows := m.runRows()
	if m.runsCursor >= len(rows) {
		return nil, true
	}
	if r := rows[m.runsCursor]; r.curveDir != "" {
		return []string{r.curveDir}, true
	} else if r.soup != nil {
		for _, ing := range r.soup.Ingredients {
			dirs = append(dirs, filepath.Join(r.soup.Dir, ing))
		}
	}
	return dirs, true
}

// overlayChart draws the loss curves of overlayDirs, each in its own stable
// colour, on a shared x range.
func (m *Model) overlayChart(w, h int) (out []string) {
	t := m.theme
	keys, atCursor := m.overlayDirs()
	var curves []*curve
	var names []string
	for _, d := range keys {
		c := m.overlay[d]
		if m.liveData != nil && absPath(d) == absPath(m.liveData.Dir) {
			c = &m.liveData.Main
		}
		if c != nil && c.len() > 0 {
			curves = append(curves, c)
			names = append(names, d)
		}
	}
	// drawing reduces every curve, a million steps each for long runs: once
	// per change of the curves or the settings, not once per frame
	key := fmt.Sprint(w, h, m.byTokens, m.smoothOn, m.smoothIdx, m.logY[chartLoss], atCursor)
	for i, c := range curves {
		v := c.version
		if m.liveData != nil && c == &m.liveData.Main {
			v = m.liveData.version
		}
		key += fmt.Sprintf("|%s %d %d", names[i], v, c.len())
	}
	if m.overlayPlot.key == key {
		return m.overlayPlot.lines
	}
	defer func() { m.overlayPlot = overlayPlot{key: key, lines: out} }()
	rows := h - 3
	title := t.Heading.Render("  loss overlay ")
	var notes []string
	if len(curves) > 0 {
		notes = append(notes, "raw")
		if m.smoothOn {
			notes[0] = fmt.Sprintf("EMA %.2f", smoothLevels[m.smoothIdx])
		}
		if m.logY[chartLoss] {
			notes = append(notes, "log")
		}
	}
	empty := "no run selected"
	if atCursor {
		// what it shows until something is selected, and how to select
		notes = append(notes, "under the cursor (space selects)")
		empty = "no steps to draw under the cursor"
	}
	title += t.Subtle.Render(truncate("· "+strings.Join(notes, " · "), max(w-lenRunes("  loss overlay "), 0)))
	out = []string{padRight(title, w)}
	pw := plotWidth(w)
	x0, x1 := math.Inf(1), math.Inf(-1)
	for _, c := range curves {
		a, b, _ := c.xRange(m.byTokens)
		x0, x1 = math.Min(x0, a), math.Max(x1, b)
	}
	ch := chart{width: w, rows: max(rows-1, 2), logY: m.logY[chartLoss], axisStyle: t.Border, labelStyle: t.Subtle,
		emptyMessage: empty}
	for i, c := range curves {
		xs, ys := c.series(m.byTokens, chartLoss)
		if m.smoothOn {
			ys = smoothEMA(ys, smoothLevels[m.smoothIdx])
		}
		_, _, v := bucketize(xs, ys, x0, x1, pw)
		fillGaps(v)
		ch.layers = append(ch.layers, chartLayer{values: v, style: t.RunStyle(names[i])})
	}
	if len(curves) > 0 {
		fx, unit := func(x float64) string { return fmt.Sprintf("%.0f", x) }, "steps"
		if m.byTokens {
			fx, unit = shortCount, "tokens"
		}
		ch.xLeft, ch.xRight = fx(x0), fx(x1)+" "+unit
	}
	out = append(out, ch.render()...)
	var legend []string
	for i, l := range legendNames(names, m.opts.RunsDir) {
		legend = append(legend, t.RunStyle(names[i]).Render("■")+" "+t.Text.Render(l))
	}
	out = append(out, padRight(" "+strings.Join(legend, "  "), w))
	return out
}

// overlayPlot is the overlay chart last drawn and what it was drawn from.
type overlayPlot struct {
	key   string
	lines []string
}

// shortRunName names a curve by its path under the runs directory.
func shortRunName(dir, root string) string {
	if rel, err := filepath.Rel(root, dir); err == nil {
		return strings.ReplaceAll(rel, string(filepath.Separator)+"soups"+string(filepath.Separator), "/")
	}
	return filepath.Base(dir)
}

// legendNames names the overlay's curves (directories) for its legend:
// their paths under the runs directory less the leading part they all share,
// so that ingredients of one run's soups read "soup-221/ingredient-1-seed-8"
// and "soup-441/ingredient-1-seed-8" (the rows above name the run); with
// the run's name in each, at 80 columns the second was cut to "sidesoup-…".
func legendNames(dirs []string, root string) []string {
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = shortRunName(d, root)
	}
	if len(out) < 2 {
		return out
	}
	common := strings.SplitAfter(out[0], "/")
	for _, n := range out[1:] {
		parts := strings.SplitAfter(n, "/")
		k := 0
		for k < len(common) && k < len(parts)-1 && common[k] == parts[k] && strings.HasSuffix(parts[k], "/") {
			k++
		}
		common = common[:k]
	}
	cut := len(strings.Join(common, ""))
	for i := range out {
		out[i] = out[i][cut:]
	}
	return out
}

// ingredientLabel fits an ingredient's or the soup's row name into w cells
// by what tells it from its neighbours, in the shortest form (0, 1, 2) that
// all of a column take (ingredientForm): "ingredient-1-seed-11" becomes
// "#1 seed 11", then "#1 s11" (the soup's row above says they are
// ingredients); "soup (uniform average)" "soup (avg)", then "soup". Cut in
// the middle, the ingredients read "ingr…ed-11", their index lost and their
// seeds cut to the last digits. Other names are cut in the middle.
func ingredientLabel(name string, w, form int) string {
	forms := []string{name}
	var i, seed int
	if n, err := fmt.Sscanf(name, "ingredient-%d-seed-%d", &i, &seed); n == 2 && err == nil && name == fmt.Sprintf("ingredient-%d-seed-%d", i, seed) {
		forms = append(forms, fmt.Sprintf("#%d seed %d", i, seed), fmt.Sprintf("#%d s%d", i, seed))
	} else if name == soupAvgName {
		forms = append(forms, "soup (avg)", "soup")
	}
	if len(forms) == 1 {
		return truncateMiddle(name, w)
	}
	f := forms[min(form, len(forms)-1)]
	if lenRunes(f) > w {
		return truncate(forms[len(forms)-1], w) // the index first
	}
	return f
}

// ingredientForm is the longest form of ingredientLabel in which every
// name fits w cells (2, the shortest, where none does), so that a soup's
// ingredients read alike.
func ingredientForm(names []string, w int) int {
	for form := range 2 {
		fits := true
		for _, n := range names {
			fits = fits && lenRunes(ingredientLabel(n, 1<<20, form)) <= w
		}
		if fits {
			return form
		}
	}
	return 2
}
