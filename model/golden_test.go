package model

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestGolden runs Verify on both reference sets (testdata/golden, copied from
// ../shared/golden) in float32 at the tolerances and in float64 at 1e-10.
func TestGolden(t *testing.T) {
	for _, set := range []string{"olmo2-tiny", "olmo2-gqa"} {
		dir := filepath.Join("testdata", "golden", set)
		casePath := filepath.Join(dir, "case.safetensors")
		for _, prec := range []string{"float32", "float64"} {
			t.Run(set+"/"+prec, func(t *testing.T) {
				var rows []VerifyRow
				var err error
				if prec == "float32" {
					rows, err = Verify[float32](dir, casePath, Float32Tolerances)
				} else {
					rows, err = Verify[float64](dir, casePath, Float64Tolerances)
				}
				if err != nil {
					t.Fatal(err)
				}
				kinds := map[string]int{}
				for _, r := range rows {
					kinds[strings.SplitN(r.Name, ".", 2)[0]]++
					if !r.OK {
						t.Errorf("%s: max rel err %.3g > %.0g (max abs %.3g): %s", r.Name, r.MaxRel, r.Tol, r.MaxAbs, r.First)
					}
				}
				lay := NewLayout(mustConfig(t, dir))
				for _, k := range []struct {
					kind string
					n    int
				}{{"logits", 1}, {"loss", 1}, {"z_loss", 1}, {"grad_norm", 1}, {"grad", len(lay.Tensors)}, {"step1", len(lay.Tensors)}} {
					if kinds[k.kind] != k.n {
						t.Errorf("compared %d %q tensors, want %d", kinds[k.kind], k.kind, k.n)
					}
				}
			})
		}
	}
}

func mustConfig(t *testing.T, dir string) Config {
	t.Helper()
	c, err := ReadConfigFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGoldenThroughBackend runs the same comparisons through the Backend
// interface (the path a GPU engine is checked on), with the CPU backend.
func TestGoldenThroughBackend(t *testing.T) {
	for _, c := range []struct{ set, backend string }{
		{"olmo2-tiny", "cpu"}, {"olmo2-gqa", "cpu"}, {"olmo2-tiny", "cpu-f64"}, {"olmo2-gqa", "cpu-f64"},
	} {
		set := c.set + " " + c.backend
		dir := filepath.Join("testdata", "golden", c.set)
		rows, err := VerifyBackend(dir, filepath.Join(dir, "case.safetensors"), Float32Tolerances,
			func(cfg Config, B, T int) (Backend, error) { return NewBackend(c.backend, cfg, B, T) })
		if err != nil {
			t.Fatal(err)
		}
		grads := 0
		for _, r := range rows {
			if !r.OK {
				t.Errorf("%s/%s: max rel err %.3g > %.0g", set, r.Name, r.MaxRel, r.Tol)
			}
			if strings.HasPrefix(r.Name, "grad.") {
				grads++
			}
		}
		if want := len(NewLayout(mustConfig(t, dir)).Tensors); grads != want {
			t.Errorf("%s: compared %d gradients, want %d", set, grads, want)
		}
	}
}
