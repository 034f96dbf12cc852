package tui

import (
	"path/filepath"
	"testing"

	"github.com/olmolab/olmolab/lab"
)

// TestRenamedRunDir: a run directory renamed after its run (mv
// runs/quickstart-… runs/baseline) reads back as the same run: its steps are
// the run's own, not a soup ingredient's, and its latest evaluation shows.
func TestRenamedRunDir(t *testing.T) {
	o := testOptions(t, 100, 30)
	rec := testRecipe(t)
	evs := syntheticRun("quickstart-test", rec)
	dir := filepath.Join(o.RunsDir, "baseline")
	writeRunDir(t, dir, rec, evs)
	writeEvalSeries(t, dir, "quickstart-test", 0)
	d, _, err := loadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	var last lab.Event
	steps := 0
	for _, e := range evs {
		if e.Type == lab.EvStep {
			last = e
			steps++
		}
	}
	if d.Last.Step != last.Step || d.Main.len() != steps || len(d.Ingredients) != 0 {
		t.Errorf("last step %d (want %d), %d points (want %d), %d ingredients (want 0)", d.Last.Step, last.Step, d.Main.len(), steps, len(d.Ingredients))
	}
	if rows, _, _, _ := latestEval("baseline", readEvalRecords(dir, false), false); len(rows) == 0 {
		t.Error("the renamed run's latest evaluation is missing")
	}
}
