package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/model"
	"github.com/olmolab/olmolab/model/gemm"
)

// runBench is `olmolab bench`: this machine's GEMM GFLOP/s and the training
// step's tokens/s for a preset or an inline shape, ending with the line
// `tokens_per_s=… step_ms=… params=…` that ../shared/bench/torch_bench.py prints.
func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr)
	preset := fs.String("preset", "", "model preset (default: the inline shape below)")
	vocab := fs.Int("vocab", 8192, "vocabulary size (inline shape)")
	d := fs.Int("d-model", 512, "hidden size")
	layers := fs.Int("layers", 8, "decoder layers")
	heads := fs.Int("heads", 8, "attention heads")
	kv := fs.Int("kv-heads", 0, "key/value heads (0: = heads)")
	mlp := fs.Int("mlp", 1408, "SwiGLU hidden size")
	seq := fs.Int("seq", 256, "sequence length")
	batch := fs.Int("batch", 4, "sequences per step")
	steps := fs.Int("steps", 10, "timed steps (median reported)")
	warmup := fs.Int("warmup", 2, "untimed steps first")
	sizes := fs.String("gemm", "512,1024,2048", "square GEMM sizes to time (empty: skip)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *steps < 1 || *warmup < 0 || *batch < 1 || *seq < 2 {
		return usageError{"bench: --steps ≥ 1, --warmup ≥ 0, --batch ≥ 1, --seq ≥ 2"}
	}
	fmt.Fprintf(stdout, "machine: %d threads, GEMM kernel %s, %s\n", runtime.GOMAXPROCS(0), gemm.Kernel(), runtime.Version())
	for _, s := range splitList(*sizes) {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return usageError{fmt.Sprintf("bench: --gemm %q is not a list of sizes", *sizes)}
		}
		fmt.Fprintf(stdout, "sgemm %d³: %.1f GFLOP/s\n", n, gemmGFLOPS(n))
	}
	var cfg model.Config
	if *preset != "" {
		c, err := model.PresetByName(*preset)
		if err != nil {
			return inputError{err}
		}
		cfg = c
	} else {
		if *kv == 0 {
			*kv = *heads
		}
		cfg = model.Config{VocabSize: *vocab, HiddenSize: *d, IntermediateSize: *mlp, NumHiddenLayers: *layers,
			NumAttentionHeads: *heads, NumKeyValueHeads: *kv, MaxPositionEmbeddings: *seq, RopeTheta: 500000,
			RMSNormEps: 1e-6, InitializerRange: 0.02}
		if err := cfg.Validate(); err != nil {
			return inputError{fmt.Errorf("bench: %w", err)}
		}
	}
	tr := model.NewTrainer(model.TrainerParams{Config: cfg, Batch: *batch, Seq: *seq, Seed: 1})
	defer tr.Close()
	r := rand.New(rand.NewPCG(1, 2))
	n := *batch * *seq
	ids, labels := make([]int32, n), make([]int32, n)
	times := make([]float64, 0, *steps)
	for i := 0; i < *warmup+*steps; i++ {
		for j := range ids {
			ids[j] = int32(r.IntN(cfg.VocabSize))
		}
		for j := range labels {
			if (j+1)%*seq == 0 {
				labels[j] = model.IgnoreIndex
			} else {
				labels[j] = ids[j+1]
			}
		}
		t0 := time.Now()
		tr.Step(ids, labels, 4e-4)
		if i >= *warmup {
			times = append(times, time.Since(t0).Seconds())
		}
	}
	sort.Float64s(times)
	sec := times[len(times)/2]
	tps := float64(n) / sec
	peak := lab.CPUPeakFLOPS()
	fmt.Fprintf(stdout, "model: %s params, %.2f MFLOP/token; step %d×%d: %.1f GFLOP/s, MFU %.1f%% of the measured %.0f GFLOP/s GEMM peak\n",
		commas(cfg.NumParams()), cfg.FLOPsPerToken(*seq)/1e6, *batch, *seq, tps*cfg.FLOPsPerToken(*seq)/1e9,
		100*lab.MFU(cfg, *seq, tps, peak), peak/1e9)
	fmt.Fprintf(stdout, "tokens_per_s=%.1f step_ms=%.2f params=%d\n", tps, 1e3*sec, cfg.NumParams())
	return nil
}

// gemmGFLOPS times C = A·B at n³ (best of a few calls after a warm-up).
func gemmGFLOPS(n int) float64 {
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i], b[i] = float32(i%13)*0.01, float32(i%7)*0.01
	}
	gemm.Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
	reps := max(3, int(2e9/(2*float64(n)*float64(n)*float64(n))))
	best := 0.0
	for i := 0; i < reps; i++ {
		t0 := time.Now()
		gemm.Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
		best = max(best, 2*float64(n)*float64(n)*float64(n)/time.Since(t0).Seconds()/1e9)
	}
	return best
}
