"""`python -m attention_ref.conformance module:function`: the check from the command line."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import cast

from ._battery import DTYPES
from ._check import LAYOUTS, check, dtype_names
from ._rope import rope_check

DESCRIPTION = """\
Check an attention implementation against attention_ref and name the conventions that
differ. TARGET is MODULE:FUNCTION (my_attention:attention) or FILE.py:FUNCTION
(path/to/my_attention.py:attention), a function called as
fn(query, key, value, attn_mask=None, is_causal=False, scale=None) on NumPy arrays
(B, H, L, E) (or (B, L, H, E) with --layout BLHE). A module is imported as Python imports
it: from the current directory (python -m puts it first on sys.path) or from an installed
package; a file is run as a module named after it, with its directory on sys.path.
Exit status: 0 if it conforms, 1 if not, 2 for a usage error."""


def load(target: str) -> Callable[..., object]:
    """Load `module:attribute` or `path/file.py:attribute` (the attribute may be dotted,
    e.g. `module:Class.method`)."""
    module_name, sep, attribute = target.rpartition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected MODULE:FUNCTION or FILE.py:FUNCTION, got {target!r}")
    obj: object = _module(module_name)
    for name in attribute.split("."):
        obj = getattr(obj, name)
    if not callable(obj):
        raise TypeError(f"{target} is not callable")
    return cast(Callable[..., object], obj)


def _module(name: str) -> ModuleType:
    """Import a module by name, or run a `.py` file (a name with a `/` or ending in `.py`)."""
    if not (name.endswith(".py") or "/" in name or "\\" in name):
        return importlib.import_module(name)
    path = Path(name)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {name}")
    directory = str(path.resolve().parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)  # the file's own imports of its neighbours
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {name} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 conforms, 1 does not, 2 usage error).

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name; None reads `sys.argv[1:]`.
    """
    parser = argparse.ArgumentParser(
        prog="python -m attention_ref.conformance",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "target", metavar="TARGET", help="the implementation, MODULE:FUNCTION or FILE.py:FUNCTION"
    )
    parser.add_argument(
        "--backward",
        metavar="MODULE:FUNCTION",
        help="its backward pass, backward(grad_output, query, key, value, ...) -> (dq, dk, dv)",
    )
    parser.add_argument(
        "--dtypes",
        default=",".join(DTYPES),
        help="comma-separated dtypes to test (default: %(default)s)",
    )
    parser.add_argument(
        "--layout",
        choices=sorted(LAYOUTS),
        default="BHLE",
        help="the axes of query, key, value and output: BHLE is (B, H, L, E), PyTorch's; "
        "BLHE is (B, L, H, E), JAX's (default: %(default)s)",
    )
    parser.add_argument(
        "--array",
        metavar="MODULE:FUNCTION",
        help="converts each input array before the call, e.g. torch:from_numpy or "
        "jax.numpy:asarray (default: NumPy arrays)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs (default: 0)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--rope",
        action="store_true",
        help="TARGET is a rotary embedding, fn(x, positions, base=, rotary_dim=, interleaved=): "
        "check it against attention_ref.rotary_embedding instead (rope_check)",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2): a status, not an exit
        return int(exit_.code or 0)

    try:
        fn = load(args.target)
        backward = None if args.backward is None else load(args.backward)
        array = None if args.array is None else load(args.array)
        dtypes = dtype_names(args.dtypes.split(","))
    except (ImportError, AttributeError, TypeError, ValueError, OSError) as error:
        print(f"{parser.prog}: error: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    if args.rope:
        report = rope_check(fn, seed=args.seed)
    else:
        report = check(
            fn, dtypes=dtypes, backward=backward, layout=args.layout, array=array, seed=args.seed
        )
    print(report.to_json() if args.json else report)
    return 0 if report.ok else 1
