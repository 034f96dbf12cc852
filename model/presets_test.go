package model

import "testing"

// The olmo2.md §4 table: total and non-embedding parameters with V = 100352.
func TestPresetParamCounts(t *testing.T) {
	want := map[string][2]int64{
		"olmo2_1M":    {2448620, 40172},
		"olmo2_14M":   {26740864, 1050752},
		"olmo2_30M":   {54792448, 3412224},
		"olmo2_60M":   {95957376, 18887040},
		"olmo2_100M":  {153117184, 50356736},
		"olmo2_190M":  {267424512, 113283840},
		"olmo2_370M":  {474022912, 268502016},
		"olmo2_600M":  {732255552, 462509376},
		"olmo2_760M":  {912360960, 604079616},
		"olmo2_1B":    {1619150848, 1208109056},
		"olmo2_1B_v2": {1484916736, 1073874944},
		"olmo2_3B":    {3503508736, 2835565824},
		"olmo2_7B":    {7298617344, 6476533760},
		"olmo2_13B":   {13716198400, 12688593920},
		"olmo2_32B":   {32234279936, 31206675456},
	}
	seen := 0
	for _, p := range Presets() {
		if err := p.Config.Validate(); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
		w, ok := want[p.Name]
		if !ok {
			continue
		}
		seen++
		if got := p.Config.NumParams(); got != w[0] {
			t.Errorf("%s: total params %d, want %d", p.Name, got, w[0])
		}
		if got := p.Config.NumNonEmbeddingParams(); got != w[1] {
			t.Errorf("%s: non-embedding params %d, want %d", p.Name, got, w[1])
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d OLMo-core presets", seen, len(want))
	}
}

// FLOPs per token: perf.md §2.2 derives 47.8 GFLOP/token for the 7B at seq 4096.
func TestFLOPsPerToken(t *testing.T) {
	c, _ := PresetByName("olmo2_7B")
	got := c.FLOPsPerToken(4096)
	want := 6*(6476533760.0+4096*100352) + 12*32*4096*4096.0
	if got != want || got < 47.7e9 || got > 47.9e9 {
		t.Errorf("7B FLOPs/token = %.4g, want %.4g (≈47.8e9)", got, want)
	}
}
