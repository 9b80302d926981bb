"""The generated demo dataset (determinism, atomicity, concurrency, structure) and the data commands."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest
import torch
from PIL import Image

from edaformer.data import DEMO_CLASSES, DatasetError, DemoDataModule, ensure_demo_dataset
from edaformer.data import demo as demo_module

SMALL = {"num_train": 12, "num_val": 4}


def tree_bytes(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.slow
def test_generation_is_deterministic_and_in_ade_layout(tmp_path):
    a = ensure_demo_dataset(tmp_path / "a", **SMALL)
    b = ensure_demo_dataset(tmp_path / "b", **SMALL)
    assert tree_bytes(a) == tree_bytes(b)
    assert (a / "images/training/ADE_train_00000001.jpg").is_file()
    assert (a / "annotations/validation/ADE_val_00000004.png").is_file()
    assert len(list((a / "images/training").iterdir())) == 12
    c = ensure_demo_dataset(tmp_path / "c", seed=1, **SMALL)
    assert tree_bytes(a) != tree_bytes(c)


def _generate(root):
    ensure_demo_dataset(root, **SMALL)


def test_concurrent_callers_share_one_dataset(tmp_path):
    ctx = mp.get_context("fork")  # spawn would re-import torch in each child (slow)
    procs = [ctx.Process(target=_generate, args=(tmp_path,)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".edaformer_demo.lock", "ADEChallengeData2016"]
    assert len(list((tmp_path / "ADEChallengeData2016/images/training").iterdir())) == 12


@pytest.mark.slow
def test_crash_leaves_nothing_half_written(tmp_path, monkeypatch):
    original = demo_module._write_split

    def crash_on_val(folder, prefix, split, *args):
        if split == "validation":
            raise KeyboardInterrupt
        return original(folder, prefix, split, *args)

    monkeypatch.setattr(demo_module, "_write_split", crash_on_val)
    with pytest.raises(KeyboardInterrupt):
        ensure_demo_dataset(tmp_path, **SMALL)
    assert not (tmp_path / "ADEChallengeData2016").exists()
    assert not list(tmp_path.glob(".demo-tmp-*"))
    monkeypatch.undo()
    assert ensure_demo_dataset(tmp_path, **SMALL).is_dir()


def test_refuses_to_overwrite_other_data(tmp_path):
    (tmp_path / "ADEChallengeData2016" / "images").mkdir(parents=True)
    with pytest.raises(DatasetError, match="not a generated demo dataset"):
        ensure_demo_dataset(tmp_path, **SMALL)
    ensure_demo_dataset(tmp_path / "x", **SMALL)
    with pytest.raises(DatasetError, match="delete the folder"):
        ensure_demo_dataset(tmp_path / "x", num_train=13, num_val=4)


def test_demo_datamodule_batches(tmp_path, dh):
    dm = dh.compose_data("demo", tmp_path, "data.num_train=12", "data.num_val=4")
    assert isinstance(dm, DemoDataModule) and dm.class_names == DEMO_CLASSES and dm.num_classes == 6
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (8, 3, 128, 128) and batch["mask"].shape == (8, 128, 128)
    assert set(batch["mask"].unique().tolist()) <= {0, 1, 2, 3, 4, 5, 255}
    val = next(iter(dm.val_dataloader()))
    h, w = val["mask"].shape[1:]
    assert val["image"].shape[2:] == dm.eval_input_size(h, w) and val["image"].shape[2] == 128
    assert val["image"].shape[3] % 32 == 0 and 120 <= h <= 160


@pytest.mark.slow
def test_colour_alone_does_not_tell_the_class(tmp_path):
    """A per-pixel nearest-mean-colour classifier, fit on train, must do badly on val (mIoU < 0.35)."""
    root = ensure_demo_dataset(tmp_path, num_train=40, num_val=12)

    def pixels(split):
        xs, ys = [], []
        for img in sorted((root / "images" / split).iterdir()):
            x = np.asarray(Image.open(img), np.float32).reshape(-1, 3)
            y = np.asarray(Image.open(root / "annotations" / split / img.with_suffix(".png").name)).ravel()
            keep = y > 0
            xs.append(x[keep])
            ys.append(y[keep] - 1)
        return np.concatenate(xs), np.concatenate(ys)

    x, y = pixels("training")
    means = np.stack([x[y == k].mean(0) for k in range(6)])
    xv, yv = pixels("validation")
    pred = np.argmin(((xv[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    ious = [((pred == k) & (yv == k)).sum() / max(((pred == k) | (yv == k)).sum(), 1) for k in range(6)]
    print("colour-only mIoU", np.mean(ious))
    assert np.mean(ious) < 0.35, ious
    for k in range(6):  # every class occurs in val
        assert (yv == k).sum() > 0


@pytest.mark.slow
def test_check_dataset_script_lists_every_problem(ade_root, dh, capsys):
    check = ("check_dataset", "data=ade20k", f"data.root={ade_root}")
    assert dh.run_command(*check) == 0
    out = capsys.readouterr().out
    assert "[train] split 'training': 3 ok, 0 problem(s)" in out and "OK: no problems found" in out
    assert "image size (HxW): smallest 40x72, largest 48x64" in out  # ordered by area
    assert "   0 wall" in out and "ignore (255)" in out

    base = ade_root / "ADEChallengeData2016"
    (base / "images/training/ADE_train_00000001.jpg").write_bytes(b"broken")
    dh.write_mask(base / "annotations/training/ADE_train_00000002.png", np.full((64, 48), 200, np.uint8))
    (base / "annotations/validation/ADE_val_00000002.png").unlink()
    assert dh.run_command(*check) == 1
    out = capsys.readouterr().out
    assert "ADE_train_00000001.jpg: cannot decode image" in out
    assert "ADE_train_00000002.png: invalid label values 200" in out
    assert "ADE_val_00000002.jpg: image has no mask" in out
    assert "[train] split 'training': 1 ok, 2 problem(s)" in out and "FAILED: 3 problem(s)" in out


@pytest.mark.slow
def test_benchmark_script_reports_images_per_second(tmp_path, dh, capsys):
    args = [
        "data=demo",
        f"data.root={tmp_path}",
        "data.num_train=40",
        "data.num_val=4",
        "batches=3",
        "workers=[0]",
    ]
    assert dh.run_command("benchmark_data", *args) == 0
    out = capsys.readouterr().out
    rate = float(out.strip().splitlines()[-1].split()[1])
    assert rate > 0 and "decode+validate" in out
    torch.set_num_threads(torch.get_num_threads())
