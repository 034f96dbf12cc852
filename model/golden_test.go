package model

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
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
		// the CPU backends keep their activations: every tensor Verify
		// compares is compared (verify --backend cpu-f64 compared 91 of
		// olmo2-gqa's 97, leaving out logsumexp and act.*)
		direct, err := Verify[float64](dir, filepath.Join(dir, "case.safetensors"), Float64Tolerances)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(direct) {
			var names []string
			for _, r := range rows {
				names = append(names, r.Name)
			}
			t.Errorf("%s: compared %d tensors, Verify %d: %s", set, len(rows), len(direct), strings.Join(names, " "))
		}
	}
}

// noActs is a Backend that keeps no activations verify can read, as the GPU
// engine's.
type noActs struct{ Backend }

// TestVerifyNotCompared: through a backend that keeps no activations verify
// can read, they are the tensors left out, and VerifyNotCompared names them;
// through the CPU backend, none is.
func TestVerifyNotCompared(t *testing.T) {
	dir := filepath.Join("testdata", "golden", "olmo2-gqa")
	casePath := filepath.Join(dir, "case.safetensors")
	for _, c := range []struct {
		name string
		wrap func(Backend) Backend
		want []string
	}{
		{"cpu", func(b Backend) Backend { return b }, nil},
		{"no activations", func(b Backend) Backend { return noActs{b} },
			[]string{"logsumexp", "act.embed", "act.final_norm", "act.layer.0", "act.layer.1", "act.layer.2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, err := VerifyBackend(dir, casePath, Float32Tolerances, func(cfg Config, B, T int) (Backend, error) {
				b, err := NewBackend("cpu", cfg, B, T)
				return c.wrap(b), err
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := VerifyNotCompared(casePath, rows)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(c.want))
			if !slices.Equal(got, want) {
				t.Errorf("not compared %q, want %q", got, want)
			}
		})
	}
}

// TestVerifyCaseOfAnotherModel: a case made from another model is refused
// before anything is computed, naming the case and the model's config.json
// and what differs: from the case's __metadata__ when it has one, from its
// tensors' shapes when not (a hand-made case).
func TestVerifyCaseOfAnotherModel(t *testing.T) {
	tiny, gqa := filepath.Join("testdata", "golden", "olmo2-tiny"), filepath.Join("testdata", "golden", "olmo2-gqa")
	// the gqa case without its __metadata__
	b, err := os.ReadFile(filepath.Join(gqa, "case.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	delete(hdr, "__metadata__")
	h, _ := json.Marshal(hdr)
	bare := filepath.Join(t.TempDir(), "bare.safetensors")
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(append(out, h...), b[8+n:]...)
	if err := os.WriteFile(bare, out, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		model, casePath string
		want            []string
	}{
		{tiny, filepath.Join(gqa, "case.safetensors"), []string{"hidden_size 48 (the model's 32)", "num_hidden_layers 3 (the model's 2)", "vocab_size 128 (the model's 96)"}},
		{gqa, filepath.Join(tiny, "case.safetensors"), []string{"hidden_size 32 (the model's 48)"}},
		{tiny, bare, []string{"logits is [2 24 128] (the model's [2 24 96])", "act.layer.2 (the model has 2 layers)"}},
	} {
		_, err := Verify[float32](tc.model, tc.casePath, Float32Tolerances)
		if err == nil {
			t.Fatalf("%s on %s: no error", tc.casePath, tc.model)
		}
		for _, w := range append(tc.want, tc.casePath, filepath.Join(tc.model, "config.json"), "is not a case of this model") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s on %s: error lacks %q:\n%v", tc.casePath, tc.model, w, err)
			}
		}
	}
}
