package data

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/olmolab/olmolab/lab/data/internal/rnd"
	"github.com/olmolab/olmolab/lab/data/world"
	"github.com/olmolab/olmolab/lab/plural"
)

// SourceSpec is one source of a mixture, as in olmo-cookbook recipes: dataset.sources[{name, target_ratio, paths}].
//
// Paths are files, directories (read recursively, files with a known suffix), globs (filepath.Match syntax), or
// "builtin:<name>" for a source of the built-in world: builtin:web_noisy, builtin:web_clean, builtin:code,
// builtin:math, builtin:qa. One source holds one kind of data: token files (.npy, .bin), documents (.jsonl,
// .json, .txt, .md, each optionally .gz or .zst), or one built-in source.
//
// TargetRatio is the share of instances (and so of tokens) drawn from the source. Zero is allowed (a source switched
// off until a later SetMix); negative is an error; NaN means "missing" (a recipe without target_ratio) and is an
// error too, so that a recipe parser can pass math.NaN() for an absent key.
//
// DType is the element type of the source's token files, 0 for the loader's (LoaderParams.DType), so that uint16 and
// uint32 files can be mixed (olmolab's own key: OLMo-core reads a whole mixture with one dtype).
//
// RepetitionFactor and MaxSourceRatio are olmo-cookbook's caps on what a run may draw from the source, which
// OLMo-core's source mixture calls max_repetition_ratio and max_source_fraction: at most size × MaxSourceRatio ×
// RepetitionFactor tokens (Cap). 0 means not given: no cap, and a source that runs out starts over.
type SourceSpec struct {
	Name             string   `json:"name"`
	TargetRatio      float64  `json:"target_ratio"`
	Paths            []string `json:"paths"`
	DType            DType    `json:"dtype,omitempty"`
	RepetitionFactor float64  `json:"repetition_factor,omitempty"`
	MaxSourceRatio   float64  `json:"max_source_ratio,omitempty"`
}

// Capped says whether the spec caps what a run draws from it (RepetitionFactor or MaxSourceRatio given).
func (s SourceSpec) Capped() bool { return s.RepetitionFactor > 0 || s.MaxSourceRatio > 0 }

// Cap is the most tokens a run may draw from the source when one pass over it holds size tokens:
// size × max_source_ratio × repetition_factor, each 1 when not given, as OLMo-core's SourceMixtureDatasetConfig
// computes a source's max_for_source.
func (s SourceSpec) Cap(size int64) int64 {
	f := cmp.Or(s.MaxSourceRatio, 1) * cmp.Or(s.RepetitionFactor, 1)
	return int64(math.Floor(float64(size) * f))
}

// BuiltinPrefix starts a path that names a built-in world source.
const BuiltinPrefix = "builtin:"

type sourceKind int

const (
	srcTokens sourceKind = iota
	srcDocs
	srcBuiltin
)

// source is one resolved, validated SourceSpec.
type source struct {
	spec  SourceSpec
	kind  sourceKind
	key   uint64 // Hash(seed, name): the source's own shuffles and documents
	base  int64  // index of the first document of a built-in source's stream (heldOutFirstDoc when held out)
	files []*tokenFile
	cum   []int64 // cum[i] = instances in files[:i]; cum[len(files)] = total
	docs  []string
	ndocs int64 // documents with text found by the scan
	// scanned is the decompressed bytes of document files the scan at start read (bounded: docHeadBytes a file)
	scanned int64
	// partly: the scan read some document file only in part; a malformed line past what it read is warned about
	// when it is read (lateWarn), at most lateWarnsPerFile a file
	partly  bool
	warnMu  sync.Mutex
	late    []string         // warnings not yet taken by Loader.TakeWarnings
	lateBy  map[string][]int // the malformed lines warned about, per file
	wsrc    world.Source
	kb      *world.KB
	prod    *producer
	heldOut bool // a validation set (ReadValidation): documents in file order, not shuffled
	// skipped counts the text files beside a document source's JSONL files
	// that expandData left out (an olmolab before it read them as documents)
	skipped int
	// size is one pass over the source in tokens: a token-file source's whole instances, a document source's
	// tokens (EOS included) where its spec is Capped (counted by tokenizing its documents once), else 0
	size int64
}

func (s *source) instances() int64 { return s.cum[len(s.cum)-1] }

// openParams is what resolving and validating a source needs from the loader.
type openParams struct {
	tok    Tokenizer
	seqLen int
	seed   uint64
	dtype  DType
	strict bool
	kb     *world.KB
	warn   func(string)
	// progress, if not nil, is told how counting a capped document source's tokens goes (LoaderParams.Progress)
	progress func(string)
	// heldOut: built-in sources serve their held-out stream (ReadValidation), keyed by HeldOutSeed and the
	// built-in name instead of (seed, source name), from document heldOutFirstDoc on.
	heldOut bool
}

// openSource resolves spec's paths and validates everything that can be checked before training: files exist and
// are readable, token files have whole elements and ids below the vocabulary, JSON lines parse (a malformed line
// is a warning with file:line, or an error in strict mode), and the source is not empty. Problems are added to
// probs; the source is nil if any was fatal.
func openSource(spec SourceSpec, p openParams, probs *problems) *source {
	name := spec.Name
	if spec.DType != 0 {
		p.dtype = spec.DType
	}
	s := &source{spec: spec, key: rnd.Hash(p.seed, rnd.String(name)), kb: p.kb, heldOut: p.heldOut}
	if len(spec.Paths) == 0 {
		probs.add(&InputError{Source: name, Msg: "no paths", Hint: "give files, directories, globs or builtin:<name> in paths"})
		return nil
	}
	var builtins []string
	var files []string
	bad := false
	for _, path := range spec.Paths {
		switch {
		case strings.HasPrefix(path, BuiltinPrefix):
			builtins = append(builtins, path)
		case strings.Contains(path, "://"):
			probs.add(&InputError{Source: name, Path: path, Msg: "remote paths are not supported", Hint: "download the files and give local paths"})
			bad = true
		default:
			fs, skipped, err := expandData(path, false)
			if err != nil {
				probs.add(&InputError{Source: name, Path: path, Msg: err.Error(), Hint: hintFor(err, path)})
				bad = true
			}
			s.skipped += len(skipped)
			if len(skipped) > 0 && p.warn != nil {
				p.warn(fmt.Sprintf("source %q: %s", name, skippedFiles(path, skipped, fs, "name a file in paths to train on it")))
			}
			files = append(files, fs...)
		}
	}
	if bad {
		return nil
	}
	if len(builtins) > 0 {
		if len(builtins) > 1 || len(files) > 0 {
			probs.add(&InputError{Source: name, Msg: "a builtin: path must be the source's only path", Hint: "give each built-in source its own entry in the mix"})
			return nil
		}
		ws, ok := world.ParseSource(strings.TrimPrefix(builtins[0], BuiltinPrefix))
		if !ok {
			var names []string
			for _, w := range world.Sources() {
				names = append(names, BuiltinPrefix+w.String())
			}
			probs.add(&InputError{Source: name, Path: builtins[0], Msg: "unknown built-in source", Hint: "use one of " + strings.Join(names, ", ")})
			return nil
		}
		s.kind, s.wsrc = srcBuiltin, ws
		if p.heldOut {
			s.key, s.base = rnd.Hash(HeldOutSeed, rnd.String(builtins[0])), heldOutFirstDoc
		}
		return s
	}
	// Deduplicate (a glob and a directory may name the same file) and order, so instance order is reproducible.
	sort.Strings(files)
	files = compactStrings(files)
	var tokens, docs []string
	for _, f := range files {
		switch k, _ := classify(f); k {
		case kindTokens:
			tokens = append(tokens, f)
		case kindJSONL, kindText:
			docs = append(docs, f)
		default:
			probs.add(&InputError{Source: name, Path: f, Msg: "unknown file type",
				Hint: "token files end in .npy or .bin; documents in .jsonl, .json, .txt or .md (optionally .gz or .zst)"})
			bad = true
		}
	}
	switch {
	case bad:
		return nil
	case len(tokens) > 0 && len(docs) > 0:
		probs.add(&InputError{Source: name, Msg: fmt.Sprintf("mixes %s and %s", plural.N(len(tokens), "token file"), plural.N(len(docs), "document file")), Hint: "put them in two sources, or tokenize the documents first (olmolab tokenize)"})
		return nil
	case len(tokens) > 0:
		s.kind = srcTokens
		if !s.openTokens(tokens, p, probs) {
			return nil
		}
	default:
		s.kind, s.docs = srcDocs, docs
		if !s.scanDocs(p, probs) {
			return nil
		}
	}
	return s
}

// expand turns a path into files: a glob's matches, a directory's files with known suffixes (recursively), or the
// file itself. Errors are plain; the caller wraps them.
func expand(path string) ([]string, error) {
	if strings.ContainsAny(path, "*?[{") {
		// doublestar: filepath.Glob's patterns plus ** (any number of
		// directories) and {a,b}, as in olmo-cookbook recipes' paths. A
		// wildcard does not match a hidden file or directory (one named
		// in the pattern is matched), as in a shell and in a directory
		// source (the OLMo-core export lists the files where OLMo-core's
		// glob, which matches hidden ones, would differ).
		m, err := doublestar.FilepathGlob(path, doublestar.WithNoHidden())
		if err != nil {
			return nil, fmt.Errorf("bad glob: %w", err)
		}
		if len(m) == 0 {
			return nil, errNoMatch
		}
		// Like a directory, ** stands for "whatever data is down there":
		// its matches of unknown file types (logs, READMEs) and matched
		// directories without data are skipped. A pattern without ** names
		// its files, and a wrong one is an error.
		deep := strings.Contains(path, "**")
		var out []string
		for _, f := range m {
			if deep {
				if st, err := os.Stat(f); err == nil && !st.IsDir() {
					if k, _ := classify(f); k == kindUnknown {
						continue
					}
				}
			}
			fs, err := expand(f)
			if deep && err == errEmptyDir {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, fs...)
		}
		if len(out) == 0 {
			return nil, errNoMatch
		}
		return out, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, errMissing
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != path && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			if k, _ := classify(p); k != kindUnknown {
				out = append(out, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read directory: %w", err)
	}
	if len(out) == 0 {
		return nil, errEmptyDir
	}
	return out, nil
}

// expandData is expand for a path of a source (docs false) or of tokenize's
// inputs (docs true). A path that names one file is taken as it is. A
// directory or a glob stands for the data there, and what is not data is
// returned as skipped: text files (.txt, .md: a README, notes) found next to
// JSONL or token files, and, for docs (tokenize reads documents), token
// files. Token and JSONL files together stay an error for a source (which of
// the two is meant cannot be told).
func expandData(path string, docs bool) (files, skipped []string, err error) {
	all, err := expand(path)
	if err != nil {
		return nil, nil, err
	}
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return all, nil, nil
	}
	sort.Strings(all) // a ** glob matches a directory and the files in it
	all = compactStrings(all)
	structured := false // JSONL or token files: the data the text files sit beside
	for _, f := range all {
		k, _ := classify(f)
		structured = structured || k == kindJSONL || k == kindTokens && !docs
	}
	for _, f := range all {
		k, _ := classify(f)
		if k == kindText && structured || k == kindTokens && docs {
			skipped = append(skipped, f)
		} else {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, skipped, errNoData
	}
	return files, skipped, nil
}

// hiddenGlobData lists the JSONL and text files that paths' globs matched
// before their wildcards skipped hidden files and directories (an olmolab
// before that read them as documents), sorted.
func hiddenGlobData(paths []string) []string {
	var out []string
	for _, path := range paths {
		if !strings.ContainsAny(path, "*?[{") {
			continue
		}
		all, err := doublestar.FilepathGlob(path)
		if err != nil {
			continue
		}
		now, _ := doublestar.FilepathGlob(path, doublestar.WithNoHidden())
		for _, m := range all {
			if slices.Contains(now, m) {
				continue
			}
			fs, err := expand(m) // a hidden directory: its files
			if err != nil {
				continue
			}
			for _, f := range fs {
				if k, _ := classify(f); k == kindJSONL || k == kindText {
					out = append(out, f)
				}
			}
		}
	}
	sort.Strings(out)
	return compactStrings(out)
}

// SourceFiles returns the files a dataset source reads from path: the file
// itself, a glob's matches, or a directory's data files found recursively
// (hidden files and directories skipped, text files beside token or JSONL
// files left out), exactly as the loader expands it, so that an export of the
// recipe names the same files. The error is plain; the caller names the path.
func SourceFiles(path string) ([]string, error) {
	files, _, err := expandData(path, false)
	if err != nil {
		if h := hintFor(err, path); h != "" {
			return nil, fmt.Errorf("%w\nHINT: %s", err, h)
		}
		return nil, err
	}
	return files, nil
}

// skippedFiles says which files of path expandData skipped, and why, for a
// warning.
func skippedFiles(path string, skipped, kept []string, use string) string {
	sort.Strings(skipped)
	names := skipped
	if len(names) > 3 {
		names = names[:3]
	}
	list := strings.Join(names, ", ")
	if len(skipped) > len(names) {
		list += ", …"
	}
	kind := "document"
	if len(kept) > 0 {
		switch k, _ := classify(kept[0]); k {
		case kindTokens:
			kind = "token"
		case kindJSONL:
			kind = "JSONL"
		}
	}
	return fmt.Sprintf("%s: %s skipped, not %s files like the rest (%s); %s", path, plural.N(len(skipped), "file"), kind, list, use)
}

var (
	errNoData   = errors.New("holds no document files")
	errMissing  = errors.New("no such file or directory")
	errNoMatch  = errors.New("glob matches no file")
	errEmptyDir = errors.New("directory has no data files")
)

func hintFor(err error, path string) string {
	if (err == errMissing || err == errNoMatch) && (strings.HasPrefix(path, "~") || strings.Contains(path, "$")) {
		// a shell's expansions, which a recipe's paths do not get
		return "olmolab does not expand ~ or $VARIABLES in paths: write the path out (/home/you/data/*.npy)"
	}
	switch err {
	case errMissing:
		return "check the path; relative paths are relative to the directory olmolab runs in"
	case errNoMatch:
		return "check the pattern (* matches within one directory, ** across directories)"
	case errEmptyDir:
		return "data files end in .npy, .bin, .jsonl, .json, .txt or .md (optionally .gz or .zst)"
	case errNoData:
		return "tokenize reads documents: .jsonl, .json, .txt or .md (optionally .gz or .zst); token files (.npy, .bin) are already tokenized"
	}
	return ""
}

func compactStrings(xs []string) []string {
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// openTokens opens the token files, checks each file's head (tokenFile.scanHead: a bounded read, whatever the file's
// size, so that a source of 10^12 tokens starts in seconds), and counts instances per file as OLMo does:
// file_tokens // seq_len, the remainder dropped.
func (s *source) openTokens(paths []string, p openParams, probs *problems) bool {
	// A vocabulary past 2^16 (dolma2's, 100352) does not fit uint16, so such files
	// are uint32 (OLMo's own dolma2 data): read as uint16, every id splits into
	// two ids below the vocabulary, which no check below can tell from data, as
	// the high halves are 0 or 1 (EOS 100257 is 0x187A1), not all 0.
	if p.dtype == Uint16 && p.tok.VocabSize() > 1<<16 {
		probs.add(&InputError{Source: s.spec.Name, Msg: fmt.Sprintf("uint16 cannot hold the ids of tokenizer %s (vocabulary %d), so its token files are not uint16", p.tok.Name(), p.tok.VocabSize()),
			Hint: "drop the uint16 dtype (the source's dtype or dataset.dtype), or make it uint32 (OLMo's dolma2 files, olmolab tokenize's default)"})
		return false
	}
	s.files = make([]*tokenFile, len(paths))
	errs := make([]*InputError, len(paths))
	noEOS := make([]bool, len(paths))  // no EOS in what was read of it
	partly := make([]bool, len(paths)) // of those, one read only in part
	cutEOS := make([]bool, len(paths)) // some, but not at the end
	forEach(len(paths), func(i int) {
		tf, err := openTokenFile(paths[i], p.dtype)
		if err != nil {
			errs[i] = err.(*InputError)
			return
		}
		tf.vocab, tf.tok = uint32(p.tok.VocabSize()), p.tok.Name()
		// Only the head: every id past it is checked when an instance is read (tokenFile.read).
		h, err := tf.scanHead(p.tok.VocabSize(), uint32(p.tok.EOS()))
		if err != nil {
			errs[i] = err.(*InputError)
			tf.close()
			return
		}
		if h.wide {
			errs[i] = &InputError{Path: paths[i],
				Msg:  fmt.Sprintf("every second uint16 is 0: this looks like a file of uint32 ids, which tokenizer %s would read as id, 0, id, 0, …", p.tok.Name()),
				Hint: "set dtype: uint32 on the source (dataset.dtype: uint32 for every source; olmolab tokenize --dtype uint32 writes such files), or retokenize without --dtype"}
			tf.close()
			return
		}
		noEOS[i] = tf.n > 0 && !h.sawEOS
		partly[i] = noEOS[i] && !h.whole
		cutEOS[i] = h.sawEOS && h.last != uint32(p.tok.EOS())
		s.files[i] = tf
	})
	ok := true
	for _, e := range errs {
		if e != nil {
			e.Source = s.spec.Name
			probs.add(e)
			ok = false
		}
	}
	if !ok {
		s.close()
		return false
	}
	// OLMo token files end every document with EOS, so a file without one was
	// written by another tokenizer whose ids happen to fit this vocabulary (a
	// bytes file read as world's), and one that does not end with it was cut
	// short; neither is certain (one long document), so they are warnings.
	if names := pick(paths, noEOS); len(names) > 0 {
		where := "at all"
		if slices.Contains(partly, true) {
			where = fmt.Sprintf("in its first %d KiB", headBytes>>10)
		}
		p.warn(fmt.Sprintf("source %q: %s %s no EOS (id %d of tokenizer %s) %s (%s): OLMo token files end every document with EOS, so %s probably written with another tokenizer; retokenize with olmolab tokenize --tokenizer %s",
			s.spec.Name, plural.N(len(names), "token file"), plural.Verb(len(names), "holds", "hold"), p.tok.EOS(), p.tok.Name(), where, listFew(names), plural.Verb(len(names), "it was", "they were"), p.tok.Name()))
	}
	if names := pick(paths, cutEOS); len(names) > 0 {
		p.warn(fmt.Sprintf("source %q: %s %s not end with EOS (id %d) (%s): cut short, such as a copy or download that stopped? OLMo token files end with a whole document",
			s.spec.Name, plural.N(len(names), "token file"), plural.Verb(len(names), "does", "do"), p.tok.EOS(), listFew(names)))
	}
	s.cum = make([]int64, len(paths)+1)
	var tokens int64
	for i, f := range s.files {
		s.cum[i+1] = s.cum[i] + f.n/int64(p.seqLen)
		tokens += f.n
	}
	// OLMo's cut, file by file, drops less than one sequence a file: nothing
	// to speak of in a few long files, much of a source of many short ones
	if kept := s.instances() * int64(p.seqLen); kept > 0 && 10*(tokens-kept) > tokens {
		p.warn(fmt.Sprintf("source %q: %d of its %d tokens (%.1f%%) are dropped: OLMo cuts each token file into whole sequences of %d tokens and drops the rest, and %s %s short; concatenate them into longer files, or use a shorter sequence_length",
			s.spec.Name, tokens-kept, tokens, 100*float64(tokens-kept)/float64(tokens), p.seqLen, plural.N(len(paths), "file"), plural.Verb(len(paths), "is", "are")))
	}
	s.size = s.instances() * int64(p.seqLen)
	if s.instances() == 0 {
		e := &InputError{Source: s.spec.Name, Msg: fmt.Sprintf("empty: %s with %s %s no complete instance of %d tokens", plural.N(len(paths), "file"), plural.N(int(tokens), "token"), plural.Verb(len(paths), "holds", "hold"), p.seqLen),
			Hint: "OLMo cuts each file into sequence_length chunks and drops the rest; give more data or a shorter sequence_length"}
		if len(paths) == 1 { // name the file
			e.Path = paths[0]
		}
		probs.add(e)
		s.close()
		return false
	}
	return true
}

// pick returns the paths whose flag is set.
func pick(paths []string, flags []bool) []string {
	var out []string
	for i, f := range flags {
		if f {
			out = append(out, paths[i])
		}
	}
	return out
}

// listFew joins the first three names, and says there are more.
func listFew(names []string) string {
	if len(names) <= 3 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:3], ", ") + ", …"
}

// docHeadBytes is how much of each document file (decompressed) a source's scan reads before training, unless the
// whole is needed: a Dolma source of 200 GB would otherwise take hours to start (200 shards of 1.8 MB, 357 MB in
// all, took 12 s on a loaded 2-core machine).
const docHeadBytes = 1 << 20

// lateWarnsPerFile bounds the warnings about malformed lines found past a file's head while training.
const lateWarnsPerFile = 3

// scanDocs reads the head of every document file (docHeadBytes) before training: it finds unreadable and damaged
// files, JSON arrays, malformed lines there (a warning with file:line, at most a few per file), and sources without
// any text. Where the spec is Capped (the caps need the source's tokens) or in strict mode (which promises to stop
// at the first malformed line before training) it reads every file whole, as it once always did. A malformed line
// past the head is warned about when training reads it (lateWarn); damage past it stops the loader there.
func (s *source) scanDocs(p openParams, probs *problems) bool {
	res := make([]scanResult, len(s.docs))
	count := s.spec.Capped() // what the caps are checked against
	whole := count || p.strict
	prog := newCountProgress(s.spec.Name, len(s.docs), count, p.progress)
	forEach(len(s.docs), func(i int) {
		r := &res[i]
		if !count {
			r.scanFile(s.docs[i], p, whole, count)
			return
		}
		// A count is taken from the cache (sizecache.go) where one is kept for the file as it is now; a strict
		// scan of a file with malformed lines reads it again, to stop at the first.
		k, keyed := keyFor(s.docs[i], p.tok.Name())
		if c, ok := cachedCount(k, keyed); ok && !(p.strict && c.Bad > 0) {
			r.docs, r.tokens, r.nbad = c.Docs, c.Tokens, c.Bad
			for _, b := range c.First {
				r.bad = append(r.bad, &InputError{Path: s.docs[i], Line: b.Line, Msg: msgMalformed, Err: errors.New(b.Err)})
			}
			prog.done(0, true)
			return
		}
		r.scanFile(s.docs[i], p, whole, count)
		prog.done(r.read, false)
		if k2, ok := keyFor(s.docs[i], p.tok.Name()); r.fatal == nil && keyed && ok && k2 == k { // unchanged while read
			c := docCount{Docs: r.docs, Tokens: r.tokens, Read: r.read, Bad: r.nbad}
			for _, b := range r.bad {
				c.First = append(c.First, badLine{Line: b.Line, Err: b.Err.Error()})
			}
			keepCount(k, c)
		}
	})
	prog.finish()
	ok := true
	for i, r := range res {
		if r.fatal != nil {
			r.fatal.Source = s.spec.Name
			if p.strict && r.fatal.Msg == msgMalformed {
				r.fatal.Hint = "strict mode stops at the first malformed line; fix the line or drop strict to skip it with a warning"
			}
			probs.add(r.fatal)
			ok = false
			continue
		}
		for _, b := range r.bad {
			p.warn(fmt.Sprintf("source %q: %s:%d: %v; line skipped", s.spec.Name, b.Path, b.Line, b.Err))
		}
		if r.nbad > len(r.bad) {
			where := "in all"
			if r.partly {
				where = fmt.Sprintf("in its first %d MiB", docHeadBytes>>20)
			}
			p.warn(fmt.Sprintf("source %q: %s: %d malformed lines skipped %s", s.spec.Name, s.docs[i], r.nbad, where))
		}
		if r.partly && len(r.bad) > 0 {
			if s.lateBy == nil {
				s.lateBy = map[string][]int{}
			}
			for _, b := range r.bad { // warned about already
				s.lateBy[s.docs[i]] = append(s.lateBy[s.docs[i]], b.Line)
			}
		}
		s.ndocs += r.docs
		s.size += r.tokens
		s.scanned += r.read
		s.partly = s.partly || r.partly
	}
	if ok && s.ndocs == 0 && !s.partly {
		e := &InputError{Source: s.spec.Name, Msg: fmt.Sprintf("empty: %s %s no document with text", plural.N(len(s.docs), "file"), plural.Verb(len(s.docs), "holds", "hold")),
			Hint: `JSON lines need a non-empty "text" field`}
		if len(s.docs) == 1 { // name the file
			e.Path = s.docs[0]
		}
		probs.add(e)
		return false
	}
	return ok
}

// scanRead counts the decompressed bytes every scan at start read, for tests (a later mix's check reads files of
// sources the loader does not keep).
var scanRead atomic.Int64

// scanResult is what scanDocs learns from one document file.
type scanResult struct {
	docs   int64
	tokens int64 // with each document's EOS, where the spec is Capped
	bad    []*InputError
	nbad   int
	fatal  *InputError
	read   int64 // decompressed bytes
	partly bool  // stopped at docHeadBytes
}

// scanFile reads path's documents for scanDocs: its head, or the whole where whole is set, tokenizing each document
// where count is set (the spec is Capped).
func (r *scanResult) scanFile(path string, p openParams, whole, count bool) {
	d, err := openDocs(path)
	if err != nil {
		r.fatal = err.(*InputError)
		return
	}
	defer d.Close()
	defer func() { r.read = d.read; scanRead.Add(d.read) }()
	var ids []int32
	for {
		if !whole && d.read >= docHeadBytes {
			r.partly = true
			return
		}
		doc, err := d.next()
		if err == io.EOF {
			return
		}
		var ie *InputError
		if errors.As(err, &ie) && ie.Msg == msgMalformed {
			r.nbad++
			if len(r.bad) < 3 {
				r.bad = append(r.bad, ie)
			}
			if p.strict {
				r.fatal = ie
				return
			}
			continue
		}
		if err != nil {
			r.fatal = err.(*InputError)
			return
		}
		r.docs++
		if count {
			ids = p.tok.Encode(ids[:0], doc.Text)
			r.tokens += int64(len(ids)) + 1
		}
	}
}

// lateWarn records a warning about a malformed line that training read past what the scan at start read, for
// Loader.TakeWarnings; at most lateWarnsPerFile a file.
func (s *source) lateWarn(e *InputError) {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	if s.lateBy == nil {
		s.lateBy = map[string][]int{}
	}
	said := s.lateBy[e.Path]
	if len(said) >= lateWarnsPerFile || slices.Contains(said, e.Line) { // a later pass reads the line again
		return
	}
	s.lateBy[e.Path] = append(said, e.Line)
	more := ""
	if len(said)+1 == lateWarnsPerFile {
		more = " (the last such warning for this file; its other malformed lines are skipped too)"
	}
	s.late = append(s.late, fmt.Sprintf("source %q: %s:%d: %v; line skipped%s", s.spec.Name, e.Path, e.Line, e.Err, more))
}

func (s *source) close() {
	for _, f := range s.files {
		if f != nil {
			f.close()
		}
	}
	s.files = nil
}

// forEach runs f(0…n-1) on up to GOMAXPROCS goroutines.
func forEach(n int, f func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// checkRatios validates and normalises target ratios. A negative, infinite or missing (NaN) ratio is an error;
// ratios that do not sum to 1 are normalised with one warning; all zero is an error.
func checkRatios(specs []SourceSpec, warn func(string)) ([]float64, error) {
	var probs problems
	sum := 0.0
	for _, s := range specs {
		r := s.TargetRatio
		switch {
		case math.IsNaN(r):
			probs.add(&InputError{Source: s.Name, Msg: "missing target_ratio", Hint: "give every source a target_ratio ≥ 0"})
		case r < 0 || math.IsInf(r, 0):
			probs.add(&InputError{Source: s.Name, Msg: fmt.Sprintf("target_ratio %g is not a finite number ≥ 0", r), Hint: "give a share ≥ 0 (ratios are normalised to sum to 1; 0 leaves the source out)"})
		default:
			sum += r
		}
	}
	if err := probs.err(); err != nil {
		return nil, err
	}
	if sum <= 0 {
		return nil, &InputError{Msg: "every target_ratio is zero", Hint: "give at least one source a positive target_ratio"}
	}
	if math.Abs(sum-1) > 1e-6 {
		warn(fmt.Sprintf("target_ratio values sum to %.6g, not 1; normalising them", sum)) // 5.5, not 5.499999999999999
	}
	out := make([]float64, len(specs))
	for i, s := range specs {
		out[i] = s.TargetRatio / sum
	}
	return out, nil
}
