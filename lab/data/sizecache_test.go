package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCappedCountKept: a capped document source's size is counted once and kept (sizecache.go). Every start
// tokenized every document of such a source to know its size (96 MB of JSONL: 1 min 48 s; a later mix's check as
// long again): a second start, in this process or the next, must read no document bytes and find the same size and
// warnings, and a file that changed must be counted again, alone.
func TestCappedCountKept(t *testing.T) {
	dir := t.TempDir()
	cache := t.TempDir()
	countDir, progressEvery = func() string { return cache }, 0
	t.Cleanup(func() { countDir, progressEvery = defaultCountDir, time.Second })
	forget := func() { // a new process: nothing in memory
		countMu.Lock()
		clear(countMem)
		countMu.Unlock()
	}
	a := writeFile(t, filepath.Join(dir, "a.jsonl"), jsonl("the first document", "a second one, longer than the first"))
	writeFile(t, filepath.Join(dir, "b.jsonl"), append(jsonl("b's only document"), "{not json\n"...))
	spec := []SourceSpec{{Name: "web", TargetRatio: 1, Paths: []string{dir}, RepetitionFactor: 2}}
	var prog []string
	start := func() (size, read int64, warns string) {
		t.Helper()
		var w warnings
		prog = nil
		r0 := scanRead.Load()
		l := mustLoader(t, LoaderParams{Sources: spec, SeqLen: 4, Warn: w.warn, Progress: func(s string) { prog = append(prog, s) }})
		return l.srcs[0].size, scanRead.Load() - r0, w.joined()
	}
	size, read, warns := start()
	if read == 0 || size == 0 || !strings.Contains(warns, "b.jsonl:2") {
		t.Fatalf("first start: size %d, %d bytes read, warnings %q; want a count, reading the files, and b.jsonl:2 warned about", size, read, warns)
	}
	if len(prog) == 0 || !strings.Contains(prog[len(prog)-1], `source "web": counting tokens for its caps: 2/2 files, 0 from the cache`) {
		t.Errorf("progress while counting: %q", prog)
	}
	for _, new := range []bool{false, true} {
		if new {
			forget()
		}
		size2, read2, warns2 := start()
		if read2 != 0 || size2 != size || warns2 != warns {
			t.Errorf("second start (new process %v): size %d, %d document bytes read, warnings %q; want %d, none read, %q", new, size2, read2, warns2, size, warns)
		}
		r0 := scanRead.Load()
		got, err := mustLoader(t, LoaderParams{Sources: spec, SeqLen: 4}).PassTokens([]SourceSpec{{Name: "later", TargetRatio: 1, Paths: []string{dir}, MaxSourceRatio: 0.5}})
		if err != nil || got["later"] != size || scanRead.Load() != r0 {
			t.Errorf("a later mix's count (new process %v): %v, %v, %d bytes read; want %d, none read", new, got, err, scanRead.Load()-r0, size)
		}
	}

	// strict mode stops at b.jsonl's malformed line, which a kept count only warns about
	if _, err := NewLoader(LoaderParams{Sources: spec, SeqLen: 4, Tokenizer: byteTokenizer{}, Strict: true}); err == nil || !strings.Contains(err.Error(), "b.jsonl:2") {
		t.Errorf("strict start with kept counts: %v; want it stopped at b.jsonl:2", err)
	}

	// a.jsonl gains a document (and a later mtime): counted again, alone
	more := jsonl("the first document", "a second one, longer than the first", "and a third")
	if err := os.WriteFile(a, more, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(a, later, later)
	forget()
	size3, read3, _ := start()
	if read3 != int64(len(more)) || size3 <= size {
		t.Errorf("after a.jsonl changed: size %d (was %d), %d bytes read; want more, and a.jsonl's %d bytes read", size3, size, read3, len(more))
	}
	// a count for another tokenizer is not this one's
	forget()
	r0 := scanRead.Load()
	tok, _ := NewTokenizer("dolma2")
	mustLoader(t, LoaderParams{Sources: spec, SeqLen: 4, Tokenizer: tok})
	if scanRead.Load() == r0 {
		t.Error("another tokenizer took the byte tokenizer's counts")
	}
}
