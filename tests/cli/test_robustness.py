"""Hostile cases through the commands, as users run them: nothing lost, nothing silent.

A diverged training stops naming the step and the images and never saves or scores NaN; every training ends with
a validation and a last.ckpt; two runs never share a run dir; predict never overwrites; resume never unpickles
code; every mistake in the arguments or the data is one line ``error: ...`` with exit status 2, found before the
work starts; the run's log file holds the log lines and the error.
"""

from __future__ import annotations

import csv
import json
import os
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from edaformer.checkpoints import save_model
from edaformer.cli.predict import output_stems
from edaformer.cli.utils import UserError, claim_new_dir
from edaformer.models import create_model
from tests.conftest import REPO, random_official_state_dict, run_main

from .helpers import run, tiny


def main_of(command: str):
    import importlib

    return importlib.import_module(f"edaformer.cli.{command}").main


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data_dir) -> Path:
    """A 6-step run validating every 4 steps: the fit loop alone would validate at step 4 only."""
    run_dir = tmp_path_factory.mktemp("finished")
    proc = run("train.py", [*tiny(data_dir, run_dir, steps=6), "final_eval.isr=[]", "logger=csv"])
    assert proc.returncode == 0, proc.stderr[-4000:]
    return run_dir


def checkpoint_steps(folder: Path) -> dict[str, int]:
    return {p.name: torch.load(p, weights_only=True)["global_step"] for p in sorted(folder.glob("*.ckpt"))}


def assert_one_error_line(err: str, status: int, expected: str, got: int) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert got == status and "Traceback" not in err, err[-3000:]
    assert len(errors) == 1 and lines[-1] == errors[0] and expected in errors[0], err[-3000:]
    return errors[0]


# ------------------------------------------------------------------------------------------ 1. NaN training
@pytest.mark.slow
def test_nan_training_stops_naming_the_step_and_images_and_saves_nothing_non_finite(data_dir, tmp_path):
    """Before: exit 0, 351 of 352 tensors of last.ckpt and of the "best" checkpoint NaN, "mIoU 4.80"."""
    args = [*tiny(data_dir, tmp_path, steps=8), "model.optimizer.lr=1e6", "logger=csv"]
    proc = run("train.py", args)
    error = assert_one_error_line(proc.stderr, 1, "error: non-finite loss at step ", proc.returncode)
    assert "images ADE_train_" in error and "training stopped before the weights changed" in error
    for ckpt in (tmp_path / "checkpoints").glob("*.ckpt") if (tmp_path / "checkpoints").exists() else []:
        state = torch.load(ckpt, weights_only=True)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()), ckpt
    assert not (tmp_path / "isr_results.json").exists()  # no metric from NaN logits
    log = (tmp_path / "train.log").read_text()  # 10. the run's log lines and the error
    assert "Seed set to 42" in log and "error: non-finite loss at step" in log


@pytest.mark.slow
def test_eval_never_scores_nan_weights(finished, data_dir, tmp_path, capsys):
    ckpt = torch.load(finished / "checkpoints" / "last.ckpt", weights_only=True)
    ckpt["state_dict"] = {k: v.float().fill_(float("nan")) if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}  # fmt: skip
    torch.save(ckpt, tmp_path / "nan.ckpt")
    args = [
        f"ckpt_path={tmp_path / 'nan.ckpt'}",
        f"paths.data_dir={data_dir}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    args += ["data.num_train=16", "data.num_val=4", "data.num_workers=0", "trainer.accelerator=cpu"]
    status = run_main(main_of("eval"), *args)
    assert_one_error_line(capsys.readouterr().err, 1, "the model's outputs are NaN/inf", status)
    assert not (tmp_path / "run" / "results.json").exists()


# ------------------------------------------------------------------------------------------ 2. checkpoints
@pytest.mark.slow
def test_every_training_ends_with_a_validation_and_last_ckpt(finished):
    rows = (finished / "csv" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    validated = [
        r.split(",")[header.index("step")] for r in rows[1:] if r.split(",")[header.index("val/mIoU")]
    ]
    assert validated == ["3", "5"]  # steps 4 and 6 (0-based in the CSV): the last step validated too
    steps = checkpoint_steps(finished / "checkpoints")
    best = max(steps, key=lambda name: name.startswith("best"))
    assert (
        steps["last.ckpt"] == 6
        and len(steps) == 2
        and best in ("best_step000004.ckpt", "best_step000006.ckpt")
    )


@pytest.mark.slow
def test_validation_interval_beyond_max_steps_is_clamped_with_a_warning(data_dir, tmp_path):
    """Before: exit 0, "best checkpoint: (none saved)" and no last.ckpt: the trained weights were gone."""
    proc = run("train.py", [*tiny(data_dir, tmp_path), "trainer.val_check_interval=100", "final_eval.isr=[]"])
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert checkpoint_steps(tmp_path / "checkpoints") == {"best_step000004.ckpt": 4, "last.ckpt": 4}
    warning = "trainer.val_check_interval=100 is beyond trainer.max_steps=4: validating at step 4"
    assert warning in proc.stdout and warning in (tmp_path / "train.log").read_text()


@pytest.mark.slow
def test_last_ckpt_every_n_steps_between_validations(data_dir, tmp_path):
    args = [
        *tiny(data_dir, tmp_path, steps=12),
        "trainer.val_check_interval=100",
        "checkpoint_every_n_steps=3",
    ]
    args += ["final_eval.isr=[]", "logger=csv", "+callbacks.kill._target_=tests.cli.killer.KillAtStep"]
    proc = run("train.py", [*args, "+callbacks.kill.step=5"])
    assert proc.returncode != 0  # killed before any validation
    assert checkpoint_steps(tmp_path / "checkpoints") == {"last.ckpt": 3}
    assert not list((tmp_path / "checkpoints").glob(".*"))  # no temporary file left


# ------------------------------------------------------------------------------------------ 3. run dirs
def test_run_dirs_are_claimed_atomically(tmp_path):
    base = str(tmp_path / "runs" / "2025-01-01_00-00-00")
    claimed: list[str] = []
    threads = [threading.Thread(target=lambda: claimed.append(claim_new_dir(base))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted([base] + [f"{base}_{n}" for n in range(2, 9)])


@pytest.mark.slow
def test_two_runs_started_together_never_share_a_run_dir(data_dir, tmp_path):
    """Before: two runs started in the same second wrote configs, checkpoints and metrics into one dir. Here both
    runs get the same timestamped name to claim, as they would within one second."""
    same = tmp_path / "runs" / "2025-01-01_00-00-00"
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    procs = []
    for seed in (1, 2):
        args = [a for a in tiny(data_dir, tmp_path, steps=1) if not a.startswith("hydra.run.dir")]
        args += [
            f"hydra.run.dir=${{edaformer_new_dir:{same}}}",
            f"seed={seed}",
            "final_eval.isr=[]",
            "logger=csv",
        ]
        procs.append(
            subprocess.Popen(
                [sys.executable, str(REPO / "train.py"), *args], cwd=REPO, env=env, stderr=subprocess.PIPE
            )
        )
    assert [p.wait(timeout=300) for p in procs] == [0, 0], [p.stderr.read()[-2000:] for p in procs]
    dirs = sorted(same.parent.iterdir())
    assert [d.name for d in dirs] == [same.name, f"{same.name}_2"]
    assert sorted(OmegaConf.load(d / "config_resolved.yaml").seed for d in dirs) == [1, 2]
    for d in dirs:
        assert (d / "checkpoints" / "last.ckpt").is_file() and (d / "train.log").read_text().count(
            "Seed set to"
        ) == 1
        rows = list(csv.DictReader((d / "csv" / "metrics.csv").open()))
        assert [r["step"] for r in rows if r["val/mIoU"]] == ["0"]  # one validation each, not two in one file


def test_default_run_and_sweep_dirs_are_claimed():
    text = (REPO / "conf" / "hydra" / "default.yaml").read_text()
    assert "dir: ${edaformer_new_dir:${paths.log_dir}/${task_name}/runs/" in text
    assert "dir: ${edaformer_new_dir:${paths.log_dir}/${task_name}/multiruns/" in text


# ------------------------------------------------------------------------------------------ 4. predict outputs
@pytest.fixture(scope="module")
def tiny_seg(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "edaformer_t.pt"
    torch.manual_seed(0)
    save_model(create_model("edaformer_t", num_classes=6), path, "edaformer_t")
    return path


def image(path: Path, h: int = 24, w: int = 32) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(len(str(path))).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
        path
    )
    return path


@pytest.mark.slow
def test_predict_names_cannot_collide_and_outputs_are_never_overwritten(tiny_seg, tmp_path, capsys):
    """Before: a.png and a_png1.jpg both wrote a_png1_*.png: "20 images segmented", 19 sets left."""
    inputs = tmp_path / "in"
    for name in ("a.png", "a_png1.jpg", "a.jpg", "sub/a.png", "b.jpg"):
        image(inputs / name)
    out = tmp_path / "out"
    args = [f"ckpt_path={tiny_seg}", f"inputs={inputs}", f"output_dir={out}", "test_scale=null", "device=cpu"]
    assert run_main(main_of("predict"), *args) == 0
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*_label.png"))
    assert written == [
        "a.jpg_label.png",
        "a.png_label.png",
        "a_png1_label.png",
        "b_label.png",
        "sub/a_label.png",
    ]
    summary = json.loads((out / "predictions.json").read_text())
    assert len({r["label"] for r in summary["images"]}) == 5
    assert len(list(out.rglob("*.png"))) == 15
    before = (out / "b_label.png").stat().st_mtime_ns
    assert run_main(main_of("predict"), *args) == 2
    assert "already holds 16 of the outputs" in capsys.readouterr().err
    assert (out / "b_label.png").stat().st_mtime_ns == before
    assert run_main(main_of("predict"), *args, "overwrite=true") == 0


def test_output_names_that_differ_only_in_case_are_refused(tmp_path):
    a, b = Path("/x/Photo.png"), Path("/x/photo.PNG")
    with pytest.raises(UserError, match=r"inputs /x/Photo.png and /x/photo.PNG would both write"):
        output_stems([a, b])
    assert output_stems([Path("/x/a.jpg"), Path("/x/y/a.jpg")]) == [Path("a"), Path("y/a")]


# ------------------------------------------------------------------------------------------ 5. safe resume
@pytest.mark.slow
def test_resume_refuses_a_crafted_checkpoint_even_when_the_environment_asks(
    data_dir, tmp_path, monkeypatch, capsys
):
    """Before: with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1, ckpt_path= unpickled the file: a crafted one ran code."""
    marker = tmp_path / "code_ran"
    crafted = tmp_path / "crafted.ckpt"
    payload = f"import pathlib; pathlib.Path({str(marker)!r}).touch()"
    torch.save({"state_dict": {}, "pytorch-lightning_version": "2.6.6", "x": RunsCode(payload)}, crafted)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    args = [*DEMO, f"paths.data_dir={data_dir}", f"ckpt_path={crafted}", f"hydra.run.dir={tmp_path / 'run'}"]
    status = run_main(main_of("train"), *args)
    assert_one_error_line(capsys.readouterr().err, 2, "needs code to unpickle, refused", status)
    assert not marker.exists()
    with pytest.warns(UserWarning):
        torch.load(crafted)  # what torch.load without weights_only=True does under that variable
    assert marker.exists()


class RunsCode:
    def __init__(self, source: str) -> None:
        self.source = source

    def __reduce__(self):
        return (exec, (self.source,))


# ------------------------------------------------------------------------------------------ 6. one line, exit 2
def write_ade(root: Path, tweak=None) -> Path:
    """ADE20K layout with 4 training and 2 validation pairs of 48x64; ``tweak(base)`` breaks it."""
    base = root / "ADEChallengeData2016"
    rng = np.random.default_rng(0)
    for split, prefix, n in (("training", "train", 4), ("validation", "val", 2)):
        for i in range(n):
            name = f"ADE_{prefix}_{i + 1:08d}"
            image(base / "images" / split / f"{name}.jpg", 48, 64)
            mask = base / "annotations" / split / f"{name}.png"
            mask.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.choice(np.array([0, 1, 2, 150], np.uint8), size=(48, 64))).save(mask)
    if tweak is not None:
        tweak(base)
    return root


def _mask(path: Path, values=(1, 200), h: int = 48, w: int = 64) -> None:
    Image.fromarray(np.random.default_rng(1).choice(np.array(values, np.uint8), size=(h, w))).save(path)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


TRAIN_ON_ADE = [
    "data=ade20k",
    "model.pretrained=null",
    "global_batch=4",
    "data.crop_size=[32,32]",
    "data.batch_size=4",
    "data.num_workers=0",
    "logger=csv",
]
TRAIN_ON_ADE += ["trainer.max_steps=2", "trainer.accelerator=cpu", "final_eval.isr=[]"]
MASK2 = "annotations/training/ADE_train_00000002.png"
IMAGE2 = "images/training/ADE_train_00000002.jpg"
DATA_CASES = {
    "missing root": (None, "ADE20K root {root}/missing does not exist; expected <root>/ADEChallengeData2016"),
    "missing masks": (
        lambda b: [p.unlink() for p in (b / "annotations" / "training").glob("*.png")],
        "4 problem(s): {base}/images/training/ADE_train_00000001.jpg: image has no mask; expected",
    ),
    "label 200": (lambda b: _mask(b / MASK2), "{base}/" + MASK2 + ": invalid label values 200"),
    "mask size": (lambda b: _mask(b / MASK2, (1,), 40, 64), MASK2 + ": mask is 40x64 (HxW) but its image"),
    "truncated jpeg": (
        lambda b: _truncate(b / IMAGE2),
        IMAGE2 + ": cannot decode image (image file is truncated",
    ),
    "zero-byte jpeg": (
        lambda b: (b / IMAGE2).write_bytes(b""),
        IMAGE2 + ": cannot decode image (cannot identify",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "workers"),
    [(case, 0) for case in DATA_CASES] + [("label 200", 1)],
    ids=[*DATA_CASES, "in a worker"],
)
def test_dataset_errors_are_one_line(case, workers, tmp_path, capsys):
    """Before: the DatasetError's good message under a 70-110-line traceback, exit 1. In a DataLoader worker torch
    wraps it in the worker's traceback; the reporter shows the original message."""
    tweak, expected = DATA_CASES[case]
    root = tmp_path / "missing" if tweak is None else write_ade(tmp_path / "ade", tweak)
    args = [
        *TRAIN_ON_ADE,
        f"data.root={root}",
        f"data.num_workers={workers}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    status = run_main(main_of("train"), *args)
    expected = expected.format(root=tmp_path, base=root / "ADEChallengeData2016")
    assert_one_error_line(capsys.readouterr().err, 2, expected, status)
    assert expected in (tmp_path / "run" / "train.log").read_text()  # 10. the error in the run's log


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, finished) -> dict[str, Path]:
    """A Lightning segmentation checkpoint, a truncated copy, a classification one and a converted weights file."""
    root = tmp_path_factory.mktemp("ckpts")
    seg = finished / "checkpoints" / "last.ckpt"
    (root / "truncated.ckpt").write_bytes(seg.read_bytes()[:200_000])
    net = create_model("eft_t", num_classes=10)
    cls = {"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}, "global_step": 0}
    torch.save({**cls, "hyper_parameters": {"model_name": "eft_t", "num_classes": 10}}, root / "eft_t.ckpt")
    save_model(create_model("edaformer_t", num_classes=6), root / "ours.pt", "edaformer_t")
    image(root / "scene.jpg")
    return {"seg": seg, "truncated": root / "truncated.ckpt", "cls": root / "eft_t.ckpt", "ours": root / "ours.pt",
            "image": root / "scene.jpg"}  # fmt: skip


NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
DEMO = ["data.num_train=16", "data.num_val=4", "data.crop_size=[64,64]", "data.num_workers=0", "logger=csv"]
DEMO += ["trainer.accelerator=cpu", "trainer.max_steps=2", "final_eval.isr=[]"]
CLS_MESSAGE = "{cls} is an ImageNet classification checkpoint (eft_t, 10 classes), but this command needs a segmentation"
ARGUMENT_CASES = [
    ("train", ["data=custom", "data.root=/nowhere"], "data.class_names=... is required (see --help)"),
    (
        "train",
        [*DEMO, "data.batch_size=abc"],
        "data.batch_size=abc: expected int | None (DemoDataModule argument",
    ),
    (
        "train",
        [*DEMO, "callbacks.nan_guard.action=halt"],
        "callbacks.nan_guard.action=halt: expected one of stop",
    ),
    ("train", ["debug=nan"], "debug=nan: a config group option is a name; quote one that reads as a number"),
    ("complexity", ["size=[0,0]"], "size=[0,0]: sides must be >= 1"),
    ("export", ["ckpt_path={seg}", "size=abc"], "size=abc: expected [H,W] in pixels"),
    ("visualize_attention", ["ckpt_path={seg}", "image={image}", "point=abc"], "point=abc: expected [x,y]"),
    ("predict", ["ckpt_path={seg}", "inputs={image}", "alpha=5"], "alpha=5: expected a number in [0, 1]"),
    pytest.param(
        "predict",
        ["ckpt_path={seg}", "inputs={image}", "device=cuda"],
        "device=cuda: CUDA is not available",
        marks=NO_CUDA,
    ),  # fmt: skip
    pytest.param(
        "train",
        [*DEMO, "trainer.accelerator=cuda"],
        "trainer.accelerator=cuda: CUDA is not available",
        marks=NO_CUDA,
    ),  # fmt: skip
    ("eval", [*DEMO[:2], "data.num_workers=0", "trainer.accelerator=cpu", "ckpt_path={cls}"], CLS_MESSAGE),
    ("predict", ["ckpt_path={cls}", "inputs={image}"], CLS_MESSAGE),
    ("visualize_attention", ["ckpt_path={cls}", "image={image}"], CLS_MESSAGE),
    (
        "train",
        [*DEMO, "ckpt_path={ours}"],
        "ckpt_path={ours} is a converted weights file, not a Lightning training checkpoint",
    ),  # fmt: skip
    (
        "train",
        [*DEMO, "ckpt_path={truncated}"],
        "cannot read checkpoint {truncated}: not a complete torch file",
    ),
    (
        "train",
        [*DEMO, "model=edaformer_b", "ckpt_path={seg}"],
        "holds edaformer_t with 6 classes, which does not fit the configured edaformer_b",
    ),  # fmt: skip
    # 7. found before the work starts
    (
        "train",
        [*DEMO, "final_eval.isr=[train,fast]"],
        "final_eval.isr=fast: cannot read ISR setting 'fast': expected a preset",
    ),
    (
        "train",
        [*DEMO, "monitor=val/miou"],
        "monitor=val/miou: the model logs train/loss, val/mIoU, val/mAcc, val/aAcc",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("command", "args", "expected"), ARGUMENT_CASES)
def test_mistakes_are_one_line_with_exit_status_2(
    command, args, expected, checkpoints, data_dir, tmp_path, capsys
):
    paths = {k: str(v) for k, v in checkpoints.items()}
    args = [a.format(**paths) for a in args]
    args += (
        [f"paths.data_dir={data_dir}", f"hydra.run.dir={tmp_path}"] if command in ("train", "eval") else []
    )
    status = run_main(main_of(command), *args)
    assert_one_error_line(capsys.readouterr().err, 2, expected.format(**paths), status)
    assert not (tmp_path / "checkpoints").exists()  # nothing trained before the mistake was found


@pytest.mark.slow
def test_predict_checks_its_output_dir_before_loading_the_model(checkpoints, tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("")

    def never(*args, **kwargs):
        raise AssertionError("the model was loaded before the output dir was checked")

    monkeypatch.setattr("edaformer.evaluation.segmenter.load_model", never)
    args = [
        f"ckpt_path={checkpoints['seg']}",
        f"inputs={checkpoints['image']}",
        f"output_dir={tmp_path / 'file' / 'x'}",
    ]
    status = run_main(main_of("predict"), *args)
    assert_one_error_line(
        capsys.readouterr().err, 2, f"output_dir={tmp_path / 'file' / 'x'}: cannot write there", status
    )


# ------------------------------------------------------------------------------------------ 8. huge images
def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` grey pixels and holds none: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.slow
def test_huge_images_are_named_skipped_and_the_limit_can_be_raised(tiny_seg, tmp_path, capsys):
    """Before: a 20000x20000 image aborted the whole folder with a decompression-bomb error naming no file, and no
    predictions.json was written."""
    inputs = tmp_path / "in"
    image(inputs / "a.jpg", 24, 32)
    png_header_only(inputs / "huge.png", 20000, 20000)
    args = [f"ckpt_path={tiny_seg}", f"inputs={inputs}", "test_scale=null", "device=cpu"]
    assert run_main(main_of("predict"), *args, f"output_dir={tmp_path / 'o1'}") == 1
    err = capsys.readouterr().err
    assert f"error: {inputs / 'huge.png'}: 20000x20000 is 400 Mpx, above the limit of 179 Mpx" in err
    assert "max_image_pixels=400000000" in err
    summary = json.loads((tmp_path / "o1" / "predictions.json").read_text())
    assert [Path(r["input"]).name for r in summary["images"]] == ["a.jpg"]
    assert [Path(r["input"]).name for r in summary["failed"]] == ["huge.png"]
    # the limit is a setting: a.jpg (768 px) is refused below it and segmented at it
    assert run_main(main_of("predict"), *args, f"inputs={inputs / 'a.jpg'}", "max_image_pixels=767", f"output_dir={tmp_path / 'o2'}") == 1  # fmt: skip
    assert run_main(main_of("predict"), *args, f"inputs={inputs / 'a.jpg'}", "max_image_pixels=768", f"output_dir={tmp_path / 'o3'}") == 0  # fmt: skip


# ------------------------------------------------------------------------------------------ 9. leftovers
@pytest.mark.slow
def test_convert_into_a_folder_writes_inside_it_and_leaves_nothing_beside(tmp_path, capsys):
    """Before: ``output=DIR/`` left a 20 MB ``DIR.tmp`` beside the folder."""
    official = tmp_path / "edaformer_t_ade20k.pth"
    torch.save({"state_dict": random_official_state_dict("t")}, official)
    (tmp_path / "converted").mkdir()
    assert (
        run_main(main_of("convert_official"), f"ckpt_path={official}", f"output={tmp_path / 'converted'}/")
        == 0
    )
    assert sorted(os.listdir(tmp_path)) == ["converted", "edaformer_t_ade20k.pth"]
    assert os.listdir(tmp_path / "converted") == ["edaformer_t_ade20k.pt"]
    assert f"wrote {tmp_path / 'converted' / 'edaformer_t_ade20k.pt'}" in capsys.readouterr().out
