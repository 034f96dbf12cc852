package tui

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab"
)

// A fork (olmolab --batch --resume RUN --from step-N) is listed as a run,
// and its details name the run and checkpoint it came from and the steps
// it skipped (its fork.json).
func TestHomeRunDetailsNameTheForksParent(t *testing.T) {
	o := testOptions(t, 140, 24)
	rec := testRecipe(t)
	writeRunDir(t, filepath.Join(o.RunsDir, "base"), rec, syntheticRun("base", rec))
	fork := filepath.Join(o.RunsDir, "base-from-10-skip3")
	writeRunDir(t, fork, rec, syntheticRun("base-from-10-skip3", rec))
	b, _ := json.Marshal(lab.ForkInfo{Parent: "/abs/runs/base", ParentRun: "base", Step: 10, SkipSteps: 3, SkipTokens: 768})
	if err := os.WriteFile(filepath.Join(fork, lab.ForkFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	m := New(o)
	i := slices.IndexFunc(m.runs, func(r runInfo) bool { return r.Name == "base-from-10-skip3" })
	j := slices.IndexFunc(m.runs, func(r runInfo) bool { return r.Name == "base" })
	if i < 0 || j < 0 {
		t.Fatalf("the run list lacks the fork or its parent: %+v", m.runs)
	}
	m.homeCursor = len(m.recipes) + i
	if s := screen(m); !strings.Contains(s, "forked from base at step-10, 3 steps (768 tokens) skipped") {
		t.Errorf("the fork's details do not name its parent:\n%s", s)
	}
	m.homeCursor = len(m.recipes) + j
	if s := screen(m); strings.Contains(s, "forked") {
		t.Errorf("the parent's details say forked:\n%s", s)
	}
}
