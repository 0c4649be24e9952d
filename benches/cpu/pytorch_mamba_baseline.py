#!/usr/bin/env python3
"""The CPU baseline of issue 6: a plain PyTorch Mamba-1 with a sequential scan, trained step by step.

The same work as kleene's `cargo bench --bench train_throughput` (mamba_d64_l2): embedding, 2
pre-norm residual Mamba-1 blocks (d_model 64, expand 2, d_state 16, d_conv 4, dt_rank 4), final
RMSNorm, a linear head to 4 classes; per-position cross-entropy; AdamW; batch 32; tokens from a
vocabulary of 8. The selective scan is a Python loop over time as in johnma2006/mamba-minimal (the
reference most plain PyTorch ports copy), the rest is ordinary torch ops. Prints tokens/s per length.

    python benches/cpu/pytorch_mamba_baseline.py [lengths...]      (default: 64 256 1024)

Needs only `torch` (CPU). Threads: torch's default (all cores), as a researcher would run it.
"""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

D_MODEL, N_LAYERS, EXPAND, D_STATE, D_CONV = 64, 2, 2, 16, 4
DT_RANK = math.ceil(D_MODEL / 16)
BATCH, VOCAB, CLASSES = 32, 8, 4


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class MambaBlock(nn.Module):
    def __init__(self):
        super().__init__()
        di = EXPAND * D_MODEL
        self.in_proj = nn.Linear(D_MODEL, 2 * di, bias=False)
        self.conv1d = nn.Conv1d(di, di, D_CONV, groups=di, padding=D_CONV - 1)
        self.x_proj = nn.Linear(di, DT_RANK + 2 * D_STATE, bias=False)
        self.dt_proj = nn.Linear(DT_RANK, di)
        a = torch.arange(1, D_STATE + 1, dtype=torch.float32).repeat(di, 1)
        self.A_log = nn.Parameter(torch.log(a))
        self.D = nn.Parameter(torch.ones(di))
        self.out_proj = nn.Linear(di, D_MODEL, bias=False)

    def forward(self, x):
        b, l, _ = x.shape
        x, z = self.in_proj(x).chunk(2, dim=-1)
        x = self.conv1d(x.transpose(1, 2))[:, :, :l].transpose(1, 2)
        x = F.silu(x)
        delta, bm, cm = self.x_proj(x).split([DT_RANK, D_STATE, D_STATE], dim=-1)
        delta = F.softplus(self.dt_proj(delta))
        y = self.selective_scan(x, delta, -torch.exp(self.A_log), bm, cm, self.D)
        return self.out_proj(y * F.silu(z))

    @staticmethod
    def selective_scan(u, delta, a, bm, cm, d):
        b, l, di = u.shape
        da = torch.exp(delta.unsqueeze(-1) * a)  # (b, l, di, n)
        dbu = (delta * u).unsqueeze(-1) * bm.unsqueeze(2)  # (b, l, di, n)
        h = torch.zeros(b, di, a.shape[1])
        ys = []
        for t in range(l):
            h = da[:, t] * h + dbu[:, t]
            ys.append((h @ cm[:, t].unsqueeze(-1)).squeeze(-1))
        return torch.stack(ys, dim=1) + u * d


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, D_MODEL)
        self.norms = nn.ModuleList(RMSNorm(D_MODEL) for _ in range(N_LAYERS))
        self.blocks = nn.ModuleList(MambaBlock() for _ in range(N_LAYERS))
        self.norm_f = RMSNorm(D_MODEL)
        self.head = nn.Linear(D_MODEL, CLASSES)

    def forward(self, tokens):
        x = self.embedding(tokens)
        for norm, block in zip(self.norms, self.blocks):
            x = x + block(norm(x))
        return self.head(self.norm_f(x))


def tokens_per_second(length, steps):
    torch.manual_seed(0)
    model = Model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    tokens = torch.randint(0, VOCAB, (BATCH, length))
    targets = torch.randint(0, CLASSES, (BATCH, length))

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(tokens).reshape(-1, CLASSES), targets.reshape(-1))
        loss.backward()
        opt.step()

    for _ in range(3):  # warm-up (the first steps of a process run well below steady speed)
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    per_step = (time.perf_counter() - start) / steps
    return BATCH * length / per_step, per_step


def main():
    lengths = [int(a) for a in sys.argv[1:]] or [64, 256, 1024]
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("length  s/step  tokens/s")
    for length in lengths:
        steps = max(2, 1280 // length)
        tps, per_step = tokens_per_second(length, steps)
        print(f"{length:6d}  {per_step:6.3f}  {tps:8.0f}")


if __name__ == "__main__":
    main()
