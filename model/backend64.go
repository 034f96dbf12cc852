package model

// CPU64Backend is the CPU engine in float64 behind the float32 Backend
// interface: the reference that float32 engines are measured against. Training
// it next to a float32 engine shows how far float32 rounding alone carries a
// run in a number of steps, which calibrates parity bounds between two float32
// engines (gpubench parity --calibrate). It is several times slower than the
// float32 engine and meant for small models.
type CPU64Backend struct {
	E   *CPU[float64]
	Opt *OptState[float64]
}

// NewCPU64Backend builds a float64 CPU backend with zeroed parameters and
// optimizer state.
func NewCPU64Backend(cfg Config, B, T, workers int) *CPU64Backend {
	e := NewCPU[float64](cfg, B, T, workers)
	return &CPU64Backend{E: e, Opt: NewOptState[float64](len(e.Params))}
}

func (c *CPU64Backend) Name() string           { return "cpu-f64" }
func (c *CPU64Backend) Config() Config         { return c.E.Cfg }
func (c *CPU64Backend) MicroBatch() (int, int) { return c.E.B, c.E.T }
func (c *CPU64Backend) ForwardBackward(ids, labels []int32, scale, zLoss float64) Losses {
	return c.E.ForwardBackward(ids, labels, scale, zLoss)
}
func (c *CPU64Backend) ZeroGrads()                   { c.E.ZeroGrads() }
func (c *CPU64Backend) GradNorm() float64            { return c.E.GradNorm() }
func (c *CPU64Backend) Step(o AdamW, lr, gs float64) { c.E.Step(o, c.Opt, lr, gs) }
func (c *CPU64Backend) LogProbs(dst []float32, ids, targets []int32) {
	tmp := make([]float64, len(dst))
	c.E.LogProbs(tmp, ids, targets)
	narrow(dst, tmp)
}
func (c *CPU64Backend) Logits(dst []float32, ids []int32) {
	tmp := make([]float64, len(dst))
	c.E.Forward(ids)
	c.E.Logits(tmp)
	narrow(dst, tmp)
}
func (c *CPU64Backend) ReadParams(dst []float32) { narrow(dst, c.E.Params) }
func (c *CPU64Backend) ReadGrads(dst []float32)  { narrow(dst, c.E.Grads) }
func (c *CPU64Backend) WriteParams(src []float32) {
	widen(c.E.Params, src)
}
func (c *CPU64Backend) ReadOptState(m, v []float32) int {
	narrow(m, c.Opt.M)
	narrow(v, c.Opt.V)
	return c.Opt.Step
}
func (c *CPU64Backend) WriteOptState(m, v []float32, step int) {
	widen(c.Opt.M, m)
	widen(c.Opt.V, v)
	c.Opt.Step = step
}
func (c *CPU64Backend) Close() { c.E.Close() }

func narrow(dst []float32, src []float64) {
	for i, x := range src[:len(dst)] {
		dst[i] = float32(x)
	}
}

func widen(dst []float64, src []float32) {
	for i, x := range src[:len(dst)] {
		dst[i] = float64(x)
	}
}
