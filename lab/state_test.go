package lab

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
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

// TestCheckpointLoadRoundTrip: loadCheckpoint, which streams the weights and
// the Adam moments from their files into the run's buffers, gives back
// exactly the bits writeCheckpoint saved (the weights rounded to BF16 for a
// BF16 checkpoint); an optim.safetensors that lost its tail is an error
// naming it.
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
	st := CheckpointState{Step: 4, Tokens: 512, TotalTokens: 1024, Phase: "stage1", LR: 1e-3, OptStep: 4,
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
			dir, err := writeCheckpoint(run, cfg, params, m, v, st, dtype, 0)
			if err != nil {
				t.Fatal(err)
			}
			lc, err := loadCheckpoint(dir)
			if err != nil {
				t.Fatal(err)
			}
			round := exact
			if dtype == "BF16" {
				round = bf16
			}
			same("params", lc.Params, params, round)
			same("adam_m", lc.M, m, exact)
			same("adam_v", lc.V, v, exact)

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
	cfg := mustPreset(t, "cpu_xs")
	n := model.NewLayout(cfg).Size()
	params, m, v := make([]float32, n), make([]float32, n), make([]float32, n)
	st := CheckpointState{Step: 4, Tokens: 1024, TotalTokens: 4096, Phase: "stage1", Mix: []data.SourceSpec{{Name: "web", TargetRatio: 1}}}
	run := t.TempDir()
	if _, err := writeCheckpoint(run, cfg, params, m, v, st, "F32", 0); err != nil {
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
	if _, err := writeCheckpoint(run, cfg, params, m, v, st, "F32", 0); err != nil {
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
