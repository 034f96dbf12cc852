package tui

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
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
	enterSoup(t, m)
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
	press(m, "2", "j")
	enterSoup(t, m)
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
	press(m, "2", "j")
	enterSoup(t, m)
	checkFrame(t, m, 60, 16)
	if s := screen(m); !strings.Contains(s, "  val/web_clean     1.57◂") {
		t.Errorf("60×16: the last row is cut:\n%s", s)
	}
	// the title has no room for its "esc: back to the overlay" there: the
	// help line says it (it said "enter soup details … • ? full help • q
	// quit", the way back nowhere on screen)
	if s := screen(m); strings.Contains(s, "esc: back") || !strings.Contains(lastLine(s), "esc back to the overlay") {
		t.Errorf("60×16: nothing says how to get back to the overlay:\n%s", s)
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

// enterSoup presses enter on a soup's row and delivers what its command
// reads (the run's own evaluation the details compare with).
func enterSoup(t *testing.T, m *Model) {
	t.Helper()
	_, cmd := m.Update(keyMsg("enter"))
	if cmd == nil {
		t.Fatal("enter on a soup's row reads nothing")
	}
	msg, ok := cmd().(soupBaseMsg)
	if !ok {
		t.Fatalf("enter on a soup's row: %T", msg)
	}
	m.Update(msg)
}

// The soup's details show the run's own evaluation beside the soup: the
// natural baseline (did the soup beat the checkpoint it started from?). They
// showed the soup and its ingredients only. The run's evaluation is its
// latest at or before the soup's step, in the same metric as the soup's
// row; an evaluation after the soup, and the soup's own records, are not it.
func TestSoupDetailsShowTheRunsOwnEvaluation(t *testing.T) {
	o := testOptions(t, 120, 40)
	soupWithValFixture(t, o)
	var recs []byte
	add := func(run string, step int, why, task, form, metric string, v float64) {
		b, _ := json.Marshal(lab.EvalRecord{Run: run, Step: int64(step), Why: why, Task: task, Form: form, Metric: metric, Value: v})
		recs = append(append(recs, b...), '\n')
	}
	add("soup-v", 80, "interval", "arith", "rc", "acc_per_char", 0.15)
	add("soup-v", 80, "interval", "val/code", "lm", "ce_loss", 2.2)
	add("soup-v", 90, "before soup", "arith", "rc", "acc_raw", 0.99) // not the row's metric
	add("soup-v", 90, "before soup", "arith", "rc", "acc_per_char", 0.22)
	add("soup-v", 90, "before soup", "world_cloze", "rc", "acc_per_char", 0.47)
	add("soup-v", 90, "before soup", "val/code", "lm", "ce_loss", 2.05)
	add("soup-v", 90, "before soup", "val/web_clean", "lm", "ce_loss", 1.65)
	add("soup-v/soup", 90, "soup", "arith", "rc", "acc_per_char", 0.5)
	add("soup-v", 100, "interval", "arith", "rc", "acc_per_char", 0.9)
	f, err := os.OpenFile(filepath.Join(o.RunsDir, "soup-v", lab.EvalsFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(recs)
	f.Close()
	m := New(o)
	press(m, "2", "j")
	enterSoup(t, m)
	checkFrame(t, m, 120, 40)
	s := screen(m)
	for _, want := range []string{
		"                 seed 42  seed 666      soup   run @90",
		"  final loss      2.1000    2.0500◂        –         –",
		"  arith            0.200     0.210     0.230◂    0.220",
		"  world_cloze      0.450     0.460     0.480◂    0.470",
		"  val/code          2.10      2.11      2.13      2.05◂",
		"  val/web_clean     1.57◂     1.58      1.60      1.65",
		"  run @90: the run's own evaluation (before soup) at the step the soup started from",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q:\n%s", want, s)
		}
	}
	// without the one at the soup's step: the latest before it, so labelled
	b := readSoupBase(filepath.Join(o.RunsDir, "soup-v"), 89)
	if b == nil || b.Step != 80 || b.Why != "interval" || b.Values[scoreKey{task: "arith"}]["acc_per_char"] != 0.15 || b.Values[scoreKey{task: "world_cloze"}] != nil {
		t.Fatalf("the evaluation at or before step 89: %+v", b)
	}
	m.soupBases[m.soupOpen] = b
	got := ansi.Strip(strings.Join(m.soupDetails(m.openSoup(), 120, 40), "\n"))
	for _, want := range []string{"soup   run @80", "  arith            0.200     0.210     0.230◂    0.150",
		"  world_cloze      0.450     0.460     0.480◂        –",
		"  run @80: the run's own latest evaluation (interval) before the soup's step 90"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q:\n%s", want, got)
		}
	}
	// none: said so, and no column
	if b := readSoupBase(filepath.Join(o.RunsDir, "soup-v"), 79); b != nil {
		t.Fatalf("an evaluation at or before step 79: %+v", b)
	}
	m.soupBases[m.soupOpen] = nil
	got = ansi.Strip(strings.Join(m.soupDetails(m.openSoup(), 120, 40), "\n"))
	if !strings.Contains(got, "  run: no evaluation of its own at or before the soup's step 90") || strings.Contains(got, "run @") {
		t.Errorf("no evaluation of the run:\n%s", got)
	}
}

// The soup details key a row by task and split, as the evaluation view and
// the dashboard's eval line do: OLMES scores of one task on two splits (the
// run's own evaluation before its eval.split changed, say) are two rows,
// "arc_easy (test)" and "arc_easy (validation)", never one row that puts a
// test score beside validation ones. A split every row shares is named once,
// in the title. They were grouped by task alone and named no split.
func TestSoupDetailsSplits(t *testing.T) {
	score := func(task, split string, v float64) lab.EvalScore {
		return lab.EvalScore{Task: task, Formulation: "rc", Split: split, Metric: "acc_per_char", Value: v, Primary: true}
	}
	arith := lab.EvalScore{Task: "arith", Formulation: "rc", Metric: "acc_per_char", Value: 0.2, Primary: true}
	for _, c := range []struct {
		name       string
		ing2       string // the second ingredient's split
		runSplit   string // the split of the run's own evaluation
		head       string // the title's
		want, dont []string
	}{
		{"one split", "validation", "validation", " (validation split)", []string{
			"  soup-40 · 2×10.2K tokens from step 40 (validation split)  ", // the help line says esc at 80 columns
			"  arc_easy      0.300     0.310     0.330◂    0.250",
			"  arith         0.200◂    0.200◂    0.200◂    0.150",
		}, []string{"(test)", "arc_easy ("}},
		{"the run's on another split", "validation", "test", "", []string{
			"  arc_easy (test)              –         –         –     0.250",
			"  arc_easy (validation)    0.300     0.310     0.330◂        –",
			"  arith                    0.200◂    0.200◂    0.200◂    0.150",
		}, []string{"split) ·"}},
		{"ingredients on two splits", "test", "validation", "", []string{
			"  arc_easy (test)              –     0.310         –         –",
			"  arc_easy (validation)    0.300         –     0.330◂    0.250",
		}, []string{"split) ·"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := testOptions(t, 80, 24)
			m := New(o)
			runDir := filepath.Join(o.RunsDir, "r")
			dir := filepath.Join(runDir, "soups", "soup-40")
			var recs []byte
			for _, r := range []lab.EvalRecord{
				{Run: "r", Step: 40, Why: "before soup", Task: "arc_easy", Form: "rc", Split: c.runSplit, Metric: "acc_per_char", Value: 0.25, Primary: true},
				{Run: "r", Step: 40, Why: "before soup", Task: "arith", Form: "rc", Metric: "acc_per_char", Value: 0.15, Primary: true},
			} {
				b, _ := json.Marshal(r)
				recs = append(append(recs, b...), '\n')
			}
			if err := os.MkdirAll(runDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(runDir, lab.EvalsFile), recs, 0o644); err != nil {
				t.Fatal(err)
			}
			s := &soupInfo{Name: "soup-40", Dir: dir, Report: &lab.SoupReport{FromStep: 40, Tokens: 10240,
				Ingredients: []lab.SoupComponent{
					{Name: "i1", Seed: 8, FinalLoss: 2, Evals: []lab.EvalScore{score("arc_easy", "validation", 0.30), arith}},
					{Name: "i2", Seed: 9, FinalLoss: 2, Evals: []lab.EvalScore{score("arc_easy", c.ing2, 0.31), arith}}},
				Soup: lab.SoupComponent{Name: "soup", Evals: []lab.EvalScore{score("arc_easy", "validation", 0.33), arith}}}}
			m.soupBases = map[string]*soupBase{dir: readSoupBase(runDir, 40)}
			got := ansi.Strip(strings.Join(m.soupDetails(s, 80, 12), "\n"))
			for _, want := range c.want {
				if !strings.Contains(got, want) {
					t.Errorf("no %q:\n%s", want, got)
				}
			}
			for _, dont := range c.dont {
				if strings.Contains(got, dont) {
					t.Errorf("%q:\n%s", dont, got)
				}
			}
			// wide enough, the title keeps its esc
			if got := ansi.Strip(m.soupDetails(s, 120, 12)[0]); !strings.Contains(got, "from step 40"+c.head+" · esc: back to the overlay") {
				t.Errorf("120 columns: %q", got)
			}
		})
	}
}

// lastLine is a screen's last line, its help line.
func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndex(s, "\n")+1:]
}

// A seed of five digits (OLMo 2's 42069) did not fit its ingredient's
// column in the soup details: the header read "seed 420…", which is not
// the seed. The column is as wide as its header needs.
func TestSoupDetailsLongSeedWhole(t *testing.T) {
	o := testOptions(t, 80, 24)
	rec := testRecipe(t)
	dir := filepath.Join(o.RunsDir, "soup-b")
	evs := syntheticSoupRun("soup-b", rec)
	for _, e := range evs {
		if e.Soup != nil {
			e.Soup.Ingredients[1].Seed = 42069
		}
	}
	writeRunDir(t, dir, rec, evs)
	writeSoupFiles(t, dir, evs)
	m := New(o)
	press(m, "2", "j")
	enterSoup(t, m)
	checkFrame(t, m, 80, 24)
	s := screen(m)
	if head := lineWith(s[strings.Index(s, "soup-90 ·"):], "seed 42"); !regexp.MustCompile(`seed 42 +seed 42069 +soup`).MatchString(head) {
		t.Errorf("header %q, want seed 42, seed 42069 and the soup whole:\n%s", head, s)
	}
}
