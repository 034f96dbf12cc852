package data

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/olmolab/olmolab/lab/data/bpe"
	"github.com/olmolab/olmolab/lab/data/world"
)

// worldTok is the built-in world's BPE (world.TokenizerModel) with EOS and PAD at the top of the vocabulary.
type worldTok struct{ m *bpe.Model }

var worldOnce = sync.OnceValue(func() *worldTok { return &worldTok{m: world.TokenizerModel()} })

func worldTokenizer() *worldTok { return worldOnce() }

func (t *worldTok) Name() string   { return World }
func (t *worldTok) VocabSize() int { return padVocab(world.TokenizerVocab) } // 2048
func (t *worldTok) EOS() int32     { return world.TokenizerEOS }
func (t *worldTok) PAD() int32     { return world.TokenizerPAD }

func (t *worldTok) Encode(dst []int32, text string) []int32 {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	return t.m.Encode(dst, text)
}

func (t *worldTok) Decode(ids []int32) string {
	var b []byte
	for _, id := range ids {
		switch id {
		case world.TokenizerEOS:
			b = append(b, "<|endoftext|>"...)
		case world.TokenizerPAD:
			b = append(b, "<|pad|>"...)
		default:
			b = append(b, t.m.Token(id)...)
		}
	}
	return string(b)
}
