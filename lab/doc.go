// Package lab is the experiment machinery under both front ends: recipes (YAML, a
// superset of olmo-cookbook's), the run loop on its own goroutine with its events
// and actions (anneal, switch mix, soup, pause, checkpoint, evaluate, stop),
// learning-rate schedules, spike detection, MFU, the run directory with atomic
// checkpoints and resume, and the batch front end. It contains no UI code: the
// terminal UI consumes exactly the events and actions published here.
//
// Facts about OLMo 2 are cited from ../shared/docs/olmo2.md as "olmo2.md §n".
package lab
