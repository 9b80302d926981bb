"""Hostile cases through the commands, as users run them: nothing lost, nothing silent.

A diverged training stops naming the step and the images and never saves or scores NaN; a validation interval
beyond the run is clamped; two runs never share a run dir; predict never overwrites; resume never unpickles code;
every mistake in the arguments or the data is one line ``error: ...`` with exit status 2 naming the key or file,
found before the work starts; the run's log file holds the log lines and the error.
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
from edaformer.config.resolvers import claim_new_dir
from edaformer.errors import UserError
from edaformer.models import create_model
from edaformer.workflows.predict import output_stems
from tests.conftest import REPO, random_official_state_dict, run_main

from .helpers import MINI, QUIET, checkpoint_steps, one_error_line, run, tiny, tiny_eval


def main_of(command: str):
    import importlib

    return importlib.import_module(f"edaformer.cli.{command}").main


# ------------------------------------------------------------------------------------------ 1. NaN training
@pytest.mark.slow
def test_nan_training_stops_naming_the_step_and_images_and_saves_nothing_non_finite(
    demo_data_dir, tmp_path, capsys
):
    """Before: exit 0, 351 of 352 tensors of last.ckpt and of the "best" checkpoint NaN, "mIoU 4.80"."""
    args = [*tiny(demo_data_dir, tmp_path, steps=8), *QUIET, "model.optimizer.lr=1e6"]
    status = run_main(main_of("train"), *args)
    error = one_error_line(capsys.readouterr().err)
    assert status == 1 and "non-finite loss at step" in error and "ADE_train_" in error
    for ckpt in (tmp_path / "checkpoints").glob("*.ckpt") if (tmp_path / "checkpoints").exists() else []:
        state = torch.load(ckpt, weights_only=True)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()), ckpt
    assert not (tmp_path / "isr_results.json").exists()  # no metric from NaN logits
    log = (tmp_path / "train.log").read_text()  # the run's log lines and the error
    assert "Seed set to 42" in log and error in log


@pytest.mark.slow
def test_eval_never_scores_nan_weights(trained_run, demo_data_dir, tmp_path, capsys):
    ckpt = torch.load(trained_run / "checkpoints" / "last.ckpt", weights_only=True)
    ckpt["state_dict"] = {k: v.float().fill_(float("nan")) if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}  # fmt: skip
    torch.save(ckpt, tmp_path / "nan.ckpt")
    args = [
        f"ckpt_path={tmp_path / 'nan.ckpt'}",
        *tiny_eval(demo_data_dir),
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    status = run_main(main_of("eval"), *args)
    assert status == 1 and "NaN" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "run" / "results.json").exists()


# ------------------------------------------------------------------------------------------ 2. checkpoints
@pytest.mark.slow
def test_validation_interval_beyond_max_steps_is_clamped_with_a_warning(demo_data_dir, tmp_path):
    """Before: exit 0, "best checkpoint: (none saved)" and no last.ckpt: the trained weights were gone."""
    args = [*tiny(demo_data_dir, tmp_path), *QUIET, "trainer.val_check_interval=100", "final_eval.isr=[]"]
    assert run_main(main_of("train"), *args) == 0
    assert checkpoint_steps(tmp_path / "checkpoints") == {"best_step000004.ckpt": 4, "last.ckpt": 4}
    log = (tmp_path / "train.log").read_text()
    assert "trainer.val_check_interval=100" in log and "trainer.max_steps=4" in log


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
def test_two_runs_started_together_never_share_a_run_dir(demo_data_dir, tmp_path):
    """Before: two runs started in the same second wrote configs, checkpoints and metrics into one dir. Here both
    processes get the same timestamped name to claim, as they would within one second."""
    same = tmp_path / "runs" / "2025-01-01_00-00-00"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = []
    for seed in (1, 2):
        args = [a for a in tiny(demo_data_dir, tmp_path, steps=1) if not a.startswith("hydra.run.dir")]
        args += [f"hydra.run.dir=${{edaformer_new_dir:{same}}}", f"seed={seed}", "final_eval.isr=[]", *QUIET]
        command = [sys.executable, str(REPO / "train.py"), *args]
        procs.append(subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE))
    assert [p.wait(timeout=300) for p in procs] == [0, 0], [p.stderr.read()[-2000:] for p in procs]
    dirs = sorted(same.parent.iterdir())
    assert [d.name for d in dirs] == [same.name, f"{same.name}_2"]
    assert sorted(OmegaConf.load(d / "config_resolved.yaml").seed for d in dirs) == [1, 2]
    for d in dirs:
        assert (d / "checkpoints" / "last.ckpt").is_file()
        assert (d / "train.log").read_text().count("Seed set to") == 1
        rows = list(csv.DictReader((d / "csv" / "metrics.csv").open()))
        assert [r["step"] for r in rows if r["val/mIoU"]] == ["0"]  # one validation each, not two in one file


def test_default_run_and_sweep_dirs_are_claimed():
    text = (REPO / "conf" / "hydra" / "default.yaml").read_text()
    assert "dir: ${edaformer_new_dir:${paths.log_dir}/${task_name}/runs/" in text
    assert "dir: ${edaformer_new_dir:${paths.log_dir}/${task_name}/multiruns/" in text


# ------------------------------------------------------------------------------------------ 4. predict outputs
@pytest.fixture(scope="module")
def tiny_seg(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "edaformer_mini.pt"
    torch.manual_seed(0)
    save_model(create_model("edaformer_mini", num_classes=6), path, "edaformer_mini")
    return path


def image(path: Path, h: int = 24, w: int = 32) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(len(str(path))).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
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
    capsys.readouterr()
    assert run_main(main_of("predict"), *args) == 2
    assert f"output_dir={out}" in one_error_line(capsys.readouterr().err)
    assert (out / "b_label.png").stat().st_mtime_ns == before
    assert run_main(main_of("predict"), *args, "overwrite=true") == 0


def test_output_names_that_differ_only_in_case_are_refused():
    a, b = Path("/x/Photo.png"), Path("/x/photo.PNG")
    with pytest.raises(UserError, match=r"inputs /x/Photo.png and /x/photo.PNG"):
        output_stems([a, b])
    assert output_stems([Path("/x/a.jpg"), Path("/x/y/a.jpg")]) == [Path("a"), Path("y/a")]


# ------------------------------------------------------------------------------------------ 5. safe resume
@pytest.mark.slow
def test_resume_refuses_a_crafted_checkpoint_even_when_the_environment_asks(
    demo_data_dir, tmp_path, monkeypatch, capsys
):
    """Before: with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1, ckpt_path= unpickled the file: a crafted one ran code."""
    marker = tmp_path / "code_ran"
    crafted = tmp_path / "crafted.ckpt"
    payload = f"import pathlib; pathlib.Path({str(marker)!r}).touch()"
    torch.save({"state_dict": {}, "pytorch-lightning_version": "2.6.6", "x": RunsCode(payload)}, crafted)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    args = [
        *DEMO,
        f"paths.data_dir={demo_data_dir}",
        f"ckpt_path={crafted}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    status = run_main(main_of("train"), *args)
    assert status == 2 and str(crafted) in one_error_line(capsys.readouterr().err)
    assert not marker.exists()
    with pytest.warns(UserWarning):
        torch.load(crafted)  # what torch.load without weights_only=True does under that variable
    assert marker.exists()


class RunsCode:
    def __init__(self, source: str) -> None:
        self.source = source

    def __reduce__(self):
        return (exec, (self.source,))


# ------------------------------------------------------------------------------------------ 5b. signals
def metric_rows(run_dir: Path, key: str) -> list[tuple[str, str]]:
    """``(step, value)`` of the rows of ``run_dir``'s ``csv/metrics.csv`` that hold ``key``."""
    rows = csv.DictReader((run_dir / "csv" / "metrics.csv").open())
    return [(r["step"], r[key]) for r in rows if r.get(key)]


@pytest.mark.slow
def test_sigterm_saves_the_step_and_the_resumed_run_ends_bit_exact(trained_run, demo_data_dir, tmp_path):
    """Before: exit 0 after Lightning's "Received SIGTERM: 15", no checkpoint since the last validation, no resume
    hint; a resumed run replayed epoch 0's augmentations (num_workers=0) and forgot the best validation.

    SIGTERM during step 5 of the shared 6-step run (in the middle of an epoch; a loader worker here, none in the
    shared run and the resumed one): the step ends, last.ckpt holds it, exit 143 and one line naming it and the
    resume command. Resumed, the run ends with the shared run's weights bit for bit, its best checkpoint, and its
    metrics.csv rows once each."""
    killed, resumed = tmp_path / "killed", tmp_path / "resumed"
    common = [*QUIET, "final_eval.isr=[]"]
    sigterm = ["+callbacks.kill._target_=tests.cli.killer.SignalAtStep", "+callbacks.kill.step=4"]
    threads = str(torch.get_num_threads())  # the same arithmetic as the shared run, in this process
    proc = run(
        "train.py", [*tiny(demo_data_dir, killed, steps=6), *common, *sigterm], OMP_NUM_THREADS=threads
    )
    last = killed / "checkpoints" / "last.ckpt"
    line = one_error_line(proc.stderr)
    assert proc.returncode == 143 and str(last) in line and f"ckpt_path={last}" in line, proc.stderr[-2000:]
    assert checkpoint_steps(killed / "checkpoints") == {"best_step000004.ckpt": 4, "last.ckpt": 5}
    assert [step for step, _ in metric_rows(killed, "train/loss")] == ["0", "1", "2", "3", "4"]

    assert (
        run_main(main_of("train"), *tiny(demo_data_dir, resumed, steps=6), *common, f"ckpt_path={last}") == 0
    )
    a = torch.load(trained_run / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(resumed / "checkpoints" / "last.ckpt", weights_only=True)
    assert a["global_step"] == b["global_step"] == 6
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=0, atol=0, msg=key)
    best = sorted(p.name for p in (trained_run / "checkpoints").glob("best_*.ckpt"))
    assert sorted(p.name for p in (resumed / "checkpoints").glob("best_*.ckpt")) == best
    assert (killed / "checkpoints" / "best_step000004.ckpt").is_file()  # the interrupted run's files are kept
    for key in ("train/loss", "val/mIoU"):  # the history once, as the uninterrupted run logged it
        assert metric_rows(resumed, key) == metric_rows(trained_run, key)


@pytest.mark.slow
def test_ctrl_c_during_eval_exits_130_and_writes_no_results(trained_run, demo_data_dir, tmp_path, capsys):
    """Before: exit 1 after a KeyboardInterrupt traceback (SIGTERM: exit 0, as if the evaluation had finished)."""
    args = [f"ckpt_path={trained_run / 'checkpoints' / 'last.ckpt'}", *tiny_eval(demo_data_dir)]
    args += [f"hydra.run.dir={tmp_path}", "+callbacks.kill._target_=tests.cli.killer.SignalAtTestBatch"]
    args += ["+callbacks.kill.batch=1", "data.val_batch_size=1"]
    status = run_main(main_of("eval"), *args)
    line = one_error_line(capsys.readouterr().err)
    assert status == 130 and "SIGINT" in line and "2 of 4" in line
    assert not list(tmp_path.glob("results.*"))


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
    *MINI,
    "data=ade20k",
    "global_batch=4",
    "data.crop_size=[32,32]",
    "data.batch_size=4",
    "logger=csv",
]
TRAIN_ON_ADE += ["trainer.max_steps=2", "trainer.accelerator=cpu", "final_eval.isr=[]", *QUIET]
MASK2 = "annotations/training/ADE_train_00000002.png"
IMAGE2 = "images/training/ADE_train_00000002.jpg"
DATA_CASES = {  # how the data is broken -> what the one line names
    "missing root": (None, ["{root}/missing"]),
    "missing masks": (
        lambda b: [p.unlink() for p in (b / "annotations" / "training").glob("*.png")],
        ["{base}/images/training/ADE_train_00000001.jpg", "and 3 more"],
    ),
    "label 200": (lambda b: _mask(b / MASK2), ["{base}/" + MASK2, "200"]),
    "mask size": (lambda b: _mask(b / MASK2, (1,), 40, 64), [MASK2, "40x64"]),
    "truncated jpeg": (lambda b: _truncate(b / IMAGE2), [IMAGE2]),
    "zero-byte jpeg": (lambda b: (b / IMAGE2).write_bytes(b""), [IMAGE2]),
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
    tweak, named = DATA_CASES[case]
    root = tmp_path / "missing" if tweak is None else write_ade(tmp_path / "ade", tweak)
    args = [
        *TRAIN_ON_ADE,
        f"data.root={root}",
        f"data.num_workers={workers}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    status = run_main(main_of("train"), *args)
    line = one_error_line(capsys.readouterr().err)
    named = [n.format(root=tmp_path, base=root / "ADEChallengeData2016") for n in named]
    assert status == 2 and all(n in line for n in named), line
    assert line in (tmp_path / "run" / "train.log").read_text()  # the error in the run's log


def lightning_checkpoint(path: Path, name: str, num_classes: int) -> Path:
    """What a training run saves, as far as the readers look: ``net.*`` weights and the hyper-parameters."""
    net = create_model(name, num_classes=num_classes)
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    hparams = {"model_name": name, "num_classes": num_classes, "train_isr": str(net.train_isr)}
    torch.save({"state_dict": state, "global_step": 0, "hyper_parameters": hparams,
                "pytorch-lightning_version": "2.6.6"}, path)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """A Lightning segmentation checkpoint, a truncated copy, a classification one and a converted weights file."""
    root = tmp_path_factory.mktemp("ckpts")
    seg = lightning_checkpoint(root / "last.ckpt", "edaformer_mini", 6)
    (root / "truncated.ckpt").write_bytes(seg.read_bytes()[: seg.stat().st_size // 3])
    lightning_checkpoint(root / "eft.ckpt", "eft_mini", 10)
    save_model(create_model("edaformer_mini", num_classes=6), root / "ours.pt", "edaformer_mini")
    image(root / "scene.jpg")
    return {"seg": seg, "truncated": root / "truncated.ckpt", "cls": root / "eft.ckpt", "ours": root / "ours.pt",
            "image": root / "scene.jpg"}  # fmt: skip


NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
DEMO = [*MINI, "data.num_train=16", "data.num_val=4", "data.crop_size=[64,64]", "data.num_workers=0"]
DEMO += ["logger=csv", "trainer.accelerator=cpu", "trainer.max_steps=2", "final_eval.isr=[]", *QUIET]
CLASSIFIER = ["{cls}", "classification"]
ARGUMENT_CASES = [  # command, arguments, what the one line names (keys and values, not sentences)
    ("train", ["data=custom", "data.root=/nowhere"], ["data.class_names="]),
    ("train", [*DEMO, "seed=abc"], ["seed=abc"]),
    ("train", [*DEMO, "foo=1"], ["foo"]),
    ("train", [*DEMO, "data.batch_size=abc"], ["data.batch_size=abc", "DemoDataModule"]),
    ("train", [*DEMO, "model.optimizer.lr=abc"], ["model.optimizer.lr=abc", "AdamW"]),
    ("train", [*DEMO, "trainer.max_steps=x"], ["trainer.max_steps=x"]),
    ("train", [*DEMO, "callbacks.nan_guard.action=halt"], ["callbacks.nan_guard.action=halt", "stop"]),
    ("train", ["debug=nan"], []),  # a group option that reads as a number: Hydra's own line
    ("complexity", ["size=[0,0]"], ["size=[0,0]"]),
    ("complexity", ["size=[a,b]"], ["size=[a,b]"]),
    ("export", ["ckpt_path={seg}", "size=abc"], ["size=abc"]),
    ("export", ["ckpt_path={seg}", "formats=[tflite]"], ["formats", "tflite"]),
    ("visualize_attention", ["ckpt_path={seg}", "image={image}", "point=abc"], ["point=abc"]),
    ("visualize_attention", ["ckpt_path={seg}", "image={image}", "point=[1,2,3]"], ["point=[1,2,3]"]),
    ("predict", ["ckpt_path={seg}", "inputs={image}", "alpha=5"], ["alpha=5"]),
    ("predict", ["ckpt_path={seg}", "inputs={image}", "precision=fp8"], ["precision=fp8", "bf16"]),
    ("predict", ["ckpt_path={seg}", "inputs={image}", "save=[jpeg]"], ["save", "jpeg"]),
    pytest.param(
        "predict", ["ckpt_path={seg}", "inputs={image}", "device=cuda"], ["device=cuda"], marks=NO_CUDA
    ),
    pytest.param(
        "train",
        [*DEMO, "trainer.accelerator=cuda"],
        ["trainer.accelerator=cuda"],
        marks=[NO_CUDA, pytest.mark.slow],
    ),
    (
        "eval",
        ["data.num_train=16", "data.num_val=4", "trainer.accelerator=cpu", "ckpt_path={cls}"],
        CLASSIFIER,
    ),
    ("predict", ["ckpt_path={cls}", "inputs={image}"], CLASSIFIER),
    ("visualize_attention", ["ckpt_path={cls}", "image={image}"], CLASSIFIER),
    ("train", [*DEMO, "ckpt_path={ours}"], ["ckpt_path={ours}", "Lightning"]),
    ("train", [*DEMO, "ckpt_path={truncated}"], ["{truncated}"]),
    ("train", [*DEMO, "model=edaformer_b", "ckpt_path={seg}"], ["edaformer_mini", "edaformer_b"]),
    (
        "train",
        [*DEMO, "final_eval.isr=[train,fast]"],
        ["final_eval.isr=fast"],
    ),  # found before the work starts
    ("train", [*DEMO, "monitor=val/miou"], ["monitor=val/miou", "val/mIoU"]),
    ("train", [*DEMO, "model.num_classes=5"], ["model.num_classes=5", "6"]),  # the demo data has 6
    ("train", [*DEMO, "checkpoint_every_minutes=0"], ["checkpoint_every_minutes=0"]),
]


ARGUMENT_CASES = [  # a training or an evaluation composes a large config: over a second
    pytest.param(*c, marks=pytest.mark.slow) if isinstance(c, tuple) and c[0] in ("train", "eval") else c
    for c in ARGUMENT_CASES
]


@pytest.mark.parametrize(("command", "args", "named"), ARGUMENT_CASES)
def test_mistakes_are_one_line_with_exit_status_2(
    command, args, named, checkpoints, demo_data_dir, tmp_path, capsys
):
    paths = {k: str(v) for k, v in checkpoints.items()}
    args = [a.format(**paths) for a in args]
    if command in ("train", "eval"):
        args += [f"paths.data_dir={demo_data_dir}", f"hydra.run.dir={tmp_path}"]
    status = run_main(main_of(command), *args)
    line = one_error_line(capsys.readouterr().err)
    assert status == 2 and all(n.format(**paths) in line for n in named), line
    assert not (tmp_path / "checkpoints").exists()  # nothing trained before the mistake was found


@pytest.mark.slow
def test_predict_checks_its_output_dir_before_loading_the_model(checkpoints, tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("")

    def never(*args, **kwargs):
        raise AssertionError("the model was loaded before the output dir was checked")

    monkeypatch.setattr("edaformer.evaluation.segmenter.load_model", never)
    out = tmp_path / "file" / "x"
    args = [f"ckpt_path={checkpoints['seg']}", f"inputs={checkpoints['image']}", f"output_dir={out}"]
    status = run_main(main_of("predict"), *args)
    assert status == 2 and f"output_dir={out}" in one_error_line(capsys.readouterr().err)


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
    assert f"error: {inputs / 'huge.png'}: 20000x20000" in err and "max_image_pixels=400000000" in err
    summary = json.loads((tmp_path / "o1" / "predictions.json").read_text())
    assert [Path(r["input"]).name for r in summary["images"]] == ["a.jpg"]
    assert [Path(r["input"]).name for r in summary["failed"]] == ["huge.png"]
    # the limit is a setting: a.jpg (768 px) is refused below it and segmented at it
    one = [*args, f"inputs={inputs / 'a.jpg'}"]
    assert run_main(main_of("predict"), *one, "max_image_pixels=767", f"output_dir={tmp_path / 'o2'}") == 1
    assert run_main(main_of("predict"), *one, "max_image_pixels=768", f"output_dir={tmp_path / 'o3'}") == 0


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
