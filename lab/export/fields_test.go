package export

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab"
)

// How the export treats a recipe field.
const (
	mapped    = "mapped"     // train.py carries it: want is in train.py
	refused   = "refused"    // the export refuses it (where train.py would differ): want is in the error
	notMapped = "not mapped" // EXPORT.md lists it under "Not mapped", with what that means for the run: want is there
	notKey    = "not a key"  // not read from a recipe (a preset's, or set by the run): want, if given, is an unknown key
)

// decision is the export's treatment of one recipe field, and a recipe that
// shows it: recipe (a shipped one) with sets, whose export (or error) holds want.
type decision struct {
	how    string
	recipe string
	sets   []string
	want   string
}

// npyQuickstart makes quickstart (cpu_s, a custom llama_like shape) exportable.
var npyQuickstart = []string{`dataset.sources=[{name: web, target_ratio: 3, paths: ["/data/web/*.npy"]}, {name: code, target_ratio: 1, paths: ["/data/code/part-0.npy"]}]`, "mixes={}", "anneal={}", "soup={}"}

func qs(sets ...string) []string { return append(append([]string(nil), npyQuickstart...), sets...) }

const codeMix = `mixes={code: [{name: c, target_ratio: 1, paths: ["/d/c.npy"]}]}`

// exportDecisions has one entry per field of lab.Recipe and of the structs it
// holds (reflected by recipeFields): a field added without an export decision
// fails TestEveryRecipeFieldHasAnExportDecision, so the export cannot again
// fall silently behind the recipe (mix_schedule was "not mapped" while
// train.py trained another experiment).
var exportDecisions = map[string]decision{
	"lab.Recipe.Name":        {mapped, "quickstart", qs(), `RECIPE = "quickstart"`},
	"lab.Recipe.Description": {mapped, "quickstart", qs("description=a run to export"), "    a run to export"},
	"lab.Recipe.ModelName":   {mapped, "olmo2_1B_stage1", nil, "return TransformerConfig.olmo2_1B_v2("},
	"lab.Recipe.Model":       {mapped, "quickstart", qs(), "TransformerConfig.llama_like("},

	"model.Config.VocabSize":         {mapped, "quickstart", qs("tokenizer=bytes"), "vocab_size=384,"},
	"model.Config.HiddenSize":        {mapped, "quickstart", qs(), "d_model=128,"},
	"model.Config.IntermediateSize":  {mapped, "quickstart", qs(), "FeedForwardConfig(hidden_size=384,"},
	"model.Config.NumHiddenLayers":   {mapped, "quickstart", qs(), "n_layers=4,"},
	"model.Config.NumAttentionHeads": {mapped, "quickstart", qs(), "n_heads=4,"},
	"model.Config.NumKeyValueHeads":  {mapped, "quickstart", qs("model={preset: cpu_s, n_kv_heads: 2}"), "n_kv_heads=2,"},
	"model.Config.HeadDim":           {mapped, "quickstart", qs("model={preset: cpu_s, head_dim: 64}"), "head_dim=64,"},
	"model.Config.RopeTheta":         {mapped, "quickstart", qs(), "rope_theta=500000,"},
	"model.Config.RMSNormEps":        {mapped, "quickstart", qs(), "layer_norm_eps=1e-06,"},
	"model.Config.InitializerRange":  {mapped, "quickstart", qs("model={preset: cpu_s, init_std: 0.006}"), "init_std=0.006"},
	"model.Config.PadTokenID":        {mapped, "quickstart", qs("tokenizer=bytes"), "pad_token_id=257"},
	"model.Config.EOSTokenID":        {mapped, "quickstart", qs("tokenizer=bytes"), "eos_token_id=256"},
	"model.Config.TieWordEmbeddings": {refused, "quickstart", qs("model={preset: cpu_s, tie_word_embeddings: true}"), "model.tie_word_embeddings: tied embeddings are not exported"},
	// a preset's, declared in olmolab's HF config.json; no recipe sets them,
	// and training does not read them
	"model.Config.MaxPositionEmbeddings": {notKey, "quickstart", qs("model={preset: cpu_s, max_position_embeddings: 8}"), "max_position_embeddings"},
	"model.Config.BOSTokenID":            {notKey, "quickstart", qs("model={preset: cpu_s, bos_token_id: 1}"), "bos_token_id"},
	"model.Config.TorchDType":            {notKey, "quickstart", qs("model={preset: cpu_s, torch_dtype: bfloat16}"), "torch_dtype"},

	"lab.Recipe.Tokenizer":       {mapped, "olmo2_1B_stage1", nil, "tokenizer_config = TokenizerConfig.dolma2()"},
	"lab.Recipe.SequenceLength":  {mapped, "quickstart", qs(), "SEQUENCE_LENGTH = 128"},
	"lab.Recipe.GlobalBatchSize": {mapped, "quickstart", qs(), "GLOBAL_BATCH_SIZE = 2048"},
	"lab.Recipe.MicroBatchSize":  {mapped, "quickstart", qs(), "RANK_MICROBATCH_SIZE = 2048"},
	"lab.Recipe.MaxTokens":       {mapped, "quickstart", qs(), "MAX_TOKENS = 1700000"},
	"lab.Recipe.Seed":            {mapped, "quickstart", qs(), "SEED = 42"},
	"lab.Recipe.LoadPath":        {mapped, "quickstart", qs("load_path=/ckpt/step100"), `LOAD_PATH = "/ckpt/step100"`},
	"lab.Recipe.StartAsAnneal":   {mapped, "olmo2_1B_stage2", nil, "load_strategy=LoadStrategy.always"},
	"lab.Recipe.Backend":         {notMapped, "olmo2_1B_stage1", nil, `- backend "cuda"`},

	"lab.Recipe.Optimizer":             {mapped, "quickstart", qs(), "optim=AdamWConfig("},
	"lab.Optimizer.LR":                 {mapped, "quickstart", qs(), "LR = 0.003"},
	"lab.Optimizer.Betas":              {mapped, "quickstart", qs(), "betas=(0.9, 0.95)"},
	"lab.Optimizer.Eps":                {mapped, "quickstart", qs(), "eps=1e-08"},
	"lab.Optimizer.WeightDecay":        {mapped, "quickstart", qs(), "weight_decay=0.1"},
	"lab.Optimizer.DecayEmbeddings":    {mapped, "quickstart", qs(), `OptimGroupOverride(params=["embeddings.weight"], opts=dict(weight_decay=0.0))`},
	"lab.Optimizer.DecayNorms":         {refused, "quickstart", qs("optimizer.decay_norm_and_bias=false"), "optimizer.decay_norm_and_bias: false is not exported"},
	"lab.Optimizer.MaxGradNorm":        {mapped, "quickstart", qs(), "max_grad_norm=1.0"},
	"lab.Recipe.Schedule":              {mapped, "quickstart", qs(), "scheduler=CosWithWarmup("},
	"lab.Schedule.Kind":                {mapped, "quickstart", qs("schedule.name=linear"), "scheduler=LinearWithWarmup("},
	"lab.Schedule.WarmupTokens":        {mapped, "quickstart", qs(), "warmup=102400"},
	"lab.Schedule.AlphaF":              {mapped, "quickstart", qs(), "alpha_f=0.1"},
	"lab.Schedule.MaxTokens":           {mapped, "quickstart", qs(), "t_max=2600000"},
	"lab.Schedule.DecayFraction":       {mapped, "quickstart", qs("schedule={name: wsd, warmup_tokens: 2048, decay_fraction: 0.3}"), "decay_fraction=0.3"},
	"lab.Schedule.WarmupMinLR":         {mapped, "quickstart", qs("schedule.warmup_min_lr=1e-5"), "warmup_min_lr=1e-05"},
	"lab.Recipe.ZLoss":                 {mapped, "quickstart", qs(), "z_loss_multiplier=1e-05"},
	"lab.Recipe.Dataset":               {mapped, "quickstart", qs(), "SOURCES = ["},
	"data.SourceSpec.Name":             {mapped, "quickstart", qs(), `("web", 0.75, `},
	"data.SourceSpec.TargetRatio":      {mapped, "quickstart", qs(), "0.75, [\"/data/web/*.npy\"]),  # target_ratio 3.0"},
	"data.SourceSpec.Paths":            {mapped, "quickstart", qs(), `["/data/code/part-0.npy"]`},
	"data.SourceSpec.DType":            {mapped, "quickstart", qs(`dataset.sources=[{name: web, target_ratio: 1, dtype: uint32, paths: ["/data/web/*.npy"]}]`), `dtype="uint32",  # the sources' dtype`},
	"data.SourceSpec.RepetitionFactor": {mapped, "quickstart", qs("dataset.sources.0.repetition_factor=2"), `("web", 0.75, ["/data/web/*.npy"], 2.0, 1.0),`},
	"data.SourceSpec.MaxSourceRatio":   {mapped, "quickstart", qs("dataset.sources.1.max_source_ratio=0.5"), `("code", 0.25, ["/data/code/part-0.npy"], 1.0, 0.5),`},
	"lab.Recipe.DataDType":             {mapped, "quickstart", qs("dataset.dtype=uint32"), `dtype="uint32",  # dataset.dtype`},
	"lab.Recipe.StrictData":            {notMapped, "quickstart", qs("dataset.strict=true"), "- dataset.strict: it stops olmolab at a malformed JSON line"},
	"lab.Recipe.DatasetMix":            {mapped, "quickstart", qs(codeMix, "dataset.sources=code"), `("c", 1.0, ["/d/c.npy"])`},
	"lab.Recipe.Mixes":                 {notMapped, "quickstart", qs(codeMix), "- mixes (code): switching mixes mid-run is a lab action"},
	"lab.NamedMix.Name":                {notMapped, "quickstart", qs(codeMix), "- mixes (code)"},
	"lab.NamedMix.Sources":             {notMapped, "quickstart", qs(codeMix), "- mixes (code)"},
	"lab.Recipe.MixSchedule":           {refused, "quickstart", qs(codeMix, "mix_schedule=[{at_tokens: 1M, mix: code}]"), "mix_schedule: the run switches mixes by itself (code at 1000000 tokens)"},
	"lab.MixSwitch.AtTokens":           {refused, "quickstart", qs(codeMix, "mix_schedule=[{at_tokens: 1M, mix: code}]"), "at 1000000 tokens"},
	"lab.MixSwitch.Mix":                {refused, "quickstart", qs(codeMix, "mix_schedule=[{at_tokens: 1M, mix: code}]"), "(code at"},
	"lab.Recipe.Anneal":                {mapped, "olmo2_1B_stage1", []string{"anneal={tokens: 1T, auto_at: 3T}"}, "scheduler=CosWithWarmupAndLinearDecay("},
	"lab.AnnealSpec.Tokens":            {mapped, "olmo2_1B_stage1", []string{"anneal={tokens: 1T, auto_at: 3T}"}, "decay=1000000000000"},
	"lab.AnnealSpec.AutoAt":            {mapped, "olmo2_1B_stage1", []string{"anneal={tokens: 1T, auto_at: 3T}"}, "CosWithWarmupAndLinearDecay("},
	"lab.AnnealSpec.Mix":               {refused, "quickstart", qs(`anneal={tokens: 0.4M, auto_at: 1.3M, mix: [{name: c, target_ratio: 1, paths: ["/d/c.npy"]}]}`), "anneal.mix: an automatic anneal onto another mix needs two OLMo-core runs"},
	"lab.Recipe.Soup":                  {notMapped, "olmo2_13B_stage2", nil, "- soup (3 ingredients, seeds 1110, 2662, 6209): the script is one ingredient"},
	"lab.SoupSpec.Ingredients":         {notMapped, "olmo2_1B_stage1", []string{"soup={ingredients: 2}"}, "- soup (2 ingredients"},
	"lab.SoupSpec.Seeds":               {notMapped, "olmo2_1B_stage1", []string{"soup={ingredients: 2, seeds: [7, 8]}"}, "seeds 7, 8"},
	"lab.SoupSpec.Tokens":              {notMapped, "olmo2_1B_stage1", []string{"soup={ingredients: 2, tokens: 50B}"}, "2 anneals of 50000000000 tokens each"},
	"lab.SoupSpec.Mix":                 {refused, "olmo2_13B_stage2", []string{`soup.mix=[{name: wiki, target_ratio: 1, paths: ["data/dolmino-mix-1124/wiki"]}]`}, "soup.mix: the soup's ingredients anneal on soup.mix"},
	"lab.Recipe.Eval":                  {notMapped, "olmo2_1B_stage1", nil, "- eval (arc_easy"},
	"lab.EvalSpec.Tasks":               {notMapped, "olmo2_1B_stage1", []string{"eval.tasks=[piqa, fact_qa_heldout]"}, "- eval (piqa, fact_qa_heldout"},
	"lab.EvalSpec.IntervalSteps":       {notMapped, "olmo2_1B_stage1", nil, "every 1000 steps"},
	"lab.EvalSpec.AtAnneal":            {notMapped, "quickstart", qs("eval.tasks=[arc_easy]"), "before an anneal and at the end"},
	"lab.EvalSpec.Limit":               {notMapped, "olmo2_1B_stage1", []string{"eval.limit=100"}, "100 instances per task: eval.limit"},
	"lab.EvalSpec.Split":               {notMapped, "olmo2_1B_stage1", []string{"eval.split=validation"}, "the OLMES benchmarks on the validation split: eval.split"},
	"lab.EvalSpec.Val":                 {mapped, "olmo2_1B_stage1", []string{`eval.val={tokens: 1M, sources: [{name: c4, paths: ["/data/val/c4/*.npy"]}]}`}, "LMEvaluatorCallbackConfig("},
	"lab.ValSpec.Tokens":               {mapped, "olmo2_1B_stage1", []string{`eval.val={tokens: 1M, sources: [{name: c4, paths: ["/data/val/c4/*.npy"]}]}`}, "VAL_SOURCES = ["},
	"lab.ValSpec.Sources":              {mapped, "olmo2_1B_stage1", []string{`eval.val={tokens: 1M, sources: [{name: c4, paths: ["/data/val/c4/*.npy"]}]}`}, `("c4", ["/data/val/c4/*.npy"])`},
	"lab.ValSpec.Derived":              {notMapped, "olmo2_1B_stage1", []string{`mixes={b: [{name: web_clean, target_ratio: 1, paths: ["builtin:web_clean"]}]}`, "eval.val={tokens: 8K}"}, "these are the recipe's built-in sources"},
	"lab.EvalSpec.World":               {notKey, "", nil, ""}, // the run's world, set by the run
	"lab.EvalSpec.Warn":                {notKey, "", nil, ""}, // the run's warnings, set by the run
	"lab.Recipe.Spikes":                {notMapped, "olmo2_1B_stage1", nil, "- spikes (window 1000, σ 7)"},
	"lab.SpikeSpec.Window":             {notMapped, "olmo2_1B_stage1", []string{"spikes.window=50"}, "- spikes (window 50"},
	"lab.SpikeSpec.Sigma":              {notMapped, "olmo2_1B_stage1", nil, "σ 7)"},
	"lab.SpikeSpec.FlagSigma":          {notMapped, "olmo2_1B_stage1", nil, "- spikes ("},
	"lab.SpikeSpec.MinPoints":          {notMapped, "olmo2_1B_stage1", nil, "- spikes ("},
	"lab.Recipe.Checkpoint":            {mapped, "quickstart", qs(), "CheckpointerCallback("},
	"lab.CheckpointSpec.IntervalSteps": {mapped, "quickstart", qs(), "CHECKPOINT_INTERVAL = 200"},
	"lab.CheckpointSpec.Keep":          {mapped, "quickstart", qs(), "CHECKPOINTS_KEPT = 2"},
	"lab.CheckpointSpec.Dtype":         {notMapped, "quickstart", qs(), "- checkpoint.dtype F32"},
	"lab.Recipe.World":                 {notMapped, "quickstart", qs("world={seed: 3}"), "- world (seed 3)"},
	"lab.WorldSpec.Seed":               {notMapped, "quickstart", qs("world={seed: 3}"), "- world (seed 3)"},
	"lab.WorldSpec.Config":             {notMapped, "quickstart", qs("world={seed: 3, regions: 5}"), "- world (seed 3): it sizes olmolab's built-in world"},
	"lab.Recipe.Path":                  {notKey, "", nil, ""}, // the file the recipe came from: named in every error
	"lab.Recipe.Warnings":              {notKey, "", nil, ""}, // printed by olmolab export before it writes
}

// recipeFields lists every exported field of lab.Recipe and of the structs of
// this module it holds (by value, pointer, slice or array), each struct once,
// as "pkg.Type.Field".
func recipeFields() []string {
	var out []string
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		if seen[ty] {
			return
		}
		seen[ty] = true
		for i := 0; i < ty.NumField(); i++ {
			f := ty.Field(i)
			if !f.IsExported() {
				continue
			}
			out = append(out, ty.String()+"."+f.Name)
			e := f.Type
			for e.Kind() == reflect.Pointer || e.Kind() == reflect.Slice || e.Kind() == reflect.Array {
				e = e.Elem()
			}
			// the world's own types are the built-in world's, not recipe settings
			if e.Kind() == reflect.Struct && strings.HasPrefix(e.PkgPath(), "github.com/olmolab/olmolab/") && !strings.HasSuffix(e.PkgPath(), "/world") {
				walk(e)
			}
		}
	}
	walk(reflect.TypeOf(lab.Recipe{}))
	return out
}

// TestEveryRecipeFieldHasAnExportDecision: every recipe field is mapped into
// train.py, refused by the export, listed under EXPORT.md's "Not mapped", or
// no recipe setting at all, and a recipe that shows it does so.
func TestEveryRecipeFieldHasAnExportDecision(t *testing.T) {
	fields := recipeFields()
	have := map[string]bool{}
	for _, f := range fields {
		have[f] = true
		if _, ok := exportDecisions[f]; !ok {
			t.Errorf("%s has no export decision: map it in lab/export (train.py), refuse it with a reason, or list it under EXPORT.md's Not mapped with what it means for the run; then add it to exportDecisions", f)
		}
	}
	var stale []string
	for f := range exportDecisions {
		if !have[f] {
			stale = append(stale, f)
		}
	}
	sort.Strings(stale)
	for _, f := range stale {
		t.Errorf("exportDecisions has %s, which lab.Recipe no longer has", f)
	}
	t.Chdir(t.TempDir()) // the shipped recipes' relative paths: none exist here
	for _, f := range fields {
		d, ok := exportDecisions[f]
		if !ok || d.recipe == "" {
			if ok && d.how != notKey {
				t.Errorf("%s: %s needs a recipe that shows it", f, d.how)
			}
			continue
		}
		t.Run(f, func(t *testing.T) {
			if d.how == notKey {
				sr, _ := experiments.Lookup(d.recipe)
				if _, err := lab.ParseRecipe(sr.Path, sr.YAML, d.sets); err == nil || !strings.Contains(err.Error(), d.want+": unknown key") {
					t.Errorf("setting it: err %v, want %q an unknown key", err, d.want)
				}
				return
			}
			r := shipped(t, d.recipe, d.sets...)
			files, err := OLMoCore(OLMoCoreParams{Recipe: r, Source: d.recipe, NProc: 1, Nodes: 1})
			if d.how == refused {
				var re *lab.RecipeError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), d.want) {
					t.Errorf("err %v, want a RecipeError with %q", err, d.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, f := range files {
				got[f.Name] = string(f.Data)
			}
			switch d.how {
			case mapped:
				if !strings.Contains(got["train.py"], d.want) {
					t.Errorf("train.py lacks %q:\n%s", d.want, got["train.py"])
				}
			case notMapped:
				_, section, _ := strings.Cut(got["EXPORT.md"], "\n## Not mapped\n")
				if !strings.Contains(section, d.want) {
					t.Errorf("EXPORT.md's Not mapped lacks %q:\n%s", d.want, section)
				}
			default:
				t.Errorf("unknown decision %q", d.how)
			}
		})
	}
}
