"""What `pip install attention-ref` gives, and the workflow that publishes the project.

- The distribution: the sdist and the wheel are built with `python -m build` from a clean copy
  of the working tree (tracked and untracked files, nothing git ignores: what a fresh clone
  with these changes holds), checked with `twine check --strict` and `check-wheel-contents`,
  and their contents listed: the wheel holds `attention_ref` (with `conformance` and
  `py.typed`) and nothing else, in particular not `attention_ref_site`, the site's tooling.
- The installed wheel: a fresh virtual environment, the wheel installed into it; exactly two
  distributions appear (attention-ref and NumPy), and a fresh interpreter (`python -I`, outside
  the repository) imports `attention_ref` and `attention_ref.conformance` loading nothing
  but NumPy and the standard library, from the environment, not from the checkout; the
  conformance command line runs there.
- The metadata: the project URLs are the published site's address (mkdocs.yml's default
  `site_url`), the classifiers are known to PyPI, and the long description (the README) has
  no relative link, which PyPI could not follow.
- The deploy workflow (.github/workflows): `check-jsonschema --builtin-schema
  vendor.github-workflows` and `zizmor --offline` accept every workflow, and both reject a
  deliberately broken one (so the checks can fail); every action is pinned to a commit; and
  `.ci/run --plan` adapts to a hosted runner (sudo, PyTorch's CPU index).

The helpers `build_distributions` and `install_in_fresh_venv` (and the session fixtures
`distributions` and `wheel_venv` built on them) are meant for any test of the installed
package.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import attention_ref
from attention_ref_site import citation

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent  # the test environment's scripts: twine, zizmor, ...

BUILD_TIMEOUT = 600  # seconds; python -m build sets up an isolated environment (~5-30 s)
INSTALL_TIMEOUT = 600  # pip fetches NumPy from the configured index
COMMAND_TIMEOUT = 300

# The distributions a fresh environment holds before anything is installed (ensurepip's).
BOOTSTRAP = {"pip", "setuptools"}
# What installing the wheel may add: the package and its one dependency.
EXPECTED_NEW = {"attention-ref", "numpy"}

SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _run(command: list[str], *, timeout: float = COMMAND_TIMEOUT, **kwargs):
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, done.args))} exited {done.returncode}:\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return done


# ---------------------------------------------------------------------------------------------
# Building and installing


@dataclass(frozen=True)
class Distributions:
    sdist: Path
    wheel: Path


def clean_copy(destination: Path) -> Path:
    """The working tree as a fresh clone with these changes would hold it: tracked and
    untracked files, nothing that git ignores (no .venv, no stale *.egg-info, no site/)."""
    listed = _ok(
        _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    ).stdout
    destination.mkdir(parents=True)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a file deleted but not yet staged is listed, and absent
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def build_distributions(out: Path) -> Distributions:
    """`python -m build` (sdist, then the wheel from the sdist) from a clean copy."""
    source = clean_copy(out / "source")
    dist = out / "dist"
    _ok(
        _run(
            [sys.executable, "-m", "build", "--outdir", str(dist), str(source)],
            timeout=BUILD_TIMEOUT,
        )
    )
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    return Distributions(sdist, wheel)


def _distributions_in(python: Path) -> set[str]:
    listed = _ok(_run([str(python), "-m", "pip", "list", "--format", "json"])).stdout
    return {entry["name"].lower().replace("_", "-") for entry in json.loads(listed)}


@dataclass(frozen=True)
class Venv:
    python: Path
    before: set[str]  # distributions before the wheel was installed
    after: set[str]


def install_in_fresh_venv(wheel: Path, where: Path) -> Venv:
    """A new virtual environment (no system site-packages) with the wheel installed; its
    dependencies come from pip's configured index."""
    _ok(_run([sys.executable, "-m", "venv", str(where)]))
    python = where / "bin" / "python"
    before = _distributions_in(python)
    _ok(
        _run(
            [str(python), "-m", "pip", "install", "--quiet", "--no-cache-dir", str(wheel)],
            timeout=INSTALL_TIMEOUT,
        )
    )
    return Venv(python, before, _distributions_in(python))


@pytest.fixture(scope="session")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> Distributions:
    return build_distributions(tmp_path_factory.mktemp("distribution"))


@pytest.fixture(scope="session")
def wheel_venv(distributions: Distributions, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return install_in_fresh_venv(distributions.wheel, tmp_path_factory.mktemp("venv") / "env")


# ---------------------------------------------------------------------------------------------
# The distribution's contents


def _package_sources() -> set[str]:
    """attention_ref's files in the working tree (as `clean_copy` copies them)."""
    listed = _ok(
        _run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard",
             "attention_ref"],
            cwd=ROOT,
        )
    ).stdout  # fmt: skip
    return {name for name in listed.split("\0") if name and (ROOT / name).is_file()}


def test_wheel_holds_attention_ref_only(distributions: Distributions) -> None:
    with zipfile.ZipFile(distributions.wheel) as wheel:
        names = set(wheel.namelist())
    dist_info = f"attention_ref-{attention_ref.__version__}.dist-info"
    tops = {name.split("/")[0] for name in names}
    assert tops == {"attention_ref", dist_info}, f"unexpected top-level entries: {tops}"
    package = {name for name in names if name.startswith("attention_ref/")}
    assert package == _package_sources()
    assert {"attention_ref/py.typed", "attention_ref/conformance/__init__.py"} <= package
    assert not any("attention_ref_site" in name for name in names)


def test_sdist_holds_the_package_and_its_papers(distributions: Distributions) -> None:
    with tarfile.open(distributions.sdist) as sdist:
        files = [member.name for member in sdist.getmembers() if member.isfile()]
    names = {name.split("/", 1)[1] for name in files}
    package = {name for name in names if name.startswith("attention_ref/")}
    assert package == _package_sources()
    assert {"pyproject.toml", "README.md", "LICENSE", "CITATION.cff", "PKG-INFO"} <= names
    leaked = sorted(
        name
        for name in names
        if name.split("/")[0] in {"attention_ref_site", "tests", "docs", "site", "benchmarks"}
    )
    assert leaked == [], f"the sdist holds files that are not the package's: {leaked[:10]}"


def test_twine_check(distributions: Distributions) -> None:
    done = _ok(
        _run(
            [str(BIN / "twine"), "check", "--strict", str(distributions.sdist),
             str(distributions.wheel)]
        )
    )  # fmt: skip
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_check_wheel_contents(distributions: Distributions) -> None:
    done = _ok(_run([str(BIN / "check-wheel-contents"), str(distributions.wheel)]))
    assert done.stdout.strip().endswith("OK"), done.stdout


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(
            f"attention_ref-{attention_ref.__version__}.dist-info/METADATA"
        ).decode()
    return email.parser.Parser().parsestr(text)


def _default_site_url() -> str:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    found = re.search(r'^site_url: !ENV \[SITE_URL, "([^"]+)"\]$', text, flags=re.M)
    assert found, "mkdocs.yml's site_url is no longer `!ENV [SITE_URL, default]`"
    return found.group(1)


def test_metadata(distributions: Distributions) -> None:
    metadata = _metadata(distributions.wheel)
    assert metadata["Name"] == "attention-ref"
    assert metadata["Version"] == attention_ref.__version__
    assert metadata["License-Expression"] == "MIT"
    assert metadata["Description-Content-Type"] == "text/markdown"
    # NumPy is the only run-time dependency; everything else is behind an extra.
    required = [r for r in metadata.get_all("Requires-Dist") if "extra ==" not in r]
    assert required == ["numpy>=1.24"]
    # The project's address is the published site (there is no public repository yet).
    site = _default_site_url()
    urls = dict(entry.split(", ", 1) for entry in metadata.get_all("Project-URL"))
    assert urls["Homepage"] == site
    assert all(url.startswith(site) for url in urls.values()), urls
    # The site is versioned (mike): `latest` is the newest release's.
    assert urls["Documentation"] == site + "latest/reference/"
    assert urls["Citation"] == site + "latest/cite/"
    for page in ("reference/index.md", "cite.md"):
        assert (ROOT / "docs" / page).is_file(), f"a project URL points at docs/{page}"


def test_classifiers_are_known_to_pypi(distributions: Distributions) -> None:
    from trove_classifiers import classifiers as known

    listed = _metadata(distributions.wheel).get_all("Classifier")
    assert listed, "no classifiers"
    assert [c for c in listed if c not in known] == []
    # PEP 639: a license expression replaces the license classifiers.
    assert not [c for c in listed if c.startswith("License ::")]


def test_long_description_has_no_relative_link() -> None:
    """PyPI shows README.md without the repository around it: a relative link breaks there."""
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)", text) + re.findall(r'(?:href|src)="([^"]+)"', text)
    relative = [t for t in targets if not re.match(r"(https?://|mailto:|#)", t)]
    assert relative == [], f"relative links in README.md: {relative}"


# ---------------------------------------------------------------------------------------------
# The installed wheel

_IMPORT_PROBE = """
import json, sys
before = set(sys.modules)
import attention_ref
import attention_ref.conformance
new = sorted(set(sys.modules) - before)
try:
    import attention_ref_site
    site = attention_ref_site.__file__
except ImportError:
    site = None
print(json.dumps({
    "new": new,
    "stdlib": sorted(sys.stdlib_module_names),
    "file": attention_ref.__file__,
    "version": attention_ref.__version__,
    "site_tooling": site,
}))
"""


def test_wheel_installs_numpy_and_nothing_else(wheel_venv: Venv) -> None:
    assert wheel_venv.before <= BOOTSTRAP, wheel_venv.before
    assert wheel_venv.after - wheel_venv.before == EXPECTED_NEW


def test_installed_package_imports_only_numpy(wheel_venv: Venv, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = _ok(_run([str(wheel_venv.python), "-I", "-c", _IMPORT_PROBE], cwd=tmp_path, env=env))
    report = json.loads(done.stdout)
    venv = wheel_venv.python.parent.parent
    assert Path(report["file"]).resolve().is_relative_to(venv.resolve()), report["file"]
    assert report["version"] == attention_ref.__version__
    assert report["site_tooling"] is None, "attention_ref_site is importable from the wheel"
    allowed = set(report["stdlib"]) | {"numpy", "attention_ref"}
    foreign = [m for m in report["new"] if m.split(".")[0] not in allowed]
    assert foreign == [], f"importing attention_ref loaded: {foreign}"
    assert "attention_ref.conformance" in report["new"]


def test_installed_conformance_command_runs(wheel_venv: Venv, tmp_path: Path) -> None:
    """The wheel's command line checks an implementation: here the reference itself."""
    done = _run(
        [str(wheel_venv.python), "-I", "-m", "attention_ref.conformance",
         "attention_ref:scaled_dot_product_attention"],
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_installed_package_prints_the_citation(wheel_venv: Venv, tmp_path: Path) -> None:
    """A plain install says how to cite it (no yaml, no CITATION.cff, no source tree): what a
    researcher does after `pip install attention-ref`. The text is the one generated from
    CITATION.cff."""
    expected = citation.citation_text(citation.load(ROOT / "CITATION.cff"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    cite = [str(wheel_venv.python), "-I", "-m", "attention_ref", "--cite"]
    assert _ok(_run(cite, cwd=tmp_path, env=env)).stdout == expected
    script = (
        "import attention_ref, importlib.util; "
        "assert importlib.util.find_spec('yaml') is None, 'yaml is installed'; "
        "print(attention_ref.__citation__, end='')"
    )
    probe = [str(wheel_venv.python), "-I", "-c", script]
    assert _ok(_run(probe, cwd=tmp_path, env=env)).stdout == expected


# ---------------------------------------------------------------------------------------------
# The deploy workflow

# Valid, but unsafe: an action pinned to a tag, and a commit message expanded into a script.
UNSAFE_WORKFLOW = """\
name: unsafe
on: push
permissions:
  contents: read
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - run: echo "${{ github.event.head_commit.message }}"
"""
# Not a workflow: `runs-on` misspelt, a step with neither `run` nor `uses`.
INVALID_WORKFLOW = """\
name: invalid
on: push
jobs:
  build:
    runs_on: ubuntu-latest
    steps:
      - name: nothing to do
"""


def _workflows() -> list[Path]:
    found = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
    assert found, f"no workflow in {WORKFLOWS}"
    return found


def _check_jsonschema(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return _run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
         *map(str, paths)]
    )  # fmt: skip


def _zizmor(paths: list[Path]) -> tuple[int, list[dict]]:
    done = _run([str(BIN / "zizmor"), "--offline", "--format", "json", *map(str, paths)])
    try:
        findings = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        pytest.fail(f"zizmor did not answer JSON ({done.returncode}):\n{done.stderr}")
    return done.returncode, findings


def test_workflows_match_the_github_schema() -> None:
    done = _check_jsonschema(_workflows())
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing() -> None:
    returncode, findings = _zizmor(_workflows())
    summary = [(f["ident"], f["determinations"]["severity"]) for f in findings]
    assert findings == [], f"zizmor: {summary}"
    assert returncode == 0


def test_the_checkers_reject_broken_workflows(tmp_path: Path) -> None:
    """Both checks can fail: the schema an invalid workflow, zizmor an unsafe one."""
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    invalid, unsafe = folder / "invalid.yml", folder / "unsafe.yml"
    invalid.write_text(INVALID_WORKFLOW)
    unsafe.write_text(UNSAFE_WORKFLOW)
    assert _check_jsonschema([invalid]).returncode != 0
    assert _check_jsonschema([unsafe]).returncode == 0
    returncode, findings = _zizmor([unsafe])
    assert returncode != 0
    assert {"unpinned-uses", "template-injection"} <= {f["ident"] for f in findings}


def test_actions_are_pinned_to_commits() -> None:
    for path in _workflows():
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    assert SHA_PIN.match(step["uses"]), f"{path.name}: {step['uses']}"
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            if re.search(r"uses: \S+@[0-9a-f]{40}", line):
                assert re.search(r"# v\d+\.\d+\.\d+$", line), f"name the release: {line}"


def test_pages_workflow_tests_with_ci_run_then_deploys_with_mike() -> None:
    workflow = yaml.safe_load((WORKFLOWS / "pages.yml").read_text(encoding="utf-8"))
    jobs = workflow["jobs"]
    runs = {name: [s.get("run", "") for s in job["steps"]] for name, job in jobs.items()}
    assert [r.strip() for r in runs["test"] if r] == ["bash .ci/run"]
    assert jobs["deploy"]["needs"] == "test"
    deploy = "\n".join(runs["deploy"])
    assert "mike deploy --update-aliases" in deploy and " latest" in deploy
    assert "SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)" in deploy
    assert jobs["deploy"]["permissions"] == {"contents": "write"}
    assert workflow["permissions"] == {"contents": "read"}


# ---------------------------------------------------------------------------------------------
# .ci/run on a hosted runner


def _fake_bin(folder: Path, scripts: dict[str, str]) -> Path:
    folder.mkdir()
    for name, body in scripts.items():
        script = folder / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    return folder


def _plan(tmp_path: Path, scripts: dict[str, str], **env: str) -> dict[str, str]:
    fake = _fake_bin(tmp_path / "bin", scripts)
    environment = {
        **os.environ,
        "PATH": f"{fake}:{os.environ['PATH']}",
        "ATTENTION_REF_CHROMIUM": str(tmp_path / "no-chromium"),
        **env,
    }
    environment.pop("ATTENTION_REF_TORCH_INDEX", None)
    done = _ok(_run(["bash", str(ROOT / ".ci" / "run"), "--plan"], env=environment))
    return dict(line.split(": ", 1) for line in done.stdout.splitlines())


def test_ci_run_on_a_hosted_runner_uses_sudo_and_the_cpu_index(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        {"id": "echo 1001", "sudo": '[ "$1" = -n ] && shift; exec "$@"', "apt-get": "exit 0"},
    )
    assert plan == {
        "privilege": "sudo",
        "chromium": "install",
        "torch": "index https://download.pytorch.org/whl/cpu",
    }


def test_ci_run_without_root_or_sudo_skips_the_browser(tmp_path: Path) -> None:
    plan = _plan(tmp_path, {"id": "echo 1001", "sudo": "exit 1", "apt-get": "exit 0"})
    assert plan["privilege"] == "none"
    assert plan["chromium"] == "skip"


def test_ci_run_as_root_keeps_the_local_behaviour(tmp_path: Path) -> None:
    plan = _plan(tmp_path, {"id": "echo 0", "apt-get": "exit 0"})
    assert plan == {"privilege": "root", "chromium": "install", "torch": "local"}
