//go:build cuda && cublasabi

package cublas

// Compile-time check of the shim's constants against NVIDIA's own header
// (needs cublas_v2.h, e.g. from Debian's nvidia-cuda-dev):
//
//	go vet -tags cuda,cublasabi ./gpu/internal/cublas

/*
#include <cublas_v2.h>
_Static_assert(CUBLAS_OP_N == 0 && CUBLAS_OP_T == 1, "cublasOperation_t");
_Static_assert(CUDA_R_32F == 0 && CUDA_R_16BF == 14, "cudaDataType");
_Static_assert(CUBLAS_COMPUTE_32F == 68, "cublasComputeType_t");
_Static_assert(CUBLAS_GEMM_DEFAULT == -1, "cublasGemmAlgo_t");
_Static_assert(CUBLAS_DEFAULT_MATH == 0 && CUBLAS_PEDANTIC_MATH == 2, "cublasMath_t");
_Static_assert(sizeof(cublasOperation_t) == sizeof(int) && sizeof(cudaDataType) == sizeof(int), "enum sizes");
_Static_assert(sizeof(cublasHandle_t) == sizeof(void*) && sizeof(cudaStream_t) == sizeof(void*), "handle sizes");
// the shim's function types must accept the header's declarations
typedef int (*ol_gemmex_t)(void*, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int,
                           const void*, void*, int, int, int, int);
static void ol_abi_gemmex(void) {
	cublasStatus_t (*f)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*, const void*,
	                    cudaDataType, int, const void*, cudaDataType, int, const void*, void*, cudaDataType, int,
	                    cublasComputeType_t, cublasGemmAlgo_t) = cublasGemmEx;
	(void)f;
}
*/
import "C"
