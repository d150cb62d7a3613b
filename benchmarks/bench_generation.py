"""Benchmark generation: a decode step, KVCache.update, and paged_attention.

Run from the repository root (see README.md in this folder for why `env -u`):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_generation.py

Three tables, float32, the shapes of a Llama-3-8B-like layer (H=32 query heads, Hkv=8
key/value heads, E=Ev=128) with a batch of B=4 sequences:

1. **One decode step** at S=32768 cached positions (L=1): `scaled_dot_product_attention`
   with `enable_gqa=True`, `paged_attention` on the same keys and values stored in shuffled
   blocks of 16, against torch's CPU `scaled_dot_product_attention` (same shapes, same thread
   count). The ratio is each time divided by torch's.
2. **`paged_attention` against contiguous attention** on the same data: the ratio to this
   package's `scaled_dot_product_attention` and to torch's.
3. **`KVCache.update` of one token** (B=4, Hkv=8, E=128) with S = 1k to 32k positions
   cached, for three caches whose update returns all S of them: unbounded, a window of S
   (`window=S`), and a window of S with 4 sinks (`window=S, sink_tokens=4`: S + 4 rows). For
   each S a fresh cache is filled (untimed) so that the next S single-token updates include
   exactly one move of the buffer (the unbounded cache's doubling, the window's new buffer,
   the sinks' move back to the front); the table gives the mean time per token over those S
   updates (the amortised cost, move included), the median (an append) and the maximum (the
   move), and counts the moves seen through the returned views' addresses. Flat in S means
   O(1) per token: no copy of the cache per update.

torch runs in a child process (this script with `--torch`), on the same data regenerated from
the same seed: in one process, torch's idle OpenMP threads slowed NumPy's BLAS down several
times on the 2-core machine this was written on. Queries and keys are drawn with norms like
a trained model's (several times a standard normal's), see `realistic`.

Timings are the median of `--repeat` runs after a warm-up. On a shared machine they drift;
the header prints the load average. This is a script to run by hand, never a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from attention_ref import KVCache

B, H, HKV, E = 4, 32, 8, 128
S_DECODE = 32768
BLOCK_SIZE = 16
SEED = 0


def realistic(rng: np.random.Generator, shape: tuple[int, ...], norm: float) -> np.ndarray:
    """float32 rows with a common direction plus noise, scaled to about `norm` per row:
    trained queries and keys are larger than standard normal and correlated."""
    x = rng.standard_normal(shape, dtype=np.float32)
    x += 0.5 * rng.standard_normal(shape[-1:], dtype=np.float32)  # a shared direction
    x *= np.float32(norm / np.sqrt(shape[-1] * 1.25))
    return x


def decode_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    q = realistic(rng, (B, H, 1, E), 30.0)  # (B, H, L=1, E)
    k = realistic(rng, (B, HKV, S_DECODE, E), 30.0)  # (B, Hkv, S, E)
    v = rng.standard_normal((B, HKV, S_DECODE, E), dtype=np.float32)  # (B, Hkv, S, Ev)
    return q, k, v


def timed(f: Callable[[], Any], repeat: int) -> float:
    f()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def torch_child(repeat: int) -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    q, k, v = (torch.from_numpy(a) for a in decode_data())
    sdpa = torch.nn.functional.scaled_dot_product_attention
    with torch.no_grad():
        t = timed(lambda: sdpa(q, k, v, enable_gqa=True), repeat)
    info = {"torch": t, "version": torch.__version__, "threads": torch.get_num_threads()}
    print(json.dumps(info))


def paged_layout(
    k: np.ndarray, v: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The contiguous (B, Hkv, S, E) cache stored in shuffled blocks of one pool."""
    S = k.shape[2]
    per_seq = S // BLOCK_SIZE
    tables = rng.permutation(B * per_seq).reshape(B, per_seq)  # (N, max_blocks)
    key_cache = np.empty((B * per_seq, BLOCK_SIZE, HKV, E), dtype=k.dtype)
    value_cache = np.empty_like(key_cache)
    for b in range(B):
        # (Hkv, S, E) -> (S, Hkv, E) -> (blocks, block_size, Hkv, E)
        key_cache[tables[b]] = k[b].transpose(1, 0, 2).reshape(per_seq, BLOCK_SIZE, HKV, E)
        value_cache[tables[b]] = v[b].transpose(1, 0, 2).reshape(per_seq, BLOCK_SIZE, HKV, E)
    return key_cache, value_cache, tables, np.full(B, S)


def numpy_decode(repeat: int) -> tuple[float, float, float]:
    """Times of SDPA and paged_attention, and their largest difference."""
    import attention_ref as ar

    q, k, v = decode_data()
    pool = paged_layout(k, v, np.random.default_rng(SEED + 1))
    t_sdpa = timed(lambda: ar.scaled_dot_product_attention(q, k, v, enable_gqa=True), repeat)
    t_paged = timed(lambda: ar.paged_attention(q[:, :, 0], *pool), repeat)
    out = ar.paged_attention(q[:, :, 0], *pool)
    ref = ar.scaled_dot_product_attention(q, k, v, enable_gqa=True)[:, :, 0]
    return t_sdpa, t_paged, float(np.max(np.abs(out - ref)))


def bench_decode(repeat: int, use_torch: bool) -> None:
    t_sdpa, t_paged, err = numpy_decode(repeat)  # its 2 GB of arrays are freed on return
    t_torch = None
    if use_torch:
        env = dict(os.environ, BENCH_THREADS=str(blas_threads()))
        child = subprocess.run(
            [sys.executable, __file__, "--torch", "--repeat", str(repeat)],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        if child.returncode == 0:
            info = json.loads(child.stdout.strip().splitlines()[-1])
            t_torch = info["torch"]
            print(f"torch {info['version']}, {info['threads']} threads (child process)")
        else:
            print("torch: not available in the child process:", child.stderr.strip()[-300:])
    gb = 2 * B * HKV * S_DECODE * E * 4 / 1e9  # bytes of the cache read by one step
    print(f"\n1. One decode step, B={B} H={H} Hkv={HKV} E={E} S={S_DECODE} float32, L=1")
    print(f"   (the step reads {gb:.2f} GB of keys and values)")
    print(f"   {'':<40}{'median':>10}{'GB/s':>8}{'/ torch':>9}")
    rows = [("torch sdpa (enable_gqa)", t_torch), ("scaled_dot_product_attention", t_sdpa),
            ("paged_attention (blocks of 16)", t_paged)]  # fmt: skip
    for name, t in rows:
        if t is None:
            continue
        ratio = f"{t / t_torch:8.2f}x" if t_torch else ""
        print(f"   {name:<40}{t * 1e3:8.1f}ms{gb / t:8.1f}{ratio}")
    print(f"   paged vs contiguous: max |difference| {err:.2e}")
    print("\n2. paged_attention against contiguous attention on the same data")
    print(f"   / scaled_dot_product_attention: {t_paged / t_sdpa:.2f}x (target <= 1.5x)")
    if t_torch:
        print(f"   / torch sdpa:                   {t_paged / t_torch:.2f}x")


def time_updates(
    cache: KVCache, S: int, chunk: np.ndarray, one: np.ndarray
) -> tuple[float, float, float, int, int]:
    """Fill `cache` to S positions (plus one more for a window, so that the S timed updates
    include a move), then time S single-token updates. Returns mean, median, max (seconds),
    the moves seen, and the rows the last update returned."""
    fill = S if cache.window is None else S + cache.sink_tokens + 1
    while cache.length < fill:  # untimed, in chunks of at most len(chunk) positions
        T = min(chunk.shape[2], fill - cache.length)
        keys, _ = cache.update(chunk[:, :, :T], chunk[:, :, :T])
    times, moves, address = [], 0, keys.__array_interface__["data"][0]
    for _ in range(S):
        t0 = time.perf_counter()
        keys, _ = cache.update(one, one)
        times.append(time.perf_counter() - t0)
        # the view either stays (unbounded) or slides by one row (window); else it moved
        now = keys.__array_interface__["data"][0]
        moves += now - address not in (0, keys.strides[2])
        address = now
    rows = keys.shape[2]
    return sum(times) / S, statistics.median(times), max(times), moves, rows


def bench_cache(sizes: list[int]) -> None:
    import attention_ref as ar

    print(f"\n3. KVCache.update of one token, B={B} Hkv={HKV} E={E} float32, S positions cached")
    print("   mean = the S updates' total time / S (amortised, the move included);")
    print("   median = an append; max = the slowest update (the move). Times in microseconds.")
    print("   rows = keys returned by the last update; moves = buffer moves in the S updates.")
    chunk = np.zeros((B, HKV, 1024, E), dtype=np.float32)  # prefill, 1024 positions at a time
    one = np.ones((B, HKV, 1, E), dtype=np.float32)
    kinds = {
        "unbounded": lambda S: ar.KVCache(),
        "window=S": lambda S: ar.KVCache(window=S),
        "window=S, 4 sinks": lambda S: ar.KVCache(window=S, sink_tokens=4),
    }
    header = f"{'mean':>8}{'median':>8}{'max':>9}{'moves':>6}"
    print(f"   {'':>8}" + "".join(f"  {name:^31}" for name in kinds))
    print(f"   {'S':>8}" + f"  {'rows':>6}{header}" * len(kinds))
    for S in sizes:
        line = f"   {S:>8}"
        for make in kinds.values():
            cache = make(S)
            mean, median, worst, moves, rows = time_updates(cache, S, chunk, one)
            del cache  # up to 2 GB at S = 32k: one cache at a time
            line += f"  {rows:>6}{mean * 1e6:8.1f}{median * 1e6:8.1f}{worst * 1e6:9.0f}{moves:6d}"
        print(line, flush=True)


def blas_threads() -> int:
    try:
        import threadpoolctl

        for info in threadpoolctl.threadpool_info():
            if info.get("user_api") == "blas":
                return int(info["num_threads"])
    except ImportError:
        pass
    return int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count() or 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--only", choices=["decode", "cache"], help="run one part only")
    parser.add_argument(
        "--cache-sizes", type=int, nargs="+", default=[1024, 2048, 4096, 8192, 16384, 32768],
        help="positions cached (S) for the KVCache.update table",
    )  # fmt: skip
    parser.add_argument("--torch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch:
        torch_child(args.repeat)
        return
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
          f"NumPy {np.__version__}, BLAS threads {blas_threads()}")  # fmt: skip
    if args.only != "cache":
        bench_decode(args.repeat, not args.no_torch)
    if args.only != "decode":
        bench_cache(args.cache_sizes)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
