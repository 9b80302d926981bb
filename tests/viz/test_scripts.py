"""The figure commands as users run them: the command's ``main`` with its arguments, in this process (the console
scripts themselves are run by tests/cli/test_commands.py), its exit status, stdout and stderr."""

from __future__ import annotations

import importlib
import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from edaformer.results import read_result_rows
from edaformer.viz.tradeoff import sort_rows, tradeoff_figure

from ..conftest import run_main
from .conftest import NUM_CLASSES, random_image

pytestmark = pytest.mark.slow


@pytest.fixture
def run_script(tmp_path, monkeypatch, capsys):
    """``run_script("predict.py", *args)`` → ``(returncode, stdout, stderr)`` of ``edaformer-predict *args``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDAFORMER_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("EDAFORMER_DATA", str(tmp_path / "data"))

    def run(name: str, *args: str) -> SimpleNamespace:
        capsys.readouterr()
        module = importlib.import_module(f"edaformer.cli.{name.removesuffix('.py')}")
        status = run_main(module.main, *args)
        out = capsys.readouterr()
        return SimpleNamespace(returncode=status, stdout=out.out, stderr=out.err)

    return run


def test_predict_writes_label_color_overlay_and_reports_bad_files(tiny_ckpt, image_dir, tmp_path, run_script):
    out = tmp_path / "pred"
    proc = run_script(
        "predict.py",
        f"ckpt_path={tiny_ckpt}",
        f"inputs={image_dir}",
        f"output_dir={out}",
        "test_scale=null",
        "isr=paper",
        "show_legend=true",
    )
    assert proc.returncode == 1, proc.stderr  # one broken file: skipped, reported, non-zero exit
    assert "broken.png" in proc.stderr
    summary = json.loads((out / "predictions.json").read_text())
    assert summary["isr"] == "16,8,2,1-2,4,8"
    assert [r["size"] for r in summary["images"]] == [[40, 70], [50, 33]]
    label = np.asarray(Image.open(out / "a_label.png"))
    assert label.shape == (40, 70) and label.max() < NUM_CLASSES
    assert np.asarray(Image.open(out / "a_color.png")).shape == (40, 70, 3)
    assert np.asarray(Image.open(out / "sub" / "b_overlay.png")).shape[1] > 33  # legend panel appended
    assert summary["images"][0]["classes"]


def test_predict_errors_are_one_line(image_dir, run_script):
    proc = run_script("predict.py", "ckpt_path=missing.pth", f"inputs={image_dir}")
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: ckpt_path does not exist")
    proc = run_script("predict.py", "ckpt_path=x", "inputs=y", "isr=fast")
    assert proc.returncode == 2 and "unknown isr 'fast'" in proc.stderr


def test_visualize_attention_figure(tiny_ckpt, tmp_path, run_script):
    Image.fromarray(random_image(60, 90)).save(tmp_path / "scene.png")
    out = tmp_path / "att.png"
    proc = run_script(
        "visualize_attention.py",
        f"ckpt_path={tiny_ckpt}",
        f"image={tmp_path / 'scene.png'}",
        "point=[80,10]",
        f"output={out}",
        "test_scale=null",
        "save_maps=true",
        "dpi=40",
    )
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size[0] > 400
    import torch

    saved = torch.load(tmp_path / "attention_maps.pt")
    assert set(saved["maps"]) == {"8,4,2,1-1,2,4", "16,8,2,1-2,4,8"}
    proc = run_script(
        "visualize_attention.py",
        f"ckpt_path={tiny_ckpt}",
        f"image={tmp_path / 'scene.png'}",
        "point=[95,10]",
    )
    assert proc.returncode == 2 and "outside the 90x60 image" in proc.stderr
    proc = run_script("visualize_attention.py", "ckpt_path=x", "image=y", "point=95,10")
    assert proc.returncode == 2 and proc.stderr.startswith(
        "error: Ambiguous value for argument 'point=95,10'"
    )


def test_tradeoff_plot_from_sweep_results(tmp_path, run_script):
    rows = [
        ("train", "8,4,2,1-1,2,4", 5.65, 0.423),
        ("paper", "16,8,2,1-2,4,8", 4.75, 0.421),
        ("dec2x", "8,4,2,1-2,4,8", 5.35, 0.422),
        ("aggressive", "16,8,4,2-2,4,8", 4.15, 0.41),
    ]
    for i, (setting, isr, gflops, miou) in enumerate(rows):
        job = tmp_path / "multirun" / f"{i}_isr={setting}"
        job.mkdir(parents=True)
        row = dict(
            setting=setting,
            isr=isr,
            gflops=gflops,
            mIoU=miou,
            flops_size="512x512",
            model="edaformer_t",
            data="edaformer.data.ADE20KDataModule",
        )
        (job / "results.json").write_text(json.dumps({"results": [row]}))
    loaded = sort_rows(read_result_rows([tmp_path / "multirun"]))
    assert [r.setting for r in loaded] == ["train", "dec2x", "paper", "aggressive"]
    fig = tradeoff_figure(loaded, reference=("edaformer_t", "ade20k"))
    assert len(fig.axes) == 1
    proc = run_script(
        "plot_isr_tradeoff.py",
        f"results={tmp_path / 'multirun'}",
        f"output={tmp_path / 't.png'}",
    )
    assert proc.returncode == 0, proc.stderr
    assert "paper" in proc.stdout and (tmp_path / "t.png").is_file()
    proc = run_script("plot_isr_tradeoff.py", f"results=[{tmp_path / 'empty'}]")
    assert proc.returncode == 2 and "no such file" in proc.stderr
