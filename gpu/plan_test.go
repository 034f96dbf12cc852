package gpu

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/model"
)

const h200 = 143771 << 20 // bytes nvidia-smi reports for an H200 (KINDS.md)

func preset(t *testing.T, name string) model.Config {
	t.Helper()
	c, err := model.PresetByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPlanRegions checks that every region is aligned, inside the arena and
// disjoint from the others, for both precisions and with and without a
// shared recomputation set.
func TestPlanRegions(t *testing.T) {
	for _, c := range []struct {
		name           string
		mb, keep       int
		fp32           bool
		wantSets       int
		wantWeightCopy bool
	}{
		{"olmo2_190M", 2, 12, false, 12, true},
		{"olmo2_190M", 1, 0, false, 1, true},
		{"olmo2_190M", 2, 5, true, 6, false},
	} {
		cfg := preset(t, c.name)
		p := newPlan(cfg, 4, 256, c.mb, c.keep, chunkRows(cfg, c.mb*256, c.fp32, 0), c.fp32, false)
		bs := append([]Buffer(nil), p.Buffers...)
		sort.Slice(bs, func(i, j int) bool { return bs[i].Offset < bs[j].Offset })
		for i, b := range bs {
			if b.Offset%align != 0 {
				t.Errorf("%s at %d is not %d-aligned", b.Name, b.Offset, align)
			}
			if b.Offset+b.Bytes > p.Arena {
				t.Errorf("%s ends at %d, past the arena (%d)", b.Name, b.Offset+b.Bytes, p.Arena)
			}
			if i > 0 && bs[i-1].Offset+bs[i-1].Bytes > b.Offset {
				t.Errorf("%s overlaps %s", bs[i-1].Name, b.Name)
			}
		}
		if len(p.off.sets) != c.wantSets {
			t.Errorf("%d activation sets, want %d", len(p.off.sets), c.wantSets)
		}
		if (p.off.wT >= 0) != c.wantWeightCopy {
			t.Errorf("bf16 weight copy present = %v, want %v", p.off.wT >= 0, c.wantWeightCopy)
		}
		N := model.NewLayout(cfg).Size()
		if p.Arena < 16*N {
			t.Errorf("arena %d below the 16 bytes per parameter of weights, gradients and moments", p.Arena)
		}
		for l := 0; l < cfg.NumHiddenLayers; l++ {
			if got, want := p.setOf(l), min(l, c.keep); got != want {
				t.Errorf("layer %d uses set %d, want %d", l, got, want)
			}
		}
	}
}

// TestPlan7BFitsH200: olmo2_7B trains at 8×4096 on one H200 (issue 8),
// with recomputation, and the estimate says so before a device exists.
func TestPlan7BFitsH200(t *testing.T) {
	cfg := preset(t, "olmo2_7B")
	est := EstimateMemory(cfg, 8, 4096)
	N := cfg.NumParams()
	if est < 18*N || est > 141e9 {
		t.Errorf("EstimateMemory(7B) = %.1f GB; want between 18 bytes/param (%.1f GB) and 141 GB", float64(est)/1e9, float64(18*N)/1e9)
	}
	budget := int64(h200) - 1<<30 // the context's share
	p, err := NewPlan(cfg, 8, 4096, budget, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("olmo2_7B: %s", p)
	if p.MB != 1 || p.Keep >= cfg.NumHiddenLayers || p.Total() > budget {
		t.Errorf("plan %s: want passes of one sequence, some layers recomputed, within %d bytes", p, budget)
	}
	// the 1B model keeps everything at 8×4096
	p1, err := NewPlan(preset(t, "olmo2_1B_v2"), 8, 4096, budget, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p1.MB != 8 || p1.Keep != 16 {
		t.Errorf("olmo2_1B_v2 plan %s: want one pass with every layer resident", p1)
	}
}

func TestPlanRefusesWhatDoesNotFit(t *testing.T) {
	cfg := preset(t, "olmo2_32B")
	_, err := NewPlan(cfg, 8, 4096, h200, Options{})
	if err == nil || !strings.Contains(err.Error(), "does not fit") || !strings.Contains(err.Error(), "GiB") {
		t.Fatalf("32B on an H200: err = %v, want a refusal with the sizes", err)
	}
	if _, err := NewPlan(preset(t, "olmo2_190M"), 8, 4096, h200, Options{MicroBatch: 3}); err == nil {
		t.Error("a pass size that does not divide the batch was accepted")
	}
	if _, err := NewPlan(preset(t, "olmo2_190M"), 8, 4096, h200, Options{Keep: 13}); err == nil {
		t.Error("keeping more layers than the model has was accepted")
	}
}

func TestPlanHonoursOptions(t *testing.T) {
	cfg := preset(t, "olmo2_190M")
	p, err := NewPlan(cfg, 8, 1024, h200, Options{MicroBatch: 2, Keep: RecomputeAll, ChunkRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	if p.MB != 2 || p.Keep != 0 || p.Chunk != 100 {
		t.Errorf("plan %s ignores the options", p)
	}
	for l := 0; l < cfg.NumHiddenLayers; l++ {
		if !p.Recomputed(l) {
			t.Errorf("layer %d is not recomputed", l)
		}
	}
}

func TestAdamRanges(t *testing.T) {
	lay := model.NewLayout(preset(t, "cpu_xs"))
	o := model.OLMo2AdamW()
	r := adamRanges(lay, o)
	if len(r) != 2 || r[0].decay || !r[1].decay || r[0].hi != r[1].lo || r[1].hi != lay.Size() {
		t.Errorf("OLMo 2 decay rule: ranges %+v, want [embedding, no decay] [rest, decay]", r)
	}
	o.DecayNorms = false
	r = adamRanges(lay, o)
	var total int64
	for i, x := range r {
		total += x.hi - x.lo
		if i > 0 && (r[i-1].hi != x.lo || r[i-1].decay == x.decay) {
			t.Errorf("ranges not merged or not contiguous: %+v", r)
		}
	}
	if total != lay.Size() {
		t.Errorf("ranges cover %d of %d parameters", total, lay.Size())
	}
}

// sizedDevice is a device that does nothing, offers a library attention
// that loads and takes every shape (the GPU machine's cuDNN, as PlanFor
// assumes without a device), and reports free bytes free.
type sizedDevice struct {
	nullFusedDevice
	bytes int64
}

func (d *sizedDevice) memInfo() (free, total int64, err error) {
	return d.bytes - d.allocated(), d.bytes, nil
}

func (d *sizedDevice) allocated() int64 { return int64(d.next) - min(int64(d.next), 1<<40) }

// TestPlanForIsTheEngines: PlanFor (gpubench plan) is the plan the engine
// builds with the same options (OLMOLAB_GPU_*) where the device reports the
// same free memory, training and forward only, at presets and shapes where
// the engine's margins decide what fits (olmo2_7B keeps 21 of 32 layers
// within an H200's free memory; the ~424 MiB gpubench plan once planned
// beyond the engine keep one more).
func TestPlanForIsTheEngines(t *testing.T) {
	h200Free := int64(h200) - ContextBytes
	cudnn, auto := AttnKernels{Kind: AttnCuDNN}, AttnKernels{Kind: AttnAuto}
	for _, c := range []struct {
		preset  string
		B, T    int
		free    int64
		opts    Options
		scoring bool
	}{
		{"olmo2_7B", 8, 4096, h200Free, Options{}, false},
		{"olmo2_7B", 8, 4096, h200Free, Options{MicroBatch: 2, Keep: RecomputeAll, ChunkRows: 1024}, false},
		{"olmo2_1B_v2", 4, 4096, 30 << 30, Options{Keep: 3}, false},
		{"olmo2_1B_v2", 8, 4096, h200Free, Options{Attention: cudnn}, false},
		{"olmo2_1B_v2", 8, 4096, 40 << 30, Options{Attention: auto}, false},
		{"olmo2_190M", 4, 2048, 8 << 30, Options{FP32: true}, false},
		{"olmo2_13B", 1, 4096, h200Free, Options{}, true},
		{"olmo2_7B", 8, 512, 20 << 30, Options{MicroBatch: 4, Attention: cudnn}, true},
		{"olmo2_1B_v2", 8, 4096, 8 << 30, Options{ChunkRows: 512, FP32: true}, true},
	} {
		cfg := preset(t, c.preset)
		want, _, err := PlanFor(cfg, c.B, c.T, c.free, c.opts, c.scoring)
		if err != nil {
			t.Fatalf("%s %d×%d %+v scoring %v: %v", c.preset, c.B, c.T, c.opts, c.scoring, err)
		}
		dev := &sizedDevice{bytes: c.free}
		var e *Engine
		if c.scoring {
			e, err = newScoringEngine(dev, cfg, c.B, c.T, c.opts)
		} else {
			e, err = newEngine(dev, cfg, c.B, c.T, c.opts)
		}
		if err != nil {
			t.Fatalf("%s %d×%d %+v scoring %v: the engine: %v", c.preset, c.B, c.T, c.opts, c.scoring, err)
		}
		if got := e.Plan(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s %d×%d %+v scoring %v:\nengine  %s\n%s\nPlanFor %s\n%s", c.preset, c.B, c.T, c.opts, c.scoring, got, got.Describe(), want, want.Describe())
		} else {
			t.Logf("%s %d×%d free %.2f GiB: %s", c.preset, c.B, c.T, gib(c.free), got)
		}
		if got := e.Plan().Total(); got > c.free+ctxOverhead-safety {
			t.Errorf("%s: %.2f GiB planned, above the %.2f GiB free less the %.2f GiB the engine leaves", c.preset, gib(got), gib(c.free), gib(safety-ctxOverhead))
		}
		e.Close()
	}
}

// TestPlanForAsksTheDevice: PlanFor plans cuDNN's part as the engine does
// from what the device's cuDNN answers (does it load, does it take the
// rows), and says what it rests on; without a device, what it assumed. It
// said nothing of it, and gpubench plan printed the attention asked for.
func TestPlanForAsksTheDevice(t *testing.T) {
	cfg := preset(t, "olmo2_1B_v2") // head size 128
	free := int64(40 << 30)
	noLib := errors.New("no usable cuDNN 9 (set OLMOLAB_CUDNN to a libcudnn.so.9); tried:\n  libcudnn.so.9: cannot open shared object file")
	cudnn, auto := AttnKernels{Kind: AttnCuDNN}, AttnKernels{Kind: AttnAuto}
	for _, c := range []struct {
		name    string
		dev     device
		T       int
		opts    Options
		scoring bool
		kernels string
		ws      bool   // the plan reserves cuDNN's workspace
		says    string // in PlanAttention.CuDNN ("": none)
	}{
		{"no device, auto", nil, 4096, Options{Attention: auto}, false, "auto", true,
			"no GPU here: assumed a cuDNN that loads and takes 4096-token rows, its workspace reserved in the plan (the engine asks its device's at start: with no usable cuDNN, or at rows it refuses, auto has no cuDNN candidate"},
		{"no device, cudnn, forward only", nil, 4000, Options{Attention: cudnn}, true, "cudnn", false,
			"no GPU here: assumed a cuDNN that loads and takes 4000-token rows, its forward graph's workspace allocated beside the plan at start (the engine asks its device's at start: with no usable cuDNN an engine asked for cudnn fails; at rows it refuses it runs mma"},
		{"no cuDNN, auto", &fusedFake{fakeDevice: newFake(t), libErr: noLib}, 4096, Options{Attention: auto}, false, "auto", false,
			"this GPU has no usable cuDNN (no usable cuDNN 9 (set OLMOLAB_CUDNN to a libcudnn.so.9); tried:; libcudnn.so.9: cannot open shared object file): auto has no cuDNN candidate and no workspace for it"},
		{"no cuDNN, cudnn", &fusedFake{fakeDevice: newFake(t), libErr: noLib}, 4096, Options{Attention: cudnn}, false, "cudnn", true,
			"an engine asked for cudnn fails at start"},
		{"device without a library, auto", newFake(t), 4096, Options{Attention: auto}, false, "auto", false,
			"this GPU has no usable cuDNN (this device offers no cuDNN (only the CUDA engine does))"},
		{"rows refused, cudnn", &fusedFake{fakeDevice: newFake(t), refuse: refuseShortT}, 4000, Options{Attention: cudnn}, false, "mma", false,
			"this GPU's fake cuDNN 9.10.2 refuses 4000-token rows (cudnn sdpa B=1 T=4000 NH=16 NKV=16 HS=128: cuDNN 9.10.2's SDPA backward needs T a multiple of 128 here, T=4000): no workspace for it"},
		{"rows refused, auto", &fusedFake{fakeDevice: newFake(t), refuse: refuseShortT}, 4000, Options{Attention: auto}, false, "auto", false,
			"refuses 4000-token rows"},
		{"rows taken, cudnn", &fusedFake{fakeDevice: newFake(t), refuse: refuseShortT}, 4096, Options{Attention: cudnn}, false, "cudnn", true,
			"this GPU's fake cuDNN 9.10.2 takes 4096-token rows: its workspace reserved in the plan"},
		{"rows taken, cudnn, forward only", &fusedFake{fakeDevice: newFake(t), refuse: refuseShortT}, 4096, Options{Attention: cudnn}, true, "cudnn", false,
			"takes 4096-token rows: its forward graph's workspace allocated beside the plan at start"},
		{"fp32 runs plain", nil, 4096, Options{Attention: cudnn, FP32: true}, false, "plain", false, ""},
		{"mma", nil, 4096, Options{}, false, "mma", false, ""},
	} {
		p, a, err := planFor(c.dev, cfg, 8, c.T, free, c.opts, c.scoring)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if a.Kernels.String() != c.kernels {
			t.Errorf("%s: kernels %s, want %s", c.name, a.Kernels, c.kernels)
		}
		if ws := p.off.attnWS >= 0; ws != c.ws {
			t.Errorf("%s: cuDNN's workspace reserved %v, want %v: %s\n%s", c.name, ws, c.ws, p, p.Describe())
		}
		if (c.says == "") != (a.CuDNN == "") || !strings.Contains(a.CuDNN, c.says) {
			t.Errorf("%s: says %q\nwant …%s…", c.name, a.CuDNN, c.says)
		}
	}
}

// TestNewPlanRefusalSaysBudget: NewPlan's refusal names its bare budget as
// a budget; it called it "the device has … free", which no device said.
func TestNewPlanRefusalSaysBudget(t *testing.T) {
	_, err := NewPlan(preset(t, "olmo2_7B"), 8, 4096, 20<<30, Options{})
	if err == nil || !strings.HasSuffix(err.Error(), "the budget is 20.00 GiB") || strings.Contains(err.Error(), "free") {
		t.Errorf("NewPlan over budget: %v", err)
	}
}

// TestRefusalSaysFreeMemory: an engine, a forward-only engine or a Scorer
// of its own that does not fit says what it needs free against the free
// memory the device reports (what nvidia-smi shows); it said its budget
// (free memory plus the context's allowance, less the 1 GiB it leaves) as
// "the device has … free": 79.59 GiB on a device with 80 free.
func TestRefusalSaysFreeMemory(t *testing.T) {
	for _, c := range []struct {
		preset  string
		B, T    int
		free    int64
		scoring bool
	}{{"olmo2_7B", 4, 4096, 80 << 30, false}, {"olmo2_32B", 1, 4096, 40 << 30, true}} {
		free := c.free
		cfg := preset(t, c.preset)
		dev := &sizedDevice{bytes: free}
		var err error
		if c.scoring {
			_, err = newScoringEngine(dev, cfg, c.B, c.T, Options{})
		} else {
			_, err = newEngine(dev, cfg, c.B, c.T, Options{})
		}
		var least *Plan
		if c.scoring {
			least = layoutPlan(planScore, cfg, c.B, c.T, 1, 0, chunkRows(cfg, c.T, false, 0), false, false, true)
		} else {
			least = newPlan(cfg, c.B, c.T, 1, 0, chunkRows(cfg, c.T, false, 0), false, false)
		}
		want := fmt.Sprintf("does not fit: it needs at least %.2f GiB free (the plan %s, less the 0.59 GiB its context has taken already, plus the 1.00 GiB the engine leaves free), the device has %.2f GiB free",
			gib(least.Total()-ctxOverhead+safety), least, gib(free))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s scoring %v: %v\nwant …%s", c.preset, c.scoring, err, want)
		}
		if _, _, perr := PlanFor(cfg, c.B, c.T, free, Options{}, c.scoring); perr == nil || perr.Error() != strings.TrimPrefix(err.Error(), "gpu: ") {
			t.Errorf("PlanFor says %v, the engine %v", perr, err)
		}
	}
	// a Scorer of rows longer than its engine's allocates beside it
	cfg := preset(t, "olmo2_1B_v2")
	dev := &sizedDevice{bytes: 5 << 30}
	e, err := newScoringEngine(dev, cfg, 1, 512, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	left, _, _ := dev.memInfo()
	_, err = e.Scorer(1, 4096)
	if want := fmt.Sprintf(", the device has %.2f GiB free", gib(left)); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "context") {
		t.Errorf("Scorer beside its engine: %v; want …%s", err, want)
	}
	t.Log(err)
}
