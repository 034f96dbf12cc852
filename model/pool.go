package model

import (
	"runtime"
	"sync"
)

// task is a unit of row-parallel work: do processes rows [lo, hi).
// Tasks are long-lived structs owned by the engine and passed by pointer, so
// dispatching one allocates nothing (a closure would escape to the heap per call).
type task interface{ do(lo, hi int) }

type chunk struct {
	t      task
	lo, hi int
}

// pool runs row-parallel tasks on persistent worker goroutines plus the caller.
type pool struct {
	workers int
	work    []chan chunk
	wg      sync.WaitGroup
}

func newPool(n int) *pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	p := &pool{workers: n}
	for i := 1; i < n; i++ {
		ch := make(chan chunk, 1)
		p.work = append(p.work, ch)
		go func() {
			for c := range ch {
				c.t.do(c.lo, c.hi)
				p.wg.Done()
			}
		}()
	}
	return p
}

// run splits [0, n) into one contiguous range per worker and waits for all.
// Ranges shorter than minRows are merged so tiny jobs stay on one goroutine.
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
	per := (n + parts - 1) / parts
	p.wg.Add(parts - 1)
	for i := 1; i < parts; i++ {
		lo := i * per
		hi := lo + per
		if hi > n {
			hi = n
		}
		if lo >= hi {
			p.wg.Done()
			continue
		}
		p.work[i-1] <- chunk{t, lo, hi}
	}
	hi := per
	if hi > n {
		hi = n
	}
	t.do(0, hi)
	p.wg.Wait()
}

func (p *pool) close() {
	for _, ch := range p.work {
		close(ch)
	}
}
