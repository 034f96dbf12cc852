package tui

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/olmes"
	"github.com/olmolab/olmolab/lab/plural"
)

// openSoup is the soup whose details the runs view shows, as the last scan
// found it (nil when none is open or its run is gone).
func (m *Model) openSoup() *soupInfo {
	if m.soupOpen == "" {
		return nil
	}
	for _, r := range m.runRows() {
		if r.kind == rowSoup && r.soup.Dir == m.soupOpen {
			return r.soup
		}
	}
	return nil
}

// soupBase is the run's own evaluation that a soup is compared with: the
// latest at or before the soup's step (the "before soup" one when the recipe
// evaluates at anneals), the natural baseline: did the soup beat the
// checkpoint it started from?
type soupBase struct {
	Step   int64
	Why    string
	Values map[scoreKey]map[string]float64 // task (primaryScores' key) and split -> metric -> value
}

// scoreKey is what a row of the soup details is of: a task, as primaryScores
// keys it ("task" or "task:mc"), on an OLMES split ("" for built-in tasks and
// validation losses). The same task on two splits is two rows.
type scoreKey struct{ task, split string }

// loadSoupBase reads the run's evaluation for the details of the soup in dir
// (the run's directory two levels up), once: it is made before the soup, so
// it does not change; none found is read again, in case the file was still
// being written.
func (m *Model) loadSoupBase(dir string) tea.Cmd {
	if b, ok := m.soupBases[dir]; ok && b != nil {
		return nil
	}
	return func() tea.Msg {
		return soupBaseMsg{dir: dir, base: readSoupBase(filepath.Dir(filepath.Dir(dir)), int64(soupStep(dir)))}
	}
}

// readSoupBase streams the run's evals.jsonl (80 MB at MMLU scale) for its
// own latest evaluation at or before step: the records of the highest such
// step, the last evaluation made at it; soups and ingredients ("<run>/…")
// are not the run's. nil when there is none.
func readSoupBase(runDir string, step int64) *soupBase {
	lr, err := openLines(filepath.Join(runDir, lab.EvalsFile), 0)
	if err != nil {
		return nil
	}
	defer lr.close()
	var b *soupBase
	names := map[string]string{}
	for line := lr.next(); line != nil; line = lr.next() {
		var r olmes.EvalRecord
		// scores recorded after the run (olmolab eval --record) are not its own evaluation
		if olmes.DecodeEvalRecord(line, &r, names) != nil || r.Task == "" || strings.Contains(r.Run, "/") || int64(r.Step) > step || r.Recorded() {
			continue
		}
		switch {
		case b == nil || int64(r.Step) > b.Step || int64(r.Step) == b.Step && r.Why != b.Why:
			b = &soupBase{Step: int64(r.Step), Why: r.Why, Values: map[scoreKey]map[string]float64{}}
		case int64(r.Step) < b.Step:
			continue
		}
		k := scoreKey{r.Task, r.Split}
		if r.Formulation == olmes.MC {
			k.task += ":mc" // as primaryScores keys a task's formulations
		}
		if b.Values[k] == nil {
			b.Values[k] = map[string]float64{}
		}
		b.Values[k][r.Metric] = r.Value
	}
	return b
}

// escBack ends the soup details' title: how to get the overlay back.
const escBack = " · esc: back to the overlay"

// soupCell is one figure of the soup details: an ingredient's or the soup's.
// note, where there is no figure, says why (a dropped ingredient's loss
// cell: "diverged").
type soupCell struct {
	v    float64
	ok   bool
	note string
}

// soupDetails shows a soup side by side with its ingredients: a column per
// ingredient (by its data-order seed), one for the averaged soup and one for
// the run itself, its own evaluation at or before the soup's step ("run
// @90"; a line under the table says which, or that there is none); an
// ingredient dropped for diverging has its column too, its loss cell saying
// "diverged" and no scores; a row for
// the final training loss, then per task its primary score (higher is
// better), then per validation source its ce_loss (lower is better); the
// best of each row marked ◂ (a row whose figures all read alike has no
// mark), so whether the soup beat its ingredients reads at
// a glance. The runs view shows it in place of the overlay.
func (m *Model) soupDetails(s *soupInfo, w, h int) []string {
	t := m.theme
	rep := s.Report
	title := t.Heading.Render("  " + s.Name)
	m.soupEscShown = true
	if rep == nil {
		return []string{
			padRight(title+t.Subtle.Render(escBack), w),
			padRight(t.Faint.Render(truncate(fmt.Sprintf("  being made: %s so far; the scores come when it is done",
				plural.N(len(s.Ingredients), "ingredient")), w)), w),
		}
	}
	// every ingredient, the dropped ones too (a soup of 3 that dropped one
	// read as a soup of 2), in the order of the runs view's rows above;
	// then the soup
	ings := append(append([]lab.SoupComponent{}, rep.Ingredients...), rep.Dropped...)
	at := func(c lab.SoupComponent) int {
		if i := slices.Index(s.Ingredients, c.Name); i >= 0 {
			return i
		}
		return len(s.Ingredients) // not on disk: after those that are
	}
	slices.SortStableFunc(ings, func(a, b lab.SoupComponent) int { return cmp.Compare(at(a), at(b)) })
	comps := append(ings, rep.Soup)
	heads := make([]string, len(comps))
	for i, c := range ings {
		heads[i] = fmt.Sprintf("ingr %d", i+1)
		if c.Seed != 0 {
			heads[i] = fmt.Sprintf("seed %d", c.Seed)
		}
	}
	heads[len(comps)-1] = "soup"
	base, read := m.soupBases[s.Dir]
	baseLine := "  run: reading its evaluations…"
	switch {
	case base != nil:
		heads = append(heads, fmt.Sprintf("run @%d", base.Step))
		if base.Step == rep.FromStep {
			baseLine = fmt.Sprintf("  run @%d: the run's own evaluation (%s) at the step the soup started from", base.Step, base.Why)
		} else {
			baseLine = fmt.Sprintf("  run @%d: the run's own latest evaluation (%s) before the soup's step %d", base.Step, base.Why, rep.FromStep)
		}
	case read:
		baseLine = fmt.Sprintf("  run: no evaluation of its own at or before the soup's step %d", rep.FromStep)
	}

	// the rows: final loss, the tasks, the validation sources
	type row struct {
		label string
		lower bool
		cells []soupCell
		fmt   func(float64) string
	}
	rows := []row{{label: "final loss", lower: true, fmt: fmtLoss}}
	for _, c := range comps {
		cell := soupCell{v: c.FinalLoss, ok: c.FinalLoss != 0 && !math.IsNaN(c.FinalLoss)}
		if c.Diverged != nil {
			cell = soupCell{note: "diverged"}
		}
		rows[0].cells = append(rows[0].cells, cell)
	}
	if base != nil {
		rows[0].cells = append(rows[0].cells, soupCell{}) // an evaluation has no training loss
	}
	// a row per task and split: the ingredients', the soup's, and the
	// run's where it has a task of theirs on another split (its eval.split
	// changed); named as the evaluation view names them (bySplit)
	var tasks, vals []scoreKey
	seen := map[scoreKey]bool{}
	add := func(k scoreKey) {
		switch {
		case seen[k]:
		case strings.HasPrefix(k.task, lab.ValTaskPrefix):
			vals = append(vals, k)
		default:
			tasks = append(tasks, k)
		}
		seen[k] = true
	}
	scores := make([]map[scoreKey]float64, len(comps)) // per component, task and split -> primary score
	metric := map[string]string{}                      // task -> its primary metric, to read the run's
	for i, c := range comps {
		scores[i] = map[scoreKey]float64{}
		for _, sc := range primaryScores(c.Evals) {
			k := scoreKey{sc.Task, sc.Split}
			scores[i][k] = sc.Value
			metric[sc.Task] = sc.Metric
			add(k)
		}
	}
	if base != nil {
		for k := range base.Values {
			if metric[k.task] != "" { // a task of the soup's
				add(k)
			}
		}
	}
	byName := func(a, b scoreKey) int {
		return cmp.Or(strings.Compare(a.task, b.task), strings.Compare(a.split, b.split))
	}
	slices.SortFunc(tasks, byName)
	slices.SortFunc(vals, byName)
	keys := append(tasks, vals...)
	split, named := bySplit(keys, func(k *scoreKey) (string, *string) { return k.split, &k.task })
	for i, k := range keys {
		r := row{label: named[i].task, lower: i >= len(tasks), fmt: fmtScore}
		if r.lower {
			r.fmt = fmtValLoss
		}
		for c := range comps {
			v, ok := scores[c][k]
			r.cells = append(r.cells, soupCell{v: v, ok: ok})
		}
		if base != nil {
			v, ok := base.Values[k][metric[k.task]]
			r.cells = append(r.cells, soupCell{v: v, ok: ok})
		}
		rows = append(rows, r)
	}

	// the label column as wide as the longest label (24 at most); a column
	// of 10 cells (or its header's) per ingredient as many as fit, the
	// soup's and the run's always (the run's as wide as "run @12345" needs)
	labelW := 0
	for _, r := range rows {
		labelW = max(labelW, lenRunes(r.label))
	}
	labelW = min(labelW, 24)
	const colW = 10
	colWidth := make([]int, len(heads))
	for i := range colWidth {
		// an ingredient's header whole: "seed 42069" cut to "seed 420…"
		// is not its seed
		colWidth[i] = max(colW, lenRunes(heads[i])+1)
	}
	fixed := []int{len(comps) - 1}
	if base != nil {
		colWidth[len(comps)] = max(colW, lenRunes(heads[len(comps)])+2)
		fixed = append(fixed, len(comps))
	}
	room := w - 2 - labelW
	for _, c := range fixed {
		room -= colWidth[c]
	}
	cols := make([]int, 0, len(heads))
	for _, dropped := range []bool{false, true} { // short of room, the averaged ones first
		for i := range len(comps) - 1 {
			if (comps[i].Diverged != nil) == dropped && room >= colWidth[i] {
				cols = append(cols, i)
				room -= colWidth[i]
			}
		}
	}
	slices.Sort(cols)
	cols = append(cols, fixed...)
	left := len(heads) - len(cols)

	// the split the OLMES rows share, as the evaluation view's head says it
	if split != "" {
		split = " (" + strings.TrimPrefix(split, "; ") + ")"
	}
	sub := fmt.Sprintf(" · %d×%s tokens from step %d%s", len(rep.Ingredients), lab.HumanCount(rep.Tokens), rep.FromStep, split)
	// the title counts the dropped ingredients too, whose columns a narrow
	// window may leave out (the runs view's rows say where and why)
	if n := len(rep.Dropped); n > 0 {
		sub += fmt.Sprintf(" · %d of %d dropped (diverged)", n, n+len(rep.Ingredients))
	}
	if room := w - lenRunes(s.Name) - 2; lenRunes(sub+escBack) <= room {
		sub += escBack
	} else {
		m.soupEscShown = false // the help line says it (shortHelpLine)
	}
	title += t.Subtle.Render(truncate(sub, max(w-lenRunes(s.Name)-2, 0)))
	out := []string{padRight(title, w)}
	head := "  " + padRight("", labelW)
	for _, c := range cols {
		head += fmt.Sprintf("%*s ", colWidth[c]-1, truncate(heads[c], colWidth[c]-1))
	}
	out = append(out, padRight(t.Subtle.Render(head), w))
	room = h - len(out) - 1 // the foot
	// the line on the run's evaluation takes no row from the table: short
	// of room, the run's column says "run @90" alone, and that there is
	// none (or that it is being read) goes to the front of the foot
	var footNote string
	if len(rows) < room {
		room--
	} else {
		baseLine = ""
		switch {
		case base == nil && read:
			footNote = fmt.Sprintf("no run evaluation at or before step %d", rep.FromStep)
		case base == nil:
			footNote = "reading the run's evaluations…"
		}
	}
	var missing []string // what the window has no room for
	if len(rows) > room {
		missing = append(missing, plural.N(len(rows)-room, "more row"))
		rows = rows[:max(room, 0)]
	}
	if left > 0 {
		missing = append(missing, plural.N(left, "more ingredient"))
	}
	// what is left out first, then the note; else the note before the legend
	foot := "  ◂ best of the row: the highest score, the lowest loss"
	if footNote != "" {
		foot = "  " + footNote + " · ◂ best of the row: the highest score, the lowest loss"
	}
	if len(missing) > 0 {
		foot = "  … " + strings.Join(missing, " and ") + ": a larger window shows them"
		if footNote != "" {
			foot += " · " + footNote
		}
	}
	for _, r := range rows {
		// the best figure of the row, and every figure that reads the same
		// (ties at the shown precision); none when all of them read alike
		best, n := -1, 0
		for _, c := range cols {
			if cl := r.cells[c]; cl.ok {
				n++
				if best < 0 || (r.lower && cl.v < r.cells[best].v) || (!r.lower && cl.v > r.cells[best].v) {
					best = c
				}
			}
		}
		marked := map[int]bool{}
		for _, c := range cols {
			if cl := r.cells[c]; best >= 0 && cl.ok && r.fmt(cl.v) == r.fmt(r.cells[best].v) {
				marked[c] = true
			}
		}
		if len(marked) == n {
			marked = nil
		}
		line := "  " + t.Text.Render(padRight(truncate(r.label, labelW), labelW))
		for _, c := range cols {
			v, mark := "–", " "
			cl := r.cells[c]
			if cl.ok {
				v = r.fmt(cl.v)
			}
			if cl.note != "" {
				line += t.Error.Render(fmt.Sprintf("%*s", colWidth[c]-1, truncate(cl.note, colWidth[c]-1))) + mark
				continue
			}
			if marked[c] {
				line += t.Accent.Render(fmt.Sprintf("%*s", colWidth[c]-1, v)) + t.Accent.Render("◂")
				continue
			}
			line += t.Text.Render(fmt.Sprintf("%*s", colWidth[c]-1, v)) + mark
		}
		out = append(out, padRight(line, w))
	}
	if baseLine != "" {
		out = append(out, padRight(t.Subtle.Render(truncate(baseLine, w)), w))
	}
	return append(out, padRight(t.Faint.Render(truncate(foot, w)), w))
}
