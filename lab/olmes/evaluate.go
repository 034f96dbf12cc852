package olmes

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/plural"
	"github.com/olmolab/olmolab/model"
)

// EvalOptions tune Evaluate.
type EvalOptions struct {
	// MaxLength is the context length in tokens; inputs are left-truncated to it. 0 means the backend's T
	// (OLMES uses 2048; a model trained at a shorter length is evaluated at its own).
	MaxLength int
	// Progress, if set, is called after each forward with the requests scored so far and the total.
	Progress func(done, total int)
	// Reshape scores on backends with the same weights and micro-batches fitted to the requests, longest first:
	// T' = the longest input left rounded up to a multiple of 8 (at most T), B' = B·T/T' or fewer: no more rows than the
	// requests it scores need (16 requests took 512 rows of 8 tokens), and a shorter shape
	// whenever the longest input left fits in 3/4 of the rows (see scoreRequests). Rows then stop paying for
	// padding (the built-in RC tasks need at most 62 tokens of the quickstart's 128, so one forward scores twice the
	// requests and attention costs half; OLMES's unconditional requests, a few tokens each, are half of MMLU's and
	// were padded to its 5-shot contexts). On the CPU and GPU engines (model.ScorerSharer) each is a forward-only
	// Scorer over be's weights, which needs memory for its activations only (on the GPU it borrows be's), one at a
	// time; another backend gets one forward-only engine of its kind (model.NewScoringBackend) with a copy of the
	// weights, fitted to the longest requests; when none can be had the given one is used.
	Reshape bool
}

// Score is one task's result in one formulation.
type Score struct {
	Task        string                        `json:"task"`
	Formulation Formulation                   `json:"formulation"`
	Group       string                        `json:"group,omitempty"`
	Split       string                        `json:"split,omitempty"` // an OLMES benchmark's dataset split (Task.Split)
	Primary     string                        `json:"primary_metric"`
	Instances   int                           `json:"instances"`
	Metrics     map[string]float64            `json:"metrics"`
	Subtasks    map[string]map[string]float64 `json:"subtasks,omitempty"` // per-subtask means (MMLU subjects)
}

// PrimaryScore is the value of the primary metric.
func (s Score) PrimaryScore() float64 { return s.Metrics[s.Primary] }

// Results are an evaluation's scores and what it cost.
type Results struct {
	Scores   []Score `json:"scores"`
	Backend  string  `json:"backend"`
	Requests int     `json:"requests"` // distinct requests scored
	// AllRequests counts every request as OLMES sends them (a request dump's lines): one per choice and one per
	// unconditional choice of every instance, identical ones in different instances included.
	AllRequests int     `json:"all_requests"`
	Forwards    int     `json:"forwards"` // (B,T) micro-batches run
	Seconds     float64 `json:"seconds"`
	// Longest is the longest input in tokens before truncation; Truncated counts the requests whose context was
	// cut on the left to fit the context length (their scores differ from a longer-context evaluation).
	Longest   int `json:"longest_input"`
	Truncated int `json:"truncated"`
	// Context is the context length in tokens that inputs were left-truncated to (EvalOptions.MaxLength, or the
	// backend's T).
	Context int `json:"context"`
	// Batch is the (B,T) micro-batch the requests were scored in (see EvalOptions.Reshape): the first, of the
	// longest requests, when they were scored on several; Batches are then all of them, longest rows first.
	Batch   [2]int   `json:"batch"`
	Batches [][2]int `json:"batches,omitempty"`
	// Notes are the tasks' Notes: where their requests differ from OLMES's.
	Notes []string `json:"notes,omitempty"`
	// Aggregates are OLMES's suite scores of Scores (Aggregates): <task>::olmes, core_9mcqa::olmes, ….
	Aggregates []Aggregate `json:"aggregates,omitempty"`
	// SuitesAsked are the suites the tasks were named for (SuitesAsked), which the table lists however few of
	// their members were scored (ShownSuites).
	SuitesAsked []string `json:"-"`
}

// RequestsPerSecond is the scoring throughput.
func (r Results) RequestsPerSecond() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Seconds
}

// Evaluate scores tasks on a backend: every distinct request once, B per forward (see score.go), then oe-eval's
// metrics per doc, averaged per task (macro over subtasks where the task says so). tok must be the tokenizer the
// model was trained with. It stops with ctx's error when ctx is cancelled between forwards.
func Evaluate(ctx context.Context, be model.Backend, tok data.Tokenizer, tasks []*Task, o EvalOptions) (Results, error) {
	start := time.Now()
	if err := checkVocab(be, tok); err != nil {
		return Results{}, err
	}
	index := map[Pair]int{}
	var pairs []Pair
	all := 0
	add := func(p Pair) {
		all++
		if _, ok := index[p]; !ok {
			index[p] = len(pairs)
			pairs = append(pairs, p)
		}
	}
	for _, t := range tasks {
		if len(t.Instances) == 0 {
			return Results{}, inputErrorf("", 0, "", "task %s (%s) has no instances", t.Name, t.Formulation)
		}
		for _, in := range t.Instances {
			for _, p := range in.Choices {
				add(p)
			}
			for _, p := range in.Uncond {
				add(p)
			}
		}
	}
	enc := encodePairs(tok, pairs)
	ll, ntok, st, err := scoreRequests(ctx, be, enc, o.MaxLength, tok.PAD(), o.Reshape, true, o.Progress)
	if err != nil {
		return Results{}, err
	}
	res := Results{Backend: be.Name(), Requests: st.Requests, AllRequests: all, Forwards: st.Forwards, Longest: st.Longest, Truncated: st.Trunc, Context: st.MaxLen}
	for _, t := range tasks {
		for _, n := range t.Notes {
			if !slices.Contains(res.Notes, n) { // boolq's, once for MC and RC
				res.Notes = append(res.Notes, n)
			}
		}
	}
	res.Batch[0], res.Batch[1] = be.MicroBatch()
	if len(st.Shapes) > 0 {
		res.Batch = st.Shapes[0]
	}
	if len(st.Shapes) > 1 {
		res.Batches = st.Shapes
	}
	for _, t := range tasks {
		uncond := t.HasUncond()
		docs := make([]map[string]float64, len(t.Instances))
		subs := make([]string, len(t.Instances))
		for i, in := range t.Instances {
			cr := make([]ChoiceResult, len(in.Choices))
			conts := make([]string, len(in.Choices))
			for j, p := range in.Choices {
				k := index[p]
				cr[j] = ChoiceResult{LogProb: ll[k], Tokens: ntok[k]}
				if uncond {
					cr[j].LogProbUncond = ll[index[in.Uncond[j]]]
				}
				conts[j] = p.Continuation
			}
			docs[i] = DocMetrics(conts, cr, in.Gold, uncond)
			subs[i] = in.Subtask
		}
		m, sub := aggregate(docs, subs, t.Macro)
		res.Scores = append(res.Scores, Score{Task: t.Name, Formulation: t.Formulation, Group: t.Group, Split: t.Split,
			Primary: t.Primary, Instances: len(t.Instances), Metrics: m, Subtasks: sub})
	}
	res.Aggregates = Aggregates(res.Scores)
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// WriteTable prints one line per task: instances, the primary metric and value, and every accuracy and the
// gold answer's bits per byte ("-" where a metric is not defined; no column for a metric no row defines).
func (r Results) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// a column per metric some row defines: validation loss rows (formulation
	// lm) have ce_loss and bits_per_byte only, built-in tasks no acc_uncond
	var cols []string
	for _, c := range []string{MetricAccRaw, MetricAccPerToken, MetricAccPerChar, MetricAccPerByte, MetricAccUncond, MetricBPB, MetricCELoss, MetricBitsPerByte} {
		if slices.ContainsFunc(r.Scores, func(s Score) bool { _, ok := s.Metrics[c]; return ok }) {
			cols = append(cols, c)
		}
	}
	// the split an OLMES benchmark was scored on: a validation split's scores
	// are not OLMES's published test-split figures (the run summary's column)
	split := slices.ContainsFunc(r.Scores, func(s Score) bool { return s.Split != "" })
	splitHead := ""
	if split {
		splitHead = "split\t"
	}
	fmt.Fprintf(tw, "task\tform\tgroup\t%sn\tprimary\tscore\t%s\t\n", splitHead, strings.Join(cols, "\t"))
	for _, s := range r.Scores {
		fmt.Fprintf(tw, "%s\t%s\t%s\t", s.Task, s.Formulation, s.Group)
		if split {
			fmt.Fprintf(tw, "%s\t", cmp.Or(s.Split, "-"))
		}
		fmt.Fprintf(tw, "%d\t%s\t%.4f\t", s.Instances, s.Primary, s.PrimaryScore())
		for _, c := range cols {
			if v, ok := s.Metrics[c]; ok {
				fmt.Fprintf(tw, "%.4f\t", v)
			} else {
				fmt.Fprint(tw, "-\t")
			}
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := WriteAggregates(w, r.Aggregates, r.SuitesAsked); err != nil {
		return err
	}
	if r.Requests == 0 { // validation loss only (olmolab eval --tasks "" --val)
		return nil
	}
	reqs := plural.N(r.Requests, "request")
	if r.AllRequests > r.Requests { // OLMES's count, which a request dump's lines show, and what was scored
		reqs = fmt.Sprintf("%s (%d distinct)", plural.N(r.AllRequests, "request"), r.Requests)
	}
	shape := fmt.Sprintf("%dx%d", r.Batch[0], r.Batch[1])
	if n := len(r.Batches); n > 1 {
		shape += fmt.Sprintf(" to %dx%d", r.Batches[n-1][0], r.Batches[n-1][1])
	}
	if _, err := fmt.Fprintf(w, "%s in %d forwards of %s on %s, %.1fs (%.1f requests/s); bits_per_byte_corr: lower is better\n",
		reqs, r.Forwards, shape, r.Backend, r.Seconds, r.RequestsPerSecond()); err != nil {
		return err
	}
	for _, n := range r.Notes {
		if _, err := fmt.Fprintf(w, "warning: %s\n", n); err != nil {
			return err
		}
	}
	if r.Truncated > 0 {
		_, err := fmt.Fprintf(w, "warning: %s %s longer than the %d-token context and %s scored on %s last %d tokens, few-shot examples and question cut away (longest input %d tokens)\n",
			plural.N(r.Truncated, "request"), plural.Verb(r.Truncated, "is", "are"), r.Context, plural.Verb(r.Truncated, "was", "were"), plural.Verb(r.Truncated, "its", "their"), r.Context, r.Longest)
		return err
	}
	return nil
}

// WriteJSON writes the results as one indented JSON object.
func (r Results) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// MarshalText makes a Formulation read "rc" or "mc" in JSON.
func (f Formulation) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText parses "rc" or "mc" (ParseFormulation), "lm" (validation loss records) or "mc_or_rc" (OLMES
// suite scores).
func (f *Formulation) UnmarshalText(b []byte) error {
	switch strings.TrimSpace(string(b)) {
	case "lm":
		*f = LM
		return nil
	case RuleMCOrRC:
		*f = MCOrRC
		return nil
	}
	v, err := ParseFormulation(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// EvalRecord is one line of a run's evals.jsonl: one metric of one task in one formulation at one checkpoint.
// The lab appends them as evaluations finish; SNR reads them back. It is a superset of the lab's own record
// (run, step, tokens, phase, why, task, formulation, metric, value, time), so either reads the other's files.
type EvalRecord struct {
	Run         string      `json:"run"` // soups and their ingredients are sub-runs: "<run>/soup", "<run>/ingredient-1-seed-7"
	Step        int         `json:"step"`
	Tokens      int64       `json:"tokens"`
	Phase       string      `json:"phase,omitempty"` // e.g. "stable", "anneal"
	Why         string      `json:"why,omitempty"`   // e.g. "interval", "before anneal", "final"
	Task        string      `json:"task"`
	Formulation Formulation `json:"formulation"`
	Split       string      `json:"split,omitempty"` // an OLMES benchmark's dataset split (Score.Split); "" for built-in tasks and older records
	// Instances is how many instances were scored (Score.Instances): a ::olmes:full score of every instance and a
	// --limit 1000 score of a task are two measurements, series of their own in SNR; a suite's is its members'
	// (Aggregate.Instances). 0: not recorded (older records, validation loss), which SNR pairs with the one
	// count the runs have (seriesKey).
	Instances int     `json:"instances,omitempty"`
	Metric    string  `json:"metric"`
	Value     float64 `json:"value"`
	Primary   bool    `json:"primary,omitempty"` // Metric is the task's primary metric
	Group     string  `json:"group,omitempty"`   // "olmes", "development", "unseen"
	Tag       string  `json:"tag,omitempty"`     // free label of what was evaluated, selected by SNROptions.Tag
	// Settings, on a record made after the run (Why WhyRecorded), say how it was scored: the checkpoint, the
	// context, limit, split, formulation, tokenizer and backend.
	Settings string    `json:"settings,omitempty"`
	Time     time.Time `json:"time,omitzero"`
}

// WhyRecorded is the why of the records olmolab eval --record writes into a run's evals.jsonl: scores of the run's
// kept checkpoints made after the run (or while it was stopped), not by it. They are untagged, so SNR takes
// them as the run's series of their tasks; a run's own evaluations (resume, the lab's latest evaluation) leave
// them out.
const WhyRecorded = "eval --record"

// Recorded says whether the record was made after the run by olmolab eval --record.
func (r EvalRecord) Recorded() bool { return r.Why == WhyRecorded }

// Records turns results into evals.jsonl records for a run at a step, one per task, formulation and metric
// (subtask means are kept in the JSON results, not here), and one per complete OLMES suite score (Aggregates;
// metric MetricPrimaryScore), which SNR then ranks beside the tasks. NaN and infinite values are left out.
func (r Results) Records(run string, step int, tokens int64, tag string) []EvalRecord {
	var out []EvalRecord
	for _, s := range r.Scores {
		for _, m := range MetricNames {
			v, ok := s.Metrics[m]
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			out = append(out, EvalRecord{Run: run, Step: step, Tokens: tokens, Task: s.Task, Formulation: s.Formulation,
				Split: s.Split, Instances: s.Instances, Metric: m, Value: v, Primary: m == s.Primary, Group: s.Group, Tag: tag})
		}
	}
	for _, a := range r.Aggregates {
		if !a.Complete() || math.IsNaN(*a.Score) || math.IsInf(*a.Score, 0) {
			continue
		}
		out = append(out, EvalRecord{Run: run, Step: step, Tokens: tokens, Task: a.Name, Formulation: a.Formulation,
			Split: a.Split, Instances: a.Instances, Metric: MetricPrimaryScore, Value: *a.Score, Primary: true, Group: "olmes", Tag: tag})
	}
	return out
}

// AppendEvalRecords writes records as JSON lines (for appending to evals.jsonl).
func AppendEvalRecords(w io.Writer, recs []EvalRecord) error {
	var b []byte
	for _, rec := range recs {
		line, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		b = append(append(b, line...), '\n')
	}
	_, err := w.Write(b)
	return err
}
