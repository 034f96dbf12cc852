package tui

import (
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/olmolab/olmolab/lab"
)

// RunListing is one run of a runs directory as the lab sees it: its state,
// steps and losses as the run list has them, and its plan, latest
// checkpoint and latest evaluation as its dashboard has them once reopened.
// `olmolab runs` prints it where there is no terminal for the lab.
type RunListing struct {
	Name, Dir string
	Recipe    string // recipe.yaml's name
	// State is the run list's: running, headless (a --batch process holds
	// its lock), recording (eval --record scores it), or how it ended
	// (finished, stopped, interrupted, failed, diverged), or crashed (a
	// lock or none, and nobody training it)
	State         string
	Steps, Tokens int64
	PlannedSteps  int64 // 0 where the recipe does not read back
	PlannedTokens int64
	BestLoss      float64 // NaN before the first finite loss
	LastLoss      float64 // the mean of the last 10 finite losses
	// Checkpoint is the newest complete checkpoint on disk, the one
	// --batch --resume continues from ("" none; a pruned one is gone)
	Checkpoint     string
	CheckpointStep int64
	Eval           *RunEval // the run's own latest evaluation; nil none
	Soups          []string // soups/soup-N, oldest first
	Modified       time.Time
}

// RunEval is an evaluation of a run: the step, why it was made ("final",
// "interval", …) and every score.
type RunEval struct {
	Step   int64
	Why    string
	Scores []lab.EvalScore
}

// ListRuns lists the runs under root, newest first, deciding each one's
// state as the lab's run list does (scanRuns) and reading its plan,
// checkpoint and evaluation as its reopened dashboard does (loadRun). It
// reads every metrics file whole, with no time budget: a listing waits for
// its figures, where the lab shows its list at once and fills them in.
func ListRuns(root string) []RunListing {
	runs := scanRuns(root, map[string]runInfo{}, 24*time.Hour)
	out := make([]RunListing, 0, len(runs))
	for _, r := range runs {
		l := RunListing{Name: r.Name, Dir: r.Dir, Recipe: r.Recipe, State: r.State, Steps: r.Steps, Tokens: r.Tokens,
			BestLoss: r.BestLoss, LastLoss: r.LastLoss, Modified: r.Modified}
		for _, s := range r.Soups {
			l.Soups = append(l.Soups, s.Name)
		}
		if c, err := lab.LatestCheckpoint(r.Dir); err == nil {
			l.Checkpoint = c
			l.CheckpointStep, _ = strconv.ParseInt(strings.TrimPrefix(filepath.Base(c), "step-"), 10, 64)
		}
		if d, _, err := loadRun(r.Dir); err == nil {
			l.PlannedTokens, l.PlannedSteps = d.TotalTokens, d.totalSteps()
			if d.Eval != nil {
				l.Eval = &RunEval{Step: d.Eval.Step, Why: d.Eval.Why, Scores: d.Eval.Scores}
			}
		}
		out = append(out, l)
	}
	return out
}
