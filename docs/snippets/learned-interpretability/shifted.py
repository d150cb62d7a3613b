def translate_b(source):
    """Model B: an encoder that hands position j the state of word j + 1
    (cyclically), then the same trained cross-attention and output layer."""
    h = params["src_embed"][source] + params["src_pos"]  # (B, S, D)
    h = np.roll(h, -1, axis=1)  # position j now holds what position j + 1 held
    q = params["tgt_pos"] @ params["w_q"]
    out, w = ar.scaled_dot_product_attention(
        q, h @ params["w_k"], h @ params["w_v"], return_weights=True
    )
    return (out @ params["w_out"] + params["b_out"]).argmax(axis=-1), w


predicted_b, probs_b = translate_b(test.source)
agree_a = (probs.argmax(axis=-1) == test.alignment).mean()
agree_b = (probs_b.argmax(axis=-1) == test.alignment).mean()
print("same English words as model A:", (predicted_b == predicted).all())
print(f"largest weight on the true French word: A {agree_a:.1%}, "
      f"B {agree_b:.1%}")
assert (predicted_b == predicted).all()
# B's weights: A's, moved
assert np.allclose(probs_b, np.roll(probs, -1, axis=-1))
assert agree_b < 0.1 < 0.8 < agree_a
