package safetensors

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"unsafe"
)

// chunkBytes bounds the buffer a streamed tensor is read through when its
// bytes must be converted (BF16, F16, ... to float32): 1 MiB, a multiple of
// every dtype size, big enough that the reads cost no more than one large
// read would, and small enough to be nothing next to the model.
const chunkBytes = 1 << 20

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkBytes); return &b }}

// littleEndian reports whether this machine stores numbers little-endian,
// as safetensors does; then an F32 tensor's bytes are read straight into a
// []float32 (and F64 into a []float64) with no conversion.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// source is the open file behind the tensors of a File from Open.
type source struct {
	r    io.ReaderAt
	path string
	size int64 // the file's size when its header was read
}

// Open opens the safetensors file at path, reads its header and validates it
// against the file's size exactly as Read does (header length, names,
// dtypes, shapes, offsets that tile the rest of the file), without reading
// any tensor data: allocation is bounded by the header. Each tensor's bytes
// stay in the file, and Float32s, Float64s, Int64s and Bytes read them with
// ReadAt when called, F32 (and F64) straight into the destination slice and
// other dtypes through a bounded chunk buffer. So loading a model from a
// file needs the model's memory, not the model's plus the file's.
//
// The tensors have no Data. Writing them with Write or Encode copies their
// bytes from the file in chunks. A read that comes up short, because the
// file was truncated after Open read its header, is an error naming the
// file and the tensor. Close the File when done with it.
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fd.Stat()
	if err != nil {
		fd.Close()
		return nil, err
	}
	f, err := openReader(path, fd, st.Size())
	if err != nil {
		fd.Close()
		return nil, err
	}
	f.closer = fd
	return f, nil
}

// openReader is Open for size bytes readable from r; name is used in error
// messages and as the File's Path.
func openReader(name string, r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("%s: file is %d bytes, too short for the 8-byte header length (truncated, or not a safetensors file)", name, size)
	}
	var prefix [8]byte
	if err := readFull(r, prefix[:], 0); err != nil {
		return nil, fmt.Errorf("%s: reading the 8-byte header length of a %d-byte file: %w (truncated, or not a safetensors file)", name, size, err)
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	// Checked before the header is allocated: n is at most maxHeaderSize
	// and fits in the file.
	if err := checkHeaderLen(name, n, size); err != nil {
		return nil, err
	}
	hdr := make([]byte, n)
	if err := readFull(r, hdr, 8); err != nil {
		return nil, fmt.Errorf("%s: reading the %d-byte header: %w (did the file change while being read?)", name, n, err)
	}
	dataStart := 8 + int64(n)
	f, spans, err := parseLayout(name, hdr, size-dataStart)
	if err != nil {
		return nil, err
	}
	src := &source{r: r, path: name, size: size}
	for i, sp := range spans {
		t := &f.Tensors[i]
		t.src, t.off, t.n = src, dataStart+sp.begin, sp.end-sp.begin
	}
	return f, nil
}

// readFull reads len(b) bytes at off, turning a short read into
// io.ErrUnexpectedEOF (ReadAt may report io.EOF with all the bytes read, at
// the very end of the file, which is success).
func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// Close closes the file behind a File from Open; its tensors can no longer
// be read. For a File from Parse or Read it does nothing.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	c := f.closer
	f.closer = nil
	return c.Close()
}

// streamed reports whether t's bytes are in its file (a tensor from Open)
// rather than in Data.
func (t *Tensor) streamed() bool { return t.src != nil && t.Data == nil }

// label names t in error messages: with its file when it has one.
func (t *Tensor) label() string {
	if t.src != nil {
		return fmt.Sprintf("%s: tensor %q", t.src.path, t.Name)
	}
	return fmt.Sprintf("tensor %q", t.Name)
}

// readAt reads len(b) bytes of a streamed tensor's data, starting at byte
// off of its data.
func (t *Tensor) readAt(b []byte, off int64) error {
	if err := readFull(t.src.r, b, t.off+off); err != nil {
		return fmt.Errorf("%s: reading its bytes [%d, %d) of the file: %w; the file was %d bytes when its header was read (was it truncated or rewritten since?)",
			t.label(), t.off+off, t.off+off+int64(len(b)), err, t.src.size)
	}
	return nil
}

// each calls fn with t's data in consecutive pieces, each a whole number of
// elements: Data in one piece, or for a streamed tensor chunks of at most
// chunkBytes read from its file. i is the index of the piece's first
// element. It stops at the first error, from a read or from fn.
func (t *Tensor) each(fn func(i int, b []byte) error) error {
	if !t.streamed() {
		return fn(0, t.Data)
	}
	size := int64(t.DType.Size())
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	buf := *bp
	per := int64(len(buf)) / size * size
	for off := int64(0); off < t.n; off += per {
		b := buf[:min(per, t.n-off)]
		if err := t.readAt(b, off); err != nil {
			return err
		}
		if err := fn(int(off/size), b); err != nil {
			return err
		}
	}
	return nil
}

// CRC32C returns the CRC-32C (Castagnoli) of t's raw data bytes, read from
// its file in chunks for a tensor from Open: the checksum a writer records
// so that a reader finds a file that changed since it was written (a
// flipped bit on the disk, a damaged copy), which parses and loads without
// complaint. Its errors name the file and tensor.
func (t *Tensor) CRC32C() (uint32, error) {
	if _, err := t.check(); err != nil {
		return 0, err
	}
	var c uint32
	err := t.each(func(_ int, b []byte) error {
		c = crc32.Update(c, castagnoli, b)
		return nil
	})
	return c, err
}

// castagnoli is CRC-32C's table: hardware-accelerated on amd64 (SSE 4.2)
// and arm64.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Bytes returns t's raw little-endian bytes: Data itself, or for a tensor
// from Open a new slice read from its file.
func (t *Tensor) Bytes() ([]byte, error) {
	if _, err := t.check(); err != nil {
		return nil, err
	}
	if !t.streamed() {
		return t.Data, nil
	}
	b := make([]byte, t.n)
	if err := t.readAt(b, 0); err != nil {
		return nil, err
	}
	return b, nil
}

// asBytes views v's memory as bytes, for reading little-endian floats
// straight into it.
func asBytes[T float32 | float64](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*int(unsafe.Sizeof(v[0])))
}
