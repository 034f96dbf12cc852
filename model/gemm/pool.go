package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// barrier is a reusable barrier for n threads. Threads spin briefly (the
// threads of one product arrive within microseconds of each other), then park
// on a condition variable so a descheduled peer on a busy machine costs a
// futex wait, not a burnt core.
type barrier struct {
	n     int32
	count atomic.Int32
	gen   atomic.Uint32
	mu    sync.Mutex
	cond  sync.Cond
}

// barrierSpins bounds the busy-wait before parking: ~10–30 µs of atomic loads.
const barrierSpins = 4000

func (b *barrier) reset(n int) {
	b.n = int32(n)
	b.count.Store(0)
	if b.cond.L == nil {
		b.cond.L = &b.mu
	}
}

func (b *barrier) wait() {
	// Read n and gen before arriving: once this thread has arrived, the
	// caller may finish and reset the barrier for its next product.
	n, g := b.n, b.gen.Load()
	if b.count.Add(1) == n {
		b.count.Store(0)
		b.mu.Lock()
		b.gen.Add(1)
		b.mu.Unlock()
		b.cond.Broadcast()
		return
	}
	for i := 0; i < barrierSpins; i++ {
		if b.gen.Load() != g {
			return
		}
	}
	b.mu.Lock()
	for b.gen.Load() == g {
		b.cond.Wait()
	}
	b.mu.Unlock()
}

// mode says how the threads of one parallel call share the work.
type mode int

const (
	// splitRows: all threads work on probs[0]; they split C's rows and pack
	// each B block together (problem.run).
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
	bpack   [2][]float32
	bar     barrier
	nt      int
	mode    mode
	probs   []problem
	batch   batchJob
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

// thread is thread t's share of the current call; every thread, the caller
// included, ends at the barrier, which is how the caller learns all are done.
func (p *pool) thread(t int, ws *workspace) {
	switch p.mode {
	case splitRows:
		pr := &p.probs[0]
		pr.run(t, p.nt, ws, &p.bpack, &p.bar)
	case independent:
		if p.batch.count > 0 {
			p.batch.thread(t, p.nt, ws)
		} else if pr := &p.probs[t]; pr.m > 0 && pr.n > 0 {
			pr.runAlone(ws)
		}
	}
	p.bar.wait()
}

// launch runs thread on nt threads (the caller is thread 0) and returns when
// all are done. p.mu must be held and p.probs/p.batch set up.
func (p *pool) launch(nt int, m mode) {
	p.nt = nt
	p.mode = m
	p.bar.reset(nt)
	for _, w := range p.workers[:nt-1] {
		w.start <- struct{}{}
	}
	p.thread(0, &p.ws0)
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
