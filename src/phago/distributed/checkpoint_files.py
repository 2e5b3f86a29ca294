"""Checkpoints on disk: every shard's snapshot and the runner's state of one tick, as one set.

A set is a folder ``tick-<T>`` (``T`` zero-padded to ten digits) in the checkpoint
directory holding ``shard-<i>.ckpt`` (each shard's pickled state, as
:meth:`~phago.distributed.shard.ShardedColony.snapshot` made it), ``runner.pkl`` (the
messages held between ticks and the global distribution, pickled) and ``manifest.json``
(the tick, the shard count, the ring's virtual nodes, the cluster seed, each file's size
and CRC-32, and the CRC-32 of the manifest itself). It is written into a hidden temporary
folder, each file flushed to disk, and renamed into place only when complete, so a crash or
a full disk never leaves a set that looks whole but is not; the sets before it are removed
only after that. A set of the same tick (a checkpoint retaken after a recovery, or right
after a resume) is first renamed aside (``.aside-tick-<T>``), and removed only once the new
one is in place: at every moment the directory holds a complete set, and a reader given a
set left aside by a crash takes the complete one (the new set when it is there, else the
one aside). Every file of a set is of the same tick.

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

import contextlib
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
_ASIDE = ".aside-"  # a set of the same tick, renamed aside while the new one replaces it
_MANIFEST = "manifest.json"
_MANIFEST_CRC = "manifest_crc32"  # the manifest's own CRC-32 (of the rest of it)
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


def _manifest_crc(manifest: dict[str, Any]) -> int:
    """The CRC-32 of ``manifest`` without its own checksum (keys sorted, compact)."""
    body = {k: v for k, v in manifest.items() if k != _MANIFEST_CRC}
    return zlib.crc32(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def _kept_message(root: Path) -> str:
    """What a failed write left there, for its error message."""
    try:
        sets = _complete_sets(root)
    except OSError:
        sets = []
    if not sets:
        return "there is no earlier checkpoint there"
    return f"the previous checkpoint there (tick {_tick_of(sets[0])}) is kept"


def write_checkpoint(directory: str | os.PathLike[str], cp: CheckpointSet) -> Path:
    """Write ``cp`` as the directory's complete set, replacing the sets before it.

    A set of the same tick already there is renamed aside and removed only once the new
    one is in place, so a crash at any moment leaves a complete set to read.

    Args:
        directory: the checkpoint directory (created if missing).
        cp: the set to write.

    Returns:
        The set's folder.

    Raises:
        StoreError: it could not be written (a full disk, no permission, ...). Nothing of
            it is left behind, and the directory's previous set, if it had one, is still
            there, whole (the message says which it is).
    """
    root = Path(directory)
    final = root / _set_name(cp.tick)
    aside = root / f"{_ASIDE}{final.name}"
    tmp: Path | None = None
    moved_aside = placed = False
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{final.name}.", suffix=".tmp"))
        files: dict[str, dict[str, int]] = {}
        for i, data in enumerate(cp.snapshots):
            files[f"shard-{i}.ckpt"] = _write_file(tmp / f"shard-{i}.ckpt", bytes(data))
        runner = pickle.dumps(cp.runner_state, protocol=pickle.HIGHEST_PROTOCOL)
        files[_RUNNER] = _write_file(tmp / _RUNNER, runner)
        manifest: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT,
            "tick": int(cp.tick),
            "shards": len(cp.snapshots),
            "info": cp.info,
            "files": files,
        }
        manifest[_MANIFEST_CRC] = _manifest_crc(manifest)
        _write_file(tmp / _MANIFEST, json.dumps(manifest, indent=1).encode())
        _fsync_dir(tmp)
        if final.exists():  # the same tick again (a checkpoint retaken after a recovery)
            if aside.exists():  # left by a crash after the last such replace: ``final`` is whole
                shutil.rmtree(aside)
            os.replace(final, aside)  # kept, whole, until the new set is in place
            moved_aside = True
        os.replace(tmp, final)
        tmp, moved_aside, placed = None, False, True
        _fsync_dir(root)
    except OSError as exc:
        if moved_aside:  # the new set did not take its place: put the old one back
            with contextlib.suppress(OSError):  # (else a reader still finds it aside)
                os.replace(aside, final)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp = None
        if placed:  # renamed into place, but the folder could not be flushed to disk
            kept = "the new set is in place, but may not have reached the disk"
        else:
            kept = _kept_message(root)
        raise StoreError(
            f"could not write the checkpoint of tick {cp.tick} to {root}: {exc}; {kept}"
        ) from exc
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    for old in root.iterdir():  # older sets, the one set aside, temporaries a crash left
        if old != final and old.name.startswith((_PREFIX, f".{_PREFIX}", _ASIDE)):
            shutil.rmtree(old, ignore_errors=True)
    return final


def _tick_of(folder: Path) -> int:
    """The tick in a set folder's name (``tick-<T>`` or ``.aside-tick-<T>``)."""
    return int(folder.name.removeprefix(_ASIDE).removeprefix(_PREFIX))


def _is_set_name(name: str) -> bool:
    digits = name.removeprefix(_ASIDE)
    return digits.startswith(_PREFIX) and digits.removeprefix(_PREFIX).isdigit()


def _complete_sets(root: Path) -> list[Path]:
    """The sets with a manifest, newest first; of one tick, the set in place before the
    one a crash left aside (the set in place is only ever a complete one renamed there)."""
    sets = [p for p in root.iterdir() if _is_set_name(p.name) and (p / _MANIFEST).exists()]
    return sorted(sets, key=lambda p: (_tick_of(p), not p.name.startswith(_ASIDE)), reverse=True)


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
        manifest = _read_manifest(folder)
        return {**dict(manifest["info"]), "tick": int(manifest["tick"])}
    except StoreError:
        raise
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"checkpoint {folder} cannot be read: {exc!r}") from exc


def _read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the set in ``folder``, its format and its own checksum checked (a
    set written before manifests had one is taken as it is).

    Raises:
        StoreError: the manifest is not a JSON object, is of a newer format, or does not
            match its checksum.
        OSError, ValueError, KeyError, TypeError: it cannot be read, is not JSON, or has
            no valid format.
    """
    manifest = json.loads((folder / _MANIFEST).read_bytes())
    if not isinstance(manifest, dict):
        raise StoreError(f"checkpoint {folder} is damaged: its manifest is not an object")
    fmt = int(manifest["format"])
    if fmt > CHECKPOINT_FORMAT:
        raise StoreError(
            f"checkpoint {folder} is of format {fmt}; this phago reads up to {CHECKPOINT_FORMAT}"
        )
    if _MANIFEST_CRC in manifest and manifest[_MANIFEST_CRC] != _manifest_crc(manifest):
        raise StoreError(
            f"checkpoint {folder} is damaged: its manifest does not match its checksum "
            "(changed or corrupted since it was written)"
        )
    return manifest


def read_checkpoint(directory: str | os.PathLike[str]) -> CheckpointSet:
    """The newest complete set in ``directory``, every file checked against its manifest.

    Raises:
        StoreError: no complete set is there, or its files are not what the manifest says
            (damaged, truncated or missing), or it is of a newer format.
    """
    folder = _newest(Path(directory))
    try:
        manifest = _read_manifest(folder)
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
