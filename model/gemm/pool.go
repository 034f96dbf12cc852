package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// waitSpin bounds the busy-wait before parking. The threads of one product
// wait for each other briefly and often (a B panel a peer is packing, a chunk
// it is finishing: microseconds to a fraction of a millisecond), and waking a
// parked goroutine costs tens of microseconds in a VM, so they spin for about
// as long as a wake-up would take. On a busy machine a peer may be
// descheduled for milliseconds; the spin is short enough that the core it
// holds meanwhile is a small loss.
const waitSpin = 40 * time.Microsecond

// waitFor returns once ctr reaches target. Whoever completes a counter calls
// signal.
func (pl *pool) waitFor(ctr *atomic.Int32, target int32) {
	pl.await(func() bool { return ctr.Load() >= target })
}

// waitLeft returns once the current call is closed and no worker is inside.
func (pl *pool) waitLeft() {
	pl.await(func() bool { return pl.state.Load()&countMask == 0 })
}

// await returns once done reports true: it spins for up to waitSpin, then
// parks on pl.cond until a signal finds done true.
func (pl *pool) await(done func() bool) {
	if spinFor(waitSpin, done) {
		return
	}
	pl.mu2.Lock()
	pl.waiters.Add(1)
	for !done() {
		pl.cond.Wait()
	}
	pl.waiters.Add(-1)
	pl.mu2.Unlock()
}

// spinFor polls done for up to d and reports whether it came true. The clock
// is read once per 64 polls.
func spinFor(d time.Duration, done func() bool) bool {
	var t0 time.Time
	for i := 0; ; i++ {
		if done() {
			return true
		}
		if i&63 == 63 {
			if t0.IsZero() {
				t0 = time.Now()
			} else if time.Since(t0) > d {
				return false
			}
		}
	}
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
	// independent: threads claim whole products and run each alone, with
	// private B buffers: probs[:pieces] (column slices of one product) or the
	// items of batch.
	independent
	// parallelParts: threads claim the parts of work that is not a
	// product (Parallel): the row kernels around the products.
	parallelParts
)

// pool is the persistent set of worker goroutines. One parallel product runs at
// a time (mu); a call that finds the pool busy runs on its own goroutine
// single-threaded instead of queueing.
type pool struct {
	mu      sync.Mutex
	workers []*worker
	ws0     workspace // the calling goroutine's share
	mode    mode
	probs   []problem
	seq     uint32        // number of the current call (launch)
	state   atomic.Uint64 // seq<<32 | closed<<31 | workers inside the call

	// splitRows state
	bpack      [2][]float32
	chunkRows  int
	chunks     int32
	ctr        []blockCounters // per block
	chunkFlags []atomic.Int32  // per block and chunk: 1 once computed

	// independent state
	pieces    int // column slices in probs
	batch     batchJob
	batchNext atomic.Int32 // next slice, batch item or Parallel part to claim

	// parallelParts state
	parts  Parts
	nparts int32

	mu2     sync.Mutex // guards parking in waitFor
	cond    sync.Cond
	waiters atomic.Int32
}

type worker struct {
	start  chan struct{} // wakes a parked worker
	job    atomic.Uint32 // number of the last call launch woke this worker for
	parked atomic.Int32  // 1 while blocked (or about to block) on start
	ws     workspace
	p      *pool
}

// workerSpin is how long a worker polls for its next job before parking. The
// engine issues products back to back, so the next one usually comes within
// microseconds; waking a parked goroutine costs tens of microseconds in a VM
// (a futex wake and an idle vCPU to rouse), as much as a 256³ product takes.
const workerSpin = 50 * time.Microsecond

var thePool pool

// ensure starts workers until the pool can run nt threads (caller included).
func (p *pool) ensure(nt int) {
	for len(p.workers) < nt-1 {
		w := &worker{start: make(chan struct{}, 1), p: p}
		p.workers = append(p.workers, w)
		go w.loop()
	}
	if len(p.probs) < nt {
		p.probs = make([]problem, nt)
	}
}

// loop runs jobs: it polls job for workerSpin after each, then parks on start.
// Handshake with launch: launch sets job, then takes parked from 1 to 0 and,
// if that succeeded, sends on start. A worker that set parked and then sees a
// new job races launch for the same transition; whoever loses knows the other
// one is handling the wake-up, so each job runs exactly once.
func (w *worker) loop() {
	var last uint32
	for {
		if !w.poll(last) {
			w.parked.Store(1)
			if w.job.Load() == last || !w.parked.CompareAndSwap(1, 0) {
				<-w.start
			}
		}
		last = w.job.Load()
		w.p.workerThread(last, &w.ws)
	}
}

// poll spins until job differs from last (true) or workerSpin has passed.
func (w *worker) poll(last uint32) bool {
	return spinFor(workerSpin, func() bool { return w.job.Load() != last })
}

// Call state (pool.state): the call's number, a closed bit and how many
// workers are inside it. A worker joins only if the number is the one it was
// woken for and the call is not closed; the caller, once out of work, closes
// the call and waits for the workers inside to leave. So a worker that the OS
// runs late (busy machine) is never waited for unless it took work, and a
// late worker cannot join a later call by mistake.
const (
	closedBit = 1 << 31
	countMask = closedBit - 1
)

// join enters call seq; false if that call is over.
func (p *pool) join(seq uint32) bool {
	for {
		s := p.state.Load()
		if uint32(s>>32) != seq || s&closedBit != 0 {
			return false
		}
		if p.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// work is one thread's share of the current call. All work is claimed
// dynamically, so any number of threads may take part, the caller alone
// included.
func (p *pool) work(ws *workspace) {
	switch p.mode {
	case splitRows:
		p.shared(ws)
	case parallelParts:
		for {
			i := p.batchNext.Add(1) - 1
			if i >= p.nparts {
				return
			}
			p.parts.Part(int(i))
		}
	case independent:
		if p.batch.count > 0 {
			p.batch.thread(&p.batchNext, ws)
			return
		}
		for {
			i := int(p.batchNext.Add(1) - 1)
			if i >= p.pieces {
				return
			}
			if pr := &p.probs[i]; pr.m > 0 && pr.n > 0 {
				pr.serialBlocked(ws)
			}
		}
	}
}

// workerThread runs a worker's part of call seq, if the call still wants it.
func (p *pool) workerThread(seq uint32, ws *workspace) {
	if !p.join(seq) {
		return
	}
	p.work(ws)
	if s := p.state.Add(^uint64(0)); s&countMask == 0 && s&closedBit != 0 {
		p.signal() // last one out of a closed call
	}
}

// launch runs the current call on up to nt threads (the caller is thread 0)
// and returns when it is done. p.mu must be held and the mode's state set up.
func (p *pool) launch(nt int, m mode) {
	p.mode = m
	p.batchNext.Store(0)
	if p.cond.L == nil {
		p.cond.L = &p.mu2
	}
	p.seq++
	p.state.Store(uint64(p.seq) << 32)
	for _, w := range p.workers[:nt-1] {
		w.job.Store(p.seq)
		if w.parked.CompareAndSwap(1, 0) {
			w.start <- struct{}{}
		}
	}
	p.work(&p.ws0)
	for {
		s := p.state.Load()
		if p.state.CompareAndSwap(s, s|closedBit) {
			break
		}
	}
	p.waitLeft()
}

// threads is how many threads a product of this many flops should use.
// Measured on 2 cores (Sapphire Rapids class, quiet): 2 threads lose below
// ~15 MFLOP (128³ to 192³: the hand-off and the shared-block waits cost as
// much as they save) and win from ~30 MFLOP on (256³: 1.3×, 512³: 1.7×).
func threads(flops float64) int {
	nt := runtime.GOMAXPROCS(0)
	if nt <= 1 || flops < parallelMinFlops {
		return 1
	}
	return min(nt, maxThreads)
}

// parallelMinFlops is the threshold of threads; a variable so tests can
// send small products down the parallel path.
var parallelMinFlops = 20e6

const maxThreads = 256
