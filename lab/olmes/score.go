package olmes

import (
	"context"
	"fmt"
	"runtime"
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
// outside the continuation, so one forward scores B requests. Rows are never shared: attention is causal but not
// document-masked, so a second request packed into a row would see the first. Identical requests are scored
// once and each distinct context is tokenized once.

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
	Requests int // distinct requests scored
	Forwards int // micro-batches run
	Tokens   int // input tokens (non-padding) fed
	Longest  int // longest input before truncation: len(ctx + cont) − 1
	Trunc    int // requests left-truncated to fit the context length
	MaxLen   int // the context length inputs were cut to
}

// scoreRequests returns, for each encoded request, the summed log-probability of its continuation and its
// number of continuation tokens, batching B requests per forward. maxLen ≤ T is the context length.
func scoreRequests(ctx context.Context, be model.Backend, reqs []encodedReq, maxLen int, pad int32,
	progress func(done, total int)) ([]float64, []int, scoreStats, error) {
	B, T := be.MicroBatch()
	if maxLen <= 0 || maxLen > T {
		maxLen = T
	}
	ll := make([]float64, len(reqs))
	ntok := make([]int, len(reqs))
	ids := make([]int32, B*T)     // (B,T)
	targets := make([]int32, B*T) // (B,T)
	dst := make([]float32, B*T)   // (B,T)
	var st scoreStats
	st.Requests = len(reqs)
	st.MaxLen = maxLen
	for lo := 0; lo < len(reqs); lo += B {
		if err := ctx.Err(); err != nil {
			return nil, nil, st, err
		}
		hi := min(lo+B, len(reqs))
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
			r := reqs[lo+b]
			ntok[lo+b] = len(r.cont)
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
		be.LogProbs(dst, ids, targets)
		st.Forwards++
		for b := range hi - lo {
			var s float64
			for p := b * T; p < (b+1)*T; p++ {
				if targets[p] != model.IgnoreIndex {
					s += float64(dst[p])
				}
			}
			ll[lo+b] = s
		}
		if progress != nil {
			progress(hi, len(reqs))
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
