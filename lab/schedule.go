package lab

import (
	"fmt"
	"math"
)

// Schedule is the stage-1 learning-rate schedule in tokens (olmo2.md §7). The LR
// of a step is evaluated at the tokens seen after that step, as the old OLMo
// trainer does.
type Schedule struct {
	Kind          string  // cosine, linear, wsd, constant
	WarmupTokens  int64   // linear warmup from WarmupMinLR to the peak
	AlphaF        float64 // final LR as a fraction of the peak (cosine, linear, wsd)
	MaxTokens     int64   // t_max: where the decay ends; 0 means the run's max_tokens
	DecayFraction float64 // wsd: share of t_max spent decaying (0 means 0.2)
	WarmupMinLR   float64
}

func (s Schedule) validate() error {
	switch s.Kind {
	case "cosine", "cosine_with_warmup", "linear", "linear_with_warmup", "wsd", "constant", "constant_with_warmup":
	default:
		return fmt.Errorf("unknown schedule %q (want cosine, linear, wsd or constant)", s.Kind)
	}
	if s.AlphaF < 0 || s.AlphaF > 1 {
		return fmt.Errorf("alpha_f %v must be in [0, 1]", s.AlphaF)
	}
	if s.DecayFraction < 0 || s.DecayFraction > 1 {
		return fmt.Errorf("decay_fraction %v must be in [0, 1]", s.DecayFraction)
	}
	return nil
}

// LR returns the learning rate after `tokens` tokens for a peak LR; runMax is the
// run's max_tokens (used when the schedule names no t_max).
func (s Schedule) LR(peak float64, tokens, runMax int64) float64 {
	t := float64(tokens)
	w := float64(s.WarmupTokens)
	if t < w {
		return s.WarmupMinLR + (peak-s.WarmupMinLR)*t/w
	}
	T := float64(s.MaxTokens)
	if T == 0 {
		T = float64(runMax)
	}
	min := s.AlphaF * peak
	if T <= w {
		return peak
	}
	p := math.Min(1, (t-w)/(T-w))
	switch s.Kind {
	case "cosine", "cosine_with_warmup":
		return min + (peak-min)*(1+math.Cos(math.Pi*p))/2
	case "linear", "linear_with_warmup":
		return peak - (peak-min)*p
	case "wsd":
		frac := s.DecayFraction
		if frac == 0 {
			frac = 0.2
		}
		start := T - frac*T
		if t <= start || frac*T == 0 {
			return peak
		}
		return peak - (peak-min)*math.Min(1, (t-start)/(T-start))
	}
	return peak // constant
}

// AnnealLR is OLMo 2's stage-2 schedule: from lr0 linearly to zero over n tokens,
// no warmup (olmo2.md §7); `done` tokens into the anneal.
func AnnealLR(lr0 float64, done, n int64) float64 {
	if n <= 0 {
		return 0
	}
	return lr0 * math.Max(0, 1-float64(done)/float64(n))
}
