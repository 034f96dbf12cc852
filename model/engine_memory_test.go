package model

import "testing"

// TestEstimateEngineMemory: the one rule for which engine a backend's host
// memory is (memoryNeed and bench's engineMemoryNeed both ask it): cpu's
// float32 engine, cpu-f64's float64 one, none on another backend.
func TestEstimateEngineMemory(t *testing.T) {
	cfg := tinyConfig(false, 2)
	for _, tc := range []struct {
		backend string
		want    int64
		ok      bool
	}{
		{"cpu", EstimateCPUMemory(cfg, 2, 16), true},
		{"cpu-f64", EstimateCPU64Memory(cfg, 2, 16), true},
		{"cuda", 0, false},
	} {
		if got, ok := EstimateEngineMemory(tc.backend, cfg, 2, 16); got != tc.want || ok != tc.ok {
			t.Errorf("%s: %d, %v; want %d, %v", tc.backend, got, ok, tc.want, tc.ok)
		}
	}
	if EstimateCPU64Memory(cfg, 2, 16) <= EstimateCPUMemory(cfg, 2, 16) {
		t.Error("the float64 engine is estimated no larger than the float32 one")
	}
}
