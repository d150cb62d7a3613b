# The block tables and the pool of the example that tests/test_paged.py checks.
from matplotlib.patches import Rectangle

from attention_ref_site.figures import FOREGROUND

ex = block_table_example()
N, max_blocks = ex.block_tables.shape
num_blocks, block_size = ex.key_cache.shape[:2]
colours = ["#0072B2", "#E69F00", "#009E73", "#CC79A7"]  # Okabe-Ito, one per sequence
# Text on each: white on the blue, black on the others (both 4.5:1 or better).
ink = ["white", "black", "black", "black"]
owner = {}  # block id -> the sequences that read it
for n in range(N):
    for b in range(-(-ex.seq_lens[n] // block_size)):
        owner.setdefault(int(ex.block_tables[n, b]), []).append(n)

fig, (top, bottom) = new_figure(nrows=2, figsize=(7.4, 4.4), height_ratios=[N, 2.2])
for n in range(N):  # block tables: one row per sequence, its block ids in order
    top.text(-0.3, n + 0.5, f"seq {n} ({ex.seq_lens[n]} tokens)", ha="right", va="center")
    for b in range(max_blocks):
        read = b < -(-ex.seq_lens[n] // block_size)
        top.add_patch(Rectangle((b, n + 0.1), 0.9, 0.8, facecolor=colours[n] if read else "none",
                                edgecolor=FOREGROUND, linewidth=0.6, alpha=1 if read else 0.4))
        label = str(ex.block_tables[n, b]) if read else "pad"
        top.text(b + 0.45, n + 0.5, label, ha="center", va="center",
                 color=ink[n] if read else FOREGROUND, fontsize="small")
top.set(xlim=(-0.1, max_blocks), ylim=(N, 0), title="block_tables (one row per sequence)")
top.axis("off")
for block in range(num_blocks):  # the pool: every block's slots, filled by its sequence
    x = block * (block_size + 1)
    bottom.text(x + block_size / 2, -0.35, str(block), ha="center", va="bottom", fontsize="small")
    users = owner.get(block, [])
    for slot in range(block_size):
        filled = users and any(
            ex.block_tables[n].tolist().index(block) * block_size + slot < ex.seq_lens[n]
            for n in users
        )
        colour = colours[users[0]] if filled else "none"
        bottom.add_patch(Rectangle((x + slot, 0), 0.9, 0.9, facecolor=colour, edgecolor=FOREGROUND,
                                   linewidth=0.6, hatch="//" if len(users) > 1 else None))
bottom.set(xlim=(-0.5, num_blocks * (block_size + 1)), ylim=(1.2, -1.2))
bottom.set_title("the pool: num_blocks = 12 blocks of block_size = 4 slots", pad=2)
bottom.axis("off")
fig.tight_layout()
assert len(owner) == num_blocks - 3  # three spare blocks
assert int(ex.block_tables[0, 0]) == 0 and owner[0] == [0, 1]  # the shared prefix block
print(
    figure_html(
        fig,
        caption="The block tables of four sequences (10, 7, 13 and 3 tokens) and the pool of "
        "12 blocks they share, the example `tests/test_paged.py` checks. Sequences 0 and 1 "
        "share block 0 (hatched: a common prompt of 4 tokens). Blocks are handed out in no "
        "order; the only unused slots are at the end of each sequence's last block, and three "
        "blocks are free for whichever sequence grows next.",
        alt="Top: four rows of boxes, each listing a sequence's block ids in order, with "
        "padding after its last block. Bottom: twelve groups of four small squares, coloured "
        "by the sequence that owns the block; three groups are empty and a few last blocks "
        "are partly filled.",
    )
)
