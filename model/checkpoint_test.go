package model

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/model/safetensors"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		dtype safetensors.DType
		tied  bool
		shard int64
		tol   float64
	}{
		{"F32", false, 0, 0},
		{"F32", true, 0, 0},
		{"F32", false, 4000, 0}, // forces several shards and an index
		{"BF16", false, 0, 1.0 / 128},
	} {
		cfg := tinyConfig(tc.tied, 2)
		lay := NewLayout(cfg)
		params := make([]float32, lay.Size())
		Init(lay, params, 5)
		dir := t.TempDir()
		if err := SaveHF(dir, cfg, params, tc.dtype, tc.shard); err != nil {
			t.Fatal(err)
		}
		if tc.shard > 0 {
			if _, err := os.Stat(filepath.Join(dir, "model.safetensors.index.json")); err != nil {
				t.Errorf("sharded save wrote no index: %v", err)
			}
		}
		got, back, err := LoadHF[float32](dir)
		if err != nil {
			t.Fatal(err)
		}
		if got.HiddenSize != cfg.HiddenSize || got.NumKeyValueHeads != cfg.NumKeyValueHeads || got.TieWordEmbeddings != cfg.TieWordEmbeddings || got.RopeTheta != cfg.RopeTheta {
			t.Errorf("config round trip: got %+v want %+v", got, cfg)
		}
		for i := range params {
			d := float64(back[i] - params[i])
			if d < 0 {
				d = -d
			}
			if d > tc.tol*float64(abs32(params[i]))+1e-30 && d != 0 {
				t.Fatalf("%s: param %d: %v → %v", tc.dtype, i, params[i], back[i])
			}
		}
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// saveTiny writes a small checkpoint and returns its directory.
func saveTiny(t *testing.T) (string, Config) {
	t.Helper()
	cfg := tinyConfig(false, 2)
	lay := NewLayout(cfg)
	params := make([]float32, lay.Size())
	Init(lay, params, 1)
	dir := t.TempDir()
	if err := SaveHF(dir, cfg, params, "F32", 0); err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

// rewriteTensors re-saves dir/model.safetensors after edit changes its tensors.
func rewriteTensors(t *testing.T, dir string, edit func([]safetensors.Tensor) []safetensors.Tensor) {
	t.Helper()
	p := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Read(p)
	if err != nil {
		t.Fatal(err)
	}
	ts := edit(append([]safetensors.Tensor(nil), f.Tensors...))
	if err := safetensors.Write(p, f.Metadata, ts); err != nil {
		t.Fatal(err)
	}
}

func TestLoadBadInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   []string
	}{
		{"truncated", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
		}, []string{"model.safetensors"}},
		{"header length beyond file", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			b, _ := os.ReadFile(p)
			binary.LittleEndian.PutUint64(b, 1<<40)
			os.WriteFile(p, b, 0o644)
		}, []string{"model.safetensors"}},
		{"missing tensor", func(t *testing.T, dir string) {
			rewriteTensors(t, dir, func(ts []safetensors.Tensor) []safetensors.Tensor {
				var out []safetensors.Tensor
				for _, x := range ts {
					if x.Name != "model.layers.1.mlp.up_proj.weight" {
						out = append(out, x)
					}
				}
				return out
			})
		}, []string{"model.layers.1.mlp.up_proj.weight", "missing"}},
		{"mis-shaped tensor", func(t *testing.T, dir string) {
			rewriteTensors(t, dir, func(ts []safetensors.Tensor) []safetensors.Tensor {
				for i := range ts {
					if ts[i].Name == "model.norm.weight" {
						ts[i] = safetensors.FromFloat32("model.norm.weight", "F32", []int{8, 2}, make([]float32, 16))
					}
				}
				return ts
			})
		}, []string{"model.safetensors", "model.norm.weight", "shape"}},
		{"integer dtype", func(t *testing.T, dir string) {
			rewriteTensors(t, dir, func(ts []safetensors.Tensor) []safetensors.Tensor {
				for i := range ts {
					if ts[i].Name == "model.norm.weight" {
						ts[i] = safetensors.FromInt64("model.norm.weight", "I64", []int{16}, make([]int64, 16))
					}
				}
				return ts
			})
		}, []string{"model.norm.weight", "dtype"}},
		{"unknown dtype", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			b, _ := os.ReadFile(p)
			s := strings.Replace(string(b), `"dtype":"F32"`, `"dtype":"Q99"`, 1)
			os.WriteFile(p, []byte(s), 0o644)
		}, []string{"model.safetensors", "Q99"}},
		{"config wrong type", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "config.json")
			b, _ := os.ReadFile(p)
			s := strings.Replace(string(b), `"hidden_size": 16`, `"hidden_size": "sixteen"`, 1)
			os.WriteFile(p, []byte(s), 0o644)
		}, []string{"config.json", "hidden_size"}},
		{"config impossible value", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "config.json")
			b, _ := os.ReadFile(p)
			s := strings.Replace(string(b), `"num_key_value_heads": 2`, `"num_key_value_heads": 3`, 1)
			os.WriteFile(p, []byte(s), 0o644)
		}, []string{"config.json", "num_key_value_heads"}},
		{"no weights", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "model.safetensors"))
		}, []string{"model.safetensors"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := saveTiny(t)
			tc.break_(t, dir)
			_, _, err := LoadHF[float32](dir)
			if err == nil {
				t.Fatal("loaded a broken checkpoint without error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	for _, p := range Presets() {
		b, err := MarshalConfigJSON(p.Config, "float32")
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseConfigJSON(p.Name, b)
		if err != nil {
			t.Fatalf("%s: %v\n%s", p.Name, err, b)
		}
		if c.NumParams() != p.Config.NumParams() || c.HeadSize() != p.Config.HeadSize() || *c.EOSTokenID != *p.Config.EOSTokenID {
			t.Errorf("%s: round trip changed the config: %+v", p.Name, c)
		}
	}
}

func TestParseConfigRopeParameters(t *testing.T) {
	// newer transformers write rope_parameters instead of rope_theta
	b := []byte(`{"model_type":"olmo2","vocab_size":64,"hidden_size":16,"intermediate_size":32,"num_hidden_layers":1,
		"num_attention_heads":2,"rms_norm_eps":1e-6,"rope_parameters":{"rope_type":"default","rope_theta":500000.0}}`)
	c, err := ParseConfigJSON("config.json", b)
	if err != nil {
		t.Fatal(err)
	}
	if c.RopeTheta != 500000 || c.NumKeyValueHeads != 2 {
		t.Errorf("got theta %v kv %d", c.RopeTheta, c.NumKeyValueHeads)
	}
}

func FuzzParseConfigJSON(f *testing.F) {
	for _, p := range Presets()[:3] {
		b, _ := MarshalConfigJSON(p.Config, "float32")
		f.Add(b)
	}
	f.Add([]byte(`{"vocab_size": "x"}`))
	f.Add([]byte(`{"model_type":"olmo2","vocab_size":64,"hidden_size":16,"intermediate_size":32,"num_hidden_layers":1000000000000,"num_attention_heads":2}`))
	f.Add([]byte(`{"model_type":"olmo2","vocab_size":64,"hidden_size":1099511627776,"intermediate_size":1099511627776,"num_hidden_layers":1048576,"num_attention_heads":1048576}`))
	f.Add([]byte(`{"model_type":"olmo2","vocab_size":9223372036854775807,"hidden_size":2,"intermediate_size":2,"num_hidden_layers":1,"num_attention_heads":1,"head_dim":4611686018427387904}`))
	f.Add([]byte(`{"model_type":"olmo2","vocab_size":64,"hidden_size":16,"intermediate_size":32,"num_hidden_layers":1,"num_attention_heads":2,"head_dim":-4}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfigJSON("config.json", b)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted an invalid config: %v", err)
		}
		out, err := MarshalConfigJSON(c, "float32")
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseConfigJSON("config.json", out)
		if err != nil {
			t.Fatalf("re-parse of our own output failed: %v\n%s", err, out)
		}
		if c2.NumParams() != c.NumParams() {
			t.Fatalf("round trip changed the parameter count")
		}
		// Sizes of a valid config do not overflow: the count is positive, the
		// estimate at least the 16 bytes per parameter of training state, and
		// the layout (built only where it is small) agrees with the count.
		if n := c.NumParams(); n <= 0 || n > MaxParams {
			t.Fatalf("NumParams = %d for a valid config", n)
		}
		if m := EstimateCPUMemory(c, 1, 1); m < 16*c.NumParams() {
			t.Fatalf("EstimateCPUMemory = %d, below 16 bytes × %d parameters", m, c.NumParams())
		}
		if c.NumHiddenLayers <= 64 {
			if n := NewLayout(c).Size(); n != c.NumParams() {
				t.Fatalf("NewLayout size %d, NumParams %d", n, c.NumParams())
			}
		}
	})
}

// TestLoadHFChecksBeforeAllocating: a config.json that names a huge model
// next to safetensors that cannot hold it is an error naming the tensor or
// field, not an allocation of terabytes (a failed allocation ends a Go
// process). A billion layers used to be allocated as layout tables before any
// tensor was looked at (fatal out of memory); 2^40 channels overflowed the
// parameter count.
func TestLoadHFChecksBeforeAllocating(t *testing.T) {
	config := func(C, I, L, NH int) string {
		return fmt.Sprintf(`{"architectures":["Olmo2ForCausalLM"],"model_type":"olmo2","vocab_size":100352,"hidden_size":%d,`+
			`"intermediate_size":%d,"num_hidden_layers":%d,"num_attention_heads":%d,"num_key_value_heads":%d,`+
			`"max_position_embeddings":4096,"rope_theta":500000,"rms_norm_eps":1e-6,"tie_word_embeddings":false}`, C, I, L, NH, NH)
	}
	safetensorsFile := func(header string, data int) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		return append(append(b, header...), make([]byte, data)...)
	}
	huge := config(65536, 262144, 400, 64)
	for _, tc := range []struct {
		name, config string
		file         []byte
		want         string
	}{
		// no tensors at all, for 400 layers
		{"no tensors", huge, safetensorsFile("{}", 0), "num_hidden_layers 400"},
		// the embedding declared at its full shape over 64 bytes of data
		{"short embedding", huge, safetensorsFile(`{"model.embed_tokens.weight":{"dtype":"F32","shape":[100352,65536],"data_offsets":[0,26306674688]}}`, 64), "embed_tokens"},
		{"a billion layers", config(64, 128, 1_000_000_000_000, 2), safetensorsFile("{}", 0), "num_hidden_layers 1000000000000"},
		{"2^40 channels", config(1<<40, 1<<40, 1<<20, 1<<20), safetensorsFile("{}", 0), "parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tc.config), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := LoadHF[float32](dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadHF: %v, want an error about %s", err, tc.want)
			}
		})
	}
}

// TestLoadHFStreamsBitIdentical: LoadHF, which streams each tensor from its
// file into the parameters, gives exactly the bits that decoding the whole
// files read into memory gives, for F32 and BF16 checkpoints, in one file
// and sharded, into float32 and float64. The embedding is larger than the
// streaming chunk (1 MiB) in both dtypes, and the weights include values a
// conversion could disturb: -0, subnormals, ±Inf and NaNs with payloads.
func TestLoadHFStreamsBitIdentical(t *testing.T) {
	cfg := tinyConfig(false, 2)
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize = 4096, 160, 96
	lay := NewLayout(cfg)
	params := make([]float32, lay.Size())
	Init(lay, params, 7)
	for i, bits := range []uint32{0x80000000, 0x00000001, 0x807fffff, 0x7f800000, 0xff800000, 0x7fc12345, 0xffa00001, 0x7f7fffff} {
		params[i*1009] = math.Float32frombits(bits)
	}
	for _, tc := range []struct {
		dtype safetensors.DType
		shard int64
	}{{"F32", 0}, {"F32", 1 << 20}, {"BF16", 0}, {"BF16", 1 << 20}} {
		t.Run(fmt.Sprintf("%s-shard%d", tc.dtype, tc.shard), func(t *testing.T) {
			dir := t.TempDir()
			if err := SaveHF(dir, cfg, params, tc.dtype, tc.shard); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
			if sharded := len(files) > 1; sharded != (tc.shard > 0) {
				t.Fatalf("%d files for shard size %d", len(files), tc.shard)
			}
			// The reference: every file read whole, each tensor's bytes
			// decoded here, independently of the package's conversions.
			want := make([]float32, lay.Size())
			for _, p := range files {
				f, err := safetensors.Read(p)
				if err != nil {
					t.Fatal(err)
				}
				for _, st := range f.Tensors {
					lt, ok := lay.Lookup(st.Name)
					if !ok {
						t.Fatalf("%s: tensor %q is not in the layout", p, st.Name)
					}
					dst := want[lt.Offset : lt.Offset+lt.Numel()]
					for i := range dst {
						if tc.dtype == "F32" {
							dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(st.Data[4*i:]))
						} else {
							dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(st.Data[2*i:])) << 16)
						}
					}
				}
			}
			_, got, err := LoadHF[float32](dir)
			if err != nil {
				t.Fatal(err)
			}
			_, got64, err := LoadHF[float64](dir)
			if err != nil {
				t.Fatal(err)
			}
			tensorAt := func(i int) string {
				for _, lt := range lay.Tensors {
					if i >= lt.Offset && i < lt.Offset+lt.Numel() {
						return lt.Name
					}
				}
				return "?"
			}
			for i := range want {
				w := math.Float32bits(want[i])
				if g := math.Float32bits(got[i]); g != w {
					t.Fatalf("param %d (%s): loaded %#08x, the file holds %#08x", i, tensorAt(i), g, w)
				}
				if g, w := math.Float64bits(got64[i]), math.Float64bits(float64(want[i])); g != w {
					t.Fatalf("param %d (%s) as float64: loaded %#016x, want %#016x", i, tensorAt(i), g, w)
				}
			}
		})
	}
}
