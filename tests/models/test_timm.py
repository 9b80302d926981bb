"""The EFT models through the real timm (1.0.9 and the newest release): ``timm.create_model`` with timm's own
entry-point calling convention, ``features_only``, ``checkpoint_path``, and the registration on import.

timm is no dependency of ours, and its wheel requires torchvision, which pulls a CUDA torch. The test installs
timm alone (``pip install --no-deps``) into a temporary folder once per session and puts beside it a stand-in
``torchvision`` holding only the names timm's ``import`` reads; nothing of timm is replaced.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import edaformer.models
from edaformer.models import EFTClassifier, EFTFeatures, timm_registry

TIMM_SPECS = ("timm==1.0.9", "timm")  # the oldest release we support and the newest one on the registry

# The names timm's import reads from torchvision (timm 1.0.9 to 1.0.31); none is used by the EFT models.
TORCHVISION_STAND_IN = {
    "__init__.py": '"""A stand-in for the tests: only the names timm imports."""\n',
    "datasets.py": "CIFAR100 = CIFAR10 = MNIST = KMNIST = FashionMNIST = ImageFolder = None\n",
    "ops/__init__.py": "",
    "ops/misc.py": "from torch import nn\n\n\nclass FrozenBatchNorm2d(nn.Module):\n    pass\n",
    "transforms/__init__.py": "class ToTensor:\n    pass\n",
    "transforms/functional.py": (
        "import enum\n\n\nclass InterpolationMode(enum.Enum):\n"
        + "".join(
            f"    {n} = {n.lower()!r}\n"
            for n in ("NEAREST", "BILINEAR", "BICUBIC", "BOX", "HAMMING", "LANCZOS")
        )
    ),
}


@pytest.fixture(scope="session")
def timm_install(tmp_path_factory):
    """``install(spec) -> folder``: timm installed without its dependencies, plus the torchvision stand-in
    (once per spec and session); skips when the package registry cannot be reached."""
    folders: dict[str, Path] = {}

    def install(spec: str) -> Path:
        if spec not in folders:
            folder = tmp_path_factory.mktemp("timm")
            result = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", folder, spec],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                pytest.skip(
                    f"cannot install {spec} from the package registry: {result.stderr.strip()[-300:]}"
                )
            for name, source in TORCHVISION_STAND_IN.items():
                (folder / "torchvision" / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / "torchvision" / name).write_text(source)
            folders[spec] = folder
        return folders[spec]

    return install


@pytest.fixture(params=TIMM_SPECS)
def timm(request, timm_install, monkeypatch):
    """The real timm of one release, imported in this process, then forgotten (with the stand-in) afterwards;
    ``edaformer.models`` is imported again after it, as a user who imports timm first would."""
    monkeypatch.syspath_prepend(str(timm_install(request.param)))
    for name in ("eft_t", "eft_b"):  # the registration sets them; start from an unregistered module
        monkeypatch.setattr(timm_registry, name, None, raising=False)
    monkeypatch.setattr(timm_registry, "__all__", [], raising=False)
    before = set(sys.modules)
    try:
        module = importlib.import_module("timm")
        importlib.reload(edaformer.models)  # timm is imported: the models register themselves
        yield module
    finally:
        for name in set(sys.modules) - before:
            if name.split(".")[0] in ("timm", "torchvision"):
                del sys.modules[name]


@pytest.mark.slow
@torch.no_grad()
def test_timm_create_model(timm, tmp_path):
    assert "eft_t" in timm.list_models("eft_*") and "eft_b" in timm.list_models("eft_*")

    backbone = timm.create_model("eft_t", features_only=True).eval()  # what smp's "tu-eft_t" encoder asks
    assert isinstance(backbone, EFTFeatures)
    assert backbone.feature_info.channels() == [32, 64, 128, 256]
    assert backbone.feature_info.reduction() == [4, 8, 16, 32]
    subset = timm.create_model("eft_t", features_only=True, out_indices=(1, 3), in_chans=1).eval()
    assert [tuple(m.shape) for m in subset(torch.randn(1, 1, 64, 64))] == [(1, 64, 8, 8), (1, 256, 2, 2)]

    classifier = timm.create_model("eft_t", pretrained=False, num_classes=7).eval()
    assert isinstance(classifier, EFTClassifier) and classifier(torch.randn(1, 3, 64, 64)).shape == (1, 7)
    path = tmp_path / "eft_t.pth"
    torch.save(classifier.state_dict(), path)
    loaded = timm.create_model("eft_t", num_classes=7, checkpoint_path=str(path))  # timm's own loader
    assert all(
        torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), classifier.state_dict().values())
    )

    with pytest.raises(TypeError, match="drop_rate"):
        timm.create_model("eft_t", drop_rate=0.1)
    with pytest.raises(ValueError, match="eft_t"):
        timm.create_model("eft_t", pretrained=True)
