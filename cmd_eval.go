package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/olmes"
	"github.com/olmolab/olmolab/lab/plural"
	"github.com/olmolab/olmolab/model"
	"github.com/olmolab/olmolab/model/tempfile"
)

func olmesError(err error) error {
	if olmes.IsInputError(err) || data.IsInputError(err) {
		return inputError{err}
	}
	return err
}

// runEval is `olmolab eval --model CKPT_OR_RUN --tasks ...`.
func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", stdout, stderr)
	ckpt := fs.String("model", "", "an HF checkpoint directory, one of our checkpoints, or a run directory (the weights it ended with: its latest checkpoint, or the soup its recipe planned)")
	// no flag-package default: not given, a run's eval.tasks come first
	tasks := fs.String("tasks", "", "comma-separated tasks or groups: builtin, development, unseen, core9, olmes, arc_easy, mmlu, fact_qa_heldout:mc, a requests.jsonl.gz dump, … (not given: a run's eval.tasks, else builtin; \"\": none, only --val); both formulations of a benchmark (core9,core9:mc) give OLMES's suite scores, core_9mcqa::olmes and each task's max(MC, RC); oe-eval's names work too: socialiqa:rc::olmes, and a suite, core_9mcqa::olmes or piqa::olmes, is its tasks in both formulations")
	tokName := fs.String("tokenizer", "", "tokenizer (default: the run's, else by the vocabulary: 100352 dolma2, 2048 world, 384 bytes; another vocabulary without a tokenizer.json is refused where dolma2's ids do not fit, else scored with dolma2 with a warning); a checkpoint's tokenizer.json must be it, id for id, or eval refuses it")
	dataDir := fs.String("data", os.Getenv("OLMOLAB_OLMES_DATA"), "OLMES datasets directory (for the standard benchmarks; default $OLMOLAB_OLMES_DATA)")
	limit := fs.Int("limit", 0, "instances per task, per subject for MMLU (0: the task's default, 200 for a built-in task, OLMES's own limit, all of a request dump; -1: all; not given: a run's eval.limit, else 0)")
	split := fs.String("split", "", "train, validation or test: the split of the OLMES benchmarks to score (default: a run's eval.split, else OLMES's split for each task)")
	mc := fs.Bool("mc", false, "multiple-choice formulation (default: rank classification)")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file (-: on stdout, alone, the table on stderr)")
	seq := fs.Int("seq", 0, "context length in tokens to score at; a longer request is scored on its last --seq tokens, as OLMES cuts it (default: 2048, OLMES's context, or less where the model was trained on shorter sequences (a run's sequence_length, which its own evaluations score at) or has fewer positions; never beyond its positions; whole long requests take longer on a CPU, not more memory: --seq 512 for a quick look)")
	backend := fs.String("backend", "cpu", "engine: "+strings.Join(model.BackendNames(), ", "))
	val := fs.String("val", "", "also the validation loss: TOKENS held-out tokens per source (e.g. 8K) of a run's eval.val sources (the built-in ones it trains on where it names none), else of each built-in world source; or run: the run's own eval.val, whose figures match its val/ records")
	ckpts := fs.String("checkpoints", "", "of a run: score each checkpoint it kept, all or last:N, and the soup it ended with where its recipe planned one (default: the model --model names; with --record, all)")
	record := fs.Bool("record", false, "of a run: record the scores of its checkpoints (--checkpoints) in its evals.jsonl, marked as made after the run (why \"eval --record\", with the settings), where olmolab snr and the lab read them; recording a task again replaces what an earlier --record wrote of it; refused while a process trains the run, and a resume of the run is refused while it scores")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Sprintf("eval: unexpected argument %q", rest[0])}
	}
	if *ckpt == "" {
		return usageError{"eval needs --model CKPT_OR_RUN"}
	}
	// --seq not given: the default (evalContext); given, at least 1
	seqGiven := false
	fs.Visit(func(f *flag.Flag) { seqGiven = seqGiven || f.Name == "seq" })
	if seqGiven && *seq < 1 {
		return usageError{fmt.Sprintf("eval: --seq %d: the context length must be at least 1", *seq)}
	}
	valTokens := int64(0) // -1: the run's own eval.val
	switch *val {
	case "", "0":
	case "run":
		valTokens = -1
	default:
		var ok bool
		if valTokens, ok = lab.ParseCount(*val); !ok {
			return usageError{fmt.Sprintf("eval: --val %q: want tokens per source (e.g. 8K, 65536) or run", *val)}
		}
	}
	if *limit < -1 {
		return usageError{fmt.Sprintf("eval: --limit %d: want a count, 0 (200 per task) or -1 (all)", *limit)}
	}
	if err := checkOutputDir("eval --json", *jsonOut); err != nil {
		return err
	}
	jsonW := stdout
	if jsonToStdout(*jsonOut) { // stdout is the JSON alone: what eval says besides goes to stderr
		stdout = stderr
	}
	// --checkpoints, --record: the run's kept checkpoints, one after another
	var models []lab.KeptCheckpoint
	runDir := filepath.Clean(*ckpt)
	if *ckpts != "" || *record {
		var stop func()
		if models, stop, err = runModels(runDir, *ckpts, *record, stdout, stderr); err != nil {
			return err
		}
		defer stop()
		if *jsonOut != "" {
			return usageError{"eval: --json writes one model's results; with --checkpoints each checkpoint's table is printed, and --record keeps their scores in the run's evals.jsonl"}
		}
	}
	// checked now, streamed into the backend below: no host copy of the
	// weights. Open, they are read to the end even when a run that trains
	// prunes that checkpoint meanwhile.
	src, dir, err := lab.OpenWeights(*ckpt, func(w string) { fmt.Fprintln(stderr, "warning: "+w) })
	if err != nil {
		return inputError{err}
	}
	defer src.Close()
	cfg := src.Config
	name := *tokName
	// a vocabulary no tokenizer of ours fits is refused as the tasks are
	// scored: the flags, the backend and the tasks are checked first
	var tokErr error
	if name == "" {
		name, tokErr = tokenizerFor(*ckpt, dir, cfg, stderr)
	}
	tok, err := data.NewTokenizer(name)
	if err != nil {
		return inputError{err}
	}
	// an HF checkpoint names its tokenizer: one that is not tok would be
	// scored on ids that mean other text, near chance and without an error
	if err := olmes.CheckHFTokenizer(dir, tok, cfg.VocabSize); err != nil {
		return olmesError(err)
	}
	ec := evalContext(*seq, *ckpt, cfg)
	T := ec.T
	// said once, before any scoring: every checkpoint scores at T
	switch {
	case seqGiven && *seq > T:
		fmt.Fprintf(stderr, "eval: --seq %d is longer than the model's %d positions: scoring at %d\n", *seq, cfg.MaxPositionEmbeddings, T)
	case seqGiven && ec.Trained > 0 && T > ec.Trained:
		fmt.Fprintf(stderr, "warning: --seq %d is longer than the %d-token sequences the model was trained on (sequence_length, %s): the positions past them it never trained at, and what it scores there says little of it\n", T, ec.Trained, ec.Recipe)
	}
	B := max(1, 4096/T)
	// forward only: no gradients or AdamW moments beside the weights
	b, err := model.NewScoringBackend(*backend, cfg, B, T)
	if err != nil {
		return inputError{err}
	}
	defer b.Close()
	buf := model.NewStreamBuf(src.Layout.Size())
	if models == nil {
		if err := src.WriteTo(b, buf); err != nil {
			return err
		}
	}
	f := olmes.RC
	if *mc {
		f = olmes.MC
	}
	switch *split {
	case "", "train", "validation", "test":
	default:
		return usageError{fmt.Sprintf("eval: --split %q: want train, validation or test", *split)}
	}
	limitGiven, tasksGiven := false, false
	fs.Visit(func(f *flag.Flag) {
		limitGiven = limitGiven || f.Name == "limit"
		tasksGiven = tasksGiven || f.Name == "tasks"
	})
	if !tasksGiven {
		*tasks = "builtin"
	}
	names := splitList(*tasks)
	n := *limit
	load := olmes.LoadOptions{DataDir: *dataDir, Build: olmes.BuildOptions{Split: *split}}
	// the built-in tasks ask about the world the run trained on (its recipe's
	// world:), as its own evaluations do; the default world's facts are others
	// and a run's tasks are its eval.tasks, scored on its eval.split and
	// eval.limit, so its checkpoints are compared on the instances its own
	// evaluations scored
	splitFrom, limitFrom, tasksFrom := "", "", ""
	if p := runRecipeOf(*ckpt); p != "" {
		if rec, err := lab.LoadRecipe(p, nil); err == nil {
			load.KB = rec.World.KB()
			if *split == "" && rec.Eval.Split != "" {
				load.Build.Split, splitFrom = rec.Eval.Split, p
			}
			if !limitGiven && rec.Eval.Limit != 0 {
				n, limitFrom = rec.Eval.Limit, p
			}
			if !tasksGiven && len(rec.Eval.Tasks) > 0 {
				names, tasksFrom = slices.Clone(rec.Eval.Tasks), p
			}
		}
	}
	load.Builtin.Limit, load.Build.Limit = n, n
	if n > 0 {
		load.DumpLimit = n
	}
	ev := &olmes.Evaluator{Load: load, Eval: olmes.EvalOptions{Reshape: true, Progress: evalProgress(stderr)}}
	// score is the model in b on the tasks (and --val)
	score := func() (olmes.Results, error) {
		res := olmes.Results{Backend: b.Name()}
		if tokErr != nil && (len(names) == 0 && valTokens != 0) {
			return res, tokErr
		}
		if len(names) > 0 || valTokens == 0 {
			// the tasks first, so that only their errors are said to be
			// --tasks' (or the run's eval.tasks'), not the tokenizer's
			tasks, err := ev.Tasks(names, f)
			if err != nil {
				if tasksFrom != "" { // the user named none of these tasks: say whose they are
					err = fmt.Errorf("tasks: the run's eval.tasks (%s; --tasks not given): %w", tasksFrom, err)
				} else if tasksGiven { // the flag whose value it was
					err = fmt.Errorf("--tasks: %w", err)
				}
				return res, olmesError(err)
			}
			if tokErr != nil {
				return res, tokErr
			}
			if res, err = olmes.Evaluate(context.Background(), b, tok, tasks, ev.Eval); err != nil {
				return res, olmesError(err)
			}
			res.SuitesAsked = olmes.SuitesAsked(names)
		}
		if valTokens != 0 {
			scores, err := evalValidation(*ckpt, valTokens, name, *backend, cfg, b, tok, stderr)
			if err != nil {
				return res, err
			}
			res.Scores = append(res.Scores, scores...)
		}
		return res, nil
	}
	if models != nil {
		fmt.Fprintf(stdout, "%s: %s (tokenizer %s)\n", runDir, plural.N(len(models), "model"), name)
		for _, from := range []struct{ what, p string }{{"tasks: the run's eval.tasks", tasksFrom}, {"split: the run's eval.split", splitFrom}, {"limit: the run's eval.limit", limitFrom}} {
			if from.p != "" {
				fmt.Fprintf(stdout, "%s (%s), as its own evaluations\n", from.what, from.p)
			}
		}
		settings := recordSettings(T, n, load.Build.Split, f, name, b.Name(), *val)
		return evalCheckpoints(runDir, models, *record, settings, cfg, ec, b, buf, score, stdout, stderr)
	}
	res, err := score()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s (tokenizer %s)\n", dir, name)
	if tasksFrom != "" {
		fmt.Fprintf(stdout, "tasks: the run's eval.tasks (%s); --tasks overrides it\n", tasksFrom)
	}
	if splitFrom != "" && slices.ContainsFunc(res.Scores, func(s olmes.Score) bool { return s.Split != "" }) {
		fmt.Fprintf(stdout, "OLMES benchmarks on the %s split: the run's eval.split (%s); --split overrides it\n", load.Build.Split, splitFrom)
	}
	if limitFrom != "" && slices.ContainsFunc(res.Scores, func(s olmes.Score) bool { return s.Formulation != olmes.LM }) {
		fmt.Fprintf(stdout, "%s per task: the run's eval.limit (%s), as its own evaluations; --limit overrides it\n", plural.N(n, "instance"), limitFrom)
	}
	if err := res.WriteTable(stdout); err != nil {
		return err
	}
	truncationHint(stdout, res, cfg, ec)
	if *jsonOut != "" {
		if err := writeJSONOut(*jsonOut, jsonW, res.WriteJSON); err != nil {
			return err
		}
	}
	return nil
}

// checkpointsScored counts the run's checkpoints among models (not the soup
// it ended with): the series snr measures noise over.
func checkpointsScored(models []lab.KeptCheckpoint) int {
	n := 0
	for _, m := range models {
		if !strings.HasSuffix(m.Run, "/soup") {
			n++
		}
	}
	return n
}

// truncationHint says, under the table, why res cut the requests it cut and
// what --seq scores them whole: nothing past the sequences the model was
// trained on (a run's sequence_length: --seq 917 for a model trained at 128
// tokens would score it where it never learnt to attend) nor its positions.
func truncationHint(w io.Writer, res olmes.Results, cfg model.Config, ec evalCtx) {
	if res.Truncated == 0 {
		return
	}
	limit, what := cfg.MaxPositionEmbeddings, fmt.Sprintf("the model has %d positions", cfg.MaxPositionEmbeddings)
	if ec.Trained > 0 && ec.Trained < limit {
		limit, what = ec.Trained, fmt.Sprintf("the model was trained on %d-token sequences, %s's sequence_length", ec.Trained, ec.Recipe)
	}
	switch {
	case res.Context >= limit:
		if ec.Trained > 0 && res.Context >= ec.Trained {
			fmt.Fprintf(w, "HINT: %s: a longer --seq scores them at positions it never trained at (the longest needs %d); tasks of shorter requests (fewer shots, the built-in tasks) suit it\n", what, res.Longest)
		}
	case res.Context == olmesContext && !ec.Given:
		fmt.Fprintf(w, "HINT: OLMES scores at %d tokens too and cuts them as here; --seq %d scores them whole, unlike OLMES (%s)\n", olmesContext, min(res.Longest, limit), what)
	case res.Longest <= limit:
		fmt.Fprintf(w, "HINT: --seq %d scores them whole (%s)\n", res.Longest, what)
	default:
		fmt.Fprintf(w, "HINT: --seq %d scores more of them (%s); the longest needs %d\n", limit, what, res.Longest)
	}
}

// runModels is what eval --checkpoints (sel: all, last:N; "" with --record:
// all) scores of the run in runDir: its kept checkpoints, oldest first, and
// the soup it ended with where its recipe planned one (its final model, whose
// scores are the run's final ones in olmolab snr), recorded under
// "<run>/soup" at the step it was made from, as the run records it. With
// record, a process that trains the run refuses it: the run appends to its
// evals.jsonl and prunes its checkpoints; otherwise the run is marked as
// being recorded (lab.StartRecording) until stop.
func runModels(runDir, sel string, record bool, stdout, stderr io.Writer) (ks []lab.KeptCheckpoint, stop func(), err error) {
	what := "--checkpoints"
	if record {
		what = "--record"
	}
	if _, err := os.Stat(filepath.Join(runDir, lab.RecipeFile)); err != nil {
		return nil, nil, inputError{fmt.Errorf("eval %s: %s is not a run directory (no %s); HINT: give the run's directory (runs/NAME): %s scores the checkpoints it kept", what, runDir, lab.RecipeFile, what)}
	}
	last := 0 // all
	switch v, ok := strings.CutPrefix(sel, "last:"); {
	case sel == "" || sel == "all":
	case ok:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, nil, usageError{fmt.Sprintf("eval: --checkpoints %q: want all or last:N with N at least 1", sel)}
		}
		last = n
	default:
		return nil, nil, usageError{fmt.Sprintf("eval: --checkpoints %q: want all or last:N", sel)}
	}
	stop = func() {}
	if record {
		// set before the mark is written: a Ctrl-C at any point after
		// removes it
		stopSignals := recordInterrupts(runDir, stderr)
		// held until the scores are written: a resume meanwhile is refused,
		// and the lab shows the run as recording. Another eval --record
		// (a job per task) scores beside it, its write waited for.
		stopMark, err := lab.StartRecording(runDir)
		if err != nil {
			stopSignals()
			return nil, nil, mapLabError(err)
		}
		stop = func() { stopSignals(); stopMark() }
		defer func() {
			if err != nil {
				stop()
			}
		}()
	}
	ks, err = lab.KeptCheckpoints(runDir)
	if err != nil {
		return nil, nil, inputError{err}
	}
	if last > len(ks) {
		fmt.Fprintf(stdout, "--checkpoints last:%d: the run kept %s (checkpoint.keep); scoring %s\n", last, plural.N(len(ks), "checkpoint"), plural.Verb(len(ks), "it", "those"))
	}
	if last > 0 && last < len(ks) {
		ks = ks[len(ks)-last:]
	}
	if from, ok := lab.EndedWithSoup(runDir); ok {
		soup := lab.KeptCheckpoint{Dir: lab.SoupDir(runDir, from), Run: ks[len(ks)-1].Run + "/soup", Step: from, Phase: "soup"}
		for _, k := range ks {
			if k.Step == from {
				soup.Tokens = k.Tokens
			}
		}
		ks = append(ks, soup)
	}
	return ks, stop, nil
}

// recordInterrupts quits eval --record of runDir at once on Ctrl-C or
// SIGTERM (exit 130, nothing recorded), as the default action of those
// signals did, but first removes what the record keeps in the run
// directory: evals.jsonl's temporary file if it was being written, the
// run's lock if the record held it for that write, and the record's mark.
// The mark, left behind, read as a live record (on another host, until its
// heartbeat went stale), so a resume of the run was refused. A signal that
// lands once the scores' evals.jsonl has been renamed into place says so:
// it said "nothing recorded" of a file that held them. stop ends it.
func recordInterrupts(runDir string, stderr io.Writer) (stop func()) {
	evals := filepath.Join(runDir, lab.EvalsFile)
	written, unwatch := tempfile.Watch(evals)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			// the file being written goes first, and no other is started;
			// after Abandon, written's answer is final
			tempfile.Abandon()
			lab.RemoveLock(runDir, os.Getpid())
			lab.RemoveRecording(runDir)
			if written() {
				fmt.Fprintf(stderr, "\n%v: quit; the scores had been recorded in %s just before\n", s, evals)
			} else {
				fmt.Fprintf(stderr, "\n%v: quit; nothing recorded in %s\n", s, evals)
			}
			os.Exit(exitInterrupted)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
		unwatch()
	}
}

// recordSettings says how eval --record scored (EvalRecord.Settings, after
// the checkpoint's path).
func recordSettings(context, limit int, split string, f olmes.Formulation, tok, backend, val string) string {
	lim := fmt.Sprintf("limit %d", limit)
	switch limit {
	case 0:
		lim = "the tasks' default limit"
	case -1:
		lim = "every instance"
	}
	if split == "" {
		split = "OLMES's split"
	} else {
		split = "split " + split
	}
	s := fmt.Sprintf("context %d, %s, %s, %s, tokenizer %s, backend %s", context, lim, split, f, tok, backend)
	if val != "" {
		s += ", val " + val
	}
	return s
}

// evalHook runs as evalCheckpoints has listed the checkpoints, as it has
// opened them, and as it has recorded their scores: a test prunes them
// there, as a run that trains can, or signals the record.
var evalHook = func(stage string, models []lab.KeptCheckpoint) {}

// evalCheckpoints scores each of models (eval --checkpoints), loaded one
// after another into b through buf, prints each one's table and, with
// record, records their scores in the run's evals.jsonl (lab.RecordEvals).
// The task the run evaluated itself is refused after the first model,
// before the others are scored.
func evalCheckpoints(runDir string, models []lab.KeptCheckpoint, record bool, settings string, cfg model.Config, ec evalCtx,
	b model.Backend, buf []float32, score func() (olmes.Results, error), stdout, stderr io.Writer) error {
	var recs []olmes.EvalRecord
	now := time.Now().UTC()
	var last olmes.Results
	evalHook("listed", models)
	// every one opened now: a run that trains may prune them while the
	// first are scored, and open files stay readable
	srcs, models, err := lab.OpenKept(models, func(w string) { fmt.Fprintln(stderr, "warning: "+w) })
	if err != nil {
		return inputError{err}
	}
	defer func() {
		for _, src := range srcs {
			if src != nil {
				src.Close()
			}
		}
	}()
	evalHook("opened", models)
	for i, m := range models {
		src := srcs[i]
		if !reflect.DeepEqual(src.Config, cfg) {
			return inputError{fmt.Errorf("%s: config.json is not the model's of the run's other checkpoints", m.Dir)}
		}
		err := src.WriteTo(b, buf)
		src.Close()
		srcs[i] = nil
		if err != nil {
			return err
		}
		res, err := score()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(runDir, m.Dir)
		fmt.Fprintf(stdout, "\n%s: step %d, %s tokens, %s\n", rel, m.Step, lab.HumanCount(m.Tokens), m.Phase)
		shown := res
		if i > 0 { // the same requests at every checkpoint: their notes, cuts and suites left out are said once, with the first
			shown.Notes, shown.Truncated = nil, 0
			shown.Aggregates, _ = olmes.ShownSuites(shown.Aggregates, shown.SuitesAsked)
		}
		if err := shown.WriteTable(stdout); err != nil {
			return err
		}
		rs := recordsOf(res, m.Run, int(m.Step), m.Tokens)
		for j := range rs {
			rs[j].Phase, rs[j].Why, rs[j].Settings, rs[j].Time = m.Phase, olmes.WhyRecorded, rel+": "+settings, now
		}
		if record && i == 0 {
			// a task the run evaluated itself: said now, not after every checkpoint's scoring
			if err := lab.CheckRecordable(runDir, rs); err != nil {
				return inputError{err}
			}
		}
		recs = append(recs, rs...)
		last = res
	}
	truncationHint(stdout, last, cfg, ec)
	if !record {
		return nil
	}
	replaced, err := lab.RecordEvals(runDir, recs)
	if err != nil {
		if ie := (*lab.InputError)(nil); errors.As(err, &ie) {
			return inputError{err}
		}
		return err
	}
	evalHook("recorded", models)
	steps := fmt.Sprintf("steps %d to %d", models[0].Step, models[len(models)-1].Step)
	if models[0].Step == models[len(models)-1].Step {
		steps = fmt.Sprintf("step %d", models[0].Step)
	}
	fmt.Fprintf(stdout, "\nrecorded %s of %s (%s) in %s, why %q (made after the run: %s)",
		plural.N(len(recs), "score"), plural.N(len(models), "model"), steps, filepath.Join(runDir, lab.EvalsFile), olmes.WhyRecorded, settings)
	if replaced > 0 {
		fmt.Fprintf(stdout, "; they replace %d an earlier --record wrote", replaced)
	}
	fmt.Fprintf(stdout, "\nolmolab snr RUN RUN… compares runs on them; the noise is over each run's last --last checkpoints, so keep them (checkpoint.keep)\n")
	if n := checkpointsScored(models); n < 2 {
		fmt.Fprintf(stderr, "warning: %d checkpoint scored: snr measures no noise from one (its noise and SNR read -)\nHINT: keep more (checkpoint.keep: 5 for snr's --last 5) in the runs to compare\n", n)
	}
	return nil
}

// recordsOf is res as evals.jsonl records: its tasks' metrics (res.Records)
// and those of its validation loss (--val: ce_loss and bits_per_byte of each
// val/<source>, formulation lm, as the run records its own eval.val), which
// res.Records leaves out: eval --record --val scored every checkpoint and
// recorded none of it.
func recordsOf(res olmes.Results, run string, step int, tokens int64) []olmes.EvalRecord {
	out := res.Records(run, step, tokens, "")
	for _, s := range res.Scores {
		if s.Formulation != olmes.LM {
			continue
		}
		for _, m := range olmes.LMMetricNames {
			if v, ok := s.Metrics[m]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) && !slices.ContainsFunc(out, func(r olmes.EvalRecord) bool {
				return r.Task == s.Task && r.Formulation == s.Formulation && r.Metric == m
			}) {
				out = append(out, olmes.EvalRecord{Run: run, Step: step, Tokens: tokens, Task: s.Task, Formulation: s.Formulation,
					Split: s.Split, Metric: m, Value: v, Primary: m == s.Primary, Group: s.Group})
			}
		}
	}
	return out
}

// olmesContext is OLMES's context in tokens: oe-eval's MODEL_DEFAULTS
// max_length, to which lm-eval-harness's HF model cuts (context +
// continuation) on the left, keeping the last max_length + 1 tokens (the last
// is a target only).
const olmesContext = 2048

// evalCtx is the context eval scores at and why.
type evalCtx struct {
	T       int    // the context in tokens
	Given   bool   // --seq set it
	Trained int    // the sequence length the model was trained at (a run's sequence_length), 0: not known
	Recipe  string // the recipe that says Trained
}

// evalContext is the context eval scores at: --seq where given (seq > 0),
// else OLMES's 2048 tokens (a 5-shot MMLU or BoolQ request of up to 2,354
// tokens is cut as OLMES cuts it, where the model's 4096 positions scored it
// whole, another number than OLMES's), or fewer where the model was trained
// on shorter sequences (a run's sequence_length: its own evaluations score at
// it, and positions past it the model never trained at) or has fewer
// positions. Never beyond the model's positions. A forward holds about 4096
// tokens whatever the context (B = 4096/T rows), so a longer one costs no
// memory, only the attention over the long requests.
func evalContext(seq int, path string, cfg model.Config) evalCtx {
	ec := evalCtx{Given: seq > 0}
	if p := runRecipeOf(path); p != "" {
		if rec, err := lab.LoadRecipe(p, nil); err == nil && rec.SequenceLength > 0 {
			ec.Trained, ec.Recipe = rec.SequenceLength, p
		}
	}
	if seq <= 0 {
		seq = olmesContext
		if ec.Trained > 0 {
			seq = min(seq, ec.Trained)
		}
	}
	ec.T = min(seq, max(cfg.MaxPositionEmbeddings, 16))
	return ec
}

// evalProgressEvery is how often eval writes a progress line when stderr is
// not a terminal (a Slurm log); on a terminal one line is rewritten in place.
var evalProgressEvery = 30 * time.Second

// evalProgress reports scoring progress on w: MMLU on a CPU takes minutes to
// hours, which eval spent without a word.
func evalProgress(w io.Writer) func(done, total int) {
	term := isTerminal(w)
	start := time.Now()
	last := start
	return func(done, total int) {
		line := evalProgressLine(done, total, time.Since(start))
		switch {
		case term:
			fmt.Fprintf(w, "\r\033[K%s", line)
			if done >= total {
				fmt.Fprintln(w)
			}
		case time.Since(last) >= evalProgressEvery:
			fmt.Fprintln(w, line)
			last = time.Now()
		}
	}
}

// evalProgressLine is eval's progress after elapsed: done of total requests.
func evalProgressLine(done, total int, elapsed time.Duration) string {
	pct := 100 * float64(done) / float64(max(total, 1))
	return fmt.Sprintf("eval %s %5.1f%%  %d/%d requests  %s", progressBar(pct, 30), pct, done, total, lab.HumanDuration(elapsed))
}

// evalValidation is eval --val: the validation loss of the checkpoint on
// tokens held-out tokens per source (-1: the run's own eval.val), as a run of
// its recipe measures it (its eval.val sources and sequence length), or for a
// checkpoint of no run on every built-in source at b's sequence length.
func evalValidation(path string, tokens int64, tokName, backend string, cfg model.Config, b model.Backend,
	tok data.Tokenizer, stderr io.Writer) ([]olmes.Score, error) {
	_, T := b.MicroBatch()
	p := runRecipeOf(path)
	if p == "" && tokens < 0 {
		return nil, usageError{fmt.Sprintf("eval --val run: %s belongs to no run (no %s beside it); give a number of tokens per source instead", path, lab.RecipeFile)}
	}
	if p == "" && tokens > 0 && tokens < int64(T) {
		// no recipe to name: the sequence is eval's context, which --seq sets
		return nil, inputError{fmt.Errorf("eval --val %d: fewer tokens per source than one sequence of %d, the context (--seq; by default 2048, OLMES's context, or the model's positions where fewer); HINT: --val %d or more, or a shorter --seq (--seq 512 --val 8K: 15 sequences per source)", tokens, T, T)}
	}
	rec := lab.BuiltinValRecipe(tokens, T, tokName)
	if p != "" {
		var set []string
		if tokens > 0 {
			set = []string{fmt.Sprintf("eval.val.tokens=%d", tokens)}
		}
		r, err := lab.LoadRecipe(p, set)
		if err != nil {
			return nil, inputError{err}
		}
		if r.Eval.Val.Tokens == 0 {
			if tokens < 0 {
				return nil, inputError{fmt.Errorf("eval --val run: %s has no eval.val; HINT: give a number of tokens per source, e.g. --val 8K", p)}
			}
			return nil, inputError{fmt.Errorf("eval --val: %s trains on files only and names no validation files (eval.val.sources); HINT: name held-out files under eval.val.sources", p)}
		}
		rec = r
	}
	vb := b
	if rec.SequenceLength != T {
		if rec.SequenceLength > cfg.MaxPositionEmbeddings {
			return nil, inputError{fmt.Errorf("eval --val: %s: sequence_length %d is longer than the model's %d positions", rec.Path, rec.SequenceLength, cfg.MaxPositionEmbeddings)}
		}
		nb, _, err := model.ScoringLike(b, max(1, 4096/rec.SequenceLength), rec.SequenceLength)
		if err != nil {
			return nil, inputError{err}
		}
		defer nb.Close()
		vb = nb
	}
	scores, err := lab.ValidationLoss(context.Background(), vb, tok, rec, func(w string) { fmt.Fprintln(stderr, "warning: "+w) })
	if err != nil {
		if ie := (*lab.InputError)(nil); errors.As(err, &ie) {
			return nil, inputError{err}
		}
		return nil, err
	}
	// one olmes row per source, as the task rows print
	var out []olmes.Score
	for _, s := range scores {
		if len(out) == 0 || out[len(out)-1].Task != s.Task {
			out = append(out, olmes.Score{Task: s.Task, Formulation: olmes.LM, Instances: int(rec.Eval.Val.Tokens) / rec.SequenceLength, Metrics: map[string]float64{}})
		}
		last := &out[len(out)-1]
		last.Metrics[s.Metric] = s.Value
		if s.Primary {
			last.Primary = s.Metric
		}
	}
	return out, nil
}

// runRecipeOf is the recipe of the run that path (a run directory, one of its
// checkpoints, or one of its soups' models) belongs to, "" if none. The path is
// cleaned first: a shell completes a directory with a trailing slash, and
// runs/R/checkpoints/step-N/ must find runs/R's recipe as step-N does (without
// it, eval guessed the tokenizer and --val measured every built-in source at
// another sequence length instead of the run's own validation sets).
func runRecipeOf(path string) string {
	path = filepath.Clean(path)
	dirs := []string{path, filepath.Dir(filepath.Dir(path))}
	if soups := filepath.Dir(filepath.Dir(path)); filepath.Base(soups) == "soups" { // RUN/soups/soup-N/{soup,ingredient-…}
		dirs = append(dirs, filepath.Dir(soups))
	}
	for _, p := range dirs {
		f := filepath.Join(p, lab.RecipeFile)
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	return ""
}

// tokenizerFor is the tokenizer of the run path belongs to (its recipe's),
// else the one of olmolab's whose padded vocabulary is the model's (100352
// dolma2, 2048 world, 384 bytes). Another vocabulary is a model olmolab did
// not train: where dir has a tokenizer.json, dolma2 is checked against it
// (olmes.CheckHFTokenizer, whose error names the tokenizer it is); where it
// has none, a vocabulary too small for dolma2's ids is refused (the error,
// with dolma2 for the checks before it is said), and a larger
// one is scored with dolma2 with a warning on stderr: a guess, and a model
// trained with another tokenizer scores near chance without an error.
func tokenizerFor(path, dir string, cfg model.Config, stderr io.Writer) (string, error) {
	if p := runRecipeOf(path); p != "" {
		if r, err := lab.LoadRecipe(p, nil); err == nil {
			return r.Tokenizer, nil
		}
	}
	known := []string{data.Dolma2, data.World, data.Bytes}
	var sizes, fit []string
	for _, name := range known {
		tok, err := data.NewTokenizer(name)
		if err != nil {
			return "", err
		}
		if tok.VocabSize() == cfg.VocabSize {
			return name, nil
		}
		sizes = append(sizes, fmt.Sprintf("%d %s", tok.VocabSize(), name))
		if tok.VocabSize() < cfg.VocabSize {
			fit = append(fit, name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, olmes.HFTokenizerFile)); err == nil {
		return data.Dolma2, nil // checked against the file before anything is scored
	}
	cj := filepath.Join(dir, "config.json")
	if !slices.Contains(fit, data.Dolma2) {
		hint := fmt.Sprintf("none of olmolab's tokenizers fits %d ids: the model was trained with another, which olmolab cannot score with", cfg.VocabSize)
		if len(fit) > 0 {
			hint = fmt.Sprintf("--tokenizer %s if the model was trained with it (its ids fit in %d); olmolab scores with its own tokenizers only", strings.Join(fit, " or "), cfg.VocabSize)
		}
		return data.Dolma2, inputError{fmt.Errorf("%s: vocab_size %d is none of olmolab's tokenizers' (%s), and there is no %s beside it to say which the model was trained with; HINT: %s",
			cj, cfg.VocabSize, strings.Join(sizes, ", "), olmes.HFTokenizerFile, hint)}
	}
	fmt.Fprintf(stderr, "warning: %s: vocab_size %d is not dolma2's %s and no %s says which tokenizer the model was trained with: scoring with dolma2, a guess (a model trained with another scores near chance)\nHINT: --tokenizer NAME (%s) if it is another\n",
		cj, cfg.VocabSize, strings.Fields(sizes[0])[0], olmes.HFTokenizerFile, strings.Join(known, ", "))
	return data.Dolma2, nil
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// runSNR is `olmolab snr RUN...`.
func runSNR(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("snr", stdout, stderr)
	lastN := fs.Int("last", 5, "checkpoints per run for noise (and for checkpoint averaging)")
	noise := fs.String("noise", "per-run", "noise definition: per-run (std/mean over each run's last n, averaged) or pooled")
	jsonOut := fs.String("json", "", "also write the table as JSON to this file (-: on stdout, alone, the table on stderr)")
	subruns := fs.Bool("soups", false, "include soups and their ingredients as runs")
	target := fs.String("target", "", "the same recipes at the target scale (run directories, a directory of runs or evals.jsonl files, comma-separated), one per run, paired in name order (with --soups their soups and ingredients too): adds decision accuracy")
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usageError{"snr needs run directories, a directory of runs, or evals.jsonl files"}
	}
	mode, err := olmes.ParseNoiseMode(*noise)
	if err != nil {
		return usageError{err.Error()}
	}
	switch {
	case *lastN < 1:
		return usageError{fmt.Sprintf("snr: --last %d: want the number of checkpoints per run (at least 1)", *lastN)}
	case *lastN == 1 && mode == olmes.NoisePerRun:
		return usageError{"snr: --last 1: per-run noise is the spread over each run's last checkpoints, so it needs at least 2 (or use --noise pooled)"}
	}
	if err := checkOutputDir("snr --json", *jsonOut); err != nil {
		return err
	}
	runs, err := olmes.LoadRunEvalTails(*lastN, "", paths...)
	if err != nil {
		return olmesError(err)
	}
	var targets []olmes.RunEvals
	if *target != "" {
		// their soups and ingredients: SNR leaves them out as it does the
		// runs' (--soups keeps both, each soup pairing with its target's)
		if targets, err = olmes.LoadRunEvalTails(*lastN, "", splitList(*target)...); err != nil {
			return olmesError(err)
		}
	}
	t, err := olmes.SNR(runs, olmes.SNROptions{LastN: *lastN, Noise: mode, SubRuns: *subruns, SoupFinal: lab.RunsEndedWithSoup(paths...), Target: targets})
	if err != nil {
		return olmesError(err)
	}
	table := stdout
	if jsonToStdout(*jsonOut) { // stdout is the JSON alone
		table = stderr
	}
	if err := t.WriteTable(table); err != nil {
		return err
	}
	if *jsonOut != "" {
		return writeJSONOut(*jsonOut, stdout, t.WriteJSON)
	}
	return nil
}

// jsonToStdout says whether --json's path is the process's stdout: "-" or
// /dev/stdout, where the JSON goes alone and the table to stderr.
func jsonToStdout(path string) bool { return path == "-" || path == "/dev/stdout" }

// writeJSONOut writes --json's output: on stdout (jsonToStdout), into a
// special file as it is (a pipe, /dev/null: renaming a temporary file over
// it, as root, replaced the device with a regular file), else atomically.
func writeJSONOut(path string, stdout io.Writer, write func(io.Writer) error) error {
	if jsonToStdout(path) {
		return write(stdout)
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() && !st.IsDir() {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return err
		}
		if err := write(f); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		return f.Close()
	}
	return model.WriteFileAtomicFunc(path, write)
}

// checkOutputDir refuses, before any work, an output file whose directory
// does not exist (path "" is no output, "-" stdout).
func checkOutputDir(flagName, path string) error {
	if path == "" || jsonToStdout(path) {
		return nil
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return inputError{fmt.Errorf("%s %s: directory %s does not exist", flagName, path, dir)}
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() { // found now, not after the work
		return inputError{fmt.Errorf("%s %s: a directory; HINT: give a file name", flagName, path)}
	}
	return nil
}

// runOLMES is `olmolab olmes requests --task NAME --formulation rc|mc --data DIR`.
func runOLMES(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprintln(stdout, "usage: olmolab olmes requests --task NAME --formulation rc|mc --data DIR [--split S]\n(olmolab olmes requests --help for the flags)")
		return errHelp
	}
	if len(args) == 0 || args[0] != "requests" {
		return usageError{"olmes: the subcommand is 'requests' (olmolab olmes requests --task NAME --formulation rc|mc --data DIR [--split S])"}
	}
	fs := newFlags("olmes requests", stdout, stderr)
	task := fs.String("task", "", "OLMES task: "+strings.Join(olmes.OLMESTaskNames(), ", ")+", mmlu_<subject>")
	form := fs.String("formulation", "rc", "rc or mc")
	dir := fs.String("data", os.Getenv("OLMOLAB_OLMES_DATA"), "OLMES datasets directory (default $OLMOLAB_OLMES_DATA)")
	split := fs.String("split", "", "train, validation or test (default: OLMES's split for the task)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *task == "" || *dir == "" {
		return usageError{"olmes requests needs --task and --data (or $OLMOLAB_OLMES_DATA)"}
	}
	f, err := olmes.ParseFormulation(*form)
	if err != nil {
		return usageError{fmt.Sprintf("--formulation %q: want rc or mc", *form)}
	}
	reqs, err := olmes.BuildRequests(*task, f, *dir, olmes.BuildOptions{Split: *split, Command: olmes.CommandRequests})
	if err != nil {
		return olmesError(err)
	}
	return olmes.WriteRequestsJSONL(stdout, reqs)
}
