package olmes

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// OLMES's suite scores (olmes.md §1.1 and §3 "Suites"; oe-eval configs/task_suites.py, whose suites name a
// primary_metric that tasks/aggregate_tasks.py folds the members' primary scores with):
//
//	<task>::olmes          = max(<task>:mc::olmes, <task>:rc::olmes)        primary_metric "mc_or_rc"
//	mmlu::olmes            = max(mmlu:mc::olmes, mmlu:rc::olmes)            each the macro mean of the 57 subjects
//	core_9mcqa::olmes      = mean of the nine <task>::olmes                 "macro"
//	core_9mcqa:rc::olmes   = mean of the nine <task>:rc::olmes              "macro" (the small-model variant)
//	core_9mcqa+mmlu::olmes = mean of the ten <task>::olmes, MMLU one task   the OLMES paper's 10-task average
//
// These are what published OLMES and OLMo 2 tables report. A suite is scored only when every member is: the
// mean of the tasks that are there is another number (oe-eval counts a group's members against its
// expected_count for the same reason).

// MetricPrimaryScore is the metric of a suite's records: the fold of its members' primary metrics, which differ
// from task to task (acc_per_char, acc_uncond, acc_raw), as oe-eval's primary_score.
const MetricPrimaryScore = "primary_score"

// Suite rules, oe-eval's primary_metric names.
const (
	RuleMCOrRC = "mc_or_rc" // the better of the MC and the RC score
	RuleMacro  = "macro"    // the unweighted mean of the members
)

// core9 are the nine OLMES multiple-choice tasks of core_9mcqa, in oe-eval's order (OLMES_MC_TASKS).
var core9 = []string{"arc_easy", "arc_challenge", "boolq", "csqa", "hellaswag", "openbookqa", "piqa", "siqa", "winogrande"}

// Suite names.
const (
	SuiteCore9     = "core_9mcqa::olmes"
	SuiteCore9RC   = "core_9mcqa:rc::olmes"
	SuiteCore9MMLU = "core_9mcqa+mmlu::olmes"
)

// Aggregate is one OLMES suite score of an evaluation.
type Aggregate struct {
	Name string `json:"name"` // "piqa::olmes", "socialiqa::olmes" (oe-eval's names, oeEvalName), SuiteCore9, …
	// Formulation is RC for core_9mcqa:rc::olmes and MCOrRC for the others, whose tasks each count the better of
	// the two formulations.
	Formulation Formulation `json:"formulation"`
	// Split is the members' common split; "" where each is on its OLMES split (core_9mcqa's are test for ARC and
	// OpenBookQA, validation for the others); else the splits, "+"-joined.
	Split string `json:"split,omitempty"`
	Rule  string `json:"rule"` // RuleMCOrRC or RuleMacro
	// Score is the suite's score; nil where members are missing or their instance counts differ.
	Score *float64 `json:"score"`
	// Instances is how many instances the score folds: for max(MC, RC) the count both were scored on, for a
	// macro suite the sum of its members' (a ::olmes:full suite and a 1000-instance one are two series in SNR);
	// 0 where a member's count is not known.
	Instances int `json:"instances,omitempty"`
	// Differ says how the members' instance counts disagree, where they do (MC and RC of a task on two counts,
	// or a member scored on all its instances beside members cut to a limit): such members are two
	// measurements, and the suite has no score.
	Differ string `json:"differ,omitempty"`
	// Best is, for one task's max(MC, RC), the formulation whose score it is ("rc" where they are equal).
	Best    string   `json:"best,omitempty"`
	Members []string `json:"members"`           // what it folds, in oe-eval's order
	Missing []string `json:"missing,omitempty"` // members the evaluation did not score
	// Parts are the members' scores, in Members' order (NaN where missing; not in JSON, where Missing says it).
	Parts []float64 `json:"-"`
}

// Complete says whether every member was scored, on counts that agree.
func (a Aggregate) Complete() bool { return a.Score != nil }

// Aggregates computes OLMES's suite scores from an evaluation's scores: <task>::olmes of each OLMES benchmark
// scored in both formulations on one split, and each suite of which two or more tasks were scored in some
// formulation, complete or with its missing members named. Built-in tasks, single MMLU subjects and validation
// loss are no OLMES suite's members.
func Aggregates(scores []Score) []Aggregate {
	type key struct {
		task, split string
		f           Formulation
	}
	primary := map[key]float64{}
	count := map[key]int{} // instances scored
	var order []key        // first appearance: a task scored twice keeps its first score, as the table lists it first
	for _, s := range scores {
		if (s.Formulation != RC && s.Formulation != MC) || !isSuiteTask(s.Task) {
			continue
		}
		k := key{s.Task, s.Split, s.Formulation}
		if _, ok := primary[k]; ok {
			continue
		}
		v, ok := s.Metrics[s.Primary]
		if !ok {
			continue
		}
		primary[k], count[k] = v, s.Instances
		order = append(order, k)
	}
	// each task's mc_or_rc, per split it has both formulations on
	var out []Aggregate
	best := map[string]Aggregate{} // task -> its first complete <task>::olmes
	for _, k := range order {
		if k.f != RC {
			continue
		}
		mc, ok := primary[key{k.task, k.split, MC}]
		if !ok {
			continue
		}
		rc := primary[k]
		o := oeEvalName(k.task)
		a := Aggregate{Name: o + "::olmes", Formulation: MCOrRC, Split: k.split, Rule: RuleMCOrRC, Best: "rc",
			Members: []string{o + ":mc::olmes", o + ":rc::olmes"}, Parts: []float64{mc, rc}, Instances: count[k]}
		if nm, nr := count[key{k.task, k.split, MC}], count[k]; nm != nr && nm > 0 && nr > 0 {
			a.Instances, a.Best = 0, ""
			a.Differ = fmt.Sprintf("mc on %d instances, rc on %d", nm, nr)
			out = append(out, a)
			continue
		}
		v := rc
		if mc > rc {
			v, a.Best = mc, "mc"
		}
		a.Score = &v
		out = append(out, a)
		if _, ok := best[k.task]; !ok {
			best[k.task] = a
		}
	}
	// the formulations each task was scored in, and its RC score and split
	scored := map[string]bool{}
	rcOf := map[string]key{}
	for _, k := range order {
		scored[k.task] = true
		if _, ok := rcOf[k.task]; !ok && k.f == RC {
			rcOf[k.task] = k
		}
	}
	suite := func(name string, f Formulation, tasks []string, part func(task string) (member, split string, n int, v float64, ok bool)) {
		n := 0
		for _, t := range tasks {
			if scored[t] {
				n++
			}
		}
		if n < 2 {
			return
		}
		a := Aggregate{Name: name, Formulation: f, Rule: RuleMacro}
		var splits []string
		var counts []int // the members' instance counts, in Members' order (0 where missing or not known)
		onOLMES := true
		sum := 0.0
		for _, t := range tasks {
			m, split, n, v, ok := part(t)
			counts = append(counts, n)
			a.Members = append(a.Members, m)
			if !ok {
				a.Missing = append(a.Missing, m)
				a.Parts = append(a.Parts, math.NaN())
				continue
			}
			a.Parts = append(a.Parts, v)
			sum += v
			if !slices.Contains(splits, split) {
				splits = append(splits, split)
			}
			b, _, _, _, _ := lookupBenchmark(t)
			onOLMES = onOLMES && b != nil && split == b.Split
		}
		if len(a.Missing) == 0 {
			a.Differ = differentLimits(a.Members, counts)
			if a.Differ == "" {
				v := sum / float64(len(tasks))
				a.Score = &v
				for _, n := range counts {
					a.Instances += n
				}
				if slices.Contains(counts, 0) {
					a.Instances = 0
				}
			}
		}
		slices.Sort(splits)
		switch {
		case onOLMES:
		case len(splits) == 1:
			a.Split = splits[0]
		default:
			a.Split = strings.Join(splits, "+")
		}
		out = append(out, a)
	}
	mcOrRC := func(t string) (string, string, int, float64, bool) {
		a, ok := best[t]
		if !ok {
			return oeEvalName(t) + "::olmes", "", 0, 0, false
		}
		return a.Name, a.Split, a.Instances, *a.Score, true
	}
	suite(SuiteCore9, MCOrRC, core9, mcOrRC)
	suite(SuiteCore9RC, RC, core9, func(t string) (string, string, int, float64, bool) {
		k, ok := rcOf[t]
		return oeEvalName(t) + ":rc::olmes", k.split, count[k], primary[k], ok
	})
	suite(SuiteCore9MMLU, MCOrRC, append(slices.Clone(core9), "mmlu"), mcOrRC)
	return out
}

// differentLimits says which of a macro suite's members were scored on instance counts no one limit gives, "" where
// the counts agree. Under a limit L (--limit, OLMES's 1000) a task has min(L, its split's size) instances, so
// where two or more members share their largest count, that count is a limit, and a member with more instances
// was scored without it (::olmes:full beside 1000-instance members): its score and theirs are of two sets of
// settings. Counts not known (0) agree with any. Where no count is shared, the counts are the splits' sizes.
func differentLimits(members []string, counts []int) string {
	limit := 0
	for i, n := range counts {
		if n > limit && slices.Contains(counts[i+1:], n) {
			limit = n
		}
	}
	if limit == 0 {
		return ""
	}
	var over []string
	for i, n := range counts {
		if n > limit {
			over = append(over, fmt.Sprintf("%s on %d", members[i], n))
		}
	}
	if len(over) == 0 {
		return ""
	}
	return fmt.Sprintf("%s instances, the others on at most %d (a limit)", strings.Join(over, ", "), limit)
}

// oeEvalNames are oe-eval's names of the OLMES tasks it spells otherwise than we do (task_suites.py's
// OLMES_MC_TASKS: arc_easy, arc_challenge, boolq, csqa, hellaswag, openbookqa, piqa, socialiqa, winogrande,
// mmlu). taskAliases takes them back.
var oeEvalNames = map[string]string{"siqa": "socialiqa"}

// oeEvalName is oe-eval's name of an OLMES task ("siqa" → "socialiqa"), which suite scores are named with, so
// that "socialiqa::olmes" reads as in OLMES tables and oe-eval's output; other names are returned as they are.
func oeEvalName(task string) string { return cmp.Or(oeEvalNames[task], task) }

// isSuiteTask says whether task is one of OLMES's ten multiple-choice tasks (core9 and MMLU as a whole).
func isSuiteTask(task string) bool { return task == "mmlu" || slices.Contains(core9, task) }

// SuitesAsked are the macro suites names (eval's --tasks) ask for: by oe-eval's name ("core_9mcqa::olmes"), or
// by a group that is one's tasks ("core9" in either formulation: both core_9mcqa suites; "olmes": all three).
func SuitesAsked(names []string) []string {
	var out []string
	add := func(s ...string) {
		for _, n := range s {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	for _, n := range names {
		for _, name := range strings.Split(n, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			base, _, _ := strings.Cut(name, ":")
			switch {
			case name == SuiteCore9 || name == SuiteCore9RC || name == SuiteCore9MMLU:
				add(name)
			case base == "core9":
				add(SuiteCore9, SuiteCore9RC)
			case base == "olmes":
				add(SuiteCore9, SuiteCore9RC, SuiteCore9MMLU)
			}
		}
	}
	return out
}

// ShownSuites splits aggs into those an evaluation's table lists and those it leaves out: it lists a task's
// max(MC, RC), a complete suite, one asked for (SuitesAsked) and one of which more than half the members were
// scored; a suite of 2 of its 9 tasks (eval --tasks arc_easy,piqa) says nothing of it, and its line was as long
// as the table.
func ShownSuites(aggs []Aggregate, asked []string) (shown, left []Aggregate) {
	for _, a := range aggs {
		if a.Rule == RuleMCOrRC || a.Complete() || a.Differ != "" || slices.Contains(asked, a.Name) ||
			2*(len(a.Members)-len(a.Missing)) > len(a.Members) {
			shown = append(shown, a)
		} else {
			left = append(left, a)
		}
	}
	return shown, left
}

// WriteAggregates prints the suite scores under an evaluation's table (those ShownSuites shows of asked): one
// line each, with what it folds and, for an incomplete suite, what is missing and how to score it; then one
// line that names the suites left out.
func WriteAggregates(w io.Writer, all []Aggregate, asked []string) error {
	aggs, left := ShownSuites(all, asked)
	if len(left) > 0 {
		defer func() {
			var parts []string
			for _, a := range left {
				parts = append(parts, fmt.Sprintf("%s (%d of %d)", a.Name, len(a.Members)-len(a.Missing), len(a.Members)))
			}
			fmt.Fprintf(w, "OLMES suites left out, too few of their tasks scored to mean something: %s; name one in --tasks to see it (--tasks core9,core9:mc scores core_9mcqa::olmes whole)\n", strings.Join(parts, ", "))
		}()
	}
	if len(aggs) == 0 {
		return nil
	}
	if _, err := fmt.Fprintln(w, "OLMES suites (olmes docs §3; each task's primary metric; mc_or_rc: the better of MC and RC, macro: the mean of the members):"); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "suite\tform\tsplit\tscore\tof\n") // no cell after "of": a long one pads no other line
	for _, a := range aggs {
		split := a.Split
		if split == "" {
			split = "olmes"
		}
		score, of := "-", ""
		if a.Complete() {
			score = fmt.Sprintf("%.4f", *a.Score)
		}
		switch {
		case a.Differ != "":
			of = "instance counts differ: " + a.Differ + "; score them with the same --limit"
		case a.Rule == RuleMCOrRC:
			of = fmt.Sprintf("mc %.4f, rc %.4f: %s", a.Parts[0], a.Parts[1], a.Best)
			if a.Parts[0] == a.Parts[1] {
				of += " (equal)"
			}
		case a.Complete():
			of = fmt.Sprintf("%d of %d", len(a.Members), len(a.Members))
		default:
			of = fmt.Sprintf("%d of %d: missing %s", len(a.Members)-len(a.Missing), len(a.Members), strings.Join(a.Missing, ", "))
			if a.Formulation == MCOrRC {
				of += " (each in both formulations: --tasks core9,core9:mc"
				if a.Name == SuiteCore9MMLU {
					of += ",mmlu,mmlu:mc"
				}
				of += ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Name, a.Formulation, split, score, of)
	}
	return tw.Flush()
}

// SuiteRecords are the OLMES suite scores (Aggregates) that recs' per-task scores make at each checkpoint: of
// each run, step and tag, from the primary scores of the OLMES tasks, whichever evaluations wrote them (RC in
// the run and MC by a later eval --record, or each by its own eval --record), by Aggregates' rules, so a suite
// with a member missing has none. Of a task scored twice at a step on as many instances, the later record
// counts, as in SNR's series; scored on two counts, the suite is made of each member's smallest count and of each
// one's largest (countSets), and a suite whose members' counts disagree (Aggregate.Differ) has no score. A suite score is Recorded (WhyRecorded) where some member is. Put after recs, they replace the suite
// records recs hold at the same step (SNR's series keep a step's last record): those are the same figures,
// or stale ones, as a rerun of eval --record replaces its tasks' records and not the suites they made.
func SuiteRecords(recs []EvalRecord) []EvalRecord {
	type at struct {
		run  string
		step int
		tag  string
	}
	type member struct {
		task, split string
		f           Formulation
		n           int // instances: a member scored on two counts at a step has a score of each
	}
	type group struct {
		scores   map[member]int // index in list
		list     []Score
		tokens   int64
		recorded bool
	}
	groups := map[at]*group{}
	var order []at
	for _, r := range recs {
		if !r.Primary || r.Formulation != RC && r.Formulation != MC || !isSuiteTask(r.Task) {
			continue
		}
		k := at{r.Run, r.Step, r.Tag}
		g := groups[k]
		if g == nil {
			g = &group{scores: map[member]int{}}
			groups[k] = g
			order = append(order, k)
		}
		g.tokens = max(g.tokens, r.Tokens)
		g.recorded = g.recorded || r.Recorded()
		m := member{r.Task, r.Split, r.Formulation, r.Instances}
		s := Score{Task: r.Task, Formulation: r.Formulation, Group: r.Group, Split: r.Split, Instances: r.Instances,
			Primary: r.Metric, Metrics: map[string]float64{r.Metric: r.Value}}
		if i, ok := g.scores[m]; ok {
			g.list[i] = s
		} else {
			g.scores[m] = len(g.list)
			g.list = append(g.list, s)
		}
	}
	var out []EvalRecord
	for _, k := range order {
		g := groups[k]
		type made struct {
			name string
			n    int
		}
		seen := map[made]bool{}
		for _, set := range countSets(g.list) {
			for _, a := range Aggregates(set) {
				if !a.Complete() || seen[made{a.Name, a.Instances}] {
					continue
				}
				seen[made{a.Name, a.Instances}] = true
				r := EvalRecord{Run: k.run, Step: k.step, Tokens: g.tokens, Task: a.Name, Formulation: a.Formulation,
					Split: a.Split, Instances: a.Instances, Metric: MetricPrimaryScore, Value: *a.Score, Primary: true,
					Group: "olmes", Tag: k.tag}
				if g.recorded {
					r.Why = WhyRecorded
				}
				out = append(out, r)
			}
		}
	}
	return out
}

// countSets splits a checkpoint's scores, where a task, split and formulation has scores on several instance
// counts (eval --record of ::olmes:full and of a 1000-instance sample), into the sets a suite can be made of:
// each member on its smallest count, and each on its largest. A member with one count is in both, the same
// instances either way. Without a member on two counts, the one set.
func countSets(list []Score) [][]Score {
	type member struct {
		task, split string
		f           Formulation
	}
	lo, hi := map[member]int{}, map[member]int{} // index in list
	for i, s := range list {
		m := member{s.Task, s.Split, s.Formulation}
		if j, ok := lo[m]; !ok || s.Instances < list[j].Instances {
			lo[m] = i
		}
		if j, ok := hi[m]; !ok || s.Instances > list[j].Instances {
			hi[m] = i
		}
	}
	pick := func(of map[member]int) []Score {
		var out []Score
		for i, s := range list {
			if of[member{s.Task, s.Split, s.Formulation}] == i {
				out = append(out, s)
			}
		}
		return out
	}
	if len(lo) == len(list) {
		return [][]Score{list}
	}
	return [][]Score{pick(lo), pick(hi)}
}

// oeEvalSuiteTasks expands the name of an OLMES suite as oe-eval's task_suites.py names it into the tasks it
// scores, so that a suite pasted into --tasks or eval.tasks is scored whole and gets its score: "<task>::olmes"
// (socialiqa::olmes, mmlu::olmes) is the task in both formulations, core_9mcqa::olmes the nine core tasks in
// both, core_9mcqa:rc::olmes the nine in RC, and core_9mcqa+mmlu::olmes (OLMES's ten-task average) the ten in
// both. "<task>::olmes" read as the task in RC alone before. False for any other name.
func oeEvalSuiteTasks(name string) ([]string, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	both := func(tasks ...string) []string {
		var out []string
		for _, f := range []string{":rc::olmes", ":mc::olmes"} {
			for _, t := range tasks {
				out = append(out, t+f)
			}
		}
		return out
	}
	switch n {
	case SuiteCore9:
		return both(core9...), true
	case SuiteCore9RC:
		return both(core9...)[:len(core9)], true
	case SuiteCore9MMLU:
		return both(append(slices.Clone(core9), "mmlu")...), true
	}
	task, ok := strings.CutSuffix(n, "::olmes")
	if !ok || strings.Contains(task, ":") {
		return nil, false
	}
	if b, subject, _, _, ok := lookupBenchmark(task); !ok || subject != "" || !isSuiteTask(b.Name) {
		return nil, false
	}
	return both(task), true
}

// SuiteMember is one task and formulation whose primary score a suite folds.
type SuiteMember struct {
	Task        string // our name: "siqa", not oe-eval's "socialiqa"
	Formulation Formulation
	Split       string // the benchmark's OLMES split
}

// SuiteMembers are the tasks and formulations that the suite named name (an Aggregate's Name: "piqa::olmes",
// SuiteCore9, …) folds; false for any other name.
func SuiteMembers(name string) ([]SuiteMember, bool) {
	tasks, ok := oeEvalSuiteTasks(name)
	if !ok {
		return nil, false
	}
	out := make([]SuiteMember, 0, len(tasks))
	for _, t := range tasks {
		b, _, f, _, ok := lookupBenchmark(t)
		if !ok {
			return nil, false
		}
		out = append(out, SuiteMember{Task: b.Name, Formulation: f, Split: b.Split})
	}
	return out, true
}
