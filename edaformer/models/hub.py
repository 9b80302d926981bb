"""Hub folders: weights and everything needed to rebuild a model, through huggingface_hub's ``PyTorchModelHubMixin``.

Every model class of this package (:class:`~edaformer.models.EDAFormer`, :class:`~edaformer.models.EFTClassifier`,
:class:`~edaformer.models.EFTEncoder` and its ``features_only`` form) inherits :class:`HubMixin`, so

>>> model.save_pretrained("edaformer_t_ade20k")            # model.safetensors + config.json + README.md
>>> model = EDAFormer.from_pretrained("edaformer_t_ade20k")  # a folder, or a repo id "owner/name" on the Hub
>>> model.push_to_hub("me/edaformer_t_ade20k")

``config.json`` records the factory that builds the model and its keyword arguments (``model_name``,
``model_args``: ``create_model(model_name, **model_args)`` rebuilds the architecture), the number of classes, the
class names and palette (when known), the training pooling ratios (``train_isr``) and the ISR setting the model
runs under after loading (``isr``, the default inference setting), plus the dataset, the input size at which
GFLOPs are reported and evaluation results when known. ``README.md`` is the model card: parameters and GFLOPs
under each ISR preset, the data and metrics when known, how to load the weights, the citation.

Only models built by a factory (``create_model``, ``edaformer_t(...)``, ``eft_encoder(...)``, ...) can be saved:
the factory name and arguments are what the folder rebuilds from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from huggingface_hub import ModelCard, ModelCardData, PyTorchModelHubMixin, hf_hub_download
from huggingface_hub.repocard_data import EvalResult

from .complexity import count_flops, count_params
from .isr import ISR_OWN, ISR_PRESETS, ISRSetting, isr_applied, parse_isr

HUB_FORMAT = "edaformer"
HUB_FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
PAPER_URL = "https://arxiv.org/abs/2407.17261"
CITATION = """\
@article{yu2024embedding,
  title={Embedding-Free Transformer with Inference Spatial Reduction for Efficient Semantic Segmentation},
  author={Yu, Hyunwoo and Cho, Yubin and Kang, Beoungwoo and Moon, Seunghun and Kong, Kyeongbo and Kang, Suk-Ju},
  journal={arXiv preprint arXiv:2407.17261},
  year={2024}
}"""

# What a hub config may carry besides the architecture: where the weights come from and what they mean.
METADATA_KEYS = ("class_names", "palette", "dataset", "input_size", "metrics", "source")
# A repo id on the Hub: "owner/name" (letters, digits, '-', '_', '.'); a local file name never looks like one.
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_FILE_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".bin", ".json")

M = TypeVar("M", bound="HubMixin")


class HubError(ValueError):
    """A hub folder or repo id that cannot be loaded (missing, offline, not ours, weights that do not fit)."""


def is_hub_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a directory holding ``config.json`` and ``model.safetensors``."""
    return os.path.isdir(path) and all(
        os.path.isfile(os.path.join(path, f)) for f in (CONFIG_NAME, WEIGHTS_NAME)
    )


def looks_like_repo_id(ref: str) -> bool:
    """``"owner/name"`` that is no existing path and has no checkpoint file suffix (``.pth``, ``.ckpt``, ...)."""
    return not os.path.exists(ref) and bool(_REPO_ID.match(ref)) and not ref.lower().endswith(_FILE_SUFFIXES)


def record_factory(model: torch.nn.Module, model_name: str, model_args: Mapping[str, Any]) -> None:
    """Remember how ``model`` was built (the factory name and its keyword arguments, without ``isr`` and
    ``train_isr``, which the model itself reports): a hub folder rebuilds it from these (``config.json``'s
    ``model_name``, ``model_args`` and ``train_isr``)."""
    model.model_name = model_name
    model.model_args = {k: _jsonable(v) for k, v in model_args.items() if k not in ("isr", "train_isr")}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _factories() -> dict[str, Any]:
    from . import MODELS  # the package imports this module first: look the table up when it is complete
    from .eft import eft_encoder

    return {**MODELS, "eft_encoder": eft_encoder}


def build_from_config(config: Mapping[str, Any], source: str = "config") -> torch.nn.Module:
    """The (randomly initialised) model a hub config describes: built at the config's training ratios
    (``train_isr``; absent: the standard ones), under its ISR setting (``isr``)."""
    if config.get("format") != HUB_FORMAT:
        raise HubError(f'{source}: not written by edaformer\'s save_pretrained (no "format": "{HUB_FORMAT}")')
    factories = _factories()
    name = config.get("model_name")
    if name not in factories:
        raise HubError(f"{source}: unknown model_name {name!r}; valid: {', '.join(factories)}")
    try:
        model = factories[name](**dict(config.get("model_args") or {}), train_isr=config.get("train_isr"))
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


def _title(model_name: str, model_args: Mapping[str, Any]) -> str:
    """``edaformer_t`` → ``EDAFormer-T``, ``eft_b`` → ``EFT-B``, ``eft_encoder`` → ``EFT-T encoder``."""
    if model_name == "eft_encoder":
        return f"EFT-{str(model_args.get('variant', 't')).upper()} encoder"
    family, _, variant = model_name.rpartition("_")
    title = {"edaformer": "EDAFormer", "eft": "EFT"}.get(family, family) + f"-{variant.upper()}"
    return title + (" backbone" if model_args.get("features_only") else "")


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
        card's GFLOPs, ``metrics``: result rows, ``source``) over what a loaded model already carries; keys that
        describe the architecture must agree with the model.
        """
        if self.model_name is None:
            raise ValueError(
                f"this {type(self).__name__} was not built by a factory (create_model, edaformer_t(...), "
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
                if _jsonable(value) != own[key]:
                    raise ValueError(
                        f"config[{key!r}]={value!r} disagrees with the model ({own[key]!r}); "
                        "change the model instead (e.g. set_isr)"
                    )
            else:
                metadata[key] = _jsonable(value)
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
        """Write ``model.safetensors``, ``config.json`` (:meth:`hub_config` with ``config``'s metadata) and the
        model card ``README.md`` (rewritten, so it always describes these weights) into ``save_directory``."""
        full = self.hub_config(config)
        card_kwargs = {"repo_id": repo_id, **(model_card_kwargs or {}), "config": full}
        Path(save_directory, "README.md").unlink(missing_ok=True)
        return super().save_pretrained(
            save_directory,
            config=full,
            repo_id=repo_id,
            push_to_hub=push_to_hub,
            model_card_kwargs=card_kwargs,
            **push_to_hub_kwargs,
        )

    def _save_pretrained(self, save_directory: Path) -> None:
        super()._save_pretrained(save_directory)
        # safetensors writes through a private temporary file (mode 0600): give the weights the permissions of
        # every other file of the folder, so that a folder on a shared disk is readable as the umask allows
        umask = os.umask(0)
        os.umask(umask)
        Path(save_directory, WEIGHTS_NAME).chmod(0o666 & ~umask)

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Upload the folder :meth:`save_pretrained` writes to the Hub repo ``repo_id`` (created if needed)."""
        card = {**(kwargs.pop("model_card_kwargs", None) or {}), "repo_id": repo_id}
        return super().push_to_hub(repo_id, model_card_kwargs=card, **kwargs)

    def generate_model_card(
        self, *args: Any, config: Mapping[str, Any] | None = None, repo_id: str | None = None, **kwargs: Any
    ) -> ModelCard:
        """The model card: metadata, ISR presets with params and GFLOPs, evaluation, classes, usage, citation."""
        config = dict(config or self.hub_config())
        return ModelCard(model_card_text(self, config, repo_id))

    # ------------------------------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls: type[M], pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any) -> M:
        """Build the model a hub folder (or Hub repo ``"owner/name"``) describes and load its weights strictly.

        The model comes in eval mode under the folder's default inference ISR setting (``config.json``'s
        ``isr``). Keyword arguments are huggingface_hub's (``revision``, ``cache_dir``, ``token``,
        ``local_files_only``, ...) and ``map_location``. A folder without our ``config.json``, a repo that cannot
        be reached (offline, unknown) or weights that do not fit raise :class:`HubError` naming the folder or repo.
        """
        ref = os.fspath(pretrained_model_name_or_path)
        if os.path.isdir(ref):
            if not is_hub_folder(ref):
                raise HubError(f"{ref}: not a hub folder (expected {CONFIG_NAME} and {WEIGHTS_NAME} in it)")
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
        for (
            key,
            value,
        ) in model_kwargs.items():  # the mixin passes config entries named like __init__ arguments
            if config.get(key, object()) != value:
                raise TypeError(
                    f"{cls.__name__}.from_pretrained() got an unexpected keyword argument {key!r}"
                )
        model = build_from_config(config, model_id)
        if not isinstance(model, cls):
            raise HubError(
                f"{model_id} holds {config['model_name']} ({type(model).__name__}), which "
                f"{cls.__name__}.from_pretrained does not load; use {type(model).__name__}.from_pretrained or "
                "edaformer.checkpoints.load_model"
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
        _load_weights(model, weights, model_id, map_location)
        model.hub_metadata = {key: config.get(key) for key in METADATA_KEYS}
        return model.eval()


# ---------------------------------------------------------------------------------------------- model card
def _presets(model: HubMixin) -> dict[str, ISRSetting]:
    """The ISR presets as the model runs them (encoder-only models: one row per distinct encoder setting), and
    ``own`` (the training ratios) when they are no preset."""
    out: dict[str, ISRSetting] = {}
    for name, preset in ISR_PRESETS.items():
        setting = model.resolve_isr(preset)
        if setting not in out.values():
            out[name] = setting
    own = model.resolve_isr(ISR_OWN)
    if own not in out.values():
        out[ISR_OWN] = own
    return out


def _complexity_rows(model: HubMixin, size: tuple[int, int], in_chans: int) -> list[str]:
    params = count_params(model) / 1e6
    own = model.resolve_isr(ISR_OWN)
    rows = []
    for name, setting in _presets(model).items():
        with isr_applied(model, setting):
            gflops = count_flops(model, (in_chans, size[0], size[1]))
        trained = " (trained)" if setting == own else ""
        rows.append(f"| `{name}`{trained} | {setting} | {params:.2f} | {gflops:.2f} |")
    return rows


def _metric_rows(metrics: list[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """Markdown header and rows of evaluation results (segmentation: mIoU/mAcc/aAcc; classification: top-1/5)."""
    keys = [k for k in ("mIoU", "mAcc", "aAcc", "top1", "top5") if any(k in row for row in metrics)]
    header = ["| ISR setting | ratios | " + " | ".join(f"{k} (%)" for k in keys) + " |"]
    header.append("|---|---|" + "---|" * len(keys))
    rows = []
    for row in metrics:
        values = " | ".join(
            f"{100 * float(row[k]):.2f}" if isinstance(row.get(k), int | float) else "–" for k in keys
        )
        rows.append(f"| `{row.get('setting', '?')}` | {row.get('isr', '?')} | {values} |")
    return header, rows


def _card_data(model: HubMixin, config: Mapping[str, Any], title: str) -> ModelCardData:
    info = type(model)._hub_mixin_info.model_card_data
    data = ModelCardData(**info.to_dict())
    dataset, metrics = config.get("dataset"), config.get("metrics") or []
    if dataset:
        data.datasets = [dataset]
    results = [
        EvalResult(
            task_type=data.pipeline_tag or "image-segmentation",
            dataset_type=dataset or "unknown",
            dataset_name=dataset or "unknown",
            dataset_split="validation",
            metric_type="mean_iou" if "mIoU" in row else "accuracy",
            metric_name=f"{'mIoU' if 'mIoU' in row else 'top-1'} (ISR {row.get('setting', '?')})",
            metric_value=round(100 * float(row["mIoU"] if "mIoU" in row else row["top1"]), 2),
        )
        for row in metrics
        if isinstance(row.get("mIoU", row.get("top1")), int | float)
    ]
    if results:
        data.eval_results, data.model_name = results, title
    return data


def model_card_text(model: HubMixin, config: Mapping[str, Any], repo_id: str | None = None) -> str:
    """The README.md of a hub folder (YAML metadata, then Markdown)."""
    args = config.get("model_args") or {}
    title = _title(config["model_name"], args)
    size = tuple(int(s) for s in config.get("input_size") or (512, 512))
    dataset, names = config.get("dataset"), config.get("class_names")
    ref = repo_id or "path/to/this/folder"
    cls = type(model).__name__
    isr = parse_isr(config["isr"])
    kind = {
        "EDAFormer": "semantic segmentor (EFT encoder + all-attention decoder)",
        "EFTClassifier": "image classifier (EFT encoder + linear head on the mean stage-4 token)",
        "EFTEncoder": "encoder: four feature maps at strides 4, 8, 16, 32",
        "EFTFeatures": "backbone returning the selected feature maps (timm's features_only convention)",
    }.get(cls, cls)
    classes = config.get("num_classes")
    lines = [
        f"# {title}",
        "",
        f"{title} {kind}"
        + (f", {classes} classes" if classes else "")
        + (f", trained on {dataset}" if dataset else "")
        + f". From *Embedding-Free Transformer with Inference Spatial Reduction for Efficient Semantic "
        f"Segmentation* (ECCV 2024, [paper]({PAPER_URL})); weights in the format of the `edaformer` package.",
    ]
    if config.get("source"):
        lines += ["", f"Source of the weights: {config['source']}."]
    lines += [
        "",
        "## Inference Spatial Reduction (ISR) and complexity",
        "",
        "ISR pools the keys and values of every embedding-free attention layer more coarsely at inference: the "
        "same weights, fewer FLOPs. Ratios are absolute (encoder stages 1–4, then decoder blocks on c4, c3, c2).",
        f"The model was trained with `{config['train_isr']}` and loads under `{config['isr']}`"
        + (f" (preset `{isr.preset}`)" if isr.preset else "")
        + '; change it with `model.set_isr("paper")` or `isr=` on every command (`"own"`: back to the training '
        "ratios, the row marked (trained)).",
        "",
        f"| ISR preset | ratios | params (M) | GFLOPs ({size[0]}×{size[1]}) |",
        "|---|---|---|---|",
        *_complexity_rows(model, size, int(args.get("in_chans", 3))),
        "",
        "GFLOPs are multiply-accumulates (the paper's convention), counted from shapes.",
        "",
        "## Evaluation",
        "",
    ]
    metrics = config.get("metrics") or []
    if metrics:
        header, rows = _metric_rows(metrics)
        where = f"{dataset} validation split" if dataset else "the validation split"
        lines += [f"Single run on {where}, same weights under each ISR setting:", "", *header, *rows]
    else:
        lines += ["No evaluation was recorded with these weights."]
    if names:
        lines += [
            "",
            "## Classes",
            "",
            f"{len(names)} classes (train ids 0–{len(names) - 1}; colours in `config.json`'s `palette`): "
            + ", ".join(str(n) for n in names)
            + ".",
        ]
    load_cls = cls if cls != "EFTFeatures" else "EFTEncoder"
    lines += [
        "",
        "## How to load",
        "",
        "```python",
        f"from edaformer.models import {load_cls}",
        "",
        f'model = {load_cls}.from_pretrained("{ref}")  # eval mode, ISR {config["isr"]}',
        "```",
    ]
    if cls == "EDAFormer":
        lines += [
            "",
            "```bash",
            f"edaformer-predict ckpt_path={ref} inputs=photos/ isr=paper   # label, colour and overlay PNGs",
            f"edaformer-eval ckpt_path={ref} data={dataset or 'ade20k'} isr=paper",
            "```",
        ]
    lines += ["", "## Citation", "", "```bibtex", CITATION, "```", ""]
    return f"---\n{_card_data(model, config, title).to_yaml()}\n---\n\n" + "\n".join(lines)
