# KV-cache size per sequence in bf16, from the shapes in attention_ref_site/kv_configs.py.
from attention_ref_site.kv_configs import MODELS, bytes_per_token


def size(n):
    unit = next(u for u in ("GiB", "MiB", "KiB") if n >= 2 ** (10 * "BKMG".index(u[0])))
    return f"{n / 2 ** (10 * 'BKMG'.index(unit[0])):g} {unit}"


rows = ["| model | layers | H / Hkv | E | per token | 8k | 128k |", "|---|" + "---:|" * 6]
for m in MODELS:
    b = bytes_per_token(m)
    rows.append(f"| {m.name} | {m.layers} | {m.heads} / {m.kv_heads} | {m.head_dim} "
                f"| {size(b)} | {size(8192 * b)} | {size(131072 * b)} |")
print("\n".join(rows))
by_name = {m.name: bytes_per_token(m) for m in MODELS}
assert by_name["Llama 3 8B"] == 128 * 2**10  # 2 * 32 layers * 8 heads * 128 * 2 bytes
assert by_name["Llama 2 7B (MHA)"] == 4 * by_name["Llama 3 8B"]  # 32 kv heads, not 8
assert 8192 * by_name["Llama 3 8B"] == 2**30  # 1 GiB at 8k
assert 131072 * by_name["Llama 3 8B"] == 16 * 2**30 > 2 * 8.03e9  # > its bf16 weights
assert by_name["Falcon 7B (MQA)"] == 8 * 2**10  # one kv head of 64: 8 KiB
assert size(128 * 2**10) == "128 KiB" and size(2**30) == "1 GiB"
