"""Execute the notebooks top to bottom (nbclient, the venv's kernel) so they never rot; check outputs stay out of git."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_notebooks_exist_and_are_stripped():
    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_isr_tradeoff.ipynb",
        "03_attention_maps.ipynb",
    ]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (
                    f"{path.name}: outputs not stripped"
                )
                # no model code: the package provides it
                assert not re.search(r"^\s*class |nn\.Module|import torch\.nn", cell.source, re.M), path.name


@pytest.mark.slow
def test_notebooks_run_top_to_bottom(tmp_path, monkeypatch):
    """02 trains and writes a checkpoint that 03 then reuses (03 also runs alone: it trains when none exists)."""
    monkeypatch.setenv("EDAFORMER_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.delenv("EDAFORMER_CKPT", raising=False)
    # the kernel must import this checkout's package with this interpreter
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
        )
        client.execute()
        images = [
            o
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.outputs
            if "image/png" in o.get("data", {})
        ]
        assert images, f"{path.name} drew no figure"
