package model

import "testing"

// TestAdamWDecaysByKind: one rule decides AdamW's weight decay per tensor, by its Kind (olmo2.md §6: OLMo 2
// decays everything but the embedding), and both engines read it (the GPU's step is TestWeightDecayByTensor,
// gpu/, emu). Layout's Tensor once carried a Decay flag of its own, true for the norms whatever DecayNorms said,
// which nothing read. With zero gradients the Adam update is 0, so one step at lr 0.5 and weight decay 0.1
// multiplies a decayed weight 2 by 1 − 0.5·0.1 = 0.95, to 1.9, and leaves the others at 2.
func TestAdamWDecaysByKind(t *testing.T) {
	for _, c := range []struct {
		name                    string
		o                       AdamW
		embedding, norm, linear bool
	}{
		{"OLMo 2", OLMo2AdamW(), false, true, true},
		{"norms not decayed", AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}, false, false, true},
		{"embedding decayed", AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, DecayEmbeddings: true, DecayNorms: true}, true, true, true},
	} {
		for _, tied := range []bool{false, true} {
			cfg := tinyConfig(tied, 2)
			e := NewCPU[float32](cfg, 1, 4, 1)
			for i := range e.Params {
				e.Params[i] = 2
			}
			e.ZeroGrads()
			e.Step(c.o, NewOptState[float32](len(e.Params)), 0.5, 1)
			for _, ts := range e.Layout.Tensors {
				want := map[Kind]bool{KindEmbedding: c.embedding, KindNorm: c.norm, KindLinear: c.linear}[ts.Kind]
				if got := c.o.Decays(ts); got != want {
					t.Errorf("%s, tied %v: Decays(%s) = %v, want %v", c.name, tied, ts.Name, got, want)
				}
				w := float32(2)
				if want {
					w = 1.9
				}
				for i, x := range e.Params[ts.Offset : ts.Offset+ts.Numel()] {
					if d := x - w; d > 1e-6 || d < -1e-6 {
						t.Errorf("%s, tied %v: %s[%d] = %v after a step, want %v", c.name, tied, ts.Name, i, x, w)
						break
					}
				}
			}
		}
	}
}
