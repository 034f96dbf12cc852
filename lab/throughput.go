package lab

import (
	"fmt"
	"math"
	"time"
)

// throughputDecay is the weight of the past in Throughput's moving average:
// about the last 20 steps count (llm.c smooths its tok/s with 0.95 too).
const throughputDecay = 0.95

// Throughput smooths a run's training speed over its recent steps, for the
// tok/s shown while it trains and the time left: one step's speed swings
// (3.6K to 18K tokens/s on a loaded machine), so an estimate from the last
// step's jumps by a factor of five from one line to the next.
//
// It averages the time per token, not the tokens per second: the time left is
// a sum of step times, and a mean of speeds that swing overstates the speed
// (steps at 3.6K and 18K tokens/s take as long as two at 6K, not 10.8K). The
// average is exponential and debiased, so the first steps count at once:
//
//	ema_n = d·ema_{n−1} + (1−d)·(1/tps_n),   s/token = ema_n / (1 − dⁿ)
//
// The zero value is ready to use.
type Throughput struct {
	ema float64 // seconds per token, biased towards 0 for the first steps
	n   int
}

// Add records one step's tokens per second; one that is not positive and
// finite (a step of no measured time) says nothing and is left out.
func (t *Throughput) Add(tokensPerSec float64) {
	if !(tokensPerSec > 0) || math.IsInf(tokensPerSec, 0) {
		return
	}
	t.n++
	t.ema = throughputDecay*t.ema + (1-throughputDecay)/tokensPerSec
}

// TokensPerSec is the smoothed speed, 0 before any step.
func (t *Throughput) TokensPerSec() float64 {
	if t.n == 0 || t.ema <= 0 {
		return 0
	}
	return (1 - math.Pow(throughputDecay, float64(t.n))) / t.ema
}

// Left estimates the time to train tokens more at the smoothed speed; false
// before any step.
func (t *Throughput) Left(tokens int64) (time.Duration, bool) {
	tps := t.TokensPerSec()
	if tps <= 0 {
		return 0, false
	}
	return time.Duration(float64(max(tokens, 0)) / tps * float64(time.Second)), true
}

// HumanDuration writes a duration to the second, in its two largest units:
// 42s, 3m07s, 2h05m, 3d04h; "<1s" for one under a second but not 0 (an
// ETA of "0s" read as done, a step before the end); "–" for a negative one
// or one over 1000 hours (no estimate worth showing).
func HumanDuration(d time.Duration) string {
	if d < 0 || d > 1000*time.Hour {
		return "–"
	}
	s := int64(d.Seconds())
	switch {
	case d > 0 && s == 0:
		return "<1s"
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}
