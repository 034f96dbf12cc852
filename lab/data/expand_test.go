package data

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

// TestExpandGlobs: paths as olmo-cookbook recipes write them: * within one
// directory, ** across any number (none included), {a,b} alternatives, and
// directories expanded to their data files.
func TestExpandGlobs(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.npy", "x/b.npy", "x/y/c.npy", "x/y/c.txt", "x/y/notes.log", "x/logs/run.log"} {
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
