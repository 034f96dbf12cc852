package olmes

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab/data"
)

// writeTokenizerJSON writes tok's tokenizer.json (as a checkpoint carries it) into a new directory, after edit
// changes its parsed form where edit is not nil.
func writeTokenizerJSON(t *testing.T, tok data.Tokenizer, edit func(m map[string]any)) string {
	t.Helper()
	b, err := data.HFTokenizerJSON(tok)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		if b, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, HFTokenizerFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCheckHFTokenizer: a checkpoint's tokenizer.json passes for the tokenizer that wrote it and is refused for
// another, naming the file, the first differing id and, where it is one of ours, which (--tokenizer); two BPE
// tokens swapped, a token missing, or a tokenizer that is not BPE are refused; no tokenizer.json passes.
func TestCheckHFTokenizer(t *testing.T) {
	toks := map[string]data.Tokenizer{}
	for _, name := range []string{data.Dolma2, data.World, data.Bytes} {
		tok, err := data.NewTokenizer(name)
		if err != nil {
			t.Fatal(err)
		}
		toks[name] = tok
	}
	vocab := func(m map[string]any) map[string]any { return m["model"].(map[string]any)["vocab"].(map[string]any) }
	for _, tc := range []struct {
		name       string
		file, with string               // the tokenizer.json's tokenizer, the one checked against it
		modelVocab int                  // the model's vocab_size
		edit       func(map[string]any) // nil: as written
		want       string               // "": passes
	}{
		{"dolma2", data.Dolma2, data.Dolma2, 100352, nil, ""},
		{"world", data.World, data.World, 2048, nil, ""},
		{"bytes", data.Bytes, data.Bytes, 384, nil, ""},
		{"world's, checked as bytes", data.World, data.Bytes, 2048, nil,
			`tokenizer.json: the model's tokenizer is not bytes (2048 tokens in the file): its id 256 is "th" where bytes's is "<|endoftext|>"` +
				"\nHINT: it is olmolab's world tokenizer: olmolab eval --tokenizer world"},
		{"dolma2's, checked as world in a world-sized model", data.Dolma2, data.World, 2048, nil,
			"HINT: it is olmolab's dolma2 tokenizer, whose 100352 ids the model's vocabulary of 2048 cannot hold: the tokenizer.json does not belong with these weights"},
		{"two tokens swapped", data.World, data.World, 2048, func(m map[string]any) {
			v := vocab(m)
			v["th"], v["Ġt"] = v["Ġt"], v["th"] // ids 256 and 258
		}, `its id 256 is "Ġt" where world's is "th"` + "\nHINT: olmolab scores with its own tokenizers only"},
		{"a token missing", data.Bytes, data.Bytes, 384, func(m map[string]any) { delete(vocab(m), "Ā") },
			`it has no id 0, which bytes's "Ā" is`},
		{"a token past ours", data.Bytes, data.Bytes, 384, func(m map[string]any) { vocab(m)["ĀĀ"] = 300.0 },
			`its id 300, "ĀĀ", is past bytes's 258 tokens`},
		{"not BPE", data.Bytes, data.Bytes, 384, func(m map[string]any) { m["model"].(map[string]any)["type"] = "Unigram" },
			`model.type is "Unigram", not BPE`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTokenizerJSON(t, toks[tc.file], tc.edit)
			err := CheckHFTokenizer(dir, toks[tc.with], tc.modelVocab)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !IsInputError(err) ||
				!strings.HasPrefix(err.Error(), filepath.Join(dir, HFTokenizerFile)+": ") {
				t.Fatalf("got %v\nwant an input error naming %s with %q", err, HFTokenizerFile, tc.want)
			}
		})
	}
	if err := CheckHFTokenizer(t.TempDir(), toks[data.World], 2048); err != nil {
		t.Errorf("no tokenizer.json: %v", err)
	}
}
