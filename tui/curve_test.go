package tui

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestCurveColumns: a curve gives back the points added to it (values at
// float32 precision), and its best loss, through appends, resumes (dropAfter)
// and batch-size changes, against a plain slice of points.
func TestCurveColumns(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, lossOnly := range []bool{false, true} {
		c := curve{lossOnly: lossOnly}
		var want []stepPoint
		step, tokens, batch := int64(0), int64(0), int64(256)
		for range 5000 {
			switch r := rng.IntN(100); {
			case r < 2 && len(want) > 0: // a resume from an earlier checkpoint
				step = want[rng.IntN(len(want))].Step - int64(rng.IntN(3))
				c.dropAfter(step)
				for len(want) > 0 && want[len(want)-1].Step > step {
					want = want[:len(want)-1]
				}
				tokens = 0
				if len(want) > 0 {
					tokens = want[len(want)-1].Tokens
				}
			case r < 4:
				batch = int64(1 + rng.IntN(1000))
			}
			step++
			tokens += batch
			p := stepPoint{Step: step, Tokens: tokens, Loss: rng.Float64() * 10, Grad: rng.Float64(), LR: rng.Float64() * 1e-3, Skipped: rng.IntN(50) == 0}
			if p.Skipped {
				p.Loss = math.NaN()
			}
			c.add(p)
			want = append(want, p)
			if rng.IntN(20) == 0 { // bestLoss scans only what came since its last call: it must match a full scan
				best := math.NaN()
				for _, w := range want {
					if l := float64(float32(w.Loss)); !w.Skipped && (math.IsNaN(best) || l < best) {
						best = l
					}
				}
				if got := c.bestLoss(); got != best && !(math.IsNaN(got) && math.IsNaN(best)) {
					t.Fatalf("lossOnly %v, %d points: bestLoss %v, want %v", lossOnly, len(want), got, best)
				}
			}
		}
		if c.len() != len(want) {
			t.Fatalf("lossOnly %v: %d points, want %d", lossOnly, c.len(), len(want))
		}
		f32 := func(v float64) float64 { return float64(float32(v)) }
		for i, w := range want {
			w.Loss = f32(w.Loss)
			w.Grad, w.LR = f32(w.Grad), f32(w.LR)
			if lossOnly {
				w.Grad, w.LR = 0, 0
			}
			got := c.at(i)
			if got.Step != w.Step || got.Tokens != w.Tokens || got.Skipped != w.Skipped || got.Grad != w.Grad || got.LR != w.LR ||
				!(got.Loss == w.Loss || math.IsNaN(got.Loss) && math.IsNaN(w.Loss)) {
				t.Fatalf("lossOnly %v: point %d is %+v, want %+v", lossOnly, i, got, w)
			}
		}
		for _, byTokens := range []bool{false, true} {
			xs, _ := c.series(byTokens, chartLoss)
			for i, w := range want {
				x := w.Step
				if byTokens {
					x = w.Tokens
				}
				if xs[i] != float64(x) {
					t.Fatalf("series(byTokens %v) x[%d] = %v, want %d", byTokens, i, xs[i], x)
				}
			}
		}
	}
}

// TestCurveMemory bounds what a curve holds per step: 48 bytes as a slice of
// points (48 MB for a million-step run, and as much again per run in the
// runs view's overlay); now 12 bytes and a bit, 4 for an overlay's loss-only
// curve, with append's spare capacity on top.
func TestCurveMemory(t *testing.T) {
	const n = 200000
	for _, tc := range []struct {
		lossOnly bool
		max      float64 // bytes a step
	}{{false, 16}, {true, 6}} {
		before := inUse()
		c := &curve{lossOnly: tc.lossOnly}
		for s := int64(1); s <= n; s++ {
			c.add(stepPoint{Step: s, Tokens: s << 20, Loss: 2 + 8/float64(s), Grad: 0.3, LR: 3e-4})
		}
		per := float64(int64(inUse())-int64(before)) / n
		runtime.KeepAlive(c)
		if per > tc.max {
			t.Errorf("lossOnly %v: %.1f bytes a step, want at most %.0f", tc.lossOnly, per, tc.max)
		}
	}
}

func inUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkCurve1M adds a million steps to a curve and draws its loss chart
// at 120 columns (the dashboard's reduction, without the rendering).
func BenchmarkCurve1M(b *testing.B) {
	const n = 1000000
	b.ReportAllocs()
	for b.Loop() {
		before := inUse()
		c := &curve{}
		for s := int64(1); s <= n; s++ {
			c.add(stepPoint{Step: s, Tokens: s << 20, Loss: 2 + 8/float64(s), Grad: 0.3, LR: 3e-4})
		}
		b.ReportMetric(float64(inUse()-before)/n, "B/step")
		xs, ys := c.series(false, chartLoss)
		lo, _, _ := bucketize(xs, ys, xs[0], xs[n-1], 120)
		if math.IsNaN(lo[0]) {
			b.Fatal("empty first column")
		}
	}
}
