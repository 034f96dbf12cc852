package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab/olmes"
)

// recorded is a score made after the run (olmolab eval --record).
func recorded(run, task string, step int, v float64) olmes.EvalRecord {
	r := olmes.EvalRecord{Run: run, Step: step, Task: task, Formulation: olmes.RC, Metric: "acc_raw", Value: v,
		Why: olmes.WhyRecorded, Settings: "checkpoints/step-1: context 32"}
	if task == "arc_easy" {
		r.Split = "validation" // an OLMES benchmark's; the built-in tasks have none
	}
	return r
}

// TestRecordEvals: scores recorded after the run go into its evals.jsonl
// beside its own; a second recording of a task replaces the first's records
// of it (every step), not adding to them; a task the run evaluated itself
// is refused, naming the file, line and fields; a live process holding the
// run refuses. A refusal leaves the file as it was, and the lock is gone
// after a recording.
func TestRecordEvals(t *testing.T) {
	own := `{"run":"r","step":2,"tokens":64,"phase":"stage1","why":"interval","task":"arith","formulation":"rc","metric":"acc_raw","value":0.5,"time":"2026-11-01T00:00:00Z"}` + "\n"
	for _, c := range []struct {
		name     string
		before   string // evals.jsonl (without own's line)
		lock     bool   // a live process (this test's parent) holds the run
		recs     []olmes.EvalRecord
		err      string // in the error; "" none
		replaced int
		want     []int // steps of arc_easy's records after, in order
	}{
		{"first recording", "", false, []olmes.EvalRecord{recorded("r", "arc_easy", 1, 0.2), recorded("r", "arc_easy", 2, 0.3)}, "", 0, []int{1, 2}},
		{"again: replaced", "", false, nil, "", 0, nil}, // filled in below
		{"a task the run evaluated", "", false, []olmes.EvalRecord{recorded("r", "arith", 2, 0.1)}, "evals.jsonl:1: the run evaluated arith (run \"r\", formulation rc) itself", 0, nil},
		{"a live process", "", true, []olmes.EvalRecord{recorded("r", "arc_easy", 2, 0.3)}, "the run is being trained by pid", 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, EvalsFile)
			if c.name == "again: replaced" {
				if _, err := RecordEvals(dir, []olmes.EvalRecord{recorded("r", "arc_easy", 1, 0.2), recorded("r", "arc_easy", 2, 0.3)}); err != nil {
					t.Fatal(err)
				}
				b, _ := os.ReadFile(path)
				c.before = string(b)
				c.recs = []olmes.EvalRecord{recorded("r", "arc_easy", 2, 0.4), recorded("r", "arc_easy", 3, 0.5)}
				c.replaced, c.want = 2, []int{2, 3}
			}
			if err := os.WriteFile(path, []byte(own+c.before), 0o644); err != nil {
				t.Fatal(err)
			}
			if c.lock {
				if err := WriteLock(dir, os.Getppid(), LockHeadless); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := os.ReadFile(path)
			n, err := RecordEvals(dir, c.recs)
			after, _ := os.ReadFile(path)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one saying %q", err, c.err)
				}
				if string(after) != string(before) {
					t.Errorf("refused, but the file changed:\n%s", after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != c.replaced {
				t.Errorf("replaced %d, want %d", n, c.replaced)
			}
			if _, ok := ReadLock(dir); ok {
				t.Error("the lock is left behind")
			}
			recs, err := olmes.ReadEvalRecords(path)
			if err != nil {
				t.Fatal(err)
			}
			var steps []int
			for _, r := range recs {
				if r.Task == "arc_easy" {
					steps = append(steps, r.Step)
					if !r.Recorded() || r.Settings == "" {
						t.Errorf("record %+v: not marked as recorded after the run, with its settings", r)
					}
				}
			}
			if !strings.HasPrefix(string(after), own) || !slices.Equal(steps, c.want) {
				t.Errorf("arc_easy at steps %v, want %v; file:\n%s", steps, c.want, after)
			}
		})
	}
}

// TestEvaluatedAtIgnoresRecorded: a resumed run asks whether its checkpoint's
// step was evaluated already; scores recorded there after the fact (olmolab
// eval --record) are not its own evaluation, which it would then skip.
func TestEvaluatedAtIgnoresRecorded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, EvalsFile)
	if _, err := RecordEvals(dir, []olmes.EvalRecord{recorded("r", "arc_easy", 4, 0.2)}); err != nil {
		t.Fatal(err)
	}
	if why, _, ok := evaluatedAt(path, "r", 4); ok {
		t.Errorf("step 4 reads as evaluated by the run (%q); only eval --record scored it", why)
	}
}

// TestRecordEvalsWaitsForAnotherRecord: two eval --record jobs of one run
// (a job per task) that finish together: the second waits for the first's
// write instead of throwing away its scores.
func TestRecordEvalsWaitsForAnotherRecord(t *testing.T) {
	dir := t.TempDir()
	if err := WriteLock(dir, os.Getppid(), LockEval); err != nil { // another eval --record, writing
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		RemoveLock(dir, os.Getppid())
	}()
	if _, err := RecordEvals(dir, []olmes.EvalRecord{recorded("r", "arc_easy", 4, 0.2)}); err != nil {
		t.Fatalf("did not wait for the other write: %v", err)
	}
	recs, err := olmes.ReadEvalRecords(filepath.Join(dir, EvalsFile))
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
}

// TestRecordEvalsInstances: scores of a task on every instance
// (::olmes:full) and on a 1000-instance sample are two series: recording
// one keeps the other, and a rerun of one replaces its own earlier records
// only. A record without a count (written before counts were) is replaced
// by either, as every count was one series then. A task the run evaluated
// itself on as many instances, or on a count it did not record, is
// refused; on another count it is another series.
func TestRecordEvalsInstances(t *testing.T) {
	on := func(n, step int, v float64) olmes.EvalRecord {
		r := recorded("r", "arc_easy", step, v)
		r.Instances = n
		return r
	}
	dir := t.TempDir()
	path := filepath.Join(dir, EvalsFile)
	series := func() map[int][]int { // instances -> steps
		recs, err := olmes.ReadEvalRecords(path)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int][]int{}
		for _, r := range recs {
			out[r.Instances] = append(out[r.Instances], r.Step)
		}
		return out
	}
	for _, step := range []struct {
		what     string
		recs     []olmes.EvalRecord
		replaced int
		want     map[int][]int
	}{
		{"an old record without a count", []olmes.EvalRecord{on(0, 1, 0.1)}, 0, map[int][]int{0: {1}}},
		{"every instance: replaces the old one", []olmes.EvalRecord{on(2376, 1, 0.2), on(2376, 2, 0.3)}, 1, map[int][]int{2376: {1, 2}}},
		{"a sample: kept apart", []olmes.EvalRecord{on(1000, 1, 0.4), on(1000, 2, 0.5)}, 0, map[int][]int{2376: {1, 2}, 1000: {1, 2}}},
		{"the sample again: replaces its own", []olmes.EvalRecord{on(1000, 2, 0.6), on(1000, 3, 0.7)}, 2, map[int][]int{2376: {1, 2}, 1000: {2, 3}}},
	} {
		n, err := RecordEvals(dir, step.recs)
		if err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		if got := series(); n != step.replaced || !reflect.DeepEqual(got, step.want) {
			t.Fatalf("%s: replaced %d, steps by count %v; want %d, %v", step.what, n, got, step.replaced, step.want)
		}
	}

	// the run's own evaluation of arc_easy on 1000 instances, and one that names no count
	for _, c := range []struct {
		ownCount, recCount int
		refused            bool
	}{{1000, 1000, true}, {1000, 2376, false}, {0, 2376, true}} {
		dir := t.TempDir()
		own := fmt.Sprintf(`{"run":"r","step":2,"tokens":64,"phase":"stage1","why":"interval","task":"arc_easy","formulation":"rc","split":"validation","instances":%d,"metric":"acc_raw","value":0.5,"time":"2026-11-01T00:00:00Z"}`+"\n", c.ownCount)
		if err := os.WriteFile(filepath.Join(dir, EvalsFile), []byte(own), 0o644); err != nil {
			t.Fatal(err)
		}
		err := CheckRecordable(dir, []olmes.EvalRecord{on(c.recCount, 2, 0.3)})
		if refused := err != nil; refused != c.refused {
			t.Errorf("the run scored %d instances, a record of %d: refused %v (%v), want %v", c.ownCount, c.recCount, refused, err, c.refused)
		}
	}
}

// TestRecordEvalsReplacesItsSuites: a rerun of eval --record of arc_easy in
// RC alone replaces its RC records and the arc_easy::olmes suite score the
// first recording made of them (the better of its old RC and MC scores),
// which would stand beside the new RC score, stale; piqa::olmes, of tasks not
// rerun, is kept. A rerun in both formulations writes its suite anew, once.
func TestRecordEvalsReplacesItsSuites(t *testing.T) {
	rec := func(task string, f olmes.Formulation, v float64) olmes.EvalRecord {
		r := olmes.EvalRecord{Run: "r", Step: 1, Task: task, Formulation: f, Split: "test", Instances: 500,
			Metric: "acc_raw", Value: v, Primary: true, Group: "olmes", Why: olmes.WhyRecorded}
		if task == "piqa" {
			r.Split = "validation"
		}
		return r
	}
	suite := func(name string, v float64) olmes.EvalRecord {
		return olmes.EvalRecord{Run: "r", Step: 1, Task: name, Formulation: olmes.MCOrRC, Metric: olmes.MetricPrimaryScore,
			Value: v, Primary: true, Group: "olmes", Why: olmes.WhyRecorded}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, EvalsFile)
	suites := func() map[string][]float64 {
		recs, err := olmes.ReadEvalRecords(path)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]float64{}
		for _, r := range recs {
			if r.Metric == olmes.MetricPrimaryScore {
				out[r.Task] = append(out[r.Task], r.Value)
			}
		}
		return out
	}
	for _, step := range []struct {
		what     string
		recs     []olmes.EvalRecord
		replaced int
		want     map[string][]float64
	}{
		{"first", []olmes.EvalRecord{rec("arc_easy", olmes.RC, 0.4), rec("arc_easy", olmes.MC, 0.6), rec("piqa", olmes.RC, 0.5), rec("piqa", olmes.MC, 0.3),
			suite("arc_easy::olmes", 0.6), suite("piqa::olmes", 0.5)}, 0, map[string][]float64{"arc_easy::olmes": {0.6}, "piqa::olmes": {0.5}}},
		{"arc_easy in RC again", []olmes.EvalRecord{rec("arc_easy", olmes.RC, 0.7)}, 2, map[string][]float64{"piqa::olmes": {0.5}}},
		{"arc_easy in both again", []olmes.EvalRecord{rec("arc_easy", olmes.RC, 0.7), rec("arc_easy", olmes.MC, 0.2), suite("arc_easy::olmes", 0.7)}, 2,
			map[string][]float64{"arc_easy::olmes": {0.7}, "piqa::olmes": {0.5}}},
	} {
		n, err := RecordEvals(dir, step.recs)
		if err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		if got := suites(); n != step.replaced || !reflect.DeepEqual(got, step.want) {
			b, _ := os.ReadFile(path)
			t.Fatalf("%s: replaced %d, suites %v; want %d, %v; file:\n%s", step.what, n, got, step.replaced, step.want, b)
		}
	}
}
