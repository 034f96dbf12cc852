package model

import (
	"math"
	"unsafe"

	"github.com/olmolab/olmolab/model/gemm"
)

// Float is the engine's element type: float32 for training, float64 for
// reference checks (finite differences, golden comparisons at 1e-12).
type Float interface{ ~float32 | ~float64 }

func isF32[F Float]() bool { var z F; return unsafe.Sizeof(z) == 4 }

func asF32[F Float](x []F) []float32 {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&x[0])), len(x))
}

func asF64[F Float](x []F) []float64 {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(&x[0])), len(x))
}

// matmul computes C = op(A)·op(B) + beta·C (row-major). float32 goes to the
// packed SIMD gemm; float64 (reference path only) to a plain loop.
func matmul[F Float](transA, transB bool, m, n, k int, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if isF32[F]() {
		gemm.Sgemm(transA, transB, m, n, k, 1, asF32(a), lda, asF32(b), ldb, float32(beta), asF32(c), ldc)
		return
	}
	dgemmRef(transA, transB, m, n, k, asF64(a), lda, asF64(b), ldb, float64(beta), asF64(c), ldc)
}

func dgemmRef(transA, transB bool, m, n, k int, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(crow)
		} else if beta != 1 {
			for j := range crow {
				crow[j] *= beta
			}
		}
		for p := 0; p < k; p++ {
			var av float64
			if transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			if av == 0 {
				continue
			}
			if transB {
				for j := range crow {
					crow[j] += av * b[j*ldb+p]
				}
			} else {
				brow := b[p*ldb : p*ldb+n]
				for j := range crow {
					crow[j] += av * brow[j]
				}
			}
		}
	}
}

// rmsnormRows: y[r] = w ⊙ x[r] / sqrt(mean(x[r]²) + eps) for rows [lo,hi) of width
// n; rstd[r] keeps 1/sqrt(mean+eps) for the backward pass (olmo2.md §2).
func rmsnormRows[F Float](y, rstd, x, w []F, n int, eps float64, lo, hi int) {
	for r := lo; r < hi; r++ {
		xr := x[r*n : r*n+n]
		yr := y[r*n : r*n+n]
		var ss float64
		for _, v := range xr {
			ss += float64(v) * float64(v)
		}
		s := F(1 / math.Sqrt(ss/float64(n)+eps))
		rstd[r] = s
		for i, v := range xr {
			yr[i] = w[i] * (v * s)
		}
	}
}

// rmsnormBackRows: with g = w ⊙ dy and r = rstd, dx = r·g − r³·x·(g·x)/n.
// dx may alias dy. (dw is reduced separately, by columns.)
func rmsnormBackRows[F Float](dx, dy, x, rstd, w []F, n int, lo, hi int) {
	for r := lo; r < hi; r++ {
		xr := x[r*n : r*n+n]
		dyr := dy[r*n : r*n+n]
		dxr := dx[r*n : r*n+n]
		s := rstd[r]
		var dot float64
		for i, v := range xr {
			dot += float64(w[i]*dyr[i]) * float64(v)
		}
		c := F(dot/float64(n)) * s * s * s
		for i, v := range xr {
			dxr[i] = w[i]*dyr[i]*s - c*v
		}
	}
}

// ropeRows rotates heads of width hs in rows [lo,hi) of x (rows of width nheads·hs),
// rotate_half layout: pairs (i, i+hs/2) share angle t·θ^(−2i/hs), t = row mod T.
// sign = +1 forward; −1 applies the inverse rotation, which is the backward pass.
func ropeRows[F Float](x, cos, sin []F, T, nheads, hs int, sign F, lo, hi int) {
	half := hs / 2
	w := nheads * hs
	for r := lo; r < hi; r++ {
		t := r % T
		c := cos[t*half : t*half+half]
		s := sin[t*half : t*half+half]
		row := x[r*w : r*w+w]
		for h := 0; h < nheads; h++ {
			v := row[h*hs : h*hs+hs]
			for i := 0; i < half; i++ {
				a, b := v[i], v[i+half]
				si := sign * s[i]
				v[i] = a*c[i] - b*si
				v[i+half] = b*c[i] + a*si
			}
		}
	}
}

// swigluRows: act = silu(gate) ⊙ up, silu(g) = g·σ(g).
func swigluRows[F Float](act, gate, up []F, n, lo, hi int) {
	for i := lo * n; i < hi*n; i++ {
		g := gate[i]
		act[i] = g / (1 + F(math.Exp(float64(-g)))) * up[i]
	}
}

// swigluBackRows: dup = dact·silu(g); dgate = dact·up·σ(g)(1 + g(1−σ(g))).
func swigluBackRows[F Float](dgate, dup, dact, gate, up []F, n, lo, hi int) {
	for i := lo * n; i < hi*n; i++ {
		g := gate[i]
		sg := 1 / (1 + F(math.Exp(float64(-g))))
		d := dact[i]
		dup[i] = d * g * sg
		dgate[i] = d * up[i] * sg * (1 + g*(1-sg))
	}
}
