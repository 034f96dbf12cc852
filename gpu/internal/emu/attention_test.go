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

// TestAttentionKernels runs the plain and the tensor-core attention kernels
// (forward, D, dq, dk/dv) on random inputs against float64 attention.
func TestAttentionKernels(t *testing.T) {
	cases := []struct {
		c    attnCase
		mma  bool
		kind string // "f32", "bf16"
	}{
		{attnCase{2, 24, 6, 2, 8}, false, "f32"},
		{attnCase{1, 37, 2, 2, 24}, false, "f32"},
		{attnCase{1, 70, 2, 1, 64}, false, "bf16"},
		{attnCase{1, 70, 2, 1, 64}, true, "bf16"},
		{attnCase{2, 45, 2, 2, 128}, true, "bf16"},
		{attnCase{1, 130, 4, 2, 64}, true, "bf16"},
	}
	for _, tc := range cases {
		c := tc.c
		name := fmt.Sprintf("%s_mma%v_B%dT%dNH%dNKV%dHS%d", tc.kind, tc.mma, c.B, c.T, c.NH, c.NKV, c.HS)
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(c.T), uint64(c.HS)))
			QC, KC := c.NH*c.HS, c.NKV*c.HS
			R := c.B * c.T
			ty := 0
			if tc.kind == "bf16" {
				ty = 1
			}
			rnd := func(n int, s float64) []float64 {
				x := make([]float64, n)
				for i := range x {
					x[i] = r.NormFloat64() * s
					if ty == 1 {
						x[i] = roundBF16(x[i])
					}
				}
				return x
			}
			q, k, v, do := rnd(R*QC, 1), rnd(R*KC, 1), rnd(R*KC, 1), rnd(R*QC, 0.1)
			o, dq, dk, dv := refAttention(c, q, k, v, do)
			bq, bk, bv, bdo := newBuf(R*QC, ty), newBuf(R*KC, ty), newBuf(R*KC, ty), newBuf(R*QC, ty)
			bq.set(q)
			bk.set(k)
			bv.set(v)
			bdo.set(do)
			bo, bdq, bdk, bdv := newBuf(R*QC, ty), newBuf(R*QC, ty), newBuf(R*KC, ty), newBuf(R*KC, ty)
			lse, D := newBuf(c.B*c.NH*c.T, 0), newBuf(c.B*c.NH*c.T, 0)
			scale := u64f(float32(1 / math.Sqrt(float64(c.HS))))
			p := func(b buf) uint64 { return uint64(b.p) }
			i := func(x int) uint64 { return uint64(uint32(int32(x))) }
			sfx := "_" + tc.kind
			ceil := func(a, b int) uint32 { return uint32((a + b - 1) / b) }
			kt := min(64, 4096/c.HS)
			if tc.mma {
				hs := fmt.Sprint(c.HS)
				must(t, Launch("attn_fwd_mma"+hs, [3]uint32{ceil(c.T, 64), uint32(c.NH), uint32(c.B)}, [3]uint32{128, 1, 1}, 0,
					[]uint64{p(bo), p(lse), p(bq), p(bk), p(bv), i(QC), i(KC), i(KC), i(QC), i(c.T), i(c.NH), i(c.NKV), scale}))
			} else {
				must(t, Launch("attn_fwd"+sfx, [3]uint32{ceil(c.T, 4), uint32(c.NH), uint32(c.B)}, [3]uint32{128, 1, 1}, uint32(2*kt*c.HS*4),
					[]uint64{p(bo), p(lse), p(bq), p(bk), p(bv), i(QC), i(KC), i(KC), i(QC), i(c.T), i(c.NH), i(c.NKV), i(c.HS), scale, i(kt)}))
			}
			tol := 2e-6
			if ty == 1 {
				tol = 1.5e-2
			}
			if e := relErr(bo.get(), o); !(e < tol) {
				t.Errorf("o: rel err %.3g > %.3g", e, tol)
			}
			must(t, Launch("attn_bwd_pre"+sfx, [3]uint32{ceil(R*c.NH, 4), 1, 1}, [3]uint32{128, 1, 1}, 0,
				[]uint64{p(D), p(bo), p(bdo), i(QC), i(QC), i(c.B), i(c.T), i(c.NH), i(c.HS)}))
			if tc.mma {
				hs := fmt.Sprint(c.HS)
				must(t, Launch("attn_bwd_dq_mma"+hs, [3]uint32{ceil(c.T, 64), uint32(c.NH), uint32(c.B)}, [3]uint32{128, 1, 1}, 0,
					[]uint64{p(bdq), i(QC), p(bq), p(bk), p(bv), p(bdo), p(lse), p(D), i(QC), i(KC), i(KC), i(QC), i(c.T), i(c.NH), i(c.NKV), scale}))
				must(t, Launch("attn_bwd_dkv_mma"+hs, [3]uint32{ceil(c.T, 64), uint32(c.NKV), uint32(c.B)}, [3]uint32{128, 1, 1}, 0,
					[]uint64{p(bdk), p(bdv), i(KC), i(KC), p(bq), p(bk), p(bv), p(bdo), p(lse), p(D), i(QC), i(KC), i(KC), i(QC), i(c.T), i(c.NH), i(c.NKV), scale}))
			} else {
				must(t, Launch("attn_bwd_dq"+sfx, [3]uint32{ceil(c.T, 4), uint32(c.NH), uint32(c.B)}, [3]uint32{128, 1, 1}, uint32(2*kt*c.HS*4),
					[]uint64{p(bdq), i(QC), p(bq), p(bk), p(bv), p(bdo), p(lse), p(D), i(QC), i(KC), i(KC), i(QC), i(c.T), i(c.NH), i(c.NKV), i(c.HS), scale, i(kt)}))
				must(t, Launch("attn_bwd_dkv"+sfx, [3]uint32{ceil(c.T, 4), uint32(c.NKV), uint32(c.B)}, [3]uint32{128, 1, 1}, uint32((2*kt*c.HS+2*kt)*4),
					[]uint64{p(bdk), p(bdv), i(KC), i(KC), p(bq), p(bk), p(bv), p(bdo), p(lse), p(D), i(QC), i(KC), i(KC), i(QC), i(c.T), i(c.NH), i(c.NKV), i(c.HS), scale, i(kt)}))
			}
			if ty == 1 {
				tol = 3e-2
			} else {
				tol = 1e-5
			}
			for _, x := range []struct {
				n         string
				got, want []float64
			}{{"dq", bdq.get(), dq}, {"dk", bdk.get(), dk}, {"dv", bdv.get(), dv}} {
				if e := relErr(x.got, x.want); !(e < tol) {
					t.Errorf("%s: rel err %.3g > %.3g", x.n, e, tol)
				} else {
					t.Logf("%s: rel err %.3g", x.n, e)
				}
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
