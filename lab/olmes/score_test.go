package olmes

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
)

// fakeBackend is a Backend whose log-probabilities are known: log p(target) = −0.01·(target+1), whatever the
// input. It checks the shapes it is given and counts forwards.
type fakeBackend struct {
	model.Backend // only the methods below are used
	B, T          int
	V             int
	forwards      int
	keepRows      bool
	rows          [][]int32 // with keepRows, the inputs of every non-empty row seen
}

func (f *fakeBackend) Name() string           { return "fake" }
func (f *fakeBackend) MicroBatch() (int, int) { return f.B, f.T }
func (f *fakeBackend) Config() model.Config   { return model.Config{VocabSize: f.V} }
func (f *fakeBackend) LogProbs(dst []float32, ids, targets []int32) {
	if len(dst) != f.B*f.T || len(ids) != f.B*f.T || len(targets) != f.B*f.T {
		panic("fake: wrong micro-batch shape")
	}
	f.forwards++
	for b := range f.B {
		labelled := false
		for p := b * f.T; p < (b+1)*f.T; p++ {
			dst[p] = 0
			if targets[p] != model.IgnoreIndex {
				dst[p] = -0.01 * float32(targets[p]+1)
				labelled = true
			}
		}
		if labelled && f.keepRows {
			f.rows = append(f.rows, append([]int32(nil), ids[b*f.T:(b+1)*f.T]...))
		}
	}
}

// fakeLL is the fake's log-probability of a byte string.
func fakeLL(s string) float64 {
	var ll float64
	for i := 0; i < len(s); i++ {
		ll += float64(float32(-0.01 * float32(int32(s[i])+1)))
	}
	return ll
}

func bytesTok(t testing.TB) data.Tokenizer {
	tok, err := data.NewTokenizer("bytes")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestEvaluateFake runs Evaluate end to end on a backend with known log-probabilities and checks the metric
// arithmetic by hand, the whitespace rule, de-duplication, batching and left truncation.
func TestEvaluateFake(t *testing.T) {
	tok := bytesTok(t)
	be := &fakeBackend{B: 3, T: 16, V: tok.VocabSize()}
	// Under the fake, smaller bytes are likelier: " 4" beats " 5", "a" beats "b".
	task := &Task{Name: "toy", Formulation: RC, Primary: MetricAccPerChar, Instances: []Instance{
		{Gold: 0, Choices: []Pair{{"Q: 2+2\nA:", " 4"}, {"Q: 2+2\nA:", " 5"}}}, // right
		{Gold: 1, Choices: []Pair{{"Q: 2+2\nA:", " 4"}, {"Q: 2+2\nA:", " 5"}}}, // wrong; same requests
		// Trailing whitespace moves onto the continuation: scored as " b" and " aaaa", counted as "b", "aaaa".
		{Gold: 0, Choices: []Pair{{"Pick: ", "b"}, {"Pick: ", "aaaa"}}},
	}}
	res, err := Evaluate(context.Background(), be, tok, []*Task{task}, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 4 || res.AllRequests != 6 || res.Forwards != 2 || be.forwards != 2 {
		t.Errorf("requests %d of %d, forwards %d (backend saw %d), want 4 distinct of 6 requests in 2 forwards", res.Requests, res.AllRequests, res.Forwards, be.forwards)
	}
	// the table says both: OLMES's count (a request dump's lines) and what was scored
	var tab strings.Builder
	res.WriteTable(&tab)
	if !strings.Contains(tab.String(), "6 requests (4 distinct) in 2 forwards") {
		t.Errorf("table:\n%s", tab.String())
	}
	s := res.Scores[0]
	// Doc 3: ll(" b") = −0.01·(33+99) = −1.32 > ll(" aaaa") = −0.01·(33+4·98) = −4.25, so raw picks "b" (gold).
	// Per char ("b": 1, "aaaa": 4): −1.32 vs −1.0625 picks "aaaa"; per token (2 vs 5 byte tokens): −0.66 vs −0.85
	// picks "b"; per byte is per char here.
	want := map[string]float64{
		MetricAccRaw:      2.0 / 3,
		MetricAccPerToken: 2.0 / 3,
		MetricAccPerChar:  1.0 / 3,
		MetricAccPerByte:  1.0 / 3,
		MetricLL:          (fakeLL(" 4") + fakeLL(" 5") + fakeLL(" b")) / 3,
		MetricBPB:         -Log2E * (fakeLL(" 4")/2 + fakeLL(" 5")/2 + fakeLL(" b")/1) / 3,
	}
	for k, v := range want {
		if math.Abs(s.Metrics[k]-v) > 1e-9 {
			t.Errorf("%s = %v, want %v", k, s.Metrics[k], v)
		}
	}
	if _, ok := s.Metrics[MetricAccUncond]; ok {
		t.Error("acc_uncond without unconditional requests")
	}
	if s.PrimaryScore() != s.Metrics[MetricAccPerChar] {
		t.Error("primary score is not acc_per_char")
	}

	// Left truncation: with T = 8 the input is the last 9 tokens of context + continuation minus one, so only
	// the last 8 continuation bytes are scored; the token count stays the full continuation.
	be = &fakeBackend{B: 2, T: 8, V: tok.VocabSize(), keepRows: true}
	long := " abcdefghijkl"
	task = &Task{Name: "trunc", Primary: MetricAccRaw, Instances: []Instance{{Gold: 0, Choices: []Pair{{"Context that is long", long}}}}}
	res, err = Evaluate(context.Background(), be, tok, []*Task{task}, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Scores[0].Metrics[MetricLL], fakeLL(long[len(long)-8:]); math.Abs(got-want) > 1e-9 {
		t.Errorf("truncated ll = %v, want %v", got, want)
	}
	if got := res.Scores[0].Metrics[MetricLLPerToken]; math.Abs(got-fakeLL(long[len(long)-8:])/13) > 1e-9 {
		t.Errorf("per-token ll = %v, want ll/13", got)
	}
	if res.Truncated != 1 || res.Longest != 32 || MaxInputLength(tok, []*Task{task}) != 32 {
		t.Errorf("truncated %d, longest %d (MaxInputLength %d), want 1 and 20+13−1 = 32", res.Truncated, res.Longest, MaxInputLength(tok, []*Task{task}))
	}
	if row := be.rows[0]; string(tokBytes(row)) != "defghijk" {
		t.Errorf("truncated input row %q", tokBytes(row))
	}
}

func tokBytes(ids []int32) []byte {
	var b []byte
	for _, id := range ids {
		if id < 256 {
			b = append(b, byte(id))
		}
	}
	return b
}

// TestEvaluateErrors: a tokenizer larger than the model, a cancelled context, an empty task.
func TestEvaluateErrors(t *testing.T) {
	tok := bytesTok(t)
	task := &Task{Name: "toy", Primary: MetricAccRaw, Instances: []Instance{{Gold: 0, Choices: []Pair{{"a", " b"}, {"a", " c"}}}}}
	if _, err := Evaluate(context.Background(), &fakeBackend{B: 1, T: 8, V: 100}, tok, []*Task{task}, EvalOptions{}); !IsInputError(err) {
		t.Errorf("vocabulary mismatch: got %v, want an InputError", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Evaluate(ctx, &fakeBackend{B: 1, T: 8, V: 384}, tok, []*Task{task}, EvalOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
	if _, err := Evaluate(context.Background(), &fakeBackend{B: 1, T: 8, V: 384}, tok, []*Task{{Name: "empty"}}, EvalOptions{}); !IsInputError(err) {
		t.Errorf("empty task: got %v", err)
	}
}

func tinyCPU(t testing.TB, vocab, B, T int) *model.CPUBackend {
	t.Helper()
	cfg := model.Config{VocabSize: vocab, HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, MaxPositionEmbeddings: 512, RopeTheta: 500000,
		RMSNormEps: 1e-6, InitializerRange: 0.02}
	be := model.NewCPUBackend(cfg, B, T, 2)
	model.Init(be.E.Layout, be.E.Params, 3)
	for i := range be.E.Params {
		be.E.Params[i] *= 20 // far from uniform, so that choices differ
	}
	return be
}

// TestEvaluateCPUMatchesDirect scores requests with Evaluate on a small random CPU model, batched four to a
// forward, and compares every log-likelihood with one computed directly: the sequence alone in a B=1 backend,
// log-softmax of its logits at each continuation position.
func TestEvaluateCPUMatchesDirect(t *testing.T) {
	tok := bytesTok(t)
	const T = 40
	be := tinyCPU(t, tok.VocabSize(), 4, T)
	defer be.Close()
	one := model.NewCPUBackend(be.Config(), 1, T, 1)
	defer one.Close()
	copy(one.E.Params, be.E.Params)

	ctx := "Question: What do bees make?\nAnswer:"
	conts := []string{" honey", " wax", " noise", " a very long answer that will not fit in the window"}
	task := &Task{Name: "bees", Primary: MetricAccRaw, Instances: []Instance{{Gold: 0}}}
	for _, c := range conts {
		task.Instances[0].Choices = append(task.Instances[0].Choices, Pair{ctx, c})
	}
	task.Instances[0].Uncond = []Pair{{UncondContext, conts[0]}, {UncondContext, conts[1]}, {UncondContext, conts[2]}, {UncondContext, conts[3]}}
	res, err := Evaluate(context.Background(), be, tok, []*Task{task}, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Forwards != 2 {
		t.Errorf("%d forwards for 8 requests at B=4", res.Forwards)
	}
	V := tok.VocabSize()
	logits := make([]float32, T*V)
	direct := func(c, cont string) float64 {
		ids := tok.Encode(nil, c+cont)
		nctx := len(tok.Encode(nil, c))
		if len(ids) > T+1 {
			drop := len(ids) - (T + 1)
			ids, nctx = ids[drop:], max(0, nctx-drop)
		}
		in := make([]int32, T)
		copy(in, ids[:len(ids)-1])
		for p := len(ids) - 1; p < T; p++ {
			in[p] = tok.PAD()
		}
		one.Logits(logits, in)
		var ll float64
		for p := max(nctx, 1) - 1; p < len(ids)-1; p++ {
			row := logits[p*V : (p+1)*V]
			mx := math.Inf(-1)
			for _, x := range row {
				mx = math.Max(mx, float64(x))
			}
			var z float64
			for _, x := range row {
				z += math.Exp(float64(x) - mx)
			}
			ll += float64(row[ids[p+1]]) - mx - math.Log(z)
		}
		return ll
	}
	var want []ChoiceResult
	for _, c := range conts {
		want = append(want, ChoiceResult{LogProb: direct(ctx, c), Tokens: len(c), LogProbUncond: direct(UncondContext, c)})
	}
	m := DocMetrics(conts, want, 0, true)
	for _, k := range []string{MetricLL, MetricLLPerChar, MetricBPB, MetricAccRaw, MetricAccPerChar, MetricAccUncond} {
		if got := res.Scores[0].Metrics[k]; math.Abs(got-m[k]) > 2e-3*math.Max(1, math.Abs(m[k])) {
			t.Errorf("%s: Evaluate %v, direct %v", k, got, m[k])
		}
	}
	t.Logf("ll(gold) Evaluate %.5f direct %.5f", res.Scores[0].Metrics[MetricLL], m[MetricLL])
}

// TestEvaluateReshape: with Reshape, short requests are scored on a backend of the same kind and weights whose
// rows fit them (here 2×64 becomes 16×8: inputs are at most 5 tokens), with the same results; a backend that cannot be rebuilt is used as is.
func TestEvaluateReshape(t *testing.T) {
	tok := bytesTok(t)
	be := tinyCPU(t, tok.VocabSize(), 2, 64)
	defer be.Close()
	task := &Task{Name: "short", Primary: MetricAccRaw}
	for i, q := range []string{"1+1=", "2+2=", "3+3=", "4+4="} {
		in := Instance{DocID: i, Gold: i % 2}
		for _, c := range []string{" 2", " 4", " 6", " 8"} {
			in.Choices = append(in.Choices, Pair{q, c})
		}
		task.Instances = append(task.Instances, in)
	}
	plain, err := Evaluate(context.Background(), be, tok, []*Task{task}, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fit, err := Evaluate(context.Background(), be, tok, []*Task{task}, EvalOptions{Reshape: true})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Batch != [2]int{2, 64} || fit.Batch != [2]int{16, 8} || fit.Forwards != 1 || plain.Forwards != 8 {
		t.Errorf("shapes %v (%d forwards) and %v (%d forwards)", plain.Batch, plain.Forwards, fit.Batch, fit.Forwards)
	}
	for k, v := range plain.Scores[0].Metrics {
		if math.Abs(fit.Scores[0].Metrics[k]-v) > 1e-4*math.Max(1, math.Abs(v)) {
			t.Errorf("%s: %v reshaped, %v plain", k, fit.Scores[0].Metrics[k], v)
		}
	}
	fake := &fakeBackend{B: 2, T: 64, V: tok.VocabSize()}
	res, err := Evaluate(context.Background(), fake, tok, []*Task{task}, EvalOptions{Reshape: true})
	if err != nil || res.Batch != [2]int{2, 64} {
		t.Errorf("unregistered backend: %v %v", res.Batch, err)
	}
}

// TestEvaluateReshapeSharesWeights: on the CPU engine the reshaped scoring runs on a Scorer over the backend's own
// parameters. Its scores are bit for bit those of a second engine of the same shape holding a copy of the weights
// (the way Evaluate scored before), and the evaluation allocates less than one copy of the model, which here is
// larger than everything else it needs (a second engine allocated 20 bytes per parameter, with gradients and AdamW moments).
func TestEvaluateReshapeSharesWeights(t *testing.T) {
	tok := bytesTok(t)
	// wide and short, so the weights (20 MB) outweigh a scorer's activations and GEMM buffers (about 11 MB)
	cfg := model.Config{VocabSize: tok.VocabSize(), HiddenSize: 512, IntermediateSize: 1024, NumHiddenLayers: 2,
		NumAttentionHeads: 8, NumKeyValueHeads: 4, MaxPositionEmbeddings: 512, RopeTheta: 500000,
		RMSNormEps: 1e-6, InitializerRange: 0.02}
	// engines without optimizer state: nothing here trains
	be := &model.CPUBackend{E: model.NewCPU[float32](cfg, 1, 64, 2)}
	defer be.Close()
	model.Init(be.E.Layout, be.E.Params, 5)
	for i := range be.E.Params {
		be.E.Params[i] *= 8 // far from uniform, so that choices differ
	}
	task := &Task{Name: "short", Primary: MetricAccRaw}
	for i, q := range []string{"1+1=", "2+2=", "3+3=", "4+4=", "5+5="} {
		in := Instance{DocID: i, Gold: i % 3}
		for _, c := range []string{" 2", " 4", " 6", " 8", " 10"} {
			in.Choices = append(in.Choices, Pair{q, c})
		}
		task.Instances = append(task.Instances, in)
	}

	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	fit, err := Evaluate(context.Background(), be, tok, []*Task{task}, EvalOptions{Reshape: true})
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatal(err)
	}
	model1 := 4 * cfg.NumParams()
	alloc := int64(m1.TotalAlloc - m0.TotalAlloc)
	t.Logf("reshaped to %v: allocated %d bytes (the scorer's buffers: %d); one copy of the model is %d",
		fit.Batch, alloc, model.EstimateCPUScorerMemory(cfg, fit.Batch[0], fit.Batch[1]), model1)
	if alloc >= model1 {
		t.Errorf("Evaluate with Reshape allocated %d bytes, at least a copy of the model (%d): the reshaped engine should share its parameters", alloc, model1)
	}

	// the old way: an engine of the reshaped shape with a copy of the weights
	B2, T2 := fit.Batch[0], fit.Batch[1]
	if T2 >= 64 {
		t.Fatalf("no reshape: scored in %v", fit.Batch)
	}
	cp := &model.CPUBackend{E: model.NewCPU[float32](cfg, B2, T2, 2)}
	defer cp.Close()
	model.CopyParams(cp, be, model.NewStreamBuf(model.NewLayout(cfg).Size()))
	want, err := Evaluate(context.Background(), cp, tok, []*Task{task}, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want.Batch != fit.Batch || want.Forwards != fit.Forwards {
		t.Errorf("copy scored in %v (%d forwards), shared in %v (%d)", want.Batch, want.Forwards, fit.Batch, fit.Forwards)
	}
	n := 0
	for k, v := range want.Scores[0].Metrics {
		n++
		if got := fit.Scores[0].Metrics[k]; got != v && !(math.IsNaN(got) && math.IsNaN(v)) {
			t.Errorf("%s: %v shared, %v copied (diff %g)", k, got, v, got-v)
		}
	}
	if n == 0 || len(fit.Scores[0].Metrics) != n {
		t.Errorf("metrics: %d shared, %d copied", len(fit.Scores[0].Metrics), n)
	}
}

// TestWriteTableColumns: the table has a column per metric some row defines,
// not one per metric there is: eval --tasks "" --val 8K (validation loss only)
// printed six accuracy columns of "-" before its two, and a table of built-in
// tasks an acc_uncond column of "-".
func TestWriteTableColumns(t *testing.T) {
	val := Score{Task: "val/web", Formulation: LM, Primary: MetricCELoss, Instances: 3, Metrics: map[string]float64{MetricCELoss: 2.5, MetricBitsPerByte: 0.9}}
	rc := Score{Task: "arith", Formulation: RC, Group: "unseen", Primary: MetricAccRaw, Instances: 5,
		Metrics: map[string]float64{MetricAccRaw: 0.4, MetricAccPerToken: 0.4, MetricAccPerChar: 0.2, MetricAccPerByte: 0.2, MetricBPB: 1.5}}
	for _, c := range []struct {
		name   string
		scores []Score
		head   string
	}{
		{"validation only", []Score{val}, "task form group n primary score ce_loss bits_per_byte"},
		{"built-in tasks", []Score{rc}, "task form group n primary score acc_raw acc_per_token acc_per_char acc_per_byte bits_per_byte_corr"},
		{"both", []Score{rc, val}, "task form group n primary score acc_raw acc_per_token acc_per_char acc_per_byte bits_per_byte_corr ce_loss bits_per_byte"},
	} {
		var b strings.Builder
		if err := (Results{Scores: c.scores}).WriteTable(&b); err != nil {
			t.Fatal(err)
		}
		if head := strings.Join(strings.Fields(strings.SplitN(b.String(), "\n", 2)[0]), " "); head != c.head {
			t.Errorf("%s: head %q, want %q\n%s", c.name, head, c.head, b.String())
		}
	}
}

// TestScoreFittedShapes: with fit (EvalOptions.Reshape), requests of very different lengths (5-shot contexts and
// the few tokens of unconditional requests) are scored longest first on several shapes of rows fitted to them,
// each with no more than a quarter of padding beyond the rounding to 8, and give the log-probs that one request
// per row of the backend's own shape gives, within float32 rounding.
func TestScoreFittedShapes(t *testing.T) {
	const B, T = 4, 256
	be := tinyCPU(t, 64, B, T)
	defer be.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	var reqs []encodedReq
	for i := range 90 {
		n := 2 + rng.IntN(12)
		if i%3 == 0 {
			n = 20 + rng.IntN(280) // some longer than T: left-truncated
		}
		r := encodedReq{ctx: make([]int32, n), cont: make([]int32, 1+rng.IntN(4))}
		for j := range r.ctx {
			r.ctx[j] = int32(rng.IntN(62))
		}
		for j := range r.cont {
			r.cont[j] = int32(rng.IntN(62))
		}
		reqs = append(reqs, r)
	}
	plain, pn, pst, err := scoreRequests(context.Background(), be, reqs, 0, 63, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	fit, fn, fst, err := scoreRequests(context.Background(), be, reqs, 0, 63, true, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pst.Shapes) != 1 || pst.Shapes[0] != [2]int{B, T} || len(fst.Shapes) < 3 {
		t.Fatalf("shapes: plain %v, fitted %v", pst.Shapes, fst.Shapes)
	}
	for i, s := range fst.Shapes {
		if s[0]*s[1] > B*T || s[1]%8 != 0 || (i > 0 && 4*s[1] > 3*fst.Shapes[i-1][1]) {
			t.Errorf("shape %d: %v (%v)", i, s, fst.Shapes)
		}
	}
	if fst.Forwards >= pst.Forwards || fst.Tokens != pst.Tokens || fst.Longest != pst.Longest || fst.Trunc != pst.Trunc || fst.Trunc == 0 {
		t.Errorf("stats: plain %+v, fitted %+v", pst, fst)
	}
	worst := 0.0
	for i := range reqs {
		d := math.Abs(fit[i]-plain[i]) / math.Max(1, math.Abs(plain[i]))
		worst = max(worst, d)
		if d > 1e-5 || fn[i] != pn[i] {
			t.Errorf("request %d (%d+%d tokens): fitted %v (%d tokens), plain %v (%d)", i, len(reqs[i].ctx), len(reqs[i].cont), fit[i], fn[i], plain[i], pn[i])
		}
	}
	t.Logf("%d requests: %d forwards on %v, %d plain; largest relative difference %.3g", len(reqs), fst.Forwards, fst.Shapes, pst.Forwards, worst)
}

// TestScorePacked: with fit on the CPU engine, the continuations of a shared context are scored in one row after
// one copy of it (a context of 150 tokens and five of 30 to 32 tokens take two rows of 256), and give the
// log-probs of one request per row within float32 rounding; contexts too short to be worth it, requests cut to the
// context length and requests alone with their context keep rows of their own.
func TestScorePacked(t *testing.T) {
	const B, T = 4, 256
	be := tinyCPU(t, 64, B, T)
	defer be.Close()
	rng := rand.New(rand.NewPCG(11, 12))
	toks := func(n int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(rng.IntN(62))
		}
		return s
	}
	var reqs []encodedReq
	for _, g := range []struct{ ctx, k, cont int }{
		{40, 4, 3}, {120, 5, 6}, {33, 2, 1}, {150, 5, 30}, {300, 3, 2}, {10, 4, 3}, {90, 1, 4}, {2, 6, 5},
	} {
		c := toks(g.ctx)
		for range g.k {
			reqs = append(reqs, encodedReq{ctx: c, cont: toks(g.cont + rng.IntN(3))})
		}
	}
	plain, pn, pst, err := scoreRequests(context.Background(), be, reqs, 0, 63, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, gn, gst, err := scoreRequests(context.Background(), be, reqs, 0, 63, true, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	us := units(reqs, T, true)
	var rows []int
	for _, u := range us {
		rows = append(rows, len(u.reqs))
	}
	// 4 + 5 + 2 in one row each, the 150-token context in two, the cut, short and lone ones alone
	if want := []int{4, 5, 2, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}; !slices.Equal(rows, want) {
		t.Errorf("requests per row %v, want %v", rows, want)
	}
	if gst.Tokens >= pst.Tokens*2/3 || gst.Longest != pst.Longest || gst.Trunc != pst.Trunc || gst.Trunc != 3 {
		t.Errorf("stats: plain %+v, packed %+v", pst, gst)
	}
	worst := 0.0
	for i := range reqs {
		d := math.Abs(got[i]-plain[i]) / math.Max(1, math.Abs(plain[i]))
		worst = max(worst, d)
		if d > 2e-5 || gn[i] != pn[i] || got[i] == 0 {
			t.Errorf("request %d (%d+%d tokens): packed %v, plain %v", i, len(reqs[i].ctx), len(reqs[i].cont), got[i], plain[i])
		}
	}
	t.Logf("%d requests: %d tokens in %d forwards on %v, plain %d in %d; largest relative difference %.3g", len(reqs), gst.Tokens, gst.Forwards, gst.Shapes, pst.Tokens, pst.Forwards, worst)
}

// TestScoreFittedShapesFreeTheirBuffers: the buffers of a shape left behind are collected before the next shape's
// are allocated, so scoring on several shapes holds about one scorer's buffers at a time (here with the collector
// off, as a large model's heap is before it grows by half: each shape's buffers stayed until then).
func TestScoreFittedShapesFreeTheirBuffers(t *testing.T) {
	const B, T = 4, 256
	be := tinyCPU(t, 64, B, T)
	defer be.Close()
	rng := rand.New(rand.NewPCG(13, 14))
	var reqs []encodedReq
	for _, n := range []int{250, 180, 130, 90, 60, 40, 25, 12, 6} {
		for range 40 { // rows of several forwards at each length
			r := encodedReq{ctx: make([]int32, n), cont: []int32{1, 2}}
			for j := range r.ctx {
				r.ctx[j] = int32(rng.IntN(62))
			}
			reqs = append(reqs, r)
		}
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	_, _, st, err := scoreRequests(context.Background(), be, reqs, 0, 63, true, true, func(int, int) {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	})
	if err != nil {
		t.Fatal(err)
	}
	one := uint64(model.EstimateCPUScorerMemory(be.Config(), B, T))
	if len(st.Shapes) < 5 || peak-base > 3*one {
		t.Errorf("%d shapes %v: the heap grew by %d bytes, one scorer's buffers are about %d", len(st.Shapes), st.Shapes, peak-base, one)
	}
	t.Logf("%d shapes: the heap grew by %.1f scorers' buffers at most", len(st.Shapes), float64(peak-base)/float64(one))
}

// TestScoreFittedRows: fitted shapes have no more rows than the requests they score, shared evenly between their
// forwards: 16 short requests on a 8×64 engine ran on one forward of 64×8 (48 rows of padding), 80 on 64 and 16 of
// 64×8; now 16×8 and 2 of 40×8. The log-probs are the bits of the engine's rows (a CPU row is computed alone).
func TestScoreFittedRows(t *testing.T) {
	const B, T = 8, 64
	be := tinyCPU(t, 64, B, T)
	defer be.Close()
	wide := be.Scorer(B*T/8, 8) // the shape fitted rows took before
	defer wide.Close()
	rng := rand.New(rand.NewPCG(15, 16))
	for _, c := range []struct {
		n      int
		shapes [][2]int
		fwd    int
	}{
		{16, [][2]int{{16, 8}}, 1},
		{80, [][2]int{{40, 8}}, 2},
		{64, [][2]int{{64, 8}}, 1},
	} {
		var reqs []encodedReq
		for range c.n {
			r := encodedReq{ctx: make([]int32, 2+rng.IntN(4)), cont: make([]int32, 1+rng.IntN(3))}
			for j := range r.ctx {
				r.ctx[j] = int32(rng.IntN(62))
			}
			for j := range r.cont {
				r.cont[j] = int32(rng.IntN(62))
			}
			reqs = append(reqs, r)
		}
		got, _, st, err := scoreRequests(context.Background(), be, reqs, 0, 63, true, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, _, wst, err := scoreRequests(context.Background(), wide, reqs, 0, 63, false, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(st.Shapes, c.shapes) || st.Forwards != c.fwd {
			t.Errorf("%d requests: %d forwards on %v, want %d on %v (before: %d on %v)", c.n, st.Forwards, st.Shapes, c.fwd, c.shapes, wst.Forwards, wst.Shapes)
		}
		for i := range reqs {
			if got[i] != want[i] {
				t.Errorf("%d requests: request %d scored %v on %v, %v on %v", c.n, i, got[i], st.Shapes, want[i], wst.Shapes)
				break
			}
		}
	}
}

// TestEvaluateNotesOnce: a note two tasks share (boolq's missing titles, of its MC and RC tasks) is said once.
func TestEvaluateNotesOnce(t *testing.T) {
	tok := bytesTok(t)
	be := &fakeBackend{B: 2, T: 16, V: tok.VocabSize()}
	in := []Instance{{Gold: 0, Choices: []Pair{{"Q:", " yes"}, {"Q:", " no"}}}}
	tasks := []*Task{
		{Name: "boolq", Formulation: RC, Primary: MetricAccRaw, Instances: in, Notes: []string{"boolq: no titles"}},
		{Name: "boolq", Formulation: MC, Primary: MetricAccRaw, Instances: in, Notes: []string{"boolq: no titles", "other"}},
	}
	res, err := Evaluate(context.Background(), be, tok, tasks, EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"boolq: no titles", "other"}; !slices.Equal(res.Notes, want) {
		t.Errorf("notes %q, want %q", res.Notes, want)
	}
}
