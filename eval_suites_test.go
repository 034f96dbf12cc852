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

	"github.com/olmolab/olmolab/lab/olmes"
)

// TestEvalSuiteScores: eval of OLMES tasks in both formulations prints and writes (--json) each task's
// <task>::olmes, the better of its MC and RC primary scores, and the suites with the members they lack
// instead of a mean of what is there; eval --record records the task maxima, and snr ranks them as rows.
func TestEvalSuiteScores(t *testing.T) {
	olmesData := filepath.Join("..", "shared", "data", "olmes")
	if _, err := os.Stat(olmesData); err != nil {
		t.Skip("../shared/data/olmes is absent")
	}
	runs := t.TempDir()
	var out, errb bytes.Buffer
	for i, r := range []string{"a", "b"} {
		if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", r, "--set", fmt.Sprintf("seed=%d", 11+i),
			"--set", "checkpoint.keep=5", "--set", "eval.tasks=[arith]", "--set", "eval.limit=5"}, &out, &errb); code != 0 {
			t.Fatalf("batch %s: exit %d: %s", r, code, errb.String())
		}
	}
	tasks := []string{"--tasks", "piqa,piqa:mc,arc_easy,arc_easy:mc", "--split", "validation", "--limit", "4", "--data", olmesData}
	js := filepath.Join(t.TempDir(), "eval.json")
	out.Reset()
	if code := run(append([]string{"eval", "--model", filepath.Join(runs, "a", "checkpoints", "step-10"), "--seq", "64", "--json", js}, tasks...), &out, &errb); code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errb.String())
	}
	var res olmes.Results
	b, _ := os.ReadFile(js)
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	primary := map[string]float64{}
	for _, s := range res.Scores {
		primary[s.Task+":"+s.Formulation.String()] = s.PrimaryScore()
	}
	aggs := map[string]olmes.Aggregate{}
	for _, a := range res.Aggregates {
		aggs[a.Name] = a
	}
	text := strings.Join(strings.Fields(out.String()), " ")
	for _, task := range []string{"piqa", "arc_easy"} {
		a, ok := aggs[task+"::olmes"]
		mc, rc := primary[task+":mc"], primary[task+":rc"]
		best, v := "rc", rc
		if mc > rc {
			best, v = "mc", mc
		}
		if !ok || !a.Complete() || *a.Score != v || a.Best != best || a.Split != "validation" {
			t.Errorf("%s::olmes = %+v, want max(mc %v, rc %v) = %v (%s)", task, a, mc, rc, v, best)
			continue
		}
		if want := fmt.Sprintf("%s::olmes mc_or_rc validation %.4f mc %.4f, rc %.4f: %s", task, v, mc, rc, best); !strings.Contains(text, want) {
			t.Errorf("eval output lacks %q:\n%s", want, out.String())
		}
	}
	if a := aggs[olmes.SuiteCore9]; a.Complete() || len(a.Missing) != 7 || a.Score != nil {
		t.Errorf("core_9mcqa::olmes of two tasks: %+v, want no score and 7 missing", a)
	}
	// 2 of 9 tasks: left out of the table, said once (it was a line "2 of 9: missing …" as long as the table)
	if want := "OLMES suites left out, too few of their tasks scored to mean something: core_9mcqa::olmes (2 of 9), core_9mcqa:rc::olmes (2 of 9), core_9mcqa+mmlu::olmes (2 of 10)"; !strings.Contains(text, want) || strings.Contains(text, "of 9: missing") {
		t.Errorf("eval output lacks %q, or lists the suite:\n%s", want, out.String())
	}
	if !bytes.Contains(b, []byte(`"name": "core_9mcqa::olmes"`)) || !bytes.Contains(b, []byte(`"score": null`)) {
		t.Errorf("eval --json: an incomplete suite without its score null:\n%s", b)
	}

	// recorded at each kept checkpoint, the task maxima (complete) but no incomplete suite
	for _, r := range []string{"a", "b"} {
		out.Reset()
		if code := run(append([]string{"eval", "--model", filepath.Join(runs, r), "--record"}, tasks...), &out, &errb); code != 0 {
			t.Fatalf("eval --record %s: exit %d: %s", r, code, errb.String())
		}
		// five checkpoints, the same suites left out: said once
		if n := strings.Count(out.String(), "OLMES suites left out"); n != 1 {
			t.Errorf("eval --record %s: the suites left out said %d times:\n%s", r, n, out.String())
		}
	}
	recs, err := olmes.ReadEvalRecords(filepath.Join(runs, "a", "evals.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	type at struct {
		task string
		step int
	}
	rec := map[at]float64{}
	for _, r := range recs {
		if r.Primary && r.Recorded() {
			rec[at{r.Task + ":" + r.Formulation.String(), r.Step}] = r.Value
		}
		if r.Task == olmes.SuiteCore9 || r.Task == olmes.SuiteCore9RC {
			t.Errorf("an incomplete suite recorded: %+v", r)
		}
	}
	for _, step := range []int{4, 8, 10} {
		got, ok := rec[at{"piqa::olmes:mc_or_rc", step}]
		if want := math.Max(rec[at{"piqa:mc", step}], rec[at{"piqa:rc", step}]); !ok || got != want {
			t.Errorf("piqa::olmes at step %d: %v (recorded %v), want %v", step, got, ok, want)
		}
	}
	js = filepath.Join(t.TempDir(), "snr.json")
	out.Reset()
	if code := run([]string{"snr", runs, "--last", "3", "--json", js}, &out, &errb); code != 0 {
		t.Fatalf("snr: exit %d: %s", code, errb.String())
	}
	var tab olmes.SNRTable
	b, _ = os.ReadFile(js)
	if err := json.Unmarshal(b, &tab); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, r := range tab.Rows {
		if (r.Task == "piqa::olmes" || r.Task == "arc_easy::olmes") && r.Formulation == olmes.MCOrRC && r.Metric == olmes.MetricPrimaryScore && r.Runs == 2 {
			found++
		}
	}
	if found != 2 || !strings.Contains(out.String(), "piqa::olmes") {
		t.Errorf("snr has %d of the 2 task maxima as rows:\n%s", found, out.String())
	}
}

// TestEvalSuitesAcrossRecords: piqa recorded in RC and in MC by two eval --record calls (as one job per
// formulation would), with no suite record written by either, gives snr its piqa::olmes row, the better of
// the two at each checkpoint; before, only one evaluation of both formulations made it. An oe-eval suite
// name in --tasks (piqa::olmes) scores both formulations and prints the suite; it scored RC alone before.
func TestEvalSuitesAcrossRecords(t *testing.T) {
	olmesData := filepath.Join("..", "shared", "data", "olmes")
	if _, err := os.Stat(olmesData); err != nil {
		t.Skip("../shared/data/olmes is absent")
	}
	runs := t.TempDir()
	var out, errb bytes.Buffer
	for i, r := range []string{"a", "b"} {
		if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", r, "--set", fmt.Sprintf("seed=%d", 11+i),
			"--set", "checkpoint.keep=5", "--set", "eval.tasks=[arith]", "--set", "eval.limit=5"}, &out, &errb); code != 0 {
			t.Fatalf("batch %s: exit %d: %s", r, code, errb.String())
		}
	}
	opts := []string{"--split", "validation", "--limit", "4", "--data", olmesData}
	out.Reset()
	if code := run(append([]string{"eval", "--model", filepath.Join(runs, "a", "checkpoints", "step-10"), "--seq", "64", "--tasks", "piqa::olmes"}, opts...), &out, &errb); code != 0 {
		t.Fatalf("eval --tasks piqa::olmes: exit %d: %s", code, errb.String())
	}
	if text := strings.Join(strings.Fields(out.String()), " "); !strings.Contains(text, "piqa::olmes mc_or_rc validation") {
		t.Errorf("eval --tasks piqa::olmes prints no piqa::olmes:\n%s", out.String())
	}
	for _, r := range []string{"a", "b"} {
		for _, task := range []string{"piqa", "piqa:mc"} {
			if code := run(append([]string{"eval", "--model", filepath.Join(runs, r), "--record", "--tasks", task}, opts...), &out, &errb); code != 0 {
				t.Fatalf("eval --record --tasks %s of %s: exit %d: %s", task, r, code, errb.String())
			}
		}
	}
	recs, err := olmes.ReadEvalRecords(filepath.Join(runs, "a", "evals.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Metric == olmes.MetricPrimaryScore {
			t.Fatalf("a suite recorded by one of the two evaluations: %+v", r)
		}
	}
	js := filepath.Join(t.TempDir(), "snr.json")
	out.Reset()
	if code := run([]string{"snr", runs, "--last", "3", "--json", js}, &out, &errb); code != 0 {
		t.Fatalf("snr: exit %d: %s", code, errb.String())
	}
	var tab olmes.SNRTable
	b, _ := os.ReadFile(js)
	if err := json.Unmarshal(b, &tab); err != nil {
		t.Fatal(err)
	}
	// the row's mean is the mean of the runs' final max(MC, RC)
	final := func(run string) float64 {
		recs, err := olmes.ReadEvalRecords(filepath.Join(runs, run, "evals.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		last, v := -1, map[string]float64{}
		for _, r := range recs {
			if r.Task == "piqa" && r.Primary {
				if r.Step > last {
					last, v = r.Step, map[string]float64{}
				}
				if r.Step == last {
					v[r.Formulation.String()] = r.Value
				}
			}
		}
		return math.Max(v["mc"], v["rc"])
	}
	want := (final("a") + final("b")) / 2
	found := false
	for _, r := range tab.Rows {
		if r.Task == "piqa::olmes" && r.Formulation == olmes.MCOrRC && r.Metric == olmes.MetricPrimaryScore {
			found = true
			if r.Runs != 2 || math.Abs(r.Mean-want) > 1e-12 {
				t.Errorf("piqa::olmes row %+v, want mean %v over 2 runs", r, want)
			}
		}
	}
	if !found {
		t.Errorf("snr has no piqa::olmes row from the two records:\n%s", out.String())
	}
}
