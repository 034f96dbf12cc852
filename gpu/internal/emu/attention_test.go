//go:build emu

package emu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// buf is a host buffer the emulated kernels read and write.
type buf struct {
	p uintptr
	n int // elements
	t int // 0 f32, 1 bf16
}

func newBuf(n, t int) buf {
	sz := int64(n * 4)
	if t == 1 {
		sz = int64(n * 2)
	}
	return buf{Alloc(sz), n, t}
}

func (b buf) set(v []float64) {
	for i, x := range v {
		if b.t == 0 {
			*(*float32)(HostPtr(b.p + uintptr(4*i))) = float32(x)
		} else {
			*(*uint16)(HostPtr(b.p + uintptr(2*i))) = toBF16(float32(x))
		}
	}
}

func (b buf) get() []float64 {
	out := make([]float64, b.n)
	for i := range out {
		if b.t == 0 {
			out[i] = float64(*(*float32)(HostPtr(b.p + uintptr(4*i))))
		} else {
			u := uint32(*(*uint16)(HostPtr(b.p + uintptr(2*i)))) << 16
			out[i] = float64(math.Float32frombits(u))
		}
	}
	return out
}

func toBF16(f float32) uint16 {
	u := math.Float32bits(f)
	u += 0x7fff + ((u >> 16) & 1)
	return uint16(u >> 16)
}

func roundBF16(x float64) float64 {
	return float64(math.Float32frombits(uint32(toBF16(float32(x))) << 16))
}

type attnCase struct{ B, T, NH, NKV, HS int }

// refAttention is float64 causal GQA attention and its backward pass, the
// formulas of model/jobs.go.
func refAttention(c attnCase, q, k, v, do []float64) (o, dq, dk, dv []float64) {
	QC, KC := c.NH*c.HS, c.NKV*c.HS
	g := c.NH / c.NKV
	scale := 1 / math.Sqrt(float64(c.HS))
	o = make([]float64, c.B*c.T*QC)
	dq = make([]float64, len(o))
	dk = make([]float64, c.B*c.T*KC)
	dv = make([]float64, len(dk))
	p := make([]float64, c.T)
	dp := make([]float64, c.T)
	for b := 0; b < c.B; b++ {
		for h := 0; h < c.NH; h++ {
			kh := h / g
			for t := 0; t < c.T; t++ {
				qi := (b*c.T+t)*QC + h*c.HS
				mx := math.Inf(-1)
				for s := 0; s <= t; s++ {
					ki := (b*c.T+s)*KC + kh*c.HS
					d := 0.0
					for i := 0; i < c.HS; i++ {
						d += q[qi+i] * k[ki+i]
					}
					p[s] = d * scale
					mx = math.Max(mx, p[s])
				}
				sum := 0.0
				for s := 0; s <= t; s++ {
					p[s] = math.Exp(p[s] - mx)
					sum += p[s]
				}
				dot := 0.0
				for s := 0; s <= t; s++ {
					p[s] /= sum
					vi := (b*c.T+s)*KC + kh*c.HS
					d := 0.0
					for i := 0; i < c.HS; i++ {
						o[qi+i] += p[s] * v[vi+i]
						d += do[qi+i] * v[vi+i]
					}
					dp[s] = d
					dot += d * p[s]
				}
				for s := 0; s <= t; s++ {
					ki := (b*c.T+s)*KC + kh*c.HS
					ds := p[s] * (dp[s] - dot) * scale
					for i := 0; i < c.HS; i++ {
						dq[qi+i] += ds * k[ki+i]
						dk[ki+i] += ds * q[qi+i]
						dv[ki+i] += p[s] * do[qi+i]
					}
				}
			}
		}
	}
	return
}

func relErr(got, want []float64) float64 {
	var maxRef, maxAbs float64
	for i := range want {
		maxRef = math.Max(maxRef, math.Abs(want[i]))
		d := math.Abs(got[i] - want[i])
		if math.IsNaN(got[i]) {
			d = math.Inf(1)
		}
		maxAbs = math.Max(maxAbs, d)
	}
	return maxAbs / maxRef
}

func u64f(f float32) uint64 { return uint64(math.Float32bits(f)) }

// attnRun names the kernels of one attention launch: "f32" or "bf16" (the
// CUDA-core kernels), "mma" (attention_mma.cu) or "v2" (attention_v2.cu)
// with its warps per block (forward, dQ, dK/dV) and the emulated cp.async
// timing (early: at issue; otherwise at the wait).
type attnRun struct {
	kind  string
	nw    [3]int
	early bool
}

func (r attnRun) String() string {
	if r.kind == "v2" {
		return fmt.Sprintf("v2_%d-%d-%d_early%v", r.nw[0], r.nw[1], r.nw[2], r.early)
	}
	return r.kind
}

// v2Smem is the dynamic shared memory of the v2 kernels (attention_v2.cu's
// header; gpu/attention.go computes the same for the engine).
func v2Smem(kernel string, hs, nw int) uint32 {
	lds := hs + 8
	if kernel == "dkv" {
		return uint32(64*nw*lds + 512*lds + 1024)
	}
	return uint32(512 * lds)
}

// attnOut is what one run of the kernels wrote.
type attnOut struct{ o, lse, dq, dk, dv []float64 }

// runAttention launches forward, D, dq and dk/dv on q, k, v and dout (each
// (B·T, NH·HS) or (B·T, NKV·HS), compact rows) and returns the results.
func runAttention(t *testing.T, c attnCase, run attnRun, q, k, v, do []float64) attnOut {
	t.Helper()
	QC, KC := c.NH*c.HS, c.NKV*c.HS
	R := c.B * c.T
	ty, sfx := 1, "_bf16"
	if run.kind == "f32" {
		ty, sfx = 0, "_f32"
	}
	bq, bk, bv, bdo := newBuf(R*QC, ty), newBuf(R*KC, ty), newBuf(R*KC, ty), newBuf(R*QC, ty)
	bq.set(q)
	bk.set(k)
	bv.set(v)
	bdo.set(do)
	bo, bdq, bdk, bdv := newBuf(R*QC, ty), newBuf(R*QC, ty), newBuf(R*KC, ty), newBuf(R*KC, ty)
	lse, D := newBuf(c.B*c.NH*c.T, 0), newBuf(c.B*c.NH*c.T, 0)
	defer func() {
		for _, b := range []buf{bq, bk, bv, bdo, bo, bdq, bdk, bdv, lse, D} {
			Free(b.p)
		}
	}()
	scale := u64f(float32(1 / math.Sqrt(float64(c.HS))))
	p := func(b buf) uint64 { return uint64(b.p) }
	i := func(x int) uint64 { return uint64(uint32(int32(x))) }
	ceil := func(a, b int) uint32 { return uint32((a + b - 1) / b) }
	kt := min(64, 4096/c.HS)
	hs := fmt.Sprint(c.HS)
	fwdArgs := []uint64{p(bo), p(lse), p(bq), p(bk), p(bv), i(QC), i(KC), i(KC), i(QC), i(c.T), i(c.NH), i(c.NKV), scale}
	dqArgs := []uint64{p(bdq), i(QC), p(bq), p(bk), p(bv), p(bdo), p(lse), p(D), i(QC), i(KC), i(KC), i(QC), i(c.T), i(c.NH), i(c.NKV), scale}
	dkvArgs := []uint64{p(bdk), p(bdv), i(KC), i(KC), p(bq), p(bk), p(bv), p(bdo), p(lse), p(D), i(QC), i(KC), i(KC), i(QC), i(c.T), i(c.NH), i(c.NKV), scale}
	switch run.kind {
	case "mma":
		must(t, Launch("attn_fwd_mma"+hs, [3]uint32{ceil(c.T, 64), uint32(c.NH), uint32(c.B)}, [3]uint32{128, 1, 1}, 0, fwdArgs))
	case "v2":
		SetEarlyCopies(run.early)
		defer SetEarlyCopies(false)
		must(t, Launch("attn_fwd_v2_"+hs, [3]uint32{ceil(c.T, 16*run.nw[0]), uint32(c.NH), uint32(c.B)},
			[3]uint32{uint32(32 * run.nw[0]), 1, 1}, v2Smem("fwd", c.HS, run.nw[0]), fwdArgs))
	default:
		must(t, Launch("attn_fwd"+sfx, [3]uint32{ceil(c.T, 4), uint32(c.NH), uint32(c.B)}, [3]uint32{128, 1, 1}, uint32(2*kt*c.HS*4),
			[]uint64{p(bo), p(lse), p(bq), p(bk), p(bv), i(QC), i(KC), i(KC), i(QC), i(c.T), i(c.NH), i(c.NKV), i(c.HS), scale, i(kt)}))
	}
	must(t, Launch("attn_bwd_pre"+sfx, [3]uint32{ceil(R*c.NH, 4), 1, 1}, [3]uint32{128, 1, 1}, 0,
		[]uint64{p(D), p(bo), p(bdo), i(QC), i(QC), i(c.B), i(c.T), i(c.NH), i(c.HS)}))
	switch run.kind {
	case "mma":
		must(t, Launch("attn_bwd_dq_mma"+hs, [3]uint32{ceil(c.T, 64), uint32(c.NH), uint32(c.B)}, [3]uint32{128, 1, 1}, 0, dqArgs))
		must(t, Launch("attn_bwd_dkv_mma"+hs, [3]uint32{ceil(c.T, 64), uint32(c.NKV), uint32(c.B)}, [3]uint32{128, 1, 1}, 0, dkvArgs))
	case "v2":
		must(t, Launch("attn_bwd_dq_v2_"+hs, [3]uint32{ceil(c.T, 16*run.nw[1]), uint32(c.NH), uint32(c.B)},
			[3]uint32{uint32(32 * run.nw[1]), 1, 1}, v2Smem("dq", c.HS, run.nw[1]), dqArgs))
		must(t, Launch("attn_bwd_dkv_v2_"+hs, [3]uint32{ceil(c.T, 16*run.nw[2]), uint32(c.NKV), uint32(c.B)},
			[3]uint32{uint32(32 * run.nw[2]), 1, 1}, v2Smem("dkv", c.HS, run.nw[2]), dkvArgs))
	default:
		must(t, Launch("attn_bwd_dq"+sfx, [3]uint32{ceil(c.T, 4), uint32(c.NH), uint32(c.B)}, [3]uint32{128, 1, 1}, uint32(2*kt*c.HS*4),
			[]uint64{p(bdq), i(QC), p(bq), p(bk), p(bv), p(bdo), p(lse), p(D), i(QC), i(KC), i(KC), i(QC), i(c.T), i(c.NH), i(c.NKV), i(c.HS), scale, i(kt)}))
		must(t, Launch("attn_bwd_dkv"+sfx, [3]uint32{ceil(c.T, 4), uint32(c.NKV), uint32(c.B)}, [3]uint32{128, 1, 1}, uint32((2*kt*c.HS+2*kt)*4),
			[]uint64{p(bdk), p(bdv), i(KC), i(KC), p(bq), p(bk), p(bv), p(bdo), p(lse), p(D), i(QC), i(KC), i(KC), i(QC), i(c.T), i(c.NH), i(c.NKV), i(c.HS), scale, i(kt)}))
	}
	return attnOut{o: bo.get(), lse: lse.get(), dq: bdq.get(), dk: bdk.get(), dv: bdv.get()}
}

// refLSE is log Σ_{s≤t} exp(q_t·k_s·scale) per (b, h, t), in float64.
func refLSE(c attnCase, q, k []float64) []float64 {
	QC, KC := c.NH*c.HS, c.NKV*c.HS
	scale := 1 / math.Sqrt(float64(c.HS))
	out := make([]float64, c.B*c.NH*c.T)
	sc := make([]float64, c.T)
	for b := 0; b < c.B; b++ {
		for h := 0; h < c.NH; h++ {
			kh := h / (c.NH / c.NKV)
			for t := 0; t < c.T; t++ {
				mx := math.Inf(-1)
				for s := 0; s <= t; s++ {
					d := 0.0
					for i := 0; i < c.HS; i++ {
						d += q[(b*c.T+t)*QC+h*c.HS+i] * k[(b*c.T+s)*KC+kh*c.HS+i]
					}
					sc[s] = d * scale
					mx = math.Max(mx, sc[s])
				}
				sum := 0.0
				for s := 0; s <= t; s++ {
					sum += math.Exp(sc[s] - mx)
				}
				out[(b*c.NH+h)*c.T+t] = mx + math.Log(sum)
			}
		}
	}
	return out
}

// TestAttentionKernels runs every attention variant (forward, D, dq, dk/dv)
// on random inputs against float64 attention; the v2 kernels in several
// warp layouts and both cp.async timings, which must agree bit for bit (a
// row's sums do not depend on the block it sits in).
func TestAttentionKernels(t *testing.T) {
	v2 := []attnRun{{"v2", [3]int{4, 4, 4}, false}, {"v2", [3]int{8, 8, 8}, true}, {"v2", [3]int{8, 4, 8}, false}}
	cases := []struct {
		c    attnCase
		runs []attnRun
	}{
		{attnCase{2, 24, 6, 2, 8}, []attnRun{{kind: "f32"}}},
		{attnCase{1, 37, 2, 2, 24}, []attnRun{{kind: "f32"}}},
		{attnCase{1, 70, 2, 1, 64}, append([]attnRun{{kind: "bf16"}, {kind: "mma"}}, v2...)},
		{attnCase{2, 45, 2, 2, 128}, append([]attnRun{{kind: "mma"}}, v2...)},
		{attnCase{1, 130, 4, 2, 64}, append([]attnRun{{kind: "mma"}}, v2...)},
		{attnCase{1, 200, 2, 1, 128}, append([]attnRun{{kind: "mma"}}, v2...)},
		{attnCase{1, 256, 2, 2, 64}, v2[:2]},
	}
	for _, tc := range cases {
		c := tc.c
		r := rand.New(rand.NewPCG(uint64(c.T), uint64(c.HS)))
		QC, KC := c.NH*c.HS, c.NKV*c.HS
		R := c.B * c.T
		bf := tc.runs[0].kind != "f32"
		rnd := func(n int, s float64) []float64 {
			x := make([]float64, n)
			for i := range x {
				x[i] = r.NormFloat64() * s
				if bf {
					x[i] = roundBF16(x[i])
				}
			}
			return x
		}
		// q and k of standard deviation 1.5: scores of a few units, some
		// rows dominated by one key, as after QK-norm
		q, k, v, do := rnd(R*QC, 1.5), rnd(R*KC, 1.5), rnd(R*KC, 1), rnd(R*QC, 0.1)
		o, dq, dk, dv := refAttention(c, q, k, v, do)
		lse := refLSE(c, q, k)
		var first *attnOut
		for _, run := range tc.runs {
			name := fmt.Sprintf("%s_B%dT%dNH%dNKV%dHS%d", run, c.B, c.T, c.NH, c.NKV, c.HS)
			t.Run(name, func(t *testing.T) {
				got := runAttention(t, c, run, q, k, v, do)
				fwdTol, bwdTol := 2e-6, 1e-5
				if bf {
					fwdTol, bwdTol = 1.5e-2, 3e-2
				}
				for _, x := range []struct {
					n         string
					got, want []float64
					tol       float64
				}{{"o", got.o, o, fwdTol}, {"lse", got.lse, lse, 1e-5}, {"dq", got.dq, dq, bwdTol}, {"dk", got.dk, dk, bwdTol}, {"dv", got.dv, dv, bwdTol}} {
					if e := relErr(x.got, x.want); !(e < x.tol) {
						t.Errorf("%s: rel err %.3g > %.3g", x.n, e, x.tol)
					} else {
						t.Logf("%s: rel err %.3g", x.n, e)
					}
				}
				if run.kind != "v2" {
					return
				}
				if first == nil {
					first = &got
					return
				}
				for _, x := range []struct {
					n      string
					a, ref []float64
				}{{"o", got.o, first.o}, {"lse", got.lse, first.lse}, {"dq", got.dq, first.dq}, {"dk", got.dk, first.dk}, {"dv", got.dv, first.dv}} {
					for i := range x.a {
						if math.Float64bits(x.a[i]) != math.Float64bits(x.ref[i]) {
							t.Errorf("%s[%d] = %v, the first v2 layout gave %v: results depend on the layout", x.n, i, x.a[i], x.ref[i])
							break
						}
					}
				}
			})
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
