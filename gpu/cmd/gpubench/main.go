// Command gpubench checks and measures olmolab's CUDA engine on a GPU: golden
// verification at a chosen tolerance, loss parity with the CPU engine over a
// short run, training throughput and MFU, the attention kernels alone (time
// and agreement of each variant), packed scoring against plain rows (the
// log-probs olmolab eval gets from a question's choices in one row, and the
// time of both), the memory plan of a model, and the modeled memory traffic
// of its training step's memory-bound kernels.
// Build it with -tags cuda (scripts/gpu-build.sh builds it next to olmolab);
// without the tag only `plan` works, and `parity` against the CPU backends
// ("cpu-f64"; the emulator backends with -tags emu).
//
//	gpubench verify   --backend cuda --model DIR --case FILE [--fwd 3e-2 --bwd 6e-2]
//	gpubench parity   --backend cuda [--preset cpu_s --steps 50 --batch 8 --seq 64] [--tol X | --calibrate 3]
//	gpubench bench    --backend cuda --preset olmo2_1B_v2 [--batch 8 --seq 4096 --steps 10 --warmup 2 --profile]
//	gpubench attn     [--preset olmo2_1B_v2 --batch 8 --seq 4096 --variants mma,v2:8/4/4,v2:4/8/8,cudnn --iters 10]
//	gpubench packed   --backend cuda [--preset olmo2_1B_v2 --questions 32 --choices 4 --context 1024 --cont 8 --tol X]
//	gpubench plan     --preset olmo2_7B [--batch 8 --seq 4096 --budget-gib 140 --fp32 --scoring]   (reads OLMOLAB_GPU_* as the engine does)
//	gpubench traffic  --preset olmo2_1B_v2 [--batch 8 --seq 4096 --budget-gib 140]   (a model, no GPU: a step's memory-bound launches, their GB and the time at 4.8 TB/s)
//	gpubench info     (opens the GPU and cuBLAS; exit status 1 if that fails)
//
// Each command prints readable lines and one JSON line starting with "RESULT "
// for scripts (scripts/gpu-check.sh).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/olmolab/olmolab/gpu"
	"github.com/olmolab/olmolab/model"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gpubench verify|parity|bench|attn|packed|plan|traffic|info [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "verify":
		err = runVerify(os.Args[2:])
	case "parity":
		err = runParity(os.Args[2:])
	case "bench":
		err = runBench(os.Args[2:])
	case "attn":
		err = runAttn(os.Args[2:])
	case "packed":
		err = runPacked(os.Args[2:])
	case "plan":
		err = runPlan(os.Args[2:])
	case "traffic":
		err = runTraffic(os.Args[2:])
	case "info":
		err = runInfo()
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gpubench:", err)
		var f failed
		if errors.As(err, &f) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}

type failed struct{ msg string }

func (f failed) Error() string { return f.msg }

func result(v map[string]any) {
	b, _ := json.Marshal(v)
	fmt.Println("RESULT " + string(b))
}

func runVerify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	backend := fs.String("backend", "cuda", "backend")
	dir := fs.String("model", "", "HF checkpoint directory")
	casePath := fs.String("case", "", "case file")
	fwd := fs.Float64("fwd", 3e-2, "relative tolerance of forward values")
	bwd := fs.Float64("bwd", 6e-2, "relative tolerance of gradients and updated parameters")
	fs.Parse(args)
	rows, err := model.VerifyBackend(*dir, *casePath, model.VerifyTolerances{Forward: *fwd, Backward: *bwd},
		func(cfg model.Config, B, T int) (model.Backend, error) { return model.NewBackend(*backend, cfg, B, T) })
	if err != nil {
		return err
	}
	model.SortRowsWorstFirst(rows)
	bad := 0
	for _, r := range rows {
		if !r.OK {
			bad++
			fmt.Printf("FAIL %-60s rel %.3e > %.0e  %s\n", r.Name, r.MaxRel, r.Tol, r.First)
		}
	}
	for i, r := range rows {
		if i == 5 {
			break
		}
		fmt.Printf("worst %-60s rel %.3e (tol %.0e)\n", r.Name, r.MaxRel, r.Tol)
	}
	fmt.Printf("%s: %d tensors, %d outside tolerance (fwd %.0e, bwd %.0e) on %s\n", *casePath, len(rows), bad, *fwd, *bwd, *backend)
	result(map[string]any{"check": "verify", "backend": *backend, "case": *casePath, "tensors": len(rows), "failed": bad,
		"worst": rows[0].Name, "worst_rel": rows[0].MaxRel})
	if bad > 0 {
		return failed{fmt.Sprintf("%d tensors outside tolerance", bad)}
	}
	return nil
}

// runParity trains the same preset from the same weights on the same token
// stream with the CPU engine and the GPU backend and compares the losses.
func runParity(args []string) error {
	fs := flag.NewFlagSet("parity", flag.ExitOnError)
	backend := fs.String("backend", "cuda", "backend to compare with the CPU engine")
	preset := fs.String("preset", "cpu_s", "model preset")
	steps := fs.Int("steps", 50, "optimizer steps")
	batch := fs.Int("batch", 8, "sequences per step")
	seq := fs.Int("seq", 64, "sequence length")
	lr := fs.Float64("lr", 3e-3, "learning rate (constant)")
	tol := fs.Float64("tol", 0, "largest relative loss difference allowed (0: 2e-3 for cuda-fp32, 3e-2 for cuda)")
	heads := fs.Int("heads", 0, "override the preset's attention heads (e.g. 2 on cpu_s gives head size 64: the tensor-core attention)")
	kvHeads := fs.Int("kv-heads", 0, "override the key/value heads (GQA); 0 keeps as many as query heads")
	calibrate := fs.Float64("calibrate", 0, "also train the float64 CPU engine and pass iff the backend's largest loss difference from it is at most this many times the float32 CPU engine's (0: off; then --tol applies)")
	fs.Parse(args)
	if *tol == 0 {
		*tol = 3e-2
		if strings.HasSuffix(*backend, "fp32") {
			*tol = 2e-3
		}
	}
	cfg, err := presetWithHeads(*preset, *heads, *kvHeads)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	lay := model.NewLayout(cfg)
	params := make([]float32, lay.Size())
	model.Init(lay, params, 1)
	cpu := model.NewCPUBackend(cfg, *batch, *seq, 0)
	dev, err := model.NewBackend(*backend, cfg, *batch, *seq)
	if err != nil {
		return err
	}
	cpu.WriteParams(params)
	dev.WriteParams(params)
	tc, tg := model.NewTrainerOn(cpu, model.TrainerParams{}), model.NewTrainerOn(dev, model.TrainerParams{})
	defer tc.Close()
	defer tg.Close()
	// The float64 engine is the exact-arithmetic reference: how far the float32
	// CPU engine drifts from it in these steps is how far float32 rounding
	// alone carries this run (training amplifies it, spikes most), the scale
	// that the backend's own drift is judged on.
	var t64 *model.Trainer
	if *calibrate > 0 {
		ref := model.NewCPU64Backend(cfg, *batch, *seq, 0)
		ref.WriteParams(params)
		t64 = model.NewTrainerOn(ref, model.TrainerParams{})
		defer t64.Close()
	}
	stream := model.NewSyntheticStream(cfg.VocabSize, 1)
	ids, labels := make([]int32, *batch**seq), make([]int32, *batch**seq)
	var worst, cpuDrift, devDrift float64
	var last [2]float64
	for s := 1; s <= *steps; s++ {
		stream.Fill(ids, labels, *seq)
		rc := tc.Step(ids, labels, *lr)
		rg := tg.Step(ids, labels, *lr)
		d := relDiff(rg.Loss, rc.Loss)
		worst = math.Max(worst, d)
		last = [2]float64{rc.Loss, rg.Loss}
		line := fmt.Sprintf("step %3d  cpu loss %.6f  %s loss %.6f  rel %.2e  grad norm cpu %.4f %s %.4f",
			s, rc.Loss, *backend, rg.Loss, d, rc.GradNorm, *backend, rg.GradNorm)
		if t64 != nil {
			r64 := t64.Step(ids, labels, *lr)
			dc, dg := relDiff(rc.Loss, r64.Loss), relDiff(rg.Loss, r64.Loss)
			cpuDrift, devDrift = math.Max(cpuDrift, dc), math.Max(devDrift, dg)
			line += fmt.Sprintf("  float64 loss %.6f  rel cpu %.2e %s %.2e", r64.Loss, dc, *backend, dg)
		}
		fmt.Println(line)
	}
	attn := ""
	if e, ok := dev.(*gpu.Engine); ok {
		attn = e.Attention().String()
	}
	head := fmt.Sprintf("parity %s vs cpu, %s (head size %d, %d/%d heads, attention %s) %d steps of %d×%d: largest relative loss difference %.3e",
		*backend, *preset, cfg.HeadSize(), cfg.NumAttentionHeads, cfg.NumKeyValueHeads, attn, *steps, *batch, *seq, worst)
	res := map[string]any{"check": "parity", "backend": *backend, "preset": *preset, "head_size": cfg.HeadSize(), "steps": *steps,
		"attention": attn, "max_rel_loss_diff": worst, "final_cpu_loss": last[0], "final_gpu_loss": last[1]}
	ok := worst <= *tol
	if t64 != nil {
		ratio := devDrift / math.Max(cpuDrift, 1e-9)
		fmt.Printf("%s; from the float64 engine: cpu float32 %.3e, %s %.3e, ratio %.2f (allowed %.1f)\n",
			head, cpuDrift, *backend, devDrift, ratio, *calibrate)
		res["cpu_f32_drift"], res["backend_drift"], res["drift_ratio"], res["calibrate"] = cpuDrift, devDrift, ratio, *calibrate
		ok = ratio <= *calibrate
	} else {
		fmt.Printf("%s (tolerance %.0e)\n", head, *tol)
		res["tol"] = *tol
	}
	result(res)
	if !ok {
		return failed{"loss difference above tolerance"}
	}
	return nil
}

// relDiff is |a−b|/|b|, +Inf when either is not a number.
func relDiff(a, b float64) float64 {
	d := math.Abs(a-b) / math.Abs(b)
	if math.IsNaN(d) {
		return math.Inf(1)
	}
	return d
}

// fastInit fills params like model.Init in distribution (norm weights 1,
// the rest of standard deviation std), in parallel with a cheap generator:
// throughput runs of a 7B model need 7.3e9 values in seconds, not minutes.
func fastInit(lay *model.Layout, params []float32, seed uint64) {
	std := lay.Config.InitializerRange
	if std == 0 {
		std = 0.02
	}
	a := float32(std * math.Sqrt(3)) // uniform(−a, a) has standard deviation std
	var wg sync.WaitGroup
	const chunk = 1 << 22
	work := make(chan [2]int, 64)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				r := rand.New(rand.NewPCG(seed, uint64(c[0])))
				for i := c[0]; i < c[1]; i++ {
					params[i] = (2*r.Float32() - 1) * a
				}
			}
		}()
	}
	for _, t := range lay.Tensors {
		if t.Kind == model.KindNorm {
			for i := t.Offset; i < t.Offset+t.Numel(); i++ {
				params[i] = 1
			}
			continue
		}
		for lo := t.Offset; lo < t.Offset+t.Numel(); lo += chunk {
			work <- [2]int{lo, min(lo+chunk, t.Offset+t.Numel())}
		}
	}
	close(work)
	wg.Wait()
}

func runBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	backend := fs.String("backend", "cuda", "backend")
	preset := fs.String("preset", "olmo2_1B_v2", "model preset")
	batch := fs.Int("batch", 8, "sequences per step (the backend's micro-batch)")
	seq := fs.Int("seq", 4096, "sequence length")
	steps := fs.Int("steps", 10, "timed optimizer steps")
	warmup := fs.Int("warmup", 2, "untimed steps first")
	prof := fs.Bool("profile", false, "attribute the timed steps' device time to operations (CUDA events after every operation)")
	fs.Parse(args)
	cfg, err := model.PresetByName(*preset)
	if err != nil {
		return err
	}
	t0 := time.Now()
	b, err := model.NewBackend(*backend, cfg, *batch, *seq)
	if err != nil {
		return err
	}
	defer b.Close()
	planDesc, attn, choice := "", "", ""
	if e, ok := b.(*gpu.Engine); ok {
		planDesc, attn = e.Plan().String(), e.Attention().String()
		fmt.Printf("%s: plan %s, attention %s\n", *preset, planDesc, attn)
		if c := e.AttentionChoice(); c != nil { // OLMOLAB_GPU_ATTN=auto
			choice = c.String()
			fmt.Printf("%s: %s\n", *preset, choice)
		}
	}
	lay := model.NewLayout(cfg)
	params := make([]float32, lay.Size())
	fastInit(lay, params, 1)
	b.WriteParams(params)
	params = nil
	runtime.GC()
	setup := time.Since(t0)
	tr := model.NewTrainerOn(b, model.TrainerParams{})
	n := *batch * *seq
	ids, labels := make([]int32, n), make([]int32, n)
	r := rand.New(rand.NewPCG(0, 0))
	for i := range ids {
		ids[i] = int32(r.IntN(cfg.VocabSize - 100))
	}
	for row := 0; row < *batch; row++ {
		for t := 0; t < *seq; t++ {
			i := row**seq + t
			if t == *seq-1 {
				labels[i] = model.IgnoreIndex
			} else {
				labels[i] = ids[i+1]
			}
		}
	}
	var times []float64
	var res model.StepResult
	eng, _ := b.(*gpu.Engine)
	for s := 0; s < *warmup+*steps; s++ {
		if s == *warmup && *prof && eng != nil {
			if err := eng.EnableProfile(); err != nil {
				return err
			}
		}
		st := time.Now()
		res = tr.Step(ids, labels, 4e-4) // returns after the loss and grad norm are read back: the step is done
		dt := time.Since(st).Seconds()
		if s >= *warmup {
			times = append(times, dt)
		}
		fmt.Printf("%s step %d: %.1f ms, loss %.4f, grad norm %.3f, skipped %v\n", *preset, s+1, dt*1e3, res.Loss, res.GradNorm, res.Skipped)
	}
	var sum float64
	for _, t := range times {
		sum += t
	}
	mean := sum / float64(len(times))
	sort.Float64s(times)
	tps := float64(n) / mean
	// MFU against the engine's own peak, as the lab measures a run's
	// (gpu.Engine.PeakFLOPS: 989 TFLOP/s bf16, 67 fp32 on an H100 SXM or
	// H200, as scripts/torch_gpu_bench.py's bf16 figure); none where no peak
	// is known (another device, the emulator, a CPU backend)
	var peak float64
	if eng != nil {
		peak = eng.PeakFLOPS()
	}
	mfu, mfuSaid := 0.0, "-"
	if peak > 0 {
		mfu = tps * cfg.FLOPsPerToken(*seq) / peak
		mfuSaid = fmt.Sprintf("%.3f", mfu)
	}
	var usedGiB float64
	if free, total, err := gpu.FreeMemory(); err == nil {
		usedGiB = float64(total-free) / (1 << 30)
	}
	if *prof && eng != nil {
		fmt.Printf("%s: device time per step by operation (phase:operation; profiled steps run slower)\n%s", *preset,
			gpu.FormatProfile(eng.Profile(), eng.ProfileBytes(), *steps))
	}
	fmt.Printf("preset=%s backend=%s attn=%s seq=%d batch=%d tokens_per_s=%.0f step_ms=%.1f (min %.1f, max %.1f) mfu=%s used_mem_gib=%.1f setup_s=%.1f\n",
		*preset, *backend, attn, *seq, *batch, tps, mean*1e3, times[0]*1e3, times[len(times)-1]*1e3, mfuSaid, usedGiB, setup.Seconds())
	rv := map[string]any{"check": "bench", "preset": *preset, "backend": *backend, "attention": attn, "seq": *seq, "batch": *batch,
		"tokens_per_s": tps, "step_ms": mean * 1e3, "peak_flops": peak, "used_mem_gib": usedGiB, "plan": planDesc,
		"final_loss": res.Loss, "skipped": res.Skipped, "setup_s": setup.Seconds(), "attention_choice": choice}
	if peak > 0 {
		rv["mfu"] = mfu
	}
	result(rv)
	if res.Skipped || math.IsNaN(res.Loss) {
		return failed{"the last step was skipped (non-finite loss or gradient)"}
	}
	return nil
}

// runAttn runs the attention kernels alone on one layer's shape with random
// inputs, variant by variant (OLMOLAB_GPU_ATTN's forms): milliseconds and
// TFLOP/s of the forward and the backward kernels, each variant's outputs
// against the first's, and whether a second run repeats them bit for bit.
func runAttn(args []string) error {
	fs := flag.NewFlagSet("attn", flag.ExitOnError)
	preset := fs.String("preset", "olmo2_1B_v2", "model preset giving the heads and head size")
	batch := fs.Int("batch", 8, "sequences")
	seq := fs.Int("seq", 4096, "sequence length")
	heads := fs.Int("heads", 0, "override the query heads")
	kvHeads := fs.Int("kv-heads", 0, "override the key/value heads (GQA)")
	headSize := fs.Int("head-size", 0, "override the head size")
	iters := fs.Int("iters", 10, "timed launches of each kernel")
	variants := fs.String("variants", "mma,v2:8/4/4,v2:4/8/8", "comma-separated attention kernels (mma, plain, v2, v2:F/Q/K, cudnn); the first is the reference")
	tolFwd := fs.Float64("tol-fwd", 2e-2, "largest relative difference of o and lse from the reference")
	tolBwd := fs.Float64("tol-bwd", 5e-2, "largest relative difference of dq, dk and dv from the reference")
	fs.Parse(args)
	cfg, err := model.PresetByName(*preset)
	if err != nil {
		return err
	}
	p := gpu.AttnBenchParams{B: *batch, T: *seq, NH: cfg.NumAttentionHeads, NKV: cfg.NumKeyValueHeads, HS: cfg.HeadSize(),
		Iters: *iters, Seed: 1}
	if *heads > 0 {
		p.NH, p.NKV = *heads, *heads
	}
	if *kvHeads > 0 {
		p.NKV = *kvHeads
	}
	if *headSize > 0 {
		p.HS = *headSize
	}
	for _, v := range strings.Split(*variants, ",") {
		a, err := gpu.ParseAttention(strings.TrimSpace(v))
		if err != nil {
			return err
		}
		p.Variants = append(p.Variants, a)
	}
	shape := fmt.Sprintf("B=%d T=%d NH=%d NKV=%d HS=%d", p.B, p.T, p.NH, p.NKV, p.HS)
	fmt.Printf("attention kernels alone, %s, %d launches each (TFLOP/s in FlashAttention's count: forward 4·HS per causal pair, backward 2.5×)\n",
		shape, p.Iters)
	rows, err := gpu.BenchAttention(p)
	if len(rows) == 0 {
		if err == nil {
			err = errors.New("no variant ran")
		}
		return err
	}
	fmt.Printf("%-10s %8s %7s  %7s %7s %7s %8s %7s  %8s  %-44s %s\n", "variant", "fwd ms", "TFLOP/s", "pre ms", "dQ ms", "dKV ms",
		"bwd ms", "TFLOP/s", "total ms", "max rel vs "+rows[0].Variant+": o lse dq dk dv", "deterministic")
	bad := 0
	var summary []string
	var results []map[string]any
	ref := rows[0].FwdMs + rows[0].PreMs + rows[0].DQMs + rows[0].DKVMs
	for _, r := range rows {
		bwd := r.PreMs + r.DQMs + r.DKVMs
		total := r.FwdMs + bwd
		var rel []string
		ok := r.Deterministic
		for _, out := range gpu.AttnOutputs {
			tol := *tolBwd
			if out == "o" || out == "lse" {
				tol = *tolFwd
			}
			x := r.MaxRel[out]
			mark := ""
			if !(x <= tol) {
				ok, mark = false, "!"
			}
			rel = append(rel, fmt.Sprintf("%.1e%s", x, mark))
		}
		if !ok {
			bad++
		}
		fmt.Printf("%-10s %8.3f %7.1f  %7.3f %7.3f %7.3f %8.3f %7.1f  %8.3f  %-44s %v\n", r.Variant, r.FwdMs, r.FwdTFLOPs, r.PreMs,
			r.DQMs, r.DKVMs, bwd, r.BwdTFLOPs, total, strings.Join(rel, " "), r.Deterministic)
		if r.Library != "" {
			fmt.Printf("    %s (backward: one call, under dKV)\n", r.Library)
		}
		for _, k := range r.Kernels {
			fmt.Printf("    %-22s %3d threads %6d B dynamic shared: %3d registers, %d B local, %d B static shared, %d blocks/SM\n",
				k.Name, k.Threads, k.DynSmem, k.Regs, k.LocalBytes, k.StaticSmem, k.BlocksPerSM)
		}
		results = append(results, map[string]any{"check": "attn", "shape": shape, "variant": r.Variant, "fwd_ms": r.FwdMs, "pre_ms": r.PreMs,
			"dq_ms": r.DQMs, "dkv_ms": r.DKVMs, "bwd_ms": bwd, "total_ms": total, "fwd_tflops": r.FwdTFLOPs,
			"bwd_tflops": r.BwdTFLOPs, "max_rel": r.MaxRel, "deterministic": r.Deterministic, "ok": ok, "kernels": r.Kernels,
			"library": r.Library})
		summary = append(summary, fmt.Sprintf("%s %.2f ms (%.2f×)", r.Variant, total, ref/total))
	}
	for _, r := range results {
		result(r)
	}
	verdict := "all within tolerance and deterministic"
	if bad > 0 {
		verdict = fmt.Sprintf("%d variant(s) outside tolerance or not deterministic", bad)
	}
	if err != nil { // a later variant failed: report what ran, then the error
		verdict = fmt.Sprintf("%s; stopped at variant %d: %v", verdict, len(rows)+1, err)
		bad++
	}
	fmt.Printf("attn %s fwd+bwd: %s; %s\n", shape, strings.Join(summary, ", "), verdict)
	if bad > 0 {
		return failed{verdict}
	}
	return nil
}

func runInfo() error {
	name, err := gpu.DeviceName()
	if err != nil {
		return failed{err.Error()}
	}
	free, total, err := gpu.FreeMemory()
	if err != nil {
		return failed{err.Error()}
	}
	// cuDNN first: scripts/gpu-check.sh reads the device from the last line
	if lib, err := gpu.CuDNN(); err != nil {
		fmt.Printf("cuDNN: none usable (OLMOLAB_GPU_ATTN=cudnn and auto's cudnn candidate unavailable): %s\n",
			strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " "))
	} else {
		fmt.Printf("cuDNN: %s\n", lib)
	}
	fmt.Printf("%s: %.1f of %.1f GiB free\n", name, float64(free)/(1<<30), float64(total)/(1<<30))
	return nil
}

// runPlan prints the plan the engine would build (gpu.PlanFor, the engine's
// own computation) with this environment's OLMOLAB_GPU_* and the free memory
// the engine would read.
// runTraffic prints the modeled DRAM traffic of one training step's
// memory-bound launches (gpu.ModelTraffic) under the plan the engine would
// make, reading OLMOLAB_GPU_* as the engine does. No GPU is used.
func runTraffic(args []string) error {
	fs := flag.NewFlagSet("traffic", flag.ExitOnError)
	preset := fs.String("preset", "olmo2_1B_v2", "model preset")
	batch := fs.Int("batch", 8, "sequences per step")
	seq := fs.Int("seq", 4096, "sequence length")
	budget := fs.Float64("budget-gib", 0, "free device memory for the plan (0: an H200's 140.4 GiB less the context's 0.59)")
	fs.Parse(args)
	cfg, err := model.PresetByName(*preset)
	if err != nil {
		return err
	}
	opts, err := gpu.OptionsFromEnv(false)
	if err != nil {
		return err
	}
	free := int64(*budget * (1 << 30))
	if free == 0 {
		free = 143771<<20 - gpu.ContextBytes
	}
	t, err := gpu.ModelTraffic(cfg, *batch, *seq, free, opts)
	if err != nil {
		return err
	}
	fmt.Printf("%s at %d×%d, plan %s: modeled DRAM traffic of one training step's memory-bound launches (not measured; GEMMs and attention left out)\n%s",
		*preset, *batch, *seq, t.Plan, t.Format())
	tot := t.Total()
	result(map[string]any{"check": "traffic", "preset": *preset, "batch": *batch, "seq": *seq, "launches": tot.Launches,
		"gb": float64(tot.Bytes) / 1e9, "ms_at_4_8tbs": float64(tot.Bytes) / gpu.HBMBytesPerSecond * 1e3})
	return nil
}

func runPlan(args []string) error {
	fs := flag.NewFlagSet("plan", flag.ExitOnError)
	preset := fs.String("preset", "olmo2_7B", "model preset")
	batch := fs.Int("batch", 8, "sequences per step (per call with --scoring)")
	seq := fs.Int("seq", 4096, "sequence length")
	budget := fs.Float64("budget-gib", 0, "free device memory the engine reads, its context made (0: the GPU's; without one an H200's 140.4 GiB less the context's 0.59)")
	fp32 := fs.Bool("fp32", false, "plan the fp32 engine")
	scoring := fs.Bool("scoring", false, "plan the forward-only engine that scores (olmolab eval --backend cuda: gpu.NewScoring) instead of the training engine")
	fs.Parse(args)
	cfg, err := model.PresetByName(*preset)
	if err != nil {
		return err
	}
	opts, err := gpu.OptionsFromEnv(*fp32)
	if err != nil {
		return err
	}
	free := int64(*budget * (1 << 30))
	if free == 0 {
		if f, _, err := gpu.FreeMemory(); err == nil {
			free = f
		} else {
			free = 143771<<20 - gpu.ContextBytes // an H200's memory as nvidia-smi reports it (KINDS.md), less the context's
		}
	}
	var env []string
	for _, v := range []string{"OLMOLAB_GPU_MICROBATCH", "OLMOLAB_GPU_KEEP", "OLMOLAB_GPU_CHUNK", "OLMOLAB_GPU_ATTN", "OLMOLAB_CUDNN"} {
		if x, ok := os.LookupEnv(v); ok {
			env = append(env, v+"="+x)
		}
	}
	if len(env) == 0 {
		env = []string{"no OLMOLAB_GPU_* set: the engine's defaults"}
	}
	p, attn, err := gpu.PlanFor(cfg, *batch, *seq, free, opts, *scoring)
	// the kernels the engine runs (plain in fp32, say), not those asked for
	fmt.Printf("environment: %s (attention %s)\n", strings.Join(env, " "), attn.Kernels)
	if attn.CuDNN != "" {
		fmt.Printf("cuDNN: %s\n", attn.CuDNN)
	}
	mode := ""
	if *fp32 {
		mode = " (the bf16 engine's)" // both estimates are of bf16 engines
	}
	if *scoring {
		fmt.Printf("%s at %d×%d, forward only (olmolab eval): at least %.2f GiB%s (one sequence per pass)\n",
			*preset, *batch, *seq, float64(gpu.EstimateScoringMemory(cfg, *batch, *seq))/(1<<30), mode)
	} else {
		fmt.Printf("%s at %d×%d: at least %.2f GiB%s (every layer recomputed, one sequence per pass)\n",
			*preset, *batch, *seq, float64(gpu.EstimateMemory(cfg, *batch, *seq))/(1<<30), mode)
	}
	if err != nil {
		return err
	}
	fmt.Printf("plan with %.2f GiB free: %s\n%s", float64(free)/(1<<30), p, p.Describe())
	if *scoring {
		// eval scores requests shorter than its rows on a Scorer (gpu.Engine.Scorer)
		fmt.Printf("a Scorer of rows up to %d borrows up to %.2f GiB of its scratch (ids onward): no memory of its own\n",
			*seq, float64(p.Arena-p.Scratch)/(1<<30))
	}
	return nil
}

// presetWithHeads is the preset name with its attention heads overridden
// where heads > 0 (key/value heads too, unless kvHeads > 0 sets them: GQA),
// as --heads and --kv-heads of parity and packed ask.
func presetWithHeads(name string, heads, kvHeads int) (model.Config, error) {
	cfg, err := model.PresetByName(name)
	if err != nil {
		return cfg, err
	}
	if heads > 0 {
		cfg.NumAttentionHeads, cfg.NumKeyValueHeads = heads, heads
	}
	if kvHeads > 0 {
		cfg.NumKeyValueHeads = kvHeads
	}
	return cfg, nil
}
