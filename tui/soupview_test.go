package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/olmolab/olmolab/lab"
)

// Enter on a soup's row in the runs view (the soup, one of its ingredients or
// the averaged soup) shows the soup's details in place of the overlay: its
// ingredients and the soup side by side, the final loss, every task's primary
// score and every validation loss, the best of each row marked. It did
// nothing. esc goes back to the overlay, and a second esc leaves the view.
func TestRunsViewSoupDetails(t *testing.T) {
	o := testOptions(t, 80, 24)
	soupWithValFixture(t, o)
	m := New(o)
	press(m, "2", "j", "j")
	if !m.keys.Open.Enabled() {
		t.Fatal("enter is not enabled on an ingredient's row")
	}
	press(m, "enter")
	checkFrame(t, m, 80, 24)
	requireGolden(t, screen(m))
	if m.mode != modeRuns {
		t.Fatalf("enter on a soup's row left the runs view for %v", m.mode)
	}
	press(m, "esc")
	if s := screen(m); !strings.Contains(s, "loss overlay") || strings.Contains(s, "seed 42") {
		t.Errorf("esc did not bring the overlay back:\n%s", s)
	}
	press(m, "esc")
	if m.mode != modeHome {
		t.Errorf("a second esc: %v, want the recipes and runs", m.mode)
	}
	// at 120×40 every row and the legend
	o = testOptions(t, 120, 40)
	soupWithValFixture(t, o)
	m = New(o)
	press(m, "2", "j", "enter")
	checkFrame(t, m, 120, 40)
	s := screen(m)
	for _, want := range []string{
		"  soup-90 · 2×20.5K tokens from step 90 · esc: back to the overlay",
		"                 seed 42  seed 666      soup",
		"  final loss      2.1000    2.0500◂        –",
		"  arith            0.200     0.210     0.230◂",
		"  val/code          2.10◂     2.11      2.13",
		"  ◂ best of the row: the highest score, the lowest loss",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("120×40: no %q:\n%s", want, s)
		}
	}
	// at 60×16 (the smallest) the rows that do not fit are counted
	o = testOptions(t, 60, 16)
	soupWithValFixture(t, o)
	m = New(o)
	press(m, "2", "j", "enter")
	checkFrame(t, m, 60, 16)
	if s := screen(m); !strings.Contains(s, "  val/web_clean     1.57◂") {
		t.Errorf("60×16: the last row is cut:\n%s", s)
	}
	// a pane too small for every row and column says what it left out
	got := ansi.Strip(strings.Join(m.soupDetails(m.openSoup(), 36, 5), "\n"))
	for _, want := range []string{"                 seed 42      soup", "  final loss      2.1000         –",
		"  arith            0.200     0.230◂", "  … 3 more rows and 1 more ingredie…"} {
		if !strings.Contains(got, want) {
			t.Errorf("36×5: no %q:\n%s", want, got)
		}
	}
}

// Figures that read the same are all the best of their row, and a row whose
// figures all read alike (a tiny soup's: the ingredients and the soup score
// 0.438 on arith) has no mark: ◂ on the first of three equal figures said
// that ingredient was better.
func TestSoupDetailsTies(t *testing.T) {
	m := New(testOptions(t, 80, 24))
	score := func(task string, v float64) []lab.EvalScore {
		return []lab.EvalScore{{Task: "arith", Metric: "acc_raw", Value: 0.4375, Primary: true}, {Task: task, Metric: "acc_raw", Value: v, Primary: true}}
	}
	s := &soupInfo{Name: "soup-40", Report: &lab.SoupReport{FromStep: 40, Tokens: 10240,
		Ingredients: []lab.SoupComponent{{Name: "i1", Seed: 8, FinalLoss: 4.16351, Evals: score("fact", 0.3125)},
			{Name: "i2", Seed: 9, FinalLoss: 4.16349, Evals: score("fact", 0.31249)}},
		Soup: lab.SoupComponent{Name: "soup", Evals: score("fact", 0.30)}}}
	got := ansi.Strip(strings.Join(m.soupDetails(s, 80, 10), "\n"))
	for _, want := range []string{
		"  final loss   4.1635    4.1635         –",
		"  arith         0.438     0.438     0.438 ",
		"  fact          0.312◂    0.312◂    0.300 ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q:\n%s", want, got)
		}
	}
}
