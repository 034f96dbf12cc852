package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// fileKind is how a path is read, decided by its name.
type fileKind int

const (
	kindUnknown fileKind = iota
	kindTokens           // .npy, .bin: OLMo token file
	kindJSONL            // .jsonl, .json (Dolma's .json.gz are JSON lines), optionally .gz/.zst
	kindText             // .txt, optionally .gz/.zst: one document per file
)

// classify returns the kind of a file and its compression suffix ("", ".gz", ".zst").
func classify(path string) (fileKind, string) {
	p := strings.ToLower(path)
	comp := ""
	for _, c := range []string{".gz", ".zst", ".zstd"} {
		if strings.HasSuffix(p, c) {
			comp = c
			p = strings.TrimSuffix(p, c)
			break
		}
	}
	switch {
	case comp == "" && (strings.HasSuffix(p, ".npy") || strings.HasSuffix(p, ".bin")):
		return kindTokens, ""
	case strings.HasSuffix(p, ".jsonl") || strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".ndjson"):
		return kindJSONL, comp
	case strings.HasSuffix(p, ".txt") || strings.HasSuffix(p, ".md"):
		return kindText, comp
	}
	return kindUnknown, comp
}

// maxLine bounds one JSONL line (one document): a file without newlines should fail clearly, not exhaust memory.
const maxLine = 256 << 20

// docReader reads documents from a JSONL or text file, decompressing by suffix.
type docReader struct {
	path string
	kind fileKind
	f    *os.File
	zr   io.ReadCloser // decompressor, if any
	br   *bufio.Reader
	line int // lines read so far (the 1-based number of the last line returned)
	// read counts the decompressed bytes of the lines read so far, and lineAt where the last one starts: what a
	// source's scan at start reads (docHeadBytes) and whether a line was past it
	read, lineAt int64
	done         bool
	started      bool // a non-blank line was read
	strict       bool
}

// document is one document read from a file.
type document struct {
	Line int // 1-based line (always 1 for text files)
	Text string
}

// openDocs opens path for reading documents. Errors are *InputError.
func openDocs(path string) (*docReader, error) { return openDocsCounting(path, nil) }

// openDocsCounting is openDocs that adds the file bytes it reads to read (for progress), if not nil.
func openDocsCounting(path string, read *atomic.Int64) (*docReader, error) {
	kind, comp := classify(path)
	if kind != kindJSONL && kind != kindText {
		return nil, &InputError{Path: path, Msg: "not a document file", Hint: "documents are .jsonl, .json, .txt or .md, optionally .gz or .zst"}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &InputError{Path: path, Msg: "cannot open", Err: unwrapPathErr(err), Hint: hintFor(err, path)}
	}
	d := &docReader{path: path, kind: kind, f: f}
	var r io.Reader = f
	if read != nil {
		r = countingReader{f, read}
	}
	switch comp {
	case ".gz":
		zr, err := gzip.NewReader(bufio.NewReaderSize(r, 1<<16))
		if err != nil {
			f.Close()
			return nil, &InputError{Path: path, Msg: "not a gzip file", Err: err,
				Hint: "its name ends in .gz, which is read as gzip: recompress it (gzip), or rename it without .gz if it is plain text"}
		}
		d.zr, r = zr, zr
	case ".zst", ".zstd":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			f.Close()
			return nil, &InputError{Path: path, Msg: "not a zstd file", Err: err,
				Hint: "its name ends in .zst, which is read as zstd: recompress it (zstd), or rename it without .zst if it is plain text"}
		}
		d.zr, r = zr.IOReadCloser(), zr
	}
	d.br = bufio.NewReaderSize(r, 1<<16)
	return d, nil
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (d *docReader) Close() error {
	if d.zr != nil {
		d.zr.Close()
	}
	return d.f.Close()
}

// msgJSONArray is the Msg of the *InputError for a file whose first line opens a JSON array: not JSON lines at all.
const msgJSONArray = "a JSON array, not JSON lines (one JSON object per line)"

// msgMalformed is the Msg of the *InputError for a line that is not a JSON object with a string "text". A
// lenient reader skips the line and goes on; a strict one stops.
const msgMalformed = "malformed JSON line"

// next returns the next document, io.EOF at the end, an *InputError with Msg msgMalformed for a malformed line
// (the reader stays usable: call next again for the rest of the file), or another *InputError for a read error.
// Blank lines and documents with empty text are skipped.
func (d *docReader) next() (document, error) {
	if d.done {
		return document{}, io.EOF
	}
	if d.kind == kindText {
		d.done = true
		b, err := io.ReadAll(io.LimitReader(d.br, maxLine+1))
		if err != nil {
			return document{}, &InputError{Path: d.path, Msg: "read error", Err: err, Hint: d.damagedHint()}
		}
		if len(b) > maxLine {
			return document{}, &InputError{Path: d.path, Msg: fmt.Sprintf("text file longer than %d MiB", maxLine>>20), Hint: "split it into several files"}
		}
		d.line = 1
		if len(b) == 0 {
			return document{}, io.EOF
		}
		// Encode would train on U+FFFD for every byte of a Latin-1 or binary file, without a word
		if i := invalidUTF8(b); i >= 0 {
			return document{}, &InputError{Path: d.path, Msg: fmt.Sprintf("not UTF-8 text: byte 0x%02x at offset %d", b[i], i),
				Hint: "convert it to UTF-8 (iconv -f latin1 -t utf-8 FILE), or leave it out"}
		}
		return document{Line: 1, Text: string(b)}, nil
	}
	for {
		line, err := d.readLine()
		if err != nil {
			if err == io.EOF {
				d.done = true
			}
			return document{}, err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if !d.started && bytes.HasPrefix(bytes.TrimPrefix(line, utf8BOM), []byte("[")) {
			// a JSON array (json.dump of a list, a Hugging Face export):
			// read line by line, its pretty-printed last element alone parses
			d.done = true
			return document{}, &InputError{Path: d.path, Line: d.line, Msg: msgJSONArray,
				Hint: "write one object per line: jq -c '.[]' FILE > FILE.jsonl"}
		}
		d.started = true
		text, perr := parseDoc(line)
		if perr != nil {
			return document{}, &InputError{Path: d.path, Line: d.line, Msg: msgMalformed, Err: perr}
		}
		if text == "" {
			continue
		}
		return document{Line: d.line, Text: text}, nil
	}
}

// readLine returns the next line without its newline, io.EOF after the last.
func (d *docReader) readLine() ([]byte, error) {
	var long []byte
	for {
		chunk, err := d.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(long)+len(chunk) > maxLine {
				d.done = true
				return nil, &InputError{Path: d.path, Line: d.line + 1, Msg: fmt.Sprintf("line longer than %d MiB", maxLine>>20), Hint: "is this really JSON lines (one object per line)?"}
			}
			long = append(long, chunk...)
			continue
		}
		if err != nil && err != io.EOF {
			d.done = true
			return nil, &InputError{Path: d.path, Line: d.line + 1, Msg: "read error", Err: err, Hint: d.damagedHint()}
		}
		if err == io.EOF && len(chunk) == 0 && len(long) == 0 {
			return nil, io.EOF
		}
		d.line++
		d.lineAt = d.read
		d.read += int64(len(long) + len(chunk))
		if long != nil {
			return append(long, chunk...), nil
		}
		return chunk, nil
	}
}

// damagedHint says what to do about a read error: in a compressed file, it is almost always a damaged or
// truncated download ("unexpected EOF", "invalid checksum").
func (d *docReader) damagedHint() string {
	switch _, comp := classify(d.path); comp {
	case ".gz":
		return "the file is damaged or cut short (gzip -t FILE says so too): fetch or write it again, or leave it out"
	case ".zst", ".zstd":
		return "the file is damaged or cut short (zstd -t FILE says so too): fetch or write it again, or leave it out"
	}
	return ""
}

// invalidUTF8 returns the offset of the first byte of b that is not valid UTF-8, or -1.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// dolmaDoc is the part of a Dolma document olmolab reads; id, source, metadata and the rest are ignored.
type dolmaDoc struct {
	Text *string `json:"text"`
}

// utf8BOM starts files that some Windows tools write; JSON has no place for it.
var utf8BOM = []byte("\xef\xbb\xbf")

// parseDoc returns a line's "text". A line that is not UTF-8, not a JSON object, or has no string "text", is malformed. A UTF-8
// byte order mark before the object (the first line of a file some Windows tools wrote) is skipped.
func parseDoc(line []byte) (string, error) {
	// encoding/json would replace invalid bytes by U+FFFD; JSON is UTF-8 (RFC 8259 §8.1), so such a line is not JSON
	if i := invalidUTF8(line); i >= 0 {
		return "", fmt.Errorf("invalid UTF-8 (byte 0x%02x at column %d): JSON text must be UTF-8", line[i], i+1)
	}
	line = bytes.TrimPrefix(line, utf8BOM)
	if len(line) == 0 || line[0] != '{' {
		return "", errors.New("not a JSON object")
	}
	var d dolmaDoc
	if err := json.Unmarshal(line, &d); err != nil {
		// say it in the file's terms, not in Go's ("Go struct field dolmaDoc.text of type string")
		if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) && te.Field == "text" {
			return "", fmt.Errorf(`"text" is a JSON %s, not a string`, te.Value)
		}
		return "", err
	}
	if d.Text == nil {
		return "", errors.New(`no "text" field`)
	}
	return *d.Text, nil
}
