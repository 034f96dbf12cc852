//go:build cuda

package gpu

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>
#include <stdint.h>
#include <stdlib.h>

// ol_launch_params returns n 8-byte slots followed by n pointers, the i-th
// to slot i: cuLaunchKernel's kernelParams, in C memory, made once.
static void* ol_launch_params(int n) {
	uint64_t* p = (uint64_t*)calloc(2 * (size_t)n, 8);
	if (p == NULL) return NULL;
	void** ptrs = (void**)(p + n);
	for (int i = 0; i < n; i++) ptrs[i] = &p[i];
	return p;
}

// ol_launch launches f on the legacy default stream with the parameters in
// the first slots of ol_launch_params(n)'s block.
static int ol_launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                     unsigned smem, void* params, int n) {
	void** ptrs = (void**)((uint64_t*)params + n);
	return (int)cuLaunchKernel(f, gx, gy, gz, bx, by, bz, smem, NULL, ptrs, NULL);
}

static const char* ol_result_name(int r) {
	const char* s = NULL;
	if (cuGetErrorName((CUresult)r, &s) != CUDA_SUCCESS) return NULL;
	return s;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"gorgonia.org/cu"
)

// The CUDA device launches kernels with cuLaunchKernel directly:
// gorgonia.org/cu's Function.Launch copies the parameters into two C blocks
// it mallocs and frees on every launch. Here the parameter block is C memory
// made once per device (maxArgs slots and their pointers, newLaunchParams),
// which launch fills in place: no allocation per launch, C or Go, and no Go
// pointer reaches C.

// launchParams is the device's kernelParams block (maxArgs slots).
type launchParams struct {
	block unsafe.Pointer // C memory: maxArgs uint64 slots, then maxArgs pointers to them
	slots []uint64       // the slots, over block
}

func newLaunchParams() (launchParams, error) {
	p := C.ol_launch_params(C.int(maxArgs))
	if p == nil {
		return launchParams{}, errors.New("allocating the kernel parameter block")
	}
	return launchParams{block: p, slots: unsafe.Slice((*uint64)(p), maxArgs)}, nil
}

// launchFn launches fn with args on the legacy default stream.
func (lp launchParams) launchFn(fn cu.Function, grid, block dim3, smem int, args []arg) error {
	if len(args) > len(lp.slots) {
		return fmt.Errorf("%d parameters, more than the device's %d", len(args), len(lp.slots))
	}
	// each slot holds a parameter in its low bytes (arg's convention)
	for i, a := range args {
		lp.slots[i] = a.v
	}
	r := C.ol_launch(fnHandle(fn), C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]), C.uint(block[0]), C.uint(block[1]),
		C.uint(block[2]), C.uint(smem), lp.block, C.int(maxArgs))
	if r != 0 {
		name := "unknown CUresult"
		if s := C.ol_result_name(r); s != nil {
			name = C.GoString(s)
		}
		return fmt.Errorf("cuLaunchKernel: %s (%d)", name, int(r))
	}
	return nil
}
