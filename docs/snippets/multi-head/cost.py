def macs(a, b):
    """Multiply-adds of a @ b: one per result element and per summed index."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return int(np.prod(batch)) * a.shape[-2] * b.shape[-1] * a.shape[-1]


def multi_head_cost(x, mha):
    """Run multi-head self-attention, counting the multiply-adds."""
    B, L, D = x.shape
    H, hd = mha.num_heads, mha.head_dim
    count = {"projections": 0, "scores": 0, "weighted sum": 0}

    def matmul(a, b, kind):
        count[kind] += macs(a, b)
        return a @ b

    def split(t):  # (B, L, D) -> (B, H, L, hd)
        return t.reshape(B, L, H, hd).transpose(0, 2, 1, 3)

    q, k, v = (
        split(matmul(x, w, "projections")) for w in (mha.w_q, mha.w_k, mha.w_v)
    )
    scores = matmul(q, k.swapaxes(-1, -2), "scores") / np.sqrt(hd)  # (B,H,L,L)
    probs = ar.softmax(scores)  # H * L * L exponentials per sequence
    heads = matmul(probs, v, "weighted sum")  # (B, H, L, hd)
    concat = heads.transpose(0, 2, 1, 3).reshape(B, L, D)
    out = matmul(concat, mha.w_o, "projections")
    assert np.allclose(out, mha(x)[0])  # what was counted is the real thing
    return count, probs.size


small = macs(np.ones((2, 3)), np.ones((3, 4)))
print("multiply-adds of a (2, 3) @ (3, 4) product:", small)
assert small == 2 * 4 * 3  # 8 results, 3 products summed for each
