"""Checkpoints on disk (one whole set per tick) and checkpoints that count only once whole."""

from __future__ import annotations

import asyncio
import errno
import json
from pathlib import Path

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

    def fails_once(phase: TickPhase, *rest: object) -> object:
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
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="cannot be read"):
        read_checkpoint(tmp_path)
