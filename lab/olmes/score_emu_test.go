//go:build emu

package olmes

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/olmolab/olmolab/gpu"
	"github.com/olmolab/olmolab/model"
)

// plainOnly hides a backend's LogProbsPacked (and its Scorers): Evaluate then scores every request in a row of
// its own, the way it scored on the GPU before the GPU engines packed.
type plainOnly struct{ model.Backend }

// TestEvaluatePackedOnEmulatedGPU: on the GPU engine (the kernel emulator), Evaluate packs a question's choices
// into one row (the GPU engines are model.PackedScorer now): fewer forwards than one request a row, the same
// accuracies, and every metric within the engine's float rounding of the plain rows', on the engine's rows and
// on Scorers fitted to the requests (Reshape). fp32 runs the plain attention kernels, bf16 mma's at head size 64.
func TestEvaluatePackedOnEmulatedGPU(t *testing.T) {
	tok := bytesTok(t)
	rng := rand.New(rand.NewPCG(21, 22))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		return string(b)
	}
	task := &Task{Name: "packed", Primary: MetricAccRaw}
	for i := range 6 {
		in := Instance{DocID: i, Gold: i % 4}
		q := "Question: " + word(10+3*i) + "?\nAnswer:"
		for j := range 4 {
			in.Choices = append(in.Choices, Pair{q, " " + word(2+(i+j)%4)})
		}
		task.Instances = append(task.Instances, in)
	}
	for _, fp32 := range []bool{true, false} {
		t.Run(fmt.Sprintf("fp32=%v", fp32), func(t *testing.T) {
			cfg := model.Config{VocabSize: tok.VocabSize(), HiddenSize: 128, IntermediateSize: 128, NumHiddenLayers: 2,
				NumAttentionHeads: 2, NumKeyValueHeads: 1, MaxPositionEmbeddings: 512, RopeTheta: 500000,
				RMSNormEps: 1e-6, InitializerRange: 0.02}
			const B, T = 4, 64
			be, err := gpu.NewScoringEmulated(cfg, B, T, gpu.Options{FP32: fp32})
			if err != nil {
				t.Fatal(err)
			}
			defer be.Close()
			lay := model.NewLayout(cfg)
			params := make([]float32, lay.Size())
			model.Init(lay, params, 3)
			for i := range params {
				params[i] *= 8 // far from uniform, so that choices differ
			}
			be.WriteParams(params)
			plain, err := Evaluate(context.Background(), plainOnly{be}, tok, []*Task{task}, EvalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, reshape := range []bool{false, true} {
				got, err := Evaluate(context.Background(), be, tok, []*Task{task}, EvalOptions{Reshape: reshape})
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("reshape %v: packed %d forwards on %v, plain %d on %v", reshape, got.Forwards, got.Batches, plain.Forwards, plain.Batches)
				// 24 requests, 6 forwards of 4 rows plain; packed, a question's choices share a row (two
				// rows where they do not fit 64 tokens together)
				if got.Forwards >= plain.Forwards {
					t.Errorf("reshape %v: %d forwards packed, %d plain: the choices were not packed", reshape, got.Forwards, plain.Forwards)
				}
				tol := 1e-5
				if !fp32 {
					tol = 2e-2
				}
				for m, v := range plain.Scores[0].Metrics {
					w := got.Scores[0].Metrics[m]
					exact := m == MetricAccRaw || m == MetricAccPerChar || m == MetricAccPerToken
					if d := math.Abs(w - v); exact && d != 0 || d > tol*math.Max(1, math.Abs(v)) {
						t.Errorf("reshape %v: %s packed %v, plain %v", reshape, m, w, v)
					}
				}
			}
			t.Logf("plain: %v", plain.Scores[0].Metrics)
		})
	}
}
