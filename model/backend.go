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

	// ReadParams and WriteParams move all the parameters; ReadOptState and
	// WriteOptState both AdamW moments (ReadOptState returns the optimizer's
	// step count). Each needs host buffers of the whole model: 4 bytes per
	// parameter and buffer, 29 GiB each for olmo2_7B. Checkpoints, resumes,
	// soups and evaluation copies use the ranged forms below instead.
	ReadParams(dst []float32)
	WriteParams(src []float32)
	ReadOptState(m, v []float32) (step int)
	WriteOptState(m, v []float32, step int)

	// The ranged forms move elements [off, off+n) of the Layout order, so a
	// caller bounds its host memory by its buffer, not by the model: a
	// checkpoint streams tensor by tensor, a soup averages chunk by chunk.
	// n is len(dst) or len(src); for the moments either of m and v may be
	// nil (that moment is left alone), and when both are given they have the
	// same length. They panic when the range is outside the model.
	ReadParamsAt(dst []float32, off int)
	WriteParamsAt(src []float32, off int)
	// ReadOptStateAt returns the optimizer's step count as well.
	ReadOptStateAt(m, v []float32, off int) (step int)
	// WriteOptStateAt sets the optimizer's step count to step as well.
	WriteOptStateAt(m, v []float32, off int, step int)

	Close()
}

// CPUBackendOf is the pure-Go engine as a Backend: CPUBackend (float32) trains,
// CPU64Backend (float64) is the exact-arithmetic reference that float32
// engines are measured against (gpubench parity --calibrate). The host side is
// float32 either way.
type CPUBackendOf[F Float] struct {
	E   *CPU[F]
	Opt *OptState[F]
}

// CPUBackend is the pure-Go Backend in float32: the one that trains.
type CPUBackend = CPUBackendOf[float32]

// CPU64Backend is the CPU engine in float64 behind the float32 interface.
// Trained next to a float32 engine it shows how far float32 rounding alone
// carries a run in a number of steps, which calibrates parity bounds between
// two float32 engines. It is several times slower; it is meant for small models.
type CPU64Backend = CPUBackendOf[float64]

// NewCPUBackend builds a CPU backend with zeroed parameters and optimizer state.
func NewCPUBackend(cfg Config, B, T, workers int) *CPUBackend {
	return newCPUBackendOf[float32](cfg, B, T, workers)
}

// NewCPU64Backend builds a float64 CPU backend with zeroed parameters and
// optimizer state.
func NewCPU64Backend(cfg Config, B, T, workers int) *CPU64Backend {
	return newCPUBackendOf[float64](cfg, B, T, workers)
}

func newCPUBackendOf[F Float](cfg Config, B, T, workers int) *CPUBackendOf[F] {
	e := NewCPU[F](cfg, B, T, workers)
	return &CPUBackendOf[F]{E: e, Opt: NewOptState[F](len(e.Params))}
}

// NewScoringBackend builds the named backend for scoring only (olmolab
// eval): a forward-only engine that allocates the weights and a forward
// pass's activations, without the gradients, the AdamW moments and the
// backward scratch a training engine holds (16 bytes a parameter and more,
// where scoring needs 4 on the CPU engines, about 2 on the bf16 GPU
// engine): the CPU engines' here, the GPU engine's as package gpu registers
// it (RegisterScoringBackend); any other backend as NewBackend builds it.
// Load its weights with WriteParams/WriteParamsAt.
func NewScoringBackend(name string, cfg Config, B, T int) (Backend, error) {
	if f, ok := scoringBackends[name]; ok {
		return f(cfg, B, T)
	}
	if name != "cpu" && name != "cpu-f64" {
		return NewBackend(name, cfg, B, T)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if name == "cpu" {
		return newCPUScoring[float32](cfg, B, T, 0), nil
	}
	return newCPUScoring[float64](cfg, B, T, 0), nil
}

func newCPUScoring[F Float](cfg Config, B, T, workers int) *CPUBackendOf[F] {
	return &CPUBackendOf[F]{E: newCPU[F](cfg, B, T, workers, make([]F, cfg.NumParams()))}
}

// ScorerSharer is a backend that scores at another micro-batch over its own
// weights, shared and not copied: the CPU engines (Scorer) and the GPU
// engine (gpu.Engine.Scorer). The scorer follows the weights as training
// changes them, is forward only (Config, MicroBatch, LogProbs, Logits,
// ReadParams, ReadParamsAt and Close are for it) and must not run while
// the backend does. An error says why no such scorer can be had (device
// memory, say); the caller then scores on the backend itself.
type ScorerSharer interface {
	SharedScorer(B, T int) (Backend, error)
}

// ScoringLike returns a backend of micro-batch (B, T) that scores be's
// weights, and whether it shares them. A ScorerSharer (the CPU and GPU
// engines) gives a scorer over be's weights (no copy; it follows be's
// weights as they change), or its error; another backend gets a scoring
// backend of its kind (NewScoringBackend) holding a copy of be's weights as
// they are now: copy again (CopyParams) after they change.
func ScoringLike(be Backend, B, T int) (sb Backend, shared bool, err error) {
	if s, ok := be.(ScorerSharer); ok {
		if sb, err = s.SharedScorer(B, T); err != nil {
			return nil, false, err
		}
		return sb, true, nil
	}
	nb, err := NewScoringBackend(be.Name(), be.Config(), B, T)
	if err != nil {
		return nil, false, err
	}
	CopyParams(nb, be, NewStreamBuf(NewLayout(be.Config()).Size()))
	return nb, false, nil
}

// Scorer returns a forward-only backend of micro-batch (B, T) over c's
// parameters, shared and not copied (CPU.Scorer): for scoring requests shorter
// than c's rows without a second copy of the model. It has no gradients and no
// optimizer state: only Config, MicroBatch, LogProbs, Logits, ReadParams,
// ReadParamsAt and Close are for it. It must not run while c does.
func (c *CPUBackendOf[F]) Scorer(B, T int) *CPUBackendOf[F] {
	return &CPUBackendOf[F]{E: c.E.Scorer(B, T)}
}

// SharedScorer is Scorer as a ScorerSharer.
func (c *CPUBackendOf[F]) SharedScorer(B, T int) (Backend, error) { return c.Scorer(B, T), nil }

func (c *CPUBackendOf[F]) Name() string {
	if isF32[F]() {
		return "cpu"
	}
	return "cpu-f64"
}
func (c *CPUBackendOf[F]) Config() Config         { return c.E.Cfg }
func (c *CPUBackendOf[F]) MicroBatch() (int, int) { return c.E.B, c.E.T }
func (c *CPUBackendOf[F]) ForwardBackward(ids, labels []int32, scale, zLoss float64) Losses {
	return c.E.ForwardBackward(ids, labels, scale, zLoss)
}
func (c *CPUBackendOf[F]) ZeroGrads()                   { c.E.ZeroGrads() }
func (c *CPUBackendOf[F]) GradNorm() float64            { return c.E.GradNorm() }
func (c *CPUBackendOf[F]) Step(o AdamW, lr, gs float64) { c.E.Step(o, c.Opt, lr, gs) }
func (c *CPUBackendOf[F]) LogProbs(dst []float32, ids, targets []int32) {
	if isF32[F]() {
		c.E.LogProbs(f32As[F](dst), ids, targets)
		return
	}
	tmp := make([]F, len(dst))
	c.E.LogProbs(tmp, ids, targets)
	toF32(dst, tmp)
}
func (c *CPUBackendOf[F]) LogProbsPacked(dst []float32, ids, targets []int32, p Packing) {
	if isF32[F]() {
		c.E.LogProbsPacked(f32As[F](dst), ids, targets, p)
		return
	}
	tmp := make([]F, len(dst))
	c.E.LogProbsPacked(tmp, ids, targets, p)
	toF32(dst, tmp)
}
func (c *CPUBackendOf[F]) Logits(dst []float32, ids []int32) {
	c.E.Forward(ids)
	if isF32[F]() {
		c.E.Logits(f32As[F](dst))
		return
	}
	tmp := make([]F, len(dst))
	c.E.Logits(tmp)
	toF32(dst, tmp)
}
func (c *CPUBackendOf[F]) ReadParams(dst []float32)  { toF32(dst, c.E.Params) }
func (c *CPUBackendOf[F]) ReadGrads(dst []float32)   { toF32(dst, c.E.Grads) }
func (c *CPUBackendOf[F]) WriteParams(src []float32) { fromF32(c.E.Params, src) }
func (c *CPUBackendOf[F]) ReadOptState(m, v []float32) int {
	toF32(m, c.Opt.M)
	toF32(v, c.Opt.V)
	return c.Opt.Step
}
func (c *CPUBackendOf[F]) WriteOptState(m, v []float32, step int) {
	fromF32(c.Opt.M, m)
	fromF32(c.Opt.V, v)
	c.Opt.Step = step
}
func (c *CPUBackendOf[F]) ReadParamsAt(dst []float32, off int) {
	toF32(dst, c.E.Params[off:CheckRange(len(c.E.Params), off, len(dst))])
}
func (c *CPUBackendOf[F]) WriteParamsAt(src []float32, off int) {
	fromF32(c.E.Params[off:CheckRange(len(c.E.Params), off, len(src))], src)
}
func (c *CPUBackendOf[F]) ReadOptStateAt(m, v []float32, off int) int {
	n := OptRange(len(c.Opt.M), off, m, v)
	if m != nil {
		toF32(m, c.Opt.M[off:n])
	}
	if v != nil {
		toF32(v, c.Opt.V[off:n])
	}
	return c.Opt.Step
}
func (c *CPUBackendOf[F]) WriteOptStateAt(m, v []float32, off, step int) {
	n := OptRange(len(c.Opt.M), off, m, v)
	if m != nil {
		fromF32(c.Opt.M[off:n], m)
	}
	if v != nil {
		fromF32(c.Opt.V[off:n], v)
	}
	c.Opt.Step = step
}
func (c *CPUBackendOf[F]) Close() { c.E.Close() }

// CheckRange returns off+n after checking that [off, off+n) lies in [0, size);
// it panics otherwise (a programmer error). Backends check their ranged
// reads and writes with it.
func CheckRange(size, off, n int) int {
	if off < 0 || n < 0 || off > size || n > size-off {
		panic(fmt.Sprintf("model: range [%d, %d+%d) outside the %d parameters", off, off, n, size))
	}
	return off + n
}

// OptRange is CheckRange for ReadOptStateAt and WriteOptStateAt: the range's
// length is that of m or v, whichever is not nil, and they must agree.
func OptRange(size, off int, m, v []float32) int {
	if m != nil && v != nil && len(m) != len(v) {
		panic(fmt.Sprintf("model: moments of %d and %d values", len(m), len(v)))
	}
	return CheckRange(size, off, max(len(m), len(v)))
}

// toF32 copies src into dst, rounding to float32 where F is wider.
func toF32[F Float](dst []float32, src []F) {
	if isF32[F]() {
		copy(dst, asF32(src))
		return
	}
	for i, x := range src[:len(dst)] {
		dst[i] = float32(x)
	}
}

// fromF32 copies src into dst.
func fromF32[F Float](dst []F, src []float32) {
	if isF32[F]() {
		copy(asF32(dst), src)
		return
	}
	for i, x := range src[:len(dst)] {
		dst[i] = F(x)
	}
}

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

var scoringBackends = map[string]BackendFactory{}

// RegisterScoringBackend gives the named backend its forward-only form
// (NewScoringBackend); package gpu registers its engines'.
func RegisterScoringBackend(name string, f BackendFactory) { scoringBackends[name] = f }

// NewBackend builds the named backend ("cpu", "cuda", …).
func NewBackend(name string, cfg Config, B, T int) (Backend, error) {
	f, ok := backends[name]
	if !ok {
		return nil, UnknownBackend(name)
	}
	return f(cfg, B, T)
}

// UnknownBackend is the error for a backend name this build does not have;
// a CUDA one says how to get a build that has it.
func UnknownBackend(name string) error {
	err := fmt.Errorf("unknown backend %q (available: %s)", name, strings.Join(BackendNames(), ", "))
	if strings.HasPrefix(name, "cuda") {
		err = fmt.Errorf("%w: this build of olmolab has no CUDA engine. HINT: on a machine with an NVIDIA GPU, build one with scripts/setup-cuda.sh (or go build -tags cuda .; README: GPU)", err)
	}
	return err
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
