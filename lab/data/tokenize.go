package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/olmolab/olmolab/lab/plural"
)

// TokenizeParams configures Tokenize (olmolab tokenize INPUT... --out DIR --tokenizer NAME).
type TokenizeParams struct {
	Inputs    []string  // document files, directories or globs (.jsonl, .json, .txt, .md, optionally .gz/.zst)
	OutDir    string    // created if missing; must not already hold part-*.npy files or a manifest, unless Resume
	Tokenizer Tokenizer // e.g. NewTokenizer("dolma2")
	DType     DType     // 0 means DTypeFor(Tokenizer): uint32 for dolma2, uint16 for bytes and world
	// MaxFileBytes splits the output into files of at most this size, at document boundaries (a document larger
	// than the limit gets a file of its own). 0 means 1 GiB.
	MaxFileBytes int64
	Workers      int  // tokenizing goroutines; 0 means GOMAXPROCS
	Strict       bool // stop at the first malformed JSON line instead of skipping it with a warning
	// Resume continues the run that OutDir's manifest (ManifestName) describes, interrupted or not, with the same
	// settings and inputs: its part files are kept, and the output ends up as an uninterrupted run's. An OutDir
	// without token files or manifest is tokenized from the start.
	Resume bool
	Warn   func(string)
	// Progress, if set, is called about ten times a second and once at the end, from one goroutine.
	Progress func(TokenizeProgress)
}

// TokenizeProgress is a snapshot for a progress bar: ReadBytes of TotalBytes are the input files' on-disk
// (possibly compressed) bytes whose documents are written, and their sizes.
type TokenizeProgress struct {
	ReadBytes, TotalBytes int64
	Documents, Tokens     int64
	Files                 int // output files finished
}

// TokenizeSummary reports a finished (or stopped) Tokenize: what its output files hold.
type TokenizeSummary struct {
	Files     []string // output files, in order
	Documents int64    // in Files (a stopped run drops the documents of the file it was writing)
	Tokens    int64    // in Files, one EOS per document included
	TextBytes int64    // UTF-8 bytes of the text of the documents in Files
	Skipped   int64    // malformed lines skipped
	Resumed   int      // of Files, those an earlier run wrote (Resume)
	// ResumedTokens is what those hold: Tokens less it is this run's work (its tokens/s)
	ResumedTokens int64
	Elapsed       time.Duration
}

// BytesPerToken is the tokenizer's compression on this data: text bytes per token, EOS not counted.
func (s TokenizeSummary) BytesPerToken() float64 {
	if n := s.Tokens - s.Documents; n > 0 {
		return float64(s.TextBytes) / float64(n)
	}
	return 0
}

// Tokenize converts documents to OLMo token files in OutDir: part-00000.npy, part-00001.npy, …, each a headerless
// little-endian array of ids with EOS after every document (docs/olmo2.md §11), ready for a source's paths.
// Documents are read in input order (files sorted within directories and globs), tokenized on Workers goroutines and
// written in the same order, so the output is identical for any number of workers. Every file is written under a
// temporary name and renamed when complete: a cancelled run leaves only whole files under final names (a prefix of the
// output), a failed one (an input error, a full disk) none, and no OutDir it created that holds nothing. OutDir's
// manifest (ManifestName) records each file as it is renamed, so that Resume continues an interrupted run.
// Input problems are *InputError; a cancelled ctx returns ctx.Err() with the summary so far.
func Tokenize(ctx context.Context, p TokenizeParams) (res TokenizeSummary, err error) {
	start := time.Now()
	var sum TokenizeSummary
	if p.Tokenizer == nil {
		panic("data: Tokenize without a Tokenizer")
	}
	if p.Warn == nil {
		p.Warn = func(string) {}
	}
	if p.DType == 0 {
		p.DType = DTypeFor(p.Tokenizer)
	}
	if p.DType == Uint16 && p.Tokenizer.VocabSize() > 1<<16 {
		return sum, &InputError{Msg: fmt.Sprintf("uint16 cannot hold the ids of tokenizer %s (vocabulary %d)", p.Tokenizer.Name(), p.Tokenizer.VocabSize()), Hint: "use uint32"}
	}
	if p.MaxFileBytes <= 0 {
		p.MaxFileBytes = 1 << 30
	}
	if p.Workers <= 0 {
		p.Workers = runtime.GOMAXPROCS(0)
	}
	inputs, total, err := tokenizeInputs(p.Inputs, p.Warn)
	if err != nil {
		return sum, err
	}
	if p.OutDir == "" {
		return sum, &InputError{Msg: "no output directory", Hint: "give --out DIR"}
	}
	ins, err := statInputs(inputs)
	if err != nil {
		return sum, err
	}
	created := firstMissing(p.OutDir)
	m := &tokManifest{Tokenizer: p.Tokenizer.Name(), DType: p.DType, MaxFileBytes: p.MaxFileBytes, Inputs: ins}
	w := &partWriter{dir: p.OutDir, dtype: p.DType, max: p.MaxFileBytes, manifest: m}
	if err := os.MkdirAll(p.OutDir, 0o755); err != nil {
		return sum, &InputError{Path: p.OutDir, Msg: "cannot create output directory", Err: unwrapPathErr(err), Hint: "give --out a directory you can write, or where one can be made"}
	}
	defer func() {
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			// A failure (a damaged input, a full disk) leaves output that is
			// missing the rest of the documents, yet looks whole, and the
			// next try refuses the directory while it holds them. Interrupted
			// runs keep their whole files (a prefix of the output), as they say.
			for _, f := range w.done {
				os.Remove(f)
			}
			if len(w.done) > 0 { // the manifest of those files (not one a refused --out holds)
				os.Remove(filepath.Join(p.OutDir, ManifestName))
			}
			w.done, res.Files = nil, nil
		}
		if err != nil {
			// nothing left: the directory it made would be found by the
			// next try, and looks like output
			removeEmptyDirs(p.OutDir, created)
		}
	}()
	old, _ := filepath.Glob(filepath.Join(p.OutDir, "part-*.npy"))
	prev, err := readManifest(p.OutDir)
	if err != nil {
		return sum, err
	}
	switch {
	case p.Resume && prev != nil:
		if err := checkResume(p.OutDir, prev, m.Tokenizer, m.DType, m.MaxFileBytes, ins); err != nil {
			return sum, err
		}
		if prev.Complete {
			sum = prev.summary(p.OutDir)
			sum.Elapsed = time.Since(start)
			return sum, nil
		}
		// Parts past the manifest (renamed into place just before the run stopped) and temporary files are
		// written again, the same.
		for _, f := range old {
			if !slices.ContainsFunc(prev.Parts, func(pt tokPart) bool { return pt.Name == filepath.Base(f) }) {
				os.Remove(f)
			}
		}
		tmp, _ := filepath.Glob(filepath.Join(p.OutDir, "part-*.npy.tmp"))
		for _, f := range tmp {
			os.Remove(f)
		}
		m.Parts = prev.Parts
		w.resume(prev)
		sum.Resumed = len(prev.Parts)
		if n := len(prev.Parts); n > 0 {
			sum.ResumedTokens = prev.Parts[n-1].Tokens
		}
	case len(old) > 0 || prev != nil:
		names := ManifestName
		if len(old) > 0 {
			names = filepath.Base(old[0])
		}
		if len(old) > 1 {
			names += ", …"
		}
		e := &InputError{Path: p.OutDir, Msg: fmt.Sprintf("already holds %s (%s)", plural.N(len(old), "token file"), names),
			Hint: "give an empty or new --out directory, so that old and new files are not mixed"}
		switch {
		case prev != nil && !prev.Complete:
			e.Hint = "add --resume to continue the run that wrote them (same settings and inputs), or give an empty or new --out directory"
		case p.Resume:
			e.Hint = "they have no manifest (" + ManifestName + ") to resume from; give an empty or new --out directory"
		}
		return sum, e
	}
	// where a resumed run starts: the input after the last part's last document
	var from docPos
	if n := len(m.Parts); n > 0 {
		from = m.Parts[n-1].docPos
		sum.Skipped = from.Skipped
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type job struct {
		docs   []string
		pos    []docPos
		ids    []int32 // every document's tokens and EOS, concatenated
		lens   []int   // tokens per document, EOS included
		readTo int64   // the input bytes read when the batch was complete
		done   chan struct{}
	}
	var (
		read    atomic.Int64 // input bytes read: the reader runs ahead of the writer
		written atomic.Int64 // input bytes whose documents are written: the progress
		docs    atomic.Int64
		tokens  atomic.Int64
		files   atomic.Int64
		readErr error
	)
	for _, in := range ins[:from.Input] { // finished by the run resumed: not read again
		read.Add(in.Size)
	}
	written.Store(read.Load())
	jobs := make(chan *job, 2*p.Workers)
	order := make(chan *job, 4*p.Workers)
	var wg sync.WaitGroup
	wg.Go(func() { // reader: batches of documents, in order
		defer close(jobs)
		defer close(order)
		const batchBytes = 1 << 20
		var batch []string
		var pos []docPos
		size := 0
		flush := func() bool {
			if len(batch) == 0 {
				return true
			}
			j := &job{docs: batch, pos: pos, readTo: read.Load(), done: make(chan struct{})}
			batch, pos, size = nil, nil, 0
			select {
			case order <- j:
			case <-ctx.Done():
				return false
			}
			select {
			case jobs <- j:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for i := from.Input; i < len(inputs); i++ {
			path := inputs[i]
			d, err := openDocsCounting(path, &read)
			if err != nil {
				readErr = err
				cancel()
				return
			}
			warned := 0
			for {
				doc, err := d.next()
				if err == io.EOF {
					break
				}
				if len(m.Parts) > 0 && i == from.Input && d.line <= from.Line && (err == nil || isMalformed(err)) {
					continue // written, or skipped and counted, by the run resumed
				}
				if isMalformed(err) && !p.Strict {
					sum.Skipped++
					if warned++; warned <= 3 {
						var ie *InputError
						errors.As(err, &ie)
						p.Warn(fmt.Sprintf("%s:%d: %v; line skipped", ie.Path, ie.Line, ie.Err))
					}
					continue
				}
				if err != nil {
					d.Close()
					if isMalformed(err) {
						var ie *InputError
						errors.As(err, &ie)
						ie.Hint = "strict mode stops at the first malformed line; fix the line or drop strict to skip it with a warning"
					}
					readErr = err
					cancel()
					return
				}
				batch = append(batch, doc.Text)
				pos = append(pos, docPos{Input: i, Line: doc.Line, Skipped: sum.Skipped})
				size += len(doc.Text)
				if size >= batchBytes || len(batch) >= 256 {
					if !flush() {
						d.Close()
						return
					}
				}
			}
			if warned > 3 {
				p.Warn(fmt.Sprintf("%s: %d malformed lines skipped in all", path, warned))
			}
			d.Close()
		}
		flush()
	})
	eos := p.Tokenizer.EOS()
	for range p.Workers {
		wg.Go(func() {
			for j := range jobs {
				var ids []int32
				for _, d := range j.docs {
					n := len(ids)
					ids = append(p.Tokenizer.Encode(ids, d), eos)
					j.lens = append(j.lens, len(ids)-n)
				}
				j.ids = ids
				close(j.done)
			}
		})
	}
	progressDone := make(chan struct{})
	var pwg sync.WaitGroup
	report := func() {
		if p.Progress != nil {
			p.Progress(TokenizeProgress{ReadBytes: written.Load(), TotalBytes: total, Documents: docs.Load(), Tokens: tokens.Load(), Files: int(files.Load())})
		}
	}
	if p.Progress != nil {
		pwg.Go(func() {
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					report()
				case <-progressDone:
					return
				}
			}
		})
	}

	// Writer: this goroutine, in document order.
	var werr error
	for j := range order {
		select {
		case <-j.done:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		// Write document by document so that files split at document boundaries.
		at := 0
		for i, d := range j.docs {
			n := j.lens[i]
			if werr = w.write(j.ids[at:at+n], int64(len(d)), j.pos[i]); werr != nil {
				break
			}
			files.Store(int64(len(w.done)))
			docs.Add(1)
			tokens.Add(int64(n))
			at += n
		}
		if werr != nil {
			cancel()
			break
		}
		written.Store(j.readTo)
	}
	for range order { // drain, so that the reader can finish
	}
	wg.Wait()
	if werr == nil && readErr == nil && ctx.Err() == nil {
		werr = w.finish()
		written.Store(read.Load()) // lines after the last document (skipped ones) too
	} else {
		w.abort()
	}
	close(progressDone)
	pwg.Wait()
	files.Store(int64(len(w.done)))
	report()
	sum.Files = w.done
	// what the files under final names hold: a stopped run dropped the
	// documents of the file it was writing
	sum.Documents, sum.Tokens, sum.TextBytes = w.kept.docs, w.kept.tokens, w.kept.text
	sum.Elapsed = time.Since(start)
	switch {
	case readErr != nil:
		return sum, readErr
	case werr != nil:
		return sum, werr
	case ctx.Err() != nil:
		return sum, ctx.Err()
	}
	if sum.Documents == 0 {
		return sum, &InputError{Msg: "no document with text in the inputs", Hint: `JSON lines need a non-empty "text" field`}
	}
	m.Complete, m.Skipped = true, sum.Skipped
	return sum, writeManifest(p.OutDir, m)
}

// tokenizeInputs resolves Tokenize's inputs to document files and their total size.
// Files a directory or glob holds that are not documents are skipped with a
// warning (expandData).
func tokenizeInputs(in []string, warn func(string)) ([]string, int64, error) {
	var probs problems
	var files []string
	seen := map[string]bool{}
	if len(in) == 0 {
		return nil, 0, &InputError{Msg: "no inputs", Hint: "give document files, directories or globs"}
	}
	for _, path := range in {
		fs, skipped, err := expandData(path, true)
		if err != nil {
			probs.add(&InputError{Path: path, Msg: err.Error(), Hint: hintFor(err, path)})
			continue
		}
		if len(skipped) > 0 {
			warn(skippedFiles(path, skipped, fs, "name a file as an input to tokenize it"))
		}
		sort.Strings(fs)
		for _, f := range fs {
			if seen[f] { // a directory and a glob may name the same file: tokenize it once
				continue
			}
			seen[f] = true
			if k, _ := classify(f); k != kindJSONL && k != kindText {
				probs.add(&InputError{Path: f, Msg: "not a document file", Hint: "tokenize reads .jsonl, .json, .txt or .md (optionally .gz or .zst)"})
				continue
			}
			files = append(files, f)
		}
	}
	if err := probs.err(); err != nil {
		return nil, 0, err
	}
	var total int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			total += st.Size()
		}
	}
	return files, total, nil
}

// partWriter writes token files of at most max bytes under temporary names, renaming each when complete.
type partWriter struct {
	dir   string
	dtype DType
	max   int64
	f     *os.File
	tmp   string
	final string
	size  int64
	buf   []byte
	done  []string
	// manifest gets each finished part; last is where the last document written was read
	manifest *tokManifest
	last     docPos
	// open counts the documents of the file being written, kept those of
	// the files renamed into place
	open, kept struct{ docs, tokens, text int64 }
}

// write appends one document's ids (EOS included), of text bytes of text, read at pos.
func (w *partWriter) write(ids []int32, text int64, pos docPos) error {
	n := int64(len(ids)) * int64(w.dtype)
	if w.f != nil && w.size > 0 && w.size+n > w.max {
		if err := w.close(); err != nil {
			return err
		}
	}
	if w.f == nil {
		w.final = filepath.Join(w.dir, fmt.Sprintf("part-%05d.npy", len(w.done)))
		w.tmp = w.final + ".tmp"
		f, err := os.Create(w.tmp)
		if err != nil {
			return writeErr(w.tmp, "create", err)
		}
		w.f, w.size = f, 0
	}
	w.buf = w.buf[:0]
	for _, id := range ids {
		if w.dtype == Uint16 {
			w.buf = append(w.buf, byte(id), byte(id>>8))
		} else {
			w.buf = append(w.buf, byte(id), byte(id>>8), byte(id>>16), byte(id>>24))
		}
	}
	if _, err := w.f.Write(w.buf); err != nil {
		return writeErr(w.tmp, "write", err)
	}
	w.size += n
	w.open.docs++
	w.open.tokens += int64(len(ids))
	w.open.text += text
	w.last = pos
	return nil
}

// resume continues after the parts m lists.
func (w *partWriter) resume(m *tokManifest) {
	for _, pt := range m.Parts {
		w.done = append(w.done, filepath.Join(w.dir, pt.Name))
	}
	if n := len(m.Parts); n > 0 {
		last := m.Parts[n-1]
		w.kept.docs, w.kept.tokens, w.kept.text = last.Documents, last.Tokens, last.Text
	}
}

// close completes the current file: sync, close, rename into place.
func (w *partWriter) close() error {
	f := w.f
	w.f = nil
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(w.tmp)
		return writeErr(w.tmp, "sync", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(w.tmp)
		return writeErr(w.tmp, "close", err)
	}
	if err := os.Rename(w.tmp, w.final); err != nil {
		os.Remove(w.tmp)
		return writeErr(w.tmp, "rename", err)
	}
	w.done = append(w.done, w.final)
	w.kept.docs += w.open.docs
	w.kept.tokens += w.open.tokens
	w.kept.text += w.open.text
	w.open.docs, w.open.tokens, w.open.text = 0, 0, 0
	w.manifest.Parts = append(w.manifest.Parts, tokPart{Name: filepath.Base(w.final), Bytes: w.size, docPos: w.last,
		Documents: w.kept.docs, Tokens: w.kept.tokens, Text: w.kept.text})
	return writeManifest(w.dir, w.manifest)
}

func (w *partWriter) finish() error {
	if w.f == nil {
		return nil
	}
	return w.close()
}

// abort removes the file being written.
func (w *partWriter) abort() {
	if w.f != nil {
		w.f.Close()
		os.Remove(w.tmp)
		w.f = nil
		w.open.docs, w.open.tokens, w.open.text = 0, 0, 0
	}
}

// firstMissing is the outermost directory of dir's path that does not exist
// yet (dir itself, or a parent MkdirAll would make), "" when dir exists.
func firstMissing(dir string) string {
	missing := ""
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			return missing
		}
		missing = d
		if filepath.Dir(d) == d {
			return missing
		}
	}
}

// removeEmptyDirs removes dir and its parents up to top (firstMissing's),
// while they are empty: the directories a failed Tokenize made. A directory
// that holds a file (a whole token file of an interrupted run) stays, and so
// do its parents.
func removeEmptyDirs(dir, top string) {
	if top == "" {
		return
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if os.Remove(d) != nil || d == top || filepath.Dir(d) == d {
			return
		}
	}
}

// writeErr is a failure to write a token file: the file and what failed, the
// error without Go's "op PATH: " (the path is said once), and a HINT for a
// full disk, the one a person can act on.
func writeErr(path, op string, err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	err = unwrapPathErr(err)
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%s: cannot %s the token file: %w\nHINT: free space on the disk (or give --out a directory on another), and run the command again", path, op, err)
	}
	return fmt.Errorf("%s: cannot %s the token file: %w", path, op, err)
}
