package olmes

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// suiteScores are an evaluation of the ten OLMES tasks in both formulations on OLMES's splits: the primary
// metric (the RC metric of olmes.md §1.3, acc_raw for MC) holds the scores below, every other metric 0.99, which a
// suite must not read.
func suiteScores(t *testing.T, mcRC map[string][2]float64) []Score {
	t.Helper()
	var out []Score
	for _, task := range append(slices.Clone(core9), "mmlu") {
		v, ok := mcRC[task]
		if !ok {
			continue
		}
		b, _, _, _, _ := lookupBenchmark(task)
		for i, f := range []Formulation{MC, RC} {
			if math.IsNaN(v[i]) {
				continue
			}
			primary := MetricAccRaw
			if f == RC {
				primary = b.RCMetric
			}
			m := map[string]float64{MetricAccRaw: 0.99, MetricAccPerChar: 0.99, MetricAccUncond: 0.99, MetricBPB: 0.99}
			m[primary] = v[i]
			out = append(out, Score{Task: task, Formulation: f, Group: "olmes", Split: b.Split, Primary: primary, Instances: 10, Metrics: m})
		}
	}
	return out
}

// TestSuiteScoresByHand: olmes.md §1.1 and §3's suites, worked by hand.
//
//	task           mc    rc    ::olmes (max)
//	arc_easy       0.30  0.55  0.55 rc
//	arc_challenge  0.40  0.30  0.40 mc
//	boolq          0.62  0.60  0.62 mc
//	csqa           0.25  0.45  0.45 rc
//	hellaswag      0.35  0.50  0.50 rc
//	openbookqa     0.30  0.30  0.30 (equal: rc)
//	piqa           0.55  0.70  0.70 rc
//	siqa           0.45  0.40  0.45 mc   (oe-eval's socialiqa::olmes)
//	winogrande     0.52  0.55  0.55 rc
//	sums                 4.35  4.52
//	mmlu           0.28  0.33  0.33 rc
//
// core_9mcqa::olmes = 4.52/9 = 0.502222…, core_9mcqa:rc::olmes = 4.35/9 = 0.483333…, and the ten-task average
// (4.52+0.33)/10 = 0.485 (MMLU one task of ten, not half the score).
func TestSuiteScoresByHand(t *testing.T) {
	nan := math.NaN()
	all := map[string][2]float64{
		"arc_easy": {0.30, 0.55}, "arc_challenge": {0.40, 0.30}, "boolq": {0.62, 0.60}, "csqa": {0.25, 0.45},
		"hellaswag": {0.35, 0.50}, "openbookqa": {0.30, 0.30}, "piqa": {0.55, 0.70}, "siqa": {0.45, 0.40},
		"winogrande": {0.52, 0.55}, "mmlu": {0.28, 0.33},
	}
	aggs := Aggregates(suiteScores(t, all))
	got := map[string]Aggregate{}
	for _, a := range aggs {
		got[a.Name] = a
	}
	for _, c := range []struct {
		name  string
		score float64
		best  string
		f     Formulation
		split string
	}{
		{"arc_easy::olmes", 0.55, "rc", MCOrRC, "test"}, {"arc_challenge::olmes", 0.40, "mc", MCOrRC, "test"},
		{"boolq::olmes", 0.62, "mc", MCOrRC, "validation"}, {"openbookqa::olmes", 0.30, "rc", MCOrRC, "test"},
		{"socialiqa::olmes", 0.45, "mc", MCOrRC, "validation"}, {"mmlu::olmes", 0.33, "rc", MCOrRC, "test"},
		{SuiteCore9, 4.52 / 9, "", MCOrRC, ""}, {SuiteCore9RC, 4.35 / 9, "", RC, ""}, {SuiteCore9MMLU, 0.485, "", MCOrRC, ""},
	} {
		a, ok := got[c.name]
		if !ok {
			t.Errorf("no %s among %d aggregates", c.name, len(aggs))
			continue
		}
		if !a.Complete() || math.Abs(*a.Score-c.score) > 1e-12 || a.Best != c.best || a.Formulation != c.f || a.Split != c.split {
			t.Errorf("%s = %+v (score %v), want %.6f best %q formulation %s split %q", c.name, a, a.Score, c.score, c.best, c.f, c.split)
		}
	}
	if len(aggs) != 10+3 {
		t.Errorf("%d aggregates, want 10 tasks and 3 suites", len(aggs))
	}

	// without csqa's MC score: csqa::olmes, so core_9mcqa::olmes and the ten-task average are missing a
	// member and have no score (not the mean of the other eight); the RC suite is whole
	part := map[string][2]float64{}
	for k, v := range all {
		part[k] = v
	}
	part["csqa"] = [2]float64{nan, 0.45}
	got = map[string]Aggregate{}
	for _, a := range Aggregates(suiteScores(t, part)) {
		got[a.Name] = a
	}
	if _, ok := got["csqa::olmes"]; ok {
		t.Error("csqa::olmes from its RC score alone")
	}
	if a := got[SuiteCore9]; a.Complete() || !slices.Equal(a.Missing, []string{"csqa::olmes"}) || len(a.Members) != 9 {
		t.Errorf("core_9mcqa::olmes without csqa's MC: %+v, want no score, csqa::olmes missing", a)
	}
	if a := got[SuiteCore9MMLU]; a.Complete() || !slices.Equal(a.Missing, []string{"csqa::olmes"}) || len(a.Members) != 10 {
		t.Errorf("ten-task average without csqa's MC: %+v", a)
	}
	if a := got[SuiteCore9RC]; !a.Complete() || math.Abs(*a.Score-4.35/9) > 1e-12 {
		t.Errorf("core_9mcqa:rc::olmes = %+v, want 4.35/9", a)
	}
	var buf bytes.Buffer
	if err := WriteAggregates(&buf, Aggregates(suiteScores(t, part)), nil); err != nil {
		t.Fatal(err)
	}
	out := strings.Join(strings.Fields(buf.String()), " ")
	for _, want := range []string{
		"arc_easy::olmes mc_or_rc test 0.5500 mc 0.3000, rc 0.5500: rc",
		"core_9mcqa::olmes mc_or_rc olmes - 8 of 9: missing csqa::olmes (each in both formulations: --tasks core9,core9:mc)",
		"core_9mcqa:rc::olmes rc olmes 0.4833 9 of 9",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("suite table lacks %q:\n%s", want, buf.String())
		}
	}

	// two tasks in one formulation, on another split: no task's max, the RC suite named with its split and the
	// seven tasks it lacks; one task alone makes no suite
	two := suiteScores(t, map[string][2]float64{"piqa": {nan, 0.7}, "arc_easy": {nan, 0.5}})
	for i := range two {
		two[i].Split = "validation"
	}
	aggs = Aggregates(two)
	if len(aggs) != 3 || aggs[1].Name != SuiteCore9RC || aggs[1].Split != "validation" || len(aggs[1].Missing) != 7 || aggs[1].Complete() {
		t.Errorf("piqa and arc_easy in RC on validation: %+v", aggs)
	}
	if aggs := Aggregates(two[:1]); len(aggs) != 0 {
		t.Errorf("one task: %+v, want no suite", aggs)
	}

	// records: one per complete suite score, which SNR reads as a task of its own
	r := Results{Scores: suiteScores(t, all)}
	r.Aggregates = Aggregates(r.Scores)
	n := 0
	for _, rec := range r.Records("a", 10, 100, "") {
		if rec.Metric != MetricPrimaryScore {
			continue
		}
		n++
		if rec.Task == SuiteCore9 && (rec.Formulation != MCOrRC || math.Abs(rec.Value-4.52/9) > 1e-12 || !rec.Primary) {
			t.Errorf("core_9mcqa::olmes record %+v", rec)
		}
	}
	if n != 13 {
		t.Errorf("%d suite records, want 13", n)
	}
}

// oeEvalTasks are oe-eval's names of OLMES's ten multiple-choice tasks (configs/task_suites.py, OLMES_MC_TASKS,
// at the commit olmes.md §0 names), written out as a researcher would paste them.
var oeEvalTasks = []string{"arc_easy", "arc_challenge", "boolq", "csqa", "hellaswag", "openbookqa", "piqa", "socialiqa", "winogrande", "mmlu"}

// TestOEEvalTaskNames: each of oe-eval's ten task names, in its task_suites.py spellings (<task>:rc::olmes,
// <task>:mc::olmes, <task>::olmes), is our task in that formulation, and the suite scores are named as oe-eval
// names them: "socialiqa::olmes" with members "socialiqa:mc::olmes" and "socialiqa:rc::olmes", and
// core_9mcqa:rc::olmes missing "socialiqa:rc::olmes". They read "siqa::olmes" before, which no OLMES table has.
func TestOEEvalTaskNames(t *testing.T) {
	ours := OLMESTaskNames()
	if len(ours) != len(oeEvalTasks) {
		t.Fatalf("%d OLMES tasks %v, oe-eval has %d", len(ours), ours, len(oeEvalTasks))
	}
	for i, oe := range oeEvalTasks {
		if got := oeEvalName(ours[i]); got != oe {
			t.Errorf("oe-eval's name of %s = %q, want %q", ours[i], got, oe)
		}
		for _, c := range []struct {
			suffix string
			f      Formulation
			hasF   bool
		}{{"", RC, false}, {":rc::olmes", RC, true}, {":mc::olmes", MC, true}, {"::olmes", RC, false}} {
			b, _, f, hasF, ok := lookupBenchmark(oe + c.suffix)
			if !ok || b.Name != ours[i] || hasF != c.hasF || hasF && f != c.f {
				t.Errorf("%s%s: benchmark %v ok %v formulation %v (given %v), want %s %v", oe, c.suffix, b, ok, f, hasF, ours[i], c.f)
			}
		}
		// our short names still work
		if b, _, _, _, ok := lookupBenchmark(ours[i] + ":mc::olmes"); !ok || b.Name != ours[i] {
			t.Errorf("%s:mc::olmes no longer resolves", ours[i])
		}
	}

	got := map[string]Aggregate{}
	for _, a := range Aggregates(suiteScores(t, map[string][2]float64{"siqa": {0.45, 0.40}, "piqa": {0.55, 0.70}})) {
		got[a.Name] = a
	}
	if a, ok := got["socialiqa::olmes"]; !ok || !slices.Equal(a.Members, []string{"socialiqa:mc::olmes", "socialiqa:rc::olmes"}) {
		t.Errorf("siqa in both formulations: %v, want socialiqa::olmes of socialiqa:mc::olmes and socialiqa:rc::olmes", got)
	}
	if a := got[SuiteCore9RC]; !slices.Contains(a.Members, "socialiqa:rc::olmes") || slices.Contains(a.Missing, "socialiqa:rc::olmes") {
		t.Errorf("core_9mcqa:rc::olmes members %v missing %v, want socialiqa:rc::olmes scored", a.Members, a.Missing)
	}
	if a := got[SuiteCore9]; !slices.Contains(a.Members, "socialiqa::olmes") {
		t.Errorf("core_9mcqa::olmes members %v, want socialiqa::olmes", a.Members)
	}
}

// TestSNRSuitesFromSeparateRecords: a run that evaluated the nine core tasks in RC as it trained, and whose MC
// scores olmolab eval --record wrote afterwards (a separate evaluation, appended later), has OLMES's suite
// scores in snr: built from the two evaluations' records of each checkpoint. Before, a suite came only from
// one evaluation of both formulations, so these runs had no core_9mcqa::olmes and no socialiqa::olmes rows.
// By hand, run i at step s (1–3) scores task j (0–8, core9's order) rc = 0.30 + 0.01j + 0.1i + 0.001s, and mc
// = rc + 0.05 for siqa (MC wins), rc − 0.05 for the others (RC wins); so at the last step
// core_9mcqa::olmes = (0.30 + 0.04 + 0.1i + 0.003) + 0.05/9 and socialiqa::olmes = 0.30 + 0.07 + 0.1i + 0.003
// + 0.05. A run whose winogrande MC was never recorded has no core_9mcqa::olmes (a member missing: no score),
// so snr has no such row, though it keeps socialiqa::olmes and core_9mcqa:rc::olmes. A suite record that its
// members' later records contradict (stale) gives way to theirs.
func TestSNRSuitesFromSeparateRecords(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, i int, skipMC string) string {
		var own, later []EvalRecord
		for s := 1; s <= 3; s++ {
			for j, task := range core9 {
				b, _, _, _, _ := lookupBenchmark(task)
				rc := 0.30 + 0.01*float64(j) + 0.1*float64(i) + 0.001*float64(s)
				mc := rc - 0.05
				if task == "siqa" {
					mc = rc + 0.05
				}
				own = append(own, EvalRecord{Run: name, Step: 100 * s, Why: "interval", Task: task, Formulation: RC, Split: b.Split, Metric: b.RCMetric, Value: rc, Primary: true, Group: "olmes"},
					EvalRecord{Run: name, Step: 100 * s, Why: "interval", Task: task, Formulation: RC, Split: b.Split, Metric: MetricAccRaw, Value: 0.99, Group: "olmes"})
				if task != skipMC {
					later = append(later, EvalRecord{Run: name, Step: 100 * s, Why: WhyRecorded, Task: task, Formulation: MC, Split: b.Split, Metric: MetricAccRaw, Value: mc, Primary: true, Group: "olmes"})
				}
			}
		}
		// r0 holds, before its MC records, the core_9mcqa::olmes an earlier eval --record of both
		// formulations wrote at step 300, whose members a rerun replaced (RecordEvals replaces the tasks'
		// records, not the suites they made): stale, so the members' figures count
		stale := []EvalRecord{{Run: name, Step: 300, Why: WhyRecorded, Task: SuiteCore9, Formulation: MCOrRC, Metric: MetricPrimaryScore, Value: 0.9, Primary: true, Group: "olmes"}}
		if i != 0 {
			stale = nil
		}
		var buf bytes.Buffer
		for _, r := range slices.Concat(own, stale, later) {
			line, _ := json.Marshal(r)
			buf.Write(append(line, '\n'))
		}
		rd := filepath.Join(dir, name)
		if err := os.MkdirAll(rd, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rd, "evals.jsonl"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return rd
	}
	r0, r1 := write("r0", 0, ""), write("r1", 1, "")
	core := func(i int) float64 { return 0.30 + 0.04 + 0.1*float64(i) + 0.003 + 0.05/9 }
	siqa := func(i int) float64 { return 0.30 + 0.07 + 0.1*float64(i) + 0.003 + 0.05 }
	rows := func(runs []RunEvals, err error) map[string]SNRRow {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		tab, err := SNR(runs, SNROptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]SNRRow{}
		for _, r := range tab.Rows {
			if r.Metric == MetricPrimaryScore {
				out[r.Task] = r
			}
		}
		if !strings.Contains(tab.DescribeRecorded(), "socialiqa::olmes") {
			t.Errorf("the suites are not named as scored afterwards: %q", tab.DescribeRecorded())
		}
		return out
	}
	// both readers: the streaming one snr uses, and the whole-record one
	for name, got := range map[string]map[string]SNRRow{
		"tails":   rows(LoadRunEvalTails(5, "", r0, r1)),
		"records": rows(LoadRunEvals(r0, r1)),
	} {
		c, ok := got[SuiteCore9]
		if !ok || c.Formulation != MCOrRC || c.LastN != 3 || math.Abs(c.Mean-(core(0)+core(1))/2) > 1e-12 {
			t.Errorf("%s: core_9mcqa::olmes row %+v (present %v), want mean %.6f over 3 checkpoints", name, c, ok, (core(0)+core(1))/2)
		}
		if s := got["socialiqa::olmes"]; math.Abs(s.Mean-(siqa(0)+siqa(1))/2) > 1e-12 {
			t.Errorf("%s: socialiqa::olmes row %+v, want mean %.6f (MC)", name, s, (siqa(0)+siqa(1))/2)
		}
		if _, ok := got[SuiteCore9RC]; !ok {
			t.Errorf("%s: no core_9mcqa:rc::olmes row", name)
		}
	}
	// a member missing in one run: no score for it, so no row
	r1 = write("r1", 1, "winogrande")
	got := rows(LoadRunEvalTails(5, "", r0, r1))
	if c, ok := got[SuiteCore9]; ok {
		t.Errorf("core_9mcqa::olmes with winogrande's MC missing in r1: %+v, want no row", c)
	}
	if _, ok := got["socialiqa::olmes"]; !ok {
		t.Error("socialiqa::olmes lost with winogrande's MC")
	}
}

// TestOEEvalSuiteNames: an OLMES suite named as oe-eval names it, pasted into --tasks, is its tasks in the
// formulations it folds, so the evaluation gets its score: socialiqa::olmes read as siqa in RC alone (no
// socialiqa::olmes score), core_9mcqa::olmes was an unknown task.
func TestOEEvalSuiteNames(t *testing.T) {
	rcmc := func(tasks ...string) []string {
		var out []string
		for _, f := range []string{":rc::olmes", ":mc::olmes"} {
			for _, task := range tasks {
				out = append(out, task+f)
			}
		}
		return out
	}
	for _, c := range []struct {
		name string
		want []string
	}{
		{"socialiqa::olmes", rcmc("socialiqa")},
		{"mmlu::olmes", rcmc("mmlu")},
		{"ARC_Easy::olmes", rcmc("arc_easy")},
		{"core_9mcqa::olmes", rcmc(core9...)},
		{"core_9mcqa:rc::olmes", rcmc(core9...)[:9]},
		{"core_9mcqa+mmlu::olmes", rcmc(append(slices.Clone(core9), "mmlu")...)},
		{"piqa::olmes,fact_cloze", append(rcmc("piqa"), "fact_cloze")},
		// not suites: a task in one formulation, an MMLU subject, a built-in task
		{"socialiqa:rc::olmes", []string{"socialiqa:rc::olmes"}},
		{"mmlu_anatomy::olmes", []string{"mmlu_anatomy::olmes"}},
		{"arith::olmes", []string{"arith::olmes"}},
	} {
		got := taskNames([]string{c.name})
		if !slices.Equal(got, c.want) {
			t.Errorf("taskNames(%q) = %v, want %v", c.name, got, c.want)
		}
	}
	// each task a suite names resolves, in its formulation
	for _, name := range taskNames([]string{"core_9mcqa+mmlu::olmes"}) {
		if _, _, f, hasF, ok := lookupBenchmark(name); !ok || !hasF || (f == MC) != strings.Contains(name, ":mc") {
			t.Errorf("%s: ok %v formulation %v (given %v)", name, ok, f, hasF)
		}
	}
	// the suites' scores come out of an evaluation of those tasks
	var scores []Score
	for _, name := range taskNames([]string{"core_9mcqa+mmlu::olmes"}) {
		b, _, f, _, ok := lookupBenchmark(name)
		if !ok {
			t.Fatalf("%s: no such task", name)
		}
		scores = append(scores, Score{Task: b.Name, Formulation: f, Split: b.Split, Primary: MetricAccRaw, Metrics: map[string]float64{MetricAccRaw: 0.5}})
	}
	complete := 0
	for _, a := range Aggregates(scores) {
		if a.Complete() {
			complete++
		}
	}
	if complete != 13 {
		t.Errorf("%d complete suites from core_9mcqa+mmlu::olmes's tasks, want 13 (ten tasks' ::olmes and three suites)", complete)
	}
}

// TestSuiteInstanceCounts: a suite is made of members of one set of instance counts, and its records say how many
// instances it folds, so a ::olmes:full core_9mcqa::olmes and a 1000-instance one are two series. Worked by hand:
// OLMES's splits hold arc_easy 2376, arc_challenge 1172, boolq 3270, csqa 1221, hellaswag 10042, openbookqa 500,
// piqa 1838, siqa 1954, winogrande 1267 instances (sum 23640); --limit 1000 leaves 1000 of each but openbookqa's
// 500 (sum 8500). At step 1 every task is recorded on both, RC 0.5 and MC 0.25 on 1000, RC 0.6 and MC 0.25 on all
// (openbookqa's 500 are one set: its later record, 0.6, counts in both): core_9mcqa::olmes is 0.6 on 23640 and
// (8·0.5+0.6)/9 = 0.51111… on 8500. At step 2 arc_easy is scored on all its 2376 and the others on 1000: no
// core_9mcqa::olmes (it made one of the two before, (0.6+8·0.5)/9), arc_easy::olmes on 2376.
func TestSuiteInstanceCounts(t *testing.T) {
	full := map[string]int{"arc_easy": 2376, "arc_challenge": 1172, "boolq": 3270, "csqa": 1221, "hellaswag": 10042,
		"openbookqa": 500, "piqa": 1838, "siqa": 1954, "winogrande": 1267}
	rec := func(step int, task string, f Formulation, n int, v float64) EvalRecord {
		b, _, _, _, _ := lookupBenchmark(task)
		return EvalRecord{Run: "r", Step: step, Task: task, Formulation: f, Split: b.Split, Instances: n, Metric: MetricAccRaw,
			Value: v, Primary: true, Group: "olmes", Why: WhyRecorded}
	}
	var recs []EvalRecord
	for _, task := range core9 {
		recs = append(recs, rec(1, task, RC, min(1000, full[task]), 0.5), rec(1, task, MC, min(1000, full[task]), 0.25))
	}
	for _, task := range core9 {
		recs = append(recs, rec(1, task, RC, full[task], 0.6), rec(1, task, MC, full[task], 0.25))
		if task == "arc_easy" {
			recs = append(recs, rec(2, task, RC, full[task], 0.6), rec(2, task, MC, full[task], 0.25))
		} else {
			recs = append(recs, rec(2, task, RC, min(1000, full[task]), 0.5), rec(2, task, MC, min(1000, full[task]), 0.25))
		}
	}
	type got struct {
		step, n int
		v       float64
	}
	suites := map[string][]got{}
	for _, r := range SuiteRecords(recs) {
		if r.Task == SuiteCore9 || r.Task == "arc_easy::olmes" {
			suites[r.Task] = append(suites[r.Task], got{r.Step, r.Instances, math.Round(r.Value*1e6) / 1e6})
		}
	}
	want := map[string][]got{
		SuiteCore9:        {{1, 8500, 0.511111}, {1, 23640, 0.6}},
		"arc_easy::olmes": {{1, 1000, 0.5}, {1, 2376, 0.6}, {2, 2376, 0.6}},
	}
	for name, w := range want {
		if !slices.Equal(suites[name], w) {
			t.Errorf("%s: %v (step, instances, score), want %v", name, suites[name], w)
		}
	}

	// one evaluation: MC and RC of a task on two counts make no max(MC, RC); the table says why
	scores := suiteScores(t, map[string][2]float64{"piqa": {0.3, 0.7}, "arc_easy": {0.3, 0.55}})
	scores[0].Instances = 1000 // arc_easy MC
	aggs := Aggregates(scores)
	if len(aggs) < 2 || aggs[0].Complete() || aggs[0].Differ != "mc on 1000 instances, rc on 10" || !aggs[1].Complete() || aggs[1].Instances != 10 {
		t.Fatalf("aggregates %+v", aggs)
	}
	var b bytes.Buffer
	if err := WriteAggregates(&b, aggs, nil); err != nil || !strings.Contains(b.String(), "instance counts differ: mc on 1000 instances, rc on 10") {
		t.Errorf("table does not say the counts differ (%v):\n%s", err, b.String())
	}
}

// TestShownSuites: an evaluation of arc_easy and piqa in RC (eval --tasks arc_easy,piqa) lists none of the three
// core_9mcqa suites it scored 0 or 2 of 9 (10) tasks of, each a line as long as the table, but says once which it
// left out; a suite asked for by name or group is listed however little of it was scored, as is one of which more
// than half the members were.
func TestShownSuites(t *testing.T) {
	nan := math.NaN()
	write := func(scores map[string][2]float64, asked []string) string {
		var b strings.Builder
		if err := WriteAggregates(&b, Aggregates(suiteScores(t, scores)), asked); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	two := map[string][2]float64{"arc_easy": {nan, 0.5}, "piqa": {nan, 0.6}}
	out := write(two, nil)
	if strings.Contains(out, "OLMES suites (") || strings.Contains(out, "missing") {
		t.Errorf("suites of 2 of 9 tasks listed:\n%s", out)
	}
	if want := "OLMES suites left out, too few of their tasks scored to mean something: core_9mcqa::olmes (0 of 9), core_9mcqa:rc::olmes (2 of 9), core_9mcqa+mmlu::olmes (0 of 10); name one in --tasks"; strings.Count(out, want) != 1 {
		t.Errorf("want once %q:\n%s", want, out)
	}
	out = write(two, SuitesAsked([]string{"arc_easy,piqa", "core_9mcqa:rc::olmes"}))
	if !strings.Contains(out, "core_9mcqa:rc::olmes") || !strings.Contains(out, "2 of 9: missing") || !strings.Contains(out, "left out, too few of their tasks scored to mean something: core_9mcqa::olmes (0 of 9), core_9mcqa+mmlu::olmes (0 of 10);") {
		t.Errorf("core_9mcqa:rc::olmes asked for:\n%s", out)
	}
	five := map[string][2]float64{}
	for _, task := range core9[:5] {
		five[task] = [2]float64{nan, 0.5}
	}
	if out := write(five, nil); !strings.Contains(out, "5 of 9: missing") || !strings.Contains(out, "core_9mcqa::olmes (0 of 9)") {
		t.Errorf("5 of 9 RC tasks: core_9mcqa:rc::olmes not listed, or core_9mcqa::olmes not left out:\n%s", out)
	}
	for _, c := range []struct {
		names []string
		want  []string
	}{
		{[]string{"arc_easy,piqa"}, nil},
		{[]string{"core9:mc"}, []string{SuiteCore9, SuiteCore9RC}},
		{[]string{"arc_easy", "OLMES"}, []string{SuiteCore9, SuiteCore9RC, SuiteCore9MMLU}},
		{[]string{"core_9mcqa+mmlu::olmes"}, []string{SuiteCore9MMLU}},
		{[]string{"piqa::olmes"}, nil},
	} {
		if got := SuitesAsked(c.names); !slices.Equal(got, c.want) {
			t.Errorf("SuitesAsked(%q) = %q, want %q", c.names, got, c.want)
		}
	}
}
