package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/data/world"
	"github.com/olmolab/olmolab/lab/olmes"
	"github.com/olmolab/olmolab/model"
)

// ErrDiverged ends a run whose loss or gradient stayed non-finite (exit code 3).
var ErrDiverged = errors.New("training diverged")

// ErrInterrupted ends a run stopped by its context (Ctrl-C): a checkpoint was
// written first (exit code 130).
var ErrInterrupted = errors.New("interrupted")

// ErrFinished: --resume of a run that already finished (its summary.json says
// so and no checkpoint lies beyond it). There is nothing to do; a script that
// requeues runs may treat it as success.
var ErrFinished = errors.New("already finished")

// InputError is bad input found before training starts (exit code 2).
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Evaluator scores a backend on the recipe's tasks; lab/olmes provides the real
// one. It runs on the run's goroutine between steps.
type Evaluator interface {
	Evaluate(ctx context.Context, b model.Backend, tok data.Tokenizer, spec EvalSpec) ([]EvalScore, error)
}

// RunParams starts or resumes a run.
type RunParams struct {
	Recipe    *Recipe
	RunsDir   string // parent of new run directories (default "runs")
	ResumeDir string // continue this run from its latest checkpoint instead
	// Backend is the engine a resume continues on (model.BackendNames):
	// checkpoints are the same on every engine, so a run moves between the
	// CPU and a GPU. Empty: the backend its latest checkpoint was written
	// on (state.json), else recipe.yaml's. Only with ResumeDir.
	Backend   string
	Name      string // run directory name; default <recipe name>-<time>
	Evaluator Evaluator
	// MaxSkipped ends the run as diverged after this many non-finite steps in a
	// row (default 5).
	MaxSkipped int
	// PeakFLOPS is the backend's peak for MFU; 0: the backend's own
	// (its PeakFLOPS method: a GPU engine's), else the CPU's, measured, on
	// the cpu backend, else none (no MFU).
	PeakFLOPS float64
	// MemoryLimit is the bytes the run may use; 0 reads MemAvailable.
	MemoryLimit int64
	// LockMode goes into the run directory's LockFile while the run trains:
	// LockHeadless (the default, --batch) or LockTUI.
	LockMode string
	// Progress, if not nil, receives a line now and then about slow work before
	// training starts (counting a capped document source's tokens), from any
	// goroutine.
	Progress func(string)
}

// Run is one training run on its own goroutine. Its events go to Events; actions
// arrive through Do and are applied between steps.
type Run struct {
	evalWarned map[string]bool // evaluator warnings already given (spec.Warn)

	Name   string
	Dir    string
	Recipe *Recipe
	Events *EventQueue

	p       RunParams
	need    int64 // memoryNeed: what the memory check counted
	actions chan Action
	// actMu guards actEnded, set when the run has ended: an action Do took
	// before is answered (loop), one after is refused by Do itself
	actMu    sync.Mutex
	actEnded bool
	done     chan struct{}
	summary  RunSummary
	err      error

	// owned by the run goroutine
	ctx       context.Context
	tok       data.Tokenizer
	kb        *world.KB
	loader    *data.Loader
	backend   model.Backend
	trainer   *model.Trainer
	cfg       model.Config
	st        CheckpointState
	spikeLoss *SpikeDetector
	spikeGrad *SpikeDetector
	ids       []int32
	labels    []int32
	metrics   *jsonlWriter
	events    *jsonlWriter
	evals     *jsonlWriter
	paused    bool
	stopping  bool
	lossHist  []float64
	started   time.Time
	stepTime  time.Duration
	stepToks  int64
	before    float64 // seconds the run took in earlier processes (up to the checkpoint it resumed from)
	peak      float64
	locked    bool   // this process wrote the run directory's LockFile
	stopBeat  func() // ends the lock's heartbeat
	// dirID is the run directory as it was locked: one removed, moved or
	// replaced since is not written into (dirErr)
	dirID    os.FileInfo
	lastCkpt int64
	lastEval []EvalScore
	lastWhen string // why and at which step lastEval was taken, for the summary: "final", "interval, at step 100", …
	// evalStep is the step of the run's own latest evaluation (its weights'
	// scores in evals.jsonl), evalWhy why it was taken; evalStep is -1
	// before the first.
	evalStep int64
	evalWhy  string
	soup     *SoupReport
	val      []valSet // eval.val's validation sets, read once

	// pauseAfterSoup: a side soup asked for while the run was paused is
	// made at once; the run is paused again after it (runSoup)
	pauseAfterSoup bool
	// afterSoup is what the run trains after the soup being made: its own
	// steps left after a side soup, 0 after the recipe's (Event.TokensLeft)
	afterSoup int64
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// StartRun validates everything (recipe, data, memory, checkpoint to load), sets
// up the run directory and starts training on a new goroutine. Problems with the
// input are *InputError.
func StartRun(ctx context.Context, p RunParams) (*Run, error) {
	r := &Run{p: p, evalWarned: map[string]bool{}, evalStep: -1, Events: NewEventQueue(4096), actions: make(chan Action, 64), done: make(chan struct{})}
	if p.MaxSkipped <= 0 {
		r.p.MaxSkipped = 5
	}
	if r.p.LockMode == "" {
		r.p.LockMode = LockHeadless
	}
	started := false
	defer func() {
		if !started {
			r.unlock()
		}
	}()
	var resume, start *loadedCheckpoint // open files until StartRun returns
	defer func() { resume.Close(); start.Close() }()
	var resumeFrom string
	var skipped string // SkippedCheckpoints of the run resumed or loaded, a warning
	backendOf := ""    // where rec.Backend comes from, when not the recipe
	if p.ResumeDir != "" {
		if err := checkRunDir(p.ResumeDir); err != nil {
			return nil, &InputError{err}
		}
		rec, err := LoadRecipe(filepath.Join(p.ResumeDir, RecipeFile), nil)
		if err != nil {
			return nil, &InputError{err}
		}
		p.Recipe = rec
		r.Dir = p.ResumeDir
		r.Name = filepath.Base(p.ResumeDir)
		// before the checkpoint is read: another process may be writing one
		if err := r.lock(); err != nil {
			return nil, lockFailure(err)
		}
		// the run's only writer now: what a killed or quit process left
		// half-written goes, finished run or not
		RemoveTemporaries(p.ResumeDir, os.Getpid())
		if err := refuseRecording(p.ResumeDir); err != nil {
			return nil, &InputError{err}
		}
		ck, err := LatestCheckpoint(p.ResumeDir)
		skipped = SkippedCheckpoints(p.ResumeDir, ck)
		if err != nil {
			if skipped != "" {
				err = fmt.Errorf("%w (%s)", err, skipped)
			}
			// killed before its first checkpoint: the error said no more,
			// and a new run under the name is refused (checkNoRun)
			return nil, &InputError{fmt.Errorf("%w; HINT: the run ended before its first checkpoint (checkpoint.interval), so there is nothing to continue: start it again, with another --name or after moving %s away", err, p.ResumeDir)}
		}
		if resume, err = loadVerified(ck); err != nil {
			if steps, _ := listCheckpoints(p.ResumeDir); len(steps) > 1 {
				err = fmt.Errorf("%w; HINT: move %s out of the run directory to resume from %s", err, ck, checkpointName(steps[len(steps)-2]))
			} else {
				// it said nothing: the run cannot go on, and what can is to start it again
				err = fmt.Errorf("%w; HINT: it is the run's only checkpoint (checkpoint.keep keeps more), so the run cannot continue: start it again, with another --name or after moving %s away", err, p.ResumeDir)
			}
			return nil, &InputError{err}
		}
		if resume.State == nil {
			return nil, &InputError{fmt.Errorf("%s: not an olmolab checkpoint (no %s)", ck, StateFile)}
		}
		if s, ok := finishedAt(p.ResumeDir, resume.State.Step); ok {
			return nil, fmt.Errorf("%s: the run %w at step %d (%s tokens); nothing to resume", p.ResumeDir, ErrFinished, s.Steps, HumanCount(s.Tokens))
		}
		resumeFrom = ck
		// a run moved to another engine stays there: its checkpoints say
		// which, recipe.yaml the one it started on
		if p.Backend != "" {
			rec.Backend, backendOf = p.Backend, "the backend asked for"
		} else {
			rec.Backend, backendOf = checkpointBackend(rec.Backend, resume.State, ck)
		}
	} else if p.Backend != "" {
		return nil, &InputError{fmt.Errorf("RunParams.Backend is for a resume: a new run takes the recipe's backend")}
	}
	rec := p.Recipe
	if p.ResumeDir == "" {
		// relative paths taken from here, as the data is read, and recorded
		// so (recipe.yaml, the checkpoints' mix): a resume from another
		// directory reads the same files. A resume keeps what its run recorded.
		var err error
		if rec, err = rec.AbsPaths(); err != nil {
			return nil, &InputError{err}
		}
		p.Recipe = rec
	}
	r.Recipe = rec
	if !backendAvailable(rec.Backend) {
		if backendOf != "" {
			return nil, &InputError{fmt.Errorf("%s: backend %q (%s) is not in this build of olmolab (available: %s); HINT: resume it with --backend NAME to continue on one of those (its checkpoints load on every engine)", p.ResumeDir, rec.Backend, backendOf,
				strings.Join(model.BackendNames(), ", "))}
		}
		return nil, &InputError{fmt.Errorf("%s: backend %q is not in this build of olmolab (available: %s); %s", rec.Path, rec.Backend,
			strings.Join(model.BackendNames(), ", "), backendHint(rec))}
	}
	tok, err := data.NewTokenizer(rec.Tokenizer)
	if err != nil {
		return nil, &InputError{fmt.Errorf("%s: tokenizer: %w", rec.Path, err)}
	}
	r.tok = tok
	cfg, err := resolveModel(rec, tok)
	if err != nil {
		return nil, &InputError{fmt.Errorf("%s: model: %w", rec.Path, err)}
	}
	r.cfg = cfg

	// the weights stream into a backend of the recipe's model: a checkpoint of
	// another size (a hand-edited recipe.yaml) is refused here, not mid-load
	if resume != nil {
		if err := resume.sameModel(cfg, true); err != nil {
			return nil, &InputError{fmt.Errorf("%s: %w\nHINT: the run's recipe was edited: restore its model settings (the checkpoint's config.json)", rec.Path, err)}
		}
	}
	// the checkpoint to start from (load_path), validated before anything trains
	var startMsg string // what the run took from it, for a phase event
	if resume == nil && rec.LoadPath != "" {
		if _, err := os.Stat(rec.LoadPath); errors.Is(err, fs.ErrNotExist) {
			// a stage-2 recipe names stage 1's checkpoint, which this machine may not have
			return nil, &InputError{fmt.Errorf("%s: load_path: %s: no such checkpoint\nHINT: load_path is the checkpoint the run starts from: a run's directory (its latest checkpoint), one of its checkpoints (runs/NAME/checkpoints/step-N) or an HF checkpoint directory; --set load_path=DIR",
				rec.Path, rec.LoadPath)}
		}
		if _, err := os.Stat(filepath.Join(rec.LoadPath, CkptDir)); err == nil {
			ck, _ := LatestCheckpoint(rec.LoadPath)
			skipped = SkippedCheckpoints(rec.LoadPath, ck)
		}
		if start, err = loadVerified(rec.LoadPath); err != nil {
			return nil, &InputError{fmt.Errorf("%s: load_path: %w", rec.Path, err)}
		}
		if err := start.sameModel(cfg, false); err != nil {
			return nil, &InputError{fmt.Errorf("%s: load_path: %w\nHINT: set the recipe's model to the checkpoint's (its config.json), or point load_path at a checkpoint of the recipe's model", rec.Path, err)}
		}
	}

	r.kb = rec.World.KB()
	var evalNotes []string // where an OLMES task's requests differ from OLMES's (warnings)
	if len(rec.Eval.Tasks) > 0 {
		if p.Evaluator == nil {
			p.Evaluator = NewOLMESEvaluator("")
			r.p.Evaluator = p.Evaluator
		}
		if oe, ok := p.Evaluator.(*OLMESEvaluator); ok {
			spec := rec.Eval
			spec.World = r.kb
			tasks, err := oe.load(spec) // unknown tasks, missing data: before training
			if err != nil {
				return nil, &InputError{fmt.Errorf("%s: eval.tasks: %w", rec.Path, err)}
			}
			for _, t := range tasks {
				for _, n := range t.Notes {
					evalNotes = append(evalNotes, "eval.tasks: "+n)
				}
			}
		}
	}

	B := rec.MicroBatchSize / rec.SequenceLength
	T := rec.SequenceLength
	if err := checkMemory(rec, cfg, B, T, p.MemoryLimit); err != nil {
		return nil, &InputError{err}
	}
	r.need = memoryNeed(rec, cfg, B, T)

	// The backend before the data: a GPU backend that refuses the model
	// (device memory) should say so before a large dataset is scanned.
	b, err := model.NewBackend(rec.Backend, cfg, B, T)
	if err != nil {
		return nil, &InputError{fmt.Errorf("%s: backend: %w", rec.Path, err)}
	}

	mix := rec.Dataset
	seed := rec.Seed
	if resume != nil {
		mix = resume.State.Mix
	}
	warnings := evalNotes
	loader, err := data.NewLoader(data.LoaderParams{Sources: mix, Tokenizer: tok, SeqLen: T, Seed: seed, Strict: rec.StrictData, DType: rec.DataDType, World: r.kb,
		Warn: func(s string) { warnings = append(warnings, s) }, Progress: p.Progress})
	if err != nil {
		b.Close()
		if resume != nil { // the checkpoint's mix, which may differ from the recipe's
			return nil, &InputError{fmt.Errorf("%s: %s (the checkpoint's mix): %w", filepath.Join(resume.Dir, StateFile), sourceField("mix", mix, err), err)}
		}
		return nil, &InputError{fmt.Errorf("%s: %s: %w", rec.Path, sourceField("dataset.sources", mix, err), err)}
	}
	r.loader = loader
	// the mixes it may switch to later (the anneal's, the soup's, named ones):
	// a missing file there would otherwise stop the run at the switch, after
	// all of stage 1
	for _, m := range laterMixes(rec) {
		if err := loader.CheckMix(m.Sources); err != nil {
			loader.Close()
			b.Close()
			return nil, &InputError{fmt.Errorf("%s: %s: %w", rec.Path, sourceField(m.Name, m.Sources, err), err)}
		}
	}
	// olmo-cookbook's repetition_factor and max_source_ratio, checked as
	// OLMo-core checks them: at the start, before the run directory is made
	// A resume checks them for the whole run again, as OLMo-core does:
	// what it drew up to the checkpoint and what it still plans to draw
	// under its recipe.yaml, which may have been edited since
	check := func() error { return checkDraws(rec, loader.PassTokens) }
	if resume != nil {
		check = func() error { return checkResumed(rec, resumedState(*resume.State, rec), loader.PassTokens) }
	}
	if err := check(); err != nil {
		loader.Close()
		b.Close()
		return nil, &InputError{fmt.Errorf("%s: %w", rec.Path, err)}
	}
	// validation sets: their files are checked and read before anything trains
	if r.val, err = loadValSets(rec, tok, r.kb, func(s string) { warnings = append(warnings, s) }); err != nil {
		loader.Close()
		b.Close()
		return nil, err
	}
	if resume != nil {
		if err := loader.Restore(resume.State.Loader); err != nil {
			loader.Close()
			b.Close()
			return nil, &InputError{fmt.Errorf("%s: data position: %w", resume.Dir, err)}
		}
	}
	r.backend = b
	r.trainer = model.NewTrainerOn(b, model.TrainerParams{Opt: rec.Optimizer.AdamW(), MaxGradNorm: maxNorm(rec), ZLoss: zLoss(rec)})

	r.spikeLoss, r.spikeGrad = NewSpikeDetector(rec.Spikes), NewSpikeDetector(rec.Spikes)
	r.st = CheckpointState{Phase: "stage1", TotalTokens: rec.PlannedTokens(), Mix: mix, Backend: rec.Backend}
	// The weights (and moments) stream from their files into the backend:
	// every check of the checkpoint ran in loadCheckpoint, so an error here
	// is a file that changed or failed to read since, and the backend it
	// left partly loaded is closed with the run.
	switch {
	case resume != nil:
		if err := resume.load(b, true); err != nil {
			r.close()
			return nil, fmt.Errorf("%s: %w", resume.Dir, err)
		}
		r.st = resumedState(*resume.State, rec)
		// the checkpoints it writes say where it trained last
		r.st.Backend = rec.Backend
		// the checkpoint resumed from is this step's: a checkpoint asked for
		// before the first step is answered with it, not written again
		r.lastCkpt = r.st.Step
		// the summary covers the whole run: time and throughput count on
		r.before = resume.State.Seconds
		r.stepTime, r.stepToks = time.Duration(resume.State.StepSeconds*float64(time.Second)), resume.State.StepTokens
		r.spikeLoss.Restore(r.st.SpikesLoss)
		r.spikeGrad.Restore(r.st.SpikesGrad)
	case start != nil:
		// Adam state carries over where the checkpoint has it (olmo2.md §5)
		if err := start.load(b, true); err != nil {
			r.close()
			return nil, fmt.Errorf("%s: load_path: %w", rec.Path, err)
		}
		what := "weights; Adam state starts afresh"
		if start.hasOptim() {
			what = "weights and Adam state"
		}
		startMsg = fmt.Sprintf("load_path: %s from %s", what, start.Dir)
		if rec.StartAsAnneal {
			lr0, from := rec.Optimizer.LR, "optimizer.lr"
			if start.State != nil && start.State.LR > 0 {
				lr0, from = start.State.LR, "the checkpoint's last LR, not optimizer.lr" // OLMo-core's get_lr_from_checkpoint
			}
			r.st.Phase, r.st.AnnealStart, r.st.AnnealTokens, r.st.AnnealLR0 = "anneal", 0, r.st.TotalTokens, lr0
			// say which LR the anneal starts from: a recipe's optimizer.lr is
			// not it when the checkpoint has its own
			startMsg += fmt.Sprintf("; anneal: LR %.3g (%s) → 0 over %d tokens", lr0, from, r.st.TotalTokens)
		}
	default:
		// initialised on the backend a chunk at a time: the same values as
		// model.Init into a host copy of the model
		model.InitBackend(b, rec.Seed, model.NewStreamBuf(model.NewLayout(cfg).Size()))
	}

	// run directory
	if r.Dir == "" {
		root := p.RunsDir
		if root == "" {
			root = "runs"
		}
		// --runs is the user's path: one that is a file, or under one, is
		// bad input (exit 2), named as the runs directory
		if err := os.MkdirAll(root, 0o755); err != nil {
			r.close()
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, &InputError{fmt.Errorf("runs directory %s: %w; HINT: --runs names the directory that holds run directories", root, err)}
		}
		name := p.Name
		if name == "" {
			// A fresh directory: two runs of one recipe started in the same
			// second get -2, -3, … rather than one directory between them.
			if name, err = newRunDir(root, fmt.Sprintf("%s-%s", unsafeName.ReplaceAllString(rec.Name, "_"), time.Now().Format("20060102-150405"))); err != nil {
				r.close()
				return nil, err
			}
		}
		r.Name, r.Dir = name, filepath.Join(root, name)
		if err := os.MkdirAll(r.Dir, 0o755); err != nil {
			r.close()
			return nil, err
		}
		if err := r.lock(); err != nil { // a --name that another process trains
			r.close()
			return nil, lockFailure(err)
		}
		if err := checkNoRun(r.Dir); err != nil { // a --name that already holds a run
			r.close()
			return nil, &InputError{err}
		}
		if err := model.WriteFileAtomic(filepath.Join(r.Dir, RecipeFile), rec.YAML()); err != nil {
			r.close()
			return nil, err
		}
	} else {
		for _, f := range []string{MetricsFile, EventsFile, EvalsFile} {
			if err := truncateJSONLAfter(filepath.Join(r.Dir, f), r.st.Step); err != nil {
				r.close()
				return nil, err
			}
		}
		if err := dropAbandonedSoup(r.Dir, r.st.Step); err != nil {
			r.close()
			return nil, err
		}
		if err := dropSoupsAfter(r.Dir, r.st.Step); err != nil {
			r.close()
			return nil, err
		}
		removeSoupLeftovers(r.Dir)
		// the run's weights at the checkpoint may have been evaluated before
		// it was written (an interval evaluation at that step): not again,
		// and the summary has its scores
		if why, scores, ok := evaluatedAt(filepath.Join(r.Dir, EvalsFile), r.Name, r.st.Step); ok {
			// at a step where the run evaluates on its own (its last, the
			// anneal's or soup's start), that evaluation is this one: its
			// records say so, as an evaluation taken there now would be
			// labelled (an olmolab from before one evaluation per step
			// labelled it "interval" and was stopped before its second)
			if b := r.boundaryEval(); b != "" && genericEval(why) {
				if err := relabelEvals(filepath.Join(r.Dir, EvalsFile), r.Name, r.st.Step, why, b); err != nil {
					r.close()
					return nil, err
				}
				why = b
			}
			r.evalStep, r.evalWhy = r.st.Step, why
			r.lastEval, r.lastWhen = scores, evalWhen(why, r.st.Step)
		}
		// The summary covers the whole run, not just this process's part.
		var dmg Damage
		if r.lossHist, dmg, err = readStepLosses(filepath.Join(r.Dir, MetricsFile)); err != nil {
			r.close()
			return nil, err
		}
		if w := dmg.Warning(filepath.Join(r.Dir, MetricsFile)); w != "" {
			warnings = append(warnings, w+"; the summary's losses leave it out")
		}
	}
	for _, x := range []struct {
		w    **jsonlWriter
		name string
	}{{&r.metrics, MetricsFile}, {&r.events, EventsFile}, {&r.evals, EvalsFile}} {
		if *x.w, err = openJSONL(filepath.Join(r.Dir, x.name)); err != nil {
			r.close()
			return nil, err
		}
	}
	r.st.Run = r.Name
	r.ids = make([]int32, rec.GlobalBatchSize)
	r.labels = make([]int32, rec.GlobalBatchSize)
	r.peak = p.PeakFLOPS
	if pk, ok := r.backend.(interface{ PeakFLOPS() float64 }); ok && r.peak == 0 {
		r.peak = pk.PeakFLOPS() // a GPU engine's device's, 0 where not known
	} else if r.peak == 0 && rec.Backend == "cpu" {
		r.peak = CPUPeakFLOPS()
	}
	r.ctx = ctx
	if resume != nil {
		forked := ""
		if fi, ok := ReadFork(r.Dir); ok && r.st.Step == fi.Step+fi.SkipSteps {
			forked = "; forked from " + ForkLine(fi)
		}
		r.emit(Event{Type: EvResumed, Checkpoint: resumeFrom, TotalTokens: r.st.TotalTokens, Mix: r.st.Mix,
			Message: fmt.Sprintf("from checkpoint %s (step %d, %s tokens)%s%s", resumeFrom, r.st.Step, HumanCount(r.st.Tokens), movedTo(resume.State.Backend, rec.Backend), forked)})
		if rec.Checkpoint.Dtype == "BF16" {
			// the weights were stored rounded; the Adam moments are float32
			warnings = append(warnings, "checkpoint.dtype BF16: the weights come back rounded to bfloat16, so from here the losses differ slightly from an uninterrupted run's (the batches are the same); checkpoint.dtype F32 resumes exactly")
		}
	}
	if startMsg != "" {
		r.emit(Event{Type: EvPhase, Change: ChangeLoadPath, Message: startMsg, TotalTokens: r.st.TotalTokens, Mix: r.st.Mix})
	}
	if skipped != "" {
		warnings = append(warnings, skipped)
	}
	for _, w := range append(rec.Warnings, warnings...) {
		r.emit(Event{Type: EvWarning, Message: w})
	}
	started = true
	go r.loop()
	return r, nil
}

// tokensLeft is what the run has yet to train from its current step, in
// stage 1 or its anneal: its own tokens to TotalTokens and, while the
// recipe's soup is still ahead, its ingredients' (Event.TokensLeft).
func (r *Run) tokensLeft() int64 {
	left := max(r.st.TotalTokens-r.st.Tokens, 0)
	if rec := r.Recipe; r.st.Phase == "stage1" && rec.Soup.Ingredients > 0 {
		k, n := r.soupSize(Action{Kind: ActSoup}, r.st.TotalTokens)
		left += int64(k) * n
	}
	return left
}

// wholeSteps rounds a token budget up to whole optimizer steps, where a run
// (or an anneal, or a soup ingredient) really ends: every step takes
// global_batch_size tokens, so progress never passes its total.
func wholeSteps(n int64, rec *Recipe) int64 {
	gb := int64(rec.GlobalBatchSize)
	if gb <= 0 || n <= 0 {
		return n
	}
	return (n + gb - 1) / gb * gb
}

// lock writes the run directory's LockFile for this process.
func (r *Run) lock() error {
	if err := acquireLock(r.Dir, r.p.LockMode); err != nil {
		return explainLockError(r.Dir, err)
	}
	r.locked = true
	r.stopBeat = heartbeat(r.Dir, os.Getpid())
	r.dirID, _ = os.Stat(r.Dir)
	return nil
}

// explainLockError says what a failure to write the lock means for the run:
// the first write into its directory is the lock's.
func explainLockError(dir string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%s: the run directory is not writable (a run writes its lock, metrics and checkpoints there): %w", dir, err)
	}
	if errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("%s: the run directory is on a read-only file system (a run writes its lock, metrics and checkpoints there): %w\nHINT: remount it read-write, or copy the run to a writable disk and give that directory", dir, err)
	}
	return WriteHint(err, dir, "run the command again")
}

// lockFailure is a lock that could not be taken as StartRun returns it: a
// run another process holds, a directory not writable, is the person's
// input (exit 2); a full disk is not (exit 1), which was exit 2 with no
// word of what to do.
func lockFailure(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return err
	}
	return &InputError{err}
}

// unlock removes the LockFile this process wrote; it runs once the run has
// ended, however it ended.
func (r *Run) unlock() {
	if r.locked {
		r.stopBeat()
		RemoveLock(r.Dir, os.Getpid())
		r.locked = false
	}
}

// movedTo is what a resume's event adds when the run continues on another
// engine than the one that wrote its checkpoint.
func movedTo(from, to string) string {
	if from == "" || from == to {
		return ""
	}
	return fmt.Sprintf(", moved from backend %s to %s", from, to)
}

func backendAvailable(name string) bool {
	for _, n := range model.BackendNames() {
		if n == name {
			return true
		}
	}
	return false
}

// backendHint says what to do about a backend this build lacks. A cuda
// recipe's model is named with its size; the way to its architecture on a
// CPU is a proxy recipe, since --set backend=cpu on an olmo2_* recipe still
// wants its OLMES data, its token files and a step of millions of tokens.
func backendHint(rec *Recipe) string {
	if strings.HasPrefix(rec.Backend, "cuda") {
		return fmt.Sprintf("this recipe needs an NVIDIA GPU (%s, %s parameters). HINT: on a machine with one, run scripts/setup-cuda.sh and build with `go build -tags cuda .` (README: GPU; README: The shipped recipes says how long the olmo2_* recipes take there); on this CPU the same architecture trains at proxy scale: olmolab --batch proxy_olmo2_14M",
			rec.ModelName, HumanCount(rec.Model.NumParams()))
	}
	return "HINT: set backend: cpu"
}

func maxNorm(r *Recipe) float64 {
	if r.Optimizer.MaxGradNorm <= 0 {
		return -1
	}
	return r.Optimizer.MaxGradNorm
}

func zLoss(r *Recipe) float64 {
	if r.ZLoss == 0 {
		return -1
	}
	return r.ZLoss
}

// ResolvedModel is the model a run of the recipe trains (resolveModel): its
// vocabulary, EOS and padding ids the tokenizer's. A tokenizer olmolab does
// not know, or a vocabulary smaller than the tokenizer's, is a *RecipeError
// on tokenizer or model, as the run's start refuses it.
func (r *Recipe) ResolvedModel() (model.Config, error) {
	tok, err := data.NewTokenizer(r.Tokenizer)
	if err != nil {
		return model.Config{}, &RecipeError{File: r.Path, Field: "tokenizer", Msg: err.Error()}
	}
	cfg, err := resolveModel(r, tok)
	if err != nil {
		return model.Config{}, &RecipeError{File: r.Path, Field: "model", Msg: err.Error()}
	}
	return cfg, nil
}

// resolveModel fits the recipe's model to its tokenizer: the cpu_* presets and
// inline models without a vocab_size of the recipe's take the tokenizer's;
// others must hold it.
func resolveModel(rec *Recipe, tok data.Tokenizer) (model.Config, error) {
	cfg := rec.Model
	eos, pad := int(tok.EOS()), int(tok.PAD())
	if !rec.vocabGiven && (len(rec.ModelName) > 4 && rec.ModelName[:4] == "cpu_" || rec.ModelName == "inline" && cfg.VocabSize == model.WorldVocab) {
		cfg.VocabSize = tok.VocabSize()
	}
	if cfg.VocabSize < tok.VocabSize() {
		return cfg, fmt.Errorf("vocab_size %d is smaller than tokenizer %s's %d; HINT: set model.vocab_size to at least %d, or leave it out of a cpu_* preset or inline model, which then takes the tokenizer's",
			cfg.VocabSize, tok.Name(), tok.VocabSize(), tok.VocabSize())
	}
	cfg.EOSTokenID, cfg.PadTokenID = &eos, &pad
	if cfg.MaxPositionEmbeddings < rec.SequenceLength {
		cfg.MaxPositionEmbeddings = rec.SequenceLength
	}
	return cfg, cfg.Validate()
}

// checkMemory refuses a run the machine cannot hold (memoryNeed): the CPU
// engine's model, optimizer and activations and the engine that scores
// evaluation tasks, the buffers checkpoints, resumes, soups and evaluation
// copies stream through (streamBytes), and on every backend the global
// batch's ids and labels, which the lab holds on the host (batchBytes), the
// validation sets, the process itself and the collector's headroom. The GPU
// backend checks its own device memory when it starts.
func checkMemory(rec *Recipe, cfg model.Config, B, T int, limit int64) error {
	need := memoryNeed(rec, cfg, B, T)
	if limit == 0 {
		limit = MemAvailable()
	}
	if limit <= 0 || need <= MemoryBudget(limit) {
		return nil
	}
	if rec.Backend != "cpu" {
		return fmt.Errorf("%s: the token ids and labels of one global batch of %d tokens (global_batch_size), the model's layout (%d layers) and the checkpoint buffers need about %.1f GiB of host memory, but only %.1f GiB is available; HINT: lower global_batch_size",
			rec.Path, rec.GlobalBatchSize, cfg.NumHiddenLayers, float64(need)/(1<<30), float64(limit)/(1<<30))
	}
	return fmt.Errorf("%s: the model, optimizer, activations and global batch need about %.1f GiB at micro-batch %d×%d and global_batch_size %d, but only %.1f GiB is available; HINT: lower rank_microbatch_size (gradient accumulation keeps the global batch), lower global_batch_size, or pick a smaller model",
		rec.Path, float64(need)/(1<<30), B, T, rec.GlobalBatchSize, float64(limit)/(1<<30))
}

// batchBytes is the host memory of one global batch's token ids and labels
// (int32 each), which the lab fills for every step whatever the backend.
func batchBytes(rec *Recipe) int64 { return 2 * 4 * int64(rec.GlobalBatchSize) }

// streamBytes bounds the host buffers that move the model between the
// engine and files or another engine, whatever the model's size: a save's
// and a resume's model.NewStreamBuf buffer, a soup's two (the running
// average and an ingredient's chunk) and an evaluation copy's, each
// model.StreamChunk values or the model's size when it is smaller, and the
// safetensors reader's conversion buffer and writer's buffer (1 MiB each).
// Before they streamed, a checkpoint save held 20 bytes per parameter on the
// host, a soup about 20, a resume 12.
func streamBytes(cfg model.Config) int64 {
	n := cfg.NumParams() // counted, not a layout built: a config may name billions of layers
	if n < 0 || n > model.StreamChunk {
		n = model.StreamChunk
	}
	return 5*4*n + 2<<20
}

// layoutBytes is the host memory of a model.Layout's tables (a name, shape
// and offset per tensor), which every backend and the lab build: 1.5 KB per
// layer, measured (olmo2_7B: 48 KB). Only a config with absurdly many
// layers makes it count.
func layoutBytes(cfg model.Config) int64 { return 1536 * int64(max(cfg.NumHiddenLayers, 0)) }

// processBytes is ProcessMemory with rec's tokenizer.
func processBytes(rec *Recipe) int64 {
	vocab := 100352 // dolma2's padded vocabulary, the largest, for a name NewTokenizer refuses
	if tok, err := data.NewTokenizer(rec.Tokenizer); err == nil {
		vocab = tok.VocabSize()
	}
	return ProcessMemory(vocab)
}

// ProcessMemory is the host memory of the olmolab process itself before any
// model exists: the Go runtime, the program's code, the recipe's data readers
// and evaluation tasks (24 MiB), and a tokenizer of vocab tokens, whose tables
// grow with its vocabulary (176 bytes per token: dolma2's 100,278 tokens are
// 17 MiB; 0 where no tokenizer is loaded). Measured as peak RSS less the
// engine's buffers in 2-step runs, 2026-11-29: 23 MiB with the world tokenizer
// (cpu_s), 39 MiB with dolma2 (olmo2_14M). A run's memory check counts it
// (MemoryNeed), and so do bench's and train's (checkEngineMemory).
func ProcessMemory(vocab int) int64 { return 24<<20 + 176*int64(max(vocab, 0)) }

// valBytes is the host memory of the validation sets (eval.val): the ids and
// labels (int32 each) of Tokens per source, in whole rows.
func valBytes(rec *Recipe) int64 {
	v := rec.Eval.Val
	if v.Tokens <= 0 || rec.SequenceLength <= 0 {
		return 0
	}
	T := int64(rec.SequenceLength)
	rows := (v.Tokens + T - 1) / T // whole rows: at most one more than ReadValidation's
	return 8 * rows * T * int64(len(v.Sources))
}

// scorerBytes bounds the host memory of the engine that scores evaluation
// tasks (OLMESEvaluator.backendFor), 0 without tasks. On the CPU, a
// model.CPU Scorer (on cpu-f64 a CPU[float64] one, about twice the bytes:
// model.EstimateCPU64ScorerMemory), sharing the run's parameters, of rows as
// long as the longest request rounded up to 16 and as many as hold B·T
// tokens. The longest request is known only once the tasks are encoded, so
// this is the most over every length below T (short rows cost more than
// their tokens: attention tiles are 64 positions). On another backend, a GPU engine's
// Scorer, only its host staging of the token ids and labels (int32 each, at
// most B·T of them): its activations borrow the training engine's device
// memory between steps (gpu.Engine.Scorer), so the device plan that fits the
// run fits its evaluations too.
func scorerBytes(rec *Recipe, cfg model.Config, B, T int) int64 {
	if len(rec.Eval.Tasks) == 0 {
		return 0
	}
	estimate := model.EstimateCPUScorerMemory
	switch rec.Backend {
	case "cpu":
	case "cpu-f64":
		estimate = model.EstimateCPU64ScorerMemory
	default:
		return 2 * 4 * int64(B) * int64(T)
	}
	var most int64
	for l := 16; l < T; l += 16 {
		be, te := scorerShape(B, T, l)
		if te < T {
			most = max(most, estimate(cfg, be, te))
		}
	}
	return most
}

// gcHeadroom is the garbage the Go heap may hold on top of what lives: 1/16
// of the rest of the estimate. Left to GOGC=100, the heap grows to twice
// what lives before a collection, so over a long run the garbage of
// evaluations, events and checkpoints would take as much again as the model;
// a --batch run sets its soft memory limit (debug.SetMemoryLimit) to the
// estimate so the collector runs before that (cmd_batch.go).
func gcHeadroom(live int64) int64 { return live / 16 }

// memoryNeed is the host memory checkMemory counts: on the CPU backends
// their engine's (model.EstimateEngineMemory); on every backend batchBytes, streamBytes,
// layoutBytes, valBytes, processBytes, scorerBytes (the evaluation
// scorer's: activations on the CPU, token staging on a GPU), and
// gcHeadroom over them all. Another backend keeps the model on its device: the lab
// initialises, loads, checkpoints and averages it through streamBytes'
// buffers.
func memoryNeed(rec *Recipe, cfg model.Config, B, T int) int64 {
	live := satAdd(streamBytes(cfg), batchBytes(rec), layoutBytes(cfg), valBytes(rec), processBytes(rec), scorerBytes(rec, cfg, B, T))
	if engine, ok := model.EstimateEngineMemory(rec.Backend, cfg, B, T); ok {
		live = satAdd(live, engine)
	}
	return satAdd(live, gcHeadroom(live))
}

// satAdd sums non-negative sizes, stopping at math.MaxInt64 (an estimate of
// an absurd config) rather than overflowing to a small or negative number.
func satAdd(xs ...int64) int64 {
	var s int64
	for _, x := range xs {
		if x > math.MaxInt64-s {
			return math.MaxInt64
		}
		s += x
	}
	return s
}

// MemoryNeed is about how many bytes of host memory a run of rec takes at
// most (its peak resident memory): on the CPU backends its parameters,
// gradients, AdamW moments and activations at its micro-batch
// (model.EstimateCPUMemory, or EstimateCPU64Memory on cpu-f64) and the engine its evaluation tasks are scored on
// (scorerBytes); on every backend the global batch's ids and labels, the
// buffers checkpoints and soups stream through, the validation sets, the
// process and the Go collector's headroom: the figure StartRun checks. A GPU
// backend checks its own device memory.
func MemoryNeed(rec *Recipe) (int64, error) {
	cfg, err := rec.ResolvedModel()
	if err != nil {
		return 0, err
	}
	return memoryNeed(rec, cfg, rec.MicroBatchSize/rec.SequenceLength, rec.SequenceLength), nil
}

// MemoryBudget is what runs may take of avail bytes of free memory: 90%, the
// rest left to the system and the page cache.
func MemoryBudget(avail int64) int64 { return avail * 9 / 10 }

// MemoryNeed is the host memory the run's memory check counted for it
// (MemoryNeed(rec)): what it holds at most, garbage included, as long as the
// Go collector keeps the heap under it (SoftMemoryLimit).
func (r *Run) MemoryNeed() int64 { return r.need }

// SoftMemoryLimit is the Go runtime's soft memory limit
// (debug.SetMemoryLimit) that keeps a process holding one run of MemoryNeed
// need bytes under need: the runtime counts its own memory, not the
// program's code and other mappings (about 10 MiB of olmolab's resident
// memory), so 16 MiB less.
func SoftMemoryLimit(need int64) int64 { return max(need-16<<20, need/2) }

// SessionMemoryLimit is the soft memory limit for an interactive session
// (the TUI) while it trains one run of MemoryNeed need: the run's
// SoftMemoryLimit, as --batch sets it, plus what the session held besides the
// run, held bytes of the runtime's memory when the run started, twice over
// (the UI's own heap grows between collections, as GOGC lets it) and at
// least 256 MiB (the live charts' series grow with the run's steps, and the
// session reads other runs back). Without it the run's garbage could grow
// the heap to twice what lives, beyond what its memory check counted.
func SessionMemoryLimit(need, held int64) int64 {
	return satAdd(SoftMemoryLimit(need), max(2*held, 256<<20))
}

// Do hands an action to the run; it never blocks. It reports an error when the
// run has ended or too many actions are waiting.
func (r *Run) Do(a Action) error {
	r.actMu.Lock()
	defer r.actMu.Unlock()
	if r.actEnded {
		return errors.New("the run has ended")
	}
	select {
	case r.actions <- a:
		return nil
	default:
		return errors.New("too many actions waiting")
	}
}

// Done is closed when the run's goroutine has ended.
func (r *Run) Done() <-chan struct{} { return r.done }

// Wait blocks until the run ends and returns its summary and error.
func (r *Run) Wait() (RunSummary, error) {
	<-r.done
	return r.summary, r.err
}

// emit publishes e and appends it to events.jsonl (step events go to
// metrics.jsonl instead).
func (r *Run) emit(e Event) {
	e.Time = time.Now()
	e.Run = r.Name
	if e.Step == 0 {
		e.Step = r.st.Step
	}
	if e.Tokens == 0 {
		e.Tokens = r.st.Tokens
	}
	if e.Phase == "" {
		e.Phase = r.st.Phase
	}
	if e.Type == EvStep {
		if r.metrics != nil {
			r.metrics.write(e)
		}
	} else if r.events != nil {
		r.events.write(e)
	}
	r.Events.Publish(e)
}

func (r *Run) close() {
	if r.loader != nil {
		r.loader.Close()
	}
	if rel, ok := r.p.Evaluator.(interface{ Release(model.Backend) }); ok && r.backend != nil {
		rel.Release(r.backend) // a session's evaluator outlives the run
	}
	if r.backend != nil {
		r.backend.Close()
	}
	for _, w := range []*jsonlWriter{r.metrics, r.events, r.evals} {
		if w != nil {
			w.close()
		}
	}
	r.unlock()
	// A front end keeps an ended Run to show it (the interactive lab, until
	// its next run): its engine, optimizer state, batch and validation sets
	// go now, so that the collector can return them before that next run's
	// memory check.
	r.loader, r.backend, r.trainer = nil, nil, nil
	r.ids, r.labels, r.val, r.kb = nil, nil, nil, nil
}

// loop is the run's goroutine.
func (r *Run) loop() {
	defer close(r.done)
	r.started = time.Now()
	state := "finished"
	err := r.train()
	switch {
	case errors.Is(err, ErrDiverged):
		state = "diverged"
	case errors.Is(err, ErrInterrupted):
		state = "interrupted"
	case err != nil:
		state = "failed"
		err = explainWriteError(err, r.Dir)
		r.emit(Event{Type: EvError, Message: err.Error()})
	case r.stopping:
		state = "stopped"
	}
	// what was asked for as the run ended (during its final evaluation,
	// its last checkpoint, its recipe's soup's last evaluations) is
	// answered, not dropped; from here on Do refuses
	r.actMu.Lock()
	r.actEnded = true
	r.actMu.Unlock()
	r.refuseAll(func(ActionKind) string { return fmt.Sprintf("the run has ended (%s at step %d)", state, r.st.Step) })
	r.summary = r.summarize(state)
	if werr := model.WriteFileAtomic(filepath.Join(r.Dir, SummaryFile), mustJSON(r.summary)); werr != nil {
		// the run directory's other files are whole; a resume writes it
		r.emit(Event{Type: EvWarning, Message: fmt.Sprintf("the run's summary is not written: %v", werr)})
	}
	r.unlock() // before the done event: whoever sees it finds the run unlocked
	r.emit(Event{Type: EvDone, State: state, Summary: &r.summary, Message: errString(err)})
	r.err = err
	r.close()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (r *Run) train() error {
	rec := r.Recipe
	if rec.StartAsAnneal && rec.Soup.Ingredients > 0 && r.st.Step == 0 {
		// a stage-2 recipe with a soup: every ingredient anneals from load_path
		return r.runSoup(Action{Kind: ActSoup, Tokens: rec.MaxTokens}, true)
	}
	if rec.Eval.AtAnneal && r.st.Phase == "anneal" && r.st.AnnealStart > 0 && r.st.Tokens == r.st.AnnealStart && r.evalStep != r.st.Step {
		// resumed at the start of an anneal asked for (a) whose evaluation
		// before it Ctrl-C interrupted (it records nothing, and the anneal
		// went on): the weights are still those before the anneal, so it
		// is made now, or never
		r.evaluate("before anneal")
	}
	for {
		if err := r.applyActions(); err != nil {
			return err
		}
		for r.paused && !r.stopping {
			select {
			case a := <-r.actions:
				if err := r.apply(a); err != nil {
					return err
				}
			case <-r.ctx.Done():
			}
			if r.ctx.Err() != nil {
				break
			}
		}
		if r.ctx.Err() != nil {
			if _, err := r.checkpoint(); err != nil {
				return err
			}
			return ErrInterrupted
		}
		if r.stopping {
			_, err := r.checkpoint()
			return err
		}
		if err := r.scheduledSwitches(); err != nil {
			return err
		}
		// phase boundaries
		b := r.boundary()
		if b == annealBoundary {
			if rec.Eval.AtAnneal {
				// startAnneal's, made first: interrupted, the run ends at
				// this step before its anneal, which a resume starts
				// after evaluating again
				if r.evaluate("before anneal"); r.ctx.Err() != nil {
					continue
				}
			}
			r.st.AutoAnnealed = true
			n := rec.Anneal.Tokens
			if rec.Anneal.AutoAt+rec.Anneal.Tokens == rec.MaxTokens {
				// the anneal starts at the step boundary after auto_at;
				// planned to end at max_tokens, it ends at max_tokens' last
				// step, not a step later
				n = r.st.TotalTokens - r.st.Tokens
			}
			if err := r.startAnneal(n, rec.Anneal.Mix); err != nil {
				return err
			}
			b = r.boundary()
		}
		switch b {
		case soupBoundary:
			// the soup is the run's last act; a run resumed from the
			// soup's base checkpoint (AutoAnnealed already set) makes it again
			if rec.Anneal.AutoAt > 0 && r.st.Tokens >= rec.Anneal.AutoAt {
				r.st.AutoAnnealed = true
			}
			return r.runSoup(Action{Kind: ActSoup}, true)
		case endBoundary:
			r.evaluate("final")
			// what was asked for meanwhile: the run ends now
			r.refuseAll(ActionState{Ending: true}.WhyNot)
			if _, err := r.checkpoint(); err != nil {
				return err
			}
			if r.ctx.Err() != nil {
				return ErrInterrupted // the final evaluation, interrupted, is a resume's to make
			}
			return r.logErr() // the final scores not written: a resume evaluates again
		}
		if err := r.step(); err != nil {
			return err
		}
		if err := r.logErr(); err != nil {
			// its metrics, events or scores lost from here: stopped
			// without a checkpoint, a resume trains the steps since the
			// latest one again and writes them
			return err
		}
		if iv := rec.Checkpoint.IntervalSteps; iv > 0 && r.st.Step%int64(iv) == 0 {
			if _, err := r.checkpoint(); err != nil {
				return err
			}
		}
		if iv := rec.Eval.IntervalSteps; iv > 0 && r.st.Step%int64(iv) == 0 {
			r.evaluate("interval")
		}
	}
}

// logErr is the first failed write of the run's JSONL files (metrics,
// events, evaluations), nil while they are whole.
func (r *Run) logErr() error {
	for _, w := range []*jsonlWriter{r.metrics, r.events, r.evals} {
		if w != nil && w.err != nil {
			return w.err
		}
	}
	return r.dirErr()
}

// dirErr says when the run directory is no longer the one the run locked:
// removed (an rm -rf, a cleanup script), moved, replaced, or gone stale (an
// NFS server's ESTALE). The run's open files are then unlinked ones, whose
// writes succeed and reach no one, and its next checkpoint made the
// directory again, holding checkpoints and no recipe.yaml, metrics or
// events, while the run finished as if nothing had happened. One stat per
// step: a microsecond against a step's milliseconds.
func (r *Run) dirErr() error {
	if r.dirID == nil {
		return nil
	}
	fi, err := os.Stat(r.Dir)
	if err == nil && os.SameFile(fi, r.dirID) {
		return nil
	}
	why := "was removed, moved or replaced by another"
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		why = fmt.Sprintf("can no longer be read (%v)", err)
	}
	return fmt.Errorf("%s: the run directory %s while the run trained: its metrics, events and checkpoints would be written nowhere, so it stopped and writes nothing more\nHINT: if it was moved, olmolab --batch --resume NEWDIR continues the run from the latest checkpoint there; if it was removed, the run is lost: start it again", r.Dir, why)
}

// WriteHint adds to err, a write under dir that failed, what to do when the
// disk is full (or over quota) or the file system read-only: make room (or
// make it writable), then what then says. Other errors are returned as
// they are. A command whose writes go all or nothing (eval --record,
// export) uses it; a run says more (explainWriteError).
func WriteHint(err error, dir, then string) error {
	switch {
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w\nHINT: free space on the disk of %s, then %s", err, dir, then)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%w\nHINT: the file system of %s is read-only: make it writable (or use another disk), then %s", err, dir, then)
	}
	return err
}

// explainWriteError adds to err, an error the run ended with, what to do
// when it is a full disk (or quota): the run directory holds whole files
// up to its latest checkpoint, which a resume continues from.
func explainWriteError(err error, dir string) error {
	fix := "free space on the disk of " + dir
	switch {
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
	case errors.Is(err, syscall.EROFS):
		// a file system remounted read-only after a disk error, an NFS
		// export changed: the run's files up to the failed write are whole
		fix = "make the file system of " + dir + " writable again (it became read-only: a disk error, a remount)"
	default:
		return err
	}
	steps, _ := listCheckpoints(dir)
	if len(steps) == 0 { // --resume refuses a run without one
		return fmt.Errorf("%w\nHINT: %s, then start the run again: it has no checkpoint to resume from (move %s away, or choose another --name)", err, fix, dir)
	}
	return fmt.Errorf("%w\nHINT: %s, then olmolab --batch --resume %s continues the run from its latest checkpoint, %s (the steps after it are trained again)", err, fix, dir, checkpointName(steps[len(steps)-1]))
}

// boundary is what a run does on its own at a step boundary.
type boundary int

const (
	noBoundary     boundary = iota
	annealBoundary          // anneal.auto_at reached: the recipe's anneal starts
	soupBoundary            // the recipe's soup, the run's last act
	endBoundary             // the token budget reached: the final evaluation, the run ends
)

// boundary says what the run does on its own at the current step boundary
// (train acts on it).
func (r *Run) boundary() boundary {
	rec := r.Recipe
	if r.st.Phase == "stage1" && rec.Anneal.AutoAt > 0 && r.st.Tokens >= rec.Anneal.AutoAt {
		switch {
		case rec.Soup.Ingredients > 0:
			return soupBoundary
		case !r.st.AutoAnnealed:
			return annealBoundary
		}
	}
	if r.st.Tokens >= r.st.TotalTokens {
		if r.st.Phase == "stage1" && rec.Soup.Ingredients > 0 {
			return soupBoundary
		}
		return endBoundary
	}
	return noBoundary
}

// boundaryEval names the evaluation the run makes on its own at the current
// step boundary: "final", "before anneal" or "before soup" (the last two with
// eval.at_anneal), "" where it makes none. An interval's or a person's
// evaluation at that step carries this label, and is the step's only one.
func (r *Run) boundaryEval() string {
	switch r.boundary() {
	case endBoundary:
		return "final"
	case annealBoundary:
		if r.Recipe.Eval.AtAnneal {
			return "before anneal"
		}
	case soupBoundary:
		if r.Recipe.Eval.AtAnneal {
			return "before soup"
		}
	}
	return ""
}

// lr is the learning rate of the step that ends at `tokens`.
func (r *Run) lr(tokens int64) float64 {
	if r.st.Phase == "anneal" {
		return AnnealLR(r.st.AnnealLR0, tokens-r.st.AnnealStart, r.st.AnnealTokens)
	}
	return r.Recipe.Schedule.LR(r.Recipe.Optimizer.LR, tokens, r.Recipe.MaxTokens)
}

// repeatWarning says that a file source, given at field ("anneal.mix[0]"),
// ran out and starts over at step: "from step N <what>" ("the run trains on
// its data again"), with a hint of what gives it enough (more data, and
// fix). The run and a soup's ingredients say it alike.
func repeatWarning(field string, rp data.Repeat, step int64, what, fix string) string {
	size := "after " + HumanCount(rp.Tokens) + " tokens"
	if !rp.Exact {
		size = "within its first " + HumanCount(rp.Tokens) + " tokens"
	}
	return fmt.Sprintf("%s: source %q ran out %s and starts over: from step %d %s (OLMo-core refuses to repeat a source); HINT: give it more data %s",
		field, rp.Source, size, step, what, fix)
}

// step runs one optimizer step and publishes its metrics.
func (r *Run) step() error {
	rec := r.Recipe
	T := rec.SequenceLength
	if err := r.loader.Next(r.ids); err != nil {
		return err
	}
	for _, rp := range r.loader.TakeRepeats() { // once per source; nil (no allocation) nearly always
		field, given := r.mixField(r.loader.Mix(), "the run's mix")
		field = entryField(field, given, rp.Source)
		r.emit(Event{Type: EvWarning, Step: r.st.Step + 1, Message: repeatWarning(field, rp, r.st.Step+1, "the run trains on its data again", "or a lower target_ratio")})
	}
	for _, w := range r.loader.TakeWarnings() { // malformed lines past what the start read; nil nearly always
		r.emit(Event{Type: EvWarning, Step: r.st.Step + 1, Message: w})
	}
	fillLabels(r.labels, r.ids, T)
	tokens := r.st.Tokens + int64(len(r.ids))
	lr := r.lr(tokens)
	t0 := time.Now()
	res := r.trainer.Step(r.ids, r.labels, lr)
	dt := time.Since(t0)
	r.st.Step++
	r.st.Tokens = tokens
	r.st.LR = lr
	r.stepTime += dt
	r.stepToks += int64(len(r.ids))
	tps := float64(len(r.ids)) / dt.Seconds()
	e := Event{Type: EvStep, Loss: res.Loss, ZLoss: res.ZLoss, GradNorm: res.GradNorm, LR: lr, TokensPerSec: tps,
		MFU: MFU(r.cfg, T, tps, r.peak), Skipped: res.Skipped, TotalTokens: r.st.TotalTokens, TokensLeft: r.tokensLeft(),
		Sources: r.loader.TokensBySource()}
	if res.Skipped {
		r.st.Skipped++
		r.emit(Event{Type: EvError, Change: ChangeStepSkipped, Message: fmt.Sprintf("step %d skipped: loss %v, grad norm %v (not finite); weights and optimizer untouched", r.st.Step, res.Loss, res.GradNorm)})
		r.emit(e)
		if r.st.Skipped >= int64(r.p.MaxSkipped) {
			r.checkpointQuiet()
			return fmt.Errorf("%w: %d non-finite steps in a row (last loss %v, grad norm %v)", ErrDiverged, r.st.Skipped, res.Loss, res.GradNorm)
		}
		return nil
	}
	r.st.Skipped = 0
	sl := r.spikeLoss.Observe(res.Loss)
	sg := r.spikeGrad.Observe(res.GradNorm)
	e.LossZ, e.GradZ = sl.Z, sg.Z
	e.SpikeScore = &SpikeScores{Loss: r.spikeLoss.Score(), GradNorm: r.spikeGrad.Score()}
	r.lossHist = append(r.lossHist, res.Loss)
	r.emit(e)
	if sl.Flagged || sg.Flagged {
		r.keepBeforeSpike()
	}
	if sl.Flagged {
		r.emit(Event{Type: EvSpike, Series: "loss", Value: res.Loss, Z: sl.Z})
	}
	if sg.Flagged {
		r.emit(Event{Type: EvSpike, Series: "grad_norm", Value: res.GradNorm, Z: sg.Z})
	}
	return nil
}

// fillLabels: OLMo-core's get_labels per instance of length T: labels[t] =
// ids[t+1], IgnoreIndex in the last slot (olmo2.md §6).
func fillLabels(labels, ids []int32, T int) {
	for o := 0; o < len(ids); o += T {
		copy(labels[o:o+T-1], ids[o+1:o+T])
		labels[o+T-1] = model.IgnoreIndex
	}
}

func (r *Run) applyActions() error {
	for {
		select {
		case a := <-r.actions:
			if err := r.apply(a); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// refuseAll answers every action waiting with a warning saying why not
// (why's answer for its kind).
func (r *Run) refuseAll(why func(ActionKind) string) {
	for {
		select {
		case a := <-r.actions:
			r.emit(Event{Type: EvWarning, Refused: a.Kind, Message: refusal(a.Kind, why(a.Kind))})
		default:
			return
		}
	}
}

func (r *Run) apply(a Action) error {
	if r.refuse(a, r.actionState()) {
		return nil
	}
	switch a.Kind {
	case ActPause, ActResume:
		r.pauseOrResume(a.Kind, 0, 0)
	case ActStop:
		r.stopping = true
	case ActCheckpoint:
		if path, ok := r.checkpointExists(); ok {
			// nothing to write, but the caller waits for an answer
			r.emit(Event{Type: EvCheckpoint, Checkpoint: path, Message: CheckpointExists})
			return nil
		}
		_, err := r.checkpoint()
		return err
	case ActEval:
		if r.evalStep == r.st.Step {
			// the same weights: the scores would be the same, written twice
			r.emit(Event{Type: EvWarning, Refused: ActEval, Message: r.evaluatedAlready()})
			return nil
		}
		r.evaluate("requested")
	case ActSwitchMix:
		if why := r.capsWhyNot(a.Mix, 0); why != "" {
			r.emit(Event{Type: EvWarning, Refused: a.Kind, Message: refusal(a.Kind, why)})
			return nil
		}
		r.switchMixAction(a.Mix, "switch mix", "switched mix")
	case ActAnneal:
		n := a.Tokens
		if n <= 0 {
			n = r.Recipe.Anneal.Tokens
		}
		if n <= 0 {
			n = max(r.st.Tokens/4, int64(r.Recipe.GlobalBatchSize))
		}
		if why := r.capsWhyNot(a.Mix, wholeSteps(n, r.Recipe)); why != "" {
			r.emit(Event{Type: EvWarning, Refused: a.Kind, Message: refusal(a.Kind, why)})
			return nil
		}
		if soup := r.Recipe.PlannedSoup(); soup != "" {
			// a soup is made from stage 1 only: the run now ends with
			// this anneal, and its recipe's soup is never made
			r.emit(Event{Type: EvWarning, Message: fmt.Sprintf("anneal: the recipe's soup (%s) is not made: it starts from stage 1, and the run now ends with this anneal", soup)})
		}
		return r.startAnneal(n, a.Mix)
	case ActSoup:
		why := r.sideSoupWhyNot()
		if why == "" {
			why = r.soupCapsWhyNot(a)
		}
		if why != "" {
			r.emit(Event{Type: EvWarning, Refused: a.Kind, Message: refusal(a.Kind, why)})
			return nil
		}
		// a side job: the run goes on afterwards as if it had not happened
		return r.runSoup(a, false)
	}
	return nil
}

// pauseOrResume applies a pause or a resume (kind) and says when it changes
// nothing. step and tokens place the event (0: the run's own).
func (r *Run) pauseOrResume(kind ActionKind, step, tokens int64) {
	switch {
	case kind == ActPause && !r.paused:
		r.paused = true
		r.emit(Event{Type: EvPhase, Change: ChangePaused, Step: step, Tokens: tokens, Message: "paused"})
	case kind == ActResume && r.paused:
		r.paused = false
		r.emit(Event{Type: EvPhase, Change: ChangeResumed, Step: step, Tokens: tokens, Message: "resumed"})
	case kind == ActPause:
		r.emit(Event{Type: EvWarning, Refused: kind, Step: step, Tokens: tokens, Message: refusal(kind, "the run is paused already")})
	default:
		r.emit(Event{Type: EvWarning, Refused: kind, Step: step, Tokens: tokens, Message: refusal(kind, "the run is not paused")})
	}
}

// evaluatedAlready answers an evaluation asked for at a step whose
// weights were evaluated already: which evaluation, and where its scores are.
func (r *Run) evaluatedAlready() string {
	return refusal(ActEval, fmt.Sprintf("step %d is evaluated already (%s); its scores are in %s (step %d)",
		r.st.Step, r.evalWhy, filepath.Join(r.Dir, EvalsFile), r.st.Step))
}

// evaluatedAt says whether evals.jsonl at path holds run's own scores at
// step, why the last of them were taken, and those scores.
func evaluatedAt(path, run string, step int64) (why string, scores []EvalScore, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, false
	}
	for line := range bytes.Lines(b) {
		var rec EvalRecord
		// scores recorded after the run (olmolab eval --record) are not its own evaluation of the step
		if json.Unmarshal(line, &rec) != nil || rec.Run != run || rec.Step != step || rec.Why == olmes.WhyRecorded {
			continue
		}
		if !ok || rec.Why != why { // a run written before one evaluation per step may hold two sets
			scores = nil
		}
		why, ok = rec.Why, true
		scores = append(scores, rec.score())
	}
	return why, scores, ok
}

// NothingToEvaluate is why a run whose recipe has no eval.tasks and no
// eval.val does not evaluate (ActionState.NoEval).
const NothingToEvaluate = "the recipe names no tasks (eval.tasks) and no validation loss (eval.val)"

// noEvalReason says why a run has nothing to evaluate.
func (r *Run) noEvalReason() string {
	if len(r.Recipe.Eval.Tasks) > 0 {
		return "no evaluator for the recipe's tasks (eval.tasks) here, and no validation loss (eval.val)"
	}
	return NothingToEvaluate
}

// sameMix says whether switching from cur (the loader's mix: every source,
// shares summing to 1) to mix would change nothing: the same sources, each
// with the same share once mix's ratios are normalised (a source mix leaves
// out gets none). A mix that does not read (a ratio missing or negative) is
// left to SetMix to refuse.
func sameMix(cur, mix []data.SourceSpec) bool {
	sum := 0.0
	for _, m := range mix {
		if math.IsNaN(m.TargetRatio) || math.IsInf(m.TargetRatio, 0) || m.TargetRatio < 0 {
			return false
		}
		sum += m.TargetRatio
	}
	if sum <= 0 {
		return false
	}
	share := map[string]float64{}
	for _, m := range mix {
		if !slices.ContainsFunc(cur, func(c data.SourceSpec) bool { return c.Name == m.Name }) {
			return false // a new source
		}
		share[m.Name] += m.TargetRatio / sum
	}
	for _, c := range cur {
		if math.Abs(share[c.Name]-c.TargetRatio) > 1e-9 {
			return false
		}
	}
	return true
}

// mixShares writes a mix as its sources' shares ("web 70%, code 30%"),
// leaving out those at 0.
func mixShares(mix []data.SourceSpec) string {
	var parts []string
	for _, m := range mix {
		if m.TargetRatio > 0 {
			parts = append(parts, fmt.Sprintf("%s %.3g%%", m.Name, 100*m.TargetRatio))
		}
	}
	return strings.Join(parts, ", ")
}

// MixShares writes a mix as the shares the run trains its sources on: the
// ratios normalised to sum to 1, as the loader does ("web 20%, qa 80%").
func MixShares(mix []data.SourceSpec) string {
	sum := 0.0
	for _, m := range mix {
		sum += m.TargetRatio
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return "(no data)"
	}
	norm := make([]data.SourceSpec, len(mix))
	for i, m := range mix {
		norm[i] = data.SourceSpec{Name: m.Name, TargetRatio: m.TargetRatio / sum}
	}
	return mixShares(norm)
}

// laterMixes are the mixes a run of rec may switch to after it starts, each
// named by its recipe field.
func laterMixes(rec *Recipe) []NamedMix {
	var out []NamedMix
	for _, m := range []NamedMix{{Name: "anneal.mix", Sources: rec.Anneal.Mix}, {Name: "soup.mix", Sources: rec.Soup.Mix}} {
		if len(m.Sources) > 0 {
			out = append(out, m)
		}
	}
	for _, m := range rec.Mixes {
		// the anneal's mix is also listed as the mix "anneal" (ParseRecipe)
		if len(m.Sources) > 0 && !(m.Name == "anneal" && slices.EqualFunc(m.Sources, rec.Anneal.Mix, sameSource)) {
			out = append(out, NamedMix{Name: "mixes." + m.Name, Sources: m.Sources})
		}
	}
	return out
}

// checkpointBackend is the backend a resume from the checkpoint ck (its
// state st) trains on when none is asked for, and where it comes from ("" for
// recipe, recipe.yaml's): the one st was written on where it says one and
// that differs, since a run moved to another engine (--batch --resume
// --backend) stays there.
func checkpointBackend(recipe string, st *CheckpointState, ck string) (backend, of string) {
	if st.Backend != "" && st.Backend != recipe {
		return st.Backend, fmt.Sprintf("the backend %s was written on", filepath.Join(ck, StateFile))
	}
	return recipe, ""
}

// ResumeBackend is the backend olmolab --batch --resume runDir (without
// --backend) trains on, recipe being its recipe.yaml's, and where it comes
// from as checkpointBackend says: for a front end (a sweep) that checks the
// backend before it resumes the run. A run without a readable checkpoint
// state (which the resume refuses itself) gives recipe.
func ResumeBackend(runDir, recipe string) (backend, of string) {
	ck, err := LatestCheckpoint(runDir)
	if err != nil {
		return recipe, ""
	}
	b, err := os.ReadFile(filepath.Join(ck, StateFile))
	if err != nil {
		return recipe, ""
	}
	var st CheckpointState
	if json.Unmarshal(b, &st) != nil {
		return recipe, ""
	}
	return checkpointBackend(recipe, &st, ck)
}

// resumedState is the state a run resumes in from a checkpoint's st: its
// budget in whole steps (checkpoints written before budgets were), and in
// stage 1 within the recipe's plan (one written before a soup at
// anneal.auto_at ended stage 1 there).
func resumedState(st CheckpointState, rec *Recipe) CheckpointState {
	st.TotalTokens = wholeSteps(st.TotalTokens, rec)
	if st.Phase == "stage1" {
		st.TotalTokens = min(st.TotalTokens, rec.PlannedTokens())
	}
	return st
}

// sourceField names the entry of mix, given at field, that err is about:
// field[i] for the source err's *data.InputError names ("dataset.sources[1]"),
// field itself where it names none, or several (problems found at once).
func sourceField(field string, mix []data.SourceSpec, err error) string {
	names := map[string]bool{}
	var walk func(error)
	walk = func(e error) {
		if ie, ok := e.(*data.InputError); ok && ie.Source != "" {
			names[ie.Source] = true
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil {
				walk(e)
			}
		}
	}
	walk(err)
	if len(names) != 1 {
		return field
	}
	for i, s := range mix {
		if names[s.Name] {
			return fmt.Sprintf("%s[%d]", field, i)
		}
	}
	return field
}

// mixField names the field of the recipe that gives mix (the same sources at
// the same shares, sameMix), and that field's mix: the anneal's in an
// anneal, then the mix_schedule switches made (the latest first),
// dataset.sources, the named mixes, anneal.mix and soup.mix; other and mix
// itself where none does (a mix a person edited, or a checkpoint's that
// recipe.yaml no longer has).
func (r *Run) mixField(mix []data.SourceSpec, other string) (string, []data.SourceSpec) {
	rec := r.Recipe
	type field struct {
		name string
		mix  []data.SourceSpec
	}
	var fields []field
	if r.st.Phase == "anneal" {
		fields = append(fields, field{"anneal.mix", rec.Anneal.Mix})
	}
	for i := min(r.st.MixSwitches, len(rec.MixSchedule)) - 1; i >= 0; i-- {
		m := rec.MixSchedule[i].Mix
		fields = append(fields, field{"mixes." + m, rec.NamedMixSources(m)})
	}
	fields = append(fields, field{"dataset.sources", rec.Dataset})
	for _, m := range rec.Mixes {
		fields = append(fields, field{"mixes." + m.Name, m.Sources})
	}
	fields = append(fields, field{"anneal.mix", rec.Anneal.Mix}, field{"soup.mix", rec.Soup.Mix})
	// sameMix takes the shares of its first mix as they are: a person's
	// mix may give them unnormalised
	shares := slices.Clone(mix)
	var sum float64
	for _, s := range shares {
		sum += s.TargetRatio
	}
	for i := range shares {
		shares[i].TargetRatio /= sum
	}
	for _, f := range fields {
		if len(f.mix) > 0 && sum > 0 && sameMix(shares, f.mix) {
			return f.name, f.mix
		}
	}
	return other, mix
}

// entryField is field[i], the entry of mix (given at field) that names
// source, or field where none does.
func entryField(field string, mix []data.SourceSpec, source string) string {
	if i := slices.IndexFunc(mix, func(s data.SourceSpec) bool { return s.Name == source }); i >= 0 {
		return fmt.Sprintf("%s[%d]", field, i)
	}
	return field
}

func sameSource(a, b data.SourceSpec) bool {
	return a.Name == b.Name && a.TargetRatio == b.TargetRatio && slices.Equal(a.Paths, b.Paths)
}

// switchMixAction switches to mix as a person's switch does (what says
// whose, why is the event's message): a mix the run trains on already, or
// one the loader refuses, is a warning and changes nothing.
func (r *Run) switchMixAction(mix []data.SourceSpec, what, why string) {
	if cur := r.loader.Mix(); len(mix) > 0 && sameMix(cur, mix) {
		// the loader would restart its round-robin and the chart get a
		// marker for a switch that changes nothing
		already := "the run trains on that mix already (" + mixShares(cur) + ")"
		if what == ActSwitchMix.verb() { // a person's switch: refused as every action is
			r.emit(Event{Type: EvWarning, Refused: ActSwitchMix, Message: refusal(ActSwitchMix, already)})
		} else {
			r.emit(Event{Type: EvWarning, Message: what + ": " + already + "; nothing switched"})
		}
		return
	}
	if err := r.switchMix(mix, why); err != nil {
		r.emit(Event{Type: EvWarning, Message: what + ": " + err.Error()})
	}
}

// scheduledSwitches makes the recipe's mix_schedule switches that are due at
// this step boundary: each at the first boundary at or after its at_tokens,
// exactly as the m action (ActSwitchMix) would there, with the same event
// ("switched mix …") and chart marker. The count made is checkpoint state,
// so a resume before a switch makes it later and one after it does not make
// it again (the checkpoint's mix is the switched one, or what a person
// switched to since). In an anneal asked for (a) the anneal's mix stands:
// the switch is skipped with a warning.
func (r *Run) scheduledSwitches() error {
	sched := r.Recipe.MixSchedule
	for r.st.MixSwitches < len(sched) && r.st.Tokens >= sched[r.st.MixSwitches].AtTokens && r.st.Tokens < r.st.TotalTokens {
		s := sched[r.st.MixSwitches]
		r.st.MixSwitches++
		r.lastCkpt = -1 // a checkpoint at this step holds the count before: a later one is written again
		what := fmt.Sprintf("mix_schedule: %s at %s tokens", s.Mix, HumanCount(s.AtTokens))
		if r.st.Phase != "stage1" {
			r.emit(Event{Type: EvWarning, Message: what + ": skipped, the run is annealing (its mix stands)"})
			continue
		}
		r.switchMixAction(r.Recipe.NamedMixSources(s.Mix), what, fmt.Sprintf("switched mix to %s (mix_schedule at %s tokens)", s.Mix, HumanCount(s.AtTokens)))
	}
	return r.logErr()
}

func (r *Run) switchMix(mix []data.SourceSpec, why string) error {
	if len(mix) == 0 {
		return errors.New("empty mix")
	}
	if err := r.loader.SetMix(mix); err != nil {
		return err
	}
	r.st.Mix = r.loader.Mix()
	r.lastCkpt = -1 // a checkpoint at this step holds the mix before: a later one is written again
	r.emit(Event{Type: EvPhase, Change: ChangeMix, Message: why, Mix: r.st.Mix})
	return nil
}

// startAnneal: LR from its current value linearly to 0 over n tokens, Adam state
// kept, optionally onto mix (olmo2.md §7); the run ends when the anneal does.
func (r *Run) startAnneal(n int64, mix []data.SourceSpec) error {
	if r.Recipe.Eval.AtAnneal {
		r.evaluate("before anneal")
	}
	lr0 := r.st.LR
	if lr0 == 0 {
		lr0 = r.lr(r.st.Tokens)
	}
	n = wholeSteps(n, r.Recipe)
	// a checkpoint at this step is of stage 1: one asked for (a stop,
	// Ctrl-C) from here on is written again, or a resume would lose the anneal
	r.lastCkpt = -1
	r.st.Phase = "anneal"
	r.st.AnnealStart, r.st.AnnealTokens, r.st.AnnealLR0 = r.st.Tokens, n, lr0
	r.st.TotalTokens = r.st.Tokens + n
	msg := fmt.Sprintf("anneal: LR %.3g → 0 over %s tokens", lr0, HumanCount(n))
	if len(mix) > 0 {
		if err := r.loader.SetMix(mix); err != nil {
			return err
		}
		r.st.Mix = r.loader.Mix()
		// the mix it names: one asked for may be any (the stage-1
		// dataset, a named mix), which "onto the anneal mix" said it was
		msg += " onto " + MixShares(r.st.Mix)
	}
	r.emit(Event{Type: EvPhase, Change: ChangeAnneal, Message: msg, Mix: r.st.Mix, TotalTokens: r.st.TotalTokens})
	return nil
}

func (r *Run) snapshotState() CheckpointState {
	st := r.st
	st.Loader = r.loader.State()
	st.SpikesLoss = r.spikeLoss.State()
	st.SpikesGrad = r.spikeGrad.State()
	st.Time = time.Now()
	st.Seconds = r.before + time.Since(r.started).Seconds()
	st.StepSeconds, st.StepTokens = r.stepTime.Seconds(), r.stepToks
	return st
}

// CheckpointExists is the message of a checkpoint event that answers a
// checkpoint asked for at a step whose checkpoint was written already.
const CheckpointExists = "already written at this step"

// checkpointExists says whether this step's checkpoint is written, and where.
func (r *Run) checkpointExists() (string, bool) {
	if r.st.Step == r.lastCkpt && r.st.Step > 0 {
		return filepath.Join(r.Dir, CkptDir, checkpointName(r.st.Step)), true
	}
	return "", false
}

// checkpoint writes the current state and publishes a checkpoint event.
func (r *Run) checkpoint() (string, error) {
	if err := r.logErr(); err != nil {
		// a checkpoint stands for the run's files up to its step, and a
		// resume from it never writes again what they lost: the run fails,
		// and resumes from the checkpoint before
		return "", err
	}
	if path, ok := r.checkpointExists(); ok {
		return path, nil
	}
	r.emit(Event{Type: EvCheckpointing, Checkpoint: filepath.Join(r.Dir, CkptDir, checkpointName(r.st.Step))})
	// The run's lines up to the step reach the disk before the checkpoint
	// that stands for them, which is synced: after a power loss or a node's
	// crash the checkpoint survived while the last lines before it, still
	// in the page cache, did not, and the resume went on from it with a gap
	// in metrics.jsonl that nothing would fill. Three small fsyncs per
	// checkpoint (0.2-0.9 ms each on this project's disk).
	for _, w := range []*jsonlWriter{r.metrics, r.events, r.evals} {
		if w != nil {
			w.sync()
		}
	}
	if err := r.logErr(); err != nil {
		return "", err
	}
	path, err := writeCheckpoint(r.Dir, r.backend, r.snapshotState(), r.Recipe.Checkpoint.Dtype, r.Recipe.Checkpoint.Keep, r.tok)
	if err != nil {
		return "", err
	}
	r.lastCkpt = r.st.Step
	r.emit(Event{Type: EvCheckpoint, Checkpoint: path})
	return path, nil
}

func (r *Run) checkpointQuiet() {
	if _, err := r.checkpoint(); err != nil {
		r.emit(Event{Type: EvWarning, Message: err.Error()})
	}
}

// evaluate runs the evaluator (if any) and records the scores, once per
// step: the run's weights at a step evaluated already give the same scores,
// and evals.jsonl, the summary and SNR's last steps would count them twice.
// An interval's or a person's evaluation at a step where the run makes its
// own (the last step, the anneal's start) carries that one's label.
func (r *Run) evaluate(why string) {
	if !r.canEvaluate() {
		return
	}
	if why == "interval" || why == "requested" {
		if b := r.boundaryEval(); b != "" {
			why = b
		}
	}
	if r.evalStep == r.st.Step {
		// the step's one evaluation, taken as an interval's or on request,
		// is also the one a person's anneal or soup makes before it
		if genericEval(r.evalWhy) && !genericEval(why) {
			r.relabelEval(why)
		}
		return
	}
	scores, err := r.evalScores(why)
	if r.ctx.Err() != nil {
		// Ctrl-C or a preemption stopped it part way: recorded, some of
		// its tasks would stand as the step's one evaluation, which a
		// resume at this step (the interrupt's checkpoint) would not take
		// again, the "final" or "before anneal" one included
		r.emit(Event{Type: EvWarning, Message: fmt.Sprintf("evaluation (%s) at step %d interrupted: nothing recorded", why, r.st.Step)})
		return
	}
	if err != nil {
		r.emit(Event{Type: EvWarning, Message: "evaluation: " + err.Error()})
	}
	if len(scores) == 0 { // the validation loss is kept when the tasks fail
		return
	}
	r.lastEval, r.lastWhen = scores, evalWhen(why, r.st.Step)
	r.evalStep, r.evalWhy = r.st.Step, why
	r.recordEval(r.Name, why, scores)
}

// genericEval says whether an evaluation's why is one that says only when
// it was taken (each eval.interval, or on request), not what the run does
// at that step: such an evaluation at a step where the run makes one of its
// own is that one.
func genericEval(why string) bool { return why == "interval" || why == "requested" }

// relabelEval makes the run's evaluation at this step, taken already as an
// interval's or on request, the one labelled to ("before anneal", "before
// soup"): its records in evals.jsonl say to, the summary says it, and an
// eval event with its scores under the new label tells whoever follows the
// run. The step is not evaluated again.
func (r *Run) relabelEval(to string) {
	path := filepath.Join(r.Dir, EvalsFile)
	r.evals.close() // the file is replaced: an appender must reopen it
	err := relabelEvals(path, r.Name, r.st.Step, r.evalWhy, to)
	w, oerr := openJSONL(path)
	if oerr != nil {
		r.emit(Event{Type: EvWarning, Message: fmt.Sprintf("%s: %v; later evaluations are not recorded", path, oerr)})
	} else {
		r.evals = w
	}
	if err != nil {
		r.emit(Event{Type: EvWarning, Message: fmt.Sprintf("the evaluation at step %d (%s) stands as the one %s, but %s still says %s: %v", r.st.Step, r.evalWhy, to, path, r.evalWhy, err)})
		return
	}
	r.evalWhy = to
	r.lastWhen = evalWhen(to, r.st.Step)
	r.emit(Event{Type: EvEval, Evals: r.lastEval, Message: to})
}

// evalWhen is RunSummary.EvalsWhen for an evaluation taken at step for why.
func evalWhen(why string, step int64) string {
	if why == "final" {
		return why
	}
	return fmt.Sprintf("%s, at step %d", why, step)
}

// EvalRecord is one line of evals.jsonl.
type EvalRecord struct {
	Run     string    `json:"run"`
	Step    int64     `json:"step"`
	Tokens  int64     `json:"tokens"`
	Phase   string    `json:"phase"`
	Why     string    `json:"why"`
	Task    string    `json:"task"`
	Form    string    `json:"formulation,omitempty"`
	Split   string    `json:"split,omitempty"` // an OLMES benchmark's dataset split
	Metric  string    `json:"metric"`
	Value   float64   `json:"value"`
	Primary bool      `json:"primary,omitempty"`
	Time    time.Time `json:"time"`
	// Instances scored: SNR keeps a score of every instance and one of a sample apart (olmes.EvalRecord.Instances)
	Instances int `json:"instances,omitempty"`
}

// score is the EvalScore the record was written from (recordEval), whole: a
// resumed run's summary (evaluatedAt) has the split and instance count its
// scores had, which the summary's table names ("arc_easy (validation)").
func (e EvalRecord) score() EvalScore {
	return EvalScore{Task: e.Task, Formulation: e.Form, Split: e.Split, Instances: e.Instances, Metric: e.Metric, Value: e.Value, Primary: e.Primary}
}

func (r *Run) recordEval(run, why string, scores []EvalScore) {
	now := time.Now()
	for _, s := range scores {
		r.evals.write(EvalRecord{Run: run, Step: r.st.Step, Tokens: r.st.Tokens, Phase: r.st.Phase, Why: why,
			Task: s.Task, Form: s.Formulation, Split: s.Split, Metric: s.Metric, Value: s.Value, Primary: s.Primary, Time: now,
			Instances: s.Instances})
	}
	r.emit(Event{Type: EvEval, Evals: scores, Message: why})
}

// RunSummary is the end-of-run table (and summary.json).
type RunSummary struct {
	Run    string `json:"run"`
	Dir    string `json:"dir"`
	State  string `json:"state"`
	Steps  int64  `json:"steps"`  // the run's own: where its stage 1 and anneal got to
	Tokens int64  `json:"tokens"` // the run's own
	// SoupSteps and SoupTokens are what its soups' ingredients trained on
	// top (each ingredient an anneal from the run's checkpoint: K of them
	// per soup), over the whole run: the run trained Steps+SoupSteps steps
	// on Tokens+SoupTokens tokens.
	SoupSteps    int64   `json:"soup_steps,omitempty"`
	SoupTokens   int64   `json:"soup_tokens,omitempty"`
	FirstLoss    float64 `json:"first_loss"`
	FinalLoss    float64 `json:"final_loss"` // mean of the last 10 steps
	MinLoss      float64 `json:"min_loss"`
	FinalLR      float64 `json:"final_lr"`
	Annealed     bool    `json:"annealed,omitempty"`            // the run ended in an anneal (from AnnealStart)
	AnnealStart  int64   `json:"anneal_start_tokens,omitempty"` // 0 for a stage-2 run, which anneals from its start
	SpikeLoss    float64 `json:"spike_score_loss"`
	SpikeGrad    float64 `json:"spike_score_grad_norm"`
	TokensPerSec float64 `json:"tokens_per_s"`
	MFU          float64 `json:"mfu"`
	Seconds      float64 `json:"seconds"`
	// Sources are the tokens trained on per data source over the whole run (the
	// last step's "sources"), to check the mixture against its ratios.
	Sources map[string]int64 `json:"sources,omitempty"`
	// Passes are the passes over their data of the file sources that ran out
	// and started over (2 or more), by name; a source read once is not listed.
	Passes map[string]int64 `json:"passes,omitempty"`
	Evals  []EvalScore      `json:"evals,omitempty"`
	// EvalsWhen says which evaluation Evals are: "final", or why and at which
	// step ("interval, at step 100" for a run interrupted after it)
	EvalsWhen string      `json:"evals_when,omitempty"`
	Soup      *SoupReport `json:"soup,omitempty"`
	// Fork names the run this one was forked from (fork.json), nil for
	// a run started from a recipe
	Fork *ForkInfo `json:"fork,omitempty"`
}

// repeatedPasses are the passes of the loader's file sources that ran out
// and started over (2 or more), by name; nil when none did.
func repeatedPasses(l *data.Loader) map[string]int64 {
	var out map[string]int64
	for name, p := range l.Passes() {
		if p > 1 {
			if out == nil {
				out = map[string]int64{}
			}
			out[name] = p
		}
	}
	return out
}

func (r *Run) summarize(state string) RunSummary {
	s := RunSummary{Run: r.Name, Dir: r.Dir, State: state, Steps: r.st.Step, Tokens: r.st.Tokens, FinalLR: r.st.LR,
		SpikeLoss: r.spikeLoss.Score(), SpikeGrad: r.spikeGrad.Score(), Seconds: r.before + time.Since(r.started).Seconds(),
		Evals: r.lastEval, EvalsWhen: r.lastWhen, Soup: r.soup}
	if fi, ok := ReadFork(r.Dir); ok {
		s.Fork = &fi
	}
	if r.st.Phase == "anneal" || r.st.AnnealTokens > 0 {
		s.Annealed, s.AnnealStart = true, r.st.AnnealStart
	}
	if r.loader != nil {
		s.Sources = r.loader.TokensBySource()
		s.Passes = repeatedPasses(r.loader)
	}
	s.SoupSteps, s.SoupTokens = soupTraining(r.Dir, r.st.Step, r.Recipe.GlobalBatchSize)
	if n := len(r.lossHist); n > 0 {
		s.FirstLoss, s.MinLoss = r.lossHist[0], math.Inf(1)
		k := min(10, n)
		for i, l := range r.lossHist {
			s.MinLoss = math.Min(s.MinLoss, l)
			if i >= n-k {
				s.FinalLoss += l / float64(k)
			}
		}
	}
	if r.stepTime > 0 {
		s.TokensPerSec = float64(r.stepToks) / r.stepTime.Seconds()
		s.MFU = MFU(r.cfg, r.Recipe.SequenceLength, s.TokensPerSec, r.peak)
	}
	return s
}
