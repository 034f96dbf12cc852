package sweep

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/olmolab/olmolab/lab"
)

// State is where a sweep's run stands, read from its run directory.
type State string

const (
	Pending     State = "pending"     // no run directory yet (or one without recipe.yaml)
	Running     State = "running"     // a live process holds the run's lock (olmolab.pid)
	Finished    State = "finished"    // summary.json says finished
	Failed      State = "failed"      // ended with an error; the next sweep resumes it, or starts it over without a checkpoint
	Diverged    State = "diverged"    // not retried: a resume would replay the same steps
	Interrupted State = "interrupted" // interrupted, stopped, or killed without a summary; resumable when it has a checkpoint
)

// Status is a run directory's state and what the sweep needs from it.
type Status struct {
	Dir        string
	State      State
	Checkpoint string          // newest complete checkpoint, "" when none
	Lock       lab.RunLock     // the live lock, when Running
	Summary    *lab.RunSummary // summary.json, when the run has ended at least once
	Last       *lab.Event      // the last step in metrics.jsonl
	Recording  *lab.RunLock    // a live eval --record of the run (lab.Recording): a resume is refused meanwhile
}

// ReadStatus reads a run directory's state: its lock, summary.json, newest
// checkpoint and last step. A live lock wins over an older summary (a resumed
// run keeps its last attempt's summary until it ends).
func ReadStatus(dir string) Status {
	st := Status{Dir: dir, State: Pending}
	if _, err := os.Stat(filepath.Join(dir, lab.RecipeFile)); err != nil {
		return st
	}
	if ck, err := lab.LatestCheckpoint(dir); err == nil {
		st.Checkpoint = ck
	}
	if s, ok := lab.ReadSummary(dir); ok {
		st.Summary = &s
	}
	st.Last = lastStep(filepath.Join(dir, lab.MetricsFile))
	// the lock eval --record holds while it writes evals.jsonl is no
	// training (it read as running): the run is recording
	if l, ok := lab.LiveLock(dir); ok && l.Mode != lab.LockEval {
		st.State, st.Lock = Running, l
		return st
	}
	if l, ok := lab.Recording(dir); ok {
		st.Recording = &l
	}
	st.State = Interrupted
	if st.Summary != nil {
		switch st.Summary.State {
		case "finished":
			st.State = Finished
		case "failed":
			st.State = Failed
		case "diverged":
			st.State = Diverged
		}
	}
	return st
}

// lastStep reads the last whole line of metrics.jsonl (a step event) from the
// file's tail, so that a long run costs no more than a short one.
func lastStep(path string) *lab.Event {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	const tail = 64 << 10
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	off := max(fi.Size()-tail, 0)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return nil
	}
	lines := strings.Split(string(buf), "\n")
	for i := len(lines) - 2; i >= 0; i-- { // the last element follows the last newline: torn or empty
		var e lab.Event
		if json.Unmarshal([]byte(lines[i]), &e) == nil && e.Type == lab.EvStep {
			return &e
		}
	}
	return nil
}

// ClearPartial removes what a start that never wrote a checkpoint left in a
// run directory (its JSONL files, summary and a stale lock), so that starting
// the run again does not append a second history to the first. It does
// nothing to a run with a checkpoint or a live process.
func ClearPartial(dir string) error {
	if _, err := lab.LatestCheckpoint(dir); err == nil {
		return nil
	}
	if _, ok := lab.LiveLock(dir); ok {
		return nil
	}
	for _, f := range []string{lab.MetricsFile, lab.EventsFile, lab.EvalsFile, lab.SummaryFile, lab.LockFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
