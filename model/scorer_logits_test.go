package model

import (
	"math/rand/v2"
	"testing"
)

// TestScorersBorrowTheirEnginesLogits: an evaluation's Scorers, one per row shape, compute their logits in their
// engine's buffer, grown to the rows with targets, and hold none of their own, where each allocated and zeroed a
// chunk (256 MiB at dolma2's vocabulary, for each of an OLMES evaluation's 13 shapes on olmo2_14M). Their
// log-probs are a plain engine's of each shape, bit for bit.
func TestScorersBorrowTheirEnginesLogits(t *testing.T) {
	cfg := tinyConfig(false, 2)
	cfg.VocabSize = 4096
	defer func(old int) { logitsFloats = old }(logitsFloats)
	logitsFloats = 64 * cfg.VocabSize // a chunk of 64 rows, 1 MiB
	lay := NewLayout(cfg)
	params := make([]float32, lay.Size())
	Init(lay, params, 3)
	base := newCPU[float32](cfg, 1, 64, 2, params) // as NewScoringBackend builds it
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := [][2]int{{2, 64}, {4, 32}, {8, 16}}
	type batch struct{ ids, labels []int32 }
	batches := make([]batch, len(shapes))
	for i, s := range shapes {
		ids, all := randomBatch(rng, s[0], s[1], cfg.VocabSize)
		labels := make([]int32, len(all))
		for j := range labels {
			labels[j] = IgnoreIndex
			if j%s[1] >= s[1]-3 { // a continuation of 3 tokens at the end of each row
				labels[j] = all[j]
			}
		}
		batches[i] = batch{ids, labels}
	}
	got := make([][]float32, len(shapes))
	for i, s := range shapes {
		sc := base.Scorer(s[0], s[1])
		got[i] = make([]float32, s[0]*s[1])
		sc.LogProbs(got[i], batches[i].ids, batches[i].labels)
		if sc.logits != nil {
			t.Errorf("Scorer %v holds %d rows of logits of its own after LogProbs", s, len(sc.logits)/cfg.VocabSize)
		}
		want := 0 // the rows with targets: the buffer grows to them, doubling, and holds no more than a chunk
		for _, l := range batches[i].labels {
			if l != IgnoreIndex {
				want++
			}
		}
		if n := len(base.logits) / cfg.VocabSize; n < want || n > 2*want {
			t.Errorf("after Scorer %v the engine's logits hold %d rows, want the %d with targets, or up to twice as many", s, n, want)
		}
		sc.Close()
	}
	for i, s := range shapes {
		plain := newCPU[float32](cfg, s[0], s[1], 2, params)
		want := make([]float32, s[0]*s[1])
		plain.LogProbs(want, batches[i].ids, batches[i].labels)
		for j := range want {
			if got[i][j] != want[j] {
				t.Fatalf("shape %v position %d: Scorer %v, engine %v", s, j, got[i][j], want[j])
			}
		}
	}
}
