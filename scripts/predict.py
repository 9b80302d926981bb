"""`python scripts/predict.py ARGS` is `edaformer-predict ARGS` (see `edaformer-predict --help`)."""

from edaformer.cli.predict import main

if __name__ == "__main__":
    raise SystemExit(main())
