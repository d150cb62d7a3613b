r"""The key/value cache of autoregressive decoding, unbounded or with a window and sinks.

A decoder generates one token at a time, and each new token's query attends to the keys and
values of every earlier token. Those never change once computed, so a decoder keeps them:
`KVCache.update` appends the newest positions' keys and values and returns everything the
next queries may attend. With `window=W` only the last `W` positions are kept, plus the first
`sink_tokens` ("attention sinks", Xiao et al. 2024, StreamingLLM).

Storage (the cost of an update does not grow with the length of the cache):

- **Unbounded, or a window without sinks: views that never change.** One buffer per
  tensor, `(B, Hkv, capacity, E)`, filled left to right. When it is full, a *new* buffer is
  allocated and the rows still kept are copied into it once: all of them into twice the
  capacity (unbounded), or the last `W` into a buffer of `2 W` rows (window), so appending
  `T` positions costs amortised $O(T)$. The arrays returned are read-only *views* of the
  kept rows. A buffer's rows are written once, beyond every view handed out so far, and a
  full buffer is replaced, never overwritten, so a view returned at step $t$ never changes.
- **A window with sinks: views valid until the next update.** The keys returned must be
  the `n = sink_tokens` sinks immediately followed by a window that moves one row per
  token, so consecutive steps cannot both be contiguous slices of rows that are never
  rewritten (the sinks would have to sit inside the previous step's window). As the
  `StaticCache` of Hugging Face Transformers does, the cache therefore hands out its own
  storage and updates it in place. One buffer of `n + 2 W` rows is laid out
  `[sinks copy][window]`: each update writes its new rows after the window, then copies
  the `n` sinks (from a master copy kept apart, never overwritten) into the rows just
  before the window's new start, and returns a read-only view of those rows (`n + W`
  once the window is full): $O(n + T)$ per update. When the window reaches the buffer's
  end, the rows still kept (fewer than `W`) are moved back to the front once, every `W`
  or more positions, so the cost is amortised $O(n + T)$. **The next update may
  overwrite the view** (the sinks' new copy lands on the rows the previous window began
  with, and a move to the front writes over older rows): use it before the next update,
  or keep a copy (`keys.copy()`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array, check_int

#: Rows allocated by the first update of an unbounded cache, at least (then doubled as needed).
MIN_CAPACITY = 16


class KVCache:
    r"""The keys and values a decoder has computed so far, for its next queries.

    `update(key, value)` appends the `T` newest positions and returns the keys and values the
    next queries may attend, in position order: every position so far, or, with
    `window=W`, the first `sink_tokens` positions plus the last `W`
    ([StreamingLLM](https://arxiv.org/abs/2309.17453)). `positions` holds the absolute
    positions of the returned rows (for RoPE and masks), `length` the number of positions
    seen.

    Shapes:
        `B` batch, `Hkv` key/value heads, `T` positions appended by one update, `S` positions
        returned, `E` key head size, `Ev` value head size.

    Parameters
    ----------
    window : int, optional
        Keep only the last `window` positions (plus the sinks). `None` (the default) keeps
        every position. At least 1.
    sink_tokens : int, default 0
        With a window: also keep the first `sink_tokens` positions forever. Needs `window`.

    Attributes
    ----------
    window : int or None
        As given.
    sink_tokens : int
        As given.
    length : int
        Positions appended so far (the absolute position of the next one).
    positions : ndarray of int64 of shape (S,)
        The absolute positions of the keys and values the last `update` returned (and the
        next one will return, before its own positions are added).

    Raises
    ------
    TypeError
        If `window` or `sink_tokens` is not an integer.
    ValueError
        If `window < 1`, `sink_tokens < 0`, or `sink_tokens > 0` without a window.

    See Also
    --------
    paged_attention : the same cache, stored in blocks shared by many sequences.
    scaled_dot_product_attention : what the returned keys and values are fed to.

    Notes
    -----
    **Which rows a query may attend.** Decoding a chunk of `T` queries (positions
    `length - T ... length - 1` after the update) against the `S` returned keys of an
    unbounded cache, the causal mask is aligned bottom-right: chunk row $i$ may attend key
    $j$ iff $j \le S - T + i$, which is
    `np.tril(np.ones((T, S), bool), k=S - T)`. One token ($T = 1$) may attend every key. This
    gives exactly the matching rows of causal attention over the whole sequence.

    **Windows.** With `window=W`, a query at position $p$ attends the positions
    $p - W + 1, \dots, p$ (the last $W$ including itself: FlashAttention's
    `window_size=(W - 1, 0)`, `attention_ref.mods.sliding_window(W - 1, 0)`) and the sinks
    $0, \dots, n - 1$. The cache returns exactly that set for the newest position. For a
    chunk of $T > 1$ positions, its earlier rows would also need the $T - 1$ positions
    before the window, which the cache has dropped: decode one token at a time under a
    window, or compute a chunk's attention yourself over the previous step's keys
    concatenated with the chunk.

    **How long the returned arrays stay valid.** They are read-only views of the cache's
    buffer (no copy of the cache per update).

    - Unbounded, or a window without sinks: later updates never write to them (see the
      module's notes), so a caller holding the keys of step $t$ sees the same values at
      every later step. (A view keeps its buffer alive: the cache's memory is bounded only
      once the caller lets go of old steps' arrays, as it normally does.)
    - A window with `sink_tokens > 0`: valid until the next `update`, which may overwrite
      them in place (as the `StaticCache` of Hugging Face Transformers hands out its own
      storage). The sinks must sit right before a window that moves every token, so each
      update copies the `sink_tokens` sink rows into the rows before the new window's
      start, which the previous view still covers. Use the keys before the next update,
      as a decoder does, or keep `keys.copy()`.

    **A failed update leaves the cache as it was.** Every check runs before anything is
    written: a `value` whose `T` differs from `key`'s, or a batch size, head count, head size
    or dtype that differs from the first update's, raises and changes nothing.

    The cache stores the inputs' dtype (float16 stays float16, as in a serving system), and
    copies them: later changes to the caller's arrays do not reach the cache.

    References
    ----------
    [Xiao, Tian, Chen, Han and Lewis (2024). Efficient Streaming Language Models with
    Attention Sinks (StreamingLLM).](https://arxiv.org/abs/2309.17453)
    [Pope et al. (2023). Efficiently Scaling Transformer Inference.](https://arxiv.org/abs/2211.05102)

    Examples
    --------
    Two positions, then a third: the returned keys grow, in position order.

    >>> import numpy as np
    >>> from attention_ref import KVCache
    >>> cache = KVCache()
    >>> k = np.arange(2.0).reshape(1, 1, 2, 1)        # (B=1, Hkv=1, T=2, E=1)
    >>> keys, values = cache.update(k, 10 * k)
    >>> keys[0, 0, :, 0].tolist(), cache.positions.tolist(), cache.length
    ([0.0, 1.0], [0, 1], 2)
    >>> two = np.full((1, 1, 1, 1), 2.0)
    >>> keys, values = cache.update(two, 10 * two)
    >>> values[0, 0, :, 0].tolist(), cache.positions.tolist()
    ([0.0, 10.0, 20.0], [0, 1, 2])

    A window of 2 with 1 sink, after 6 positions: position 0 and the last two.

    >>> cache = KVCache(window=2, sink_tokens=1)
    >>> k = np.arange(6.0).reshape(1, 1, 6, 1)
    >>> keys, _ = cache.update(k, k)
    >>> keys[0, 0, :, 0].tolist(), cache.positions.tolist(), cache.length
    ([0.0, 4.0, 5.0], [0, 4, 5], 6)

    With sinks those keys are the cache's own storage, valid until the next update, which
    writes the sink's copy over the row that held position 4; a copy keeps them:

    >>> kept = keys.copy()
    >>> six = np.full((1, 1, 1, 1), 6.0)
    >>> new_keys, _ = cache.update(six, six)
    >>> new_keys[0, 0, :, 0].tolist(), cache.positions.tolist()
    ([0.0, 5.0, 6.0], [0, 5, 6])
    >>> keys[0, 0, :, 0].tolist(), kept[0, 0, :, 0].tolist()
    ([0.0, 0.0, 5.0], [0.0, 4.0, 5.0])
    """

    def __init__(self, *, window: int | None = None, sink_tokens: int = 0) -> None:
        self.window = None if window is None else check_int(window, "window", minimum=1)
        self.sink_tokens = check_int(sink_tokens, "sink_tokens", minimum=0)
        if self.sink_tokens and self.window is None:
            raise ValueError(
                f"sink_tokens={self.sink_tokens} needs a window: without one the cache keeps "
                "every position anyway (pass window=W to keep the sinks plus the last W)"
            )
        self._length = 0
        self._k: np.ndarray | None = None  # (B, Hkv, capacity, E)
        self._v: np.ndarray | None = None  # (B, Hkv, capacity, Ev)
        self._start = 0  # buffer rows [_start, _end) hold the positions kept after the sinks
        self._end = 0  # (unbounded: _start = 0, _end = length)
        # With sinks: the master copy of the sink rows (B, Hkv, sink_tokens, E or Ev), never
        # overwritten; the buffer holds [unused][sinks copy][window], the copy just before
        # _start, rewritten by every update.
        self._sink_k: np.ndarray | None = None
        self._sink_v: np.ndarray | None = None

    # -----------------------------------------------------------------------------------------
    # What the cache holds

    @property
    def length(self) -> int:
        """Positions appended so far."""
        return self._length

    @property
    def positions(self) -> np.ndarray:
        """The absolute positions of the rows `update` returns, in order (int64)."""
        n = self._length
        if self.window is None:
            return np.arange(n, dtype=np.int64)
        sinks = min(self.sink_tokens, n)
        first_recent = max(sinks, n - self.window)
        return np.concatenate(
            [np.arange(sinks, dtype=np.int64), np.arange(first_recent, n, dtype=np.int64)]
        )

    def __repr__(self) -> str:
        shape = "empty" if self._k is None else f"B, Hkv = {self._k.shape[:2]}"
        return (
            f"KVCache(window={self.window}, sink_tokens={self.sink_tokens}; "
            f"length={self._length}, {shape})"
        )

    # -----------------------------------------------------------------------------------------
    # Appending

    def _check(self, key: ArrayLike, value: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Check `key` (B, Hkv, T, E) and `value` (B, Hkv, T, Ev) against each other and the
        cache; raise before anything is written."""
        k = as_float_array(key, "key")
        v = as_float_array(value, "value")
        for name, arr, last in (("key", k, "E"), ("value", v, "Ev")):
            if arr.ndim != 4:
                raise ValueError(
                    f"{name} must have shape (B, Hkv, T, {last}), 4 dimensions, "
                    f"got shape {arr.shape}"
                )
        if k.shape[2] != v.shape[2]:
            raise ValueError(
                "value must hold as many positions T (dim 2) as key: "
                f"got key of shape {k.shape} and value of shape {v.shape}"
            )
        if k.shape[:2] != v.shape[:2]:
            raise ValueError(
                "key and value must have the same batch size B and heads Hkv (dims 0 and 1): "
                f"got key of shape {k.shape} and value of shape {v.shape}"
            )
        if self._k is not None and self._v is not None:
            for name, arr, held, last in (("key", k, self._k, "E"), ("value", v, self._v, "Ev")):
                want = (*held.shape[:2], held.shape[3])
                got = (*arr.shape[:2], arr.shape[3])
                if got != want:
                    raise ValueError(
                        f"{name} of shape {arr.shape} does not fit the cache, which holds "
                        f"(B, Hkv, {last}) = {want} from its first update: B, Hkv and {last} "
                        "cannot change between updates"
                    )
                if arr.dtype != held.dtype:
                    raise TypeError(
                        f"{name} has dtype {arr.dtype} (shape {arr.shape}) but the cache holds "
                        f"{held.dtype} from its first update; cast it with "
                        f"{name}.astype(np.{held.dtype})"
                    )
        return k, v

    def update(self, key: ArrayLike, value: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        r"""Append the `T` newest positions; return what the next queries may attend.

        Parameters
        ----------
        key : array_like of shape (B, Hkv, T, E)
            The keys of positions `length ... length + T - 1`. float16, float32 or float64;
            `B`, `Hkv`, `E` and the dtype are fixed by the first update.
        value : array_like of shape (B, Hkv, T, Ev)
            Their values, with the same `B`, `Hkv` and `T`.

        Returns
        -------
        keys : ndarray of shape (B, Hkv, S, E)
            Every position so far (`S = length`), or with a window the first `sink_tokens`
            positions plus the last `window`, in position order (see `positions`). A
            read-only view of the cache's buffer. Unbounded or without sinks it is never
            changed by later updates; with `sink_tokens > 0` it is valid until the next
            `update`, which may overwrite it in place (`keys.copy()` keeps a step's keys).
        values : ndarray of shape (B, Hkv, S, Ev)
            Their values, likewise.

        Raises
        ------
        TypeError
            If `key` or `value` is not float16/32/64, or its dtype differs from the first
            update's.
        ValueError
            If an array is not 4-D, `T` of `key` and `value` differ, their `B` or `Hkv`
            differ, or `B`, `Hkv`, `E` or `Ev` differ from the first update's. The cache is
            left as it was.
        """
        k, v = self._check(key, value)
        if self._k is None or self._v is None:  # the first update fixes B, Hkv, E, Ev, dtypes
            B, Hkv, _, E = k.shape
            if self.window is None:
                rows = max(MIN_CAPACITY, k.shape[2])
            elif self.sink_tokens == 0:
                rows = max(2 * self.window, k.shape[2])  # room for two windows
            else:  # the sinks' copy, then two windows (a chunk keeps at most W rows)
                rows = self.sink_tokens + 2 * self.window
                n_sink = self.sink_tokens
                self._sink_k = np.empty((B, Hkv, n_sink, E), dtype=k.dtype)
                self._sink_v = np.empty((B, Hkv, n_sink, v.shape[3]), dtype=v.dtype)
                self._start = self._end = n_sink  # the window starts after the sinks' copy
            self._k = np.empty((B, Hkv, rows, E), dtype=k.dtype)  # (B, Hkv, capacity, E)
            self._v = np.empty((B, Hkv, rows, v.shape[3]), dtype=v.dtype)  # (.., Ev)
        if self.sink_tokens == 0:
            return self._append_views(k, v)
        return self._append_sinks(k, v)

    def _append_views(self, k: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unbounded, or a window without sinks: append, return read-only views.

        Buffer rows `[_start, _end)` are the positions kept. New rows are written at `_end`,
        past every view handed out. A full buffer is replaced by a new one holding the rows
        still kept (all of them, or the last `window - T`), never written to again, so the
        views into it stay as they were.
        """
        assert self._k is not None and self._v is not None
        T = k.shape[2]
        W = self.window
        buf_k, buf_v, start, end = self._k, self._v, self._start, self._end
        if end + T > buf_k.shape[2]:  # full: a new buffer; the old one stays with its views
            keep = end - start if W is None else min(end - start, max(0, W - T))
            capacity = (
                max(keep + T, 2 * buf_k.shape[2]) if W is None else max(keep + T, 2 * W)
            )  # doubling (unbounded), or two windows: a reallocation every W or more rows
            new_k = np.empty((*buf_k.shape[:2], capacity, buf_k.shape[3]), dtype=buf_k.dtype)
            new_v = np.empty((*buf_v.shape[:2], capacity, buf_v.shape[3]), dtype=buf_v.dtype)
            new_k[:, :, :keep] = buf_k[:, :, end - keep : end]
            new_v[:, :, :keep] = buf_v[:, :, end - keep : end]
            buf_k, buf_v, start, end = new_k, new_v, 0, keep
        buf_k[:, :, end : end + T] = k  # rows past every view handed out so far
        buf_v[:, :, end : end + T] = v
        end += T
        if W is not None:
            start = max(start, end - W)
        self._k, self._v, self._start, self._end = buf_k, buf_v, start, end
        self._length += T
        keys = buf_k[:, :, start:end]  # (B, Hkv, S, E), a view
        values = buf_v[:, :, start:end]  # (B, Hkv, S, Ev), a view
        keys.flags.writeable = False
        values.flags.writeable = False
        return keys, values

    def _append_sinks(self, k: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A window with sinks: append in place, return views valid until the next update.

        The buffer has `n + 2 W` rows (`n = sink_tokens`). The recent positions kept are
        rows `[_start, _end)`, always at or after row `n`; the `n` sink rows are copied from
        their master copy to rows `[_start - n, _start)` at every update, so the keys
        returned are the one slice `[_start - n, _end)`. New rows go at `_end`; when they do
        not fit, the fewer than `W` rows still kept are first moved to row `n` (once every
        `W` or more positions). Cost: $O(n + T)$, plus the amortised move.
        """
        assert self._k is not None and self._v is not None and self.window is not None
        assert self._sink_k is not None and self._sink_v is not None
        buf_k, buf_v = self._k, self._v
        W, n_sink = self.window, self.sink_tokens
        T, n = k.shape[2], self._length
        start, end = self._start, self._end
        # New positions n .. n + T - 1. Those below n_sink are sinks: into the master copy.
        to_sink = max(0, min(T, n_sink - n))
        if to_sink:
            self._sink_k[:, :, n : n + to_sink] = k[:, :, :to_sink]
            self._sink_v[:, :, n : n + to_sink] = v[:, :, :to_sink]
        # The rest are recent positions; only the last W of all recent positions are kept.
        new = T - to_sink
        if new >= W:  # the chunk alone fills the window: it replaces the recent rows
            buf_k[:, :, n_sink : n_sink + W] = k[:, :, T - W :]
            buf_v[:, :, n_sink : n_sink + W] = v[:, :, T - W :]
            start, end = n_sink, n_sink + W
        elif new:
            if end + new > buf_k.shape[2]:  # no room: move the rows still kept to the front
                keep = min(end - start, W - new)  # < W rows; NumPy copies overlaps correctly
                buf_k[:, :, n_sink : n_sink + keep] = buf_k[:, :, end - keep : end]
                buf_v[:, :, n_sink : n_sink + keep] = buf_v[:, :, end - keep : end]
                start, end = n_sink, n_sink + keep
            buf_k[:, :, end : end + new] = k[:, :, to_sink:]
            buf_v[:, :, end : end + new] = v[:, :, to_sink:]
            end += new
            start = max(start, end - W)
        # The sinks' copy just before the window (the previous view may cover these rows).
        sinks = min(n_sink, n + T)
        buf_k[:, :, start - sinks : start] = self._sink_k[:, :, :sinks]
        buf_v[:, :, start - sinks : start] = self._sink_v[:, :, :sinks]
        self._start, self._end, self._length = start, end, n + T
        keys = buf_k[:, :, start - sinks : end]  # (B, Hkv, S, E), a view
        values = buf_v[:, :, start - sinks : end]  # (B, Hkv, S, Ev), a view
        keys.flags.writeable = False
        values.flags.writeable = False
        return keys, values
