// Package plural writes counts of things in English, "1 run" and "3 runs",
// for every message of olmolab that counts something (one helper, so that no
// message says "1 runs"). It imports nothing of olmolab: lab, lab/data,
// lab/olmes, lab/sweep, the TUI and the commands all use it.
package plural

import (
	"strconv"
	"strings"
)

// N writes n and the noun, plural unless n is 1: N(1, "run") is "1 run",
// N(0, "file") "0 files", N(2, "pass") "2 passes". The noun's last word is
// the one made plural ("token file" → "token files").
func N(n int, noun string) string {
	return strconv.Itoa(n) + " " + Noun(n, noun)
}

// Noun is the noun alone, plural unless n is 1, for "3 of 4 runs"
// (fmt.Sprintf("%d of %s", 3, N(4, "run")) says the same).
func Noun(n int, noun string) string {
	if n == 1 || noun == "" {
		return noun
	}
	switch {
	case strings.HasSuffix(noun, "s"), strings.HasSuffix(noun, "x"), strings.HasSuffix(noun, "ch"), strings.HasSuffix(noun, "sh"):
		return noun + "es"
	case strings.HasSuffix(noun, "y") && len(noun) > 1 && !strings.ContainsAny(noun[len(noun)-2:len(noun)-1], "aeiou"):
		return noun[:len(noun)-1] + "ies"
	}
	return noun + "s"
}

// Verb is one when n is 1, else many: the verb that agrees with a count,
// as in N(n, "request") + " " + Verb(n, "is", "are") + " longer".
func Verb(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
