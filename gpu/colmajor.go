package gpu

// colMajorCall is a cuBLAS (column-major) GEMM: C = alpha·opA(A)·opB(B) + beta·C
// with C m×n and leading dimensions in elements.
type colMajorCall struct {
	transA, transB bool
	m, n, k        int
	a              dptr
	ta             dtype
	lda            int
	b              dptr
	tb             dtype
	ldb            int
	c              dptr
	tc             dtype
	ldc            int
}

// colMajor turns a row-major product into cuBLAS's convention: a row-major
// m×n matrix with row stride ld is the column-major n×m matrix with leading
// dimension ld, so C = op(A)·op(B) becomes Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the
// operands and the dimensions m and n, keep each operand's transpose flag.
func colMajor(g gemmOp) colMajorCall {
	return colMajorCall{
		transA: g.transB, transB: g.transA,
		m: g.n, n: g.m, k: g.k,
		a: g.b, ta: g.tb, lda: g.ldb,
		b: g.a, tb: g.ta, ldb: g.lda,
		c: g.c, tc: g.tc, ldc: g.ldc,
	}
}
