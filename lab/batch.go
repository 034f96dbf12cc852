package lab

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// BatchParams configures the headless front end.
type BatchParams struct {
	Stdout   io.Writer // JSONL events, one per line
	Stderr   io.Writer // progress and the summary table
	Terminal bool      // stderr is a terminal: one updating progress line; else plain lines
	Every    time.Duration
	// Width gives the terminal's columns when the progress line is drawn
	// (a window may be resized): the line is cut to fit, as one that wraps
	// is not rewritten in place. nil or ≤ 0: no limit (a log file).
	Width func() int
}

// RunBatch follows a run to its end: every event as a JSON line on stdout, one
// progress line on stderr (rewritten in place on a terminal; otherwise a plain
// line every Every while steps come, never the same step twice), then a
// summary table on stderr.
func RunBatch(r *Run, p BatchParams) (RunSummary, error) {
	if p.Every == 0 {
		p.Every = 10 * time.Second
	}
	enc := json.NewEncoder(p.Stdout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last Event
	var lastPrint time.Time
	fresh := false // last has not been written as a plain line yet
	var buf []Event
	var tps Throughput // smoothed over the recent steps, for tok/s, MFU and the ETA
	progress := func(force bool) {
		if last.Type != EvStep {
			return
		}
		width := 0
		if p.Width != nil {
			width = p.Width()
		}
		line := progressLine(last, &tps, width)
		if p.Terminal {
			fmt.Fprintf(p.Stderr, "\r\033[K%s", line)
			return
		}
		// a step longer than Every would otherwise write its line again
		if fresh && (force || time.Since(lastPrint) >= p.Every) {
			fmt.Fprintln(p.Stderr, line)
			lastPrint, fresh = time.Now(), false
		}
	}
	handle := func() {
		buf = r.Events.Drain(buf[:0])
		for _, e := range buf {
			enc.Encode(e)
			switch e.Type {
			case EvStep:
				last, fresh = e, true
				tps.Add(e.TokensPerSec)
			case EvPhase, EvCheckpoint, EvEval, EvWarning, EvError, EvSpike, EvResumed:
				if p.Terminal {
					fmt.Fprint(p.Stderr, "\r\033[K")
				}
				fmt.Fprintln(p.Stderr, eventLine(e))
				if p.Terminal {
					progress(true) // redraw the progress line under the message
				}
			}
		}
	}
	for {
		select {
		case <-r.Events.Notify():
			handle()
		case <-tick.C:
			progress(false)
		case <-r.Done():
			handle()
			if p.Terminal {
				fmt.Fprintln(p.Stderr)
			}
			s, err := r.Wait()
			PrintSummary(p.Stderr, s)
			return s, err
		}
	}
}

// progressLine is --batch's progress: the step, the tokens, the time left, the
// loss and the step's figures. Throughput and MFU are those of tp, smoothed
// over the recent steps, as is the ETA: one step's speed swings too much
// to say when the run ends. With a width (a terminal's columns) the figures
// that matter least are left out until the line fits (MFU, lr, grad, tok/s,
// then the loss), and what is left is cut to fit.
func progressLine(e Event, tp *Throughput, width int) string {
	pct := 0.0
	if e.TotalTokens > 0 {
		pct = 100 * float64(e.Tokens) / float64(e.TotalTokens)
	}
	rate, mfu := e.TokensPerSec, e.MFU
	if s := tp.TokensPerSec(); s > 0 {
		if rate > 0 && !math.IsInf(rate, 0) {
			mfu *= s / rate // a fixed ratio of tokens/s per run
		}
		rate = s
	}
	eta := "–"
	// to the run's end, a soup's ingredients included (Event.Left)
	if left, ok := tp.Left(e.Left()); ok && e.TotalTokens > 0 {
		eta = HumanDuration(left)
	}
	// in the order shown, with the rank at which each is left out (0: kept)
	fields := []struct {
		s    string
		drop int
	}{
		{fmt.Sprintf("[%s] step %d", e.Phase, e.Step), 0},
		{fmt.Sprintf("%s/%s tokens (%.0f%%)", HumanCount(e.Tokens), HumanCount(e.TotalTokens), pct), 0},
		{"ETA " + eta, 0},
		{fmt.Sprintf("loss %.4f", e.Loss), 5},
		{fmt.Sprintf("grad %.3f", e.GradNorm), 3},
		{fmt.Sprintf("lr %.2e", e.LR), 2},
		{HumanCount(int64(rate)) + " tok/s", 4},
		{"", 1},
	}
	if mfu > 0 {
		fields[len(fields)-1].s = fmt.Sprintf("MFU %.0f%%", 100*mfu)
	}
	line := func(dropped int) string {
		var parts []string
		for _, f := range fields {
			if f.s != "" && (f.drop == 0 || f.drop > dropped) {
				parts = append(parts, f.s)
			}
		}
		return strings.Join(parts, "  ")
	}
	if width <= 0 {
		return line(0)
	}
	// the last column is left free: a terminal that wraps there would put
	// the cursor on the next line, and the line would not be rewritten
	for dropped := 0; dropped <= 5; dropped++ {
		if l := line(dropped); utf8.RuneCountInString(l) < width {
			return l
		}
	}
	return string([]rune(line(5))[:width-1])
}

func eventLine(e Event) string {
	switch e.Type {
	case EvSpike:
		return fmt.Sprintf("spike  step %d: %s %.4g (z = %.1f)", e.Step, e.Series, e.Value, e.Z)
	case EvCheckpoint:
		if e.Message != "" { // CheckpointExists
			return fmt.Sprintf("checkpoint  step %d → %s (%s)", e.Step, e.Checkpoint, e.Message)
		}
		return fmt.Sprintf("checkpoint  step %d → %s", e.Step, e.Checkpoint)
	case EvEval:
		var parts []string
		for _, s := range e.Evals {
			if s.Primary {
				parts = append(parts, fmt.Sprintf("%s %.3f", scoreTask(s), s.Value))
			}
		}
		return fmt.Sprintf("eval (%s) step %d: %s", e.Message, e.Step, strings.Join(parts, ", "))
	}
	return fmt.Sprintf("%s  step %d: %s", e.Type, e.Step, e.Message)
}

// HumanCount writes 1234567 as 1.23M (progress lines, the TUI).
func HumanCount(n int64) string {
	f := float64(n)
	switch {
	case f >= 1e12:
		return fmt.Sprintf("%.2fT", f/1e12)
	case f >= 1e9:
		return fmt.Sprintf("%.2fB", f/1e9)
	case f >= 1e6:
		return fmt.Sprintf("%.2fM", f/1e6)
	case f >= 1e4:
		return fmt.Sprintf("%.1fK", f/1e3)
	}
	return fmt.Sprint(n)
}

// sourcesLine lists the tokens trained on per source with their share, most
// first ("web 12.3K (60.0%), qa 8.2K (40.0%)"); sources never served are left out.
func sourcesLine(src, passes map[string]int64) string {
	var total int64
	names := make([]string, 0, len(src))
	for name, n := range src {
		if n > 0 {
			names = append(names, name)
			total += n
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if src[names[i]] != src[names[j]] {
			return src[names[i]] > src[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s %s (%.1f%%)", name, HumanCount(src[name]), 100*float64(src[name])/float64(total))
		if p := passes[name]; p > 1 { // its data ran out and repeats
			parts[i] = fmt.Sprintf("%s %s (%.1f%%, %d passes)", name, HumanCount(src[name]), 100*float64(src[name])/float64(total), p)
		}
	}
	return strings.Join(parts, ", ")
}

// PrintSummary writes the end-of-run table.
func PrintSummary(w io.Writer, s RunSummary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "run\t%s (%s)\n", s.Run, s.State)
	fmt.Fprintf(tw, "directory\t%s\n", s.Dir)
	if f := s.Fork; f != nil {
		fmt.Fprintf(tw, "forked from\t%s\n", ForkLine(*f))
	}
	fmt.Fprintf(tw, "steps / tokens\t%s\n", stepsLine(s))
	// "final" is a mean (summarize), which a falling loss puts above the
	// last step's and the minimum: say so, or it reads as a loss that rose
	fmt.Fprintf(tw, "loss\tfirst %.4f → final %.4f (%s; min %.4f)\n", s.FirstLoss, s.FinalLoss, finalLossOf(s.Steps), s.MinLoss)
	switch {
	case s.AnnealStart > 0: // Annealed, or a summary.json written before it was
		fmt.Fprintf(tw, "anneal\tfrom %s tokens, final LR %.3g\n", HumanCount(s.AnnealStart), s.FinalLR)
	case s.Annealed:
		fmt.Fprintf(tw, "anneal\tfrom its start (load_path), final LR %.3g\n", s.FinalLR)
	}
	if line := sourcesLine(s.Sources, s.Passes); line != "" {
		fmt.Fprintf(tw, "data\t%s\n", line)
	}
	fmt.Fprintf(tw, "spike score\tloss %.2f%%, grad norm %.2f%%\n", s.SpikeLoss, s.SpikeGrad)
	// the rate is the training steps' (tokens over the steps' time); the
	// seconds are the whole run's, evaluations and checkpoints too, so
	// tokens ÷ seconds is below the rate: the line says which is which
	// MFU only where the backend's peak is known (the CPU's, measured): a
	// GPU backend's run has none, and "MFU 0.0%" would say it did nothing
	mfu := ""
	if s.MFU > 0 {
		mfu = fmt.Sprintf(", MFU %.1f%%", 100*s.MFU)
	}
	fmt.Fprintf(tw, "speed\t%s tokens/s%s in training steps; %s s wall-clock in all\n", HumanCount(int64(s.TokensPerSec)), mfu, seconds(s.Seconds))
	tw.Flush()
	if len(s.Evals) > 0 {
		// the last evaluation is the final one only when the run got there: an
		// interrupted run's is the interval's before it
		when := s.EvalsWhen
		if when == "" {
			when = "final"
		}
		val := ""
		for _, e := range s.Evals {
			if strings.HasPrefix(e.Task, ValTaskPrefix) {
				val = "; val/…: validation loss, lower is better"
				break
			}
		}
		fmt.Fprintf(w, "\nevaluation (%s; primary metric and bits per byte of the gold answer%s):\n", when, val)
		printScores(w, s.Evals)
	}
	if s.Soup != nil {
		fmt.Fprintln(w, "\nsoup:")
		PrintSoup(w, s.Soup)
	}
}

// seconds writes a time in seconds to the second, or, under 10 s, to two
// significant digits: a run of under a second took "0.37", not "0".
func seconds(s float64) string {
	if s < 10 {
		return strconv.FormatFloat(s, 'g', 2, 64)
	}
	return strconv.FormatFloat(s, 'f', 0, 64)
}

// finalLossOf says what RunSummary.FinalLoss averages: the last 10 steps,
// or every step of a shorter run.
func finalLossOf(steps int64) string {
	switch {
	case steps >= 10:
		return "mean of the last 10 steps"
	case steps == 1:
		return "its one step"
	}
	return fmt.Sprintf("mean of its %d steps", steps)
}

// stepsLine is the summary's steps and tokens: the run's own, and with a
// soup what its ingredients trained on top and the sum, what the run
// trained in all ("10 / 2560 the run's own + 4 / 1024 in soup ingredients
// = 14 / 3584 trained"). They counted the run's own only, so a soup run's
// summary left out the anneals its soup was made of.
func stepsLine(s RunSummary) string {
	if s.SoupSteps <= 0 && s.SoupTokens <= 0 {
		return fmt.Sprintf("%d / %s", s.Steps, HumanCount(s.Tokens))
	}
	return fmt.Sprintf("%d / %s the run's own + %d / %s in soup ingredients (anneals from the run's checkpoint) = %d / %s trained",
		s.Steps, HumanCount(s.Tokens), s.SoupSteps, HumanCount(s.SoupTokens), s.Steps+s.SoupSteps, HumanCount(s.Tokens+s.SoupTokens))
}

// scoreTask names a score's task with the split it was scored on where it is
// an OLMES benchmark's ("arc_easy (validation)"): a validation split's scores
// are not OLMES's published test-split figures.
func scoreTask(s EvalScore) string {
	if s.Split == "" {
		return s.Task
	}
	return s.Task + " (" + s.Split + ")"
}

func printScores(w io.Writer, scores []EvalScore) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	split := slices.ContainsFunc(scores, func(s EvalScore) bool { return s.Split != "" })
	if split {
		fmt.Fprintln(tw, "  task\tsplit\tformulation\tmetric\tvalue")
	} else {
		fmt.Fprintln(tw, "  task\tformulation\tmetric\tvalue")
	}
	sorted := append([]EvalScore(nil), scores...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Task < sorted[j].Task })
	for _, s := range sorted {
		if !s.Primary && !strings.HasPrefix(s.Metric, "bits_per_byte") {
			continue
		}
		if split {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%.4f\n", s.Task, cmp.Or(s.Split, "-"), s.Formulation, s.Metric, s.Value)
		} else {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%.4f\n", s.Task, s.Formulation, s.Metric, s.Value)
		}
	}
	tw.Flush()
}

// PrintSoup writes a soup's table: a row per ingredient and the soup, a column
// per primary metric, and where an ingredient's data ran out and started
// over, its passes over each such source ("passes": small 8).
func PrintSoup(w io.Writer, rep *SoupReport) {
	var cols []string
	seen := map[string]bool{}
	rows := append(append([]SoupComponent(nil), rep.Ingredients...), rep.Soup)
	passes := slices.ContainsFunc(rows, func(c SoupComponent) bool { return len(c.Passes) > 0 })
	for _, c := range rows {
		for _, s := range c.Evals {
			k := s.Task + " " + s.Metric
			if s.Primary && !seen[k] {
				seen[k] = true
				cols = append(cols, k)
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "  model\tfinal loss"
	if passes {
		head += "\tpasses"
	}
	fmt.Fprintf(tw, "%s\t%s\n", head, strings.Join(cols, "\t"))
	for _, c := range rows {
		vals := map[string]float64{}
		for _, s := range c.Evals {
			vals[s.Task+" "+s.Metric] = s.Value
		}
		var cells []string
		for _, k := range cols {
			cells = append(cells, fmt.Sprintf("%.4f", vals[k]))
		}
		loss := "-"
		if c.FinalLoss > 0 {
			loss = fmt.Sprintf("%.4f", c.FinalLoss)
		}
		if passes {
			p := "-"
			if len(c.Passes) > 0 {
				var parts []string
				for _, name := range slices.Sorted(maps.Keys(c.Passes)) {
					parts = append(parts, fmt.Sprintf("%s %d", name, c.Passes[name]))
				}
				p = strings.Join(parts, ", ")
			}
			loss += "\t" + p
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Name, loss, strings.Join(cells, "\t"))
	}
	for _, c := range rep.Dropped {
		if d := c.Diverged; d != nil {
			fmt.Fprintf(tw, "  %s\tdiverged at step %d, not averaged: %s\n", c.Name, d.Step, d.Reason)
		}
	}
	tw.Flush()
}
