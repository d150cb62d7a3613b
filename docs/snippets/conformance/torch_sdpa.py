# PyTorch's SDPA checked as it is: tensors in (array=torch.from_numpy),
# tensors out.
import torch

from attention_ref.conformance import check

sdpa = torch.nn.functional.scaled_dot_product_attention


def sdpa_backward(
    grad_output, query, key, value, attn_mask=None, is_causal=False, scale=None
):
    """The gradients by autograd (array= makes the arguments tensors)."""
    q, k, v = (x.requires_grad_() for x in (query, key, value))
    out = sdpa(q, k, v, attn_mask, is_causal=is_causal, scale=scale)
    out.backward(grad_output)
    return q.grad, k.grad, v.grad


report = check(sdpa, backward=sdpa_backward, array=torch.from_numpy)
print(report.headline())
assert report.ok and report.count("pass") == len(report.results) == 25
