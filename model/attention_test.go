package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// attnRef is plain causal softmax attention and its backward in float64, row
// by row with the full probability row, from head-major q (B,NH,T,HS), k and v
// (B,NKV,T,HS) and dO (BT,QC). It returns o (BT,QC), lse (B,NH,T) and
// dqkv (BT,QC+2KC) with the dq, dk, dv parts filled, dq and dk rotated back
// by the inverse RoPE (cos, sin: the (T,HS/2) tables), as the engine leaves them.
func attnRef(d attnDims, qh, kh, vh, da, cos, sin []float64) (o, lse, dqkv []float64) {
	T, HS := d.T, d.HS
	g := d.NH / d.NKV
	o = make([]float64, d.B*T*d.QC)
	lse = make([]float64, d.B*d.NH*T)
	dqkv = make([]float64, d.B*T*d.ldQKV)
	q := func(b, t, h int) []float64 { i := ((b*d.NH+h)*T + t) * HS; return qh[i : i+HS] }
	k := func(b, t, h int) []float64 { i := ((b*d.NKV+h)*T + t) * HS; return kh[i : i+HS] }
	v := func(b, t, h int) []float64 { i := ((b*d.NKV+h)*T + t) * HS; return vh[i : i+HS] }
	dot := func(x, y []float64) float64 {
		var s float64
		for i := range x {
			s += x[i] * y[i]
		}
		return s
	}
	p := make([]float64, T)
	for b := 0; b < d.B; b++ {
		for h := 0; h < d.NH; h++ {
			kvh := h / g
			for t := 0; t < T; t++ {
				mx := math.Inf(-1)
				for u := 0; u <= t; u++ {
					p[u] = dot(q(b, t, h), k(b, u, kvh)) * d.scale
					mx = math.Max(mx, p[u])
				}
				var sum float64
				for u := 0; u <= t; u++ {
					p[u] = math.Exp(p[u] - mx)
					sum += p[u]
				}
				lse[(b*d.NH+h)*T+t] = mx + math.Log(sum)
				ot := o[(b*T+t)*d.QC+h*HS:][:HS]
				dO := da[(b*T+t)*d.QC+h*HS:][:HS]
				for u := 0; u <= t; u++ {
					p[u] /= sum
					for i := range ot {
						ot[i] += p[u] * v(b, u, kvh)[i]
					}
				}
				D := dot(dO, ot)
				dq := dqkv[(b*T+t)*d.ldQKV+h*HS:][:HS]
				for u := 0; u <= t; u++ {
					ds := p[u] * (dot(dO, v(b, u, kvh)) - D) * d.scale
					dk := dqkv[(b*T+u)*d.ldQKV+d.QC+kvh*HS:][:HS]
					dv := dqkv[(b*T+u)*d.ldQKV+d.QC+d.KC+kvh*HS:][:HS]
					for i := range dq {
						dq[i] += ds * k(b, u, kvh)[i]
						dk[i] += ds * q(b, t, h)[i]
						dv[i] += p[u] * dO[i]
					}
				}
			}
		}
	}
	half := HS / 2
	for r := 0; r < d.B*T; r++ {
		t := r % T
		row := dqkv[r*d.ldQKV : r*d.ldQKV+d.QC+d.KC]
		for h := 0; h+HS <= len(row); h += HS {
			v := row[h : h+HS]
			for i := 0; i < half; i++ {
				a, b := v[i], v[i+half]
				c, s := cos[t*half+i], -sin[t*half+i]
				v[i], v[i+half] = a*c-b*s, b*c+a*s
			}
		}
	}
	return o, lse, dqkv
}

func floats64[F Float](x []F) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// runAttn loads the raw projections qkv, the QK-norm weights and dO into
// layer 0 of e, runs QK-norm + RoPE, the blocked attention forward and
// backward, and returns q, k, v head-major, the output, lse and dqkv.
func runAttn[F Float](e *CPU[F], qkv, wq, wk, da []float64) (qh, kh, vh, o, lse, dqkv []float64) {
	a := &e.acts[0]
	lo := e.Layout.Layers[0]
	for i, x := range qkv {
		a.qkv[i] = F(x)
	}
	for i, x := range wq {
		e.Params[lo.QNorm+i] = F(x)
	}
	for i, x := range wk {
		e.Params[lo.KNorm+i] = F(x)
	}
	for i, x := range da {
		e.da[i] = F(x)
	}
	qj := &e.jobs.qkNorm
	qj.a, qj.wq, qj.wk = a, e.Params[lo.QNorm:lo.QNorm+len(wq)], e.Params[lo.KNorm:lo.KNorm+len(wk)]
	e.pool.run(e.B*e.T, 8, qj)
	e.attention(a)
	e.attentionBack(a)
	d := e.attnDims()
	for r := 0; r < e.B*e.T; r++ {
		half, t := d.HS/2, r%d.T
		attnGatherRow(&d, e.dqkv, e.dqh, e.dkh, e.dvh, e.cos[t*half:t*half+half], e.sin[t*half:t*half+half], r)
	}
	return floats64(a.qh), floats64(a.kh), floats64(a.vh), floats64(a.a), floats64(a.lse), floats64(e.dqkv)
}

func maxRelDiff(got, want []float64) (float64, int) {
	var scale float64
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	worst, at := 0.0, -1
	for i := range want {
		if d := math.Abs(got[i]-want[i]) / (scale + 1e-30); d > worst {
			worst, at = d, i
		}
	}
	return worst, at
}

// TestAttentionBlocked compares the blocked attention (several key blocks,
// partial last blocks, GQA, 1 and 3 workers, every SIMD level) with attnRef.
// Errors are relative to the largest magnitude of each output.
func TestAttentionBlocked(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ B, T, NH, NKV, HS int }{
		{2, 1, 2, 1, 16}, {1, 7, 2, 2, 8}, {2, 64, 4, 2, 16}, {1, 65, 2, 1, 32},
		{2, 150, 4, 2, 32}, {1, 200, 2, 2, 64}, {1, 130, 3, 1, 24},
	} {
		cfg := smallTrainConfig()
		cfg.NumAttentionHeads, cfg.NumKeyValueHeads = tc.NH, tc.NKV
		cfg.HiddenSize, cfg.HeadDim = tc.NH*tc.HS, 0
		cfg.MaxPositionEmbeddings = tc.T
		for _, workers := range []int{1, 3} {
			e64 := NewCPU[float64](cfg, tc.B, tc.T, workers)
			d := e64.attnDims()
			rnd := func(n int, mean, s float64) []float64 {
				x := make([]float64, n)
				for i := range x {
					x[i] = mean + r.NormFloat64()*s
				}
				return x
			}
			qkv := rnd(tc.B*tc.T*d.ldQKV, 0, 1)
			da := rnd(tc.B*tc.T*d.QC, 0, 1)
			// norm weights ≈ 2 make the scores a few units wide, so softmax
			// rows are far from uniform
			wq, wk := rnd(d.QC, 2, 0.3), rnd(d.KC, 2, 0.3)
			qh, kh, vh, o, lse, dqkv := runAttn(e64, qkv, wq, wk, da)
			wo, wl, wd := attnRef(d, qh, kh, vh, da, e64.cos, e64.sin)
			name := fmt.Sprintf("B%d T%d NH%d NKV%d HS%d w%d", tc.B, tc.T, tc.NH, tc.NKV, tc.HS, workers)
			check := func(prec string, o, lse, dqkv []float64, tol float64) {
				t.Helper()
				for _, c := range []struct {
					what      string
					got, want []float64
				}{{"out", o, wo}, {"lse", lse, wl}, {"dqkv", dqkv, wd}} {
					if rel, at := maxRelDiff(c.got, c.want); rel > tol {
						t.Errorf("%s %s %s: max rel diff %.3g at %d (got %g want %g)", name, prec, c.what, rel, at, c.got[at], c.want[at])
					}
				}
			}
			// attnRef fills only the dq, dk, dv parts the attention writes
			check("float64", o, lse, dqkv, 1e-12)
			e64.Close()
			for _, k := range simdLevels() {
				withLevel(k, func() {
					e32 := NewCPU[float32](cfg, tc.B, tc.T, workers)
					_, _, _, o, lse, dqkv := runAttn(e32, qkv, wq, wk, da)
					check("float32/"+k.String(), o, lse, dqkv, 2e-5)
					e32.Close()
				})
			}
		}
	}
}

// BenchmarkAttention times one layer's blocked attention forward and
// backward at the shapes of cpu_s (T=128, HS=32) and bench shape (c)
// (T=256, HS=64), reporting the causal FLOP rate (4·T²·HS per head forward
// counting the masked half once, 2× that backward plus the recomputed S).
func BenchmarkAttention(b *testing.B) {
	for _, tc := range []struct{ B, T, NH, HS int }{{8, 128, 4, 32}, {4, 256, 8, 64}, {1, 1024, 8, 64}} {
		b.Run(fmt.Sprintf("B%d_T%d_NH%d_HS%d", tc.B, tc.T, tc.NH, tc.HS), func(b *testing.B) {
			cfg := smallTrainConfig()
			cfg.NumAttentionHeads, cfg.NumKeyValueHeads = tc.NH, tc.NH
			cfg.HiddenSize, cfg.HeadDim = tc.NH*tc.HS, 0
			cfg.MaxPositionEmbeddings = tc.T
			e := NewCPU[float32](cfg, tc.B, tc.T, 0)
			defer e.Close()
			r := rand.New(rand.NewPCG(1, 1))
			a := &e.acts[0]
			for _, x := range [][]float32{a.qh, a.kh, a.vh, a.kT, a.vT, a.qkv, e.da} {
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e.attention(a)
				e.attentionBack(a)
			}
			// causal MACs per head: fwd S and P·V = T²·HS (half of 2·T²·HS);
			// bwd S, dP, dV, dQ, dK = 2.5·T²·HS
			flops := 2 * 3.5 * float64(tc.T*tc.T*tc.HS) * float64(tc.B*tc.NH)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestEstimateCPUMemory checks EstimateCPUMemory against the bytes NewCPU and
// the optimizer state actually allocate, and EstimateCPUScorerMemory against
// a Scorer's: the estimates follow the makes one by one, so only the
// allocator's rounding of small buffers to its size classes and the Layout may
// differ (1% and 64 KiB: a Scorer of olmo2_1M, whose logits are its engine's,
// is 1.3 MB of some 40 buffers).
func TestEstimateCPUMemory(t *testing.T) {
	alloc := func(f func() any) int64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		x := f()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(x)
		return int64(after.TotalAlloc - before.TotalAlloc)
	}
	for _, tc := range []struct {
		preset string
		B, T   int
	}{{"cpu_xs", 2, 64}, {"cpu_s", 4, 200}, {"cpu_m", 1, 1}, {"olmo2_1M", 3, 100}, {"olmo2_14M", 8, 512}} {
		cfg, err := PresetByName(tc.preset)
		if err != nil {
			t.Fatal(err)
		}
		var e *CPU[float32]
		check := func(what string, got, want int64) {
			t.Helper()
			// the Layout's tables, slice headers and size-class rounding: a few KiB
			if d := got - want; d > want/100+64<<10 || -d > want/100 {
				t.Errorf("%s B=%d T=%d %s: allocated %d bytes, estimate %d (ratio %.4f)", tc.preset, tc.B, tc.T, what, got, want, float64(got)/float64(want))
			}
		}
		check("engine", alloc(func() any {
			e = NewCPU[float32](cfg, tc.B, tc.T, 0)
			return NewOptState[float32](len(e.Params))
		}), EstimateCPUMemory(cfg, tc.B, tc.T))
		check("scorer", alloc(func() any { return e.Scorer(tc.B, tc.T) }), EstimateCPUScorerMemory(cfg, tc.B, tc.T))
		e.Close()
		// cpu-f64's engine and its Scorer (the lab's evaluation engine of a
		// cpu-f64 run)
		var e64 *CPU[float64]
		check("float64 engine", alloc(func() any {
			e64 = NewCPU[float64](cfg, tc.B, tc.T, 0)
			return NewOptState[float64](len(e64.Params))
		}), EstimateCPU64Memory(cfg, tc.B, tc.T))
		check("float64 scorer", alloc(func() any { return e64.Scorer(tc.B, tc.T) }), EstimateCPU64ScorerMemory(cfg, tc.B, tc.T))
		e64.Close()
	}
}

// TestScorerMatchesEngine: a Scorer of another shape over an engine's
// parameters gives the engine's log-probabilities bit for bit on the rows it
// shares, follows the engine's later weights, and refuses to train.
func TestScorerMatchesEngine(t *testing.T) {
	cfg := smallTrainConfig()
	const B, T = 2, 48
	cfg.MaxPositionEmbeddings = T
	e := NewCPU[float32](cfg, B, T, 2)
	Init(e.Layout, e.Params, 5)
	sc := e.Scorer(2*B, T/2)
	s := NewSyntheticStream(cfg.VocabSize, 3)
	ids, labels := make([]int32, B*T), make([]int32, B*T)
	s.Fill(ids, labels, T)
	// the scorer's rows: the first T/2 positions of each engine row
	sids, slabels := make([]int32, 2*B*(T/2)), make([]int32, 2*B*(T/2))
	for b := 0; b < B; b++ {
		copy(sids[b*(T/2):], ids[b*T:b*T+T/2])
		copy(slabels[b*(T/2):], labels[b*T:b*T+T/2])
	}
	for round := 0; round < 2; round++ {
		want, got := make([]float32, B*T), make([]float32, len(sids))
		e.LogProbs(want, ids, labels)
		sc.LogProbs(got, sids, slabels)
		for b := 0; b < B; b++ {
			for t2 := 0; t2 < T/2; t2++ {
				if w, g := want[b*T+t2], got[b*(T/2)+t2]; math.Float32bits(w) != math.Float32bits(g) {
					t.Fatalf("round %d: row %d position %d: scorer %g, engine %g", round, b, t2, g, w)
				}
			}
		}
		for i := range e.Params { // new weights: the scorer sees them without a copy
			e.Params[i] *= 0.9
		}
	}
	for name, f := range map[string]func(){
		"ForwardBackward": func() { sc.ForwardBackward(ids[:len(sids)], labels[:len(sids)], 1, 0) },
		"GradNorm":        func() { sc.GradNorm() },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s on a scorer did not panic", name)
				}
			}()
			f()
		}()
	}
}

// TestStepDeterministic: the same inputs give bitwise the same parameters after
// a few steps, run to run, and (since every parallel job computes each output
// element on one worker, in a fixed order) whatever the worker count. T = 150
// spans three attention blocks.
func TestStepDeterministic(t *testing.T) {
	const B, T, steps = 2, 150, 3
	cfg := smallTrainConfig()
	cfg.MaxPositionEmbeddings = T
	run := func(workers int) []float32 {
		tr := NewTrainer(TrainerParams{Config: cfg, Batch: B, Seq: T, Seed: 7, Workers: workers})
		defer tr.Close()
		s := NewSyntheticStream(cfg.VocabSize, 7)
		ids, labels := make([]int32, B*T), make([]int32, B*T)
		for i := 0; i < steps; i++ {
			s.Fill(ids, labels, T)
			tr.Step(ids, labels, 1e-2)
		}
		return append([]float32(nil), tr.B.(*CPUBackend).E.Params...)
	}
	a, b, c := run(3), run(3), run(1)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("param %d differs run to run: %g vs %g", i, a[i], b[i])
		}
		if math.Float32bits(a[i]) != math.Float32bits(c[i]) {
			t.Fatalf("param %d differs between 3 workers and 1: %g vs %g", i, a[i], c[i])
		}
	}
}

// TestScoringBackend: NewScoringBackend's CPU engines hold the weights and
// one layer's activations only (the scorer's estimate plus the weights,
// against a training backend's gradients, moments, every layer's activations
// and backward scratch), and score exactly as a training backend with the
// same weights does.
func TestScoringBackend(t *testing.T) {
	cfg := smallTrainConfig()
	const B, T = 2, 32
	cfg.MaxPositionEmbeddings = T
	cfg.NumHiddenLayers = 5 // the scorer's two residual rows and one layer's activations, reused five times
	tr := NewCPUBackend(cfg, B, T, 1)
	defer tr.Close()
	Init(tr.E.Layout, tr.E.Params, 9)
	var sb Backend
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	sb, err := NewScoringBackend("cpu", cfg, B, T)
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	got, want := int64(m1.TotalAlloc-m0.TotalAlloc), 4*NewLayout(cfg).Size()+EstimateCPUScorerMemory(cfg, B, T)
	if d := got - want; d > want/100+32<<10 || -d > want/100 {
		t.Errorf("scoring backend allocated %d bytes, want the weights and a scorer's activations, %d", got, want)
	}
	if train, n := EstimateCPUMemory(cfg, B, T), NewLayout(cfg).Size(); got > train-12*n {
		t.Errorf("scoring backend allocated %d bytes, a training backend %d: want the gradients and both moments (%d bytes) left out", got, train, 12*n)
	}
	params := make([]float32, NewLayout(cfg).Size())
	tr.ReadParams(params)
	sb.WriteParams(params)
	s := NewSyntheticStream(cfg.VocabSize, 3)
	ids, labels := make([]int32, B*T), make([]int32, B*T)
	s.Fill(ids, labels, T)
	a, b := make([]float32, B*T), make([]float32, B*T)
	tr.LogProbs(a, ids, labels)
	sb.LogProbs(b, ids, labels)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("position %d: scoring backend %g, training backend %g", i, b[i], a[i])
		}
	}
	if _, err := NewScoringBackend("no-such", cfg, B, T); err == nil {
		t.Error("an unknown backend was built")
	}
}
