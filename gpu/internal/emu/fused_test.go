//go:build emu

package emu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestFusedNormBackward: rms_bwd_dw (one pass: dx and the weight
// gradient's row-block partial sums, with RoPE's backward first for the
// QK-norms) gives bit for bit what the unfused kernels give (rope_bwd, then
// rms_dw_part and rms_bwd) at the same row blocks, on the vector body and
// the one-element body (a shifted buffer), at a head size whose halves are
// whole 8-column groups (HS 16) and one whose are not (HS 8), and in both
// activation types. rms_dw_reduce8 sums the partials to what
// rms_dw_reduce gives within float32 rounding (another association), both
// added to the same dw.
func TestFusedNormBackward(t *testing.T) {
	const R, T, rowsPer = 24, 8, 5 // 5 row blocks, the last short
	parts := (R + rowsPer - 1) / rowsPer
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := func(n int, sd float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64() * sd
		}
		return v
	}
	u := func(v int) uint64 { return uint64(uint32(int32(v))) }
	for _, ty := range []struct {
		sfx string
		t   int
	}{{"f32", 0}, {"bf16", 1}} {
		for _, c := range []struct {
			kind      string // res, act, final
			HS, shift int
		}{{"res", 16, 0}, {"res", 16, 1}, {"act", 16, 0}, {"act", 8, 0}, {"act", 16, 1}, {"final", 16, 0}} {
			if c.kind == "final" && ty.t == 1 {
				continue
			}
			t.Run(fmt.Sprintf("%s_%s_HS%d_shift%d", c.kind, ty.sfx, c.HS, c.shift), func(t *testing.T) {
				NH, NKV := 4, 2
				n := NH * c.HS // the q slice, or a residual-stream row
				ld := n
				if c.kind == "act" {
					ld = (NH + 2*NKV) * c.HS // the fused q|k|v row
				}
				A := ty.t
				dyT, xT := A, A
				switch c.kind {
				case "res":
					dyT = 0
				case "final":
					dyT, xT = 0, 0
				}
				half := c.HS / 2
				dy0, x0 := rnd(R*ld+8, 1), rnd(R*ld+8, 1)
				rstd0, w0 := rnd(R, 0.5), rnd(n+8, 1)
				cos0, sin0 := rnd(T*half+8, 0.7), rnd(T*half+8, 0.7)
				mk := func(tt int, v []float64) buf { // shifted by c.shift elements
					b := newBuf(len(v)+8, tt)
					b.p += uintptr(c.shift * map[int]int{0: 4, 1: 2}[tt])
					b.n = len(v)
					b.set(v)
					return b
				}
				// unfused: rope_bwd on the whole rows (act), rms_dw_part, rms_bwd (in place for act)
				dyA, xA, rs, w := mk(dyT, dy0), mk(xT, x0), mk(0, rstd0), mk(0, w0)
				cs, sn := mk(0, cos0), mk(0, sin0)
				partA := newBuf(parts*n, 0)
				var dxA buf
				name := map[string]string{"res": "_res_" + ty.sfx, "act": "_act_" + ty.sfx, "final": "_final"}[c.kind]
				if c.kind == "act" {
					must(t, Launch("rope_bwd_"+ty.sfx, [3]uint32{R, 2, 1}, [3]uint32{32, 1, 1}, 0,
						[]uint64{uint64(dyA.p), u(ld), uint64(cs.p), uint64(sn.p), u(T), u(NH), u(NKV), u(c.HS)}))
					dxA = dyA
				} else {
					dxA = mk(map[string]int{"res": A, "final": 0}[c.kind], make([]float64, R*ld))
				}
				must(t, Launch("rms_dw_part"+name, [3]uint32{uint32((n + 255) / 256), uint32(parts), 1}, [3]uint32{256, 1, 1}, 0,
					[]uint64{uint64(partA.p), uint64(dyA.p), u(ld), uint64(xA.p), u(ld), uint64(rs.p), u(R), u(n), u(rowsPer)}))
				must(t, Launch("rms_bwd"+name, [3]uint32{R, 1, 1}, [3]uint32{64, 1, 1}, 0,
					[]uint64{uint64(dxA.p), u(ld), uint64(dyA.p), u(ld), uint64(xA.p), u(ld), uint64(rs.p), uint64(w.p), u(n)}))
				// fused
				dyB, xB := mk(dyT, dy0), mk(xT, x0)
				partB := newBuf(parts*n, 0)
				dxB := dyB
				if c.kind != "act" {
					dxB = mk(map[string]int{"res": A, "final": 0}[c.kind], make([]float64, R*ld))
				}
				args := []uint64{uint64(dxB.p), u(ld), uint64(dyB.p), u(ld), uint64(xB.p), u(ld), uint64(rs.p), uint64(w.p),
					uint64(partB.p), u(R), u(n), u(rowsPer)}
				if c.kind == "act" {
					args = append(args, uint64(cs.p), uint64(sn.p), u(T), u(c.HS))
				}
				VecAccesses()
				must(t, Launch("rms_bwd_dw"+name, [3]uint32{uint32(parts), 1, 1}, [3]uint32{64, 1, 1}, uint32(2*n*4), args))
				if vec := VecAccesses(); (vec > 0) != (c.shift == 0) {
					t.Errorf("%d vector accesses with buffers shifted by %d", vec, c.shift)
				}
				same := func(what string, a, b []float64) {
					for i := range a {
						if math.Float64bits(a[i]) != math.Float64bits(b[i]) && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
							t.Fatalf("%s[%d]: unfused %g, fused %g", what, i, a[i], b[i])
						}
					}
				}
				// the q slice (act: the rest of the row is rope_bwd's only, which the fused kernel leaves to the k launch)
				ga, gb := dxA.get(), dxB.get()
				for r := range R {
					same(fmt.Sprintf("dx row %d", r), ga[r*ld:r*ld+n], gb[r*ld:r*ld+n])
				}
				same("part", partA.get(), partB.get())
				// both reductions onto the same dw
				dw0 := rnd(n, 1)
				dwA, dwB := mk(0, dw0), mk(0, dw0)
				must(t, Launch("rms_dw_reduce", [3]uint32{uint32((n + 255) / 256), 1, 1}, [3]uint32{256, 1, 1}, 0,
					[]uint64{uint64(dwA.p), uint64(partA.p), u(parts), u(n)}))
				must(t, Launch("rms_dw_reduce8", [3]uint32{uint32((n + 31) / 32), 1, 1}, [3]uint32{256, 1, 1}, 0,
					[]uint64{uint64(dwB.p), uint64(partB.p), u(parts), u(n)}))
				ra, rb := dwA.get(), dwB.get()
				for i := range ra {
					if d := math.Abs(ra[i] - rb[i]); d > 1e-5*(1+math.Abs(ra[i])) {
						t.Fatalf("dw[%d]: rms_dw_reduce %g, rms_dw_reduce8 %g", i, ra[i], rb[i])
					}
				}
			})
		}
	}
}
