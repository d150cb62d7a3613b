"""The README's example runs, and its two set-up commands are the ones CI and the docs use."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def fenced_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.S | re.M)


def test_readme_example_runs_and_asserts():
    (example,) = fenced_blocks("python")
    assert "assert" in example  # the example checks what it claims
    exec(compile(example, "README.md", "exec"), {})


@pytest.mark.parametrize(
    ("marker", "must_contain"),
    [("serve-command", "mkdocs serve -a 127.0.0.1:"), ("test-command", "-m pytest")],
)
def test_readme_commands_are_single_lines_from_python3(marker, must_contain):
    block = re.search(rf"<!-- {marker} -->\n```bash\n(.*?)```", README, flags=re.S)
    assert block, f"README.md has no ```bash block after <!-- {marker} -->"
    command = block.group(1).strip()
    assert "\n" not in command, "each set-up step is exactly one command"
    assert command.startswith("python3 -m venv .venv && ")
    assert must_contain in command


def test_ci_runs_the_readme_test_command():
    """.ci/run reads the test command out of the README, so the two cannot drift apart."""
    script = ROOT / ".ci" / "run"
    extracted = subprocess.run(
        [
            "bash",
            "-c",
            f"source <(sed -n '/^readme_command()/,/^}}/p' {script}); readme_command test-command",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()
    expected = re.search(r"<!-- test-command -->\n```bash\n(.*?)```", README, re.S).group(1)
    assert extracted == expected.strip()


def test_torch_is_present_when_required():
    """CI installs torch so the PyTorch cross-checks run there instead of being skipped."""
    if os.environ.get("ATTENTION_REF_REQUIRE_TORCH") != "1":
        pytest.skip("ATTENTION_REF_REQUIRE_TORCH is not set: the torch cross-check is optional")
    import torch  # noqa: F401  (an ImportError here fails CI)
