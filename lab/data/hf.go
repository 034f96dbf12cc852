package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// HFFile is one file of a Hugging Face tokenizer directory.
type HFFile struct {
	Name string
	Data []byte
}

// HFTokenizerFiles returns the files AutoTokenizer.from_pretrained and generate read beside an HF checkpoint's
// config.json, for tok: tokenizer.json (HFTokenizerJSON), tokenizer_config.json, special_tokens_map.json and
// generation_config.json (EOS and PAD ids; no BOS is added, as OLMo 2). maxLen is the tokenizer's
// model_max_length: the model's positions.
func HFTokenizerFiles(tok Tokenizer, maxLen int) ([]HFFile, error) {
	tj, err := HFTokenizerJSON(tok)
	if err != nil {
		return nil, err
	}
	eos, pad := tok.Decode([]int32{tok.EOS()}), tok.Decode([]int32{tok.PAD()})
	added := hfAdded(tok)
	decoder := make([]jsonKV, len(added))
	for i, a := range added {
		decoder[i] = jsonKV{fmt.Sprint(a.id), hfAddedToken{Content: a.content, Special: true}}
	}
	cfg := []jsonKV{
		{"add_bos_token", false},
		{"add_eos_token", false},
		{"added_tokens_decoder", decoder},
		{"bos_token", eos}, // OLMo 2's tokenizer names EOS as BOS too, and adds neither
		{"clean_up_tokenization_spaces", false},
		{"eos_token", eos},
		{"model_max_length", maxLen},
		{"pad_token", pad},
		{"tokenizer_class", "PreTrainedTokenizerFast"}, // tokenizer.json as it is, whatever transformers' version
	}
	special := []jsonKV{
		{"bos_token", hfAddedToken{Content: eos}},
		{"eos_token", hfAddedToken{Content: eos}},
		{"pad_token", hfAddedToken{Content: pad}},
	}
	gen := []jsonKV{
		{"eos_token_id", tok.EOS()},
		{"pad_token_id", tok.PAD()},
	}
	return []HFFile{
		{"tokenizer.json", tj},
		{"tokenizer_config.json", marshalOrdered(cfg)},
		{"special_tokens_map.json", marshalOrdered(special)},
		{"generation_config.json", marshalOrdered(gen)},
	}, nil
}

// hfAddedToken is an added token as tokenizer_config.json and special_tokens_map.json give it.
type hfAddedToken struct {
	Content    string `json:"content"`
	Lstrip     bool   `json:"lstrip"`
	Normalized bool   `json:"normalized"`
	Rstrip     bool   `json:"rstrip"`
	SingleWord bool   `json:"single_word"`
	Special    bool   `json:"special,omitempty"`
}

// jsonKV is one key of a JSON object written in the given order; a []jsonKV value is a nested object.
type jsonKV struct {
	Key   string
	Value any
}

func marshalOrdered(kv []jsonKV) []byte {
	var b bytes.Buffer
	writeOrdered(&b, kv, "")
	b.WriteByte('\n')
	return b.Bytes()
}

func writeOrdered(b *bytes.Buffer, kv []jsonKV, indent string) {
	b.WriteString("{\n")
	for i, e := range kv {
		b.WriteString(indent + "  " + jsonStr(e.Key) + ": ")
		writeJSONValue(b, e.Value, indent+"  ")
		if i < len(kv)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(indent + "}")
}

// jsonValue is v as compact JSON, <, > and & unescaped (special tokens stay readable).
func jsonValue(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("data: %v", err)) // only the fixed types above are written
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func jsonStr(s string) string { return jsonValue(s) }

type hfAddedID struct {
	id      int32
	content string
}

// hfAdded are tok's tokens after its BPE vocabulary, in id order: OLMo's added tokens for dolma2, EOS and PAD for
// the others.
func hfAdded(tok Tokenizer) []hfAddedID {
	var out []hfAddedID
	if tok.Name() == Dolma2 {
		for i, s := range dolma2Added {
			out = append(out, hfAddedID{int32(dolma2BPE + i), s})
		}
		return out
	}
	for _, id := range []int32{tok.EOS(), tok.PAD()} {
		out = append(out, hfAddedID{id, tok.Decode([]int32{id})})
	}
	return out
}

// HFTokenizerJSON returns tok's tokenizer.json, the format of Hugging Face's tokenizers library, which encodes text
// as tok does: a byte-level BPE (each byte a character by GPT-2's byte-to-unicode table), a pre-tokenizer that cuts
// the text into the pieces tok merges within, the merges in tok's order, and tok's tokens after the BPE vocabulary
// as added special tokens with their ids. Text holding a special token's string encodes as that token in HF (its
// default, and allenai's dolma2 tokenizer's), where Encode reads it as plain text. The vocabulary is not padded to
// VocabSize: ids past it decode to nothing, in HF as in Decode.
//
//   - dolma2: cl100k_base as tiktoken→HF converters write it: the cl100k pre-tokenizer regex, then the byte
//     mapping; merges derived from the ranks (each token's two parts, from merging its bytes by lower ranks), in
//     rank order; ignore_merges, since a piece that is a token is that token (tiktoken). About 4.5 MB.
//   - world: the byte mapping first, then a regex on the mapped characters (one per byte) that cuts exactly where
//     bpe.Split does, 64-byte cap included; merges in the model's order.
//   - bytes: the byte mapping, no merges.
//
// Each is built once per process.
func HFTokenizerJSON(tok Tokenizer) ([]byte, error) {
	switch tok.Name() {
	case Dolma2:
		return hfDolma2()
	case World:
		return hfWorld()
	case Bytes:
		return hfBytes()
	}
	return nil, fmt.Errorf("data: no tokenizer.json for tokenizer %q", tok.Name())
}

// hfByteRunes is GPT-2's bytes_to_unicode: printable Latin-1 bytes are themselves, the others (controls, space,
// 0x7F–0xA0, 0xAD) are U+0100 onward in byte order, so every byte is one visible character.
var hfByteRunes = func() (m [256]rune) {
	n := 0
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			m[b] = rune(b)
		} else {
			m[b] = rune(256 + n)
			n++
		}
	}
	return m
}()

// hfMapBytes is s with each byte replaced by its byte-level character.
func hfMapBytes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(hfByteRunes[s[i]])
	}
	return b.String()
}

// hfMapClass is the regex character class content for the bytes in set (mapped), as literal characters.
func hfMapClass(set func(b byte) bool) string {
	var rs []rune
	for b := range 256 {
		if set(byte(b)) {
			rs = append(rs, hfByteRunes[b])
		}
	}
	slices.Sort(rs)
	var out strings.Builder
	for i := 0; i < len(rs); {
		j := i
		for j+1 < len(rs) && rs[j+1] == rs[j]+1 {
			j++
		}
		out.WriteString(classRune(rs[i]))
		if j > i {
			out.WriteString("-" + classRune(rs[j]))
		}
		i = j + 1
	}
	return out.String()
}

// classRune writes r for a character class, escaping the characters special there (\ ] [ ^ -); JavaScript's
// regexes with the u flag, which transformers.js uses, refuse an escaped character that needs none.
func classRune(r rune) string {
	if strings.ContainsRune(`\][^-`, r) {
		return `\` + string(r)
	}
	return string(r)
}

var (
	hfDolma2 = sync.OnceValues(func() ([]byte, error) { return buildHFDolma2(dolma2()) })
	hfWorld  = sync.OnceValues(func() ([]byte, error) { return buildHFWorld(worldTokenizer()) })
	hfBytes  = sync.OnceValues(func() ([]byte, error) {
		vocab := make([]string, 256)
		for b := range vocab {
			vocab[b] = string(hfByteRunes[b])
		}
		return hfTokenizerJSON(hfSpec{vocab: vocab, added: hfAdded(byteTokenizer{})}), nil
	})
)

func buildHFDolma2(t *dolma2Tok) ([]byte, error) {
	vocab := make([]string, dolma2BPE)
	for id, s := range t.dec[:dolma2BPE] {
		vocab[id] = hfMapBytes(s)
	}
	merges := make([][2]string, 0, dolma2BPE)
	for id, s := range t.dec[:dolma2BPE] {
		if len(s) < 2 {
			continue
		}
		parts := t.partsBelow(s, int32(id))
		if len(parts) != 2 {
			// A token its bytes do not reach by lower ranks: tiktoken gives it only for a piece that is the token
			// (ignore_merges). cl100k_base has none.
			continue
		}
		merges = append(merges, [2]string{hfMapBytes(parts[0]), hfMapBytes(parts[1])})
	}
	return hfTokenizerJSON(hfSpec{
		preTokenizer: []jsonKV{
			{"type", "Sequence"},
			{"pretokenizers", []any{
				hfSplit(cl100kPatternHF),
				hfByteLevel(),
			}},
		},
		vocab:        vocab,
		merges:       merges,
		ignoreMerges: true,
		added:        hfAdded(t),
	}), nil
}

// cl100kPatternHF is cl100kPattern with its one case-insensitive group spelled out: JavaScript's regexes
// (transformers.js) have no (?i:…) and regexp2's ignore-case matches just these ASCII letters.
const cl100kPatternHF = `'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// partsBelow merges s's bytes as tiktoken does with the ranks below max only.
func (t *dolma2Tok) partsBelow(s string, max int32) []string {
	parts := make([]string, len(s))
	for i := 0; i < len(s); i++ {
		parts[i] = s[i : i+1]
	}
	for len(parts) > 1 {
		best, at := max, -1
		for i := 0; i+1 < len(parts); i++ {
			if r, ok := t.ranks[parts[i]+parts[i+1]]; ok && r < best {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		parts[at] += parts[at+1]
		parts = slices.Delete(parts, at+1, at+2)
	}
	return parts
}

func buildHFWorld(t *worldTok) ([]byte, error) {
	n := t.m.Size()
	vocab := make([]string, n)
	seen := make(map[string]int, n)
	for id := range n {
		s := hfMapBytes(string(t.m.Token(int32(id))))
		if prev, dup := seen[s]; dup {
			return nil, fmt.Errorf("data: world tokenizer: tokens %d and %d have the same bytes; tokenizer.json cannot hold both", prev, id)
		}
		seen[s] = id
		vocab[id] = s
	}
	merges := make([][2]string, len(t.m.Merges))
	for i, p := range t.m.Merges {
		merges[i] = [2]string{vocab[p[0]], vocab[p[1]]}
	}
	return hfTokenizerJSON(hfSpec{
		preTokenizer: []jsonKV{
			{"type", "Sequence"},
			{"pretokenizers", []any{
				hfByteLevel(),
				hfSplit(worldSplitPattern()),
			}},
		},
		vocab:  vocab,
		merges: merges,
		added:  hfAdded(t),
	}), nil
}

// worldSplitPattern is bpe.Split as a regex over byte-level characters (one per byte, so counts are bytes):
// a space and a letter run of up to 63 (64 with the space), up to 3 digits, or a run of other visible bytes; or,
// without the space, up to 64 letters, 3 digits, 64 newlines or 64 other visible bytes; or a run of other
// whitespace, less its last space when a visible byte follows.
func worldSplitPattern() string {
	isLetter := func(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' || c >= 0x80 }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' }
	L := "[" + hfMapClass(isLetter) + "]"
	D := "[" + hfMapClass(isDigit) + "]"
	O := "[" + hfMapClass(func(c byte) bool { return !isLetter(c) && !isDigit(c) && !isSpace(c) }) + "]"
	NL := "[" + hfMapClass(func(c byte) bool { return c == '\n' || c == '\r' }) + "]"
	W := "[" + hfMapClass(func(c byte) bool { return isSpace(c) && c != '\n' && c != '\r' }) + "]"
	notS := "[^" + hfMapClass(isSpace) + "]"
	sp := string(hfByteRunes[' '])
	return strings.Join([]string{
		sp + L + "{1,63}", sp + D + "{1,3}", sp + O + "{1,63}",
		L + "{1,64}", D + "{1,3}", NL + "{1,64}", O + "{1,64}",
		W + "{1,63}(?=" + sp + notS + ")", W + "{1,64}",
	}, "|")
}

func hfSplit(pattern string) []jsonKV {
	return []jsonKV{
		{"type", "Split"},
		{"pattern", []jsonKV{{"Regex", pattern}}},
		{"behavior", "Isolated"},
		{"invert", false},
	}
}

func hfByteLevel() []jsonKV {
	return []jsonKV{
		{"type", "ByteLevel"},
		{"add_prefix_space", false},
		{"trim_offsets", true},
		{"use_regex", false},
	}
}

// hfSpec is what differs between our tokenizers' tokenizer.json files.
type hfSpec struct {
	preTokenizer []jsonKV // nil: ByteLevel alone
	vocab        []string // id → byte-level string
	merges       [][2]string
	ignoreMerges bool
	added        []hfAddedID
}

func hfTokenizerJSON(s hfSpec) []byte {
	var b bytes.Buffer
	b.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	for i, a := range s.added {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n    {\"id\": %d, \"content\": %s, \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}",
			a.id, jsonStr(a.content))
	}
	b.WriteString("\n  ],\n  \"normalizer\": null,\n  \"pre_tokenizer\": ")
	pre := s.preTokenizer
	if pre == nil {
		pre = hfByteLevel()
	}
	writeJSONValue(&b, pre, "  ")
	b.WriteString(",\n  \"post_processor\": ")
	writeJSONValue(&b, []jsonKV{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}, "  ")
	b.WriteString(",\n  \"decoder\": ")
	writeJSONValue(&b, []jsonKV{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}, "  ")
	fmt.Fprintf(&b, `,
  "model": {
    "type": "BPE",
    "dropout": null,
    "unk_token": null,
    "continuing_subword_prefix": null,
    "end_of_word_suffix": null,
    "fuse_unk": false,
    "byte_fallback": false,
    "ignore_merges": %t,
    "vocab": {`, s.ignoreMerges)
	for id, v := range s.vocab {
		if id > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n      %s: %d", jsonStr(v), id)
	}
	b.WriteString("\n    },\n    \"merges\": [")
	for i, m := range s.merges {
		if i > 0 {
			b.WriteByte(',')
		}
		// byte-level strings hold no space (it is Ġ), so "left right" is unambiguous, and every tokenizers version reads it
		b.WriteString("\n      " + jsonStr(m[0]+" "+m[1]))
	}
	b.WriteString("\n    ]\n  }\n}\n")
	// a copy of its length: the process keeps it, and the buffer grew by doubling (8 MiB for dolma2's 4.2 MB)
	return bytes.Clone(b.Bytes())
}

// writeJSONValue writes v: []jsonKV as an object, []any as an array, other values compact.
func writeJSONValue(b *bytes.Buffer, v any, indent string) {
	switch v := v.(type) {
	case []jsonKV:
		writeOrdered(b, v, indent)
	case []any:
		b.WriteString("[\n")
		for i, e := range v {
			b.WriteString(indent + "  ")
			writeJSONValue(b, e, indent+"  ")
			if i < len(v)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	default:
		b.WriteString(jsonValue(v))
	}
}
