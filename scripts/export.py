"""`python scripts/export.py ARGS` is `edaformer-export ARGS` (see `edaformer-export --help`)."""

from edaformer.cli.export import main

if __name__ == "__main__":
    raise SystemExit(main())
