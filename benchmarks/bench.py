"""Benchmark attention_ref against torch, NumPy matmul and naive NumPy, on realistic inputs.

Run from the repository root (see benchmarks/README.md)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench.py

For float32 and float64, B=1, H=8, E=Ev=64 and L=S in {1024, 4096, 8192}, and for each input
case (queries and keys 1, 3 and 10 times standard normal; a float mask of N(0, 1) entries and
one of +-100 entries with some -inf; causal at 1, 3 and 10 times; grouped-query attention with
2 kv heads at 1 and 10 times), it prints one row per implementation: the median wall time of
``--repeat`` rounds (in each round every implementation runs in turn, a warm-up then the timed
run), the achieved GFLOP/s, the peak memory traced by tracemalloc during one more run (the
inputs excluded; torch's allocations are not traced), the time relative to torch on the CPU with
the same number of threads as NumPy's BLAS for the same inputs (the median of the rounds'
ratios, so both times of a ratio come from the same few seconds of a shared machine), and the
time relative to the same implementation on standard-normal inputs of the same family (the
"cliff" column: large inputs must not be slower).

A subset: ``--sizes 4096 --dtypes float32 --scales 1 10 --impls sdpa flash``; the cases by
name with ``--cases``.

FLOPs: a forward pass counts the two products, 4 L S E H. A backward pass counts them and the
backward's five, 4 + 10 = 14 L S E H, for ``sdpa_backward`` (which recomputes the forward) as
for torch's autograd (forward, then backward). Causal halves both.

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from attention_ref import flash_attention, scaled_dot_product_attention, sdpa_backward

try:  # the tile engine's thread count (absent before it existed, for before/after runs)
    from attention_ref._tiles import default_workers
except ImportError:  # pragma: no cover

    def default_workers() -> int:
        return 1


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
    workers = default_workers()
    lines.append(
        f"attention_ref: heads on {workers} thread(s)"
        + (", BLAS held at 1 thread meanwhile (threadpoolctl)" if workers > 1 else "")
    )
    if torch is not None:
        lines.append(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        lines.append("torch: not installed (no torch rows, no ratios)")
    return lines


@dataclass(frozen=True)
class Case:
    """One input family at one scale: what trained models feed attention, not only N(0, 1)."""

    name: str
    family: str  # the row this one's "x N(0,1)" column divides by: same family, factor 1
    factor: float = 1.0  # queries and keys are `factor` times standard normal
    mask: str | None = None  # "float": N(0, 1) entries; "large": N(0, 100) entries, 10% -inf
    causal: bool = False
    Hkv: int = H  # fewer than H: grouped-query attention


CASES = {
    c.name: c
    for c in [
        Case("x1", "plain"),
        Case("x3", "plain", factor=3.0),
        Case("x10", "plain", factor=10.0),
        Case("float mask", "mask", mask="float"),
        Case("float mask +-100", "mask", mask="large"),
        Case("causal x1", "causal", causal=True),
        Case("causal x3", "causal", factor=3.0, causal=True),
        Case("causal x10", "causal", factor=10.0, causal=True),
        Case("gqa x1", "gqa", Hkv=2),
        Case("gqa x10", "gqa", factor=10.0, Hkv=2),
    ]
}


def inputs(case: Case, dtype: np.dtype, L: int) -> dict[str, np.ndarray | None]:
    """query (B, H, L, E), key and value (B, Hkv, S, E), grad_output, and the mask or None."""
    S = L
    rng = np.random.default_rng(0)
    q = (case.factor * rng.standard_normal((B, H, L, E))).astype(dtype)
    k = (case.factor * rng.standard_normal((B, case.Hkv, S, E))).astype(dtype)
    v = rng.standard_normal((B, case.Hkv, S, E)).astype(dtype)
    d_out = rng.standard_normal((B, H, L, E)).astype(dtype)
    mask = None
    if case.mask == "float":
        mask = rng.standard_normal((L, S)).astype(dtype)
    elif case.mask == "large":  # an additive bias of +-100s, and some keys forbidden
        mask = (100.0 * rng.standard_normal((L, S))).astype(dtype)
        mask[rng.random((L, S)) < 0.1] = -np.inf
    return {"q": q, "k": k, "v": v, "d_out": d_out, "mask": mask}


def bench_case(
    dtype: np.dtype, L: int, case: Case, repeat: int, use_torch: bool, impls: set[str]
) -> dict[str, float]:
    """Time every implementation on one case; print its rows; return the median times."""
    S = L
    x = inputs(case, dtype, L)
    q, k, v, d_out, mask = x["q"], x["k"], x["v"], x["d_out"], x["mask"]
    kw = {"attn_mask": mask, "is_causal": case.causal, "enable_gqa": case.Hkv != H}
    flops_fwd = 4 * L * S * E * H // (2 if case.causal else 1)
    flops_bwd = 14 * L * S * E * H // (2 if case.causal else 1)
    # (name, function or None when skipped, flops, the torch row it is compared with)
    rows: list[tuple[str, Callable[[], object] | None, int, str | None]] = []
    if "matmul" in impls and case.name == "x1":
        rows.append(("numpy matmul only (the limit)", matmul_limit(q, k, v), flops_fwd, None))
    if "sdpa" in impls:
        sdpa = ("scaled_dot_product_attention", lambda: scaled_dot_product_attention(q, k, v, **kw))
        rows.append((*sdpa, flops_fwd, "torch sdpa"))
    if "flash" in impls:
        rows.append(
            ("flash_attention", lambda: flash_attention(q, k, v, **kw), flops_fwd, "torch sdpa")
        )
    if "naive" in impls and case.name == "x1":
        # The scores, then a new array at each step (scaled, shifted, exp, normalised):
        # measured at 12 GiB for float32 at L = S = 8192, six H x L x S arrays.
        naive_bytes = 6 * B * H * L * S * dtype.itemsize
        if naive_bytes < 0.75 * available_bytes():
            naive = (
                "naive NumPy (3 lines)",
                lambda: naive_attention(q, k, v),
                flops_fwd,
                "torch sdpa",
            )
        else:
            naive = (f"naive NumPy: skipped, needs ~{naive_bytes // MiB} MiB", None, 0, None)
        rows.append(naive)
    if "backward" in impls:
        bwd = ("sdpa_backward (recomputes fwd)", lambda: sdpa_backward(d_out, q, k, v, **kw))
        rows.append((*bwd, flops_bwd, "torch autograd (fwd + bwd)"))
    if use_torch:
        tq, tk, tv, tg = (torch.from_numpy(a) for a in (q, k, v, d_out))
        tkw = {
            "attn_mask": None if mask is None else torch.from_numpy(mask),
            "is_causal": case.causal,
            "enable_gqa": case.Hkv != H,
        }
        gq, gk, gv = (t.clone().requires_grad_() for t in (tq, tk, tv))

        def torch_sdpa() -> None:
            with torch.no_grad():
                torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **tkw)

        def torch_autograd() -> None:
            out = torch.nn.functional.scaled_dot_product_attention(gq, gk, gv, **tkw)
            out.backward(tg)
            gq.grad = gk.grad = gv.grad = None

        if impls & {"sdpa", "flash", "naive"}:
            rows.append(("torch sdpa", torch_sdpa, flops_fwd, None))
        if "backward" in impls:
            rows.append(("torch autograd (fwd + bwd)", torch_autograd, flops_bwd, None))

    runs = time_rounds({name: f for name, f, _, _ in rows if f is not None}, repeat)
    timings = {name: statistics.median(t) for name, t in runs.items()}
    peaks = {
        name: peak_traced(f)
        for name, f, _, _ in rows
        if f is not None and not name.startswith("torch")
    }
    for name, f, flops, ref in rows:
        if f is None:
            print(f"{dtype.name:8} {L:>5}  {case.name:17} {name}")
            continue
        t = timings[name]
        # the median of the rounds' ratios: both times of a ratio were taken seconds apart
        ratios = [a / b for a, b in zip(runs[name], runs.get(ref, []), strict=False)]
        ratio = f"{statistics.median(ratios):.2f}" if ratios else ""
        base = BASELINES.get((dtype.name, L, case.family, name))
        cliff = f"{t / base:.2f}" if base else ""
        peak = f"{peaks[name]:.1f}" if name in peaks else "n/a"
        print(
            f"{dtype.name:8} {L:>5}  {case.name:17} {name:31} {1e3 * t:>10.1f} "
            f"{flops / t / 1e9:>8.1f} {peak:>9} {ratio:>8} {cliff:>8}",
            flush=True,
        )
    print()
    return timings


def _is_baseline(case: Case) -> bool:
    """Standard-normal queries and keys (and a mask, if any, of N(0, 1) entries)."""
    return case.factor == 1.0 and case.mask != "large"


#: (dtype, L, family, implementation) -> its median time on the family's baseline case.
BASELINES: dict[tuple[str, int, str, str], float] = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 8192])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument(
        "--cases",
        nargs="+",
        default=list(CASES),
        choices=list(CASES),
        metavar="CASE",
        help="input cases (default: all): " + ", ".join(f"'{c}'" for c in CASES),
    )
    parser.add_argument(
        "--scales",
        type=float,
        nargs="+",
        help="keep only the cases whose queries and keys have these factors (e.g. 1 10)",
    )
    parser.add_argument(
        "--impls",
        nargs="+",
        default=["matmul", "sdpa", "flash", "naive", "backward"],
        choices=["matmul", "sdpa", "flash", "naive", "backward"],
        help="implementations to time (torch's matching rows come with them)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per row (median)")
    parser.add_argument("--no-torch", action="store_true", help="leave torch out")
    args = parser.parse_args()

    cases = [CASES[c] for c in args.cases]
    if args.scales:
        cases = [c for c in cases if c.factor in args.scales]
    # each family's factor-1 case runs first: it is the baseline of the "x N(0,1)" column
    cases.sort(key=lambda c: list(CASES.values()).index(CASES[c.name]) if c.factor == 1 else 99)
    threads = blas_threads()
    use_torch = torch is not None and not args.no_torch
    if use_torch:
        torch.set_num_threads(threads)
    print("\n".join(describe_machine(threads)))
    print(
        f"B={B}, H={H} (gqa: Hkv=2), E=Ev={E}; median of {args.repeat} rounds "
        "(each: warm-up, timed run)\n"
    )
    header = (
        f"{'dtype':8} {'L=S':>5}  {'case':17} {'implementation':31} {'median ms':>10} "
        f"{'GFLOP/s':>8} {'peak MiB':>9} {'x torch':>8} {'x N(0,1)':>8}"
    )
    print(header)
    print("-" * len(header))
    for dtype_name in args.dtypes:
        for L in args.sizes:
            for case in cases:
                timings = bench_case(
                    np.dtype(dtype_name), L, case, args.repeat, use_torch, set(args.impls)
                )
                if _is_baseline(case):
                    for name, t in timings.items():
                        BASELINES[(dtype_name, L, case.family, name)] = t
                gc.collect()
    print("Cases: queries and keys are 'xN' times standard normal (trained models' are several")
    print("times larger than N(0,1)); 'float mask' adds N(0,1) entries, 'float mask +-100' adds")
    print("N(0,100^2) entries with 10% -inf; causal is top-left; gqa has Hkv=2 kv heads for H=8.")
    print("x torch: time / torch's time for the same work and inputs (forward rows: torch sdpa;")
    print("backward: torch autograd, forward + backward), the median of the rounds' ratios.")
    print("x N(0,1): time / the same implementation's time on its family's x1 case (plain,")
    print("float mask, causal or gqa) in this run: 1.00 means no cliff on large inputs.")
    print("GFLOP/s counts 4 L S E H (forward) or 14 L S E H (backward), halved under causal.")
    print("Peak MiB: tracemalloc during one run, inputs excluded (n/a for torch).")
    print(f"Load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
