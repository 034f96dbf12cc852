package model

import (
	"runtime"

	"github.com/olmolab/olmolab/model/gemm"
)

// task is a unit of row-parallel work: do processes rows [lo, hi).
// Tasks are long-lived structs owned by the engine and passed by pointer, so
// dispatching one allocates nothing (a closure would escape to the heap per call).
type task interface{ do(lo, hi int) }

// pool runs row-parallel tasks on up to workers threads: gemm's
// (gemm.Parallel), so that the products and the row kernels between them
// share one set of worker goroutines and hand over without wake-ups.
type pool struct {
	workers int
	job     ranges
}

// ranges cuts [0, n) into parts of per rows: part i is rows [i·per, (i+1)·per).
type ranges struct {
	t      task
	n, per int
}

func (r *ranges) Part(i int) {
	if lo := i * r.per; lo < r.n {
		r.t.do(lo, min(lo+r.per, r.n))
	}
}

func newPool(n int) *pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &pool{workers: n}
}

// run splits [0, n) into one contiguous range per worker and waits for all.
// Ranges shorter than minRows are merged so tiny jobs stay on one goroutine.
// A job that needs per-worker state runs with n = workers and minRows 1: range
// w is [w, w+1), and each range runs exactly once, on one goroutine.
func (p *pool) run(n, minRows int, t task) {
	if n <= 0 {
		return
	}
	parts := p.workers
	if minRows < 1 {
		minRows = 1
	}
	if max := (n + minRows - 1) / minRows; parts > max {
		parts = max
	}
	if parts <= 1 {
		t.do(0, n)
		return
	}
	p.job = ranges{t: t, n: n, per: (n + parts - 1) / parts}
	gemm.Parallel(parts, parts, &p.job)
	p.job.t = nil
}
