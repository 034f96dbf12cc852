package lab

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/data/world"
	"github.com/olmolab/olmolab/lab/olmes"
	"github.com/olmolab/olmolab/lab/plural"
	"github.com/olmolab/olmolab/model"
)

// Recipe is one experiment: model, data, optimisation and the lab's actions.
// Token counts are tokens, not steps, as in olmo-cookbook recipes.
type Recipe struct {
	Name, Description string
	ModelName         string       // preset name, or "inline"
	vocabGiven        bool         // the recipe gives model.vocab_size: resolveModel keeps it
	Model             model.Config // resolved (vocabulary follows the tokenizer for cpu_* presets)
	Tokenizer         string       // "world", "dolma2", "bytes"
	SequenceLength    int
	GlobalBatchSize   int   // tokens per optimizer step
	MicroBatchSize    int   // tokens per forward/backward (rank_microbatch_size); gradient accumulation when smaller
	MaxTokens         int64 // the run ends here (the anneal's end when one is scheduled)
	Seed              uint64
	LoadPath          string // HF checkpoint dir or one of our run/checkpoint dirs
	StartAsAnneal     bool   // olmo-cookbook's `anneal: true`: the whole run is an anneal from load_path
	Backend           string
	Optimizer         Optimizer
	Schedule          Schedule
	ZLoss             float64
	Dataset           []data.SourceSpec
	DatasetMix        string      // dataset.sources given as the name of one of Mixes, whose sources Dataset then holds
	Mixes             []NamedMix  // extra mixes a person can switch to; "anneal" when the anneal has one
	MixSchedule       []MixSwitch // mix_schedule: switches to named mixes the run makes by itself, by token count
	Anneal            AnnealSpec
	Soup              SoupSpec
	Eval              EvalSpec
	Spikes            SpikeSpec
	Checkpoint        CheckpointSpec
	StrictData        bool
	DataDType         data.DType // dataset.dtype: the element type of token files; 0: the tokenizer's (DTypeFor)
	World             *WorldSpec // nil: the default built-in world (docs/world.md's sizes)

	Path     string   // the file it came from ("" for built-ins: "experiments/NAME.yaml")
	Warnings []string // unknown keys and the like, one line each

	tree *yaml.Node // the document after overrides, for recipe.yaml in the run directory
}

// YAML renders the recipe as parsed, overrides applied: what a run directory
// keeps, so a resumed run reads exactly the recipe it started with.
func (r *Recipe) YAML() []byte {
	if r.tree == nil {
		return nil
	}
	b, err := yaml.Marshal(r.tree)
	if err != nil {
		panic("lab: re-encoding a parsed recipe: " + err.Error())
	}
	return b
}

// WorldSpec sizes the built-in world a recipe's builtin: sources and built-in
// evaluation tasks talk about: a smaller world is learned with fewer tokens.
type WorldSpec struct {
	Seed   uint64
	Config world.Config
}

// KB builds the knowledge base (nil spec: the default world).
func (w *WorldSpec) KB() *world.KB {
	if w == nil {
		return world.Default()
	}
	return world.New(w.Seed, w.Config)
}

// NamedMix is a mixture a run can switch to.
type NamedMix struct {
	Name    string
	Sources []data.SourceSpec
}

// MixSwitch is one entry of mix_schedule: at the first step boundary at or
// after AtTokens tokens the run switches to the named mix (one of Mixes), as
// a person's switch (m, ActSwitchMix) would. Switches are stage 1's: the
// parser refuses one at or after anneal.auto_at (the anneal's mix is the
// anneal's), and one that falls due while an anneal asked for (a) runs is
// skipped with a warning.
type MixSwitch struct {
	AtTokens int64
	Mix      string
}

// NamedMixSources returns the sources of the named mix (Mixes), nil when the
// recipe has none of that name.
func (r *Recipe) NamedMixSources(name string) []data.SourceSpec {
	for _, m := range r.Mixes {
		if m.Name == name {
			return m.Sources
		}
	}
	return nil
}

// Optimizer is AdamW as OLMo 2 sets it (olmo2.md §6).
type Optimizer struct {
	LR              float64
	Betas           [2]float64
	Eps             float64
	WeightDecay     float64
	DecayEmbeddings bool
	DecayNorms      bool
	MaxGradNorm     float64 // ≤ 0: no clipping
}

// AdamW converts to the engine's settings.
func (o Optimizer) AdamW() model.AdamW {
	return model.AdamW{Beta1: o.Betas[0], Beta2: o.Betas[1], Eps: o.Eps, WeightDecay: o.WeightDecay,
		DecayEmbeddings: o.DecayEmbeddings, DecayNorms: o.DecayNorms}
}

// AnnealSpec: LR linearly from its current value to 0 over Tokens, optimizer state
// kept, optionally onto Mix (olmo2.md §7). AutoAt > 0 starts it by itself when the
// run has seen that many tokens.
type AnnealSpec struct {
	Tokens int64
	Mix    []data.SourceSpec // nil: keep the current mix
	AutoAt int64
}

// SoupSpec: K anneals from one checkpoint with different data-order seeds,
// averaged uniformly (olmo2.md §9).
type SoupSpec struct {
	Ingredients int
	Seeds       []uint64
	Tokens      int64 // anneal length of each ingredient; 0: the anneal's
	Mix         []data.SourceSpec
}

// EvalSpec: which tasks, how often.
type EvalSpec struct {
	Tasks         []string
	IntervalSteps int  // 0: only at the phase boundaries and the end
	AtAnneal      bool // evaluate just before an anneal starts
	Limit         int  // instances per task (0: all)
	// Split is the dataset split of the OLMES benchmarks among Tasks: "train",
	// "validation" or "test", as olmolab eval --split; "": OLMES's own for each
	// (test where it is labelled). Built-in tasks and request dumps ignore it.
	Split string
	Val   ValSpec
	// World is the run's world, which its built-in tasks are about (the
	// recipe's world:); set by the run, not read from YAML. Nil: the evaluator's.
	World *world.KB `json:"-"`
	// Warn receives what the evaluator has to say about an evaluation (requests
	// cut to the context); set by the run, nil discards it.
	Warn func(string) `json:"-"`
}

// Any reports whether the recipe evaluates at all: tasks or validation loss.
func (e EvalSpec) Any() bool { return len(e.Tasks) > 0 || e.Val.Tokens > 0 }

// Names lists what an evaluation scores: the tasks, then "val/<source>" for
// each validation set.
func (e EvalSpec) Names() []string {
	out := slices.Clone(e.Tasks)
	if e.Val.Tokens > 0 {
		for _, s := range e.Val.Sources {
			out = append(out, ValTaskPrefix+s.Name)
		}
	}
	return out
}

// ValSpec is held-out validation loss, OLMo-core's in-loop LM evaluators: at
// every evaluation, per source, the mean cross-entropy over the labelled tokens
// of a fixed validation set and its bits per byte (lab/val.go).
type ValSpec struct {
	Tokens int64 // per source, rounded down to whole sequences; 0: no validation loss
	// Sources are eval.val.sources, or where the recipe names none, the
	// built-in sources it trains on (dataset, anneal, soup and named mixes),
	// each read from its held-out stream (data.ReadValidation).
	Sources []data.SourceSpec
	Derived bool // Sources came from the training mixes
}

// SpikeSpec: OLMo 2's spike score (olmo2.md §10) and the per-step flag.
type SpikeSpec struct {
	Window    int     // rolling window (1000)
	Sigma     float64 // spike-score threshold in standard deviations (7)
	FlagSigma float64 // immediate per-step flag threshold (6)
	MinPoints int     // values needed before anything is flagged (64)
}

// CheckpointSpec: how often and how many to keep.
type CheckpointSpec struct {
	IntervalSteps int // 0: only at phase changes, on request and at the end
	Keep          int // newest N kept (0: all)
	Dtype         string
}

// RecipeError is a recipe problem with its position: exit code 2.
type RecipeError struct {
	File         string
	Line, Column int
	Field        string
	Msg          string
}

func (e *RecipeError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ParseRecipe reads a recipe from YAML. name labels positions in messages (the file
// path). overrides are "key.path=value" strings applied before decoding, as
// OLMo-core's dotted overrides are.
func ParseRecipe(name string, b []byte, overrides []string) (*Recipe, error) {
	return parseRecipe(name, b, overrides, "")
}

// AbsPaths returns the recipe with every relative path it reads made
// absolute, taken from the current directory as a run reads them: the
// sources of the dataset and of every mix, eval.val's sources, load_path and
// eval.tasks' request dumps. A run records it so (its recipe.yaml, the mix in
// its checkpoints), and the export writes it, so that a resume, or the
// exported script, started in another directory reads the same files.
func (r *Recipe) AbsPaths() (*Recipe, error) {
	if r.tree == nil { // made in code, not parsed: nothing to render
		return r, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("%s: relative paths: %w", r.Path, err)
	}
	out, err := parseRecipe(r.Path, r.YAML(), nil, wd)
	if err != nil {
		return nil, err
	}
	out.Warnings = r.Warnings
	return out, nil
}

func parseRecipe(name string, b []byte, overrides []string, base string) (*Recipe, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, yamlSyntaxError(name, err)
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Line: 1, Column: 1}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &RecipeError{File: name, Line: root.Line, Column: root.Column, Msg: "a recipe is a mapping of keys (name:, model:, dataset:, …)"}
	}
	for _, o := range overrides {
		if err := applyOverride(root, o); err != nil {
			return nil, &RecipeError{File: name, Field: "--set " + o, Msg: err.Error()}
		}
	}
	d := &decoder{file: name, base: base}
	r := d.recipe(root)
	if d.err != nil {
		return nil, d.err
	}
	r.Path = name
	r.Warnings = d.warns
	r.tree = &doc
	return r, nil
}

// LoadRecipe reads a recipe file.
func LoadRecipe(path string, overrides []string) (*Recipe, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &RecipeError{File: path, Msg: err.Error()}
	}
	return ParseRecipe(path, b, overrides)
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

func yamlSyntaxError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		l, _ := strconv.Atoi(m[1])
		return &RecipeError{File: name, Line: l, Column: 1, Msg: "YAML syntax: " + m[2]}
	}
	return &RecipeError{File: name, Msg: "YAML syntax: " + msg}
}

// applyOverride sets a dotted path (dataset.sources.0.target_ratio=0.5) to a YAML value.
func applyOverride(root *yaml.Node, o string) error {
	key, val, ok := strings.Cut(o, "=")
	if !ok || key == "" {
		return errors.New("want key.path=value")
	}
	var v yaml.Node
	if err := yaml.Unmarshal([]byte(val), &v); err != nil {
		return fmt.Errorf("value %q is not YAML: %v", val, err)
	}
	value := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}
	if v.Kind == yaml.DocumentNode && len(v.Content) > 0 {
		value = v.Content[0]
	}
	clearPos(value)
	parts := strings.Split(key, ".")
	n := root
	for i, p := range parts {
		last := i == len(parts)-1
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for j := 0; j < len(n.Content); j += 2 {
				if n.Content[j].Value == p {
					found = true
					if last {
						n.Content[j+1] = value
					} else {
						n = n.Content[j+1]
					}
					break
				}
			}
			if !found {
				k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}
				if last {
					n.Content = append(n.Content, k, value)
				} else {
					m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
					n.Content = append(n.Content, k, m)
					n = m
				}
			}
		case yaml.SequenceNode:
			idx, err := strconv.Atoi(p)
			if err != nil && last && value.Kind == yaml.SequenceNode {
				// one value per element, in order: dataset.sources.target_ratio=[0.2, 0.8]
				// sets every source's ratio at once, a whole mix for a sweep
				return setEach(n, strings.Join(parts[:i], "."), p, value)
			}
			if err != nil || idx < 0 || idx >= len(n.Content) {
				hint := ""
				if err != nil {
					hint = fmt.Sprintf("; HINT: give an element's index (%s.0.%s=...) or, for every element at once, one value each in a list (%s.%s=[...], %d values)",
						strings.Join(parts[:i], "."), p, strings.Join(parts[:i], "."), p, len(n.Content))
				}
				return fmt.Errorf("%q: no list element %q%s", strings.Join(parts[:i], "."), p, hint)
			}
			if last {
				n.Content[idx] = value
			} else {
				n = n.Content[idx]
			}
		default:
			at, rest := strings.Join(parts[:i], "."), strings.Join(parts[i:], ".")
			if n.Kind == yaml.ScalarNode && at == "dataset.sources" {
				// an earlier --set (or the file) made it the name of a mix
				return fmt.Errorf("%q is the name of the mix %q, not a list of sources: it has no %q; HINT: set it in that mix (--set mixes.%s.%s=...), or give dataset.sources a list of sources first",
					at, n.Value, rest, n.Value, rest)
			}
			is := "empty"
			if n.Value != "" {
				is = strconv.Quote(n.Value)
			}
			return fmt.Errorf("%q is %s, not a mapping or list: it has no %q; HINT: set %s itself (--set %s=...), or give it a mapping or list first", at, is, rest, at, at)
		}
	}
	return nil
}

// setEach sets key in every element of list (a mapping each) to the value
// of values at its position: dataset.sources.target_ratio=[0.2, 0.8].
func setEach(list *yaml.Node, path, key string, values *yaml.Node) error {
	for j, el := range list.Content {
		if el.Kind != yaml.MappingNode {
			return fmt.Errorf("%q: element %d is %s, not a mapping, so it has no %q", path, j, describe(el), key)
		}
	}
	if len(values.Content) != len(list.Content) {
		return fmt.Errorf("%q has %d elements, and %s.%s takes one value for each, in order; got %d", path, len(list.Content), path, key, len(values.Content))
	}
	for j, el := range list.Content {
		found := false
		for k := 0; k+1 < len(el.Content); k += 2 {
			if el.Content[k].Value == key {
				el.Content[k+1], found = values.Content[j], true
				break
			}
		}
		if !found {
			el.Content = append(el.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, values.Content[j])
		}
	}
	return nil
}

func clearPos(n *yaml.Node) {
	n.Line, n.Column = 0, 0
	for _, c := range n.Content {
		clearPos(c)
	}
}

// decoder walks the YAML tree, keeping the first error and every warning.
type decoder struct {
	file  string
	err   error
	warns []string
	base  string // where relative paths are taken from, rewritten to absolute in the tree ("": left as written)
	// probe, when not nil, makes this a probing decoder (recipeLevels): per
	// mapping path, the keys fields was given and whether the decoder took
	// each; unknown keys are neither warned about nor refused
	probe map[string]map[string]bool
}

// rebase rewrites the relative local paths in n (a scalar or a list of them)
// to absolute ones under d.base, in the tree itself, so that the recipe.yaml
// rendered from it names the same files from any directory. builtin:
// sources, remote (scheme://) paths and absolute paths stay as they are, and
// so does every path when d.base is "". keep, when not nil, says which
// values are paths (eval.tasks: request dumps, not task names).
func (d *decoder) rebase(n *yaml.Node, keep func(string) bool) {
	if d.base == "" || n == nil {
		return
	}
	one := func(c *yaml.Node) {
		v := c.Value
		if c.Kind != yaml.ScalarNode || c.Tag == "!!null" || v == "" || filepath.IsAbs(v) ||
			strings.HasPrefix(v, data.BuiltinPrefix) || strings.Contains(v, "://") || (keep != nil && !keep(v)) {
			return
		}
		c.Value = filepath.Join(d.base, v)
	}
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			one(c)
		}
		return
	}
	one(n)
}

func (d *decoder) fail(n *yaml.Node, field, format string, args ...any) {
	if d.err != nil {
		return
	}
	e := &RecipeError{File: d.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	if e.Line == 0 && n != nil {
		e.Msg += " (from --set)"
	}
	d.err = e
}

func (d *decoder) warn(n *yaml.Node, format string, args ...any) {
	pos := d.file
	if n != nil && n.Line > 0 {
		pos = fmt.Sprintf("%s:%d:%d", d.file, n.Line, n.Column)
	}
	d.warns = append(d.warns, pos+": "+fmt.Sprintf(format, args...))
}

// fields iterates a mapping, calling f per key; keys f does not know go to
// unknownKey (a probing decoder only records which keys f took).
func (d *decoder) fields(n *yaml.Node, path string, f func(key string, v *yaml.Node) bool) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping, got %s", describe(n))
		return
	}
	if d.probe != nil && d.probe[path] == nil {
		d.probe[path] = map[string]bool{}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			d.fail(k, join(path, k.Value), "key given twice")
			return
		}
		seen[k.Value] = true
		took := f(k.Value, v)
		switch {
		case d.probe != nil:
			d.probe[path][k.Value] = took
		case !took:
			if d.unknownKey(k, path) {
				return
			}
		}
	}
}

// unknownKey answers a key the decoder does not take at path. A key of
// another level (top-level lr:) is an error naming where it belongs, and a
// near miss (lrr:) one naming the nearest key of this level, else of
// another: either would otherwise train on the default silently. A key the
// lab does not know at all (Beaker's budget) is a warning in a file and an
// error from --set, which it would not change. It reports whether decoding
// this mapping should stop.
func (d *decoder) unknownKey(k *yaml.Node, path string) bool {
	fromSet := k.Line == 0 // put there by --set
	field := join(path, k.Value)
	lv := recipeLevels()
	here := lv.level(path)
	// show renders a key of a level as the user writes it: dataset.sources[N].x
	// in a file, dataset.sources.N.x for --set
	show := func(level, key string) string {
		p := level
		if key != "" {
			p = join(level, key)
		}
		if fromSet {
			p = strings.ReplaceAll(p, "[N]", ".N")
		}
		return p
	}
	if slices.Contains(foreignKeys[here], k.Value) {
		return d.unknownAtAll(k, field)
	}
	nearHere := nearest(k.Value, slices.Sorted(maps.Keys(lv.keys[here])))
	var top bool
	var under, wherePaths []string
	for _, l := range lv.order {
		if l != here && lv.keys[l][k.Value] {
			if l == "" {
				top = true
			} else {
				under = append(under, show(l, ""))
			}
			wherePaths = append(wherePaths, show(l, k.Value))
		}
	}
	if d.err != nil && (fromSet || len(wherePaths) > 0 || nearHere != "") {
		return true
	}
	switch {
	case len(wherePaths) > 0:
		where := "under " + orList(under)
		if top && len(under) > 0 {
			where = "at the top level or " + where
		} else if top {
			where = "at the top level"
		}
		msg := fmt.Sprintf("this key belongs %s (%s)", where, orList(wherePaths))
		if fromSet {
			for i, p := range wherePaths {
				wherePaths[i] = "--set " + p + "=..."
			}
			msg = fmt.Sprintf("this key belongs %s: %s", where, orList(wherePaths))
		}
		if nearHere != "" {
			msg += fmt.Sprintf("; or did you mean %q?", join(path, nearHere))
		}
		d.err = &RecipeError{File: d.file, Field: field, Msg: msg, Line: k.Line, Column: k.Column}
		return true
	case nearHere != "":
		if fromSet {
			d.err = &RecipeError{File: d.file, Field: field, Msg: fmt.Sprintf("unknown key (from --set); did you mean %q?", join(path, nearHere))}
		} else {
			d.fail(k, field, "unknown key; did you mean %q? (keys the lab does not know at all, such as Beaker's budget or cluster, are only warned about)", join(path, nearHere))
		}
		return true
	}
	// the nearest key of the other levels, at every level that has it
	var others []string
	for _, l := range lv.order {
		if l != here && !lv.free[l] {
			others = append(others, slices.Collect(maps.Keys(lv.keys[l]))...)
		}
	}
	slices.Sort(others)
	if near := nearest(k.Value, others); near != "" {
		var paths []string
		for _, l := range lv.order {
			if lv.keys[l][near] {
				paths = append(paths, strconv.Quote(show(l, near)))
			}
		}
		if fromSet {
			d.err = &RecipeError{File: d.file, Field: field, Msg: fmt.Sprintf("unknown key (from --set); did you mean %s?", orList(paths))}
		} else {
			d.fail(k, field, "unknown key; did you mean %s? (keys the lab does not know at all, such as Beaker's budget or cluster, are only warned about)", orList(paths))
		}
		return true
	}
	return d.unknownAtAll(k, field)
}

// unknownAtAll answers a key the lab does not know at all: a warning in a
// file, an error from --set (the override would change nothing).
func (d *decoder) unknownAtAll(k *yaml.Node, field string) bool {
	if k.Line == 0 {
		if d.err == nil {
			d.err = &RecipeError{File: d.file, Field: field, Msg: "unknown key (from --set); HINT: keys are the recipe's YAML paths, e.g. optimizer.lr, dataset.sources.0.target_ratio (README, Recipes)"}
		}
		return true
	}
	d.warn(k, "unknown key %q ignored", field)
	return false
}

// foreignKeys are keys that the configs recipes are written from have at a
// level, meaning something else than the lab's key of that name at another
// level: they are not sent there, but warned about as keys the lab does not
// know. OLMo-core's TokenizerConfig.vocab_size is the tokenizer's, not the
// model's padded vocabulary; its TransformerConfig.dtype (and HF config.json's
// dtype) is the parameters' type, not token files' or checkpoints'; its
// NumpyDatasetConfig.mix names a data mix, not an anneal's or soup's sources.
var foreignKeys = map[string][]string{
	"tokenizer": {"vocab_size"},
	"model":     {"dtype"},
	"dataset":   {"mix"},
}

// orList joins items as "a", "a or b", "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// recipeKeyNames are the keys the decoder knows, at any level: the case
// labels of decoder.recipe and its helpers, "identifier" and "preset"
// (TestRecipeKeyNames keeps this list in step with them). Which level takes
// which is the decoder's own answer (recipeLevels).
var recipeKeyNames = []string{
	"alpha_f", "animals", "anneal", "at_anneal", "at_tokens", "auto_at", "backend", "betas", "checkpoint", "dataset",
	"decay_embeddings", "decay_fraction", "decay_norm_and_bias", "decay_norms", "description", "dtype", "eps", "eval",
	"flag_sigma", "global_batch_size", "identifier", "ingredients", "interval", "keep", "learning_rate", "limit",
	"load_path", "lr", "max_grad_norm", "max_source_ratio", "max_tokens", "min_points", "mix", "mix_schedule", "mixes", "model", "name", "optimizer", "paths",
	"people", "preset", "rank_microbatch_size", "regions", "repetition_factor", "schedule", "seed", "seeds", "sequence_length", "sigma", "soup",
	"sources", "spikes", "split", "strict", "t_max", "t_warmup", "target_ratio", "tasks", "tokenizer", "tokens", "towns_per_region",
	"type", "val", "warmup_min_lr", "warmup_tokens", "weight_decay", "window", "world", "z_loss",
}

// nearest returns the key of names an unknown one is a near miss of: at most
// one edit away for keys of up to 6 letters, two for longer ones; of two
// equally near, the first in sort order. OLMo-core's, olmo-cookbook's and
// Beaker's own keys, which recipes may carry, are all further than that from
// every key the lab knows (nodes is two edits from model: hence 6).
func nearest(key string, names []string) string {
	limit := 1
	if len(key) > 6 {
		limit = 2
	}
	if len(key) < 2 {
		return ""
	}
	best, bestD := "", limit+1
	for _, name := range names {
		if d := editDistance(key, name); d > 0 && (d < bestD || d == bestD && name < best) {
			best, bestD = name, d
		}
	}
	return best
}

// Nearest is the name of names that s is a near miss of (a typo: at most
// one edit away for up to 6 letters, two for longer), or "" when none is:
// the "did you mean" of a mistyped command or shipped recipe name.
func Nearest(s string, names []string) string { return nearest(s, names) }

// knownKeyNames is recipeKeyNames and modelFields' keys, sorted.
var knownKeyNames = sync.OnceValue(func() []string {
	names := slices.Clone(recipeKeyNames)
	for name := range modelFields {
		names = append(names, name)
	}
	slices.Sort(names)
	return slices.Compact(names)
})

// keyLevels says which keys each mapping of a recipe takes. Levels are
// written as the decoder names them, list elements as [N]: "" (the top),
// "optimizer", "dataset.sources[N]", "eval.val"; a level whose keys are
// names of the user's (mixes:) is free, and its children are written with
// NAME (mixes.NAME[N]).
type keyLevels struct {
	order []string // discovery order: the top first, then breadth first
	keys  map[string]map[string]bool
	free  map[string]bool
}

// level returns the level of a decoder path: dataset.sources[2] is
// dataset.sources[N], mixes.curated[0] is mixes.NAME[N].
func (lv *keyLevels) level(path string) string {
	if path == "" {
		return ""
	}
	out := ""
	for i, seg := range strings.Split(path, ".") {
		base, idx, list := strings.Cut(seg, "[")
		if i > 0 && lv.free[out] {
			base = "NAME"
		}
		out = join(out, base)
		if list && strings.HasSuffix(idx, "]") {
			out += "[N]"
		}
	}
	return out
}

// freeProbe is a key no level of the lab knows: a level that takes it takes
// names (mixes:).
const freeProbe = "?probe?"

// recipeLevels asks the decoder itself which keys each level takes, so that
// the answer cannot drift from it: a probing decoder decodes, level by level,
// a mapping of every key the lab knows (knownKeyNames) and records which of
// them its fields took; then, under each key taken, a mapping and a list of
// one mapping, to find the levels below. Values are null, so every key taken
// fails its type check, which a probing decoder ignores. (Set in init: the
// decoder it probes calls it.)
var recipeLevels func() *keyLevels

func init() { recipeLevels = sync.OnceValue(probeLevels) }

func probeLevels() *keyLevels {
	lv := &keyLevels{keys: map[string]map[string]bool{}, free: map[string]bool{}}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	probeMap := func() *yaml.Node {
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range append(knownKeyNames(), freeProbe) {
			m.Content = append(m.Content, str(k), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"})
		}
		return m
	}
	// a step is a key, or "" for the first element of a list
	type job struct {
		steps       []string
		path, level string
	}
	queue := []job{{}}
	for len(queue) > 0 {
		j := queue[0]
		queue = queue[1:]
		if _, done := lv.keys[j.level]; done {
			continue
		}
		leaf := probeMap()
		for i := len(j.steps) - 1; i >= 0; i-- {
			if j.steps[i] == "" {
				leaf = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{leaf}}
			} else {
				leaf = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{str(j.steps[i]), leaf}}
			}
		}
		d := &decoder{file: "probe", probe: map[string]map[string]bool{}}
		d.recipe(leaf)
		took, reached := d.probe[j.path]
		if !reached {
			continue
		}
		lv.order = append(lv.order, j.level)
		lv.keys[j.level] = map[string]bool{}
		var below []string
		if took[freeProbe] {
			lv.free[j.level] = true
			below = []string{"NAME"}
		} else {
			for _, k := range knownKeyNames() {
				if took[k] {
					lv.keys[j.level][k] = true
					below = append(below, k)
				}
			}
		}
		for _, k := range below {
			steps := append(slices.Clone(j.steps), k)
			queue = append(queue,
				job{steps, join(j.path, k), join(j.level, k)},
				job{append(slices.Clone(steps), ""), join(j.path, k) + "[0]", join(j.level, k) + "[N]"})
		}
	}
	return lv
}

// editDistance is the Levenshtein distance between a and b (bytes: keys are ASCII).
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing (null)"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func (d *decoder) str(n *yaml.Node, field string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.fail(n, field, "want a string, got %s", describe(n))
		return ""
	}
	return n.Value
}

func (d *decoder) boolean(n *yaml.Node, field string) bool {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		return b
	}
	d.fail(n, field, "want true or false, got %s", describe(n))
	return false
}

func (d *decoder) float(n *yaml.Node, field string) float64 {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!float" || n.Tag == "!!int" || n.Tag == "!!str") {
		if v, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err == nil && !math.IsInf(v, 0) && !math.IsNaN(v) {
			return v
		}
	}
	d.fail(n, field, "want a number, got %s", describe(n))
	return 0
}

func (d *decoder) integer(n *yaml.Node, field string) int {
	v := d.count(n, field)
	if v > math.MaxInt32 {
		d.fail(n, field, "%d is too large", v)
	}
	return int(v)
}

// count reads a non-negative whole number (ParseCount).
func (d *decoder) count(n *yaml.Node, field string) int64 {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.fail(n, field, "want a whole number, got %s", describe(n))
		return 0
	}
	v, ok := ParseCount(n.Value)
	if !ok {
		d.fail(n, field, "want a whole number ≥ 0 (e.g. 1700000, 1.7e6 or 1.7M), got %s", describe(n))
		return 0
	}
	return v
}

// ParseCount reads a non-negative whole number as recipes write token counts:
// 1700000, 1.7e6, 1_700_000, or with a K/M/B/T suffix (400K, 1.7M, 50B, 5T).
func ParseCount(s string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), "_", "")
	mult := 1.0
	if len(s) > 1 {
		switch strings.ToUpper(s[len(s)-1:]) {
		case "K":
			mult = 1e3
		case "M":
			mult = 1e6
		case "B", "G":
			mult = 1e9
		case "T":
			mult = 1e12
		}
		if mult != 1 {
			s = s[:len(s)-1]
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	v *= mult
	if err != nil || v < 0 || v != math.Trunc(v) || v > 1e18 {
		return 0, false
	}
	return int64(v), true
}

func (d *decoder) strList(n *yaml.Node, field string) []string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, "want a list of strings, got %s", describe(n))
		return nil
	}
	var out []string
	for i, c := range n.Content {
		out = append(out, d.str(c, fmt.Sprintf("%s[%d]", field, i)))
	}
	return out
}

func (d *decoder) recipe(root *yaml.Node) *Recipe {
	r := DefaultRecipe()
	var modelNode *yaml.Node
	d.fields(root, "", func(k string, v *yaml.Node) bool {
		switch k {
		case "name":
			r.Name = d.str(v, k)
		case "description":
			r.Description = d.str(v, k)
		case "model":
			modelNode = v
		case "tokenizer":
			// olmo-cookbook writes a name; OLMo's YAML a mapping with identifier
			if v.Kind == yaml.MappingNode {
				d.fields(v, k, func(k2 string, v2 *yaml.Node) bool {
					if k2 == "identifier" || k2 == "name" {
						r.Tokenizer = tokenizerAlias(d.str(v2, join(k, k2)))
						return true
					}
					return false
				})
			} else {
				r.Tokenizer = tokenizerAlias(d.str(v, k))
			}
		case "sequence_length":
			r.SequenceLength = d.integer(v, k)
		case "global_batch_size":
			r.GlobalBatchSize = d.integer(v, k)
		case "rank_microbatch_size":
			r.MicroBatchSize = d.integer(v, k)
		case "max_tokens":
			r.MaxTokens = d.count(v, k)
		case "seed":
			r.Seed = uint64(d.count(v, k))
		case "load_path":
			if v.Tag != "!!null" {
				d.rebase(v, nil)
				r.LoadPath = d.str(v, k)
			}
		case "anneal":
			if v.Kind == yaml.ScalarNode {
				r.StartAsAnneal = d.boolean(v, k)
			} else {
				d.anneal(v, &r.Anneal)
			}
		case "backend":
			r.Backend = d.str(v, k)
		case "optimizer":
			d.optimizer(v, &r.Optimizer)
		case "schedule":
			d.schedule(v, &r.Schedule)
		case "z_loss":
			r.ZLoss = d.float(v, k)
		case "dataset":
			d.fields(v, k, func(k2 string, v2 *yaml.Node) bool {
				switch k2 {
				case "sources":
					if v2.Kind == yaml.ScalarNode && v2.Tag != "!!null" {
						// the name of a mix under mixes: (resolved in
						// validate), so a sweep can vary whole mixes:
						// --vary dataset.sources=web_heavy,curated
						r.DatasetMix = d.str(v2, "dataset.sources")
						return true
					}
					r.Dataset = d.sources(v2, "dataset.sources")
				case "strict":
					r.StrictData = d.boolean(v2, "dataset.strict")
				case "seed":
					if d.probe != nil {
						return false // not a level a seed belongs at: an error naming where seed goes does not name it
					}
					// olmo-cookbook's DatasetConfig.seed: the seed OLMo-core's
					// source mixture samples each source's instances with. Not
					// the top-level seed, which a cookbook recipe has too, and
					// which orders olmolab's data: refusing it (a key of another
					// level) stopped every pasted cookbook recipe.
					if d.integer(v2, "dataset.seed"); d.err == nil {
						d.warn(v2, "dataset.seed ignored: olmo-cookbook's seed for sampling each source's instances; olmolab orders every source's data by the recipe's seed (top-level seed:)")
					}
				case "dtype":
					// OLMo-core's NumpyDatasetConfig.dtype: files written with
					// `olmolab tokenize --dtype` or by another pipeline.
					if s := d.str(v2, "dataset.dtype"); d.err == nil {
						dt, err := data.ParseDType(s)
						if err != nil || s == "" {
							d.fail(v2, "dataset.dtype", "want uint16 or uint32, got %q", s)
						}
						r.DataDType = dt
					}
				default:
					return false
				}
				return true
			})
		case "mixes":
			d.fields(v, k, func(k2 string, v2 *yaml.Node) bool {
				r.Mixes = append(r.Mixes, NamedMix{Name: k2, Sources: d.sources(v2, join(k, k2))})
				return true
			})
		case "mix_schedule":
			r.MixSchedule = d.mixSchedule(v)
		case "soup":
			d.soup(v, &r.Soup)
		case "world":
			w := &WorldSpec{Seed: world.DefaultSeed, Config: world.DefaultConfig()}
			d.fields(v, k, func(k2 string, v2 *yaml.Node) bool {
				f := join(k, k2)
				switch k2 {
				case "seed":
					w.Seed = uint64(d.count(v2, f))
				case "regions":
					w.Config.Regions = d.integer(v2, f)
				case "towns_per_region":
					w.Config.TownsPerRegion = d.integer(v2, f)
				case "people":
					w.Config.People = d.integer(v2, f)
				case "animals":
					w.Config.Animals = d.integer(v2, f)
				default:
					return false
				}
				return true
			})
			if c := w.Config; d.err == nil && (c.Regions < 4 || c.TownsPerRegion < 1 || c.People < 4 || c.Animals < 4) {
				d.fail(v, k, "the world needs at least 4 regions, 1 town per region, 4 people and 4 animals (got %d, %d, %d, %d)",
					c.Regions, c.TownsPerRegion, c.People, c.Animals)
			}
			r.World = w
		case "eval":
			d.eval(v, &r.Eval)
		case "spikes":
			d.spikes(v, &r.Spikes)
		case "checkpoint":
			d.fields(v, k, func(k2 string, v2 *yaml.Node) bool {
				switch k2 {
				case "interval":
					r.Checkpoint.IntervalSteps = d.integer(v2, join(k, k2))
				case "keep":
					r.Checkpoint.Keep = d.integer(v2, join(k, k2))
				case "dtype":
					r.Checkpoint.Dtype = strings.ToUpper(d.str(v2, join(k, k2)))
				default:
					return false
				}
				return true
			})
		default:
			return false
		}
		return true
	})
	if d.err == nil {
		d.model(modelNode, r)
	}
	if d.err == nil && d.probe == nil {
		d.validate(root, r)
	}
	return r
}

// tokenizerAlias maps OLMo's identifiers onto ours.
func tokenizerAlias(s string) string {
	switch strings.ToLower(s) {
	case "tokenizers/allenai_dolma2.json", "allenai/dolma2-tokenizer", "dolma2":
		return "dolma2"
	}
	return s
}

// DefaultRecipe holds the defaults every recipe starts from: OLMo 2's optimizer,
// z-loss and spike settings, the CPU backend, the built-in world.
func DefaultRecipe() *Recipe {
	return &Recipe{
		ModelName: "cpu_s", Tokenizer: "world", SequenceLength: 128, GlobalBatchSize: 2048, Seed: 1,
		Backend:    "cpu",
		Optimizer:  Optimizer{LR: 4e-4, Betas: [2]float64{0.9, 0.95}, Eps: 1e-8, WeightDecay: 0.1, DecayNorms: true, MaxGradNorm: 1},
		Schedule:   Schedule{Kind: "cosine", AlphaF: 0.1},
		ZLoss:      1e-5,
		Spikes:     SpikeSpec{Window: 1000, Sigma: 7, FlagSigma: 6, MinPoints: 64},
		Eval:       EvalSpec{AtAnneal: true},
		Checkpoint: CheckpointSpec{Keep: 3, Dtype: "F32"},
	}
}

func (d *decoder) model(n *yaml.Node, r *Recipe) {
	field := "model"
	var base model.Config
	var err error
	over := map[string]*yaml.Node{}
	var order []string
	switch {
	case n == nil:
		base, err = model.PresetByName(r.ModelName)
	case n.Kind == yaml.ScalarNode:
		r.ModelName = d.str(n, field)
		base, err = model.PresetByName(r.ModelName)
		if err != nil {
			d.fail(n, field, "%v", err)
			return
		}
	case n.Kind == yaml.MappingNode:
		r.ModelName = "inline"
		base, _ = model.PresetByName("cpu_s")
		d.fields(n, field, func(k string, v *yaml.Node) bool {
			if k == "preset" {
				r.ModelName = d.str(v, "model.preset")
				base, err = model.PresetByName(r.ModelName)
				if err != nil {
					d.fail(v, "model.preset", "%v", err)
				}
				return true
			}
			if _, ok := modelFields[k]; !ok {
				return false
			}
			over[k] = v
			order = append(order, k)
			return true
		})
	default:
		d.fail(n, field, "want a preset name or a mapping of config fields, got %s", describe(n))
		return
	}
	if d.err != nil {
		return
	}
	r.Model = base
	for _, k := range order {
		modelFields[k](d, over[k], "model."+k, &r.Model)
	}
	_, r.vocabGiven = over["vocab_size"]
	if d.err != nil {
		return
	}
	if err := r.Model.Validate(); err != nil {
		d.fail(n, field, "%v", err)
	}
}

// modelFields decodes inline model keys: HF's config.json names plus OLMo-core's.
var modelFields = map[string]func(d *decoder, v *yaml.Node, f string, c *model.Config){
	"hidden_size":       func(d *decoder, v *yaml.Node, f string, c *model.Config) { c.HiddenSize = d.integer(v, f) },
	"d_model":           func(d *decoder, v *yaml.Node, f string, c *model.Config) { c.HiddenSize = d.integer(v, f) },
	"intermediate_size": func(d *decoder, v *yaml.Node, f string, c *model.Config) { c.IntermediateSize = d.integer(v, f) },
	"mlp_hidden_size":   func(d *decoder, v *yaml.Node, f string, c *model.Config) { c.IntermediateSize = d.integer(v, f) },
	"num_hidden_layers": func(d *decoder, v *yaml.Node, f string, c *model.Config) { c.NumHiddenLayers = d.integer(v, f) },
	"n_layers":          func(d *decoder, v *yaml.Node, f string, c *model.Config) { c.NumHiddenLayers = d.integer(v, f) },
	"num_attention_heads": func(d *decoder, v *yaml.Node, f string, c *model.Config) {
		c.NumAttentionHeads = d.integer(v, f)
		c.NumKeyValueHeads = c.NumAttentionHeads
	},
	"n_heads": func(d *decoder, v *yaml.Node, f string, c *model.Config) {
		c.NumAttentionHeads = d.integer(v, f)
		c.NumKeyValueHeads = c.NumAttentionHeads
	},
	"num_key_value_heads": func(d *decoder, v *yaml.Node, f string, c *model.Config) { c.NumKeyValueHeads = d.integer(v, f) },
	"n_kv_heads":          func(d *decoder, v *yaml.Node, f string, c *model.Config) { c.NumKeyValueHeads = d.integer(v, f) },
	"head_dim":            func(d *decoder, v *yaml.Node, f string, c *model.Config) { c.HeadDim = d.integer(v, f) },
	"vocab_size":          func(d *decoder, v *yaml.Node, f string, c *model.Config) { c.VocabSize = d.integer(v, f) },
	"rope_theta":          func(d *decoder, v *yaml.Node, f string, c *model.Config) { c.RopeTheta = d.float(v, f) },
	"rms_norm_eps":        func(d *decoder, v *yaml.Node, f string, c *model.Config) { c.RMSNormEps = d.float(v, f) },
	"tie_word_embeddings": func(d *decoder, v *yaml.Node, f string, c *model.Config) { c.TieWordEmbeddings = d.boolean(v, f) },
	"init_std":            func(d *decoder, v *yaml.Node, f string, c *model.Config) { c.InitializerRange = d.float(v, f) },
}

func (d *decoder) optimizer(n *yaml.Node, o *Optimizer) {
	d.fields(n, "optimizer", func(k string, v *yaml.Node) bool {
		f := join("optimizer", k)
		switch k {
		case "name":
			if s := strings.ToLower(d.str(v, f)); s != "adamw" && s != "skip_step_adamw" && d.err == nil {
				d.fail(v, f, "only adamw is supported, got %q", s)
			}
		case "lr", "learning_rate":
			o.LR = d.float(v, f)
		case "betas":
			if v.Kind != yaml.SequenceNode || len(v.Content) != 2 {
				d.fail(v, f, "want [beta1, beta2], got %s", describe(v))
				return true
			}
			o.Betas = [2]float64{d.float(v.Content[0], f+"[0]"), d.float(v.Content[1], f+"[1]")}
		case "eps":
			o.Eps = d.float(v, f)
		case "weight_decay":
			o.WeightDecay = d.float(v, f)
		case "decay_embeddings":
			o.DecayEmbeddings = d.boolean(v, f)
		case "decay_norm_and_bias", "decay_norms":
			o.DecayNorms = d.boolean(v, f)
		case "max_grad_norm":
			o.MaxGradNorm = d.float(v, f)
		default:
			return false
		}
		return true
	})
}

func (d *decoder) schedule(n *yaml.Node, s *Schedule) {
	if n.Kind == yaml.ScalarNode {
		s.Kind = strings.ToLower(d.str(n, "schedule"))
		return
	}
	var decay *yaml.Node
	d.fields(n, "schedule", func(k string, v *yaml.Node) bool {
		f := join("schedule", k)
		switch k {
		case "name", "type":
			s.Kind = strings.ToLower(d.str(v, f))
		case "warmup_tokens", "t_warmup":
			s.WarmupTokens = d.count(v, f)
		case "alpha_f":
			s.AlphaF = d.float(v, f)
		case "t_max", "max_tokens":
			s.MaxTokens = d.count(v, f)
		case "decay_fraction":
			s.DecayFraction, decay = d.float(v, f), v
		case "warmup_min_lr":
			s.WarmupMinLR = d.float(v, f)
		default:
			return false
		}
		return true
	})
	if decay != nil && s.Kind != "wsd" {
		d.warn(decay, "schedule.decay_fraction has no effect on a %s schedule: only wsd decays for a fraction of t_max", s.Kind)
	}
}

func (d *decoder) sources(n *yaml.Node, field string) []data.SourceSpec {
	return d.sourceList(n, field, true)
}

// sourceList decodes a list of sources; validation sources (ratio false) have
// no target_ratio, and one given is ignored with a warning.
func (d *decoder) sourceList(n *yaml.Node, field string, ratio bool) []data.SourceSpec {
	if n.Kind != yaml.SequenceNode {
		want := "{name, target_ratio, paths}"
		if !ratio {
			want = "{name, paths}"
		}
		d.fail(n, field, "want a list of sources (%s), got %s", want, describe(n))
		return nil
	}
	var out []data.SourceSpec
	for i, c := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		s := data.SourceSpec{TargetRatio: math.NaN()}
		var ratioNode, capNode *yaml.Node
		d.fields(c, f, func(k string, v *yaml.Node) bool {
			switch k {
			case "name":
				s.Name = d.str(v, join(f, k))
			case "target_ratio":
				if !ratio {
					d.warn(v, "%s ignored: validation sets are not mixed", join(f, k))
					return true
				}
				s.TargetRatio = d.float(v, join(f, k))
				ratioNode = v
			case "paths":
				d.rebase(v, nil)
				s.Paths = d.strList(v, join(f, k))
			case "repetition_factor", "max_source_ratio":
				// olmo-cookbook's caps (OLMo-core's max_repetition_ratio and
				// max_source_fraction), checked against the tokens the run
				// plans to draw when it starts (checkDraws), and would draw
				// in all on a resume (checkResumed) and at a person's
				// switch (capsWhyNot)
				if !ratio {
					d.warn(v, "%s ignored: validation sets are read once, not mixed", join(f, k))
					return true
				}
				x := d.float(v, join(f, k))
				if d.err != nil {
					return true
				}
				if k == "repetition_factor" {
					if !(x >= 1) || math.IsInf(x, 0) {
						d.fail(v, join(f, k), "want a number of at least 1 (the most passes over the source's data a run may make), got %v", x)
					}
					s.RepetitionFactor = x
				} else {
					if !(x > 0 && x <= 1) {
						d.fail(v, join(f, k), "want a fraction in (0, 1] (the most of the source's data a run may draw), got %v", x)
					}
					s.MaxSourceRatio = x
				}
				capNode = v
			case "dtype":
				// olmolab's own: the element type of this source's token
				// files, so that uint16 and uint32 files mix
				if str := d.str(v, join(f, k)); d.err == nil {
					dt, err := data.ParseDType(str)
					if err != nil || str == "" {
						d.fail(v, join(f, k), "want uint16 or uint32, got %q", str)
					}
					s.DType = dt
				}
			default:
				return false
			}
			return true
		})
		if d.err != nil {
			return nil
		}
		if s.Name == "" {
			d.fail(c, f+".name", "every source needs a name")
		} else if !ratio && len(s.Paths) == 0 {
			d.fail(c, f+".paths", "source %q lists no paths", s.Name)
		} else if !ratio {
			s.TargetRatio = 1
		} else if math.IsNaN(s.TargetRatio) {
			d.fail(c, f+".target_ratio", "source %q has no target_ratio; HINT: give every source a target_ratio (normalised to sum to 1); olmo-cookbook's natural mix (no target_ratio at all: shares by size) is not supported", s.Name)
		} else if s.TargetRatio < 0 {
			d.fail(ratioNode, f+".target_ratio", "source %q has a negative ratio %v", s.Name, s.TargetRatio)
		} else if len(s.Paths) == 0 {
			d.fail(c, f+".paths", "source %q lists no paths", s.Name)
		} else if capNode != nil && len(s.Paths) == 1 && strings.HasPrefix(s.Paths[0], data.BuiltinPrefix) {
			d.warn(capNode, "%s: repetition_factor and max_source_ratio have no effect on a built-in source: its documents never repeat", f)
		}
		out = append(out, s)
	}
	return out
}

func (d *decoder) anneal(n *yaml.Node, a *AnnealSpec) {
	d.fields(n, "anneal", func(k string, v *yaml.Node) bool {
		f := join("anneal", k)
		switch k {
		case "tokens":
			a.Tokens = d.count(v, f)
		case "mix":
			a.Mix = d.sources(v, f)
		case "auto_at", "at_tokens":
			a.AutoAt = d.count(v, f)
		default:
			return false
		}
		return true
	})
}

// mixSchedule decodes mix_schedule: a list of {at_tokens, mix}, mix naming
// one of mixes (validateMixSchedule checks the names and the order).
func (d *decoder) mixSchedule(n *yaml.Node) []MixSwitch {
	const field = "mix_schedule"
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, "want a list of switches ({at_tokens, mix}), got %s; e.g. mix_schedule: [{at_tokens: 1M, mix: curated}]", describe(n))
		return nil
	}
	var out []MixSwitch
	for i, c := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		var s MixSwitch
		at, mix := false, false
		d.fields(c, f, func(k string, v *yaml.Node) bool {
			switch k {
			case "at_tokens":
				s.AtTokens, at = d.count(v, join(f, k)), true
			case "mix":
				if v.Kind == yaml.SequenceNode {
					d.fail(v, join(f, k), "want the name of a mix under mixes:, got a list of sources; HINT: give the sources a name under mixes: and name it here")
					return true
				}
				s.Mix, mix = d.str(v, join(f, k)), true
			default:
				return false
			}
			return true
		})
		if d.err != nil {
			return nil
		}
		switch {
		case !at:
			d.fail(c, f+".at_tokens", "missing: the token count at which the run switches, e.g. at_tokens: 1M")
		case !mix:
			d.fail(c, f+".mix", "missing: the name of the mix under mixes: to switch to")
		}
		out = append(out, s)
	}
	return out
}

// validateMixSchedule checks mix_schedule against the recipe: every switch
// names a mix of mixes:, comes after the start and after the switch before
// it, and before the automatic anneal, whose mix would otherwise be undone.
func (d *decoder) validateMixSchedule(at func(...string) *yaml.Node, r *Recipe) {
	node := at("mix_schedule")
	entry := func(i int, key string) *yaml.Node {
		if node.Kind == yaml.SequenceNode && i < len(node.Content) {
			return find(node.Content[i], key)
		}
		return node
	}
	var names []string
	for _, m := range r.Mixes {
		names = append(names, m.Name)
	}
	for i, s := range r.MixSchedule {
		f := fmt.Sprintf("mix_schedule[%d]", i)
		switch {
		case r.NamedMixSources(s.Mix) == nil && s.Mix == "anneal":
			// "anneal" is the anneal's own mix, named only where anneal.mix gives it
			have := "the recipe names no mixes"
			if len(names) > 0 {
				have = "mixes: has " + strings.Join(names, ", ")
			}
			d.fail(entry(i, "mix"), f+".mix", "no mix \"anneal\": it is the anneal's mix, and anneal.mix is not given (%s); HINT: give anneal.mix its sources, e.g. anneal: {mix: [{name: qa, target_ratio: 1, paths: [\"builtin:qa\"]}]}, or switch to a mix under mixes:", have)
		case r.NamedMixSources(s.Mix) == nil && len(names) == 0:
			d.fail(entry(i, "mix"), f+".mix", "no mix %q: the recipe names no mixes; HINT: add it under mixes:, e.g. mixes: {%s: [{name: web, target_ratio: 1, paths: [...]}]}", s.Mix, s.Mix)
		case r.NamedMixSources(s.Mix) == nil:
			d.fail(entry(i, "mix"), f+".mix", "no mix %q under mixes: (it has %s)", s.Mix, strings.Join(names, ", "))
		case s.AtTokens == 0:
			d.fail(entry(i, "at_tokens"), f+".at_tokens", "a switch at 0 tokens: the run starts on dataset.sources; HINT: make %q the dataset (dataset.sources), or switch later", s.Mix)
		case i > 0 && s.AtTokens <= r.MixSchedule[i-1].AtTokens:
			d.fail(entry(i, "at_tokens"), f+".at_tokens", "%d is not after the switch before it (mix_schedule[%d] at %d); list the switches in the order the run makes them",
				s.AtTokens, i-1, r.MixSchedule[i-1].AtTokens)
		case r.StartAsAnneal:
			d.fail(entry(i, "at_tokens"), f, "the run is an anneal from load_path (anneal: true), and switches are stage 1's; HINT: give the anneal its mix as dataset.sources")
		case r.Anneal.AutoAt > 0 && s.AtTokens >= r.Anneal.AutoAt:
			d.fail(entry(i, "at_tokens"), f+".at_tokens", "%d is not before anneal.auto_at %d: the anneal trains on its own mix (anneal.mix, or the mix it starts on), which a switch would undo; HINT: switch before the anneal, or give the anneal the mix as anneal.mix",
				s.AtTokens, r.Anneal.AutoAt)
		case s.AtTokens >= r.MaxTokens:
			d.warn(entry(i, "at_tokens"), "%s.at_tokens %d is not before max_tokens %d: the run ends before it switches to %q", f, s.AtTokens, r.MaxTokens, s.Mix)
		}
		if d.err != nil {
			return
		}
	}
}

func (d *decoder) soup(n *yaml.Node, s *SoupSpec) {
	d.fields(n, "soup", func(k string, v *yaml.Node) bool {
		f := join("soup", k)
		switch k {
		case "ingredients":
			s.Ingredients = d.integer(v, f)
		case "seeds":
			if v.Kind != yaml.SequenceNode {
				d.fail(v, f, "want a list of seeds, got %s", describe(v))
				return true
			}
			for i, c := range v.Content {
				s.Seeds = append(s.Seeds, uint64(d.count(c, fmt.Sprintf("%s[%d]", f, i))))
			}
		case "tokens":
			s.Tokens = d.count(v, f)
		case "mix":
			s.Mix = d.sources(v, f)
		default:
			return false
		}
		return true
	})
	// seeds without ingredients: one ingredient per seed (seeds are one per
	// ingredient, as the check that they agree has it), rather than no soup;
	// an explicit ingredients: 0 still makes none (find gives n back for a
	// key it lacks)
	if d.err == nil && n.Kind == yaml.MappingNode && len(s.Seeds) > 0 && find(n, "ingredients") == n {
		s.Ingredients = len(s.Seeds)
		d.warn(find(n, "seeds"), "soup.seeds: %s and no soup.ingredients: the soup is made of %s, one anneal per seed; HINT: write soup.ingredients: %d to say so, or 0 for no soup",
			plural.N(len(s.Seeds), "seed"), plural.N(len(s.Seeds), "ingredient"), len(s.Seeds))
	}
}

// evalSplits are the values of eval.split, olmolab eval --split's.
var evalSplits = []string{"train", "validation", "test"}

func (d *decoder) eval(n *yaml.Node, e *EvalSpec) {
	d.fields(n, "eval", func(k string, v *yaml.Node) bool {
		f := join("eval", k)
		switch k {
		case "tasks":
			d.rebase(v, olmes.IsRequestDump)
			e.Tasks = d.strList(v, f)
		case "interval":
			e.IntervalSteps = d.integer(v, f)
		case "at_anneal":
			e.AtAnneal = d.boolean(v, f)
		case "limit":
			e.Limit = d.integer(v, f)
		case "split":
			if e.Split = d.str(v, f); e.Split != "" && !slices.Contains(evalSplits, e.Split) {
				d.fail(v, f, "want train, validation or test (the split of the OLMES benchmarks in eval.tasks; leave it out for OLMES's own), got %q", e.Split)
			}
		case "val":
			d.val(v, &e.Val)
		default:
			return false
		}
		return true
	})
}

// val decodes eval.val: {tokens, sources}. Sources take the dataset's syntax
// without target_ratio; validate fills them in when there are none.
func (d *decoder) val(n *yaml.Node, v *ValSpec) {
	const field = "eval.val"
	given := false
	d.fields(n, field, func(k string, c *yaml.Node) bool {
		f := join(field, k)
		switch k {
		case "tokens":
			v.Tokens, given = d.count(c, f), true
		case "sources":
			if c.Kind == yaml.SequenceNode && len(c.Content) == 0 {
				d.fail(c, f, "an empty list; name at least one source, or leave sources out to validate on the built-in sources the recipe trains on")
				return true
			}
			v.Sources = d.sourceList(c, f, false)
		default:
			return false
		}
		return true
	})
	if d.err == nil && !given {
		d.fail(n, field+".tokens", "missing: how many tokens of each source to validate on, e.g. tokens: 32K")
	}
}

func (d *decoder) spikes(n *yaml.Node, s *SpikeSpec) {
	d.fields(n, "spikes", func(k string, v *yaml.Node) bool {
		f := join("spikes", k)
		switch k {
		case "window":
			s.Window = d.integer(v, f)
		case "sigma":
			s.Sigma = d.float(v, f)
		case "flag_sigma":
			s.FlagSigma = d.float(v, f)
		case "min_points":
			s.MinPoints = d.integer(v, f)
		default:
			return false
		}
		return true
	})
}

// find returns the node of a top-level key (for error positions), or root.
func find(root *yaml.Node, path ...string) *yaml.Node {
	n := root
	for _, p := range path {
		if n.Kind != yaml.MappingNode {
			return n
		}
		next := (*yaml.Node)(nil)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

// validate checks impossible values and the relations between fields.
func (d *decoder) validate(root *yaml.Node, r *Recipe) {
	at := func(path ...string) *yaml.Node { return find(root, path...) }
	if r.Name == "" {
		r.Name = "run"
	}
	if r.SequenceLength < 2 {
		d.fail(at("sequence_length"), "sequence_length", "must be at least 2, got %d", r.SequenceLength)
		return
	}
	if r.GlobalBatchSize <= 0 || r.GlobalBatchSize%r.SequenceLength != 0 {
		hint := ""
		if lo := r.GlobalBatchSize / r.SequenceLength * r.SequenceLength; r.GlobalBatchSize > r.SequenceLength {
			// 4M is 4,000,000 here, not OLMo's 4 Mi (4194304 = 1024 × 4096)
			hint = fmt.Sprintf("; HINT: K, M and B count in thousands (not 1024s); the nearest multiples are %d and %d (%d and %d sequences)",
				lo, lo+r.SequenceLength, lo/r.SequenceLength, lo/r.SequenceLength+1)
		}
		d.fail(at("global_batch_size"), "global_batch_size", "%d tokens is not a positive multiple of sequence_length %d%s", r.GlobalBatchSize, r.SequenceLength, hint)
		return
	}
	if r.MicroBatchSize == 0 {
		r.MicroBatchSize = r.GlobalBatchSize
	}
	if r.MicroBatchSize%r.SequenceLength != 0 || r.GlobalBatchSize%r.MicroBatchSize != 0 {
		d.fail(at("rank_microbatch_size"), "rank_microbatch_size", "%d tokens must be a multiple of sequence_length %d and divide global_batch_size %d", r.MicroBatchSize, r.SequenceLength, r.GlobalBatchSize)
		return
	}
	if r.MaxTokens <= 0 {
		d.fail(at("max_tokens"), "max_tokens", "must be positive (how many tokens the run trains on)")
		return
	}
	if r.MaxTokens < int64(r.GlobalBatchSize) {
		// the run trains whole steps (Steps rounds up): one batch, maybe far more than asked
		d.warn(at("max_tokens"), "max_tokens %d is less than one global batch (global_batch_size %d): the run trains 1 step of %d tokens",
			r.MaxTokens, r.GlobalBatchSize, r.GlobalBatchSize)
	}
	if !(r.Optimizer.LR > 0) {
		d.fail(at("optimizer", "lr"), "optimizer.lr", "must be positive, got %v", r.Optimizer.LR)
		return
	}
	for i, b := range r.Optimizer.Betas {
		if b < 0 || b >= 1 {
			d.fail(at("optimizer", "betas"), "optimizer.betas", "beta%d = %v must be in [0, 1)", i+1, b)
			return
		}
	}
	if r.Optimizer.Eps <= 0 || r.Optimizer.WeightDecay < 0 {
		d.fail(at("optimizer"), "optimizer", "eps must be positive and weight_decay ≥ 0")
		return
	}
	if r.ZLoss < 0 {
		d.fail(at("z_loss"), "z_loss", "must be ≥ 0, got %v", r.ZLoss)
		return
	}
	if err := r.Schedule.validate(); err != nil {
		d.fail(at("schedule"), "schedule", "%v", err)
		return
	}
	// a warmup as long as the run (a shortened recipe) never reaches the peak
	// LR; a stage-2 anneal (anneal: true) takes its LR from load_path instead
	switch w, trained := r.Schedule.WarmupTokens, r.Steps()*int64(r.GlobalBatchSize); {
	case r.StartAsAnneal || w <= 0:
	case w >= trained:
		upTo := fmt.Sprintf("max_tokens %d", r.MaxTokens)
		if r.SoupEndsAtAutoAt() {
			upTo = fmt.Sprintf("anneal.auto_at %d, where its soup starts", r.Anneal.AutoAt)
		}
		d.warn(at("schedule", "warmup_tokens"), "schedule.warmup_tokens %d is not below the %d tokens the run trains (%s): the LR warms up for the whole run and never decays from optimizer.lr %v",
			w, trained, upTo, r.Optimizer.LR)
	case r.Anneal.AutoAt > 0 && w >= r.Anneal.AutoAt:
		d.warn(at("schedule", "warmup_tokens"), "schedule.warmup_tokens %d is not below anneal.auto_at %d: the anneal starts before the LR reaches optimizer.lr %v",
			w, r.Anneal.AutoAt, r.Optimizer.LR)
	}
	if r.DatasetMix != "" {
		if r.Dataset = r.NamedMixSources(r.DatasetMix); r.Dataset == nil {
			var names []string
			for _, m := range r.Mixes {
				names = append(names, m.Name)
			}
			have := "the recipe names no mixes"
			if len(names) > 0 {
				have = "it has " + strings.Join(names, ", ")
			}
			d.fail(at("dataset", "sources"), "dataset.sources", "no mix %q under mixes: (%s); HINT: dataset.sources is a list of sources, or the name of a mix under mixes:", r.DatasetMix, have)
			return
		}
	}
	if len(r.Dataset) == 0 {
		d.fail(at("dataset"), "dataset.sources", "no data sources; add e.g. {name: web, target_ratio: 1, paths: [builtin:web_clean]}")
		return
	}
	if d.checkSourceNames(at, r); d.err != nil {
		return
	}
	if r.Anneal.AutoAt > 0 {
		if r.Anneal.Tokens <= 0 {
			d.fail(at("anneal"), "anneal.tokens", "an automatic anneal needs tokens > 0")
			return
		}
		switch {
		case r.Anneal.AutoAt >= r.MaxTokens && r.Soup.Ingredients > 0:
			d.warn(at("anneal", "auto_at"), "anneal.auto_at %d is not before max_tokens %d: stage 1 runs to max_tokens, then the planned soup of %s anneals from there", r.Anneal.AutoAt, r.MaxTokens, plural.N(r.Soup.Ingredients, "ingredient"))
		case r.Anneal.AutoAt >= r.MaxTokens:
			d.warn(at("anneal", "auto_at"), "anneal.auto_at %d is not before max_tokens %d: the run ends without annealing", r.Anneal.AutoAt, r.MaxTokens)
		case r.Soup.Ingredients > 0:
			// the soup starts at auto_at and ends the run there: its
			// ingredients anneal on top, stage 1 stops at auto_at
			if n := cmp.Or(r.Soup.Tokens, r.Anneal.Tokens); r.Anneal.AutoAt+n != r.MaxTokens {
				d.warn(at("anneal", "auto_at"), "the planned soup of %s starts at anneal.auto_at %d, not max_tokens %d: stage 1 ends there, each ingredient anneals %d tokens from it (to %d), and the run ends with the soup",
					plural.N(r.Soup.Ingredients, "ingredient"), r.Anneal.AutoAt, r.MaxTokens, n, r.Anneal.AutoAt+n)
			}
		case r.Anneal.AutoAt+r.Anneal.Tokens != r.MaxTokens:
			d.warn(at("anneal"), "the automatic anneal (%d tokens from %d) ends at %d tokens, not max_tokens %d: the run ends when the anneal does",
				r.Anneal.Tokens, r.Anneal.AutoAt, r.Anneal.AutoAt+r.Anneal.Tokens, r.MaxTokens)
		}
	}
	if r.StartAsAnneal && r.LoadPath == "" {
		d.fail(at("anneal"), "anneal", "anneal: true starts an anneal from load_path, which is missing")
		return
	}
	if r.Soup.Ingredients < 0 || (len(r.Soup.Seeds) > 0 && r.Soup.Ingredients > 0 && len(r.Soup.Seeds) != r.Soup.Ingredients) {
		d.fail(at("soup"), "soup", "ingredients (%d) and seeds (%d) disagree", r.Soup.Ingredients, len(r.Soup.Seeds))
		return
	}
	if r.Spikes.Window < 2 || r.Spikes.Sigma <= 0 {
		d.fail(at("spikes"), "spikes", "window must be ≥ 2 and sigma > 0")
		return
	}
	if r.Checkpoint.Dtype != "F32" && r.Checkpoint.Dtype != "BF16" {
		d.fail(at("checkpoint", "dtype"), "checkpoint.dtype", "want F32 or BF16, got %q", r.Checkpoint.Dtype)
		return
	}
	if r.Backend == "" {
		r.Backend = "cpu"
	}
	if r.Eval.Val.Tokens == 0 { // absent, or tokens: 0 (--set eval.val.tokens=0 turns it off)
		r.Eval.Val.Sources = nil
	} else {
		d.validateVal(at("eval", "val"), r)
		if d.err != nil {
			return
		}
	}
	names := map[string]bool{}
	for _, m := range r.Mixes {
		names[m.Name] = true
	}
	if len(r.Anneal.Mix) > 0 && !names["anneal"] {
		r.Mixes = append(r.Mixes, NamedMix{Name: "anneal", Sources: r.Anneal.Mix})
	}
	d.validateMixSchedule(at, r)
}

// checkSourceNames: a source name means one set of files in every mix the run
// may train on. An anneal or a mix switch serves a name the run already trains
// on from the files that source was opened with (data.Loader.SetMix), so other
// paths under that name would be ignored without a word, and the anneal would
// train on the stage-1 files; a soup, which opens its mix afresh, would not.
func (d *decoder) checkSourceNames(at func(...string) *yaml.Node, r *Recipe) {
	type first struct {
		field string
		paths []string
		dtype data.DType
	}
	seen := map[string]first{}
	check := func(node *yaml.Node, field string, mix []data.SourceSpec) {
		for i, s := range mix {
			f := fmt.Sprintf("%s[%d]", field, i)
			p, ok := seen[s.Name]
			if !ok {
				seen[s.Name] = first{f, s.Paths, s.DType}
				continue
			}
			if slices.Equal(p.paths, s.Paths) && cmp.Or(p.dtype, r.DataDType) != cmp.Or(s.DType, r.DataDType) {
				d.fail(node, f+".dtype", "source %q reads its files as %s here but as %s in %s; a name is one source in every mix; HINT: give the source's dtype once, the same in every mix",
					s.Name, dtypeSaid(s.DType, r), dtypeSaid(p.dtype, r), p.field)
				return
			}
			if !slices.Equal(p.paths, s.Paths) {
				n := node
				if n != nil && n.Kind == yaml.SequenceNode && i < len(n.Content) { // not a --set of the whole list
					n = find(n.Content[i], "paths")
				}
				d.fail(n, f+".paths", "source %q reads %s here but %s in %s; a name is one source in every mix (a switch keeps the files a name was first opened with); HINT: give the two their own names, or the same paths",
					s.Name, strings.Join(s.Paths, ", "), strings.Join(p.paths, ", "), p.field)
				return
			}
		}
	}
	check(at("dataset", "sources"), "dataset.sources", r.Dataset)
	check(at("anneal", "mix"), "anneal.mix", r.Anneal.Mix)
	check(at("soup", "mix"), "soup.mix", r.Soup.Mix)
	for _, m := range r.Mixes {
		check(at("mixes", m.Name), "mixes."+m.Name, m.Sources)
	}
}

// dtypeSaid names the element type a source's token files are read as.
func dtypeSaid(dt data.DType, r *Recipe) string {
	switch {
	case dt != 0:
		return dt.String()
	case r.DataDType != 0:
		return r.DataDType.String() + " (dataset.dtype)"
	}
	return "the tokenizer's default"
}

// validateVal checks eval.val against the rest of the recipe and, where it
// names no sources, takes the built-in sources the recipe trains on.
func (d *decoder) validateVal(n *yaml.Node, r *Recipe) {
	v := &r.Eval.Val
	if v.Tokens < int64(r.SequenceLength) {
		d.fail(find(n, "tokens"), "eval.val.tokens", "%d tokens per source is less than one sequence (sequence_length %d); validation reads whole sequences, e.g. tokens: 32K",
			v.Tokens, r.SequenceLength)
		return
	}
	if len(v.Sources) > 0 {
		seen := map[string]bool{}
		for i, s := range v.Sources {
			if seen[s.Name] {
				d.fail(find(n, "sources"), fmt.Sprintf("eval.val.sources[%d].name", i), "two validation sources are named %q", s.Name)
				return
			}
			seen[s.Name] = true
		}
		return
	}
	// the shorthand: every built-in source of every mix the run may train on,
	// once per built-in path, under the name the recipe first gives it
	mixes := [][]data.SourceSpec{r.Dataset, r.Anneal.Mix, r.Soup.Mix}
	for _, m := range r.Mixes {
		mixes = append(mixes, m.Sources)
	}
	seenPath, seenName := map[string]bool{}, map[string]bool{}
	var files []string
	for _, mix := range mixes {
		for _, s := range mix {
			if len(s.Paths) != 1 || !strings.HasPrefix(s.Paths[0], data.BuiltinPrefix) {
				if !seenName[s.Name] {
					files = append(files, s.Name)
				}
				seenName[s.Name] = true
				continue
			}
			if seenPath[s.Paths[0]] {
				continue
			}
			name := s.Name
			if seenName[name] { // two built-in sources called alike in two mixes
				name = strings.TrimPrefix(s.Paths[0], data.BuiltinPrefix)
			}
			seenPath[s.Paths[0]], seenName[name] = true, true
			v.Sources = append(v.Sources, data.SourceSpec{Name: name, TargetRatio: 1, Paths: slices.Clone(s.Paths)})
		}
	}
	v.Derived = true
	if len(v.Sources) == 0 {
		// a warning, not an error: recipes are reused with their dataset
		// swapped for files by --set, and validation is an extra
		d.warn(n, "eval.val: no validation loss: the recipe trains on no built-in source (%s read files), and files cannot be split into training and validation here; name validation files kept out of training under eval.val.sources, e.g. [{name: web, paths: [\"/data/val/web-*.npy\"]}]",
			strings.Join(files, ", "))
		v.Tokens, v.Derived = 0, false
		return
	}
	if len(files) > 0 {
		d.warn(n, "eval.val: %s read files, which get no validation set from the shorthand; name held-out files under eval.val.sources to validate on them", strings.Join(files, ", "))
	}
}

// PlannedTokens is where a run of the recipe ends its own training, in whole
// steps: max_tokens, or anneal.auto_at where the recipe's soup starts there
// (the soup is its last act; its ingredients' tokens are theirs, on top, as
// summary.json's soup_tokens counts them). The run plans to this (its
// state's TotalTokens), and Steps, the launch dialog and the warmup check
// count to it.
func (r *Recipe) PlannedTokens() int64 {
	if r.SoupEndsAtAutoAt() {
		return wholeSteps(r.Anneal.AutoAt, r)
	}
	return wholeSteps(r.MaxTokens, r)
}

// SoupEndsAtAutoAt says whether the recipe's soup starts at anneal.auto_at,
// before max_tokens, so that the run's own training ends there.
func (r *Recipe) SoupEndsAtAutoAt() bool {
	return r.Soup.Ingredients > 0 && r.Anneal.AutoAt > 0 && r.Anneal.AutoAt < r.MaxTokens && !r.StartAsAnneal
}

// Steps is the number of optimizer steps the run of the recipe plans to
// train itself (PlannedTokens), its soup's ingredients not counted.
func (r *Recipe) Steps() int64 {
	if r.GlobalBatchSize <= 0 {
		return 0
	}
	return r.PlannedTokens() / int64(r.GlobalBatchSize)
}
