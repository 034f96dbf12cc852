// Command benchtrain times olmolab's CPU training step (forward, backward, grad
// norm, clipping, AdamW) on an inline OLMo 2 model shape and prints one final
// line on stdout,
//
//	tokens_per_s=<float> step_ms=<float> params=<int>
//
// in the format of ../shared/bench/torch_bench.py, so that
// scripts/bench-vs-torch.sh can run the two side by side. The settings match
// that script's: untied lm_head, z-loss 1e-5, AdamW (lr 4e-4, β 0.9/0.95,
// weight decay 0.1 except the embedding), clipping at 1.0, uniformly random
// tokens drawn fresh every step; tokens_per_s = batch·seq / the mean (or
// median) step time over --steps timed steps after --warmup untimed ones;
// params counts every trainable parameter, embeddings included.
//
//	go run ./scripts/benchtrain --vocab 8192 --d-model 512 --layers 8 --heads 8 --mlp 1408 --seq 256 --batch 4 --threads 2
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/olmolab/olmolab/model"
	"github.com/olmolab/olmolab/model/gemm"
)

func main() {
	vocab := flag.Int("vocab", 256, "vocabulary size")
	d := flag.Int("d-model", 128, "hidden size")
	layers := flag.Int("layers", 4, "decoder layers")
	heads := flag.Int("heads", 4, "attention heads")
	kvHeads := flag.Int("kv-heads", 0, "key/value heads (0: = heads)")
	mlp := flag.Int("mlp", 384, "SwiGLU hidden size")
	seq := flag.Int("seq", 128, "sequence length T")
	batch := flag.Int("batch", 8, "sequences per step B")
	steps := flag.Int("steps", 20, "timed steps")
	warmup := flag.Int("warmup", 3, "untimed warm-up steps")
	threads := flag.Int("threads", 0, "threads (GOMAXPROCS; 0: leave it)")
	stat := flag.String("stat", "mean", "step time statistic: mean or median")
	seed := flag.Uint64("seed", 0, "initialisation and data seed")
	lr := flag.Float64("lr", 4e-4, "learning rate")
	flag.Parse()
	if *kvHeads == 0 {
		*kvHeads = *heads
	}
	if *stat != "mean" && *stat != "median" || *steps < 1 || *warmup < 0 {
		fmt.Fprintln(os.Stderr, "benchtrain: need --steps ≥ 1, --warmup ≥ 0, --stat mean|median")
		os.Exit(2)
	}
	if *threads > 0 {
		runtime.GOMAXPROCS(*threads)
	}
	cfg := model.Config{VocabSize: *vocab, HiddenSize: *d, IntermediateSize: *mlp, NumHiddenLayers: *layers,
		NumAttentionHeads: *heads, NumKeyValueHeads: *kvHeads, MaxPositionEmbeddings: *seq,
		RopeTheta: 500000, RMSNormEps: 1e-6, InitializerRange: 0.02}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "benchtrain:", err)
		os.Exit(2)
	}
	tr := model.NewTrainer(model.TrainerParams{Config: cfg, Batch: *batch, Seq: *seq, Seed: *seed})
	defer tr.Close()
	params := model.NewLayout(cfg).Size()

	r := rand.New(rand.NewPCG(*seed, 1))
	n := *batch * *seq
	ids, labels := make([]int32, n), make([]int32, n)
	step := func() time.Duration {
		for i := range ids {
			ids[i] = int32(r.IntN(*vocab))
		}
		for i := range labels { // next token of the row; the last position of a row gets a fresh one
			if (i+1)%*seq == 0 {
				labels[i] = int32(r.IntN(*vocab))
			} else {
				labels[i] = ids[i+1]
			}
		}
		t0 := time.Now()
		res := tr.Step(ids, labels, *lr)
		dt := time.Since(t0)
		if res.Skipped {
			fmt.Fprintf(os.Stderr, "benchtrain: step skipped (loss %v)\n", res.Loss)
		}
		return dt
	}
	for i := 0; i < *warmup; i++ {
		step()
	}
	times := make([]float64, *steps)
	for i := range times {
		times[i] = step().Seconds()
	}
	var sec float64
	if *stat == "median" {
		s := append([]float64(nil), times...)
		sort.Float64s(s)
		sec = s[len(s)/2]
	} else {
		for _, t := range times {
			sec += t / float64(len(times))
		}
	}
	tps := float64(n) / sec
	fpt := cfg.FLOPsPerToken(*seq)
	fmt.Fprintf(os.Stderr, "olmolab %s threads=%d gemm=%s, params %d, %.2f MFLOP/token, %.1f GFLOP/s\n",
		runtime.Version(), runtime.GOMAXPROCS(0), gemm.Kernel(), params, fpt/1e6, tps*fpt/1e9)
	fmt.Printf("tokens_per_s=%.1f step_ms=%.2f params=%d\n", tps, 1e3*sec, params)
}
