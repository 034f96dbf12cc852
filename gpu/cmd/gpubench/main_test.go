package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/gpu"
	"github.com/olmolab/olmolab/model"
)

// TestMain lets a test run this test binary as gpubench itself
// (GPUBENCH_TEST_MAIN=1): exit status and output as a user gets them.
func TestMain(m *testing.M) {
	if os.Getenv("GPUBENCH_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func gpubench(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return gpubenchEnv(t, nil, args...)
}

// gpubenchEnv is gpubench with env added to the environment.
func gpubenchEnv(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), "GPUBENCH_TEST_MAIN=1"), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// TestPlanScoring: gpubench plan --scoring prints the forward-only engine's
// plan (olmolab eval --backend cuda: gpu.NewScoring), its least memory and
// the scratch its Scorers borrow, with TestScoringFitsH200's figures;
// without it, the training engine's as before.
func TestPlanScoring(t *testing.T) {
	budget := 140.4
	free := int64(budget * (1 << 30)) // as gpubench reads --budget-gib
	for _, name := range []string{"olmo2_7B", "olmo2_13B"} {
		cfg, err := model.PresetByName(name)
		if err != nil {
			t.Fatal(err)
		}
		code, out, errs := gpubench(t, "plan", "--preset", name, "--batch", "1", "--seq", "4096", "--scoring", "--budget-gib", fmt.Sprint(budget))
		if code != 0 {
			t.Fatalf("%s: gpubench plan --scoring: exit %d\n%s%s", name, code, out, errs)
		}
		p, _, err := gpu.PlanFor(cfg, 1, 4096, free, gpu.Options{}, true)
		if err != nil {
			t.Fatal(err)
		}
		least := float64(gpu.EstimateScoringMemory(cfg, 1, 4096)) / (1 << 30)
		for _, want := range []string{
			fmt.Sprintf("%s at 1×4096, forward only (olmolab eval): at least %.2f GiB", name, least),
			"plan with 140.40 GiB free: " + p.String(),
			p.Describe(),
			fmt.Sprintf("a Scorer of rows up to 4096 borrows up to %.2f GiB of its scratch", float64(p.Arena-p.Scratch)/(1<<30)),
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", name, want, out)
			}
		}
		if strings.Contains(out, "grads") || strings.Contains(out, "adam") {
			t.Errorf("%s: a forward-only plan with training state:\n%s", name, out)
		}
		t.Logf("%s", out)
	}
	// the training engine's plan, unchanged; 13B's does not fit at 1×4096
	code, out, _ := gpubench(t, "plan", "--preset", "olmo2_7B", "--batch", "1", "--seq", "4096", "--budget-gib", fmt.Sprint(budget))
	if code != 0 || !strings.Contains(out, "layers resident") || !strings.Contains(out, "grads") {
		t.Errorf("gpubench plan (training): exit %d\n%s", code, out)
	}
	code, _, errs := gpubench(t, "plan", "--preset", "olmo2_13B", "--batch", "1", "--seq", "4096", "--budget-gib", fmt.Sprint(budget))
	if code == 0 || !strings.Contains(errs, "does not fit") {
		t.Errorf("olmo2_13B's training plan: exit %d, %s", code, errs)
	}
}

// TestPlanIsTheEngines: gpubench plan prints the plan the engine builds
// (gpu.PlanFor, held to the engine by the gpu package's
// TestPlanForIsTheEngines) with the same OLMOLAB_GPU_* and free memory,
// training and forward only. It read none of OLMOLAB_GPU_MICROBATCH, _KEEP,
// _CHUNK and _ATTN, and planned within the free memory the engine leaves
// ~424 MiB of (its safety margin less the context's allowance, which free
// memory has already lost): olmo2_7B at 8×4096 with an H200's 140.40 GiB
// free kept 23 layers (140.19 GiB), where the engine keeps 22 (139.63 GiB).
func TestPlanIsTheEngines(t *testing.T) {
	for _, c := range []struct {
		preset  string
		B, T    int
		free    float64 // GiB, --budget-gib
		env     []string
		scoring bool
	}{
		{"olmo2_7B", 8, 4096, 140.4, nil, false},
		{"olmo2_7B", 8, 4096, 140.4, []string{"OLMOLAB_GPU_KEEP=3"}, false},
		{"olmo2_7B", 8, 4096, 140.4, []string{"OLMOLAB_GPU_MICROBATCH=2", "OLMOLAB_GPU_KEEP=none", "OLMOLAB_GPU_CHUNK=1024"}, false},
		{"olmo2_1B_v2", 8, 4096, 40, []string{"OLMOLAB_GPU_ATTN=cudnn"}, false},
		{"olmo2_1B_v2", 8, 4096, 40, []string{"OLMOLAB_GPU_ATTN=auto"}, false},
		{"olmo2_13B", 1, 4096, 140.4, nil, true},
		{"olmo2_7B", 8, 512, 20, []string{"OLMOLAB_GPU_MICROBATCH=4", "OLMOLAB_GPU_CHUNK=512"}, true},
	} {
		cfg, err := model.PresetByName(c.preset)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range c.env { // the environment as OptionsFromEnv reads it, for PlanFor
			k, v, _ := strings.Cut(e, "=")
			t.Setenv(k, v)
		}
		opts, err := gpu.OptionsFromEnv(false)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range c.env {
			k, _, _ := strings.Cut(e, "=")
			os.Unsetenv(k)
		}
		want, attn, err := gpu.PlanFor(cfg, c.B, c.T, int64(c.free*(1<<30)), opts, c.scoring)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"plan", "--preset", c.preset, "--batch", fmt.Sprint(c.B), "--seq", fmt.Sprint(c.T), "--budget-gib", fmt.Sprint(c.free)}
		if c.scoring {
			args = append(args, "--scoring")
		}
		code, out, errs := gpubenchEnv(t, c.env, args...)
		what := fmt.Sprintf("%s %v gpubench %s", strings.Join(c.env, " "), c.scoring, strings.Join(args, " "))
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", what, code, out, errs)
		}
		if !strings.Contains(out, want.String()+"\n"+want.Describe()) {
			t.Errorf("%s: want the engine's plan\n%s\n%s\ngot:\n%s", what, want, want.Describe(), out)
		}
		if len(c.env) > 0 && !strings.Contains(out, "environment: "+strings.Join(c.env, " ")) {
			t.Errorf("%s: the environment read is not said:\n%s", what, out)
		}
		if !strings.Contains(out, fmt.Sprintf(" (attention %s)\n", attn.Kernels)) || (attn.CuDNN != "") != strings.Contains(out, "cuDNN: "+attn.CuDNN+"\n") {
			t.Errorf("%s: want the attention %s said:\n%s", what, attn, out)
		}
	}
	// a bad value is refused as the engine refuses it: exit 2, naming the variable
	code, _, errs := gpubenchEnv(t, []string{"OLMOLAB_GPU_KEEP=some"}, "plan", "--preset", "olmo2_1B_v2")
	if code != 2 || !strings.Contains(errs, `OLMOLAB_GPU_KEEP="some": want a non-negative number`) {
		t.Errorf("OLMOLAB_GPU_KEEP=some: exit %d, %s", code, errs)
	}
}

// TestPacked: gpubench packed scores questions packed (a question a row)
// and plain (a request a row) and passes when the continuations' log-probs
// agree, with one RESULT line; here on the CPU engine, which packs too (the
// emulated GPU engines: TestPackedEmulated). Below the difference it
// measured, the tolerance fails it, exit status 1.
func TestPacked(t *testing.T) {
	args := []string{"packed", "--backend", "cpu", "--preset", "cpu_xs", "--questions", "3", "--choices", "4", "--context", "70", "--cont", "5", "--reps", "1"}
	code, out, errs := gpubench(t, args...)
	if code != 0 || !strings.Contains(out, "packed PASS cpu_xs on cpu: 3 questions × 4 choices, context 70, continuation 5: max |Δ log p|") ||
		!strings.Contains(out, `RESULT {`) || !strings.Contains(out, `"check":"packed"`) || !strings.Contains(out, `"pass":true`) {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	t.Log(out)
	code, out, errs = gpubench(t, append(args, "--tol", "1e-30")...)
	if code != 1 || !strings.Contains(out, "packed FAIL") || !strings.Contains(errs, "packed log-probs differ from the plain rows'") {
		t.Errorf("at a tolerance below the rounding: exit %d\n%s%s", code, out, errs)
	}
}

// TestPlanSaysKernelsRun: gpubench plan's environment line names the
// attention kernels the engine runs, and its cuDNN line what cuDNN's part
// of the plan rests on (without a GPU: an assumption, said as one). With
// --fp32 it said "mma", the default asked for, where the fp32 engine runs
// the plain kernels.
func TestPlanSaysKernelsRun(t *testing.T) {
	for _, c := range []struct {
		env  []string
		args []string
		want []string
		not  string
	}{
		{nil, []string{"--fp32"}, []string{"the engine's defaults (attention plain)\n"}, "cuDNN:"},
		{[]string{"OLMOLAB_GPU_ATTN=cudnn"}, []string{"--fp32"}, []string{"OLMOLAB_GPU_ATTN=cudnn (attention plain)\n"}, "cuDNN:"},
		{[]string{"OLMOLAB_GPU_ATTN=v2"}, nil, []string{"OLMOLAB_GPU_ATTN=v2 (attention v2:8/4/4)\n"}, "cuDNN:"},
		{[]string{"OLMOLAB_GPU_ATTN=auto"}, nil, []string{"OLMOLAB_GPU_ATTN=auto (attention auto)\n",
			"cuDNN: no GPU here: assumed a cuDNN that loads and takes 4096-token rows, its workspace reserved in the plan"}, ""},
	} {
		args := append([]string{"plan", "--preset", "olmo2_1B_v2", "--budget-gib", "40"}, c.args...)
		code, out, errs := gpubenchEnv(t, c.env, args...)
		if code != 0 {
			t.Fatalf("%v gpubench %v: exit %d\n%s%s", c.env, args, code, out, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v gpubench %v: output lacks %q:\n%s", c.env, args, w, out)
			}
		}
		if c.not != "" && strings.Contains(out, c.not) {
			t.Errorf("%v gpubench %v: output has %q:\n%s", c.env, args, c.not, out)
		}
	}
}

// TestBenchMFUIsTheEngines: gpubench bench measures MFU against the
// engine's own peak (gpu.Engine.PeakFLOPS, as the lab does), and gives none
// where no peak is known: here a CPU backend, whose steps it divided by an
// H100's 989 TFLOP/s of its own, as it did an fp32 engine's (67 TFLOP/s).
func TestBenchMFUIsTheEngines(t *testing.T) {
	code, out, errs := gpubench(t, "bench", "--backend", "cpu", "--preset", "cpu_xs", "--batch", "1", "--seq", "16", "--steps", "1", "--warmup", "0")
	if code != 0 {
		t.Fatalf("gpubench bench: exit %d\n%s%s", code, out, errs)
	}
	var res map[string]any
	for _, l := range strings.Split(out, "\n") {
		if after, ok := strings.CutPrefix(l, "RESULT "); ok {
			if err := json.Unmarshal([]byte(after), &res); err != nil {
				t.Fatalf("%s: %v", l, err)
			}
		}
	}
	if res == nil {
		t.Fatalf("no RESULT line:\n%s", out)
	}
	if mfu, ok := res["mfu"]; ok || res["peak_flops"] != 0.0 || !strings.Contains(out, " mfu=- ") {
		t.Errorf("a backend without a known peak: mfu %v (given %v), peak_flops %v; want none, 0, and mfu=- in:\n%s", mfu, ok, res["peak_flops"], out)
	}
}

// TestTraffic: gpubench traffic prints the modeled traffic of a step under
// the engine's plan, with OLMOLAB_GPU_FUSE=0 the unfused kernels' (more
// bytes and launches), one RESULT line each; a bad OLMOLAB_GPU_FUSE is
// refused, exit 2, naming the variable.
func TestTraffic(t *testing.T) {
	gb := map[string]float64{}
	for _, fuse := range []string{"1", "0"} {
		code, out, errs := gpubenchEnv(t, []string{"OLMOLAB_GPU_FUSE=" + fuse}, "traffic", "--preset", "olmo2_190M", "--batch", "2", "--seq", "256")
		if code != 0 || !strings.Contains(out, "bwd:swiglu_bwd") || !strings.Contains(out, "not measured") {
			t.Fatalf("OLMOLAB_GPU_FUSE=%s: exit %d\n%s%s", fuse, code, out, errs)
		}
		if fuse == "1" == strings.Contains(out, "bwd:rope_bwd") || fuse == "1" != strings.Contains(out, "bwd:rms_bwd_dw_act") {
			t.Errorf("OLMOLAB_GPU_FUSE=%s: the wrong norm backward:\n%s", fuse, out)
		}
		var r struct {
			GB float64 `json:"gb"`
		}
		i := strings.Index(out, "RESULT ")
		if i < 0 || json.Unmarshal([]byte(strings.TrimSpace(out[i+len("RESULT "):])), &r) != nil || r.GB <= 0 {
			t.Fatalf("no RESULT line:\n%s", out)
		}
		gb[fuse] = r.GB
	}
	if !(gb["1"] < gb["0"]) {
		t.Errorf("fused %.3f GB a step, unfused %.3f", gb["1"], gb["0"])
	}
	code, _, errs := gpubenchEnv(t, []string{"OLMOLAB_GPU_FUSE=yes"}, "traffic")
	if code != 2 || !strings.Contains(errs, `OLMOLAB_GPU_FUSE="yes": want 1`) {
		t.Errorf("OLMOLAB_GPU_FUSE=yes: exit %d, %s", code, errs)
	}
}
