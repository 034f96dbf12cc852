package lab_test

import (
	"os"

	"github.com/olmolab/olmolab/lab"
)

// The end-of-run table, with the tokens each source gave (whole run, most
// first) to check the mixture against its target ratios. The final loss is
// a mean, and says of what: it read "first 7.6351 → final 4.0398 (min
// 3.6641)" for a run whose loss fell every step to 3.6641 at its last. The speed is the
// training steps' and the seconds the whole run's (evaluations and
// checkpoints too): the line said "1289 tokens/s, MFU 26.8%, 35 s", which
// read as 41.0K tokens in 35 s at 1289 tokens/s.
func ExamplePrintSummary() {
	lab.PrintSummary(os.Stdout, lab.RunSummary{
		Run: "mix", Dir: "runs/mix", State: "finished", Steps: 40, Tokens: 40960,
		FirstLoss: 11.54, FinalLoss: 5.33, MinLoss: 5.11, TokensPerSec: 1289, MFU: 0.268, Seconds: 35,
		Sources: map[string]int64{"web": 12288, "docs": 8192, "tok": 8192, "deep": 8192, "plain": 4096, "unused": 0},
	})
	// Output:
	// run             mix (finished)
	// directory       runs/mix
	// steps / tokens  40 / 41.0K
	// loss            first 11.5400 → final 5.3300 (mean of the last 10 steps; min 5.1100)
	// data            web 12.3K (30.0%), deep 8192 (20.0%), docs 8192 (20.0%), tok 8192 (20.0%), plain 4096 (10.0%)
	// spike score     loss 0.00%, grad norm 0.00%
	// speed           1289 tokens/s, MFU 26.8% in training steps; 35 s wall-clock in all
}

// A run on a backend whose peak is not known (a GPU backend) has no MFU,
// and the speed line says none: it said "MFU 0.0%".
func ExamplePrintSummary_noPeak() {
	lab.PrintSummary(os.Stdout, lab.RunSummary{
		Run: "gpu", Dir: "runs/gpu", State: "finished", Steps: 4, Tokens: 1024,
		FirstLoss: 7.6, FinalLoss: 6.6, MinLoss: 6.6, TokensPerSec: 25, Seconds: 92,
	})
	// Output:
	// run             gpu (finished)
	// directory       runs/gpu
	// steps / tokens  4 / 1024
	// loss            first 7.6000 → final 6.6000 (mean of its 4 steps; min 6.6000)
	// spike score     loss 0.00%, grad norm 0.00%
	// speed           25 tokens/s in training steps; 92 s wall-clock in all
}
