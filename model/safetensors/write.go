package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/olmolab/olmolab/model/tempfile"
)

// Encode writes a safetensors file holding tensors, in the given order, to
// w. The header is laid out as the Hugging Face writer does: __metadata__
// first (omitted when metadata is empty), padded with spaces so that the
// buffer starts at a multiple of 8 bytes.
func Encode(w io.Writer, metadata map[string]string, tensors []Tensor) error {
	headers, err := tensorHeaders(tensors)
	if err != nil {
		return err
	}
	return EncodeFunc(w, metadata, headers, writeData(tensors))
}

// EncodeFunc is Encode for tensors whose bytes come from write: write(i, w)
// must write exactly the little-endian data of headers[i] (its element
// count times its dtype size) to w. It lets a caller stream each tensor,
// e.g. converting float32 parameters to BF16 chunk by chunk, instead of
// building every Tensor in memory first.
func EncodeFunc(w io.Writer, metadata map[string]string, headers []Header, write func(i int, w io.Writer) error) error {
	hdr, sizes, err := buildHeader(metadata, headers)
	if err != nil {
		return err
	}
	return encodeBody(w, hdr, headers, sizes, write)
}

// Write writes tensors, in the given order, to the safetensors file path,
// atomically: the bytes go to path+".tmp-<pid>", which is synced and then
// renamed over path, so a crash leaves either the old file or the new one,
// never a torn checkpoint.
func Write(path string, metadata map[string]string, tensors []Tensor) error {
	headers, err := tensorHeaders(tensors)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return WriteFunc(path, metadata, headers, writeData(tensors))
}

// WriteFunc is Write with each tensor's bytes streamed from write, as in
// EncodeFunc, so that a multi-gigabyte model needs no second copy in memory.
func WriteFunc(path string, metadata map[string]string, headers []Header, write func(i int, w io.Writer) error) error {
	// Build the header before touching the disk, so that a bad name or
	// shape leaves no temporary file behind.
	hdr, sizes, err := buildHeader(metadata, headers)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	err = writeAtomic(path, func(w io.Writer) error {
		return encodeBody(w, hdr, headers, sizes, write)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// tensorHeaders returns the headers of tensors after checking that each
// tensor's Data matches its dtype and shape.
func tensorHeaders(tensors []Tensor) ([]Header, error) {
	headers := make([]Header, len(tensors))
	for i := range tensors {
		if _, err := tensors[i].check(); err != nil {
			return nil, err
		}
		headers[i] = tensors[i].Header()
	}
	return headers, nil
}

// writeData writes each tensor's bytes: Data, or for a tensor from Open its
// bytes copied from its file in chunks.
func writeData(tensors []Tensor) func(int, io.Writer) error {
	return func(i int, w io.Writer) error {
		return tensors[i].each(func(_ int, b []byte) error {
			_, err := w.Write(b)
			return err
		})
	}
}

// buildHeader returns the length-prefixed, padded header and each tensor's
// byte size.
func buildHeader(metadata map[string]string, headers []Header) ([]byte, []int64, error) {
	var b bytes.Buffer
	b.Write(make([]byte, 8)) // the length, filled in below
	b.WriteByte('{')
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k, v := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, nil, fmt.Errorf("%s: key %q: key and value must be valid UTF-8", metadataKey, k)
			}
			keys = append(keys, k)
		}
		// Sorted, so the same checkpoint always gives the same bytes.
		slices.Sort(keys)
		appendJSONString(&b, metadataKey)
		b.WriteString(":{")
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			appendJSONString(&b, k)
			b.WriteByte(':')
			appendJSONString(&b, metadata[k])
		}
		b.WriteByte('}')
	}
	sizes := make([]int64, len(headers))
	seen := make(map[string]bool, len(headers))
	var off int64
	for i, h := range headers {
		switch {
		case h.Name == metadataKey:
			return nil, nil, fmt.Errorf("tensor %q: the name is reserved for metadata", h.Name)
		case !utf8.ValidString(h.Name):
			return nil, nil, fmt.Errorf("tensor %q: name is not valid UTF-8", h.Name)
		case seen[h.Name]:
			return nil, nil, fmt.Errorf("tensor %q: duplicate name", h.Name)
		case !h.DType.Valid():
			return nil, nil, fmt.Errorf("tensor %q: unknown dtype %q", h.Name, h.DType)
		}
		seen[h.Name] = true
		for _, d := range h.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("tensor %q: negative dimension in shape %v", h.Name, h.Shape)
			}
		}
		nb, ok := shapeBytes(h.Shape, h.DType.Size())
		if !ok || int64(nb) > math.MaxInt64-off {
			return nil, nil, fmt.Errorf("tensor %q: shape %v of %s overflows the file size", h.Name, h.Shape, h.DType)
		}
		sizes[i] = int64(nb)
		if b.Len() > 9 {
			b.WriteByte(',')
		}
		appendJSONString(&b, h.Name)
		b.WriteString(`:{"dtype":`)
		appendJSONString(&b, string(h.DType))
		b.WriteString(`,"shape":[`)
		for j, d := range h.Shape {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		b.WriteString(`],"data_offsets":[`)
		b.WriteString(strconv.FormatInt(off, 10))
		b.WriteByte(',')
		off += sizes[i]
		b.WriteString(strconv.FormatInt(off, 10))
		b.WriteString("]}")
	}
	b.WriteByte('}')
	// Pad with spaces (valid JSON whitespace) so that 8+N, where the buffer
	// starts, is a multiple of 8: every tensor whose offset is a multiple of
	// its element size is then aligned in a memory-mapped file.
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	hdr := b.Bytes()
	n := len(hdr) - 8
	if n > maxHeaderSize {
		return nil, nil, fmt.Errorf("header of %d bytes exceeds the %d-byte limit readers enforce", n, maxHeaderSize)
	}
	binary.LittleEndian.PutUint64(hdr, uint64(n))
	return hdr, sizes, nil
}

// appendJSONString writes s as a JSON string. HTML escaping is off so that
// names like "a<b" read the same in the raw header as in Python's.
func appendJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // cannot fail for a string into a bytes.Buffer
	b.Truncate(b.Len() - 1) // Encode appends a newline
}

func encodeBody(w io.Writer, hdr []byte, headers []Header, sizes []int64, write func(int, io.Writer) error) error {
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for i, h := range headers {
		cw := &exactWriter{w: w, left: sizes[i]}
		if err := write(i, cw); err != nil {
			return fmt.Errorf("tensor %q: %w", h.Name, err)
		}
		if cw.left != 0 {
			return fmt.Errorf("tensor %q: wrote %d bytes, shape %v of %s needs %d", h.Name, sizes[i]-cw.left, h.Shape, h.DType, sizes[i])
		}
	}
	return nil
}

// errTooMuch reports a write callback that wrote past its tensor's size.
var errTooMuch = errors.New("wrote more bytes than the tensor's dtype and shape hold")

// exactWriter passes at most left bytes through to w, so that a callback
// that writes too much is caught before it shifts every later tensor.
type exactWriter struct {
	w    io.Writer
	left int64
}

func (e *exactWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > e.left {
		return 0, errTooMuch
	}
	n, err := e.w.Write(p)
	e.left -= int64(n)
	return n, err
}

// writeAtomic writes a file through fill into path+".tmp-<pid>", syncs it,
// and renames it over path; on any error the temporary file is removed.
func writeAtomic(path string, fill func(w io.Writer) error) (err error) {
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	var f *os.File
	err = tempfile.Track(tmp, func() (err error) {
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		return err
	})
	if err != nil {
		return err
	}
	defer tempfile.Untrack(tmp)
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	// Sync before rename: otherwise a crash can leave the new name
	// pointing at a file whose data never reached the disk.
	if err := tempfile.SyncFile(f); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := tempfile.Rename(tmp, path); err != nil {
		return err
	}
	tempfile.SyncDir(filepath.Dir(path))
	return nil
}
