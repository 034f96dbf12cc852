// emu.h: the CUDA built-ins that olmolab's kernels use, on the CPU.
//
// A block's threads are coroutines (ucontext) on one OS thread; blocks run one
// after another. __syncthreads and the warp-wide operations (__shfl_*_sync,
// mma, ldmatrix) are barriers where a coroutine yields until every thread it
// waits for has arrived; a barrier nobody can complete is reported as a
// deadlock. Warps run one at a time, each as far as it can before the next
// starts (emu.cc run_block), an order that exposes a missing __syncthreads. The
// kernels' __shared__ variables become function statics, which all threads
// of the running block share, exactly as shared memory is shared.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

using std::max;
using std::min;

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};
struct uint4 {
  unsigned x, y, z, w;
};
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return uint4{a, b, c, d}; }

struct EmuThread;
extern EmuThread* emu_cur;
extern dim3 emu_gridDim, emu_blockDim, emu_blockIdx;
const dim3& emu_thread_idx();
unsigned char* emu_dyn_smem();
void emu_syncthreads();
void emu_warp_barrier();
int emu_lane();
void* emu_warp_buf();  // 32 × 64 bytes of exchange space for the calling thread's warp

#define threadIdx (emu_thread_idx())
#define blockIdx (emu_blockIdx)
#define blockDim (emu_blockDim)
#define gridDim (emu_gridDim)

inline void __syncthreads() { emu_syncthreads(); }

inline unsigned __float_as_uint(float f) {
  unsigned u;
  memcpy(&u, &f, 4);
  return u;
}
inline float __uint_as_float(unsigned u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
inline float __int_as_float(int u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// __shfl_xor_sync: every lane of the warp must call it (full mask only).
template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int laneMask) {
  static_assert(sizeof(T) <= 8, "shuffle of a value over 8 bytes");
  (void)mask;
  unsigned char* buf = (unsigned char*)emu_warp_buf();
  int lane = emu_lane();
  memcpy(buf + lane * 64, &v, sizeof(T));
  emu_warp_barrier();
  T r;
  memcpy(&r, buf + ((lane ^ laneMask) & 31) * 64, sizeof(T));
  emu_warp_barrier();
  return r;
}

void emu_mma16816(float d[4], const unsigned a[4], const unsigned b[2]);

// cp.async (common.cuh): a copy of bytes bytes, of which the first src_bytes
// come from src and the rest are zero. The copies of a thread are performed
// when that thread waits for their group (the latest moment the hardware may
// perform them), or at issue in the early mode (emu_set_cp_early), the
// earliest: one catches a read before the wait or its barrier, the other a
// copy into a buffer other threads are still reading.
void emu_cp_async(void* dst, const void* src, int bytes, int src_bytes);
void emu_cp_commit();
void emu_cp_wait(int n);
void emu_ldmatrix_x4(unsigned r[4], const unsigned short* row, bool trans);

// emu_vec_access records a 16-byte load or store of the row kernels' vector
// paths (common.cuh ld16, st16): it counts them, so tests can see which path
// ran, and aborts on an address that is not 16-byte aligned, which faults on
// the GPU ("misaligned address").
void emu_vec_access(const void* p);
