package tui

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/olmes"
	"github.com/olmolab/olmolab/lab/sweep"
)

// At 80 columns the evaluation view shows the validation loss's primary
// metric (ce) of a run whose tasks record every metric (quickstart's): the
// validation losses are a table of their own, with only their columns,
// after the tasks' six, which once pushed ce past the edge ("val/code lm
// – – – – 1.595 …").
func TestEvalViewValidationLossFits80Columns(t *testing.T) {
	o := testOptions(t, 80, 24)
	rec := testRecipe(t)
	dir := filepath.Join(o.RunsDir, "qs")
	writeRunDir(t, dir, rec, syntheticRun("qs", rec))
	var out []byte
	add := func(task, form, metric string, v float64, primary bool) {
		b, _ := json.Marshal(lab.EvalRecord{Run: "qs", Step: 120, Tokens: 120 * testGB, Phase: "anneal", Why: "final", Task: task, Form: form,
			Metric: metric, Value: v, Primary: primary, Time: t0})
		out = append(append(out, b...), '\n')
	}
	for _, task := range []string{"arith", "fact_qa_seen"} {
		for i, mt := range []string{olmes.MetricAccRaw, olmes.MetricAccPerToken, olmes.MetricAccPerChar, olmes.MetricAccPerByte,
			olmes.MetricBPB, olmes.MetricAccUncond} {
			add(task, "rc", mt, 0.3+0.01*float64(i), mt == olmes.MetricAccPerChar)
		}
	}
	add("val/code", "lm", olmes.MetricCELoss, 1.595, true)
	add("val/code", "lm", olmes.MetricBitsPerByte, 0.871, false)
	if err := os.WriteFile(filepath.Join(dir, lab.EvalsFile), out, 0o644); err != nil {
		t.Fatal(err)
	}
	m := New(o)
	m.Update(m.openRun(dir)())
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	checkFrame(t, m, 80, 24)
	s := screen(m)
	for _, want := range []string{
		// the tasks' six columns do not fit: the last is cut, as before
		"  task               form       acc   acc/tok  acc/char  acc/byte    uncond    …",
		"  arith              rc       0.300     0.310    0.320*     0.330     0.350    …",
		"  validation loss    form        ce       bpb\n  val/code           lm      1.595*     0.871\n",
		"  * primary metric · bpb, ce (validation loss, val/…): lower is better",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("view lacks %q:\n%s", want, s)
		}
	}
}

// The signal-to-noise table writes every metric whole where the width
// allows: its metric column was 14 cells at any width, which cut
// "logits_per_token_corr" and "logits_per_char_corr" to "logits_per_to…" and
// "logits_per_ch…", and "bits_per_byte_corr" to "bits_per_byte…", which
// reads as the validation loss's bits_per_byte. At 80 columns the longest
// metric fits beside the longest built-in task.
func TestSNRMetricNamesWhole(t *testing.T) {
	for _, w := range []int{80, 200} {
		o := testOptions(t, w, 40)
		rec := testRecipe(t)
		for i, run := range []string{"a", "b"} {
			dir := filepath.Join(o.RunsDir, run)
			writeRunDir(t, dir, rec, syntheticRun(run, rec))
			var out []byte
			for k, step := range []int64{20, 40, 60, 80, 100} {
				for j, x := range []struct{ task, form, metric string }{
					{"fact_qa_heldout", "rc", olmes.MetricAccPerChar}, {"fact_qa_heldout", "rc", "logits_per_token_corr"},
					{"fact_qa_heldout", "rc", "logits_per_char_corr"}, {"fact_qa_heldout", "rc", olmes.MetricBPB},
					{"val/web_noisy", "lm", olmes.MetricBitsPerByte}, {"val/web_noisy", "lm", olmes.MetricCELoss},
				} {
					b, _ := json.Marshal(lab.EvalRecord{Run: run, Step: step, Tokens: step * testGB, Why: "interval", Task: x.task, Form: x.form,
						Metric: x.metric, Value: 1 + 0.1*float64(j) + 0.3*float64(i) + 0.01*float64(k%2), Time: t0})
					out = append(append(out, b...), '\n')
				}
			}
			if err := os.WriteFile(filepath.Join(dir, lab.EvalsFile), out, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		m := New(o)
		m.Update(m.openRun(filepath.Join(o.RunsDir, "a"))())
		m.Update(keyMsg("3"))
		m.Update(m.loadEvals()())
		checkFrame(t, m, w, 40)
		s := screen(m)
		for _, want := range []string{
			"  fact_qa_heldout rc   logits_per_token_corr ", "  fact_qa_heldout rc   logits_per_char_corr  ",
			"  fact_qa_heldout rc   bits_per_byte_corr    ", "  val/web_noisy   lm   bits_per_byte         ",
		} {
			if !strings.Contains(s, want) {
				t.Errorf("%d columns: no row %q:\n%s", w, want, s)
			}
		}
	}
}

// A task one of the compared runs evaluated once has no noise to measure
// (one checkpoint per run): its rows show "–", not a noise of 0 and an SNR
// of inf that headed the table (as every row did with a finished tuicheck
// run among the runs compared), and come after the measured rows, with a
// line that says why.
func TestSNRUnmeasuredNoise(t *testing.T) {
	o := testOptions(t, 80, 24)
	rec := testRecipe(t)
	for i, run := range []string{"a", "b"} {
		dir := filepath.Join(o.RunsDir, run)
		writeRunDir(t, dir, rec, syntheticRun(run, rec))
		var out []byte
		for k, step := range []int64{20, 40, 60, 80, 100} {
			for _, task := range []string{"arith", "fact_qa_seen"} {
				if task == "arith" && run == "b" && step < 100 {
					continue // b evaluated arith at its end only
				}
				b, _ := json.Marshal(lab.EvalRecord{Run: run, Step: step, Tokens: step * testGB, Why: "interval", Task: task, Form: "rc",
					Metric: olmes.MetricAccRaw, Value: 0.3 + 0.1*float64(i) + 0.01*float64(k%2), Time: t0})
				out = append(append(out, b...), '\n')
			}
		}
		if err := os.WriteFile(filepath.Join(dir, lab.EvalsFile), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := New(o)
	m.Update(m.openRun(filepath.Join(o.RunsDir, "a"))())
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	checkFrame(t, m, 80, 24)
	s := screen(m)
	if strings.Contains(s, "inf") {
		t.Errorf("an SNR of inf on screen:\n%s", s)
	}
	fact, arith := strings.Index(s, "  fact_qa_seen rc   acc_raw "), strings.Index(s, "  arith        rc   acc_raw ")
	if fact < 0 || arith < 0 || arith < fact {
		t.Fatalf("want the measured fact_qa_seen row, then arith's:\n%s", s)
	}
	if l := lineWith(s[arith:], "arith"); !strings.HasSuffix(l, "–        –        –") {
		t.Errorf("arith's noise, SNR and avg SNR are not \"–\": %q", l)
	}
	if !strings.Contains(s, "– 1 of 2 rows: a run has one evaluation of them, so no noise to measure") {
		t.Errorf("no line saying why:\n%s", s)
	}
}

// Scores of a task on different splits are not one measurement: the
// latest scores name the split (once in the head, or after each task when
// they differ, as the dashboard's eval line does), and the SNR table has a
// row per split, as olmolab snr has (olmes.SNRTable.TaskName), with a line
// saying which runs have which split. b's eval.split changed from
// validation to test after step 60; a scored validation throughout.
func TestEvalViewSplits(t *testing.T) {
	o := testOptions(t, 80, 30)
	rec := testRecipe(t)
	for i, run := range []string{"a", "b"} {
		dir := filepath.Join(o.RunsDir, run)
		writeRunDir(t, dir, rec, syntheticRun(run, rec))
		var out []byte
		add := func(step int64, task, split string, v float64) {
			b, _ := json.Marshal(lab.EvalRecord{Run: run, Step: step, Tokens: step * testGB, Why: "interval", Task: task, Form: "rc", Split: split,
				Metric: olmes.MetricAccPerChar, Value: v, Time: t0})
			out = append(append(out, b...), '\n')
		}
		for k, step := range []int64{20, 40, 60, 80, 100} {
			split := "validation"
			if run == "b" && step > 60 {
				split = "test"
				add(step, "piqa", "validation", 0.6)
			}
			add(step, "arc_easy", split, 0.3+0.1*float64(i)+0.01*float64(k%2))
			add(step, "arith", "", 0.2+0.1*float64(i)+0.01*float64(k%2))
		}
		if err := os.WriteFile(filepath.Join(dir, lab.EvalsFile), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := New(o)
	m.Update(m.openRun(filepath.Join(o.RunsDir, "b"))())
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	checkFrame(t, m, 80, 30)
	s := screen(m)
	for _, want := range []string{
		"latest scores · b  step 100 (interval)\n",
		"  arc_easy (test)    rc   ",
		"  piqa (validation)  rc   ",
		"  arc_easy (validation) rc   acc_per_char ",
		"  different splits: arc_easy on test (b) and validation (", // (a, b) or (b, a): the runs view's order
	} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q:\n%s", want, s)
		}
	}
	if !strings.Contains(s[strings.Index(s, "signal to noise"):], "  arith                 rc   acc_per_char ") {
		t.Errorf("arith's SNR row (no split) is not named as before:\n%s", s)
	}
	m.Update(m.openRun(filepath.Join(o.RunsDir, "a"))())
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	s = screen(m)
	if !strings.Contains(s, "latest scores · a  step 100 (interval; validation split)") || !strings.Contains(s, "  arc_easy           rc   ") {
		t.Errorf("one split: not said once in the head:\n%s", s)
	}
}

// runCmds runs cmd and what its batches hold, feeding the model the
// evaluation view's data they read (the commands here return at once).
func runCmds(m *Model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			runCmds(m, c)
		}
	case evalsLoadedMsg:
		m.Update(msg)
	}
}

// The evaluation view open while a run finishes shows the run's final
// evaluation: it arrives in the frame that ends the run, whose events were
// folded in without reading the view's data again, so the view kept saying
// "no evaluations recorded yet" after the run had been evaluated.
func TestEvalViewFollowsTheFinalEvaluation(t *testing.T) {
	m, f := liveModel(t, testOptions(t, 80, 24), stage1Events("quickstart-test"))
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	if s := screen(m); !strings.Contains(s, "no evaluations recorded yet") {
		t.Fatalf("before the final evaluation:\n%s", s)
	}
	// the lab writes evals.jsonl, then publishes the evaluation and the end
	ev := lab.Event{Type: lab.EvEval, Time: t0.Add(5 * time.Second), Run: f.name, Step: 40, Tokens: 40 * testGB, Phase: "stage1", Message: "final",
		Evals: []lab.EvalScore{{Task: "arith", Formulation: "rc", Metric: olmes.MetricAccRaw, Value: 0.25, Primary: true}}}
	b, _ := json.Marshal(lab.EvalRecord{Run: f.name, Step: 40, Tokens: 40 * testGB, Phase: "stage1", Why: "final", Task: "arith", Form: "rc",
		Metric: olmes.MetricAccRaw, Value: 0.25, Primary: true, Time: ev.Time})
	if err := os.WriteFile(filepath.Join(f.dir, lab.EvalsFile), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	done := lab.Event{Type: lab.EvDone, Time: ev.Time, Run: f.name, Step: 40, Tokens: 40 * testGB, State: "finished"}
	_, cmd := m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{ev, done}, done: true})
	runCmds(m, cmd)
	s := screen(m)
	if !strings.Contains(s, "latest scores · quickstart-test  step 40 (final)") || !strings.Contains(s, "  arith              rc      0.250*") {
		t.Errorf("the evaluation view does not show the final evaluation:\n%s", s)
	}
}

// A run that ended with its recipe's soup ends with the soup's weights:
// summary.json and the dashboard give the soup's scores, and so does the
// evaluation view, not the scores before the soup (the run's last records of
// its own name). A soup made with s is a side job, after which the run goes
// on with its own weights: there the view keeps the run's own scores.
func TestEvalViewRunEndedWithSoup(t *testing.T) {
	for _, c := range []struct {
		name, summary, want string
	}{
		{"planned soup", `{"state":"finished","steps":90,"soup":{"from_step":90}}`, "step 90 (soup)"},
		{"side soup, then stopped", `{"state":"stopped","steps":95,"soup":{"from_step":90}}`, "step 90 (before soup)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := testOptions(t, 80, 24)
			rec := testRecipe(t)
			dir := filepath.Join(o.RunsDir, "s")
			writeRunDir(t, dir, rec, syntheticRun("s", rec))
			var out []byte
			for _, x := range []struct {
				run, why string
				v        float64
			}{{"s", "before soup", 0.2}, {"s/ingredient-1-seed-42", "soup ingredient", 0.15}, {"s/soup", "soup", 0.127}} {
				b, _ := json.Marshal(lab.EvalRecord{Run: x.run, Step: 90, Tokens: 90 * testGB, Why: x.why, Task: "arith", Form: "rc",
					Metric: olmes.MetricAccRaw, Value: x.v, Primary: true, Time: t0})
				out = append(append(out, b...), '\n')
			}
			os.WriteFile(filepath.Join(dir, lab.EvalsFile), out, 0o644)
			os.WriteFile(filepath.Join(dir, lab.SummaryFile), []byte(c.summary), 0o644)
			m := New(o)
			m.Update(m.openRun(dir)())
			m.Update(keyMsg("3"))
			m.Update(m.loadEvals()())
			s := screen(m)
			want := map[string]string{"step 90 (soup)": "0.127*", "step 90 (before soup)": "0.200*"}[c.want]
			if !strings.Contains(s, "latest scores · s  "+c.want) || !strings.Contains(lineWith(s, "  arith "), want) {
				t.Errorf("want %s, arith %s:\n%s", c.want, want, s)
			}
		})
	}
}

// At 60×16 the latest scores of a run with quickstart's tasks and
// validation losses fill the screen: the signal-to-noise table was pushed
// off it, heading and all, and no key brought it back. The tables now give
// up their last lines for its heading, header, three rows and note, and say
// how many lines they left out.
func TestEvalView60x16KeepsSNR(t *testing.T) {
	o := testOptions(t, 60, 16)
	rec := testRecipe(t)
	for i, run := range []string{"a", "b"} {
		dir := filepath.Join(o.RunsDir, run)
		writeRunDir(t, dir, rec, syntheticRun(run, rec))
		var out []byte
		add := func(step int64, task, form, metric string, v float64, primary bool) {
			b, _ := json.Marshal(lab.EvalRecord{Run: run, Step: step, Tokens: step * testGB, Why: "interval", Task: task, Form: form,
				Metric: metric, Value: v, Primary: primary, Time: t0})
			out = append(append(out, b...), '\n')
		}
		for k, step := range []int64{20, 40, 60, 80, 100} {
			d := 0.1*float64(i) + 0.01*float64(k%2)
			for _, task := range []string{"arith", "fact_cloze", "fact_qa_heldout", "fact_qa_seen"} {
				add(step, task, "rc", olmes.MetricAccRaw, 0.3+d, true)
				add(step, task, "rc", olmes.MetricBPB, 1+d, false)
			}
			for _, src := range []string{"code", "math", "qa", "web_clean", "web_noisy"} {
				add(step, "val/"+src, "lm", olmes.MetricCELoss, 2+d, true)
				add(step, "val/"+src, "lm", olmes.MetricBitsPerByte, 0.8+d, false)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, lab.EvalsFile), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := New(o)
	m.Update(m.openRun(filepath.Join(o.RunsDir, "a"))())
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	checkFrame(t, m, 60, 16)
	s := screen(m)
	for _, want := range []string{"latest scores · a  step 100 (interval)", "  arith              rc", "more lines: a taller window shows them",
		"signal to noise", "  task", "noise: per-run"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q:\n%s", want, s)
		}
	}
	// its rows, each with its SNR and avg SNR (at 60 columns without the
	// signal and noise, which pushed them off)
	i := strings.Index(s, "signal to noise")
	if i < 0 {
		t.FailNow()
	}
	rows := 0
	for _, l := range strings.Split(s[i:], "\n") {
		if regexp.MustCompile(`^  \S+ +(rc|lm) +\S+ +[0-9.]+ +[0-9.]+$`).MatchString(l) {
			rows++
		}
	}
	if rows < 3 {
		t.Errorf("%d rows of the signal-to-noise table with their SNRs, want 3 at least:\n%s", rows, s)
	}
	if !strings.Contains(s, "  task            form metric                  SNR  avg SNR") {
		t.Errorf("no SNR column header without signal and noise:\n%s", s)
	}
}

// One run with evaluations is "1 run", not "1 runs".
func TestSNROneRun(t *testing.T) {
	o := testOptions(t, 80, 24)
	rec := testRecipe(t)
	dir := filepath.Join(o.RunsDir, "solo")
	writeRunDir(t, dir, rec, syntheticRun("solo", rec))
	writeEvalSeries(t, dir, "solo", 0)
	m := New(o)
	m.Update(m.openRun(dir)())
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	if s := screen(m); !strings.Contains(s, " signal to noise  across 1 run: solo\n") {
		t.Errorf("no \"across 1 run: solo\":\n%s", s)
	}
}

// A run launched in this session counts in the signal-to-noise comparison as
// soon as it has evaluations: the directory scan that lists it (and says it
// has evaluations) ran before it was launched, and the evaluation view does
// not scan, so it was left out ("1 so far") until a visit to the runs or
// recipes view scanned again.
func TestSNRCountsTheRunLaunchedHere(t *testing.T) {
	o := testOptions(t, 80, 24)
	writeRunDir(t, filepath.Join(o.RunsDir, "other"), testRecipe(t), nil)
	writeEvalSeries(t, filepath.Join(o.RunsDir, "other"), "other", 0.4)
	m, f := liveModel(t, o, stage1Events("quickstart-test")) // scanned by New, before the launch
	os.WriteFile(filepath.Join(f.dir, lab.RecipeFile), f.rec.YAML(), 0o644)
	writeEvalSeries(t, f.dir, f.name, 0)
	ev := lab.Event{Type: lab.EvEval, Time: t0.Add(10 * time.Second), Run: f.name, Step: 100, Tokens: 100 * testGB, Phase: "stage1",
		Message: "interval", Evals: []lab.EvalScore{{Task: "arith", Formulation: "rc", Metric: "acc_per_char", Value: 0.15, Primary: true}}}
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{ev}})
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	if got := m.evals.SNRRuns; len(got) != 2 || !slices.Contains(got, "quickstart-test") {
		t.Errorf("SNR compares %q, want other and quickstart-test:\n%s", got, screen(m))
	}
	if s := screen(m); strings.Contains(s, "1 so far") {
		t.Errorf("the view leaves the live run out:\n%s", s)
	}
}

// A run that ends with its recipe's soup shows the soup's scores when its
// final frame has no evaluation in it: the lab writes summary.json (which says
// the run ended with the soup) just before the end, so the soup's evaluation,
// read in an earlier frame, showed as the scores before the soup
// ("step 40 (before soup)") after the run had ended with the soup's weights.
func TestEvalViewSoupEndInALaterFrame(t *testing.T) {
	m, f := liveModel(t, testOptions(t, 80, 24), stage1Events("quickstart-test"))
	var out []byte
	for _, x := range []struct {
		run, why string
		v        float64
	}{{f.name, "before soup", 0.2}, {f.name + "/soup", "soup", 0.127}} {
		b, _ := json.Marshal(lab.EvalRecord{Run: x.run, Step: 40, Tokens: 40 * testGB, Why: x.why, Task: "arith", Form: "rc",
			Metric: olmes.MetricAccRaw, Value: x.v, Primary: true, Time: t0})
		out = append(append(out, b...), '\n')
	}
	os.WriteFile(filepath.Join(f.dir, lab.EvalsFile), out, 0o644)
	m.Update(keyMsg("3"))
	ev := lab.Event{Type: lab.EvEval, Time: t0.Add(5 * time.Second), Run: f.name, Step: 40, Tokens: 40 * testGB, Phase: "soup", Message: "soup",
		Evals: []lab.EvalScore{{Task: "arith", Formulation: "rc", Metric: olmes.MetricAccRaw, Value: 0.127, Primary: true}}}
	m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{ev}})
	m.Update(m.loadEvals()()) // what that frame's commands read (the others wait for events)
	if s := screen(m); !strings.Contains(s, "step 40 (before soup)") {
		t.Fatalf("before the end:\n%s", s)
	}
	os.WriteFile(filepath.Join(f.dir, lab.SummaryFile), []byte(`{"state":"finished","steps":40,"soup":{"from_step":40}}`), 0o644)
	done := lab.Event{Type: lab.EvDone, Time: ev.Time, Run: f.name, Step: 40, Tokens: 40 * testGB, State: "finished"}
	_, cmd := m.Update(runEventsMsg{gen: m.liveGen, events: []lab.Event{done}, done: true})
	runCmds(m, cmd)
	if s := screen(m); !strings.Contains(s, "latest scores · quickstart-test  step 40 (soup)") || !strings.Contains(lineWith(s, "  arith "), "0.127*") {
		t.Errorf("the evaluation view does not show the soup the run ended with:\n%s", s)
	}
}

// The dashboard's evaluation line and the evaluation view show the same
// evaluation: the run's own. After a soup made with s (a side job: the run
// goes on with its own weights) the line showed the soup's scores, labelled
// "(soup)", while the view showed the run's; a soup the recipe planned is
// the run's final model, and both show its scores.
func TestEvalLineMatchesEvalViewAfterSoup(t *testing.T) {
	for _, c := range []struct {
		name    string
		final   bool
		want    string  // the evaluation both show
		arith   float64 // its arith score
		summary string
	}{
		{"side soup", false, "@80 (interval)", 0.2, ""},
		{"planned soup", true, "@90 (soup)", 0.127, `{"state":"finished","steps":90,"soup":{"from_step":90,"final":true}}`},
		// a run from before the soup report said final: it finished at the
		// soup's step, so with the soup's weights
		{"planned soup, older report", false, "@90 (soup)", 0.127, `{"state":"finished","steps":90,"soup":{"from_step":90}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := "quickstart-test"
			m, f := liveModel(t, testOptions(t, 100, 30), nil)
			var evs []lab.Event
			var recs []byte
			eval := func(step int64, run, why string, v float64) {
				scores := []lab.EvalScore{{Task: "arith", Formulation: "rc", Metric: olmes.MetricAccRaw, Value: v, Primary: true}}
				evs = append(evs, lab.Event{Type: lab.EvEval, Time: t0.Add(time.Duration(step) * 100 * time.Millisecond), Run: name,
					Step: step, Tokens: step * testGB, Phase: "stage1", Message: why, Evals: scores})
				b, _ := json.Marshal(lab.EvalRecord{Run: run, Step: step, Tokens: step * testGB, Why: why, Task: "arith", Form: "rc",
					Metric: olmes.MetricAccRaw, Value: v, Primary: true, Time: t0})
				recs = append(append(recs, b...), '\n')
			}
			for _, e := range syntheticSoupRun(name, testRecipe(t)) {
				if e.Type == lab.EvStep && e.Step == 81 && e.Run == name {
					eval(80, name, "interval", 0.2)
				}
				if e.Soup != nil { // soup done: the ingredients and the soup were evaluated first
					eval(90, name+"/ingredient-1-seed-42", "soup ingredient", 0.15)
					eval(90, name+"/soup", "soup", 0.127)
					e.Soup.Final = c.final
				}
				evs = append(evs, e)
			}
			ended := c.summary != ""
			if ended {
				var sum lab.RunSummary
				if err := json.Unmarshal([]byte(c.summary), &sum); err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(f.dir, lab.SummaryFile), []byte(c.summary), 0o644)
				evs = append(evs, lab.Event{Type: lab.EvDone, Time: t0.Add(20 * time.Second), Run: name, Step: 90, Tokens: 90 * testGB,
					State: "finished", Summary: &sum})
			}
			os.WriteFile(filepath.Join(f.dir, lab.EvalsFile), recs, 0o644)
			m.Update(runEventsMsg{gen: m.liveGen, events: evs, done: ended})
			wantLine := fmt.Sprintf("eval %s arith %.3f", c.want, c.arith)
			if s := screen(m); !strings.Contains(s, wantLine) {
				t.Errorf("the dashboard's evaluation line is not %q:\n%s", wantLine, s)
			}
			// where the soup's scores are, within 80 columns
			if hint := "soup done, its scores in the runs view: 2 ingredients averaged"; !c.final && !ended && !strings.HasPrefix(m.liveData.Message, hint) {
				t.Errorf("after a side soup the message %q does not start with %q", m.liveData.Message, hint)
			}
			m.Update(keyMsg("3"))
			m.Update(m.loadEvals()())
			s := screen(m)
			head := "latest scores · " + name + "  step " + strings.TrimPrefix(c.want, "@")
			if !strings.Contains(s, head) || !strings.Contains(lineWith(s, "  arith "), fmt.Sprintf("%.3f*", c.arith)) {
				t.Errorf("the evaluation view does not show %q with arith %.3f:\n%s", head, c.arith, s)
			}
		})
	}
}

// TestSNRRunEndedWithSoup: in the signal-to-noise table a run that ended
// with its recipe's soup has the soup's score as its final one, as olmolab
// snr and eval --model RUN have it, and the line under the table says so;
// its noise still comes from its own checkpoints.
func TestSNRRunEndedWithSoup(t *testing.T) {
	o := testOptions(t, 100, 30)
	rec := testRecipe(t)
	for i, run := range []string{"a", "b"} {
		dir := filepath.Join(o.RunsDir, run)
		writeRunDir(t, dir, rec, syntheticRun(run, rec))
		var out []byte
		add := func(name string, step int64, v float64) {
			b, _ := json.Marshal(lab.EvalRecord{Run: name, Step: step, Tokens: step * testGB, Why: "interval", Task: "arith", Form: "rc",
				Metric: olmes.MetricAccRaw, Value: v, Time: t0})
			out = append(append(out, b...), '\n')
		}
		for k, step := range []int64{20, 40, 60, 80, 100} {
			add(run, step, 0.3+0.1*float64(i)+0.01*float64(k%2))
		}
		if run == "a" {
			add("a/soup", 100, 0.6)
			os.WriteFile(filepath.Join(dir, lab.SummaryFile), []byte(`{"run":"a","state":"finished","steps":100,"soup":{"from_step":100,"final":true}}`), 0o644)
		}
		if err := os.WriteFile(filepath.Join(dir, lab.EvalsFile), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := New(o)
	m.Update(m.openRun(filepath.Join(o.RunsDir, "a"))())
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	s := screen(m)
	// finals: a's soup 0.6, b's last 0.4: signal (0.6−0.4)/0.5; before, a's own 0.3: (0.4−0.3)/0.35
	if l := lineWith(s[strings.Index(s, "signal to noise"):], "  arith "); !strings.Contains(l, " "+fnum(olmes.Signal([]float64{0.6, 0.4}), 4)+" ") {
		t.Errorf("arith's signal is not the soup's against b's: %q\n%s", l, s)
	}
	if !strings.Contains(s, "final scores of a: the soup each ended with") {
		t.Errorf("the table does not say a's final score is its soup's:\n%s", s)
	}
}

// Why there is no signal-to-noise table, and what to do, is there whole: the
// line was cut to the width, and at 80 columns "select comparable runs in the
// runs view (2, space)" read "select comparable…". It wraps.
func TestSNRMessageWhole(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {60, 16}, {120, 40}} {
		o := testOptions(t, size[0], size[1])
		rec := testRecipe(t)
		dir := filepath.Join(o.RunsDir, "solo")
		writeRunDir(t, dir, rec, syntheticRun("solo", rec))
		writeEvalSeries(t, dir, "solo", 0)
		m := New(o)
		m.Update(m.openRun(dir)())
		m.Update(keyMsg("3"))
		m.Update(m.loadEvals()())
		checkFrame(t, m, size[0], size[1])
		s := screen(m)
		_, after, _ := strings.Cut(s, "signal to noise")
		if want := "signal needs at least two runs with evaluations (1 so far): select comparable runs in the runs view (2, space)"; !strings.Contains(strings.Join(strings.Fields(after), " "), want) {
			t.Errorf("%v: no %q:\n%s", size, want, s)
		}
	}
}

// TestEvalViewRecorded: scores olmolab eval --record made of a run's
// checkpoints after the run are shown under a line that says so, beside
// the run's own latest evaluation, which they replaced as "latest" (they are
// appended last), and the signal-to-noise table lists their task.
func TestEvalViewRecorded(t *testing.T) {
	o := testOptions(t, 100, 40)
	rec := testRecipe(t)
	for i, run := range []string{"a", "b"} {
		dir := filepath.Join(o.RunsDir, run)
		writeRunDir(t, dir, rec, syntheticRun(run, rec))
		var out []byte
		add := func(r olmes.EvalRecord) {
			b, _ := json.Marshal(r)
			out = append(append(out, b...), '\n')
		}
		for k, step := range []int{20, 40, 60, 80, 100} {
			add(olmes.EvalRecord{Run: run, Step: step, Why: "interval", Task: "arith", Formulation: olmes.RC, Metric: olmes.MetricAccPerChar,
				Value: 0.2 + 0.1*float64(i) + 0.01*float64(k%2), Time: t0})
		}
		for k, step := range []int{60, 80, 100} {
			add(olmes.EvalRecord{Run: run, Step: step, Why: olmes.WhyRecorded, Task: "mmlu", Formulation: olmes.RC, Split: "test", Metric: olmes.MetricAccPerChar,
				Value: 0.4 + 0.1*float64(i) + 0.01*float64(k%2), Settings: fmt.Sprintf("checkpoints/step-%d: context 2048", step), Time: t0})
		}
		if err := os.WriteFile(filepath.Join(dir, lab.EvalsFile), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := New(o)
	m.Update(m.openRun(filepath.Join(o.RunsDir, "b"))())
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	checkFrame(t, m, 100, 40)
	s := screen(m)
	for _, want := range []string{
		"latest scores · b  step 100 (interval)\n",
		"  scored after the run (olmolab eval --record), each task at its latest checkpoint: step 100\n",
		"  mmlu ",
		"scored after the runs (olmolab eval --record",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q:\n%s", want, s)
		}
	}
	if i := strings.Index(s, "signal to noise"); i < 0 || !strings.Contains(s[i:], "  mmlu ") {
		t.Errorf("the signal-to-noise table lists no mmlu row:\n%s", s)
	}
}

// TestEvalViewRecordedInstances: a task eval --record scored on every
// instance (::olmes:full) and on a 1000-instance sample is two rows, named
// by their counts, in the table of recorded scores and in the
// signal-to-noise table; they were one row, mixing the two.
func TestEvalViewRecordedInstances(t *testing.T) {
	o := testOptions(t, 100, 40)
	rec := testRecipe(t)
	for i, run := range []string{"a", "b"} {
		dir := filepath.Join(o.RunsDir, run)
		writeRunDir(t, dir, rec, syntheticRun(run, rec))
		var out []byte
		for _, n := range []int{14042, 1000} {
			for k, step := range []int{60, 80, 100} {
				b, _ := json.Marshal(olmes.EvalRecord{Run: run, Step: step, Why: olmes.WhyRecorded, Task: "mmlu", Formulation: olmes.RC, Split: "test", Instances: n,
					Metric: olmes.MetricAccPerChar, Value: 0.4 + 0.1*float64(i) + 0.01*float64(k%2) + float64(n)/1e5, Settings: "context 2048", Time: t0})
				out = append(append(out, b...), '\n')
			}
		}
		if err := os.WriteFile(filepath.Join(dir, lab.EvalsFile), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := New(o)
	m.Update(m.openRun(filepath.Join(o.RunsDir, "b"))())
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	checkFrame(t, m, 100, 40)
	s := screen(m)
	i := strings.Index(s, "signal to noise")
	if i < 0 {
		t.Fatalf("no signal-to-noise table:\n%s", s)
	}
	// b's latest: 0.5 + 0.01·(2%2) + n/1e5
	for _, want := range []string{"  mmlu (n 1000)      rc       0.510", "  mmlu (n 14042)     rc       0.640"} {
		if !strings.Contains(s[:i], want) {
			t.Errorf("the recorded scores lack %q:\n%s", want, s)
		}
	}
	for _, want := range []string{"  mmlu (1000 instances) ", "  mmlu (14042 instances) "} {
		if !strings.Contains(s[i:], want) {
			t.Errorf("the signal-to-noise table lacks %q:\n%s", want, s)
		}
	}
}

// A run that evaluated nothing while it trained (its recipe names no tasks)
// and was scored afterwards with eval --record: the view said "no
// evaluations recorded yet" over the table of its recorded scores.
func TestEvalViewOnlyRecorded(t *testing.T) {
	o := testOptions(t, 80, 24)
	rec := testRecipe(t)
	dir := filepath.Join(o.RunsDir, "r")
	writeRunDir(t, dir, rec, syntheticRun("r", rec))
	var out []byte
	for _, step := range []int{60, 80, 100} {
		b, _ := json.Marshal(olmes.EvalRecord{Run: "r", Step: step, Why: olmes.WhyRecorded, Task: "arith", Formulation: olmes.RC, Metric: olmes.MetricAccPerChar,
			Value: 0.3, Settings: fmt.Sprintf("checkpoints/step-%d: context 32", step), Time: t0})
		out = append(append(out, b...), '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, lab.EvalsFile), out, 0o644); err != nil {
		t.Fatal(err)
	}
	m := New(o)
	m.Update(m.openRun(dir)())
	// a recipe that names no tasks: its dashboard said so and nothing of
	// the scores made after the run
	m.cur.Recipe, m.cur.Eval = &lab.Recipe{}, nil
	m.Update(keyMsg("1"))
	if s := screen(m); !strings.Contains(s, " eval none in training (no eval.tasks); scored after it: 3") {
		t.Errorf("the dashboard's evaluation line of a run scored only after it:\n%s", s)
	}
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	checkFrame(t, m, 80, 24)
	s := screen(m)
	if strings.Contains(s, "recorded yet") || !strings.Contains(s, "none made while it trained; scored after the run below") ||
		!strings.Contains(s, "scored after the run (olmolab eval --record)") {
		t.Errorf("the view of a run scored only after it:\n%s", s)
	}
}

// TestSoupBaseIgnoresRecorded: the soup details compare the soup with the
// run's own evaluation at the soup's step; scores recorded there after the
// run (olmolab eval --record) are not it, and took its place.
func TestSoupBaseIgnoresRecorded(t *testing.T) {
	dir := t.TempDir()
	var out []byte
	for _, r := range []olmes.EvalRecord{
		{Run: "r", Step: 100, Why: "before soup", Task: "arith", Formulation: olmes.RC, Metric: olmes.MetricAccRaw, Value: 0.3},
		{Run: "r", Step: 100, Why: olmes.WhyRecorded, Task: "mmlu", Formulation: olmes.RC, Split: "test", Metric: olmes.MetricAccRaw, Value: 0.4},
	} {
		b, _ := json.Marshal(r)
		out = append(append(out, b...), '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, lab.EvalsFile), out, 0o644); err != nil {
		t.Fatal(err)
	}
	b := readSoupBase(dir, 100)
	if b == nil || b.Why != "before soup" || len(b.Values) != 1 || b.Values[scoreKey{"arith", ""}] == nil {
		t.Errorf("the run's own evaluation at the soup's step: %+v", b)
	}
}

// With no runs selected the signal-to-noise table compared every run with
// evaluations: a runs directory of a sweep beside short runs gave rows none
// of which had noise ("42 of 42 rows … no noise to measure"). Now it
// compares the open run's sweep, else the latest sweep, else every run
// with evaluations less those evaluated once, and says which and how to
// choose others; runs selected (two or more) are compared as they are.
func TestSNRDefaultScope(t *testing.T) {
	o := testOptions(t, 100, 40)
	rec := testRecipe(t)
	evals := func(run string, steps []int64, v float64) {
		dir := filepath.Join(o.RunsDir, run)
		writeRunDir(t, dir, rec, syntheticRun(run, rec))
		var out []byte
		for k, step := range steps {
			b, _ := json.Marshal(lab.EvalRecord{Run: run, Step: step, Tokens: step * testGB, Why: "interval", Task: "arith", Form: "rc",
				Metric: olmes.MetricAccRaw, Value: v + 0.01*float64(k%2), Time: t0})
			out = append(append(out, b...), '\n')
		}
		if err := os.WriteFile(filepath.Join(dir, lab.EvalsFile), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	five := []int64{20, 40, 60, 80, 100}
	manifest := func(prefix string, created time.Time, runs ...string) {
		m := sweep.Manifest{Prefix: prefix, Recipe: "quickstart", RunsDir: o.RunsDir, Created: created}
		for _, r := range runs {
			m.Runs = append(m.Runs, sweep.Run{Name: r})
			evals(r, five, 0.3+0.01*float64(len(m.Runs)))
		}
		if err := os.WriteFile(sweep.ManifestPath(o.RunsDir, prefix), m.Marshal(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	evals("short", []int64{10}, 0.5) // evaluated once
	evals("other", five, 0.4)
	evals("other2", five, 0.45)
	view := func(open string, sel ...string) string {
		t.Helper()
		m := New(o)
		m.Update(m.openRun(filepath.Join(o.RunsDir, open))())
		for _, s := range sel {
			m.selected[filepath.Join(o.RunsDir, s)] = true
		}
		m.Update(keyMsg("3"))
		m.Update(m.loadEvals()())
		checkFrame(t, m, 100, 40)
		return screen(m)
	}
	// no sweep: every run with evaluations but the one evaluated once
	s := view("other")
	for _, want := range []string{"signal to noise  across 2 runs: other, other2\n", "none selected, so every run with evaluations · left out, evaluated once (no noise): short · "} {
		if !strings.Contains(s, want) {
			t.Errorf("no sweep: view lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "no noise to measure") {
		t.Errorf("no sweep: rows without noise:\n%s", s)
	}
	manifest("old", t0, "old-seed1", "old-seed2")
	manifest("new", t0.Add(time.Hour), "new-seed1", "new-seed2", "new-seed3")
	for _, c := range []struct {
		open   string
		sel    []string
		across string
		scope  string
	}{
		{"old-seed2", nil, "across 2 runs: old-*: seed1, seed2\n", "none selected, so sweep old (the open run's) · to compare others select them: 2, space"},
		{"other", nil, "across 3 runs: new-*: seed1, seed2, seed3\n", "none selected, so sweep new (the latest) · "},
		{"other", []string{"other", "old-seed1", "short"}, "across 3 selected runs: old-seed1, other, short\n", ""},
	} {
		s := view(c.open, c.sel...)
		if !strings.Contains(s, c.across) {
			t.Errorf("open %s, selected %v: want %q:\n%s", c.open, c.sel, c.across, s)
		}
		if c.scope != "" && !strings.Contains(s, c.scope) || c.scope == "" && strings.Contains(s, "none selected") {
			t.Errorf("open %s, selected %v: want the scope line %q:\n%s", c.open, c.sel, c.scope, s)
		}
	}
}

// A task only some of the compared runs scored (eval --record of two runs
// of four) has no row, and the signal-to-noise table said nothing of it:
// the scores just recorded seemed lost. A line names it and the runs that
// have it (olmes.SNRTable.DescribePartial).
func TestSNRSaysWhatSomeRunsScored(t *testing.T) {
	o := testOptions(t, 140, 30)
	rec := testRecipe(t)
	for i, run := range []string{"a", "b", "c"} {
		dir := filepath.Join(o.RunsDir, run)
		writeRunDir(t, dir, rec, syntheticRun(run, rec))
		var out []byte
		for k, step := range []int64{20, 40, 60, 80, 100} {
			recs := []lab.EvalRecord{{Run: run, Step: step, Tokens: step * testGB, Why: "interval", Task: "arith", Form: "rc",
				Metric: olmes.MetricAccRaw, Value: 0.3 + 0.1*float64(i) + 0.01*float64(k%2), Time: t0}}
			if run == "a" {
				recs = append(recs, lab.EvalRecord{Run: run, Step: step, Tokens: step * testGB, Why: olmes.WhyRecorded, Task: "arc_easy", Form: "rc",
					Split: "validation", Metric: olmes.MetricAccRaw, Value: 0.25, Time: t0})
			}
			for _, r := range recs {
				b, _ := json.Marshal(r)
				out = append(append(out, b...), '\n')
			}
		}
		if err := os.WriteFile(filepath.Join(dir, lab.EvalsFile), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := New(o)
	m.Update(m.openRun(filepath.Join(o.RunsDir, "a"))())
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	checkFrame(t, m, 140, 30)
	if s := screen(m); !strings.Contains(s, "  no row for what only some runs scored: arc_easy (validation) (1 of 3 runs: a); HINT: score it in the others too") {
		t.Errorf("no line on arc_easy, which a alone scored:\n%s", s)
	}
}

func TestRunsList(t *testing.T) {
	for _, c := range []struct {
		names []string
		want  string
	}{
		{[]string{"a"}, "a"},
		{[]string{"a-1", "b-1"}, "a-1, b-1"},
		{[]string{"ablation_web-lr1e-3-seed1", "ablation_web-lr3e-3-seed1"}, "ablation_web-*: lr1e-3-seed1, lr3e-3-seed1"},
		{[]string{"ablation_web-lr1e-3-seed1", "ablation_web-lr1e-3-seed2"}, "ablation_web-lr1e-3-*: seed1, seed2"},
		{[]string{"x-", "x-a"}, "x-, x-a"}, // no name left empty
	} {
		if got := runsList(c.names); got != c.want {
			t.Errorf("runsList(%q) = %q, want %q", c.names, got, c.want)
		}
	}
}

// TestEvalViewSuitesFromSeparateRecords: runs that evaluated piqa and siqa in
// RC while they trained, and whose MC scores eval --record wrote afterwards,
// have their OLMES suite scores (socialiqa::olmes, piqa::olmes: the better of
// MC and RC) in the view's signal-to-noise table, built from the two
// evaluations of each checkpoint. Before, only one evaluation of both
// formulations made them, and the table had no such rows.
func TestEvalViewSuitesFromSeparateRecords(t *testing.T) {
	o := testOptions(t, 100, 40)
	var dirs []string
	for i, run := range []string{"a", "b"} {
		dir := filepath.Join(o.RunsDir, run)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var out []byte
		add := func(r olmes.EvalRecord) {
			b, _ := json.Marshal(r)
			out = append(append(out, b...), '\n')
		}
		score := func(k int) float64 { return 0.4 + 0.1*float64(i) + 0.01*float64(k%2) }
		for k, step := range []int{60, 80, 100} {
			for _, task := range []string{"piqa", "siqa"} {
				add(olmes.EvalRecord{Run: run, Step: step, Why: "interval", Task: task, Formulation: olmes.RC, Split: "validation",
					Metric: olmes.MetricAccPerChar, Value: score(k), Primary: true, Time: t0})
			}
		}
		for k, step := range []int{60, 80, 100} {
			for _, task := range []string{"piqa", "siqa"} {
				add(olmes.EvalRecord{Run: run, Step: step, Why: olmes.WhyRecorded, Task: task, Formulation: olmes.MC, Split: "validation",
					Metric: olmes.MetricAccRaw, Value: score(k) + 0.05, Primary: true, Time: t0})
			}
		}
		if err := os.WriteFile(filepath.Join(dir, lab.EvalsFile), out, 0o644); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}
	d := loadEvalData("b", dirs[1], nil, snrScope{Dirs: dirs, Selected: true})
	if d.SNR == nil {
		t.Fatalf("no signal-to-noise table: %s", d.SNRMessage)
	}
	var suites []string
	for _, r := range d.SNR.Rows {
		if r.Metric == olmes.MetricPrimaryScore {
			suites = append(suites, r.Task)
			// b's final MC score 0.55, a's 0.45: the mean of the better formulation
			if math.Abs(r.Mean-0.50) > 1e-12 {
				t.Errorf("%s: mean %v, want 0.50 (MC's, the better)", r.Task, r.Mean)
			}
		}
	}
	if slices.Sort(suites); !slices.Equal(suites, []string{"piqa::olmes", "socialiqa::olmes"}) {
		t.Errorf("suite rows %v, want piqa::olmes and socialiqa::olmes", suites)
	}
	// the scores made after the run list them too, with their score in a column of their own (b's MC at
	// step 100: 0.55), as they list the suites one evaluation made
	var got []string
	for _, r := range d.Recorded {
		if v, ok := r.Values[olmes.MetricPrimaryScore]; ok {
			got = append(got, fmt.Sprintf("%s %s %.2f", r.Task, r.Form, v))
		}
	}
	if want := []string{"piqa::olmes mc_or_rc 0.55", "socialiqa::olmes mc_or_rc 0.55"}; !slices.Equal(got, want) {
		t.Errorf("recorded suite rows %v, want %v", got, want)
	}
	m := New(o)
	m.Update(m.openRun(dirs[1])())
	m.Update(keyMsg("3"))
	m.Update(m.loadEvals()())
	s := screen(m)
	if !regexp.MustCompile(`socialiqa::olmes\s+mc_or_rc\s+(–\s+)*0\.550\*`).MatchString(s) {
		t.Errorf("the view shows no socialiqa::olmes score:\n%s", s)
	}
}
