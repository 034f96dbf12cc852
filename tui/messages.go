package tui

import (
	"time"

	"github.com/olmolab/olmolab/lab"
)

// runEventsMsg carries the events a live run published during one frame
// (at most 10 per second), and whether the run has ended.
type runEventsMsg struct {
	gen    int
	events []lab.Event
	done   bool
	at     time.Time
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

// overlayLoadedMsg brings curves of runs selected for the overlay.
type overlayLoadedMsg struct {
	curves map[string]*curve
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
