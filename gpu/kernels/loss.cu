// loss.cu: cross-entropy with z-loss over one chunk of logit rows
// (olmo2.md §6; model/jobs.go headJob), and the reduction of the per-row terms.
// The engine materialises at most a chunk of rows × V logits at a time, never
// the whole batch's.
#include "common.cuh"

// ce_chunk: for row i of a (rows, V) fp32 logits chunk, lse = logsumexp(row),
// ce[i] = lse − row[label], zz[i] = lse² (0 for both where label = −100); when
// backward ≠ 0 it also writes d total/d logits =
// scale·(softmax·(1 + 2z·lse) − onehot(label)) to dlogits in type A (a zero row
// for an ignored label). dlogits may alias logits in fp32 mode: the label's
// logit is read by every thread before the last barrier, and afterwards each
// thread reads and writes only its own elements. grid rows, block 512.
//
// The logits are the largest tensor the step streams through memory, so the
// max and the sum of exponentials come from one pass (each thread keeps a
// running max m and Σexp(x − m), rescaled when m grows; the block then
// rescales every thread's sum to the block's max): two reads of the row
// instead of three.
template <int K, typename A>
__device__ void ce_chunk_k(float* ce, float* zz, A* dlogits, const float* logits, const int* labels, int V,
                           float scale, float z, int backward) {
  __shared__ float red[32];
  size_t row = blockIdx.x;
  const float* L = logits + row * V;
  float mx = NEG_INF, sum = 0.f;
  for (int k = threadIdx.x * K; k < V; k += blockDim.x * K) {
    float v[K];
    ldv(L, k, v);
    float m = mx;
#pragma unroll
    for (int e = 0; e < K; e++) m = fmaxf(m, v[e]);
    if (m > mx) {
      sum *= expf(mx - m);  // expf(−inf) = 0 on the first chunk
      mx = m;
    }
#pragma unroll
    for (int e = 0; e < K; e++) sum += expf(v[e] - mx);
  }
  float bmx = block_max(mx, red);
  if (mx > NEG_INF) sum *= expf(mx - bmx);  // a thread without elements keeps sum 0
  mx = bmx;
  int label = labels[row];
  float ll = label == IGNORE_INDEX ? 0.f : L[label];
  sum = block_sum(sum, red);  // ends with a barrier: all reads of ll are done
  float lse = mx + logf(sum);
  if (threadIdx.x == 0) {
    ce[row] = label == IGNORE_INDEX ? 0.f : lse - ll;
    zz[row] = label == IGNORE_INDEX ? 0.f : lse * lse;
  }
  if (!backward) return;
  A* D = dlogits + row * V;
  if (label == IGNORE_INDEX) {
    float zero[K] = {};
    for (int k = threadIdx.x * K; k < V; k += blockDim.x * K) stv(D, k, zero);
    return;
  }
  float f = scale * (1.f + 2.f * z * lse);
  for (int k = threadIdx.x * K; k < V; k += blockDim.x * K) {
    float d[K];
    ldv(L, k, d);
#pragma unroll
    for (int e = 0; e < K; e++) {
      d[e] = f * expf(d[e] - lse);
      if (k + e == label) d[e] -= scale;
    }
    stv(D, k, d);
  }
}

template <typename A>
__device__ void ce_chunk(float* ce, float* zz, A* dlogits, const float* logits, const int* labels, int V,
                         float scale, float z, int backward) {
  if (V % 8 == 0 && al16(dlogits) && al16(logits))
    ce_chunk_k<8>(ce, zz, dlogits, logits, labels, V, scale, z, backward);
  else
    ce_chunk_k<1>(ce, zz, dlogits, logits, labels, V, scale, z, backward);
}

extern "C" __global__ void __launch_bounds__(512) ce_chunk_f32(float* ce, float* zz, float* dlogits,
                                                               const float* logits, const int* labels, int V,
                                                               float scale, float z, int backward) {
  ce_chunk<float>(ce, zz, dlogits, logits, labels, V, scale, z, backward);
}
extern "C" __global__ void __launch_bounds__(512) ce_chunk_bf16(float* ce, float* zz, bf16* dlogits,
                                                                const float* logits, const int* labels, int V,
                                                                float scale, float z, int backward) {
  ce_chunk<bf16>(ce, zz, dlogits, logits, labels, V, scale, z, backward);
}

// loss_reduce: acc[0] += Σ ce, acc[1] += Σ zz over rows whose label is not
// −100, in float64 as the CPU engine sums them. One block of 256 threads.
extern "C" __global__ void __launch_bounds__(256) loss_reduce(double* acc, const float* ce, const float* zz,
                                                              const int* labels, int R) {
  __shared__ double red[32];
  double a = 0.0, b = 0.0;
  for (int r = threadIdx.x; r < R; r += blockDim.x) {
    if (labels[r] != IGNORE_INDEX) {
      a += (double)ce[r];
      b += (double)zz[r];
    }
  }
  a = block_sum_d(a, red);
  b = block_sum_d(b, red);
  if (threadIdx.x == 0) {
    acc[0] += a;
    acc[1] += b;
  }
}
