// Package bpe is a small byte-level byte-pair encoding: a deterministic trainer, an encoder and a text file format.
//
// It exists for the built-in world's tokenizer (docs/world.md: a 2,048-token BPE trained on the world learns where
// bytes learn nothing at the same budget). Ids 0–255 are the bytes, so every input is encodable and decoding
// round-trips any byte string; id 256+i is merge i. Text is first split into pieces by Split, and merges never
// cross pieces, as in GPT-2's BPE.
package bpe

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// MaxPiece is the longest piece Split returns: longer runs are cut, which bounds the quadratic merge loop on
// pathological input (a megabyte without spaces) and never happens in ordinary text.
const MaxPiece = 64

// Split calls yield for each piece of text, in order; the pieces concatenate to text. A piece is one of:
// an optional space and a run of letters (ASCII letters and any byte ≥ 0x80, so UTF-8 sequences stay whole);
// an optional space and up to three digits (as cl100k's \p{N}{1,3}: a small model learns "17 + 18 =" → " 35" as it
// learns a fact when the answer is one token, and learned no sums at all when numbers were spelled digit by digit);
// an optional space and a run of other visible characters; a run of newlines; a run of other whitespace, less the last
// space when a word follows (that space starts the word's piece, like cl100k's `\s+(?!\S)`).
func Split(text string, yield func(piece string)) {
	i := 0
	n := len(text)
	for i < n {
		start := i
		c := text[i]
		digits := 0
		if c == ' ' && i+1 < n && !isSpace(text[i+1]) {
			i++ // the space belongs to the piece that follows
			c = text[i]
		}
		switch {
		case isLetter(c):
			for i < n && isLetter(text[i]) && i-start < MaxPiece {
				i++
			}
		case isDigit(c):
			for i < n && isDigit(text[i]) && i-start < MaxPiece && digits < 3 {
				i++
				digits++
			}
		case c == '\n' || c == '\r':
			for i < n && (text[i] == '\n' || text[i] == '\r') && i-start < MaxPiece {
				i++
			}
		case !isSpace(c):
			for i < n && !isLetter(text[i]) && !isDigit(text[i]) && !isSpace(text[i]) && i-start < MaxPiece {
				i++
			}
		default: // other whitespace (space, tab, \v, \f)
			for i < n && isSpace(text[i]) && text[i] != '\n' && text[i] != '\r' && i-start < MaxPiece {
				i++
			}
			// Leave the last space for a following word or symbol.
			if i < n && i-start > 1 && text[i-1] == ' ' && !isSpace(text[i]) {
				i--
			}
		}
		yield(text[start:i])
	}
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' || c >= 0x80 }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// Model is a trained BPE: Merges[i] = (left, right) makes token 256+i.
type Model struct {
	Merges [][2]int32
	tokens [][]byte           // bytes of every token
	ranks  map[[2]int32]int32 // pair → merged token id (its rank: lower merges first)
	cache  sync.Map           // piece → []int32, for the encoder
	cached int64
	mu     sync.Mutex
}

// NewModel builds a model from its merges. It returns an error if a merge refers to a token not yet defined.
func NewModel(merges [][2]int32) (*Model, error) {
	m := &Model{Merges: merges, ranks: make(map[[2]int32]int32, len(merges))}
	m.tokens = make([][]byte, 256, 256+len(merges))
	for b := range 256 {
		m.tokens[b] = []byte{byte(b)}
	}
	for i, p := range merges {
		id := int32(256 + i)
		if p[0] < 0 || p[1] < 0 || p[0] >= id || p[1] >= id {
			return nil, fmt.Errorf("bpe: merge %d (%d %d) refers to an undefined token", i, p[0], p[1])
		}
		m.tokens = append(m.tokens, slices.Concat(m.tokens[p[0]], m.tokens[p[1]]))
		if _, dup := m.ranks[p]; !dup {
			m.ranks[p] = id
		}
	}
	return m, nil
}

// Size is the number of tokens: 256 bytes plus the merges.
func (m *Model) Size() int { return len(m.tokens) }

// Token returns the bytes of token id (nil if out of range).
func (m *Model) Token(id int32) []byte {
	if id < 0 || int(id) >= len(m.tokens) {
		return nil
	}
	return m.tokens[id]
}

// maxCached bounds the piece cache: the world's text has a few thousand distinct pieces, arbitrary text has many.
const maxCached = 1 << 16

// Encode appends the tokens of text to dst.
func (m *Model) Encode(dst []int32, text string) []int32 {
	Split(text, func(p string) {
		if v, ok := m.cache.Load(p); ok {
			dst = append(dst, v.([]int32)...)
			return
		}
		start := len(dst)
		dst = m.encodePiece(dst, p)
		m.mu.Lock()
		if m.cached < maxCached {
			m.cached++
			m.cache.Store(strings.Clone(p), slices.Clone(dst[start:]))
		}
		m.mu.Unlock()
	})
	return dst
}

// encodePiece merges the lowest-ranked adjacent pair until none is mergeable (ranks are merge order, so this is
// the training order replayed).
func (m *Model) encodePiece(dst []int32, p string) []int32 {
	start := len(dst)
	for i := 0; i < len(p); i++ {
		dst = append(dst, int32(p[i]))
	}
	ids := dst[start:]
	for len(ids) > 1 {
		best, at := int32(-1), -1
		for i := 0; i+1 < len(ids); i++ {
			if r, ok := m.ranks[[2]int32{ids[i], ids[i+1]}]; ok && (best < 0 || r < best) {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		ids[at] = best
		ids = append(ids[:at+1], ids[at+2:]...)
	}
	return dst[:start+len(ids)]
}

// Decode appends the bytes of ids to dst; ids outside the model are skipped.
func (m *Model) Decode(dst []byte, ids []int32) []byte {
	for _, id := range ids {
		dst = append(dst, m.Token(id)...)
	}
	return dst
}

const header = "olmolab-bpe v1"

// MarshalText writes the model as a header line and one line per merge, "left right", with the new token's text
// as a comment so the file can be read by a person.
func (m *Model) MarshalText() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n# %d merges; token 256+i is the concatenation of line i's two tokens (0-255 are bytes)\n", header, len(m.Merges))
	for i, p := range m.Merges {
		fmt.Fprintf(&b, "%d %d # %s\n", p[0], p[1], strconv.Quote(string(m.tokens[256+i])))
	}
	return b.Bytes(), nil
}

// Parse reads a model written by MarshalText.
func Parse(data []byte) (*Model, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	if !sc.Scan() || sc.Text() != header {
		return nil, fmt.Errorf("bpe: missing %q header", header)
	}
	var merges [][2]int32
	line := 1
	for sc.Scan() {
		line++
		t := sc.Text()
		if i := strings.IndexByte(t, '#'); i >= 0 {
			t = t[:i]
		}
		f := strings.Fields(t)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("bpe: line %d: want two token ids", line)
		}
		a, err1 := strconv.ParseInt(f[0], 10, 32)
		b, err2 := strconv.ParseInt(f[1], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bpe: line %d: bad token id", line)
		}
		merges = append(merges, [2]int32{int32(a), int32(b)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bpe: %w", err)
	}
	return NewModel(merges)
}
