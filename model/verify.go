package model

import (
	"fmt"
	"math"
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
// modelDir on the inputs of the case file (golden/README.md layout) and compares
// every tensor the case holds. It returns one row per compared tensor.
func Verify[F Float](modelDir, casePath string, tol VerifyTolerances) ([]VerifyRow, error) {
	cfg, params, err := LoadHF[F](modelDir)
	if err != nil {
		return nil, err
	}
	cs, err := safetensors.Read(casePath)
	if err != nil {
		return nil, err
	}
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
	if !sameShape(lshape, shape) {
		return nil, fmt.Errorf("%s: tensor \"labels\" has shape %v, input_ids has %v", casePath, lshape, shape)
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
	zMult := hp.get("z_loss_multiplier", 1e-5)
	opt := AdamW{Beta1: hp.get("beta1", 0.9), Beta2: hp.get("beta2", 0.95), Eps: hp.get("adam_eps", 1e-8),
		WeightDecay: hp.get("weight_decay", 0.1), DecayNorms: true}
	lr := hp.get("lr", 1e-3)
	maxNorm := hp.get("max_grad_norm", 1.0)
	if hp.err != nil {
		return nil, hp.err
	}

	B, T := shape[0], shape[1]
	e := NewCPU[F](cfg, B, T, 0)
	defer e.Close()
	copy(e.Params, params)
	cmp := comparer{cs: cs, path: casePath}

	if _, ok := cs.Get("logits"); ok {
		e.Forward(ids)
		logits := make([]F, B*T*cfg.VocabSize)
		e.Logits(logits)
		cmp.check("logits", logits, tol.Forward)
	}
	n := CountLabelled(labels)
	if n == 0 {
		return nil, fmt.Errorf("%s: every label is %d; nothing to compare", casePath, IgnoreIndex)
	}
	e.ZeroGrads()
	l := e.ForwardBackward(ids, labels, 1/float64(n), zMult)
	ce, z := l.CESum/float64(n), l.ZSum/float64(n)
	cmp.check("loss", []F{F(ce)}, tol.Forward)
	cmp.check("z_loss", []F{F(z)}, tol.Forward)
	cmp.check("total", []F{F(ce + z)}, tol.Forward)
	cmp.check("logsumexp", e.Activation("logsumexp"), tol.Forward)
	cmp.check("act.embed", e.Activation("embed"), tol.Forward)
	for i := 0; i < cfg.NumHiddenLayers; i++ {
		cmp.check(fmt.Sprintf("act.layer.%d", i), e.Activation(fmt.Sprintf("layer.%d", i)), tol.Forward)
	}
	cmp.check("act.final_norm", e.Activation("final_norm"), tol.Forward)
	for _, t := range e.Layout.Tensors {
		cmp.check("grad."+t.Name, e.Grads[t.Offset:t.Offset+t.Numel()], tol.Backward)
	}
	norm := e.GradNorm()
	cmp.check("grad_norm", []F{F(norm)}, tol.Backward)
	coef := ClipCoef(norm, maxNorm)
	cmp.check("clip_coef", []F{F(coef)}, tol.Backward)

	// one AdamW step under OLMo 2's decay rule, then under "no decay on norms"
	grads := append([]F(nil), e.Grads...)
	e.Step(opt, NewOptState[F](len(e.Params)), lr, coef)
	for _, t := range e.Layout.Tensors {
		cmp.check("step1."+t.Name, e.Params[t.Offset:t.Offset+t.Numel()], tol.Backward)
	}
	copy(e.Params, params)
	copy(e.Grads, grads)
	opt.DecayNorms = false
	e.Step(opt, NewOptState[F](len(e.Params)), lr, coef)
	for _, t := range e.Layout.Tensors {
		cmp.check("step1_nonormdecay."+t.Name, e.Params[t.Offset:t.Offset+t.Numel()], tol.Backward)
	}
	if cmp.err != nil {
		return nil, cmp.err
	}
	// every tensor of the case must have been looked at
	skip := map[string]bool{"input_ids": true, "labels": true}
	for _, name := range cs.Names() {
		if !skip[name] && !cmp.seen[name] {
			return cmp.rows, fmt.Errorf("%s: tensor %q is not one verify knows how to compute", casePath, name)
		}
	}
	return cmp.rows, nil
}

func caseInts(cs *safetensors.File, name string) ([]int32, []int, error) {
	t, ok := cs.Get(name)
	if !ok {
		return nil, nil, fmt.Errorf("%s: tensor %q is missing", cs.Path, name)
	}
	v, err := t.Int64s()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: tensor %q: %w", cs.Path, name, err)
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
		c.err = fmt.Errorf("%s: tensor %q: %w", c.path, name, err)
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
