"""The package as users install it: every package and config file in the wheel, every console script importable,
and a wheel installed into a fresh environment running commands from an unrelated directory."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own dependency
    import tomli as tomllib

from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def test_packages_list_names_every_package():
    found = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "edaformer").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert set(SETUPTOOLS["packages"]) == found | {"edaformer.conf"}
    assert SETUPTOOLS["package-dir"] == {
        "edaformer.conf": "conf"
    }  # one copy of the configs: the top-level conf/


def test_package_data_covers_every_config_file():
    conf = REPO / "conf"
    shipped = {p for pattern in SETUPTOOLS["package-data"]["edaformer.conf"] for p in conf.glob(pattern)}
    files = {p for p in conf.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".py"}
    assert files - shipped == set()


@pytest.mark.parametrize("script", sorted(PYPROJECT["project"]["scripts"]))
def test_console_script_targets_import(script):
    module, _, function = PYPROJECT["project"]["scripts"][script].partition(":")
    assert callable(getattr(importlib.import_module(module), function))


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel built from this checkout; it sees the test environment's
    dependencies (a ``.pth`` line) but neither the checkout nor its editable install."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("edaformer", "conf"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", root / "dist", src], check=True)
    (wheel,) = (root / "dist").glob("edaformer-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # A path line, not a site dir: the .pth files there (the editable install's finder) are not run.
    Path(purelib, "test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "-q", wheel], check=True)
    return venv


def run_installed(venv: Path, cwd: Path, *cmd: str) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EDAFORMER_DATA", "EDAFORMER_LOG_DIR")
    }
    env["OMP_NUM_THREADS"] = "1"
    exe = [str(venv / "bin" / cmd[0]), *cmd[1:]]
    return subprocess.run(exe, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_wheel_commands_run_from_an_unrelated_directory(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run_installed(installed, elsewhere, "python", "-c", "import edaformer; print(edaformer.__file__)")
    assert where.returncode == 0 and where.stdout.startswith(str(installed)), where.stdout + where.stderr
    version = run_installed(installed, elsewhere, "edaformer-eval", "--version")  # the wheel's own metadata
    assert version.stdout == f"edaformer {PYPROJECT['project']['version']}\n", version.stdout + version.stderr

    helped = run_installed(installed, elsewhere, "edaformer-train", "--help")
    assert helped.returncode == 0, helped.stderr
    assert (
        helped.stdout.startswith("edaformer-train: ")
        and "model: edaformer_b, edaformer_mini, edaformer_t*" in helped.stdout
    )

    counted = run_installed(
        installed, elsewhere, "edaformer-complexity", "model=edaformer_t", "size=[512,512]", "isr=paper"
    )
    assert counted.returncode == 0, counted.stderr
    assert "GFLOPs: 4.71" in counted.stdout  # the paper's Table 1: 4.7

    from edaformer.data import ensure_demo_dataset

    demo = ensure_demo_dataset(tmp_path / "demo", num_train=4, num_val=2).parent
    args = ["data=demo", f"data.root={demo}", "data.num_train=4", "data.num_val=2", "splits=[val]"]
    checked = run_installed(installed, elsewhere, "edaformer-check-dataset", *args)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "[val] split 'validation': 2 ok, 0 problem(s)" in checked.stdout
    assert sorted(p.name for p in elsewhere.iterdir()) == []  # tools leave no run dir behind
