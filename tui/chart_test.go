package tui

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/guptarohit/asciigraph"

	"github.com/olmolab/olmolab/lab"
)

func TestSmoothEMA(t *testing.T) {
	got := smoothEMA([]float64{4, 4, math.NaN(), 4}, 0.9)
	if got[0] != 4 || got[1] != 4 || !math.IsNaN(got[2]) || math.Abs(got[3]-4) > 1e-12 {
		t.Errorf("debiased EMA of a constant is %v, want 4s (NaN kept)", got)
	}
	// the first value is not pulled towards zero, later ones lag
	got = smoothEMA([]float64{10, 0, 0}, 0.5)
	if got[0] != 10 || math.Abs(got[1]-10.0/3) > 1e-12 {
		t.Errorf("smoothEMA = %v, want [10 3.333 …]", got)
	}
}

// TestBucketKeepsSpike: 10 000 steps on 70 columns keep a one-step spike in
// the max of its column, where asciigraph's own resizing loses it.
func TestBucketKeepsSpike(t *testing.T) {
	n := 10000
	xs, ys := make([]float64, n), make([]float64, n)
	for i := range ys {
		xs[i], ys[i] = float64(i), 3
	}
	ys[6173] = 9
	lo, hi, last := bucketize(xs, ys, 0, float64(n-1), 70)
	c := column(6173, 0, float64(n-1), 70)
	if hi[c] != 9 || lo[c] != 3 || last[c] != 3 {
		t.Fatalf("spike column %d: lo %v hi %v last %v", c, lo[c], hi[c], last[c])
	}
	// asciigraph's own Width interpolates 70 samples and misses it
	if resized := asciigraph.Plot(ys, asciigraph.Width(70), asciigraph.Height(5)); strings.Contains(resized, "9.00") {
		t.Fatal("asciigraph.Width kept the spike; this test no longer shows why we bucket")
	}
	ch := chart{width: 80, rows: 8, layers: []chartLayer{{values: lo}, {values: hi}}}
	out := ansi.Strip(strings.Join(ch.render(), "\n"))
	if !strings.Contains(out, "9.00") {
		t.Errorf("the chart's y range lost the spike:\n%s", out)
	}
	top := strings.Split(out, "\n")[0]
	if !strings.ContainsAny(top[strings.Index(top, "┤")+1:], "╭╮│") {
		t.Errorf("no line reaches the spike's row:\n%s", out)
	}
}

func TestFillGaps(t *testing.T) {
	v := []float64{math.NaN(), 1, math.NaN(), math.NaN(), 4, math.NaN()}
	fillGaps(v)
	if !math.IsNaN(v[0]) || v[2] != 2 || v[3] != 3 || !math.IsNaN(v[5]) {
		t.Errorf("fillGaps = %v", v)
	}
}

func TestChartShape(t *testing.T) {
	// every render is exactly rows + marker + axis lines of the given width,
	// for flat, tiny, log and empty series
	for _, tc := range []struct {
		name string
		v    []float64
		log  bool
	}{{"flat", []float64{2, 2, 2, 2}, false}, {"ramp", []float64{1, 2, 3, 4, 5}, false},
		{"log", []float64{1e-5, 1e-4, 1e-3}, true}, {"empty", []float64{math.NaN()}, false}, {"one", []float64{3}, false}} {
		for _, rows := range []int{2, 4, 9} {
			ch := chart{width: 40, rows: rows, layers: []chartLayer{{values: tc.v}}, logY: tc.log, markerRow: true,
				marks: []chartMark{{col: 1, glyph: "A", vline: true}}, xLeft: "0", xRight: "5 steps"}
			lines := ch.render()
			if len(lines) != rows+2 {
				t.Errorf("%s rows=%d: %d lines", tc.name, rows, len(lines))
			}
			for _, l := range lines {
				if lipgloss.Width(l) != 40 {
					t.Errorf("%s rows=%d: line %q is %d wide", tc.name, rows, ansi.Strip(l), lipgloss.Width(l))
				}
			}
		}
	}
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]int64{"400K": 400000, "0.4M": 400000, "1.3M": 1300000, "2048": 2048, "1e6": 1000000, " 2k ": 2000} {
		if got, err := parseCount(in); err != nil || got != want {
			t.Errorf("parseCount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-3K", "NaN"} {
		if _, err := parseCount(bad); err == nil {
			t.Errorf("parseCount(%q) accepted", bad)
		}
	}
}

func TestFmtY(t *testing.T) {
	// a grad norm of 0.997 read "1" beside a loss of "1.96", as if exact;
	// NaN reads as the en dash the status uses for "none" elsewhere; a
	// loss of 0.80 read "0.8" beside "0.79", an axis label "0.7" above "0.57"
	for in, want := range map[float64]string{0.003: "0.003", 0.00075: "7.5e-4", 3.4567: "3.46", 12345: "1.2e4", 0: "0", 150: "150", 0.25: "0.25",
		0.997: "1.00", 0.994: "0.99", -0.997: "-1.00", math.NaN(): "–", 0.8: "0.80", 0.7: "0.70", 0.1: "0.10", -0.5: "-0.50", 0.0996: "0.10",
		0.0994: "0.099", 0.057: "0.057"} {
		if got := fmtY(in); got != want {
			t.Errorf("fmtY(%v) = %q, want %q", in, got, want)
		}
	}
}

// TestFmtPct: a share under 10% keeps a decimal where it says something
// (2.5%); a whole one has none, as the larger shares beside it: the mix
// read "web_noisy 60% · … · qa 5.0%".
func TestFmtPct(t *testing.T) {
	for in, want := range map[float64]string{0.05: "5%", 0.025: "2.5%", 0.6: "60%", 0.1: "10%", 0.0996: "10%", 0.001: "0.1%", 0: "–", 0.53: "53%"} {
		if got := fmtPct(in); got != want {
			t.Errorf("fmtPct(%v) = %q, want %q", in, got, want)
		}
	}
}

// TestAxisLabelsAtZero: a series that ends at 0 (the LR after an anneal) has
// the axis label 0, not asciigraph's rounding residue (-4e-19 was on screen).
func TestAxisLabelsAtZero(t *testing.T) {
	for _, n := range []int{5, 7, 13, 40} {
		for _, rows := range []int{5, 7, 8, 11} {
			v := make([]float64, n)
			for i := range v {
				v[i] = 0.0018 * float64(n-1-i) / float64(n-1)
			}
			ch := chart{width: 40, rows: rows, layers: []chartLayer{{values: v}}}
			for _, line := range ch.render() {
				if label := strings.TrimSpace(ansi.Strip(line)[:yLabelW]); strings.Contains(label, "e-1") || strings.Contains(label, "e-2") {
					t.Errorf("n %d, rows %d: axis label %q:\n%s", n, rows, label, strings.Join(ch.render(), "\n"))
				}
			}
		}
	}
}

// TestAxisLabelsTellRowsApart: no two adjacent y labels read alike. A
// constant LR (schedule constant, a WSD's stable phase) read 0.031 on four
// rows, 0.03 on three and 0.029 on four, and a slow cosine decay 0.003 on
// three and 0.0029 on six: an axis that looks flat or wrong. Labels take the
// decimals that tell them apart where those fit, and a label that still reads
// as the one above it is left blank.
func TestAxisLabelsTellRowsApart(t *testing.T) {
	for _, c := range []struct {
		name   string
		values func(i int) float64
		want   []string // the labels, top down, where given
	}{
		{"constant 0.03", func(int) float64 { return 0.03 }, []string{"0.0315", "0.0312", "0.0309", "0.0306", "0.0303", "0.0300", "0.0297", "0.0294", "0.0291", "0.0288", "0.0285"}},
		{"cosine 0.003 to 0.0028", func(i int) float64 { return 0.0028 + 0.0002*math.Cos(float64(i)/60*math.Pi/2) }, nil},
		{"constant 1.5", func(int) float64 { return 1.5 }, nil},
		{"loss 7.6 to 0.8", func(i int) float64 { return 0.8 + 6.8*math.Exp(-float64(i)/8) }, nil},
	} {
		for _, logY := range []bool{false, true} {
			v := make([]float64, 60)
			for i := range v {
				v[i] = c.values(i)
			}
			ch := chart{width: 60, rows: 11, logY: logY, layers: []chartLayer{{values: v}}}
			var labels []string
			prev := ""
			for _, line := range ch.render()[:11] {
				l := strings.TrimSpace(ansi.Strip(line)[:yLabelW+1]) // a space, then the label
				if l != "" && l == prev {
					t.Errorf("%s (log %v): label %q twice in a row:\n%s", c.name, logY, l, strings.Join(ch.render(), "\n"))
				}
				if l != "" {
					prev = l
				}
				labels = append(labels, l)
			}
			if c.want != nil && !logY && !slices.Equal(labels, c.want) {
				t.Errorf("%s: labels %q, want %q", c.name, labels, c.want)
			}
		}
	}
}

func TestWrapText(t *testing.T) {
	for _, c := range []struct {
		in   string
		w    int
		want []string
	}{
		{"short", 10, []string{"short"}},
		{"", 10, []string{""}},
		{"Evaluates first (eval.at_anneal).", 20, []string{"Evaluates first", "(eval.at_anneal)."}},
		{"  olmolab --batch --resume runs/x", 20, []string{"  olmolab --batch", "  --resume runs/x"}},
		{"abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		// a key and its meaning go on under the meaning: "headless" went
		// under the "d" of the quit dialog at 60 columns
		{"d    detach: checkpoint, quit, and keep training headless", 50,
			[]string{"d    detach: checkpoint, quit, and keep training", "     headless"}},
		{"esc  cancel the dialog now", 16, []string{"esc  cancel the", "     dialog now"}},
		// the hang is the key's cells, not its bytes
		{"↑/↓  move the cursor one line", 16, []string{"↑/↓  move the", "     cursor one", "     line"}},
	} {
		got := wrapText(c.in, c.w)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("wrapText(%q, %d) = %q, want %q", c.in, c.w, got, c.want)
		}
	}
}

// Markers on one column are all shown, in time order, on it and the free
// columns beside it, the most important first where they run out, and a
// count for the rest. Placed by importance, the others to the right of the
// column or else to its left, a pause and its resume at the right edge read
// "RP", the wrong way round.
func TestLayoutMarks(t *testing.T) {
	mk := func(col int, glyph string, prio int, vline bool) chartMark {
		return chartMark{col: col, glyph: glyph, prio: prio, vline: vline}
	}
	for _, c := range []struct {
		name  string
		pw    int
		marks []chartMark
		row   string // the marker row
		vline string // columns with a phase line
	}{
		{"one", 6, []chartMark{mk(2, "A", 2, true)}, "  A   ", "  |   "},
		{"soup then resume", 6, []chartMark{mk(2, "S", 2, true), mk(2, "R", 2, true)}, "  SR  ", "  |   "},
		{"eval before anneal", 6, []chartMark{mk(3, "E", 1, false), mk(3, "A", 2, true)}, "   EA ", "   |  "},
		{"skipped first", 6, []chartMark{mk(1, "A", 2, true), mk(1, "✗", 4, false), mk(1, "E", 1, false)}, " A✗E  ", " |    "},
		{"at the right edge: to the left", 6, []chartMark{mk(5, "S", 2, true), mk(5, "R", 2, true)}, "    SR", "     |"},
		{"pause then resume at the right edge", 6, []chartMark{mk(5, "P", 2, true), mk(5, "R", 2, true)}, "    PR", "     |"},
		{"three at the right edge", 6, []chartMark{mk(5, "E", 1, false), mk(5, "P", 2, true), mk(5, "R", 2, true)}, "   EPR", "     |"},
		{"one column: the most important", 3, []chartMark{mk(0, "E", 1, false), mk(1, "P", 2, true), mk(1, "R", 2, true), mk(2, "▲", 3, false)}, "EP▲", " | "},
		{"neighbours keep their columns", 6, []chartMark{mk(2, "S", 2, true), mk(2, "R", 2, true), mk(3, "▲", 3, false)}, " SR▲  ", "  |   "},
		{"no room: a count", 3, []chartMark{mk(1, "A", 2, true), mk(1, "E", 1, false), mk(1, "M", 2, true), mk(1, "R", 2, true)}, "AM2", " | "},
		// a run of one glyph takes one place, and the count says how many more
		{"a burst of spikes", 6, []chartMark{mk(2, "▲", 3, false), mk(2, "▲", 3, false), mk(2, "▲", 3, false)}, "  ▲2  ", "      "},
		{"a burst with no room for its count", 3, []chartMark{mk(0, "E", 1, false), mk(1, "▲", 3, false), mk(1, "▲", 3, false), mk(2, "A", 2, true)}, "E▲A", "  |"},
		{"skipped steps at the right edge", 6, []chartMark{mk(5, "✗", 4, false), mk(5, "✗", 4, false), mk(5, "✗", 4, false), mk(5, "✗", 4, false), mk(5, "✗", 4, false)}, "    ✗4", "      "},
		// a glyph that comes again after another is shown again: PRES read
		// as a pause and a resume, then the soup, the run going on after it
		{"paused again", 6, []chartMark{mk(2, "P", 2, true), mk(2, "R", 2, true), mk(2, "P", 2, true)}, "  PRP ", "  |   "},
		{"a soup asked for while paused", 8, []chartMark{mk(1, "P", 2, true), mk(1, "R", 2, true), mk(1, "E", 1, false), mk(1, "S", 2, true), mk(1, "P", 2, true), mk(1, "R", 2, true)},
			" PRESPR ", " |      "},
		{"repeats with no room: the count", 4, []chartMark{mk(1, "P", 2, true), mk(1, "R", 2, true), mk(1, "P", 2, true), mk(1, "R", 2, true), mk(1, "P", 2, true)}, "PRP2", " |  "},
		{"a burst where only the count lacks room", 4, []chartMark{mk(0, "M", 2, true), mk(1, "E", 1, false), mk(1, "▲", 3, false), mk(1, "▲", 3, false), mk(3, "A", 2, true)}, "M▲2A", "|  |"},
		{"outside the plot", 4, []chartMark{mk(-1, "A", 2, true), mk(4, "A", 2, true)}, "    ", "    "},
	} {
		cols := layoutMarks(c.marks, c.pw, lipgloss.NewStyle())
		var row, vl strings.Builder
		for x := 0; x < c.pw; x++ {
			m, ok := cols[x]
			switch {
			case ok:
				row.WriteString(m.glyph)
			default:
				row.WriteString(" ")
			}
			if ok && m.vline {
				vl.WriteString("|")
			} else {
				vl.WriteString(" ")
			}
		}
		if row.String() != c.row || vl.String() != c.vline {
			t.Errorf("%s: row %q lines %q, want %q %q", c.name, row.String(), vl.String(), c.row, c.vline)
		}
	}
}

// The latest-eval line fits its width: the tasks' primary scores first, then
// the validation losses compactly ("val web_noisy 2.31 qa 1.98"); what does
// not fit is left off, and the line then ends with "… 3 for all".
func TestEvalLineFits(t *testing.T) {
	m, _ := liveModel(t, testOptions(t, 80, 24), stage1Events("quickstart-test"))
	score := func(task, form, metric string, v float64, primary bool) lab.EvalScore {
		return lab.EvalScore{Task: task, Formulation: form, Metric: metric, Value: v, Primary: primary}
	}
	split := func(s lab.EvalScore, split string) lab.EvalScore { s.Split = split; return s }
	var scores []lab.EvalScore
	for _, task := range []string{"arith", "fact_qa_seen", "fact_qa_heldout", "world_cloze"} {
		scores = append(scores, score(task, "rc", "acc_raw", 0.5, true), score(task, "rc", "acc_per_char", 0.4, false))
	}
	for i, src := range []string{"web_noisy", "web_clean", "code", "math", "qa"} {
		scores = append(scores, score("val/"+src, "lm", "ce_loss", 2.5-0.2*float64(i), true), score("val/"+src, "lm", "bits_per_byte", 1, false))
	}
	for _, c := range []struct {
		name   string
		scores []lab.EvalScore
		w      int
		want   string
	}{
		{"all fit", scores, 200, " eval @40 (interval) arith 0.500 · fact_qa_heldout 0.500 · fact_qa_seen 0.500 · world_cloze 0.500 · val code 2.10 math 1.90 qa 1.70 web_clean 2.30 web_noisy 2.50"},
		{"val cut", scores, 130, " eval @40 (interval) arith 0.500 · fact_qa_heldout 0.500 · fact_qa_seen 0.500 · world_cloze 0.500 · val code 2.10 … 3 for all"},
		{"80 columns", scores, 80, " eval @40 (interval) arith 0.500 · fact_qa_heldout 0.500 … 3 for all"},
		{"tasks only", scores[:4], 80, " eval @40 (interval) arith 0.500 · fact_qa_seen 0.500"},
		{"val only, exactly fits", scores[8:], 82, " eval @40 (interval) val code 2.10 math 1.90 qa 1.70 web_clean 2.30 web_noisy 2.50"},
		{"val only, one short", scores[8:], 81, " eval @40 (interval) val code 2.10 math 1.90 qa 1.70 web_clean 2.30 … 3 for all"},
		// the OLMES benchmarks' split: once in the head, or after each task when they differ
		{"one split", []lab.EvalScore{split(score("arc_easy", "rc", "acc_per_char", 0.25, true), "validation"), split(score("piqa", "rc", "acc_per_char", 0.4, true), "validation"), scores[0]}, 100,
			" eval @40 (interval; validation split) arc_easy 0.250 · arith 0.500 · piqa 0.400"},
		{"two splits", []lab.EvalScore{split(score("arc_easy", "rc", "acc_per_char", 0.25, true), "test"), split(score("piqa", "rc", "acc_per_char", 0.4, true), "validation")}, 100,
			" eval @40 (interval) arc_easy (test) 0.250 · piqa (validation) 0.400"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := &runData{Eval: &evalSnapshot{Step: 40, Why: "interval", Scores: c.scores}}
			l := m.evalLine(d, c.w)
			if lw := lipgloss.Width(l); lw != c.w {
				t.Errorf("%d cells wide, want %d", lw, c.w)
			}
			if got := strings.TrimRight(ansi.Strip(l), " "); got != c.want {
				t.Errorf("eval line at %d columns:\n got %q\nwant %q", c.w, got, c.want)
			}
		})
	}
}

// A pause and a resume close together keep their order on the dashboard's
// charts at every width: at the right edge (paused and resumed after the
// latest step) they read "RP", and further in wherever both fell on one
// column next to another marker's.
func TestPauseResumeMarkersInOrder(t *testing.T) {
	phase := func(step int64, msg string, d time.Duration) lab.Event {
		return lab.Event{Type: lab.EvPhase, Time: t0.Add(time.Duration(step)*100*time.Millisecond + d), Run: "quickstart-test",
			Step: step, Tokens: step * testGB, Phase: "stage1", Message: msg}
	}
	var evs []lab.Event
	for _, e := range stage1Events("quickstart-test") {
		evs = append(evs, e)
		switch e.Step {
		case 20:
			evs = append(evs, phase(20, "paused", time.Millisecond))
		case 21:
			evs = append(evs, phase(21, "resumed", time.Millisecond))
		case 22:
			evs = append(evs, lab.Event{Type: lab.EvSpike, Time: e.Time.Add(time.Millisecond), Run: e.Run, Step: 22, Tokens: e.Tokens, Series: "loss", Value: 9, Z: 7})
		case 40:
			evs = append(evs, phase(40, "paused", time.Millisecond), phase(40, "resumed", 2*time.Millisecond))
		}
	}
	markerRow := regexp.MustCompile(`^[ PRE▲0-9+]*[PR][ PRE▲0-9+]*$`)
	inOrder := regexp.MustCompile(`^(PR?)*$`) // a resume only right after its pause
	for w := 60; w <= 200; w++ {
		m, _ := liveModel(t, testOptions(t, w, 24), evs)
		rows := 0
		for _, l := range strings.Split(screen(m), "\n") {
			if !markerRow.MatchString(l) {
				continue
			}
			rows++
			seq := strings.Map(func(r rune) rune {
				if r == 'P' || r == 'R' {
					return r
				}
				return -1
			}, l)
			if !inOrder.MatchString(seq) {
				t.Errorf("%d columns: markers out of order %q in %q", w, seq, l)
			}
		}
		if rows == 0 {
			t.Fatalf("%d columns: no marker row:\n%s", w, screen(m))
		}
	}
}

// TestClipYLeavesOutTheEarlyLoss: a long run's loss falls from 7.6 to about
// 1.2 in its first 5% of steps; on a linear axis the rest of the run lies on
// one row of an 80×24 dashboard's six. Clipped (z), the y range leaves out
// the highest 5% of columns: the run after its start spreads over the rows,
// and the first columns (and a spike) are drawn along the top row.
func TestClipYLeavesOutTheEarlyLoss(t *testing.T) {
	const n = 72
	v := make([]float64, n)
	for i := range v {
		v[i] = 1.2 + 6.4*math.Exp(-float64(i)/1.2) + 0.15*math.Sin(float64(i)/3)
	}
	v[50] = 4 // a spike
	rowsUsed := func(ch chart) int {
		used := map[int]bool{}
		for r, line := range ch.render()[:ch.rows] {
			if p := []rune(ansi.Strip(line)); strings.ContainsAny(string(p[yLabelW+2+10:]), "─╮╯╰╭│") {
				used[r] = true
			}
		}
		return len(used)
	}
	top := func(ch chart) float64 {
		f, _ := strconv.ParseFloat(strings.TrimSpace(ansi.Strip(ch.render()[0])[:yLabelW+1]), 64)
		return f
	}
	plain := chart{width: 80, rows: 6, layers: []chartLayer{{values: v}}}
	clipped := plain
	clipped.clipY = true
	if u := rowsUsed(plain); u > 3 {
		t.Fatalf("the test expects the run past its start on few rows unclipped, it uses %d:\n%s", u, strings.Join(plain.render(), "\n"))
	}
	if u := rowsUsed(clipped); u < 5 {
		t.Errorf("clipped, the run past its start uses %d of 6 rows:\n%s", u, strings.Join(clipped.render(), "\n"))
	}
	if a, b := top(plain), top(clipped); a < 7 || b > 2 {
		t.Errorf("top label %v unclipped (want the first loss, 7.6), %v clipped (want under 2)", a, b)
	}
	// the spike and the first columns are on the top row, not cut off
	row0 := []rune(ansi.Strip(clipped.render()[0]))
	for _, x := range []int{0, 50} {
		if r := row0[yLabelW+2+x]; r == ' ' {
			t.Errorf("column %d is not drawn on the top row when clipped:\n%s", x, strings.Join(clipped.render(), "\n"))
		}
	}
}
