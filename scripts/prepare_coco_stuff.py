"""`python scripts/prepare_coco_stuff.py ARGS` is `edaformer-prepare-coco-stuff ARGS` (see `edaformer-prepare-coco-stuff --help`)."""

from edaformer.cli.prepare_coco_stuff import main

if __name__ == "__main__":
    raise SystemExit(main())
