package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// relStdRef and signalRef are allenai/signal-and-noise's snr/metrics.py definitions (olmes.md §4.1), written
// out here: signal = max|m_j − m_k| / mean(m), noise = std(c) / mean(c) with NumPy's population std, both
// divided by the signed mean.
func signalRef(m []float64) float64 {
	lo, hi, s := m[0], m[0], 0.0
	for _, x := range m {
		lo, hi, s = math.Min(lo, x), math.Max(hi, x), s+x
	}
	return (hi - lo) / (s / float64(len(m)))
}

func relStdRef(c []float64) float64 {
	var s, sq float64
	for _, x := range c {
		s += x
	}
	mean := s / float64(len(c))
	for _, x := range c {
		sq += (x - mean) * (x - mean)
	}
	return math.Sqrt(sq/float64(len(c))) / mean
}

// writeSNRRuns writes one evals.jsonl per run under dir (steps 100, 200, …), each run with its series per
// metric, and returns the run directories.
func writeSNRRuns(t *testing.T, dir string, series map[string][][]float64) []string {
	t.Helper()
	var runs []string
	var n int
	for _, s := range series {
		n = len(s)
	}
	for i := range n {
		name := fmt.Sprintf("recipe%d", i)
		rd := filepath.Join(dir, name)
		if err := os.MkdirAll(rd, 0o755); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		for metric, s := range series {
			for k, v := range s[i] {
				fmt.Fprintf(&b, `{"run":%q,"step":%d,"task":"arc_easy","formulation":"rc","metric":%q,"value":%v}`+"\n", name, 100*(k+1), metric, v)
			}
		}
		if err := os.WriteFile(filepath.Join(rd, "evals.jsonl"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, rd)
	}
	return runs
}

// snrJSONRow is the part of a row of `snr --json` these tests read.
type snrJSONRow struct {
	Metric             string
	LastN              int `json:"last_n"`
	Signal, Noise, SNR float64
	AvgSignal          float64 `json:"avg_signal"`
	AvgNoise           float64 `json:"avg_noise"`
}

// snrCLI runs `olmolab snr ARGS… --json F` and returns its rows by metric.
func snrCLI(t *testing.T, args ...string) map[string]snrJSONRow {
	t.Helper()
	out := filepath.Join(t.TempDir(), "snr.json")
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"snr", "--json", out}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("snr %v: exit %d\n%s%s", args, code, stdout.String(), stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var tab struct{ Rows []snrJSONRow }
	if err := json.Unmarshal(raw, &tab); err != nil {
		t.Fatal(err)
	}
	rows := map[string]snrJSONRow{}
	for _, r := range tab.Rows {
		rows[r.Metric] = r
	}
	return rows
}

// TestSNRWorkedExamplesCLI reproduces olmes.md §4.2 through `olmolab snr` (evals.jsonl files, LoadRunEvalTails,
// SNR, --json).
//
// Example 1: five recipes' final accuracies m = [0.50, 0.52, 0.55, 0.58, 0.60] and one run's last five
// checkpoints c = [0.545, 0.552, 0.548, 0.556, 0.549]: signal 0.1818, noise 0.006803, SNR 26.73. snr measures
// noise per run, so every recipe here has the series c scaled to end at its m_j (std/mean does not change under
// scaling): the per-run noise is c's, the finals are m. Three earlier checkpoints (0.40, 0.60, 0.50, scaled
// alike) lie outside --last 5 and must not count; with --last 8 they do.
//
// The same scores negated (a log-likelihood metric, whose mean is negative) give the same SNR as the source's
// signed formula; snr reports signal and noise over |mean| (README: both positive), the source's are negative.
func TestSNRWorkedExamplesCLI(t *testing.T) {
	m := []float64{0.50, 0.52, 0.55, 0.58, 0.60}
	c := []float64{0.40, 0.60, 0.50, 0.545, 0.552, 0.548, 0.556, 0.549}
	var acc, ll [][]float64
	for _, mj := range m {
		var a, l []float64
		for _, x := range c {
			a = append(a, x*mj/0.549)
			l = append(l, -x*mj/0.549)
		}
		acc, ll = append(acc, a), append(ll, l)
	}
	runs := writeSNRRuns(t, t.TempDir(), map[string][][]float64{"acc_per_char": acc, "logits_per_char_corr": ll})

	rows := snrCLI(t, runs...)
	r := rows["acc_per_char"]
	if r.LastN != 5 || math.Abs(r.Signal-0.1/0.55) > 1e-9 || math.Abs(r.Noise-math.Sqrt(14e-6)/0.55) > 1e-9 {
		t.Errorf("example 1: last %d, signal %.6f, noise %.6f; want 5, 0.181818, 0.006803", r.LastN, r.Signal, r.Noise)
	}
	if got := math.Round(r.SNR*100) / 100; got != 26.73 {
		t.Errorf("example 1: SNR %.4f, olmes.md §4.2 says 26.73", r.SNR)
	}
	// checkpoint averaging (olmes.md §4.4): each score the mean of the last 5; the finals are then
	// mean(c[3:])·m_j/0.549, the same signal; the noise is that of the trailing means at c's last 5
	var avg []float64
	for i := 3; i < len(c); i++ {
		w := c[max(0, i-4) : i+1] // the first windows are shorter: the mean of what there is
		var s float64
		for _, x := range w {
			s += x
		}
		avg = append(avg, s/float64(len(w)))
	}
	if math.Abs(r.AvgSignal-0.1/0.55) > 1e-9 || math.Abs(r.AvgNoise-relStdRef(avg)) > 1e-9 {
		t.Errorf("example 1, averaged: signal %.6f noise %.6f, want %.6f %.6f", r.AvgSignal, r.AvgNoise, 0.1/0.55, relStdRef(avg))
	}
	l := rows["logits_per_char_corr"]
	var neg []float64
	for _, x := range c[3:] {
		neg = append(neg, -x)
	}
	negM := []float64{-0.50, -0.52, -0.55, -0.58, -0.60}
	if sig, noise := signalRef(negM), relStdRef(neg); sig > 0 || noise > 0 || math.Abs(l.SNR-sig/noise) > 1e-6 ||
		math.Abs(l.Signal+sig) > 1e-9 || math.Abs(l.Noise+noise) > 1e-9 {
		t.Errorf("negative metric: signal %.6f noise %.6f SNR %.4f; the source's %.6f %.6f %.4f", l.Signal, l.Noise, l.SNR, sig, noise, sig/noise)
	}

	// --last 8: all eight checkpoints count
	r = snrCLI(t, append([]string{"--last", "8"}, runs...)...)["acc_per_char"]
	if r.LastN != 8 || math.Abs(r.Noise-relStdRef(c)) > 1e-9 || math.Abs(r.SNR-signalRef(m)/relStdRef(c)) > 1e-6 {
		t.Errorf("--last 8: last %d noise %.6f SNR %.4f, want 8, %.6f, %.4f", r.LastN, r.Noise, r.SNR, relStdRef(c), signalRef(m)/relStdRef(c))
	}

	// Example 2 (3 recipes × last 5): pooled, the source's small-scale code (compute_snr_small_scale): signal
	// from the per-run means 0.496, 0.528, 0.560 = 0.1212, noise std/mean of all 15 = 0.0523, SNR 2.32. Per run:
	// the noise is the mean of the three std/mean (0.0169) and the signal the finals' 0.07/0.53: SNR 7.81.
	ex2 := [][]float64{{0.48, 0.50, 0.49, 0.51, 0.50}, {0.53, 0.52, 0.54, 0.53, 0.52}, {0.55, 0.57, 0.56, 0.55, 0.57}}
	runs = writeSNRRuns(t, t.TempDir(), map[string][][]float64{"acc_raw": ex2})
	var pool []float64
	for _, xs := range ex2 {
		pool = append(pool, xs...)
	}
	r = snrCLI(t, append([]string{"--noise", "pooled"}, runs...)...)["acc_raw"]
	if math.Abs(r.Signal-0.064/0.528) > 1e-9 || math.Abs(r.Noise-relStdRef(pool)) > 1e-9 || math.Round(r.SNR*100)/100 != 2.32 {
		t.Errorf("example 2 pooled: signal %.6f noise %.6f SNR %.4f, want 0.121212, %.6f, 2.32", r.Signal, r.Noise, r.SNR, relStdRef(pool))
	}
	r = snrCLI(t, runs...)["acc_raw"]
	perRun := (relStdRef(ex2[0]) + relStdRef(ex2[1]) + relStdRef(ex2[2])) / 3
	if math.Abs(r.Signal-0.07/0.53) > 1e-9 || math.Abs(r.Noise-perRun) > 1e-9 || math.Abs(r.SNR-7.8142) > 1e-4 {
		t.Errorf("example 2 per run: signal %.6f noise %.6f SNR %.4f, want 0.132075, %.6f, 7.8142", r.Signal, r.Noise, r.SNR, perRun)
	}
	if !strings.Contains(fmt.Sprint(perRun), "0.0169") {
		t.Errorf("per-run noise %.5f, olmes.md says 0.0169", perRun)
	}
}

// TestSNRDecisionAccuracyCLI is olmes.md §4.3's example through `olmolab snr --target`: four recipes' small-scale
// final scores [0.40, 0.45, 0.43, 0.50] against their target-scale scores [0.60, 0.66, 0.68, 0.70]. Of the six
// pairs only the 2nd and 3rd recipes swap, so the decision accuracy is 5/6 = 0.833 (counted here with the
// source's rule: strict > on both sides, compared as booleans). A target list of another length is refused.
func TestSNRDecisionAccuracyCLI(t *testing.T) {
	small := []float64{0.40, 0.45, 0.43, 0.50}
	target := []float64{0.60, 0.66, 0.68, 0.70}
	var ss, ts [][]float64
	for i := range small {
		ss = append(ss, []float64{small[i] - 0.01, small[i]}) // two checkpoints: a noise to measure
		ts = append(ts, []float64{target[i] - 0.02, target[i]})
	}
	smallRuns := writeSNRRuns(t, t.TempDir(), map[string][][]float64{"acc_raw": ss})
	bigDir := t.TempDir()
	writeSNRRuns(t, bigDir, map[string][][]float64{"acc_raw": ts})
	agree, pairs := 0, 0
	for i := range small {
		for j := i + 1; j < len(small); j++ {
			if (small[i] > small[j]) == (target[i] > target[j]) {
				agree++
			}
			pairs++
		}
	}
	want := float64(agree) / float64(pairs)
	if want != 5.0/6 {
		t.Fatalf("hand count %v, olmes.md says 5/6", want)
	}

	out := filepath.Join(t.TempDir(), "snr.json")
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"snr", "--target", bigDir, "--json", out}, smallRuns...), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var tab struct {
		Targets []string
		Rows    []struct {
			DecisionAcc float64 `json:"decision_acc"`
		}
	}
	if err := json.Unmarshal(raw, &tab); err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 1 || math.Abs(tab.Rows[0].DecisionAcc-want) > 1e-12 || len(tab.Targets) != 4 {
		t.Errorf("rows %+v targets %v, want decision accuracy %.4f against 4 targets", tab.Rows, tab.Targets, want)
	}
	if s := stdout.String(); !strings.Contains(s, "dec.acc") || !strings.Contains(s, "0.833") ||
		!strings.Contains(s, "runs → targets: recipe0 → recipe0, recipe1 → recipe1") {
		t.Errorf("table does not show the decision accuracy or the pairs:\n%s", s)
	}

	stdout.Reset()
	stderr.Reset()
	if code := run(append([]string{"snr", "--target", filepath.Join(bigDir, "recipe0")}, smallRuns...), &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "4 runs but 1 target") {
		t.Errorf("one target for four runs: exit %d, want 2 saying so\n%s", code, stderr.String())
	}
}

// TestSNRTargetWithSoups: runs and targets pair in name order among the runs snr counts. Without --soups
// those are the runs (their soups and ingredients left out, of the targets too); with --soups a run's soup
// counts as a run, and a target's soup as a target, so "recipe0/soup" pairs with the target's
// "recipe0/soup". --soups with targets once always failed ("6 runs but 3 targets"): the targets' soups were
// dropped while the runs' were counted.
func TestSNRTargetWithSoups(t *testing.T) {
	write := func(dir string, main, soup []float64) []string {
		var runs []string
		for i := range main {
			name := fmt.Sprintf("recipe%d", i)
			rd := filepath.Join(dir, name)
			if err := os.MkdirAll(rd, 0o755); err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			for k, v := range []float64{main[i] - 0.01, main[i]} {
				fmt.Fprintf(&b, `{"run":%q,"step":%d,"task":"arc_easy","formulation":"rc","metric":"acc_raw","value":%v}`+"\n", name, 100*(k+1), v)
			}
			fmt.Fprintf(&b, `{"run":%q,"step":200,"task":"arc_easy","formulation":"rc","metric":"acc_raw","value":%v}`+"\n", name+"/soup", soup[i])
			if err := os.WriteFile(filepath.Join(rd, "evals.jsonl"), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			runs = append(runs, rd)
		}
		return runs
	}
	// by hand: the main runs order 0 < 1 < 2 at both scales (3 of 3 pairs agree). With the soups, in name
	// order r0 r0/soup r1 r1/soup r2 r2/soup, the small scores are 0.40 0.30 0.45 0.47 0.50 0.44 and the
	// targets' 0.60 0.62 0.65 0.55 0.70 0.75; of the 15 pairs, 8 are in the same order: (r0,r1) (r0,r2)
	// (r0,r2/soup) (r0/soup,r1) (r0/soup,r2) (r0/soup,r2/soup) (r1,r2) (r1/soup,r2).
	smallMain, smallSoup := []float64{0.40, 0.45, 0.50}, []float64{0.30, 0.47, 0.44}
	bigMain, bigSoup := []float64{0.60, 0.65, 0.70}, []float64{0.62, 0.55, 0.75}
	runs := write(t.TempDir(), smallMain, smallSoup)
	bigDir := t.TempDir()
	write(bigDir, bigMain, bigSoup)
	decAcc := func(a, b []float64) float64 {
		agree, pairs := 0, 0
		for i := range a {
			for j := i + 1; j < len(a); j++ {
				if (a[i] > a[j] && b[i] > b[j]) || (a[i] < a[j] && b[i] < b[j]) {
					agree++
				}
				pairs++
			}
		}
		return float64(agree) / float64(pairs)
	}
	snr := func(args ...string) (tab struct {
		Runs, Targets []string
		Rows          []struct {
			DecisionAcc float64 `json:"decision_acc"`
		}
	}, stdout string) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "snr.json")
		var so, se bytes.Buffer
		if code := run(append(append([]string{"snr", "--target", bigDir, "--json", out}, args...), runs...), &so, &se); code != 0 {
			t.Fatalf("snr %v: exit %d\n%s%s", args, code, so.String(), se.String())
		}
		raw, _ := os.ReadFile(out)
		if err := json.Unmarshal(raw, &tab); err != nil {
			t.Fatal(err)
		}
		return tab, so.String()
	}
	tab, _ := snr()
	if want := decAcc(smallMain, bigMain); len(tab.Rows) != 1 || tab.Rows[0].DecisionAcc != want || want != 1 || len(tab.Targets) != 3 {
		t.Errorf("without --soups: %+v, want decision accuracy %v over the 3 runs", tab, want)
	}
	small := []float64{smallMain[0], smallSoup[0], smallMain[1], smallSoup[1], smallMain[2], smallSoup[2]}
	big := []float64{bigMain[0], bigSoup[0], bigMain[1], bigSoup[1], bigMain[2], bigSoup[2]}
	tab, out := snr("--soups")
	want := decAcc(small, big)
	if want != 8.0/15 {
		t.Fatalf("decision accuracy %v, the hand count 8/15", want)
	}
	if len(tab.Rows) != 1 || math.Abs(tab.Rows[0].DecisionAcc-want) > 1e-12 || len(tab.Targets) != 6 {
		t.Errorf("--soups: %+v, want decision accuracy %v over 6 runs and 6 targets", tab, want)
	}
	if !strings.Contains(out, "recipe0/soup → recipe0/soup") {
		t.Errorf("--soups: the pairs do not pair the soups:\n%s", out)
	}
}

// TestSNRTargetsAllSoups: targets that are all soups or ingredients ("<run>/soup") are left out without
// --soups, as the runs' are; decision accuracy then vanished from the table without a word (exit 0, no
// decision accuracy). snr now refuses (exit 2), naming the targets it left out and --soups.
func TestSNRTargetsAllSoups(t *testing.T) {
	small, big := t.TempDir(), t.TempDir()
	var runs []string
	for i, v := range []float64{0.40, 0.45, 0.50} {
		name := fmt.Sprintf("recipe%d", i)
		for _, d := range []struct {
			dir, run string
		}{{small, name}, {big, name + "/soup"}} { // the targets' evaluations are all of their soups
			rd := filepath.Join(d.dir, name)
			if err := os.MkdirAll(rd, 0o755); err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			for k, x := range []float64{v - 0.01, v} {
				fmt.Fprintf(&b, `{"run":%q,"step":%d,"task":"arc_easy","formulation":"rc","metric":"acc_raw","value":%v}`+"\n", d.run, 100*(k+1), x)
			}
			if err := os.WriteFile(filepath.Join(rd, "evals.jsonl"), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		runs = append(runs, filepath.Join(small, name))
	}
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"snr", "--target", big}, runs...), &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--soups") ||
		!strings.Contains(stderr.String(), "3 targets were left out: recipe0/soup, recipe1/soup, recipe2/soup") {
		t.Errorf("targets all soups: exit %d, want 2 naming the soups left out and --soups\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
}
