package safetensors

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// goldenDir is where CI puts the shared reference files: the repository is
// cloned with shared/ beside it.
const goldenDir = "../../../shared/golden"

func goldenFile(t *testing.T, set, name string) *File {
	t.Helper()
	path := filepath.Join(goldenDir, set, name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("golden file %s not available (%v); clone shared/ beside the repository to run this test", path, err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func scalar(t *testing.T, f *File, name string) float64 {
	t.Helper()
	tn, ok := f.Get(name)
	if !ok {
		t.Fatalf("%s: no tensor %q", f.Path, name)
	}
	if tn.DType != F64 || len(tn.Shape) != 0 {
		t.Fatalf("%s: %s is %s %v, want F64 []", f.Path, name, tn.DType, tn.Shape)
	}
	v, err := tn.Float64s(nil)
	if err != nil {
		t.Fatal(err)
	}
	return v[0]
}

func TestGoldenModel(t *testing.T) {
	tests := []struct {
		set    string
		params int
		shapes map[string][]int
	}{
		{"olmo2-tiny", 26912, map[string][]int{
			"lm_head.weight":                         {96, 32},
			"model.embed_tokens.weight":              {96, 32},
			"model.layers.1.self_attn.k_proj.weight": {32, 32},
			"model.layers.0.mlp.down_proj.weight":    {32, 64},
			"model.layers.0.self_attn.q_norm.weight": {32},
			"model.norm.weight":                      {32},
		}},
		{"olmo2-gqa", 65808, map[string][]int{
			"model.layers.2.self_attn.k_proj.weight": {16, 48},
			"model.layers.0.self_attn.q_proj.weight": {48, 48},
			"model.layers.0.self_attn.k_norm.weight": {16},
			"model.layers.2.mlp.gate_proj.weight":    {80, 48},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.set, func(t *testing.T) {
			f := goldenFile(t, tt.set, "model.safetensors")
			if got := f.Metadata; got["format"] != "pt" || got["generator"] != "olmo2_ref.py" {
				t.Errorf("metadata = %v", got)
			}
			total := 0
			for i := range f.Tensors {
				tn := &f.Tensors[i]
				if tn.DType != F64 {
					t.Errorf("%s is %s, want F64", tn.Name, tn.DType)
				}
				total += tn.NumElements()
			}
			if total != tt.params {
				t.Errorf("%d parameters, want %d", total, tt.params)
			}
			for name, shape := range tt.shapes {
				tn, ok := f.Get(name)
				if !ok {
					t.Errorf("no %s", name)
					continue
				}
				if !reflect.DeepEqual(tn.Shape, shape) {
					t.Errorf("%s shape %v, want %v", name, tn.Shape, shape)
				}
			}
			if _, ok := f.Get("model.layers.0.input_layernorm.weight"); ok {
				t.Error("found input_layernorm, which OLMo 2 does not have")
			}
			// Norm weights are 1 + 0.1·N(0,1): near 1, never exactly 1.
			w, _ := f.Get("model.norm.weight")
			v, err := w.Float32s(nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, x := range v {
				if x == 1 || x < 0.3 || x > 1.7 {
					t.Errorf("model.norm.weight[%d] = %g, want 1 + 0.1·N(0,1)", i, x)
					break
				}
			}
			// A re-encoding reads back identical.
			g, err := Parse("re-encoded", encode(t, f.Metadata, f.Tensors))
			if err != nil {
				t.Fatal(err)
			}
			if d := sameTensors(g.Tensors, f.Tensors); d != "" || !reflect.DeepEqual(g.Metadata, f.Metadata) {
				t.Errorf("re-encoded file differs: %s", d)
			}
		})
	}
}

func TestGoldenCase(t *testing.T) {
	tests := []struct {
		set            string
		b, t, v        int
		loss, zLoss    float64
		gradNorm       float64
		ignored        [][2]int // (b, t) with label -100 besides the last position
		eosRow0AtTHalf int
	}{
		{"olmo2-tiny", 2, 16, 96, 4.6065637355133484, 2.0821415679288537e-04, 3.1981318477719722, [][2]int{{0, 6}, {1, 1}, {1, 12}}, 94},
		{"olmo2-gqa", 2, 24, 128, 4.8502443475258552, 2.3768088743308387e-04, 4.0159157878606075, [][2]int{{0, 5}, {0, 8}, {1, 22}}, 126},
	}
	for _, tt := range tests {
		t.Run(tt.set, func(t *testing.T) {
			f := goldenFile(t, tt.set, "case.safetensors")
			if got := scalar(t, f, "loss"); got != tt.loss {
				t.Errorf("loss = %.17g, want %.17g", got, tt.loss)
			}
			if got := scalar(t, f, "z_loss"); got != tt.zLoss {
				t.Errorf("z_loss = %.17g, want %.17g", got, tt.zLoss)
			}
			if got := scalar(t, f, "grad_norm"); got != tt.gradNorm {
				t.Errorf("grad_norm = %.17g, want %.17g", got, tt.gradNorm)
			}
			ids, ok := f.Get("input_ids")
			if !ok {
				t.Fatal("no input_ids")
			}
			if ids.DType != I64 || !reflect.DeepEqual(ids.Shape, []int{tt.b, tt.t}) {
				t.Fatalf("input_ids = %v %v, want I64 [%d %d]", ids.DType, ids.Shape, tt.b, tt.t)
			}
			in, err := ids.Int64s()
			if err != nil {
				t.Fatal(err)
			}
			lt, _ := f.Get("labels")
			labels, err := lt.Int64s()
			if err != nil {
				t.Fatal(err)
			}
			if got := in[tt.t/2]; got != int64(tt.eosRow0AtTHalf) {
				t.Errorf("input_ids[0, T/2] = %d, want the eos id %d", got, tt.eosRow0AtTHalf)
			}
			ignored := map[[2]int]bool{}
			for _, p := range tt.ignored {
				ignored[p] = true
			}
			for b := range tt.b {
				for ti := range tt.t {
					id := in[b*tt.t+ti]
					if id < 0 || id >= int64(tt.v-1) {
						t.Fatalf("input_ids[%d,%d] = %d outside [0, V-1)", b, ti, id)
					}
					want := int64(-100)
					if ti < tt.t-1 && !ignored[[2]int{b, ti}] {
						want = in[b*tt.t+ti+1] // pre-shifted labels
					}
					if got := labels[b*tt.t+ti]; got != want {
						t.Errorf("labels[%d,%d] = %d, want %d", b, ti, got, want)
					}
				}
			}
			logits, _ := f.Get("logits")
			if !reflect.DeepEqual(logits.Shape, []int{tt.b, tt.t, tt.v}) {
				t.Errorf("logits shape %v", logits.Shape)
			}
			// Every parameter named in the metadata has its gradient and step.
			for _, p := range strings.Split(f.Metadata["param_names"], ",") {
				for _, prefix := range []string{"grad.", "step1."} {
					if _, ok := f.Get(prefix + p); !ok {
						t.Errorf("no %s%s", prefix, p)
					}
				}
			}
		})
	}
}
