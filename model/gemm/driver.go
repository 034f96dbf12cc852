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
}

// packer holds assembly packing routines for one tile shape. Each stores
// alpha·X into a panel of width w (mr or nr) floats per step of k:
//
//   - interleave: dst[q·w+r] = src[r·ld+q] for 16 rows r (only rows < rows are
//     read, the others are zero; only min(w,16) lanes are stored) and q < kb, a
//     multiple of 16. It packs A (m×k stored) and transposed B, 16 rows at a time.
//   - copy: dst[q·w+j] = src[q·ld+j] for j < n, zero for n ≤ j < w, q < kb. It
//     packs B and transposed A.
type packer struct {
	aInterleave, bInterleave func(dst, src *float32, ld, kb, rows int, alpha float32)
	aCopy, bCopy             func(dst, src *float32, ld, kb, n int, alpha float32)
}

// workspace is one thread's private scratch: the packed A block and a tile
// for edges. It grows on demand and is reused across calls.
type workspace struct {
	apack []float32
	tile  []float32
	bpack []float32    // B block for single-threaded products
	bpair [2][]float32 // bpack twice: run alternates buffers, one suffices alone
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

// run is thread t of nt working on p. The threads split the rows of C in
// whole mr-row tiles; B blocks are packed cooperatively into bpack[0] and
// bpack[1] alternately, and one barrier per block separates packing from use.
// With two buffers one barrier suffices: a thread that passed barrier i has
// finished computing with block i-1, so block i+1 may overwrite its buffer.
func (p *problem) run(t, nt int, ws *workspace, bpack *[2][]float32, bar *barrier) {
	ws.prepare(p.ar)
	ar := p.ar
	mr, nr := ar.mr, ar.nr
	tiles := (p.m + mr - 1) / mr
	r0 := tiles * t / nt * mr
	r1 := min(p.m, tiles*(t+1)/nt*mr)
	iter := 0
	for jc := 0; jc < p.n; jc += ar.nc {
		nb := min(ar.nc, p.n-jc)
		panels := (nb + nr - 1) / nr
		for pc := 0; pc < p.k; pc += ar.kc {
			kb := min(ar.kc, p.k-pc)
			bp := bpack[iter&1]
			iter++
			p.packB(bp, pc, kb, jc, nb, panels*t/nt, panels*(t+1)/nt)
			if nt > 1 {
				bar.wait()
			}
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			for ic := r0; ic < r1; ic += ar.mc {
				mb := min(ar.mc, r1-ic)
				p.packA(ws.apack, ic, mb, pc, kb)
				p.macro(ws, bp, ic, mb, jc, nb, kb, beta)
			}
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
