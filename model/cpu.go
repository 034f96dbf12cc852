package model

import (
	"cmp"
	"fmt"
	"math"
)

// IgnoreIndex marks a label position that contributes no loss (OLMo-core and HF).
const IgnoreIndex = -100

// CPU is the pure-Go engine for one Config and one micro-batch shape (B, T).
// Every activation and gradient buffer is allocated once here and reused, so a
// training step allocates nothing.
//
// Params and Grads are flat buffers in Layout order; a caller may read and write
// them between steps (checkpoint, soup, optimizer).
type CPU[F Float] struct {
	Cfg    Config
	Layout *Layout
	B, T   int

	Params []F // flat, Layout order
	Grads  []F // same layout; ForwardBackward accumulates into it

	pool *pool
	cos  []F // (T, HS/2) RoPE tables, computed in float64 (golden/README.md)
	sin  []F

	ids    []int32 // (B,T) the micro-batch being processed
	labels []int32 // (B,T) pre-shifted targets, IgnoreIndex where none

	res    [][]F // L+1 buffers (BT,C): res[l] is layer l's input, res[L] its output
	acts   []layerActs[F]
	xf     []F // (BT,C) after model.norm
	fr     []F // (BT) its rstd
	lse    []F // (BT) logsumexp of every position's logits
	ce     []float64
	zz     []float64
	logits []F     // (chunk,V) logits of one chunk of rows, then their gradient
	hrows  []int32 // (BT) LogProbs: the positions with a target
	xg     []F     // (chunk,C) LogProbs: their final-norm rows, one chunk gathered

	chunk int // rows of logits materialised at once

	// lender is a Scorer's engine, whose logits buffer it scores in (they never
	// run at once): an evaluation makes a Scorer per row shape, and each zeroed
	// its own chunk of logits, 256 MiB at dolma2's vocabulary.
	lender *CPU[F]

	pack Packing // the rows' packing during LogProbsPacked, else zero

	// backward scratch, shared by all layers
	dres, dm, dout, dxf []F              // (BT,C); dres holds d res[l+1], then dh, then d res[l]
	dact                []F              // (BT,I)
	dgu                 []F              // (BT,2I) (dgate | dup)
	da                  []F              // (BT,QC) d attention output
	dqkv                []F              // (BT,QC+2KC) (dq | dk | dv)
	dwPart              []F              // norm-weight gradient parts (normPart)
	dOh, dqh            []F              // (B,NH,T,HS) da and dq head-major (attention.go)
	dkh, dvh            []F              // (B,NKV,T,HS) dk and dv head-major
	attnD               []F              // (B,NH,T) rowsum(dO ⊙ O)
	attnSc              []attnScratch[F] // one per worker
	normBlocks          []float64

	jobs cpuJobs[F]
}

// layerActs holds what one decoder layer's backward pass needs. The q, k, v
// projections are one product (q_proj, k_proj and v_proj are adjacent in the
// layout, so their weights form one (QC+2KC, C) matrix), and so are gate and up.
type layerActs[F Float] struct {
	qkv    []F // (BT,QC+2KC) (q | k | v) projections; q, k before QK-norm
	qh     []F // (B,NH,T,HS) q after QK-norm and RoPE, head-major (attention.go)
	kh, vh []F // (B,NKV,T,HS) k after QK-norm and RoPE, and v
	kT, vT []F // (B,NKV,nb,HS,64) Kᵀ and Vᵀ in tiles of 64 positions, zero past T
	qr, kr []F // (BT) rstd of the QK-norms
	lse    []F // (B,NH,T) logsumexp of each query row's scaled scores (attention.go)
	a      []F // (BT,QC) attention output, input of o_proj
	o      []F // (BT,C) o_proj output
	or     []F // (BT)
	h      []F // (BT,C) residual after attention
	gu     []F // (BT,2I) (gate | up) projections
	act    []F // (BT,I)
	m      []F // (BT,C) down_proj output
	mr     []F // (BT)
}

// NewCPU builds an engine with zeroed parameters; call Init or load weights next.
// workers ≤ 0 uses GOMAXPROCS. It panics on an invalid config (a programmer error:
// configs are validated where they are read).
func NewCPU[F Float](cfg Config, B, T, workers int) *CPU[F] {
	return newCPU[F](cfg, B, T, workers, nil)
}

// Scorer returns a forward-only engine of micro-batch (B, T) over e's
// parameters: it shares e.Params (no copy), so it scores e's current weights
// whenever it runs, and it has no gradients and no backward scratch, only the
// activations a forward pass writes (EstimateCPUScorerMemory). LogProbs,
// Forward and Logits work on it; ForwardBackward, ZeroGrads, GradNorm and Step
// panic. It runs on e's workers' count; it must not run while e does, since it
// computes its logits in e's buffer (grown where it holds fewer rows).
func (e *CPU[F]) Scorer(B, T int) *CPU[F] {
	s := newCPU[F](e.Cfg, B, T, e.pool.workers, e.Params)
	s.lender = cmp.Or(e.lender, e)
	return s
}

// newCPU builds a training engine (params nil: it allocates Params, Grads and
// the backward scratch) or a Scorer over params.
func newCPU[F Float](cfg Config, B, T, workers int, params []F) *CPU[F] {
	if err := cfg.Validate(); err != nil {
		panic("model: " + err.Error())
	}
	if B <= 0 || T <= 0 {
		panic(fmt.Sprintf("model: batch shape (%d,%d) must be positive", B, T))
	}
	lay := NewLayout(cfg)
	C, I, V := cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize
	QC, KC, HS := cfg.QWidth(), cfg.KVWidth(), cfg.HeadSize()
	NH, L := cfg.NumAttentionHeads, cfg.NumHiddenLayers
	BT := B * T
	e := &CPU[F]{Cfg: cfg, Layout: lay, B: B, T: T, pool: newPool(workers)}
	train := params == nil
	if train {
		e.Params = make([]F, lay.Size())
		e.Grads = make([]F, lay.Size())
	} else {
		if int64(len(params)) != lay.Size() {
			panic(fmt.Sprintf("model: scorer over %d parameters, config has %d", len(params), lay.Size()))
		}
		e.Params = params
	}
	half := HS / 2
	e.cos, e.sin = make([]F, T*half), make([]F, T*half)
	for t := 0; t < T; t++ {
		for i := 0; i < half; i++ {
			f := float64(t) * math.Pow(cfg.RopeTheta, -2*float64(i)/float64(HS))
			e.cos[t*half+i] = F(math.Cos(f))
			e.sin[t*half+i] = F(math.Sin(f))
		}
	}
	e.ids = make([]int32, BT)
	e.labels = make([]int32, BT)
	// A forward-only engine keeps nothing for a backward pass: layer l reads
	// res[l] and its own activations and writes res[l+1], so two residual
	// rows taken in turn and one layer's activations serve every layer
	// (Activation("layer.i") then holds only the latest layers).
	e.res = make([][]F, L+1)
	for i := range e.res {
		if !train && i >= 2 {
			e.res[i] = e.res[i-2]
			continue
		}
		e.res[i] = make([]F, BT*C)
	}
	for _, o := range lay.Layers {
		if o.K != o.Q+QC*C || o.V != o.K+KC*C || o.Up != o.Gate+I*C {
			panic("model: layout does not keep q/k/v and gate/up adjacent")
		}
	}
	nb := (T + attnBlock - 1) / attnBlock
	e.acts = make([]layerActs[F], L)
	for i := range e.acts {
		if !train && i > 0 {
			e.acts[i] = e.acts[0]
			continue
		}
		e.acts[i] = layerActs[F]{
			qkv: make([]F, BT*(QC+2*KC)), qh: make([]F, BT*QC), kh: make([]F, BT*KC), vh: make([]F, BT*KC),
			kT: make([]F, B*KC*nb*attnBlock), vT: make([]F, B*KC*nb*attnBlock),
			qr: make([]F, BT), kr: make([]F, BT), lse: make([]F, B*NH*T),
			a: make([]F, BT*QC), o: make([]F, BT*C), or: make([]F, BT), h: make([]F, BT*C),
			gu: make([]F, BT*2*I), act: make([]F, BT*I), m: make([]F, BT*C), mr: make([]F, BT),
		}
	}
	e.xf, e.fr, e.lse = make([]F, BT*C), make([]F, BT), make([]F, BT)
	e.ce, e.zz = make([]float64, BT), make([]float64, BT)
	e.chunk = logitsChunk(BT, V)
	if train {
		e.logits = make([]F, e.chunk*V)
	} // a forward-only engine's grows as LogProbs' targets need it (headLabelled)
	e.hrows, e.xg = make([]int32, BT), make([]F, e.chunk*C)
	e.attnSc = newAttnScratch[F](e.pool.workers, T, HS)
	e.jobs.init(e)
	if !train {
		return e
	}
	e.dres, e.dm, e.dout, e.dxf = make([]F, BT*C), make([]F, BT*C), make([]F, BT*C), make([]F, BT*C)
	e.dact, e.dgu = make([]F, BT*I), make([]F, BT*2*I)
	e.da, e.dqkv = make([]F, BT*QC), make([]F, BT*(QC+2*KC))
	e.dOh, e.dqh, e.attnD = make([]F, BT*QC), make([]F, BT*QC), make([]F, B*NH*T)
	e.dkh, e.dvh = make([]F, BT*KC), make([]F, BT*KC)
	e.dwPart = make([]F, (BT+normPart-1)/normPart*max(C, QC+KC))
	e.normBlocks = make([]float64, (len(e.Params)+normBlock-1)/normBlock)
	return e
}

// Close releases the engine. It holds nothing to release today (its threads
// are gemm's pool's, shared by every engine); Backend.Close calls it.
func (e *CPU[F]) Close() {}

// mustTrain panics when e is a Scorer, which has no gradients.
func (e *CPU[F]) mustTrain(op string) {
	if e.Grads == nil {
		panic("model: " + op + " on a forward-only engine (Scorer)")
	}
}

func (e *CPU[F]) setBatch(ids, labels []int32) {
	if len(ids) != e.B*e.T || (labels != nil && len(labels) != e.B*e.T) {
		panic(fmt.Sprintf("model: batch of %d ids / %d labels, engine shape is %d×%d", len(ids), len(labels), e.B, e.T))
	}
	V := int32(e.Cfg.VocabSize)
	for i, id := range ids {
		if id < 0 || id >= V {
			panic(fmt.Sprintf("model: token id %d at position %d is outside the vocabulary [0,%d)", id, i, V))
		}
	}
	copy(e.ids, ids)
	if labels == nil {
		for i := range e.labels {
			e.labels[i] = IgnoreIndex
		}
		return
	}
	for i, l := range labels {
		if l != IgnoreIndex && (l < 0 || l >= V) {
			panic(fmt.Sprintf("model: label %d at position %d is outside the vocabulary [0,%d)", l, i, V))
		}
	}
	copy(e.labels, labels)
}

// forward runs embedding → layers → final norm, keeping every activation.
func (e *CPU[F]) forward() {
	c := &e.Cfg
	C, I := c.HiddenSize, c.IntermediateSize
	QC, KC := c.QWidth(), c.KVWidth()
	QKV := QC + 2*KC
	BT := e.B * e.T
	P := e.Params
	// embedding: res[0][bt] = W_emb[id]
	emb := P[e.Layout.Embed:]
	for r, id := range e.ids {
		copy(e.res[0][r*C:r*C+C], emb[int(id)*C:int(id)*C+C])
	}
	for l := range e.acts {
		o := e.Layout.Layers[l]
		a := &e.acts[l]
		x := e.res[l]
		// q, k, v projections: (BT,C)·W_qkvᵀ
		matmul(false, true, BT, QKV, C, x, C, P[o.Q:], C, 0, a.qkv, QKV)
		// QK-norm over the full projection widths, then RoPE (olmo2.md §2)
		qj := &e.jobs.qkNorm
		qj.a, qj.wq, qj.wk = a, P[o.QNorm:o.QNorm+QC], P[o.KNorm:o.KNorm+KC]
		e.run(BT, 16, 16, qj)
		e.attention(a)
		matmul(false, true, BT, C, QC, a.a, QC, P[o.O:], QC, 0, a.o, C)
		// h = x + rms(o)
		e.rmsnorm(a.h, a.or, a.o, P[o.PostAttnNorm:o.PostAttnNorm+C], x)
		// SwiGLU MLP
		matmul(false, true, BT, 2*I, C, a.h, C, P[o.Gate:], C, 0, a.gu, 2*I)
		e.jobs.swiglu.a = a
		e.run(BT, 8, 1, &e.jobs.swiglu)
		matmul(false, true, BT, C, I, a.act, I, P[o.Down:], I, 0, a.m, C)
		// out = h + rms(m)
		e.rmsnorm(e.res[l+1], a.mr, a.m, P[o.PostFFNNorm:o.PostFFNNorm+C], a.h)
	}
	e.rmsnorm(e.xf, e.fr, e.res[len(e.acts)], P[e.Layout.Norm:e.Layout.Norm+C], nil)
}

// rmsnorm sets y = rms(x)·w (+ res), rows of width C, and the rows' rstd.
func (e *CPU[F]) rmsnorm(y, rstd, x, w, res []F) {
	j := &e.jobs.rms
	j.y, j.rstd, j.x, j.w, j.res, j.n, j.eps = y, rstd, x, w, res, e.Cfg.HiddenSize, e.Cfg.RMSNormEps
	e.run(e.B*e.T, 8, 1, j)
}

// rmsnormBack is rmsnorm's backward for rows of width C: dx from dy, and
// dw += its gradient.
func (e *CPU[F]) rmsnormBack(dx, dw, dy, x, rstd, w []F) {
	j := &e.jobs.rmsB
	j.dx, j.dy, j.x, j.rstd, j.w, j.n = dx, dy, x, rstd, w, e.Cfg.HiddenSize
	e.run(e.B*e.T, normPart, normPart, j)
	e.reduceParts(dw, nil, j.n, 0)
}

// reduceParts adds the norm-weight gradient parts (normPart) to dw1 and dw2.
func (e *CPU[F]) reduceParts(dw1, dw2 []F, n1, n2 int) {
	j := &e.jobs.reduce
	j.dw1, j.dw2, j.n1, j.n2 = dw1, dw2, n1, n2
	j.parts = (e.B*e.T + normPart - 1) / normPart
	e.run(n1+n2, 16, 16, j)
}

// run runs t over [0, n) on every worker: chunks of at least minRows rows
// (a multiple of align), about eight per worker, claimed from an atomic
// counter, so a worker that loses its core to another process is covered by
// the others instead of holding up the step. Every job computes each row (or
// column) on its own, so results do not depend on who ran which chunk.
func (e *CPU[F]) run(n, minRows, align int, t task) {
	if n <= 0 {
		return
	}
	W := e.pool.workers
	chunk := max(minRows, (n+8*W-1)/(8*W))
	chunk = (chunk + align - 1) / align * align
	if W == 1 || chunk >= n {
		t.do(0, n)
		return
	}
	j := &e.jobs.dyn
	j.t, j.n, j.chunk = t, n, chunk
	j.next.Store(0)
	e.pool.run(min(W, (n+chunk-1)/chunk), 1, j)
	j.t = nil
}

// attention runs layer a's causal attention forward (attention.go).
func (e *CPU[F]) attention(a *layerActs[F]) {
	j := &e.jobs.attnF
	j.a = a
	j.next.Store(0)
	e.pool.run(e.pool.workers, 1, j)
}

// attentionBack fills dqkv from da for layer a (attention.go).
func (e *CPU[F]) attentionBack(a *layerActs[F]) {
	e.jobs.attnPrep.a = a
	e.run(e.B*e.T, 8, 1, &e.jobs.attnPrep)
	j := &e.jobs.attnB
	j.a = a
	j.next.Store(0)
	e.pool.run(e.pool.workers, 1, j)
}

// Forward runs the model on ids (B·T tokens) and keeps the activations.
func (e *CPU[F]) Forward(ids []int32) {
	e.setBatch(ids, nil)
	e.forward()
}

// Logits writes the (B,T,V) logits of the last Forward into dst.
func (e *CPU[F]) Logits(dst []F) {
	c := &e.Cfg
	BT, C, V := e.B*e.T, c.HiddenSize, c.VocabSize
	if len(dst) < BT*V {
		panic("model: Logits destination too short")
	}
	matmul(false, true, BT, V, C, e.xf, C, e.Params[e.Layout.LMHead:], C, 0, dst, V)
}

// Activation returns a view of a stored activation for golden comparisons:
// "embed", "layer.i" (residual after layer i), "final_norm", or "logsumexp"
// (valid after ForwardBackward; after LogProbs at the positions with a target
// only).
func (e *CPU[F]) Activation(name string) []F {
	switch name {
	case "embed":
		return e.res[0]
	case "final_norm":
		return e.xf
	case "logsumexp":
		return e.lse
	}
	var i int
	if _, err := fmt.Sscanf(name, "layer.%d", &i); err == nil && i >= 0 && i < len(e.acts) {
		return e.res[i+1]
	}
	return nil
}

// Losses are the sums a micro-batch contributes: CE and the z-loss term are summed
// over positions with a label; the mean is taken by the caller over the global
// batch (OLMo-core's normalisation, olmo2.md §6).
type Losses struct {
	CESum    float64 // Σ (logsumexp − logit[label])
	ZSum     float64 // Σ z·logsumexp²  (z = the z-loss multiplier)
	Labelled int     // positions with label ≠ IgnoreIndex
}

// CountLabelled returns how many labels are not IgnoreIndex.
func CountLabelled(labels []int32) int {
	n := 0
	for _, l := range labels {
		if l != IgnoreIndex {
			n++
		}
	}
	return n
}

// ForwardBackward runs forward and backward on one micro-batch and adds
// d(total)/dθ to Grads, where total = (ΣCE + z·Σ lse²)·scale. For OLMo-core's loss,
// scale = 1 / (labelled positions in the whole global batch). ids and labels are
// (B,T); labels are pre-shifted (labels[b,t] is the target of position t).
func (e *CPU[F]) ForwardBackward(ids, labels []int32, scale, zLoss float64) Losses {
	e.mustTrain("ForwardBackward")
	e.setBatch(ids, labels)
	e.forward()
	c := &e.Cfg
	C, I := c.HiddenSize, c.IntermediateSize
	QC, KC := c.QWidth(), c.KVWidth()
	QKV := QC + 2*KC
	BT := e.B * e.T
	P, G := e.Params, e.Grads
	loss := e.head(scale, zLoss, true)
	// final norm
	e.rmsnormBack(e.dres, G[e.Layout.Norm:e.Layout.Norm+C], e.dxf, e.res[len(e.acts)], e.fr, P[e.Layout.Norm:e.Layout.Norm+C])
	for l := len(e.acts) - 1; l >= 0; l-- {
		o := e.Layout.Layers[l]
		a := &e.acts[l]
		x := e.res[l]
		// out = h + rms(m): dh = dout + (MLP path), dm = rms'(dout)
		e.rmsnormBack(e.dm, G[o.PostFFNNorm:o.PostFFNNorm+C], e.dres, a.m, a.mr, P[o.PostFFNNorm:o.PostFFNNorm+C])
		matmul(false, false, BT, I, C, e.dm, C, P[o.Down:], I, 0, e.dact, I) // dact = dm·Wdown
		matmul(true, false, C, I, BT, e.dm, C, a.act, I, 1, G[o.Down:], I)   // dWdown += dmᵀ·act
		e.jobs.swigluB.a = a
		e.run(BT, 8, 1, &e.jobs.swigluB)
		matmul(false, false, BT, C, 2*I, e.dgu, 2*I, P[o.Gate:], C, 1, e.dres, C) // dres = dh = dout + dgu·W_gu
		matmul(true, false, 2*I, C, BT, e.dgu, 2*I, a.h, C, 1, G[o.Gate:], C)     // dW_gu += dguᵀ·h
		// h = x + rms(o): dx = dh + (attention path)
		e.rmsnormBack(e.dout, G[o.PostAttnNorm:o.PostAttnNorm+C], e.dres, a.o, a.or, P[o.PostAttnNorm:o.PostAttnNorm+C])
		matmul(false, false, BT, QC, C, e.dout, C, P[o.O:], QC, 0, e.da, QC) // da = dout·Wo
		matmul(true, false, C, QC, BT, e.dout, C, a.a, QC, 1, G[o.O:], QC)
		e.attentionBack(a)
		qj := &e.jobs.qkNormB
		qj.a, qj.wq, qj.wk = a, P[o.QNorm:o.QNorm+QC], P[o.KNorm:o.KNorm+KC]
		e.run(BT, normPart, normPart, qj)
		e.reduceParts(G[o.QNorm:o.QNorm+QC], G[o.KNorm:o.KNorm+KC], QC, KC)
		matmul(false, false, BT, C, QKV, e.dqkv, QKV, P[o.Q:], C, 1, e.dres, C) // dres = d res[l] = dh + dqkv·W_qkv
		matmul(true, false, QKV, C, BT, e.dqkv, QKV, x, C, 1, G[o.Q:], C)       // dW_qkv += dqkvᵀ·x
	}
	// embedding: dW_emb[id] += dres[bt], by column ranges so rows add in order
	e.run(C, 16, 16, &e.jobs.embB)
	return loss
}

// head computes the LM head chunk by chunk: logits, logsumexp, CE and z-loss sums,
// and (when backward) the logits' gradient, lm_head's gradient and dxf.
// Only `chunk` rows of logits exist at once (V can be 100352).
func (e *CPU[F]) head(scale, zLoss float64, backward bool) Losses {
	c := &e.Cfg
	BT, C, V := e.B*e.T, c.HiddenSize, c.VocabSize
	if len(e.logits) < e.chunk*V { // a forward-only engine's (a test's full head), grown by headLabelled to its targets only
		e.logits = make([]F, e.chunk*V)
	}
	W := e.Params[e.Layout.LMHead:]
	hj := &e.jobs.head
	hj.scale, hj.z, hj.backward = F(scale), F(zLoss), backward
	for r0 := 0; r0 < BT; r0 += e.chunk {
		rows := min(e.chunk, BT-r0)
		matmul(false, true, rows, V, C, e.xf[r0*C:], C, W, C, 0, e.logits, V)
		hj.r0 = r0
		e.run(rows, 4, 1, hj)
		if backward {
			matmul(true, false, V, C, rows, e.logits, V, e.xf[r0*C:], C, 1, e.Grads[e.Layout.LMHead:], C)
			matmul(false, false, rows, C, V, e.logits, V, W, C, 0, e.dxf[r0*C:], C)
		}
	}
	var out Losses
	for r := 0; r < BT; r++ {
		if e.labels[r] != IgnoreIndex {
			out.CESum += e.ce[r]
			out.ZSum += zLoss * e.zz[r]
			out.Labelled++
		}
	}
	return out
}

// LogProbs runs the model on ids and writes log p(targets[i] | ids[..i]) to dst[i]
// for every position (0 where the target is IgnoreIndex). Used for scoring.
// The LM head runs over the positions with a target only (headLabelled).
func (e *CPU[F]) LogProbs(dst []F, ids, targets []int32) {
	e.setBatch(ids, targets)
	e.forward()
	e.headLabelled()
	for r, l := range e.labels {
		if l == IgnoreIndex {
			dst[r] = 0
		} else {
			dst[r] = F(-e.ce[r])
		}
	}
}

// Packing describes micro-batch rows that each hold a shared prefix and
// segments after it, scored as if each segment followed the prefix alone: a
// question's context once and every choice's continuation after it
// (LogProbsPacked). A row without segments has Prefix 0 and Seg 0 and
// Pos[t] = t: it is scored as LogProbs scores it.
type Packing struct {
	Pos    []int32 // (B,T) each token's position (RoPE): in a segment, the prefix's length + its place in the segment
	Seg    []int32 // (B,T) where each token's segment starts in its row: it attends to keys [0, Prefix[b]) and [Seg, t]
	Prefix []int32 // (B) each row's prefix length: at least 1 in a row with segments
}

// PackedScorer is a backend that scores packed rows (Packing): the CPU
// engines and the GPU engines and their Scorers (gpu.Engine). A segment's log-probs are those of the prefix and segment alone
// in a row, within float rounding (the masked keys change the softmax's
// order of summation, TestLogProbsPacked).
type PackedScorer interface {
	LogProbsPacked(dst []float32, ids, targets []int32, p Packing)
}

// LogProbsPacked is LogProbs over rows packed as p says.
func (e *CPU[F]) LogProbsPacked(dst []F, ids, targets []int32, p Packing) {
	BT := e.B * e.T
	if len(p.Pos) != BT || len(p.Seg) != BT || len(p.Prefix) != e.B {
		panic(fmt.Sprintf("model: packing of %d positions, %d segment starts and %d prefixes for a %d×%d batch", len(p.Pos), len(p.Seg), len(p.Prefix), e.B, e.T))
	}
	for r := range BT {
		t := r % e.T
		if pos, seg, pre := int(p.Pos[r]), int(p.Seg[r]), int(p.Prefix[r/e.T]); pos < 0 || pos > t || seg > t || seg < 0 || pre < 0 || pre > e.T || seg > pre && pre == 0 {
			panic(fmt.Sprintf("model: packing at position %d of row %d: position %d, segment from %d, prefix %d", t, r/e.T, pos, seg, pre))
		}
	}
	e.pack = p
	defer func() { e.pack = Packing{} }()
	e.LogProbs(dst, ids, targets)
}

// headLabelled is head's forward for the positions with a target only: their
// final-norm rows gathered chunk by chunk, their logits, logsumexp and CE.
// A scoring row is mostly context (an OLMES request: a 5-shot prompt and a
// continuation of a few tokens; padding), whose logits nobody reads: at a
// 100,352-token vocabulary the head is most of a forward pass. Each logit is
// the same dot product over C as in the full head (the gemm sums every
// output over k in the same order whatever the number of rows), so the
// log-probs are the same bits (TestLogProbsHeadLabelled).
func (e *CPU[F]) headLabelled() {
	c := &e.Cfg
	C, V := c.HiddenSize, c.VocabSize
	n := 0
	for r, l := range e.labels {
		if l != IgnoreIndex {
			e.hrows[n] = int32(r)
			n++
		} else {
			e.ce[r], e.zz[r] = 0, 0
		}
	}
	// the logits of as many rows as have targets, up to a chunk: a scoring
	// row has a few; in the lender's buffer for a Scorer, doubled as it grows
	own := cmp.Or(e.lender, e)
	if need := min(e.chunk, n); len(own.logits) < need*V {
		own.logits = make([]F, min(e.chunk, max(need, 2*len(own.logits)/V))*V)
	}
	e.logits = own.logits
	if e != own {
		defer func() { e.logits = nil }() // the lender's, which it may replace
	}
	W := e.Params[e.Layout.LMHead:]
	hj := &e.jobs.head
	hj.scale, hj.z, hj.backward, hj.rows = 0, 0, false, e.hrows
	for i0 := 0; i0 < n; i0 += e.chunk {
		rows := min(e.chunk, n-i0)
		for i, r := range e.hrows[i0 : i0+rows] {
			copy(e.xg[i*C:i*C+C], e.xf[int(r)*C:int(r)*C+C])
		}
		matmul(false, true, rows, V, C, e.xg, C, W, C, 0, e.logits, V)
		hj.r0 = i0
		e.run(rows, 4, 1, hj)
	}
	hj.rows = nil
}

// ZeroGrads clears the gradient buffer.
func (e *CPU[F]) ZeroGrads() {
	e.mustTrain("ZeroGrads")
	e.jobs.clear.x = e.Grads
	e.run(len(e.Grads), 1<<16, 16, &e.jobs.clear)
}

const normBlock = 1 << 14

// GradNorm is the global L2 norm of Grads, summed in float64 over fixed blocks
// so the result does not depend on the number of workers.
func (e *CPU[F]) GradNorm() float64 {
	e.mustTrain("GradNorm")
	e.jobs.sq.x = e.Grads
	e.run(len(e.normBlocks), 1, 1, &e.jobs.sq)
	var s float64
	for _, b := range e.normBlocks {
		s += b
	}
	return math.Sqrt(s)
}
