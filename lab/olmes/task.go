package olmes

import (
	"fmt"
	"sort"
	"strings"
)

// Formulation is how a multiple-choice instance is put to a model (olmes.md §1.1).
type Formulation uint8

const (
	// RC (rank classification, "cloze"): the continuations are the answer texts; suits small models.
	RC Formulation = iota
	// MC: the choices are listed as " A. text" lines and the continuations are the letters " A", " B", ….
	MC
	// LM is no formulation of a task: it marks the lab's held-out validation loss ("val/<source>" records with
	// MetricCELoss and MetricBitsPerByte), which evals.jsonl carries beside the tasks' scores.
	LM
	// MCOrRC is no formulation either: it marks an OLMES suite score (Aggregate) that counts each task's better
	// formulation, oe-eval's primary_metric "mc_or_rc".
	MCOrRC
)

func (f Formulation) String() string {
	switch f {
	case RC:
		return "rc"
	case MC:
		return "mc"
	case LM:
		return "lm"
	case MCOrRC:
		return RuleMCOrRC
	}
	return fmt.Sprintf("Formulation(%d)", uint8(f))
}

// ParseFormulation parses "rc" or "mc" (also "cf"/"cloze" and "mcf"). Anything else is an *InputError.
func ParseFormulation(s string) (Formulation, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "rc", "cf", "cloze":
		return RC, nil
	case "mc", "mcf":
		return MC, nil
	}
	return 0, inputErrorf("", 0, `use "rc" or "mc"`, "unknown formulation %q", s)
}

// Pair is one log-likelihood request: the log-probability of Continuation given Context is what a model returns.
type Pair struct {
	Context      string
	Continuation string
}

// Instance is one evaluated doc: one request per choice (Choices[i] scores choice i), the unconditional
// requests for acc_uncond when the task defines them (same continuations after the context "Answer:"), and the
// gold choice.
type Instance struct {
	DocID    int
	NativeID any    // the dataset's own id, when it has one
	Subtask  string // the request's task_name (an MMLU subject); "" for a single task
	Gold     int
	Choices  []Pair
	Uncond   []Pair // nil, or len(Choices) requests
}

// Task is an evaluation set in one formulation: the instances with their prompts already built (few-shot examples
// included in each context), the primary metric and how subtasks are averaged. OLMES tasks come from
// BuildRequests or a request dump (TaskFromRequests); built-in tasks from the world (BuiltinTask).
type Task struct {
	Name        string // "arc_easy", "mmlu", "fact_qa_heldout"
	Formulation Formulation
	Primary     string // the primary metric, e.g. MetricAccPerChar
	// Group says what the task is for: "olmes" for the standard benchmarks, "development" or "unseen" for
	// built-in tasks (OLMo 2's split: development tasks guide choices, unseen ones only report).
	Group string
	// Split is the dataset split an OLMES benchmark's instances come from ("test", "validation", …: OLMES's
	// own, or BuildOptions.Split), or a request dump's as the oe-eval config.json beside it says; "" for built-in
	// tasks and dumps without a config.
	Split string
	// Macro averages the per-subtask means with equal weight (MMLU, olmes.md §3) instead of pooling instances.
	Macro     bool
	Instances []Instance
	// Notes say where the task's requests knowingly differ from OLMES's own (the data at hand lacks something),
	// so that its scores are not compared with OLMES's as if they were the same; they are printed as warnings.
	Notes []string
}

// Subtasks returns the distinct subtask names in first-seen order.
func (t *Task) Subtasks() []string {
	seen := map[string]bool{}
	var out []string
	for _, in := range t.Instances {
		if !seen[in.Subtask] {
			seen[in.Subtask] = true
			out = append(out, in.Subtask)
		}
	}
	return out
}

// HasUncond reports whether every instance has unconditional requests, so acc_uncond is defined.
func (t *Task) HasUncond() bool {
	if len(t.Instances) == 0 {
		return false
	}
	for _, in := range t.Instances {
		if len(in.Uncond) != len(in.Choices) {
			return false
		}
	}
	return true
}

// NumRequests is the number of log-likelihood requests the task sends (before de-duplication).
func (t *Task) NumRequests() int {
	n := 0
	for _, in := range t.Instances {
		n += len(in.Choices) + len(in.Uncond)
	}
	return n
}

// sortedKeys returns m's keys sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
