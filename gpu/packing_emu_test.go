//go:build emu

package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/olmolab/olmolab/model"
)

// packedBatch is a micro-batch of packed rows (model.Packing) and, for each
// scored position, where the same token is scored in a plain batch of the
// prefix and one segment alone per row (or a plain row as it is).
type packedBatch struct {
	ids, tgt         []int32 // (B,T) packed
	pk               model.Packing
	refIDs, refTgt   []int32 // (RB,T) plain
	RB               int
	packedAt, refAt  []int // scored positions: packed index, plain index
	segments, padded int
}

// newPackedBatch lays out rows with 1 to 4 segments after prefixes of 70
// (across a 64-key tile), 20 and 1 tokens, and a plain row, each padded to
// T = 80 with ignored targets (olmes's layout: a segment's first token is
// the context's last, every segment token has a target).
func newPackedBatch(V int, seed uint64) *packedBatch {
	const T = 80
	rows := []struct {
		prefix int
		segs   []int // lengths; none: a plain row of prefix tokens
	}{{70, []int{9}}, {20, []int{5, 12, 3, 7}}, {50, nil}, {1, []int{30, 40}}}
	B := len(rows)
	rng := rand.New(rand.NewPCG(seed, 3))
	tok := func() int32 { return int32(rng.IntN(V)) }
	p := &packedBatch{ids: make([]int32, B*T), tgt: make([]int32, B*T),
		pk: model.Packing{Pos: make([]int32, B*T), Seg: make([]int32, B*T), Prefix: make([]int32, B)}}
	for i := range p.tgt {
		p.ids[i], p.tgt[i], p.pk.Pos[i] = tok(), model.IgnoreIndex, int32(i%T)
	}
	ref := func() (ids, tgt []int32, base int) {
		base = p.RB * T
		p.RB++
		p.refIDs = append(p.refIDs, make([]int32, T)...)
		p.refTgt = append(p.refTgt, make([]int32, T)...)
		ids, tgt = p.refIDs[base:base+T], p.refTgt[base:base+T]
		for i := range tgt {
			ids[i], tgt[i] = tok(), model.IgnoreIndex
		}
		return ids, tgt, base
	}
	for b, r := range rows {
		row, rt := p.ids[b*T:(b+1)*T], p.tgt[b*T:(b+1)*T]
		for t := range r.prefix {
			rt[t] = tok() // the prefix scored too: its rows must be the plain row's
		}
		if r.segs == nil {
			ids, tgt, base := ref()
			copy(ids, row[:r.prefix])
			copy(tgt, rt[:r.prefix])
			for t := range r.prefix {
				p.packedAt, p.refAt = append(p.packedAt, b*T+t), append(p.refAt, base+t)
			}
			p.padded += T - r.prefix
			continue
		}
		p.pk.Prefix[b] = int32(r.prefix)
		at := r.prefix
		for i, n := range r.segs {
			ids, tgt, base := ref()
			copy(ids, row[:r.prefix])
			copy(tgt, rt[:r.prefix])
			if i == 0 {
				for t := range r.prefix {
					p.packedAt, p.refAt = append(p.packedAt, b*T+t), append(p.refAt, base+t)
				}
			}
			for j := range n {
				rt[at+j] = tok()
				p.pk.Pos[b*T+at+j], p.pk.Seg[b*T+at+j] = int32(r.prefix+j), int32(at)
				ids[r.prefix+j], tgt[r.prefix+j] = row[at+j], rt[at+j]
				p.packedAt, p.refAt = append(p.packedAt, b*T+at+j), append(p.refAt, base+r.prefix+j)
			}
			at += n
			p.segments++
		}
		p.padded += T - at
	}
	return p
}

// maxAbsAt is the largest |got[i] − want[j]| over the pairs (i, j) of at
// and wat, with its index in at.
func maxAbsAt(got, want []float32, at, wat []int) (float64, int) {
	m, w := 0.0, -1
	for k := range at {
		d := math.Abs(float64(got[at[k]]) - float64(want[wat[k]]))
		if !(d <= m) {
			m, w = d, k
		}
	}
	return m, w
}

// TestLogProbsPacked: the GPU engines score packed rows (LogProbsPacked: a
// shared prefix once, segments after it at their own positions, each
// masked from the others) as the prefix and each segment alone in a plain
// row: within float32 rounding on the fp32 engine (plain kernels), within
// bf16 rounding on the bf16 engines (the mma kernel at head sizes 64 and
// 128, mma's packed forward under v2 and cuDNN, the plain kernels at head
// size 8), with GQA, in passes, on a training engine and on a Scorer; and
// as the CPU's LogProbsPacked within the engines' tolerance against the
// CPU. Rows hold 1 to 4 segments and padding; targets in the padding are
// ignored and score 0.
func TestLogProbsPacked(t *testing.T) {
	c128 := smallConfig(256, 4, 2, 128)
	for _, c := range []struct {
		name     string
		cfg      model.Config
		opts     Options
		train    bool
		tol, cpu float64 // max |Δ log p| against the plain rows, against the CPU
	}{
		{"fp32", mmaConfig(), Options{FP32: true}, false, 1e-6, 1e-5},
		{"fp32-train-passes", smallConfig(48, 6, 2, 8), Options{FP32: true, MicroBatch: 1}, true, 1e-6, 1e-5},
		{"bf16-mma64", mmaConfig(), Options{}, false, 0.02, 0.04},
		{"bf16-mma128-gqa", c128, Options{}, false, 0.02, 0.04},
		{"bf16-v2-train-passes", mmaConfig(), Options{Attention: DefaultV2, MicroBatch: 2}, true, 0.02, 0.04},
		{"bf16-plain-gqa", smallConfig(48, 6, 2, 8), Options{}, false, 0.02, 0.04},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newPackedBatch(c.cfg.VocabSize, 5)
			B, T := len(p.pk.Prefix), 80
			params := testParams(c.cfg, 9)
			var e *Engine
			var err error
			if c.train {
				e, err = NewEmulated(c.cfg, B, T, c.opts)
			} else {
				e, err = NewScoringEmulated(c.cfg, B, T, c.opts)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			e.WriteParams(params)
			t.Logf("%s, attention %s; %d segments in %d rows, %d padding", e.Plan(), e.Attention(), p.segments, B, p.padded)
			got := make([]float32, B*T)
			e.LogProbsPacked(got, p.ids, p.tgt, p.pk)
			for i, l := range p.tgt {
				if l == model.IgnoreIndex && got[i] != 0 {
					t.Fatalf("position %d: an ignored target scored %v", i, got[i])
				}
			}

			// the plain rows on a Scorer of the engine (a plain batch of RB rows)
			sc, err := e.Scorer(p.RB, T)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float32, p.RB*T)
			sc.LogProbs(want, p.refIDs, p.refTgt)
			d, k := maxAbsAt(got, want, p.packedAt, p.refAt)
			t.Logf("packed vs plain rows: max |Δ log p| %.3g over %d positions", d, len(p.packedAt))
			if !(d <= c.tol) {
				t.Errorf("packed position %d: log p %v, the plain row's %v (max |Δ| %.3g > %.3g)", p.packedAt[k], got[p.packedAt[k]], want[p.refAt[k]], d, c.tol)
			}
			// the plain forward after a packed one is the plain forward (the packing is read only while packed)
			plain := make([]float32, B*T)
			e.LogProbs(plain, p.ids, p.tgt)
			e.LogProbsPacked(got, p.ids, p.tgt, p.pk)
			again := make([]float32, B*T)
			e.LogProbs(again, p.ids, p.tgt)
			sameBits(t, "plain log-probs after a packed call", again, plain)

			// a Scorer scores packed rows too, the same bits
			ps, err := e.Scorer(B, T)
			if err != nil {
				t.Fatal(err)
			}
			sgot := make([]float32, B*T)
			ps.LogProbsPacked(sgot, p.ids, p.tgt, p.pk)
			sameBits(t, "a Scorer's packed log-probs", sgot, got)

			cpu := model.NewCPUBackend(c.cfg, B, T, 1)
			defer cpu.Close()
			cpu.WriteParams(params)
			cw := make([]float32, B*T)
			cpu.LogProbsPacked(cw, p.ids, p.tgt, p.pk)
			d, k = maxAbsAt(got, cw, p.packedAt, p.packedAt)
			t.Logf("GPU vs CPU packed: max |Δ log p| %.3g", d)
			if !(d <= c.cpu) {
				t.Errorf("packed position %d: log p %v, the CPU's %v (max |Δ| %.3g > %.3g)", p.packedAt[k], got[p.packedAt[k]], cw[p.packedAt[k]], d, c.cpu)
			}
		})
	}
}
