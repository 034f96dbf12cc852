package olmes_test

import (
	"fmt"
	"os"

	"github.com/olmolab/olmolab/lab/olmes"
)

// OLMES picks its 1000-instance subsets with Python's random.Random(1234).sample; PIQA's validation split has
// 1838 docs.
func ExamplePyRandom_Sample() {
	fmt.Println(olmes.NewPyRandom(1234).Sample(1838, 1000)[:8])
	// Output: [1593 902 239 15 185 1652 1192 71]
}

// olmes.md §2.1: raw log-likelihood prefers the short wrong answer; length normalisation and PMI find the gold.
func ExampleDocMetrics() {
	conts := []string{" cause the charge to build.", " increase and decrease the voltage.",
		" cause the current to change direction.", " stop and start the flow of current."}
	res := []olmes.ChoiceResult{
		{LogProb: -14.0, Tokens: 6, LogProbUncond: -16.0},
		{LogProb: -19.5, Tokens: 6, LogProbUncond: -22.0},
		{LogProb: -20.1, Tokens: 7, LogProbUncond: -21.0},
		{LogProb: -15.2, Tokens: 8, LogProbUncond: -19.0},
	}
	m := olmes.DocMetrics(conts, res, 3, true)
	for _, k := range []string{"acc_raw", "acc_per_token", "acc_per_char", "acc_uncond", "bits_per_byte_corr"} {
		fmt.Printf("%s %.4f\n", k, m[k])
	}
	// Output:
	// acc_raw 0.0000
	// acc_per_token 1.0000
	// acc_per_char 1.0000
	// acc_uncond 1.0000
	// bits_per_byte_corr 0.6091
}

// olmes.md §4.2: five recipes' final accuracies against one run's last five checkpoints.
func ExampleSignal() {
	finals := []float64{0.50, 0.52, 0.55, 0.58, 0.60}
	lastFive := []float64{0.545, 0.552, 0.548, 0.556, 0.549}
	signal, noise := olmes.Signal(finals), olmes.RelStd(lastFive)
	fmt.Printf("signal %.4f noise %.6f SNR %.2f\n", signal, noise, signal/noise)
	// Output: signal 0.1818 noise 0.006803 SNR 26.73
}

// olmes.md §4.3: only the second and third recipes swap between the small and the target scale.
func ExampleDecisionAccuracy() {
	fmt.Printf("%.3f\n", olmes.DecisionAccuracy([]float64{0.40, 0.45, 0.43, 0.50}, []float64{0.60, 0.66, 0.68, 0.70}))
	// Output: 0.833
}

// Requests are written as oe-eval writes them (Python's json.dumps), so dumps diff line for line.
func ExampleWriteRequestsJSONL() {
	r := olmes.Request{
		Doc:          olmes.Doc{{Key: "id", Value: "x1"}, {Key: "query", Value: "Question: Où?\nAnswer:"}, {Key: "choices", Value: []string{"ici", "là"}}, {Key: "gold", Value: 1}},
		Context:      "Question: Où?\nAnswer:",
		Continuation: " là",
		Idx:          1,
		TaskName:     "demo",
		NativeID:     "x1",
		Label:        1,
	}
	olmes.WriteRequestsJSONL(os.Stdout, []olmes.Request{r})
	// Output: {"request_type": "loglikelihood", "doc": {"id": "x1", "query": "Question: O\u00f9?\nAnswer:", "choices": ["ici", "l\u00e0"], "gold": 1}, "request": {"context": "Question: O\u00f9?\nAnswer:", "continuation": " l\u00e0"}, "idx": 1, "task_name": "demo", "doc_id": 0, "native_id": "x1", "label": 1}
}
