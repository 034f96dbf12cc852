package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/sweep"
	"github.com/olmolab/olmolab/tui"
)

// runsNow is the clock a listing's ages are measured against (tests fix it).
var runsNow = time.Now

// runsJSON is one run of `olmolab runs --json`, one object per line; README's
// "Listing runs without the lab" documents every field.
type runsJSON struct {
	Name           string        `json:"name"`
	Dir            string        `json:"dir"`
	Recipe         string        `json:"recipe,omitempty"`
	State          string        `json:"state"`
	Steps          int64         `json:"steps"`
	PlannedSteps   int64         `json:"planned_steps,omitempty"`
	Tokens         int64         `json:"tokens"`
	PlannedTokens  int64         `json:"planned_tokens,omitempty"`
	LastLoss       *float64      `json:"last_loss"`
	BestLoss       *float64      `json:"best_loss"`
	Checkpoint     string        `json:"checkpoint,omitempty"`
	CheckpointStep int64         `json:"checkpoint_step,omitempty"`
	Eval           *runsEvalJSON `json:"eval,omitempty"`
	Sweep          string        `json:"sweep,omitempty"`
	Soups          []string      `json:"soups,omitempty"`
	Modified       time.Time     `json:"modified"`
	AgeSeconds     int64         `json:"age_s"`
}

// runsEvalJSON is a run's latest own evaluation: its step, why it was made,
// and each task's primary score.
type runsEvalJSON struct {
	Step    int64              `json:"step"`
	Why     string             `json:"why"`
	Primary map[string]float64 `json:"primary"`
}

// runRuns is `olmolab runs [DIR]`: the runs of a runs directory, one line
// each, for a login node or a script, where the lab needs a terminal.
func runRuns(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("runs", stdout, stderr)
	asJSON := fs.Bool("json", false, "one JSON object per run and line, for scripts (README: Listing runs without the lab)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	dir := "runs"
	switch len(pos) {
	case 0:
	case 1:
		dir = pos[0]
	default:
		return usageError{fmt.Sprintf("runs: one runs directory, not %d (%s)", len(pos), strings.Join(pos, " "))}
	}
	if st, err := os.Stat(dir); err != nil {
		return inputError{fmt.Errorf("%s: no such runs directory; HINT: give the directory the runs were made in (--runs DIR of --batch or sweep; default ./runs)", dir)}
	} else if !st.IsDir() {
		return inputError{fmt.Errorf("%s: a file, not a runs directory", dir)}
	} else if _, err := os.ReadDir(dir); err != nil {
		// unreadable (permissions): not "no runs", which it may hold
		return inputError{fmt.Errorf("%s: cannot list the runs directory: %v", dir, err)}
	}
	runs := tui.ListRuns(dir)
	sweeps := sweepOf(dir)
	now := runsNow()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range runs {
			if err := enc.Encode(runJSON(r, sweeps[r.Name], now)); err != nil {
				return err
			}
		}
		return nil
	}
	if len(runs) == 0 {
		fmt.Fprintf(stderr, "no runs in %s (a run is a directory holding %s)\n", dir, lab.RecipeFile)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tstate\tsteps\ttokens\tlast loss\tbest loss\tcheckpoint\tage\tlatest evaluation")
	for _, r := range runs {
		ckpt := "–"
		if r.Checkpoint != "" {
			ckpt = filepath.Base(r.Checkpoint)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.State, ofPlanned(fmt.Sprint(r.Steps), fmt.Sprint(r.PlannedSteps), r.PlannedSteps),
			ofPlanned(lab.HumanCount(r.Tokens), lab.HumanCount(r.PlannedTokens), r.PlannedTokens), fmtRunLoss(r.LastLoss), fmtRunLoss(r.BestLoss),
			ckpt, age(now.Sub(r.Modified)), notes(r, sweeps[r.Name]))
	}
	return tw.Flush()
}

// ofPlanned writes done/planned, or done alone where the plan is unknown.
func ofPlanned(done, planned string, n int64) string {
	if n <= 0 {
		return done
	}
	return done + "/" + planned
}

func fmtRunLoss(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf("%.4f", x)
}

// age is a duration in its largest whole unit: 45s, 12m, 5h, 3d.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// primaryScores are an evaluation's primary scores by task, validation
// losses (val/…) left out of the text line, which has room for the tasks.
func primaryScores(e *tui.RunEval, withVal bool) map[string]float64 {
	m := map[string]float64{}
	for _, s := range e.Scores {
		if s.Primary && (withVal || !strings.HasPrefix(s.Task, "val/")) {
			m[s.Task] = s.Value
		}
	}
	return m
}

// notes is the text line's last column: the latest evaluation's primary
// scores, the sweep the run belongs to and its soups.
func notes(r tui.RunListing, sweepPrefix string) string {
	var parts []string
	if r.Eval != nil {
		ps := primaryScores(r.Eval, false)
		tasks := make([]string, 0, len(ps))
		for t := range ps {
			tasks = append(tasks, t)
		}
		sort.Strings(tasks)
		s := fmt.Sprintf("@%d %s:", r.Eval.Step, r.Eval.Why)
		for _, t := range tasks {
			s += fmt.Sprintf(" %s %.3f", t, ps[t])
		}
		parts = append(parts, s)
	}
	if sweepPrefix != "" {
		parts = append(parts, "sweep "+sweepPrefix)
	}
	if len(r.Soups) > 0 {
		parts = append(parts, "soups: "+strings.Join(r.Soups, ", "))
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, " · ")
}

func runJSON(r tui.RunListing, sweepPrefix string, now time.Time) runsJSON {
	loss := func(x float64) *float64 {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return &x
	}
	j := runsJSON{Name: r.Name, Dir: r.Dir, Recipe: r.Recipe, State: r.State, Steps: r.Steps, PlannedSteps: r.PlannedSteps,
		Tokens: r.Tokens, PlannedTokens: r.PlannedTokens, LastLoss: loss(r.LastLoss), BestLoss: loss(r.BestLoss),
		Checkpoint: r.Checkpoint, CheckpointStep: r.CheckpointStep, Sweep: sweepPrefix, Soups: r.Soups,
		Modified: r.Modified.UTC(), AgeSeconds: int64(max(now.Sub(r.Modified), 0) / time.Second)}
	if r.Eval != nil {
		j.Eval = &runsEvalJSON{Step: r.Eval.Step, Why: r.Eval.Why, Primary: primaryScores(r.Eval, true)}
	}
	return j
}

// sweepOf maps each run a sweep manifest in dir names to the sweep's prefix.
// A manifest that does not read is passed over: the runs still list.
func sweepOf(dir string) map[string]string {
	out := map[string]string{}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.sweep.json"))
	for _, p := range paths {
		m, err := sweep.ReadManifest(p)
		if err != nil {
			continue
		}
		for _, r := range m.Runs {
			out[r.Name] = m.Prefix
		}
	}
	return out
}
