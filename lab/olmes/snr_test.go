package olmes

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func near(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol || (math.IsInf(a, 1) && math.IsInf(b, 1))
}

// TestSNRWorkedExample is olmes.md §4.2's first example: five recipes' final accuracies for the signal and one
// run's last five checkpoints for the noise. By hand: signal = 0.10/0.55 = 0.1818; mean(c) = 0.55, squared
// deviations 25+4+4+36+1 = 70e-6, std = √(14e-6) = 0.003742, noise = 0.006803; SNR = 0.1/√(14e-6) = 26.73.
func TestSNRWorkedExample(t *testing.T) {
	m := []float64{0.50, 0.52, 0.55, 0.58, 0.60}
	c := []float64{0.545, 0.552, 0.548, 0.556, 0.549}
	sig, noise := Signal(m), RelStd(c)
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"signal", sig, 0.1 / 0.55},
		{"noise", noise, math.Sqrt(14e-6) / 0.55},
		{"SNR", sig / noise, 0.1 / math.Sqrt(14e-6)},
		{"SNR per-run mode", Signal(m) / Noise([][]float64{c}, NoisePerRun), 26.7261},
	} {
		if !near(tc.got, tc.want, 1e-4) {
			t.Errorf("%s = %.6f, want %.6f", tc.name, tc.got, tc.want)
		}
	}
	if got := math.Round(sig/noise*100) / 100; got != 26.73 {
		t.Errorf("SNR = %.2f, olmes.md says 26.73", got)
	}
}

// pooledExample is olmes.md §4.2's small-scale example: 3 recipes × their last 5 checkpoints.
var pooledExample = [][]float64{
	{0.48, 0.50, 0.49, 0.51, 0.50}, // mean 0.496
	{0.53, 0.52, 0.54, 0.53, 0.52}, // mean 0.528
	{0.55, 0.57, 0.56, 0.55, 0.57}, // mean 0.560
}

// TestSNRTable runs SNR over eval records and checks hand-computed values.
//
// Pooled (the Signal-and-Noise convention, olmes.md §4.2): signal = (0.560 − 0.496)/0.528 = 0.121212; the 15
// values have mean 0.528 and squared deviations 0.00564 + 0.00028 + 0.00552 = 0.01144, std = √(0.01144/15) =
// 0.027617, noise = 0.052305, SNR = 2.3174 (olmes.md: 2.32).
//
// Per run: the rows' std are √(104e-6), √(56e-6), √(80e-6), relative 0.020561, 0.014173, 0.015972, mean 0.016902
// (olmes.md: 0.0169); the signal uses the final scores 0.50, 0.52, 0.57: 0.07/0.53 = 0.132075; SNR = 7.814.
// (olmes.md's 7.2 is the per-run noise under the pooled signal 0.1212: 0.1212/0.0169.)
func TestSNRTable(t *testing.T) {
	var runs []RunEvals
	for i, xs := range pooledExample {
		r := RunEvals{Name: string(rune('a' + i))}
		for s, v := range xs {
			r.Records = append(r.Records, EvalRecord{Run: r.Name, Step: 100 * (s + 1), Task: "arc_easy", Formulation: RC, Metric: MetricAccPerChar, Value: v})
		}
		runs = append(runs, r)
	}
	for _, tc := range []struct {
		mode                NoiseMode
		signal, noise, snrV float64
	}{
		{NoisePooled, 0.064 / 0.528, math.Sqrt(0.01144/15) / 0.528, (0.064 / 0.528) / (math.Sqrt(0.01144/15) / 0.528)},
		{NoisePerRun, 0.07 / 0.53, (math.Sqrt(104e-6)/0.496 + math.Sqrt(56e-6)/0.528 + math.Sqrt(80e-6)/0.56) / 3, 7.8142},
	} {
		tab, err := SNR(runs, SNROptions{Noise: tc.mode})
		if err != nil {
			t.Fatal(err)
		}
		if len(tab.Rows) != 1 {
			t.Fatalf("%d rows", len(tab.Rows))
		}
		r := tab.Rows[0]
		if !near(r.Signal, tc.signal, 1e-9) || !near(r.Noise, tc.noise, 1e-9) || !near(r.SNR, tc.snrV, 1e-3) {
			t.Errorf("%s: signal %.6f noise %.6f SNR %.4f, want %.6f %.6f %.4f", tc.mode, r.Signal, r.Noise, r.SNR, tc.signal, tc.noise, tc.snrV)
		}
		if r.Runs != 3 || r.LastN != 5 {
			t.Errorf("runs %d, last n %d", r.Runs, r.LastN)
		}
		if !strings.Contains(tab.Describe(), "noise: "+tc.mode.String()) {
			t.Errorf("description %q does not name the %s noise", tab.Describe(), tc.mode)
		}
	}
	tab, _ := SNR(runs, SNROptions{Noise: NoisePooled})
	if got := math.Round(tab.Rows[0].SNR*100) / 100; got != 2.32 {
		t.Errorf("pooled SNR = %.2f, olmes.md says 2.32", got)
	}
}

// TestSNRSplits: a task scored on different splits is one row per split
// (named with it where the runs mix splits), each listed only where every
// run has it, and the table says which runs have which split; a run whose
// eval.split changed does not run its validation and test scores together
// in one series. A task without a split (built-in) is named as before, and
// JSON carries each row's split. Read from files, the same.
func TestSNRSplits(t *testing.T) {
	rec := func(run string, step int, task, split string, v float64) EvalRecord {
		return EvalRecord{Run: run, Step: step, Task: task, Formulation: RC, Split: split, Metric: MetricAccPerChar, Value: v}
	}
	build := func() []RunEvals {
		var runs []RunEvals
		for i, name := range []string{"a", "b", "c"} {
			r := RunEvals{Name: name}
			for s := range 5 {
				split := "validation"
				if name == "b" && s >= 3 { // b's eval.split changed to test after step 300
					split = "test"
				}
				r.Records = append(r.Records,
					rec(name, 100*(s+1), "arc_easy", split, 0.5+0.1*float64(i)+0.01*float64(s%2)+0.3*float64(s/3)*float64(i%2)),
					rec(name, 100*(s+1), "arith", "", 0.2+0.1*float64(i)+0.01*float64(s%2)))
			}
			runs = append(runs, r)
		}
		return runs
	}
	root := t.TempDir()
	var dirs []string
	for _, r := range build() {
		dir := filepath.Join(root, r.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := AppendEvalRecords(&b, r.Records); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "evals.jsonl"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	streamed, err := LoadRunEvalTails(5, "", dirs...)
	if err != nil {
		t.Fatal(err)
	}
	for what, runs := range map[string][]RunEvals{"records": build(), "files": streamed} {
		tab, err := SNR(runs, SNROptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(tab.Rows) != 2 {
			t.Fatalf("%s: rows %+v, want arith and arc_easy on validation (no run but b has test)", what, tab.Rows)
		}
		if tab.Partial != nil { // b's test split is DescribeSplits' to say
			t.Errorf("%s: partial %+v, want none", what, tab.Partial)
		}
		var arc, arith SNRRow
		for _, r := range tab.Rows {
			if r.Task == "arc_easy" {
				arc = r
			} else {
				arith = r
			}
		}
		// b's validation series ends at step 300 (0.60): its test scores (0.91, 0.90) are not its final ones
		if arc.Split != "validation" || arc.LastN != 3 || !near(arc.Mean, (0.50+0.60+0.70)/3, 1e-12) {
			t.Errorf("%s: arc_easy row %+v, want validation over 3 checkpoints, mean of 0.50, 0.60, 0.70", what, arc)
		}
		if arith.Split != "" || arith.LastN != 5 || tab.TaskName(arith) != "arith" {
			t.Errorf("%s: arith row %+v named %q, want no split, 5 checkpoints", what, arith, tab.TaskName(arith))
		}
		if got := tab.TaskName(arc); got != "arc_easy (validation)" {
			t.Errorf("%s: arc_easy row named %q", what, got)
		}
		want := []MixedSplit{{Task: "arc_easy", Splits: []SplitRuns{{"test", []string{"b"}}, {"validation", []string{"a", "b", "c"}}}}}
		if !reflect.DeepEqual(tab.MixedSplits, want) {
			t.Errorf("%s: mixed splits %+v, want %+v", what, tab.MixedSplits, want)
		}
		var out bytes.Buffer
		if err := tab.WriteTable(&out); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"arc_easy (validation)", "different splits: arc_easy on test (b) and validation (a, b, c)", "HINT: give the runs the same eval.split"} {
			if !strings.Contains(out.String(), s) {
				t.Errorf("%s: table does not say %q:\n%s", what, s, out.String())
			}
		}
		out.Reset()
		if err := tab.WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), `"split": "validation"`) || !strings.Contains(out.String(), `"mixed_splits"`) {
			t.Errorf("%s: JSON lacks the split:\n%s", what, out.String())
		}
	}
	// targets scored on test, the small runs on validation: no decision
	// accuracy of one split against the other, and the note says why
	small, big := build(), build()
	small[1].Records = small[1].Records[:6]
	for i := range big {
		big[i].Name = "big-" + big[i].Name
		for j := range big[i].Records {
			if big[i].Records[j].Split != "" {
				big[i].Records[j].Split = "test"
			}
		}
	}
	tab, err := SNR(small, SNROptions{Target: big})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tab.Rows {
		if (r.Task == "arith") == math.IsNaN(r.DecisionAcc) {
			t.Errorf("targets on another split: %s (%q) decision accuracy %v", r.Task, r.Split, r.DecisionAcc)
		}
	}
	if d := tab.DescribeSplits(); !strings.Contains(d, "arc_easy on test (big-a, big-b, big-c) and validation (a, b, c)") {
		t.Errorf("targets on another split: %q", d)
	}
	// the hint names the command that scores a run's checkpoints on another split and records them
	if d := tab.DescribeSplits(); !strings.Contains(d, "olmolab eval --model RUN --record --split S") {
		t.Errorf("the hint does not say how to score the runs on one split: %q", d)
	}
	// the same runs all on one split: no note, rows named as before
	runs := build()
	runs[1].Records = runs[1].Records[:6] // b's validation scores only
	tab, err = SNR(runs, SNROptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tab.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if len(tab.MixedSplits) != 0 || strings.Contains(out.String(), "(validation)") || strings.Contains(out.String(), "different splits") {
		t.Errorf("one split: mixed %+v, table\n%s", tab.MixedSplits, out.String())
	}
}

// TestSNROneCheckpoint: where some run has a single checkpoint, noise is not
// measured: noise and SNR are NaN ("-", null in JSON), such rows sort after
// the measured ones, and the table says why, rather than noise 0 and SNR inf
// at the top.
// TestSNRInstances: a task scored on every instance (::olmes:full) and on a
// 1000-instance sample is two series and two rows, named apart, in SNR over
// records and over files; a run whose records name no count (written before
// counts were) pairs with the one count the others have, as it read before.
func TestSNRInstances(t *testing.T) {
	rec := func(run string, step, inst int, v float64) EvalRecord {
		return EvalRecord{Run: run, Step: step, Task: "arc_easy", Formulation: RC, Split: "test", Instances: inst, Metric: MetricAccPerChar, Value: v}
	}
	build := func(oldC bool) []RunEvals {
		var runs []RunEvals
		for i, name := range []string{"a", "b", "c"} {
			r := RunEvals{Name: name}
			for s := range 4 {
				wobble := 0.01 * float64(s%2)
				full, sample := 2376, 1000
				if oldC && name == "c" {
					full = 0 // c's records were written before counts were, of the sample only
				}
				if full != 0 {
					// every instance: the runs 0.1 apart
					r.Records = append(r.Records, rec(name, 100*(s+1), full, 0.5+0.1*float64(i)+wobble))
				}
				if !(oldC && name == "c") {
					// the sample: the runs 0.01 apart, noisier
					r.Records = append(r.Records, rec(name, 100*(s+1), sample, 0.6+0.01*float64(i)+2*wobble))
				} else {
					r.Records = append(r.Records, rec(name, 100*(s+1), 0, 0.6+0.01*float64(i)+2*wobble))
				}
			}
			runs = append(runs, r)
		}
		return runs
	}
	files := func(runs []RunEvals) []RunEvals {
		root := t.TempDir()
		var dirs []string
		for _, r := range runs {
			dir := filepath.Join(root, r.Name)
			var b bytes.Buffer
			if err := AppendEvalRecords(&b, r.Records); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "evals.jsonl"), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, dir)
		}
		out, err := LoadRunEvalTails(5, "", dirs...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// both counts in every run: two rows, each of its own scores
	for what, runs := range map[string][]RunEvals{"records": build(false), "files": files(build(false))} {
		tab, err := SNR(runs, SNROptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(tab.Rows) != 2 {
			t.Fatalf("%s: rows %+v, want one of 2376 instances and one of 1000", what, tab.Rows)
		}
		byN := map[int]SNRRow{}
		for _, r := range tab.Rows {
			byN[r.Instances] = r
		}
		full, sample := byN[2376], byN[1000]
		// finals at step 400 (wobble 0.01): 0.51, 0.61, 0.71 and 0.62, 0.63, 0.64
		if !near(full.Mean, 0.61, 1e-12) || !near(sample.Mean, 0.63, 1e-12) {
			t.Errorf("%s: means %v (2376) and %v (1000), want 0.61 and 0.63: the counts' scores mixed", what, full.Mean, sample.Mean)
		}
		if got := tab.TaskName(full); got != "arc_easy (2376 instances)" {
			t.Errorf("%s: row named %q", what, got)
		}
		var out bytes.Buffer
		if err := tab.WriteTable(&out); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"arc_easy (1000 instances)", "different instance counts: arc_easy"} {
			if !strings.Contains(out.String(), s) {
				t.Errorf("%s: table does not say %q:\n%s", what, s, out.String())
			}
		}
		out.Reset()
		if err := tab.WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), `"instances": 2376`) {
			t.Errorf("%s: JSON lacks the instance count:\n%s", what, out.String())
		}
	}
	// c's records name no count: with a and b on the sample alone they
	// pair with it; where a and b have two counts they stay apart
	only := func(runs []RunEvals, n int) []RunEvals {
		for i := range runs {
			runs[i].Records = slices.DeleteFunc(runs[i].Records, func(r EvalRecord) bool { return r.Instances != n && r.Instances != 0 })
		}
		return runs
	}
	for what, runs := range map[string][]RunEvals{"records": only(build(true), 1000), "files": files(only(build(true), 1000))} {
		tab, err := SNR(runs, SNROptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(tab.Rows) != 1 || tab.Rows[0].Instances != 1000 || !near(tab.Rows[0].Mean, 0.63, 1e-12) || len(tab.MixedInstances) != 0 {
			t.Fatalf("%s: rows %+v, mixed %v, want one row of 1000 instances with c's records in it", what, tab.Rows, tab.MixedInstances)
		}
	}
	tab, err := SNR(build(true), SNROptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 0 || !slices.Equal(tab.MixedInstances, []string{"arc_easy"}) {
		t.Errorf("rows %+v, mixed %v: c's records of no count joined one of two counts", tab.Rows, tab.MixedInstances)
	}
}

func TestSNROneCheckpoint(t *testing.T) {
	var runs []RunEvals
	for i, xs := range [][]float64{{0.3, 0.4, 0.5}, {0.6}, {0.2, 0.3}} {
		r := RunEvals{Name: string(rune('a' + i))}
		for s, v := range xs {
			r.Records = append(r.Records, EvalRecord{Run: r.Name, Step: 100 * (s + 1), Task: "arc_easy", Formulation: RC, Metric: MetricAccPerChar, Value: v})
		}
		if i != 1 { // a second task that every run measured twice or more
			for s, v := range []float64{0.1 * float64(i+1), 0.12 * float64(i+1)} {
				r.Records = append(r.Records, EvalRecord{Run: r.Name, Step: 100 * (s + 1), Task: "piqa", Formulation: RC, Metric: MetricAccPerChar, Value: v})
			}
		}
		runs = append(runs, r)
	}
	runs[1].Records = append(runs[1].Records,
		EvalRecord{Run: "b", Step: 100, Task: "piqa", Formulation: RC, Metric: MetricAccPerChar, Value: 0.2},
		EvalRecord{Run: "b", Step: 200, Task: "piqa", Formulation: RC, Metric: MetricAccPerChar, Value: 0.25})
	tab, err := SNR(runs, SNROptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 2 || tab.Rows[0].Task != "piqa" || tab.Rows[1].Task != "arc_easy" {
		t.Fatalf("rows %+v, want piqa (measured) before arc_easy", tab.Rows)
	}
	if r := tab.Rows[0]; r.LastN != 2 || math.IsNaN(r.SNR) || math.IsInf(r.SNR, 0) {
		t.Errorf("piqa: %+v", r)
	}
	if r := tab.Rows[1]; r.LastN != 1 || !math.IsNaN(r.Noise) || !math.IsNaN(r.SNR) || !math.IsNaN(r.AvgSNR) || !near(r.Signal, (0.6-0.3)/((0.5+0.6+0.3)/3), 1e-9) {
		t.Errorf("arc_easy: %+v", r)
	}
	var b strings.Builder
	if err := tab.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); strings.Contains(out, "inf") || !strings.Contains(out, "n 1: 1 of 2 rows has one checkpoint") {
		t.Errorf("table:\n%s", out)
	}
}

// TestCheckpointAveraging: runs A = 1,3,1,3 and B = 2,4,2,4 with n = 2. Raw: signal (4−3)/3.5 = 0.285714, noise
// (std/mean of [1,3] = 0.5, of [2,4] = 1/3) = 0.416667, SNR 0.685714. Averaged: A → 1,2,2,2 and B → 2,3,3,3, so
// the signal is (3−2)/2.5 = 0.4 and the last two checkpoints do not move: noise 0, SNR +Inf.
func TestCheckpointAveraging(t *testing.T) {
	mk := func(name string, xs ...float64) RunEvals {
		r := RunEvals{Name: name}
		for i, x := range xs {
			r.Records = append(r.Records, EvalRecord{Step: i + 1, Task: "t", Metric: "m", Value: x})
		}
		return r
	}
	tab, err := SNR([]RunEvals{mk("A", 1, 3, 1, 3), mk("B", 2, 4, 2, 4)}, SNROptions{LastN: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := tab.Rows[0]
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"signal", r.Signal, 1 / 3.5}, {"noise", r.Noise, (0.5 + 1.0/3) / 2}, {"SNR", r.SNR, (1 / 3.5) / ((0.5 + 1.0/3) / 2)},
		{"avg signal", r.AvgSignal, 0.4}, {"avg noise", r.AvgNoise, 0}, {"avg SNR", r.AvgSNR, math.Inf(1)},
	} {
		if !near(c.got, c.want, 1e-12) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got := TrailingMean([]float64{1, 3, 1, 3}, 2); !near(got[0], 1, 0) || !near(got[3], 2, 0) {
		t.Errorf("TrailingMean = %v", got)
	}
	var buf bytes.Buffer
	if err := tab.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"avg_snr": null`) {
		t.Errorf("infinite SNR should be null in JSON:\n%s", buf.String())
	}
}

// TestDecisionAccuracy is olmes.md §4.3's example (only the 2nd/3rd pair flips: 5/6) plus the tie rules.
func TestDecisionAccuracy(t *testing.T) {
	for _, tc := range []struct {
		small, target []float64
		want          float64
	}{
		{[]float64{0.40, 0.45, 0.43, 0.50}, []float64{0.60, 0.66, 0.68, 0.70}, 5.0 / 6},
		{[]float64{1, 2, 3}, []float64{3, 2, 1}, 0},
		{[]float64{1, 1}, []float64{0, 1}, 1}, // tie on the small side agrees with "not greater"
		{[]float64{1, 1}, []float64{1, 0}, 0},
	} {
		if got := DecisionAccuracy(tc.small, tc.target); !near(got, tc.want, 1e-12) {
			t.Errorf("DecisionAccuracy(%v, %v) = %v, want %v", tc.small, tc.target, got, tc.want)
		}
	}
	if !math.IsNaN(DecisionAccuracy([]float64{1}, []float64{2})) {
		t.Error("one recipe should give NaN")
	}
}

// TestSNRFromRunDirs writes evals.jsonl files the way the lab does (Results.Records, AppendEvalRecords), reads
// them back by run directory and by the parent directory, and checks decision accuracy against target runs.
func TestSNRFromRunDirs(t *testing.T) {
	root := t.TempDir()
	small := filepath.Join(root, "small")
	write := func(dir, run string, finals ...float64) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, "evals.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for step, v := range finals {
			res := Results{Scores: []Score{{Task: "fact_qa_heldout", Formulation: RC, Primary: MetricAccRaw,
				Metrics: map[string]float64{MetricAccRaw: v, MetricBPB: 2 - v}}}}
			if err := AppendEvalRecords(f, res.Records(run, (step+1)*10, int64(step+1)*1000, "")); err != nil {
				t.Fatal(err)
			}
			// A soup evaluated at the same step must not enter the run's series.
			if err := AppendEvalRecords(f, res.Records(run, (step+1)*10, 0, "soup")); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(filepath.Join(small, "r1"), "r1", 0.30, 0.31, 0.30)
	write(filepath.Join(small, "r2"), "r2", 0.40, 0.41, 0.40)
	write(filepath.Join(small, "r3"), "r3", 0.35, 0.36, 0.37)
	write(filepath.Join(root, "big", "b1"), "b1", 0.50)
	write(filepath.Join(root, "big", "b2"), "b2", 0.70)
	write(filepath.Join(root, "big", "b3"), "b3", 0.65)
	runs, err := LoadRunEvals(small)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[0].Name != "r1" {
		t.Fatalf("runs %v", runs)
	}
	again, err := LoadRunEvals(filepath.Join(small, "r1"), filepath.Join(small, "r2", "evals.jsonl"), filepath.Join(small, "r3"))
	if err != nil || len(again) != 3 {
		t.Fatalf("by run dir and file: %v %v", again, err)
	}
	targets, err := LoadRunEvals(filepath.Join(root, "big"))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := SNR(runs, SNROptions{LastN: 3, Target: targets})
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 2 {
		t.Fatalf("%d rows, want acc_raw and bits_per_byte_corr", len(tab.Rows))
	}
	for _, r := range tab.Rows {
		if r.Metric == MetricAccRaw {
			// finals 0.30, 0.40, 0.37 against 0.50, 0.70, 0.65: all three pairs agree.
			if r.DecisionAcc != 1 || !near(r.Signal, 0.10/(1.07/3), 1e-12) {
				t.Errorf("acc_raw: decision accuracy %v, signal %v", r.DecisionAcc, r.Signal)
			}
		}
	}
	if tab.Rows[0].SNR < tab.Rows[1].SNR {
		t.Error("rows not sorted by SNR")
	}
	var buf bytes.Buffer
	if err := tab.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "noise: per-run") || !strings.Contains(buf.String(), "dec.acc") {
		t.Errorf("table:\n%s", buf.String())
	}
	buf.Reset()
	if err := tab.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back["noise_mode"] != "per-run" {
		t.Errorf("JSON: %v %v", err, back["noise_mode"])
	}
}

// TestSNRBadInput: one run, mismatched targets, a malformed evals line, an empty directory.
func TestSNRBadInput(t *testing.T) {
	one := []RunEvals{{Name: "a"}}
	if _, err := SNR(one, SNROptions{}); !IsInputError(err) {
		t.Errorf("one run: %v", err)
	}
	two := []RunEvals{{Name: "a"}, {Name: "b"}}
	if _, err := SNR(two, SNROptions{Target: one}); !IsInputError(err) {
		t.Errorf("targets: %v", err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "evals.jsonl")
	os.WriteFile(p, []byte(`{"run":"a","step":1,"task":"t","formulation":"rc","metric":"m","value":1}`+"\n"+`{"run":"a","step":2,`+"\n"), 0o644)
	_, err := LoadRunEvals(dir)
	if !IsInputError(err) || !strings.Contains(err.Error(), "evals.jsonl:2") {
		t.Errorf("malformed line: %v", err)
	}
	os.WriteFile(p, []byte(`{"run":"a","step":1,"task":"t","formulation":"xx","metric":"m","value":1}`+"\n"), 0o644)
	if _, err := LoadRunEvals(dir); !IsInputError(err) {
		t.Errorf("bad formulation: %v", err)
	}
	if _, err := LoadRunEvals(t.TempDir()); !IsInputError(err) {
		t.Errorf("empty dir: %v", err)
	}
	os.WriteFile(p, nil, 0o644) // a run whose recipe evaluates nothing
	if _, err := LoadRunEvals(dir); !IsInputError(err) || !strings.Contains(err.Error(), "holds no evaluations") {
		t.Errorf("run without evaluations: %v", err)
	}
	if _, err := SNR([]RunEvals{{Name: "only-run"}}, SNROptions{}); err == nil || !strings.Contains(err.Error(), "1 run with evaluations: only-run") {
		t.Errorf("one run: %v, want the run named, and '1 run' (it read '1 run(s) with evaluations [only-run]')", err)
	}
	if _, err := ParseNoiseMode("loud"); !IsInputError(err) {
		t.Errorf("noise mode: %v", err)
	}
}

// TestLabRecords reads evals.jsonl lines in the lab's format (phase, why, time, formulation as a string; soups
// and ingredients as "<run>/…" sub-runs) and checks that SNR leaves the sub-runs out unless asked.
func TestLabRecords(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i, run := range []string{"mix-a", "mix-b", "mix-a/soup", "mix-a/ingredient-1-seed-3"} {
		for step := 1; step <= 3; step++ {
			fmt.Fprintf(&b, `{"run":%q,"step":%d,"tokens":%d,"phase":"stable","why":"interval","task":"arith","formulation":"rc","metric":"acc_raw","value":%v,"time":"2026-11-28T18:00:00Z"}`+"\n",
				run, step*100, step*1000, 0.3+0.1*float64(i)+0.01*float64(step%2))
		}
	}
	os.WriteFile(filepath.Join(dir, "evals.jsonl"), []byte(b.String()), 0o644)
	runs, err := LoadRunEvals(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 4 || runs[0].Records[0].Why != "interval" || runs[0].Records[0].Time.IsZero() {
		t.Fatalf("runs %d, first record %+v", len(runs), runs[0].Records[0])
	}
	tab, err := SNR(runs, SNROptions{})
	if err != nil || len(tab.Runs) != 2 {
		t.Fatalf("SNR over %v (%v), want the two main runs", tab.Runs, err)
	}
	tab, _ = SNR(runs, SNROptions{SubRuns: true})
	if len(tab.Runs) != 4 {
		t.Errorf("with sub-runs: %v", tab.Runs)
	}
}

// TestSNRSoupFinal: a run that ended with its recipe's soup has the soup's
// scores as its final ones (the mean, the signal, decision accuracy), with
// and without checkpoint averaging, while its noise is its own checkpoints';
// the table says so. With --soups (SubRuns) every run's final is its own.
func TestSNRSoupFinal(t *testing.T) {
	rec := func(run string, step int, v float64) EvalRecord {
		return EvalRecord{Run: run, Step: step, Task: "arith", Formulation: RC, Metric: "acc_raw", Value: v}
	}
	a := RunEvals{Name: "a", Records: []EvalRecord{rec("a", 100, 0.30), rec("a", 200, 0.32), rec("a", 300, 0.30)}}
	b := RunEvals{Name: "b", Records: []EvalRecord{rec("b", 100, 0.40), rec("b", 200, 0.42), rec("b", 300, 0.40)}}
	soup := RunEvals{Name: "a/soup", Records: []EvalRecord{rec("a/soup", 300, 0.60)}}
	runs := []RunEvals{a, soup, b}
	cases := []struct {
		name       string
		o          SNROptions
		mean       float64 // of the final scores
		avgSignal  float64
		finals     []string
		finalsLine string
	}{
		{"own finals", SNROptions{LastN: 3}, (0.30 + 0.40) / 2, Signal([]float64{(0.30 + 0.32 + 0.30) / 3, (0.40 + 0.42 + 0.40) / 3}), nil, "final scores: each run's last evaluation"},
		{"soup final", SNROptions{LastN: 3, SoupFinal: map[string]bool{"a": true}}, (0.60 + 0.40) / 2, Signal([]float64{0.60, (0.40 + 0.42 + 0.40) / 3}), []string{"a"}, "but for a, which ended with its recipe's soup, the soup's"},
		{"a soup of no run's end", SNROptions{LastN: 3, SoupFinal: map[string]bool{"b": true}}, (0.30 + 0.40) / 2, Signal([]float64{(0.30 + 0.32 + 0.30) / 3, (0.40 + 0.42 + 0.40) / 3}), nil, "final scores: each run's last evaluation"},
	}
	for _, c := range cases {
		tab, err := SNR(runs, c.o)
		if err != nil || len(tab.Rows) != 1 || len(tab.Runs) != 2 {
			t.Fatalf("%s: %+v, %v", c.name, tab, err)
		}
		r := tab.Rows[0]
		wantNoise := Noise([][]float64{{0.30, 0.32, 0.30}, {0.40, 0.42, 0.40}}, NoisePerRun)
		if math.Abs(r.Mean-c.mean) > 1e-12 || math.Abs(r.AvgSignal-c.avgSignal) > 1e-12 || math.Abs(r.Noise-wantNoise) > 1e-12 {
			t.Errorf("%s: mean %v avg signal %v noise %v; want %v, %v, %v", c.name, r.Mean, r.AvgSignal, r.Noise, c.mean, c.avgSignal, wantNoise)
		}
		if fmt.Sprint(tab.SoupFinals) != fmt.Sprint(c.finals) {
			t.Errorf("%s: soup finals %v, want %v", c.name, tab.SoupFinals, c.finals)
		}
		var out strings.Builder
		tab.WriteTable(&out)
		if !strings.Contains(out.String(), c.finalsLine) {
			t.Errorf("%s: the table does not say which finals it uses (%q):\n%s", c.name, c.finalsLine, out.String())
		}
	}
	two := []RunEvals{a, soup, b, {Name: "b/soup", Records: []EvalRecord{rec("b/soup", 300, 0.5)}}}
	if tab, _ := SNR(two, SNROptions{LastN: 3, Noise: NoisePooled}); !strings.HasSuffix(tab.DescribeFinals(), "the signal uses each run's last-N mean)") {
		t.Errorf("pooled noise: the final-scores line does not say the signal uses last-N means: %q", tab.DescribeFinals())
	}
	if tab, _ := SNR(two, SNROptions{LastN: 3, SoupFinal: map[string]bool{"a": true, "b": true}}); !strings.Contains(tab.DescribeFinals(), "for a, b, which ended with their recipes' soups") {
		t.Errorf("two soups: %q", tab.DescribeFinals())
	}
	tab, _ := SNR(runs, SNROptions{LastN: 3, SubRuns: true, SoupFinal: map[string]bool{"a": true}})
	if len(tab.Runs) != 3 || tab.SoupFinals != nil || !strings.Contains(tab.DescribeFinals(), "--soups") {
		t.Errorf("with sub-runs: runs %v, soup finals %v, %q", tab.Runs, tab.SoupFinals, tab.DescribeFinals())
	}
}

// TestEvaluator caches tasks by name and evaluates them.
func TestEvaluator(t *testing.T) {
	ev := &Evaluator{Load: LoadOptions{Builtin: BuiltinOptions{Limit: 10}}}
	a, err := ev.Tasks([]string{"unseen"}, RC)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ev.Tasks([]string{"unseen"}, RC)
	if len(a) != 2 || &a[0] != &b[0] {
		t.Errorf("tasks not cached: %d", len(a))
	}
	tok := bytesTok(t)
	res, err := ev.Evaluate(context.Background(), &fakeBackend{B: 4, T: 64, V: tok.VocabSize()}, tok, []string{"unseen"}, RC)
	if err != nil || len(res.Scores) != 2 || res.Scores[0].Group != "unseen" {
		t.Fatalf("%+v %v", res.Scores, err)
	}
	recs := res.Records("r", 10, 1000, "")
	primaries := 0
	for _, r := range recs {
		if r.Primary {
			primaries++
		}
	}
	if len(recs) != 2*8 || primaries != 2 { // 8 metrics (no acc_uncond) per task, one of them primary
		t.Errorf("%d records, %d primary", len(recs), primaries)
	}
	if _, err := ev.Evaluate(context.Background(), &fakeBackend{B: 4, T: 64, V: tok.VocabSize()}, tok, []string{"nope"}, RC); !IsInputError(err) {
		t.Errorf("unknown task: %v", err)
	}
}

// TestReadEvalRecordsTornTail: a last line without its newline that does not
// parse is a record being written (a live run, a killed one) and is skipped; a
// malformed complete line, last or not, is an error with its line number.
func TestReadEvalRecordsTornTail(t *testing.T) {
	good := `{"run":"a","step":1,"task":"t","formulation":"rc","metric":"m","value":1}`
	for _, c := range []struct {
		name, body string
		n          int
		err        string
	}{
		{"torn last line", good + "\n" + `{"run":"a","st`, 1, ""},
		{"complete file", good + "\n" + good + "\n", 2, ""},
		{"last line complete without newline", good + "\n" + good, 2, ""},
		{"malformed last line with its newline", good + "\n" + `{"run":"a","st` + "\n", 0, "evals.jsonl:2"},
		{"malformed line in the middle", good + "\n" + `{"run` + "\n" + good + "\n", 0, "evals.jsonl:2"},
	} {
		p := filepath.Join(t.TempDir(), "evals.jsonl")
		os.WriteFile(p, []byte(c.body), 0o644)
		recs, err := ReadEvalRecords(p)
		switch {
		case c.err == "" && (err != nil || len(recs) != c.n):
			t.Errorf("%s: %d records, %v; want %d, no error", c.name, len(recs), err, c.n)
		case c.err != "" && (!IsInputError(err) || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.err)
		}
	}
}

// TestReadEvalRecordsNotEvals: a file that is clearly not evals.jsonl (a
// YAML recipe by its name, or a first line that is not a JSON object) says
// so, with the file and what to pass instead; a torn first and only record is
// still read past.
func TestReadEvalRecordsNotEvals(t *testing.T) {
	recipe := "name: tiny\nmodel: cpu_xs\n"
	for _, c := range []struct {
		name, file, body string
		why              string // "" for no error
	}{
		{"a recipe", "recipe.yaml", recipe, "a YAML file"},
		{"a recipe, .yml", "recipe.yml", recipe, "a YAML file"},
		{"a recipe whose first line is a JSON object", "recipe.yaml", `{"name": "tiny"}` + "\n", "a YAML file"},
		{"YAML under the evals name", "evals.jsonl", recipe, "first line is not a JSON object"},
		{"a JSON array", "evals.jsonl", "[1, 2]\n", "first line is not a JSON object"},
		{"text after blank lines", "evals.jsonl", "\n\n  loss went down\n", "first line is not a JSON object"},
		{"a torn first and only record", "evals.jsonl", `{"run":"a","st`, ""},
		{"olmolab eval --json's output", "eval.json", "{\n  \"scores\": [\n", "a JSON document over several lines, such as olmolab eval --json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), c.file)
			os.WriteFile(p, []byte(c.body), 0o644)
			recs, err := ReadEvalRecords(p)
			if c.why == "" {
				if err != nil || len(recs) != 0 {
					t.Errorf("%d records, %v; want none, no error", len(recs), err)
				}
				return
			}
			msg := fmt.Sprint(err)
			for _, want := range []string{p + ": not an evals.jsonl file (" + c.why, "HINT: pass a run directory or its evals.jsonl"} {
				if !IsInputError(err) || !strings.Contains(msg, want) {
					t.Errorf("got %v, want an input error with %q", err, want)
				}
			}
			if strings.Contains(msg, "malformed") {
				t.Errorf("still called malformed: %v", err)
			}
		})
	}
}

// FuzzReadEvalRecords: any evals.jsonl either reads into records with a task,
// a metric and a finite value, or fails with an *InputError; never a panic.
func FuzzReadEvalRecords(f *testing.F) {
	good := `{"run":"a","step":1,"task":"t","formulation":"rc","metric":"m","value":1}`
	f.Add([]byte(good + "\n" + good + "\n"))
	f.Add([]byte(good + "\n" + `{"run":"a","st`))
	f.Add([]byte(`{"task":"t","metric":"m","value":1e999}` + "\n"))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte("name: tiny\nmodel: cpu_xs\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "evals.jsonl")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		recs, err := ReadEvalRecords(p)
		if err != nil {
			if !IsInputError(err) {
				t.Errorf("not an input error: %v", err)
			}
			return
		}
		for _, r := range recs {
			if r.Task == "" || r.Metric == "" || math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
				t.Errorf("record accepted: %+v", r)
			}
		}
	})
}

// writeMMLUEvals writes evals.jsonl at MMLU scale: 57 subjects × 8 metrics
// every 1000 steps of a run of steps steps (100K steps: 45,600 records, 11 MB).
func writeMMLUEvals(tb testing.TB, path, run string, steps int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for s := 1000; s <= steps; s += 1000 {
		for sub := range 57 {
			for i, m := range MetricNames[:8] {
				b, _ := json.Marshal(EvalRecord{Run: run, Step: s, Tokens: int64(s) << 20, Phase: "stable", Why: "interval",
					Task: fmt.Sprintf("mmlu_%02d", sub), Formulation: MC, Metric: m, Value: 0.25 + float64(s)/1e6 + float64(sub)/1e3,
					Primary: i == 0, Time: t0.Add(time.Duration(s) * time.Second)})
				w.Write(append(b, '\n'))
			}
		}
	}
	w.Flush()
	f.Close()
}

// BenchmarkReadEvalRecords reads an MMLU-scale evals.jsonl of a 100K-step run
// (45,600 records, 11 MB).
func BenchmarkReadEvalRecords(b *testing.B) {
	path := filepath.Join(b.TempDir(), "evals.jsonl")
	writeMMLUEvals(b, path, "r", 100000)
	b.ReportAllocs()
	for b.Loop() {
		recs, err := ReadEvalRecords(path)
		if err != nil || len(recs) != 45600 {
			b.Fatal(err, len(recs))
		}
	}
}

// TestFastEvalRecord: a record read by fastEvalRecord is the one
// encoding/json reads, and what it cannot read is left to encoding/json.
func TestFastEvalRecord(t *testing.T) {
	for _, line := range []string{
		`{"run":"r","step":3000,"tokens":12582912,"phase":"stable","why":"interval","task":"mmlu_00","formulation":"mc","metric":"acc_raw","value":0.25,"primary":true,"time":"2026-11-01T00:50:00.123456789Z"}`,
		`{"run":"r/soup","step":1,"tokens":2,"task":"val/web","formulation":"lm","metric":"ce_loss","value":3.5e-1,"group":"development","tag":"x","time":"2026-11-01T01:00:00+01:00"}`,
		`{"run":"r","step":1,"task":"arith","metric":"acc_raw","value":1,"primary":false}`,
		`{"run":"r","step":250,"tokens":9,"phase":"stable","why":"interval","task":"arc_easy","formulation":"rc","split":"validation","metric":"acc_per_char","value":0.5,"primary":true,"time":"2026-11-01T00:50:00Z"}`,
		`{"run":"r","step":250,"task":"arc_easy","formulation":"rc","split":"test","instances":2376,"metric":"acc_per_char","value":0.5}`,
		// a score recorded after the run by olmolab eval --record
		`{"run":"r","step":250,"tokens":9,"phase":"anneal","why":"eval --record","task":"mmlu","formulation":"rc","split":"test","metric":"acc_raw","value":0.25,"group":"olmes","settings":"checkpoints/step-250: context 2048, limit 5, OLMES's split, rc, tokenizer dolma2, backend cpu","time":"2026-11-01T00:50:00Z"}`,
	} {
		var got, want EvalRecord
		if !fastEvalRecord([]byte(line), &got, map[string]string{}) {
			t.Fatalf("%s: not read", line)
		}
		if err := json.Unmarshal([]byte(line), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", line, got, want)
		}
	}
	for _, line := range []string{
		`{"run":"a \"quoted\" run","task":"t","metric":"m","value":1}`,
		`{"Run":"r","task":"t","metric":"m","value":1}`,
		`{"run":"r","task":"t","formulation":"zz","metric":"m","value":1}`,
		`{"run":"r","task":"t","metric":"m","value":"high"}`,
	} {
		var r EvalRecord
		if fastEvalRecord([]byte(line), &r, map[string]string{}) {
			t.Errorf("%s: read by the fast path, want encoding/json", line)
		}
	}
}

// TestLoadRunEvalTails: SNR over the runs' tails (LoadRunEvalTails) is SNR
// over their records (LoadRunEvals) to the bit, for every --last, with tags,
// repeated steps (the last record wins) and, read again whole, steps out of
// order.
func TestLoadRunEvalTails(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, unordered := range []bool{false, true} {
		dir := t.TempDir()
		for r := range 3 {
			var recs []EvalRecord
			for s := 1; s <= 40; s++ {
				step := s * 10
				if unordered && r == 1 && s == 30 {
					step = 55
				}
				for _, task := range []string{"arc_easy", "mmlu_anatomy"} {
					for _, metric := range []string{MetricAccRaw, MetricAccPerChar} {
						v := 0.3 + rng.Float64()/7
						recs = append(recs, EvalRecord{Run: fmt.Sprintf("r%d", r), Step: step, Task: task, Formulation: MC, Metric: metric, Value: v})
						if s%7 == 0 { // evaluated again at the same step
							recs = append(recs, EvalRecord{Run: fmt.Sprintf("r%d", r), Step: step, Task: task, Formulation: MC, Metric: metric, Value: v / 2})
						}
						if s%5 == 0 {
							recs = append(recs, EvalRecord{Run: fmt.Sprintf("r%d", r), Step: step, Task: task, Formulation: MC, Metric: metric, Value: v * 3, Tag: "x"})
						}
					}
				}
			}
			os.MkdirAll(filepath.Join(dir, fmt.Sprintf("r%d", r)), 0o755)
			f, _ := os.Create(filepath.Join(dir, fmt.Sprintf("r%d", r), "evals.jsonl"))
			AppendEvalRecords(f, recs)
			f.Close()
		}
		all, err := LoadRunEvals(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, lastN := range []int{1, 2, 5, 8, 50} {
			for _, tag := range []string{"", "x"} {
				tails, err := LoadRunEvalTails(lastN, tag, dir)
				if err != nil {
					t.Fatal(err)
				}
				o := SNROptions{LastN: lastN, Noise: NoisePooled, Tag: tag}
				want, err1 := SNR(all, o)
				got, err2 := SNR(tails, o)
				same := func(a, b SNRTable) bool { // NaN fields: compare as written
					ja, _ := json.Marshal(a)
					jb, _ := json.Marshal(b)
					return len(a.Rows) > 0 && bytes.Equal(ja, jb)
				}
				if err1 != nil || err2 != nil || !same(got, want) {
					t.Fatalf("unordered %v, last %d, tag %q: %v %v\ngot  %+v\nwant %+v", unordered, lastN, tag, err1, err2, got, want)
				}
				o.Noise = NoisePerRun
				want, _ = SNR(all, o)
				if got, _ = SNR(tails, o); !same(got, want) {
					t.Fatalf("unordered %v, last %d, tag %q, per run:\ngot  %+v\nwant %+v", unordered, lastN, tag, got, want)
				}
			}
		}
		if _, err := SNR(must(LoadRunEvalTails(5, "", dir)), SNROptions{LastN: 3}); err == nil {
			t.Error("SNR takes runs loaded for another --last")
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// BenchmarkLoadRunEvalTails reads an MMLU-scale evals.jsonl of a 100K-step
// run (45,600 records, 11 MB) keeping only SNR's last 5 checkpoints.
func BenchmarkLoadRunEvalTails(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "r")
	os.MkdirAll(dir, 0o755)
	writeMMLUEvals(b, filepath.Join(dir, "evals.jsonl"), "r", 100000)
	b.ReportAllocs()
	for b.Loop() {
		runs, err := LoadRunEvalTails(5, "", dir)
		if err != nil || len(runs) != 1 || len(runs[0].tails) != 57*8 {
			b.Fatal(err, len(runs))
		}
	}
}

// A run and a copy of its directory are one run twice: refused with both
// directories and the run named, and what to do; a directory given twice
// likewise; two runs of the same directory name without a run field say so.
func TestLoadRunEvalsSameRun(t *testing.T) {
	root := t.TempDir()
	write := func(dir, line string) string {
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "evals.jsonl"), []byte(line+"\n"), 0o644)
		return dir
	}
	rec := `{"run":"mix-a","step":1,"task":"t","formulation":"rc","metric":"m","value":1}`
	a := write(filepath.Join(root, "mix-a"), rec)
	cp := write(filepath.Join(root, "mix-a-copy"), rec)
	b := write(filepath.Join(root, "mix-b"), strings.ReplaceAll(rec, "mix-a", "mix-b"))
	for _, c := range []struct {
		paths []string
		want  []string
	}{
		{[]string{a, cp}, []string{a + " and " + cp + " hold the same run mix-a", `the same run field ("mix-a")`, "HINT:", "--set seed=N"}},
		{[]string{a, b, cp}, []string{a + " and " + cp + " hold the same run mix-a"}},
		{[]string{root}, []string{cp + " and " + a + " hold the same run mix-a"}}, // in the order read
		{[]string{a, filepath.Join(a, "evals.jsonl")}, []string{a + ": given twice", "HINT: give each run once"}},
	} {
		_, err := LoadRunEvals(c.paths...)
		_, errTails := LoadRunEvalTails(5, "", c.paths...) // what snr reads with
		for _, err := range []error{err, errTails} {
			if !IsInputError(err) {
				t.Errorf("%v: %v, want an input error", c.paths, err)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: %q lacks %q", c.paths, err, w)
				}
			}
		}
	}
	noRun := `{"step":1,"task":"t","formulation":"rc","metric":"m","value":1}`
	x := write(filepath.Join(root, "sweep1", "r1"), noRun)
	y := write(filepath.Join(root, "sweep2", "r1"), noRun)
	if _, err := LoadRunEvals(x, y); err == nil || !strings.Contains(err.Error(), "no run field and their directories have the same name") {
		t.Errorf("same directory name, no run field: %v", err)
	}
	if runs, err := LoadRunEvals(a, b); err != nil || len(runs) != 2 {
		t.Errorf("two runs: %v %v", runs, err)
	}
}

// FuzzDecodeEvalRecord: an evals.jsonl line that is JSON decodes with the
// fast reader (fastEvalRecord) into the record encoding/json gives, or is
// refused by both: SNR reads the same scores either way.
func FuzzDecodeEvalRecord(f *testing.F) {
	f.Add([]byte(`{"run":"a","step":1,"tokens":2,"phase":"stable","why":"interval","task":"t","formulation":"rc","metric":"m","value":0.5,"primary":true,"time":"2026-11-28T18:00:00Z"}`))
	f.Add([]byte(`{"run":"a/soup","step":-1,"task":"t","formulation":"lm","metric":"ce_loss","value":1e-3,"group":"olmes","tag":"x"}`))
	f.Add([]byte(`{"task":"t","metric":"m","value":1,"formulation":"MC","step":1.0}`))
	f.Add([]byte(`{"task":"t","metric":"m","value":1,"time":"2026-11-28T18:00:00.123+01:00","primary":false}`))
	f.Add([]byte("{\"task\":\"t\xff\",\"metric\":\"m\",\"value\":1}"))
	f.Fuzz(func(t *testing.T, line []byte) {
		if !json.Valid(line) {
			return
		}
		var want EvalRecord
		wantErr := json.Unmarshal(line, &want)
		var got EvalRecord
		gotErr := DecodeEvalRecord(line, &got, nil)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("%s: DecodeEvalRecord error %v, encoding/json %v", line, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) && !(math.IsNaN(got.Value) && math.IsNaN(want.Value)) {
			t.Errorf("%s:\nfast          %+v\nencoding/json %+v", line, got, want)
		}
	})
}

// TestSNRDescribeFewerCheckpoints: --last N beyond what the runs have is said
// in the description with the count used (it read "each run's last 100
// checkpoints" over runs of 5); a --last the runs reach is said as before.
func TestSNRDescribeFewerCheckpoints(t *testing.T) {
	var runs []RunEvals
	for i, xs := range pooledExample {
		r := RunEvals{Name: string(rune('a' + i))}
		for s, v := range xs {
			r.Records = append(r.Records, EvalRecord{Run: r.Name, Step: 100 * (s + 1), Task: "arc_easy", Formulation: RC, Metric: MetricAccPerChar, Value: v})
		}
		runs = append(runs, r)
	}
	for _, c := range []struct {
		mode NoiseMode
		last int
		want string
	}{
		{NoisePerRun, 100, "over each run's last 100 checkpoints (at most 5 here: n), averaged over 3 runs"},
		{NoisePooled, 100, "of all 3 runs' last 100 checkpoints (at most 5 here: n) together"},
		{NoisePerRun, 4, "over each run's last 4 checkpoints, averaged over 3 runs"},
	} {
		tab, err := SNR(runs, SNROptions{Noise: c.mode, LastN: c.last})
		if err != nil {
			t.Fatal(err)
		}
		if d := tab.Describe(); !strings.Contains(d, c.want) {
			t.Errorf("%s --last %d: %q lacks %q", c.mode, c.last, d, c.want)
		}
	}
}

// TestSNRPartial: a task only some of the runs scored (two of four recorded
// with eval --record) has no row, as a row needs every run's scores; the
// table said nothing of it, so the scores just recorded seemed lost. It
// now names the task and the runs that have it, under the table's
// description and in --json's partial; a task scored on several splits is
// left to DescribeSplits.
func TestSNRPartial(t *testing.T) {
	var runs []RunEvals
	for i, name := range []string{"a", "b", "c", "d"} {
		r := RunEvals{Name: name}
		for s := range 5 {
			r.Records = append(r.Records, EvalRecord{Run: name, Step: 100 * (s + 1), Task: "arith", Formulation: RC, Metric: MetricAccRaw, Value: 0.2 + 0.1*float64(i) + 0.01*float64(s%2)})
			if name == "a" || name == "c" {
				r.Records = append(r.Records, EvalRecord{Run: name, Step: 100 * (s + 1), Task: "arc_easy", Formulation: RC, Split: "validation", Metric: MetricAccRaw,
					Value: 0.3 + 0.01*float64(i), Why: WhyRecorded})
			}
		}
		runs = append(runs, r)
	}
	tab, err := SNR(runs, SNROptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 1 || tab.Rows[0].Task != "arith" {
		t.Fatalf("rows %+v, want arith's alone", tab.Rows)
	}
	if want := []PartialTask{{Task: "arc_easy", Split: "validation", Runs: []string{"a", "c"}}}; !reflect.DeepEqual(tab.Partial, want) {
		t.Errorf("partial %+v, want %+v", tab.Partial, want)
	}
	var b strings.Builder
	if err := tab.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if want := "no row for what only some runs scored: arc_easy (validation) (2 of 4 runs: a, c); HINT: score it in the others too"; !strings.Contains(b.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, b.String())
	}
	b.Reset()
	if err := tab.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if want := `"partial":[{"task":"arc_easy","split":"validation","runs":["a","c"]}]`; !strings.Contains(strings.Join(strings.Fields(b.String()), ""), want) {
		t.Errorf("--json lacks %s:\n%s", want, b.String())
	}
	// scored by most of the runs: the ones that did not are named
	runs[1].Records = append(runs[1].Records, EvalRecord{Run: "b", Step: 500, Task: "arc_easy", Formulation: RC, Split: "validation", Metric: MetricAccRaw, Value: 0.3, Why: WhyRecorded})
	three, err := SNR(runs, SNROptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := three.DescribePartial(), "no row for what only some runs scored: arc_easy (validation) (3 of 4 runs, not d); HINT:"; !strings.HasPrefix(got, want) {
		t.Errorf("three of four: %q, want it to begin %q", got, want)
	}
	// a and c have every task: nothing to say
	two, err := SNR([]RunEvals{runs[0], runs[2]}, SNROptions{})
	if err != nil {
		t.Fatal(err)
	}
	if two.Partial != nil || two.DescribePartial() != "" {
		t.Errorf("a and c share every task: partial %+v", two.Partial)
	}
}

// TestSNRMixedSettings: eval --record of one task with --limit 40 in one
// run and --limit 400 in another scores other requests, yet snr compared
// them as one measurement without a word. The table names the task and
// which runs were scored how (the parts of the settings that differ), read
// from records and from files alike; the same settings say nothing.
func TestSNRMixedSettings(t *testing.T) {
	build := func(limitC string) []RunEvals {
		var runs []RunEvals
		for i, name := range []string{"a", "b", "c"} {
			limit := "40"
			if name == "c" {
				limit = limitC
			}
			r := RunEvals{Name: name}
			for s := range 5 {
				step := 100 * (s + 1)
				r.Records = append(r.Records, EvalRecord{Run: name, Step: step, Task: "arc_easy", Formulation: RC, Split: "validation", Metric: MetricAccRaw,
					Value: 0.3 + 0.05*float64(i) + 0.01*float64(s%2), Why: WhyRecorded,
					Settings: fmt.Sprintf("checkpoints/step-%d: context 128, limit %s, split validation, rc, tokenizer world, backend cpu", step, limit)})
			}
			runs = append(runs, r)
		}
		return runs
	}
	root := t.TempDir()
	var dirs []string
	for _, r := range build("400") {
		dir := filepath.Join(root, r.Name)
		var b bytes.Buffer
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := AppendEvalRecords(&b, r.Records); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "evals.jsonl"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	streamed, err := LoadRunEvalTails(5, "", dirs...)
	if err != nil {
		t.Fatal(err)
	}
	want := "scored with different settings after the runs: arc_easy (validation): limit 40 (a, b); limit 400 (c): other settings score other requests"
	for what, runs := range map[string][]RunEvals{"records": build("400"), "files": streamed} {
		tab, err := SNR(runs, SNROptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := tab.DescribeSettings(); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want it to begin %q", what, got, want)
		}
		var b strings.Builder
		tab.WriteTable(&b)
		if !strings.Contains(b.String(), want) {
			t.Errorf("%s: the table does not say so:\n%s", what, b.String())
		}
	}
	if tab, err := SNR(build("40"), SNROptions{}); err != nil || tab.MixedSettings != nil || tab.DescribeSettings() != "" {
		t.Errorf("the same settings: %v, %+v", err, tab.MixedSettings)
	}
}
