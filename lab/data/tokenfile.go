package data

import (
	"container/list"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"
)

// tokenFile is an OLMo token file (docs/olmo2.md §11): a headerless little-endian array of uint16 or uint32 ids,
// documents ended by EOS. It is read with pread, an instance at a time, never mapped or scanned whole: a mixture
// of 10^10–10^12 tokens in thousands of files costs at start only each file's head (headBytes), and memory only
// the instances queued (mapped pages, once touched, counted towards the process's resident memory: a pass over
// 16 GiB of files took 15 GB of RSS), and descriptors only for the files read lately (maxOpenTokenFiles).
type tokenFile struct {
	path  string
	dtype DType
	// f is the open file, nil while it is not among the maxOpenTokenFiles held open (openFiles); elem is its place
	// there and users the reads under way, which keep it open. All three under openFiles.mu.
	f     *os.File
	elem  *list.Element
	users int
	n     int64 // tokens
	// vocab and tok check every id read (read): the ids past the head are first seen when an instance is read
	vocab uint32
	tok   string
	// readBytes counts the bytes read from the file; atStart, those read when it was opened (scanHead), for tests to
	// bound the work done at start
	readBytes, atStart int64
}

// headBytes is how much of each token file is read when a source is opened: enough for a file written with another
// tokenizer or dtype (ids past the vocabulary, uint32 ids read as uint16) and for documents without EOS to show,
// and little enough that opening a thousand files of several GB each reads 256 MB, not terabytes.
const headBytes = 256 << 10

// openTokenFile opens path. A size that is not a multiple of the element size is an *InputError.
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
	t := &tokenFile{path: path, dtype: dt, n: size / int64(dt), vocab: ^uint32(0)}
	openFiles.add(t, f)
	return t, nil
}

// maxOpenTokenFiles bounds the token files held open at once in the process, every loader's together. Holding each
// open for the whole run made a source of more files than the descriptor limit (ulimit -n: 1024 on many systems, and
// Go raises it only to the hard limit) fail to start with "too many open files"; a file read again once closed
// costs an open (microseconds) beside its pread of a sequence.
const maxOpenTokenFiles = 64

// openFiles holds the token files open now, most recently read first.
var openFiles fdCache

type fdCache struct {
	mu  sync.Mutex
	lru list.List // of *tokenFile
}

// add records t, just opened as f, and closes the least recently read files past maxOpenTokenFiles.
func (c *fdCache) add(t *tokenFile, f *os.File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t.f, t.elem = f, c.lru.PushFront(t)
	c.trim()
}

// trim closes the least recently read files not being read until at most maxOpenTokenFiles are open.
func (c *fdCache) trim() {
	for e := c.lru.Back(); e != nil && c.lru.Len() > maxOpenTokenFiles; {
		prev := e.Prev()
		if t := e.Value.(*tokenFile); t.users == 0 {
			t.f.Close()
			t.f, t.elem = nil, nil
			c.lru.Remove(e)
		}
		e = prev
	}
}

// acquire returns t's file, opened again if it was closed, kept open until release.
func (c *fdCache) acquire(t *tokenFile) (*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.f == nil {
		f, err := os.Open(t.path)
		if err != nil {
			return nil, &InputError{Path: t.path, Msg: "cannot open token file again (moved or deleted while training?)", Err: unwrapPathErr(err),
				Hint: "do not move token files under a running run; resume it (olmolab --batch --resume) once they are back"}
		}
		t.f, t.elem = f, c.lru.PushFront(t)
		c.trim()
	} else {
		c.lru.MoveToFront(t.elem)
	}
	t.users++
	return t.f, nil
}

func (c *fdCache) release(t *tokenFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t.users--
	c.trim()
}

// close closes t for good.
func (c *fdCache) close(t *tokenFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.f != nil {
		t.f.Close()
		c.lru.Remove(t.elem)
		t.f, t.elem = nil, nil
	}
}

// npyMagic starts a file np.save wrote; OLMo token files have no header, so such a file's header would be read as
// token ids.
const npyMagic = "\x93NUMPY"

// readRaw reads the bytes of tokens [off, off+len(b)/dtype) into b. A short read means the file shrank since it was
// opened.
func (t *tokenFile) readRaw(b []byte, off int64) error {
	f, err := openFiles.acquire(t)
	if err != nil {
		return err
	}
	n, err := f.ReadAt(b, off*int64(t.dtype))
	openFiles.release(t)
	t.readBytes += int64(n)
	if err == io.EOF || err == nil && n < len(b) {
		return &InputError{Path: t.path, Msg: fmt.Sprintf("holds fewer than the %d tokens it held when the run started (changed while training?)", t.n),
			Hint: "do not change token files under a running run; resume it (olmolab --batch --resume) once they are whole again"}
	}
	if err != nil {
		return &InputError{Path: t.path, Msg: "cannot read token file", Err: unwrapPathErr(err)}
	}
	return nil
}

// decode turns b's little-endian ids into dst and returns the index in dst of the first id ≥ t.vocab, or -1.
func (t *tokenFile) decode(dst []int32, b []byte) int {
	bad := -1
	if t.dtype == Uint16 {
		for i := range dst {
			id := uint32(binary.LittleEndian.Uint16(b[2*i:]))
			if id >= t.vocab && bad < 0 {
				bad = i
			}
			dst[i] = int32(id)
		}
		return bad
	}
	for i := range dst {
		id := binary.LittleEndian.Uint32(b[4*i:])
		if id >= t.vocab && bad < 0 {
			bad = i
		}
		dst[i] = int32(id)
	}
	return bad
}

// read copies tokens [off, off+len(dst)) into dst, with *scratch (grown as needed) for the bytes. An id ≥ the
// vocabulary is an *InputError naming the file and the id's index: past the head read at start, ids are checked as
// they are read, before any is trained on.
func (t *tokenFile) read(dst []int32, off int64, scratch *[]byte) error {
	need := len(dst) * int(t.dtype)
	if cap(*scratch) < need {
		*scratch = make([]byte, need)
	}
	b := (*scratch)[:need]
	if err := t.readRaw(b, off); err != nil {
		return err
	}
	if i := t.decode(dst, b); i >= 0 {
		return t.badID(uint32(dst[i]), off+int64(i))
	}
	return nil
}

func (t *tokenFile) badID(id uint32, at int64) error {
	return &InputError{Path: t.path,
		Msg:  fmt.Sprintf("token %d (at index %d) is not below the vocabulary size %d of tokenizer %s", id, at, t.vocab, t.tok),
		Hint: "the file was made with another tokenizer or dtype (olmolab tokenize writes dolma2's ids unless its --tokenizer names another); set the recipe's tokenizer (or the source's dtype, or dataset.dtype) to match, or retokenize"}
}

// head is what openTokens learns from a file's first headBytes and its last token.
type head struct {
	tokens int64 // tokens read from the start: the whole file when whole
	whole  bool
	sawEOS bool   // EOS among them
	last   uint32 // the file's last token
	wide   bool   // read as uint16, they look like uint32 ids (looksWide)
}

// scanHead reads the file's first headBytes and its last token (never more, whatever the file's size) and checks
// their ids against vocab: ids past the embedding would crash the model (or, for uint32 ids ≥ 2^31, turn negative).
// An id past it is an *InputError.
func (t *tokenFile) scanHead(vocab int, eos uint32) (head, error) {
	h := head{tokens: min(t.n, headBytes/int64(t.dtype))}
	h.whole = h.tokens == t.n
	if t.n == 0 {
		return h, nil
	}
	b := make([]byte, h.tokens*int64(t.dtype))
	if err := t.readRaw(b, 0); err != nil {
		return h, err
	}
	ids := make([]int32, h.tokens)
	if i := t.decode(ids, b); i >= 0 {
		return h, t.badID(uint32(ids[i]), int64(i))
	}
	for _, id := range ids {
		if uint32(id) == eos {
			h.sawEOS = true
			break
		}
	}
	h.last = uint32(ids[len(ids)-1])
	if !h.whole {
		var tail [4]int32
		if err := t.read(tail[:1], t.n-1, &b); err != nil {
			return h, err
		}
		h.last = uint32(tail[0])
	}
	h.wide = looksWide(t.dtype, ids)
	t.atStart = t.readBytes
	return h, nil
}

// looksWide reports whether ids, read as uint16, are uint32 ids: every second element (the high halves, little
// endian) is zero, and not every element is. Such a file passes the vocabulary check, yet trains on every id
// followed by a 0; in a real uint16 file id 0 at every odd position does not happen. Under 16 tokens are too few to
// tell.
func looksWide(dt DType, ids []int32) bool {
	if dt != Uint16 || len(ids) < 16 || len(ids)%2 != 0 {
		return false
	}
	low := false // some low half is not 0: a file of zeros reads the same either way
	for i := 0; i < len(ids); i += 2 {
		if ids[i+1] != 0 {
			return false
		}
		low = low || ids[i] != 0
	}
	return low
}

func (t *tokenFile) close() { openFiles.close(t) }

// unwrapPathErr drops the *os.PathError wrapper, whose path the InputError already shows.
func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
