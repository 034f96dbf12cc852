package olmes

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/olmolab/olmolab/lab/data"
	"github.com/olmolab/olmolab/model"
)

// Scoring log-likelihood requests on a model.Backend.
//
// Tokenization follows lm-evaluation-harness's _encode_pair, which OLMES inherits (olmes.md §1): the context's
// trailing whitespace moves to the front of the continuation; whole = tok(context + continuation),
// ctx = tok(context), continuation tokens = whole[len(ctx):]; an empty context becomes [EOS]. The model input is
// (ctx + cont)[:-1], left-truncated to the context length, and the continuation's log-probabilities are summed.
//
// Batching: each request takes one row of the backend's (B,T) micro-batch, right-padded, targets IgnoreIndex
// outside the continuation, so one forward scores B requests; on the CPU and GPU engines the requests of one context share
// a row, the context once and each continuation after it, masked from the others (model.Packing, units).
// Identical requests are scored once and each distinct context is tokenized once.

// encodedReq is a tokenized request: its context tokens (shared between requests with the same context) and
// continuation tokens.
type encodedReq struct {
	ctx, cont []int32
}

// encodePairs tokenizes pairs on all CPUs, each distinct context once.
func encodePairs(tok data.Tokenizer, pairs []Pair) []encodedReq {
	type split struct{ ctx, cont string }
	sp := make([]split, len(pairs))
	ctxIndex := map[string]int{}
	var ctxs []string
	for i, p := range pairs {
		c, cont := p.Context, p.Continuation
		if t := pyRStrip(c); len(t) < len(c) {
			cont = c[len(t):] + cont
			c = t
		}
		sp[i] = split{c, cont}
		if _, ok := ctxIndex[c]; !ok {
			ctxIndex[c] = len(ctxs)
			ctxs = append(ctxs, c)
		}
	}
	ctxToks := make([][]int32, len(ctxs))
	parallel(len(ctxs), func(i int) {
		if ctxs[i] == "" {
			ctxToks[i] = []int32{tok.EOS()}
		} else {
			ctxToks[i] = tok.Encode(nil, ctxs[i])
		}
	})
	out := make([]encodedReq, len(pairs))
	parallel(len(pairs), func(i int) {
		c := ctxToks[ctxIndex[sp[i].ctx]]
		if sp[i].ctx == "" {
			out[i] = encodedReq{c, tok.Encode(nil, sp[i].cont)}
			return
		}
		whole := tok.Encode(make([]int32, 0, len(c)+16), sp[i].ctx+sp[i].cont)
		cont := []int32{}
		if len(whole) > len(c) {
			cont = whole[len(c):]
		}
		out[i] = encodedReq{c, cont}
	})
	return out
}

// parallel runs f(0…n-1) on GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	w := min(runtime.GOMAXPROCS(0), n)
	if w <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, 256)
	for range w {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// scoreStats says how much work scoring took.
type scoreStats struct {
	Requests int      // distinct requests scored
	Forwards int      // micro-batches run
	Tokens   int      // input tokens (non-padding) fed
	Longest  int      // longest input before truncation: len(ctx + cont) − 1
	Trunc    int      // requests left-truncated to fit the context length
	MaxLen   int      // the context length inputs were cut to
	Shapes   [][2]int // the (B,T) micro-batches scored on, in order
}

// inputLen is the tokens request r feeds the model at context length maxLen.
func inputLen(r encodedReq, maxLen int) int {
	return min(len(r.ctx)+len(r.cont)-1, maxLen)
}

// fitT is the row length that holds inputs of n tokens: n rounded up to a multiple of 8, at most T.
func fitT(n, T int) int { return min((max(n, 1)+7)/8*8, T) }

// fitRows is the rows of a shape of T tokens for units us (longest first), at most `most`: enough for the units it
// scores, those until one fits in 3/4 of T (the next shape, scoreRequests) or all of them on a backend that gets
// one shape only (!sharer), shared evenly between the forwards they take (600 units at 512 a forward: 2 forwards
// of 300 rows, not 512 and 88).
func fitRows(us []unit, T, most, T0 int, sharer bool) int {
	n := len(us)
	if sharer {
		n = 1
		for n < len(us) && 4*fitT(us[n].n, T0) > 3*T {
			n++
		}
	}
	f := (n + most - 1) / most // forwards
	return (n + f - 1) / f
}

// packMinPrefix is the shortest shared context worth packing requests after: a packed row saves the prefix's
// tokens once per request after the first, and costs attention over a longer row; OLMES's unconditional requests
// share the 2 tokens of "Answer:", which saves nothing.
const packMinPrefix = 32

// unit is what one row scores: one request, or requests sharing a context packed after it (prefix > 0: the
// context's first prefix tokens, then for each request its last context token and its continuation but the last
// token, model.Packing).
type unit struct {
	reqs   []int // indices into the requests
	prefix int
	n      int // the row's input tokens
}

// units groups requests into rows. With pack, requests with the same context (shared tokens, encodePairs), at
// least packMinPrefix + 1 of them, whose inputs need no truncation, go after one copy of it, as many as fit in
// maxLen tokens; every other request is a row of its own.
func units(reqs []encodedReq, maxLen int, pack bool) []unit {
	out := make([]unit, 0, len(reqs))
	type key struct {
		p *int32
		n int
	}
	groups := map[key]int{} // a context's open packed row in out
	for i, r := range reqs {
		L := len(r.ctx) + len(r.cont)
		P := len(r.ctx) - 1
		if !pack || P < packMinPrefix || len(r.cont) == 0 || L-1 > maxLen {
			out = append(out, unit{reqs: []int{i}, n: inputLen(r, maxLen)})
			continue
		}
		k := key{&r.ctx[0], len(r.ctx)}
		if g, ok := groups[k]; ok && out[g].n+len(r.cont) <= maxLen {
			out[g].reqs = append(out[g].reqs, i)
			out[g].n += len(r.cont)
			continue
		}
		groups[k] = len(out)
		out = append(out, unit{reqs: []int{i}, prefix: P, n: P + len(r.cont)})
	}
	for i := range out { // a context with one request left: a plain row, the same tokens
		if out[i].prefix > 0 && len(out[i].reqs) == 1 {
			out[i].prefix = 0
		}
	}
	return out
}

// scoreRequests returns, for each encoded request, the summed log-probability of its continuation and its
// number of continuation tokens, batching B requests per forward. maxLen ≤ T is the context length.
//
// With fit (EvalOptions.Reshape), requests are scored longest first on rows fitted to them: the first forward on
// rows of the longest input rounded up to 8 tokens (B·T/T' of them at most, fitRows: no more than the requests it
// scores), and a shorter shape whenever the longest input
// left fits in 3/4 of the current rows, so no row carries more than a quarter of padding beyond its rounding. OLMES's
// unconditional requests ("Answer:" and a choice, a few tokens) were padded to the 5-shot contexts' length: half
// of MMLU's rows. Each shorter shape is a scorer over be's weights (model.ScorerSharer); a backend that shares
// none gets one fitted copy at most (model.ScoringLike), as before. Rows are scored independently, so the order
// and the shapes change no score beyond the engines' float rounding (TestScoreFittedShapes).
//
// With pack, on an engine that scores packed rows (model.PackedScorer: the CPU and GPU engines), the choices of a question
// share one row: its context once, then each continuation after it, attending to the context and itself only, at
// the positions it has alone (units). The context's layers ran once per choice. The log-probs are the plain rows'
// within float32 rounding (TestScorePacked); the rows are the same whatever the shapes, so an evaluation on fitted
// rows and one on the engine's own give the same bits.
func scoreRequests(ctx context.Context, be model.Backend, reqs []encodedReq, maxLen int, pad int32, fit, pack bool,
	progress func(done, total int)) ([]float64, []int, scoreStats, error) {
	B0, T0 := be.MicroBatch()
	if maxLen <= 0 || maxLen > T0 {
		maxLen = T0
	}
	ll := make([]float64, len(reqs))
	ntok := make([]int, len(reqs))
	_, packs := be.(model.PackedScorer)
	us := units(reqs, maxLen, pack && packs)
	if fit {
		slices.SortStableFunc(us, func(a, b unit) int { return b.n - a.n })
	}
	_, sharer := be.(model.ScorerSharer)
	cur := be // the backend scoring now: be, or a scorer fitted to the requests
	defer func() {
		if cur != be {
			cur.Close()
		}
	}()
	var ids, targets []int32
	var dst []float32
	var pk model.Packing
	var st scoreStats
	st.Requests = len(reqs)
	st.MaxLen = maxLen
	done := 0
	for lo := 0; lo < len(us); {
		if err := ctx.Err(); err != nil {
			return nil, nil, st, err
		}
		if B, T := cur.MicroBatch(); fit {
			// the first shape fits the longest input; later ones when a quarter of the rows would be padding.
			// Its rows are no more than the units it scores: a small evaluation's 16 requests ran on 512 rows of 8
			// tokens, 496 of them padding that the forward computes all the same.
			want := fitT(us[lo].n, T0)
			shorter := want < T && (st.Forwards == 0 || 4*want <= 3*T)
			rows := B
			if shorter || st.Forwards == 0 {
				rows = fitRows(us[lo:], want, max(1, B0*T0/want), T0, sharer)
			}
			// fewer rows of the same length: on a sharer only, whose scorer costs no copy of the weights
			if shorter || sharer && st.Forwards == 0 && rows < B {
				if cur != be {
					// the last shape's buffers (a chunk of logits alone is 256 MiB at dolma2's vocabulary) are
					// garbage: collected now, the next shape reuses their memory, where a heap of a large model
					// would grow by several shapes' worth before the collector ran on its own
					cur.Close()
					cur = be
					runtime.GC()
				}
				if nb, _, err := model.ScoringLike(be, rows, want); err == nil {
					cur = nb
				} else {
					fit = false
				}
				if !sharer {
					fit = false // a copy of the weights per shape: one at most
				}
			}
		}
		B, T := cur.MicroBatch()
		if len(st.Shapes) == 0 || st.Shapes[len(st.Shapes)-1] != [2]int{B, T} {
			st.Shapes = append(st.Shapes, [2]int{B, T})
			if len(ids) < B*T {
				ids, targets, dst = make([]int32, B*T), make([]int32, B*T), make([]float32, B*T)
				pk.Pos, pk.Seg = make([]int32, B*T), make([]int32, B*T)
			}
			if len(pk.Prefix) < B {
				pk.Prefix = make([]int32, B)
			}
		}
		ids, targets, dst := ids[:B*T], targets[:B*T], dst[:B*T]
		hi := min(lo+B, len(us))
		packed := false
		for b := range B {
			row := ids[b*T : (b+1)*T]
			tgt := targets[b*T : (b+1)*T]
			for p := range T {
				row[p] = pad
				tgt[p] = model.IgnoreIndex
			}
			if lo+b >= hi {
				continue
			}
			u := us[lo+b]
			if u.prefix > 0 {
				packed = true
				c := reqs[u.reqs[0]].ctx
				copy(row, c[:u.prefix])
				at := u.prefix
				for _, k := range u.reqs {
					r := reqs[k]
					ntok[k] = len(r.cont)
					st.Longest = max(st.Longest, len(r.ctx)+len(r.cont)-1)
					row[at] = c[u.prefix] // the context's last token, then the continuation but its last
					copy(row[at+1:], r.cont[:len(r.cont)-1])
					copy(tgt[at:], r.cont)
					at += len(r.cont)
				}
				st.Tokens += at
				continue
			}
			r := reqs[u.reqs[0]]
			ntok[u.reqs[0]] = len(r.cont)
			L := len(r.ctx) + len(r.cont)
			if len(r.cont) == 0 || L < 2 {
				continue
			}
			// seq = (ctx + cont)[start:], the last maxLen+1 tokens; inputs seq[:n], targets seq[1:n+1].
			start := max(0, L-(maxLen+1))
			n := L - start - 1
			st.Longest = max(st.Longest, L-1)
			if start > 0 {
				st.Trunc++
			}
			at := func(j int) int32 { // token j of ctx + cont
				if j < len(r.ctx) {
					return r.ctx[j]
				}
				return r.cont[j-len(r.ctx)]
			}
			for p := range n {
				row[p] = at(start + p)
				if start+p+1 >= len(r.ctx) {
					tgt[p] = at(start + p + 1)
				}
			}
			st.Tokens += n
		}
		if packed {
			for b := range B {
				pk.Prefix[b] = 0
				pos, seg := pk.Pos[b*T:(b+1)*T], pk.Seg[b*T:(b+1)*T]
				for p := range T {
					pos[p], seg[p] = int32(p), 0
				}
				if lo+b >= hi || us[lo+b].prefix == 0 {
					continue
				}
				u := us[lo+b]
				pk.Prefix[b] = int32(u.prefix)
				at := u.prefix
				for _, k := range u.reqs {
					for j := range len(reqs[k].cont) {
						pos[at+j], seg[at+j] = int32(u.prefix+j), int32(at)
					}
					at += len(reqs[k].cont)
				}
			}
			cur.(model.PackedScorer).LogProbsPacked(dst, ids, targets, model.Packing{Pos: pk.Pos[:B*T], Seg: pk.Seg[:B*T], Prefix: pk.Prefix[:B]})
		} else {
			cur.LogProbs(dst, ids, targets)
		}
		st.Forwards++
		for b := range hi - lo {
			u := us[lo+b]
			at := b * T
			if u.prefix > 0 {
				at += u.prefix
			}
			for _, k := range u.reqs {
				end := (b + 1) * T // a plain row: its targets
				if u.prefix > 0 {
					end = at + len(reqs[k].cont)
				}
				var s float64
				for p := at; p < end; p++ {
					if targets[p] != model.IgnoreIndex {
						s += float64(dst[p])
					}
				}
				ll[k] = s
				at = end
			}
			done += len(u.reqs)
		}
		lo = hi
		if progress != nil {
			progress(done, len(reqs))
		}
	}
	return ll, ntok, st, nil
}

// MaxInputLength returns the longest model input the tasks' requests need under tok (context + continuation − 1
// tokens): a lab can size an evaluation backend's T to it instead of scoring short requests in long padded rows.
func MaxInputLength(tok data.Tokenizer, tasks []*Task) int {
	seen := map[Pair]bool{}
	var pairs []Pair
	for _, t := range tasks {
		for _, in := range t.Instances {
			for _, p := range append(append([]Pair(nil), in.Choices...), in.Uncond...) {
				if !seen[p] {
					seen[p] = true
					pairs = append(pairs, p)
				}
			}
		}
	}
	longest := 0
	for _, e := range encodePairs(tok, pairs) {
		longest = max(longest, len(e.ctx)+len(e.cont)-1)
	}
	return longest
}

// checkVocab makes sure every id the tokenizer produces is inside the model's vocabulary.
func checkVocab(be model.Backend, tok data.Tokenizer) error {
	if v := be.Config().VocabSize; tok.VocabSize() > v {
		return &InputError{Msg: fmt.Sprintf("tokenizer %s has %d ids but the model's vocabulary is %d", tok.Name(), tok.VocabSize(), v),
			Hint: "evaluate with the tokenizer the model was trained with"}
	}
	return nil
}
