// emu.cc: the kernel emulator (see emu.h): coroutine scheduling, launches,
// the reference GEMM, and the table of kernel entry points.
#undef _FORTIFY_SOURCE  // its longjmp check rejects jumps between coroutine stacks
#define OLMO_EMU 1
#include "emu.h"

#include <setjmp.h>
#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "../../kernels/all.cu"
#include "kernels_sum.h"  // makes Go rebuild this file when a kernel changes (gpu/kernels/gensum.sh)

enum { RUN, AT_BLOCK, AT_WARP, DONE };

// EmuCopy is one cp.async: bytes bytes to dst, the first src_bytes from src,
// the rest zero.
struct EmuCopy {
  unsigned char* dst;
  const unsigned char* src;
  int bytes, src_bytes;
};

// A coroutine starts on its own stack through makecontext/swapcontext; after
// that, switches use _setjmp/_longjmp, which (unlike swapcontext) make no
// system call to save the signal mask.
struct EmuThread {
  dim3 tid;
  int linear, state;
  bool started;
  ucontext_t ctx;
  jmp_buf env;
  std::vector<EmuCopy> open;               // cp.async issued since the last commit
  std::deque<std::vector<EmuCopy>> groups;  // committed groups not yet performed, oldest first
};

EmuThread* emu_cur;
dim3 emu_gridDim, emu_blockDim, emu_blockIdx;

static ucontext_t sched_ctx;
static jmp_buf sched_env;
static std::vector<EmuThread> threads;
static std::vector<char*> stacks;
static const size_t kStack = 256 << 10;
static std::vector<unsigned char> dyn;
static size_t dyn_bytes;  // the launch's dynamic shared memory (dyn has 16 more)
static bool cp_early;     // perform cp.async at issue instead of at the wait
static std::vector<unsigned char> warpbuf;  // per warp 32 × 64 bytes
static std::function<void()> body;
static std::string err;

const dim3& emu_thread_idx() { return emu_cur->tid; }
unsigned char* emu_dyn_smem() { return dyn.data(); }
int emu_lane() { return emu_cur->linear & 31; }
void* emu_warp_buf() { return warpbuf.data() + (emu_cur->linear >> 5) * 32 * 64; }

static void yield(int state) {
  EmuThread* me = emu_cur;
  me->state = state;
  if (!_setjmp(me->env)) _longjmp(sched_env, 1);
  emu_cur = me;
}
void emu_syncthreads() { yield(AT_BLOCK); }
void emu_warp_barrier() { yield(AT_WARP); }

static void entry() {
  body();
  if ((!emu_cur->open.empty() || !emu_cur->groups.empty()) && err.empty()) {
    char m[160];
    snprintf(m, sizeof m, "thread %d of block (%u,%u,%u) exited with cp.async copies never waited for", emu_cur->linear,
             emu_blockIdx.x, emu_blockIdx.y, emu_blockIdx.z);
    err = m;
  }
  emu_cur->state = DONE;
  _longjmp(sched_env, 1);  // never returns: the stack is reused by the next thread
}

// run_block runs every thread of the current block to completion.
static bool run_block(int n) {
  for (int i = 0; i < n; i++) {
    EmuThread& t = threads[i];
    t.linear = i;
    t.tid.x = i % emu_blockDim.x;
    t.tid.y = (i / emu_blockDim.x) % emu_blockDim.y;
    t.tid.z = i / (emu_blockDim.x * emu_blockDim.y);
    t.state = RUN;
    t.started = false;
    t.open.clear();
    t.groups.clear();
    getcontext(&t.ctx);
    t.ctx.uc_stack.ss_sp = stacks[i];
    t.ctx.uc_stack.ss_size = kStack;
    t.ctx.uc_link = &sched_ctx;
    makecontext(&t.ctx, entry, 0);
  }
  int nw = (n + 31) / 32;
  for (;;) {
    // One warp at a time, as far as it can go: its lanes run until each
    // waits, a warp-wide operation completes as soon as the warp's 32 lanes
    // are at it, and the next warp starts only when this one waits at
    // __syncthreads (or is done). So a warp reads shared memory before any
    // later warp has run past the last barrier: a missing __syncthreads, or a
    // cp.async wait after instead of before it, shows. Warps go first-to-last,
    // or last-to-first in the early-copy mode (emu_set_cp_early).
    for (int wi = 0; wi < nw; wi++) {
      int w = cp_early ? nw - 1 - wi : wi;
      int lo = w * 32, hi = std::min(n, lo + 32);
      for (;;) {
        for (volatile int i = lo; i < hi; i++) {
          if (threads[i].state != RUN) continue;
          emu_cur = &threads[i];
          if (!_setjmp(sched_env)) {
            if (threads[i].started) _longjmp(threads[i].env, 1);
            threads[i].started = true;
            swapcontext(&sched_ctx, &threads[i].ctx);
          }
        }
        // a warp barrier completes when all lanes of the warp wait at it
        int at = 0;
        for (int i = lo; i < hi; i++) at += threads[i].state == AT_WARP;
        if (at == 0) break;  // every lane at __syncthreads or done
        if (at != hi - lo || hi - lo != 32) {
          char m[200];
          snprintf(m, sizeof m, "block (%u,%u,%u) warp %d: %d of %d lanes at a warp-wide operation (divergent shuffle or mma)",
                   emu_blockIdx.x, emu_blockIdx.y, emu_blockIdx.z, w, at, hi - lo);
          err = m;
          return false;
        }
        for (int i = lo; i < hi; i++) threads[i].state = RUN;
      }
    }
    int atb = 0, done = 0;
    for (int i = 0; i < n; i++) {
      atb += threads[i].state == AT_BLOCK;
      done += threads[i].state == DONE;
    }
    if (done == n) return err.empty();
    if (atb + done == n) {
      // exited threads count as arrived, as on the hardware
      for (int i = 0; i < n; i++)
        if (threads[i].state == AT_BLOCK) threads[i].state = RUN;
      continue;
    }
    err = "deadlock";
    return false;
  }
}

typedef std::function<void(const uint64_t*)> Launcher;
struct Entry {
  Launcher fn;
  int nargs;
};

template <typename T>
static T arg(uint64_t v) {
  T t;
  memcpy(&t, &v, sizeof(T));  // the low bytes, as cuLaunchKernel reads a 4-byte parameter
  return t;
}
template <typename... P, size_t... I>
static void call(void (*f)(P...), const uint64_t* a, std::index_sequence<I...>) {
  f(arg<P>(a[I])...);
}
template <typename... P>
static Entry entry_of(void (*f)(P...)) {
  return Entry{[f](const uint64_t* a) { call(f, a, std::index_sequence_for<P...>{}); }, (int)sizeof...(P)};
}

#define E(name) {#name, entry_of(&name)},
static std::map<std::string, Entry> table = {
    E(embed_bwd) E(rms_dw_reduce) E(cast_bf16)
    E(embed_fwd_f32) E(rms_res_fwd_f32) E(rms_fwd_f32) E(rms_bwd_res_f32) E(rms_bwd_act_f32)
    E(rms_dw_part_res_f32) E(rms_dw_part_act_f32) E(qknorm_rope_fwd_f32) E(rope_bwd_f32) E(swiglu_fwd_f32)
    E(swiglu_bwd_f32)
    E(embed_fwd_bf16) E(rms_res_fwd_bf16) E(rms_fwd_bf16) E(rms_bwd_res_bf16) E(rms_bwd_act_bf16)
    E(rms_dw_part_res_bf16) E(rms_dw_part_act_bf16) E(qknorm_rope_fwd_bf16) E(rope_bwd_bf16) E(swiglu_fwd_bf16)
    E(swiglu_bwd_bf16)
    E(rms_bwd_final) E(rms_dw_part_final)
    E(rms_bwd_dw_res_f32) E(rms_bwd_dw_act_f32) E(rms_bwd_dw_res_bf16) E(rms_bwd_dw_act_bf16) E(rms_bwd_dw_final)
    E(rms_dw_reduce8)
    E(ce_chunk_f32) E(ce_chunk_bf16) E(loss_reduce)
    E(sumsq_part) E(sumsq_final) E(adamw)
    E(attn_fwd_f32) E(attn_bwd_pre_f32) E(attn_bwd_dq_f32) E(attn_bwd_dkv_f32)
    E(attn_fwd_bf16) E(attn_bwd_pre_bf16) E(attn_bwd_dq_bf16) E(attn_bwd_dkv_bf16)
    E(attn_fwd_mma64) E(attn_bwd_dkv_mma64) E(attn_bwd_dq_mma64)
    E(attn_fwd_mma128) E(attn_bwd_dkv_mma128) E(attn_bwd_dq_mma128)
    E(attn_fwd_v2_64) E(attn_bwd_dkv_v2_64) E(attn_bwd_dq_v2_64)
    E(attn_fwd_v2_128) E(attn_bwd_dkv_v2_128) E(attn_bwd_dq_v2_128)
    E(qknorm_rope_fwd_pos_f32) E(qknorm_rope_fwd_pos_bf16) E(attn_fwd_pk_f32) E(attn_fwd_pk_bf16)
    E(attn_fwd_mma_pk64) E(attn_fwd_mma_pk128)
};

static unsigned long long emu_vec_accesses = 0;

void emu_vec_access(const void* p) {
  if ((uintptr_t)p & 15) {
    fprintf(stderr, "emu: 16-byte vector access at %p, not 16-byte aligned\n", p);
    abort();
  }
  emu_vec_accesses++;
}

extern "C" {

// emu_vec_count returns the 16-byte accesses since the last call and resets
// the count.
unsigned long long emu_vec_count() {
  unsigned long long n = emu_vec_accesses;
  emu_vec_accesses = 0;
  return n;
}

// emu_set_cp_early selects when cp.async copies are performed: at issue
// (early != 0) or at the issuing thread's wait (the default).
void emu_set_cp_early(int early) { cp_early = early != 0; }

// emu_kernel_sources returns the sha256 lines of the kernel sources compiled in.
const char* emu_kernel_sources() { return emu_kernel_sums; }

// emu_has reports whether the emulator knows kernel name.
int emu_has(const char* name) { return table.count(name) ? 1 : 0; }

// emu_launch runs kernel name over the grid. It returns NULL or an error
// message (valid until the next call).
const char* emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                       unsigned bz, unsigned smem, const uint64_t* args, int nargs) {
  auto it = table.find(name);
  if (it == table.end()) {
    err = std::string("no kernel named ") + name;
    return err.c_str();
  }
  if (it->second.nargs != nargs) {
    err = std::string(name) + ": argument count mismatch";
    return err.c_str();
  }
  int n = (int)(bx * by * bz);
  if (n <= 0 || n > 1024 || n % 32 != 0) {
    err = std::string(name) + ": block size must be a positive multiple of 32, at most 1024";
    return err.c_str();
  }
  if (smem > 227 * 1024) {
    err = std::string(name) + ": more than 227 KiB of dynamic shared memory (sm_90's opt-in limit per block)";
    return err.c_str();
  }
  err.clear();
  while ((int)stacks.size() < n) stacks.push_back((char*)malloc(kStack));
  if ((int)threads.size() < n) threads.resize(n);
  warpbuf.assign((size_t)((n + 31) / 32) * 32 * 64, 0);
  std::vector<uint64_t> a(args, args + nargs);
  Launcher fn = it->second.fn;
  body = [&]() { fn(a.data()); };
  emu_gridDim = dim3{gx, gy, gz};
  emu_blockDim = dim3{bx, by, bz};
  for (unsigned z = 0; z < gz; z++)
    for (unsigned y = 0; y < gy; y++)
      for (unsigned x = 0; x < gx; x++) {
        emu_blockIdx = dim3{x, y, z};
        dyn.assign(smem + 16, 0xff);  // never-written shared memory reads as NaN
        dyn_bytes = smem;
        if (!run_block(n)) {
          err = std::string(name) + ": " + err;
          return err.c_str();
        }
      }
  return nullptr;
}

static float load(const void* p, int t, size_t i) {
  if (t == 0) return ((const float*)p)[i];
  unsigned u = (unsigned)((const uint16_t*)p)[i] << 16;
  return __uint_as_float(u);
}
static void store(void* p, int t, size_t i, float v) {
  if (t == 0) {
    ((float*)p)[i] = v;
    return;
  }
  ((uint16_t*)p)[i] = f2bf(v);
}

// emu_gemm: C = alpha·op(A)·op(B) + beta·C, row-major, types 0 = f32, 1 = bf16,
// accumulated in float (cuBLAS's CUBLAS_COMPUTE_32F). beta = 0 does not read C.
void emu_gemm(int transA, int transB, int m, int n, int k, float alpha, const void* A, int ta, int lda, const void* B,
              int tb, int ldb, float beta, void* C, int tc, int ldc) {
  std::vector<float> arow(k);
  for (int i = 0; i < m; i++) {
    for (int p = 0; p < k; p++) arow[p] = load(A, ta, transA ? (size_t)p * lda + i : (size_t)i * lda + p);
    for (int j = 0; j < n; j++) {
      float acc = 0.f;
      for (int p = 0; p < k; p++) acc += arow[p] * load(B, tb, transB ? (size_t)j * ldb + p : (size_t)p * ldb + j);
      float v = alpha * acc;
      if (beta != 0.f) v += beta * load(C, tc, (size_t)i * ldc + j);
      store(C, tc, (size_t)i * ldc + j, v);
    }
  }
}

}  // extern "C"

// emu_mma16816 reassembles the warp's A (16×16), B (16×8) and D (16×8) tiles
// from the 32 lanes' fragments (the mapping documented at mma16816 in
// common.cuh), and each lane computes its own four results.
void emu_mma16816(float d[4], const unsigned a[4], const unsigned b[2]) {
  struct Frag {
    unsigned a[4], b[2];
    float d[4];
  };
  static_assert(sizeof(Frag) <= 64, "fragment exchange slot");
  Frag* buf = (Frag*)emu_warp_buf();
  int lane = emu_lane();
  Frag& mine = buf[lane];
  memcpy(mine.a, a, sizeof mine.a);
  memcpy(mine.b, b, sizeof mine.b);
  memcpy(mine.d, d, sizeof mine.d);
  emu_warp_barrier();
  float A[16][16], B[16][8];
  auto lo = [](unsigned x) { return __uint_as_float((x & 0xffffu) << 16); };
  auto hi = [](unsigned x) { return __uint_as_float(x & 0xffff0000u); };
  for (int L = 0; L < 32; L++) {
    int g = L >> 2, c = L & 3;
    const Frag& f = buf[L];
    A[g][2 * c] = lo(f.a[0]), A[g][2 * c + 1] = hi(f.a[0]);
    A[g + 8][2 * c] = lo(f.a[1]), A[g + 8][2 * c + 1] = hi(f.a[1]);
    A[g][2 * c + 8] = lo(f.a[2]), A[g][2 * c + 9] = hi(f.a[2]);
    A[g + 8][2 * c + 8] = lo(f.a[3]), A[g + 8][2 * c + 9] = hi(f.a[3]);
    B[2 * c][g] = lo(f.b[0]), B[2 * c + 1][g] = hi(f.b[0]);
    B[2 * c + 8][g] = lo(f.b[1]), B[2 * c + 9][g] = hi(f.b[1]);
  }
  int g = lane >> 2, c = lane & 3;
  float out[4];
  for (int e = 0; e < 4; e++) {
    int row = g + 8 * (e >> 1), col = 2 * c + (e & 1);
    float acc = mine.d[e];
    for (int kk = 0; kk < 16; kk++) acc += A[row][kk] * B[kk][col];
    out[e] = acc;
  }
  emu_warp_barrier();  // everyone has read the exchange slots
  memcpy(d, out, sizeof out);
}

// emu_ldmatrix_x4: each lane deposits its row address; lane L then takes from
// matrix i (rows given by lanes 8i..8i+7) the pair (row L/4, columns 2(L%4),
// 2(L%4)+1), or transposed (rows 2(L%4), 2(L%4)+1, column L/4).
void emu_ldmatrix_x4(unsigned r[4], const unsigned short* row, bool trans) {
  const unsigned short** buf = (const unsigned short**)emu_warp_buf();
  int lane = emu_lane();
  buf[lane * 8] = row;  // 64-byte slots: one pointer each
  if (((uintptr_t)row & 15) != 0) {
    fprintf(stderr, "emu: ldmatrix row address %p is not 16-byte aligned\n", (const void*)row);
    abort();
  }
  emu_warp_barrier();
  int g = lane >> 2, c = lane & 3;
  for (int i = 0; i < 4; i++) {
    unsigned lo, hi;
    if (!trans) {
      const unsigned short* p = buf[(8 * i + g) * 8];
      lo = p[2 * c], hi = p[2 * c + 1];
    } else {
      lo = buf[(8 * i + 2 * c) * 8][g];
      hi = buf[(8 * i + 2 * c + 1) * 8][g];
    }
    r[i] = lo | (hi << 16);
  }
  emu_warp_barrier();
}

static void perform(const EmuCopy& c) {
  if (c.src_bytes > 0) memcpy(c.dst, c.src, c.src_bytes);
  if (c.bytes > c.src_bytes) memset(c.dst + c.src_bytes, 0, c.bytes - c.src_bytes);
}

// emu_cp_async checks what the hardware requires of a cp.async (addresses
// aligned to the copy's size) and that the destination lies inside the
// launch's dynamic shared memory, then queues or performs the copy.
void emu_cp_async(void* dst, const void* src, int bytes, int src_bytes) {
  unsigned char* d = (unsigned char*)dst;
  if (((uintptr_t)d % bytes) != 0 || (src_bytes > 0 && ((uintptr_t)src % bytes) != 0)) {
    fprintf(stderr, "emu: cp.async of %d bytes with misaligned address (dst %p, src %p)\n", bytes, dst, src);
    abort();
  }
  if (d < dyn.data() || d + bytes > dyn.data() + dyn_bytes) {
    fprintf(stderr, "emu: cp.async destination %p outside the launch's %zu bytes of dynamic shared memory\n", dst,
            dyn_bytes);
    abort();
  }
  EmuCopy c{d, (const unsigned char*)src, bytes, src_bytes};
  if (cp_early)
    perform(c);
  else
    emu_cur->open.push_back(c);
}

void emu_cp_commit() {
  if (cp_early) return;
  emu_cur->groups.push_back(std::move(emu_cur->open));
  emu_cur->open.clear();
}

// emu_cp_wait performs the calling thread's committed groups but the n most
// recent (cp.async.wait_group n).
void emu_cp_wait(int n) {
  auto& q = emu_cur->groups;
  while ((int)q.size() > n) {
    for (const EmuCopy& c : q.front()) perform(c);
    q.pop_front();
  }
}
