// common.cuh: types and helpers shared by olmolab's kernels.
//
// The same source compiles two ways: with nvcc to PTX (go generate, see
// kernels.go), and with a host C++ compiler inside the CPU emulator
// (gpu/internal/emu, build tag emu) that runs every kernel on the CPU so the
// engine can be checked against the CPU engine without a GPU. OLMO_EMU selects
// the emulator's definitions of the CUDA built-ins.
//
// Legend (as in model/): R rows of one device pass (B·T), C channels, n a row
// width, T time, NH query heads, NKV key/value heads, HS head size, V vocab.
// Activations and matmul operands have type A: float (fp32 mode) or bf16
// (mixed precision); residual stream, norms' statistics, master weights,
// gradients and AdamW moments are always float (DESIGN.md, "Mixed precision").
#pragma once

#ifdef OLMO_EMU
#include "emu.h"
#endif

// bf16 is a bfloat16 value kept as its bits. Conversions are written out (not
// cuda_bf16.h) so that the emulator and the GPU round identically.
typedef unsigned short bf16;

__device__ __forceinline__ float bf2f(bf16 x) { return __uint_as_float(((unsigned)x) << 16); }

// f2bf rounds to nearest even; NaN stays NaN.
__device__ __forceinline__ bf16 f2bf(float f) {
  unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16)0x7fc0;
  u += 0x7fffu + ((u >> 16) & 1u);
  return (bf16)(u >> 16);
}

// pack2 puts lo in the low half, as mma fragments expect (lower index, lower bits).
__device__ __forceinline__ unsigned pack2(float lo, float hi) {
  return (unsigned)f2bf(lo) | ((unsigned)f2bf(hi) << 16);
}
__device__ __forceinline__ unsigned pack2h(bf16 lo, bf16 hi) { return (unsigned)lo | ((unsigned)hi << 16); }

__device__ __forceinline__ float ld(const float* p, size_t i) { return p[i]; }
__device__ __forceinline__ float ld(const bf16* p, size_t i) { return bf2f(p[i]); }
__device__ __forceinline__ void st(float* p, size_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(bf16* p, size_t i, float v) { p[i] = f2bf(v); }

// ---- K-wide access for the memory-bound row kernels. With K = 8 a thread
// moves 8 elements with 16-byte loads and stores (one for bf16, two for fp32),
// so a warp moves 512 B of bf16 per instruction instead of 64 B; with K = 1 it
// is ld/st. A kernel runs its K = 8 body only when every pointer it touches
// is 16-byte aligned (al16) and its widths and strides are multiples of 8,
// else the K = 1 body, so any layout still works. The overloads are chosen by
// the array's length.
__device__ __forceinline__ bool al16(const void* p) { return ((unsigned long long)p & 15ull) == 0; }

__device__ __forceinline__ uint4 ld16(const void* p) {
#ifdef OLMO_EMU
  uint4 u;
  emu_vec_access(p);
  memcpy(&u, p, 16);
  return u;
#else
  return *(const uint4*)p;
#endif
}
__device__ __forceinline__ void st16(void* p, uint4 u) {
#ifdef OLMO_EMU
  emu_vec_access(p);
  memcpy(p, &u, 16);
#else
  *(uint4*)p = u;
#endif
}

__device__ __forceinline__ void ldv(const float* p, size_t i, float (&v)[1]) { v[0] = p[i]; }
__device__ __forceinline__ void ldv(const bf16* p, size_t i, float (&v)[1]) { v[0] = bf2f(p[i]); }
__device__ __forceinline__ void stv(float* p, size_t i, const float (&v)[1]) { p[i] = v[0]; }
__device__ __forceinline__ void stv(bf16* p, size_t i, const float (&v)[1]) { p[i] = f2bf(v[0]); }

__device__ __forceinline__ void ldv(const float* p, size_t i, float (&v)[8]) {
  uint4 a = ld16(p + i), b = ld16(p + i + 4);
  v[0] = __uint_as_float(a.x), v[1] = __uint_as_float(a.y), v[2] = __uint_as_float(a.z), v[3] = __uint_as_float(a.w);
  v[4] = __uint_as_float(b.x), v[5] = __uint_as_float(b.y), v[6] = __uint_as_float(b.z), v[7] = __uint_as_float(b.w);
}
__device__ __forceinline__ void ldv(const bf16* p, size_t i, float (&v)[8]) {
  uint4 a = ld16(p + i);
  unsigned w[4] = {a.x, a.y, a.z, a.w};
#pragma unroll
  for (int k = 0; k < 4; k++) {
    v[2 * k] = __uint_as_float(w[k] << 16);  // the lower index is in the lower bits
    v[2 * k + 1] = __uint_as_float(w[k] & 0xffff0000u);
  }
}
__device__ __forceinline__ void stv(float* p, size_t i, const float (&v)[8]) {
  st16(p + i, make_uint4(__float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]), __float_as_uint(v[3])));
  st16(p + i + 4,
       make_uint4(__float_as_uint(v[4]), __float_as_uint(v[5]), __float_as_uint(v[6]), __float_as_uint(v[7])));
}
__device__ __forceinline__ void stv(bf16* p, size_t i, const float (&v)[8]) {
  st16(p + i, make_uint4(pack2(v[0], v[1]), pack2(v[2], v[3]), pack2(v[4], v[5]), pack2(v[6], v[7])));
}

// DYN_SMEM declares the block's dynamic shared memory (the launch's smem bytes).
#ifdef OLMO_EMU
#define DYN_SMEM(name) unsigned char* name = emu_dyn_smem()
#else
#define DYN_SMEM(name) extern __shared__ __align__(16) unsigned char name[]
#endif

#define IGNORE_INDEX (-100)
#define NEG_INF (-__int_as_float(0x7f800000))

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ double warp_sum_d(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// block_sum returns the sum of v over the block to every thread. blockDim.x must
// be a multiple of 32 (every launch in the engine uses 128, 256 or 512), and
// every thread must call it. red holds 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float* red) {
  v = warp_sum(v);
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();  // red may still be read by a previous call
  if (lane == 0) red[w] = v;
  __syncthreads();
  if (w == 0) {
    float x = lane < nw ? red[lane] : 0.f;
    x = warp_sum(x);
    if (lane == 0) red[0] = x;
  }
  __syncthreads();
  return red[0];
}

__device__ __forceinline__ double block_sum_d(double v, double* red) {
  v = warp_sum_d(v);
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) red[w] = v;
  __syncthreads();
  if (w == 0) {
    double x = lane < nw ? red[lane] : 0.0;
    x = warp_sum_d(x);
    if (lane == 0) red[0] = x;
  }
  __syncthreads();
  return red[0];
}

__device__ __forceinline__ float block_max(float v, float* red) {
  v = warp_max(v);
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) red[w] = v;
  __syncthreads();
  if (w == 0) {
    float x = lane < nw ? red[lane] : NEG_INF;
    x = warp_max(x);
    if (lane == 0) red[0] = x;
  }
  __syncthreads();
  return red[0];
}

// mma16816 is one warp-wide tensor-core product d += a·b with a 16×16 bf16 A
// (row-major fragments a[0..3]), a 16×8 bf16 B (column-major fragments
// b[0..1]) and a 16×8 fp32 accumulator d[0..3]. Fragment ownership (PTX ISA,
// "Matrix fragments for mma.m16n8k16 with floating point type"), with
// g = lane/4 and c = lane%4:
//   a[0] = A[g][2c..2c+1]   a[1] = A[g+8][2c..2c+1]   a[2] = A[g][2c+8..]   a[3] = A[g+8][2c+8..]
//   b[0] = B[2c..2c+1][g]   b[1] = B[2c+8..2c+9][g]
//   d[0..1] = D[g][2c..2c+1]   d[2..3] = D[g+8][2c..2c+1]
// The emulator implements the same mapping (emu.h) so the kernels' indexing is
// checked on the CPU.
__device__ __forceinline__ void mma16816(float d[4], const unsigned a[4], const unsigned b[2]) {
#ifdef OLMO_EMU
  emu_mma16816(d, a, b);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// ldsm_x4 loads four 8×8 bf16 matrices from shared memory (ldmatrix.x4):
// lanes 8i..8i+7 give the addresses of matrix i's rows (16 bytes each, 16-byte
// aligned), and r[i] receives matrix i's fragment M_i[g][2c..2c+1] (g = lane/4,
// c = lane%4) — exactly an mma operand fragment. ldsm_x4_t loads the
// transposed fragments (M_i[2c][g], M_i[2c+1][g]). PTX ISA, "ldmatrix".
__device__ __forceinline__ void ldsm_x4(unsigned r[4], const bf16* row) {
#ifdef OLMO_EMU
  emu_ldmatrix_x4(r, row, false);
#else
  unsigned a = (unsigned)__cvta_generic_to_shared(row);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
#endif
}
__device__ __forceinline__ void ldsm_x4_t(unsigned r[4], const bf16* row) {
#ifdef OLMO_EMU
  emu_ldmatrix_x4(r, row, true);
#else
  unsigned a = (unsigned)__cvta_generic_to_shared(row);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
#endif
}

// ---- asynchronous global→shared copies (cp.async, sm_80 and later; PTX ISA
// "Data Movement and Conversion Instructions: cp.async")
//
// A thread's copies form groups: cp_async_commit closes the group of the copies
// issued since the previous commit, and cp_async_wait_all blocks the calling
// thread until all of ITS OWN committed groups have landed in shared memory.
// Other threads see the data only after a __syncthreads that follows their
// writers' waits, so every consumer of a tile does: wait_all, __syncthreads,
// read. The emulator (emu.h) defers each copy to the writer's wait (or, in its
// "early" mode, performs it at issue), so a missing wait or barrier reads the
// NaN-filled shared memory or the previous tile there.

// cp_async16 copies 16 bytes; with valid false it writes 16 zero bytes and
// reads nothing (src-size 0). Both addresses must be 16-byte aligned, and src
// must still be an address inside the tensor (callers pass a clamped row).
__device__ __forceinline__ void cp_async16(void* sdst, const void* gsrc, bool valid) {
#ifdef OLMO_EMU
  emu_cp_async(sdst, gsrc, 16, valid ? 16 : 0);
#else
  unsigned s = (unsigned)__cvta_generic_to_shared(sdst);
  int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gsrc), "r"(n) : "memory");
#endif
}

// cp_async4 is cp_async16 for one 4-byte word (cp.async.ca: the .cg variant
// exists only for 16 bytes).
__device__ __forceinline__ void cp_async4(void* sdst, const void* gsrc, bool valid) {
#ifdef OLMO_EMU
  emu_cp_async(sdst, gsrc, 4, valid ? 4 : 0);
#else
  unsigned s = (unsigned)__cvta_generic_to_shared(sdst);
  int n = valid ? 4 : 0;
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s), "l"(gsrc), "r"(n) : "memory");
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#ifdef OLMO_EMU
  emu_cp_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// cp_async_wait_all waits for every committed group of the calling thread
// (cp.async.wait_group 0).
__device__ __forceinline__ void cp_async_wait_all() {
#ifdef OLMO_EMU
  emu_cp_wait(0);
#else
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
#endif
}

// ex2 is 2^x with the MUFU.EX2 unit (ex2.approx.ftz.f32: about 2 ulp, ex2(-inf)
// = +0), what FlashAttention-2 computes its softmax with; expf would add a
// range reduction around the same instruction. The emulator uses exp2f.
__device__ __forceinline__ float ex2(float x) {
#ifdef OLMO_EMU
  return exp2f(x);
#else
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
#endif
}
