package olmes

import (
	"context"
	"strings"
	"sync"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
)

// Evaluator is what a training run holds: it loads tasks by name once (LoadTasks; OLMES tasks read their data
// from disk) and evaluates a backend on them at every eval interval, before an anneal, and on each soup
// ingredient and soup. It is safe for concurrent use.
//
//	ev := &olmes.Evaluator{Load: olmes.LoadOptions{Builtin: olmes.BuiltinOptions{Limit: 100}}, Eval: olmes.EvalOptions{Reshape: true}}
//	res, err := ev.Evaluate(ctx, backend, tok, []string{"builtin"}, olmes.RC)
//	olmes.AppendEvalRecords(evalsFile, res.Records(run, step, tokens, ""))
type Evaluator struct {
	Load LoadOptions
	Eval EvalOptions

	mu    sync.Mutex
	cache map[string][]*Task
}

// Tasks returns the tasks for names in formulation f (see LoadTasks), built on first use.
func (e *Evaluator) Tasks(names []string, f Formulation) ([]*Task, error) {
	key := f.String() + "\x00" + strings.Join(names, "\x00")
	e.mu.Lock()
	defer e.mu.Unlock()
	if t, ok := e.cache[key]; ok {
		return t, nil
	}
	t, err := LoadTasks(names, f, e.Load)
	if err != nil {
		return nil, err
	}
	if e.cache == nil {
		e.cache = map[string][]*Task{}
	}
	e.cache[key] = t
	return t, nil
}

// Evaluate scores be on the named tasks (Evaluate with e.Eval).
func (e *Evaluator) Evaluate(ctx context.Context, be model.Backend, tok data.Tokenizer, names []string, f Formulation) (Results, error) {
	tasks, err := e.Tasks(names, f)
	if err != nil {
		return Results{}, err
	}
	return Evaluate(ctx, be, tok, tasks, e.Eval)
}
