package gpu

import (
	"fmt"
	"os"
	"strconv"
)

// OptionsFromEnv reads the plan overrides OLMOLAB_GPU_MICROBATCH (sequences
// per device pass), OLMOLAB_GPU_KEEP (resident layers, or "none" to recompute
// all), OLMOLAB_GPU_CHUNK (logit rows per chunk) and the attention kernels
// OLMOLAB_GPU_ATTN (mma, the default: DefaultAttention; plain, the CUDA-core
// kernels; v2 or v2:F/Q/K, the pipelined tensor-core kernels; cudnn, cuDNN's
// fused attention; auto, mma, v2 with each kernel's fastest warp count or
// cudnn, of those that agree with mma: ParseAttention), and OLMOLAB_GPU_FUSE
// (0: the norm backward's unfused kernels, Options.NoFuse).
func OptionsFromEnv(fp32 bool) (Options, error) {
	o := Options{FP32: fp32}
	a, err := ParseAttention(os.Getenv("OLMOLAB_GPU_ATTN"))
	if err != nil {
		return o, fmt.Errorf("OLMOLAB_GPU_ATTN: %w", err)
	}
	o.Attention = a
	switch f := os.Getenv("OLMOLAB_GPU_FUSE"); f {
	case "", "1":
	case "0":
		o.NoFuse = true
	default:
		return o, fmt.Errorf("OLMOLAB_GPU_FUSE=%q: want 1 (the fused norm backward, the default) or 0 (the kernels before it)", f)
	}
	for _, v := range []struct {
		name string
		dst  *int
	}{{"OLMOLAB_GPU_MICROBATCH", &o.MicroBatch}, {"OLMOLAB_GPU_KEEP", &o.Keep}, {"OLMOLAB_GPU_CHUNK", &o.ChunkRows}} {
		s := os.Getenv(v.name)
		if s == "" {
			continue
		}
		if v.dst == &o.Keep && s == "none" {
			o.Keep = RecomputeAll
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return o, fmt.Errorf("%s=%q: want a non-negative number", v.name, s)
		}
		*v.dst = n
	}
	return o, nil
}
