"""The OmegaConf resolvers of ``conf/``: run dirs that are never shared, the starting directory, the config groups
of ``--help``. :func:`~edaformer.config.register` registers them once, before a config is composed."""

from __future__ import annotations

import itertools
import os
import textwrap
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ..data.benchmarks import benchmark_fact
from .paths import expand_home

__all__ = ["claim_new_dir", "help_groups", "register_resolvers"]


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


def register_resolvers() -> None:
    """``edaformer_new_dir``, ``edaformer_cwd`` (one value per composed config: Hydra copies the cache into every
    job of a sweep), ``edaformer_help_groups`` and ``edaformer_benchmark`` (a fact of
    :data:`~edaformer.data.benchmarks.BENCHMARKS`: ``${edaformer_benchmark:cityscapes.test_scale}``)."""
    OmegaConf.register_new_resolver("edaformer_new_dir", claim_new_dir, replace=True, use_cache=True)
    OmegaConf.register_new_resolver("edaformer_cwd", os.getcwd, replace=True, use_cache=True)
    OmegaConf.register_new_resolver("edaformer_help_groups", help_groups, replace=True)
    OmegaConf.register_new_resolver("edaformer_benchmark", benchmark_fact, replace=True)
