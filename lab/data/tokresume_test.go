package data

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTokenizeResume: an interrupted tokenize continues where it stopped. The same --out was refused ("already
// holds N token files"), so a researcher tokenizing 100s of GB started again from zero after a Ctrl-C. Interrupted
// at several points (within the first part, mid-way, twice in a row), a resumed run must tokenize only the documents
// after the kept files and leave files byte-identical to an uninterrupted run's, with the same summary.
func TestTokenizeResume(t *testing.T) {
	dir := t.TempDir()
	var ins []string
	for f, n := range []int{3000, 2500, 3500} {
		var docs []string
		for i := range n {
			docs = append(docs, strings.Repeat(fmt.Sprintf("w%d.%d ", f, i), 1+i%13))
		}
		b := jsonl(docs...)
		if f == 1 { // a malformed line, counted once whichever run reads it
			b = append(b, "{oops\n"...)
			b = append(b, jsonl("after the bad line")...)
		}
		ins = append(ins, writeFile(t, filepath.Join(dir, fmt.Sprintf("in%d.jsonl", f)), b))
	}
	params := func(out string, tok Tokenizer, resume bool) TokenizeParams {
		return TokenizeParams{Inputs: []string{filepath.Join(dir, "in*.jsonl")}, OutDir: out, Tokenizer: tok, MaxFileBytes: 9000, Workers: 2, Resume: resume}
	}
	ref, err := Tokenize(context.Background(), params(filepath.Join(dir, "ref"), byteTokenizer{}, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(ref.Files) < 10 || ref.Skipped != 1 {
		t.Fatalf("reference: %d files, %d skipped; want many files, 1 skipped", len(ref.Files), ref.Skipped)
	}
	for _, stops := range [][]int64{{50}, {4000}, {7500}, {3000, 6000}} {
		out := filepath.Join(dir, fmt.Sprintf("out%d", stops[0]))
		var sum TokenizeSummary
		for _, after := range stops {
			ctx, cancel := context.WithCancel(context.Background())
			s, err := Tokenize(ctx, params(out, &cancellingTokenizer{Tokenizer: byteTokenizer{}, after: after, cancel: cancel}, true))
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%v: interrupted after %d: %v", stops, after, err)
			}
			sum = s
		}
		// the encoders run ahead of the writer by up to a few batches of 256 documents
		if stops[0] >= 3000 && len(sum.Files) == 0 {
			t.Fatalf("%v: no whole file kept to resume after", stops)
		}
		count := &cancellingTokenizer{Tokenizer: byteTokenizer{}, cancel: func() {}}
		res, err := Tokenize(context.Background(), params(out, count, true))
		if err != nil {
			t.Fatalf("%v: resume: %v", stops, err)
		}
		if res.Resumed != len(sum.Files) || res.ResumedTokens != sum.Tokens || count.n.Load() != ref.Documents-sum.Documents {
			t.Errorf("%v: resumed after %d files of %d tokens (want %d, %d), tokenizing %d documents (want %d of %d)", stops, res.Resumed, res.ResumedTokens, len(sum.Files), sum.Tokens, count.n.Load(), ref.Documents-sum.Documents, ref.Documents)
		}
		if res.Documents != ref.Documents || res.Tokens != ref.Tokens || res.TextBytes != ref.TextBytes || res.Skipped != ref.Skipped || len(res.Files) != len(ref.Files) {
			t.Errorf("%v: summary %+v, want %+v", stops, res, ref)
		}
		sameFiles(t, filepath.Join(dir, "ref"), out)
		// done: a resume again writes nothing and says the same
		again, err := Tokenize(context.Background(), params(out, byteTokenizer{}, true))
		if err != nil || again.Documents != ref.Documents || again.Skipped != ref.Skipped || again.Resumed != len(ref.Files) {
			t.Errorf("%v: resuming a finished run: %+v, %v", stops, again, err)
		}
	}

	// a run stopped mid-way: without --resume, with other settings, after an input it read changed
	out := filepath.Join(dir, "stopped")
	ctx, cancel := context.WithCancel(context.Background())
	Tokenize(ctx, params(out, &cancellingTokenizer{Tokenizer: byteTokenizer{}, after: 5000, cancel: cancel}, false))
	cancel()
	if _, err := Tokenize(context.Background(), params(out, byteTokenizer{}, false)); !IsInputError(err) || !strings.Contains(err.Error(), "add --resume") {
		t.Errorf("same --out without --resume: %v; want a hint to add --resume", err)
	}
	p := params(out, worldTokenizer(), true)
	p.DType, p.MaxFileBytes = Uint32, 2<<20
	_, err = Tokenize(context.Background(), p)
	for _, want := range []string{"--tokenizer world (the run's was bytes)", "--dtype uint32 (the run's was uint16)", "--max-file-mb 2 (the run's was 9000 bytes)"} {
		if !IsInputError(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("resume with other settings: %v; want it to say %q", err, want)
		}
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(ins[0], later, later)
	if _, err := Tokenize(context.Background(), params(out, byteTokenizer{}, true)); !IsInputError(err) || !strings.Contains(err.Error(), "in0.jsonl: changed since") {
		t.Errorf("resume after an input read changed: %v", err)
	}
}

// sameFiles says where the part files of two Tokenize outputs differ.
func sameFiles(t *testing.T, want, got string) {
	t.Helper()
	w, _ := filepath.Glob(filepath.Join(want, "part-*"))
	g, _ := filepath.Glob(filepath.Join(got, "part-*"))
	if len(w) != len(g) {
		t.Errorf("%s: %d files, want %d", got, len(g), len(w))
		return
	}
	for i := range w {
		a, _ := os.ReadFile(w[i])
		b, _ := os.ReadFile(g[i])
		if filepath.Base(w[i]) != filepath.Base(g[i]) || !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s (%d and %d bytes)", g[i], w[i], len(b), len(a))
			return
		}
	}
}
