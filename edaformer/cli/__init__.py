"""The ``edaformer-*`` commands: one module per command, each a Hydra app with its own primary config
``conf/<module>.yaml`` (``train.py``, ``eval.py`` and ``scripts/*.py`` are thin wrappers)."""
