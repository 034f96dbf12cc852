package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/plural"
	"github.com/olmolab/olmolab/model"
	"github.com/olmolab/olmolab/model/gemm"
)

// benchSpec is one training-speed measurement: the model, the micro-batch, and
// the settings ../shared/bench/torch_bench.py exposes under the same names, so
// that scripts/bench-vs-torch.sh can run both with one argument list.
type benchSpec struct {
	cfg           model.Config
	batch, seq    int
	steps, warmup int
	stat          string // "mean" or "median" step time
	seed          uint64
	lr            float64
}

// runBench is `olmolab bench`: this machine's GEMM GFLOP/s and the training
// step's tokens/s for a preset or an inline shape, ending with the line
// `tokens_per_s=… step_ms=… params=…` that ../shared/bench/torch_bench.py prints.
// --scaling also times the step on one thread and reports the speed-up.
func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stdout, stderr)
	preset := fs.String("preset", "", "model preset (default: the inline shape below)")
	vocab := fs.Int("vocab", 8192, "vocabulary size (inline shape)")
	d := fs.Int("d-model", 512, "hidden size")
	layers := fs.Int("layers", 8, "decoder layers")
	heads := fs.Int("heads", 8, "attention heads")
	kv := fs.Int("kv-heads", 0, "key/value heads (0: = heads)")
	mlp := fs.Int("mlp", 1408, "SwiGLU hidden size")
	seq := fs.Int("seq", 256, "sequence length")
	batch := fs.Int("batch", 4, "sequences per step")
	steps := fs.Int("steps", 10, "timed steps")
	warmup := fs.Int("warmup", 2, "untimed steps first")
	threads := fs.Int("threads", 0, "threads (GOMAXPROCS and engine workers; 0: all CPUs)")
	stat := fs.String("stat", "median", "step time statistic: median, or mean as torch_bench.py reports it")
	seed := fs.Uint64("seed", 1, "initialisation and data seed")
	lr := fs.Float64("lr", 4e-4, "learning rate (constant)")
	scaling := fs.Int("scaling", 0, "also time the step on 1 thread, alternating with --threads this many rounds, and print the speed-up")
	sizes := fs.String("gemm", "512,1024,2048", "square GEMM sizes to time (empty: skip)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *steps < 1 || *warmup < 0 || *batch < 1 || *seq < 2 || *threads < 0 || *scaling < 0 {
		return usageError{"bench: --steps ≥ 1, --warmup ≥ 0, --batch ≥ 1, --seq ≥ 2, --threads ≥ 0, --scaling ≥ 0"}
	}
	if *stat != "mean" && *stat != "median" {
		return usageError{fmt.Sprintf("bench: --stat %q: want mean or median", *stat)}
	}
	nt := *threads
	if nt == 0 {
		nt = runtime.NumCPU()
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(nt))

	var gemmSizes []int
	for _, s := range splitList(*sizes) {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return usageError{fmt.Sprintf("bench: --gemm %q is not a list of sizes", *sizes)}
		}
		// three n×n float32 matrices
		if need := 12 * float64(n) * float64(n); need > float64(lab.MemoryBudget(memAvailable())) {
			return inputError{fmt.Errorf("bench: --gemm %d: three %d×%d float32 matrices need %.4g GiB, but only %s is available; HINT: time smaller sizes",
				n, n, n, need/(1<<30), gibString(memAvailable()))}
		}
		gemmSizes = append(gemmSizes, n)
	}
	var cfg model.Config
	if *preset != "" {
		c, err := model.PresetByName(*preset)
		if err != nil {
			return inputError{fmt.Errorf("--preset: %w", err)}
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
	if err := checkEngineMemory("bench", cfg, *batch, *seq, "cpu"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "machine: %s, GEMM kernel %s, %s\n", plural.N(nt, "thread"), gemm.Kernel(), runtime.Version())
	for _, n := range gemmSizes {
		fmt.Fprintf(stdout, "sgemm %d³: %.1f GFLOP/s\n", n, gemmGFLOPS(n))
	}
	spec := benchSpec{cfg: cfg, batch: *batch, seq: *seq, steps: *steps, warmup: *warmup, stat: *stat, seed: *seed, lr: *lr}

	var sec float64
	if *scaling > 0 {
		// Alternate so that a slow spell of a shared machine hits both sides.
		// The speed-up is the median of the rounds' own ratios: a slow spell
		// of a shared machine (or a turbo clock that drifts) then moves both
		// sides of one ratio rather than one side of another.
		var one, many, ratios []float64
		for r := 1; r <= *scaling; r++ {
			s1 := spec.stepSeconds(1)
			sn := spec.stepSeconds(nt)
			one, many, ratios = append(one, s1), append(many, sn), append(ratios, s1/sn)
			fmt.Fprintf(stdout, "round %d: 1 thread %.1f tokens/s, %s %.1f tokens/s, speed-up %.2f×\n",
				r, spec.tokens()/s1, plural.N(nt, "thread"), spec.tokens()/sn, s1/sn)
		}
		s1, sn := median(one), median(many)
		sort.Float64s(ratios)
		fmt.Fprintf(stdout, "scaling (median of %s): 1 thread %.1f tokens/s, %s %.1f tokens/s, speed-up %.2f× (rounds %.2f–%.2f)\n",
			plural.N(*scaling, "round"), spec.tokens()/s1, plural.N(nt, "thread"), spec.tokens()/sn, median(ratios), ratios[0], ratios[len(ratios)-1])
		sec = sn
	} else {
		sec = spec.stepSeconds(nt)
	}
	tps := spec.tokens() / sec
	peak := lab.CPUPeakFLOPS()
	fmt.Fprintf(stdout, "model: %s params, %.2f MFLOP/token; step %d×%d on %s: %.1f GFLOP/s, MFU %.1f%% of the measured %.0f GFLOP/s GEMM peak\n",
		commas(cfg.NumParams()), cfg.FLOPsPerToken(*seq)/1e6, *batch, *seq, plural.N(nt, "thread"), tps*cfg.FLOPsPerToken(*seq)/1e9,
		100*lab.MFU(cfg, *seq, tps, peak), peak/1e9)
	fmt.Fprintf(stdout, "tokens_per_s=%.1f step_ms=%.2f params=%d\n", tps, 1e3*sec, cfg.NumParams())
	return nil
}

func (s benchSpec) tokens() float64 { return float64(s.batch * s.seq) }

// stepSeconds builds a fresh trainer with `threads` workers (GOMAXPROCS set to
// match, so a 1-thread figure really has one core) and returns the mean or
// median time of s.steps optimizer steps after s.warmup untimed ones. Like
// torch_bench.py, tokens are uniformly random and drawn fresh every step, and
// the last position of each row predicts a fresh random token.
func (s benchSpec) stepSeconds(threads int) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
	tr := model.NewTrainer(model.TrainerParams{Config: s.cfg, Batch: s.batch, Seq: s.seq, Seed: s.seed, Workers: threads})
	defer tr.Close()
	r := rand.New(rand.NewPCG(s.seed, 1))
	V := s.cfg.VocabSize
	ids, labels := make([]int32, s.batch*s.seq), make([]int32, s.batch*s.seq)
	var times []float64 // not sized by --steps: a huge count runs long, it does not allocate up front
	for i := 0; i < s.warmup+s.steps; i++ {
		for j := range ids {
			ids[j] = int32(r.IntN(V))
		}
		for j := range labels {
			if (j+1)%s.seq == 0 {
				labels[j] = int32(r.IntN(V))
			} else {
				labels[j] = ids[j+1]
			}
		}
		t0 := time.Now()
		tr.Step(ids, labels, s.lr)
		if i >= s.warmup {
			times = append(times, time.Since(t0).Seconds())
		}
	}
	if s.stat == "mean" {
		var sum float64
		for _, t := range times {
			sum += t
		}
		return sum / float64(len(times))
	}
	return median(times)
}

// checkEngineMemory refuses a --batch × --seq that does not fit the int32
// token ids' sizes, and a model and micro-batch the host cannot hold
// (engineMemoryNeed).
func checkEngineMemory(cmd string, cfg model.Config, batch, seq int, backend string) error {
	if seq > math.MaxInt32 || batch > math.MaxInt32/seq {
		return usageError{fmt.Sprintf("%s: --batch %d × --seq %d is more than %d tokens per step", cmd, batch, seq, math.MaxInt32)}
	}
	need := engineMemoryNeed(cfg, batch, seq, backend)
	if avail := memAvailable(); avail > 0 && need > lab.MemoryBudget(avail) {
		return inputError{fmt.Errorf("%s: the model (%s params) and a step of %d×%d tokens need about %s, but only %s is available; HINT: lower --batch or --seq, or pick a smaller model",
			cmd, commas(cfg.NumParams()), batch, seq, gibString(need), gibString(avail))}
	}
	return nil
}

// engineMemoryNeed is the host memory bench and train count for a model and
// micro-batch: on the CPU backends what the engine allocates
// (model.EstimateEngineMemory), on another the
// host copy of the parameters; on
// both the step's ids and labels and the process itself with no tokenizer
// (lab.ProcessMemory, which a run's estimate counts too).
func engineMemoryNeed(cfg model.Config, batch, seq int, backend string) int64 {
	need, ok := model.EstimateEngineMemory(backend, cfg, batch, seq)
	if !ok {
		need = 4 * cfg.NumParams()
	}
	return min(need, math.MaxInt64/2) + 8*int64(batch*seq) + lab.ProcessMemory(0)
}

// median is the middle value, or the mean of the two middle ones (as
// torch_bench.py computes it).
func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
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
