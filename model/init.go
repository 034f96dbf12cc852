package model

import "math/rand/v2"

// Init fills params with OLMo 2's initialisation (olmo2.md §6): every linear
// weight and the embedding from a normal(0, std) truncated at ±3·std, norm weights
// 1, no depth scaling. std is Config.InitializerRange (0.02). The draw is
// deterministic in seed and independent of the number of workers.
func Init[F Float](l *Layout, params []F, seed uint64) {
	std := l.Config.InitStd()
	for ti, t := range l.Tensors {
		next := initTensor(t, ti, seed, std)
		dst := params[t.Offset : t.Offset+t.Numel()]
		for i := range dst {
			dst[i] = F(next())
		}
	}
}

// InitStd is the initialisation's standard deviation: InitializerRange, 0.02
// where it is unset.
func (c Config) InitStd() float64 {
	if c.InitializerRange == 0 {
		return 0.02
	}
	return c.InitializerRange
}

// initTensor returns the generator of tensor ti's initial values, in order:
// 1 for a norm weight, else draws from its own stream (one stream per
// tensor, so adding a layer does not reshuffle the others).
func initTensor(t Tensor, ti int, seed uint64, std float64) func() float64 {
	if t.Kind == KindNorm {
		return func() float64 { return 1 }
	}
	r := rand.New(rand.NewPCG(seed, uint64(ti)+1))
	return func() float64 { return truncNormal(r) * std }
}

// truncNormal draws from N(0,1) conditioned on |x| ≤ 3 (rejection: 99.7% accept).
func truncNormal(r *rand.Rand) float64 {
	for {
		x := r.NormFloat64()
		if x >= -3 && x <= 3 {
			return x
		}
	}
}
