"""`python scripts/isr_search.py ARGS` is `edaformer-isr-search ARGS` (see `edaformer-isr-search --help`)."""

from edaformer.cli.isr_search import main

if __name__ == "__main__":
    raise SystemExit(main())
