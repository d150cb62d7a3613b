"""Measure the site build: cold `mkdocs build --strict` wall time, size, page weight.

    .venv/bin/python benchmarks/build_site.py

Prints the numbers the site issue asks to report: the wall time of a cold strict build
(a fresh output folder, a new Python process), the total size of the built site, the bytes
the article's first page transfers (its HTML and everything it loads: stylesheets, scripts,
fonts, images; raw and gzip-compressed), and how many executed blocks the docs hold. This is a
script, not a test: these machines are noisy, so the time is reported, never asserted.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(out: Path) -> float:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0", "NO_MKDOCS_2_WARNING": "1"}
    start = time.perf_counter()
    subprocess.run(
        # Not --quiet: with it, MkDocs 1.6 no longer counts warnings, and --strict passes them.
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return time.perf_counter() - start


def page_resources(site: Path, page: Path) -> list[Path]:
    """The files a browser fetches to show `page`: the HTML, its CSS, JS, images and fonts."""
    html = page.read_text(encoding="utf-8")
    tags = re.findall(r"<(?:link|script|img)\b[^>]*>", html)
    # Fetched: scripts, images, stylesheets and icons; not rel="canonical" (a URL, not a load).
    tags = [t for t in tags if not re.search(r'rel="(?:canonical|alternate|sitemap)"', t)]
    refs = [m.group(1) for t in tags if (m := re.search(r'(?:href|src)="([^"#?]+)', t))]
    files = [page]
    for ref in refs:
        if "://" in ref:
            raise SystemExit(f"{page} loads {ref} from another host")
        path = (page.parent / ref).resolve()
        if path.suffix in {".css", ".js", ".svg", ".png", ".woff2", ".ico"} and path.is_file():
            files.append(path)
    for css in [f for f in files if f.suffix == ".css"]:
        for ref in re.findall(r"url\(['\"]?([^'\")#?]+)", css.read_text(encoding="utf-8")):
            path = (css.parent / ref).resolve()
            if path.suffix == ".woff2" and path.is_file():
                files.append(path)
    return list(dict.fromkeys(files))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        seconds = build(site)
        total = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
        files = page_resources(site, site / "index.html")
        raw = sum(f.stat().st_size for f in files)
        packed = sum(len(gzip.compress(f.read_bytes(), 9, mtime=0)) for f in files)
        blocks = sum(
            len(re.findall(r'^```+\w*[^\n]*\bexec="(?:on|1|true)"', p.read_text("utf-8"), re.M))
            for p in (ROOT / "docs").rglob("*.md")
        )
        figures = sum(p.read_text("utf-8").count("<figcaption") for p in site.rglob("*.html"))
        print(f"cold mkdocs build --strict: {seconds:.1f} s")
        print(f"site/ total size:           {total / 1024:.0f} KiB")
        print(
            f"article first page:         {raw / 1024:.0f} KiB raw, {packed / 1024:.0f} KiB gzip "
            f"({len(files)} files)"
        )
        for f in files:
            print(f"    {f.stat().st_size / 1024:7.1f} KiB  {f.relative_to(site)}")
        print(f"executed blocks in docs/:   {blocks}")
        print(f"figures with captions:      {figures}")


if __name__ == "__main__":
    main()
