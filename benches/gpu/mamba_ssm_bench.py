#!/usr/bin/env python3
"""mamba-ssm's CUDA selective scan, timed like kleene's `examples/scan_gpu_bench.rs`.

For fp32 and bf16 inputs, forward and backward of
`mamba_ssm.ops.selective_scan_interface.selective_scan_fn` (z gate, D skip, delta bias,
delta_softplus=True, variable B/C with one group, A fp32) at the same shapes as the Rust example,
prints the same columns: time per call, achieved bytes/s of compulsory HBM traffic, and the
fraction of the H100 roofline of shared/spec/selective-scan-kernel.md section 4.5
(floor = max(bytes at 3.35 TB/s, one exp per (b, l, d, n) at 4.2e12/s)).

    python benches/gpu/mamba_ssm_bench.py [iters]

Needs a CUDA GPU, PyTorch and mamba-ssm built for it (see benches/gpu/run_on_h100.sh).
"""
import sys

import importlib.util
import types

import torch

# Import the op without running mamba_ssm/__init__.py, which pulls in the model classes and
# through them `transformers` (not installed on the offline device machine).
_spec = importlib.util.find_spec("mamba_ssm")
_pkg = types.ModuleType("mamba_ssm")
_pkg.__path__ = list(_spec.submodule_search_locations)
sys.modules["mamba_ssm"] = _pkg
from mamba_ssm.ops.selective_scan_interface import selective_scan_fn  # noqa: E402

HBM_BYTES_PER_S = 3.35e12
EXP_PER_S = 4.2e12
SHAPES = [(8, 2048, 2048, 16), (32, 4096, 256, 16), (64, 256, 256, 16), (2, 256, 512, 64)]


def inputs(b, l, d, n, dtype, dev):
    def uni(shape, lo, hi, dt=dtype):
        return (torch.rand(shape, device=dev) * (hi - lo) + lo).to(dt)

    return dict(
        u=uni((b, d, l), -1.0, 1.0),
        delta=uni((b, d, l), -4.5, -2.0),
        A=uni((d, n), -16.0, -1.0, torch.float32),
        B=uni((b, 1, n, l), -1.0, 1.0),
        C=uni((b, 1, n, l), -1.0, 1.0),
        D=uni((d,), 0.5, 1.5, torch.float32),
        z=uni((b, d, l), -1.0, 1.0),
        delta_bias=uni((d,), -1.0, 1.0, torch.float32),
    )


def time_call(iters, f):
    for _ in range(3):
        f()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        f()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1e3 / iters


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    dev = torch.device("cuda")
    print(f"# {torch.cuda.get_device_name(dev)}, torch {torch.__version__}")
    print("shape                      dtype pass  time_us   GB/s  floor_us  frac_of_roofline")
    for b, l, d, n in SHAPES:
        for dtype, size, name in [(torch.float32, 4.0, "fp32"), (torch.bfloat16, 2.0, "bf16")]:
            x = inputs(b, l, d, n, dtype, dev)
            elems = float(b * l * d)
            exps = elems * n
            bc_bytes = 2.0 * b * n * l * size
            fwd_bytes = elems * size * 4.0 + bc_bytes
            bwd_bytes = elems * size * 7.0 + 2.0 * bc_bytes

            def fwd():
                return selective_scan_fn(
                    x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], z=x["z"],
                    delta_bias=x["delta_bias"], delta_softplus=True,
                )

            with torch.no_grad():
                t_fwd = time_call(iters, fwd)
            leaves = {k: v.detach().requires_grad_(True) for k, v in x.items()}
            out = selective_scan_fn(
                leaves["u"], leaves["delta"], leaves["A"], leaves["B"], leaves["C"], leaves["D"],
                z=leaves["z"], delta_bias=leaves["delta_bias"], delta_softplus=True,
            )
            grad = torch.ones_like(out)
            order = list(leaves.values())

            def bwd():
                return torch.autograd.grad(out, order, grad, retain_graph=True)

            t_bwd = time_call(iters, bwd)
            for p, t, nbytes in [("fwd", t_fwd, fwd_bytes), ("bwd", t_bwd, bwd_bytes)]:
                floor = max(nbytes / HBM_BYTES_PER_S, exps / EXP_PER_S)
                print(
                    f"B{b:<3} L{l:<5} D{d:<5} N{n:<3} {name}  {p}  {t * 1e6:>8.1f} "
                    f"{nbytes / t / 1e9:>6.0f} {floor * 1e6:>8.1f}  {100.0 * floor / t:>5.1f}%"
                )
            del x, leaves, out, grad
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
