"""``python -m attention_ref``: the version, and with ``--cite`` how to cite attention_ref.

The citation is `attention_ref.__citation__`, generated from the project's CITATION.cff (see
`attention_ref._citation`), so the installed package needs no other file to print it.
"""

from __future__ import annotations

import argparse
import sys

from . import __citation__, __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m attention_ref",
        description=f"attention_ref {__version__}: a tested NumPy reference implementation "
        "of attention.",
    )
    parser.add_argument(
        "--cite",
        action="store_true",
        help="print how to cite attention_ref and the article, as BibTeX",
    )
    parser.add_argument("--version", action="version", version=f"attention_ref {__version__}")
    args = parser.parse_args(argv)
    if args.cite:
        sys.stdout.write(__citation__)
    else:
        parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover (run as a command by tests/test_distribution.py)
    raise SystemExit(main())
