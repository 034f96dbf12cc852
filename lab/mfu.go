package lab

import (
	"sync"
	"time"

	"github.com/olmolab/olmolab/model"
	"github.com/olmolab/olmolab/model/gemm"
)

// MFU is model FLOPs utilisation: tokens/s × FLOPs per token over the backend's
// peak FLOP/s. FLOPs per token are OLMo-core's: 6·N_non-embedding (LM head
// included) + 12·layers·d_model·seq (model.Config.FLOPsPerToken).
func MFU(cfg model.Config, seq int, tokensPerSec, peakFLOPS float64) float64 {
	if peakFLOPS <= 0 {
		return 0
	}
	return tokensPerSec * cfg.FLOPsPerToken(seq) / peakFLOPS
}

var (
	cpuPeakOnce sync.Once
	cpuPeak     float64
)

// CPUPeakFLOPS is this machine's measured float32 matrix-product peak on all
// cores: the fastest of 40 512³ products through model/gemm (the same kernels
// the engine uses), about 0.2 s the first time it is called, cached after. The
// best sample is taken because other processes can only slow a sample down. MFU
// on the CPU is measured against what the machine's kernels reach, not a
// datasheet number; on a busy machine the measured peak is low and MFU reads high.
func CPUPeakFLOPS() float64 {
	cpuPeakOnce.Do(func() {
		const n = 512
		a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
		for i := range a {
			a[i], b[i] = float32(i%7)*0.1, float32(i%5)*0.1
		}
		gemm.Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n) // warm up packing buffers and workers
		best := 0.0
		for i := 0; i < 40; i++ {
			t := time.Now()
			gemm.Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
			if f := 2 * n * n * n / time.Since(t).Seconds(); f > best {
				best = f
			}
		}
		cpuPeak = best
	})
	return cpuPeak
}
