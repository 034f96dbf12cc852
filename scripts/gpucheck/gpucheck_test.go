package gpucheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

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
