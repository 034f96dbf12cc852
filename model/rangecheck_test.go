package model

import "testing"

// TestCPURangedAccess: the CPU engines' ranged reads and writes (float32, and
// float64 behind the float32 interface) at odd offsets and lengths, tied and
// untied embeddings.
func TestCPURangedAccess(t *testing.T) {
	for _, tied := range []bool{false, true} {
		cfg := tinyConfig(tied, 2)
		if err := CheckRangedAccess(func() (Backend, error) { return NewCPUBackend(cfg, 2, 8, 1), nil }); err != nil {
			t.Errorf("cpu, tied=%v: %v", tied, err)
		}
		if err := CheckRangedAccess(func() (Backend, error) { return NewCPU64Backend(cfg, 2, 8, 1), nil }); err != nil {
			t.Errorf("cpu-f64, tied=%v: %v", tied, err)
		}
	}
}
