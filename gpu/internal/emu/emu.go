//go:build emu

// Package emu runs olmolab's CUDA kernels on the CPU, for tests: every kernel
// of gpu/kernels is compiled as C++ together with emu.h, which supplies the
// CUDA built-ins (threads as coroutines, shared memory, warp shuffles, the
// mma.sync tensor-core product), and launches follow cuLaunchKernel's
// conventions (8-byte argument slots, grid and block shapes). Build tag emu;
// it needs a C++ compiler. The GPU engine's emulated device (gpu, tag emu)
// uses it to run whole training steps against the CPU engine.
package emu

/*
#cgo CXXFLAGS: -std=c++17 -O2 -DOLMO_EMU=1 -Wno-unused-function -Wno-unused-variable
#include <stdint.h>
#include <stdlib.h>
int emu_has(const char* name);
void emu_set_cp_early(int early);
unsigned long long emu_vec_count(void);
const char* emu_kernel_sources(void);
const char* emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                       unsigned bz, unsigned smem, const uint64_t* args, int nargs);
void emu_gemm(int transA, int transB, int m, int n, int k, float alpha, const void* A, int ta, int lda,
              const void* B, int tb, int ldb, float beta, void* C, int tc, int ldc);
*/
import "C"

import (
	"errors"
	"sync"
	"unsafe"
)

var mu sync.Mutex // the emulator runs one launch at a time

// Has reports whether the emulator has a kernel of that name.
func Has(name string) bool {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return C.emu_has(cs) != 0
}

// KernelSources returns the sha256sum lines ("hash  file") of the kernel
// sources the emulator was compiled from (gpu/kernels/gensum.sh).
func KernelSources() string { return C.GoString(C.emu_kernel_sources()) }

// SetEarlyCopies selects the emulator's second schedule: cp.async copies
// land at issue (early) instead of when the issuing thread waits for them,
// and a block's warps run last to first instead of first to last. Kernels
// must give the same results either way; tests run both.
func SetEarlyCopies(early bool) {
	mu.Lock()
	defer mu.Unlock()
	C.emu_set_cp_early(cbool(early))
}

// VecAccesses returns how many 16-byte vector loads and stores the kernels
// made since the last call (common.cuh ld16, st16).
func VecAccesses() uint64 {
	mu.Lock()
	defer mu.Unlock()
	return uint64(C.emu_vec_count())
}

// Launch runs kernel name on a grid of blocks; args are 8-byte parameter
// slots (a 4-byte parameter in the low bytes). Pointers are host addresses
// from Alloc.
func Launch(name string, grid, block [3]uint32, smem uint32, args []uint64) error {
	mu.Lock()
	defer mu.Unlock()
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	n := len(args)
	a := (*C.uint64_t)(C.malloc(C.size_t(8 * (n + 1))))
	defer C.free(unsafe.Pointer(a))
	copy(unsafe.Slice((*uint64)(unsafe.Pointer(a)), n), args)
	msg := C.emu_launch(cs, C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]), C.uint(block[0]), C.uint(block[1]),
		C.uint(block[2]), C.uint(smem), a, C.int(n))
	if msg != nil {
		return errors.New("emu: " + C.GoString(msg))
	}
	return nil
}

// Gemm computes C = alpha·op(A)·op(B) + beta·C in row-major layout; types are
// 0 (float32) or 1 (bf16); accumulation is in float32.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a uintptr, ta, lda int, b uintptr, tb, ldb int,
	beta float32, c uintptr, tc, ldc int) {
	mu.Lock()
	defer mu.Unlock()
	C.emu_gemm(cbool(transA), cbool(transB), C.int(m), C.int(n), C.int(k), C.float(alpha), HostPtr(a), C.int(ta),
		C.int(lda), HostPtr(b), C.int(tb), C.int(ldb), C.float(beta), HostPtr(c), C.int(tc), C.int(ldc))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Alloc returns n bytes of C memory filled with 0xff (NaN for every float
// type), as device memory holds garbage until written.
func Alloc(n int64) uintptr {
	p := C.malloc(C.size_t(n + 16))
	if p == nil {
		panic("emu: out of memory")
	}
	b := unsafe.Slice((*byte)(p), n+16)
	for i := range b {
		b[i] = 0xff
	}
	return uintptr(p)
}

// HostPtr turns an address from Alloc (plus an offset) back into a pointer.
// The memory is C memory, which the Go collector neither moves nor frees.
func HostPtr(p uintptr) unsafe.Pointer { return unsafe.Add(nil, p) }

// Free releases memory from Alloc.
func Free(p uintptr) { C.free(HostPtr(p)) }
