package model

import (
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
	logits []F // (chunk,V) logits of one chunk of rows, then their gradient

	chunk int // rows of logits materialised at once

	// backward scratch, shared by all layers
	dres, dh, dm, dout, dxf []F // (BT,C)
	dact, dgate, dup        []F // (BT,I)
	da, dq                  []F // (BT,QC)
	dk, dv                  []F // (BT,KC)
	dp                      []F // (B·NKV, T) one row of dP per attention group
	normBlocks              []float64

	jobs cpuJobs[F]
}

// layerActs holds what one decoder layer's backward pass needs.
type layerActs[F Float] struct {
	qRaw, q []F // (BT,QC) before and after QK-norm + RoPE
	kRaw, k []F // (BT,KC)
	v       []F // (BT,KC)
	qr, kr  []F // (BT) rstd of the QK-norms
	att     []F // (B,NH,T,T) softmax probabilities
	a       []F // (BT,QC) attention output, input of o_proj
	o       []F // (BT,C) o_proj output
	or      []F // (BT)
	h       []F // (BT,C) residual after attention
	gate    []F // (BT,I)
	up      []F // (BT,I)
	act     []F // (BT,I)
	m       []F // (BT,C) down_proj output
	mr      []F // (BT)
}

// NewCPU builds an engine with zeroed parameters; call Init or load weights next.
// workers ≤ 0 uses GOMAXPROCS. It panics on an invalid config (a programmer error:
// configs are validated where they are read).
func NewCPU[F Float](cfg Config, B, T, workers int) *CPU[F] {
	if err := cfg.Validate(); err != nil {
		panic("model: " + err.Error())
	}
	if B <= 0 || T <= 0 {
		panic(fmt.Sprintf("model: batch shape (%d,%d) must be positive", B, T))
	}
	lay := NewLayout(cfg)
	C, I, V := cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize
	QC, KC, HS := cfg.QWidth(), cfg.KVWidth(), cfg.HeadSize()
	NH, NKV, L := cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.NumHiddenLayers
	BT := B * T
	e := &CPU[F]{Cfg: cfg, Layout: lay, B: B, T: T, pool: newPool(workers)}
	e.Params = make([]F, lay.Size())
	e.Grads = make([]F, lay.Size())
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
	e.res = make([][]F, L+1)
	for i := range e.res {
		e.res[i] = make([]F, BT*C)
	}
	e.acts = make([]layerActs[F], L)
	for i := range e.acts {
		e.acts[i] = layerActs[F]{
			qRaw: make([]F, BT*QC), q: make([]F, BT*QC), kRaw: make([]F, BT*KC), k: make([]F, BT*KC),
			v: make([]F, BT*KC), qr: make([]F, BT), kr: make([]F, BT), att: make([]F, B*NH*T*T),
			a: make([]F, BT*QC), o: make([]F, BT*C), or: make([]F, BT), h: make([]F, BT*C),
			gate: make([]F, BT*I), up: make([]F, BT*I), act: make([]F, BT*I), m: make([]F, BT*C), mr: make([]F, BT),
		}
	}
	e.xf, e.fr, e.lse = make([]F, BT*C), make([]F, BT), make([]F, BT)
	e.ce, e.zz = make([]float64, BT), make([]float64, BT)
	e.chunk = BT
	if c := (16 << 20) / V; c < e.chunk {
		e.chunk = max(c, 64)
		e.chunk = min(e.chunk, BT)
	}
	e.logits = make([]F, e.chunk*V)
	e.dres, e.dh, e.dm, e.dout, e.dxf = make([]F, BT*C), make([]F, BT*C), make([]F, BT*C), make([]F, BT*C), make([]F, BT*C)
	e.dact, e.dgate, e.dup = make([]F, BT*I), make([]F, BT*I), make([]F, BT*I)
	e.da, e.dq = make([]F, BT*QC), make([]F, BT*QC)
	e.dk, e.dv = make([]F, BT*KC), make([]F, BT*KC)
	e.dp = make([]F, B*NKV*T)
	e.normBlocks = make([]float64, (len(e.Params)+normBlock-1)/normBlock)
	e.jobs.init(e)
	return e
}

// Close stops the engine's worker goroutines.
func (e *CPU[F]) Close() { e.pool.close() }

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
		// q, k, v projections: (BT,C)·Wᵀ
		matmul(false, true, BT, QC, C, x, C, P[o.Q:], C, 0, a.qRaw, QC)
		matmul(false, true, BT, KC, C, x, C, P[o.K:], C, 0, a.kRaw, KC)
		matmul(false, true, BT, KC, C, x, C, P[o.V:], C, 0, a.v, KC)
		// QK-norm over the full projection width, then RoPE (olmo2.md §2)
		e.rmsnorm(a.q, a.qr, a.qRaw, P[o.QNorm:o.QNorm+QC], QC)
		e.rmsnorm(a.k, a.kr, a.kRaw, P[o.KNorm:o.KNorm+KC], KC)
		e.rope(a.q, c.NumAttentionHeads, 1)
		e.rope(a.k, c.NumKeyValueHeads, 1)
		e.jobs.attnF.a = a
		e.pool.run(e.B*c.NumAttentionHeads, 1, &e.jobs.attnF)
		matmul(false, true, BT, C, QC, a.a, QC, P[o.O:], QC, 0, a.o, C)
		e.rmsnorm(a.h, a.or, a.o, P[o.PostAttnNorm:o.PostAttnNorm+C], C)
		e.jobs.add.set(a.h, a.h, x, C)
		e.pool.run(BT, 64, &e.jobs.add)
		// SwiGLU MLP
		matmul(false, true, BT, I, C, a.h, C, P[o.Gate:], C, 0, a.gate, I)
		matmul(false, true, BT, I, C, a.h, C, P[o.Up:], C, 0, a.up, I)
		e.jobs.swiglu.act, e.jobs.swiglu.gate, e.jobs.swiglu.up, e.jobs.swiglu.n = a.act, a.gate, a.up, I
		e.pool.run(BT, 16, &e.jobs.swiglu)
		matmul(false, true, BT, C, I, a.act, I, P[o.Down:], I, 0, a.m, C)
		out := e.res[l+1]
		e.rmsnorm(out, a.mr, a.m, P[o.PostFFNNorm:o.PostFFNNorm+C], C)
		e.jobs.add.set(out, out, a.h, C)
		e.pool.run(BT, 64, &e.jobs.add)
	}
	e.rmsnorm(e.xf, e.fr, e.res[len(e.acts)], P[e.Layout.Norm:e.Layout.Norm+C], C)
}

func (e *CPU[F]) rmsnorm(y, rstd, x, w []F, n int) {
	j := &e.jobs.rms
	j.y, j.rstd, j.x, j.w, j.n, j.eps = y, rstd, x, w, n, e.Cfg.RMSNormEps
	e.pool.run(e.B*e.T, 16, j)
}

func (e *CPU[F]) rmsnormBack(dx, dw, dy, x, rstd, w []F, n int) {
	j := &e.jobs.rmsB
	j.dx, j.dw, j.dy, j.x, j.rstd, j.w, j.n = dx, dw, dy, x, rstd, w, n
	// dw first, by columns (deterministic whatever the worker count), then dx by rows.
	j.pass = 0
	e.pool.run(n, 8, j)
	j.pass = 1
	e.pool.run(e.B*e.T, 16, j)
}

func (e *CPU[F]) rope(x []F, heads int, sign F) {
	j := &e.jobs.rope
	j.x, j.heads, j.sign = x, heads, sign
	e.pool.run(e.B*e.T, 16, j)
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
// (valid after ForwardBackward or LogProbs).
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
	e.setBatch(ids, labels)
	e.forward()
	c := &e.Cfg
	C, I := c.HiddenSize, c.IntermediateSize
	QC, KC := c.QWidth(), c.KVWidth()
	BT := e.B * e.T
	P, G := e.Params, e.Grads
	loss := e.head(scale, zLoss, true)
	// final norm
	e.rmsnormBack(e.dres, G[e.Layout.Norm:e.Layout.Norm+C], e.dxf, e.res[len(e.acts)], e.fr, P[e.Layout.Norm:e.Layout.Norm+C], C)
	for l := len(e.acts) - 1; l >= 0; l-- {
		o := e.Layout.Layers[l]
		a := &e.acts[l]
		x := e.res[l]
		// out = h + rms(m): dh = dout + (MLP path), dm = rms'(dout)
		e.rmsnormBack(e.dm, G[o.PostFFNNorm:o.PostFFNNorm+C], e.dres, a.m, a.mr, P[o.PostFFNNorm:o.PostFFNNorm+C], C)
		matmul(false, false, BT, I, C, e.dm, C, P[o.Down:], I, 0, e.dact, I) // dact = dm·Wdown
		matmul(true, false, C, I, BT, e.dm, C, a.act, I, 1, G[o.Down:], I)   // dWdown += dmᵀ·act
		sj := &e.jobs.swigluB
		sj.dgate, sj.dup, sj.dact, sj.gate, sj.up, sj.n = e.dgate, e.dup, e.dact, a.gate, a.up, I
		e.pool.run(BT, 16, sj)
		copy(e.dh, e.dres)
		matmul(false, false, BT, C, I, e.dgate, I, P[o.Gate:], C, 1, e.dh, C) // dh += dgate·Wgate
		matmul(false, false, BT, C, I, e.dup, I, P[o.Up:], C, 1, e.dh, C)     // dh += dup·Wup
		matmul(true, false, I, C, BT, e.dgate, I, a.h, C, 1, G[o.Gate:], C)
		matmul(true, false, I, C, BT, e.dup, I, a.h, C, 1, G[o.Up:], C)
		// h = x + rms(o): dx = dh + (attention path)
		e.rmsnormBack(e.dout, G[o.PostAttnNorm:o.PostAttnNorm+C], e.dh, a.o, a.or, P[o.PostAttnNorm:o.PostAttnNorm+C], C)
		matmul(false, false, BT, QC, C, e.dout, C, P[o.O:], QC, 0, e.da, QC) // da = dout·Wo
		matmul(true, false, C, QC, BT, e.dout, C, a.a, QC, 1, G[o.O:], QC)
		clear(e.dk)
		clear(e.dv)
		e.jobs.attnB.a = a
		e.pool.run(e.B*c.NumKeyValueHeads, 1, &e.jobs.attnB)
		e.rope(e.dq, c.NumAttentionHeads, -1)
		e.rope(e.dk, c.NumKeyValueHeads, -1)
		e.rmsnormBack(e.dq, G[o.QNorm:o.QNorm+QC], e.dq, a.qRaw, a.qr, P[o.QNorm:o.QNorm+QC], QC)
		e.rmsnormBack(e.dk, G[o.KNorm:o.KNorm+KC], e.dk, a.kRaw, a.kr, P[o.KNorm:o.KNorm+KC], KC)
		dx := e.dres // becomes d res[l]
		copy(dx, e.dh)
		matmul(false, false, BT, C, QC, e.dq, QC, P[o.Q:], C, 1, dx, C)
		matmul(false, false, BT, C, KC, e.dk, KC, P[o.K:], C, 1, dx, C)
		matmul(false, false, BT, C, KC, e.dv, KC, P[o.V:], C, 1, dx, C)
		matmul(true, false, QC, C, BT, e.dq, QC, x, C, 1, G[o.Q:], C)
		matmul(true, false, KC, C, BT, e.dk, KC, x, C, 1, G[o.K:], C)
		matmul(true, false, KC, C, BT, e.dv, KC, x, C, 1, G[o.V:], C)
	}
	// embedding: dW_emb[id] += dres[bt], by column ranges so rows add in order
	e.pool.run(C, 8, &e.jobs.embB)
	return loss
}

// head computes the LM head chunk by chunk: logits, logsumexp, CE and z-loss sums,
// and (when backward) the logits' gradient, lm_head's gradient and dxf.
// Only `chunk` rows of logits exist at once (V can be 100352).
func (e *CPU[F]) head(scale, zLoss float64, backward bool) Losses {
	c := &e.Cfg
	BT, C, V := e.B*e.T, c.HiddenSize, c.VocabSize
	W := e.Params[e.Layout.LMHead:]
	hj := &e.jobs.head
	hj.scale, hj.z, hj.backward = F(scale), F(zLoss), backward
	for r0 := 0; r0 < BT; r0 += e.chunk {
		rows := min(e.chunk, BT-r0)
		matmul(false, true, rows, V, C, e.xf[r0*C:], C, W, C, 0, e.logits, V)
		hj.r0 = r0
		e.pool.run(rows, 4, hj)
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
func (e *CPU[F]) LogProbs(dst []F, ids, targets []int32) {
	e.setBatch(ids, targets)
	e.forward()
	e.head(0, 0, false)
	for r, l := range e.labels {
		if l == IgnoreIndex {
			dst[r] = 0
		} else {
			dst[r] = F(-e.ce[r])
		}
	}
}

// ZeroGrads clears the gradient buffer.
func (e *CPU[F]) ZeroGrads() { clear(e.Grads) }

const normBlock = 1 << 14

// GradNorm is the global L2 norm of Grads, summed in float64 over fixed blocks
// so the result does not depend on the number of workers.
func (e *CPU[F]) GradNorm() float64 {
	e.jobs.sq.x = e.Grads
	e.pool.run(len(e.normBlocks), 1, &e.jobs.sq)
	var s float64
	for _, b := range e.normBlocks {
		s += b
	}
	return math.Sqrt(s)
}
