"""Files written safely: atomically (a reader never sees half a file, a kill leaves the previous one, a full disk is
one clear error) and the small JSON / CSV result files every command writes. No torch, no config libraries."""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import shutil
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from .errors import UserError

__all__ = [
    "DiskFullError",
    "atomic_write",
    "check_new_files",
    "remove_stale_temp_files",
    "temp_path",
    "write_csv",
    "write_json",
]

_HOST = re.sub(r"[^\w-]", "_", socket.gethostname())
_TEMP = re.compile(r"^\..+\.(?P<host>[\w-]+)-(?P<pid>\d+)\.tmp$")


def temp_path(path: Path) -> Path:
    """The temporary file :func:`atomic_write` writes before renaming it to ``path``: hidden, in the same folder,
    named after the writing host and process (``.last.ckpt.<host>-<pid>.tmp``)."""
    return path.with_name(f".{path.name}.{_HOST}-{os.getpid()}.tmp")


def remove_stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that writers on this host left in ``folder`` when they were killed (their
    process no longer exists); files of live processes and of other hosts stay. Returns the removed paths."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _TEMP.match(entry.name)
        if match is None or match["host"] != _HOST or _alive(int(match["pid"])):
            continue
        entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class DiskFullError(OSError):
    """The disk (or the user's quota) filled while a file was written; the previous file is kept. Commands report
    it as one line naming the file and the bytes it needs, exit status 2 (``exit_status``)."""

    exit_status = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.errno = errno.ENOSPC


_FULL = (errno.ENOSPC, errno.EDQUOT)
_NEARLY_FULL_BYTES = 1 << 20
"""Free space below which a failed write is put down to a full disk even when the error does not say so."""


def atomic_write(
    path: str | os.PathLike, write: Callable[[IO[bytes]], None], size: int | None = None
) -> None:
    """Write ``path`` by ``write(file)`` into :func:`temp_path`, flushed to disk, then renamed over ``path``: a
    reader never sees half a file and a kill leaves the previous file intact. The temporary file is removed if
    writing fails, and those of killed writers in the folder are removed first (:func:`remove_stale_temp_files`).

    Raises:
        DiskFullError: the disk filled during the write (``size``: the bytes the file needs, if known, for the
            message; else the bytes written before the disk filled are named as a lower bound).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; expected a file name to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path.parent)
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        full = _disk_full(err, tmp, size)
        tmp.unlink(missing_ok=True)
        if full is not None:
            kept = "; the previous file is kept" if path.exists() else ""
            raise DiskFullError(f"{path}: {full}{kept}") from None
        raise


def _disk_full(err: BaseException, tmp: Path, size: int | None) -> str | None:
    """Why a failed write of ``tmp`` ran out of space (the bytes needed and free), or ``None`` if it did not."""
    try:
        free = shutil.disk_usage(tmp.parent).free
        written = tmp.stat().st_size if tmp.exists() else 0
    except OSError:
        return None
    if not isinstance(err, Exception):  # an interrupt
        return None
    if not any(getattr(e, "errno", None) in _FULL for e in _causes(err)) and free >= _NEARLY_FULL_BYTES:
        return None
    needed = f"{size} bytes needed" if size is not None else f"more than {written} bytes needed"
    return f"disk full while writing ({needed}, {free} bytes free in {tmp.parent})"


def _causes(err: BaseException) -> list[BaseException]:
    """``err`` and the errors it arose from (torch's serialiser turns the file's ``OSError`` into a
    ``RuntimeError`` raised while handling it)."""
    chain: list[BaseException] = []
    item: BaseException | None = err
    while item is not None and item not in chain:
        chain.append(item)
        item = item.__cause__ or item.__context__
    return chain


def check_new_files(files: Sequence[str | os.PathLike], overwrite: bool, key: str) -> None:
    """Before any work: every file of ``files`` has a name the file system takes, and none exists (unless
    ``overwrite``); else a :class:`~edaformer.errors.UserError` naming ``key`` (the argument that chose them)."""
    paths = [Path(f) for f in files]
    for path in paths:
        limit = _name_limit(path.parent)
        size = len(os.fsencode(path.name))
        if size > limit:
            raise UserError(
                f"{key}: the file name {path.name[:40]}...{path.name[-20:]} is {size} bytes, above the file "
                f"system's limit of {limit} in {path.parent}; choose a shorter name"
            )
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UserError(
            f"{key}: {existing[0]} exists{more}; pass overwrite=true to replace it, or choose another"
        )


def _name_limit(folder: Path) -> int:
    """The longest file name (bytes) of the file system holding ``folder`` (or its nearest existing parent)."""
    for candidate in (folder, *folder.parents):
        if candidate.is_dir():
            try:
                return os.pathconf(candidate, "PC_NAME_MAX")
            except (OSError, ValueError):
                break
    return 255


def write_json(path: str | os.PathLike, payload: Mapping[str, Any]) -> None:
    """``payload`` as indented JSON, atomically."""
    text = (json.dumps(payload, indent=2) + "\n").encode()
    atomic_write(path, lambda f: f.write(text), size=len(text))


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]]) -> None:
    """``rows`` (dicts with the same keys, the first row's order) as CSV with a header, atomically."""
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    atomic_write(path, lambda f: f.write(data), size=len(data))
