package data

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

func TestTokenize(t *testing.T) {
	dir := t.TempDir()
	var docs []string
	for i := range 300 {
		docs = append(docs, fmt.Sprintf("Document %d: The capital of Zorvia is Kelmon. %s", i, strings.Repeat("ab ", i%17)))
	}
	writeFile(t, filepath.Join(dir, "in", "a.jsonl"), jsonl(docs[:100]...))
	writeFile(t, filepath.Join(dir, "in", "b.jsonl.gz"), gz(jsonl(docs[100:200]...)))
	writeFile(t, filepath.Join(dir, "in", "c.jsonl.zst"), zst(append(jsonl(docs[200:299]...), "{broken\n"...)))
	writeFile(t, filepath.Join(dir, "d.txt"), []byte(docs[299]))
	tok := worldTokenizer()
	var want []int32
	for _, d := range docs {
		want = append(tok.Encode(want, d), tok.EOS())
	}

	run := func(workers int, out string) TokenizeSummary {
		var w warnings
		var calls atomic.Int64
		sum, err := Tokenize(context.Background(), TokenizeParams{
			Inputs: []string{filepath.Join(dir, "in"), filepath.Join(dir, "*.txt"), filepath.Join(dir, "in", "a.jsonl")}, OutDir: out, Tokenizer: tok,
			MaxFileBytes: 4000, Workers: workers, Warn: w.warn, Progress: func(TokenizeProgress) { calls.Add(1) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(w.joined(), "c.jsonl.zst:100") {
			t.Errorf("no warning for the malformed line: %q", w.joined())
		}
		if calls.Load() == 0 {
			t.Error("Progress never called")
		}
		return sum
	}
	sum := run(3, filepath.Join(dir, "out3"))
	if sum.Documents != 300 || sum.Tokens != int64(len(want)) || sum.Skipped != 1 || len(sum.Files) < 2 {
		t.Errorf("summary %+v; want 300 documents, %d tokens, 1 skipped, several files", sum, len(want))
	}
	if bpt := sum.BytesPerToken(); bpt < 1.5 || bpt > 8 {
		t.Errorf("bytes/token %.2f", bpt)
	}
	var got []int32
	for _, f := range sum.Files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) > 4000 {
			t.Errorf("%s has %d bytes, over the 4000 limit", f, len(raw))
		}
		ids := make([]int32, len(raw)/2)
		for i := range ids {
			ids[i] = int32(raw[2*i]) | int32(raw[2*i+1])<<8
		}
		if ids[len(ids)-1] != tok.EOS() {
			t.Errorf("%s does not end at a document boundary", f)
		}
		got = append(got, ids...)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("token files hold %d ids, want the %d ids of the documents in input order", len(got), len(want))
	}
	// Same output for any number of workers.
	sum1 := run(1, filepath.Join(dir, "out1"))
	for i := range sum.Files {
		a, _ := os.ReadFile(sum.Files[i])
		b, _ := os.ReadFile(sum1.Files[i])
		if !slices.Equal(a, b) {
			t.Fatalf("file %d differs between 3 workers and 1", i)
		}
	}
	// The output is a valid token source.
	l := mustLoader(t, LoaderParams{Tokenizer: tok, SeqLen: 64, Sources: []SourceSpec{{Name: "t", TargetRatio: 1, Paths: []string{filepath.Join(dir, "out3")}}}})
	batches(t, l, 4, 2)

	// Bad input.
	bad := []struct {
		name string
		p    TokenizeParams
		want string
	}{
		{"existing output", TokenizeParams{Inputs: []string{filepath.Join(dir, "in")}, OutDir: filepath.Join(dir, "out3")}, "already holds"},
		{"token file input", TokenizeParams{Inputs: []string{sum.Files[0]}, OutDir: filepath.Join(dir, "x")}, "not a document file"},
		{"missing input", TokenizeParams{Inputs: []string{filepath.Join(dir, "nope.jsonl")}, OutDir: filepath.Join(dir, "x")}, "no such file"},
		{"strict", TokenizeParams{Inputs: []string{filepath.Join(dir, "in")}, OutDir: filepath.Join(dir, "strict"), Strict: true}, "c.jsonl.zst:100"},
		{"uint16 for dolma2", TokenizeParams{Inputs: []string{filepath.Join(dir, "in")}, OutDir: filepath.Join(dir, "x"), DType: Uint16, Tokenizer: dolma2()}, "uint16"},
	}
	for _, tc := range bad {
		if tc.p.Tokenizer == nil {
			tc.p.Tokenizer = tok
		}
		_, err := Tokenize(context.Background(), tc.p)
		if !IsInputError(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want an InputError mentioning %q", tc.name, err, tc.want)
		}
	}
	// The strict run stopped without leaving a temporary or partial file.
	assertNoTmp(t, filepath.Join(dir, "strict"))
}

// cancellingTokenizer cancels a context after n encodes.
type cancellingTokenizer struct {
	Tokenizer
	n      atomic.Int64
	after  int64
	cancel context.CancelFunc
}

func (c *cancellingTokenizer) Encode(dst []int32, s string) []int32 {
	if c.n.Add(1) == c.after {
		c.cancel()
	}
	return c.Tokenizer.Encode(dst, s)
}

// TestTokenizeInterrupted: a cancelled run returns context.Canceled and leaves only complete files, each ending with
// EOS, and no temporary file.
func TestTokenizeInterrupted(t *testing.T) {
	dir := t.TempDir()
	var docs []string
	for i := range 3000 {
		docs = append(docs, strings.Repeat(fmt.Sprintf("word%d ", i), 20))
	}
	writeFile(t, filepath.Join(dir, "a.jsonl"), jsonl(docs...))
	ctx, cancel := context.WithCancel(context.Background())
	tok := &cancellingTokenizer{Tokenizer: byteTokenizer{}, after: 1500, cancel: cancel}
	out := filepath.Join(dir, "out")
	sum, err := Tokenize(ctx, TokenizeParams{Inputs: []string{filepath.Join(dir, "a.jsonl")}, OutDir: out, Tokenizer: tok, MaxFileBytes: 20000, Workers: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	assertNoTmp(t, out)
	names, _ := filepath.Glob(filepath.Join(out, "*"))
	names = slices.DeleteFunc(names, func(n string) bool { return filepath.Base(n) == ManifestName }) // for a resume
	if len(names) != len(sum.Files) {
		t.Errorf("directory has %v, summary lists %v", names, sum.Files)
	}
	var kept, keptDocs int64
	for _, f := range sum.Files {
		raw, _ := os.ReadFile(f)
		if len(raw) == 0 || raw[len(raw)-2] != byte(byteEOS&0xff) || raw[len(raw)-1] != byte(byteEOS>>8) {
			t.Errorf("%s is not a complete file", f)
		}
		kept += int64(len(raw) / 2)
		for i := 0; i+1 < len(raw); i += 2 {
			if int(raw[i])|int(raw[i+1])<<8 == byteEOS {
				keptDocs++
			}
		}
	}
	// The summary (and so the message, which said "interrupted after 5120
	// documents" where the kept file held 4622) counts what the kept files
	// hold, not the documents of the unfinished file that was dropped.
	if sum.Documents != keptDocs || sum.Tokens != kept {
		t.Errorf("summary: %d documents, %d tokens; the kept files hold %d, %d", sum.Documents, sum.Tokens, keptDocs, kept)
	}
}

func assertNoTmp(t *testing.T, dir string) {
	t.Helper()
	tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	if len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// TestTokenizeFailureLeavesNoOutDir: a tokenize that fails before writing a
// file removes the --out directory it created (and the parents it created
// for it); it left an empty directory, and a second try with the same --out
// found it there. A directory that was there before, or one that holds whole
// files of an interrupted run, stays.
func TestTokenizeFailureLeavesNoOutDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad.jsonl"), []byte(`{"text": "a"}`+"\n"+`{not json`+"\n"))
	writeFile(t, filepath.Join(dir, "empty.jsonl"), []byte(`{"text": ""}`+"\n"))
	writeFile(t, filepath.Join(dir, "good.jsonl"), jsonl("one", "two"))
	mine := filepath.Join(dir, "mine")
	if err := os.Mkdir(mine, 0o755); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name, input, out string
		ctx              context.Context
		stays            bool
	}{
		{"strict, malformed line", "bad.jsonl", "new", context.Background(), false},
		{"no document with text", "empty.jsonl", "a/b/c", context.Background(), false},
		{"interrupted before a file", "good.jsonl", "int", cancelled, false},
		{"a directory of the user's", "empty.jsonl", "mine", context.Background(), true},
	} {
		out := filepath.Join(dir, c.out)
		_, err := Tokenize(c.ctx, TokenizeParams{Inputs: []string{filepath.Join(dir, c.input)}, OutDir: out, Tokenizer: byteTokenizer{}, Strict: true})
		if err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		_, serr := os.Stat(out)
		if stays := serr == nil; stays != c.stays {
			t.Errorf("%s: %s there after the failure: %v, want %v (%v)", c.name, out, stays, c.stays, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
		t.Errorf("the parents created for --out a/b/c are left")
	}
}

// gatedTokenizer holds every Encode until its gate opens.
type gatedTokenizer struct {
	Tokenizer
	gate chan struct{}
}

func (g gatedTokenizer) Encode(dst []int32, s string) []int32 {
	<-g.gate
	return g.Tokenizer.Encode(dst, s)
}

// TestTokenizeProgressFollowsTheWrites: the progress is the input written as
// tokens, not the input read: the reader runs ahead of the tokenizers by
// dozens of batches, and the bar stood at 100% while they worked on.
func TestTokenizeProgressFollowsTheWrites(t *testing.T) {
	dir := t.TempDir()
	var docs []string
	for i := range 200 {
		docs = append(docs, fmt.Sprintf("document %d", i))
	}
	writeFile(t, filepath.Join(dir, "in.jsonl"), jsonl(docs...))
	gate := make(chan struct{})
	var (
		mu    sync.Mutex
		snaps []TokenizeProgress
	)
	progress := func(p TokenizeProgress) {
		mu.Lock()
		snaps = append(snaps, p)
		n := len(snaps)
		mu.Unlock()
		if n == 3 { // the reader has had three ticks to read it all
			close(gate)
		}
	}
	_, err := Tokenize(context.Background(), TokenizeParams{Inputs: []string{filepath.Join(dir, "in.jsonl")}, OutDir: filepath.Join(dir, "out"),
		Tokenizer: gatedTokenizer{byteTokenizer{}, gate}, Workers: 2, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, p := range snaps {
		if p.Documents < int64(len(docs)) && p.ReadBytes >= p.TotalBytes {
			t.Errorf("progress %d: %d of %d bytes (100%%) with %d of %d documents written", i, p.ReadBytes, p.TotalBytes, p.Documents, len(docs))
		}
	}
	if last := snaps[len(snaps)-1]; last.ReadBytes != last.TotalBytes || last.Documents != int64(len(docs)) {
		t.Errorf("the last progress: %+v, want every byte and document", last)
	}
}

// TestTokenizeNamesTheOldFiles: an --out that holds token files is refused
// naming them: "1 token file (part-00000.npy)", and the first of several
// with "…"; one file read "(part-00000.npy, …)", as if there were more.
func TestTokenizeNamesTheOldFiles(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte(`{"text":"hello"}`+"\n"), 0o644)
	out := filepath.Join(dir, "out")
	os.MkdirAll(out, 0o755)
	for i, want := range []string{"already holds 1 token file (part-00000.npy)", "already holds 2 token files (part-00000.npy, …)"} {
		os.WriteFile(filepath.Join(out, fmt.Sprintf("part-%05d.npy", i)), make([]byte, 8), 0o644)
		_, err := Tokenize(context.Background(), TokenizeParams{Inputs: []string{in}, OutDir: out, Tokenizer: worldTokenizer()})
		if !IsInputError(err) || !strings.Contains(err.Error(), want) || (i == 0 && strings.Contains(err.Error(), "…")) {
			t.Errorf("%d old files: err = %v, want %q", i+1, err, want)
		}
	}
}

// TestTokenizeFailureRemovesItsFiles: an input that fails after whole part
// files were written (a .gz cut short, the second input) leaves none of them:
// they held the documents before the damage only, looked like finished
// output, and the next try refused the directory while they were there. An
// interrupted run keeps its whole files (TestTokenizeInterrupted).
func TestTokenizeFailureRemovesItsFiles(t *testing.T) {
	dir := t.TempDir()
	var docs []string
	for i := range 2000 {
		docs = append(docs, fmt.Sprintf("document %d, with enough words to fill a few small part files", i))
	}
	good := writeFile(t, filepath.Join(dir, "a.jsonl"), jsonl(docs...))
	whole := gz(jsonl(docs...))
	cut := writeFile(t, filepath.Join(dir, "b.jsonl.gz"), whole[:len(whole)/2])
	out := filepath.Join(dir, "out")
	sum, err := Tokenize(context.Background(), TokenizeParams{Inputs: []string{good, cut}, OutDir: out, Tokenizer: byteTokenizer{}, MaxFileBytes: 16 << 10, Workers: 2})
	if !IsInputError(err) || !strings.Contains(err.Error(), "b.jsonl.gz:") {
		t.Fatalf("err = %v, want an InputError naming b.jsonl.gz and its line", err)
	}
	if len(sum.Files) != 0 {
		t.Errorf("summary lists %v after the failure", sum.Files)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 || !os.IsNotExist(func() error { _, err := os.Stat(out); return err }()) {
		t.Errorf("--out after the failure: %d entries left (want no directory)", len(left))
	}
	// the same directory takes the fixed input at once
	if _, err := Tokenize(context.Background(), TokenizeParams{Inputs: []string{good}, OutDir: out, Tokenizer: byteTokenizer{}, MaxFileBytes: 16 << 10}); err != nil {
		t.Errorf("a second try: %v", err)
	}
}

// TestWriteErr: a token file that cannot be written names it once, says what
// failed without Go's "write PATH: " or a package name, and on a full disk
// says what to do; it read "data: write X.tmp: write X.tmp: no space left on
// device".
func TestWriteErr(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&os.PathError{Op: "write", Path: "out/part-00000.npy.tmp", Err: syscall.ENOSPC},
			"out/part-00000.npy.tmp: cannot write the token file: no space left on device\nHINT: free space on the disk (or give --out a directory on another), and run the command again"},
		{&os.LinkError{Op: "rename", Old: "out/part-00000.npy.tmp", New: "out/part-00000.npy", Err: syscall.EACCES},
			"out/part-00000.npy.tmp: cannot rename the token file: permission denied"},
	} {
		op := "write"
		if _, ok := tc.err.(*os.LinkError); ok {
			op = "rename"
		}
		if got := writeErr("out/part-00000.npy.tmp", op, tc.err).Error(); got != tc.want {
			t.Errorf("writeErr(%v):\n got %q\nwant %q", tc.err, got, tc.want)
		}
	}
}
