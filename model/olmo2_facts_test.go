package model

import (
	"math"
	"testing"
)

// Hand-computed checks of OLMo 2's training facts (olmo2.md §6): one AdamW step on three numbers, the
// cross-entropy and z-loss of a model whose logits are known by construction, and the initialisation's
// truncated normal. The expected values come from the formulas in the doc, not from the engine.

// TestAdamWByHand: two steps of torch's AdamW (β 0.9/0.95, eps 1e-8, wd 0.1, lr 1e-2) on the first three
// elements of every tensor, with a clipping coefficient of 0.5. Step 1 by hand: g = 0.5·[0.1, −0.2, 0.3]; the
// bias-corrected m̂ = g and √v̂ = |g|, so the update is lr·sign(g) (up to eps/|g| ≈ 1e-7 of it); decayed tensors
// first shrink by 1 − lr·wd = 0.999: p = [0.5, −1, 2] → [0.4895, −0.989, 1.988], the embedding (not decayed,
// olmo2.md §6) → [0.49, −0.99, 1.99]. Step 2 uses a few-line float64 AdamW written from the doc's formula. Norm
// weights and the LM head decay (decay_norm_and_bias: true); only the embedding does not.
func TestAdamWByHand(t *testing.T) {
	p0 := []float64{0.5, -1, 2}
	g1 := []float64{0.1, -0.2, 0.3}
	g2 := []float64{-0.4, 0.05, 0.3}
	const lr, gs, wd = 1e-2, 0.5, 0.1
	step1 := map[bool][]float64{ // decayed?
		true:  {0.4895, -0.989, 1.988},
		false: {0.49, -0.99, 1.99},
	}
	// ref is torch.optim.AdamW's update for one element, written from olmo2.md §6.
	ref := func(p, m, v, g float64, step int, decay bool) (float64, float64, float64) {
		if decay {
			p *= 1 - lr*wd
		}
		m = 0.9*m + 0.1*g
		v = 0.95*v + 0.05*g*g
		bc1, bc2 := 1-math.Pow(0.9, float64(step)), 1-math.Pow(0.95, float64(step))
		return p - lr/bc1*m/(math.Sqrt(v)/math.Sqrt(bc2)+1e-8), m, v
	}
	check := func(t *testing.T, params, grads []float64, tol float64, step func()) {
		lay := NewLayout(tinyConfig(false, 4))
		for _, ts := range lay.Tensors {
			copy(params[ts.Offset:], p0)
			copy(grads[ts.Offset:], g1)
		}
		step()
		for _, ts := range lay.Tensors {
			decay := ts.Kind != KindEmbedding
			for i, want := range step1[decay] {
				if got := params[ts.Offset+i]; math.Abs(got-want) > tol {
					t.Errorf("step 1 %s (%s, decayed %v)[%d] = %.9f, want %.9f", ts.Name, ts.Kind, decay, i, got, want)
				}
			}
		}
		for _, ts := range lay.Tensors {
			copy(grads[ts.Offset:], g2)
		}
		step()
		for _, ts := range lay.Tensors {
			decay := ts.Kind != KindEmbedding
			for i := range p0 {
				p, m, v := ref(p0[i], 0, 0, gs*g1[i], 1, decay)
				p, _, _ = ref(p, m, v, gs*g2[i], 2, decay)
				if got := params[ts.Offset+i]; math.Abs(got-p) > tol {
					t.Errorf("step 2 %s[%d] = %.9f, want %.9f", ts.Name, i, got, p)
				}
			}
		}
	}
	opt := AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: wd, DecayNorms: true}
	if opt != OLMo2AdamW() {
		t.Errorf("OLMo2AdamW() = %+v, olmo2.md §6 says %+v", OLMo2AdamW(), opt)
	}
	t.Run("float64", func(t *testing.T) {
		e := NewCPU[float64](tinyConfig(false, 4), 1, 2, 1)
		st := NewOptState[float64](len(e.Params))
		clear(e.Params)
		check(t, e.Params, e.Grads, 2e-8, func() { e.Step(opt, st, lr, gs) })
	})
	t.Run("float32", func(t *testing.T) { // the vectorised path (adamw32)
		e := NewCPU[float32](tinyConfig(false, 4), 1, 2, 1)
		st := NewOptState[float32](len(e.Params))
		p, g := make([]float64, len(e.Params)), make([]float64, len(e.Params))
		check(t, p, g, 5e-7, func() {
			for i := range p {
				e.Params[i], e.Grads[i] = float32(p[i]), float32(g[i])
			}
			e.Step(opt, st, lr, gs)
			for i := range p {
				p[i] = float64(e.Params[i])
			}
		})
	})
}

// TestLossAndZLossByHand builds a model whose logits are known: every layer's weights are 0, so each branch
// adds RMSNorm(0) = 0 and the residual stream is the token's embedding. Token 0 embeds as all +1, token 1 as
// +1,−1,+1,… (both RMS 1), so the final norm gives x/√(1+eps). lm_head row v is (v mod 4)/32 everywhere: the
// logits at token 0 are c·(v mod 4)/2 with c = 1/√(1+1e-6), at token 1 all 0. With targets 3 and 5:
//
//	lse₀ = ln(8·Σ_k e^{c·k/2}), CE₀ = lse₀ − 1.5c;  lse₁ = ln 32, CE₁ = ln 32
//	loss = (CE₀+CE₁)/2,  z-loss = 1e-5·(lse₀² + lse₁²)/2   (olmo2.md §6: mult·logsumexp², mean over labels)
//
// and the LM head's gradient is (1/2)·Σ_pos (p_v·(1 + 2·1e-5·lse) − [v = target])·x_c.
func TestLossAndZLossByHand(t *testing.T) {
	cfg := tinyConfig(false, 4)
	e := NewCPU[float64](cfg, 1, 2, 1)
	C, V := cfg.HiddenSize, cfg.VocabSize
	lay := e.Layout
	clear(e.Params)
	emb := [2][]float64{make([]float64, C), make([]float64, C)}
	for c := range C {
		emb[0][c], emb[1][c] = 1, float64(1-2*(c%2))
		e.Params[lay.Embed+c], e.Params[lay.Embed+C+c] = emb[0][c], emb[1][c]
		e.Params[lay.Norm+c] = 1
	}
	for v := range V {
		for c := range C {
			e.Params[lay.LMHead+v*C+c] = float64(v%4) / 32
		}
	}
	const z = 1e-5
	ids, labels := []int32{0, 1}, []int32{3, 5}
	l := e.ForwardBackward(ids, labels, 0.5, z)

	cn := 1 / math.Sqrt(1+1e-6)
	var s float64
	for k := range 4 {
		s += math.Exp(cn * float64(k) / 2)
	}
	lse := [2]float64{math.Log(8 * s), math.Log(32)}
	ce := [2]float64{lse[0] - 1.5*cn, lse[1]}
	if got, want := l.CESum/2, (ce[0]+ce[1])/2; math.Abs(got-want) > 1e-12 {
		t.Errorf("loss = %.15f, want %.15f", got, want)
	}
	if got, want := l.ZSum/2, z*(lse[0]*lse[0]+lse[1]*lse[1])/2; math.Abs(got-want) > 1e-15 {
		t.Errorf("z-loss = %.6g, want %.6g", got, want)
	}
	if l.Labelled != 2 {
		t.Errorf("labelled = %d, want 2", l.Labelled)
	}
	worst := 0.0
	for v := range V {
		for c := range C {
			var want float64
			for pos := range 2 {
				logit := 0.0
				if pos == 0 {
					logit = cn * float64(v%4) / 2
				}
				p := math.Exp(logit - lse[pos])
				d := p * (1 + 2*z*lse[pos])
				if v == int(labels[pos]) {
					d--
				}
				want += 0.5 * d * emb[pos][c] * cn
			}
			got := e.Grads[lay.LMHead+v*C+c]
			if diff := math.Abs(got - want); diff > worst {
				worst = diff
			}
			if math.Abs(got-want) > 1e-12 && worst == math.Abs(got-want) {
				t.Errorf("d lm_head[%d,%d] = %.12g, want %.12g", v, c, got, want)
			}
		}
	}
}

// TestInitTruncatedNormal: olmo2.md §6, every linear weight and the embedding ~ N(0, 0.02²) cut at ±3σ, norm
// weights 1. A normal truncated at ±3 has variance 1 − 2·3·φ(3)/(2Φ(3) − 1) = 0.97334, so the draws' std is
// 0.02·0.98658 = 0.019732; 4.29% of them lie beyond 2σ (0.04).
func TestInitTruncatedNormal(t *testing.T) {
	cfg := tinyConfig(false, 4)
	cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize = 64, 128, 512
	lay := NewLayout(cfg)
	params := make([]float64, lay.Size())
	Init(lay, params, 3)
	phi3 := math.Exp(-4.5) / math.Sqrt(2*math.Pi)
	mass := math.Erf(3 / math.Sqrt2) // 2Φ(3) − 1
	wantStd := 0.02 * math.Sqrt(1-6*phi3/mass)
	beyond2 := (math.Erf(3/math.Sqrt2) - math.Erf(2/math.Sqrt2)) / mass
	var n, far int
	var sum, sq float64
	for _, ts := range lay.Tensors {
		for _, x := range params[ts.Offset : ts.Offset+ts.Numel()] {
			if ts.Kind == KindNorm {
				if x != 1 {
					t.Fatalf("%s: %v, want 1", ts.Name, x)
				}
				continue
			}
			if math.Abs(x) > 0.06 {
				t.Fatalf("%s: %v beyond ±3σ = ±0.06", ts.Name, x)
			}
			n++
			sum += x
			sq += x * x
			if math.Abs(x) > 0.04 {
				far++
			}
		}
	}
	mean := sum / float64(n)
	std := math.Sqrt(sq/float64(n) - mean*mean)
	// n ≈ 225K draws: the std's sampling error is about 0.15%, the tail share's about 0.04 points
	if math.Abs(std/wantStd-1) > 0.01 || math.Abs(mean) > 2e-4 {
		t.Errorf("%d draws: mean %.6f, std %.6f, want 0 and %.6f", n, mean, std, wantStd)
	}
	if got := float64(far) / float64(n); math.Abs(got-beyond2) > 0.003 {
		t.Errorf("share beyond 2σ = %.4f, want %.4f", got, beyond2)
	}
}
