package gemm

import (
	"os"
	"sync"
	"sync/atomic"
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(X) = Xᵀ when the matching trans flag is set. op(A) is m×k, op(B) is k×n and C is
// m×n; lda, ldb and ldc are the row strides of A, B and C as stored.
// When beta is 0, C is not read (it may hold NaN); when alpha is 0 or k is 0, A and
// B are not read. It panics if a slice is too short for the shapes given.
//
// Products of at least a few MFLOP run on all GOMAXPROCS threads of a persistent
// pool; once warmed up, a call allocates nothing. Sgemm may be called from several
// goroutines at once: a call that finds the pool busy runs on its own goroutine.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkShapes(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	pr := problem{
		transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, beta: beta + 0, // +0 turns -0 into +0, see kernelFunc
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
		ar: current.Load().forColumns(n),
	}
	if pr.trivial() {
		pr.serial(nil)
		return
	}
	if nt := threads(pr.flops()); nt > 1 && thePool.mu.TryLock() {
		thePool.product(&pr, nt)
		thePool.mu.Unlock()
		return
	}
	ws := wsPool.Get().(*workspace)
	pr.serial(ws)
	wsPool.Put(ws)
}

// SgemmStridedBatched computes, for each i < batch,
//
//	C_i = alpha·op(A_i)·op(B_i) + beta·C_i
//
// where A_i = a[i·strideA:], B_i = b[i·strideB:], C_i = c[i·strideC:], each laid
// out as for Sgemm. It is meant for many small products (attention per head, per
// sequence): when each product is too small to be worth splitting, whole products
// are spread over the threads instead. The C_i must not overlap.
// It panics on negative strides or if a slice is too short for the last product.
func SgemmStridedBatched(transA, transB bool, m, n, k int, alpha float32,
	a []float32, lda, strideA int, b []float32, ldb, strideB int,
	beta float32, c []float32, ldc, strideC int, batch int) {
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		panic("gemm: negative batch or stride")
	}
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	last := batch - 1
	if last*strideC > len(c) || (k > 0 && (last*strideA > len(a) || last*strideB > len(b))) {
		panic("gemm: batch too long for its slices")
	}
	var la, lb []float32
	if k > 0 {
		la, lb = a[last*strideA:], b[last*strideB:]
	}
	checkShapes(transA, transB, m, n, k, la, lda, lb, ldb, c[last*strideC:], ldc)
	base := problem{
		transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, beta: beta + 0,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
		ar: current.Load().forColumns(n),
	}
	job := batchJob{base: base, count: batch, sa: strideA, sb: strideB, sc: strideC}
	per := base.flops()
	if per >= batchSplitFlops || batch == 1 {
		// Each product is big enough to use every thread by itself.
		for i := range batch {
			pr := job.item(i)
			Sgemm(transA, transB, m, n, k, alpha, pr.a, lda, pr.b, ldb, beta, pr.c, ldc)
		}
		return
	}
	if nt := min(threads(per*float64(batch)), batch); nt > 1 && thePool.mu.TryLock() {
		thePool.ensure(nt)
		thePool.batch = job
		thePool.launch(nt, independent)
		thePool.batch = batchJob{}
		thePool.mu.Unlock()
		return
	}
	ws := wsPool.Get().(*workspace)
	var next atomic.Int32
	job.thread(&next, ws)
	wsPool.Put(ws)
}

// Parts is parallel work that is not a product: Part(i) runs piece i. Pieces
// must not depend on each other or on which thread runs them.
type Parts interface{ Part(i int) }

// Parallel runs p.Part(i) for every i in [0, n) on up to threads threads of
// the pool that runs the products (the caller is one of them), each piece
// claimed by whichever thread is free, and returns when all are done. It
// allocates nothing. If the pool is busy (another goroutine's product or
// Parallel, or a Part calling Parallel), the caller runs every piece itself.
//
// One pool for the products and the row kernels between them matters on few
// cores: its workers spin briefly between jobs, so the next job, product or
// not, starts without a goroutine wake-up (tens of µs in a VM). Measured on 2
// threads, alternating with the engine's former pool of its own: +7.6% tokens/s
// at the quickstart's shape, +11% at issue 7's (a), +3.5% at (c).
func Parallel(n, threads int, p Parts) {
	if nt := min(threads, n, maxThreads); nt > 1 && thePool.mu.TryLock() {
		thePool.ensure(nt)
		thePool.parts, thePool.nparts = p, int32(n)
		thePool.launch(nt, parallelParts)
		thePool.parts = nil
		thePool.mu.Unlock()
		return
	}
	for i := 0; i < n; i++ {
		p.Part(i)
	}
}

// batchSplitFlops: a batched product at least this big is split across threads
// on its own rather than handed whole to one thread.
const batchSplitFlops = 64e6

// batchJob is a strided batch; thread t of nt takes a contiguous share of it.
type batchJob struct {
	base       problem
	count      int
	sa, sb, sc int
}

func (j *batchJob) item(i int) problem {
	pr := j.base
	if pr.k > 0 {
		pr.a = pr.a[i*j.sa:]
		pr.b = pr.b[i*j.sb:]
	}
	pr.c = pr.c[i*j.sc:]
	return pr
}

// thread computes items of the batch, claimed one at a time from next, until
// none is left.
func (j *batchJob) thread(next *atomic.Int32, ws *workspace) {
	for {
		i := int(next.Add(1) - 1)
		if i >= j.count {
			return
		}
		pr := j.item(i)
		pr.serial(ws)
	}
}

// tinyMNK: below this many multiply-adds the plain loop beats packing.
const tinyMNK = 2048

func (p *problem) flops() float64 { return 2 * float64(p.m) * float64(p.n) * float64(p.k) }

// trivial reports whether the product needs no packing: nothing to multiply
// (then C = beta·C) or so little that the plain loop is fastest.
func (p *problem) trivial() bool {
	return p.k == 0 || p.alpha == 0 || p.m*p.n*p.k < tinyMNK
}

// serial computes the product on the calling goroutine; ws may be nil only
// when p is trivial.
func (p *problem) serial(ws *workspace) {
	switch {
	case p.k == 0 || p.alpha == 0:
		scale(p.m, p.n, p.beta, p.c, p.ldc)
	case p.m*p.n*p.k < tinyMNK:
		naive(p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, p.c, p.ldc)
	default:
		p.serialBlocked(ws)
	}
}

// product runs one big product on nt threads. Normally the threads split C's
// rows and share packed B; when C has too few rows for that (fewer than four
// tiles per thread) but enough columns, each thread computes its own column
// slice of C independently.
func (pl *pool) product(pr *problem, nt int) {
	pl.ensure(nt)
	ar := pr.ar
	tiles := (pr.m + ar.mr - 1) / ar.mr
	panels := (pr.n + ar.nr - 1) / ar.nr
	if tiles >= 4*nt || panels < 4*nt {
		nt = min(nt, tiles)
		if nt == 1 {
			pr.serialBlocked(&pl.ws0)
			return
		}
		pl.probs[0] = *pr
		for i := range pl.bpack {
			pl.bpack[i] = grow(pl.bpack[i], ar.bpackSize())
		}
		// Chunks of whole tiles, about eight per thread (so a descheduled
		// thread's last chunk is a small tail), at most mc rows.
		per := max(1, min(ar.mc/ar.mr, tiles/(8*nt)))
		pl.chunkRows = per * ar.mr
		pl.chunks = int32((pr.m + pl.chunkRows - 1) / pl.chunkRows)
		iters := ((pr.n + ar.nc - 1) / ar.nc) * ((pr.k + ar.kc - 1) / ar.kc)
		if cap(pl.ctr) < iters {
			pl.ctr = make([]blockCounters, iters)
		}
		pl.ctr = pl.ctr[:iters]
		clear(pl.ctr)
		nf := iters * int(pl.chunks)
		if cap(pl.chunkFlags) < nf {
			pl.chunkFlags = make([]atomic.Int32, nf)
		}
		pl.chunkFlags = pl.chunkFlags[:nf]
		clear(pl.chunkFlags)
		pl.launch(nt, splitRows)
	} else {
		for t := range nt {
			n0 := min(pr.n, panels*t/nt*ar.nr)
			n1 := min(pr.n, panels*(t+1)/nt*ar.nr)
			pl.probs[t] = pr.columns(n0, n1)
		}
		pl.pieces = nt
		pl.launch(nt, independent)
	}
	clear(pl.probs) // drop references to the caller's slices
}

// columns is the product restricted to C's columns [n0, n1).
func (p *problem) columns(n0, n1 int) problem {
	sub := *p
	sub.n = n1 - n0
	if sub.n <= 0 {
		sub.n = 0
		return sub
	}
	if p.transB {
		sub.b = p.b[n0*p.ldb:]
	} else {
		sub.b = p.b[n0:]
	}
	sub.c = p.c[n0:]
	return sub
}

// scale sets C = beta·C (C = 0 when beta is 0, whatever C held).
func scale(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

var wsPool = sync.Pool{New: func() any { return new(workspace) }}

// current is the kernel in use: the best this CPU runs, unless the environment
// variable OLMOLAB_GEMM_KERNEL names another (avx512, avx2 or generic; for
// benchmarks and for checking a fallback on a machine that has the best).
var current atomic.Pointer[arch]

func init() {
	as := availableArches()
	current.Store(as[0])
	if name := os.Getenv("OLMOLAB_GEMM_KERNEL"); name != "" {
		for _, a := range as {
			if a.name == name {
				current.Store(a)
			}
		}
	}
}

// Kernel names the micro-kernel Sgemm uses on this machine: "avx512", "avx2" or
// "generic".
func Kernel() string { return current.Load().name }

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

// naive is the reference product: a plain triple loop, used by tests and for
// tiny shapes.
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
