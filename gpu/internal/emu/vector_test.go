//go:build emu

package emu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The memory-bound kernels have two bodies (common.cuh, "K-wide access"):
// 8 elements per thread with 16-byte accesses when every pointer is 16-byte
// aligned, one element per thread otherwise. TestVectorPaths runs each kernel
// twice on the same data, once from aligned buffers and once from buffers
// shifted by one element, checks that the first run took the vector body and
// the second did not, and compares their outputs: bit for bit where every
// element is computed alone, within float32 rounding where a row is summed
// (the two bodies add in different orders).

const (
	tF32 = iota
	tBF16
	tI32
)

// vbuf describes one buffer argument.
type vbuf struct {
	t    int
	n    int
	fill func(i int) float64 // nil: an output only (left NaN-filled)
	out  bool                // compared between the two runs
}

type vcase struct {
	name  string
	grid  [3]uint32
	block uint32
	args  []any   // vbuf or uint64 (a scalar slot)
	tol   float64 // 0: bit for bit
}

func elemSize(t int) int {
	if t == tBF16 {
		return 2
	}
	return 4
}

// run launches c with every float buffer shifted by shift elements from
// 16-byte aligned memory; it returns the outputs and the vector accesses.
func (c vcase) run(t *testing.T, shift int) ([]buf, [][]float64, uint64) {
	var args []uint64
	var outs []buf
	for _, a := range c.args {
		switch a := a.(type) {
		case uint64:
			args = append(args, a)
		case vbuf:
			es := elemSize(a.t)
			base := Alloc(int64((a.n + 8) * es))
			defer Free(base)
			s := shift
			if a.t == tI32 {
				s = 0
			}
			p := base + uintptr(s*es)
			if p%16 != 0 && s == 0 {
				t.Fatalf("Alloc returned %#x, not 16-byte aligned", base)
			}
			if a.fill != nil {
				for i := range a.n {
					v := a.fill(i)
					switch a.t {
					case tF32:
						*(*float32)(HostPtr(p + uintptr(4*i))) = float32(v)
					case tBF16:
						*(*uint16)(HostPtr(p + uintptr(2*i))) = toBF16(float32(v))
					case tI32:
						*(*int32)(HostPtr(p + uintptr(4*i))) = int32(v)
					}
				}
			}
			if a.out {
				outs = append(outs, buf{p, a.n, a.t})
			}
			args = append(args, uint64(p))
		}
	}
	VecAccesses()
	if err := Launch(c.name, c.grid, [3]uint32{c.block, 1, 1}, 0, args); err != nil {
		t.Fatal(err)
	}
	n := VecAccesses()
	res := make([][]float64, len(outs))
	for i, o := range outs {
		res[i] = o.get()
	}
	return outs, res, n
}

func f32bits(v float32) uint64 { return uint64(math.Float32bits(v)) }

func TestVectorPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	rnd := func(scale float64) func(int) float64 {
		vals := make([]float64, 1<<14)
		for i := range vals {
			vals[i] = scale * r.NormFloat64()
		}
		return func(i int) float64 { return vals[i%len(vals)] }
	}
	pos := func(i int) float64 { return 0.5 + float64(i%7)/10 } // rstd, second moments
	in := func(t, n int, f func(int) float64) vbuf { return vbuf{t: t, n: n, fill: f} }
	out := func(t, n int) vbuf { return vbuf{t: t, n: n, out: true} }
	io := func(t, n int, f func(int) float64) vbuf { return vbuf{t: t, n: n, fill: f, out: true} }
	u := func(v int) uint64 { return uint64(uint32(int32(v))) }
	eps := f32bits(1e-6)

	// Shapes: widths above blockDim·8 so the strided loops go round more
	// than once; 32-thread blocks.
	const R, n, T = 5, 328, 5 // n: 41 chunks of 8 for 32 threads
	const NH, NKV, HS = 4, 2, 48
	const QC, KC = NH * HS, NKV * HS
	const ldqkv = QC + 2*KC
	const I, V = 104, 520
	ids := func(i int) float64 { return float64((i * 7) % 11) }
	labels := func(i int) float64 {
		if i == 2 {
			return -100
		}
		return float64((i * 131) % V)
	}
	var cases []vcase
	for _, ty := range []struct {
		sfx string
		a   int
	}{{"f32", tF32}, {"bf16", tBF16}} {
		A := ty.a
		cases = append(cases,
			vcase{"embed_fwd_" + ty.sfx, [3]uint32{R, 1, 1}, 32, []any{out(tF32, R*n), out(A, R*n), in(tF32, 11*n, rnd(1)), in(tI32, R, ids), u(n)}, 0},
			vcase{"rms_res_fwd_" + ty.sfx, [3]uint32{R, 1, 1}, 32, []any{out(tF32, R*n), out(A, R*n), out(tF32, R), in(A, R*n, rnd(2)), in(tF32, R*n, rnd(1)), in(tF32, n, rnd(1)), u(n), eps}, 1e-6},
			vcase{"rms_fwd_" + ty.sfx, [3]uint32{R, 1, 1}, 32, []any{out(A, R*n), out(tF32, R), in(tF32, R*n, rnd(2)), in(tF32, n, rnd(1)), u(n), eps}, 1e-6},
			vcase{"rms_bwd_res_" + ty.sfx, [3]uint32{R, 1, 1}, 32, []any{out(A, R*n), u(n), in(tF32, R*n, rnd(1)), u(n), in(A, R*n, rnd(1)), u(n), in(tF32, R, pos), in(tF32, n, rnd(1)), u(n)}, 1e-5},
			// QK-norm's form: column slices of the fused rows (k at column QC)
			vcase{"rms_bwd_act_" + ty.sfx, [3]uint32{R, 1, 1}, 32, []any{out(A, R*ldqkv), u(ldqkv), in(A, R*ldqkv, rnd(1)), u(ldqkv), in(A, R*ldqkv, rnd(1)), u(ldqkv), in(tF32, R, pos), in(tF32, QC, rnd(1)), u(QC)}, 1e-5},
			vcase{"qknorm_rope_fwd_" + ty.sfx, [3]uint32{R, 2, 1}, 32, []any{out(A, R*QC), out(A, R*KC), out(tF32, R), out(tF32, R), in(A, R*ldqkv, rnd(1)), u(ldqkv), in(tF32, QC, rnd(1)), in(tF32, KC, rnd(1)), in(tF32, T*HS/2, rnd(0.7)), in(tF32, T*HS/2, rnd(0.7)), u(T), u(NH), u(NKV), u(HS), eps}, 1e-6},
			vcase{"rope_bwd_" + ty.sfx, [3]uint32{R, 2, 1}, 32, []any{io(A, R*ldqkv, rnd(1)), u(ldqkv), in(tF32, T*HS/2, rnd(0.7)), in(tF32, T*HS/2, rnd(0.7)), u(T), u(NH), u(NKV), u(HS)}, 0},
			vcase{"swiglu_fwd_" + ty.sfx, [3]uint32{2, 1, 1}, 32, []any{out(A, R*I), in(A, R*2*I, rnd(2)), u(I), uint64(R * I)}, 0},
			vcase{"swiglu_bwd_" + ty.sfx, [3]uint32{2, 1, 1}, 32, []any{out(A, R*2*I), in(A, R*I, rnd(1)), in(A, R*2*I, rnd(2)), u(I), uint64(R * I)}, 0},
			vcase{"ce_chunk_" + ty.sfx, [3]uint32{R, 1, 1}, 32, []any{out(tF32, R), out(tF32, R), out(A, R*V), in(tF32, R*V, rnd(3)), in(tI32, R, labels), u(V), f32bits(0.25), f32bits(1e-4), u(1)}, 1e-5},
		)
	}
	cases = append(cases,
		vcase{"rms_bwd_final", [3]uint32{R, 1, 1}, 32, []any{out(tF32, R*n), u(n), in(tF32, R*n, rnd(1)), u(n), in(tF32, R*n, rnd(1)), u(n), in(tF32, R, pos), in(tF32, n, rnd(1)), u(n)}, 1e-5},
		vcase{"cast_bf16", [3]uint32{1, 1, 1}, 32, []any{out(tBF16, 8*70), in(tF32, 8*70, rnd(1)), uint64(8 * 70)}, 0},
		vcase{"adamw", [3]uint32{1, 1, 1}, 32, []any{io(tF32, 8*70, rnd(0.1)), in(tF32, 8*70, rnd(1)), io(tF32, 8*70, rnd(0.01)), io(tF32, 8*70, pos), out(tBF16, 8*70),
			uint64(8 * 70), f32bits(0.5), f32bits(1 - 1e-4), f32bits(0.9), f32bits(0.95), f32bits(1e-3), f32bits(0.3), f32bits(1e-8)}, 0},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			outs, vec, nv := c.run(t, 0)
			_, one, n1 := c.run(t, 1)
			if nv == 0 {
				t.Errorf("aligned buffers: the vector body did not run")
			}
			if n1 != 0 {
				t.Errorf("buffers one element off 16 bytes: %d vector accesses", n1)
			}
			for i := range vec {
				if err := sameOutputs(vec[i], one[i], c.tol, outs[i].t == tBF16); err != nil {
					t.Errorf("output %d: %v", i, err)
				}
			}
		})
	}
}

// sameOutputs compares the two bodies' outputs: bit for bit with tol 0,
// else within tol of the largest magnitude, plus one bf16 rounding step of
// the element for bf16 outputs (a last-bit difference in a row's sum can
// round an element the other way). NaN in one output only (Alloc fills with
// NaN) is an element that body did not write.
func sameOutputs(a, b []float64, tol float64, bf16 bool) error {
	var scale float64
	for _, v := range b {
		if !math.IsNaN(v) {
			scale = math.Max(scale, math.Abs(v))
		}
	}
	for i := range a {
		if na, nb := math.IsNaN(a[i]), math.IsNaN(b[i]); na || nb {
			if na != nb {
				return fmt.Errorf("element %d: vector %v, scalar %v: written by one body only", i, a[i], b[i])
			}
			continue
		}
		if tol == 0 {
			if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
				return fmt.Errorf("element %d: vector %v, scalar %v", i, a[i], b[i])
			}
			continue
		}
		allow := tol * scale
		if bf16 {
			allow += math.Abs(b[i]) / 256
		}
		if d := math.Abs(a[i] - b[i]); d > allow {
			return fmt.Errorf("element %d: vector %v, scalar %v (diff %.3g, allowed %.3g)", i, a[i], b[i], d, allow)
		}
	}
	return nil
}
