package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"unicode/utf8"
)

// maxHeaderSize bounds the JSON header, as the reference implementation
// does (100 MB), so that a corrupt length cannot make us allocate or scan
// gigabytes before failing.
const maxHeaderSize = 100_000_000

// metadataKey is the reserved header entry that holds the file's metadata.
const metadataKey = "__metadata__"

// File is a parsed safetensors file.
type File struct {
	Path     string            // the name given to Parse, or the path given to Read or Open
	Metadata map[string]string // the "__metadata__" entry; nil when the file has none
	Tensors  []Tensor          // in file order: by position in the byte buffer

	index  map[string]int // name -> position in Tensors, built by Parse
	closer io.Closer      // the open file behind a File from Open; nil otherwise
}

// Get returns the tensor called name. The pointer refers into f.Tensors.
func (f *File) Get(name string) (*Tensor, bool) {
	// The index is only a hint: a caller may have edited Tensors since
	// Parse, so confirm the hit and fall back to a scan.
	if i, ok := f.index[name]; ok && i < len(f.Tensors) && f.Tensors[i].Name == name {
		return &f.Tensors[i], true
	}
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i], true
		}
	}
	return nil, false
}

// Names returns the tensor names in file order.
func (f *File) Names() []string {
	names := make([]string, len(f.Tensors))
	for i := range f.Tensors {
		names[i] = f.Tensors[i].Name
	}
	return names
}

// Read reads and parses the safetensors file at path. The whole file is read
// into memory once; the tensors' Data point into that single buffer. Open
// validates the same way but leaves the tensor data on disk, which is what
// loading a model wants.
func Read(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("%s: file is %d bytes, too short for the 8-byte header length (truncated, or not a safetensors file)", path, size)
	}
	// Check the header length before reading the rest, so that a file
	// that is not safetensors at all fails without being read whole.
	var prefix [8]byte
	if _, err := io.ReadFull(fd, prefix[:]); err != nil {
		return nil, fmt.Errorf("%s: reading the 8-byte header length of a %d-byte file: %w (truncated, or not a safetensors file)", path, size, err)
	}
	if err := checkHeaderLen(path, binary.LittleEndian.Uint64(prefix[:]), size); err != nil {
		return nil, err
	}
	b := make([]byte, size)
	copy(b, prefix[:])
	if _, err := io.ReadFull(fd, b[8:]); err != nil {
		return nil, fmt.Errorf("%s: reading %d bytes: %w (did the file change while being read?)", path, size, err)
	}
	return Parse(path, b)
}

func checkHeaderLen(name string, n uint64, fileSize int64) error {
	if n > maxHeaderSize {
		return fmt.Errorf("%s: header length %d exceeds the %d-byte limit (corrupt, or not a safetensors file)", name, n, maxHeaderSize)
	}
	if n > uint64(fileSize-8) {
		return fmt.Errorf("%s: header length %d runs past the end of the %d-byte file (truncated, or not a safetensors file)", name, n, fileSize)
	}
	return nil
}

// rawInfo is one header entry before validation.
type rawInfo struct {
	name       string
	dtype      DType
	shape      []int64
	begin, end int64
}

// Parse parses a safetensors file held in b; name is used in error messages
// and as the File's Path. The tensors' Data alias b. It validates the whole
// header against the buffer and returns an error, never a panic, for any
// malformed input.
func Parse(name string, b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%s: file is %d bytes, too short for the 8-byte header length (truncated, or not a safetensors file)", name, len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if err := checkHeaderLen(name, n, int64(len(b))); err != nil {
		return nil, err
	}
	hdr, buf := b[8:8+n], b[8+n:]
	f, spans, err := parseLayout(name, hdr, int64(len(buf)))
	if err != nil {
		return nil, err
	}
	for i, sp := range spans {
		f.Tensors[i].Data = buf[sp.begin:sp.end:sp.end]
	}
	return f, nil
}

// span is where a tensor's bytes lie in the byte buffer: [begin, end).
type span struct{ begin, end int64 }

// parseLayout parses the JSON header hdr of a file whose byte buffer (what
// follows the header) is bufLen bytes long, and checks every entry against
// it: dtypes, shapes, names, and offsets that tile the buffer exactly. It
// returns the File with its tensors in buffer order, Data unset, and each
// tensor's span. Parse and Open share it, so a file held in memory and one
// streamed from disk pass exactly the same checks, before any tensor data
// is read or allocated.
func parseLayout(name string, hdr []byte, bufLen int64) (*File, []span, error) {
	if !utf8.Valid(hdr) {
		return nil, nil, fmt.Errorf("%s: header is not valid UTF-8 (corrupt, or not a safetensors file)", name)
	}
	meta, infos, err := parseHeader(hdr)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	f := &File{Path: name, Metadata: meta, Tensors: make([]Tensor, len(infos)), index: make(map[string]int, len(infos))}
	spans := make([]span, len(infos))
	for _, in := range infos {
		if err := validate(&in, bufLen); err != nil {
			return nil, nil, fmt.Errorf("%s: tensor %q: %w", name, in.name, err)
		}
	}
	// File order is buffer order. The sort is stable so that zero-size
	// tensors sharing an offset keep their header order, which makes
	// Parse(Encode(Parse(b))) reproduce the same order.
	slices.SortStableFunc(infos, func(a, b rawInfo) int {
		if a.begin != b.begin {
			return cmpInt64(a.begin, b.begin)
		}
		return cmpInt64(a.end, b.end)
	})
	// The spec (and the Rust reference) requires the tensors to tile the
	// buffer: each begins where the previous ended, the first at 0, the last
	// at the end. Holes would be unreadable bytes and overlaps would alias
	// two tensors, both signs of a broken writer.
	var prev int64
	for i, in := range infos {
		switch {
		case in.begin > prev && i == 0:
			return nil, nil, fmt.Errorf("%s: tensor %q: data_offsets [%d, %d] leave the first %d bytes of the buffer uncovered (the buffer must be covered without holes)", name, in.name, in.begin, in.end, in.begin)
		case in.begin > prev:
			return nil, nil, fmt.Errorf("%s: tensor %q: data_offsets [%d, %d] leave a hole of %d bytes after tensor %q, which ends at %d (the buffer must be covered without holes)", name, in.name, in.begin, in.end, in.begin-prev, infos[i-1].name, prev)
		case in.begin < prev:
			return nil, nil, fmt.Errorf("%s: tensor %q: data_offsets [%d, %d] overlap tensor %q, which ends at %d", name, in.name, in.begin, in.end, infos[i-1].name, prev)
		}
		prev = in.end
		shape := make([]int, len(in.shape))
		for j, d := range in.shape {
			shape[j] = int(d)
		}
		f.Tensors[i] = Tensor{Name: in.name, DType: in.dtype, Shape: shape}
		spans[i] = span{in.begin, in.end}
		f.index[in.name] = i
	}
	if prev != bufLen {
		if len(infos) == 0 {
			return nil, nil, fmt.Errorf("%s: header lists no tensors but the buffer has %d bytes (the buffer must be covered without holes)", name, bufLen)
		}
		return nil, nil, fmt.Errorf("%s: tensor %q: the last tensor ends at %d but the buffer has %d bytes; %d trailing bytes are uncovered (the buffer must be covered without holes)", name, infos[len(infos)-1].name, prev, bufLen, bufLen-prev)
	}
	return f, spans, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// validate checks one entry on its own against a buffer of bufLen bytes.
func validate(in *rawInfo, bufLen int64) error {
	size := in.dtype.Size()
	if size == 0 {
		return fmt.Errorf("unknown dtype %q", in.dtype)
	}
	shape := make([]int, len(in.shape))
	for i, d := range in.shape {
		if d < 0 {
			return fmt.Errorf("negative dimension %d in shape %v", d, in.shape)
		}
		if int64(int(d)) != d {
			return fmt.Errorf("dimension %d in shape %v does not fit in an int", d, in.shape)
		}
		shape[i] = int(d)
	}
	if in.begin < 0 || in.end < in.begin {
		return fmt.Errorf("data_offsets [%d, %d] are not an increasing pair of non-negative offsets", in.begin, in.end)
	}
	if in.end > bufLen {
		return fmt.Errorf("data_offsets [%d, %d] run past the end of the %d-byte buffer (truncated file?)", in.begin, in.end, bufLen)
	}
	span := int(in.end - in.begin)
	nb, ok := shapeBytes(shape, size)
	if !ok {
		return fmt.Errorf("shape %v of %s overflows an int, but data_offsets [%d, %d] span %d bytes", in.shape, in.dtype, in.begin, in.end, span)
	}
	if nb != span {
		return fmt.Errorf("shape %v of %s needs %d bytes but data_offsets [%d, %d] span %d", in.shape, in.dtype, nb, in.begin, in.end, span)
	}
	return nil
}

// parseHeader decodes the JSON header token by token rather than into a Go
// map, because a map would silently keep the last of two entries with the
// same name, and a duplicate tensor is exactly the kind of corruption we
// must report. Errors name the tensor being decoded when there is one.
func parseHeader(hdr []byte) (map[string]string, []rawInfo, error) {
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	var (
		meta     map[string]string
		seenMeta bool
		infos    []rawInfo
		seen     = map[string]bool{}
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("header: %w", jsonErr(dec, err))
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("header: expected a tensor name, found %v", tok)
		}
		if key == metadataKey {
			if seenMeta {
				return nil, nil, fmt.Errorf("header: %s appears twice", metadataKey)
			}
			seenMeta = true
			if meta, err = parseStringMap(dec); err != nil {
				return nil, nil, fmt.Errorf("header: %s: %w", metadataKey, err)
			}
			continue
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("tensor %q: duplicate name in header", key)
		}
		seen[key] = true
		in, err := parseInfo(dec)
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", key, err)
		}
		in.name = key
		infos = append(infos, in)
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	// The JSON value must be the whole header: writers pad with spaces,
	// anything else after the object is corruption.
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, fmt.Errorf("header: after the JSON object: %w", jsonErr(dec, err))
		}
		return nil, nil, fmt.Errorf("header: unexpected %s after the JSON object", describe(tok))
	}
	return meta, infos, nil
}

// parseStringMap decodes a JSON object of string to string (or null, which
// the Rust reference also accepts for __metadata__), rejecting duplicate
// keys and non-string values.
func parseStringMap(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErr(dec, err)
	}
	if tok == nil {
		return nil, nil
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("expected an object of strings, found %s", describe(tok))
	}
	m := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonErr(dec, err)
		}
		key, _ := tok.(string) // keys are always strings inside an object
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("key %q appears twice", key)
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key, jsonErr(dec, err))
		}
		v, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("key %q: value must be a string, found %s", key, describe(tok))
		}
		m[key] = v
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	return m, nil
}

// parseInfo decodes {"dtype": ..., "shape": [...], "data_offsets": [b, e]}.
// Unknown and repeated fields are errors: the format defines exactly these
// three, and a stray field most likely means a corrupt or misread header.
func parseInfo(dec *json.Decoder) (rawInfo, error) {
	var in rawInfo
	if err := expectDelim(dec, '{'); err != nil {
		return in, err
	}
	var haveDType, haveShape, haveOffsets bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return in, jsonErr(dec, err)
		}
		field, _ := tok.(string)
		switch field {
		case "dtype":
			if haveDType {
				return in, errors.New(`"dtype" appears twice`)
			}
			haveDType = true
			tok, err := dec.Token()
			if err != nil {
				return in, fmt.Errorf("dtype: %w", jsonErr(dec, err))
			}
			s, ok := tok.(string)
			if !ok {
				return in, fmt.Errorf("dtype must be a string, found %s", describe(tok))
			}
			in.dtype = DType(s)
		case "shape":
			if haveShape {
				return in, errors.New(`"shape" appears twice`)
			}
			haveShape = true
			if in.shape, err = parseInts(dec, "shape"); err != nil {
				return in, err
			}
		case "data_offsets":
			if haveOffsets {
				return in, errors.New(`"data_offsets" appears twice`)
			}
			haveOffsets = true
			offs, err := parseInts(dec, "data_offsets")
			if err != nil {
				return in, err
			}
			if len(offs) != 2 {
				return in, fmt.Errorf("data_offsets must be [begin, end], found %d numbers", len(offs))
			}
			in.begin, in.end = offs[0], offs[1]
		default:
			return in, fmt.Errorf("unknown field %q (expected dtype, shape, data_offsets)", field)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return in, err
	}
	switch {
	case !haveDType:
		return in, errors.New(`missing "dtype"`)
	case !haveShape:
		return in, errors.New(`missing "shape"`)
	case !haveOffsets:
		return in, errors.New(`missing "data_offsets"`)
	}
	return in, nil
}

// parseInts decodes a JSON array of integers. Negative values are returned
// so that validate can say "negative dimension"; fractions, exponents and
// values beyond int64 are rejected here.
func parseInts(dec *json.Decoder, what string) ([]int64, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, jsonErr(dec, err))
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("%s must be an array of integers, found %s", what, describe(tok))
	}
	v := []int64{} // not nil: a 0-d shape is [] and stays distinct from "missing"
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, jsonErr(dec, err))
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s must be an array of integers, found %s", what, describe(tok))
		}
		x, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s is not an integer in int64 range", what, num)
		}
		v = append(v, x)
	}
	if err := expectDelim(dec, ']'); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonErr(dec, err)
	}
	if tok != d {
		return fmt.Errorf("expected %q, found %s", string(d), describe(tok))
	}
	return nil
}

// jsonErr adds the position (in the JSON text) to a decoding error; io.EOF
// before the closing brace means the JSON stopped early.
func jsonErr(dec *json.Decoder, err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("bad JSON: unexpected end of input")
	}
	return fmt.Errorf("bad JSON near byte %d: %w", dec.InputOffset(), err)
}

// describe names a JSON token for an error message.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		return fmt.Sprintf("%q", string(v))
	case string:
		return fmt.Sprintf("string %q", v)
	case json.Number:
		return "number " + string(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(tok)
}
