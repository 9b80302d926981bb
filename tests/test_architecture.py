"""The layers of docs/architecture.md, checked on the source: every import must run along the arrows.

models (torch only) ← core (checkpoints, flops, errors, paper, optim, results, ...) ← data, evaluation ← lit, viz,
tools, search ← workflows, config ← cli. Below the workflows, the library never imports its tools or its command line.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "edaformer"
CORE_MODULES = {
    "checkpoints",
    "devices",
    "errors",
    "files",
    "finite",
    "flops",
    "paper",
    "optim",
    "results",
    "tables",
    "training_checkpoints",
}

# layer -> the layers its modules may import from (its own included)
ALLOWED: dict[str, set[str]] = {
    "models": {"models"},
    "core": {"models", "core"},
    "data": {"data"},
    "evaluation": {"models", "core", "data", "evaluation"},
    "viz": {"models", "core", "data", "evaluation", "viz"},
    "lit": {"models", "core", "data", "evaluation", "lit"},
    "tools": {"models", "core", "data", "evaluation", "tools"},
    "search": {"models", "core", "evaluation", "search"},
    "config": {"models", "core", "data", "config"},
    "workflows": {
        "models",
        "core",
        "data",
        "evaluation",
        "viz",
        "lit",
        "tools",
        "search",
        "config",
        "workflows",
    },
    "cli": {
        "models",
        "core",
        "data",
        "evaluation",
        "viz",
        "lit",
        "tools",
        "search",
        "config",
        "workflows",
        "cli",
        "root",  # edaformer.__version__, for --version
    },
    "root": set(),
}
# third-party packages a layer may import besides the standard library
# (models: the Hugging Face Hub mixin for save_pretrained / from_pretrained; timm only inside the optional
# registration function, never a dependency)
THIRD_PARTY: dict[str, set[str]] = {
    "models": {"torch", "huggingface_hub", "safetensors", "timm"},
    "core": {"torch", "numpy"},
}


def layer_of(module: str) -> str:
    """``edaformer.models.efa`` → ``models``; ``edaformer.checkpoints`` → ``core``; ``edaformer`` → ``root``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    if parts[1] in CORE_MODULES:
        return "core"
    if parts[1] not in ALLOWED:
        raise AssertionError(f"{module}: no layer for edaformer.{parts[1]}; add it to docs/architecture.md")
    return parts[1]


def module_name(path: Path, root: Path = REPO) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path, root: Path = REPO) -> list[tuple[int, str]]:
    """Absolute names of every module imported by ``path`` (relative imports resolved), with line numbers."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
                # ``from . import x`` imports a submodule
                found += [(node.lineno, f"{name}.{a.name}" if not node.module else name) for a in node.names]
            elif node.module:
                found.append((node.lineno, node.module))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_package_module_has_a_layer():
    for path in SOURCES:
        layer_of(module_name(path))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_along_the_arrows(path: Path):
    source = module_name(path)
    layer = layer_of(source)
    problems = []
    for line, name in imported_modules(path):
        top = name.split(".")[0]
        if top == "edaformer":
            target = layer_of(name) if name != "edaformer" else "root"
            if target != layer and target not in ALLOWED[layer]:
                problems.append(f"line {line}: {source} ({layer}) imports {name} ({target})")
        elif layer in THIRD_PARTY and top not in {
            *sys.stdlib_module_names,
            "__future__",
            *THIRD_PARTY[layer],
        }:
            problems.append(f"line {line}: {source} ({layer}) imports third-party {name}")
    assert not problems, "imports against the arrows of docs/architecture.md:\n" + "\n".join(problems)


def test_the_checker_sees_a_violation(tmp_path):
    """The rule above can fail: a models module importing Lightning or the CLI is reported."""
    bad = PACKAGE / "models" / "efa.py"
    tree_imports = imported_modules(bad)
    assert any(name.startswith("torch") for _, name in tree_imports)
    fake = tmp_path / "edaformer" / "models" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from ..cli import train\nimport lightning\n")
    rel_names = [n for _, n in imported_modules(fake, root=tmp_path)]
    assert rel_names == ["edaformer.cli", "lightning"]
    assert "cli" not in ALLOWED["models"] and "lightning" not in THIRD_PARTY["models"]


def test_every_module_is_in_the_module_index():
    """docs/architecture.md lists every module once in its index, and no module that is gone."""
    text = (REPO / "docs" / "architecture.md").read_text()
    index = text[text.index("## Module index") :]
    listed = [line.split("`")[1] for line in index.splitlines() if line.startswith("| `")]
    modules = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py" or p.parent == PACKAGE
    ]
    assert sorted(listed) == sorted(modules)
