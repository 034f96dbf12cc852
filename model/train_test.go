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

// TestCPU64BackendTracksFloat32: the float64 backend trains the same model
// from the same weights to the same losses up to float32 rounding (which must
// show: it is the reference, not a copy of the float32 path), and its float32
// host interface round-trips weights and moments.
func TestCPU64BackendTracksFloat32(t *testing.T) {
	const B, T = 2, 16
	cfg := smallTrainConfig()
	f32, err := NewBackend("cpu", cfg, B, T)
	if err != nil {
		t.Fatal(err)
	}
	f64, err := NewBackend("cpu-f64", cfg, B, T)
	if err != nil {
		t.Fatal(err)
	}
	params := make([]float32, NewLayout(cfg).Size())
	Init(NewLayout(cfg), params, 3)
	f32.WriteParams(params)
	f64.WriteParams(params)
	t32, t64 := NewTrainerOn(f32, TrainerParams{}), NewTrainerOn(f64, TrainerParams{})
	defer t32.Close()
	defer t64.Close()
	s := NewSyntheticStream(cfg.VocabSize, 1)
	ids, labels := make([]int32, B*T), make([]int32, B*T)
	var worst float64
	for step := 0; step < 20; step++ {
		s.Fill(ids, labels, T)
		a, b := t32.Step(ids, labels, 3e-3), t64.Step(ids, labels, 3e-3)
		worst = math.Max(worst, math.Abs(a.Loss-b.Loss)/b.Loss)
	}
	t.Logf("float32 vs float64: worst relative loss difference %.3g over 20 steps", worst)
	if !(worst < 1e-4) || worst == 0 {
		t.Errorf("float32 vs float64 loss: worst relative difference %.3g over 20 steps, want in (0, 1e-4)", worst)
	}

	m, v := make([]float32, len(params)), make([]float32, len(params))
	step := f64.ReadOptState(m, v)
	got := make([]float32, len(params))
	f64.ReadParams(got)
	f64.WriteParams(got)
	f64.WriteOptState(m, v, step)
	again, m2, v2 := make([]float32, len(params)), make([]float32, len(params)), make([]float32, len(params))
	f64.ReadParams(again)
	if f64.ReadOptState(m2, v2) != 20 || step != 20 {
		t.Errorf("optimizer step %d, want 20", step)
	}
	for i := range again {
		if again[i] != got[i] || m2[i] != m[i] || v2[i] != v[i] {
			t.Fatalf("float32 round trip changed element %d", i)
		}
	}
}
