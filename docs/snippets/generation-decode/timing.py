# Wall-clock time of one new token at S = 512, with and without the cache
# (best of 3).
# Not printed: timings differ from build to build, and the page must not.
# Asserted instead.
import time


def best_of(f, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


tokens = rng.integers(0, model.vocab, size=(1, 512))
caches = model.new_caches()
model.forward(tokens[:, :-1], caches)  # prefill 511 positions
# S grows by 1 per call
t_cache = best_of(lambda: model.forward(tokens[:, -1:], caches))
t_recompute = best_of(lambda: model.forward(tokens))
assert t_recompute > 5 * t_cache, (t_recompute, t_cache)
print("one new token at S = 512:",
      "recomputing takes over 5 times the cached step")
