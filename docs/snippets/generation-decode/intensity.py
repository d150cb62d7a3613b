# One layer of Llama 3 8B's attention (H = 32 query heads of E = 128)
# decoding one token against S = 8192 cached positions in bf16, with 32, 8
# or 1 key/value heads.
H, E, S, bf16 = 32, 128, 8192, 2
print(f"{'Hkv':>4} {'G':>3} {'FLOPs':>12} {'bytes read':>12}",
      f"{'FLOPs/byte':>11}")
for Hkv in (32, 8, 1):
    flops = 4 * H * S * E  # q.k and p v: 2 FLOPs per multiply-add
    bytes_read = 2 * Hkv * S * E * bf16  # every key and value, once
    intensity = flops / bytes_read
    print(f"{Hkv:>4} {H // Hkv:>3} {flops:>12,} {bytes_read:>12,}",
          f"{intensity:>11.1f}")
    assert intensity == H // Hkv  # the group size G
