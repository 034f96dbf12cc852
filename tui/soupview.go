package tui

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/olmolab/olmolab/lab"
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

// soupCell is one figure of the soup details: an ingredient's or the soup's.
type soupCell struct {
	v  float64
	ok bool
}

// soupDetails shows a soup side by side with its ingredients: a column per
// ingredient (by its data-order seed) and one for the averaged soup; a row for
// the final training loss, then per task its primary score (higher is
// better), then per validation source its ce_loss (lower is better); the
// best of each row marked ◂ (a row whose figures all read alike has no
// mark), so whether the soup beat its ingredients reads at
// a glance. The runs view shows it in place of the overlay.
func (m *Model) soupDetails(s *soupInfo, w, h int) []string {
	t := m.theme
	rep := s.Report
	title := t.Heading.Render("  " + s.Name)
	if rep == nil {
		return []string{
			padRight(title+t.Subtle.Render(" · esc: back to the overlay"), w),
			padRight(t.Faint.Render(truncate(fmt.Sprintf("  being made: %s so far; the scores come when it is done",
				plural(len(s.Ingredients), "ingredient")), w)), w),
		}
	}
	title += t.Subtle.Render(truncate(fmt.Sprintf(" · %d×%s tokens from step %d · esc: back to the overlay",
		len(rep.Ingredients), lab.HumanCount(rep.Tokens), rep.FromStep), max(w-lenRunes(s.Name)-2, 0)))
	comps := append(append([]lab.SoupComponent{}, rep.Ingredients...), rep.Soup)
	heads := make([]string, len(comps))
	for i, c := range rep.Ingredients {
		heads[i] = fmt.Sprintf("ingr %d", i+1)
		if c.Seed != 0 {
			heads[i] = fmt.Sprintf("seed %d", c.Seed)
		}
	}
	heads[len(comps)-1] = "soup"

	// the rows: final loss, the tasks, the validation sources
	type row struct {
		label string
		lower bool
		cells []soupCell
		fmt   func(float64) string
	}
	rows := []row{{label: "final loss", lower: true, fmt: fmtLoss}}
	for _, c := range comps {
		rows[0].cells = append(rows[0].cells, soupCell{c.FinalLoss, c.FinalLoss != 0 && !math.IsNaN(c.FinalLoss)})
	}
	var tasks, vals []string
	seen := map[string]bool{}
	scores := make([]map[string]float64, len(comps)) // per component, task -> primary score
	for i, c := range comps {
		scores[i] = map[string]float64{}
		for _, sc := range primaryScores(c.Evals) {
			scores[i][sc.Task] = sc.Value
			switch {
			case seen[sc.Task]:
			case strings.HasPrefix(sc.Task, lab.ValTaskPrefix):
				vals = append(vals, sc.Task)
			default:
				tasks = append(tasks, sc.Task)
			}
			seen[sc.Task] = true
		}
	}
	slices.Sort(tasks)
	slices.Sort(vals)
	for i, task := range append(tasks, vals...) {
		r := row{label: task, lower: i >= len(tasks), fmt: fmtScore}
		if r.lower {
			r.fmt = fmtValLoss
		}
		for k := range comps {
			v, ok := scores[k][task]
			r.cells = append(r.cells, soupCell{v, ok})
		}
		rows = append(rows, r)
	}

	// the label column as wide as the longest label (24 at most); a column
	// of 10 cells per ingredient as many as fit, the soup's always
	labelW := 0
	for _, r := range rows {
		labelW = max(labelW, lenRunes(r.label))
	}
	labelW = min(labelW, 24)
	const colW = 10
	cols := make([]int, 0, len(comps))
	fit := max((w-2-labelW)/colW, 1)
	for i := range len(comps) - 1 {
		if i < fit-1 {
			cols = append(cols, i)
		}
	}
	cols = append(cols, len(comps)-1)
	left := len(comps) - len(cols)

	out := []string{padRight(title, w)}
	head := "  " + padRight("", labelW)
	for _, c := range cols {
		head += fmt.Sprintf("%*s ", colW-1, truncate(heads[c], colW-1))
	}
	out = append(out, padRight(t.Subtle.Render(head), w))
	room := h - len(out) - 1
	var missing []string // what the window has no room for
	if len(rows) > room {
		missing = append(missing, plural(len(rows)-room, "more row"))
		rows = rows[:max(room, 0)]
	}
	if left > 0 {
		missing = append(missing, plural(left, "more ingredient"))
	}
	foot := "  ◂ best of the row: the highest score, the lowest loss"
	if len(missing) > 0 {
		foot = "  … " + strings.Join(missing, " and ") + ": a larger window shows them"
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
			if cl := r.cells[c]; cl.ok {
				v = r.fmt(cl.v)
			}
			if marked[c] {
				line += t.Accent.Render(fmt.Sprintf("%*s", colW-1, v)) + t.Accent.Render("◂")
				continue
			}
			line += t.Text.Render(fmt.Sprintf("%*s", colW-1, v)) + mark
		}
		out = append(out, padRight(line, w))
	}
	return append(out, padRight(t.Faint.Render(truncate(foot, w)), w))
}
