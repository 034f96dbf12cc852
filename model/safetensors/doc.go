// Package safetensors reads and writes the safetensors format and sharded
// Hugging Face checkpoints, which is how olmolab loads and saves
// Olmo2ForCausalLM weights and the golden test vectors.
//
// A safetensors file is
//
//	[8 bytes: N, little-endian uint64][N bytes: JSON header][byte buffer]
//
// where the header maps each tensor name to {"dtype", "shape", "data_offsets"},
// plus an optional "__metadata__" object of string to string. Offsets are
// relative to the start of the buffer, and the tensors must tile the buffer
// exactly: no gaps, no overlap, nothing left over. Parse enforces all of this
// (as the reference Rust implementation does) and reports every problem as an
// error naming the file and, where there is one, the tensor: a checkpoint is
// outside input, so a bad one must never panic or load silently wrong.
//
// Tensor data stays as raw little-endian bytes; Float32s, Float64s and Int64s
// convert on demand, so a BF16 checkpoint is widened straight into the
// engine's float32 parameters without an intermediate copy. Parse and Read
// hold a whole file in memory; Open (and OpenDir, for a checkpoint
// directory) reads and validates only the header, and each conversion then
// reads its tensor's bytes from the file with ReadAt: F32 straight into the
// destination's memory, other dtypes through a 1 MiB buffer. Loading a model
// that way needs the model's memory and not also the file's. FromFloat32 and
// FromFloat64 go the other way with round-to-nearest-even, including F16
// subnormals and a NaN that stays NaN after narrowing.
//
// Write and WriteFunc write one file atomically (temporary file, fsync,
// rename); WriteFunc streams each tensor's bytes from a callback so that a
// multi-gigabyte model needs no second copy in memory. WriteSharded and
// OpenDir handle the model-0000i-of-0000n.safetensors layout with its
// model.safetensors.index.json, as transformers' save_pretrained and
// from_pretrained do.
package safetensors
