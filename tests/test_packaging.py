"""The wheel's explicit package list (pyproject.toml) names every package of the source tree and the configs."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO


def test_package_list_covers_the_source_tree():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "edaformer").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found | {"edaformer.conf"} == listed
    assert setuptools["package-dir"]["edaformer.conf"] == "conf" and (REPO / "conf" / "__init__.py").is_file()
    depth = max(len(p.relative_to(REPO / "conf").parts) for p in (REPO / "conf").rglob("*.yaml"))
    assert f"{'*/' * (depth - 1)}*.yaml" in setuptools["package-data"]["edaformer.conf"]  # every YAML shipped
