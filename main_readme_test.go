package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// readmeLines is README.md's lines, less those inside code fences (a `#`
// there is a comment, not a heading).
func readmeLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fence := false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "```") {
			fence = !fence
			l = ""
		}
		if fence {
			l = ""
		}
		out = append(out, l) // blanked, so that indices stay line numbers
	}
	return out
}

// githubAnchor is the anchor GitHub gives a heading: lower case, spaces to
// hyphens, punctuation other than hyphens and underscores dropped.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestReadmeAnchorsResolve: every in-page link of README.md, `](#anchor)`,
// names one of its headings, so that moving or renaming a section cannot
// leave a link that goes nowhere.
func TestReadmeAnchorsResolve(t *testing.T) {
	lines := readmeLines(t)
	anchors := map[string]int{}
	for _, l := range lines {
		if h, ok := strings.CutPrefix(strings.TrimLeft(l, "#"), " "); ok && strings.HasPrefix(l, "#") {
			a := githubAnchor(h)
			if n := anchors[a]; n > 0 { // GitHub numbers a repeated heading's anchor
				anchors[a+"-"+string(rune('0'+n))] = 1
			}
			anchors[a]++
		}
	}
	if anchors["the-run-directory"] == 0 || anchors["which-evaluations-can-tell-runs-apart-signal-to-noise"] == 0 {
		t.Fatalf("headings read wrongly: %v", anchors)
	}
	links := 0
	for i, l := range lines {
		for _, m := range regexp.MustCompile(`\]\(#([^)]*)\)`).FindAllStringSubmatch(l, -1) {
			links++
			if anchors[m[1]] == 0 {
				t.Errorf("README.md:%d: link to #%s, which no heading has", i+1, m[1])
			}
		}
	}
	if links < 10 {
		t.Errorf("only %d in-page links found", links)
	}
}

// TestReadmeDefinesBeforeUse: past the quickstart, a term is first used in
// the section that defines it or after it. "Beyond one machine" used
// mixes, target_ratio and mix_schedule, which "Recipes" defines after it;
// "Headless runs" and "Evaluating a checkpoint" used metrics.jsonl,
// state.json and olmolab.pid, which "The run directory" defined near the
// end.
func TestReadmeDefinesBeforeUse(t *testing.T) {
	lines := readmeLines(t)
	heading := map[string]int{} // a level-2 heading's line
	var order []int
	for i, l := range lines {
		if h, ok := strings.CutPrefix(l, "## "); ok {
			heading[h] = i
			order = append(order, i)
		}
	}
	// section is the line of the level-2 heading line i is under
	section := func(i int) int {
		s := -1
		for _, h := range order {
			if h <= i {
				s = h
			}
		}
		return s
	}
	start, ok := heading["The interactive lab"]
	if !ok {
		t.Fatal(`no "## The interactive lab"`)
	}
	for _, c := range []struct{ term, definedIn string }{
		{"`mixes`", "Recipes"},
		{"target_ratio", "Recipes"},
		{"mix_schedule", "Recipes"},
		{"`metrics.jsonl`", "The run directory"},
		{"`state.json`", "The run directory"},
		{"`olmolab.pid`", "The run directory"},
	} {
		def, ok := heading[c.definedIn]
		if !ok {
			t.Fatalf("no section %q", c.definedIn)
		}
		for i := start; i < len(lines); i++ {
			if strings.Contains(lines[i], c.term) {
				if s := section(i); s < def {
					t.Errorf("README.md:%d: %s is used under %q, before %q defines it", i+1, c.term, strings.TrimPrefix(lines[s], "## "), c.definedIn)
				}
				break
			}
		}
	}
}
