package gemm

import "unsafe"

// archGeneric is the portable path: the same packing and blocking as the
// assembly kernels with a 4×4 register tile written in plain Go (16 scalar
// accumulators fit the register file of arm64 and, mostly, amd64).
var archGeneric = &arch{name: "generic", mr: 4, nr: 4, kc: 256, nc: 512, mc: 128, kern: kernGeneric}

// kernGeneric is the Go micro-kernel; contract as kernelFunc.
func kernGeneric(k int, a, b, c *float32, ldc int, beta float32) {
	ap := unsafe.Slice(a, 4*k)
	bp := unsafe.Slice(b, 4*k)
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < k; p++ {
		av := ap[4*p : 4*p+4 : 4*p+4]
		bv := bp[4*p : 4*p+4 : 4*p+4]
		a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	cp := unsafe.Slice(c, 3*ldc+4)
	store4(cp[0:4:4], beta, c00, c01, c02, c03)
	store4(cp[ldc:ldc+4:ldc+4], beta, c10, c11, c12, c13)
	store4(cp[2*ldc:2*ldc+4:2*ldc+4], beta, c20, c21, c22, c23)
	store4(cp[3*ldc:3*ldc+4:3*ldc+4], beta, c30, c31, c32, c33)
}

func store4(c []float32, beta, v0, v1, v2, v3 float32) {
	if beta == 0 {
		c[0], c[1], c[2], c[3] = v0, v1, v2, v3
		return
	}
	c[0] = v0 + beta*c[0]
	c[1] = v1 + beta*c[1]
	c[2] = v2 + beta*c[2]
	c[3] = v3 + beta*c[3]
}
