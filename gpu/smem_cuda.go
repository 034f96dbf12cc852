//go:build cuda

package gpu

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>

// Not wrapped by gorgonia.org/cu (gpu-build.md §2): a kernel may use more than
// 48 KiB of dynamic shared memory only after this attribute allows it.
static int ol_set_max_dyn_smem(CUfunction f, int bytes) {
	return (int)cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"gorgonia.org/cu"
)

// cu.Function is a struct holding only its CUfunction (gorgonia.org/cu
// execution.go); fnHandle reads that handle. These two constants fail to
// compile if the struct ever has another size.
const (
	_ = uint(unsafe.Sizeof(cu.Function{}) - unsafe.Sizeof(C.CUfunction(nil)))
	_ = uint(unsafe.Sizeof(C.CUfunction(nil)) - unsafe.Sizeof(cu.Function{}))
)

// fnHandle is fn's CUfunction.
func fnHandle(fn cu.Function) C.CUfunction { return *(*C.CUfunction)(unsafe.Pointer(&fn)) }

// attrSmemOptin is CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, which
// gorgonia.org/cu does not name.
const attrSmemOptin = cu.DeviceAttribute(C.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)

// setMaxDynSmem allows fn up to bytes of dynamic shared memory per block.
func setMaxDynSmem(fn cu.Function, bytes int) error {
	if r := C.ol_set_max_dyn_smem(fnHandle(fn), C.int(bytes)); r != 0 {
		return fmt.Errorf("cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES, %d): CUresult %d", bytes, int(r))
	}
	return nil
}
