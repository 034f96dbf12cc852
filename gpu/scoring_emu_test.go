//go:build emu

package gpu

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/model"
)

// testParams are initial weights with the norm weights away from 1 (as in
// the golden sets), so a norm read from the wrong copy shows.
func testParams(cfg model.Config, seed uint64) []float32 {
	lay := model.NewLayout(cfg)
	params := make([]float32, lay.Size())
	model.Init(lay, params, seed)
	r := rand.New(rand.NewPCG(seed, 2))
	for i := range params {
		if params[i] == 1 {
			params[i] = float32(1 + 0.1*r.NormFloat64())
		}
	}
	return params
}

// sameBits reports the first element where got and want differ bit for bit.
func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("%s: element %d is %v, want %v (max rel diff %.3g)", what, i, got[i], want[i], relDiff(got, want))
			return
		}
	}
}

// roundBF16 is float32 → bf16 → float32, round to nearest even (cast_bf16).
func roundBF16(x float32) float32 {
	b := math.Float32bits(x)
	return math.Float32frombits((b + 0x7fff + (b>>16)&1) &^ 0xffff)
}

// TestScoringMatchesTraining: a forward-only engine (NewScoring) scores
// exactly as a training engine with the same weights and pass size does,
// bit for bit (one forward code path), in fp32, in bf16 with each attention
// family, and with tied embeddings (the embedding in fp32 for the lookup and
// in bf16 for the LM head); and its arena is the smaller by at least the
// 16 bytes a parameter of the master weights, gradients and moments.
func TestScoringMatchesTraining(t *testing.T) {
	tied := mmaConfig()
	tied.TieWordEmbeddings = true
	for _, c := range []struct {
		name string
		cfg  model.Config
		opts Options
	}{
		{"fp32", mmaConfig(), Options{FP32: true}},
		{"bf16-mma", mmaConfig(), Options{}},
		{"bf16-v2-passes", mmaConfig(), Options{Attention: DefaultV2, MicroBatch: 1, ChunkRows: 33}},
		{"bf16-plain", smallConfig(48, 6, 2, 8), Options{}},
		{"bf16-tied", tied, Options{}},
		{"fp32-tied", tied, Options{FP32: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			const B, T = 2, 70
			tr, err := NewEmulated(c.cfg, B, T, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			sc, err := NewScoringEmulated(c.cfg, B, T, Options{FP32: c.opts.FP32, Attention: c.opts.Attention, MicroBatch: tr.Plan().MB, ChunkRows: c.opts.ChunkRows})
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			t.Logf("training %s; scoring %s", tr.Plan(), sc.Plan())
			if sc.Attention() != tr.Attention() || sc.Plan().MB != tr.Plan().MB {
				t.Fatalf("attention %s in passes of %d, training %s in %d", sc.Attention(), sc.Plan().MB, tr.Attention(), tr.Plan().MB)
			}
			if saved := tr.Plan().Arena - sc.Plan().Arena; saved < 16*tr.N {
				t.Errorf("the scoring arena is %d bytes smaller, want at least %d", saved, 16*tr.N)
			}
			params := testParams(c.cfg, 7)
			tr.WriteParams(params)
			sc.WriteParams(params)
			ids, labels := make([]int32, B*T), make([]int32, B*T)
			model.NewSyntheticStream(c.cfg.VocabSize, 3).Fill(ids, labels, T)
			labels[5] = model.IgnoreIndex
			a, b := make([]float32, B*T), make([]float32, B*T)
			tr.LogProbs(a, ids, labels)
			sc.LogProbs(b, ids, labels)
			sameBits(t, "log-probabilities", b, a)
			if b[5] != 0 {
				t.Errorf("log-probability at an ignored target %v, want 0", b[5])
			}
			la, lb := make([]float32, B*T*c.cfg.VocabSize), make([]float32, B*T*c.cfg.VocabSize)
			tr.Logits(la, ids)
			sc.Logits(lb, ids)
			sameBits(t, "logits", lb, la)
		})
	}
}

// TestScoringWeights: a bf16 forward-only engine holds the matrices in bf16
// only, so ReadParams gives them rounded to bf16 (and the embedding and
// norms as written); an fp32 one gives everything as written. Written in odd
// pieces (across tensors, the bf16 matrices streamed through the scratch in
// chunks) it holds and scores exactly what one whole write gives.
func TestScoringWeights(t *testing.T) {
	for _, fp32 := range []bool{false, true} {
		cfg := smallConfig(48, 6, 2, 8)
		const B, T = 2, 16
		e1, err := NewScoringEmulated(cfg, B, T, Options{FP32: fp32})
		if err != nil {
			t.Fatal(err)
		}
		defer e1.Close()
		e2, err := NewScoringEmulated(cfg, B, T, Options{FP32: fp32})
		if err != nil {
			t.Fatal(err)
		}
		defer e2.Close()
		lay := model.NewLayout(cfg)
		N := int(lay.Size())
		params := testParams(cfg, 9)
		want := append([]float32(nil), params...)
		if !fp32 {
			for _, x := range lay.Tensors {
				if x.Kind == model.KindLinear {
					for i := x.Offset; i < x.Offset+x.Numel(); i++ {
						want[i] = roundBF16(want[i])
					}
				}
			}
		}
		if chunk := (e2.plan.Arena - e2.plan.Scratch) / 4; chunk >= int64(N) {
			t.Fatalf("the scratch (%d values) holds the model: the chunked write is not exercised", chunk)
		}
		e1.WriteParams(params)
		for off, k := 0, 1; off < N; off, k = off+k, k*3+2 {
			k = min(k, N-off)
			e2.WriteParamsAt(params[off:off+k], off)
		}
		got := make([]float32, N)
		for i, e := range []*Engine{e1, e2} {
			clear(got)
			e.ReadParams(got)
			sameBits(t, []string{"whole", "pieces"}[i]+" write, ReadParams", got, want)
		}
		for _, rg := range [][2]int{{0, 1}, {3, 5}, {lay.Tensors[1].Offset - 3, 7}, {N/2 + 1, N - N/2 - 1}, {1, N - 2}} {
			part := make([]float32, rg[1])
			e2.ReadParamsAt(part, rg[0])
			sameBits(t, "ReadParamsAt", part, want[rg[0]:rg[0]+rg[1]])
		}
		ids, labels := make([]int32, B*T), make([]int32, B*T)
		model.NewSyntheticStream(cfg.VocabSize, 4).Fill(ids, labels, T)
		a, b := make([]float32, B*T), make([]float32, B*T)
		e1.LogProbs(a, ids, labels)
		e2.LogProbs(b, ids, labels)
		sameBits(t, "log-probabilities after a write in pieces", b, a)
		// writing back what it reads changes nothing
		e2.ReadParams(got)
		e2.WriteParams(got)
		e2.LogProbs(b, ids, labels)
		sameBits(t, "log-probabilities after writing back ReadParams", b, a)
	}
}

// TestScorerFollowsStep: a Scorer shares its engine's device weights, so
// after each Step it scores what the engine scores, bit for bit, at the
// engine's shape; its activations borrow the engine's scratch.
func TestScorerFollowsStep(t *testing.T) {
	for _, opts := range []Options{{}, {FP32: true}} {
		cfg := mmaConfig()
		const B, T = 2, 40
		tr, err := NewEmulated(cfg, B, T, opts)
		if err != nil {
			t.Fatal(err)
		}
		tr.WriteParams(testParams(cfg, 5))
		sc, err := tr.Scorer(B, T)
		if err != nil {
			t.Fatal(err)
		}
		if !sc.Borrows() {
			t.Error("a Scorer of the engine's own shape allocated its own activations")
		}
		ids, labels := make([]int32, B*T), make([]int32, B*T)
		model.NewSyntheticStream(cfg.VocabSize, 6).Fill(ids, labels, T)
		a, b, before := make([]float32, B*T), make([]float32, B*T), make([]float32, B*T)
		sc.LogProbs(before, ids, labels)
		for step := range 2 {
			tr.ZeroGrads()
			tr.ForwardBackward(ids, labels, 1/float64(B*T), 1e-4)
			tr.Step(model.OLMo2AdamW(), 1e-2, 1)
			tr.LogProbs(a, ids, labels)
			sc.LogProbs(b, ids, labels)
			sameBits(t, "Scorer after a Step", b, a)
			if step == 0 && relDiff(b, before) == 0 {
				t.Error("the Scorer scores the same before and after a Step")
			}
		}
		tr.Close()
		if !sc.closed {
			t.Error("closing the engine left its Scorer open")
		}
	}
}

// TestScorerShortRows: causal attention makes a sequence's log-probabilities
// independent of what follows it, so a Scorer of short rows (16 tokens, four
// times as many) gives the per-token log-probabilities the engine gives the
// same sequences at the start of its long rows; here bit for bit (the
// emulator's products and the attention tiles over the keys each position
// sees are the same at either length), on a GPU within bf16 rounding, as
// cuBLAS may tile products of another row count differently. On a training
// engine and on a forward-only one, whose Scorer borrows its scratch too.
func TestScorerShortRows(t *testing.T) {
	for _, c := range []struct {
		name    string
		scoring bool
		opts    Options
	}{{"train-fp32", false, Options{FP32: true}}, {"train-bf16", false, Options{}}, {"scoring-bf16", true, Options{}},
		{"scoring-bf16-v2", true, Options{Attention: DefaultV2}}} {
		t.Run(c.name, func(t *testing.T) {
			cfg := mmaConfig()
			const B, T, Ts = 2, 64, 16
			const Bs = B * T / Ts
			var e *Engine
			var err error
			if c.scoring {
				e, err = NewScoringEmulated(cfg, B, T, c.opts)
			} else {
				e, err = NewEmulated(cfg, B, T, c.opts)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			e.WriteParams(testParams(cfg, 11))
			sc, err := e.Scorer(Bs, Ts)
			if err != nil {
				t.Fatal(err)
			}
			if !sc.Borrows() {
				t.Error("the short Scorer allocated its own activations")
			}
			t.Logf("engine %s; scorer %s", e.Plan(), sc.Plan())
			ids, labels := make([]int32, Bs*Ts), make([]int32, Bs*Ts)
			model.NewSyntheticStream(cfg.VocabSize, 8).Fill(ids, labels, Ts)
			labels[Ts+3] = model.IgnoreIndex
			short := make([]float32, Bs*Ts)
			sc.LogProbs(short, ids, labels)
			// the same sequences, B per call, each at the start of a long row
			// whose rest is other tokens with ignored labels
			long := make([]float32, Bs*Ts)
			lids, llabels, lout := make([]int32, B*T), make([]int32, B*T), make([]float32, B*T)
			fill := model.NewSyntheticStream(cfg.VocabSize, 9)
			for s0 := 0; s0 < Bs; s0 += B {
				fill.Fill(lids, llabels, T)
				for i := range llabels {
					llabels[i] = model.IgnoreIndex
				}
				for r := range B {
					copy(lids[r*T:], ids[(s0+r)*Ts:(s0+r+1)*Ts])
					copy(llabels[r*T:], labels[(s0+r)*Ts:(s0+r+1)*Ts])
				}
				e.LogProbs(lout, lids, llabels)
				for r := range B {
					copy(long[(s0+r)*Ts:], lout[r*T:r*T+Ts])
				}
			}
			sameBits(t, "short rows against long rows", short, long)
			if short[Ts+3] != 0 {
				t.Errorf("ignored target scored %v", short[Ts+3])
			}
		})
	}
}

// TestScoringMemory: the emulator's device accounting (its free memory
// falls by what is allocated): a forward-only engine takes its arena, a
// Scorer of shorter rows nothing, one of longer rows its own arena, which
// its Close returns; closing the engine returns everything (the device
// then has no allocation left, or Close panics). A Scorer that fits neither
// the scratch nor the free memory is refused with the sizes, and nothing
// is allocated.
func TestScoringMemory(t *testing.T) {
	cfg := mmaConfig()
	const B, T = 2, 32
	const budget = 2 << 30 // the engine leaves 1 GiB (safety) of it free
	dev := newEmuDevice(budget)
	free := func() int64 { f, _, _ := dev.memInfo(); return f }
	e, err := newScoringEngine(dev, cfg, B, T, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := budget - free(); got != e.Plan().Arena {
		t.Errorf("the engine took %d bytes, its plan says %d", got, e.Plan().Arena)
	}
	f0 := free()
	short, err := e.Scorer(4, 16)
	if err != nil || free() != f0 {
		t.Fatalf("a short Scorer: err %v, took %d bytes", err, f0-free())
	}
	long, err := e.Scorer(1, 2*T)
	if err != nil {
		t.Fatal(err)
	}
	if got := f0 - free(); long.Borrows() || got != long.Plan().Arena {
		t.Errorf("a longer Scorer borrows=%v, took %d bytes, its plan %d", long.Borrows(), got, long.Plan().Arena)
	}
	long.Close()
	if free() != f0 {
		t.Errorf("closing the longer Scorer left %d bytes taken", f0-free())
	}
	// 2 GiB of token ids alone
	if _, err := e.Scorer(1<<20, 4*T); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("a Scorer larger than the device: err %v, want a refusal with the sizes", err)
	}
	if free() != f0 {
		t.Errorf("a refused Scorer left %d bytes taken", f0-free())
	}
	_ = short
	e.Close() // closes short; panics if the device has an allocation left
	if len(dev.allocs) != 0 || free() != budget {
		t.Errorf("after Close: %d allocations, %d bytes taken", len(dev.allocs), budget-free())
	}
}
