package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestTypoSuggests: a mistyped command, front-end flag or shipped recipe
// name gets a "did you mean" line; `olmolab evl` and `olmolab --batch
// quickstar` said only that there was no such thing. A name near none gets
// no guess.
func TestTypoSuggests(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // "" for no HINT line
	}{
		{[]string{"evl"}, "HINT: did you mean eval?\n"},
		{[]string{"swep", "x"}, "HINT: did you mean sweep?\n"},
		{[]string{"tokenise"}, "HINT: did you mean tokenize?\n"},
		{[]string{"--bach", "quickstart"}, "HINT: did you mean --batch?\n"},
		{[]string{"--batch", "quickstar"}, "\nHINT: did you mean quickstart?\n"},
		{[]string{"--batch", "anneal_soop.yaml"}, "\nHINT: did you mean anneal_soup?\n"},
		{[]string{"sweep", "quickstrat", "--seeds", "2", "--local"}, "\nHINT: did you mean quickstart?\n"},
		{[]string{"xyzzy"}, ""},
		{[]string{"--batch", "no-such-recipe"}, ""},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != exitBadInput {
			t.Errorf("%v: exit %d, want %d\n%s", c.args, code, exitBadInput, errb.String())
		}
		if c.want == "" {
			if strings.Contains(errb.String(), "did you mean") {
				t.Errorf("%v: a guess for a name near none:\n%s", c.args, errb.String())
			}
		} else if !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: stderr lacks %q:\n%s", c.args, c.want, errb.String())
		}
	}
}
