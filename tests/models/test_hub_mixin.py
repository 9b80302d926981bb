"""Hub folders: save_pretrained / from_pretrained on every model class, the config that rebuilds the model, and the
one-line errors (a folder that is not ours, an offline Hub). The model card: tests/test_model_card.py."""

from __future__ import annotations

import json

import pytest
import torch
from huggingface_hub import ModelCard

from edaformer.checkpoints import load_encoder_weights, load_model
from edaformer.models import (
    MODELS,
    EDAFormer,
    EFTClassifier,
    EFTEncoder,
    EFTFeatures,
    HubError,
    create_model,
    eft_encoder,
)
from edaformer.models.decoder import EDAFormerHead

NAMES = ["sky", "road", "car"]
PALETTE = [[70, 130, 180], [128, 64, 128], [0, 0, 142]]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """An EDAFormer-Mini (3 classes, non-default decoder width, ISR paper) saved with classes and results."""
    torch.manual_seed(0)
    model = create_model("edaformer_mini", num_classes=3, embed_dim=24, isr="paper").eval()
    model.decode_head.fuse.bn.running_mean.uniform_(-0.5, 0.5)  # buffers travel too
    folder = tmp_path_factory.mktemp("hub") / "edaformer_mini_streets"
    rows = [{"setting": "train", "isr": "8,4,2,1-1,2,4", "mIoU": 0.4123, "mAcc": 0.5, "aAcc": 0.8}]
    config = {"class_names": NAMES, "palette": PALETTE, "dataset": "streets", "input_size": [64, 128]}
    model.save_pretrained(folder, config={**config, "metrics": rows})
    return folder, model


def test_folder_config_and_round_trip(saved):
    folder, model = saved
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}
    assert modes["model.safetensors"] == modes["config.json"]  # not safetensors' private 0600
    card = ModelCard.load(folder / "README.md")  # huggingface_hub's default card, with our metadata
    assert card.data.library_name == "edaformer" and card.data.pipeline_tag == "image-segmentation"
    config = json.loads((folder / "config.json").read_text())
    assert config["model_name"] == "edaformer_mini" and config["num_classes"] == 3
    assert config["model_args"]["embed_dim"] == 24  # the factory's arguments rebuild the same architecture
    assert config["isr"] == "16,8,2,1-2,4,8" and config["train_isr"] == "8,4,2,1-1,2,4"
    assert config["class_names"] == NAMES and config["palette"] == PALETTE
    assert config["metrics"][0]["mIoU"] == 0.4123 and config["input_size"] == [64, 128]
    rebuilt = create_model(config["model_name"], **config["model_args"])
    assert rebuilt.decode_head.fuse.conv.out_channels == 24

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


def test_every_registered_factory_records_how_it_built_the_model():
    """The registry is the one table the hub loader reads: every factory's model rebuilds from its record."""
    assert {
        "edaformer_t",
        "edaformer_b",
        "edaformer_mini",
        "eft_t",
        "eft_b",
        "eft_mini",
        "eft_encoder",
    } <= set(MODELS)
    model = create_model("eft_mini", num_classes=7, features_only=True, out_indices=(1, 3), isr="paper")
    assert model.model_name == "eft_mini"
    assert model.model_args == {
        "num_classes": 7,
        "drop_path_rate": 0.1,
        "in_chans": 3,
        "features_only": True,
        "out_indices": [1, 3],  # as config.json stores it
    }  # isr / train_isr: the model reports them itself
    encoder = eft_encoder("mini", drop_path_rate=0.0)
    assert encoder.model_name == "eft_encoder" and encoder.model_args["variant"] == "mini"
    segmentor = create_model("edaformer_mini", num_classes=2)
    assert segmentor.model_name == "edaformer_mini" and segmentor.encoder.model_name == "eft_encoder"


@pytest.mark.parametrize("kind", ["classifier", "encoder", "features"])
def test_classifier_and_encoder_folders(kind, tmp_path):
    if kind == "classifier":
        model, cls = create_model("eft_mini", num_classes=10, isr="paper"), EFTClassifier
    elif kind == "encoder":
        model, cls = eft_encoder("mini", drop_path_rate=0.0), EFTEncoder
    else:
        model, cls = create_model("eft_mini", features_only=True, out_indices=(1, 3)), EFTFeatures
    model.eval().save_pretrained(tmp_path / kind, config={"input_size": [64, 64]})
    loaded = cls.from_pretrained(tmp_path / kind)
    assert type(loaded) is type(model) and loaded.isr == model.isr
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        out, ref = loaded(x), model(x)
    for a, b in zip(out if isinstance(out, list) else [out], ref if isinstance(ref, list) else [ref]):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", ["edaformer_mini", "eft_mini"])
def test_training_ratios_travel_with_the_folder(name, tmp_path):
    """A model trained at other ratios (Table 4's starred row) comes back built at them: ``isr=own`` finds them,
    and the weights load strictly (the pooling ratio is no weight, so only the record can tell)."""
    model = create_model(name, num_classes=3, train_isr="aggressive", isr="train").eval()
    own = "16,8,4,2-2,4,8" if name == "edaformer_mini" else "16,8,4,2"
    model.save_pretrained(tmp_path / name, config={"input_size": [64, 64]})
    config = json.loads((tmp_path / name / "config.json").read_text())
    assert config["train_isr"] == own and config["isr"] == str(model.isr) != own
    assert "train_isr" not in config["model_args"]  # one record of the ratios, the top-level one

    loaded = type(model).from_pretrained(tmp_path / name)
    assert str(loaded.train_isr) == own and loaded.isr == model.isr
    assert str(loaded.set_isr("own")) == own
    _, info = load_model(tmp_path / name)
    assert info.train_isr == own
    if name == "edaformer_mini":  # and a folder of a standard model says so
        create_model(name, num_classes=3).save_pretrained(tmp_path / "standard")
        assert str(EDAFormer.from_pretrained(tmp_path / "standard").train_isr) == "8,4,2,1-1,2,4"


def test_load_model_and_encoder_weights_read_hub_folders(saved):
    folder, model = saved
    loaded, info = load_model(folder)
    assert info.kind == "hub" and info.model_name == "edaformer_mini" and info.num_classes == 3
    assert info.class_names == tuple(NAMES) and info.palette == tuple(tuple(c) for c in PALETTE)
    assert info.dataset == "streets" and str(loaded.isr) == "16,8,2,1-2,4,8"
    with pytest.raises(ValueError, match="edaformer_b"):
        load_model(folder, model_name="edaformer_b")
    # the segmentor's encoder as the pretrained weights of a backbone
    backbone = create_model("eft_mini", features_only=True)
    report = load_encoder_weights(backbone, folder)
    assert "edaformer_mini" in report
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, model.encoder.state_dict()[key])


def test_errors_name_the_folder_or_repo(saved, tmp_path):
    folder, _ = saved
    with pytest.raises(HubError, match="EFTClassifier"):
        EFTClassifier.from_pretrained(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(HubError, match="empty"):
        EDAFormer.from_pretrained(tmp_path / "empty")
    with pytest.raises(HubError, match="missing.pth"):
        EDAFormer.from_pretrained(tmp_path / "missing.pth")
    config = json.loads((folder / "config.json").read_text())
    for key, value in [("model_name", "segformer_b0"), ("format", None), ("model_args", {"depths": [1]})]:
        bad = tmp_path / f"bad_{key}"
        bad.mkdir()
        (bad / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
        (bad / "config.json").write_text(json.dumps({**config, key: value}))
        with pytest.raises(HubError, match=f"bad_{key}"):
            EDAFormer.from_pretrained(bad)
    # not built by a factory: nothing to rebuild it from
    encoder = eft_encoder("mini")
    bare = EDAFormer(encoder, EDAFormerHead(encoder.feature_info, 3))
    with pytest.raises(ValueError, match="factory"):
        bare.save_pretrained(tmp_path / "bare")
    assert not (tmp_path / "bare").exists()
    model = create_model("edaformer_mini", num_classes=3)
    with pytest.raises(ValueError, match="isr"):
        model.hub_config({"isr": "paper"})  # the model's own setting is the record: change the model instead
    with pytest.raises(ValueError, match="class names"):
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
    assert "someone/edaformer-t-ade20k" in message and "HF_HUB_OFFLINE" in message


def test_one_registry_and_no_import_cycle():
    """The hub loader and the timm registration read the registry, which imports no model: no cycle."""
    from tests.conftest import REPO
    from tests.test_architecture import imported_modules

    def ours(name: str) -> list[str]:
        path = REPO / "edaformer" / "models" / f"{name}.py"
        return sorted({n for _, n in imported_modules(path) if n.startswith("edaformer")})

    assert ours("registry") == []
    assert ours("hub_mixin") == ["edaformer.models.hub_checks", "edaformer.models.registry"]
    assert ours("hub_checks") == []
    assert ours("timm_registry") == ["edaformer.models.registry"]
    for factories in ("eft", "classifier", "edaformer"):
        assert "edaformer.models.registry" in ours(factories)
