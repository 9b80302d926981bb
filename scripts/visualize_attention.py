"""`python scripts/visualize_attention.py ARGS` is `edaformer-visualize-attention ARGS` (see `edaformer-visualize-attention --help`)."""

from edaformer.cli.visualize_attention import main

if __name__ == "__main__":
    raise SystemExit(main())
