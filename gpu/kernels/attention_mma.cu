// attention_mma.cu: the tensor-core flash attention of the bf16 engine, for
// head sizes 64 and 128 (FlashAttention-2's structure: Dao 2023, arXiv
// 2307.08691). Same layouts and the same mathematics as attention.cu; the
// products run on mma.sync.m16n8k16 (bf16 in, fp32 accumulate), which the
// compute_80 and compute_90 PTX both have. The backward pass is two kernels,
// one owning key rows (dk, dv) and one owning query rows (dq), so nothing is
// accumulated with atomics and results are deterministic.
//
// Fragment ownership is in common.cuh (mma16816). A warp owns 16 rows; with
// g = lane/4 and c = lane%4 a lane holds rows g and g+8 of each accumulator
// tile, columns 2c and 2c+1. Operands come out of shared memory through
// ldmatrix; rows are padded by 8 bf16 so that the eight 16-byte rows of each
// ldmatrix phase fall in different banks.
#include "common.cuh"

#define MMA_PAD 8

// load_rows copies rows [r0, r0+n) (head columns col .. col+HS) of a bf16 (R, ld)
// matrix into a shared tile with row stride HS+PAD, zero-filling rows ≥ T.
// 16-byte accesses: every ld, column and HS is a multiple of 8 elements.
template <int HS>
__device__ __forceinline__ void load_rows(bf16* dst, const bf16* src, int ld, int col, int b, int r0, int n, int T) {
  constexpr int V8 = HS / 8;  // 16-byte vectors per row
  for (int idx = threadIdx.x; idx < n * V8; idx += blockDim.x) {
    int i = idx / V8, c8 = idx % V8;
    int r = r0 + i;
    uint4 val = make_uint4(0u, 0u, 0u, 0u);
    if (r < T) val = *(const uint4*)(src + (size_t)(b * T + r) * ld + col + c8 * 8);
    *(uint4*)(dst + i * (HS + MMA_PAD) + c8 * 8) = val;
  }
}

// load_afrag reads the A fragments of 16 rows (row0.., head columns col..) of a
// bf16 matrix straight from global memory; rows ≥ T read as zero.
template <int HS>
__device__ __forceinline__ void load_afrag(unsigned fr[HS / 16][4], const bf16* src, int ld, int col, int b, int row0,
                                           int T) {
  int lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  int r0 = row0 + g, r1 = row0 + g + 8;
  const bf16* p0 = src + (size_t)(b * T + r0) * ld + col;
  const bf16* p1 = src + (size_t)(b * T + r1) * ld + col;
#pragma unroll
  for (int kk = 0; kk < HS / 16; kk++) {
    fr[kk][0] = r0 < T ? *(const unsigned*)(p0 + 16 * kk + 2 * c) : 0u;
    fr[kk][1] = r1 < T ? *(const unsigned*)(p1 + 16 * kk + 2 * c) : 0u;
    fr[kk][2] = r0 < T ? *(const unsigned*)(p0 + 16 * kk + 8 + 2 * c) : 0u;
    fr[kk][3] = r1 < T ? *(const unsigned*)(p1 + 16 * kk + 8 + 2 * c) : 0u;
  }
}

// The three shared-memory operand loads, each one ldmatrix.x4 (common.cuh),
// with lane = 8i + j giving row j of matrix i.

// smem_afrag: the A fragments of k-step kk for the 16 rows row0.. of a tile.
template <int HS>
__device__ __forceinline__ void smem_afrag(unsigned a[4], const bf16* tile, int row0, int kk) {
  constexpr int LDS = HS + MMA_PAD;
  int lane = threadIdx.x & 31;
  ldsm_x4(a, tile + (row0 + (lane & 7) + 8 * ((lane >> 3) & 1)) * LDS + 16 * kk + 8 * (lane >> 4));
}

// smem_bfrag_t: B fragments of k-step kk for the two n-tiles n0.. and n0+8..,
// where B[k][n] = tile[n0+n][16kk+k] (a product with the tile transposed: the
// k index runs along a tile row). b[0..1] serve n-tile n0, b[2..3] n-tile n0+8.
template <int HS>
__device__ __forceinline__ void smem_bfrag_t(unsigned b[4], const bf16* tile, int n0, int kk) {
  constexpr int LDS = HS + MMA_PAD;
  int lane = threadIdx.x & 31;
  ldsm_x4(b, tile + (n0 + (lane & 7) + 8 * (lane >> 4)) * LDS + 16 * kk + 8 * ((lane >> 3) & 1));
}

// smem_bfrag_n: B fragments for the two n-tiles n0.. and n0+8.. where
// B[k][n] = tile[k0+k][n0+n] (the k index runs down the tile's rows: a
// transposing load). b[0..1] serve n-tile n0, b[2..3] n-tile n0+8.
template <int HS>
__device__ __forceinline__ void smem_bfrag_n(unsigned b[4], const bf16* tile, int k0, int n0) {
  constexpr int LDS = HS + MMA_PAD;
  int lane = threadIdx.x & 31;
  ldsm_x4_t(b, tile + (k0 + (lane & 7) + 8 * ((lane >> 3) & 1)) * LDS + n0 + 8 * (lane >> 4));
}

// cfrag_to_a turns two 16×8 accumulator tiles (columns 0..7 and 8..15 of a
// 16×16 block) into the A fragments of a product over those 16 columns.
__device__ __forceinline__ void cfrag_to_a(unsigned a[4], const float c0[4], const float c1[4]) {
  a[0] = pack2(c0[0], c0[1]);
  a[1] = pack2(c0[2], c0[3]);
  a[2] = pack2(c1[0], c1[1]);
  a[3] = pack2(c1[2], c1[3]);
}

// attn_fwd_mma: 4 warps × 16 query rows per block, key tiles of 64.
// grid (ceil(T/64), NH, B), block 128, static shared memory 2·64·(HS+8) bf16.
//
// With PK (packed scoring rows, model.Packing; forward only, no backward
// exists) query t of row b also masks keys [prefix[b], seg[b·T+t]): it sees
// the row's shared prefix and its own segment up to itself. seg and prefix
// are read only when PK, so the training instantiation (PK false) compiles
// to the kernel it was before packing existed.
template <int HS, bool PK>
__device__ void attn_fwd_mma(bf16* o, float* lse, const bf16* q, const bf16* k, const bf16* v, int ldq, int ldk,
                             int ldv, int ldo, int T, int NH, int NKV, float scale, const int* seg,
                             const int* prefix) {
  constexpr int BR = 64, BC = 64, LDS = HS + MMA_PAD, NT = HS / 8;
  __shared__ __align__(16) bf16 Ks[BC * LDS];
  __shared__ __align__(16) bf16 Vs[BC * LDS];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  int nqt = (T + BR - 1) / BR;
  int qt = nqt - 1 - (int)blockIdx.x;  // the longest rows first
  int h = blockIdx.y, b = blockIdx.z, kvh = h / (NH / NKV);
  int q0 = qt * BR + warp * 16;
  unsigned qa[HS / 16][4];
  load_afrag<HS>(qa, q, ldq, h * HS, b, q0, T);
  float oacc[NT][4];
#pragma unroll
  for (int i = 0; i < NT; i++) oacc[i][0] = oacc[i][1] = oacc[i][2] = oacc[i][3] = 0.f;
  float mrow[2] = {NEG_INF, NEG_INF}, lrow[2] = {0.f, 0.f};
  // PK: the masked keys [pre, sg[r]) of the lane's two rows (empty for rows ≥ T)
  int pre = 0, sg[2] = {0, 0};
  if (PK) {
    pre = prefix[b];
#pragma unroll
    for (int r = 0; r < 2; r++) {
      int row = q0 + g + 8 * r;
      sg[r] = row < T ? seg[(size_t)b * T + row] : 0;
    }
  }
  int kend = min(T, (qt + 1) * BR);
  for (int kt0 = 0; kt0 < kend; kt0 += BC) {
    __syncthreads();
    load_rows<HS>(Ks, k, ldk, kvh * HS, b, kt0, BC, T);
    load_rows<HS>(Vs, v, ldv, kvh * HS, b, kt0, BC, T);
    __syncthreads();
    float s[8][4];
#pragma unroll
    for (int nt = 0; nt < 8; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
#pragma unroll
    for (int np = 0; np < 4; np++) {
#pragma unroll
      for (int kk = 0; kk < HS / 16; kk++) {
        unsigned bb[4];
        smem_bfrag_t<HS>(bb, Ks, np * 16, kk);
        mma16816(s[2 * np], qa[kk], bb);
        mma16816(s[2 * np + 1], qa[kk], bb + 2);
      }
    }
    // scale, causal mask (and keys past T), online softmax per row
#pragma unroll
    for (int r = 0; r < 2; r++) {
      int row = q0 + g + 8 * r;
      float mx = NEG_INF;
#pragma unroll
      for (int nt = 0; nt < 8; nt++) {
#pragma unroll
        for (int e = 0; e < 2; e++) {
          int col = kt0 + nt * 8 + 2 * c + e;
          float x = s[nt][2 * r + e] * scale;
          if (col > row || col >= T) x = NEG_INF;
          if (PK && col >= pre && col < sg[r]) x = NEG_INF;  // another segment's key
          s[nt][2 * r + e] = x;
          mx = fmaxf(mx, x);
        }
      }
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      float mn = fmaxf(mrow[r], mx);
      float mbase = mn == NEG_INF ? 0.f : mn;  // a row with no key yet (rows ≥ T only; key 0 is never masked)
      float corr = expf(mrow[r] - mbase);
      mrow[r] = mn;
      lrow[r] *= corr;
#pragma unroll
      for (int i = 0; i < NT; i++) {
        oacc[i][2 * r] *= corr;
        oacc[i][2 * r + 1] *= corr;
      }
#pragma unroll
      for (int nt = 0; nt < 8; nt++) {
#pragma unroll
        for (int e = 0; e < 2; e++) {
          float p = expf(s[nt][2 * r + e] - mbase);
          s[nt][2 * r + e] = p;
          lrow[r] += p;
        }
      }
    }
    // O += P·V over the tile's 64 keys (4 k-steps of 16)
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
      unsigned pa[4];
      cfrag_to_a(pa, s[2 * kk], s[2 * kk + 1]);
#pragma unroll
      for (int i = 0; i < NT; i += 2) {
        unsigned bb[4];
        smem_bfrag_n<HS>(bb, Vs, 16 * kk, i * 8);
        mma16816(oacc[i], pa, bb);
        mma16816(oacc[i + 1], pa, bb + 2);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < 2; r++) {
    float l = lrow[r];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    int row = q0 + g + 8 * r;
    if (row < T) {
      float inv = 1.f / l;
      bf16* orow = o + (size_t)(b * T + row) * ldo + h * HS;
#pragma unroll
      for (int i = 0; i < NT; i++)
        *(unsigned*)(orow + i * 8 + 2 * c) = pack2(oacc[i][2 * r] * inv, oacc[i][2 * r + 1] * inv);
      if (c == 0) lse[((size_t)b * NH + h) * T + row] = mrow[r] + logf(l);
    }
  }
}

// attn_bwd_dkv_mma: a block owns 64 key rows of one kv head (16 per warp) and
// walks the query rows t ≥ its first key, 16 at a time, for every query head of
// the group: Pᵀ = exp(K·Qᵀ·scale − lse), dPᵀ = V·doutᵀ, dSᵀ = Pᵀ(dPᵀ − D),
// dV += Pᵀ·dout, dK += dSᵀ·Q (times scale at the end). grid (ceil(T/64), NKV, B),
// block 128, static shared memory (2·64 + 2·16)·(HS+8) bf16 + 32 floats.
template <int HS>
__device__ void attn_bwd_dkv_mma(bf16* dk, bf16* dv, int lddk, int lddv, const bf16* q, const bf16* k, const bf16* v,
                                 const bf16* dout, const float* lse, const float* D, int ldq, int ldk, int ldv,
                                 int lddo, int T, int NH, int NKV, float scale) {
  constexpr int BC = 64, QS = 16, LDS = HS + MMA_PAD, NT = HS / 8;
  __shared__ __align__(16) bf16 Ks[BC * LDS];
  __shared__ __align__(16) bf16 Vs[BC * LDS];
  __shared__ __align__(16) bf16 Qs[QS * LDS];
  __shared__ __align__(16) bf16 Os[QS * LDS];
  __shared__ float Ls[QS], Ds[QS];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  int nkt = (T + BC - 1) / BC;
  int kt = nkt - 1 - (int)blockIdx.x;  // the first keys see the most queries: schedule them first
  int kvh = blockIdx.y, b = blockIdx.z, grp = NH / NKV;
  int k0 = kt * BC, kw0 = k0 + warp * 16;
  load_rows<HS>(Ks, k, ldk, kvh * HS, b, k0, BC, T);
  load_rows<HS>(Vs, v, ldv, kvh * HS, b, k0, BC, T);
  float dka[NT][4], dva[NT][4];
#pragma unroll
  for (int i = 0; i < NT; i++) {
    dka[i][0] = dka[i][1] = dka[i][2] = dka[i][3] = 0.f;
    dva[i][0] = dva[i][1] = dva[i][2] = dva[i][3] = 0.f;
  }
  for (int h = kvh * grp; h < kvh * grp + grp; h++) {
    for (int t0 = k0; t0 < T; t0 += QS) {
      __syncthreads();  // also orders the K, V tile loads before the first use
      load_rows<HS>(Qs, q, ldq, h * HS, b, t0, QS, T);
      load_rows<HS>(Os, dout, lddo, h * HS, b, t0, QS, T);
      if (threadIdx.x < QS) {
        int t = t0 + threadIdx.x;
        Ls[threadIdx.x] = t < T ? lse[((size_t)b * NH + h) * T + t] : 0.f;
        Ds[threadIdx.x] = t < T ? D[((size_t)b * NH + h) * T + t] : 0.f;
      }
      __syncthreads();
      if (t0 + QS - 1 < kw0) continue;  // every query of this step precedes the warp's keys
      float st_[2][4], dp[2][4];
#pragma unroll
      for (int nt = 0; nt < 2; nt++) {
        st_[nt][0] = st_[nt][1] = st_[nt][2] = st_[nt][3] = 0.f;
        dp[nt][0] = dp[nt][1] = dp[nt][2] = dp[nt][3] = 0.f;
      }
#pragma unroll
      for (int kk = 0; kk < HS / 16; kk++) {
        unsigned ka[4], va[4], bq[4], bo[4];
        smem_afrag<HS>(ka, Ks, warp * 16, kk);
        smem_afrag<HS>(va, Vs, warp * 16, kk);
        smem_bfrag_t<HS>(bq, Qs, 0, kk);
        smem_bfrag_t<HS>(bo, Os, 0, kk);
        mma16816(st_[0], ka, bq);
        mma16816(st_[1], ka, bq + 2);
        mma16816(dp[0], va, bo);
        mma16816(dp[1], va, bo + 2);
      }
      // Pᵀ and dSᵀ in place; rows are keys, columns queries
#pragma unroll
      for (int nt = 0; nt < 2; nt++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
          int srow = kw0 + g + 8 * (e >> 1);
          int tc = nt * 8 + 2 * c + (e & 1);
          int t = t0 + tc;
          float p = (t >= srow && t < T && srow < T) ? expf(st_[nt][e] * scale - Ls[tc]) : 0.f;
          st_[nt][e] = p;
          dp[nt][e] = p * (dp[nt][e] - Ds[tc]);
        }
      }
      unsigned pa[4], dsa[4];
      cfrag_to_a(pa, st_[0], st_[1]);
      cfrag_to_a(dsa, dp[0], dp[1]);
#pragma unroll
      for (int i = 0; i < NT; i += 2) {
        unsigned bo[4], bq[4];
        smem_bfrag_n<HS>(bo, Os, 0, i * 8);
        smem_bfrag_n<HS>(bq, Qs, 0, i * 8);
        mma16816(dva[i], pa, bo);
        mma16816(dva[i + 1], pa, bo + 2);
        mma16816(dka[i], dsa, bq);
        mma16816(dka[i + 1], dsa, bq + 2);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < 2; r++) {
    int s = kw0 + g + 8 * r;
    if (s < T) {
      bf16* dkr = dk + (size_t)(b * T + s) * lddk + kvh * HS;
      bf16* dvr = dv + (size_t)(b * T + s) * lddv + kvh * HS;
#pragma unroll
      for (int i = 0; i < NT; i++) {
        *(unsigned*)(dkr + i * 8 + 2 * c) = pack2(dka[i][2 * r] * scale, dka[i][2 * r + 1] * scale);
        *(unsigned*)(dvr + i * 8 + 2 * c) = pack2(dva[i][2 * r], dva[i][2 * r + 1]);
      }
    }
  }
}

// attn_bwd_dq_mma: a block owns 64 query rows of one head (16 per warp) and
// walks the key rows s ≤ its last query, 32 at a time: P = exp(Q·Kᵀ·scale − lse),
// dP = dout·Vᵀ, dS = P(dP − D), dQ += dS·K (times scale at the end).
// grid (ceil(T/64), NH, B), block 128, static shared memory 2·32·(HS+8) bf16.
template <int HS>
__device__ void attn_bwd_dq_mma(bf16* dq, int lddq, const bf16* q, const bf16* k, const bf16* v, const bf16* dout,
                                const float* lse, const float* D, int ldq, int ldk, int ldv, int lddo, int T, int NH,
                                int NKV, float scale) {
  constexpr int BR = 64, BC = 32, LDS = HS + MMA_PAD, NT = HS / 8;
  __shared__ __align__(16) bf16 Ks[BC * LDS];
  __shared__ __align__(16) bf16 Vs[BC * LDS];
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  int nqt = (T + BR - 1) / BR;
  int qt = nqt - 1 - (int)blockIdx.x;
  int h = blockIdx.y, b = blockIdx.z, kvh = h / (NH / NKV);
  int q0 = qt * BR + warp * 16;
  unsigned qa[HS / 16][4], oa[HS / 16][4];
  load_afrag<HS>(qa, q, ldq, h * HS, b, q0, T);
  load_afrag<HS>(oa, dout, lddo, h * HS, b, q0, T);
  float Lr[2], Dr[2];
#pragma unroll
  for (int r = 0; r < 2; r++) {
    int row = q0 + g + 8 * r;
    Lr[r] = row < T ? lse[((size_t)b * NH + h) * T + row] : 0.f;
    Dr[r] = row < T ? D[((size_t)b * NH + h) * T + row] : 0.f;
  }
  float dqa[NT][4];
#pragma unroll
  for (int i = 0; i < NT; i++) dqa[i][0] = dqa[i][1] = dqa[i][2] = dqa[i][3] = 0.f;
  int kend = min(T, (qt + 1) * BR);
  for (int kt0 = 0; kt0 < kend; kt0 += BC) {
    __syncthreads();
    load_rows<HS>(Ks, k, ldk, kvh * HS, b, kt0, BC, T);
    load_rows<HS>(Vs, v, ldv, kvh * HS, b, kt0, BC, T);
    __syncthreads();
    if (kt0 > q0 + 15) continue;  // every key of this step follows the warp's queries
    float s[4][4], dp[4][4];
#pragma unroll
    for (int nt = 0; nt < 4; nt++) {
      s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
      dp[nt][0] = dp[nt][1] = dp[nt][2] = dp[nt][3] = 0.f;
    }
#pragma unroll
    for (int np = 0; np < 2; np++) {
#pragma unroll
      for (int kk = 0; kk < HS / 16; kk++) {
        unsigned bk[4], bv[4];
        smem_bfrag_t<HS>(bk, Ks, np * 16, kk);
        smem_bfrag_t<HS>(bv, Vs, np * 16, kk);
        mma16816(s[2 * np], qa[kk], bk);
        mma16816(s[2 * np + 1], qa[kk], bk + 2);
        mma16816(dp[2 * np], oa[kk], bv);
        mma16816(dp[2 * np + 1], oa[kk], bv + 2);
      }
    }
#pragma unroll
    for (int nt = 0; nt < 4; nt++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        int r = e >> 1;
        int row = q0 + g + 8 * r;
        int col = kt0 + nt * 8 + 2 * c + (e & 1);
        float p = (col <= row && col < T && row < T) ? expf(s[nt][e] * scale - Lr[r]) : 0.f;
        dp[nt][e] = p * (dp[nt][e] - Dr[r]);
      }
    }
#pragma unroll
    for (int kk = 0; kk < 2; kk++) {
      unsigned dsa[4];
      cfrag_to_a(dsa, dp[2 * kk], dp[2 * kk + 1]);
#pragma unroll
      for (int i = 0; i < NT; i += 2) {
        unsigned bk[4];
        smem_bfrag_n<HS>(bk, Ks, 16 * kk, i * 8);
        mma16816(dqa[i], dsa, bk);
        mma16816(dqa[i + 1], dsa, bk + 2);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < 2; r++) {
    int row = q0 + g + 8 * r;
    if (row < T) {
      bf16* dqr = dq + (size_t)(b * T + row) * lddq + h * HS;
#pragma unroll
      for (int i = 0; i < NT; i++)
        *(unsigned*)(dqr + i * 8 + 2 * c) = pack2(dqa[i][2 * r] * scale, dqa[i][2 * r + 1] * scale);
    }
  }
}

#define MMA_ENTRIES(HS)                                                                                            \
  extern "C" __global__ void __launch_bounds__(128)                                                                \
      attn_fwd_mma##HS(bf16* o, float* lse, const bf16* q, const bf16* k, const bf16* v, int ldq, int ldk, int ldv, \
                       int ldo, int T, int NH, int NKV, float scale) {                                             \
    attn_fwd_mma<HS, false>(o, lse, q, k, v, ldq, ldk, ldv, ldo, T, NH, NKV, scale, nullptr, nullptr);           \
  }                                                                                                                \
  /* packed scoring rows (model.Packing): seg (R) each row's segment start, prefix (B) */                         \
  extern "C" __global__ void __launch_bounds__(128)                                                                \
      attn_fwd_mma_pk##HS(bf16* o, float* lse, const bf16* q, const bf16* k, const bf16* v, int ldq, int ldk,      \
                          int ldv, int ldo, int T, int NH, int NKV, float scale, const int* seg,                   \
                          const int* prefix) {                                                                     \
    attn_fwd_mma<HS, true>(o, lse, q, k, v, ldq, ldk, ldv, ldo, T, NH, NKV, scale, seg, prefix);                   \
  }                                                                                                                \
  extern "C" __global__ void __launch_bounds__(128) attn_bwd_dkv_mma##HS(                                          \
      bf16* dk, bf16* dv, int lddk, int lddv, const bf16* q, const bf16* k, const bf16* v, const bf16* dout,       \
      const float* lse, const float* D, int ldq, int ldk, int ldv, int lddo, int T, int NH, int NKV, float scale) { \
    attn_bwd_dkv_mma<HS>(dk, dv, lddk, lddv, q, k, v, dout, lse, D, ldq, ldk, ldv, lddo, T, NH, NKV, scale);       \
  }                                                                                                                \
  extern "C" __global__ void __launch_bounds__(128) attn_bwd_dq_mma##HS(                                           \
      bf16* dq, int lddq, const bf16* q, const bf16* k, const bf16* v, const bf16* dout, const float* lse,          \
      const float* D, int ldq, int ldk, int ldv, int lddo, int T, int NH, int NKV, float scale) {                  \
    attn_bwd_dq_mma<HS>(dq, lddq, q, k, v, dout, lse, D, ldq, ldk, ldv, lddo, T, NH, NKV, scale);                  \
  }

MMA_ENTRIES(64)
MMA_ENTRIES(128)
