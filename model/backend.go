package model

import (
	"fmt"
	"sort"
	"strings"
)

// Backend runs OLMo 2 training and scoring for one model on one device. The CPU
// engine implements it here; the CUDA engine (package gpu, build tag cuda)
// implements it with everything resident on the GPU. A Backend is used from one
// goroutine at a time.
//
// Host-side buffers are float32 in Layout order, so checkpoints, soups and
// resumed runs move between backends unchanged.
type Backend interface {
	Name() string
	Config() Config
	MicroBatch() (B, T int)

	// ForwardBackward runs one (B,T) micro-batch and adds d(total)/dθ to the
	// gradients, total = (ΣCE + z·Σlse²)·scale over labelled positions.
	ForwardBackward(ids, labels []int32, scale, zLoss float64) Losses
	ZeroGrads()
	GradNorm() float64 // global L2 norm of the gradients
	// Step applies one AdamW update with the gradients multiplied by gradScale
	// (the clipping coefficient) and advances the optimizer's step count.
	Step(o AdamW, lr, gradScale float64)

	// LogProbs writes log p(targets[i] | ids[..i]) for one (B,T) micro-batch,
	// 0 where targets[i] is IgnoreIndex.
	LogProbs(dst []float32, ids, targets []int32)
	// Logits writes the (B,T,V) logits of one micro-batch: for checks, not speed.
	Logits(dst []float32, ids []int32)

	ReadGrads(dst []float32)

	ReadParams(dst []float32)
	WriteParams(src []float32)
	// ReadOptState copies AdamW's moments (Layout order) and returns its step count.
	ReadOptState(m, v []float32) (step int)
	WriteOptState(m, v []float32, step int)

	Close()
}

// CPUBackend is the pure-Go Backend, in float32.
type CPUBackend struct {
	E   *CPU[float32]
	Opt *OptState[float32]
}

// NewCPUBackend builds a CPU backend with zeroed parameters and optimizer state.
func NewCPUBackend(cfg Config, B, T, workers int) *CPUBackend {
	e := NewCPU[float32](cfg, B, T, workers)
	return &CPUBackend{E: e, Opt: NewOptState[float32](len(e.Params))}
}

func (c *CPUBackend) Name() string           { return "cpu" }
func (c *CPUBackend) Config() Config         { return c.E.Cfg }
func (c *CPUBackend) MicroBatch() (int, int) { return c.E.B, c.E.T }
func (c *CPUBackend) ForwardBackward(ids, labels []int32, scale, zLoss float64) Losses {
	return c.E.ForwardBackward(ids, labels, scale, zLoss)
}
func (c *CPUBackend) ZeroGrads()                                   { c.E.ZeroGrads() }
func (c *CPUBackend) GradNorm() float64                            { return c.E.GradNorm() }
func (c *CPUBackend) Step(o AdamW, lr, gs float64)                 { c.E.Step(o, c.Opt, lr, gs) }
func (c *CPUBackend) LogProbs(dst []float32, ids, targets []int32) { c.E.LogProbs(dst, ids, targets) }
func (c *CPUBackend) ReadParams(dst []float32)                     { copy(dst, c.E.Params) }
func (c *CPUBackend) ReadGrads(dst []float32)                      { copy(dst, c.E.Grads) }
func (c *CPUBackend) Logits(dst []float32, ids []int32) {
	c.E.Forward(ids)
	c.E.Logits(dst)
}
func (c *CPUBackend) WriteParams(src []float32) { copy(c.E.Params, src) }
func (c *CPUBackend) ReadOptState(m, v []float32) int {
	copy(m, c.Opt.M)
	copy(v, c.Opt.V)
	return c.Opt.Step
}
func (c *CPUBackend) WriteOptState(m, v []float32, step int) {
	copy(c.Opt.M, m)
	copy(c.Opt.V, v)
	c.Opt.Step = step
}
func (c *CPUBackend) Close() { c.E.Close() }

// BackendFactory builds a backend for a model and micro-batch shape, with zeroed
// parameters. workers ≤ 0 lets the backend choose.
type BackendFactory func(cfg Config, B, T int) (Backend, error)

var backends = map[string]BackendFactory{
	"cpu":     func(cfg Config, B, T int) (Backend, error) { return NewCPUBackend(cfg, B, T, 0), nil },
	"cpu-f64": func(cfg Config, B, T int) (Backend, error) { return NewCPU64Backend(cfg, B, T, 0), nil },
}

// RegisterBackend makes a backend available by name; package gpu registers
// "cuda" when built with the cuda tag.
func RegisterBackend(name string, f BackendFactory) { backends[name] = f }

// NewBackend builds the named backend ("cpu", "cuda", …).
func NewBackend(name string, cfg Config, B, T int) (Backend, error) {
	f, ok := backends[name]
	if !ok {
		return nil, fmt.Errorf("unknown backend %q (available: %s)", name, strings.Join(BackendNames(), ", "))
	}
	return f(cfg, B, T)
}

// BackendNames lists the registered backends, sorted.
func BackendNames() []string {
	var out []string
	for k := range backends {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
