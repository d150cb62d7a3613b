"""Attention shapes of published models, for the KV-cache size table of the Generation pages.

Only what decides the size of the cache: layers, key/value heads and the head size. Each entry
names where the numbers come from: the model's `config.json` on the Hugging Face Hub (fields
`num_hidden_layers`, `num_attention_heads`, `num_key_value_heads`, and `head_dim` or
`hidden_size / num_attention_heads`) and, where there is one, the paper's table of
architectures.
"""

from __future__ import annotations

from typing import NamedTuple


class AttentionShape(NamedTuple):
    name: str
    layers: int
    heads: int  # query heads H
    kv_heads: int  # key/value heads Hkv
    head_dim: int  # E = Ev
    context: int  # the context length the model was released with
    source: str  # where the numbers are published


MODELS = [
    AttentionShape(
        "Llama 2 7B (MHA)", 32, 32, 32, 128, 4096,
        "meta-llama/Llama-2-7b-hf config.json (no num_key_value_heads: one kv head per head); "
        "Touvron et al. 2023, arXiv:2307.09288",
    ),
    AttentionShape(
        "Falcon 7B (MQA)", 32, 71, 1, 64, 2048,
        "tiiuae/falcon-7b config.json (n_head 71, hidden_size 4544, multi_query true)",
    ),
    AttentionShape(
        "Llama 3 8B", 32, 32, 8, 128, 8192,
        "meta-llama/Meta-Llama-3-8B config.json; Llama Team 2024, arXiv:2407.21783, Table 3",
    ),
    AttentionShape(
        "Mistral 7B", 32, 32, 8, 128, 8192,
        "mistralai/Mistral-7B-v0.1 config.json; Jiang et al. 2023, arXiv:2310.06825, Table 1",
    ),
    AttentionShape(
        "Gemma 2 9B", 42, 16, 8, 256, 8192,
        "google/gemma-2-9b config.json (head_dim 256); Gemma Team 2024, arXiv:2408.00118, "
        "Table 1",
    ),
    AttentionShape(
        "Llama 3 70B", 80, 64, 8, 128, 8192,
        "meta-llama/Meta-Llama-3-70B config.json; Llama Team 2024, arXiv:2407.21783, Table 3",
    ),
]  # fmt: skip

#: Bytes per number in bf16 (and float16).
BF16 = 2


def bytes_per_token(m: AttentionShape, bytes_per_number: int = BF16) -> int:
    """A key and a value vector per layer and kv head: 2 * layers * Hkv * E numbers."""
    return 2 * m.layers * m.kv_heads * m.head_dim * bytes_per_number
