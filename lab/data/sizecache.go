package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// A capped document source needs its size in tokens (SourceSpec.Cap), which only tokenizing every document gives:
// 96 MB of JSONL took 1–2 minutes on a loaded 2-core machine, so a source of 100s of GB would take a day at every
// start. So each file's count is kept, keyed by the file (absolute path, size, modification time) and the
// tokenizer, in memory for the process (a later mix's check, CheckMix then PassTokens, counts nothing again) and on
// disk, so that the next start, a resume or another run over the same data counts nothing either.
//
// On disk the counts live in the user's cache directory (OLMOLAB_CACHE_DIR, else os.UserCacheDir()/olmolab, so
// $XDG_CACHE_HOME/olmolab or ~/.cache/olmolab), one small JSON file per data file, written to a temporary name and
// renamed: not next to the data, which is often shared and read-only, nor in the run directory, which does not exist
// when a new run's caps are checked and which a second run over the same data would not see. A file that cannot be
// written (no home, a read-only cache) only costs a recount next time.

// docCount is what a whole scan of one document file found: all a capped source's scan reports for it.
type docCount struct {
	Docs   int64     `json:"docs"`
	Tokens int64     `json:"tokens"` // each document's tokens and its EOS
	Read   int64     `json:"read"`   // decompressed bytes
	Bad    int       `json:"bad"`    // malformed lines, skipped
	First  []badLine `json:"first_bad,omitempty"`
}

// badLine is one of the first malformed lines, warned about again when the count is taken from the cache.
type badLine struct {
	Line int    `json:"line"`
	Err  string `json:"err"`
}

// countKey names one file's count: it is stale once any part differs. A file rewritten in place to the same size
// within the same nanosecond of modification time would go unnoticed, which no copy or tokenizer output does.
type countKey struct {
	Path    string `json:"path"` // absolute
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	Tok     string `json:"tokenizer"`
	Version int    `json:"version"`
}

// countVersion changes when what a count means changes (a tokenizer's encoding, the EOS per document), so that an
// older olmolab's counts are not used.
const countVersion = 1

type countEntry struct {
	Key   countKey `json:"key"`
	Count docCount `json:"count"`
}

var (
	countMu  sync.Mutex
	countMem = map[countKey]docCount{}
	// countDir is where counts are kept on disk, "" for none; a variable for tests.
	countDir = defaultCountDir
)

func defaultCountDir() string {
	if d := os.Getenv("OLMOLAB_CACHE_DIR"); d != "" {
		return filepath.Join(d, "doc-counts")
	}
	if testing.Testing() { // a test binary (any package's) keeps its counts in memory, out of the user's home
		return ""
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "olmolab", "doc-counts")
}

// keyFor is path's key under tokenizer tok, or false if the file cannot be stat'ed (the scan then reports why).
func keyFor(path, tok string) (countKey, bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return countKey{}, false
	}
	st, err := os.Stat(abs)
	if err != nil || !st.Mode().IsRegular() {
		return countKey{}, false
	}
	return countKey{Path: abs, Size: st.Size(), ModTime: st.ModTime().UnixNano(), Tok: tok, Version: countVersion}, true
}

func (k countKey) file(dir string) string {
	h := sha256.Sum256([]byte(k.Path + "\x00" + k.Tok))
	return filepath.Join(dir, hex.EncodeToString(h[:16])+".json")
}

// cachedCount returns k's count, from memory or disk; none where the key could not be made (keyed false).
func cachedCount(k countKey, keyed bool) (docCount, bool) {
	if !keyed {
		return docCount{}, false
	}
	countMu.Lock()
	c, ok := countMem[k]
	countMu.Unlock()
	if ok {
		return c, true
	}
	dir := countDir()
	if dir == "" {
		return docCount{}, false
	}
	b, err := os.ReadFile(k.file(dir))
	if err != nil {
		return docCount{}, false
	}
	var e countEntry
	if json.Unmarshal(b, &e) != nil || e.Key != k { // damaged, or the file (or its tokenizer) changed since
		return docCount{}, false
	}
	countMu.Lock()
	countMem[k] = e.Count
	countMu.Unlock()
	return e.Count, true
}

// keepCount records k's count in memory and, best effort, on disk: written to a temporary name and renamed, so that
// a reader sees a whole entry or none.
func keepCount(k countKey, c docCount) {
	countMu.Lock()
	countMem[k] = c
	countMu.Unlock()
	dir := countDir()
	if dir == "" || os.MkdirAll(dir, 0o755) != nil {
		return
	}
	b, err := json.Marshal(countEntry{Key: k, Count: c})
	if err != nil {
		return
	}
	f, err := os.CreateTemp(dir, ".count-*")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	if cerr := f.Close(); werr != nil || cerr != nil || os.Rename(f.Name(), k.file(dir)) != nil {
		os.Remove(f.Name())
	}
}

// countProgress says, at most every progressEvery, how far counting a capped source's tokens has got: a first
// count of 100s of GB takes hours, which a start should not spend silently.
type countProgress struct {
	name     string
	total    int
	report   func(string)
	mu       sync.Mutex
	files    int   // done
	cached   int   // of those, taken from the cache
	read     int64 // decompressed bytes of the files counted
	start    time.Time
	last     time.Time
	reported bool
}

// progressEvery is a variable for tests.
var progressEvery = time.Second

func newCountProgress(name string, total int, count bool, report func(string)) *countProgress {
	if !count || report == nil {
		return nil
	}
	now := time.Now()
	return &countProgress{name: name, total: total, report: report, start: now, last: now}
}

// done records one file, read bytes counted (0 and cached where its count was kept).
func (c *countProgress) done(read int64, cached bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files++
	c.read += read
	if cached {
		c.cached++
	}
	if now := time.Now(); now.Sub(c.last) >= progressEvery {
		c.last = now
		c.reported = true
		c.report(c.line())
	}
}

// finish reports the end, where anything was reported before.
func (c *countProgress) finish() {
	if c == nil || !c.reported {
		return
	}
	c.report(c.line())
}

func (c *countProgress) line() string {
	el := time.Since(c.start)
	return fmt.Sprintf("source %q: counting tokens for its caps: %d/%d files, %d from the cache, %.0f MB read in %s (%.1f MB/s)",
		c.name, c.files, c.total, c.cached, float64(c.read)/1e6, el.Round(time.Second), float64(c.read)/1e6/max(el.Seconds(), 1e-3))
}
