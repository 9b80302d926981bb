"""Checkpoint files: atomic writes without leftovers, checks of a checkpoint's kind before it is used."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from edaformer.checkpoints import CheckpointKindError, load_checkpoint_file, load_model, save_model
from edaformer.files import atomic_write, remove_stale_temp_files, temp_path
from edaformer.models import create_model
from edaformer.training_checkpoints import check_training_checkpoint


def dead_pid() -> int:
    """The id of a process that has exited."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(proc.stdout)


def test_temp_file_is_hidden_beside_the_final_name(tmp_path):
    tmp = temp_path(tmp_path / "ckpts" / "last.ckpt")
    assert tmp.parent == tmp_path / "ckpts"
    assert tmp.name.startswith(".last.ckpt.") and tmp.name.endswith(f"-{os.getpid()}.tmp")


def test_failed_write_leaves_the_previous_file_and_no_temp(tmp_path):
    path = tmp_path / "w.pt"
    atomic_write(path, lambda f: f.write(b"good"))

    def crash(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, crash)
    assert path.read_bytes() == b"good" and os.listdir(tmp_path) == ["w.pt"]


def test_temp_files_of_killed_writers_are_removed_at_the_next_start(tmp_path):
    mine = temp_path(tmp_path / "last.ckpt")
    killed = mine.with_name(mine.name.replace(f"-{os.getpid()}.tmp", f"-{dead_pid()}.tmp"))
    live = temp_path(tmp_path / "best.ckpt")  # this process: still writing
    other_host = tmp_path / ".last.ckpt.some-other-host-1.tmp"
    for f in (killed, live, other_host):
        f.write_bytes(b"partial")
    assert remove_stale_temp_files(tmp_path) == [killed]
    assert live.exists() and other_host.exists()
    killed.write_bytes(b"partial")
    atomic_write(tmp_path / "x.pt", lambda f: f.write(b"x"))  # every write sweeps its folder first
    assert not killed.exists()


def test_writing_over_a_folder_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError):
        save_model(create_model("edaformer_mini", num_classes=3), tmp_path, "edaformer_mini")
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def classifier_ckpt(tmp_path_factory):
    net = create_model("eft_mini", num_classes=10)
    path = tmp_path_factory.mktemp("cls") / "eft_mini.ckpt"
    torch.save(
        {
            "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
            "hyper_parameters": {"model_name": "eft_mini", "num_classes": 10},
            "pytorch-lightning_version": "2.6.6",
        },
        path,
    )
    return path


def test_a_classifier_given_where_a_segmentor_is_needed_says_so(classifier_ckpt):
    with pytest.raises(CheckpointKindError) as err:
        load_model(classifier_ckpt, task="segmentation")
    assert (err.value.path, err.value.found, err.value.needed) == (
        str(classifier_ckpt),
        "classification",
        "segmentation",
    )
    assert str(classifier_ckpt) in str(err.value) and "eft_mini" in str(err.value)
    assert "edaformer-" not in str(err.value)  # the library names no command; the command adds its own hint
    model, info = load_model(classifier_ckpt, task="classification")
    assert info.task == "classification" and info.num_classes == 10


def test_resume_check_names_the_kind_and_the_misfit(tmp_path, classifier_ckpt):
    seg = create_model("edaformer_mini", num_classes=6)
    expected = {f"net.{k}": v for k, v in seg.state_dict().items()}
    ours = tmp_path / "ours.pt"
    save_model(seg, ours, "edaformer_mini")
    with pytest.raises(CheckpointKindError) as err:
        check_training_checkpoint(ours, expected, "edaformer_mini (6 classes)")
    assert (err.value.found, err.value.needed) == ("weights", "training") and str(ours) in str(err.value)
    with pytest.raises(CheckpointKindError) as err:
        check_training_checkpoint(classifier_ckpt, expected, "edaformer_mini (6 classes)")
    assert (err.value.found, err.value.needed) == ("training", "training")
    assert "eft_mini with 10 classes" in str(err.value) and "edaformer_mini (6 classes)" in str(err.value)
    fitting = tmp_path / "fits.ckpt"
    torch.save({"state_dict": expected, "pytorch-lightning_version": "2.6.6"}, fitting)
    assert set(check_training_checkpoint(fitting, expected, "edaformer_mini")["state_dict"]) == set(expected)
    truncated = tmp_path / "t.ckpt"
    truncated.write_bytes(classifier_ckpt.read_bytes()[:4096])
    with pytest.raises(ValueError, match="truncated"):
        check_training_checkpoint(truncated, expected, "edaformer_mini (6 classes)")


class _RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


def test_training_script_args_load_and_code_stays_refused(tmp_path):
    """DeiT / timm-style files keep an ``argparse.Namespace`` of the script's arguments (NumPy scalars and paths
    in it) beside the weights: they load with ``weights_only=True``; an object that runs code is still refused,
    in one line that says how to keep the tensors."""
    import argparse
    import pathlib

    import numpy as np

    from edaformer.checkpoints import load_encoder_weights

    encoder = create_model("eft_mini")
    args = argparse.Namespace(
        model="eft_mini", lr=5e-4, drop=np.float64(0.1), out=pathlib.Path("out"), seed=0
    )
    state = {f"net.{k}": v for k, v in encoder.state_dict().items()}
    torch.save({"state_dict": state, "args": args, "max_accuracy": np.float64(78.1)}, tmp_path / "deit.pth")
    loaded = load_checkpoint_file(tmp_path / "deit.pth")
    assert loaded["args"].drop == 0.1 and loaded["args"].out == pathlib.Path("out")
    target = create_model("edaformer_mini").encoder
    assert "loaded" in load_encoder_weights(target, tmp_path / "deit.pth")
    assert all(torch.equal(target.state_dict()[k], v) for k, v in encoder.encoder.state_dict().items())

    torch.save({"state_dict": state, "hook": _RunsCode()}, tmp_path / "code.pth")
    with pytest.raises(ValueError, match="weights_only") as err:
        load_checkpoint_file(tmp_path / "code.pth")
    assert "\n" not in str(err.value) and "torch.save" in str(err.value)
