"""The one place that reads and writes weights: every checkpoint format this project makes or meets.

Formats recognised (all read with ``torch.load(weights_only=True)``, whatever the environment asks torch to do):

- **ours** (``edaformer-convert`` output, :func:`save_model`):
  ``{"format": "edaformer", "model_name", "num_classes", "isr", "state_dict"}``;
- **Lightning** (``edaformer-train`` checkpoints): ``state_dict`` keys prefixed ``net.``, with ``model_name``,
  ``num_classes`` and ``class_names`` in ``hyper_parameters``;
- **official** MMSegmentation checkpoints of EDAFormer-T/B (``backbone.*`` / ``decode_head.*``): the variant and
  the number of classes are read from the tensor shapes;
- **hub folders** (``save_pretrained``, ``edaformer-export formats=[hf]``, ``edaformer-convert hub=true``):
  ``model.safetensors`` + ``config.json`` (:mod:`edaformer.models.hub`), a local directory or a Hugging Face Hub
  repo id ``owner/name``;
- **ImageNet-pretrained encoders**, for :func:`load_encoder_weights`: the authors' / PVT layout (``patch_embed1.*``,
  ``block1.0.*``, classifier ``head.*``), our own ``eft_*`` classification checkpoints (``net.encoder.*``) or the
  hub folder of an EFT classifier, encoder or segmentor (its ``encoder.*`` / ``stages.*`` tensors).

The authors' key names live in :mod:`edaformer.models.official` (the mapping table); this module only reads files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .models import create_model
from .models.hub import HubMixin, is_hub_folder, looks_like_repo_id
from .models.official import convert_official_state_dict, infer_official_model

FORMAT_TAG = "edaformer"


@dataclass(frozen=True)
class CheckpointInfo:
    """What was loaded: ``kind`` is ``"ours"``, ``"lightning"``, ``"official"`` or ``"hub"``.

    ``class_names`` / ``palette`` / ``dataset`` are those stored with the weights (Lightning checkpoints: names;
    hub folders: all three when known), else ``None``.
    """

    path: str
    kind: str
    model_name: str
    num_classes: int
    dropped_keys: tuple[str, ...] = ()
    class_names: tuple[str, ...] | None = None
    palette: tuple[tuple[int, int, int], ...] | None = None
    dataset: str | None = None


def is_hub_reference(path: str | os.PathLike) -> bool:
    """A hub folder (``config.json`` + ``model.safetensors``) or a Hub repo id ``owner/name`` (no such path)."""
    return is_hub_folder(path) or looks_like_repo_id(os.fspath(path))


# --- reading files -----------------------------------------------------------------------------------------------
def _numpy_safe_globals() -> list:
    """NumPy scalars and arrays that MMCV-era checkpoints may keep in their ``meta`` (counters, palettes).

    They carry plain numbers, not code, so they are safe to allow in the ``weights_only`` unpickler.
    """
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    dtypes = [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith("DType")]
    return [core.multiarray.scalar, core.multiarray._reconstruct, np.ndarray, np.dtype, *dtypes]


def load_checkpoint_file(path: str | os.PathLike) -> object:
    """``torch.load(path, weights_only=True)`` on CPU, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors name the offending global
        raise ValueError(f"cannot read checkpoint {path} with torch.load(weights_only=True): {err}") from err


def read_checkpoint(path_or_state_dict: str | os.PathLike | Mapping[str, object]) -> dict[str, torch.Tensor]:
    """The tensor dict of a checkpoint file or of an already loaded checkpoint object.

    Unwraps ``{"state_dict": ...}`` / ``{"model": ...}`` containers and a DDP ``module.`` prefix.
    """
    if isinstance(path_or_state_dict, Mapping):
        obj: object = path_or_state_dict
        source = "<state dict>"
    else:
        obj = load_checkpoint_file(path_or_state_dict)
        source = str(path_or_state_dict)
    if isinstance(obj, Mapping):
        for container in ("state_dict", "model"):
            if isinstance(obj.get(container), Mapping):
                obj = obj[container]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"{source}: expected a state dict (a mapping of tensor names to tensors)")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"{source}: entries that are not tensors: {bad[:10]}")
    tensors = dict(obj)
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    return tensors


# --- loading into models -----------------------------------------------------------------------------------------
def load_official_checkpoint(
    model: nn.Module, path_or_state_dict: str | os.PathLike | Mapping[str, torch.Tensor]
) -> list[str]:
    """Load an authors' checkpoint (file or state dict) into ``model`` strictly; returns the dropped unused keys.

    Every official tensor must land in the model (except the head's unused ``conv_seg``, which is dropped and
    returned), every model tensor must be filled and shapes must match, else
    :class:`~edaformer.models.CheckpointMismatchError`.
    """
    converted, dropped = convert_official_state_dict(read_checkpoint(path_or_state_dict), model)
    model.load_state_dict(converted, strict=True)
    return dropped


def load_encoder_weights(encoder: nn.Module, path: str | os.PathLike) -> str:
    """Load ImageNet-pretrained EFT weights into ``encoder`` strictly and return a one-line report.

    Accepts the authors' / PVT-layout files (``patch_embed1.*``, ``block1.0.*``; the classifier ``head.*`` is
    dropped) and our own classification checkpoints (Lightning ``net.encoder.*`` or our format's ``encoder.*``).
    Every encoder tensor must be filled and every checkpoint tensor used (apart from the classifier head), else an
    error lists the keys.
    """
    if is_hub_reference(path):
        return _load_hub_encoder(encoder, path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"pretrained weights not found: {path}")
    obj = load_checkpoint_file(path)
    state = obj.get("state_dict") if isinstance(obj, Mapping) else None
    for prefix, kind in (("net.encoder.", "Lightning classification checkpoint"), ("encoder.", "our format")):
        if isinstance(state, Mapping) and any(k.startswith(prefix) for k in state):
            enc = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            encoder.load_state_dict(enc, strict=True)
            return f"loaded {len(enc)} encoder tensors from {path} ({kind})"
    tensors = read_checkpoint(obj)
    classifier = sorted(k for k in tensors if k.startswith("head."))  # the ImageNet classifier, unused here
    dropped = classifier + load_official_checkpoint(
        encoder, {k: v for k, v in tensors.items() if k not in classifier}
    )
    n = len(encoder.state_dict())
    extra = f"; dropped {len(dropped)} unused: {', '.join(dropped)}" if dropped else ""
    return f"loaded {n} encoder tensors from {path} (authors' layout){extra}"


def _load_hub_encoder(encoder: nn.Module, ref: str | os.PathLike) -> str:
    """The encoder tensors of a hub folder (any of our models) into ``encoder``, strictly."""
    model = HubMixin.from_pretrained(ref)
    source = getattr(model, "encoder", model)  # segmentor / classifier: .encoder; an encoder: itself
    missing, unexpected = encoder.load_state_dict(source.state_dict(), strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{ref}: encoder weights do not fit: missing {missing[:10]}, unexpected {unexpected[:10]}"
        )
    return f"loaded {len(source.state_dict())} encoder tensors from {ref} (hub folder of {model.model_name})"


def _check_name(path: str, found: str | None, requested: str | None, what: str) -> None:
    if requested is not None and found is not None and requested != found:
        raise ValueError(f"{path}: checkpoint holds {what} {found!r}, but {requested!r} was requested")


def load_model(
    path: str | os.PathLike, model_name: str | None = None, num_classes: int | None = None
) -> tuple[nn.Module, CheckpointInfo]:
    """Create the model a checkpoint describes and load its weights strictly; returns ``(model in eval mode, info)``.

    ``path`` is a checkpoint file (ours, Lightning, the authors') or a hub folder / Hub repo id (then the model
    comes under the folder's default inference ISR setting). ``model_name`` / ``num_classes`` are needed only where
    the file does not say (e.g. an ImageNet-pretrained encoder in the authors' layout); where it does, they are
    checked against it.
    """
    source = str(path)
    if is_hub_reference(path):
        return _load_hub_model(source, model_name, num_classes)
    obj = load_checkpoint_file(path)
    if not isinstance(obj, Mapping):
        raise ValueError(f"{source}: expected a checkpoint dictionary, got {type(obj).__name__}")
    hparams = obj.get("hyper_parameters")
    class_names = None
    if obj.get("format") == FORMAT_TAG:
        name, classes, kind = obj["model_name"], int(obj["num_classes"]), "ours"
        state = dict(obj["state_dict"])
    elif isinstance(hparams, Mapping) and "model_name" in hparams:
        name, classes, kind = hparams["model_name"], int(hparams["num_classes"]), "lightning"
        state = {k[len("net.") :]: v for k, v in obj["state_dict"].items() if k.startswith("net.")}
        if not state:
            raise ValueError(f"{source}: Lightning checkpoint without 'net.*' weights")
        if hparams.get("class_names"):
            class_names = tuple(str(n) for n in hparams["class_names"])
    else:
        state = read_checkpoint(obj)
        kind = "official"
        if "decode_head.linear_pred.weight" in state:
            name, classes = infer_official_model(state)
        else:
            if model_name is None or num_classes is None:
                raise ValueError(
                    f"{source}: not a segmentation checkpoint; pass model_name= and num_classes= to load it"
                )
            name, classes = model_name, num_classes
    _check_name(source, name, model_name, "model")
    _check_name(source, str(classes), None if num_classes is None else str(num_classes), "num_classes")
    model = create_model(name, num_classes=classes)
    dropped: list[str] = []
    if kind == "official":
        dropped = load_official_checkpoint(model, state)
    else:
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{source}: weights do not fit {name}: missing {missing}, unexpected {unexpected}"
            )
        if kind == "ours" and obj.get("isr"):
            model.set_isr(obj["isr"])
    return model.eval(), CheckpointInfo(source, kind, name, classes, tuple(dropped), class_names)


def _load_hub_model(
    source: str, model_name: str | None, num_classes: int | None
) -> tuple[nn.Module, CheckpointInfo]:
    model = HubMixin.from_pretrained(source)  # HubError names the folder / repo id
    meta = model.hub_metadata or {}
    classes = getattr(model, "num_classes", None)
    _check_name(source, model.model_name, model_name, "model")
    _check_name(source, str(classes), None if num_classes is None else str(num_classes), "num_classes")
    names, palette = meta.get("class_names"), meta.get("palette")
    info = CheckpointInfo(
        source,
        "hub",
        model.model_name,
        int(classes or 0),
        class_names=tuple(str(n) for n in names) if names else None,
        palette=tuple(tuple(int(c) for c in color) for color in palette) if palette else None,
        dataset=meta.get("dataset"),
    )
    return model.eval(), info


# --- writing -----------------------------------------------------------------------------------------------------
def save_model(model: nn.Module, path: str | os.PathLike, model_name: str) -> None:
    """Write ``model`` in our format (atomically: temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT_TAG,
        "model_name": model_name,
        "num_classes": int(model.num_classes),
        "isr": str(model.isr),
        "state_dict": model.state_dict(),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
