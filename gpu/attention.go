package gpu

import (
	"fmt"
	"strconv"
	"strings"
)

// AttnKind names a family of attention kernels.
type AttnKind int

const (
	// AttnMMA is attention_mma.cu: tensor cores, tiles loaded synchronously
	// (the default, checked on an H200).
	AttnMMA AttnKind = iota
	// AttnPlain is attention.cu: CUDA cores, any head size, fp32 or bf16.
	AttnPlain
	// AttnV2 is attention_v2.cu: tensor cores, cp.async double buffering,
	// base-2 softmax, the mask only on diagonal tiles, 64-row query tiles in
	// dK/dV, and a per-kernel choice of warps per block.
	AttnV2
	// AttnAuto chooses at engine start: mma and v2 at each warp count that
	// fits run on the engine's shape, those agreeing with mma have each
	// kernel timed, v2's layout takes each kernel's fastest warp count and is
	// kept when faster than mma (attnauto.go); cuDNN's fused attention
	// (AttnCuDNN) is a candidate too where the device has it. An engine's
	// Attention() is never AttnAuto.
	AttnAuto
	// AttnCuDNN is cuDNN 9's fused flash attention (fused.go,
	// internal/cudnn), dlopen'd at engine start: one library call for the
	// forward and one for the whole backward, in the deterministic form.
	AttnCuDNN
)

// DefaultAttention is the kernels OLMOLAB_GPU_ATTN selects when unset. It is
// "mma" while the v2 kernels have not run on a GPU (a faulting kernel would
// take the CUDA context down with it); once they have, "auto" here makes
// every run choose the fastest kernels that agree with mma.
const DefaultAttention = "mma"

func (k AttnKind) String() string {
	switch k {
	case AttnPlain:
		return "plain"
	case AttnV2:
		return "v2"
	case AttnAuto:
		return "auto"
	case AttnCuDNN:
		return "cudnn"
	}
	return "mma"
}

// AttnKernels selects the bf16 engine's attention kernels (Options.Attention).
// The fp32 engine, and head sizes other than 64 and 128, always use AttnPlain.
type AttnKernels struct {
	Kind AttnKind
	// FwdWarps, DQWarps and DKVWarps are the warps per block of the v2
	// forward, dQ and dK/dV kernels, 4 or 8 (0: DefaultV2). A warp owns 16
	// rows, so a block owns 16·warps query rows (forward, dQ) or key rows
	// (dK/dV). Every choice gives bit-identical results.
	FwdWarps, DQWarps, DKVWarps int
}

// DefaultV2 is the v2 layout OLMOLAB_GPU_ATTN=v2 gets: the forward with 8
// warps (128 query rows share each K/V tile), dQ and dK/dV with 4 (about 200
// registers a thread: two blocks fit an SM). Chosen on paper (ptxas figures,
// gpu/kernels/attention_v2.cu); `gpubench attn` times the alternatives.
var DefaultV2 = AttnKernels{Kind: AttnV2, FwdWarps: 8, DQWarps: 4, DKVWarps: 4}

// String gives the form ParseAttention reads: "mma", "plain", "auto" or
// "v2:F/Q/K".
func (a AttnKernels) String() string {
	if a.Kind != AttnV2 {
		return a.Kind.String()
	}
	a = a.withDefaults()
	return fmt.Sprintf("v2:%d/%d/%d", a.FwdWarps, a.DQWarps, a.DKVWarps)
}

func (a AttnKernels) withDefaults() AttnKernels {
	if a.Kind != AttnV2 {
		return a
	}
	for _, p := range []struct{ dst, def *int }{{&a.FwdWarps, &DefaultV2.FwdWarps}, {&a.DQWarps, &DefaultV2.DQWarps}, {&a.DKVWarps, &DefaultV2.DKVWarps}} {
		if *p.dst == 0 {
			*p.dst = *p.def
		}
	}
	return a
}

// ParseAttention reads an attention choice: "" (DefaultAttention), "mma",
// "plain", "auto" (mma, v2 with each kernel's fastest warp count, or cuDNN,
// of those that agree with mma, chosen at engine start), "cudnn" (cuDNN's
// fused attention), "v2" (DefaultV2's warps) or
// "v2:F/Q/K" with the warps per block of the forward, dQ and dK/dV kernels,
// each 4 or 8 (e.g. "v2:8/4/4").
func ParseAttention(s string) (AttnKernels, error) {
	if s == "" {
		s = DefaultAttention
	}
	switch s {
	case "mma":
		return AttnKernels{Kind: AttnMMA}, nil
	case "plain":
		return AttnKernels{Kind: AttnPlain}, nil
	case "auto":
		return AttnKernels{Kind: AttnAuto}, nil
	case "cudnn":
		return AttnKernels{Kind: AttnCuDNN}, nil
	case "v2":
		return DefaultV2, nil
	}
	rest, ok := strings.CutPrefix(s, "v2:")
	f := strings.Split(rest, "/")
	if !ok || len(f) != 3 {
		return AttnKernels{}, fmt.Errorf("attention kernels %q: want mma, plain, auto, cudnn, v2 or v2:F/Q/K (warps per block of forward, dQ, dK/dV: 4 or 8)", s)
	}
	var w [3]int
	for i, x := range f {
		n, err := strconv.Atoi(x)
		if err != nil || (n != 4 && n != 8) {
			return AttnKernels{}, fmt.Errorf("attention kernels %q: warps per block %q is not 4 or 8", s, x)
		}
		w[i] = n
	}
	return AttnKernels{Kind: AttnV2, FwdWarps: w[0], DQWarps: w[1], DKVWarps: w[2]}, nil
}

// resolve returns the kernels an engine of this precision and head size runs
// (AttnAuto where the engine is to choose at start).
func (a AttnKernels) resolve(fp32 bool, hs int) AttnKernels {
	if fp32 || (hs != 64 && hs != 128) {
		return AttnKernels{Kind: AttnPlain}
	}
	return a.withDefaults()
}

// v2FwdSmem is the dynamic shared memory of attn_fwd_v2 and attn_bwd_dq_v2:
// two buffers of a 64-row K tile and a 64-row V tile, rows of HS+8 bf16
// (attention_v2.cu).
func v2FwdSmem(hs int) int { return 2 * 2 * 64 * (hs + 8) * 2 }

// v2DKVSmem is attn_bwd_dkv_v2's: the block's 16·nw key and value rows, two
// buffers of 64 query and dout rows, and two of 64 lse and D values.
func v2DKVSmem(hs, nw int) int { return 2*16*nw*(hs+8)*2 + 2*2*64*(hs+8)*2 + 2*2*64*4 }

// checkAttention refuses kernels the device cannot launch.
func (e *Engine) checkAttention() error {
	if e.attn.Kind != AttnV2 {
		return nil
	}
	for _, w := range []int{e.attn.FwdWarps, e.attn.DQWarps, e.attn.DKVWarps} {
		if w != 4 && w != 8 {
			return fmt.Errorf("gpu: attention %s: warps per block must be 4 or 8", e.attn)
		}
	}
	need := max(v2FwdSmem(e.HS), v2DKVSmem(e.HS, e.attn.DKVWarps))
	if need > e.smemMax {
		return fmt.Errorf("gpu: attention %s at head size %d needs %d bytes of shared memory per block, the device allows %d (use OLMOLAB_GPU_ATTN=mma)",
			e.attn, e.HS, need, e.smemMax)
	}
	return nil
}

// attnFwd: a (R, QC) = causal GQA attention of q (R, QC), k (R, KC) and
// v (R, ld qkvW), per sequence of T rows; lse (MB, NH, T) f32 its
// log-sum-exp, kept for the backward pass.
func (e *Engine) attnFwd(a, lse, q, k, v dptr) {
	var buf [maxArgs]arg // room for the plain kernels' three more: no allocation
	args := append(buf[:0], ptr(a), ptr(lse), ptr(q), ptr(k), ptr(v), i32(e.QC), i32(e.KC), i32(e.qkvW), i32(e.QC),
		i32(e.T), i32(e.NH), i32(e.NKV), f32arg(e.scale))
	switch e.attn.Kind {
	case AttnCuDNN:
		e.fused("forward", e.fa.fwd(a, lse, q, k, v))
	case AttnMMA:
		e.launch(e.kernel("attn_fwd_mma", e.hs), dim3{ceil(e.T, 64), uint32(e.NH), uint32(e.MB)}, threads(128), 0, args...)
	case AttnV2:
		nw := e.attn.FwdWarps
		e.launch(e.kernel("attn_fwd_v2_", e.hs), dim3{ceil(e.T, 16*nw), uint32(e.NH), uint32(e.MB)}, threads(32*nw),
			v2FwdSmem(e.HS), args...)
	default:
		e.launch(e.kernel("attn_fwd", e.sfx), dim3{ceil(e.T, 4), uint32(e.NH), uint32(e.MB)}, threads(128), 2*e.kt*e.HS*4,
			append(args[:len(args)-1], i32(e.HS), f32arg(e.scale), i32(e.kt))...)
	}
}

// attnFwdPacked is attnFwd over packed rows (LogProbsPacked): query t of
// pass row b also masks keys [prefix[b], seg[t]), another segment's. Only
// the forward has a packed form (scoring has no backward): the plain
// kernels' (fp32, other head sizes) and mma's, which the bf16 engine runs
// whatever its attention, v2 and cuDNN included (neither has a mask of
// this kind; mma's forward is the kernel they are checked against).
func (e *Engine) attnFwdPacked(a, lse, q, k, v, seg, prefix dptr) {
	var buf [maxArgs]arg // room for the plain kernels' three more: no allocation
	args := append(buf[:0], ptr(a), ptr(lse), ptr(q), ptr(k), ptr(v), i32(e.QC), i32(e.KC), i32(e.qkvW), i32(e.QC),
		i32(e.T), i32(e.NH), i32(e.NKV), f32arg(e.scale))
	if e.attn.Kind == AttnPlain {
		e.launch(e.kernel("attn_fwd_pk", e.sfx), dim3{ceil(e.T, 4), uint32(e.NH), uint32(e.MB)}, threads(128), 2*e.kt*e.HS*4,
			append(args[:len(args)-1], i32(e.HS), f32arg(e.scale), i32(e.kt), ptr(seg), ptr(prefix))...)
		return
	}
	e.launch(e.kernel("attn_fwd_mma_pk", e.hs), dim3{ceil(e.T, 64), uint32(e.NH), uint32(e.MB)}, threads(128), 0,
		append(args, ptr(seg), ptr(prefix))...)
}

// attnBwd writes dq, dk and dv into the rows of dqkv (R, qkvW: dq | dk | dv)
// from da (R, QC), the forward's a and lse and its inputs q, k, v; D (MB, NH,
// T) f32 is scratch (Σ_i da·a per row).
func (e *Engine) attnBwd(dqkv, D, da, a, lse, q, k, v dptr) {
	for i := range 3 {
		e.attnBwdStep(i, dqkv, D, da, a, lse, q, k, v)
	}
}

// attnBwdStep runs the backward's launch i in AttnMs's order: 0 pre (D),
// 1 dQ, 2 dK/dV. A library's fused backward is one call, in step 2 (steps 0
// and 1 do nothing).
func (e *Engine) attnBwdStep(i int, dqkv, D, da, a, lse, q, k, v dptr) {
	switch {
	case e.attn.Kind == AttnCuDNN:
		if i == 2 {
			e.fused("backward", e.fa.bwd(dqkv, e.act(dqkv, e.QC), e.act(dqkv, e.QC+e.KC), D, da, a, lse, q, k, v))
		}
	case i == 0:
		e.attnBwdPre(D, da, a)
	case i == 1:
		e.attnBwdDQ(dqkv, D, da, lse, q, k, v)
	default:
		e.attnBwdDKV(dqkv, D, da, lse, q, k, v)
	}
}

// attnSteps are one forward and backward pass as AttnMs's four launches
// (fwd, pre, dQ, dK/dV), each on its own, for timing.
func (e *Engine) attnSteps(dqkv, D, da, a, lse, q, k, v dptr) []func() {
	steps := []func(){func() { e.attnFwd(a, lse, q, k, v) }}
	for i := range 3 {
		steps = append(steps, func() { e.attnBwdStep(i, dqkv, D, da, a, lse, q, k, v) })
	}
	return steps
}

// attnBwdPre: D[b,h,t] = Σ_i da·a over row t's head-h columns.
func (e *Engine) attnBwdPre(D, da, a dptr) {
	e.launch(e.kernel("attn_bwd_pre", e.sfx), dim3{ceil(e.R*e.NH, 4), 1, 1}, threads(128), 0,
		ptr(D), ptr(a), ptr(da), i32(e.QC), i32(e.QC), i32(e.MB), i32(e.T), i32(e.NH), i32(e.HS))
}

// attnBwdDQ writes dq into dqkv's first QC columns.
func (e *Engine) attnBwdDQ(dqkv, D, da, lse, q, k, v dptr) {
	var buf [maxArgs]arg // room for the plain kernels' three more: no allocation
	args := append(buf[:0], ptr(dqkv), i32(e.qkvW), ptr(q), ptr(k), ptr(v), ptr(da), ptr(lse), ptr(D),
		i32(e.QC), i32(e.KC), i32(e.qkvW), i32(e.QC), i32(e.T), i32(e.NH), i32(e.NKV), f32arg(e.scale))
	switch e.attn.Kind {
	case AttnMMA:
		e.launch(e.kernel("attn_bwd_dq_mma", e.hs), dim3{ceil(e.T, 64), uint32(e.NH), uint32(e.MB)}, threads(128), 0, args...)
	case AttnV2:
		nw := e.attn.DQWarps
		e.launch(e.kernel("attn_bwd_dq_v2_", e.hs), dim3{ceil(e.T, 16*nw), uint32(e.NH), uint32(e.MB)}, threads(32*nw),
			v2FwdSmem(e.HS), args...)
	default:
		e.launch(e.kernel("attn_bwd_dq", e.sfx), dim3{ceil(e.T, 4), uint32(e.NH), uint32(e.MB)}, threads(128), 2*e.kt*e.HS*4,
			append(args[:len(args)-1], i32(e.HS), f32arg(e.scale), i32(e.kt))...)
	}
}

// attnBwdDKV writes dk and dv into dqkv's next KC and last KC columns.
func (e *Engine) attnBwdDKV(dqkv, D, da, lse, q, k, v dptr) {
	dk, dv := e.act(dqkv, e.QC), e.act(dqkv, e.QC+e.KC)
	var buf [maxArgs]arg // room for the plain kernels' three more: no allocation
	args := append(buf[:0], ptr(dk), ptr(dv), i32(e.qkvW), i32(e.qkvW), ptr(q), ptr(k), ptr(v), ptr(da), ptr(lse), ptr(D),
		i32(e.QC), i32(e.KC), i32(e.qkvW), i32(e.QC), i32(e.T), i32(e.NH), i32(e.NKV), f32arg(e.scale))
	switch e.attn.Kind {
	case AttnMMA:
		e.launch(e.kernel("attn_bwd_dkv_mma", e.hs), dim3{ceil(e.T, 64), uint32(e.NKV), uint32(e.MB)}, threads(128), 0, args...)
	case AttnV2:
		nw := e.attn.DKVWarps
		e.launch(e.kernel("attn_bwd_dkv_v2_", e.hs), dim3{ceil(e.T, 16*nw), uint32(e.NKV), uint32(e.MB)}, threads(32*nw),
			v2DKVSmem(e.HS, nw), args...)
	default:
		e.launch(e.kernel("attn_bwd_dkv", e.sfx), dim3{ceil(e.T, 4), uint32(e.NKV), uint32(e.MB)}, threads(128), (2*e.kt*e.HS+2*e.kt)*4,
			append(args[:len(args)-1], i32(e.HS), f32arg(e.scale), i32(e.kt))...)
	}
}

// attnLaunches lists the engine's attention kernels with their block size and
// dynamic shared memory (for kernelInspector reports).
func (e *Engine) attnLaunches() []struct {
	Name          string
	Threads, Smem int
} {
	type l = struct {
		Name          string
		Threads, Smem int
	}
	switch e.attn.Kind {
	case AttnCuDNN:
		return nil // the library's kernels
	case AttnMMA:
		return []l{{e.kernel("attn_fwd_mma", e.hs), 128, 0}, {e.kernel("attn_bwd_dq_mma", e.hs), 128, 0},
			{e.kernel("attn_bwd_dkv_mma", e.hs), 128, 0}}
	case AttnV2:
		a := e.attn
		return []l{{e.kernel("attn_fwd_v2_", e.hs), 32 * a.FwdWarps, v2FwdSmem(e.HS)},
			{e.kernel("attn_bwd_dq_v2_", e.hs), 32 * a.DQWarps, v2FwdSmem(e.HS)},
			{e.kernel("attn_bwd_dkv_v2_", e.hs), 32 * a.DKVWarps, v2DKVSmem(e.HS, a.DKVWarps)}}
	}
	return []l{{e.kernel("attn_fwd", e.sfx), 128, 2 * e.kt * e.HS * 4}, {e.kernel("attn_bwd_dq", e.sfx), 128, 2 * e.kt * e.HS * 4},
		{e.kernel("attn_bwd_dkv", e.sfx), 128, (2*e.kt*e.HS + 2*e.kt) * 4}}
}
