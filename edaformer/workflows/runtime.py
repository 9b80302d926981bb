"""What the running command was given: its command line, its overrides and its config group choices (read from
Hydra's runtime config; outside a command, e.g. a config composed in a notebook, nothing was given)."""

from __future__ import annotations

import shlex

from hydra.core.hydra_config import HydraConfig

__all__ = ["choice", "command_line", "overridden", "rerun_command"]


def _overrides() -> list[str]:
    try:
        return list(HydraConfig.get().overrides.task)
    except ValueError:  # not inside a Hydra app
        return []


def overridden(key: str) -> bool:
    """Whether ``key=...`` (or ``+key=`` / ``~key``) was given on the command line."""
    return any(o.split("=", 1)[0].lstrip("+~") == key for o in _overrides())


def choice(group: str) -> str | None:
    """The option of config group ``group`` the command runs with (``data=cityscapes`` → ``"cityscapes"``)."""
    try:
        return HydraConfig.get().runtime.choices.get(group)
    except ValueError:
        return None


def command_line(command: str) -> str:
    """``command`` followed by the overrides it was run with (for the header of a result file)."""
    return " ".join([command, *_overrides()])


def rerun_command(command: str, **replaced: str) -> str:
    """The shell command that runs ``command`` again with the same overrides, ``key=value`` of ``replaced`` instead
    of the given ones, and a new run dir (``hydra.run.dir`` / ``hydra.sweep.dir`` dropped)."""
    dropped = {*replaced, "hydra.run.dir", "hydra.sweep.dir"}
    kept = [o for o in _overrides() if o.split("=", 1)[0].lstrip("+~") not in dropped]
    return " ".join(
        shlex.quote(part) for part in [command, *kept, *(f"{k}={v}" for k, v in replaced.items())]
    )
