// Command hftokcases writes, for every olmolab tokenizer, the Hugging Face
// tokenizer files a checkpoint carries and cases.json: the texts of package
// tokcorpus with our ids for each (special tokens' strings read as those
// tokens, as HF does), so that an HF implementation can be checked against
// them (scripts/hf-tokenizer-js.sh with transformers.js, scripts/hf_check.py
// with transformers).
//
//	go run ./scripts/hftokcases OUTDIR    # OUTDIR/{dolma2,world,bytes}/
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/data/tokcorpus"
	"github.com/olmolab/olmolab/model"
)

type caseFile struct {
	Tokenizer string  `json:"tokenizer"`
	EOS       int32   `json:"eos_token_id"`
	PAD       int32   `json:"pad_token_id"`
	Cases     []tcase `json:"cases"`
}

type tcase struct {
	Text string  `json:"text"`
	IDs  []int32 `json:"ids"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hftokcases OUTDIR")
		os.Exit(2)
	}
	for _, name := range []string{data.Dolma2, data.World, data.Bytes} {
		if err := write(filepath.Join(os.Args[1], name), name); err != nil {
			fmt.Fprintln(os.Stderr, "hftokcases:", err)
			os.Exit(1)
		}
	}
}

// Write writes name's tokenizer files and cases into dir.
func write(dir, name string) error {
	tok, err := data.NewTokenizer(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files, err := data.HFTokenizerFiles(tok, 4096)
	if err != nil {
		return err
	}
	var specials map[string]int32
	for _, f := range files {
		if err := model.WriteFileAtomic(filepath.Join(dir, f.Name), f.Data); err != nil {
			return err
		}
		if f.Name == "tokenizer.json" {
			// the special tokens as tokenizer.json lists them
			var tj struct {
				Added []struct {
					ID      int32  `json:"id"`
					Content string `json:"content"`
				} `json:"added_tokens"`
			}
			if err := json.Unmarshal(f.Data, &tj); err != nil {
				return err
			}
			specials = map[string]int32{}
			for _, a := range tj.Added {
				specials[a.Content] = a.ID
			}
		}
	}
	cf := caseFile{Tokenizer: name, EOS: tok.EOS(), PAD: tok.PAD()}
	for _, text := range tokcorpus.Texts() {
		ids := append([]int32{}, tokcorpus.WithSpecials(tok.Encode, specials, text)...) // [] rather than null for ""
		cf.Cases = append(cf.Cases, tcase{text, ids})
	}
	b, err := json.Marshal(cf)
	if err != nil {
		return err
	}
	return model.WriteFileAtomic(filepath.Join(dir, "cases.json"), b)
}
