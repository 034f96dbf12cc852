package model

import (
	"fmt"
	"math"
	"testing"
)

func smallTrainConfig() Config {
	eos, pad := 62, 63
	return Config{VocabSize: 64, HiddenSize: 32, IntermediateSize: 96, NumHiddenLayers: 2,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, MaxPositionEmbeddings: 64, RopeTheta: 500000,
		RMSNormEps: 1e-6, InitializerRange: 0.02, EOSTokenID: &eos, PadTokenID: &pad}
}

// TestTrainingLearns trains a tiny model for 300 steps on the synthetic Markov
// stream: the loss starts at ln 64 ≈ 4.16 and the stream's entropy is at most
// ln 4 ≈ 1.39, so a working step must bring it well under 2.
func TestTrainingLearns(t *testing.T) {
	const B, T, steps = 4, 32, 300
	cfg := smallTrainConfig()
	tr := NewTrainer(TrainerParams{Config: cfg, Batch: B, Seq: T, Seed: 3})
	defer tr.Close()
	s := NewSyntheticStream(cfg.VocabSize, 3)
	ids, labels := make([]int32, B*T), make([]int32, B*T)
	var first, last float64
	for i := 1; i <= steps; i++ {
		s.Fill(ids, labels, T)
		lr := 1e-2 * math.Min(1, float64(i)/30)
		r := tr.Step(ids, labels, lr)
		if r.Skipped {
			t.Fatalf("step %d skipped: loss %v grad norm %v", i, r.Loss, r.GradNorm)
		}
		if i == 1 {
			first = r.Loss
		}
		if i > steps-20 {
			last += r.Loss / 20
		}
	}
	if math.Abs(first-math.Log(64)) > 0.1 {
		t.Errorf("first loss %.3f, want ≈ ln 64 = %.3f", first, math.Log(64))
	}
	if last > 2.0 {
		t.Errorf("mean loss over the last 20 steps %.3f, want < 2.0 (started at %.3f)", last, first)
	}
	t.Logf("loss %.3f → %.3f", first, last)
}

// TestStepAllocatesNothing: after the first step, a training step (forward,
// backward, grad norm, clipping, AdamW) makes no heap allocation.
func TestStepAllocatesNothing(t *testing.T) {
	const B, T = 2, 16
	tr := NewTrainer(TrainerParams{Config: smallTrainConfig(), Batch: B, Seq: T, Seed: 1})
	defer tr.Close()
	s := NewSyntheticStream(64, 1)
	ids, labels := make([]int32, B*T), make([]int32, B*T)
	s.Fill(ids, labels, T)
	tr.Step(ids, labels, 1e-3)
	if n := testing.AllocsPerRun(10, func() { tr.Step(ids, labels, 1e-3) }); n != 0 {
		t.Errorf("a training step allocates %.1f times", n)
	}
}

// TestNonFiniteStepIsSkipped: a NaN in the weights gives a skipped step and leaves
// the parameters and moments untouched.
func TestNonFiniteStepIsSkipped(t *testing.T) {
	const B, T = 2, 8
	tr := NewTrainer(TrainerParams{Config: smallTrainConfig(), Batch: B, Seq: T, Seed: 1})
	defer tr.Close()
	s := NewSyntheticStream(64, 1)
	ids, labels := make([]int32, B*T), make([]int32, B*T)
	s.Fill(ids, labels, T)
	e := tr.B.(*CPUBackend)
	e.E.Params[e.E.Layout.Layers[0].Q] = float32(math.NaN())
	before := append([]float32(nil), e.E.Params...)
	r := tr.Step(ids, labels, 1e-3)
	if !r.Skipped {
		t.Fatalf("step with NaN weights not skipped: %+v", r)
	}
	for i, v := range e.E.Params {
		if v != before[i] && !(v != v && before[i] != before[i]) {
			t.Fatalf("param %d changed on a skipped step", i)
		}
	}
	if e.Opt.Step != 0 {
		t.Errorf("optimizer step count %d after a skipped step", e.Opt.Step)
	}
}

// BenchmarkTrainStep measures one optimizer step (B=8 sequences) of small presets.
func BenchmarkTrainStep(b *testing.B) {
	for _, bc := range []struct {
		preset string
		T      int
	}{{"cpu_xs", 64}, {"cpu_s", 128}} {
		b.Run(fmt.Sprintf("%s/T=%d", bc.preset, bc.T), func(b *testing.B) {
			cfg, err := PresetByName(bc.preset)
			if err != nil {
				b.Fatal(err)
			}
			const B = 8
			tr := NewTrainer(TrainerParams{Config: cfg, Batch: B, Seq: bc.T, Seed: 1})
			defer tr.Close()
			s := NewSyntheticStream(cfg.VocabSize, 1)
			ids, labels := make([]int32, B*bc.T), make([]int32, B*bc.T)
			s.Fill(ids, labels, bc.T)
			tr.Step(ids, labels, 1e-3)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tr.Step(ids, labels, 1e-3)
			}
			b.ReportMetric(float64(B*bc.T*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
