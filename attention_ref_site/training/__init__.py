"""Tiny attention models, trained in NumPy while the site is built.

The pages "What trained attention learns" train these models from fixed seeds and show what
they learned. Everything is written out by hand: the forward pass, the backward pass (the
attention part through `attention_ref.sdpa_backward`, everything else here), cross-entropy
and Adam. `tests/test_training.py` checks every parameter's gradient of every model against
central differences.

Modules, one task each:

- `core`: cross-entropy, Adam, the training loop, embedding lookups and their gradients;
- `translation`: a toy French-to-English task whose word alignment is known; one
  cross-attention layer;
- `recall`: recall the one capital letter of a sequence, `n` positions back; one
  self-attention layer against an Elman RNN;
- `heads`: a task that needs two lookups at once (the previous position and an earlier
  position holding the same letter); one self-attention layer with one or two heads.

Each model is a dict of named arrays plus three functions, `init(rng, ...)`,
`forward(params, batch) -> (loss, cache)` and `backward(params, cache) -> grads`, with the
gradients in a dict of the same names and shapes. Every `train_*` function is deterministic
(seeded `numpy.random.Generator`s only) and cached, so pages that show the same model share
one training run; the arrays it returns must be treated as read-only.

Shapes use the legend of `attention_ref`: `B` batch, `L` query positions, `S` key positions,
`D` model width, `H` heads, `E` head width, `V` vocabulary (or number of classes).
"""

from attention_ref_site.training import core, heads, recall, translation

__all__ = ["core", "heads", "recall", "translation"]
