package tui

import (
	"strings"
	"testing"

	"github.com/olmolab/olmolab/experiments"
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
