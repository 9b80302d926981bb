"""`python scripts/isr_table.py ARGS` is `edaformer-isr-table ARGS` (see `edaformer-isr-table --help`)."""

from edaformer.cli.isr_table import main

if __name__ == "__main__":
    raise SystemExit(main())
