package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"unsafe"
)

// AttnBenchParams describes an attention benchmark (gpubench attn): random
// bf16 q, k, v and da of one layer's shape (B sequences of T rows, NH query
// and NKV key/value heads of size HS, the engine's layouts), on which every
// variant's kernels run, are timed, and have their outputs compared with the
// first variant's.
type AttnBenchParams struct {
	B, T, NH, NKV, HS int
	Variants          []AttnKernels
	Iters             int // timed launches of each kernel (0: 10)
	Seed              uint64
}

// AttnBenchRow is one variant's figures.
type AttnBenchRow struct {
	Variant string // as ParseAttention reads it
	// Milliseconds per launch of the forward kernel and of the backward's
	// three (D = rowsum(da∘a), dQ, dK/dV).
	FwdMs, PreMs, DQMs, DKVMs float64
	// FwdTFLOPs and BwdTFLOPs count FlashAttention's FLOPs: 4·HS per (query,
	// key) pair with key ≤ query, per head and sequence, forward; 2.5 times
	// that backward (the scores dQ and dK/dV both recompute are counted once).
	FwdTFLOPs, BwdTFLOPs float64
	// MaxRel holds, per output (o, lse, dq, dk, dv), max |x − x₀| / max |x₀|
	// over the tensor against the first variant's outputs x₀ (0 for the first).
	MaxRel map[string]float64
	// Deterministic: the outputs after the timed launches equal, bit for
	// bit, those of the first launch.
	Deterministic bool
	// Kernels describes the variant's kernels as the driver compiled them
	// (empty where the device cannot say, as in the emulator, and for cudnn).
	Kernels []AttnKernelInfo
	// Library names the library and its engines for a library's variant
	// (cudnn: its version, path, engines and workspace; its backward is one
	// call, timed as DKVMs).
	Library string
}

// AttnOutputs are the compared outputs, in MaxRel's order.
var AttnOutputs = []string{"o", "lse", "dq", "dk", "dv"}

// AttnKernelInfo is one kernel of a variant and its launch shape.
type AttnKernelInfo struct {
	Name             string
	Threads, DynSmem int
	KernelInfo
}

// KernelInfo is what the driver made of a kernel: registers and local memory
// (spills) per thread, static shared memory, and how many blocks of the
// launch's shape fit one SM.
type KernelInfo struct {
	Regs, LocalBytes, StaticSmem, BlocksPerSM int
}

// attnFLOPs is the forward's FLOP count (AttnBenchRow.FwdTFLOPs).
func attnFLOPs(p AttnBenchParams) float64 {
	pairs := float64(p.T) * float64(p.T+1) / 2
	return 4 * float64(p.B) * float64(p.NH) * float64(p.HS) * pairs
}

// benchAttention runs p on dev (see AttnBenchParams).
func benchAttention(dev device, p AttnBenchParams) ([]AttnBenchRow, error) {
	if p.B <= 0 || p.T <= 0 || p.NH <= 0 || p.NKV <= 0 || p.NH%p.NKV != 0 || p.HS <= 0 || p.HS%8 != 0 || p.HS > 256 {
		return nil, fmt.Errorf("gpu: attention benchmark shape B=%d T=%d NH=%d NKV=%d HS=%d", p.B, p.T, p.NH, p.NKV, p.HS)
	}
	if len(p.Variants) == 0 {
		return nil, fmt.Errorf("gpu: attention benchmark without variants")
	}
	if p.Iters <= 0 {
		p.Iters = 10
	}
	defer dev.enter()()
	tr, err := newAttnTrial(dev, p.B, p.T, p.NH, p.NKV, p.HS)
	if err != nil {
		return nil, err
	}
	defer tr.free()
	e := tr.e
	if err := tr.fill(p.Seed); err != nil {
		return nil, err
	}
	a, lse, q, k, v, da, dqkv, D := tr.a, tr.lse, tr.q, tr.k, tr.v, tr.da, tr.dqkv, tr.D
	st, err := dev.stamps(5)
	if err != nil {
		return nil, err
	}
	defer st.close()
	var ref *attnResult
	var rows []AttnBenchRow
	for _, variant := range p.Variants {
		if variant.Kind == AttnAuto {
			return rows, fmt.Errorf("gpu: attention benchmark: auto is a choice among variants, not one (name them)")
		}
		e.attn = variant.resolve(false, p.HS)
		if err := e.checkAttention(); err != nil {
			return rows, err
		}
		row := AttnBenchRow{Variant: e.attn.String(), MaxRel: map[string]float64{}}
		if e.attn.Kind == AttnCuDNN {
			if e.fa == nil {
				fa, free, err := benchFused(dev, e.fusedShape(p.B))
				if err != nil {
					return rows, fmt.Errorf("gpu: attention benchmark: cudnn: %w", err)
				}
				defer free()
				e.fa = fa
			}
			row.Library = e.fa.describe()
		}
		if err := tr.zeroOutputs(); err != nil {
			return rows, err
		}
		tr.fwdBwd() // also the warm-up: attributes set, code loaded
		first, err := tr.read()
		if err != nil {
			return rows, err
		}
		if ref == nil {
			ref = first
		}
		row.MaxRel = first.maxRel(ref)
		// timed: each kernel Iters times between two stamps
		steps := e.attnSteps(dqkv, D, da, a, lse, q, k, v)
		if err := st.record(0); err != nil {
			return rows, err
		}
		for i, f := range steps {
			for it := 0; it < p.Iters; it++ {
				f()
			}
			if err := st.record(i + 1); err != nil {
				return rows, err
			}
		}
		ms := make([]float64, len(steps))
		for i := range steps {
			t, err := st.elapsed(i, i+1)
			if err != nil {
				return rows, err
			}
			ms[i] = t / float64(p.Iters)
		}
		row.FwdMs, row.PreMs, row.DQMs, row.DKVMs = ms[0], ms[1], ms[2], ms[3]
		fl := attnFLOPs(p)
		row.FwdTFLOPs = fl / (row.FwdMs * 1e-3) / 1e12
		row.BwdTFLOPs = 2.5 * fl / ((row.PreMs + row.DQMs + row.DKVMs) * 1e-3) / 1e12
		again, err := tr.read()
		if err != nil {
			return rows, err
		}
		row.Deterministic = again.equal(first)
		if ki, ok := dev.(kernelInspector); ok {
			for _, l := range e.attnLaunches() {
				info, err := ki.inspect(l.Name, l.Threads, l.Smem)
				if err != nil {
					return rows, err
				}
				row.Kernels = append(row.Kernels, AttnKernelInfo{Name: l.Name, Threads: l.Threads, DynSmem: l.Smem, KernelInfo: info})
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// benchFused builds a library's attention for the benchmark, its workspace
// allocated on its own; free releases both.
func benchFused(dev device, s fusedAttnShape) (fusedAttn, func(), error) {
	fd, ok := dev.(fusedAttnDevice)
	if !ok {
		return nil, nil, errNoFused
	}
	if _, err := fd.fusedAttnLib(); err != nil {
		return nil, nil, err
	}
	var ws dptr
	fa, err := fd.newFusedAttn(s, func(n int64) (dptr, error) {
		if n == 0 {
			return 0, nil
		}
		var err error
		ws, err = dev.alloc(n)
		return ws, err
	})
	if err != nil {
		if ws != 0 {
			dev.free(ws)
		}
		return nil, nil, err
	}
	return fa, func() {
		fa.close()
		if ws != 0 {
			dev.free(ws)
		}
	}, nil
}

// attnTrial is the attention on its own: an engine view with just the
// attention's dimensions (B sequences of T rows, NH and NKV heads of size HS)
// and device buffers laid out as in a training step, so that attnFwd and
// attnBwd* launch exactly what a step launches. Inputs: bf16 q (R, QC), k
// (R, KC), v (the last KC columns of qkv (R, qkvW)) and da (R, QC); outputs:
// bf16 a (R, QC) and dqkv (R, qkvW), f32 lse (B, NH, T); D (B, NH, T) f32
// is scratch.
type attnTrial struct {
	e                                 *Engine
	q, k, qkv, v, a, da, dqkv, lse, D dptr
	free                              func() // releases what newAttnTrial allocated
}

// newAttnTrial allocates a trial of its own on dev (inside dev.enter).
func newAttnTrial(dev device, B, T, NH, NKV, HS int) (*attnTrial, error) {
	sigs, err := signatures()
	if err != nil {
		return nil, fmt.Errorf("gpu: kernel signatures: %w", err)
	}
	e := &Engine{dev: dev, sigs: sigs, at: bf16, sfx: "_bf16", hs: strconv.Itoa(HS), HS: HS, NH: NH, NKV: NKV, T: T, B: B, MB: B,
		R: B * T, QC: NH * HS, KC: NKV * HS, scale: 1 / math.Sqrt(float64(HS)),
		kt: max(1, min(64, 4096/HS)), smemMax: dev.smemLimit()}
	e.qkvW = e.QC + 2*e.KC
	R := int64(e.R)
	var off int64
	region := func(bytes int64) int64 {
		o := off
		off += (bytes + align - 1) / align * align
		return o
	}
	offQ, offK, offQKV := region(2*R*int64(e.QC)), region(2*R*int64(e.KC)), region(2*R*int64(e.qkvW))
	offA, offDA, offDQKV := region(2*R*int64(e.QC)), region(2*R*int64(e.QC)), region(2*R*int64(e.qkvW))
	nl := int64(B * NH * T)
	offLSE, offD := region(4*nl), region(4*nl)
	base, err := dev.alloc(off)
	if err != nil {
		return nil, fmt.Errorf("gpu: attention trial: allocating %.2f GiB: %w", gib(off), err)
	}
	t := &attnTrial{e: e, q: base.add(offQ), k: base.add(offK), qkv: base.add(offQKV), a: base.add(offA),
		da: base.add(offDA), dqkv: base.add(offDQKV), lse: base.add(offLSE), D: base.add(offD),
		free: func() { dev.free(base) }}
	t.v = e.act(t.qkv, e.QC+e.KC)
	return t, nil
}

// attnTrial returns a trial of B sequences on the engine's own activation
// buffers (layer 0's set, da, dqkv, D: sized for MB ≥ B sequences), for use
// before the engine's first step: every one of them is written before it is
// read in a step, so the trial leaves nothing behind.
func (e *Engine) attnTrial(B int) *attnTrial {
	v := *e // a view: same device, kernels and dimensions, B sequences a pass
	v.MB, v.B, v.R, v.prof = B, B, B*e.T, nil
	s := e.set(0)
	return &attnTrial{e: &v, q: s.q, k: s.k, qkv: s.qkv, v: e.act(s.qkv, e.QC+e.KC), a: s.a, lse: s.lse,
		da: e.p(e.o.da), dqkv: e.p(e.o.dqkv), D: e.p(e.o.dD), free: func() {}}
}

// fill writes random inputs: q and k of standard deviation 1 (scores q·k/√HS
// of standard deviation 1, as after QK-norm), v and da 1.
func (t *attnTrial) fill(seed uint64) error {
	e := t.e
	R := int64(e.R)
	for i, in := range []struct {
		p dptr
		n int64
	}{{t.q, R * int64(e.QC)}, {t.k, R * int64(e.KC)}, {t.qkv, R * int64(e.qkvW)}, {t.da, R * int64(e.QC)}} {
		h := make([]uint16, in.n)
		randBF16(h, seed+uint64(i))
		if err := e.dev.htod(in.p, unsafe.Pointer(&h[0]), 2*in.n); err != nil {
			return fmt.Errorf("gpu: attention trial inputs: %w", err)
		}
	}
	return nil
}

// zeroOutputs clears a, dqkv and lse: an element a kernel misses reads 0.
func (t *attnTrial) zeroOutputs() error {
	e := t.e
	R := int64(e.R)
	for _, z := range []struct {
		p dptr
		n int64
	}{{t.a, 2 * R * int64(e.QC)}, {t.dqkv, 2 * R * int64(e.qkvW)}, {t.lse, 4 * int64(e.MB*e.NH*e.T)}} {
		if err := e.dev.zero(z.p, z.n); err != nil {
			return err
		}
	}
	return nil
}

// fwdBwd launches the forward and backward kernels of t.e.attn once (a
// launch error panics, as in a step).
func (t *attnTrial) fwdBwd() {
	t.e.attnFwd(t.a, t.lse, t.q, t.k, t.v)
	t.e.attnBwd(t.dqkv, t.D, t.da, t.a, t.lse, t.q, t.k, t.v)
}

// read copies the outputs back (waiting for the device).
func (t *attnTrial) read() (*attnResult, error) {
	e := t.e
	r := &attnResult{rows: e.R, qc: e.QC, kc: e.KC, a: make([]uint16, e.R*e.QC), dqkv: make([]uint16, e.R*e.qkvW),
		lse: make([]float32, e.MB*e.NH*e.T)}
	if err := e.dev.dtoh(unsafe.Pointer(&r.a[0]), t.a, int64(2*len(r.a))); err != nil {
		return nil, err
	}
	if err := e.dev.dtoh(unsafe.Pointer(&r.dqkv[0]), t.dqkv, int64(2*len(r.dqkv))); err != nil {
		return nil, err
	}
	if err := e.dev.dtoh(unsafe.Pointer(&r.lse[0]), t.lse, int64(4*len(r.lse))); err != nil {
		return nil, err
	}
	return r, nil
}

// attnResult holds one run's outputs: a (rows, qc) and dqkv (rows, qc+2·kc)
// as bf16 bits, lse as float32.
type attnResult struct {
	rows, qc, kc int
	a, dqkv      []uint16
	lse          []float32
}

func (r *attnResult) equal(o *attnResult) bool {
	for i := range r.a {
		if r.a[i] != o.a[i] {
			return false
		}
	}
	for i := range r.dqkv {
		if r.dqkv[i] != o.dqkv[i] {
			return false
		}
	}
	for i := range r.lse {
		if math.Float32bits(r.lse[i]) != math.Float32bits(o.lse[i]) {
			return false
		}
	}
	return true
}

// maxRel compares r with ref (of the same shape), output by output
// (AttnOutputs): max |x − x₀| over max |x₀|, +Inf where x is NaN or infinite.
func (r *attnResult) maxRel(ref *attnResult) map[string]float64 {
	bf := func(u uint16) float64 { return float64(math.Float32frombits(uint32(u) << 16)) }
	type acc struct{ diff, mag float64 }
	add := func(s *acc, x, x0 float64) {
		d := math.Abs(x - x0)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			d = math.Inf(1)
		}
		s.diff = math.Max(s.diff, d)
		s.mag = math.Max(s.mag, math.Abs(x0))
	}
	// o, dq, dk, dv, in parallel over rows
	nw := runtime.GOMAXPROCS(0)
	parts := make([][4]acc, nw)
	var wg sync.WaitGroup
	for w := 0; w < nw; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := &parts[w]
			qc, kc := r.qc, r.kc
			w3 := qc + 2*kc
			for row := w; row < r.rows; row += nw {
				for j := 0; j < qc; j++ {
					i := row*qc + j
					add(&s[0], bf(r.a[i]), bf(ref.a[i]))
				}
				for j := 0; j < w3; j++ {
					i := row*w3 + j
					out := 1 // dq
					if j >= qc+kc {
						out = 3 // dv
					} else if j >= qc {
						out = 2 // dk
					}
					add(&s[out], bf(r.dqkv[i]), bf(ref.dqkv[i]))
				}
			}
		}(w)
	}
	var l acc
	for i := range r.lse {
		add(&l, float64(r.lse[i]), float64(ref.lse[i]))
	}
	wg.Wait()
	var tot [4]acc
	for _, s := range parts {
		for i := range tot {
			tot[i].diff = math.Max(tot[i].diff, s[i].diff)
			tot[i].mag = math.Max(tot[i].mag, s[i].mag)
		}
	}
	rel := func(s acc) float64 {
		if s.diff == 0 {
			return 0
		}
		return s.diff / s.mag
	}
	return map[string]float64{"o": rel(tot[0]), "lse": rel(l), "dq": rel(tot[1]), "dk": rel(tot[2]), "dv": rel(tot[3])}
}

// randBF16 fills dst with bf16 values of standard deviation 1 (uniform on
// ±√3, rounded to nearest even), in parallel.
func randBF16(dst []uint16, seed uint64) {
	const chunk = 1 << 20
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for lo := 0; lo < len(dst); lo += chunk {
		wg.Add(1)
		sem <- struct{}{}
		go func(lo int) {
			defer wg.Done()
			defer func() { <-sem }()
			r := rand.New(rand.NewPCG(seed, uint64(lo)))
			for i := lo; i < min(lo+chunk, len(dst)); i++ {
				f := math.Float32bits(float32((2*r.Float64() - 1) * math.Sqrt(3)))
				dst[i] = uint16((f + 0x7fff + ((f >> 16) & 1)) >> 16)
			}
		}(lo)
	}
	wg.Wait()
}
