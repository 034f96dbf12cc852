// attention.cu: causal softmax attention with GQA (olmo2.md §2), flash-style:
// no (T,T) matrix is ever stored; the forward pass keeps one logsumexp per
// query row and the backward pass recomputes the probabilities from it
// (memory linear in T). These are the plain (CUDA-core, fp32 arithmetic)
// kernels: any head size up to 256, both activation types. They are exact
// enough for fp32 checks; attention_mma.cu has the tensor-core kernels the bf16
// engine uses for head sizes 64 and 128.
//
// Layouts (rows b·T + t): q (R, ldq) with head h at columns h·HS; k (R, ldk)
// and v (R, ldv) with kv head j at columns j·HS; o, dout (R, ld) like q;
// lse and D (B, NH, T). Query head h reads kv head h / (NH/NKV).
//
// One warp owns one row (a query row, or a key row in attn_bwd_dkv); its 32
// lanes own the dimensions d = lane + 32·j, j < 8, so q, the accumulators and
// the row's k or v live in registers, and each dot product is a warp sum.
#include "common.cuh"

#define ATT_ROWS 4  // warps, and so rows, per block (128 threads)
#define ATT_NJ 8    // register slots per lane: HS ≤ 32·ATT_NJ

// attn_fwd: o[t] = Σ_{s≤t} softmax_s(q_t·k_s·scale) v_s with the online
// softmax; lse[t] = max + log Σ exp. grid (ceil(T/4), NH, B), block 128,
// dynamic shared memory 2·KT·HS floats (a tile of KT keys and values).
//
// With PK (packed scoring rows, model.Packing; forward only) query t of row b
// skips keys [prefix[b], seg[b·T+t]), another segment's: it sees the row's
// prefix and its own segment up to itself. seg and prefix are read only when
// PK, so the training instantiation compiles to the kernel it was before.
template <typename A, bool PK>
__device__ void attn_fwd(A* o, float* lse, const A* q, const A* k, const A* v, int ldq, int ldk, int ldv, int ldo,
                         int T, int NH, int NKV, int HS, float scale, int KT, const int* seg, const int* prefix) {
  DYN_SMEM(att_smem);
  float* Ks = (float*)att_smem;
  float* Vs = Ks + KT * HS;
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int h = blockIdx.y, b = blockIdx.z, kvh = h / (NH / NKV);
  int t = blockIdx.x * ATT_ROWS + warp;
  float qv[ATT_NJ], acc[ATT_NJ];
#pragma unroll
  for (int j = 0; j < ATT_NJ; j++) {
    int d = lane + 32 * j;
    qv[j] = (d < HS && t < T) ? ld(q, (size_t)(b * T + t) * ldq + h * HS + d) : 0.f;
    acc[j] = 0.f;
  }
  float m = NEG_INF, l = 0.f;
  int pre = 0, sg = 0;  // PK: the warp's row masks keys [pre, sg)
  if (PK && t < T) {
    pre = prefix[b];
    sg = seg[(size_t)b * T + t];
  }
  int tlast = min(T - 1, (int)blockIdx.x * ATT_ROWS + ATT_ROWS - 1);
  for (int s0 = 0; s0 <= tlast; s0 += KT) {
    __syncthreads();
    for (int idx = threadIdx.x; idx < KT * HS; idx += blockDim.x) {
      int s = s0 + idx / HS, d = idx % HS;
      size_t row = (size_t)(b * T + s);
      Ks[idx] = s < T ? ld(k, row * ldk + kvh * HS + d) : 0.f;
      Vs[idx] = s < T ? ld(v, row * ldv + kvh * HS + d) : 0.f;
    }
    __syncthreads();
    if (t < T) {
      int send = min(s0 + KT - 1, t);
      for (int s = s0; s <= send; s++) {
        if (PK && s >= pre && s < sg) {  // another segment's keys (the warp's row: uniform); key 0 is never one
          s = sg - 1;
          continue;
        }
        const float* kr = Ks + (s - s0) * HS;
        const float* vr = Vs + (s - s0) * HS;
        float dot = 0.f;
#pragma unroll
        for (int j = 0; j < ATT_NJ; j++) {
          int d = lane + 32 * j;
          if (d < HS) dot += qv[j] * kr[d];
        }
        dot = warp_sum(dot) * scale;
        float mn = fmaxf(m, dot);
        float corr = expf(m - mn);
        float p = expf(dot - mn);
        l = l * corr + p;
#pragma unroll
        for (int j = 0; j < ATT_NJ; j++) {
          int d = lane + 32 * j;
          if (d < HS) acc[j] = acc[j] * corr + p * vr[d];
        }
        m = mn;
      }
    }
  }
  if (t < T) {
    float inv = 1.f / l;
#pragma unroll
    for (int j = 0; j < ATT_NJ; j++) {
      int d = lane + 32 * j;
      if (d < HS) st(o, (size_t)(b * T + t) * ldo + h * HS + d, acc[j] * inv);
    }
    if (lane == 0) lse[((size_t)b * NH + h) * T + t] = m + logf(l);
  }
}

// attn_bwd_pre: D[b,h,t] = Σ_d dout·o over the head's dimensions, which equals
// Σ_s P[t,s]·dP[t,s] (the CPU's "dot", model/jobs.go attnBackwardJob).
// One warp per (b,t,h): grid ceil(B·T·NH/4), block 128.
template <typename A>
__device__ void attn_bwd_pre(float* D, const A* o, const A* dout, int ldo, int lddo, int B, int T, int NH, int HS) {
  long long w = (long long)blockIdx.x * ATT_ROWS + (threadIdx.x >> 5);
  int lane = threadIdx.x & 31;
  if (w >= (long long)B * T * NH) return;
  int h = (int)(w % NH);
  long long bt = w / NH;
  float acc = 0.f;
  for (int d = lane; d < HS; d += 32)
    acc += ld(dout, (size_t)bt * lddo + h * HS + d) * ld(o, (size_t)bt * ldo + h * HS + d);
  acc = warp_sum(acc);
  int b = (int)(bt / T), t = (int)(bt % T);
  if (lane == 0) D[((size_t)b * NH + h) * T + t] = acc;
}

// attn_bwd_dq: dq[t] = scale · Σ_{s≤t} P[t,s](dP[t,s] − D[t]) k_s with
// P = exp(q·k·scale − lse) and dP = dout_t·v_s. A warp per query row, tiles of
// KT keys and values in shared memory. grid (ceil(T/4), NH, B), block 128,
// dynamic shared memory 2·KT·HS floats.
template <typename A>
__device__ void attn_bwd_dq(A* dq, int lddq, const A* q, const A* k, const A* v, const A* dout, const float* lse,
                            const float* D, int ldq, int ldk, int ldv, int lddo, int T, int NH, int NKV, int HS,
                            float scale, int KT) {
  DYN_SMEM(att_smem);
  float* Ks = (float*)att_smem;
  float* Vs = Ks + KT * HS;
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int h = blockIdx.y, b = blockIdx.z, kvh = h / (NH / NKV);
  int t = blockIdx.x * ATT_ROWS + warp;
  size_t qrow = (size_t)(b * T + t);
  float qv[ATT_NJ], dov[ATT_NJ], acc[ATT_NJ];
#pragma unroll
  for (int j = 0; j < ATT_NJ; j++) {
    int d = lane + 32 * j;
    bool ok = d < HS && t < T;
    qv[j] = ok ? ld(q, qrow * ldq + h * HS + d) : 0.f;
    dov[j] = ok ? ld(dout, qrow * lddo + h * HS + d) : 0.f;
    acc[j] = 0.f;
  }
  float L = 0.f, Dt = 0.f;
  if (t < T) {
    L = lse[((size_t)b * NH + h) * T + t];
    Dt = D[((size_t)b * NH + h) * T + t];
  }
  int tlast = min(T - 1, (int)blockIdx.x * ATT_ROWS + ATT_ROWS - 1);
  for (int s0 = 0; s0 <= tlast; s0 += KT) {
    __syncthreads();
    for (int idx = threadIdx.x; idx < KT * HS; idx += blockDim.x) {
      int s = s0 + idx / HS, d = idx % HS;
      size_t row = (size_t)(b * T + s);
      Ks[idx] = s < T ? ld(k, row * ldk + kvh * HS + d) : 0.f;
      Vs[idx] = s < T ? ld(v, row * ldv + kvh * HS + d) : 0.f;
    }
    __syncthreads();
    if (t < T) {
      int send = min(s0 + KT - 1, t);
      for (int s = s0; s <= send; s++) {
        const float* kr = Ks + (s - s0) * HS;
        const float* vr = Vs + (s - s0) * HS;
        float sd = 0.f, dp = 0.f;
#pragma unroll
        for (int j = 0; j < ATT_NJ; j++) {
          int d = lane + 32 * j;
          if (d < HS) {
            sd += qv[j] * kr[d];
            dp += dov[j] * vr[d];
          }
        }
        sd = warp_sum(sd);
        dp = warp_sum(dp);
        float p = expf(sd * scale - L);
        float ds = p * (dp - Dt);
#pragma unroll
        for (int j = 0; j < ATT_NJ; j++) {
          int d = lane + 32 * j;
          if (d < HS) acc[j] += ds * kr[d];
        }
      }
    }
  }
  if (t < T) {
#pragma unroll
    for (int j = 0; j < ATT_NJ; j++) {
      int d = lane + 32 * j;
      if (d < HS) st(dq, qrow * lddq + h * HS + d, acc[j] * scale);
    }
  }
}

// attn_bwd_dkv: for key row s of kv head j, over the query heads h of its
// group and the query rows t ≥ s: dv_s = Σ P[t,s]·dout_t and
// dk_s = scale · Σ P[t,s](dP[t,s] − D[t]) q_t. Each warp owns one key row and
// writes it once (no atomics, deterministic). grid (ceil(T/4), NKV, B),
// block 128, dynamic shared memory (2·QT·HS + 2·QT) floats.
template <typename A>
__device__ void attn_bwd_dkv(A* dk, A* dv, int lddk, int lddv, const A* q, const A* k, const A* v, const A* dout,
                             const float* lse, const float* D, int ldq, int ldk, int ldv, int lddo, int T, int NH,
                             int NKV, int HS, float scale, int QT) {
  DYN_SMEM(att_smem);
  float* Qs = (float*)att_smem;
  float* Os = Qs + QT * HS;
  float* Ls = Os + QT * HS;
  float* Ds = Ls + QT;
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  int kvh = blockIdx.y, b = blockIdx.z, g = NH / NKV;
  int s = blockIdx.x * ATT_ROWS + warp;
  size_t krow = (size_t)(b * T + s);
  float kv[ATT_NJ], vv[ATT_NJ], dka[ATT_NJ], dva[ATT_NJ];
#pragma unroll
  for (int j = 0; j < ATT_NJ; j++) {
    int d = lane + 32 * j;
    bool ok = d < HS && s < T;
    kv[j] = ok ? ld(k, krow * ldk + kvh * HS + d) : 0.f;
    vv[j] = ok ? ld(v, krow * ldv + kvh * HS + d) : 0.f;
    dka[j] = 0.f;
    dva[j] = 0.f;
  }
  int tfirst = blockIdx.x * ATT_ROWS;
  for (int h = kvh * g; h < kvh * g + g; h++) {
    for (int t0 = tfirst; t0 < T; t0 += QT) {
      __syncthreads();
      for (int idx = threadIdx.x; idx < QT * HS; idx += blockDim.x) {
        int t = t0 + idx / HS, d = idx % HS;
        size_t row = (size_t)(b * T + t);
        Qs[idx] = t < T ? ld(q, row * ldq + h * HS + d) : 0.f;
        Os[idx] = t < T ? ld(dout, row * lddo + h * HS + d) : 0.f;
      }
      for (int i = threadIdx.x; i < QT; i += blockDim.x) {
        int t = t0 + i;
        Ls[i] = t < T ? lse[((size_t)b * NH + h) * T + t] : 0.f;
        Ds[i] = t < T ? D[((size_t)b * NH + h) * T + t] : 0.f;
      }
      __syncthreads();
      if (s < T) {
        int tend = min(t0 + QT, T);
        for (int t = max(t0, s); t < tend; t++) {
          const float* qr = Qs + (t - t0) * HS;
          const float* orow = Os + (t - t0) * HS;
          float sd = 0.f, dp = 0.f;
#pragma unroll
          for (int j = 0; j < ATT_NJ; j++) {
            int d = lane + 32 * j;
            if (d < HS) {
              sd += qr[d] * kv[j];
              dp += orow[d] * vv[j];
            }
          }
          sd = warp_sum(sd);
          dp = warp_sum(dp);
          float p = expf(sd * scale - Ls[t - t0]);
          float ds = p * (dp - Ds[t - t0]);
#pragma unroll
          for (int j = 0; j < ATT_NJ; j++) {
            int d = lane + 32 * j;
            if (d < HS) {
              dva[j] += p * orow[d];
              dka[j] += ds * qr[d];
            }
          }
        }
      }
    }
  }
  if (s < T) {
#pragma unroll
    for (int j = 0; j < ATT_NJ; j++) {
      int d = lane + 32 * j;
      if (d < HS) {
        st(dk, krow * lddk + kvh * HS + d, dka[j] * scale);
        st(dv, krow * lddv + kvh * HS + d, dva[j]);
      }
    }
  }
}

#define ATT_ENTRIES(S, A)                                                                                          \
  extern "C" __global__ void __launch_bounds__(128)                                                                \
      attn_fwd_##S(A* o, float* lse, const A* q, const A* k, const A* v, int ldq, int ldk, int ldv, int ldo, int T, \
                   int NH, int NKV, int HS, float scale, int KT) {                                                  \
    attn_fwd<A, false>(o, lse, q, k, v, ldq, ldk, ldv, ldo, T, NH, NKV, HS, scale, KT, nullptr, nullptr);         \
  }                                                                                                                \
  /* packed scoring rows (model.Packing): seg (R) each row's segment start, prefix (B) */                         \
  extern "C" __global__ void __launch_bounds__(128)                                                                \
      attn_fwd_pk_##S(A* o, float* lse, const A* q, const A* k, const A* v, int ldq, int ldk, int ldv, int ldo,     \
                      int T, int NH, int NKV, int HS, float scale, int KT, const int* seg, const int* prefix) {    \
    attn_fwd<A, true>(o, lse, q, k, v, ldq, ldk, ldv, ldo, T, NH, NKV, HS, scale, KT, seg, prefix);               \
  }                                                                                                                \
  extern "C" __global__ void __launch_bounds__(128)                                                                \
      attn_bwd_pre_##S(float* D, const A* o, const A* dout, int ldo, int lddo, int B, int T, int NH, int HS) {     \
    attn_bwd_pre<A>(D, o, dout, ldo, lddo, B, T, NH, HS);                                                          \
  }                                                                                                                \
  extern "C" __global__ void __launch_bounds__(128)                                                                \
      attn_bwd_dq_##S(A* dq, int lddq, const A* q, const A* k, const A* v, const A* dout, const float* lse,         \
                      const float* D, int ldq, int ldk, int ldv, int lddo, int T, int NH, int NKV, int HS,         \
                      float scale, int KT) {                                                                       \
    attn_bwd_dq<A>(dq, lddq, q, k, v, dout, lse, D, ldq, ldk, ldv, lddo, T, NH, NKV, HS, scale, KT);               \
  }                                                                                                                \
  extern "C" __global__ void __launch_bounds__(128)                                                                \
      attn_bwd_dkv_##S(A* dk, A* dv, int lddk, int lddv, const A* q, const A* k, const A* v, const A* dout,         \
                       const float* lse, const float* D, int ldq, int ldk, int ldv, int lddo, int T, int NH,       \
                       int NKV, int HS, float scale, int QT) {                                                     \
    attn_bwd_dkv<A>(dk, dv, lddk, lddv, q, k, v, dout, lse, D, ldq, ldk, ldv, lddo, T, NH, NKV, HS, scale, QT);    \
  }

ATT_ENTRIES(f32, float)
ATT_ENTRIES(bf16, bf16)
