//go:build emu

package lab

import (
	"context"
	"slices"
	"testing"

	"github.com/olmolab/olmolab/gpu"
	"github.com/olmolab/olmolab/model"
)

// TestEvaluatorReshapesOnEmulatedGPU: a run on the GPU engine (here on its
// emulator) has its evaluations scored on a gpu.Engine Scorer of rows
// fitted to the requests, borrowing the engine's activation memory, with
// the scores of the engine's own rows (causal attention: bit for bit on the
// emulator). go test -tags emu ./lab/ runs it (about 10 s on 2 cores).
func TestEvaluatorReshapesOnEmulatedGPU(t *testing.T) {
	const B, T = 2, 64
	cpu, tok := evalBackend(t, 1, T) // the config and weights
	defer cpu.Close()
	g, err := gpu.NewEmulated(cpu.Config(), B, T, gpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	params := make([]float32, model.NewLayout(cpu.Config()).Size())
	cpu.ReadParams(params)
	g.WriteParams(params)
	ev := NewOLMESEvaluator("")
	spec := EvalSpec{Tasks: []string{"arith"}, Limit: 4}
	first, err := ev.Evaluate(context.Background(), g, tok, spec) // on g's rows: the longest request is not known yet
	if err != nil {
		t.Fatal(err)
	}
	second, err := ev.Evaluate(context.Background(), g, tok, spec)
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := ev.eval.(*gpu.Engine)
	if !ok || ev.evalOf != model.Backend(g) {
		t.Fatalf("scored on %T over %v, want a gpu.Engine Scorer over the run's engine", ev.eval, ev.evalOf)
	}
	be, te := scorerShape(B, T, ev.longest)
	if eb, et := sc.MicroBatch(); eb != be || et != te || te >= T || !sc.Borrows() {
		t.Errorf("Scorer at %d×%d (borrows %v), want %d×%d below the run's %d-token rows, in its memory", eb, et, sc.Borrows(), be, te, T)
	}
	if !slices.Equal(first, second) {
		t.Errorf("on the Scorer: %v\non the run's rows: %v", second, first)
	}
	t.Logf("requests of at most %d tokens scored at %d×%d instead of %d×%d", ev.longest, be, te, B, T)
}
