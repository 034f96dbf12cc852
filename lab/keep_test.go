package lab

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestKeepHoldsTheCheckpointBeforeASpike: with checkpoint.keep 1, the run
// ends with its last checkpoint and, for each flagged spike, the latest
// checkpoint written before it: the rotation removed those, so a rewind
// past the spike had nothing to go back to.
func TestKeepHoldsTheCheckpointBeforeASpike(t *testing.T) {
	root := t.TempDir()
	// a flag at 0.5σ over a 3-step window: the grad norm's ups are flagged
	rec := parseTiny(t, "checkpoint.interval=2", "checkpoint.keep=1", "spikes.window=3", "spikes.min_points=3", "spikes.flag_sigma=0.5")
	dir := filepath.Join(root, "spiky")
	if _, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "spiky"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{20}
	var spikes []int64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e Event
		if json.Unmarshal([]byte(line), &e) != nil || e.Type != EvSpike {
			continue
		}
		spikes = append(spikes, e.Step)
		// the latest checkpoint before it: the last even step before it
		if p := (e.Step - 1) / 2 * 2; p > 0 && !slices.Contains(want, p) {
			want = append(want, p)
		}
	}
	slices.Sort(want)
	if len(want) < 2 || want[0] >= 18 {
		t.Fatalf("spikes flagged at steps %v: the recipe no longer flags one before step 19, so the test shows nothing", spikes)
	}
	got, _ := listCheckpoints(dir)
	if !slices.Equal(got, want) {
		t.Errorf("checkpoints %v, want %v (the last, and the latest before each of the spikes at %v)", got, want, spikes)
	}
	if st := readState(t, filepath.Join(dir, CkptDir, "step-20")); !slices.Equal(st.KeptBeforeSpikes, want[:len(want)-1]) {
		t.Errorf("state.json kept_before_spikes %v, want %v", st.KeptBeforeSpikes, want[:len(want)-1])
	}
	t.Logf("spikes at %v; checkpoints kept %v", spikes, got)
}

// readState reads a checkpoint's state.json.
func readState(t *testing.T, ckpt string) CheckpointState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ckpt, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	var st CheckpointState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}
