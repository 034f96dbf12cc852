package gpu

import (
	"errors"
	"fmt"
	"log"
	"slices"
	"strings"
	"sync"
	"time"
)

// OLMOLAB_GPU_ATTN=auto: at engine start mma (the reference: the kernels
// checked on hardware first) and v2 run on random inputs of the engine's own
// shape (one sequence of its T, its heads and head size, on its own
// buffers). Each of v2's three kernels (forward, dQ, dK/dV) takes 4 or 8
// warps a block, and every layout gives bit-identical results (the warp count
// changes no sum's order: attention_v2.cu), so each kernel's warp count is
// chosen on its own:
//
//  1. The warp counts whose shared memory the device has (fitV2) are covered
//     by as few whole layouts as launch them all: v2:4/4/4 and v2:8/8/8
//     where every count fits (v2:4/4/4 and v2:8/8/4 where dK/dV's 8 warps do
//     not).
//  2. mma and each layout run one forward and backward pass; a layout that
//     fails to launch or whose outputs differ from mma's beyond bf16
//     tolerances is dropped, with the reason.
//  3. Every kernel of mma and of the layouts that passed is timed on its own
//     with device events, autoReps interleaved passes, median of each.
//  4. v2's layout is composed of each kernel's fastest warp count (DefaultV2's
//     unless another is faster by more than autoMargin), and replaces mma when
//     its fwd + pre + dQ + dK/dV is faster than mma's by more than
//     autoMargin; a composed layout that was not one of step 1's is first
//     checked as they were (dropped: mma stays).
//  5. Where the device offers cuDNN (fusedAttnDevice: the CUDA device, not
//     the emulator) and its graphs build for the trial's and the engine's
//     shapes, cudnn runs in steps 2 and 3 too, plus a second run that must
//     repeat the first bit for bit; it replaces step 4's choice when its
//     forward+backward is faster by more than autoMargin. A library that
//     does not load, a graph it refuses or a call that fails (checked or
//     timed: the others are then timed again without it) drops it, with the
//     reason.
//
// Checking (attnProber.run) and timing (attnProber.time) are separate so that
// a test can inject timings and a wrong candidate (engine_emu_test.go).

// AutoWarps are the warps per block auto tries for each v2 kernel.
var AutoWarps = []int{4, 8}

// v2's kernels, in AttnKernels' order (FwdWarps, DQWarps, DKVWarps).
const (
	v2Fwd = iota
	v2DQ
	v2DKV
)

var v2KernelNames = [3]string{"fwd", "dQ", "dK/dV"}

// warps is a's warps per block of v2 kernel i (v2Fwd, v2DQ, v2DKV).
func (a AttnKernels) warps(i int) int { return [3]int{a.FwdWarps, a.DQWarps, a.DKVWarps}[i] }

func (a *AttnKernels) setWarps(i, nw int) { *[3]*int{&a.FwdWarps, &a.DQWarps, &a.DKVWarps}[i] = nw }

// autoTol is the largest max |x − x₀| / max |x₀| per output against the
// reference's x₀: gpubench attn's bf16 tolerances for o and the gradients
// (the kernels' own errors from float64 attention are about 3e-3 at any T,
// gpu/README.md), and 1e-4 for the float32 lse (measured: 1e-7).
var autoTol = map[string]float64{"o": 2e-2, "lse": 1e-4, "dq": 5e-2, "dk": 5e-2, "dv": 5e-2}

const (
	autoReps = 5 // timed forward+backward passes of each layout
	// autoMargin: v2 replaces mma, and a warp count replaces DefaultV2's,
	// only when faster by more than this fraction (ties go to mma, then to
	// DefaultV2).
	autoMargin = 0.02
)

// AttnMs is the milliseconds of one launch of each attention kernel: the
// forward, and the backward's D = rowsum(da∘a) (pre), dQ and dK/dV.
type AttnMs struct{ Fwd, Pre, DQ, DKV float64 }

// Total is one forward and backward pass: Fwd + Pre + DQ + DKV.
func (m AttnMs) Total() float64 { return m.Fwd + m.Pre + m.DQ + m.DKV }

// kernel is the time of v2 kernel i's counterpart (v2Fwd, v2DQ, v2DKV).
func (m AttnMs) kernel(i int) float64 { return [3]float64{m.Fwd, m.DQ, m.DKV}[i] }

// AttnTrial is one layout's outcome.
type AttnTrial struct {
	Kernels AttnKernels
	// MaxRel holds its outputs' differences from the reference (AttnOutputs
	// order; empty when it did not run).
	MaxRel map[string]float64
	// Ms is the median time of each of its kernels (zero when not timed:
	// dropped, or the composed layout, run only to check it).
	Ms AttnMs
	// Dropped says why it could not be chosen ("" when it could).
	Dropped string
}

// AttnChoice is what OLMOLAB_GPU_ATTN=auto chose and why.
type AttnChoice struct {
	Chosen AttnKernels
	Shape  string // the trial's shape, "B=1 T=4096 NH=16 NKV=16 HS=128"
	// Trials: mma's, each v2 layout run to time its kernels, and last the
	// composed layout's when it beat mma without being one of them (run to
	// check it, not timed).
	Trials []AttnTrial
	// Unfit says which v2 warp counts the device's shared memory excludes
	// ("" when none).
	Unfit string
	// PreMs is D = rowsum(da∘a)'s time, one kernel in every layout: the
	// median of its times in all timed layouts, counted in both totals so
	// that they differ by the kernels that differ.
	PreMs float64
	// V2 is the composed v2 layout, each kernel at its fastest warp count,
	// and V2Ms its kernels' times (zero when no v2 layout passed).
	V2   AttnKernels
	V2Ms AttnMs
	// CuDNN names the cuDNN library and engines of the cuDNN candidate (""
	// when none loaded). Its trial is in Trials (Kernels.Kind AttnCuDNN),
	// its backward timed as one call under DKV.
	CuDNN string
	// Elapsed is the whole trial: inputs, runs, comparisons and timing.
	Elapsed time.Duration
	Cached  bool // taken from an earlier engine of the same shape in this process
}

// MMAMs is mma's kernel times with the shared PreMs.
func (c *AttnChoice) MMAMs() AttnMs {
	m := c.Trials[0].Ms
	m.Pre = c.PreMs
	return m
}

// kernelMs is v2 kernel i's time at nw warps: from the first layout that
// passed with it (false when none did).
func (c *AttnChoice) kernelMs(i, nw int) (float64, bool) {
	for _, t := range c.Trials[1:] {
		if t.Kernels.Kind == AttnV2 && t.Dropped == "" && t.Ms != (AttnMs{}) && t.Kernels.warps(i) == nw {
			return t.Ms.kernel(i), true
		}
	}
	return 0, false
}

// String is one line for logs: the choice, each kernel's time for mma and
// each v2 warp count (* the composed layout's), the totals, and what was
// dropped or did not fit, with the reasons.
func (c *AttnChoice) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "attention auto chose %s (", c.Chosen)
	if c.Shape != "" {
		b.WriteString(c.Shape + "; ")
	}
	fmt.Fprintf(&b, "ms a launch, median of %d", autoReps)
	if len(c.Trials) > 0 {
		mma := c.MMAMs()
		for i, name := range v2KernelNames {
			fmt.Fprintf(&b, "; %s mma %.3f", name, mma.kernel(i))
			for _, nw := range AutoWarps {
				if ms, ok := c.kernelMs(i, nw); ok {
					mark := ""
					if c.V2.Kind == AttnV2 && c.V2.warps(i) == nw {
						mark = "*"
					}
					fmt.Fprintf(&b, ", v2 %dw %.3f%s", nw, ms, mark)
				}
			}
		}
		fmt.Fprintf(&b, "; pre %.3f; fwd+bwd mma %.3f", c.PreMs, mma.Total())
		if c.V2.Kind == AttnV2 {
			fmt.Fprintf(&b, ", %s %.3f", c.V2, c.V2Ms.Total())
		}
		if m, ok := c.cudnnMs(); ok {
			fmt.Fprintf(&b, ", cudnn %.3f (fwd %.3f, bwd %.3f; bit-identical twice)", m.Total(), m.Fwd, m.Pre+m.DQ+m.DKV)
		}
	}
	for _, t := range c.Trials {
		if t.Dropped != "" {
			fmt.Fprintf(&b, "; %s dropped: %s", t.Kernels, t.Dropped)
		}
	}
	if c.Unfit != "" {
		b.WriteString("; " + c.Unfit)
	}
	if c.CuDNN != "" {
		b.WriteString("; cudnn: " + c.CuDNN)
	}
	fmt.Fprintf(&b, "; trial %.2f s", c.Elapsed.Seconds())
	if c.Cached {
		b.WriteString(", chosen earlier in this process")
	}
	return b.String() + ")"
}

// attnProber runs candidates for chooseAttention.
type attnProber interface {
	// run launches k's forward and backward once on the trial inputs and
	// returns its outputs, or why it cannot run. An error wrapping
	// errDeviceLost means the device is unusable after the attempt.
	run(k AttnKernels) (*attnResult, error)
	// time returns, per layout, the median time of each of its kernels over
	// reps interleaved forward+backward passes.
	time(ks []AttnKernels, reps int) ([]AttnMs, error)
}

// errDeviceLost marks a failure after which the device no longer works (a
// kernel fault poisons the CUDA context): no kernels can be chosen.
var errDeviceLost = errors.New("the device failed after the attempt")

// autoFit is what of v2 a device can launch: per kernel (v2Fwd, v2DQ,
// v2DKV) the warp counts of AutoWarps whose shared memory fits, and why the
// others do not ("" when all fit).
type autoFit struct {
	warps [3][]int
	unfit string
}

// fitV2 is autoFit for head size hs on a device that allows smemMax bytes of
// shared memory a block (v2FwdSmem, v2DKVSmem: checkAttention's sizes).
func fitV2(hs, smemMax int) autoFit {
	var f autoFit
	var unfit []string
	for i, name := range v2KernelNames {
		var ws, needs []string
		for _, nw := range AutoWarps {
			need := v2FwdSmem(hs)
			if i == v2DKV {
				need = v2DKVSmem(hs, nw)
			}
			if need <= smemMax {
				f.warps[i] = append(f.warps[i], nw)
				continue
			}
			ws, needs = append(ws, fmt.Sprintf("%dw", nw)), append(needs, fmt.Sprint(need))
		}
		if ws != nil {
			unfit = append(unfit, fmt.Sprintf("%s %s %s", name, strings.Join(ws, "/"), strings.Join(needs, "/")))
		}
	}
	if unfit != nil {
		f.unfit = fmt.Sprintf("v2 does not fit at %s bytes of shared memory a block (the device allows %d)",
			strings.Join(unfit, ", "), smemMax)
	}
	return f
}

// layouts covers f's warp counts with whole v2 layouts: the i-th takes each
// kernel's i-th count (its last where it has fewer). None when a kernel has
// no count that fits.
func (f autoFit) layouts() []AttnKernels {
	n := 0
	for _, w := range f.warps {
		if len(w) == 0 {
			return nil
		}
		n = max(n, len(w))
	}
	ls := make([]AttnKernels, n)
	for i := range ls {
		ls[i].Kind = AttnV2
		for k, w := range f.warps {
			ls[i].setWarps(k, w[min(i, len(w)-1)])
		}
	}
	return ls
}

// check runs k once and compares its outputs with ref's (ref nil: k is the
// reference): its trial, dropped with the reason when k fails or disagrees;
// an error when the device is lost.
func check(p attnProber, ref *attnResult, k AttnKernels) (AttnTrial, *attnResult, error) {
	t := AttnTrial{Kernels: k}
	res, err := p.run(k)
	switch {
	case errors.Is(err, errDeviceLost):
		return t, nil, fmt.Errorf("gpu: attention auto: %s: %w (use OLMOLAB_GPU_ATTN=mma)", k, err)
	case err != nil:
		t.Dropped = err.Error()
	case ref == nil:
		t.MaxRel = res.maxRel(res)
	default:
		t.MaxRel = res.maxRel(ref)
		for _, out := range AttnOutputs {
			if x := t.MaxRel[out]; !(x <= autoTol[out]) { // NaN fails too
				t.Dropped = fmt.Sprintf("%s differs from mma by %.2g (> %.0g)", out, x, autoTol[out])
				break
			}
		}
	}
	return t, res, nil
}

// fusedOffer is auto's cuDNN candidate: Offered when its graphs were built
// for the trial's and the engine's shapes; else Why says why not (shown as
// dropped), or neither on a device without a library (the emulator).
type fusedOffer struct {
	Offered bool
	Lib     string // the library and its engines, for the log line
	Why     string
}

// chooseAttention runs mma, fit's v2 layouts and the cuDNN candidate (fo) on
// p, drops those that fail or differ from mma by more than autoTol (cuDNN
// also when a second run is not bit-identical to the first: the engine is
// deterministic), times the kernels of the rest, composes v2's layout from
// each kernel's fastest warp count and keeps it when it beats mma by
// autoMargin (after checking it, when it is a layout not yet run); then cuDNN
// replaces that choice when its forward+backward beats it by autoMargin.
func chooseAttention(p attnProber, fit autoFit, fo fusedOffer) (*AttnChoice, error) {
	mma := AttnKernels{Kind: AttnMMA}
	c := &AttnChoice{Chosen: mma, Unfit: fit.unfit, CuDNN: fo.Lib}
	t, ref, err := check(p, nil, mma)
	if err != nil {
		return nil, err
	}
	if t.Dropped != "" {
		return nil, fmt.Errorf("gpu: attention auto: the reference kernels %s: %s", mma, t.Dropped)
	}
	c.Trials = append(c.Trials, t)
	timed, at := []AttnKernels{mma}, []int{0}
	for _, k := range fit.layouts() {
		t, _, err := check(p, ref, k)
		if err != nil {
			return nil, err
		}
		c.Trials = append(c.Trials, t)
		if t.Dropped == "" {
			timed, at = append(timed, k), append(at, len(c.Trials)-1)
		}
	}
	cudnn := AttnKernels{Kind: AttnCuDNN}
	ci := -1 // cuDNN's trial
	switch {
	case fo.Offered:
		t, res, err := check(p, ref, cudnn)
		if err != nil {
			return nil, err
		}
		if t.Dropped == "" {
			again, err := p.run(cudnn)
			switch {
			case errors.Is(err, errDeviceLost):
				return nil, fmt.Errorf("gpu: attention auto: %s: %w (use OLMOLAB_GPU_ATTN=mma)", cudnn, err)
			case err != nil:
				t.Dropped = "its second run: " + err.Error()
			case !again.equal(res):
				t.Dropped = "not deterministic: a second run differs bit for bit"
			}
		}
		c.Trials = append(c.Trials, t)
		ci = len(c.Trials) - 1
		if t.Dropped == "" {
			timed, at = append(timed, cudnn), append(at, ci)
		}
	case fo.Why != "":
		c.Trials = append(c.Trials, AttnTrial{Kernels: cudnn, Dropped: fo.Why})
	}
	ms, err := p.time(timed, autoReps)
	if err != nil && ci >= 0 && c.Trials[ci].Dropped == "" {
		// a library call that fails while timed drops the library, not the
		// start: time the others again without it (a fault that took the
		// device down fails this second timing too)
		c.Trials[ci].Dropped = "its timing: " + err.Error()
		timed, at = timed[:len(timed)-1], at[:len(at)-1] // cuDNN is timed last
		ms, err = p.time(timed, autoReps)
	}
	if err != nil {
		return nil, fmt.Errorf("gpu: attention auto: timing: %w", err)
	}
	var pre []float64
	for j, i := range at {
		c.Trials[i].Ms = ms[j]
		if timed[j].Kind != AttnCuDNN { // cuDNN's backward is one call, counted under dK/dV
			pre = append(pre, ms[j].Pre)
		}
	}
	c.PreMs = median(pre)
	if err := c.chooseV2(p, ref); err != nil {
		return nil, err
	}
	best := c.MMAMs().Total()
	if c.Chosen.Kind == AttnV2 {
		best = c.V2Ms.Total()
	}
	if ci >= 0 && c.Trials[ci].Dropped == "" && c.Trials[ci].Ms.Total() < best*(1-autoMargin) {
		c.Chosen = cudnn
	}
	return c, nil
}

// chooseV2 composes v2's layout from each kernel's fastest warp count among
// the timed layouts and makes it the choice when it beats mma by autoMargin
// (checking it first when no trial ran it).
func (c *AttnChoice) chooseV2(p attnProber, ref *attnResult) error {
	if !slices.ContainsFunc(c.Trials, func(t AttnTrial) bool {
		return t.Kernels.Kind == AttnV2 && t.Dropped == "" && t.Ms != (AttnMs{})
	}) {
		return nil
	}
	// compose: each kernel's fastest warp count, DefaultV2's on a tie
	v2, v2ms := AttnKernels{Kind: AttnV2}, AttnMs{Pre: c.PreMs}
	for i := range v2KernelNames {
		best, bestMs := 0, 0.0
		for _, nw := range append([]int{DefaultV2.warps(i)}, AutoWarps...) {
			if ms, ok := c.kernelMs(i, nw); ok && (best == 0 || ms < bestMs*(1-autoMargin)) {
				best, bestMs = nw, ms
			}
		}
		v2.setWarps(i, best)
		*[3]*float64{&v2ms.Fwd, &v2ms.DQ, &v2ms.DKV}[i] = bestMs
	}
	c.V2, c.V2Ms = v2, v2ms
	if !(v2ms.Total() < c.MMAMs().Total()*(1-autoMargin)) {
		return nil // ties go to mma
	}
	if i := slices.IndexFunc(c.Trials, func(t AttnTrial) bool { return t.Kernels == v2 }); i < 0 {
		t, _, err := check(p, ref, v2)
		if err != nil {
			return err
		}
		c.Trials = append(c.Trials, t)
		if t.Dropped != "" {
			return nil
		}
	} else if c.Trials[i].Dropped != "" {
		return nil
	}
	c.Chosen = v2
	return nil
}

// cudnnMs is cuDNN's trial times (false when it was not timed).
func (c *AttnChoice) cudnnMs() (AttnMs, bool) {
	for _, t := range c.Trials {
		if t.Kernels.Kind == AttnCuDNN && t.Dropped == "" && t.Ms != (AttnMs{}) {
			return t.Ms, true
		}
	}
	return AttnMs{}, false
}

// median of xs (sorted in place; 0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[n/2]
}

// autoChoices remembers the choice per device and shape for the process's
// later engines (an evaluation backend next to the trainer's gets the same
// kernels without a second trial).
var autoChoices sync.Map // string → *AttnChoice

// chooseAttentionAt runs OLMOLAB_GPU_ATTN=auto's trial on the engine's
// buffers (before its first step) and logs the choice. When cuDNN is
// chosen, e.fa is its attention at the engine's shape.
func (e *Engine) chooseAttentionAt() (*AttnChoice, error) {
	shape := e.fusedShape(1).String() // the trial's: one sequence
	key := e.dev.name() + " " + shape
	if c, ok := autoChoices.Load(key); ok {
		cc := *c.(*AttnChoice)
		cc.Cached = true
		if cc.Chosen.Kind == AttnCuDNN {
			fa, err := e.newFused(e.MB)
			if err != nil {
				log.Printf("gpu: attention auto: cudnn, chosen earlier in this process, does not build here: %v; using mma", err)
				cc.Chosen = AttnKernels{Kind: AttnMMA}
			}
			e.fa = fa
		}
		log.Printf("gpu: %s", &cc)
		return &cc, nil
	}
	t0 := time.Now()
	tr := e.attnTrial(1)
	if err := tr.fill(1); err != nil {
		return nil, err
	}
	fo, trialFA, engineFA := e.offerFused()
	tr.e.fa = trialFA
	c, err := chooseAttention(tr, fitV2(e.HS, e.smemMax), fo)
	if trialFA != nil && trialFA != engineFA {
		trialFA.close()
	}
	if err != nil || c.Chosen.Kind != AttnCuDNN {
		if engineFA != nil {
			engineFA.close()
		}
		engineFA = nil
	}
	if err != nil {
		return nil, err
	}
	e.fa = engineFA
	c.Shape, c.Elapsed = shape, time.Since(t0)
	autoChoices.Store(key, c)
	log.Printf("gpu: %s", c)
	return c, nil
}

// offerFused builds auto's cuDNN candidate: its attention for the trial (one
// sequence) and for the engine (MB sequences), or why it cannot be offered.
func (e *Engine) offerFused() (fo fusedOffer, trial, engine fusedAttn) {
	fd, ok := e.dev.(fusedAttnDevice)
	if !ok {
		return fusedOffer{}, nil, nil
	}
	lib, err := fd.fusedAttnLib()
	if err != nil {
		return fusedOffer{Why: oneLine(err)}, nil, nil
	}
	if err := fd.fusedRefusesRows(e.fusedShape(e.MB)); err != nil { // before the plan's missing workspace is blamed
		return fusedOffer{Lib: lib, Why: oneLine(err)}, nil, nil
	}
	if engine, err = e.newFused(e.MB); err != nil {
		return fusedOffer{Lib: lib, Why: oneLine(err)}, nil, nil
	}
	trial = engine
	if e.MB != 1 {
		if trial, err = e.newFused(1); err != nil {
			engine.close()
			return fusedOffer{Lib: lib, Why: oneLine(err)}, nil, nil
		}
	}
	return fusedOffer{Offered: true, Lib: engine.describe()}, trial, engine
}

// oneLine is err's message on one line (for the log line).
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// run is attnProber.run on the device: a launch error is recovered (the
// engine panics on one) and reported; then the device is synchronised, and
// if that fails too it is lost.
func (t *attnTrial) run(k AttnKernels) (res *attnResult, err error) {
	e := t.e
	e.attn = k.resolve(false, e.HS)
	if e.attn.Kind != k.Kind {
		return nil, fmt.Errorf("does not run at head size %d", e.HS)
	}
	if err := e.checkAttention(); err != nil {
		msg := strings.TrimSuffix(strings.TrimPrefix(err.Error(), "gpu: "), " (use OLMOLAB_GPU_ATTN=mma)")
		return nil, errors.New(msg)
	}
	if err := t.zeroOutputs(); err != nil {
		return nil, err
	}
	if err := guard(t.fwdBwd); err != nil {
		if serr := e.dev.sync(); serr != nil {
			return nil, fmt.Errorf("%v; then %v: %w", err, serr, errDeviceLost)
		}
		return nil, err
	}
	res, err = t.read()
	if err != nil {
		return nil, fmt.Errorf("reading its outputs: %v: %w", err, errDeviceLost)
	}
	return res, nil
}

// guard runs f, the engine's launches, with its panic on a failed launch
// turned into an error.
func guard(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", r)
			}
			err = errors.New(strings.TrimPrefix(err.Error(), "gpu: "))
		}
	}()
	f()
	return nil
}

// time is attnProber.time on the device: the layouts take turns, pass by
// pass, each kernel of a pass between two events, so that a drift in clocks
// or temperature is spread over all of them.
func (t *attnTrial) time(ks []AttnKernels, reps int) ([]AttnMs, error) {
	e := t.e
	steps := e.attnSteps(t.dqkv, t.D, t.da, t.a, t.lse, t.q, t.k, t.v) // AttnMs's order
	ns := len(steps)
	mark := func(r, i, s int) int { return 1 + (r*len(ks)+i)*ns + s } // the event after step s
	st, err := e.dev.stamps(mark(reps, 0, 0))
	if err != nil {
		return nil, err
	}
	defer st.close()
	if err := st.record(0); err != nil {
		return nil, err
	}
	for r := 0; r < reps; r++ {
		for i, k := range ks {
			e.attn = k.resolve(false, e.HS)
			for s, f := range steps {
				if err := guard(f); err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				if err := st.record(mark(r, i, s)); err != nil {
					return nil, err
				}
			}
		}
	}
	ms := make([]AttnMs, len(ks))
	for i := range ks {
		var med [4]float64
		for s := range ns {
			per := make([]float64, reps)
			for r := range per {
				j := mark(r, i, s)
				if per[r], err = st.elapsed(j-1, j); err != nil {
					return nil, err
				}
			}
			med[s] = median(per)
		}
		ms[i] = AttnMs{Fwd: med[0], Pre: med[1], DQ: med[2], DKV: med[3]}
	}
	return ms, nil
}
