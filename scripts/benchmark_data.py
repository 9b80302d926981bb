"""`python scripts/benchmark_data.py ARGS` is `edaformer-benchmark-data ARGS` (see `edaformer-benchmark-data --help`)."""

from edaformer.cli.benchmark_data import main

if __name__ == "__main__":
    raise SystemExit(main())
