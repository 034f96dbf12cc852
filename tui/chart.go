package tui

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/guptarohit/asciigraph"
)

// Charts are drawn in two steps. First every series is reduced to exactly one
// value per column (bucketize keeps the min, max and last of each column),
// because asciigraph's own Width option interpolates and would hide a
// one-step spike between two sample points. Then asciigraph rasterises each
// layer on plain text with shared bounds, and compose lays the layers on top
// of each other cell by cell, colouring each by its role and adding the
// phase-change lines and the marker row.

// smoothEMA is TensorBoard's debiased exponential moving average:
// s_t = α·s_{t-1} + (1−α)·y_t, reported as s_t / (1 − α^n) after n finite
// values, so the first values are not pulled towards zero. NaN stays NaN and
// does not advance the average.
func smoothEMA(ys []float64, alpha float64) []float64 {
	out := make([]float64, len(ys))
	var s, w float64
	for i, y := range ys {
		if math.IsNaN(y) || math.IsInf(y, 0) {
			out[i] = math.NaN()
			continue
		}
		s = alpha*s + (1-alpha)*y
		w = alpha*w + (1 - alpha)
		out[i] = s / w
	}
	return out
}

// bucketize maps points (xs ascending) onto width columns that split [x0, x1]
// evenly and returns each column's min, max and last finite value (NaN where a
// column holds none).
func bucketize(xs, ys []float64, x0, x1 float64, width int) (lo, hi, last []float64) {
	lo, hi, last = nanSlice(width), nanSlice(width), nanSlice(width)
	for i, x := range xs {
		y := ys[i]
		if math.IsNaN(y) || math.IsInf(y, 0) {
			continue
		}
		c := column(x, x0, x1, width)
		if c < 0 {
			continue
		}
		if math.IsNaN(lo[c]) || y < lo[c] {
			lo[c] = y
		}
		if math.IsNaN(hi[c]) || y > hi[c] {
			hi[c] = y
		}
		last[c] = y
	}
	return lo, hi, last
}

// column is the column of x on a width-column axis spanning [x0, x1], or -1
// outside it.
func column(x, x0, x1 float64, width int) int {
	if width <= 0 || x < x0 || x > x1 {
		return -1
	}
	if x1 <= x0 {
		return 0
	}
	c := int((x - x0) / (x1 - x0) * float64(width))
	return min(c, width-1)
}

func nanSlice(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}

// fillGaps joins columns left empty because the series has fewer points than
// the chart has columns: interior NaN runs become the straight line between
// their finite neighbours. Leading and trailing NaN stay (no data there).
func fillGaps(v []float64) {
	prev := -1
	for i, y := range v {
		if math.IsNaN(y) {
			continue
		}
		if prev >= 0 && i-prev > 1 {
			for j := prev + 1; j < i; j++ {
				f := float64(j-prev) / float64(i-prev)
				v[j] = v[prev] + f*(y-v[prev])
			}
		}
		prev = i
	}
}

// toLog10 maps values onto log10 for a log-Y chart; values ≤ 0 have no
// logarithm and become gaps.
func toLog10(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, y := range v {
		if y > 0 {
			out[i] = math.Log10(y)
		} else {
			out[i] = math.NaN()
		}
	}
	return out
}

// axisDigits picks the decimals of a chart's y labels, from lo down to hi
// over height steps as asciigraph places them (value maps a plotted value to
// the one labelled): -1, fmtY's own, where adjacent labels read differently,
// else the fewest decimals that tell them apart within the label's cells (a
// constant LR of 0.03 read 0.031 on four rows and 0.03 on three), else -1,
// the repeats then being blanked.
func axisDigits(value func(float64) float64, lo, hi float64, height int) int {
	if height < 1 || hi <= lo {
		return -1
	}
	distinct := func(f func(float64) string, fit bool) bool {
		prev := ""
		for i := 0; i <= height; i++ {
			s := f(value(hi - float64(i)*(hi-lo)/float64(height)))
			if s == prev || fit && len(s) > yLabelW {
				return false
			}
			prev = s
		}
		return true
	}
	if distinct(fmtY, false) {
		return -1
	}
	for d := 1; d <= yLabelW-2; d++ {
		if distinct(func(v float64) string { return strconv.FormatFloat(v, 'f', d, 64) }, true) {
			return d
		}
	}
	return -1
}

// clipTop is the top of a y range that leaves out the highest columns, as
// W&B's "ignore outliers" does: the 95th percentile of the columns' highest
// values over all layers, plus a tenth of the range above lo for room. A
// loss curve's first columns (7.6 where the run then trains at 1.2) and a
// spike's take the whole height otherwise, and the rest of the run lies on
// one or two rows at 80×24. Only the top is clipped: a loss's lowest values
// are its latest. false with under 20 columns, too few to call any outliers.
func clipTop(layers []chartLayer, lo float64) (float64, bool) {
	var tops []float64
	for x := 0; ; x++ {
		top, has, in := math.Inf(-1), false, false
		for _, l := range layers {
			if x < len(l.values) {
				in = true
				if y := l.values[x]; !math.IsNaN(y) && !math.IsInf(y, 0) {
					top, has = math.Max(top, y), true
				}
			}
		}
		if !in {
			break
		}
		if has {
			tops = append(tops, top)
		}
	}
	if len(tops) < 20 {
		return 0, false
	}
	sort.Float64s(tops)
	q := tops[int(0.95*float64(len(tops)-1))]
	return q + 0.1*(q-lo), true
}

// chartLayer is one series already reduced to one value per column.
type chartLayer struct {
	values []float64
	style  lipgloss.Style
	dotted bool // draw with '·' (raw series when colour cannot tell layers apart)
}

// chartMark is a glyph on the marker row under the plot, optionally with a
// dotted vertical line through the plot (phase changes).
type chartMark struct {
	col   int
	glyph string
	style lipgloss.Style
	vline bool
	prio  int // a higher priority wins a shared column
}

// chart is everything one plot needs; render draws it.
type chart struct {
	width, rows   int // total width; plot rows (the marker and axis rows come on top)
	layers        []chartLayer
	logY          bool
	clipY         bool // leave the highest columns out of the y range (clipTop)
	marks         []chartMark
	xLeft, xRight string // axis labels
	axisStyle     lipgloss.Style
	vlineStyle    lipgloss.Style
	labelStyle    lipgloss.Style
	markerRow     bool
	emptyMessage  string
}

// yLabelW is the width of a y label's value; a space before it and the axis
// line after it make the plot start at column yLabelW+2.
const yLabelW = 6

// plotWidth is how many data columns a chart of total width w has.
func plotWidth(w int) int { return max(w-yLabelW-2, 2) }

// render returns the chart's lines, each exactly c.width cells wide:
// c.rows plot rows, then the marker row (when markerRow) and the x-axis row.
func (c chart) render() []string {
	pw := plotWidth(c.width)
	var layers []chartLayer
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range c.layers {
		v := l.values
		if len(v) > pw {
			v = v[len(v)-pw:]
		}
		if c.logY {
			v = toLog10(v)
		}
		finite := false
		for _, y := range v {
			if !math.IsNaN(y) && !math.IsInf(y, 0) {
				finite = true
				lo, hi = math.Min(lo, y), math.Max(hi, y)
			}
		}
		if finite {
			layers = append(layers, chartLayer{values: v, style: l.style, dotted: l.dotted})
		}
	}
	out := make([]string, 0, c.rows+2)
	if len(layers) == 0 || c.rows < 2 {
		msg := c.emptyMessage
		for i := 0; i < c.rows; i++ {
			line := ""
			if i == c.rows/2 && msg != "" {
				line = strings.Repeat(" ", max(0, (c.width-lipgloss.Width(msg))/2)) + c.labelStyle.Render(msg)
			}
			out = append(out, padRight(line, c.width))
		}
		if c.markerRow {
			out = append(out, strings.Repeat(" ", c.width))
		}
		out = append(out, strings.Repeat(" ", c.width))
		return out
	}
	if c.clipY {
		if top, ok := clipTop(layers, lo); ok && top < hi {
			// the values above top are drawn on the top row: a column of
			// the early loss or a spike stays visible as a flat top
			hi = top
			for i, l := range layers {
				v := make([]float64, len(l.values))
				for j, y := range l.values {
					v[j] = math.Min(y, hi)
				}
				layers[i].values = v
			}
		}
	}
	if hi-lo < 1e-12*math.Max(1, math.Abs(hi)) {
		pad := math.Max(math.Abs(hi)*0.05, 1e-9)
		if c.logY {
			pad = 0.05
		}
		lo, hi = lo-pad, hi+pad
	}
	value := func(v float64) float64 {
		if c.logY {
			return math.Pow(10, v)
		} else if math.Abs(v) < 1e-9*(hi-lo) {
			return 0 // asciigraph's lo + i·step leaves a residue (-2e-19) where the axis crosses 0
		}
		return v
	}
	digits := axisDigits(value, lo, hi, c.rows-1)
	format := func(v float64) string {
		s := fmtY(value(v))
		if digits >= 0 {
			s = strconv.FormatFloat(value(v), 'f', digits, 64)
		}
		if len(s) > yLabelW {
			s = s[:yLabelW]
		}
		return strings.Repeat(" ", yLabelW-len(s)) + s
	}

	// rasterise every layer on the same bounds; asciigraph gives rows+1 lines
	// for Height(rows) up to rounding, so ask again when it misses
	var grids [][][]rune
	height := c.rows - 1
	for attempt := 0; attempt < 3; attempt++ {
		grids = grids[:0]
		n := -1
		for _, l := range layers {
			opts := []asciigraph.Option{asciigraph.Height(height), asciigraph.LowerBound(lo), asciigraph.UpperBound(hi),
				asciigraph.Offset(2), asciigraph.YAxisValueFormatter(format)}
			if l.dotted {
				opts = append(opts, asciigraph.SeriesChars(asciigraph.CreateCharSet("·")))
			}
			g := toGrid(asciigraph.Plot(l.values, opts...))
			n = len(g)
			grids = append(grids, g)
		}
		if n == c.rows {
			break
		}
		height += c.rows - n
		if height < 1 {
			height = 1
		}
	}
	axis := yLabelW + 1 // the column of '┤'
	rows := min(len(grids[0]), c.rows)
	cols := layoutMarks(c.marks, pw, c.labelStyle)
	// styles become escape-sequence pairs once per render, not per cell run
	label, axisP, vline := paintOf(c.labelStyle), paintOf(c.axisStyle), paintOf(c.vlineStyle)
	paints := make([]paint, len(layers))
	for i, l := range layers {
		paints[i] = paintOf(l.style)
	}
	prevLabel := ""
	for r := 0; r < rows; r++ {
		var b strings.Builder
		// a label that reads as the one above it says nothing and looks
		// like a flat axis (0.0029 on six rows of a slow LR decay): blank
		lbl := string(safeSlice(grids[len(grids)-1][r], 0, axis))
		if l := strings.TrimSpace(lbl); l != "" && l == prevLabel {
			lbl = strings.Repeat(" ", len([]rune(lbl)))
		} else {
			prevLabel = l
		}
		b.WriteString(label.on(lbl))
		ax := safeRune(grids[len(grids)-1][r], axis)
		if ax == '┼' {
			ax = '┤'
		}
		b.WriteString(axisP.on(string(ax)))
		// runs of cells with the same style are written together; every
		// cell is one column wide, so the line is exactly c.width cells
		var run strings.Builder
		var runPaint *paint
		flush := func() {
			if run.Len() > 0 {
				if runPaint == nil {
					b.WriteString(run.String())
				} else {
					b.WriteString(runPaint.on(run.String()))
				}
				run.Reset()
			}
		}
		for x := 0; x < pw; x++ {
			ch, p := ' ', (*paint)(nil)
			for i := len(grids) - 1; i >= 0; i-- {
				if g := safeRune(grids[i][r], axis+1+x); g != ' ' && g != 0 {
					ch, p = g, &paints[i]
					break
				}
			}
			if ch == ' ' {
				if mk, ok := cols[x]; ok && mk.vline {
					ch, p = '┊', &vline
				}
			}
			if p != runPaint {
				flush()
				runPaint = p
			}
			run.WriteRune(ch)
		}
		flush()
		if pad := c.width - (axis + 1 + pw); pad > 0 {
			b.WriteString(strings.Repeat(" ", pad))
		}
		out = append(out, b.String())
	}
	for len(out) < c.rows {
		out = append(out, strings.Repeat(" ", c.width))
	}
	if c.markerRow {
		var b strings.Builder
		b.WriteString(strings.Repeat(" ", axis+1))
		for x := 0; x < pw; x++ {
			if mk, ok := cols[x]; ok && mk.glyph != "" {
				b.WriteString(mk.style.Render(mk.glyph))
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(strings.Repeat(" ", max(c.width-(axis+1+pw), 0)))
		out = append(out, b.String())
	}
	// x axis: left label under the first column, right label under the last
	left, right := c.xLeft, c.xRight
	gap := pw - lipgloss.Width(left) - lipgloss.Width(right)
	xl := strings.Repeat(" ", axis+1) + left
	if gap > 0 {
		xl += strings.Repeat(" ", gap) + right
	}
	out = append(out, padRight(c.labelStyle.Render(xl), c.width))
	return out
}

// layoutMarks places the markers on the marker row's pw columns. Markers
// that fall on one column (a soup and a resume at the same step, an
// evaluation before an anneal, a pause and a resume close together) are all
// shown, in the order they came (marks is in time order), left to right: on
// the column and the free columns to its right, or, where those run out,
// to its left, so that the group ends on the column. A run of one glyph in a
// row (a burst of spikes, a diverging run's skipped steps) takes one place;
// a glyph that comes again later does not merge into it (paused, resumed,
// paused again reads "PRP", not "PR", which said the run went on). The phase
// line goes through the column itself when any of them is a phase change.
// The group's last column counts the markers that have no place of their
// own (a digit, + for more than 9): the rest of a run of one glyph ("▲2": a
// spike and 2 more), and where the free columns run out, the least
// important (the most important keep a place: a skipped step, then a spike,
// then a phase change, then an evaluation; among equals the earliest). A
// column with no free one beside it shows its most important marker alone.
// (Placed by importance, a pause and its resume at the right edge read
// "RP", the wrong way round.)
func layoutMarks(marks []chartMark, pw int, countStyle lipgloss.Style) map[int]chartMark {
	type placed struct {
		chartMark
		seq int // its index in marks: the time order
		n   int // how many came in a row with its glyph
	}
	groups := map[int][]placed{}
	total := map[int]int{} // markers per column
	var order []int
	for i, mk := range marks {
		if mk.col < 0 || mk.col >= pw {
			continue
		}
		g, ok := groups[mk.col]
		if !ok {
			order = append(order, mk.col)
		}
		total[mk.col]++
		if k := len(g) - 1; k >= 0 && g[k].glyph == mk.glyph {
			g[k].n++
			g[k].vline = g[k].vline || mk.vline
			continue
		}
		groups[mk.col] = append(g, placed{mk, i, 1})
	}
	sort.Ints(order)
	cols := make(map[int]chartMark, len(marks))
	for _, c := range order {
		g := groups[c]
		vline := false
		for _, mk := range g {
			vline = vline || mk.vline
		}
		// free columns beside it: no marker of their own, none placed yet
		free := func(x int) bool {
			_, anchored := groups[x]
			_, used := cols[x]
			return x >= 0 && x < pw && !anchored && !used
		}
		want := len(g)
		if total[c] > len(g) {
			want++ // and a count of the rest of a run
		}
		span := []int{c}
		for x := c + 1; len(span) < want && free(x); x++ {
			span = append(span, x)
		}
		for x := c - 1; len(span) < want && free(x); x-- {
			span = append(span, x)
		}
		sort.Ints(span)
		// which are shown: by importance, then time; a count for the rest
		shown := slices.Clone(g)
		if len(shown) > len(span) || len(shown) == len(span) && len(span) < want && len(span) > 1 {
			// no room for them all and the count: the least important
			// give their place to it (one column: the most important alone)
			sort.SliceStable(shown, func(i, j int) bool { return shown[i].prio > shown[j].prio })
			shown = shown[:max(len(span)-1, 1)]
		}
		count := 0
		if len(span) > len(shown) {
			count = total[c] - len(shown)
		}
		sort.Slice(shown, func(i, j int) bool { return shown[i].seq < shown[j].seq })
		for i, mk := range shown {
			mk.col, mk.vline = span[i], false
			cols[span[i]] = mk.chartMark
		}
		if count > 0 {
			x := span[len(span)-1]
			glyph := strconv.Itoa(count)
			if count > 9 {
				glyph = "+"
			}
			cols[x] = chartMark{col: x, glyph: glyph, style: countStyle}
		}
		top := cols[c]
		top.vline = vline
		cols[c] = top
	}
	return cols
}

// paint is a style as the escape sequences around a text: lipgloss's Render
// measures and lays out its text every call, too slow for a chart's cells.
type paint struct{ pre, post string }

func paintOf(st lipgloss.Style) paint {
	s := st.Render("\x00")
	i := strings.IndexByte(s, 0)
	if i < 0 {
		return paint{}
	}
	return paint{s[:i], s[i+1:]}
}

func (p paint) on(s string) string { return p.pre + s + p.post }

func toGrid(s string) [][]rune {
	lines := strings.Split(s, "\n")
	g := make([][]rune, len(lines))
	for i, l := range lines {
		g[i] = []rune(l)
	}
	return g
}

func safeRune(r []rune, i int) rune {
	if i < 0 || i >= len(r) {
		return ' '
	}
	return r[i]
}

func safeSlice(r []rune, a, b int) []rune {
	out := make([]rune, 0, b-a)
	for i := a; i < b; i++ {
		out = append(out, safeRune(r, i))
	}
	return out
}

// padRight pads or cuts a styled line to exactly w cells.
func padRight(s string, w int) string {
	n := lipgloss.Width(s)
	if n > w {
		return truncate(s, w)
	}
	return s + strings.Repeat(" ", w-n)
}
