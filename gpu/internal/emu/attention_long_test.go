//go:build emu

package emu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// longT is the env var naming extra sequence lengths for TestAttentionLongT
// (e.g. OLMOLAB_EMU_LONG_T=2048,4096): the emulator takes about 8 s per
// kernel family at T=1024 and four times that per doubling.
const longT = "OLMOLAB_EMU_LONG_T"

// refAttentionPar is refAttention with its heads on separate goroutines
// (each with its own dk, dv, summed at the end in head order, so the result
// does not depend on the schedule).
func refAttentionPar(c attnCase, q, k, v, do []float64) (o, dq, dk, dv []float64) {
	one := attnCase{B: c.B, T: c.T, NH: 1, NKV: 1, HS: c.HS}
	QC, KC := c.NH*c.HS, c.NKV*c.HS
	g := c.NH / c.NKV
	o, dq = make([]float64, c.B*c.T*QC), make([]float64, c.B*c.T*QC)
	dk, dv = make([]float64, c.B*c.T*KC), make([]float64, c.B*c.T*KC)
	// column slices of head h (query side) or kv head h/g: gather, compute,
	// scatter
	gather := func(src []float64, ld, col int) []float64 {
		out := make([]float64, c.B*c.T*c.HS)
		for r := 0; r < c.B*c.T; r++ {
			copy(out[r*c.HS:(r+1)*c.HS], src[r*ld+col:r*ld+col+c.HS])
		}
		return out
	}
	type part struct{ o, dq, dk, dv []float64 }
	parts := make([]part, c.NH)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for h := 0; h < c.NH; h++ {
		wg.Add(1)
		go func(h int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			kh := h / g
			ho, hdq, hdk, hdv := refAttention(one, gather(q, QC, h*c.HS), gather(k, KC, kh*c.HS), gather(v, KC, kh*c.HS),
				gather(do, QC, h*c.HS))
			parts[h] = part{ho, hdq, hdk, hdv}
		}(h)
	}
	wg.Wait()
	for h, p := range parts {
		kh := h / g
		for r := 0; r < c.B*c.T; r++ {
			for i := 0; i < c.HS; i++ {
				o[r*QC+h*c.HS+i] = p.o[r*c.HS+i]
				dq[r*QC+h*c.HS+i] = p.dq[r*c.HS+i]
				dk[r*KC+kh*c.HS+i] += p.dk[r*c.HS+i]
				dv[r*KC+kh*c.HS+i] += p.dv[r*c.HS+i]
			}
		}
	}
	return
}

// rmsRel is ‖got − want‖₂ / ‖want‖₂: unlike relErr (one element's error over
// the largest element) it sees a small error spread over many elements.
func rmsRel(got, want []float64) float64 {
	var num, den float64
	for i := range want {
		d := got[i] - want[i]
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return math.Inf(1)
		}
		num += d * d
		den += want[i] * want[i]
	}
	return math.Sqrt(num / den)
}

// TestAttentionLongT holds the mma and v2 tensor-core kernels to float64
// attention as the sequence grows (B=1, 2 query heads sharing 1 kv head, head
// size 128: olmo2_1B_v2's head size, with GQA), T = 128, 512, 1024 (about 15 s
// in all) and the lengths in $OLMOLAB_EMU_LONG_T (2048 takes about 45 s more,
// 4096 three to four minutes more). It logs, per T and output, the max relative error
// (max |x − x_ref| / max |x_ref|), the RMS relative error ‖x − x_ref‖/‖x_ref‖,
// and the RMS relative error against the reference rounded to bf16 (what
// remains beyond the rounding of the outputs themselves), and asserts:
//
//   - bounds that do not grow with T: max relative errors below 1.5e-2 (o)
//     and 3e-2 (dq, dk, dv), TestAttentionKernels' bounds at T ≤ 256, and
//     RMS relative errors of o, dq, dk, dv below 5e-3, three times the RMS
//     of rounding exact values to bf16 (relative error uniform within half
//     an ulp, 2^-8/√3 · √E[1/m²] ≈ 1.7e-3 for mantissas m log-uniform on
//     [1, 2)); lse (fp32) below 1e-5. A random walk of rounding errors over
//     T terms would grow as √T; none shows (gpu/README.md's table, to T =
//     4096): the sums over T run in fp32 (2^-24 a term), and the bf16
//     roundings of the softmax weights are independent relative errors whose
//     weighted mean shrinks as T grows, so what remains is the outputs' own
//     rounding to bf16. A bound this close to that floor catches an error
//     that grows with T.
//   - v2 is no worse than mma on the bf16 outputs o, dq, dk, dv: RMS errors
//     within 1.1× (an average over all elements, which one element rounding
//     the other way cannot move), max errors within 1.5× + 2^-9 (a bf16 ulp
//     is 2^-8 to 2^-7 of the largest element, so one element rounded the
//     other way may move the max by that much). Both round P and dS to bf16
//     before their products and accumulate in fp32, so their errors are of
//     one size. lse is fp32 and about one ulp (2^-24 ≈ 6e-8) off in both,
//     where a ratio means nothing (v2's base-2 softmax gives 4e-8 RMS to
//     mma's 3.5e-8); the 1e-5 bound holds it.
//
// Inputs are bf16 values; q and k of standard deviation $OLMOLAB_EMU_QK_STD
// (default 1: scores q·k/√HS of standard deviation 1, as after QK-norm,
// gpubench attn's inputs; 1.5 gives rows dominated by a few keys), v of 1,
// dout of 0.1.
func TestAttentionLongT(t *testing.T) {
	Ts := []int{128, 512, 1024}
	if s := os.Getenv(longT); s != "" {
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				t.Fatalf("%s=%q: want comma-separated sequence lengths", longT, s)
			}
			Ts = append(Ts, n)
		}
	}
	qkStd := 1.0
	if s := os.Getenv("OLMOLAB_EMU_QK_STD"); s != "" {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || !(x > 0) {
			t.Fatalf("OLMOLAB_EMU_QK_STD=%q: want a positive number", s)
		}
		qkStd = x
	}
	runs := []attnRun{{kind: "mma"}, {kind: "v2", nw: [3]int{8, 4, 4}}}
	outs := []string{"o", "lse", "dq", "dk", "dv"}
	type errs struct{ max, rms, inner map[string]float64 }
	var table []string
	for _, T := range Ts {
		c := attnCase{B: 1, T: T, NH: 2, NKV: 1, HS: 128}
		r := rand.New(rand.NewPCG(uint64(T), 7))
		rnd := func(n int, s float64) []float64 {
			x := make([]float64, n)
			for i := range x {
				x[i] = roundBF16(r.NormFloat64() * s)
			}
			return x
		}
		R, QC, KC := c.B*c.T, c.NH*c.HS, c.NKV*c.HS
		q, k, v, do := rnd(R*QC, qkStd), rnd(R*KC, qkStd), rnd(R*KC, 1), rnd(R*QC, 0.1)
		o, dq, dk, dv := refAttentionPar(c, q, k, v, do)
		lse := refLSE(c, q, k)
		want := map[string][]float64{"o": o, "lse": lse, "dq": dq, "dk": dk, "dv": dv}
		// the best a kernel writing bf16 can do: the reference rounded (lse is f32)
		rounded := map[string][]float64{"lse": lse}
		for _, n := range []string{"o", "dq", "dk", "dv"} {
			x := make([]float64, len(want[n]))
			for i, w := range want[n] {
				x[i] = roundBF16(w)
			}
			rounded[n] = x
		}
		bound := map[string]float64{"o": 1.5e-2, "lse": 1e-5, "dq": 3e-2, "dk": 3e-2, "dv": 3e-2}
		got := make([]errs, len(runs))
		for i, run := range runs {
			t.Run(fmt.Sprintf("%s_T%d", run.kind, T), func(t *testing.T) {
				out := runAttention(t, c, run, q, k, v, do)
				res := map[string][]float64{"o": out.o, "lse": out.lse, "dq": out.dq, "dk": out.dk, "dv": out.dv}
				e := errs{map[string]float64{}, map[string]float64{}, map[string]float64{}}
				for _, n := range outs {
					e.max[n], e.rms[n] = relErr(res[n], want[n]), rmsRel(res[n], want[n])
					e.inner[n] = rmsRel(res[n], rounded[n])
					if !(e.max[n] < bound[n]) {
						t.Errorf("%s: max rel err %.3g ≥ %.3g", n, e.max[n], bound[n])
					}
					if n != "lse" && !(e.rms[n] < 5e-3) {
						t.Errorf("%s: rms rel err %.3g ≥ 5e-3", n, e.rms[n])
					}
				}
				got[i] = e
			})
		}
		if got[0].max == nil || got[1].max == nil {
			continue
		}
		for _, n := range outs {
			m, v2 := got[0].max[n], got[1].max[n]
			if n != "lse" && !(v2 <= 1.5*m+1.0/512) {
				t.Errorf("T=%d %s: v2's max rel err %.3g is worse than mma's %.3g (allowed 1.5× + 2^-9)", T, n, v2, m)
			}
			if mr, vr := got[0].rms[n], got[1].rms[n]; n != "lse" && !(vr <= 1.1*mr) {
				t.Errorf("T=%d %s: v2's rms rel err %.3g is worse than mma's %.3g (allowed 1.1×)", T, n, vr, mr)
			}
			table = append(table, fmt.Sprintf("| %d | %s | %.2e | %.2e | %.2e | %.2e | %.2e | %.2e |", T, n, m, v2,
				got[0].rms[n], got[1].rms[n], got[0].inner[n], got[1].inner[n]))
		}
	}
	t.Logf("errors against float64 attention (B=1, NH=2, NKV=1, HS=128, q and k of std %g):\n"+
		"| T | output | max rel, mma | max rel, v2 | rms rel, mma | rms rel, v2 | rms rel to rounded ref, mma | same, v2 |\n%s", qkStd, strings.Join(table, "\n"))
}
