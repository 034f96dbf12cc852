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

// TestLogProbsPacked: a row holding a prefix and several segments after it
// (LogProbsPacked) gives each segment's log-probs as a row of the prefix
// and that segment alone gives them, within float32 rounding (the masked
// keys split the softmax's sums), across attention blocks; a row packed as
// plain (prefix 0, segments from 0, positions t) gives LogProbs' bits.
func TestLogProbsPacked(t *testing.T) {
	cfg := tinyConfig(false, 2)
	cfg.VocabSize = 96
	const B, T = 2, 160
	lay := NewLayout(cfg)
	params := make([]float32, lay.Size())
	Init(lay, params, 5)
	for i := range params {
		params[i] *= 4 // far from uniform
	}
	e := newCPU[float32](cfg, B, T, 2, params)
	rng := rand.New(rand.NewPCG(9, 10))
	tok := func(n int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(rng.IntN(94))
		}
		return s
	}
	const P = 70 // the prefix crosses a 64-key block
	prefix := tok(P)
	segs := [][]int32{tok(3), tok(5), tok(2), tok(40), tok(2)}
	ids, tgt := make([]int32, B*T), make([]int32, B*T)
	pk := Packing{Pos: make([]int32, B*T), Seg: make([]int32, B*T), Prefix: []int32{P, 0}}
	for i := range tgt {
		tgt[i] = IgnoreIndex
		pk.Pos[i] = int32(i % T)
	}
	// row 0: prefix, then each segment as (its first token, the rest), targets its next tokens
	copy(ids, prefix)
	at := P
	var starts []int
	for _, s := range segs {
		starts = append(starts, at)
		for j := range len(s) - 1 {
			ids[at+j], pk.Pos[at+j], pk.Seg[at+j], tgt[at+j] = s[j], int32(P+j), int32(at), s[j+1]
		}
		at += len(s) - 1
	}
	// row 1: plain, a target everywhere
	plainIDs := tok(T)
	copy(ids[T:], plainIDs)
	for j := range T - 1 {
		tgt[T+j] = plainIDs[j+1]
	}
	got := make([]float32, B*T)
	e.LogProbsPacked(got, ids, tgt, pk)

	// each segment alone after the prefix, in row 0; row 1 as it is
	for i, sg := range segs {
		rid, rtg := make([]int32, B*T), make([]int32, B*T)
		for k := range rtg {
			rtg[k] = IgnoreIndex
		}
		copy(rid, prefix)
		copy(rid[P:], sg)
		for j := range len(sg) - 1 {
			rtg[P+j] = sg[j+1]
		}
		copy(rid[T:], ids[T:])
		copy(rtg[T:], tgt[T:])
		want := make([]float32, B*T)
		e.LogProbs(want, rid, rtg)
		for j := range len(sg) - 1 {
			g, w := got[starts[i]+j], want[P+j]
			if math.Abs(float64(g-w)) > 2e-5*math.Max(1, math.Abs(float64(w))) || w == 0 {
				t.Errorf("segment %d token %d: packed %v, alone %v", i, j, g, w)
			}
		}
		for j := range T {
			if got[T+j] != want[T+j] {
				t.Fatalf("plain row, position %d: packed batch %v, LogProbs %v", j, got[T+j], want[T+j])
			}
		}
	}
}

// TestLogProbsAllocatesNothing: scoring a micro-batch, plain or packed,
// allocates nothing once warm (the labelled rows' list and gather buffer
// are the engine's).
func TestLogProbsAllocatesNothing(t *testing.T) {
	cfg := tinyConfig(false, 2)
	cfg.VocabSize = 96
	const B, T = 2, 32
	b := NewCPUBackend(cfg, B, T, 2)
	defer b.Close()
	Init(b.E.Layout, b.E.Params, 5)
	ids, labels := randomBatch(rand.New(rand.NewPCG(1, 2)), B, T, cfg.VocabSize)
	dst := make([]float32, B*T)
	pk := Packing{Pos: make([]int32, B*T), Seg: make([]int32, B*T), Prefix: []int32{8, 0}}
	for i := range pk.Pos {
		pk.Pos[i] = int32(i % T)
		if i < T && i >= 8 {
			pk.Pos[i], pk.Seg[i] = int32(8+(i-8)%4), int32(8+(i-8)/4*4) // segments of 4 after a prefix of 8
		}
	}
	for name, f := range map[string]func(){
		"LogProbs":       func() { b.LogProbs(dst, ids, labels) },
		"LogProbsPacked": func() { b.LogProbsPacked(dst, ids, labels, pk) },
	} {
		f()
		if n := testing.AllocsPerRun(10, f); n != 0 {
			t.Errorf("%s: %v allocations a call", name, n)
		}
	}
}
