"""`python scripts/gpu_check.py ARGS` is `edaformer-gpu-check ARGS` (see `edaformer-gpu-check --help`)."""

from edaformer.cli.gpu_check import main

if __name__ == "__main__":
    raise SystemExit(main())
