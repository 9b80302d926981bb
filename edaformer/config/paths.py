"""``~`` in path values: expanded for every command, whatever the key (``output_dir=~/runs``,
``paths.log_dir=~/logs``, ``hydra.run.dir=~/run``, ``ckpt_path=~/w.ckpt``, ``data.root=~/data``,
``model.init_from=~/w.pth``, ``inputs``), on the command line and in config files alike.

A shell expands ``~`` only at the start of a word or after the ``=`` of a shell variable name (``ckpt_path=~/x``,
but not ``data.root=~/x``), and Hydra's override grammar has no reading of an unquoted ``~/x``:
:func:`~edaformer.config.overrides.readable_overrides` expands it in the command line before Hydra parses it,
:func:`expand_home_paths` in the values of the composed config (config files, quoted overrides), so no run writes
into a folder named ``~``."""

from __future__ import annotations

import os
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

__all__ = ["expand_home", "expand_home_paths"]


def expand_home(value: str) -> str:
    """``~`` or ``~user`` at the start of ``value`` (followed by ``/`` or nothing) replaced by that home folder."""
    head = value.split("/", 1)[0]
    if not head.startswith("~") or any(c.isspace() or c in ",[]{}=" for c in head):
        return value
    return os.path.expanduser(value)


def expand_home_paths(cfg: DictConfig) -> None:
    """Expand ``~`` in every string value of ``cfg`` set directly (interpolations resolve from expanded values),
    but in Hydra's own node: a value such as ``~`` alone or ``~user/x`` has no other reading in a path."""
    for key in list(cfg.keys()):
        if key != "hydra":
            _expand(cfg, key)


def _expand(node: DictConfig | ListConfig, key: Any) -> None:
    if OmegaConf.is_missing(node, key) or OmegaConf.is_interpolation(node, key):
        return
    value = node[key]
    if isinstance(value, DictConfig):
        for child in list(value.keys()):
            _expand(value, child)
    elif isinstance(value, ListConfig):
        for index in range(len(value)):
            _expand(value, index)
    elif isinstance(value, str) and value.startswith("~"):
        node[key] = expand_home(value)
