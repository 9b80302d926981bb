"""A disk that fills during a save: one error naming the file and the bytes it needs, the previous file kept."""

from __future__ import annotations

import errno
import io
from collections import namedtuple

import pytest
import torch

from edaformer.cli.entry import error_message
from edaformer.files import DiskFullError, atomic_write, temp_path, write_json
from edaformer.lit import AtomicCheckpointIO


class _FillsUp(io.RawIOBase):
    """A file that takes ``room`` bytes, then fails as a full disk does."""

    def __init__(self, inner, room: int) -> None:
        self.inner, self.room = inner, room

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.inner.write(data)


def test_a_checkpoint_save_on_a_full_disk_names_the_file_and_keeps_the_last_one(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    path.write_bytes(b"previous")
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, f: real_save(obj, _FillsUp(f, room=1000)))
    with pytest.raises(DiskFullError) as info:  # torch reports the full disk as a RuntimeError
        AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.zeros(4096)}}, path)
    assert info.value.exit_status == 2 and info.value.errno == errno.ENOSPC
    line = error_message(info.value)
    assert str(path) in line and "\n" not in line
    assert path.read_bytes() == b"previous" and not temp_path(path).exists()


def test_a_result_file_names_the_bytes_it_needs(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("shutil.disk_usage", lambda _: usage(10, 10, 0))

    def fails(f):
        raise RuntimeError("file write failed")  # an error that does not say why: the disk has no room left

    with pytest.raises(DiskFullError) as info:
        atomic_write(tmp_path / "results.json", fails, size=1234)
    assert str(tmp_path / "results.json") in str(info.value) and "1234" in str(info.value)
    write_json(tmp_path / "ok.json", {"mIoU": 1.0})  # a write that succeeds is not affected


def test_other_write_errors_are_not_called_a_full_disk(tmp_path):
    def fails(f):
        raise RuntimeError("something else")

    with pytest.raises(RuntimeError, match="something else"):
        atomic_write(tmp_path / "x.json", fails)
