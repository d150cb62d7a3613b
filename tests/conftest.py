"""Shared fixtures, helpers and the table of implementation paths for the attention_ref tests.

`impl` runs a test on every path that computes attention's output: the plain reference
(`attend`), the tile engine as `scaled_dot_product_attention` runs it (tiny, odd and default
tiles) and as `flash_attention` runs it (block sizes 1 and 7, a few query rows per tile).
`grad_impl` does the same for the backward pass. Paths are chosen by argument (the private
`_sdpa`, `_flash` and `_backward` take the path and the tile sizes), never by patching
module globals, so a test that passes on the plain path and fails on a tiled one names it.
"""

from __future__ import annotations

import importlib.util
import os
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from attention_ref._backward import _backward
from attention_ref._checks import prepare
from attention_ref._flash import _flash
from attention_ref._sdpa import _sdpa

# --- the site tests, and the library tests without them ---------------------------------------

#: Tests that build or drive the documentation site, or need its stack (mkdocs, matplotlib,
#: the site package): marked `site` (and tests/browser also `browser`). The library tests run
#: without them: `pytest -m "not site"`, or with `pip install -e '.[test-lib]'` alone, where
#: the docs stack is absent and these files are not collected.
SITE_TESTS = (
    "test_site.py",
    "test_publish.py",
    "test_training.py",
    "test_training_positions.py",  # the training pages' figures: matplotlib
    "test_figures.py",  # matplotlib
    "test_cite.py",  # reads CITATION.cff: yaml
    "test_distribution.py",  # reads CITATION.cff, builds the wheel
    "test_notebooks.py",  # the site's notebooks: nbformat, nbclient (docs and test extras)
    "browser",
)
_DOCS_STACK = ("mkdocs", "material", "markdown_exec", "matplotlib", "yaml", "nbformat")
HERE = Path(__file__).parent

docs_stack_missing = [m for m in _DOCS_STACK if importlib.util.find_spec(m) is None]
# Without the docs stack the site tests cannot even be imported: leave them out, and say so
# in the header. Under CI (CI=true) they are collected anyway, so a missing stack fails.
collect_ignore = list(SITE_TESTS) if docs_stack_missing and not os.environ.get("CI") else []


def pytest_report_header(config):
    if collect_ignore:
        missing = ", ".join(docs_stack_missing)
        return f"site tests not collected: the docs stack is not installed ({missing})"
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(item.path)
        if path.is_relative_to(HERE) and path.relative_to(HERE).parts[0] in SITE_TESTS:
            item.add_marker(pytest.mark.site)


@pytest.fixture
def rng(request):
    """A Generator seeded from the test's node id: reproducible, and different per test."""
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)


def normal(rng, shape, dtype=np.float64, scale=1.0):
    """`scale` times standard-normal values of `shape`, cast to `dtype`."""
    return (scale * rng.normal(size=shape)).astype(dtype)


def mask_of_kind(rng, kind, L, S):
    """`(attn_mask, is_causal)` of a kind: "none", "causal", "bool" or "float".

    The bool and float masks have a fully masked row (row 1 and row L - 1), and the bool
    mask hides most keys of its first half, so that whole tiles are skipped.
    """
    if kind == "none":
        return None, False
    if kind == "causal":
        return None, True
    if kind == "bool":
        mask = rng.random((L, S)) < 0.6
        mask[min(1, L - 1), :] = False  # a fully masked row
        mask[:, : S // 2] &= rng.random(S // 2) < 0.1  # whole tiles masked, mostly
        return mask, False
    mask = rng.normal(scale=2.0, size=(L, S))
    mask[rng.random((L, S)) < 0.2] = -np.inf
    mask[L - 1, :] = -np.inf  # a fully masked row
    return mask, False


Forward = Callable[..., np.ndarray]


def _forward_path(path, **sizes) -> Forward:
    def run(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
        p = prepare(q, k, v, attn_mask, is_causal, scale, enable_gqa)
        if path == "flash":
            out = _flash(p, **sizes)[0]
        else:
            out = _sdpa(p, path=path, **sizes)[0]
        return out.astype(p.out_dtype, copy=False)

    return run


#: Every path of the forward pass, with the tile sizes that exercise it: single scores,
#: tiles that divide no test length, and the defaults (one tile at test sizes).
FORWARD_PATHS: dict[str, Forward] = {
    "plain": _forward_path("plain"),
    "tiled-1x1": _forward_path("tiled", block_q=1, block_k=1),
    "tiled-7x5": _forward_path("tiled", block_q=7, block_k=5),
    "tiled-4x13": _forward_path("tiled", block_q=4, block_k=13),
    "tiled-default": _forward_path("tiled"),
    "flash-1": _forward_path("flash", block_size=1, block_q=1),
    "flash-7": _forward_path("flash", block_size=7, block_q=3),
    "flash-default": _forward_path("flash", block_size=128),
}


def _backward_path(path, **sizes) -> Callable[..., tuple[np.ndarray, ...]]:
    def run(d_out, q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
        p = prepare(q, k, v, attn_mask, is_causal, scale, enable_gqa, grad_output=d_out)
        return tuple(g.astype(p.out_dtype, copy=False) for g in _backward(p, path=path, **sizes))

    return run


#: Every path of the backward pass: the plain derivation, and the tiled one with blocks of
#: 1, 7 and the default number of query rows.
BACKWARD_PATHS = {
    "plain": _backward_path("plain"),
    "tiled-1": _backward_path("tiled", block_q=1),
    "tiled-7": _backward_path("tiled", block_q=7),
    "tiled-default": _backward_path("tiled"),
}


@pytest.fixture(params=list(FORWARD_PATHS))
def impl(request) -> Forward:
    """The forward pass on one path: `impl(q, k, v, attn_mask=..., ...)` -> output."""
    return FORWARD_PATHS[request.param]


@pytest.fixture(params=list(BACKWARD_PATHS))
def grad_impl(request):
    """The backward pass on one path: `grad_impl(d_out, q, k, v, ...)` -> (d_q, d_k, d_v)."""
    return BACKWARD_PATHS[request.param]
