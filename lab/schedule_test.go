package lab

import (
	"math"
	"testing"
)

func TestScheduleLR(t *testing.T) {
	const peak = 1e-3
	for _, tc := range []struct {
		name   string
		s      Schedule
		tokens int64
		max    int64
		want   float64
	}{
		{"warmup start", Schedule{Kind: "cosine", WarmupTokens: 100, AlphaF: 0.1}, 0, 1000, 0},
		{"warmup half", Schedule{Kind: "cosine", WarmupTokens: 100, AlphaF: 0.1}, 50, 1000, 5e-4},
		{"warmup from min lr", Schedule{Kind: "cosine", WarmupTokens: 100, WarmupMinLR: 1e-4}, 50, 1000, 5.5e-4},
		{"cosine peak", Schedule{Kind: "cosine", WarmupTokens: 100, AlphaF: 0.1}, 100, 1000, 1e-3},
		// halfway through the decay: min + (peak-min)/2 = 1e-4 + 4.5e-4
		{"cosine middle", Schedule{Kind: "cosine", WarmupTokens: 100, AlphaF: 0.1}, 550, 1000, 5.5e-4},
		{"cosine end", Schedule{Kind: "cosine", WarmupTokens: 100, AlphaF: 0.1}, 1000, 1000, 1e-4},
		{"cosine past end", Schedule{Kind: "cosine", WarmupTokens: 100, AlphaF: 0.1}, 5000, 1000, 1e-4},
		// t_max overrides the run length: a quarter of the way, (1+cos(π/4))/2 = 0.853553
		{"cosine t_max", Schedule{Kind: "cosine", AlphaF: 0, MaxTokens: 400}, 100, 1000, 1e-3 * 0.8535533905932737},
		{"linear quarter", Schedule{Kind: "linear", AlphaF: 0}, 250, 1000, 7.5e-4},
		{"linear alpha", Schedule{Kind: "linear", AlphaF: 0.5}, 500, 1000, 7.5e-4},
		{"wsd stable", Schedule{Kind: "wsd", DecayFraction: 0.2}, 799, 1000, 1e-3},
		{"wsd decay half", Schedule{Kind: "wsd", DecayFraction: 0.2}, 900, 1000, 5e-4},
		{"wsd end", Schedule{Kind: "wsd", DecayFraction: 0.2}, 1000, 1000, 0},
		{"constant", Schedule{Kind: "constant", WarmupTokens: 10}, 700, 1000, 1e-3},
	} {
		if got := tc.s.LR(peak, tc.tokens, tc.max); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("%s: LR = %.10g, want %.10g", tc.name, got, tc.want)
		}
	}
}

func TestAnnealLR(t *testing.T) {
	for _, tc := range []struct {
		lr0     float64
		done, n int64
		want    float64
	}{
		{6.1499e-5, 0, 100, 6.1499e-5}, // OLMo 2 7B stage 2 starts at the stage-1 final LR
		{6e-5, 25, 100, 4.5e-5},
		{6e-5, 100, 100, 0},
		{6e-5, 150, 100, 0},
		{6e-5, 10, 0, 0},
	} {
		if got := AnnealLR(tc.lr0, tc.done, tc.n); math.Abs(got-tc.want) > 1e-18 {
			t.Errorf("AnnealLR(%g, %d, %d) = %g, want %g", tc.lr0, tc.done, tc.n, got, tc.want)
		}
	}
}

func TestSpikeDetector(t *testing.T) {
	spec := SpikeSpec{Window: 4, Sigma: 7, FlagSigma: 3, MinPoints: 4}
	d := NewSpikeDetector(spec)
	// window 1,2,1,2: mean 1.5, population std 0.5
	for _, x := range []float64{1, 2, 1, 2} {
		if r := d.Observe(x); r.Spike || r.Flagged {
			t.Fatalf("flagged %v before the window filled", x)
		}
	}
	r := d.Observe(3) // z = (3-1.5)/0.5 = 3: flagged, not a 7σ spike
	if r.Z != 3 || !r.Flagged || r.Spike {
		t.Errorf("x=3: %+v, want z 3, flagged, no spike", r)
	}
	// window is now 2,1,2,3: mean 2, std sqrt(0.5); 2 + 7·0.70710678 = 6.9497
	r = d.Observe(7)
	if !r.Spike || math.Abs(r.Z-5/math.Sqrt(0.5)) > 1e-12 {
		t.Errorf("x=7: %+v, want a spike with z %.6f", r, 5/math.Sqrt(0.5))
	}
	// 1 spike in 6 values: 16.67%
	if got := d.Score(); math.Abs(got-100.0/6) > 1e-12 {
		t.Errorf("score %.4f, want %.4f", got, 100.0/6)
	}
	// a non-finite value is a spike and stays out of the window
	if r := d.Observe(math.NaN()); !r.Spike {
		t.Error("NaN not counted as a spike")
	}
	st := d.State()
	d2 := NewSpikeDetector(spec)
	d2.Restore(st)
	if a, b := d.Observe(2.5), d2.Observe(2.5); a != b || d.Score() != d2.Score() {
		t.Errorf("restored detector differs: %+v vs %+v", a, b)
	}
}

func TestMFU(t *testing.T) {
	// olmo2_7B at seq 4096: 47.77e9 FLOPs/token; 10,000 tokens/s on a 989 TFLOP/s
	// H100 is 48.3% (perf.md §2.2 reports ~48%).
	cfg := mustPreset(t, "olmo2_7B")
	got := MFU(cfg, 4096, 10000, 989e12)
	want := 10000 * (6*(6476533760.0+4096*100352) + 12*32*4096*4096.0) / 989e12
	if math.Abs(got-want) > 1e-12 || got < 0.48 || got > 0.49 {
		t.Errorf("MFU = %.6f, want %.6f", got, want)
	}
	if MFU(cfg, 4096, 1, 0) != 0 {
		t.Error("MFU with no peak should be 0")
	}
}
