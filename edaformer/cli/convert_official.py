"""``edaformer-convert``: an authors' (MMSegmentation) EDAFormer checkpoint → this project's format (a ``.pt``
file) or a Hugging Face Hub folder (``format=hf``: safetensors, config.json with the class names and palette of the
benchmark, model card). Arguments: ``conf/convert_official.yaml`` (``edaformer-convert --help``).

The variant (T/B) and the number of classes are read from the tensor shapes. Every official tensor must map to one
of ours and every one of ours must be filled (the head's unused ``conv_seg`` is dropped and reported); otherwise
the command fails listing the offending keys. The output loads with ``edaformer.checkpoints.load_model`` (a hub
folder also with ``EDAFormer.from_pretrained``).
"""

from __future__ import annotations

import os

import hydra
from omegaconf import DictConfig

from ..checkpoints import CheckpointInfo, load_official_checkpoint, read_checkpoint, save_model
from ..models import CheckpointMismatchError, create_model, infer_official_model
from ..tools.model_card import hub_metadata, save_hub_folder
from .utils import CONF_DIR, UserError, as_choice, report_user_errors, require_file, run_hydra_main


@hydra.main(config_path=str(CONF_DIR), config_name="convert_official", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> None:
    src, dst = require_file(cfg.ckpt_path, "ckpt_path"), str(cfg.output)
    fmt = as_choice(cfg.format, ("pt", "hf"), "format")
    if fmt == "pt" and (dst.endswith(("/", os.sep)) or os.path.isdir(dst)):
        # a folder: the file goes inside, named after the input
        dst = os.path.join(dst, os.path.splitext(os.path.basename(src))[0] + ".pt")
    if os.path.exists(dst) and not cfg.overwrite:
        raise UserError(
            f"output={dst} exists; choose another {'folder' if fmt == 'hf' else 'file'} or pass overwrite=true"
        )
    if fmt == "hf" and os.path.isfile(dst):
        raise UserError(f"output={dst} is a file; format=hf writes a folder")
    try:
        official = read_checkpoint(src)
        name, num_classes = infer_official_model(official)
        model = create_model(name, num_classes=num_classes)
        dropped = load_official_checkpoint(model, official)
    except (CheckpointMismatchError, ValueError) as err:
        raise UserError(f"{src}: {err}") from None
    if fmt == "hf":
        info = CheckpointInfo(src, "official", name, num_classes, tuple(dropped))
        save_hub_folder(model, dst, config=hub_metadata(model, info, src))
    else:
        save_model(model, dst, name)
    print(f"{src}: {name}, {num_classes} classes; {len(model.state_dict())} tensors mapped, all filled")
    if dropped:
        print(f"dropped {len(dropped)} unused official tensors: {', '.join(dropped)}")
    print(f"wrote {dst}")


def main() -> int:
    """Entry point of ``edaformer-convert`` (and ``scripts/convert_official.py``)."""
    return run_hydra_main(_main)
