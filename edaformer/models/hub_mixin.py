"""Hub folders: weights and everything needed to rebuild a model, through huggingface_hub's ``PyTorchModelHubMixin``.

Every model class of this package (:class:`~edaformer.models.EDAFormer`, :class:`~edaformer.models.EFTClassifier`,
:class:`~edaformer.models.EFTEncoder` and its ``features_only`` form) inherits :class:`HubMixin`, so

>>> model.save_pretrained("edaformer_t_ade20k")            # model.safetensors + config.json + README.md
>>> model = EDAFormer.from_pretrained("edaformer_t_ade20k")  # a folder, or a repo id "owner/name" on the Hub
>>> model.push_to_hub("me/edaformer_t_ade20k")

``config.json`` records the factory that builds the model and its keyword arguments (``model_name``,
``model_args``: ``create_model(model_name, **model_args)`` rebuilds the architecture, :mod:`.registry`), the number
of classes, the class names and palette (when known), the training pooling ratios (``train_isr``) and the ISR
setting the model runs under after loading (``isr``, the default inference setting), plus the dataset, the input
size at which GFLOPs are reported and evaluation results when known. ``README.md`` is huggingface_hub's short
default card; the full model card (params and GFLOPs under each ISR preset, data, metrics, usage, citation) is
written by :func:`edaformer.tools.model_card.save_hub_folder` (what the export and convert commands write).

Only models built by a registered factory (``create_model``, ``edaformer_t(...)``, ``eft_encoder(...)``, ...) can
be saved: the factory name and arguments are what the folder rebuilds from.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download

from .hub_checks import HubError, check_config, check_weights_fit, read_config, read_weights_header
from .registry import MODELS, json_value

__all__ = ["HubError", "HubMixin", "build_from_config", "is_hub_folder", "looks_like_repo_id"]

HUB_FORMAT = "edaformer"
HUB_FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
PAPER_URL = "https://arxiv.org/abs/2407.17261"

# What a hub config may carry besides the architecture: where the weights come from and what they mean.
METADATA_KEYS = ("class_names", "palette", "dataset", "input_size", "metrics", "source")
# A repo id on the Hub: "owner/name" (letters, digits, '-', '_', '.'); a local file name never looks like one.
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_FILE_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".bin", ".json")

M = TypeVar("M", bound="HubMixin")
log = logging.getLogger(__name__)


def is_hub_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a directory holding ``config.json`` and ``model.safetensors``."""
    return os.path.isdir(path) and all(
        os.path.isfile(os.path.join(path, f)) for f in (CONFIG_NAME, WEIGHTS_NAME)
    )


def looks_like_repo_id(ref: str) -> bool:
    """``"owner/name"`` that is no existing path and has no checkpoint file suffix (``.pth``, ``.ckpt``, ...)."""
    return not os.path.exists(ref) and bool(_REPO_ID.match(ref)) and not ref.lower().endswith(_FILE_SUFFIXES)


def build_from_config(config: Mapping[str, Any], source: str = "config") -> torch.nn.Module:
    """The (randomly initialised) model a hub config describes: built at the config's training ratios
    (``train_isr``; absent: the standard ones), under its ISR setting (``isr``)."""
    if config.get("format") != HUB_FORMAT:
        raise HubError(f'{source}: not written by edaformer\'s save_pretrained (no "format": "{HUB_FORMAT}")')
    check_config(config, source, MODELS)
    name = config["model_name"]
    try:
        model = MODELS[name](**dict(config.get("model_args") or {}), train_isr=config.get("train_isr"))
    except (TypeError, ValueError) as err:
        raise HubError(f"{source}: model_args do not fit {name}: {err}") from None
    if config.get("isr") is not None:
        model.set_isr(config["isr"])
    return model


def _load_weights(model: torch.nn.Module, weights: str, source: str, device: str | torch.device) -> None:
    from safetensors.torch import load_file

    state = load_file(weights, device=str(device))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise HubError(
            f"{source}: {WEIGHTS_NAME} does not fit {model.model_name}: missing {missing[:10]}, "
            f"unexpected {unexpected[:10]}"
        )


def _hub_failure(ref: str, err: BaseException) -> str:
    from huggingface_hub import constants

    offline = constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if offline:
        reason = "the Hub is offline (HF_HUB_OFFLINE=1) and the repo is not in the local cache"
    else:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return f"cannot load {ref!r} from the Hugging Face Hub: {reason} (a local folder needs config.json and {WEIGHTS_NAME})"


def _new_classes(model: torch.nn.Module, num_classes: int, source: str) -> None:
    """Fine-tuning on another class set: a new classifier (the authors' init), the class metadata dropped; said
    in one logged line naming both counts."""
    if not hasattr(model, "reset_classifier"):
        raise HubError(
            f"{source} holds {model.model_name}, which has no classifier: num_classes= does not apply"
        )
    old = model.num_classes
    model.reset_classifier(num_classes)
    stale = ("class_names", "palette", "metrics")  # they described the old classes
    model.hub_metadata = {k: (None if k in stale else v) for k, v in (model.hub_metadata or {}).items()}
    log.warning(
        "%s: classifier re-initialised for %d classes (the checkpoint predicts %d); every other weight loaded",
        source, num_classes, old,
    )  # fmt: skip


class HubMixin(
    PyTorchModelHubMixin,
    library_name="edaformer",
    license="apache-2.0",
    paper_url=PAPER_URL,
    tags=["edaformer", "embedding-free-transformer", "inference-spatial-reduction"],
):
    """``save_pretrained`` / ``from_pretrained`` / ``push_to_hub`` for the models of this package.

    Subclasses say what they are for the model card with the class keyword ``pipeline_tag``; a model saved with
    :meth:`save_pretrained` loads with the class it was saved from (or :func:`edaformer.checkpoints.load_model`,
    whatever the class).
    """

    model_name: str | None = None
    model_args: dict[str, Any] | None = None
    hub_metadata: dict[str, Any] | None = None  # class names, palette, dataset, ... of a loaded folder

    # ------------------------------------------------------------------------------------------ config
    def hub_config(self, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The ``config.json`` of this model: its factory and arguments, ISR settings, classes and metadata.

        ``config`` adds metadata (``class_names``, ``palette``, ``dataset``, ``input_size`` ``[H, W]`` for the
        model card's GFLOPs, ``metrics``: result rows, ``source``) over what a loaded model already carries; keys that
        describe the architecture must agree with the model.
        """
        if self.model_name is None:
            raise ValueError(
                f"this {type(self).__name__} was not built by a registered factory (create_model, edaformer_t(...), "
                "eft_encoder(...)): a hub folder rebuilds the model from the factory name and arguments"
            )
        num_classes = getattr(self, "num_classes", None)
        has_decoder = bool(self.efa_levels()[1])
        own: dict[str, Any] = {
            "format": HUB_FORMAT,
            "format_version": HUB_FORMAT_VERSION,
            "model_name": self.model_name,
            "model_args": dict(self.model_args or {}),
            "num_classes": None if num_classes is None else int(num_classes),
            "isr": str(self.isr),
            "train_isr": str(self.train_isr),
        }
        metadata = {key: None for key in METADATA_KEYS}
        metadata.update(self.hub_metadata or {})
        for key, value in (config or {}).items():
            if key in own and key != "format_version":
                if json_value(value) != own[key]:
                    raise ValueError(
                        f"config[{key!r}]={value!r} disagrees with the model ({own[key]!r}); "
                        "change the model instead (e.g. set_isr)"
                    )
            else:
                metadata[key] = json_value(value)
        names, palette = metadata.get("class_names"), metadata.get("palette")
        if names is not None and num_classes is not None and len(names) != num_classes:
            raise ValueError(f"{len(names)} class names for {num_classes} classes")
        if palette is not None and len(palette) != len(names or []):
            raise ValueError("palette needs one [r, g, b] per class name")
        if metadata.get("input_size") is None:
            metadata["input_size"] = [512, 512] if has_decoder else [224, 224]
        return {**own, **metadata}

    # ------------------------------------------------------------------------------------------ saving
    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        *,
        config: Mapping[str, Any] | None = None,
        repo_id: str | None = None,
        push_to_hub: bool = False,
        model_card_kwargs: dict[str, Any] | None = None,
        **push_to_hub_kwargs: Any,
    ) -> str | None:
        """Write ``model.safetensors``, ``config.json`` (:meth:`hub_config` with ``config``'s metadata) and
        huggingface_hub's default card ``README.md`` into ``save_directory``; a card already there is replaced, so it
        never describes other weights (the full card: :func:`edaformer.tools.model_card.save_hub_folder`)."""
        full = self.hub_config(config)
        Path(save_directory, "README.md").unlink(missing_ok=True)
        return super().save_pretrained(
            save_directory,
            config=full,
            repo_id=repo_id,
            push_to_hub=push_to_hub,
            model_card_kwargs=model_card_kwargs,
            **push_to_hub_kwargs,
        )

    def _save_pretrained(self, save_directory: Path) -> None:
        super()._save_pretrained(save_directory)
        # safetensors writes through a private temporary file (mode 0600): give the weights the permissions of
        # every other file of the folder, so that a folder on a shared disk is readable as the umask allows
        umask = os.umask(0)
        os.umask(umask)
        Path(save_directory, WEIGHTS_NAME).chmod(0o666 & ~umask)

    # ------------------------------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls: type[M], pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any) -> M:
        """Build the model a hub folder (or Hub repo ``"owner/name"``) describes and load its weights strictly.

        The model comes in eval mode under the folder's default inference ISR setting (``config.json``'s
        ``isr``). Keyword arguments are huggingface_hub's (``revision``, ``cache_dir``, ``token``,
        ``local_files_only``, ...), ``map_location`` and ``num_classes``: another class count than the folder's
        loads every weight but the classifier, which starts anew for fine-tuning (one logged line says so). A folder without our ``config.json``, a repo that cannot
        be reached (offline, unknown) or weights that do not fit raise :class:`HubError` naming the folder or repo.
        """
        ref = os.fspath(pretrained_model_name_or_path)
        if os.path.isdir(ref):
            if not is_hub_folder(ref):
                raise HubError(f"{ref}: not a hub folder (expected {CONFIG_NAME} and {WEIGHTS_NAME} in it)")
            read_config(os.path.join(ref, CONFIG_NAME))  # a JSON object, before huggingface_hub reads it
        elif not looks_like_repo_id(ref):
            raise HubError(f"{ref}: no such folder, and not a Hub repo id of the form 'owner/name'")
        try:
            return super().from_pretrained(ref, **kwargs)
        except HubError:
            raise
        except Exception as err:
            if isinstance(err, OSError) or type(err).__module__.split(".")[0] in ("huggingface_hub", "httpx"):
                raise HubError(_hub_failure(ref, err)) from err
            raise

    @classmethod
    def _from_pretrained(
        cls: type[M],
        *,
        model_id: str,
        revision: str | None = None,
        cache_dir: str | Path | None = None,
        force_download: bool = False,
        local_files_only: bool = False,
        token: str | bool | None = None,
        config: dict[str, Any] | None = None,
        map_location: str | torch.device = "cpu",
        **model_kwargs: Any,
    ) -> M:
        if config is None:
            raise HubError(f"{model_id}: no {CONFIG_NAME}; not a hub folder written by save_pretrained")
        num_classes = model_kwargs.pop("num_classes", None)
        for (
            key,
            value,
        ) in model_kwargs.items():  # the mixin passes config entries named like __init__ arguments
            if config.get(key, object()) != value:
                raise TypeError(
                    f"{cls.__name__}.from_pretrained() got an unexpected keyword argument {key!r}"
                )
        if os.path.isdir(model_id):
            weights = os.path.join(model_id, WEIGHTS_NAME)
        else:
            weights = hf_hub_download(
                repo_id=model_id,
                filename=WEIGHTS_NAME,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                token=token,
                local_files_only=local_files_only,
            )
        # checked before anything is built: the config's values, then the weights' header against the model the
        # config describes (built on the meta device: shapes without memory)
        described = os.path.join(model_id, CONFIG_NAME)
        check_config(config, described, MODELS)
        header = read_weights_header(weights)
        check_weights_fit(lambda: build_from_config(config, described), header, weights, described)
        model = build_from_config(config, model_id)
        if not isinstance(model, cls):
            raise HubError(
                f"{model_id} holds {config['model_name']} ({type(model).__name__}), which "
                f"{cls.__name__}.from_pretrained does not load; use {type(model).__name__}.from_pretrained or "
                "edaformer.checkpoints.load_model"
            )
        _load_weights(model, weights, model_id, map_location)
        model.hub_metadata = {key: config.get(key) for key in METADATA_KEYS}
        if num_classes is not None and num_classes != getattr(model, "num_classes", None):
            _new_classes(model, int(num_classes), model_id)
        return model.eval()
