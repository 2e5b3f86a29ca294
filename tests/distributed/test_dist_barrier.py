"""Tests of phago.distributed.barrier (REFERENCE.md §7.4, fixes of §8 item 21)."""

from __future__ import annotations

import asyncio
import doctest
import threading
import time

import pytest

import phago.distributed.barrier as barrier_mod
from phago.distributed.barrier import TickBarrier
from phago.distributed.types import ShardId, TickPhase
from phago.errors import BarrierFailed, ConfigError, PhaseTimeout, ShardNotFound

S0, S1, S2 = ShardId(0), ShardId(1), ShardId(2)
ACT, SENSE = TickPhase.ACT, TickPhase.SENSE


def later(delay: float, fn: object, *args: object) -> threading.Thread:
    """Run ``fn(*args)`` on a thread after ``delay`` seconds."""

    def run() -> None:
        time.sleep(delay)
        fn(*args)  # type: ignore[operator]

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_doctests() -> None:
    result = doctest.testmod(barrier_mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


class TestCompletion:
    def test_counts_and_sets(self) -> None:
        b = TickBarrier([S0, S1, S2])
        assert b.shard_count == 3
        assert b.expected_shards == [S0, S1, S2]
        b.complete(S2, ACT, 0)
        b.complete(S0, ACT, 0)
        b.complete(S0, ACT, 0)  # idempotent
        assert b.completed_count(ACT, 0) == 2
        assert b.completed_shards(ACT, 0) == [S0, S2]
        assert b.pending_shards(ACT, 0) == [S1]
        assert not b.is_complete(ACT, 0)
        b.complete(S1, ACT, 0)
        assert b.is_complete(ACT, 0)
        assert not b.is_complete(SENSE, 0)
        assert not b.is_complete(ACT, 1)
        assert b.completed_count(ACT, 1) == 0

    def test_complete_many_records_all_or_none(self) -> None:
        b = TickBarrier([S0, S1, S2])
        b.complete_many([S0, 2], ACT, 0)
        assert b.completed_shards(ACT, 0) == [S0, S2]
        with pytest.raises(ShardNotFound):
            b.complete_many([S1, ShardId(9)], ACT, 0)
        assert b.pending_shards(ACT, 0) == [S1]  # S1 was not recorded either
        b.complete_many([S1], ACT, 0)
        assert b.is_complete(ACT, 0)
        b.wait_all(ACT, 0, 0.01)  # returns at once

    def test_phases_and_ticks_are_independent(self) -> None:
        b = TickBarrier([S0])
        b.complete(S0, SENSE, 3)
        assert b.is_complete(SENSE, 3)
        assert not b.is_complete(ACT, 3)
        assert not b.is_complete(SENSE, 4)

    def test_unknown_shard_raises(self) -> None:
        """Corrected: the reference counts completions from any shard id."""
        b = TickBarrier([S0, S1])
        with pytest.raises(ShardNotFound):
            b.complete(ShardId(7), ACT, 0)
        assert b.completed_count(ACT, 0) == 0

    def test_counting_barrier_accepts_any_ids(self) -> None:
        """Reference expectation: a barrier built from a count takes any shard ids."""
        b = TickBarrier(2)
        assert b.expected_shards is None
        b.complete(ShardId(10), ACT, 0)
        b.complete(ShardId(10), ACT, 0)
        assert not b.is_complete(ACT, 0)
        b.complete(ShardId(20), ACT, 0)
        assert b.is_complete(ACT, 0)
        assert b.pending_shards(ACT, 0) == []
        assert b.pending_shards(ACT, 0, [ShardId(10), 20, 30]) == [ShardId(30)]

    def test_ints_accepted_as_shard_ids(self) -> None:
        b = TickBarrier([0, 1])
        b.complete(0, ACT, 0)
        b.complete(1, ACT, 0)
        assert b.is_complete(ACT, 0)

    def test_membership_changes(self) -> None:
        b = TickBarrier([S0, S1])
        b.complete(S0, ACT, 0)
        b.remove_shard(S1)
        assert b.is_complete(ACT, 0)
        b.add_shard(S2)
        assert b.pending_shards(ACT, 0) == [S2]
        assert b.shard_count == 2
        b.remove_shard(ShardId(99))  # no-op
        b.set_shards([S1])
        assert b.expected_shards == [S1]
        b.set_shards(4)
        assert b.shard_count == 4
        with pytest.raises(BarrierFailed):
            b.add_shard(S0)
        with pytest.raises(BarrierFailed):
            b.remove_shard(S0)

    @pytest.mark.parametrize("bad", [-1, True])
    def test_invalid_count(self, bad: int) -> None:
        with pytest.raises(ConfigError):
            TickBarrier(bad)

    def test_invalid_timeout(self) -> None:
        with pytest.raises(ConfigError):
            TickBarrier(1, timeout_s=0)

    def test_reset_for_tick_keeps_later_ticks(self) -> None:
        """Corrected: the reference's reset clears every completion, including later ticks."""
        b = TickBarrier([S0])
        for t in (1, 2, 3):
            b.complete(S0, ACT, t)
        b.reset_for_tick(2)
        assert b.completed_count(ACT, 1) == 0
        assert b.is_complete(ACT, 2)
        assert b.is_complete(ACT, 3)
        b.clear()
        assert b.completed_count(ACT, 3) == 0

    def test_repr(self) -> None:
        assert repr(TickBarrier([S1, S0], timeout_s=2)) == "TickBarrier(shards=[0, 1], timeout_s=2)"
        assert repr(TickBarrier(3)) == "TickBarrier(shards=3, timeout_s=30)"


class TestWaitAll:
    def test_returns_at_once_when_complete(self) -> None:
        b = TickBarrier([S0], timeout_s=0.05)
        b.complete(S0, ACT, 0)
        b.wait_all(ACT, 0)

    def test_timeout_raises_phase_timeout_in_time(self) -> None:
        b = TickBarrier([S0, S1, S2])
        b.complete(S1, ACT, 4)
        start = time.monotonic()
        with pytest.raises(PhaseTimeout) as info:
            b.wait_all(ACT, 4, timeout_s=0.3)
        elapsed = time.monotonic() - start
        assert 0.3 <= elapsed < 0.3 + 0.5
        assert info.value.phase is ACT
        message = str(info.value)
        assert "Act" in message
        assert "shard-0" in message
        assert "shard-2" in message
        assert "shard-1" not in message

    def test_default_timeout_is_the_barriers(self) -> None:
        b = TickBarrier([S0], timeout_s=0.2)
        start = time.monotonic()
        with pytest.raises(PhaseTimeout):
            b.wait_all(ACT, 0)
        assert time.monotonic() - start < 0.2 + 0.5

    def test_counting_barrier_timeout_message(self) -> None:
        b = TickBarrier(2)
        b.complete(S0, ACT, 0)
        with pytest.raises(PhaseTimeout, match="1 of 2 shards completed"):
            b.wait_all(ACT, 0, timeout_s=0.05)

    def test_completion_from_another_thread_wakes_the_waiter(self) -> None:
        b = TickBarrier([S0, S1], timeout_s=10.0)
        b.complete(S0, ACT, 0)
        later(0.1, b.complete, S1, ACT, 0)
        start = time.monotonic()
        b.wait_all(ACT, 0)
        assert time.monotonic() - start < 2.0

    def test_many_threads_complete(self) -> None:
        shards = [ShardId(i) for i in range(16)]
        b = TickBarrier(shards, timeout_s=10.0)
        threads = [later(0.01 * (i % 4), b.complete, s, SENSE, 2) for i, s in enumerate(shards)]
        b.wait_all(SENSE, 2)
        for t in threads:
            t.join()
        assert b.completed_shards(SENSE, 2) == shards

    def test_one_deadline_despite_wakeups(self) -> None:
        """Corrected: the reference restarts its timer on every wake-up."""
        b = TickBarrier([S0, S1])
        stop = threading.Event()

        def chatter() -> None:
            t = 100
            while not stop.is_set():
                b.complete(S0, ACT, t)  # other ticks: wakes the waiter, never completes it
                t += 1
                time.sleep(0.02)

        thread = threading.Thread(target=chatter, daemon=True)
        thread.start()
        start = time.monotonic()
        try:
            with pytest.raises(PhaseTimeout):
                b.wait_all(ACT, 0, timeout_s=0.3)
        finally:
            stop.set()
            thread.join()
        assert time.monotonic() - start < 0.3 + 0.5

    def test_removing_the_last_pending_shard_releases_the_waiter(self) -> None:
        b = TickBarrier([S0, S1], timeout_s=10.0)
        b.complete(S0, ACT, 0)
        later(0.05, b.remove_shard, S1)
        start = time.monotonic()
        b.wait_all(ACT, 0)
        assert time.monotonic() - start < 2.0

    @pytest.mark.parametrize("shards", [[], 0])
    def test_no_expected_shards_fails_at_once(self, shards: list[ShardId] | int) -> None:
        """Corrected: with no shards the reference can only time out (after 30 s)."""
        b = TickBarrier(shards, timeout_s=10.0)
        start = time.monotonic()
        with pytest.raises(BarrierFailed):
            b.wait_all(ACT, 0)
        assert time.monotonic() - start < 1.0
        assert not b.is_complete(ACT, 0)

    def test_waiters_for_different_phases(self) -> None:
        b = TickBarrier([S0], timeout_s=5.0)
        done: list[TickPhase] = []

        def wait(phase: TickPhase) -> None:
            b.wait_all(phase, 0)
            done.append(phase)

        threads = [threading.Thread(target=wait, args=(p,)) for p in (SENSE, ACT)]
        for t in threads:
            t.start()
        b.complete(S0, SENSE, 0)
        threads[0].join(2.0)
        assert done == [SENSE]
        b.complete(S0, ACT, 0)
        threads[1].join(2.0)
        assert done == [SENSE, ACT]


class TestWaitAllAsync:
    def test_completion_from_a_thread_wakes_the_coroutine(self) -> None:
        b = TickBarrier([S0, S1], timeout_s=10.0)

        async def main() -> float:
            start = time.monotonic()
            later(0.05, b.complete, S0, ACT, 1)
            later(0.1, b.complete, S1, ACT, 1)
            await b.wait_all_async(ACT, 1)
            return time.monotonic() - start

        assert asyncio.run(main()) < 2.0
        assert b._async_waiters == []

    def test_completion_on_the_same_loop(self) -> None:
        b = TickBarrier([S0], timeout_s=10.0)

        async def main() -> None:
            asyncio.get_running_loop().call_later(0.05, b.complete, S0, ACT, 0)
            await b.wait_all_async(ACT, 0)

        asyncio.run(main())

    def test_already_complete(self) -> None:
        b = TickBarrier([S0])
        b.complete(S0, ACT, 0)
        asyncio.run(b.wait_all_async(ACT, 0, timeout_s=0.01))

    def test_timeout(self) -> None:
        b = TickBarrier([S0, S1])

        async def main() -> None:
            await b.wait_all_async(ACT, 0, timeout_s=0.3)

        start = time.monotonic()
        with pytest.raises(PhaseTimeout, match="shard-0"):
            asyncio.run(main())
        assert time.monotonic() - start < 0.3 + 0.5
        assert b._async_waiters == []

    def test_no_shards(self) -> None:
        with pytest.raises(BarrierFailed):
            asyncio.run(TickBarrier([]).wait_all_async(ACT, 0))

    def test_loop_stays_responsive_and_cancellation_cleans_up(self) -> None:
        b = TickBarrier([S0], timeout_s=10.0)

        async def main() -> int:
            waiter = asyncio.create_task(b.wait_all_async(ACT, 0))
            ticks = 0
            for _ in range(5):
                await asyncio.sleep(0.01)
                ticks += 1
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            return ticks

        assert asyncio.run(main()) == 5
        assert b._async_waiters == []
        b.complete(S0, ACT, 0)  # no waiter left to wake; must not fail

    def test_closed_loop_waiter_is_ignored(self) -> None:
        b = TickBarrier([S0, S1], timeout_s=10.0)
        loop = asyncio.new_event_loop()
        fut = loop.create_future()
        b._async_waiters.append((loop, fut))
        loop.close()
        b.complete(S0, ACT, 0)  # must not raise
        assert b._async_waiters == []
