package olmes

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/olmolab/olmolab/lab/data"
)

// An HF checkpoint carries the tokenizer it was trained with (tokenizer.json, the format of Hugging Face's
// tokenizers library). olmolab scores with its own tokenizers only (dolma2, world, bytes), so before scoring a
// checkpoint that has one, its vocabulary must be ours id for id: a model trained with another tokenizer but a
// vocabulary at least as large would otherwise be scored on ids that mean other text, and come out near chance
// with no error.

// HFTokenizerFile is the tokenizer file an HF checkpoint directory carries beside config.json.
const HFTokenizerFile = "tokenizer.json"

// hfVocab is a tokenizer.json's id → token string: its BPE model's vocab (strings in GPT-2's byte-to-unicode
// mapping) and its added tokens (plain text), an added token winning where both name an id.
type hfVocab map[int]string

// readHFVocab reads the vocabulary of a byte-level BPE tokenizer.json.
func readHFVocab(path string) (hfVocab, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		AddedTokens []struct {
			ID      *int   `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
		Model struct {
			Type  string          `json:"type"`
			Vocab json.RawMessage `json:"vocab"`
		} `json:"model"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, &InputError{Path: path, Msg: "not a tokenizer.json", Err: err}
	}
	if f.Model.Type != "BPE" {
		return nil, &InputError{Path: path, Msg: fmt.Sprintf("model.type is %q, not BPE: olmolab's tokenizers (dolma2, world, bytes) are byte-level BPE", f.Model.Type)}
	}
	var vocab map[string]int
	if err := json.Unmarshal(f.Model.Vocab, &vocab); err != nil {
		return nil, &InputError{Path: path, Msg: "model.vocab is not a map of token to id", Err: err}
	}
	v := make(hfVocab, len(vocab)+len(f.AddedTokens))
	for s, id := range vocab {
		v[id] = s
	}
	for i, a := range f.AddedTokens {
		if a.ID == nil {
			return nil, &InputError{Path: path, Msg: fmt.Sprintf("added_tokens[%d] (%q) has no id", i, a.Content)}
		}
		v[*a.ID] = a.Content
	}
	return v, nil
}

// gpt2ByteRunes is GPT-2's bytes_to_unicode, which byte-level BPE vocabularies are written in: printable Latin-1
// bytes are themselves, the others (controls, space, 0x7F–0xA0, 0xAD) U+0100 onward in byte order.
var gpt2ByteRunes = func() (m [256]rune) {
	n := rune(0)
	for b := range 256 {
		if ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF) {
			m[b] = rune(b)
		} else {
			m[b] = 256 + n
			n++
		}
	}
	return m
}()

// tokenVocab is tok's vocabulary as text: each id below VocabSize that decodes to some (the others are padding).
func tokenVocab(tok data.Tokenizer) map[int]string {
	vocab := map[int]string{}
	for id := range tok.VocabSize() {
		if s := tok.Decode([]int32{int32(id)}); s != "" {
			vocab[id] = s
		}
	}
	return vocab
}

// byteLevel is s as a byte-level BPE vocabulary writes it: each byte one character (gpt2ByteRunes).
func byteLevel(s string) string {
	var b strings.Builder
	for i := range len(s) {
		b.WriteRune(gpt2ByteRunes[s[i]])
	}
	return b.String()
}

// vocabDiff says where file (a tokenizer.json's vocabulary) differs from tok's, "" where it does not: the first id
// (in id order) that one has and the other lacks or names another token.
func vocabDiff(file hfVocab, tok data.Tokenizer) string {
	ours := tokenVocab(tok)
	ids := make([]int, 0, len(ours)+len(file))
	for id := range ours {
		ids = append(ids, id)
	}
	for id := range file {
		if _, ok := ours[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		o, inOurs := ours[id]
		f, inFile := file[id]
		switch {
		case !inFile:
			return fmt.Sprintf("it has no id %d, which %s's %q is", id, tok.Name(), byteLevel(o))
		case !inOurs:
			return fmt.Sprintf("its id %d, %q, is past %s's %d tokens", id, f, tok.Name(), len(ours))
		case f != byteLevel(o) && f != o: // a BPE token byte-mapped, an added token as it is
			return fmt.Sprintf("its id %d is %q where %s's is %q", id, f, tok.Name(), byteLevel(o))
		}
	}
	return ""
}

// CheckHFTokenizer checks that the tokenizer.json in dir, if there is one, has tok's vocabulary, id for id
// (byte-level BPE tokens and added tokens), and returns an *InputError naming the file and the first differing id
// where it does not, with the one of olmolab's tokenizers it is where it is one (--tokenizer NAME, if the model's
// vocabulary of modelVocab ids holds it). A directory without a tokenizer.json passes: there is nothing to check
// against.
func CheckHFTokenizer(dir string, tok data.Tokenizer, modelVocab int) error {
	path := filepath.Join(dir, HFTokenizerFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	file, err := readHFVocab(path)
	if err != nil {
		return err
	}
	diff := vocabDiff(file, tok)
	if diff == "" {
		return nil
	}
	hint := "olmolab scores with its own tokenizers only (dolma2, world, bytes); this model was trained with another, and its scores would be of the wrong text"
	for _, name := range []string{data.Dolma2, data.World, data.Bytes} {
		if name == tok.Name() {
			continue
		}
		if other, err := data.NewTokenizer(name); err == nil && vocabDiff(file, other) == "" {
			hint = fmt.Sprintf("it is olmolab's %s tokenizer: olmolab eval --tokenizer %s", name, name)
			if other.VocabSize() > modelVocab {
				hint = fmt.Sprintf("it is olmolab's %s tokenizer, whose %d ids the model's vocabulary of %d cannot hold: the %s does not belong with these weights",
					name, other.VocabSize(), modelVocab, HFTokenizerFile)
			}
			break
		}
	}
	return &InputError{Path: path, Msg: fmt.Sprintf("the model's tokenizer is not %s (%d tokens in the file): %s", tok.Name(), len(file), diff), Hint: hint}
}
