# nn.MultiheadAttention with identity projections: its attention,
# on (B, H, L, E) heads.
import torch

from attention_ref.conformance import check


# no scale, no enable_gqa
def multihead(query, key, value, attn_mask=None, is_causal=False):
    B, H, L, E = query.shape
    S, D = key.shape[-2], H * E
    if value.shape[-1] != E:
        raise ValueError(
            "nn.MultiheadAttention has one head size: Ev must equal E"
        )
    mha = torch.nn.MultiheadAttention(
        D, H, bias=False, batch_first=True, dtype=query.dtype
    )
    with torch.no_grad():
        # (3D, D): q, k, v unchanged
        mha.in_proj_weight.copy_(torch.eye(D).repeat(3, 1))
        mha.out_proj.weight.copy_(torch.eye(D))
    # is_causal is only a hint to MHA: it needs the mask too (True = masked out)
    if is_causal:
        attn_mask = torch.ones(L, S, dtype=torch.bool).triu(1)
    # (B * H, L, S), batch-major
    if attn_mask is not None and attn_mask.ndim > 2:
        attn_mask = attn_mask.broadcast_to((B, H, L, S)).reshape(B * H, L, S)
    # (B, L, D)
    q, k, v = (x.transpose(1, 2).reshape(B, -1, D) for x in (query, key, value))
    out, _ = mha(
        q, k, v, attn_mask=attn_mask, need_weights=False, is_causal=is_causal
    )
    return out.reshape(B, L, H, E).transpose(1, 2)  # (B, H, L, E)


report = check(multihead, array=torch.from_numpy)
print(report.headline())
assert report.matches == ("mask-polarity",)
assert [r.name for r in report.unsupported] == [
    "custom scale",
    "value head size",
    "grouped-query heads",
]
