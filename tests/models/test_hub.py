"""Hub folders: save_pretrained / from_pretrained on every model class, the config that rebuilds the model, the
model card, and the one-line errors (a folder that is not ours, an offline Hub)."""

from __future__ import annotations

import json

import pytest
import torch
from huggingface_hub import ModelCard

from edaformer.checkpoints import load_encoder_weights, load_model
from edaformer.complexity import count_flops
from edaformer.models import (
    EDAFormer,
    EFTClassifier,
    EFTEncoder,
    EFTFeatures,
    HubError,
    create_model,
    eft_encoder,
    isr_applied,
)
from edaformer.models.decoder import EDAFormerHead

NAMES = ["sky", "road", "car"]
PALETTE = [[70, 130, 180], [128, 64, 128], [0, 0, 142]]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """An EDAFormer-T (3 classes, non-default decoder width, ISR paper) saved with classes and results."""
    torch.manual_seed(0)
    model = create_model("edaformer_t", num_classes=3, embed_dim=64, isr="paper").eval()
    model.decode_head.fuse.bn.running_mean.uniform_(-0.5, 0.5)  # buffers travel too
    folder = tmp_path_factory.mktemp("hub") / "edaformer_t_streets"
    rows = [{"setting": "train", "isr": "8,4,2,1-1,2,4", "mIoU": 0.4123, "mAcc": 0.5, "aAcc": 0.8}]
    config = {"class_names": NAMES, "palette": PALETTE, "dataset": "streets", "input_size": [64, 128]}
    model.save_pretrained(folder, config={**config, "metrics": rows})
    return folder, model


@pytest.mark.slow
def test_folder_config_and_round_trip(saved):
    folder, model = saved
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}
    assert modes["model.safetensors"] == modes["config.json"]  # not safetensors' private 0600
    config = json.loads((folder / "config.json").read_text())
    assert config["model_name"] == "edaformer_t" and config["num_classes"] == 3
    assert config["model_args"]["embed_dim"] == 64  # the factory's arguments rebuild the same architecture
    assert config["isr"] == "16,8,2,1-2,4,8" and config["train_isr"] == "8,4,2,1-1,2,4"
    assert config["class_names"] == NAMES and config["palette"] == PALETTE
    rebuilt = create_model(config["model_name"], **config["model_args"])
    assert rebuilt.decode_head.fuse.conv.out_channels == 64

    loaded = EDAFormer.from_pretrained(folder)
    assert not loaded.training and str(loaded.isr) == "16,8,2,1-2,4,8"  # the default inference setting
    assert loaded.hub_metadata["class_names"] == NAMES
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    # a loaded model saves again with its metadata
    again = folder.parent / "again"
    loaded.save_pretrained(again)
    assert json.loads((again / "config.json").read_text())["palette"] == PALETTE


@pytest.mark.slow
def test_model_card_states_complexity_data_metrics_usage_and_citation(saved):
    folder, model = saved
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
    assert "GFLOPs (64×128)" in text and "41.23" in text
    assert "sky, road, car" in text
    assert 'EDAFormer.from_pretrained("path/to/this/folder")' in text
    assert "@article{yu2024embedding" in text and "arXiv:2407.17261" in text


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["classifier", "encoder", "features"])
def test_classifier_and_encoder_folders(kind, tmp_path):
    if kind == "classifier":
        model, cls = create_model("eft_t", num_classes=10, isr="paper"), EFTClassifier
    elif kind == "encoder":
        model, cls = eft_encoder("t", drop_path_rate=0.0), EFTEncoder
    else:
        model, cls = create_model("eft_t", features_only=True, out_indices=(1, 3)), EFTFeatures
    model.eval().save_pretrained(tmp_path / kind, config={"input_size": [64, 64]})
    loaded = cls.from_pretrained(tmp_path / kind)
    assert type(loaded) is type(model) and loaded.isr == model.isr
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        out, ref = loaded(x), model(x)
    for a, b in zip(out if isinstance(out, list) else [out], ref if isinstance(ref, list) else [ref]):
        assert torch.equal(a, b)
    card = (tmp_path / kind / "README.md").read_text()
    assert "| `dec2x` |" not in card  # encoder-only models: one row per distinct encoder setting
    assert "| `paper` | 16,8,2,1 |" in card


@pytest.mark.slow
@pytest.mark.parametrize("name", ["edaformer_t", "eft_t"])
def test_training_ratios_travel_with_the_folder(name, tmp_path):
    """A model trained at other ratios (Table 4's starred row) comes back built at them: ``isr=own`` finds them,
    and the weights load strictly (the pooling ratio is no weight, so only the record can tell)."""
    model = create_model(name, num_classes=3, train_isr="aggressive", isr="train").eval()
    own = "16,8,4,2-2,4,8" if name == "edaformer_t" else "16,8,4,2"
    model.save_pretrained(tmp_path / name, config={"input_size": [64, 64]})
    config = json.loads((tmp_path / name / "config.json").read_text())
    assert config["train_isr"] == own and config["isr"] == str(model.isr) != own
    assert "train_isr" not in config["model_args"]  # one record of the ratios, the top-level one
    card = (tmp_path / name / "README.md").read_text()
    assert f"| `aggressive` (trained) | {own} |" in card
    assert f"The model was trained with `{own}` and loads under `{model.isr}`" in card

    loaded = type(model).from_pretrained(tmp_path / name)
    assert str(loaded.train_isr) == own and loaded.isr == model.isr
    assert str(loaded.set_isr("own")) == own
    _, info = load_model(tmp_path / name)
    assert info.train_isr == own
    if name == "edaformer_t":  # and a folder of a standard model says so
        create_model(name, num_classes=3).save_pretrained(tmp_path / "standard")
        assert str(EDAFormer.from_pretrained(tmp_path / "standard").train_isr) == "8,4,2,1-1,2,4"


@pytest.mark.slow
def test_load_model_and_encoder_weights_read_hub_folders(saved):
    folder, model = saved
    loaded, info = load_model(folder)
    assert info.kind == "hub" and info.model_name == "edaformer_t" and info.num_classes == 3
    assert info.class_names == tuple(NAMES) and info.palette == tuple(tuple(c) for c in PALETTE)
    assert info.dataset == "streets" and str(loaded.isr) == "16,8,2,1-2,4,8"
    with pytest.raises(ValueError, match="checkpoint holds model 'edaformer_t', but 'edaformer_b'"):
        load_model(folder, model_name="edaformer_b")
    # the segmentor's encoder as the pretrained weights of a backbone
    backbone = create_model("eft_t", features_only=True)
    report = load_encoder_weights(backbone, folder)
    assert "hub folder of edaformer_t" in report
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, model.encoder.state_dict()[key])


@pytest.mark.slow
def test_errors_name_the_folder_or_repo(saved, tmp_path):
    folder, _ = saved
    with pytest.raises(
        HubError, match=r"holds edaformer_t \(EDAFormer\), which EFTClassifier.from_pretrained does not load"
    ):
        EFTClassifier.from_pretrained(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(HubError, match="empty: not a hub folder"):
        EDAFormer.from_pretrained(tmp_path / "empty")
    with pytest.raises(HubError, match="no such folder, and not a Hub repo id"):
        EDAFormer.from_pretrained(tmp_path / "missing.pth")
    # not built by a factory: nothing to rebuild it from
    encoder = EFTEncoder()
    bare = EDAFormer(encoder, EDAFormerHead(encoder.feature_info, 3))
    with pytest.raises(ValueError, match="not built by a factory"):
        bare.save_pretrained(tmp_path / "bare")
    model = create_model("edaformer_t", num_classes=3)
    with pytest.raises(ValueError, match="disagrees with the model"):
        model.hub_config({"isr": "paper"})
    with pytest.raises(ValueError, match="2 class names for 3 classes"):
        model.hub_config({"class_names": ["a", "b"]})


def test_offline_hub_error_names_the_repo_id(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(HubError) as err:
        EDAFormer.from_pretrained("someone/edaformer-t-ade20k")
    message = str(err.value)
    assert "\n" not in message
    assert "cannot load 'someone/edaformer-t-ade20k' from the Hugging Face Hub" in message
    assert "offline (HF_HUB_OFFLINE=1)" in message
