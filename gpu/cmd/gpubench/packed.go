package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/olmolab/olmolab/gpu"
	"github.com/olmolab/olmolab/model"
)

// runPacked checks and times packed scoring (Engine.LogProbsPacked, the
// path olmolab eval takes for multiple-choice questions) on the device:
// Q questions, each a context of --context tokens and --choices
// continuations of --cont tokens, scored once packed (a question a row: the
// context once, each continuation after it, masked from the others) and
// once plain (a request a row, on a Scorer of rows fitted to it, as olmes
// scores them without packing). The continuations' log-probs must agree
// within --tol; both forwards are timed (best of --reps after one untimed
// call each). The weights are random with a large spread (--init-std), so
// that a token's log-prob depends on what it attends to and a mask that
// lets one choice see another shows.
func runPacked(args []string) error {
	fs := flag.NewFlagSet("packed", flag.ExitOnError)
	backend := fs.String("backend", "cuda", "backend (its forward-only engine: model.NewScoringBackend)")
	preset := fs.String("preset", "olmo2_1B_v2", "model preset")
	heads := fs.Int("heads", 0, "override the preset's attention heads")
	kvHeads := fs.Int("kv-heads", 0, "override the key/value heads (GQA); 0 keeps as many as query heads")
	questions := fs.Int("questions", 32, "questions (packed rows)")
	choices := fs.Int("choices", 4, "continuations per question")
	ctxLen := fs.Int("context", 1024, "context tokens per question")
	contLen := fs.Int("cont", 8, "tokens per continuation")
	reps := fs.Int("reps", 3, "timed calls of each (the best is reported)")
	std := fs.Float64("init-std", 0.1, "standard deviation of the random weights")
	tol := fs.Float64("tol", 0, "largest |Δ log p| of a continuation token allowed (0: 0.15 for the bf16 engines cuda, cuda-emu and cpu-bf16, else 1e-3)")
	fs.Parse(args)
	if *tol == 0 {
		*tol = 1e-3
		if *backend == "cuda" || *backend == "cuda-emu" || strings.HasSuffix(*backend, "bf16") {
			*tol = 0.15
		}
	}
	if *questions < 1 || *choices < 1 || *ctxLen < 1 || *contLen < 1 || *reps < 1 {
		return fmt.Errorf("packed: --questions, --choices, --context, --cont and --reps must be at least 1")
	}
	cfg, err := presetWithHeads(*preset, *heads, *kvHeads)
	if err != nil {
		return err
	}
	cfg.InitializerRange = *std
	if err := cfg.Validate(); err != nil {
		return err
	}
	Q, K, C, N := *questions, *choices, *ctxLen, *contLen
	round8 := func(n int) int { return (n + 7) / 8 * 8 }
	T := round8(C + K*N) // a packed row: the context, then each continuation
	Tp := round8(C + N)  // a plain row: the context and one continuation
	be, err := model.NewScoringBackend(*backend, cfg, Q, T)
	if err != nil {
		return err
	}
	defer be.Close()
	ps, ok := be.(model.PackedScorer)
	if !ok {
		return failed{fmt.Sprintf("backend %s does not score packed rows (model.PackedScorer)", *backend)}
	}
	plainBe, _, err := model.ScoringLike(be, Q*K, Tp)
	if err != nil {
		return err
	}
	if plainBe != be {
		defer plainBe.Close()
	}
	attn := ""
	if e, ok := be.(*gpu.Engine); ok {
		attn = e.Attention().String()
		fmt.Printf("packed %s: plan %s, attention %s (packed rows run the packed forward kernels)\n", *preset, e.Plan(), attn)
	}
	lay := model.NewLayout(cfg)
	params := make([]float32, lay.Size())
	fastInit(lay, params, 1)
	be.WriteParams(params)
	params = nil

	// the requests: a token of a continuation is scored given the context and the continuation before it
	r := rand.New(rand.NewPCG(7, 7))
	tok := func() int32 { return int32(r.IntN(cfg.VocabSize - 100)) }
	ctx := make([][]int32, Q)
	cont := make([][][]int32, Q)
	for q := range Q {
		ctx[q] = make([]int32, C)
		for i := range ctx[q] {
			ctx[q][i] = tok()
		}
		cont[q] = make([][]int32, K)
		for k := range K {
			cont[q][k] = make([]int32, N)
			for i := range cont[q][k] {
				cont[q][k][i] = tok()
			}
		}
	}
	// packed rows (lab/olmes/score.go's layout): the context but its last token is the prefix; a segment is the
	// context's last token and the continuation but its last, at the positions it has alone
	P := C - 1
	ids, tgt := make([]int32, Q*T), make([]int32, Q*T)
	pk := model.Packing{Pos: make([]int32, Q*T), Seg: make([]int32, Q*T), Prefix: make([]int32, Q)}
	for q := range Q {
		row, rt := ids[q*T:(q+1)*T], tgt[q*T:(q+1)*T]
		for t := range T {
			rt[t], pk.Pos[q*T+t] = model.IgnoreIndex, int32(t)
		}
		copy(row, ctx[q][:P])
		pk.Prefix[q] = int32(P)
		at := P
		for k := range K {
			row[at] = ctx[q][P]
			copy(row[at+1:], cont[q][k][:N-1])
			copy(rt[at:], cont[q][k])
			for j := range N {
				pk.Pos[q*T+at+j], pk.Seg[q*T+at+j] = int32(P+j), int32(at)
			}
			at += N
		}
	}
	// plain rows: a request each
	pids, ptgt := make([]int32, Q*K*Tp), make([]int32, Q*K*Tp)
	for q := range Q {
		for k := range K {
			b := (q*K + k) * Tp
			row, rt := pids[b:b+Tp], ptgt[b:b+Tp]
			for t := range Tp {
				rt[t] = model.IgnoreIndex
			}
			copy(row, ctx[q])
			copy(row[C:], cont[q][k][:N-1])
			copy(rt[P:], cont[q][k])
		}
	}
	got, want := make([]float32, Q*T), make([]float32, Q*K*Tp)
	best := func(f func()) float64 {
		f() // untimed: the first call builds what later ones reuse
		b := math.Inf(1)
		for range *reps {
			t0 := time.Now()
			f()
			b = math.Min(b, time.Since(t0).Seconds())
		}
		return b
	}
	tPacked := best(func() { ps.LogProbsPacked(got, ids, tgt, pk) })
	tPlain := best(func() { plainBe.LogProbs(want, pids, ptgt) })
	worst, sum, n := 0.0, 0.0, 0
	worstAt := ""
	for q := range Q {
		for k := range K {
			for j := range N {
				a := float64(got[q*T+P+k*N+j])
				w := float64(want[(q*K+k)*Tp+P+j])
				d := math.Abs(a - w)
				if math.IsNaN(d) {
					d = math.Inf(1)
				}
				sum += d
				n++
				if d > worst || worstAt == "" {
					worst, worstAt = d, fmt.Sprintf("question %d choice %d token %d: packed %.5f, plain %.5f", q, k, j, a, w)
				}
			}
		}
	}
	verdict := "PASS"
	if !(worst <= *tol) {
		verdict = "FAIL"
	}
	fmt.Printf("worst at %s\n", worstAt)
	on := *backend
	if attn != "" {
		on += ", attention " + attn
	}
	fmt.Printf("packed %s %s on %s: %d questions × %d choices, context %d, continuation %d: max |Δ log p| %.3g (mean %.3g, tolerance %.2g); packed %d×%d %.1f ms, plain %d×%d %.1f ms (%.2f×)\n",
		verdict, *preset, on, Q, K, C, N, worst, sum/float64(n), *tol, Q, T, 1e3*tPacked, Q*K, Tp, 1e3*tPlain, tPlain/tPacked)
	result(map[string]any{"check": "packed", "backend": *backend, "preset": *preset, "attention": attn, "questions": Q,
		"choices": K, "context": C, "cont": N, "max_abs_diff": worst, "mean_abs_diff": sum / float64(n), "tol": *tol,
		"packed_ms": 1e3 * tPacked, "plain_ms": 1e3 * tPlain, "speedup": tPlain / tPacked, "pass": verdict == "PASS"})
	if verdict != "PASS" {
		return failed{fmt.Sprintf("packed log-probs differ from the plain rows' by %.3g > %.2g", worst, *tol)}
	}
	return nil
}
