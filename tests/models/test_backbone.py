"""EFT as a backbone: ``features_only`` maps with timm's ``feature_info``, ISR on them, pretrained encoder weights,
the FPN example of docs/backbone.md, and timm's registry (a stand-in timm: the real one pulls a CUDA torch)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import types

import pytest
import torch

from edaformer.checkpoints import load_encoder_weights, save_model
from edaformer.flops import count_flops
from edaformer.models import EFTFeatures, create_model, eft_encoder, isr_applied, timm_registry
from edaformer.models.eft import EFT_VARIANTS
from tests.conftest import REPO


@torch.no_grad()
def test_features_only_maps_and_feature_info():
    backbone = create_model("eft_mini", features_only=True, out_indices=(0, 1, 2, 3)).eval()
    assert isinstance(backbone, EFTFeatures)
    maps = backbone(torch.randn(2, 3, 100, 64))
    assert [tuple(m.shape) for m in maps] == [(2, 16, 25, 16), (2, 32, 13, 8), (2, 64, 7, 4), (2, 128, 4, 2)]
    info = backbone.feature_info
    assert info == [
        {"num_chs": 16, "reduction": 4, "module": "stages.0"},
        {"num_chs": 32, "reduction": 8, "module": "stages.1"},
        {"num_chs": 64, "reduction": 16, "module": "stages.2"},
        {"num_chs": 128, "reduction": 32, "module": "stages.3"},
    ]
    assert (
        info.channels() == [16, 32, 64, 128] and info.reduction(2) == 16 and info.module_name(0) == "stages.0"
    )
    # a subset, in the requested order, from the same weights as the full encoder
    subset = create_model("eft_mini", features_only=True, out_indices=(3, 1)).eval()
    assert subset.feature_info.channels() == [128, 32]
    full = eft_encoder("mini").eval()
    full.load_state_dict(subset.state_dict())
    x = torch.randn(1, 3, 64, 64)
    ref = full(x)
    assert [torch.equal(a, b) for a, b in zip(subset(x), [ref[3], ref[1]])] == [True, True]
    with pytest.raises(ValueError, match="out_indices must be distinct stage indices in 0..3"):
        create_model("eft_mini", features_only=True, out_indices=(0, 4))


@torch.no_grad()
def test_isr_works_on_the_backbone():
    backbone = create_model("eft_mini", features_only=True, out_indices=(1, 2, 3)).eval()
    x = torch.randn(1, 3, 128, 128)
    train = backbone(x)
    train_flops = count_flops(backbone, (3, 128, 128))
    with isr_applied(backbone, "paper") as setting:  # a full setting: the backbone takes its encoder part
        assert str(setting) == "16,8,2,1"
        paper = backbone(x)
        assert count_flops(backbone, (3, 128, 128)) < train_flops
    assert [m.shape for m in paper] == [m.shape for m in train]
    assert not torch.allclose(paper[0], train[0])  # stage 2 pooled by 8 instead of 4
    assert str(backbone.isr) == "8,4,2,1"  # restored


def test_pretrained_encoder_weights_load_into_the_backbone(tmp_path):
    classifier = create_model("eft_mini", num_classes=10)
    save_model(classifier, tmp_path / "eft_mini.pt", "eft_mini")
    backbone = create_model("eft_mini", features_only=True, out_indices=(2, 3))
    report = load_encoder_weights(backbone, tmp_path / "eft_mini.pt")
    assert report.startswith(f"loaded {len(backbone.state_dict())} encoder tensors")
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, classifier.encoder.state_dict()[key])


@pytest.mark.slow
def test_fpn_example_of_the_docs_trains(capsys):
    """Runs the Python block of docs/backbone.md on EFT-Mini (the document uses EFT-T; only the widths differ):
    shapes, a falling loss, ISR on the backbone; the feature shapes the document prints are EFT-T's."""
    text = (REPO / "docs" / "backbone.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert 'create_model("eft_t", features_only=True' in code
    namespace: dict = {"__name__": "docs_backbone"}
    exec(compile(code.replace('"eft_t"', '"eft_mini"'), "docs/backbone.md", "exec"), namespace)
    sizes = [(16, 24), (8, 12), (4, 6), (2, 3)]  # 64×96 at strides 4, 8, 16, 32
    dims = {v: EFT_VARIANTS[v]["dims"] for v in ("t", "mini")}
    assert namespace["feature_shapes"] == [(2, c, *hw) for c, hw in zip(dims["mini"], sizes)]
    losses = namespace["losses"]
    assert len(losses) == 8 and losses[-1] < 0.9 * losses[0]
    out = capsys.readouterr().out
    assert (
        "logits under ISR paper: (2, 3, 64, 96)" in out and f"loss {losses[0]:.3f} → {losses[-1]:.3f}" in out
    )
    printed = text.split("Output")[1]
    assert f"features: {[(2, c, *hw) for c, hw in zip(dims['t'], sizes)]}" in printed


def _fake_timm() -> tuple[types.ModuleType, types.ModuleType, dict]:
    """A stand-in for timm >= 0.9: ``timm.models.register_model`` keyed by function name, ``create_model``."""
    registry: dict = {}
    timm, models = types.ModuleType("timm"), types.ModuleType("timm.models")

    def register_model(fn):
        registry[fn.__name__] = fn
        mod = sys.modules[fn.__module__]
        mod.__all__ = [*getattr(mod, "__all__", []), fn.__name__]
        return fn

    def create_model(name, pretrained=False, **kwargs):
        return registry[name](
            pretrained=pretrained, pretrained_cfg=None, pretrained_cfg_overlay=None, **kwargs
        )

    models.register_model, timm.models, timm.create_model = register_model, models, create_model
    return timm, models, registry


@pytest.mark.slow
def test_timm_registration(monkeypatch):
    timm, models, registry = _fake_timm()
    monkeypatch.setitem(sys.modules, "timm", timm)
    monkeypatch.setitem(sys.modules, "timm.models", models)
    for name, value in (("eft_t", None), ("eft_b", None), ("__all__", [])):  # the registration sets them
        monkeypatch.setattr(timm_registry, name, value, raising=False)
    assert timm_registry.register_timm_models() == ["eft_t", "eft_b"]
    assert set(registry) == {"eft_t", "eft_b"}
    backbone = timm.create_model("eft_t", features_only=True, out_indices=(1, 2, 3))
    assert isinstance(backbone, EFTFeatures) and backbone.feature_info.channels() == [64, 128, 256]
    assert timm.create_model("eft_b", num_classes=7).num_classes == 7
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        timm.create_model("eft_t", drop_rate=0.1)
    with pytest.raises(ValueError, match="no weights are published under timm's registry"):
        timm.create_model("eft_t", pretrained=True)


@pytest.mark.slow
def test_importing_the_models_after_timm_registers_them(tmp_path):
    """``import timm`` first, then ``edaformer.models``: ``timm.create_model`` finds the EFT models."""
    package = tmp_path / "timm"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("from . import models\nfrom .models import create_model\n")
    (package / "models" / "__init__.py").write_text(
        textwrap.dedent(
            """
            import sys
            _entrypoints = {}
            def register_model(fn):
                _entrypoints[fn.__name__] = fn
                return fn
            def create_model(name, pretrained=False, **kwargs):
                if name not in _entrypoints:
                    raise RuntimeError(f"Unknown model ({name})")
                return _entrypoints[name](pretrained=pretrained, pretrained_cfg=None, **kwargs)
            """
        )
    )
    code = (
        "import timm, edaformer.models; "
        "m = timm.create_model('eft_t', features_only=True, out_indices=(0, 3)); "
        "print(type(m).__name__, m.feature_info.channels())"
    )
    env = {"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "EFTFeatures [32, 256]"
