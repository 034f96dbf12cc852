package tui

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/tui/theme"
)

// the dashboard's charts, in focus order
const (
	chartLoss = iota
	chartGrad
	chartLR
)

var chartNames = [3]string{"loss", "grad norm", "lr"}

func (m *Model) viewDashboard(w, h int) []string {
	t := m.theme
	d := m.cur
	if d == nil {
		return []string{"", t.Subtle.Render("  No run is open. Press n to launch a recipe or 2 to pick a run.")}
	}
	out := m.statusLines(d, w)
	fixed := len(out) + 2 // mix and eval lines
	avail := h - fixed
	lossH := max(avail*58/100, 6)
	if len(d.SpikeSteps) > 0 {
		// the spikes line takes its row from the grad norm and LR charts:
		// the loss chart's legend needs its rows at 60×24
		avail--
	}
	smallH := avail - lossH
	if smallH < 5 { // no room for the grad norm and LR charts: the loss chart takes their lines
		lossH, smallH = max(avail, lossH), 0
	}
	out = append(out, m.chartBlock(d, chartLoss, w, lossH)...)
	if smallH >= 5 {
		lw := w / 2
		left := m.chartBlock(d, chartGrad, lw, smallH)
		right := m.chartBlock(d, chartLR, w-lw, smallH)
		for i := range left {
			out = append(out, left[i]+right[i])
		}
	}
	if len(d.SpikeSteps) > 0 {
		out = append(out, m.spikesLine(d, w))
	}
	out = append(out, m.mixLine(d, w), m.evalLine(d, w))
	return out
}

// statusLines answer "is it healthy?": progress, loss and grad norm with their
// z-scores, LR and phase, throughput, MFU, ETA and the spike score.
func (m *Model) statusLines(d *runData, w int) []string {
	t := m.theme
	e := d.Last
	sep := t.Border.Render(" │ ")
	lbl := t.Subtle.Render
	val := t.Text.Render
	zst := func(z float64) lipgloss.Style {
		if math.Abs(z) >= 4 {
			return t.Spike
		}
		return t.Subtle
	}
	steps := fmt.Sprint(e.Step)
	if ts := d.totalSteps(); ts > 0 {
		steps += "/" + fmt.Sprint(ts)
	}
	pct := ""
	if d.TotalTokens > 0 {
		pct = fmt.Sprintf(" %.0f%%", min(100, 100*float64(e.Tokens)/float64(d.TotalTokens)))
	}
	l1 := []string{lbl("step ") + val(steps), lbl("tok ") + val(lab.HumanCount(e.Tokens)+"/"+lab.HumanCount(d.TotalTokens)) + lbl(pct),
		lbl("loss ") + val(fmtY(e.Loss)) + " " + zst(e.LossZ).Render(fmtZ(e.LossZ)),
		lbl("grad ") + val(fmtY(e.GradNorm)) + " " + zst(e.GradZ).Render(fmtZ(e.GradZ))}
	phase, lr, state := d.Phase, e.LR, "running"
	switch {
	case d.LastIng.Type == lab.EvStep || d.endedWithSoup || phase == "soup": // an ingredient's "soup i/k", the soup
		state = "soup"
	case phase == "anneal":
		state = "annealing"
	}
	if d.LastIng.Type == lab.EvStep {
		// the LR beside "soup 2/3" is that ingredient's, annealing to 0,
		// not the run's from before the soup
		phase, lr = d.LastIng.Phase, d.LastIng.LR
	}
	if d.endedWithSoup {
		// the run ended with the recipe's soup, whose anneals ended at LR
		// 0: not the LR of its last stage-1 step
		phase, lr = "soup", 0
	}
	eta := "–"
	if left, ok := d.eta(); ok {
		eta = lab.HumanDuration(left)
	}
	// An ended run shows its own training figures, as its summary gives
	// them: the smoothed rate of its last steps was its soup's last
	// ingredient's (3,416 tok/s and 3.3% where the run trained at several
	// times that).
	rate := d.tokensPerSec()
	mfu := "–"
	if s := d.Summary; d.Ended && s != nil && s.TokensPerSec > 0 {
		rate = s.TokensPerSec
		if s.MFU > 0 {
			mfu = fmtPct(s.MFU)
		}
	} else {
		if d.Ended {
			rate = d.ownTps.TokensPerSec()
		}
		if e.MFU > 0 {
			// MFU is tokens/s × FLOPs per token / peak, a fixed ratio per run:
			// shown for the smoothed tokens/s beside it, not for the last step
			// alone, which one slow or fast step swings (5% next to 8.5K tok/s,
			// 58% next to 13K)
			x := e.MFU
			if rate > 0 && e.TokensPerSec > 0 && !math.IsInf(e.TokensPerSec, 0) {
				x = e.MFU * rate / e.TokensPerSec
			}
			mfu = fmtPct(x)
		}
	}
	spike := "–"
	if s := e.SpikeScore; s != nil {
		spike = fmt.Sprintf("%.2g%%/%.2g%%", s.Loss, s.GradNorm)
	}
	spikeSt := t.Text
	if n := len(d.SpikeSteps); n > 0 {
		// steps, as the spikes line counts them: a step flagged in loss
		// and grad norm is one
		spike += fmt.Sprintf(" (%d▲)", n)
		spikeSt = t.Spike
	}
	// paused, the throughput, MFU and ETA of the last steps would say it trains
	tps := val(lab.HumanCount(int64(rate))) + lbl(" tok/s")
	if d.State == "paused" && !d.Ended {
		tps = t.State("paused").Render("paused")
		mfu = "–"
	}
	l2 := []string{lbl("lr ") + val(fmtY(lr)) + " " + t.State(state).Render(phase), tps,
		lbl("MFU ") + val(mfu), lbl("ETA ") + val(eta), lbl("spike ") + spikeSt.Render(spike)}
	var last string // cut where it has no room, never given a line of its own
	// Between steps the lab announces an evaluation or a checkpoint and
	// reports it when done: say what it is busy with, and for how long. It
	// goes last, so that on a narrow terminal it is what gets cut, not the
	// figures (the message line below says it too).
	active := !d.Ended && (d.State == "running" || d.State == "headless")
	if active && d.Busy != "" {
		busy := d.Busy + "…"
		if since := m.opts.Now().Sub(d.BusySince); since >= time.Second && !d.BusySince.IsZero() {
			busy += " " + lab.HumanDuration(since)
		}
		last = t.Accent.Render(busy)
	}
	// otherwise say how long a live run has been quiet, so a stall is not
	// mistaken for a hang
	if d == m.liveData && active && d.Busy == "" && !d.lastTime.IsZero() {
		if quiet := m.opts.Now().Sub(d.lastTime); quiet > 5*time.Second {
			last = t.Warning.Render("no step for " + lab.HumanDuration(quiet))
		}
	}
	lines := flowStatus(l1, l2, sep, w)
	if last != "" {
		lines[len(lines)-1] += sep + last
	}
	for i := range lines {
		lines[i] = padRight(lines[i], w)
	}
	return lines
}

// flowStatus lays out the status's two groups of fields, each on a line of
// its own where it fits in w cells. Where the first does not (at 60 columns),
// what has no room goes to the start of the next line, and the second group
// follows it there, flowing on to a third line: cut at the width, the first
// line lost the grad norm, which no chart shows at 60×16.
func flowStatus(first, second []string, sep string, w int) []string {
	var lines []string
	cur := ""
	add := func(f string) {
		switch {
		case cur == "":
			cur = " " + f
		case lipgloss.Width(cur+sep+f) <= w:
			cur += sep + f
		default:
			lines = append(lines, cur)
			cur = " " + f
		}
	}
	for _, f := range first {
		add(f)
	}
	if len(lines) == 0 { // the first group fits: the second starts a line
		lines, cur = append(lines, cur), ""
	}
	for _, f := range second {
		add(f)
	}
	return append(lines, cur)
}

// chartBlock is a titled chart of h lines: title, plot, marker row, x axis.
func (m *Model) chartBlock(d *runData, which, w, h int) []string {
	t := m.theme
	rows := h - 3
	title := chartNames[which]
	var notes []string
	if which != chartLR {
		if m.smoothOn {
			notes = append(notes, fmt.Sprintf("EMA %.2f", smoothLevels[m.smoothIdx]))
		} else {
			notes = append(notes, "raw")
		}
	}
	if m.logY[which] {
		notes = append(notes, "log")
	}
	if m.clipY[which] {
		notes = append(notes, "clip")
	}
	tst := t.Heading
	if m.focus == which {
		tst = t.Accent
		title = "▸ " + title
	} else {
		title = "  " + title
	}
	head := tst.Render(title) + " " + t.Subtle.Render(strings.Join(notes, " · "))
	var below []string
	if which == chartLoss {
		// the legend goes on the title line when it fits there, else on its
		// own lines under it while the plot keeps 4 rows, else it is left out
		if lg, ok := m.markerLegend(w - lipgloss.Width(head) - 3); ok {
			head += strings.Repeat(" ", w-lipgloss.Width(head)-lipgloss.Width(lg)-1) + lg
		} else if lines := m.markerLegendLines(w - 2); rows-len(lines) >= 4 {
			for _, l := range lines {
				below = append(below, "  "+l)
			}
			rows -= len(lines)
		}
	}
	lines := []string{padRight(head, w)}
	for _, l := range below {
		lines = append(lines, padRight(l, w))
	}
	return append(lines, m.cachedPlot(d, which, w, rows)...)
}

// legendItem is one marker of the loss chart's legend, with a shorter label
// for a narrow terminal.
type legendItem struct {
	glyph       string
	style       func(*theme.Theme) lipgloss.Style
	long, short string
}

// markerLegend lists every marker docs/tui.md describes.
var markerLegend = []legendItem{
	{"▲", func(t *theme.Theme) lipgloss.Style { return t.Spike }, "spike", "spike"},
	{"✗", func(t *theme.Theme) lipgloss.Style { return t.Error }, "skipped", "skip"},
	{"E", func(t *theme.Theme) lipgloss.Style { return t.Subtle }, "eval", "eval"},
	{"┊A", func(t *theme.Theme) lipgloss.Style { return t.Marker }, "anneal", "anneal"},
	{"M", func(t *theme.Theme) lipgloss.Style { return t.Marker }, "mix", "mix"},
	{"S", func(t *theme.Theme) lipgloss.Style { return t.Marker }, "soup", "soup"},
	{"P/R", func(t *theme.Theme) lipgloss.Style { return t.Marker }, "pause/resume", "pause/resume"},
}

// legendItems renders the legend's items, with the long or short labels.
func (m *Model) legendItems(short bool) []string {
	var out []string
	for _, it := range markerLegend {
		l := it.long
		if short {
			l = it.short
		}
		out = append(out, it.style(m.theme).Render(it.glyph)+m.theme.Subtle.Render(" "+l))
	}
	return out
}

// markerLegend is the legend on one line of at most w cells: spaced out, or
// tighter, or with shorter labels; false when none fits.
func (m *Model) markerLegend(w int) (string, bool) {
	for _, f := range []struct {
		short bool
		sep   string
	}{{false, "  "}, {false, " "}, {true, " "}} {
		if lg := strings.Join(m.legendItems(f.short), f.sep); lipgloss.Width(lg) <= w {
			return lg, true
		}
	}
	return "", false
}

// markerLegendLines is the legend broken into lines of at most w cells.
func (m *Model) markerLegendLines(w int) []string {
	var lines []string
	line := ""
	for _, it := range m.legendItems(true) {
		switch {
		case line == "":
			line = it
		case lipgloss.Width(line)+1+lipgloss.Width(it) <= w:
			line += " " + it
		default:
			lines = append(lines, line)
			line = it
		}
	}
	return append(lines, line)
}

// cachedPlot redraws a chart only when its data, size or settings changed:
// View runs after every message (keys, the clock), not only new steps.
func (m *Model) cachedPlot(d *runData, which, w, rows int) []string {
	// what the chart shows, apart from the data's version
	k := fmt.Sprintf("%p|%d|%d|%d|%v|%v|%v|%v|%d|%p", d, which, w, rows, m.logY[which], m.clipY[which], m.byTokens, m.smoothOn, m.smoothIdx, m.theme)
	// The run's charts show one version of its data, redrawn together: each
	// on its own clock, right after a soup the loss chart's axis read 235.5K
	// and the grad norm's and LR's 232.4K.
	now := time.Now() // the wall clock: a test's fixed Now would never redraw
	f := m.plotFrames[d]
	if f.version != d.version && (d.Ended || now.Sub(f.at) >= plotEvery) {
		f = plotFrame{version: d.version, at: now}
	}
	p, ok := m.plots[k]
	if ok && p.version == f.version {
		m.plotFrames[d] = f
		return p.lines
	}
	// not drawn at this version (a new size or setting): it can only be drawn
	// from the data as they are now, and the others follow it
	if f.version != d.version {
		f = plotFrame{version: d.version, at: now}
	}
	m.plotFrames[d] = f
	if len(m.plots) > 64 {
		clear(m.plots)
		clear(m.plotFrames)
		m.plotFrames[d] = f
	}
	p = plotCache{version: d.version, lines: m.plotRun(d, which, w, rows)}
	m.plots[k] = p
	return p.lines
}

// plotFrame is the version of a run's data its charts show, and when they
// were last redrawn for newer data.
type plotFrame struct {
	version int
	at      time.Time
}

// plotEvery is how often a live chart is redrawn at most (once a second);
// the status line follows every redraw.
const plotEvery = time.Second

type plotCache struct {
	version int
	lines   []string
}

// plotRun draws one metric of a run: the raw series bucketed per column (min
// and max, faint), the smoothed series on top, soup ingredients in their own
// colours, spikes and phase changes marked.
func (m *Model) plotRun(d *runData, which, w, rows int) []string {
	t := m.theme
	pw := plotWidth(w)
	curves := append([]*curve{&d.Main}, d.Ingredients...)
	// The axis is the run's own extent. A side soup's ingredients train
	// past the step it started from, and the run then goes on from that
	// step: with them the axis ran to their end and the run's curve stopped
	// short of the right edge until it passed them; they are drawn as far
	// as the run has come. While a soup is made, and after the recipe's
	// soup that ends the run, the ingredients are where the run is.
	axis := curves
	if d.soupWentOn && !d.SoupRunning {
		axis = curves[:1]
	}
	x0, x1 := math.Inf(1), math.Inf(-1)
	for _, c := range axis {
		if a, b, ok := c.xRange(m.byTokens); ok {
			x0, x1 = math.Min(x0, a), math.Max(x1, b)
		}
	}
	ch := chart{width: w, rows: rows, logY: m.logY[which], clipY: m.clipY[which], axisStyle: t.Border, vlineStyle: t.Marker, labelStyle: t.Subtle,
		markerRow: true, emptyMessage: "waiting for the first step…"}
	if math.IsInf(x0, 1) {
		return ch.render()
	}
	// a marker past the last step drawn stays on the chart: the skipped
	// steps that ended a diverged run have no point in metrics.jsonl (their
	// loss or grad norm is not finite), only their events
	for _, mk := range d.Markers {
		x := float64(mk.Step)
		if m.byTokens {
			x = float64(mk.Tokens)
		}
		x1 = math.Max(x1, x)
	}
	smooth := m.smoothOn && which != chartLR
	alpha := smoothLevels[m.smoothIdx]
	for i, c := range curves {
		xs, ys := c.series(m.byTokens, which)
		lo, hi, last := bucketize(xs, ys, x0, x1, pw)
		if i == 0 {
			fillGaps(lo)
			fillGaps(hi)
			rawStyle := t.Faint
			if !smooth {
				rawStyle = t.Accent
			}
			dotted := t.NoColor && smooth
			ch.layers = append(ch.layers, chartLayer{values: lo, style: rawStyle, dotted: dotted}, chartLayer{values: hi, style: rawStyle, dotted: dotted})
			if smooth {
				_, _, sl := bucketize(xs, smoothEMA(ys, alpha), x0, x1, pw)
				fillGaps(sl)
				ch.layers = append(ch.layers, chartLayer{values: sl, style: t.Accent})
			}
			continue
		}
		v := last
		if smooth {
			_, _, v = bucketize(xs, smoothEMA(ys, alpha), x0, x1, pw)
		}
		fillGaps(v)
		ch.layers = append(ch.layers, chartLayer{values: v, style: t.Series(i)})
	}
	for _, mk := range d.Markers {
		x := float64(mk.Step)
		if m.byTokens {
			x = float64(mk.Tokens)
		}
		col := column(x, x0, x1, pw)
		switch {
		case mk.Kind.isPhase():
			ch.marks = append(ch.marks, chartMark{col: col, glyph: mk.Kind.glyph(), style: t.Marker, vline: true, prio: 2})
		case mk.Kind == markSkipped:
			ch.marks = append(ch.marks, chartMark{col: col, glyph: mk.Kind.glyph(), style: t.Error, prio: 4})
		case mk.Kind == markSpikeLoss && which == chartLoss, mk.Kind == markSpikeGrad && which == chartGrad:
			ch.marks = append(ch.marks, chartMark{col: col, glyph: mk.Kind.glyph(), style: t.Spike, prio: 3})
		case mk.Kind == markEval && which == chartLoss:
			ch.marks = append(ch.marks, chartMark{col: col, glyph: mk.Kind.glyph(), style: t.Subtle, prio: 1})
		}
	}
	unit := "steps"
	fx := func(x float64) string { return fmt.Sprintf("%.0f", x) }
	if m.byTokens {
		unit, fx = "tokens", shortCount
	}
	ch.xLeft, ch.xRight = fx(x0), fx(x1)+" "+unit
	return ch.render()
}

// mixLine draws the current mix as a bar of per-source shares.
func (m *Model) mixLine(d *runData, w int) string {
	t := m.theme
	mix := activeMix(d.Mix)
	if len(mix) == 0 {
		return ""
	}
	barW := min(max(w/4, 10), 30)
	fills := []string{"█", "▓", "▒", "░", "▚", "▞"}
	var bar strings.Builder
	used := 0
	var legend []string
	for i, s := range mix {
		n := int(math.Round(s.TargetRatio * float64(barW)))
		if i == len(mix)-1 {
			n = barW - used
		}
		n = max(min(n, barW-used), 0)
		used += n
		st := t.Series(theme.StableIndex(s.Name))
		bar.WriteString(st.Render(strings.Repeat(fills[i%len(fills)], n)))
		legend = append(legend, st.Render(fills[i%len(fills)])+" "+t.Text.Render(s.Name)+" "+t.Subtle.Render(fmtPct(s.TargetRatio)))
	}
	line := t.Subtle.Render(" mix ") + bar.String() + "  " + strings.Join(legend, "  ")
	return padRight(line, w)
}

// spikesLine lists the flagged steps, the latest first, each with the
// z-score of what was flagged ("@783 loss z+33.5 grad z+62.8"): the chart's ▲
// gives no step or size, and the message line only the last flag, which in a
// burst is the least. What does not fit is counted ("… 3 more"), naming the
// worst of those when it is among them.
func (m *Model) spikesLine(d *runData, w int) string {
	t := m.theme
	n := len(d.SpikeSteps)
	head := fmt.Sprintf(" spikes %d step", n)
	if n != 1 {
		head += "s"
	}
	entry := func(s spikeStep) string {
		e := fmt.Sprintf("@%d", s.Step)
		if s.LossZ != 0 {
			e += " loss " + fmtZ(s.LossZ)
		}
		if s.GradZ != 0 {
			e += " grad " + fmtZ(s.GradZ)
		}
		return e
	}
	// the worst flag of all: the tail names it when it is left off
	wi, worst, worstOf := -1, 0.0, ""
	for i, s := range d.SpikeSteps {
		if s.LossZ > worst {
			wi, worst, worstOf = i, s.LossZ, "loss"
		}
		if s.GradZ > worst {
			wi, worst, worstOf = i, s.GradZ, "grad"
		}
	}
	tail := func(shown int) string {
		rest := n - shown // the oldest rest steps are left off
		if rest == 0 {
			return ""
		}
		msg := fmt.Sprintf(" … %d more", rest)
		if shown == 0 { // none has room: the count in the head says it
			msg = ""
		}
		if wi >= 0 && wi < rest {
			msg += fmt.Sprintf(", worst @%d %s %s", d.SpikeSteps[wi].Step, worstOf, fmtZ(worst))
		}
		return msg
	}
	line, used := t.Spike.Render(head), lipgloss.Width(head)
	sep := " ▲ "
	shown := 0
	for i := n - 1; i >= 0; i-- {
		e := entry(d.SpikeSteps[i])
		if used+lipgloss.Width(sep+e)+lipgloss.Width(tail(shown+1)) > w {
			break
		}
		line += t.Spike.Render(sep) + t.Text.Render(e)
		used += lipgloss.Width(sep + e)
		shown++
		sep = " · "
	}
	if more := tail(shown); more != "" && used+lipgloss.Width(more) <= w {
		line += t.Faint.Render(more)
	}
	return padRight(line, w)
}

// evalLine shows the latest evaluation within w cells: the tasks' primary
// scores first, then the validation losses compactly ("val web_noisy 2.31
// qa 1.98", ce_loss per source); what does not fit is left off, and the
// line then ends with "…" and the key of the evaluation view, which has all.
func (m *Model) evalLine(d *runData, w int) string {
	t := m.theme
	if d.Eval == nil {
		why := "none yet"
		if d.Recipe != nil && !d.Recipe.Eval.Any() {
			why = "the recipe names no tasks (eval.tasks) and no validation loss (eval.val)"
			if m.hasEvals(d.Dir) {
				// olmolab eval --record scored it after the run: the
				// evaluation view shows those scores
				why = "none in training (no eval.tasks); scored after it: " + m.keys.Evals.Help().Key
			}
		}
		return padRight(t.Subtle.Render(" eval ")+t.Faint.Render(why), w)
	}
	split, scores := bySplit(d.Eval.Scores, scoreSplit)
	head := fmt.Sprintf(" eval @%d (%s%s) ", d.Eval.Step, d.Eval.Why, split)
	return m.scoresLine(head, scores, w, " … "+m.keys.Evals.Help().Key+" for all")
}

// scoresLine draws head and then scores within w cells: each task's primary
// score ("arith 0.200 · fact_qa_seen 0.310", higher is better) first, then
// the validation losses apart, under one "val" label ("val code 2.10 qa
// 1.70": ce_loss per source, lower is better), each group sorted by name.
// What does not fit is left off, and the line then ends with more.
func (m *Model) scoresLine(head string, scores []lab.EvalScore, w int, more string) string {
	t := m.theme
	// each entry as plain text (its width) and drawn; sep goes before it
	// when it is not the first
	type entry struct{ plain, drawn, sep, sepDrawn string }
	var tasks, vals []entry
	for _, s := range primaryScores(scores) {
		if src, ok := strings.CutPrefix(s.Task, lab.ValTaskPrefix); ok {
			e := entry{plain: src + " " + fmtValLoss(s.Value), drawn: t.Text.Render(src) + " " + t.Accent.Render(fmtValLoss(s.Value)), sep: " ", sepDrawn: " "}
			if len(vals) == 0 {
				e.plain, e.drawn = "val "+e.plain, t.Subtle.Render("val ")+e.drawn
				e.sep, e.sepDrawn = " · ", t.Border.Render(" · ")
			}
			vals = append(vals, e)
			continue
		}
		tasks = append(tasks, entry{plain: s.Task + " " + fmtScore(s.Value), drawn: t.Text.Render(s.Task) + " " + t.Accent.Render(fmtScore(s.Value)),
			sep: " · ", sepDrawn: t.Border.Render(" · ")})
	}
	all := append(tasks, vals...)
	total := lipgloss.Width(head)
	for i, e := range all {
		if i > 0 {
			total += lipgloss.Width(e.sep)
		}
		total += lipgloss.Width(e.plain)
	}
	reserve := 0 // room to say there is more
	if total > w {
		reserve = lipgloss.Width(more)
	}
	line, used := t.Subtle.Render(head), lipgloss.Width(head)
	for i, e := range all {
		sep, sepDrawn := e.sep, e.sepDrawn
		if i == 0 {
			sep, sepDrawn = "", ""
		}
		n := lipgloss.Width(sep + e.plain)
		if used+n+reserve > w {
			if used+lipgloss.Width(more) <= w {
				line += t.Faint.Render(more)
			}
			break
		}
		line += sepDrawn + e.drawn
		used += n
	}
	return padRight(line, w)
}

// fmtValLoss writes a validation loss (nats) in a few cells.
func fmtValLoss(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

// primaryScores keeps each task's primary metric (or its first, when none is
// flagged), sorted by task.
func primaryScores(scores []lab.EvalScore) []lab.EvalScore {
	by := map[string]lab.EvalScore{}
	var tasks []string
	for _, s := range scores {
		k := s.Task
		if s.Formulation != "" && s.Formulation != "rc" && s.Formulation != "lm" { // val/<source> is lm only
			k += ":" + s.Formulation
		}
		old, ok := by[k]
		if !ok {
			tasks = append(tasks, k)
		}
		if !ok || (s.Primary && !old.Primary) {
			s.Task = k
			by[k] = s
		}
	}
	sort.Strings(tasks)
	out := make([]lab.EvalScore, 0, len(tasks))
	for _, k := range tasks {
		out = append(out, by[k])
	}
	return out
}

// hasEvals says whether the runs directory's last scan found scores in the
// run at dir's evals.jsonl.
func (m *Model) hasEvals(dir string) bool {
	for _, r := range m.runs {
		if filepath.Clean(r.Dir) == filepath.Clean(dir) {
			return r.HasEvals
		}
	}
	return false
}
