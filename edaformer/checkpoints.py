"""The one place that reads and writes weights: every checkpoint format this project makes or meets.

Formats recognised (all read with ``torch.load(weights_only=True)``, whatever the environment asks torch to do):

- **ours** (:func:`save_model`):
  ``{"format": "edaformer", "model_name", "num_classes", "isr", "train_isr", "state_dict"}``;
- **Lightning** (training checkpoints): ``state_dict`` keys prefixed ``net.``, with ``model_name``,
  ``num_classes``, ``class_names`` and ``train_isr`` in ``hyper_parameters``;
- **official** MMSegmentation checkpoints of EDAFormer-T/B (``backbone.*`` / ``decode_head.*``): the variant and
  the number of classes are read from the tensor shapes; the authors released models trained at the standard
  ratios only;
- **hub folders** (``save_pretrained``): ``model.safetensors`` + ``config.json`` (:mod:`edaformer.models.hub_mixin`, with ``train_isr``), a local directory or a
  Hugging Face Hub repo id ``owner/name``;
- **ImageNet-pretrained encoders**, for :func:`load_encoder_weights`: the authors' / PVT layout (``patch_embed1.*``,
  ``block1.0.*``, classifier ``head.*``), our own ``eft_*`` classification checkpoints (``net.encoder.*``) or the
  hub folder of an EFT classifier, encoder or segmentor (its ``encoder.*`` / ``stages.*`` tensors).

The authors' key names live in :mod:`edaformer.models.official` (the mapping table); this module only reads files.
Every format we write records the ratios the model was trained at (``model.train_isr``, e.g. ``"16,8,4,2-2,4,8"``)
and :func:`load_model` rebuilds the model with them; files without the entry (older ones, the authors') were
trained at the standard (8,4,2,1)-(1,2,4).
Every file is written through :func:`atomic_write` (a temporary file beside the final name, then a rename).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from .files import atomic_write
from .finite import require_finite_weights
from .models import EFTClassifier, create_model
from .models.hub_mixin import HubMixin, is_hub_folder, looks_like_repo_id
from .models.official import convert_official_state_dict, infer_official_model

FORMAT_TAG = "edaformer"
Task = Literal["segmentation", "classification"]


class CheckpointError(ValueError):
    """A checkpoint that cannot serve what was asked of it (another model, other classes); names the file.
    Commands report it as one line, exit status 2."""

    exit_status = 2


class CheckpointKindError(CheckpointError):
    """A checkpoint of another kind than the caller needs (a classifier where a segmentor is needed, a weights
    file where a training checkpoint is needed, a training checkpoint of another model).

    ``path`` is the file; ``found`` and ``needed`` are kinds (``"segmentation"``, ``"classification"``,
    ``"weights"``: a file of weights only, ``"training"``: a Lightning training checkpoint), so that a command can
    add which of its commands or options takes the file.
    """

    def __init__(self, message: str, path: str, found: str, needed: str) -> None:
        super().__init__(message)
        self.path, self.found, self.needed = path, found, needed


@dataclass(frozen=True)
class CheckpointInfo:
    """What was loaded: ``kind`` is ``"ours"``, ``"lightning"``, ``"official"`` or ``"hub"``.

    ``class_names`` / ``palette`` / ``dataset`` are those stored with the weights (Lightning checkpoints: names;
    hub folders: all three when known), else ``None``; ``train_isr`` the ratios the model was trained at as
    recorded in the file (``None``: not recorded, the standard ones); ``task`` the kind of model;
    ``test_recipe`` how the run evaluated (Lightning checkpoints: ``test_scale``, ``mode``, ``crop_size``,
    ``stride`` of its ``inference`` hyper-parameters), else ``None``.
    """

    path: str
    kind: str
    model_name: str
    num_classes: int
    dropped_keys: tuple[str, ...] = ()
    class_names: tuple[str, ...] | None = None
    train_isr: str | None = None
    task: Task = "segmentation"
    palette: tuple[tuple[int, int, int], ...] | None = None
    dataset: str | None = None
    test_recipe: Mapping[str, object] | None = None


def is_hub_reference(path: str | os.PathLike) -> bool:
    """A hub folder (``config.json`` + ``model.safetensors``) or a Hub repo id ``owner/name`` (no such path)."""
    return is_hub_folder(path) or looks_like_repo_id(os.fspath(path))


# --- reading files -----------------------------------------------------------------------------------------------
def _safe_globals() -> list:
    """Plain-data classes that checkpoints of other projects keep beside their tensors, allowed in the
    ``weights_only`` unpickler: NumPy scalars and arrays (MMCV-era ``meta``: counters, palettes), the
    ``argparse.Namespace`` of training scripts (DeiT / timm / PVT keep their ``args``) and ``pathlib`` paths in it.
    They carry numbers, strings and lists, never code."""
    import argparse
    import pathlib

    import numpy as np

    core = getattr(np, "_core", None) or np.core
    dtypes = [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith("DType")]
    paths = [pathlib.PosixPath, pathlib.WindowsPath, pathlib.PurePosixPath, pathlib.PureWindowsPath]
    return [core.multiarray.scalar, core.multiarray._reconstruct, np.ndarray, np.dtype, *dtypes,
            argparse.Namespace, *paths]  # fmt: skip


def load_checkpoint_file(path: str | os.PathLike, mmap: bool = False) -> object:
    """``torch.load(path, weights_only=True)`` on CPU, with errors that name the file.

    ``weights_only=True`` is passed explicitly, so a file that needs code to unpickle is refused even when the
    environment sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` (torch honours that variable only for calls that leave
    ``weights_only`` unset). ``mmap=True`` maps the tensors instead of reading them (cheap inspection of a large
    file; falls back to reading for files in torch's legacy format).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            try:
                return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
            except RuntimeError as err:
                if not mmap or "mmap" not in str(err):
                    raise
                return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"cannot read checkpoint {path}: {_load_failure(err)}") from err


def _load_failure(err: Exception) -> str:
    """The informative line of a ``torch.load`` error (torch's messages span paragraphs)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if isinstance(err, pickle.UnpicklingError):
        found = next((line for line in lines if "GLOBAL" in line), lines[0] if lines else "")
        found = found.removeprefix("WeightsUnpickler error: ").split(". Please")[0].rstrip(".")
        return (
            f"it holds an object that needs code to unpickle, refused by torch.load(weights_only=True) ({found}); "
            "if you trust the file, keep only its tensors: torch.save(torch.load(F, weights_only=False)['state_dict'"
            "], 'weights.pth') (or its 'model' entry)"
        )
    if isinstance(err, EOFError) or "zip archive" in str(err) or "central directory" in str(err):
        return "not a complete torch file (truncated or corrupted?)"
    return lines[0] if lines else type(err).__name__


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
        raise CheckpointError(f"{path}: checkpoint holds {what} {found!r}, but {requested!r} was requested")


def load_model(
    path: str | os.PathLike,
    model_name: str | None = None,
    num_classes: int | None = None,
    task: Task | None = None,
) -> tuple[nn.Module, CheckpointInfo]:
    """Create the model a checkpoint describes and load its weights strictly; returns ``(model in eval mode, info)``.

    ``path`` is a checkpoint file (ours, Lightning, the authors') or a hub folder / Hub repo id (then the model
    comes under the folder's default inference ISR setting). ``model_name`` / ``num_classes`` are needed only where
    the file does not say (e.g. an ImageNet-pretrained encoder in the authors' layout); where it does, they are
    checked against it. ``task`` (the kind of model the caller needs) raises :class:`CheckpointKindError` for a
    checkpoint of the other kind, saying which it is (:func:`check_task`). Weights holding NaN/inf are a
    :class:`~edaformer.errors.NonFiniteError` (:func:`require_finite_weights`).
    """
    source = str(path)
    if is_hub_reference(path):
        return _load_hub_model(source, model_name, num_classes, task)
    obj = load_checkpoint_file(path)
    if not isinstance(obj, Mapping):
        raise ValueError(f"{source}: expected a checkpoint dictionary, got {type(obj).__name__}")
    hparams = obj.get("hyper_parameters")
    class_names = None
    train_isr = None
    test_recipe = None
    if checkpoint_kind(obj) == "ours":
        name, classes, kind = obj["model_name"], int(obj["num_classes"]), "ours"
        state = dict(obj["state_dict"])
        train_isr = obj.get("train_isr")
    elif checkpoint_kind(obj) == "lightning":
        name, classes, kind = hparams["model_name"], int(hparams["num_classes"]), "lightning"
        train_isr = hparams.get("train_isr")
        state = {k[len("net.") :]: v for k, v in obj["state_dict"].items() if k.startswith("net.")}
        if not state:
            raise ValueError(f"{source}: Lightning checkpoint without 'net.*' weights")
        if hparams.get("class_names"):
            class_names = tuple(str(n) for n in hparams["class_names"])
        run_inference = hparams.get("inference")
        if isinstance(run_inference, Mapping):
            keys = ("test_scale", "mode", "crop_size", "stride")
            test_recipe = {k: run_inference[k] for k in keys if run_inference.get(k) is not None}
    else:
        state = read_checkpoint(obj)
        kind = "official"
        if "decode_head.linear_pred.weight" in state:
            name, classes = infer_official_model(state)
        else:
            if model_name is None or num_classes is None:
                raise CheckpointKindError(
                    f"{source}: not a segmentation checkpoint (an ImageNet encoder in the authors' layout?); pass "
                    "model_name= and num_classes= to load it",
                    source,
                    found="classification",
                    needed="segmentation",
                )
            name, classes = model_name, num_classes
    _check_name(source, name, model_name, "model")
    _check_name(source, str(classes), None if num_classes is None else str(num_classes), "num_classes")
    model = create_model(name, num_classes=classes, train_isr=train_isr)
    found = _task_of(model)
    check_task(CheckpointInfo(source, kind, name, classes, task=found), task)
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
    require_finite_weights(model, source)
    info = CheckpointInfo(
        source, kind, name, classes, tuple(dropped), class_names, train_isr, found, test_recipe=test_recipe
    )
    return model.eval(), info


def checkpoint_kind(obj: object) -> str:
    """The format of a loaded checkpoint object: ``"ours"`` (:func:`save_model`), ``"lightning"`` (a training
    checkpoint of this project: ``hyper_parameters`` naming the model) or ``"other"`` (the authors' layout, any
    state dict)."""
    if not isinstance(obj, Mapping):
        return "other"
    if obj.get("format") == FORMAT_TAG:
        return "ours"
    hparams = obj.get("hyper_parameters")
    return "lightning" if isinstance(hparams, Mapping) and "model_name" in hparams else "other"


def _task_of(model: nn.Module) -> Task:
    return "classification" if isinstance(model, EFTClassifier) else "segmentation"


def check_task(info: CheckpointInfo, task: Task | None) -> None:
    """Raise :class:`CheckpointKindError` when the checkpoint ``info`` describes is not of the kind ``task`` the
    caller needs (``None``: any), saying which kind it is."""
    if task is None or info.task == task:
        return
    what = "an ImageNet classification" if info.task == "classification" else "a segmentation"
    raise CheckpointKindError(
        f"{info.path} is {what} checkpoint ({info.model_name}, {info.num_classes} classes), but a {task} "
        "checkpoint is needed",
        info.path,
        found=info.task,
        needed=task,
    )


def load_weights(model: nn.Module, path: str | os.PathLike, model_name: str | None = None) -> str:
    """Start every weight of ``model`` from a checkpoint of any kind :func:`load_model` reads (weights only: no
    optimiser, step or schedule); returns a one-line report.

    This is how fine-tuning starts from a trained model: at other training ratios (no weight depends on them), or
    on another class set. A segmentation checkpoint predicting another number of classes fills everything but the
    classifier, which starts anew (:meth:`~edaformer.models.EDAFormer.reset_classifier`, the authors' init); the
    report names both counts. An ImageNet classification checkpoint (the authors' ``EFT_*.pth``, ours, a hub
    folder of an EFT classifier) fills the encoder only. ``model_name`` is checked against a segmentation
    checkpoint's model.
    """
    try:
        source, info = load_model(path)
    except CheckpointKindError as err:  # an encoder in the authors' layout: which model it is cannot be read
        if err.found != "classification":
            raise
        source, info = None, None
    if info is None or info.task == "classification":
        report = load_encoder_weights(model.encoder, path)
        return (
            f"{report}; decoder and classifier ({model.num_classes} classes) start from their initialisation"
        )
    _check_name(str(path), info.model_name, model_name, "model")
    classes = int(model.num_classes)
    trained = info.train_isr or str(source.train_isr)
    described = f"{info.kind} {info.model_name} checkpoint, trained at {trained}"
    if info.num_classes == classes:
        model.load_state_dict(source.state_dict(), strict=True)
        return f"initialised all {len(model.state_dict())} tensors from {path} ({described})"
    source.reset_classifier(
        classes
    )  # a fresh classifier, then every tensor copied over: the rest is the file's
    model.load_state_dict(source.state_dict(), strict=True)
    new = [k for k in model.state_dict() if k.startswith(model.classifier_name + ".")]
    return (
        f"initialised {len(model.state_dict()) - len(new)} of {len(model.state_dict())} tensors from {path} "
        f"({described}); classifier re-initialised: the checkpoint predicts {info.num_classes} classes, "
        f"this model {classes}"
    )


def _load_hub_model(
    source: str, model_name: str | None, num_classes: int | None, task: Task | None
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
        train_isr=str(model.train_isr),
        task=_task_of(model),
        palette=tuple(tuple(int(c) for c in color) for color in palette) if palette else None,
        dataset=meta.get("dataset"),
    )
    check_task(info, task)
    require_finite_weights(model, source)
    return model.eval(), info


# --- writing -----------------------------------------------------------------------------------------------------
def save_model(model: nn.Module, path: str | os.PathLike, model_name: str) -> None:
    """Write ``model`` in our format (atomically, :func:`atomic_write`), with its current ISR setting and the
    ratios it was trained at."""
    payload = {
        "format": FORMAT_TAG,
        "model_name": model_name,
        "num_classes": int(model.num_classes),
        "isr": str(model.isr),
        "train_isr": str(model.train_isr),
        "state_dict": model.state_dict(),
    }
    atomic_write(path, lambda f: torch.save(payload, f))
