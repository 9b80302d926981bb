"""Cityscapes benchmark format and official scoring (the authors' ``format_results`` / ``--eval cityscapes``) on a
tiny Cityscapes layout: label-id PNGs with the official names, at the original resolution, scored by
cityscapesscripts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edaformer.checkpoints import save_model
from edaformer.evaluation.cityscapes import (
    CityscapesEvalError,
    evaluate_label_ids,
    label_id_table,
    result_name,
    write_label_ids,
)
from edaformer.models import create_model


@pytest.fixture
def city_root(cityscapes_root, dh) -> Path:
    """The tiny layout with what the official download has (labelIds, instanceIds) and our trainIds."""
    from cityscapesscripts.helpers.annotation import Annotation
    from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
    from cityscapesscripts.preparation.json2labelImg import json2labelImg

    assert dh.run_command("prepare_cityscapes", f"data.root={cityscapes_root}", "nproc=1") == 0
    for poly in cityscapes_root.rglob("*_gtFine_polygons.json"):
        stem = str(poly)[: -len("polygons.json")]
        json2labelImg(str(poly), stem + "labelIds.png", "ids")
        annotation = Annotation()
        annotation.fromJsonFile(str(poly))
        instances = np.array(
            createInstanceImage(annotation, "ids"), dtype=np.uint16
        )  # 16-bit, as the download
        Image.fromarray(instances).save(stem + "instanceIds.png")
    return cityscapes_root


def test_train_ids_to_label_ids_as_cityscapesscripts():
    table = label_id_table()
    # road 7, sidewalk 8, building 11, ..., car 26, ..., bicycle 33 (cityscapesscripts' labels)
    assert table[:19].tolist() == [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]
    assert result_name("/d/leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png") == (
        "frankfurt_000000_000294_leftImg8bit.png"
    )


def test_ground_truth_written_as_predictions_scores_one(city_root, tmp_path):
    preds = tmp_path / "preds"
    preds.mkdir()
    for mask in (city_root / "gtFine" / "val").rglob("*_gtFine_labelTrainIds.png"):
        train_ids = np.array(Image.open(mask))
        train_ids[train_ids == 255] = 0  # unlabelled pixels: any class, they are not scored
        write_label_ids(train_ids, preds / mask.name.replace("_gtFine_labelTrainIds", "_leftImg8bit"))
    results = evaluate_label_ids(preds, city_root / "gtFine" / "val", tmp_path / "out")
    assert results["averageScoreClasses"] == pytest.approx(1.0)
    assert results["averageScoreInstClasses"] == pytest.approx(1.0)  # the car instance, from instanceIds
    assert json.loads((tmp_path / "out" / "cityscapes_eval.json").read_text())["averageScoreClasses"] == 1.0
    assert "Score Average" in (tmp_path / "out" / "cityscapes_eval.log").read_text()
    with pytest.raises(CityscapesEvalError, match="Found no prediction for ground truth"):
        evaluate_label_ids(tmp_path / "out", city_root / "gtFine" / "val", tmp_path / "out2")


@pytest.mark.slow
def test_eval_writes_the_benchmark_format_and_scores_it(city_root, dh, tmp_path):
    ckpt = tmp_path / "edaformer_mini_city.pt"
    save_model(create_model("edaformer_mini", num_classes=19).eval(), ckpt, "edaformer_mini")
    run, labels = tmp_path / "run", tmp_path / "submission"
    args = [
        f"ckpt_path={ckpt}",
        "data=cityscapes",
        f"data.root={city_root}",
        "data.num_workers=0",
        "data.persistent_workers=false",
        "data.test_scale=[128,64]",  # the tiny images stay at 64x128 (real ones: 2048x1024, unchanged)
        "model.inference.crop_size=[64,64]",
        "model.inference.stride=[48,48]",
        "trainer.accelerator=cpu",
        "logger=csv",
        "flops_size=[64,128]",
        f"cityscapes_format={labels}",
        "cityscapes_eval=true",
        f"hydra.run.dir={run}",
    ]
    assert dh.run_command("eval", *args) == 0
    written = sorted(p.name for p in labels.iterdir())
    assert written == ["frankfurt_000000_000294_leftImg8bit.png"]
    png = Image.open(labels / written[0])
    assert png.mode == "P" and png.size == (128, 64)  # the original resolution
    assert set(np.unique(np.array(png))) <= set(label_id_table()[:19].tolist())
    row = json.loads((run / "results.json").read_text())["results"][0]
    # the official scoring and ours agree on the same predictions
    assert row["cityscapes_mIoU"] == pytest.approx(row["mIoU"], abs=1e-9)
    assert (run / "cityscapes_eval.json").is_file() and (run / "cityscapes_eval.log").is_file()
    # never over an earlier result; the format needs Cityscapes data
    assert dh.run_command("eval", *args[:-1], f"hydra.run.dir={tmp_path / 'run2'}") == 2
    assert dh.run_command("eval", f"ckpt_path={ckpt}", "cityscapes_eval=true", f"hydra.run.dir={run}") == 2
