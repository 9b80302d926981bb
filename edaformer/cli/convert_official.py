#!/usr/bin/env python
"""Convert an authors' (MMSegmentation) EDAFormer checkpoint to this project's format.

    python scripts/convert_official.py edaformer_t_ade20k.pth edaformer_t_ade20k.pt

The variant (T/B) and the number of classes are read from the tensor shapes. Every official tensor must map to one
of ours and every one of ours must be filled (the head's unused ``conv_seg`` is dropped and reported); otherwise
the script fails listing the offending keys. The output loads with ``edaformer.checkpoints.load_model``.
"""

from __future__ import annotations

import argparse
import sys

from ..checkpoints import load_official_checkpoint, read_checkpoint, save_model
from ..models import CheckpointMismatchError, create_model, infer_official_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("src", help="official checkpoint (.pth, a dict with 'state_dict')")
    parser.add_argument("dst", help="output file in our format (.pt)")
    args = parser.parse_args(argv)
    try:
        official = read_checkpoint(args.src)
        name, num_classes = infer_official_model(official)
        model = create_model(name, num_classes=num_classes)
        dropped = load_official_checkpoint(model, official)
    except (CheckpointMismatchError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    save_model(model, args.dst, name)
    n = len(model.state_dict())
    print(f"{args.src}: {name}, {num_classes} classes; {n} tensors mapped, all filled")
    if dropped:
        print(f"dropped {len(dropped)} unused official tensors: {', '.join(dropped)}")
    print(f"wrote {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
