package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/olmolab/olmolab/model/safetensors"
	"github.com/olmolab/olmolab/model/tempfile"
)

// LoadHF reads an HF Olmo2ForCausalLM checkpoint directory (config.json plus
// model.safetensors or a sharded index) and returns its config and its weights
// in Layout order, as F. Missing, mis-shaped and unexpected tensors are errors
// naming the file and tensor. It streams: the safetensors headers are read and
// checked first, then each tensor is read from its file straight into its
// place in the parameters (converted through a small buffer when its dtype is
// not F), so the peak memory is the parameters, not the parameters plus the
// files.
func LoadHF[F Float](dir string) (Config, []F, error) {
	src, err := OpenHF(dir)
	if err != nil {
		return Config{}, nil, err
	}
	defer src.Close()
	params := make([]F, src.Layout.Size())
	if err := fillWeights(src.ck, src.Layout, params); err != nil {
		return Config{}, nil, err
	}
	return src.Config, params, nil
}

// LoadWeights fills params (Layout order) from the safetensors in dir.
func LoadWeights[F Float](dir string, lay *Layout, params []F) error {
	ck, err := openWeights(dir, lay)
	if err != nil {
		return err
	}
	defer ck.Close()
	return fillWeights(ck, lay, params)
}

// openWeights opens the safetensors in dir and checks that they hold exactly
// the tensors of lay, with its shapes and float dtypes.
func openWeights(dir string, lay *Layout) (*safetensors.Checkpoint, error) {
	ck, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	if err := checkWeights(ck, dir, lay); err != nil {
		ck.Close()
		return nil, err
	}
	return ck, nil
}

// layerTensors is the tensors of one decoder layer: q, k, v, o, q_norm,
// k_norm, post_attention_layernorm, gate, up, down, post_feedforward_layernorm.
const layerTensors = 11

// checkLayerCount checks that ck holds enough tensors for cfg's layers
// before NewLayout builds a table of them.
func checkLayerCount(ck *safetensors.Checkpoint, cfg Config) error {
	if n := len(ck.Names()); cfg.NumHiddenLayers > n/layerTensors {
		return fmt.Errorf("%s: config.json's num_hidden_layers %d needs %d tensors per layer, but the safetensors hold %d tensors in all (config.json does not belong to these weights?)",
			ck.Dir, cfg.NumHiddenLayers, layerTensors, n)
	}
	return nil
}

// checkWeights checks that ck holds exactly the tensors of lay, with its
// shapes and float dtypes.
func checkWeights(ck *safetensors.Checkpoint, dir string, lay *Layout) error {
	want := map[string]bool{}
	for _, t := range lay.Tensors {
		want[t.Name] = true
		st, ok := ck.Get(t.Name)
		if !ok {
			return fmt.Errorf("%s: tensor %q is missing (an Olmo2ForCausalLM with this config.json needs it)", dir, t.Name)
		}
		if !slices.Equal(st.Shape, t.Shape) {
			return fmt.Errorf("%s: tensor %q has shape %v, config.json implies %v", fileOf(ck, t.Name), t.Name, st.Shape, t.Shape)
		}
		if !st.DType.IsFloat() {
			return fmt.Errorf("%s: tensor %q has dtype %s, want a float dtype", fileOf(ck, t.Name), t.Name, st.DType)
		}
	}
	for _, name := range ck.Names() {
		if want[name] {
			continue
		}
		// HF may keep a tied lm_head copy; old exports keep RoPE's inv_freq buffers.
		if strings.HasSuffix(name, "rotary_emb.inv_freq") || (name == "lm_head.weight" && lay.Config.TieWordEmbeddings) {
			continue
		}
		return fmt.Errorf("%s: unexpected tensor %q (not part of an Olmo2ForCausalLM with this config.json)", fileOf(ck, name), name)
	}
	return nil
}

// fillWeights reads the tensors checkWeights checked into params, each
// straight into its place (dst has exactly the tensor's length, so the
// conversion never reallocates). Errors from the tensors of OpenDir name
// the file and the tensor.
func fillWeights[F Float](ck *safetensors.Checkpoint, lay *Layout, params []F) error {
	for _, t := range lay.Tensors {
		st, _ := ck.Get(t.Name)
		dst := params[t.Offset : t.Offset+t.Numel() : t.Offset+t.Numel()]
		var err error
		if isF32[F]() {
			_, err = st.Float32s(asF32(dst))
		} else {
			_, err = st.Float64s(asF64(dst))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// DefaultShardBytes is HF's default max_shard_size (5 GB).
const DefaultShardBytes = 5_000_000_000

// SaveHF writes cfg and params as an HF checkpoint that
// Olmo2ForCausalLM.from_pretrained loads unchanged: config.json and
// model.safetensors (sharded with an index past shardBytes), every file written to
// a temporary name and renamed into place. dtype is "F32" or "BF16".
func SaveHF[F Float](dir string, cfg Config, params []F, dtype safetensors.DType, shardBytes int64) error {
	lay := NewLayout(cfg)
	if int64(len(params)) != lay.Size() {
		panic("model: params do not match the config's layout")
	}
	return saveHF(dir, lay, dtype, shardBytes, func(t Tensor, w io.Writer) error {
		return writeFloats(w, params[t.Offset:t.Offset+t.Numel()], dtype)
	})
}

// saveHF writes config.json and the safetensors of lay, each tensor's bytes
// from write.
func saveHF(dir string, lay *Layout, dtype safetensors.DType, shardBytes int64, write func(t Tensor, w io.Writer) error) error {
	// guarded: a checkpoint's temporary directory that a quit removed is not made again
	if err := tempfile.Guard(func() error { return os.MkdirAll(dir, 0o755) }); err != nil {
		return err
	}
	var torchDType string
	switch dtype {
	case safetensors.DType("F32"):
		torchDType = "float32"
	case safetensors.DType("BF16"):
		torchDType = "bfloat16"
	default:
		return fmt.Errorf("save %s: unsupported dtype %s (want F32 or BF16)", dir, dtype)
	}
	if shardBytes <= 0 {
		shardBytes = DefaultShardBytes
	}
	headers := make([]safetensors.Header, len(lay.Tensors))
	for i, t := range lay.Tensors {
		headers[i] = safetensors.Header{Name: t.Name, DType: dtype, Shape: t.Shape}
	}
	err := safetensors.WriteShardedFunc(dir, map[string]string{"format": "pt"}, headers, shardBytes, func(i int, w io.Writer) error {
		return write(lay.Tensors[i], w)
	})
	if err != nil {
		return err
	}
	b, err := MarshalConfigJSON(lay.Config, torchDType)
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, "config.json"), b)
}

// WriteFloats encodes v to w as little-endian F32 or BF16 (rounded to
// nearest even), through a 16 KiB buffer: the bytes SaveHF and
// safetensors.FromFloat32 give for those dtypes.
func WriteFloats[F Float](w io.Writer, v []F, dtype safetensors.DType) error {
	return writeFloats(w, v, dtype)
}

// writeFloats encodes v as little-endian F32 or BF16 in bounded chunks.
func writeFloats[F Float](w io.Writer, v []F, dtype safetensors.DType) error {
	var buf [1 << 14]byte
	size := dtype.Size()
	for len(v) > 0 {
		n := min(len(v), len(buf)/size)
		for i, x := range v[:n] {
			if size == 4 {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(float32(x)))
			} else {
				binary.LittleEndian.PutUint16(buf[2*i:], bf16(float32(x)))
			}
		}
		if _, err := w.Write(buf[:n*size]); err != nil {
			return err
		}
		v = v[n:]
	}
	return nil
}

// WriteFileAtomic writes b to a temporary file beside path, syncs it and renames it
// into place, so a crash never leaves a half-written file under the final name.
func WriteFileAtomic(path string, b []byte) error {
	return WriteFileAtomicFunc(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// WriteFileAtomicFunc is WriteFileAtomic for content that write streams to
// the temporary file (flushing any buffer of its own before it returns)
// instead of a []byte held whole. An error from write leaves path as it was.
func WriteFileAtomicFunc(path string, write func(w io.Writer) error) error {
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	var f *os.File
	err := tempfile.Track(tmp, func() (err error) {
		f, err = os.Create(tmp)
		return err
	})
	if err != nil {
		return err
	}
	defer tempfile.Untrack(tmp)
	if err = write(f); err == nil {
		err = tempfile.SyncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = tempfile.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		// the temporary file's own error names it: "write PATH.tmp-PID:
		// no space left on device" under "write PATH: " said the path twice
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == tmp {
			err = pe.Err
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// bf16 rounds to the nearest bfloat16, ties to even; NaN stays NaN.
func bf16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// fileOf names the file of ck that holds tensor name, for error messages.
func fileOf(ck *safetensors.Checkpoint, name string) string {
	for _, f := range ck.Files {
		if _, ok := f.Get(name); ok {
			return f.Path
		}
	}
	return ck.Dir
}
