// Package tokcorpus is text for checking that a tokenizer.json encodes as
// olmolab's tokenizers do: the lab/data tests' interpreter, the transformers.js
// script (scripts/hf-tokenizer-js.sh) and the device's transformers check
// (scripts/hf_check.py) all read it, through scripts/hftokcases.
package tokcorpus

import (
	"math/rand/v2"
	"strings"

	"github.com/olmolab/olmolab/lab/data/world"
)

// Texts is text that exercises every path of the three pre-tokenizers: ASCII prose, contractions in both cases,
// code, whitespace runs of every kind, digits, Unicode (accents, CJK, emoji and ZWJ sequences, RTL, combining marks,
// Unicode spaces), runs past 64 bytes (the world tokenizer's cap, in ASCII and in 2-byte letters, where it cuts a
// character), special tokens, the world's own text and random strings over a tricky alphabet.
func Texts() []string {
	c := []string{
		"Hello world", "hello world!", " leading space", "trailing space ", "The quick brown fox jumps over the lazy dog.",
		"I'm sure they'll say it's fine; we've HE'S THEY'LL I'D you're 'quoted' 'S", "don't DON'T Don'T rock'n'roll",
		"func main() {\n\tfmt.Println(\"hi\")\n}\n", "if x:\n    return y  # comment\n\n\n", "a  b   c    d\te\t\tf",
		"  \n  \n  ", "\r\n\r\nline\r\n", "x \n y", "word   \n", "   ", "\n", "\t", " ", "\v\f mixed \v", "end  ",
		"1234567890 3.14159 1,000,000 -42 +7 2026-11-29 0x1F 007", "sum: 17 + 18 = 35", "Q: What is 12345 * 6789?\nA:",
		"Grüße aus Köln, naïve café, façade, Ærøskøbing", "日本語のテキストです。中文测试", "Привет, мир! Ёлка",
		"مرحبا بالعالم", "שלום", "emoji 👍🏽 👨‍👩‍👧 🇩🇪!", "e\u0301 combining", "nbsp\u00a0here em\u2003space ideographic\u3000x",
		"ſ 'ſ ǅ Σσς ß ẞ", "\u00ad soft hyphen", "\x7f del \x01 ctrl",
		strings.Repeat("a", 200), strings.Repeat("é", 100), " " + strings.Repeat("b", 70), strings.Repeat(" ", 130) + "x",
		strings.Repeat("\n", 70) + "y", strings.Repeat("!", 100), " " + strings.Repeat("?", 70), strings.Repeat("7", 10),
		strings.Repeat("\t ", 40) + "z", strings.Repeat("日本", 40), "ACGT" + strings.Repeat("ACGTTGCA", 20),
		"<|endoftext|>", "a<|endoftext|>b", "doc one<|endoftext|>doc two<|pad|><|pad|>", "<|im_start|>user\nhi<|im_end|>",
		"<|fim_prefix|>x<|fim_suffix|>y<|fim_middle|>", "|||EMAIL_ADDRESS||| and |||PHONE_NUMBER|||", "<|endofprompt|><|extra_id_10|>",
		"<|endoftext", "endoftext|>", "<||>",
	}
	corpus := world.TokenizerCorpus()
	for i := 0; i < len(corpus); i += max(1, len(corpus)/60) {
		c = append(c, corpus[i])
	}
	alphabet := []rune(" \t\n\r\vaZz09'’.,!?-_()[]{}\\/\"#<|>éß日😀\u00a0\u2003Ёا\u0301")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		n := rng.IntN(40)
		var b strings.Builder
		for range n {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		c = append(c, b.String())
	}
	return c
}

// WithSpecials is what Hugging Face's tokenizers give for text: encode's ids
// for the text between special tokens' strings, each of which (specials) is
// read as its token: the leftmost first, the longest where several start at
// one place.
func WithSpecials(encode func(dst []int32, text string) []int32, specials map[string]int32, text string) []int32 {
	var ids []int32
	for text != "" {
		at, s := len(text), ""
		for c := range specials {
			if i := strings.Index(text, c); i >= 0 && (i < at || i == at && len(c) > len(s)) {
				at, s = i, c
			}
		}
		ids = encode(ids, text[:at])
		if s == "" {
			break
		}
		ids = append(ids, specials[s])
		text = text[at+len(s):]
	}
	return ids
}
