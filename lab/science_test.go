package lab

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestLRScheduleAndAnnealByHand runs the tiny recipe (256 tokens a step, peak 3e-3, 512 warmup tokens, cosine
// to 0.1·peak at max_tokens 5120) with an anneal from 2560 tokens over 1280, and checks every step's LR in
// metrics.jsonl against olmo2.md §7 computed here: the LR of step k is the schedule at the tokens seen after it
// (256k, as the old OLMo trainer counts), so step 1 is half-way up the warmup (1.5e-3) and step 2 at the peak;
// then lr = 0.1p + 0.9p·(1 + cos(π(t − 512)/4608))/2, at step 10 (t = 2560, 80° through the half-turn)
// 3e-4 + 2.7e-3·(1 + cos 80°)/2 = 1.884425e-3. The anneal starts from that LR, where the schedule is, not from
// the peak, and falls linearly to zero: 0.8, 0.6, 0.4, 0.2, 0 of it over steps 11–15, where the run ends.
func TestLRScheduleAndAnnealByHand(t *testing.T) {
	rec := parseTiny(t, "anneal.auto_at=2560", "anneal.tokens=1280", "checkpoint.interval=0")
	root := t.TempDir()
	if _, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: "lr"}); err != nil {
		t.Fatal(err)
	}
	const peak = 3e-3
	want := []float64{1.5e-3}
	for k := 2; k <= 10; k++ {
		p := float64(256*k-512) / 4608
		want = append(want, 0.1*peak+0.9*peak*(1+math.Cos(math.Pi*p))/2)
	}
	if math.Abs(want[9]-1.884425e-3) > 1e-9 {
		t.Fatalf("hand value at step 10: %.9g", want[9])
	}
	lr0 := want[9]
	for j := 1; j <= 5; j++ {
		want = append(want, lr0*(1-float64(256*j)/1280))
	}
	f, err := os.Open(filepath.Join(root, "lr", MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []float64
	var phases []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		got, phases = append(got, e.LR), append(phases, e.Phase)
	}
	if len(got) != len(want) {
		t.Fatalf("%d steps, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("step %d (%s): LR %.9g, want %.9g", i+1, phases[i], got[i], want[i])
		}
	}
	if phases[9] == "anneal" || phases[10] != "anneal" {
		t.Errorf("phases %v: the anneal should start at step 11", phases)
	}
}

// TestSoupAverageByHand: a soup is the uniform mean of its ingredients' weights (olmo2.md §9), here
// ([1, 2, 3] + [4, 5, 6] + [7, 8, 10]) / 3 = [4, 5, 19/3], with averageInto's running mean in float32.
func TestSoupAverageByHand(t *testing.T) {
	avg := make([]float32, 3)
	for i, w := range [][]float32{{1, 2, 3}, {4, 5, 6}, {7, 8, 10}} {
		averageInto(avg, w, i)
	}
	for i, want := range []float32{4, 5, 19.0 / 3} {
		if math.Abs(float64(avg[i]-want)) > 1e-6 {
			t.Errorf("soup[%d] = %v, want %v", i, avg[i], want)
		}
	}
}

// TestSpikeScoreTwoSided: olmo2.md §10's spike score counts values "at least 7 standard deviations away" from
// the rolling mean, either way; the window holds the values before the current one. With a window of 3 and 2σ:
// after 1, 2, 3 (mean 2, population std √(2/3) = 0.8165) the value 0.3 is z = −2.08, a spike though below the
// mean, and not the upward per-step flag; then the window is 2, 3, 0.3 (mean 1.7667, std 1.1146) and 5 is
// z = 2.90, a spike; 2 of 5 values: 40%.
func TestSpikeScoreTwoSided(t *testing.T) {
	d := NewSpikeDetector(SpikeSpec{Window: 3, Sigma: 2, FlagSigma: 10, MinPoints: 3})
	zOf := func(x float64, w ...float64) float64 {
		var s, sq float64
		for _, v := range w {
			s += v
		}
		m := s / float64(len(w))
		for _, v := range w {
			sq += (v - m) * (v - m)
		}
		return (x - m) / math.Sqrt(sq/float64(len(w)))
	}
	for _, x := range []float64{1, 2, 3} {
		d.Observe(x)
	}
	r := d.Observe(0.3)
	if !r.Spike || r.Flagged || math.Abs(r.Z-zOf(0.3, 1, 2, 3)) > 1e-12 || math.Abs(r.Z+2.0821) > 1e-4 {
		t.Errorf("0.3 after 1, 2, 3: %+v, want a spike (z −2.0821), not flagged", r)
	}
	r = d.Observe(5)
	if !r.Spike || math.Abs(r.Z-zOf(5, 2, 3, 0.3)) > 1e-12 {
		t.Errorf("5 after 2, 3, 0.3: %+v, want a spike with z %.4f", r, zOf(5, 2, 3, 0.3))
	}
	if got := d.Score(); got != 40 {
		t.Errorf("score %v%%, want 40%%", got)
	}
}
