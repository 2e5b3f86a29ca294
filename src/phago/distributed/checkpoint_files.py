"""Checkpoints on disk: every shard's snapshot and the runner's state of one tick, as one set.

A set is a folder ``tick-<T>`` (``T`` zero-padded to ten digits) in the checkpoint
directory holding ``shard-<i>.ckpt`` (each shard's pickled state, as
:meth:`~phago.distributed.shard.ShardedColony.snapshot` made it), ``runner.pkl`` (the
messages held between ticks and the global distribution, pickled) and ``manifest.json``
(the tick, the shard count, the ring's virtual nodes, the cluster seed, and each file's
size and CRC-32). It is written into a hidden temporary folder, each file flushed to disk,
and renamed into place only when complete, so a crash or a full disk never leaves a set
that looks whole but is not; the sets before it are removed only after that. So the
directory always holds at most one complete set, and every file of it is of the same tick.

Example:
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_checkpoint(d, CheckpointSet(7, [b"zero", b"one"], {"held": None}))
    >>> got = read_checkpoint(d)
    >>> got.tick, got.snapshots, got.runner_state
    (7, [b'zero', b'one'], {'held': None})
    >>> sorted(p.name for p in Path(d).iterdir())
    ['tick-0000000007']
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phago.errors import StoreError

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointSet",
    "read_checkpoint",
    "read_checkpoint_info",
    "write_checkpoint",
]

CHECKPOINT_FORMAT = 1
"""Version of the on-disk layout (``manifest.json``'s ``format``)."""

_PREFIX = "tick-"
_MANIFEST = "manifest.json"
_RUNNER = "runner.pkl"


@dataclass(slots=True)
class CheckpointSet:
    """One tick's checkpoint: each shard's snapshot bytes, in shard order, and what the
    runner holds besides (``runner_state``: any picklable value), with facts a loader needs
    to rebuild the cluster (``info``: JSON values, such as the ring's virtual nodes)."""

    tick: int
    snapshots: list[bytes]
    runner_state: Any = None
    info: dict[str, Any] = field(default_factory=dict)


def _set_name(tick: int) -> str:
    return f"{_PREFIX}{tick:010d}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> dict[str, int]:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return {"bytes": len(data), "crc32": zlib.crc32(data)}


def write_checkpoint(directory: str | os.PathLike[str], cp: CheckpointSet) -> Path:
    """Write ``cp`` as the directory's complete set, replacing the sets before it.

    Args:
        directory: the checkpoint directory (created if missing).
        cp: the set to write.

    Returns:
        The set's folder.

    Raises:
        StoreError: it could not be written (a full disk, no permission, ...). Nothing of
            it is left behind, and the directory's previous set is still there, whole.
    """
    root = Path(directory)
    final = root / _set_name(cp.tick)
    tmp: Path | None = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{final.name}.", suffix=".tmp"))
        files: dict[str, dict[str, int]] = {}
        for i, data in enumerate(cp.snapshots):
            files[f"shard-{i}.ckpt"] = _write_file(tmp / f"shard-{i}.ckpt", bytes(data))
        runner = pickle.dumps(cp.runner_state, protocol=pickle.HIGHEST_PROTOCOL)
        files[_RUNNER] = _write_file(tmp / _RUNNER, runner)
        manifest = {
            "format": CHECKPOINT_FORMAT,
            "tick": int(cp.tick),
            "shards": len(cp.snapshots),
            "info": cp.info,
            "files": files,
        }
        _write_file(tmp / _MANIFEST, json.dumps(manifest, indent=1).encode())
        _fsync_dir(tmp)
        if final.exists():  # the same tick again (a checkpoint retaken after a recovery)
            shutil.rmtree(final)
        os.replace(tmp, final)
        tmp = None
        _fsync_dir(root)
    except OSError as exc:
        raise StoreError(
            f"could not write the checkpoint of tick {cp.tick} to {root}: {exc}; "
            "the previous checkpoint there is kept"
        ) from exc
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    for old in root.iterdir():  # older sets, and temporaries a crash left
        if old != final and (old.name.startswith(_PREFIX) or old.name.startswith(f".{_PREFIX}")):
            shutil.rmtree(old, ignore_errors=True)
    return final


def _complete_sets(root: Path) -> list[Path]:
    sets = [p for p in root.iterdir() if p.name.startswith(_PREFIX) and (p / _MANIFEST).exists()]
    return sorted(sets, key=lambda p: p.name, reverse=True)


def _newest(root: Path) -> Path:
    try:
        sets = _complete_sets(root)
    except OSError as exc:
        raise StoreError(f"cannot read checkpoints in {root}: {exc}") from exc
    if not sets:
        raise StoreError(f"no complete checkpoint in {root}")
    return sets[0]


def read_checkpoint_info(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``info`` of the newest complete set in ``directory``, with its ``tick``, read from
    its manifest alone (the shards' files are not read).

    Raises:
        StoreError: no complete set is there, or its manifest cannot be read.
    """
    folder = _newest(Path(directory))
    try:
        manifest = json.loads((folder / _MANIFEST).read_bytes())
        return {**dict(manifest["info"]), "tick": int(manifest["tick"])}
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"checkpoint {folder} cannot be read: {exc!r}") from exc


def read_checkpoint(directory: str | os.PathLike[str]) -> CheckpointSet:
    """The newest complete set in ``directory``, every file checked against its manifest.

    Raises:
        StoreError: no complete set is there, or its files are not what the manifest says
            (damaged, truncated or missing), or it is of a newer format.
    """
    folder = _newest(Path(directory))
    try:
        manifest = json.loads((folder / _MANIFEST).read_bytes())
        fmt = int(manifest["format"])
        if fmt > CHECKPOINT_FORMAT:
            raise StoreError(
                f"checkpoint {folder} is of format {fmt}; this phago reads up to "
                f"{CHECKPOINT_FORMAT}"
            )
        files: dict[str, dict[str, int]] = manifest["files"]
        blobs: dict[str, bytes] = {}
        for name, facts in files.items():
            data = (folder / name).read_bytes()
            if len(data) != int(facts["bytes"]) or zlib.crc32(data) != int(facts["crc32"]):
                raise StoreError(f"checkpoint file {folder / name} is damaged")
            blobs[name] = data
        shards = int(manifest["shards"])
        snapshots = [blobs[f"shard-{i}.ckpt"] for i in range(shards)]
        runner_state = pickle.loads(blobs[_RUNNER])
        return CheckpointSet(int(manifest["tick"]), snapshots, runner_state, manifest["info"])
    except StoreError:
        raise
    except (
        OSError,
        KeyError,
        TypeError,
        ValueError,
        EOFError,
        AttributeError,  # pickled by a phago whose classes differ from this one's
        ImportError,
        pickle.UnpicklingError,
    ) as exc:
        raise StoreError(f"checkpoint {folder} cannot be read: {exc!r}") from exc
