package olmes

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A dataset split is a list of rows, each a Doc with the dataset's fields in schema order. Rows come from Hugging
// Face datasets' on-disk format (save_to_disk: a directory with state.json and Arrow IPC stream files) or from
// JSONL files; the task loaders (benchmarks.go) turn the datasets' own published formats into the HF field names.

// ReadHFSplit reads a split saved by HF datasets' save_to_disk: dir holds state.json, which lists the Arrow data
// files in order, and the files themselves (data-00000-of-00001.arrow, …). Without state.json every *.arrow file
// in dir is read in name order.
func ReadHFSplit(dir string) ([]Doc, error) {
	files, err := hfDataFiles(dir)
	if err != nil {
		return nil, err
	}
	var rows []Doc
	for _, f := range files {
		r, err := ReadArrowFile(f)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

func hfDataFiles(dir string) ([]string, error) {
	st, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err == nil {
		var state struct {
			DataFiles []struct {
				Filename string `json:"filename"`
			} `json:"_data_files"`
		}
		if err := json.Unmarshal(st, &state); err != nil {
			return nil, &InputError{Path: filepath.Join(dir, "state.json"), Msg: "not an HF datasets state file", Err: err}
		}
		var files []string
		for _, f := range state.DataFiles {
			if f.Filename == "" || strings.Contains(f.Filename, "..") {
				return nil, inputErrorf(filepath.Join(dir, "state.json"), 0, "", "bad data file name %q", f.Filename)
			}
			files = append(files, filepath.Join(dir, f.Filename))
		}
		if len(files) > 0 {
			return files, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.arrow"))
	if len(files) == 0 {
		return nil, inputErrorf(dir, 0, "save the split with HF datasets' save_to_disk", "no Arrow data files (state.json or *.arrow)")
	}
	return files, nil
}

// ReadArrowFile reads every record of an Arrow IPC stream file (HF datasets' cache and save_to_disk format) as
// rows. Strings, integers, floats, booleans, lists and structs are supported; nulls become nil.
func ReadArrowFile(path string) (rows []Doc, err error) {
	// The files are small (the largest OLMES split is a few MB): read whole,
	// so the stream's framing and metadata can be checked before arrow-go,
	// which trusts them, sizes anything by them.
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &InputError{Path: path, Msg: "no such file (a dataset's Arrow data file, named in its state.json)", Hint: "save the split again with HF datasets' save_to_disk"}
		}
		return nil, err
	}
	if err := checkArrowStream(b); err != nil {
		return nil, &InputError{Path: path, Msg: "not an Arrow IPC stream, or a corrupt one", Err: err, Hint: "save the split again with HF datasets' save_to_disk"}
	}
	defer func() {
		// The Arrow reader trusts offsets in the file; a corrupt file must be an error, not a crash.
		if p := recover(); p != nil {
			rows, err = nil, inputErrorf(path, 0, "", "corrupt Arrow file: %v", p)
		}
	}()
	alloc := &boundedAllocator{inner: memory.NewGoAllocator(), left: arrowMemoryBound(int64(len(b)))}
	rd, err := ipc.NewReader(bytes.NewReader(b), ipc.WithAllocator(alloc))
	if err != nil {
		return nil, &InputError{Path: path, Msg: "not an Arrow IPC stream", Err: err}
	}
	defer rd.Release()
	schema := rd.Schema()
	for rd.Next() {
		rec := rd.RecordBatch()
		n := int(rec.NumRows())
		for i := range n {
			row := make(Doc, 0, int(rec.NumCols()))
			for c := range int(rec.NumCols()) {
				v, err := arrowValue(rec.Column(c), i)
				if err != nil {
					return nil, &InputError{Path: path, Msg: fmt.Sprintf("column %q", schema.Field(c).Name), Err: err}
				}
				row = append(row, Field{schema.Field(c).Name, v})
			}
			rows = append(rows, row)
		}
	}
	if err := rd.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, &InputError{Path: path, Msg: "reading Arrow records", Err: err}
	}
	return rows, nil
}

// arrowMemoryBound is what reading an Arrow file of n bytes may allocate in
// all. The reader allocates what the file's headers say a buffer holds, so one
// corrupt length (a single flipped byte) asked for 32 GiB, and the Go runtime
// ends the process on a failed allocation, where recover cannot help. HF
// datasets write their files uncompressed, so a buffer is never larger than the
// file; the margin allows for compressed files and the reader's own
// bookkeeping.
func arrowMemoryBound(n int64) int64 { return 64*n + 64<<20 }

// boundedAllocator refuses (by panicking, which ReadArrowFile turns into an
// error naming the file) allocations beyond what its file can hold.
type boundedAllocator struct {
	inner memory.Allocator
	left  int64
}

func (a *boundedAllocator) take(n int) {
	if int64(n) > a.left {
		panic(fmt.Sprintf("a buffer of %d bytes, more than the file can hold", n))
	}
	a.left -= int64(n)
}

func (a *boundedAllocator) Allocate(size int) []byte {
	a.take(size)
	return a.inner.Allocate(size)
}

func (a *boundedAllocator) Reallocate(size int, b []byte) []byte {
	a.take(max(0, size-len(b)))
	return a.inner.Reallocate(size, b)
}

func (a *boundedAllocator) Free(b []byte) { a.inner.Free(b) }

// arrowValue converts element i of arr to a Go value: string, int, float64, bool, []any, Doc or nil.
func arrowValue(arr arrow.Array, i int) (any, error) {
	if arr.IsNull(i) {
		return nil, nil
	}
	switch a := arr.(type) {
	case *array.String:
		return a.Value(i), nil
	case *array.LargeString:
		return a.Value(i), nil
	case *array.Int64:
		return int(a.Value(i)), nil
	case *array.Int32:
		return int(a.Value(i)), nil
	case *array.Int16:
		return int(a.Value(i)), nil
	case *array.Int8:
		return int(a.Value(i)), nil
	case *array.Uint64:
		return int(a.Value(i)), nil
	case *array.Uint32:
		return int(a.Value(i)), nil
	case *array.Uint16:
		return int(a.Value(i)), nil
	case *array.Uint8:
		return int(a.Value(i)), nil
	case *array.Float64:
		return a.Value(i), nil
	case *array.Float32:
		return float64(a.Value(i)), nil
	case *array.Boolean:
		return a.Value(i), nil
	case *array.List:
		s, e := a.ValueOffsets(i)
		return arrowSlice(a.ListValues(), int(s), int(e))
	case *array.LargeList:
		s, e := a.ValueOffsets(i)
		return arrowSlice(a.ListValues(), int(s), int(e))
	case *array.FixedSizeList:
		n := int(a.DataType().(*arrow.FixedSizeListType).Len())
		off := a.Offset() + i
		return arrowSlice(a.ListValues(), off*n, (off+1)*n)
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		d := make(Doc, 0, st.NumFields())
		for f := range st.NumFields() {
			v, err := arrowValue(a.Field(f), i)
			if err != nil {
				return nil, err
			}
			d = append(d, Field{st.Field(f).Name, v})
		}
		return d, nil
	}
	return nil, fmt.Errorf("unsupported Arrow type %s", arr.DataType())
}

func arrowSlice(values arrow.Array, start, end int) ([]any, error) {
	if start < 0 || end < start || end > values.Len() {
		return nil, fmt.Errorf("list offsets [%d,%d) outside %d values", start, end, values.Len())
	}
	out := make([]any, 0, end-start)
	for j := start; j < end; j++ {
		v, err := arrowValue(values, j)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// openMaybeGzip opens path, decompressing it if its name ends in .gz. what
// says what the file is for ("request dump"), in the error of a missing one:
// the path alone, or Go's "open PATH: no such file or directory", does not.
func openMaybeGzip(path, what, hint string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &InputError{Path: path, Msg: "no such file (" + what + ")", Hint: hint}
		}
		return nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, nil
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, &InputError{Path: path, Msg: "not a gzip file", Err: err}
	}
	return struct {
		io.Reader
		io.Closer
	}{z, f}, nil
}

// maxLine bounds one line of a JSONL or text file, as lab/data's reader does
// (256 MiB): a .gz that decompresses to gigabytes without a newline (a bomb,
// or a file that is not JSON lines) is an error naming the file and line,
// not a line grown until memory runs out.
var maxLine = 256 << 20

// forEachLine calls fn with each non-blank line of r (1-based numbers), lines of up to maxLine bytes; a longer one
// is an *InputError naming path and the line.
func forEachLine(path string, r io.Reader, fn func(line []byte, n int) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var long []byte
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		for err == bufio.ErrBufferFull {
			if len(long)+len(line) > maxLine {
				return &InputError{Path: path, Line: n, Msg: fmt.Sprintf("line longer than %d MiB", maxLine>>20),
					Hint: "is this really JSON lines (one object per line)?"}
			}
			long = append(long, line...)
			line, err = br.ReadSlice('\n')
		}
		if long != nil {
			line, long = append(long, line...), nil
		} else {
			line = bytes.Clone(line) // ReadSlice's buffer is reused; fn may keep the line
		}
		if len(line) > maxLine {
			return &InputError{Path: path, Line: n, Msg: fmt.Sprintf("line longer than %d MiB", maxLine>>20),
				Hint: "is this really JSON lines (one object per line)?"}
		}
		if len(line) > 0 {
			if t := bytes.TrimSpace(line); len(t) > 0 {
				if ferr := fn(t, n); ferr != nil {
					return ferr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// ReadJSONLRows reads one JSON object per line (.jsonl or .jsonl.gz), keeping key order.
func ReadJSONLRows(path string) ([]Doc, error) {
	rc, err := openMaybeGzip(path, "a dataset's JSONL file", "")
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var rows []Doc
	err = forEachLine(path, rc, func(line []byte, n int) error {
		var d Doc
		if err := d.UnmarshalJSON(line); err != nil {
			return &InputError{Path: path, Line: n, Msg: "malformed JSON line", Err: err}
		}
		rows = append(rows, d)
		return nil
	})
	if err != nil {
		if IsInputError(err) {
			return nil, err
		}
		return nil, &InputError{Path: path, Msg: "reading", Err: err, Hint: "the file is cut short or corrupt: copy it again"}
	}
	return rows, nil
}

// readLines returns the trimmed non-blank lines of a text file (PIQA's and SIQA's *-labels.lst).
func readLines(path string) ([]string, error) {
	rc, err := openMaybeGzip(path, "a dataset's labels file", "")
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []string
	err = forEachLine(path, rc, func(line []byte, _ int) error { out = append(out, string(line)); return nil })
	return out, err
}
