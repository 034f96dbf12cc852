package tui

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// countInput writes a token count for an input field so that it reads back
// exactly: 400K, 1M, or the plain number (humanCount rounds).
func countInput(n int64) string {
	switch {
	case n > 0 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n > 0 && n%1000 == 0:
		return fmt.Sprintf("%dK", n/1000)
	}
	return strconv.FormatInt(n, 10)
}

// shortCount is humanCount without trailing zeros, for axis labels.
func shortCount(x float64) string {
	a := math.Abs(x)
	trim := func(s string) string {
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s
	}
	switch {
	case a >= 1e9:
		return trim(fmt.Sprintf("%.2f", x/1e9)) + "B"
	case a >= 1e6:
		return trim(fmt.Sprintf("%.2f", x/1e6)) + "M"
	case a >= 1e3:
		return trim(fmt.Sprintf("%.1f", x/1e3)) + "K"
	}
	return trim(fmt.Sprintf("%.0f", x))
}

// parseCount reads a token count as recipes write it: 400000, 400K, 0.4M, 1.3e6.
func parseCount(s string) (int64, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "_", ""))
	mult := 1.0
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, s = 1e3, s[:n-1]
		case 'm', 'M':
			mult, s = 1e6, s[:n-1]
		case 'b', 'B', 'g', 'G':
			mult, s = 1e9, s[:n-1]
		case 't', 'T':
			mult, s = 1e12, s[:n-1]
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, fmt.Errorf("%q is not a count (e.g. 400K, 1.3M)", s)
	}
	return int64(math.Round(f * mult)), nil
}

// fmtY writes an axis or status value in at most about 7 characters.
func fmtY(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "–"
	case v == 0:
		return "0"
	case a >= 1e4 || a < 1e-3:
		// 7.8e-4 rather than Go's 7.8e-04: axis labels have 6 cells
		exp := int(math.Floor(math.Log10(a)))
		mant := v / math.Pow(10, float64(exp))
		if math.Abs(mant) >= 9.95 {
			mant, exp = mant/10, exp+1
		}
		s := fmt.Sprintf("%.1fe%d", mant, exp)
		if len(s) > 6 {
			s = fmt.Sprintf("%.0fe%d", mant, exp)
		}
		return s
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 0.995: // two significant digits would round it to "1"
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a >= 0.0995:
		// two decimals, a trailing zero kept: a loss of 0.80 read "0.8"
		// beside "0.79" a step later, and axis labels "0.7" above "0.57"
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

// fmtZ writes a z-score with its sign.
func fmtZ(z float64) string {
	if math.IsNaN(z) || z == 0 {
		return "z –"
	}
	return fmt.Sprintf("z%+.1f", z)
}

// fmtPct writes a 0..1 share as a percentage.
func fmtPct(x float64) string {
	if x <= 0 || math.IsNaN(x) {
		return "–"
	}
	if x < 0.1 {
		// a decimal where it says something (2.5%), not "qa 5.0%"
		// beside "web_noisy 60%"
		return strings.TrimSuffix(fmt.Sprintf("%.1f", 100*x), ".0") + "%"
	}
	return fmt.Sprintf("%.0f%%", 100*x)
}

// fmtScore writes an evaluation value.
func fmtScore(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.3f", v)
}

var wordRe = regexp.MustCompile(`( *)([^ ]+)`)

// wrapText breaks a line of plain text into lines of at most w cells, at
// spaces only (not at the hyphens of a flag or a path; a word longer than w
// is cut). A line that starts with spaces keeps them on every line it
// becomes, so an indented command or list stays indented; a line of a key
// and its meaning ("d    detach: …", "esc  cancel") continues under the
// meaning, not under the key.
func wrapText(s string, w int) []string {
	body := strings.TrimLeft(s, " ")
	indent := s[:len(s)-len(body)]
	w = max(w-len(indent), 1)
	if ansi.StringWidth(body) <= w {
		return []string{s}
	}
	hang := ""
	if k := ansi.StringWidth(hangRe.FindString(body)); k > 0 && k <= w/3 { // cells: a key may be "↑/↓"
		hang = strings.Repeat(" ", k)
	}
	var out []string
	line, lw := "", 0
	room := w // the first line's; the others' leave the hang
	flush := func(l string) {
		if len(out) == 0 {
			out = append(out, indent+l)
		} else {
			out = append(out, indent+hang+l)
		}
		room = w - len(hang)
	}
	// words with the spaces before them, so that a line keeps its own
	// spacing ("s    stop: …") where it is not broken
	for _, m := range wordRe.FindAllStringSubmatch(body, -1) {
		gap, word := m[1], m[2]
		ww := ansi.StringWidth(word)
		switch {
		case lw > 0 && lw+len(gap)+ww <= room:
			line, lw = line+gap+word, lw+len(gap)+ww
			continue
		case lw > 0:
			flush(line)
		}
		line, lw = word, ww
		for lw > room { // a word wider than the line: cut it
			flush(ansi.Cut(line, 0, room))
			line = ansi.Cut(line, room, lw)
			lw = ansi.StringWidth(line)
		}
	}
	flush(line)
	return out
}

// hangRe is the key of a "key  meaning" line: a short word and two spaces
// or more.
var hangRe = regexp.MustCompile(`^[^ ]{1,6}  +`)
