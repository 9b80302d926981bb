"""The OmegaConf resolvers of ``conf/``: run dirs that are never shared (and given back when unused), the names of
sweep jobs' folders, the starting directory, the config groups of ``--help``. :func:`~edaformer.config.register` registers them once, before a config is composed."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import textwrap
from pathlib import Path

from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ..data.benchmarks import benchmark_fact
from .paths import expand_home

__all__ = [
    "claim_new_dir",
    "help_groups",
    "job_dirname",
    "job_name",
    "register_resolvers",
    "release_unused_dir",
    "sweep_name",
]


def claim_new_dir(base: str) -> str:
    """Create and return the run dir ``base``, or ``base_2``, ``base_3``, … when it is taken: the first name this
    process creates itself. ``os.mkdir`` is atomic, so two runs started in the same second (the timestamp's
    resolution) never share a run dir (``${edaformer_new_dir:...}`` in ``conf/hydra/default.yaml``; Hydra
    resolves it once per run, and once per sweep for a multirun). A ``~`` at the start (``paths.log_dir=~/logs``)
    is the home folder."""
    base = expand_home(base)
    Path(base).parent.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        candidate = base if n == 1 else f"{base}_{n}"
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        _CLAIMED.add(os.path.abspath(candidate))
        return candidate
    raise AssertionError("unreachable")


_CLAIMED: set[str] = set()  # the run dirs this process created


def release_unused_dir(path: str | os.PathLike) -> bool:
    """Remove the run dir ``path`` when this process claimed it (:func:`claim_new_dir`) and it holds nothing but
    Hydra's records (``.hydra/``, log files, empty folders): a command stopped by a mistake before any work leaves
    no run dir. Returns whether it was removed."""
    folder = os.path.abspath(path)
    if folder not in _CLAIMED or not os.path.isdir(folder):
        return False
    for entry in Path(folder).rglob("*"):
        if entry.is_file() and ".hydra" not in entry.relative_to(folder).parts and entry.suffix != ".log":
            return False
    shutil.rmtree(folder, ignore_errors=True)
    _CLAIMED.discard(folder)
    return True


_JOB_DIRNAME_CHARS = 150  # a job folder's name past its number: short enough for every file system


def job_dirname(*, _root_: DictConfig) -> str:
    """The folder name of a sweep job after its number (``${edaformer_job_dirname:}`` in
    ``conf/hydra/default.yaml``): the job's values of the keys the sweep varies (``isr=paper``), or when the sweep's
    ``multirun.yaml`` cannot tell them, all its overrides, joined by ``,`` as Hydra's ``override_dirname``. Left out:
    the keys of ``hydra.job.config.override_dirname.exclude_keys`` and values that are paths (a ``/`` or ``\\``, a
    leading ``~``), so that ``data.root=/abs/path`` nests no folders; other characters than letters, digits and
    ``=,.+-_`` become ``_``; cut at 150 characters (the job's number keeps the name unique)."""
    hydra = _root_.hydra
    excluded = set(hydra.job.config.override_dirname.exclude_keys)
    swept = _swept_keys(Path(str(hydra.sweep.dir)) / "multirun.yaml")
    kept = []
    for override in sorted(str(o) for o in hydra.overrides.task):
        key, _, value = override.partition("=")
        key = key.lstrip("+~")
        if key in excluded or (swept and key not in swept):
            continue
        if "/" in value or "\\" in value or value.startswith("~"):
            continue
        kept.append(override)
    return re.sub(r"[^A-Za-z0-9=,.+_-]", "_", ",".join(kept))[:_JOB_DIRNAME_CHARS]


def _swept_keys(multirun_yaml: Path) -> set[str]:
    """The keys a sweep varies (``isr=train,paper``, ``seed=range(3)``), read from the ``multirun.yaml`` its
    launcher wrote; empty when there is none or it cannot be read."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        overrides = OmegaConf.load(multirun_yaml).hydra.overrides.task
        parsed = OverridesParser.create().parse_overrides([str(o) for o in overrides])
    except Exception:  # no file (a launcher that writes none), or overrides this Hydra cannot parse
        return set()
    return {o.key_or_group.lstrip("+~") for o in parsed if o.is_sweep_override()}


def help_groups(*, _root_: DictConfig) -> str:
    """The config groups of this command with their options (ours and any ``hydra.searchpath`` folder's), the
    default marked ``*``; for ``--help`` (``${edaformer_help_groups:}`` in ``conf/hydra/help/edaformer.yaml``)."""
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    choices, name = _root_.hydra.runtime.choices, _root_.hydra.job.config_name
    searchpath = [o for o in _root_.hydra.overrides.hydra if o.startswith("hydra.searchpath=")]
    lines = []
    for group in sorted(g for g in choices if not g.startswith("hydra")):
        found = loader.get_group_options(group, config_name=name, overrides=searchpath)
        options = [o + ("*" if o == choices[group] else "") for o in found]
        text = f"{group}: {', '.join(options) or '(none)'}"
        lines.append(textwrap.fill(text, width=110, initial_indent="  ", subsequent_indent=" " * 6))
    return "\n".join(lines) if lines else "  (none)"


def sweep_name() -> str | None:
    """The name of the sweep's folder in a job of a multirun (``hydra.sweep.dir``'s last part), ``None`` in a
    single run: the W&B group of the sweep's jobs (``${edaformer_sweep_name:}`` in ``conf/logger/wandb.yaml``)."""
    hydra = _hydra_config()
    if hydra is None or hydra.mode != RunMode.MULTIRUN:
        return None
    return Path(str(hydra.sweep.dir)).name


def job_name(single: str) -> str:
    """A multirun job's values of the swept keys (``isr=paper``, ``isr=paper,model=edaformer_b``), ``single`` in a
    single run: the loggers' run name (``${edaformer_job_name:...}``). The swept keys are those of the sweep's
    overrides with several values (``<sweep dir>/multirun.yaml``); without it, the job's ``override_dirname``."""
    hydra = _hydra_config()
    if hydra is None or hydra.mode != RunMode.MULTIRUN:
        return single
    swept = _swept_keys(Path(str(hydra.sweep.dir)) / "multirun.yaml")
    if swept:
        job = [str(o) for o in hydra.overrides.task if str(o).partition("=")[0].lstrip("+~") in swept]
        name = ",".join(sorted(job))
    else:
        name = str(hydra.job.override_dirname)
    return name or single


def _hydra_config() -> DictConfig | None:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def register_resolvers() -> None:
    """``edaformer_new_dir``, ``edaformer_cwd`` (one value per composed config: Hydra copies the cache into every
    job of a sweep), ``edaformer_job_dirname``, ``edaformer_help_groups``, ``edaformer_benchmark`` (a fact of
    :data:`~edaformer.data.benchmarks.BENCHMARKS`: ``${edaformer_benchmark:cityscapes.test_scale}``),
    ``edaformer_sweep_name`` and ``edaformer_job_name`` (the loggers' group and run name in a sweep)."""
    OmegaConf.register_new_resolver("edaformer_new_dir", claim_new_dir, replace=True, use_cache=True)
    OmegaConf.register_new_resolver("edaformer_cwd", os.getcwd, replace=True, use_cache=True)
    OmegaConf.register_new_resolver("edaformer_help_groups", help_groups, replace=True)
    OmegaConf.register_new_resolver("edaformer_job_dirname", job_dirname, replace=True)
    OmegaConf.register_new_resolver("edaformer_benchmark", benchmark_fact, replace=True)
    OmegaConf.register_new_resolver("edaformer_sweep_name", sweep_name, replace=True)
    OmegaConf.register_new_resolver("edaformer_job_name", job_name, replace=True)
