package tui

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/olmes"
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
