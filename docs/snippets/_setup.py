# Shared setup of every docs page. Each page runs it once, first, in its own markdown-exec
# session (a hidden block), then its visible blocks use these names. See docs/_writing.md.
import numpy as np

# The pages' blocks use these names; this file alone does not.
import attention_ref as ar  # noqa: F401
from attention_ref_site import figures
from attention_ref_site.figures import figure_html, heatmap, mask_figure, new_figure  # noqa: F401

np.set_printoptions(precision=3, suppress=True)
figures.use_style()

# Seeded per page: a page's numbers do not depend on the pages built before it.
rng = np.random.default_rng(0)


def show(name, array):
    """Print an array's name, shape and values (use in a block with result="text")."""
    array = np.asarray(array)
    print(f"{name}: shape {array.shape}")
    print(array)
