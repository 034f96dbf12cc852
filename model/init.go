package model

import "math/rand/v2"

// Init fills params with OLMo 2's initialisation (olmo2.md §6): every linear
// weight and the embedding from a normal(0, std) truncated at ±3·std, norm weights
// 1, no depth scaling. std is Config.InitializerRange (0.02). The draw is
// deterministic in seed and independent of the number of workers.
func Init[F Float](l *Layout, params []F, seed uint64) {
	std := l.Config.InitializerRange
	if std == 0 {
		std = 0.02
	}
	for ti, t := range l.Tensors {
		dst := params[t.Offset : t.Offset+t.Numel()]
		if t.Kind == KindNorm {
			for i := range dst {
				dst[i] = 1
			}
			continue
		}
		// one stream per tensor, so adding a layer does not reshuffle the others
		r := rand.New(rand.NewPCG(seed, uint64(ti)+1))
		for i := range dst {
			dst[i] = F(truncNormal(r) * std)
		}
	}
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
