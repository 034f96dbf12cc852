package gemm

// Packing copies a block of op(A) or op(B) into the order the micro-kernel
// reads it: one contiguous micro-panel per tile row (A) or column (B), k-major,
// zero-padded to a full tile so the kernel never needs an edge case. Packing
// also applies op() (the transposes cost nothing later) and alpha (folded into
// A, so the kernel does no extra multiply).

// packA packs rows [i0, i0+mb) and depths [p0, p0+kb) of alpha·op(A) into dst
// as ⌈mb/mr⌉ panels of mr·kb floats: panel q holds A[i0+q·mr+i, p0+p] at
// [q·mr·kb + p·mr + i].
// packDepths is how many depths of a transposed A packA copies across all
// its panels before moving on.
const packDepths = 16

func (p *problem) packA(dst []float32, i0, mb, p0, kb int) {
	mr := p.ar.mr
	pk := &p.ar.pk
	a, lda, alpha := p.a, p.lda, p.alpha
	if p.transA && pk.aCopy != nil {
		// A is stored k×m: each panel reads rows·4 bytes from each of kb rows
		// of A. Panel by panel, that is kb streams at once, more than the
		// hardware prefetchers follow when A's rows are far apart (the LM
		// head's weight gradient: a row of logits per depth). A few depths
		// at a time across all the panels reads each row's mb floats in
		// order instead. That product (100,352×128×668, 2 threads) went from
		// 191–206 to 260 GFLOP/s, and olmo2_14M's training step from 1,800
		// to 1,716 ms (medians of 3 alternating rounds, 2026-11-28); square
		// transposed products and cpu_s's step did not change.
		for q0 := 0; q0 < kb; q0 += packDepths {
			qn := min(packDepths, kb-q0)
			for ip := 0; ip < mb; ip += mr {
				rows := min(mr, mb-ip)
				d := dst[ip*kb+q0*mr : ip*kb+(q0+qn)*mr]
				src := a[(p0+q0)*lda+i0+ip : (p0+q0+qn-1)*lda+i0+ip+rows] // bounds of what aCopy reads
				pk.aCopy(&d[0], &src[0], lda, qn, rows, alpha)
			}
		}
		return
	}
	for ip := 0; ip < mb; ip += mr {
		rows := min(mr, mb-ip)
		d := dst[ip*kb : ip*kb+mr*kb]
		if p.transA && pk.aCopy != nil {
			src := a[p0*lda+i0+ip : (p0+kb-1)*lda+i0+ip+rows] // bounds of what aCopy reads
			pk.aCopy(&d[0], &src[0], lda, kb, rows, alpha)
			continue
		}
		if p.transA {
			// A is stored k×m: each depth p is a contiguous run of rows.
			for q := 0; q < kb; q++ {
				src := a[(p0+q)*lda+i0+ip:][:rows]
				dd := d[q*mr : q*mr+mr]
				if alpha == 1 {
					copy(dd, src)
				} else {
					for i, v := range src {
						dd[i] = alpha * v
					}
				}
				clear(dd[rows:])
			}
			continue
		}
		// A is stored m×k: read each row contiguously, write with stride mr
		// (the panel, mr·kb·4 bytes, sits in L1).
		q0 := 0
		if pk.aInterleave != nil && rows == mr {
			q0 = kb / pk.step * pk.step
			if q0 > 0 {
				src := a[(i0+ip)*lda+p0 : (i0+ip+rows-1)*lda+p0+q0] // bounds of what aInterleave reads
				pk.aInterleave(&d[0], &src[0], lda, q0, rows, alpha)
			}
		}
		for i := 0; i < rows; i++ {
			src := a[(i0+ip+i)*lda+p0+q0:][:kb-q0]
			d := d[q0*mr:]
			if alpha == 1 {
				for q, v := range src {
					d[q*mr+i] = v
				}
			} else {
				for q, v := range src {
					d[q*mr+i] = alpha * v
				}
			}
		}
		for i := rows; i < mr; i++ {
			for q := 0; q < kb; q++ {
				d[q*mr+i] = 0
			}
		}
	}
}

// packB packs micro-panels [q0, q1) of depths [p0, p0+kb) and columns
// [j0, j0+nb) of op(B) into dst: panel q holds B[p0+p, j0+q·nr+j] at
// [q·nr·kb + p·nr + j].
func (p *problem) packB(dst []float32, p0, kb, j0, nb, q0, q1 int) {
	nr := p.ar.nr
	pk := &p.ar.pk
	b, ldb := p.b, p.ldb
	for q := q0; q < q1; q++ {
		j := q * nr
		cols := min(nr, nb-j)
		d := dst[j*kb : j*kb+nr*kb]
		if !p.transB && pk.bCopy != nil {
			src := b[p0*ldb+j0+j : (p0+kb-1)*ldb+j0+j+cols] // bounds of what bCopy reads
			pk.bCopy(&d[0], &src[0], ldb, kb, cols, 1)
			continue
		}
		if !p.transB {
			// B is stored k×n: each depth is a contiguous run of columns.
			for r := 0; r < kb; r++ {
				dd := d[r*nr : r*nr+nr]
				copy(dd, b[(p0+r)*ldb+j0+j:][:cols])
				clear(dd[cols:])
			}
			continue
		}
		// B is stored n×k (a weight [out,in] in the forward pass): read each
		// row contiguously, write with stride nr into the L1-resident panel.
		r0 := 0
		if pk.bInterleave != nil && cols == nr {
			r0 = kb / pk.step * pk.step
			if r0 > 0 {
				for h := 0; h < nr; h += pk.step {
					src := b[(j0+j+h)*ldb+p0 : (j0+j+h+pk.step-1)*ldb+p0+r0] // bounds of what bInterleave reads
					pk.bInterleave(&d[h], &src[0], ldb, r0, pk.step, 1)
				}
			}
		}
		for c := 0; c < cols; c++ {
			src := b[(j0+j+c)*ldb+p0+r0:][:kb-r0]
			d := d[r0*nr:]
			for r, v := range src {
				d[r*nr+c] = v
			}
		}
		for c := cols; c < nr; c++ {
			for r := 0; r < kb; r++ {
				d[r*nr+c] = 0
			}
		}
	}
}
