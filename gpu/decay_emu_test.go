//go:build emu

package gpu

import (
	"testing"

	"github.com/olmolab/olmolab/model"
)

// TestWeightDecayByTensor: olmo2.md §6, AdamW decays every parameter but the embedding (norm weights and the
// untied LM head included). With zero gradients the moments stay 0 and the Adam update is 0, so one step at
// lr 0.5 and weight decay 0.1 only multiplies the decayed tensors by 1 − 0.5·0.1 = 0.95: every weight 2 becomes
// 1.9, the embedding's stay 2. The engine groups tensors into ranges of its own (adamRanges) by the CPU's rule
// (model.AdamW.Decays), and a parity check at OLMo's small LRs cannot see a mistake there (a 1e-4 relative change).
func TestWeightDecayByTensor(t *testing.T) {
	cfg := mmaConfig()
	g, err := NewEmulated(cfg, 1, 8, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	lay := model.NewLayout(cfg)
	params := make([]float32, lay.Size())
	for i := range params {
		params[i] = 2
	}
	g.WriteParams(params)
	g.ZeroGrads()
	g.Step(model.OLMo2AdamW(), 0.5, 1)
	g.ReadParams(params)
	for _, ts := range lay.Tensors {
		want := float32(1.9)
		if ts.Kind == model.KindEmbedding {
			want = 2
		}
		for i, x := range params[ts.Offset : ts.Offset+ts.Numel()] {
			if d := x - want; d > 1e-6 || d < -1e-6 {
				t.Errorf("%s[%d] = %v, want %v", ts.Name, i, x, want)
				break
			}
		}
	}
}
