"""`python scripts/browse_dataset.py ARGS` is `edaformer-browse-dataset ARGS` (see `edaformer-browse-dataset --help`)."""

from edaformer.cli.browse_dataset import main

if __name__ == "__main__":
    raise SystemExit(main())
