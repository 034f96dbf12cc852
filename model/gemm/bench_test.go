package gemm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// Benchmarks report GFLOP/s (2·m·n·k per product) for 1 thread and for
// GOMAXPROCS threads (set inside the benchmark: -cpu does not reach
// sub-benchmarks). OLMOLAB_GEMM_KERNEL=avx2|generic compares kernels.
//
//	go test -run XXX -bench . ./model/gemm/

// threadCounts is 1 and the machine's GOMAXPROCS (if more than 1).
func threadCounts() []int {
	if p := runtime.GOMAXPROCS(0); p > 1 {
		return []int{1, p}
	}
	return []int{1}
}

// benchProcs runs f under GOMAXPROCS = procs and reports flops per call as GFLOP/s.
func benchProcs(b *testing.B, procs int, flops float64, f func()) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	f() // warm up: workers, buffers
	b.ResetTimer()
	for b.Loop() {
		f()
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkSgemm(b *testing.B) {
	for _, s := range []struct {
		name           string
		transA, transB bool
		m, n, k        int
	}{
		{"NN_512", false, false, 512, 512, 512},
		{"NN_1024", false, false, 1024, 1024, 1024},
		{"NN_2048", false, false, 2048, 2048, 2048},
		{"NT_2048x1408x512", false, true, 2048, 1408, 512},  // Linear forward: x·Wᵀ
		{"NN_2048x512x1408", false, false, 2048, 512, 1408}, // Linear input grad: dy·W
		{"TN_512x1408x2048", true, false, 512, 1408, 2048},  // Linear weight grad: xᵀ·dy
		{"NT_1024x8192x512", false, true, 1024, 8192, 512},  // LM head, small vocab
		{"NT_64x2048x2048", false, true, 64, 2048, 2048},    // few rows: column split
	} {
		r := rand.New(rand.NewPCG(1, 1))
		lda, ldb := s.k, s.n
		if s.transA {
			lda = s.m
		}
		if s.transB {
			ldb = s.k
		}
		a, bb, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), randSlice(r, s.m*s.n)
		for _, p := range threadCounts() {
			b.Run(fmt.Sprintf("%s/threads=%d", s.name, p), func(b *testing.B) {
				benchProcs(b, p, 2*float64(s.m)*float64(s.n)*float64(s.k), func() {
					Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
				})
			})
		}
	}
}

// BenchmarkAttention is the per-head score product of causal attention,
// (T×hd)·(T×hd)ᵀ for B·NH heads, through SgemmStridedBatched.
func BenchmarkAttention(b *testing.B) {
	for _, s := range []struct{ heads, t, hd int }{{32, 64, 16}, {32, 256, 64}, {8, 1024, 64}} {
		r := rand.New(rand.NewPCG(1, 1))
		q, k := randSlice(r, s.heads*s.t*s.hd), randSlice(r, s.heads*s.t*s.hd)
		c := make([]float32, s.heads*s.t*s.t)
		for _, p := range threadCounts() {
			b.Run(fmt.Sprintf("heads%d_T%d_hd%d/threads=%d", s.heads, s.t, s.hd, p), func(b *testing.B) {
				benchProcs(b, p, 2*float64(s.heads)*float64(s.t*s.t*s.hd), func() {
					SgemmStridedBatched(false, true, s.t, s.t, s.hd, 1, q, s.hd, s.t*s.hd, k, s.hd, s.t*s.hd, 0, c, s.t, s.t*s.t, s.heads)
				})
			})
		}
	}
}

// BenchmarkKernel is the micro-kernel alone on L1-resident panels: the ceiling
// the blocked product can approach.
func BenchmarkKernel(b *testing.B) {
	for _, ar := range availableArches() {
		b.Run(ar.name, func(b *testing.B) {
			const k = 256
			r := rand.New(rand.NewPCG(1, 1))
			ap, bp := randSlice(r, ar.mr*k), randSlice(r, ar.nr*k)
			c := make([]float32, ar.mr*ar.nr)
			for b.Loop() {
				ar.kern(k, &ap[0], &bp[0], &c[0], ar.nr, 0)
			}
			b.ReportMetric(2*float64(ar.mr*ar.nr*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
