"""What an offline W&B run holds, read from its ``run-*.wandb`` file (W&B's record log: LevelDB's log format of
32 KiB blocks after a 7-byte file header, each record a protobuf ``Record``) — wandb ships no reader of its own."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BLOCK = 32768
HEADER = struct.Struct("<IHB")  # checksum, length, chunk type (1 full, 2 first, 3 middle, 4 last)


@dataclass
class OfflineRun:
    """A run's name, group, job type, tags, config (key -> value) and summary (key -> last logged value)."""

    name: str = ""
    group: str = ""
    job_type: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None


def _payloads(data: bytes):
    pos, pending = 7, b""  # after the file header ":W&B", magic, version
    while pos + HEADER.size <= len(data):
        if BLOCK - pos % BLOCK < HEADER.size:  # the rest of a block too short for a header: padding
            pos += BLOCK - pos % BLOCK
            continue
        _, length, kind = HEADER.unpack_from(data, pos)
        chunk = data[pos + HEADER.size : pos + HEADER.size + length]
        pos += HEADER.size + length
        if kind == 0 and length == 0:
            break
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            yield pending


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def read_offline_run(run_dir: Path) -> OfflineRun:
    """The :class:`OfflineRun` of ``run_dir`` (a ``wandb/offline-run-*`` folder)."""
    from wandb.proto import wandb_internal_pb2 as pb

    run = OfflineRun()
    (path,) = run_dir.glob("run-*.wandb")
    for payload in _payloads(path.read_bytes()):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run.name, run.group, run.job_type, run.tags = (
                r.display_name,
                r.run_group,
                r.job_type,
                list(r.tags),
            )
            run.config.update({_key(i): json.loads(i.value_json) for i in r.config.update})
        elif kind == "config":
            run.config.update({_key(i): json.loads(i.value_json) for i in record.config.update})
        elif kind == "history":
            run.summary.update({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            run.summary.update({_key(i): json.loads(i.value_json) for i in record.summary.update})
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    return run
