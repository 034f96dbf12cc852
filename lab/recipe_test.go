package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/olmes"
)

const tinyRecipe = `name: tiny
model: {preset: cpu_xs}
tokenizer: world
sequence_length: 32
global_batch_size: 256
max_tokens: 5120
seed: 7
optimizer: {lr: 3.0e-3}
schedule: {name: cosine, warmup_tokens: 512}
dataset:
  sources:
    - {name: web, target_ratio: 0.7, paths: ["builtin:web_clean"]}
    - {name: qa, target_ratio: 0.3, paths: ["builtin:qa"]}
checkpoint: {interval: 5, keep: 0}
`

func TestParseRecipe(t *testing.T) {
	r, err := ParseRecipe("tiny.yaml", []byte(tinyRecipe+"budget: ai2/oe-training\ncluster: [a, b]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.ModelName != "cpu_xs" || r.SequenceLength != 32 || r.MaxTokens != 5120 || r.Optimizer.LR != 3e-3 || len(r.Dataset) != 2 {
		t.Errorf("parsed %+v", r)
	}
	if r.MicroBatchSize != 256 || r.Steps() != 20 {
		t.Errorf("micro batch %d, steps %d", r.MicroBatchSize, r.Steps())
	}
	// Beaker keys of olmo-cookbook load with one warning each
	if len(r.Warnings) != 2 || !strings.Contains(r.Warnings[0], `tiny.yaml:15:1: unknown key "budget" ignored`) {
		t.Errorf("warnings %q", r.Warnings)
	}
	// OLMo 2 defaults
	if r.Optimizer.Betas != [2]float64{0.9, 0.95} || r.Optimizer.Eps != 1e-8 || r.ZLoss != 1e-5 || !r.Optimizer.DecayNorms || r.Optimizer.DecayEmbeddings {
		t.Errorf("defaults %+v z %v", r.Optimizer, r.ZLoss)
	}
	// the recipe round-trips through recipe.yaml
	r2, err := ParseRecipe("recipe.yaml", r.YAML(), nil)
	if err != nil || r2.MaxTokens != r.MaxTokens || r2.Dataset[1].TargetRatio != 0.3 {
		t.Errorf("re-parse: %v %+v", err, r2)
	}
}

// TestRecipeDataDType: dataset.dtype (OLMo-core's NumpyDatasetConfig.dtype)
// reaches the loader, so files from `olmolab tokenize --dtype uint32` can be
// trained on with a uint16 tokenizer; without it the tokenizer decides.
func TestRecipeDataDType(t *testing.T) {
	for _, c := range []struct {
		set  []string
		want data.DType
	}{{nil, 0}, {[]string{"dataset.dtype=uint32"}, data.Uint32}, {[]string{"dataset.dtype=uint16"}, data.Uint16}} {
		r, err := ParseRecipe("tiny.yaml", []byte(tinyRecipe), c.set)
		if err != nil || r.DataDType != c.want {
			t.Errorf("%v: dtype %v, err %v; want %v", c.set, r.DataDType, err, c.want)
		}
	}
}

func TestRecipeOverrides(t *testing.T) {
	r, err := ParseRecipe("tiny.yaml", []byte(tinyRecipe), []string{
		"optimizer.lr=1e-2", "dataset.sources.1.target_ratio=0.5", "max_tokens=1M", "anneal.tokens=400K", "anneal.auto_at=600K",
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Optimizer.LR != 1e-2 || r.Dataset[1].TargetRatio != 0.5 || r.Anneal.Tokens != 400000 || r.Anneal.AutoAt != 600000 || r.MaxTokens != 1000000 {
		t.Errorf("overrides not applied: lr %v ratio %v anneal %+v max %d", r.Optimizer.LR, r.Dataset[1].TargetRatio, r.Anneal, r.MaxTokens)
	}
	if !strings.Contains(string(r.YAML()), "400K") {
		t.Errorf("recipe.yaml lacks the override:\n%s", r.YAML())
	}
	_, err = ParseRecipe("tiny.yaml", []byte(tinyRecipe), []string{"dataset.sources.9.name=x"})
	if err == nil || !strings.Contains(err.Error(), "--set dataset.sources.9.name=x") {
		t.Errorf("bad override path: %v", err)
	}
}

// One test per error class: the message names file:line:column and the field.
func TestRecipeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"syntax", "name: x\nmodel: [unclosed\n", []string{"bad.yaml:", "YAML syntax"}},
		{"type", strings.Replace(tinyRecipe, "lr: 3.0e-3", "lr: fast", 1), []string{"bad.yaml:8:17", "optimizer.lr", `want a number, got "fast"`}},
		{"type int", strings.Replace(tinyRecipe, "sequence_length: 32", "sequence_length: [32]", 1), []string{"bad.yaml:4:18", "sequence_length", "want a whole number"}},
		{"unknown preset", strings.Replace(tinyRecipe, "{preset: cpu_xs}", "olmo3_huge", 1), []string{"bad.yaml:2:8", "model", `unknown model preset "olmo3_huge"`}},
		{"negative ratio", strings.Replace(tinyRecipe, "target_ratio: 0.3", "target_ratio: -0.3", 1), []string{"bad.yaml:13:32", "dataset.sources[1].target_ratio", "negative"}},
		{"missing ratio", strings.Replace(tinyRecipe, "target_ratio: 0.3, ", "", 1), []string{"bad.yaml:13:7", "dataset.sources[1].target_ratio", "no target_ratio"}},
		{"batch not multiple", strings.Replace(tinyRecipe, "global_batch_size: 256", "global_batch_size: 250", 1), []string{"bad.yaml:5:20", "global_batch_size", "multiple of sequence_length"}},
		{"batch in decimal K", strings.Replace(tinyRecipe, "global_batch_size: 256", "global_batch_size: 1K", 1), []string{"bad.yaml:5:20", "1000 tokens is not a positive multiple of sequence_length 32", "HINT: K, M and B count in thousands", "992 and 1024 (31 and 32 sequences)"}},
		{"unknown schedule", strings.Replace(tinyRecipe, "name: cosine", "name: sawtooth", 1), []string{"bad.yaml:9:11", "schedule", `unknown schedule "sawtooth"`}},
		{"no data", strings.Split(tinyRecipe, "dataset:")[0], []string{"bad.yaml", "dataset.sources", "no data sources"}},
		{"duplicate key", tinyRecipe + "seed: 8\n", []string{"bad.yaml:15:1", "seed", "key given twice"}},
		// 2^31 channels overflow every size computed from the model (more than MaxParams)
		{"model too large", strings.Replace(tinyRecipe, "{preset: cpu_xs}", "{preset: cpu_xs, hidden_size: 2147483646, num_attention_heads: 1, num_key_value_heads: 1}", 1), []string{"bad.yaml:2:8", "model", "hidden_size 2147483646", "parameters"}},
		{"token dtype", strings.Replace(tinyRecipe, "dataset:\n", "dataset:\n  dtype: int8\n", 1), []string{"bad.yaml:11:10", "dataset.dtype", `want uint16 or uint32, got "int8"`}},
		// an anneal serves a name the run trains on from that source's files, so
		// other paths under the name would be ignored: stage-1 math in the anneal
		{"one name, two paths", tinyRecipe + "anneal:\n  tokens: 1K\n  mix:\n    - {name: qa, target_ratio: 1, paths: [\"/data/dolmino/qa/*.npy\"]}\n",
			[]string{"bad.yaml:18:42", "anneal.mix[0].paths", `source "qa" reads /data/dolmino/qa/*.npy here but builtin:qa in dataset.sources[1]`}},
		{"one name, two paths in a named mix", tinyRecipe + "mixes:\n  clean:\n    - {name: web, target_ratio: 1, paths: [\"builtin:web_noisy\"]}\n",
			[]string{"bad.yaml:17:43", "mixes.clean[0].paths", `source "web" reads builtin:web_noisy here but builtin:web_clean in dataset.sources[0]`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRecipe("bad.yaml", []byte(tc.yaml), nil)
			var re *RecipeError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *RecipeError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// A --set of a key the lab does not know is an error, not a warning: the
// override was asked for and would change nothing. A key it knows may be
// added by --set where the recipe has none.
func TestRecipeOverrideUnknownKey(t *testing.T) {
	for _, tc := range []struct {
		set, want string // want "" parses
	}{
		{"optimizer.lrr=1e-3", "tiny.yaml: optimizer.lrr: unknown key (from --set)"},
		// a near miss names the key it was probably meant to be, as in a
		// recipe file (README, Recipes); --set said only "unknown key"
		{"optimizer.lrr=1e-3", `optimizer.lrr: unknown key (from --set); did you mean "optimizer.lr"?`},
		{"sequence_lenght=64", `sequence_lenght: unknown key (from --set); did you mean "sequence_length"?`},
		{"nonexistent=1", "tiny.yaml: nonexistent: unknown key (from --set); HINT: keys are the recipe's YAML paths"},
		{"spikes.sigmaa=5", "tiny.yaml: spikes.sigmaa: unknown key (from --set)"},
		{"optimizer={lr: 1.0e-3, foo: 1}", "tiny.yaml: optimizer.foo: unknown key (from --set)"},
		{"spikes.sigma=5", ""},
		{"optimizer.weight_decay=0", ""},
	} {
		t.Run(tc.set, func(t *testing.T) {
			_, err := ParseRecipe("tiny.yaml", []byte(tinyRecipe), []string{tc.set})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var re *RecipeError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a *RecipeError with %q", err, tc.want)
			}
		})
	}
}

// Every shipped recipe parses, validates and fits its tokenizer.
func TestShippedRecipes(t *testing.T) {
	all := experiments.All()
	if len(all) == 0 {
		t.Fatal("no shipped recipes")
	}
	for _, sr := range all {
		r, err := ParseRecipe(sr.Path, sr.YAML, nil)
		if err != nil {
			t.Errorf("%s: %v", sr.Name, err)
			continue
		}
		if len(r.Warnings) > 0 {
			t.Errorf("%s: warnings %q", sr.Name, r.Warnings)
		}
		tok, err := data.NewTokenizer(r.Tokenizer)
		if err != nil {
			t.Errorf("%s: %v", sr.Name, err)
			continue
		}
		if _, err := resolveModel(r, tok); err != nil {
			t.Errorf("%s: %v", sr.Name, err)
		}
	}
}

// TestRecipeTypos: a key one or two letters from a known one is an error that
// names the key it was probably meant to be; keys the lab does not know at
// all (Beaker's, OLMo-core's) stay warnings.
func TestRecipeTypos(t *testing.T) {
	for _, c := range []struct {
		add  string
		want string // error text; "" for a warning only
	}{
		{"optimizer: {lrr: 1.0e-3}\n", `optimizer.lrr: unknown key; did you mean "optimizer.lr"?`},
		{"optimizer: {weight_decy: 0.1}\n", `did you mean "optimizer.weight_decay"?`},
		{"sequence_lenght: 64\n", `did you mean "sequence_length"?`},
		{"checkpoint: {intervall: 3}\n", `did you mean "checkpoint.interval"?`},
		{"z_los: 1.0e-4\n", `did you mean "z_loss"?`},
		{"budget: ai2/oe-training\n", ""},
		{"cluster: [ai2/jupiter]\n", ""},
		{"workspace: ai2/x\npriority: high\npreemptible: true\nnodes: 2\ngpus: 8\nweka: oe-training-default\n", ""},
		{"annealing: {enabled: true}\nwarmup_steps: 100\nscheduler_type: cosine\nload_state: false\n", ""},
		{"model_overrides: [a=b]\ndownstream_evaluators: [olmo2_dev_1b]\nlm_evaluator: true\n", ""},
		{"variants: 4\nproxy_model_id: olmo2_30m\ngroup_id: x\nmetrics_config: {}\neval_interval: 100\nsave_interval: 100\n", ""},
		{"shared_filesystem: true\nactivation_checkpointing: true\nlaunch_timeout: 10\nbeaker_image: x\nmax_target_sequence_length: 8192\n", ""},
	} {
		// the tiny recipe has optimizer and checkpoint mappings already; put
		// the addition in a fresh document with the same base keys instead
		base := strings.NewReplacer("optimizer: {lr: 3.0e-3}\n", "", "checkpoint: {interval: 5, keep: 0}\n", "").Replace(tinyRecipe)
		r, err := ParseRecipe("tiny.yaml", []byte(base+c.add), nil)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v, want only warnings", c.add, err)
		case c.want == "" && len(r.Warnings) == 0:
			t.Errorf("%q: no warning", c.add)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: %v, want an error with %q", c.add, err, c.want)
		}
	}
}

// TestRecipeKeyNames: recipeKeyNames lists every key the decoder knows and
// nothing else (the case labels of recipe.go that are keys, "identifier" and
// "preset"), so that typo suggestions follow the decoder.
func TestRecipeKeyNames(t *testing.T) {
	src, err := os.ReadFile("recipe.go")
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]bool{"B": true, "G": true, "K": true, "M": true, "T": true, "dolma2": true,
		"allenai/dolma2-tokenizer": true, "tokenizers/allenai_dolma2.json": true}
	labels := map[string]bool{"identifier": true, "preset": true}
	for _, m := range regexp.MustCompile(`case ("[^:]*):`).FindAllStringSubmatch(string(src), -1) {
		for _, q := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(m[1], -1) {
			if !values[q[1]] {
				labels[q[1]] = true
			}
		}
	}
	listed := map[string]bool{}
	for _, k := range recipeKeyNames {
		listed[k] = true
		if !labels[k] {
			t.Errorf("recipeKeyNames has %q, which the decoder does not know", k)
		}
	}
	for k := range labels {
		if !listed[k] {
			t.Errorf("the decoder knows %q; add it to recipeKeyNames", k)
		}
	}
}

// TestRecipeVal: eval.val decodes in its forms; its mistakes are errors
// naming file:line:column and the field.
func TestRecipeVal(t *testing.T) {
	builtin := func(names ...string) []data.SourceSpec {
		var out []data.SourceSpec
		for _, n := range names {
			out = append(out, data.SourceSpec{Name: n, TargetRatio: 1, Paths: []string{"builtin:" + map[string]string{"web": "web_clean", "qa": "qa", "math": "math"}[n]}})
		}
		return out
	}
	anneal := "anneal: {tokens: 1024, mix: [{name: web, target_ratio: 0.5, paths: [\"builtin:web_clean\"]}, {name: math, target_ratio: 0.5, paths: [\"builtin:math\"]}]}\n"
	for _, tc := range []struct {
		name, yaml string
		set        []string
		tokens     int64
		sources    []data.SourceSpec
		derived    bool
		warn       string
	}{
		{"absent", tinyRecipe, nil, 0, nil, false, ""},
		{"shorthand", tinyRecipe + "eval: {val: {tokens: 4K}}\n", nil, 4000, builtin("web", "qa"), true, ""},
		{"shorthand takes the anneal mix", tinyRecipe + anneal + "eval: {val: {tokens: 64}}\n", nil, 64, builtin("web", "qa", "math"), true, ""},
		{"sources", tinyRecipe + "eval:\n  val:\n    tokens: 1_024\n    sources:\n      - {name: held, paths: [\"/data/val/*.npy\"]}\n", nil, 1024,
			[]data.SourceSpec{{Name: "held", TargetRatio: 1, Paths: []string{"/data/val/*.npy"}}}, false, ""},
		{"ratio ignored", tinyRecipe + "eval: {val: {tokens: 64, sources: [{name: v, target_ratio: 0.5, paths: [a.npy]}]}}\n", nil, 64,
			[]data.SourceSpec{{Name: "v", TargetRatio: 1, Paths: []string{"a.npy"}}}, false, "tiny.yaml:15:60: eval.val.sources[0].target_ratio ignored"},
		{"--set adds it", tinyRecipe, []string{"eval.val.tokens=2K"}, 2000, builtin("web", "qa"), true, ""},
		{"--set changes it", tinyRecipe + "eval: {val: {tokens: 4K}}\n", []string{"eval.val.tokens=64"}, 64, builtin("web", "qa"), true, ""},
		{"--set 0 turns it off", tinyRecipe + "eval: {val: {tokens: 4K}}\n", []string{"eval.val.tokens=0"}, 0, nil, false, ""},
		{"shorthand without built-in sources is off", strings.NewReplacer(`"builtin:qa"`, `"/d/qa.npy"`, `"builtin:web_clean"`, `"/d/web.npy"`).Replace(tinyRecipe) + "eval: {val: {tokens: 64}}\n",
			nil, 0, nil, false, "tiny.yaml:15:13: eval.val: no validation loss: the recipe trains on no built-in source (web, qa read files)"},
		{"file sources are left out of the shorthand", strings.Replace(tinyRecipe, `"builtin:qa"`, `"/data/qa/*.npy"`, 1) + "eval: {val: {tokens: 64}}\n",
			nil, 64, builtin("web"), true, "tiny.yaml:15:13: eval.val: qa read files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRecipe("tiny.yaml", []byte(tc.yaml), tc.set)
			if err != nil {
				t.Fatal(err)
			}
			v := r.Eval.Val
			if v.Tokens != tc.tokens || v.Derived != tc.derived || fmt.Sprint(v.Sources) != fmt.Sprint(tc.sources) {
				t.Errorf("got %+v, want tokens %d sources %v derived %v", v, tc.tokens, tc.sources, tc.derived)
			}
			if w := strings.Join(r.Warnings, "\n"); !strings.Contains(w, tc.warn) || (tc.warn == "" && w != "") {
				t.Errorf("warnings %q, want %q", w, tc.warn)
			}
		})
	}
	for _, tc := range []struct {
		name, yaml string
		set        []string
		want       []string
	}{
		{"not a mapping", tinyRecipe + "eval: {val: 32K}\n", nil, []string{"bad.yaml:15:13", "eval.val", `want a mapping, got "32K"`}},
		{"tokens type", tinyRecipe + "eval: {val: {tokens: lots}}\n", nil, []string{"bad.yaml:15:22", "eval.val.tokens", `got "lots"`}},
		{"tokens missing", tinyRecipe + "eval: {val: {sources: [{name: v, paths: [a.npy]}]}}\n", nil, []string{"bad.yaml:15:13", "eval.val.tokens", "missing"}},
		{"tokens below a sequence", tinyRecipe + "eval: {val: {tokens: 31}}\n", nil, []string{"bad.yaml:15:22", "eval.val.tokens", "31 tokens per source is less than one sequence (sequence_length 32)"}},
		{"--set tokens below a sequence", tinyRecipe, []string{"eval.val.tokens=8"}, []string{"eval.val.tokens", "less than one sequence", "(from --set)"}},
		{"empty sources", tinyRecipe + "eval: {val: {tokens: 64, sources: []}}\n", nil, []string{"bad.yaml:15:35", "eval.val.sources", "an empty list"}},
		{"source without paths", tinyRecipe + "eval: {val: {tokens: 64, sources: [{name: v}]}}\n", nil, []string{"bad.yaml:15:36", "eval.val.sources[0].paths", `source "v" lists no paths`}},
		{"source without name", tinyRecipe + "eval: {val: {tokens: 64, sources: [{paths: [a.npy]}]}}\n", nil, []string{"bad.yaml:15:36", "eval.val.sources[0].name"}},
		{"sources not a list", tinyRecipe + "eval: {val: {tokens: 64, sources: a.npy}}\n", nil, []string{"bad.yaml:15:35", "eval.val.sources", "want a list of sources ({name, paths})"}},
		{"two sources one name", tinyRecipe + "eval: {val: {tokens: 64, sources: [{name: v, paths: [a.npy]}, {name: v, paths: [b.npy]}]}}\n", nil,
			[]string{"bad.yaml:15:35", "eval.val.sources[1].name", `two validation sources are named "v"`}},
		{"near-miss key", tinyRecipe + "eval: {val: {tokns: 64}}\n", nil, []string{"bad.yaml:15:14", "eval.val.tokns", `did you mean "eval.val.tokens"`}},
		{"near-miss val", tinyRecipe + "eval: {vall: {tokens: 64}}\n", nil, []string{"bad.yaml:15:8", "eval.vall", `did you mean "eval.val"`}},
		{"--set unknown key", tinyRecipe, []string{"eval.val.tokenz=64"}, []string{"eval.val.tokenz: unknown key (from --set)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRecipe("bad.yaml", []byte(tc.yaml), tc.set)
			var re *RecipeError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *RecipeError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestAutoAnnealPastTheEndWarning: anneal.auto_at at or past max_tokens ends
// the run without an anneal, unless a soup is planned: its ingredients anneal
// from max_tokens, and the warning says so rather than "without annealing".
func TestAutoAnnealPastTheEndWarning(t *testing.T) {
	for _, tc := range []struct {
		set  []string
		want string
	}{
		{[]string{"max_tokens=8K", "anneal.auto_at=8K", "anneal.tokens=2K"}, "the run ends without annealing"},
		{[]string{"max_tokens=8K", "anneal.auto_at=8K", "anneal.tokens=2K", "soup.ingredients=2"}, "then the planned soup of 2 ingredients anneals from there"},
	} {
		r, err := ParseRecipe("tiny.yaml", []byte(tinyRecipe), tc.set)
		if err != nil {
			t.Fatal(err)
		}
		if w := strings.Join(r.Warnings, "\n"); !strings.Contains(w, tc.want) {
			t.Errorf("%v: warnings %q, want %q", tc.set, w, tc.want)
		}
	}
}

// TestRecipeMaxTokensBelowOneBatch: a max_tokens smaller than one global
// batch (a shipped 2M-token-batch recipe given a short budget with --set)
// trains one whole batch, far more than asked: a warning says so.
func TestRecipeMaxTokensBelowOneBatch(t *testing.T) {
	r, err := ParseRecipe("tiny.yaml", []byte(tinyRecipe), []string{"max_tokens=100", "schedule.warmup_tokens=0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "max_tokens 100 is less than one global batch (global_batch_size 256): the run trains 1 step of 256 tokens") {
		t.Errorf("warnings %q", r.Warnings)
	}
	if r, err = ParseRecipe("tiny.yaml", []byte(tinyRecipe), []string{"max_tokens=300", "schedule.warmup_tokens=0"}); err != nil || len(r.Warnings) != 0 {
		t.Errorf("max_tokens of more than one batch: %v, warnings %q", err, r.Warnings)
	}
}

// TestDecayFractionOnlyForWSD: decay_fraction shapes only a wsd schedule; on
// any other it did nothing without a word.
func TestDecayFractionOnlyForWSD(t *testing.T) {
	for _, c := range []struct {
		sched string
		warn  bool
	}{
		{"schedule: {name: cosine, warmup_tokens: 512, decay_fraction: 0.3}", true},
		{"schedule: {decay_fraction: 0.3, name: linear}", true},
		{"schedule: {name: wsd, warmup_tokens: 512, decay_fraction: 0.3}", false},
		{"schedule: {name: cosine, warmup_tokens: 512}", false},
	} {
		src := strings.Replace(tinyRecipe, "schedule: {name: cosine, warmup_tokens: 512}", c.sched, 1)
		r, err := ParseRecipe("tiny.yaml", []byte(src), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.sched, err)
		}
		got := strings.Contains(strings.Join(r.Warnings, "\n"), "schedule.decay_fraction has no effect")
		if got != c.warn {
			t.Errorf("%s: warned %v, want %v (%q)", c.sched, got, c.warn, r.Warnings)
		}
	}
}

// TestRecipeEvalSplit: eval.split takes olmolab eval --split's values, from
// the file or from --set; anything else names the file, line and field. A
// run's recipe.yaml keeps it.
func TestRecipeEvalSplit(t *testing.T) {
	for _, tc := range []struct {
		name, add string
		set       []string
		want      string // the split, or an error's text
	}{
		{"absent", "", nil, ""},
		{"in the file", "eval: {tasks: [arc_easy], split: validation}\n", nil, "validation"},
		{"from --set", "eval: {tasks: [arc_easy]}\n", []string{"eval.split=validation"}, "validation"},
		{"--set over the file", "eval: {tasks: [arc_easy], split: test}\n", []string{"eval.split=train"}, "train"},
		{"bad value", "eval: {tasks: [arc_easy], split: dev}\n", nil, `tiny.yaml:15:34: eval.split: want train, validation or test (the split of the OLMES benchmarks in eval.tasks; leave it out for OLMES's own), got "dev"`},
		{"bad --set", "", []string{"eval.split=val"}, `tiny.yaml: eval.split: want train, validation or test`},
		{"not a string", "eval: {split: [validation]}\n", nil, "tiny.yaml:15:15: eval.split: want a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRecipe("tiny.yaml", []byte(tinyRecipe+tc.add), tc.set)
			if strings.Contains(tc.want, ":") {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Eval.Split != tc.want {
				t.Errorf("eval.split %q, want %q", r.Eval.Split, tc.want)
			}
			again, err := ParseRecipe("recipe.yaml", r.YAML(), nil)
			if err != nil || again.Eval.Split != tc.want {
				t.Errorf("recipe.yaml gives eval.split %q (%v), want %q", again.Eval.Split, err, tc.want)
			}
		})
	}
}

// TestShippedRecipesSayEvalSplit: a shipped recipe whose eval.tasks name OLMES
// benchmarks scored on a test split says, next to them, how a run on data with
// validation splits only (HF downloads) scores them (eval.split), and keeps
// OLMES's splits as its default.
func TestShippedRecipesSayEvalSplit(t *testing.T) {
	testSplit := map[string]bool{}
	for _, b := range olmes.Benchmarks() {
		testSplit[b.Name] = b.Split == "test"
	}
	n := 0
	for _, sr := range experiments.All() {
		r, err := ParseRecipe(sr.Path, sr.YAML, nil)
		if err != nil {
			t.Fatalf("%s: %v", sr.Name, err)
		}
		if !slices.ContainsFunc(r.Eval.Tasks, func(task string) bool { return testSplit[task] }) {
			continue
		}
		n++
		if r.Eval.Split != "" {
			t.Errorf("%s: eval.split %q; the shipped default is OLMES's splits", sr.Name, r.Eval.Split)
		}
		if !strings.Contains(string(sr.YAML), "--set eval.split=validation") {
			t.Errorf("%s names %v but does not say how to score them on validation splits (eval.split)", sr.Name, r.Eval.Tasks)
		}
	}
	if n == 0 {
		t.Fatal("no shipped recipe names an OLMES benchmark on a test split")
	}
}

// TestWarmupPastTheEndWarning: a warmup as long as the run (a recipe given a
// short max_tokens with --set, as the proxy recipes' 200K warmup with
// max_tokens=16K) never reaches optimizer.lr; it trained so without a word,
// where an anneal past the end is warned about.
func TestWarmupPastTheEndWarning(t *testing.T) {
	for _, tc := range []struct {
		set  []string
		want string // "" no warning
	}{
		{[]string{"max_tokens=512"}, "tiny.yaml:9:41: schedule.warmup_tokens 512 is not below the 512 tokens the run trains (max_tokens 512): the LR warms up for the whole run and never decays from optimizer.lr 0.003"},
		{[]string{"max_tokens=300"}, "schedule.warmup_tokens 512 is not below the 512 tokens the run trains (max_tokens 300)"}, // whole steps
		{[]string{"max_tokens=1024", "schedule.warmup_tokens=2K"}, "schedule.warmup_tokens 2000 is not below the 1024 tokens the run trains (max_tokens 1024)"},
		{[]string{"max_tokens=1024"}, ""},
		{[]string{"max_tokens=8192", "anneal.auto_at=256", "anneal.tokens=7936"}, "schedule.warmup_tokens 512 is not below anneal.auto_at 256: the anneal starts before the LR reaches optimizer.lr 0.003"},
	} {
		r, err := ParseRecipe("tiny.yaml", []byte(tinyRecipe), tc.set)
		if err != nil {
			t.Fatal(err)
		}
		w := strings.Join(r.Warnings, "\n")
		if tc.want == "" && strings.Contains(w, "warmup_tokens") || !strings.Contains(w, tc.want) {
			t.Errorf("%v: warnings %q, want %q", tc.set, w, tc.want)
		}
	}
}

// TestAbsPaths: every path a recipe reads is made absolute against the
// current directory, in the recipe and in the YAML a run directory keeps;
// built-in sources, task names, remote and absolute paths stay as written.
func TestAbsPaths(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	src := tinyRecipe + `load_path: runs/s1
mixes:
  late: [{name: web, target_ratio: 1, paths: ["builtin:web_clean"]}, {name: c, target_ratio: 1, paths: [code/*.npy]}]
anneal: {auto_at: 2K, tokens: 1K, mix: [{name: m, target_ratio: 1, paths: ["./math/a.npy", "/abs/b.npy"]}]}
soup: {ingredients: 2, mix: [{name: q, target_ratio: 1, paths: "qa.jsonl"}]}
eval: {tasks: [arith, dumps/requests.jsonl.gz], val: {tokens: 64, sources: [{name: v, paths: ["val/**/*.npy", "s3://bucket/v.npy"]}]}}
`
	r, err := ParseRecipe("r.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := r.AbsPaths()
	if err != nil {
		t.Fatal(err)
	}
	j := func(p string) string { return filepath.Join(wd, p) }
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		{"dataset", a.Dataset[0].Paths, []string{"builtin:web_clean"}},
		{"mixes", a.Mixes[0].Sources[1].Paths, []string{j("code/*.npy")}},
		{"anneal.mix", a.Anneal.Mix[0].Paths, []string{j("math/a.npy"), "/abs/b.npy"}},
		{"soup.mix", a.Soup.Mix[0].Paths, []string{j("qa.jsonl")}},
		{"eval.tasks", a.Eval.Tasks, []string{"arith", j("dumps/requests.jsonl.gz")}},
		{"eval.val", a.Eval.Val.Sources[0].Paths, []string{j("val/**/*.npy"), "s3://bucket/v.npy"}},
		{"load_path", []string{a.LoadPath}, []string{j("runs/s1")}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: %q, want %q", c.what, c.got, c.want)
		}
	}
	// what the run directory keeps reads back the same from anywhere
	t.Chdir(t.TempDir())
	b, err := ParseRecipe("recipe.yaml", a.YAML(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.LoadPath != a.LoadPath || !slices.Equal(b.Anneal.Mix[0].Paths, a.Anneal.Mix[0].Paths) || !slices.Equal(b.Eval.Tasks, a.Eval.Tasks) {
		t.Errorf("recipe.yaml read back: load_path %q, anneal %q, tasks %q", b.LoadPath, b.Anneal.Mix[0].Paths, b.Eval.Tasks)
	}
	if r.LoadPath != "runs/s1" {
		t.Errorf("the parsed recipe changed: load_path %q", r.LoadPath)
	}
}

// TestSoupSeedsWithoutIngredients: soup.seeds without soup.ingredients makes
// a soup of one ingredient per seed, and a warning at the seeds says so; it
// made no soup, silently. An explicit ingredients: 0 still makes none.
func TestSoupSeedsWithoutIngredients(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		set        []string
		want       int
		warn       string
	}{
		{"in the file", "soup: {seeds: [1, 2]}\n", nil, 2, "tiny.yaml:15:15: soup.seeds: 2 seeds and no soup.ingredients: the soup is made of 2 ingredients, one anneal per seed"},
		{"by --set", "", []string{"soup.seeds=[7]"}, 1, "tiny.yaml: soup.seeds: 1 seed and no soup.ingredients: the soup is made of 1 ingredient, one anneal per seed"},
		{"ingredients: 0", "soup: {ingredients: 0, seeds: [1, 2]}\n", nil, 0, ""},
		{"both", "soup: {ingredients: 2, seeds: [1, 2]}\n", nil, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRecipe("tiny.yaml", []byte(tinyRecipe+tc.yaml), tc.set)
			if err != nil {
				t.Fatal(err)
			}
			w := strings.Join(r.Warnings, "\n")
			if r.Soup.Ingredients != tc.want || (tc.warn == "" && strings.Contains(w, "soup")) || !strings.Contains(w, tc.warn) {
				t.Errorf("ingredients %d, want %d; warnings %q, want %q", r.Soup.Ingredients, tc.want, w, tc.warn)
			}
		})
	}
}

// TestRecipeCookbookSourceKeys: olmo-cookbook's per-source repetition_factor
// and max_source_ratio are kept (checked when a run starts, checkDraws); on a
// built-in source, whose documents never repeat, they have no effect, which a
// warning says (they were "unknown key ignored", then ignored with a warning
// while the run repeated the source past its factor); a source without
// target_ratio says that the cookbook's natural mix (no ratio at all) is not
// supported.
func TestRecipeCookbookSourceKeys(t *testing.T) {
	y := strings.Replace(tinyRecipe, `{name: qa, target_ratio: 0.3, paths: ["builtin:qa"]}`,
		`{name: qa, target_ratio: 0.3, repetition_factor: 1.0, max_source_ratio: 0.5, paths: ["builtin:qa"]}`, 1)
	r, err := ParseRecipe("cb.yaml", []byte(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Dataset[1]; s.RepetitionFactor != 1 || s.MaxSourceRatio != 0.5 {
		t.Errorf("caps %v, %v; want 1 and 0.5 kept", s.RepetitionFactor, s.MaxSourceRatio)
	}
	w := strings.Join(r.Warnings, "\n")
	if want := `cb.yaml:13:79: dataset.sources[1]: repetition_factor and max_source_ratio have no effect on a built-in source: its documents never repeat`; !strings.Contains(w, want) {
		t.Errorf("warnings %q lack %q", w, want)
	}
	_, err = ParseRecipe("cb.yaml", []byte(strings.ReplaceAll(tinyRecipe, "target_ratio: 0.7, ", "")), nil)
	if err == nil || !strings.Contains(err.Error(), "no target_ratio") || !strings.Contains(err.Error(), "HINT: give every source a target_ratio (normalised to sum to 1); olmo-cookbook's natural mix") {
		t.Errorf("a source without target_ratio: %v", err)
	}
}

// TestRecipeCookbookDatasetSeed: a cookbook recipe's dataset block carries
// seed: (DatasetConfig.seed, the source mixture's sampling seed, 42 by
// default) beside the top-level seed. It stopped the recipe as a key of
// another level ("dataset.seed: this key belongs at the top level"); it is
// ignored with a warning that says which seed orders the data, and the
// top-level seed stays. A seed that is not an integer is still an error.
func TestRecipeCookbookDatasetSeed(t *testing.T) {
	y := strings.Replace(tinyRecipe, "dataset:\n", "dataset:\n  seed: 42\n  processes: 16\n", 1)
	r, err := ParseRecipe("cb.yaml", []byte(y), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Seed != 7 {
		t.Errorf("seed %d, want the top-level 7", r.Seed)
	}
	w := strings.Join(r.Warnings, "\n")
	if want := "cb.yaml:11:9: dataset.seed ignored: olmo-cookbook's seed for sampling each source's instances; olmolab orders every source's data by the recipe's seed (top-level seed:)"; !strings.Contains(w, want) {
		t.Errorf("warnings %q lack %q", w, want)
	}
	_, err = ParseRecipe("cb.yaml", []byte(strings.Replace(y, "seed: 42", "seed: often", 1)), nil)
	if err == nil || !strings.Contains(err.Error(), "dataset.seed") {
		t.Errorf("dataset.seed: often: %v", err)
	}
}

// TestExplicitVocabSize: a cpu_* preset or an inline model takes its
// tokenizer's vocabulary unless the recipe gives vocab_size; a vocab_size the
// recipe gives is kept, and one smaller than the tokenizer's is refused. It
// was replaced silently: vocab_size 2048 with dolma2 trained a 100352 model,
// vocab_size 4096 with world a 2048 one.
func TestExplicitVocabSize(t *testing.T) {
	for _, c := range []struct {
		model, tok string
		want       int
		err        string
	}{
		{"{preset: cpu_xs}", "dolma2", 100352, ""},
		{"{preset: cpu_xs}", "world", 2048, ""},
		{"{preset: cpu_xs, vocab_size: 4096}", "world", 4096, ""},
		{"{preset: cpu_xs, vocab_size: 2048}", "dolma2", 0, "vocab_size 2048 is smaller than tokenizer dolma2's 100352"},
		{"{hidden_size: 64, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 2048}", "dolma2", 0, "vocab_size 2048 is smaller than tokenizer dolma2's 100352"},
		{"{hidden_size: 64, num_hidden_layers: 1, num_attention_heads: 2}", "dolma2", 100352, ""},
	} {
		y := strings.Replace(strings.Replace(tinyRecipe, "{preset: cpu_xs}", c.model, 1), "tokenizer: world", "tokenizer: "+c.tok, 1)
		r, err := ParseRecipe("v.yaml", []byte(y), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.model, err)
		}
		tok, _ := data.NewTokenizer(c.tok)
		cfg, err := resolveModel(r, tok)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s with %s: %v (vocab %d), want an error saying %q", c.model, c.tok, err, cfg.VocabSize, c.err)
		case c.err == "" && (err != nil || cfg.VocabSize != c.want):
			t.Errorf("%s with %s: vocab %d, %v; want %d", c.model, c.tok, cfg.VocabSize, err, c.want)
		}
	}
}

// TestRecipeKeyAtAnotherLevel: in a recipe file, a key the lab knows at
// another level is an error naming where it belongs (every place, when
// several take it), at the key's file:line:column; a near miss names the
// full path of the nearest key of its own level first, else of another
// level. Before, a top-level lr: was warned about and the run trained on the
// default LR.
func TestRecipeKeyAtAnotherLevel(t *testing.T) {
	base := strings.NewReplacer("model: {preset: cpu_xs}\n", "", "optimizer: {lr: 3.0e-3}\n", "", "checkpoint: {interval: 5, keep: 0}\n", "").Replace(tinyRecipe)
	web := `{name: web, target_ratio: 0.7, paths: ["builtin:web_clean"]}`
	mixes := "mixes: {cur: [{name: qa, target_ratio: 1, paths: [\"builtin:qa\"]}]}\n"
	for _, c := range []struct {
		name     string
		from, to string // a replacement in base
		add      string // appended to base (line 12 on)
		want     string // the error; "" for none
		warn     string // a warning, with want ""
	}{
		{name: "top lr", add: "lr: 1.0e-3\n", want: "tiny.yaml:12:1: lr: this key belongs under optimizer (optimizer.lr)"},
		{name: "top learning_rate", add: "learning_rate: 1.0e-3\n", want: "learning_rate: this key belongs under optimizer (optimizer.learning_rate)"},
		{name: "top alpha_f", add: "alpha_f: 0\n", want: "alpha_f: this key belongs under schedule (schedule.alpha_f)"},
		{name: "top tokens", add: "tokens: 1K\n", want: "tokens: this key belongs under anneal, soup or eval.val (anneal.tokens, soup.tokens or eval.val.tokens)"},
		{name: "top target_ratio", add: "target_ratio: 0.5\n", want: "target_ratio: this key belongs under anneal.mix[N], dataset.sources[N], mixes.NAME[N], soup.mix[N] or eval.val.sources[N]"},
		{name: "top interval", add: "interval: 5\n", want: "interval: this key belongs under checkpoint or eval (checkpoint.interval or eval.interval)"},
		{name: "top at_tokens", add: "at_tokens: 1K\n", want: "at_tokens: this key belongs under anneal or mix_schedule[N] (anneal.at_tokens or mix_schedule[N].at_tokens)"},
		{name: "top sigma", add: "sigma: 5\n", want: "sigma: this key belongs under spikes (spikes.sigma)"},
		{name: "top hidden_size", add: "hidden_size: 64\n", want: "hidden_size: this key belongs under model (model.hidden_size)"},
		{name: "top regions", add: "regions: 8\n", want: "regions: this key belongs under world (world.regions)"},
		{name: "top identifier", add: "identifier: world\n", want: "identifier: this key belongs under tokenizer (tokenizer.identifier)"},
		{name: "top strict", add: "strict: true\n", want: "strict: this key belongs under dataset (dataset.strict)"},
		{name: "top seeds, near seed", add: "seeds: [1, 2]\n", want: `seeds: this key belongs under soup (soup.seeds); or did you mean "seed"?`},
		{name: "model", add: "model: {preset: cpu_xs, lr: 1.0e-3}\n", want: "tiny.yaml:12:25: model.lr: this key belongs under optimizer (optimizer.lr)"},
		{name: "optimizer", add: "optimizer: {lr: 1.0e-3, z_loss: 1.0e-4}\n", want: "optimizer.z_loss: this key belongs at the top level (z_loss)"},
		{name: "optimizer max_tokens", add: "optimizer: {warmup_tokens: 1K}\n", want: "optimizer.warmup_tokens: this key belongs under schedule (schedule.warmup_tokens)"},
		{name: "schedule", from: "warmup_tokens: 512}", to: "warmup_tokens: 512, lr: 1.0e-3}", want: "schedule.lr: this key belongs under optimizer (optimizer.lr)"},
		{name: "schedule max_tokens is its own", from: "warmup_tokens: 512}", to: "warmup_tokens: 512, max_tokens: 5120}"},
		{name: "tokenizer", from: "tokenizer: world", to: "tokenizer: {identifier: world, lr: 1}", want: "tokenizer.lr: this key belongs under optimizer (optimizer.lr)"},
		{name: "dataset", from: "dataset:\n", to: "dataset:\n  tokens: 1K\n", want: "dataset.tokens: this key belongs under anneal, soup or eval.val"},
		{name: "dataset.sources.N", from: web, to: `{name: web, target_ratio: 0.7, paths: ["builtin:web_clean"], lr: 1}`, want: "dataset.sources[0].lr: this key belongs under optimizer (optimizer.lr)"},
		{name: "dataset.sources.N near miss here", from: web, to: `{name: web, target_ratio: 0.7, target_rati: 0.7, paths: ["builtin:web_clean"]}`, want: `dataset.sources[0].target_rati: unknown key; did you mean "dataset.sources[0].target_ratio"?`},
		{name: "eval", add: "eval: {tasks: [arith], lr: 1.0e-3}\n", want: "eval.lr: this key belongs under optimizer (optimizer.lr)"},
		{name: "eval.val", add: "eval: {val: {tokens: 64, interval: 5}}\n", want: "eval.val.interval: this key belongs under checkpoint or eval (checkpoint.interval or eval.interval)"},
		{name: "eval.val.sources.N", add: "eval: {val: {tokens: 64, sources: [{name: v, paths: [a.npy], keep: 1}]}}\n", want: "eval.val.sources[0].keep: this key belongs under checkpoint (checkpoint.keep)"},
		{name: "anneal", add: "anneal: {tokens: 256, interval: 5}\n", want: "anneal.interval: this key belongs under checkpoint or eval"},
		{name: "anneal.mix.N", add: "anneal: {tokens: 256, mix: [{name: web, target_ratio: 1, paths: [\"builtin:web_clean\"], lr: 1}]}\n", want: "anneal.mix[0].lr: this key belongs under optimizer (optimizer.lr)"},
		{name: "soup", add: "soup: {ingredients: 2, lr: 1.0e-3}\n", want: "soup.lr: this key belongs under optimizer (optimizer.lr)"},
		{name: "soup.mix.N", add: "soup: {ingredients: 2, mix: [{name: qa, target_ratio: 1, paths: [\"builtin:qa\"], seed: 3}]}\n", want: "soup.mix[0].seed: this key belongs at the top level or under world (seed or world.seed)"},
		{name: "checkpoint", add: "checkpoint: {keep: 1, window: 10}\n", want: "checkpoint.window: this key belongs under spikes (spikes.window)"},
		{name: "spikes interval", add: "spikes: {interval: 5}\n", want: "spikes.interval: this key belongs under checkpoint or eval (checkpoint.interval or eval.interval)"},
		{name: "spikes", add: "spikes: {sigma: 6, keep: 2}\n", want: "spikes.keep: this key belongs under checkpoint (checkpoint.keep)"},
		{name: "mixes.NAME.N", add: "mixes: {cur: [{name: qa, target_ratio: 1, paths: [\"builtin:qa\"], auto_at: 5}]}\n", want: "mixes.cur[0].auto_at: this key belongs under anneal (anneal.auto_at)"},
		{name: "mix_schedule.N", add: mixes + "mix_schedule: [{at_tokens: 1K, mix: cur, tokens: 5}]\n", want: "mix_schedule[0].tokens: this key belongs under anneal, soup or eval.val"},
		{name: "world", add: "world: {regions: 4, seed: 3, lr: 1}\n", want: "world.lr: this key belongs under optimizer (optimizer.lr)"},
		// OLMo-core's keys of the same name that mean something else stay warnings
		{name: "OLMo-core tokenizer", from: "tokenizer: world", to: "tokenizer: {identifier: world, vocab_size: 100278, eos_token_id: 100257}",
			warn: `unknown key "tokenizer.vocab_size" ignored`},
		{name: "OLMo-core dataset mix", from: "dataset:\n", to: "dataset:\n  mix: OLMoE-mix-0824\n", warn: `tiny.yaml:9:3: unknown key "dataset.mix" ignored`},
		{name: "OLMo-core model dtype", add: "model: {preset: cpu_xs, dtype: bfloat16}\n", warn: `tiny.yaml:12:25: unknown key "model.dtype" ignored`},
		// near misses: this level's key first, then another level's, in full
		{name: "near miss here", add: "spikes: {sigmaa: 5}\n", want: `spikes.sigmaa: unknown key; did you mean "spikes.sigma"?`},
		{name: "near miss elsewhere", add: "lrr: 1.0e-3\n", want: `tiny.yaml:12:1: lrr: unknown key; did you mean "optimizer.lr"?`},
		{name: "near miss at several levels", add: "tokns: 5\n", want: `tokns: unknown key; did you mean "anneal.tokens", "soup.tokens" or "eval.val.tokens"?`},
		{name: "near miss in a list", add: "optimizer: {target_rati: 1}\n", want: `did you mean "anneal.mix[N].target_ratio", "dataset.sources[N].target_ratio"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := base
			if c.from != "" {
				if !strings.Contains(doc, c.from) {
					t.Fatalf("base lacks %q", c.from)
				}
				doc = strings.Replace(doc, c.from, c.to, 1)
			}
			r, err := ParseRecipe("tiny.yaml", []byte(doc+c.add), nil)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.warn == "" && len(r.Warnings) > 0 || c.warn != "" && !slices.ContainsFunc(r.Warnings, func(w string) bool { return strings.Contains(w, c.warn) }) {
					t.Fatalf("warnings %q, want %q", r.Warnings, c.warn)
				}
				return
			}
			var re *RecipeError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a *RecipeError with %q", err, c.want)
			}
		})
	}
}

// TestRecipeOverrideAtAnotherLevel: --set of a key that belongs at another
// level names the --set that would work; a near miss names the nearest key
// of its level first, else of another. Before, --set lrr=1 answered "did you
// mean "lr"", which --set refused in turn.
func TestRecipeOverrideAtAnotherLevel(t *testing.T) {
	for _, c := range []struct{ set, want string }{
		{"lr=1e-3", "tiny.yaml: lr: this key belongs under optimizer: --set optimizer.lr=..."},
		{"target_ratio=0.5", "--set anneal.mix.N.target_ratio=..., --set dataset.sources.N.target_ratio=..., --set mixes.NAME.N.target_ratio=..."},
		{"optimizer.warmup_tokens=1K", "optimizer.warmup_tokens: this key belongs under schedule: --set schedule.warmup_tokens=..."},
		{"dataset.sources.0.lr=1", "dataset.sources[0].lr: this key belongs under optimizer: --set optimizer.lr=..."},
		{"model.lr=1", "model.lr: this key belongs under optimizer: --set optimizer.lr=..."},
		{"eval.val.interval=5", "eval.val.interval: this key belongs under checkpoint or eval: --set checkpoint.interval=... or --set eval.interval=..."},
		{"anneal.sigma=5", "anneal.sigma: this key belongs under spikes: --set spikes.sigma=..."},
		{"soup.keep=1", "soup.keep: this key belongs under checkpoint: --set checkpoint.keep=..."},
		{"spikes.keep=1", "spikes.keep: this key belongs under checkpoint"},
		{"checkpoint.window=5", "checkpoint.window: this key belongs under spikes"},
		{"world.lr=1", "world.lr: this key belongs under optimizer"},
		{"lrr=1", `lrr: unknown key (from --set); did you mean "optimizer.lr"?`},
		{"optimizer.lrr=1", `optimizer.lrr: unknown key (from --set); did you mean "optimizer.lr"?`},
		{"dataset.sources.1.target_rati=1", `dataset.sources[1].target_rati: unknown key (from --set); did you mean "dataset.sources[1].target_ratio"?`},
		{"optimizer.lr=1e-3", ""},
		{"schedule.max_tokens=1K", ""},
	} {
		t.Run(c.set, func(t *testing.T) {
			_, err := ParseRecipe("tiny.yaml", []byte(tinyRecipe), []string{c.set})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var re *RecipeError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a *RecipeError with %q", err, c.want)
			}
		})
	}
}

// TestRecipeKeyLevels: the levels the decoder answers for cover every key it
// knows, and are the mappings a recipe has.
func TestRecipeKeyLevels(t *testing.T) {
	lv := recipeLevels()
	want := []string{"", "anneal", "anneal.mix[N]", "checkpoint", "dataset", "dataset.sources[N]", "eval", "eval.val",
		"eval.val.sources[N]", "mix_schedule[N]", "mixes", "mixes.NAME[N]", "model", "optimizer", "schedule", "soup",
		"soup.mix[N]", "spikes", "tokenizer", "world"}
	if got := slices.Sorted(slices.Values(lv.order)); !slices.Equal(got, want) {
		t.Errorf("levels %q, want %q", got, want)
	}
	if !lv.free["mixes"] || len(lv.free) != 1 {
		t.Errorf("free levels %v, want mixes only", lv.free)
	}
	for _, k := range knownKeyNames() {
		n := 0
		for _, l := range lv.order {
			if lv.keys[l][k] {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no level takes %q", k)
		}
	}
	for path, level := range map[string]string{"": "", "optimizer": "optimizer", "dataset.sources[3]": "dataset.sources[N]",
		"mixes.curated[0]": "mixes.NAME[N]", "eval.val.sources[12]": "eval.val.sources[N]", "mix_schedule[1]": "mix_schedule[N]"} {
		if got := lv.level(path); got != level {
			t.Errorf("level(%q) = %q, want %q", path, got, level)
		}
	}
}
