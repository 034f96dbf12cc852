package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLMHeadChunks: the LM head gives the same losses and gradients whether
// it runs over all rows at once or over chunks of them (logitsChunk), and
// the chunk rule keeps its bounds.
func TestLMHeadChunks(t *testing.T) {
	for _, tc := range []struct{ BT, V, floats, want int }{
		{128, 512, 64 << 20, 128},     // everything fits: one chunk
		{128, 512, 64 * 512, 64},      // exactly 64 rows' worth
		{128, 512, 10 * 512, 64},      // never under 64 rows
		{4096, 100352, 64 << 20, 668}, // olmo2_14M's proxy shape
		{40, 512, 10 * 512, 40},       // at most the rows there are
	} {
		old := logitsFloats
		logitsFloats = tc.floats
		if got := logitsChunk(tc.BT, tc.V); got != tc.want {
			t.Errorf("logitsChunk(%d, %d) with a cap of %d floats = %d, want %d", tc.BT, tc.V, tc.floats, got, tc.want)
		}
		logitsFloats = old
	}

	cfg := tinyConfig(false, 2)
	cfg.VocabSize = 96
	const B, T = 3, 50 // 150 rows: chunks of 64, 64 and 22
	lay := NewLayout(cfg)
	params := make([]float32, lay.Size())
	Init(lay, params, 5)
	ids, labels := randomBatch(rand.New(rand.NewPCG(3, 4)), B, T, cfg.VocabSize)
	run := func(floats int) (Losses, []float32, int) {
		old := logitsFloats
		logitsFloats = floats
		defer func() { logitsFloats = old }()
		e := NewCPUBackend(cfg, B, T, 2)
		defer e.Close()
		e.WriteParams(params)
		e.ZeroGrads()
		l := e.ForwardBackward(ids, labels, 1/float64(CountLabelled(labels)), 1e-4)
		g := make([]float32, lay.Size())
		e.ReadGrads(g)
		return l, g, e.E.chunk
	}
	l1, g1, c1 := run(64 << 20)
	l3, g3, c3 := run(64 * cfg.VocabSize)
	if c1 != B*T || c3 != 64 {
		t.Fatalf("chunks of %d and %d rows, want %d and 64", c1, c3, B*T)
	}
	if math.Abs(l1.CESum-l3.CESum) > 1e-9*l1.CESum || math.Abs(l1.ZSum-l3.ZSum) > 1e-9*l1.ZSum || l1.Labelled != l3.Labelled {
		t.Errorf("losses differ: one chunk %+v, three %+v", l1, l3)
	}
	// the LM head's gradient sums over chunks in another order: float32 rounding
	for _, tn := range lay.Tensors {
		a, b := g1[tn.Offset:tn.Offset+tn.Numel()], g3[tn.Offset:tn.Offset+tn.Numel()]
		var scale, diff float64
		for i := range a {
			scale = math.Max(scale, math.Abs(float64(a[i])))
			diff = math.Max(diff, math.Abs(float64(a[i])-float64(b[i])))
		}
		if diff > 1e-5*scale {
			t.Errorf("%s: gradients differ by %.3g (largest %.3g)", tn.Name, diff, scale)
		}
	}
}

// TestLogProbsHeadLabelled: LogProbs runs the LM head over the positions
// with a target only, gathered in chunks; its log-probs are the full head's
// bit for bit (−CE of every labelled row after forward and head over all
// rows), whatever the chunking, in float32 and float64, for a batch with a
// few targets (a scoring row) and one with a target everywhere.
func TestLogProbsHeadLabelled(t *testing.T) {
	testLogProbsHeadLabelled[float32](t)
	testLogProbsHeadLabelled[float64](t)
}

func testLogProbsHeadLabelled[F Float](t *testing.T) {
	cfg := tinyConfig(false, 2)
	cfg.VocabSize = 96
	const B, T = 3, 50
	lay := NewLayout(cfg)
	params := make([]F, lay.Size())
	Init(lay, params, 5)
	rng := rand.New(rand.NewPCG(5, 6))
	ids, all := randomBatch(rng, B, T, cfg.VocabSize)
	few := make([]int32, len(all)) // a continuation of 1 to 6 tokens at a random place per row
	for i := range few {
		few[i] = IgnoreIndex
	}
	for b := range B {
		n := 1 + rng.IntN(6)
		at := rng.IntN(T - n)
		copy(few[b*T+at:b*T+at+n], all[b*T+at:b*T+at+n])
	}
	for _, floats := range []int{64 << 20, 64 * cfg.VocabSize} {
		old := logitsFloats
		logitsFloats = floats
		e := newCPU[F](cfg, B, T, 2, params)
		logitsFloats = old
		for _, labels := range [][]int32{few, all, make([]int32, len(all))} {
			got := make([]F, B*T)
			for i := range got {
				got[i] = 7 // LogProbs writes every position
			}
			e.LogProbs(got, ids, labels)
			e.setBatch(ids, labels)
			e.forward()
			e.head(0, 0, false)
			for r, l := range labels {
				want := F(0)
				if l != IgnoreIndex {
					want = F(-e.ce[r])
				}
				if got[r] != want {
					t.Fatalf("%T, chunks of %d rows: position %d: LogProbs %v, the full head %v", want, e.chunk, r, got[r], want)
				}
			}
		}
	}
}
