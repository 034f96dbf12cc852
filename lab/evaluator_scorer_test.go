package lab

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
)

// sharingBackend is an engine of another kind than "cpu" that shares its
// weights with a scorer (model.ScorerSharer), as the GPU engine does; here
// over the CPU engine, or refusing as a GPU without room would.
type sharingBackend struct {
	*model.CPUBackend
	err   error
	asked [][2]int
}

func (s *sharingBackend) Name() string { return "gpu-like" }
func (s *sharingBackend) SharedScorer(B, T int) (model.Backend, error) {
	s.asked = append(s.asked, [2]int{B, T})
	if s.err != nil {
		return nil, s.err
	}
	return s.CPUBackend.Scorer(B, T), nil
}

// evalBackend is a small model with the world tokenizer's vocabulary.
func evalBackend(t *testing.T, B, T int) (*model.CPUBackend, data.Tokenizer) {
	t.Helper()
	tok, err := data.NewTokenizer("world")
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustPreset(t, "cpu_xs")
	cfg.VocabSize, cfg.MaxPositionEmbeddings = tok.VocabSize(), T
	b := model.NewCPUBackend(cfg, B, T, 1)
	model.Init(b.E.Layout, b.E.Params, 3)
	return b, tok
}

// TestEvaluatorReshapesOnSharers: an engine of any name that shares its
// weights with a scorer (the GPU engine) has its evaluations scored on a
// Scorer of rows fitted to the requests, as the CPU engine does, with the
// scores of its own rows. It was reshaped only for "cpu": on the GPU every
// short request took a whole training row. A scorer that cannot be had is
// asked for once: the requests are scored on the run's rows and a warning
// says so, once.
func TestEvaluatorReshapesOnSharers(t *testing.T) {
	const B, T = 4, 128
	cpu, tok := evalBackend(t, B, T)
	defer cpu.Close()
	spec := EvalSpec{Tasks: []string{"arith"}, Limit: 24}
	var want []EvalScore
	for _, refuse := range []bool{false, true} {
		b := &sharingBackend{CPUBackend: cpu}
		if refuse {
			b.err = errors.New("no room beside training")
		}
		var warns []string
		spec.Warn = func(w string) { warns = append(warns, w) }
		ev := NewOLMESEvaluator("")
		for i := range 3 {
			got, err := ev.Evaluate(context.Background(), b, tok, spec)
			if err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want = got // the first evaluation: on b's rows (the longest request is not known yet)
			}
			if !slices.Equal(got, want) {
				t.Errorf("refuse=%v evaluation %d: %v, want %v", refuse, i, got, want)
			}
		}
		be, te := scorerShape(B, T, ev.longest)
		if te >= T {
			t.Fatalf("requests of %d tokens fill the %d-token rows: nothing to reshape", ev.longest, T)
		}
		if len(b.asked) != 1 || b.asked[0] != [2]int{be, te} {
			t.Errorf("refuse=%v: scorers asked %v, want one at %d×%d", refuse, b.asked, be, te)
		}
		if refuse {
			if ev.eval != nil || len(warns) != 1 || !strings.Contains(warns[0], "scored on the run's own 4×128 rows") {
				t.Errorf("refused: eval %v, warnings %q; want b's rows and one warning", ev.eval, warns)
			}
			continue
		}
		if ev.eval == nil || ev.evalOf != model.Backend(b) || len(warns) != 0 {
			t.Errorf("eval %v over %v, warnings %q; want a Scorer over b", ev.eval, ev.evalOf, warns)
		} else if eb, et := ev.eval.MicroBatch(); eb != be || et != te {
			t.Errorf("scored at %d×%d, want %d×%d", eb, et, be, te)
		}
	}
}

// TestEvaluatorRowsOfAnotherRun: rows fitted to an earlier run's shorter
// requests (the session's evaluator serves its runs one after another, with
// other tasks or another tokenizer) do not cut a later run's longer ones: its
// scores are those of a fresh evaluator, with no truncation warning. The
// earlier run's longest request shaped the rows, and every longer request was
// scored on its last tokens.
func TestEvaluatorRowsOfAnotherRun(t *testing.T) {
	const B, T = 4, 128
	b, tok := evalBackend(t, B, T)
	defer b.Close()
	spec := EvalSpec{Tasks: []string{"code"}, Limit: 24} // requests of up to 72 tokens
	want, err := NewOLMESEvaluator("").Evaluate(context.Background(), b, tok, spec)
	if err != nil {
		t.Fatal(err)
	}
	ev := NewOLMESEvaluator("")
	if _, err := ev.Evaluate(context.Background(), b, tok, EvalSpec{Tasks: []string{"arith"}, Limit: 24}); err != nil {
		t.Fatal(err) // an earlier run's: requests of a few tokens
	}
	var warns []string
	spec.Warn = func(w string) { warns = append(warns, w) }
	got, err := ev.Evaluate(context.Background(), b, tok, spec)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || len(warns) != 0 {
		t.Errorf("after an earlier run's short requests: %v, warnings %q; want %v and none", got, warns, want)
	}
	if _, te := ev.eval.MicroBatch(); te < ev.longest || te >= T {
		t.Errorf("the evaluation's rows hold %d tokens, the longest request %d, the run's rows %d", te, ev.longest, T)
	}
}

// releasingEval records the backends a run releases as it ends.
type releasingEval struct {
	fakeEval
	released []model.Backend
}

func (f *releasingEval) Release(b model.Backend) { f.released = append(f.released, b) }

// TestEvaluatorReleasesAnEndedRun: the session's evaluator drops the Scorer
// over a run's weights when the run ends (the run releases its backend), and
// keeps another run's. It kept the ended run's model alive until another
// run's evaluation replaced it.
func TestEvaluatorReleasesAnEndedRun(t *testing.T) {
	const B, T = 4, 128
	b, tok := evalBackend(t, B, T)
	defer b.Close()
	ev := NewOLMESEvaluator("")
	for range 2 { // the second on a Scorer over b
		if _, err := ev.Evaluate(context.Background(), b, tok, EvalSpec{Tasks: []string{"arith"}, Limit: 8}); err != nil {
			t.Fatal(err)
		}
	}
	if ev.evalOf != model.Backend(b) {
		t.Fatalf("no Scorer over b: eval %v of %v", ev.eval, ev.evalOf)
	}
	other, _ := evalBackend(t, B, T)
	defer other.Close()
	ev.Release(other)
	if ev.eval == nil {
		t.Error("another run's end dropped b's Scorer")
	}
	ev.Release(b)
	if ev.eval != nil || ev.evalOf != nil {
		t.Errorf("after b's run ended: eval %v of %v", ev.eval, ev.evalOf)
	}

	f := &releasingEval{}
	r, err := StartRun(context.Background(), RunParams{Recipe: parseTiny(t, "max_tokens=512"), RunsDir: t.TempDir(), Name: "x", Evaluator: f, PeakFLOPS: 1e11})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitRun(t, r); err != nil {
		t.Fatal(err)
	}
	if len(f.released) != 1 || f.released[0] == nil {
		t.Errorf("the run released %v, want its backend once", f.released)
	}
}

// shapeRecorder is a scorer that records the shorter scorers asked of it.
type shapeRecorder struct {
	*model.CPUBackend
	asked *[][2]int
}

func (s shapeRecorder) SharedScorer(B, T int) (model.Backend, error) {
	*s.asked = append(*s.asked, [2]int{B, T})
	return shapeRecorder{s.CPUBackend.Scorer(B, T), s.asked}, nil
}

// recordingSharer is sharingBackend whose scorers are shapeRecorders.
type recordingSharer struct {
	*model.CPUBackend
	asked [][2]int
}

func (s *recordingSharer) SharedScorer(B, T int) (model.Backend, error) {
	return shapeRecorder{s.CPUBackend.Scorer(B, T), &s.asked}, nil
}

// TestEvaluatorFitsShorterRows: in a run, requests much shorter than the
// longest (arith's few tokens beside code's 72) are scored on shorter scorers
// of the evaluation's scorer, longest first, as olmolab eval scores them
// (olmes.EvalOptions.Reshape), with the scores of the run's own rows. They
// took the longest request's rows.
func TestEvaluatorFitsShorterRows(t *testing.T) {
	const B, T = 4, 128
	cpu, tok := evalBackend(t, B, T)
	defer cpu.Close()
	spec := EvalSpec{Tasks: []string{"code", "arith"}, Limit: 24}
	b := &recordingSharer{CPUBackend: cpu}
	ev := NewOLMESEvaluator("")
	want, err := ev.Evaluate(context.Background(), b, tok, spec) // on b's rows: the longest is not known yet
	if err != nil {
		t.Fatal(err)
	}
	if len(b.asked) != 0 {
		t.Fatalf("the first evaluation, on the run's rows, asked for scorers %v", b.asked)
	}
	got, err := ev.Evaluate(context.Background(), b, tok, spec)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("on fitted rows: %v, want %v", got, want)
	}
	_, te := ev.eval.MicroBatch()
	if len(b.asked) == 0 || b.asked[len(b.asked)-1][1] >= te/2 {
		t.Errorf("scorers of %d-token rows asked for %v; want shorter ones down to arith's requests", te, b.asked)
	}
}
