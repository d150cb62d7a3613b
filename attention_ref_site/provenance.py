"""What the site was built from: the attention_ref and NumPy versions and the git commit.

Every page's footer states it (overrides/partials/copyright.html), so that a reader who cites a
number, table or figure knows what produced it. Nothing here reads the clock: the same checkout
in the same environment gives the same text, so the site stays reproducible byte for byte.

Outside a git checkout (a source archive, a copy of the tree, no `git` installed) the commit is
unknown and the footer says so; the build does not fail.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import attention_ref

__all__ = ["Provenance", "collect"]

GIT_TIMEOUT = 30  # seconds; git answers in milliseconds unless something is badly wrong


@dataclass(frozen=True)
class Provenance:
    version: str  # attention_ref.__version__
    numpy_version: str
    commit: str | None  # the full hash of HEAD, or None outside a git checkout
    commit_date: str | None  # HEAD's committer date, YYYY-MM-DD in UTC
    dirty: bool  # the working tree differs from HEAD (changed or untracked files)

    @property
    def short_commit(self) -> str | None:
        return self.commit[:12] if self.commit else None

    def text(self, full_commit: bool = False) -> str:
        """One sentence, as in the footer (which shows the commit shortened)."""
        built = f"Built with attention_ref {self.version} and NumPy {self.numpy_version}"
        if not self.commit:
            return f"{built}, outside a git checkout (commit unknown)."
        changes = ", with uncommitted changes" if self.dirty else ""
        commit = self.commit if full_commit else self.short_commit
        return f"{built} from commit {commit} ({self.commit_date}){changes}."

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "short_commit": self.short_commit, "text": self.text()}


def _git(root: Path, *args: str) -> str | None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        done = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(root), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def collect(root: Path | str) -> Provenance:
    """The provenance of a build of the project at `root` (the directory of mkdocs.yml)."""
    root = Path(root).resolve()
    commit = commit_date = None
    dirty = False
    top = _git(root, "rev-parse", "--show-toplevel")
    # Only when root is the top of its own checkout: a copy of the tree that happens to sit
    # inside some other repository must not report that repository's commit.
    if top is not None and Path(top.strip()).resolve() == root:
        head = _git(root, "log", "-1", "--format=%H %ct")
        if head:
            commit, seconds = head.split()
            when = dt.datetime.fromtimestamp(int(seconds), tz=dt.timezone.utc)
            commit_date = when.date().isoformat()
            status = _git(root, "status", "--porcelain")
            dirty = bool(status and status.strip())
    return Provenance(
        version=attention_ref.__version__,
        numpy_version=np.__version__,
        commit=commit,
        commit_date=commit_date,
        dirty=dirty,
    )
