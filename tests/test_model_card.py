"""The model card of a hub folder (edaformer.tools.model_card): complexity under each ISR preset, data, metrics,
usage and citation; and the metadata a checkpoint brings to it."""

from __future__ import annotations

import json

import pytest
import torch
from huggingface_hub import ModelCard

from edaformer.checkpoints import CheckpointInfo
from edaformer.flops import count_flops
from edaformer.models import EDAFormer, create_model, isr_applied
from edaformer.tools.model_card import hub_metadata, save_hub_folder

NAMES = ["sky", "road", "car"]
PALETTE = [[70, 130, 180], [128, 64, 128], [0, 0, 142]]


@pytest.fixture(scope="module")
def carded(tmp_path_factory):
    """An EDAFormer-Mini (3 classes, ISR paper) saved with classes, results and its model card."""
    model = create_model("edaformer_mini", num_classes=3, isr="paper").eval()
    folder = tmp_path_factory.mktemp("card") / "edaformer_mini_streets"
    rows = [{"setting": "train", "isr": "8,4,2,1-1,2,4", "mIoU": 0.4123, "mAcc": 0.5, "aAcc": 0.8}]
    config = {"class_names": NAMES, "palette": PALETTE, "dataset": "streets", "input_size": [64, 128]}
    save_hub_folder(model, folder, config={**config, "metrics": rows}, repo_id="me/streets")
    return folder, model


def test_card_states_complexity_data_metrics_usage_and_citation(carded):
    folder, model = carded
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    card = ModelCard.load(folder / "README.md")
    assert card.data.library_name == "edaformer" and card.data.pipeline_tag == "image-segmentation"
    assert card.data.license == "apache-2.0" and card.data.datasets == ["streets"]
    assert card.data.eval_results[0].metric_value == 41.23
    text = card.text
    # one row per ISR preset with the params and the GFLOPs at the dataset's size (64x128 here)
    for preset in ("train", "dec2x", "paper", "aggressive"):
        with isr_applied(model, preset):
            gflops = count_flops(model, (3, 64, 128))
        assert f"| `{preset}`" in text and f"| {gflops:.2f} |" in text
    assert "| `train` (trained) | 8,4,2,1-1,2,4 |" in text  # the ratios the weights were trained at
    assert "GFLOPs (64×128)" in text and "| 41.23 |" in text
    assert "sky, road, car" in text
    assert 'EDAFormer.from_pretrained("me/streets")' in text
    assert "@article{yu2024embedding" in text
    # the folder still loads as any hub folder
    loaded = EDAFormer.from_pretrained(folder)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_encoder_only_cards_have_one_row_per_distinct_encoder_setting(tmp_path):
    model = create_model("eft_mini", num_classes=10, isr="paper").eval()
    save_hub_folder(model, tmp_path / "cls", config={"input_size": [64, 64]})
    card = (tmp_path / "cls" / "README.md").read_text()
    assert "| `dec2x` |" not in card
    assert "| `paper` | 16,8,2,1 |" in card


def test_card_of_a_model_trained_at_other_ratios_marks_them(tmp_path):
    model = create_model("edaformer_mini", num_classes=3, train_isr="aggressive", isr="train").eval()
    save_hub_folder(model, tmp_path / "aggr", config={"input_size": [64, 64]})
    card = (tmp_path / "aggr" / "README.md").read_text()
    assert "| `aggressive` (trained) | 16,8,4,2-2,4,8 |" in card
    assert json.loads((tmp_path / "aggr" / "config.json").read_text())["train_isr"] == "16,8,4,2-2,4,8"


def test_metadata_of_a_checkpoint(tmp_path):
    """A segmentor of a benchmark's class count gets its names, palette and evaluation size; the source is named."""
    model = create_model("edaformer_mini", num_classes=19)
    info = CheckpointInfo(str(tmp_path / "city.pth"), "official", "edaformer_mini", 19)
    meta = hub_metadata(model, info, tmp_path / "city.pth")
    assert meta["dataset"] == "cityscapes" and meta["input_size"] == [1024, 2048]
    assert len(meta["class_names"]) == len(meta["palette"]) == 19
    assert "city.pth" in meta["source"]
    assert hub_metadata(model, CheckpointInfo("x", "hub", "edaformer_mini", 19), "x") == {}
