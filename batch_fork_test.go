package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab"
)

// TestBatchFork: --batch --resume RUN --from step-N trains a fork beside
// the run with the run's losses after N, and leaves the run's files as
// they were; bad input (no such checkpoint, a skip to the end or past the
// anneal's start, a fork directory that exists, --from without --resume,
// a backend this build lacks) exits 2 naming the flag and value, and
// leaves no directory behind.
func TestBatchFork(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "base", "--set", "checkpoint.keep=0"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	base := filepath.Join(runs, "base")
	want := stepLosses(t, base)
	events, _ := os.ReadFile(filepath.Join(base, lab.EventsFile))
	os.Mkdir(filepath.Join(runs, "taken"), 0o755)
	list := func() []string {
		ents, _ := os.ReadDir(runs)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	before := list()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "step-3"}, "--batch --from step-3: " + base + " has no checkpoint step-3 (it has: step-4, step-8, step-10)"},
		{[]string{"--from", "four"}, `--batch --from four: "four" is not a checkpoint`},
		{[]string{"--from", "4", "--skip-steps", "6"}, "--batch --skip-steps 6: "},
		{[]string{"--from", "4", "--skip-steps", "4"}, "--batch --skip-steps 4: " + filepath.Join(base, "checkpoints", "step-4") + ": a skip of 4 steps passes anneal.auto_at"},
		{[]string{"--from", "4", "--skip-tokens", "1K", "--skip-steps", "1"}, "--batch --skip-tokens 1000: skip steps or tokens, not both"},
		{[]string{"--from", "4", "--skip-tokens", "lots"}, "--batch --skip-tokens lots: want a token count"},
		{[]string{"--from", "4", "--skip-tokens", "1.5K"}, "--batch --skip-tokens 1500: " + filepath.Join(base, "checkpoints", "step-4") + ": a skip of 6 steps (1536 tokens) from step 4 reaches step 10"},
		{[]string{"--from", "4", "--name", "taken"}, "--batch --name taken: " + filepath.Join(runs, "taken") + " exists already"},
		{[]string{"--from", "4", "--backend", "tpu"}, `--batch --backend tpu: not in this build of olmolab`},
	} {
		errb.Reset()
		args := append([]string{"--batch", "--resume", base}, c.args...)
		if code := run(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, want 2 saying %q:\n%s", c.args, code, c.want, errb.String())
		}
		if got := list(); !slices.Equal(got, before) {
			t.Errorf("%v: the runs directory holds %v, before %v", c.args, got, before)
		}
	}
	errb.Reset()
	if code := run([]string{"--batch", "--from", "4"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "give --resume RUNDIR too") {
		t.Errorf("--from without --resume: exit %d: %s", code, errb.String())
	}

	errb.Reset()
	if code := run([]string{"--batch", "--resume", base, "--from", "step-4"}, &out, &errb); code != 0 {
		t.Fatalf("fork: exit %d: %s", code, errb.String())
	}
	fork := filepath.Join(runs, "base-from-4")
	if !strings.Contains(errb.String(), "forked "+base+" at step-4 into "+fork+" (its checkpoint hard-linked, not copied)") {
		t.Errorf("stderr does not say where the fork went:\n%s", errb.String())
	}
	got := stepLosses(t, fork)
	if !slices.Equal(got, want) {
		t.Errorf("fork's losses %v, the run's %v", got, want)
	}
	if after, _ := os.ReadFile(filepath.Join(base, lab.EventsFile)); !bytes.Equal(after, events) {
		t.Error("the fork changed its parent's events.jsonl")
	}
	if s, ok := lab.ReadSummary(fork); !ok || s.Fork == nil || s.Fork.ParentRun != "base" || s.Fork.Step != 4 {
		t.Errorf("the fork's summary.json: %+v", s.Fork)
	}
}
