"""Benchmark flex_attention: a sliding window against dense masks, and no mods against flash.

Run from the repository root (see benchmarks/README.md)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_flex.py

Float32, B=1, H=8, E=Ev=64, the rows the issue asks for:

- **window**: ``flex_attention`` with ``mods.sliding_window(512)`` at L = S = 16384, against
  the same attention through torch's CPU ``scaled_dot_product_attention`` with the dense
  boolean mask (``L x S``), and against ``flash_attention`` on a dense problem with as many
  scores as the window leaves unmasked (L = 16384 queries by S = unmasked / L keys): the
  cost of the masking and of the partly masked tiles. With standard-normal queries and
  keys, with their norms 3 and 10 times larger (``--norms``), as trained models have them,
  and with grouped-query attention (8 query heads on 2 kv heads).
- **dense**: ``flex_attention`` with no mods against ``flash_attention`` at L = S = 4096.
- **memory**: the peak traced by tracemalloc during the window at L = S = 16384 (inputs
  excluded; the output, 32 MiB, included).

On a machine busier than its cores, BLAS threads wait for each other: run with
``OPENBLAS_NUM_THREADS=1`` there (torch then gets one thread too). Each timing is the median
of ``--repeat`` rounds, the implementations taking turns in each round
(``bench.time_rounds``); the ratios are of the medians. With ``--clock cpu`` each timing is
the CPU time of the process (all its threads, ``time.process_time``) instead of the wall
clock: on a machine shared with other work, which stretches wall times by up to twice from
one round to the next, the CPU time moves far less. This is a script, never a test:
timings depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout
sys.path.insert(0, str(HERE))

from bench import blas_threads, describe_machine, peak_traced, time_rounds  # noqa: E402

from attention_ref import flash_attention, flex_attention, mods  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

B, H, E = 1, 8, 64
WINDOW = 512
CLOCK = "wall"  # or "cpu": set by --clock


def timed_rounds(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """`bench.time_rounds` with the wall clock; with `--clock cpu`, the same rounds (each
    function warm, then timed, the functions taking turns) timed by the process's CPU time."""
    if CLOCK == "wall":
        return time_rounds(fns, repeat)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, f in fns.items():
            f()  # warm-up
            gc.collect()
            t0 = time.process_time()
            f()
            times[name].append(time.process_time() - t0)
    return times


def inputs(L: int, S: int, norm: float, seed: int = 0, hkv: int = H) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    q = (norm * rng.standard_normal((B, H, L, E))).astype(np.float32)
    k = (norm * rng.standard_normal((B, hkv, S, E))).astype(np.float32)
    v = rng.standard_normal((B, hkv, S, E)).astype(np.float32)
    return q, k, v


def window_rows(L: int, norm: float, repeat: int, with_torch: bool, hkv: int = H) -> None:
    window = mods.sliding_window(WINDOW)
    unmasked = sum(min(i + 1, WINDOW + 1) for i in range(L))  # per head
    S_eq = round(unmasked / L)
    q, k, v = inputs(L, L, norm, hkv=hkv)
    gqa = hkv != H
    fns = {
        "flex_attention, sliding_window(512)": lambda: flex_attention(
            q, k, v, mask_mod=window, enable_gqa=gqa
        ),
        f"flash_attention, dense {L} x {S_eq}": lambda: flash_attention(
            q, k[:, :, :S_eq], v[:, :, :S_eq], enable_gqa=gqa
        ),
    }
    if with_torch and torch is not None:
        idx = torch.arange(L)
        dense = (idx[None, :] <= idx[:, None]) & (idx[None, :] >= idx[:, None] - WINDOW)
        tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))

        def torch_dense() -> None:
            with torch.no_grad():
                torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=dense)

        fns["torch SDPA, dense bool mask"] = torch_dense
    times = timed_rounds(fns, repeat)
    med = {name: statistics.median(t) for name, t in times.items()}
    flex_t = med["flex_attention, sliding_window(512)"]
    heads = f", {H} query heads on {hkv} kv heads" if gqa else ""
    print(f"\nsliding window {WINDOW}, L = S = {L}, q and k norms x{norm:g}{heads}")
    for name, t in med.items():
        print(f"  {name:40s} {t:8.3f} s   flex / this = {flex_t / t:6.3f}")


def dense_rows(L: int, repeat: int) -> None:
    q, k, v = inputs(L, L, 1.0)
    times = timed_rounds(
        {
            "flex_attention, no mods": lambda: flex_attention(q, k, v),
            "flash_attention": lambda: flash_attention(q, k, v),
        },
        repeat,
    )
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"\ndense, L = S = {L}")
    for name, t in med.items():
        print(f"  {name:40s} {t:8.3f} s")
    print(f"  flex / flash = {med['flex_attention, no mods'] / med['flash_attention']:.3f}")


def memory_row(L: int) -> None:
    q, k, v = inputs(L, L, 1.0)
    window = mods.sliding_window(WINDOW)
    peak = peak_traced(lambda: flex_attention(q, k, v, mask_mod=window))
    out_mib = B * H * L * E * 4 / 2**20
    print(f"\npeak traced memory, sliding window, L = S = {L}: {peak:.1f} MiB "
          f"(of which the output: {out_mib:.0f} MiB)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="rounds per timing (median)")
    parser.add_argument("--length", type=int, default=16384, help="L = S of the window rows")
    parser.add_argument("--dense-length", type=int, default=4096, help="L = S of the dense rows")
    parser.add_argument("--no-torch", action="store_true", help="skip torch's dense-mask row")
    parser.add_argument(
        "--clock", choices=["wall", "cpu"], default="wall",
        help="wall clock, or the process's CPU time (steadier on a shared machine)",
    )  # fmt: skip
    parser.add_argument(
        "--norms", type=float, nargs="*", default=[3.0, 10.0],
        help="scales of q and k for more window rows (trained models' are several times 1)",
    )  # fmt: skip
    args = parser.parse_args()
    global CLOCK
    CLOCK = args.clock
    threads = int(os.environ.get("OPENBLAS_NUM_THREADS", 0)) or blas_threads()
    if torch is not None:
        torch.set_num_threads(threads)  # as many as NumPy's BLAS
    for line in describe_machine(threads):
        print(line)
    print(f"clock: {CLOCK}, median of {args.repeat} round(s)")
    memory_row(args.length)
    dense_rows(args.dense_length, args.repeat)
    window_rows(args.length, 1.0, args.repeat, with_torch=not args.no_torch)
    for norm in args.norms:
        window_rows(args.length, norm, args.repeat, with_torch=False)
    window_rows(args.length, 1.0, args.repeat, with_torch=False, hkv=2)


if __name__ == "__main__":
    main()
