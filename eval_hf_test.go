package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab/data"
)

// TestEvalChecksTheModelsTokenizer: eval scores an HF checkpoint with the tokenizer its tokenizer.json is, and
// refuses (exit 2, naming the file) one that is another: --tokenizer bytes on a world model, whose 258 ids fit in
// the model's 2048, was once scored, on ids that mean other text.
func TestEvalChecksTheModelsTokenizer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ck")
	var out, errb bytes.Buffer
	if code := run([]string{"train", "--preset", "cpu_xs", "--steps", "1", "--batch", "2", "--seq", "16", "--out", dir}, &out, &errb); code != 0 {
		t.Fatalf("train: %s", errb.String())
	}
	world, _ := data.NewTokenizer(data.World)
	files, err := data.HFTokenizerFiles(world, 4096)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(args ...string) (int, string) {
		out.Reset()
		errb.Reset()
		code := run(append([]string{"eval", "--model", dir, "--tasks", "arith", "--limit", "4", "--seq", "64"}, args...), &out, &errb)
		return code, errb.String()
	}
	if code, stderr := eval(); code != 0 || !strings.Contains(out.String(), "(tokenizer world)") {
		t.Fatalf("eval of the world model with its tokenizer.json: exit %d\n%s%s", code, out.String(), stderr)
	}
	want := filepath.Join(dir, "tokenizer.json") + `: the model's tokenizer is not bytes (2048 tokens in the file): its id 256 is "th" where bytes's is "<|endoftext|>"` +
		"\nHINT: it is olmolab's world tokenizer: olmolab eval --tokenizer world\n"
	if code, stderr := eval("--tokenizer", "bytes"); code != 2 || !strings.Contains(stderr, want) || out.Len() > 0 {
		t.Errorf("eval --tokenizer bytes of a world model: exit %d, stdout %q, stderr\n%s\nwant exit 2 and\n%s", code, out.String(), stderr, want)
	}
}
