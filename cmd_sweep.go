package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/plural"
	"github.com/olmolab/olmolab/lab/sweep"
	"github.com/olmolab/olmolab/model"
)

const sweepUsage = `usage: olmolab sweep RECIPE (--vary key=v1,v2,... | --seeds N)... [--set key=value]... [--runs DIR] [--name PREFIX]
                     (--local [--parallel K] | --slurm [--parallel K] [--sbatch-opt OPT]... [--submit] [--olmolab PATH])
       olmolab sweep --status DIR [--name PREFIX]`

// runSweep is `olmolab sweep`: many runs of one recipe, on this machine one
// after another (--local) or as a Slurm array (--slurm); --status reads a
// sweep's progress back from its run directories.
func runSweep(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sweep", stdout, stderr)
	fs.Usage = func() { printUsage(fs, sweepUsage) }
	var varies, sets, sbatchOpts stringList
	fs.Var(&varies, "vary", "a recipe key and its values, key=v1,v2,... (repeatable; the sweep is every combination)")
	seeds := fs.Int("seeds", 0, "vary seed over 1..N (noise runs)")
	fs.Var(&sets, "set", "override a recipe value in every run: key.path=value (repeatable)")
	runs := fs.String("runs", "runs", "directory for the sweep's run directories, manifest and script")
	prefix := fs.String("name", "", "run name prefix (default: the recipe's name); run names add the varied values")
	local := fs.Bool("local", false, "run the sweep on this machine")
	parallel := fs.Int("parallel", 0, "runs at once: --local default 1, lowered (with a note) to as many as available memory holds; --slurm default no limit (--array=0-N%K)")
	slurm := fs.Bool("slurm", false, "write a Slurm sbatch array script and the sweep's manifest")
	fs.Var(&sbatchOpts, "sbatch-opt", fmt.Sprintf("an #SBATCH option for the script, e.g. --sbatch-opt=--time=04:00:00 (repeatable); the script sets --requeue and --signal=B:USR1@%d (time limit: checkpoint, then requeue) unless given", int(sweep.SignalLead.Seconds())))
	submit := fs.Bool("submit", false, "with --slurm: submit the script with sbatch")
	binary := fs.String("olmolab", "", "the olmolab binary each run executes (default: this one)")
	status := fs.String("status", "", "print the state of every run of the sweeps in this runs directory")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *status != "" {
		if len(pos) > 0 || *local || *slurm || len(varies) > 0 || *seeds != 0 {
			return usageError{"sweep --status DIR takes no recipe and no other mode; " + sweepUsage}
		}
		return sweepStatus(*status, *prefix, stdout)
	}
	switch {
	case len(pos) == 0:
		return usageError{"sweep needs a recipe: a YAML file or a shipped name\n" + sweepUsage}
	case len(pos) > 1:
		return usageError{fmt.Sprintf("sweep: unexpected argument %q (one recipe per sweep)", pos[1])}
	case *local == *slurm:
		return usageError{"sweep: give --local (run here) or --slurm (write an sbatch array script)"}
	case *submit && !*slurm, len(sbatchOpts) > 0 && !*slurm:
		return usageError{"sweep: --submit and --sbatch-opt go with --slurm"}
	case *parallel < 0:
		return usageError{"sweep: --parallel K wants K ≥ 1"}
	case *seeds < 0:
		return usageError{"sweep: --seeds N wants N ≥ 1"}
	case *seeds > sweep.MaxRuns:
		return usageError{fmt.Sprintf("sweep: --seeds %d: a sweep has at most %d runs (Slurm's largest array)", *seeds, sweep.MaxRuns)}
	}
	for _, o := range sbatchOpts {
		if err := sweep.CheckSbatchOpt(o); err != nil {
			return usageError{err.Error()}
		}
	}
	var axes []sweep.Axis
	for _, v := range varies {
		a, err := sweep.ParseAxis(v)
		if err != nil {
			return usageError{err.Error()}
		}
		axes = append(axes, a)
	}
	if *seeds > 0 {
		axes = append(axes, sweep.SeedAxis(*seeds))
	}
	var evalCheck lab.EvalTaskCheck
	m, needs, data, err := planSweep(pos[0], axes, sets, *runs, *prefix, *binary, *slurm, &evalCheck)
	if err != nil {
		return err
	}
	if *slurm {
		if evalCheck.UsedData {
			// the tasks read theirs where they run, which this check cannot see
			fmt.Fprintf(stderr, "sweep: the runs' OLMES data (eval.tasks) was checked in %s; each Slurm task reads $OLMOLAB_OLMES_DATA on its own node (the sbatch environment passes this one on unless --sbatch-opt=--export says otherwise), where that directory must hold the same data\n",
				evalCheck.Where())
		}
		return writeSlurm(m, data, sweep.SlurmOptions{Parallel: *parallel, Extra: sbatchOpts}, *submit, stdout, stderr)
	}
	k, err := localParallel(m, needs, max(*parallel, 1), memAvailable(), stderr)
	if err != nil {
		return err
	}
	return runLocal(m, data, k, stdout, stderr)
}

// memAvailable is the host memory a local sweep's runs share; tests replace it.
var memAvailable = lab.MemAvailable

// localParallel is how many runs a local sweep trains at once: k, or fewer
// when k runs together would need more memory than is available. Each run
// checks its own need when it starts, but k runs that start together all see
// the same free memory, so the sweep checks them as a group: the k largest
// needs among the runs it will train. Lowering K rather than refusing keeps
// the sweep going (it only takes longer); a run that does not fit even alone
// is refused before anything is written, as that run itself would refuse.
func localParallel(m *sweep.Manifest, needs []int64, k int, avail int64, stderr io.Writer) (int, error) {
	budget := lab.MemoryBudget(avail)
	if budget <= 0 {
		return k, nil // unknown (no /proc/meminfo): each run still checks its own
	}
	var todo []int64
	for i, r := range m.Runs {
		switch sweep.ReadStatus(m.RunDir(r)).State {
		case sweep.Finished, sweep.Diverged, sweep.Running: // skipped: they take nothing here
			continue
		}
		if needs[i] > budget {
			return 0, inputError{fmt.Errorf("run %s of %s needs about %s of memory (model, optimizer and activations at its rank_microbatch_size), but only %s is available; HINT: lower rank_microbatch_size (gradient accumulation keeps the global batch) or pick a smaller model",
				r.Name, m.Recipe, gibString(needs[i]), gibString(avail))}
		}
		todo = append(todo, needs[i])
	}
	fit := fitParallel(todo, k, budget)
	if fit < min(k, len(todo)) {
		slices.Sort(todo)
		per := gibString(todo[len(todo)-1]) + " per run"
		if todo[0] != todo[len(todo)-1] {
			per = "up to " + per
		}
		fmt.Fprintf(stderr, "sweep: --parallel %d: %s at once would need more memory than is available (about %s; %s available, of which runs may use 90%%); running %d at a time instead\n",
			k, plural.N(min(k, len(todo)), "run"), per, gibString(avail), fit)
	}
	return fit, nil
}

// fitParallel is the most runs, at most k, whose memory needs fit in budget
// together, counting the largest needs first, so that any that many runs of
// them fit at once. It is at least 1.
func fitParallel(needs []int64, k int, budget int64) int {
	sorted := slices.Clone(needs)
	slices.Sort(sorted)
	slices.Reverse(sorted)
	n, sum := 0, int64(0)
	for _, need := range sorted {
		if n == k || sum+need > budget {
			break
		}
		n, sum = n+1, sum+need
	}
	return max(n, 1)
}

// gibString writes a byte count in GiB, or MiB below one GiB.
func gibString(b int64) string {
	if b < 1<<30 {
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
}

// parseInterleaved parses flags before, between and after positional
// arguments (sweep RECIPE --seeds 3 --local, sweep --seeds 3 RECIPE --local,
// tokenize --tokenizer world a.jsonl --out DIR) and returns the positional
// ones in order. Everything after "--" is positional. The flag package alone
// stops at the first positional argument, so a flag after one was taken for
// another positional argument: an input file named "--out", a run "--json".
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, flagError(fs, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// unsafeNameChars are replaced in a prefix made from the recipe's name. (A
// varied key the lab does not know needs no check here: --set on an unknown
// key is bad input to the recipe parser itself.)
var unsafeNameChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// writePlanData says what the planned runs train on: each run's dataset as
// the normalised shares the loader serves (a sweep of one source's
// target_ratio renormalises the others too), then its mix_schedule. Runs
// that train alike share one line.
func writePlanData(w io.Writer, m *sweep.Manifest, data []string) {
	if len(data) == 0 {
		return
	}
	if !slices.ContainsFunc(data, func(d string) bool { return d != data[0] }) {
		fmt.Fprintf(w, "  data      %s (every run)\n", data[0])
		return
	}
	fmt.Fprintf(w, "  data (each run's mixes, their ratios normalised as it trains on them):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, r := range m.Runs {
		fmt.Fprintf(tw, "    %s\t%s\n", r.Name, data[i])
	}
	tw.Flush()
}

// runData is what a run of rec trains on, for the sweep's plan.
func runData(rec *lab.Recipe) string {
	s := lab.MixShares(rec.Dataset)
	if rec.DatasetMix != "" { // dataset.sources named a mix
		s = rec.DatasetMix + " (" + s + ")"
	}
	for _, sw := range rec.MixSchedule {
		s += fmt.Sprintf("; from %s tokens %s: %s", lab.HumanCount(sw.AtTokens), sw.Mix, lab.MixShares(rec.NamedMixSources(sw.Mix)))
	}
	if a := rec.Anneal; a.AutoAt > 0 && a.AutoAt < rec.MaxTokens && len(a.Mix) > 0 {
		s += fmt.Sprintf("; anneal from %s tokens: %s", lab.HumanCount(a.AutoAt), lab.MixShares(a.Mix))
	}
	return s
}

// planSweep expands the axes and parses every run's recipe with its overrides
// applied, before anything is written: a bad value, an unknown key, a run
// directory that holds another recipe, or one (or a file) that holds someone
// else's files names the run and the field or directory, exit 2.
// For a local sweep it also returns each run's host memory need
// (lab.MemoryNeed); a Slurm task's node is not this machine. data says what
// each run trains on (runData), for the plan.
func planSweep(recipeArg string, axes []sweep.Axis, sets []string, runsDir, prefix, binary string, slurm bool, evalCheck *lab.EvalTaskCheck) (*sweep.Manifest, []int64, []string, error) {
	base, err := loadRecipe(recipeArg, sets)
	if err != nil {
		return nil, nil, nil, err
	}
	if prefix == "" {
		prefix = strings.Trim(unsafeNameChars.ReplaceAllString(base.Name, "_"), "_")
		if prefix == "" {
			prefix = "sweep"
		}
	}
	if !sweep.SafeName(prefix) {
		return nil, nil, nil, usageError{fmt.Sprintf("sweep --name %q: a prefix may hold letters, digits, '.', '_' and '-'", prefix)}
	}
	for _, a := range axes {
		for _, s := range sets {
			if k, _, _ := strings.Cut(s, "="); k == a.Key {
				return nil, nil, nil, usageError{fmt.Sprintf("sweep: %s is both set (--set %s) and varied", a.Key, s)}
			}
		}
	}
	planned, err := sweep.Expand(prefix, axes)
	if err != nil {
		return nil, nil, nil, usageError{"sweep: " + err.Error()}
	}
	m := &sweep.Manifest{Prefix: prefix, Recipe: recipeArg, Set: sets, Vary: axes, Runs: planned, Created: time.Now().UTC().Truncate(time.Second)}
	if _, err := os.Stat(recipeArg); err == nil {
		if m.Recipe, err = filepath.Abs(recipeArg); err != nil {
			return nil, nil, nil, err
		}
	}
	if m.RunsDir, err = filepath.Abs(runsDir); err != nil {
		return nil, nil, nil, err
	}
	// a file, or a path under one: said once, as --runs, not as each run's
	// "stat RUNS/NAME: not a directory"
	if err := checkRunsDir(runsDir); err != nil {
		return nil, nil, nil, err
	}
	if m.WorkDir, err = os.Getwd(); err != nil {
		return nil, nil, nil, err
	}
	self := binary == ""
	if m.Olmolab, err = olmolabBinary(binary, slurm); err != nil {
		return nil, nil, nil, err
	}
	var needs []int64
	var data []string         // what each run trains on
	var mixes, shown []string // each run's mixes normalised (mixKey), and its dataset's shares
	// each run's OLMES data and splits, as its start checks them: a run
	// refused for them would otherwise fail only when its turn came (or its
	// Slurm job started), after others had trained
	for _, r := range planned {
		what := fmt.Sprintf("run %s (%s)", r.Name, strings.Join(r.Overrides, " "))
		rec, err := loadRecipe(recipeArg, m.Overrides(r))
		if err != nil {
			return nil, nil, nil, inputError{fmt.Errorf("%s: %w", what, err)}
		}
		// the backend the run trains on: a run of the sweep with a
		// checkpoint resumes on the one it was last written on, as
		// --batch --resume does (a run moved with --resume --backend stays)
		backend, backendOf := rec.Backend, ""
		if _, err := os.Stat(filepath.Join(m.RunDir(r), lab.RecipeFile)); err == nil {
			backend, backendOf = lab.ResumeBackend(m.RunDir(r), rec.Backend)
		}
		if self && !slices.Contains(model.BackendNames(), backend) {
			if backendOf != "" {
				return nil, nil, nil, inputError{fmt.Errorf("%s: backend %q (%s) is not in this build of olmolab (it has %s); HINT: move the run to one of those with olmolab --batch --resume %s --backend NAME, or build one that has it (scripts/setup-cuda.sh for cuda) and pass it with --olmolab PATH",
					what, backend, backendOf, strings.Join(model.BackendNames(), ", "), m.RunDir(r))}
			}
			return nil, nil, nil, inputError{fmt.Errorf("%s: backend %q is not in this build of olmolab (it has %s); HINT: build one that has it (scripts/setup-cuda.sh for cuda) and pass it with --olmolab PATH",
				what, backend, strings.Join(model.BackendNames(), ", "))}
		}
		if err := evalCheck.Check(rec); err != nil {
			if slurm && evalCheck.UsedData {
				// a Slurm task runs elsewhere: say whose data this was
				err = fmt.Errorf("%w\n(checked in %s: a Slurm task reads $OLMOLAB_OLMES_DATA on its node)", err, evalCheck.Where())
			}
			return nil, nil, nil, inputError{fmt.Errorf("%s: %w", what, err)}
		}
		if !slurm {
			on := *rec // its host memory on the backend it trains on
			on.Backend = backend
			need, err := lab.MemoryNeed(&on)
			if err != nil {
				return nil, nil, nil, inputError{fmt.Errorf("%s: %w", what, err)}
			}
			needs = append(needs, need)
		}
		data = append(data, runData(rec))
		mixes, shown = append(mixes, mixKey(rec)), append(shown, lab.MixShares(rec.Dataset))
		old, err := os.ReadFile(filepath.Join(m.RunDir(r), lab.RecipeFile))
		switch {
		case err == nil && !sameRecipe(old, rec):
			return nil, nil, nil, inputError{fmt.Errorf("%s: %s exists and was started from a different recipe; HINT: choose another --name or --runs, or move that run away",
				what, m.RunDir(r))}
		case err != nil:
			// not a run of this sweep: its start would refuse a directory of
			// someone's files (or a file) after earlier runs had trained
			if err := lab.CheckNewRunDir(m.RunDir(r)); err != nil {
				return nil, nil, nil, inputError{fmt.Errorf("%s: %w", what, err)}
			}
		}
	}
	if err := sweep.SameMixRuns(planned, mixes, shown); err != nil {
		return nil, nil, nil, inputError{err}
	}
	if err := checkSameSweep(m); err != nil {
		return nil, nil, nil, err
	}
	return m, needs, data, nil
}

// mixKey is every mix of rec (its dataset, anneal, soup and named mixes)
// with its ratios normalised to 9 significant digits: two runs with the same
// key train on the same data, whatever numbers their ratios were given as.
func mixKey(rec *lab.Recipe) string {
	var b strings.Builder
	add := func(what string, mix []data.SourceSpec) {
		var sum float64
		for _, s := range mix {
			sum += s.TargetRatio
		}
		b.WriteString(what + ":")
		for _, s := range mix {
			fmt.Fprintf(&b, "%s=%.9g,", s.Name, s.TargetRatio/sum)
		}
		b.WriteString(";")
	}
	add("dataset", rec.Dataset)
	add("anneal", rec.Anneal.Mix)
	add("soup", rec.Soup.Mix)
	for _, m := range rec.Mixes {
		add("mixes."+m.Name, m.Sources)
	}
	return b.String()
}

// checkSameSweep refuses to replace the manifest of another sweep under the
// same prefix (a sweep with other --vary values or --set, or of another
// recipe): sweep --status reads the runs from the manifest, so the earlier
// sweep's runs would drop out of it without a word. The same sweep again (to
// continue it) or one that adds runs to it (more seeds) keeps every run of the
// old manifest and passes.
// sameRecipe reports whether a run directory's recipe.yaml (old) is rec as
// its start records it: with relative paths made absolute here, where the
// sweep's runs start. A run of an olmolab that recorded them as written
// compares resolved the same way.
func sameRecipe(old []byte, rec *lab.Recipe) bool {
	abs, err := rec.AbsPaths()
	if err != nil {
		return false
	}
	if bytes.Equal(old, abs.YAML()) {
		return true
	}
	o, err := lab.ParseRecipe(rec.Path, old, nil)
	if err != nil {
		return false
	}
	if o, err = o.AbsPaths(); err != nil {
		return false
	}
	return bytes.Equal(o.YAML(), abs.YAML())
}

func checkSameSweep(m *sweep.Manifest) error {
	path := sweep.ManifestPath(m.RunsDir, m.Prefix)
	old, err := sweep.ReadManifest(path)
	if err != nil {
		return nil // none, or not one we can read: nothing to lose
	}
	planned := map[string]string{}
	for _, r := range m.Runs {
		planned[r.Name] = strings.Join(r.Overrides, " ")
	}
	var lost []string
	for _, r := range old.Runs {
		if o, ok := planned[r.Name]; !ok || o != strings.Join(r.Overrides, " ") {
			lost = append(lost, r.Name)
		}
	}
	why := ""
	switch {
	case old.Recipe != m.Recipe:
		why = fmt.Sprintf("of recipe %s, not %s", old.Recipe, m.Recipe)
	case !slices.Equal(old.Set, m.Set):
		sets := func(s []string) string {
			if len(s) == 0 {
				return "no --set"
			}
			return "--set " + strings.Join(s, " --set ")
		}
		why = fmt.Sprintf("with %s, not %s", sets(old.Set), sets(m.Set))
	case len(lost) > 0:
		why = fmt.Sprintf("whose runs %s this sweep does not have", strings.Join(lost, ", "))
	default:
		return nil
	}
	return inputError{fmt.Errorf("%s holds another sweep %s (%s) %s: its manifest would be replaced and its runs would drop out of sweep --status; HINT: give this sweep its own prefix with --name, or another --runs",
		path, old.Prefix, plural.N(len(old.Runs), "run"), why)}
}

// checkRunsDir refuses a --runs that is not a directory and cannot be made
// one: a file, or a path under a file.
func checkRunsDir(dir string) error {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				what := "a file"
				if d != filepath.Clean(dir) {
					what = "under a file, " + d
				}
				return inputError{fmt.Errorf("--runs %s: not a directory (%s); HINT: --runs names the directory that holds run directories (made if missing)", dir, what)}
			}
			return nil
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// olmolabBinary resolves the binary every run executes, absolute. A Slurm
// task runs later, elsewhere: `go run`'s temporary build is gone by then.
func olmolabBinary(flagPath string, slurm bool) (string, error) {
	if flagPath != "" {
		p, err := filepath.Abs(flagPath)
		if err != nil {
			return "", err
		}
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", inputError{fmt.Errorf("sweep --olmolab %s: not an executable file", flagPath)}
		}
		return p, nil
	}
	p, err := os.Executable()
	if err != nil {
		return "", err
	}
	if q, err := filepath.EvalSymlinks(p); err == nil {
		p = q
	}
	if slurm && strings.Contains(p, string(filepath.Separator)+"go-build") {
		return "", inputError{fmt.Errorf("sweep --slurm: this olmolab is go run's temporary build (%s), deleted when it exits, so Slurm tasks could not run it; HINT: go build -o olmolab . && ./olmolab sweep ..., or pass --olmolab PATH", p)}
	}
	return p, nil
}

// writeSlurm writes the manifest and the sbatch script into the runs
// directory (each atomically) and prints how to submit, or submits.
func writeSlurm(m *sweep.Manifest, data []string, o sweep.SlurmOptions, submit bool, stdout, stderr io.Writer) error {
	if err := os.MkdirAll(sweep.LogDir(m.RunsDir, m.Prefix), 0o755); err != nil { // Slurm does not create --output's directory
		return err
	}
	if err := sweep.WriteFile(sweep.ManifestPath(m.RunsDir, m.Prefix), m.Marshal(), 0o644); err != nil {
		return err
	}
	script := sweep.ScriptPath(m.RunsDir, m.Prefix)
	if err := sweep.WriteFile(script, m.Script(o), 0o755); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sweep %s: %s of %s\n", m.Prefix, plural.N(len(m.Runs), "run"), m.Recipe)
	writePlanData(stdout, m, data)
	fmt.Fprintf(stdout, "  manifest  %s\n  script    %s\n  logs      %s/\n", sweep.ManifestPath(m.RunsDir, m.Prefix), script, sweep.LogDir(m.RunsDir, m.Prefix))
	if len(m.Runs) > 1001 {
		fmt.Fprintf(stderr, "note: %d array tasks; Slurm's default MaxArraySize (1001) refuses more (scontrol show config | grep MaxArraySize)\n", len(m.Runs))
	}
	if !submit {
		fmt.Fprintf(stdout, "submit with:\n  sbatch %s\nthen follow it with:\n  %s sweep --status %s\n", script, m.Olmolab, m.RunsDir)
		return nil
	}
	sb, err := exec.LookPath("sbatch")
	if err != nil {
		return fmt.Errorf("sweep --submit: sbatch is not on PATH (%v); the script is written: submit it from a Slurm login node with: sbatch %s", err, script)
	}
	cmd := exec.Command(sb, script)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("sweep --submit: %s %s: %w", sb, script, err)
	}
	return nil
}

// localResult is one run of a local sweep.
type localResult struct {
	run    sweep.Run
	action string // started, resumed, skipped or busy, with ", exit N" when the run failed
	status sweep.Status
	exit   int
	err    string // the run's error line (olmolab: …) when it exited non-zero
}

// runLocal runs the sweep here: each run is `olmolab --batch` (the command a
// Slurm task runs), k at a time. Finished runs are skipped, runs with a
// checkpoint resume. The exit status is 0 only when every run has finished.
func runLocal(m *sweep.Manifest, data []string, k int, stdout, stderr io.Writer) error {
	logDir := sweep.LogDir(m.RunsDir, m.Prefix)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	if err := sweep.WriteFile(sweep.ManifestPath(m.RunsDir, m.Prefix), m.Marshal(), 0o644); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := &lineWriter{w: stderr}
	out.printf("sweep %s: %s of %s in %s, %d at a time\n", m.Prefix, plural.N(len(m.Runs), "run"), m.Recipe, m.RunsDir, k)
	var plan bytes.Buffer
	writePlanData(&plan, m, data)
	out.printf("%s", plan.String())
	results := make([]localResult, len(m.Runs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = runOneLocal(ctx, m, m.Runs[i], logDir, out)
			}
		}()
	}
	for i := range m.Runs {
		if ctx.Err() != nil {
			results[i] = localResult{run: m.Runs[i], action: "not started", status: sweep.ReadStatus(m.RunDir(m.Runs[i]))}
			continue
		}
		select {
		case next <- i:
		case <-ctx.Done():
			results[i] = localResult{run: m.Runs[i], action: "not started", status: sweep.ReadStatus(m.RunDir(m.Runs[i]))}
		}
	}
	close(next)
	wg.Wait()
	rows := make([]statusRow, len(results))
	var unfinished []string
	for i, r := range results {
		rows[i] = statusRow{name: r.run.Name, action: r.action, st: r.status, err: r.err}
		if r.status.State != sweep.Finished {
			unfinished = append(unfinished, fmt.Sprintf("%s (%s)", r.run.Name, r.status.State))
		}
	}
	fmt.Fprintln(stdout)
	writeStatusTable(stdout, rows, true)
	switch {
	case ctx.Err() != nil:
		return codedError{exitInterrupted, fmt.Errorf("sweep %s interrupted; run the same command again to continue (runs resume from their checkpoints)", m.Prefix)}
	case len(unfinished) > 0:
		return fmt.Errorf("sweep %s: %d of %s did not finish: %s; HINT: the logs are in %s/",
			m.Prefix, len(unfinished), plural.N(len(m.Runs), "run"), strings.Join(unfinished, ", "), logDir)
	}
	return nil
}

// runOneLocal decides what run r needs (nothing, a resume, a start) and
// executes it as an `olmolab --batch` process, its progress lines prefixed
// with the run's name on stderr and kept in LOGDIR/NAME.log.
func runOneLocal(ctx context.Context, m *sweep.Manifest, r sweep.Run, logDir string, out *lineWriter) localResult {
	dir := m.RunDir(r)
	st := sweep.ReadStatus(dir)
	res := localResult{run: r, status: st}
	tag := "[" + r.Name + "] "
	var args []string
	switch {
	case st.State == sweep.Finished:
		res.action = "skipped"
		out.printf("%sfinished already; skipped\n", tag)
		return res
	case st.State == sweep.Running:
		res.action = "busy"
		out.printf("%sbeing trained by pid %d on %s; skipped\n", tag, st.Lock.PID, st.Lock.Host)
		return res
	case st.Recording != nil:
		res.action = "busy"
		out.printf("%sbeing scored by olmolab eval --record (pid %d on %s), which a resume would undo; skipped: run the sweep again once it has recorded\n", tag, st.Recording.PID, st.Recording.Host)
		return res
	case st.State == sweep.Diverged:
		res.action = "skipped"
		out.printf("%sdiverged; not retried (a resume replays the same steps)\n", tag)
		return res
	case st.Checkpoint != "":
		res.action = "resumed"
		args = m.ResumeArgs(r)
		out.printf("%sresuming from %s\n", tag, st.Checkpoint)
	default:
		res.action = "started"
		if st.State != sweep.Pending {
			if err := sweep.ClearPartial(dir); err != nil {
				res.action = "failed"
				out.printf("%s%v\n", tag, err)
				return res
			}
		}
		args = m.StartArgs(r)
		out.printf("%sstarting\n", tag)
	}
	logf, err := os.OpenFile(filepath.Join(logDir, r.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		res.action = "failed"
		out.printf("%s%v\n", tag, err)
		return res
	}
	defer logf.Close()
	fmt.Fprintf(logf, "== %s %s %s\n", time.Now().Format(time.DateTime), m.Olmolab, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, m.Olmolab, args...)
	cmd.Dir = m.WorkDir
	// a stop reaches the run as Ctrl-C does: it writes a checkpoint, then
	// exits. Once: the run is in a process group of its own, which a
	// terminal's Ctrl-C (sent to the sweep's group) does not reach, since a
	// second Ctrl-C makes a run quit at once, without its checkpoint.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stderr = pw // stdout's JSONL repeats metrics.jsonl and events.jsonl: dropped
	copied := make(chan struct{})
	var lastErr string // read after copied is closed
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			out.printf("%s%s\n", tag, sc.Text())
			if e, ok := strings.CutPrefix(sc.Text(), "olmolab: "); ok {
				lastErr = e
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err = cmd.Run()
	pw.Close()
	<-copied
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.exit = ee.ExitCode()
		res.action += fmt.Sprintf(", exit %d", res.exit)
		res.err = lastErr
	case err != nil:
		res.exit = -1
		res.action = "failed"
		out.printf("%s%v\n", tag, err)
	}
	res.status = sweep.ReadStatus(dir)
	return res
}

// lineWriter serialises whole lines from concurrent runs onto one writer.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

// sweepStatus is `olmolab sweep --status DIR`: each sweep's runs and their
// state, read from the run directories (no scheduler is asked).
func sweepStatus(runsDir, prefix string, stdout io.Writer) error {
	const hint = "HINT: give the runs directory the sweep was made with (its --runs, default runs)"
	if st, err := os.Stat(runsDir); errors.Is(err, os.ErrNotExist) {
		return inputError{fmt.Errorf("sweep --status %s: no such directory; %s", runsDir, hint)}
	} else if err == nil && !st.IsDir() {
		return inputError{fmt.Errorf("sweep --status %s: a file, not a directory; %s", runsDir, hint)}
	}
	var paths []string
	if prefix != "" {
		p := sweep.ManifestPath(runsDir, prefix)
		if _, err := os.Stat(p); err != nil {
			return inputError{fmt.Errorf("%s: no sweep named %s here (no %s)", runsDir, prefix, filepath.Base(p))}
		}
		paths = []string{p}
	} else {
		var err error
		if paths, err = sweep.FindManifests(runsDir); err != nil {
			// sweeps one level down: their --runs' parent was given
			// (runs/ for the README's runs/noise/)
			var dirs []string
			sub, _ := filepath.Glob(filepath.Join(runsDir, "*", "*.sweep.json"))
			for _, p := range sub {
				if d := filepath.Dir(p); !slices.Contains(dirs, d) {
					dirs = append(dirs, d)
				}
			}
			switch len(dirs) {
			case 0:
				return inputError{fmt.Errorf("%w; %s", err, hint)}
			case 1:
				return inputError{fmt.Errorf("%w; HINT: a sweep is in %s: give that directory (the sweep's --runs)", err, dirs[0])}
			}
			return inputError{fmt.Errorf("%w; HINT: sweeps are in %s: give one of those directories (a sweep's --runs)", err, strings.Join(dirs, ", "))}
		}
	}
	for i, p := range paths {
		m, err := sweep.ReadManifest(p)
		if err != nil {
			return inputError{err}
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		rows := make([]statusRow, len(m.Runs))
		count := map[sweep.State]int{}
		for j, r := range m.Runs {
			// the run directory beside the manifest: the runs directory may be mounted elsewhere here
			rows[j] = statusRow{name: r.Name, st: sweep.ReadStatus(filepath.Join(filepath.Dir(p), r.Name))}
			if rows[j].st.State == sweep.Pending {
				// refused at its start (no run directory): its log says why
				if e := lastAttemptError(sweep.LogDir(filepath.Dir(p), m.Prefix), j, r.Name); e != "" {
					rows[j].err = "last attempt: " + e
				}
			}
			count[rows[j].st.State]++
		}
		var parts []string
		for _, s := range []sweep.State{sweep.Finished, sweep.Running, sweep.Interrupted, sweep.Failed, sweep.Diverged, sweep.Pending} {
			if count[s] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", count[s], s))
			}
		}
		fmt.Fprintf(stdout, "sweep %s: %s of %s (%s)\n", m.Prefix, plural.N(len(m.Runs), "run"), m.Recipe, strings.Join(parts, ", "))
		writeStatusTable(stdout, rows, false)
	}
	return nil
}

// lastAttemptError is the error line ("olmolab: …", without the prefix) of
// the last attempt at run i, name, of a sweep, from its log in logDir:
// --local's NAME.log, else the newest of Slurm's JOB_i.out; "" when that
// attempt printed none. An attempt starts at a line that --local ("== ") or
// the sbatch script ("olmolab sweep ") writes.
func lastAttemptError(logDir string, i int, name string) string {
	path := filepath.Join(logDir, name+".log")
	if _, err := os.Stat(path); err != nil {
		outs, _ := filepath.Glob(filepath.Join(logDir, fmt.Sprintf("*_%d.out", i)))
		var newest time.Time
		path = ""
		for _, o := range outs {
			if fi, err := os.Stat(o); err == nil && !fi.ModTime().Before(newest) {
				path, newest = o, fi.ModTime()
			}
		}
	}
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var last string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "== ") || strings.HasPrefix(l, "olmolab sweep ") {
			last = ""
		} else if e, ok := strings.CutPrefix(l, "olmolab: "); ok {
			last = e
		}
	}
	return last
}

type statusRow struct {
	name, action string
	st           sweep.Status
	err          string // why the run's process failed (--local), its note
}

// writeStatusTable prints a row per run: state, progress, loss (the summary's
// final loss, else the last step's), tokens/s and a note.
func writeStatusTable(w io.Writer, rows []statusRow, withAction bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "run\tstate\tsteps\ttokens\tloss\ttokens/s\tnote"
	if withAction {
		head = "run\taction\tstate\tsteps\ttokens\tloss\ttokens/s\tnote"
	}
	fmt.Fprintln(tw, head)
	for _, r := range rows {
		st := r.st
		steps, tokens, loss, speed := "-", "-", "-", "-"
		if s := st.Summary; s != nil && st.State != sweep.Running {
			steps, tokens = fmt.Sprint(s.Steps), lab.HumanCount(s.Tokens)
			if s.FinalLoss > 0 {
				loss = fmt.Sprintf("%.4f", s.FinalLoss)
			}
			if s.TokensPerSec > 0 {
				speed = lab.HumanCount(int64(s.TokensPerSec))
			}
		} else if e := st.Last; e != nil {
			steps, tokens, loss = fmt.Sprint(e.Step), lab.HumanCount(e.Tokens), fmt.Sprintf("%.4f", e.Loss)
			if e.TotalTokens > 0 {
				tokens += fmt.Sprintf("/%s (%.0f%%)", lab.HumanCount(e.TotalTokens), 100*float64(e.Tokens)/float64(e.TotalTokens))
			}
			if e.TokensPerSec > 0 {
				speed = lab.HumanCount(int64(e.TokensPerSec))
			}
		}
		var note string
		switch st.State {
		case sweep.Running:
			note = fmt.Sprintf("pid %d on %s", st.Lock.PID, st.Lock.Host)
		case sweep.Interrupted, sweep.Failed:
			if st.Checkpoint != "" {
				note = "resumes from " + filepath.Base(st.Checkpoint)
			} else {
				note = "no checkpoint: starts over"
			}
		}
		if l := st.Recording; l != nil {
			rec := fmt.Sprintf("recording: olmolab eval --record, pid %d on %s", l.PID, l.Host)
			if note != "" {
				rec += "; " + note
			}
			note = rec
		}
		if r.err != "" {
			// a run refused at its start has no directory, so its state reads
			// pending: the note says why it did not train
			note = r.err
		}
		if withAction {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.action, st.State, steps, tokens, loss, speed, note)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, st.State, steps, tokens, loss, speed, note)
		}
	}
	tw.Flush()
}
