"""`python scripts/plot_isr_tradeoff.py ARGS` is `edaformer-plot-isr-tradeoff ARGS` (see `edaformer-plot-isr-tradeoff --help`)."""

from edaformer.cli.plot_isr_tradeoff import main

if __name__ == "__main__":
    raise SystemExit(main())
