import textwrap

# 4 sequences of 4 tokens: B == L == S == 4, so the (B, S) mask also
# fits as an (L, S) mask, and nothing can tell the two apart.
seq_lengths = [4, 1, 2, 3]
q4, k4, v4 = rng.standard_normal((3, 4, 2, 4, 3))  # (B, H, L, E) each
pad4 = ar.padding_mask(seq_lengths, 4)  # (B, S)
wrong = sdpa(q4, k4, v4, attn_mask=pad4)  # read as (L, S): no error
key_mask4 = ar.padding_mask(seq_lengths, 4, as_attn_mask=True)
print("as_attn_mask=True:", key_mask4.shape)  # (B, 1, 1, S)
right = sdpa(q4, k4, v4, attn_mask=key_mask4)
for seq, used in enumerate(seq_lengths):  # each sequence alone
    alone = sdpa(q4[seq], k4[seq, :, :used], v4[seq, :, :used])
    assert np.allclose(right[seq], alone)
    assert not np.allclose(wrong[seq], alone)  # every one wrong
print("largest |wrong - right|:", np.abs(wrong - right).max().round(3))

# 3 of the sequences (B = 3, L = 4): the shapes do not fit, and the
# error says what to write.
try:
    sdpa(q4[:3], k4[:3], v4[:3], attn_mask=pad4[:3])
except ValueError as error:
    message = str(error)
print(textwrap.fill(message, 72))
assert "attn_mask=attn_mask[:, None, None, :]" in message
