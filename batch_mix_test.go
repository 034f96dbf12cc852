package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
)

// switchingEval is an evaluator that, at its first evaluation, asks the run
// to switch to mix, as the lab's m does: the switch applies before the next
// step.
type switchingEval struct {
	run   chan *lab.Run
	mix   []data.SourceSpec
	calls int
}

func (e *switchingEval) Evaluate(ctx context.Context, b model.Backend, tok data.Tokenizer, spec lab.EvalSpec) ([]lab.EvalScore, error) {
	if e.calls++; e.calls == 1 {
		(<-e.run).Do(lab.Action{Kind: lab.ActSwitchMix, Mix: e.mix})
	}
	return []lab.EvalScore{{Task: "fake", Metric: "acc", Value: 0.5, Primary: true}}, nil
}

// stepLosses reads the losses of a run's metrics.jsonl, step by step.
func stepLosses(t *testing.T, dir string) []float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, lab.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for line := range bytes.Lines(b) {
		var e lab.Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Loss)
	}
	return out
}

// A curriculum scripted for --batch: mix_schedule switches the run to a
// named mix at a token count by itself, with the phase event the lab's m
// gives on stdout, and the same losses as the same run switched by that
// action (what m sends) at that step.
func TestBatchMixSchedule(t *testing.T) {
	runs := t.TempDir()
	mixes := `mixes={webonly: [{name: web, target_ratio: 1, paths: ["builtin:web_clean"]}]}`
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "sched", "--set", mixes,
		"--set", "mix_schedule=[{at_tokens: 768, mix: webonly}]"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d:\n%s", code, errb.String())
	}
	var switched []lab.Event
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e lab.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("stdout line is not JSON: %q", sc.Text())
		}
		if e.Type == lab.EvPhase && strings.HasPrefix(e.Message, "switched mix") {
			switched = append(switched, e)
		}
	}
	if len(switched) != 1 || switched[0].Step != 3 || switched[0].Message != "switched mix to webonly (mix_schedule at 768 tokens)" ||
		len(switched[0].Mix) != 2 || switched[0].Mix[0].TargetRatio != 1 || switched[0].Mix[1].TargetRatio != 0 {
		t.Fatalf("switch events on stdout %+v, want one at step 3 onto web alone", switched)
	}

	rec, err := lab.LoadRecipe("testdata/tiny.yaml", []string{mixes, "eval.tasks=[fake]", "eval.interval=3"})
	if err != nil {
		t.Fatal(err)
	}
	ev := &switchingEval{run: make(chan *lab.Run, 1), mix: rec.NamedMixSources("webonly")}
	r, err := lab.StartRun(context.Background(), lab.RunParams{Recipe: rec, RunsDir: runs, Name: "act", Evaluator: ev, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	ev.run <- r
	if s, err := r.Wait(); err != nil || s.State != "finished" {
		t.Fatalf("the run switched by the action: %s, %v", s.State, err)
	}
	got, want := stepLosses(t, filepath.Join(runs, "sched")), stepLosses(t, filepath.Join(runs, "act"))
	if len(got) != 10 || !slices.Equal(got, want) {
		t.Errorf("losses differ:\nmix_schedule %v\naction       %v", got, want)
	}
}
