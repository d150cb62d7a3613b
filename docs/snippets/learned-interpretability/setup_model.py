trained = tr.train_model()  # seed 0: the model of the translation page (cached)
params, test = trained.params, trained.test  # 1,024 held-out sentence pairs
predicted, probs = tr.predict(params, test)  # (B, L) words, (B, L, S) weights


def translate(source, mask=None):
    """The trained model's English words (B, L).

    `mask` (B, L, S): False = erased."""
    h = params["src_embed"][source] + params["src_pos"]  # (B, S, D)
    q = params["tgt_pos"] @ params["w_q"]  # (L, D)
    k, v = h @ params["w_k"], h @ params["w_v"]
    out = ar.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return (out @ params["w_out"] + params["b_out"]).argmax(axis=-1)


assert (translate(test.source) == predicted).all()
assert (predicted == test.target).all()  # every held-out word is right
print(f"{(predicted == test.target).mean():.1%} of {test.target.size:,} "
      "held-out words right")
