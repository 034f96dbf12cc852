package export

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/experiments"
	"github.com/olmolab/olmolab/lab"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func shipped(t *testing.T, name string, sets ...string) *lab.Recipe {
	t.Helper()
	sr, ok := experiments.Lookup(name)
	if !ok {
		t.Fatalf("no shipped recipe %s", name)
	}
	r, err := lab.ParseRecipe(sr.Path, sr.YAML, sets)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func exportFiles(t *testing.T, r *lab.Recipe, src string, nproc, nodes int) map[string][]byte {
	t.Helper()
	files, err := OLMoCore(OLMoCoreParams{Recipe: r, Source: src, NProc: nproc, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		out[f.Name] = f.Data
	}
	return out
}

// cases are the golden exports: OLMo 2 1B stage 1 on two nodes, its stage-2
// anneal from a checkpoint, the 7B stage 1, and a CPU preset (a custom shape).
var cases = []struct {
	golden, recipe string
	sets           []string
	nproc, nodes   int
}{
	{"olmo2_1B_stage1", "olmo2_1B_stage1", nil, 8, 2},
	{"olmo2_1B_stage2", "olmo2_1B_stage2", nil, 8, 1},
	{"olmo2_7B_stage1", "olmo2_7B_stage1", nil, 8, 4},
	{"cpu_s_npy", "quickstart", []string{
		`dataset.sources=[{name: web, target_ratio: 3, paths: ["/data/web/*.npy"]}, {name: code, target_ratio: 1, paths: ["/data/code/part-0.npy"]}]`,
		"mixes={}", "anneal={}", "soup={}",
	}, 1, 1},
	// eval.val with a glob, two files, and a built-in source that cannot go.
	{"olmo2_1B_val", "olmo2_1B_stage1", []string{
		`eval.val={tokens: 1M, sources: [{name: c4, paths: ["/data/val/c4/*.npy"]}, {name: wiki, paths: ["/data/val/wiki-0.npy", "/data/val/wiki-1.npy"]}, {name: web, paths: ["builtin:web_clean"]}]}`,
		"dataset.dtype=uint32",
	}, 8, 1},
}

// goldenDir stands in the golden files for the directory the export ran in,
// which the shipped recipes' relative paths are taken from.
const goldenDir = "/EXPORT_DIR"

func TestGolden(t *testing.T) {
	golden, err := filepath.Abs(filepath.Join("testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	t.Chdir(work)
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			src := tc.recipe
			for _, s := range tc.sets {
				src += " --set '" + s + "'"
			}
			files := exportFiles(t, shipped(t, tc.recipe, tc.sets...), src, tc.nproc, tc.nodes)
			for name, b := range files {
				files[name] = bytes.ReplaceAll(b, []byte(work), []byte(goldenDir))
			}
			for _, name := range []string{"train.py", "launch.sh", "EXPORT.md"} {
				path := filepath.Join(golden, tc.golden, name)
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, files[name], 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (regenerate with go test ./lab/export -update)", err)
				}
				if got := files[name]; !bytes.Equal(got, want) {
					gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
					for i := 0; i < len(gl) && i < len(wl); i++ {
						if gl[i] != wl[i] {
							t.Fatalf("%s differs from %s at line %d:\n got: %s\nwant: %s\n(regenerate with -update if intended)", name, path, i+1, gl[i], wl[i])
						}
					}
					t.Fatalf("%s differs from %s in length (%d vs %d lines)", name, path, len(gl), len(wl))
				}
			}
		})
	}
}

func python(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: the generated train.py is not compiled or run against the OLMo-core stub")
	}
	return p
}

// call is one recorded call of the OLMo-core stub.
type call struct {
	Call string         `json:"call"`
	Args map[string]any `json:"args"`
}

// runStub runs train.py against testdata/stub (OLMo-core's classes and
// signatures at OLMoCoreCommit, bodies that record) and returns the calls.
func runStub(t *testing.T, py string, files map[string][]byte, args ...string) []call {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "train.py")
	if err := os.WriteFile(script, files["train.py"], 0o644); err != nil {
		t.Fatal(err)
	}
	commit, err := os.ReadFile("testdata/stub/COMMIT")
	if err != nil || strings.TrimSpace(string(commit)) != OLMoCoreCommit {
		t.Fatalf("testdata/stub was made from OLMo-core %q, the export targets %s: regenerate it with scripts/olmo-core-stub.py", strings.TrimSpace(string(commit)), OLMoCoreCommit)
	}
	stub, _ := filepath.Abs("testdata/stub")
	logPath := filepath.Join(dir, "calls.json")
	cmd := exec.Command(py, "-m", "py_compile", script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("py_compile train.py: %v\n%s", err, out)
	}
	cmd = exec.Command(py, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+stub, "OLMO_CORE_STUB_LOG="+logPath, "PYTHONDONTWRITEBYTECODE=1")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("train.py against the OLMo-core stub: %v\n%s", err, out)
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	var calls []call
	if err := json.Unmarshal(b, &calls); err != nil {
		t.Fatal(err)
	}
	return calls
}

func find(t *testing.T, calls []call, name string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, c := range calls {
		if c.Call == name {
			out = append(out, c.Args)
		}
	}
	if len(out) == 0 {
		t.Fatalf("train.py never called %s", name)
	}
	return out
}

func num(t *testing.T, args map[string]any, key string) float64 {
	t.Helper()
	v, ok := args[key].(float64)
	if !ok {
		t.Fatalf("%s = %v (%T), want a number", key, args[key], args[key])
	}
	return v
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

// TestAgainstOLMoCoreStub: the generated scripts import, construct and call only
// what OLMo-core has at OLMoCoreCommit, with keywords it accepts, and the values
// they pass are the recipe's.
func TestAgainstOLMoCoreStub(t *testing.T) {
	py := python(t)
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			r := shipped(t, tc.recipe, tc.sets...)
			calls := runStub(t, py, exportFiles(t, r, tc.recipe, tc.nproc, tc.nodes))

			if r.Tokenizer == "dolma2" {
				find(t, calls, "TokenizerConfig.dolma2")
				m := find(t, calls, "TransformerConfig."+r.ModelName)[0]
				if m["vocab_size"] != "<TokenizerConfig.padded_vocab_size()>" || r.Model.VocabSize != 100352 {
					t.Errorf("vocab_size %v, recipe %d", m["vocab_size"], r.Model.VocabSize)
				}
			} else {
				m := find(t, calls, "TransformerConfig.llama_like")[0]
				c := r.Model
				for k, want := range map[string]int{"d_model": c.HiddenSize, "n_layers": c.NumHiddenLayers, "n_heads": c.NumAttentionHeads, "vocab_size": c.VocabSize} {
					if num(t, m, k) != float64(want) {
						t.Errorf("llama_like %s = %v, want %d", k, m[k], want)
					}
				}
				ff := find(t, calls, "FeedForwardConfig()")[0]
				if num(t, ff, "hidden_size") != float64(c.IntermediateSize) {
					t.Errorf("MLP hidden %v, want %d", ff["hidden_size"], c.IntermediateSize)
				}
				tok := find(t, calls, "TokenizerConfig()")[0]
				if num(t, tok, "vocab_size") != float64(c.VocabSize) || num(t, tok, "eos_token_id") != float64(*c.EOSTokenID) {
					t.Errorf("tokenizer %v", tok)
				}
			}
			if s := num(t, find(t, calls, "TransformerConfig()")[0], "init_seed"); s != float64(r.Seed) {
				t.Errorf("init_seed %v, want %d", s, r.Seed)
			}

			dl := find(t, calls, "NumpyDataLoaderConfig()")[0]
			if num(t, dl, "global_batch_size") != float64(r.GlobalBatchSize) || num(t, dl, "seed") != float64(r.Seed) {
				t.Errorf("data loader %v, want batch %d seed %d", dl, r.GlobalBatchSize, r.Seed)
			}
			ds := find(t, calls, "NumpyFSLDatasetConfig.from_src_mix")[0]
			if num(t, ds, "sequence_length") != float64(r.SequenceLength) {
				t.Errorf("sequence_length %v, want %d", ds["sequence_length"], r.SequenceLength)
			}
			mix := find(t, calls, "SourceMixtureDatasetConfig()")[0]
			if num(t, mix, "requested_tokens") != float64(r.MaxTokens) || num(t, mix, "global_batch_size") != float64(r.GlobalBatchSize) {
				t.Errorf("mixture %v", mix)
			}
			srcs := find(t, calls, "SourceMixtureConfig()")
			r, err := r.AbsPaths() // train.py names the paths absolute
			if err != nil {
				t.Fatal(err)
			}
			var sum, total float64
			for _, s := range r.Dataset {
				sum += s.TargetRatio
			}
			if len(srcs) != len(r.Dataset) {
				t.Fatalf("%d sources, recipe has %d", len(srcs), len(r.Dataset))
			}
			for i, s := range r.Dataset {
				got := srcs[i]
				total += num(t, got, "target_ratio")
				if got["source_name"] != s.Name || !near(num(t, got, "target_ratio"), s.TargetRatio/sum) {
					t.Errorf("source %d: %v, want %s ratio %v", i, got, s.Name, s.TargetRatio/sum)
				}
				paths, _ := got["paths"].([]any)
				if len(paths) != len(s.Paths) || !strings.HasPrefix(paths[0].(string), strings.TrimSuffix(strings.TrimSuffix(s.Paths[0], "*.npy"), "/")) {
					t.Errorf("source %d paths %v, recipe %v", i, got["paths"], s.Paths)
				}
			}
			if !near(total, 1) {
				t.Errorf("ratios sum to %v", total)
			}

			tm := find(t, calls, "TransformerTrainModuleConfig()")[0]
			if num(t, tm, "max_sequence_length") != float64(r.SequenceLength) || num(t, tm, "max_grad_norm") != r.Optimizer.MaxGradNorm || num(t, tm, "z_loss_multiplier") != r.ZLoss {
				t.Errorf("train module %v", tm)
			}
			if micro := num(t, tm, "rank_microbatch_size"); int(r.GlobalBatchSize)/(tc.nproc*tc.nodes)%int(micro) != 0 {
				t.Errorf("rank_microbatch_size %v does not divide a rank's share", micro)
			}
			opt := find(t, calls, "AdamWConfig()")[0]
			betas, _ := opt["betas"].([]any)
			if num(t, opt, "lr") != r.Optimizer.LR || num(t, opt, "eps") != r.Optimizer.Eps || num(t, opt, "weight_decay") != r.Optimizer.WeightDecay ||
				len(betas) != 2 || betas[0] != r.Optimizer.Betas[0] || betas[1] != r.Optimizer.Betas[1] {
				t.Errorf("AdamW %v", opt)
			}
			if ov, _ := opt["group_overrides"].([]any); !r.Optimizer.DecayEmbeddings && len(ov) != 1 {
				t.Errorf("no embedding-decay override: %v", opt["group_overrides"])
			}

			if d := num(t, find(t, calls, "Duration.tokens")[0], "tokens"); d != float64(r.MaxTokens) {
				t.Errorf("max duration %v tokens, want %d", d, r.MaxTokens)
			}
			tr := find(t, calls, "TrainerConfig()")[0]
			if r.StartAsAnneal {
				sch := find(t, calls, "LinearWithWarmup()")[0]
				if num(t, sch, "alpha_f") != 0 || num(t, sch, "warmup") != 0 || sch["units"] != "SchedulerUnits.tokens" {
					t.Errorf("anneal schedule %v", sch)
				}
				if tr["load_path"] != r.LoadPath || tr["load_strategy"] != "LoadStrategy.always" || tr["load_trainer_state"] != false || tr["load_optim_state"] != true {
					t.Errorf("anneal loading %v", tr)
				}
			} else {
				sch := find(t, calls, "CosWithWarmup()")[0]
				if num(t, sch, "warmup") != float64(r.Schedule.WarmupTokens) || num(t, sch, "alpha_f") != r.Schedule.AlphaF || sch["units"] != "SchedulerUnits.tokens" {
					t.Errorf("schedule %v", sch)
				}
				if r.Schedule.MaxTokens > 0 && num(t, sch, "t_max") != float64(r.Schedule.MaxTokens) {
					t.Errorf("t_max %v, want %d", sch["t_max"], r.Schedule.MaxTokens)
				}
			}
			ck := find(t, calls, "CheckpointerCallback()")[0]
			if r.Checkpoint.IntervalSteps > 0 && num(t, ck, "save_interval") != float64(r.Checkpoint.IntervalSteps) {
				t.Errorf("checkpointer %v", ck)
			}
			find(t, calls, "TrainerConfig.build().fit")
			checkValidation(t, r, calls)
		})
	}
}

// TestStubCatchesMistakes: the stub is strict enough to matter — a keyword
// OLMo-core does not take, a misspelt class or a wrong module fails.
func TestStubCatchesMistakes(t *testing.T) {
	py := python(t)
	good := exportFiles(t, shipped(t, "olmo2_1B_stage1"), "olmo2_1B_stage1", 8, 1)["train.py"]
	for _, tc := range []struct{ from, to, want string }{
		{"warmup=8388608000", "warmup_tokens=8388608000", "unexpected keyword argument 'warmup_tokens'"},
		{"z_loss_multiplier=", "z_loss=", "unexpected keyword argument 'z_loss'"},
		{"sequence_length=SEQUENCE_LENGTH,\n        work_dir", "seq_len=SEQUENCE_LENGTH,\n        work_dir", "'seq_len' (passed on to NumpyFSLDatasetConfig)"},
		{"from olmo_core.train.callbacks import CheckpointerCallback", "from olmo_core.train import CheckpointerCallback", "cannot import name 'CheckpointerCallback'"},
		{"TransformerConfig.olmo2_1B_v2(", "TransformerConfig.olmo2_1B_v3(", "has no attribute 'olmo2_1B_v3'"},
	} {
		bad := bytes.Replace(good, []byte(tc.from), []byte(tc.to), 1)
		if bytes.Equal(bad, good) {
			t.Fatalf("%q not in train.py", tc.from)
		}
		dir := t.TempDir()
		script := filepath.Join(dir, "train.py")
		if err := os.WriteFile(script, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		stub, _ := filepath.Abs("testdata/stub")
		cmd := exec.Command(py, script)
		cmd.Env = append(os.Environ(), "PYTHONPATH="+stub, "PYTHONDONTWRITEBYTECODE=1")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s → %s: err %v, want %q in:\n%s", tc.from, tc.to, err, tc.want, out)
		}
	}
}

// TestRefused: what OLMo-core cannot read or express is a RecipeError naming the field.
func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		name, recipe string
		sets         []string
		want         []string
	}{
		{"builtin source", "proxy_olmo2_30M", nil, []string{"dataset.sources[0].paths", `"web"`, "builtin:web_noisy", "HINT: `olmolab tokenize"}},
		{"jsonl source", "olmo2_1B_stage1", []string{`dataset.sources=[{name: docs, target_ratio: 1, paths: ["/data/docs.jsonl.gz"]}]`}, []string{"dataset.sources[0].paths", "/data/docs.jsonl.gz", "HINT"}},
		{"glob of anything", "olmo2_1B_stage1", []string{`dataset.sources=[{name: docs, target_ratio: 1, paths: ["/data/*"]}]`}, []string{"does not end in .npy"}},
		{"brace glob", "olmo2_1B_stage1", []string{`dataset.sources=[{name: d, target_ratio: 1, paths: ["/data/{a,b}/*.npy"]}]`}, []string{"only * and **", "HINT"}},
		{"wsd without warmup", "olmo2_1B_stage1", []string{"schedule={name: wsd}"}, []string{"schedule.warmup_tokens", "WSD"}},
		{"norms not decayed", "olmo2_1B_stage1", []string{"optimizer.decay_norm_and_bias=false"}, []string{"optimizer.decay_norm_and_bias"}},
		{"batch does not split", "olmo2_1B_stage1", []string{"global_batch_size=12288", "rank_microbatch_size=4096"}, []string{"global_batch_size", "8 ranks"}},
		{"olmo2 preset without dolma2", "olmo2_1B_stage1", []string{"tokenizer=world"}, []string{"tokenizer", "dolma2"}},
		{"unknown tokenizer", "quickstart", []string{"tokenizer=gpt2", `dataset.sources=[{name: a, target_ratio: 1, paths: ["/d/a.npy"]}]`, "mixes={}", "anneal={}", "soup={}"}, []string{"tokenizer: ", `unknown tokenizer "gpt2"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := shipped(t, tc.recipe, tc.sets...)
			_, err := OLMoCore(OLMoCoreParams{Recipe: r, Source: tc.recipe, NProc: 8, Nodes: 1})
			var re *lab.RecipeError
			if !errors.As(err, &re) {
				t.Fatalf("err %v, want a RecipeError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !strings.HasPrefix(err.Error(), "experiments/"+tc.recipe+".yaml: ") {
				t.Errorf("error does not name the recipe file: %v", err)
			}
		})
	}
}

func TestDirectorySources(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	// beside the token files, files neither olmolab nor the glob reads: a README, OLMo's metadata
	for _, f := range []string{filepath.Join(good, "a", "part-0.npy"), filepath.Join(good, "README.md"), filepath.Join(good, "a", "part-0.csv.gz"),
		filepath.Join(bad, "part-0.npy"), filepath.Join(bad, "notes.jsonl")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte{0, 0, 0, 0}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := shipped(t, "olmo2_1B_stage1", `dataset.sources=[{name: a, target_ratio: 1, paths: ["`+good+`"]}]`)
	files := exportFiles(t, r, "x", 8, 1)
	if !bytes.Contains(files["train.py"], []byte(good+`/**/*.npy"]`)) {
		t.Errorf("directory not turned into a glob:\n%s", files["train.py"])
	}
	if bytes.Contains(files["EXPORT.md"], []byte("taken to be directories")) {
		t.Errorf("an existing directory reported as assumed")
	}
	r = shipped(t, "olmo2_1B_stage1", `dataset.sources=[{name: b, target_ratio: 1, paths: ["`+bad+`"]}]`)
	if _, err := OLMoCore(OLMoCoreParams{Recipe: r, Source: "x", NProc: 8, Nodes: 1}); err == nil || !strings.Contains(err.Error(), "notes.jsonl") {
		t.Errorf("a directory with JSONL in it: err %v", err)
	}
	binny := filepath.Join(dir, "binny")
	os.MkdirAll(binny, 0o755)
	os.WriteFile(filepath.Join(binny, "part-0.npy"), []byte{0, 0}, 0o644)
	os.WriteFile(filepath.Join(binny, "part-1.bin"), []byte{0, 0}, 0o644)
	r = shipped(t, "olmo2_1B_stage1", `dataset.sources=[{name: b, target_ratio: 1, paths: ["`+binny+`"]}]`)
	if _, err := OLMoCore(OLMoCoreParams{Recipe: r, Source: "x", NProc: 8, Nodes: 1}); err == nil || !strings.Contains(err.Error(), "part-1.bin (.bin") {
		t.Errorf("a directory with a .bin token file, which olmolab reads and *.npy does not: err %v", err)
	}
}

// A directory source exports as the files olmolab's loader takes from it:
// hidden directories (a .cache, a .git) are skipped by both, so what sits in
// them neither refuses the export nor counts as its token files.
func TestDirectorySourcesSkipHidden(t *testing.T) {
	dir := t.TempDir()
	cached, onlyHidden := filepath.Join(dir, "cached"), filepath.Join(dir, "onlyhidden")
	for _, f := range []string{filepath.Join(cached, "part-0.npy"), filepath.Join(cached, ".cache", "docs.jsonl"), filepath.Join(cached, ".git", "x.bin"),
		filepath.Join(onlyHidden, ".stage", "part-0.npy")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte{0, 0, 0, 0}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := shipped(t, "olmo2_1B_stage1", `dataset.sources=[{name: a, target_ratio: 1, paths: ["`+cached+`"]}]`)
	if _, err := OLMoCore(OLMoCoreParams{Recipe: r, Source: "x", NProc: 8, Nodes: 1}); err != nil {
		t.Errorf("files in hidden directories, which olmolab skips, refused the export: %v", err)
	}
	r = shipped(t, "olmo2_1B_stage1", `dataset.sources=[{name: a, target_ratio: 1, paths: ["`+onlyHidden+`"]}]`)
	if _, err := OLMoCore(OLMoCoreParams{Recipe: r, Source: "x", NProc: 8, Nodes: 1}); err == nil || !strings.Contains(err.Error(), "holds no .npy token files") {
		t.Errorf("a directory whose only token files are hidden (olmolab reads none): err %v", err)
	}
}

// TestExportedGlobReadsWhatOlmolabRead: OLMo-core expands a source's glob
// with deterministic_glob_directory, a regex over every path under its base
// (hidden ones included), where olmolab skips hidden files and directories.
// Where the two would differ, the export lists olmolab's files one by one, so
// the exported run trains on exactly what olmolab trained on.
func TestExportedGlobReadsWhatOlmolabRead(t *testing.T) {
	dir := t.TempDir()
	d := filepath.Join(dir, "d")
	for _, f := range []string{"a/part-0.npy", "a/part-1.npy", ".staging/part-9.npy", "a/.part-2.npy"} {
		p := filepath.Join(d, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte{0, 0, 0, 0}, 0o644)
	}
	want := `["` + filepath.Join(d, "a", "part-0.npy") + `", "` + filepath.Join(d, "a", "part-1.npy") + `"]`
	for _, path := range []string{d, d + "/**/*.npy"} {
		r := shipped(t, "olmo2_1B_stage1", `dataset.sources=[{name: a, target_ratio: 1, paths: ["`+path+`"]}]`)
		files := exportFiles(t, r, "x", 8, 1)
		if !bytes.Contains(files["train.py"], []byte(want)) || bytes.Contains(files["train.py"], []byte("part-9")) || bytes.Contains(files["train.py"], []byte(".part-2")) {
			t.Errorf("%s: train.py does not list olmolab's two files (and only them):\n%s", path, files["train.py"])
		}
		if !bytes.Contains(files["EXPORT.md"], []byte("hidden")) {
			t.Errorf("%s: EXPORT.md does not say why the files are listed:\n%s", path, files["EXPORT.md"])
		}
	}
	// without hidden files the glob stays a glob
	os.RemoveAll(filepath.Join(d, ".staging"))
	os.Remove(filepath.Join(d, "a", ".part-2.npy"))
	r := shipped(t, "olmo2_1B_stage1", `dataset.sources=[{name: a, target_ratio: 1, paths: ["`+d+`"]}]`)
	if files := exportFiles(t, r, "x", 8, 1); !bytes.Contains(files["train.py"], []byte(`["`+d+`/**/*.npy"]`)) {
		t.Errorf("a directory without hidden files: not a glob:\n%s", files["train.py"])
	}
}

// TestRelativePathsExportAbsolute: a recipe's relative data paths are taken
// from the directory the export runs in, as a run there reads them, and
// train.py names them absolute, so that it finds the data when started
// elsewhere (torchrun from the export's --out); EXPORT.md says where from.
// They were written as given, relative to wherever train.py would run.
func TestRelativePathsExportAbsolute(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"web/part-0.npy", "val/part-0.npy"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte{0, 0, 0, 0}, 0o644)
	}
	t.Chdir(dir)
	r := shipped(t, "olmo2_1B_stage1", `dataset.sources=[{name: a, target_ratio: 1, paths: ["web/part-0.npy", "/data/b/*.npy"]}]`,
		`eval.val={tokens: 8K, sources: [{name: v, paths: [val]}]}`)
	files := exportFiles(t, r, "x", 8, 1)
	for _, want := range []string{`"` + filepath.Join(dir, "web", "part-0.npy") + `"`, `"/data/b/*.npy"`, `"` + filepath.Join(dir, "val") + `/**/*.npy"`} {
		if !bytes.Contains(files["train.py"], []byte(want)) {
			t.Errorf("train.py lacks %s:\n%s", want, files["train.py"])
		}
	}
	if want := "taken from " + dir; !bytes.Contains(files["EXPORT.md"], []byte(want)) {
		t.Errorf("EXPORT.md lacks %q:\n%s", want, files["EXPORT.md"])
	}
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	files := []File{{Name: "a", Mode: 0o644, Data: []byte("1")}, {Name: "b.sh", Mode: 0o755, Data: []byte("2")}}
	if err := WriteDir(dir, files, false); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "b.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("b.sh: %v %v", fi, err)
	}
	if err := WriteDir(dir, []File{{Name: "c", Mode: 0o644}}, false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("overwrote a non-empty directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c")); err == nil {
		t.Fatal("wrote into a refused directory")
	}
	// --force replaces an earlier export, whole
	if err := WriteDir(dir, []File{{Name: "a", Mode: 0o644, Data: []byte("3")}, {Name: "b.sh", Mode: 0o755}, {Name: "c", Mode: 0o644}}, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a")); string(b) != "3" {
		t.Fatalf("--force: a holds %q", b)
	}
	if err := WriteDir(dir, []File{{Name: "a", Mode: 0o644, Data: []byte("4")}, {Name: "b.sh", Mode: 0o755}, {Name: "c", Mode: 0o644}}, true); err != nil {
		t.Fatal(err)
	}
	// but never a directory of other things, which replacing would delete
	os.WriteFile(filepath.Join(dir, "notes.md"), []byte("mine"), 0o644)
	os.Mkdir(filepath.Join(dir, "a.d"), 0o755)
	if err := WriteDir(dir, []File{{Name: "a", Mode: 0o644, Data: []byte("5")}, {Name: "b.sh", Mode: 0o755}, {Name: "c", Mode: 0o644}}, true); err == nil || !strings.Contains(err.Error(), "a.d, notes.md") {
		t.Fatalf("--force over a directory with other files: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "notes.md")); string(b) != "mine" {
		t.Fatalf("notes.md: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a")); string(b) != "4" {
		t.Fatalf("a refused export changed a to %q", b)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".out.tmp-*"))
	if len(left) > 0 {
		t.Fatalf("temporary directories left: %v", left)
	}
}

// TestDataDType: the recipe's dataset.dtype reaches NumpyFSLDatasetConfig's
// dtype, so OLMo-core reads the files as olmolab does; without it train.py
// leaves the choice to OLMo-core (the smallest type that holds the vocabulary).
func TestDataDType(t *testing.T) {
	r := shipped(t, "olmo2_1B_stage1")
	if files := exportFiles(t, r, "x", 8, 1); bytes.Contains(files["train.py"], []byte("dtype=\"uint")) {
		t.Errorf("train.py sets a token dtype the recipe did not ask for")
	}
	r = shipped(t, "olmo2_1B_stage1", "dataset.dtype=uint32")
	files := exportFiles(t, r, "x", 8, 1)
	if !bytes.Contains(files["train.py"], []byte(`dtype="uint32",  # dataset.dtype`)) {
		t.Errorf("dataset.dtype not in train.py")
	}
	if _, err := exec.LookPath("python3"); err == nil {
		ds := find(t, runStub(t, python(t), files), "NumpyFSLDatasetConfig.from_src_mix")[0]
		if ds["dtype"] != "uint32" {
			t.Errorf("NumpyFSLDatasetConfig dtype %v, want uint32", ds["dtype"])
		}
	}
	// uint16 cannot hold dolma2's ids: OLMo-core would read its uint32 files
	// as two ids each, so the export refuses it
	r = shipped(t, "olmo2_1B_stage1", "dataset.dtype=uint16")
	_, err := OLMoCore(OLMoCoreParams{Recipe: r, NProc: 8, Nodes: 1})
	var re *lab.RecipeError
	if !errors.As(err, &re) || re.Field != "dataset.dtype" {
		t.Errorf("uint16 with dolma2: %v, want a RecipeError on dataset.dtype", err)
	}
}

// TestSourceDTypeAndCaps: sources' own dtype keys that agree are the
// mixture's dtype, ones that differ (or differ from the default) are refused,
// as OLMo-core reads a mixture with one; repetition_factor and
// max_source_ratio reach SourceMixtureConfig's max_repetition_ratio and
// max_source_fraction (1 for a source without them).
func TestSourceDTypeAndCaps(t *testing.T) {
	both := `dataset.sources=[{name: web, target_ratio: 1, dtype: uint32, paths: ["/data/web/*.npy"]}, {name: code, target_ratio: 1, %s paths: ["/data/code/*.npy"]}]`
	r := shipped(t, "quickstart", append(qs(), fmt.Sprintf(both, "dtype: uint16,"))...)
	_, err := OLMoCore(OLMoCoreParams{Recipe: r, NProc: 1, Nodes: 1})
	var re *lab.RecipeError
	if !errors.As(err, &re) || re.Field != "dataset.sources[1].dtype" || !strings.Contains(err.Error(), `source "code" reads uint16 token files and source "web" uint32`) {
		t.Errorf("uint16 and uint32 sources: %v, want a RecipeError on dataset.sources[1].dtype", err)
	}
	// quickstart's tokenizer (world) reads uint16 by default
	r = shipped(t, "quickstart", append(qs(), fmt.Sprintf(both, ""))...)
	if _, err = OLMoCore(OLMoCoreParams{Recipe: r, NProc: 1, Nodes: 1}); err == nil || !strings.Contains(err.Error(), `source "code" reads uint16 token files and source "web" uint32`) {
		t.Errorf("uint32 beside the default uint16: %v", err)
	}
	r = shipped(t, "quickstart", append(qs(), fmt.Sprintf(both, "dtype: uint32,"), "dataset.sources.0.repetition_factor=2", "dataset.sources.1.max_source_ratio=0.5")...)
	files := exportFiles(t, r, "x", 1, 1)
	if !bytes.Contains(files["train.py"], []byte(`dtype="uint32",  # the sources' dtype`)) {
		t.Errorf("the sources' dtype not in train.py:\n%s", files["train.py"])
	}
	if _, err := exec.LookPath("python3"); err == nil {
		got := find(t, runStub(t, python(t), files), "SourceMixtureConfig()")
		if len(got) != 2 || got[0]["max_repetition_ratio"] != 2.0 || got[0]["max_source_fraction"] != 1.0 ||
			got[1]["max_repetition_ratio"] != 1.0 || got[1]["max_source_fraction"] != 0.5 {
			t.Errorf("SourceMixtureConfig calls %v; want web 2, 1 and code 1, 0.5", got)
		}
	}
}

// TestValSourceDType: eval.val.sources' own dtype reaches the LM
// evaluator's dataset, which reads its files with one dtype of its own (not
// the mixture's); validation sources that read another dtype than the first
// are left out and listed in EXPORT.md. The evaluator's dataset took the
// mixture's dtype, so uint32 validation files beside uint16 training ones
// were read as uint16.
func TestValSourceDType(t *testing.T) {
	const val = `eval.val={tokens: 8K, sources: [{name: held, dtype: uint32, paths: ["/data/held/*.npy"]}, {name: more, %s paths: ["/data/more.npy"]}]}`
	r := shipped(t, "quickstart", qs(fmt.Sprintf(val, "dtype: uint32,"))...)
	files := exportFiles(t, r, "x", 1, 1)
	py := string(files["train.py"])
	if !strings.Contains(py, `work_dir=work_dir,
                dtype="uint32",  # eval.val.sources[0].dtype`) {
		t.Errorf("the validation sources' dtype not on the LM evaluator's dataset:\n%s", py)
	}
	if strings.Contains(py, `dtype="uint32",  # the sources' dtype`) || strings.Contains(py, "# dataset.dtype") {
		t.Errorf("the training mixture took the validation sources' dtype:\n%s", py)
	}
	if _, err := exec.LookPath("python3"); err == nil {
		cb := find(t, runStub(t, python(t), files), "LMEvaluatorCallbackConfig()")
		ds, _ := cb[0]["eval_dataset"].(map[string]any)
		if len(cb) != 1 || ds["dtype"] != "uint32" {
			t.Errorf("LM evaluator %v; want its dataset read as uint32", cb)
		}
	}

	// quickstart's tokenizer reads uint16 by default: the second source disagrees
	r = shipped(t, "quickstart", qs(fmt.Sprintf(val, ""))...)
	files = exportFiles(t, r, "x", 1, 1)
	if want := `eval.val source "more": it reads uint16 token files and eval.val source "held" uint32, but OLMo-core's LM evaluator reads its files with one dtype`; !strings.Contains(string(files["EXPORT.md"]), want) {
		t.Errorf("EXPORT.md lacks %q:\n%s", want, files["EXPORT.md"])
	}
	if strings.Contains(string(files["train.py"]), "/data/more.npy") {
		t.Errorf("the source of another dtype is in train.py")
	}
}

// checkValidation: eval.val's token-file sources reach OLMo-core's LM evaluator
// with every file labelled by its source, globs expanded by OLMo-core's own
// deterministic_glob_directory (the stub returns one opaque file per glob), at
// the recipe's interval and at the end; other sources and recipes without
// validation add no evaluator.
func checkValidation(t *testing.T, r *lab.Recipe, calls []call) {
	t.Helper()
	type want struct{ label, path string }
	var wants []want
	var globs []string
	if r.Eval.Val.Tokens > 0 && !r.Eval.Val.Derived {
		for _, s := range r.Eval.Val.Sources {
			if strings.HasPrefix(s.Paths[0], "builtin:") {
				continue
			}
			for _, p := range s.Paths {
				if strings.Contains(p, "*") {
					globs = append(globs, p)
					p = "<olmo_core.io.deterministic_glob_directory()>"
				}
				wants = append(wants, want{s.Name, p})
			}
		}
	}
	var lm []map[string]any
	for _, c := range calls {
		if c.Call == "LMEvaluatorCallbackConfig()" {
			lm = append(lm, c.Args)
		}
	}
	if len(wants) == 0 {
		if len(lm) != 0 {
			t.Errorf("an LM evaluator without token-file validation sources: %v", lm)
		}
		return
	}
	if len(lm) != 1 {
		t.Fatalf("%d LM evaluators, want 1", len(lm))
	}
	cb := lm[0]
	if num(t, cb, "eval_interval") != float64(r.Eval.IntervalSteps) || cb["eval_on_finish"] != true {
		t.Errorf("LM evaluator %v, want eval_interval %d and eval_on_finish", cb, r.Eval.IntervalSteps)
	}
	ds, _ := cb["eval_dataset"].(map[string]any)
	if ds["__class__"] != "NumpyPaddedFSLDatasetConfig" || num(t, ds, "sequence_length") != float64(r.SequenceLength) {
		t.Fatalf("eval_dataset %v", ds)
	}
	if want := cmp.Or(r.Eval.Val.Sources[0].DType, r.DataDType); want != 0 && ds["dtype"] != want.String() {
		t.Errorf("eval_dataset dtype %v, want %s", ds["dtype"], want)
	}
	paths, _ := ds["paths"].([]any)
	meta, _ := ds["metadata"].([]any)
	if len(paths) != len(wants) || len(meta) != len(wants) {
		t.Fatalf("eval_dataset paths %v metadata %v, want %v", paths, meta, wants)
	}
	for i, w := range wants {
		m, _ := meta[i].(map[string]any)
		if paths[i] != w.path || m["label"] != w.label {
			t.Errorf("validation file %d: %v labelled %v, want %s labelled %s", i, paths[i], meta[i], w.path, w.label)
		}
	}
	var globbed []string
	for _, c := range calls {
		if c.Call == "olmo_core.io.deterministic_glob_directory" {
			globbed = append(globbed, c.Args["pattern"].(string))
		}
	}
	if strings.Join(globbed, "|") != strings.Join(globs, "|") {
		t.Errorf("globs expanded %v, want %v", globbed, globs)
	}
}

// TestEvalSplitNotMapped: a recipe's eval.split is listed with its tasks among
// what the export leaves to be done by hand (OLMo-core reads no such key; its
// in-loop tasks name their split in their labels), and olmolab eval's command
// for the converted checkpoints carries it; without eval.split the line is as
// before.
func TestEvalSplitNotMapped(t *testing.T) {
	got := string(exportFiles(t, shipped(t, "olmo2_1B_stage1", "eval.split=validation"), "olmo2_1B_stage1", 8, 1)["EXPORT.md"])
	for _, want := range []string{
		"- eval (arc_easy, arc_challenge, hellaswag, piqa, mmlu, every 1000 steps, the OLMES benchmarks on the validation split: eval.split): add OLMo-core's DownstreamEvaluatorCallbackConfig",
		"arc_easy_val_rc_5shot is ARC-Easy's validation split",
		"`olmolab eval --split validation` after converting them to HF.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("EXPORT.md lacks %q:\n%s", want, got)
		}
	}
	if plain := string(exportFiles(t, shipped(t, "olmo2_1B_stage1"), "olmo2_1B_stage1", 8, 1)["EXPORT.md"]); strings.Contains(plain, "eval.split") {
		t.Errorf("EXPORT.md of a recipe without eval.split mentions it:\n%s", plain)
	}
}

// TestExportedGlobOlmoCoreMisses: a glob written with /./ matches nothing in
// OLMo-core (its listing writes DIR/d/a/part-0.npy, which the pattern's regex
// does not match), so the export lists olmolab's files, and EXPORT.md says
// that OLMo-core would not read them. It said OLMo-core "would also read"
// nothing, blaming hidden files there were none of. (A relative ./d/**/*.npy
// is made absolute, and clean, first: TestRelativePathsExportAbsolute.)
func TestExportedGlobOlmoCoreMisses(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"d/a/part-0.npy", "d/a/part-1.npy"} {
		f = filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(f), 0o755)
		os.WriteFile(f, []byte{0, 0, 0, 0}, 0o644)
	}
	r := shipped(t, "olmo2_1B_stage1", `dataset.sources=[{name: a, target_ratio: 1, paths: ["`+dir+`/./d/**/*.npy"]}]`)
	files := exportFiles(t, r, "x", 8, 1)
	a0, a1 := filepath.Join(dir, "d/a/part-0.npy"), filepath.Join(dir, "d/a/part-1.npy")
	if !bytes.Contains(files["train.py"], []byte(`["`+a0+`", "`+a1+`"]`)) {
		t.Errorf("train.py does not list olmolab's two files:\n%s", files["train.py"])
	}
	note := "OLMo-core's glob " + dir + "/./d/**/*.npy would not read " + a0 + ", " + a1 + "."
	if md := files["EXPORT.md"]; !bytes.Contains(md, []byte(note)) || bytes.Contains(md, []byte("would also read")) {
		t.Errorf("EXPORT.md does not say %q (and only that):\n%s", note, md)
	}
}

// TestMixScheduleRefused: a recipe whose run switches mixes by itself
// (mix_schedule) is refused, as an automatic anneal onto anneal.mix is:
// train.py's data is one mixture for the whole run, so it trained on
// dataset.sources throughout, listed only as "not mapped". The error names the
// file, the field and the switches, and says what to do; without the switches
// (--set mix_schedule=[]) the recipe exports; a switch at or after max_tokens,
// which the run never makes, is listed as not mapped.
func TestMixScheduleRefused(t *testing.T) {
	code := `mixes={code: [{name: starcoder, target_ratio: 1, paths: ["data/olmo-mix-1124/starcoder"]}]}`
	r := shipped(t, "olmo2_1B_stage1", code, "mix_schedule=[{at_tokens: 1T, mix: code}]")
	_, err := OLMoCore(OLMoCoreParams{Recipe: r, Source: "olmo2_1B_stage1", NProc: 8, Nodes: 1})
	var re *lab.RecipeError
	if !errors.As(err, &re) || re.Field != "mix_schedule" {
		t.Fatalf("err %v, want a RecipeError on mix_schedule", err)
	}
	for _, want := range []string{"experiments/olmo2_1B_stage1.yaml: mix_schedule: ", "code at 1000000000000 tokens", "would train on dataset.sources throughout", "HINT: export one recipe per stage", "load_path", "--set mix_schedule=[]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if md := string(exportFiles(t, shipped(t, "olmo2_1B_stage1", code, "mix_schedule=[]"), "x", 8, 1)["EXPORT.md"]); strings.Contains(md, "mix_schedule") {
		t.Errorf("EXPORT.md of a recipe without mix_schedule mentions it:\n%s", md)
	}
	late := shipped(t, "olmo2_1B_stage1", code, "mix_schedule=[{at_tokens: 9T, mix: code}]")
	md := string(exportFiles(t, late, "x", 8, 1)["EXPORT.md"])
	if want := "- mix_schedule (code at 9000000000000 tokens): at or after max_tokens " + strconv.FormatInt(late.MaxTokens, 10) + ", so the run never switches"; !strings.Contains(md, want) {
		t.Errorf("EXPORT.md lacks %q:\n%s", want, md)
	}
}

// TestTokenizerResolvesModel: the exported model is the one a run trains, its
// vocabulary, EOS and padding ids the tokenizer's: a cpu_* preset takes its
// tokenizer's vocabulary. cpu_s with dolma2 was exported with the world's
// 2048-token embedding under TokenizerConfig.dolma2() (ids up to 100K), and
// with bytes as a 2048-token vocabulary with the world's EOS and padding ids.
func TestTokenizerResolvesModel(t *testing.T) {
	npy := []string{`dataset.sources=[{name: a, target_ratio: 1, paths: ["/d/a.npy"]}]`, "mixes={}", "anneal={}", "soup={}"}
	for _, tc := range []struct {
		tokenizer string
		want      []string
	}{
		{"dolma2", []string{"vocab_size=100352,", "tokenizer_config = TokenizerConfig.dolma2()"}},
		{"tokenizers/allenai_dolma2.json", []string{"vocab_size=100352,", "tokenizer_config = TokenizerConfig.dolma2()"}},
		{"bytes", []string{"vocab_size=384,", "TokenizerConfig(vocab_size=384, eos_token_id=256, pad_token_id=257)"}},
		{"world", []string{"vocab_size=2048,", "TokenizerConfig(vocab_size=2048, eos_token_id=2046, pad_token_id=2047)"}},
	} {
		r := shipped(t, "quickstart", append([]string{"tokenizer=" + tc.tokenizer}, npy...)...)
		py := string(exportFiles(t, r, "x", 1, 1)["train.py"])
		for _, w := range tc.want {
			if !strings.Contains(py, w) {
				t.Errorf("tokenizer %s: train.py lacks %q", tc.tokenizer, w)
			}
		}
	}
}

// TestInitStd: a model's init_std (the truncated normal olmolab initialises
// with) reaches OLMo-core's TransformerConfig.init_std, whose InitMethod.normal
// draws the same way; at the default 0.02, OLMo-core's own, train.py leaves it.
// It was dropped: the exported run initialised at 0.02 whatever the recipe said.
func TestInitStd(t *testing.T) {
	npy := []string{`dataset.sources=[{name: a, target_ratio: 1, paths: ["/d/a.npy"]}]`, "mixes={}", "anneal={}", "soup={}"}
	files := exportFiles(t, shipped(t, "quickstart", append(npy, "model={preset: cpu_s, init_std: 0.006}")...), "x", 1, 1)
	if !bytes.Contains(files["train.py"], []byte("init_seed=seed, init_std=0.006)")) || !bytes.Contains(files["EXPORT.md"], []byte("`init_std=0.006` (model.init_std)")) {
		t.Errorf("init_std 0.006 not in train.py and EXPORT.md:\n%s\n%s", files["train.py"], files["EXPORT.md"])
	}
	if _, err := exec.LookPath("python3"); err == nil {
		m := find(t, runStub(t, python(t), files), "TransformerConfig()")[0]
		if num(t, m, "init_std") != 0.006 {
			t.Errorf("TransformerConfig init_std %v, want 0.006", m["init_std"])
		}
	}
	if py := exportFiles(t, shipped(t, "quickstart", npy...), "x", 1, 1)["train.py"]; bytes.Contains(py, []byte("init_std")) {
		t.Errorf("train.py sets init_std at the default")
	}
}

// TestSoupAndAnneal: a soup is K OLMo-core runs and an anneal the run does not
// make by itself is another run; EXPORT.md says which, with the seeds the lab
// would use, and what the script trains. A stage-1 soup at an automatic anneal
// inside the run is refused: train.py would make one anneal where the lab
// makes K and averages them (it was listed as "run the script once per
// seed", which would repeat stage 1 from other initial weights); a stage-2
// soup whose soup.mix is not the dataset is refused (the script trains on
// dataset.sources); a manual anneal was not mentioned at all.
func TestSoupAndAnneal(t *testing.T) {
	md := func(name string, sets ...string) string {
		return string(exportFiles(t, shipped(t, name, sets...), "x", 8, 1)["EXPORT.md"])
	}
	refused := func(field, name string, sets ...string) {
		t.Helper()
		_, err := OLMoCore(OLMoCoreParams{Recipe: shipped(t, name, sets...), Source: name, NProc: 8, Nodes: 1})
		var re *lab.RecipeError
		if !errors.As(err, &re) || re.Field != field || !strings.Contains(err.Error(), "HINT") {
			t.Errorf("%v: err %v, want a RecipeError on %s with a HINT", sets, err, field)
		}
	}
	for _, tc := range []struct {
		name string
		sets []string
		want string
	}{
		{"olmo2_13B_stage2", nil, "- soup (3 ingredients, seeds 1110, 2662, 6209): the script is one ingredient; run it once per seed (--seed S"},
		{"olmo2_1B_stage1", []string{"soup={ingredients: 2}"}, "- soup (2 ingredients, seeds 6199, 6200): the lab makes it when the run ends, 2 anneals of 1000000000000 tokens each (a quarter of the run) on dataset.sources"},
		{"olmo2_1B_stage1", []string{"soup={ingredients: 2, seeds: [7, 8], tokens: 50B}"}, "- soup (2 ingredients, seeds 7, 8): the lab makes it when the run ends, 2 anneals of 50000000000 tokens each on dataset.sources"},
		{"olmo2_1B_stage1", []string{"anneal={tokens: 50B}"}, "- anneal (50000000000 tokens): without anneal.auto_at, a person starts it in the lab; the script runs the schedule to max_tokens."},
		{"olmo2_1B_stage1", []string{"anneal={tokens: 50B, auto_at: 5T}"}, "- anneal (50000000000 tokens): anneal.auto_at 5000000000000 is not before max_tokens 4000000000000, so the run ends without it"},
	} {
		if got := md(tc.name, tc.sets...); !strings.Contains(got, tc.want) {
			t.Errorf("%s %v: EXPORT.md lacks %q:\n%s", tc.name, tc.sets, tc.want, got)
		}
	}
	if got := md("olmo2_1B_stage1"); strings.Contains(got, "- soup") || strings.Contains(got, "- anneal") {
		t.Errorf("EXPORT.md of a recipe without a soup or an anneal lists one:\n%s", got)
	}
	refused("soup", "olmo2_1B_stage1", "soup={ingredients: 3}", "anneal={tokens: 1T, auto_at: 3T}")
	refused("soup.mix", "olmo2_13B_stage2", `soup.mix=[{name: wiki, target_ratio: 1, paths: ["data/dolmino-mix-1124/wiki"]}]`)
}

// TestEvalTasksNotMapped: EXPORT.md's eval line tells OLMES benchmarks, which
// OLMo-core's in-loop evaluator has, from olmolab's built-in tasks and oe-eval
// request dumps, which it has not (it told the user to add OLMo-core's
// DownstreamEvaluatorCallbackConfig for them all), and gives eval.limit; a
// relative request dump is named absolute, as the export ran.
func TestEvalTasksNotMapped(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	r := shipped(t, "olmo2_1B_stage1", "eval.tasks=[arc_easy, fact_qa_heldout, req/requests.jsonl.gz]", "eval.limit=100")
	got := string(exportFiles(t, r, "x", 8, 1)["EXPORT.md"])
	dump := filepath.Join(dir, "req", "requests.jsonl.gz")
	want := "- eval (arc_easy, fact_qa_heldout, " + dump + ", every 1000 steps, 100 instances per task: eval.limit): add OLMo-core's DownstreamEvaluatorCallbackConfig (TrainerConfig.with_recommended_evals) by hand for arc_easy; fact_qa_heldout, " + dump + " are built-in tasks (about olmolab's world) and oe-eval request dumps, which have no OLMo-core evaluator: for all of them, evaluate checkpoints with `olmolab eval` after converting them to HF."
	if !strings.Contains(got, want) {
		t.Errorf("EXPORT.md lacks\n%s\n%s", want, got)
	}
}
