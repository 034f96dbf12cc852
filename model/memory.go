package model

import (
	"math"
	"runtime"
)

// logitsFloats caps the logits the CPU engine materialises at once (256 MiB):
// the LM head runs over chunks of rows of at most this many logits. Each chunk
// packs the whole LM head weight for two products and gives the weight
// gradient's product a depth of only chunk rows, so small chunks cost
// throughput at a large vocabulary: at olmo2_14M (dolma2's 100,352 tokens),
// B=8, T=512, 2 threads, raising the cap from 16M floats (167-row chunks) to
// 64M (668) took the step from 2173 to 1947 ms (medians of 3 alternating
// rounds, 2026-11-28, idle machine): 11.6% more tokens/s. A variable so
// that tests can force several chunks at a small vocabulary.
var logitsFloats = 64 << 20

// logitsChunk is the rows of logits per chunk for a pass of BT rows over a
// vocabulary of V: all of them when they fit under logitsFloats, else as many
// as fit, at least 64.
func logitsChunk(BT, V int) int {
	if c := logitsFloats / V; c < BT {
		return min(max(c, 64), BT)
	}
	return BT
}

// EstimateCPUMemory is the bytes the CPU engine allocates for cfg at micro-batch
// (B, T) in float32 with AdamW: parameters, gradients, both moments, every stored
// activation and the backward scratch (the buffers NewCPU and NewOptState make;
// TestEstimateCPUMemory holds the count to their allocations). It builds no
// Layout, and a size past int64 (a config naming an absurd model) is
// math.MaxInt64 rather than an overflowed, possibly small, number.
func EstimateCPUMemory(cfg Config, B, T int) int64 {
	if f := cpuMemoryElems(cfg, B, T, float64(cfg.NumParams()), cfg.paramsF()); f.total()*4 >= math.MaxInt64/2 {
		return math.MaxInt64
	}
	return 4 * cpuMemoryElems(cfg, B, T, cfg.NumParams(), 0).total()
}

// EstimateCPU64Memory is EstimateCPUMemory for the float64 engine (backend
// "cpu-f64", CPU[float64] with NewOptState[float64]): its parameters,
// gradients, moments, activations and scratch take 8 bytes an element; the
// token ids and labels (int32), the per-row cross-entropy and z terms and the
// gradient norm's blocks (float64) are the float32 engine's. TestEstimateCPUMemory
// holds it to the allocations too. math.MaxInt64 past int64.
func EstimateCPU64Memory(cfg Config, B, T int) int64 {
	if f := cpuMemoryElems(cfg, B, T, float64(cfg.NumParams()), cfg.paramsF()); f.total()*8 >= math.MaxInt64/2 {
		return math.MaxInt64
	}
	n := cfg.NumParams()
	// in float32 units: ids, labels 1 each; ce, z 2 each; a float64 per norm block
	fixed := 6*int64(B)*int64(T) + 2*((n+normBlock-1)/normBlock)
	return 8*(cpuMemoryElems(cfg, B, T, n, 0).total()-fixed) + 4*fixed
}

// EstimateEngineMemory is the host bytes the engine of backend allocates for
// cfg at micro-batch (B, T): EstimateCPUMemory on "cpu", EstimateCPU64Memory
// on "cpu-f64". ok is false on another backend, whose engine keeps the model
// on its device.
func EstimateEngineMemory(backend string, cfg Config, B, T int) (bytes int64, ok bool) {
	switch backend {
	case "cpu":
		return EstimateCPUMemory(cfg, B, T), true
	case "cpu-f64":
		return EstimateCPU64Memory(cfg, B, T), true
	}
	return 0, false
}

// EstimateCPUScorerMemory is the bytes a Scorer of micro-batch (B, T) adds to
// the engine whose parameters it shares: the buffers a forward pass writes
// (activations, RoPE tables, attention tiles), no parameters, gradients or
// backward scratch, and no logits: it computes them in its engine's chunk (a
// training engine's; a scoring backend grows its own to the rows LogProbs
// has targets for, at most a chunk, logitsChunk). math.MaxInt64 past int64.
func EstimateCPUScorerMemory(cfg Config, B, T int) int64 {
	if f := cpuMemoryElems(cfg, B, T, float64(cfg.NumParams()), cfg.paramsF()); f.scorer*4 >= math.MaxInt64/2 {
		return math.MaxInt64
	}
	return 4 * cpuMemoryElems(cfg, B, T, cfg.NumParams(), 0).scorer
}

// EstimateCPU64ScorerMemory is EstimateCPUScorerMemory for the float64
// engine (backend "cpu-f64", CPU[float64]): its float buffers take 8 bytes an
// element; the token ids and labels (int32) and the per-row cross-entropy and
// z terms (float64) are the float32 engine's. math.MaxInt64 past int64.
func EstimateCPU64ScorerMemory(cfg Config, B, T int) int64 {
	if f := cpuMemoryElems(cfg, B, T, float64(cfg.NumParams()), cfg.paramsF()); f.scorer*8 >= math.MaxInt64/2 {
		return math.MaxInt64
	}
	s := cpuMemoryElems(cfg, B, T, cfg.NumParams(), 0).scorer
	fixed := 7 * int64(B) * int64(T) // ids, labels, LogProbs' rows: 1 unit each; ce, z: 2 each (common's 2·BT, 2·2·BT and BT)
	return 8*(s-fixed) + 4*fixed
}

// cpuElems counts the CPU engine's buffers in float32 elements (a float64 or
// int32 buffer counts as 2 or 1 per element), by what allocates them.
type cpuElems[N int64 | float64] struct {
	weights  N // Params, Grads and the two AdamW moments: 4 per parameter
	forward  N // what a training forward pass writes and keeps for the backward
	backward N // the backward scratch and the gradient norm's blocks
	scorer   N // a Scorer's buffers: one layer's activations and two residual rows, reused layer after layer
}

func (c cpuElems[N]) total() N { return c.weights + c.forward + c.backward }

// cpuMemoryElems is the estimates' count of elements, in int64 (exact) or
// float64 (to test for overflow first, with the parameters counted as nf,
// which cannot have overflowed). It follows newCPU's makes one by one.
func cpuMemoryElems[N int64 | float64](cfg Config, B, T int, n N, nf float64) cpuElems[N] {
	if nf > 0 {
		n = N(nf)
	}
	C, I, V := N(cfg.HiddenSize), N(cfg.IntermediateSize), N(cfg.VocabSize)
	QC, KC, HS := N(cfg.QWidth()), N(cfg.KVWidth()), N(cfg.HeadSize())
	L, NH := N(cfg.NumHiddenLayers), N(cfg.NumAttentionHeads)
	Bn, Tn := N(B), N(T)
	BT := Bn * Tn
	Tb := N((int64(T) + attnBlock - 1) / attnBlock * attnBlock) // T in whole attention tiles
	// per layer: qkv, qh, kh, vh, a, o, h, m, gu, act, four per-row norms and
	// the Kᵀ, Vᵀ tiles and logsumexps of the blocked attention (attention.go):
	// linear in T, no (T,T) matrix is kept.
	perLayer := BT*(3*QC+4*KC+3*C+3*I+4) + 2*Bn*KC*Tb + Bn*NH*Tn
	chunk := N(logitsChunk(B*T, cfg.VocabSize))
	blk := N(min(attnBlock, T))
	// one worker's attention tiles
	attnScratch := 2*blk*N((int64(blk)+15)&^15) + 2*blk + blk*HS
	common := Tn*(HS/2)*2 + 2*BT + // RoPE cos and sin, ids and labels (int32)
		BT*C + 2*BT + 2*2*BT + // final norm, its rstd, lse; ce and z (float64)
		BT + chunk*C + // LogProbs' labelled positions (int32) and one chunk of their final-norm rows
		N(runtime.GOMAXPROCS(0))*attnScratch
	return cpuElems[N]{
		weights: 4 * n,                                      // params, grads, m, v
		forward: common + chunk*V + (L+1)*BT*C + L*perLayer, // one chunk of logits, the residual stream and every layer's activations
		scorer:  common + min(L+1, 2)*BT*C + perLayer,       // newCPU's forward-only buffers; its logits are its engine's
		backward: 4*BT*C + 3*BT*I + 4*BT*QC + 4*BT*KC + Bn*NH*Tn +
			N((int64(B)*int64(T)+normPart-1)/normPart)*max(C, QC+KC) +
			2*((n+normBlock-1)/normBlock), // float64 per block of the gradient norm
	}
}
