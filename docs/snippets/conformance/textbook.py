class Textbook:
    """Attention as a textbook writes it, in NumPy: one method per convention.

    q (B, H, L, E), k (B, Hkv, S, E), v (B, Hkv, S, Ev) -> (B, H, L, Ev).
    The conventions are attention_ref's; each wrong implementation on this
    page overrides one method.
    """

    fill = -np.inf  # what a masked score becomes

    def __call__(
        self, q, k, v, attn_mask=None, is_causal=False, scale=None,
        enable_gqa=False,
    ):
        dtype = np.result_type(q, k, v)
        q, k, v = (x.astype(self.compute_dtype(dtype)) for x in (q, k, v))
        if enable_gqa:  # (B, Hkv, S, E) -> (B, H, S, E)
            H = q.shape[-3]
            k, v = self.expand_heads(k, H), self.expand_heads(v, H)
        scale = self.default_scale(q, v) if scale is None else scale
        scores = scale * (q @ np.swapaxes(k, -1, -2))  # (B, H, L, S)
        if is_causal:
            allowed = self.causal_mask(*scores.shape[-2:])
            scores = np.where(allowed, scores, self.fill)
        elif attn_mask is not None and attn_mask.dtype == bool:
            scores = np.where(self.allowed(attn_mask), scores, self.fill)
        elif attn_mask is not None:
            scores = scores + attn_mask
        return (self.softmax(scores) @ v).astype(dtype)  # (B, H, L, Ev)

    def compute_dtype(self, dtype):
        # float16 is computed in float32
        return np.promote_types(dtype, np.float32)

    def expand_heads(self, kv, H):
        # kv head g: query heads gG..gG+G-1
        return np.repeat(kv, H // kv.shape[-3], axis=-3)

    def default_scale(self, q, v):
        return 1 / np.sqrt(q.shape[-1])  # 1/sqrt(E)

    def causal_mask(self, L, S):
        # top-left: query i sees keys j <= i
        return np.tril(np.ones((L, S), dtype=bool))

    def allowed(self, mask):
        return mask  # True = may attend

    def softmax(self, scores):
        top = scores.max(axis=-1, keepdims=True)
        # a fully masked row: zeros ...
        p = np.exp(scores - np.where(np.isfinite(top), top, 0))
        total = p.sum(axis=-1, keepdims=True)
        return p / np.where(total == 0, 1, total)  # ... and no 0/0


report = check(Textbook())
print(report.summary())
assert report.ok
