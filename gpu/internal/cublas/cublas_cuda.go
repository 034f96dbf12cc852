//go:build cuda

package cublas

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

// Prototypes as in cublas_api.h (identical in CUDA 11.8, 12.x and 13.0):
// handles and streams are pointers, enums are ints, alpha and beta are
// host pointers to float for CUBLAS_COMPUTE_32F.
typedef int (*ol_create_t)(void**);
typedef int (*ol_destroy_t)(void*);
typedef int (*ol_version_t)(void*, int*);
typedef int (*ol_setstream_t)(void*, void*);
typedef int (*ol_setmath_t)(void*, int);
typedef int (*ol_setws_t)(void*, void*, size_t);
typedef int (*ol_gemmex_t)(void*, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int,
                           const void*, void*, int, int, int, int);
typedef int (*ol_gemmsb_t)(void*, int, int, int, int, int, const void*, const void*, int, int, long long, const void*,
                           int, int, long long, const void*, void*, int, int, long long, int, int, int);

typedef struct {
	void* lib;
	ol_create_t create;
	ol_destroy_t destroy;
	ol_version_t version;
	ol_setstream_t setstream;
	ol_setmath_t setmath;
	ol_setws_t setws;
	ol_gemmex_t gemmex;
	ol_gemmsb_t gemmsb;
} ol_cublas;

static ol_cublas ol;

// ol_open loads path (after preloading lt, if any) and resolves every symbol;
// it returns NULL or a message (static storage).
static const char* ol_open(const char* path, const char* lt) {
	static char msg[512];
	if (lt != NULL && lt[0] != 0) dlopen(lt, RTLD_NOW | RTLD_GLOBAL);  // failures show up below
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char* e = dlerror();
		return e ? e : "dlopen failed";
	}
	struct { const char* name; void** dst; } syms[] = {
		{"cublasCreate_v2", (void**)&ol.create},
		{"cublasDestroy_v2", (void**)&ol.destroy},
		{"cublasGetVersion_v2", (void**)&ol.version},
		{"cublasSetStream_v2", (void**)&ol.setstream},
		{"cublasSetMathMode", (void**)&ol.setmath},
		{"cublasSetWorkspace_v2", (void**)&ol.setws},
		{"cublasGemmEx", (void**)&ol.gemmex},
		{"cublasGemmStridedBatchedEx", (void**)&ol.gemmsb},
	};
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		*syms[i].dst = dlsym(h, syms[i].name);
		if (*syms[i].dst == NULL) {
			snprintf(msg, sizeof msg, "%s: symbol %s missing", path, syms[i].name);
			dlclose(h);
			return msg;
		}
	}
	ol.lib = h;
	return NULL;
}

static int ol_create(uintptr_t* h) { void* p = NULL; int s = ol.create(&p); *h = (uintptr_t)p; return s; }
static int ol_destroy(uintptr_t h) { return ol.destroy((void*)h); }
static int ol_version(uintptr_t h, int* v) { return ol.version((void*)h, v); }
static int ol_setstream(uintptr_t h, uintptr_t s) { return ol.setstream((void*)h, (void*)s); }
static int ol_setmath(uintptr_t h, int m) { return ol.setmath((void*)h, m); }
static int ol_setws(uintptr_t h, uintptr_t ws, size_t n) { return ol.setws((void*)h, (void*)ws, n); }
static int ol_gemmex(uintptr_t h, int ta, int tb, int m, int n, int k, float alpha, uintptr_t A, int at, int lda,
                     uintptr_t B, int bt, int ldb, float beta, uintptr_t C, int ct, int ldc, int compute, int algo) {
	return ol.gemmex((void*)h, ta, tb, m, n, k, &alpha, (const void*)A, at, lda, (const void*)B, bt, ldb, &beta,
	                 (void*)C, ct, ldc, compute, algo);
}
static int ol_gemmsb(uintptr_t h, int ta, int tb, int m, int n, int k, float alpha, uintptr_t A, int at, int lda,
                     long long sa, uintptr_t B, int bt, int ldb, long long sb, float beta, uintptr_t C, int ct, int ldc,
                     long long sc, int batch, int compute, int algo) {
	return ol.gemmsb((void*)h, ta, tb, m, n, k, &alpha, (const void*)A, at, lda, sa, (const void*)B, bt, ldb, sb,
	                 &beta, (void*)C, ct, ldc, sc, batch, compute, algo);
}
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"
)

// Enum values of cuda/library_types.h and cublas_api.h, stable from 11.0 to
// 13.0 (gpu-build.md §4).
const (
	OpN = 0 // CUBLAS_OP_N
	OpT = 1 // CUBLAS_OP_T

	R32F  = 0  // CUDA_R_32F
	R16BF = 14 // CUDA_R_16BF

	Compute32F = 68 // CUBLAS_COMPUTE_32F: fp32 accumulation; with fp32 operands, true fp32 (no TF32)

	GemmDefault = -1 // CUBLAS_GEMM_DEFAULT

	DefaultMath  = 0 // CUBLAS_DEFAULT_MATH
	PedanticMath = 2 // CUBLAS_PEDANTIC_MATH
)

var (
	once    sync.Once
	loaded  string
	openErr error
)

// Open loads cuBLAS once per process from the first candidate that works and
// returns its path.
func Open() (string, error) {
	once.Do(func() {
		var tried []string
		for _, c := range Candidates(os.Getenv(Env), filepath.Glob) {
			cp, lt := C.CString(c), C.CString(LtFor(c))
			msg := C.ol_open(cp, lt)
			C.free(unsafe.Pointer(cp))
			C.free(unsafe.Pointer(lt))
			if msg == nil {
				loaded = c
				return
			}
			tried = append(tried, "  "+C.GoString(msg))
		}
		openErr = fmt.Errorf("no usable cuBLAS (set %s to a libcublas.so.13, .12 or .11); tried:\n%s", Env, strings.Join(tried, "\n"))
	})
	return loaded, openErr
}

// Status is a cublasStatus_t that is not CUBLAS_STATUS_SUCCESS.
type Status int

var statusNames = map[Status]string{
	1: "NOT_INITIALIZED", 3: "ALLOC_FAILED", 7: "INVALID_VALUE", 8: "ARCH_MISMATCH", 11: "MAPPING_ERROR",
	13: "EXECUTION_FAILED", 14: "INTERNAL_ERROR", 15: "NOT_SUPPORTED", 16: "LICENSE_ERROR",
}

func (s Status) Error() string {
	if n, ok := statusNames[s]; ok {
		return "CUBLAS_STATUS_" + n
	}
	return fmt.Sprintf("cublasStatus %d", int(s))
}

func status(s C.int) error {
	if s == 0 {
		return nil
	}
	return Status(s)
}

// Handle is a cublasHandle_t, bound to the context current at Create.
type Handle uintptr

// Create makes a handle (cuBLAS must be Open).
func Create() (Handle, error) {
	var h C.uintptr_t
	if err := status(C.ol_create(&h)); err != nil {
		return 0, fmt.Errorf("cublasCreate: %w", err)
	}
	return Handle(h), nil
}

// Destroy releases the handle.
func (h Handle) Destroy() error { return status(C.ol_destroy(C.uintptr_t(h))) }

// Version is cuBLAS's version number (e.g. 130000 for 13.0.0).
func (h Handle) Version() (int, error) {
	var v C.int
	err := status(C.ol_version(C.uintptr_t(h), &v))
	return int(v), err
}

// SetStream makes later calls run on stream (a CUstream; 0 is the default stream).
func (h Handle) SetStream(stream uintptr) error {
	return status(C.ol_setstream(C.uintptr_t(h), C.uintptr_t(stream)))
}

// SetMathMode sets the math mode (DefaultMath, PedanticMath).
func (h Handle) SetMathMode(m int) error { return status(C.ol_setmath(C.uintptr_t(h), C.int(m))) }

// SetWorkspace gives cuBLAS a device buffer for its workspace.
func (h Handle) SetWorkspace(ptr uintptr, bytes int64) error {
	return status(C.ol_setws(C.uintptr_t(h), C.uintptr_t(ptr), C.size_t(bytes)))
}

// GemmEx is cublasGemmEx in cuBLAS's column-major convention with float
// alpha and beta (Compute32F).
func (h Handle) GemmEx(transA, transB, m, n, k int, alpha float32, a uintptr, aType, lda int, b uintptr, bType, ldb int,
	beta float32, c uintptr, cType, ldc, compute, algo int) error {
	return status(C.ol_gemmex(C.uintptr_t(h), C.int(transA), C.int(transB), C.int(m), C.int(n), C.int(k), C.float(alpha),
		C.uintptr_t(a), C.int(aType), C.int(lda), C.uintptr_t(b), C.int(bType), C.int(ldb), C.float(beta),
		C.uintptr_t(c), C.int(cType), C.int(ldc), C.int(compute), C.int(algo)))
}

// GemmStridedBatchedEx is cublasGemmStridedBatchedEx (column-major, float alpha and beta).
func (h Handle) GemmStridedBatchedEx(transA, transB, m, n, k int, alpha float32, a uintptr, aType, lda int, strideA int64,
	b uintptr, bType, ldb int, strideB int64, beta float32, c uintptr, cType, ldc int, strideC int64, batch, compute, algo int) error {
	return status(C.ol_gemmsb(C.uintptr_t(h), C.int(transA), C.int(transB), C.int(m), C.int(n), C.int(k), C.float(alpha),
		C.uintptr_t(a), C.int(aType), C.int(lda), C.longlong(strideA), C.uintptr_t(b), C.int(bType), C.int(ldb),
		C.longlong(strideB), C.float(beta), C.uintptr_t(c), C.int(cType), C.int(ldc), C.longlong(strideC), C.int(batch),
		C.int(compute), C.int(algo)))
}
