// attention_v2.cu: pipelined tensor-core flash attention ("v2"), for head
// sizes 64 and 128, selected with OLMOLAB_GPU_ATTN=v2 (gpu/engine.go). Same
// inputs, outputs and conventions as attention_mma.cu, whose operand helpers
// (load_afrag, smem_afrag, smem_bfrag_t, smem_bfrag_n, cfrag_to_a) it uses:
//   o (R, ldo) = softmax(q·kᵀ·scale, causal)·v per head, GQA (head h reads kv
//   head h / (NH/NKV)); lse[(b·NH + h)·T + t] = log Σ_s exp(q_t·k_s·scale), in
//   natural-log units; D[(b·NH + h)·T + t] = Σ_i dout·o (attn_bwd_pre);
//   dk, dv, dq written (not accumulated) in bf16.
//
// What differs from attention_mma.cu (FlashAttention-2's practice, Dao 2023,
// arXiv 2307.08691, §3.1–3.3):
//   - Tiles move global→shared with cp.async (common.cuh) into two buffers: the
//     copies of tile j+1 are issued right after the barrier that opens tile j
//     and land while tile j is computed. One barrier per tile: it both
//     publishes tile j (after every thread's cp_async_wait_all) and certifies
//     that every warp has finished tile j−1, whose buffer the copies of tile
//     j+1 then overwrite.
//   - Softmax in base 2: exp(x·scale − m) = 2^(x·scale·log2e − m·log2e), one
//     FFMA and one MUFU.EX2 (ex2) per score; lse stays in natural-log units
//     in memory.
//   - The causal mask is evaluated only on tiles that reach past the diagonal
//     of the warp's rows (and, in dK/dV, on query chunks reaching past T).
//   - dK/dV walks 64-row query tiles (not 16), double-buffered; dQ walks
//     64-key tiles (not 32), double-buffered.
//   - The number of warps is the launch's choice (blockDim.x = 32·nw, nw 4 or
//     8): a warp always owns 16 rows (query rows in the forward and dQ, key
//     rows in dK/dV), so a block owns 16·nw of them; the engine picks nw per
//     kernel (Options.Attention), gpubench attn times the choices.
//
// Determinism: no atomics. As in attention_mma.cu, dK/dV and dQ are two
// kernels, one owning key rows and one owning query rows, each row's sums
// taken in a fixed order. That order does not depend on nw either (a warp's
// 16 rows meet the same tiles and chunks, in the same order, whatever block
// they sit in), so every nw gives bit-identical results.
//
// Shared memory is dynamic (the engine sets the opt-in attribute above 48
// KiB); rows are padded by MMA_PAD = 8 bf16 as in attention_mma.cu. Sizes,
// with LDS = HS + 8 and nw warps (gpu/attention.go computes the same):
//   forward, dQ: 2 buffers × (K, V) × 64 rows × LDS × 2 B = 512·LDS
//                (HS 64: 36,864 B; HS 128: 69,632 B)
//   dK/dV:       (K, V) × 16·nw rows × LDS × 2 B + 2 buffers × (Q, dO) × 64
//                rows × LDS × 2 B + 2 buffers × (lse, D) × 64 × 4 B
//                = 64·nw·LDS + 512·LDS + 1024
//                (HS 64: 56,320 / 74,752 B; HS 128: 105,472 / 140,288 B for nw 4 / 8)
//
// Fragment ownership (common.cuh, mma16816): with g = lane/4 and c = lane%4 a
// lane holds, of each 16×8 accumulator tile, rows g and g+8, columns 2c and
// 2c+1: d[e] is row g + 8·(e>>1), column 2c + (e&1).
//
// The ldmatrix addressing of the helpers, re-derived (ldsm_x4: lane 8i+j
// gives the address of row j of matrix i; r[i] = M_i[g][2c..2c+1], or with
// .trans (M_i[2c][g], M_i[2c+1][g])):
//   smem_afrag(tile, row0, kk): lane 8i+j → row row0 + j + 8·(i&1), column
//     16kk + 8·(i>>1). So M_0 = rows 0–7 / columns 0–7 of the 16×16 block,
//     M_1 = rows 8–15 / 0–7, M_2 = rows 0–7 / 8–15, M_3 = rows 8–15 / 8–15,
//     and r[0] = A[g][2c..], r[1] = A[g+8][2c..], r[2] = A[g][2c+8..],
//     r[3] = A[g+8][2c+8..]: the A fragment a[0..3].
//   smem_bfrag_t(tile, n0, kk), B[k][n] = tile[n0+n][16kk+k]: lane 8i+j → row
//     n0 + j + 8·(i>>1), column 16kk + 8·(i&1). M_0 = tile rows n0..n0+7,
//     k 0–7: r[0] = (tile[n0+g][16kk+2c], …+1) = (B[2c][g], B[2c+1][g]) = b[0]
//     of n-tile n0; M_1 (k 8–15) gives its b[1]; M_2, M_3 (rows n0+8..) give
//     b[0], b[1] of n-tile n0+8.
//   smem_bfrag_n(tile, k0, n0), B[k][n] = tile[k0+k][n0+n], transposing load:
//     lane 8i+j → row k0 + j + 8·(i&1), column n0 + 8·(i>>1). r[0] =
//     (M_0[2c][g], M_0[2c+1][g]) = (tile[k0+2c][n0+g], tile[k0+2c+1][n0+g]) =
//     (B[2c][g], B[2c+1][g]) = b[0] of n-tile n0; M_1 (rows k0+8..) its b[1];
//     M_2, M_3 (columns n0+8..) b[0], b[1] of n-tile n0+8.
//   cfrag_to_a(c0, c1): the accumulators of columns 0–7 (c0) and 8–15 (c1)
//     of a 16×16 block become its A fragment: a[0] = (c0[0], c0[1]) = row g,
//     columns 2c, 2c+1; a[1] = (c0[2], c0[3]) = row g+8; a[2] = (c1[0], c1[1])
//     = row g, columns 8+2c..; a[3] = (c1[2], c1[3]).
// Bank conflicts: a padded row is (HS+8)·2 bytes = 272 (HS 128) or 144 (HS
// 64), i.e. 4 words past a multiple of 32 banks, so the eight 16-byte rows of
// one ldmatrix phase start 4 banks apart and cover all 32 banks once.
#include "common.cuh"

#define V2_BC 64  // keys per tile of the forward and dQ; query rows per tile of dK/dV
#define LOG2E 1.4426950408889634f

// v2_load_tile issues the cp.async copies of rows [r0, r0+n) (head columns
// col..col+HS) of the bf16 (B·T, ld) matrix src, sequence b, into dst (row
// stride HS+8). Rows ≥ T are zero-filled; their source address is clamped to
// row 0 of the sequence, so no copy names an address outside the tensor.
// Thread x copies the 16-byte pieces x, x+blockDim.x, … (row i = piece / (HS/8),
// 8 columns from 8·(piece % (HS/8))): every address is 16-byte aligned since
// ld, col and HS are multiples of 8 elements and the tensors are 256-byte
// aligned (the engine's arena).
template <int HS>
__device__ __forceinline__ void v2_load_tile(bf16* dst, const bf16* src, int ld, int col, int b, int r0, int n, int T) {
  constexpr int V8 = HS / 8;
  for (int idx = threadIdx.x; idx < n * V8; idx += blockDim.x) {
    int i = idx / V8, c8 = idx % V8, r = r0 + i;
    bool ok = r < T;
    const bf16* s = src + (size_t)(b * T + (ok ? r : 0)) * ld + col + c8 * 8;
    cp_async16(dst + i * (HS + MMA_PAD) + c8 * 8, s, ok);
  }
}

// v2_load_vec issues the copies of row[t0 .. t0+n) (one float each) into dst,
// zeros for t ≥ T (source clamped to row[0]).
__device__ __forceinline__ void v2_load_vec(float* dst, const float* row, int t0, int n, int T) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    int t = t0 + i;
    bool ok = t < T;
    cp_async4(dst + i, row + (ok ? t : 0), ok);
  }
}

// attn_fwd_v2: a warp owns 16 query rows, a block 16·nw; key tiles of 64,
// double-buffered. grid (ceil(T/(16·nw)), NH, B), block 32·nw, dynamic shared
// memory 512·(HS+8) bytes.
template <int HS>
__device__ void attn_fwd_v2(bf16* o, float* lse, const bf16* q, const bf16* k, const bf16* v, int ldq, int ldk,
                            int ldv, int ldo, int T, int NH, int NKV, float scale) {
  constexpr int BC = V2_BC, LDS = HS + MMA_PAD, NT = HS / 8, TILE = BC * LDS;
  DYN_SMEM(v2_smem);
  bf16* Ks = (bf16*)v2_smem;   // K tiles, buffer i at Ks + i·TILE
  bf16* Vs = Ks + 2 * TILE;  // V tiles
  const int BR = 16 * (int)(blockDim.x >> 5);
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  int qt = (T + BR - 1) / BR - 1 - (int)blockIdx.x;  // the longest rows first
  int h = blockIdx.y, b = blockIdx.z, kvh = h / (NH / NKV);
  int qb0 = qt * BR, q0 = qb0 + warp * 16;
  // keys [0, min(T, qb0+BR)): the causal range of the block's last row
  int ntiles = (min(T, qb0 + BR) + BC - 1) / BC;
  v2_load_tile<HS>(Ks, k, ldk, kvh * HS, b, 0, BC, T);
  v2_load_tile<HS>(Vs, v, ldv, kvh * HS, b, 0, BC, T);
  cp_async_commit();
  unsigned qa[HS / 16][4];
  load_afrag<HS>(qa, q, ldq, h * HS, b, q0, T);  // while tile 0 is in flight
  const float sl = scale * LOG2E;
  float oacc[NT][4];
#pragma unroll
  for (int i = 0; i < NT; i++) oacc[i][0] = oacc[i][1] = oacc[i][2] = oacc[i][3] = 0.f;
  // mrow: running max of the raw scores q·k (unscaled); lrow: this lane's part
  // of Σ 2^((s − mrow)·sl) over its columns (the quad's sum is taken at the end)
  float mrow[2] = {NEG_INF, NEG_INF}, lrow[2] = {0.f, 0.f};
  bool live = q0 < T;  // a warp wholly past T computes nothing (nothing of it is stored)
  for (int j = 0; j < ntiles; j++) {
    cp_async_wait_all();  // this thread's copies of tile j
    __syncthreads();      // everyone's copies of tile j; every warp is done with tile j−1
    if (j + 1 < ntiles) {
      int nb = (j + 1) & 1;  // the buffer of tile j−1
      v2_load_tile<HS>(Ks + nb * TILE, k, ldk, kvh * HS, b, (j + 1) * BC, BC, T);
      v2_load_tile<HS>(Vs + nb * TILE, v, ldv, kvh * HS, b, (j + 1) * BC, BC, T);
      cp_async_commit();
    }
    int kt0 = j * BC;
    // warp-uniform: every key of the tile follows every row of the warp. kt0
    // and q0 are multiples of 16, so a tile that is computed has kt0 ≤ q0: its
    // first key is visible to all 16 rows, and every row's max is finite.
    if (!live || kt0 > q0 + 15) continue;
    const bf16* Kt = Ks + (j & 1) * TILE;
    const bf16* Vt = Vs + (j & 1) * TILE;
    // S = Q·Kᵀ (16 × 64): n-tile nt holds keys kt0 + 8nt .. +7
    float s[8][4];
#pragma unroll
    for (int nt = 0; nt < 8; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
#pragma unroll
    for (int np = 0; np < 4; np++) {
#pragma unroll
      for (int kk = 0; kk < HS / 16; kk++) {
        unsigned bb[4];
        smem_bfrag_t<HS>(bb, Kt, np * 16, kk);  // B[k][n] = K[kt0+16np+n][16kk+k]
        mma16816(s[2 * np], qa[kk], bb);
        mma16816(s[2 * np + 1], qa[kk], bb + 2);
      }
    }
    // causal mask where the tile reaches past the warp's first row. Keys ≥ T
    // (zero rows of the last tile) follow every row < T, so the same test
    // removes them: a tile holding one has kt0 + 63 ≥ T > q0.
    if (kt0 + BC - 1 > q0) {
#pragma unroll
      for (int nt = 0; nt < 8; nt++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
          int col = kt0 + nt * 8 + 2 * c + (e & 1);
          int row = q0 + g + 8 * (e >> 1);
          if (col > row) s[nt][e] = NEG_INF;
        }
      }
    }
    // online softmax of rows g (r = 0: elements 0, 1) and g+8 (r = 1: 2, 3)
#pragma unroll
    for (int r = 0; r < 2; r++) {
      float mx = NEG_INF;
#pragma unroll
      for (int nt = 0; nt < 8; nt++) mx = fmaxf(mx, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));
      // the quad (lanes 4g..4g+3) holds the row's 64 columns
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      float mn = fmaxf(mrow[r], mx);      // finite (see the skip above)
      float corr = ex2((mrow[r] - mn) * sl);  // 2^(−inf) = 0 on the first tile
      float msl = mn * sl;
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
          float p = ex2(fmaf(s[nt][2 * r + e], sl, -msl));  // masked: 2^(−inf) = 0
          s[nt][2 * r + e] = p;
          lrow[r] += p;
        }
      }
    }
    // O += P·V over the tile's 64 keys, 4 k-steps of 16: A = P[:, 16kk..] from
    // the accumulators s[2kk], s[2kk+1]; B[k][n] = V[kt0+16kk+k][8i+n]
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
      unsigned pa[4];
      cfrag_to_a(pa, s[2 * kk], s[2 * kk + 1]);
#pragma unroll
      for (int i = 0; i < NT; i += 2) {
        unsigned bb[4];
        smem_bfrag_n<HS>(bb, Vt, 16 * kk, i * 8);
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
      // Σ_s exp(s·scale) = exp(mrow·scale)·l
      if (c == 0) lse[((size_t)b * NH + h) * T + row] = mrow[r] * scale + logf(l);
    }
  }
}

// attn_bwd_dq_v2: a warp owns 16 query rows of one head, a block 16·nw; key
// tiles of 64 double-buffered, computed in chunks of 32 keys (to bound the
// registers): P = 2^(Q·Kᵀ·scale·log2e − lse·log2e), dP = dout·Vᵀ,
// dS = P∘(dP − D), dQ += dS·K (times scale at the end). grid
// (ceil(T/(16·nw)), NH, B), block 32·nw, dynamic shared memory 512·(HS+8).
template <int HS>
__device__ void attn_bwd_dq_v2(bf16* dq, int lddq, const bf16* q, const bf16* k, const bf16* v, const bf16* dout,
                               const float* lse, const float* D, int ldq, int ldk, int ldv, int lddo, int T, int NH,
                               int NKV, float scale) {
  constexpr int BC = V2_BC, LDS = HS + MMA_PAD, NT = HS / 8, TILE = BC * LDS;
  DYN_SMEM(v2_smem);
  bf16* Ks = (bf16*)v2_smem;
  bf16* Vs = Ks + 2 * TILE;
  const int BR = 16 * (int)(blockDim.x >> 5);
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  int qt = (T + BR - 1) / BR - 1 - (int)blockIdx.x;
  int h = blockIdx.y, b = blockIdx.z, kvh = h / (NH / NKV);
  int qb0 = qt * BR, q0 = qb0 + warp * 16;
  int ntiles = (min(T, qb0 + BR) + BC - 1) / BC;
  v2_load_tile<HS>(Ks, k, ldk, kvh * HS, b, 0, BC, T);
  v2_load_tile<HS>(Vs, v, ldv, kvh * HS, b, 0, BC, T);
  cp_async_commit();
  unsigned qa[HS / 16][4], oa[HS / 16][4];
  load_afrag<HS>(qa, q, ldq, h * HS, b, q0, T);
  load_afrag<HS>(oa, dout, lddo, h * HS, b, q0, T);
  const float sl = scale * LOG2E;
  float L2[2], Dr[2];  // lse·log2e and D of rows g, g+8
#pragma unroll
  for (int r = 0; r < 2; r++) {
    int row = q0 + g + 8 * r;
    L2[r] = row < T ? lse[((size_t)b * NH + h) * T + row] * LOG2E : 0.f;
    Dr[r] = row < T ? D[((size_t)b * NH + h) * T + row] : 0.f;
  }
  float dqa[NT][4];
#pragma unroll
  for (int i = 0; i < NT; i++) dqa[i][0] = dqa[i][1] = dqa[i][2] = dqa[i][3] = 0.f;
  bool live = q0 < T;
  for (int j = 0; j < ntiles; j++) {
    cp_async_wait_all();
    __syncthreads();  // tile j visible to all; tile j−1's buffer free
    if (j + 1 < ntiles) {
      int nb = (j + 1) & 1;
      v2_load_tile<HS>(Ks + nb * TILE, k, ldk, kvh * HS, b, (j + 1) * BC, BC, T);
      v2_load_tile<HS>(Vs + nb * TILE, v, ldv, kvh * HS, b, (j + 1) * BC, BC, T);
      cp_async_commit();
    }
    int kt0 = j * BC;
    if (!live || kt0 > q0 + 15) continue;  // warp-uniform, as in the forward
    const bf16* Kt = Ks + (j & 1) * TILE;
    const bf16* Vt = Vs + (j & 1) * TILE;
#pragma unroll
    for (int ch = 0; ch < BC / 32; ch++) {
      int kc = 32 * ch;                  // the chunk's first key within the tile
      if (kt0 + kc > q0 + 15) break;     // warp-uniform: this chunk and the next follow every row
      float s[4][4], dp[4][4];           // n-tile nt: keys kt0 + kc + 8nt .. +7
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
          smem_bfrag_t<HS>(bk, Kt, kc + np * 16, kk);  // B[k][n] = K[key n][16kk+k]
          smem_bfrag_t<HS>(bv, Vt, kc + np * 16, kk);  // B[k][n] = V[key n][16kk+k]
          mma16816(s[2 * np], qa[kk], bk);
          mma16816(s[2 * np + 1], qa[kk], bk + 2);
          mma16816(dp[2 * np], oa[kk], bv);
          mma16816(dp[2 * np + 1], oa[kk], bv + 2);
        }
      }
      // the chunk reaches past the warp's first row: causal mask (keys ≥ T
      // included: they follow every row < T)
      bool mask = kt0 + kc + 31 > q0;
#pragma unroll
      for (int nt = 0; nt < 4; nt++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
          int r = e >> 1;
          float p = ex2(fmaf(s[nt][e], sl, -L2[r]));
          if (mask) {
            int col = kt0 + kc + nt * 8 + 2 * c + (e & 1);
            int row = q0 + g + 8 * r;
            if (col > row) p = 0.f;  // a select: an overflowed p never multiplies
          }
          dp[nt][e] = p * (dp[nt][e] - Dr[r]);
        }
      }
      // dQ += dS·K: A = dS[:, 16kk2..] (accumulators dp[2kk2], dp[2kk2+1]),
      // B[k][n] = K[kt0+kc+16kk2+k][8i+n]
#pragma unroll
      for (int kk2 = 0; kk2 < 2; kk2++) {
        unsigned dsa[4];
        cfrag_to_a(dsa, dp[2 * kk2], dp[2 * kk2 + 1]);
#pragma unroll
        for (int i = 0; i < NT; i += 2) {
          unsigned bk[4];
          smem_bfrag_n<HS>(bk, Kt, kc + 16 * kk2, i * 8);
          mma16816(dqa[i], dsa, bk);
          mma16816(dqa[i + 1], dsa, bk + 2);
        }
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

// v2_load_qstep issues the copies of one dK/dV step: query rows t0..t0+63 of
// head h (q, dout) and their lse and D, into buffer buf.
template <int HS>
__device__ __forceinline__ void v2_load_qstep(bf16* Qs, bf16* Os, float* Ls, float* Ds, const bf16* q,
                                              const bf16* dout, const float* lse, const float* D, int ldq, int lddo,
                                              int b, int h, int t0, int T, int NH) {
  v2_load_tile<HS>(Qs, q, ldq, h * HS, b, t0, V2_BC, T);
  v2_load_tile<HS>(Os, dout, lddo, h * HS, b, t0, V2_BC, T);
  v2_load_vec(Ls, lse + ((size_t)b * NH + h) * T, t0, V2_BC, T);
  v2_load_vec(Ds, D + ((size_t)b * NH + h) * T, t0, V2_BC, T);
}

// attn_bwd_dkv_v2: a warp owns 16 key rows of one kv head, a block 16·nw; it
// walks, for every query head of the group, the query tiles t0 = k0, k0+64, …
// < T (64 rows, double-buffered with their lse and D), each in two chunks of
// 32 queries: Pᵀ = 2^(K·Qᵀ·scale·log2e − lse·log2e), dPᵀ = V·doutᵀ,
// dSᵀ = Pᵀ∘(dPᵀ − D), dV += Pᵀ·dout, dK += dSᵀ·Q (times scale at the end).
// grid (ceil(T/(16·nw)), NKV, B), block 32·nw, dynamic shared memory
// 64·nw·(HS+8) + 512·(HS+8) + 1024 bytes.
template <int HS>
__device__ void attn_bwd_dkv_v2(bf16* dk, bf16* dv, int lddk, int lddv, const bf16* q, const bf16* k, const bf16* v,
                                const bf16* dout, const float* lse, const float* D, int ldq, int ldk, int ldv,
                                int lddo, int T, int NH, int NKV, float scale) {
  constexpr int BQ = V2_BC, LDS = HS + MMA_PAD, NT = HS / 8, QT = BQ * LDS;
  const int BK = 16 * (int)(blockDim.x >> 5);
  DYN_SMEM(v2_smem);
  bf16* Ks = (bf16*)v2_smem;             // [BK][LDS]
  bf16* Vs = Ks + BK * LDS;           // [BK][LDS]
  bf16* Qs = Vs + BK * LDS;           // [2][BQ][LDS]
  bf16* Os = Qs + 2 * QT;             // [2][BQ][LDS] (dout)
  float* Ls = (float*)(Os + 2 * QT);  // [2][BQ]; byte offset (2·BK + 4·BQ)·LDS·2, a multiple of 16
  float* Ds = Ls + 2 * BQ;            // [2][BQ]
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  int kt = (T + BK - 1) / BK - 1 - (int)blockIdx.x;  // the first keys see the most queries: schedule them first
  int kvh = blockIdx.y, b = blockIdx.z, grp = NH / NKV;
  int k0 = kt * BK, kw0 = k0 + warp * 16;
  int nq = (T - k0 + BQ - 1) / BQ;  // query tiles per head: t0 = k0 + BQ·m, m < nq
  int nsteps = grp * nq;            // step n: head kvh·grp + n/nq, tile n%nq
  // prologue, one group: the block's keys and values and step 0's operands
  v2_load_tile<HS>(Ks, k, ldk, kvh * HS, b, k0, BK, T);
  v2_load_tile<HS>(Vs, v, ldv, kvh * HS, b, k0, BK, T);
  v2_load_qstep<HS>(Qs, Os, Ls, Ds, q, dout, lse, D, ldq, lddo, b, kvh * grp, k0, T, NH);
  cp_async_commit();
  const float sl = scale * LOG2E;
  float dka[NT][4], dva[NT][4];
#pragma unroll
  for (int i = 0; i < NT; i++) {
    dka[i][0] = dka[i][1] = dka[i][2] = dka[i][3] = 0.f;
    dva[i][0] = dva[i][1] = dva[i][2] = dva[i][3] = 0.f;
  }
  bool live = kw0 < T;  // a warp wholly past T computes nothing (nothing of it is stored)
  for (int n = 0; n < nsteps; n++) {
    cp_async_wait_all();
    __syncthreads();  // step n visible to all; step n−1's buffer free
    if (n + 1 < nsteps) {
      int nb = (n + 1) & 1;
      int h1 = kvh * grp + (n + 1) / nq, t1 = k0 + ((n + 1) % nq) * BQ;
      v2_load_qstep<HS>(Qs + nb * QT, Os + nb * QT, Ls + nb * BQ, Ds + nb * BQ, q, dout, lse, D, ldq, lddo, b, h1, t1,
                        T, NH);
      cp_async_commit();
    }
    int t0 = k0 + (n % nq) * BQ;
    // warp-uniform: every query of the tile precedes every key of the warp
    if (!live || t0 + BQ - 1 < kw0) continue;
    const bf16* Qt = Qs + (n & 1) * QT;
    const bf16* Ot = Os + (n & 1) * QT;
    const float* Lt = Ls + (n & 1) * BQ;
    const float* Dt = Ds + (n & 1) * BQ;
#pragma unroll
    for (int ch = 0; ch < BQ / 32; ch++) {
      int tq = t0 + 32 * ch;          // the chunk's first query
      if (tq + 31 < kw0) continue;    // warp-uniform: the chunk precedes every key of the warp
      // rows are keys (kw0 + g, kw0 + g + 8), columns queries: n-tile nt holds
      // queries tq + 8nt .. +7, i.e. tile rows 32ch + 8nt ..
      float st[4][4], dpt[4][4];
#pragma unroll
      for (int nt = 0; nt < 4; nt++) {
        st[nt][0] = st[nt][1] = st[nt][2] = st[nt][3] = 0.f;
        dpt[nt][0] = dpt[nt][1] = dpt[nt][2] = dpt[nt][3] = 0.f;
      }
#pragma unroll
      for (int kk = 0; kk < HS / 16; kk++) {
        unsigned ka[4], va[4];
        smem_afrag<HS>(ka, Ks, warp * 16, kk);  // A[r][k] = K[kw0+r][16kk+k]
        smem_afrag<HS>(va, Vs, warp * 16, kk);  // A[r][k] = V[kw0+r][16kk+k]
#pragma unroll
        for (int np = 0; np < 2; np++) {
          unsigned bq[4], bo[4];
          smem_bfrag_t<HS>(bq, Qt, 32 * ch + 16 * np, kk);  // B[k][n] = Q[tq+16np+n][16kk+k]
          smem_bfrag_t<HS>(bo, Ot, 32 * ch + 16 * np, kk);  // B[k][n] = dout[tq+16np+n][16kk+k]
          mma16816(st[2 * np], ka, bq);
          mma16816(st[2 * np + 1], ka, bq + 2);
          mma16816(dpt[2 * np], va, bo);
          mma16816(dpt[2 * np + 1], va, bo + 2);
        }
      }
      // mask where some query of the chunk precedes some key of the warp
      // (t < s), or the chunk reaches past T. (Past T the rows of q, dout, lse
      // and D are zero-filled, which would give exact zeros anyway.)
      bool mask = tq < kw0 + 15 || tq + 31 >= T;
#pragma unroll
      for (int nt = 0; nt < 4; nt++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
          int tc = 32 * ch + nt * 8 + 2 * c + (e & 1);  // the query's row in the tile
          float p = ex2(fmaf(st[nt][e], sl, -Lt[tc] * LOG2E));
          if (mask) {
            int s = kw0 + g + 8 * (e >> 1), t = t0 + tc;
            if (t < s || t >= T) p = 0.f;
          }
          st[nt][e] = p;
          dpt[nt][e] = p * (dpt[nt][e] - Dt[tc]);
        }
      }
      // dV += Pᵀ·dout, dK += dSᵀ·Q over the chunk's 32 queries (2 k-steps):
      // A = Pᵀ[:, 16kk2..] (st[2kk2], st[2kk2+1]), B[k][n] = dout[tq+16kk2+k][8i+n]
#pragma unroll
      for (int kk2 = 0; kk2 < 2; kk2++) {
        unsigned pa[4], dsa[4];
        cfrag_to_a(pa, st[2 * kk2], st[2 * kk2 + 1]);
        cfrag_to_a(dsa, dpt[2 * kk2], dpt[2 * kk2 + 1]);
#pragma unroll
        for (int i = 0; i < NT; i += 2) {
          unsigned bo[4], bq[4];
          smem_bfrag_n<HS>(bo, Ot, 32 * ch + 16 * kk2, i * 8);
          smem_bfrag_n<HS>(bq, Qt, 32 * ch + 16 * kk2, i * 8);
          mma16816(dva[i], pa, bo);
          mma16816(dva[i + 1], pa, bo + 2);
          mma16816(dka[i], dsa, bq);
          mma16816(dka[i + 1], dsa, bq + 2);
        }
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

// Entry points: __launch_bounds__(256) admits blocks of 4 or 8 warps and lets
// the compiler use up to 255 registers (65,536 / 256).
#define V2_ENTRIES(HS)                                                                                              \
  extern "C" __global__ void __launch_bounds__(256)                                                                 \
      attn_fwd_v2_##HS(bf16* o, float* lse, const bf16* q, const bf16* k, const bf16* v, int ldq, int ldk, int ldv,  \
                       int ldo, int T, int NH, int NKV, float scale) {                                              \
    attn_fwd_v2<HS>(o, lse, q, k, v, ldq, ldk, ldv, ldo, T, NH, NKV, scale);                                        \
  }                                                                                                                 \
  extern "C" __global__ void __launch_bounds__(256) attn_bwd_dkv_v2_##HS(                                           \
      bf16* dk, bf16* dv, int lddk, int lddv, const bf16* q, const bf16* k, const bf16* v, const bf16* dout,        \
      const float* lse, const float* D, int ldq, int ldk, int ldv, int lddo, int T, int NH, int NKV, float scale) {  \
    attn_bwd_dkv_v2<HS>(dk, dv, lddk, lddv, q, k, v, dout, lse, D, ldq, ldk, ldv, lddo, T, NH, NKV, scale);         \
  }                                                                                                                 \
  extern "C" __global__ void __launch_bounds__(256) attn_bwd_dq_v2_##HS(                                            \
      bf16* dq, int lddq, const bf16* q, const bf16* k, const bf16* v, const bf16* dout, const float* lse,           \
      const float* D, int ldq, int ldk, int ldv, int lddo, int T, int NH, int NKV, float scale) {                   \
    attn_bwd_dq_v2<HS>(dq, lddq, q, k, v, dout, lse, D, ldq, ldk, ldv, lddo, T, NH, NKV, scale);                    \
  }

V2_ENTRIES(64)
V2_ENTRIES(128)
