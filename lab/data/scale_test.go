package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sparseTokens makes a uint32 token file of n tokens that takes no disk: head's ids at the start, EOS last, zeros
// (id 0, a valid id) in between.
func sparseTokens(t *testing.T, path string, n int64, head []uint32, eos uint32) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(4 * n); err != nil {
		t.Skipf("no sparse file of %d bytes here: %v", 4*n, err)
	}
	b := make([]byte, 4*len(head))
	for i, id := range head {
		binary.LittleEndian.PutUint32(b[4*i:], id)
	}
	var last [4]byte
	binary.LittleEndian.PutUint32(last[:], eos)
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(last[:], 4*(n-1)); err != nil {
		t.Fatal(err)
	}
	return path
}

// vmRSS is the process's resident memory in bytes (/proc/self/status), or -1.
func vmRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// TestTokenFilesAtScale: a token source of OLMo's size starts in no time and reads only what it trains on. The
// loader read every id of every file at start (through mmap, which also counts every page touched towards resident
// memory): 16 GiB of token files took 2 minutes to start and 15 GB of RSS. A 64 GiB file (sparse: no disk) must open
// within seconds, reading at most its head and last token, and serving 2,000 instances of 4,096 tokens must not
// grow resident memory by more than the instances it queues.
func TestTokenFilesAtScale(t *testing.T) {
	tok := dolma2()
	eos := uint32(tok.EOS())
	head := make([]uint32, 1000)
	for i := range head {
		head[i] = uint32(i)
	}
	head[999] = eos
	const n = 16 << 30 // tokens: 64 GiB
	path := sparseTokens(t, filepath.Join(t.TempDir(), "big.npy"), n, head, eos)
	rss0 := vmRSS()
	type opened struct {
		l   *Loader
		err error
	}
	done := make(chan opened, 1)
	start := time.Now()
	go func() {
		l, err := NewLoader(LoaderParams{Tokenizer: tok, SeqLen: 4096, Prefetch: 64,
			Sources: []SourceSpec{{Name: "big", TargetRatio: 1, Paths: []string{path}}}})
		done <- opened{l, err}
	}()
	var l *Loader
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatal(o.err)
		}
		l = o.l
	case <-time.After(30 * time.Second):
		t.Fatalf("NewLoader of a 64 GiB token file still busy after 30 s: it reads the whole file at start")
	}
	t.Cleanup(l.Close)
	t.Logf("NewLoader of %d tokens: %v", int64(n), time.Since(start))
	if got := l.srcs[0].files[0].atStart; got > headBytes+4 {
		t.Errorf("opening read %d bytes of the file, want at most its head (%d) and last token", got, headBytes)
	}
	ids := make([]int32, 4096)
	for range 2000 {
		if err := l.Next(ids); err != nil {
			t.Fatal(err)
		}
	}
	// the instances read (32 MiB) pass through a few reused buffers; mapped pages stayed resident
	if rss0 > 0 {
		grown := vmRSS() - rss0
		t.Logf("resident memory grew %d MiB", grown>>20)
		if grown > 96<<20 {
			t.Errorf("resident memory grew %d MiB opening the file and serving 32 MiB of it, want under 96 MiB", grown>>20)
		}
	}
}

// TestTokenFileBadIDPastHead: ids past the head read at start are checked as instances are read, so an id past the
// vocabulary never reaches the model: the loader stops with an error naming the file and the id's index.
func TestTokenFileBadIDPastHead(t *testing.T) {
	tok := worldTokenizer()
	eos := uint32(tok.EOS())
	const T = 64
	ids := make([]uint32, 4*headBytes/2) // uint16: four heads' worth
	for i := range ids {
		ids[i] = uint32(i % 2000)
		if i%T == T-1 {
			ids[i] = eos
		}
	}
	bad := int64(len(ids) - 3*T + 5)
	ids[bad] = uint32(tok.VocabSize()) + 7
	path := writeTokens(t, filepath.Join(t.TempDir(), "a.npy"), Uint16, ids)
	l := mustLoader(t, LoaderParams{Tokenizer: tok, SeqLen: T, Sources: []SourceSpec{{Name: "s", TargetRatio: 1, Paths: []string{path}}}})
	buf := make([]int32, T)
	for k := 0; k <= len(ids)/T; k++ {
		err := l.Next(buf)
		if err == nil {
			for _, id := range buf {
				if id >= int32(tok.VocabSize()) {
					t.Fatalf("instance %d holds id %d past the vocabulary", k, id)
				}
			}
			continue
		}
		want := []string{path, "index " + strconv.FormatInt(bad, 10), "not below the vocabulary size", `source "s"`}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("error %q does not say %q", err, w)
			}
		}
		if !IsInputError(err) {
			t.Errorf("error %v is not an input error (exit 2)", err)
		}
		return
	}
	t.Fatal("a pass over the file served the id past the vocabulary without an error")
}

// gzipMembers writes a gzip file of n copies of one member that holds block, then a member that holds tail: a file
// of n·len(block) bytes of text that takes a few KB of disk and no time to write (gzip readers read every member).
func gzipMembers(t *testing.T, path string, block []byte, n int, tail []byte) string {
	t.Helper()
	member := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	m := member(block)
	out := make([]byte, 0, n*len(m)+64)
	for range n {
		out = append(out, m...)
	}
	return writeFile(t, path, append(out, member(tail)...))
}

// TestDocumentSourceAtScale: a Dolma source starts without reading its files whole. The loader decompressed and
// parsed every document file at start: 200 shards of 1.8 MB (357 MB of JSON lines) took 12 s on a loaded 2-core
// machine, a Dolma source of 200 GB would take hours, and a resume as long again. A 4 GiB JSONL file must open
// within seconds, its scan reading about docHeadBytes of it.
func TestDocumentSourceAtScale(t *testing.T) {
	line := []byte(`{"id": "x", "text": "` + strings.Repeat("the cat sat on the mat. ", 40) + `", "source": "gen"}` + "\n")
	block := bytes.Repeat(line, (1<<20)/len(line))
	path := gzipMembers(t, filepath.Join(t.TempDir(), "big.json.gz"), block, 4<<10, line)
	done := make(chan error, 1)
	var l *Loader
	start := time.Now()
	go func() {
		var err error
		l, err = NewLoader(LoaderParams{Tokenizer: byteTokenizer{}, SeqLen: 256,
			Sources: []SourceSpec{{Name: "dolma", TargetRatio: 1, Paths: []string{path}}}})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("NewLoader of a 4 GiB JSONL file still busy after 20 s: it reads the whole file at start")
	}
	t.Cleanup(l.Close)
	t.Logf("NewLoader of %d GiB of JSON lines: %v", 4, time.Since(start))
	if got := l.srcs[0].scanned; got > docHeadBytes+int64(len(line)) {
		t.Errorf("the scan read %d bytes of the file, want about its head (%d)", got, docHeadBytes)
	}
	batches(t, l, 4, 8)
}

// TestDocumentLateMalformedLine: a malformed line past what the scan at start reads is skipped with a warning naming
// its file:line when training reads it (Loader.TakeWarnings), once; one within it is warned about at start, as
// before; strict mode reads the whole file at start and stops there.
func TestDocumentLateMalformedLine(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	n := 0
	for b.Len() < docHeadBytes+(64<<10) {
		fmt.Fprintf(&b, "{\"text\": \"document %d of the file\"}\n", n)
		n++
	}
	early := []byte("{\"text\": early}\n")
	body := b.Bytes()
	cut := 1000 + bytes.IndexByte(body[1000:], '\n') + 1 // a line's end
	data := append(append(append([]byte{}, body[:cut]...), early...), body[cut:]...)
	data = append(data, "not json at all\n"...)
	data = append(data, "{\"text\": \"the last document\"}\n"...)
	path := writeFile(t, filepath.Join(dir, "a.jsonl"), data)
	lines := bytes.Count(data, []byte("\n"))
	var w warnings
	l := mustLoader(t, LoaderParams{Tokenizer: byteTokenizer{}, SeqLen: 64, Warn: w.warn,
		Sources: []SourceSpec{{Name: "s", TargetRatio: 1, Paths: []string{path}}}})
	got := w.joined()
	if strings.Contains(got, fmt.Sprintf("a.jsonl:%d", lines-1)) {
		t.Fatalf("the late malformed line was warned about at start (the whole file read): %q", got)
	}
	if want := fmt.Sprintf("a.jsonl:%d: invalid character", bytes.Count(body[:cut], []byte("\n"))+1); !strings.Contains(got, want) {
		t.Errorf("warnings at start %q, want one saying %q", got, want)
	}
	ids := make([]int32, 64*64)
	var late []string
	for range 2 * len(data) / len(ids) {
		if err := l.Next(ids); err != nil {
			t.Fatal(err)
		}
		late = append(late, l.TakeWarnings()...)
	}
	want := fmt.Sprintf(`source "s": %s:%d: not a JSON object; line skipped`, path, lines-1)
	if len(late) != 1 || late[0] != want {
		t.Errorf("warnings while training %q, want one: %q", late, want)
	}
	// strict: the whole file at start, stopped at the first malformed line
	_, err := NewLoader(LoaderParams{Tokenizer: byteTokenizer{}, SeqLen: 64, Strict: true,
		Sources: []SourceSpec{{Name: "s", TargetRatio: 1, Paths: []string{writeFile(t, filepath.Join(dir, "b.jsonl"), append(append([]byte{}, body...), "not json\n"...))}}}})
	if err == nil || !strings.Contains(err.Error(), "b.jsonl:") {
		t.Errorf("strict, a malformed last line: %v, want an error naming it", err)
	}
}
