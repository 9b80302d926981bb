"""The notebooks: committed as ``notebooks/build_notebooks.py`` writes them, with the outputs of a run, rendered into
docs/notebooks/; and they still run top to bottom (nbclient, this interpreter's kernel)."""

from __future__ import annotations

import importlib.util
import re

import nbformat
import pytest

from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("build_notebooks", REPO / "notebooks" / "build_notebooks.py")
builder = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(builder)


def committed(name: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)


def figures(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_committed_notebooks_are_the_builders_cells_with_the_outputs_of_a_run():
    assert sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb")) == list(builder.NAMES)
    for name in builder.NAMES:
        nb, built = committed(name), builder.build(name)
        assert [(c.cell_type, c.source) for c in nb.cells] == [
            (c.cell_type, c.source) for c in built.cells
        ], name
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), f"{name}: not run in order"
        assert not [o for c in code for o in c.outputs if o.output_type == "error"], name
        assert figures(nb) >= 1, f"{name} drew no figure"
        for cell in code:  # no model code: the package provides it
            assert not re.search(r"^\s*class |nn\.Module|import torch\.nn", cell.source, re.M), name


def test_rendered_pages_are_the_committed_outputs(tmp_path):
    for name in builder.NAMES:
        assert builder.render(committed(name), name, tmp_path) == (builder.DOCS / f"{name}.md").read_text(), (
            name
        )
    for png in tmp_path.iterdir():
        assert png.read_bytes() == (builder.DOCS / png.name).read_bytes(), png.name
    assert {p.name for p in builder.DOCS.iterdir()} == {p.name for p in tmp_path.iterdir()} | {
        f"{name}.md" for name in builder.NAMES
    }


@pytest.mark.slow
def test_notebooks_run_top_to_bottom(tmp_path, monkeypatch, trained_run):
    """The three notebooks' cells, one after the other in one kernel (one start and one import of the package
    instead of three; ``make notebooks`` runs each in a kernel of its own). The session's training
    (EDAFormer-Mini on the demo data) stands in for the notebooks' demo run, so that no notebook trains here."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "demo_run").symlink_to(trained_run, target_is_directory=True)
    monkeypatch.setenv("EDAFORMER_NOTEBOOK_OUT", str(out))
    parts = [builder.build(name) for name in builder.NAMES]
    together = builder.build(builder.NAMES[0])
    together.cells = [cell for nb in parts for cell in nb.cells]
    builder.execute(together, timeout=300)
    for name, nb in zip(builder.NAMES, parts):
        assert figures(nb) >= 1, f"{name} drew no figure"
