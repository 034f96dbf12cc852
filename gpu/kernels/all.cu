// all.cu: the one translation unit compiled to PTX (kernels.go's go:generate
// lines) and by the CPU emulator; it includes every kernel file.
#include "rows.cu"
#include "loss.cu"
#include "optim.cu"
#include "attention.cu"
#include "attention_mma.cu"
#include "attention_v2.cu"
