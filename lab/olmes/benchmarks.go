package olmes

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The ten OLMES multiple-choice benchmarks (olmes.md §1.3), each ported from its oe-eval task class
// (oe_eval/tasks/oe_eval_tasks/*.py): the same _process_doc output ("doc" in a request file), templates,
// curated few-shot examples, default split, 1000-instance sampling and primary metric.

// Metric names, as oe-eval's MCAccuracy calls them (olmes.md §2).
const (
	MetricAccRaw      = "acc_raw"
	MetricAccPerToken = "acc_per_token"
	MetricAccPerChar  = "acc_per_char"
	MetricAccPerByte  = "acc_per_byte"
	MetricAccUncond   = "acc_uncond"
	MetricBPB         = "bits_per_byte_corr" // bits per UTF-8 byte of the gold continuation; lower is better
	MetricLL          = "sum_logits_corr"
	MetricLLPerToken  = "logits_per_token_corr"
	MetricLLPerChar   = "logits_per_char_corr"

	// The lab's validation loss (Formulation LM): mean cross-entropy in nats over a validation set's labelled
	// tokens, and the same loss summed, in bits, per UTF-8 byte of the target tokens' text. Lower is better.
	MetricCELoss      = "ce_loss"
	MetricBitsPerByte = "bits_per_byte"
)

// Benchmark describes one OLMES benchmark's defaults.
type Benchmark struct {
	Name     string // oe-eval's task name: "arc_easy", …, "mmlu"
	Split    string // OLMES's split
	Limit    int    // OLMES v0.1 samples this many instances (0: all)
	RCMetric string // primary metric of <name>:rc::olmes; every :mc::olmes uses acc_raw
	Uncond   bool   // whether RC sends unconditional requests (acc_uncond)
	Fewshot  string // FEWSHOT_SOURCES key; "" for MMLU (first five dev rows)
}

type benchmark struct {
	Benchmark
	nativeID [2]string // native_id_field for RC and MC ("" = none: native_id is null)
	hf       []string  // HF datasets directories under a root; {split} and {subject} are substituted
	pub      []pubForm // the datasets' own published files
	norm     func(rows []Doc) ([]Doc, error)
	process  func(r *rowReader, index int, f Formulation) Doc
}

// pubForm is a published (non-HF) file layout: candidate paths for a split and a converter to HF's fields.
type pubForm struct {
	paths   func(split string) []string
	convert func(path string, rows []Doc) ([]Doc, error)
}

var benchmarks = []*benchmark{
	{
		Benchmark: Benchmark{Name: "arc_easy", Split: "test", Limit: 1000, RCMetric: MetricAccPerChar, Uncond: true, Fewshot: "OLMES:ARC-Easy"},
		nativeID:  [2]string{"id", "id"},
		hf:        []string{"ai2_arc/ARC-Easy/{split}", "allenai/ai2_arc/ARC-Easy/{split}"},
		pub:       []pubForm{arcPublished("ARC-Easy")},
		process:   processARC,
	},
	{
		Benchmark: Benchmark{Name: "arc_challenge", Split: "test", RCMetric: MetricAccUncond, Uncond: true, Fewshot: "OLMES:ARC-Challenge"},
		nativeID:  [2]string{"id", "id"},
		hf:        []string{"ai2_arc/ARC-Challenge/{split}", "allenai/ai2_arc/ARC-Challenge/{split}"},
		pub:       []pubForm{arcPublished("ARC-Challenge")},
		process:   processARC,
	},
	{
		Benchmark: Benchmark{Name: "boolq", Split: "validation", Limit: 1000, RCMetric: MetricAccRaw, Fewshot: "OLMES:BoolQ"},
		nativeID:  [2]string{"idx", "idx"}, // MC's doc has "id", not "idx", so its native_id is null, as in oe-eval
		hf: []string{"super_glue/boolq/{split}", "aps/super_glue/boolq/{split}", "boolq/none/{split}",
			"boolq/default/{split}", "google/boolq/default/{split}", "google/boolq/{split}"},
		pub: []pubForm{{
			paths: func(split string) []string {
				s := map[string]string{"validation": "dev"}[split]
				if s == "" {
					s = split
				}
				return []string{"boolq/" + s + ".jsonl", "BoolQ/" + s + ".jsonl"}
			},
			convert: func(_ string, rows []Doc) ([]Doc, error) { return rows, nil }, // normBoolQ does the rest
		}},
		norm:    normBoolQ,
		process: processBoolQ,
	},
	{
		Benchmark: Benchmark{Name: "csqa", Split: "validation", RCMetric: MetricAccUncond, Uncond: true, Fewshot: "OLMES:commonsense_qa"},
		nativeID:  [2]string{"id", "id"},
		hf: []string{"tau/commonsense_qa/none/{split}", "tau/commonsense_qa/default/{split}",
			"commonsense_qa/none/{split}", "commonsense_qa/default/{split}"},
		pub: []pubForm{{
			paths: func(split string) []string {
				s := map[string]string{"validation": "dev_rand_split", "train": "train_rand_split", "test": "test_rand_split_no_answers"}[split]
				return []string{"commonsense_qa/" + s + ".jsonl", "csqa/" + s + ".jsonl"}
			},
			convert: func(_ string, rows []Doc) ([]Doc, error) { return convertQuestionStem(rows, "question", true) },
		}},
		process: processCSQA,
	},
	{
		Benchmark: Benchmark{Name: "hellaswag", Split: "validation", Limit: 1000, RCMetric: MetricAccPerChar, Uncond: true, Fewshot: "OLMES:hellaswag"},
		nativeID:  [2]string{"ind", "ind"},
		hf: []string{"hellaswag/default/{split}", "hellaswag/none/{split}", "allenai/hellaswag/default/{split}",
			"Rowan/hellaswag/default/{split}"},
		pub: []pubForm{{
			paths: func(split string) []string {
				s := map[string]string{"validation": "val"}[split]
				if s == "" {
					s = split
				}
				return []string{"hellaswag/hellaswag_" + s + ".jsonl", "hellaswag_" + s + ".jsonl"}
			},
			convert: func(_ string, rows []Doc) ([]Doc, error) { return rows, nil }, // same fields; label may be an int
		}},
		process: processHellaSwag,
	},
	{
		Benchmark: Benchmark{Name: "openbookqa", Split: "test", RCMetric: MetricAccUncond, Uncond: true, Fewshot: "OLMES:openbookqa"},
		nativeID:  [2]string{"id", "id"},
		hf:        []string{"openbookqa/main/{split}", "allenai/openbookqa/main/{split}"},
		pub: []pubForm{{
			paths: func(split string) []string {
				s := map[string]string{"validation": "dev"}[split]
				if s == "" {
					s = split
				}
				return []string{"OpenBookQA-V1-Sep2018/Data/Main/" + s + ".jsonl", "openbookqa/" + s + ".jsonl"}
			},
			convert: func(_ string, rows []Doc) ([]Doc, error) { return convertQuestionStem(rows, "question_stem", false) },
		}},
		process: processOBQA,
	},
	{
		Benchmark: Benchmark{Name: "piqa", Split: "validation", Limit: 1000, RCMetric: MetricAccPerChar, Uncond: true, Fewshot: "OLMES:piqa"},
		nativeID:  [2]string{"index", "index"},
		hf:        []string{"piqa/plain_text/{split}", "ybisk/piqa/plain_text/{split}", "piqa/default/{split}"},
		pub: []pubForm{{
			paths: func(split string) []string {
				s := map[string]string{"validation": "valid"}[split]
				if s == "" {
					s = split
				}
				return []string{"piqa/" + s + ".jsonl", "physicaliqa-train-dev/" + s + ".jsonl"}
			},
			convert: labelledConverter([]string{"goal", "sol1", "sol2"}, true),
		}},
		process: processPIQA,
	},
	{
		Benchmark: Benchmark{Name: "siqa", Split: "validation", Limit: 1000, RCMetric: MetricAccPerChar, Uncond: true, Fewshot: "OLMES:social_i_qa"},
		nativeID:  [2]string{"index", "index"},
		hf: []string{"social_i_qa/default/{split}", "social_i_qa/none/{split}", "allenai/social_i_qa/default/{split}",
			"social_i_qa/plain_text/{split}"},
		pub: []pubForm{{
			paths: func(split string) []string {
				s := map[string]string{"validation": "dev"}[split]
				if s == "" {
					s = split
				}
				return []string{"socialiqa-train-dev/" + s + ".jsonl", "siqa/" + s + ".jsonl", "social_i_qa/" + s + ".jsonl"}
			},
			convert: labelledConverter([]string{"context", "question", "answerA", "answerB", "answerC"}, false),
		}},
		process: processSIQA,
	},
	{
		Benchmark: Benchmark{Name: "winogrande", Split: "validation", RCMetric: MetricAccRaw, Fewshot: "OLMES:winogrande"},
		nativeID:  [2]string{"", "index"},
		hf:        []string{"winogrande/winogrande_xl/{split}", "allenai/winogrande/winogrande_xl/{split}"},
		pub: []pubForm{{
			paths: func(split string) []string {
				s := map[string]string{"validation": "dev", "train": "train_xl"}[split]
				if s == "" {
					s = split
				}
				return []string{"winogrande_1.1/" + s + ".jsonl", "winogrande/" + s + ".jsonl"}
			},
			convert: func(path string, rows []Doc) ([]Doc, error) {
				out := make([]Doc, len(rows))
				for i, r := range rows {
					ans, _ := r.Get("answer")
					if n, ok := asInt(ans); ok {
						ans = strconv.Itoa(n)
					}
					if ans == nil {
						ans = ""
					}
					out[i] = Doc{{"sentence", r.Str("sentence")}, {"option1", r.Str("option1")}, {"option2", r.Str("option2")}, {"answer", ans}}
				}
				return out, nil
			},
		}},
		process: processWinoGrande,
	},
	{
		Benchmark: Benchmark{Name: "mmlu", Split: "test", RCMetric: MetricAccPerChar, Uncond: true},
		nativeID:  [2]string{"index", "index"},
		hf:        []string{"hails/mmlu_no_train/{subject}/{split}", "cais/mmlu/{subject}/{split}", "mmlu/{subject}/{split}"},
		process:   processMMLU,
	},
}

// Benchmarks lists the OLMES benchmarks BuildRequests knows, in OLMES's order (the nine core tasks, then MMLU).
func Benchmarks() []Benchmark {
	out := make([]Benchmark, len(benchmarks))
	for i, b := range benchmarks {
		out[i] = b.Benchmark
	}
	return out
}

// taskAliases maps other names people use (oe-eval aliases, dataset names) to ours.
var taskAliases = map[string]string{
	"arc_e": "arc_easy", "arc-easy": "arc_easy", "arceasy": "arc_easy",
	"arc_c": "arc_challenge", "arc-challenge": "arc_challenge", "arcchallenge": "arc_challenge",
	"commonsense_qa": "csqa", "commonsenseqa": "csqa",
	"obqa": "openbookqa", "social_i_qa": "siqa", "socialiqa": "siqa", "social_iqa": "siqa",
}

// taskNameForms are the spellings of a task name taskParts accepts, for its errors.
const taskNameForms = "NAME, NAME:mc, NAME:rc, NAME:rc:bpb (oe-eval's bits-per-byte twin: the rc requests, whose metrics hold bits_per_byte_corr), each with or without ::olmes (OLMES's config, which is ours) or ::olmes:full (every instance, as --limit -1)"

// taskParts reads what follows a task name's base, as oe-eval spells it:
// "arc_easy:rc::olmes", "arc_easy:mc::olmes:full", "arc_easy:rc:bpb::olmes".
// ":mc" and ":rc" give the formulation (hasF); ":bpb" is the RC config's
// bits-per-byte twin, the same requests, so it means rc; "::olmes" is OLMES's
// config, ours; "::olmes:full" is it without the instance limit (full). Any
// other part is refused by name: ignored, "arc_easy:xx" was scored in the
// default formulation, or failed on its data, and "::olmo1" (another
// config, other prompts) was scored as OLMES's.
func taskParts(name string) (f Formulation, hasF, full bool, err error) {
	n := strings.ToLower(strings.TrimSpace(name))
	head, regime, hasRegime := strings.Cut(n, "::")
	bad := func(what string) error {
		return inputErrorf("", 0, "the forms accepted: "+taskNameForms, "task %q: %s", name, what)
	}
	if hasRegime {
		switch regime {
		case "olmes":
		case "olmes:full":
			full = true
		default:
			return 0, false, false, bad(fmt.Sprintf("unknown config \"::%s\" (oe-eval's configs other than OLMES's have other prompts or shots, which are not implemented)", regime))
		}
	}
	parts := strings.Split(head, ":")
	for _, p := range parts[1:] {
		var pf Formulation
		switch p {
		case "mc":
			pf = MC
		case "rc":
			pf = RC
		case "bpb":
			pf = RC
		default:
			return 0, false, false, bad(fmt.Sprintf("unknown part \":%s\"", p))
		}
		if hasF && pf != f {
			return 0, false, false, bad("names two formulations (mc and rc; :bpb is rc's)")
		}
		f, hasF = pf, true
	}
	return f, hasF, full, nil
}

// lookupBenchmark resolves an OLMES task name: "arc_easy", "arc_easy:rc::olmes", "mmlu", "mmlu_anatomy". It
// returns the benchmark, the MMLU subject if one was named, and the formulation the name implies (":mc") if any.
func lookupBenchmark(name string) (b *benchmark, subject string, f Formulation, hasF bool, ok bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	n, _, _ = strings.Cut(n, ":")
	f, hasF, _, err := taskParts(name)
	if err != nil { // LoadTask and BuildRequests said so first
		return nil, "", f, hasF, false
	}
	if a, ok := taskAliases[n]; ok {
		n = a
	}
	if s, found := strings.CutPrefix(n, "mmlu_"); found {
		for _, sub := range mmluSubjects {
			if sub == s {
				return benchmarks[len(benchmarks)-1], s, f, hasF, true
			}
		}
		return nil, "", f, hasF, false
	}
	for _, b := range benchmarks {
		if b.Name == n {
			return b, "", f, hasF, true
		}
	}
	return nil, "", f, hasF, false
}

// OLMESTaskNames are the names of Benchmarks, the tasks BuildRequests (and
// `olmolab olmes requests`) builds; each MMLU subject is one too, as
// mmlu_<subject>.
func OLMESTaskNames() []string {
	names := make([]string, len(benchmarks))
	for i, b := range benchmarks {
		names[i] = b.Name
	}
	return names
}

// olmesTasks lists the tasks BuildRequests accepts, for hints and help.
func olmesTasks() string {
	return strings.Join(OLMESTaskNames(), ", ") + " (or mmlu_<subject>)"
}

// unknownTaskError is LoadTask's: an evaluation takes an OLMES or a built-in task.
func unknownTaskError(name string) error {
	return inputErrorf("", 0, "OLMES tasks: "+olmesTasks()+"; built-in tasks: "+strings.Join(BuiltinTaskNames(), ", "),
		"unknown task %q", name)
}

// unknownRequestsTaskError is BuildRequests': requests are built from an OLMES
// task's dataset, so the built-in tasks, made in memory, are not among them.
func unknownRequestsTaskError(name string) error {
	hint := "OLMES tasks: " + olmesTasks()
	if BuiltinGroup(strings.TrimSpace(name)) != "" {
		hint = name + " is a built-in task, evaluated directly (olmolab eval --tasks " + name + "); requests are built for " + hint
	}
	return inputErrorf("", 0, hint, "unknown task %q", name)
}

// mmluSubjects are MMLU's 57 subjects (oe_eval/data/mmlu_tasks.py), alphabetically.
var mmluSubjects = []string{
	"abstract_algebra", "anatomy", "astronomy", "business_ethics", "clinical_knowledge", "college_biology",
	"college_chemistry", "college_computer_science", "college_mathematics", "college_medicine", "college_physics",
	"computer_security", "conceptual_physics", "econometrics", "electrical_engineering", "elementary_mathematics",
	"formal_logic", "global_facts", "high_school_biology", "high_school_chemistry", "high_school_computer_science",
	"high_school_european_history", "high_school_geography", "high_school_government_and_politics",
	"high_school_macroeconomics", "high_school_mathematics", "high_school_microeconomics", "high_school_physics",
	"high_school_psychology", "high_school_statistics", "high_school_us_history", "high_school_world_history",
	"human_aging", "human_sexuality", "international_law", "jurisprudence", "logical_fallacies", "machine_learning",
	"management", "marketing", "medical_genetics", "miscellaneous", "moral_disputes", "moral_scenarios", "nutrition",
	"philosophy", "prehistory", "professional_accounting", "professional_law", "professional_medicine",
	"professional_psychology", "public_relations", "security_studies", "sociology", "us_foreign_policy", "virology",
	"world_religions",
}

// MMLUSubjects returns MMLU's 57 subjects.
func MMLUSubjects() []string { return append([]string(nil), mmluSubjects...) }

// ---- loading ----

// dataDirHint says how to give the OLMES data directory: a run (--batch, the
// interactive lab, sweep) reads only $OLMOLAB_OLMES_DATA; olmolab eval and
// olmes requests take --data too.
const dataDirHint = "give the directory that holds the OLMES datasets: OLMOLAB_OLMES_DATA=DIR for a run, or olmolab eval --data DIR (e.g. ../shared/data/olmes)"

// loadRows finds and reads a benchmark's split under dataDir (or dataDir/hf): an HF save_to_disk directory, an
// HF-shaped JSONL file next to where that directory would be (<dir>.jsonl[.gz]), or the dataset's published files.
func (b *benchmark) loadRows(dataDir, subject, split, command string) ([]Doc, string, error) {
	where, read, err := b.locate(dataDir, subject, split, command)
	if err != nil {
		return nil, "", err
	}
	rows, err := read()
	return rows, where, err
}

// locate finds a benchmark's split under dataDir as loadRows does, and returns where it is and how to read it,
// reading nothing: a missing directory or split is loadRows' error, whose hint names command's --split
// (BuildOptions.Command).
func (b *benchmark) locate(dataDir, subject, split, command string) (where string, read func() ([]Doc, error), err error) {
	if dataDir == "" {
		return "", nil, inputErrorf("", 0, dataDirHint, "no data directory for %s", b.Name)
	}
	if st, err := os.Stat(dataDir); err != nil || !st.IsDir() {
		return "", nil, inputErrorf(dataDir, 0, dataDirHint, "data directory not found")
	}
	var tried []string
	roots := []string{dataDir, filepath.Join(dataDir, "hf")}
	for _, root := range roots {
		for _, pat := range b.hf {
			rel := strings.NewReplacer("{split}", split, "{subject}", subject).Replace(pat)
			dir := filepath.Join(root, filepath.FromSlash(rel))
			tried = append(tried, dir)
			if st, err := os.Stat(dir); err == nil && st.IsDir() {
				return dir, func() ([]Doc, error) { return ReadHFSplit(dir) }, nil
			}
			for _, ext := range []string{".jsonl", ".jsonl.gz"} {
				if p := dir + ext; fileExists(p) {
					return p, func() ([]Doc, error) { return ReadJSONLRows(p) }, nil
				}
			}
		}
		for _, pf := range b.pub {
			for _, rel := range pf.paths(split) {
				p := filepath.Join(root, filepath.FromSlash(rel))
				tried = append(tried, p)
				if fileExists(p) {
					return p, func() ([]Doc, error) {
						rows, err := ReadJSONLRows(p)
						if err != nil {
							return nil, err
						}
						return pf.convert(p, rows)
					}, nil
				}
			}
		}
		if b.Name == "mmlu" {
			s := map[string]string{"validation": "val"}[split]
			if s == "" {
				s = split
			}
			for _, rel := range []string{"data/" + s + "/" + subject + "_" + s + ".csv", "mmlu/data/" + s + "/" + subject + "_" + s + ".csv"} {
				p := filepath.Join(root, filepath.FromSlash(rel))
				tried = append(tried, p)
				if fileExists(p) {
					return p, func() ([]Doc, error) { return readMMLUCSV(p, subject) }, nil
				}
			}
		}
	}
	what := b.Name
	if subject != "" {
		what += " (" + subject + ")"
	}
	hint := "looked for an HF datasets save_to_disk directory or published JSONL at:\n  " + strings.Join(tried, "\n  ")
	if subject == "" {
		hint = dumpsHint(dataDir, b.Name, split, command) + hint
	}
	// A data directory often holds only some splits (shared/data/olmes has the validation splits, published
	// files are often only the dev set): say which.
	for _, other := range []string{"validation", "test", "train"} {
		if other == split {
			continue
		}
		for _, root := range roots {
			var found string
			for _, pat := range b.hf {
				dir := filepath.Join(root, filepath.FromSlash(strings.NewReplacer("{split}", other, "{subject}", subject).Replace(pat)))
				if st, err := os.Stat(dir); (err == nil && st.IsDir()) || fileExists(dir+".jsonl") || fileExists(dir+".jsonl.gz") {
					found = cmp.Or(found, dir)
				}
			}
			for _, pf := range b.pub {
				for _, rel := range pf.paths(other) {
					if p := filepath.Join(root, filepath.FromSlash(rel)); fileExists(p) {
						found = cmp.Or(found, p)
					}
				}
			}
			if found != "" {
				// olmolab eval has --split, a run its recipe's eval.split; olmes requests writes requests
				use := fmt.Sprintf("score that one instead of the %s split with olmolab eval --split %s, or in a run with eval.split: %s in its recipe (--set eval.split=%s)", split, other, other, other)
				if command == CommandRequests {
					use = fmt.Sprintf("write its requests instead of the %s split's with olmolab olmes requests --split %s", split, other)
				}
				hint = fmt.Sprintf("%s holds the %s split of %s (%s); %s\n%s", dataDir, other, what, found, use, hint)
				return "", nil, &InputError{Path: dataDir, Msg: fmt.Sprintf("no %s split of %s", split, what), Hint: hint}
			}
		}
	}
	return "", nil, &InputError{Path: dataDir, Msg: fmt.Sprintf("no %s split of %s", split, what), Hint: hint}
}

// dumpsHint names the oe-eval request dumps under dataDir/requests (shared/data/olmes ships them, without the raw
// HellaSwag, ARC test or OpenBookQA test splits) that are OLMES's requests of task on split, which eval scores as
// they are, one line ending in a newline; "" where there are none.
func dumpsHint(dataDir, task, split, command string) string {
	configs, _ := filepath.Glob(filepath.Join(dataDir, "requests", "*", "*", "config.json"))
	var dumps []string
	for _, p := range configs {
		cfg, err := ReadTaskConfig(p)
		dir := filepath.Dir(p)
		if err != nil || cfg.Task != task || cfg.Options.Split != split || !fileExists(filepath.Join(dir, "requests.jsonl.gz")) {
			continue
		}
		n := cfg.NumInstances
		if l := cfg.Options.Limit; l > 0 && (n == 0 || l < n) {
			n = l
		}
		dumps = append(dumps, fmt.Sprintf("%s (%s, %d instances)", dir, cfg.TaskName, n))
	}
	if len(dumps) == 0 {
		return ""
	}
	use := "which olmolab eval --tasks DIR scores as they are"
	if command == CommandRequests {
		use = "the requests already (zcat DIR/requests.jsonl.gz), which olmolab eval --tasks DIR scores as they are"
	}
	return fmt.Sprintf("%s holds oe-eval's requests of %s on the %s split, %s: %s\n",
		dataDir, task, split, use, strings.Join(dumps, ", "))
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// arcPublished reads ARC's own JSONL (ARC-V1-Feb2018-2/ARC-Easy/ARC-Easy-Dev.jsonl: {id, question: {stem,
// choices: [{text, label}]}, answerKey}).
func arcPublished(set string) pubForm {
	return pubForm{
		paths: func(split string) []string {
			s := map[string]string{"validation": "Dev", "train": "Train", "test": "Test"}[split]
			return []string{"ARC-V1-Feb2018-2/" + set + "/" + set + "-" + s + ".jsonl", set + "/" + set + "-" + s + ".jsonl"}
		},
		convert: func(_ string, rows []Doc) ([]Doc, error) { return convertQuestionStem(rows, "question", false) },
	}
}

// convertQuestionStem turns the AI2 layout {id, question: {stem, choices: [{label, text}], question_concept?},
// answerKey} into HF's {id, <stemField>, (question_concept), choices: {text, label} | {label, text}, answerKey}.
func convertQuestionStem(rows []Doc, stemField string, csqa bool) ([]Doc, error) {
	out := make([]Doc, 0, len(rows))
	for i, r := range rows {
		q := r.Sub("question")
		if q == nil {
			return nil, inputErrorf("", i+1, "this file is read in AI2's layout ({id, question: {stem, choices: [{label, text}]}, answerKey}); give the benchmark's published JSONL as it is, or HF's copy saved with save_to_disk", "row %d: no question object", i+1)
		}
		var texts, labels []any
		cs, _ := q.Get("choices")
		list, _ := cs.([]any)
		for _, c := range list {
			cd, _ := c.(Doc)
			texts = append(texts, cd.Str("text"))
			labels = append(labels, cd.Str("label"))
		}
		d := Doc{{"id", r.Str("id")}, {stemField, q.Str("stem")}}
		if csqa {
			d = append(d, Field{"question_concept", q.Str("question_concept")},
				Field{"choices", Doc{{"label", labels}, {"text", texts}}})
		} else {
			d = append(d, Field{"choices", Doc{{"text", texts}, {"label", labels}}})
		}
		d = append(d, Field{"answerKey", r.Str("answerKey")})
		out = append(out, d)
	}
	return out, nil
}

// labelledConverter reads PIQA's and SIQA's layout: rows with the given fields and the labels in a separate
// <name>-labels.lst, one per line (PIQA 0/1 as an int label, SIQA 1–3 as a string).
func labelledConverter(fields []string, intLabel bool) func(path string, rows []Doc) ([]Doc, error) {
	return func(path string, rows []Doc) ([]Doc, error) {
		lp := strings.TrimSuffix(strings.TrimSuffix(path, ".gz"), ".jsonl") + "-labels.lst"
		labels, err := readLines(lp)
		if err != nil {
			return nil, err
		}
		if len(labels) != len(rows) {
			return nil, inputErrorf(lp, 0, "the labels file has one label per line, one line per row of its data file: give the pair as published, from one download", "%d labels for %d rows in %s", len(labels), len(rows), path)
		}
		out := make([]Doc, len(rows))
		for i, r := range rows {
			d := make(Doc, 0, len(fields)+1)
			for _, f := range fields {
				d = append(d, Field{f, r.Str(f)})
			}
			var lab any = labels[i]
			if intLabel {
				n, err := strconv.Atoi(labels[i])
				if err != nil {
					return nil, inputErrorf(lp, i+1, "PIQA's labels are 0 or 1, one per line: give the labels file as published", "label %q is not a number", labels[i])
				}
				lab = n
			}
			out[i] = append(d, Field{"label", lab})
		}
		return out, nil
	}
}

// mmluCSVHint is the HINT of a malformed MMLU CSV file.
const mmluCSVHint = "MMLU's CSV rows are question, four choices, answer letter (A–D), no header: give data/test/<subject>_test.csv as published"

// readMMLUCSV reads the original MMLU layout (data/test/<subject>_test.csv: question, A, B, C, D, answer letter,
// no header) as HF's {question, subject, choices, answer}.
func readMMLUCSV(path, subject string) ([]Doc, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 6
	var out []Doc
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, &InputError{Path: path, Line: line, Msg: "malformed CSV", Err: err, Hint: mmluCSVHint}
		}
		ans := strings.Index("ABCD", strings.TrimSpace(rec[5]))
		if ans < 0 || len(strings.TrimSpace(rec[5])) != 1 {
			return nil, inputErrorf(path, line, mmluCSVHint, "answer %q is not A–D", rec[5])
		}
		out = append(out, Doc{{"question", rec[0]}, {"subject", subject}, {"choices", []any{rec[1], rec[2], rec[3], rec[4]}}, {"answer", ans}})
	}
}

// normBoolQ brings BoolQ rows to super_glue's form {question, passage, idx, label}: google/boolq and the
// published JSONL have answer (bool) instead of label and no idx; the published JSONL has the Wikipedia title
// separately, which super_glue (and so OLMES) puts before the passage as "Title -- passage" (olmes.md D4).
// google/boolq has no titles at all, so its prompts lack them.
func normBoolQ(rows []Doc) ([]Doc, error) {
	out := make([]Doc, len(rows))
	for i, r := range rows {
		passage := r.Str("passage")
		if t := r.Str("title"); t != "" {
			passage = t + " -- " + passage
		}
		idx, ok := r.Int("idx")
		if !ok {
			idx = i
		}
		label, ok := r.Int("label")
		if !ok {
			a, isBool := r.Get("answer")
			b, _ := a.(bool)
			if !isBool {
				return nil, inputErrorf("", i+1, "give super_glue's boolq (label), google/boolq or the published JSONL (answer: true/false)", "BoolQ row %d has neither label nor a boolean answer", i+1)
			}
			if b {
				label = 1
			}
		}
		out[i] = Doc{{"question", r.Str("question")}, {"passage", passage}, {"idx", idx}, {"label", label}}
	}
	return out, nil
}

// ---- processing (oe-eval's _process_doc) ----

// rowReader reads fields of one raw row and remembers the first problem.
type rowReader struct {
	row Doc
	err error
}

func (r *rowReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *rowReader) get(k string) any {
	v, ok := r.row.Get(k)
	if !ok {
		r.fail("missing field %q", k)
	}
	return v
}

func (r *rowReader) str(k string) string {
	v := r.get(k)
	s, ok := v.(string)
	if !ok && r.err == nil {
		r.fail("field %q is not a string", k)
	}
	return s
}

// num reads an integer field that may be stored as a string ("1"), as several datasets' labels are.
func (r *rowReader) num(k string) int {
	v := r.get(k)
	if n, ok := asInt(v); ok {
		return n
	}
	if s, ok := v.(string); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			return n
		}
	}
	r.fail("field %q is not an integer: %v", k, v)
	return 0
}

func (r *rowReader) strs(v any, what string) []string {
	s := asStrings(v)
	if s == nil {
		r.fail("%s is not a list of strings", what)
	}
	return s
}

// choiceTexts reads HF's choices {text: […], label: […]}.
func (r *rowReader) choiceTexts() []string {
	c, _ := r.get("choices").(Doc)
	if c == nil {
		r.fail("field \"choices\" is not an object")
		return nil
	}
	v, _ := c.Get("text")
	return r.strs(v, "choices.text")
}

// letterGold returns the index of key in letters (A, B, …), checking it names one of n choices.
func (r *rowReader) letterGold(key string, n int) int {
	i := strings.Index(letters[:min(n, len(letters))], key)
	if len(key) != 1 || i < 0 {
		r.fail("answer key %q is not one of the %d choices", key, n)
		return 0
	}
	return i
}

func processARC(r *rowReader, _ int, f Formulation) Doc {
	key := r.str("answerKey")
	if l, ok := map[string]string{"1": "A", "2": "B", "3": "C", "4": "D", "5": "E"}[key]; ok {
		key = l
	}
	texts := r.choiceTexts()
	q := r.str("question")
	gold := r.letterGold(key, len(texts))
	if f == MC {
		return Doc{{"id", r.get("id")}, {"query", mcqPrompt(q, texts, "Question: ", "")}, {"choices", letterLabels(len(texts))}, {"gold", gold}}
	}
	return Doc{{"id", r.get("id")}, {"query", clozePrompt(q, "Question: ")}, {"choices", texts}, {"gold", gold}}
}

func processBoolQ(r *rowReader, _ int, f Formulation) Doc {
	prefix := r.str("passage") + "\nQuestion: "
	q := r.str("question") + "?"
	gold := 1 - r.num("label")
	if gold != 0 && gold != 1 {
		r.fail("label must be 0 or 1")
	}
	yn := []string{"yes", "no"}
	if f == MC {
		return Doc{{"id", r.get("idx")}, {"query", mcqPrompt(q, yn, prefix, "")}, {"choices", []string{"A", "B"}}, {"gold", gold}}
	}
	return Doc{{"idx", r.get("idx")}, {"query", clozePrompt(q, prefix)}, {"choices", yn}, {"gold", gold}}
}

func processCSQA(r *rowReader, _ int, f Formulation) Doc {
	texts := r.choiceTexts()
	q := r.str("question")
	gold := r.letterGold(r.str("answerKey"), len(texts))
	if f == MC {
		return Doc{{"id", r.get("id")}, {"query", mcqPrompt(q, texts, "Question: ", "")}, {"choices", letterLabels(len(texts))}, {"gold", gold}}
	}
	return Doc{{"id", r.get("id")}, {"query", clozePrompt(q, "Question: ")}, {"choices", texts}, {"gold", gold}}
}

func processHellaSwag(r *rowReader, _ int, f Formulation) Doc {
	endings := r.strs(r.get("endings"), "endings")
	ctx := r.str("activity_label") + ": " + r.str("ctx_a") + " " + pyCapitalize(r.str("ctx_b"))
	gold := -1
	if v := r.get("label"); v != "" && v != nil {
		gold = r.num("label")
	}
	if f == MC {
		q := hellaswagPre(mcqPrompt(ctx, endings, "", "Choose the best continuation:\n"))
		return Doc{{"query", q}, {"choices", letterLabels(len(endings))}, {"gold", gold}}
	}
	ch := make([]string, len(endings))
	for i, e := range endings {
		ch[i] = hellaswagPre(e)
	}
	return Doc{{"ind", r.get("ind")}, {"query", hellaswagPre(ctx)}, {"choices", ch}, {"gold", gold}}
}

func processOBQA(r *rowReader, _ int, f Formulation) Doc {
	texts := r.choiceTexts()
	q := r.str("question_stem")
	gold := r.letterGold(pyStrip(r.str("answerKey")), min(len(texts), 4))
	if f == MC {
		return Doc{{"id", r.get("id")}, {"query", mcqPrompt(q, texts, "Question: ", "")}, {"choices", letterLabels(min(len(texts), 4))}, {"gold", gold}}
	}
	return Doc{{"id", r.get("id")}, {"query", clozePrompt(q, "Question: ")}, {"choices", texts}, {"gold", gold}}
}

func processPIQA(r *rowReader, index int, f Formulation) Doc {
	goal := r.str("goal")
	sols := []string{r.str("sol1"), r.str("sol2")}
	gold := r.num("label")
	if f == MC {
		return r.row.Merge(Doc{{"index", index}, {"goal", goal}, {"query", mcqPrompt(goal, sols, "Goal: ", "")}, {"choices", []string{"A", "B"}}, {"gold", gold}})
	}
	return r.row.Merge(Doc{{"index", index}, {"goal", goal}, {"query", clozePrompt(goal, "Goal: ")}, {"choices", sols}, {"gold", gold}})
}

func processSIQA(r *rowReader, index int, f Formulation) Doc {
	q := r.str("context") + " " + r.str("question")
	ans := []string{r.str("answerA"), r.str("answerB"), r.str("answerC")}
	gold := r.num("label") - 1
	if f == MC {
		return r.row.Merge(Doc{{"index", index}, {"query", mcqPrompt(q, ans, "Question: ", "")}, {"choices", []string{"A", "B", "C"}}, {"gold", gold}})
	}
	return r.row.Merge(Doc{{"index", index}, {"query", clozePrompt(q, "Question: ")}, {"choices", ans}, {"gold", gold}})
}

func processWinoGrande(r *rowReader, index int, f Formulation) Doc {
	s := r.str("sentence")
	if !strings.Contains(s, "_") {
		r.fail("sentence has no blank \"_\"")
	}
	o1, o2 := r.str("option1"), r.str("option2")
	if f == RC {
		return r.row.Merge(Doc{{"index", index}})
	}
	gold := -1
	if a := r.str("answer"); a != "" {
		gold = r.num("answer") - 1
	}
	q := mcqPrompt(strings.ReplaceAll(s, "_", "___"), []string{o1, o2}, "Fill in the blank: ", "")
	return r.row.Merge(Doc{{"index", index}, {"query", q}, {"choices", []string{"A", "B"}}, {"gold", gold}, {"sentence", s}})
}

func processMMLU(r *rowReader, index int, f Formulation) Doc {
	q := r.str("question")
	ch := r.strs(r.get("choices"), "choices")
	gold := r.num("answer")
	if f == MC {
		return r.row.Merge(Doc{{"index", index}, {"query", mcqPrompt(q, ch, "Question: ", "")}, {"choices", letterLabels(len(ch))}, {"gold", gold}})
	}
	return r.row.Merge(Doc{{"index", index}, {"query", clozePrompt(q, "Question: ")}, {"choices", ch}, {"gold", gold}})
}
