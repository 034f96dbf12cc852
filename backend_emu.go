//go:build emu && !cuda

package main

// Built with -tags emu, olmolab registers the CUDA engine on the CPU kernel
// emulator as the backends "cuda-emu" and "cuda-emu-fp32", so a recipe's
// backend key, --batch --resume --backend, eval and verify can rehearse the
// GPU engine's whole path without a GPU (slowly: tiny models only).
import _ "github.com/olmolab/olmolab/gpu"
