package model

import "math"

// cpuJobs holds one reusable job per row-parallel kernel. Arguments are set in
// the struct before pool.run, so dispatch allocates nothing.
type cpuJobs[F Float] struct {
	rms     rmsJob[F]
	rmsB    rmsBackJob[F]
	rope    ropeJob[F]
	add     addJob[F]
	swiglu  swigluJob[F]
	swigluB swigluBackJob[F]
	attnF   attnForwardJob[F]
	attnB   attnBackwardJob[F]
	head    headJob[F]
	embB    embedBackJob[F]
	sq      sumSquaresJob[F]
	adamw   adamwJob[F]
	scale   scaleJob[F]
}

func (j *cpuJobs[F]) init(e *CPU[F]) {
	j.rope.e = e
	j.attnF.e = e
	j.attnB.e = e
	j.head.e = e
	j.embB.e = e
	j.sq.e = e
}

type rmsJob[F Float] struct {
	y, rstd, x, w []F
	n             int
	eps           float64
}

func (j *rmsJob[F]) do(lo, hi int) { rmsnormRows(j.y, j.rstd, j.x, j.w, j.n, j.eps, lo, hi) }

type rmsBackJob[F Float] struct {
	dx, dw, dy, x, rstd, w []F
	n, pass                int
}

func (j *rmsBackJob[F]) do(lo, hi int) {
	if j.pass == 0 { // dw[i] += Σ_r dy[r,i]·x[r,i]·rstd[r], columns [lo,hi)
		rows := len(j.rstd)
		for r := 0; r < rows; r++ {
			s := j.rstd[r]
			dy := j.dy[r*j.n+lo : r*j.n+hi]
			x := j.x[r*j.n+lo : r*j.n+hi]
			dw := j.dw[lo:hi]
			for i := range dw {
				dw[i] += dy[i] * x[i] * s
			}
		}
		return
	}
	rmsnormBackRows(j.dx, j.dy, j.x, j.rstd, j.w, j.n, lo, hi)
}

type ropeJob[F Float] struct {
	e     *CPU[F]
	x     []F
	heads int
	sign  F
}

func (j *ropeJob[F]) do(lo, hi int) {
	ropeRows(j.x, j.e.cos, j.e.sin, j.e.T, j.heads, j.e.Cfg.HeadSize(), j.sign, lo, hi)
}

// addJob: dst = a + b over rows of width n.
type addJob[F Float] struct {
	dst, a, b []F
	n         int
}

func (j *addJob[F]) set(dst, a, b []F, n int) { j.dst, j.a, j.b, j.n = dst, a, b, n }

func (j *addJob[F]) do(lo, hi int) {
	d, a, b := j.dst[lo*j.n:hi*j.n], j.a[lo*j.n:hi*j.n], j.b[lo*j.n:hi*j.n]
	for i := range d {
		d[i] = a[i] + b[i]
	}
}

type swigluJob[F Float] struct {
	act, gate, up []F
	n             int
}

func (j *swigluJob[F]) do(lo, hi int) { swigluRows(j.act, j.gate, j.up, j.n, lo, hi) }

type swigluBackJob[F Float] struct {
	dgate, dup, dact, gate, up []F
	n                          int
}

func (j *swigluBackJob[F]) do(lo, hi int) {
	swigluBackRows(j.dgate, j.dup, j.dact, j.gate, j.up, j.n, lo, hi)
}

// attnForwardJob computes causal softmax attention for (b, head) pairs [lo,hi):
// P[t,s] = softmax_s≤t(q_t·k_s/√HS), a_t = Σ_s P[t,s]·v_s, with query head h
// reading kv head h/(NH/NKV) (GQA, olmo2.md §2).
type attnForwardJob[F Float] struct {
	e *CPU[F]
	a *layerActs[F]
}

func (j *attnForwardJob[F]) do(lo, hi int) {
	c := &j.e.Cfg
	T, HS, NH, NKV := j.e.T, c.HeadSize(), c.NumAttentionHeads, c.NumKeyValueHeads
	QC, KC := NH*HS, NKV*HS
	g := NH / NKV
	scale := F(1 / math.Sqrt(float64(HS)))
	a := j.a
	for bh := lo; bh < hi; bh++ {
		b, h := bh/NH, bh%NH
		kvh := h / g
		for t := 0; t < T; t++ {
			q := a.q[(b*T+t)*QC+h*HS : (b*T+t)*QC+h*HS+HS]
			p := a.att[(bh*T+t)*T : (bh*T+t)*T+T]
			mx := F(math.Inf(-1))
			for s := 0; s <= t; s++ {
				k := a.k[(b*T+s)*KC+kvh*HS : (b*T+s)*KC+kvh*HS+HS]
				var d F
				for i, qv := range q {
					d += qv * k[i]
				}
				d *= scale
				p[s] = d
				if d > mx {
					mx = d
				}
			}
			var sum float64
			for s := 0; s <= t; s++ {
				v := F(math.Exp(float64(p[s] - mx)))
				p[s] = v
				sum += float64(v)
			}
			inv := F(1 / sum)
			out := a.a[(b*T+t)*QC+h*HS : (b*T+t)*QC+h*HS+HS]
			clear(out)
			for s := 0; s <= t; s++ {
				p[s] *= inv
				v := a.v[(b*T+s)*KC+kvh*HS : (b*T+s)*KC+kvh*HS+HS]
				w := p[s]
				for i := range out {
					out[i] += w * v[i]
				}
			}
			clear(p[t+1:])
		}
	}
}

// attnBackwardJob handles (b, kv head) groups [lo,hi), so each group owns its
// dk and dv rows: dP = da·vᵀ, dS = P⊙(dP − Σ P⊙dP), dq = dS·k/√HS,
// dk += dSᵀ·q/√HS, dv += Pᵀ·da.
type attnBackwardJob[F Float] struct {
	e *CPU[F]
	a *layerActs[F]
}

func (j *attnBackwardJob[F]) do(lo, hi int) {
	e := j.e
	c := &e.Cfg
	T, HS, NH, NKV := e.T, c.HeadSize(), c.NumAttentionHeads, c.NumKeyValueHeads
	QC, KC := NH*HS, NKV*HS
	g := NH / NKV
	scale := F(1 / math.Sqrt(float64(HS)))
	a := j.a
	for bg := lo; bg < hi; bg++ {
		b, kvh := bg/NKV, bg%NKV
		dp := e.dp[bg*T : bg*T+T]
		for h := kvh * g; h < kvh*g+g; h++ {
			bh := b*NH + h
			for t := 0; t < T; t++ {
				p := a.att[(bh*T+t)*T : (bh*T+t)*T+T]
				da := e.da[(b*T+t)*QC+h*HS : (b*T+t)*QC+h*HS+HS]
				var dot F
				for s := 0; s <= t; s++ {
					v := a.v[(b*T+s)*KC+kvh*HS : (b*T+s)*KC+kvh*HS+HS]
					var d F
					for i, x := range da {
						d += x * v[i]
					}
					dp[s] = d
					dot += d * p[s]
				}
				dq := e.dq[(b*T+t)*QC+h*HS : (b*T+t)*QC+h*HS+HS]
				clear(dq)
				q := a.q[(b*T+t)*QC+h*HS : (b*T+t)*QC+h*HS+HS]
				for s := 0; s <= t; s++ {
					ds := p[s] * (dp[s] - dot) * scale
					k := a.k[(b*T+s)*KC+kvh*HS : (b*T+s)*KC+kvh*HS+HS]
					dk := e.dk[(b*T+s)*KC+kvh*HS : (b*T+s)*KC+kvh*HS+HS]
					dv := e.dv[(b*T+s)*KC+kvh*HS : (b*T+s)*KC+kvh*HS+HS]
					ps := p[s]
					for i := range dq {
						dq[i] += ds * k[i]
						dk[i] += ds * q[i]
						dv[i] += ps * da[i]
					}
				}
			}
		}
	}
}

// headJob turns rows [lo,hi) of one logits chunk into logsumexp, CE and z terms,
// and (backward) overwrites them with d total/d logits:
// scale·(softmax·(1 + 2z·lse) − onehot(label)).
type headJob[F Float] struct {
	e        *CPU[F]
	r0       int
	scale, z F
	backward bool
}

func (j *headJob[F]) do(lo, hi int) {
	e := j.e
	V := e.Cfg.VocabSize
	for i := lo; i < hi; i++ {
		r := j.r0 + i
		row := e.logits[i*V : i*V+V]
		mx := row[0]
		for _, v := range row {
			if v > mx {
				mx = v
			}
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v - mx))
		}
		lse := float64(mx) + math.Log(sum)
		e.lse[r] = F(lse)
		label := e.labels[r]
		if label == IgnoreIndex {
			e.ce[r], e.zz[r] = 0, 0
			if j.backward {
				clear(row)
			}
			continue
		}
		e.ce[r] = lse - float64(row[label])
		e.zz[r] = lse * lse
		if !j.backward {
			continue
		}
		f := j.scale * (1 + 2*j.z*F(lse))
		l := F(lse)
		for k, v := range row {
			row[k] = f * F(math.Exp(float64(v-l)))
		}
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
		src := e.dres[r*C+lo : r*C+hi]
		dst := G[int(id)*C+lo : int(id)*C+hi]
		for i, v := range src {
			dst[i] += v
		}
	}
}

// sumSquaresJob: normBlocks[b] = Σ x² over block b (float64).
type sumSquaresJob[F Float] struct {
	e *CPU[F]
	x []F
}

func (j *sumSquaresJob[F]) do(lo, hi int) {
	for b := lo; b < hi; b++ {
		s := b * normBlock
		end := min(s+normBlock, len(j.x))
		var acc float64
		for _, v := range j.x[s:end] {
			acc += float64(v) * float64(v)
		}
		j.e.normBlocks[b] = acc
	}
}

type scaleJob[F Float] struct {
	x []F
	s F
}

func (j *scaleJob[F]) do(lo, hi int) {
	x := j.x[lo:hi]
	for i := range x {
		x[i] *= j.s
	}
}
