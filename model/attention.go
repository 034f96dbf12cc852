package model

import (
	"math"
	"sync/atomic"
)

// Causal self-attention, blocked so that memory stays linear in T (the
// FlashAttention-2 schedule, Dao 2023, on a CPU):
//
//	S = Q_i·K_jᵀ/√HS                    for query block i, key block j ≤ i
//	forward:  online softmax over j — m = max(m, rowmax S), P = exp(S − m),
//	          l = l·e^(m_old−m) + Σ P, O = O·e^(m_old−m) + P·V_j; at the end
//	          O /= l and the row's logsumexp L = m + ln l is kept (B,NH,T)
//	backward: P = exp(S − L) recomputed block by block, D = rowsum(dO ⊙ O),
//	          dV_j += Pᵀ·dO_i, dP = dO_i·V_jᵀ, dS = P ⊙ (dP − D)/√HS,
//	          dQ_i += dS·K_j, dK_j += dSᵀ·Q_i
//
// Blocks are attnBlock×attnBlock. The products are small (64×64×HS), so
// they run on mmStrided32's register-tile kernels rather than gemm.Sgemm,
// which would pack both operands for every tile and draw a workspace from a
// sync.Pool on each call from a worker goroutine. Those kernels read the
// left operand by broadcasts at any strides (so P·V and Pᵀ·dO are the same
// kernel) and stream the right one by rows along the output columns, so every
// right operand is kept contiguous. (With the natural (BT, QC+2KC) rows, a
// 64-row operand at a stride of a few KiB falls into a handful of L1 sets and
// is refetched from L2 on every use.) Hence the layouts:
//
//   - the QK-norm pass (qkNormJob) writes q, k and v head-major, (B,NH,T,HS)
//     and (B,NKV,T,HS), plus Kᵀ and Vᵀ in tiles of 64 positions,
//     (B,NKV,nb,HS,64), for S = Q·Kᵀ and dP = dO·Vᵀ;
//   - the output goes to layerActs.a (BT,QC), which o_proj reads;
//   - before the backward items, a row pass (attnPrepJob) copies dO = CPU.da
//     (BT,QC) head-major and computes D for every head, reading each row of dO
//     and O once, in order;
//   - the backward accumulates dq in CPU.dqh (B,NH,T,HS), dk and dv in CPU.dkh
//     and CPU.dvh (B,NKV,T,HS); the QK-norm backward row pass gathers them
//     into CPU.dqkv (BT,QC+2KC), the layout of the fused projection, undoing
//     RoPE on the way (attnGatherRow).
//
// The parallelism is ours alone (the kernels run on the calling goroutine):
// whole work items ((b, head, query block) forward, (b, kv head) backward,
// which then owns its dk and dv rows) are handed out to the engine's workers
// from an atomic counter, heaviest first. Each item's result is independent
// of which worker computes it, so the output is the same for any worker
// count and any timing. Query head h reads kv head h/(NH/NKV) (GQA,
// olmo2.md §2).

// attnBlock is the tile edge: 64×64 scores (16 KiB) and a 64×HS panel of each
// operand stay in L1/L2 for HS ≤ 128. Score rows are padded to a multiple of
// 16 floats (a zmm) so that every tile product runs on the SIMD kernels; the
// Kᵀ and Vᵀ tiles are always 64 wide, zero beyond T.
const attnBlock = 64

func pad16(n int) int { return (n + 15) &^ 15 }

// mm is mmStrided32 for float32 and its plain Go twin for float64.
func mm[F Float](m, n, k int, a []F, ai, ap int, b []F, ldb int, c []F, ldc int, acc bool) {
	if isF32[F]() {
		mmStrided32(m, n, k, asF32(a), ai, ap, asF32(b), ldb, asF32(c), ldc, acc)
		return
	}
	mmStridedGo(m, n, k, a, ai, ap, b, ldb, c, ldc, acc)
}

// attnScratch is one worker's tiles.
type attnScratch[F Float] struct {
	s, dp []F // (blk,pad16(blk)) scores → probabilities; dP → dS
	m, l  []F // (blk) running max and sum of the query block's rows
	o     []F // (blk,HS) output rows being accumulated
}

func newAttnScratch[F Float](workers, T, HS int) []attnScratch[F] {
	blk := min(attnBlock, T)
	sc := make([]attnScratch[F], workers)
	for i := range sc {
		sc[i] = attnScratch[F]{s: make([]F, blk*pad16(blk)), dp: make([]F, blk*pad16(blk)),
			m: make([]F, blk), l: make([]F, blk), o: make([]F, blk*HS)}
	}
	return sc
}

// attnDims are the shapes every attention item needs.
type attnDims struct {
	B, T, NH, NKV, HS int
	QC, KC            int
	ldQKV             int     // row stride of qkv and dqkv: QC+2KC
	nb                int     // blocks per sequence
	scale             float64 // 1/√HS
}

func (e *CPU[F]) attnDims() attnDims {
	c := &e.Cfg
	d := attnDims{B: e.B, T: e.T, NH: c.NumAttentionHeads, NKV: c.NumKeyValueHeads, HS: c.HeadSize(),
		QC: c.QWidth(), KC: c.KVWidth()}
	d.ldQKV = d.QC + 2*d.KC
	d.nb = (d.T + attnBlock - 1) / attnBlock
	d.scale = 1 / math.Sqrt(float64(d.HS))
	return d
}

// attnForwardJob computes layer a's attention output and logsumexps. Run it
// with pool.run(workers, 1, ·): do(w, w+1) is worker w, which takes items
// from next until none are left.
type attnForwardJob[F Float] struct {
	e    *CPU[F]
	a    *layerActs[F]
	next atomic.Int64
}

func (j *attnForwardJob[F]) do(lo, hi int) {
	e := j.e
	d := e.attnDims()
	items := int64(d.B * d.NH * d.nb)
	for w := lo; w < hi; w++ {
		sc := &e.attnSc[w]
		for {
			it := j.next.Add(1) - 1
			if it >= items {
				break
			}
			// heaviest first: the last query block sees every key block
			bh := int(it) % (d.B * d.NH)
			ib := d.nb - 1 - int(it)/(d.B*d.NH)
			attnForwardBlock(&d, j.a, sc, &e.pack, bh/d.NH, bh%d.NH, ib)
		}
	}
}

// attnForwardBlock computes query block ib of head h in sequence b.
//
// In a packed row (LogProbsPacked) query t sees keys [0, prefix) and
// [seg_t, t]: the keys between are masked, left out of its softmax.
func attnForwardBlock[F Float](d *attnDims, a *layerActs[F], sc *attnScratch[F], pk *Packing, b, h, ib int) {
	T, HS := d.T, d.HS
	kvh := h / (d.NH / d.NKV)
	g := b*d.NKV + kvh
	scale := F(d.scale)
	t0 := ib * attnBlock
	br := min(attnBlock, T-t0)
	q := a.qh[((b*d.NH+h)*T+t0)*HS:] // (br,HS)
	o := sc.o[:br*HS]                // (br,HS)
	m, l := sc.m[:br], sc.l[:br]
	for jb := 0; jb <= ib; jb++ {
		s0 := jb * attnBlock
		bc := min(attnBlock, T-s0)
		ld := pad16(bc)
		kT := a.kT[(g*d.nb+jb)*HS*attnBlock:]                 // (HS,64)
		v := a.vh[(g*T+s0)*HS:]                               // (bc,HS)
		s := sc.s[:br*ld]                                     // (br,ld)
		mm(br, ld, HS, q, HS, 1, kT, attnBlock, s, ld, false) // S = Q·Kᵀ (unscaled)
		for r := 0; r < br; r++ {
			row := s[r*ld : r*ld+bc]
			nv := bc
			if jb == ib {
				nv = r + 1 // causal: keys s0..t0+r (blocks are aligned, t0 = s0)
			}
			if pk.Seg != nil {
				// keys [lo, hi) of this block are another segment's
				lo := min(max(int(pk.Prefix[b])-s0, 0), nv)
				hi := min(max(int(pk.Seg[b*T+t0+r])-s0, 0), nv)
				if lo < hi {
					maskedRow(row, lo, hi, nv, scale, jb == 0, m, l, o[r*HS:r*HS+HS], r)
					clear(row[nv:])
					continue
				}
			}
			mx := scale * vMax(row[:nv])
			if jb == 0 {
				l[r] = vExpAffSum(row[:nv], row[:nv], scale, mx)
				m[r] = mx
			} else {
				mNew := max(m[r], mx)
				sum := vExpAffSum(row[:nv], row[:nv], scale, mNew)
				if mNew != m[r] {
					corr := F(math.Exp(float64(m[r] - mNew)))
					or := o[r*HS : r*HS+HS]
					vScale(or, or, corr)
					l[r] *= corr
				}
				l[r] += sum
				m[r] = mNew
			}
			clear(row[nv:])
		}
		mm(br, HS, bc, s, ld, 1, v, HS, o, HS, jb > 0) // O (+)= P·V
	}
	lse := a.lse[(b*d.NH+h)*T+t0:]
	out := a.a[(b*T+t0)*d.QC+h*HS:] // (br,HS) stride QC
	for r := 0; r < br; r++ {
		vScale(out[r*d.QC:r*d.QC+HS], o[r*HS:r*HS+HS], 1/l[r])
		lse[r] = m[r] + F(math.Log(float64(l[r])))
	}
}

// maskedRow is the online-softmax update of query row r for one key block
// whose keys [lo, hi) (of nv) are masked: the block's scores row becomes its
// probabilities, 0 at the masked keys, and m[r], l[r] and the row's output
// or are rescaled. Key 0 is never masked (a packed row's prefix is not
// empty), so the first block always has keys.
func maskedRow[F Float](row []F, lo, hi, nv int, scale F, first bool, m, l, or []F, r int) {
	if lo == 0 && hi == nv { // nothing of this block: the row adds nothing
		clear(row[:nv])
		return
	}
	mx := F(math.Inf(-1))
	if lo > 0 {
		mx = scale * vMax(row[:lo])
	}
	if hi < nv {
		mx = max(mx, scale*vMax(row[hi:nv]))
	}
	mNew := mx
	if !first {
		mNew = max(m[r], mx)
	}
	var sum F
	if lo > 0 {
		sum += vExpAffSum(row[:lo], row[:lo], scale, mNew)
	}
	if hi < nv {
		sum += vExpAffSum(row[hi:nv], row[hi:nv], scale, mNew)
	}
	clear(row[lo:hi])
	if first {
		l[r], m[r] = sum, mNew
		return
	}
	if mNew != m[r] {
		corr := F(math.Exp(float64(m[r] - mNew)))
		vScale(or, or, corr)
		l[r] *= corr
	}
	l[r] += sum
	m[r] = mNew
}

// attnPrepJob, for rows [lo,hi) of dO = CPU.da, writes dO head-major to
// CPU.dOh (B,NH,T,HS) and D_t = dO_t·O_t to CPU.attnD (B,NH,T).
type attnPrepJob[F Float] struct {
	e *CPU[F]
	a *layerActs[F]
}

func (j *attnPrepJob[F]) do(lo, hi int) {
	e := j.e
	d := e.attnDims()
	for r := lo; r < hi; r++ {
		b, t := r/d.T, r%d.T
		dO, o := e.da[r*d.QC:r*d.QC+d.QC], j.a.a[r*d.QC:r*d.QC+d.QC]
		for h := 0; h < d.NH; h++ {
			bh := b*d.NH + h
			copy(e.dOh[(bh*d.T+t)*d.HS:][:d.HS], dO[h*d.HS:h*d.HS+d.HS])
			e.attnD[bh*d.T+t] = vDot(dO[h*d.HS:h*d.HS+d.HS], o[h*d.HS:h*d.HS+d.HS])
		}
	}
}

// attnBackwardJob computes dq, dk, dv of layer a from dO = CPU.da; the items
// are (b, kv head) groups, each owning its dk and dv rows. Run it as
// attnForwardJob.
type attnBackwardJob[F Float] struct {
	e    *CPU[F]
	a    *layerActs[F]
	next atomic.Int64
}

func (j *attnBackwardJob[F]) do(lo, hi int) {
	e := j.e
	d := e.attnDims()
	items := int64(d.B * d.NKV)
	for w := lo; w < hi; w++ {
		sc := &e.attnSc[w]
		for {
			it := j.next.Add(1) - 1
			if it >= items {
				break
			}
			attnBackwardGroup(&d, j.a, sc, e.dOh, e.attnD, e.dqh, e.dkh, e.dvh, int(it)/d.NKV, int(it)%d.NKV)
		}
	}
}

// attnBackwardGroup handles the query heads of kv head kvh in sequence b.
func attnBackwardGroup[F Float](d *attnDims, a *layerActs[F], sc *attnScratch[F], dOh, attnD, dqh, dkh, dvh []F, b, kvh int) {
	T, HS := d.T, d.HS
	gs := d.NH / d.NKV
	g := b*d.NKV + kvh
	scale := F(d.scale)
	k := a.kh[g*T*HS:]                                       // (T,HS)
	dk, dv := dkh[g*T*HS:(g+1)*T*HS], dvh[g*T*HS:(g+1)*T*HS] // (T,HS) this group's
	for hi := 0; hi < gs; hi++ {
		h := kvh*gs + hi
		q := a.qh[(b*d.NH+h)*T*HS:] // (T,HS)
		lse := a.lse[(b*d.NH+h)*T:]
		dO := dOh[(b*d.NH+h)*T*HS:] // (T,HS)
		dq := dqh[(b*d.NH+h)*T*HS:]
		D := attnD[(b*d.NH+h)*T:] // (T)
		for jb := 0; jb < d.nb; jb++ {
			s0 := jb * attnBlock
			bc := min(attnBlock, T-s0)
			ld := pad16(bc)
			kT := a.kT[(g*d.nb+jb)*HS*attnBlock:] // (HS,64)
			vT := a.vT[(g*d.nb+jb)*HS*attnBlock:]
			for ib := jb; ib < d.nb; ib++ {
				t0 := ib * attnBlock
				br := min(attnBlock, T-t0)
				p, dp := sc.s[:br*ld], sc.dp[:br*ld]                          // (br,ld)
				mm(br, ld, HS, q[t0*HS:], HS, 1, kT, attnBlock, p, ld, false) // S = Q·Kᵀ
				for r := 0; r < br; r++ {                                     // P = exp(S/√HS − L)
					row := p[r*ld : r*ld+bc]
					nv := bc
					if ib == jb {
						nv = r + 1
					}
					vExpAffSum(row[:nv], row[:nv], scale, lse[t0+r])
					clear(row[nv:])
				}
				// The first write to the group's dk_j, dv_j and to head h's
				// dq_i overwrites; later ones accumulate.
				accKV := hi > 0 || ib > jb
				mm(bc, HS, br, p, 1, ld, dO[t0*HS:], HS, dv[s0*HS:], HS, accKV) // dV += Pᵀ·dO
				mm(br, ld, HS, dO[t0*HS:], HS, 1, vT, attnBlock, dp, ld, false) // dP = dO·Vᵀ
				for r := 0; r < br; r++ {                                       // dS = P ⊙ (dP − D)/√HS
					vDsRow(dp[r*ld:r*ld+bc], p[r*ld:r*ld+bc], dp[r*ld:r*ld+bc], D[t0+r], scale)
				}
				mm(br, HS, bc, dp, ld, 1, k[s0*HS:], HS, dq[t0*HS:], HS, jb > 0) // dQ += dS·K
				mm(bc, HS, br, dp, 1, ld, q[t0*HS:], HS, dk[s0*HS:], HS, accKV)  // dK += dSᵀ·Q
			}
		}
	}
}

// attnGatherRow writes row r of dqkv from the head-major dqh, dkh, dvh, dq
// and dk rotated back by the inverse RoPE (cos, sin: this row's position), so
// that dqkv holds the gradients of the QK-norm outputs and of v.
func attnGatherRow[F Float](d *attnDims, dqkv, dqh, dkh, dvh, cos, sin []F, r int) {
	b, t := r/d.T, r%d.T
	HS := d.HS
	row := dqkv[r*d.ldQKV : (r+1)*d.ldQKV]
	for h := 0; h < d.NH; h++ {
		ropeHeadTo(row[h*HS:h*HS+HS], dqh[((b*d.NH+h)*d.T+t)*HS:][:HS], cos, sin, -1)
	}
	for h := 0; h < d.NKV; h++ {
		src := ((b*d.NKV+h)*d.T + t) * HS
		ropeHeadTo(row[d.QC+h*HS:d.QC+h*HS+HS], dkh[src:src+HS], cos, sin, -1)
		copy(row[d.QC+d.KC+h*HS:d.QC+d.KC+h*HS+HS], dvh[src:src+HS])
	}
}
