package model

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/olmolab/olmolab/model/safetensors"
)

// VerifyRow is one compared tensor: the largest absolute difference and that
// difference relative to the reference tensor's largest magnitude.
type VerifyRow struct {
	Name           string
	MaxAbs, MaxRel float64
	Tol            float64
	OK             bool
	First          string // the first differing values, when not OK
}

// VerifyTolerances are the relative tolerances: forward values and losses, then
// gradients and updated parameters (olmo2 issue: 1e-4 and 1e-3 in float32).
type VerifyTolerances struct{ Forward, Backward float64 }

// Float32Tolerances and Float64Tolerances suit the two compute precisions.
var (
	Float32Tolerances = VerifyTolerances{Forward: 1e-4, Backward: 1e-3}
	Float64Tolerances = VerifyTolerances{Forward: 1e-11, Backward: 1e-10}
)

// Verify runs forward, backward and one clipped AdamW step of the checkpoint in
// modelDir on the inputs of the case file (golden/README.md layout) with the CPU
// engine in precision F, and compares every tensor the case holds. It returns one
// row per compared tensor.
func Verify[F Float](modelDir, casePath string, tol VerifyTolerances) ([]VerifyRow, error) {
	cfg, params, err := LoadHF[F](modelDir)
	if err != nil {
		return nil, err
	}
	vc, err := readVerifyCase(casePath, modelDir, cfg)
	if err != nil {
		return nil, err
	}
	defer vc.cs.Close()
	e := NewCPU[F](cfg, vc.B, vc.T, 0)
	defer e.Close()
	return runVerify[F](&cpuVerify[F]{e: e, loaded: params}, vc, cfg, tol)
}

// VerifyBackend is Verify through any Backend (float32 on the host side): the
// way a GPU engine is checked against the same reference tensors. newBackend
// builds the backend for the case's (B, T).
func VerifyBackend(modelDir, casePath string, tol VerifyTolerances, newBackend func(cfg Config, B, T int) (Backend, error)) ([]VerifyRow, error) {
	cfg, params, err := LoadHF[float32](modelDir)
	if err != nil {
		return nil, err
	}
	vc, err := readVerifyCase(casePath, modelDir, cfg)
	if err != nil {
		return nil, err
	}
	defer vc.cs.Close()
	b, err := newBackend(cfg, vc.B, vc.T)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	b.WriteParams(params)
	return runVerify[float32](&backendVerify{b: b, loaded: params}, vc, cfg, tol)
}

// verifyCase is a parsed case file.
type verifyCase struct {
	cs            *safetensors.File
	path          string
	ids, labels   []int32
	B, T          int
	zMult, lr     float64
	maxNorm       float64
	opt           AdamW
	labelledCount int
}

// readVerifyCase opens the case file and reads its inputs; the reference
// tensors stay in the file (safetensors.Open) and are read one at a time as
// they are compared. The caller closes vc.cs.
func readVerifyCase(casePath, modelDir string, cfg Config) (vc *verifyCase, err error) {
	cs, err := safetensors.Open(casePath)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			cs.Close()
		}
	}()
	ids, shape, err := caseInts(cs, "input_ids")
	if err != nil {
		return nil, err
	}
	if len(shape) != 2 {
		return nil, fmt.Errorf("%s: tensor \"input_ids\" has shape %v, want [B, T]", casePath, shape)
	}
	labels, lshape, err := caseInts(cs, "labels")
	if err != nil {
		return nil, err
	}
	if !slices.Equal(lshape, shape) {
		return nil, fmt.Errorf("%s: tensor \"labels\" has shape %v, input_ids has %v", casePath, lshape, shape)
	}
	if err := matchCase(cs, modelDir, cfg, shape[0], shape[1]); err != nil {
		return nil, err
	}
	for i, id := range ids {
		if id < 0 || int(id) >= cfg.VocabSize {
			return nil, fmt.Errorf("%s: input_ids[%d] = %d is outside the vocabulary [0,%d)", casePath, i, id, cfg.VocabSize)
		}
		if l := labels[i]; l != IgnoreIndex && (l < 0 || int(l) >= cfg.VocabSize) {
			return nil, fmt.Errorf("%s: labels[%d] = %d is outside the vocabulary [0,%d)", casePath, i, l, cfg.VocabSize)
		}
	}
	hp := caseHyper{cs: cs, path: casePath}
	vc = &verifyCase{cs: cs, path: casePath, ids: ids, labels: labels, B: shape[0], T: shape[1]}
	vc.zMult = hp.get("z_loss_multiplier", 1e-5)
	vc.opt = AdamW{Beta1: hp.get("beta1", 0.9), Beta2: hp.get("beta2", 0.95), Eps: hp.get("adam_eps", 1e-8),
		WeightDecay: hp.get("weight_decay", 0.1), DecayNorms: true}
	vc.lr = hp.get("lr", 1e-3)
	vc.maxNorm = hp.get("max_grad_norm", 1.0)
	if hp.err != nil {
		return nil, hp.err
	}
	vc.labelledCount = CountLabelled(labels)
	if vc.labelledCount == 0 {
		return nil, fmt.Errorf("%s: every label is %d; nothing to compare", casePath, IgnoreIndex)
	}
	return vc, nil
}

// caseConfigKeys are the sizes a case's __metadata__ repeats from the config
// of the model it was made from (golden/README.md).
var caseConfigKeys = []struct {
	key string
	get func(Config) int
}{
	{"vocab_size", func(c Config) int { return c.VocabSize }},
	{"hidden_size", func(c Config) int { return c.HiddenSize }},
	{"num_hidden_layers", func(c Config) int { return c.NumHiddenLayers }},
	{"num_attention_heads", func(c Config) int { return c.NumAttentionHeads }},
	{"num_key_value_heads", func(c Config) int { return c.NumKeyValueHeads }},
	{"intermediate_size", func(c Config) int { return c.IntermediateSize }},
}

// matchCase refuses a case made from another model than cfg's before
// anything is computed: the sizes its __metadata__ records, then the shapes
// of its reference tensors against those the model makes for (B, T), so that
// the error says the two files do not go together rather than that one
// tensor has the wrong number of values.
func matchCase(cs *safetensors.File, modelDir string, cfg Config, B, T int) error {
	var diffs []string
	for _, k := range caseConfigKeys {
		s, ok := cs.Metadata[k.key]
		if !ok {
			continue
		}
		if v, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && v != k.get(cfg) {
			diffs = append(diffs, fmt.Sprintf("%s %d (the model's %d)", k.key, v, k.get(cfg)))
		}
	}
	if len(diffs) == 0 {
		params := map[string][]int{}
		for _, t := range NewLayout(cfg).Tensors {
			params[t.Name] = t.Shape
		}
		C := cfg.HiddenSize
		var first []string // the logits and the layer count, before the rest
		for _, name := range cs.Names() {
			t, _ := cs.Get(name)
			var want []int
			switch {
			case name == "logits":
				want = []int{B, T, cfg.VocabSize}
			case name == "logsumexp":
				want = []int{B, T}
			case name == "act.embed" || name == "act.final_norm":
				want = []int{B, T, C}
			case strings.HasPrefix(name, "act.layer."):
				if i, err := strconv.Atoi(strings.TrimPrefix(name, "act.layer.")); err == nil && i >= cfg.NumHiddenLayers {
					first = append(first, fmt.Sprintf("%s (the model has %d layers)", name, cfg.NumHiddenLayers))
					continue
				}
				want = []int{B, T, C}
			default:
				for _, pre := range []string{"grad.", "step1.", "step1_nonormdecay."} {
					if p, ok := strings.CutPrefix(name, pre); ok {
						if want, ok = params[p]; !ok {
							diffs = append(diffs, fmt.Sprintf("%s (the model has no parameter %s)", name, p))
						}
						break
					}
				}
			}
			if want != nil && !slices.Equal(t.Shape, want) {
				d := fmt.Sprintf("%s is %v (the model's %v)", name, t.Shape, want)
				if name == "logits" { // the vocabulary, and B and T: said first
					first = append([]string{d}, first...)
				} else {
					diffs = append(diffs, d)
				}
			}
		}
		diffs = append(first, diffs...)
	}
	if len(diffs) == 0 {
		return nil
	}
	more := ""
	if len(diffs) > 4 {
		more = fmt.Sprintf(", and %d more", len(diffs)-4)
		diffs = diffs[:4]
	}
	return fmt.Errorf("%s is not a case of this model (%s): %s%s\nHINT: verify a checkpoint against the case made from it (a golden directory holds both: --model DIR --case DIR/case.safetensors)",
		cs.Path, filepath.Join(modelDir, "config.json"), strings.Join(diffs, ", "), more)
}

// verifyEngine is what runVerify needs of an engine.
type verifyEngine[F Float] interface {
	logits(ids []int32) []F
	forwardBackward(ids, labels []int32, scale, z float64) Losses // from zeroed gradients
	activation(name string) []F                                   // nil when the engine keeps none
	grads() []F
	gradNorm() float64
	freshStep(o AdamW, lr, gradScale float64) []F // restore loaded params, one AdamW step from zero state
}

func runVerify[F Float](e verifyEngine[F], vc *verifyCase, cfg Config, tol VerifyTolerances) ([]VerifyRow, error) {
	lay := NewLayout(cfg)
	cmp := comparer{cs: vc.cs, path: vc.path}
	if _, ok := vc.cs.Get("logits"); ok {
		cmp.check("logits", e.logits(vc.ids), tol.Forward)
	}
	n := vc.labelledCount
	l := e.forwardBackward(vc.ids, vc.labels, 1/float64(n), vc.zMult)
	ce, z := l.CESum/float64(n), l.ZSum/float64(n)
	cmp.check("loss", []F{F(ce)}, tol.Forward)
	cmp.check("z_loss", []F{F(z)}, tol.Forward)
	cmp.check("total", []F{F(ce + z)}, tol.Forward)
	acts := []string{"logsumexp", "act.embed", "act.final_norm"}
	for i := 0; i < cfg.NumHiddenLayers; i++ {
		acts = append(acts, fmt.Sprintf("act.layer.%d", i))
	}
	for _, name := range acts {
		if a := e.activation(strings.TrimPrefix(name, "act.")); a != nil {
			cmp.check(name, a, tol.Forward)
		} else {
			cmp.skip(name)
		}
	}
	g := e.grads()
	for _, t := range lay.Tensors {
		cmp.check("grad."+t.Name, g[t.Offset:t.Offset+t.Numel()], tol.Backward)
	}
	norm := e.gradNorm()
	cmp.check("grad_norm", []F{F(norm)}, tol.Backward)
	coef := ClipCoef(norm, vc.maxNorm)
	cmp.check("clip_coef", []F{F(coef)}, tol.Backward)
	// one AdamW step under OLMo 2's decay rule, then under "no decay on norms"
	opt := vc.opt
	p := e.freshStep(opt, vc.lr, coef)
	for _, t := range lay.Tensors {
		cmp.check("step1."+t.Name, p[t.Offset:t.Offset+t.Numel()], tol.Backward)
	}
	opt.DecayNorms = false
	p = e.freshStep(opt, vc.lr, coef)
	for _, t := range lay.Tensors {
		cmp.check("step1_nonormdecay."+t.Name, p[t.Offset:t.Offset+t.Numel()], tol.Backward)
	}
	if cmp.err != nil {
		return nil, cmp.err
	}
	// every tensor of the case must have been looked at
	skip := map[string]bool{"input_ids": true, "labels": true}
	for _, name := range vc.cs.Names() {
		if !skip[name] && !cmp.seen[name] {
			return cmp.rows, fmt.Errorf("%s: tensor %q is not one verify knows how to compute", vc.path, name)
		}
	}
	return cmp.rows, nil
}

// VerifyNotCompared returns the reference tensors of the case that rows
// (VerifyBackend's) have none for: the activations (logsumexp, act.*) of a
// backend that keeps none the Backend interface reads, such as the GPU
// engine's. Verify and the CPU backends compare every one.
func VerifyNotCompared(casePath string, rows []VerifyRow) ([]string, error) {
	cs, err := safetensors.Open(casePath)
	if err != nil {
		return nil, err
	}
	defer cs.Close()
	seen := map[string]bool{"input_ids": true, "labels": true}
	for _, r := range rows {
		seen[r.Name] = true
	}
	var out []string
	for _, name := range cs.Names() {
		if !seen[name] {
			out = append(out, name)
		}
	}
	return out, nil
}

type cpuVerify[F Float] struct {
	e      *CPU[F]
	loaded []F
	g      []F
}

func (v *cpuVerify[F]) logits(ids []int32) []F {
	copy(v.e.Params, v.loaded)
	v.e.Forward(ids)
	out := make([]F, v.e.B*v.e.T*v.e.Cfg.VocabSize)
	v.e.Logits(out)
	return out
}

func (v *cpuVerify[F]) forwardBackward(ids, labels []int32, scale, z float64) Losses {
	copy(v.e.Params, v.loaded)
	v.e.ZeroGrads()
	l := v.e.ForwardBackward(ids, labels, scale, z)
	v.g = append([]F(nil), v.e.Grads...)
	return l
}

func (v *cpuVerify[F]) activation(name string) []F { return v.e.Activation(name) }
func (v *cpuVerify[F]) grads() []F                 { return v.g }
func (v *cpuVerify[F]) gradNorm() float64          { return v.e.GradNorm() }

func (v *cpuVerify[F]) freshStep(o AdamW, lr, gs float64) []F {
	copy(v.e.Params, v.loaded)
	copy(v.e.Grads, v.g)
	v.e.Step(o, NewOptState[F](len(v.e.Params)), lr, gs)
	return append([]F(nil), v.e.Params...)
}

type backendVerify struct {
	b      Backend
	loaded []float32
	ids    []int32
	labels []int32
	scale  float64
	z      float64
}

func (v *backendVerify) logits(ids []int32) []float32 {
	B, T := v.b.MicroBatch()
	out := make([]float32, B*T*v.b.Config().VocabSize)
	v.b.WriteParams(v.loaded)
	v.b.Logits(out, ids)
	return out
}

func (v *backendVerify) forwardBackward(ids, labels []int32, scale, z float64) Losses {
	v.ids, v.labels, v.scale, v.z = ids, labels, scale, z
	v.b.WriteParams(v.loaded)
	v.b.ZeroGrads()
	return v.b.ForwardBackward(ids, labels, scale, z)
}

// activation reads the activations of the CPU engines, which keep them (the
// cpu and cpu-f64 backends, checked as fully as Verify checks their engine);
// the Backend interface reads none of another backend's, whose activation
// tensors are then not compared (olmolab verify names them).
func (v *backendVerify) activation(name string) []float32 {
	switch b := v.b.(type) {
	case *CPUBackendOf[float32]:
		return b.E.Activation(name)
	case *CPUBackendOf[float64]:
		a := b.E.Activation(name)
		if a == nil {
			return nil
		}
		out := make([]float32, len(a))
		for i, x := range a {
			out[i] = float32(x)
		}
		return out
	}
	return nil
}

func (v *backendVerify) grads() []float32 {
	g := make([]float32, len(v.loaded))
	v.b.ReadGrads(g)
	return g
}

func (v *backendVerify) gradNorm() float64 { return v.b.GradNorm() }

func (v *backendVerify) freshStep(o AdamW, lr, gs float64) []float32 {
	// recompute the gradients from the loaded weights, then step from zero state
	v.forwardBackward(v.ids, v.labels, v.scale, v.z)
	zero := make([]float32, len(v.loaded))
	v.b.WriteOptState(zero, zero, 0)
	v.b.Step(o, lr, gs)
	p := make([]float32, len(v.loaded))
	v.b.ReadParams(p)
	return p
}

func caseInts(cs *safetensors.File, name string) ([]int32, []int, error) {
	t, ok := cs.Get(name)
	if !ok {
		return nil, nil, fmt.Errorf("%s: tensor %q is missing", cs.Path, name)
	}
	v, err := t.Int64s()
	if err != nil {
		return nil, nil, err // names the file and the tensor
	}
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out, t.Shape, nil
}

type caseHyper struct {
	cs   *safetensors.File
	path string
	err  error
}

// get reads a hyperparameter from the case's __metadata__, or def when absent.
func (h *caseHyper) get(key string, def float64) float64 {
	s, ok := h.cs.Metadata[key]
	if !ok {
		return def
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil && h.err == nil {
		h.err = fmt.Errorf("%s: __metadata__ field %q: %q is not a number", h.path, key, s)
	}
	return v
}

type comparer struct {
	cs   *safetensors.File
	path string
	rows []VerifyRow
	seen map[string]bool
	err  error
}

// skip marks a case tensor as deliberately not compared (an engine that keeps
// no such activation).
func (c *comparer) skip(name string) {
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	c.seen[name] = true
}

// check compares got with the case's tensor name, if the case has it.
func (c *comparer) check(name string, got any, tol float64) {
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	t, ok := c.cs.Get(name)
	if !ok || c.err != nil {
		return
	}
	c.seen[name] = true
	ref, err := t.Float64s(nil)
	if err != nil {
		c.err = err // names the file and the tensor
		return
	}
	g := toF64(got)
	if len(g) != len(ref) {
		c.err = fmt.Errorf("%s: tensor %q has %d values, the model produced %d", c.path, name, len(ref), len(g))
		return
	}
	var maxRef, maxAbs float64
	for _, r := range ref {
		maxRef = math.Max(maxRef, math.Abs(r))
	}
	var first []string
	for i := range ref {
		d := math.Abs(g[i] - ref[i])
		if math.IsNaN(g[i]) {
			d = math.Inf(1)
		}
		maxAbs = math.Max(maxAbs, d)
		if maxRef > 0 && d/maxRef > tol && len(first) < 3 {
			first = append(first, fmt.Sprintf("[%d] got %.9g want %.9g", i, g[i], ref[i]))
		}
	}
	rel := maxAbs
	if maxRef > 0 {
		rel = maxAbs / maxRef
	}
	row := VerifyRow{Name: name, MaxAbs: maxAbs, MaxRel: rel, Tol: tol, OK: rel <= tol}
	if !row.OK {
		row.First = strings.Join(first, "; ")
	}
	c.rows = append(c.rows, row)
}

func toF64(x any) []float64 {
	switch v := x.(type) {
	case []float32:
		out := make([]float64, len(v))
		for i, f := range v {
			out[i] = float64(f)
		}
		return out
	case []float64:
		return v
	}
	panic(fmt.Sprintf("model: toF64 of %T", x))
}

// SortRowsWorstFirst orders rows by relative error, largest first.
func SortRowsWorstFirst(rows []VerifyRow) {
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].MaxRel > rows[j].MaxRel })
}
