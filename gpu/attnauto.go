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

// OLMOLAB_GPU_ATTN=auto: at engine start every candidate runs one forward
// and backward pass on random inputs of the engine's own shape (one sequence
// of its T, its heads and head size, on its own buffers); a candidate that
// fails to launch or whose outputs differ from the reference's (mma, the
// kernels checked on hardware first) beyond bf16 tolerances is dropped, with
// the reason; the others are timed with device events over autoReps
// interleaved repetitions, and the fastest by median is kept. Checking
// (attnProber.run) and timing (attnProber.time) are separate so that a test
// can inject timings and a wrong candidate (engine_emu_test.go).

// AutoCandidates are the kernels auto tries, the reference first: mma, v2's
// default layout, and v2 with 4 warps everywhere (dK/dV: 2 blocks an SM at
// head size 128) and with 8 in the backward (fewer, larger blocks). A layout
// whose shared memory the device lacks is dropped with the sizes.
var AutoCandidates = []AttnKernels{
	{Kind: AttnMMA},
	DefaultV2,
	{Kind: AttnV2, FwdWarps: 4, DQWarps: 4, DKVWarps: 4},
	{Kind: AttnV2, FwdWarps: 4, DQWarps: 8, DKVWarps: 8},
}

// autoTol is the largest max |x − x₀| / max |x₀| per output against the
// reference's x₀: gpubench attn's bf16 tolerances for o and the gradients
// (the kernels' own errors from float64 attention are about 3e-3 at any T,
// gpu/README.md), and 1e-4 for the float32 lse (measured: 1e-7).
var autoTol = map[string]float64{"o": 2e-2, "lse": 1e-4, "dq": 5e-2, "dk": 5e-2, "dv": 5e-2}

const (
	autoReps = 5 // timed forward+backward passes of each candidate
	// autoMargin: a later candidate replaces the fastest so far only when it
	// is faster by more than this fraction (ties go to mma, then to the
	// earlier layout).
	autoMargin = 0.02
)

// AttnTrial is one candidate's outcome.
type AttnTrial struct {
	Kernels AttnKernels
	// MaxRel holds its outputs' differences from the reference (AttnOutputs
	// order; empty when it did not run).
	MaxRel map[string]float64
	// Ms is the median milliseconds of one forward and backward pass (0 when
	// not timed).
	Ms float64
	// Dropped says why it could not be chosen ("" when it could).
	Dropped string
}

// AttnChoice is what OLMOLAB_GPU_ATTN=auto chose and why.
type AttnChoice struct {
	Chosen  AttnKernels
	Shape   string // the trial's shape, "B=1 T=4096 NH=16 NKV=16 HS=128"
	Trials  []AttnTrial
	Elapsed time.Duration // the whole trial, inputs and comparisons included
	Cached  bool          // taken from an earlier engine of the same shape in this process
}

// String is one line for logs: the choice, every candidate's time or why it
// was dropped.
func (c *AttnChoice) String() string {
	var timed, dropped []string
	for _, t := range c.Trials {
		if t.Dropped != "" {
			dropped = append(dropped, fmt.Sprintf("%s dropped: %s", t.Kernels, t.Dropped))
		} else {
			timed = append(timed, fmt.Sprintf("%s %.3f ms", t.Kernels, t.Ms))
		}
	}
	s := fmt.Sprintf("attention auto chose %s (forward+backward at %s, median of %d: %s", c.Chosen, c.Shape, autoReps,
		strings.Join(timed, ", "))
	if len(dropped) > 0 {
		s += "; " + strings.Join(dropped, "; ")
	}
	s += fmt.Sprintf("; trial %.2f s", c.Elapsed.Seconds())
	if c.Cached {
		s += ", chosen earlier in this process"
	}
	return s + ")"
}

// attnProber runs candidates for chooseAttention.
type attnProber interface {
	// run launches k's forward and backward once on the trial inputs and
	// returns its outputs, or why it cannot run. An error wrapping
	// errDeviceLost means the device is unusable after the attempt.
	run(k AttnKernels) (*attnResult, error)
	// time returns, per candidate, the median milliseconds of one forward
	// and backward pass over reps repetitions.
	time(ks []AttnKernels, reps int) ([]float64, error)
}

// errDeviceLost marks a failure after which the device no longer works (a
// kernel fault poisons the CUDA context): no kernels can be chosen.
var errDeviceLost = errors.New("the device failed after the attempt")

// chooseAttention runs cands on p (cands[0] is the reference, which must
// run), drops those that fail or differ from the reference by more than
// autoTol, times the rest and returns the fastest (autoMargin).
func chooseAttention(p attnProber, cands []AttnKernels) (*AttnChoice, error) {
	if len(cands) == 0 {
		return nil, errors.New("gpu: attention auto: no candidates")
	}
	c := &AttnChoice{}
	var ref *attnResult
	var ok []AttnKernels
	var okAt []int
	for i, k := range cands {
		t := AttnTrial{Kernels: k}
		res, err := p.run(k)
		switch {
		case errors.Is(err, errDeviceLost):
			return nil, fmt.Errorf("gpu: attention auto: %s: %w (use OLMOLAB_GPU_ATTN=mma)", k, err)
		case err != nil:
			t.Dropped = err.Error()
		case i == 0:
			ref = res
			t.MaxRel = res.maxRel(ref)
		default:
			t.MaxRel = res.maxRel(ref)
			for _, out := range AttnOutputs {
				if x := t.MaxRel[out]; !(x <= autoTol[out]) { // NaN fails too
					t.Dropped = fmt.Sprintf("%s differs from %s by %.2g (> %.0g)", out, cands[0], x, autoTol[out])
					break
				}
			}
		}
		if i == 0 && t.Dropped != "" {
			return nil, fmt.Errorf("gpu: attention auto: the reference kernels %s: %s", k, t.Dropped)
		}
		c.Trials = append(c.Trials, t)
		if t.Dropped == "" {
			ok, okAt = append(ok, k), append(okAt, i)
		}
	}
	ms, err := p.time(ok, autoReps)
	if err != nil {
		return nil, fmt.Errorf("gpu: attention auto: timing: %w", err)
	}
	best := -1
	for j, i := range okAt {
		c.Trials[i].Ms = ms[j]
		if best < 0 || ms[j] < c.Trials[best].Ms*(1-autoMargin) {
			best = i
		}
	}
	c.Chosen = cands[best]
	return c, nil
}

// autoChoices remembers the choice per device and shape for the process's
// later engines (an evaluation backend next to the trainer's gets the same
// kernels without a second trial).
var autoChoices sync.Map // string → *AttnChoice

// chooseAttentionAt runs OLMOLAB_GPU_ATTN=auto's trial on the engine's
// buffers (before its first step) and logs the choice.
func (e *Engine) chooseAttentionAt() (*AttnChoice, error) {
	shape := fmt.Sprintf("B=1 T=%d NH=%d NKV=%d HS=%d", e.T, e.NH, e.NKV, e.HS)
	key := e.dev.name() + " " + shape
	if c, ok := autoChoices.Load(key); ok {
		cc := *c.(*AttnChoice)
		cc.Cached = true
		log.Printf("gpu: %s", &cc)
		return &cc, nil
	}
	t0 := time.Now()
	tr := e.attnTrial(1)
	if err := tr.fill(1); err != nil {
		return nil, err
	}
	c, err := chooseAttention(tr, AutoCandidates)
	if err != nil {
		return nil, err
	}
	c.Shape, c.Elapsed = shape, time.Since(t0)
	autoChoices.Store(key, c)
	log.Printf("gpu: %s", c)
	return c, nil
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
	if err := t.launch(); err != nil {
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

// launch is run's launches with the engine's panic on a failed launch
// turned into an error.
func (t *attnTrial) launch() (err error) {
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
	t.fwdBwd()
	return nil
}

// time is attnProber.time on the device: the candidates take turns, rep by
// rep, each forward+backward between two events, so that a drift in clocks
// or temperature is spread over all of them.
func (t *attnTrial) time(ks []AttnKernels, reps int) ([]float64, error) {
	e := t.e
	st, err := e.dev.stamps(len(ks)*reps + 1)
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
			if err := t.launch(); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if err := st.record(1 + r*len(ks) + i); err != nil {
				return nil, err
			}
		}
	}
	ms := make([]float64, len(ks))
	for i := range ks {
		per := make([]float64, reps)
		for r := range per {
			j := 1 + r*len(ks) + i
			if per[r], err = st.elapsed(j-1, j); err != nil {
				return nil, err
			}
		}
		slices.Sort(per)
		ms[i] = per[reps/2]
		if reps%2 == 0 {
			ms[i] = (per[reps/2-1] + per[reps/2]) / 2
		}
	}
	return ms, nil
}
