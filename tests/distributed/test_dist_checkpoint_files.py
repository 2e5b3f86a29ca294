"""Checkpoints on disk (one whole set per tick) and checkpoints that count only once whole."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from distributed_signature import graph_signature as signature
from phago import ColonyConfig
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony
from phago.distributed import checkpoint_files as files
from phago.distributed.checkpoint_files import CheckpointSet, read_checkpoint, write_checkpoint
from phago.distributed.shard import ShardedColony
from phago.errors import DistributedError, RpcError, StoreError

DOCS = load_sample_corpus()
POS = grid_positions(len(DOCS))
CAP3 = ColonyConfig(max_edge_degree=3)  # cap orders in flight between ticks
LATE = [(f"late {i}", f"membrane{i} protein gene cell", (3.0 * i, 7.0)) for i in range(8)]


def build(shards: int = 3, **kwargs: object) -> DistributedColony:
    dc = DistributedColony(shards, seed=0, config=CAP3, **kwargs)  # type: ignore[arg-type]
    dc.ingest_documents([(d.title, d.content, p) for d, p in zip(DOCS, POS, strict=True)])
    dc.spawn_digesters(2, max_idle=60)
    return dc


def sets_in(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


# ---------------------------------------------------------------------- the files


def test_a_set_replaces_the_one_before_and_reads_back_checked(tmp_path: Path) -> None:
    write_checkpoint(tmp_path, CheckpointSet(5, [b"a", b"bb"], {"held": 1}, {"num_shards": 2}))
    write_checkpoint(tmp_path, CheckpointSet(10, [b"c", b"dd"], {"held": 2}, {"num_shards": 2}))
    assert sets_in(tmp_path) == ["tick-0000000010"]
    got = read_checkpoint(tmp_path)
    assert (got.tick, got.snapshots, got.runner_state) == (10, [b"c", b"dd"], {"held": 2})
    assert got.info == {"num_shards": 2}
    # the same tick again (a checkpoint retaken after a recovery) replaces it
    write_checkpoint(tmp_path, CheckpointSet(10, [b"e", b"ff"], None))
    assert read_checkpoint(tmp_path).snapshots == [b"e", b"ff"]
    assert sets_in(tmp_path) == ["tick-0000000010"]


def test_a_damaged_missing_or_newer_set_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no complete checkpoint"):
        read_checkpoint(tmp_path)
    with pytest.raises(StoreError, match="cannot read"):
        read_checkpoint(tmp_path / "absent")
    folder = write_checkpoint(tmp_path, CheckpointSet(3, [b"state of shard zero"], None))
    shard = folder / "shard-0.ckpt"
    data = bytearray(shard.read_bytes())
    data[0] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"shard-0\.ckpt is damaged"):
        read_checkpoint(tmp_path)
    shard.write_bytes(bytes(data[:-1]))  # truncated
    with pytest.raises(StoreError, match="damaged"):
        read_checkpoint(tmp_path)
    shard.unlink()
    with pytest.raises(StoreError, match="cannot be read"):
        read_checkpoint(tmp_path)
    folder = write_checkpoint(tmp_path, CheckpointSet(4, [b"x"], None))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format"] = files.CHECKPOINT_FORMAT + 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="format"):
        read_checkpoint(tmp_path)


def test_a_crashed_write_leaves_no_set_and_the_next_write_clears_it(tmp_path: Path) -> None:
    write_checkpoint(tmp_path, CheckpointSet(5, [b"five"], None))
    crashed = tmp_path / ".tick-0000000010.abc.tmp"  # what a crash mid-write leaves
    crashed.mkdir()
    (crashed / "shard-0.ckpt").write_bytes(b"half")
    assert read_checkpoint(tmp_path).tick == 5
    write_checkpoint(tmp_path, CheckpointSet(15, [b"fifteen"], None))
    assert sets_in(tmp_path) == ["tick-0000000015"]


def test_a_full_disk_keeps_the_set_before_and_leaves_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_checkpoint(tmp_path, CheckpointSet(5, [b"five", b"5"], None))
    real = files._write_file
    calls = [0]

    def full_disk(path: Path, data: bytes) -> dict[str, int]:
        calls[0] += 1
        if calls[0] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(files, "_write_file", full_disk)
    with pytest.raises(StoreError, match=r"tick 10.*No space left.*previous checkpoint"):
        write_checkpoint(tmp_path, CheckpointSet(10, [b"ten", b"10"], None))
    assert sets_in(tmp_path) == ["tick-0000000005"]
    assert read_checkpoint(tmp_path).snapshots == [b"five", b"5"]


# ---------------------------------------------------------------------- through a colony


def test_a_run_resumed_from_its_checkpoint_goes_on_as_the_run_would_have(
    tmp_path: Path,
) -> None:
    clean, writer = build(), build(checkpoint_every=5, checkpoint_dir=str(tmp_path))
    try:
        for dc in (clean, writer):
            dc.run(7)
            dc.ingest_documents(LATE)  # logged after the checkpoint at 5; part of the one at 10
            dc.run(6)  # checkpoint at 10, three more ticks the resumed run does again
        assert sets_in(tmp_path) == ["tick-0000000010"]
        clean.run(9)
        clean.spawn_digesters(1, max_idle=60)  # placed where the layout had got to
        clean.run(4)
    finally:
        writer.close()
    back = DistributedColony.from_checkpoint(str(tmp_path))
    try:
        assert back.current_tick == 10 and back.num_shards == 3
        assert back.config.max_edge_degree == 3
        assert back.history == writer.history[:10]
        back.run(12)
        back.spawn_digesters(1, max_idle=60)
        back.run(4)
        assert back.current_tick == clean.current_tick == 26
        assert signature(back) == signature(clean)
        assert {d.id for d in back.documents()} == {d.id for d in clean.documents()}
    finally:
        back.close()
        clean.close()


def test_a_full_disk_at_a_checkpoint_is_a_store_error_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean, dc = build(), build(checkpoint_every=4, checkpoint_dir=str(tmp_path))
    real = files._write_file
    full = [False]

    def maybe_full(path: Path, data: bytes) -> dict[str, int]:
        if full[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(files, "_write_file", maybe_full)
    try:
        clean.run(12)
        dc.run(6)  # checkpoints at 0 and 4 on disk
        full[0] = True
        with pytest.raises(StoreError, match=r"tick 8.*No space left"):
            dc.run(6)
        assert dc.current_tick == 8  # stopped at the checkpoint, nothing half-done
        assert read_checkpoint(tmp_path).tick == 4  # the set before, whole
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
        assert dc.runner._checkpoint is not None
        assert dc.runner._checkpoint.tick == 8  # the rollback point in memory stands
        assert dc.runner._checkpoint.snapshots is not None  # (held: not on disk)
        full[0] = False
        dc.run(4)  # the disk has room again: the run goes on ...
        assert read_checkpoint(tmp_path).tick == 4
        dc.run(1)  # ... and the next checkpoint, at 12, is written
        assert read_checkpoint(tmp_path).tick == 12
        clean.run(1)
        assert signature(dc) == signature(clean)
    finally:
        dc.close()
        clean.close()


def test_a_checkpoint_counts_only_once_every_shard_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # shard 2's snapshot fails: the checkpoint before stays the rollback point, and every
    # shard's log still holds what was ingested since it, for a rollback to replay
    dc = build(checkpoint_every=5)
    try:
        dc.run(7)
        dc.ingest_documents(LATE)
        logged = [len(dc.runner.handles[i].target.oplog()) for i in range(3)]
        assert sum(logged) > 0
        broken = dc.runner.handles[2].target

        def no_memory(*, logging: bool = True) -> bytes:
            raise MemoryError("no room for the snapshot")

        monkeypatch.setattr(broken, "snapshot", no_memory)
        with pytest.raises(RpcError, match=r"shard-2 failed to take its checkpoint.*no room"):
            dc.run(5)  # the checkpoint due at 10 fails
        assert dc.runner._checkpoint is not None
        assert dc.current_tick == 10 and dc.runner._checkpoint.tick == 5
        assert [len(dc.runner.handles[i].target.oplog()) for i in range(3)] == logged
        monkeypatch.undo()
        dc.run(1)  # taken now; the logs start again
        assert dc.runner._checkpoint.tick == 10
        assert all(not dc.runner.handles[i].target.oplog() for i in range(3))
    finally:
        dc.close()


def test_a_snapshot_leaves_the_log_out_and_a_local_rollback_logs_again() -> None:
    # a shard rolled back twice to the same checkpoint replays, the second time, what the
    # first replay re-applied and what was added after it, also from a snapshot that a
    # Ray actor took (which logs nothing)
    dc = build(checkpoint_every=5)
    try:
        dc.run(7)
        handle = dc.runner.handles[0]
        shard = handle.target
        snap = shard.snapshot()
        assert shard.oplog() == [] and ShardedColony.from_snapshot(snap, dc.ring)._oplog is None
        dc.ingest_documents(LATE)
        logged = len(shard.oplog())
        assert logged > 0
        asyncio.run(handle.restore(snap))
        assert handle.target.oplog() == []  # logging again, from the checkpoint on
        handle.target.apply_replay_ops(dc.current_tick)
        assert len(handle.target.oplog()) == logged  # the replayed batch is logged again
    finally:
        dc.close()


def test_a_reinforcement_between_runs_is_replayed_after_a_rollback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clean, flaky = build(checkpoint_every=5), build(checkpoint_every=5)
    try:
        for dc in (clean, flaky):
            dc.run(7)
        pairs = [(a, b) for a, b, _ in clean.graph.edges()][:6]
        assert pairs
        for dc in (clean, flaky):
            dc.reinforce_edges(pairs, [a for a, _ in pairs], 0.25, 7)
        _fail_once_in_act(monkeypatch, flaky.runner.handles[1].target)
        with pytest.raises(RpcError):
            flaky.tick()  # rolled back to 5, replayed to 7, the reinforcement again
        assert flaky.runner.recoveries[-1].restored_tick == 7
        for dc in (clean, flaky):
            dc.run(6)
        assert signature(flaky) == signature(clean)
    finally:
        clean.close()
        flaky.close()


def _fail_once_in_act(monkeypatch: pytest.MonkeyPatch, shard: ShardedColony) -> None:
    from phago.distributed import TickPhase

    real = shard.run_phase

    def fails_once(phase: TickPhase, *rest: Any) -> object:
        if phase is TickPhase.ACT:
            monkeypatch.setattr(shard, "run_phase", real)
            raise RuntimeError("a shard fails in Act")
        return real(phase, *rest)

    monkeypatch.setattr(shard, "run_phase", fails_once)


def test_a_checkpoint_on_disk_is_not_held_in_memory_and_a_rollback_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean, dc = build(), build(checkpoint_every=5, checkpoint_dir=str(tmp_path))
    try:
        for c in (clean, dc):
            c.run(7)
            c.ingest_documents(LATE)
        cp = dc.runner._checkpoint
        assert cp is not None
        assert cp.tick == 5 and cp.snapshots is None and cp.on_disk == str(tmp_path)
        _fail_once_in_act(monkeypatch, dc.runner.handles[1].target)
        with pytest.raises(RpcError):
            dc.tick()  # rolled back to the set on disk at 5, replayed to 7 with LATE
        assert dc.runner.recoveries[-1].restored_tick == 7
        for c in (clean, dc):
            c.run(6)
        assert signature(dc) == signature(clean)
        # the set taken away behind the runner's back: a rollback cannot be made, and the
        # error says so
        for p in tmp_path.iterdir():
            for f in p.iterdir():
                f.unlink()
            p.rmdir()
        _fail_once_in_act(monkeypatch, dc.runner.handles[0].target)
        with pytest.raises(RpcError):
            dc.tick()
        with pytest.raises(DistributedError, match="no complete checkpoint"):
            dc.tick()
    finally:
        dc.close()
        clean.close()


def test_a_set_whose_snapshots_do_not_unpickle_is_a_store_error(tmp_path: Path) -> None:
    # what a set written by a phago with other classes looks like to this one
    write_checkpoint(
        tmp_path,
        CheckpointSet(
            4,
            [b"not a pickle", b"not one either"],
            {"held": None},
            {
                "num_shards": 2,
                "backend": "local",
                "seed": 0,
                "virtual_nodes": 150,
                "ghost_cache_size": 1000,
                "config": ColonyConfig().to_dict(),
            },
        ),
    )
    with pytest.raises(StoreError, match="cannot resume from the checkpoint"):
        DistributedColony.from_checkpoint(str(tmp_path))
    folder = next(tmp_path.iterdir())
    (folder / "runner.pkl").write_bytes(b"\x80\x05cno_such_module\nThing\n.")
    manifest = json.loads((folder / "manifest.json").read_text())
    data = (folder / "runner.pkl").read_bytes()
    import zlib

    manifest["files"]["runner.pkl"] = {"bytes": len(data), "crc32": zlib.crc32(data)}
    manifest["manifest_crc32"] = files._manifest_crc(manifest)  # a consistent set
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="cannot be read"):
        read_checkpoint(tmp_path)


# ---------------------------------------------------------------------- the same tick again


class _Crash(BaseException):
    """The process dies here: no handler of the code under test runs."""


def _crash_at(monkeypatch: pytest.MonkeyPatch, step: str, exc: BaseException | None = None) -> None:
    """Make retaking a checkpoint of a tick fail at ``step``: ``"aside"`` (renaming the set
    already there aside), ``"replace"`` (renaming the new set into place) or ``"drop"``
    (removing the set aside once the new one is in place)."""
    real_replace, real_rmtree = os.replace, shutil.rmtree
    boom = exc or _Crash(step)

    def replace(src: Any, dst: Any) -> None:
        src, dst = Path(src), Path(dst)
        if step == "aside" and src.name.startswith("tick-") and dst.name.startswith(".aside-"):
            raise boom
        if step == "replace" and src.name.startswith(".tick-") and dst.name.startswith("tick-"):
            raise boom
        real_replace(src, dst)

    def rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        if step == "drop" and Path(path).name.startswith(".aside-"):
            raise boom
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(files.os, "replace", replace)  # type: ignore[attr-defined]
    monkeypatch.setattr(files.shutil, "rmtree", rmtree)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("step", "survivor"), [("aside", b"old"), ("replace", b"old"), ("drop", b"new")]
)
def test_a_crash_while_retaking_a_tick_leaves_a_complete_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, survivor: bytes
) -> None:
    write_checkpoint(tmp_path, CheckpointSet(10, [b"old", b"OLD"], {"held": "old"}))
    _crash_at(monkeypatch, step)
    with pytest.raises(_Crash):
        write_checkpoint(tmp_path, CheckpointSet(10, [b"new", b"NEW"], {"held": "new"}))
    monkeypatch.undo()
    got = read_checkpoint(tmp_path)  # what a process started after the crash reads
    assert got.tick == 10 and got.snapshots == [survivor, survivor.upper()]
    assert files.read_checkpoint_info(tmp_path)["tick"] == 10
    # the next write of the tick, or of a later one, clears what the crash left
    write_checkpoint(tmp_path, CheckpointSet(10, [b"again", b"AGAIN"], None))
    assert sets_in(tmp_path) == ["tick-0000000010"]
    assert read_checkpoint(tmp_path).snapshots == [b"again", b"AGAIN"]
    write_checkpoint(tmp_path, CheckpointSet(12, [b"later", b"LATER"], None))
    assert sets_in(tmp_path) == ["tick-0000000012"]


def test_a_set_left_aside_with_no_set_in_place_is_read(tmp_path: Path) -> None:
    # a crash between the two renames: the old set aside, the new one not in place
    folder = write_checkpoint(tmp_path, CheckpointSet(10, [b"old"], None))
    folder.rename(tmp_path / ".aside-tick-0000000010")
    crashed = tmp_path / ".tick-0000000010.abc.tmp"  # the new set, never renamed
    crashed.mkdir()
    assert read_checkpoint(tmp_path).snapshots == [b"old"]
    write_checkpoint(tmp_path, CheckpointSet(10, [b"new"], None))
    assert sets_in(tmp_path) == ["tick-0000000010"]
    assert read_checkpoint(tmp_path).snapshots == [b"new"]


@pytest.mark.parametrize("step", ["aside", "replace"])
def test_a_full_disk_while_retaking_a_tick_keeps_the_set_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    write_checkpoint(tmp_path, CheckpointSet(10, [b"old"], None))
    _crash_at(monkeypatch, step, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(
        StoreError, match=r"tick 10.*No space left.*previous checkpoint there \(tick 10\) is kept"
    ):
        write_checkpoint(tmp_path, CheckpointSet(10, [b"new"], None))
    monkeypatch.undo()
    assert sets_in(tmp_path) == ["tick-0000000010"]  # back in place, no temporary left
    assert read_checkpoint(tmp_path).snapshots == [b"old"]


def test_a_checkpoint_retaken_right_after_a_resume_keeps_the_set_on_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with DistributedColony(2, seed=0, checkpoint_every=4, checkpoint_dir=str(tmp_path)) as dc:
        dc.ingest_documents(LATE)
        dc.spawn_digesters(2, max_idle=60)
        dc.run(5)  # the set at 4
    with DistributedColony.from_checkpoint(str(tmp_path), checkpoint_dir=str(tmp_path)) as back:
        _crash_at(monkeypatch, "replace", OSError(errno.ENOSPC, "No space left on device"))
        with pytest.raises(StoreError, match=r"tick 4.*is kept"):
            back.checkpoint()  # the same tick, 4, again
        monkeypatch.undo()
    with DistributedColony.from_checkpoint(str(tmp_path)) as again:
        assert again.current_tick == 4


def test_a_full_disk_with_no_checkpoint_before_does_not_promise_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(path: Path, data: bytes) -> dict[str, int]:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "_write_file", full_disk)
    with pytest.raises(StoreError) as got:
        write_checkpoint(tmp_path, CheckpointSet(3, [b"three"], None))
    message = str(got.value)
    assert "No space left" in message and "there is no earlier checkpoint there" in message
    assert "kept" not in message
    assert sets_in(tmp_path) == []


# ---------------------------------------------------------------------- a manifest checked


@pytest.fixture(scope="module")
def written_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("checkpoints")
    with DistributedColony(2, seed=0, checkpoint_every=2, checkpoint_dir=str(d)) as dc:
        dc.ingest_documents(LATE)
        dc.spawn_digesters(2, max_idle=60)
        dc.run(3)  # the set at 2
    return d


def _changed(
    src: Path, dst: Path, change: Callable[[Path, dict[str, Any]], None], *, sign: bool
) -> Path:
    """A copy of the set in ``src`` with its manifest (and files) changed by ``change``;
    ``sign``: its checksum made to match again (a consistent forgery, or a set written
    before manifests had one when ``change`` drops it)."""
    shutil.copytree(src, dst)
    folder = next(dst.iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    change(folder, manifest)
    if sign and "manifest_crc32" in manifest:
        manifest["manifest_crc32"] = files._manifest_crc(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return dst


def _tick_999(folder: Path, manifest: dict[str, Any]) -> None:
    manifest["tick"] = 999


def test_an_edited_manifest_is_a_store_error(written_set: Path, tmp_path: Path) -> None:
    with DistributedColony.from_checkpoint(str(written_set)) as dc:
        assert dc.current_tick == 2  # (the set as written loads)
    edited = _changed(written_set, tmp_path / "edited", _tick_999, sign=False)
    with pytest.raises(StoreError, match="manifest does not match its checksum"):
        read_checkpoint(edited)
    with pytest.raises(StoreError, match="manifest does not match its checksum"):
        DistributedColony.from_checkpoint(str(edited))

    # its checksum made to match (or an older set, without one): the shards say otherwise
    def without_checksum(folder: Path, manifest: dict[str, Any]) -> None:
        manifest["tick"] = 999
        manifest.pop("manifest_crc32", None)

    for sign, change in ((True, _tick_999), (False, without_checksum)):
        forged = _changed(written_set, tmp_path / f"forged-{sign}", change, sign=sign)
        assert read_checkpoint(forged).tick == 999  # the files match the manifest ...
        with pytest.raises(
            StoreError,
            match=r"manifest says tick 999, but the snapshot in shard-0\.ckpt is of tick 2",
        ):
            DistributedColony.from_checkpoint(str(forged))  # ... but not their own tick


def test_swapped_shard_files_are_a_store_error(written_set: Path, tmp_path: Path) -> None:
    def swap(folder: Path, manifest: dict[str, Any]) -> None:
        zero, one = folder / "shard-0.ckpt", folder / "shard-1.ckpt"
        data = zero.read_bytes()
        zero.write_bytes(one.read_bytes())
        one.write_bytes(data)
        facts = manifest["files"]
        facts["shard-0.ckpt"], facts["shard-1.ckpt"] = facts["shard-1.ckpt"], facts["shard-0.ckpt"]

    swapped = _changed(written_set, tmp_path / "swapped", swap, sign=True)
    assert len(read_checkpoint(swapped).snapshots) == 2  # every file matches the manifest
    with pytest.raises(
        StoreError, match=r"the snapshot in shard-0\.ckpt is of shard 1, not shard 0"
    ):
        DistributedColony.from_checkpoint(str(swapped))
