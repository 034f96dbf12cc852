package tui

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/olmes"
	"github.com/olmolab/olmolab/lab/sweep"
)

// evalRow is one task, formulation and split of the latest evaluation.
type evalRow struct {
	Task, Form string
	Split      string // an OLMES benchmark's dataset split; "" for built-in tasks
	Instances  int    // instances scored (olmes.EvalRecord.Instances); 0 not recorded
	Values     map[string]float64
	Primary    string
}

// evalData is what the evaluation view shows: the latest scores of one run
// and the signal-to-noise table across runs.
type evalData struct {
	Run     string
	Step    int64
	Why     string
	Rows    []evalRow
	Metrics []string // columns present, in olmes's order
	// Recorded are the scores olmolab eval --record made of the run's
	// checkpoints after the run (olmes.WhyRecorded): each task's at its
	// latest step, RecordedSteps (the lowest and highest of them); they are
	// not the run's own latest evaluation
	Recorded        []evalRow
	RecordedMetrics []string
	RecordedSteps   [2]int64
	SNR             *olmes.SNRTable
	SNRRuns         []string
	SNRMessage      string
	// SNRScope is which runs the table compares when none are selected
	// (snrScope.resolve); empty for the selected runs
	SNRScope string
	// SNRLeftOut are the runs of the default scope left out for having
	// been evaluated once: no noise to measure, which every row they are in
	// would have lacked
	SNRLeftOut []string
}

// snrScope is which runs the signal-to-noise table compares: the runs
// selected in the runs view, or with fewer than two selected, a default a
// researcher compares: the runs of the open run's sweep, else of the latest
// sweep (PREFIX.sweep.json in the runs directory), else every run with
// evaluations. Every run with evaluations, as it was, made a runs
// directory of mixed short runs a table of rows none of which had noise.
type snrScope struct {
	Dirs     []string // the selected runs, or every run with evaluations
	Selected bool
	Root     string // the runs directory, whose sweeps give the default
	Open     string // the open run's directory
}

// resolve returns the directories to compare and, for a default, what they
// are ("sweep P (the open run's)"; "every run with evaluations").
func (sc snrScope) resolve() (dirs []string, what string) {
	if sc.Selected {
		return sc.Dirs, ""
	}
	paths, _ := filepath.Glob(filepath.Join(sc.Root, "*.sweep.json"))
	given := map[string]string{}
	for _, d := range sc.Dirs {
		given[absPath(d)] = d
	}
	open := ""
	if sc.Open != "" {
		open = absPath(sc.Open)
	}
	var best *sweepRuns
	for _, p := range paths {
		man, err := sweep.ReadManifest(p)
		if err != nil {
			continue // not a sweep's manifest: its runs are listed as any
		}
		s := sweepRuns{prefix: man.Prefix, created: man.Created}
		for _, r := range man.Runs {
			d := absPath(filepath.Join(sc.Root, r.Name))
			if g, ok := given[d]; ok {
				s.dirs = append(s.dirs, g)
			}
			s.open = s.open || d == open
		}
		if len(s.dirs) < 2 {
			continue
		}
		if best == nil || s.open && !best.open || s.open == best.open && s.created.After(best.created) {
			best = &s
		}
	}
	switch {
	case best == nil:
		return sc.Dirs, snrEveryRun
	case best.open:
		return best.dirs, "sweep " + best.prefix + " (the open run's)"
	}
	return best.dirs, "sweep " + best.prefix + " (the latest)"
}

// snrEveryRun is the default scope where the runs directory has no sweep.
const snrEveryRun = "every run with evaluations"

// sweepRuns are the runs with evaluations of one sweep.
type sweepRuns struct {
	prefix  string
	created time.Time
	dirs    []string
	open    bool // the open run is one of the sweep's
}

// metricShort names the metric columns compactly; the log-likelihood sums
// olmes also records are left out of the table. The validation loss's
// ce_loss has a column of its own; its bits_per_byte shares the tasks' bpb
// column (metricColumn): both are bits per byte, of the gold answer or of the
// held-out text.
var metricShort = map[string]string{
	olmes.MetricAccRaw: "acc", olmes.MetricAccPerToken: "acc/tok", olmes.MetricAccPerChar: "acc/char",
	olmes.MetricAccPerByte: "acc/byte", olmes.MetricAccUncond: "uncond", olmes.MetricBPB: "bpb",
	olmes.MetricCELoss: "ce", olmes.MetricPrimaryScore: "suite",
}

// metricColumn is the column a metric's values go in.
func metricColumn(metric string) string {
	if metric == olmes.MetricBitsPerByte {
		return olmes.MetricBPB
	}
	return metric
}

// readEvalRecords reads the run's own latest evaluation from its evals.jsonl
// (missing: none), streaming: the trailing records of the run itself (see
// ownRecord) with the same step and reason, which is
// all latestEval shows. An MMLU-scale file is 80 MB of hundreds of thousands
// of records; it was read whole and every record kept. A line that does not
// read is skipped.
func readEvalRecords(dir string, soupFinal bool) []olmes.EvalRecord {
	own, _ := readEvals(dir, soupFinal)
	return own
}

// readEvals is readEvalRecords and, in the same pass, the records made
// after the run by olmolab eval --record (olmes.WhyRecorded): of each task,
// formulation and split, those of its latest step. They are left out of the
// run's own latest evaluation, which they would otherwise replace (they
// are appended last).
func readEvals(dir string, soupFinal bool) (own, recorded []olmes.EvalRecord) {
	lr, err := openLines(filepath.Join(dir, lab.EvalsFile), 0)
	if err != nil {
		return nil, nil
	}
	defer lr.close()
	var out []olmes.EvalRecord
	rec := map[string][]olmes.EvalRecord{} // task, formulation, split: its latest step's
	var recKeys []string
	names := map[string]string{}
	for line := lr.next(); line != nil; line = lr.next() {
		var r olmes.EvalRecord
		if olmes.DecodeEvalRecord(line, &r, names) != nil || r.Task == "" {
			continue
		}
		if !ownRecord(r.Run, soupFinal) {
			continue
		}
		if r.Recorded() {
			// a score of every instance and one of a sample are two (olmes.EvalRecord.Instances)
			k := r.Task + "\x00" + r.Formulation.String() + "\x00" + r.Split + "\x00" + strconv.Itoa(r.Instances)
			switch rs := rec[k]; {
			case rs == nil:
				recKeys = append(recKeys, k)
				rec[k] = []olmes.EvalRecord{r}
			case r.Step > rs[0].Step || r.Step == rs[0].Step && r.Run != rs[0].Run:
				// a later step, or the soup that ended the run ("<run>/soup"), its final model
				rec[k] = []olmes.EvalRecord{r}
			case r.Step == rs[0].Step:
				rec[k] = append(rs, r)
			}
			continue
		}
		if len(out) > 0 && (r.Step != out[0].Step || r.Why != out[0].Why) {
			out = out[:0]
		}
		out = append(out, r)
	}
	for _, k := range recKeys {
		recorded = append(recorded, rec[k]...)
	}
	return out, recorded
}

// withRecordedSuites adds to recorded the OLMES suite scores (olmes.SuiteRecords) that the run's own latest
// evaluation and the records eval --record made of a checkpoint make together, where some member is recorded
// (RC in the run and MC recorded later, or each recorded on its own), as snr builds them; a suite already
// recorded at a later step keeps its row.
func withRecordedSuites(own, recorded []olmes.EvalRecord) []olmes.EvalRecord {
	latest := map[string]int{}
	key := func(r olmes.EvalRecord) string { return r.Task + "\x00" + r.Formulation.String() + "\x00" + r.Split }
	for _, r := range recorded {
		latest[key(r)] = max(latest[key(r)], r.Step)
	}
	for _, r := range olmes.SuiteRecords(slices.Concat(own, recorded)) {
		if s, ok := latest[key(r)]; r.Recorded() && (!ok || s <= r.Step) {
			recorded = append(recorded, r)
		}
	}
	return recorded
}

// ownRecord says whether an evals.jsonl record is the run's own: soups and
// ingredients are recorded under "<run>/…" and left out, but for the soup
// that ended the run (soupFinal), "<run>/soup": the run's final model is the
// soup, and summary.json's scores are its. The run's own name may not be the
// directory's, for a run directory renamed.
func ownRecord(run string, soupFinal bool) bool {
	return !strings.Contains(run, "/") || soupFinal && strings.HasSuffix(run, "/soup")
}

// endedWithSoup says whether the run in dir ended with the weights of a
// soup: one its recipe planned, made at its last step, after which it
// finished. A soup made with s is a side job: the run goes on (or stops)
// with its own weights.
func endedWithSoup(dir string) bool {
	_, ok := lab.EndedWithSoup(dir)
	return ok
}

// latestEval picks the run's own latest evaluation: the trailing records of
// evals.jsonl with the same step and reason (see ownRecord).
func latestEval(run string, recs []olmes.EvalRecord, soupFinal bool) (rows []evalRow, metrics []string, step int64, why string) {
	var own []olmes.EvalRecord
	for _, r := range recs {
		if ownRecord(r.Run, soupFinal) && !r.Recorded() {
			own = append(own, r)
		}
	}
	if len(own) == 0 {
		return nil, nil, 0, ""
	}
	last := own[len(own)-1]
	step, why = int64(last.Step), last.Why
	i := len(own) - 1
	for i > 0 && int64(own[i-1].Step) == step && own[i-1].Why == why {
		i--
	}
	rows, metrics = evalRows(own[i:])
	return rows, metrics, step, why
}

// evalRows makes the rows of a set of records, a row per task, formulation
// and split; of a metric recorded twice, the later record counts.
func evalRows(recs []olmes.EvalRecord) (rows []evalRow, metrics []string) {
	byKey := map[string]*evalRow{}
	var order []string
	seenMetric := map[string]bool{}
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		form := r.Formulation.String()
		k := r.Task + "\x00" + form + "\x00" + r.Split + "\x00" + strconv.Itoa(r.Instances)
		row := byKey[k]
		if row == nil {
			row = &evalRow{Task: r.Task, Form: form, Split: r.Split, Instances: r.Instances, Values: map[string]float64{}}
			byKey[k] = row
			order = append(order, k)
		}
		col := metricColumn(r.Metric)
		if _, ok := row.Values[col]; !ok {
			row.Values[col] = r.Value
		}
		if r.Primary {
			row.Primary = col
		}
		seenMetric[col] = true
	}
	sort.Strings(order)
	counts := map[string]int{} // task, formulation and split: how many instance counts
	for _, k := range order {
		r := byKey[k]
		counts[r.Task+"\x00"+r.Form+"\x00"+r.Split]++
	}
	for _, k := range order {
		r := *byKey[k]
		if counts[r.Task+"\x00"+r.Form+"\x00"+r.Split] > 1 { // named apart, as snr names its rows
			r.Task += " (" + instancesShort(r.Instances) + ")"
		}
		rows = append(rows, r)
	}
	// an OLMES suite's score (core_9mcqa::olmes, …) has a column of its own: its rows have no other metric
	for _, m := range slices.Concat(olmes.MetricNames, []string{olmes.MetricPrimaryScore}, olmes.LMMetricNames) {
		if seenMetric[m] && metricShort[m] != "" {
			metrics = append(metrics, m)
		}
	}
	return rows, metrics
}

// instancesShort names an instance count in a row's task.
func instancesShort(n int) string {
	if n == 0 {
		return "n ?"
	}
	return fmt.Sprintf("n %d", n)
}

// loadEvalData reads the latest evaluation of run (in dir) and the SNR table
// across the runs of scope.
func loadEvalData(run, dir string, primary map[string]string, scope snrScope) *evalData {
	d := &evalData{Run: run}
	runDirs, what := scope.resolve()
	d.SNRScope = what
	if dir != "" {
		soupFinal := endedWithSoup(dir)
		own, recorded := readEvals(dir, soupFinal)
		recorded = withRecordedSuites(own, recorded)
		d.Rows, d.Metrics, d.Step, d.Why = latestEval(run, own, soupFinal)
		if len(recorded) > 0 {
			d.Recorded, d.RecordedMetrics = evalRows(recorded)
			d.RecordedSteps = [2]int64{int64(recorded[0].Step), int64(recorded[0].Step)}
			for _, r := range recorded {
				d.RecordedSteps[0], d.RecordedSteps[1] = min(d.RecordedSteps[0], int64(r.Step)), max(d.RecordedSteps[1], int64(r.Step))
			}
		}
		// evals.jsonl does not say which metric is a task's primary one; the
		// run's eval events do
		for i := range d.Rows {
			if d.Rows[i].Primary == "" {
				d.Rows[i].Primary = primary[d.Rows[i].Task+"\x00"+d.Rows[i].Form]
			}
		}
	}
	var runs, soups []olmes.RunEvals
	soupFinal := lab.RunsEndedWithSoup(runDirs...)
	for _, rd := range runDirs {
		all, err := olmes.LoadRunEvalTails(0, "", rd)
		if err != nil {
			continue
		}
		for _, re := range all {
			if run, ok := strings.CutSuffix(re.Name, "/soup"); ok && soupFinal[run] {
				soups = append(soups, re) // the run's final scores (olmes.SNROptions.SoupFinal)
			} else if !strings.Contains(re.Name, "/") && re.HasEvals() {
				runs = append(runs, re)
			}
		}
	}
	if !scope.Selected {
		// a run evaluated once has no noise: among runs that have, it
		// would leave every row it shares without one
		var measured []olmes.RunEvals
		var once []string
		for _, r := range runs {
			if r.NoiseMeasurable() {
				measured = append(measured, r)
			} else {
				once = append(once, r.Name)
			}
		}
		if len(measured) >= 2 && len(once) > 0 {
			runs, d.SNRLeftOut = measured, once
		}
	}
	for _, r := range runs {
		d.SNRRuns = append(d.SNRRuns, r.Name)
	}
	slices.Sort(d.SNRRuns) // by name, as a sweep's seeds read: the scan lists the newest first
	switch {
	case len(runs) < 2:
		d.SNRMessage = fmt.Sprintf("signal needs at least two runs with evaluations (%d so far): select comparable runs in the runs view (2, space)", len(runs))
	default:
		t, err := olmes.SNR(append(runs, soups...), olmes.SNROptions{SoupFinal: soupFinal})
		if err != nil {
			d.SNRMessage = err.Error()
		} else if len(t.Rows) == 0 {
			d.SNRMessage = "the runs share no task, formulation, split and metric"
			for _, sp := range []string{t.DescribeSplits(), t.DescribePartial()} {
				if sp != "" {
					d.SNRMessage += "; " + sp
				}
			}
		} else {
			// a row over one checkpoint per run (the shortest run has one
			// evaluation of it) has no noise to measure: its SNR is signal/0,
			// infinite, and would head the table; the view writes "–" and
			// lists it after the rows that were measured
			sort.SliceStable(t.Rows, func(i, j int) bool { return t.Rows[i].LastN >= 2 && t.Rows[j].LastN < 2 })
			d.SNR = &t
		}
	}
	return d
}
