# PyTorch's SDPA in attention_ref's calling convention: NumPy in, NumPy out. torch is
# imported when the adapter is called, not here (it is not installed where the site is
# built); tests/test_conformance.py runs check() on this very file whenever torch is.
import inspect


def torch_sdpa(query, key, value, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    import torch

    q, k, v = (torch.from_numpy(a) for a in (query, key, value))  # no copies
    mask = None if attn_mask is None else torch.from_numpy(attn_mask)
    sdpa = torch.nn.functional.scaled_dot_product_attention
    with torch.no_grad():
        out = sdpa(q, k, v, mask, is_causal=is_causal, scale=scale, enable_gqa=enable_gqa)
    return out.numpy()


def torch_backward(grad_output, query, key, value, attn_mask=None, is_causal=False, scale=None):
    import torch

    q, k, v = (torch.from_numpy(a).requires_grad_() for a in (query, key, value))
    mask = None if attn_mask is None else torch.from_numpy(attn_mask)
    sdpa = torch.nn.functional.scaled_dot_product_attention
    out = sdpa(q, k, v, mask, is_causal=is_causal, scale=scale)
    out.backward(torch.from_numpy(grad_output))
    return q.grad.numpy(), k.grad.numpy(), v.grad.numpy()


# report = check(torch_sdpa, backward=torch_backward)  # where torch is installed
parameters = list(inspect.signature(torch_sdpa).parameters)
assert parameters[:6] == ["query", "key", "value", "attn_mask", "is_causal", "scale"]
