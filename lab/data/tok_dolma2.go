package data

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
	loader "github.com/pkoukk/tiktoken-go-loader"
)

// dolma2 ids (docs/olmo2.md §11): cl100k_base's 100,256 BPE tokens, then OLMo's added tokens.
const (
	dolma2BPE   = 100256
	dolma2EOS   = 100257
	dolma2PAD   = 100277
	dolma2Vocab = 100278
)

// dolma2Added are the added tokens 100256–100277 in id order.
var dolma2Added = []string{
	"<|extra_id_0|>", "<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
	"|||PHONE_NUMBER|||", "|||EMAIL_ADDRESS|||", "|||IP_ADDRESS|||", "<|im_start|>", "<|im_end|>",
	"<|extra_id_1|>", "<|extra_id_2|>", "<|extra_id_3|>", "<|extra_id_4|>", "<|extra_id_5|>",
	"<|extra_id_6|>", "<|extra_id_7|>", "<|extra_id_8|>", "<|extra_id_9|>", "<|extra_id_10|>",
	"<|endofprompt|>", "<|pad|>",
}

// cl100kPattern is cl100k_base's pre-tokenizer (tiktoken's openai_public.py). The `\s+(?!\S)` lookahead is why it
// runs on github.com/dlclark/regexp2: Go's regexp has no lookahead.
const cl100kPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// dolma2Tok is OLMo 2's tokenizer: cl100k_base's BPE ranks (the cl100k_base.tiktoken file embedded by
// github.com/pkoukk/tiktoken-go-loader), its pre-tokenizer on regexp2, and tiktoken's merge rule (repeatedly merge
// the adjacent pair whose concatenation has the lowest rank, leftmost first). Special tokens are never matched, which
// is OLMo's "special-token text in documents is plain text".
//
// The merge is our code rather than a library's for two reasons found by tests: github.com/tiktoken-go/tokenizer's
// regexp2/v2 splits "  \n  \n  " differently from tiktoken, and github.com/pkoukk/tiktoken-go merges in O(n²), so one
// long piece (a 1 MB run of letters, e.g. a DNA sequence) stalls a worker for minutes; pieces from 64 bytes use a heap
// instead (O(n log n), the same merges). Encoded pieces are cached; the regexp dominates the cost (about 1M tokens/s per core).
type dolma2Tok struct {
	re     *regexp2.Regexp
	ranks  map[string]int32
	dec    []string // id → bytes for every id below dolma2Vocab
	cache  sync.Map // piece → []int32
	cached atomic.Int64
}

var dolma2Once = sync.OnceValue(func() *dolma2Tok {
	raw, err := loader.NewOfflineLoader().LoadTiktokenBpe("cl100k_base.tiktoken")
	if err != nil || len(raw) != dolma2BPE {
		panic(fmt.Sprintf("data: dolma2: embedded cl100k_base has %d ranks: %v", len(raw), err))
	}
	t := &dolma2Tok{
		re:    regexp2.MustCompile(cl100kPattern, regexp2.None),
		ranks: make(map[string]int32, len(raw)),
		dec:   make([]string, dolma2Vocab),
	}
	for s, r := range raw {
		t.ranks[s] = int32(r)
		t.dec[r] = s
	}
	for i, s := range dolma2Added {
		t.dec[dolma2BPE+i] = s
	}
	return t
})

func dolma2() *dolma2Tok { return dolma2Once() }

func (t *dolma2Tok) Name() string   { return Dolma2 }
func (t *dolma2Tok) VocabSize() int { return padVocab(dolma2Vocab) } // 100352
func (t *dolma2Tok) EOS() int32     { return dolma2EOS }
func (t *dolma2Tok) PAD() int32     { return dolma2PAD }

// maxCachedPieces bounds the piece cache (a few MB); web text's common pieces fit many times over.
const maxCachedPieces = 1 << 17

func (t *dolma2Tok) Encode(dst []int32, text string) []int32 {
	// regexp2 matches on runes, so invalid UTF-8 becomes U+FFFD here, as it would in a Python string.
	m, err := t.re.FindStringMatch(text)
	for m != nil && err == nil {
		piece := m.String()
		if r, ok := t.ranks[piece]; ok {
			dst = append(dst, r)
		} else if v, ok := t.cache.Load(piece); ok {
			dst = append(dst, v.([]int32)...)
		} else {
			n := len(dst)
			dst = t.merge(dst, piece)
			if len(piece) <= 64 && t.cached.Add(1) <= maxCachedPieces {
				t.cache.Store(piece, slices.Clone(dst[n:]))
			}
		}
		m, err = t.re.FindNextMatch(m)
	}
	if err != nil {
		// regexp2 fails only on a match timeout, and none is set.
		panic(fmt.Sprintf("data: dolma2 pre-tokenizer: %v", err))
	}
	return dst
}

// merge appends the BPE tokens of piece (not itself a token).
func (t *dolma2Tok) merge(dst []int32, piece string) []int32 {
	if len(piece) >= 64 {
		return t.mergeHeap(dst, piece)
	}
	// bounds[i] is the start of part i; rank[i] the rank of parts i and i+1 merged (or none).
	var bounds [65]int
	var rank [65]int32
	nb := len(piece) + 1
	for i := range nb {
		bounds[i] = i
	}
	const none = int32(math.MaxInt32)
	pairRank := func(i int) int32 {
		if i+2 < nb {
			if r, ok := t.ranks[piece[bounds[i]:bounds[i+2]]]; ok {
				return r
			}
		}
		return none
	}
	for i := 0; i < nb-1; i++ {
		rank[i] = pairRank(i)
	}
	for nb > 2 {
		best, at := none, -1
		for i := 0; i < nb-2; i++ {
			if rank[i] < best {
				best, at = rank[i], i
			}
		}
		if at < 0 {
			break
		}
		copy(bounds[at+1:nb-1], bounds[at+2:nb])
		copy(rank[at+1:nb-1], rank[at+2:nb])
		nb--
		rank[at] = pairRank(at)
		if at > 0 {
			rank[at-1] = pairRank(at - 1)
		}
	}
	for i := 0; i < nb-1; i++ {
		dst = append(dst, t.ranks[piece[bounds[i]:bounds[i+1]]])
	}
	return dst
}

// mergeHeap is merge in O(n log n): parts form a linked list, candidate merges sit in a min-heap ordered by (rank,
// position), and stale candidates are skipped when popped.
func (t *dolma2Tok) mergeHeap(dst []int32, piece string) []int32 {
	n := len(piece)
	next := make([]int, n+1) // next[i]: start of the part after the part starting at i (n: end)
	prev := make([]int, n+1)
	for i := range next {
		next[i], prev[i] = i+1, i-1
	}
	const none = int32(math.MaxInt32)
	cur := make([]int32, n+1) // cur[i]: rank of merging the part at i with its successor
	rankAt := func(i int) int32 {
		j := next[i]
		if j >= n {
			return none
		}
		if r, ok := t.ranks[piece[i:next[j]]]; ok {
			return r
		}
		return none
	}
	h := &mergeHeap{}
	for i := 0; i < n; i++ {
		cur[i] = rankAt(i)
		if cur[i] != none {
			h.items = append(h.items, mergeCand{cur[i], i})
		}
	}
	h.init()
	for len(h.items) > 0 {
		c := h.pop()
		if cur[c.pos] != c.rank || next[c.pos] >= n { // stale
			continue
		}
		i, j := c.pos, next[c.pos]
		next[i] = next[j]
		if next[j] <= n {
			prev[next[j]] = i
		}
		cur[j] = none
		cur[i] = rankAt(i)
		if cur[i] != none {
			h.push(mergeCand{cur[i], i})
		}
		if p := prev[i]; p >= 0 {
			cur[p] = rankAt(p)
			if cur[p] != none {
				h.push(mergeCand{cur[p], p})
			}
		}
	}
	for i := 0; i < n; i = next[i] {
		dst = append(dst, t.ranks[piece[i:next[i]]])
	}
	return dst
}

type mergeCand struct {
	rank int32
	pos  int
}

// mergeHeap is a binary min-heap on (rank, pos): the lowest rank first, the leftmost among equals, as tiktoken.
type mergeHeap struct{ items []mergeCand }

func (h *mergeHeap) less(a, b int) bool {
	x, y := h.items[a], h.items[b]
	return x.rank < y.rank || x.rank == y.rank && x.pos < y.pos
}

func (h *mergeHeap) init() {
	for i := len(h.items)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *mergeHeap) push(c mergeCand) {
	h.items = append(h.items, c)
	for i := len(h.items) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *mergeHeap) pop() mergeCand {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	h.down(0)
	return top
}

func (h *mergeHeap) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(h.items) {
			return
		}
		if r := c + 1; r < len(h.items) && h.less(r, c) {
			c = r
		}
		if !h.less(c, i) {
			return
		}
		h.items[i], h.items[c] = h.items[c], h.items[i]
		i = c
	}
}

func (t *dolma2Tok) Decode(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		if id >= 0 && int(id) < len(t.dec) {
			b.WriteString(t.dec[id])
		}
	}
	return b.String()
}

// byteTokenizer is UTF-8 bytes as ids, for the smallest CPU presets.
type byteTokenizer struct{}

const (
	byteEOS = 256
	bytePAD = 257
)

func (byteTokenizer) Name() string   { return Bytes }
func (byteTokenizer) VocabSize() int { return padVocab(258) } // 384
func (byteTokenizer) EOS() int32     { return byteEOS }
func (byteTokenizer) PAD() int32     { return bytePAD }

func (byteTokenizer) Encode(dst []int32, text string) []int32 {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	for i := 0; i < len(text); i++ {
		dst = append(dst, int32(text[i]))
	}
	return dst
}

func (byteTokenizer) Decode(ids []int32) string {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		switch {
		case id >= 0 && id < 256:
			b = append(b, byte(id))
		case id == byteEOS:
			b = append(b, "<|endoftext|>"...)
		case id == bytePAD:
			b = append(b, "<|pad|>"...)
		}
	}
	return string(b)
}
