"""The base class of a user's mistakes raised by the library.

A mistake the user can act on (a bad value, a missing file, a checkpoint of the wrong kind) is reported by the
``edaformer-*`` commands as one line ``error: ...`` with the exit status its class declares (``exit_status``);
everything else is a bug and keeps its traceback. Errors of other layers declare the same attribute
(:class:`~edaformer.data.io.DatasetError`, :class:`~edaformer.checkpoints.CheckpointError`: 2), so the reporter
needs no import of the layers that raise them. :class:`NonFiniteError` (NaN/inf weights or outputs: exit status 1)
is not the user's mistake but a result that must not be reported.
"""

from __future__ import annotations

__all__ = ["EXIT_USER_ERROR", "MissingExtraError", "NonFiniteError", "UserError"]

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem with what the user asked for; reported as one line (``error: ...``), exit status 2."""

    exit_status = EXIT_USER_ERROR


class NonFiniteError(RuntimeError):
    """NaN or inf where numbers must be finite: a diverged training, weights or model outputs that hold NaN/inf.
    The command ran and stopped on a problem it names, so it exits with status 1, not 2: the arguments were
    valid."""

    exit_status = 1


class MissingExtraError(UserError):
    """An optional dependency is not installed: names the package and the extra of ours that brings it
    (``search``: optuna, ``mlflow``: MLflow, ``slurm``: Hydra's submitit launcher; see pyproject.toml)."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed (pip install 'edaformer[{extra}]')")
        self.package, self.extra = package, extra
