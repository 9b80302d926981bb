"""`python scripts/check_dataset.py ARGS` is `edaformer-check-dataset ARGS` (see `edaformer-check-dataset --help`)."""

from edaformer.cli.check_dataset import main

if __name__ == "__main__":
    raise SystemExit(main())
