package gemm

import (
	"runtime"
	"sync/atomic"
	"testing"
)

type countParts struct {
	hits   []atomic.Int32
	nested int // > 0: each part runs a Parallel of this many parts itself
	inner  atomic.Int32
}

func (c *countParts) Part(i int) {
	c.hits[i].Add(1)
	if c.nested > 0 {
		in := &countParts{hits: make([]atomic.Int32, c.nested)}
		Parallel(c.nested, 4, in) // the pool is busy: runs on this goroutine
		for j := range in.hits {
			c.inner.Add(in.hits[j].Load())
		}
	}
}

// TestParallel: every part runs exactly once, whatever the thread count,
// nested calls included (they find the pool busy and run serially), and a
// Parallel between products leaves the pool usable.
func TestParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, c := range []struct{ n, threads, nested int }{
		{0, 4, 0}, {1, 4, 0}, {3, 1, 0}, {7, 2, 0}, {64, 4, 0}, {1000, 3, 0}, {9, 4, 5},
	} {
		p := &countParts{hits: make([]atomic.Int32, c.n), nested: c.nested}
		Parallel(c.n, c.threads, p)
		for i := range p.hits {
			if h := p.hits[i].Load(); h != 1 {
				t.Errorf("n %d threads %d: part %d ran %d times", c.n, c.threads, i, h)
			}
		}
		if want := int32(c.n * c.nested); p.inner.Load() != want {
			t.Errorf("n %d nested %d: %d inner parts ran, want %d", c.n, c.nested, p.inner.Load(), want)
		}
		// a product right after still runs on the pool and is right
		a, b, got := make([]float32, 64*64), make([]float32, 64*64), make([]float32, 64*64)
		for i := range a {
			a[i], b[i] = float32(i%7), float32(i%5)
		}
		Sgemm(false, false, 64, 64, 64, 1, a, 64, b, 64, 0, got, 64)
		var want float32
		for k := 0; k < 64; k++ {
			want += a[k] * b[k*64]
		}
		if got[0] != want {
			t.Fatalf("product after Parallel: c[0] = %v, want %v", got[0], want)
		}
	}
	p := &countParts{hits: make([]atomic.Int32, 8)}
	if n := testing.AllocsPerRun(20, func() { Parallel(8, 2, p) }); n != 0 {
		t.Errorf("Parallel allocates: %.0f per call", n)
	}
}
