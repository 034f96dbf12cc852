package tui

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/olmolab/olmolab/lab"
	"github.com/olmolab/olmolab/lab/olmes"
)

// TestFastStepEvent: a step line read by fastStepEvent is the event
// encoding/json reads (less the source counts the UI never shows), and
// anything else is left to encoding/json.
func TestFastStepEvent(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 123456789, time.UTC)
	for _, e := range []lab.Event{
		{Type: lab.EvStep, Time: t0, Run: "r", Step: 7, Tokens: 1 << 40, Phase: "stage1", Loss: 2.5, ZLoss: 5e-4, GradNorm: 0.3, LR: 3e-4,
			TokensPerSec: 3.1e6, MFU: 0.41, LossZ: -1.5, GradZ: 4.2, SpikeScore: &lab.SpikeScores{Loss: 0.1, GradNorm: 2},
			Sources: map[string]int64{"web": 5}, TotalTokens: 1 << 42},
		{Type: lab.EvStep, Time: t0.In(time.FixedZone("x", 3600)), Run: "r/ingredient-1", Step: 9, Skipped: true},
		{Type: lab.EvStep, Run: `a "quoted" run`, Step: 1},
		{Type: lab.EvSpike, Time: t0, Run: "r", Step: 3, Series: "loss", Value: 9, Z: 7},
		{Type: lab.EvEval, Time: t0, Run: "r", Evals: []lab.EvalScore{{Task: "arith", Metric: "acc_raw", Value: 0.5}}},
	} {
		b, _ := json.Marshal(e)
		var got, want lab.Event
		if !decodeEvent(b, &got) {
			t.Fatalf("%s: not decoded", b)
		}
		json.Unmarshal(b, &want)
		want.Sources = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", b, got, want)
		}
	}
}

// TestFastStepEventReadsTheLabsSteps: every field the lab writes on a step
// line, a soup ingredient's included, is one the fast reader knows: tokens_left
// (on every step since the ETA counted the soups) sent every line of a run
// read back to encoding/json: 12–15 µs a line against 1.4–2.2 µs
// (BenchmarkReadStepLines, a loaded 2-core machine).
func TestFastStepEventReadsTheLabsSteps(t *testing.T) {
	for _, e := range []lab.Event{
		{Type: lab.EvStep, Time: t0, Run: "r", Step: 7, Tokens: 14336, Phase: "stage1", Loss: 2.5, ZLoss: 5e-4, GradNorm: 0.3, LR: 3e-4,
			TokensPerSec: 3.1e4, MFU: 0.41, LossZ: -1.5, GradZ: 4.2, SpikeScore: &lab.SpikeScores{Loss: 0.1, GradNorm: 2},
			Sources: map[string]int64{"web": 5}, TotalTokens: 1 << 20, TokensLeft: 1<<20 - 14336},
		{Type: lab.EvStep, Time: t0, Run: "r/ingredient-2-seed-9", Ingredient: "ingredient-2-seed-9", SoupIndex: 2, SoupOf: 3, Step: 9, Tokens: 18432,
			Phase: "soup 2/3", Loss: 2.5, GradNorm: 0.3, LR: 1e-4, TokensPerSec: 3e4, TotalTokens: 20480, TokensLeft: 6144},
	} {
		b, _ := json.Marshal(e)
		var got, want lab.Event
		if !fastStepEvent(b, &got) {
			t.Errorf("%s: left to encoding/json", b)
			continue
		}
		json.Unmarshal(b, &want)
		want.Sources = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", b, got, want)
		}
	}
}

// BenchmarkReadStepLines decodes a step line as the lab writes it.
func BenchmarkReadStepLines(b *testing.B) {
	line, _ := json.Marshal(lab.Event{Type: lab.EvStep, Time: t0, Run: "r", Step: 7, Tokens: 14336, Phase: "stage1", Loss: 2.5, ZLoss: 5e-4,
		GradNorm: 0.3, LR: 3e-4, TokensPerSec: 3.1e4, MFU: 0.41, LossZ: -1.5, GradZ: 4.2, SpikeScore: &lab.SpikeScores{Loss: 0.1, GradNorm: 2},
		Sources: map[string]int64{"web_noisy": 5000, "web_clean": 3000, "qa": 1000}, TotalTokens: 1 << 20, TokensLeft: 1<<20 - 14336})
	var e lab.Event
	for b.Loop() {
		decodeEvent(line, &e)
	}
}

// TestNonFiniteStepReadBack: a step skipped for a non-finite loss is written
// with null (lab.Event.MarshalJSON) and read back as NaN, so its point stays a
// gap on the charts rather than a loss of 0.
func TestNonFiniteStepReadBack(t *testing.T) {
	e := lab.Event{Type: lab.EvStep, Run: "r", Step: 5, Loss: math.NaN(), GradNorm: math.Inf(1), LR: 3e-4, Skipped: true}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"loss":null`) || !strings.Contains(string(b), `"grad_norm":null`) {
		t.Fatalf("written as %s", b)
	}
	var got lab.Event
	if !decodeEvent(b, &got) {
		t.Fatalf("%s: not decoded", b)
	}
	if !math.IsNaN(got.Loss) || !math.IsNaN(got.GradNorm) || got.LR != 3e-4 || !got.Skipped || got.Step != 5 {
		t.Errorf("%s read back as %+v", b, got)
	}
}

// writeLongRun writes a run directory of n steps, an evaluation and a
// checkpoint every 1000, in the lab's formats.
func writeLongRun(tb testing.TB, dir string, n int64) {
	tb.Helper()
	os.MkdirAll(dir, 0o755)
	rec, err := lab.LoadRecipe("../testdata/tiny.yaml", nil)
	if err != nil {
		tb.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, lab.RecipeFile), rec.YAML(), 0o644)
	mf, _ := os.Create(filepath.Join(dir, lab.MetricsFile))
	ef, _ := os.Create(filepath.Join(dir, lab.EventsFile))
	mw, ew := bufio.NewWriter(mf), bufio.NewWriter(ef)
	put := func(w *bufio.Writer, e lab.Event) {
		b, _ := json.Marshal(e)
		w.Write(append(b, '\n'))
	}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for s := int64(1); s <= n; s++ {
		tm := t0.Add(time.Duration(s) * 50 * time.Millisecond)
		put(mw, lab.Event{Type: lab.EvStep, Time: tm, Run: "long", Step: s, Tokens: s << 22, Phase: "stage1", Loss: 2 + 8/float64(s), GradNorm: 0.3,
			LR: 3e-4, TokensPerSec: 3e6, MFU: 0.4, SpikeScore: &lab.SpikeScores{},
			Sources: map[string]int64{"web_noisy": s, "web_clean": s, "code": s, "math": s, "qa": s}, TotalTokens: n << 22})
		if s%1000 == 0 {
			put(ew, lab.Event{Type: lab.EvEval, Time: tm, Run: "long", Step: s, Tokens: s << 22, Phase: "stage1", Message: "interval",
				Evals: []lab.EvalScore{{Task: "arith", Formulation: "rc", Metric: "acc_raw", Value: 0.5, Primary: true}}})
		}
	}
	mw.Flush()
	ew.Flush()
	mf.Close()
	ef.Close()
}

// BenchmarkLoadRun reopens a 100K-step run (48 MB of metrics.jsonl) as the
// dashboard does. Before the run's files were streamed and step lines read
// with jsonfield.Each: a 1M-step run took 10.7 s and 2.9 GB to open.
func BenchmarkLoadRun(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "long")
	writeLongRun(b, dir, 100000)
	b.ReportAllocs()
	for b.Loop() {
		d, _, err := loadRun(dir)
		if err != nil || d.Main.len() != 100000 {
			b.Fatal(err, d.Main.len())
		}
	}
}

// TestLoadRunStreams: reopening a run holds its picture, not its events:
// the heap at the end of the replay stays near the curve's size however
// long the file (it held every event, about 2 KB a step, before).
func TestLoadRunStreams(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "long")
	writeLongRun(t, dir, 50000)
	var peak uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // sample the heap while the run loads
		defer close(done)
		var ms runtimeMem
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				peak = max(peak, ms.heap())
			}
		}
	}()
	base := (&runtimeMem{}).heap()
	d, _, err := loadRun(dir)
	close(stop)
	<-done
	if err != nil || d.Main.len() != 50000 || d.Eval == nil || d.Eval.Step != 50000 {
		t.Fatalf("loaded %v: %d steps", err, d.Main.len())
	}
	// 50K points of 12 bytes (curve.go), the reader's buffers, and garbage not yet collected
	if grown := int64(peak) - int64(base); grown > 40<<20 {
		t.Errorf("heap grew %d MB while loading 50K steps, want under 40 MB", grown>>20)
	}
}

type runtimeMem struct{ s runtime.MemStats }

func (m *runtimeMem) heap() uint64 {
	runtime.ReadMemStats(&m.s)
	return m.s.HeapAlloc
}

// TestScanRunsProgressive: a scan with no time for metrics files lists every
// run at once, with its state from the cheap files and the unread ones
// pending; scanning again fills them in (newest first) until the list is the
// one a scan with all the time in the world gives. Before, the list appeared
// only after every crashed run's metrics.jsonl had been read (300 runs, three
// of 200K+ steps: 2.8 s to the first row in tmux; now 0.27 s).
func TestScanRunsProgressive(t *testing.T) {
	root := t.TempDir()
	for i, n := range []int64{3000, 2000, 1000, 500} {
		dir := filepath.Join(root, fmt.Sprintf("crashed-%d", i))
		writeLongRun(t, dir, n)
		mod := time.Now().Add(time.Duration(i-10) * time.Minute)
		os.Chtimes(filepath.Join(dir, lab.MetricsFile), mod, mod)
	}
	want := scanRuns(root, map[string]runInfo{}, time.Hour)
	cache := map[string]runInfo{}
	got := scanRuns(root, cache, 0)
	if len(got) != len(want) {
		t.Fatalf("%d runs listed, want %d", len(got), len(want))
	}
	for i, r := range got {
		if r.Name != want[i].Name || r.State != "crashed" {
			t.Errorf("row %d: %s %s, want %s crashed", i, r.Name, r.State, want[i].Name)
		}
		// the first read is always done, newest first
		if pend := i != 0; r.pending != pend || math.IsNaN(r.BestLoss) != pend {
			t.Errorf("%s: pending %v, best loss %v after a scan without time", r.Name, r.pending, r.BestLoss)
		}
	}
	for range len(want) {
		got = scanRuns(root, cache, 0)
	}
	if pendingRuns(got) || !reflect.DeepEqual(got, want) {
		t.Errorf("after %d scans:\ngot  %+v\nwant %+v", len(want), got, want)
	}
}

// TestReadEvalRecordsLatest: evals.jsonl is streamed for the run's own latest
// evaluation (its soups' records after it left out), each record the one
// encoding/json reads. At MMLU scale (80 MB) the evaluation view took 3.2 s
// and allocated 1.9 GB with two such runs; 2.1 s and 1.1 GB now (the rest is
// the SNR table's olmes.LoadRunEvals).
func TestReadEvalRecordsLatest(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var want []olmes.EvalRecord
	var b []byte
	for _, step := range []int64{1000, 2000} {
		for _, run := range []string{"r", "r/soup"} {
			for i, task := range []string{"mmlu_00", `a "quoted" task`} {
				r := lab.EvalRecord{Run: run, Step: step, Tokens: step << 20, Phase: "stable", Why: "interval",
					Task: task, Form: "mc", Metric: "acc_raw", Value: 0.25 + float64(step)/1e4, Primary: i == 0, Time: t0.Add(time.Duration(step))}
				line, _ := json.Marshal(r)
				b = append(append(b, line...), '\n')
				if step == 2000 && run == "r" {
					var back olmes.EvalRecord
					json.Unmarshal(line, &back)
					want = append(want, back)
				}
			}
		}
	}
	os.WriteFile(filepath.Join(dir, lab.EvalsFile), b, 0o644)
	if got := readEvalRecords(dir, false); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// TestScanRunsStepsFollowARunningRun: a run that trains while the lab is
// open (no summary.json yet) is read on from where the last scan stopped;
// its losses followed, but its step and token counts stayed at the first
// scan's: the runs view showed "soupy headless 7 steps, best 1.8510" for a
// run at step 147 (the count kept before the read won over the lines read,
// as summary.json's does).
func TestScanRunsStepsFollowARunningRun(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "running")
	writeLongRun(t, dir, 7)
	cache := map[string]runInfo{}
	if got := scanRuns(root, cache, time.Hour); len(got) != 1 || got[0].Steps != 7 {
		t.Fatalf("first scan: %+v", got)
	}
	f, err := os.OpenFile(filepath.Join(dir, lab.MetricsFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for s := int64(8); s <= 147; s++ {
		b, _ := json.Marshal(lab.Event{Type: lab.EvStep, Run: "long", Step: s, Tokens: s << 22, Phase: "stage1", Loss: 1.5})
		f.Write(append(b, '\n'))
	}
	f.Close()
	got := scanRuns(root, cache, time.Hour)
	if len(got) != 1 || got[0].Steps != 147 || got[0].Tokens != 147<<22 || got[0].BestLoss != 1.5 {
		t.Errorf("after 140 more steps: steps %d, tokens %d, best %v; want 147, %d, 1.5", got[0].Steps, got[0].Tokens, got[0].BestLoss, int64(147)<<22)
	}
}
