# The two-head model of "Two heads, two jobs", trained while the site builds (the same cached
# run), evaluated on its 512 held-out sequences with three masks.
from attention_ref_site.generation import visible
from attention_ref_site.training import heads as two_heads

trained = two_heads.train_model(2)
p, test = trained.params, trained.test
L, K = two_heads.SEQ_LEN, two_heads.K


def evaluate(mask):
    """Accuracy of both questions, and the weights (B, H, L, L), under a mask (L, L)."""
    h = p["letter_embed"][test.letters] + p["digit_embed"][test.digits] + p["pos"]
    q, k, v = (two_heads.split_heads(h @ p[w], 2) for w in ("w_q", "w_k", "w_v"))
    out, probs = ar.scaled_dot_product_attention(q, k, v, attn_mask=mask, return_weights=True)
    concat = two_heads.merge_heads(out)[:, K:]  # (B, K, D): the positions that answer
    right = {r: (concat @ p[f"w_{r}"] + p[f"b_{r}"]).argmax(-1) == getattr(test, r)
             for r in two_heads.READOUTS}
    return {r: float(x.mean()) for r, x in right.items()}, probs


pos = np.arange(L)
masks = {
    "full causal": visible(pos, pos),
    "window 4": visible(pos, pos, window=4),
    "window 4 + 2 sinks": visible(pos, pos, window=4, sink_tokens=2),
}
assert set(masks) == {"full causal", "window 4", "window 4 + 2 sinks"}
