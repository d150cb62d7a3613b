"""MkDocs hook (mkdocs.yml `hooks:`): provenance, citation and publishing for the site.

- Provenance (`attention_ref_site.provenance`): the attention_ref and NumPy versions and the
  commit, put in `config.extra.provenance` for the footer (overrides/partials/copyright.html).
- Citation (`attention_ref_site.citation`): the build stops if `CITATION.cff`'s version is not
  `attention_ref.__version__`. A page may hold these markers, replaced while it is built:
  `<!-- attention-ref:bibtex -->` (a ```bibtex block: the software, with the commit of the
  build in a `note` when it is known), `<!-- attention-ref:article-bibtex -->` (the article),
  `<!-- attention-ref:version -->`, `<!-- attention-ref:provenance -->` (the footer's
  sentence, with the full commit hash). `CITATION.cff` and `citation.bib` (both entries, as
  shown) are published at the site's root.
- Versions (mike): in a build by `mike deploy VERSION` (which sets `MIKE_DOCS_VERSION`), the
  header gets Material's version selector (`extra.version.provider: mike`, with `latest` as
  the default alias), and `<!-- attention-ref:site-url -->` says the versioned address,
  `site_url` + `VERSION/`. A plain build has no selector and gives `site_url`.
- Accessibility: Material's search box is a `role="dialog"` without a name; every page's
  gets `aria-label="Search"` (an ARIA dialog needs an accessible name).
- Publishing: the social image (`attention_ref_site.social`) at `SOCIAL_IMAGE`, its URL in
  `config.extra.social_image` for the Open Graph tags (overrides/main.html), and `robots.txt`
  with the sitemap's URL.

- Notebooks (`attention_ref_site.notebooks`): every page with executed code is also written
  as a Jupyter notebook, `notebooks/<page>.ipynb`, from the blocks markdown-exec ran (recorded
  as they run) and the page's prose, and the page links to it under its title.
- Importing the site's tooling: `attention_ref_site` is not part of the attention-ref
  distribution (the wheel holds `attention_ref` alone), so the build imports it from the
  repository this file is in: loading the hook puts the repository on `sys.path` (MkDocs
  restores `sys.path` after loading a hook, so `on_config` does it again, for the Markdown
  extension and for the pages' executed blocks), and `on_config` registers the math
  extension (`attention_ref_site.mathml`), which mkdocs.yml cannot name: MkDocs imports the
  extensions it lists before it loads hooks.

Nothing here reads the clock, so two builds of the same commit are identical byte for byte.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_REPOSITORY = str(Path(__file__).resolve().parent.parent)


def _import_from_repository() -> None:
    """Make `attention_ref_site` importable from this checkout (it is not installed)."""
    if _REPOSITORY not in sys.path:
        sys.path.insert(0, _REPOSITORY)


_import_from_repository()

# ruff: noqa: E402  (the imports below need the repository on sys.path)
from typing import Any
from urllib.parse import urljoin, urlsplit

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url
from mkdocs.utils import meta as front_matter

from attention_ref_site import citation, mathml, notebooks, provenance, social

SOCIAL_IMAGE = "assets/images/social.png"

MARKERS = {
    "bibtex": "<!-- attention-ref:bibtex -->",
    "article-bibtex": "<!-- attention-ref:article-bibtex -->",
    "version": "<!-- attention-ref:version -->",
    "provenance": "<!-- attention-ref:provenance -->",
    "site-url": "<!-- attention-ref:site-url -->",
}
MIKE_VERSION = "MIKE_DOCS_VERSION"  # set by `mike deploy` for the build it runs

# Material 9's search box (partials/search.html), and the same with an accessible name.
_SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog">'
_NAMED_SEARCH_DIALOG = (
    '<div class="md-search" data-md-component="search" role="dialog" aria-label="Search">'
)

_state: dict[str, Any] = {}
_recorder = notebooks.Recorder()


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


# First among the plugins: mkdocstrings reads the Markdown extensions in its own on_config (math
# in docstrings), and markdown-exec's blocks import attention_ref_site.
@event_priority(100)
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    _import_from_repository()
    # $...$ and $$...$$ to MathML at build time, on every page and in docstrings.
    if not any(isinstance(e, mathml.MathMLExtension) for e in config.markdown_extensions):
        config.markdown_extensions.append(mathml.MathMLExtension())
    # Record what markdown-exec runs, for the notebooks (installed once per process).
    _recorder.install()
    root = _root(config)
    site_url = config.site_url
    if not site_url or not urlsplit(site_url).scheme or not urlsplit(site_url).netloc:
        raise PluginError(
            f"site_url must be an absolute URL (canonical links, the sitemap and the Open "
            f"Graph image need it), got {site_url!r}: set SITE_URL"
        )
    cff_path = root / "CITATION.cff"
    try:
        cff = citation.load(cff_path)
        citation.article(cff)  # the Cite page shows it: a CITATION.cff without it fails here
    except (OSError, ValueError) as error:
        raise PluginError(f"cannot read the citation: {error}") from error
    built = provenance.collect(root)
    if str(cff["version"]) != built.version:
        raise PluginError(
            f"CITATION.cff says version {cff['version']}, attention_ref.__version__ is "
            f"{built.version}: update CITATION.cff (and CHANGELOG.md)"
        )
    version = os.environ.get(MIKE_VERSION, "").strip()
    if version:
        # Material's selector: ../versions.json, written by mike next to the versions.
        config.extra["version"] = {"provider": "mike", "default": "latest", "alias": True}
        versioned_url = urljoin(site_url, f"{version}/")
        site_sentence = (
            "Every release of the site stays published under its own version, so the page "
            f"you cite is the page your reader finds. This is version {version}, at "
            f"<{versioned_url}>; <{urljoin(site_url, 'latest/')}> follows the newest release, "
            "and the selector in the header switches between versions."
        )
    else:
        site_sentence = f"This site is published at <{site_url}>."
    home = root / config.docs_dir / "index.md"
    _, home_meta = front_matter.get_data(home.read_text(encoding="utf-8"))
    _state.clear()
    _state.update(
        root=root,
        site_sentence=site_sentence,
        notebooks={},
        page_markdown={},
        cff_text=cff_path.read_bytes(),
        bibtex=citation.bibtex(cff, commit=built.commit, dirty=built.dirty),
        article_bibtex=citation.article_bibtex(cff),
        provenance=built,
        cover=dict(
            title=str(home_meta.get("title") or config.site_name),
            subtitle=(
                "An article whose every example runs, when the site is built, "
                "against a tested NumPy reference implementation"
            ),
            footer=config.site_name,
        ),
    )
    config.extra["provenance"] = built.as_dict()
    config.extra["social_image"] = {
        "url": urljoin(site_url, SOCIAL_IMAGE),
        "type": "image/png",
        "width": social.WIDTH,
        "height": social.HEIGHT,
        "alt": social.ALT,
    }
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    robots = (
        "# Every page may be crawled; the sitemap lists them.\n"
        "User-agent: *\n"
        "Disallow:\n"
        "\n"
        f"Sitemap: {urljoin(config.site_url, 'sitemap.xml')}\n"
    )
    generated = {
        "CITATION.cff": _state["cff_text"],
        "citation.bib": f"{_state['bibtex']}\n{_state['article_bibtex']}".encode(),
        "robots.txt": robots.encode(),
        SOCIAL_IMAGE: social.cover_png(**_state["cover"]),
    }
    for src_uri, content in generated.items():
        if files.get_file_from_path(src_uri) is not None:
            raise PluginError(f"docs/{src_uri} exists, but the build generates it")
        files.append(File.generated(config, src_uri, content=content))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    built: provenance.Provenance = _state["provenance"]
    replacements = {
        "bibtex": f"```bibtex\n{_state['bibtex']}```",
        "article-bibtex": f"```bibtex\n{_state['article_bibtex']}```",
        "version": built.version,
        "provenance": built.text(full_commit=True),
        "site-url": _state["site_sentence"],
    }
    for name, marker in MARKERS.items():
        markdown = markdown.replace(marker, replacements[name])
    _recorder.take()  # blocks run outside any page (none expected) belong to no notebook
    _state["page_markdown"][page.file.src_uri] = markdown
    return markdown


_NOTEBOOK_LINK = (
    '<p class="ar-notebook"><a href="{href}" download="attention-ref-{stem}.ipynb">'
    "Download this page as a Jupyter notebook</a> (run it after "
    "<code>pip install attention-ref matplotlib</code>)</p>"
)


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Write the page's notebook from the blocks that ran while it was converted; link it."""
    blocks = _recorder.take()
    if not blocks or any(block.output is None for block in blocks):
        return html  # a block raised: markdown-exec warned, and the strict build fails
    src_uri = page.file.src_uri
    parts = notebooks.split_markdown(_state["page_markdown"][src_uri])
    executed = [part for part in parts if isinstance(part, int)]
    if len(executed) != len(blocks):
        raise PluginError(
            f"{src_uri}: {len(blocks)} blocks ran but the page has {len(executed)} executed "
            "blocks (attention_ref_site/notebooks.py's reading of the page is out of step)"
        )

    def url_of(target: str) -> str | None:
        file = files.get_file_from_path(target)
        return file.url if file is not None else None

    resolve = notebooks.resolver(src_uri, page.url, config.site_url, url_of)
    parts = [notebooks.absolute_links(p, resolve) if isinstance(p, str) else p for p in parts]
    notebook = notebooks.build_notebook(
        title=page.title or config.site_name,
        page_url=urljoin(config.site_url, page.url),
        parts=parts,
        blocks=blocks,
        modules=notebooks.site_modules([b.code for b in blocks], _state["root"]),
        provenance=_state["provenance"],
    )
    path = notebooks.notebook_path(src_uri)
    _state["notebooks"][path] = notebooks.dumps(notebook)
    link = _NOTEBOOK_LINK.format(href=get_relative_url(path, page.url), stem=Path(path).stem)
    if "</h1>" in html:
        return html.replace("</h1>", "</h1>" + link, 1)
    return link + html


def on_post_build(config: MkDocsConfig) -> None:
    site = Path(config.site_dir)
    for path, content in sorted(_state["notebooks"].items()):
        target = site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _name_search_dialog(output: str) -> str:
    return output.replace(_SEARCH_DIALOG, _NAMED_SEARCH_DIALOG)


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    return _name_search_dialog(output)


def on_post_template(output_content: str, template_name: str, config: MkDocsConfig) -> str:
    return _name_search_dialog(output_content)  # 404.html
