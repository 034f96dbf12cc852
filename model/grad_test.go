package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

func tinyConfig(tied bool, kv int) Config {
	eos, pad := 30, 31
	return Config{VocabSize: 32, HiddenSize: 16, IntermediateSize: 24, NumHiddenLayers: 2,
		NumAttentionHeads: 4, NumKeyValueHeads: kv, MaxPositionEmbeddings: 64, RopeTheta: 500000,
		RMSNormEps: 1e-6, InitializerRange: 0.02, TieWordEmbeddings: tied, EOSTokenID: &eos, PadTokenID: &pad}
}

// randomBatch returns ids and pre-shifted labels with a few ignored positions.
func randomBatch(r *rand.Rand, B, T, V int) (ids, labels []int32) {
	ids = make([]int32, B*T)
	for i := range ids {
		ids[i] = int32(r.IntN(V - 2))
	}
	labels = make([]int32, B*T)
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			if t == T-1 || r.IntN(5) == 0 {
				labels[b*T+t] = IgnoreIndex
			} else {
				labels[b*T+t] = ids[b*T+t+1]
			}
		}
	}
	return ids, labels
}

// TestFiniteDifferences checks the analytic gradient of every parameter kind
// against central differences of the float64 loss.
func TestFiniteDifferences(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"mha-untied", tinyConfig(false, 4)},
		{"gqa-tied", tinyConfig(true, 2)},
		{"mqa-untied", tinyConfig(false, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const B, T = 2, 6
			e := NewCPU[float64](tc.cfg, B, T, 2)
			defer e.Close()
			Init(e.Layout, e.Params, 7)
			r := rand.New(rand.NewPCG(1, 2))
			// scale up weights so gradients are far from zero and norms are not 1
			for i := range e.Params {
				e.Params[i] *= 10
				if e.Params[i] == 10 {
					e.Params[i] = 1 + 0.2*r.NormFloat64()
				}
			}
			ids, labels := randomBatch(r, B, T, tc.cfg.VocabSize)
			n := CountLabelled(labels)
			const z = 1e-2 // larger than OLMo's 1e-5 so the z-loss gradient is visible
			lossAt := func() float64 {
				e.ZeroGrads()
				l := e.ForwardBackward(ids, labels, 1/float64(n), z)
				return (l.CESum + l.ZSum) / float64(n)
			}
			lossAt()
			grad := append([]float64(nil), e.Grads...)
			for _, ts := range e.Layout.Tensors {
				for k := 0; k < 3; k++ {
					i := ts.Offset + r.IntN(ts.Numel())
					if ts.Kind == KindEmbedding && k == 0 {
						i = ts.Offset + int(ids[0])*tc.cfg.HiddenSize + r.IntN(tc.cfg.HiddenSize) // a used row
					}
					const h = 1e-5
					p := e.Params[i]
					e.Params[i] = p + h
					up := lossAt()
					e.Params[i] = p - h
					down := lossAt()
					e.Params[i] = p
					fd := (up - down) / (2 * h)
					if diff := math.Abs(fd - grad[i]); diff > 1e-6*math.Max(1, math.Abs(fd)) {
						t.Errorf("%s[%d]: analytic %.10g, finite difference %.10g (diff %.3g)", ts.Name, i-ts.Offset, grad[i], fd, diff)
					}
				}
			}
		})
	}
}
