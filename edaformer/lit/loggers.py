"""Logger helpers that need no config: W&B that never hangs for want of an account, and images to W&B."""

from __future__ import annotations

import logging
import netrc
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["log_images_to_wandb", "prepare_wandb_env", "wandb_api_key_available"]

log = logging.getLogger("edaformer")


def wandb_api_key_available() -> bool:
    """Whether W&B can authenticate: ``WANDB_API_KEY`` or an ``api.wandb.ai`` entry in ``~/.netrc``."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def prepare_wandb_env() -> None:
    """Never hang or fail for want of network or account: without an API key (and ``WANDB_MODE`` unset) W&B runs
    offline and writes its run directory locally (``wandb sync`` uploads it later)."""
    if os.environ.get("WANDB_MODE") in ("offline", "disabled", "dryrun"):
        return
    if not wandb_api_key_available():
        log.warning(
            "W&B: no API key found (WANDB_API_KEY / ~/.netrc); logging offline (upload with `wandb sync`)"
        )
        os.environ["WANDB_MODE"] = "offline"
    os.environ.setdefault("WANDB_INIT_TIMEOUT", "60")


def log_images_to_wandb(loggers: Sequence[Any], prefix: str, images: Sequence[Path]) -> None:
    """Each PNG as ``<prefix>/<name>`` (its stem after the first ``_``) to the W&B loggers among ``loggers``."""
    for lg in loggers:
        if type(lg).__name__ == "WandbLogger":
            for path in images:
                lg.log_image(key=f"{prefix}/{path.stem.split('_', 1)[-1]}", images=[str(path)])
