package gpucheck

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// run is one dry run of gpu-check.sh: its summary, the calls the stand-ins
// saw, and $OUT.
type run struct {
	summary, calls, out string
}

// setup lays out a repository with gpu-check.sh, stand-in binaries with a
// source stamp over the repository's one source file (stale: a wrong
// hash), and a PATH whose nvidia-smi, compute-sanitizer and python3 are
// stand-ins.
func setup(t *testing.T, stale bool) (dir string, env []string) {
	t.Helper()
	for _, tool := range []string{"bash", "timeout", "tar", "sha256sum", "stat"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
	}
	dir = t.TempDir()
	script, err := os.ReadFile("../gpu-check.sh")
	if err != nil {
		t.Fatal(err)
	}
	stub, err := os.ReadFile("stub.sh")
	if err != nil {
		t.Fatal(err)
	}
	src := []byte("package main\n")
	sum := fmt.Sprintf("%x", sha256.Sum256(src))
	if stale {
		sum = strings.Repeat("0", 64)
	}
	files := map[string][]byte{
		"repo/scripts/gpu-check.sh": script,
		"repo/main.go":              src,
		"bin/sources.sha256":        []byte(sum + "  main.go\n"),
	}
	for _, name := range []string{"bin/gpubench", "bin/olmolab", "path/nvidia-smi", "path/compute-sanitizer", "path/python3"} {
		files[name] = stub
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	env = []string{"PATH=" + filepath.Join(dir, "path") + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"HOME=" + dir, "TMPDIR=" + dir, "STUB_DIR=" + dir, "OUT=" + filepath.Join(dir, "out"), "BIN=" + filepath.Join(dir, "bin"),
		"BUDGET=300"}
	return dir, env
}

func read(t *testing.T, dir string) run {
	t.Helper()
	var r run
	for _, f := range []struct {
		dst  *string
		name string
	}{{&r.summary, "out/summary.txt"}, {&r.calls, "calls.log"}} {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		*f.dst = string(b)
	}
	r.out = filepath.Join(dir, "out")
	return r
}

func dryRun(t *testing.T, stale bool, scenario ...string) run {
	t.Helper()
	dir, env := setup(t, stale)
	cmd := exec.Command("bash", filepath.Join(dir, "repo/scripts/gpu-check.sh"))
	cmd.Env = append(env, scenario...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpu-check.sh: %v\n%s", err, out)
	}
	return read(t, dir)
}

// line is the summary's line of part name ("" if none).
func line(summary, name string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` .*$`).FindString(summary)
	return m
}

// TestDryRun: every part runs in order and passes with stand-ins that pass;
// binaries stamped from this tree are said to be.
func TestDryRun(t *testing.T) {
	r := dryRun(t, false)
	for _, name := range []string{"fuse-verify-bf16", "fuse-parity-cpu_s", "parity-v2-hs64", "parity-v2-hs128-gqa", "attn-cudnn-olmo2_1B_v2", "packed-scoring-bf16",
		"packed-scoring-fp32", "bench-olmo2_1B_v2-auto",
		"torch-bench", "bench-olmo2_190M-auto", "bench-olmo2_7B-auto", "verify-fp32-olmo2-tiny", "parity-fp32-cpu_s",
		"bench-olmo2_1B_v2-mma", "attn-olmo2_1B_v2", "profile-olmo2_1B_v2-auto", "memcheck-v2-hs64", "racecheck-v2-hs128",
		"parity-mma-hs128-gqa", "train-cuda-cpu_s", "memcheck-hs64"} {
		if l := line(r.summary, name); !regexp.MustCompile(`^\S+ +ok `).MatchString(l) {
			t.Errorf("part %s: %q\n%s", name, l, r.summary)
		}
	}
	if l := line(r.summary, "packed-scoring-fp32"); !strings.Contains(l, "packed PASS cpu_s on cuda-fp32") {
		t.Errorf("packed-scoring-fp32's line does not give its verdict: %q", l)
	}
	for _, want := range []string{"binaries: built from this tree's sources (1 files stamped)", "attention auto chose mma (stub)",
		"eval: skipped, no checkpoint", "no .device/ref/cpu_s_train.txt"} {
		if !strings.Contains(r.summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.summary)
		}
	}
	if strings.Contains(r.calls, "CUDNN=none") {
		t.Errorf("cuDNN turned off though its check passed:\n%s", r.calls)
	}
	for _, f := range []string{"summary.txt", "results.jsonl", "check.log", "logs.tar.gz"} {
		if _, err := os.Stat(filepath.Join(r.out, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(r.out, "running.log")); err == nil {
		t.Error("running.log left behind by a run that finished")
	}
}

// TestDryRunFuseFails: the fused norm backward fails its check (every
// engine run on it faults): the summary says so, and every part after runs
// with OLMOLAB_GPU_FUSE=0 and passes; with the check passing nothing sets it.
func TestDryRunFuseFails(t *testing.T) {
	r := dryRun(t, false, "STUB_FUSE_FAIL=1")
	for _, name := range []string{"fuse-verify-bf16", "fuse-parity-cpu_s"} {
		if l := line(r.summary, name); !strings.Contains(l, "FAIL(1)") {
			t.Errorf("%s: %q\n%s", name, l, r.summary)
		}
	}
	if !strings.Contains(r.summary, "fused norm backward FAILED its check: the parts below run the unfused kernels (OLMOLAB_GPU_FUSE=0)") {
		t.Errorf("the summary does not say the fallback:\n%s", r.summary)
	}
	after := false
	for _, c := range strings.Split(r.calls, "\n") {
		if strings.HasPrefix(c, "gpubench parity") && strings.Contains(c, "--heads 2 --steps 20 --batch 4 --seq 160") && !after {
			after = true // the fuse check's parity: the calls after it are the later parts'
			continue
		}
		if after && (strings.HasPrefix(c, "gpubench ") || strings.HasPrefix(c, "olmolab ")) && !strings.HasSuffix(c, "FUSE=0") {
			t.Errorf("a later part runs the fused kernels: %s", c)
		}
	}
	if !after {
		t.Errorf("no fuse parity call:\n%s", r.calls)
	}
	for _, name := range []string{"parity-v2-hs64", "bench-olmo2_1B_v2-auto", "verify-bf16-olmo2-gqa", "parity-bf16-cpu_s", "train-cuda-cpu_s", "profile-olmo2_1B_v2-auto"} {
		if l := line(r.summary, name); !strings.Contains(l, " ok ") {
			t.Errorf("%s after the fallback: %q\n%s", name, l, r.summary)
		}
	}
	ok := dryRun(t, false)
	if strings.Contains(ok.calls, "FUSE=0") || !strings.Contains(ok.summary, "fused norm backward passed its check") {
		t.Errorf("the fused path passed, yet:\n%s\n%s", ok.summary, ok.calls)
	}
}

// TestDryRunV2Hangs: a v2 parity part that runs out of time skips the other
// v2 parts (each would hang as long, taking the budget of what follows),
// and the benchmarks use mma (cuDNN failed its check too).
func TestDryRunV2Hangs(t *testing.T) {
	r := dryRun(t, false, "STUB_V2_HANG=1", "STUB_CUDNN_FAIL=1")
	if l := line(r.summary, "parity-v2-hs64"); !strings.Contains(l, "TIMEOUT") {
		t.Errorf("parity-v2-hs64: %q", l)
	}
	for _, skipped := range []string{"parity-v2-hs128-gqa", "memcheck-v2-hs64", "racecheck-v2-hs128"} {
		if l := line(r.summary, skipped); l != "" {
			t.Errorf("%s ran after v2 hung: %q", skipped, l)
		}
	}
	if strings.Contains(r.calls, "v2:8/4/4") || strings.Contains(r.calls, "v2:8/4/8") {
		t.Errorf("v2 layouts launched after v2 hung:\n%s", r.calls)
	}
	if l := line(r.summary, "bench-olmo2_1B_v2-mma"); !strings.Contains(l, " ok ") {
		t.Errorf("bench-olmo2_1B_v2-mma: %q\n%s", l, r.summary)
	}
	if !strings.Contains(r.summary, "v2 hung in parity-v2-hs64") {
		t.Errorf("the summary does not say why v2's parts were skipped:\n%s", r.summary)
	}
}

// TestDryRunCuDNNFails: v2 passes, cuDNN fails its check: auto's
// benchmarks run with cuDNN off, so that a cuDNN fault in auto's trial
// cannot fail their start.
func TestDryRunCuDNNFails(t *testing.T) {
	r := dryRun(t, false, "STUB_CUDNN_FAIL=1")
	n := 0
	for _, c := range strings.Split(r.calls, "\n") {
		if strings.HasPrefix(c, "gpubench bench") && strings.Contains(c, "ATTN=auto") {
			n++
			if !strings.Contains(c, "CUDNN=none") {
				t.Errorf("auto with the cuDNN that failed: %s", c)
			}
		}
	}
	if n != 4 { // 1B, 190M, 7B, the profile
		t.Errorf("%d auto benchmarks, want 4:\n%s", n, r.calls)
	}
	if !strings.Contains(r.summary, "auto runs without it (OLMOLAB_CUDNN=none)") {
		t.Errorf("summary:\n%s", r.summary)
	}
}

// TestDryRunPackedFails: a packed-scoring check that fails is recorded as
// such, with its verdict line, and the parts after it run.
func TestDryRunPackedFails(t *testing.T) {
	r := dryRun(t, false, "STUB_PACKED_FAIL=1")
	if l := line(r.summary, "packed-scoring-bf16"); !strings.Contains(l, "FAIL(1)") || !strings.Contains(l, "packed FAIL olmo2_1B_v2 on cuda") {
		t.Errorf("packed-scoring-bf16: %q\n%s", l, r.summary)
	}
	for _, name := range []string{"bench-olmo2_1B_v2-auto", "verify-fp32-olmo2-tiny", "train-cuda-cpu_s"} {
		if l := line(r.summary, name); !strings.Contains(l, " ok ") {
			t.Errorf("%s after the packed check failed: %q\n%s", name, l, r.summary)
		}
	}
}

// TestDryRunStaleBinaries: binaries built from other sources are named.
func TestDryRunStaleBinaries(t *testing.T) {
	r := dryRun(t, true)
	if !strings.Contains(r.summary, "WARNING: the binaries were built from other sources than this tree (rerun scripts/gpu-build.sh): main.go") {
		t.Errorf("summary:\n%s", r.summary)
	}
}

// TestDryRunBudget: parts that would start past the budget are skipped and
// said to be.
func TestDryRunBudget(t *testing.T) {
	r := dryRun(t, false, "BUDGET=14")
	if l := line(r.summary, "parity-v2-hs64"); !strings.Contains(l, "SKIPPED  no time left in the 14s budget") {
		t.Errorf("parity-v2-hs64: %q\n%s", l, r.summary)
	}
	for name, want := range map[string]string{
		"plan-vs-engine":    "SKIPPED  no benchmark reported its engine's plan",
		"eval-cudnn-vs-mma": "s budget, the cuDNN scoring check needs 60s",
	} {
		if l := line(r.summary, name); !strings.Contains(l, want) {
			t.Errorf("%s: %q, want …%s\n%s", name, l, want, r.summary)
		}
	}
	// time for the parts before it but not for the cuDNN scoring check:
	// skipped whole, nothing of it started
	r = dryRun(t, false, "BUDGET=50")
	if l := line(r.summary, "eval-cudnn-vs-mma"); !regexp.MustCompile(`SKIPPED  \d+s left of the 50s budget, the cuDNN scoring check needs 60s$`).MatchString(l) {
		t.Errorf("eval-cudnn-vs-mma: %q\n%s", l, r.summary)
	}
	if strings.Contains(r.calls, "cpu_l") || strings.Contains(r.summary, "train-cuda-cpu_l") {
		t.Errorf("part of the skipped check ran:\n%s", r.calls)
	}
	if l := line(r.summary, "verify-bf16-at-fp32-tol"); !strings.Contains(l, " ok ") || !strings.Contains(r.summary, "\ndone in ") {
		t.Errorf("the parts after it: %q\n%s", l, r.summary)
	}
}

// needPython skips a test whose comparison runs on the real python3 (the
// stand-in hands it scripts on stdin).
func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
}

// TestDryRunPlanAndCuDNNScoring: block F checks gpubench plan against the
// plan each benchmark's engine reported, under that benchmark's
// environment, and scores a cpu_l checkpoint (head size 64) with cudnn and
// with mma, saying which rows cuDNN ran and which it refused.
func TestDryRunPlanAndCuDNNScoring(t *testing.T) {
	needPython(t)
	r := dryRun(t, false)
	for _, name := range []string{"plan-vs-engine", "train-cuda-cpu_l", "eval-cudnn-cpu_l", "eval-mma-cpu_l", "eval-cudnn-vs-mma"} {
		if l := line(r.summary, name); !regexp.MustCompile(`^\S+ +ok `).MatchString(l) {
			t.Errorf("part %s: %q\n%s", name, l, r.summary)
		}
	}
	for _, want := range []string{"plan-vs-engine: 4 of 4 plans agree with their engine's", "eval-cudnn-vs-mma: PASS, largest relative difference 0.00e+00"} {
		if !strings.Contains(r.summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.summary)
		}
	}
	for _, want := range []string{
		// each benchmark's plan asked for under its environment
		"gpubench plan --preset olmo2_7B --batch 4 --seq 4096 | ATTN=auto CUDNN=",
		"gpubench plan --preset olmo2_1B_v2 --batch 8 --seq 4096 | ATTN=mma CUDNN=",
		"olmolab eval --backend cuda --model ", "--seq 256 --val 512 --json",
	} {
		if !strings.Contains(r.calls, want) {
			t.Errorf("calls lack %q:\n%s", want, r.calls)
		}
	}
	evals := regexp.MustCompile(`(?m)^olmolab eval .*ck-cpu_l .*\| ATTN=(\w+)`).FindAllStringSubmatch(r.calls, -1)
	if len(evals) != 2 || evals[0][1] != "cudnn" || evals[1][1] != "mma" {
		t.Errorf("cpu_l's evals: %q\n%s", evals, r.calls)
	}
	log := readLog(t, r, "eval-cudnn-vs-mma")
	if !strings.Contains(log, "cuDNN ran rows of [256]; refused rows of [72], which ran mma") {
		t.Errorf("eval-cudnn-vs-mma's log:\n%s", log)
	}
}

// readLog is part name's log from $OUT/logs.tar.gz.
func readLog(t *testing.T, r run, name string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xzf", filepath.Join(r.out, "logs.tar.gz"), "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "logs", name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDryRunPlanAndScoresDiffer: a plan gpubench plan gets otherwise than
// the engine, and cuDNN's scores off mma's, fail their parts with what
// differs; the parts after them still run.
func TestDryRunPlanAndScoresDiffer(t *testing.T) {
	needPython(t)
	r := dryRun(t, false, "STUB_PLAN_DIFF=1", "STUB_EVAL_DIFF=1")
	for name, want := range map[string]string{
		"plan-vs-engine":    "plan-vs-engine: 3 of 4 plans agree with their engine's",
		"eval-cudnn-vs-mma": "eval-cudnn-vs-mma: FAIL, largest relative difference 6.49e-02 (tolerance 1e-02); val/qa ce_loss 8.20000 vs 7.70000",
	} {
		if l := line(r.summary, name); !strings.Contains(l, "FAIL(1)") || !strings.Contains(l, want) {
			t.Errorf("%s: %q, want FAIL(1) …%s", name, l, want)
		}
	}
	if l := line(r.summary, "verify-bf16-at-fp32-tol"); !strings.Contains(l, " ok ") {
		t.Errorf("the part after them: %q\n%s", l, r.summary)
	}
	log := readLog(t, r, "plan-vs-engine")
	for _, want := range []string{"olmo2_7B 4x4096 OLMOLAB_GPU_ATTN=auto: DIFFERENT plans",
		"  the engine's:   bf16, 4×4096 per step in passes of 1×4096, 21 of 32 layers resident",
		"  gpubench plan:  bf16, 4×4096 per step in passes of 1×4096, 22 of 32 layers resident"} {
		if !strings.Contains(log, want) {
			t.Errorf("plan-vs-engine's log lacks %q:\n%s", want, log)
		}
	}
}

// issue8 is the summary's issue 8 section: from its heading to "done in".
func issue8(t *testing.T, summary string) string {
	t.Helper()
	i := strings.Index(summary, "\nissue 8 (PASS")
	j := strings.LastIndex(summary, "\ndone in ")
	if i < 0 || j < i {
		t.Fatalf("no issue 8 section last in the summary:\n%s", summary)
	}
	return summary[i+1 : j+1]
}

// row is a line of the issue 8 section.
func row(verdict, what, figure string) string {
	return fmt.Sprintf("%-8s %-30s %s", verdict, what, figure)
}

// TestDryRunIssue8Summary: the summary ends with every figure issue 8 asks
// for (golden sets on both verifies, GPU vs CPU loss over 50 steps,
// olmo2_190M and olmo2_1B_v2 at 4096 against PyTorch in the same call,
// olmo2_7B's steps with tokens/s, MFU and memory), one PASS/FAIL/MISSING
// line each, read from the parts' logs. It had only the parts' status
// lines and the raw throughput lines, no ratio, no verdict per figure.
func TestDryRunIssue8Summary(t *testing.T) {
	needPython(t)
	s := issue8(t, dryRun(t, false).summary)
	for _, want := range []string{
		row("PASS", "verify cuda-fp32 olmo2-tiny", "97 of 97 tensors within the CPU tolerances (1e-4 forward, 1e-3 backward)\n"),
		row("PASS", "verify cuda (bf16) olmo2-gqa", "65 of 65 tensors within 3e-2 forward, 6e-2 backward; worst step1.v_proj 3.5e-02\n"),
		row("PASS", "parity cuda-fp32", "GPU vs CPU loss over 50 steps of cpu_s: largest relative difference 4.3e-03; drift from the float64 engine 4.1e-03 vs the float32 CPU's 5.2e-03, ratio 0.79 (allowed 3.0)\n"),
		row("PASS", "parity cuda (bf16)", "GPU vs CPU loss over 50 steps of cpu_s: largest relative difference 1.0e-04 (tolerance 3e-02)\n"),
		row("PASS", "throughput olmo2_190M", "8x4096 attention auto: 35,157 tokens/s, MFU 33.0%, 77.8 GiB used; PyTorch 293,325 tokens/s, MFU 47.3%, 28.2 GiB peak: 0.12x PyTorch\n"),
		row("PASS", "throughput olmo2_1B_v2", "8x4096 attention auto: 35,157 tokens/s, MFU 33.0%, 77.8 GiB used; PyTorch 62,885 tokens/s, MFU 59.1%, 75.7 GiB peak: 0.56x PyTorch\n"),
		row("PASS", "olmo2_7B", "4x4096 attention auto, 5 steps: 35,157 tokens/s, MFU 33.0%, 77.8 GiB used after the steps"),
		"issue 8: 10 of 10 PASS\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("issue 8 section lacks %q:\n%s", want, s)
		}
	}
	// a failed verify, a missing PyTorch figure, parts that never ran
	s = issue8(t, dryRun(t, false, "STUB_VERIFY_FAIL=1", "STUB_TORCH_190M_FAIL=1").summary)
	for _, want := range []string{
		row("FAIL", "verify cuda (bf16) olmo2-gqa", "90 of 91 tensors within 3e-2 forward, 6e-2 backward; worst step1.q_proj 7.1e-02 (verify-bf16-olmo2-gqa FAIL(1))\n"),
		row("MISSING", "throughput olmo2_190M", "8x4096 attention auto: 35,157 tokens/s, MFU 33.0%, 77.8 GiB used; no PyTorch figure (torch-bench ok)\n"),
		"issue 8: 8 of 10 PASS\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("issue 8 section lacks %q:\n%s", want, s)
		}
	}
	s = issue8(t, dryRun(t, false, "BUDGET=14").summary)
	for _, want := range []string{row("MISSING", "verify cuda-fp32 olmo2-tiny", "(verify-fp32-olmo2-tiny did not run)\n"),
		row("MISSING", "olmo2_7B", "(bench-olmo2_7B did not run)\n"), "issue 8: 0 of 9 PASS\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("issue 8 section lacks %q:\n%s", want, s)
		}
	}
}

// TestDryRunKilled: a call killed inside a part (the device tool's limit)
// still returns that part's output so far ($OUT/running.log), with the
// parts before it in the summary and the logs.
func TestDryRunKilled(t *testing.T) {
	dir, env := setup(t, false)
	cmd := exec.Command("bash", filepath.Join(dir, "repo/scripts/gpu-check.sh"))
	cmd.Env = append(env, "STUB_TORCH_HANG=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "torch.pid")
	var pid []byte
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 {
			pid = b
			break
		}
	}
	// the tool kills the call: the script's group, then (on the device, when
	// the call returns) whatever is left, here the stand-in in timeout's group
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	if n, err := strconv.Atoi(strings.TrimSpace(string(pid))); err == nil {
		syscall.Kill(n, syscall.SIGKILL)
	} else {
		t.Fatalf("torch-bench never started: %v", err)
	}
	r := read(t, dir)
	b, err := os.ReadFile(filepath.Join(r.out, "running.log"))
	if err != nil {
		t.Fatalf("the killed part's output did not come back: %v", err)
	}
	if !strings.HasPrefix(string(b), "### torch-bench") || !strings.Contains(string(b), "compiling") {
		t.Errorf("running.log:\n%s", b)
	}
	if l := line(r.summary, "bench-olmo2_1B_v2-auto"); !strings.Contains(l, " ok ") {
		t.Errorf("the parts before the kill: %q\n%s", l, r.summary)
	}
}

// TestTorchBenchFails: torch_gpu_bench.py reports a preset that fails and
// goes on to the next, and then exits non-zero, so that gpu-check.sh's
// torch-bench part says FAIL rather than ok (run on a stand-in torch whose
// every call fails).
func TestTorchBenchFails(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	fake, err := filepath.Abs("testdata/faketorch")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "../torch_gpu_bench.py", "--preset", "olmo2_190M", "--batch", "8", "--preset", "olmo2_1B_v2", "--batch", "8")
	cmd.Env = append(os.Environ(), "PYTHONPATH="+fake, "PYTHONDONTWRITEBYTECODE=1") // no __pycache__ in testdata
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("exit: %v, want status 1\n%s", err, out)
	}
	for _, want := range []string{"preset=olmo2_190M error=RuntimeError", "preset=olmo2_1B_v2 error=RuntimeError"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
