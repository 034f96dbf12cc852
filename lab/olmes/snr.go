package olmes

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"gonum.org/v1/gonum/stat"

	"github.com/olmolab/olmolab/lab/jsonfield"
	"github.com/olmolab/olmolab/lab/plural"
)

// Signal and noise (olmes.md §4; Heineman et al. 2025, allenai/signal-and-noise snr/metrics.py).

// Signal is the relative dispersion of comparable runs' scores: (max − min) / mean. It is NaN for fewer than two
// scores or a zero mean.
func Signal(scores []float64) float64 {
	if len(scores) < 2 {
		return math.NaN()
	}
	lo, hi := scores[0], scores[0]
	for _, s := range scores {
		lo, hi = math.Min(lo, s), math.Max(hi, s)
	}
	m := stat.Mean(scores, nil)
	if m == 0 {
		return math.NaN()
	}
	return (hi - lo) / math.Abs(m)
}

// RelStd is std / mean with the population standard deviation (NumPy's default, ddof = 0; olmes.md D2). It is
// NaN for no values or a zero mean.
func RelStd(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	m, s := stat.PopMeanStdDev(xs, nil)
	if m == 0 {
		return math.NaN()
	}
	return s / math.Abs(m)
}

// NoiseMode says how checkpoint-to-checkpoint noise is measured over several runs.
type NoiseMode uint8

const (
	// NoisePerRun is each run's RelStd over its last n checkpoints, averaged over runs (olmes.md D1's
	// recommendation). The signal uses the runs' final scores.
	NoisePerRun NoiseMode = iota
	// NoisePooled is RelStd of all runs' last-n scores pooled, as the Signal-and-Noise code does below 1B
	// (compute_snr_small_scale). The pool contains the differences between runs, so it is larger; to match that
	// code the signal then uses each run's mean over its last n checkpoints.
	NoisePooled
)

func (m NoiseMode) String() string {
	switch m {
	case NoisePerRun:
		return "per-run"
	case NoisePooled:
		return "pooled"
	}
	return fmt.Sprintf("NoiseMode(%d)", uint8(m))
}

// ParseNoiseMode parses "per-run" (or "run") and "pooled".
func ParseNoiseMode(s string) (NoiseMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "per-run", "perrun", "run", "":
		return NoisePerRun, nil
	case "pooled", "pool":
		return NoisePooled, nil
	}
	return 0, inputErrorf("", 0, `use "per-run" or "pooled"`, "unknown noise mode %q", s)
}

// Noise measures checkpoint noise from each run's last-n scores (one slice per run) in the given mode.
func Noise(lastN [][]float64, mode NoiseMode) float64 {
	if len(lastN) == 0 {
		return math.NaN()
	}
	if mode == NoisePooled {
		var all []float64
		for _, xs := range lastN {
			all = append(all, xs...)
		}
		return RelStd(all)
	}
	var s float64
	for _, xs := range lastN {
		s += RelStd(xs)
	}
	return s / float64(len(lastN))
}

// DecisionAccuracy is the fraction of pairs i < j that small and target order the same way:
// mean over i<j of [(small_i > small_j) == (target_i > target_j)], strict > on both sides as in
// signal-and-noise's decision_acc_fast (so ties count asymmetrically, olmes.md §4.3). small[i] and target[i] must
// be the same recipe. It is NaN for fewer than two recipes and panics if the lengths differ.
func DecisionAccuracy(small, target []float64) float64 {
	if len(small) != len(target) {
		panic("olmes: DecisionAccuracy: mismatched lengths")
	}
	agree, pairs := 0, 0
	for i := range small {
		for j := i + 1; j < len(small); j++ {
			if (small[i] > small[j]) == (target[i] > target[j]) {
				agree++
			}
			pairs++
		}
	}
	if pairs == 0 {
		return math.NaN()
	}
	return float64(agree) / float64(pairs)
}

// TrailingMean replaces each score by the mean of the window of up to n scores ending at it: the
// checkpoint-averaging intervention (olmes.md §4.4; signal-and-noise's last_n_method "avg").
func TrailingMean(xs []float64, n int) []float64 {
	out := make([]float64, len(xs))
	var s float64
	for i, x := range xs {
		s += x
		if i >= n {
			s -= xs[i-n]
		}
		out[i] = s / float64(min(i+1, n))
	}
	return out
}

// RunEvals is one run's evaluations: its records (LoadRunEvals), or only
// what SNR needs of them (LoadRunEvalTails).
type RunEvals struct {
	Name    string
	Records []EvalRecord

	tails   map[seriesKey]seriesTail // LoadRunEvalTails's, for tailN and tailTag
	tailN   int
	tailTag string
	n       int // records read
}

// HasEvals says whether the run has any evaluation record.
func (r RunEvals) HasEvals() bool { return len(r.Records) > 0 || r.n > 0 }

// NoiseMeasurable says whether some series of the run (task, formulation,
// split and metric) has scores at two steps or more: the noise over a run's
// last checkpoints needs two, and a run evaluated once leaves every row it is
// in without one.
func (r RunEvals) NoiseMeasurable() bool {
	if r.tails != nil {
		for _, t := range r.tails {
			if len(t.xs) >= 2 {
				return true
			}
		}
		return false
	}
	for _, xs := range runSeries(r.Records, "") {
		if len(xs) >= 2 {
			return true
		}
	}
	return false
}

// ReadEvalRecords reads an evals.jsonl file. A malformed line is an *InputError
// with its line number, except a last line without its newline that does not
// parse: a record a live or killed run was still writing, skipped. A file that
// is clearly something else (a .yaml recipe, a first line that is not a JSON
// object) says so rather than calling its first line a malformed record.
func ReadEvalRecords(path string) ([]EvalRecord, error) {
	var recs []EvalRecord
	if err := eachEvalRecord(path, func(r *EvalRecord) { recs = append(recs, *r) }); err != nil {
		return nil, err
	}
	return recs, nil
}

// eachEvalRecord is ReadEvalRecords calling fn with each record instead of
// keeping them (fn must not keep r).
func eachEvalRecord(path string, fn func(r *EvalRecord)) error {
	raw, err := openMaybeGzip(path, "a run's evaluations", "give a run directory, or the evals.jsonl it holds")
	if err != nil {
		return err
	}
	defer raw.Close()
	switch filepath.Ext(strings.TrimSuffix(path, ".gz")) {
	case ".yaml", ".yml":
		return notEvals(path, "a YAML file, such as a recipe")
	}
	rc := &tailWatcher{r: raw}
	var torn error // a malformed line, forgiven if nothing follows it
	names := map[string]string{}
	first := true
	err = forEachLine(path, rc, func(line []byte, n int) error {
		if first && line[0] != '{' { // a record being written is still an object's start
			return notEvals(path, "first line is not a JSON object")
		}
		if first && strings.TrimSpace(string(line)) == "{" { // no record is written over several lines
			return notEvals(path, "a JSON document over several lines, such as olmolab eval --json writes")
		}
		first = false
		if torn != nil {
			return torn
		}
		var r EvalRecord
		if err := DecodeEvalRecord(line, &r, names); err != nil {
			torn = &InputError{Path: path, Line: n, Msg: "malformed eval record", Err: err,
				Hint: "each line is one JSON record as a run or olmolab eval --record writes it; mend or remove this line (a copy cut short leaves its last line torn)"}
			return nil
		}
		if r.Task == "" || r.Metric == "" {
			return inputErrorf(path, n, `each line needs "task", "metric" and "value" (olmes.EvalRecord)`, "eval record without task or metric")
		}
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			return inputErrorf(path, n, "a NaN or infinite score comes from a diverged model: remove this line, or the run's records of that step", "value is not finite")
		}
		fn(&r)
		return nil
	})
	if err == nil && torn != nil && rc.last == '\n' {
		err = torn // the malformed line was complete: the file is bad
	}
	if err != nil {
		if IsInputError(err) {
			return err
		}
		return &InputError{Path: path, Msg: "reading", Err: err}
	}
	return nil
}

// DecodeEvalRecord reads one evals.jsonl line into r: the fast reader
// (fastEvalRecord) for the lines the lab and olmolab eval write, encoding/json
// for anything else. names interns repeated strings across lines (nil: a
// fresh map).
func DecodeEvalRecord(line []byte, r *EvalRecord, names map[string]string) error {
	if names == nil {
		names = map[string]string{}
	}
	if fastEvalRecord(line, r, names) {
		return nil
	}
	*r = EvalRecord{}
	return json.NewDecoder(bytes.NewReader(line)).Decode(r)
}

// fastEvalRecord reads a record as the lab and olmolab eval write it with
// jsonfield.Each and strconv, and names (run, task, metric…) through intern,
// which gives the same string for the same bytes: an MMLU-scale evals.jsonl
// repeats a few hundred names in hundreds of thousands of lines. False for
// anything else (a key it does not know, an escaped string, a value that does
// not parse), which encoding/json then reads.
func fastEvalRecord(line []byte, r *EvalRecord, intern map[string]string) bool {
	ok := true
	name := func(v []byte) string {
		// encoding/json decodes escapes and turns invalid UTF-8 into U+FFFD
		if len(v) < 2 || v[0] != '"' || bytes.IndexByte(v, '\\') >= 0 || !utf8.Valid(v) {
			ok = false
			return ""
		}
		v = v[1 : len(v)-1]
		if s, hit := intern[string(v)]; hit {
			return s
		}
		s := string(v)
		if len(intern) < 1<<16 {
			intern[s] = s
		}
		return s
	}
	integer := func(v []byte) int64 {
		n, err := strconv.ParseInt(string(v), 10, 64)
		ok = ok && err == nil
		return n
	}
	parsed := jsonfield.Each(line, func(k, v []byte) {
		switch string(k) {
		case "run":
			r.Run = name(v)
		case "step":
			r.Step = int(integer(v))
		case "tokens":
			r.Tokens = integer(v)
		case "phase":
			r.Phase = name(v)
		case "why":
			r.Why = name(v)
		case "task":
			r.Task = name(v)
		case "formulation":
			ok = ok && r.Formulation.UnmarshalText([]byte(name(v))) == nil
		case "split":
			r.Split = name(v)
		case "instances":
			r.Instances = int(integer(v))
		case "metric":
			r.Metric = name(v)
		case "value":
			f, err := strconv.ParseFloat(string(v), 64)
			ok = ok && err == nil
			r.Value = f
		case "primary":
			r.Primary = string(v) == "true"
			ok = ok && (r.Primary || string(v) == "false")
		case "group":
			r.Group = name(v)
		case "tag":
			r.Tag = name(v)
		case "settings":
			r.Settings = name(v)
		case "time":
			if len(v) < 2 || v[0] != '"' {
				ok = false
				return
			}
			t, err := time.Parse(time.RFC3339Nano, string(v[1:len(v)-1]))
			ok = ok && err == nil
			r.Time = t
		default:
			ok = false
		}
	})
	return parsed && ok
}

// hasRunField says whether a record of recs named its run (its run field was
// set, not filled in from the directory's name).
func hasRunField(recs []EvalRecord) bool {
	for _, r := range recs {
		if r.Run != "" {
			return true
		}
	}
	return false
}

// sameRunError is the error for two evals files that hold the same run.
func sameRunError(first, second, run string, named bool) *InputError {
	where := func(f string) string {
		if filepath.Base(f) == "evals.jsonl" {
			return filepath.Dir(f)
		}
		return f
	}
	a, b := where(first), where(second)
	if a == b {
		return inputErrorf(a, 0, "give each run once", "given twice")
	}
	why := fmt.Sprintf("their records carry the same run field (%q)", run)
	if !named {
		why = fmt.Sprintf("their records carry no run field and their directories have the same name (%q)", run)
	}
	return inputErrorf("", 0,
		"signal compares different runs, and a copy of a run is the same run: give runs trained apart (the same recipe with another seed, --set seed=N, or another mix)",
		"%s and %s hold the same run %s: %s", a, b, run, why)
}

// notEvals is the error for a file given as evals.jsonl that is something else.
func notEvals(path, why string) *InputError {
	return inputErrorf(path, 0, "pass a run directory or its evals.jsonl", "not an evals.jsonl file (%s)", why)
}

// LoadRunEvals reads eval records from run directories (each with an evals.jsonl), directories of run
// directories, or evals.jsonl files. Records are grouped into runs by their "run" field, or by the directory
// of their file when it is empty. Runs come back sorted by name. Two files that hold the same run (a copy of a
// run's directory, a path given twice) are an *InputError that names both and the run.
func LoadRunEvals(paths ...string) ([]RunEvals, error) {
	byRun := map[string][]EvalRecord{}
	from := map[string]string{} // run name -> the file its records came from
	read := func(file string, given bool) error {
		file = filepath.Clean(file)
		for _, f := range from {
			if f == file {
				return sameRunError(f, file, "", false)
			}
		}
		recs, err := ReadEvalRecords(file)
		if err != nil {
			return err
		}
		if len(recs) == 0 && given {
			return inputErrorf(file, 0, "a run's evaluations come from its recipe's eval: section (tasks, interval, at_anneal), or the v key in the lab",
				"holds no evaluations")
		}
		if len(recs) == 0 {
			return nil
		}
		def := filepath.Base(filepath.Dir(file))
		named := hasRunField(recs)
		one := true // the file is one run's (no soups): it becomes that run's records as it is
		for i := range recs {
			if recs[i].Run == "" {
				recs[i].Run = def
			}
			one = one && recs[i].Run == recs[0].Run
		}
		// a run's records come from one file: two files that name the same
		// run are one run twice (a copy of its directory, or a path given
		// twice), which would count its scores twice and compare it with
		// nothing
		prev := ""
		for i := range recs {
			if r := recs[i].Run; r != prev {
				if f, ok := from[r]; ok && f != file {
					return sameRunError(f, file, r, named)
				}
				from[r], prev = file, r
			}
		}
		if one && byRun[recs[0].Run] == nil {
			byRun[recs[0].Run] = recs
			return nil
		}
		for _, r := range recs {
			byRun[r.Run] = append(byRun[r.Run], r)
		}
		return nil
	}
	if err := eachEvalFile(paths, read); err != nil {
		return nil, err
	}
	var out []RunEvals
	for _, name := range sortedKeys(byRun) {
		out = append(out, RunEvals{Name: name, Records: byRun[name]})
	}
	return out, nil
}

// eachEvalFile calls read with each evals.jsonl the paths name (run
// directories, directories of runs, files), given: named itself.
func eachEvalFile(paths []string, read func(file string, given bool) error) error {
	if len(paths) == 0 {
		return inputErrorf("", 0, "give run directories, a directory of runs, or evals.jsonl files", "no runs")
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			return &InputError{Path: p, Msg: "no such run directory or evals file", Hint: "give run directories (runs/NAME), a directory of runs, or evals.jsonl files"}
		}
		if err != nil {
			return &InputError{Path: p, Msg: "cannot read this run directory or evals file", Err: err}
		}
		if !st.IsDir() {
			if err := read(p, true); err != nil {
				return err
			}
			continue
		}
		if f := filepath.Join(p, "evals.jsonl"); fileExists(f) {
			if err := read(f, true); err != nil {
				return err
			}
			continue
		}
		subs, _ := filepath.Glob(filepath.Join(p, "*", "evals.jsonl"))
		if len(subs) == 0 {
			return inputErrorf(p, 0, "a run directory holds evals.jsonl; a directory of runs holds run directories",
				"no evals.jsonl here or in its subdirectories")
		}
		sort.Strings(subs)
		for _, f := range subs {
			if err := read(f, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// LoadRunEvalTails is LoadRunEvals keeping of each run only what SNR with
// LastN lastN (0: 5) and Tag tag needs: per task, formulation and metric, the
// scores of the last lastN steps and their trailing means over lastN steps
// (TrailingMean, summed as it sums), read as the files stream. An MMLU-scale
// run (57 subjects × 8 metrics every 125 steps of 100K: 365K records) is
// then a few hundred short series, not its records. Records out of step order
// within a series (a file written by hand, runs joined) are read again whole
// (LoadRunEvals). SNR refuses runs loaded for another lastN or tag.
func LoadRunEvalTails(lastN int, tag string, paths ...string) ([]RunEvals, error) {
	if lastN <= 0 {
		lastN = 5
	}
	type run struct {
		n      int
		series map[seriesKey]*tailState
		suite  []EvalRecord // the records SuiteRecords reads: OLMES tasks' primary scores and suite scores
	}
	byRun := map[string]*run{}
	from := map[string]string{} // run name -> the file its records came from (LoadRunEvals' same-run check)
	ordered := true
	read := func(file string, given bool) error {
		file = filepath.Clean(file)
		for _, f := range from {
			if f == file {
				return sameRunError(f, file, "", false)
			}
		}
		def := filepath.Base(filepath.Dir(file))
		n := 0
		var dup error
		prev := ""
		err := eachEvalRecord(file, func(r *EvalRecord) {
			if dup != nil {
				return
			}
			n++
			name := r.Run
			if name == "" {
				name = def
			}
			if name != prev {
				if f, ok := from[name]; ok && f != file {
					dup = sameRunError(f, file, name, r.Run != "")
					return
				}
				from[name], prev = file, name
			}
			ru := byRun[name]
			if ru == nil {
				ru = &run{series: map[seriesKey]*tailState{}}
				byRun[name] = ru
			}
			ru.n++
			if r.Tag != tag {
				return
			}
			k := seriesOf(r)
			st := ru.series[k]
			if st == nil {
				st = &tailState{}
				ru.series[k] = st
			}
			ordered = st.add(r.Step, r.Value, lastN) && ordered
			if r.Recorded() {
				st.recorded, st.settings = true, howScored(r.Settings)
			}
			if r.Metric == MetricPrimaryScore || r.Primary && isSuiteTask(r.Task) { // SuiteRecords' and the suites
				s := *r
				s.Run = name
				ru.suite = append(ru.suite, s)
			}
		})
		if err != nil {
			return err
		}
		if dup != nil {
			return dup
		}
		if n == 0 && given {
			return inputErrorf(file, 0, "a run's evaluations come from its recipe's eval: section (tasks, interval, at_anneal), or the v key in the lab",
				"holds no evaluations")
		}
		return nil
	}
	if err := eachEvalFile(paths, read); err != nil {
		return nil, err
	}
	if !ordered {
		runs, err := LoadRunEvals(paths...)
		for i, r := range runs {
			runs[i] = RunEvals{Name: r.Name, n: len(r.Records), tails: fullTails(r.Records, lastN, tag), tailN: lastN, tailTag: tag}
		}
		return runs, err
	}
	var out []RunEvals
	for _, name := range sortedKeys(byRun) {
		ru := byRun[name]
		re := RunEvals{Name: name, n: ru.n, tails: map[seriesKey]seriesTail{}, tailN: lastN, tailTag: tag}
		suiteTails(ru.series, ru.suite, lastN)
		for k, st := range ru.series {
			re.tails[k] = st.tail(lastN)
		}
		out = append(out, re)
	}
	return out, nil
}

// seriesTail is the end of one series: its last up to LastN scores and their
// trailing means (TrailingMean over the whole series).
type seriesTail struct {
	xs, avg []float64
	// recorded: scores made after the run (olmolab eval --record, EvalRecord.Recorded), not by it
	recorded bool
	settings string // how the last of those was scored, less the checkpoint (howScored)
}

// alignedAs returns m floats placed as the last m of a fresh slice of n
// would be: gonum's floats.Sum (under stat.Mean) adds in an order that follows
// the slice's 16-byte alignment, and SNR's figures are those of the whole
// series' slices to the bit.
func alignedAs(m, n int) []float64 {
	pad := (n - m) % 2
	return make([]float64, m+pad, max(m+pad, 4))[pad:] // 32 bytes and more: 16-byte aligned
}

// fullTails is every series' tail from a run's records.
func fullTails(recs []EvalRecord, lastN int, tag string) map[seriesKey]seriesTail {
	// suites whose members separate evaluations of a checkpoint scored, after recs: a step's last record counts
	if syn := SuiteRecords(recs); len(syn) > 0 {
		recs = append(slices.Clip(recs), syn...)
	}
	out := map[seriesKey]seriesTail{}
	for k, xs := range runSeries(recs, tag) {
		m := min(len(xs), lastN)
		out[k] = seriesTail{xs: xs[len(xs)-m:], avg: TrailingMean(xs, lastN)[len(xs)-m:]}
	}
	for _, r := range recs {
		if r.Tag == tag && r.Recorded() {
			k := seriesOf(&r)
			t := out[k]
			t.recorded, t.settings = true, howScored(r.Settings)
			out[k] = t
		}
	}
	return out
}

// tailState follows one series in step order: the last lastN+1 steps, their
// scores and TrailingMean's running sum at each (s_i = s_{i−1} + x_i −
// x_{i−lastN}, in that order, so the means are TrailingMean's to the bit).
type tailState struct {
	n        int // steps so far
	steps    []int
	xs, sums []float64
	recorded bool // some of its records were made after the run (EvalRecord.Recorded)
	settings string
}

// add takes the score x at step; a repeated last step replaces its score (the
// last record wins, as in runSeries). False for a step before the last.
func (t *tailState) add(step int, x float64, lastN int) bool {
	k := len(t.steps)
	if k > 0 && step < t.steps[k-1] {
		return false
	}
	if k > 0 && step == t.steps[k-1] {
		t.steps, t.xs, t.sums = t.steps[:k-1], t.xs[:k-1], t.sums[:k-1]
		t.n--
		k--
	}
	var s float64
	if k > 0 {
		s = t.sums[k-1]
	}
	s += x
	if i := t.n; i >= lastN {
		s -= t.xs[k-lastN] // step i−lastN: kept, as k ≥ lastN while n ≥ lastN
	}
	t.steps, t.xs, t.sums = append(t.steps, step), append(t.xs, x), append(t.sums, s)
	t.n++
	if len(t.steps) > 2*(lastN+1) { // drop the oldest in batches
		d := len(t.steps) - (lastN + 1)
		t.steps, t.xs, t.sums = append(t.steps[:0], t.steps[d:]...), append(t.xs[:0], t.xs[d:]...), append(t.sums[:0], t.sums[d:]...)
	}
	return true
}

// suiteTails adds to series the suite scores that SuiteRecords makes of suite (a run's records of one tag, in
// file order), merged in step order with the suite records there were, which they replace at a step.
func suiteTails(series map[seriesKey]*tailState, suite []EvalRecord, lastN int) {
	syn := SuiteRecords(suite)
	if len(syn) == 0 {
		return
	}
	keyOf := func(r EvalRecord) seriesKey { return seriesOf(&r) }
	touched := map[seriesKey]bool{}
	for _, r := range syn {
		touched[keyOf(r)] = true
	}
	var recs []EvalRecord
	for _, r := range append(slices.Clip(suite), syn...) {
		if touched[keyOf(r)] {
			recs = append(recs, r)
		}
	}
	// stable: at a step, the records' own order, so the last (SuiteRecords') wins as in runSeries
	slices.SortStableFunc(recs, func(a, b EvalRecord) int { return cmp.Compare(a.Step, b.Step) })
	for k := range touched {
		series[k] = &tailState{}
	}
	for _, r := range recs {
		st := series[keyOf(r)]
		st.add(r.Step, r.Value, lastN)
		st.recorded = st.recorded || r.Recorded()
	}
}

// tail is the series' last up to lastN scores and trailing means.
func (t *tailState) tail(lastN int) seriesTail {
	m := min(len(t.xs), lastN)
	k := len(t.xs) - m
	out := seriesTail{xs: alignedAs(m, t.n), avg: alignedAs(m, t.n), recorded: t.recorded, settings: t.settings}
	copy(out.xs, t.xs[k:])
	for j := range m {
		i := t.n - m + j // the step's index in the whole series
		out.avg[j] = t.sums[k+j] / float64(min(i+1, lastN))
	}
	return out
}

// SNROptions choose how SNR measures signal and noise.
type SNROptions struct {
	LastN int       // checkpoints per run for noise and for averaging; 0 = 5 (DataDecide's last 5)
	Noise NoiseMode // per-run (default) or pooled
	// Target are the same recipes at a larger scale; with them each row gets decision accuracy (small runs'
	// final scores ranking the recipes as the targets' last scores do). SNR leaves out the targets' sub-runs
	// as it does the runs' (SubRuns), then pairs Target[i] with the i-th run it kept: give both in the same
	// order (the CLI's, by name), the same number of each. With SubRuns a target's soup and ingredients are
	// targets, as a run's are runs ("150M/web/soup" pairs with "1B/web/soup"). A target's score is its own last
	// evaluation, its soup's only as a sub-run of its own: SoupFinal is of the runs.
	Target []RunEvals
	// Tag selects records by their tag: "" (default) takes untagged evaluations, so specially labelled
	// evaluations at the same step do not mix with the run's own series.
	Tag string
	// SubRuns includes runs whose name has a "/" (the lab's "<run>/soup" and "<run>/ingredient-…"), which have
	// one evaluation each; by default they are left out.
	SubRuns bool
	// SoupFinal names the runs that ended with their recipe's soup (lab.EndedWithSoup): without SubRuns, the
	// soup's scores (its "<run>/soup" records) are such a run's final scores, as they are its final model's
	// (olmolab eval --model RUN scores the soup); its noise still comes from its own checkpoints before it.
	SoupFinal map[string]bool
}

// SNRRow is signal, noise and SNR for one task, formulation, split and metric.
type SNRRow struct {
	Task        string      `json:"task"`
	Formulation Formulation `json:"formulation"`
	Split       string      `json:"split,omitempty"`     // the dataset split the scores are of (EvalRecord.Split); "" not recorded
	Instances   int         `json:"instances,omitempty"` // instances scored (EvalRecord.Instances); 0 not recorded
	Metric      string      `json:"metric"`
	Runs        int         `json:"runs"`
	LastN       int         `json:"last_n"` // checkpoints per run actually used (the shortest run's count, at most LastN)
	Mean        float64     `json:"mean"`   // mean of the runs' final scores
	Signal      float64     `json:"signal"`
	Noise       float64     `json:"noise"`
	SNR         float64     `json:"snr"`
	// With the checkpoint-averaging intervention: every score replaced by the trailing mean of LastN checkpoints.
	AvgSignal float64 `json:"avg_signal"`
	AvgNoise  float64 `json:"avg_noise"`
	AvgSNR    float64 `json:"avg_snr"`
	// Decision accuracy against SNROptions.Target (NaN without targets), from final and from averaged scores.
	DecisionAcc    float64 `json:"decision_acc"`
	AvgDecisionAcc float64 `json:"avg_decision_acc"`
}

// MarshalJSON writes NaN and infinite values as null.
func (r SNRRow) MarshalJSON() ([]byte, error) {
	f := func(x float64) *float64 {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return &x
	}
	return json.Marshal(struct {
		Task           string      `json:"task"`
		Formulation    Formulation `json:"formulation"`
		Split          string      `json:"split,omitempty"`
		Instances      int         `json:"instances,omitempty"`
		Metric         string      `json:"metric"`
		Runs           int         `json:"runs"`
		LastN          int         `json:"last_n"`
		Mean           *float64    `json:"mean"`
		Signal         *float64    `json:"signal"`
		Noise          *float64    `json:"noise"`
		SNR            *float64    `json:"snr"`
		AvgSignal      *float64    `json:"avg_signal"`
		AvgNoise       *float64    `json:"avg_noise"`
		AvgSNR         *float64    `json:"avg_snr"`
		DecisionAcc    *float64    `json:"decision_acc,omitempty"`
		AvgDecisionAcc *float64    `json:"avg_decision_acc,omitempty"`
	}{r.Task, r.Formulation, r.Split, r.Instances, r.Metric, r.Runs, r.LastN, f(r.Mean), f(r.Signal), f(r.Noise), f(r.SNR),
		f(r.AvgSignal), f(r.AvgNoise), f(r.AvgSNR), f(r.DecisionAcc), f(r.AvgDecisionAcc)})
}

// SNRTable is the SNR analysis of a set of runs, sorted by SNR (highest first).
type SNRTable struct {
	Runs    []string `json:"runs"`
	Targets []string `json:"targets,omitempty"`
	// SoupFinals are the runs whose final scores are their soup's (SNROptions.SoupFinal).
	SoupFinals []string `json:"soup_finals,omitempty"`
	// SubRuns: soups and their ingredients were counted as runs (SNROptions.SubRuns).
	SubRuns   bool     `json:"sub_runs,omitempty"`
	NoiseMode string   `json:"noise_mode"`
	LastN     int      `json:"last_n"`
	Rows      []SNRRow `json:"rows"`
	// MixedSplits are the tasks the runs (and targets) scored on more than one split (eval.split differed
	// between runs, or changed within one): each split is a measurement of its own, a row of its own where every
	// run has it, with decision accuracy where every target has it too.
	MixedSplits []MixedSplit `json:"mixed_splits,omitempty"`
	// MixedInstances are the tasks the runs (and targets) scored on more than one number of instances (every
	// instance, ::olmes:full, and a --limit): each count is a measurement of its own, a row of its own.
	MixedInstances []string `json:"mixed_instances,omitempty"`
	// Recorded are the tasks whose rows hold scores made after the runs by olmolab eval --record (of each
	// run's kept checkpoints), not by the runs' own evaluations in training.
	Recorded []string `json:"recorded,omitempty"`
	// Partial are the tasks (per split) some of the runs scored and others did not: a row needs every run's
	// scores, so they have none, and nothing said so (two runs of four scored with eval --record).
	Partial []PartialTask `json:"partial,omitempty"`
	// MixedSettings are the recorded tasks the runs scored with different settings (eval --record's --limit,
	// --seq, …): their rows compare scores of different requests, which the table's description says.
	MixedSettings []MixedSetting `json:"mixed_settings,omitempty"`
}

// MixedSetting is a task on one split that eval --record scored with other settings in some runs than in
// others (another --limit scores other requests): which runs with which settings (the parts that differ).
type MixedSetting struct {
	Task     string        `json:"task"`
	Split    string        `json:"split,omitempty"`
	Settings []SettingRuns `json:"settings"`
}

// SettingRuns are the runs whose recorded scores of a task were made with one set of settings.
type SettingRuns struct {
	Settings string   `json:"settings"`
	Runs     []string `json:"runs"`
}

// PartialTask is a task on one split that only some of the runs scored, and which.
type PartialTask struct {
	Task  string   `json:"task"`
	Split string   `json:"split,omitempty"`
	Runs  []string `json:"runs"`
}

// MixedSplit is a task scored on several splits: which runs have scores on which split.
type MixedSplit struct {
	Task   string      `json:"task"`
	Splits []SplitRuns `json:"splits"`
}

// SplitRuns are the runs with scores of a task on one split ("": records that name none).
type SplitRuns struct {
	Split string   `json:"split"`
	Runs  []string `json:"runs"`
}

// TaskName is the row's task as tables print it: with its split in brackets
// when the runs scored the task on more than one (MixedSplits), so that two
// rows of one task say which measurement each is; the task alone otherwise.
// Likewise its instance count where the runs scored it on several.
func (t SNRTable) TaskName(r SNRRow) string {
	var of []string
	for _, m := range t.MixedSplits {
		if m.Task == r.Task {
			of = append(of, splitName(r.Split))
		}
	}
	if slices.Contains(t.MixedInstances, r.Task) {
		of = append(of, instancesName(r.Instances))
	}
	if len(of) == 0 {
		return r.Task
	}
	return r.Task + " (" + strings.Join(of, ", ") + ")"
}

func instancesName(n int) string {
	if n == 0 {
		return "instances not recorded"
	}
	return plural.N(n, "instance")
}

func splitName(s string) string { return cmp.Or(s, "split not recorded") }

// DescribeSplits says which tasks the runs scored on different splits and
// how the table treats them; "" when none. Printed tables say it under
// DescribeFinals.
func (t SNRTable) DescribeSplits() string {
	if len(t.MixedSplits) == 0 {
		return ""
	}
	var parts []string
	for _, m := range t.MixedSplits {
		var on []string
		for _, s := range m.Splits {
			on = append(on, fmt.Sprintf("%s (%s)", splitName(s.Split), strings.Join(s.Runs, ", ")))
		}
		parts = append(parts, m.Task+" on "+strings.Join(on, " and "))
	}
	return "different splits: " + strings.Join(parts, "; ") +
		": scores on different splits are different measurements, so each split is a row of its own, listed only where every run has it; HINT: give the runs the same eval.split, or score the runs' kept checkpoints on one split afterwards (olmolab eval --model RUN --record --split S records them in the run's evals.jsonl; a split the run evaluated itself is refused)"
}

// DescribeRecorded says which tasks' scores were made after the runs by
// olmolab eval --record, "" when none. Printed tables say it under
// DescribeSplits.
func (t SNRTable) DescribeRecorded() string {
	if len(t.Recorded) == 0 {
		return ""
	}
	return "scored after the runs (olmolab eval --record, of each run's kept checkpoints; evals.jsonl's settings say how): " + strings.Join(t.Recorded, ", ") +
		"; their final scores are each run's final model's (its last checkpoint, or the soup it ended with), their noise over its last checkpoints"
}

// DescribeSettings says which recorded tasks the runs scored with different
// settings, "" when none. Printed tables say it under DescribeRecorded.
func (t SNRTable) DescribeSettings() string {
	if len(t.MixedSettings) == 0 {
		return ""
	}
	var parts []string
	for _, m := range t.MixedSettings {
		name := m.Task
		if m.Split != "" {
			name += " (" + m.Split + ")"
		}
		var on []string
		for _, s := range m.Settings {
			on = append(on, fmt.Sprintf("%s (%s)", s.Settings, strings.Join(s.Runs, ", ")))
		}
		parts = append(parts, name+": "+strings.Join(on, "; "))
	}
	return "scored with different settings after the runs: " + strings.Join(parts, "; ") +
		": other settings score other requests, so the spread is not the runs' alone; HINT: record the task again with the same settings in every run (olmolab eval --model RUN --record replaces the earlier records)"
}

// DescribePartial says which tasks have no row because only some of the
// runs scored them, and which runs did, "" when none. Printed tables say it
// under DescribeRecorded.
func (t SNRTable) DescribePartial() string {
	if len(t.Partial) == 0 {
		return ""
	}
	var parts []string
	for _, p := range t.Partial {
		name := p.Task
		if p.Split != "" {
			name += " (" + p.Split + ")"
		}
		// the shorter list: the runs that scored it, or those that did not
		which := ": " + strings.Join(p.Runs, ", ")
		if 2*len(p.Runs) > len(t.Runs) {
			var lack []string
			for _, r := range t.Runs {
				if !slices.Contains(p.Runs, r) {
					lack = append(lack, r)
				}
			}
			which = ", not " + strings.Join(lack, ", ")
		}
		parts = append(parts, fmt.Sprintf("%s (%d of %d runs%s)", name, len(p.Runs), len(t.Runs), which))
	}
	return "no row for what only some runs scored: " + strings.Join(parts, "; ") +
		"; HINT: score it in the others too (olmolab eval --model RUN --record --tasks TASK), or compare those runs alone"
}

// DescribeTargets says what the decision-accuracy columns compare and which
// run pairs with which target, "" without targets. Printed tables say it
// under DescribePartial.
func (t SNRTable) DescribeTargets() string {
	if len(t.Targets) == 0 {
		return ""
	}
	pairs := make([]string, len(t.Targets))
	for i, tg := range t.Targets {
		pairs[i] = t.Runs[i] + " → " + tg
	}
	return "decision accuracy: the share of pairs of runs whose final scores are in the order of their targets' last scores (Signal-and-Noise's decision_acc_fast; avg: the runs' averaged scores); runs → targets: " +
		strings.Join(pairs, ", ")
}

// Describe says in words how signal and noise were measured; every printed table starts with it.
func (t SNRTable) Describe() string {
	// a --last beyond the runs' evaluations uses what they have: say so
	// rather than "the last 100 checkpoints" over runs of 5 (n per row)
	used := 0
	for _, r := range t.Rows {
		used = max(used, r.LastN)
	}
	last := "last " + plural.N(t.LastN, "checkpoint")
	if len(t.Rows) > 0 && used < t.LastN {
		last = fmt.Sprintf("last %s (at most %d here: n)", plural.N(t.LastN, "checkpoint"), used)
	}
	if t.NoiseMode == NoisePooled.String() {
		return fmt.Sprintf("noise: pooled — std/mean (population std) of all %d runs' %s together (Signal-and-Noise's small-scale convention); signal: (max−min)/mean of each run's mean over its last %s",
			len(t.Runs), last, plural.N(t.LastN, "checkpoint"))
	}
	return fmt.Sprintf("noise: per-run — std/mean (population std) over each run's %s, averaged over %s; signal: (max−min)/mean of the runs' final scores",
		last, plural.N(len(t.Runs), "run"))
}

// DescribeFinals says which scores are a run's final ones (the mean, the
// per-run signal, decision accuracy); printed tables say it under Describe.
// Pooled noise takes its signal from last-N means instead, which it says.
func (t SNRTable) DescribeFinals() string {
	s := t.describeFinals()
	if t.NoiseMode == NoisePooled.String() {
		s += " (with pooled noise they give the mean column and decision accuracy; the signal uses each run's last-N mean)"
	}
	return s
}

func (t SNRTable) describeFinals() string {
	switch {
	case t.SubRuns:
		return "final scores: each run's last evaluation of its own weights; soups and their ingredients count as runs of their own (--soups)"
	case len(t.SoupFinals) == 1:
		return fmt.Sprintf("final scores: each run's last evaluation, but for %s, which ended with its recipe's soup, the soup's (the model olmolab eval --model RUN scores; one model, so the same with checkpoint averaging), with noise from its checkpoints before the soup",
			t.SoupFinals[0])
	case len(t.SoupFinals) > 1:
		return fmt.Sprintf("final scores: each run's last evaluation, but for %s, which ended with their recipes' soups, the soups' (the models olmolab eval --model RUN scores; one model each, so the same with checkpoint averaging), with noise from their checkpoints before the soup",
			strings.Join(t.SoupFinals, ", "))
	}
	return "final scores: each run's last evaluation"
}

// seriesKey is one measurement: a task scored on a split (olmolab eval
// --split, eval.split) is another measurement than on another split, so
// scores on different splits are never one series or one row.
type seriesKey struct {
	task   string
	form   Formulation
	split  string
	metric string
	inst   int // instances scored (EvalRecord.Instances): every instance and a sample are two measurements
}

// seriesOf is the series r belongs to.
func seriesOf(r *EvalRecord) seriesKey {
	return seriesKey{r.Task, r.Formulation, r.Split, r.Metric, r.Instances}
}

// runSeries returns each key's values in step order (the last record wins at a repeated step).
func runSeries(recs []EvalRecord, tag string) map[seriesKey][]float64 {
	pts := map[seriesKey]map[int]float64{}
	for _, r := range recs {
		if r.Tag != tag {
			continue
		}
		k := seriesOf(&r)
		if pts[k] == nil {
			pts[k] = map[int]float64{}
		}
		pts[k][r.Step] = r.Value
	}
	out := map[seriesKey][]float64{}
	for k, m := range pts {
		steps := make([]int, 0, len(m))
		for s := range m {
			steps = append(steps, s)
		}
		sort.Ints(steps)
		vs := make([]float64, len(steps))
		for i, s := range steps {
			vs[i] = m[s]
		}
		out[k] = vs
	}
	return out
}

// SNR computes signal, noise and SNR per task, formulation, split and metric over comparable runs (olmes.md §4.1), with
// and without checkpoint averaging, and decision accuracy when targets are given. Only keys every run has are
// reported; fewer than two runs is an *InputError.
func SNR(runs []RunEvals, o SNROptions) (SNRTable, error) {
	if o.LastN <= 0 {
		o.LastN = 5
	}
	soups := map[string]RunEvals{} // a run's soup, when its scores are the run's final ones
	if !o.SubRuns {
		var main []RunEvals
		for _, r := range runs {
			if !strings.Contains(r.Name, "/") {
				main = append(main, r)
			} else if run, ok := strings.CutSuffix(r.Name, "/soup"); ok && o.SoupFinal[run] {
				soups[run] = r
			}
		}
		runs = main
		// the targets likewise, so that each pairs with its own run
		var targets, dropped []RunEvals
		for _, r := range o.Target {
			if !strings.Contains(r.Name, "/") {
				targets = append(targets, r)
			} else {
				dropped = append(dropped, r)
			}
		}
		if len(o.Target) > 0 && len(targets) == 0 {
			// no target left: decision accuracy would vanish from the table without a word
			return SNRTable{}, droppedTargetsError(dropped)
		}
		o.Target = targets
	}
	if len(runs) < 2 {
		var names []string
		for _, r := range runs {
			names = append(names, r.Name)
		}
		msg := plural.N(len(runs), "run") + " with evaluations"
		if len(names) > 0 {
			msg += ": " + strings.Join(names, ", ")
		}
		return SNRTable{}, inputErrorf("", 0, "signal compares runs: give at least two comparable runs with evaluations", "%s", msg)
	}
	if len(o.Target) > 0 && len(o.Target) != len(runs) {
		hint := "give one target run per run, in the same order"
		if o.SubRuns {
			hint += "; with --soups the soups and ingredients of both count, so each run's need a target's"
		}
		return SNRTable{}, inputErrorf("", 0, hint, "%s but %s", plural.N(len(runs), "run"), plural.N(len(o.Target), "target"))
	}
	t := SNRTable{NoiseMode: o.Noise.String(), LastN: o.LastN, SubRuns: o.SubRuns}
	tails := func(r RunEvals) (map[seriesKey]seriesTail, error) {
		if r.tails == nil {
			return fullTails(r.Records, o.LastN, o.Tag), nil
		}
		if r.tailN != o.LastN || r.tailTag != o.Tag {
			return nil, fmt.Errorf("snr: run %s was loaded for the last %d checkpoints tagged %q, not %d tagged %q", r.Name, r.tailN, r.tailTag, o.LastN, o.Tag)
		}
		return r.tails, nil
	}
	series := make([]map[seriesKey]seriesTail, len(runs))
	finalOf := make([]map[seriesKey]seriesTail, len(runs)) // the soup's, for a run that ended with it
	for i, r := range runs {
		t.Runs = append(t.Runs, r.Name)
		var err error
		if series[i], err = tails(r); err != nil {
			return SNRTable{}, err
		}
		if s, ok := soups[r.Name]; ok {
			if finalOf[i], err = tails(s); err != nil {
				return SNRTable{}, err
			}
			t.SoupFinals = append(t.SoupFinals, r.Name)
		}
	}
	targets := make([]map[seriesKey]seriesTail, len(o.Target))
	for i, r := range o.Target {
		t.Targets = append(t.Targets, r.Name)
		var err error
		if targets[i], err = tails(r); err != nil {
			return SNRTable{}, err
		}
	}
	// targets too: small runs scored on validation and targets on test
	// have no decision accuracy, which the note then explains
	// records without an instance count (older ones) join the one count the others have, as they read before
	all := pairInstances(slices.Concat(series, finalOf, targets))
	series, finalOf, targets = all[:len(series)], all[len(series):len(series)+len(finalOf)], all[len(series)+len(finalOf):]
	t.MixedSplits = mixedSplits(append(slices.Clone(t.Runs), t.Targets...), append(slices.Clone(series), targets...))
	t.Partial = partialTasks(t.Runs, series, t.MixedSplits)
	t.MixedSettings = mixedSettings(t.Runs, series)
	t.MixedInstances = mixedInstances(append(slices.Clone(series), targets...))
	for k := range series[0] {
		var finals, avgFinals []float64
		var lastN, avgLastN [][]float64
		n := o.LastN
		complete := true
		for i, s := range series {
			xs := s[k].xs
			if len(xs) == 0 || finalOf[i] != nil && len(finalOf[i][k].xs) == 0 {
				complete = false
				break
			}
			n = min(n, len(xs))
		}
		if !complete {
			continue
		}
		for i, s := range series {
			xs, sm := s[k].xs, s[k].avg
			if f := finalOf[i]; f != nil {
				// the soup the run ended with: one model, its final score
				// with or without checkpoint averaging
				x := f[k].xs[len(f[k].xs)-1]
				finals, avgFinals = append(finals, x), append(avgFinals, x)
			} else {
				finals = append(finals, xs[len(xs)-1])
				avgFinals = append(avgFinals, sm[len(sm)-1])
			}
			lastN = append(lastN, xs[len(xs)-n:])
			avgLastN = append(avgLastN, sm[len(sm)-n:])
		}
		for i, s := range series {
			if s[k].recorded || finalOf[i] != nil && finalOf[i][k].recorded {
				if name := t.TaskName(SNRRow{Task: k.task, Split: k.split, Instances: k.inst}); !slices.Contains(t.Recorded, name) {
					t.Recorded = append(t.Recorded, name)
				}
				break
			}
		}
		row := SNRRow{Task: k.task, Formulation: k.form, Split: k.split, Instances: k.inst, Metric: k.metric, Runs: len(series), LastN: n,
			Mean: stat.Mean(finals, nil)}
		sigScores, avgSigScores := finals, avgFinals
		if o.Noise == NoisePooled {
			sigScores, avgSigScores = runMeans(lastN), runMeans(avgLastN)
		}
		row.Signal, row.Noise = Signal(sigScores), Noise(lastN, o.Noise)
		row.SNR = row.Signal / row.Noise
		row.AvgSignal, row.AvgNoise = Signal(avgSigScores), Noise(avgLastN, o.Noise)
		row.AvgSNR = row.AvgSignal / row.AvgNoise
		if n < 2 {
			// one checkpoint in some run: its wobble is not measured, which is
			// not a noise of 0 (that gave SNR inf, sorted first)
			row.Noise, row.SNR, row.AvgNoise, row.AvgSNR = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		}
		row.DecisionAcc, row.AvgDecisionAcc = math.NaN(), math.NaN()
		if len(targets) > 0 {
			var tf []float64
			for _, ts := range targets {
				xs := ts[k].xs
				if len(xs) == 0 {
					tf = nil
					break
				}
				tf = append(tf, xs[len(xs)-1])
			}
			if tf != nil {
				row.DecisionAcc = DecisionAccuracy(finals, tf)
				row.AvgDecisionAcc = DecisionAccuracy(avgFinals, tf)
			}
		}
		t.Rows = append(t.Rows, row)
	}
	sort.Strings(t.Recorded)
	sort.SliceStable(t.Rows, func(i, j int) bool {
		a, b := t.Rows[i], t.Rows[j]
		an, bn := math.IsNaN(a.SNR), math.IsNaN(b.SNR)
		if an != bn {
			return bn
		}
		if !an && a.SNR != b.SNR { // two NaNs compare unequal: they go by name

			return a.SNR > b.SNR
		}
		if a.Task != b.Task {
			return a.Task < b.Task
		}
		if a.Formulation != b.Formulation {
			return a.Formulation < b.Formulation
		}
		if a.Split != b.Split {
			return a.Split < b.Split
		}
		if a.Instances != b.Instances {
			return a.Instances < b.Instances
		}
		return a.Metric < b.Metric
	})
	return t, nil
}

// droppedTargetsError is SNR's refusal of targets that are all soups or ingredients ("<run>/soup",
// "<run>/ingredient-…") without SubRuns, which leaves them all out.
func droppedTargetsError(dropped []RunEvals) *InputError {
	const maxShown = 6
	var names []string
	for _, r := range dropped[:min(len(dropped), maxShown)] {
		names = append(names, r.Name)
	}
	if len(dropped) > maxShown {
		names = append(names, fmt.Sprintf("and %d more", len(dropped)-maxShown))
	}
	return inputErrorf("", 0, "add --soups to compare soups and ingredients as runs and targets, or give the target runs themselves (their directories, whose own evaluations are the targets)",
		"every target is a soup or an ingredient, which count only with --soups, so no decision accuracy could be computed: %s %s left out: %s",
		plural.N(len(dropped), "target"), plural.Verb(len(dropped), "was", "were"), strings.Join(names, ", "))
}

// mixedSplits finds the tasks that the runs (names[i] with series[i])
// scored on more than one split, each split with the runs that have it.
func mixedSplits(names []string, series []map[seriesKey]seriesTail) []MixedSplit {
	on := map[string]map[string][]string{} // task -> split -> runs
	for i, s := range series {
		for k := range s {
			if on[k.task] == nil {
				on[k.task] = map[string][]string{}
			}
			if rs := on[k.task][k.split]; len(rs) == 0 || rs[len(rs)-1] != names[i] {
				on[k.task][k.split] = append(rs, names[i])
			}
		}
	}
	var out []MixedSplit
	for _, task := range sortedKeys(on) {
		if len(on[task]) < 2 {
			continue
		}
		m := MixedSplit{Task: task}
		for _, split := range sortedKeys(on[task]) {
			m.Splits = append(m.Splits, SplitRuns{Split: split, Runs: on[task][split]})
		}
		out = append(out, m)
	}
	return out
}

// howScored is a recorded score's settings less the checkpoint they name
// ("checkpoints/step-40: context 128, limit 40, …" → "context 128, limit 40, …").
func howScored(settings string) string {
	if _, how, ok := strings.Cut(settings, ": "); ok {
		return how
	}
	return settings
}

// mixedSettings are the recorded tasks (per split) that the runs of series
// scored with different settings: which runs with which, each settings cut
// to the parts that differ ("limit 40").
func mixedSettings(names []string, series []map[seriesKey]seriesTail) []MixedSetting {
	type ts struct{ task, split string }
	by := map[ts]map[string]string{} // task and split -> run -> settings
	for i, s := range series {
		for k, t := range s {
			if t.settings == "" {
				continue
			}
			p := ts{k.task, k.split}
			if by[p] == nil {
				by[p] = map[string]string{}
			}
			by[p][names[i]] = t.settings
		}
	}
	var out []MixedSetting
	for p, runs := range by {
		distinct := map[string][]string{}
		for _, n := range names {
			if st, ok := runs[n]; ok {
				distinct[st] = append(distinct[st], n)
			}
		}
		if len(distinct) < 2 {
			continue
		}
		// the parts every settings has are not what differs
		count := map[string]int{}
		for st := range distinct {
			for _, part := range strings.Split(st, ", ") {
				count[part]++
			}
		}
		m := MixedSetting{Task: p.task, Split: p.split}
		for _, st := range sortedKeys(distinct) {
			var differ []string
			for _, part := range strings.Split(st, ", ") {
				if count[part] < len(distinct) {
					differ = append(differ, part)
				}
			}
			m.Settings = append(m.Settings, SettingRuns{Settings: strings.Join(differ, ", "), Runs: distinct[st]})
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Task < out[j].Task || out[i].Task == out[j].Task && out[i].Split < out[j].Split
	})
	return out
}

// partialTasks are the tasks and splits that some runs of series scored and
// others did not, by task and split; a task scored on several splits is
// described by mixed (DescribeSplits) instead.
func partialTasks(names []string, series []map[seriesKey]seriesTail, mixed []MixedSplit) []PartialTask {
	type ts struct{ task, split string }
	on := map[ts][]string{}
	for i, s := range series {
		for k := range s {
			p := ts{k.task, k.split}
			if rs := on[p]; len(rs) == 0 || rs[len(rs)-1] != names[i] {
				on[p] = append(rs, names[i])
			}
		}
	}
	var out []PartialTask
	for p, rs := range on {
		if len(rs) < len(series) && !slices.ContainsFunc(mixed, func(m MixedSplit) bool { return m.Task == p.task }) {
			out = append(out, PartialTask{Task: p.task, Split: p.split, Runs: rs})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Task < out[j].Task || out[i].Task == out[j].Task && out[i].Split < out[j].Split
	})
	return out
}

// pairInstances returns series with each series of no instance count
// (records written before counts were) under the one count that the others
// (every run's and target's) have of its task, formulation, split and
// metric, where its own map has none of that count: one measurement, as it
// read before. Where they have several counts, or none, it stays apart. A
// map it changes is a copy.
func pairInstances(series []map[seriesKey]seriesTail) []map[seriesKey]seriesTail {
	counts := map[seriesKey][]int{} // inst 0: the counts of that key
	for _, s := range series {
		for k := range s {
			if k.inst == 0 {
				continue
			}
			b := k
			b.inst = 0
			if !slices.Contains(counts[b], k.inst) {
				counts[b] = append(counts[b], k.inst)
			}
		}
	}
	out := slices.Clone(series)
	for i, s := range series {
		copied := false
		for k, tail := range s {
			c := counts[k]
			if k.inst != 0 || len(c) != 1 {
				continue
			}
			to := k
			to.inst = c[0]
			if _, ok := s[to]; ok {
				continue
			}
			if !copied {
				out[i], copied = maps.Clone(s), true
			}
			delete(out[i], k)
			out[i][to] = tail
		}
	}
	return out
}

// mixedInstances lists the tasks that series hold on more than one instance count.
func mixedInstances(series []map[seriesKey]seriesTail) []string {
	on := map[string][]int{}
	for _, s := range series {
		for k := range s {
			if !slices.Contains(on[k.task], k.inst) {
				on[k.task] = append(on[k.task], k.inst)
			}
		}
	}
	var out []string
	for _, task := range sortedKeys(on) {
		if len(on[task]) > 1 {
			out = append(out, task)
		}
	}
	return out
}

// DescribeInstances says which tasks the runs scored on several instance
// counts, "" when none. Printed tables say it under DescribeSplits.
func (t SNRTable) DescribeInstances() string {
	if len(t.MixedInstances) == 0 {
		return ""
	}
	return "different instance counts: " + strings.Join(t.MixedInstances, ", ") +
		": scores of every instance (::olmes:full, --limit -1) and of a sample (--limit N, OLMES's 1000) are different measurements, so each count is a row of its own, listed only where every run has it; HINT: score the runs' kept checkpoints on one count (olmolab eval --model RUN --record --limit N)"
}

func runMeans(xss [][]float64) []float64 {
	out := make([]float64, len(xss))
	for i, xs := range xss {
		out[i] = stat.Mean(xs, nil)
	}
	return out
}

// WriteTable prints the SNR table, highest SNR first, under a line saying how noise was measured.
func (t SNRTable) WriteTable(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "%s\n%s\n", t.Describe(), t.DescribeFinals()); err != nil {
		return err
	}
	for _, d := range []string{t.DescribeSplits(), t.DescribeInstances(), t.DescribeRecorded(), t.DescribeSettings(), t.DescribePartial(), t.DescribeTargets()} {
		if d == "" {
			continue
		}
		if _, err := fmt.Fprintln(w, d); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	hdr := "task\tform\tmetric\truns\tn\tmean\tsignal\tnoise\tSNR\tavg signal\tavg noise\tavg SNR\t"
	if len(t.Targets) > 0 {
		hdr += "dec.acc\tavg dec.acc\t"
	}
	fmt.Fprintln(tw, hdr)
	for _, r := range t.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t", t.TaskName(r), r.Formulation, r.Metric, r.Runs, r.LastN,
			fnum(r.Mean, 4), fnum(r.Signal, 4), fnum(r.Noise, 4), fnum(r.SNR, 2), fnum(r.AvgSignal, 4), fnum(r.AvgNoise, 4), fnum(r.AvgSNR, 2))
		if len(t.Targets) > 0 {
			fmt.Fprintf(tw, "%s\t%s\t", fnum(r.DecisionAcc, 3), fnum(r.AvgDecisionAcc, 3))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	lower := "bits_per_byte_corr"
	for _, r := range t.Rows {
		if r.Formulation == LM {
			lower += ", ce_loss, bits_per_byte (validation loss)"
			break
		}
	}
	if _, err := fmt.Fprintf(w, "avg: checkpoint averaging, each score replaced by the mean of the last %s; %s: lower is better\n", plural.N(t.LastN, "checkpoint"), lower); err != nil {
		return err
	}
	unmeasured := 0
	for _, r := range t.Rows {
		if r.LastN < 2 {
			unmeasured++
		}
	}
	if unmeasured > 0 {
		_, err := fmt.Fprintf(w, "n 1: %d of %s %s one checkpoint in some run, so no noise is measured (noise and SNR \"-\", listed last); evaluate more often (eval.interval) or compare longer runs\n", unmeasured, plural.N(len(t.Rows), "row"), plural.Verb(unmeasured, "has", "have"))
		return err
	}
	return nil
}

func fnum(x float64, prec int) string {
	switch {
	case math.IsNaN(x):
		return "-"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	return fmt.Sprintf("%.*f", prec, x)
}

// WriteJSON writes the table as one indented JSON object; NaN and infinite values are null.
func (t SNRTable) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(t)
}

// tailWatcher passes a reader through and remembers the last byte read.
type tailWatcher struct {
	r    io.Reader
	last byte
}

func (t *tailWatcher) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.last = p[n-1]
	}
	return n, err
}
