package gpu

import (
	"fmt"
	"log"
	"math"
	"slices"
	"strconv"
	"sync"
	"unsafe"

	"github.com/olmolab/olmolab/gpu/kernels"
	"github.com/olmolab/olmolab/model"
)

// Engine is OLMo 2 training on one GPU: a model.Backend whose parameters,
// gradients, AdamW moments and activations all live in device memory. Per
// optimizer step only the token ids go to the device and only the two loss
// sums and the gradient norm come back.
//
// The step is model/cpu.go's sequence of operations, layer by layer, with
// matrix products in cuBLAS (bf16 operands, fp32 accumulation; or fp32
// throughout with Options.FP32) and everything else in the kernels of
// gpu/kernels. Activations of the layers the plan does not keep are recomputed
// from the layer's input just before its backward pass, and a backend
// micro-batch of B sequences runs in passes of Plan.MB sequences.
//
// Host buffers are float32 in model.Layout order, as for every Backend, so
// checkpoints move between engines unchanged. An Engine is used from one
// goroutine at a time. Device errors panic with a "gpu: …" message: the
// Backend interface has no error results and a failed device is not
// recoverable within a run.
type Engine struct {
	dev  device
	cfg  model.Config
	lay  *model.Layout
	plan *Plan
	at   dtype       // activation and matmul operand type
	sfx  string      // kernel name suffix for at
	hs   string      // the head size in decimal, the suffix of the mma and v2 attention kernels
	attn AttnKernels // the attention kernels in use (resolved: plain for fp32 and other head sizes)
	auto *AttnChoice // how OLMOLAB_GPU_ATTN=auto chose attn (nil otherwise)
	fa   fusedAttn   // cuDNN's attention when attn is AttnCuDNN (nil otherwise)
	// fusedWS is a forward-only engine's cuDNN workspace, allocated on its
	// own (0: none); a training engine's is in its arena
	fusedWS dptr
	// saidFallback: this engine has logged that a Scorer runs mma instead of
	// cuDNN (once)
	saidFallback bool
	kt           int // key/query tile of the plain attention kernels
	// smemMax is the most shared memory a block may have (the device's
	// opt-in limit; above 48 KiB the device sets the kernel's attribute).
	smemMax int

	base dptr
	o    planOffsets
	// the weights the forward reads: layout runs (planOffsets.f32w, bfw)
	// at wf32 (fp32) and wbf (bf16); a Scorer's are its engine's
	f32w, bfw []wrun
	wf32, wbf dptr
	cos, sin  dptr // RoPE tables (T, HS/2) f32: a Scorer's may be its engine's, longer

	parent  *Engine   // a Scorer's engine (nil otherwise)
	scorers []*Engine // an engine's open Scorers, closed with it (scorersMu)
	owned   bool      // the arena at base was allocated by this engine (a Scorer may borrow its engine's)

	C, I, QC, KC, HS, NH, NKV, L, V int
	qkvW                            int // QC + 2·KC: the fused q|k|v row
	N                               int64
	B, T, MB, R                     int // R = MB·T rows per pass
	eps                             float64
	scale                           float64 // 1/√HS

	// unfused: the norm backward runs as before OLMOLAB_GPU_FUSE (rope_bwd,
	// rms_dw_part, rms_bwd, rms_dw_reduce) instead of rms_bwd_dw and
	// rms_dw_reduce8 (Options.NoFuse)
	unfused bool

	// pack: the forward in progress scores packed rows (LogProbsPacked):
	// RoPE at the uploaded positions, attention masked by segment; pass is
	// the pass forwardPass runs, whose packing the kernels read
	pack bool
	pass int

	step   int
	closed bool
	prof   *profile // nil unless EnableProfile
	// traffic records each operation's modeled bytes (ModelTraffic; nil
	// otherwise)
	traffic map[string]*OpTraffic
	// opNames holds each (phase, kernel or operation) pair's label
	// (opLabel), built on its first use
	opNames map[[2]string]string
	phase   string  // the profile's current phase
	ints    []int32 // host staging of ids, labels and the embedding-gradient grouping
	nseg    []int   // per pass: distinct tokens
	keys    []int64
	sigs    map[string][]string
	// Nothing below allocates on the Go heap per call once the first call
	// has run (TestStepAllocatesNothing): kernel names are built once and
	// kept, launch arguments are copied into args, values read back land in
	// host, and the AdamW ranges are kept for their decay rule.
	names     map[[2]string]string // kernel(base, suffix)
	args      [maxArgs]arg
	host      [2]float64
	adam      []adamRange
	adamDecay [2]bool // DecayEmbeddings, DecayNorms of adam
}

// maxArgs is the most parameters a kernel takes (launch checks it).
const maxArgs = 24

var (
	sigOnce sync.Once
	sigMap  map[string][]string
	sigErr  error
)

func signatures() (map[string][]string, error) {
	sigOnce.Do(func() { sigMap, sigErr = kernels.Signatures(kernels.PTX90) })
	return sigMap, sigErr
}

// newEngine builds an engine on dev with a plan that fits the device's free
// memory (or opts' fixed choices). Parameters and moments start at zero.
func newEngine(dev device, cfg model.Config, B, T int, opts Options) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	free, err := freeMemory(dev)
	if err != nil {
		return nil, err
	}
	plan, opts, err := enginePlan(dev, cfg, B, T, free, opts, false)
	if err != nil {
		return nil, fmt.Errorf("gpu: %w", err)
	}
	e, err := newEngineWithPlan(dev, plan, opts.Attention)
	if err == nil {
		// rms_bwd_dw keeps two rows of the widest norm in shared memory
		// (2·n floats, plus its reduction's): a device with less per block
		// runs the kernels before it
		e.unfused = opts.NoFuse || 8*max(e.C, e.QC, e.KC)+1024 > e.smemMax
	}
	return e, err
}

// newView returns an engine of plan's shape on dev, its arena not yet placed.
func newView(dev device, plan *Plan, lay *model.Layout, attn AttnKernels) (*Engine, error) {
	sigs, err := signatures()
	if err != nil {
		return nil, fmt.Errorf("gpu: kernel signatures: %w", err)
	}
	cfg := plan.Config
	e := &Engine{dev: dev, cfg: cfg, lay: lay, plan: plan, o: plan.off, sigs: sigs}
	e.C, e.I, e.V = cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize
	e.QC, e.KC, e.HS = cfg.QWidth(), cfg.KVWidth(), cfg.HeadSize()
	e.NH, e.NKV, e.L = cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.NumHiddenLayers
	e.qkvW = e.QC + 2*e.KC
	e.N = e.lay.Size()
	e.B, e.T, e.MB = plan.B, plan.T, plan.MB
	e.R = e.MB * e.T
	e.eps = cfg.RMSNormEps
	e.scale = 1 / math.Sqrt(float64(e.HS))
	e.hs = strconv.Itoa(e.HS)
	e.at, e.sfx = bf16, "_bf16"
	if plan.FP32 {
		e.at, e.sfx = f32, "_f32"
	}
	e.attn = attn.resolve(plan.FP32, e.HS)
	e.kt = max(1, min(64, 4096/e.HS))
	e.smemMax = dev.smemLimit()
	if e.HS > 32*8 {
		return nil, fmt.Errorf("gpu: head size %d is above the kernels' limit of 256", e.HS)
	}
	if err := e.checkAttention(); err != nil {
		return nil, err
	}
	e.ints = make([]int32, e.o.intsLen)
	e.nseg = make([]int, e.B/e.MB)
	if !plan.Scoring {
		e.keys = make([]int64, e.R)
	}
	return e, nil
}

// ropeTables writes the RoPE tables of e's T, computed in float64
// (model/cpu.go NewCPU), then float32.
func (e *Engine) ropeTables() {
	half := e.HS / 2
	cos, sin := make([]float32, e.T*half), make([]float32, e.T*half)
	for t := 0; t < e.T; t++ {
		for i := 0; i < half; i++ {
			f := float64(t) * math.Pow(e.cfg.RopeTheta, -2*float64(i)/float64(e.HS))
			cos[t*half+i] = float32(math.Cos(f))
			sin[t*half+i] = float32(math.Sin(f))
		}
	}
	e.must("rope tables", e.htodF32(e.cos, cos))
	e.must("rope tables", e.htodF32(e.sin, sin))
}

// buildFused builds cuDNN's attention for an engine that runs it.
func (e *Engine) buildFused() error {
	if e.attn.Kind != AttnCuDNN {
		return nil
	}
	var err error
	if e.fa, err = e.newFused(e.MB); err != nil {
		e.freeFused()
		return &fusedError{err}
	}
	log.Printf("gpu: attention cudnn: %s", e.fa.describe())
	return nil
}

// fusedError is cuDNN's attention refused for an engine's shape.
type fusedError struct{ err error }

func (f *fusedError) Error() string {
	return fmt.Sprintf("gpu: attention cudnn: %v (use OLMOLAB_GPU_ATTN=mma)", f.err)
}

func (f *fusedError) Unwrap() error { return f.err }

// freeMemory is dev's free memory, asked inside an engine call: the driver
// answers for the context current on the calling thread (enter binds it).
func freeMemory(dev device) (int64, error) {
	defer dev.enter()()
	free, _, err := dev.memInfo()
	if err != nil {
		return 0, fmt.Errorf("gpu: memory info: %w", err)
	}
	return free, nil
}

func newEngineWithPlan(dev device, plan *Plan, attn AttnKernels) (*Engine, error) {
	e, err := newView(dev, plan, model.NewLayout(plan.Config), attn)
	if err != nil {
		return nil, err
	}
	defer dev.enter()()
	base, err := dev.alloc(plan.Arena)
	if err != nil {
		return nil, fmt.Errorf("gpu: allocating %.2f GiB for %s: %w", gib(plan.Arena), plan, err)
	}
	e.base, e.owned = base, true
	e.f32w, e.bfw, e.wf32, e.wbf = e.o.f32w, e.o.bfw, e.p(e.o.params), e.p(e.o.wT)
	e.cos, e.sin = e.p(e.o.cos), e.p(e.o.sin)
	if err := e.buildFused(); err != nil {
		dev.free(base)
		return nil, err
	}
	if e.attn.Kind == AttnAuto {
		// before anything is written: the trial uses activation buffers only
		if e.auto, err = e.chooseAttentionAt(); err != nil {
			dev.free(base)
			return nil, err
		}
		e.attn = e.auto.Chosen
	}
	// weights and optimizer state start at zero: everything before the scratch
	for _, b := range plan.Buffers {
		if b.Offset < plan.Scratch {
			e.must("zero state", dev.zero(e.p(b.Offset), b.Bytes))
		}
	}
	e.ropeTables()
	return e, nil
}

// Plan returns the engine's memory plan.
func (e *Engine) Plan() *Plan { return e.plan }

// Attention returns the attention kernels the engine runs.
func (e *Engine) Attention() AttnKernels { return e.attn }

// AttentionChoice says how OLMOLAB_GPU_ATTN=auto chose them (nil when the
// kernels were named).
func (e *Engine) AttentionChoice() *AttnChoice { return e.auto }

func (e *Engine) p(off int64) dptr {
	if off < 0 {
		return 0
	}
	return e.base.add(off)
}

// param, grad and w address tensor element off of the layout: fp32 weight
// (the master when training), gradient, and the matmul operand (the bf16
// copy, or the fp32 weight in fp32 mode).
func (e *Engine) param(off int) dptr {
	p := runAt(e.f32w, e.wf32, 4, int64(off))
	if p == 0 {
		panic(fmt.Sprintf("gpu: parameter %d has no fp32 copy on the device", off))
	}
	return p
}
func (e *Engine) grad(off int) dptr { return e.p(e.o.grads).add(4 * int64(off)) }
func (e *Engine) w(off int) dptr {
	if e.bfw == nil {
		return e.param(off)
	}
	p := runAt(e.bfw, e.wbf, 2, int64(off))
	if p == 0 {
		panic(fmt.Sprintf("gpu: parameter %d has no bf16 copy on the device", off))
	}
	return p
}

// runIndex is the index of the first of runs (sorted, disjoint) that ends
// after element off, len(runs) if none does.
func runIndex(runs []wrun, off int64) int {
	lo, hi := 0, len(runs)
	for lo < hi {
		m := (lo + hi) / 2
		if runs[m].hi <= off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// runAt is the address of layout element off in runs placed at base with
// elements of sz bytes, 0 when the runs do not hold it.
func runAt(runs []wrun, base dptr, sz, off int64) dptr {
	if i := runIndex(runs, off); i < len(runs) && runs[i].lo <= off {
		return base.add(sz * (runs[i].at + off - runs[i].lo))
	}
	return 0
}

// act addresses element index (rows·cols) of an activation-typed buffer.
func (e *Engine) act(p dptr, index int) dptr { return p.add(int64(index) * e.at.size()) }

// mustTrain panics when e is forward only (NewScoring, Scorer), which has
// no gradients or optimizer state.
func (e *Engine) mustTrain(op string) {
	if e.plan.Scoring {
		panic("gpu: " + op + " on a forward-only engine (NewScoring, Scorer)")
	}
}

func (e *Engine) must(what string, err error) {
	if err != nil {
		panic(fmt.Errorf("gpu: %s: %w", what, err))
	}
}

// kernel is the name base+suffix ("rms_fwd"+e.sfx, "attn_fwd_mma"+e.hs),
// concatenated once per engine: a launch then allocates nothing.
func (e *Engine) kernel(base, suffix string) string {
	k := [2]string{base, suffix}
	n, ok := e.names[k]
	if !ok {
		if e.names == nil {
			e.names = map[[2]string]string{}
		}
		n = base + suffix
		e.names[k] = n
	}
	return n
}

// launch checks the arguments against the kernel's PTX signature (count and
// types: a mismatch would corrupt every later parameter) and the H200's launch
// limits, then launches. The arguments are copied into e.args, which the
// device reads, so that a call's own list stays on its stack.
func (e *Engine) launch(name string, grid, block dim3, smem int, args ...arg) {
	sig, ok := e.sigs[name]
	if !ok {
		panic(fmt.Sprintf("gpu: no kernel %q in the PTX", name))
	}
	if len(sig) != len(args) {
		panic(fmt.Sprintf("gpu: kernel %s takes %d parameters, launched with %d", name, len(sig), len(args)))
	}
	if len(args) > maxArgs {
		panic(fmt.Sprintf("gpu: kernel %s takes %d parameters, more than the engine's %d", name, len(args), maxArgs))
	}
	for i, a := range args {
		if sig[i] != a.kind.ptx() {
			panic(fmt.Sprintf("gpu: kernel %s parameter %d is .%s, launched with .%s", name, i, sig[i], a.kind.ptx()))
		}
	}
	if grid[0] == 0 || grid[1] == 0 || grid[2] == 0 || grid[1] > 65535 || grid[2] > 65535 || grid[0] > 1<<31-1 {
		panic(fmt.Sprintf("gpu: kernel %s: grid %v outside the device's limits", name, grid))
	}
	if n := block[0] * block[1] * block[2]; n == 0 || n > 1024 || n%32 != 0 || smem < 0 || smem > e.smemMax {
		panic(fmt.Sprintf("gpu: kernel %s: block %v with %d B shared memory outside the engine's limits", name, block, smem))
	}
	n := copy(e.args[:], args)
	if err := e.dev.launch(name, grid, block, smem, e.args[:n]); err != nil {
		panic(fmt.Errorf("gpu: launch %s: %w", name, err))
	}
	if e.prof != nil || e.traffic != nil {
		l := e.opLabel(name)
		e.count(l, e.launchBytes(name, grid, args))
		e.stamp(l)
	}
}

// count adds one operation's modeled bytes (launchBytes; -1: not modeled)
// to the traffic being recorded and the profile's.
func (e *Engine) count(label string, bytes int64) {
	if bytes < 0 {
		return
	}
	if e.traffic != nil {
		t := e.traffic[label]
		if t == nil {
			t = &OpTraffic{}
			e.traffic[label] = t
		}
		t.Launches++
		t.Bytes += bytes
	}
	if e.prof != nil {
		e.prof.bytes[label] += float64(bytes)
	}
}

func (e *Engine) gemm(g gemmOp) {
	if err := g.check(); err != nil {
		panic("gpu: " + err.Error())
	}
	e.must("gemm", e.dev.gemm(g))
	if e.prof != nil {
		e.stamp(e.opLabel("gemm"))
	}
}

// zero clears device memory (in stream order).
func (e *Engine) zero(what string, p dptr, bytes int64) {
	e.must(what, e.dev.zero(p, bytes))
	if e.prof != nil || e.traffic != nil {
		l := e.opLabel("memset")
		e.count(l, bytes)
		e.stamp(l)
	}
}

// begin starts a profiled engine call: the gap since the last one is the
// host's.
func (e *Engine) begin(phase string) {
	e.phase = phase
	if e.prof != nil {
		e.stamp("")
	}
}

// mm is gemm with alpha 1 in the engine's operand type; c is of type tc.
func (e *Engine) mm(transA, transB bool, m, n, k int, a dptr, lda int, b dptr, ldb int, beta float32, c dptr, tc dtype, ldc int) {
	e.gemm(gemmOp{transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, ta: e.at, lda: lda,
		b: b, tb: e.at, ldb: ldb, beta: beta, c: c, tc: tc, ldc: ldc, pedantic: e.plan.FP32})
}

func ceil(a, b int) uint32 { return uint32((a + b - 1) / b) }

func rows(n int) dim3    { return dim3{uint32(n), 1, 1} }
func threads(n int) dim3 { return dim3{uint32(n), 1, 1} }

// strided returns a grid of 256-thread blocks for a grid-stride loop over n
// elements. The grid-stride kernels take 8 elements per thread when their
// pointers allow (common.cuh, al16), so the grid is sized for that; their
// one-element fallback loops over the rest, so any grid is correct.
func strided(n int64) dim3 {
	b := (n + 8*256 - 1) / (8 * 256)
	return dim3{uint32(min(b, 65535)), 1, 1}
}

func (e *Engine) htodF32(dst dptr, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	return e.dev.htod(dst, unsafe.Pointer(&src[0]), int64(4*len(src)))
}

func (e *Engine) dtohF32(dst []float32, src dptr) error {
	if len(dst) == 0 {
		return nil
	}
	return e.dev.dtoh(unsafe.Pointer(&dst[0]), src, int64(4*len(dst)))
}

// ---- model.Backend

func (e *Engine) Name() string {
	if e.plan.FP32 {
		return "cuda-fp32"
	}
	return "cuda"
}
func (e *Engine) Config() model.Config   { return e.cfg }
func (e *Engine) MicroBatch() (int, int) { return e.B, e.T }

// ZeroGrads clears the gradients.
func (e *Engine) ZeroGrads() {
	e.mustTrain("ZeroGrads")
	defer e.dev.enter()()
	e.begin("optim")
	e.zero("zero gradients", e.p(e.o.grads), 4*e.N)
}

// ReadParams copies the weights to dst (Layout order): the fp32 master
// weights of a training engine. A bf16 forward-only engine (NewScoring)
// keeps its matrices in bf16 only, so it returns them rounded to bf16
// (exactly the values it computes with); its embedding and norms, kept in
// fp32, come back as written.
func (e *Engine) ReadParams(dst []float32) { e.ReadParamsAt(dst[:e.N], 0) }

// WriteParams loads src (Layout order) as the weights: the master weights
// and their bf16 copy of a training engine; a forward-only engine's in the
// types its forward reads (WriteParamsAt).
func (e *Engine) WriteParams(src []float32) { e.WriteParamsAt(src[:e.N], 0) }

// ReadParamsAt copies weights [off, off+len(dst)) to dst (ReadParams).
func (e *Engine) ReadParamsAt(dst []float32, off int) {
	model.CheckRange(int(e.N), off, len(dst))
	defer e.dev.enter()()
	lo, hi := int64(off), int64(off+len(dst))
	for _, r := range e.f32w {
		if a, b := max(lo, r.lo), min(hi, r.hi); a < b {
			e.must("read parameters", e.dtohF32(dst[a-lo:b-lo], e.wf32.add(4*(r.at+a-r.lo))))
		}
	}
	e.bfPieces(lo, hi, func(bf dptr, a, b int64, f32 dptr) {
		if f32 == 0 { // held in bf16 only
			e.must("read parameters", e.dtohBF16(dst[a-lo:b-lo], bf))
		}
	})
}

// WriteParamsAt loads src as weights [off, off+len(src)): each element into
// its fp32 copy, then its bf16 copy cast on the device (cast_bf16) from the
// fp32 copy where there is one (a training engine's masters), else from src
// streamed through the scratch region in chunks (a forward-only engine's
// matrices): the same rounding either way.
func (e *Engine) WriteParamsAt(src []float32, off int) {
	model.CheckRange(int(e.N), off, len(src))
	defer e.dev.enter()()
	lo, hi := int64(off), int64(off+len(src))
	for _, r := range e.f32w {
		if a, b := max(lo, r.lo), min(hi, r.hi); a < b {
			e.must("write parameters", e.htodF32(e.wf32.add(4*(r.at+a-r.lo)), src[a-lo:b-lo]))
		}
	}
	e.bfPieces(lo, hi, func(bf dptr, a, b int64, f32 dptr) {
		if f32 != 0 {
			e.castBF16(bf, f32, b-a)
			return
		}
		stage := e.p(e.plan.Scratch)
		chunk := max(1, (e.plan.Arena-e.plan.Scratch)/4)
		for c := a; c < b; c += chunk {
			n := min(chunk, b-c)
			e.must("write parameters", e.htodF32(stage, src[c-lo:c-lo+n]))
			e.castBF16(bf.add(2*(c-a)), stage, n)
		}
	})
}

// bfPieces calls f for the parts [a, b) of layout range [lo, hi) that have
// a bf16 copy, at bf, with f32 the address of their fp32 copy or 0 where
// they have none.
func (e *Engine) bfPieces(lo, hi int64, f func(bf dptr, a, b int64, f32 dptr)) {
	for _, r := range e.bfw {
		for a := max(lo, r.lo); a < min(hi, r.hi); {
			b := min(hi, r.hi)
			var f32 dptr
			if i := runIndex(e.f32w, a); i < len(e.f32w) {
				if x := e.f32w[i]; x.lo <= a {
					b, f32 = min(b, x.hi), e.wf32.add(4*(x.at+a-x.lo))
				} else {
					b = min(b, x.lo)
				}
			}
			f(e.wbf.add(2*(r.at+a-r.lo)), a, b, f32)
			a = b
		}
	}
}

// castBF16 writes n bf16 values at dst rounded from the fp32 values at src
// (cast_bf16 falls back to single elements where they are not 16-byte
// aligned).
func (e *Engine) castBF16(dst, src dptr, n int64) {
	if n > 0 {
		e.launch("cast_bf16", strided(n), threads(256), 0, ptr(dst), ptr(src), i64(n))
	}
}

// dtohBF16 reads len(dst) bf16 values at src into dst as float32 (exact),
// through dst's own memory: the values land in its upper half and are
// widened front to back, each read before its slot is written (element i's
// four bytes end at 4i+3, below the 2·len+2i where element i+1's two start).
func (e *Engine) dtohBF16(dst []float32, src dptr) error {
	n := len(dst)
	if n == 0 {
		return nil
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*n)
	h := unsafe.Slice((*uint16)(unsafe.Pointer(&raw[2*n])), n)
	if err := e.dev.dtoh(unsafe.Pointer(&h[0]), src, int64(2*n)); err != nil {
		return err
	}
	for i := range n {
		dst[i] = math.Float32frombits(uint32(h[i]) << 16)
	}
	return nil
}

// ReadOptStateAt copies AdamW's moments over [off, off+n) (m or v may be
// nil) and returns its step count.
func (e *Engine) ReadOptStateAt(m, v []float32, off int) int {
	e.mustTrain("ReadOptState")
	model.OptRange(int(e.N), off, m, v)
	defer e.dev.enter()()
	e.must("read optimizer state", e.dtohF32(m, e.p(e.o.m).add(4*int64(off))))
	e.must("read optimizer state", e.dtohF32(v, e.p(e.o.v).add(4*int64(off))))
	return e.step
}

// WriteOptStateAt loads AdamW's moments over [off, off+n) (m or v may be
// nil) and sets its step count.
func (e *Engine) WriteOptStateAt(m, v []float32, off, step int) {
	e.mustTrain("WriteOptState")
	model.OptRange(int(e.N), off, m, v)
	defer e.dev.enter()()
	e.must("write optimizer state", e.htodF32(e.p(e.o.m).add(4*int64(off)), m))
	e.must("write optimizer state", e.htodF32(e.p(e.o.v).add(4*int64(off)), v))
	e.step = step
}

// ReadGrads copies the gradients to dst (Layout order).
func (e *Engine) ReadGrads(dst []float32) {
	e.mustTrain("ReadGrads")
	defer e.dev.enter()()
	e.must("read gradients", e.dtohF32(dst[:e.N], e.p(e.o.grads)))
}

// ReadOptState copies AdamW's moments and returns its step count.
func (e *Engine) ReadOptState(m, v []float32) int { return e.ReadOptStateAt(m[:e.N], v[:e.N], 0) }

// WriteOptState loads AdamW's moments and step count.
func (e *Engine) WriteOptState(m, v []float32, step int) {
	e.WriteOptStateAt(m[:e.N], v[:e.N], 0, step)
}

// Close frees the device memory: the engine's Scorers' too, which are
// closed first. The engine is unusable afterwards. A Scorer's Close frees
// only what it allocated (its engine's scratch, which it may borrow, stays).
//
// A Scorer may be closed on another goroutine than its engine's (the lab's
// evaluator, shared by runs at once, closes one run's Scorer when another
// run's evaluation needs its own): scorersMu makes each Scorer's Close run
// once, whichever comes first.
func (e *Engine) Close() {
	if e.parent != nil {
		scorersMu.Lock()
		defer scorersMu.Unlock()
	}
	if e.closed {
		return
	}
	if e.parent == nil {
		scorersMu.Lock()
		scorers := e.scorers
		e.scorers = nil
		scorersMu.Unlock()
		for _, s := range scorers {
			s.Close()
		}
	}
	e.closed = true
	func() {
		defer e.dev.enter()()
		if e.prof != nil {
			e.must("profile events", e.prof.st.close())
			e.prof = nil
		}
		e.freeFused()
		if e.base != 0 && e.owned {
			e.must("free", e.dev.free(e.base))
		}
	}()
	if p := e.parent; p != nil {
		p.scorers = slices.DeleteFunc(p.scorers, func(s *Engine) bool { return s == e })
		return // the device is its engine's (scorersMu held)
	}
	e.must("close", e.dev.close())
}

// scorersMu guards every engine's scorers and its Scorers' Close: a Scorer
// may be closed on another goroutine than its engine (Close).
var scorersMu sync.Mutex

// GradNorm is the global L2 norm of the gradients, summed in float64 over
// fixed blocks (deterministic).
func (e *Engine) GradNorm() float64 {
	e.mustTrain("GradNorm")
	defer e.dev.enter()()
	e.begin("norm")
	e.launch("sumsq_part", dim3{uint32(e.o.normParts), 1, 1}, threads(256), 0,
		ptr(e.p(e.o.normPart)), ptr(e.p(e.o.grads)), i64(e.N), i64(normPer))
	e.launch("sumsq_final", dim3{1, 1, 1}, threads(256), 0, ptr(e.p(e.o.normOut)), ptr(e.p(e.o.normPart)), i32(e.o.normParts))
	s := &e.host[0]
	e.must("read gradient norm", e.dev.dtoh(unsafe.Pointer(s), e.p(e.o.normOut), 8))
	return math.Sqrt(*s)
}

// adamRange is a run of consecutive tensors with the same decay rule.
type adamRange struct {
	lo, hi int64
	decay  bool
}

func adamRanges(lay *model.Layout, o model.AdamW) []adamRange {
	var out []adamRange
	for _, t := range lay.Tensors {
		d := o.Decays(t) // the CPU engine's rule (model/optim.go)
		lo, hi := int64(t.Offset), int64(t.Offset+t.Numel())
		if n := len(out); n > 0 && out[n-1].decay == d && out[n-1].hi == lo {
			out[n-1].hi = hi
			continue
		}
		out = append(out, adamRange{lo, hi, d})
	}
	return out
}

// Step applies one AdamW update with the gradients scaled by gradScale (the
// clipping coefficient), in torch's order (model/optim.go), and refreshes the
// bf16 weights in the same pass.
func (e *Engine) Step(o model.AdamW, lr, gradScale float64) {
	e.mustTrain("Step")
	defer e.dev.enter()()
	e.begin("optim")
	e.step++
	t := float64(e.step)
	bc1 := 1 - math.Pow(o.Beta1, t)
	bc2 := math.Sqrt(1 - math.Pow(o.Beta2, t))
	stepSize := lr / bc1
	if d := [2]bool{o.DecayEmbeddings, o.DecayNorms}; e.adam == nil || d != e.adamDecay {
		e.adam, e.adamDecay = adamRanges(e.lay, o), d
	}
	for _, r := range e.adam {
		decay := 1.0
		if r.decay {
			decay = 1 - lr*o.WeightDecay
		}
		n := r.hi - r.lo
		var pT dptr
		if e.bfw != nil {
			pT = e.wbf.add(2 * r.lo) // a training engine's bf16 copy is the whole layout
		}
		e.launch("adamw", strided(n), threads(256), 0,
			ptr(e.param(int(r.lo))), ptr(e.grad(int(r.lo))), ptr(e.p(e.o.m).add(4*r.lo)), ptr(e.p(e.o.v).add(4*r.lo)), ptr(pT),
			i64(n), f32arg(gradScale), f32arg(decay), f32arg(o.Beta1), f32arg(o.Beta2), f32arg(stepSize), f32arg(bc2), f32arg(o.Eps))
	}
}

// ---- batches

// upload checks and copies ids and labels (B·T each; labels nil = all
// ignored) and, when grouping, each pass's rows grouped by token for the
// embedding gradient. It panics on out-of-range tokens, like the CPU engine.
func (e *Engine) upload(ids, labels []int32, grouping bool) {
	BT := e.B * e.T
	if len(ids) != BT || (labels != nil && len(labels) != BT) {
		panic(fmt.Sprintf("gpu: batch of %d ids / %d labels, engine shape is %d×%d", len(ids), len(labels), e.B, e.T))
	}
	V := int32(e.V)
	for i, id := range ids {
		if id < 0 || id >= V {
			panic(fmt.Sprintf("gpu: token id %d at position %d is outside the vocabulary [0,%d)", id, i, V))
		}
	}
	copy(e.ints, ids)
	lab := e.ints[BT : 2*BT]
	if labels == nil {
		for i := range lab {
			lab[i] = model.IgnoreIndex
		}
	} else {
		for i, l := range labels {
			if l != model.IgnoreIndex && (l < 0 || l >= V) {
				panic(fmt.Sprintf("gpu: label %d at position %d is outside the vocabulary [0,%d)", l, i, V))
			}
		}
		copy(lab, labels)
	}
	n := 2 * BT
	if grouping {
		for s := range e.nseg {
			n = e.group(s, ids[s*e.R:(s+1)*e.R], n)
		}
	}
	e.must("upload tokens", e.dev.htod(e.p(e.o.ints), unsafe.Pointer(&e.ints[0]), int64(4*n)))
}

// group writes pass s's perm, segStart and segTok at e.ints[at:] (at the
// pass's fixed place) and returns the end of what must be uploaded.
func (e *Engine) group(s int, ids []int32, at int) int {
	for r, id := range ids {
		e.keys[r] = int64(id)<<32 | int64(r)
	}
	slices.Sort(e.keys)
	base := 2*e.B*e.T + s*(3*e.R+1)
	perm := e.ints[base : base+e.R]
	segStart := e.ints[base+e.R : base+2*e.R+1]
	segTok := e.ints[base+2*e.R+1 : base+3*e.R+1]
	ns := 0
	for i, k := range e.keys {
		tok := int32(k >> 32)
		perm[i] = int32(k & 0xffffffff)
		if i == 0 || tok != segTok[ns-1] {
			segStart[ns] = int32(i)
			segTok[ns] = tok
			ns++
		}
	}
	segStart[ns] = int32(e.R)
	e.nseg[s] = ns
	return base + 3*e.R + 1
}

func (e *Engine) idsOf(s int) dptr    { return e.p(e.o.ints).add(4 * int64(s*e.R)) }
func (e *Engine) labelsOf(s int) dptr { return e.p(e.o.ints).add(4 * int64(e.B*e.T+s*e.R)) }
func (e *Engine) groupOf(s int) (perm, segStart, segTok dptr) {
	base := e.p(e.o.ints).add(4 * int64(2*e.B*e.T+s*(3*e.R+1)))
	return base, base.add(4 * int64(e.R)), base.add(4 * int64(2*e.R+1))
}

// posOf, segOf and prefixOf are pass s's part of the packing LogProbsPacked
// uploaded: (R) RoPE positions, (R) segment starts, (MB) prefix lengths.
func (e *Engine) posOf(s int) dptr { return e.p(e.o.ints).add(4 * int64(e.o.pack+s*e.R)) }
func (e *Engine) segOf(s int) dptr { return e.p(e.o.ints).add(4 * int64(e.o.pack+e.B*e.T+s*e.R)) }
func (e *Engine) prefixOf(s int) dptr {
	return e.p(e.o.ints).add(4 * int64(e.o.pack+2*e.B*e.T+s*e.MB))
}

// ---- forward

// set returns the device addresses of layer l's activation set.
func (e *Engine) set(l int) actPtrs {
	s := e.o.sets[e.plan.setOf(l)]
	return actPtrs{xT: e.p(s.xT), qkv: e.p(s.qkv), q: e.p(s.q), k: e.p(s.k), qr: e.p(s.qr), kr: e.p(s.kr),
		lse: e.p(s.lse), a: e.p(s.a), o: e.p(s.o), or: e.p(s.or), hT: e.p(s.hT), gu: e.p(s.gu), act: e.p(s.act),
		m: e.p(s.m), mr: e.p(s.mr)}
}

type actPtrs struct {
	xT, qkv, q, k, qr, kr, lse, a, o, or, hT, gu, act, m, mr dptr
}

func (e *Engine) res(l int) dptr { return e.p(e.o.res[e.plan.resOf(l)]) }

// xIn is layer l's input as a matmul operand: its bf16 copy, or the fp32
// residual itself in fp32 mode.
func (e *Engine) xIn(l int, s actPtrs) dptr {
	if e.plan.FP32 {
		return e.res(l)
	}
	return s.xT
}

// embed: res[0] = W_emb[ids] (and layer 0's bf16 input).
func (e *Engine) embed(pass int) {
	var xT dptr
	if !e.plan.FP32 {
		xT = e.set(0).xT
	}
	e.launch(e.kernel("embed_fwd", e.sfx), rows(e.R), threads(256), 0,
		ptr(e.res(0)), ptr(xT), ptr(e.param(e.lay.Embed)), ptr(e.idsOf(pass)), i32(e.C))
}

// layerForward runs decoder layer l (olmo2.md §2) on the pass in res[l],
// writing res[l+1] and the activations of set s. With recompute it rebuilds
// the activations the backward pass needs from res[l] and writes no residual.
func (e *Engine) layerForward(l int, recompute bool) {
	o := e.lay.Layers[l]
	s := e.set(l)
	R, C, I := e.R, e.C, e.I
	x32 := e.res(l)
	if recompute && !e.plan.FP32 {
		e.launch("cast_bf16", strided(int64(R*C)), threads(256), 0, ptr(s.xT), ptr(x32), i64(int64(R*C)))
	}
	xT := e.xIn(l, s)
	// q|k|v = x·[Wq;Wk;Wv]ᵀ: the three weights are consecutive in the layout
	e.mm(false, true, R, e.qkvW, C, xT, C, e.w(o.Q), C, 0, s.qkv, e.at, e.qkvW)
	// QK-norm over the full projection widths, then RoPE
	var buf [maxArgs]arg // room for the packed kernel's one more: no allocation
	args := append(buf[:0], ptr(s.q), ptr(s.k), ptr(s.qr), ptr(s.kr), ptr(s.qkv), i32(e.qkvW), ptr(e.param(o.QNorm)),
		ptr(e.param(o.KNorm)), ptr(e.cos), ptr(e.sin), i32(e.T), i32(e.NH), i32(e.NKV), i32(e.HS), f32arg(e.eps))
	if e.pack {
		// each row at its own position (a segment's continue the prefix's)
		e.launch(e.kernel("qknorm_rope_fwd_pos", e.sfx), dim3{uint32(R), 2, 1}, threads(256), 0, append(args, ptr(e.posOf(e.pass)))...)
	} else {
		e.launch(e.kernel("qknorm_rope_fwd", e.sfx), dim3{uint32(R), 2, 1}, threads(256), 0, args...)
	}
	e.attnForward(s)
	e.mm(false, true, R, C, e.QC, s.a, e.QC, e.w(o.O), e.QC, 0, s.o, e.at, C)
	// h = x + rms(o) (reordered norm, olmo2.md §1); h32 is needed only for the next residual add
	var h32 dptr
	if !e.plan.FP32 && !recompute {
		h32 = e.p(e.o.h32)
	}
	e.launch(e.kernel("rms_res_fwd", e.sfx), rows(R), threads(256), 0,
		ptr(h32), ptr(s.hT), ptr(s.or), ptr(s.o), ptr(x32), ptr(e.param(o.PostAttnNorm)), i32(C), f32arg(e.eps))
	hres := s.hT
	if !e.plan.FP32 {
		hres = e.p(e.o.h32)
	}
	// SwiGLU MLP: gate|up in one product (consecutive in the layout)
	e.mm(false, true, R, 2*I, C, s.hT, C, e.w(o.Gate), C, 0, s.gu, e.at, 2*I)
	e.launch(e.kernel("swiglu_fwd", e.sfx), strided(int64(R*I)), threads(256), 0, ptr(s.act), ptr(s.gu), i32(I), i64(int64(R*I)))
	e.mm(false, true, R, C, I, s.act, I, e.w(o.Down), I, 0, s.m, e.at, C)
	// out = h + rms(m)
	var out, nextT dptr
	if !recompute {
		out = e.res(l + 1)
		if !e.plan.FP32 && l+1 < e.L {
			nextT = e.set(l + 1).xT
		}
	}
	e.launch(e.kernel("rms_res_fwd", e.sfx), rows(R), threads(256), 0,
		ptr(out), ptr(nextT), ptr(s.mr), ptr(s.m), ptr(hres), ptr(e.param(o.PostFFNNorm)), i32(C), f32arg(e.eps))
}

// attnForward: a = causal GQA attention of the set's q, k and v; lse kept.
// Packed rows (LogProbsPacked) mask other segments' keys too.
func (e *Engine) attnForward(s actPtrs) {
	if e.pack {
		e.attnFwdPacked(s.a, s.lse, s.q, s.k, e.act(s.qkv, e.QC+e.KC), e.segOf(e.pass), e.prefixOf(e.pass))
		return
	}
	e.attnFwd(s.a, s.lse, s.q, s.k, e.act(s.qkv, e.QC+e.KC))
}

// forwardPass runs the layers of pass s from the embedding to res[L].
func (e *Engine) forwardPass(pass int) {
	e.pass = pass
	e.embed(pass)
	for l := 0; l < e.L; l++ {
		e.layerForward(l, false)
	}
}

// head runs model.norm and the LM head over the pass chunk by chunk: logits,
// CE and z-loss terms per row, and with backward the LM head's gradient and
// d res[L] (into dres). Only ChunkRows×V logits exist at a time. With logits
// non-nil it copies every chunk's logits to it instead (for checks).
func (e *Engine) head(pass int, scale, z float64, backward bool, logits []float32) {
	R, C, V := e.R, e.C, e.V
	xf, fr := e.p(e.o.xf), e.p(e.o.fr)
	e.launch(e.kernel("rms_fwd", e.sfx), rows(R), threads(256), 0,
		ptr(xf), ptr(fr), ptr(e.res(e.L)), ptr(e.param(e.lay.Norm)), i32(C), f32arg(e.eps))
	lg, dl := e.p(e.o.logits), e.p(e.o.dlogits)
	wLM := e.w(e.lay.LMHead)
	labels := e.labelsOf(pass)
	bwd := 0
	if backward {
		bwd = 1
	}
	for r0 := 0; r0 < R; r0 += e.plan.Chunk {
		n := min(e.plan.Chunk, R-r0)
		e.mm(false, true, n, V, C, e.act(xf, r0*C), C, wLM, C, 0, lg, f32, V) // logits = xf·W_lmᵀ
		if logits != nil {
			e.must("read logits", e.dtohF32(logits[r0*V:(r0+n)*V], lg))
			continue
		}
		e.launch(e.kernel("ce_chunk", e.sfx), rows(n), threads(512), 0,
			ptr(e.p(e.o.ce).add(4*int64(r0))), ptr(e.p(e.o.zz).add(4*int64(r0))), ptr(dl), ptr(lg),
			ptr(labels.add(4*int64(r0))), i32(V), f32arg(scale), f32arg(z), i32(bwd))
		if backward {
			e.mm(true, false, V, C, n, dl, V, e.act(xf, r0*C), C, 1, e.grad(e.lay.LMHead), f32, C) // dW_lm += dlᵀ·xf
			e.mm(false, false, n, C, V, dl, V, wLM, C, 0, e.p(e.o.dxf).add(4*int64(r0*C)), f32, C) // dxf = dl·W_lm
		}
	}
	if logits != nil {
		return
	}
	e.launch("loss_reduce", dim3{1, 1, 1}, threads(256), 0,
		ptr(e.p(e.o.lossAcc)), ptr(e.p(e.o.ce)), ptr(e.p(e.o.zz)), ptr(labels), i32(R))
	if backward {
		dres, dxf := e.p(e.o.dres), e.p(e.o.dxf)
		if e.unfused {
			e.launch("rms_bwd_final", rows(R), threads(256), 0,
				ptr(dres), i32(C), ptr(dxf), i32(C), ptr(e.res(e.L)), i32(C), ptr(fr), ptr(e.param(e.lay.Norm)), i32(C))
			e.normDW("rms_dw_part_final", e.grad(e.lay.Norm), dxf, C, e.res(e.L), C, fr, C)
		} else {
			e.normBack("rms_bwd_dw_final", dres, dxf, e.res(e.L), C, fr, e.lay.Norm, C, false)
		}
	}
}

// postNormBack is the backward of a post-sublayer norm (out = h + rms(x)):
// dx (written to dC) from the residual stream's gradient dres, and the norm
// weight's gradient; fused (normBack) unless the engine runs unfused.
func (e *Engine) postNormBack(dC, dres, x, rstd dptr, weight int) {
	R, C := e.R, e.C
	if !e.unfused {
		e.normBack(e.kernel("rms_bwd_dw_res", e.sfx), dC, dres, x, C, rstd, weight, C, false)
		return
	}
	e.launch(e.kernel("rms_bwd_res", e.sfx), rows(R), threads(256), 0,
		ptr(dC), i32(C), ptr(dres), i32(C), ptr(x), i32(C), ptr(rstd), ptr(e.param(weight)), i32(C))
	e.normDW(e.kernel("rms_dw_part_res", e.sfx), e.grad(weight), dres, C, x, C, rstd, C)
}

// normBack is an RMSNorm's backward in one pass (rms_bwd_dw): dx (ld ldx
// elements a row, as dy and x) from dy, and the weight's gradient Σ_r
// dy·x·rstd added to its gradient by fixed blocks of fuseRows rows, then
// their sum (rms_dw_reduce8: deterministic). rope: dy is the q or k slice of
// dqkv, rotated back first (RoPE's backward), and dx overwrites it.
func (e *Engine) normBack(kernel string, dx, dy, x dptr, ld int, rstd dptr, weight, n int, rope bool) {
	part := e.p(e.o.dwPart)
	parts := (e.R + fuseRows - 1) / fuseRows
	args := [16]arg{ptr(dx), i32(ld), ptr(dy), i32(ld), ptr(x), i32(ld), ptr(rstd), ptr(e.param(weight)),
		ptr(part), i32(e.R), i32(n), i32(fuseRows), ptr(e.cos), ptr(e.sin), i32(e.T), i32(e.HS)}
	na := 12
	if rope {
		na = 16
	}
	e.launch(kernel, rows(parts), threads(256), 2*n*4, args[:na]...)
	e.launch("rms_dw_reduce8", dim3{ceil(n, 32), 1, 1}, threads(256), 0, ptr(e.grad(weight)), ptr(part), i32(parts), i32(n))
}

// normDW adds an RMSNorm weight's gradient Σ_r dy·x·rstd to dw, by fixed row
// blocks then their sum (deterministic).
func (e *Engine) normDW(kernel string, dw, dy dptr, lddy int, x dptr, ldx int, rstd dptr, n int) {
	part := e.p(e.o.dwPart)
	e.launch(kernel, dim3{ceil(n, 256), uint32(e.o.dwParts), 1}, threads(256), 0,
		ptr(part), ptr(dy), i32(lddy), ptr(x), i32(ldx), ptr(rstd), i32(e.R), i32(n), i32(dwRows))
	e.launch("rms_dw_reduce", dim3{ceil(n, 256), 1, 1}, threads(256), 0, ptr(dw), ptr(part), i32(e.o.dwParts), i32(n))
}

// ---- backward

// layerBackward takes d res[l+1] in dres and leaves d res[l] there, adding
// layer l's weight gradients (model/cpu.go ForwardBackward, same order).
func (e *Engine) layerBackward(l int) {
	o := e.lay.Layers[l]
	s := e.set(l)
	R, C, I, QC, KC := e.R, e.C, e.I, e.QC, e.KC
	dres, dC := e.p(e.o.dres), e.p(e.o.dC)
	dact, dgu := e.p(e.o.dact), e.p(e.o.dgu)
	da, dqkv := e.p(e.o.da), e.p(e.o.dqkv)
	// out = h + rms(m): dm = rms'(dout); dh = dout + (MLP path), accumulated in dres
	e.postNormBack(dC, dres, s.m, s.mr, o.PostFFNNorm)
	e.mm(false, false, R, I, C, dC, C, e.w(o.Down), I, 0, dact, e.at, I)   // dact = dm·Wdown
	e.mm(true, false, C, I, R, dC, C, s.act, I, 1, e.grad(o.Down), f32, I) // dWdown += dmᵀ·act
	e.launch(e.kernel("swiglu_bwd", e.sfx), strided(int64(R*I)), threads(256), 0, ptr(dgu), ptr(dact), ptr(s.gu), i32(I), i64(int64(R*I)))
	e.mm(false, false, R, C, 2*I, dgu, 2*I, e.w(o.Gate), C, 1, dres, f32, C)   // dh += [dgate|dup]·[Wgate;Wup]
	e.mm(true, false, 2*I, C, R, dgu, 2*I, s.hT, C, 1, e.grad(o.Gate), f32, C) // d[Wgate;Wup] += dguᵀ·h
	// h = x + rms(o): do = rms'(dh); dx = dh + (attention path), accumulated in dres
	e.postNormBack(dC, dres, s.o, s.or, o.PostAttnNorm)
	e.mm(false, false, R, QC, C, dC, C, e.w(o.O), QC, 0, da, e.at, QC)   // da = do·Wo
	e.mm(true, false, C, QC, R, dC, C, s.a, QC, 1, e.grad(o.O), f32, QC) // dWo += doᵀ·a
	e.attnBackward(s)
	// RoPE back, then the QK-norms (dw first: rms_bwd_act overwrites dy in
	// place); fused, one pass over each slice does all three
	if e.unfused {
		e.launch(e.kernel("rope_bwd", e.sfx), dim3{uint32(R), 2, 1}, threads(256), 0,
			ptr(dqkv), i32(e.qkvW), ptr(e.cos), ptr(e.sin), i32(e.T), i32(e.NH), i32(e.NKV), i32(e.HS))
	}
	for _, qk := range []struct {
		col, n int
		rstd   dptr
		weight int
	}{{0, QC, s.qr, o.QNorm}, {QC, KC, s.kr, o.KNorm}} {
		dy, x := e.act(dqkv, qk.col), e.act(s.qkv, qk.col)
		if !e.unfused {
			e.normBack(e.kernel("rms_bwd_dw_act", e.sfx), dy, dy, x, e.qkvW, qk.rstd, qk.weight, qk.n, true)
			continue
		}
		e.normDW(e.kernel("rms_dw_part_act", e.sfx), e.grad(qk.weight), dy, e.qkvW, x, e.qkvW, qk.rstd, qk.n)
		e.launch(e.kernel("rms_bwd_act", e.sfx), rows(R), threads(256), 0,
			ptr(dy), i32(e.qkvW), ptr(dy), i32(e.qkvW), ptr(x), i32(e.qkvW), ptr(qk.rstd), ptr(e.param(qk.weight)), i32(qk.n))
	}
	xT := e.xIn(l, s)
	e.mm(false, false, R, C, e.qkvW, dqkv, e.qkvW, e.w(o.Q), C, 1, dres, f32, C) // dx += dqkv·[Wq;Wk;Wv]
	e.mm(true, false, e.qkvW, C, R, dqkv, e.qkvW, xT, C, 1, e.grad(o.Q), f32, C) // d[Wq;Wk;Wv] += dqkvᵀ·x
}

// attnBackward writes dq, dk, dv into the fused dqkv rows from da.
func (e *Engine) attnBackward(s actPtrs) {
	e.attnBwd(e.p(e.o.dqkv), e.p(e.o.dD), e.p(e.o.da), s.a, s.lse, s.q, s.k, e.act(s.qkv, e.QC+e.KC))
}

// ForwardBackward runs forward and backward on one (B,T) micro-batch and adds
// d(total)/dθ to the gradients, total = (ΣCE + z·Σlse²)·scale over labelled
// positions (model/cpu.go ForwardBackward).
func (e *Engine) ForwardBackward(ids, labels []int32, scale, zLoss float64) model.Losses {
	e.mustTrain("ForwardBackward")
	defer e.dev.enter()()
	e.begin("fwd")
	e.upload(ids, labels, true)
	e.zero("zero losses", e.p(e.o.lossAcc), 16)
	for pass := range e.nseg {
		e.phase = "fwd"
		e.forwardPass(pass)
		e.phase = "head"
		e.head(pass, scale, zLoss, true, nil)
		for l := e.L - 1; l >= 0; l-- {
			if e.plan.Recomputed(l) {
				e.phase = "recompute"
				e.layerForward(l, true)
			}
			e.phase = "bwd"
			e.layerBackward(l)
		}
		perm, segStart, segTok := e.groupOf(pass)
		e.launch("embed_bwd", dim3{uint32(e.nseg[pass]), 1, 1}, threads(256), 0,
			ptr(e.grad(e.lay.Embed)), ptr(e.p(e.o.dres)), ptr(perm), ptr(segStart), ptr(segTok), i32(e.C))
	}
	acc := &e.host
	e.must("read losses", e.dev.dtoh(unsafe.Pointer(&acc[0]), e.p(e.o.lossAcc), 16))
	return model.Losses{CESum: acc[0], ZSum: zLoss * acc[1], Labelled: model.CountLabelled(labels)}
}

// LogProbs writes log p(targets[i] | ids[..i]) for the micro-batch, 0 where
// the target is ignored.
func (e *Engine) LogProbs(dst []float32, ids, targets []int32) {
	defer e.dev.enter()()
	e.begin("fwd")
	e.upload(ids, targets, false)
	e.logProbs(dst)
}

// LogProbsPacked is LogProbs over rows packed as p says (model.Packing): a
// question's context once and each choice's continuation after it, each
// continuation at the positions it has alone and attending to the context
// and itself only (model.PackedScorer, as the CPU engines; lab/olmes packs
// the choices of a question when the backend has it). The forward runs the
// packed kernels, forward only: qknorm_rope_fwd_pos (RoPE at p.Pos) and
// attn_fwd_mma_pk (bf16 at head sizes 64 and 128, whatever the engine's
// attention: v2 and cuDNN have no packed form, mma's is the kernel they are
// checked against) or attn_fwd_pk (the plain kernels of the fp32 engine and
// other head sizes). It panics on a packing that does not fit the
// micro-batch, like the CPU engine.
func (e *Engine) LogProbsPacked(dst []float32, ids, targets []int32, p model.Packing) {
	BT := e.B * e.T
	if len(p.Pos) != BT || len(p.Seg) != BT || len(p.Prefix) != e.B {
		panic(fmt.Sprintf("gpu: packing of %d positions, %d segment starts and %d prefixes for a %d×%d batch", len(p.Pos), len(p.Seg), len(p.Prefix), e.B, e.T))
	}
	for r := range BT {
		t := r % e.T
		// key 0 must stay visible to every query (the kernels' online softmax starts from it): a row with
		// segments has a prefix
		if pos, seg, pre := int(p.Pos[r]), int(p.Seg[r]), int(p.Prefix[r/e.T]); pos < 0 || pos > t || seg > t || seg < 0 || pre < 0 || pre > e.T || seg > pre && pre == 0 {
			panic(fmt.Sprintf("gpu: packing at position %d of row %d: position %d, segment from %d, prefix %d", t, r/e.T, pos, seg, pre))
		}
	}
	defer e.dev.enter()()
	e.begin("fwd")
	e.upload(ids, targets, false)
	pk := e.ints[e.o.pack : e.o.pack+2*BT+e.B]
	copy(pk, p.Pos)
	copy(pk[BT:], p.Seg)
	copy(pk[2*BT:], p.Prefix)
	e.must("upload packing", e.dev.htod(e.posOf(0), unsafe.Pointer(&pk[0]), int64(4*len(pk))))
	e.pack = true
	defer e.unpack()
	e.logProbs(dst)
}

// unpack ends a packed forward, also one a device error panics out of: the
// engine's next plain forward must not read the packing.
func (e *Engine) unpack() { e.pack = false }

// logProbs is LogProbs after the upload.
func (e *Engine) logProbs(dst []float32) {
	e.zero("zero losses", e.p(e.o.lossAcc), 16)
	for pass := range e.nseg {
		e.forwardPass(pass)
		e.head(pass, 0, 0, false, nil)
		out := dst[pass*e.R : (pass+1)*e.R]
		e.must("read log-probabilities", e.dtohF32(out, e.p(e.o.ce)))
		for i := range out {
			out[i] = 0 - out[i] // ce is 0 where the target is ignored; 0 − 0 is +0
		}
	}
}

// Logits writes the (B,T,V) logits of the micro-batch (for checks).
func (e *Engine) Logits(dst []float32, ids []int32) {
	defer e.dev.enter()()
	if len(dst) < e.B*e.T*e.V {
		panic("gpu: Logits destination too short")
	}
	e.begin("fwd")
	e.upload(ids, nil, false)
	for pass := range e.nseg {
		e.forwardPass(pass)
		e.head(pass, 0, 0, false, dst[pass*e.R*e.V:(pass+1)*e.R*e.V])
	}
}

var (
	_ model.Backend      = (*Engine)(nil)
	_ model.PackedScorer = (*Engine)(nil)
)
