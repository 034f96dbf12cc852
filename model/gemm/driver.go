package gemm

import (
	"unsafe"
)

// kernelFunc computes one full mr×nr tile of C from packed micro-panels:
//
//	acc[i][j] = Σ_{p<k} a[p·mr+i] · b[p·nr+j]
//	C[i·ldc+j] = acc[i][j]                   if beta == 0 (C is not read)
//	C[i·ldc+j] = acc[i][j] + beta·C[i·ldc+j] otherwise
//
// beta must not be -0 (callers pass +0): the assembly tests its bits.
type kernelFunc func(k int, a, b, c *float32, ldc int, beta float32)

// arch is one micro-kernel with the block sizes tuned for it.
type arch struct {
	name   string
	mr, nr int // register tile
	kc     int // depth of one packed block (A micro-panel mr·kc lives in L1)
	nc     int // width of one packed B block (kc·nc lives in L2)
	mc     int // rows of A packed at once (a multiple of mr)
	kern   kernelFunc
	pk     packer // optional assembly packing; nil fields fall back to Go
	narrow *arch  // if set, used instead for C with at most narrow.nr columns
}

// forColumns is the arch to use for a C with n columns.
func (ar *arch) forColumns(n int) *arch {
	if ar.narrow != nil && n <= ar.narrow.nr {
		return ar.narrow
	}
	return ar
}

// packer holds assembly packing routines for one tile shape. Each stores
// alpha·X into a panel of width w (mr or nr) floats per step of k:
//
//   - interleave: dst[q·w+r] = src[r·ld+q] for step rows r and q < kb, a
//     multiple of step; rows is step or mr (then rows mr..step-1 are not read
//     and count as zero), and only min(w,step) lanes are stored. It packs A
//     (m×k stored) and transposed B, step rows at a time (16 with zmm, 8 with
//     ymm).
//   - copy: dst[q·w+j] = src[q·ld+j] for j < n, zero for n ≤ j < w, q < kb. It
//     packs B and transposed A.
type packer struct {
	step                     int
	aInterleave, bInterleave func(dst, src *float32, ld, kb, rows int, alpha float32)
	aCopy, bCopy             func(dst, src *float32, ld, kb, n int, alpha float32)
}

// workspace is one thread's private scratch: the packed A block and a tile
// for edges. It grows on demand and is reused across calls.
type workspace struct {
	apack []float32
	tile  []float32
	bpack []float32 // B block for single-threaded products
}

// problem is one Sgemm call as the threads see it.
type problem struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	c              []float32
	ldc            int
	ar             *arch
}

// alignedFloats returns a slice of n float32 whose first element is 64-byte
// aligned, so packed panels start on cache lines and vector loads never split.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&s[0]))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return s[off : off+n : off+n]
}

func grow(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return alignedFloats(n)
}

// bpackSize is the length of one packed B block buffer for ar.
func (ar *arch) bpackSize() int { return ar.kc * roundUp(ar.nc, ar.nr) }

func (ws *workspace) prepare(ar *arch) {
	ws.apack = grow(ws.apack, ar.mc*ar.kc)
	ws.tile = grow(ws.tile, ar.mr*ar.nr)
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// serialBlocked is the blocked product on one thread, with one B buffer.
func (p *problem) serialBlocked(ws *workspace) {
	ws.prepare(p.ar)
	ws.bpack = grow(ws.bpack, p.ar.bpackSize())
	ar := p.ar
	for jc := 0; jc < p.n; jc += ar.nc {
		nb := min(ar.nc, p.n-jc)
		panels := (nb + ar.nr - 1) / ar.nr
		for pc := 0; pc < p.k; pc += ar.kc {
			kb := min(ar.kc, p.k-pc)
			p.packB(ws.bpack, pc, kb, jc, nb, 0, panels)
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			for ic := 0; ic < p.m; ic += ar.mc {
				mb := min(ar.mc, p.m-ic)
				p.packA(ws.apack, ic, mb, pc, kb)
				p.macro(ws, ws.bpack, ic, mb, jc, nb, kb, beta)
			}
		}
	}
}

// shared is one thread's part of a product that all the pool's threads work on
// together. Work is handed out dynamically, so a thread that the OS deschedules
// (a busy machine) delays the others by at most the piece it holds:
//
//   - per block (jc, pc), B micro-panels are claimed one at a time and packed
//     into bpack[it&1]; the block is computed once all its panels are packed;
//   - the rows of C are cut into chunks of whole tiles (about eight per
//     thread); a thread claims a chunk, packs its A rows and multiplies them by
//     the whole B block;
//   - a block at depth pc > 0 accumulates into what the previous block wrote,
//     so each chunk waits for the same chunk of the previous block (a flag per
//     chunk, not the whole block: chunks are claimed in order, so by the time
//     chunk ch of block it is claimed, chunk ch of block it-1 is long done and
//     nobody waits at block boundaries);
//   - block it+2 reuses block it's buffer, so it is packed only once every
//     chunk of block it is done; packing block it+1 overlaps the tail of
//     block it.
//
// Waiting uses completion counters (pool.waitFor), not a barrier: no thread
// waits for another thread to arrive, only for work to be finished.
func (pl *pool) shared(ws *workspace) {
	p := &pl.probs[0]
	ar := p.ar
	ws.prepare(ar)
	chunkRows, chunks := pl.chunkRows, pl.chunks
	it := 0
	for jc := 0; jc < p.n; jc += ar.nc {
		nb := min(ar.nc, p.n-jc)
		panels := int32((nb + ar.nr - 1) / ar.nr)
		for pc := 0; pc < p.k; pc += ar.kc {
			kb := min(ar.kc, p.k-pc)
			bp := pl.bpack[it&1]
			c := &pl.ctr[it]
			if it >= 2 {
				pl.waitFor(&pl.ctr[it-2].chunkDone, chunks)
			}
			for {
				q := c.packNext.Add(1) - 1
				if q >= panels {
					break
				}
				p.packB(bp, pc, kb, jc, nb, int(q), int(q)+1)
				if c.packDone.Add(1) == panels {
					pl.signal()
				}
			}
			pl.waitFor(&c.packDone, panels)
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			flags := pl.chunkFlags[it*int(chunks) : (it+1)*int(chunks)]
			for {
				ch := c.chunkNext.Add(1) - 1
				if ch >= chunks {
					break
				}
				ic := int(ch) * chunkRows
				mb := min(chunkRows, p.m-ic)
				p.packA(ws.apack, ic, mb, pc, kb)
				if pc > 0 {
					// These C rows were written by block it-1
					// (same columns, previous depths).
					pl.waitFor(&pl.chunkFlags[(it-1)*int(chunks)+int(ch)], 1)
				}
				p.macro(ws, bp, ic, mb, jc, nb, kb, beta)
				flags[ch].Store(1)
				c.chunkDone.Add(1)
				pl.signal()
			}
			it++
		}
	}
}

// macro multiplies a packed mb×kb block of A by a packed kb×nb block of B into
// C[ic:ic+mb, jc:jc+nb]. The A micro-panel is the outer loop so it stays in L1
// while the B micro-panels stream from L2.
func (p *problem) macro(ws *workspace, bp []float32, ic, mb, jc, nb, kb int, beta float32) {
	ar := p.ar
	mr, nr := ar.mr, ar.nr
	kern := ar.kern
	c, ldc := p.c, p.ldc
	for ir := 0; ir < mb; ir += mr {
		rows := min(mr, mb-ir)
		ap := &ws.apack[ir*kb]
		for jr := 0; jr < nb; jr += nr {
			cols := min(nr, nb-jr)
			bq := &bp[jr*kb]
			ci := (ic+ir)*ldc + jc + jr
			if rows == mr && cols == nr {
				_ = c[ci+(mr-1)*ldc+nr-1] // the kernel writes up to here
				kern(kb, ap, bq, &c[ci], ldc, beta)
				continue
			}
			// Edge tile: compute the full tile into scratch, then merge the
			// valid part so the kernel never touches memory outside C.
			tile := ws.tile
			kern(kb, ap, bq, &tile[0], nr, 0)
			for i := 0; i < rows; i++ {
				dst := c[ci+i*ldc : ci+i*ldc+cols]
				src := tile[i*nr : i*nr+cols]
				if beta == 0 {
					copy(dst, src)
				} else {
					for j, v := range src {
						dst[j] = v + beta*dst[j]
					}
				}
			}
		}
	}
}
