package olmes

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Request is one log-likelihood request in oe-eval's request format, one JSON object per line of a
// requests.jsonl(.gz) dump: {"request_type": "loglikelihood", "doc": {…}, "request": {"context": …,
// "continuation": …}, "idx": choice, "task_name": …, "doc_id": …, "native_id": …, "label": gold}.
type Request struct {
	Doc          Doc    // the processed doc (oe-eval's _process_doc output)
	Context      string // prompt, few-shot examples included
	Continuation string // " " + choice (or the letter in MC)
	Idx          int    // choice index
	TaskName     string // "arc_easy", "arc_easy:mc", "mmlu_anatomy", …
	DocID        int    // position in the evaluated docs; unconditional requests add UncondDocIDOffset
	NativeID     any    // the dataset's id (string or int), or nil
	Label        int    // gold choice
}

// UncondDocIDOffset is added to doc_id for the unconditional requests acc_uncond needs (oe-eval's
// uncond_docid_offset); they follow all normal requests with the context UncondContext.
const UncondDocIDOffset = 1_000_000

// UncondContext is the context of unconditional requests (oe-eval's unconditioned_prompt).
const UncondContext = "Answer:"

// MarshalJSON writes r exactly as oe-eval's json.dumps does, so a dump of ours diffs cleanly against theirs.
func (r Request) MarshalJSON() ([]byte, error) {
	return appendPyJSON(nil, Doc{
		{"request_type", "loglikelihood"},
		{"doc", r.Doc},
		{"request", Doc{{"context", r.Context}, {"continuation", r.Continuation}}},
		{"idx", r.Idx},
		{"task_name", r.TaskName},
		{"doc_id", r.DocID},
		{"native_id", r.NativeID},
		{"label", r.Label},
	})
}

// BuildOptions choose what BuildRequests builds. The zero value is OLMES v0.1: OLMES's split, 1000 sampled
// instances where OLMES samples, 5 curated shots, seed 1234.
type BuildOptions struct {
	Split string // "train", "validation" or "test"; "" = OLMES's split (Benchmarks)
	Limit int    // at most this many instances, sampled as OLMES does; 0 = OLMES's limit, negative = all
	Shots int    // few-shot examples; 0 = OLMES's 5, negative = zero-shot
	Seed  int64  // random_subsample_seed; 0 = OLMES's 1234
	// Command is the command whose --split a missing split's hint names: "" olmolab eval (or a run's eval.split),
	// CommandRequests olmolab olmes requests, which writes requests and scores nothing.
	Command string
}

// CommandRequests is BuildOptions.Command of olmolab olmes requests.
const CommandRequests = "olmes requests"

func (o BuildOptions) resolve(b *benchmark) BuildOptions {
	if o.Split == "" {
		o.Split = b.Split
	}
	switch {
	case o.Limit == 0:
		o.Limit = b.Limit
	case o.Limit < 0:
		o.Limit = 0
	}
	switch {
	case o.Shots == 0:
		o.Shots = 5
	case o.Shots < 0:
		o.Shots = 0
	}
	if o.Seed == 0 {
		o.Seed = 1234
	}
	return o
}

// BuildRequests builds OLMES's requests for an OLMES task from the raw dataset under dataDir (HF save_to_disk
// directories, directly or under dataDir/hf, or the datasets' published JSONL). name is an OLMES task
// ("arc_easy", "csqa", "mmlu", "mmlu_anatomy"; oe-eval's spellings such as "arc_easy:mc::olmes" are accepted,
// their ":mc" wins over f, and "::olmes:full" takes every instance unless o.Limit is set; taskParts). MMLU builds all 57 subjects, each with its own doc ids, in alphabetical order.
//
// An unknown task or missing data is an *InputError.
func BuildRequests(name string, f Formulation, dataDir string, o BuildOptions) ([]Request, error) {
	_, _, full, err := taskParts(name)
	if err != nil {
		return nil, err
	}
	b, subject, nf, hasF, ok := lookupBenchmark(name)
	if !ok {
		return nil, unknownRequestsTaskError(name)
	}
	if hasF {
		f = nf
	}
	if full && o.Limit == 0 { // ::olmes:full, unless a limit was given
		o.Limit = -1
	}
	o = o.resolve(b)
	subjects := []string{subject}
	if b.Name == "mmlu" && subject == "" {
		subjects = mmluSubjects
	}
	var out []Request
	for _, s := range subjects {
		reqs, err := b.build(dataDir, s, f, o)
		if err != nil {
			return nil, err
		}
		out = append(out, reqs...)
	}
	return out, nil
}

// WriteRequests writes the requests of an OLMES task as oe-eval request JSONL (one Request per line) with the
// default BuildOptions: `olmolab olmes requests --task NAME --formulation rc|mc --data DIR`.
func WriteRequests(w io.Writer, task string, f Formulation, dataDir string) error {
	reqs, err := BuildRequests(task, f, dataDir, BuildOptions{})
	if err != nil {
		return err
	}
	return WriteRequestsJSONL(w, reqs)
}

// WriteRequestsJSONL writes one request per line.
func WriteRequestsJSONL(w io.Writer, reqs []Request) error {
	bw := bufio.NewWriter(w)
	for _, r := range reqs {
		line, err := r.MarshalJSON()
		if err != nil {
			return err
		}
		bw.Write(line)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

func (b *benchmark) build(dataDir, subject string, f Formulation, o BuildOptions) ([]Request, error) {
	rows, where, err := b.loadRows(dataDir, subject, o.Split, o.Command)
	if err != nil {
		return nil, err
	}
	if b.norm != nil {
		if rows, err = b.norm(rows); err != nil {
			return nil, withPath(err, where)
		}
	}
	docs := make([]Doc, len(rows))
	for i, row := range rows {
		r := &rowReader{row: row}
		docs[i] = b.process(r, i, f)
		if r.err != nil {
			return nil, &InputError{Path: where, Msg: fmt.Sprintf("row %d", i+1), Err: r.err,
				Hint: fmt.Sprintf("%s's rows are read in the layout it is published in (HF's copy saved with save_to_disk, or the original JSONL): give the dataset as downloaded", b.Name)}
		}
	}
	if o.Limit > 0 && len(docs) > o.Limit {
		idx := NewPyRandom(o.Seed).Sample(len(docs), o.Limit)
		sampled := make([]Doc, len(idx))
		for i, j := range idx {
			sampled[i] = docs[j]
		}
		docs = sampled
	}

	// Few-shot examples: the curated source, or MMLU's first dev rows, through the same _process_doc.
	var shotRows []Doc
	if o.Shots > 0 {
		if b.Fewshot != "" {
			shotRows = fewshotRows()[b.Fewshot]
		} else {
			dev, _, err := b.loadRows(dataDir, subject, "dev", o.Command)
			if err != nil {
				return nil, err
			}
			shotRows = dev
		}
		if len(shotRows) < o.Shots {
			return nil, inputErrorf(where, 0, "", "%d few-shot examples requested, %d available", o.Shots, len(shotRows))
		}
		shotRows = shotRows[:o.Shots]
	}
	shots := make([]Doc, len(shotRows))
	for i, row := range shotRows {
		r := &rowReader{row: row}
		shots[i] = b.process(r, -1, f)
		if r.err != nil {
			return nil, fmt.Errorf("few-shot example %d of %s: %w", i+1, b.Name, r.err)
		}
	}

	description := ""
	taskName := b.Name
	if subject != "" {
		taskName = "mmlu_" + subject
		description = "The following are multiple choice questions (with answers) about " + strings.ReplaceAll(subject, "_", " ") + ".\n\n"
	}
	if f == MC {
		taskName += ":mc"
	}
	nativeField := b.nativeID[f]

	var out []Request
	if b.Name == "winogrande" && f == RC {
		for id, d := range docs {
			reqs, err := winograndeRequests(d, shots, description, taskName, id)
			if err != nil {
				return nil, &InputError{Path: where, Msg: fmt.Sprintf("doc %d", id), Err: err}
			}
			out = append(out, reqs...)
		}
		return out, nil
	}

	var block strings.Builder
	block.WriteString(description)
	for i, s := range shots {
		if i > 0 {
			block.WriteString("\n\n")
		}
		ch := s.Strings("choices")
		g, _ := s.Int("gold")
		block.WriteString(s.Str("query"))
		block.WriteString(" " + ch[g])
	}
	if len(shots) > 0 {
		block.WriteString("\n\n")
	}
	prefix := block.String()
	for id, d := range docs {
		out = appendChoiceRequests(out, d, prefix+d.Str("query"), taskName, id, nativeField)
	}
	if f == RC && b.Uncond {
		for id, d := range docs {
			out = appendChoiceRequests(out, d, UncondContext, taskName, id+UncondDocIDOffset, nativeField)
		}
	}
	return out, nil
}

func appendChoiceRequests(out []Request, d Doc, ctx, taskName string, docID int, nativeField string) []Request {
	gold, _ := d.Int("gold")
	var native any
	if nativeField != "" {
		native, _ = d.Get(nativeField)
	}
	for i, c := range d.Strings("choices") {
		out = append(out, Request{Doc: d, Context: ctx, Continuation: " " + c, Idx: i, TaskName: taskName,
			DocID: docID, NativeID: native, Label: gold})
	}
	return out
}

// winograndeRequests is oe-eval's Winogrande (RC, "partial evaluation", Trinh & Le 2018): the context ends with
// the sentence up to the blank with option i filled in, and the shared continuation is the rest of the sentence.
// The few-shot examples are the full sentences with the right option.
func winograndeRequests(d Doc, shots []Doc, description, taskName string, docID int) ([]Request, error) {
	partialCtx := func(doc Doc, option string) string {
		s := doc.Str("sentence")
		return s[:strings.Index(s, "_")] + option
	}
	partialTarget := func(doc Doc) string {
		s := doc.Str("sentence")
		return " " + pyStrip(s[strings.Index(s, "_")+1:])
	}
	correct := func(doc Doc) (string, error) {
		a := doc.Str("answer")
		if a != "1" && a != "2" {
			return "", fmt.Errorf("answer %q is not \"1\" or \"2\"", a)
		}
		return doc.Str("option" + a), nil
	}
	var parts []string
	for _, s := range shots {
		o, err := correct(s)
		if err != nil {
			return nil, err
		}
		parts = append(parts, partialCtx(s, o)+partialTarget(s))
	}
	o, err := correct(d)
	if err != nil {
		return nil, err
	}
	ctx := description + partialCtx(d, o)
	if len(parts) > 0 {
		ctx = description + strings.Join(parts, "\n\n") + "\n\n" + partialCtx(d, o)
	}
	target := partialTarget(d)
	gold, _ := strconv.Atoi(d.Str("answer")) // "1" or "2", checked by correct
	var out []Request
	for i, opt := range []string{d.Str("option1"), d.Str("option2")} {
		// append_context: split the prompt on blank lines, drop the last block, append the partial context.
		blocks := strings.Split(ctx, "\n\n")
		blocks = blocks[:len(blocks)-1]
		full := partialCtx(d, opt)
		if len(blocks) > 0 {
			full = strings.Join(append(blocks, full), "\n\n")
		}
		out = append(out, Request{Doc: d, Context: full, Continuation: target, Idx: i, TaskName: taskName,
			DocID: docID, NativeID: nil, Label: gold - 1})
	}
	return out, nil
}

func withPath(err error, path string) error {
	var ie *InputError
	if errors.As(err, &ie) && ie.Path == "" {
		c := *ie
		c.Path = path
		return &c
	}
	return err
}

// ---- reading dumps ----

// ParseRequestLine parses one line of an oe-eval request dump. A line that is not a loglikelihood request with
// context, continuation, idx and doc_id is an error saying what is missing.
func ParseRequestLine(line []byte) (Request, error) {
	v, err := parseJSON(line)
	if err != nil {
		return Request{}, err
	}
	d, ok := v.(Doc)
	if !ok {
		return Request{}, fmt.Errorf("expected a JSON object, got %s", jsonKind(v))
	}
	if rt, ok := d.Get("request_type"); ok && rt != nil && rt != "loglikelihood" {
		return Request{}, fmt.Errorf("request_type %v: only loglikelihood requests can be scored", rt)
	}
	var r Request
	rq, ok := d.Get("request")
	req, isDoc := rq.(Doc)
	if !ok || !isDoc {
		return Request{}, errors.New(`missing "request" object`)
	}
	str := func(from Doc, key, what string) (string, error) {
		v, ok := from.Get(key)
		s, isStr := v.(string)
		if !ok || !isStr {
			return "", fmt.Errorf("missing string %q", what)
		}
		return s, nil
	}
	integer := func(key string) (int, error) {
		v, ok := d.Get(key)
		n, isInt := asInt(v)
		if !ok || !isInt {
			return 0, fmt.Errorf("missing integer %q", key)
		}
		return n, nil
	}
	if r.Context, err = str(req, "context", "request.context"); err != nil {
		return Request{}, err
	}
	if r.Continuation, err = str(req, "continuation", "request.continuation"); err != nil {
		return Request{}, err
	}
	if r.Idx, err = integer("idx"); err != nil {
		return Request{}, err
	}
	if r.Idx < 0 || r.Idx > 1<<20 {
		return Request{}, fmt.Errorf("idx %d out of range", r.Idx)
	}
	if r.DocID, err = integer("doc_id"); err != nil {
		return Request{}, err
	}
	if tn, ok := d.Get("task_name"); ok && tn != nil {
		if r.TaskName, ok = tn.(string); !ok {
			return Request{}, errors.New(`"task_name" is not a string`)
		}
	}
	if doc, ok := d.Get("doc"); ok && doc != nil {
		if r.Doc, ok = doc.(Doc); !ok {
			return Request{}, errors.New(`"doc" is not an object`)
		}
	}
	r.NativeID, _ = d.Get("native_id")
	switch l, _ := d.Get("label"); l.(type) {
	case nil:
		// oe-eval treats a missing label as choice 0 ("very problematic"); we take the doc's gold if it has one.
		if g, ok := r.Doc.Int("gold"); ok {
			r.Label = g
		}
	default:
		n, ok := asInt(l)
		if !ok {
			return Request{}, fmt.Errorf("label %v is not an integer", l)
		}
		r.Label = n
	}
	return r, nil
}

// ReadRequests reads an oe-eval request dump (requests.jsonl or requests.jsonl.gz). A malformed line is an
// *InputError with its line number.
func ReadRequests(path string) ([]Request, error) {
	rc, err := openMaybeGzip(path, "an oe-eval request dump", dumpHint)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	reqs, err := readRequests(rc, path)
	if err != nil {
		return nil, err
	}
	if len(reqs) == 0 {
		return nil, inputErrorf(path, 0, "an oe-eval request dump has one loglikelihood request per line: check that the dump was written whole", "no requests in file")
	}
	return reqs, nil
}

func readRequests(r io.Reader, path string) ([]Request, error) {
	var reqs []Request
	err := forEachLine(path, r, func(line []byte, n int) error {
		req, err := ParseRequestLine(line)
		if err != nil {
			return &InputError{Path: path, Line: n, Msg: "malformed request line", Err: err,
				Hint: "each line must be an oe-eval loglikelihood request (doc, request.context, request.continuation, idx, doc_id, label)"}
		}
		reqs = append(reqs, req)
		return nil
	})
	if err != nil {
		if IsInputError(err) {
			return nil, err
		}
		return nil, &InputError{Path: path, Msg: "reading", Err: err, Hint: "the file is cut short or corrupt: copy or write it again"}
	}
	return reqs, nil
}

// dumpContentHint is the HINT of a request dump whose requests do not fit
// together: a dump cut short, or two dumps joined, reads this way.
const dumpContentHint = "each doc_id's requests must be whole (idx 0…n-1, one label; with its unconditional ones, doc_id+1000000, for every choice): use the dump oe-eval wrote, whole, one task per file"

// TaskFromRequests groups requests into a Task: normal requests by (task_name, doc_id) ordered by idx, the
// unconditional ones (doc_id ≥ UncondDocIDOffset) attached to their doc. name and f label the task; the
// primary metric is OLMES's for a known benchmark (acc_raw for MC), else acc_per_char. Several task_names
// (MMLU's subjects) make the task macro-averaged. Inconsistent requests (a gap in idx, labels that disagree,
// unconditional requests without their doc) are an *InputError.
func TaskFromRequests(name string, f Formulation, reqs []Request) (*Task, error) {
	type key struct {
		task string
		doc  int
	}
	type group struct {
		gold     int
		native   any
		choices  map[int]Pair
		uncond   map[int]Pair
		firstPos int
	}
	groups := map[key]*group{}
	var order []key
	for i, r := range reqs {
		unc := r.DocID >= UncondDocIDOffset
		id := r.DocID
		if unc {
			id -= UncondDocIDOffset
		}
		k := key{r.TaskName, id}
		g := groups[k]
		if g == nil {
			if unc {
				continue // checked below: an unconditional request needs its doc
			}
			g = &group{gold: r.Label, native: r.NativeID, choices: map[int]Pair{}, uncond: map[int]Pair{}, firstPos: i}
			groups[k] = g
			order = append(order, k)
		}
		p := Pair{r.Context, r.Continuation}
		if unc {
			g.uncond[r.Idx] = p
			continue
		}
		if r.Label != g.gold {
			return nil, inputErrorf("", 0, dumpContentHint, "task %s doc %d: labels %d and %d disagree", r.TaskName, r.DocID, g.gold, r.Label)
		}
		if _, dup := g.choices[r.Idx]; dup {
			return nil, inputErrorf("", 0, dumpContentHint, "task %s doc %d: choice %d appears twice", r.TaskName, r.DocID, r.Idx)
		}
		g.choices[r.Idx] = p
	}
	for _, r := range reqs {
		if r.DocID >= UncondDocIDOffset {
			if groups[key{r.TaskName, r.DocID - UncondDocIDOffset}] == nil {
				return nil, inputErrorf("", 0, dumpContentHint, "task %s: unconditional request for doc %d, which has no requests", r.TaskName, r.DocID-UncondDocIDOffset)
			}
		}
	}
	if len(order) == 0 {
		return nil, inputErrorf("", 0, "a dump holds the loglikelihood requests of its task_name; check that the file is oe-eval's requests of this task", "no requests for task %s", name)
	}
	t := &Task{Name: name, Formulation: f, Group: "olmes"}
	tasks := map[string]bool{}
	withUncond := 0
	for _, k := range order {
		g := groups[k]
		n := len(g.choices)
		in := Instance{DocID: k.doc, NativeID: g.native, Subtask: k.task, Gold: g.gold, Choices: make([]Pair, n)}
		for i := range n {
			p, ok := g.choices[i]
			if !ok {
				return nil, inputErrorf("", 0, dumpContentHint, "task %s doc %d: choices are not numbered 0…%d", k.task, k.doc, n-1)
			}
			in.Choices[i] = p
		}
		if g.gold < 0 || g.gold >= n {
			return nil, inputErrorf("", 0, "a test split without its answers (label -1) cannot be scored: dump the requests of a labelled split (oe-eval's validation or train)", "task %s doc %d: gold %d outside the %d choices (unlabelled split?)", k.task, k.doc, g.gold, n)
		}
		if len(g.uncond) > 0 {
			if len(g.uncond) != n {
				return nil, inputErrorf("", 0, dumpContentHint, "task %s doc %d: %d unconditional requests for %d choices", k.task, k.doc, len(g.uncond), n)
			}
			in.Uncond = make([]Pair, n)
			for i := range n {
				p, ok := g.uncond[i]
				if !ok {
					return nil, inputErrorf("", 0, dumpContentHint, "task %s doc %d: unconditional choices are not numbered 0…%d", k.task, k.doc, n-1)
				}
				in.Uncond[i] = p
			}
			withUncond++
		}
		tasks[k.task] = true
		t.Instances = append(t.Instances, in)
	}
	t.Macro = len(tasks) > 1
	if len(tasks) == 1 {
		for i := range t.Instances {
			t.Instances[i].Subtask = ""
		}
	}
	t.Primary = MetricAccPerChar
	if b, _, _, _, ok := lookupBenchmark(name); ok {
		t.Primary = b.RCMetric
		if b.Name == "mmlu" {
			t.Macro = true
		}
	}
	if f == MC {
		t.Primary = MetricAccRaw
	}
	if t.Primary == MetricAccUncond && withUncond != len(t.Instances) {
		t.Primary = MetricAccPerChar // OLMES in-loop practice when no unconditional requests were sent (olmes.md D3)
	}
	return t, nil
}

// LoadRequestsTask reads a request dump and groups it into a Task. The task's name and formulation are taken
// from its task_name ("arc_easy:mc" → arc_easy, MC; "mmlu_anatomy" → mmlu when the file mixes subjects), and
// from a config.json next to the dump when there is one.
func LoadRequestsTask(path string) (*Task, error) {
	reqs, err := ReadRequests(path)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, r := range reqs {
		names[r.TaskName] = true
	}
	keys := sortedKeys(names)
	name := keys[0]
	f := RC
	if strings.HasSuffix(name, ":mc") || strings.Contains(name, ":mc:") {
		f = MC
	}
	base, _, _ := strings.Cut(name, ":")
	if len(keys) > 1 {
		if strings.HasPrefix(base, "mmlu_") {
			base = "mmlu"
		} else {
			base = strings.Join(keys, "+")
		}
	}
	if base == "" {
		base = strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".gz"), ".jsonl")
	}
	t, err := TaskFromRequests(base, f, reqs)
	if err != nil {
		return nil, withPath(err, path)
	}
	if cfg, err := ReadTaskConfig(filepath.Join(filepath.Dir(path), "config.json")); err == nil && cfg.PrimaryMetric != "" {
		t.Split = cfg.Options.Split // oe-eval's val_* variants: validation
		t.Primary = cfg.PrimaryMetric
		if t.Primary == MetricAccUncond && !t.HasUncond() {
			t.Primary = MetricAccPerChar
		}
		// OLMo-in-loop-evals' dumps of arc_challenge, csqa and openbookqa RC say acc_per_char where OLMES v0.1's
		// configs of the same names say acc_uncond (olmes.md D3): the dump's is scored, and its suites with it
		olmes := MetricAccRaw // OLMES's config of the task: acc_raw in MC, the benchmark's RC metric in RC
		b, _, _, _, known := lookupBenchmark(base)
		if known && f == RC {
			olmes = b.RCMetric
		}
		if known && cfg.PrimaryMetric != olmes {
			t.Notes = append(t.Notes, fmt.Sprintf("%s: the dump's config.json makes %s its primary metric, where OLMES's %s:%s::olmes has %s; its primary score, and the suites', are the dump's (the table has both)",
				path, cfg.PrimaryMetric, base, f, olmes))
		}
	}
	return t, nil
}

// TaskConfig is the part of an oe-eval task config.json (next to a request dump) that decides the requests.
type TaskConfig struct {
	TaskName      string      // "arc_easy:mc"
	Task          string      // task_core: "arc_easy"
	Formulation   Formulation // MC if the task name says ":mc"
	PrimaryMetric string
	Options       BuildOptions // split, limit, num_shots, random_subsample_seed
	NumInstances  int          // docs in the split before sampling
}

// ReadTaskConfig reads an oe-eval config.json. A limit that exceeds the split (1000000 in the "full" variants)
// builds every doc, as in oe-eval.
func ReadTaskConfig(path string) (TaskConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return TaskConfig{}, &InputError{Path: path, Msg: "no such file (an oe-eval task config)"}
		}
		return TaskConfig{}, err
	}
	var c struct {
		TaskName   string `json:"task_name"`
		TaskConfig struct {
			TaskName      string `json:"task_name"`
			TaskCore      string `json:"task_core"`
			Limit         *int   `json:"limit"`
			Split         string `json:"split"`
			NumShots      *int   `json:"num_shots"`
			PrimaryMetric string `json:"primary_metric"`
			Seed          *int64 `json:"random_subsample_seed"`
		} `json:"task_config"`
		NumInstances int `json:"num_instances"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return TaskConfig{}, &InputError{Path: path, Msg: "not an oe-eval task config", Err: err}
	}
	tc := c.TaskConfig
	out := TaskConfig{TaskName: c.TaskName, Task: tc.TaskCore, PrimaryMetric: tc.PrimaryMetric, NumInstances: c.NumInstances}
	if out.TaskName == "" {
		out.TaskName = tc.TaskName
	}
	if out.Task == "" {
		out.Task, _, _ = strings.Cut(out.TaskName, ":")
	}
	if strings.Contains(out.TaskName+":", ":mc:") {
		out.Formulation = MC
	}
	out.Options.Split = tc.Split
	out.Options.Limit = -1
	if tc.Limit != nil && *tc.Limit > 0 {
		out.Options.Limit = *tc.Limit
	}
	out.Options.Shots = -1
	if tc.NumShots != nil && *tc.NumShots > 0 {
		out.Options.Shots = *tc.NumShots
	}
	if tc.Seed != nil {
		out.Options.Seed = *tc.Seed
	}
	return out, nil
}
