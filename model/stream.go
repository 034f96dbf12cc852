package model

import (
	"fmt"
	"hash/crc32"
	"io"
	"path/filepath"

	"github.com/olmolab/olmolab/model/safetensors"
)

// Streaming between a Backend and the host, chunk by chunk. An engine holds
// the model (on the GPU, all of it); the host side of a checkpoint save, a
// load, a soup or an evaluation copy needs only a buffer of StreamChunk
// values, not whole-model []float32s (4 bytes per parameter each: 29 GiB per
// buffer for olmo2_7B).

// StreamChunk is how many float32 values the streaming helpers move at a
// time: 4 MiB, large enough that a device copy or a file read of it costs
// what one big copy would per byte, small next to any model worth streaming.
const StreamChunk = 1 << 20

// NewStreamBuf returns a buffer for the streaming helpers: StreamChunk
// values, or n when the model is smaller.
func NewStreamBuf(n int64) []float32 { return make([]float32, min(n, StreamChunk)) }

// chunks calls fn for consecutive ranges [off, off+k) of [lo, hi), each at
// most len(buf) long, with buf[:k]. It stops at fn's first error.
func chunks(lo, hi int, buf []float32, fn func(off int, b []float32) error) error {
	if len(buf) == 0 && hi > lo {
		panic("model: empty stream buffer")
	}
	for off := lo; off < hi; off += len(buf) {
		if err := fn(off, buf[:min(len(buf), hi-off)]); err != nil {
			return err
		}
	}
	return nil
}

// CopyParams copies every parameter of src into dst (the same model), buf's
// length at a time: an evaluation backend of another shape gets the training
// backend's weights without a host copy of the model.
func CopyParams(dst, src Backend, buf []float32) {
	n := int(NewLayout(src.Config()).Size())
	chunks(0, n, buf, func(off int, b []float32) error {
		src.ReadParamsAt(b, off)
		dst.WriteParamsAt(b, off)
		return nil
	})
}

// SaveHFFrom is SaveHF with the parameters read from b, buf's length at a
// time, as each tensor is written: the same files, byte for byte, with host
// memory bounded by buf (NewStreamBuf) instead of a copy of the model.
func SaveHFFrom(dir string, b Backend, buf []float32, dtype safetensors.DType, shardBytes int64) error {
	return saveHF(dir, NewLayout(b.Config()), dtype, shardBytes, func(t Tensor, w io.Writer) error {
		return chunks(t.Offset, t.Offset+t.Numel(), buf, func(off int, c []float32) error {
			b.ReadParamsAt(c, off)
			return writeFloats(w, c, dtype)
		})
	})
}

// SaveHFFromSums is SaveHFFrom that also returns, by tensor name, the
// CRC-32C of each tensor's data bytes as they were written
// (safetensors.Tensor.CRC32C's): a checkpoint records them so that a
// resume finds weights that changed on the disk since. Computing them as
// the bytes go costs no second read.
func SaveHFFromSums(dir string, b Backend, buf []float32, dtype safetensors.DType, shardBytes int64) (map[string]uint32, error) {
	lay := NewLayout(b.Config())
	sums := make(map[string]uint32, len(lay.Tensors))
	err := saveHF(dir, lay, dtype, shardBytes, summing(sums, func(t Tensor, w io.Writer) error {
		return chunks(t.Offset, t.Offset+t.Numel(), buf, func(off int, c []float32) error {
			b.ReadParamsAt(c, off)
			return writeFloats(w, c, dtype)
		})
	}))
	if err != nil {
		return nil, err
	}
	return sums, nil
}

// summing wraps a tensor's writer so that it also records the CRC-32C of
// the bytes it writes in sums, under the tensor's name.
func summing(sums map[string]uint32, write func(t Tensor, w io.Writer) error) func(t Tensor, w io.Writer) error {
	return func(t Tensor, w io.Writer) error {
		h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
		err := write(t, io.MultiWriter(w, h))
		sums[t.Name] = h.Sum32()
		return err
	}
}

// SaveHFFunc is SaveHF with each chunk of the parameters computed by fill:
// fill(dst, off) writes parameters [off, off+len(dst)) into dst, for ranges
// that follow each other from 0 to the end. A soup writes its average this
// way, computing it chunk by chunk from its ingredients' files. It returns
// each tensor's CRC-32C, as SaveHFFromSums does.
func SaveHFFunc(dir string, cfg Config, buf []float32, dtype safetensors.DType, shardBytes int64, fill func(dst []float32, off int) error) (map[string]uint32, error) {
	lay := NewLayout(cfg)
	sums := make(map[string]uint32, len(lay.Tensors))
	err := saveHF(dir, lay, dtype, shardBytes, summing(sums, func(t Tensor, w io.Writer) error {
		return chunks(t.Offset, t.Offset+t.Numel(), buf, func(off int, c []float32) error {
			if err := fill(c, off); err != nil {
				return err
			}
			return writeFloats(w, c, dtype)
		})
	}))
	if err != nil {
		return nil, err
	}
	return sums, nil
}

// InitBackend initialises b's parameters as Init does (the same values, bit
// for bit), buf's length at a time: each tensor's stream of draws continues
// from one chunk to the next.
func InitBackend(b Backend, seed uint64, buf []float32) {
	l := NewLayout(b.Config())
	std := l.Config.InitStd()
	for ti, t := range l.Tensors {
		next := initTensor(t, ti, seed, std)
		chunks(t.Offset, t.Offset+t.Numel(), buf, func(off int, c []float32) error {
			for i := range c {
				c[i] = float32(next())
			}
			b.WriteParamsAt(c, off)
			return nil
		})
	}
}

// HFSource is an HF checkpoint directory whose config.json and safetensors
// headers have been read and checked (OpenHF), ready to be streamed into a
// Backend or a host buffer. Close it when done.
type HFSource struct {
	Dir    string
	Config Config
	Layout *Layout
	ck     *safetensors.Checkpoint
}

// Tensor returns the tensor name of the checkpoint and the file that holds
// it.
func (s *HFSource) Tensor(name string) (t *safetensors.Tensor, file string, ok bool) {
	t, ok = s.ck.Get(name)
	return t, fileOf(s.ck, name), ok
}

// OpenHF reads dir's config.json and checks its safetensors against it, as
// LoadHF does, without reading a tensor's data: every error a bad
// checkpoint can give (missing, mis-shaped, unexpected or non-float
// tensors, a config.json of another model) comes from here, before
// anything is loaded.
func OpenHF(dir string) (*HFSource, error) {
	cfg, err := ReadConfigFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	// Check the tensors against config.json before allocating what it
	// implies: a config.json naming a huge model next to small safetensors
	// would otherwise ask for terabytes, and a failed allocation ends the
	// process. The layout's own tables grow with num_hidden_layers, so that
	// is checked against the tensors the files hold first; once every tensor
	// is there with its shape, the files hold at least two bytes per parameter.
	ck, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	if err := checkLayerCount(ck, cfg); err != nil {
		ck.Close()
		return nil, err
	}
	lay := NewLayout(cfg)
	if err := checkWeights(ck, dir, lay); err != nil {
		ck.Close()
		return nil, err
	}
	return &HFSource{Dir: dir, Config: cfg, Layout: lay, ck: ck}, nil
}

// Close closes the checkpoint's files.
func (s *HFSource) Close() error { return s.ck.Close() }

// WriteTo streams the weights into b, tensor by tensor, buf's length at a
// time. b must hold a model of the same layout (it panics otherwise). An
// error (a file truncated or unreadable since OpenHF) names the file and
// the tensor, and leaves b's parameters partly written.
func (s *HFSource) WriteTo(b Backend, buf []float32) error {
	if NewLayout(b.Config()).Size() != s.Layout.Size() {
		panic(fmt.Sprintf("model: a backend of %d parameters for a checkpoint of %d", NewLayout(b.Config()).Size(), s.Layout.Size()))
	}
	for _, t := range s.Layout.Tensors {
		st, _ := s.ck.Get(t.Name)
		err := chunks(t.Offset, t.Offset+t.Numel(), buf, func(off int, c []float32) error {
			if err := st.Float32sAt(c, off-t.Offset); err != nil {
				return err
			}
			b.WriteParamsAt(c, off)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadAt reads parameters [off, off+len(dst)) (Layout order, any range,
// across tensors) into dst.
func (s *HFSource) ReadAt(dst []float32, off int) error {
	for _, t := range s.Layout.Tensors {
		lo, hi := max(off, t.Offset), min(off+len(dst), t.Offset+t.Numel())
		if lo >= hi {
			continue
		}
		st, _ := s.ck.Get(t.Name)
		if err := st.Float32sAt(dst[lo-off:hi-off], lo-t.Offset); err != nil {
			return err
		}
	}
	return nil
}

// DType is the weights' dtype in the files: "F32", "BF16", …, or "mixed"
// when the tensors differ.
func (s *HFSource) DType() safetensors.DType {
	var d safetensors.DType
	for i, t := range s.Layout.Tensors {
		st, _ := s.ck.Get(t.Name)
		if i > 0 && st.DType != d {
			return "mixed"
		}
		d = st.DType
	}
	return d
}
