package model

import (
	"math"
	"unsafe"

	"github.com/olmolab/olmolab/model/gemm"
	"gonum.org/v1/gonum/blas"
	gonumblas "gonum.org/v1/gonum/blas/gonum"
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

// f32As is asF32's inverse: a float32 slice seen as []F, for F = float32 only.
func f32As[F Float](x []float32) []F {
	if !isF32[F]() {
		panic("model: f32As on a float64 engine")
	}
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*F)(unsafe.Pointer(&x[0])), len(x))
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

// dgemmRef is the float64 reference path's product: gonum's Dgemm, which is
// blocked, SIMD and parallel, so that float64 checks of a small preset over
// tens of steps (the GPU parity calibration) take seconds, not minutes. gonum
// is row-major like the engine.
func dgemmRef(transA, transB bool, m, n, k int, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	if k == 0 {
		scale64(m, n, beta, c, ldc)
		return
	}
	gonumblas.Implementation{}.Dgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
}

// scale64 sets C = beta·C (C = 0 when beta is 0), which BLAS leaves to the
// caller when k = 0 only by convention.
func scale64(m, n int, beta float64, c []float64, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// The helpers below are the engine's row operations, generic over F: float32
// goes to the SIMD kernels of simd.go, float64 (the reference path) to plain
// loops that accumulate in float64.

// vDot returns Σ x·y.
func vDot[F Float](x, y []F) F {
	if isF32[F]() {
		return F(dot32(asF32(x), asF32(y)))
	}
	var s F
	for i, v := range x {
		s += v * y[i]
	}
	return s
}

// vMax returns max x.
func vMax[F Float](x []F) F {
	if isF32[F]() {
		return F(max32(asF32(x)))
	}
	m := F(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// vExpAffSum sets dst = exp(a·src − b) and returns Σ dst; dst may be src.
func vExpAffSum[F Float](dst, src []F, a, b F) F {
	if isF32[F]() {
		return F(expAffSum32(asF32(dst), asF32(src), float32(a), float32(b)))
	}
	var s F
	for i, v := range src {
		e := F(math.Exp(float64(a*v - b)))
		dst[i] = e
		s += e
	}
	return s
}

// vScale sets dst = a·src; dst may be src.
func vScale[F Float](dst, src []F, a F) {
	if isF32[F]() {
		scaleTo32(asF32(dst), asF32(src), float32(a))
		return
	}
	for i, v := range src {
		dst[i] = a * v
	}
}

// vAdd sets dst = x + y; dst may be x or y.
func vAdd[F Float](dst, x, y []F) {
	if isF32[F]() {
		add32(asF32(dst), asF32(x), asF32(y))
		return
	}
	for i, v := range x {
		dst[i] = v + y[i]
	}
}

// vMulAcc adds (x·y)·s to dst.
func vMulAcc[F Float](dst, x, y []F, s F) {
	if isF32[F]() {
		mulAcc32(asF32(dst), asF32(x), asF32(y), float32(s))
		return
	}
	for i, v := range x {
		dst[i] += v * y[i] * s
	}
}

// vDsRow sets ds = p·(dp − d)·a; ds may be dp.
func vDsRow[F Float](ds, p, dp []F, d, a F) {
	if isF32[F]() {
		dsRow32(asF32(ds), asF32(p), asF32(dp), float32(d), float32(a))
		return
	}
	for i, pv := range p {
		ds[i] = pv * (dp[i] - d) * a
	}
}

// rmsRow sets y = w ⊙ x / sqrt(mean(x²) + eps), plus res when res is not nil,
// and returns rstd = 1/sqrt(mean(x²) + eps) for the backward pass (olmo2.md §2).
// y may be x or res.
func rmsRow[F Float](y, x, w, res []F, eps float64) F {
	n := len(x)
	if isF32[F]() {
		x32 := asF32(x)
		ss := dot32(x32, x32)
		s := float32(1 / math.Sqrt(float64(ss)/float64(n)+eps))
		if res == nil {
			rmsScale32(asF32(y), x32, asF32(w), s)
		} else {
			rmsScaleAdd32(asF32(y), x32, asF32(w), asF32(res), s)
		}
		return F(s)
	}
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	s := F(1 / math.Sqrt(ss/float64(n)+eps))
	for i, v := range x {
		out := w[i] * (v * s)
		if res != nil {
			out += res[i]
		}
		y[i] = out
	}
	return s
}

// rmsRstd returns 1/sqrt(mean(x²) + eps).
func rmsRstd[F Float](x []F, eps float64) F {
	if isF32[F]() {
		x32 := asF32(x)
		return F(1 / math.Sqrt(float64(dot32(x32, x32))/float64(len(x))+eps))
	}
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	return F(1 / math.Sqrt(ss/float64(len(x))+eps))
}

// vRmsScale sets y = w ⊙ (x·s).
func vRmsScale[F Float](y, x, w []F, s F) {
	if isF32[F]() {
		rmsScale32(asF32(y), asF32(x), asF32(w), float32(s))
		return
	}
	for i, v := range x {
		y[i] = w[i] * (v * s)
	}
}

// rmsBackRow: with g = w ⊙ dy and s = rstd, dx = s·g − s³·x·(g·x)/n.
// dx may alias dy. (dw is reduced separately, by columns.)
func rmsBackRow[F Float](dx, dy, x, w []F, s F) {
	n := len(x)
	if isF32[F]() {
		dot := dot3_32(asF32(w), asF32(dy), asF32(x))
		c := dot / float32(n) * float32(s*s*s)
		rmsBack32(asF32(dx), asF32(dy), asF32(x), asF32(w), float32(s), c)
		return
	}
	var dot float64
	for i, v := range x {
		dot += float64(w[i]*dy[i]) * float64(v)
	}
	c := F(dot/float64(n)) * s * s * s
	for i, v := range x {
		dx[i] = w[i]*dy[i]*s - c*v
	}
}

// ropeHeadTo sets dst = src rotated by RoPE for one head of width hs =
// len(src) (rotate_half layout: pairs (i, i+hs/2) share the angle
// t·θ^(−2i/hs), whose cos and sin are cos[i], sin[i] for this row's position
// t). sign = +1 forward; −1 applies the inverse rotation, which is the
// backward pass. dst may be src.
func ropeHeadTo[F Float](dst, src, cos, sin []F, sign F) {
	h := len(src) / 2
	if isF32[F]() {
		ropeTo32(asF32(dst[:h]), asF32(dst[h:]), asF32(src[:h]), asF32(src[h:]), asF32(cos), asF32(sin), float32(sign))
		return
	}
	for i := 0; i < h; i++ {
		a, b := src[i], src[i+h]
		si := sign * sin[i]
		dst[i] = a*cos[i] - b*si
		dst[i+h] = b*cos[i] + a*si
	}
}

// rmsRopeHead sets y = rope(w ⊙ x·s) for one head (x, w, y of width hs; cos
// and sin of width hs/2 for this row's position).
func rmsRopeHead[F Float](y, x, w, cos, sin []F, s F) {
	if isF32[F]() {
		h := len(x) / 2
		rmsRope32(asF32(y[:h]), asF32(y[h:]), asF32(x[:h]), asF32(x[h:]), asF32(w[:h]), asF32(w[h:]), asF32(cos), asF32(sin), float32(s))
		return
	}
	vRmsScale(y, x, w, s)
	ropeHeadTo(y, y, cos, sin, 1)
}

// swigluRow: act = silu(gate) ⊙ up, silu(g) = g·σ(g) = g/(1 + e^−g).
func swigluRow[F Float](act, gate, up []F) {
	if isF32[F]() {
		swiglu32(asF32(act), asF32(gate), asF32(up))
		return
	}
	for i, g := range gate {
		act[i] = g / (1 + F(math.Exp(float64(-g)))) * up[i]
	}
}

// swigluBackRow: dup = dact·silu(g); dgate = dact·up·σ(g)(1 + g(1−σ(g))).
func swigluBackRow[F Float](dgate, dup, dact, gate, up []F) {
	if isF32[F]() {
		swigluBack32(asF32(dgate), asF32(dup), asF32(dact), asF32(gate), asF32(up))
		return
	}
	for i, g := range gate {
		sg := 1 / (1 + F(math.Exp(float64(-g))))
		d := dact[i]
		dup[i] = d * g * sg
		dgate[i] = d * up[i] * sg * (1 + g*(1-sg))
	}
}
