package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/lab/olmes"
	"github.com/olmolab/olmolab/model"
)

// valFixture: the tiny recipe with 20 validation rows per source (three
// micro-batches of 8 rows, the last one partial), its validation sets and a
// CPU backend with initial weights.
func valFixture(t *testing.T, overrides ...string) (*Recipe, data.Tokenizer, []valSet, *model.CPUBackend) {
	t.Helper()
	rec := parseTiny(t, append([]string{"eval.val.tokens=640"}, overrides...)...)
	tok, err := data.NewTokenizer(rec.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := resolveModel(rec, tok)
	if err != nil {
		t.Fatal(err)
	}
	sets, err := loadValSets(rec, tok, rec.World.KB(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := model.NewCPUBackend(cfg, rec.MicroBatchSize/rec.SequenceLength, rec.SequenceLength, 0)
	params := make([]float32, model.NewLayout(cfg).Size())
	model.Init(model.NewLayout(cfg), params, rec.Seed)
	b.WriteParams(params)
	return rec, tok, sets, b
}

// TestValLossIsTheEngineLoss: ce_loss is the CPU engine's training loss
// (ForwardBackward's ΣCE / labelled) on the same rows, to float32 rounding, bits_per_byte that sum
// in bits over the targets' text bytes; scoring twice gives the same numbers
// and leaves weights, gradients and the optimizer as they were.
func TestValLossIsTheEngineLoss(t *testing.T) {
	rec, tok, sets, b := valFixture(t)
	if len(sets) != 2 || sets[0].name != "web" || sets[1].name != "qa" || len(sets[0].ids) != 640 {
		t.Fatalf("sets: %d, first %q with %d ids", len(sets), sets[0].name, len(sets[0].ids))
	}
	// some optimizer state and gradients to watch
	ids := sets[0].ids[:rec.MicroBatchSize]
	labels := make([]int32, len(ids))
	fillLabels(labels, ids, rec.SequenceLength)
	tr := model.NewTrainerOn(b, model.TrainerParams{Opt: rec.Optimizer.AdamW(), MaxGradNorm: 1})
	tr.Step(ids, labels, 1e-3)
	b.ForwardBackward(ids, labels, 1, 0)
	n := len(b.E.Params)
	snap := func() (p, g, m, v []float32, step int) {
		p, g, m, v = make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		b.ReadParams(p)
		b.ReadGrads(g)
		step = b.ReadOptState(m, v)
		return
	}
	p0, g0, m0, v0, s0 := snap()

	first, err := valScores(context.Background(), b, sets)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := valScores(context.Background(), b, sets)
	if !slices.Equal(first, second) {
		t.Errorf("two evaluations of the same weights differ:\n%v\n%v", first, second)
	}
	p1, g1, m1, v1, s1 := snap()
	if !slices.Equal(p0, p1) || !slices.Equal(g0, g1) || !slices.Equal(m0, m1) || !slices.Equal(v0, v1) || s0 != s1 {
		t.Errorf("validation changed the training state")
	}

	// the reference: a second engine with the same weights, its training loss
	ref := model.NewCPUBackend(b.Config(), 8, rec.SequenceLength, 0)
	ref.WriteParams(p0)
	tb := data.TokenBytes(tok)
	for i, s := range sets {
		var ce float64
		labelled, bytes := 0, 0
		for o := 0; o < len(s.ids); o += 8 * 32 {
			bi, bl := make([]int32, 8*32), slices.Repeat([]int32{model.IgnoreIndex}, 8*32)
			k := copy(bi, s.ids[o:])
			fillLabels(bl[:k], bi[:k], 32)
			l := ref.ForwardBackward(bi, bl, 0, 0)
			ce += l.CESum
			labelled += l.Labelled
			for _, id := range bl {
				if id != model.IgnoreIndex && id != tok.EOS() {
					bytes += len(tok.Decode([]int32{id}))
				}
			}
		}
		if labelled != 20*31 || int64(bytes) != s.bytes || bytes != 0 && tb[tok.EOS()] != 0 {
			t.Errorf("%s: %d labelled, %d bytes (set says %d)", s.name, labelled, bytes, s.bytes)
		}
		wantCE, wantBPB := ce/float64(labelled), ce/math.Ln2/float64(bytes)
		gotCE, gotBPB := first[2*i], first[2*i+1]
		if gotCE.Task != "val/"+s.name || gotCE.Formulation != "lm" || gotCE.Metric != "ce_loss" || !gotCE.Primary || gotBPB.Metric != "bits_per_byte" {
			t.Errorf("scores %+v %+v", gotCE, gotBPB)
		}
		// float32 per-token losses; the engine's head with and without its
		// backward pass may round a row's last bit differently
		if d := math.Abs(gotCE.Value-wantCE) / wantCE; d > 1e-6 {
			t.Errorf("%s: ce_loss %.12g, engine's loss %.12g (rel. diff %.2g)", s.name, gotCE.Value, wantCE, d)
		}
		if d := math.Abs(gotBPB.Value-wantBPB) / wantBPB; d > 1e-6 {
			t.Errorf("%s: bits_per_byte %.12g, want %.12g", s.name, gotBPB.Value, wantBPB)
		}
		t.Logf("%s: ce_loss %.6f (engine %.6f), bits_per_byte %.6f over %d bytes", s.name, gotCE.Value, wantCE, gotBPB.Value, bytes)
	}
}

// TestValSetsIgnoreTheTrainingSeed: runs with different data-order seeds
// validate on the same tokens.
func TestValSetsIgnoreTheTrainingSeed(t *testing.T) {
	_, _, a, _ := valFixture(t, "seed=1")
	_, _, b, _ := valFixture(t, "seed=2")
	for i := range a {
		if !slices.Equal(a[i].ids, b[i].ids) || a[i].bytes != b[i].bytes {
			t.Errorf("%s: seeds 1 and 2 give different validation sets", a[i].name)
		}
	}
}

// TestValBadInput: validation files that are missing or too short stop the
// run before it starts, naming the field and the source.
func TestValBadInput(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.npy")
	os.WriteFile(short, make([]byte, 2*20), 0o644) // 20 uint16 tokens: less than a sequence of 32
	for _, tc := range []struct {
		set  string
		want string
	}{
		{`eval.val.sources=[{name: held, paths: ["` + dir + `/missing-*.npy"]}]`, `eval.val.sources[0]: source "held": ` + dir + "/missing-*.npy"},
		{`eval.val.sources=[{name: v, paths: ["builtin:web_clean"]}, {name: short, paths: ["` + short + `"]}]`, `eval.val.sources[1]: source "short": ` + short + ": empty: 1 file with 20 tokens holds no complete instance of 32 tokens"},
	} {
		rec := parseTiny(t, "eval.val.tokens=1K", tc.set)
		runs := t.TempDir()
		_, err := StartRun(context.Background(), RunParams{Recipe: rec, RunsDir: runs})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an InputError with %q", err, tc.want)
		}
		if ents, _ := os.ReadDir(runs); len(ents) != 0 {
			t.Errorf("a run directory was made before the validation files were checked")
		}
	}
}

// TestValEndToEnd: a short run validates at every evaluation; evals.jsonl has
// the records, the last step's evaluation is the final one (once, not also
// the interval's), the summary table shows them, and olmes reads them back
// for SNR.
func TestValEndToEnd(t *testing.T) {
	root := t.TempDir()
	for i, seed := range []string{"seed=7", "seed=8"} {
		rec := parseTiny(t, seed, "eval.val.tokens=1K", "eval.interval=5")
		s, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: fmt.Sprint("v", i)})
		if err != nil {
			t.Fatal(err)
		}
		var table bytes.Buffer
		PrintSummary(&table, s)
		for _, want := range []string{"val/web  lm           ce_loss", "val/qa   lm           bits_per_byte", "val/…: validation loss"} {
			if !strings.Contains(table.String(), want) {
				t.Errorf("summary lacks %q:\n%s", want, table.String())
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(root, "v0", EvalsFile))
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		step         int64
		why, task, m string
	}
	got := map[key]float64{}
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte{'\n'}) {
		var r EvalRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		if r.Form != "lm" || !strings.HasPrefix(r.Task, "val/") || math.IsNaN(r.Value) || r.Value <= 0 {
			t.Errorf("record %s", line)
		}
		got[key{r.Step, r.Why, r.Task, r.Metric}] = r.Value
	}
	if len(got) != 4*2*2 { // steps 5, 10, 15 and final at 20; two sources; two metrics
		t.Errorf("%d records:\n%s", len(got), b)
	}
	for _, task := range []string{"val/web", "val/qa"} {
		for _, m := range []string{"ce_loss", "bits_per_byte"} {
			first, final := got[key{5, "interval", task, m}], got[key{20, "final", task, m}]
			if !(final > 0 && final < first) {
				t.Errorf("%s %s: step 5 %v, final (step 20) %v: want falling", task, m, first, final)
			}
		}
	}
	t.Logf("val/web ce_loss %.3f → %.3f, bits_per_byte %.3f → %.3f", got[key{5, "interval", "val/web", "ce_loss"}], got[key{20, "final", "val/web", "ce_loss"}],
		got[key{5, "interval", "val/web", "bits_per_byte"}], got[key{20, "final", "val/web", "bits_per_byte"}])
	runs, err := olmes.LoadRunEvals(filepath.Join(root, "v0"), filepath.Join(root, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	snr, err := olmes.SNR(runs, olmes.SNROptions{LastN: 3})
	if err != nil || len(snr.Rows) != 4 {
		t.Fatalf("SNR: %v, %d rows", err, len(snr.Rows))
	}
	var out bytes.Buffer
	snr.WriteTable(&out)
	if !strings.Contains(out.String(), "val/web") || !strings.Contains(out.String(), "ce_loss, bits_per_byte (validation loss): lower is better") {
		t.Errorf("SNR table:\n%s", out.String())
	}
}

// TestValFilesTrainedOn: an eval.val source that names files a training
// source reads too (here through a glob of the same directory) is said to be
// no held-out set when the run starts; files kept out of training are not.
func TestValFilesTrainedOn(t *testing.T) {
	root := t.TempDir()
	var b []byte
	for i := range 256 {
		b = append(b, byte(i%200+10), 0)
	}
	for _, f := range []string{"train/a.npy", "train/b.npy", "held/c.npy"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755)
		if err := os.WriteFile(filepath.Join(root, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		val  string
		want string // "" no warning
	}{
		{filepath.Join(root, "train", "b.npy"), `eval.val.sources[0] (\"v\") reads files the run trains on (source \"web\"): ` + filepath.Join(root, "train", "b.npy") + `; its validation loss is not held out`},
		{filepath.Join(root, "held", "c.npy"), ""},
	} {
		name := filepath.Base(c.val)
		rec := parseTiny(t, `dataset.sources.0.paths=["`+filepath.Join(root, "train", "*.npy")+`"]`, "eval.val.tokens=64",
			`eval.val.sources=[{name: v, paths: ["`+c.val+`"]}]`, "max_tokens=512")
		if _, err := runToEnd(t, RunParams{Recipe: rec, RunsDir: root, Name: name}); err != nil {
			t.Fatal(err)
		}
		ev, _ := os.ReadFile(filepath.Join(root, name, EventsFile))
		if got := strings.Contains(string(ev), "is not held out"); got != (c.want != "") || !strings.Contains(string(ev), c.want) {
			t.Errorf("val %s: events.jsonl lacks %q (or warns wrongly):\n%s", c.val, c.want, ev)
		}
	}
}
