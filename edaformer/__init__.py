"""EDAFormer / EFT (ECCV 2024) in PyTorch: the models in :mod:`edaformer.models`, the verbs in
:mod:`edaformer.workflows`, the ``edaformer-*`` commands in :mod:`edaformer.cli`."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("edaformer")  # the one home of the number: pyproject.toml, as installed
except PackageNotFoundError:  # a source tree on sys.path without an install
    __version__ = "0+unknown"

__all__ = ["__version__"]
