package data

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2"

	"github.com/olmolab/olmolab/lab/data/tokcorpus"
)

// hfInterp is a small interpreter of tokenizer.json, written from the format's description and not from hf.go: added
// tokens split out of the text (leftmost, longest), the pre-tokenizers in order (ByteLevel maps each UTF-8 byte to
// GPT-2's printable character; Split with Isolated keeps matches and the text between them as pieces), then BPE per
// piece: a piece in the vocabulary is its id where ignore_merges says so, otherwise its characters are merged, the
// adjacent pair of lowest merge rank first (the leftmost among equals), until no pair is a merge.
type hfInterp struct {
	added        map[string]int
	addedOrder   []string
	pre          []tjPre
	res          []*regexp2.Regexp
	vocab        map[string]int
	ranks        map[[2]string]int
	ignoreMerges bool
	byteChar     [256]string
}

type tjPre struct {
	Type          string  `json:"type"`
	Pretokenizers []tjPre `json:"pretokenizers"`
	Pattern       struct {
		Regex string `json:"Regex"`
	} `json:"pattern"`
	Behavior       string `json:"behavior"`
	Invert         bool   `json:"invert"`
	UseRegex       bool   `json:"use_regex"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
}

type tjFile struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer tjPre           `json:"pre_tokenizer"`
	Decoder      struct {
		Type string `json:"type"`
	} `json:"decoder"`
	Model struct {
		Type         string         `json:"type"`
		Vocab        map[string]int `json:"vocab"`
		Merges       []string       `json:"merges"`
		IgnoreMerges bool           `json:"ignore_merges"`
		ByteFallback bool           `json:"byte_fallback"`
	} `json:"model"`
}

// gpt2ByteChars is GPT-2's bytes_to_unicode as encoder.py writes it: the lists of printable bytes, then 2^8+n for
// the rest in order.
func gpt2ByteChars() [256]string {
	var bs []int
	for _, r := range [][2]int{{'!', '~'}, {0xA1, 0xAC}, {0xAE, 0xFF}} {
		for b := r[0]; b <= r[1]; b++ {
			bs = append(bs, b)
		}
	}
	cs := slices.Clone(bs)
	n := 0
	for b := range 256 {
		if !slices.Contains(bs, b) {
			bs = append(bs, b)
			cs = append(cs, 256+n)
			n++
		}
	}
	var m [256]string
	for i, b := range bs {
		m[b] = string(rune(cs[i]))
	}
	return m
}

func parseHF(t testing.TB, b []byte) (*hfInterp, *tjFile) {
	t.Helper()
	var f tjFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("tokenizer.json: %v", err)
	}
	if f.Model.Type != "BPE" || f.Model.ByteFallback || string(f.Normalizer) != "null" || f.Decoder.Type != "ByteLevel" {
		t.Fatalf("tokenizer.json: model %s byte_fallback %v normalizer %s decoder %s: the interpreter knows a byte-level BPE without normalizer",
			f.Model.Type, f.Model.ByteFallback, f.Normalizer, f.Decoder.Type)
	}
	h := &hfInterp{added: map[string]int{}, vocab: f.Model.Vocab, ranks: map[[2]string]int{}, ignoreMerges: f.Model.IgnoreMerges, byteChar: gpt2ByteChars()}
	for _, a := range f.AddedTokens {
		h.added[a.Content] = a.ID
		h.addedOrder = append(h.addedOrder, a.Content)
	}
	for i, m := range f.Model.Merges {
		l, r, ok := strings.Cut(m, " ")
		if !ok || strings.Contains(r, " ") {
			t.Fatalf("merge %d %q is not two tokens", i, m)
		}
		if _, dup := h.ranks[[2]string{l, r}]; dup {
			t.Fatalf("merge %d %q repeats an earlier one", i, m)
		}
		h.ranks[[2]string{l, r}] = i
	}
	h.pre = []tjPre{f.PreTokenizer}
	if f.PreTokenizer.Type == "Sequence" {
		h.pre = f.PreTokenizer.Pretokenizers
	}
	for _, p := range h.pre {
		var re *regexp2.Regexp
		switch {
		case p.Type == "Split" && p.Behavior == "Isolated" && !p.Invert:
			re = regexp2.MustCompile(p.Pattern.Regex, regexp2.None) // .NET semantics: \s and \p{L} are Unicode, as in Oniguruma and JavaScript (u)
		case p.Type == "ByteLevel" && !p.UseRegex && !p.AddPrefixSpace:
		default:
			t.Fatalf("pre-tokenizer %+v: not one the interpreter knows", p)
		}
		h.res = append(h.res, re)
	}
	return h, &f
}

// encode is what tokenizer(text)["input_ids"] gives: no BOS or EOS added.
func (h *hfInterp) encode(t testing.TB, text string) []int32 {
	var ids []int32
	for text != "" {
		// the leftmost added token, the longest where several start there
		at, tok := len(text), ""
		for _, a := range h.addedOrder {
			if i := strings.Index(text, a); i >= 0 && (i < at || i == at && len(a) > len(tok)) {
				at, tok = i, a
			}
		}
		ids = h.encodePlain(t, ids, text[:at])
		if tok == "" {
			break
		}
		ids = append(ids, int32(h.added[tok]))
		text = text[at+len(tok):]
	}
	return ids
}

func (h *hfInterp) encodePlain(t testing.TB, ids []int32, text string) []int32 {
	if text == "" {
		return ids
	}
	pieces := []string{text}
	for i, p := range h.pre {
		var next []string
		for _, s := range pieces {
			if p.Type == "ByteLevel" {
				var b strings.Builder
				for j := 0; j < len(s); j++ {
					b.WriteString(h.byteChar[s[j]])
				}
				next = append(next, b.String())
				continue
			}
			rs := []rune(s)
			end := 0
			m, err := h.res[i].FindRunesMatch(rs)
			for ; m != nil && err == nil; m, err = h.res[i].FindNextMatch(m) {
				if m.Index > end {
					next = append(next, string(rs[end:m.Index]))
				}
				if m.Length > 0 {
					next = append(next, m.String())
				}
				end = m.Index + m.Length
			}
			if err != nil {
				t.Fatal(err)
			}
			if end < len(rs) {
				next = append(next, string(rs[end:]))
			}
		}
		pieces = next
	}
	for _, p := range pieces {
		ids = append(ids, h.bpe(t, p)...)
	}
	return ids
}

func (h *hfInterp) bpe(t testing.TB, piece string) []int32 {
	if id, ok := h.vocab[piece]; ok && h.ignoreMerges {
		return []int32{int32(id)}
	}
	var sym []string
	for _, r := range piece {
		sym = append(sym, string(r))
	}
	for {
		best, at := -1, -1
		for i := 0; i+1 < len(sym); i++ {
			if r, ok := h.ranks[[2]string{sym[i], sym[i+1]}]; ok && (best < 0 || r < best) {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		sym[at] += sym[at+1]
		sym = slices.Delete(sym, at+1, at+2)
	}
	out := make([]int32, len(sym))
	for i, s := range sym {
		id, ok := h.vocab[s]
		if !ok {
			t.Fatalf("piece %q: %q is not in the vocabulary", piece, s)
		}
		out[i] = int32(id)
	}
	return out
}

var (
	hfInterpMu    sync.Mutex
	hfInterpCache = map[string]*hfInterp{}
)

// interpFor parses tok's tokenizer.json once per test binary (dolma2's is 100k tokens).
func interpFor(t testing.TB, tok Tokenizer) *hfInterp {
	hfInterpMu.Lock()
	defer hfInterpMu.Unlock()
	if h := hfInterpCache[tok.Name()]; h != nil {
		return h
	}
	b, err := HFTokenizerJSON(tok)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := parseHF(t, b)
	hfInterpCache[tok.Name()] = h
	return h
}

// oursWithSpecials is what HF gives for text: our ids for the plain text between the tokenizer's special tokens'
// strings, which HF reads as those tokens (Encode reads them as text).
func oursWithSpecials(tok Tokenizer, specials map[string]int32, text string) []int32 {
	return tokcorpus.WithSpecials(tok.Encode, specials, text)
}

func specialsOf(tok Tokenizer) map[string]int32 {
	m := map[string]int32{}
	if tok.Name() == Dolma2 {
		for i, s := range dolma2Added {
			m[s] = int32(dolma2BPE + i)
		}
		return m
	}
	m["<|endoftext|>"], m["<|pad|>"] = tok.EOS(), tok.PAD()
	return m
}

// TestHFTokenizerEncodesAsOurs: tokenizer.json, read by an interpreter written from the format, gives our ids on a
// varied corpus, for every tokenizer we have; special tokens' strings give their ids (HF's reading of them).
func TestHFTokenizerEncodesAsOurs(t *testing.T) {
	corpus := tokcorpus.Texts()
	for _, name := range []string{Dolma2, World, Bytes} {
		t.Run(name, func(t *testing.T) {
			tok, _ := NewTokenizer(name)
			h := interpFor(t, tok)
			specials := specialsOf(tok)
			tokens, bad := 0, 0
			for _, text := range corpus {
				want := oursWithSpecials(tok, specials, text)
				got := h.encode(t, text)
				tokens += len(want)
				if !slices.Equal(got, want) {
					if bad++; bad <= 5 {
						t.Errorf("%q:\n  tokenizer.json %v\n  ours           %v", text, got, want)
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d texts differ", bad, len(corpus))
			}
			if bad == 0 {
				t.Logf("%d texts, %d tokens: equal", len(corpus), tokens)
			}
		})
	}
}

// FuzzHFTokenizer: tokenizer.json encodes any text as we do (special tokens' strings as those tokens).
func FuzzHFTokenizer(f *testing.F) {
	for _, s := range tokcorpus.Texts()[:60] {
		f.Add(s)
	}
	toks := []Tokenizer{dolma2(), worldTokenizer(), byteTokenizer{}}
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) {
			return // HF's input is a Python str
		}
		for _, tok := range toks {
			want := oursWithSpecials(tok, specialsOf(tok), text)
			if got := interpFor(t, tok).encode(t, text); !slices.Equal(got, want) {
				t.Fatalf("%s %q:\n  tokenizer.json %v\n  ours           %v", tok.Name(), text, got, want)
			}
		}
	})
}

// TestHFTokenizerStructure checks what a wrong mapping would break, independently of encoding: the byte-level
// alphabet is a bijection of the 256 bytes onto the first 256 ids' characters in GPT-2's order for world and bytes,
// every merge's parts and product are tokens, dolma2's merges come in the order of the ranks of their products, the
// world's are the model's, the vocabulary is ids 0… without gaps or repeats, and the added tokens have our ids.
func TestHFTokenizerStructure(t *testing.T) {
	chars := gpt2ByteChars()
	seen := map[string]bool{}
	for b, c := range chars {
		if utf8.RuneCountInString(c) != 1 || seen[c] || c == " " {
			t.Fatalf("byte %d maps to %q: not a bijection onto visible characters", b, c)
		}
		seen[c] = true
	}
	for _, name := range []string{Dolma2, World, Bytes} {
		t.Run(name, func(t *testing.T) {
			tok, _ := NewTokenizer(name)
			b, err := HFTokenizerJSON(tok)
			if err != nil {
				t.Fatal(err)
			}
			if cap(b) > len(b)+len(b)/100+4096 { // beyond the allocator's rounding
				t.Errorf("tokenizer.json of %d bytes holds %d: the process keeps it, and the rest with it", len(b), cap(b))
			}
			_, f := parseHF(t, b)
			t.Logf("tokenizer.json: %d bytes, %d tokens, %d merges", len(b), len(f.Model.Vocab), len(f.Model.Merges))
			byID := make([]string, len(f.Model.Vocab))
			for s, id := range f.Model.Vocab {
				if id < 0 || id >= len(byID) || byID[id] != "" {
					t.Fatalf("vocab id %d (%q) is out of 0…%d or repeated", id, s, len(byID)-1)
				}
				byID[id] = s
			}
			// Every id's string is its bytes mapped.
			rev := map[string]byte{}
			for b, c := range chars {
				rev[c] = byte(b)
			}
			unmap := func(s string) string {
				var out []byte
				for _, r := range s {
					c, ok := rev[string(r)]
					if !ok {
						t.Fatalf("%q holds %q, not a byte-level character", s, r)
					}
					out = append(out, c)
				}
				return string(out)
			}
			for id, s := range byID {
				if got := tok.Decode([]int32{int32(id)}); unmap(s) != got {
					t.Fatalf("vocab %d is %q (bytes %q), Decode gives %q", id, s, unmap(s), got)
				}
			}
			if name != Dolma2 {
				for b := range 256 {
					if byID[b] != chars[b] {
						t.Fatalf("id %d is %q, want byte %d's %q", b, byID[b], b, chars[b])
					}
				}
			}
			prev := -1
			for i, m := range f.Model.Merges {
				l, r, _ := strings.Cut(m, " ")
				li, okL := f.Model.Vocab[l]
				ri, okR := f.Model.Vocab[r]
				pi, okP := f.Model.Vocab[l+r]
				if !okL || !okR || !okP {
					t.Fatalf("merge %d %q: a part or the product is not a token", i, m)
				}
				if pi <= prev || pi <= li || pi <= ri {
					t.Fatalf("merge %d %q makes id %d after id %d, from %d and %d: not in rank order", i, m, pi, prev, li, ri)
				}
				prev = pi
				if name == World {
					w := worldTokenizer().m.Merges[i]
					if pi != 256+i || int32(li) != w[0] || int32(ri) != w[1] {
						t.Fatalf("merge %d %q is %d+%d→%d, the model's is %v→%d", i, m, li, ri, pi, w, 256+i)
					}
				}
			}
			if name == Dolma2 && len(f.Model.Merges) != dolma2BPE-256 {
				t.Errorf("%d merges, want one per token past the bytes (%d)", len(f.Model.Merges), dolma2BPE-256)
			}
			want := specialsOf(tok)
			if len(f.AddedTokens) != len(want) {
				t.Fatalf("%d added tokens, want %d", len(f.AddedTokens), len(want))
			}
			for i, a := range f.AddedTokens {
				if id, ok := want[a.Content]; !ok || int(id) != a.ID || !a.Special || a.ID != len(byID)+i {
					t.Errorf("added token %d: %q id %d special %v; want id %d, after the vocabulary in order", i, a.Content, a.ID, a.Special, id)
				}
			}
			if _, ok := want["<|endoftext|>"]; !ok || want["<|endoftext|>"] != tok.EOS() || want["<|pad|>"] != tok.PAD() {
				t.Errorf("EOS/PAD strings do not name ids %d/%d", tok.EOS(), tok.PAD())
			}
		})
	}
}

// TestHFTokenizerFiles: the configuration files name our EOS and PAD, add no BOS, keep decoded spaces, and use
// tokenizer.json as it is.
func TestHFTokenizerFiles(t *testing.T) {
	for _, name := range []string{Dolma2, World, Bytes} {
		tok, _ := NewTokenizer(name)
		files, err := HFTokenizerFiles(tok, 4096)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		got := map[string]map[string]any{}
		for _, f := range files {
			names = append(names, f.Name)
			var m map[string]any
			if err := json.Unmarshal(f.Data, &m); err != nil {
				t.Fatalf("%s %s: %v", name, f.Name, err)
			}
			got[f.Name] = m
		}
		if want := []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"}; !slices.Equal(names, want) {
			t.Fatalf("%s: files %v, want %v", name, names, want)
		}
		eos, pad := tok.Decode([]int32{tok.EOS()}), tok.Decode([]int32{tok.PAD()})
		tc, sm, gc := got["tokenizer_config.json"], got["special_tokens_map.json"], got["generation_config.json"]
		check := func(what string, have, want any) {
			if fmt.Sprint(have) != fmt.Sprint(want) {
				t.Errorf("%s: %s is %v, want %v", name, what, have, want)
			}
		}
		check("eos_token", tc["eos_token"], eos)
		check("pad_token", tc["pad_token"], pad)
		check("add_bos_token", tc["add_bos_token"], false)
		check("clean_up_tokenization_spaces", tc["clean_up_tokenization_spaces"], false)
		check("model_max_length", tc["model_max_length"], 4096)
		check("tokenizer_class", tc["tokenizer_class"], "PreTrainedTokenizerFast")
		check("special eos", sm["eos_token"].(map[string]any)["content"], eos)
		check("special pad", sm["pad_token"].(map[string]any)["content"], pad)
		check("generation eos", gc["eos_token_id"], tok.EOS())
		check("generation pad", gc["pad_token_id"], tok.PAD())
		dec := tc["added_tokens_decoder"].(map[string]any)
		check("added_tokens_decoder eos", dec[fmt.Sprint(tok.EOS())].(map[string]any)["content"], eos)
	}
}

// TestHFDolma2MergesAsTiktoken: merges by pair rank (HF) and tiktoken's merge by the rank of the concatenation (ours)
// agree on 200,000 pieces that are no token: two tokens joined, every token of the vocabulary first once, and three
// joined, with the pre-tokenizer left out so that any pair of tokens meets.
func TestHFDolma2MergesAsTiktoken(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 pieces")
	}
	d := dolma2()
	h := interpFor(t, d)
	chars := gpt2ByteChars()
	mapped := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			b.WriteString(chars[s[i]])
		}
		return b.String()
	}
	n, bad := 0, 0
	for i := range dolma2BPE {
		for _, piece := range []string{
			d.dec[i] + d.dec[(i*7919+13)%dolma2BPE],
			d.dec[(i*104729+7)%dolma2BPE] + d.dec[i] + d.dec[(i*31+1)%dolma2BPE],
		} {
			var want []int32
			if r, ok := d.ranks[piece]; ok {
				want = []int32{r}
			} else {
				want = d.merge(nil, piece)
			}
			n++
			if got := h.bpe(t, mapped(piece)); !slices.Equal(got, want) {
				if bad++; bad <= 5 {
					t.Errorf("%q: merges %v, tiktoken %v", piece, got, want)
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d pieces differ", bad, n)
	}
}
