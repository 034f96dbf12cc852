// Package model is OLMo 2 itself: the configuration and presets, the parameter
// layout (one flat buffer with named views in Hugging Face order), the CPU engine
// (forward, backward, cross-entropy with z-loss), initialisation, gradient clipping
// and AdamW, and Hugging Face checkpoint I/O.
//
// Facts about OLMo 2 are cited from ../shared/docs/olmo2.md as "olmo2.md §n".
//
// Dimension letters used throughout (llm.c's legend):
//
//	B  batch (sequences)          T  time (sequence length)
//	C  channels (d_model)         V  vocabulary (padded)
//	NH query heads                NKV key/value heads
//	HS head size                  I  MLP hidden size (intermediate)
//	QC = NH·HS (q width)          KC = NKV·HS (k and v width)
package model
