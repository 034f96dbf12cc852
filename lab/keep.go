package lab

import (
	"os"
	"path/filepath"
	"slices"
)

// pruneCheckpoints removes the oldest of runDir's checkpoints beyond the
// newest keep (0: keeps all), except those in kept, the latest before
// each flagged spike: the rotation would otherwise remove the checkpoint a
// person rewinds to once the run has written keep more after the spike.
func pruneCheckpoints(runDir string, keep int, kept []int64) {
	if keep <= 0 {
		return
	}
	steps, _ := listCheckpoints(runDir)
	for _, s := range steps[:max(len(steps)-keep, 0)] {
		if !slices.Contains(kept, s) {
			os.RemoveAll(filepath.Join(runDir, CkptDir, checkpointName(s)))
		}
	}
}

// keepBeforeSpike marks the run's latest checkpoint before the step just
// trained, which flagged a spike, as one checkpoint.keep keeps (state.json's
// kept_before_spikes, carried by every later checkpoint).
func (r *Run) keepBeforeSpike() {
	steps, _ := listCheckpoints(r.Dir)
	for i := len(steps) - 1; i >= 0; i-- {
		if s := steps[i]; s < r.st.Step {
			if !slices.Contains(r.st.KeptBeforeSpikes, s) {
				r.st.KeptBeforeSpikes = append(slices.Clip(r.st.KeptBeforeSpikes), s)
			}
			return
		}
	}
}
