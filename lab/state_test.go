package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
	"github.com/olmolab/olmolab/model/safetensors"
)

// TestCheckpointStateCheck: a damaged or hand-edited state.json is refused
// with the field named, so a resume never trains on from a state that
// cannot exist; every state a run writes passes (the resume tests).
func TestCheckpointStateCheck(t *testing.T) {
	valid := func() CheckpointState {
		return CheckpointState{Step: 800, Tokens: 1638400, TotalTokens: 1701888, Phase: "anneal", LR: 2.7e-4,
			AnnealStart: 1300480, AnnealTokens: 401408, AnnealLR0: 1.7e-3, OptStep: 800,
			Mix:        []data.SourceSpec{{Name: "web", TargetRatio: 0.5}, {Name: "qa", TargetRatio: 0}},
			SpikesLoss: SpikeState{Window: []float64{1, 2}, N: 800, Spikes: 1}}
	}
	for _, tc := range []struct {
		name string
		edit func(*CheckpointState)
		dir  string
		want string // "" = valid
	}{
		{"valid", func(*CheckpointState) {}, "step-800", ""},
		{"valid, soup ingredient directory", func(s *CheckpointState) { s.Phase = "soup" }, "soup-2", ""},
		{"negative step", func(s *CheckpointState) { s.Step = -5 }, "step-800", "field step"},
		{"step not the directory's", func(s *CheckpointState) { s.Step = 700 }, "step-800", "directory is step-800"},
		{"unknown phase", func(s *CheckpointState) { s.Phase = "bogus" }, "step-800", "field phase"},
		{"tokens past the end", func(s *CheckpointState) { s.Tokens = s.TotalTokens + 1 }, "step-800", "fields tokens"},
		{"no total", func(s *CheckpointState) { s.TotalTokens = 0 }, "step-800", "total_tokens"},
		{"negative lr", func(s *CheckpointState) { s.LR = -1 }, "step-800", "fields lr"},
		{"infinite lr", func(s *CheckpointState) { s.LR = math.Inf(1) }, "step-800", "fields lr"},
		{"negative opt_step", func(s *CheckpointState) { s.OptStep = -1 }, "step-800", "opt_step"},
		{"anneal without length", func(s *CheckpointState) { s.AnnealTokens = 0 }, "step-800", "anneal_tokens"},
		{"empty mix", func(s *CheckpointState) { s.Mix = nil }, "step-800", "field mix"},
		{"negative ratio", func(s *CheckpointState) { s.Mix[1].TargetRatio = -0.1 }, "step-800", "mix[1].target_ratio"},
		{"more spikes than values", func(s *CheckpointState) { s.SpikesLoss.Spikes = 900 }, "step-800", "spikes_loss"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := valid()
			tc.edit(&st)
			err := st.check(tc.dir)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			}
		})
	}
}

// TestCheckpointLoadRoundTrip: writeCheckpoint streams the weights and Adam
// moments from a backend into their files, and loadCheckpoint's load streams
// them back into another: exactly the bits saved (the weights rounded to
// BF16 for a BF16 checkpoint), and the optimizer's step count. The files are
// byte for byte those of the former path, which read whole host copies
// (model.SaveHF and safetensors.Write of FromFloat32 tensors). An
// optim.safetensors that lost its tail is an error naming it, before any
// backend is touched.
func TestCheckpointLoadRoundTrip(t *testing.T) {
	eos := 30
	cfg := model.Config{VocabSize: 32, HiddenSize: 16, IntermediateSize: 24, NumHiddenLayers: 2, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, MaxPositionEmbeddings: 64, RopeTheta: 500000, RMSNormEps: 1e-6, InitializerRange: 0.02, EOSTokenID: &eos}
	n := int(model.NewLayout(cfg).Size())
	r := rand.New(rand.NewPCG(3, 4))
	params, m, v := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range params {
		params[i] = float32(r.NormFloat64())
		m[i] = float32(r.NormFloat64() * 1e-3)
		v[i] = float32(r.Float64() * 1e-6)
	}
	b := model.NewCPUBackend(cfg, 1, 8, 1)
	defer b.Close()
	b.WriteParams(params)
	b.WriteOptState(m, v, 4)
	st := CheckpointState{Step: 4, Tokens: 512, TotalTokens: 1024, Phase: "stage1", LR: 1e-3,
		Mix: []data.SourceSpec{{Name: "web", TargetRatio: 1}}}
	same := func(what string, got, want []float32, round func(float32) float32) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
		}
		for i := range want {
			if w := round(want[i]); math.Float32bits(got[i]) != math.Float32bits(w) {
				t.Fatalf("%s[%d] = %v, saved %v", what, i, got[i], w)
			}
		}
	}
	exact := func(x float32) float32 { return x }
	bf16 := func(x float32) float32 { // round to nearest even, as the writer does; no NaNs here
		b := math.Float32bits(x)
		return math.Float32frombits((b + 0x7fff + (b>>16)&1) &^ 0xffff)
	}
	for _, dtype := range []string{"F32", "BF16"} {
		t.Run(dtype, func(t *testing.T) {
			run := t.TempDir()
			dir, err := writeCheckpoint(run, b, st, dtype, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			// the former path, from host copies
			old := t.TempDir()
			if err := model.SaveHF(old, cfg, params, safetensors.DType(dtype), 0); err != nil {
				t.Fatal(err)
			}
			if err := safetensors.Write(filepath.Join(old, OptimFile), map[string]string{"opt_step": "4", "layout": "model.Layout order (HF names, flat)"},
				[]safetensors.Tensor{safetensors.FromFloat32("adam_m", "F32", []int{n}, m), safetensors.FromFloat32("adam_v", "F32", []int{n}, v)}); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"config.json", "model.safetensors", OptimFile} {
				got, err1 := os.ReadFile(filepath.Join(dir, f))
				want, err2 := os.ReadFile(filepath.Join(old, f))
				if err1 != nil || err2 != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: %d bytes (%v), the host-copy path wrote %d (%v): not the same bytes", f, len(got), err1, len(want), err2)
				}
			}

			lc, err := loadCheckpoint(dir)
			if err != nil {
				t.Fatal(err)
			}
			if lc.State.OptStep != 4 {
				t.Errorf("opt_step %d, want 4", lc.State.OptStep)
			}
			nb := model.NewCPUBackend(cfg, 1, 8, 1)
			defer nb.Close()
			if err := lc.load(nb, true); err != nil {
				t.Fatal(err)
			}
			lc.Close()
			gp, gm, gv := make([]float32, n), make([]float32, n), make([]float32, n)
			nb.ReadParams(gp)
			if step := nb.ReadOptState(gm, gv); step != 4 {
				t.Errorf("loaded optimizer step %d, want 4", step)
			}
			round := exact
			if dtype == "BF16" {
				round = bf16
			}
			same("params", gp, params, round)
			same("adam_m", gm, m, exact)
			same("adam_v", gv, v, exact)

			optim := filepath.Join(dir, OptimFile)
			fi, err := os.Stat(optim)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(optim, fi.Size()-4); err != nil {
				t.Fatal(err)
			}
			_, err = loadCheckpoint(dir)
			if err == nil || !strings.Contains(err.Error(), optim+": tensor \"adam_v\"") {
				t.Errorf("loading a truncated %s: %v, want an error naming it and adam_v", OptimFile, err)
			}
		})
	}
}

// TestCheckpointRemovesLeftovers: a checkpoint write that a kill interrupted
// leaves its temporary directory (a model's worth of disk); the next
// checkpoint of the run removes it, and the complete checkpoints stay.
func TestCheckpointRemovesLeftovers(t *testing.T) {
	b := model.NewCPUBackend(mustPreset(t, "cpu_xs"), 1, 8, 1)
	defer b.Close()
	st := CheckpointState{Step: 4, Tokens: 1024, TotalTokens: 4096, Phase: "stage1", Mix: []data.SourceSpec{{Name: "web", TargetRatio: 1}}}
	run := t.TempDir()
	if _, err := writeCheckpoint(run, b, st, "F32", 0, nil); err != nil {
		t.Fatal(err)
	}
	// what a writer killed at step 8 (another process) leaves
	dead := filepath.Join(run, CkptDir, ".tmp-step-8-999999999")
	if err := os.MkdirAll(dead, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dead, "model.safetensors.tmp-999999999"), make([]byte, 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	st.Step, st.Tokens = 8, 2048
	if _, err := writeCheckpoint(run, b, st, "F32", 0, nil); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(run, CkptDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"step-4", "step-8"}; !slices.Equal(names, want) {
		t.Errorf("checkpoints/ holds %v, want %v", names, want)
	}
}

// TestCheckpointStreamsInChunks: a checkpoint save (weights, both moments),
// its load back into a backend, and a soup's average of three ingredients
// allocate a few chunks (model.StreamChunk, 4 MiB, and the files' 1 MiB
// buffers), not copies of the model: each stays under a quarter of the
// model's 77 MiB of float32 weights, where the former save held five
// copies (params, m, v, and the copies FromFloat32 made of m and v) and the
// soup two more (the running average and the ingredient read back).
func TestCheckpointStreamsInChunks(t *testing.T) {
	eos := 30
	cfg := model.Config{VocabSize: 8192, HiddenSize: 512, IntermediateSize: 1408, NumHiddenLayers: 4, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, MaxPositionEmbeddings: 64, RopeTheta: 500000, RMSNormEps: 1e-6, InitializerRange: 0.02, EOSTokenID: &eos}
	n := model.NewLayout(cfg).Size()
	modelBytes := 4 * uint64(n)
	b := model.NewCPUBackend(cfg, 1, 8, 1)
	defer b.Close()
	model.InitBackend(b, 1, model.NewStreamBuf(n))
	st := CheckpointState{Step: 4, Tokens: 512, TotalTokens: 1024, Phase: "stage1", LR: 1e-3,
		Mix: []data.SourceSpec{{Name: "web", TargetRatio: 1}}}
	allocated := func(f func()) uint64 {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		f()
		runtime.ReadMemStats(&m1)
		return m1.TotalAlloc - m0.TotalAlloc
	}
	run := t.TempDir()
	var dir string
	var ings []string
	for _, c := range []struct {
		what string
		f    func()
	}{
		{"writeCheckpoint", func() {
			var err error
			if dir, err = writeCheckpoint(run, b, st, "F32", 0, nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"loadCheckpoint + load", func() {
			lc, err := loadCheckpoint(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer lc.Close()
			if err := lc.load(b, true); err != nil {
				t.Fatal(err)
			}
		}},
		{"three ingredients saved", func() {
			for i := range 3 {
				d := filepath.Join(run, fmt.Sprint("ingredient-", i))
				model.InitBackend(b, uint64(i), model.NewStreamBuf(n))
				if err := model.SaveHFFrom(d, b, model.NewStreamBuf(n), "F32", 0); err != nil {
					t.Fatal(err)
				}
				ings = append(ings, d)
			}
		}},
		{"writeSoup + loadWeights", func() {
			soup := filepath.Join(run, "soup")
			if err := writeSoup(soup, cfg, ings); err != nil {
				t.Fatal(err)
			}
			if err := loadWeights(soup, b); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		a := allocated(c.f)
		if c.what == "three ingredients saved" {
			a /= 3
		}
		if a > modelBytes/4 {
			t.Errorf("%s allocated %.1f MiB, the model's weights are %.1f MiB: want at most a quarter", c.what, float64(a)/(1<<20), float64(modelBytes)/(1<<20))
		} else {
			t.Logf("%s: %.1f MiB allocated (weights %.1f MiB)", c.what, float64(a)/(1<<20), float64(modelBytes)/(1<<20))
		}
	}
}

// TestResumeRefusesAnotherModel: a run whose recipe.yaml was edited to
// another model is refused before its checkpoint is streamed into a backend
// of the wrong size, with the checkpoint and the recipe named.
func TestResumeRefusesAnotherModel(t *testing.T) {
	root := t.TempDir()
	if _, err := runToEnd(t, RunParams{Recipe: parseTiny(t), RunsDir: root, Name: "r"}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "r")
	os.Remove(filepath.Join(dir, SummaryFile)) // killed before its summary: resumable
	rp := filepath.Join(dir, RecipeFile)
	b, err := os.ReadFile(rp)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "cpu_xs", "cpu_s", 1)
	if edited == string(b) {
		t.Fatalf("no cpu_xs in %s:\n%s", rp, b)
	}
	if err := os.WriteFile(rp, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = StartRun(context.Background(), RunParams{ResumeDir: dir})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "hidden_size 64 (the recipe's 128)") || !strings.Contains(err.Error(), RecipeFile) {
		t.Fatalf("resume with another model in the recipe: %v, want an InputError naming the recipe", err)
	}
}

// TestCheckpointRewritesAStep: a step's checkpoint written again (its state
// changed since) replaces the old one, on a file system that exchanges two
// directories in one rename and on one that cannot, and leaves nothing
// beside it.
func TestCheckpointRewritesAStep(t *testing.T) {
	b := model.NewCPUBackend(mustPreset(t, "cpu_xs"), 1, 8, 1)
	defer b.Close()
	defer func() { exchangeDirs = exchangeDirsOS }()
	for _, exchange := range []bool{true, false} {
		if !exchange {
			exchangeDirs = func(a, b string) bool { return false }
		}
		run := t.TempDir()
		st := CheckpointState{Step: 4, Tokens: 1024, TotalTokens: 4096, Phase: "stage1", Mix: []data.SourceSpec{{Name: "web", TargetRatio: 1}}}
		if _, err := writeCheckpoint(run, b, st, "F32", 1, nil); err != nil {
			t.Fatal(err)
		}
		st.Phase, st.AnnealStart, st.AnnealTokens, st.AnnealLR0, st.TotalTokens = "anneal", 1024, 1024, 1e-3, 2048
		if _, err := writeCheckpoint(run, b, st, "F32", 1, nil); err != nil {
			t.Fatal(err)
		}
		ck, err := loadCheckpoint(run)
		if err != nil {
			t.Fatal(err)
		}
		ck.Close()
		if ck.State.Phase != "anneal" {
			t.Errorf("exchange %v: the step's checkpoint is of phase %s, want the one written again (anneal)", exchange, ck.State.Phase)
		}
		ents, _ := os.ReadDir(filepath.Join(run, CkptDir))
		if len(ents) != 1 || ents[0].Name() != "step-4" {
			t.Errorf("exchange %v: checkpoints/ holds %v, want step-4 alone", exchange, ents)
		}
	}
}

// TestLeftoverReplacedIsPutBack: where directories cannot be exchanged, a
// step's checkpoint written again moves the old one aside
// (.tmp-step-N-PID.replaced) just before the new one takes its place; a
// process killed between the two renames left the step's only copy there,
// and the cleanup of leftovers removed it. It is put back instead.
func TestLeftoverReplacedIsPutBack(t *testing.T) {
	run := t.TempDir()
	aside := filepath.Join(run, CkptDir, ".tmp-step-12-999999999.replaced")
	if err := os.MkdirAll(aside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(aside, StateFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	RemoveTemporaries(run, os.Getpid())
	if _, err := os.Stat(filepath.Join(run, CkptDir, "step-12", StateFile)); err != nil {
		t.Errorf("the old checkpoint was not put back: %v", err)
	}
	if _, err := os.Stat(aside); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s is still there (%v)", aside, err)
	}
}
