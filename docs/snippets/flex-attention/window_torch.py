import torch
from torch.nn.attention.flex_attention import create_block_mask, flex_attention


def local_window(b, h, q_idx, kv_idx):
    return (kv_idx >= q_idx - 3) & (kv_idx <= q_idx)


def soft_cap(score, b, h, q_idx, kv_idx):
    return 20.0 * torch.tanh(score / 20.0)


# the same arrays, as tensors
q, k, v = (torch.from_numpy(x) for x in (q, k, v))
B, H, L, E = q.shape
S = k.shape[2]
block_mask = create_block_mask(local_window, B, H, L, S, device="cpu")
out = flex_attention(q, k, v, score_mod=soft_cap, block_mask=block_mask)
