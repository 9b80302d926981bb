"""Untrusted hub folders: config.json and the safetensors header are checked before any model is built; every
broken folder is one HubError naming the file and the field or tensor (commands: one ``error:`` line, exit 2)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from edaformer.checkpoints import load_model
from edaformer.models import EDAFormer, HubError, create_model


@pytest.fixture(scope="module")
def good_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hub") / "good"
    create_model("edaformer_mini", num_classes=3).save_pretrained(folder)
    return folder


def _config(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        edit(config)
        (folder / "config.json").write_text(json.dumps(config))

    return apply


def _raw_config(text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / "config.json").write_text(text)


def _wrong_shape(folder: Path) -> None:
    state = load_file(folder / "model.safetensors")
    state["decode_head.classifier.weight"] = torch.zeros(5, 32, 1, 1)
    save_file(state, folder / "model.safetensors")


def _corrupt_header(folder: Path) -> None:
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[8:20] = b"not a header"
    (folder / "model.safetensors").write_bytes(bytes(data))


def _huge_classes(config: dict) -> None:
    config["num_classes"] = config["model_args"]["num_classes"] = 1e7


BROKEN = {  # what was done to the folder, the file and the field the one line names
    "list": (_raw_config("[1, 2, 3]"), "config.json", "list"),
    "null": (_raw_config("null"), "config.json", "null"),
    "invalid JSON": (_raw_config("{oops"), "config.json", "JSON"),
    "wrong shape": (_wrong_shape, "model.safetensors", "decode_head.classifier.weight"),
    "corrupt header": (_corrupt_header, "model.safetensors", "safetensors"),
    "num_classes 1e7": (_config(_huge_classes), "config.json", "num_classes"),
    "mlp ratio 1e6": (
        _config(lambda c: c["model_args"].update(decoder_mlp_ratio=1e6)),
        "config.json",
        "decoder_mlp_ratio",
    ),
    "classes disagree": (
        _config(lambda c: c["model_args"].update(num_classes=7)),
        "config.json",
        "num_classes",
    ),
    "unknown model": (_config(lambda c: c.update(model_name="segformer")), "config.json", "model_name"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_hub_folder_is_one_error_naming_file_and_field(case, good_folder, tmp_path):
    damage, file, field = BROKEN[case]
    folder = tmp_path / "folder"
    shutil.copytree(good_folder, folder)
    damage(folder)
    for load in (load_model, EDAFormer.from_pretrained):
        with pytest.raises(HubError) as err:
            load(folder)
        message = str(err.value)
        assert "\n" not in message and f"{folder}/{file}" in message and field in message


def test_an_intact_folder_still_loads(good_folder):
    model, info = load_model(good_folder)
    assert info.num_classes == 3 and model.decode_head.classifier.weight.shape[0] == 3
