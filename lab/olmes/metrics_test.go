package olmes

import (
	"math"
	"testing"
)

// TestDocMetricsWorkedExample is olmes.md §2.1: an ARC-Easy-like doc, gold = D. acc_raw picks A (wrong); the
// normalised accuracies and acc_uncond pick D; bits_per_byte_corr = 0.6091.
func TestDocMetricsWorkedExample(t *testing.T) {
	conts := []string{" cause the charge to build.", " increase and decrease the voltage.",
		" cause the current to change direction.", " stop and start the flow of current."}
	res := []ChoiceResult{
		{LogProb: -14.0, Tokens: 6, LogProbUncond: -16.0},
		{LogProb: -19.5, Tokens: 6, LogProbUncond: -22.0},
		{LogProb: -20.1, Tokens: 7, LogProbUncond: -21.0},
		{LogProb: -15.2, Tokens: 8, LogProbUncond: -19.0},
	}
	m := DocMetrics(conts, res, 3, true)
	want := map[string]float64{
		MetricAccRaw: 0, MetricAccPerToken: 1, MetricAccPerChar: 1, MetricAccPerByte: 1, MetricAccUncond: 1,
		MetricBPB:        Log2E * 15.2 / 36, // 0.6091
		MetricLL:         -15.2,
		MetricLLPerToken: -1.9,
		MetricLLPerChar:  -15.2 / 36,
	}
	for k, v := range want {
		if math.Abs(m[k]-v) > 1e-12 {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if math.Abs(m[MetricBPB]-0.6091) > 5e-5 {
		t.Errorf("bits_per_byte_corr = %.5f, olmes.md says 0.6091", m[MetricBPB])
	}
	if len(m) != len(want) {
		t.Errorf("got %d metrics, want %d: %v", len(m), len(want), m)
	}
}

// TestDocMetrics covers ties (first choice wins, for bpb the first minimum), characters versus bytes, token
// counts of zero and the absence of acc_uncond.
func TestDocMetrics(t *testing.T) {
	for _, tc := range []struct {
		name  string
		conts []string
		res   []ChoiceResult
		gold  int
		want  map[string]float64
	}{
		{
			name:  "tie goes to the first choice",
			conts: []string{" a", " b"},
			res:   []ChoiceResult{{LogProb: -1, Tokens: 1}, {LogProb: -1, Tokens: 1}},
			gold:  1,
			want:  map[string]float64{MetricAccRaw: 0, MetricAccPerToken: 0, MetricAccPerChar: 0, MetricAccPerByte: 0},
		},
		{
			name:  "tie, gold first",
			conts: []string{" a", " b"},
			res:   []ChoiceResult{{LogProb: -1, Tokens: 1}, {LogProb: -1, Tokens: 1}},
			gold:  0,
			want:  map[string]float64{MetricAccRaw: 1, MetricAccPerToken: 1, MetricAccPerChar: 1, MetricAccPerByte: 1},
		},
		{
			// " é" is 2 code points but 3 bytes; " ab" is 3 and 3. ll −2.5 vs −3: raw and per token (−1.25 vs
			// −3) pick " é"; per char −1.25 vs −1 picks " ab"; per byte 2.5/3 vs 3/3 picks " é".
			name:  "code points versus bytes",
			conts: []string{" é", " ab"},
			res:   []ChoiceResult{{LogProb: -2.5, Tokens: 2}, {LogProb: -3, Tokens: 1}},
			gold:  0,
			want: map[string]float64{MetricAccRaw: 1, MetricAccPerToken: 1, MetricAccPerChar: 0, MetricAccPerByte: 1,
				MetricBPB: Log2E * 2.5 / 3, MetricLLPerChar: -1.25, MetricLLPerToken: -1.25},
		},
		{
			name:  "zero tokens count as one",
			conts: []string{"", " x"},
			res:   []ChoiceResult{{LogProb: -4, Tokens: 0}, {LogProb: -6, Tokens: 2}},
			gold:  1,
			want: map[string]float64{MetricAccRaw: 0, MetricAccPerToken: 1, MetricLLPerToken: -3,
				MetricBPB: Log2E * 6 / 2, MetricLLPerChar: -3},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := DocMetrics(tc.conts, tc.res, tc.gold, false)
			for k, v := range tc.want {
				if math.Abs(m[k]-v) > 1e-12 {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
			if _, ok := m[MetricAccUncond]; ok {
				t.Error("acc_uncond present without unconditional requests")
			}
		})
	}
}

// TestAggregateMacro checks MMLU's macro average: subject means averaged with equal weight, against the
// pooled mean over docs.
func TestAggregateMacro(t *testing.T) {
	docs := []map[string]float64{{"a": 1}, {"a": 0}, {"a": 1}, {"a": 1}} // subject x: 1/2; subject y: 2/2
	subs := []string{"x", "x", "y", "y"}
	m, per := aggregate(docs, subs, true)
	if m["a"] != 0.75 { // (0.5 + 1) / 2
		t.Errorf("macro = %v, want 0.75", m["a"])
	}
	if per["x"]["a"] != 0.5 || per["y"]["a"] != 1 {
		t.Errorf("per subtask = %v", per)
	}
	docs = append(docs, map[string]float64{"a": 1}) // y gets a third doc: macro (0.5+1)/2, pooled 4/5
	subs = append(subs, "y")
	if m, _ := aggregate(docs, subs, true); m["a"] != 0.75 {
		t.Errorf("macro = %v, want 0.75", m["a"])
	}
	if m, _ := aggregate(docs, subs, false); m["a"] != 0.8 {
		t.Errorf("pooled = %v, want 0.8", m["a"])
	}
}
