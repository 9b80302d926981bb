"""The OmegaConf resolvers of ``conf/``: run dirs that are never shared, the starting directory, the config groups
of ``--help``. :func:`~edaformer.config.register` registers them once, before a config is composed."""

from __future__ import annotations

import itertools
import os
import textwrap
from pathlib import Path

from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ..data.benchmarks import benchmark_fact

__all__ = ["claim_new_dir", "help_groups", "job_name", "register_resolvers", "sweep_name"]


def claim_new_dir(base: str) -> str:
    """Create and return the run dir ``base``, or ``base_2``, ``base_3``, … when it is taken: the first name this
    process creates itself. ``os.mkdir`` is atomic, so two runs started in the same second (the timestamp's
    resolution) never share a run dir (``${edaformer_new_dir:...}`` in ``conf/hydra/default.yaml``; Hydra
    resolves it once per run, and once per sweep for a multirun)."""
    Path(base).parent.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        candidate = base if n == 1 else f"{base}_{n}"
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        return candidate
    raise AssertionError("unreachable")


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
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    sweep = Path(str(hydra.sweep.dir)) / "multirun.yaml"
    if sweep.is_file():
        swept = {o.key_or_group for o in parser.parse_overrides(list(OmegaConf.load(sweep).hydra.overrides.task))
                 if o.is_sweep_override()}  # fmt: skip
        job = [o for o in parser.parse_overrides(list(hydra.overrides.task)) if o.key_or_group in swept]
        name = ",".join(sorted(o.input_line for o in job if o.input_line))
    else:
        name = str(hydra.job.override_dirname)
    return name or single


def _hydra_config() -> DictConfig | None:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def register_resolvers() -> None:
    """``edaformer_new_dir``, ``edaformer_cwd`` (one value per composed config: Hydra copies the cache into every
    job of a sweep), ``edaformer_help_groups``, ``edaformer_benchmark`` (a fact of
    :data:`~edaformer.data.benchmarks.BENCHMARKS`: ``${edaformer_benchmark:cityscapes.test_scale}``),
    ``edaformer_sweep_name`` and ``edaformer_job_name`` (the loggers' group and run name in a sweep)."""
    OmegaConf.register_new_resolver("edaformer_new_dir", claim_new_dir, replace=True, use_cache=True)
    OmegaConf.register_new_resolver("edaformer_cwd", os.getcwd, replace=True, use_cache=True)
    OmegaConf.register_new_resolver("edaformer_help_groups", help_groups, replace=True)
    OmegaConf.register_new_resolver("edaformer_benchmark", benchmark_fact, replace=True)
    OmegaConf.register_new_resolver("edaformer_sweep_name", sweep_name, replace=True)
    OmegaConf.register_new_resolver("edaformer_job_name", job_name, replace=True)
