package data

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestExpandGlobs: paths as olmo-cookbook recipes write them: * within one
// directory, ** across any number (none included), {a,b} alternatives, and
// directories expanded to their data files.
func TestExpandGlobs(t *testing.T) {
	dir := t.TempDir()
	// hidden files and directories (a .cache, an editor's or a sync tool's
	// temporary copy) are data of no one's: a wildcard skips them as a shell,
	// Python's glob (OLMo-core's) and a directory source do
	for _, f := range []string{"a.npy", "x/b.npy", "x/y/c.npy", "x/y/c.txt", "x/y/notes.log", "x/logs/run.log", ".h/d.npy", "x/.e.npy", "x/.cache/f.npy"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	for _, c := range []struct {
		pattern string
		want    []string
		err     error
	}{
		{"*.npy", []string{"a.npy"}, nil},
		{"**/*.npy", []string{"a.npy", "x/b.npy", "x/y/c.npy"}, nil},
		{"x/**/*.npy", []string{"x/b.npy", "x/y/c.npy"}, nil},
		{"x/**", []string{"x/b.npy", "x/y/c.npy", "x/y/c.txt"}, nil}, // directories expand to their data files
		{"{a,x/b}.npy", []string{"a.npy", "x/b.npy"}, nil},
		{"**/*.{npy,txt}", []string{"a.npy", "x/b.npy", "x/y/c.npy", "x/y/c.txt"}, nil},
		{"**/none.npy", nil, errNoMatch},
		{"**/*.log", nil, errNoMatch},                                       // ** skips what is not data; nothing is left
		{"x/*", nil, errEmptyDir},                                           // without **, a matched directory without data is an error
		{"x/y/*", []string{"x/y/c.npy", "x/y/c.txt", "x/y/notes.log"}, nil}, // named files are kept (an unknown type is reported by the caller)
		{"x", []string{"x/b.npy", "x/y/c.npy", "x/y/c.txt"}, nil},
		{"x/.*.npy", []string{"x/.e.npy"}, nil}, // named explicitly, a hidden file is taken
		{"x/.cache/*.npy", []string{"x/.cache/f.npy"}, nil},
	} {
		got, err := expand(filepath.Join(dir, c.pattern))
		if err != c.err {
			t.Errorf("%s: error %v, want %v", c.pattern, err, c.err)
			continue
		}
		sort.Strings(got)
		got = compactStrings(got)
		for i := range got {
			got[i], _ = filepath.Rel(dir, got[i])
			got[i] = filepath.ToSlash(got[i])
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.pattern, got, c.want)
		}
	}
}

// TestDataDirectorySkipsNonData: a directory or glob given as a source's
// path stands for its data: a README.md or notes.txt beside JSONL or token
// files is skipped with a warning naming it, not trained on as a document
// (or, beside token files, an error that the source mixes kinds). A file
// named on its own is taken as it is; a directory of text files is text.
// tokenize (docs) also skips token files it finds.
func TestDataDirectorySkipsNonData(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"dolma/a.jsonl", "dolma/b.json.gz", "dolma/README.md", "dolma/sub/notes.txt",
		"tok/part-0.npy", "tok/README.md", "tok/part-0.csv.gz", "books/a.txt", "books/b.md",
		"both/a.jsonl", "both/tok/part-0.npy", "both/README.txt", "npyonly/part-0.npy"} {
		writeFile(t, filepath.Join(dir, f), []byte("x"))
	}
	for _, c := range []struct {
		path          string
		docs          bool
		want, skipped []string
		err           error
	}{
		{"dolma", false, []string{"dolma/a.jsonl", "dolma/b.json.gz"}, []string{"dolma/README.md", "dolma/sub/notes.txt"}, nil},
		{"dolma/*", false, []string{"dolma/a.jsonl", "dolma/b.json.gz"}, []string{"dolma/README.md", "dolma/sub/notes.txt"}, nil},
		{"dolma/**", false, []string{"dolma/a.jsonl", "dolma/b.json.gz"}, []string{"dolma/README.md", "dolma/sub/notes.txt"}, nil},
		{"dolma/README.md", false, []string{"dolma/README.md"}, nil, nil}, // named: taken
		{"tok", false, []string{"tok/part-0.npy"}, []string{"tok/README.md"}, nil},
		{"books", false, []string{"books/a.txt", "books/b.md"}, nil, nil},
		{"both", false, []string{"both/a.jsonl", "both/tok/part-0.npy"}, []string{"both/README.txt"}, nil}, // the caller says it mixes kinds
		{"both", true, []string{"both/a.jsonl"}, []string{"both/README.txt", "both/tok/part-0.npy"}, nil},
		{"npyonly", true, nil, []string{"npyonly/part-0.npy"}, errNoData},
		{"dolma", true, []string{"dolma/a.jsonl", "dolma/b.json.gz"}, []string{"dolma/README.md", "dolma/sub/notes.txt"}, nil},
	} {
		got, skipped, err := expandData(filepath.Join(dir, c.path), c.docs)
		rel := func(fs []string) []string {
			var out []string
			for _, f := range fs {
				r, _ := filepath.Rel(dir, f)
				out = append(out, filepath.ToSlash(r))
			}
			sort.Strings(out)
			return out
		}
		if err != c.err || !slices.Equal(rel(got), c.want) || !slices.Equal(rel(skipped), c.skipped) {
			t.Errorf("%s (docs %v): %v, skipped %v, %v; want %v, skipped %v, %v", c.path, c.docs, rel(got), rel(skipped), err, c.want, c.skipped, c.err)
		}
	}

	// tokenize: the same, with a warning
	var tw warnings
	files, _, err := tokenizeInputs([]string{filepath.Join(dir, "both")}, tw.warn)
	if err != nil || len(files) != 1 || !strings.Contains(tw.joined(), "README.txt") || !strings.Contains(tw.joined(), "part-0.npy") {
		t.Errorf("tokenize inputs %v, %v; warnings %q", files, err, tw.joined())
	}
	if _, _, err := tokenizeInputs([]string{filepath.Join(dir, "npyonly")}, tw.warn); err == nil || !strings.Contains(err.Error(), "npyonly") {
		t.Errorf("tokenize of a token directory: %v", err)
	}

	// the loader: the README's text is not a document, and a warning names it
	var w warnings
	src := filepath.Join(dir, "src")
	writeFile(t, filepath.Join(src, "a.jsonl"), jsonl("abcdefgh", "ijklmnop"))
	writeFile(t, filepath.Join(src, "README.md"), []byte("# how this data was made\n"))
	l := mustLoader(t, LoaderParams{SeqLen: 3, Sources: []SourceSpec{{Name: "web", TargetRatio: 1, Paths: []string{src}}}, Warn: w.warn})
	if docs := l.srcs[0].docs; len(docs) != 1 || filepath.Base(docs[0]) != "a.jsonl" {
		t.Errorf("documents %v, want a.jsonl only", docs)
	}
	if !strings.Contains(w.joined(), `source "web"`) || !strings.Contains(w.joined(), "README.md") {
		t.Errorf("no warning naming the skipped README: %q", w.joined())
	}
	// a token directory with a README trains on its tokens (it was an error: mixed kinds)
	tok := filepath.Join(dir, "tokdir")
	writeTokens(t, filepath.Join(tok, "part-0.npy"), Uint16, seqIDs(64, 200))
	writeFile(t, filepath.Join(tok, "README.md"), []byte("tokenized with dolma2\n"))
	w = warnings{}
	mustLoader(t, LoaderParams{SeqLen: 4, DType: Uint16, Sources: []SourceSpec{{Name: "tok", TargetRatio: 1, Paths: []string{tok}}}, Warn: w.warn})
	if !strings.Contains(w.joined(), "README.md") {
		t.Errorf("no warning naming the skipped README: %q", w.joined())
	}
}
