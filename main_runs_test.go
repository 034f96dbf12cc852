package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/sweep"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fixtureNow is the clock the fixture runs' ages are measured against.
var fixtureNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// fixtureRun is what one run of the fixture did.
type fixtureRun struct {
	name  string
	steps int64   // steps trained (testdata/tiny.yaml plans 10 of 256 tokens)
	ckpts []int64 // complete checkpoints on disk
	eval  int64   // the step of its one evaluation (0: none)
	state string  // its done event's state ("" none: killed)
	ago   time.Duration
}

// writeFixtureRun lays out a run directory as the lab writes it: recipe.yaml,
// metrics.jsonl, events.jsonl (checkpoints, evaluation, done), evals.jsonl,
// summary.json and checkpoints/step-N/state.json, every file last written
// fr.ago before fixtureNow.
func writeFixtureRun(t *testing.T, root string, rec *lab.Recipe, fr fixtureRun) string {
	t.Helper()
	dir := filepath.Join(root, fr.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t0 := fixtureNow.Add(-fr.ago - time.Duration(fr.steps)*time.Second)
	at := func(step int64) time.Time { return t0.Add(time.Duration(step) * time.Second) }
	var metrics, events, evals bytes.Buffer
	line := func(b *bytes.Buffer, v any) {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(j, '\n'))
	}
	gb := int64(rec.GlobalBatchSize)
	total := rec.PlannedTokens()
	var losses []float64
	for s := int64(1); s <= fr.steps; s++ {
		loss := 8 - 0.4*float64(s) + 0.05*float64(s%3)
		losses = append(losses, loss)
		line(&metrics, lab.Event{Type: lab.EvStep, Time: at(s), Run: fr.name, Step: s, Tokens: s * gb, Phase: "stage1", Loss: loss,
			GradNorm: 1, LR: 0.003, TotalTokens: total})
		for _, c := range fr.ckpts {
			if c == s {
				ck := filepath.Join(dir, lab.CkptDir, fmt.Sprintf("step-%d", s))
				if err := os.MkdirAll(ck, 0o755); err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(ck, lab.StateFile), []byte("{}\n"), 0o644)
				line(&events, lab.Event{Type: lab.EvCheckpoint, Time: at(s), Run: fr.name, Step: s, Tokens: s * gb, Checkpoint: ck})
			}
		}
		if s == fr.eval {
			why := "interval"
			if s == fr.steps && fr.state == "finished" {
				why = "final"
			}
			scores := []lab.EvalScore{
				{Task: "arith", Formulation: "rc", Metric: "acc_raw", Value: 0.125 + 0.01*float64(s), Primary: true},
				{Task: "arith", Formulation: "rc", Metric: "acc_per_char", Value: 0.1},
				{Task: "fact_qa_seen", Formulation: "rc", Metric: "acc_per_char", Value: 0.25 + 0.02*float64(s), Primary: true},
				{Task: "val/qa", Formulation: "lm", Metric: "ce_loss", Value: 1.5, Primary: true},
			}
			line(&events, lab.Event{Type: lab.EvEval, Time: at(s), Run: fr.name, Step: s, Tokens: s * gb, Message: why, Evals: scores})
			for _, sc := range scores {
				line(&evals, lab.EvalRecord{Run: fr.name, Step: s, Tokens: s * gb, Phase: "stage1", Why: why, Task: sc.Task,
					Form: sc.Formulation, Metric: sc.Metric, Value: sc.Value, Primary: sc.Primary, Time: at(s)})
			}
		}
	}
	files := []string{lab.RecipeFile, lab.MetricsFile, lab.EventsFile, lab.EvalsFile}
	if fr.state != "" {
		sum := lab.RunSummary{Run: fr.name, Dir: dir, State: fr.state, Steps: fr.steps, Tokens: fr.steps * gb,
			FirstLoss: losses[0], FinalLoss: losses[len(losses)-1], MinLoss: losses[len(losses)-1]}
		line(&events, lab.Event{Type: lab.EvDone, Time: at(fr.steps), Run: fr.name, Step: fr.steps, Tokens: fr.steps * gb, State: fr.state, Summary: &sum})
		b, _ := json.Marshal(sum)
		os.WriteFile(filepath.Join(dir, lab.SummaryFile), b, 0o644)
		files = append(files, lab.SummaryFile)
	}
	os.WriteFile(filepath.Join(dir, lab.RecipeFile), rec.YAML(), 0o644)
	os.WriteFile(filepath.Join(dir, lab.MetricsFile), metrics.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, lab.EventsFile), events.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, lab.EvalsFile), evals.Bytes(), 0o644)
	mt := fixtureNow.Add(-fr.ago)
	for _, f := range files {
		if err := os.Chtimes(filepath.Join(dir, f), mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runsFixture is a runs directory of every kind of run `olmolab runs` tells
// apart: finished, failed, killed (a stale lock of a node gone, its
// heartbeat old), stopped as a sweep's member, finished with a soup, and
// finished while eval --record scores it; beside them a sweep's manifest
// and logs, and a directory that is no run.
func runsFixture(t *testing.T) string {
	t.Helper()
	rec, err := lab.LoadRecipe(filepath.Join("testdata", "tiny.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeFixtureRun(t, root, rec, fixtureRun{name: "tiny-finished", steps: 10, ckpts: []int64{8, 10}, eval: 10, state: "finished", ago: 3 * time.Hour})
	writeFixtureRun(t, root, rec, fixtureRun{name: "tiny-failed", steps: 6, ckpts: []int64{4}, state: "failed", ago: 26 * time.Hour})
	killed := writeFixtureRun(t, root, rec, fixtureRun{name: "tiny-killed", steps: 5, ckpts: []int64{4}, eval: 4, ago: 40 * time.Minute})
	lock := lab.RunLock{PID: 4242, Mode: lab.LockHeadless, Host: "node-gone-17", Started: fixtureNow.Add(-2 * time.Hour)}
	b, _ := json.Marshal(lock)
	lp := filepath.Join(killed, lab.LockFile)
	os.WriteFile(lp, b, 0o644)
	os.Chtimes(lp, fixtureNow.Add(-40*time.Minute), fixtureNow.Add(-40*time.Minute)) // its heartbeat: long stale
	writeFixtureRun(t, root, rec, fixtureRun{name: "sw-seed1", steps: 7, ckpts: []int64{4, 7}, state: "stopped", ago: 5 * 24 * time.Hour})
	man := &sweep.Manifest{Prefix: "sw", Recipe: "quickstart", RunsDir: root, Runs: []sweep.Run{{Index: 0, Name: "sw-seed1"}, {Index: 1, Name: "sw-seed2"}}}
	os.WriteFile(sweep.ManifestPath(root, "sw"), man.Marshal(), 0o644)
	os.MkdirAll(sweep.LogDir(root, "sw"), 0o755)
	soup := writeFixtureRun(t, root, rec, fixtureRun{name: "tiny-soup", steps: 10, ckpts: []int64{8}, eval: 8, state: "finished", ago: 50 * time.Second})
	rep, _ := json.Marshal(lab.SoupReport{Dir: "soups/soup-8", FromStep: 8, FromTokens: 8 * 256, Tokens: 512})
	os.MkdirAll(filepath.Join(soup, "soups", "soup-8", "ingredient-1-seed-42"), 0o755)
	os.WriteFile(filepath.Join(soup, "soups", "soup-8", "soup.json"), rep, 0o644)
	rec2 := writeFixtureRun(t, root, rec, fixtureRun{name: "tiny-recording", steps: 10, ckpts: []int64{10}, eval: 10, state: "finished", ago: 2 * time.Hour})
	host, _ := os.Hostname()
	mark, _ := json.Marshal(lab.RunLock{PID: os.Getpid(), Mode: lab.LockRecording, Host: host, Started: time.Now()})
	os.WriteFile(filepath.Join(rec2, fmt.Sprintf("%s%s.%d", lab.RecordingPrefix, host, os.Getpid())), mark, 0o644)
	os.MkdirAll(filepath.Join(root, "notes"), 0o755) // no recipe.yaml: no run
	return root
}

// TestRunsListing: `olmolab runs DIR` lists every run of DIR, one line each,
// in the lab's states, with steps and tokens of planned, last and best loss,
// the latest checkpoint, age and the latest evaluation's primary scores
// (golden file testdata/runs-listing.golden; -update rewrites it). There
// was no listing without the lab's terminal but sweep --status, of sweeps.
func TestRunsListing(t *testing.T) {
	root := runsFixture(t)
	defer func(f func() time.Time) { runsNow = f }(runsNow)
	runsNow = func() time.Time { return fixtureNow }
	var out, errb bytes.Buffer
	if code := run([]string{"runs", root}, &out, &errb); code != 0 || errb.Len() > 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
	golden := filepath.Join("testdata", "runs-listing.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("olmolab runs DIR:\n%s\nwant (%s):\n%s", out.String(), golden, want)
	}
	// README's example is this listing
	if b, err := os.ReadFile("README.md"); err != nil || !strings.Contains(string(b), "```\n"+string(want)+"```\n") {
		t.Errorf("README.md's Listing runs without the lab does not show %s (%v)", golden, err)
	}
}

// TestRunsJSON: --json writes one object per run and line, with the fields
// README documents, losses null where there are none.
func TestRunsJSON(t *testing.T) {
	root := runsFixture(t)
	defer func(f func() time.Time) { runsNow = f }(runsNow)
	runsNow = func() time.Time { return fixtureNow }
	var out, errb bytes.Buffer
	if code := run([]string{"runs", "--json", root}, &out, &errb); code != 0 || errb.Len() > 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
	got := map[string]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var o map[string]any
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		got[o["name"].(string)] = o
	}
	if len(got) != 6 {
		t.Fatalf("%d runs, want 6:\n%s", len(got), out.String())
	}
	f := got["tiny-finished"]
	if f["state"] != "finished" || f["steps"] != 10.0 || f["planned_steps"] != 10.0 || f["tokens"] != 2560.0 || f["planned_tokens"] != 2560.0 ||
		f["checkpoint_step"] != 10.0 || f["checkpoint"] != filepath.Join(root, "tiny-finished", "checkpoints", "step-10") ||
		f["age_s"] != 3*3600.0 || f["dir"] != filepath.Join(root, "tiny-finished") {
		t.Errorf("tiny-finished: %v", f)
	}
	ev, _ := f["eval"].(map[string]any)
	if ev == nil || ev["step"] != 10.0 || ev["why"] != "final" {
		t.Fatalf("tiny-finished's eval: %v", f["eval"])
	}
	if p := ev["primary"].(map[string]any); len(p) != 3 || p["arith"] != 0.225 || p["val/qa"] != 1.5 {
		t.Errorf("tiny-finished's primary scores: %v", p)
	}
	if k := got["tiny-killed"]; k["state"] != "crashed" || k["checkpoint_step"] != 4.0 || k["eval"] == nil {
		t.Errorf("tiny-killed: %v", k)
	}
	if s := got["sw-seed1"]; s["sweep"] != "sw" || s["state"] != "stopped" {
		t.Errorf("sw-seed1: %v", s)
	}
	if s := got["tiny-soup"]; fmt.Sprint(s["soups"]) != "[soup-8]" {
		t.Errorf("tiny-soup: %v", s)
	}
	if s := got["tiny-recording"]; s["state"] != "recording" {
		t.Errorf("tiny-recording: %v", s)
	}
}

// TestRunsBadDir: a DIR that is missing or a file is named, exit 2, nothing
// on stdout; a directory with no runs says so on stderr, exit 0, and --json
// then writes nothing.
func TestRunsBadDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"runs", "/no/such/runs"}, 2, "/no/such/runs: no such runs directory"},
		{[]string{"runs", file}, 2, file + ": a file, not a runs directory"},
		{[]string{"runs", "a", "b"}, 2, "runs: one runs directory, not 2"},
		{[]string{"runs", t.TempDir()}, 0, "no runs in "},
		{[]string{"runs", "--json", t.TempDir()}, 0, ""},
	} {
		var out, errb bytes.Buffer
		if code := run(c.args, &out, &errb); code != c.code || out.Len() > 0 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d (want %d), stdout %q, stderr %q (want %q)", c.args, code, c.code, out.String(), errb.String(), c.want)
		}
	}
	// a directory it may not read is no empty one (root reads it anyway)
	if os.Geteuid() == 0 {
		t.Log("running as root: the unreadable directory's case is not checked")
		return
	}
	locked := t.TempDir()
	os.Chmod(locked, 0)
	defer os.Chmod(locked, 0o755)
	var out, errb bytes.Buffer
	if code := run([]string{"runs", locked}, &out, &errb); code != 2 || !strings.Contains(errb.String(), locked+": cannot list the runs directory") {
		t.Errorf("an unreadable DIR: exit %d, stderr %q", code, errb.String())
	}
}
