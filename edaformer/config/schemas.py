"""The schema of every command's primary config (``conf/<command>.yaml``): Hydra structured configs.

Each dataclass names a command's top-level keys and their types; :func:`store_schemas` puts them in Hydra's
ConfigStore as ``<command>_schema`` and each primary config lists its schema first in its defaults. Hydra and
OmegaConf then refuse a key the command does not have, a value of the wrong type (``seed=abc``, ``size=[a,b]``)
and a choice outside a list (the :class:`Choice` enums) while they compose the config, naming the key. The values
and their comments live in the YAML files; the schema holds types only (``MISSING``: the YAML sets it).

Config groups (``model``, ``data``, ``trainer``, ``logger``, ``callbacks``, ``isr``, ``paths``) are typed
``Any`` here: their ``_target_`` nodes are checked against the target's signature
(:func:`~edaformer.config.arguments.check_arguments`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

__all__ = ["SCHEMAS", "Choice", "FinalEval", "final_eval", "store_schemas"]


class Choice(str, Enum):
    """A value out of a fixed list; reads and prints as the plain string (``precision=bf16``)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


def _choices(name: str, *values: str) -> type[Choice]:
    return Choice(name, {v: v for v in values})  # type: ignore[return-value]


Precision = _choices("Precision", "fp32", "bf16")
MemoryFormat = _choices("MemoryFormat", "contiguous", "channels_last")
Split = _choices("Split", "train", "val", "test")
ExportFormat = _choices("ExportFormat", "onnx", "torchscript", "exported_program", "hf")
Exporter = _choices("Exporter", "dynamo", "torchscript")
BenchmarkOutput = _choices("BenchmarkOutput", "full", "low", "labels")
Benchmark = _choices("Benchmark", "ade20k", "cityscapes", "coco_stuff")
Reference = _choices("Reference", "auto", "none", "ade20k", "cityscapes", "coco_stuff")
PredictOutput = _choices("PredictOutput", "label", "color", "overlay")
InferenceMode = _choices("InferenceMode", "auto", "whole", "slide")
GpuCheckDevice = _choices("GpuCheckDevice", "auto", "cuda", "cpu")
WeightsFormat = _choices("WeightsFormat", "pt", "hf")
Block = _choices("Block", "last", "first", "mean")
Heads = _choices("Heads", "mean", "max")
ComplexityTable = _choices("ComplexityTable", "none", "paper", "attention")


@dataclass
class Command:
    """Every command: its name (the run dir's folder under ``outputs/``)."""

    task_name: str = MISSING


FinalCheckpoint = _choices("FinalCheckpoint", "last", "best")


@dataclass
class FinalEval:
    """The evaluation after training: the checkpoint (``last``, as the authors report, or ``best`` by ``monitor``)
    under each ISR setting of the list ``isr`` (presets, ``"e1,e2,e3,e4-d4,d3,d2"``, ``[[enc], [dec]]``). A setting
    given alone (``final_eval.isr=paper``) is a list of one: :func:`final_eval` reads the node."""

    isr: Any = field(default_factory=list)
    checkpoint: FinalCheckpoint = FinalCheckpoint.last  # type: ignore[attr-defined]

    def __post_init__(self) -> None:
        if self.isr is None:
            self.isr = []
        elif not isinstance(self.isr, list):  # one setting: a preset, "e1,...-d4,...", {encoder, decoder}
            self.isr = [self.isr]


def final_eval(cfg: Any) -> FinalEval:
    """``cfg.final_eval`` as a :class:`FinalEval` (one setting given alone becomes a list of one)."""
    return FinalEval(**OmegaConf.to_container(cfg.final_eval, resolve=True))  # type: ignore[arg-type]


@dataclass
class RecipeKeys(Command):
    """The keys a recipe (``conf/recipe/``) or an experiment (``conf/experiment/``) may set, besides groups."""

    model: Any = MISSING
    data: Any = MISSING
    isr: Any = None
    trainer: Any = None
    logger: Any = None
    callbacks: Any = None
    paths: Any = None
    tags: list[str] = field(default_factory=list)
    seed: int = MISSING
    global_batch: int | None = None
    flops_size: list[int] = MISSING
    tta: bool = False
    tta_scales: list[float] = MISSING
    monitor: str | None = None
    monitor_mode: str = "max"  # min | max (ModelCheckpoint checks it)
    optimized_metric: str | None = None
    required_values: list[str] | None = None  # keys an experiment needs the user to give (null: required)
    final_eval: FinalEval = field(default_factory=FinalEval)


@dataclass
class TrainConfig(RecipeKeys):
    ckpt_path: str | None = None
    checkpoint_every_n_steps: int = MISSING
    checkpoint_every_minutes: float | None = None
    overwrite: bool = False


@dataclass
class EvalConfig(RecipeKeys):
    ckpt_path: str = MISSING
    compile: bool = False
    precision: Precision = Precision.fp32  # type: ignore[attr-defined]
    cityscapes_format: str | None = None
    cityscapes_eval: bool = False


@dataclass
class Budget:
    gflops: float | None = None
    latency_ms: float | None = None
    fraction: float | None = None


@dataclass
class SearchSettings:
    trials: int = MISSING
    max_trials: int | None = None
    multipliers: list[int] = MISSING
    encoder: list[list[int]] | None = None
    decoder: list[list[int]] | None = None
    val_images: int | None = None
    latency: bool = MISSING
    latency_repeats: int = MISSING
    resume_dir: str | None = None


@dataclass
class IsrSearchConfig(RecipeKeys):
    ckpt_path: str = MISSING
    device: str = MISSING
    preset_name: str = MISSING
    budget: Budget = field(default_factory=Budget)
    search: SearchSettings = field(default_factory=SearchSettings)


@dataclass
class SegmenterKeys(Command):
    """What :func:`~edaformer.workflows.segmenter.segmenter_from_config` reads (predict, visualize-attention)."""

    data: Any = None
    isr: Any = None
    paths: Any = None
    ckpt_path: str = MISSING
    dataset: str = MISSING  # auto | ade20k | cityscapes | coco_stuff | demo | none
    test_scale: Any = MISSING  # auto | null | [long, short]
    device: str = MISSING
    max_image_pixels: int | None = MISSING


@dataclass
class PredictConfig(SegmenterKeys):
    inputs: Any = MISSING  # a path, a glob or a list of them
    output_dir: str = MISSING
    mode: InferenceMode = MISSING
    crop_size: list[int] = MISSING
    stride: list[int] = MISSING
    scales: list[float] = MISSING
    flip: bool = MISSING
    alpha: float = MISSING
    show_legend: bool = MISSING
    save: list[PredictOutput] = MISSING
    background: list[int] = MISSING
    compile: bool = MISSING
    precision: Precision = MISSING
    fail_fast: bool = MISSING
    overwrite: bool = MISSING


@dataclass
class VisualizeAttentionConfig(SegmenterKeys):
    image: str = MISSING
    point: list[float] | None = None
    output: str = MISSING
    block: Block = MISSING
    heads: Heads = MISSING
    cmap: str = MISSING
    dpi: int = MISSING
    save_maps: bool = MISSING


@dataclass
class ModelTool(Command):
    """Commands that build ``model.net`` with random weights (complexity, profile, export)."""

    model: Any = MISSING
    isr: Any = None
    paths: Any = None
    num_classes: int | None = None
    size: list[int] | None = MISSING


@dataclass
class ComplexityConfig(ModelTool):
    table: ComplexityTable = MISSING  # type: ignore[valid-type]


@dataclass
class ProfileConfig(ModelTool):
    batch_size: int = MISSING
    memory_format: MemoryFormat = MISSING
    precision: Precision = MISSING
    device: str = MISSING
    threads: int | None = None
    runs: int = MISSING
    rows: int = MISSING
    by_shape: bool = MISSING


@dataclass
class ExportConfig(ModelTool):
    ckpt_path: str | None = None
    formats: list[ExportFormat] = MISSING
    output: str | None = None
    overwrite: bool = MISSING
    output_dir: str = MISSING
    exporter: Exporter = MISSING
    opset: int = MISSING
    verify: bool = MISSING
    precision: Precision = MISSING
    compile: bool = MISSING
    verbose: bool = MISSING


@dataclass
class BenchmarkConfig(Command):
    paths: Any = None
    models: list[str] = MISSING
    isr_settings: list[str] = MISSING
    compare: list[str] = MISSING
    sizes: list[list[int]] | None = None
    batch_sizes: list[int] | None = None
    precisions: list[Precision] = MISSING
    memory_formats: list[MemoryFormat] = MISSING
    compile: bool = MISSING
    train: bool = MISSING
    dataset: Benchmark = MISSING
    num_classes: int | None = None
    output: BenchmarkOutput = MISSING
    device: str = MISSING
    threads: int | None = None
    repeats: int = MISSING
    warmup: int = MISSING
    memory: bool = MISSING
    malloc_cache: bool = MISSING
    output_dir: str = MISSING


@dataclass
class DataTool(Command):
    """Commands over a dataset of the ``data`` group."""

    data: Any = MISSING
    paths: Any = None


@dataclass
class BenchmarkDataConfig(DataTool):
    batches: int = MISSING
    workers: list[int] = MISSING
    batch_size: int | None = None


@dataclass
class BrowseDatasetConfig(DataTool):
    n: int = MISSING
    split: Split = MISSING
    seed: int = MISSING
    alpha: float = MISSING
    columns: int = MISSING
    output_dir: str = MISSING


@dataclass
class CheckDatasetConfig(DataTool):
    splits: list[Split] = MISSING
    max_listed: int = MISSING


@dataclass
class PrepareCityscapesConfig(DataTool):
    nproc: int | None = None
    force: bool = MISSING


@dataclass
class PrepareCocoStuffConfig(DataTool):
    splits: list[str] = MISSING
    nproc: int | None = None
    force: bool = MISSING


@dataclass
class ConvertOfficialConfig(Command):
    ckpt_path: str = MISSING
    output: str = MISSING
    format: WeightsFormat = MISSING
    overwrite: bool = MISSING


@dataclass
class GpuCheckConfig(Command):
    paths: Any = None
    device: GpuCheckDevice = MISSING
    tests: bool = MISSING
    compile: bool = MISSING
    repeats: int = MISSING
    output: str = MISSING


@dataclass
class IsrTableConfig(Command):
    sweep_dir: Any = MISSING  # a multirun dir, or a list of them (their datasets side by side)
    output_dir: str | None = None
    wandb: bool = MISSING
    wandb_project: str = MISSING


@dataclass
class PlotIsrTradeoffConfig(Command):
    results: Any = MISSING  # a file or folder, or a list of them
    output: str = MISSING
    latency: bool = MISSING
    ckpt_path: str | None = None
    size: list[int] | None = None
    repeats: int = MISSING
    device: str = MISSING
    reference: Reference = MISSING
    title: str | None = None
    dpi: int = MISSING


# command (conf/<command>.yaml) -> its schema
SCHEMAS: dict[str, type[Command]] = {
    "train": TrainConfig,
    "eval": EvalConfig,
    "isr_search": IsrSearchConfig,
    "predict": PredictConfig,
    "visualize_attention": VisualizeAttentionConfig,
    "complexity": ComplexityConfig,
    "profile": ProfileConfig,
    "export": ExportConfig,
    "benchmark": BenchmarkConfig,
    "benchmark_data": BenchmarkDataConfig,
    "browse_dataset": BrowseDatasetConfig,
    "check_dataset": CheckDatasetConfig,
    "prepare_cityscapes": PrepareCityscapesConfig,
    "prepare_coco_stuff": PrepareCocoStuffConfig,
    "convert_official": ConvertOfficialConfig,
    "gpu_check": GpuCheckConfig,
    "isr_table": IsrTableConfig,
    "plot_isr_tradeoff": PlotIsrTradeoffConfig,
}


def store_schemas() -> None:
    """Every schema into Hydra's ConfigStore as ``<command>_schema`` (a primary config's first default)."""
    store = ConfigStore.instance()
    for command, schema in SCHEMAS.items():
        store.store(name=f"{command}_schema", node=schema)
