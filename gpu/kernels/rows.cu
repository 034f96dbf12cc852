// rows.cu: row-wise kernels of the OLMo 2 layer (olmo2.md §2): embedding,
// RMSNorm with the residual add, QK-norm + RoPE, SwiGLU, their backward
// passes, and the cast of weights to bf16. One block per row unless noted.
// Each kernel mirrors a function of model/kernels.go or model/jobs.go, in the
// same float32 operation order where that order is observable.
//
// Entry points are extern "C" wrappers named <kernel>_<type>, type f32 or
// bf16 for the activation type A (gpu/kernels/kernels.go lists them all).
#include "common.cuh"

// ---- embedding (model/cpu.go forward: res[0][r] = W_emb[id[r]])

// embed_fwd: res[r,:] = W[ids[r],:] (fp32) and xT[r,:] the same in type A
// (xT may be null). grid R, block 256.
template <int K, typename A>
__device__ void embed_fwd_k(float* res, A* xT, const float* W, const int* ids, int C) {
  size_t r = blockIdx.x;
  size_t id = (size_t)ids[r];
  for (int i = threadIdx.x * K; i < C; i += blockDim.x * K) {
    float v[K];
    ldv(W, id * C + i, v);
    stv(res, r * C + i, v);
    if (xT) stv(xT, r * C + i, v);
  }
}
template <typename A>
__device__ void embed_fwd(float* res, A* xT, const float* W, const int* ids, int C) {
  if (C % 8 == 0 && al16(res) && al16(xT) && al16(W))
    embed_fwd_k<8>(res, xT, W, ids, C);
  else
    embed_fwd_k<1>(res, xT, W, ids, C);
}

// embed_bwd: dW[tok] += dres[r] for the rows r of tok, in increasing row order
// (model/jobs.go embedBackJob's order), so the sum is deterministic without
// atomics. The host groups rows by token: perm[segStart[s] .. segStart[s+1])
// are the rows of token segTok[s]. grid = segments, block 256.
extern "C" __global__ void __launch_bounds__(256)
    embed_bwd(float* dW, const float* dres, const int* perm, const int* segStart, const int* segTok, int C) {
  int s = blockIdx.x;
  int lo = segStart[s], hi = segStart[s + 1];
  size_t tok = (size_t)segTok[s];
  for (int i = threadIdx.x; i < C; i += blockDim.x) {
    float acc = dW[tok * C + i];
    for (int j = lo; j < hi; j++) acc += dres[(size_t)perm[j] * C + i];
    dW[tok * C + i] = acc;
  }
}

// ---- RMSNorm: y = w ⊙ x·rstd, rstd = 1/sqrt(mean(x²) + eps) (olmo2.md §2)

// rms_res_fwd is a reordered-norm block's output (olmo2.md §1):
// y32 = w ⊙ x·rstd + res, yT = (A) y32, rstd[r] kept for the backward pass.
// y32 and yT may be null: recomputation before the backward pass needs only
// rstd. grid R, block 256.
template <int K, typename A>
__device__ void rms_res_fwd_k(float* y32, A* yT, float* rstd, const A* x, const float* res, const float* w, int n,
                              float eps) {
  __shared__ float red[32];
  size_t r = blockIdx.x;
  const A* xr = x + r * n;
  float ss = 0.f;
  for (int i = threadIdx.x * K; i < n; i += blockDim.x * K) {
    float v[K];
    ldv(xr, i, v);
#pragma unroll
    for (int k = 0; k < K; k++) ss += v[k] * v[k];
  }
  ss = block_sum(ss, red);
  float s = 1.f / sqrtf(ss / (float)n + eps);
  if (threadIdx.x == 0) rstd[r] = s;
  if (!y32 && !yT) return;
  for (int i = threadIdx.x * K; i < n; i += blockDim.x * K) {
    float v[K], wv[K], rv[K];
    ldv(xr, i, v);
    ldv(w, i, wv);
    ldv(res, r * n + i, rv);
#pragma unroll
    for (int k = 0; k < K; k++) v[k] = wv[k] * (v[k] * s) + rv[k];
    if (y32) stv(y32, r * n + i, v);
    if (yT) stv(yT, r * n + i, v);
  }
}
template <typename A>
__device__ void rms_res_fwd(float* y32, A* yT, float* rstd, const A* x, const float* res, const float* w, int n,
                            float eps) {
  if (n % 8 == 0 && al16(y32) && al16(yT) && al16(x) && al16(res) && al16(w))
    rms_res_fwd_k<8>(y32, yT, rstd, x, res, w, n, eps);
  else
    rms_res_fwd_k<1>(y32, yT, rstd, x, res, w, n, eps);
}

// rms_fwd: y = w ⊙ x·rstd from an fp32 input (model.norm before the LM head).
// grid R, block 256.
template <int K, typename A>
__device__ void rms_fwd_k(A* y, float* rstd, const float* x, const float* w, int n, float eps) {
  __shared__ float red[32];
  size_t r = blockIdx.x;
  const float* xr = x + r * n;
  float ss = 0.f;
  for (int i = threadIdx.x * K; i < n; i += blockDim.x * K) {
    float v[K];
    ldv(xr, i, v);
#pragma unroll
    for (int k = 0; k < K; k++) ss += v[k] * v[k];
  }
  ss = block_sum(ss, red);
  float s = 1.f / sqrtf(ss / (float)n + eps);
  if (threadIdx.x == 0) rstd[r] = s;
  for (int i = threadIdx.x * K; i < n; i += blockDim.x * K) {
    float v[K], wv[K];
    ldv(xr, i, v);
    ldv(w, i, wv);
#pragma unroll
    for (int k = 0; k < K; k++) v[k] = wv[k] * (v[k] * s);
    stv(y, r * n + i, v);
  }
}
template <typename A>
__device__ void rms_fwd(A* y, float* rstd, const float* x, const float* w, int n, float eps) {
  if (n % 8 == 0 && al16(y) && al16(x) && al16(w))
    rms_fwd_k<8>(y, rstd, x, w, n, eps);
  else
    rms_fwd_k<1>(y, rstd, x, w, n, eps);
}

// rms_bwd: with g = w ⊙ dy and s = rstd, dx = s·g − s³·x·(g·x)/n
// (model/kernels.go rmsnormBackRows). dx may alias dy: each thread reads its
// own elements again after the block-wide dot product. The row strides let
// the QK-norm work on column slices of the fused qkv buffers. grid R, block 256.
template <int K, typename DY, typename X, typename DX>
__device__ void rms_bwd_k(DX* dx, int lddx, const DY* dy, int lddy, const X* x, int ldx, const float* rstd,
                          const float* w, int n) {
  __shared__ float red[32];
  size_t r = blockIdx.x;
  float s = rstd[r];
  float dot = 0.f;
  for (int i = threadIdx.x * K; i < n; i += blockDim.x * K) {
    float wv[K], g[K], xv[K];
    ldv(w, i, wv);
    ldv(dy, r * lddy + i, g);
    ldv(x, r * ldx + i, xv);
#pragma unroll
    for (int k = 0; k < K; k++) dot += (wv[k] * g[k]) * xv[k];
  }
  dot = block_sum(dot, red);
  float c = (dot / (float)n) * s * s * s;
  for (int i = threadIdx.x * K; i < n; i += blockDim.x * K) {
    float wv[K], g[K], xv[K];
    ldv(w, i, wv);
    ldv(dy, r * lddy + i, g);
    ldv(x, r * ldx + i, xv);
#pragma unroll
    for (int k = 0; k < K; k++) g[k] = wv[k] * g[k] * s - c * xv[k];
    stv(dx, r * lddx + i, g);
  }
}
template <typename DY, typename X, typename DX>
__device__ void rms_bwd(DX* dx, int lddx, const DY* dy, int lddy, const X* x, int ldx, const float* rstd,
                        const float* w, int n) {
  if (n % 8 == 0 && lddx % 8 == 0 && lddy % 8 == 0 && ldx % 8 == 0 && al16(dx) && al16(dy) && al16(x) && al16(w))
    rms_bwd_k<8>(dx, lddx, dy, lddy, x, ldx, rstd, w, n);
  else
    rms_bwd_k<1>(dx, lddx, dy, lddy, x, ldx, rstd, w, n);
}

// rms_dw_part: part[p][i] = Σ_{r in rows of part p} dy[r,i]·x[r,i]·rstd[r]: the
// norm weight's gradient over fixed row blocks, so the sum is deterministic;
// rms_dw_reduce then adds the parts to dw. grid (ceil(n/256), parts), block 256.
template <typename DY, typename X>
__device__ void rms_dw_part(float* part, const DY* dy, int lddy, const X* x, int ldx, const float* rstd, int R,
                            int n, int rowsPer) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  int lo = blockIdx.y * rowsPer, hi = min(R, lo + rowsPer);
  float acc = 0.f;
  for (int r = lo; r < hi; r++) acc += ld(dy, (size_t)r * lddy + i) * ld(x, (size_t)r * ldx + i) * rstd[r];
  part[(size_t)blockIdx.y * n + i] = acc;
}

// rms_dw_reduce: dw[i] += Σ_p part[p][i]. grid ceil(n/256), block 256.
extern "C" __global__ void __launch_bounds__(256) rms_dw_reduce(float* dw, const float* part, int parts, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float acc = 0.f;
  for (int p = 0; p < parts; p++) acc += part[(size_t)p * n + i];
  dw[i] += acc;
}

// ---- the fused norm backward (OLMOLAB_GPU_FUSE, on by default)

// as_type rounds v to type T's precision: the value a store to a T array and
// a load back would give.
__device__ __forceinline__ float as_type(const float*, float v) { return v; }
__device__ __forceinline__ float as_type(const bf16*, float v) { return bf2f(f2bf(v)); }

// rms_bwd_dw is rms_bwd and rms_dw_part in one pass over dy and x, which the
// two kernels each read (and, for the QK-norms, rope_bwd before them read and
// wrote): block p takes rows [p·rowsPer, (p+1)·rowsPer) one after another,
// writes each row's dx as rms_bwd does (the same K, the same sums) and
// part[p][i] = Σ dy[r,i]·x[r,i]·rstd[r] over its rows in increasing order, as
// rms_dw_part does; with rowsPer = dwRows the outputs are the two kernels'
// bit for bit. With cosT (the QK-norms on the dqkv slices) dy is first
// rotated back (rope_bwd's arithmetic, rounded to DY as rope_bwd's in-place
// store rounds it), each column from itself and its partner HS/2 away in the
// same head. dx may alias dy: a row's dy is read only before the block_sum
// barrier, and the rotated row is kept in shared memory for the output.
// grid ceil(R/rowsPer), block 256, dynamic shared memory 2·n floats (the
// row's gradient, the thread's columns' partial sums).
template <int K, typename DY, typename X, typename DX>
__device__ void rms_bwd_dw_k(DX* dx, int lddx, const DY* dy, int lddy, const X* x, int ldx, const float* rstd,
                             const float* w, float* part, int R, int n, int rowsPer, const float* cosT,
                             const float* sinT, int T, int HS) {
  __shared__ float red[32];
  DYN_SMEM(smem);
  float* gs = (float*)smem;  // (n) the row's gradient after the rotation
  float* acc = gs + n;       // (n) Σ dy·x·rstd, each column by its own thread
  int lo = blockIdx.x * rowsPer, hi = min(R, lo + rowsPer);
  int half = HS / 2;
  for (int i = threadIdx.x * K; i < n; i += blockDim.x * K)
#pragma unroll
    for (int k = 0; k < K; k++) acc[i + k] = 0.f;
  for (int row = lo; row < hi; row++) {
    size_t r = row;
    float s = rstd[r];
    float dot = 0.f;
    for (int i = threadIdx.x * K; i < n; i += blockDim.x * K) {
      float wv[K], g[K], xv[K];
      ldv(w, i, wv);
      ldv(dy, r * lddy + i, g);
      if (cosT) {
        size_t t = r % T;
        if (K == 1 || half % K == 0) {  // K columns in one half of one head
          int h = i % HS;
          bool first = h < half;
          int j = first ? h : h - half;
          float o[K], c[K], si[K];
          ldv(dy, r * lddy + (first ? i + half : i - half), o);
          ldv(cosT, t * half + j, c);
          ldv(sinT, t * half + j, si);
#pragma unroll
          for (int e = 0; e < K; e++) {
            float sv = -si[e];
            // rope_bwd: a' = a·c − b·sv, b' = b·c + a·sv for the pair (a, b) = (first half, second)
            g[e] = as_type(dy, first ? g[e] * c[e] - o[e] * sv : g[e] * c[e] + o[e] * sv);
          }
        } else {
#pragma unroll
          for (int e = 0; e < K; e++) {
            int h = (i + e) % HS;
            bool first = h < half;
            int j = first ? h : h - half;
            float o = ld(dy, r * lddy + (first ? i + e + half : i + e - half));
            float c = cosT[t * half + j], sv = -sinT[t * half + j];
            g[e] = as_type(dy, first ? g[e] * c - o * sv : g[e] * c + o * sv);
          }
        }
      }
      ldv(x, r * ldx + i, xv);
#pragma unroll
      for (int k = 0; k < K; k++) {
        dot += (wv[k] * g[k]) * xv[k];
        acc[i + k] += g[k] * xv[k] * s;
        gs[i + k] = g[k];
      }
    }
    dot = block_sum(dot, red);  // ends with a barrier: every read of this row's dy is done
    float c = (dot / (float)n) * s * s * s;
    for (int i = threadIdx.x * K; i < n; i += blockDim.x * K) {
      float wv[K], g[K], xv[K];
      ldv(w, i, wv);
      ldv(x, r * ldx + i, xv);
#pragma unroll
      for (int k = 0; k < K; k++) g[k] = wv[k] * gs[i + k] * s - c * xv[k];
      stv(dx, r * lddx + i, g);
    }
  }
  for (int i = threadIdx.x * K; i < n; i += blockDim.x * K)
#pragma unroll
    for (int k = 0; k < K; k++) part[(size_t)blockIdx.x * n + i + k] = acc[i + k];
}
template <typename DY, typename X, typename DX>
__device__ void rms_bwd_dw(DX* dx, int lddx, const DY* dy, int lddy, const X* x, int ldx, const float* rstd,
                           const float* w, float* part, int R, int n, int rowsPer, const float* cosT,
                           const float* sinT, int T, int HS) {
  // rms_bwd's condition, so that the dot product adds in its order
  if (n % 8 == 0 && lddx % 8 == 0 && lddy % 8 == 0 && ldx % 8 == 0 && al16(dx) && al16(dy) && al16(x) && al16(w) &&
      (!cosT || (al16(cosT) && al16(sinT))))
    rms_bwd_dw_k<8>(dx, lddx, dy, lddy, x, ldx, rstd, w, part, R, n, rowsPer, cosT, sinT, T, HS);
  else
    rms_bwd_dw_k<1>(dx, lddx, dy, lddy, x, ldx, rstd, w, part, R, n, rowsPer, cosT, sinT, T, HS);
}

// rms_dw_reduce8: dw[i] += Σ_p part[p][i] as rms_dw_reduce, with 8 warps a
// block over 32 columns: warp q sums parts [q·P/8, (q+1)·P/8) in order, then
// the 8 sums are added in warp order (deterministic; a different association
// than rms_dw_reduce's, which would leave 2,048 threads summing hundreds of
// parts each). grid ceil(n/32), block 256.
extern "C" __global__ void __launch_bounds__(256) rms_dw_reduce8(float* dw, const float* part, int parts, int n) {
  __shared__ float sums[8][32];
  int lane = threadIdx.x & 31, q = threadIdx.x >> 5;
  int i = blockIdx.x * 32 + lane;
  int per = (parts + 7) / 8;
  int lo = q * per, hi = min(parts, lo + per);
  float a = 0.f;
  if (i < n)
    for (int p = lo; p < hi; p++) a += part[(size_t)p * n + i];
  sums[q][lane] = a;
  __syncthreads();
  if (q == 0 && i < n) {
    float t = 0.f;
    for (int k = 0; k < 8; k++) t += sums[k][lane];
    dw[i] += t;
  }
}

// ---- QK-norm and RoPE (olmo2.md §2: the norm spans the full projection
// width; then rotate_half RoPE per head, pairs (i, i+HS/2) sharing the angle
// t·θ^(−2i/HS)).

// qknorm_rope_fwd: blockIdx.y = 0 handles q (width NH·HS at column 0 of the
// fused qkv row), 1 handles k (width NKV·HS at column NH·HS):
// out = rope(w ⊙ raw·rstd), rstd kept. cos/sin are (T, HS/2) tables computed in
// float64 on the host, as the CPU engine does. grid (R, 2), block 256.
// With PK (packed scoring rows, model.Packing) row r's RoPE position is
// pos[r], not r mod T; pos is read only when PK, so the training
// instantiation compiles to the kernel it was before.
template <int K, typename A, bool PK>
__device__ void qknorm_rope_fwd_k(A* q, A* k, float* qr, float* kr, const A* qkv, int ldqkv, const float* wq,
                                  const float* wk, const float* cosT, const float* sinT, int T, int NH, int NKV,
                                  int HS, float eps, const int* pos) {
  __shared__ float red[32];
  size_t r = blockIdx.x;
  bool isk = blockIdx.y == 1;
  int n = (isk ? NKV : NH) * HS;
  const A* x = qkv + r * ldqkv + (isk ? NH * HS : 0);
  const float* w = isk ? wk : wq;
  A* out = (isk ? k : q) + r * n;
  float ss = 0.f;
  for (int i = threadIdx.x * K; i < n; i += blockDim.x * K) {
    float v[K];
    ldv(x, i, v);
#pragma unroll
    for (int e = 0; e < K; e++) ss += v[e] * v[e];
  }
  ss = block_sum(ss, red);
  float s = 1.f / sqrtf(ss / (float)n + eps);
  if (threadIdx.x == 0) (isk ? kr : qr)[r] = s;
  int half = HS / 2;
  int t = PK ? pos[r] : (int)(r % T);
  // K consecutive pairs share a head (half is a multiple of K)
  for (int j = threadIdx.x * K; j < n / 2; j += blockDim.x * K) {
    int h = j / half, i = j % half;
    int c0 = h * HS + i, c1 = c0 + half;
    float a[K], b[K], w0[K], w1[K], c[K], sn[K];
    ldv(x, c0, a);
    ldv(x, c1, b);
    ldv(w, c0, w0);
    ldv(w, c1, w1);
    ldv(cosT, (size_t)t * half + i, c);
    ldv(sinT, (size_t)t * half + i, sn);
#pragma unroll
    for (int e = 0; e < K; e++) {
      float av = w0[e] * (a[e] * s), bv = w1[e] * (b[e] * s);
      a[e] = av * c[e] - bv * sn[e];
      b[e] = bv * c[e] + av * sn[e];
    }
    stv(out, c0, a);
    stv(out, c1, b);
  }
}
template <typename A, bool PK>
__device__ void qknorm_rope_fwd(A* q, A* k, float* qr, float* kr, const A* qkv, int ldqkv, const float* wq,
                                const float* wk, const float* cosT, const float* sinT, int T, int NH, int NKV,
                                int HS, float eps, const int* pos) {
  // the k slice starts NH·HS columns in: a multiple of 8 when HS/2 is
  if ((HS / 2) % 8 == 0 && HS % 2 == 0 && ldqkv % 8 == 0 && al16(q) && al16(k) && al16(qkv) && al16(wq) &&
      al16(wk) && al16(cosT) && al16(sinT))
    qknorm_rope_fwd_k<8, A, PK>(q, k, qr, kr, qkv, ldqkv, wq, wk, cosT, sinT, T, NH, NKV, HS, eps, pos);
  else
    qknorm_rope_fwd_k<1, A, PK>(q, k, qr, kr, qkv, ldqkv, wq, wk, cosT, sinT, T, NH, NKV, HS, eps, pos);
}

// rope_bwd applies the inverse rotation in place to the q and k gradient
// slices of the fused dqkv rows (the transpose of a rotation is its inverse;
// model/kernels.go ropeRows with sign −1). grid (R, 2), block 256.
template <int K, typename A>
__device__ void rope_bwd_k(A* dqkv, int ldqkv, const float* cosT, const float* sinT, int T, int NH, int NKV, int HS) {
  size_t r = blockIdx.x;
  bool isk = blockIdx.y == 1;
  int n = (isk ? NKV : NH) * HS;
  A* x = dqkv + r * ldqkv + (isk ? NH * HS : 0);
  int half = HS / 2;
  int t = (int)(r % T);
  for (int j = threadIdx.x * K; j < n / 2; j += blockDim.x * K) {
    int h = j / half, i = j % half;
    int c0 = h * HS + i, c1 = c0 + half;
    float a[K], b[K], c[K], si[K];
    ldv(x, c0, a);
    ldv(x, c1, b);
    ldv(cosT, (size_t)t * half + i, c);
    ldv(sinT, (size_t)t * half + i, si);
#pragma unroll
    for (int e = 0; e < K; e++) {
      float av = a[e], bv = b[e], sv = -si[e];
      a[e] = av * c[e] - bv * sv;
      b[e] = bv * c[e] + av * sv;
    }
    stv(x, c0, a);
    stv(x, c1, b);
  }
}
template <typename A>
__device__ void rope_bwd(A* dqkv, int ldqkv, const float* cosT, const float* sinT, int T, int NH, int NKV, int HS) {
  if ((HS / 2) % 8 == 0 && HS % 2 == 0 && ldqkv % 8 == 0 && al16(dqkv) && al16(cosT) && al16(sinT))
    rope_bwd_k<8>(dqkv, ldqkv, cosT, sinT, T, NH, NKV, HS);
  else
    rope_bwd_k<1>(dqkv, ldqkv, cosT, sinT, T, NH, NKV, HS);
}

// ---- SwiGLU: act = silu(gate) ⊙ up, silu(g) = g·σ(g) (olmo2.md §2). gate and
// up are the two halves of one fused projection row: gu[r] = [gate | up].

// swiglu_fwd: grid-stride over R·I elements. grid ≤ 65535, block 256.
// K elements per step of the grid-stride loop (I a multiple of K): one
// division for K elements.
template <int K, typename A>
__device__ void swiglu_fwd_k(A* act, const A* gu, int I, long long total) {
  for (long long idx = ((long long)blockIdx.x * blockDim.x + threadIdx.x) * K; idx < total;
       idx += (long long)gridDim.x * blockDim.x * K) {
    size_t r = (size_t)(idx / I), i = (size_t)(idx % I);
    float g[K], u[K];
    ldv(gu, r * 2 * I + i, g);
    ldv(gu, r * 2 * I + I + i, u);
#pragma unroll
    for (int e = 0; e < K; e++) g[e] = g[e] / (1.f + expf(-g[e])) * u[e];
    stv(act, (size_t)idx, g);
  }
}
template <typename A>
__device__ void swiglu_fwd(A* act, const A* gu, int I, long long total) {
  if (I % 8 == 0 && al16(act) && al16(gu))
    swiglu_fwd_k<8>(act, gu, I, total);
  else
    swiglu_fwd_k<1>(act, gu, I, total);
}

// swiglu_bwd: dup = dact·silu(g); dgate = dact·up·σ(g)·(1 + g·(1 − σ(g)))
// (model/kernels.go swigluBackRows), written into dgu = [dgate | dup].
template <int K, typename A>
__device__ void swiglu_bwd_k(A* dgu, const A* dact, const A* gu, int I, long long total) {
  for (long long idx = ((long long)blockIdx.x * blockDim.x + threadIdx.x) * K; idx < total;
       idx += (long long)gridDim.x * blockDim.x * K) {
    size_t r = (size_t)(idx / I), i = (size_t)(idx % I);
    float g[K], u[K], d[K], dg[K], du[K];
    ldv(gu, r * 2 * I + i, g);
    ldv(gu, r * 2 * I + I + i, u);
    ldv(dact, (size_t)idx, d);
#pragma unroll
    for (int e = 0; e < K; e++) {
      float sg = 1.f / (1.f + expf(-g[e]));
      du[e] = d[e] * g[e] * sg;
      dg[e] = d[e] * u[e] * sg * (1.f + g[e] * (1.f - sg));
    }
    stv(dgu, r * 2 * I + I + i, du);
    stv(dgu, r * 2 * I + i, dg);
  }
}
template <typename A>
__device__ void swiglu_bwd(A* dgu, const A* dact, const A* gu, int I, long long total) {
  if (I % 8 == 0 && al16(dgu) && al16(dact) && al16(gu))
    swiglu_bwd_k<8>(dgu, dact, gu, I, total);
  else
    swiglu_bwd_k<1>(dgu, dact, gu, I, total);
}

// cast_bf16: dst = (bf16) src, for the bf16 copy of the weights. grid-stride.
template <int K>
__device__ void cast_bf16_k(bf16* dst, const float* src, long long n) {
  for (long long i = ((long long)blockIdx.x * blockDim.x + threadIdx.x) * K; i < n;
       i += (long long)gridDim.x * blockDim.x * K) {
    float v[K];
    ldv(src, (size_t)i, v);
    stv(dst, (size_t)i, v);
  }
}
extern "C" __global__ void __launch_bounds__(256) cast_bf16(bf16* dst, const float* src, long long n) {
  if (n % 8 == 0 && al16(dst) && al16(src))
    cast_bf16_k<8>(dst, src, n);
  else
    cast_bf16_k<1>(dst, src, n);
}

// ---- entry points, one per activation type

#define ROWS_ENTRIES(S, A)                                                                                        \
  extern "C" __global__ void __launch_bounds__(256)                                                               \
      embed_fwd_##S(float* res, A* xT, const float* W, const int* ids, int C) {                                  \
    embed_fwd<A>(res, xT, W, ids, C);                                                                             \
  }                                                                                                               \
  extern "C" __global__ void __launch_bounds__(256) rms_res_fwd_##S(                                             \
      float* y32, A* yT, float* rstd, const A* x, const float* res, const float* w, int n, float eps) {          \
    rms_res_fwd<A>(y32, yT, rstd, x, res, w, n, eps);                                                             \
  }                                                                                                               \
  extern "C" __global__ void __launch_bounds__(256)                                                               \
      rms_fwd_##S(A* y, float* rstd, const float* x, const float* w, int n, float eps) {                         \
    rms_fwd<A>(y, rstd, x, w, n, eps);                                                                            \
  }                                                                                                               \
  /* dy fp32 (the residual stream's gradient), x and dx of type A: the block-output norms */                     \
  extern "C" __global__ void __launch_bounds__(256) rms_bwd_res_##S(A* dx, int lddx, const float* dy, int lddy,  \
                                                                    const A* x, int ldx, const float* rstd,      \
                                                                    const float* w, int n) {                     \
    rms_bwd<float, A, A>(dx, lddx, dy, lddy, x, ldx, rstd, w, n);                                                 \
  }                                                                                                               \
  /* everything of type A: the QK-norms, in place on the dqkv slices */                                         \
  extern "C" __global__ void __launch_bounds__(256) rms_bwd_act_##S(A* dx, int lddx, const A* dy, int lddy,      \
                                                                    const A* x, int ldx, const float* rstd,      \
                                                                    const float* w, int n) {                     \
    rms_bwd<A, A, A>(dx, lddx, dy, lddy, x, ldx, rstd, w, n);                                                     \
  }                                                                                                               \
  extern "C" __global__ void __launch_bounds__(256) rms_dw_part_res_##S(                                         \
      float* part, const float* dy, int lddy, const A* x, int ldx, const float* rstd, int R, int n, int rowsPer) { \
    rms_dw_part<float, A>(part, dy, lddy, x, ldx, rstd, R, n, rowsPer);                                           \
  }                                                                                                               \
  extern "C" __global__ void __launch_bounds__(256) rms_dw_part_act_##S(                                         \
      float* part, const A* dy, int lddy, const A* x, int ldx, const float* rstd, int R, int n, int rowsPer) {   \
    rms_dw_part<A, A>(part, dy, lddy, x, ldx, rstd, R, n, rowsPer);                                               \
  }                                                                                                               \
  extern "C" __global__ void __launch_bounds__(256) rms_bwd_dw_res_##S(                                          \
      A* dx, int lddx, const float* dy, int lddy, const A* x, int ldx, const float* rstd, const float* w,        \
      float* part, int R, int n, int rowsPer) {                                                                   \
    rms_bwd_dw<float, A, A>(dx, lddx, dy, lddy, x, ldx, rstd, w, part, R, n, rowsPer, nullptr, nullptr, 1, 2);    \
  }                                                                                                               \
  /* the QK-norms with RoPE's backward first, in place on the dqkv slices */                                   \
  extern "C" __global__ void __launch_bounds__(256) rms_bwd_dw_act_##S(                                          \
      A* dx, int lddx, const A* dy, int lddy, const A* x, int ldx, const float* rstd, const float* w,            \
      float* part, int R, int n, int rowsPer, const float* cosT, const float* sinT, int T, int HS) {             \
    rms_bwd_dw<A, A, A>(dx, lddx, dy, lddy, x, ldx, rstd, w, part, R, n, rowsPer, cosT, sinT, T, HS);             \
  }                                                                                                               \
  extern "C" __global__ void __launch_bounds__(256) qknorm_rope_fwd_##S(                                         \
      A* q, A* k, float* qr, float* kr, const A* qkv, int ldqkv, const float* wq, const float* wk,               \
      const float* cosT, const float* sinT, int T, int NH, int NKV, int HS, float eps) {                         \
    qknorm_rope_fwd<A, false>(q, k, qr, kr, qkv, ldqkv, wq, wk, cosT, sinT, T, NH, NKV, HS, eps, nullptr);        \
  }                                                                                                               \
  /* packed scoring rows (model.Packing): pos (R) each row's RoPE position */                                   \
  extern "C" __global__ void __launch_bounds__(256) qknorm_rope_fwd_pos_##S(                                     \
      A* q, A* k, float* qr, float* kr, const A* qkv, int ldqkv, const float* wq, const float* wk,               \
      const float* cosT, const float* sinT, int T, int NH, int NKV, int HS, float eps, const int* pos) {         \
    qknorm_rope_fwd<A, true>(q, k, qr, kr, qkv, ldqkv, wq, wk, cosT, sinT, T, NH, NKV, HS, eps, pos);             \
  }                                                                                                               \
  extern "C" __global__ void __launch_bounds__(256)                                                               \
      rope_bwd_##S(A* dqkv, int ldqkv, const float* cosT, const float* sinT, int T, int NH, int NKV, int HS) {   \
    rope_bwd<A>(dqkv, ldqkv, cosT, sinT, T, NH, NKV, HS);                                                            \
  }                                                                                                               \
  extern "C" __global__ void __launch_bounds__(256) swiglu_fwd_##S(A* act, const A* gu, int I, long long total) { \
    swiglu_fwd<A>(act, gu, I, total);                                                                             \
  }                                                                                                               \
  extern "C" __global__ void __launch_bounds__(256)                                                               \
      swiglu_bwd_##S(A* dgu, const A* dact, const A* gu, int I, long long total) {                               \
    swiglu_bwd<A>(dgu, dact, gu, I, total);                                                                       \
  }

ROWS_ENTRIES(f32, float)
ROWS_ENTRIES(bf16, bf16)

// The final norm's backward is fp32 throughout in both modes: dres = rms'(dxf).
extern "C" __global__ void __launch_bounds__(256) rms_bwd_final(float* dx, int lddx, const float* dy, int lddy,
                                                                const float* x, int ldx, const float* rstd,
                                                                const float* w, int n) {
  rms_bwd<float, float, float>(dx, lddx, dy, lddy, x, ldx, rstd, w, n);
}
extern "C" __global__ void __launch_bounds__(256) rms_dw_part_final(float* part, const float* dy, int lddy,
                                                                    const float* x, int ldx, const float* rstd,
                                                                    int R, int n, int rowsPer) {
  rms_dw_part<float, float>(part, dy, lddy, x, ldx, rstd, R, n, rowsPer);
}
extern "C" __global__ void __launch_bounds__(256) rms_bwd_dw_final(float* dx, int lddx, const float* dy, int lddy,
                                                                   const float* x, int ldx, const float* rstd,
                                                                   const float* w, float* part, int R, int n,
                                                                   int rowsPer) {
  rms_bwd_dw<float, float, float>(dx, lddx, dy, lddy, x, ldx, rstd, w, part, R, n, rowsPer, nullptr, nullptr, 1, 2);
}
