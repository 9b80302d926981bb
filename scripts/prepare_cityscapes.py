"""`python scripts/prepare_cityscapes.py ARGS` is `edaformer-prepare-cityscapes ARGS` (see `edaformer-prepare-cityscapes --help`)."""

from edaformer.cli.prepare_cityscapes import main

if __name__ == "__main__":
    raise SystemExit(main())
