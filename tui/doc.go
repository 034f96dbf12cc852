// Package tui is olmolab's interactive front end: `olmolab` with no
// arguments. It lists recipes and runs, launches a run in the process and
// shows its dashboard (loss, grad norm and LR charts with spikes and phase
// changes marked, status, mix, latest evaluation), sends the lab actions
// (anneal, switch mix, soup, checkpoint, evaluate, pause, stop) after a
// confirmation, compares runs and their soups, and shows evaluation scores
// with the signal-to-noise table. docs/tui.md is the user's guide.
//
// Layout, as STYLE.md asks: one root Model with a mode enum (model.go); every
// message type in messages.go; Update is a router that calls one handleX per
// message (update.go); one KeyMap drives both dispatch and help, with the
// keys that do not apply disabled (keys.go); colours live in tui/theme only.
//
// Data flow. A live run's events reach the UI through waitEvents, at most
// once a frame (10 Hz) and in one batch, so training never waits on drawing.
// A run's picture (runData) is built by folding events in order, the same
// code for live events and for a run directory read back (store.go), so a
// reopened run looks exactly as it did live. Runs trained by another process
// (a detached headless run) are followed by reading their JSONL files as
// they grow.
//
// Charts (chart.go) reduce each series to one bucket per column, keeping
// min, max and last, before asciigraph draws it: asciigraph's own resizing
// interpolates and would hide a one-step spike.
//
// The UI writes nothing to the terminal outside its view; its log goes where
// Options.Logger says (cmd_tui.go: runs/olmolab-tui.log).
package tui
