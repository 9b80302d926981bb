"""The ISR table and trade-off plot put the paper's Table 4 mIoU beside ours when model and benchmark match."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from edaformer.errors import UserError
from edaformer.paper import PAPER_MIOU, PAPER_MIOU_SETTINGS
from edaformer.results import ResultRow
from edaformer.viz.tradeoff import paper_miou, tradeoff_figure
from edaformer.workflows.isr_table import build_table, build_tables

ADE = "edaformer.data.ADE20KDataModule"
SWEEP = [  # setting, ratios, GFLOPs, our mIoU
    ("train", "8,4,2,1-1,2,4", 5.63, 0.4251),
    ("dec2x", "8,4,2,1-2,4,8", 5.31, 0.4240),
    ("paper", "16,8,2,1-2,4,8", 4.72, 0.4188),
    ("aggressive", "16,8,4,2-2,4,8", 4.10, 0.4102),
]


def write_sweep(
    root: Path,
    model: str,
    data: str,
    flops_size: str = "512x512",
    tta: bool = False,
    train_isr: str | None = None,
) -> None:
    for i, (setting, isr, gflops, miou) in enumerate(SWEEP):
        job = root / f"{i}_isr={setting}"
        job.mkdir(parents=True)
        row = dict(setting=setting, isr=isr, params=4_929_914, gflops=gflops, flops_size=flops_size)
        row.update(mIoU=miou, model=model, data=data, tta=tta)
        if train_isr is not None:  # rows written before the training ratios were recorded have none
            row["train_isr"] = train_isr
        (job / "results.json").write_text(json.dumps({"results": [row]}))


def test_paper_miou_data_is_table_4():
    assert len(PAPER_MIOU) == 2 * 3 * len(PAPER_MIOU_SETTINGS)
    assert PAPER_MIOU["edaformer_t", "train", "ade20k"] == 42.3
    assert PAPER_MIOU["edaformer_t", "aggressive_trained", "cityscapes"] == 78.6
    assert PAPER_MIOU["edaformer_b", "aggressive", "coco_stuff"] == 45.0
    assert PAPER_MIOU["edaformer_b", "paper", "cityscapes"] == 81.6


def test_isr_table_shows_the_paper_beside_ours(tmp_path):
    write_sweep(tmp_path, "edaformer_t", ADE)
    lines = build_table(tmp_path).text.splitlines()
    assert lines[0].endswith("| paper mIoU (%) | ours − paper |")
    assert lines[2] == (
        "| train | 8,4,2,1-1,2,4 | 8,4,2,1-1,2,4 | 4.93 | 5.63 | +0.0 % | 42.51 | +0.00 | 42.3 | +0.21 |"
    )
    assert lines[5].endswith("| 41.02 | -1.49 | 41.3 | -0.28 |")
    assert (
        lines[-1].startswith("Paper, Table 4 (*): the same model *trained* at the aggressive")
        and "42.1 mIoU" in lines[-1]
    )
    csv = (tmp_path / "isr_table.csv").read_text().splitlines()
    assert csv[0].endswith(",paper_mIoU,ours_minus_paper") and csv[3].endswith(",42.1,-0.22")
    assert (tmp_path / "isr_table.png").stat().st_size > 1000


def test_isr_table_of_a_checkpoint_trained_at_the_aggressive_ratios(tmp_path):
    """Table 4's row marked *: the aggressive row is compared with 42.1; the paper has no other row for it."""
    write_sweep(tmp_path, "edaformer_t", ADE, train_isr="16,8,4,2-2,4,8")
    lines = build_table(tmp_path).text.splitlines()
    assert " trained at " in lines[0]
    assert lines[2].startswith("| train | 8,4,2,1-1,2,4 | 16,8,4,2-2,4,8 |") and lines[2].endswith(" — | — |")
    # deltas are relative to the row at the model's own ratios
    assert lines[5] == (
        "| aggressive | 16,8,4,2-2,4,8 | 16,8,4,2-2,4,8 | 4.93 | 4.10 | +0.0 % | 41.02 | +0.00 | 42.1 | -1.08 |"
    )
    assert "Paper, Table 4 (*)" not in lines[-1]  # the row itself is the comparison


@pytest.mark.parametrize(
    ("model", "data", "flops_size", "tta"),
    [
        ("edaformer_t", "edaformer.data.DemoDataModule", "512x512", False),  # not a paper benchmark
        ("edaformer_t", ADE, "640x640", False),  # GFLOPs not at the benchmark's size
        ("edaformer_t", ADE, "512x512", True),  # multi-scale + flip: the paper's table is single-scale
        ("my_model", ADE, "512x512", False),
    ],
)
def test_isr_table_without_a_comparable_paper_number(tmp_path, model, data, flops_size, tta):
    write_sweep(tmp_path, model, data, flops_size, tta)
    text = build_table(tmp_path).text
    assert "paper mIoU" not in text and "Table 4" not in text
    assert "paper_mIoU" not in (tmp_path / "isr_table.csv").read_text()


@pytest.mark.parametrize(
    ("model", "data", "expected"),
    [
        ("edaformer_b", "edaformer.data.CityscapesDataModule", [81.6, 81.6, 81.6, 81.4, 81.6]),
        ("edaformer_b", "edaformer.data.COCOStuffDataModule", [45.9, 45.8, 45.8, 45.0, 45.7]),
    ],
)
def test_paper_miou_of_result_rows(model, data, expected):
    flops_size = "1024x2048" if "Cityscapes" in data else "512x512"
    rows = [
        ResultRow(setting=s, isr=isr, gflops=g, model=model, data=data, flops_size=flops_size)
        for s, isr, g, _ in SWEEP
    ]
    values = [paper_miou(r) for r in rows] + [paper_miou(rows[-1], "aggressive_trained")]
    assert values == expected


def test_tradeoff_figure_draws_the_paper_points():
    rows = [
        ResultRow(setting=s, isr=isr, gflops=g, mIoU=m, latency_ms=10.0 - i, model="edaformer_t", data=ADE)
        for i, (s, isr, g, m) in enumerate(SWEEP)
    ]
    fig = tradeoff_figure(rows, reference=("edaformer_t", "ade20k"))
    for ax in fig.axes:  # GFLOPs and latency panels
        lines = {line.get_label(): line for line in ax.get_lines()}
        paper = lines["paper (Table 4)"]
        assert list(paper.get_ydata()) == [42.3, 42.2, 42.1, 41.3]
        assert list(lines["paper, trained at aggressive"].get_ydata()) == [42.1]
    assert list(fig.axes[0].get_lines()[1].get_xdata()) == [5.63, 5.31, 4.72, 4.10]  # at our own GFLOPs
    for r in rows:
        r.tta = True  # multi-scale + flip: the paper's table is single-scale
    fig = tradeoff_figure(rows, reference=("edaformer_t", "ade20k"))
    assert not [line for line in fig.axes[0].get_lines() if "paper" in line.get_label()]


@pytest.mark.parametrize(
    ("setting", "train_isr", "expected"),
    [
        ("aggressive", None, 41.3),  # ISR from the standard training
        ("aggressive", "8,4,2,1-1,2,4", 41.3),
        ("aggressive", "16,8,4,2-2,4,8", 42.1),  # trained there: the row marked *
        ("train", "16,8,4,2-2,4,8", None),
        ("aggressive", "16,8,4,1-2,4,8", None),
    ],
)
def test_paper_miou_follows_the_training_ratios(setting, train_isr, expected):
    row = ResultRow(setting=setting, isr="-", gflops=4.0, model="edaformer_t", data=ADE, flops_size="512x512",
                    train_isr=train_isr)  # fmt: skip
    assert paper_miou(row) == expected


def write_starred(root: Path, model: str, data: str, miou: float) -> None:
    """A sweep of a checkpoint trained at the aggressive ratios, evaluated there (Table 4's row *)."""
    job = root / "0_isr=aggressive"
    job.mkdir(parents=True)
    aggressive = "16,8,4,2-2,4,8"
    row = dict(setting="aggressive", isr=aggressive, train_isr=aggressive, params=4_929_914, gflops=4.10)
    row.update(flops_size="512x512", mIoU=miou, model=model, data=data, tta=False)
    (job / "results.json").write_text(json.dumps({"results": [row]}))


def test_table_4_with_the_datasets_side_by_side(tmp_path):
    """Three datasets' sweeps and the row * (ADE20K only): one table, a column group per dataset with the paper's
    numbers, the row * with the paper's number where no sweep measured it."""
    from edaformer.cli.isr_table import main as isr_table_main
    from tests.conftest import run_main

    write_sweep(tmp_path / "ade", "edaformer_t", ADE)
    write_sweep(tmp_path / "city", "edaformer_t", "edaformer.data.CityscapesDataModule", "1024x2048")
    write_sweep(tmp_path / "coco", "edaformer_t", "edaformer.data.COCOStuffDataModule")
    write_starred(tmp_path / "star", "edaformer_t", ADE, 0.4195)
    sweeps = ",".join(str(tmp_path / name) for name in ("ade", "city", "coco", "star"))
    assert run_main(isr_table_main, f"sweep_dir=[{sweeps}]", f"output_dir={tmp_path / 'out'}") == 0
    table = list(csv.DictReader((tmp_path / "out" / "isr_table.csv").open()))
    assert [r["setting"] for r in table] == ["train", "dec2x", "paper", "aggressive", "aggressive *"]
    paper = {
        name: [float(r[f"{name}_paper_mIoU"]) for r in table]
        for name in ("ade20k", "cityscapes", "coco_stuff")
    }
    assert paper == {
        "ade20k": [42.3, 42.2, 42.1, 41.3, 42.1],
        "cityscapes": [78.7, 78.7, 78.7, 78.1, 78.6],
        "coco_stuff": [40.3, 40.3, 40.3, 39.1, 40.2],
    }
    star = table[-1]
    assert (star["ade20k_mIoU"], star["ade20k_ours_minus_paper"]) == ("41.95", "-0.15")
    assert star["cityscapes_mIoU"] == "" and table[2]["cityscapes_gflops"] == "4.72"


def test_side_by_side_refuses_two_results_for_one_cell(tmp_path):
    write_sweep(tmp_path / "a", "edaformer_t", ADE)
    write_sweep(tmp_path / "b", "edaformer_t", ADE)
    with pytest.raises(UserError, match="is in both"):
        build_tables([tmp_path / "a", tmp_path / "b"], tmp_path)
