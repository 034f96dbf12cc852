package gpu

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/olmolab/olmolab/model"
)

// nullDevice does nothing and allocates nothing on the Go heap: with it,
// testing.AllocsPerRun counts the engine's own allocations (the fake
// device's checks format messages, the emulator runs kernels).
type nullDevice struct {
	next dptr
}

func (d *nullDevice) name() string { return "null" }
func (d *nullDevice) alloc(n int64) (dptr, error) {
	if d.next == 0 {
		d.next = 1 << 40
	}
	p := d.next
	d.next += dptr((n + 1<<20) &^ (1<<20 - 1))
	return p, nil
}
func (d *nullDevice) free(dptr) error                             { return nil }
func (d *nullDevice) htod(dptr, unsafe.Pointer, int64) error      { return nil }
func (d *nullDevice) dtoh(unsafe.Pointer, dptr, int64) error      { return nil }
func (d *nullDevice) zero(dptr, int64) error                      { return nil }
func (d *nullDevice) launch(string, dim3, dim3, int, []arg) error { return nil }
func (d *nullDevice) gemm(gemmOp) error                           { return nil }
func (d *nullDevice) sync() error                                 { return nil }
func (d *nullDevice) memInfo() (free, total int64, err error)     { return 1 << 36, 1 << 36, nil }
func (d *nullDevice) smemLimit() int                              { return smemOptin90 }
func (d *nullDevice) enter() func()                               { return nullLeave }
func (d *nullDevice) stamps(n int) (stamper, error)               { return make(wallStamps, n), nil }
func (d *nullDevice) close() error                                { return nil }
func nullLeave()                                                  {}

// nullFusedDevice is a nullDevice with a library attention that does
// nothing.
type nullFusedDevice struct{ nullDevice }

type nullFused struct{}

func (nullFusedDevice) fusedAttnLib() (string, error)           { return "null cuDNN", nil }
func (nullFusedDevice) fusedRefusesRows(s fusedAttnShape) error { return nil }
func (nullFusedDevice) newFusedAttn(s fusedAttnShape, ws func(int64) (dptr, error)) (fusedAttn, error) {
	if _, err := ws(1 << 20); err != nil {
		return nil, err
	}
	return nullFused{}, nil
}
func (nullFused) fwd(o, lse, q, k, v dptr) error                      { return nil }
func (nullFused) bwd(dq, dk, dv, D, dout, o, lse, q, k, v dptr) error { return nil }
func (nullFused) describe() string                                    { return "null cuDNN" }
func (nullFused) close()                                              {}

// TestStepAllocatesNothing: after the first call, the GPU engine's training
// step (model.Trainer.Step: ZeroGrads, ForwardBackward, GradNorm, Step), its
// LogProbs and a Scorer's LogProbs, and both's LogProbsPacked, make no Go heap allocation (model's
// TestStepAllocatesNothing for the CPU engine), on every attention path, in
// both precisions, with passes and recomputation.
func TestStepAllocatesNothing(t *testing.T) {
	cases := []struct {
		cfg  model.Config
		opts Options
	}{
		{smallConfig(48, 6, 2, 8), Options{FP32: true}},
		{smallConfig(48, 6, 2, 8), Options{}},
		{smallConfig(128, 2, 1, 64), Options{}},
		{smallConfig(128, 2, 1, 64), Options{Keep: 1, MicroBatch: 1, ChunkRows: 7}},
		{smallConfig(256, 2, 2, 128), Options{Attention: AttnKernels{Kind: AttnV2}}},
		{smallConfig(128, 2, 1, 64), Options{Attention: AttnKernels{Kind: AttnPlain}}},
		{smallConfig(128, 2, 1, 64), Options{Attention: AttnKernels{Kind: AttnCuDNN}, Keep: 1, MicroBatch: 1}},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			const B, T = 2, 70
			var dev device = &nullDevice{}
			if c.opts.Attention.Kind == AttnCuDNN {
				dev = &nullFusedDevice{}
			}
			e, err := newEngine(dev, c.cfg, B, T, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			ids, labels := make([]int32, B*T), make([]int32, B*T)
			model.NewSyntheticStream(c.cfg.VocabSize, 1).Fill(ids, labels, T)
			// the trainer's step: ZeroGrads, ForwardBackward, GradNorm, clipping, Step
			tr := &model.Trainer{B: e, P: model.TrainerParams{Opt: model.OLMo2AdamW(), MaxGradNorm: 1, ZLoss: 1e-5}}
			step := func() { tr.Step(ids, labels, 1e-3) }
			step()
			if n := testing.AllocsPerRun(5, step); n != 0 {
				t.Errorf("%s, attention %s: a training step allocates %.1f times", e.Plan(), e.Attention(), n)
			}
			lp := make([]float32, B*T)
			e.LogProbs(lp, ids, labels)
			if n := testing.AllocsPerRun(5, func() { e.LogProbs(lp, ids, labels) }); n != 0 {
				t.Errorf("%s, attention %s: LogProbs allocates %.1f times", e.Plan(), e.Attention(), n)
			}
			const SB, ST = 4, 32
			s, err := e.Scorer(SB, ST)
			if err != nil {
				t.Fatal(err)
			}
			sids, slab := make([]int32, SB*ST), make([]int32, SB*ST)
			model.NewSyntheticStream(c.cfg.VocabSize, 2).Fill(sids, slab, ST)
			slp := make([]float32, SB*ST)
			s.LogProbs(slp, sids, slab)
			if n := testing.AllocsPerRun(5, func() { s.LogProbs(slp, sids, slab) }); n != 0 {
				t.Errorf("Scorer %d×%d, attention %s: LogProbs allocates %.1f times", SB, ST, s.Attention(), n)
			}
			pk := testPacking(B, T)
			e.LogProbsPacked(lp, ids, labels, pk)
			if n := testing.AllocsPerRun(5, func() { e.LogProbsPacked(lp, ids, labels, pk) }); n != 0 {
				t.Errorf("%s, attention %s: LogProbsPacked allocates %.1f times", e.Plan(), e.Attention(), n)
			}
			spk := testPacking(SB, ST)
			s.LogProbsPacked(slp, sids, slab, spk)
			if n := testing.AllocsPerRun(5, func() { s.LogProbsPacked(slp, sids, slab, spk) }); n != 0 {
				t.Errorf("Scorer %d×%d, attention %s: LogProbsPacked allocates %.1f times", SB, ST, s.Attention(), n)
			}
		})
	}
}

// testPacking packs B rows of T: the first a prefix of T/2 and two segments
// after it, the others plain (model.Packing).
func testPacking(B, T int) model.Packing {
	p := model.Packing{Pos: make([]int32, B*T), Seg: make([]int32, B*T), Prefix: make([]int32, B)}
	for i := range p.Pos {
		p.Pos[i] = int32(i % T)
	}
	P := T / 2
	p.Prefix[0] = int32(P)
	for t := P; t < T; t++ {
		seg := P + (t-P)/((T-P+1)/2)*((T-P+1)/2)
		p.Pos[t], p.Seg[t] = int32(P+t-seg), int32(seg)
	}
	return p
}

// TestProfileAllocatesNothing: with profiling on (gpubench bench --profile),
// the training step and LogProbs make no Go heap allocation either: the
// labels "phase:operation" are built once per engine, not at every launch,
// product and memset, so the profile perturbs the host time it shares with
// the step no more than its events do. The pool is small enough to flush
// inside the measured calls.
func TestProfileAllocatesNothing(t *testing.T) {
	defer func(n int) { profileStamps = n }(profileStamps)
	profileStamps = 64
	for i, c := range []struct {
		cfg  model.Config
		opts Options
	}{
		{smallConfig(128, 2, 1, 64), Options{Keep: 1, MicroBatch: 1}},
		{smallConfig(48, 6, 2, 8), Options{FP32: true}},
		{smallConfig(128, 2, 1, 64), Options{Attention: AttnKernels{Kind: AttnCuDNN}, Keep: 1, MicroBatch: 1}},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			const B, T = 2, 70
			var dev device = &nullDevice{}
			if c.opts.Attention.Kind == AttnCuDNN {
				dev = &nullFusedDevice{}
			}
			e, err := newEngine(dev, c.cfg, B, T, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if err := e.EnableProfile(); err != nil {
				t.Fatal(err)
			}
			ids, labels := make([]int32, B*T), make([]int32, B*T)
			model.NewSyntheticStream(c.cfg.VocabSize, 1).Fill(ids, labels, T)
			tr := &model.Trainer{B: e, P: model.TrainerParams{Opt: model.OLMo2AdamW(), MaxGradNorm: 1, ZLoss: 1e-5}}
			lp := make([]float32, B*T)
			call := func() { tr.Step(ids, labels, 1e-3); e.LogProbs(lp, ids, labels) }
			call()
			if n := testing.AllocsPerRun(5, call); n != 0 {
				t.Errorf("%s, attention %s, profiled: a step and LogProbs allocate %.1f times", e.Plan(), e.Attention(), n)
			}
			p := e.Profile()
			for _, k := range []string{"fwd:gemm", "fwd:attention", "bwd:attention", "optim:memset", "host:idle"} {
				if _, ok := p[k]; !ok {
					t.Errorf("profile lacks %s (has %v)", k, p)
				}
			}
		})
	}
}
