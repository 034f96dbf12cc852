#!/usr/bin/env python3
"""OLMo 2 training throughput in PyTorch on one GPU: the side-by-side reference for
olmolab's CUDA engine (issue 8).

The model is OLMo 2 (reordered norm, QK-norm over the full projection, RoPE
rotate-half θ=5e5, SwiGLU, untied head, z-loss 1e-5) written in plain PyTorch with
F.scaled_dot_product_attention (flash kernels), bf16 autocast over fp32 master
weights, fused AdamW, clipping at 1.0, and torch.compile when --compile is given.
Prints one line per preset:
    preset=<name> seq=<T> batch=<B> tokens_per_s=<f> step_ms=<f> mfu=<f> peak_mem_gib=<f> compiled=<bool>
MFU uses OLMo-core's FLOPs/token (6·N_non-emb incl. lm_head + 12·L·d·T) over 989 TFLOP/s.
"""
import argparse
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {  # d, layers, heads, kv, mlp
    "olmo2_190M": (768, 12, 12, 12, 3072),
    "olmo2_1B_v2": (2048, 16, 16, 16, 8192),
    "olmo2_7B": (4096, 32, 32, 32, 11008),
}
VOCAB = 100352
PEAK = 989e12


class RMSNorm(nn.Module):
    def __init__(self, n, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        return (self.weight * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps))).to(x.dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), -1)


class Block(nn.Module):
    def __init__(self, d, nh, nkv, mlp):
        super().__init__()
        self.nh, self.nkv, self.hs = nh, nkv, d // nh
        self.q = nn.Linear(d, nh * self.hs, bias=False)
        self.k = nn.Linear(d, nkv * self.hs, bias=False)
        self.v = nn.Linear(d, nkv * self.hs, bias=False)
        self.o = nn.Linear(nh * self.hs, d, bias=False)
        self.qn, self.kn = RMSNorm(nh * self.hs), RMSNorm(nkv * self.hs)
        self.an, self.fn = RMSNorm(d), RMSNorm(d)
        self.gate = nn.Linear(d, mlp, bias=False)
        self.up = nn.Linear(d, mlp, bias=False)
        self.down = nn.Linear(mlp, d, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        q = self.qn(self.q(x)).view(B, T, self.nh, self.hs).transpose(1, 2)
        k = self.kn(self.k(x)).view(B, T, self.nkv, self.hs).transpose(1, 2)
        v = self.v(x).view(B, T, self.nkv, self.hs).transpose(1, 2)
        q = (q.float() * cos + rotate_half(q.float()) * sin).to(v.dtype)
        k = (k.float() * cos + rotate_half(k.float()) * sin).to(v.dtype)
        gqa = {"enable_gqa": True} if self.nkv != self.nh else {}
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True, **gqa)
        a = a.transpose(1, 2).reshape(B, T, -1)
        h = x + self.an(self.o(a))
        return h + self.fn(self.down(F.silu(self.gate(h)) * self.up(h)))


class OLMo2(nn.Module):
    def __init__(self, d, L, nh, nkv, mlp, seq):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d)
        self.blocks = nn.ModuleList([Block(d, nh, nkv, mlp) for _ in range(L)])
        self.norm = RMSNorm(d)
        self.head = nn.Linear(d, VOCAB, bias=False)
        hs = d // nh
        inv = 500000.0 ** (-torch.arange(0, hs, 2, dtype=torch.float64) / hs)
        f = torch.outer(torch.arange(seq, dtype=torch.float64), inv)
        f = torch.cat((f, f), -1)
        self.register_buffer("cos", f.cos().float(), persistent=False)
        self.register_buffer("sin", f.sin().float(), persistent=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.trunc_normal_(m.weight, std=0.02, a=-0.06, b=0.06)

    def forward(self, ids, labels):
        x = self.emb(ids)
        for b in self.blocks:
            x = b(x, self.cos, self.sin)
        logits = self.head(self.norm(x)).float()
        lse = torch.logsumexp(logits, -1)
        ce = F.cross_entropy(logits.view(-1, VOCAB), labels.view(-1), ignore_index=-100)
        return ce + 1e-5 * (lse ** 2).mean()


def flops_per_token(d, L, mlp, nh, nkv, seq):
    hs = d // nh
    per_layer = d * nh * hs * 2 + 2 * d * nkv * hs + 3 * d * mlp + nh * hs + nkv * hs + 2 * d
    n = L * per_layer + d + VOCAB * d  # non-embedding + lm_head
    return 6 * n + 12 * L * d * seq


def bench(name, seq, batch, steps, warmup, compile_):
    d, L, nh, nkv, mlp = PRESETS[name]
    torch.manual_seed(0)
    dev = "cuda"
    model = OLMo2(d, L, nh, nkv, mlp, seq).to(dev)
    decay = [p for n, p in model.named_parameters() if not n.startswith("emb.")]
    nodecay = [p for n, p in model.named_parameters() if n.startswith("emb.")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=4e-4, betas=(0.9, 0.95), eps=1e-8, fused=True)
    fwd = torch.compile(model) if compile_ else model
    ids = torch.randint(0, VOCAB - 100, (batch, seq), device=dev)
    labels = torch.roll(ids, -1, 1)
    labels[:, -1] = -100

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = fwd(ids, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / steps
    tps = batch * seq / dt
    mfu = tps * flops_per_token(d, L, mlp, nh, nkv, seq) / PEAK
    mem = torch.cuda.max_memory_allocated() / 2**30
    print(f"preset={name} seq={seq} batch={batch} tokens_per_s={tps:.0f} step_ms={dt*1e3:.1f} "
          f"mfu={mfu:.3f} peak_mem_gib={mem:.1f} compiled={compile_} loss={loss.item():.3f}", flush=True)
    del model, opt, fwd
    torch.cuda.empty_cache()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--preset", action="append", required=True)
    p.add_argument("--batch", type=int, action="append", help="per preset, in order")
    p.add_argument("--seq", type=int, default=4096)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--compile", action="store_true")
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    failed = 0
    for i, name in enumerate(a.preset):
        b = a.batch[i] if a.batch and i < len(a.batch) else 4
        try:
            bench(name, a.seq, b, a.steps, a.warmup, a.compile)
        except Exception as e:  # report and go on to the next preset
            print(f"preset={name} error={type(e).__name__}: {str(e)[:300]}", flush=True)
            torch.cuda.empty_cache()
            failed += 1
    return 1 if failed else 0  # a preset that failed fails the run (gpu-check.sh's status)


if __name__ == "__main__":
    sys.exit(main())
