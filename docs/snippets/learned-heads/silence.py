def answers_without(head):
    """Held-out accuracy of the two-head model with one head's output set to zero."""
    p, test = two.params, two.test
    h = p["letter_embed"][test.letters] + p["digit_embed"][test.digits] + p["pos"]
    q, k, v = (hm.split_heads(h @ p[w], 2) for w in ("w_q", "w_k", "w_v"))
    out = ar.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, L, E)
    out[:, head] = 0.0  # silence one head
    concat = hm.merge_heads(out)[:, hm.K :]  # (B, K, D)
    return {
        r: ((concat @ p[f"w_{r}"] + p[f"b_{r}"]).argmax(axis=-1) == getattr(test, r)).mean()
        for r in hm.READOUTS
    }


for head in (prev_head, match_head):
    acc = answers_without(head)
    print(f"without head {head}: previous {acc['previous']:.1%}, match {acc['match']:.1%}")
assert answers_without(prev_head)["previous"] < 0.3 < 0.95 < answers_without(prev_head)["match"]
assert answers_without(match_head)["match"] < 0.3 < 0.95 < answers_without(match_head)["previous"]
