package olmes

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/olmolab/olmolab/lab/data/world"
)

// LoadOptions say where tasks come from.
type LoadOptions struct {
	DataDir string         // the OLMES datasets (e.g. ../shared/data/olmes); needed only for OLMES tasks
	Build   BuildOptions   // OLMES request options (zero: OLMES v0.1)
	Builtin BuiltinOptions // built-in task options
	// DumpLimit keeps the first DumpLimit instances of a request dump (a dump is OLMES's sample already); 0: all.
	DumpLimit int
	KB        *world.KB // the world of the built-in tasks; nil: world.Default()
}

// Task groups LoadTasks expands.
var taskGroups = map[string][]string{
	"core9":       {"arc_easy", "arc_challenge", "boolq", "csqa", "hellaswag", "openbookqa", "piqa", "siqa", "winogrande"},
	"olmes":       {"arc_easy", "arc_challenge", "boolq", "csqa", "hellaswag", "openbookqa", "piqa", "siqa", "winogrande", "mmlu"},
	"builtin":     {"fact_qa_seen", "fact_cloze", "arith_seen", "story", "code", "fact_qa_heldout", "arith"},
	"development": {"fact_qa_seen", "fact_cloze", "arith_seen", "story", "code"},
	"unseen":      {"fact_qa_heldout", "arith"},
}

// TaskGroups lists the group names LoadTasks expands ("builtin", "development", "unseen", "core9", "olmes").
func TaskGroups() []string { return sortedKeys(taskGroups) }

// LoadTask returns one task in formulation f. name is
//   - a built-in task ("fact_qa_heldout", …, see BuiltinTaskNames), built over o.KB;
//   - an OLMES task ("arc_easy", "mmlu", "mmlu_anatomy", "csqa:mc::olmes"), built from o.DataDir;
//   - an oe-eval request dump (a requests.jsonl[.gz] file, or a directory holding requests.jsonl.gz), whose
//     own task_name decides the formulation.
//
// A ":mc" or ":rc" in the name overrides f (oe-eval's spellings: taskParts). An unknown task, a part of its
// name that means nothing here, or missing data is an *InputError.
func LoadTask(name string, f Formulation, o LoadOptions) (*Task, error) {
	if p, ok := requestDump(name); ok {
		t, err := LoadRequestsTask(p)
		if err != nil {
			return nil, err
		}
		if o.DumpLimit > 0 && len(t.Instances) > o.DumpLimit {
			t.Instances = t.Instances[:o.DumpLimit]
		}
		if f == MC && t.Formulation != MC { // --mc asked for what the dump does not hold
			t.Notes = append(t.Notes, fmt.Sprintf("%s: a request dump is scored in its own formulation, %s, not mc; give the dump of the mc requests for that", name, t.Formulation))
		}
		if o.Build.Split != "" && t.Split != "" && o.Build.Split != t.Split { // --split (eval.split) likewise
			t.Notes = append(t.Notes, fmt.Sprintf("%s: a request dump is scored on its own split, %s, not %s; give the dump of the %s requests for that", name, t.Split, o.Build.Split, o.Build.Split))
		}
		return t, nil
	}
	base, _, _ := strings.Cut(strings.TrimSpace(name), ":")
	nf, hasF, _, err := taskParts(name)
	if err != nil {
		return nil, err
	}
	if hasF {
		f = nf
	}
	if BuiltinGroup(base) != "" {
		return BuiltinTask(base, f, o.KB, o.Builtin)
	}
	b, _, _, _, ok := lookupBenchmark(name)
	if !ok {
		if st, err := os.Stat(name); err == nil && st.IsDir() {
			return nil, dumpDirError(name)
		}
		return nil, unknownTaskError(name)
	}
	reqs, err := BuildRequests(name, f, o.DataDir, o.Build)
	if err != nil {
		return nil, err
	}
	t, err := TaskFromRequests(b.Name, f, reqs)
	if err != nil {
		return nil, err
	}
	t.Split = cmp.Or(o.Build.Split, b.Split)
	if strings.HasPrefix(strings.ToLower(base), "mmlu_") {
		t.Name = strings.ToLower(base)
	}
	if b.Name == "boolq" && !boolqTitled(reqs) {
		t.Notes = append(t.Notes, "boolq: the data has no Wikipedia titles (google/boolq), which OLMES's copy (super_glue) puts before each passage as \"Title -- passage\"; these prompts, and so the scores, differ from OLMES's; give super_glue's boolq or the published JSONL (it has the titles) to score OLMES's prompts")
	}
	return t, nil
}

// boolqTitled reports whether most BoolQ docs start with a "Title -- " line, as super_glue's passages do (and
// normBoolQ makes of the published JSONL's title field); google/boolq's passages have no title.
func boolqTitled(reqs []Request) bool {
	docs, titled := map[int]bool{}, 0
	for _, r := range reqs {
		if r.DocID >= UncondDocIDOffset || docs[r.DocID] {
			continue
		}
		docs[r.DocID] = true
		first, _, _ := strings.Cut(r.Doc.Str("query"), "\n")
		if strings.Contains(first, " -- ") {
			titled++
		}
	}
	return 2*titled > len(docs)
}

// LoadTasks loads several tasks, expanding group names (TaskGroups) and comma-separated lists:
// LoadTasks([]string{"builtin", "arc_easy:mc"}, RC, o).
func LoadTasks(names []string, f Formulation, o LoadOptions) ([]*Task, error) {
	var out []*Task
	for _, name := range taskNames(names) {
		t, err := LoadTask(name, f, o)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, errNoTasks
	}
	return out, nil
}

var errNoTasks = inputErrorf("", 0, "name tasks, e.g. builtin, development, unseen, arc_easy, mmlu:mc", "no tasks")

// taskNames expands LoadTasks' names: comma-separated lists, oe-eval's OLMES suites (oeEvalSuiteTasks), and
// groups (TaskGroups) into their tasks, each with the group's ":mc" or other suffix.
func taskNames(names []string) []string {
	var out []string
	for _, n := range names {
		for _, name := range strings.Split(n, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if tasks, ok := oeEvalSuiteTasks(name); ok {
				out = append(out, tasks...)
				continue
			}
			base, suffix, _ := strings.Cut(name, ":")
			g, ok := taskGroups[strings.ToLower(base)]
			if !ok {
				out = append(out, name)
				continue
			}
			for _, m := range g {
				if suffix != "" {
					m += ":" + suffix
				}
				out = append(out, m)
			}
		}
	}
	return out
}

// CheckTasks checks names as LoadTasks takes them without building a request, for a caller that must refuse a
// task list before anything runs and loads the tasks later (a sweep checks every planned run's): each name is a
// built-in task, an OLMES task or a request dump that opens, and each OLMES task's split is where LoadTask would
// read it under o.DataDir (every subject's for MMLU, and the dev split its few-shot examples come from). Nothing
// is read from the files: their content is checked when the tasks are loaded. Building the requests instead took
// every row of every split (MMLU: 57 subjects, about 14K questions), for each distinct task list. usesData says
// whether some task reads o.DataDir. An error is the one LoadTasks would return for the same problem.
func CheckTasks(names []string, o LoadOptions) (usesData bool, err error) {
	list := taskNames(names)
	if len(list) == 0 {
		return false, errNoTasks
	}
	for _, name := range list {
		if p, ok := requestDump(name); ok {
			rc, err := openMaybeGzip(p, "an oe-eval request dump", dumpHint)
			if err != nil {
				return usesData, err
			}
			rc.Close()
			continue
		}
		if _, _, _, err := taskParts(name); err != nil {
			return usesData, err
		}
		base, _, _ := strings.Cut(name, ":")
		if BuiltinGroup(base) != "" {
			continue
		}
		b, subject, _, _, ok := lookupBenchmark(name)
		if !ok {
			return usesData, unknownTaskError(name)
		}
		usesData = true
		bo := o.Build.resolve(b)
		subjects := []string{subject}
		if b.Name == "mmlu" && subject == "" {
			subjects = mmluSubjects
		}
		for _, s := range subjects {
			if _, _, err := b.locate(o.DataDir, s, bo.Split, bo.Command); err != nil {
				return true, err
			}
			if bo.Shots > 0 && b.Fewshot == "" {
				if _, _, err := b.locate(o.DataDir, s, "dev", bo.Command); err != nil {
					return true, err
				}
			}
		}
	}
	return usesData, nil
}

// IsRequestDump reports whether the task name points at an oe-eval request
// dump (a file, or a directory holding one) rather than naming a task.
func IsRequestDump(name string) bool {
	_, ok := requestDump(name)
	return ok
}

// isDumpName reports whether a file name is an oe-eval request dump's:
// requests.jsonl[.gz] as in OLMo-in-loop-evals (shared/data/olmes/requests),
// or oe-eval's own output, task-NNN-NAME-requests.jsonl[.gz].
func isDumpName(base string) bool {
	base = strings.TrimSuffix(base, ".gz")
	return base == "requests.jsonl" || strings.HasSuffix(base, "-requests.jsonl")
}

// dumpDirError is LoadTask's answer to a directory that is not a request
// dump itself (no requests.jsonl.gz in it): it names the dumps it holds,
// deeper or under oe-eval's own names, since a dump is one task in one
// formulation and takes its file; with none, it says so.
func dumpDirError(dir string) error {
	const maxDepth, maxShown = 3, 6 // directories below dir looked into; dumps named
	var found []string
	root := filepath.Clean(dir)
	_ = filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable subdirectory: look at the rest
		}
		if e.IsDir() {
			rel, _ := filepath.Rel(root, p)
			if p != root && (strings.HasPrefix(e.Name(), ".") || strings.Count(rel, string(filepath.Separator)) >= maxDepth) {
				return filepath.SkipDir
			}
			return nil
		}
		if isDumpName(e.Name()) {
			found = append(found, filepath.Join(dir, strings.TrimPrefix(p, root+string(filepath.Separator))))
		}
		return nil
	})
	if len(found) == 0 {
		return inputErrorf("", 0, "OLMES tasks: "+olmesTasks()+"; built-in tasks: "+strings.Join(BuiltinTaskNames(), ", "),
			"unknown task %q: a directory with no request dump in it (requests.jsonl.gz, or oe-eval's task-NNN-NAME-requests.jsonl.gz)", dir)
	}
	shown, more := found, ""
	if len(found) > maxShown {
		shown, more = found[:maxShown], fmt.Sprintf(" and %d more", len(found)-maxShown)
	}
	what := "one request dump"
	if len(found) > 1 {
		what = fmt.Sprintf("%d request dumps", len(found))
	}
	return inputErrorf("", 0, "a request dump is one task in one formulation: give the file of each one to score, comma-separated (--tasks "+found[0]+",…)",
		"unknown task %q: a directory with no requests.jsonl.gz of its own; it holds %s: %s%s", dir, what, strings.Join(shown, ", "), more)
}

// dumpHint is the HINT of a request dump that is not there: a task name
// ending in .jsonl or .jsonl.gz is read as a file.
const dumpHint = "a task ending in .jsonl or .jsonl.gz is an oe-eval request dump (oe-eval's --save-raw-requests); check its path, or name a task (olmolab eval --help lists them)"

// requestDump reports whether name points at a request dump and returns the file.
func requestDump(name string) (string, bool) {
	if strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".jsonl.gz") {
		return name, true
	}
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		for _, f := range []string{"requests.jsonl.gz", "requests.jsonl"} {
			if p := filepath.Join(name, f); fileExists(p) {
				return p, true
			}
		}
	}
	return "", false
}
