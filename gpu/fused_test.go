package gpu

import (
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/model"
)

// fusedFake is the tests' fake device with a library attention: every call's
// pointers are checked against the device's allocations at the extents the
// shape gives (as cuDNN would read and write them), and counted.
type fusedFake struct {
	*fakeDevice
	libErr   error
	want     int64                      // the workspace each attention asks for
	wantFwd  int64                      // a forward-only one's (its forward plan's only)
	refuse   func(fusedAttnShape) error // a refusal of the rows, known up front (fusedRefusesRows) and when built
	fail     func(fusedAttnShape) error // a refusal of the graph, known only when built (no cuDNN engine takes it)
	tried    []fusedAttnShape           // every newFusedAttn, refused or not
	built    []fusedAttnShape
	open     int
	fwd, bwd int
}

func (f *fusedFake) fusedAttnLib() (string, error) { return "fake cuDNN 9.10.2", f.libErr }

// fusedRefusesRows: the fake's refusals are all of the rows (refuseShortT).
func (f *fusedFake) fusedRefusesRows(s fusedAttnShape) error {
	if f.refuse != nil {
		return f.refuse(s)
	}
	return nil
}

func (f *fusedFake) newFusedAttn(s fusedAttnShape, ws func(int64) (dptr, error)) (fusedAttn, error) {
	f.tried = append(f.tried, s)
	for _, refuse := range []func(fusedAttnShape) error{f.refuse, f.fail} {
		if refuse == nil {
			continue
		}
		if err := refuse(s); err != nil {
			return nil, err
		}
	}
	want := f.want
	if s.fwdOnly {
		want = f.wantFwd
	}
	p, err := ws(want)
	if err != nil {
		return nil, err
	}
	if err := f.check("cudnn workspace", p, want); want > 0 && err != nil {
		return nil, err
	}
	f.built = append(f.built, s)
	f.open++
	return &fakeFused{f: f, s: s}, nil
}

type fakeFused struct {
	f      *fusedFake
	s      fusedAttnShape
	closed bool
}

// rows is a (B·T, ld) bf16 matrix's extent over heads·HS columns.
func (a *fakeFused) rows(what string, p dptr, ld, heads int) error {
	s := a.s
	return a.f.check("cudnn "+what, p, 2*(int64(s.B*s.T-1)*int64(ld)+int64(heads*s.HS)))
}

func (a *fakeFused) stats(what string, p dptr) error {
	return a.f.check("cudnn "+what, p, 4*int64(a.s.B*a.s.NH*a.s.T))
}

func (a *fakeFused) fwd(o, lse, q, k, v dptr) error {
	s := a.s
	a.f.fwd++
	return errors.Join(a.rows("o", o, s.ldo, s.NH), a.stats("lse", lse), a.rows("q", q, s.ldq, s.NH),
		a.rows("k", k, s.ldk, s.NKV), a.rows("v", v, s.ldv, s.NKV))
}

func (a *fakeFused) bwd(dq, dk, dv, D, dout, o, lse, q, k, v dptr) error {
	s := a.s
	a.f.bwd++
	if s.fwdOnly {
		return errors.New("backward of a forward-only attention")
	}
	if dk-dq != dptr(2*s.NH*s.HS) || dv-dk != dptr(2*s.NKV*s.HS) {
		return fmt.Errorf("dq, dk, dv at %#x, %#x, %#x: not the column blocks of one dqkv row", dq, dk, dv)
	}
	return errors.Join(a.rows("dq", dq, s.ldgrads, s.NH), a.rows("dk", dk, s.ldgrads, s.NKV), a.rows("dv", dv, s.ldgrads, s.NKV),
		a.stats("D", D), a.rows("dout", dout, s.ldo, s.NH), a.rows("o", o, s.ldo, s.NH), a.stats("lse", lse),
		a.rows("q", q, s.ldq, s.NH), a.rows("k", k, s.ldk, s.NKV), a.rows("v", v, s.ldv, s.NKV))
}

func (a *fakeFused) describe() string { return fmt.Sprintf("fake cuDNN 9.10.2, %s", a.s) }
func (a *fakeFused) close() {
	if !a.closed {
		a.closed = true
		a.f.open--
	}
}

// walk runs one step and the evaluation calls on e.
func walk(t *testing.T, e *Engine, cfg model.Config, B, T int) {
	t.Helper()
	buf := make([]float32, e.N)
	ids, labels := make([]int32, B*T), make([]int32, B*T)
	model.NewSyntheticStream(cfg.VocabSize, 1).Fill(ids, labels, T)
	e.WriteParams(buf)
	e.ZeroGrads()
	e.ForwardBackward(ids, labels, 1e-3, 1e-4)
	e.Step(model.OLMo2AdamW(), 1e-3, 0.5)
	e.LogProbs(make([]float32, B*T), ids, labels)
}

// OLMOLAB_GPU_ATTN=cudnn: the plan reserves the workspace, each layer calls
// the library once forward and once backward (recomputed layers twice
// forward) on the engine's buffers, and nothing of attention's own kernels runs.
func TestFusedEngine(t *testing.T) {
	cudnn := AttnKernels{Kind: AttnCuDNN}
	for _, c := range []struct {
		cfg  model.Config
		opts Options
	}{
		{smallConfig(128, 2, 1, 64), Options{Attention: cudnn}},
		{smallConfig(256, 2, 2, 128), Options{Attention: cudnn, Keep: 1, MicroBatch: 1}},
	} {
		B, T := 2, 70
		f := &fusedFake{fakeDevice: newFake(t), want: 1 << 20}
		e, err := newEngine(f, c.cfg, B, T, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if e.Attention().Kind != AttnCuDNN || len(f.built) != 1 || f.built[0].B != e.MB {
			t.Fatalf("attention %s, built %v", e.Attention(), f.built)
		}
		s := f.built[0]
		if s.ldq != e.QC || s.ldk != e.KC || s.ldv != e.qkvW || s.ldo != e.QC || s.ldgrads != e.qkvW || s.scale != e.scale {
			t.Errorf("shape %+v", s)
		}
		i := slices.IndexFunc(e.Plan().Buffers, func(b Buffer) bool { return b.Name == "attn.cudnn_workspace" })
		if i < 0 || e.Plan().Buffers[i].Bytes != fusedWorkspace(e.MB, e.NH, e.T, e.HS) {
			t.Errorf("plan: no cuDNN workspace reserved:\n%s", e.Plan().Describe())
		}
		walk(t, e, c.cfg, B, T)
		L, passes := c.cfg.NumHiddenLayers, B/e.MB
		recomputed := L - e.Plan().Keep
		// forward: every layer per pass, recomputed layers again; LogProbs one more forward
		if wantF, wantB := passes*(L+recomputed)+passes*L, passes*L; f.fwd != wantF || f.bwd != wantB {
			t.Errorf("keep %d of %d, %d passes: %d forward and %d backward calls, want %d and %d", e.Plan().Keep, L, passes,
				f.fwd, f.bwd, wantF, wantB)
		}
		for k := range f.kernels {
			if strings.HasPrefix(k, "attn_") {
				t.Errorf("attention kernel %s launched with cudnn", k)
			}
		}
		e.Close()
		if f.open != 0 {
			t.Errorf("%d library attentions left open", f.open)
		}
		if err := f.fakeDevice.close(); err != nil {
			t.Error(err)
		}
	}
}

// Asked for explicitly, cudnn fails the engine's start, with the reason and
// the way out, where it cannot run; fp32 and other head sizes use plain.
func TestFusedEngineRefused(t *testing.T) {
	cudnn := Options{Attention: AttnKernels{Kind: AttnCuDNN}}
	cfg := smallConfig(128, 2, 1, 64)
	for _, c := range []struct {
		name string
		dev  device
		want string
	}{
		{"no library on this device", newFake(t), "gpu: attention cudnn: this device offers no cuDNN (only the CUDA engine does) (use OLMOLAB_GPU_ATTN=mma)"},
		{"workspace above the plan", &fusedFake{fakeDevice: newFake(t), want: 1 << 40}, "cuDNN asks for 1024.00 GiB of workspace, the memory plan reserved"},
	} {
		_, err := newEngine(c.dev, cfg, 2, 70, cudnn)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	for _, c := range []struct {
		cfg  model.Config
		fp32 bool
	}{{smallConfig(48, 6, 2, 8), false}, {cfg, true}} {
		f := &fusedFake{fakeDevice: newFake(t)}
		e, err := newEngine(f, c.cfg, 2, 70, Options{FP32: c.fp32, Attention: cudnn.Attention})
		if err != nil {
			t.Fatal(err)
		}
		if e.Attention().Kind != AttnPlain || len(f.built) != 0 || slices.ContainsFunc(e.Plan().Buffers, func(b Buffer) bool { return b.Name == "attn.cudnn_workspace" }) {
			t.Errorf("fp32 %v head size %d: attention %s, built %d", c.fp32, c.cfg.HeadSize(), e.Attention(), len(f.built))
		}
		e.Close()
	}
}

// auto with a library: the candidate is built for the trial (one sequence)
// and the engine (MB), run twice, timed, and kept only if chosen; without a
// usable library it is dropped with the reason and no workspace is reserved;
// on a device without one (the emulator) it is not a candidate at all.
func TestFusedAuto(t *testing.T) {
	auto := Options{Attention: AttnKernels{Kind: AttnAuto}}
	cfg := smallConfig(128, 2, 1, 64)
	f := &fusedFake{fakeDevice: newFake(t), want: 4096}
	e, err := newEngine(f, cfg, 2, 70, auto)
	if err != nil {
		t.Fatal(err)
	}
	ch := e.AttentionChoice()
	t.Log(ch)
	i := slices.IndexFunc(ch.Trials, func(t AttnTrial) bool { return t.Kernels.Kind == AttnCuDNN })
	if i < 0 || ch.Trials[i].Dropped != "" || ch.Trials[i].Ms == (AttnMs{}) || !strings.Contains(ch.String(), "cudnn: fake cuDNN 9.10.2") {
		t.Fatalf("cudnn trial missing, dropped or untimed: %s", ch)
	}
	wantBuilt := []int{e.MB}
	if e.MB != 1 {
		wantBuilt = append(wantBuilt, 1)
	}
	var built []int
	for _, s := range f.built {
		built = append(built, s.B)
	}
	if !slices.Equal(built, wantBuilt) {
		t.Errorf("built for B = %v, want %v", built, wantBuilt)
	}
	if f.fwd != 2+autoReps || f.bwd != 2+autoReps {
		t.Errorf("trial: %d forward, %d backward calls; want 2 (checked, run again) + %d timed", f.fwd, f.bwd, autoReps)
	}
	if (e.Attention().Kind == AttnCuDNN) != (f.open == 1) || (e.Attention().Kind != AttnCuDNN && f.open != 0) {
		t.Errorf("chose %s with %d library attentions open", e.Attention(), f.open)
	}
	walk(t, e, cfg, 2, 70)
	e.Close()
	if f.open != 0 {
		t.Errorf("%d left open", f.open)
	}

	// no usable library: dropped with the reason, nothing reserved
	f = &fusedFake{fakeDevice: newFake(t), libErr: errors.New("no usable cuDNN 9 (set OLMOLAB_CUDNN to a libcudnn.so.9); tried:\n  libcudnn.so.9: cannot open shared object file")}
	autoChoices.Clear()
	e, err = newEngine(f, cfg, 2, 70, auto)
	if err != nil {
		t.Fatal(err)
	}
	if s := e.AttentionChoice().String(); !strings.Contains(s, "cudnn dropped: no usable cuDNN 9 (set OLMOLAB_CUDNN to a libcudnn.so.9); tried:; libcudnn.so.9: cannot open shared object file") {
		t.Errorf("log line: %s", s)
	}
	if slices.ContainsFunc(e.Plan().Buffers, func(b Buffer) bool { return b.Name == "attn.cudnn_workspace" }) {
		t.Errorf("a workspace reserved for a library that does not load")
	}
	e.Close()

	// a device without a library: no candidate
	autoChoices.Clear()
	e, err = newEngine(newFake(t), cfg, 2, 70, auto)
	if err != nil {
		t.Fatal(err)
	}
	if s := e.AttentionChoice().String(); strings.Contains(s, "cudnn") {
		t.Errorf("cudnn offered on a device without it: %s", s)
	}
	e.Close()
	autoChoices.Clear()
}

func TestParseCuDNN(t *testing.T) {
	a, err := ParseAttention("cudnn")
	if err != nil || a.Kind != AttnCuDNN || a.String() != "cudnn" {
		t.Fatalf("%v %v", a, err)
	}
	if _, err := ParseAttention("cuDNN"); err == nil || !strings.Contains(err.Error(), "cudnn") {
		t.Errorf("%v", err)
	}
}

// gpubench attn --variants mma,cudnn: the library's row, its backward as one
// call, its workspace freed; without a library the error says so.
func TestFusedBench(t *testing.T) {
	f := &fusedFake{fakeDevice: newFake(t), want: 8192}
	mma, cudnn := AttnKernels{Kind: AttnMMA}, AttnKernels{Kind: AttnCuDNN}
	p := AttnBenchParams{B: 2, T: 64, NH: 4, NKV: 2, HS: 128, Variants: []AttnKernels{mma, cudnn}, Iters: 2}
	rows, err := benchAttention(f, p)
	if err != nil || len(rows) != 2 {
		t.Fatalf("%v rows, %v", len(rows), err)
	}
	r := rows[1]
	if r.Variant != "cudnn" || r.Library != "fake cuDNN 9.10.2, B=2 T=64 NH=4 NKV=2 HS=128" || len(r.Kernels) != 0 || !r.Deterministic {
		t.Errorf("cudnn row %+v", r)
	}
	if f.fwd != 1+p.Iters || f.bwd != 1+p.Iters { // the warm-up run, then the timed ones
		t.Errorf("%d forward, %d backward calls", f.fwd, f.bwd)
	}
	if f.open != 0 || len(f.allocs) != 0 {
		t.Errorf("%d open, %d allocations left", f.open, len(f.allocs))
	}
	if _, err := benchAttention(newFake(t), p); err == nil || !strings.Contains(err.Error(), "cudnn: this device offers no cuDNN") {
		t.Errorf("without a library: %v", err)
	}
}

// cuDNN ≤ 9.15 refuses T not a multiple of 128 (internal/cudnn
// versionRefuses): the fake refuses them likewise.
func refuseShortT(s fusedAttnShape) error {
	if s.T%128 != 0 {
		return fmt.Errorf("cudnn sdpa %s: cuDNN 9.10.2's SDPA backward needs T a multiple of 128 here, T=%d", s, s.T)
	}
	return nil
}

// A Scorer of rows cuDNN refuses (short rows under cuDNN ≤ 9.15) runs the
// mma forward, decided up front by the rule every engine follows
// (cudnnRows: cuDNN is not asked to build it), said once in the log per
// engine; one whose rows it takes keeps cuDNN, forward only. A graph cuDNN
// fails to build at rows it does not refuse refuses the Scorer, as it
// refuses a forward-only engine (the lab then scores on the run's rows).
// Before, the Scorer built cuDNN's graph at every shape and ran mma after
// any failure, a rule of its own.
func TestFusedScorerFallsBack(t *testing.T) {
	var logged strings.Builder
	log.SetOutput(&logged)
	defer log.SetOutput(os.Stderr)
	cfg := smallConfig(128, 2, 1, 64)
	f := &fusedFake{fakeDevice: newFake(t), want: 1 << 20, refuse: refuseShortT}
	e, err := newEngine(f, cfg, 2, 128, Options{Attention: AttnKernels{Kind: AttnCuDNN}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	tried := len(f.tried)
	for i := range 2 {
		s, err := e.Scorer(4, 32)
		if err != nil {
			t.Fatalf("Scorer at 4×32 with cudnn: %v", err)
		}
		if s.Attention().Kind != AttnMMA {
			t.Errorf("Scorer at 4×32: attention %s, want mma", s.Attention())
		}
		fwd, mma := f.fwd, f.kernels["attn_fwd_mma64"]
		ids := make([]int32, 4*32)
		s.LogProbs(make([]float32, 4*32), ids, ids)
		if f.fwd != fwd || f.kernels["attn_fwd_mma64"]-mma != cfg.NumHiddenLayers {
			t.Errorf("Scorer %d: %d cuDNN forward calls, %d mma forwards; want 0 and %d", i, f.fwd-fwd, f.kernels["attn_fwd_mma64"]-mma, cfg.NumHiddenLayers)
		}
		s.Close()
	}
	if len(f.tried) != tried {
		t.Errorf("cuDNN was asked to build %v for Scorers of rows its version refuses: the rule decides before anything is built", f.tried[tried:])
	}
	if n := strings.Count(logged.String(), "runs mma instead"); n != 1 {
		t.Errorf("said %d times, want once:\n%s", n, logged.String())
	}
	if !strings.Contains(logged.String(), "cannot take a scorer of 32-token rows") || !strings.Contains(logged.String(), "T a multiple of 128") {
		t.Errorf("the log does not say what and why:\n%s", logged.String())
	}
	s, err := e.Scorer(1, 128)
	if err != nil {
		t.Fatal(err)
	}
	if s.Attention().Kind != AttnCuDNN || !f.built[len(f.built)-1].fwdOnly {
		t.Errorf("Scorer at 1×128: attention %s, built %+v; want cudnn, forward only", s.Attention(), f.built[len(f.built)-1])
	}
	s.LogProbs(make([]float32, 128), make([]int32, 128), make([]int32, 128))
	s.Close()

	// a forward graph no cuDNN engine takes, at rows its version allows:
	// refused, the Scorer as the forward-only engine
	noFwd := func(s fusedAttnShape) error {
		if s.fwdOnly {
			return errors.New("CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN")
		}
		return nil
	}
	f.fail = noFwd
	logged.Reset()
	if s, err := e.Scorer(2, 128); err == nil || !strings.Contains(err.Error(), "gpu: attention cudnn: CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN") {
		if s != nil {
			t.Errorf("Scorer whose forward graph cuDNN does not take: attention %s; want refused as the forward-only engine is", s.Attention())
		} else {
			t.Errorf("Scorer whose forward graph cuDNN does not take: %v", err)
		}
	}
	_, serr := newScoringEngine(&fusedFake{fakeDevice: newFake(t), want: 1 << 20, fail: noFwd}, cfg, 2, 128, Options{Attention: AttnKernels{Kind: AttnCuDNN}})
	if serr == nil || !strings.Contains(serr.Error(), "gpu: attention cudnn: CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN") {
		t.Errorf("forward-only engine whose graph cuDNN does not take: %v", serr)
	}
	if strings.Contains(logged.String(), "runs mma") {
		t.Errorf("a refusal that is not of the rows said as a fallback:\n%s", logged.String())
	}
}

// A forward-only engine with cudnn reserves no backward-sized workspace in
// its plan: it builds the forward graph only and gets the bytes cuDNN's
// forward plan asks for, allocated on their own (none when it asks none),
// freed at Close.
func TestFusedForwardOnlyWorkspace(t *testing.T) {
	cfg := smallConfig(128, 2, 1, 64)
	cudnn := Options{Attention: AttnKernels{Kind: AttnCuDNN}}
	for _, wantFwd := range []int64{0, 4096} {
		f := &fusedFake{fakeDevice: newFake(t), want: 1 << 30, wantFwd: wantFwd}
		e, err := newScoringEngine(f, cfg, 2, 128, cudnn)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(e.Plan().Buffers, func(b Buffer) bool { return b.Name == "attn.cudnn_workspace" }) {
			t.Errorf("forward-only plan reserves the backward's workspace:\n%s", e.Plan().Describe())
		}
		if len(f.built) != 1 || !f.built[0].fwdOnly {
			t.Fatalf("built %+v, want one forward-only attention", f.built)
		}
		if want := 1 + min(wantFwd, 1); len(f.allocs) != int(want) {
			t.Errorf("forward workspace %d: %d device allocations, want %d (the arena, and the workspace if any)", wantFwd, len(f.allocs), want)
		}
		e.LogProbs(make([]float32, 2*128), make([]int32, 2*128), make([]int32, 2*128))
		if f.fwd != cfg.NumHiddenLayers*e.B/e.MB {
			t.Errorf("%d forward calls", f.fwd)
		}
		e.Close()
		if len(f.allocs) != 0 || f.open != 0 {
			t.Errorf("after Close: %d allocations, %d attentions open", len(f.allocs), f.open)
		}
	}
}

// An engine (training or forward only) asked for cudnn at rows the cuDNN
// found refuses (T not a multiple of 128 under cuDNN ≤ 9.15) runs mma, said
// in one log line with the reason, and its plan reserves no workspace for
// cuDNN; auto reserves none there either and says why cudnn was dropped. A
// refusal that is not about the rows (no library, a workspace above the
// plan: TestFusedEngineRefused) still fails the start.
func TestFusedEngineFallsBack(t *testing.T) {
	var logged strings.Builder
	log.SetOutput(&logged)
	defer log.SetOutput(os.Stderr)
	defer autoChoices.Clear()
	cfg := smallConfig(128, 2, 1, 64)
	const B, T = 2, 70
	hasWS := func(p *Plan) bool {
		return slices.ContainsFunc(p.Buffers, func(b Buffer) bool { return b.Name == "attn.cudnn_workspace" })
	}
	for _, scoring := range []bool{false, true} {
		logged.Reset()
		f := &fusedFake{fakeDevice: newFake(t), want: 1 << 20, refuse: refuseShortT}
		opts := Options{Attention: AttnKernels{Kind: AttnCuDNN}}
		var e *Engine
		var err error
		if scoring {
			e, err = newScoringEngine(f, cfg, B, T, opts)
		} else {
			e, err = newEngine(f, cfg, B, T, opts)
		}
		if err != nil {
			t.Fatalf("forward only %v, cudnn at T=%d: %v", scoring, T, err)
		}
		if e.Attention().Kind != AttnMMA || len(f.built) != 0 || hasWS(e.Plan()) {
			t.Errorf("forward only %v: attention %s, %d built, workspace reserved %v; want mma, none, none", scoring, e.Attention(), len(f.built), hasWS(e.Plan()))
		}
		if n := strings.Count(logged.String(), "runs mma instead"); n != 1 || !strings.Contains(logged.String(), "T a multiple of 128") {
			t.Errorf("forward only %v: said %d times, want once with the reason:\n%s", scoring, n, logged.String())
		}
		if scoring {
			e.LogProbs(make([]float32, B*T), make([]int32, B*T), make([]int32, B*T))
		} else {
			walk(t, e, cfg, B, T)
		}
		if f.fwd != 0 || f.kernels["attn_fwd_mma64"] == 0 {
			t.Errorf("forward only %v: %d cuDNN calls, %d mma forwards", scoring, f.fwd, f.kernels["attn_fwd_mma64"])
		}
		e.Close()
	}

	// auto: no workspace for a cudnn that will not take the rows, and the reason in its line
	autoChoices.Clear()
	logged.Reset()
	f := &fusedFake{fakeDevice: newFake(t), want: 1 << 20, refuse: refuseShortT}
	e, err := newEngine(f, cfg, B, T, Options{Attention: AttnKernels{Kind: AttnAuto}})
	if err != nil {
		t.Fatal(err)
	}
	if hasWS(e.Plan()) {
		t.Errorf("auto reserves a workspace for a cudnn that refuses T=%d:\n%s", T, e.Plan().Describe())
	}
	if s := e.AttentionChoice().String(); !strings.Contains(s, "cudnn dropped") || !strings.Contains(s, "T a multiple of 128") {
		t.Errorf("auto's line does not say why cudnn was dropped: %s", s)
	}
	e.Close()
}
