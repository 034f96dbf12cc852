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

// The help line keeps "? full help • q quit" at its end however many keys
// apply: cut from the end, at 80 columns the dashboard's line of a training
// run ended "v evaluate now • space pause training …", saying neither how to
// see the other keys nor how to leave.
func TestHelpLineKeepsHelpAndQuit(t *testing.T) {
	for _, w := range []int{60, 80, 120} {
		m, _ := liveModel(t, testOptions(t, w, 24), stage1Events("quickstart-test"))
		for _, view := range []string{"1", "2", "3"} {
			press(m, view)
			checkFrame(t, m, w, 24)
			lines := strings.Split(screen(m), "\n")
			help := lines[len(lines)-2]
			if !strings.HasSuffix(help, "? full help • q quit") {
				t.Errorf("%d columns, view %s: the help line %q does not end with ? and q", w, view, help)
			}
		}
	}
}

// In the runs view enter on a run opens its dashboard, and the help line
// says so: it said "open / launch", as on the recipes, though nothing
// launches there.
func TestRunsViewEnterSaysWhatItDoes(t *testing.T) {
	o := testOptions(t, 100, 24)
	runsFixture(t, o)
	m := New(o)
	press(m, "2")
	lines := strings.Split(screen(m), "\n")
	if help := lines[len(lines)-2]; !strings.HasPrefix(help, "enter open its dashboard • ") {
		t.Errorf("help line %q", help)
	}
	press(m, "j", "j") // the soup's line
	lines = strings.Split(screen(m), "\n")
	if help := lines[len(lines)-2]; !strings.HasPrefix(help, "enter soup details • ") {
		t.Errorf("on a soup: help line %q", help)
	}
}
