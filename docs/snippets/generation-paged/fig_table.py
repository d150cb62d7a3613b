# The block tables and the pool of the example that tests/test_paged.py checks, drawn from
# its arrays (attention_ref_site.diagrams.block_table).
from attention_ref_site import diagrams

ex = block_table_example()
N, max_blocks = ex.block_tables.shape
num_blocks, block_size = ex.key_cache.shape[:2]
owner = {}  # block id -> the sequences that read it
for n in range(N):
    for b in range(-(-ex.seq_lens[n] // block_size)):
        owner.setdefault(int(ex.block_tables[n, b]), []).append(n)
assert len(owner) == num_blocks - 3  # three spare blocks
assert int(ex.block_tables[0, 0]) == 0 and owner[0] == [0, 1]  # the shared prefix block
print(diagrams.block_table(
    ex.block_tables, ex.seq_lens, block_size=block_size, num_blocks=num_blocks,
    caption="The block tables of four sequences (10, 7, 13 and 3 tokens) and the pool of "
    "12 blocks they share, the example `tests/test_paged.py` checks. Sequences 0 and 1 "
    "share block 0 (each slot half one colour, half the other: a common prompt of 4 "
    "tokens). Blocks are handed out in no order; the only unused slots are at the end of "
    "each sequence's last block, and three blocks are free for whichever sequence grows "
    "next.",
    alt="Top: four rows of boxes, each listing a sequence's block ids in order, with "
    "padding after its last block. Bottom: twelve groups of four small squares, coloured "
    "by the sequence that owns the block, block 0 in two colours; three groups are empty "
    "and a few last blocks are partly filled.",
))
