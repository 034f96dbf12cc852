//go:build emu

package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/model"
)

const golden = "../model/testdata/golden"

// bf16Tolerances are the relative tolerances of the bf16 engine against the
// float64 references (measured on the emulator, which rounds exactly as the
// GPU does, with a margin of about 3×).
var bf16Tolerances = model.VerifyTolerances{Forward: 3e-2, Backward: 6e-2}

func verifyGolden(t *testing.T, set string, opts Options, tol model.VerifyTolerances) {
	t.Helper()
	dir := filepath.Join(golden, set)
	rows, err := model.VerifyBackend(dir, filepath.Join(dir, "case.safetensors"), tol,
		func(cfg model.Config, B, T int) (model.Backend, error) { return NewEmulated(cfg, B, T, opts) })
	if err != nil {
		t.Fatal(err)
	}
	model.SortRowsWorstFirst(rows)
	bad := 0
	for _, r := range rows {
		if !r.OK {
			bad++
			t.Errorf("%s: rel %.3g > %.0g: %s", r.Name, r.MaxRel, r.Tol, r.First)
		}
	}
	t.Logf("%d tensors, worst %s rel %.3g", len(rows), rows[0].Name, rows[0].MaxRel)
}

// TestGoldenFP32 holds the fp32 engine to the CPU engine's tolerances on both
// golden sets, with resident and with recomputed activations, in one pass and
// in passes of one sequence.
func TestGoldenFP32(t *testing.T) {
	for _, set := range []string{"olmo2-tiny", "olmo2-gqa"} {
		for _, o := range []Options{{FP32: true}, {FP32: true, Keep: RecomputeAll, MicroBatch: 1}, {FP32: true, Keep: 1, MicroBatch: 1, ChunkRows: 5}} {
			t.Run(fmt.Sprintf("%s/keep%d_mb%d_chunk%d", set, o.Keep, o.MicroBatch, o.ChunkRows), func(t *testing.T) {
				verifyGolden(t, set, o, model.Float32Tolerances)
			})
		}
	}
}

// TestGoldenBF16 holds the mixed-precision engine to bf16 tolerances.
func TestGoldenBF16(t *testing.T) {
	for _, set := range []string{"olmo2-tiny", "olmo2-gqa"} {
		for _, o := range []Options{{}, {Keep: RecomputeAll, MicroBatch: 1}} {
			t.Run(fmt.Sprintf("%s/keep%d_mb%d", set, o.Keep, o.MicroBatch), func(t *testing.T) {
				verifyGolden(t, set, o, bf16Tolerances)
			})
		}
	}
}

// mmaConfig has head size 64 so the bf16 engine takes the tensor-core
// attention path; T is not a multiple of the 64-row tiles.
func mmaConfig() model.Config {
	eos, pad := 254, 255
	return model.Config{VocabSize: 256, HiddenSize: 128, IntermediateSize: 192, NumHiddenLayers: 2,
		NumAttentionHeads: 2, NumKeyValueHeads: 1, MaxPositionEmbeddings: 4096, RopeTheta: 500000,
		RMSNormEps: 1e-6, InitializerRange: 0.02, EOSTokenID: &eos, PadTokenID: &pad}
}

func relDiff(got, want []float32) float64 {
	var maxRef, maxAbs float64
	for i := range want {
		maxRef = math.Max(maxRef, math.Abs(float64(want[i])))
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(float64(got[i])) {
			d = math.Inf(1)
		}
		maxAbs = math.Max(maxAbs, d)
	}
	if maxRef == 0 {
		return maxAbs
	}
	return maxAbs / maxRef
}

// compareWithCPU runs one ForwardBackward, the gradient norm, one AdamW step,
// LogProbs and Logits on both engines from the same weights and compares.
func compareWithCPU(t *testing.T, cfg model.Config, B, T int, opts Options, fwdTol, bwdTol float64) {
	cpu := model.NewCPUBackend(cfg, B, T, 1)
	defer cpu.Close()
	g, err := NewEmulated(cfg, B, T, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	t.Logf("plan: %s, attention %s", g.Plan(), g.Attention())
	if c := g.AttentionChoice(); c != nil {
		t.Log(c)
	}
	lay := model.NewLayout(cfg)
	params := make([]float32, lay.Size())
	model.Init(lay, params, 7)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range params { // norm weights away from 1, as in the golden sets
		if params[i] == 1 {
			params[i] = float32(1 + 0.1*r.NormFloat64())
		}
	}
	cpu.WriteParams(params)
	g.WriteParams(params)
	ids := make([]int32, B*T)
	labels := make([]int32, B*T)
	model.NewSyntheticStream(cfg.VocabSize, 3).Fill(ids, labels, T)
	labels[3] = model.IgnoreIndex
	n := model.CountLabelled(labels)
	cpu.ZeroGrads()
	g.ZeroGrads()
	lc := cpu.ForwardBackward(ids, labels, 1/float64(n), 1e-4)
	lg := g.ForwardBackward(ids, labels, 1/float64(n), 1e-4)
	check := func(name string, rel, tol float64) {
		t.Helper()
		if !(rel <= tol) {
			t.Errorf("%s: rel err %.3g > %.3g", name, rel, tol)
		} else {
			t.Logf("%s: rel err %.3g", name, rel)
		}
	}
	check("loss", math.Abs(lg.CESum-lc.CESum)/lc.CESum, fwdTol)
	check("zloss", math.Abs(lg.ZSum-lc.ZSum)/lc.ZSum, fwdTol)
	if lg.Labelled != lc.Labelled {
		t.Errorf("labelled %d, want %d", lg.Labelled, lc.Labelled)
	}
	gc, gg := make([]float32, lay.Size()), make([]float32, lay.Size())
	cpu.ReadGrads(gc)
	g.ReadGrads(gg)
	for _, tn := range lay.Tensors {
		a, b := gg[tn.Offset:tn.Offset+tn.Numel()], gc[tn.Offset:tn.Offset+tn.Numel()]
		if rel := relDiff(a, b); !(rel <= bwdTol) {
			t.Errorf("grad %s: rel err %.3g > %.3g", tn.Name, rel, bwdTol)
		}
	}
	nc, ng := cpu.GradNorm(), g.GradNorm()
	check("grad norm", math.Abs(ng-nc)/nc, bwdTol)
	o := model.OLMo2AdamW()
	cpu.Step(o, 1e-3, 0.5)
	g.Step(o, 1e-3, 0.5)
	pc, pg := make([]float32, lay.Size()), make([]float32, lay.Size())
	cpu.ReadParams(pc)
	g.ReadParams(pg)
	check("params after step", relDiff(pg, pc), bwdTol)
	mc, vc, mg, vg := make([]float32, lay.Size()), make([]float32, lay.Size()), make([]float32, lay.Size()), make([]float32, lay.Size())
	if s1, s2 := cpu.ReadOptState(mc, vc), g.ReadOptState(mg, vg); s1 != s2 {
		t.Errorf("step count %d, want %d", s2, s1)
	}
	check("adam m", relDiff(mg, mc), bwdTol)
	check("adam v", relDiff(vg, vc), 2*bwdTol)
	lpc, lpg := make([]float32, B*T), make([]float32, B*T)
	cpu.LogProbs(lpc, ids, labels)
	g.LogProbs(lpg, ids, labels)
	check("logprobs", relDiff(lpg, lpc), fwdTol)
	if lpg[3] != 0 {
		t.Errorf("logprob at an ignored target is %v, want 0", lpg[3])
	}
	xc, xg := make([]float32, B*T*cfg.VocabSize), make([]float32, B*T*cfg.VocabSize)
	cpu.Logits(xc, ids)
	g.Logits(xg, ids)
	check("logits", relDiff(xg, xc), bwdTol)
}

func TestAgainstCPU(t *testing.T) {
	cfg := mmaConfig()
	t.Run("fp32", func(t *testing.T) { compareWithCPU(t, cfg, 2, 70, Options{FP32: true}, 1e-4, 1e-3) })
	t.Run("bf16-mma", func(t *testing.T) { compareWithCPU(t, cfg, 2, 70, Options{}, 3e-2, 6e-2) })
	t.Run("bf16-mma-recompute", func(t *testing.T) {
		compareWithCPU(t, cfg, 2, 70, Options{Keep: RecomputeAll, MicroBatch: 1, ChunkRows: 33}, 3e-2, 6e-2)
	})
	c128 := cfg
	c128.NumAttentionHeads, c128.NumKeyValueHeads, c128.HiddenSize = 2, 2, 256
	t.Run("bf16-mma128", func(t *testing.T) { compareWithCPU(t, c128, 1, 40, Options{}, 3e-2, 6e-2) })
	v2 := Options{Attention: DefaultV2}
	t.Run("bf16-v2", func(t *testing.T) { compareWithCPU(t, cfg, 2, 70, v2, 3e-2, 6e-2) })
	t.Run("bf16-v2-recompute", func(t *testing.T) {
		o := Options{Attention: AttnKernels{Kind: AttnV2, FwdWarps: 4, DQWarps: 8, DKVWarps: 8}, Keep: RecomputeAll, MicroBatch: 1, ChunkRows: 33}
		compareWithCPU(t, cfg, 2, 70, o, 3e-2, 6e-2)
	})
	c128gqa := c128
	c128gqa.NumAttentionHeads, c128gqa.NumKeyValueHeads, c128gqa.HiddenSize = 4, 2, 512
	t.Run("bf16-v2-128-gqa", func(t *testing.T) { compareWithCPU(t, c128gqa, 1, 40, v2, 3e-2, 6e-2) })
}

// TestBenchAttention runs gpubench attn's comparison on the emulator: the v2
// layouts agree bit for bit, the other families within bf16 rounding, and
// every variant is deterministic.
func TestBenchAttention(t *testing.T) {
	var vs []AttnKernels
	for _, s := range []string{"v2:4/4/4", "v2:8/8/8", "v2:8/4/8", "mma", "plain"} {
		a, err := ParseAttention(s)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, a)
	}
	for _, p := range []AttnBenchParams{{B: 2, T: 150, NH: 4, NKV: 2, HS: 64}, {B: 1, T: 200, NH: 2, NKV: 1, HS: 128}} {
		p.Variants, p.Iters = vs, 1
		rows, err := BenchAttention(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			t.Logf("HS %d %-9s %v deterministic %v", p.HS, r.Variant, r.MaxRel, r.Deterministic)
			if !r.Deterministic {
				t.Errorf("%s: outputs changed between runs", r.Variant)
			}
			for _, out := range AttnOutputs {
				tol := map[string]float64{"o": 2e-2, "lse": 1e-5, "dq": 5e-2, "dk": 5e-2, "dv": 5e-2}[out]
				if i < 3 {
					tol = 0 // v2 layouts: bit-identical
				}
				if x := r.MaxRel[out]; !(x <= tol) {
					t.Errorf("HS %d %s: %s differs from %s by %.3g (> %.3g)", p.HS, r.Variant, out, rows[0].Variant, x, tol)
				}
			}
		}
	}
}

// TestTrainingParity trains the same tiny model for a few steps on both
// engines through model.Trainer and compares the losses step by step.
func TestTrainingParity(t *testing.T) {
	cfg, _ := model.PresetByName("cpu_xs")
	cfg.VocabSize = 256
	eos, pad := 254, 255
	cfg.EOSTokenID, cfg.PadTokenID = &eos, &pad
	B, T, steps := 2, 32, 8
	lay := model.NewLayout(cfg)
	params := make([]float32, lay.Size())
	model.Init(lay, params, 1)
	for _, opts := range []Options{{FP32: true}, {}} {
		cpu := model.NewCPUBackend(cfg, B, T, 1)
		g, err := NewEmulated(cfg, B, T, opts)
		if err != nil {
			t.Fatal(err)
		}
		cpu.WriteParams(params)
		g.WriteParams(params)
		tc := model.NewTrainerOn(cpu, model.TrainerParams{})
		tg := model.NewTrainerOn(g, model.TrainerParams{})
		sc, sg := model.NewSyntheticStream(cfg.VocabSize, 5), model.NewSyntheticStream(cfg.VocabSize, 5)
		ids, labels := make([]int32, B*T), make([]int32, B*T)
		tol := 3e-4 // Adam's first steps amplify rounding (an update is ±lr for any |g| ≫ eps)
		if !opts.FP32 {
			tol = 2e-2
		}
		for s := 0; s < steps; s++ {
			sc.Fill(ids, labels, T)
			rc := tc.Step(ids, labels, 3e-3)
			sg.Fill(ids, labels, T)
			rg := tg.Step(ids, labels, 3e-3)
			d := math.Abs(rg.Loss-rc.Loss) / rc.Loss
			if !(d <= tol) {
				t.Errorf("fp32=%v step %d: loss %.6f, CPU %.6f (rel %.2g)", opts.FP32, s, rg.Loss, rc.Loss, d)
			}
			if s == 0 || s == steps-1 {
				t.Logf("fp32=%v step %d: loss %.6f, CPU %.6f; grad norm %.5f, CPU %.5f", opts.FP32, s, rg.Loss, rc.Loss, rg.GradNorm, rc.GradNorm)
			}
		}
		tc.Close()
		tg.Close()
	}
}

// refusing is the emulator with one kernel's launches at one block size
// refused, as a driver refuses a launch it cannot run; with lose set, the
// device then fails to synchronise, as after a kernel fault.
type refusing struct {
	*emuDevice
	kernel  string
	threads uint32
	lose    bool
	refused bool
}

func (d *refusing) launch(name string, grid, block dim3, smem int, args []arg) error {
	if name == d.kernel && block[0] == d.threads {
		d.refused = true
		return fmt.Errorf("CUDA_ERROR_INVALID_VALUE (refused by the test)")
	}
	return d.emuDevice.launch(name, grid, block, smem, args)
}

func (d *refusing) sync() error {
	if d.lose && d.refused {
		return fmt.Errorf("CUDA_ERROR_ILLEGAL_ADDRESS (by the test)")
	}
	return nil
}

// rigged is auto's trial on the emulator with real kernels, one layout
// deliberately wrong (its kernels launched with the score scale 1/HS for
// 1/√HS), and injected timings (the emulator's mean nothing); it keeps each
// layout's outputs.
type rigged struct {
	*attnTrial
	injectedTimes
	wrong AttnKernels
	out   map[string]*attnResult
}

// time is the injected timing, not the trial's: timings are meaningless on
// the emulator.
func (r *rigged) time(ks []AttnKernels, reps int) ([]AttnMs, error) {
	return r.injectedTimes.time(ks, reps)
}

func (r *rigged) run(k AttnKernels) (*attnResult, error) {
	if k.Kind == AttnV2 && k == r.wrong { // (the zero wrong is mma: no layout is wrong)
		defer func(s float64) { r.e.scale = s }(r.e.scale)
		r.e.scale = 1 / float64(r.e.HS)
	}
	res, err := r.attnTrial.run(k)
	if err == nil {
		r.out[k.String()] = res
	}
	return res, err
}

// TestAutoAttention runs auto's choice on the emulator, real kernels and
// real comparisons, with injected timings that make v2 beat mma and compose
// v2:8/4/8 (fwd and dK/dV fastest at 8 warps, dQ at 4): a wrong layout and
// one whose dK/dV launch is refused are dropped with their reasons and never
// timed, and the choice is composed of the rest; with all passing, v2:8/4/8
// is run and checked before it is chosen, and its outputs equal, bit for
// bit, those of v2:4/4/4 and v2:8/8/8. A device lost after a refused launch
// ends the choice with an error. Then the trial's own timing runs once, and
// an emulated engine with auto trains as the CPU engine does.
func TestAutoAttention(t *testing.T) {
	for _, c := range []struct {
		name    string
		wrong   string // the layout launched with the wrong scale
		refuse  uint32 // threads of the refused attn_bwd_dkv_v2_128 launches (128: 4 warps)
		lose    bool
		chose   string
		timed   string
		dropped map[string]string
	}{
		{name: "wrong", wrong: "v2:8/8/8", chose: "v2:4/4/4", timed: "[mma v2:4/4/4]",
			dropped: map[string]string{"v2:8/8/8": "differs from mma"}},
		{name: "refused", refuse: 128, chose: "v2:8/8/8", timed: "[mma v2:8/8/8]",
			dropped: map[string]string{"v2:4/4/4": "refused by the test"}},
		{name: "composed", chose: "v2:8/4/8", timed: "[mma v2:4/4/4 v2:8/8/8]"},
		{name: "lost", refuse: 128, lose: true},
	} {
		emu := newEmuDevice(1 << 40)
		dev := &refusing{emuDevice: emu, kernel: "attn_bwd_dkv_v2_128", threads: c.refuse, lose: c.lose}
		func() {
			defer dev.enter()()
			tr, err := newAttnTrial(dev, 1, 80, 2, 1, 128)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.free()
			if err := tr.fill(3); err != nil {
				t.Fatal(err)
			}
			r := &rigged{attnTrial: tr, out: map[string]*attnResult{}, injectedTimes: injectedTimes{ms: map[string]AttnMs{
				"mma":      {Fwd: 1.2, Pre: 0.05, DQ: 1.0, DKV: 1.6},
				"v2:4/4/4": {Fwd: 0.95, Pre: 0.05, DQ: 0.70, DKV: 1.10},
				"v2:8/8/8": {Fwd: 0.81, Pre: 0.05, DQ: 0.76, DKV: 1.05}}}}
			if c.wrong != "" {
				r.wrong, _ = ParseAttention(c.wrong)
			}
			ch, err := chooseAttention(r, fitV2(tr.e.HS, dev.smemLimit()), fusedOffer{})
			if c.lose {
				if err == nil || !strings.Contains(err.Error(), "v2:4/4/4") || !strings.Contains(err.Error(), "ILLEGAL_ADDRESS") {
					t.Errorf("device lost: chose %v, error %v", ch, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s", c.name, ch)
			if ch.Chosen.String() != c.chose || fmt.Sprint(r.timed) != c.timed {
				t.Errorf("%s: chose %s after timing %v; want %s after %s", c.name, ch.Chosen, r.timed, c.chose, c.timed)
			}
			for _, tr := range ch.Trials {
				want := c.dropped[tr.Kernels.String()]
				switch {
				case want != "" && !strings.Contains(tr.Dropped, want):
					t.Errorf("%s: %s dropped for %q (max rel %v), want %q", c.name, tr.Kernels, tr.Dropped, tr.MaxRel, want)
				case want == "" && (tr.Dropped != "" || !(tr.MaxRel["dq"] < 2e-2)): // within bf16 rounding of mma
					t.Errorf("%s: %s: %v %s", c.name, tr.Kernels, tr.MaxRel, tr.Dropped)
				}
			}
			if c.name == "composed" {
				for _, k := range []string{"v2:4/4/4", "v2:8/8/8"} {
					if r.out[k] == nil || r.out["v2:8/4/8"] == nil || !r.out[k].equal(r.out["v2:8/4/8"]) {
						t.Errorf("v2:8/4/8's outputs differ from %s's", k)
					}
				}
				ms, err := tr.time([]AttnKernels{{Kind: AttnMMA}, DefaultV2}, 1) // the device's own timing path
				if err != nil || len(ms) != 2 || !(ms[0].Fwd > 0 && ms[0].Pre > 0 && ms[0].DQ > 0 && ms[1].DKV > 0) {
					t.Errorf("time: %v, %v", ms, err)
				}
			}
		}()
		if err := emu.close(); err != nil {
			t.Error(err)
		}
	}
	// an engine with auto end to end (its choice among agreeing kernels, at
	// the emulator's timings)
	compareWithCPU(t, mmaConfig(), 2, 70, Options{Attention: AttnKernels{Kind: AttnAuto}}, 3e-2, 6e-2)
}

// TestRangedAccess: the engine's ranged reads and writes at odd offsets and
// lengths, in fp32 and bf16: a model written in odd ranges scores the same
// log-probabilities as one written whole, so each ranged write refreshes the
// bf16 copy of its range (cast_bf16 at an unaligned offset included).
func TestRangedAccess(t *testing.T) {
	for _, o := range []Options{{FP32: true}, {}} {
		cfg := smallConfig(48, 6, 2, 8)
		err := model.CheckRangedAccess(func() (model.Backend, error) { return NewEmulated(cfg, 2, 16, o) })
		if err != nil {
			t.Errorf("fp32=%v: %v", o.FP32, err)
		}
	}
}
