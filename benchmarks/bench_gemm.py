"""The floor under every NumPy attention kernel: NumPy's matrix products against torch's.

Run from the repository root (see benchmarks/README.md)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_gemm.py

The tile engine (`attention_ref/_tiles.py`) spends most of its time in two products per
tile: the scores $[c\\,Q, -m]\\,[K, 1]^\\top$ and $P\\,[V, 1]$. This script times exactly those
shapes (and the same without the extra column) with NumPy's BLAS and with torch's, one
thread each, in one process, the two taking turns: the ratio is how much slower any kernel
built on NumPy's products must be than torch's fused attention, before anything else.
Needs torch (optional, not a dependency). A script to run by hand, never a test.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import describe_machine  # noqa: E402

# (rows, inner, columns, what): the engine's products at its tiles of 1024 x 256 and 2048 x
# 512 (E = 64; the extra column carries the shift, and the row sums)
SHAPES = [
    (1024, 65, 256, "scores, [cQ, -m] [K, 1]^T, 1024 x 256 tile"),
    (1024, 256, 65, "P [V, 1], 1024 x 256 tile"),
    (1024, 64, 256, "Q K^T without the shift column"),
    (1024, 256, 64, "P V without the sum column"),
    (2048, 65, 512, "scores, 2048 x 512 tile"),
    (2048, 512, 65, "P [V, 1], 2048 x 512 tile"),
]


def median_times(fns: list[Callable[[], object]], rounds: int) -> list[float]:
    """Median wall time of each function over `rounds` rounds, the functions taking turns."""
    for f in fns:
        f()  # warm-up
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for f, t in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            f()
            t.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def main() -> None:
    try:
        import torch
        from threadpoolctl import threadpool_limits
    except ImportError:
        sys.exit("bench_gemm.py needs torch and threadpoolctl (both optional)")
    torch.set_num_threads(1)
    for line in describe_machine(1):
        print(line)
    print("one thread each; median of 50 rounds, NumPy and torch taking turns\n")
    header = ("dtype", "product", "NumPy GFLOP/s", "torch GFLOP/s", "ratio")
    print("{:8s} {:44s} {:>14s} {:>14s} {:>6s}".format(*header))
    rng = np.random.default_rng(0)
    with threadpool_limits(1, user_api="blas"):
        for dtype in (np.float32, np.float64):
            for m, k, n, what in SHAPES:
                a = rng.standard_normal((m, k)).astype(dtype)
                b = rng.standard_normal((k, n)).astype(dtype)
                c = np.empty((m, n), dtype=dtype)
                ta, tb, tc = (torch.from_numpy(x) for x in (a, b, c))
                t_np, t_torch = median_times(
                    [partial(np.matmul, a, b, out=c), partial(torch.matmul, ta, tb, out=tc)], 50
                )
                flops = 2 * m * k * n
                print(
                    f"{np.dtype(dtype).name:8s} {what:44s} {flops / t_np / 1e9:14.0f} "
                    f"{flops / t_torch / 1e9:14.0f} {t_np / t_torch:6.2f}"
                )
    print("\nratio: NumPy's time / torch's time for the same product.")


if __name__ == "__main__":
    main()
