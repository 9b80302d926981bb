"""`python scripts/complexity.py ARGS` is `edaformer-complexity ARGS` (see `edaformer-complexity --help`)."""

from edaformer.cli.complexity import main

if __name__ == "__main__":
    raise SystemExit(main())
