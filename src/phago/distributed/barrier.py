"""Tick barrier: wait until every shard has completed a phase of a tick.

REFERENCE.md §7.4 describes the reference barrier; §8 item 21 lists its defects, fixed here:

* **No lost wake-ups.** Waiters sleep on a :class:`threading.Condition` and re-check the
  completion set under its lock, so a completion between the check and the wait cannot be
  missed (the reference's ``notify_waiters`` stores no permit).
* **One deadline.** ``wait_all`` computes its deadline once; wake-ups for other phases or
  ticks do not restart the timer (the reference restarts its 30 s timer on every wake-up).
* **Known shards.** Built from shard ids, the barrier rejects completions from unknown shards
  with :class:`~phago.errors.ShardNotFound` and reports which shards are pending when a phase
  times out. Built from a count, any ids count (the reference's behaviour).
* **Scoped reset.** ``reset_for_tick(t)`` forgets completions of ticks before ``t`` only (the
  reference forgets everything, including early completions of the next tick).
* **Nobody to wait for.** With no shards expected, ``wait_all`` raises
  :class:`~phago.errors.BarrierFailed` at once instead of hanging until the timeout.

Asyncio callers use :meth:`TickBarrier.wait_all_async`, which parks on a future of their own
loop; completions from any thread wake it.

Example:
    >>> from phago.distributed.types import ShardId, TickPhase
    >>> barrier = TickBarrier([ShardId(0), ShardId(1)], timeout_s=1.0)
    >>> barrier.complete(ShardId(0), TickPhase.ACT, 0)
    >>> barrier.pending_shards(TickPhase.ACT, 0)
    [ShardId(1)]
    >>> barrier.complete(ShardId(1), TickPhase.ACT, 0)
    >>> barrier.wait_all(TickPhase.ACT, 0)  # returns at once
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterable

from phago.distributed.types import ShardId, TickPhase, as_shard_id
from phago.errors import BarrierFailed, ConfigError, PhaseTimeout, ShardNotFound

__all__ = ["TickBarrier"]

_Key = tuple[TickPhase, int]


class TickBarrier:
    """Thread-safe set of ``(shard, phase, tick)`` completions with blocking waits.

    Args:
        shards: the expected shard ids, or a number of shards (then any ids count).
        timeout_s: default timeout of :meth:`wait_all`, in seconds.

    Raises:
        ConfigError: for a negative count or a non-positive timeout.

    Example:
        >>> import threading
        >>> from phago.distributed.types import ShardId, TickPhase
        >>> barrier = TickBarrier(2, timeout_s=5.0)
        >>> workers = [
        ...     threading.Thread(target=barrier.complete, args=(ShardId(i), TickPhase.SENSE, 3))
        ...     for i in range(2)
        ... ]
        >>> for w in workers:
        ...     w.start()
        >>> barrier.wait_all(TickPhase.SENSE, 3)
        >>> barrier.completed_shards(TickPhase.SENSE, 3)
        [ShardId(0), ShardId(1)]
    """

    def __init__(self, shards: Iterable[ShardId | int] | int = 0, timeout_s: float = 30.0) -> None:
        if not timeout_s > 0:
            raise ConfigError(f"timeout_s must be > 0, got {timeout_s!r}")
        self._timeout_s = float(timeout_s)
        self._cond = threading.Condition(threading.Lock())
        self._done: dict[_Key, set[ShardId]] = {}
        self._expected: set[ShardId] | None = None
        self._count = 0
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.set_shards(shards)

    # -- configuration ------------------------------------------------------------------------

    @property
    def timeout_s(self) -> float:
        """Default wait timeout in seconds."""
        return self._timeout_s

    @property
    def shard_count(self) -> int:
        """Number of shards a phase waits for."""
        with self._cond:
            return self._count

    @property
    def expected_shards(self) -> list[ShardId] | None:
        """The expected shard ids (sorted), or None when the barrier only counts."""
        with self._cond:
            return None if self._expected is None else sorted(self._expected)

    def set_shards(self, shards: Iterable[ShardId | int] | int) -> None:
        """Replace the expected shards by these ids, or by a plain count.

        Raises:
            ConfigError: for a negative count.
        """
        if isinstance(shards, bool):
            raise ConfigError(f"shards must be ids or a count, got {shards!r}")
        if isinstance(shards, int):
            if shards < 0:
                raise ConfigError(f"shard count must be >= 0, got {shards}")
            expected, count = None, shards
        else:
            expected = {as_shard_id(s) for s in shards}
            count = len(expected)
        with self._cond:
            self._expected, self._count = expected, count
            self._wake()

    def add_shard(self, shard: ShardId | int) -> None:
        """Expect ``shard`` too (no-op if already expected).

        Raises:
            BarrierFailed: if the barrier was built from a count.
        """
        with self._cond:
            expected = self._require_ids()
            expected.add(as_shard_id(shard))
            self._count = len(expected)

    def remove_shard(self, shard: ShardId | int) -> None:
        """Stop expecting ``shard`` (no-op if it was not expected); may complete a phase.

        Raises:
            BarrierFailed: if the barrier was built from a count.
        """
        with self._cond:
            expected = self._require_ids()
            expected.discard(as_shard_id(shard))
            self._count = len(expected)
            self._wake()

    def _require_ids(self) -> set[ShardId]:
        if self._expected is None:
            raise BarrierFailed("this barrier counts shards; use set_shards() to change it")
        return self._expected

    # -- completions --------------------------------------------------------------------------

    def complete(self, shard: ShardId | int, phase: TickPhase, tick: int) -> None:
        """Record that ``shard`` finished ``phase`` of ``tick`` and wake the waiters.

        Completing twice is harmless.

        Raises:
            ShardNotFound: if the barrier has expected ids and ``shard`` is not one of them.
        """
        sid = as_shard_id(shard)
        with self._cond:
            if self._expected is not None and sid not in self._expected:
                raise ShardNotFound(sid)
            self._done.setdefault((phase, tick), set()).add(sid)
            self._wake()

    def complete_many(self, shards: Iterable[ShardId | int], phase: TickPhase, tick: int) -> None:
        """Record that every one of ``shards`` finished ``phase`` of ``tick``; wake waiters once.

        Raises:
            ShardNotFound: if the barrier has expected ids and a shard is not one of them
                (then none of ``shards`` is recorded).
        """
        sids = [as_shard_id(s) for s in shards]
        with self._cond:
            if self._expected is not None:
                for sid in sids:
                    if sid not in self._expected:
                        raise ShardNotFound(sid)
            self._done.setdefault((phase, tick), set()).update(sids)
            self._wake()

    def _wake(self) -> None:
        """Wake every waiter; the caller holds the lock."""
        self._cond.notify_all()
        waiters, self._async_waiters = self._async_waiters, []
        for loop, fut in waiters:
            with contextlib.suppress(RuntimeError):  # a closed loop: its waiter is gone
                loop.call_soon_threadsafe(_resolve, fut)

    def _is_complete(self, key: _Key) -> bool:
        done = self._done.get(key, set())
        if self._expected is None:
            return self._count > 0 and len(done) >= self._count
        return bool(self._expected) and self._expected <= done

    def is_complete(self, phase: TickPhase, tick: int) -> bool:
        """True when every expected shard has completed ``phase`` of ``tick``."""
        with self._cond:
            return self._is_complete((phase, tick))

    def completed_count(self, phase: TickPhase, tick: int) -> int:
        """Number of shards that completed ``phase`` of ``tick``."""
        with self._cond:
            return len(self._done.get((phase, tick), ()))

    def completed_shards(self, phase: TickPhase, tick: int) -> list[ShardId]:
        """The shards that completed ``phase`` of ``tick``, sorted."""
        with self._cond:
            return sorted(self._done.get((phase, tick), ()))

    def pending_shards(
        self,
        phase: TickPhase,
        tick: int,
        all_shards: Iterable[ShardId | int] | None = None,
    ) -> list[ShardId]:
        """The shards that have not completed ``phase`` of ``tick``, sorted.

        Args:
            phase: the phase.
            tick: the tick.
            all_shards: the shards to check; default the expected ids (a counting barrier
                without ``all_shards`` knows no ids and returns ``[]``).
        """
        with self._cond:
            done = self._done.get((phase, tick), set())
            if all_shards is not None:
                candidates = {as_shard_id(s) for s in all_shards}
            else:
                candidates = set() if self._expected is None else set(self._expected)
        return sorted(candidates - done)

    # -- waiting ------------------------------------------------------------------------------

    def _check_waitable(self, phase: TickPhase, tick: int) -> None:
        """Raise BarrierFailed if nobody is expected; the caller holds the lock."""
        if self._count == 0:
            raise BarrierFailed(f"no shards to wait for in phase {phase} of tick {tick}")

    def _timeout(self, phase: TickPhase, tick: int, timeout_s: float) -> PhaseTimeout:
        pending = self.pending_shards(phase, tick)
        with self._cond:
            done, count = len(self._done.get((phase, tick), ())), self._count
        if pending:
            who = "pending " + ", ".join(str(s) for s in pending)
        else:
            who = f"{done} of {count} shards completed"
        return PhaseTimeout(phase, f"tick {tick} after {timeout_s:g} s; {who}")

    def wait_all(self, phase: TickPhase, tick: int, timeout_s: float | None = None) -> None:
        """Block until every expected shard completed ``phase`` of ``tick``.

        Args:
            phase: the phase.
            tick: the tick.
            timeout_s: overall deadline in seconds (default: the barrier's timeout). It is
                computed once; wake-ups do not extend it.

        Raises:
            PhaseTimeout: if the deadline passes first; the message names the pending shards.
            BarrierFailed: if the barrier expects no shards.
        """
        limit = self._timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + limit
        key = (phase, tick)
        with self._cond:
            while not self._is_complete(key):
                self._check_waitable(phase, tick)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            else:
                return
        raise self._timeout(phase, tick, limit)

    async def wait_all_async(
        self, phase: TickPhase, tick: int, timeout_s: float | None = None
    ) -> None:
        """Asyncio version of :meth:`wait_all`; does not block the event loop.

        Raises:
            PhaseTimeout: if the deadline passes first.
            BarrierFailed: if the barrier expects no shards.
        """
        limit = self._timeout_s if timeout_s is None else timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        key = (phase, tick)
        while True:
            with self._cond:
                if self._is_complete(key):
                    return
                self._check_waitable(phase, tick)
                fut: asyncio.Future[None] = loop.create_future()
                self._async_waiters.append((loop, fut))
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                await asyncio.wait_for(fut, remaining)
            except TimeoutError:
                self._forget(fut)
                with self._cond:
                    if self._is_complete(key):
                        return
                raise self._timeout(phase, tick, limit) from None
            except BaseException:
                self._forget(fut)
                raise

    def _forget(self, fut: asyncio.Future[None]) -> None:
        with self._cond:
            self._async_waiters = [(lp, f) for lp, f in self._async_waiters if f is not fut]

    # -- housekeeping -------------------------------------------------------------------------

    def reset_for_tick(self, tick: int) -> None:
        """Forget completions of ticks before ``tick``; later ticks are kept."""
        with self._cond:
            for key in [k for k in self._done if k[1] < tick]:
                del self._done[key]

    def clear(self) -> None:
        """Forget every completion (e.g. when the cluster is rolled back to a checkpoint)."""
        with self._cond:
            self._done.clear()

    def __repr__(self) -> str:
        expected = self.expected_shards
        shards = self.shard_count if expected is None else [s.value for s in expected]
        return f"TickBarrier(shards={shards}, timeout_s={self._timeout_s:g})"


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
