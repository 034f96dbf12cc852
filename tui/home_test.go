package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab"
)

// The recipe list tells recipes apart at 60 columns: a name is cut only
// where the list has no room for it, not at a fixed 14 cells, which made
// olmo2_13B_stage1 and olmo2_13B_stage2 both "olmo2_13B_sta…".
func TestHomeRecipeNamesWholeAt60Columns(t *testing.T) {
	o := testOptions(t, 60, 16)
	yaml := shippedForTests()[0].YAML
	names := []string{"quickstart", "ablation_balanced", "ablation_curated", "olmo2_13B_stage1", "olmo2_13B_stage2"}
	o.Shipped = func() []experiments.Recipe {
		var out []experiments.Recipe
		for _, n := range names {
			out = append(out, experiments.Recipe{Name: n, Path: "experiments/" + n + ".yaml", YAML: yaml})
		}
		return out
	}
	m := New(o)
	checkFrame(t, m, 60, 16)
	s := screen(m)
	for _, n := range names {
		if !strings.Contains(s, " "+n+" ") || !strings.Contains(lineWith(s, " "+n+" "), "shipped") {
			t.Errorf("no line with %q and its source, shipped:\n%s", n, s)
		}
	}
}

// The recipes and runs list puts the runs' states in a column, as the runs
// view does (the same cells: glyph, name as wide as the longest, state): the
// state followed each name at its own width, "✓ soup-b finished" under
// "✓ quickstart-a finished". A name too long for the list is cut, not the
// state.
func TestHomeRunStatesAlign(t *testing.T) {
	for _, w := range []int{60, 80, 120} {
		o := testOptions(t, w, 24)
		runsFixture(t, o)
		long := filepath.Join(o.RunsDir, "a-run-with-a-name-longer-than-the-list")
		writeRunDir(t, long, testRecipe(t), nil)
		os.WriteFile(filepath.Join(long, lab.SummaryFile), []byte(`{"state":"interrupted","steps":3,"tokens":6144}`), 0o644)
		m := New(o)
		checkFrame(t, m, w, 24)
		s := screen(m)
		col := -1
		for _, c := range []struct{ name, state string }{{"quickstart-a", "finished"}, {"soup-b", "finished"}, {"a-run-with", "interrupted"}} {
			row := lineWith(s, c.name)
			i := strings.Index(row, " "+c.state)
			if i < 0 {
				t.Fatalf("%d columns: no state %q on the row of %s:\n%s", w, c.state, c.name, s)
			}
			if cell := ansi.StringWidth(row[:i]); col < 0 {
				col = cell
			} else if cell != col {
				t.Errorf("%d columns: %s's state at cell %d, quickstart-a's at %d:\n%s", w, c.name, cell, col, s)
			}
		}
	}
}

// The state column is as wide as the longest state listed: a fixed 11 cells
// for "interrupted" cut a name at 80 columns that fits beside "finished".
func TestHomeStateColumnAsWideAsItsStates(t *testing.T) {
	o := testOptions(t, 80, 24)
	runsFixture(t, o)
	dir := filepath.Join(o.RunsDir, "a-much-longer-run-name-b")
	writeRunDir(t, dir, testRecipe(t), nil)
	os.WriteFile(filepath.Join(dir, lab.SummaryFile), []byte(`{"state":"finished","steps":3,"tokens":6144}`), 0o644)
	m := New(o)
	s := screen(m)
	for _, want := range []string{"  ✓ a-much-longer-run-name-b finished", "  ✓ quickstart-a             finished"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q:\n%s", want, s)
		}
	}
}
