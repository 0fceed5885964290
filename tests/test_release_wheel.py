"""Release checks: the sdist and wheel `make dist` builds work outside this repository.

The wheel goes into fresh virtualenvs (no PYTHONPATH, cwd outside the repository): one with no
extras (numpy must be the only dependency, the `lrkit` command prints the one-line hint) and one
with `[cli]` (`lrkit show` runs). numpy installs from pip's configured index or its cache; the same
version as this interpreter's, so an offline machine with a warm cache works.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("build")
# one worker builds the sdist and wheel once for the whole module (the fixture is module-scoped)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("release-wheel")]

ROOT = Path(__file__).resolve().parents[1]

SMOKE = """
import importlib.metadata as md, json, sys
import lrkit
s = lrkit.warmup(10) >> lrkit.cosine(start=0.1, end=0.001, steps=90)
assert lrkit.parse(str(s)) == s
assert lrkit.from_dict(json.loads(json.dumps(s.to_dict()))) == s
assert abs(s(10) - 0.1) < 1e-12 and abs(s(100) - 0.001) < 1e-12
assert lrkit.parse("one_cycle(peak=0.1, steps=100)")(50) > 0
assert lrkit.__version__ == md.version("lrkit")
assert "/site-packages/" in lrkit.__file__.replace("\\\\", "/"), lrkit.__file__
heavy = {"typer", "rich", "matplotlib", "torch", "jax", "array_api_compat"}
assert not heavy & set(sys.modules), heavy & set(sys.modules)
required = sorted(r for r in md.requires("lrkit") if "extra ==" not in r)
print(json.dumps(required))
"""


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(args: list[str | Path], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and out.returncode != 0:
        raise AssertionError(f"{args} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build`: the sdist, then the wheel built from the sdist (as `make dist`)."""
    src = tmp_path_factory.mktemp("src")
    # build from a copy, so the test never writes into the checkout
    shutil.copytree(
        ROOT,
        src,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".venv", ".git", "*cache*", "runs", "dist", "site", "build"),
    )
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", out, src], cwd=src)
    if shutil.which("twine") or _has("twine"):
        _run([sys.executable, "-m", "twine", "check", "--strict", *sorted(out.iterdir())], cwd=out)
    return out


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _venv(path: Path, requirement: str) -> Path:
    """A fresh venv with ``requirement`` installed by this interpreter's pip (``--python``): no
    pip of its own to bootstrap, no bytecode compiled (4-5x faster, the same files)."""
    venv.create(path, with_pip=False)
    bin_dir = path / ("Scripts" if os.name == "nt" else "bin")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            bin_dir / "python",
            "install",
            "--quiet",
            "--no-compile",
            requirement,
            f"numpy=={np.__version__}",
        ],
        cwd=path,
    )
    return bin_dir


def test_sdist_and_wheel_ship_the_license_changelog_and_py_typed(dist: Path) -> None:
    import tarfile
    import zipfile

    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "lrkit/py.typed" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    assert any(m.endswith("/CHANGELOG.md") for m in members)
    assert any(m.endswith("/src/lrkit/py.typed") for m in members)


def test_wheel_without_extras_depends_on_numpy_only(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    bin_dir = _venv(tmp_path / "venv", str(wheel))
    out = _run([bin_dir / "python", "-c", SMOKE], cwd=tmp_path)
    assert out.stdout.strip() == '["numpy>=1.26"]'
    listed = _run(
        [sys.executable, "-m", "pip", "--python", bin_dir / "python", "list"], cwd=tmp_path
    )
    installed = {line.split()[0].lower() for line in listed.stdout.splitlines()[2:]}
    assert installed - {"pip", "setuptools", "wheel"} == {"lrkit", "numpy"}
    # the command without [cli]: one line naming the extra, no traceback
    hint = _run([bin_dir / "lrkit", "list"], cwd=tmp_path, check=False)
    assert hint.returncode == 1
    assert "Traceback" not in hint.stderr
    assert hint.stderr.strip().splitlines() == [
        "error: the lrkit command needs typer, which is not installed: pip install 'lrkit[cli]'"
    ]


def test_wheel_with_the_cli_extra_runs_lrkit_show(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    bin_dir = _venv(tmp_path / "venv", f"lrkit[cli] @ {wheel.as_uri()}")
    out = _run(
        [bin_dir / "lrkit", "show", "warmup(10) >> cosine(start=0.1, steps=90)"], cwd=tmp_path
    )
    assert "cosine" in out.stdout
    plot = _run(
        [bin_dir / "lrkit", "plot", "cosine(start=1.0, steps=9)"], cwd=tmp_path, check=False
    )
    assert plot.returncode == 1
    assert plot.stderr.strip().splitlines() == [
        "error: this lrkit command needs matplotlib, which is not installed: pip install 'lrkit[plot]'"
    ]
