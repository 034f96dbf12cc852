package model

import "math"

// AdamW holds the optimizer's hyperparameters (olmo2.md §6). OLMo 2: β = (0.9, 0.95),
// eps 1e-8, weight decay 0.1 decoupled, on every parameter but the embedding.
type AdamW struct {
	Beta1, Beta2    float64
	Eps             float64
	WeightDecay     float64
	DecayEmbeddings bool // OLMo 2: false
	DecayNorms      bool // OLMo 2: true (decay_norm_and_bias)
}

// OLMo2AdamW returns OLMo 2's optimizer settings.
func OLMo2AdamW() AdamW {
	return AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, DecayNorms: true}
}

// Decays reports whether AdamW decays tensor t under o's rule, by its Kind: the embedding only with
// DecayEmbeddings, norm weights only with DecayNorms, every other tensor (the linear weights, the untied LM head)
// always. The CPU and GPU engines both decide by it.
func (o AdamW) Decays(t Tensor) bool {
	switch t.Kind {
	case KindEmbedding:
		return o.DecayEmbeddings
	case KindNorm:
		return o.DecayNorms
	}
	return true
}

// ClipCoef is min(1, maxNorm/(norm+1e-6)) as torch's clip_grad_norm_ computes it;
// maxNorm ≤ 0 disables clipping.
func ClipCoef(norm, maxNorm float64) float64 {
	if maxNorm <= 0 {
		return 1
	}
	return math.Min(1, maxNorm/(norm+1e-6))
}

// OptState is AdamW's state in the parameters' layout.
type OptState[F Float] struct {
	M, V []F // first and second moments
	Step int // completed steps (t in the bias corrections)
}

// NewOptState returns zeroed moments for n parameters.
func NewOptState[F Float](n int) *OptState[F] {
	return &OptState[F]{M: make([]F, n), V: make([]F, n)}
}

// Step applies one AdamW step with learning rate lr to Params using Grads·gradScale
// (gradScale carries the clipping coefficient), torch's update order:
// p ← p·(1−lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
// p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps).
func (e *CPU[F]) Step(o AdamW, st *OptState[F], lr, gradScale float64) {
	e.mustTrain("Step")
	if len(st.M) != len(e.Params) || len(st.V) != len(e.Params) {
		panic("model: optimizer state does not match the parameters")
	}
	st.Step++
	j := &e.jobs.adamw
	j.o, j.st, j.lr, j.gs = o, st, lr, F(gradScale)
	t := float64(st.Step)
	j.bc1 = 1 - math.Pow(o.Beta1, t)
	j.bc2sqrt = math.Sqrt(1 - math.Pow(o.Beta2, t))
	if j.segs == nil {
		for _, ts := range e.Layout.Tensors {
			j.segs = append(j.segs, adamSeg{ts.Offset, ts.Offset + ts.Numel(), o.Decays(ts)})
		}
	} else {
		for i, ts := range e.Layout.Tensors {
			j.segs[i].decay = o.Decays(ts)
		}
	}
	j.p, j.g = e.Params, e.Grads
	e.pool.run(len(e.Params), 4096, j)
}

type adamSeg struct {
	lo, hi int
	decay  bool
}

type adamwJob[F Float] struct {
	o            AdamW
	st           *OptState[F]
	lr           float64
	gs           F
	bc1, bc2sqrt float64
	segs         []adamSeg
	p, g         []F
}

func (j *adamwJob[F]) do(lo, hi int) {
	b1, b2 := F(j.o.Beta1), F(j.o.Beta2)
	stepSize := F(j.lr / j.bc1)
	bc2 := F(j.bc2sqrt)
	eps := F(j.o.Eps)
	m, v := j.st.M, j.st.V
	for _, s := range j.segs {
		a, b := max(lo, s.lo), min(hi, s.hi)
		if a >= b {
			continue
		}
		decay := F(1)
		if s.decay {
			decay = F(1 - j.lr*j.o.WeightDecay)
		}
		if isF32[F]() { // the same update, vectorised (simd.go)
			ap := adamwParams{gs: float32(j.gs), b1: float32(b1), c1: float32(1 - b1), b2: float32(b2), c2: float32(1 - b2),
				decay: float32(decay), step: float32(stepSize), bc2: float32(bc2), eps: float32(eps)}
			adamw32(asF32(j.p[a:b]), asF32(j.g[a:b]), asF32(m[a:b]), asF32(v[a:b]), &ap)
			continue
		}
		for i := a; i < b; i++ {
			g := j.g[i] * j.gs
			p := j.p[i] * decay
			mi := b1*m[i] + (1-b1)*g
			vi := b2*v[i] + (1-b2)*g*g
			m[i], v[i] = mi, vi
			j.p[i] = p - stepSize*mi/(F(math.Sqrt(float64(vi)))/bc2+eps)
		}
	}
}
