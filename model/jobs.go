package model

import (
	"math"
	"sync/atomic"
)

// cpuJobs holds one reusable job per row-parallel kernel. Arguments are set in
// the struct before pool.run, so dispatch allocates nothing.
type cpuJobs[F Float] struct {
	rms      rmsJob[F]
	rmsB     rmsBackJob[F]
	qkNorm   qkNormJob[F]
	qkNormB  qkNormBackJob[F]
	reduce   partReduceJob[F]
	swiglu   swigluJob[F]
	swigluB  swigluBackJob[F]
	attnF    attnForwardJob[F]
	attnPrep attnPrepJob[F]
	attnB    attnBackwardJob[F]
	head     headJob[F]
	embB     embedBackJob[F]
	sq       sumSquaresJob[F]
	adamw    adamwJob[F]
	clear    clearJob[F]
	dyn      dynJob
}

// dynJob runs t over [0, n) in chunks claimed from next by each worker that
// calls do (CPU.run).
type dynJob struct {
	t        task
	n, chunk int
	next     atomic.Int64
}

func (j *dynJob) do(lo, hi int) {
	for w := lo; w < hi; w++ {
		for {
			s := int(j.next.Add(1)-1) * j.chunk
			if s >= j.n {
				break
			}
			j.t.do(s, min(s+j.chunk, j.n))
		}
	}
}

func (j *cpuJobs[F]) init(e *CPU[F]) {
	j.qkNorm.e = e
	j.qkNormB.e = e
	j.rmsB.e = e
	j.reduce.e = e
	j.rmsB.e = e
	j.reduce.e = e
	j.swiglu.e = e
	j.swigluB.e = e
	j.attnF.e = e
	j.attnPrep.e = e
	j.attnB.e = e
	j.head.e = e
	j.embB.e = e
	j.sq.e = e
}

// rmsJob: y[r] = w ⊙ x[r]·rstd[r] (+ res[r]) for rows of width n, all three
// (rows, n) with row stride n; y may be res.
type rmsJob[F Float] struct {
	y, rstd, x, w, res []F
	n                  int
	eps                float64
}

func (j *rmsJob[F]) do(lo, hi int) {
	n := j.n
	for r := lo; r < hi; r++ {
		var res []F
		if j.res != nil {
			res = j.res[r*n : r*n+n]
		}
		j.rstd[r] = rmsRow(j.y[r*n:r*n+n], j.x[r*n:r*n+n], j.w, res, j.eps)
	}
}

// normPart is the number of rows whose norm-weight gradients are summed into
// one partial (CPU.dwPart): the backward row passes of RMSNorm add each row's
// dy ⊙ x·rstd to its part, and partReduceJob then adds the parts to dw in
// part order. The parts are fixed by row index, not by worker, so the sum is
// the same for any worker count; and dy and x are read once, by the pass that
// also computes dx.
const normPart = 64

// rmsBackJob sets dx for rows [lo,hi) (rmsBackRow; dx may be dy) and the
// rows' partial weight gradients Σ_r dy[r]⊙x[r]·rstd[r] (rows in whole parts).
type rmsBackJob[F Float] struct {
	e                  *CPU[F]
	dx, dy, x, rstd, w []F
	n                  int
}

func (j *rmsBackJob[F]) do(lo, hi int) {
	n := j.n
	for p0 := lo; p0 < hi; p0 += normPart {
		part := j.e.dwPart[p0/normPart*n : p0/normPart*n+n]
		clear(part)
		for r := p0; r < min(p0+normPart, hi); r++ {
			dy, x := j.dy[r*n:r*n+n], j.x[r*n:r*n+n]
			vMulAcc(part, dy, x, j.rstd[r]) // before dx overwrites dy
			rmsBackRow(j.dx[r*n:r*n+n], dy, x, j.w, j.rstd[r])
		}
	}
}

// partReduceJob adds the parts of CPU.dwPart (nParts rows of width n1+n2)
// to dw1 (columns < n1) and dw2 (the rest), for columns [lo,hi).
type partReduceJob[F Float] struct {
	e             *CPU[F]
	dw1, dw2      []F
	n1, n2, parts int
}

func (j *partReduceJob[F]) do(lo, hi int) {
	n := j.n1 + j.n2
	for c0 := lo; c0 < hi; {
		c1, dw, base := min(hi, j.n1), j.dw1, 0
		if c0 >= j.n1 {
			c1, dw, base = hi, j.dw2, j.n1
		}
		dst := dw[c0-base : c1-base]
		for p := 0; p < j.parts; p++ {
			vAdd(dst, dst, j.e.dwPart[p*n+c0:p*n+c1])
		}
		c0 = c1
	}
}

// qkNormJob applies QK-norm and RoPE to rows [lo,hi) of layer a:
// q = rope(rms(q_raw)·wq), k = rope(rms(k_raw)·wk), the norms over the full
// projection widths (olmo2.md §2), written head-major to qh and kh; v is
// copied head-major to vh; then k and v go to the transposed tiles kT, vT
// (attention.go), 16 positions at a time so each store run fills a cache line.
type qkNormJob[F Float] struct {
	e      *CPU[F]
	a      *layerActs[F]
	wq, wk []F
}

func (j *qkNormJob[F]) do(lo, hi int) {
	e := j.e
	d := e.attnDims()
	T, HS := d.T, d.HS
	half := HS / 2
	eps := e.Cfg.RMSNormEps
	a := j.a
	for r := lo; r < hi; r++ {
		b, t := r/T, r%T
		pt := t // RoPE position: the row's, or a packed row's own (LogProbsPacked)
		if e.pack.Pos != nil {
			pt = int(e.pack.Pos[r])
		}
		cos, sin := e.cos[pt*half:pt*half+half], e.sin[pt*half:pt*half+half]
		raw := a.qkv[r*d.ldQKV : r*d.ldQKV+d.ldQKV]
		sq := rmsRstd(raw[:d.QC], eps)
		a.qr[r] = sq
		for h := 0; h < d.NH; h++ {
			rmsRopeHead(a.qh[((b*d.NH+h)*T+t)*HS:][:HS], raw[h*HS:h*HS+HS], j.wq[h*HS:h*HS+HS], cos, sin, sq)
		}
		sk := rmsRstd(raw[d.QC:d.QC+d.KC], eps)
		a.kr[r] = sk
		for h := 0; h < d.NKV; h++ {
			g := b*d.NKV + h
			rmsRopeHead(a.kh[(g*T+t)*HS:][:HS], raw[d.QC+h*HS:d.QC+h*HS+HS], j.wk[h*HS:h*HS+HS], cos, sin, sk)
			copy(a.vh[(g*T+t)*HS:][:HS], raw[d.QC+d.KC+h*HS:][:HS])
		}
	}
	// Tile jb = t/64 of group g holds Kᵀ[i][t%64] at ((g·nb + jb)·HS + i)·64 + t%64.
	for r0 := lo; r0 < hi; {
		b, t0 := r0/T, r0%T
		n := min(hi-r0, T-t0, 16-t0%16) // rows of one sequence, within one 16-aligned run
		tile := (t0/attnBlock)*HS*attnBlock + t0%attnBlock
		for g := b * d.NKV; g < (b+1)*d.NKV; g++ {
			base := g*d.nb*HS*attnBlock + tile
			transposeRows(a.kT[base:], attnBlock, a.kh[(g*T+t0)*HS:], HS, n, HS)
			transposeRows(a.vT[base:], attnBlock, a.vh[(g*T+t0)*HS:], HS, n, HS)
		}
		r0 += n
	}
}

// transposeRows sets dst[c·ldd + r] = src[r·lds + c] for r < rows, c < cols.
func transposeRows[F Float](dst []F, ldd int, src []F, lds, rows, cols int) {
	if isF32[F]() {
		transpose32(asF32(dst), ldd, asF32(src), lds, rows, cols)
		return
	}
	for c := 0; c < cols; c++ {
		out := dst[c*ldd : c*ldd+rows]
		for i := range out {
			out[i] = src[i*lds+c]
		}
	}
}

// qkNormBackJob is qkNormJob's backward, for rows [lo,hi) (whole parts of
// normPart rows): it gathers row r of CPU.dqkv from the attention backward's
// head-major dq, dk, dv, undoing RoPE (attnGatherRow), then applies RMSNorm's
// backward to the q and k parts in place, with the weights' partial
// gradients in CPU.dwPart (rmsBackJob).
type qkNormBackJob[F Float] struct {
	e      *CPU[F]
	a      *layerActs[F]
	wq, wk []F // norm weights
}

func (j *qkNormBackJob[F]) do(lo, hi int) {
	e := j.e
	d := e.attnDims()
	a := j.a
	n := d.QC + d.KC
	for p0 := lo; p0 < hi; p0 += normPart {
		part := e.dwPart[p0/normPart*n : p0/normPart*n+n]
		clear(part)
		for r := p0; r < min(p0+normPart, hi); r++ {
			half, t := d.HS/2, r%d.T
			attnGatherRow(&d, e.dqkv, e.dqh, e.dkh, e.dvh, e.cos[t*half:t*half+half], e.sin[t*half:t*half+half], r)
			row := r * d.ldQKV
			dq, dk := e.dqkv[row:row+d.QC], e.dqkv[row+d.QC:row+n]
			xq, xk := a.qkv[row:row+d.QC], a.qkv[row+d.QC:row+n]
			vMulAcc(part[:d.QC], dq, xq, a.qr[r])
			vMulAcc(part[d.QC:], dk, xk, a.kr[r])
			rmsBackRow(dq, dq, xq, j.wq, a.qr[r])
			rmsBackRow(dk, dk, xk, j.wk, a.kr[r])
		}
	}
}

// swigluJob: act[r] = silu(gate[r]) ⊙ up[r], gate and up the two halves of
// the fused projection gu[r] = (gate | up).
type swigluJob[F Float] struct {
	e *CPU[F]
	a *layerActs[F]
}

func (j *swigluJob[F]) do(lo, hi int) {
	I := j.e.Cfg.IntermediateSize
	a := j.a
	for r := lo; r < hi; r++ {
		gu := a.gu[r*2*I : r*2*I+2*I]
		swigluRow(a.act[r*I:r*I+I], gu[:I], gu[I:])
	}
}

// swigluBackJob: dgu[r] = (dgate | dup) from dact[r] (swigluBackRow).
type swigluBackJob[F Float] struct {
	e *CPU[F]
	a *layerActs[F]
}

func (j *swigluBackJob[F]) do(lo, hi int) {
	e := j.e
	I := e.Cfg.IntermediateSize
	a := j.a
	for r := lo; r < hi; r++ {
		gu := a.gu[r*2*I : r*2*I+2*I]
		dgu := e.dgu[r*2*I : r*2*I+2*I]
		swigluBackRow(dgu[:I], dgu[I:], e.dact[r*I:r*I+I], gu[:I], gu[I:])
	}
}

// headJob turns rows [lo,hi) of one logits chunk into logsumexp, CE and z terms,
// and (backward) overwrites them with d total/d logits:
// scale·(softmax·(1 + 2z·lse) − onehot(label)).
// With m = max and p = exp(logit − m), lse = m + ln Σp and softmax = p/Σp, so
// one exp per logit serves both.
type headJob[F Float] struct {
	e        *CPU[F]
	r0       int
	scale, z F
	backward bool
	// rows, when set, maps chunk row r0+i to its position in the batch
	// (LogProbs' head over the labelled rows only)
	rows []int32
}

func (j *headJob[F]) do(lo, hi int) {
	e := j.e
	V := e.Cfg.VocabSize
	for i := lo; i < hi; i++ {
		r := j.r0 + i
		if j.rows != nil {
			r = int(j.rows[r])
		}
		row := e.logits[i*V : i*V+V]
		label := e.labels[r]
		var xl F
		if label != IgnoreIndex {
			xl = row[label]
		}
		mx := vMax(row)
		sum := vExpAffSum(row, row, 1, mx) // row = p
		lse := float64(mx) + math.Log(float64(sum))
		e.lse[r] = F(lse)
		if label == IgnoreIndex {
			e.ce[r], e.zz[r] = 0, 0
			if j.backward {
				clear(row)
			}
			continue
		}
		e.ce[r] = lse - float64(xl)
		e.zz[r] = lse * lse
		if !j.backward {
			continue
		}
		f := j.scale * (1 + 2*j.z*F(lse))
		vScale(row, row, f/sum)
		row[label] -= j.scale
	}
}

// embedBackJob: dW_emb[id_r, i] += dres[r, i] for columns [lo,hi), rows in order.
type embedBackJob[F Float] struct{ e *CPU[F] }

func (j *embedBackJob[F]) do(lo, hi int) {
	e := j.e
	C := e.Cfg.HiddenSize
	G := e.Grads[e.Layout.Embed:]
	for r, id := range e.ids {
		dst := G[int(id)*C+lo : int(id)*C+hi]
		vAdd(dst, dst, e.dres[r*C+lo:r*C+hi])
	}
}

// sumSquaresJob: normBlocks[b] = Σ x² over block b, in float64 (float32
// partial sums over 256 elements at a time, then float64).
type sumSquaresJob[F Float] struct {
	e *CPU[F]
	x []F
}

func (j *sumSquaresJob[F]) do(lo, hi int) {
	for b := lo; b < hi; b++ {
		s := b * normBlock
		end := min(s+normBlock, len(j.x))
		var acc float64
		if isF32[F]() {
			for i := s; i < end; i += 256 {
				x := asF32(j.x[i:min(i+256, end)])
				acc += float64(dot32(x, x))
			}
		} else {
			for _, v := range j.x[s:end] {
				acc += float64(v) * float64(v)
			}
		}
		j.e.normBlocks[b] = acc
	}
}

// clearJob zeroes x[lo:hi] (ZeroGrads on every worker: the gradient buffer
// is as large as the model).
type clearJob[F Float] struct{ x []F }

func (j *clearJob[F]) do(lo, hi int) { clear(j.x[lo:hi]) }
