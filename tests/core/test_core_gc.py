"""phago._gc: pausing the cyclic collector for a tick, or across a shard's four phases."""

from __future__ import annotations

import gc
import pickle
from collections.abc import Iterator

import pytest

from phago import ColonyConfig
from phago._gc import GcPause, cyclic_gc_paused
from phago.distributed import ConsistentHashRing, ShardedColony, ShardId, TickPhase
from phago.errors import PhaseOrderError


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_cyclic_gc_paused_restores_the_collector() -> None:
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with cyclic_gc_paused():  # left as it was found
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_gc_pause_only_ends_what_it_began() -> None:
    pause = GcPause()
    pause.end()  # nothing begun: nothing changes
    assert gc.isenabled()
    pause.begin()
    assert not gc.isenabled()
    pause.begin()  # a second begin ends the open pause first, then pauses again
    assert not gc.isenabled()
    pause.end()
    assert gc.isenabled()
    gc.disable()
    other = GcPause()
    other.begin()  # already off: this pause did not disable it, so it will not enable it
    other.end()
    assert not gc.isenabled()


def test_a_shard_pauses_the_collector_from_sense_to_the_end_of_advance() -> None:
    shard = ShardedColony(ShardId(0), ColonyConfig(), ConsistentHashRing(1))
    seen = []
    for phase in TickPhase:
        shard.run_phase(phase)
        seen.append(gc.isenabled())
    assert seen == [False, False, False, True]
    again = pickle.loads(pickle.dumps(shard))  # the pause is the process's, not state
    assert "_gc_pause" not in vars(again)


def test_a_shard_restored_in_the_middle_of_a_tick_leaves_the_collector_on() -> None:
    # a rollback restores every shard, those a failed tick left between Sense and Advance
    # too (on Ray, in the same actor process): the replaced shard's pause must not stay open
    ring = ConsistentHashRing(1)
    shard = ShardedColony(ShardId(0), ColonyConfig(), ring)
    snapshot = shard.snapshot()
    shard.run_phase(TickPhase.SENSE)
    shard.run_phase(TickPhase.ACT)
    assert not gc.isenabled()
    restored = ShardedColony.from_snapshot(snapshot, ring)
    assert gc.isenabled()
    for phase in TickPhase:
        restored.run_phase(phase)
    assert gc.isenabled()


def test_a_new_sense_ends_a_pause_a_dropped_shard_left_open() -> None:
    ring = ConsistentHashRing(1)
    dropped = ShardedColony(ShardId(0), ColonyConfig(), ring)
    dropped.run_phase(TickPhase.SENSE)  # then given up, never to reach Advance
    del dropped
    other = ShardedColony(ShardId(0), ColonyConfig(), ring)
    for phase in TickPhase:
        other.run_phase(phase)
    assert gc.isenabled()


def test_a_phase_that_raises_ends_the_shards_pause() -> None:
    shard = ShardedColony(ShardId(0), ColonyConfig(), ConsistentHashRing(1))
    shard.run_phase(TickPhase.SENSE)
    assert not gc.isenabled()
    with pytest.raises(PhaseOrderError):  # Decay must follow Act
        shard.run_phase(TickPhase.DECAY)
    assert gc.isenabled()
