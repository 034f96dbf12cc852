package model

import "runtime"

// EstimateCPUMemory is the bytes the CPU engine allocates for cfg at micro-batch
// (B, T) in float32 with AdamW: parameters, gradients, both moments, every stored
// activation and the backward scratch (the buffers NewCPU makes).
func EstimateCPUMemory(cfg Config, B, T int) int64 {
	n := NewLayout(cfg).Size()
	C, I, V := int64(cfg.HiddenSize), int64(cfg.IntermediateSize), int64(cfg.VocabSize)
	QC, KC, HS := int64(cfg.QWidth()), int64(cfg.KVWidth()), int64(cfg.HeadSize())
	L, NH := int64(cfg.NumHiddenLayers), int64(cfg.NumAttentionHeads)
	Bn, Tn := int64(B), int64(T)
	BT := Bn * Tn
	Tb := (Tn + attnBlock - 1) / attnBlock * attnBlock // T in whole attention tiles
	// per layer: qkv, qh, kh, vh, a, o, h, m, gu, act, four per-row norms and
	// the Kᵀ, Vᵀ tiles and logsumexps of the blocked attention (attention.go):
	// linear in T, no (T,T) matrix is kept.
	perLayer := BT*(3*QC+4*KC+3*C+3*I+4) + 2*Bn*KC*Tb + Bn*NH*Tn
	chunk := BT
	if c := (int64(16) << 20) / V; c < chunk {
		chunk = min(max(c, 64), BT)
	}
	blk := min(int64(attnBlock), Tn)
	// one worker's attention tiles
	attnScratch := 2*blk*((blk+15)&^15) + 2*blk + blk*HS

	elems := 4*n + // params, grads, m, v
		(L+1)*BT*C + L*perLayer + // residual stream and layer activations
		BT*C + 5*BT + chunk*V + // final norm, rstd, lse, ce/z (float64), one chunk of logits
		4*BT*C + 3*BT*I + 4*BT*QC + 4*BT*KC + Bn*NH*Tn + // backward scratch
		(BT+normPart-1)/normPart*max(C, QC+KC) +
		int64(runtime.GOMAXPROCS(0))*attnScratch
	return 4 * elems
}
