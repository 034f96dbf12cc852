package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
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
	// (empty where the device cannot say, as in the emulator).
	Kernels []AttnKernelInfo
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
	sigs, err := signatures()
	if err != nil {
		return nil, fmt.Errorf("gpu: kernel signatures: %w", err)
	}
	// an engine of just the attention's dimensions: attnFwd and attnBwd*
	// launch exactly what a training step launches
	e := &Engine{dev: dev, sigs: sigs, at: bf16, sfx: "_bf16", HS: p.HS, NH: p.NH, NKV: p.NKV, T: p.T, B: p.B, MB: p.B,
		R: p.B * p.T, QC: p.NH * p.HS, KC: p.NKV * p.HS, scale: 1 / math.Sqrt(float64(p.HS)),
		kt: max(1, min(64, 4096/p.HS)), smemMax: dev.smemLimit()}
	e.qkvW = e.QC + 2*e.KC
	R := int64(e.R)
	defer dev.enter()()
	// one arena: bf16 q (R, QC), k (R, KC), qkv (R, qkvW; v is its last KC
	// columns), a and da (R, QC), dqkv (R, qkvW); f32 lse and D (B, NH, T)
	var off int64
	region := func(bytes int64) int64 {
		o := off
		off += (bytes + align - 1) / align * align
		return o
	}
	offQ, offK, offQKV := region(2*R*int64(e.QC)), region(2*R*int64(e.KC)), region(2*R*int64(e.qkvW))
	offA, offDA, offDQKV := region(2*R*int64(e.QC)), region(2*R*int64(e.QC)), region(2*R*int64(e.qkvW))
	nl := int64(p.B * p.NH * p.T)
	offLSE, offD := region(4*nl), region(4*nl)
	base, err := dev.alloc(off)
	if err != nil {
		return nil, fmt.Errorf("gpu: attention benchmark: allocating %.2f GiB: %w", gib(off), err)
	}
	defer dev.free(base)
	q, k, qkv, a, da, dqkv := base.add(offQ), base.add(offK), base.add(offQKV), base.add(offA), base.add(offDA), base.add(offDQKV)
	lse, D := base.add(offLSE), base.add(offD)
	v := e.act(qkv, e.QC+e.KC)
	// inputs: q and k of standard deviation 1 (scores q·k/√HS of standard
	// deviation 1, as after QK-norm), v and da 1
	for i, in := range []struct {
		p dptr
		n int64
	}{{q, R * int64(e.QC)}, {k, R * int64(e.KC)}, {qkv, R * int64(e.qkvW)}, {da, R * int64(e.QC)}} {
		h := make([]uint16, in.n)
		randBF16(h, p.Seed+uint64(i))
		if err := dev.htod(in.p, unsafe.Pointer(&h[0]), 2*in.n); err != nil {
			return nil, fmt.Errorf("gpu: attention benchmark inputs: %w", err)
		}
	}
	st, err := dev.stamps(5)
	if err != nil {
		return nil, err
	}
	defer st.close()
	run := func() {
		e.attnFwd(a, lse, q, k, v)
		e.attnBwd(dqkv, D, da, a, lse, q, k, v)
	}
	var ref *attnResult
	var rows []AttnBenchRow
	for _, variant := range p.Variants {
		e.attn = variant.resolve(false, p.HS)
		if err := e.checkAttention(); err != nil {
			return rows, err
		}
		row := AttnBenchRow{Variant: e.attn.String(), MaxRel: map[string]float64{}}
		for _, z := range []struct {
			p dptr
			n int64
		}{{a, 2 * R * int64(e.QC)}, {dqkv, 2 * R * int64(e.qkvW)}, {lse, 4 * nl}} {
			if err := dev.zero(z.p, z.n); err != nil { // an element a kernel misses reads 0
				return rows, err
			}
		}
		run() // also the warm-up: attributes set, code loaded
		first, err := readAttn(dev, e, a, lse, dqkv)
		if err != nil {
			return rows, err
		}
		if ref == nil {
			ref = first
		}
		row.MaxRel = first.maxRel(ref, e)
		// timed: each kernel Iters times between two stamps
		steps := []func(){
			func() { e.attnFwd(a, lse, q, k, v) },
			func() { e.attnBwdPre(D, da, a) },
			func() { e.attnBwdDQ(dqkv, D, da, lse, q, k, v) },
			func() { e.attnBwdDKV(dqkv, D, da, lse, q, k, v) },
		}
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
		again, err := readAttn(dev, e, a, lse, dqkv)
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

// attnResult holds one run's outputs: a (R, QC) and dqkv (R, qkvW) as bf16
// bits, lse as float32.
type attnResult struct {
	a, dqkv []uint16
	lse     []float32
}

func readAttn(dev device, e *Engine, a, lse, dqkv dptr) (*attnResult, error) {
	r := &attnResult{a: make([]uint16, e.R*e.QC), dqkv: make([]uint16, e.R*e.qkvW), lse: make([]float32, e.MB*e.NH*e.T)}
	if err := dev.dtoh(unsafe.Pointer(&r.a[0]), a, int64(2*len(r.a))); err != nil {
		return nil, err
	}
	if err := dev.dtoh(unsafe.Pointer(&r.dqkv[0]), dqkv, int64(2*len(r.dqkv))); err != nil {
		return nil, err
	}
	if err := dev.dtoh(unsafe.Pointer(&r.lse[0]), lse, int64(4*len(r.lse))); err != nil {
		return nil, err
	}
	return r, nil
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

// maxRel compares r with ref, output by output (AttnOutputs): max |x − x₀|
// over max |x₀|, +Inf where x is NaN or infinite.
func (r *attnResult) maxRel(ref *attnResult, e *Engine) map[string]float64 {
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
			for row := w; row < e.R; row += nw {
				for j := 0; j < e.QC; j++ {
					i := row*e.QC + j
					add(&s[0], bf(r.a[i]), bf(ref.a[i]))
				}
				for j := 0; j < e.qkvW; j++ {
					i := row*e.qkvW + j
					out := 1 // dq
					if j >= e.QC+e.KC {
						out = 3 // dv
					} else if j >= e.QC {
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
