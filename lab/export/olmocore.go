package export

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/olmes"
	"github.com/olmolab/olmolab/lab/plural"
	"github.com/olmolab/olmolab/model"
)

// OLMoCoreCommit is the OLMo-core commit whose API the script is written
// against (github.com/allenai/OLMo-core, 2026-06-22, "Add max_checkpoints …").
const OLMoCoreCommit = "fa6c5014c9f6e9ee789da2d9c20d5126fee8df0d"

// File is one exported file.
type File struct {
	Name string
	Mode os.FileMode
	Data []byte
}

// OLMoCoreParams says what to export and for which machines.
type OLMoCoreParams struct {
	Recipe *lab.Recipe
	Source string // how the recipe was named on the command line (for the files' headers)
	NProc  int    // processes (GPUs) per node, ≥ 1
	Nodes  int    // nodes, ≥ 1
}

// source is one mixture source as OLMo-core will read it.
type source struct {
	Name  string
	Ratio float64 // normalised: the ratios sum to 1 (OLMo-core's SourceMixtureList requires it)
	Raw   float64 // as the recipe wrote it
	Paths []string
	// olmo-cookbook's repetition_factor and max_source_ratio as OLMo-core's
	// max_repetition_ratio and max_source_fraction (1 where not given,
	// OLMo-core's default)
	Rep, Frac float64
}

// plan is the recipe translated, before any text is written.
type plan struct {
	r                *lab.Recipe
	p                OLMoCoreParams
	declared         model.Config // the recipe's model before the tokenizer resolved it (r.Model)
	preset           string       // TransformerConfig.<preset> constructor, "" for a custom llama_like shape
	rankMicro        int          // tokens per forward/backward on one rank
	sources          []source
	dtype            data.DType // the mixture's dtype: dataset.dtype, or the one its sources' dtype keys give
	capped           bool       // a source gives repetition_factor or max_source_ratio
	val              []source   // eval.val's token-file sources (Ratio unused)
	valDType         data.DType // their dtype (the LM evaluator's dataset reads with one), 0 when neither they nor dataset.dtype give one
	valDTypeFrom     string     // the recipe field it comes from
	scheduler        string     // the Python expression
	schedulerNote    string
	loadPath         string
	anneal           bool
	notes, unmapped  []string
	assumedDirs      []string
	microBatchLowerd bool
}

func fail(r *lab.Recipe, field, format string, args ...any) error {
	return &lab.RecipeError{File: r.Path, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// OLMoCore translates the recipe into train.py, launch.sh and EXPORT.md. A
// recipe OLMo-core cannot express is refused with a *lab.RecipeError naming the
// field (exit 2); nothing is returned then.
func OLMoCore(p OLMoCoreParams) ([]File, error) {
	r := p.Recipe
	if p.NProc < 1 || p.Nodes < 1 {
		return nil, fmt.Errorf("--nproc %d, --nodes %d: each must be at least 1", p.NProc, p.Nodes)
	}
	// relative paths as a run started here reads them: train.py runs
	// elsewhere (torchrun from --out, a cluster's job directory)
	abs, err := r.AbsPaths()
	if err != nil {
		return nil, err
	}
	var notes []string
	if !bytes.Equal(abs.YAML(), r.YAML()) {
		wd, _ := os.Getwd()
		notes = append(notes, fmt.Sprintf("The recipe's relative paths were taken from %s, the directory the export ran in, as a run there reads them; train.py names them absolute.", wd))
	}
	// the model the run trains: a cpu_* preset takes its tokenizer's
	// vocabulary, and every model the tokenizer's EOS and padding ids
	cfg, err := abs.ResolvedModel()
	if err != nil {
		return nil, err
	}
	resolved := *abs
	resolved.Model = cfg
	r = &resolved
	pl := &plan{r: r, p: p, declared: abs.Model, loadPath: r.LoadPath, anneal: r.StartAsAnneal, notes: notes}
	for _, step := range []func() error{pl.model, pl.batch, pl.optimizer, pl.data, pl.validation, pl.schedule, pl.rest} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return []File{
		{Name: "train.py", Mode: 0o644, Data: []byte(pl.trainPy())},
		{Name: "launch.sh", Mode: 0o755, Data: []byte(pl.launchSh())},
		{Name: "EXPORT.md", Mode: 0o644, Data: []byte(pl.exportMd())},
	}, nil
}

// model picks OLMo-core's own olmo2_* constructor when the recipe's shape is
// exactly our preset of that name (ours are OLMo-core's, model/presets.go), and
// otherwise spells the shape out with TransformerConfig.llama_like as the olmo2_*
// constructors do: reordered-norm blocks, QK-norm, RMSNorm, SwiGLU, no biases.
func (pl *plan) model() error {
	r := pl.r
	c := r.Model
	if strings.HasPrefix(r.ModelName, "olmo2_") {
		if base, err := model.PresetByName(r.ModelName); err == nil && reflect.DeepEqual(base, pl.declared) {
			pl.preset = r.ModelName
			if r.Tokenizer != "dolma2" {
				return fail(r, "tokenizer", "%s is OLMo-core's %s with the dolma2 vocabulary, but the recipe's tokenizer is %q\nHINT: use tokenizer: dolma2 with the olmo2_* presets (OLMo token files made by `olmolab tokenize --tokenizer dolma2`)", r.ModelName, r.ModelName, r.Tokenizer)
			}
			return nil
		}
	}
	if c.TieWordEmbeddings {
		return fail(r, "model.tie_word_embeddings", "tied embeddings are not exported (OLMo 2 does not tie them)")
	}
	if c.RopeTheta != math.Trunc(c.RopeTheta) || c.RopeTheta <= 0 {
		return fail(r, "model.rope_theta", "OLMo-core's llama_like takes an integer rope_theta, got %v", c.RopeTheta)
	}
	pl.notes = append(pl.notes, fmt.Sprintf("The model %q is not one of OLMo-core's olmo2_* presets, so its shape is spelled out with `TransformerConfig.llama_like` the way the olmo2_* constructors build theirs (reordered-norm blocks, QK-norm, RMSNorm eps %v, RoPE θ %v, SwiGLU MLP of width %d, no biases).", r.ModelName, c.RMSNormEps, c.RopeTheta, c.IntermediateSize))
	return nil
}

// batch checks that the global batch splits evenly over the ranks and their
// micro-batches, as OLMo-core requires.
func (pl *plan) batch() error {
	r := pl.r
	world := pl.p.NProc * pl.p.Nodes
	seq, gbs := r.SequenceLength, r.GlobalBatchSize
	if gbs%(world*seq) != 0 {
		return fail(r, "global_batch_size", "%d tokens (%d sequences of %d) do not split over %d ranks (--nproc %d × --nodes %d)\nHINT: choose --nproc/--nodes dividing %d, or --set global_batch_size=…", gbs, gbs/seq, seq, world, pl.p.NProc, pl.p.Nodes, gbs/seq)
	}
	perRank := gbs / world
	pl.rankMicro = r.MicroBatchSize
	if pl.rankMicro > perRank {
		pl.rankMicro = perRank
		pl.microBatchLowerd = true
	}
	if perRank%pl.rankMicro != 0 {
		return fail(r, "rank_microbatch_size", "each of the %d ranks gets %d tokens per step, not a multiple of rank_microbatch_size %d\nHINT: --set rank_microbatch_size=%d (one sequence) or another divisor", world, perRank, pl.rankMicro, seq)
	}
	return nil
}

func (pl *plan) optimizer() error {
	o := pl.r.Optimizer
	if !o.DecayNorms {
		return fail(pl.r, "optimizer.decay_norm_and_bias", "false is not exported: OLMo 2 decays norm weights and the export only knows OLMo 2's parameter groups\nHINT: --set optimizer.decay_norm_and_bias=true")
	}
	return nil
}

// schedule maps our schedules onto OLMo-core's token-unit schedulers, whose
// formulas (olmo_core/optim/scheduler.py) are the same as lab.Schedule.LR's.
func (pl *plan) schedule() error {
	r := pl.r
	s := r.Schedule
	lr := r.Optimizer.LR
	common := func() []string {
		a := []string{"units=SchedulerUnits.tokens", "warmup=" + strconv.FormatInt(s.WarmupTokens, 10)}
		if s.WarmupMinLR != 0 {
			a = append(a, "warmup_min_lr="+pyFloat(s.WarmupMinLR))
		}
		return a
	}
	tmax := func(a []string) []string {
		if s.MaxTokens > 0 {
			a = append(a, "t_max="+strconv.FormatInt(s.MaxTokens, 10))
		}
		return a
	}
	if s.WarmupMinLR >= lr && s.WarmupTokens > 0 {
		return fail(r, "schedule.warmup_min_lr", "%v is not below the peak LR %v (OLMo-core asserts it)", s.WarmupMinLR, lr)
	}
	if r.StartAsAnneal {
		// OLMo 2 stage 2 (olmo2.md §7): from the configured LR linearly to 0 over the run,
		// no warmup; OLMo-core keeps the configured LR (initial_lr is a fixed field)
		// when it loads the optimizer state.
		pl.scheduler = "LinearWithWarmup(units=SchedulerUnits.tokens, warmup=0, alpha_f=0.0)"
		pl.schedulerNote = fmt.Sprintf("anneal: true — LR %s linearly to 0 over the run's %d tokens, no warmup (the recipe's schedule %q is what our lab ignores for an anneal too)", pyFloat(lr), r.MaxTokens, s.Kind)
		return nil
	}
	if a := r.Anneal; a.AutoAt > 0 && a.AutoAt < r.MaxTokens {
		switch {
		case r.Soup.Ingredients > 0:
			return fail(r, "soup", "at %d tokens (anneal.auto_at) the run makes a soup: %s from its checkpoint there, averaged; train.py would make one anneal instead\nHINT: export stage 1 with --set soup={} --set anneal.auto_at=0 (the soup starts from its checkpoint at %d tokens), and the soup as its own recipe (anneal: true, load_path: that OLMo-core checkpoint, the soup under soup:), whose EXPORT.md says how to run each ingredient",
				a.AutoAt, plural.N(r.Soup.Ingredients, "anneal"), a.AutoAt)
		case len(a.Mix) > 0:
			return fail(r, "anneal.mix", "an automatic anneal onto another mix needs two OLMo-core runs (one dataset each)\nHINT: export stage 1 with --set anneal.auto_at=0, and the anneal as its own recipe (anneal: true, load_path: the stage-1 OLMo-core checkpoint), as experiments/olmo2_*_stage2.yaml do")
		case s.Kind != "cosine" && s.Kind != "cosine_with_warmup":
			return fail(r, "anneal.auto_at", "an automatic anneal is exported only after a cosine schedule (OLMo-core's CosWithWarmupAndLinearDecay), not %q", s.Kind)
		case a.AutoAt+a.Tokens != r.MaxTokens:
			return fail(r, "anneal.auto_at", "the anneal (%d tokens from %d) must end at max_tokens %d to be one OLMo-core schedule", a.Tokens, a.AutoAt, r.MaxTokens)
		}
		args := tmax(append(common(), "alpha_f="+pyFloat(s.AlphaF)))
		args = append(args, "decay="+strconv.FormatInt(a.Tokens, 10), "decay_fraction=None", "decay_min_lr=0.0")
		pl.scheduler = "CosWithWarmupAndLinearDecay(" + strings.Join(args, ", ") + ")"
		pl.schedulerNote = fmt.Sprintf("cosine, then from its value at %d tokens linearly to 0 over the last %d (anneal.auto_at)", a.AutoAt, a.Tokens)
		return nil
	}
	switch s.Kind {
	case "cosine", "cosine_with_warmup":
		pl.scheduler = "CosWithWarmup(" + strings.Join(tmax(append(common(), "alpha_f="+pyFloat(s.AlphaF))), ", ") + ")"
	case "linear", "linear_with_warmup":
		pl.scheduler = "LinearWithWarmup(" + strings.Join(tmax(append(common(), "alpha_f="+pyFloat(s.AlphaF))), ", ") + ")"
	case "constant", "constant_with_warmup":
		if s.WarmupTokens == 0 {
			return fail(r, "schedule.warmup_tokens", "a constant schedule is exported as OLMo-core's ConstantWithWarmup, which divides by its warmup at the first step\nHINT: --set schedule.warmup_tokens=%d (one step)", r.GlobalBatchSize)
		}
		pl.scheduler = "ConstantWithWarmup(" + strings.Join(common(), ", ") + ")"
	case "wsd":
		if s.MaxTokens > 0 && s.MaxTokens != r.MaxTokens {
			return fail(r, "schedule.t_max", "OLMo-core's WSD decays at the end of the run; t_max %d ≠ max_tokens %d cannot be expressed", s.MaxTokens, r.MaxTokens)
		}
		if s.WarmupTokens == 0 {
			return fail(r, "schedule.warmup_tokens", "OLMo-core's WSD divides by its warmup at the first step\nHINT: --set schedule.warmup_tokens=%d (one step)", r.GlobalBatchSize)
		}
		frac := s.DecayFraction
		if frac == 0 {
			frac = 0.2
		}
		pl.scheduler = "WSD(" + strings.Join(append(common(), "decay_fraction="+pyFloat(frac), "decay_min_lr="+pyFloat(s.AlphaF*lr)), ", ") + ")"
	default:
		return fail(r, "schedule", "schedule %q has no OLMo-core counterpart in the export (cosine, linear, constant, wsd)", s.Kind)
	}
	pl.schedulerNote = fmt.Sprintf("%s, warmup %d tokens, in tokens (SchedulerUnits.tokens)", s.Kind, s.WarmupTokens)
	return nil
}

// data checks every source is OLMo token files and turns directories into globs.
func (pl *plan) data() error {
	r := pl.r
	if err := pl.mixSchedule(); err != nil {
		return err
	}
	var sum float64
	for _, s := range r.Dataset {
		sum += s.TargetRatio
	}
	if !(sum > 0) {
		return fail(r, "dataset.sources", "the target ratios sum to %v; at least one must be positive", sum)
	}
	// OLMo-core reads with the dtype it is given: uint16 for a vocabulary past
	// 2^16 (dolma2's OLMo files are uint32) would split every id in two.
	if r.DataDType == data.Uint16 && r.Model.VocabSize > 1<<16 { // a source's own uint16 the loader refuses
		return fail(r, "dataset.dtype", "uint16 cannot hold the ids of a %d-token vocabulary (tokenizer %s), so its token files are uint32\nHINT: drop dataset.dtype, or set it to uint32", r.Model.VocabSize, r.Tokenizer)
	}
	// OLMo-core reads a whole mixture with one dtype: sources' own dtype
	// keys that agree with each other and the default are that dtype
	pl.dtype = r.DataDType
	def := pl.defaultDType()
	first := -1
	for i, s := range r.Dataset {
		if s.TargetRatio == 0 {
			continue
		}
		if first < 0 {
			first = i
		}
		a, b := cmp.Or(r.Dataset[first].DType, def), cmp.Or(s.DType, def)
		if a != b {
			return fail(r, fmt.Sprintf("dataset.sources[%d].dtype", i), "source %q reads %s token files and source %q %s, but OLMo-core reads a whole mixture with one dtype (NumpyDatasetConfig.dtype)\nHINT: retokenize one of them (olmolab tokenize --dtype), so that every source has the same dtype",
				s.Name, b, r.Dataset[first].Name, a)
		}
		if s.DType != 0 {
			pl.dtype = s.DType
		}
	}
	for i, s := range r.Dataset {
		field := fmt.Sprintf("dataset.sources[%d]", i)
		if s.TargetRatio == 0 {
			pl.notes = append(pl.notes, fmt.Sprintf("Source %q has target_ratio 0 and is left out (OLMo-core's mixture wants ratios in (0, 1]).", s.Name))
			continue
		}
		out := source{Name: s.Name, Ratio: s.TargetRatio / sum, Raw: s.TargetRatio, Rep: cmp.Or(s.RepetitionFactor, 1), Frac: cmp.Or(s.MaxSourceRatio, 1)}
		pl.capped = pl.capped || s.Capped()
		for _, p := range s.Paths {
			g, err := pl.tokenPath(field+".paths", s.Name, p)
			if err != nil {
				return err
			}
			out.Paths = append(out.Paths, g...)
		}
		pl.sources = append(pl.sources, out)
	}
	return nil
}

// mixSchedule refuses switches the run makes by itself, as anneal.mix is
// refused: train.py's data is one SourceMixtureDatasetConfig for the whole
// run, so it would train on dataset.sources throughout, another experiment.
// OLMo-core's composable data API (ComposableDataLoader, one instance source
// per stage, ShuffleStrategy.intra_source) can switch mixes within a run, but
// the export does not write it (nor does its stub know it). Switches at or
// after max_tokens, which the run never makes, are listed as not mapped.
func (pl *plan) mixSchedule() error {
	r := pl.r
	var made, never []string
	for _, s := range r.MixSchedule {
		at := fmt.Sprintf("%s at %d tokens", s.Mix, s.AtTokens)
		if s.AtTokens < r.MaxTokens {
			made = append(made, at)
		} else {
			never = append(never, at)
		}
	}
	if len(made) > 0 {
		return fail(r, "mix_schedule", "the run switches mixes by itself (%s), but train.py's data is one OLMo-core mixture (SourceMixtureDatasetConfig) for the whole run: it would train on dataset.sources throughout, another experiment\n"+
			"HINT: export one recipe per stage, as OLMo 2's stage 2 is (experiments/olmo2_*_stage2.yaml): dataset.sources the stage's mix, max_tokens its length, load_path the previous stage's OLMo-core checkpoint; each such run starts its LR schedule afresh, so only a last stage that is an anneal (anneal: true) continues the lab's run as it was. "+
			"Or --set mix_schedule=[] to export the run on dataset.sources alone. (OLMo-core's composable data API, ComposableDataLoader with ShuffleStrategy.intra_source, can switch mixes within a run; the export does not write it.)",
			strings.Join(made, ", "))
	}
	if len(never) > 0 {
		pl.unmapped = append(pl.unmapped, fmt.Sprintf("mix_schedule (%s): at or after max_tokens %d, so the run never switches; the script trains on dataset.sources, as the run does.", strings.Join(never, ", "), r.MaxTokens))
	}
	return nil
}

var documentExts = []string{".jsonl", ".json", ".gz", ".zst", ".txt", ".md"}

// tokenPath returns the path as OLMo-core's SourceMixtureConfig takes it: a
// token file, a glob ("*" and "**" only) of them, or, where OLMo-core's
// expansion of that glob would read other files than olmolab read (hidden
// ones, which olmolab skips), olmolab's files one by one.
func (pl *plan) tokenPath(field, name, p string) ([]string, error) {
	g, err := pl.tokenGlob(field, name, p)
	if err != nil || !strings.Contains(g, "*") {
		return []string{g}, err
	}
	ours, err := data.SourceFiles(g)
	if err != nil {
		return []string{g}, nil // nothing here to compare (a cluster's path): OLMo-core expands it there
	}
	theirs := olmoCoreGlob(g)
	sort.Strings(ours)
	if reflect.DeepEqual(ours, theirs) {
		return []string{g}, nil
	}
	// what OLMo-core would read that olmolab did not (hidden paths), and
	// what it would not read (a path its regex does not match as written,
	// such as ./data/*.npy: its listing writes data/a.npy)
	var why []string
	if extra := notIn(theirs, ours); len(extra) > 0 {
		why = append(why, "would also read "+extra+" (hidden files or directories, which olmolab skips)")
	}
	if missing := notIn(ours, theirs); len(missing) > 0 {
		why = append(why, "would not read "+missing)
	}
	pl.notes = append(pl.notes, fmt.Sprintf("Source %q lists its %s one by one: OLMo-core's glob %s %s.",
		name, plural.N(len(ours), "token file"), g, strings.Join(why, ", and ")))
	return ours, nil
}

// notIn lists (three at most) the paths of a that the sorted b lacks.
func notIn(a, b []string) string {
	var out []string
	for _, f := range a {
		if _, found := slices.BinarySearch(b, f); !found {
			out = append(out, f)
		}
	}
	if len(out) > 3 {
		out = append(out[:3], "…")
	}
	return strings.Join(out, ", ")
}

// olmoCoreGlob expands pattern as OLMo-core's olmo_core.io.glob_directory
// does for a local path (deterministic_glob_directory sorts it): every path
// under the pattern's base directory (the components before the first "*"),
// recursively when the pattern has "**", hidden ones included, that matches
// the pattern turned into a regex ("**/" and "**" → ".*", "*" → "[^/]*").
func olmoCoreGlob(pattern string) []string {
	var base []string
	for _, part := range strings.Split(pattern, "/") {
		if strings.Contains(part, "*") {
			break
		}
		base = append(base, part)
	}
	dir := strings.Join(base, "/")
	if len(base) == 0 {
		dir = "."
	} else if dir == "" {
		dir = "/"
	}
	re, err := regexp.Compile("^" + strings.NewReplacer(`\*\*/`, ".*", `\*\*`, ".*", `\*`, "[^/]*").Replace(regexp.QuoteMeta(pattern)) + "$")
	if err != nil {
		return nil
	}
	recurse := strings.Contains(pattern, "**")
	var out []string
	var list func(d string)
	list = func(d string) {
		ents, err := os.ReadDir(d)
		if err != nil {
			return
		}
		for _, e := range ents {
			p := filepath.Join(d, e.Name()) // Path(d) / name, as Python writes it
			if re.MatchString(p) {
				out = append(out, p)
			}
			if recurse && e.IsDir() {
				list(p)
			}
		}
	}
	list(dir)
	sort.Strings(out)
	return out
}

// tokenGlob is tokenPath's path or glob: a directory becomes DIR/**/*.npy.
func (pl *plan) tokenGlob(field, name, p string) (string, error) {
	r := pl.r
	hint := "\nHINT: `olmolab tokenize INPUT... --out DIR --tokenizer " + r.Tokenizer + "` writes OLMo .npy token files; point the source at DIR"
	if strings.HasPrefix(p, "builtin:") {
		return "", fail(r, field, "source %q reads %s, a built-in world stream that only olmolab has; OLMo-core reads OLMo token files (.npy)%s", name, p, hint)
	}
	if strings.ContainsAny(p, "?[{") {
		return "", fail(r, field, "source %q: %s uses glob syntax OLMo-core does not read (it knows only * and **)\nHINT: list each alternative as its own path", name, p)
	}
	ext := strings.ToLower(filepath.Ext(p))
	for _, d := range documentExts {
		if ext == d {
			return "", fail(r, field, "source %q reads %s, documents that olmolab tokenizes on the fly; OLMo-core reads only token files (.npy)%s", name, p, hint)
		}
	}
	if ext == ".npy" || ext == ".bin" {
		return p, nil
	}
	if strings.Contains(p, "*") {
		return "", fail(r, field, "source %q: the glob %s does not end in .npy, so OLMo-core would read whatever it matches as tokens\nHINT: end the glob in *.npy", name, p)
	}
	// A directory: olmolab reads it recursively; OLMo-core wants a glob.
	info, err := os.Stat(p)
	if err != nil || !info.IsDir() {
		if err == nil {
			return "", fail(r, field, "source %q: %s is neither a .npy token file nor a directory of them%s", name, p, hint)
		}
		pl.assumedDirs = append(pl.assumedDirs, p)
		return strings.TrimRight(p, "/") + "/**/*.npy", nil
	}
	// the files olmolab's loader takes from the directory (hidden ones
	// skipped, a README beside token files left out); those the *.npy glob
	// would not take (a .bin token file, JSONL documents) refuse the export
	files, _ := data.SourceFiles(p)
	var npy, other []string
	for _, f := range files {
		switch ext := strings.ToLower(filepath.Ext(f)); ext {
		case ".npy":
			npy = append(npy, f)
		case ".bin":
			other = append(other, f+" (.bin: give its path or glob explicitly)")
		default:
			other = append(other, f)
		}
	}
	if len(other) > 0 {
		return "", fail(r, field, "source %q: %s holds %s, which is not an OLMo .npy token file%s", name, p, other[0], hint)
	}
	if len(npy) == 0 {
		return "", fail(r, field, "source %q: %s holds no .npy token files%s", name, p, hint)
	}
	return strings.TrimRight(p, "/") + "/**/*.npy", nil
}

// defaultDType is the dtype of token files a source without its own dtype
// key reads: dataset.dtype, else the smallest that holds the vocabulary
// (olmolab's default, and OLMo-core's).
func (pl *plan) defaultDType() data.DType {
	r := pl.r
	if r.Model.VocabSize <= 1<<16 && r.DataDType == 0 {
		return data.Uint16
	}
	return cmp.Or(r.DataDType, data.Uint32)
}

// validation maps eval.val onto OLMo-core's in-loop LM evaluator
// (LMEvaluatorCallbackConfig over a NumpyPaddedFSLDatasetConfig whose files
// carry their source's name as the "label" it reports under). Only token files
// can go: a built-in, JSONL or text validation source, or one whose dtype is
// not the first's (the evaluator's dataset reads one), is listed as not
// mapped rather than failing the export, since the run trains without it.
func (pl *plan) validation() error {
	r := pl.r
	v := r.Eval.Val
	if v.Tokens <= 0 {
		return nil
	}
	if v.Derived {
		pl.unmapped = append(pl.unmapped, fmt.Sprintf("eval.val (validation loss on %s, %d tokens each): these are the recipe's built-in sources, which have no files for OLMo-core's LMEvaluatorCallbackConfig; name held-out .npy files under eval.val.sources to export it.",
			strings.Join(r.Eval.Names()[len(r.Eval.Tasks):], ", "), v.Tokens))
		return nil
	}
	for i, s := range v.Sources {
		out := source{Name: s.Name}
		var skip error
		for _, p := range s.Paths {
			g, err := pl.tokenPath(fmt.Sprintf("eval.val.sources[%d].paths", i), s.Name, p)
			if err != nil {
				skip = err
				break
			}
			out.Paths = append(out.Paths, g...)
		}
		// OLMo-core's LM evaluator reads its files with one dtype, which
		// need not be the mixture's: the validation sources' own, where they
		// agree (a source that reads another is left out, listed)
		d := cmp.Or(s.DType, pl.defaultDType())
		if skip == nil && len(pl.val) > 0 && d != pl.valDType {
			skip = fmt.Errorf("it reads %s token files and eval.val source %q %s, but OLMo-core's LM evaluator reads its files with one dtype (NumpyPaddedFSLDatasetConfig.dtype); retokenize it (olmolab tokenize --dtype %s) to export it",
				d, pl.val[0].Name, pl.valDType, pl.valDType)
		}
		if skip != nil {
			msg := skip.Error()
			var re *lab.RecipeError
			if errors.As(skip, &re) {
				msg = re.Msg
			}
			if j := strings.Index(msg, "\nHINT"); j >= 0 {
				msg = msg[:j]
			}
			pl.unmapped = append(pl.unmapped, fmt.Sprintf("eval.val source %q: %s", s.Name, msg))
			continue
		}
		if len(pl.val) == 0 {
			pl.valDType, pl.valDTypeFrom = d, fmt.Sprintf("eval.val.sources[%d].dtype", i)
			switch {
			case s.DType != 0:
			case r.DataDType != 0:
				pl.valDTypeFrom = "dataset.dtype"
			default:
				pl.valDTypeFrom = "the tokenizer's default"
			}
		}
		pl.val = append(pl.val, out)
	}
	if r.DataDType == 0 && !slices.ContainsFunc(v.Sources, func(s data.SourceSpec) bool { return s.DType != 0 }) {
		pl.valDType = 0 // none given: OLMo-core picks the default as olmolab does
	}
	if len(pl.val) > 0 {
		pl.notes = append(pl.notes, fmt.Sprintf("Validation differs in what it reads: olmolab scores the first %d tokens of each eval.val source, packed into sequences of %d; OLMo-core's LM evaluator scores every document of the files, one per padded instance of SEQUENCE_LENGTH (longer documents are cut there). Give it held-out files of the size to evaluate. It reports eval/lm/<source>/CE loss and PPL.", v.Tokens, r.SequenceLength))
	}
	return nil
}

// rest lists what the export leaves behind.
func (pl *plan) rest() error {
	r := pl.r
	if pl.microBatchLowerd {
		pl.notes = append(pl.notes, fmt.Sprintf("rank_microbatch_size %d is more than one rank's share of the batch, so it is %d here.", r.MicroBatchSize, pl.rankMicro))
	}
	if len(r.Eval.Tasks) > 0 {
		pl.unmapped = append(pl.unmapped, pl.evalTasks())
	}
	if len(r.Mixes) > 0 {
		var names []string
		for _, m := range r.Mixes {
			names = append(names, m.Name)
		}
		pl.unmapped = append(pl.unmapped, fmt.Sprintf("mixes (%s): switching mixes mid-run is a lab action; in OLMo-core it is a second run from a checkpoint with another dataset.", strings.Join(names, ", ")))
	}
	if err := pl.soup(); err != nil {
		return err
	}
	pl.manualAnneal()
	if r.StrictData {
		pl.unmapped = append(pl.unmapped, "dataset.strict: it stops olmolab at a malformed JSON line of a document source; the exported sources are token files, to which it does not apply.")
	}
	if r.World != nil {
		pl.unmapped = append(pl.unmapped, fmt.Sprintf("world (seed %d): it sizes olmolab's built-in world, which only builtin: sources (refused here) and built-in tasks (see eval) read; the script trains on token files.", r.World.Seed))
	}
	pl.unmapped = append(pl.unmapped,
		fmt.Sprintf("spikes (window %d, σ %v): OLMo 2's spike score is the lab's; OLMo-core logs the loss and grad norm (add its StabilityMonitor callback if wanted).", r.Spikes.Window, r.Spikes.Sigma),
		fmt.Sprintf("checkpoint.dtype %s: OLMo-core writes distributed checkpoints in the training dtypes.", r.Checkpoint.Dtype),
		fmt.Sprintf("backend %q and the lab's events, TUI and run directory: OLMo-core logs to the console (add its WandB/Comet callbacks if wanted).", r.Backend),
		"Mixed precision and parallelism are OLMo-core's OLMo 2 settings (FSDP, bf16 parameters, fp32 reductions, torch.compile), not the recipe's (olmolab trains in float32).",
		"OLMo 2 trained with OLMo-core's SkipStepAdamW; the export uses plain AdamWConfig as the recipe's optimizer says.",
	)
	if pl.loadPath != "" {
		pl.notes = append(pl.notes, fmt.Sprintf("load_path %s must be an OLMo-core checkpoint (e.g. a stepN directory of the stage-1 run's --save-folder). An olmolab run directory or an HF checkpoint is not one: convert an HF checkpoint with OLMo-core's src/examples/huggingface/convert_checkpoint_from_hf.py (that loses the Adam state OLMo 2 carries into stage 2). Override with --load-path.", pl.loadPath))
	}
	return nil
}

// evalTasks is EXPORT.md's line for eval.tasks: OLMES benchmarks have
// counterparts in OLMo-core's in-loop evaluator (added by hand); the built-in
// tasks (about olmolab's world) and oe-eval request dumps do not, and are
// scored with olmolab eval on the checkpoints converted to HF.
func (pl *plan) evalTasks() string {
	e := pl.r.Eval
	when := "at the end"
	if e.AtAnneal {
		when = "before an anneal and at the end"
	}
	if e.IntervalSteps > 0 {
		when = "every " + plural.N(e.IntervalSteps, "step")
	}
	if e.Limit > 0 {
		when += fmt.Sprintf(", %d instances per task: eval.limit", e.Limit)
	}
	var bench, own []string
	builtin, dumps := false, false
	for _, t := range e.Tasks {
		base, _, _ := strings.Cut(t, ":")
		switch {
		case olmes.IsRequestDump(t):
			own, dumps = append(own, t), true
		case olmes.BuiltinGroup(base) != "" || slices.Contains([]string{"builtin", "development", "unseen"}, base):
			own, builtin = append(own, t), true
		default:
			bench = append(bench, t)
		}
	}
	split := ""
	if sp := e.Split; sp != "" && len(bench) > 0 {
		split = " --split " + sp
	}
	line := fmt.Sprintf("eval (%s, %s", strings.Join(e.Tasks, ", "), when)
	if split != "" {
		line += fmt.Sprintf(", the OLMES benchmarks on the %s split: eval.split", e.Split)
	}
	line += "): "
	if len(bench) > 0 {
		line += "add OLMo-core's DownstreamEvaluatorCallbackConfig (TrainerConfig.with_recommended_evals) by hand"
		if len(own) > 0 {
			line += " for " + strings.Join(bench, ", ")
		}
		if split != "" {
			// OLMo-in-loop-evals' task labels carry the split (arc_easy_val_rc_5shot,
			// arc_easy_test_rc_5shot): nothing in OLMo-core reads eval.split
			line += ", choosing tasks of that split by their labels (OLMo-in-loop-evals' arc_easy_val_rc_5shot is ARC-Easy's validation split, arc_easy_test_rc_5shot its test split)"
		}
	}
	if len(own) > 0 {
		var kinds []string
		if builtin {
			kinds = append(kinds, "built-in tasks (about olmolab's world)")
		}
		if dumps {
			kinds = append(kinds, "oe-eval request dumps")
		}
		if len(bench) > 0 {
			line += "; " + strings.Join(own, ", ") + " are "
		} else {
			line += "these are "
		}
		line += strings.Join(kinds, " and ") + ", which have no OLMo-core evaluator: "
		if len(bench) > 0 {
			line += "for all of them, "
		}
	} else {
		line += ", or "
	}
	return line + fmt.Sprintf("evaluate checkpoints with `olmolab eval%s` after converting them to HF.", split)
}

// soup says how OLMo-core makes the recipe's soup, which is K runs, one per
// ingredient. In a stage-2 recipe (anneal: true) each ingredient anneals
// from load_path over the run on soup.mix, else the dataset, so the script is
// one ingredient: a soup.mix other than the dataset is refused, since the
// script trains on dataset.sources. In a stage-1 recipe the soup anneals from
// the run's end (an automatic anneal inside the run is refused in schedule).
func (pl *plan) soup() error {
	r := pl.r
	k := r.Soup.Ingredients
	if k <= 0 {
		return nil
	}
	// the ingredients' seeds as lab.Run.runSoup draws them
	seeds := r.Soup.Seeds
	if len(seeds) != k {
		seeds = make([]uint64, k)
		for i := range seeds {
			seeds[i] = r.Seed + uint64(i) + 1
		}
	}
	var list []string
	for _, s := range seeds {
		list = append(list, strconv.FormatUint(s, 10))
	}
	if r.StartAsAnneal {
		if len(r.Soup.Mix) > 0 && !reflect.DeepEqual(r.Soup.Mix, r.Dataset) {
			return fail(r, "soup.mix", "the soup's ingredients anneal on soup.mix, but train.py trains on dataset.sources\nHINT: give the soup's mix as dataset.sources (--set dataset.sources=… with soup.mix's sources) and drop soup.mix")
		}
		pl.unmapped = append(pl.unmapped, fmt.Sprintf("soup (%s, seeds %s): the script is one ingredient; run it once per seed (--seed S, each with its own --save-folder), every one from load_path, then average the final checkpoints' weights uniformly.",
			plural.N(k, "ingredient"), strings.Join(list, ", ")))
		return nil
	}
	mix := "soup.mix"
	switch {
	case len(r.Soup.Mix) > 0:
	case len(r.Anneal.Mix) > 0:
		mix = "anneal.mix"
	default:
		mix = "dataset.sources"
	}
	var tokens int64
	from := ""
	switch {
	case r.Soup.Tokens > 0:
		tokens = r.Soup.Tokens
	case r.Anneal.Tokens > 0:
		tokens, from = r.Anneal.Tokens, " (anneal.tokens)"
	default:
		tokens, from = max(r.MaxTokens/4, int64(r.GlobalBatchSize)), " (a quarter of the run)"
	}
	pl.unmapped = append(pl.unmapped, fmt.Sprintf("soup (%s, seeds %s): the lab makes it when the run ends, %d anneals of %d tokens each%s on %s from the run's last checkpoint, averaged; the script trains the run only. In OLMo-core the soup is its own recipe (anneal: true, load_path: this run's last OLMo-core checkpoint, max_tokens and dataset.sources: the soup's tokens and mix, soup: the seeds), exported and run once per seed.",
		plural.N(k, "ingredient"), strings.Join(list, ", "), k, tokens, from, mix))
	return nil
}

// manualAnneal lists an anneal the run does not make by itself: one a person
// asks for in the lab (anneal.tokens or anneal.mix without auto_at), or one
// whose auto_at is at or past max_tokens. A soup's anneal is soup's.
func (pl *plan) manualAnneal() {
	r := pl.r
	a := r.Anneal
	if r.StartAsAnneal || r.Soup.Ingredients > 0 || (a.Tokens == 0 && len(a.Mix) == 0) || (a.AutoAt > 0 && a.AutoAt < r.MaxTokens) {
		return
	}
	what := fmt.Sprintf("anneal (%d tokens", a.Tokens)
	if len(a.Mix) > 0 {
		what += " onto anneal.mix"
	}
	when := "without anneal.auto_at, a person starts it in the lab"
	if a.AutoAt > 0 {
		when = fmt.Sprintf("anneal.auto_at %d is not before max_tokens %d, so the run ends without it", a.AutoAt, r.MaxTokens)
	}
	pl.unmapped = append(pl.unmapped, fmt.Sprintf("%s): %s; the script runs the schedule to max_tokens. In OLMo-core an anneal is its own recipe (anneal: true, load_path: a checkpoint of this run), as experiments/olmo2_*_stage2.yaml are.", what, when))
}

// pyFloat writes a float64 as a Python float literal that reads back exactly.
func pyFloat(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

func pyStr(s string) string { return strconv.Quote(s) }

// sortedCopy keeps output stable where a map would not.
func sortedCopy(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}
