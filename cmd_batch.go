package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/model"
	"github.com/olmolab/olmolab/model/tempfile"
)

// stringList is a repeatable string flag (--set a=b --set c=d).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runNameRE is what --name may hold: one directory name under --runs.
var runNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// runBatch is `olmolab --batch RECIPE` and `olmolab --batch --resume RUNDIR`.
func runBatch(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("--batch", stdout, stderr)
	var sets stringList
	fs.Var(&sets, "set", "override a recipe value: key.path=value (repeatable)")
	resume := fs.String("resume", "", "continue the run in this directory from its latest checkpoint (with --from, fork it from an earlier one)")
	from := fs.String("from", "", "with --resume: fork the run from its checkpoint step-N (N or step-N) into a new run directory (--name, default RUN-from-N, beside it or under --runs) and train that; the run itself is left as it is")
	skipSteps := fs.Int64("skip-steps", 0, "with --from: leave out the K batches the run trained after step-N (those around a spike): the fork starts at step N+K and trains on the run's batches from there")
	skipTokensArg := fs.String("skip-tokens", "", "with --from: --skip-steps in tokens (e.g. 40960 or 40K), rounded up to whole steps")
	runs := fs.String("runs", "runs", "directory for run directories")
	name := fs.String("name", "", "run directory name (default: recipe name and time)")
	waitRecord := fs.Duration("wait-record", 0, "with --resume: while olmolab eval --record scores the run, wait up to this long (e.g. 2h) for it to record, then resume; 0: refuse at once (exit 2). A sweep's Slurm tasks wait $OLMOLAB_RECORD_WAIT (default 2h)")
	backend := fs.String("backend", "", "engine to train on: with a recipe, its backend key; with --resume, the engine the run continues on (default: the one its latest checkpoint was written on): "+strings.Join(model.BackendNames(), ", "))
	// the recipe may come before, between or after the flags
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	var recipeArg string
	if len(pos) > 0 {
		recipeArg = pos[0]
	}
	if len(pos) > 1 {
		return usageError{fmt.Sprintf("--batch: unexpected argument %q", pos[1])}
	}
	var skipTokens int64
	if *skipTokensArg != "" {
		n, ok := lab.ParseCount(*skipTokensArg)
		if !ok {
			return usageError{fmt.Sprintf("--batch --skip-tokens %s: want a token count (e.g. 40960 or 40K)", *skipTokensArg)}
		}
		skipTokens = n
	}
	p := lab.RunParams{RunsDir: *runs, Name: *name, Evaluator: newEvaluator(),
		Progress: func(s string) { fmt.Fprintln(stderr, s) }}
	forked := ""       // the fork --from made, removed if it does not start
	var given []string // flags that go with a recipe, not with --resume
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "set" || (*from == "" && (f.Name == "name" || f.Name == "runs")) {
			given = append(given, "--"+f.Name)
		}
	})
	switch {
	case *from != "" && *resume == "":
		return usageError{"--batch --from: it forks a run: give --resume RUNDIR too"}
	case (*skipSteps != 0 || skipTokens != 0) && *from == "":
		return usageError{"--batch: --skip-steps and --skip-tokens go with --resume RUNDIR --from step-N (a fork)"}
	case *resume != "" && recipeArg != "":
		return usageError{"--batch: give a recipe or --resume RUNDIR, not both"}
	case *resume != "" && len(given) > 0:
		msg := fmt.Sprintf("--batch --resume: %s would be ignored: a resumed run keeps its directory and its recipe.yaml (--backend moves it to another engine)", strings.Join(given, ", "))
		if slices.Contains(given, "--set") {
			msg += "; HINT: to train on from the run's latest checkpoint with other settings (more tokens, another mix), start a new run whose recipe has load_path: " + *resume
		}
		return usageError{msg}
	case *waitRecord != 0 && *resume == "":
		return usageError{"--batch: --wait-record goes with --resume RUNDIR (a new run has no record to wait for)"}
	case *waitRecord < 0:
		return usageError{fmt.Sprintf("--batch --wait-record %v: want a duration of at least 0 (e.g. 2h)", *waitRecord)}
	case *resume != "" && *from != "":
		if *backend != "" && !slices.Contains(model.BackendNames(), *backend) {
			return inputError{fmt.Errorf("--batch --backend %s: not in this build of olmolab (available: %s); nothing forked", *backend, strings.Join(model.BackendNames(), ", "))}
		}
		dir, err := forkRun(*resume, *from, *skipSteps, skipTokens, *runs, *name, flagGiven(fs, "runs"), stderr)
		if err != nil {
			return err
		}
		p.ResumeDir, p.Backend = dir, *backend
		// a fork StartRun refuses (memory, a GPU that refuses the model)
		// is no run: nothing is left of it
		forked = dir
	case *resume != "":
		p.ResumeDir, p.Backend = *resume, *backend
	case *name != "" && (!runNameRE.MatchString(*name) || *name == "." || *name == ".."):
		return usageError{fmt.Sprintf("--batch --name %q: a run name is one directory name (letters, digits, '.', '_' and '-'); --runs picks the parent directory", *name)}
	case recipeArg == "":
		return usageError{"--batch needs a recipe: a YAML file or a shipped name (" + shippedNames() + ")"}
	default:
		if *backend != "" {
			sets = append(sets, "backend="+*backend)
		}
		rec, err := loadRecipe(recipeArg, sets)
		if err != nil {
			return err
		}
		p.Recipe = rec
	}
	if p.ResumeDir != "" && *waitRecord > 0 {
		if err := waitForRecord(p.ResumeDir, *waitRecord, stderr); err != nil {
			return err
		}
	}
	ctx, stop, runDir := interruptContext(stderr)
	defer stop()
	if p.ResumeDir != "" {
		runDir.Store(&p.ResumeDir)
	}
	r, err := lab.StartRun(ctx, p)
	if err == nil {
		runDir.Store(&r.Dir)
	}
	if errors.Is(err, lab.ErrFinished) {
		// A requeued job, or a second look: say so, show how it ended, succeed.
		fmt.Fprintln(stderr, err)
		if s, ok := lab.ReadSummary(p.ResumeDir); ok {
			lab.PrintSummary(stderr, s)
		}
		return nil
	}
	if err != nil {
		if forked != "" {
			os.RemoveAll(forked)
			fmt.Fprintf(stderr, "the fork did not start: %s removed\n", forked)
		}
		return mapLabError(err)
	}
	fmt.Fprintf(stderr, "run %s → %s\n", r.Name, r.Dir)
	events := stdout
	if isTerminal(stdout) {
		// A line of JSON per step, hundreds of characters each, would bury
		// the progress line (and break its redraw); the run directory
		// holds the same lines, and a pipe or file still gets them.
		fmt.Fprintf(stderr, "stdout is a terminal: the JSONL events go only to the run directory (%s: steps, %s: the rest); redirect stdout (> FILE, | jq) for the stream\n",
			lab.MetricsFile, lab.EventsFile)
		events = io.Discard
	}
	setMemoryLimit(r.MemoryNeed())
	_, err = lab.RunBatch(r, lab.BatchParams{Stdout: events, Stderr: stderr, Terminal: isTerminal(stderr), Width: termWidth(stderr)})
	if errors.Is(err, lab.ErrInterrupted) {
		// the last line a person reads: how to go on from here
		if ck, cerr := lab.LatestCheckpoint(r.Dir); cerr == nil {
			err = fmt.Errorf("%w; HINT: olmolab --batch --resume %s continues it from %s", err, r.Dir, ck)
		}
	}
	return mapLabError(err)
}

// recordPoll is how often waitForRecord looks whether the record has ended,
// and recordReport how often it says it still waits.
var recordPoll, recordReport = time.Second, 10 * time.Minute

// waitForRecord waits, up to limit, while olmolab eval --record scores the run
// in dir (--batch --resume --wait-record): a Slurm task of a sweep that
// starts meanwhile resumes once the scores are recorded, where it was
// refused at once. After limit it returns nil, saying so, and the resume is
// refused as without a wait (exit 2). Ctrl-C or SIGTERM while it waits:
// exit 130, nothing resumed.
func waitForRecord(dir string, limit time.Duration, stderr io.Writer) error {
	l, ok := lab.Recording(dir)
	if !ok {
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	fmt.Fprintf(stderr, "%s: olmolab eval --record (%s) is scoring the run's checkpoints; waiting up to %v for it to record before resuming (--wait-record)\n", dir, l.Holder(), limit)
	poll := time.NewTicker(recordPoll)
	defer poll.Stop()
	lastReport := start
	for {
		select {
		case <-ctx.Done():
			return codedError{exitInterrupted, fmt.Errorf("%s: interrupted while waiting for olmolab eval --record (%s); nothing resumed", dir, l.Holder())}
		case <-poll.C:
		}
		if l, ok = lab.Recording(dir); !ok {
			fmt.Fprintf(stderr, "%s: the record ended after %v; resuming\n", dir, time.Since(start).Round(time.Second))
			return nil
		}
		if time.Since(start) >= limit {
			fmt.Fprintf(stderr, "%s: waited %v (--wait-record) and olmolab eval --record (%s) still scores the run\n", dir, limit, l.Holder())
			return nil
		}
		if time.Since(lastReport) >= recordReport {
			lastReport = time.Now()
			fmt.Fprintf(stderr, "%s: still waiting for olmolab eval --record (%s), %v so far\n", dir, l.Holder(), time.Since(start).Round(time.Second))
		}
	}
}

// interruptContext is cancelled by the first Ctrl-C (SIGINT) or SIGTERM:
// the run stops after its step and writes a checkpoint, and the message
// says so at once. A second Ctrl-C quits at once (exit 130), as a person
// pressing it again means: the run then resumes from its checkpoint before
// where it has one, and must be started again where it has none (the first
// checkpoint was being written); the one being written is removed, as is
// any file being replaced (no temporary file is left), and the run
// directory's lock is removed (a stale one would make the lab and eval
// --record take the run for live). The step and the checkpoint of a large
// model take minutes, in which nothing was said and Ctrl-C did nothing
// more. Another SIGTERM is not a person's: it changes nothing. runDir is
// the run's directory once it is known (nil before).
func interruptContext(stderr io.Writer) (ctx context.Context, stop func(), runDir *atomic.Pointer[string]) {
	ctx, cancel := context.WithCancel(context.Background())
	runDir = new(atomic.Pointer[string])
	dir := func() string {
		if d := runDir.Load(); d != nil {
			return *d
		}
		return ""
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "\n%v: the run stops after this step and writes a checkpoint; Ctrl-C again quits at once, without it (%s)\n", s, afterQuit(dir()))
			cancel()
		case <-done:
			return
		}
		for {
			select {
			case s := <-sigs:
				if s != os.Interrupt {
					// a scheduler's second SIGTERM (Slurm's --signal
					// warning, then its time limit) leaves the checkpoint
					// to finish: its SIGKILL comes KillWait later anyway
					continue
				}
				// the checkpoint (or file) being written goes first,
				// while the lock still says this process is the writer,
				// and no other is started
				tempfile.Abandon()
				d := dir()
				if d != "" {
					lab.RemoveTemporaries(d, os.Getpid())
					lab.RemoveLock(d, os.Getpid())
				}
				fmt.Fprintf(stderr, "%v again: quit without the checkpoint; %s\n", s, afterQuit(d))
				os.Exit(exitInterrupted)
			case <-done:
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}, runDir
}

// afterQuit says what a run quit without its checkpoint resumes from: its
// latest complete checkpoint, or nothing (its first was being written).
func afterQuit(dir string) string {
	if dir == "" {
		return "the run then resumes from its latest checkpoint, if it has written one"
	}
	ck, err := lab.LatestCheckpoint(dir)
	if err != nil {
		return "the run has written no checkpoint yet, so it cannot resume: start it again"
	}
	return fmt.Sprintf("olmolab --batch --resume %s then resumes from %s", dir, ck)
}

// setMemoryLimit makes the Go collector keep this process, which holds one
// run, under the memory its check counted (lab.SoftMemoryLimit): with GOGC
// alone the heap may grow to twice what lives before a collection, and the
// model's buffers are most of what lives, so the garbage of a long run's
// evaluations, events and checkpoints could take as much memory again as the
// model. A GOMEMLIMIT from the environment is left as it is.
func setMemoryLimit(need int64) {
	if need <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(lab.SoftMemoryLimit(need))
}

// loadRecipe finds a recipe: a file path first, then a shipped name.
func loadRecipe(arg string, sets []string) (*lab.Recipe, error) {
	if st, err := os.Stat(arg); err == nil {
		if st.IsDir() { // Go's "read X: is a directory" said it after the path again
			return nil, inputError{fmt.Errorf("%s: a directory, not a recipe; HINT: give a recipe's YAML file (a run directory's is RUN/%s) or a shipped name (%s)", arg, lab.RecipeFile, shippedNames())}
		}
		rec, err := lab.LoadRecipe(arg, sets)
		if err != nil {
			return nil, inputError{err}
		}
		return rec, nil
	}
	if sr, ok := experiments.Lookup(arg); ok {
		rec, err := lab.ParseRecipe(sr.Path, sr.YAML, sets)
		if err != nil {
			return nil, inputError{err}
		}
		return rec, nil
	}
	var names []string
	for _, r := range experiments.All() {
		names = append(names, r.Name)
	}
	if n := lab.Nearest(strings.TrimSuffix(arg, ".yaml"), names); n != "" {
		// quickstar: a shipped name mistyped, not a file gone missing
		return nil, inputError{fmt.Errorf("%s: no such recipe file, and no shipped recipe has that name (shipped: %s); HINT: did you mean %s?", arg, shippedNames(), n)}
	}
	return nil, inputError{fmt.Errorf("%s: no such recipe file, and no shipped recipe has that name (shipped: %s)", arg, shippedNames())}
}

func shippedNames() string {
	var names []string
	for _, r := range experiments.All() {
		names = append(names, r.Name)
	}
	return strings.Join(names, ", ")
}

// codedError carries a specific exit code.
type codedError struct {
	code int
	err  error
}

func (e codedError) Error() string { return e.err.Error() }
func (e codedError) Unwrap() error { return e.err }

// mapLabError turns the lab's errors into exit codes: bad input 2, diverged 3,
// interrupted 130.
func mapLabError(err error) error {
	var ie *lab.InputError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ie):
		return inputError{err}
	case errors.Is(err, lab.ErrDiverged):
		return codedError{exitDiverged, err}
	case errors.Is(err, lab.ErrInterrupted):
		return codedError{exitInterrupted, err}
	}
	return err
}

// isTerminal says whether w is a terminal (the interactive lab, progress
// bars), not merely a character device such as /dev/null.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	// a terminal answers the terminal ioctls; /dev/null, another character
	// device, does not
	return term.IsTerminal(f.Fd())
}

// termWidth reads the columns of the terminal w is, each time it is called
// (a window may be resized); nil when w is not a terminal.
func termWidth(w io.Writer) func() int {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(w) {
		return nil
	}
	return func() int {
		cols, _, err := term.GetSize(f.Fd())
		if err != nil {
			return 0
		}
		return cols
	}
}

// newEvaluator returns the lab's evaluator: lab/olmes, reading OLMES data from
// $OLMOLAB_OLMES_DATA when a recipe asks for the standard benchmarks.
func newEvaluator() lab.Evaluator { return lab.NewOLMESEvaluator("") }
