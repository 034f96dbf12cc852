package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/sweep"
)

// TestMain lets a test run this test binary as olmolab itself
// (OLMOLAB_TEST_MAIN=1), the way `olmolab sweep --local` runs each run as an
// `olmolab --batch` process.
func TestMain(m *testing.M) {
	if os.Getenv("OLMOLAB_TEST_MAIN") == "1" {
		if stage := os.Getenv("OLMOLAB_TEST_SIGTERM_AT"); stage != "" {
			// SIGTERM at an eval stage, as a scheduler's could land there
			// (TestRecordInterruptAfterWrite); its handler exits
			evalHook = func(s string, _ []lab.KeptCheckpoint) {
				if s == stage {
					syscall.Kill(os.Getpid(), syscall.SIGTERM)
					time.Sleep(time.Minute)
				}
			}
		}
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// selfAsOlmolab makes this test binary the olmolab that sweep runs execute.
func selfAsOlmolab(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("OLMOLAB_TEST_MAIN", "1")
	return exe
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestSweepBadInput: every mistake is exit 2, names what was wrong, and
// writes nothing.
func TestSweepBadInput(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no recipe", []string{"--seeds", "2", "--local"}, "sweep needs a recipe"},
		{"no mode", []string{"testdata/tiny.yaml", "--seeds", "2"}, "give --local"},
		{"both modes", []string{"testdata/tiny.yaml", "--seeds", "2", "--local", "--slurm"}, "give --local"},
		{"nothing varied", []string{"testdata/tiny.yaml", "--local"}, "nothing to vary"},
		{"vary without =", []string{"testdata/tiny.yaml", "--vary", "seed", "--local"}, `--vary "seed": want key=v1,v2`},
		{"vary empty value", []string{"testdata/tiny.yaml", "--vary", "seed=1,,2", "--local"}, `--vary "seed=1,,2": an empty value`},
		{"seed twice", []string{"testdata/tiny.yaml", "--vary", "seed=1,2", "--seeds", "2", "--local"}, `"seed" is varied twice`},
		{"set and varied", []string{"testdata/tiny.yaml", "--set", "seed=4", "--seeds", "2", "--local"}, "seed is both set"},
		{"unknown key", []string{"testdata/tiny.yaml", "--vary", "optimizer.lrr=1e-3,3e-3", "--local"}, `run tiny-lrr1e-3 (optimizer.lrr=1e-3): testdata/tiny.yaml: optimizer.lrr: unknown key (from --set)`},
		{"unknown top-level key in --set", []string{"testdata/tiny.yaml", "--seeds", "2", "--set", "budget.hours=3", "--local"}, `testdata/tiny.yaml: budget: unknown key (from --set)`},
		{"bad value", []string{"testdata/tiny.yaml", "--vary", "optimizer.lr=1e-3,fast", "--local"}, `run tiny-lr_fast (optimizer.lr=fast): testdata/tiny.yaml: optimizer.lr: want a number`},
		// eval.split is a key like any other, checked in every run's recipe
		{"bad eval.split", []string{"testdata/tiny.yaml", "--vary", "eval.split=validation,dev", "--local"}, `run tiny-split_dev (eval.split=dev): testdata/tiny.yaml: eval.split: want train, validation or test`},
		{"no such list element", []string{"testdata/tiny.yaml", "--vary", "dataset.sources.5.target_ratio=0.1,0.2", "--local"}, `run tiny-target_ratio0.1 (dataset.sources.5.target_ratio=0.1)`},
		// mix_schedule is varied like any key; a switch after the anneal starts is refused
		{"mix_schedule past the anneal", []string{"testdata/tiny.yaml", "--set", `mixes={webonly: [{name: web, target_ratio: 1, paths: ["builtin:web_clean"]}]}`,
			"--set", "mix_schedule=[{at_tokens: 512, mix: webonly}]", "--vary", "mix_schedule.0.at_tokens=512,2048", "--local"},
			`run tiny-at_tokens2048 (mix_schedule.0.at_tokens=2048): testdata/tiny.yaml: mix_schedule[0].at_tokens: 2048 is not before anneal.auto_at 1792`},
		{"backend not built", []string{"testdata/tiny.yaml", "--seeds", "2", "--set", "backend=cuda", "--local"}, `backend "cuda" is not in this build`},
		{"unsafe prefix", []string{"testdata/tiny.yaml", "--seeds", "2", "--name", "a/b", "--local"}, `--name "a/b"`},
		{"submit without slurm", []string{"testdata/tiny.yaml", "--seeds", "2", "--local", "--submit"}, "--submit and --sbatch-opt go with --slurm"},
		{"sbatch --array", []string{"testdata/tiny.yaml", "--seeds", "2", "--slurm", "--sbatch-opt=--array=0-9"}, "--parallel"},
		{"sbatch --signal without B:", []string{"testdata/tiny.yaml", "--seeds", "2", "--slurm", "--sbatch-opt=--signal=TERM@120"}, "HINT: for a longer lead give --sbatch-opt=--signal=B:USR1@SECONDS"},
		{"unknown recipe", []string{"nosuch", "--seeds", "2", "--local"}, "nosuch: no such recipe"},
		// grids past Slurm's largest array used to be allocated (fatal out of memory)
		{"seeds past any array", []string{"testdata/tiny.yaml", "--seeds", "1000000000000", "--local"}, "--seeds 1000000000000: a sweep has at most 4000001 runs"},
		{"grid past any array", []string{"testdata/tiny.yaml", "--vary", "seed=1,2,3,4,5,6,7,8,9,10", "--vary", "optimizer.lr=1,2,3,4,5,6,7,8,9,10",
			"--vary", "optimizer.eps=1,2,3,4,5,6,7,8,9,10", "--vary", "z_loss=1,2,3,4,5,6,7,8,9,10", "--vary", "schedule.alpha_f=1,2,3,4,5,6,7,8,9,10",
			"--vary", "optimizer.weight_decay=1,2,3,4,5,6,7,8,9,10", "--vary", "checkpoint.keep=1,2,3,4,5,6,7,8,9,10", "--local"}, "make more than 4000001 runs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(append([]string{"sweep", "--runs", runs}, tc.args...)...)
			if code != exitBadInput || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, want 2, and stderr with %q:\n%s", code, tc.stderr, stderr)
			}
			if _, err := os.Stat(runs); err == nil {
				t.Fatalf("%s was created", runs)
			}
		})
	}
}

// TestSweepChecksEvalData: a run whose OLMES data or split is missing is
// refused when the sweep starts, naming the run and what is missing, as the
// run's own start would have refused it when its turn came; --local and
// --slurm alike, before anything is written.
func TestSweepChecksEvalData(t *testing.T) {
	data := t.TempDir() // ARC-Easy's validation split only
	p := filepath.Join(data, "ARC-V1-Feb2018-2", "ARC-Easy", "ARC-Easy-Dev.jsonl")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	var lines []byte
	for i := range 4 {
		row, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("q%d", i), "answerKey": "A",
			"question": map[string]any{"stem": fmt.Sprintf("What is %d plus one?", i), "choices": []any{
				map[string]any{"label": "A", "text": fmt.Sprint(i + 1)}, map[string]any{"label": "B", "text": fmt.Sprint(i + 2)}}}})
		lines = append(append(lines, row...), '\n')
	}
	if err := os.WriteFile(p, lines, 0o644); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	runs := filepath.Join(t.TempDir(), "runs")
	fake := filepath.Join(t.TempDir(), "olmolab") // a Slurm task's binary, which never runs here
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, env string
		args      []string
		stderr    []string
	}{
		{"split missing", data, []string{"--vary", "eval.split=validation,test", "--set", "eval.tasks=[arc_easy, arith]"},
			[]string{"run tiny-split_test (eval.split=test): testdata/tiny.yaml: eval.tasks: " + data + ": no test split of arc_easy"}},
		{"no data directory", "", []string{"--seeds", "2", "--set", "eval.tasks=[piqa]"},
			[]string{"run tiny-seed1 (seed=1): testdata/tiny.yaml: eval.tasks:", "OLMOLAB_OLMES_DATA"}},
		{"unknown task", data, []string{"--seeds", "2", "--set", "eval.tasks=[arc_eazy]"},
			[]string{"run tiny-seed1 (seed=1): testdata/tiny.yaml: eval.tasks:", "arc_eazy"}},
	} {
		for _, mode := range []string{"--local", "--slurm"} {
			t.Run(tc.name+" "+mode, func(t *testing.T) {
				t.Setenv("OLMOLAB_OLMES_DATA", tc.env)
				code, _, stderr := runCLI(append(append([]string{"sweep", "testdata/tiny.yaml", "--runs", runs, "--olmolab", fake}, tc.args...), mode)...)
				got := strings.Join(strings.Fields(stderr), " ")
				want := tc.stderr
				if mode == "--slurm" && tc.env != "" && tc.name != "unknown task" {
					// the tasks run elsewhere: whose data this was
					want = append(want, "(checked in this machine's ("+host+", $OLMOLAB_OLMES_DATA="+tc.env+"): a Slurm task reads $OLMOLAB_OLMES_DATA on its node)")
				}
				if mode == "--slurm" && tc.env == "" {
					want = append(want, "(checked in this machine's ("+host+", $OLMOLAB_OLMES_DATA not set)")
				}
				for _, want := range want {
					if code != exitBadInput || !strings.Contains(got, want) {
						t.Errorf("exit %d, want 2, and stderr with %q:\n%s", code, want, stderr)
					}
				}
				if _, err := os.Stat(runs); err == nil {
					t.Fatalf("%s was created", runs)
				}
			})
		}
	}
	// the data is there: the Slurm script is written, and the sweep says
	// whose data it checked, which the tasks' nodes must have too
	t.Setenv("OLMOLAB_OLMES_DATA", data)
	code, _, stderr := runCLI("sweep", "testdata/tiny.yaml", "--runs", runs, "--olmolab", fake, "--seeds", "2",
		"--set", "eval.tasks=[arc_easy, arith]", "--set", "eval.split=validation", "--slurm")
	note := "sweep: the runs' OLMES data (eval.tasks) was checked in this machine's (" + host + ", $OLMOLAB_OLMES_DATA=" + data + "); each Slurm task reads $OLMOLAB_OLMES_DATA on its own node"
	if code != 0 || !strings.Contains(strings.Join(strings.Fields(stderr), " "), note) {
		t.Errorf("exit %d, want 0, and stderr with %q:\n%s", code, note, stderr)
	}
}

// TestSweepLocal runs a real two-seed sweep of the tiny recipe here, runs it
// again (both skipped), resumes a run that lost its end, and hands the runs
// to snr and --status.
func TestSweepLocal(t *testing.T) {
	exe := selfAsOlmolab(t)
	runs := t.TempDir()
	args := []string{"sweep", "testdata/tiny.yaml", "--seeds", "2", "--runs", runs, "--name", "t", "--olmolab", exe,
		"--set", "eval.tasks=[arith]", "--set", "eval.interval=5", "--set", "eval.limit=8", "--set", "checkpoint.keep=0", "--local"}
	code, stdout, stderr := runCLI(append(args, "--parallel", "2")...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, name := range []string{"t-seed1", "t-seed2"} {
		var s lab.RunSummary
		b, err := os.ReadFile(filepath.Join(runs, name, lab.SummaryFile))
		if err != nil || json.Unmarshal(b, &s) != nil || s.State != "finished" || s.Steps != 10 {
			t.Errorf("%s: summary %+v, %v", name, s, err)
		}
		if !strings.Contains(stdout, name+"  started  finished  10") {
			t.Errorf("table lacks %s started and finished:\n%s", name, stdout)
		}
		if !strings.Contains(stderr, "  data      web 50%, qa 50%; anneal from 1792 tokens: qa 100% (every run)\n") {
			t.Errorf("stderr lacks the runs' data:\n%s", stderr)
		}
		if !strings.Contains(stderr, "["+name+"] run "+name+" → ") {
			t.Errorf("stderr lacks %s's progress:\n%s", name, stderr)
		}
		if b, err := os.ReadFile(filepath.Join(runs, "t.logs", name+".log")); err != nil || !strings.Contains(string(b), "steps / tokens  10 / 2560") {
			t.Errorf("%s's log: %v\n%s", name, err, b)
		}
	}
	// the same seed gives the same run as --batch alone (a sweep run is an ordinary run)
	code, _, stderr = runCLI("--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "solo", "--set", "eval.tasks=[arith]", "--set", "eval.interval=5",
		"--set", "eval.limit=8", "--set", "checkpoint.keep=0", "--set", "seed=2")
	if code != 0 {
		t.Fatalf("--batch: exit %d\n%s", code, stderr)
	}
	if a, b := finalLoss(t, filepath.Join(runs, "solo")), finalLoss(t, filepath.Join(runs, "t-seed2")); a != b {
		t.Errorf("seed 2: --batch final loss %v, the sweep's %v", a, b)
	}

	// again: nothing to do
	code, stdout, stderr = runCLI(args...)
	if code != 0 || strings.Count(stdout, "  skipped  finished") != 2 || strings.Contains(stderr, "starting") {
		t.Errorf("second sweep: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	// a run killed after step 8: it resumes from its checkpoint and finishes
	os.RemoveAll(filepath.Join(runs, "t-seed2", lab.CkptDir, "step-10"))
	os.Remove(filepath.Join(runs, "t-seed2", lab.SummaryFile))
	code, stdout, stderr = runCLI(args...)
	if code != 0 || !strings.Contains(stdout, "t-seed1  skipped  finished") || !strings.Contains(stdout, "t-seed2  resumed  finished  10") ||
		!strings.Contains(stderr, "[t-seed2] resuming from "+filepath.Join(runs, "t-seed2", lab.CkptDir, "step-8")) {
		t.Errorf("resuming sweep: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	// the sweep's runs go straight to snr, by glob or as the runs directory
	seeds, _ := filepath.Glob(filepath.Join(runs, "t-*"))
	if len(seeds) != 2 {
		t.Fatalf("t-* matches %q", seeds)
	}
	for _, snrArgs := range [][]string{append([]string{"snr"}, seeds...), {"snr", runs}} {
		code, stdout, stderr = runCLI(snrArgs...)
		if code != 0 || !strings.Contains(stdout, "arith") {
			t.Errorf("%q: exit %d\n%s%s", snrArgs, code, stdout, stderr)
		}
	}

	code, stdout, stderr = runCLI("sweep", "--status", runs)
	if code != 0 || !strings.Contains(stdout, "sweep t: 2 runs of ") || !strings.Contains(stdout, "(2 finished)") || !strings.Contains(stdout, "t-seed2  finished  10") {
		t.Errorf("--status: exit %d\n%s%s", code, stdout, stderr)
	}

	// the same names with another recipe: refused before anything runs
	code, _, stderr = runCLI("sweep", "testdata/tiny.yaml", "--seeds", "2", "--runs", runs, "--name", "t", "--local", "--olmolab", exe)
	if code != exitBadInput || !strings.Contains(stderr, "t-seed1") || !strings.Contains(stderr, "was started from a different recipe") {
		t.Errorf("another recipe under the same names: exit %d\n%s", code, stderr)
	}
}

func finalLoss(t *testing.T, dir string) float64 {
	t.Helper()
	var s lab.RunSummary
	b, err := os.ReadFile(filepath.Join(dir, lab.SummaryFile))
	if err != nil || json.Unmarshal(b, &s) != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return s.FinalLoss
}

// TestSweepFailedRun: a run that cannot start makes the sweep's exit status
// non-zero, and the table says which.
func TestSweepFailedRun(t *testing.T) {
	exe := selfAsOlmolab(t)
	runs := t.TempDir()
	// the recipe parses (a data path is checked when its run starts): both runs fail
	code, stdout, stderr := runCLI("sweep", "testdata/tiny.yaml", "--seeds", "2", "--runs", runs, "--olmolab", exe, "--local",
		"--set", `dataset.sources.0.paths=["/no/such/dir"]`)
	if code != exitError || !strings.Contains(stderr, "2 of 2 runs did not finish: tiny-seed1 (pending), tiny-seed2 (pending)") ||
		!strings.Contains(stdout, "tiny-seed1  started, exit 2  pending") || !strings.Contains(stderr, "/no/such/dir") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// the table's note says why each run did not train (it was empty, beside
	// a state of pending)
	if !regexp.MustCompile(`(?m)^tiny-seed2 +started, exit 2 +pending +- +- +- +- +\S*testdata/tiny.yaml: dataset.sources\[0\]: source "web": /no/such/dir: no such file or directory$`).MatchString(stdout) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// --status, which reads no process, finds it in the run's log: a run
	// refused at its start read "pending" there with no note. A Slurm task's
	// log (JOB_TASK.out, the newest attempt) says it as well.
	slurmLog := "olmolab sweep tiny: task 1, run tiny-seed2, on node7, restart 0\nolmolab: recipe.yaml: backend: this build has no CUDA engine\n"
	os.WriteFile(filepath.Join(runs, "tiny.logs", "1234_1.out"), []byte("olmolab: an older attempt\n"), 0o644)
	os.Chtimes(filepath.Join(runs, "tiny.logs", "1234_1.out"), time.Now().Add(-time.Hour), time.Now().Add(-time.Hour))
	os.WriteFile(filepath.Join(runs, "tiny.logs", "1240_1.out"), []byte(slurmLog), 0o644)
	os.Remove(filepath.Join(runs, "tiny.logs", "tiny-seed2.log"))
	code, stdout, stderr = runCLI("sweep", "--status", runs)
	for _, want := range []string{
		`(?m)^tiny-seed1 +pending +- +- +- +- +last attempt: \S*testdata/tiny.yaml: dataset.sources\[0\]: source "web": /no/such/dir: no such file or directory$`,
		`(?m)^tiny-seed2 +pending +- +- +- +- +last attempt: recipe.yaml: backend: this build has no CUDA engine$`,
	} {
		if code != 0 || !regexp.MustCompile(want).MatchString(stdout) {
			t.Errorf("--status: exit %d, stdout lacks %s:\n%s\nstderr:\n%s", code, want, stdout, stderr)
		}
	}
}

// TestSweepForeignRunDir: a planned run's directory that holds someone's
// files (or is a file) is refused when the sweep starts, naming it, before any
// run trains or a script is written; a run's own directory from an earlier
// start of the sweep is not.
func TestSweepForeignRunDir(t *testing.T) {
	exe := selfAsOlmolab(t)
	for _, mode := range []string{"--local", "--slurm"} {
		for _, asFile := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s file=%v", mode, asFile), func(t *testing.T) {
				runs := t.TempDir()
				foreign := filepath.Join(runs, "f-seed2")
				if asFile {
					os.WriteFile(foreign, []byte("mine"), 0o644)
				} else {
					os.MkdirAll(foreign, 0o755)
					os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o644)
				}
				code, stdout, stderr := runCLI("sweep", "testdata/tiny.yaml", "--seeds", "2", "--runs", runs, "--name", "f", "--olmolab", exe, mode)
				if code != exitBadInput || !strings.Contains(stderr, foreign) || !strings.Contains(stderr, "run f-seed2") {
					t.Errorf("exit %d, want 2 naming %s\nstdout:\n%s\nstderr:\n%s", code, foreign, stdout, stderr)
				}
				ents, _ := os.ReadDir(runs)
				if len(ents) != 1 {
					t.Errorf("the refused sweep wrote %v", ents)
				}
				if b, _ := os.ReadFile(filepath.Join(foreign, "notes.txt")); !asFile && string(b) != "mine" {
					t.Errorf("the foreign file changed: %q", b)
				}
			})
		}
	}
	// a run directory an earlier start of the sweep left (its recipe.yaml and
	// lock, no step yet) starts over as before
	runs := t.TempDir()
	args := []string{"sweep", "testdata/tiny.yaml", "--seeds", "1", "--runs", runs, "--name", "g", "--olmolab", exe, "--local", "--set", "checkpoint.keep=0"}
	if code, stdout, stderr := runCLI(args...); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	dir := filepath.Join(runs, "g-seed1")
	os.RemoveAll(filepath.Join(dir, lab.CkptDir))
	os.Remove(filepath.Join(dir, lab.SummaryFile))
	if code, stdout, stderr := runCLI(args...); code != 0 || !strings.Contains(stdout, "g-seed1  started  finished") {
		t.Errorf("an earlier start of the sweep's run: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestSweepRelativeDataPaths: a sweep whose recipe reads data by a relative
// path continues: its runs record the paths absolute (recipe.yaml), and the
// sweep compares its recipe with theirs resolved as they were. The same sweep
// again refused every run as "started from a different recipe".
func TestSweepRelativeDataPaths(t *testing.T) {
	exe := selfAsOlmolab(t)
	recipe, err := filepath.Abs("testdata/tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	var b []byte
	for i := range 4096 { // uint16 ids of the world's vocabulary
		b = append(b, byte(10+i%50), 0)
	}
	os.MkdirAll(filepath.Join(work, "data"), 0o755)
	if err := os.WriteFile(filepath.Join(work, "data", "web.npy"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	args := []string{"sweep", recipe, "--seeds", "1", "--runs", "runs", "--name", "rel", "--olmolab", exe, "--local",
		"--set", "checkpoint.keep=0", "--set", `dataset.sources=[{name: web, target_ratio: 1, paths: [data/web.npy]}]`}
	if code, stdout, stderr := runCLI(args...); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := runCLI(args...); code != 0 || !strings.Contains(stdout, "rel-seed1  skipped  finished") {
		t.Errorf("the same sweep again: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestSweepOfOneRun: a sweep of one run says "1 run", in what it prints and
// in its script's header; both said "1 runs".
func TestSweepOfOneRun(t *testing.T) {
	exe := selfAsOlmolab(t)
	runs := t.TempDir()
	code, stdout, stderr := runCLI("sweep", "testdata/tiny.yaml", "--seeds", "1", "--runs", runs, "--name", "one", "--olmolab", exe, "--slurm")
	if code != 0 || !strings.Contains(stdout, "sweep one: 1 run of ") {
		t.Errorf("exit %d, want 0 and \"1 run\"\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(runs, "one.sbatch"))
	if err != nil || !strings.Contains(string(b), "# olmolab sweep one: 1 run of ") {
		t.Errorf("script (%v):\n%s", err, b)
	}
}

func TestSweepSlurm(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	bin := filepath.Join(root, "bin")
	os.MkdirAll(bin, 0o755)
	fake := filepath.Join(bin, "olmolab")
	os.WriteFile(fake, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	args := []string{"sweep", "testdata/tiny.yaml", "--vary", "optimizer.lr=1e-3,3e-3", "--seeds", "2", "--runs", runs, "--name", "lr",
		"--slurm", "--parallel", "2", "--sbatch-opt=--time=00:10:00", "--olmolab", fake}

	code, stdout, stderr := runCLI(args...)
	script := filepath.Join(runs, "lr.sbatch")
	if code != 0 || !strings.Contains(stdout, "sbatch "+script) {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	recipe, _ := filepath.Abs("testdata/tiny.yaml")
	for _, want := range []string{"#SBATCH --job-name=lr\n", "#SBATCH --array=0-3%2\n", "#SBATCH --output=" + filepath.Join(runs, "lr.logs", "%A_%a.out") + "\n",
		"#SBATCH --time=00:10:00\n", "OLMOLAB=" + fake + "\n",
		`3) NAME=lr-lr3e-3-seed2` + "\n" + `   START=("$OLMOLAB" --batch ` + recipe + ` --set optimizer.lr=3e-3 --set seed=2 --runs "$RUNS" --name lr-lr3e-3-seed2) ;;`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("script lacks %q:\n%s", want, b)
		}
	}
	if st, err := os.Stat(filepath.Join(runs, "lr.logs")); err != nil || !st.IsDir() {
		t.Errorf("the log directory was not made: %v", err)
	}
	var m struct {
		Runs []struct {
			Index     int
			Name      string
			Overrides []string
		}
	}
	if b, err := os.ReadFile(filepath.Join(runs, "lr.sweep.json")); err != nil || json.Unmarshal(b, &m) != nil || len(m.Runs) != 4 ||
		m.Runs[1].Name != "lr-lr1e-3-seed2" || strings.Join(m.Runs[1].Overrides, " ") != "optimizer.lr=1e-3 seed=2" {
		t.Errorf("manifest: %+v, %v", m, err)
	}
	code, stdout, _ = runCLI("sweep", "--status", runs)
	if code != 0 || !strings.Contains(stdout, "(4 pending)") {
		t.Errorf("--status before any task ran: exit %d\n%s", code, stdout)
	}

	// --submit runs the sbatch on PATH with the script
	called := filepath.Join(root, "sbatch-args")
	os.WriteFile(filepath.Join(bin, "sbatch"), []byte("#!/bin/sh\necho \"$@\" > "+called+"\necho 'Submitted batch job 4242'\n"), 0o755)
	t.Setenv("PATH", bin)
	code, stdout, stderr = runCLI(append(args, "--submit")...)
	got, _ := os.ReadFile(called)
	if code != 0 || !strings.Contains(stdout, "Submitted batch job 4242") || strings.TrimSpace(string(got)) != script {
		t.Errorf("--submit: exit %d, sbatch called with %q\nstdout:\n%s\nstderr:\n%s", code, got, stdout, stderr)
	}
	// and says so when there is none
	os.Remove(filepath.Join(bin, "sbatch"))
	code, _, stderr = runCLI(append(args, "--submit")...)
	if code != exitError || !strings.Contains(stderr, "sbatch is not on PATH") || !strings.Contains(stderr, "sbatch "+script) {
		t.Errorf("--submit without sbatch: exit %d\n%s", code, stderr)
	}
}

// TestSweepSlurmGoRun: the script must not point at go run's temporary build.
func TestSweepSlurmGoRun(t *testing.T) {
	exe, _ := os.Executable()
	if !strings.Contains(exe, string(filepath.Separator)+"go-build") {
		t.Skip("this test binary is not under a go-build directory")
	}
	runs := filepath.Join(t.TempDir(), "runs")
	code, _, stderr := runCLI("sweep", "testdata/tiny.yaml", "--seeds", "2", "--runs", runs, "--slurm")
	if code != exitBadInput || !strings.Contains(stderr, "go run's temporary build") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

func TestFitParallel(t *testing.T) {
	const g = int64(1) << 30
	for _, tc := range []struct {
		name   string
		needs  []int64
		k      int
		budget int64
		want   int
	}{
		{"all fit", []int64{g, g, g}, 3, 4 * g, 3},
		{"k bounds", []int64{g, g, g}, 2, 10 * g, 2},
		{"two of three fit", []int64{g, g, g}, 3, 2*g + g/2, 2},
		{"the largest count first", []int64{g / 4, 3 * g, g / 4, 2 * g}, 4, 5 * g, 2},
		{"none fits: still one", []int64{4 * g}, 2, g, 1},
		{"nothing to train", nil, 3, g, 1},
		{"GPU runs need no host memory", []int64{0, 0, 0}, 3, g, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fitParallel(tc.needs, tc.k, tc.budget); got != tc.want {
				t.Errorf("fitParallel(%v, %d, %d) = %d, want %d", tc.needs, tc.k, tc.budget, got, tc.want)
			}
		})
	}
}

// TestSweepLocalMemory: --parallel K counts K runs' memory together. With
// room for two runs of three, the sweep says so and runs two at a time; with
// room for none, it stops before writing anything (exit 2).
func TestSweepLocalMemory(t *testing.T) {
	rec, err := loadRecipe("testdata/tiny.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	need, err := lab.MemoryNeed(rec)
	if err != nil || need <= 0 {
		t.Fatalf("MemoryNeed = %d, %v", need, err)
	}
	defer func(f func() int64) { memAvailable = f }(memAvailable)
	root := t.TempDir()
	fake := filepath.Join(root, "olmolab") // the runs' outcome does not matter here
	os.WriteFile(fake, []byte("#!/bin/sh\nexit 1\n"), 0o755)
	for _, tc := range []struct {
		name  string
		avail int64
		code  int
		want  []string
	}{
		{"room for all", 100 * need, exitError, []string{"3 at a time"}},
		{"room for two", need * 25 / 10, exitError, []string{"--parallel 3: 3 runs at once would need more memory than is available",
			gibString(need) + " per run", gibString(need*25/10) + " available", "running 2 at a time instead", "2 at a time"}},
		{"room for none", need / 2, exitBadInput, []string{"run tiny-seed1 of", "tiny.yaml needs about " + gibString(need), "only " + gibString(need/2) + " is available", "HINT: lower rank_microbatch_size"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			memAvailable = func() int64 { return tc.avail }
			runs := filepath.Join(root, tc.name)
			code, _, stderr := runCLI("sweep", "testdata/tiny.yaml", "--seeds", "3", "--runs", runs, "--olmolab", fake, "--local", "--parallel", "3")
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if tc.code == exitBadInput {
				if _, err := os.Stat(runs); err == nil {
					t.Errorf("%s was created", runs)
				}
			} else if tc.avail > 10*need && strings.Contains(stderr, "instead") {
				t.Errorf("lowered with room for all:\n%s", stderr)
			}
		})
	}
}

// TestSweepKeepsAnotherSweepsManifest: a second sweep under the same prefix
// and runs directory, with other --vary values, used to replace the first's
// manifest, and sweep --status lost the first's runs; it is refused (exit 2)
// before anything is written. The same sweep again, or one that adds runs to
// it, goes ahead.
func TestSweepKeepsAnotherSweepsManifest(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	fake := filepath.Join(root, "olmolab")
	os.WriteFile(fake, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	sweepArgs := func(extra ...string) []string {
		return append([]string{"sweep", "testdata/tiny.yaml", "--runs", runs, "--slurm", "--olmolab", fake}, extra...)
	}
	if code, _, stderr := runCLI(sweepArgs("--vary", "optimizer.lr=1e-3,3e-3")...); code != 0 {
		t.Fatalf("first sweep: exit %d\n%s", code, stderr)
	}
	manifest := filepath.Join(runs, "tiny.sweep.json")
	first, _ := os.ReadFile(manifest)
	for _, tc := range []struct {
		name  string
		extra []string
		code  int
		want  string
	}{
		{"other values", []string{"--seeds", "2"}, exitBadInput, "holds another sweep tiny (2 runs) whose runs tiny-lr1e-3, tiny-lr3e-3 this sweep does not have"},
		{"other --set", []string{"--vary", "optimizer.lr=1e-3,3e-3", "--set", "seed=9"}, exitBadInput, "with no --set, not --set seed=9"},
		{"the same sweep", []string{"--vary", "optimizer.lr=1e-3,3e-3"}, 0, ""},
		{"more runs", []string{"--vary", "optimizer.lr=1e-3,3e-3,1e-2"}, 0, ""},
	} {
		code, _, stderr := runCLI(sweepArgs(tc.extra...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", tc.name, code, tc.code, tc.want, stderr)
		}
		if now, _ := os.ReadFile(manifest); tc.code != 0 && !bytes.Equal(now, first) {
			t.Errorf("%s: the refused sweep changed %s", tc.name, manifest)
		}
	}
	if code, stdout, _ := runCLI("sweep", "--status", runs); code != 0 || !strings.Contains(stdout, "3 runs") {
		t.Errorf("--status after adding a run: exit %d\n%s", code, stdout)
	}
}

// TestSweepStatusMissingDir: --status on a directory that does not exist (a
// mistyped --runs) says which command and what to give, not a bare stat error.
func TestSweepStatusMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nosuch")
	code, _, stderr := runCLI("sweep", "--status", dir)
	if code != 2 {
		t.Errorf("exit %d, want 2\n%s", code, stderr)
	}
	for _, want := range []string{"sweep --status " + dir + ": no such directory", "HINT:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestSweepStatusNoSweep: --status on a directory without a sweep says what
// to give, and where sweeps lie one level down (runs/ given for runs/noise/,
// the README's sweep) names them; it said only "no sweep here".
func TestSweepStatusNoSweep(t *testing.T) {
	runs := t.TempDir()
	code, _, stderr := runCLI("sweep", "--status", runs)
	if want := runs + ": no sweep here (no *.sweep.json)\nHINT: give the runs directory the sweep was made with"; code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, want 2 and %q:\n%s", code, want, stderr)
	}
	noise := filepath.Join(runs, "noise")
	if err := os.MkdirAll(noise, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(noise, "ablation_balanced.sweep.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI("sweep", "--status", runs)
	if want := "HINT: a sweep is in " + noise + ": give that directory (the sweep's --runs)"; code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("a sweep one level down: exit %d, want 2 and %q:\n%s", code, want, stderr)
	}
}

// TestSweepCtrlCCheckpoints: Ctrl-C in the terminal of a --local sweep (a
// SIGINT to its process group) makes the running run checkpoint once: the
// run got the terminal's SIGINT and the sweep's, and a second Ctrl-C quits
// a run at once, without its checkpoint.
func TestSweepCtrlCCheckpoints(t *testing.T) {
	exe := selfAsOlmolab(t)
	runs := t.TempDir()
	// steps of seconds (cpu_m, 4096 tokens): the sweep's SIGINT comes in the step
	cmd := exec.Command(exe, "sweep", "testdata/tiny.yaml", "--seeds", "1", "--runs", runs, "--name", "c", "--olmolab", exe,
		"--set", "model=cpu_m", "--set", "global_batch_size=4096", "--set", "max_tokens=1M", "--set", "anneal.auto_at=0",
		"--set", "checkpoint.interval=0", "--local")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the group a terminal's Ctrl-C goes to
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var said []string
	for sc.Scan() {
		said = append(said, sc.Text())
		if strings.Contains(sc.Text(), "run c-seed1 → ") {
			break
		}
	}
	time.Sleep(300 * time.Millisecond) // training
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	for sc.Scan() {
		said = append(said, sc.Text())
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Errorf("sweep: %v, want exit %d", err, exitInterrupted)
	}
	if ck, _ := filepath.Glob(filepath.Join(runs, "c-seed1", lab.CkptDir, "step-*")); len(ck) != 1 {
		t.Errorf("Ctrl-C left checkpoints %v, want the one it wrote:\n%s", ck, strings.Join(said, "\n"))
	}
}

// A mix sweep is expressible exactly: --vary takes a whole mix's ratios as
// one value (dataset.sources.target_ratio=[0.2,0.8]), and the plan shows the
// shares each run trains on, normalised; varying one source's ratio alone
// renormalises the others, which the plan now shows (0.2 with 0.5 left is
// 28.6/71.4, not 20/80).
func TestSweepPlanShowsShares(t *testing.T) {
	root := t.TempDir()
	fake := filepath.Join(root, "olmolab")
	os.WriteFile(fake, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	mixes := `mixes={webonly: [{name: web, target_ratio: 1, paths: ["builtin:web_clean"]}]}`
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"whole mixes", []string{"--vary", "dataset.sources.target_ratio=[0.2,0.8],[0.5,0.5]"},
			"  data (each run's mixes, their ratios normalised as it trains on them):\n" +
				"    m-target_ratio_0.2_0.8  web 20%, qa 80%; anneal from 1792 tokens: qa 100%\n" +
				"    m-target_ratio_0.5_0.5  web 50%, qa 50%; anneal from 1792 tokens: qa 100%\n"},
		{"one source's ratio", []string{"--vary", "dataset.sources.0.target_ratio=0.2,0.5"},
			"    m-target_ratio0.2  web 28.6%, qa 71.4%; anneal from 1792 tokens: qa 100%\n" +
				"    m-target_ratio0.5  web 50%, qa 50%; anneal from 1792 tokens: qa 100%\n"},
		{"named mixes", []string{"--set", `mixes={webonly: [{name: web, target_ratio: 1, paths: ["builtin:web_clean"]}], heavy: [{name: web, target_ratio: 9, paths: ["builtin:web_clean"]}, {name: qa, target_ratio: 1, paths: ["builtin:qa"]}]}`,
			"--vary", "dataset.sources=webonly,heavy"},
			"    m-sources_webonly  webonly (web 100%); anneal from 1792 tokens: qa 100%\n" +
				"    m-sources_heavy    heavy (web 90%, qa 10%); anneal from 1792 tokens: qa 100%\n"},
		{"the same data", []string{"--seeds", "2"}, "  data      web 50%, qa 50%; anneal from 1792 tokens: qa 100% (every run)\n"},
		{"a curriculum", []string{"--set", mixes, "--set", "mix_schedule=[{at_tokens: 512, mix: webonly}]", "--vary", "mix_schedule.0.at_tokens=512,1K"},
			"    m-at_tokens512  web 50%, qa 50%; from 512 tokens webonly: web 100%; anneal from 1792 tokens: qa 100%\n" +
				"    m-at_tokens1K   web 50%, qa 50%; from 1000 tokens webonly: web 100%; anneal from 1792 tokens: qa 100%\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs := filepath.Join(t.TempDir(), "runs")
			code, stdout, stderr := runCLI(append([]string{"sweep", "testdata/tiny.yaml", "--runs", runs, "--name", "m", "--slurm", "--olmolab", fake}, tc.args...)...)
			if code != 0 || !strings.Contains(stdout, tc.want) {
				t.Errorf("exit %d; stdout lacks\n%s\nstdout:\n%s\nstderr:\n%s", code, tc.want, stdout, stderr)
			}
		})
	}
}

// TestSweepRefusesProportionalMixes: two --vary values of a whole mix's
// ratios in the same proportion train on the same normalised mix, so the
// sweep refuses them as it refuses a value given twice: exit 2, both values
// named, nothing written. [1,4] and [0.2,0.8] planned two runs of one mix.
func TestSweepRefusesProportionalMixes(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	code, stdout, stderr := runCLI("sweep", "testdata/tiny.yaml", "--runs", runs, "--name", "m", "--local",
		"--vary", "dataset.sources.target_ratio=[1,4],[0.2,0.8]")
	want := `"[1,4]" and "[0.2,0.8]" are the same mix (20%, 80% once normalised)`
	if code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, want 2 and %q in stderr:\n%s\nstdout:\n%s", code, want, stderr, stdout)
	}
	if _, err := os.Stat(runs); !os.IsNotExist(err) {
		t.Errorf("the refused sweep wrote %s (%v)", runs, err)
	}
}

// TestSweepRefusesProportionalCombinations: a mix varied through one axis
// per source (dataset.sources.0.target_ratio, ….1.target_ratio) has
// combinations in the same proportion, [0.2,0.8] and [0.4,1.6], which
// trained the same mix as two runs; they are refused as whole-mix values
// are (exit 2, both runs named, nothing written). Runs alike in their mix
// but apart in another key (seeds) are not.
func TestSweepRefusesProportionalCombinations(t *testing.T) {
	root := t.TempDir()
	fake := filepath.Join(root, "olmolab")
	os.WriteFile(fake, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	runs := filepath.Join(root, "runs")
	code, stdout, stderr := runCLI("sweep", "testdata/tiny.yaml", "--runs", runs, "--name", "m", "--slurm", "--olmolab", fake,
		"--vary", "dataset.sources.0.target_ratio=0.2,0.4", "--vary", "dataset.sources.1.target_ratio=0.8,1.6", "--seeds", "2")
	want := "runs m-0.target_ratio0.2-1.target_ratio0.8-seed1 (dataset.sources.0.target_ratio=0.2 dataset.sources.1.target_ratio=0.8) and m-0.target_ratio0.4-1.target_ratio1.6-seed1 (dataset.sources.0.target_ratio=0.4 dataset.sources.1.target_ratio=1.6) would train the same mix (web 20%, qa 80% once normalised)"
	if code != 2 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, want 2 and %q in stderr:\n%s\nstdout:\n%s", code, want, stderr, stdout)
	}
	if _, err := os.Stat(runs); !os.IsNotExist(err) {
		t.Errorf("the refused sweep wrote %s (%v)", runs, err)
	}
	code, stdout, stderr = runCLI("sweep", "testdata/tiny.yaml", "--runs", runs, "--name", "m", "--slurm", "--olmolab", fake,
		"--vary", "dataset.sources.0.target_ratio=0.2,0.4", "--vary", "dataset.sources.1.target_ratio=0.8,1.2", "--seeds", "2")
	if code != 0 {
		t.Errorf("four mixes, two seeds each: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestSweepSlurmTaskWaitsForRecord runs a --slurm sweep's task script under
// bash, with this test binary as olmolab, on a run that has a checkpoint
// while olmolab eval --record scores it (its mark held here): the task waits
// for the record and then resumes the run to its end, where it failed at once
// (exit 2); past $OLMOLAB_RECORD_WAIT it fails, saying how long it waited.
func TestSweepSlurmTaskWaitsForRecord(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	exe := selfAsOlmolab(t)
	runs := t.TempDir()
	if code, stdout, stderr := runCLI("sweep", "testdata/tiny.yaml", "--seeds", "1", "--runs", runs, "--name", "w", "--olmolab", exe, "--slurm"); code != 0 {
		t.Fatalf("sweep --slurm: exit %d\n%s\n%s", code, stdout, stderr)
	}
	script := filepath.Join(runs, "w.sbatch")
	dir := filepath.Join(runs, "w-seed1")
	// task runs the script as Slurm's array task 0 with $OLMOLAB_RECORD_WAIT
	// at wait, its output in a file read while it runs
	task := func(wait string) (*exec.Cmd, string) {
		log := filepath.Join(t.TempDir(), "task.out")
		f, err := os.Create(log)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd := exec.Command(bash, script)
		cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=0", "OLMOLAB_RECORD_WAIT="+wait)
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, log
	}
	exitOf := func(err error) int {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	cmd, log := task("1m")
	if code := exitOf(cmd.Wait()); code != 0 {
		b, _ := os.ReadFile(log)
		t.Fatalf("first task: exit %d\n%s", code, b)
	}
	os.Remove(filepath.Join(dir, lab.SummaryFile)) // killed before its summary: resumable

	stopRec, err := lab.StartRecording(dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd, log = task("1m")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile(log); strings.Contains(string(b), "waiting up to 1m0s for it to record before resuming") {
			break
		}
		select {
		case err := <-done:
			stopRec()
			b, _ := os.ReadFile(log)
			t.Fatalf("the task ended (exit %d) without waiting for the record:\n%s", exitOf(err), b)
		default:
		}
		if time.Now().After(deadline) {
			stopRec()
			cmd.Process.Kill()
			<-done
			b, _ := os.ReadFile(log)
			t.Fatalf("the task did not say it waits for the record within a minute:\n%s", b)
		}
	}
	stopRec()
	code := exitOf(<-done)
	b, _ := os.ReadFile(log)
	if s, ok := lab.ReadSummary(dir); code != 0 || !ok || s.State != "finished" || !strings.Contains(string(b), "the record ended after") {
		t.Errorf("task after the record: exit %d, summary %+v (%v), want 0 and finished\n%s", code, s, ok, b)
	}

	// the wait is bounded: still recording after it, the task fails, saying so
	os.Remove(filepath.Join(dir, lab.SummaryFile))
	if stopRec, err = lab.StartRecording(dir); err != nil {
		t.Fatal(err)
	}
	defer stopRec()
	cmd, log = task("1s")
	code = exitOf(cmd.Wait())
	b, _ = os.ReadFile(log)
	for _, want := range []string{"waited 1s (--wait-record)", "olmolab eval --record is scoring the run's checkpoints", "HINT: resume once it has recorded"} {
		if code != exitBadInput || !strings.Contains(string(b), want) {
			t.Errorf("task past its wait: exit %d, want %d and %q:\n%s", code, exitBadInput, want, b)
		}
	}
}

// TestSweepSlurmTimeLimit runs a --slurm sweep's task script under bash with
// this test binary as olmolab and a stand-in scontrol, and warns it of its
// time limit as Slurm does (--signal=B:USR1: the batch shell only) while the
// run trains: the run writes a checkpoint, the task requeues itself, and the
// requeued task resumes the run to its end, at the loss of an uninterrupted
// run. The script exec'd olmolab, which ignores USR1: the warning went
// unheard, and the run trained on into the limit's SIGTERM, with only
// KillWait left for its step and checkpoint, and no requeue after.
func TestSweepSlurmTimeLimit(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	exe := selfAsOlmolab(t)
	root := t.TempDir()
	runs, bin := filepath.Join(root, "runs"), filepath.Join(root, "bin")
	os.MkdirAll(bin, 0o755)
	called := filepath.Join(root, "scontrol")
	os.WriteFile(filepath.Join(bin, "scontrol"), []byte("#!/bin/sh\necho \"$@\" >> "+called+"\n"), 0o755)
	// steps of about a second (cpu_m, 4096 tokens): the warning comes in one
	sets := []string{"--set", "model=cpu_m", "--set", "global_batch_size=4096", "--set", "max_tokens=16384",
		"--set", "anneal.auto_at=0", "--set", "checkpoint.interval=0"}
	if code, stdout, stderr := runCLI(append([]string{"sweep", "testdata/tiny.yaml", "--seeds", "1", "--runs", runs, "--name", "w",
		"--olmolab", exe, "--slurm"}, sets...)...); code != 0 {
		t.Fatalf("sweep --slurm: exit %d\n%s\n%s", code, stdout, stderr)
	}
	script, dir := filepath.Join(runs, "w.sbatch"), filepath.Join(runs, "w-seed1")
	task := func(restart string, warn bool) (int, string) {
		log := filepath.Join(root, "task"+restart+".out")
		f, err := os.Create(log)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd := exec.Command(bash, script)
		cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=0", "SLURM_JOB_ID=77", "SLURM_RESTART_COUNT="+restart,
			"PATH="+bin+":"+os.Getenv("PATH"))
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if warn {
			for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
				if b, _ := os.ReadFile(log); strings.Contains(string(b), "run w-seed1 → ") {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					b, _ := os.ReadFile(log)
					t.Fatalf("the run did not start within 2 minutes:\n%s", b)
				}
			}
			time.Sleep(300 * time.Millisecond) // training
			cmd.Process.Signal(syscall.SIGUSR1)
		}
		err = cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(log)
		return code, string(b)
	}

	code, out := task("0", true)
	got, _ := os.ReadFile(called)
	ck, _ := lab.LatestCheckpoint(dir)
	s, _ := lab.ReadSummary(dir)
	if code != 0 || strings.TrimSpace(string(got)) != "requeue 77" || ck == "" || s.State != "interrupted" {
		t.Fatalf("warned task: exit %d, scontrol %q, checkpoint %q, state %q; want 0, requeue 77, one, interrupted\n%s", code, got, ck, s.State, out)
	}
	code, out = task("1", false)
	s, _ = lab.ReadSummary(dir)
	if code != 0 || s.State != "finished" || s.Steps != 4 {
		t.Fatalf("requeued task: exit %d, %+v; want 0, finished after 4 steps\n%s", code, s, out)
	}
	if !strings.Contains(out, "resum") {
		t.Errorf("the requeued task did not resume:\n%s", out)
	}
	ref := filepath.Join(root, "ref")
	if code, _, stderr := runCLI(append([]string{"--batch", "testdata/tiny.yaml", "--set", "seed=1", "--runs", ref, "--name", "r"}, sets...)...); code != 0 {
		t.Fatalf("reference run: exit %d\n%s", code, stderr)
	}
	a, b := sweep.ReadStatus(dir).Last, sweep.ReadStatus(filepath.Join(ref, "r")).Last
	if a == nil || b == nil || a.Step != b.Step || a.Loss != b.Loss {
		t.Errorf("last step: resumed %+v, uninterrupted %+v: want the same step and loss", a, b)
	}
}

// TestSweepBackendOfAMovedRun: a sweep checks the backend a run of it
// resumes on, the one its latest checkpoint was written on (state.json
// backend), as --batch --resume does, not recipe.yaml's: a run started on
// cuda and moved to the CPU (--batch --resume --backend cpu) goes on in a
// build without CUDA, where the sweep refused it; one moved to cuda is
// refused when the sweep starts, naming the state.json, where it failed
// only when its turn came.
func TestSweepBackendOfAMovedRun(t *testing.T) {
	selfAsOlmolab(t) // without --olmolab: the sweep checks the backends of its own build
	runs := t.TempDir()
	args := []string{"sweep", "testdata/tiny.yaml", "--seeds", "2", "--runs", runs, "--name", "t", "--set", "checkpoint.keep=0", "--local"}
	on := func(backend string) []string {
		// each sweep of its own --set backend: the last one's manifest goes
		os.Remove(sweep.ManifestPath(runs, "t"))
		return append(args[:len(args):len(args)], "--set", "backend="+backend)
	}
	if code, stdout, stderr := runCLI(on("cpu")...); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// edit replaces old by new in a run's file, which must hold old
	edit := func(path, old, new string) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(b), old) {
			t.Fatalf("%s: %v; want %q in:\n%s", path, err, old, b)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// as if started on cuda and moved to the CPU at step 8: t-seed1 stopped there
	for _, name := range []string{"t-seed1", "t-seed2"} {
		edit(filepath.Join(runs, name, lab.RecipeFile), "backend: cpu", "backend: cuda")
	}
	os.RemoveAll(filepath.Join(runs, "t-seed1", lab.CkptDir, "step-10"))
	os.Remove(filepath.Join(runs, "t-seed1", lab.SummaryFile))
	code, stdout, stderr := runCLI(on("cuda")...)
	if code != 0 || !strings.Contains(stdout, "t-seed1  resumed  finished  10") {
		t.Errorf("runs moved to the CPU: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	// as if started on the CPU and moved to cuda at step 8: refused at the start
	for _, name := range []string{"t-seed1", "t-seed2"} {
		edit(filepath.Join(runs, name, lab.RecipeFile), "backend: cuda", "backend: cpu")
	}
	os.RemoveAll(filepath.Join(runs, "t-seed1", lab.CkptDir, "step-10"))
	os.Remove(filepath.Join(runs, "t-seed1", lab.SummaryFile))
	state := filepath.Join(runs, "t-seed1", lab.CkptDir, "step-8", lab.StateFile)
	edit(state, `"backend": "cpu"`, `"backend": "cuda"`)
	code, _, stderr = runCLI(on("cpu")...)
	want := `run t-seed1 (seed=1): backend "cuda" (the backend ` + state + ` was written on) is not in this build of olmolab`
	if code != exitBadInput || !strings.Contains(stderr, want) || !strings.Contains(stderr, "HINT: move the run to one of those with olmolab --batch --resume "+filepath.Join(runs, "t-seed1")+" --backend NAME") {
		t.Errorf("a run moved to cuda: exit %d, want 2 and %q:\n%s", code, want, stderr)
	}
}
