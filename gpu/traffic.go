package gpu

import (
	"fmt"
	"sort"
	"strings"
	"unsafe"

	"github.com/olmolab/olmolab/model"
)

// The memory traffic of the memory-bound launches: a model, not a
// measurement. Every launch that is neither a matrix product nor attention
// is assigned the DRAM bytes it must read and write, computed from its
// arguments and grid (launchBytes), so that a step's launch sequence can be
// priced without a GPU (ModelTraffic, `gpubench traffic`) and a profiled
// step's milliseconds can be set against bandwidth (`gpubench bench
// --profile`: GB/s and the share of the H200's 4.8 TB/s per operation).
//
// The rule: each tensor region a kernel touches is counted once per pass
// the kernel makes over it from DRAM. A block that reads its row twice
// (the norms: sum of squares, then the output) reads it once, because the
// row (at most a few tens of KiB) is still in the SM's L1/L2 the second
// time; the cross-entropy's logits rows (V·4 bytes, 392 KiB at V = 100352,
// hundreds of rows in flight) do not stay there, so its backward's second
// read is counted. Gathered rows (the embedding) are counted per row.

// HBMBytesPerSecond is the H200's DRAM bandwidth (NVIDIA's data sheet:
// 4.8 TB/s), against which the model's lower-bound times are given.
const HBMBytesPerSecond = 4.8e12

// OpTraffic is one operation's modeled traffic: launches and bytes.
type OpTraffic struct {
	Launches int
	Bytes    int64
}

// launchBytes is the modeled DRAM traffic of one launch of kernel name with
// grid and args (the arguments as launched), -1 for the launches the model
// leaves out: attention (its kernels are compute-bound tiles that reread
// k and v per query tile) and any kernel it does not know
// (TestTrafficCoversEveryKernel).
func (e *Engine) launchBytes(name string, grid dim3, args []arg) int64 {
	if strings.HasPrefix(name, "attn_") {
		return -1
	}
	base, sz := name, int64(4)
	if name == "cast_bf16" { // its suffix is no activation type
		base = "cast"
	} else if b, ok := strings.CutSuffix(name, "_bf16"); ok {
		base, sz = b, 2
	} else if b, ok := strings.CutSuffix(name, "_f32"); ok {
		base = b
	}
	iv := func(i int) int64 { return int64(int32(uint32(args[i].v))) } // an i32 argument
	lv := func(i int) int64 { return int64(args[i].v) }                // an i64 argument
	has := func(i int) int64 {                                         // 1 when pointer argument i is not null
		if args[i].v != 0 {
			return 1
		}
		return 0
	}
	R := int64(grid[0]) // rows, for the one-block-per-row kernels
	switch base {
	case "embed_fwd": // (res, xT, W, ids, C)
		C := iv(4)
		return R*4 + R*C*4 + R*C*4 + has(1)*R*C*sz
	case "embed_bwd": // (dW, dres, perm, segStart, segTok, C): grid = distinct tokens
		C, rows := iv(5), int64(e.R)
		return 2*R*C*4 + rows*C*4 + rows*4 + (2*R+1)*4
	case "rms_res_fwd": // (y32, yT, rstd, x, res, w, n, eps)
		n := iv(6)
		out := has(0) | has(1)
		return R*n*sz + R*4 + out*(R*n*4+n*4) + has(0)*R*n*4 + has(1)*R*n*sz
	case "rms_fwd": // (y, rstd, x, w, n, eps): x fp32
		n := iv(4)
		return R*n*4 + n*4 + R*n*sz + R*4
	case "rms_bwd_res", "rms_bwd_act", "rms_bwd_final": // (dx, lddx, dy, lddy, x, ldx, rstd, w, n)
		n := iv(8)
		dy, x := sz, sz
		switch base {
		case "rms_bwd_res":
			dy = 4
		case "rms_bwd_final":
			dy, x, sz = 4, 4, 4
		}
		return R*n*(dy+x+sz) + R*4 + n*4
	case "rms_dw_part_res", "rms_dw_part_act", "rms_dw_part_final": // (part, dy, lddy, x, ldx, rstd, R, n, rowsPer)
		rows, n, parts := iv(6), iv(7), int64(grid[1])
		dy, x := sz, sz
		switch base {
		case "rms_dw_part_res":
			dy = 4
		case "rms_dw_part_final":
			dy, x = 4, 4
		}
		return rows*n*(dy+x) + rows*4 + parts*n*4
	case "rms_bwd_dw_res", "rms_bwd_dw_act", "rms_bwd_dw_final":
		// (dx, lddx, dy, lddy, x, ldx, rstd, w, part, R, n, rowsPer[, cos, sin, T, HS]): dy and x read once
		// (a row's partner columns and its second pass hit the cache), dx and the partial sums written
		rows, n, parts := iv(9), iv(10), int64(grid[0])
		dy, x := sz, sz
		b := int64(0)
		switch base {
		case "rms_bwd_dw_res":
			dy = 4
		case "rms_bwd_dw_final":
			dy, x, sz = 4, 4, 4
		case "rms_bwd_dw_act":
			T, HS := iv(14), iv(15)
			b = 2 * min(rows, T) * (HS / 2) * 4
		}
		return b + rows*n*(dy+x+sz) + rows*4 + n*4 + parts*n*4
	case "rms_dw_reduce", "rms_dw_reduce8": // (dw, part, parts, n)
		parts, n := iv(2), iv(3)
		return parts*n*4 + 2*n*4
	case "qknorm_rope_fwd", "qknorm_rope_fwd_pos": // (q, k, qr, kr, qkv, ldqkv, wq, wk, cos, sin, T, NH, NKV, HS, eps[, pos])
		T, NH, NKV, HS := iv(10), iv(11), iv(12), iv(13)
		w := (NH + NKV) * HS
		tab := 2 * min(R, T) * (HS / 2) * 4 // the cos and sin rows of the positions used
		b := 2*R*w*sz + w*4 + 2*R*4 + tab
		if base == "qknorm_rope_fwd_pos" {
			b += R * 4
		}
		return b
	case "rope_bwd": // (dqkv, ld, cos, sin, T, NH, NKV, HS): in place
		T, NH, NKV, HS := iv(4), iv(5), iv(6), iv(7)
		return 2*R*(NH+NKV)*HS*sz + 2*min(R, T)*(HS/2)*4
	case "swiglu_fwd": // (act, gu, I, total)
		return 3 * lv(3) * sz
	case "swiglu_bwd": // (dgu, dact, gu, I, total)
		return 5 * lv(4) * sz
	case "cast": // cast_bf16 (dst, src, n)
		return 6 * lv(2)
	case "ce_chunk": // (ce, zz, dlogits, logits, labels, V, scale, z, backward)
		V, bwd := iv(5), iv(8)
		b := R*V*4 + R*4 + 2*R*4
		if bwd != 0 {
			b += R*V*4 + R*V*sz // the second read of each row, and dlogits
		}
		return b
	case "loss_reduce": // (acc, ce, zz, labels, R)
		return 3*iv(4)*4 + 2*16
	case "sumsq_part": // (part, x, n, per)
		return lv(2)*4 + int64(grid[0])*8
	case "sumsq_final": // (out, part, parts)
		return iv(2)*8 + 8
	case "adamw": // (p, g, m, v, pT, n, …): read p g m v, write p m v (and pT)
		n := lv(5)
		return 28*n + has(4)*2*n
	}
	return -1
}

// trafficDevice is a device that runs nothing: ModelTraffic builds an
// engine on it, with the free memory it is given, to replay a step's
// launches (allocations are addresses only).
type trafficDevice struct {
	next  dptr
	avail int64
}

func (d *trafficDevice) name() string { return "traffic model" }
func (d *trafficDevice) alloc(n int64) (dptr, error) {
	if d.next == 0 {
		d.next = 1 << 40
	}
	p := d.next
	d.next += dptr((n + 1<<20) &^ (1<<20 - 1))
	return p, nil
}
func (d *trafficDevice) free(dptr) error                             { return nil }
func (d *trafficDevice) htod(dptr, unsafe.Pointer, int64) error      { return nil }
func (d *trafficDevice) dtoh(unsafe.Pointer, dptr, int64) error      { return nil }
func (d *trafficDevice) zero(dptr, int64) error                      { return nil }
func (d *trafficDevice) launch(string, dim3, dim3, int, []arg) error { return nil }
func (d *trafficDevice) gemm(gemmOp) error                           { return nil }
func (d *trafficDevice) sync() error                                 { return nil }
func (d *trafficDevice) memInfo() (free, total int64, err error)     { return d.avail, d.avail, nil }
func (d *trafficDevice) smemLimit() int                              { return smemOptin90 }
func (d *trafficDevice) enter() func()                               { return func() {} }
func (d *trafficDevice) stamps(n int) (stamper, error)               { return make(wallStamps, n), nil }
func (d *trafficDevice) close() error                                { return nil }

// Traffic is a step's modeled traffic per operation ("phase:kernel", as the
// profile labels them; memsets as "phase:memset"), with the plan the step
// ran under.
type Traffic struct {
	Ops  map[string]OpTraffic
	Plan *Plan
}

// ModelTraffic replays one training step of cfg at B×T (ZeroGrads,
// ForwardBackward, GradNorm, Step: model.Trainer's order) on a device that
// runs nothing, with the plan the engine makes for free bytes of device
// memory and opts, and returns every memory-bound launch's modeled traffic.
// Attention auto is modeled as mma (the trial needs a device; attention is
// outside the model anyway).
func ModelTraffic(cfg model.Config, B, T int, free int64, opts Options) (*Traffic, error) {
	if opts.Attention.Kind == AttnAuto || opts.Attention.Kind == AttnCuDNN {
		opts.Attention = AttnKernels{Kind: AttnMMA}
	}
	e, err := newEngine(&trafficDevice{avail: free}, cfg, B, T, opts)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	ids, labels := make([]int32, B*T), make([]int32, B*T)
	model.NewSyntheticStream(cfg.VocabSize, 1).Fill(ids, labels, T)
	tr := &model.Trainer{B: e, P: model.TrainerParams{Opt: model.OLMo2AdamW(), MaxGradNorm: 1, ZLoss: 1e-5}}
	e.traffic = map[string]*OpTraffic{}
	e.phase = "optim"
	tr.Step(ids, labels, 1e-3)
	out := &Traffic{Ops: make(map[string]OpTraffic, len(e.traffic)), Plan: e.plan}
	for k, v := range e.traffic {
		out.Ops[k] = *v
	}
	return out, nil
}

// Total is the step's modeled bytes and launches.
func (t *Traffic) Total() OpTraffic {
	var s OpTraffic
	for _, v := range t.Ops {
		s.Launches += v.Launches
		s.Bytes += v.Bytes
	}
	return s
}

// Format renders the traffic as a table, largest first: launches per step,
// GB per step and the time the bytes take at HBMBytesPerSecond, a lower
// bound on the operation's device time.
func (t *Traffic) Format() string {
	type row struct {
		k string
		v OpTraffic
	}
	var rows []row
	for k, v := range t.Ops {
		rows = append(rows, row{k, v})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].v.Bytes != rows[j].v.Bytes {
			return rows[i].v.Bytes > rows[j].v.Bytes
		}
		return rows[i].k < rows[j].k
	})
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-28s %8s %10s %14s\n", "operation", "launches", "GB/step", "ms at 4.8TB/s")
	for _, r := range append(rows, row{"total", t.Total()}) {
		fmt.Fprintf(&sb, "%-28s %8d %10.3f %14.3f\n", r.k, r.v.Launches, float64(r.v.Bytes)/1e9, float64(r.v.Bytes)/HBMBytesPerSecond*1e3)
	}
	return sb.String()
}
