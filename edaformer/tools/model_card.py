"""Model cards of hub folders, and what the weights we make or meet mean: a training run's checkpoint, the
authors' release.

The folder itself (weights + ``config.json``) is written by the model's ``save_pretrained``
(:mod:`edaformer.models.hub_mixin`); :func:`save_hub_folder` adds the model card ``README.md``: parameters and
GFLOPs under each ISR preset, the data and metrics when known, how to load the weights, the citation.
:func:`hub_metadata` gathers what the weights mean from where they come from: class names and palette (stored with
a Lightning checkpoint, or the benchmark whose class count matches), the dataset and its evaluation size (GFLOPs
in the card), and — for a checkpoint inside a training run dir — the results of the run's final evaluation
(``isr_results.json``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData
from huggingface_hub.repocard_data import EvalResult
from torch import nn

from ..checkpoints import CheckpointInfo
from ..data.benchmarks import BENCHMARKS
from ..evaluation.segmenter import resolve_classes
from ..flops import count_flops, count_params
from ..models import ISR_OWN, ISR_PRESETS, HubMixin, ISRSetting, isr_applied, parse_isr
from ..models.hub_mixin import CONFIG_NAME, PAPER_URL
from ..tables import markdown_table

CITATION = """\
@article{yu2024embedding,
  title={Embedding-Free Transformer with Inference Spatial Reduction for Efficient Semantic Segmentation},
  author={Yu, Hyunwoo and Cho, Yubin and Kang, Beoungwoo and Moon, Seunghun and Kong, Kyeongbo and Kang, Suk-Ju},
  journal={arXiv preprint arXiv:2407.17261},
  year={2024}
}"""


def save_hub_folder(
    model: HubMixin,
    folder: str | os.PathLike,
    config: Mapping[str, Any] | None = None,
    repo_id: str | None = None,
) -> Path:
    """``model.save_pretrained(folder, config=config)``, then the model card as ``README.md``; returns the folder.

    ``config`` is the metadata :func:`hub_metadata` gathers (or any of ``class_names``, ``palette``, ``dataset``,
    ``input_size``, ``metrics``, ``source``); ``repo_id`` names the folder in the card's usage lines. To publish
    the folder with its card: ``huggingface_hub.upload_folder(repo_id=..., folder_path=folder)``.
    """
    folder = Path(folder)
    model.save_pretrained(folder, config=config)
    written = json.loads((folder / CONFIG_NAME).read_text())
    ModelCard(model_card_text(model, written, repo_id)).save(folder / "README.md")
    return folder


# result-row fields worth keeping in a hub config (the rest: tables, per-class dicts, paths)
_METRIC_FIELDS = (
    "setting",
    "isr",
    "train_isr",
    "mIoU",
    "mAcc",
    "aAcc",
    "top1",
    "top5",
    "gflops",
    "flops_size",
    "tta",
    "data",
    "step",
)


def run_dir_of(ckpt_path: str | os.PathLike) -> Path | None:
    """The training run dir a checkpoint lies in (``<run>/checkpoints/*.ckpt`` with ``<run>/.hydra``), if any."""
    path = Path(ckpt_path).resolve()
    run = path.parent.parent
    if path.parent.name == "checkpoints" and (run / ".hydra").is_dir():
        return run
    return None


def run_results(run_dir: Path, ckpt_path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The final-evaluation rows of a training run (``isr_results.json``) that describe the checkpoint file
    ``ckpt_path`` (rows that name none, of older runs, are kept), trimmed to the scalar results, the checkpoint's
    file name (``checkpoint``) and its ``step``."""
    path = run_dir / "isr_results.json"
    if not path.is_file():
        return []
    name = Path(ckpt_path).name if ckpt_path is not None else None
    rows = []
    for row in json.loads(path.read_text()).get("results", []):
        evaluated = Path(row["ckpt"]).name if row.get("ckpt") else None
        if name is not None and evaluated is not None and evaluated != name:
            continue  # the run evaluated another checkpoint (the last one, or the best)
        kept = {k: row[k] for k in _METRIC_FIELDS if k in row}
        rows.append({**kept, "checkpoint": evaluated} if evaluated else kept)
    return rows


def hub_metadata(model: nn.Module, info: CheckpointInfo, ckpt_path: str | os.PathLike) -> dict[str, Any]:
    """``config=`` for :func:`save_hub_folder` (and ``model.save_pretrained``): classes, palette, dataset, input size, metrics and source.

    Segmentors get class names and a palette even when the checkpoint stores none (the benchmark with the same
    number of classes, else generated names and colours); classifiers only the names stored with them. A model
    loaded from a hub folder carries its own metadata (nothing to add).
    """
    if info.kind == "hub":
        return {}
    meta: dict[str, Any] = {"source": _source(info, ckpt_path)}
    if getattr(model, "decode_head", None) is not None:
        classes = resolve_classes(info.num_classes, "auto", info.class_names, info.palette)
        meta.update(
            class_names=classes.names, palette=[list(c) for c in classes.palette], dataset=classes.dataset
        )
    elif info.class_names:
        meta["class_names"] = list(info.class_names)
    dataset = meta.get("dataset") or info.dataset
    if dataset in BENCHMARKS:
        meta["input_size"] = list(BENCHMARKS[dataset].eval_size)
    run = run_dir_of(ckpt_path) if info.kind == "lightning" else None
    if run is not None:
        rows = run_results(run, ckpt_path)
        if rows:
            meta["metrics"] = rows
            meta["input_size"] = [int(v) for v in str(rows[0].get("flops_size", "512x512")).split("x")]
    meta["dataset"] = dataset
    return meta


def _source(info: CheckpointInfo, ckpt_path: str | os.PathLike) -> str:
    name = Path(ckpt_path).name
    if info.kind == "official":
        return f"the authors' release (MMSegmentation checkpoint `{name}`), converted by edaformer"
    if info.kind == "lightning":
        run = run_dir_of(ckpt_path)
        return f"an edaformer training run (checkpoint `{name}`" + (f" of run `{run.name}`)" if run else ")")
    return f"`{name}` (an edaformer checkpoint)"


# ---------------------------------------------------------------------------------------------- the card
def _title(model_name: str, model_args: Mapping[str, Any]) -> str:
    """``edaformer_t`` → ``EDAFormer-T``, ``eft_b`` → ``EFT-B``, ``eft_encoder`` → ``EFT-T encoder``."""
    if model_name == "eft_encoder":
        return f"EFT-{str(model_args.get('variant', 't')).upper()} encoder"
    family, _, variant = model_name.rpartition("_")
    title = {"edaformer": "EDAFormer", "eft": "EFT"}.get(family, family) + f"-{variant.upper()}"
    return title + (" backbone" if model_args.get("features_only") else "")


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


def _complexity_table(model: HubMixin, size: tuple[int, int], in_chans: int) -> str:
    """Params and GFLOPs at ``size`` under each ISR preset (the training ratios marked)."""
    params = count_params(model) / 1e6
    own = model.resolve_isr(ISR_OWN)
    rows = []
    for name, setting in _presets(model).items():
        with isr_applied(model, setting):
            gflops = count_flops(model, (in_chans, size[0], size[1]))
        trained = " (trained)" if setting == own else ""
        rows.append([f"`{name}`{trained}", setting, f"{params:.2f}", f"{gflops:.2f}"])
    header = ["ISR preset", "ratios", "params (M)", f"GFLOPs ({size[0]}×{size[1]})"]
    return markdown_table(header, rows)


def _metrics_table(metrics: list[Mapping[str, Any]]) -> str:
    """Evaluation results in % (segmentation: mIoU/mAcc/aAcc; classification: top-1/5), one row per setting."""
    keys = [k for k in ("mIoU", "mAcc", "aAcc", "top1", "top5") if any(k in row for row in metrics)]
    rows = [
        [
            f"`{row.get('setting', '?')}`",
            row.get("isr", "?"),
            *(f"{100 * float(row[k]):.2f}" if isinstance(row.get(k), int | float) else "–" for k in keys),
        ]
        for row in metrics
    ]
    return markdown_table(["ISR setting", "ratios", *(f"{k} (%)" for k in keys)], rows)


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
    """The ``README.md`` of a hub folder (YAML metadata, then Markdown) for ``model`` and its ``config.json``
    (:meth:`~edaformer.models.HubMixin.hub_config`); ``repo_id`` is the name shown in the usage lines."""
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
        _complexity_table(model, size, int(args.get("in_chans", 3))),
        "",
        "GFLOPs are multiply-accumulates (the paper's convention), counted from shapes.",
        "",
        "## Evaluation",
        "",
    ]
    metrics = config.get("metrics") or []
    if metrics:
        where = f"{dataset} validation split" if dataset else "the validation split"
        which = metrics[0].get("checkpoint")
        step = f" (step {metrics[0]['step']})" if metrics[0].get("step") is not None else ""
        weights = f"checkpoint `{which}`{step}" if which else "same weights"
        lines += [f"Single run on {where}, {weights} under each ISR setting:", "", _metrics_table(metrics)]
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
