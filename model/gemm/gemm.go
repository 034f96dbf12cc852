// Package gemm is the CPU engine's single-precision matrix product.
//
// Every matrix is row-major. Sgemm is the only entry point the engine uses; its
// implementation is free to pack, block, vectorise and spread work over cores, but
// must not allocate per call once warmed up.
package gemm

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(X) = Xᵀ when the matching trans flag is set. op(A) is m×k, op(B) is k×n and C is
// m×n; lda, ldb and ldc are the row strides of A, B and C as stored.
// It panics if a slice is too short for the shapes given.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkShapes(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	naive(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func checkShapes(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic("gemm: negative dimension")
	}
	if m == 0 || n == 0 {
		return
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if k > 0 {
		if lda < ac || len(a) < (ar-1)*lda+ac {
			panic("gemm: A too short for its shape")
		}
		if ldb < bc || len(b) < (br-1)*ldb+bc {
			panic("gemm: B too short for its shape")
		}
	}
	if ldc < n || len(c) < (m-1)*ldc+n {
		panic("gemm: C too short for its shape")
	}
}

// naive is the reference product: a plain triple loop, used by tests and as the
// fallback for tiny shapes.
func naive(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}
