package gpu

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/olmolab/olmolab/gpu/kernels"
	"github.com/olmolab/olmolab/model"
)

// fakeDevice executes nothing: it checks that every copy, launch argument and
// matrix product stays inside allocated memory, and counts the calls. It lets
// the default build (no cuda tag, no emulator) walk every path of the engine.
type fakeDevice struct {
	t       *testing.T
	next    dptr
	allocs  map[dptr]int64
	entered int
	kernels map[string]int
	gemms   int
}

func newFake(t *testing.T) *fakeDevice {
	return &fakeDevice{t: t, next: 1 << 40, allocs: map[dptr]int64{}, kernels: map[string]int{}}
}

func (d *fakeDevice) name() string { return "fake" }

// bound reports a driver call made outside an engine call: on the CUDA
// device it would run on a thread the context may not be current on.
func (d *fakeDevice) bound(what string) {
	if d.entered == 0 {
		d.t.Errorf("%s outside an engine call (no context bound)", what)
	}
}
func (d *fakeDevice) alloc(n int64) (dptr, error) {
	d.bound("alloc")
	p := d.next
	d.allocs[p] = n
	d.next += dptr((n + 1<<20) &^ (1<<20 - 1))
	return p, nil
}
func (d *fakeDevice) free(p dptr) error {
	d.bound("free")
	if _, ok := d.allocs[p]; !ok {
		return fmt.Errorf("free of unallocated %#x", uintptr(p))
	}
	delete(d.allocs, p)
	return nil
}
func (d *fakeDevice) in(p dptr, n int64) bool {
	for b, sz := range d.allocs {
		if p >= b && int64(p-b)+n <= sz {
			return true
		}
	}
	return false
}
func (d *fakeDevice) check(what string, p dptr, n int64) error {
	d.bound(what)
	if !d.in(p, n) {
		return fmt.Errorf("%s of %d bytes at %#x is outside device memory", what, n, uintptr(p))
	}
	return nil
}
func (d *fakeDevice) htod(dst dptr, _ unsafe.Pointer, n int64) error { return d.check("htod", dst, n) }
func (d *fakeDevice) dtoh(dst unsafe.Pointer, src dptr, n int64) error {
	clear(unsafe.Slice((*byte)(dst), n))
	return d.check("dtoh", src, n)
}
func (d *fakeDevice) zero(dst dptr, n int64) error { return d.check("memset", dst, n) }
func (d *fakeDevice) launch(name string, grid, block dim3, smem int, args []arg) error {
	d.kernels[name]++
	for i, a := range args {
		if a.kind == argPtr && a.v != 0 {
			if err := d.check(fmt.Sprintf("%s argument %d", name, i), dptr(a.v), 1); err != nil {
				return err
			}
		}
	}
	return nil
}
func (d *fakeDevice) gemm(g gemmOp) error {
	d.gemms++
	ea, eb, ec := g.extents()
	if err := d.check("gemm A", g.a, ea*g.ta.size()); err != nil {
		return err
	}
	if err := d.check("gemm B", g.b, eb*g.tb.size()); err != nil {
		return err
	}
	return d.check("gemm C", g.c, ec*g.tc.size())
}
func (d *fakeDevice) stamps(n int) (stamper, error) { return make(wallStamps, n), nil }
func (d *fakeDevice) sync() error                   { return nil }
func (d *fakeDevice) memInfo() (free, total int64, err error) {
	d.bound("memInfo")
	return 1 << 36, 1 << 36, nil
}
func (d *fakeDevice) smemLimit() int { return smemOptin90 }
func (d *fakeDevice) enter() func() {
	d.entered++
	return func() { d.entered-- }
}
func (d *fakeDevice) close() error {
	if len(d.allocs) != 0 {
		return fmt.Errorf("%d allocations left", len(d.allocs))
	}
	return nil
}

func smallConfig(hidden, heads, kv, headDim int) model.Config {
	eos, pad := 254, 255
	return model.Config{VocabSize: 256, HiddenSize: hidden, IntermediateSize: 96, NumHiddenLayers: 3,
		NumAttentionHeads: heads, NumKeyValueHeads: kv, HeadDim: headDim, MaxPositionEmbeddings: 4096,
		RopeTheta: 500000, RMSNormEps: 1e-6, InitializerRange: 0.02, EOSTokenID: &eos, PadTokenID: &pad}
}

// TestEngineWalk drives every Backend method of engines in both precisions,
// every attention path, with and without recomputation and passes, on the
// fake device. The engine's launch checks every argument list against the
// kernel's PTX signature and the launch limits, so a mismatch panics here.
func TestEngineWalk(t *testing.T) {
	v2 := Options{Attention: AttnKernels{Kind: AttnV2}}
	v2w := Options{Attention: AttnKernels{Kind: AttnV2, FwdWarps: 4, DQWarps: 8, DKVWarps: 8}, Keep: 1, MicroBatch: 1}
	cases := []struct {
		cfg  model.Config
		opts Options
		want string // the attention kernels in use
	}{
		{smallConfig(48, 6, 2, 8), Options{FP32: true}, "plain"},
		{smallConfig(48, 6, 2, 8), Options{}, "plain"},
		{smallConfig(48, 6, 2, 8), v2, "plain"},
		{smallConfig(128, 2, 1, 64), Options{}, "mma"},
		{smallConfig(128, 2, 1, 64), Options{Keep: RecomputeAll, MicroBatch: 1, ChunkRows: 7}, "mma"},
		{smallConfig(256, 2, 2, 128), Options{Keep: 1, MicroBatch: 1}, "mma"},
		{smallConfig(128, 2, 1, 64), Options{FP32: true, Keep: 2}, "plain"},
		{smallConfig(128, 2, 1, 64), Options{Attention: AttnKernels{Kind: AttnPlain}}, "plain"},
		{smallConfig(128, 2, 1, 64), v2, "v2:8/4/4"},
		{smallConfig(256, 2, 2, 128), v2w, "v2:4/8/8"},
		{smallConfig(256, 2, 2, 128), Options{FP32: true, Attention: v2.Attention}, "plain"},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			B, T := 2, 70
			d := newFake(t)
			e, err := newEngine(d, c.cfg, B, T, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Attention().String(); got != c.want {
				t.Errorf("attention kernels %s, want %s", got, c.want)
			}
			N := int(e.N)
			buf := make([]float32, N)
			ids := make([]int32, B*T)
			labels := make([]int32, B*T)
			model.NewSyntheticStream(c.cfg.VocabSize, 1).Fill(ids, labels, T)
			e.WriteParams(buf)
			e.WriteOptState(buf, buf, 3)
			e.ZeroGrads()
			e.ForwardBackward(ids, labels, 1e-3, 1e-4)
			e.GradNorm()
			e.Step(model.OLMo2AdamW(), 1e-3, 0.5)
			if s := e.ReadOptState(buf, buf); s != 4 {
				t.Errorf("step count %d after one step from 3", s)
			}
			e.ReadParams(buf)
			e.WriteParamsAt(buf[3:N-2], 3) // the bf16 copy of an unaligned range: cast_bf16 at an offset
			e.ReadParamsAt(buf[:N-1], 1)
			e.WriteOptStateAt(buf[:5], nil, N-5, 4)
			if s := e.ReadOptStateAt(nil, buf[:N-7], 7); s != 4 {
				t.Errorf("step count %d after a ranged write of 4", s)
			}
			e.ReadGrads(buf)
			e.LogProbs(make([]float32, B*T), ids, labels)
			e.Logits(make([]float32, B*T*c.cfg.VocabSize), ids)
			e.Close()
			if err := d.close(); err != nil {
				t.Error(err)
			}
			if d.entered != 0 {
				t.Errorf("device still entered %d times", d.entered)
			}
			if d.gemms == 0 || len(d.kernels) < 10 {
				t.Errorf("only %d kernels and %d products ran", len(d.kernels), d.gemms)
			}
			// the attention kernels of the chosen family, and only those, ran
			family := map[string]string{"plain": "_f32|_bf16", "mma": "_mma", "v2": "_v2_"}[strings.Split(c.want, ":")[0]]
			for name := range d.kernels {
				if !strings.HasPrefix(name, "attn_") || strings.HasPrefix(name, "attn_bwd_pre") {
					continue
				}
				ok := false
				for _, f := range strings.Split(family, "|") {
					ok = ok || strings.Contains(name, f)
				}
				if !ok {
					t.Errorf("ran %s with attention %s", name, c.want)
				}
			}
		})
	}
}

// TestLaunchChecks: the engine refuses an argument list that does not match
// the kernel's PTX declaration (which would silently shift every later
// parameter on the GPU) and launches outside the limits.
func TestLaunchChecks(t *testing.T) {
	d := newFake(t)
	e, err := newEngine(d, smallConfig(48, 6, 2, 8), 1, 8, Options{FP32: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	defer d.enter()()
	mustPanic := func(what string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", what)
			}
		}()
		f()
	}
	p := e.p(e.o.dres)
	mustPanic("missing argument", func() { e.launch("rms_dw_reduce", dim3{1, 1, 1}, threads(256), 0, ptr(p), ptr(p), i32(1)) })
	mustPanic("float for int", func() {
		e.launch("rms_dw_reduce", dim3{1, 1, 1}, threads(256), 0, ptr(p), ptr(p), f32arg(1), i32(1))
	})
	mustPanic("unknown kernel", func() { e.launch("nope", dim3{1, 1, 1}, threads(32), 0) })
	mustPanic("grid.y", func() {
		e.launch("rms_dw_reduce", dim3{1, 70000, 1}, threads(256), 0, ptr(p), ptr(p), i32(1), i32(1))
	})
	mustPanic("block", func() { e.launch("rms_dw_reduce", dim3{1, 1, 1}, threads(100), 0, ptr(p), ptr(p), i32(1), i32(1)) })
	mustPanic("shared memory", func() {
		e.launch("rms_dw_reduce", dim3{1, 1, 1}, threads(256), smemOptin90+16, ptr(p), ptr(p), i32(1), i32(1))
	})
	e.launch("rms_dw_reduce", dim3{1, 1, 1}, threads(256), 0, ptr(p), ptr(p), i32(1), i32(1))
}

// TestParseAttention: the forms OLMOLAB_GPU_ATTN takes, and their String.
func TestParseAttention(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", DefaultAttention}, {"mma", "mma"}, {"plain", "plain"}, {"auto", "auto"}, {"v2", "v2:8/4/4"}, {"v2:4/8/4", "v2:4/8/4"},
		{"v2:8/8/8", "v2:8/8/8"},
	} {
		a, err := ParseAttention(c.in)
		if err != nil || a.String() != c.want {
			t.Errorf("ParseAttention(%q) = %v, %v; want %s", c.in, a, err, c.want)
		}
		if b, err := ParseAttention(a.String()); err != nil || b != a.withDefaults() {
			t.Errorf("%q does not read back: %v, %v", a.String(), b, err)
		}
	}
	for _, bad := range []string{"v3", "v2:", "v2:8/4", "v2:8/4/6", "v2:8/4/4/4", "V2", "v2:a/b/c"} {
		if _, err := ParseAttention(bad); err == nil {
			t.Errorf("ParseAttention(%q) accepted", bad)
		}
	}
}

// TestV2SharedMemory: the v2 kernels' shared memory as attention_v2.cu's
// header states it, and an engine on a device with less refuses v2.
func TestV2SharedMemory(t *testing.T) {
	for _, c := range []struct{ got, want int }{
		{v2FwdSmem(64), 36864}, {v2FwdSmem(128), 69632},
		{v2DKVSmem(64, 4), 56320}, {v2DKVSmem(64, 8), 74752}, {v2DKVSmem(128, 4), 105472}, {v2DKVSmem(128, 8), 140288},
	} {
		if c.got != c.want {
			t.Errorf("shared memory %d, want %d", c.got, c.want)
		}
	}
	d := &smallSmem{newFake(t)}
	opts := Options{Attention: AttnKernels{Kind: AttnV2, DKVWarps: 8}}
	if _, err := newEngine(d, smallConfig(256, 2, 2, 128), 1, 70, opts); err == nil || !strings.Contains(err.Error(), "shared memory") {
		t.Errorf("v2:8/4/8 at head size 128 on a 100 KiB device: %v", err)
	}
	opts.Attention.DKVWarps = 4 // 105,472 bytes: still too much
	if _, err := newEngine(d, smallConfig(256, 2, 2, 128), 1, 70, opts); err == nil {
		t.Error("v2 at head size 128 accepted on a 100 KiB device")
	}
	e, err := newEngine(d, smallConfig(128, 2, 1, 64), 1, 70, opts) // 56,320 bytes
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
}

// TestBenchAttentionWalk launches every attention variant of the benchmark
// on the fake device (argument lists against the PTX, launch limits, memory).
func TestBenchAttentionWalk(t *testing.T) {
	var vs []AttnKernels
	for _, s := range []string{"mma", "plain", "v2", "v2:4/8/8"} {
		a, err := ParseAttention(s)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, a)
	}
	for _, hs := range []int{64, 128} {
		d := newFake(t)
		rows, err := benchAttention(d, AttnBenchParams{B: 2, T: 70, NH: 4, NKV: 2, HS: hs, Variants: vs, Iters: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(vs) || rows[3].Variant != "v2:4/8/8" || !rows[0].Deterministic {
			t.Errorf("rows %+v", rows)
		}
		if d.kernels["attn_bwd_dkv_v2_"+fmt.Sprint(hs)] != 2*(1+2) || len(d.allocs) != 0 {
			t.Errorf("launches %v, allocations left %d", d.kernels, len(d.allocs))
		}
	}
}

// smallSmem is a device with 100 KiB of shared memory per block (an A100 has 163).
type smallSmem struct{ *fakeDevice }

func (smallSmem) smemLimit() int { return 100 << 10 }

// TestArgPacking: 4-byte parameters sit in the low bytes of their 8-byte slot,
// as cuLaunchKernel reads them on a little-endian machine.
func TestArgPacking(t *testing.T) {
	if a := i32(-2); a.v != 0xfffffffe || a.kind.ptx() != "u32" {
		t.Errorf("i32(-2) = %#x %s", a.v, a.kind.ptx())
	}
	if a := f32arg(1.5); a.v != 0x3fc00000 || a.kind.ptx() != "f32" {
		t.Errorf("f32(1.5) = %#x %s", a.v, a.kind.ptx())
	}
	if a := i64(-1); a.v != ^uint64(0) || a.kind.ptx() != "u64" {
		t.Errorf("i64(-1) = %#x", a.v)
	}
	if a := ptr(0x1234); a.v != 0x1234 || a.kind.ptx() != "u64" {
		t.Errorf("ptr = %#x", a.v)
	}
	sigs, err := kernels.Signatures(kernels.PTX80)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"u64", "u64", "u64", "u64", "u64", "u64", "f32", "f32", "f32", "f32", "f32", "f32", "f32"}
	if got := sigs["adamw"]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("adamw's PTX parameters %v, want %v", got, want)
	}
	// the CUDA device's parameter block has maxArgs slots (launch_cuda.go),
	// and launch refuses more: every kernel, launched by a test or not, fits
	for _, ptx := range []string{kernels.PTX80, kernels.PTX90} {
		sigs, err := kernels.Signatures(ptx)
		if err != nil {
			t.Fatal(err)
		}
		for name, sig := range sigs {
			if len(sig) > maxArgs {
				t.Errorf("kernel %s takes %d parameters, more than maxArgs (%d)", name, len(sig), maxArgs)
			}
		}
	}
}

// TestProfile: with profiling on, every operation lands under phase:operation.
func TestProfile(t *testing.T) {
	d := newFake(t)
	cfg := smallConfig(128, 2, 1, 64)
	e, err := newEngine(d, cfg, 1, 70, Options{Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	defer func(n int) { profileStamps = n }(profileStamps)
	profileStamps = 16 // flush many times within a step
	if err := e.EnableProfile(); err != nil {
		t.Fatal(err)
	}
	ids, labels := make([]int32, 70), make([]int32, 70)
	model.NewSyntheticStream(cfg.VocabSize, 1).Fill(ids, labels, 70)
	for i := 0; i < 2; i++ {
		e.ZeroGrads()
		e.ForwardBackward(ids, labels, 1e-3, 1e-4)
		e.GradNorm()
		e.Step(model.OLMo2AdamW(), 1e-3, 1)
	}
	p := e.Profile()
	for _, k := range []string{"fwd:gemm", "fwd:attention", "fwd:qknorm_rope_fwd", "head:gemm", "head:ce_chunk",
		"recompute:gemm", "bwd:attention", "bwd:gemm", "bwd:embed_bwd", "optim:adamw", "optim:memset", "norm:sumsq_part", "host:idle"} {
		if _, ok := p[k]; !ok {
			t.Errorf("profile lacks %s (has %v)", k, p)
		}
	}
	if s := FormatProfile(p, nil, 2); !strings.Contains(s, "fwd:attention") || !strings.Contains(s, "total") {
		t.Errorf("FormatProfile:\n%s", s)
	}
	// the modeled bytes: two steps' worth of the memory-bound operations, none for products and attention
	pb := e.ProfileBytes()
	if w := 2 * 30 * float64(e.N); pb["optim:adamw"] != w {
		t.Errorf("profile bytes of optim:adamw %g, want %g (two steps of 30 bytes a parameter)", pb["optim:adamw"], w)
	}
	for _, k := range []string{"fwd:gemm", "fwd:attention", "bwd:attention", "host:idle"} {
		if _, ok := pb[k]; ok {
			t.Errorf("profile bytes has %s", k)
		}
	}
	e.ResetProfile()
	if len(e.Profile()) != 0 || len(e.ProfileBytes()) != 0 {
		t.Error("ResetProfile left entries")
	}
}

// TestFormatProfileBandwidth: an operation with modeled bytes gets its GB
// per step, the achieved GB/s (bytes over measured time) and that as a share
// of 4.8 TB/s; one without gets dashes.
func TestFormatProfileBandwidth(t *testing.T) {
	// over 2 steps: rope_bwd 20 ms moving 48 GB: 24 GB/step, 2400 GB/s, 50% of 4.8 TB/s
	s := FormatProfile(map[string]float64{"bwd:rope_bwd": 20, "fwd:gemm": 100}, map[string]float64{"bwd:rope_bwd": 48e9}, 2)
	for _, w := range []string{"GB/s", "24.000      2400   50.0%", "fwd:gemm                              50.00  83.3%         -         -       -"} {
		if !strings.Contains(s, w) {
			t.Errorf("FormatProfile lacks %q:\n%s", w, s)
		}
	}
}

// stubProber answers chooseAttention from tables: each layout's outputs
// (one value per output; good when absent), its launch error, and its
// kernels' times; it records what was run and what timed.
type stubProber struct {
	injectedTimes
	out    map[string][5]float32 // o, lse, dq, dk, dv
	second map[string][5]float32 // a layout's outputs from its second run on (default: out's)
	fail   map[string]error
	ran    []string
}

// injectedTimes is a test prober's timing: each layout's per-kernel ms from
// a table, and the layouts timed, in order (the emulator's test uses it too).
type injectedTimes struct {
	ms       map[string]AttnMs
	timed    []string
	failTime map[string]error // a layout whose launches fail while timed
}

func (p *injectedTimes) time(ks []AttnKernels, reps int) ([]AttnMs, error) {
	var ms []AttnMs
	for _, k := range ks {
		p.timed = append(p.timed, k.String())
		if err := p.failTime[k.String()]; err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		ms = append(ms, p.ms[k.String()])
	}
	return ms, nil
}

var stubGood = [5]float32{1, 5, 0.5, 0.25, 2}

func (p *stubProber) run(k AttnKernels) (*attnResult, error) {
	again := slices.Contains(p.ran, k.String())
	p.ran = append(p.ran, k.String())
	if err := p.fail[k.String()]; err != nil {
		return nil, err
	}
	v, ok := p.out[k.String()]
	if !ok {
		v = stubGood
	}
	if w, ok := p.second[k.String()]; ok && again {
		v = w
	}
	bits := func(x float32) uint16 { return uint16(math.Float32bits(x) >> 16) }
	return &attnResult{rows: 1, qc: 1, kc: 1, a: []uint16{bits(v[0])}, lse: []float32{v[1]},
		dqkv: []uint16{bits(v[2]), bits(v[3]), bits(v[4])}}, nil
}

// TestChooseAttention: auto's decision on injected outputs and per-kernel
// timings. The warp counts that fit are launched as v2:4/4/4 and v2:8/8/8
// (v2:8/8/4 where dK/dV's 8 warps do not fit); a layout that disagrees with
// mma or fails to launch is dropped with its reason and never timed; each
// kernel takes its fastest warp count (DefaultV2's within autoMargin); the
// composed layout, checked first when it is a new one, replaces mma only
// when faster by more than autoMargin; a lost device or a failing reference
// is an error.
func TestChooseAttention(t *testing.T) {
	full, small, tiny := fitV2(128, smemOptin90), fitV2(128, 128<<10), fitV2(128, 48<<10)
	times := func() map[string]AttnMs {
		return map[string]AttnMs{
			"mma":      {Fwd: 1.2, Pre: 0.05, DQ: 1.0, DKV: 1.6},
			"v2:4/4/4": {Fwd: 0.95, Pre: 0.05, DQ: 0.70, DKV: 1.10},
			"v2:8/8/8": {Fwd: 0.81, Pre: 0.06, DQ: 0.76, DKV: 1.05}, // dK/dV 4.5% faster than at 4 warps
			"v2:8/8/4": {Fwd: 0.81, Pre: 0.06, DQ: 0.76, DKV: 1.12},
			"cudnn":    {Fwd: 0.60, DKV: 1.40},
		}
	}
	offered := fusedOffer{Offered: true, Lib: "cuDNN 9.10.2 (libcudnn.so.9); fwd engine 7"}
	for _, c := range []struct {
		name       string
		fit        autoFit
		fused      fusedOffer
		edit       func(p *stubProber)
		chose      string
		ran, timed string
		log        []string // in String()
	}{
		{name: "composed", fit: full, chose: "v2:8/4/8",
			ran: "[mma v2:4/4/4 v2:8/8/8 v2:8/4/8]", timed: "[mma v2:4/4/4 v2:8/8/8]",
			log: []string{"chose v2:8/4/8", "fwd mma 1.200, v2 4w 0.950, v2 8w 0.810*", "dQ mma 1.000, v2 4w 0.700*, v2 8w 0.760",
				"dK/dV mma 1.600, v2 4w 1.100, v2 8w 1.050*", "pre 0.050", "fwd+bwd mma 3.850, v2:8/4/8 2.610"}},
		{name: "default within the margin", fit: full, chose: "v2:8/4/4",
			edit: func(p *stubProber) { p.ms["v2:8/8/8"] = AttnMs{Fwd: 0.81, Pre: 0.05, DQ: 0.76, DKV: 1.09} },
			ran:  "[mma v2:4/4/4 v2:8/8/8 v2:8/4/4]", timed: "[mma v2:4/4/4 v2:8/8/8]"},
		{name: "composed disagrees", fit: full, chose: "mma",
			edit: func(p *stubProber) { p.out["v2:8/4/8"] = [5]float32{1, 5, 0.5, 0.5, 2} },
			ran:  "[mma v2:4/4/4 v2:8/8/8 v2:8/4/8]", timed: "[mma v2:4/4/4 v2:8/8/8]",
			log: []string{"chose mma", "v2:8/4/8 dropped: dk differs from mma by 1 "}},
		{name: "within the margin of mma", fit: full, chose: "mma",
			edit: func(p *stubProber) {
				p.ms["v2:4/4/4"] = AttnMs{Fwd: 1.18, Pre: 0.05, DQ: 1.0, DKV: 1.59}
				p.ms["v2:8/8/8"] = AttnMs{Fwd: 1.19, Pre: 0.05, DQ: 0.99, DKV: 1.6}
			},
			ran: "[mma v2:4/4/4 v2:8/8/8]", timed: "[mma v2:4/4/4 v2:8/8/8]", log: []string{"fwd+bwd mma 3.850, v2:8/4/4 3.830"}},
		{name: "refused launch", fit: full, chose: "v2:4/4/4",
			edit: func(p *stubProber) {
				p.fail["v2:8/8/8"] = errors.New("launch attn_bwd_dkv_v2_128: CUDA_ERROR_INVALID_VALUE")
			},
			ran: "[mma v2:4/4/4 v2:8/8/8]", timed: "[mma v2:4/4/4]",
			log: []string{"v2:8/8/8 dropped: launch attn_bwd_dkv_v2_128: CUDA_ERROR_INVALID_VALUE", "fwd mma 1.200, v2 4w 0.950*;"}},
		{name: "NaN disagrees", fit: full, chose: "v2:8/8/8",
			edit: func(p *stubProber) { p.out["v2:4/4/4"] = [5]float32{float32(math.NaN()), 5, 0.5, 0.25, 2} },
			ran:  "[mma v2:4/4/4 v2:8/8/8]", timed: "[mma v2:8/8/8]", log: []string{"v2:4/4/4 dropped: o differs"}},
		{name: "dK/dV 8w does not fit", fit: small, chose: "v2:8/4/4",
			ran: "[mma v2:4/4/4 v2:8/8/4 v2:8/4/4]", timed: "[mma v2:4/4/4 v2:8/8/4]",
			log: []string{"dK/dV mma 1.600, v2 4w 1.100*;", "v2 does not fit at dK/dV 8w 140288 bytes of shared memory a block (the device allows 131072)"}},
		{name: "no v2 fits", fit: tiny, chose: "mma", ran: "[mma]", timed: "[mma]", log: []string{"v2 does not fit at fwd 4w/8w 69632/69632, dQ 4w/8w 69632/69632, dK/dV 4w/8w 105472/140288 bytes"}},
		// cuDNN: run twice (bit-identical), timed with the others, chosen when faster than the v2 choice
		{name: "cudnn fastest", fit: full, fused: offered, chose: "cudnn",
			ran: "[mma v2:4/4/4 v2:8/8/8 cudnn cudnn v2:8/4/8]", timed: "[mma v2:4/4/4 v2:8/8/8 cudnn]",
			log: []string{"chose cudnn", "pre 0.050", "fwd+bwd mma 3.850, v2:8/4/8 2.610, cudnn 2.000 (fwd 0.600, bwd 1.400; bit-identical twice)",
				"cudnn: cuDNN 9.10.2 (libcudnn.so.9); fwd engine 7"}},
		{name: "cudnn within the margin of v2", fit: full, fused: offered, chose: "v2:8/4/8",
			edit: func(p *stubProber) { p.ms["cudnn"] = AttnMs{Fwd: 0.8, DKV: 1.79} },
			ran:  "[mma v2:4/4/4 v2:8/8/8 cudnn cudnn v2:8/4/8]", timed: "[mma v2:4/4/4 v2:8/8/8 cudnn]"},
		{name: "cudnn beats mma alone", fit: tiny, fused: offered, chose: "cudnn", ran: "[mma cudnn cudnn]", timed: "[mma cudnn]"},
		{name: "cudnn disagrees", fit: tiny, fused: offered, chose: "mma",
			edit: func(p *stubProber) { p.out["cudnn"] = [5]float32{1, 5, 0.5, 0.25, 3} },
			ran:  "[mma cudnn]", timed: "[mma]", log: []string{"cudnn dropped: dv differs from mma by 0.5"}},
		{name: "cudnn not deterministic", fit: tiny, fused: offered, chose: "mma",
			edit: func(p *stubProber) { p.second["cudnn"] = [5]float32{1, 5, 0.5, 0.25, 2.25} },
			ran:  "[mma cudnn cudnn]", timed: "[mma]", log: []string{"cudnn dropped: not deterministic: a second run differs bit for bit"}},
		{name: "cudnn fails to run", fit: tiny, fused: offered, chose: "mma",
			edit: func(p *stubProber) {
				p.fail["cudnn"] = errors.New("cudnn attention forward: cudnnBackendExecute (forward): CUDNN_STATUS_EXECUTION_FAILED")
			},
			ran: "[mma cudnn]", timed: "[mma]", log: []string{"cudnn dropped: cudnn attention forward: cudnnBackendExecute"}},
		{name: "cudnn fails while timed", fit: tiny, fused: offered, chose: "mma",
			edit: func(p *stubProber) {
				p.failTime = map[string]error{"cudnn": errors.New("cudnn attention backward: CUDNN_STATUS_EXECUTION_FAILED")}
			},
			ran: "[mma cudnn cudnn]", timed: "[mma cudnn mma]",
			log: []string{"cudnn dropped: its timing: cudnn: cudnn attention backward: CUDNN_STATUS_EXECUTION_FAILED"}},
		{name: "cudnn not offered", fit: tiny, fused: fusedOffer{Why: "no usable cuDNN 9 (set OLMOLAB_CUDNN to a libcudnn.so.9)"}, chose: "mma",
			ran: "[mma]", timed: "[mma]", log: []string{"cudnn dropped: no usable cuDNN 9 (set OLMOLAB_CUDNN to a libcudnn.so.9)"}},
	} {
		p := &stubProber{out: map[string][5]float32{}, second: map[string][5]float32{}, fail: map[string]error{},
			injectedTimes: injectedTimes{ms: times()}}
		if c.edit != nil {
			c.edit(p)
		}
		ch, err := chooseAttention(p, c.fit, c.fused)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		t.Logf("%s: %s", c.name, ch)
		if ch.Chosen.String() != c.chose || fmt.Sprint(p.ran) != c.ran || fmt.Sprint(p.timed) != c.timed {
			t.Errorf("%s: chose %s after running %v and timing %v; want %s after %s and %s", c.name, ch.Chosen, p.ran, p.timed, c.chose, c.ran, c.timed)
		}
		for _, want := range c.log {
			if s := ch.String(); !strings.Contains(s, want) {
				t.Errorf("%s: String() = %s\nwant %q in it", c.name, s, want)
			}
		}
	}
	// a lost device, or a failing reference, chooses nothing
	p := &stubProber{injectedTimes: injectedTimes{ms: times()}, fail: map[string]error{"v2:8/8/8": fmt.Errorf("illegal address; then sync failed: %w", errDeviceLost)}}
	if _, err := chooseAttention(p, full, fusedOffer{}); err == nil || !strings.Contains(err.Error(), "v2:8/8/8") || !strings.Contains(err.Error(), "OLMOLAB_GPU_ATTN=mma") {
		t.Errorf("device lost: %v", err)
	}
	p.fail["mma"] = errors.New("no kernel")
	if _, err := chooseAttention(p, full, fusedOffer{}); err == nil || !strings.Contains(err.Error(), "reference") {
		t.Errorf("reference failed: %v", err)
	}
}

// TestAutoEngineWalk: an engine with OLMOLAB_GPU_ATTN=auto runs the trial
// on its own buffers (the fake device checks every address), ends with named
// kernels and the reasons, and leaves fp32 and other head sizes on plain.
func TestAutoEngineWalk(t *testing.T) {
	auto := Options{Attention: AttnKernels{Kind: AttnAuto}}
	for _, c := range []struct {
		cfg  model.Config
		opts Options
	}{{smallConfig(256, 4, 2, 64), auto}, {smallConfig(256, 2, 2, 128), auto}} {
		d := newFake(t)
		e, err := newEngine(d, c.cfg, 2, 70, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		ch := e.AttentionChoice()
		if ch == nil || e.Attention().Kind == AttnAuto || len(ch.Trials) < 3 || ch.Chosen != e.Attention() {
			t.Fatalf("attention %s, choice %v", e.Attention(), ch)
		}
		t.Log(ch)
		e.Close()
		if len(d.allocs) != 0 {
			t.Errorf("%d allocations left", len(d.allocs))
		}
	}
	for _, c := range []struct {
		cfg  model.Config
		opts Options
	}{{smallConfig(48, 6, 2, 8), auto}, {smallConfig(256, 4, 2, 64), Options{FP32: true, Attention: auto.Attention}}} {
		e, err := newEngine(newFake(t), c.cfg, 2, 70, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if e.Attention().Kind != AttnPlain || e.AttentionChoice() != nil {
			t.Errorf("fp32 %v head size %d: attention %s, choice %v", c.opts.FP32, c.cfg.HeadSize(), e.Attention(), e.AttentionChoice())
		}
		e.Close()
	}
}
