"""A plain install can say how to cite it: build the wheel, install it in a fresh virtual
environment (no yaml, no CITATION.cff, no source tree on the path) and print the citation.

Slow (a wheel build and a NumPy install, some tens of seconds): it is what a researcher does
after `pip install attention-ref`, and nothing cheaper shows that the citation ships with the
package rather than being read from the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from attention_ref_site import citation

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 900  # seconds per step: pip may fetch setuptools and NumPy on a loaded machine
SKIP = ("__pycache__", "*.pyc", ".git", ".venv", "site", "build", "dist", "*.egg-info")


def _run(args: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh venv with only the wheel (and NumPy) installed."""
    base = tmp_path_factory.mktemp("cite-installed")
    source = base / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*SKIP))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    _run([*pip, "wheel", "--no-deps", "-w", str(base / "dist"), str(source)], cwd=base)
    (wheel,) = (base / "dist").glob("attention_ref-*.whl")
    venv.create(base / "venv", with_pip=True)
    python = base / "venv" / "bin" / "python"
    _run(
        [str(python), "-m", "pip", "--disable-pip-version-check", "-q", "install", str(wheel)], base
    )
    return python


def test_installed_package_prints_the_citation(installed: Path, tmp_path: Path) -> None:
    expected = citation.citation_text(citation.load(ROOT / "CITATION.cff"))
    assert _run([str(installed), "-m", "attention_ref", "--cite"], cwd=tmp_path) == expected
    script = (
        "import attention_ref, importlib.util; "
        "assert importlib.util.find_spec('yaml') is None, 'yaml is installed'; "
        "print(attention_ref.__file__); print(attention_ref.__citation__, end='')"
    )
    where, printed = _run([str(installed), "-c", script], cwd=tmp_path).split("\n", 1)
    assert Path(where).is_relative_to(installed.parent.parent), where  # the wheel, not ROOT
    assert printed == expected
