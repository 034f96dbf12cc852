package gpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// colMajorRef is the BLAS definition of a column-major GEMM on float64
// buffers indexed from the call's pointers (offsets into mem).
func colMajorRef(c colMajorCall, alpha, beta float64, mem map[dptr][]float64) {
	A, B, C := mem[c.a], mem[c.b], mem[c.c]
	for j := 0; j < c.n; j++ {
		for i := 0; i < c.m; i++ {
			var s float64
			for p := 0; p < c.k; p++ {
				var av, bv float64
				if c.transA {
					av = A[p+i*c.lda] // op(A)[i][p] = A[p][i], column-major A(k×m)
				} else {
					av = A[i+p*c.lda]
				}
				if c.transB {
					bv = B[j+p*c.ldb]
				} else {
					bv = B[p+j*c.ldb]
				}
				s += av * bv
			}
			C[i+j*c.ldc] = alpha*s + beta*C[i+j*c.ldc]
		}
	}
}

// TestColMajor checks the row-major to cuBLAS translation against a direct
// row-major product for every transpose combination, with padded strides.
func TestColMajor(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			m, n, k := 5, 7, 3
			lda, ldb, ldc := k+2, n+1, n+3
			if ta {
				lda = m + 2
			}
			if tb {
				ldb = k + 1
			}
			rowsA, rowsB := m, k
			if ta {
				rowsA = k
			}
			if tb {
				rowsB = n
			}
			A, B := make([]float64, rowsA*lda), make([]float64, rowsB*ldb)
			C := make([]float64, m*ldc)
			for _, x := range [][]float64{A, B, C} {
				for i := range x {
					x[i] = r.NormFloat64()
				}
			}
			want := append([]float64(nil), C...)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var s float64
					for p := 0; p < k; p++ {
						var av, bv float64
						if ta {
							av = A[p*lda+i]
						} else {
							av = A[i*lda+p]
						}
						if tb {
							bv = B[j*ldb+p]
						} else {
							bv = B[p*ldb+j]
						}
						s += av * bv
					}
					want[i*ldc+j] = 2*s + 0.5*want[i*ldc+j]
				}
			}
			g := gemmOp{transA: ta, transB: tb, m: m, n: n, k: k, a: 1, lda: lda, b: 2, ldb: ldb, c: 3, ldc: ldc}
			if err := g.check(); err != nil {
				t.Fatal(err)
			}
			got := append([]float64(nil), C...)
			colMajorRef(colMajor(g), 2, 0.5, map[dptr][]float64{1: A, 2: B, 3: got})
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-12 {
					t.Fatalf("transA=%v transB=%v: element %d = %v, want %v", ta, tb, i, got[i], want[i])
				}
			}
		}
	}
}
