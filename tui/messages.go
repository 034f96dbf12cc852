package tui

import (
	"time"

	"github.com/olmolab/olmolab/lab"
)

// runEventsMsg carries the events a live run published during one frame
// (at most 10 per second), how many step events its queue has dropped so
// far, and whether the run has ended.
type runEventsMsg struct {
	gen     int
	events  []lab.Event
	dropped int64
	done    bool
	at      time.Time
}

// liveReloadedMsg is the live run read back from its directory, up to the
// newest event the UI had when it asked (after its queue dropped events, or
// when a resumed run starts).
type liveReloadedMsg struct {
	gen, seq int
	data     *runData
	err      error
}

// tickMsg is the once-a-second clock: follow runs trained by other
// processes, refresh the runs list, age the ETA.
type tickMsg time.Time

// launchedMsg is the result of starting a run (StartRun validates the recipe,
// data and memory before training starts, which can take a moment).
type launchedMsg struct {
	run    Run
	resume bool
	err    error
}

// runLoadedMsg is a run directory read back for the dashboard.
type runLoadedMsg struct {
	dir    string
	data   *runData
	follow *follower
	err    error
}

// runsScannedMsg is the list of run directories.
type runsScannedMsg struct {
	runs []runInfo
}

// overlayLoadedMsg brings what the metrics of the runs selected for the
// overlay gained since they were last read.
type overlayLoadedMsg struct {
	parts map[string]overlayPart
}

// overlayPart is the steps of one run's metrics.jsonl between two offsets;
// reset: the file was read again from the start.
type overlayPart struct {
	from, off int64
	reset     bool
	steps     *curve // the steps read (loss only)
}

// evalsLoadedMsg is the evaluation view's data.
type evalsLoadedMsg struct {
	data *evalData
}

// detachedMsg says the headless process continuing the run started (or not).
type detachedMsg struct {
	dir string
	pid int
	err error
}

// headlessExitedMsg says the headless process of a run taken over has
// written its checkpoint and exited, so the run can resume here.
type headlessExitedMsg struct {
	dir string
	err error
}

// soupBaseMsg is the run's own evaluation that a soup's details compare
// with (nil: none at or before the soup's step).
type soupBaseMsg struct {
	dir  string // the soup's directory
	base *soupBase
}
