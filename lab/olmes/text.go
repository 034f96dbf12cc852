package olmes

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Prompt helpers, ported from oe-eval (oe_eval/tasks/utils.py) so that our requests equal OLMES's byte for byte.

// clozePrompt is make_cloze_prompt: "{prefix}{question}\nAnswer:".
func clozePrompt(question, prefix string) string { return prefix + question + "\nAnswer:" }

// mcqPrompt is make_mcq_prompt with label_prefix " ": "{qprefix}{question}\n{cprefix} A. c0\n B. c1…\nAnswer:".
func mcqPrompt(question string, choices []string, qprefix, cprefix string) string {
	var b strings.Builder
	b.WriteString(qprefix)
	b.WriteString(question)
	b.WriteString("\n")
	b.WriteString(cprefix)
	for i, c := range choices {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteByte(' ')
		b.WriteByte(letters[i])
		b.WriteString(". ")
		b.WriteString(c)
	}
	b.WriteString("\nAnswer:")
	return b.String()
}

const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// letterLabels returns ["A", "B", …] for n choices.
func letterLabels(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = letters[i : i+1]
	}
	return out
}

var (
	hsTitle   = regexp.MustCompile(`\.? \[title\]`)
	hsBracket = regexp.MustCompile(`\[.*?\]`)
)

// hellaswagPre is oe-eval's HellaSwag.preprocess: strip; `\.? \[title\]` → ". "; delete `\[.*?\]`; then one
// pass of "  " → " " (Python's str.replace, non-overlapping, left to right).
func hellaswagPre(s string) string {
	s = pyStrip(s)
	s = hsTitle.ReplaceAllLiteralString(s, ". ")
	s = hsBracket.ReplaceAllLiteralString(s, "")
	return strings.ReplaceAll(s, "  ", " ")
}

// pyIsSpace is Python's str.isspace for one character: Unicode White_Space plus the ASCII separators
// U+001C–U+001F that Python also counts.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyStrip is Python's str.strip() with no argument.
func pyStrip(s string) string { return strings.TrimFunc(s, pyIsSpace) }

// pyRStrip is Python's str.rstrip() with no argument.
func pyRStrip(s string) string { return strings.TrimRightFunc(s, pyIsSpace) }

// pyCapitalize is Python's str.capitalize(): the first character title-cased, the rest lower-cased. HellaSwag's
// ctx_b goes through it (olmes.md D6), so "the Man" becomes "The man". The special cases Python's full case
// mapping has and Go's simple one lacks are handled for the characters that occur in practice.
func pyCapitalize(s string) string {
	if s == "" {
		return s
	}
	r, size := utf8.DecodeRuneInString(s)
	var b strings.Builder
	b.Grow(len(s))
	switch r {
	case 'ß':
		b.WriteString("Ss")
	default:
		b.WriteRune(unicode.ToTitle(r))
	}
	for _, r := range s[size:] {
		switch r {
		case 'İ': // Python lowers U+0130 to "i̇" (i + combining dot above)
			b.WriteString("i\u0307")
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}
