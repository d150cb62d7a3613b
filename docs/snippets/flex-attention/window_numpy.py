def local_window(b, h, q_idx, kv_idx):
    return (kv_idx >= q_idx - 3) & (kv_idx <= q_idx)


def soft_cap(score, b, h, q_idx, kv_idx):
    return 20.0 * np.tanh(score / 20.0)


out = ar.flex_attention(q, k, v, score_mod=soft_cap, mask_mod=local_window)
