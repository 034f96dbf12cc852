package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/model"
)

var errHelp = errors.New("help shown")

// newFlags returns a FlagSet whose errors become usage errors (exit 2). Its
// usage goes to stdout when asked for (--help, so that `olmolab eval --help |
// less` works) and to stderr after a bad flag.
func newFlags(name string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("olmolab "+name, flag.ContinueOnError)
	fs.SetOutput(&flagOutput{stdout: stdout, stderr: stderr})
	// --help starts with the command's synopsis (its positional arguments
	// included: snr's RUN..., tokenize's INPUT...), as the command list shows it,
	// rather than the flag package's bare "Usage of olmolab snr:".
	fs.Usage = func() { printUsage(fs, "usage: olmolab "+synopsis(name)) }
	return fs
}

// flagOutput is a FlagSet's output: stderr, noting whether the flag package
// wrote to it. It writes a parse error there before it calls Usage, and
// nothing before Usage for --help, which is how printUsage tells them apart.
type flagOutput struct {
	stdout, stderr io.Writer
	wrote          bool
}

func (o *flagOutput) Write(p []byte) (int, error) {
	// a parse error: the command returns it as a usageError, which main
	// prints with the command's usage line, so it is not said here as well
	o.wrote = true
	return len(p), nil
}

// printUsage writes head and the flags' defaults to stdout for --help, and
// nothing after a parse error (main prints it with one usage line).
func printUsage(fs *flag.FlagSet, head string) {
	o, ok := fs.Output().(*flagOutput)
	if !ok {
		fmt.Fprintln(fs.Output(), head)
		fs.PrintDefaults()
		return
	}
	if o.wrote {
		return // after a parse error: main says the error and the usage line once
	}
	w := o.stdout
	fmt.Fprintln(w, head)
	if groups, ok := flagGroups[fs.Name()]; ok {
		printFlagGroups(w, fs, groups)
		return
	}
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(o)
}

// flagGroup is a titled run of a command's flags in its --help.
type flagGroup struct {
	title string
	names []string
}

// flagGroups orders the --help of the commands with many flags by what the
// flags are for, where the flag package's alphabetical list mixes, say,
// bench's model shape with its timing or eval's inputs with its output.
var flagGroups = map[string][]flagGroup{
	"olmolab eval": {
		{"what to score", []string{"model", "checkpoints", "tasks", "data", "split", "limit", "mc", "val"}},
		{"how", []string{"seq", "tokenizer", "backend"}},
		{"output", []string{"json", "record"}},
	},
	"olmolab sweep": {
		{"the runs", []string{"vary", "seeds", "set", "name", "runs"}},
		{"where they train", []string{"local", "slurm", "parallel", "sbatch-opt", "submit", "olmolab"}},
		{"watching", []string{"status"}},
	},
	"olmolab bench": {
		{"model", []string{"preset", "vocab", "d-model", "layers", "heads", "kv-heads", "mlp"}},
		{"training step", []string{"seq", "batch", "lr", "seed"}},
		{"measurement", []string{"threads", "steps", "warmup", "stat", "scaling", "gemm"}},
	},
	"olmolab train": {
		{"model", []string{"preset", "backend"}},
		{"training", []string{"steps", "batch", "seq", "lr", "seed"}},
		{"output", []string{"out"}},
	},
}

// printFlagGroups writes fs's flags to w group by group, in each group's
// order, as the flag package formats them; a flag no group names comes last,
// under "other", so that none goes missing from the help.
func printFlagGroups(w io.Writer, fs *flag.FlagSet, groups []flagGroup) {
	one := func(f *flag.Flag) {
		g := flag.NewFlagSet("", flag.ContinueOnError)
		g.SetOutput(w)
		g.Var(f.Value, f.Name, f.Usage)
		g.Lookup(f.Name).DefValue = f.DefValue // the default, not a value parsed before --help
		g.PrintDefaults()
	}
	listed := map[string]bool{}
	for _, gr := range groups {
		fmt.Fprintf(w, "\n%s:\n", gr.title)
		for _, name := range gr.names {
			if f := fs.Lookup(name); f != nil {
				one(f)
				listed[name] = true
			}
		}
	}
	var rest []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if !listed[f.Name] {
			rest = append(rest, f)
		}
	})
	if len(rest) > 0 {
		fmt.Fprintln(w, "\nother:")
		for _, f := range rest {
			one(f)
		}
	}
}

// fullSynopses are the arguments of the commands whose --help names every
// flag, where the command list's short form (commands()) names a few: a
// --help whose usage left flags out read as if they did not exist
// (TestSynopsisNamesEveryFlag). A continuation line is indented under the
// first argument.
var fullSynopses = map[string]string{
	"eval": "--model CKPT_OR_RUN [--tasks LIST] [--data DIR] [--mc] [--limit N] [--split S] [--seq N]\n" +
		"                    [--val TOKENS|run] [--json FILE] [--tokenizer NAME] [--backend NAME]\n" +
		"       olmolab eval --model RUN [--checkpoints all|last:N] [--record] ...",
	"snr":      "RUN... [--last N] [--noise per-run|pooled] [--target RUNS] [--soups] [--json FILE]",
	"tokenize": "INPUT... --out DIR [--tokenizer dolma2|world|bytes] [--dtype uint16|uint32] [--max-file-mb N] [--strict] [--resume]",
	"verify":   "--model DIR --case FILE [--float64] [--backend NAME]",
	"train":    "[--preset NAME] [--steps N] [--out DIR] [--batch N] [--seq N] [--lr LR] [--seed N] [--backend NAME]",
	"bench": "[--preset NAME | --vocab N --d-model N --layers N --heads N --kv-heads N --mlp N --seq N --batch N]\n" +
		"                     [--threads N] [--steps N] [--warmup N] [--stat mean|median] [--scaling ROUNDS] [--gemm SIZES]\n" +
		"                     [--lr LR] [--seed N]",
}

// synopsis is a command's name and arguments as its --help gives them:
// fullSynopses', else as the command list gives them.
func synopsis(name string) string {
	if name == "--batch" {
		var names []string
		for _, r := range experiments.All() {
			names = append(names, r.Name)
		}
		return "--batch RECIPE [--set key=value]... [--runs DIR] [--name NAME] [--backend NAME]\n       olmolab --batch --resume RUNDIR [--backend NAME] [--wait-record DURATION] [--from step-N [--skip-steps K | --skip-tokens T] [--name NAME] [--runs DIR]]\n" +
			"RECIPE is a YAML file or a shipped recipe: " + strings.Join(names, ", ")
	}
	if full, ok := fullSynopses[name]; ok {
		return name + " " + full
	}
	for _, c := range commands() {
		if c.name == name {
			return strings.TrimSpace(c.name + " " + c.args)
		}
		if rest, ok := strings.CutPrefix(name, c.name+" "); ok && strings.HasPrefix(c.args, rest) { // "olmes requests"
			return c.name + " " + c.args
		}
	}
	return name + " [flags]"
}

// flagError says the flag package's parse error as a person typed the flag
// (--name, not -name) and what the flag wants: "flag provided but not
// defined: -bogus" becomes "unknown flag --bogus", and `invalid value "x"
// for flag -limit: parse error` becomes `--limit "x": want a whole number`.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return usageError{"unknown flag -" + strings.TrimPrefix(name, "--")}
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return usageError{"-" + strings.TrimPrefix(name, "--") + " needs a value"}
	}
	var value, name string
	if n, _ := fmt.Sscanf(msg, "invalid boolean value %q for -%s", &value, &name); n == 2 {
		name = strings.TrimSuffix(name, ":")
		return usageError{fmt.Sprintf("--%[1]s=%[2]q: want --%[1]s, --%[1]s=true or --%[1]s=false", name, value)}
	}
	if n, _ := fmt.Sscanf(msg, "invalid value %q for flag -%s", &value, &name); n == 2 {
		name = strings.TrimSuffix(name, ":")
		want := "a valid value"
		if f := fs.Lookup(name); f != nil {
			if g, ok := f.Value.(flag.Getter); ok {
				switch g.Get().(type) {
				case int, int64, uint, uint64:
					want = "a whole number"
				case float64:
					want = "a number"
				case bool:
					want = "true or false"
				case time.Duration:
					want = "a duration such as 90s, 30m or 2h"
				}
			}
		}
		return usageError{fmt.Sprintf("--%s %q: want %s", name, value, want)}
	}
	return usageError{msg}
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return flagError(fs, err)
	}
	if fs.NArg() > 0 {
		// the flag set's name is "olmolab NAME", and the message is put
		// after "olmolab: "
		return usageError{fmt.Sprintf("%s: unexpected argument %q", strings.TrimPrefix(fs.Name(), "olmolab "), fs.Arg(0))}
	}
	return nil
}

func runPresets(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("presets", stdout, stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "preset\td_model\tlayers\theads\tkv\thead_dim\tmlp\tvocab\ttotal params\tnon-emb params\t")
	for _, p := range model.Presets() {
		c := p.Config
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", p.Name, c.HiddenSize, c.NumHiddenLayers,
			c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadSize(), c.IntermediateSize, c.VocabSize,
			commas(c.NumParams()), commas(c.NumNonEmbeddingParams()))
	}
	return tw.Flush()
}

// commas formats n with thousands separators: 7298617344 → 7,298,617,344.
func commas(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

type verifyFailed struct{ n int }

func (v verifyFailed) Error() string { return fmt.Sprintf("%d tensors outside tolerance", v.n) }

func runVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", stdout, stderr)
	dir := fs.String("model", "", "HF checkpoint directory (config.json + safetensors)")
	casePath := fs.String("case", "", "reference case file (safetensors: input_ids, labels, logits, grad.*, step1.*, …)")
	f64 := fs.Bool("float64", false, "compute in float64 on the CPU engine itself (tolerances 1e-11 forward, 1e-10 backward)")
	backend := fs.String("backend", "cpu", "engine to check, through the float32 interface training uses (tolerances 1e-4 forward, 1e-3 backward; cpu-f64 too): "+strings.Join(model.BackendNames(), ", "))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *casePath == "" {
		return usageError{"verify needs --model DIR and --case FILE"}
	}
	if *f64 && *backend != "cpu" && *backend != "cpu-f64" {
		// --float64 is the CPU engine in float64: it would check no other backend
		return usageError{fmt.Sprintf("verify --float64 checks the CPU engine in float64, not --backend %s; HINT: leave out --float64 to check %s (in float32)", *backend, *backend)}
	}
	// said by flag and purpose: Go's "open DIR/config.json: no such file or
	// directory" says neither
	const modelHint = "give an HF checkpoint directory (config.json and model.safetensors), e.g. model/testdata/golden/olmo2-tiny"
	switch st, err := os.Stat(*dir); {
	case errors.Is(err, os.ErrNotExist):
		return inputError{fmt.Errorf("verify --model %s: no such checkpoint directory; HINT: %s", *dir, modelHint)}
	case err != nil:
		// a permission error, a symlink loop: say it, not "no such"
		return inputError{fmt.Errorf("verify --model %s: cannot read the checkpoint directory: %v; HINT: check the path and its permissions", *dir, errors.Unwrap(err))}
	case !st.IsDir():
		return inputError{fmt.Errorf("verify --model %s: a file, not a checkpoint directory; HINT: %s", *dir, modelHint)}
	}
	if _, err := os.Stat(filepath.Join(*dir, "config.json")); err != nil {
		hint := "give an HF checkpoint directory (config.json and model.safetensors), e.g. model/testdata/golden/olmo2-tiny"
		if _, err := os.Stat(filepath.Join(*dir, lab.CkptDir)); err == nil {
			hint = "a run's checkpoints are its checkpoints/step-N directories: give one of those"
		}
		return inputError{fmt.Errorf("verify --model %s: not a checkpoint (no config.json); HINT: %s", *dir, hint)}
	}
	if st, err := os.Stat(*casePath); err != nil || st.IsDir() {
		return inputError{fmt.Errorf("verify --case %s: no such reference case file; HINT: give the case made from the checkpoint (a golden directory holds both: --case DIR/case.safetensors)", *casePath)}
	}
	var rows []model.VerifyRow
	var err error
	precision := "float32"
	switch {
	case *f64:
		precision = "float64"
		rows, err = model.Verify[float64](*dir, *casePath, model.Float64Tolerances)
	case *backend != "cpu":
		precision = "float32 on " + *backend
		rows, err = model.VerifyBackend(*dir, *casePath, model.Float32Tolerances, func(cfg model.Config, B, T int) (model.Backend, error) {
			return model.NewBackend(*backend, cfg, B, T)
		})
	default:
		rows, err = model.Verify[float32](*dir, *casePath, model.Float32Tolerances)
	}
	if err != nil {
		return inputError{err}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "tensor\tmax abs err\tmax rel err\ttolerance\t\n")
	bad := 0
	for _, r := range rows {
		mark := "ok"
		if !r.OK {
			mark = "FAIL " + r.First
			bad++
		}
		fmt.Fprintf(tw, "%s\t%.3e\t%.3e\t%.0e\t%s\n", r.Name, r.MaxAbs, r.MaxRel, r.Tol, mark)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d tensors compared in %s: %d within tolerance, %d outside\n", len(rows), precision, len(rows)-bad, bad)
	// a backend whose activations the Backend interface cannot read (the
	// GPU engine's) leaves them out: say which, so that a count below
	// --float64's is not taken for a smaller case
	if skipped, err := model.VerifyNotCompared(*casePath, rows); err != nil {
		return inputError{err}
	} else if len(skipped) > 0 {
		fmt.Fprintf(stdout, "%d not compared: %s (the %s backend keeps no activations verify can read)\n", len(skipped), strings.Join(skipped, ", "), *backend)
	}
	if bad > 0 {
		return verifyFailed{bad}
	}
	return nil
}

// runTrain trains a preset on a generated token stream: an engine smoke run that
// exercises the whole step (forward, backward, clipping, AdamW).
func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", stdout, stderr)
	preset := fs.String("preset", "cpu_xs", "model preset (see 'olmolab presets')")
	steps := fs.Int("steps", 200, "optimizer steps")
	batch := fs.Int("batch", 8, "sequences per step")
	seq := fs.Int("seq", 64, "sequence length")
	lr := fs.Float64("lr", 3e-3, "peak learning rate (linear warmup over 10% of steps, then cosine to 10%)")
	seed := fs.Uint64("seed", 1, "seed for init and data")
	out := fs.String("out", "", "write the final checkpoint here (HF Olmo2ForCausalLM layout)")
	backend := fs.String("backend", "cpu", "engine: "+strings.Join(model.BackendNames(), ", "))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := model.PresetByName(*preset)
	if err != nil {
		return inputError{fmt.Errorf("--preset: %w", err)}
	}
	if *steps <= 0 || *batch <= 0 || *seq <= 1 {
		return usageError{"train: --steps, --batch must be positive and --seq at least 2"}
	}
	if !slices.Contains(model.BackendNames(), *backend) { // bad input (exit 2), as eval and verify answer it
		return inputError{model.UnknownBackend(*backend)}
	}
	if err := checkEngineMemory("train", cfg, *batch, *seq, *backend); err != nil {
		return err
	}
	if err := checkNewDir("train --out", *out); err != nil { // before training, not after
		return err
	}
	var tr *model.Trainer
	if *backend == "cpu" {
		tr = model.NewTrainer(model.TrainerParams{Config: cfg, Batch: *batch, Seq: *seq, Seed: *seed})
	} else {
		// the same initial weights as the CPU trainer's, so runs compare step by step
		b, err := model.NewBackend(*backend, cfg, *batch, *seq)
		if err != nil {
			return err
		}
		model.InitBackend(b, *seed, model.NewStreamBuf(model.NewLayout(cfg).Size()))
		tr = model.NewTrainerOn(b, model.TrainerParams{Seed: *seed})
	}
	defer tr.Close()
	stream := model.NewSyntheticStream(cfg.VocabSize, *seed)
	ids := make([]int32, *batch**seq)
	labels := make([]int32, *batch**seq)
	start := time.Now()
	for s := 1; s <= *steps; s++ {
		stream.Fill(ids, labels, *seq)
		rate := warmupCosine(*lr, s, max(*steps/10, 1), *steps, 0.1)
		r := tr.Step(ids, labels, rate)
		if s == 1 || s%20 == 0 || s == *steps {
			el := time.Since(start).Seconds()
			fmt.Fprintf(stdout, "step %4d  loss %.4f  z %.2e  grad_norm %.3f  lr %.2e  %.0f tokens/s\n",
				s, r.Loss, r.ZLoss, r.GradNorm, rate, float64(s**batch**seq)/el)
		}
	}
	if *out != "" {
		if err := tr.Save(*out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "saved %s\n", *out)
	}
	return nil
}

// checkNewDir refuses an output directory (flagName's) that exists and is not
// empty, before any work: the files written into it would replace and mix
// with what is there (another checkpoint's shards, someone's data). "" is no
// output.
func checkNewDir(flagName, dir string) error {
	if dir == "" {
		return nil
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return inputError{fmt.Errorf("%s %s: %w", flagName, dir, err)}
	case !st.IsDir():
		return inputError{fmt.Errorf("%s %s: a file, not a directory", flagName, dir)}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return inputError{fmt.Errorf("%s %s: %w", flagName, dir, err)}
	}
	if len(entries) > 0 {
		return inputError{fmt.Errorf("%s %s: the directory exists and is not empty (%s…); HINT: give a new or empty directory", flagName, dir, entries[0].Name())}
	}
	return nil
}

// warmupCosine: linear warmup to peak over w steps, then cosine down to
// alphaF·peak at step total (olmo2.md §7's shape).
func warmupCosine(peak float64, step, w, total int, alphaF float64) float64 {
	if step <= w {
		return peak * float64(step) / float64(w)
	}
	p := math.Min(1, float64(step-w)/float64(max(total-w, 1)))
	min := alphaF * peak
	return min + (peak-min)*(1+math.Cos(math.Pi*p))/2
}
