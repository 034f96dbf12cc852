package lab

import (
	"math"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab/data"
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
