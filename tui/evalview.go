package tui

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/olmolab/olmolab/lab/olmes"
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
		out = append(out, t.Heading.Render(" latest scores · "+e.Run), t.Faint.Render("  "+why))
	} else {
		out = append(out, t.Heading.Render(" latest scores · "+e.Run)+t.Subtle.Render(fmt.Sprintf("  step %d (%s)", e.Step, e.Why)))
		taskW := 18
		head := fmt.Sprintf("  %-*s %-4s", taskW, "task", "form")
		for _, mt := range e.Metrics {
			head += fmt.Sprintf(" %9s", metricShort[mt])
		}
		out = append(out, t.Subtle.Render(truncate(head, w)))
		for _, r := range e.Rows {
			line := t.Text.Render(fmt.Sprintf("  %-*s %-4s", taskW, truncate(r.Task, taskW), r.Form))
			for _, mt := range e.Metrics {
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
		lower := "bpb"
		if slices.Contains(e.Metrics, olmes.MetricCELoss) {
			lower = "bpb, ce (validation loss, val/…)"
		}
		out = append(out, t.Faint.Render("  * primary metric · "+lower+": lower is better"))
	}
	out = append(out, "")
	runs := strings.Join(e.SNRRuns, ", ")
	out = append(out, t.Heading.Render(" signal to noise")+t.Subtle.Render(truncate(fmt.Sprintf("  across %d runs: %s", len(e.SNRRuns), runs), w-17)))
	if e.SNR == nil {
		out = append(out, t.Faint.Render("  "+truncate(e.SNRMessage, w-2)))
		return out
	}
	out = append(out, t.Subtle.Render(truncate(fmt.Sprintf("  %-18s %-4s %-14s %8s %8s %8s %8s", "task", "form", "metric", "signal", "noise", "SNR", "avg SNR"), w)))
	room := h - len(out) - 1
	rows := e.SNR.Rows
	m.evalScroll = min(m.evalScroll, max(len(rows)-room, 0))
	for i := m.evalScroll; i < len(rows) && i < m.evalScroll+room; i++ {
		r := rows[i]
		st := t.Text
		if !math.IsNaN(r.SNR) && r.SNR < 1 {
			st = t.Warning // noise as large as the signal: this task cannot tell the runs apart
		}
		line := fmt.Sprintf("  %-18s %-4s %-14s %8s %8s %8s %8s", truncate(r.Task, 18), r.Formulation, truncate(r.Metric, 14),
			fnum(r.Signal, 4), fnum(r.Noise, 4), fnum(r.SNR, 2), fnum(r.AvgSNR, 2))
		out = append(out, padRight(st.Render(truncate(line, w)), w))
	}
	more := ""
	if len(rows) > room {
		more = fmt.Sprintf(" · rows %d–%d of %d (↑/↓)", m.evalScroll+1, min(m.evalScroll+room, len(rows)), len(rows))
	}
	out = append(out, t.Faint.Render(truncate("  "+e.SNR.Describe(), w-lenRunes(more)-1)+more))
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

func lenRunes(s string) int { return len([]rune(s)) }
