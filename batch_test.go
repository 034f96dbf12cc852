package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/tui"
)

// TestBatch drives the headless front end: exit codes, stdout JSONL, stderr.
func TestBatch(t *testing.T) {
	runs := t.TempDir()
	t.Setenv("OLMOLAB_OLMES_DATA", "")
	aFile := filepath.Join(runs, "notes.txt")
	os.WriteFile(aFile, []byte("mine"), 0o644)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no recipe", []string{"--batch"}, 2, "--batch needs a recipe"},
		{"unknown recipe", []string{"--batch", "nosuch"}, 2, "nosuch: no such recipe file"},
		{"type error", []string{"--batch", "testdata/bad_type.yaml"}, 2, `testdata/bad_type.yaml:3:18: sequence_length: want a whole number`},
		{"needs a GPU", []string{"--batch", "olmo2_7B_stage1"}, 2, "needs an NVIDIA GPU"},
		{"bad override", []string{"--batch", "testdata/tiny.yaml", "--set", "optimizer.lr=fast"}, 2, "optimizer.lr: want a number"},
		{"missing data", []string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--set", `dataset.sources.0.paths=["/no/such/dir"]`}, 2, "/no/such/dir"},
		{"resume nothing", []string{"--batch", "--resume", filepath.Join(runs, "nope")}, 2, "nope"},
		{"recipe and resume", []string{"--batch", "quickstart", "--resume", "x"}, 2, "not both"},
		{"set with resume", []string{"--batch", "--resume", "x", "--set", "max_tokens=2M"}, 2, "--batch --resume: --set would be ignored"},
		{"name and runs with resume", []string{"--batch", "--resume", "x", "--runs", runs, "--name", "y"}, 2, "--batch --resume: --name, --runs would be ignored"},
		{"name with a slash", []string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "../out"}, 2, `--batch --name "../out": a run name is one directory name`},
		{"name ..", []string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", ".."}, 2, `--batch --name ".."`},
		// a --runs that is a file (or under one) is bad input, named as the
		// runs directory: it was exit 1 with "mkdir PATH: not a directory"
		{"runs is a file", []string{"--batch", "testdata/tiny.yaml", "--runs", aFile}, 2, "runs directory " + aFile + ": not a directory"},
		{"runs under a file", []string{"--batch", "testdata/tiny.yaml", "--runs", filepath.Join(aFile, "r")}, 2, "runs directory " + filepath.Join(aFile, "r") + ": not a directory"},
		{"runs is a file, with --name", []string{"--batch", "testdata/tiny.yaml", "--runs", aFile, "--name", "x"}, 2, "runs directory " + aFile + ": not a directory"},
		{"val tokens below a sequence", []string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--set", "eval.val.tokens=16"}, 2,
			"eval.val.tokens: 16 tokens per source is less than one sequence (sequence_length 32)"},
		// --batch has no --data: the hint names the variable it reads
		{"olmes data not given", []string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--set", "eval.tasks=[arc_easy]"}, 2,
			"no data directory for arc_easy\nHINT: give the directory that holds the OLMES datasets: OLMOLAB_OLMES_DATA=DIR"},
		{"no load_path checkpoint", []string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--set", "load_path=/no/such/ckpt"}, 2,
			"testdata/tiny.yaml: load_path: /no/such/ckpt: no such checkpoint\nHINT: load_path is the checkpoint the run starts from"},
		{"missing val files", []string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--set", "eval.val.tokens=1K", "--set", `eval.val.sources=[{name: held, paths: ["/no/such/val/*.npy"]}]`}, 2,
			`eval.val.sources[0]: source "held": /no/such/val/*.npy`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, errb.String())
			}
		})
	}
}

// TestBatchOLMESSplit: a run's OLMES task whose data directory lacks OLMES's
// split is refused with a hint a run can follow (eval.split; --split is
// olmolab eval's), and following it, the run scores the shared data's
// validation split in the run and says so where its scores are read.
func TestBatchOLMESSplit(t *testing.T) {
	olmesData := filepath.Join("..", "shared", "data", "olmes")
	if _, err := os.Stat(olmesData); err != nil {
		t.Skip("../shared/data/olmes is absent")
	}
	t.Setenv("OLMOLAB_OLMES_DATA", olmesData)
	runs := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--set", "eval.tasks=[arc_easy]"}, &out, &errb)
	got := strings.Join(strings.Fields(errb.String()), " ")
	if code != exitBadInput || !strings.Contains(got, "eval.tasks: "+olmesData+": no test split of arc_easy") ||
		!strings.Contains(got, "or in a run with eval.split: validation in its recipe (--set eval.split=validation)") {
		t.Errorf("exit %d:\n%s", code, errb.String())
	}
	if ents, _ := os.ReadDir(runs); len(ents) != 0 {
		t.Errorf("the refused run wrote %v", ents)
	}

	out.Reset()
	errb.Reset()
	code = run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "v", "--set", "eval.tasks=[arc_easy, piqa]",
		"--set", "eval.split=validation", "--set", "eval.limit=3"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, errb.String())
	}
	var splits []string
	b, _ := os.ReadFile(filepath.Join(runs, "v", "evals.jsonl"))
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct{ Task, Split string }
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		splits = append(splits, r.Task+" "+r.Split)
	}
	for _, task := range []string{"arc_easy", "piqa"} {
		if !slices.Contains(splits, task+" validation") || slices.Contains(splits, task+" ") {
			t.Errorf("evals.jsonl: %s not all on the validation split: %v", task, splits)
		}
	}
	if !strings.Contains(out.String(), `"task":"arc_easy","formulation":"rc","split":"validation"`) {
		t.Errorf("stdout's eval event lacks the split:\n%s", out.String())
	}
	for _, re := range []string{`eval \(final\) step \d+: arc_easy \(validation\) \d`, `(?m)^  piqa +validation +rc +acc_per_char `} {
		if !regexp.MustCompile(re).MatchString(errb.String()) {
			t.Errorf("stderr lacks %s:\n%s", re, errb.String())
		}
	}
}

func TestBatchRun(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "t1"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errb.String())
	}
	kinds := map[string]int{}
	var last map[string]any
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("stdout line is not JSON: %q", sc.Text())
		}
		kinds[e["type"].(string)]++
		last = e
	}
	if kinds["step"] != 10 || kinds["checkpoint"] == 0 || kinds["phase"] == 0 || last["type"] != "done" || last["state"] != "finished" {
		t.Errorf("events %v, last %v", kinds, last)
	}
	for _, want := range []string{"run t1", "anneal: LR", "checkpoint  step", "loss            first", "steps / tokens  10 / 2560"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	// resuming a finished run says so, shows its summary, writes nothing, exits 0
	out.Reset()
	errb.Reset()
	events, _ := os.ReadFile(filepath.Join(runs, "t1", "events.jsonl"))
	if code := run([]string{"--batch", "--resume", filepath.Join(runs, "t1")}, &out, &errb); code != 0 {
		t.Fatalf("resume exit %d:\n%s", code, errb.String())
	}
	for _, want := range []string{"already finished at step 10", "steps / tokens  10 / 2560", "loss            first"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("resume of a finished run: stderr lacks %q:\n%s", want, errb.String())
		}
	}
	if after, _ := os.ReadFile(filepath.Join(runs, "t1", "events.jsonl")); string(after) != string(events) || out.Len() != 0 {
		t.Errorf("resume of a finished run wrote events (stdout %q)", out.String())
	}
}

// TestQuickstartShortened runs the shipped quickstart with a shortened budget:
// loss falls, the anneal starts and LR reaches 0, the summary prints, exit 0.
func TestQuickstartShortened(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"--batch", "quickstart", "--runs", t.TempDir(), "--name", "q",
		"--set", "max_tokens=24576", "--set", "anneal.auto_at=16384", "--set", "anneal.tokens=8192", "--set", "schedule.warmup_tokens=4096", "--set", "eval.limit=20"}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errb.String())
	}
	var first, lastLoss, lastLR float64
	annealed := false
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e struct {
			Type  string
			Phase string
			Step  int
			Loss  float64
			LR    float64
		}
		json.Unmarshal(sc.Bytes(), &e)
		if e.Type == "step" {
			if e.Step == 1 {
				first = e.Loss
			}
			lastLoss, lastLR = e.Loss, e.LR
			annealed = annealed || e.Phase == "anneal"
		}
	}
	if !annealed || lastLR != 0 || !(lastLoss < first-0.5) {
		t.Errorf("annealed %v, final LR %v, loss %v → %v", annealed, lastLR, first, lastLoss)
	}
	if !strings.Contains(errb.String(), "anneal          from 16.4K tokens") {
		t.Errorf("summary lacks the anneal line:\n%s", errb.String())
	}
}

// TestSecondInterruptQuits: Ctrl-C makes a run stop after its step and
// write a checkpoint, which for a large model takes minutes; it said
// nothing meanwhile, and a second Ctrl-C did nothing. The first says what
// happens, the second quits at once (exit 130) without the checkpoint, and
// the run resumes from the one before.
func TestSecondInterruptQuits(t *testing.T) {
	exe := selfAsOlmolab(t)
	runs := t.TempDir()
	// steps of seconds each (cpu_m, 4096 tokens), no checkpoint of its own
	cmd := exec.Command(exe, "--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "q", "--set", "model=cpu_m",
		"--set", "global_batch_size=4096", "--set", "max_tokens=1M", "--set", "anneal.auto_at=0", "--set", "checkpoint.interval=0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var said []string
	waitFor := func(prefix string, d time.Duration) bool {
		deadline := time.After(d)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					return false
				}
				said = append(said, l)
				if strings.HasPrefix(l, prefix) {
					return true
				}
			case <-deadline:
				return false
			}
		}
	}
	if !waitFor("run q → ", time.Minute) {
		cmd.Process.Kill()
		t.Fatalf("the run did not start: %q", said)
	}
	time.Sleep(200 * time.Millisecond) // in its first step
	cmd.Process.Signal(os.Interrupt)
	first := waitFor("interrupt: the run stops after this step and writes a checkpoint", 2*time.Second)
	cmd.Process.Signal(os.Interrupt)
	t0 := time.Now()
	for l := range lines {
		said = append(said, l)
	}
	err = cmd.Wait()
	quit := time.Since(t0)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit %v, want %d", err, exitInterrupted)
	}
	if !first {
		t.Errorf("the first Ctrl-C said nothing: %q", said)
	}
	if ck, _ := filepath.Glob(filepath.Join(runs, "q", lab.CkptDir, "step-*")); len(ck) > 0 {
		t.Errorf("the second Ctrl-C waited %v for the step and its checkpoint %v", quit, ck)
	}
	// its first checkpoint was being written: nothing to resume from, and
	// no lock left that would make the run look live
	all := strings.Join(said, "\n")
	if want := "interrupt again: quit without the checkpoint; the run has written no checkpoint yet, so it cannot resume: start it again"; !strings.Contains(all, want) || strings.Contains(all, "resumes from its checkpoint before") {
		t.Errorf("stderr %q, want %q and no promise of a checkpoint before", all, want)
	}
	if _, err := os.Stat(filepath.Join(runs, "q", lab.LockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the second Ctrl-C left %s (%v)", lab.LockFile, err)
	}
}

// TestAfterQuit: what a run quit at a second Ctrl-C resumes from.
func TestAfterQuit(t *testing.T) {
	dir := t.TempDir()
	if got := afterQuit(dir); !strings.Contains(got, "no checkpoint yet, so it cannot resume: start it again") {
		t.Errorf("no checkpoint: %q", got)
	}
	ck := filepath.Join(dir, lab.CkptDir, "step-3")
	if err := os.MkdirAll(ck, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ck, lab.StateFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := afterQuit(dir), "olmolab --batch --resume "+dir+" then resumes from "+ck; got != want {
		t.Errorf("a checkpoint: %q, want %q", got, want)
	}
}

// TestInterruptSaysHowToResume: a run stopped by Ctrl-C ends with how to go
// on, naming the checkpoint it just wrote; its last line was "olmolab:
// interrupted", and the resume command was said only for a second Ctrl-C.
func TestInterruptSaysHowToResume(t *testing.T) {
	exe := selfAsOlmolab(t)
	runs := t.TempDir()
	cmd := exec.Command(exe, "--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "q", "--set", "global_batch_size=4096",
		"--set", "max_tokens=10M", "--set", "anneal.auto_at=0", "--set", "checkpoint.interval=0")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	dir := filepath.Join(runs, "q")
	for i := 0; i < 600; i++ { // a step done
		if _, err := os.Stat(filepath.Join(dir, lab.MetricsFile)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit %v, want %d\n%s", err, exitInterrupted, errb.String())
	}
	ck, cerr := lab.LatestCheckpoint(dir)
	if cerr != nil {
		t.Fatalf("no checkpoint after Ctrl-C: %v\n%s", cerr, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if want := "HINT: olmolab --batch --resume " + dir + " continues it from " + ck; lines[len(lines)-1] != want ||
		lines[len(lines)-2] != "olmolab: interrupted" {
		t.Errorf("stderr ends %q, want \"olmolab: interrupted\" and %q", lines[max(0, len(lines)-2):], want)
	}
}

// TestSecondSIGTERMLeavesTheCheckpoint: a scheduler's second SIGTERM
// (Slurm's --signal warning, then its time limit) and a second take-over
// (`t` in two sessions watching the run) are not a person's second Ctrl-C:
// the run still writes its checkpoint.
func TestSecondSIGTERMLeavesTheCheckpoint(t *testing.T) {
	exe := selfAsOlmolab(t)
	for _, tc := range []struct {
		name string
		sig  os.Signal
	}{
		{"scheduler", syscall.SIGTERM},
		{"take-over", tui.TakeOverSignal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs := t.TempDir()
			cmd := exec.Command(exe, "--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "q", "--set", "model=cpu_m",
				"--set", "global_batch_size=4096", "--set", "max_tokens=1M", "--set", "anneal.auto_at=0", "--set", "checkpoint.interval=0")
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(runs, "q")
			for i := 0; i < 600; i++ { // started: its first step is under way
				if _, err := os.Stat(filepath.Join(dir, lab.EventsFile)); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
			cmd.Process.Signal(tc.sig)
			time.Sleep(100 * time.Millisecond)
			cmd.Process.Signal(tc.sig)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
				t.Fatalf("exit %v, want %d\n%s", err, exitInterrupted, errb.String())
			}
			if ck, _ := filepath.Glob(filepath.Join(dir, lab.CkptDir, "step-*")); len(ck) != 1 {
				t.Errorf("two %v left checkpoints %v, want the one the first asked for\n%s", tc.sig, ck, errb.String())
			}
		})
	}
}

// TestSecondInterruptDuringCheckpoint: a second Ctrl-C while the run writes
// its first checkpoint quits at once and leaves no temporary file: the
// checkpoint's .tmp-step-N directory was left, and only a later checkpoint
// (of a resume, which has nothing to resume from here) would remove it.
func TestSecondInterruptDuringCheckpoint(t *testing.T) {
	exe := selfAsOlmolab(t)
	runs := t.TempDir()
	dir := filepath.Join(runs, "q")
	// cpu_m in F32: its checkpoint (74 MB with the Adam moments) takes a while to write
	cmd := exec.Command(exe, "--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "q", "--set", "model=cpu_m",
		"--set", "global_batch_size=4096", "--set", "max_tokens=1M", "--set", "anneal.auto_at=0", "--set", "checkpoint.interval=0",
		"--set", "checkpoint.dtype=F32")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// polls with a deadline: the directory exists only while it is written
	poll := func(what string, d time.Duration, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(d); !ok(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("%s did not happen within %v\n%s", what, d, errb.String())
			}
		}
	}
	poll("the run's start", time.Minute, func() bool { _, err := os.Stat(filepath.Join(dir, lab.EventsFile)); return err == nil })
	cmd.Process.Signal(os.Interrupt)
	poll("the checkpoint's write", time.Minute, func() bool {
		tmp, _ := filepath.Glob(filepath.Join(dir, lab.CkptDir, ".tmp-step-*"))
		return len(tmp) > 0
	})
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit %v, want %d\n%s", err, exitInterrupted, errb.String())
	}
	if ck, _ := filepath.Glob(filepath.Join(dir, lab.CkptDir, "step-*")); len(ck) > 0 {
		t.Skipf("the checkpoint was complete before the second Ctrl-C: %v", ck)
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp") {
			var names []string
			if es, err := os.ReadDir(p); err == nil {
				for _, e := range es {
					names = append(names, e.Name())
				}
			}
			t.Errorf("the quit left %s %v\n%s", p, names, errb.String())
		}
		return nil
	})
}

// TestBatchResumeOnAnotherBackend: --batch --resume RUNDIR --backend NAME
// continues the run on that engine (here cpu-f64; the GPU's under -tags
// emu: lab TestMoveRunBetweenEngines): the resumed event says it moved, the
// losses after the checkpoint are the CPU's within float32 rounding. Before,
// --backend was an unknown flag (exit 2) and a resume trained on recipe.yaml's
// backend only. A run killed after its step-4 checkpoint is made by removing
// what came after it.
func TestBatchResumeOnAnotherBackend(t *testing.T) {
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "m", "--set", "checkpoint.keep=0"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	dir := filepath.Join(runs, "m")
	want := stepLosses(t, dir)
	for _, f := range []string{"summary.json", "checkpoints/step-8", "checkpoints/step-10"} {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"--batch", "--resume", dir, "--backend", "cpu-f64"}, &out, &errb); code != 0 {
		t.Fatalf("resume --backend cpu-f64: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `(step 4, 1024 tokens), moved from backend cpu to cpu-f64"`) {
		t.Errorf("stdout lacks the resumed event saying the run moved:\n%s", out.String())
	}
	got := stepLosses(t, dir)
	if len(got) != len(want) {
		t.Fatalf("%d steps after the resume, %d before", len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(got[i] - want[i]); (i < 4 && d != 0) || d > 1e-4*want[i] {
			t.Errorf("step %d: loss %v on cpu-f64 from step 5, %v on cpu", i+1, got[i], want[i])
		}
	}
	errb.Reset()
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--backend", "tpu"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `backend "tpu" is not in this build`) {
		t.Errorf("--backend tpu: exit %d, want 2 naming it: %s", code, errb.String())
	}
}
