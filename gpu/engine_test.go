package gpu

import (
	"fmt"
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
func (d *fakeDevice) alloc(n int64) (dptr, error) {
	p := d.next
	d.allocs[p] = n
	d.next += dptr((n + 1<<20) &^ (1<<20 - 1))
	return p, nil
}
func (d *fakeDevice) free(p dptr) error {
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
	if d.entered == 0 {
		d.t.Errorf("%s outside an engine call (no context bound)", what)
	}
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
func (d *fakeDevice) stamps(n int) (stamper, error)           { return make(wallStamps, n), nil }
func (d *fakeDevice) sync() error                             { return nil }
func (d *fakeDevice) memInfo() (free, total int64, err error) { return 1 << 36, 1 << 36, nil }
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
// both attention paths, with and without recomputation and passes, on the
// fake device. The engine's launch checks every argument list against the
// kernel's PTX signature and the launch limits, so a mismatch panics here.
func TestEngineWalk(t *testing.T) {
	cases := []struct {
		cfg  model.Config
		opts Options
		mma  bool
	}{
		{smallConfig(48, 6, 2, 8), Options{FP32: true}, false},
		{smallConfig(48, 6, 2, 8), Options{}, false},
		{smallConfig(128, 2, 1, 64), Options{}, true},
		{smallConfig(128, 2, 1, 64), Options{Keep: RecomputeAll, MicroBatch: 1, ChunkRows: 7}, true},
		{smallConfig(256, 2, 2, 128), Options{Keep: 1, MicroBatch: 1}, true},
		{smallConfig(128, 2, 1, 64), Options{FP32: true, Keep: 2}, false},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			B, T := 2, 70
			d := newFake(t)
			e, err := newEngine(d, c.cfg, B, T, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if e.mma != c.mma {
				t.Errorf("tensor-core attention = %v, want %v", e.mma, c.mma)
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
			for name := range d.kernels {
				if (len(name) > 8 && name[:8] == "attn_fwd") && (name[len(name)-2:] == "64" || name[len(name)-3:] == "128") != c.mma {
					t.Errorf("ran %s with mma=%v", name, c.mma)
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
		e.launch("rms_dw_reduce", dim3{1, 1, 1}, threads(256), 64<<10, ptr(p), ptr(p), i32(1), i32(1))
	})
	e.launch("rms_dw_reduce", dim3{1, 1, 1}, threads(256), 0, ptr(p), ptr(p), i32(1), i32(1))
}

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
	if s := FormatProfile(p, 2); !strings.Contains(s, "fwd:attention") || !strings.Contains(s, "total") {
		t.Errorf("FormatProfile:\n%s", s)
	}
	e.ResetProfile()
	if len(e.Profile()) != 0 {
		t.Error("ResetProfile left entries")
	}
}
