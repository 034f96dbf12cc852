package lab

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/data/world"
	"github.com/olmolab/olmolab/lab/olmes"
	"github.com/olmolab/olmolab/lab/plural"
	"github.com/olmolab/olmolab/model"
)

// OLMESEvaluator evaluates with lab/olmes: built-in tasks over the world, OLMES
// benchmarks from DataDir, or oe-eval request dumps. Tasks are built once and
// reused at every evaluation of the run, so scores differ only by the weights.
//
// One evaluator may serve several runs (the interactive lab shares one between
// the runs of a session, one after another or at once): evaluations take turns,
// the tasks are rebuilt when a run asks for others (or over another world), and
// the engine shaped for the requests is rebuilt for another model. It was kept
// from the first run, so a later run of another size was scored on the first
// run's model shape holding part of its weights.
type OLMESEvaluator struct {
	DataDir string    // OLMES datasets; "" reads $OLMOLAB_OLMES_DATA
	KB      *world.KB // the built-in tasks' world when EvalSpec.World is nil; nil: the default

	mu      sync.Mutex // the task cache
	key     string
	tasks   []*olmes.Task
	evalMu  sync.Mutex    // one evaluation at a time: they share the engine below
	longest int           // longest request in tokens, known after the first evaluation
	eval    model.Backend // a backend shaped for the requests (short rows, more of them)
	evalOf  model.Backend // the backend whose parameters eval shares (a Scorer's), nil if it holds a copy
	params  []float32     // the buffer weights are copied to eval through, model.StreamChunk values
	refused scorerKey     // the backend and shape whose scorer could not be had: not asked again
}

// scorerKey is a backend and the shape of a scorer asked of it.
type scorerKey struct {
	b      model.Backend
	be, te int
}

// NewOLMESEvaluator returns an evaluator reading OLMES data from dataDir.
func NewOLMESEvaluator(dataDir string) *OLMESEvaluator {
	if dataDir == "" {
		dataDir = os.Getenv("OLMOLAB_OLMES_DATA")
	}
	return &OLMESEvaluator{DataDir: dataDir}
}

// Evaluate implements Evaluator. A task name may end in ":mc" for the
// multiple-choice formulation; RC is the default (it suits small models).
func (e *OLMESEvaluator) Evaluate(ctx context.Context, b model.Backend, tok data.Tokenizer, spec EvalSpec) ([]EvalScore, error) {
	tasks, err := e.load(spec)
	if err != nil {
		return nil, err
	}
	e.evalMu.Lock()
	defer e.evalMu.Unlock()
	eb := e.backendFor(b, spec.Warn)
	res, err := olmes.Evaluate(ctx, eb, tok, tasks, evalOptions(b, eb))
	if _, te := eb.MicroBatch(); err == nil && eb != b && res.Longest > te {
		// rows fitted to another run's requests (other tasks, another
		// tokenizer), too short for these: they were cut. Score again on rows
		// that hold them (b's own if nothing shorter does).
		e.longest = res.Longest
		eb = e.backendFor(b, spec.Warn)
		res, err = olmes.Evaluate(ctx, eb, tok, tasks, evalOptions(b, eb))
	}
	if err != nil {
		return nil, err
	}
	if _, T := b.MicroBatch(); res.Truncated > 0 && spec.Warn != nil {
		// no --seq to score them whole is named: past its sequence_length the model never trains, and a score
		// there says little of it
		spec.Warn(fmt.Sprintf("eval: %d of %s %s longer than the run's %d-token rows (the longest %d tokens) and %s scored on %s last %d tokens, few-shot examples and question cut away; the model trains on %d-token sequences, so tasks of shorter requests (fewer shots, the built-in tasks) suit it",
			res.Truncated, plural.N(res.Requests, "request"), plural.Verb(res.Truncated, "is", "are"), T, res.Longest, plural.Verb(res.Truncated, "is", "are"), plural.Verb(res.Truncated, "its", "their"), T, T))
	}
	e.longest = max(e.longest, res.Longest)
	var out []EvalScore
	for _, s := range res.Scores {
		for _, m := range sortedMetricNames(s.Metrics) {
			out = append(out, EvalScore{Task: s.Task, Formulation: s.Formulation.String(), Split: s.Split, Instances: s.Instances, Metric: m, Value: s.Metrics[m], Primary: m == s.Primary})
		}
	}
	// OLMES's suite scores the tasks make (a benchmark in both formulations: its <task>::olmes), as
	// olmolab eval --record records them, so that the run's own series have them for snr
	for _, a := range res.Aggregates {
		if a.Complete() {
			out = append(out, EvalScore{Task: a.Name, Formulation: a.Formulation.String(), Split: a.Split, Instances: a.Instances, Metric: olmes.MetricPrimaryScore, Value: *a.Score, Primary: true})
		}
	}
	return out, nil
}

// evalOptions are the options of an evaluation of b's weights on eb: on a
// scorer sharing them (backendFor's, fitted to the longest request), requests
// much shorter than its rows are scored on shorter scorers of it, longest first
// (olmes.EvalOptions.Reshape), as olmolab eval scores them: OLMES's
// unconditional requests are a few tokens beside 5-shot contexts. On b's own
// rows (the first evaluation, or no scorer to be had) and on a copy of its
// weights they are scored as they are.
func evalOptions(b, eb model.Backend) olmes.EvalOptions {
	_, shares := eb.(model.ScorerSharer)
	return olmes.EvalOptions{Reshape: eb != b && shares}
}

func (e *OLMESEvaluator) load(spec EvalSpec) ([]*olmes.Task, error) {
	kb := spec.World
	if kb == nil {
		kb = e.KB
	}
	key := fmt.Sprintf("%s|%d|%s|%p", strings.Join(spec.Tasks, ","), spec.Limit, spec.Split, kb)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.key == key && e.tasks != nil {
		return e.tasks, nil
	}
	// eval.limit picks instances as olmolab eval --limit does, so a run's scores
	// and the command's on the same checkpoint are of the same instances: OLMES's
	// seeded subsample of a benchmark (not its first instances in file order),
	// the built-in tasks' own sample, the first instances of a request dump.
	opts := olmes.LoadOptions{DataDir: e.DataDir, KB: kb, Build: olmes.BuildOptions{Split: spec.Split}}
	if spec.Limit != 0 {
		opts.Builtin.Limit = spec.Limit
		opts.Build.Limit = spec.Limit
	}
	if spec.Limit > 0 {
		opts.DumpLimit = spec.Limit
	}
	tasks, err := olmes.LoadTasks(spec.Tasks, olmes.RC, opts)
	if err != nil {
		return nil, err
	}
	e.key, e.tasks = key, tasks
	return tasks, nil
}

func sortedMetricNames(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// backendFor returns the backend to score on. Requests are one per row, and
// built-in ones are far shorter than a training row, so a second engine with
// rows just long enough (and proportionally more of them) scores several
// times faster (tens of times for OLMES's requests in a 4096-token row). On
// the engines that share their weights with a scorer (model.ScorerSharer:
// the CPU engines, the GPU engine) it is a forward-only Scorer over the run's
// weights: no copy of the model, no gradients (the copy was 4 bytes per
// parameter of host memory, 1.77 GiB at olmo2_370M, for as long as the run
// lasted; on the GPU a second training engine). The GPU engine's borrows the
// run's activation memory between steps (gpu.Engine.Scorer), so it costs no
// device memory. Another engine named "cpu" gets a copy of the weights at
// every evaluation. When no scorer can be had (the GPU's refusal, say) the
// requests are scored on b's own rows, and warn says so once.
func (e *OLMESEvaluator) backendFor(b model.Backend, warn func(string)) model.Backend {
	B, T := b.MicroBatch()
	if _, shares := b.(model.ScorerSharer); (!shares && b.Name() != "cpu") || e.longest == 0 {
		return b
	}
	be, te := scorerShape(B, T, e.longest)
	if te >= T || e.refused == (scorerKey{b, be, te}) {
		return b
	}
	if e.eval != nil {
		// another run's model or engine, or rows shaped for another run's requests
		if eb, et := e.eval.MicroBatch(); eb != be || et != te || !reflect.DeepEqual(e.eval.Config(), b.Config()) || e.evalOf != nil && e.evalOf != b {
			e.eval.Close()
			e.eval, e.evalOf, e.params = nil, nil, nil
		}
	}
	if e.eval == nil {
		nb, shared, err := model.ScoringLike(b, be, te)
		if err != nil {
			e.refused = scorerKey{b, be, te}
			if warn != nil {
				warn(fmt.Sprintf("eval: no scoring engine of %d×%d rows for the requests (%v); they are scored on the run's own %d×%d rows, about %d× the work",
					be, te, err, B, T, max(1, T/te)))
			}
			return b
		}
		e.eval = nb
		if shared {
			e.evalOf = b
		}
		return e.eval // b's weights: shared, or copied just now
	}
	if e.evalOf == nil { // a copy: b's weights have moved on since
		if e.params == nil {
			e.params = model.NewStreamBuf(model.NewLayout(b.Config()).Size())
		}
		model.CopyParams(e.eval, b, e.params) // chunk by chunk: no host copy of the model
	}
	return e.eval
}

// Release drops what the evaluator keeps of backend b, whose run has ended:
// the Scorer over its weights (which held them, a model's worth of host
// memory on the CPU, until another run's evaluation replaced it) and a
// refusal of its scorer. A run calls it as it closes its backend.
func (e *OLMESEvaluator) Release(b model.Backend) {
	e.evalMu.Lock()
	defer e.evalMu.Unlock()
	if e.eval != nil && e.evalOf == b {
		e.eval.Close()
		e.eval, e.evalOf, e.params = nil, nil, nil
	}
	if e.refused.b == b {
		e.refused = scorerKey{}
	}
}

// scorerShape is the micro-batch (be, te) backendFor scores requests of at
// most longest tokens on, for a run's (B, T): rows of longest rounded up to
// 16, at most T, and as many as hold B·T tokens. te = T means the run's own
// backend.
func scorerShape(B, T, longest int) (be, te int) {
	te = min(T, (longest+15)/16*16)
	return max(1, B*T/te), te
}

// EvalTaskCheck checks recipes' evaluation tasks as their runs check them at
// start (StartRun), without building a request (olmes.CheckTasks): unknown
// tasks, OLMES data or a split the data directory ($OLMOLAB_OLMES_DATA, as
// this process has it) lacks, a request dump that does not open. A sweep
// checks every planned run with it before any trains; runs with the same
// tasks, limit, split and world are checked once. The files' content is
// read when each run starts. The zero value is ready.
type EvalTaskCheck struct {
	done map[string]bool
	// DataDir is the OLMES data directory checked ($OLMOLAB_OLMES_DATA
	// here); UsedData says whether some recipe's tasks needed it.
	DataDir  string
	UsedData bool
}

// Check checks rec's eval.tasks (none: nothing to check); an error is an
// *InputError naming the recipe's file and eval.tasks, as the run's start
// says it.
func (c *EvalTaskCheck) Check(rec *Recipe) error {
	if len(rec.Eval.Tasks) == 0 {
		return nil
	}
	var w WorldSpec
	if rec.World != nil {
		w = *rec.World
	}
	key := fmt.Sprintf("%q|%d|%q|%+v", rec.Eval.Tasks, rec.Eval.Limit, rec.Eval.Split, w)
	if c.done[key] {
		return nil
	}
	c.DataDir = NewOLMESEvaluator("").DataDir
	used, err := olmes.CheckTasks(rec.Eval.Tasks, olmes.LoadOptions{DataDir: c.DataDir, Build: olmes.BuildOptions{Split: rec.Eval.Split}})
	c.UsedData = c.UsedData || used
	if err != nil {
		return &InputError{fmt.Errorf("%s: eval.tasks: %w", rec.Path, err)}
	}
	if c.done == nil {
		c.done = map[string]bool{}
	}
	c.done[key] = true
	return nil
}

// Where says which machine's OLMES data the check read: this one's, under
// $OLMOLAB_OLMES_DATA as this process has it ("not set" where it is not).
func (c *EvalTaskCheck) Where() string {
	host, _ := os.Hostname()
	dir := "$OLMOLAB_OLMES_DATA not set"
	if c.DataDir != "" {
		dir = "$OLMOLAB_OLMES_DATA=" + c.DataDir
	}
	return fmt.Sprintf("this machine's (%s, %s)", host, dir)
}
