package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// waitSpins bounds the busy-wait before parking: the threads of one product
// finish their pieces within microseconds of each other, but on a busy machine
// a peer may be descheduled for milliseconds, and spinning then would take the
// core from it.
const waitSpins = 2000

// waitFor returns once ctr reaches target: it spins briefly, then parks on
// pl.cond. Whoever completes a counter calls signal.
func (pl *pool) waitFor(ctr *atomic.Int32, target int32) {
	for range waitSpins {
		if ctr.Load() >= target {
			return
		}
	}
	pl.mu2.Lock()
	pl.waiters.Add(1)
	for ctr.Load() < target {
		pl.cond.Wait()
	}
	pl.waiters.Add(-1)
	pl.mu2.Unlock()
}

// signal wakes the parked waiters after a counter reached its target. The
// counter update precedes the waiters check, and a waiter registers before it
// re-checks its counter, so no wake-up is lost (both are sequentially
// consistent atomics).
func (pl *pool) signal() {
	if pl.waiters.Load() > 0 {
		pl.mu2.Lock()
		pl.cond.Broadcast()
		pl.mu2.Unlock()
	}
}

// blockCounters coordinate one (jc, pc) block of a shared product.
type blockCounters struct {
	packNext, packDone   atomic.Int32 // B micro-panels claimed, packed
	chunkNext, chunkDone atomic.Int32 // row chunks claimed, computed
}

// mode says how the threads of one parallel call share the work.
type mode int

const (
	// splitRows: all threads work on probs[0]; they share the rows of C and
	// pack each B block together (pool.shared).
	splitRows mode = iota
	// independent: thread t runs probs[t] alone, with private B buffers
	// (column slices of one product, or a share of a batch).
	independent
)

// pool is the persistent set of worker goroutines. One parallel product runs at
// a time (mu); a call that finds the pool busy runs on its own goroutine
// single-threaded instead of queueing.
type pool struct {
	mu      sync.Mutex
	workers []*worker
	ws0     workspace // the calling goroutine's share
	nt      int
	mode    mode
	probs   []problem
	exited  atomic.Int32 // threads done with the current call

	// splitRows state
	bpack      [2][]float32
	chunkRows  int
	chunks     int32
	ctr        []blockCounters // per block
	chunkFlags []atomic.Int32  // per block and chunk: 1 once computed

	// independent batch state
	batch     batchJob
	batchNext atomic.Int32

	mu2     sync.Mutex // guards parking in waitFor
	cond    sync.Cond
	waiters atomic.Int32
}

type worker struct {
	t     int
	start chan struct{}
	ws    workspace
	p     *pool
}

var thePool pool

// ensure starts workers until the pool can run nt threads (caller included).
func (p *pool) ensure(nt int) {
	for len(p.workers) < nt-1 {
		w := &worker{t: len(p.workers) + 1, start: make(chan struct{}, 1), p: p}
		p.workers = append(p.workers, w)
		go w.loop()
	}
	if len(p.probs) < nt {
		p.probs = make([]problem, nt)
	}
}

func (w *worker) loop() {
	for range w.start {
		w.p.thread(w.t, &w.ws)
	}
}

// thread is thread t's share of the current call. Every thread, the caller
// included, counts itself out in exited as its last access to the pool's
// state, so once the caller has seen all nt the next call may reuse it.
func (p *pool) thread(t int, ws *workspace) {
	nt := int32(p.nt) // read before counting out: the caller may then reset it
	switch p.mode {
	case splitRows:
		p.shared(ws)
	case independent:
		if p.batch.count > 0 {
			p.batch.thread(&p.batchNext, ws)
		} else if pr := &p.probs[t]; pr.m > 0 && pr.n > 0 {
			pr.serial1(ws)
		}
	}
	if p.exited.Add(1) == nt {
		p.signal()
	}
}

// launch runs thread on nt threads (the caller is thread 0) and returns when
// all are done. p.mu must be held and the mode's state set up.
func (p *pool) launch(nt int, m mode) {
	p.nt = nt
	p.mode = m
	p.exited.Store(0)
	p.batchNext.Store(0)
	if p.cond.L == nil {
		p.cond.L = &p.mu2
	}
	for _, w := range p.workers[:nt-1] {
		w.start <- struct{}{}
	}
	p.thread(0, &p.ws0)
	p.waitFor(&p.exited, int32(nt))
}

// threads is how many threads a product of this many flops should use:
// waking a parked worker costs ~5–20 µs, so products under a few MFLOP stay
// on the calling goroutine.
func threads(flops float64) int {
	nt := runtime.GOMAXPROCS(0)
	if nt <= 1 || flops < parallelMinFlops {
		return 1
	}
	return min(nt, maxThreads)
}

const (
	parallelMinFlops = 4e6
	maxThreads       = 256
)
