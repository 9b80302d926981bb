"""``edaformer-isr-search`` on the demo data as users run it: outputs, an interrupted search resumed to the same
front as an uninterrupted one, and the best setting used at once as ``isr=<name>`` by eval, predict and export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from edaformer.checkpoints import save_model
from edaformer.cli.eval import main as eval_main
from edaformer.cli.export import main as export_main
from edaformer.cli.isr_search import main as search_main
from edaformer.cli.predict import main as predict_main
from edaformer.data import ensure_demo_dataset
from edaformer.models import ISR_PRESETS, create_model, parse_isr
from edaformer.search import Scorer, dominates
from tests.conftest import run_main

from .helpers import one_error_line

NAME = "isr_search_best"


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """A random EDAFormer-Mini checkpoint (6 demo classes), a 4 + 4 image demo dataset, and the search arguments."""
    root = tmp_path_factory.mktemp("isr_search")
    torch.manual_seed(0)
    ckpt = root / "edaformer_mini_demo.pt"
    save_model(create_model("edaformer_mini", num_classes=6), ckpt, "edaformer_mini")
    ensure_demo_dataset(root / "demo", num_train=4, num_val=4)
    data = [f"data.root={root / 'demo'}", "data.num_train=4", "data.num_val=4", "data.num_workers=0"]
    data += ["data.test_scale=[96,64]"]  # small validation images of short side 64: seconds per trial
    args = [
        f"ckpt_path={ckpt}",
        *data,
        "flops_size=[128,160]",  # the demo's evaluation size
        "budget.fraction=0.91",  # there the paper preset saves 10 % of EDAFormer-Mini's GFLOPs
        "search.trials=6",
        "search.multipliers=[1,2]",  # 2^7 settings: few GFLOPs counts (the default space is 4^7)
        "search.val_images=2",
        "search.latency_repeats=1",
        "device=cpu",
    ]
    return root, ckpt, args


@pytest.fixture(scope="module")
def searched(setup) -> Path:
    root, _, args = setup
    out = root / "run"
    assert run_main(search_main, *args, f"hydra.run.dir={out}") == 0
    return out


@pytest.mark.slow
def test_search_outputs(searched, capsys):
    report = json.loads((searched / "isr_search.json").read_text())
    front, best, results = report["front"], report["best"], report["results"]
    assert report["metric"] == "mIoU" and report["cost"] == "gflops" and report["trials"] >= 6
    assert len(report["evaluated"]) == 6 and {r["setting"] for r in report["presets"]} == {
        "train",
        "dec2x",
        "paper",
        "aggressive",
    }
    assert report["search_images"] == 2 and report["total_images"] == 4
    # the front: no row of the final set dominates one of it, each row carries GFLOPs, latency, mIoU and deltas
    for row in front:
        assert not any(dominates(o, row, "mIoU", "gflops") for o in results)
        assert row["latency_ms"] > 0 and row["flops_size"] == "128x160" and row["model"] == "edaformer_mini"
        assert {"d_mIoU", "d_gflops_pct", "d_latency_pct", "search_score", "within_budget"} <= set(row)
    assert best["gflops"] <= report["limit"] and best["within_budget"]
    assert best["mIoU"] == max(r["mIoU"] for r in results if r["gflops"] <= report["limit"])
    rows = list(csv.DictReader((searched / "isr_search_front.csv").open()))
    assert [r["isr"] for r in rows] == [r["isr"] for r in front]
    md = (searched / "isr_search.md").read_text()
    assert "## Pareto front" in md and "## Against the paper's ISR" in md and f"isr={NAME}" in md
    assert Image.open(searched / "isr_search.png").size[0] > 300 and (searched / "study.db").is_file()
    # the best setting as a preset, in the run dir and on the search path
    preset = (searched / "conf" / "isr" / f"{NAME}.yaml").read_text()
    assert preset == (searched / f"{NAME}.yaml").read_text()
    enc = preset.split("encoder: [")[1].split("]")[0].replace(" ", "")
    dec = preset.split("decoder: [")[1].split("]")[0].replace(" ", "")
    assert f"{enc}-{dec}" == best["isr"]


@pytest.mark.slow
def test_interrupted_search_resumes_to_the_same_front(setup, searched, monkeypatch, capsys):
    root, _, args = setup
    out = root / "interrupted"
    calls = {"n": 0}
    score = Scorer.__call__

    def interrupt_at_the_sixth_score(self, setting, full=False):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return score(self, setting, full)

    monkeypatch.setattr(Scorer, "__call__", interrupt_at_the_sixth_score)
    assert run_main(search_main, *args, f"hydra.run.dir={out}") == 130
    assert f"search.resume_dir={out}" in capsys.readouterr().err
    assert not (out / "isr_search.json").exists()
    monkeypatch.setattr(Scorer, "__call__", score)
    assert run_main(search_main, *args, f"search.resume_dir={out}", f"hydra.run.dir={root / 'resume'}") == 0
    resumed = json.loads((out / "isr_search.json").read_text())
    uninterrupted = json.loads((searched / "isr_search.json").read_text())
    keys = ("isr", "gflops", "search_score")
    assert [[r[k] for k in keys] for r in resumed["evaluated"]] == [
        [r[k] for k in keys] for r in uninterrupted["evaluated"]
    ]
    assert [(r["isr"], r["mIoU"]) for r in resumed["front"]] == [
        (r["isr"], r["mIoU"]) for r in uninterrupted["front"]
    ]
    # another budget in the same run dir is refused
    other = [a for a in args if not a.startswith("budget.")]
    assert run_main(search_main, *other, "budget.fraction=0.9", f"search.resume_dir={out}") == 2
    line = one_error_line(capsys.readouterr().err)
    assert "budget" in line and "0.91" in line  # the stored budget is named


@pytest.mark.slow
def test_best_setting_is_an_isr_preset_for_eval_predict_export(setup, searched, tmp_path, capsys):
    root, ckpt, args = setup
    best = json.loads((searched / "isr_search.json").read_text())["best"]
    use = [f"hydra.searchpath=[file://{searched / 'conf'}]", f"isr={NAME}"]
    data = [a for a in args if a.startswith("data.")]

    assert run_main(eval_main, f"ckpt_path={ckpt}", *data, *use, f"hydra.run.dir={tmp_path / 'eval'}") == 0
    (row,) = json.loads((tmp_path / "eval" / "results.json").read_text())["results"]
    assert row["isr"] == best["isr"]
    assert row["mIoU"] == pytest.approx(best["mIoU"], abs=1e-9)  # the search's number is edaformer-eval's

    image = sorted((root / "demo").rglob("validation/*.jpg"))[0]
    out = tmp_path / "predict"
    assert run_main(predict_main, f"ckpt_path={ckpt}", f"inputs={image}", *use, f"output_dir={out}") == 0
    assert json.loads((out / "predictions.json").read_text())["isr"] == best["isr"]

    out = tmp_path / "export"
    assert run_main(export_main, f"ckpt_path={ckpt}", *use, "formats=[torchscript]", f"output_dir={out}") == 0
    assert [p.name for p in out.glob("*.pt")] == [
        f"edaformer_mini_{best['isr'].replace(',', '_')}.torchscript.pt"
    ]


@pytest.mark.slow
def test_checkpoint_trained_at_other_ratios_is_searched_around_its_own(setup, tmp_path):
    """A model trained at the aggressive ratios, given as a hub folder: candidates, budget fraction and Δ come from
    its train_isr."""
    root, _, args = setup
    torch.manual_seed(0)
    ckpt = tmp_path / "aggressive_hf"
    create_model("edaformer_mini", num_classes=6, train_isr="aggressive").save_pretrained(ckpt)
    out = tmp_path / "run"
    kept = [a for a in args if not a.startswith(("ckpt_path=", "search.trials=", "budget."))]
    extra = ["search.trials=5", "budget.fraction=0.99"]  # all ratios doubled save 3 % here
    assert run_main(search_main, f"ckpt_path={ckpt}", *kept, *extra, f"hydra.run.dir={out}") == 0
    report = json.loads((out / "isr_search.json").read_text())
    trained = str(ISR_PRESETS["aggressive"])
    assert report["train_isr"] == trained and all(r["train_isr"] == trained for r in report["results"])
    presets = {r["setting"]: r for r in report["presets"]}
    assert set(presets) == {"train", "dec2x", "paper", "aggressive"}  # the training setting is a paper preset
    assert presets["aggressive"]["d_gflops_pct"] == 0 and presets["aggressive"]["d_mIoU"] == 0
    assert presets["train"]["d_gflops_pct"] > 0
    assert report["limit"] == pytest.approx(0.99 * presets["aggressive"]["gflops"])
    searched = [r["isr"] for r in report["evaluated"] if not r["preset"]]
    assert searched and all(parse_isr(s).encoder[0] in (16, 32) for s in searched)  # 16 x 1, 2
    md = (out / "isr_search.md").read_text()
    assert f"against the model's training setting {trained}" in md and "| aggressive (training) |" in md


@pytest.mark.slow
def test_a_truncated_or_foreign_study_file_is_one_line(setup, searched, tmp_path, capsys):
    """Before: a traceback from SQLAlchemy. Now: one line naming the file, exit 2, before the model is loaded."""
    _, _, args = setup
    stored = (searched / "study.db").read_bytes()
    for name, content in (("truncated", stored[: len(stored) // 2]), ("foreign", b"not a database" * 100)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "study.db").write_bytes(content)
        status = run_main(
            search_main, *args, f"search.resume_dir={tmp_path / name}", f"hydra.run.dir={tmp_path}"
        )
        assert status == 2 and str(tmp_path / name / "study.db") in one_error_line(capsys.readouterr().err)
