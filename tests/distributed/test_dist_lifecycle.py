"""A distributed colony's lifecycle: released when dropped unclosed or left open at exit,
and a history that keeps every tick a failed or cancelled call completed."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
import time
import weakref

import pytest

from phago import ColonyConfig, Position
from phago.agents.base import Agent
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony, RunnerConfig, TickPhase
from phago.distributed.shard import ShardedColony
from phago.errors import ColonyBusy, DistributedError, InvalidAgent, RpcError
from phago.types import Idle


def _cluster(n: int = 2, **runner: object) -> DistributedColony:
    dc = DistributedColony(
        n,
        config=ColonyConfig(),
        seed=0,
        runner_config=RunnerConfig(**runner),  # type: ignore[arg-type]
    )
    docs = load_sample_corpus()
    dc.ingest_documents(
        [(d.title, d.content, p) for d, p in zip(docs, grid_positions(len(docs)), strict=True)]
    )
    dc.spawn_digesters(2, max_idle=60)
    return dc


# ---------------------------------------------------------------------- release


def test_a_colony_dropped_without_close_is_released_at_once() -> None:
    # a colony that goes out of scope unclosed: its loop is closed and its threads stopped
    # as soon as it is dropped (before, nothing closed the loop, a ResourceWarning and two
    # file descriptors, and the runner's reference back to the colony kept it alive until
    # the cyclic collector ran)
    dc = _cluster(2)
    dc.run(3)
    loop, runner = dc._loop, dc.runner
    gone = weakref.ref(dc)
    del dc
    assert gone() is None  # (no reference cycle: dropped by its reference count)
    gc.collect()
    assert loop.is_closed()
    assert runner._driver._shutdown and runner._pool._shutdown  # type: ignore[attr-defined]


def test_a_colony_dropped_after_running_in_an_event_loop_stops_its_helper_thread() -> None:
    # where the caller runs an event loop, the colony's loop runs in a helper thread of its
    # own; dropped unclosed, that thread is stopped too
    async def inside() -> tuple[object, object]:
        dc = _cluster(2)
        dc.run(2)
        helper, loop = dc._loop_thread, dc._loop
        assert helper is not None
        del dc
        return helper, loop

    helper, loop = asyncio.run(inside())
    gc.collect()
    assert helper._shutdown and loop.is_closed()  # type: ignore[attr-defined]


def test_close_releases_once_and_twice_is_harmless() -> None:
    dc = _cluster(2)
    dc.run(2)
    dc.close()
    assert not dc._finalizer.alive and dc._loop.is_closed()
    dc.close()  # (idempotent)
    assert dc.stats().tick == 2  # a closed local colony's shards can still be read


_UNCLOSED = """
import asyncio
from phago.distributed import DistributedColony

def dropped():
    dc = DistributedColony(2, seed=0)
    dc.ingest_document("a", "cell membrane protein transport")
    dc.run(2)

async def in_a_loop():
    dc = DistributedColony(2, seed=0)
    dc.run(1)

dropped()
asyncio.run(in_a_loop())
left_open = DistributedColony(2, seed=0)  # still open when the interpreter exits
left_open.run(1)
print("ran")
"""


def test_unclosed_colonies_leave_no_resource_warning_dropped_or_at_exit() -> None:
    # under `python -X dev -W error::ResourceWarning` an unclosed loop was reported, for
    # a colony dropped and for one still open at exit
    r = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", _UNCLOSED],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["ran"]
    assert "ResourceWarning" not in r.stderr and "unclosed" not in r.stderr, r.stderr[-3000:]


# ---------------------------------------------------------------------- history


def _run_cancelled_in(
    monkeypatch: pytest.MonkeyPatch, dc: DistributedColony, phase: TickPhase, tick: int
) -> None:
    """Run ``dc`` and cancel the run (what a second Ctrl-C does) from inside ``phase`` of
    ``tick`` on shard 1, once, while the tick is under way; the run raises
    ``CancelledError``."""
    shard = dc.runner.shards[1]
    plain = ShardedColony.tick_phase
    fired: list[int] = []

    def cancelling(self: ShardedColony, p: TickPhase) -> object:
        if self is shard and p is phase and self.current_tick == tick - 1 and not fired:
            fired.append(1)
            dc._loop.call_soon_threadsafe(dc._interrupt, 2)
            time.sleep(0.2)  # (the loop takes the cancel while this tick is under way)
        return plain(self, p)

    monkeypatch.setattr(ShardedColony, "tick_phase", cancelling)
    try:
        with pytest.raises(asyncio.CancelledError):
            dc.run(100_000)
    finally:
        monkeypatch.undo()
    assert fired == [1]


def test_a_cancelled_run_keeps_the_history_of_the_ticks_it_completed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a run cancelled mid-tick (a second Ctrl-C) is rolled back to its last completed tick;
    # the ticks it completed stand, with the figures of a clean run (before, history had
    # none of them: 2 entries at tick 12)
    dc = _cluster(3, checkpoint_every=5)
    clean = _cluster(3, checkpoint_every=5)
    try:
        dc.run(2)
        _run_cancelled_in(monkeypatch, dc, TickPhase.DECAY, 13)
        assert dc.current_tick == 12 and len(dc.runner.recoveries) == 1
        clean.run(12)
        assert dc.history == clean.history and [h[0] for h in dc.history] == list(range(1, 13))
        dc.run(3)
        clean.run(3)
        assert dc.history == clean.history and len(dc.history) == dc.current_tick == 15
    finally:
        dc.close()
        clean.close()


def test_a_cancelled_run_without_checkpoints_keeps_its_completed_ticks() -> None:
    dc = _cluster(2, checkpoint_every=None)
    mp = pytest.MonkeyPatch()
    try:
        _run_cancelled_in(mp, dc, TickPhase.ACT, 6)
        # no rollback point: the cluster is unusable, but the ticks it completed happened
        assert [h[0] for h in dc.history] == list(range(1, 6)) and dc.current_tick == 5
        with pytest.raises(DistributedError, match="interrupted in tick 6"):
            dc.run(1)
        assert len(dc.history) == 5
    finally:
        mp.undo()
        dc.close()


def test_a_run_that_fails_keeps_the_history_of_the_ticks_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a shard raising at tick 9 of a run from tick 0: the run raises RpcError with the
    # cluster rolled back to tick 8, and ticks 1 to 8 are in the history (before: none)
    dc = _cluster(2, checkpoint_every=5)
    shard = dc.runner.shards[0]
    plain = ShardedColony.tick_phase

    def raising(self: ShardedColony, p: TickPhase) -> object:
        if self is shard and p is TickPhase.DECAY and self.current_tick == 8:
            raise RuntimeError("boom")
        return plain(self, p)

    try:
        monkeypatch.setattr(ShardedColony, "tick_phase", raising)
        with pytest.raises(RpcError, match="boom"):
            dc.run(20)
        monkeypatch.undo()
        assert dc.current_tick == 8
        assert [h[0] for h in dc.history] == list(range(1, 9))
        assert dc.runner.take_completed() == []  # (taken once)
        dc.run(2)
        assert [h[0] for h in dc.history] == list(range(1, 11))
    finally:
        dc.close()


class _SlowAgent(Agent):
    """An agent that takes 20 ms a tick: a run long enough to call into from a thread."""

    agent_type = "slow-lifecycle-test"

    def sense(self, view: object) -> Idle:
        time.sleep(0.02)
        return Idle()


def test_a_call_refused_during_a_run_leaves_the_run_stoppable_and_its_history_whole() -> None:
    # another thread's run() or tick() during a run is refused (ColonyBusy) before it
    # changes anything the run keeps: before, it reset the run's flags on its way out, so
    # request_stop() and close() from then on did not stop the run
    dc = DistributedColony(2, seed=0)
    dc.ingest_documents([(d.title, d.content) for d in load_sample_corpus()[:10]])
    dc.spawn(_SlowAgent(Position(0, 0)), shard=0)
    got: list[object] = []
    worker = threading.Thread(target=lambda: got.append(dc.run(2000)), daemon=True)
    worker.start()
    try:
        time.sleep(0.5)
        for call in (lambda: dc.run(1), dc.tick):
            with pytest.raises(ColonyBusy):
                call()
        dc.request_stop()
        worker.join(timeout=30)
        assert not worker.is_alive() and len(got) == 1
        ran = got[0]
        assert isinstance(ran, list) and 0 < len(ran) < 2000
        assert [h[0] for h in dc.history] == list(range(1, dc.current_tick + 1))
        assert dc.current_tick == len(ran)
    finally:
        dc.close()


def test_a_recovery_cut_short_by_an_interrupt_is_finished_by_the_next_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a shard raising at tick 9: the runner rolls back to the checkpoint of tick 5, and a
    # Ctrl-C lands while the second shard is being restored (the first already is). Before,
    # the next run went on with one shard at tick 5 and the other at tick 9; now the next
    # call finishes the rollback and replay first, and the run matches an undisturbed one
    dc = _cluster(2, checkpoint_every=5)
    clean = _cluster(2, checkpoint_every=5)
    shard = dc.runner.shards[0]
    plain = ShardedColony.tick_phase

    def raising(self: ShardedColony, p: TickPhase) -> object:
        if self is shard and p is TickPhase.DECAY and self.current_tick == 8:
            raise RuntimeError("boom")
        return plain(self, p)

    handle = dc.runner.handles[1]
    restore = handle.restore
    cut: list[int] = []

    async def interrupted_restore(snapshot: object) -> None:
        if not cut:
            cut.append(1)
            raise KeyboardInterrupt
        await restore(snapshot)

    try:
        monkeypatch.setattr(ShardedColony, "tick_phase", raising)
        monkeypatch.setattr(handle, "restore", interrupted_restore)
        with pytest.raises(KeyboardInterrupt):
            dc.run(20)
        monkeypatch.undo()
        assert cut == [1] and dc.runner.recovery_unfinished
        dc.run(4)
        assert not dc.runner.recovery_unfinished
        clean.run(12)
        assert dc.current_tick == 12 and dc.history == clean.history
        assert dc.graph.edge_count == clean.graph.edge_count
        mine, theirs = dc.graph.edge_arrays(), clean.graph.edge_arrays()
        assert all((x == y).all() for x, y in zip(mine, theirs, strict=True))
    finally:
        dc.close()
        clean.close()


# ---------------------------------------------------------------------- errors


def test_a_shard_error_that_is_not_a_phago_error_is_an_rpc_error_naming_the_shard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # between runs a shard's defect reaches the caller typed, as in a tick: an RpcError
    # that names the shard and the call, chained to what the shard raised; a Phago error
    # stays itself
    dc = _cluster(2)
    try:
        dc.run(2)
        expected = [d.id for d in dc.documents()]

        def broken(self: ShardedColony) -> object:
            raise ZeroDivisionError("a defect")

        monkeypatch.setattr(ShardedColony, "documents", broken)
        with pytest.raises(
            RpcError, match=r"^shard-0 failed in documents: ZeroDivisionError: a defect$"
        ) as info:
            dc.documents()
        assert isinstance(info.value.__cause__, ZeroDivisionError)
        with pytest.raises(InvalidAgent, match="takes an Agent") as refused:
            dc.spawn("not an agent", shard=1)  # type: ignore[arg-type]
        assert type(refused.value) is InvalidAgent
        monkeypatch.undo()
        assert [d.id for d in dc.documents()] == expected
        dc.run(1)
    finally:
        dc.close()
