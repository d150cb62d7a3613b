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
3. **`KVCache.update` of one token** (B=4, Hkv=8, E=128) as the cache grows from 1k to 32k
   positions: the mean time per token over each doubling (which includes the one
   reallocation of that doubling: the amortised cost) and the median (an append without a
   reallocation). Flat in S means O(1) per token. Also a window of 4096 (views, a new buffer
   every 4096 tokens: flat), and a window of 4096 with 4 sinks, whose update returns a copy
   of the 4100 kept rows (flat in S once the window is full, but proportional to it).

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

import numpy as np

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


def timed(f, repeat: int) -> float:
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


def paged_layout(k: np.ndarray, v: np.ndarray, rng: np.random.Generator):
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


def bench_cache() -> None:
    import attention_ref as ar

    rng = np.random.default_rng(SEED)
    print(f"\n3. KVCache.update of one token, B={B} Hkv={HKV} E={E} float32 (us per token)")
    print("   mean = the interval's total time / its tokens (amortised, with the reallocation);")
    print("   median = a typical append; max = the slowest append (the reallocation).")
    print(f"   {'positions cached':<18}{'unbounded: mean':>16}{'median':>8}{'max':>10}"
          f"{'window 4096: mean':>19}{'+ 4 sinks: mean':>17}")  # fmt: skip
    one_k = rng.standard_normal((B, HKV, 1, E), dtype=np.float32)
    one_v = rng.standard_normal((B, HKV, 1, E), dtype=np.float32)
    caches = {
        "unbounded": ar.KVCache(),
        "window": ar.KVCache(window=4096),
        "sinks": ar.KVCache(window=4096, sink_tokens=4),
    }
    S = 1024
    for cache in caches.values():  # the first 1024 positions, untimed
        cache.update(*(rng.standard_normal((B, HKV, S, E), dtype=np.float32) for _ in "kv"))
    while S < S_DECODE:
        row = {}
        for name, cache in caches.items():
            # every token from S to 2 S (one reallocation of the unbounded cache, and of the
            # window's every 4096 tokens) for the views; the sinks' copies are slow: 64 tokens
            times = []
            for _ in range(S if name != "sinks" else 64):
                t0 = time.perf_counter()
                cache.update(one_k, one_v)
                times.append(time.perf_counter() - t0)
            if name == "sinks":  # catch up with the others, untimed, one chunk
                fill = S - 64
                cache.update(*(np.zeros((B, HKV, fill, E), dtype=np.float32) for _ in "kv"))
            row[name] = (sum(times) / len(times), statistics.median(times), max(times))
        S *= 2
        print(f"   {f'{S // 2} -> {S}':<18}{row['unbounded'][0] * 1e6:16.1f}"
              f"{row['unbounded'][1] * 1e6:8.1f}{row['unbounded'][2] * 1e6:10.0f}"
              f"{row['window'][0] * 1e6:19.1f}{row['sinks'][0] * 1e6:17.1f}")  # fmt: skip


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
        bench_cache()
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
