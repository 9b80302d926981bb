"""`python scripts/profile_model.py ARGS` is `edaformer-profile ARGS` (see `edaformer-profile --help`)."""

from edaformer.cli.profile import main

if __name__ == "__main__":
    raise SystemExit(main())
