//go:build emu

package gpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/olmolab/olmolab/model"
)

// TestFusedBackwardMatchesUnfused: the engine with the fused norm backward
// (rms_bwd_dw, rms_dw_reduce8; the default) against the same engine with
// OLMOLAB_GPU_FUSE=0's kernels, on the emulator, over R = 140 rows (three
// blocks of fuseRows), in both precisions, with passes and recomputation.
// Each backward's dx is the unfused kernels' bit for bit, so every gradient
// but the norm weights' is identical; the norm weights' add the same terms
// in other blocks (64 rows instead of 256) and must agree within float32
// rounding. The losses of a two-step run must then agree to the bf16 or
// fp32 parity tolerances.
func TestFusedBackwardMatchesUnfused(t *testing.T) {
	cfg := smallConfig(64, 4, 2, 16)
	const B, T = 2, 70
	lay := model.NewLayout(cfg)
	params := make([]float32, lay.Size())
	model.Init(lay, params, 3)
	norms := map[int]bool{} // layout offsets of the norm weights' elements
	for _, tn := range lay.Tensors {
		if len(tn.Shape) == 1 {
			for i := tn.Offset; i < tn.Offset+tn.Numel(); i++ {
				norms[i] = true
			}
		}
	}
	for i, opts := range []Options{{}, {FP32: true}, {Keep: 1, MicroBatch: 1}} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var grads [2][]float32
			var losses [2][]float64
			for k, noFuse := range []bool{true, false} {
				o := opts
				o.NoFuse = noFuse
				e, err := NewEmulated(cfg, B, T, o)
				if err != nil {
					t.Fatal(err)
				}
				e.WriteParams(params)
				ids, labels := make([]int32, B*T), make([]int32, B*T)
				st := model.NewSyntheticStream(cfg.VocabSize, 7)
				st.Fill(ids, labels, T)
				e.ZeroGrads()
				e.ForwardBackward(ids, labels, 1.0/float64(B*T), 1e-4)
				grads[k] = make([]float32, lay.Size())
				e.ReadGrads(grads[k])
				tr := model.NewTrainerOn(e, model.TrainerParams{})
				for range 2 {
					st.Fill(ids, labels, T)
					losses[k] = append(losses[k], tr.Step(ids, labels, 3e-3).Loss)
				}
				e.Close()
			}
			var worst float64
			for j := range grads[0] {
				a, b := grads[0][j], grads[1][j]
				if !norms[j] {
					if math.Float32bits(a) != math.Float32bits(b) {
						t.Fatalf("gradient %d (not a norm weight): unfused %g, fused %g", j, a, b)
					}
					continue
				}
				d := math.Abs(float64(a-b)) / (1e-3 + math.Abs(float64(a)))
				worst = max(worst, d)
			}
			if worst > 1e-5 {
				t.Errorf("norm weight gradients differ by up to %.2g (relative), more than float32 rounding", worst)
			}
			for s := range losses[0] {
				if d := math.Abs(losses[0][s]-losses[1][s]) / losses[0][s]; d > 1e-5 {
					t.Errorf("step %d: loss unfused %.7f, fused %.7f", s, losses[0][s], losses[1][s])
				}
			}
			t.Logf("norm weight gradients: worst relative difference %.2g; losses unfused %v, fused %v", worst, losses[0], losses[1])
		})
	}
}
