"""``edaformer-convert ckpt_path=OFFICIAL.pth output=OURS.pt [format=hf]``: an authors' (MMSegmentation) EDAFormer
checkpoint → this project's format or a Hugging Face Hub folder (:mod:`edaformer.workflows.convert`); every
official tensor must map to one of ours and every one of ours must be filled, else the offending keys are listed.
Arguments: ``conf/convert_official.yaml`` (``edaformer-convert --help``)."""

from __future__ import annotations

from omegaconf import DictConfig

from .entry import run_command


def _task(cfg: DictConfig) -> None:
    from ..workflows.convert import convert_official

    done = convert_official(str(cfg.ckpt_path), str(cfg.output), str(cfg.format), bool(cfg.overwrite))
    print(
        f"{cfg.ckpt_path}: {done.model_name}, {done.num_classes} classes; {done.tensors} tensors mapped, all filled"
    )
    if done.dropped:
        print(f"dropped {len(done.dropped)} unused official tensors: {', '.join(done.dropped)}")
    print(f"wrote {done.output}")


def main() -> int:
    """Entry point of ``edaformer-convert`` (and ``scripts/convert_official.py``)."""
    return run_command("convert_official", _task)
