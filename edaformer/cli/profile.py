"""``edaformer-profile``: torch.profiler breakdown of a model's forward passes (:mod:`edaformer.workflows.profile`).
Arguments: ``conf/profile.yaml`` (``edaformer-profile --help``)."""

from __future__ import annotations

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.profile import profile

    header, table = profile(cfg)
    print(header)
    print(table)


def main() -> int:
    """Entry point of ``edaformer-profile`` (and ``scripts/profile_model.py``)."""
    return run_command("profile", _task)
