package olmes

import (
	"math"
	"unicode/utf8"
)

// Log2E converts natural-log likelihoods to bits (oe-eval's LOG_2_OF_E).
const Log2E = 1.44269504089

// ChoiceResult is what a model says about one request: the summed natural-log probability of the continuation
// (oe-eval's sum_logits), the number of continuation tokens, and for acc_uncond the same continuation's
// log-probability after the context "Answer:".
type ChoiceResult struct {
	LogProb       float64
	Tokens        int
	LogProbUncond float64
}

// DocMetrics computes oe-eval's per-doc metrics (MCAccuracy, olmes.md §2) from the results for each choice of
// one doc. With c_i the continuation of choice i (leading space included), ll_i its log-probability:
//
//	acc_raw        argmax_i ll_i                                  = gold → 1 else 0
//	acc_per_token  argmax_i ll_i / max(tokens_i, 1)
//	acc_per_char   argmax_i ll_i / max(runes(c_i), 1)             (Unicode code points)
//	acc_per_byte   argmin_i bpb_i, bpb_i = −log2(e)·ll_i / max(bytes(c_i), 1)
//	acc_uncond     argmax_i ll_i − ll_uncond_i                    (only when uncond is true)
//	sum_logits_corr, logits_per_token_corr, logits_per_char_corr, bits_per_byte_corr: the gold choice's values
//
// Ties go to the first choice, as Python's list.index(max(…)) does. It panics if the lengths differ or gold is
// outside the choices.
func DocMetrics(continuations []string, res []ChoiceResult, gold int, uncond bool) map[string]float64 {
	n := len(continuations)
	if len(res) != n || gold < 0 || gold >= n {
		panic("olmes: DocMetrics: mismatched choices or gold out of range")
	}
	raw := make([]float64, n)
	perTok := make([]float64, n)
	perChar := make([]float64, n)
	bpb := make([]float64, n)
	pmi := make([]float64, n)
	for i, c := range continuations {
		ll := res[i].LogProb
		raw[i] = ll
		perTok[i] = ll / float64(max(res[i].Tokens, 1))
		perChar[i] = ll / float64(max(utf8.RuneCountInString(c), 1))
		bpb[i] = -Log2E * ll / float64(max(len(c), 1))
		pmi[i] = ll - res[i].LogProbUncond
	}
	hit := func(pred int) float64 {
		if pred == gold {
			return 1
		}
		return 0
	}
	m := map[string]float64{
		MetricAccRaw:      hit(argmax(raw)),
		MetricAccPerToken: hit(argmax(perTok)),
		MetricAccPerChar:  hit(argmax(perChar)),
		MetricAccPerByte:  hit(argmin(bpb)),
		MetricLL:          raw[gold],
		MetricLLPerToken:  perTok[gold],
		MetricLLPerChar:   perChar[gold],
		MetricBPB:         bpb[gold],
	}
	if uncond {
		m[MetricAccUncond] = hit(argmax(pmi))
	}
	return m
}

// argmax returns the index of the first maximum (NaN never wins).
func argmax(x []float64) int {
	best := 0
	for i := 1; i < len(x); i++ {
		if x[i] > x[best] || math.IsNaN(x[best]) && !math.IsNaN(x[i]) {
			best = i
		}
	}
	return best
}

// argmin returns the index of the first minimum (NaN never wins).
func argmin(x []float64) int {
	best := 0
	for i := 1; i < len(x); i++ {
		if x[i] < x[best] || math.IsNaN(x[best]) && !math.IsNaN(x[i]) {
			best = i
		}
	}
	return best
}

// MetricNames lists the metrics a Score carries, in display order; acc_uncond only where defined.
var MetricNames = []string{MetricAccRaw, MetricAccPerToken, MetricAccPerChar, MetricAccPerByte, MetricAccUncond,
	MetricBPB, MetricLL, MetricLLPerToken, MetricLLPerChar}

// LMMetricNames are the validation-loss metrics (Formulation LM), in display order.
var LMMetricNames = []string{MetricCELoss, MetricBitsPerByte}

// LowerIsBetter reports whether smaller values of the metric are better (bits per byte, losses).
func LowerIsBetter(metric string) bool {
	return metric == MetricBPB || metric == MetricCELoss || metric == MetricBitsPerByte
}

// aggregate averages per-doc metrics: the plain mean over docs, or with macro the mean over subtasks of each
// subtask's mean (MMLU). It also returns the per-subtask means when there are several subtasks.
func aggregate(docs []map[string]float64, subtasks []string, macro bool) (map[string]float64, map[string]map[string]float64) {
	type acc struct {
		sum map[string]float64
		n   map[string]int
	}
	add := func(a *acc, m map[string]float64) {
		for k, v := range m {
			a.sum[k] += v
			a.n[k]++
		}
	}
	mean := func(a *acc) map[string]float64 {
		out := map[string]float64{}
		for k, s := range a.sum {
			out[k] = s / float64(a.n[k])
		}
		return out
	}
	all := &acc{map[string]float64{}, map[string]int{}}
	per := map[string]*acc{}
	var order []string
	for i, m := range docs {
		add(all, m)
		s := subtasks[i]
		if per[s] == nil {
			per[s] = &acc{map[string]float64{}, map[string]int{}}
			order = append(order, s)
		}
		add(per[s], m)
	}
	var subs map[string]map[string]float64
	if len(per) > 1 {
		subs = map[string]map[string]float64{}
		for s, a := range per {
			subs[s] = mean(a)
		}
	}
	if !macro || len(per) <= 1 {
		return mean(all), subs
	}
	out := map[string]float64{}
	cnt := map[string]int{}
	for _, s := range order {
		for k, v := range subs[s] {
			out[k] += v
			cnt[k]++
		}
	}
	for k := range out {
		out[k] /= float64(cnt[k])
	}
	return out, subs
}
