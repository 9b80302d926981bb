"""``edaformer-export``: ONNX (dynamic batch/H/W), TorchScript or torch.export with the ISR setting baked in, or a
Hugging Face Hub folder (``formats=[hf]``) (:mod:`edaformer.workflows.export`). Arguments: ``conf/export.yaml``
(``edaformer-export --help``)."""

from __future__ import annotations

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.export import export

    for line in export(cfg):
        print(line)


def main() -> int:
    """Entry point of ``edaformer-export`` (and ``scripts/export.py``)."""
    return run_command("export", _task)
