package data

import (
	"fmt"
	"strings"
)

// Tokenizer turns text into token ids and back. Implementations are safe for concurrent use.
type Tokenizer interface {
	// Name is the name NewTokenizer knows it by.
	Name() string
	// Encode appends the ids of text to dst and returns it. Text that looks like a special token
	// ("<|endoftext|>") is encoded as plain text: documents cannot inject control tokens. Invalid UTF-8 is
	// encoded as U+FFFD.
	Encode(dst []int32, text string) []int32
	// Decode returns the text of ids; Decode(Encode(s)) == s for every valid UTF-8 s. Special tokens decode to
	// their text ("<|endoftext|>"), ids the tokenizer does not have (vocabulary padding) to nothing.
	Decode(ids []int32) string
	// VocabSize is the size the model's embedding needs: the vocabulary padded to a multiple of 128 as OLMo-core
	// does (docs/olmo2.md §11). Every id Encode returns, EOS and PAD are below it.
	VocabSize() int
	// EOS ends every document. There is no BOS (OLMo 2).
	EOS() int32
	// PAD fills nothing in olmolab (instances are packed) but is reserved, as in OLMo.
	PAD() int32
}

// Tokenizer names.
const (
	Dolma2 = "dolma2" // OLMo 2's tokenizer: cl100k_base plus OLMo's added tokens
	Bytes  = "bytes"  // bytes 0–255, EOS 256, PAD 257
	World  = "world"  // the built-in world's 2,048-token BPE
)

// NewTokenizer returns the tokenizer with the given name: "dolma2" (also "allenai/dolma2-tokenizer"), "bytes" or
// "world". An unknown name is an *InputError.
func NewTokenizer(name string) (Tokenizer, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case Dolma2, "allenai/dolma2-tokenizer", "dolma2-tokenizer", "allenai_dolma2":
		return dolma2(), nil
	case Bytes, "byte":
		return byteTokenizer{}, nil
	case World, "builtin", "builtin:world":
		return worldTokenizer(), nil
	}
	return nil, &InputError{Msg: fmt.Sprintf("unknown tokenizer %q", name), Hint: `use "dolma2", "bytes" or "world"`}
}

// padVocab rounds n up to a multiple of 128 (OLMo-core TokenizerConfig.padded_vocab_size).
func padVocab(n int) int { return (n + 127) / 128 * 128 }

// DType is the element type of an OLMo token file.
type DType int

// Token file element types (little-endian).
const (
	Uint16 DType = 2
	Uint32 DType = 4
)

func (d DType) String() string {
	switch d {
	case Uint16:
		return "uint16"
	case Uint32:
		return "uint32"
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// MarshalText writes "uint16" or "uint32", as a recipe gives it, so that a checkpoint's mix reads as one.
func (d DType) MarshalText() ([]byte, error) {
	if d != Uint16 && d != Uint32 {
		return nil, fmt.Errorf("token dtype %d is neither uint16 nor uint32", int(d))
	}
	return []byte(d.String()), nil
}

// UnmarshalText reads what MarshalText writes.
func (d *DType) UnmarshalText(b []byte) error {
	v, err := ParseDType(string(b))
	if err != nil || len(b) == 0 {
		return fmt.Errorf("token dtype %q: want uint16 or uint32", b)
	}
	*d = v
	return nil
}

// ParseDType parses "uint16" or "uint32" (OLMo's memmap_dtype); "" means the default for the tokenizer.
func ParseDType(s string) (DType, error) {
	switch strings.ToLower(s) {
	case "uint16", "u16", "np.uint16":
		return Uint16, nil
	case "uint32", "u32", "np.uint32":
		return Uint32, nil
	}
	return 0, &InputError{Msg: fmt.Sprintf("unknown token dtype %q", s), Hint: `use "uint16" or "uint32"`}
}

// DTypeFor is the smallest unsigned type that holds every id of t, as OLMo-core chooses it: uint32 for dolma2,
// uint16 for bytes and world.
func DTypeFor(t Tokenizer) DType {
	if t.VocabSize() <= 1<<16 {
		return Uint16
	}
	return Uint32
}
