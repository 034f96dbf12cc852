package tui

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/olmes"
	"github.com/olmolab/olmolab/lab/plural"
)

// viewEvals shows the latest scores of the open run per task and formulation,
// then the signal-to-noise table across runs, highest SNR first.
func (m *Model) viewEvals(w, h int) []string {
	t := m.theme
	var out []string
	e := m.evals
	if e == nil {
		return []string{"", t.Subtle.Render("  reading evaluations…")}
	}
	if e.Run == "" {
		out = append(out, t.Heading.Render(" latest scores")+t.Subtle.Render("  open a run (2, enter) to see its scores"))
	} else if len(e.Rows) == 0 {
		why := "no evaluations recorded yet"
		if len(e.Recorded) > 0 {
			// eval --record scored it after the run: "recorded yet" above
			// the table of those records contradicted it
			why = "none made while it trained; scored after the run below"
		}
		out = append(out, t.Heading.Render(" latest scores · "+e.Run), t.Faint.Render("  "+why))
		out = append(out, m.recordedTable(e, w)...)
	} else {
		split, rows := bySplit(e.Rows, func(r *evalRow) (string, *string) { return r.Split, &r.Task })
		head := fmt.Sprintf("  step %d (%s%s)", e.Step, e.Why, split)
		out = append(out, t.Heading.Render(" latest scores · "+e.Run)+t.Subtle.Render(head))
		// the tasks' scores (higher is better, but for bpb) and the
		// validation losses (lower is better) in tables of their own, each
		// with only its own columns: at 80 columns the tasks' six metric
		// columns would push the validation loss's ce out of sight
		var tasks, vals []evalRow
		for _, r := range rows {
			if strings.HasPrefix(r.Task, lab.ValTaskPrefix) {
				vals = append(vals, r)
			} else {
				tasks = append(tasks, r)
			}
		}
		tables := m.evalTable(tasks, e.Metrics, "task", w)
		// ce_loss, the validation loss's primary metric, first
		valMetrics := []string{olmes.MetricCELoss}
		for _, mt := range e.Metrics {
			if mt != olmes.MetricCELoss {
				valMetrics = append(valMetrics, mt)
			}
		}
		tables = append(tables, m.evalTable(vals, valMetrics, "validation loss", w)...)
		tables = append(tables, m.recordedTable(e, w)...)
		// on a short window the tables leave the signal-to-noise table its
		// heading, column header, three rows and note (at 60×16 it was
		// pushed off the screen): they lose their last lines instead, and
		// say how many
		if keep := h - len(out) - 1 - snrMinLines(e); len(tables)+1 > keep && len(tables) > 1 {
			k := max(keep-1, 1)
			tables = append(tables[:k:k], t.Faint.Render(truncate("  … "+plural.N(len(tables)-k, "more line")+": a taller window shows them", w)))
		} else {
			lower := "bpb"
			if len(vals) > 0 {
				lower = "bpb, ce (validation loss, val/…)"
			}
			tables = append(tables, t.Faint.Render("  * primary metric · "+lower+": lower is better"))
		}
		out = append(out, tables...)
	}
	out = append(out, "")
	runs := runsList(e.SNRRuns)
	across := plural.N(len(e.SNRRuns), "selected run")
	if e.SNRScope != "" {
		across = plural.N(len(e.SNRRuns), "run")
	}
	out = append(out, t.Heading.Render(" signal to noise")+t.Subtle.Render(truncate(fmt.Sprintf("  across %s: %s", across, runs), w-17)))
	if e.scopeLine() {
		// which runs these are when none are selected, and how to choose
		line := "  none selected, so " + e.SNRScope
		if len(e.SNRLeftOut) > 0 {
			line += " · left out, evaluated once (no noise): " + strings.Join(e.SNRLeftOut, ", ")
		}
		out = append(out, t.Faint.Render(truncate(line+" · to compare others select them: 2, space", w)))
	}
	if e.SNR == nil {
		// whole: what to do ends it ("select comparable runs…")
		for _, l := range wrapText("  "+e.SNRMessage, w) {
			out = append(out, t.Faint.Render(l))
		}
		return out
	}
	rows := e.SNR.Rows
	// the task and metric columns as wide as their longest names (the task
	// 18 at most), the metric's within what the figures leave: at 80
	// columns "logits_per_token_corr" fits beside "fact_qa_heldout", and a
	// metric is not cut to "bits_per_byte…", which is two metrics
	// a task the runs scored on several splits is a row per split, named
	// with it (olmes.SNRTable.TaskName), which may take a few more columns
	taskW, metricW := len("task"), len("metric")
	for _, r := range rows {
		taskW, metricW = max(taskW, lenRunes(e.SNR.TaskName(r))), max(metricW, lenRunes(r.Metric))
	}
	if len(e.SNR.MixedSplits) > 0 || len(e.SNR.MixedInstances) > 0 {
		taskW = min(taskW, 24)
	} else {
		taskW = min(taskW, 18)
	}
	// where signal and noise would push the SNRs off a narrow window (60
	// columns), the SNRs alone
	figures := 4
	if w-(2+taskW+1+4+1+4*9) < 14 {
		figures = 2
	}
	metricW = max(min(metricW, w-(2+taskW+1+4+1+figures*9)), 14)
	rowFmt := fmt.Sprintf("  %%-%ds %%-4s %%-%ds", taskW, metricW) + strings.Repeat(" %8s", figures)
	row := func(task, form, metric, signal, noise, snr, avg string) string {
		if figures == 2 {
			return fmt.Sprintf(rowFmt, task, form, metric, snr, avg)
		}
		return fmt.Sprintf(rowFmt, task, form, metric, signal, noise, snr, avg)
	}
	out = append(out, t.Subtle.Render(truncate(row("task", "form", "metric", "signal", "noise", "SNR", "avg SNR"), w)))
	unmeasured := 0
	for _, r := range rows {
		if r.LastN < 2 {
			unmeasured++
		}
	}
	splits := e.SNR.DescribeSplits() // which runs scored a task on which split
	room := h - len(out) - 1
	if unmeasured > 0 {
		room-- // the line that says why their noise is "–"
	}
	if splits != "" {
		room--
	}
	recorded := e.SNR.DescribeRecorded() // which tasks eval --record scored after the runs
	if recorded != "" {
		room--
	}
	partial := e.SNR.DescribePartial() // which tasks only some of the runs scored: no row
	if partial != "" {
		room--
	}
	settings := e.SNR.DescribeSettings() // which recorded tasks the runs scored with other settings
	if settings != "" {
		room--
	}
	m.evalScroll = min(m.evalScroll, max(len(rows)-room, 0))
	for i := m.evalScroll; i < len(rows) && i < m.evalScroll+room; i++ {
		r := rows[i]
		st := t.Text
		if !math.IsNaN(r.SNR) && r.SNR < 1 {
			st = t.Warning // noise as large as the signal: this task cannot tell the runs apart
		}
		noise, snr, avg := fnum(r.Noise, 4), fnum(r.SNR, 2), fnum(r.AvgSNR, 2)
		if r.LastN < 2 { // one checkpoint per run: no noise measured, not a noise of 0 and an SNR of inf
			noise, snr, avg, st = "–", "–", "–", t.Faint
		}
		line := row(truncate(e.SNR.TaskName(r), taskW), r.Formulation.String(), truncate(r.Metric, metricW), fnum(r.Signal, 4), noise, snr, avg)
		out = append(out, padRight(st.Render(truncate(line, w)), w))
	}
	more := ""
	if len(rows) > room {
		more = fmt.Sprintf(" · rows %d–%d of %d (↑/↓)", m.evalScroll+1, min(m.evalScroll+room, len(rows)), len(rows))
	}
	if unmeasured > 0 {
		out = append(out, t.Warning.Render(truncate(fmt.Sprintf("  – %d of %s: a run has one evaluation of them, so no noise to measure; select runs with more (2, space)",
			unmeasured, plural.N(len(rows), "row")), w)))
	}
	if splits != "" {
		out = append(out, t.Warning.Render(truncate("  "+splits, w)))
	}
	if recorded != "" {
		out = append(out, t.Faint.Render(truncate("  "+recorded, w)))
	}
	if partial != "" {
		out = append(out, t.Warning.Render(truncate("  "+partial, w)))
	}
	if settings != "" {
		out = append(out, t.Warning.Render(truncate("  "+settings, w)))
	}
	desc := e.SNR.Describe()
	if len(e.SNR.SoupFinals) > 0 { // as olmolab snr says under its table (olmes.SNRTable.DescribeFinals)
		desc = "final scores of " + strings.Join(e.SNR.SoupFinals, ", ") + ": the soup each ended with; " + desc
	}
	out = append(out, t.Faint.Render(truncate("  "+desc, w-lenRunes(more)-1)+more))
	return out
}

// recordedTable shows the scores olmolab eval --record made of the run's
// checkpoints after the run, each task's at its latest step, under a line
// that says so: they are not the run's own evaluation.
func (m *Model) recordedTable(e *evalData, w int) []string {
	if len(e.Recorded) == 0 {
		return nil
	}
	steps := fmt.Sprintf("step %d", e.RecordedSteps[1])
	if e.RecordedSteps[0] != e.RecordedSteps[1] {
		steps = fmt.Sprintf("steps %d to %d", e.RecordedSteps[0], e.RecordedSteps[1])
	}
	head := m.theme.Subtle.Render(truncate("  scored after the run (olmolab eval --record), each task at its latest checkpoint: "+steps, w))
	return append([]string{head}, m.evalTable(e.Recorded, e.RecordedMetrics, "task", w)...)
}

// runsList names the compared runs for the signal-to-noise heading: a
// prefix up to a '-' they all share once ("ablation_web-*: lr1e-3-seed1,
// lr3e-3-seed1"), so that at 80 columns the heading shows what tells a
// sweep's runs apart, not its prefix again and again.
func runsList(names []string) string {
	prefix := ""
	if len(names) >= 2 {
		for i, c := range names[0] {
			if c != '-' {
				continue
			}
			p := names[0][:i+1]
			if !slices.ContainsFunc(names, func(n string) bool { return !strings.HasPrefix(n, p) || len(n) == len(p) }) {
				prefix = p
			}
		}
	}
	if prefix == "" {
		return strings.Join(names, ", ")
	}
	rest := make([]string, len(names))
	for i, n := range names {
		rest[i] = strings.TrimPrefix(n, prefix)
	}
	return prefix + "*: " + strings.Join(rest, ", ")
}

// scopeLine says whether the signal-to-noise table has a line saying which
// runs it compares by default: a sweep, or every run with evaluations less
// some evaluated once. Every run, as ever, is said by the heading's list; on
// a short window a line of its own would take one of the latest scores'.
func (e *evalData) scopeLine() bool {
	return e.SNRScope != "" && (e.SNRScope != snrEveryRun || len(e.SNRLeftOut) > 0)
}

// snrMinLines is the least the signal-to-noise section needs under the
// latest scores: a blank line, its heading (and the default's scope), and its message or its column
// header, three rows (fewer if it has fewer), the note on unmeasured rows
// and the line that describes it.
func snrMinLines(e *evalData) int {
	scope := 0
	if e.scopeLine() {
		scope = 1 // the line that says which runs a default compares
	}
	if e.SNR == nil {
		return 3 + scope
	}
	n := 4 + scope + min(len(e.SNR.Rows), 3)
	if len(e.SNR.MixedSplits) > 0 {
		n++ // the line that says which runs scored a task on which split
	}
	if len(e.SNR.Recorded) > 0 {
		n++ // the line that says which tasks were scored after the runs
	}
	if len(e.SNR.Partial) > 0 {
		n++ // the line that says which tasks only some runs scored
	}
	if len(e.SNR.MixedSettings) > 0 {
		n++ // the line that says which tasks were recorded with other settings
	}
	for _, r := range e.SNR.Rows {
		if r.LastN < 2 {
			return n + 1
		}
	}
	return n
}

// evalTable draws rows under a header of the metric columns they have (of
// metrics, in that order); the primary metric is starred.
func (m *Model) evalTable(rows []evalRow, metrics []string, title string, w int) []string {
	if len(rows) == 0 {
		return nil
	}
	t := m.theme
	var cols []string
	for _, mt := range metrics {
		for _, r := range rows {
			if _, ok := r.Values[mt]; ok {
				cols = append(cols, mt)
				break
			}
		}
	}
	// an OLMES suite's name (core_9mcqa+mmlu::olmes) and "mc_or_rc" widen them
	taskW, formW := 18, 4
	for _, r := range rows {
		taskW, formW = max(taskW, min(len(r.Task), 24)), max(formW, len(r.Form))
	}
	head := fmt.Sprintf("  %-*s %-*s", taskW, title, formW, "form")
	for _, mt := range cols {
		head += fmt.Sprintf(" %9s", metricShort[mt])
	}
	out := []string{t.Subtle.Render(truncate(head, w))}
	for _, r := range rows {
		line := t.Text.Render(fmt.Sprintf("  %-*s %-*s", taskW, truncate(r.Task, taskW), formW, r.Form))
		for _, mt := range cols {
			v, ok := r.Values[mt]
			cell := "–"
			if ok {
				cell = fmt.Sprintf("%.3f", v)
			}
			if mt == r.Primary {
				line += " " + t.Accent.Render(fmt.Sprintf("%8s*", cell))
			} else {
				line += " " + t.Text.Render(fmt.Sprintf("%9s", cell))
			}
		}
		out = append(out, padRight(line, w))
	}
	return out
}

func fnum(x float64, prec int) string {
	switch {
	case math.IsNaN(x):
		return "–"
	case math.IsInf(x, 1):
		return "inf"
	}
	return fmt.Sprintf("%.*f", prec, x)
}

// bySplit is how a scores display names the OLMES benchmarks' split
// (eval.split, else OLMES's; built-in tasks have none): where the items that
// have one share it, head is "; S split" for the heading and items stay as
// they are; where they differ, each such item's task is named "task (S)", in
// a copy of items. of gives an item's split and its task to rename.
func bySplit[T any](items []T, of func(*T) (split string, task *string)) (head string, out []T) {
	var splits []string
	for i := range items {
		if s, _ := of(&items[i]); s != "" && !slices.Contains(splits, s) {
			splits = append(splits, s)
		}
	}
	switch len(splits) {
	case 0:
		return "", items
	case 1:
		return "; " + splits[0] + " split", items
	}
	return "", withSplits(items, of)
}

// withSplits is a copy of items with each task that has a split named
// "task (S)", as bySplit names them where they differ.
func withSplits[T any](items []T, of func(*T) (split string, task *string)) []T {
	out := slices.Clone(items)
	for i := range out {
		if s, task := of(&out[i]); s != "" {
			*task += " (" + s + ")"
		}
	}
	return out
}

// scoreSplit is bySplit's view of a lab.EvalScore.
func scoreSplit(s *lab.EvalScore) (string, *string) { return s.Split, &s.Task }

func lenRunes(s string) int { return len([]rune(s)) }
