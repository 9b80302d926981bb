"""`python scripts/benchmark.py ARGS` is `edaformer-benchmark ARGS` (see `edaformer-benchmark --help`)."""

from edaformer.cli.benchmark import main

if __name__ == "__main__":
    raise SystemExit(main())
