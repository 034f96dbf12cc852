package gpu

import (
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/olmolab/olmolab/model"
)

// TestScoringFitsH200 holds olmolab eval --backend cuda of the two largest
// models at sequence 4096 to one H200 (141 GB), with plan figures (no device):
//
//   - before, NewScoringBackend("cuda") was a training engine (fp32 master
//     weights, gradients, both moments, the bf16 copy: 18 bytes a
//     parameter), and eval's reshaped scoring (model.ScoringLike at its
//     shorter rows) built a second one and copied the weights: olmo2_13B's
//     first engine does not fit, olmo2_7B's second does not fit beside the
//     first;
//   - after, one forward-only engine (bf16 matrices, fp32 embedding and
//     norms, one layer's activations), and a Scorer at the shorter rows that
//     borrows its scratch (no device memory of its own).
func TestScoringFitsH200(t *testing.T) {
	const budget = int64(h200) - 1<<30 // the context's share, as TestPlan7BFitsH200
	for _, name := range []string{"olmo2_7B", "olmo2_13B"} {
		cfg := preset(t, name)
		const B, T = 1, 4096 // eval --seq 4096: B = max(1, 4096/T)
		before := EstimateMemory(cfg, B, T)
		_, err := NewPlan(cfg, B, T, budget, Options{})
		twice := 2 * before // a second training engine for the reshaped scoring
		after := EstimateScoringMemory(cfg, B, T)
		p, perr := NewScoringPlan(cfg, B, T, budget, Options{})
		t.Logf("%s at %d×%d: before %.1f GB (one training engine; two for the reshaped scoring: %.1f GB), after %.1f GB (%s)",
			name, B, T, float64(before)/1e9, float64(twice)/1e9, float64(after)/1e9, p)
		if twice <= budget {
			t.Errorf("%s: two training engines (%d bytes) fit %d: the test no longer shows the old path failing", name, twice, budget)
		}
		if name == "olmo2_13B" && err == nil {
			t.Errorf("%s: a training engine at %d×%d fits %d: want today's path refused", name, B, T, budget)
		}
		if perr != nil {
			t.Fatalf("%s: forward-only engine: %v", name, perr)
		}
		if p.Total() != after || after > budget/3 {
			t.Errorf("%s: forward-only plan %d bytes (estimate %d), want well within %d", name, p.Total(), after, budget)
		}
		// the weights it holds: 2 bytes a matrix element, 4 for the embedding and norms
		lay := model.NewLayout(cfg)
		var want int64
		for _, x := range lay.Tensors {
			if x.Kind == model.KindLinear {
				want += 2 * int64(x.Numel())
			} else {
				want += 4 * int64(x.Numel())
			}
		}
		if got := bufBytes(p, "weights_f32") + bufBytes(p, "weights_bf16"); got != want {
			t.Errorf("%s: weights take %d bytes, want %d", name, got, want)
		}
		for _, x := range []string{"params", "grads", "adam_m", "adam_v", "grad.dres", "residual[1]", "acts[1].x"} {
			if bufBytes(p, x) != 0 {
				t.Errorf("%s: a forward-only plan has %s", name, x)
			}
		}
		// eval's reshaped scoring at 512-token rows: a Scorer borrowing the scratch
		sp, err := searchPlan(planScorer, cfg, 8, 512, p.Arena-p.Scratch, Options{}, false)
		if err != nil {
			t.Errorf("%s: a Scorer at 8×512 does not fit the scoring engine's scratch: %v", name, err)
		} else {
			t.Logf("%s: its Scorer at 8×512 borrows %.2f of %.2f GB of scratch (%s)", name, float64(sp.Arena)/1e9, float64(p.Arena-p.Scratch)/1e9, sp)
		}
	}
}

func bufBytes(p *Plan, name string) int64 {
	var n int64
	for _, b := range p.Buffers {
		if b.Name == name {
			n += b.Bytes
		}
	}
	return n
}

// TestScorerBorrowsScratch: a Scorer of rows no longer than its engine's,
// one sequence a pass, fits the engine's scratch whatever the engine's plan
// (training with every layer kept or none, in passes of one or all, bf16 or
// fp32, with cuDNN's workspace; forward only), as many rows as hold the
// engine's B·T tokens: the lab's reshaped evaluation costs no device
// memory, so a run that fits still fits.
func TestScorerBorrowsScratch(t *testing.T) {
	cfg := preset(t, "olmo2_190M")
	const B, T = 4, 512
	L := cfg.NumHiddenLayers
	type parent struct {
		kind        planKind
		mb, keep    int
		fp32, fused bool
	}
	for _, pa := range []parent{{planTrain, 1, 0, false, false}, {planTrain, B, L, false, false}, {planTrain, 1, 0, true, false},
		{planTrain, 2, 1, false, true}, {planScore, 1, 0, false, false}, {planScore, B, 0, true, false}, {planScore, 1, 0, false, true}} {
		p := layoutPlan(pa.kind, cfg, B, T, pa.mb, pa.keep, chunkRows(cfg, pa.mb*T, pa.fp32, 0), pa.fp32, pa.fused, true)
		for _, te := range []int{1, 16, 48, 200, T / 2, T} {
			name := fmt.Sprintf("%+v/T'=%d", pa, te)
			be := max(1, B*T/te)
			opts := Options{FP32: pa.fp32}
			if pa.fused {
				opts.Attention = AttnKernels{Kind: AttnCuDNN}
			}
			sp, err := searchPlan(planScorer, cfg, be, te, p.Arena-p.Scratch, opts, false)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if sp.Extra != 0 || sp.off.cos >= 0 || sp.off.params >= 0 || sp.off.wT >= 0 {
				t.Errorf("%s: a borrowing Scorer's plan holds weights, RoPE tables or extra: %s", name, sp.Describe())
			}
		}
	}
}

// TestScoringEngineWalk drives a forward-only engine and its Scorers on the
// fake device in both precisions and attention paths: every launch's
// arguments against the kernel's PTX signature, every copy and product inside
// allocated memory; the training methods refuse; a borrowing Scorer
// allocates nothing, a longer one allocates its own, and closing the engine
// frees everything.
func TestScoringEngineWalk(t *testing.T) {
	for i, c := range []struct {
		cfg  model.Config
		opts Options
	}{
		{smallConfig(48, 6, 2, 8), Options{FP32: true}},
		{smallConfig(48, 6, 2, 8), Options{}},
		{smallConfig(128, 2, 1, 64), Options{}},
		{smallConfig(128, 2, 1, 64), Options{MicroBatch: 1, ChunkRows: 7, Attention: AttnKernels{Kind: AttnV2}}},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			const B, T = 2, 70
			d := newFake(t)
			e, err := newScoringEngine(d, c.cfg, B, T, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !e.Plan().Scoring || len(d.allocs) != 1 {
				t.Fatalf("plan %s, %d allocations", e.Plan(), len(d.allocs))
			}
			N := int(e.N)
			buf := make([]float32, N)
			ids, labels := make([]int32, B*T), make([]int32, B*T)
			model.NewSyntheticStream(c.cfg.VocabSize, 1).Fill(ids, labels, T)
			e.WriteParams(buf)
			e.WriteParamsAt(buf[3:N-2], 3)
			e.ReadParams(buf)
			e.ReadParamsAt(buf[:N-1], 1)
			e.LogProbs(make([]float32, B*T), ids, labels)
			e.Logits(make([]float32, B*T*c.cfg.VocabSize), ids)
			for name, f := range map[string]func(){
				"ZeroGrads":       e.ZeroGrads,
				"GradNorm":        func() { e.GradNorm() },
				"Step":            func() { e.Step(model.OLMo2AdamW(), 1e-3, 1) },
				"ForwardBackward": func() { e.ForwardBackward(ids, labels, 1, 0) },
				"ReadGrads":       func() { e.ReadGrads(buf) },
				"ReadOptState":    func() { e.ReadOptState(buf, buf) },
			} {
				if !panics(f) {
					t.Errorf("%s on a forward-only engine does not panic", name)
				}
			}
			s, err := e.Scorer(5, 24)
			if err != nil {
				t.Fatal(err)
			}
			if !s.Borrows() || len(d.allocs) != 1 {
				t.Errorf("a Scorer of shorter rows: borrows=%v, %d allocations; want it in the engine's scratch", s.Borrows(), len(d.allocs))
			}
			s.LogProbs(make([]float32, 5*24), ids[:5*24], labels[:5*24])
			long, err := s.Scorer(1, 2*T) // of a Scorer: over the same engine
			if err != nil {
				t.Fatal(err)
			}
			if long.Borrows() || len(d.allocs) != 2 || long.parent != e {
				t.Errorf("a Scorer of longer rows: borrows=%v, %d allocations, parent %p (engine %p)", long.Borrows(), len(d.allocs), long.parent, e)
			}
			long.LogProbs(make([]float32, 2*T), append(ids, ids...)[:2*T], append(labels, labels...)[:2*T])
			long.Close()
			if len(d.allocs) != 1 {
				t.Errorf("%d allocations after closing the longer Scorer, want 1", len(d.allocs))
			}
			e.Close() // closes s
			if !s.closed || len(d.allocs) != 0 || d.entered != 0 {
				t.Errorf("after Close: scorer closed=%v, %d allocations, entered %d", s.closed, len(d.allocs), d.entered)
			}
			s.Close() // a second Close does nothing
		})
	}
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

// TestScoringAttentionAuto: OLMOLAB_GPU_ATTN=auto's trial times backward
// kernels, which a forward-only engine has no buffers for: it takes the
// choice an engine of its shape made earlier in the process, else mma.
// Named kernels and fp32 stay as they are.
func TestScoringAttentionAuto(t *testing.T) {
	cfg := smallConfig(128, 2, 1, 64)
	const B, T = 2, 52 // a shape no other test's auto trial uses
	auto := Options{Attention: AttnKernels{Kind: AttnAuto}}
	e, err := newScoringEngine(newFake(t), cfg, B, T, auto)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Attention().String(); got != "mma" {
		t.Errorf("auto with no earlier choice: %s, want mma", got)
	}
	e.Close()
	key := "fake " + fusedAttnShape{B: 1, T: T, NH: cfg.NumAttentionHeads, NKV: cfg.NumKeyValueHeads, HS: cfg.HeadSize()}.String()
	autoChoices.Store(key, &AttnChoice{Chosen: AttnKernels{Kind: AttnV2, FwdWarps: 4, DQWarps: 8, DKVWarps: 4}})
	defer autoChoices.Delete(key)
	for _, c := range []struct {
		opts Options
		want string
	}{{auto, "v2:4/8/4"}, {Options{Attention: DefaultV2}, "v2:8/4/4"}, {Options{FP32: true, Attention: AttnKernels{Kind: AttnAuto}}, "plain"}} {
		e, err := newScoringEngine(newFake(t), cfg, B, T, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Attention().String(); got != c.want {
			t.Errorf("%+v: attention %s, want %s", c.opts.Attention, got, c.want)
		}
		e.Close()
	}
}

// TestScorerCloseRacesEngineClose: one evaluator serves the runs of a lab
// session, at once too (lab.OLMESEvaluator), and closes the Scorer it keeps
// over one run's engine when another run's evaluation needs its own, on
// that run's goroutine, while the first run may be closing its engine (and
// so its Scorers) on its own: each a Backend used from one goroutine. The
// Scorer is then closed once, by one of them, and the engine's list of
// Scorers is left empty. Fails under -race, and often without it (a
// forward-only cuDNN workspace freed twice), unguarded.
func TestScorerCloseRacesEngineClose(t *testing.T) {
	log.SetOutput(io.Discard) // each cuDNN attention built says so
	defer log.SetOutput(os.Stderr)
	cfg := smallConfig(128, 2, 1, 64)
	for i := range 200 {
		dev := &countingDevice{}
		e, err := newEngine(dev, cfg, 2, 70, Options{Attention: AttnKernels{Kind: AttnCuDNN}})
		if err != nil {
			t.Fatal(err)
		}
		s, err := e.Scorer(4, 32)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); e.Close() }()
		go func() { defer wg.Done(); s.Close() }()
		wg.Wait()
		if n := dev.frees.Load(); n != dev.allocs.Load() {
			t.Fatalf("run %d: %d allocations, %d frees", i, dev.allocs.Load(), n)
		}
		if len(e.scorers) != 0 || !s.closed {
			t.Fatalf("run %d: %d Scorers left, the Scorer closed=%v", i, len(e.scorers), s.closed)
		}
	}
}

// countingDevice is a nullFusedDevice that counts allocations and frees
// (from any goroutine): a forward-only cuDNN attention allocates its
// workspace, so a Scorer closed twice frees twice.
type countingDevice struct {
	nullFusedDevice
	allocs, frees atomic.Int64
}

func (d *countingDevice) alloc(n int64) (dptr, error) {
	d.allocs.Add(1)
	return d.nullFusedDevice.alloc(n)
}

func (d *countingDevice) free(dptr) error { d.frees.Add(1); return nil }

// TestScoringIgnoresKeep: OLMOLAB_GPU_KEEP (resident layers for the
// backward pass) means nothing to a forward-only engine, so a value above
// the layer count, set for a training run in the same shell, must not refuse
// olmolab eval's engine; a training engine still refuses it.
func TestScoringIgnoresKeep(t *testing.T) {
	cfg := smallConfig(128, 2, 1, 64)
	L := cfg.NumHiddenLayers
	for _, keep := range []string{fmt.Sprint(L + 1), "99", "none", fmt.Sprint(L)} {
		t.Run(keep, func(t *testing.T) {
			t.Setenv("OLMOLAB_GPU_KEEP", keep)
			o, err := OptionsFromEnv(false)
			if err != nil {
				t.Fatal(err)
			}
			e, err := newScoringEngine(newFake(t), cfg, 2, 64, o)
			if err != nil {
				t.Fatalf("forward-only engine with OLMOLAB_GPU_KEEP=%s: %v", keep, err)
			}
			if e.Plan().Keep != 0 || !e.Plan().Scoring {
				t.Errorf("plan %s", e.Plan())
			}
			e.Close()
			if _, err := NewPlan(cfg, 2, 64, h200, o); (o.Keep > L) != (err != nil) {
				t.Errorf("training plan with keep %d of %d layers: %v", o.Keep, L, err)
			}
		})
	}
}
