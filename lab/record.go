package lab

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/olmolab/olmolab/lab/olmes"
	"github.com/olmolab/olmolab/model"
)

// KeptCheckpoint is one of a run's complete checkpoints, with what its
// state.json says of it.
type KeptCheckpoint struct {
	Dir    string
	Run    string // the run's name in its evals.jsonl records
	Step   int64
	Tokens int64
	Phase  string
}

// KeptCheckpoints lists runDir's complete checkpoints, oldest first, each
// with its state.json's run, step, tokens and phase. A state.json that does
// not read is an *InputError naming it; one whose checkpoint a run that
// trains pruned as it was listed is left out.
func KeptCheckpoints(runDir string) (out []KeptCheckpoint, err error) {
	steps, lerr := listCheckpoints(runDir)
	if lerr != nil || len(steps) == 0 {
		return nil, &InputError{fmt.Errorf("%s: no checkpoints (%s/step-N); HINT: a run keeps its last checkpoint.keep checkpoints", runDir, CkptDir)}
	}
	defer func() {
		if len(out) == 0 && err == nil {
			out, err = nil, &InputError{fmt.Errorf("%s: no checkpoints (%s/step-N): the run pruned every one it had as they were listed; HINT: try again", runDir, CkptDir)}
		}
	}()
	for _, s := range steps {
		dir := filepath.Join(runDir, CkptDir, checkpointName(s))
		path := filepath.Join(dir, StateFile)
		b, err := os.ReadFile(path)
		if err != nil && gone(dir, err) {
			continue // pruned since it was listed (a run that trains): not kept
		}
		if err != nil {
			return nil, &InputError{err}
		}
		var st CheckpointState
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, &InputError{fmt.Errorf("%s: %w", path, err)}
		}
		if err := st.check(filepath.Base(dir)); err != nil {
			return nil, &InputError{fmt.Errorf("%s: %w", path, err)}
		}
		run := st.Run
		if run == "" {
			run = filepath.Base(filepath.Clean(runDir))
		}
		out = append(out, KeptCheckpoint{Dir: dir, Run: run, Step: st.Step, Tokens: st.Tokens, Phase: st.Phase})
	}
	return out, nil
}

// OpenKept opens the weights of each of ks (KeptCheckpoints' and a soup's),
// so that they are scored as listed even if a run that trains prunes them
// meanwhile: open files stay readable to the end, removed or not. One
// removed before it could be opened is left out, and warn says which and
// why; none left is an *InputError. Close every source returned.
func OpenKept(ks []KeptCheckpoint, warn func(string)) ([]*model.HFSource, []KeptCheckpoint, error) {
	var srcs []*model.HFSource
	var kept []KeptCheckpoint
	for _, k := range ks {
		src, err := model.OpenHF(k.Dir)
		if err == nil {
			if err = verifyWeights(src); err != nil {
				src.Close()
			}
		}
		if err != nil && gone(k.Dir, err) {
			warn(fmt.Sprintf("%s was removed before it could be opened (the run trains and keeps its newest checkpoints, checkpoint.keep); scoring the others", k.Dir))
			continue
		}
		if err != nil {
			for _, s := range srcs {
				s.Close()
			}
			return nil, nil, &InputError{err}
		}
		srcs, kept = append(srcs, src), append(kept, k)
	}
	if len(kept) == 0 {
		return nil, nil, &InputError{fmt.Errorf("every checkpoint listed was removed before it could be opened (a run that trains prunes its old checkpoints, checkpoint.keep); HINT: try again, or score the run once it has ended")}
	}
	return srcs, kept, nil
}

// recordKey is a series of records as SNR keeps them apart, for one run (or
// sub-run): task, formulation and split, and the instances scored
// (recordSeries). Every metric and step of it is one set of scores.
func recordKey(r *olmes.EvalRecord) string {
	return r.Run + "\x00" + r.Task + "\x00" + r.Formulation.String() + "\x00" + r.Split
}

// recordSeries is the set of recs' series (recordKey) with the instance
// counts each was scored on.
type recordSeries map[string][]int

func seriesOfRecords(recs []olmes.EvalRecord) recordSeries {
	s := recordSeries{}
	for i := range recs {
		k := recordKey(&recs[i])
		if !slices.Contains(s[k], recs[i].Instances) {
			s[k] = append(s[k], recs[i].Instances)
		}
	}
	return s
}

// has says whether r is of one of the series: its task, formulation and
// split with the same instance count, or where either count is not recorded
// (0: a record written before counts were), as every count was one series
// then. A ::olmes:full score (every instance) and a --limit 1000 one are
// two series, which SNR keeps apart.
func (s recordSeries) has(r *olmes.EvalRecord) bool {
	counts, ok := s[recordKey(r)]
	return ok && (r.Instances == 0 || slices.Contains(counts, 0) || slices.Contains(counts, r.Instances))
}

// staleSuites says whether r is a suite score (olmes.MetricPrimaryScore) of
// the run that folds a task, formulation and split of recs: a rerun of
// eval --record replaces that member's records, and the suite made of them
// would stand beside the new scores, stale. recs' own suites are written
// anew; the others are left out, as SNR makes a run's suites again from
// its members' records (olmes.SuiteRecords).
func staleSuites(recs []olmes.EvalRecord) func(r *olmes.EvalRecord) bool {
	type member struct {
		run, task string
		f         olmes.Formulation
		split     string
	}
	scored := map[member]bool{}
	for _, r := range recs {
		if r.Metric != olmes.MetricPrimaryScore {
			scored[member{r.Run, r.Task, r.Formulation, r.Split}] = true
		}
	}
	return func(r *olmes.EvalRecord) bool {
		if r.Metric != olmes.MetricPrimaryScore {
			return false
		}
		members, ok := olmes.SuiteMembers(r.Task)
		if !ok {
			return false
		}
		for _, m := range members {
			splits := []string{m.Split} // "": each member on its OLMES split
			if r.Split != "" {
				splits = strings.Split(r.Split, "+")
			}
			for _, sp := range splits {
				if scored[member{r.Run, m.Task, m.Formulation, sp}] {
					return true
				}
			}
		}
		return false
	}
}

// CheckRecordable refuses recs (scores made after the run, olmes.WhyRecorded)
// when the run in runDir evaluated one of their tasks, formulations and
// splits itself on as many instances (recordSeries.has): SNR reads a task's records as one series per run, and
// in-training scores and scores made afterwards with other settings would
// read as one. The error names the file, the record's line and its fields.
func CheckRecordable(runDir string, recs []olmes.EvalRecord) error {
	keys := seriesOfRecords(recs)
	path := filepath.Join(runDir, EvalsFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 256<<10)
	var buf []byte
	names := map[string]string{}
	for n := 1; ; n++ {
		line, err := readLine(r, &buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var rec olmes.EvalRecord
		if olmes.DecodeEvalRecord(line, &rec, names) != nil || rec.Recorded() || !keys.has(&rec) {
			continue
		}
		split := ""
		if rec.Split != "" {
			split = ", split " + rec.Split
		}
		hint := fmt.Sprintf("leave %s out of --tasks (its scores are in %s already), or score it on another --split, formulation or number of instances (--limit)", rec.Task, EvalsFile)
		if rec.Formulation == olmes.LM { // --val's, not a task of --tasks
			hint = fmt.Sprintf("leave out --val: the run's own eval.val is in %s already", EvalsFile)
		}
		return &InputError{fmt.Errorf("%s:%d: the run evaluated %s (run %q, formulation %s%s) itself (why %q, step %d): scores of it recorded now would join the run's own series of it, which SNR reads as one; HINT: %s",
			path, n, rec.Task, rec.Run, rec.Formulation, split, rec.Why, rec.Step, hint)}
	}
}

// RecordingPrefix starts the name of the mark eval --record keeps in a run
// directory while it scores and records the run (StartRecording):
// RecordingPrefix+"HOST.PID", a RunLock with its heartbeat.
const RecordingPrefix = "olmolab.recording."

// StartRecording marks runDir as scored by eval --record until stop is
// called: a mark of its own, not the run's lock, so that the run does not
// read as trained (the lab and sweep --status show it as recording) and
// two records of one run (a job per task) score at once. While a mark is
// live a resume is refused (StartRun): it appends to evals.jsonl and prunes
// the checkpoints being scored, so the record, hours of scoring, was
// refused at its write. A process that trains the run refuses the record
// (an *InputError naming it). The mark is written before the run's lock is
// read, and a resume reads the marks after taking the lock, so of a record
// and a resume that start together one sees the other.
func StartRecording(runDir string) (stop func(), err error) {
	pid := os.Getpid()
	path := recordingMark(runDir)
	if err := model.WriteFileAtomic(path, marshalLock(pid, LockRecording)); err != nil {
		return nil, WriteHint(err, runDir, "run the command again (nothing was scored yet)")
	}
	if l, ok := LiveLock(runDir); ok && l.Mode != LockEval {
		os.Remove(path)
		// the person's input (the run they named), not a failure: exit 2
		return nil, &InputError{fmt.Errorf("eval --record: %s is held by %s: a live run appends to its evals.jsonl and prunes its checkpoints, so nothing is scored or recorded; HINT: record once it has ended (or stop it: Ctrl-C checkpoints)", runDir, l.Holder())}
	}
	stopBeat := heartbeatFile(path, pid)
	return func() {
		stopBeat()
		os.Remove(path)
	}, nil
}

// recordingMark is the path of this process's record mark in runDir.
func recordingMark(runDir string) string {
	host, _ := os.Hostname()
	return filepath.Join(runDir, fmt.Sprintf("%s%s.%d", RecordingPrefix, host, os.Getpid()))
}

// RemoveRecording removes this process's record mark from runDir, for a
// record that quits at once (Ctrl-C, SIGTERM) without its stop: a mark left
// behind would read as a live record until its pid is gone or reused by
// another process, and a resume of the run would be refused meanwhile.
func RemoveRecording(runDir string) {
	os.Remove(recordingMark(runDir))
}

// Recording returns a live eval --record of runDir: its mark
// (StartRecording), or the run's lock while a record writes (LockEval).
func Recording(runDir string) (RunLock, bool) {
	if l, ok := LiveLock(runDir); ok && l.Mode == LockEval {
		return l, true
	}
	for _, p := range recordingMarks(runDir) {
		if l, ok := readLockFile(p); ok && l.live() {
			return l, true
		}
	}
	return RunLock{}, false
}

// recordingMarks lists the paths of runDir's record marks, live or not.
func recordingMarks(runDir string) []string {
	ents, _ := os.ReadDir(runDir)
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), RecordingPrefix) && !e.IsDir() && !strings.Contains(e.Name(), ".tmp-") {
			out = append(out, filepath.Join(runDir, e.Name()))
		}
	}
	return out
}

// refuseRecording refuses a resume of runDir while eval --record scores it.
func refuseRecording(runDir string) error {
	l, ok := Recording(runDir)
	if !ok {
		return nil
	}
	return fmt.Errorf("%s: olmolab eval --record is scoring the run's checkpoints to record them in its %s (%s): a resumed run would append to that file and prune those checkpoints, and the scores would be lost; HINT: resume once it has recorded (it prints \"recorded …\"), or stop it first (Ctrl-C: nothing is recorded)",
		runDir, EvalsFile, l.Holder())
}

// evalLockWait is how long RecordEvals waits for another eval --record's
// write of the same run (a write takes a moment, the scores hours).
var evalLockWait = 2 * time.Minute

// acquireEvalLock takes runDir's lock for eval --record, waiting while
// another eval --record holds it; a process that trains the run refuses.
func acquireEvalLock(runDir string) error {
	deadline := time.Now().Add(evalLockWait)
	for {
		err := acquireLock(runDir, LockEval)
		if err == nil {
			return nil
		}
		l, live := LiveLock(runDir)
		if !live || l.Mode != LockEval || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// RecordEvals writes recs, scores of the run's checkpoints made after the
// run (Why olmes.WhyRecorded), into runDir's evals.jsonl, where olmolab snr
// and the lab read the run's evaluations. The records of a task,
// formulation, split and instance count that an earlier recording made (of
// the same run or sub-run; one without a count, written before counts
// were, of any count: recordSeries.has) are replaced, every step of them: one series is one set of
// settings, and a rerun does not count a checkpoint twice. So are the OLMES
// suite scores an earlier recording made of one of recs' tasks
// (staleSuites): they folded the scores being replaced. It returns how
// many were replaced. Scores of a task the run evaluated itself are refused
// (CheckRecordable).
//
// The run lock (LockEval) is held while the file is rewritten: a live
// process that trains the run refuses, as the run appends to the file, and
// a resume is refused while the lock is held (and, where eval --record
// holds its mark, StartRecording, while it scores). Another
// eval --record writing the same run's file (a job per task) is waited for,
// up to evalLockWait. The file
// is replaced whole (model.WriteFileAtomicFunc): a failure leaves it as it
// was. A torn last line (a killed run's) that does not read is left out, as
// a resume leaves it out.
func RecordEvals(runDir string, recs []olmes.EvalRecord) (replaced int, err error) {
	for i := range recs {
		if !recs[i].Recorded() {
			return 0, fmt.Errorf("RecordEvals: record %d (%s at step %d) is not marked why %q", i, recs[i].Task, recs[i].Step, olmes.WhyRecorded)
		}
	}
	if err := acquireEvalLock(runDir); err != nil {
		return 0, err
	}
	defer RemoveLock(runDir, os.Getpid())
	if err := CheckRecordable(runDir, recs); err != nil {
		return 0, err
	}
	keys := seriesOfRecords(recs)
	stale := staleSuites(recs)
	path := filepath.Join(runDir, EvalsFile)
	in, err := os.Open(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	if in != nil {
		defer in.Close()
	}
	err = model.WriteFileAtomicFunc(path, func(out io.Writer) error {
		w := bufio.NewWriterSize(out, 256<<10)
		if in != nil {
			r := bufio.NewReaderSize(in, 256<<10)
			var buf []byte
			names := map[string]string{}
			for {
				line, err := readLine(r, &buf)
				if err != nil && err != io.EOF {
					return err
				}
				if len(line) == 0 {
					break
				}
				var rec olmes.EvalRecord
				ok := olmes.DecodeEvalRecord(line, &rec, names) == nil
				switch {
				case ok && rec.Recorded() && (keys.has(&rec) || stale(&rec)):
					replaced++
					continue
				case err == io.EOF && !ok: // torn
					continue
				}
				if _, err := w.Write(line); err != nil {
					return err
				}
				if err == io.EOF { // a last line without its newline
					if err := w.WriteByte('\n'); err != nil {
						return err
					}
					break
				}
			}
		}
		if err := olmes.AppendEvalRecords(w, recs); err != nil {
			return err
		}
		return w.Flush()
	})
	if err != nil {
		// WriteFileAtomicFunc's error names the file: "write PATH: …"
		return 0, WriteHint(err, runDir, fmt.Sprintf("run the command again: nothing was recorded, and %s is as it was", EvalsFile))
	}
	return replaced, nil
}
