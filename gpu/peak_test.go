package gpu

import "testing"

// TestPeakFLOPS: the peaks the lab's MFU divides by, by the device's name
// as cudaDevice labels it, and none (0: no MFU) where perf.md has no figure.
func TestPeakFLOPS(t *testing.T) {
	for _, tc := range []struct {
		name string
		fp32 bool
		want float64
	}{
		{"NVIDIA H200 (sm_90, driver 12040, cuBLAS 120401 from libcublas.so.12)", false, 989e12},
		{"NVIDIA H200 (sm_90, driver 12040, cuBLAS 120401 from libcublas.so.12)", true, 67e12},
		{"NVIDIA H100 80GB HBM3 (sm_90, driver 12040, cuBLAS 120401 from libcublas.so.12)", false, 989e12},
		{"NVIDIA H100 PCIe (sm_90, driver 12040, cuBLAS 120401 from libcublas.so.12)", false, 0},
		{"NVIDIA H100 NVL (sm_90, driver 12040, cuBLAS 120401 from libcublas.so.12)", false, 0},
		{"NVIDIA A100-SXM4-80GB (sm_80, driver 12040, cuBLAS 120401 from libcublas.so.12)", false, 0},
		{"emulator", false, 0},
	} {
		if got := peakFLOPS(tc.name, tc.fp32); got != tc.want {
			t.Errorf("peakFLOPS(%q, fp32 %v) = %g, want %g", tc.name, tc.fp32, got, tc.want)
		}
	}
	e, err := newEngine(newFake(t), smallConfig(48, 6, 2, 8), 1, 8, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if p := e.PeakFLOPS(); p != 0 {
		t.Errorf("an engine on a device named %q: peak %g, want 0", "fake", p)
	}
}
