package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goPackagePrefix is a Go package's name starting a line of an error, as in
// "lab: …": it says nothing to whoever typed the command. A command's own
// usage errors may start with the command ("eval: --seq 0: …"), which the
// user typed; eval and snr are no package, sweep and export are both.
var goPackagePrefix = regexp.MustCompile(`(?m)^(olmolab: )?(lab|olmes|recipe|sweep|export|tokenizer|data|model|soup|store|jsonfield|jsonl|tui|gpu): `)

// rawGoError is an *os.PathError's text, "open PATH: no such file or
// directory": it names the file but not what it was for.
var rawGoError = regexp.MustCompile(`\b(open|stat|lstat|read|mkdir|rename|remove) [^ ]+: `)

// TestBadInputAcrossCommands feeds each command mistakes a person makes and
// asserts what they are told: the documented exit code, the file and field
// (or flag) that was wrong, a HINT where they can act on it, no Go package
// name starting a line and no raw Go error. It found 'open DIR/config.json:
// no such file or directory' (verify --model), 'missing file: open …' (a
// request dump in --tasks), 'stat …' (snr of a path that is not there), an
// unknown task not naming --tasks, and 'sweep: ' / 'export: ' starting
// input errors, 'stat RUNS/NAME: not a directory' (sweep --runs FILE),
// 'read X: is a directory' (a directory as the recipe), a malformed
// evals.jsonl line or sweep manifest with no HINT, 'open DIR: not a
// directory' (export --out FILE), and a tokenizer's error said to be --tasks'.
func TestBadInputAcrossCommands(t *testing.T) {
	tmp := t.TempDir()
	runs := filepath.Join(tmp, "runs")
	if code, _, errs := runCLI("--batch", "testdata/tiny.yaml", "--runs", runs, "--name", "a"); code != 0 {
		t.Fatalf("batch: exit %d: %s", code, errs)
	}
	run := filepath.Join(runs, "a")
	write := func(name, s string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const head = "name: x\nmodel: cpu_xs\ntokenizer: world\nsequence_length: 32\nglobal_batch_size: 256\nmax_tokens: 2560\n"
	syntax := write("syntax.yaml", "name: x\nmodel: [cpu_xs\n")
	badLR := write("badlr.yaml", head+"optimizer: {lr: -1}\ndataset:\n  sources:\n    - {name: web, target_ratio: 1, paths: [\"builtin:web_clean\"]}\n")
	badPath := write("badpath.yaml", head+"dataset:\n  sources:\n    - {name: web, target_ratio: 1, paths: [\"/nonexistent/x.npy\"]}\n")
	empty := filepath.Join(tmp, "empty")
	os.MkdirAll(empty, 0o755)
	nope := filepath.Join(tmp, "nope")
	golden := filepath.Join("model", "testdata", "golden", "olmo2-tiny")
	exportOut := filepath.Join(tmp, "export")
	aFile := write("afile", "x")
	// a path whose stat fails otherwise than "no such file", even as root
	loop := filepath.Join(tmp, "loop")
	os.Symlink(loop, loop)
	dirRecipe := filepath.Join(tmp, "dir.yaml")
	os.MkdirAll(dirRecipe, 0o755)
	os.MkdirAll(filepath.Join(tmp, "ev"), 0o755)
	tornEvals := write(filepath.Join("ev", "evals.jsonl"), "{not json\n{\"task\": \"t\"}\n")
	os.MkdirAll(filepath.Join(tmp, "sw"), 0o755)
	badManifest := write(filepath.Join("sw", "x.sweep.json"), "{not json")
	os.MkdirAll(filepath.Join(tmp, "d"), 0o755)
	// export reads no data: a token file's path is enough
	npyRecipe := write("npy.yaml", head+"dataset:\n  sources:\n    - {name: web, target_ratio: 1, paths: [\""+write(filepath.Join("d", "a.npy"), "x")+"\"]}\n")
	// token files of tokenize's default tokenizer (dolma2) under a recipe of
	// world's, the shipped small recipes' and a recipe's default
	dolmaToks := filepath.Join(tmp, "dolma2-toks")
	if code, _, errs := runCLI("tokenize", write("docs.jsonl", "{\"text\": \"The cat sat on the mat.\"}\n"), "--out", dolmaToks); code != 0 {
		t.Fatalf("tokenize: exit %d: %s", code, errs)
	}
	dolmaRecipe := write("dolma2.yaml", head+"dataset:\n  sources:\n    - {name: web, target_ratio: 1, paths: [\""+dolmaToks+"\"]}\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // each in stderr: the file, the field or flag, what to do
	}{
		{"batch: no such recipe", []string{"--batch", "nope.yaml"}, 2, []string{"nope.yaml: no such recipe file", "shipped:"}},
		{"batch: YAML syntax", []string{"--batch", syntax}, 2, []string{syntax + ":", "YAML syntax"}},
		{"batch: bad value", []string{"--batch", badLR}, 2, []string{badLR + ":7:", "optimizer.lr: must be positive"}},
		{"batch: missing data file", []string{"--batch", badPath, "--runs", runs}, 2, []string{badPath, `source "web"`, "/nonexistent/x.npy", "HINT: check the path"}},
		{"batch: token files of another tokenizer", []string{"--batch", dolmaRecipe, "--runs", runs}, 2, []string{dolmaRecipe, `source "web"`, "is not below the vocabulary size 2048 of tokenizer world", "HINT:", "olmolab tokenize writes dolma2's ids unless its --tokenizer names another"}},
		{"batch: --set without =", []string{"--batch", "testdata/tiny.yaml", "--set", "optimizer.lr"}, 2, []string{"--set optimizer.lr: want key.path=value"}},
		{"batch: --set of a bad value", []string{"--batch", "testdata/tiny.yaml", "--set", "optimizer.lr=abc"}, 2, []string{"testdata/tiny.yaml: optimizer.lr: want a number", `"abc"`}},
		{"batch: a directory as the recipe", []string{"--batch", dirRecipe}, 2, []string{dirRecipe + ": a directory, not a recipe", "HINT:"}},
		{"batch: resume of nothing", []string{"--batch", "--resume", nope}, 2, []string{nope + ": no such run directory"}},
		{"batch: resume of a non-run", []string{"--batch", "--resume", empty}, 2, []string{empty + ": not a run directory (no recipe.yaml)", "HINT:"}},
		{"batch: --wait-record without --resume", []string{"--batch", "testdata/tiny.yaml", "--wait-record", "1m"}, 2, []string{"--wait-record goes with --resume"}},
		{"eval: no such model", []string{"eval", "--model", nope}, 2, []string{nope + ": no such checkpoint or run directory"}},
		{"eval: not a model", []string{"eval", "--model", empty}, 2, []string{empty + ": not a checkpoint (no config.json)"}},
		{"eval: unknown task", []string{"eval", "--model", run, "--tasks", "nosuchtask"}, 2, []string{`--tasks: unknown task "nosuchtask"`, "HINT: OLMES tasks:"}},
		{"eval: no such --data", []string{"eval", "--model", run, "--tasks", "arc_easy", "--data", filepath.Join(tmp, "nodata")}, 2, []string{"--tasks: " + filepath.Join(tmp, "nodata") + ": data directory not found", "HINT:", "--data DIR"}},
		{"eval: no such request dump", []string{"eval", "--model", run, "--tasks", filepath.Join(tmp, "missing.jsonl")}, 2, []string{"--tasks: " + filepath.Join(tmp, "missing.jsonl") + ": no such file (an oe-eval request dump)", "HINT:"}},
		{"eval: --record of a non-run", []string{"eval", "--model", empty, "--record"}, 2, []string{"eval --record: " + empty + " is not a run directory", "HINT:"}},
		{"eval: --json into no directory", []string{"eval", "--model", run, "--json", filepath.Join(tmp, "nodir", "x.json")}, 2, []string{"eval --json", filepath.Join(tmp, "nodir") + " does not exist"}},
		{"eval: unknown tokenizer", []string{"eval", "--model", golden, "--tokenizer", "nosuch"}, 2, []string{`unknown tokenizer "nosuch"`, "HINT:"}},
		{"snr: a directory without evaluations", []string{"snr", empty}, 2, []string{empty + ": no evals.jsonl", "HINT:"}},
		{"snr: no such run", []string{"snr", nope}, 2, []string{nope + ": no such run directory or evals file", "HINT:"}},
		{"snr: a run without evaluations", []string{"snr", run}, 2, []string{filepath.Join(run, "evals.jsonl") + ": holds no evaluations", "HINT:"}},
		{"snr: a malformed record", []string{"snr", filepath.Join(tmp, "ev")}, 2, []string{tornEvals + ":1: malformed eval record", "HINT:"}},
		{"snr: a recipe", []string{"snr", "testdata/tiny.yaml"}, 2, []string{"testdata/tiny.yaml", "a YAML file, such as a recipe"}},
		{"sweep: --vary without =", []string{"sweep", "testdata/tiny.yaml", "--vary", "lr", "--local", "--runs", runs}, 2, []string{`--vary "lr": want key=v1,v2`}},
		{"sweep: --vary of an unknown key", []string{"sweep", "testdata/tiny.yaml", "--vary", "nosuch.key=1,2", "--local", "--runs", runs}, 2, []string{"run tiny-key1 (nosuch.key=1): testdata/tiny.yaml", "nosuch"}},
		{"sweep: --vary of a bad value", []string{"sweep", "testdata/tiny.yaml", "--vary", "optimizer.lr=abc,2", "--local", "--runs", runs}, 2, []string{"run tiny-lr_abc (optimizer.lr=abc): testdata/tiny.yaml: optimizer.lr: want a number"}},
		{"sweep: --runs that is a file", []string{"sweep", "testdata/tiny.yaml", "--seeds", "2", "--local", "--runs", aFile}, 2, []string{"--runs " + aFile + ": not a directory (a file)", "HINT:"}},
		{"sweep: --status of a malformed manifest", []string{"sweep", "--status", filepath.Join(tmp, "sw")}, 2, []string{badManifest + ": not a sweep manifest (malformed JSON", "HINT:"}},
		{"sweep: --status of nothing", []string{"sweep", "--status", nope}, 2, []string{"sweep --status " + nope + ": no such directory", "HINT:"}},
		{"export: YAML syntax", []string{"export", "olmo-core", syntax, "--out", exportOut}, 2, []string{syntax + ":", "YAML syntax"}},
		{"export: --out that is a file", []string{"export", "olmo-core", npyRecipe, "--out", aFile}, 2, []string{"--out " + aFile + ": a file, or under one, not a directory", "HINT:"}},
		{"export: --nproc 0", []string{"export", "olmo-core", "testdata/tiny.yaml", "--out", exportOut, "--nproc", "0"}, 2, []string{"--nproc 0, --nodes 1: each must be at least 1"}},
		{"export: unknown target", []string{"export", "olmo-kore", "testdata/tiny.yaml", "--out", exportOut}, 2, []string{`unknown export target "olmo-kore"`}},
		{"tokenize: no such input", []string{"tokenize", filepath.Join(tmp, "nope.jsonl"), "--out", filepath.Join(tmp, "tok")}, 2, []string{filepath.Join(tmp, "nope.jsonl"), "HINT: check the path"}},
		{"verify: a case of another model", []string{"verify", "--model", golden, "--case", filepath.Join("model", "testdata", "golden", "olmo2-gqa", "case.safetensors")}, 2, []string{"is not a case of this model (" + filepath.Join(golden, "config.json") + ")", "HINT:"}},
		{"verify: no such model", []string{"verify", "--model", nope, "--case", filepath.Join(golden, "case.safetensors")}, 2, []string{"verify --model " + nope + ": no such checkpoint directory", "HINT:"}},
		{"verify: a model that cannot be read", []string{"verify", "--model", loop, "--case", filepath.Join(golden, "case.safetensors")}, 2, []string{"verify --model " + loop + ": cannot read the checkpoint directory: too many levels of symbolic links", "HINT:"}},
		{"verify: a file as the model", []string{"verify", "--model", aFile, "--case", filepath.Join(golden, "case.safetensors")}, 2, []string{"verify --model " + aFile + ": a file, not a checkpoint directory", "HINT:"}},
		{"verify: a model without config.json", []string{"verify", "--model", empty, "--case", filepath.Join(golden, "case.safetensors")}, 2, []string{"verify --model " + empty + ": not a checkpoint (no config.json)", "HINT:"}},
		{"verify: a run directory", []string{"verify", "--model", run, "--case", filepath.Join(golden, "case.safetensors")}, 2, []string{"verify --model " + run + ": not a checkpoint (no config.json)", "HINT: a run's checkpoints are its checkpoints/step-N directories"}},
		{"verify: no such case", []string{"verify", "--model", golden, "--case", filepath.Join(tmp, "nope.safetensors")}, 2, []string{"verify --case " + filepath.Join(tmp, "nope.safetensors") + ": no such reference case file", "HINT:"}},
		{"verify: a case that is not safetensors", []string{"verify", "--model", golden, "--case", syntax}, 2, []string{syntax + ":", "not a safetensors file"}},
		{"an unknown flag", []string{"eval", "--model", run, "--bogus"}, 2, []string{"unknown flag --bogus", "usage: olmolab eval"}},
		{"a flag's bad number", []string{"eval", "--model", run, "--limit", "abc"}, 2, []string{`--limit "abc": want a whole number`}},
		{"a flag's bad duration", []string{"--batch", "--resume", run, "--wait-record", "5"}, 2, []string{`--wait-record "5": want a duration`}},
		{"a flag's bad boolean", []string{"eval", "--model", run, "--mc=maybe"}, 2, []string{`--mc="maybe": want --mc, --mc=true or --mc=false`}},
		{"a flag without its value", []string{"eval", "--model"}, 2, []string{"--model needs a value"}},
		{"presets: an argument", []string{"presets", "x"}, 2, []string{`presets: unexpected argument "x"`}},
		{"bench: unknown preset", []string{"bench", "--preset", "nosuch"}, 2, []string{`--preset: unknown model preset "nosuch" (known: cpu_l, cpu_m`}},
		{"olmes: no data for the task", []string{"olmes", "requests", "--task", "arc_easy", "--formulation", "rc", "--data", empty}, 2, []string{empty + ": no test split of arc_easy", "HINT:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if m := goPackagePrefix.FindString(stderr); m != "" {
				t.Errorf("a line starts with a Go package's name (%q):\n%s", m, stderr)
			}
			if strings.Contains(stderr, "; HINT:") {
				t.Errorf("a HINT not on a line of its own:\n%s", stderr)
			}
			if strings.Contains(stderr, "olmolab: olmolab ") {
				t.Errorf("the program's name twice:\n%s", stderr)
			}
			if m := rawGoError.FindString(stderr); m != "" {
				t.Errorf("a raw Go error (%q) that does not say what the file was for:\n%s", m, stderr)
			}
		})
	}
	// a tokenizer that does not fit the model is not said to be --tasks'
	// fault (the tasks load; the tokenizer is checked as they are scored)
	code, _, stderr := runCLI("eval", "--model", golden, "--tasks", "fact_cloze")
	if code != 2 || !strings.Contains(stderr, "vocab_size 96 is none of olmolab's tokenizers'") || strings.Contains(stderr, "--tasks:") {
		t.Errorf("eval with a tokenizer of another vocabulary: exit %d, want 2, the tokenizer's error and not --tasks':\n%s", code, stderr)
	}
	// nothing was written by the refused exports and sweeps
	if st, err := os.Stat(aFile); err != nil || st.IsDir() {
		t.Errorf("the refused sweep changed --runs %s: %v", aFile, err)
	}
	if _, err := os.Stat(exportOut); err == nil {
		t.Errorf("a refused export wrote %s", exportOut)
	}
	if ents, _ := os.ReadDir(runs); len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("refused runs and sweeps left %v in %s (only the run a)", names, runs)
	}
}
