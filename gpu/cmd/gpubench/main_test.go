package main

import (
	"bytes"
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
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "GPUBENCH_TEST_MAIN=1")
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
	b := int64(budget * (1 << 30)) // as gpubench reads --budget-gib
	for _, name := range []string{"olmo2_7B", "olmo2_13B"} {
		cfg, err := model.PresetByName(name)
		if err != nil {
			t.Fatal(err)
		}
		code, out, errs := gpubench(t, "plan", "--preset", name, "--batch", "1", "--seq", "4096", "--scoring", "--budget-gib", fmt.Sprint(budget))
		if code != 0 {
			t.Fatalf("%s: gpubench plan --scoring: exit %d\n%s%s", name, code, out, errs)
		}
		p, err := gpu.NewScoringPlan(cfg, 1, 4096, b, gpu.Options{})
		if err != nil {
			t.Fatal(err)
		}
		least := float64(gpu.EstimateScoringMemory(cfg, 1, 4096)) / (1 << 30)
		for _, want := range []string{
			fmt.Sprintf("%s at 1×4096, forward only (olmolab eval): at least %.2f GiB", name, least),
			"plan within 140.40 GiB: " + p.String(),
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
