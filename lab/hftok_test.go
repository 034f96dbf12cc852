package lab

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
)

// checkHFTokenizerFiles checks that every HF model directory under root (one
// with a config.json) holds tokName's Hugging Face tokenizer files, as
// data.HFTokenizerFiles gives them for its model's positions, and returns the
// directories it checked.
func checkHFTokenizerFiles(t *testing.T, root, tokName string) []string {
	t.Helper()
	tok, err := data.NewTokenizer(tokName)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "config.json" {
			return err
		}
		dir := filepath.Dir(path)
		dirs = append(dirs, dir)
		cfg, err := model.ReadConfigFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files, err := data.HFTokenizerFiles(tok, cfg.MaxPositionEmbeddings)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dir, f.Name))
			if err != nil {
				t.Errorf("%s: an HF model without its tokenizer's %s: %v", dir, f.Name, err)
			} else if !bytes.Equal(b, f.Data) {
				t.Errorf("%s: %s is not tokenizer %s's", dir, f.Name, tokName)
			}
		}
		return nil
	})
	return dirs
}
