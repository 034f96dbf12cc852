package data

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
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

// dolma2Tok is OLMo 2's tokenizer. The BPE ranks (embedded cl100k_base.tiktoken) come from
// github.com/pkoukk/tiktoken-go-loader and the encoder from github.com/pkoukk/tiktoken-go, whose cl100k
// pre-tokenizer runs on github.com/dlclark/regexp2 (v1), which has the `\s+(?!\S)` lookahead Go's regexp lacks.
// EncodeOrdinary never matches special tokens, which is OLMo's "special-token text in documents is plain text".
//
// (github.com/tiktoken-go/tokenizer is twice as fast but its regexp2/v2 splits "  \n  \n  " differently from
// tiktoken; the golden test catches that.)
type dolma2Tok struct {
	enc     *tiktoken.Tiktoken
	decOnce sync.Once
	dec     []string // id → bytes for every id below dolma2Vocab
}

var dolma2Once = sync.OnceValue(func() *dolma2Tok {
	tiktoken.SetBpeLoader(loader.NewOfflineLoader()) // embedded ranks: never download
	enc, err := tiktoken.GetEncoding("cl100k_base")
	if err != nil {
		panic(fmt.Sprintf("data: dolma2: embedded cl100k_base: %v", err))
	}
	return &dolma2Tok{enc: enc}
})

func dolma2() *dolma2Tok { return dolma2Once() }

func (t *dolma2Tok) Name() string   { return Dolma2 }
func (t *dolma2Tok) VocabSize() int { return padVocab(dolma2Vocab) } // 100352
func (t *dolma2Tok) EOS() int32     { return dolma2EOS }
func (t *dolma2Tok) PAD() int32     { return dolma2PAD }

func (t *dolma2Tok) Encode(dst []int32, text string) []int32 {
	// tiktoken-go converts the text to runes, so invalid UTF-8 becomes U+FFFD as in Python.
	for _, id := range t.enc.EncodeOrdinary(text) {
		dst = append(dst, int32(id))
	}
	return dst
}

func (t *dolma2Tok) Decode(ids []int32) string {
	t.decOnce.Do(t.buildDecoder)
	var b strings.Builder
	for _, id := range ids {
		if id >= 0 && int(id) < len(t.dec) {
			b.WriteString(t.dec[id])
		}
	}
	return b.String()
}

func (t *dolma2Tok) buildDecoder() {
	t.dec = make([]string, dolma2Vocab)
	one := []int{0}
	for id := range dolma2BPE {
		one[0] = id
		// Single ids decode to raw bytes (maybe part of a UTF-8 sequence), so concatenations round-trip.
		t.dec[id] = t.enc.Decode(one)
	}
	for i, s := range dolma2Added {
		t.dec[dolma2BPE+i] = s
	}
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
