package gpu

import (
	"errors"
	"fmt"
	"strings"

	"github.com/olmolab/olmolab/model"
)

// Options select the engine's precision and memory plan. The zero value is
// the training default: bf16 matrices, and the plan that keeps as many layers'
// activations as fit.
type Options struct {
	// FP32 runs every matrix product and activation in float32 (no TF32), for
	// checks against the CPU engine at its tolerances ("cuda-fp32").
	FP32 bool
	// MicroBatch is the number of sequences per device pass; it must divide
	// the backend's B. 0 chooses the largest that fits.
	MicroBatch int
	// Keep is the number of layers whose activations stay on the device between
	// the forward and backward passes; the others are recomputed, one layer at
	// a time, just before their backward pass. 0 chooses the most that fit;
	// RecomputeAll recomputes every layer.
	Keep int
	// ChunkRows is the number of logit rows materialised at once (0: as many as
	// fit in about 1 GiB).
	ChunkRows int
	// Attention selects the attention kernels of the bf16 engine (the zero
	// value: the tensor-core kernels of attention_mma.cu where the head size
	// is 64 or 128; AttnPlain is the CUDA-core fallback and cross-check;
	// AttnAuto chooses at engine start, attnauto.go; AttnCuDNN is cuDNN's
	// fused attention, for which the plan reserves a workspace: for
	// AttnAuto too, unless the device has no usable cuDNN).
	Attention AttnKernels
	// NoFuse runs the norm backward as before the fused kernels
	// (OLMOLAB_GPU_FUSE=0): rope_bwd, rms_dw_part, rms_bwd and
	// rms_dw_reduce, launched apart, instead of rms_bwd_dw and
	// rms_dw_reduce8 (rows.cu), whose weight gradients add in another
	// order.
	NoFuse bool

	noFused bool // set by the engine when the device offers no cuDNN: auto reserves no workspace for it
}

// reservesFused reports whether a plan for cfg with o keeps a workspace for
// cuDNN's attention (fusedWorkspace).
func (o Options) reservesFused(cfg model.Config) bool {
	k := o.Attention.resolve(o.FP32, cfg.HeadSize()).Kind // plain where fp32 or the head size rules the others out
	return k == AttnCuDNN || (k == AttnAuto && !o.noFused)
}

// RecomputeAll as Options.Keep recomputes every layer's activations.
const RecomputeAll = -1

const (
	align        = 256       // bytes; cuMemAlloc's alignment, and enough for 16-byte vector loads
	workspace    = 32 << 20  // cuBLAS workspace (Hopper wants one; gpu-build.md §4)
	ctxOverhead  = 600 << 20 // context, modules and cuBLAS's own state: already spent when the engine reads the free memory
	safety       = 1 << 30   // what the engine leaves free beyond its plan
	dwRows       = 256       // rows per partial sum of a norm weight's gradient (unfused: rms_dw_part)
	fuseRows     = 64        // the same for rms_bwd_dw: R/64 blocks fill an H200's 132 SMs at R = 4096 and above
	normPer      = 1 << 20
	logitsBudget = 1 << 30
)

// Buffer is one named region of the device arena.
type Buffer struct {
	Name   string
	Offset int64
	Bytes  int64
}

// actBufs are one layer's activations kept for its backward pass (offsets in
// the arena). v is the last third of qkv; h is the residual after attention.
type actBufs struct {
	xT, qkv, q, k, qr, kr, lse, a, o, or, hT, gu, act, m, mr int64
}

// planKind is what an engine's arena holds.
type planKind int

const (
	// planTrain: fp32 master weights, gradients, AdamW moments, the bf16 copy,
	// the activations the backward pass reads and its scratch.
	planTrain planKind = iota
	// planScore: forward only (NewScoring): the weights the forward reads,
	// in the types it reads them (bf16 matrices, fp32 embedding and norms;
	// fp32 throughout in fp32 mode), and one forward's activations, one
	// layer's set reused by every layer.
	planScore
	// planScorer: a Scorer's: one forward's activations over another
	// engine's weights (and its RoPE tables when they are long enough).
	planScorer
)

// Plan is the engine's device memory: one arena whose regions are fixed for
// the engine's life (nothing is allocated during a step).
type Plan struct {
	Config model.Config
	B, T   int  // the backend's micro-batch, as the trainer feeds it
	MB     int  // sequences per device pass (divides B)
	Keep   int  // layers with resident activations; layers ≥ Keep are recomputed (0 when scoring)
	Chunk  int  // logit rows per chunk
	FP32   bool // activation and matmul type float32 (else bf16)
	// Scoring: forward only, no gradients, moments or backward scratch
	// (NewScoringPlan, Engine.Scorer).
	Scoring bool

	Buffers []Buffer
	Arena   int64 // bytes of the arena
	Extra   int64 // cuBLAS workspace and an allowance for the context and modules
	// Scratch is the offset where what every engine call rewrites begins
	// (token ids onward: activations, logits, loss scalars): the region a
	// Scorer may borrow between calls. Before it: weights, optimizer state,
	// RoPE tables.
	Scratch int64

	off planOffsets
}

// wrun places layout elements [lo, hi) of one weight type at element at of
// that type's region.
type wrun struct{ lo, hi, at int64 }

type planOffsets struct {
	params, grads, m, v, wT int64
	// f32w and bfw are where the weights the engine keeps in fp32 (params)
	// and in bf16 (wT) lie: the whole layout each when training, the
	// embedding and norms in fp32 and the matrices in bf16 when a bf16
	// engine scores (the tied embedding in both).
	f32w, bfw               []wrun
	cos, sin                int64
	ints                    int64 // ids | labels | per pass: perm, segStart, segTok | pos | seg | prefix
	lossAcc, normPart       int64
	normOut                 int64
	res                     []int64 // L+1 residual checkpoints (R,C) f32
	sets                    []actBufs
	h32, dres, xf, fr, dxf  int64
	ce, zz, logits, dlogits int64
	dwPart                  int64
	dC, dact, dgu, da, dqkv int64
	dD                      int64
	attnWS, attnWSBytes     int64 // cuDNN attention's workspace (-1, 0: none)
	normParts, dwParts      int
	intsLen                 int
	pack                    int // where pos | seg | prefix start in ints (int32s)
}

// Total is the device memory the plan needs: the arena plus the allowance.
func (p *Plan) Total() int64 { return p.Arena + p.Extra }

// Recomputed reports whether layer l's activations are recomputed.
func (p *Plan) Recomputed(l int) bool { return l >= p.Keep }

func (p *Plan) String() string {
	mode := "bf16"
	if p.FP32 {
		mode = "fp32"
	}
	if p.Scoring {
		return fmt.Sprintf("%s forward only, %d×%d per call in passes of %d×%d, %d logit rows per chunk, %.2f GiB",
			mode, p.B, p.T, p.MB, p.T, p.Chunk, gib(p.Total()))
	}
	return fmt.Sprintf("%s, %d×%d per step in passes of %d×%d, %d of %d layers resident, %d logit rows per chunk, %.2f GiB",
		mode, p.B, p.T, p.MB, p.T, p.Keep, p.Config.NumHiddenLayers, p.Chunk, gib(p.Total()))
}

// Describe lists the plan's regions, largest first by kind, for reports.
func (p *Plan) Describe() string {
	kinds := map[string]int64{}
	var order []string
	for _, b := range p.Buffers {
		k := b.Name
		if i := strings.IndexAny(k, ".["); i > 0 {
			k = k[:i]
		}
		if _, ok := kinds[k]; !ok {
			order = append(order, k)
		}
		kinds[k] += b.Bytes
	}
	var sb strings.Builder
	for _, k := range order {
		fmt.Fprintf(&sb, "%-10s %9.3f GiB\n", k, gib(kinds[k]))
	}
	fmt.Fprintf(&sb, "%-10s %9.3f GiB\n", "extra", gib(p.Extra))
	return sb.String()
}

func gib(b int64) float64 { return float64(b) / (1 << 30) }

type planner struct {
	p    *Plan
	size int64
}

func (pl *planner) add(name string, bytes int64) int64 {
	if bytes <= 0 {
		return -1 // absent (e.g. the bf16 weight copy in fp32 mode)
	}
	off := pl.size
	pl.p.Buffers = append(pl.p.Buffers, Buffer{name, off, bytes})
	pl.size += (bytes + align - 1) / align * align
	return off
}

// newPlan lays out a training arena for given choices. It panics on
// impossible shapes (programmer errors; NewPlan validates first).
func newPlan(cfg model.Config, B, T, mb, keep, chunk int, fp32, fused bool) *Plan {
	return layoutPlan(planTrain, cfg, B, T, mb, keep, chunk, fp32, fused, true)
}

// weightRuns is where kind keeps the weights: fp32 and bf16 runs of the
// layout, each packed from element 0 of its region, and their lengths.
func weightRuns(kind planKind, lay *model.Layout, fp32 bool) (f32w, bfw []wrun, nf, nb int64) {
	N := lay.Size()
	switch {
	case kind == planScorer:
		return nil, nil, 0, 0
	case kind == planTrain:
		f32w = []wrun{{0, N, 0}}
		if !fp32 {
			bfw = []wrun{{0, N, 0}}
		}
		return f32w, bfw, N, int64(len(bfw)) * N
	case fp32:
		return []wrun{{0, N, 0}}, nil, N, 0
	}
	add := func(runs []wrun, n *int64, lo, hi int64) []wrun {
		if k := len(runs); k > 0 && runs[k-1].hi == lo {
			runs[k-1].hi = hi
		} else {
			runs = append(runs, wrun{lo, hi, *n})
		}
		*n += hi - lo
		return runs
	}
	tied := lay.LMHead == lay.Embed
	for _, t := range lay.Tensors {
		lo, hi := int64(t.Offset), int64(t.Offset+t.Numel())
		if t.Kind != model.KindLinear { // embed_fwd and the norms read fp32
			f32w = add(f32w, &nf, lo, hi)
		}
		if t.Kind == model.KindLinear || (t.Kind == model.KindEmbedding && tied) { // matmul operands
			bfw = add(bfw, &nb, lo, hi)
		}
	}
	return f32w, bfw, nf, nb
}

// layoutPlan lays out an arena of kind. rope: the plan holds its own RoPE
// tables (a Scorer borrows its engine's when they are long enough).
func layoutPlan(kind planKind, cfg model.Config, B, T, mb, keep, chunk int, fp32, fused, rope bool) *Plan {
	lay := model.NewLayout(cfg)
	N := lay.Size()
	C, I, V := int64(cfg.HiddenSize), int64(cfg.IntermediateSize), int64(cfg.VocabSize)
	QC, KC := int64(cfg.QWidth()), int64(cfg.KVWidth())
	HS, NH, L := int64(cfg.HeadSize()), int64(cfg.NumAttentionHeads), cfg.NumHiddenLayers
	R := int64(mb) * int64(T)
	A := bf16.size()
	if fp32 {
		A = 4
	}
	train := kind == planTrain
	if !train {
		keep = 0
	}
	p := &Plan{Config: cfg, B: B, T: T, MB: mb, Keep: keep, Chunk: chunk, FP32: fp32, Scoring: !train}
	pl := &planner{p: p}
	o := &p.off
	// persistent: fp32 master weights, gradients, AdamW moments (olmo2.md §6),
	// bf16 copy; or, forward only, the weights in the types the forward reads
	var nf, nb int64
	o.f32w, o.bfw, nf, nb = weightRuns(kind, lay, fp32)
	o.params, o.grads, o.m, o.v = -1, -1, -1, -1
	if train {
		o.params = pl.add("params", 4*N)
		o.grads = pl.add("grads", 4*N)
		o.m = pl.add("adam_m", 4*N)
		o.v = pl.add("adam_v", 4*N)
	} else {
		o.params = pl.add("weights_f32", 4*nf)
	}
	o.wT = pl.add("weights_bf16", 2*nb)
	o.cos, o.sin = -1, -1
	if rope {
		o.cos = pl.add("rope.cos", int64(T)*HS/2*4)
		o.sin = pl.add("rope.sin", int64(T)*HS/2*4)
	}
	// everything below is rewritten by every call
	p.Scratch = pl.size
	passes := int64(B / mb)
	o.intsLen = int(2 * int64(B) * int64(T))
	if train {
		o.intsLen += int(passes * (3*R + 1)) // per pass the embedding gradient's grouping
	}
	// LogProbsPacked's model.Packing: positions (B·T), segment starts (B·T),
	// prefixes (B); any engine scores packed rows, a training one too (the
	// lab evaluates on it between steps)
	o.pack = o.intsLen
	o.intsLen += int(2*int64(B)*int64(T) + int64(B))
	o.ints = pl.add("tokens", int64(o.intsLen)*4)
	o.lossAcc = pl.add("scalars.loss", 16)
	o.normPart, o.normOut = -1, -1
	if train {
		o.normParts = int((N + normPer - 1) / normPer)
		o.normPart = pl.add("scalars.norm", int64(o.normParts)*8)
		o.normOut = pl.add("scalars.normout", 8)
	}
	// activations: training keeps the residual stream of every layer; a
	// forward-only pass overwrites one (layerForward's second residual add
	// does not read its input again, and the first writes h32)
	nres := L + 1
	if !train {
		nres = 1
	}
	o.res = make([]int64, nres)
	for l := range o.res {
		o.res[l] = pl.add(fmt.Sprintf("residual[%d]", l), R*C*4)
	}
	nsets := keep
	if keep < L {
		nsets++ // one shared set for the recomputed layers (every layer when scoring)
	}
	o.sets = make([]actBufs, nsets)
	for i := range o.sets {
		s := &o.sets[i]
		n := func(x string) string { return fmt.Sprintf("acts[%d].%s", i, x) }
		if !fp32 {
			s.xT = pl.add(n("x"), R*C*A)
		} else {
			s.xT = -1
		}
		s.qkv = pl.add(n("qkv"), R*(QC+2*KC)*A)
		s.q = pl.add(n("q"), R*QC*A)
		s.k = pl.add(n("k"), R*KC*A)
		s.qr = pl.add(n("qr"), R*4)
		s.kr = pl.add(n("kr"), R*4)
		s.lse = pl.add(n("lse"), int64(mb)*NH*int64(T)*4)
		s.a = pl.add(n("a"), R*QC*A)
		s.o = pl.add(n("o"), R*C*A)
		s.or = pl.add(n("or"), R*4)
		s.hT = pl.add(n("h"), R*C*A)
		s.gu = pl.add(n("gu"), R*2*I*A)
		s.act = pl.add(n("act"), R*I*A)
		s.m = pl.add(n("m"), R*C*A)
		s.mr = pl.add(n("mr"), R*4)
	}
	if !fp32 {
		o.h32 = pl.add("work.h32", R*C*4)
	} else {
		o.h32 = -1
	}
	o.xf = pl.add("head.xf", R*C*A)
	o.fr = pl.add("head.fr", R*4)
	o.ce = pl.add("head.ce", R*4)
	o.zz = pl.add("head.zz", R*4)
	o.logits = pl.add("head.logits", int64(chunk)*V*4)
	o.dlogits, o.dxf, o.dres, o.dwPart, o.dC, o.dact, o.dgu, o.da, o.dqkv, o.dD = -1, -1, -1, -1, -1, -1, -1, -1, -1, -1
	if train {
		if !fp32 {
			o.dlogits = pl.add("head.dlogits", int64(chunk)*V*A)
		} else {
			o.dlogits = o.logits // the CE kernel writes the gradient in place
		}
		o.dxf = pl.add("grad.dxf", R*C*4)
		o.dres = pl.add("grad.dres", R*C*4)
		maxW := max(C, QC, KC)
		o.dwParts = int((R + dwRows - 1) / dwRows)
		// room for either path's partial sums (the fused one's are more)
		o.dwPart = pl.add("grad.dwpart", (R+fuseRows-1)/fuseRows*maxW*4)
		o.dC = pl.add("grad.dC", R*C*A)
		o.dact = pl.add("grad.dact", R*I*A)
		o.dgu = pl.add("grad.dgu", R*2*I*A)
		o.da = pl.add("grad.da", R*QC*A)
		o.dqkv = pl.add("grad.dqkv", R*(QC+2*KC)*A)
		o.dD = pl.add("grad.D", int64(mb)*NH*int64(T)*4)
	}
	o.attnWS, o.attnWSBytes = -1, 0
	if fused && train { // a forward-only engine allocates its forward's (newFused)
		o.attnWSBytes = fusedWorkspace(mb, int(NH), T, int(HS))
		o.attnWS = pl.add("attn.cudnn_workspace", o.attnWSBytes)
	}
	p.Arena = pl.size
	p.Extra = workspace + ctxOverhead
	if kind == planScorer {
		p.Extra = 0 // the engine's context and cuBLAS workspace serve it
	}
	return p
}

// resOf returns the index of layer l's input residual (layer L's: the
// head's input): a forward-only plan has one, overwritten layer after layer.
func (p *Plan) resOf(l int) int {
	if p.Scoring {
		return 0
	}
	return l
}

// setOf returns the index of layer l's activation set in the plan.
func (p *Plan) setOf(l int) int {
	if p.Scoring {
		return 0
	}
	if l < p.Keep {
		return l
	}
	return p.Keep
}

func chunkRows(cfg model.Config, R int, fp32 bool, want int) int {
	if want > 0 {
		return min(want, R)
	}
	per := int64(cfg.VocabSize) * 6
	if fp32 {
		per = int64(cfg.VocabSize) * 4
	}
	c := int(logitsBudget / per)
	if c >= 64 {
		c -= c % 64
	}
	return max(1, min(c, R))
}

// NewPlan chooses the memory plan for training cfg at micro-batch (B, T)
// within budget bytes of device memory: the most resident layers, then the
// largest pass size (a divisor of B), unless opts fix them. It returns an error
// that says how much is needed when even one sequence per pass with every
// layer recomputed does not fit.
func NewPlan(cfg model.Config, B, T int, budget int64, opts Options) (*Plan, error) {
	return searchPlan(planTrain, cfg, B, T, budget, opts, true)
}

// NewScoringPlan chooses the memory plan of a forward-only engine
// (NewScoring) for cfg at micro-batch (B, T) within budget bytes: the weights
// the forward reads (2 bytes a parameter in bf16 but 4 for the embedding and
// norms, which the forward reads in fp32; 4 throughout with opts.FP32) and
// one forward's activations at the largest pass size that fits (opts.Keep is
// ignored: one layer's buffers serve every layer).
func NewScoringPlan(cfg model.Config, B, T int, budget int64, opts Options) (*Plan, error) {
	return searchPlan(planScore, cfg, B, T, budget, opts, true)
}

// EstimateScoringMemory is the least device memory (bytes) a bf16
// forward-only engine for cfg at micro-batch (B, T) needs: one sequence per
// pass. Its Scorers of rows no longer than T cost nothing more (Scorer).
func EstimateScoringMemory(cfg model.Config, B, T int) int64 {
	return layoutPlan(planScore, cfg, B, T, 1, 0, chunkRows(cfg, T, false, 0), false, false, true).Total()
}

func searchPlan(kind planKind, cfg model.Config, B, T int, budget int64, opts Options, rope bool) (*Plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if B <= 0 || T <= 0 {
		return nil, fmt.Errorf("micro-batch %d×%d must be positive", B, T)
	}
	if opts.MicroBatch < 0 || (opts.MicroBatch > 0 && B%opts.MicroBatch != 0) {
		return nil, fmt.Errorf("micro-batch per pass %d does not divide the batch %d", opts.MicroBatch, B)
	}
	L := cfg.NumHiddenLayers
	if kind == planTrain && opts.Keep > L { // forward only: Keep means nothing (NewScoringPlan)
		return nil, fmt.Errorf("keep %d layers: the model has %d", opts.Keep, L)
	}
	var mbs []int
	for mb := B; mb >= 1; mb-- {
		if B%mb == 0 && (opts.MicroBatch == 0 || mb == opts.MicroBatch) {
			mbs = append(mbs, mb)
		}
	}
	keeps := []int{}
	switch {
	case kind != planTrain:
		keeps = append(keeps, 0) // forward only: nothing is kept for a backward pass
	case opts.Keep == RecomputeAll:
		keeps = append(keeps, 0)
	case opts.Keep > 0:
		keeps = append(keeps, opts.Keep)
	default:
		for k := L; k >= 0; k-- {
			keeps = append(keeps, k)
		}
	}
	var smallest *Plan
	for _, keep := range keeps {
		for _, mb := range mbs {
			p := layoutPlan(kind, cfg, B, T, mb, keep, chunkRows(cfg, mb*T, opts.FP32, opts.ChunkRows), opts.FP32, opts.reservesFused(cfg), rope)
			if p.Total() <= budget {
				return p, nil
			}
			if smallest == nil || p.Total() < smallest.Total() {
				smallest = p
			}
		}
	}
	return nil, &fitError{what: fmt.Sprintf("%s at %d×%d", describeConfig(cfg), B, T), least: smallest, budget: budget}
}

// fitError is searchPlan's refusal: even the least plan is above budget.
// An engine's budget is not the device's free memory (enginePlan: the
// context's allowance, already spent, and the margin it leaves free), so
// where free is known the refusal is said in it: what the least plan needs
// free against what the device has, the figures a person compares with
// nvidia-smi.
type fitError struct {
	what   string
	least  *Plan
	budget int64
	free   int64 // the device's free memory the budget was made from (0: a bare budget, NewPlan's, said as such)
}

func (e *fitError) Error() string {
	if e.free == 0 {
		return fmt.Sprintf("%s does not fit: it needs at least %.2f GiB (%s), the budget is %.2f GiB",
			e.what, gib(e.least.Total()), e.least, gib(e.budget))
	}
	spent := ""
	if ctx := safety - (e.free - e.budget); ctx > 0 { // an engine's context, already spent when it read free
		spent = fmt.Sprintf(", less the %.2f GiB its context has taken already", gib(ctx))
	}
	return fmt.Sprintf("%s does not fit: it needs at least %.2f GiB free (the plan %s%s, plus the %.2f GiB the engine leaves free), the device has %.2f GiB free",
		e.what, gib(e.least.Total()+e.free-e.budget), e.least, spent, gib(safety), gib(e.free))
}

// inFree is err with a refusal to fit said in the device's free memory.
func inFree(err error, free int64) error {
	var fe *fitError
	if errors.As(err, &fe) {
		fe.free = free
	}
	return err
}

// PlanFor is the memory plan the engine builds for cfg at micro-batch
// (B, T) with opts (OptionsFromEnv's: OLMOLAB_GPU_MICROBATCH, _KEEP, _CHUNK
// and _ATTN) where the device reports free bytes free once the engine's
// context is made (FreeMemory): New's engine, or NewScoring's with scoring.
// It is the engine's own computation (enginePlan), what gpubench plan
// prints, with the attention the plan is for (also with an error). On the
// GPU (a build with the cuda tag where one opens) cuDNN's part is planned
// as the engine plans it, from what the device's cuDNN answers (does it
// load, does it take T-row sequences); without one, as a cuDNN that loads
// and takes them would (cudnn and auto reserve its workspace), and the
// PlanAttention says so.
func PlanFor(cfg model.Config, B, T int, free int64, opts Options, scoring bool) (*Plan, PlanAttention, error) {
	return planFor(planDevice(), cfg, B, T, free, opts, scoring)
}

// PlanAttention is the attention a plan (PlanFor) is made for.
type PlanAttention struct {
	// Kernels are those the engine runs: plain in fp32 or at head sizes
	// other than 64 and 128, mma where cudnn is asked for at rows the
	// device's cuDNN refuses, auto where the engine chooses at its start.
	Kernels AttnKernels
	// CuDNN is what cuDNN's part of the plan rests on, one line: what the
	// device's cuDNN answered, or what was assumed where no device opens;
	// "" where the kernels leave cuDNN out.
	CuDNN string
}

func (a PlanAttention) String() string {
	if a.CuDNN == "" {
		return a.Kernels.String()
	}
	return a.Kernels.String() + "; " + a.CuDNN
}

// planFor is PlanFor on dev (nil: no device opens).
func planFor(dev device, cfg model.Config, B, T int, free int64, opts Options, scoring bool) (*Plan, PlanAttention, error) {
	p, o, err := enginePlan(dev, cfg, B, T, free, opts, scoring)
	a := PlanAttention{Kernels: o.Attention.resolve(o.FP32, cfg.HeadSize())}
	asked := opts.Attention.resolve(opts.FP32, cfg.HeadSize()).Kind
	if asked != AttnCuDNN && asked != AttnAuto {
		return p, a, err
	}
	ws := "its workspace reserved in the plan"
	if scoring { // layoutPlan reserves none for a forward-only engine: newFused allocates the forward graph's
		ws = "its forward graph's workspace allocated beside the plan at start"
	}
	switch {
	case scoring && asked == AttnAuto && dev == nil:
		a.CuDNN = "a forward-only engine's auto runs the choice an engine of its shape made earlier in the process, else mma (no GPU here to ask)"
	case scoring && asked == AttnAuto:
		a.CuDNN = "a forward-only engine's auto runs the choice an engine of its shape made earlier in the process, else mma"
	case dev == nil:
		// what the engine does where its device answers otherwise
		other := "with no usable cuDNN an engine asked for cudnn fails; at rows it refuses it runs mma"
		if asked == AttnAuto {
			other = "with no usable cuDNN, or at rows it refuses, auto has no cuDNN candidate and no workspace for it"
		}
		a.CuDNN = fmt.Sprintf("no GPU here: assumed a cuDNN that loads and takes %d-token rows, %s (the engine asks its device's at start: %s; cuDNN ≤ 9.15 refuses rows not a multiple of 128)", T, ws, other)
	default:
		fd, ok := dev.(fusedAttnDevice)
		var lib string
		lerr := errNoFused
		if ok {
			lib, lerr = fd.fusedAttnLib()
		}
		switch {
		case lerr != nil && asked == AttnAuto:
			a.CuDNN = fmt.Sprintf("this GPU has no usable cuDNN (%s): auto has no cuDNN candidate and no workspace for it", oneLine(lerr))
		case lerr != nil:
			a.CuDNN = fmt.Sprintf("this GPU has no usable cuDNN (%s): an engine asked for cudnn fails at start", oneLine(lerr))
		default:
			if rerr := fusedRowsRefused(dev, cfg, T); rerr != nil {
				a.CuDNN = fmt.Sprintf("this GPU's %s refuses %d-token rows (%s): no workspace for it", lib, T, oneLine(rerr))
			} else {
				a.CuDNN = fmt.Sprintf("this GPU's %s takes %d-token rows: %s", lib, T, ws)
			}
		}
	}
	return p, a, err
}

// ContextBytes is what the engine allows for the CUDA context, its modules
// and cuBLAS's state, already spent when it reads the device's free memory
// (Plan.Extra counts it): a device of total bytes has about total −
// ContextBytes free for the engine.
const ContextBytes = ctxOverhead

// enginePlan is the plan of an engine (NewScoring's with scoring) on dev
// (nil: no device, PlanFor's assumptions) for cfg at (B, T) with opts, where
// dev reports free bytes free, and the options it runs with: its plan lies
// within free, plus the context's allowance that free has already lost, less
// the safety margin it leaves free; cudnn at rows the device's cuDNN refuses
// runs mma (cudnnRows), auto reserves cuDNN's workspace only where it can
// try it, and a forward-only engine's auto takes an earlier choice
// (scoringAttention).
func enginePlan(dev device, cfg model.Config, B, T int, free int64, opts Options, scoring bool) (*Plan, Options, error) {
	budget := free + ctxOverhead - safety
	if scoring {
		if dev != nil {
			opts.Attention = scoringAttention(dev, cfg, T, opts)
		}
		p, err := NewScoringPlan(cfg, B, T, budget, opts)
		return p, opts, inFree(err, free)
	}
	if dev != nil {
		if opts.Attention.Kind == AttnAuto { // reserve cuDNN's workspace only where auto can try it
			if fd, ok := dev.(fusedAttnDevice); !ok {
				opts.noFused = true
			} else if _, err := fd.fusedAttnLib(); err != nil || fusedRowsRefused(dev, cfg, T) != nil {
				opts.noFused = true
			}
		}
		opts = cudnnFallback(dev, cfg, T, opts, "a training engine")
	}
	p, err := NewPlan(cfg, B, T, budget, opts)
	return p, opts, inFree(err, free)
}

// EstimateMemory is the least device memory (bytes) that training cfg at
// micro-batch (B, T) in bf16 needs: one sequence per pass, every layer
// recomputed. A larger budget lets the engine keep activations resident and
// run faster. Compare it with the device's free memory (FreeMemory, in builds
// with the cuda tag) before starting a run.
func EstimateMemory(cfg model.Config, B, T int) int64 {
	p := newPlan(cfg, B, T, 1, 0, chunkRows(cfg, T, false, 0), false, false)
	return p.Total()
}

func describeConfig(c model.Config) string {
	return fmt.Sprintf("a model of %d layers, width %d, %.2fB parameters", c.NumHiddenLayers, c.HiddenSize,
		float64(c.NumParams())/1e9)
}
