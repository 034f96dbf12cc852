package model

// EstimateCPUMemory is the bytes the CPU engine allocates for cfg at micro-batch
// (B, T) in float32 with AdamW: parameters, gradients, both moments, every stored
// activation and the backward scratch (the buffers NewCPU makes).
func EstimateCPUMemory(cfg Config, B, T int) int64 {
	n := NewLayout(cfg).Size()
	C, I, V := int64(cfg.HiddenSize), int64(cfg.IntermediateSize), int64(cfg.VocabSize)
	QC, KC := int64(cfg.QWidth()), int64(cfg.KVWidth())
	L, NH := int64(cfg.NumHiddenLayers), int64(cfg.NumAttentionHeads)
	BT := int64(B) * int64(T)
	perLayer := BT*(3*QC+3*KC+3*C+3*I+4) + int64(B)*NH*int64(T)*int64(T)
	chunk := BT
	if c := (int64(16) << 20) / V; c < chunk {
		chunk = min(max(c, 64), BT)
	}
	elems := 4*n + // params, grads, m, v
		(L+1)*BT*C + L*perLayer + // residual stream and layer activations
		BT*C + 3*BT + chunk*V + // final norm, lse/ce/z, one chunk of logits
		5*BT*C + 3*BT*I + 2*BT*QC + 2*BT*KC // backward scratch
	return 4 * elems
}
