package lab

import (
	"math"

	"gonum.org/v1/gonum/stat"
)

// SpikeDetector implements OLMo 2's spike score for one series (loss or grad
// norm; olmo2.md §10): a value is a spike when it lies at least Sigma standard
// deviations (population) from the mean of the previous Window values, and the
// score is the percentage of values that were spikes. It also gives an immediate
// per-step z-score flag (upwards, FlagSigma) so a spike shows the step it happens.
// Nothing is flagged before MinPoints values. Observe allocates nothing.
type SpikeDetector struct {
	spec   SpikeSpec
	window []float64 // ring buffer of the last Window values
	next   int
	full   bool
	n      int64 // values observed
	spikes int64 // values ≥ Sigma·σ from the rolling mean
}

// NewSpikeDetector returns a detector for spec.
func NewSpikeDetector(spec SpikeSpec) *SpikeDetector {
	return &SpikeDetector{spec: spec, window: make([]float64, 0, spec.Window)}
}

// SpikeResult is what one observation found.
type SpikeResult struct {
	Z       float64 // (x − mean)/σ over the previous window; 0 before MinPoints
	Spike   bool    // |Z| ≥ Sigma: counts towards the spike score
	Flagged bool    // Z ≥ FlagSigma: the immediate per-step flag
}

// Observe adds x and reports whether it is a spike relative to the values before
// it. Non-finite values are flagged and not added to the window.
func (s *SpikeDetector) Observe(x float64) SpikeResult {
	var r SpikeResult
	if math.IsNaN(x) || math.IsInf(x, 0) {
		r.Flagged, r.Spike, r.Z = true, true, math.Inf(1)
		s.n++
		s.spikes++
		return r
	}
	if len(s.window) >= max(s.spec.MinPoints, 2) {
		mean, std := stat.PopMeanStdDev(s.window, nil)
		if std > 1e-12 {
			r.Z = (x - mean) / std
			r.Spike = math.Abs(r.Z) >= s.spec.Sigma
			r.Flagged = r.Z >= s.spec.FlagSigma
		}
	}
	s.n++
	if r.Spike {
		s.spikes++
	}
	if len(s.window) < s.spec.Window {
		s.window = append(s.window, x)
	} else {
		s.window[s.next] = x
		s.next = (s.next + 1) % s.spec.Window
	}
	return r
}

// Score is the spike score: spikes as a percentage of the values observed.
func (s *SpikeDetector) Score() float64 {
	if s.n == 0 {
		return 0
	}
	return 100 * float64(s.spikes) / float64(s.n)
}

// SpikeState is a detector's state for checkpoints.
type SpikeState struct {
	Window []float64 `json:"window"` // oldest first
	N      int64     `json:"n"`
	Spikes int64     `json:"spikes"`
}

// State returns the detector's state, window oldest first.
func (s *SpikeDetector) State() SpikeState {
	st := SpikeState{N: s.n, Spikes: s.spikes}
	if len(s.window) < s.spec.Window {
		st.Window = append(st.Window, s.window...)
	} else {
		st.Window = append(append(st.Window, s.window[s.next:]...), s.window[:s.next]...)
	}
	return st
}

// Restore sets the detector to st.
func (s *SpikeDetector) Restore(st SpikeState) {
	s.window = s.window[:0]
	w := st.Window
	if len(w) > s.spec.Window {
		w = w[len(w)-s.spec.Window:]
	}
	s.window = append(s.window, w...)
	s.next = 0
	s.n, s.spikes = st.N, st.Spikes
}
