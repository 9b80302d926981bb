"""`python scripts/convert_official.py ARGS` is `edaformer-convert ARGS` (see `edaformer-convert --help`)."""

from edaformer.cli.convert_official import main

if __name__ == "__main__":
    raise SystemExit(main())
