"""Benchmark attention_ref against a naive NumPy version, NumPy's matmul and (if installed) torch.

Run from the repository root (see benchmarks/README.md)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench.py

For float32 and float64, B=1, H=8, E=Ev=64 and L=S in {1024, 4096, 8192}, it prints one row
per implementation: the median wall time of ``--repeat`` rounds (in each round every
implementation runs in turn, a warm-up then the timed run), the achieved
GFLOP/s, that as a percentage of NumPy's own matmul throughput on the same products (the
limit: two matrix products and nothing else), the peak memory traced by tracemalloc during one
more run (the inputs excluded; torch's allocations are not traced), and the time relative to
torch on the CPU with the same number of threads as NumPy's BLAS (the median of the rounds'
ratios, so both times of a ratio come from the same few seconds of a shared machine).

FLOPs: a forward pass counts the two products, 4 L S E H. A backward pass counts them and the
backward's five, 4 + 10 = 14 L S E H, for ``sdpa_backward`` (which recomputes the forward) as
for torch's autograd (forward, then backward).

This is a script, never a test: timings depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from attention_ref import flash_attention, scaled_dot_product_attention, sdpa_backward

try:  # optional: torch is the reference point, threadpoolctl tells which BLAS kernel runs
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None
try:
    import threadpoolctl
except ImportError:  # pragma: no cover
    threadpoolctl = None

B, H, E = 1, 8, 64
MiB = 2**20


def naive_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Attention in three lines of NumPy, as it is usually first written."""
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (probs / probs.sum(axis=-1, keepdims=True)) @ v


def matmul_limit(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> Callable[[], None]:
    """The two products of attention and nothing else, one head at a time in one buffer."""
    L, S = q.shape[-2], k.shape[-2]
    scores = np.empty((L, S), dtype=q.dtype)
    out = np.empty((L, v.shape[-1]), dtype=q.dtype)

    def run() -> None:
        for h in range(q.shape[1]):
            np.matmul(q[0, h], k[0, h].T, out=scores)
            np.matmul(scores, v[0, h], out=out)

    return run


def time_rounds(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Wall times of every function, `repeat` rounds, the functions taking turns in each round.

    In a round each function runs twice, untimed then timed, one after the other: the timed
    run starts warm (its caches, and the thread pool of whichever library it calls), and
    every function of a round meets the same machine. On a shared machine the speed drifts
    over tens of seconds; one function timed five times in a row, then the next, would put
    that drift into their ratio.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, f in fns.items():
            f()  # warm-up
            gc.collect()
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    return times


def peak_traced(f: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        f()
        return tracemalloc.get_traced_memory()[1] / MiB
    finally:
        tracemalloc.stop()


def available_bytes() -> int:
    """MemAvailable from /proc/meminfo (Linux), or a large number elsewhere."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover
        pass
    return 2**62


def blas_threads() -> int:
    if threadpoolctl is not None:
        for info in threadpoolctl.threadpool_info():
            if info.get("user_api") == "blas":
                return int(info["num_threads"])
    return os.cpu_count() or 1


def describe_machine(threads: int) -> list[str]:
    lines = [
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"load average {os.getloadavg()[0]:.2f} (other processes slow two-thread BLAS down)",
        "OPENBLAS_CORETYPE="
        + os.environ.get("OPENBLAS_CORETYPE", "(unset)")
        + ", OPENBLAS_L2_SIZE="
        + os.environ.get("OPENBLAS_L2_SIZE", "(unset)"),
    ]
    if threadpoolctl is not None:
        for info in threadpoolctl.threadpool_info():
            lines.append(
                f"{info.get('user_api')}: {info.get('internal_api')} {info.get('version')}, "
                f"kernel {info.get('architecture')}, {info.get('num_threads')} threads"
            )
    else:
        lines.append(f"BLAS threads: {threads} (pip install threadpoolctl to see the kernel)")
    if torch is not None:
        lines.append(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        lines.append("torch: not installed (no torch rows, no ratios)")
    return lines


def bench_size(dtype: np.dtype, L: int, repeat: int, use_torch: bool) -> None:
    """Time every implementation on one dtype and one length L = S; print their rows."""
    S = L
    rng = np.random.default_rng(0)
    q, k, v, d_out = (rng.standard_normal((B, H, n, E)).astype(dtype) for n in (L, S, S, L))
    flops_fwd = 4 * L * S * E * H
    flops_bwd = 14 * L * S * E * H
    # (name, function or None when skipped, flops, the torch row it is compared with)
    rows: list[tuple[str, Callable[[], object] | None, int, str | None]] = [
        ("numpy matmul only (the limit)", matmul_limit(q, k, v), flops_fwd, None),
        (
            "scaled_dot_product_attention",
            lambda: scaled_dot_product_attention(q, k, v),
            flops_fwd,
            "torch sdpa",
        ),
        ("flash_attention", lambda: flash_attention(q, k, v), flops_fwd, "torch sdpa"),
    ]
    # The scores, then a new array at each step (scaled, shifted, exp, normalised): measured
    # at 12 GiB for float32 at L = S = 8192, six H x L x S arrays.
    naive_bytes = 6 * B * H * L * S * dtype.itemsize
    if naive_bytes < 0.75 * available_bytes():
        naive = ("naive NumPy (3 lines)", lambda: naive_attention(q, k, v), flops_fwd, "torch sdpa")
    else:
        naive = (f"naive NumPy: skipped, needs ~{naive_bytes // MiB} MiB", None, 0, None)
    rows.append(naive)
    rows.append(
        (
            "sdpa_backward (recomputes fwd)",
            lambda: sdpa_backward(d_out, q, k, v),
            flops_bwd,
            "torch autograd (fwd + bwd)",
        )
    )
    if use_torch:
        tq, tk, tv, tg = (torch.from_numpy(a) for a in (q, k, v, d_out))
        gq, gk, gv = (t.clone().requires_grad_() for t in (tq, tk, tv))

        def torch_sdpa() -> None:
            with torch.no_grad():
                torch.nn.functional.scaled_dot_product_attention(tq, tk, tv)

        def torch_autograd() -> None:
            out = torch.nn.functional.scaled_dot_product_attention(gq, gk, gv)
            out.backward(tg)
            gq.grad = gk.grad = gv.grad = None

        rows.append(("torch sdpa", torch_sdpa, flops_fwd, None))
        rows.append(("torch autograd (fwd + bwd)", torch_autograd, flops_bwd, None))

    runs = time_rounds({name: f for name, f, _, _ in rows if f is not None}, repeat)
    timings = {name: statistics.median(t) for name, t in runs.items()}
    peaks = {
        name: peak_traced(f)
        for name, f, _, _ in rows
        if f is not None and not name.startswith("torch")
    }
    limit_gflops = flops_fwd / timings["numpy matmul only (the limit)"] / 1e9
    for name, f, flops, ref in rows:
        if f is None:
            print(f"{dtype.name:8} {L:>5}  {name}")
            continue
        t = timings[name]
        gflops = flops / t / 1e9
        # the median of the rounds' ratios: both times of a ratio were taken seconds apart
        ratios = [a / b for a, b in zip(runs[name], runs.get(ref, []), strict=False)]
        ratio = f"{statistics.median(ratios):.2f}" if ratios else ""
        peak = f"{peaks[name]:.1f}" if name in peaks else "n/a"
        print(
            f"{dtype.name:8} {L:>5}  {name:34} {1e3 * t:>10.1f} {gflops:>8.1f} "
            f"{100 * gflops / limit_gflops:>7.0f}% {peak:>9} {ratio:>8}",
            flush=True,
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 8192])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per row (median)")
    parser.add_argument("--no-torch", action="store_true", help="leave torch out")
    args = parser.parse_args()

    threads = blas_threads()
    use_torch = torch is not None and not args.no_torch
    if use_torch:
        torch.set_num_threads(threads)
    print("\n".join(describe_machine(threads)))
    print(f"B={B}, H={H}, E=Ev={E}; median of {args.repeat} rounds (each: warm-up, timed run)\n")
    header = (
        f"{'dtype':8} {'L=S':>5}  {'implementation':34} {'median ms':>10} {'GFLOP/s':>8} "
        f"{'% matmul':>8} {'peak MiB':>9} {'x torch':>8}"
    )
    print(header)
    print("-" * len(header))
    for dtype_name in args.dtypes:
        for L in args.sizes:
            bench_size(np.dtype(dtype_name), L, args.repeat, use_torch)
            gc.collect()
    print("x torch: time / torch's time for the same work (forward rows: torch sdpa; backward:")
    print("torch autograd, forward + backward), the median of the rounds' ratios.")
    print("% matmul: GFLOP/s / the matmul-only GFLOP/s.")
    print("Peak MiB: tracemalloc during one run, inputs excluded (n/a for torch).")
    print(f"Load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
