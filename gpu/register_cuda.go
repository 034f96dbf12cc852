//go:build cuda

package gpu

import (
	"fmt"

	"github.com/olmolab/olmolab/model"
)

// The engine registers as two backends: "cuda" (bf16 matrices, fp32 master
// weights) and "cuda-fp32" (fp32 throughout, for checks at the CPU engine's
// tolerances: olmolab verify --backend cuda-fp32).
func init() {
	model.RegisterBackend("cuda", func(cfg model.Config, B, T int) (model.Backend, error) {
		return newFromEnv(cfg, B, T, false)
	})
	model.RegisterBackend("cuda-fp32", func(cfg model.Config, B, T int) (model.Backend, error) {
		return newFromEnv(cfg, B, T, true)
	})
	for name, fp32 := range map[string]bool{"cuda": false, "cuda-fp32": true} {
		model.RegisterScoringBackend(name, func(cfg model.Config, B, T int) (model.Backend, error) {
			o, err := OptionsFromEnv(fp32)
			if err != nil {
				return nil, err
			}
			return NewScoring(cfg, B, T, o)
		})
	}
}

func newFromEnv(cfg model.Config, B, T int, fp32 bool) (model.Backend, error) {
	o, err := OptionsFromEnv(fp32)
	if err != nil {
		return nil, err
	}
	return New(cfg, B, T, o)
}

// NewScoring builds the CUDA engine's forward-only form for cfg at
// micro-batch (B, T) (olmolab eval: model.NewScoringBackend): the weights
// the forward reads (bf16 matrices, fp32 embedding and norms; fp32
// throughout with opts.FP32) and one forward's activations, no master
// weights, gradients or moments (NewScoringPlan). It scores as New's engine
// does on the same weights, bit for bit. It refuses, with the sizes, a
// model that does not fit the device's free memory.
func NewScoring(cfg model.Config, B, T int, opts Options) (*Engine, error) {
	d, err := openCUDA()
	if err != nil {
		return nil, fmt.Errorf("gpu: %w", err)
	}
	return newScoringEngine(d, cfg, B, T, opts)
}

// New builds the CUDA engine for cfg at micro-batch (B, T) on the GPU
// ($OLMOLAB_GPU_DEVICE, default 0), with zeroed parameters. It refuses, with
// the sizes, a model that does not fit the device's free memory.
func New(cfg model.Config, B, T int, opts Options) (*Engine, error) {
	d, err := openCUDA()
	if err != nil {
		return nil, fmt.Errorf("gpu: %w", err)
	}
	return newEngine(d, cfg, B, T, opts)
}

// FreeMemory reports the GPU's free and total memory in bytes.
func FreeMemory() (free, total int64, err error) {
	d, err := openCUDA()
	if err != nil {
		return 0, 0, err
	}
	defer d.enter()()
	return d.memInfo()
}

// DeviceName describes the GPU, its driver and the cuBLAS in use.
func DeviceName() (string, error) {
	d, err := openCUDA()
	if err != nil {
		return "", err
	}
	return d.name(), nil
}

// BenchAttention times and cross-checks attention kernel variants on the GPU
// (gpubench attn; AttnBenchParams).
func BenchAttention(p AttnBenchParams) ([]AttnBenchRow, error) {
	d, err := openCUDA()
	if err != nil {
		return nil, fmt.Errorf("gpu: %w", err)
	}
	return benchAttention(d, p)
}

// CuDNN loads cuDNN (internal/cudnn's search order, $OLMOLAB_CUDNN first)
// and names its version and path, or says why none is usable: what
// OLMOLAB_GPU_ATTN=cudnn and auto's cuDNN candidate would use.
func CuDNN() (string, error) {
	d, err := openCUDA()
	if err != nil {
		return "", err
	}
	return d.fusedAttnLib()
}

// planDevice is the device PlanFor plans for: the GPU, nil where none opens.
func planDevice() device {
	d, err := openCUDA()
	if err != nil {
		return nil
	}
	return d
}
