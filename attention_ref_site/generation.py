r"""A tiny decoder-only transformer, for the Generation pages and their tests.

Random weights (no training): what matters here is that the same model runs two ways and
gives the same tokens: recomputing every position at every step, and decoding one position at
a time against a `attention_ref.KVCache` per layer. Each block is pre-norm attention with
RoPE (`attention_ref.rotary_embedding`) and grouped-query heads, then a two-layer MLP:

$$x \leftarrow x + \operatorname{Attn}(\operatorname{rms}(x)), \qquad
x \leftarrow x + W_2 \operatorname{relu}(W_1 \operatorname{rms}(x))$$

and the logits are $\operatorname{rms}(x) W_{emb}^\top / \sqrt{D}$ (tied embeddings).

Shapes use the package legend: `B` batch, `T` new positions, `S` key positions, `D` model
width, `H` query heads, `Hkv` key/value heads, `E` head width, `V` vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import attention_ref as ar


def visible(
    q_pos: np.ndarray, k_pos: np.ndarray, window: int | None = None, sink_tokens: int = 0
) -> np.ndarray:
    """The mask (T, S), True = may attend: causal, and with a window the last `window`
    positions (the query's own included) plus the first `sink_tokens`."""
    q, k = q_pos[:, None], k_pos[None, :]
    mask = k <= q
    if window is not None:
        mask &= (q - k < window) | (k < sink_tokens)
    return mask


def _rms(x: np.ndarray) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-6)


@dataclass
class ToyDecoder:
    """A decoder with random weights, seeded: `ToyDecoder(seed=0)` is always the same model."""

    vocab: int = 16
    width: int = 32
    layers: int = 3
    heads: int = 4
    kv_heads: int = 2
    use_rope: bool = True
    seed: int = 0
    params: list[dict[str, np.ndarray]] = field(init=False, repr=False)
    embed: np.ndarray = field(init=False, repr=False)
    #: Counted by `forward` from the shapes it multiplies: floating-point operations (a
    #: multiply-add is 2) and bytes read (weights, and keys and values by attention).
    flops: int = field(init=False, default=0, repr=False)
    bytes_read: int = field(init=False, default=0, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        D, H, Hkv = self.width, self.heads, self.kv_heads
        E = D // H
        self.embed = rng.standard_normal((self.vocab, D))  # (V, D)
        self.params = [
            {
                "w_q": rng.standard_normal((D, H * E)) * D**-0.5,
                "w_k": rng.standard_normal((D, Hkv * E)) * D**-0.5,
                "w_v": rng.standard_normal((D, Hkv * E)) * D**-0.5,
                "w_o": rng.standard_normal((H * E, D)) * (H * E) ** -0.5,
                "w_1": rng.standard_normal((D, 4 * D)) * D**-0.5,
                "w_2": rng.standard_normal((4 * D, D)) * (4 * D) ** -0.5,
            }
            for _ in range(self.layers)
        ]

    def new_caches(self, window: int | None = None, sink_tokens: int = 0) -> list[ar.KVCache]:
        """One empty cache per layer."""
        return [ar.KVCache(window=window, sink_tokens=sink_tokens) for _ in range(self.layers)]

    def forward(
        self,
        tokens: np.ndarray,
        caches: list[ar.KVCache] | None = None,
        *,
        window: int | None = None,
        sink_tokens: int = 0,
    ) -> np.ndarray:
        """Logits (B, T, V) for `tokens` (B, T).

        Without `caches`: the whole sequence at once, causal (with `window`/`sink_tokens`:
        the sliding-window mask with sinks). With `caches`: `tokens` are the next positions;
        each layer appends its keys and values to its cache and attends to what it returns.
        """
        B, T = tokens.shape
        H, Hkv = self.heads, self.kv_heads
        E = self.width // H
        start = 0 if caches is None else caches[0].length
        q_pos = np.arange(start, start + T)  # absolute positions of the new tokens
        x = self.embed[tokens]  # (B, T, D)
        D, V = self.width, self.vocab
        for layer, p in enumerate(self.params):
            self.flops += 2 * B * T * sum(w.size for w in p.values())  # the six products
            self.bytes_read += sum(w.nbytes for w in p.values())
            h = _rms(x)
            q = (h @ p["w_q"]).reshape(B, T, H, E).transpose(0, 2, 1, 3)  # (B, H, T, E)
            k = (h @ p["w_k"]).reshape(B, T, Hkv, E).transpose(0, 2, 1, 3)  # (B, Hkv, T, E)
            v = (h @ p["w_v"]).reshape(B, T, Hkv, E).transpose(0, 2, 1, 3)  # (B, Hkv, T, E)
            if self.use_rope:  # the package's RoPE, each token at its absolute position
                q, k = ar.rotary_embedding(q, q_pos), ar.rotary_embedding(k, q_pos)
            if caches is None:
                keys, values, k_pos = k, v, q_pos
            else:
                keys, values = caches[layer].update(k, v)  # (B, Hkv, S, E)
                k_pos = caches[layer].positions
            if caches is None and window is None:
                out = ar.scaled_dot_product_attention(
                    q, keys, values, is_causal=True, enable_gqa=True
                )
            else:
                mask = visible(q_pos, k_pos, window, sink_tokens)  # (T, S)
                out = ar.scaled_dot_product_attention(
                    q, keys, values, attn_mask=mask, enable_gqa=True
                )
            S = keys.shape[2]
            self.flops += 4 * B * H * T * S * E  # q k^T and p v, every score computed
            self.bytes_read += keys.nbytes + values.nbytes
            x = x + out.transpose(0, 2, 1, 3).reshape(B, T, H * E) @ p["w_o"]  # (B, T, D)
            x = x + np.maximum(_rms(x) @ p["w_1"], 0.0) @ p["w_2"]
        self.flops += 2 * B * T * D * V
        self.bytes_read += self.embed.nbytes
        return _rms(x) @ self.embed.T * self.width**-0.5  # (B, T, V), logits of std ~1

    def generate(
        self,
        prompt: np.ndarray,
        steps: int,
        *,
        use_cache: bool = True,
        window: int | None = None,
        sink_tokens: int = 0,
        seed: int = 0,
    ) -> np.ndarray:
        """Sample `steps` tokens after `prompt` (B, T0); returns (B, T0 + steps).

        With the cache: the prompt in one chunk (prefill), then one token per step (decode).
        Without: the whole sequence recomputed at every step, with the same mask. Tokens are
        sampled from the softmax of the logits with uniform numbers from `seed`, the same
        numbers either way, so the two ways give the same tokens exactly when their logits
        agree. (Greedy decoding would do too, but a random model's argmax soon repeats one
        token forever, which would make a weak test.)
        """
        rng = np.random.default_rng(seed)
        tokens = np.asarray(prompt)
        if use_cache:
            caches = self.new_caches(window, sink_tokens)
            if window is None:
                logits = self.forward(tokens, caches)
            else:  # a window serves one new position at a time (see KVCache's notes)
                for t in range(tokens.shape[1]):
                    logits = self.forward(tokens[:, t : t + 1], caches)
        for _ in range(steps):
            if not use_cache:
                logits = self.forward(tokens, window=window, sink_tokens=sink_tokens)
            probs = ar.softmax(logits[:, -1], axis=-1)  # (B, V)
            u = rng.random((tokens.shape[0], 1))  # (B, 1)
            nxt = np.minimum((np.cumsum(probs, axis=-1) < u).sum(axis=-1), self.vocab - 1)
            tokens = np.concatenate([tokens, nxt[:, None]], axis=1)
            if use_cache:
                logits = self.forward(nxt[:, None], caches)
        return tokens


# ---------------------------------------------------------------------------------------------
# A paged cache, for paged_attention's tests and the page that draws its block table


@dataclass
class PagedExample:
    """Sequences stored in a shared pool of blocks, and the same sequences contiguous.

    `key_cache` (num_blocks, block_size, Hkv, E), `value_cache` (..., Ev), `block_tables`
    (N, max_blocks), `seq_lens` (N,) as `attention_ref.paged_attention` takes them; `keys[n]`
    (Hkv, seq_lens[n], E) and `values[n]` the same tokens in order, for the contiguous check.
    """

    key_cache: np.ndarray
    value_cache: np.ndarray
    block_tables: np.ndarray
    seq_lens: np.ndarray
    keys: list[np.ndarray]
    values: list[np.ndarray]
    shared_blocks: int  # leading blocks of sequence 1 that are sequence 0's (a common prefix)


def paged_example(
    rng: np.random.Generator,
    seq_lens: list[int],
    *,
    block_size: int = 4,
    kv_heads: int = 2,
    E: int = 8,
    Ev: int = 6,
    spare_blocks: int = 3,
    shared_blocks: int = 0,
    pad: int = -1,
    dtype: type = np.float64,
) -> PagedExample:
    """Random keys and values for sequences of `seq_lens`, in shuffled blocks of one pool.

    Blocks are handed out in a random order from a pool with `spare_blocks` more than needed;
    every slot no sequence uses (the unused blocks, the unfilled end of each last block) holds
    NaN, so reading one would show. With `shared_blocks = s`, sequence 1 starts with sequence
    0's first `s` blocks (the same tokens: a shared prompt), as prefix caching does. Table
    entries past a sequence's last block hold `pad`.
    """
    lens = np.asarray(seq_lens, dtype=np.int64)
    N = len(lens)
    need = -(-lens // block_size)  # (N,) blocks per sequence
    own = need.copy()
    if shared_blocks:
        assert N >= 2 and need[0] >= shared_blocks and need[1] >= shared_blocks
        assert lens[0] >= shared_blocks * block_size, "a shared block must be full"
        own[1] -= shared_blocks
    num_blocks = int(own.sum()) + spare_blocks
    ids = rng.permutation(num_blocks)  # the pool's free list, shuffled
    max_blocks = int(need.max(initial=0)) + 1  # one column of padding
    tables = np.full((N, max_blocks), pad, dtype=np.int64)
    key_cache = np.full((num_blocks, block_size, kv_heads, E), np.nan, dtype=dtype)
    value_cache = np.full((num_blocks, block_size, kv_heads, Ev), np.nan, dtype=dtype)
    keys, values, taken = [], [], 0
    for n in range(N):
        k = rng.standard_normal((kv_heads, lens[n], E)).astype(dtype)  # (Hkv, S_n, E)
        v = rng.standard_normal((kv_heads, lens[n], Ev)).astype(dtype)
        first = 0
        if n == 1 and shared_blocks:
            tables[1, :shared_blocks] = tables[0, :shared_blocks]
            prefix = shared_blocks * block_size
            k[:, :prefix], v[:, :prefix] = keys[0][:, :prefix], values[0][:, :prefix]
            first = shared_blocks
        for b in range(first, need[n]):
            block = ids[taken]
            taken += 1
            tables[n, b] = block
            t0, t1 = b * block_size, min(lens[n], (b + 1) * block_size)
            key_cache[block, : t1 - t0] = k[:, t0:t1].transpose(1, 0, 2)  # (slots, Hkv, E)
            value_cache[block, : t1 - t0] = v[:, t0:t1].transpose(1, 0, 2)
        keys.append(k)
        values.append(v)
    return PagedExample(key_cache, value_cache, tables, lens, keys, values, shared_blocks)


def block_table_example() -> PagedExample:
    """The pool drawn on the paged-attention page, and checked by `tests/test_paged.py`:
    4 sequences in blocks of 4 slots, sequence 1 sharing sequence 0's first block, 3 spare."""
    return paged_example(
        np.random.default_rng(16), [10, 7, 13, 3], block_size=4, shared_blocks=1, spare_blocks=3
    )
