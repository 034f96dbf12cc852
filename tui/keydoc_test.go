package tui

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keyTable is the key table of docs/tui.md, generated from the KeyMap.
func keyTable() string {
	var b strings.Builder
	b.WriteString("| group | key | does |\n|---|---|---|\n")
	k := DefaultKeyMap()
	for i, g := range k.FullHelp() {
		for _, kb := range g {
			fmt.Fprintf(&b, "| %s | `%s` | %s |\n", helpGroupNames[i], kb.Help().Key, kb.Help().Desc)
		}
	}
	return b.String()
}

// TestDocsKeyTable keeps the README key table (docs/tui.md) the KeyMap's;
// go test -update rewrites it.
func TestDocsKeyTable(t *testing.T) {
	path := filepath.Join(pkgDir, "..", "docs", "tui.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skip("no docs/tui.md")
	}
	const begin, end = "<!-- keys: generated from tui.DefaultKeyMap by go test ./tui -update -->\n", "<!-- /keys -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the key table markers", path)
	}
	want := keyTable()
	if got := s[i+len(begin) : j]; got != want {
		if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
			os.WriteFile(path, []byte(s[:i+len(begin)]+want+s[j:]), 0o644)
			return
		}
		t.Errorf("docs/tui.md's key table is not the KeyMap's (go test ./tui -update):\n%s", want)
	}
}
