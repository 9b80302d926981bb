"""An authors' (MMSegmentation) EDAFormer checkpoint in this project's format (``edaformer-convert``): a ``.pt``
file or a Hugging Face Hub folder. The variant (T/B) and the number of classes are read from the tensor shapes;
every official tensor must map to one of ours and every one of ours must be filled."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..checkpoints import (
    CheckpointInfo,
    checkpoint_kind,
    is_hub_reference,
    load_checkpoint_file,
    load_official_checkpoint,
    read_checkpoint,
    save_model,
)
from ..errors import UserError
from ..models import CheckpointMismatchError, create_model, infer_official_model
from ..tools.model_card import hub_metadata, save_hub_folder

__all__ = ["Converted", "convert_official"]


@dataclass
class Converted:
    """What was converted: the model's name and classes, the tensors mapped, the official ones dropped, the
    output."""

    model_name: str
    num_classes: int
    tensors: int
    dropped: list[str]
    output: str


def convert_official(src: str, output: str, fmt: str = "pt", overwrite: bool = False) -> Converted:
    """Convert ``src`` into ``output`` (``fmt="pt"``: a file, or ``DIR/<input name>.pt`` for a folder;
    ``fmt="hf"``: a hub folder). An existing output is refused unless ``overwrite``."""
    if is_hub_reference(src):
        raise UserError(
            f"{src} is a hub folder of edaformer, already in this project's format: eval, predict and export take it "
            "as ckpt_path= (convert reads the authors' MMSegmentation checkpoints)"
        )
    if not os.path.isfile(src):
        raise UserError(f"ckpt_path does not exist: {src}")
    dst = output
    if fmt == "pt" and (dst.endswith(("/", os.sep)) or os.path.isdir(dst)):  # a folder: the file goes inside
        dst = os.path.join(dst, os.path.splitext(os.path.basename(src))[0] + ".pt")
    if os.path.exists(dst) and not overwrite:
        raise UserError(
            f"output={dst} exists; choose another {'folder' if fmt == 'hf' else 'file'} or pass overwrite=true"
        )
    if fmt == "hf" and os.path.isfile(dst):
        raise UserError(f"output={dst} is a file; format=hf writes a folder")
    _refuse_our_own(src)
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
    return Converted(name, num_classes, len(model.state_dict()), list(dropped), dst)


def _refuse_our_own(src: str) -> None:
    """A checkpoint this project wrote needs no conversion: one line saying what it is and what takes it."""
    try:
        obj = load_checkpoint_file(src, mmap=True)
    except ValueError as err:
        raise UserError(str(err)) from None
    kind = checkpoint_kind(obj)
    if kind == "other":
        return
    about = obj.get("hyper_parameters") if kind == "lightning" else obj
    what = f"{about['model_name']}, {about['num_classes']} classes"
    if kind == "lightning":
        raise UserError(
            f"{src} is a Lightning training checkpoint of this project ({what}, step {obj.get('global_step', '?')}), "
            "not an authors' checkpoint: eval, predict and export take it as ckpt_path= (export formats=[hf] writes "
            "a hub folder from it), train resumes from it with ckpt_path="
        )
    raise UserError(
        f"{src} is already in this project's format ({what}): eval, predict and export take it as ckpt_path= "
        "(export formats=[hf] writes a hub folder from it)"
    )
