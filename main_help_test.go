package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab"
)

// TestHelpNamesTheLab: the help says that olmolab alone, on a terminal, opens
// the interactive lab (piped, it prints this help instead).
func TestHelpNamesTheLab(t *testing.T) {
	var out bytes.Buffer
	printHelp(&out)
	var line string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "olmolab ") && strings.Contains(l, "no arguments") {
			line = l
		}
	}
	if line == "" || !strings.Contains(line, "terminal") || !strings.Contains(out.String(), "interactive lab") {
		t.Errorf("help does not say that olmolab with no arguments opens the interactive lab:\n%s", out.String())
	}
}

// TestEveryCommandHasHelp: --help on every command prints its usage and exits
// 0 (eval, snr, tokenize and --batch once exited 2: their parsers compared the
// error with the wrong sentinel), starting with its synopsis (snr --help once
// said "Usage of olmolab snr:" and never that it takes run directories).
func TestEveryCommandHasHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--batch"}, {"sweep"}, {"eval"}, {"snr"}, {"olmes"}, {"olmes", "requests"}, {"tokenize"}, {"presets"},
		{"verify"}, {"train"}, {"bench"}, {"export"}, {"export", "olmo-core"}, {"runs"},
	} {
		var out, errb bytes.Buffer
		if code := run(append(args, "--help"), &out, &errb); code != 0 {
			t.Errorf("%s --help: exit %d, want 0\n%s", strings.Join(args, " "), code, errb.String())
		} else if want := "usage: olmolab " + strings.Join(args, " "); !strings.HasPrefix(out.String(), want) || errb.Len() > 0 {
			// the synopsis, positional arguments included, not the flag package's "Usage of olmolab snr:",
			// on stdout (asked for: `olmolab eval --help | less`)
			t.Errorf("%s --help: stdout does not start with %q, or stderr is not empty:\nstdout %s\nstderr %s", strings.Join(args, " "), want, out.String(), errb.String())
		}
		// a bad flag: the error and the usage on stderr, exit 2
		out.Reset()
		errb.Reset()
		if code := run(append(args, "--no-such-flag"), &out, &errb); code != 2 || out.Len() > 0 || (args[0] != "olmes" || len(args) > 1) && !strings.Contains(errb.String(), "no-such-flag") {
			t.Errorf("%s --no-such-flag: exit %d, want 2 with the error on stderr only\nstdout %s\nstderr %s", strings.Join(args, " "), code, out.String(), errb.String())
		}
	}
}

// TestBatchHelpListsRecipes: --batch --help names every shipped recipe, which
// RECIPE may be instead of a file.
func TestBatchHelpListsRecipes(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "--help"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	all := experiments.All()
	if len(all) < 10 {
		t.Fatalf("%d shipped recipes", len(all))
	}
	for _, r := range all {
		if !strings.Contains(out.String(), r.Name) {
			t.Errorf("--batch --help lacks the shipped recipe %s:\n%s", r.Name, out.String())
		}
	}
}

// TestSynopsisNamesEveryFlag: every command's --help starts with usage lines
// that name every flag it lists. --batch's lacked --backend, which moves a
// resumed run to another engine, and --wait-record; sweep's lacked
// --olmolab, and eval's, snr's, tokenize's, verify's, train's and bench's
// named a few of their flags only.
func TestSynopsisNamesEveryFlag(t *testing.T) {
	for _, args := range [][]string{
		{"--batch"}, {"sweep"}, {"eval"}, {"snr"}, {"olmes", "requests"}, {"tokenize"}, {"presets"},
		{"verify"}, {"train"}, {"bench"}, {"export", "olmo-core"}, {"runs"},
	} {
		var out, errb bytes.Buffer
		if code := run(append(args, "--help"), &out, &errb); code != 0 {
			t.Fatalf("%v --help: exit %d: %s", args, code, errb.String())
		}
		// the usage: its first line and the indented lines that continue it
		lines := strings.Split(out.String(), "\n")
		usage := lines[0]
		for _, l := range lines[1:] {
			if !strings.HasPrefix(l, " ") || strings.HasPrefix(l, "  -") {
				break
			}
			usage += "\n" + l
		}
		for _, l := range lines {
			if strings.HasPrefix(l, "  -") {
				f := "--" + strings.Fields(l)[0][1:]
				if !regexp.MustCompile(regexp.QuoteMeta(f) + `([^a-z0-9-]|$)`).MatchString(usage) {
					t.Errorf("olmolab %s --help's usage lacks %s:\n%s", strings.Join(args, " "), f, usage)
				}
			}
		}
	}
}

// TestRunsFlag: `olmolab --runs DIR` opens the lab on DIR; without a directory,
// or without a terminal, it says why and exits 2 (scripts/tui-tmux-check.sh
// opens it on a terminal).
func TestRunsFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--runs"}, "needs one directory"},
		{[]string{"--runs", "a", "b"}, "needs one directory"},
		{[]string{"--runs", t.TempDir()}, "needs a terminal"},
	} {
		var out, errb bytes.Buffer
		if code := run(c.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
}

// TestUsageErrorNamesTheCommand: a command's usage error shows that command's
// usage, not the program's; --batch's showed the program's, whose first
// form is the interactive lab's. A --set given with --resume says how a
// finished run goes on with other settings (load_path), which it did not.
func TestUsageErrorNamesTheCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"snr"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage: olmolab snr RUN...") ||
		strings.Contains(errb.String(), "--batch RECIPE") {
		t.Errorf("exit %d, stderr:\n%s", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"--batch", "--resume", "runs/x", "--set", "max_tokens=1M"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "--set would be ignored") ||
		!strings.Contains(errb.String(), "\nHINT: to train on from the run's latest checkpoint with other settings (more tokens, another mix), start a new run whose recipe has load_path: runs/x\n") ||
		!strings.Contains(errb.String(), "usage: olmolab --batch RECIPE [flags] | --batch --resume RUNDIR [flags]  (olmolab --batch --help for the flags)") ||
		strings.Contains(errb.String(), "[--runs DIR] |") {
		t.Errorf("--batch: exit %d, stderr:\n%s", code, errb.String())
	}
}

// TestIsTerminalNotDevNull: /dev/null is a character device but no terminal.
// isTerminal took every character device for one, so `olmolab >/dev/null`
// without a terminal tried to open the interactive lab (exit 1, "bubbletea:
// could not open TTY") instead of printing the usage (exit 2), and --batch
// 2>/dev/null drew a progress bar into it.
func TestIsTerminalNotDevNull(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Fatalf("isTerminal(%s) = true", os.DevNull) // run would open the lab on a developer's terminal
	}
	var errb bytes.Buffer
	if code := run(nil, f, &errb); code != exitBadInput || !strings.Contains(errb.String(), "usage: olmolab") {
		t.Errorf("olmolab >%s: exit %d, want %d with the usage\n%s", os.DevNull, code, exitBadInput, errb.String())
	}
}

// TestHelpNamesEvalRecord: the command list says how scores made after a
// run reach snr (eval --record); it named eval of one checkpoint only.
func TestHelpNamesEvalRecord(t *testing.T) {
	var out bytes.Buffer
	printHelp(&out)
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "eval" {
			if !strings.Contains(l, "--record") || !strings.Contains(l, "snr") {
				t.Errorf("eval's line does not name --record and snr: %q", l)
			}
			return
		}
	}
	t.Errorf("no eval line:\n%s", out.String())
}

// readmeCommandFlags reads the README's command table: for each command (its
// first word after "olmolab", with olmes and export their subcommand), the
// flags its synopsis cells name.
func readmeCommandFlags(t *testing.T) map[string]map[string]bool {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	flagRE := regexp.MustCompile(`--[a-z][a-z0-9-]*`)
	cmds := map[string]map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "| `olmolab") {
			continue
		}
		// the synopsis is the first cell; a `|` inside it is escaped (`\|`)
		cell := strings.ReplaceAll(l[1:], `\|`, "¦")
		cell = cell[:strings.Index(cell, "|")]
		f := strings.Fields(strings.NewReplacer("`", " ", "<br>", " ").Replace(cell))
		name := f[1]
		switch {
		case name == "--batch":
		case strings.HasPrefix(name, "-") || strings.HasPrefix(name, "["):
			name = "" // the interactive lab
		case name == "olmes" || name == "export":
			name += " " + f[2]
		}
		if cmds[name] == nil {
			cmds[name] = map[string]bool{}
		}
		for _, fl := range flagRE.FindAllString(cell, -1) {
			if fl != name {
				cmds[name][strings.TrimPrefix(fl, "--")] = true
			}
		}
	}
	return cmds
}

// TestReadmeCommandTableHasEveryFlag: the README's command table names every
// flag of each command's --help, and no flag the command lacks, and lists
// exactly the commands `olmolab --help` lists. It lacked tokenize's
// --max-file-mb and --strict, eval's --tokenizer and --backend, train's and
// bench's tuning flags, and sweep's --status and --olmolab.
func TestReadmeCommandTableHasEveryFlag(t *testing.T) {
	readme := readmeCommandFlags(t)
	want := []string{"", "--batch"}
	for _, c := range commands() {
		switch c.name {
		case "olmes":
			want = append(want, "olmes requests")
		case "export":
			want = append(want, "export olmo-core")
		default:
			want = append(want, c.name)
		}
	}
	for _, name := range want {
		doc, ok := readme[name]
		if !ok {
			t.Errorf("README's command table has no row for olmolab %s", name)
			continue
		}
		delete(readme, name)
		if name == "" {
			continue // the lab's one flag, --runs, is TestRunsFlag's
		}
		var out, errb bytes.Buffer
		if code := run(append(strings.Fields(name), "--help"), &out, &errb); code != 0 {
			t.Fatalf("%s --help: exit %d", name, code)
		}
		help := map[string]bool{}
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, "  -") {
				help[strings.Fields(l)[0][1:]] = true
			}
		}
		for fl := range help {
			if !doc[fl] {
				t.Errorf("olmolab %s --%s: in --help, not in README's command table", name, fl)
			}
		}
		for fl := range doc {
			if !help[fl] {
				t.Errorf("olmolab %s --%s: in README's command table, not in --help", name, fl)
			}
		}
	}
	for name := range readme {
		t.Errorf("README's command table has a row for olmolab %s, which olmolab --help does not list", name)
	}
}

// TestHelpDefaultsSayOneThing: a flag whose text gives its default in words
// ("not given: …", "(default: …)") gets no second default from the flag
// package. eval --help said of --tasks "(not given: a run's eval.tasks, else
// builtin) (default "builtin")", as if a run's tasks were not the default.
func TestHelpDefaultsSayOneThing(t *testing.T) {
	t.Setenv("OLMOLAB_OLMES_DATA", "")
	for _, args := range [][]string{
		{"--batch"}, {"sweep"}, {"eval"}, {"snr"}, {"olmes", "requests"}, {"tokenize"},
		{"verify"}, {"train"}, {"bench"}, {"export", "olmo-core"}, {"runs"},
	} {
		var out, errb bytes.Buffer
		if code := run(append(args, "--help"), &out, &errb); code != 0 {
			t.Fatalf("%v --help: exit %d", args, code)
		}
		// a flag is its "  -name" line and the indented text under it
		flags := regexp.MustCompile(`(?m)^  -\S+.*\n(?:    .*\n?)*`).FindAllString(out.String(), -1)
		for _, f := range flags {
			if (strings.Contains(f, "not given:") || strings.Contains(f, "(default:")) && strings.Contains(f, `(default "`) {
				t.Errorf("olmolab %s --help gives two defaults:\n%s", strings.Join(args, " "), f)
			}
		}
	}
}

// TestHelpListsCommandsInColumns: olmolab --help starts every command's
// summary in one column. The arguments of olmes, export and bench ran into
// their summaries ("--data DIR write OLMES requests …"), and --batch
// --resume's description started 9 columns right of the other front ends'.
func TestHelpListsCommandsInColumns(t *testing.T) {
	var out bytes.Buffer
	printHelp(&out)
	// the front ends: "  olmolab …", each description in one column
	frontCol := -1
	for _, l := range strings.Split(out.String(), "\n") {
		if !strings.HasPrefix(l, "  olmolab") {
			continue
		}
		i := strings.Index(l, "   ") // the gap before a description
		if i < 0 {
			continue // a long synopsis alone on its line: its description is under it
		}
		i += len(l[i:]) - len(strings.TrimLeft(l[i:], " "))
		if frontCol < 0 {
			frontCol = i
		}
		if i != frontCol {
			t.Errorf("front end's description starts at column %d, not %d:\n%s", i, frontCol, l)
		}
	}
	col := -1
	for _, c := range commands() {
		found := false
		for _, l := range strings.Split(out.String(), "\n") {
			i := strings.Index(l, c.summary)
			if i < 0 {
				continue
			}
			found = true
			if col < 0 {
				col = i
			}
			if i != col || strings.TrimSpace(l[:i]) != "" && !strings.HasSuffix(l[:i], "  ") {
				t.Errorf("%s's summary starts at column %d, not %d, or runs into its arguments:\n%s", c.name, i, col, l)
			}
		}
		if !found {
			t.Errorf("olmolab --help lacks %s's summary", c.name)
		}
	}
}

// TestReadmeRecipeDefaults: the README's block of the values a recipe gets
// for the keys it leaves out is what the lab gives it: a recipe with the
// block parses to the same recipe as one without it.
func TestReadmeRecipeDefaults(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "A recipe that leaves a key out gets these values")
	if i < 0 {
		t.Fatal("README has no block of recipe defaults")
	}
	const fence = "```yaml\n"
	j := strings.Index(s[i:], fence)
	if j < 0 {
		t.Fatal("README's recipe defaults have no yaml block")
	}
	block := s[i+j+len(fence):]
	block = block[:strings.Index(block, "```")]
	const base = "name: d\nmax_tokens: 4K\ndataset: {sources: [{name: web, target_ratio: 1, paths: [\"builtin:web_clean\"]}]}\n"
	without, err := lab.ParseRecipe("base.yaml", []byte(base), nil)
	if err != nil {
		t.Fatal(err)
	}
	with, err := lab.ParseRecipe("README.md", []byte(base+block), nil)
	if err != nil {
		t.Fatalf("README's recipe defaults do not parse: %v\n%s", err, block)
	}
	// every exported field but the file's name
	w, wo := reflect.ValueOf(*with), reflect.ValueOf(*without)
	for k := 0; k < w.NumField(); k++ {
		f := w.Type().Field(k)
		if !f.IsExported() || f.Name == "Path" {
			continue
		}
		if !reflect.DeepEqual(w.Field(k).Interface(), wo.Field(k).Interface()) {
			t.Errorf("README's recipe defaults are not the lab's: %s is %+v with them, %+v without", f.Name, w.Field(k).Interface(), wo.Field(k).Interface())
		}
	}
}

// TestHelpGroupsFlags: the --help of eval, sweep, bench and train lists the
// flags under titles by what they are for, each flag once and none left
// over ("other:"); it listed them alphabetically, bench's -batch, -d-model
// and -gemm together.
func TestHelpGroupsFlags(t *testing.T) {
	for name, groups := range flagGroups {
		args := append(strings.Fields(strings.TrimPrefix(name, "olmolab ")), "--help")
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("%s --help: exit %d", name, code)
		}
		seen := map[string]int{}
		var order []string // titles and flags as they come
		for _, l := range strings.Split(out.String(), "\n") {
			switch {
			case strings.HasPrefix(l, "  -"):
				f := strings.Fields(l)[0][1:]
				seen[f]++
				order = append(order, f)
			case strings.HasSuffix(l, ":") && !strings.HasPrefix(l, " "):
				order = append(order, strings.TrimSuffix(l, ":"))
			}
		}
		var want []string
		for _, g := range groups {
			want = append(want, g.title)
			want = append(want, g.names...)
		}
		if !slices.Equal(order, want) {
			t.Errorf("%s --help lists\n%v\nwant\n%v", name, order, want)
		}
		for f, n := range seen {
			if n != 1 {
				t.Errorf("%s --help lists -%s %d times", name, f, n)
			}
		}
	}
}

// TestReadmeNamesStepFields: README's metrics.jsonl and evals.jsonl entries
// name every field of the lines a run writes there; the first said only
// "one line per step", the second lacked `primary`, the flag of the metric
// the summary and the lab show for a task.
func TestReadmeNamesStepFields(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	entry := func(file string) string {
		i := strings.Index(s, "- `"+file+"`:")
		if i < 0 {
			t.Fatalf("README has no %s entry", file)
		}
		e := s[i:]
		return e[:strings.Index(e[2:], "\n- ")+2]
	}
	runs := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "m",
		"--set", "eval.tasks=[arith]", "--set", "eval.limit=4"}, &out, &errb); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errb.String())
	}
	for _, c := range []struct {
		file string
		min  int // fields at least: the file was read
	}{{lab.MetricsFile, 10}, {lab.EvalsFile, 8}} {
		m, err := os.ReadFile(filepath.Join(runs, "m", c.file))
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(string(m)), "\n") {
			var line map[string]json.RawMessage
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatalf("%s: %v: %s", c.file, err, l)
			}
			for k := range line {
				keys[k] = true
			}
		}
		if len(keys) < c.min {
			t.Fatalf("%s's lines have only %v", c.file, keys)
		}
		e := entry(c.file)
		for k := range keys {
			if !strings.Contains(e, "`"+k+"`") {
				t.Errorf("%s's lines have %q, which README's entry does not name:\n%s", c.file, k, e)
			}
		}
	}
}

// TestReadmeStage2Recipe: README's load_path example, a stage 2 after the
// quickstart, runs as it says: from the run directory's latest checkpoint,
// weights and Adam state, an anneal from optimizer.lr where the run ended at
// LR 0. README named load_path and anneal: true among the keys and nowhere
// said what they do.
func TestReadmeStage2Recipe(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "A\nstage 2 on Q&A after the quickstart:")
	if i < 0 {
		t.Fatal("README has no stage 2 example")
	}
	block := s[i:]
	block = block[strings.Index(block, "```yaml\n")+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	runs := t.TempDir()
	var out, errb bytes.Buffer
	// the quickstart's model, annealed to LR 0 as the quickstart ends
	if code := run([]string{"--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "qs", "--set", "model=cpu_s", "--set", "sequence_length=128",
		"--set", "global_batch_size=512"}, &out, &errb); code != 0 {
		t.Fatalf("stage 1: exit %d: %s", code, errb.String())
	}
	m := regexp.MustCompile(`(?m)^load_path: (\S+)`)
	if !m.MatchString(block) {
		t.Fatalf("README's stage 2 has no load_path:\n%s", block)
	}
	recipe := filepath.Join(runs, "stage2.yaml")
	if err := os.WriteFile(recipe, []byte(m.ReplaceAllString(block, "load_path: "+filepath.Join(runs, "qs"))), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"--batch", recipe, "--runs", runs, "--name", "s2", "--set", "max_tokens=4K"}, &out, &errb); code != 0 {
		t.Fatalf("README's stage 2: exit %d: %s", code, errb.String())
	}
	ck, err := lab.LatestCheckpoint(filepath.Join(runs, "qs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"load_path: weights and Adam state from " + ck, "anneal: LR 0.0004 (optimizer.lr) → 0", "anneal          from its start (load_path), final LR 0"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("README's stage 2: stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

// TestReadmeVerifyExample: the verify row's example, the reference set that
// ships, passes as written; the row named no case, so a reader had to find
// model/testdata/golden to try the command at all.
func TestReadmeVerifyExample(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("\\| `olmolab verify [^\\n]*?`--model (\\S+) --case (\\S+)`").FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("README's verify row gives no example --model and --case")
	}
	var out, errb bytes.Buffer
	if code := run([]string{"verify", "--model", m[1], "--case", m[2]}, &out, &errb); code != 0 {
		t.Errorf("verify --model %s --case %s: exit %d\n%s%s", m[1], m[2], code, out.String(), errb.String())
	}
}

// TestReadmeShortQuickstart: README's shortened quickstart anneals as the
// quickstart does, without a warning: its anneal ends at max_tokens, after
// the warmup. `--set max_tokens` alone, the obvious way to shorten it,
// warns that the run ends without annealing, which README did not say.
func TestReadmeShortQuickstart(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile("(?m)^go run \\. --batch quickstart (--set .*)$").FindStringSubmatch(string(b))
	if line == nil {
		t.Fatal("README has no shortened quickstart")
	}
	var sets []string
	for _, f := range strings.Fields(line[1]) {
		if f != "--set" {
			sets = append(sets, f)
		}
	}
	rec, err := loadRecipe("quickstart", sets)
	if err != nil {
		t.Fatal(err)
	}
	full, err := loadRecipe("quickstart", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Warnings) > 0 {
		t.Errorf("README's shortened quickstart (%v) warns:\n%s", sets, strings.Join(rec.Warnings, "\n"))
	}
	if rec.Anneal.AutoAt <= 0 || rec.Anneal.AutoAt+rec.Anneal.Tokens != rec.MaxTokens || rec.MaxTokens >= full.MaxTokens {
		t.Errorf("README's shortened quickstart: anneal %d+%d tokens, max_tokens %d (the quickstart's %d)", rec.Anneal.AutoAt, rec.Anneal.Tokens, rec.MaxTokens, full.MaxTokens)
	}
	// what README says of --set max_tokens alone
	alone, err := loadRecipe("quickstart", []string{"max_tokens=212K"})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(alone.Warnings, "\n"); !strings.Contains(w, "the run ends without annealing") {
		t.Errorf("--set max_tokens=212K alone does not warn that the run ends without annealing:\n%s", w)
	}
}
