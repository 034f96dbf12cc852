package olmes

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// checkArrowStream checks the framing and metadata of an Arrow IPC stream
// before arrow-go reads it. arrow-go trusts the lengths in a file's
// flatbuffer metadata and sizes slices by them: one flipped byte in a
// schema's field count asked for a 377 GB slice, and a failed allocation ends
// a Go process where recover cannot help. So every message must lie inside
// the file, and every vector its metadata declares (fields, children,
// key-value pairs, record batch nodes and buffers) must fit inside its
// message. Buffer sizes are bounded separately (boundedAllocator).
//
// The layouts are Arrow's format/Message.fbs and Schema.fbs, read with the
// flatbuffers wire format: a table starts with the signed offset of its
// vtable; the vtable holds 16-bit offsets of the table's fields, the i-th at
// byte 4+2i; a vector is a 32-bit length followed by its elements.
func checkArrowStream(b []byte) error {
	for pos := 0; pos < len(b); {
		if len(b)-pos < 4 {
			return fmt.Errorf("%d stray bytes at the end", len(b)-pos)
		}
		n := int64(int32(binary.LittleEndian.Uint32(b[pos:])))
		pos += 4
		if n == -1 { // continuation marker, then the length
			if len(b)-pos < 4 {
				return errors.New("stream ends inside a message header")
			}
			n = int64(int32(binary.LittleEndian.Uint32(b[pos:])))
			pos += 4
		}
		if n == 0 {
			return nil // end of stream
		}
		if n < 0 || n > int64(len(b)-pos) {
			return fmt.Errorf("a message of %d bytes at byte %d, past the end of the file", n, pos)
		}
		body, err := checkMessage(fb(b[pos : pos+int(n)]))
		if err != nil {
			return fmt.Errorf("message at byte %d: %w", pos, err)
		}
		pos += int(n)
		if body < 0 || body > int64(len(b)-pos) {
			return fmt.Errorf("a message body of %d bytes at byte %d, past the end of the file", body, pos)
		}
		pos += int(body)
	}
	return nil
}

// fb is one flatbuffer: every read is bounds-checked.
type fb []byte

var errFlatbuf = errors.New("corrupt metadata")

func (f fb) u32(at int) (int, error) {
	if at < 0 || at+4 > len(f) {
		return 0, errFlatbuf
	}
	return int(binary.LittleEndian.Uint32(f[at:])), nil
}

// field returns the position of table t's field i, or 0 when it is absent.
func (f fb) field(t, i int) (int, error) {
	so, err := f.u32(t)
	if err != nil {
		return 0, err
	}
	vt := t - int(int32(uint32(so)))
	if vt < 0 || vt+4 > len(f) {
		return 0, errFlatbuf
	}
	vsize := int(binary.LittleEndian.Uint16(f[vt:]))
	at := 4 + 2*i
	if at+2 > vsize {
		return 0, nil
	}
	if vt+at+2 > len(f) {
		return 0, errFlatbuf
	}
	o := int(binary.LittleEndian.Uint16(f[vt+at:]))
	if o == 0 {
		return 0, nil
	}
	if t+o >= len(f) {
		return 0, errFlatbuf
	}
	return t + o, nil
}

// ref follows the offset of table t's field i to the table, vector or string
// it points at (0 when the field is absent).
func (f fb) ref(t, i int) (int, error) {
	at, err := f.field(t, i)
	if err != nil || at == 0 {
		return 0, err
	}
	o, err := f.u32(at)
	if err != nil {
		return 0, err
	}
	if at+o >= len(f) {
		return 0, errFlatbuf
	}
	return at + o, nil
}

// vector checks that table t's field i, a vector of elem-byte elements,
// lies inside the buffer; it returns its first element's position and length.
func (f fb) vector(t, i, elem int) (int, int, error) {
	v, err := f.ref(t, i)
	if err != nil || v == 0 {
		return 0, 0, err
	}
	n, err := f.u32(v)
	if err != nil {
		return 0, 0, err
	}
	if int64(n)*int64(elem) > int64(len(f)-v-4) {
		return 0, 0, fmt.Errorf("a vector of %d elements in %d bytes of metadata", n, len(f))
	}
	return v + 4, n, nil
}

// tables checks a vector of tables and calls check on each.
func (f fb) tables(t, i int, check func(int) error) error {
	v, n, err := f.vector(t, i, 4)
	if err != nil {
		return err
	}
	for k := range n {
		o, err := f.u32(v + 4*k)
		if err != nil {
			return err
		}
		if v+4*k+o >= len(f) {
			return errFlatbuf
		}
		if err := check(v + 4*k + o); err != nil {
			return err
		}
	}
	return nil
}

// checkMessage checks a Message and returns its body length.
func checkMessage(f fb) (int64, error) {
	root, err := f.u32(0)
	if err != nil || root >= len(f) {
		return 0, errFlatbuf
	}
	if err := f.tables(root, 4, f.checkKeyValue); err != nil { // custom_metadata
		return 0, err
	}
	var body int64
	if at, err := f.field(root, 3); err != nil { // bodyLength
		return 0, err
	} else if at != 0 {
		if at+8 > len(f) {
			return 0, errFlatbuf
		}
		body = int64(binary.LittleEndian.Uint64(f[at:]))
	}
	kind := 0
	if at, err := f.field(root, 1); err != nil { // header_type
		return 0, err
	} else if at != 0 {
		kind = int(f[at])
	}
	header, err := f.ref(root, 2)
	if err != nil || header == 0 {
		return body, err
	}
	switch kind {
	case 1: // Schema
		err = f.checkSchema(header)
	case 2: // DictionaryBatch: its data (field 1) is a RecordBatch
		var rb int
		if rb, err = f.ref(header, 1); err == nil && rb != 0 {
			err = f.checkRecordBatch(rb)
		}
	case 3:
		err = f.checkRecordBatch(header)
	}
	return body, err
}

func (f fb) checkSchema(s int) error {
	if err := f.tables(s, 1, f.checkField); err != nil { // fields
		return err
	}
	if err := f.tables(s, 2, f.checkKeyValue); err != nil { // custom_metadata
		return err
	}
	_, _, err := f.vector(s, 3, 8) // features
	return err
}

func (f fb) checkField(t int) error {
	if err := f.checkString(t, 0); err != nil { // name
		return err
	}
	if err := f.tables(t, 5, f.checkField); err != nil { // children
		return err
	}
	return f.tables(t, 6, f.checkKeyValue) // custom_metadata
}

func (f fb) checkKeyValue(t int) error {
	if err := f.checkString(t, 0); err != nil {
		return err
	}
	return f.checkString(t, 1)
}

func (f fb) checkString(t, i int) error {
	_, _, err := f.vector(t, i, 1)
	return err
}

func (f fb) checkRecordBatch(t int) error {
	for _, v := range []struct{ field, elem int }{{1, 16}, {2, 16}, {4, 8}} { // nodes, buffers, variadicBufferCounts
		if _, _, err := f.vector(t, v.field, v.elem); err != nil {
			return err
		}
	}
	return nil
}
