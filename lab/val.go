package lab

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/data/world"
	"github.com/olmolab/olmolab/lab/olmes"
	"github.com/olmolab/olmolab/model"
)

// Held-out validation loss (eval.val): OLMo-core's in-loop LM evaluators. Each
// source's validation set is read once when the run starts (data.ReadValidation:
// a fixed seed, so every evaluation and every run sees the same tokens) and
// scored at every evaluation with the backend's forward pass only (LogProbs),
// which leaves the gradients and the optimizer untouched.

// ValTaskPrefix starts the task name of a validation set's scores: "val/<source>".
const ValTaskPrefix = "val/"

// valSet is one source's validation set.
type valSet struct {
	name   string
	ids    []int32 // (rows, T)
	labels []int32 // (rows, T): ids shifted left, IgnoreIndex at each row's end (fillLabels)
	bytes  int64   // text bytes of the labelled targets (data.TokenBytes), the bits-per-byte denominator
}

// loadValSets reads the recipe's validation sets. Problems (missing files, a
// source too short for one sequence) are *InputError naming the source.
func loadValSets(rec *Recipe, tok data.Tokenizer, kb *world.KB, warn func(string)) ([]valSet, error) {
	v := rec.Eval.Val
	if v.Tokens <= 0 {
		return nil, nil
	}
	trainedOn(rec, warn)
	T := rec.SequenceLength
	tb := data.TokenBytes(tok)
	var out []valSet
	for i, s := range v.Sources {
		ids, err := data.ReadValidation(data.ValidationParams{Source: s, Tokenizer: tok, SeqLen: T, Tokens: v.Tokens,
			DType: rec.DataDType, Strict: rec.StrictData, World: kb, Warn: warn})
		if err != nil {
			field := fmt.Sprintf("eval.val.sources[%d]", i)
			if v.Derived {
				field = fmt.Sprintf("eval.val (the held-out stream of %s)", s.Paths[0])
			}
			return nil, &InputError{fmt.Errorf("%s: %s: %w", rec.Path, field, err)}
		}
		vs := valSet{name: s.Name, ids: ids, labels: make([]int32, len(ids))}
		fillLabels(vs.labels, ids, T)
		for _, l := range vs.labels {
			if l != model.IgnoreIndex {
				vs.bytes += int64(tb[l])
			}
		}
		out = append(out, vs)
	}
	return out, nil
}

// trainedOn warns about each of rec's eval.val.sources whose files a training
// source of the run (any mix: the dataset, the anneal's, the soup's, mixes)
// reads too: its loss is not held out. Paths that do not resolve are left to
// the loaders, which name them.
func trainedOn(rec *Recipe, warn func(string)) {
	if rec.Eval.Val.Derived || len(rec.Eval.Val.Sources) == 0 || warn == nil {
		return
	}
	files := func(s data.SourceSpec, f func(abs, shown string)) {
		for _, p := range s.Paths {
			if strings.HasPrefix(p, data.BuiltinPrefix) {
				continue
			}
			fs, _ := data.SourceFiles(p)
			for _, f2 := range fs {
				if abs, err := filepath.Abs(f2); err == nil {
					f(abs, f2)
				}
			}
		}
	}
	train := map[string]string{} // file → the first training source that reads it
	mixes := [][]data.SourceSpec{rec.Dataset, rec.Anneal.Mix, rec.Soup.Mix}
	for _, m := range rec.Mixes {
		mixes = append(mixes, m.Sources)
	}
	for _, mix := range mixes {
		for _, s := range mix {
			files(s, func(f, _ string) {
				if _, ok := train[f]; !ok {
					train[f] = s.Name
				}
			})
		}
	}
	if len(train) == 0 {
		return
	}
	for i, s := range rec.Eval.Val.Sources {
		var both []string
		var by string
		files(s, func(f, shown string) {
			if src, ok := train[f]; ok && !slices.Contains(both, shown) {
				both, by = append(both, shown), cmp.Or(by, src)
			}
		})
		if len(both) == 0 {
			continue
		}
		names := both[:min(3, len(both))]
		more := ""
		if len(both) > 3 {
			more = fmt.Sprintf(" and %d more", len(both)-3)
		}
		warn(fmt.Sprintf("%s: eval.val.sources[%d] (%q) reads files the run trains on (source %q): %s%s; its validation loss is not held out; HINT: name files kept out of training",
			rec.Path, i, s.Name, by, strings.Join(names, ", "), more))
	}
}

// valScores scores every validation set on b: per set, the mean cross-entropy
// over its labelled tokens (nats) and bits per byte,
//
//	ce_loss       = Σ −log p(target) / labelled
//	bits_per_byte = Σ −log p(target) / ln 2 / bytes(targets)
//
// ce_loss is the primary metric. Rows go through b in micro-batches of its
// (B, T); a last, partial one is padded with unlabelled rows.
func valScores(ctx context.Context, b model.Backend, sets []valSet) ([]EvalScore, error) {
	if len(sets) == 0 {
		return nil, nil
	}
	B, T := b.MicroBatch()
	ids, labels, lp := make([]int32, B*T), make([]int32, B*T), make([]float32, B*T)
	var out []EvalScore
	for _, s := range sets {
		var nll float64
		n := 0
		for o := 0; o < len(s.ids); o += B * T {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			k := copy(ids, s.ids[o:])
			copy(labels, s.labels[o:])
			for i := k; i < len(ids); i++ {
				ids[i], labels[i] = 0, model.IgnoreIndex
			}
			b.LogProbs(lp, ids, labels)
			for i := range k {
				if labels[i] != model.IgnoreIndex {
					nll -= float64(lp[i])
					n++
				}
			}
		}
		task := ValTaskPrefix + s.name
		form := olmes.LM.String()
		out = append(out,
			EvalScore{Task: task, Formulation: form, Metric: olmes.MetricCELoss, Value: nll / float64(n), Primary: true},
			EvalScore{Task: task, Formulation: form, Metric: olmes.MetricBitsPerByte, Value: nll / math.Ln2 / float64(max(s.bytes, 1))})
	}
	return out, nil
}

// ValidationLoss scores held-out validation sets outside a run (olmolab eval
// --val): rec supplies eval.val (its tokens and sources), sequence_length,
// the token files' dtype and the world, and each set is read exactly as a run
// of rec reads it, so the figures compare with the run's own val/<source>
// records. b's micro-batch must have rec's sequence length.
func ValidationLoss(ctx context.Context, b model.Backend, tok data.Tokenizer, rec *Recipe, warn func(string)) ([]EvalScore, error) {
	if _, T := b.MicroBatch(); T != rec.SequenceLength {
		// the caller sizes b by rec (eval --val): a mismatch is its bug,
		// said by file and field, not by package
		return nil, fmt.Errorf("%s: sequence_length %d, but the validation loss was to be scored on sequences of %d: each set is read at the recipe's sequence length", cmp.Or(rec.Path, "the recipe"), rec.SequenceLength, T)
	}
	sets, err := loadValSets(rec, tok, rec.World.KB(), warn)
	if err != nil {
		return nil, err
	}
	return valScores(ctx, b, sets)
}

// BuiltinValRecipe is the recipe ValidationLoss reads a checkpoint that
// belongs to no run with: tokens held-out tokens from each of the built-in
// world's sources at sequence length T.
func BuiltinValRecipe(tokens int64, T int, tokenizer string) *Recipe {
	rec := &Recipe{Path: "olmolab eval --val", SequenceLength: T, Tokenizer: tokenizer}
	rec.Eval.Val.Tokens = tokens
	for _, s := range world.Sources() {
		rec.Eval.Val.Sources = append(rec.Eval.Val.Sources,
			data.SourceSpec{Name: s.String(), TargetRatio: 1, Paths: []string{data.BuiltinPrefix + s.String()}})
	}
	return rec
}
