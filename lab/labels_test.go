package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
)

// actingEval is fakeEval that hands the run actions as its first
// evaluation ends (acts), or its n-th (at[n]): an action is applied at the
// step just evaluated, as a person's key pressed while the run is paused
// there.
type actingEval struct {
	fakeEval
	run  chan *Run // the run, sent once it has started
	acts []Action
	at   map[int][]Action
	r    *Run
	errs []error // what Do refused
}

func (f *actingEval) Evaluate(ctx context.Context, b model.Backend, tok data.Tokenizer, spec EvalSpec) ([]EvalScore, error) {
	s, err := f.fakeEval.Evaluate(ctx, b, tok, spec)
	if f.calls == 1 {
		f.r = <-f.run
		for _, a := range f.acts {
			f.do(a)
		}
	}
	for _, a := range f.at[f.calls] {
		f.do(a)
	}
	return s, err
}

func (f *actingEval) do(a Action) {
	if err := f.r.Do(a); err != nil {
		f.errs = append(f.errs, err)
	}
}

// An anneal or a soup asked for (a, s) at a step evaluated already (an
// eval.interval) kept that evaluation's label, "interval": the run's
// evaluation before the anneal or soup was nowhere said to be one. It is
// that step's one evaluation, now labelled "before anneal" or "before
// soup" in evals.jsonl and an eval event, and not taken again.
func TestAskedAnnealOrSoupAtAnEvaluatedStep(t *testing.T) {
	for _, tc := range []struct {
		name string
		act  Action
		want []string // the run's own evals.jsonl records, "STEP WHY"
		// evaluations: the run's own, and a soup's ingredients and soup
		calls int
	}{
		{"anneal", Action{Kind: ActAnneal, Tokens: 768}, []string{"3 before anneal", "6 final"}, 2},
		{"soup", Action{Kind: ActSoup, K: 2, Tokens: 256}, []string{"3 before soup", "6 interval", "8 final"}, 3 + 2 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			rec := parseTiny(t, "max_tokens=2048", "anneal.auto_at=0", "checkpoint.interval=0",
				"eval.tasks=[fake]", "eval.interval=3", "eval.at_anneal=true")
			ev := &actingEval{run: make(chan *Run, 1), acts: []Action{tc.act}}
			r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: "ask", Evaluator: ev, PeakFLOPS: 1e11})
			if err != nil {
				t.Fatal(err)
			}
			ev.run <- r
			var relabelled *Event
			follow(t, r, func(e Event) {
				if e.Type == EvEval && e.Step == 3 && e.Message == "before "+tc.name {
					relabelled = &e
				}
			})
			s, err := r.Wait()
			if err != nil || s.State != "finished" {
				t.Fatalf("state %q, err %v", s.State, err)
			}
			var own []string
			for _, l := range evalWhys(t, filepath.Join(root, "ask")) {
				if !strings.Contains(l, "soup") || strings.HasSuffix(l, "before soup") {
					own = append(own, l)
				}
			}
			if !slices.Equal(own, tc.want) || ev.calls != tc.calls {
				t.Errorf("evals.jsonl holds %q after %d evaluations, want %q after %d", own, ev.calls, tc.want, tc.calls)
			}
			if relabelled == nil || len(relabelled.Evals) != 1 {
				t.Errorf("no eval event says step 3's evaluation is the one before the %s (%+v)", tc.name, relabelled)
			}
		})
	}
}

// A run resumed at a step whose evaluation evals.jsonl holds as an
// interval's (an olmolab from before one evaluation per step took the
// interval's first and was stopped before its "final" or "before anneal"
// one) took it as the step's evaluation but kept its label: the summary
// said "interval, at step 4" for the run's final scores, and evals.jsonl
// had no final evaluation. The records are relabelled as the evaluation
// the run makes at that step, which is not made again.
func TestResumedIntervalEvalAtABoundaryIsRelabelled(t *testing.T) {
	for _, tc := range []struct {
		name  string
		over  []string
		want  []string
		calls int // on resume
		when  string
	}{
		{"final", nil, []string{"4 final"}, 0, "final"},
		{"before anneal", []string{"max_tokens=2048", "anneal.auto_at=1024", "anneal.tokens=1024", "eval.at_anneal=true"},
			[]string{"4 before anneal", "8 final"}, 1, "final"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			rec := parseTiny(t, append([]string{"max_tokens=1024", "checkpoint.interval=0", "eval.tasks=[fake]", "eval.interval=0"}, tc.over...)...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// interrupted in the step's evaluation: the run ends at step 4 with none recorded
			r, err := StartRun(ctx, RunParams{Recipe: rec, RunsDir: root, Name: "old", Evaluator: &cancelingEval{cancel: cancel}, PeakFLOPS: 1e11})
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := r.Wait(); s.State != "interrupted" || s.Steps != 4 {
				t.Fatalf("ended %s at step %d, want interrupted at 4", s.State, s.Steps)
			}
			// what the older olmolab had written at step 4: the interval's
			dir := filepath.Join(root, "old")
			line := fmt.Sprintf(`{"run":"old","step":4,"tokens":1024,"phase":"stage1","why":"interval","task":"fake","metric":"acc","value":0.5,"primary":true,"time":%q}`+"\n",
				time.Now().Format(time.RFC3339Nano))
			if err := os.WriteFile(filepath.Join(dir, EvalsFile), []byte(line), 0o644); err != nil {
				t.Fatal(err)
			}
			ev := &fakeEval{}
			s, err := runToEnd(t, RunParams{ResumeDir: dir, Evaluator: ev})
			if err != nil || s.State != "finished" {
				t.Fatalf("resumed: %s, err %v", s.State, err)
			}
			if got := evalWhys(t, dir); !slices.Equal(got, tc.want) || ev.calls != tc.calls {
				t.Errorf("evals.jsonl holds %q after %d evaluations on resume, want %q after %d", got, ev.calls, tc.want, tc.calls)
			}
			if s.EvalsWhen != tc.when {
				t.Errorf("summary: evaluation %q, want %q", s.EvalsWhen, tc.when)
			}
		})
	}
}

// Ctrl-C (or a preemption) in a soup: in an ingredient's training, its
// evaluation or the soup's own evaluation. Interrupted in the soup's
// evaluation, the run ended finished, with the scores of the tasks scored
// by then standing as the soup's; a resume then had nothing to do. Each
// interrupt ends the run interrupted at the soup's starting checkpoint with
// no soup report, and the resume makes the soup again and finishes: one
// record of each evaluation, the run's own "before soup" one (an
// interval's at that step) kept, not taken again.
func TestInterruptedSoupIsMadeOnResume(t *testing.T) {
	// the recipe's soup at step 10 (2560 tokens), two ingredients of 2 steps;
	// evaluations: 1 step 5, 2 step 10 (before soup, an interval's too), 3
	// and 4 the ingredients, 5 the soup
	for _, at := range []int{2, 3, 4, 5} {
		t.Run(fmt.Sprint("evaluation ", at), func(t *testing.T) {
			root := t.TempDir()
			rec := parseTiny(t, "anneal.auto_at=2560", "anneal.tokens=512", "soup.ingredients=2", "max_tokens=1M",
				"checkpoint.interval=0", "eval.tasks=[fake]", "eval.interval=5", "eval.at_anneal=true")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r, err := StartRun(ctx, RunParams{Recipe: rec, RunsDir: root, Name: "si", Evaluator: &cancelingEval{cancel: cancel, at: at}, PeakFLOPS: 1e11})
			if err != nil {
				t.Fatal(err)
			}
			s, _ := r.Wait()
			if s.State != "interrupted" || s.Steps != 10 || s.Soup != nil {
				t.Fatalf("interrupted in evaluation %d: ended %s at step %d, soup %+v; want interrupted at 10 without one", at, s.State, s.Steps, s.Soup)
			}
			dir := filepath.Join(root, "si")
			if _, err := os.Stat(filepath.Join(dir, "soups", "soup-10", "soup.json")); err == nil {
				t.Fatalf("interrupted in evaluation %d: the soup's report was written", at)
			}
			ev := &fakeEval{}
			s, err = runToEnd(t, RunParams{ResumeDir: dir, Evaluator: ev})
			if err != nil || s.State != "finished" || s.Soup == nil || len(s.Soup.Soup.Evals) != 1 {
				t.Fatalf("resumed: %s, soup %+v, err %v", s.State, s.Soup, err)
			}
			if want := map[bool]int{true: 4, false: 3}[at == 2]; ev.calls != want {
				t.Errorf("resumed: %d evaluations, want %d (the ingredients and the soup, and before them the one interrupted)", ev.calls, want)
			}
			want := []string{"5 interval", "10 before soup", "10 soup ingredient", "10 soup ingredient", "10 soup"}
			if got := evalWhys(t, dir); !slices.Equal(got, want) {
				t.Errorf("evals.jsonl holds %q, want %q", got, want)
			}
		})
	}
}

// An anneal or a mix switch asked for at a step whose checkpoint was
// written already (an interval's), then a stop or Ctrl-C there: the run
// took that checkpoint, of stage 1 or of the old mix, for the step's, and
// wrote none, so the resumed run had lost the anneal or the switch. The
// step's checkpoint is written again, over the old one.
func TestActionAfterTheStepsCheckpointIsKept(t *testing.T) {
	qa := []data.SourceSpec{{Name: "qa", TargetRatio: 1, Paths: []string{"builtin:qa"}}}
	for _, tc := range []struct {
		name  string
		act   Action
		check func(st *CheckpointState) string
	}{
		{"anneal", Action{Kind: ActAnneal, Tokens: 1024}, func(st *CheckpointState) string {
			if st.Phase != "anneal" || st.TotalTokens != 2048 {
				return fmt.Sprintf("phase %s, %d tokens in all; want anneal to 2048", st.Phase, st.TotalTokens)
			}
			return ""
		}},
		{"switch mix", Action{Kind: ActSwitchMix, Mix: qa}, func(st *CheckpointState) string {
			if len(st.Mix) != 2 || st.Mix[0].TargetRatio != 0 || st.Mix[1].TargetRatio != 1 {
				return fmt.Sprintf("mix %+v; want qa only", st.Mix)
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			rec := parseTiny(t, "max_tokens=1M", "anneal.auto_at=0", "checkpoint.interval=4", "eval.tasks=[fake]", "eval.interval=4")
			ev := &actingEval{run: make(chan *Run, 1), acts: []Action{tc.act, {Kind: ActStop}}}
			r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: "ck", Evaluator: ev, PeakFLOPS: 1e11})
			if err != nil {
				t.Fatal(err)
			}
			ev.run <- r
			follow(t, r, nil)
			if s, err := r.Wait(); err != nil || s.State != "stopped" || s.Steps != 4 {
				t.Fatalf("state %q at step %d, err %v; want stopped at 4", s.State, s.Steps, err)
			}
			// what a resume starts from
			ck, err := loadCheckpoint(filepath.Join(root, "ck"))
			if err != nil {
				t.Fatal(err)
			}
			ck.Close()
			st := ck.State
			if st.Step != 4 {
				t.Fatalf("resumes at step %d, want 4", st.Step)
			}
			if msg := tc.check(st); msg != "" {
				t.Errorf("the resumed run: %s", msg)
			}
			if left, _ := filepath.Glob(filepath.Join(root, "ck", CkptDir, ".*")); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// A soup run's summary counted the run's own steps and tokens only
// ("steps / tokens  10 / 2560"), leaving out the anneals its soup was made
// of. It says what the run trained in all: its own, its soups'
// ingredients', and the sum, a soup made before a resume included.
func TestSummaryCountsTheSoupsTraining(t *testing.T) {
	root := t.TempDir()
	printed := func(s RunSummary) string {
		var b strings.Builder
		PrintSummary(&b, s)
		return b.String()
	}
	// the recipe's soup at step 10: 2 ingredients of 2 steps (512 tokens)
	rec := parseTiny(t, "anneal.auto_at=2560", "anneal.tokens=512", "soup.ingredients=2", "max_tokens=1M", "checkpoint.interval=0")
	s, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "planned"})
	if err != nil || s.State != "finished" {
		t.Fatalf("state %q, err %v", s.State, err)
	}
	want := "10 / 2560 the run's own + 4 / 1024 in soup ingredients (anneals from the run's checkpoint) = 14 / 3584 trained"
	if out := printed(s); !strings.Contains(out, "steps / tokens  "+want+"\n") {
		t.Errorf("the planned soup's summary:\n%s\nwant the line %q", out, want)
	}

	// a soup asked for at step 3 (2 ingredients of 1 step), a stop after
	// it, a resume stopped again
	rec = parseTiny(t, "max_tokens=1M", "anneal.auto_at=0", "checkpoint.interval=0", "eval.tasks=[fake]", "eval.interval=3")
	ev := &actingEval{run: make(chan *Run, 1), acts: []Action{{Kind: ActSoup, K: 2, Tokens: 256}}}
	r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: "side", Evaluator: ev, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	ev.run <- r
	follow(t, r, func(e Event) {
		if e.Type == EvPhase && strings.HasPrefix(e.Message, "soup done") {
			r.Do(Action{Kind: ActStop})
		}
	})
	if s, err := r.Wait(); err != nil || s.State != "stopped" {
		t.Fatalf("state %q at step %d, err %v; want stopped", s.State, s.Steps, err)
	}
	r, err = StartRun(context.Background(), RunParams{ResumeDir: filepath.Join(root, "side"), Evaluator: &fakeEval{}, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	r.Do(Action{Kind: ActStop})
	if s, err = r.Wait(); err != nil || s.State != "stopped" {
		t.Fatalf("resumed: state %q, err %v", s.State, err)
	}
	want = fmt.Sprintf("%d / %s the run's own + 2 / 512 in soup ingredients (anneals from the run's checkpoint) = %d / %s trained",
		s.Steps, HumanCount(s.Tokens), s.Steps+2, HumanCount(s.Tokens+512))
	if out := printed(s); !strings.Contains(out, "steps / tokens  "+want+"\n") {
		t.Errorf("the resumed run's summary:\n%s\nwant the line %q", out, want)
	}
	// a run without a soup: as before
	if got := stepsLine(RunSummary{Steps: 20, Tokens: 5120}); got != "20 / 5120" {
		t.Errorf("no soup: %q", got)
	}
}

// fillingDisk is a file whose disk fills up in the line that holds at:
// half of it is written, then the write fails as a full disk's does, and
// so does every later one.
type fillingDisk struct {
	f    io.Writer
	at   []byte
	full bool
}

func (d *fillingDisk) Write(b []byte) (int, error) {
	if !d.full && !bytes.Contains(b, d.at) {
		return d.f.Write(b)
	}
	d.full = true
	n, _ := d.f.Write(b[:len(b)/2])
	return n, syscall.ENOSPC
}

// A run whose disk filled up trained on with its metrics lost (write
// errors were ignored) and, when space came back, left a torn line glued
// to the next one in metrics.jsonl. It stops at the first failed write,
// with the torn part cut off, fails with an error naming the file and how
// to continue, and the resume trains the lost steps again: metrics.jsonl
// then reads as an uninterrupted run's.
func TestFullDiskStopsTheRunWhole(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "max_tokens=5120", "anneal.auto_at=0", "checkpoint.interval=4")
	if _, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "plain"}); err != nil {
		t.Fatal(err)
	}
	want := losses(t, filepath.Join(root, "plain"))

	jsonlTestWriter = func(path string, f *os.File) io.Writer {
		if filepath.Base(path) == MetricsFile {
			return &fillingDisk{f: f, at: []byte(`"step":7,`)} // the disk fills in step 7's line
		}
		return f
	}
	defer func() { jsonlTestWriter = nil }()
	dir := filepath.Join(root, "full")
	s, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "full"})
	jsonlTestWriter = nil
	if s.State != "failed" || s.Steps != 7 || err == nil || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("the disk filled at step 7: %s at step %d, err %v; want failed at 7 with ENOSPC", s.State, s.Steps, err)
	}
	for _, w := range []string{filepath.Join(dir, MetricsFile), "HINT: free space", "--resume " + dir, "checkpoint, step-4"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	// whole lines, steps 1 to 6 (losses fails on any other)
	if got := losses(t, dir); len(got) != 6 {
		t.Errorf("metrics.jsonl holds steps 1 to %d after the failed write, want 1 to 6", len(got))
	}
	if s, err := runToEnd(t, RunParams{ResumeDir: dir}); err != nil || s.State != "finished" {
		t.Fatalf("resumed: %s, %v", s.State, err)
	}
	got := losses(t, dir)
	if !slices.Equal(got, want) {
		t.Errorf("losses after the resume %v, want %v", got, want)
	}
}

// A soup asked for twice at one step (s pressed twice while paused there)
// made the second into the first's directories: each ingredient's
// metrics.jsonl held two step sequences, soup.json the second soup only,
// and evals.jsonl two sets of records under the same names. The second is
// answered with the first.
func TestSecondSoupAtAStepIsAnswered(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "max_tokens=1536", "anneal.auto_at=0", "checkpoint.interval=0", "eval.tasks=[fake]", "eval.interval=3")
	soup := Action{Kind: ActSoup, K: 2, Tokens: 512, Seeds: []uint64{5, 6}}
	// the second is asked for as the first's soup is evaluated (the 4th
	// evaluation: step 3's, 2 ingredients, the soup), after its steps: it
	// comes at step 3 once the first is done
	ev := &actingEval{run: make(chan *Run, 1), acts: []Action{soup}, at: map[int][]Action{4: {soup}}}
	r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: "two", Evaluator: ev, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	ev.run <- r
	var done, answered int
	follow(t, r, func(e Event) {
		switch {
		case e.Type == EvPhase && strings.HasPrefix(e.Message, "soup done"):
			done++
		case e.Type == EvWarning && strings.Contains(e.Message, "a soup from step 3 is made already"):
			answered++
		}
	})
	if s, err := r.Wait(); err != nil || s.State != "finished" {
		t.Fatalf("state %q, err %v", s.State, err)
	}
	if done != 1 || answered != 1 {
		t.Errorf("%d soups made and %d answered at step 3, want 1 and 1", done, answered)
	}
	for _, ing := range []string{"ingredient-1-seed-5", "ingredient-2-seed-6"} {
		b, err := os.ReadFile(filepath.Join(root, "two", "soups", "soup-3", ing, MetricsFile))
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(b, []byte("\n")); n != 2 {
			t.Errorf("%s: %d steps in metrics.jsonl, want 2", ing, n)
		}
	}
}

// A run resumed from a checkpoint before a soup it made (its later
// checkpoints moved away, as the HINT for a damaged one says) kept the
// soup's directory, whose records the resume had dropped with the steps
// after its checkpoint: the soup asked for again at that step was answered
// as made already. The resume drops it with those steps.
func TestResumeBeforeASoupDropsIt(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "max_tokens=1M", "anneal.auto_at=0", "checkpoint.interval=4", "checkpoint.keep=0", "eval.tasks=[fake]", "eval.interval=6")
	soup := Action{Kind: ActSoup, K: 2, Tokens: 256, Seeds: []uint64{5, 6}}
	dir := filepath.Join(root, "back")
	run := func(p RunParams) (RunSummary, bool) {
		t.Helper()
		ev := &actingEval{run: make(chan *Run, 1), acts: []Action{soup}}
		p.Evaluator, p.PeakFLOPS = ev, 1e11
		r, err := StartRun(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		ev.run <- r
		answered := false
		follow(t, r, func(e Event) {
			answered = answered || e.Type == EvWarning && strings.Contains(e.Message, "has its soup already")
			if e.Type == EvPhase && strings.HasPrefix(e.Message, "soup done") || answered {
				r.Do(Action{Kind: ActStop})
			}
		})
		s, err := r.Wait()
		if err != nil || s.State != "stopped" {
			t.Fatalf("state %q, err %v", s.State, err)
		}
		return s, answered
	}
	if s, _ := run(RunParams{Recipe: rec, RunsDir: root, Name: "back"}); s.Soup == nil || s.Soup.FromStep != 6 {
		t.Fatalf("soup %+v, want one from step 6", s.Soup)
	}
	steps, _ := listCheckpoints(dir)
	for _, step := range steps { // damaged: moved away
		if step > 4 {
			if err := os.Rename(filepath.Join(dir, CkptDir, checkpointName(step)), filepath.Join(root, checkpointName(step))); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, answered := run(RunParams{ResumeDir: dir})
	if answered || s.Soup == nil || s.Soup.FromStep != 6 {
		t.Fatalf("resumed from step 4: soup %+v, answered as made %v; want the soup made again", s.Soup, answered)
	}
	b, err := os.ReadFile(filepath.Join(dir, "soups", "soup-6", "ingredient-1-seed-5", MetricsFile))
	if n := bytes.Count(b, []byte("\n")); err != nil || n != 1 {
		t.Errorf("the ingredient's metrics.jsonl holds %d steps (%v), want 1", n, err)
	}
}

// A soup whose report (soup.json) could not be written (a full disk) ended
// the run finished without it: a resume at the soup's step then took the
// soup for one abandoned and removed it, weights and records. The run
// stops there, failed, naming the file, and a resume makes the soup again.
func TestSoupReportNotWrittenFailsTheRun(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "anneal.auto_at=2560", "anneal.tokens=512", "soup.ingredients=2", "max_tokens=1M", "checkpoint.interval=0")
	dir := filepath.Join(root, "sj")
	// soup.json cannot be renamed into place: a directory that is not empty holds its name
	block := filepath.Join(dir, "soups", "soup-10", "soup.json")
	if err := os.MkdirAll(filepath.Join(block, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "sj"})
	if s.State != "failed" || err == nil || !strings.Contains(err.Error(), block) {
		t.Fatalf("soup.json not written: %s, err %v; want failed naming %s", s.State, err, block)
	}
	if err := os.RemoveAll(block); err != nil {
		t.Fatal(err)
	}
	if s, err = runToEnd(t, RunParams{ResumeDir: dir}); err != nil || s.State != "finished" || s.Soup == nil {
		t.Fatalf("resumed: %s, soup %+v, err %v", s.State, s.Soup, err)
	}
	if _, err := os.Stat(block); err != nil {
		t.Errorf("the soup made again has no report: %v", err)
	}
}

// A summary.json that could not be written was passed over in silence.
func TestSummaryNotWrittenIsSaid(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "max_tokens=1M", "checkpoint.interval=0")
	r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: "sum", PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	r.Do(Action{Kind: ActStop})
	if _, err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "sum")
	block := filepath.Join(dir, SummaryFile)
	os.Remove(block)
	if err := os.MkdirAll(filepath.Join(block, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err = StartRun(context.Background(), RunParams{ResumeDir: dir, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	r.Do(Action{Kind: ActStop})
	said := false
	follow(t, r, func(e Event) {
		said = said || e.Type == EvWarning && strings.Contains(e.Message, "summary is not written") && strings.Contains(e.Message, block)
	})
	if !said {
		t.Errorf("no warning that %s is not written", block)
	}
}

// A process killed while it made a soup from a BF16 checkpoint left the
// float32 copy of the soup's starting weights (soups/.start-*), a model's
// worth of disk, for good. The resume removes it.
func TestResumeRemovesASoupsStartingCopy(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "max_tokens=1M", "checkpoint.interval=0")
	r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: "left", PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	r.Do(Action{Kind: ActStop})
	if _, err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "left")
	left := filepath.Join(dir, "soups", ".start-step-1-99999")
	if err := os.MkdirAll(left, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(left, "model.safetensors"), make([]byte, 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = StartRun(context.Background(), RunParams{ResumeDir: dir, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	r.Do(Action{Kind: ActStop})
	r.Wait()
	if _, err := os.Stat(left); err == nil {
		t.Errorf("%s is still there after the resume", left)
	}
}

// An anneal asked for (a) whose "before anneal" evaluation Ctrl-C
// interrupted went on (the person asked for it), and the run ended
// interrupted at the anneal's first step, which its resume never
// evaluated: the evaluation before the anneal was lost. The resume makes it.
func TestInterruptedAskedAnnealEvaluatesOnResume(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "max_tokens=1M", "anneal.auto_at=0", "checkpoint.interval=0", "eval.tasks=[fake]", "eval.interval=0", "eval.at_anneal=true")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := StartRun(ctx, RunParams{Recipe: rec, RunsDir: root, Name: "aa", Evaluator: &cancelingEval{cancel: cancel}, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	asked := false
	follow(t, r, func(e Event) {
		if e.Type == EvStep && e.Step >= 2 && !asked {
			asked = true
			r.Do(Action{Kind: ActAnneal, Tokens: 512})
		}
	})
	s, _ := r.Wait()
	if s.State != "interrupted" || !s.Annealed {
		t.Fatalf("ended %s, annealed %v; want interrupted in the anneal", s.State, s.Annealed)
	}
	ev := &fakeEval{}
	if s, err = runToEnd(t, RunParams{ResumeDir: filepath.Join(root, "aa"), Evaluator: ev}); err != nil || s.State != "finished" {
		t.Fatalf("resumed: %s, err %v", s.State, err)
	}
	got := evalWhys(t, filepath.Join(root, "aa"))
	want := []string{fmt.Sprintf("%d before anneal", s.AnnealStart/256), fmt.Sprintf("%d final", s.Steps)}
	if !slices.Equal(got, want) || ev.calls != 2 {
		t.Errorf("evals.jsonl holds %q after %d evaluations on resume, want %q after 2", got, ev.calls, want)
	}
}

// A write that failed between two steps (an evaluation's records on a
// full disk), then a stop: the stop's checkpoint stood for files that had
// lost those records, which a resume from it never wrote again. No
// checkpoint is written over lost lines: the run fails, and resumes from
// the checkpoint before.
func TestNoCheckpointOverLostLines(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "max_tokens=1M", "anneal.auto_at=0", "checkpoint.interval=2", "eval.tasks=[fake]", "eval.interval=3")
	jsonlTestWriter = func(path string, f *os.File) io.Writer {
		if filepath.Base(path) == EvalsFile {
			return &fillingDisk{f: f, at: []byte(`"step":3,`)} // the disk fills in step 3's evaluation
		}
		return f
	}
	defer func() { jsonlTestWriter = nil }()
	ev := &actingEval{run: make(chan *Run, 1), acts: []Action{{Kind: ActStop}}}
	r, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: root, Name: "lost", Evaluator: ev, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	ev.run <- r
	s, err := r.Wait()
	jsonlTestWriter = nil
	if s.State != "failed" || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("ended %s at step %d, err %v; want failed with ENOSPC", s.State, s.Steps, err)
	}
	if ck, _ := LatestCheckpoint(filepath.Join(root, "lost")); !strings.HasSuffix(ck, checkpointName(2)) {
		t.Errorf("latest checkpoint %s, want step-2's: step 3's would stand for its lost evaluation", ck)
	}
}

// The recipe's soup whose records could not be written (a full disk) ended
// the run finished, without them. It fails, and the resume makes the soup
// again.
func TestSoupRecordsLostFailTheRun(t *testing.T) {
	root := t.TempDir()
	rec := parseTiny(t, "anneal.auto_at=2560", "anneal.tokens=512", "soup.ingredients=2", "max_tokens=1M", "checkpoint.interval=0", "eval.tasks=[fake]")
	jsonlTestWriter = func(path string, f *os.File) io.Writer {
		if filepath.Base(path) == EvalsFile {
			return &fillingDisk{f: f, at: []byte(`"why":"soup"`)}
		}
		return f
	}
	defer func() { jsonlTestWriter = nil }()
	s, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "sr", Evaluator: &fakeEval{}})
	jsonlTestWriter = nil
	if s.State != "failed" || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("ended %s, err %v; want failed with ENOSPC", s.State, err)
	}
	if s, err = runToEnd(t, RunParams{ResumeDir: filepath.Join(root, "sr"), Evaluator: &fakeEval{}}); err != nil || s.State != "finished" || s.Soup == nil {
		t.Fatalf("resumed: %s, soup %+v, err %v", s.State, s.Soup, err)
	}
	got := evalWhys(t, filepath.Join(root, "sr"))
	if want := []string{"10 before soup", "10 soup ingredient", "10 soup ingredient", "10 soup"}; !slices.Equal(got, want) {
		t.Errorf("evals.jsonl holds %q, want %q", got, want)
	}
}

// TestFullDiskHintWithoutACheckpoint: a disk that fills before the run's
// first checkpoint leaves nothing to resume (--resume refuses, exit 2), so
// the hint says to start the run again; it said --resume "continues the run
// from the start". With a checkpoint it names it, as before.
func TestFullDiskHintWithoutACheckpoint(t *testing.T) {
	dir := t.TempDir()
	full := &os.PathError{Op: "write", Path: filepath.Join(dir, MetricsFile), Err: syscall.ENOSPC}
	err := explainWriteError(full, dir)
	if !errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), "--resume") || !strings.Contains(err.Error(), "no checkpoint to resume from") {
		t.Errorf("no checkpoint: %v; want the run started again, not --resume", err)
	}
	os.MkdirAll(filepath.Join(dir, CkptDir, checkpointName(8)), 0o755)
	os.WriteFile(filepath.Join(dir, CkptDir, checkpointName(8), StateFile), []byte("{}"), 0o644)
	if err := explainWriteError(full, dir); !strings.Contains(err.Error(), "--resume "+dir+" continues the run from its latest checkpoint, step-8") {
		t.Errorf("with a checkpoint: %v", err)
	}
}

// TestSoupIngredientsOfOneJSONLFile: a soup's ingredients differ only in
// their data-order seed, and on a source of one JSONL file (whose
// documents a seed could not reorder) they trained on the same batches and
// came out bit-identical, a soup of one model. They now see other orders:
// their losses differ.
func TestSoupIngredientsOfOneJSONLFile(t *testing.T) {
	root := t.TempDir()
	var docs strings.Builder
	for i := range 400 {
		fmt.Fprintf(&docs, "{\"text\": \"document %d tells of the river town and its %d traders\"}\n", i, i%17)
	}
	path := filepath.Join(root, "one.jsonl")
	if err := os.WriteFile(path, []byte(docs.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(tinyRecipe, `    - {name: web, target_ratio: 0.7, paths: ["builtin:web_clean"]}
    - {name: qa, target_ratio: 0.3, paths: ["builtin:qa"]}`, `    - {name: doc, target_ratio: 1, paths: [`+strconv.Quote(path)+`]}`, 1)
	rec, err := ParseRecipe("one.yaml", []byte(y), []string{"anneal.auto_at=2560", "anneal.tokens=768", "soup.ingredients=2", "max_tokens=1M", "checkpoint.interval=0"})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "r"}); err != nil || s.State != "finished" {
		t.Fatalf("state %q, err %v", s.State, err)
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "r", "soups", "soup-*", "ingredient-*"))
	if len(dirs) != 2 {
		t.Fatalf("ingredients %v, want 2", dirs)
	}
	read := func(dir string) []float64 {
		raw, err := os.ReadFile(filepath.Join(dir, MetricsFile))
		if err != nil {
			t.Fatal(err)
		}
		var out []float64
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			var m struct{ Loss float64 }
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m.Loss)
		}
		return out
	}
	a, b := read(dirs[0]), read(dirs[1])
	if len(a) == 0 || slices.Equal(a, b) {
		t.Errorf("the two ingredients' losses are the same: %v", a)
	}
}
