package data

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/edsrzf/mmap-go"
)

// tokenFile is an OLMo token file (docs/olmo2.md §11): a headerless little-endian array of uint16 or uint32 ids,
// documents ended by EOS, read through mmap so that only the pages a batch touches are ever loaded.
type tokenFile struct {
	path  string
	dtype DType
	f     *os.File
	m     mmap.MMap // nil for an empty file (mmap of length 0 fails)
	n     int64     // tokens
}

// openTokenFile maps path. A size that is not a multiple of the element size is an *InputError.
func openTokenFile(path string, dt DType) (*tokenFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &InputError{Path: path, Msg: "cannot open token file", Err: unwrapPathErr(err), Hint: hintFor(err, path)}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &InputError{Path: path, Msg: "cannot stat token file", Err: unwrapPathErr(err), Hint: hintFor(err, path)}
	}
	size := st.Size()
	var magic [6]byte
	if n, _ := f.ReadAt(magic[:], 0); n == len(magic) && string(magic[:]) == npyMagic {
		f.Close()
		return nil, &InputError{Path: path, Msg: "is a NumPy .npy file with a header (np.save), not an OLMo token file",
			Hint: "OLMo token files are headerless arrays of ids (ndarray.tofile or np.memmap); write them that way, or use olmolab tokenize"}
	}
	if size%int64(dt) != 0 {
		f.Close()
		other := Uint32
		if dt == Uint32 {
			other = Uint16
		}
		return nil, &InputError{Path: path,
			Msg:  fmt.Sprintf("size %d bytes is not a multiple of %d (%s): truncated, or not a token file", size, int(dt), dt),
			Hint: fmt.Sprintf("OLMo token files are headerless %s arrays for this tokenizer; if this file holds %s ids, set dtype: %s on its source (dataset.dtype: %s for every source)", dt, other, other, other)}
	}
	tf := &tokenFile{path: path, dtype: dt, f: f, n: size / int64(dt)}
	if size > 0 {
		m, err := mmap.Map(f, mmap.RDONLY, 0)
		if err != nil {
			f.Close()
			return nil, err // openTokens says which file and what failed
		}
		tf.m = m
	}
	return tf, nil
}

// npyMagic starts a file np.save wrote; OLMo token files have no header, so such a file's header would be read as
// token ids.
const npyMagic = "\x93NUMPY"

// at returns token i.
func (t *tokenFile) at(i int64) uint32 {
	if t.dtype == Uint16 {
		return uint32(binary.LittleEndian.Uint16(t.m[2*i:]))
	}
	return binary.LittleEndian.Uint32(t.m[4*i:])
}

// read copies tokens [off, off+len(dst)) into dst.
func (t *tokenFile) read(dst []int32, off int64) {
	if t.dtype == Uint16 {
		b := t.m[2*off : 2*(off+int64(len(dst)))]
		for i := range dst {
			dst[i] = int32(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return
	}
	b := t.m[4*off : 4*(off+int64(len(dst)))]
	for i := range dst {
		dst[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

// scanIDs returns the index of the first token ≥ vocab, or -1: ids past the embedding would crash the model (or, for
// uint32 ids ≥ 2^31, turn negative), so every file is checked before training; and whether eos occurs, in the same
// pass over the file.
func (t *tokenFile) scanIDs(vocab int, eos uint32) (bad int64, sawEOS bool) {
	v := uint32(vocab)
	if t.dtype == Uint16 {
		if vocab > 1<<16 {
			return -1, true
		}
		for i := int64(0); i < t.n; i++ {
			id := uint32(binary.LittleEndian.Uint16(t.m[2*i:]))
			if id >= v {
				return i, sawEOS
			}
			sawEOS = sawEOS || id == eos
		}
		return -1, sawEOS
	}
	for i := int64(0); i < t.n; i++ {
		id := binary.LittleEndian.Uint32(t.m[4*i:])
		if id >= v {
			return i, sawEOS
		}
		sawEOS = sawEOS || id == eos
	}
	return -1, sawEOS
}

// looksWide reports whether a file read as uint16 holds uint32 ids: every second element (the high halves, little
// endian) is zero, and not every element is. Such a file passes the vocabulary check, yet trains on every id followed by a 0; in a real uint16
// file id 0 at every odd position does not happen. Files under 16 tokens are too short to tell.
func (t *tokenFile) looksWide() bool {
	if t.dtype != Uint16 || t.n < 16 || t.n%2 != 0 {
		return false
	}
	low := false // some low half is not 0: a file of zeros reads the same either way
	for i := int64(0); i < t.n; i += 2 {
		if t.m[2*i+2] != 0 || t.m[2*i+3] != 0 {
			return false
		}
		low = low || t.m[2*i] != 0 || t.m[2*i+1] != 0
	}
	return low
}

func (t *tokenFile) close() {
	if t.m != nil {
		t.m.Unmap()
		t.m = nil
	}
	t.f.Close()
}

// unwrapPathErr drops the *os.PathError wrapper, whose path the InputError already shows.
func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
