package tui

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/olmolab/olmolab/lab"
)

// rewindDefault is the checkpoint the rewind dialog offers: the latest the
// run kept before its latest flagged spike; without one, its latest, or in
// a finished run the one before (a fork from the end has nothing to train;
// "" for none).
func rewindDefault(c *runData) string {
	steps, _ := lab.Checkpoints(c.Dir)
	before := int64(math.MaxInt64)
	switch n := len(c.SpikeSteps); {
	case n > 0:
		before = c.SpikeSteps[n-1].Step
	case c.State == "finished":
		before = c.Last.Step
	}
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i] < before {
			return fmt.Sprintf("step-%d", steps[i])
		}
	}
	if len(steps) > 0 {
		return fmt.Sprintf("step-%d", steps[len(steps)-1])
	}
	return ""
}

// rewindLines say what the rewind dialog does, with the checkpoints the
// run kept and its latest flagged spike.
func rewindLines(c *runData) []string {
	if c == nil {
		return nil
	}
	out := []string{fmt.Sprintf("Forks %s from a checkpoint into a new run and trains it here;", c.Name),
		fmt.Sprintf("%s is left as it is. Skipped steps are the batches after the", c.Name),
		"checkpoint that the fork leaves out (those around a spike).", ""}
	steps, _ := lab.Checkpoints(c.Dir)
	var names []string
	for _, s := range steps {
		names = append(names, fmt.Sprintf("step-%d", s))
	}
	if len(names) == 0 {
		names = []string{"none"}
	}
	out = append(out, "Kept: "+strings.Join(names, ", "))
	if n := len(c.SpikeSteps); n > 0 {
		out = append(out, fmt.Sprintf("Latest spike at step %d.", c.SpikeSteps[n-1].Step))
	}
	return out
}

// rewind forks the opened run as the dialog says (lab.Fork) and starts the
// fork here; bad input stays in the dialog, naming its field.
func (m *Model) rewind(d *dialog) tea.Cmd {
	c := m.cur
	if c == nil || m.training() {
		d.err = "one run trains at a time here: stop the training one (X) first"
		return nil
	}
	step, err := lab.ParseCheckpointStep(strings.TrimSpace(d.fields[0].value))
	if err != nil {
		d.err = "checkpoint: " + err.Error()
		return nil
	}
	skip, err := strconv.ParseInt(strings.TrimSpace(d.fields[1].value), 10, 64)
	if err != nil || skip < 0 {
		d.err = fmt.Sprintf("skip steps: %q is not a whole number of steps", d.fields[1].value)
		return nil
	}
	name := strings.TrimSpace(d.fields[2].value)
	if name == "" {
		name = fmt.Sprintf("%s-from-%d", filepath.Base(c.Dir), step)
		if skip > 0 {
			name += fmt.Sprintf("-skip%d", skip)
		}
	} else if !runName.MatchString(name) || name == "." || name == ".." {
		d.err = fmt.Sprintf("name: %q is not a directory name (letters, digits, . _ -)", name)
		return nil
	}
	dir := filepath.Join(filepath.Dir(c.Dir), name)
	if _, err := lab.Fork(lab.ForkParams{Parent: c.Dir, Step: step, SkipSteps: skip, Dir: dir}); err != nil {
		field := map[string]string{"step": "checkpoint", "skip": "skip steps", "dir": "name"}[fkField(err)]
		if field == "" {
			field = "fork"
		}
		d.err = field + ": " + err.Error()
		return nil
	}
	m.dialog = nil
	m.launching = true
	m.setNotice(true, "forked %s at step-%d into %s; starting it…", c.Name, step, dir)
	m.log.Info("rewind", "run", c.Dir, "step", step, "skip", skip, "fork", dir)
	return m.startCmd(lab.RunParams{ResumeDir: dir, Evaluator: m.opts.Evaluator}, true)
}

// fkField is the field of a *lab.ForkError, "" for another error.
func fkField(err error) string {
	var fe *lab.ForkError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}
