package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Benchmarks report GFLOP/s (2·m·n·k per product). Run with -cpu 1,2 to see
// the thread scaling; OLMOLAB_GEMM_KERNEL=avx2|generic compares kernels.
//
//	go test -run XXX -bench . -cpu 1,2 ./model/gemm/
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
		b.Run(s.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			lda, ldb := s.k, s.n
			if s.transA {
				lda = s.m
			}
			if s.transB {
				ldb = s.k
			}
			a, bb, c := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), randSlice(r, s.m*s.n)
			Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			b.ResetTimer()
			for b.Loop() {
				Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			}
			b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkAttention is the per-head score product of causal attention,
// (T×hd)·(T×hd)ᵀ for B·NH heads, through SgemmStridedBatched.
func BenchmarkAttention(b *testing.B) {
	for _, s := range []struct{ heads, t, hd int }{{32, 64, 16}, {32, 256, 64}, {8, 1024, 64}} {
		b.Run(fmt.Sprintf("heads%d_T%d_hd%d", s.heads, s.t, s.hd), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			q, k := randSlice(r, s.heads*s.t*s.hd), randSlice(r, s.heads*s.t*s.hd)
			c := make([]float32, s.heads*s.t*s.t)
			for b.Loop() {
				SgemmStridedBatched(false, true, s.t, s.t, s.hd, 1, q, s.hd, s.t*s.hd, k, s.hd, s.t*s.hd, 0, c, s.t, s.t*s.t, s.heads)
			}
			flops := 2 * float64(s.heads) * float64(s.t*s.t*s.hd)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
