package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// simdLevels are the kernel sets this machine can run, plain Go first.
func simdLevels() []simdKind {
	best := detectSIMD()
	var ks []simdKind
	for k := simdGo; k <= best; k++ {
		ks = append(ks, k)
	}
	return ks
}

// withLevel runs f with simdLevel set to k.
func withLevel(k simdKind, f func()) {
	old := simdLevel
	simdLevel = k
	defer func() { simdLevel = old }()
	f()
}

// Odd sizes: empty, shorter than a vector, every tail length of both ISAs,
// several whole vectors.
var kernelSizes = []int{0, 1, 2, 3, 5, 7, 8, 9, 13, 15, 16, 17, 23, 31, 32, 33, 47, 64, 100, 129, 257}

const guard = 8 // sentinel floats after every output, which no kernel may touch

func guarded(r *rand.Rand, n int, scale float64) []float32 {
	b := make([]float32, n+guard)
	for i := range b[:n] {
		b[i] = float32(r.NormFloat64() * scale)
	}
	for i := n; i < len(b); i++ {
		b[i] = 12345
	}
	return b[:n]
}

func checkGuard(t *testing.T, name string, x []float32) {
	t.Helper()
	for _, v := range x[len(x) : len(x)+guard] {
		if v != 12345 {
			t.Fatalf("%s: wrote past n=%d", name, len(x))
		}
	}
}

// closeTo reports |got − want| ≤ tol·(|want| + floor).
func closeTo(got float32, want, tol, floor float64) bool {
	if math.IsNaN(want) {
		return got != got
	}
	if math.IsInf(want, 0) {
		return float64(got) == want
	}
	return math.Abs(float64(got)-want) <= tol*(math.Abs(want)+floor)
}

func checkSlice(t *testing.T, name string, got []float32, want []float64, tol, floor float64) {
	t.Helper()
	for i := range want {
		if !closeTo(got[i], want[i], tol, floor) {
			t.Fatalf("%s: [%d] = %g, want %g (tol %g)", name, i, got[i], want[i], tol)
		}
	}
	checkGuard(t, name, got)
}

func TestExpAccuracy(t *testing.T) {
	for _, k := range simdLevels() {
		withLevel(k, func() {
			// a dense sweep of the finite range, in one call
			const n = 1 << 20
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(expLo + (expHi-expLo)*float64(i)/(n-1))
			}
			dst := make([]float32, n)
			expAffSum32(dst, src, 1, 0)
			var worst float64
			for i, x := range src {
				want := math.Exp(float64(x))
				if rel := math.Abs(float64(dst[i])-want) / want; rel > worst {
					worst = rel
				}
			}
			// float32 ulp is 2^-23 ≈ 1.19e-7 relative at worst; allow 2 ulp.
			if worst > 2.4e-7 {
				t.Errorf("%v: max relative error of exp %.3g, want ≤ 2.4e-7", k, worst)
			}
			t.Logf("%v: max relative error of exp %.3g", k, worst)
			// edge values, each in a vector body and in a tail
			edges := []float32{0, float32(math.Copysign(0, -1)), 1, -1, -86.99, -87.01, -100, -1e30,
				float32(math.Inf(-1)), 88.29, 88.4, 100, float32(math.Inf(1)), float32(math.NaN())}
			for _, x := range edges {
				for _, m := range []int{1, 16 + 3} {
					in := make([]float32, m)
					for i := range in {
						in[i] = x
					}
					out := make([]float32, m)
					expAffSum32(out, in, 1, 0)
					want := math.Exp(float64(x))
					switch {
					case x < expLo:
						want = 0
					case x > expHi:
						want = math.Inf(1)
					}
					for i, v := range out {
						if !closeTo(v, want, 2.4e-7, 0) {
							t.Errorf("%v: exp(%g)[%d of %d] = %g, want %g", k, x, i, m, v, want)
						}
					}
				}
			}
		})
	}
}

func TestRowKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f64 := func(x []float32) []float64 {
		y := make([]float64, len(x))
		for i, v := range x {
			y[i] = float64(v)
		}
		return y
	}
	for _, k := range simdLevels() {
		for _, n := range kernelSizes {
			name := func(s string) string { return fmt.Sprintf("%v/%s/n=%d", k, s, n) }
			withLevel(k, func() {
				x, y, z := guarded(r, n, 1), guarded(r, n, 1), guarded(r, n, 1)
				X, Y, Z := f64(x), f64(y), f64(z)
				const tol = 1e-6

				// expAffSum, in place
				a, b := float32(0.7), float32(1.3)
				d := guarded(r, n, 0)
				copy(d, x)
				s := expAffSum32(d, d, a, b)
				want := make([]float64, n)
				var ws float64
				for i, v := range X {
					want[i] = math.Exp(float64(a)*v - float64(b))
					ws += want[i]
				}
				checkSlice(t, name("expAffSum"), d, want, 1e-6, 0)
				if !closeTo(s, ws, 1e-6, 0) {
					t.Fatalf("%s: sum %g, want %g", name("expAffSum"), s, ws)
				}

				// max
				wm := math.Inf(-1)
				for _, v := range X {
					wm = math.Max(wm, v)
				}
				if m := max32(x); float64(m) != wm {
					t.Fatalf("%s: %g, want %g", name("max"), m, wm)
				}
				neg := make([]float32, n) // all negative: masked lanes must not read as 0
				for i := range neg {
					neg[i] = -1 - float32(i)
				}
				if m := max32(neg); n > 0 && m != -1 {
					t.Fatalf("%s: max of negatives %g, want -1", name("max"), m)
				}

				// dot, dot3
				var wd, wd3, wabs float64
				for i := range X {
					wd += X[i] * Y[i]
					wd3 += X[i] * Y[i] * Z[i]
					wabs += math.Abs(X[i] * Y[i])
				}
				if v := dot32(x, y); math.Abs(float64(v)-wd) > tol*(wabs+1) {
					t.Fatalf("%s: %g, want %g", name("dot"), v, wd)
				}
				if v := dot3_32(x, y, z); math.Abs(float64(v)-wd3) > tol*(wabs*4+1) {
					t.Fatalf("%s: %g, want %g", name("dot3"), v, wd3)
				}

				// scaleTo, add
				out := guarded(r, n, 0)
				scaleTo32(out, x, 1.5)
				for i := range want {
					want[i] = 1.5 * X[i]
				}
				checkSlice(t, name("scaleTo"), out, want, tol, 0)
				add32(out, x, y)
				for i := range want {
					want[i] = X[i] + Y[i]
				}
				checkSlice(t, name("add"), out, want, tol, 1)

				// RMSNorm pieces
				rmsScale32(out, x, y, 0.9)
				for i := range want {
					want[i] = Y[i] * X[i] * 0.9
				}
				checkSlice(t, name("rmsScale"), out, want, tol, 0)
				rmsScaleAdd32(out, x, y, z, 0.9)
				for i := range want {
					want[i] = Z[i] + Y[i]*X[i]*0.9
				}
				checkSlice(t, name("rmsScaleAdd"), out, want, tol, 1)
				rmsBack32(out, x, y, z, 0.9, 0.2)
				for i := range want {
					want[i] = Z[i]*X[i]*0.9 - 0.2*Y[i]
				}
				checkSlice(t, name("rmsBack"), out, want, tol, 1)
				acc := guarded(r, n, 1)
				A := f64(acc)
				mulAcc32(acc, x, y, 0.9)
				for i := range want {
					want[i] = A[i] + X[i]*Y[i]*0.9
				}
				checkSlice(t, name("mulAcc"), acc, want, tol, 1)

				// RoPE, both directions
				x1, x2 := guarded(r, n, 1), guarded(r, n, 1)
				c, sn := make([]float32, n), make([]float32, n)
				for i := range c {
					th := r.Float64() * 6
					c[i], sn[i] = float32(math.Cos(th)), float32(math.Sin(th))
				}
				X1, X2 := f64(x1), f64(x2)
				ropeTo32(x1, x2, x1, x2, c, sn, -1) // in place
				w2 := make([]float64, n)
				for i := range want {
					cc, ss := float64(c[i]), -float64(sn[i])
					want[i] = X1[i]*cc - X2[i]*ss
					w2[i] = X2[i]*cc + X1[i]*ss
				}
				checkSlice(t, name("rope.x1"), x1, want, tol, 1)
				checkSlice(t, name("rope.x2"), x2, w2, tol, 1)

				// fused RMS scale + RoPE
				o1, o2 := guarded(r, n, 0), guarded(r, n, 0)
				ww1, ww2 := guarded(r, n, 1), guarded(r, n, 1)
				rmsRope32(o1, o2, x, y, ww1, ww2, c, sn, 0.7)
				for i := range want {
					a := float64(ww1[i]) * X[i] * 0.7
					bb := float64(ww2[i]) * Y[i] * 0.7
					want[i] = a*float64(c[i]) - bb*float64(sn[i])
					w2f := bb*float64(c[i]) + a*float64(sn[i])
					if !closeTo(o2[i], w2f, 1e-5, 1) {
						t.Fatalf("%s: o2[%d] = %g, want %g", name("rmsRope"), i, o2[i], w2f)
					}
				}
				checkSlice(t, name("rmsRope.o1"), o1, want, 1e-5, 1)
				checkGuard(t, name("rmsRope.o2"), o2)

				// SwiGLU forward and backward; gates include large magnitudes
				g := guarded(r, n, 4)
				if n > 2 {
					g[0], g[1] = -120, 95
				}
				G := f64(g)
				swiglu32(out, g, y)
				for i := range want {
					want[i] = G[i] / (1 + math.Exp(-G[i])) * Y[i]
				}
				checkSlice(t, name("swiglu"), out, want, 1e-6, 1e-30)
				dg, du := guarded(r, n, 0), guarded(r, n, 0)
				swigluBack32(dg, du, z, g, y)
				for i := range want {
					sg := 1 / (1 + math.Exp(-G[i]))
					want[i] = Z[i] * Y[i] * sg * (1 + G[i]*(1-sg))
					w2[i] = Z[i] * G[i] * sg
				}
				checkSlice(t, name("swigluBack.dgate"), dg, want, 1e-5, 0.1) // 1 + g(1−σ) cancels near g ≈ −1.28
				checkSlice(t, name("swigluBack.dup"), du, w2, 1e-6, 1e-30)

				// attention's dS
				dsRow32(out, x, y, 0.3, 0.125)
				for i := range want {
					want[i] = X[i] * (Y[i] - 0.3) * 0.125
				}
				checkSlice(t, name("dsRow"), out, want, tol, 1)

				// AdamW
				p, gr, m1, v1 := guarded(r, n, 1), guarded(r, n, 1), guarded(r, n, 0.1), guarded(r, n, 0.1)
				for i := range v1 {
					v1[i] = v1[i] * v1[i]
				}
				P, GR, M, V := f64(p), f64(gr), f64(m1), f64(v1)
				ap := adamwParams{gs: 0.5, b1: 0.9, c1: 1 - float32(0.9), b2: 0.95, c2: 1 - float32(0.95),
					decay: 1 - 1e-3*0.1, step: 1e-3 / 0.1, bc2: float32(math.Sqrt(1 - 0.95)), eps: 1e-8}
				adamw32(p, gr, m1, v1, &ap)
				wm1, wv1 := make([]float64, n), make([]float64, n)
				for i := range want {
					gi := GR[i] * 0.5
					wm1[i] = float64(ap.b1)*M[i] + float64(ap.c1)*gi
					wv1[i] = float64(ap.b2)*V[i] + float64(ap.c2)*gi*gi
					want[i] = P[i]*float64(ap.decay) - float64(ap.step)*wm1[i]/(math.Sqrt(wv1[i])/float64(ap.bc2)+1e-8)
				}
				// m and v cancel: the floor is the scale of the terms, not of the result
				checkSlice(t, name("adamw.m"), m1, wm1, 1e-6, 0.2)
				checkSlice(t, name("adamw.v"), v1, wv1, 1e-6, 0.02)
				checkSlice(t, name("adamw.p"), p, want, 1e-6, 1e-3)
			})
		}
	}
}

func BenchmarkRowKernels(b *testing.B) {
	const n = 4096
	r := rand.New(rand.NewPCG(1, 2))
	x, y, z, w := guarded(r, n, 1), guarded(r, n, 1), guarded(r, n, 1), guarded(r, n, 1)
	for _, k := range simdLevels() {
		for _, kc := range []struct {
			name string
			f    func()
		}{
			{"expAffSum", func() { expAffSum32(w, x, 1, 0.5) }},
			{"swiglu", func() { swiglu32(w, x, y) }},
			{"swigluBack", func() { swigluBack32(w, z, x, y, y) }},
			{"dot", func() { dot32(x, y) }},
		} {
			b.Run(fmt.Sprintf("%s/%v", kc.name, k), func(b *testing.B) {
				withLevel(k, func() {
					for i := 0; i < b.N; i++ {
						kc.f()
					}
				})
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
			})
		}
	}
}

func TestMMStrided(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, k := range simdLevels() {
		withLevel(k, func() {
			for _, m := range []int{1, 5, 6, 7, 13, 64} {
				for _, n := range []int{8, 12, 16, 32, 48, 64, 80, 96, 128} {
					for _, kk := range []int{0, 1, 7, 32, 65} {
						for _, trans := range []bool{false, true} {
							for _, acc := range []bool{false, true} {
								// A is m×kk, stored row-major (ai=lda, ap=1) or as
								// a kk×m matrix read transposed (ai=1, ap=lda).
								lda := kk + 3
								ai, ap := lda, 1
								if trans {
									lda = m + 2
									ai, ap = 1, lda
								}
								a := guarded(r, max(m, kk)*lda, 1)
								ldb, ldc := n+5, n+1
								b := guarded(r, kk*ldb, 1)
								c := guarded(r, m*ldc, 1)
								want := make([]float64, len(c))
								for i := range c {
									want[i] = float64(c[i])
								}
								for i := 0; i < m; i++ {
									for j := 0; j < n; j++ {
										var s float64
										for p := 0; p < kk; p++ {
											s += float64(a[i*ai+p*ap]) * float64(b[p*ldb+j])
										}
										if acc {
											s += float64(c[i*ldc+j])
										}
										want[i*ldc+j] = s
									}
								}
								mmStrided32(m, n, kk, a, ai, ap, b, ldb, c, ldc, acc)
								name := fmt.Sprintf("%v/m=%d,n=%d,k=%d,trans=%v,acc=%v", k, m, n, kk, trans, acc)
								checkSlice(t, name, c, want, 1e-5, 1)
							}
						}
					}
				}
			}
		})
	}
}

func BenchmarkMMStrided(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range []struct {
		name            string
		m, n, k, ai, ap int
		lda, ldb, ldc   int
	}{
		{"QKt_64x64x32", 64, 64, 32, 128, 1, 0, 128, 64},
		{"PV_64x32x64", 64, 32, 64, 64, 1, 0, 384, 128},
		{"PtdO_64x32x64", 64, 32, 64, 1, 64, 0, 128, 384},
		{"QKt_64x64x64", 64, 64, 64, 512, 1, 0, 256, 64},
	} {
		a := guarded(r, 64*512, 1)
		bb := guarded(r, 128*512, 1)
		c := guarded(r, 64*512, 1)
		b.Run(s.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				mmStrided32(s.m, s.n, s.k, a, s.ai, s.ap, bb, s.ldb, c, s.ldc, false)
			}
			b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func TestTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, k := range simdLevels() {
		withLevel(k, func() {
			for _, sz := range []struct{ rows, cols int }{{16, 16}, {16, 64}, {16, 48}, {5, 32}, {16, 8}, {3, 7}, {16, 1}} {
				lds, ldd := sz.cols+3, sz.rows+5
				src := guarded(r, sz.rows*lds, 1)
				dst := guarded(r, sz.cols*ldd, 1)
				want := make([]float64, len(dst))
				for i, v := range dst {
					want[i] = float64(v)
				}
				for i := 0; i < sz.rows; i++ {
					for c := 0; c < sz.cols; c++ {
						want[c*ldd+i] = float64(src[i*lds+c])
					}
				}
				transpose32(dst, ldd, src, lds, sz.rows, sz.cols)
				checkSlice(t, fmt.Sprintf("%v/transpose %dx%d", k, sz.rows, sz.cols), dst, want, 0, 0)
			}
		})
	}
}
