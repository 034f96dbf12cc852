package bpe

import (
	"slices"
	"strings"
	"testing"
)

func split(s string) []string {
	var out []string
	Split(s, func(p string) { out = append(out, p) })
	return out
}

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Hello world", []string{"Hello", " world"}},
		{"a  b", []string{"a", " ", " b"}},
		{"x = 12 + 3;", []string{"x", " =", " 12", " +", " 3", ";"}},
		{"12345", []string{"123", "45"}},
		{"Q: Why?\nA: Kelmon\n\n", []string{"Q", ":", " Why", "?", "\n", "A", ":", " Kelmon", "\n\n"}},
		{"    return a", []string{"   ", " return", " a"}},
		{"end  ", []string{"end", "  "}},
		{"café 🙂", []string{"café", " 🙂"}},
		{"", nil},
	}
	for _, tc := range tests {
		if got := split(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzSplitAndEncode(f *testing.F) {
	m := Train([]string{"the cat sat on the mat", "the theme of the thesis", "1 + 2 = 3"}, 300)
	for _, s := range []string{"Hello world", "  \n\t x", "\xff\xfe", strings.Repeat("a", 200), "x = 1 + 22"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var parts []string
		Split(s, func(p string) {
			if p == "" || len(p) > MaxPiece {
				t.Fatalf("piece %q", p)
			}
			parts = append(parts, p)
		})
		if strings.Join(parts, "") != s {
			t.Fatalf("pieces %q do not rebuild %q", parts, s)
		}
		if got := string(m.Decode(nil, m.Encode(nil, s))); got != s {
			t.Fatalf("round trip %q → %q", s, got)
		}
	})
}

func TestTrainDeterministicAndParse(t *testing.T) {
	texts := []string{"the cat sat on the mat", "the theme of the thesis", "then the three thin things", "1 + 2 = 3"}
	a, b := Train(texts, 280), Train(texts, 280)
	if !slices.Equal(a.Merges, b.Merges) || len(a.Merges) == 0 {
		t.Fatalf("training is not deterministic or learned nothing: %v vs %v", a.Merges, b.Merges)
	}
	if got := string(a.Token(256)); got != "th" {
		t.Errorf("first merge %q, want the most frequent pair \"th\"", got)
	}
	raw, _ := a.MarshalText()
	c, err := Parse(raw)
	if err != nil || !slices.Equal(c.Merges, a.Merges) {
		t.Fatalf("Parse(MarshalText) = %v, %v", c, err)
	}
	ids := a.Encode(nil, " the thesis")
	if len(ids) >= len(" the thesis") {
		t.Errorf("no compression: %v", ids)
	}
	for _, bad := range []string{"", "olmolab-bpe v1\n1\n", "olmolab-bpe v1\n1 x\n", "olmolab-bpe v1\n300 1\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
