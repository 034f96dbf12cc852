// optim.cu: the global gradient norm and AdamW (olmo2.md §6; model/optim.go,
// model/cpu.go GradNorm).
#include "common.cuh"

// sumsq_part: part[b] = Σ x[i]² over block b's range [b·per, (b+1)·per), in
// float64. Fixed ranges make the norm independent of the launch shape.
// grid parts, block 256.
extern "C" __global__ void __launch_bounds__(256) sumsq_part(double* part, const float* x, long long n,
                                                             long long per) {
  __shared__ double red[32];
  long long lo = (long long)blockIdx.x * per;
  long long hi = lo + per < n ? lo + per : n;
  double acc = 0.0;
  for (long long i = lo + threadIdx.x; i < hi; i += blockDim.x) {
    double v = (double)x[i];
    acc += v * v;
  }
  acc = block_sum_d(acc, red);
  if (threadIdx.x == 0) part[blockIdx.x] = acc;
}

// sumsq_final: out[0] = Σ part. One block of 256 threads.
extern "C" __global__ void __launch_bounds__(256) sumsq_final(double* out, const double* part, int parts) {
  __shared__ double red[32];
  double acc = 0.0;
  for (int i = threadIdx.x; i < parts; i += blockDim.x) acc += part[i];
  acc = block_sum_d(acc, red);
  if (threadIdx.x == 0) out[0] = acc;
}

// adamw: one AdamW step over n contiguous parameters in torch's order
// (model/optim.go): g ← grad·gs; p ← p·decay; m ← β1·m + (1−β1)·g;
// v ← β2·v + (1−β2)·g²; p ← p − stepSize·m / (√v/bc2 + eps), with
// decay = 1 − lr·wd (1 where the tensor is not decayed), stepSize = lr/(1−β1ᵗ)
// and bc2 = √(1−β2ᵗ) computed on the host. pT, when not null, receives the
// updated weight in bf16 for the next step's matrix products. grid-stride.
template <int K>
__device__ void adamw_k(float* p, const float* g, float* m, float* v, bf16* pT, long long n, float gs, float decay,
                        float b1, float b2, float stepSize, float bc2, float eps) {
  for (long long i = ((long long)blockIdx.x * blockDim.x + threadIdx.x) * K; i < n;
       i += (long long)gridDim.x * blockDim.x * K) {
    float gi[K], pi[K], mi[K], vi[K];
    ldv(g, (size_t)i, gi);
    ldv(p, (size_t)i, pi);
    ldv(m, (size_t)i, mi);
    ldv(v, (size_t)i, vi);
#pragma unroll
    for (int e = 0; e < K; e++) {
      float ge = gi[e] * gs;
      float pe = pi[e] * decay;
      mi[e] = b1 * mi[e] + (1.f - b1) * ge;
      vi[e] = b2 * vi[e] + (1.f - b2) * ge * ge;
      pi[e] = pe - stepSize * mi[e] / (sqrtf(vi[e]) / bc2 + eps);
    }
    stv(m, (size_t)i, mi);
    stv(v, (size_t)i, vi);
    stv(p, (size_t)i, pi);
    if (pT) stv(pT, (size_t)i, pi);
  }
}
extern "C" __global__ void __launch_bounds__(256) adamw(float* p, const float* g, float* m, float* v, bf16* pT,
                                                        long long n, float gs, float decay, float b1, float b2,
                                                        float stepSize, float bc2, float eps) {
  if (n % 8 == 0 && al16(p) && al16(g) && al16(m) && al16(v) && al16(pT))
    adamw_k<8>(p, g, m, v, pT, n, gs, decay, b1, b2, stepSize, bc2, eps);
  else
    adamw_k<1>(p, g, m, v, pT, n, gs, decay, b1, b2, stepSize, bc2, eps);
}
