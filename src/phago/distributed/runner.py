"""DistributedRunner: barrier-synchronised distributed ticks over shards.

One distributed tick runs each phase exactly once on every shard (DESIGN.md §2.3):

1. **Sense** on every shard (ghost answers from the previous tick are stored first).
2. **Act** on every shard; each result carries the cross-shard edges produced (or only their
   number: ``RunnerConfig.cross_shard_edge_lists``) and the update batches, one per (source,
   destination, tick).
3. **Decay** on every shard, after the runner delivered each shard its inbound batches
   (so every co-activation lands on its owner exactly once before decay); each result carries
   the ghost nodes the shard now needs.
4. **Advance** on every shard; owners answer ghost requests in one batch per
   (requesting, owning) pair; then the coordinator advances the global tick, and every
   shard's local tick must equal it (DESIGN.md I5). When any shard runs sentinels or
   synthesizers, every shard also reports its part of the global concept and edge-weight
   distribution; the runner merges them (exactly) and hands the result to those agents at the
   next Sense, so they judge against the whole cluster while reading structure locally.

Each phase is one fan-out: every shard's call runs concurrently, and completions are reported
to the coordinator's :class:`~phago.distributed.TickBarrier`, which the runner waits on with
the phase timeout. With remote shards (Ray) each call is an asyncio task. With local shards the
ticks run in a *driver* thread, as many as come before the next checkpoint in one job, so the
event loop is woken once per job rather than once per tick, shard and phase. The driver runs
the first shard's phase itself and the others' in a pool of worker threads (at most
``max_parallelism`` phases at once, counting the driver's), takes over those the pool has not
started when it is free, and waits for the rest with the phase timeout; a watchdog on the
event loop covers a phase that hangs in the driver itself. Threads share the interpreter lock,
so a phase measured to gain nothing from them (pure Python, or shorter than a hand-off) runs
serially in the driver instead (``RunnerConfig.adaptive_parallelism``). A shard
that misses the deadline makes :meth:`DistributedRunner.tick` raise
:class:`~phago.errors.PhaseTimeout` promptly; a shard that raises makes it raise
:class:`~phago.errors.RpcError`. Either way the tick is rolled back to the last checkpoint (an
in-memory snapshot taken at tick boundaries every ``checkpoint_every`` ticks, 50 by default)
and the ticks since are replayed, so a failed tick is never half-applied (DESIGN.md I6).
Replay is exact because every shard is deterministic and logs the documents and agents added
since the checkpoint.

Example:
    >>> import asyncio
    >>> from phago import ColonyConfig
    >>> from phago.distributed import ConsistentHashRing, Coordinator, ShardId
    >>> from phago.distributed.shard import ShardedColony
    >>> coordinator = Coordinator(3)
    >>> ring = ConsistentHashRing(3)
    >>> shards = [ShardedColony(ShardId(i), ColonyConfig(), ring) for i in range(3)]
    >>> runner = DistributedRunner(coordinator, shards, RunnerConfig())
    >>> asyncio.run(runner.tick()).tick
    1
    >>> len(asyncio.run(runner.run(10)))
    10
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from phago._gc import GcPause
from phago.config import whole_number
from phago.distributed.checkpoint_files import CheckpointSet, read_checkpoint, write_checkpoint
from phago.distributed.coordinator import Coordinator
from phago.distributed.messages import CrossShardEdgeArray, HeldMessages
from phago.distributed.shard import ShardedColony, ShardPhaseResult
from phago.distributed.types import PhaseResult, ShardId, ShardInfo, TickPhase
from phago.errors import (
    BarrierFailed,
    ConfigError,
    DistributedError,
    PhaseTimeout,
    RpcError,
    ShardLost,
    StoreError,
)

__all__ = [
    "DEFAULT_CHECKPOINT_COST_SHARE",
    "DistributedRunner",
    "DistributedTickResult",
    "LocalShardHandle",
    "RecoveryInfo",
    "RunnerConfig",
    "ShardHandle",
    "UntilIdle",
    "all_idle",
]

log = logging.getLogger("phago.distributed")

# The share of a run the local backend's default checkpoints may take (see
# RunnerConfig.checkpoint_cost_share).
DEFAULT_CHECKPOINT_COST_SHARE = 0.05

PHASES = (TickPhase.SENSE, TickPhase.ACT, TickPhase.DECAY, TickPhase.ADVANCE)


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    """How the runner drives shards.

    Attributes:
        phase_timeout_ms: a phase must complete on every shard within this.
        resolve_ghosts: fetch owners' data for ghost nodes after each tick.
        max_parallelism: shards whose phase runs at once (local backend: the driver thread
            and up to ``max_parallelism - 1`` pool threads).
        checkpoint_every: take an in-memory rollback point every this many ticks (None: never;
            then a failed tick leaves the cluster unusable until restored). A failure replays
            up to ``checkpoint_every - 1`` ticks. Each checkpoint pickles every shard whole,
            documents included, and keeps the bytes: about 3.5 ms per shard holding 10
            documents and 1,500 concepts (under 0.1 ms per tick and shard at 50), but 0.9 s
            for two local shards of W3's 100,000 documents, where checkpoints every 50 ticks
            made the run 32% longer (40.5 against 30.7 s) and its peak memory 1.9 times as
            large (1,389 against 747 MiB; ``benchmarks/checkpoint_cost.py``): large colonies
            should checkpoint far apart, or not at all (see ``checkpoint_cost_share``). A
            checkpoint counts only once every shard's snapshot is taken; a shard lost while
            they are taken is recovered from the checkpoint before (as a failed tick's is),
            and the checkpoint is taken again.
        checkpoint_cost_share: None: a checkpoint exactly every ``checkpoint_every`` ticks.
            A share ``s`` (0 < s <= 1): checkpoints at least ``checkpoint_every`` ticks apart,
            and further apart while the last one took more than ``s`` of the time the ticks
            since it have taken, so that checkpoints cost at most about that share of a run
            (W3 100k on two local shards: two checkpoints instead of eleven).
            :class:`~phago.distributed.DistributedColony` on the local backend uses
            :data:`DEFAULT_CHECKPOINT_COST_SHARE` unless given a ``runner_config`` or a
            ``checkpoint_every``.
        checkpoint_dir: also write each checkpoint to this directory, every shard's
            snapshot and the messages held between ticks as one set that replaces the one
            before only once it is whole on disk
            (:mod:`~phago.distributed.checkpoint_files`;
            :meth:`~phago.distributed.DistributedColony.from_checkpoint` loads it). The
            runner then keeps no copy of the snapshots in memory: a rollback reads the set
            back. A write that fails (a full disk) raises :class:`~phago.errors.StoreError`
            from the run, with the cluster intact, the new checkpoint held in memory, and
            the set on disk before left as it was.
        adaptive_parallelism: local backend: after measuring a phase, run it serially in the
            driver thread when the shards' threads would only take turns on the interpreter
            lock (pure-Python phases, or phases shorter than a thread hand-off), and fan it
            out again when the shards wait. False: always fan out.
        cross_shard_edge_lists: each Act result (and the tick result) lists the cross-shard
            edges produced, one entry per cross-shard co-activation. False: only their number
            (``cross_shard_edge_count``) comes back. The lists are the shards' largest
            results: on W3 with 30,000 documents and 2 shards about 130 KiB per shard and
            tick, which a Ray actor stores in its object store (past 100 KiB) and the driver
            fetches and keeps with the tick's result; large runs that do not read them should
            turn them off.
    """

    phase_timeout_ms: int = 30_000
    resolve_ghosts: bool = True
    max_parallelism: int = 8
    checkpoint_every: int | None = 50
    adaptive_parallelism: bool = True
    cross_shard_edge_lists: bool = True
    checkpoint_cost_share: float | None = None
    checkpoint_dir: str | None = None

    def __post_init__(self) -> None:
        if self.phase_timeout_ms <= 0:
            raise ConfigError("phase_timeout_ms must be > 0")
        if self.max_parallelism < 1:
            raise ConfigError("max_parallelism must be >= 1")
        if self.checkpoint_every is not None:  # (a whole number: 2.0 is 2, 1.5 and "2" are not)
            every = whole_number(self.checkpoint_every, "checkpoint_every", 1)
            object.__setattr__(self, "checkpoint_every", every)
        share = self.checkpoint_cost_share
        if share is not None and not 0.0 < share <= 1.0:
            raise ConfigError("checkpoint_cost_share must be None or in (0, 1]")


@dataclass(slots=True)
class RecoveryInfo:
    """What a failed tick rolled back: the failure, and the tick the cluster is at now."""

    failed_tick: int
    error: str
    restored_tick: int
    replayed_ticks: int


@dataclass(slots=True, repr=False)
class DistributedTickResult:
    """The outcome of one distributed tick.

    Its phase results carry counts and timings: the messages they brought out of their shards
    (updates, ghost requests and answers, degree reports and cap orders, the distribution) are
    delivered to the other shards and cleared, so a long run's results do not hold its
    traffic (at W3 with 30,000 documents on 2 shards that was 137 MiB of a run's peak).
    Its ``repr`` is a summary (counts, not the phase results' arrays): asyncio formats the
    result of the main task when :func:`asyncio.run` returns, so a full repr of a long run's
    results would cost more than the ticks.
    """

    tick: int
    phase_results: list[PhaseResult] = field(default_factory=list)
    # the cross-shard edges Act produced (empty unless RunnerConfig.cross_shard_edge_lists)
    cross_shard_edges: CrossShardEdgeArray = field(default_factory=CrossShardEdgeArray.empty)
    barrier_ms: float = 0.0  # per tick: phase wall time beyond the slowest shard, summed
    wall_ms: float = 0.0
    recovered: RecoveryInfo | None = None
    cross_shard_edge_count: int = -1  # how many Act produced (-1: len(cross_shard_edges))

    def __post_init__(self) -> None:
        if self.cross_shard_edge_count < 0:
            self.cross_shard_edge_count = len(self.cross_shard_edges)

    def _last_by_shard(self) -> dict[ShardId, PhaseResult]:
        last: dict[ShardId, PhaseResult] = {}
        for r in self.phase_results:
            last[r.shard_id] = r
        return last

    def total_nodes(self) -> int:
        """Sum over shards of the node count in each shard's last phase result."""
        return sum(r.node_count for r in self._last_by_shard().values())

    def total_edges(self) -> int:
        """Sum over shards of the edge count in each shard's last phase result."""
        return sum(r.edge_count for r in self._last_by_shard().values())

    def has_cross_shard_activity(self) -> bool:
        """True if the Act phase produced any cross-shard edge."""
        return self.cross_shard_edge_count > 0

    def documents_digested(self) -> int:
        """Documents digested over all shards at the end of the tick, as the shards' Advance
        reports say (0 where a result carries none), without asking the shards.

        Example:
            >>> from phago.distributed.shard import ShardPhaseResult
            >>> adv = [ShardPhaseResult(ShardId(i), TickPhase.ADVANCE, 3, documents_total=9,
            ...        documents_digested=n) for i, n in enumerate((4, 5))]
            >>> DistributedTickResult(3, adv).documents_digested()
            9
            >>> DistributedTickResult(3, adv).documents_total()
            18
        """
        return self._advance_sum("documents_digested")

    def documents_total(self) -> int:
        """Documents held over all shards at the end of the tick (as
        :meth:`documents_digested`)."""
        return self._advance_sum("documents_total")

    def agents_alive(self) -> int:
        """Agents alive over all shards at the end of the tick (as
        :meth:`documents_digested`)."""
        return self._advance_sum("agents_alive")

    def _advance_sum(self, name: str) -> int:
        return sum(
            int(getattr(r, name, 0)) for r in self.phase_results if r.phase is TickPhase.ADVANCE
        )

    def __repr__(self) -> str:
        return (
            f"DistributedTickResult(tick={self.tick}, phase_results={len(self.phase_results)}, "
            f"cross_shard_edges={self.cross_shard_edge_count}, barrier_ms={self.barrier_ms:.3f}, "
            f"wall_ms={self.wall_ms:.3f}, recovered={self.recovered!r})"
        )


class ShardHandle(Protocol):
    """How the runner reaches one shard (in-process object or remote actor)."""

    shard_id: ShardId

    async def call(self, method: str, *args: Any) -> Any:
        """Call ``method`` on the shard and return its result."""
        ...

    async def checkpoint(self) -> Any:
        """A rollback point of the shard's whole state (the shard's log of what was added
        since is left as it is: see :meth:`checkpoint_taken`)."""
        ...

    def checkpoint_taken(self) -> None:
        """Every shard's checkpoint was taken: log what is added from here on, for a
        rollback to the one just taken to replay."""
        ...

    async def restore(self, snapshot: Any) -> None:
        """Replace the shard's state by ``snapshot`` (a fresh shard where possible)."""
        ...

    @property
    def target(self) -> Any:
        """The underlying shard object or actor handle."""
        ...


class FanOutGroup(Protocol):
    """A backend's own phase fan-out over all its shards (a handle class offers one through a
    static ``fan_out_group(handles)``; the Ray backend's runs a compiled graph)."""

    async def fan_out(
        self, phase: TickPhase, payloads: list[Any], resolve_ghosts: bool, timeout_s: float
    ) -> list[tuple[bool, Any]] | None:
        """``(finished, result or exception)`` per shard, or None to use per-shard calls."""
        ...

    def close(self) -> None:
        """Release what the group holds."""
        ...


class LocalShardHandle:
    """An in-process shard whose calls run in a worker thread of a shared pool."""

    def __init__(self, shard: ShardedColony, pool: ThreadPoolExecutor) -> None:
        self.shard = shard
        self.shard_id = shard.shard_id
        self._pool = pool

    @property
    def target(self) -> ShardedColony:
        """The shard object."""
        return self.shard

    def move_to(self, pool: ThreadPoolExecutor) -> None:
        """Run later calls in ``pool`` (the runner replaces a pool whose worker hangs)."""
        self._pool = pool

    def submit(self, method: str, *args: Any) -> Future[Any]:
        """Start ``shard.method(*args)`` in a worker thread (the shard object of this moment).

        The runner's phase fan-outs use this directly: the returned future completes in the
        worker thread, without a round trip through the event loop per shard.
        """
        return self._pool.submit(getattr(self.shard, method), *args)

    def submit_phase(
        self, phase: TickPhase, payload: Any, resolve_ghosts: bool
    ) -> Future[tuple[Any, float]]:
        """Start the shard's ``run_phase`` in a worker thread; the future's value is the phase
        result and the CPU seconds the worker thread spent on it."""
        return self._pool.submit(_timed_phase, self.shard, phase, payload, resolve_ghosts)

    async def call(self, method: str, *args: Any) -> Any:
        """Run ``shard.method(*args)`` in a worker thread."""
        return await asyncio.wrap_future(self.submit(method, *args))

    async def checkpoint(self) -> Any:
        """The shard pickled (the shared ring and the op log are left out)."""
        return self.shard.snapshot()

    def checkpoint_taken(self) -> None:
        """Restart the shard's op log (every shard's checkpoint was taken)."""
        self.shard.trim_oplog()

    async def restore(self, snapshot: Any) -> None:
        """Swap in a fresh shard built from ``snapshot``; a stuck worker keeps the old object.

        Operations logged since the checkpoint are re-applied as the replay reaches them,
        and logged again, with what is added after, for a rollback to the same checkpoint.
        """
        self.adopt(ShardedColony.from_snapshot(snapshot, self.shard.ring))

    def adopt(self, shard: ShardedColony) -> None:
        """Swap in ``shard`` itself, as :meth:`restore` swaps in one built from a snapshot:
        for a shard object built in this process for this handle that nothing else holds
        (a loaded store's: a snapshot's pickling there and back took 0.3 s for two shards
        of 25,000 notes). Called between runs."""
        ops = self.shard.oplog()
        shard.ring = self.shard.ring
        self.shard = shard
        self.shard.trim_oplog()
        self.shard.set_replay(ops)


@dataclass(slots=True)
class _Checkpoint:
    tick: int
    snapshots: list[Any] | None  # None: on disk only (the set in ``on_disk``)
    held: HeldMessages
    distribution: Any = None
    want_distribution: bool = False
    on_disk: str | None = None  # the checkpoint directory holding this tick's set

    def load_snapshots(self) -> list[Any]:
        """The shards' snapshots, read back from disk when they are not held.

        Raises:
            StoreError: the set on disk is gone, damaged, or of another tick.
        """
        if self.snapshots is not None:
            return self.snapshots
        assert self.on_disk is not None
        got = read_checkpoint(self.on_disk)
        if got.tick != self.tick:
            raise StoreError(
                f"the checkpoint in {self.on_disk} is of tick {got.tick}, not {self.tick}"
            )
        return got.snapshots


def _retrieve(done: asyncio.Future[Any]) -> None:
    """Mark ``done``'s exception, if any, as retrieved."""
    if not done.cancelled():
        done.exception()


def _lost_for_good(exc: ShardLost, tick: int) -> str:
    """Why the cluster refuses further ticks after ``exc`` with no checkpoint."""
    return (
        f"{exc.shard} was lost at tick {tick} with no checkpoint to recover it from "
        f"({str(exc).rstrip('.')})"
    )


class DistributedRunner:
    """Drives barrier-synchronised distributed ticks (see the module docstring).

    Args:
        coordinator: holds the global tick and the barrier.
        shards: :class:`ShardedColony` objects (run in threads) or :class:`ShardHandle` objects.
        config: timeouts, ghost resolution, parallelism, checkpoint cadence.
    """

    def __init__(
        self,
        coordinator: Coordinator,
        shards: Sequence[ShardedColony | ShardHandle],
        config: RunnerConfig | None = None,
    ) -> None:
        self._coordinator = coordinator
        self._config = config or RunnerConfig()
        self._pool = self._new_pool()
        self._driver = _new_driver()
        self._policy = _ConcurrencyPolicy(self._config.adaptive_parallelism)
        self._group: FanOutGroup | None = None
        self._recovering = False
        # a recovery cut short (an interrupt in its rollback or replay): what it was for
        self._unfinished: tuple[int, BaseException, str] | None = None
        self._handles: list[ShardHandle] = [
            LocalShardHandle(s, self._pool) if isinstance(s, ShardedColony) else s for s in shards
        ]
        self._local: list[LocalShardHandle] | None = None
        if self._handles and all(isinstance(h, LocalShardHandle) for h in self._handles):
            self._local = [h for h in self._handles if isinstance(h, LocalShardHandle)]
        kinds = {type(h) for h in self._handles}
        factory = getattr(next(iter(kinds)), "fan_out_group", None) if len(kinds) == 1 else None
        if factory is not None:  # every shard of one kind that fans out as a group
            self._group = factory(self._handles)
        ids = [h.shard_id for h in self._handles]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"duplicate shard ids: {ids}")
        for sid in ids:  # shards report heartbeats to the registry
            if coordinator.get_shard(sid) is None:
                coordinator.register_shard(ShardInfo(id=sid))
        # what the last Decay sent for the next one (asks and answers)
        self._held = HeldMessages()
        # forgets that changed the held messages since the last checkpoint, as (tick, drop,
        # documents, kept nodes by shard), for a rollback's replay; None before the first
        self._held_ops: list[tuple[int, Any, list[int], dict[int, Any]]] | None = None
        self._checkpoint: _Checkpoint | None = None
        self._checkpoint_s = 0.0  # how long the last checkpoint took
        self._ticks_s = 0.0  # how long the ticks since it took (run() calls' ticks)
        # for checkpoints on disk: facts a loader needs (JSON values) and, called at each
        # checkpoint with the results of the run's ticks before it, what the caller keeps
        # besides the shards and the runner (picklable)
        self.checkpoint_info: dict[str, Any] = {}
        self.checkpoint_extra: Callable[[Sequence[DistributedTickResult]], Any] | None = None
        self._broken: str | None = None
        self._barrier_ms = 0.0
        self._want_distribution = False
        self._distribution: Any = None
        self.recoveries: list[RecoveryInfo] = []
        # a recovery made outside a failed tick (at a checkpoint, or for a call between
        # runs), for the next tick's result to report
        self._unreported: RecoveryInfo | None = None
        self._stop_requested = False  # request_stop(): end the run at the next tick boundary
        # the results of the ticks the last run() completed, while it runs and after it
        # raised or was cancelled (take_completed); emptied when it returns them
        self._completed: list[DistributedTickResult] = []

    # ------------------------------------------------------------------ properties

    @property
    def coordinator(self) -> Coordinator:
        """The coordinator."""
        return self._coordinator

    @property
    def shards(self) -> list[Any]:
        """The shards (ShardedColony objects for the local backend, actor handles for Ray)."""
        return [h.target for h in self._handles]

    @property
    def handles(self) -> list[ShardHandle]:
        """The shard handles the runner calls through."""
        return list(self._handles)

    @property
    def shard_count(self) -> int:
        """Number of shards."""
        return len(self._handles)

    @property
    def config(self) -> RunnerConfig:
        """The runner configuration."""
        return self._config

    def close(self) -> None:
        """Stop the worker threads (idle ones at once; a stuck one is abandoned)."""
        self._driver.shutdown(wait=False, cancel_futures=True)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._group is not None:
            self._group.close()

    def _new_pool(self) -> ThreadPoolExecutor:
        # The driver thread runs one shard's phase itself, so phases need at most
        # max_parallelism - 1 pool workers (the pool also serves other shard calls).
        return ThreadPoolExecutor(
            max_workers=max(self._config.max_parallelism - 1, 1), thread_name_prefix="phago-shard"
        )

    def _renew_pool(self) -> None:
        """Abandon the pool after a phase timed out in it: a worker may be stuck in the hung
        phase (on the shard object a rollback replaces), so later calls get fresh threads."""
        stale, self._pool = self._pool, self._new_pool()
        for h in self._handles:
            if isinstance(h, LocalShardHandle):
                h.move_to(self._pool)
        stale.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ one tick's steps

    def _tick_steps(
        self, t: int
    ) -> Generator[_Step, list[ShardPhaseResult], DistributedTickResult]:
        """The tick from ``t``: yields each phase's payloads, receives the phase's results.

        The same steps serve both drivers: :meth:`_tick_in_threads` (local shards, a driver
        thread) and :meth:`_tick_with_tasks` (remote shards, asyncio).
        """
        start = time.perf_counter()
        n = len(self._handles)
        known = {int(h.shard_id) for h in self._handles}
        self._barrier_ms = 0.0
        sense = yield TickPhase.SENSE, self._sense_payloads()
        act = yield TickPhase.ACT, [self._act_payload()] * n
        held, self._held = self._held, HeldMessages()
        inbound: dict[int, list[Any]] = {}
        for req, answers in held.answers.items():  # last tick's answers first, owner order
            inbound.setdefault(req, []).extend(answers)
        for r in act:
            for batch in r.updates:
                inbound.setdefault(batch.dest, []).append(batch)
            r.updates = []  # delivered: a tick result keeps counts and timings, not traffic
        unknown = set(inbound) - known
        if unknown:
            raise DistributedError(f"updates addressed to unknown shards {sorted(unknown)}")
        decay = yield (
            TickPhase.DECAY,
            [
                {"asks": held.asks.get(sid, {}), "inbound": inbound.get(sid, [])}
                for sid in (int(h.shard_id) for h in self._handles)
            ],
        )
        sent = HeldMessages()
        for r in decay:
            sent.add(int(r.shard_id), r.ghost_requests, r.ghost_answers)
            r.ghost_requests, r.ghost_answers = {}, {}
        advance = yield TickPhase.ADVANCE, [None] * n
        return self._finish_tick(t, start, sense, act, decay, advance, sent)

    def _act_payload(self) -> dict[str, bool] | None:
        """Every shard's Act payload: None (the default: list the cross-shard edges), or
        ``{"cross_shard_edge_lists": False}``."""
        if self._config.cross_shard_edge_lists:
            return None
        return {"cross_shard_edge_lists": False}

    def _sense_payloads(self) -> list[dict[str, Any]]:
        """Each shard's Sense payload: whether to collect the distribution, and the merged
        distribution when collected."""
        collect = self._want_distribution
        return [
            {"collect": collect, "distribution": self._distribution if collect else None}
            for _ in self._handles
        ]

    def _finish_tick(
        self,
        t: int,
        start: float,
        sense: Sequence[ShardPhaseResult],
        act: Sequence[ShardPhaseResult],
        decay: Sequence[ShardPhaseResult],
        advance: Sequence[ShardPhaseResult],
        held: HeldMessages | None = None,
    ) -> DistributedTickResult:
        """After Advance: keep what Decay sent for the next one (None: a pipeline holds
        it) and the distribution for the next tick, take the heartbeats, advance the
        coordinator's tick and check every shard's (I5)."""
        if held is not None:
            self._held = held
        self._want_distribution = any(getattr(r, "wants_distribution", False) for r in advance)
        parts = [getattr(r, "distribution", None) for r in advance]
        for r, part in zip(advance, parts, strict=True):
            if part is not None:
                r.distribution = None  # (merged below; a plain PhaseResult has no such field)
        if parts and all(p is not None for p in parts):
            from phago.agents.distribution import GraphDistribution

            self._distribution = GraphDistribution.merge([p for p in parts if p is not None])
        for r in advance:
            self._coordinator.shard_heartbeat(
                r.shard_id,
                documents=r.documents_total,
                nodes=r.node_count,
                edges=r.edge_count,
            )
        new_tick = self._coordinator.advance_tick()
        for r in advance:
            if r.tick != new_tick:
                self._coordinator.set_tick(t)
                raise BarrierFailed(f"{r.shard_id} is at tick {r.tick}, coordinator at {new_tick}")
        results: list[PhaseResult] = [*sense, *act, *decay, *advance]
        cross = CrossShardEdgeArray.concat(
            [
                r.cross_shard_edges
                for r in act
                if isinstance(r.cross_shard_edges, CrossShardEdgeArray)
            ]
        )
        count = sum(getattr(r, "cross_shard_count", len(r.cross_shard_edges)) for r in act)
        wall = time.perf_counter() - start
        return DistributedTickResult(
            new_tick, results, cross, self._barrier_ms, wall * 1000.0, None, count
        )

    def _settle(
        self, phase: TickPhase, tick: int, outcomes: Sequence[_Outcome]
    ) -> list[ShardHandle]:
        """Raise for a shard that failed; report the finished ones to the barrier.

        Returns:
            The handles of shards that had not finished.

        Raises:
            RpcError: a shard raised (a :class:`DistributedError` it raised is re-raised).
        """
        for h, (finished, value) in zip(self._handles, outcomes, strict=True):
            if finished and isinstance(value, BaseException):
                if isinstance(value, DistributedError):
                    raise value
                raise RpcError.raised_by(h.shard_id, f"phase {phase}", value) from value
        pending: list[ShardHandle] = []
        finished_ids: list[ShardId] = []
        for h, (finished, _) in zip(self._handles, outcomes, strict=True):
            if finished:
                finished_ids.append(h.shard_id)
            else:
                pending.append(h)
        self._coordinator.phases_complete(finished_ids, phase, tick)
        return pending

    def _timed_out(
        self, phase: TickPhase, pending: Sequence[ShardHandle], limit_ms: float | None = None
    ) -> PhaseTimeout:
        names = ", ".join(str(h.shard_id) for h in pending)
        limit = self._config.phase_timeout_ms if limit_ms is None else limit_ms
        detail = f"{names} did not finish within {limit:g} ms"
        if limit_ms is not None:  # a pipelined phase waited for the next ones too
            if phase is TickPhase.SENSE:
                detail += " (Sense and Act run as one call)"
            elif limit_ms > 2.5 * self._config.phase_timeout_ms:
                detail += " (Decay and Advance run with the next tick's Sense and Act as one call)"
            else:
                detail += " (Decay and Advance run as one call)"
        return PhaseTimeout(phase, detail)

    def _account(
        self, started: float, results: Sequence[ShardPhaseResult], serial: bool = False
    ) -> None:
        """Add the phase's barrier overhead: its wall time beyond the shards' own compute
        (the slowest shard's when they ran at once, all of them when run one after another)."""
        wall_ms = (time.perf_counter() - started) * 1000.0
        compute = [getattr(r, "compute_ms", 0.0) for r in results]
        busy = sum(compute) if serial else max(compute, default=0.0)
        self._barrier_ms += max(wall_ms - busy, 0.0)

    # ------------------------------------------------------------------ local shards: threads

    async def _ticks_in_threads(
        self,
        t: int,
        span: int,
        shards: list[LocalShardHandle],
        until: _Until | None,
        done: list[DistributedTickResult],
    ) -> _Ran:
        """Run up to ``span`` ticks from ``t`` in the driver thread; the event loop wakes once.

        The driver runs each phase's shards itself, one after another, or fans them out to the
        pool (see :class:`_ConcurrencyPolicy`), and waits for the pool's with the phase
        timeout, so a hung pool shard raises :class:`PhaseTimeout` from the driver. A watchdog
        on the event loop covers a phase that hangs in the driver itself: past the deadline
        (plus a short grace) it raises :class:`PhaseTimeout`, marks the run abandoned, so
        that the stuck driver commits nothing when it returns, and starts a new driver thread.

        Returns:
            The completed ticks' results (also appended to ``done`` as each completes, so
            a caller cancelled meanwhile has them) and the error that stopped the run, if
            any (the failed tick is then the coordinator's current tick).
        """
        loop = asyncio.get_running_loop()
        watch = _Watch(results=done)
        woken: asyncio.Future[None] = loop.create_future()
        job = self._driver.submit(self._drive, t, span, shards, watch, until)
        job.add_done_callback(lambda _: _wake_threadsafe(loop, woken))
        limit = self._config.phase_timeout_ms / 1000.0 + _WATCHDOG_GRACE_S
        watchdog = _Watchdog(loop, watch, limit, woken)
        try:
            await woken
        except BaseException:  # cancelled: the driver stops at the next phase boundary
            with watch.lock:
                watch.abandoned = True
            watchdog.cancel()
            # wait for it there (a rollback must not race it); one stuck in a phase is
            # left behind, as the watchdog leaves it
            ended = asyncio.wrap_future(job)
            # (its error is this function's to say or drop: never "never retrieved", which
            # asyncio logged, a traceback, when a third Ctrl-C cut this wait short)
            ended.add_done_callback(_retrieve)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(ended), limit)
            if not job.done():
                self._leave_stuck_driver(job, watch)
            raise
        finally:
            watchdog.cancel()
        stuck = watchdog.stuck
        if stuck is not None:  # the driver is stuck in a phase (or has just left it)
            self._leave_stuck_driver(job, watch)
            phase, shard = stuck
            who = "" if shard is None else f"{shard} "
            timeout = PhaseTimeout(
                phase, f"{who}did not finish within {self._config.phase_timeout_ms} ms"
            )
            return _Ran(list(watch.results), timeout, False)
        return _Ran(list(watch.results), job.result(), watch.stopped)

    def _leave_stuck_driver(self, job: Future[Any], watch: _Watch) -> None:
        """Give up on a driver thread whose ``job`` may still be in a phase: a new driver
        if it is, and a new pool (the driver did not collect the pool's shards). Its pause
        of the cyclic collector ends here, not when (or if) it returns."""
        watch.gc.end()
        if not job.done():
            self._driver.shutdown(wait=False, cancel_futures=True)
            self._driver = _new_driver()
        self._renew_pool()

    def _drive(
        self,
        t: int,
        span: int,
        shards: list[LocalShardHandle],
        watch: _Watch,
        until: _Until | None,
    ) -> Exception | None:
        """The driver thread's part: up to ``span`` whole ticks, each appended to
        ``watch.results`` as it completes; stops early at the first tick ``until`` accepts.

        The cyclic garbage collector is paused for each tick (see :mod:`phago._gc`); the
        pause is process-wide, so it covers the pool's phase calls too.

        Returns:
            The error that stopped the run (None when every tick completed).
        """
        for k in range(span):
            if k and self._stop_requested:
                watch.stopped = True
                break
            watch.gc.begin()
            try:
                result = self._drive_tick(t + k, shards, watch)
            except _Abandoned:
                raise
            except Exception as exc:  # the event loop's side recovers and re-raises it
                return exc
            finally:
                watch.gc.end()
            watch.results.append(result)
            if until is not None and until(result):
                watch.stopped = True
                break
        return None

    def _drive_tick(
        self, t: int, shards: list[LocalShardHandle], watch: _Watch
    ) -> DistributedTickResult:
        steps = self._tick_steps(t)
        request = next(steps)
        while True:
            phase, payloads = request
            results = self._fan_out_threads(phase, t, payloads, shards, watch)
            try:
                request = steps.send(results)
            except StopIteration as stop:
                result: DistributedTickResult = stop.value
                return result

    def _fan_out_threads(
        self,
        phase: TickPhase,
        tick: int,
        payloads: Sequence[Any],
        shards: list[LocalShardHandle],
        watch: _Watch,
    ) -> list[ShardPhaseResult]:
        started = time.perf_counter()
        timeout = self._config.phase_timeout_ms / 1000.0
        resolve = self._config.resolve_ghosts
        with watch.lock:
            if watch.abandoned:
                raise _Abandoned
            watch.phase, watch.since = phase, time.monotonic()
            # the shard objects of this tick: a rollback after a timeout swaps fresh ones into
            # the handles, which this thread, if it was the one stuck, must never touch
            targets = [h.shard for h in shards]
        deadline = watch.since + timeout
        # This thread runs the first shard's phase itself (every shard's, one after another,
        # when the phase runs serially); the pool runs the others meanwhile. Then it takes
        # over, last first, the shards the pool has not started yet.
        n = len(shards)
        concurrent = self._config.max_parallelism > 1 and n > 1 and self._policy.concurrent(phase)
        own = 1 if concurrent else n
        futures: list[Future[tuple[Any, float]] | None] = [None] * n
        outcomes: list[_Outcome] = [(False, None)] * n
        cpu = 0.0
        for k in range(own, n):
            futures[k] = shards[k].submit_phase(phase, payloads[k], resolve)
        for k in itertools.chain(range(own), _take_unstarted(futures)):
            if watch.abandoned:  # it was stuck in the last shard's phase: the rest is moot
                break
            watch.shard = shards[k].shard_id
            c0 = time.thread_time()
            try:
                outcomes[k] = (True, targets[k].run_phase(phase, payloads[k], resolve))
            except Exception as exc:  # reported like a pool shard's error
                outcomes[k] = (True, exc)
                break
            finally:
                cpu += time.thread_time() - c0
        watch.shard = None
        started_futures = [f for f in futures if f is not None]
        if started_futures and not any(isinstance(v, BaseException) for _, v in outcomes):
            wait(started_futures, max(deadline - time.monotonic(), 0.0), FIRST_EXCEPTION)
        for k, f in enumerate(futures):
            if f is None:
                continue
            if f.done() and not f.cancelled():
                err = f.exception()
                if err is not None:
                    outcomes[k] = (True, err)
                else:
                    value, used = f.result()
                    outcomes[k] = (True, value)
                    cpu += used
            else:
                f.cancel()  # not started yet: it never will be
        with watch.lock:  # from here on the watchdog leaves this phase alone
            if watch.abandoned:  # the event loop has given up on this tick
                # (an error kept in outcomes would hold this frame, and the results, in a
                # cycle through its traceback)
                outcomes.clear()
                raise _Abandoned
            watch.phase = None
        pending = self._settle(phase, tick, outcomes)
        if pending:
            self._renew_pool()
            raise self._timed_out(phase, pending)
        remaining = max(deadline - time.monotonic(), 0.001)
        self._coordinator.wait_for_phase(phase, tick, remaining)
        results: list[ShardPhaseResult] = [value for _, value in outcomes]
        self._policy.observe(phase, concurrent, time.perf_counter() - started, cpu)
        self._account(started, results, serial=own == n)
        return results

    # ------------------------------------------------------------------ remote shards: asyncio

    async def _tick_with_tasks(self, t: int) -> DistributedTickResult:
        steps = self._tick_steps(t)
        request = next(steps)
        while True:
            phase, payloads = request
            results = await self._fan_out_tasks(phase, t, payloads)
            try:
                request = steps.send(results)
            except StopIteration as stop:
                result: DistributedTickResult = stop.value
                return result

    async def _fan_out_tasks(
        self, phase: TickPhase, tick: int, payloads: Sequence[Any]
    ) -> list[ShardPhaseResult]:
        started = time.perf_counter()
        timeout = self._config.phase_timeout_ms / 1000.0
        deadline = time.monotonic() + timeout
        resolve = self._config.resolve_ghosts
        outcomes: list[_Outcome] | None = None
        if self._group is not None and not self._recovering:
            # the backend's own fan-out (Ray: a compiled graph; a recovery's short replay
            # uses plain calls, so that the error is raised without waiting for a compile)
            outcomes = await self._group.fan_out(phase, list(payloads), resolve, timeout)
        if outcomes is None:
            outcomes = await self._fan_out_calls(phase, payloads, resolve, timeout)
        return await self._conclude_phase(phase, tick, outcomes, deadline, started)

    async def _conclude_phase(
        self,
        phase: TickPhase,
        tick: int,
        outcomes: Sequence[_Outcome],
        deadline: float,
        started: float | None,
        merged_limit_ms: float | None = None,
    ) -> list[ShardPhaseResult]:
        """Settle a gathered phase: raise a shard's error, or give up on unfinished shards
        (each handle may ``abandon`` its shard) with :class:`PhaseTimeout` (naming
        ``merged_limit_ms`` when the phase waited for the next one too); else wait for the barrier
        until ``deadline`` (monotonic), account the phase since ``started`` (unless None)
        and return the results."""
        pending = self._settle(phase, tick, outcomes)
        if pending:
            for h in pending:
                abandon = getattr(h, "abandon", None)
                if abandon is not None:
                    await abandon()
            if any(isinstance(h, LocalShardHandle) for h in pending):
                self._renew_pool()
            raise self._timed_out(phase, pending, merged_limit_ms)
        remaining = max(deadline - time.monotonic(), 0.001)
        await self._coordinator.wait_for_phase_async(phase, tick, remaining)
        results: list[ShardPhaseResult] = [value for _, value in outcomes]
        if started is not None:
            self._account(started, results)
        return results

    async def _fan_out_calls(
        self, phase: TickPhase, payloads: Sequence[Any], resolve: bool, timeout: float
    ) -> list[_Outcome]:
        """One ``call`` per shard, all started at once, gathered with the phase timeout."""
        return await _gather_outcomes(
            [
                h.call("run_phase", phase, p, resolve)
                for h, p in zip(self._handles, payloads, strict=True)
            ],
            timeout,
        )

    async def _ticks_pipelined(
        self,
        t: int,
        span: int,
        until: _Until | None,
        pipeline: TickPipeline,
        done: list[DistributedTickResult],
    ) -> _Ran:
        """Up to ``span`` ticks from ``t``, each submitted whole (see :class:`TickPipeline`).

        Where the pipeline ``chains`` and ``until`` is None or :class:`UntilIdle`, each
        tick is followed by the next ``lookahead`` ones (the pipeline's; 1 by default),
        within the span, submitted chained before this one's results are awaited, so that
        the shards go on to them without waiting for the driver. Once this tick's results
        show that the chained ones must not run (the run stops, or a shard wants the global
        distribution, which the driver then brings), they were skipped on every shard and
        the pipeline takes them back. Each tick's result is appended to ``done`` as it
        completes.
        """
        chains = bool(getattr(pipeline, "chains", False)) and (
            until is None or isinstance(until, UntilIdle)
        )
        depth = int(getattr(pipeline, "lookahead", 1)) if chains else 0
        queued: deque[tuple[list[list[Any]], float]] = deque()  # submitted, not awaited
        last_end = time.perf_counter()
        for k in range(span):
            if k and self._stop_requested and not queued:  # (those submitted run to the end)
                return _Ran(done, None, True)
            try:
                if not queued:
                    queued.append(self._submit_pipelined(pipeline, chained=False, until=until))
                while (
                    not self._want_distribution
                    and not self._stop_requested
                    and len(queued) <= min(depth, span - k - 1)
                ):
                    queued.append(self._submit_pipelined(pipeline, chained=True, until=until))
                submitted, at = queued.popleft()
                result = await self._tick_pipelined(t + k, pipeline, submitted, max(at, last_end))
            except Exception as exc:
                pipeline.reset()  # (a chained tick's calls then fail, or a rollback undoes them)
                return _Ran(done, exc, False)
            last_end = time.perf_counter()
            done.append(result)
            stop = until is not None and until(result)
            if queued and (stop or self._want_distribution):
                queued.clear()
                try:
                    await pipeline.drop_ahead(self._config.phase_timeout_ms / 1000.0)
                except Exception as exc:
                    pipeline.reset()
                    return _Ran(done, exc, False)
            if stop:
                return _Ran(done, None, True)
        return _Ran(done, None, False)

    def _submit_pipelined(
        self, pipeline: TickPipeline, chained: bool, until: _Until | None
    ) -> tuple[list[list[Any]], float]:
        """Submit the next tick to ``pipeline``; its per-phase result handles, and when the
        submitting began (a tick's wall time includes its submission)."""
        began = time.perf_counter()
        held, self._held = self._held, HeldMessages()
        submitted = pipeline.submit(
            self._sense_payloads(),
            self._config.resolve_ghosts,
            self._act_payload(),
            held,
            chained=chained,
            stop_when_idle=chained and until is not None,
        )
        return submitted, began

    async def _tick_pipelined(
        self, t: int, pipeline: TickPipeline, submitted: list[list[Any]], start: float
    ) -> DistributedTickResult:
        """Await a tick submitted whole: the driver watches each phase's results in turn,
        with the phase timeout from the previous phase's end, times the phases the awaited
        call runs (the pipeline's ``wait_phases``; else two for Sense when it runs Sense
        and Act as one call, two for Decay when Decay and Advance).

        The shards' phases overlap the driver's submitting and watching, so the barrier is
        reckoned per tick: its wall time since ``start`` (when its submission began, or the
        previous tick's end when it was submitted before that) beyond the sum over phases
        of the slowest shard's.
        """
        timeout = self._config.phase_timeout_ms / 1000.0
        phases: list[list[ShardPhaseResult]] = []
        spans = getattr(pipeline, "wait_phases", None)  # how many phases each wait covers
        doubled = set()  # else: phases whose result arrives with the next phase's (one call)
        if spans is None and getattr(pipeline, "sense_with_act", False):
            doubled.add(TickPhase.SENSE)
        if spans is None and getattr(pipeline, "decay_with_advance", False):
            doubled.add(TickPhase.DECAY)
        at_hand = getattr(pipeline, "result_now", None)
        try:
            for phase, refs in zip(_PHASES, submitted, strict=True):
                if spans is not None:
                    limit = spans(phase, refs) * timeout
                else:
                    limit = 2.0 * timeout if phase in doubled else timeout
                deadline = time.monotonic() + limit
                outcomes = None if at_hand is None else _outcomes_at_hand(at_hand, refs)
                if outcomes is None:  # (one task per shard, watched within the limit)
                    outcomes = await _gather_outcomes(
                        [pipeline.result(k, ref) for k, ref in enumerate(refs)], limit
                    )
                merged = limit * 1000.0 if limit != timeout else None
                phases.append(
                    await self._conclude_phase(phase, t, outcomes, deadline, None, merged)
                )
        except BaseException:
            pipeline.reset()
            raise
        busy = sum(max((r.compute_ms for r in results), default=0.0) for results in phases)
        overlap = getattr(pipeline, "overlap_ms", None)
        if overlap is not None:  # a call that ran the next tick's phases too
            before, after = overlap(submitted)
            busy += after - before
        self._barrier_ms = max((time.perf_counter() - start) * 1000.0 - busy, 0.0)
        sense, act, decay, advance = phases
        return self._finish_tick(t, start, sense, act, decay, advance)

    # ------------------------------------------------------------------ ticks

    async def tick(self) -> DistributedTickResult:
        """Run one distributed tick; on failure roll back and raise.

        Returns:
            The tick's results: the new tick, each shard's phase results, the cross-shard
            edges produced in Act, and timings.

        Raises:
            PhaseTimeout: a shard missed a phase deadline.
            RpcError: a shard raised.
            DistributedError: the cluster cannot tick (a previous failure was not recovered).
        """
        return (await self.run(1))[0]

    async def run(
        self, num_ticks: int, *, until: _Until | None = None
    ) -> list[DistributedTickResult]:
        """Run ``num_ticks`` ticks in sequence; stops at the first error, which is raised.

        With local shards the ticks between two checkpoints run as one job of the driver
        thread, so the event loop is woken once per job rather than once per tick.

        Args:
            num_ticks: the most ticks to run.
            until: stop early after the first tick whose result this returns True for
                (called in the driver thread for local shards).

        Returns:
            One result per tick run.

        Raises:
            PhaseTimeout: a shard missed a phase deadline (the cluster is rolled back).
            RpcError: a shard raised (the cluster is rolled back).
            DistributedError: the cluster cannot tick.
        """
        out: list[DistributedTickResult] = []
        self._completed = out  # (a run that raises or is cancelled leaves them there)
        total = int(num_ticks)
        self._stop_requested = False
        while len(out) < total and not self._stop_requested:
            if self._broken is not None:
                raise DistributedError(
                    f"the cluster is unusable after a failed tick: {self._broken}"
                )
            t = self._coordinator.current_tick
            span = total - len(out)
            every = self._config.checkpoint_every
            if every is not None:
                if self._checkpoint_due(t, every):
                    await self._checkpoint_or_recover(t, out)
                assert self._checkpoint is not None
                since = t - self._checkpoint.tick
                span = min(span, every - since if since < every else every)
            began = time.perf_counter()
            span_done: list[DistributedTickResult] = []  # filled as the ticks complete
            try:
                ran = await self._ticks_inner(t, span, until, span_done)
            except asyncio.CancelledError:
                out.extend(span_done)  # (the rollback replays them: their results stand)
                await self._interrupted()
                raise
            self._ticks_s += time.perf_counter() - began
            first = len(out)
            out.extend(ran.results)
            if ran.error is not None:
                out.append(await self._fail(ran.error))
            if self._unreported is not None and len(out) > first:
                if out[first].recovered is None:  # said by the next tick's result
                    out[first].recovered = self._unreported
                self._unreported = None
            if ran.error is not None:
                if until is not None and until(out[-1]):
                    break
            elif ran.stopped:
                break
        self._completed = []  # (returned)
        return out

    def take_completed(self) -> list[DistributedTickResult]:
        """The results of the ticks that the last :meth:`run` completed before it raised
        or was cancelled (a second Ctrl-C), each tick once: the list is emptied. Those
        ticks stand after the error (a rollback to the last checkpoint replays them,
        deterministically, to the same results), so a caller that keeps a history of its
        ticks takes them from here. Empty after a run that returned."""
        done, self._completed = self._completed, []
        return done

    def request_stop(self) -> None:
        """Ask the run in progress to stop at the next tick boundary (from any thread, a
        signal handler's included): the tick under way completes (on Ray, with the ticks
        already submitted ahead), no other starts, and :meth:`run` returns the ticks run.
        The next :meth:`run` starts afresh."""
        self._stop_requested = True

    async def _interrupted(self) -> None:
        """A run cancelled (its caller interrupted, say with Ctrl-C) in the middle of a
        tick, whose phases some shards may have run: roll every shard back to the last
        checkpoint and replay the ticks completed since, so that the cluster stands at
        the last completed tick, as if the run had stopped there; with no checkpoint the
        cluster is unusable (the error says why). The recovery is reported by the next
        tick's result."""
        t = self._coordinator.current_tick  # the ticks before it completed
        if self._checkpoint is None:
            self._broken = f"a run was interrupted in tick {t + 1} and no checkpoint exists"
            log.error("%s", self._broken)
            return
        await self._recover(t, RunInterrupted(f"interrupted in tick {t + 1}"), "a run")
        if self._broken is None:
            self._unreported = self.recoveries[-1]

    async def _fail(self, exc: Exception) -> DistributedTickResult:
        """Handle the error that stopped a run at the coordinator's current tick.

        A lost shard with a checkpoint is recovered and the tick retried (its result is
        returned); any other :class:`DistributedError` rolls back and is re-raised.
        """
        t = self._coordinator.current_tick
        if isinstance(exc, ShardLost):
            if self._checkpoint is None:
                self._broken = _lost_for_good(exc, t + 1)
                raise DistributedError(
                    f"{exc.shard} was lost at tick {t + 1} and there is no checkpoint to recover "
                    "from; the other shards remain readable"
                ) from exc
            await self._recover(t, exc)
            if self._broken is not None:
                raise DistributedError(self._broken) from exc
            result = await self._tick_inner(t)
            result.recovered = self.recoveries[-1]
            return result
        if isinstance(exc, DistributedError):
            await self._recover(t, exc)
        raise exc

    async def _ticks_inner(
        self,
        t: int,
        span: int,
        until: _Until | None,
        done: list[DistributedTickResult] | None = None,
    ) -> _Ran:
        """Up to ``span`` ticks from ``t``, each result appended to ``done`` (when given)
        as soon as its tick completes, so that a caller cancelled meanwhile has them."""
        if done is None:
            done = []
        if self._local is not None:
            return await self._ticks_in_threads(t, span, self._local, until, done)
        pipeline = None
        if self._group is not None and not self._recovering:
            # a recovery's replay uses plain calls, one round trip per phase
            pipeline = getattr(self._group, "tick_pipeline", None)
        if pipeline is not None:
            return await self._ticks_pipelined(t, span, until, pipeline, done)
        for k in range(span):
            if k and self._stop_requested:
                return _Ran(done, None, True)
            try:
                done.append(await self._tick_with_tasks(t + k))
            except Exception as exc:
                return _Ran(done, exc, False)
            if until is not None and until(done[-1]):
                return _Ran(done, None, True)
        return _Ran(done, None, False)

    async def _tick_inner(self, t: int) -> DistributedTickResult:
        """One tick from ``t``, raising its error (used by recovery's replay)."""
        ran = await self._ticks_inner(t, 1, None)
        if ran.error is not None:
            raise ran.error
        return ran.results[0]

    # ------------------------------------------------------------------ checkpoints

    def _checkpoint_due(self, t: int, every: int) -> bool:
        """Whether to checkpoint at tick ``t`` (see ``RunnerConfig.checkpoint_cost_share``)."""
        cp = self._checkpoint
        if cp is None:
            return True
        if t - cp.tick < every:
            return False
        share = self._config.checkpoint_cost_share
        return share is None or self._checkpoint_s <= share * self._ticks_s

    async def _checkpoint_or_recover(
        self, t: int, done: Sequence[DistributedTickResult] = ()
    ) -> None:
        """Take the checkpoint due at tick ``t``; a shard lost while it is taken is treated
        as a failed tick at ``t`` (a rollback to the checkpoint before and a replay up to
        ``t``, or, with none, a typed error), and the checkpoint is then taken again."""
        try:
            await self._take_checkpoint(t, done)
        except ShardLost as exc:
            if self._checkpoint is None:
                self._broken = _lost_for_good(exc, t)
                raise DistributedError(
                    f"{exc.shard} was lost at tick {t} and there is no checkpoint to recover "
                    "from; the other shards remain readable"
                ) from exc
            await self._recover(t, exc, f"the checkpoint at tick {t}")
            if self._broken is not None:
                raise DistributedError(self._broken) from exc
            self._unreported = self.recoveries[-1]
            await self._take_checkpoint(t, done)

    async def _shard_checkpoint(self, h: ShardHandle) -> Any:
        """``h``'s checkpoint, within the phase timeout: a shard that takes longer is
        abandoned (a Ray actor is killed) and reported lost, so that the runner recovers
        it as it would a lost shard (an in-process shard's snapshot cannot be cut short);
        one that raises is an :class:`~phago.errors.RpcError`, as in a phase."""
        timeout = self._config.phase_timeout_ms / 1000.0
        try:
            return await asyncio.wait_for(h.checkpoint(), timeout)
        except TimeoutError:
            abandon = getattr(h, "abandon", None)
            if abandon is not None:
                await abandon()
            raise ShardLost(
                h.shard_id, f"its checkpoint took over {timeout:g} s (the phase timeout)"
            ) from None
        except DistributedError:
            raise
        except Exception as exc:
            raise RpcError(f"{h.shard_id} failed to take its checkpoint: {exc!r}") from exc

    async def _take_checkpoint(self, tick: int, done: Sequence[DistributedTickResult] = ()) -> None:
        """Snapshot every shard; only once all are taken does the checkpoint replace the one
        before and do the shards' logs restart (a failure leaves both as they were, so a
        rollback to the one before still replays everything since). With a
        ``checkpoint_dir`` the set is then written there (``done``: the results of the
        calling run's ticks so far, for :attr:`checkpoint_extra`).

        Raises:
            ShardLost: a shard's actor died, or took longer than the phase timeout (see
                :meth:`_checkpoint_or_recover`).
            StoreError: the set could not be written (the new checkpoint stands in memory).
        """
        began = time.perf_counter()
        await self.take_held()
        taken = await asyncio.gather(
            *(self._shard_checkpoint(h) for h in self._handles), return_exceptions=True
        )
        for outcome in taken:
            if isinstance(outcome, BaseException):
                raise outcome
        for h in self._handles:  # every snapshot is taken: each log starts from here
            h.checkpoint_taken()
        self._held_ops = []
        cp = self._checkpoint = _Checkpoint(
            tick,
            list(taken),
            copy.deepcopy(self._held),
            self._distribution,
            self._want_distribution,
        )
        self._checkpoint_s, self._ticks_s = time.perf_counter() - began, 0.0
        if self._config.checkpoint_dir is not None:
            state = {
                "held": cp.held,
                "distribution": cp.distribution,
                "want_distribution": cp.want_distribution,
                "extra": None if self.checkpoint_extra is None else self.checkpoint_extra(done),
            }
            assert cp.snapshots is not None
            write_checkpoint(
                self._config.checkpoint_dir,
                CheckpointSet(tick, cp.snapshots, state, dict(self.checkpoint_info)),
            )
            # on disk, whole: a rollback reads it back, so the bytes are not held twice
            cp.snapshots, cp.on_disk = None, self._config.checkpoint_dir
            self._checkpoint_s = time.perf_counter() - began

    async def take_held(self) -> HeldMessages:
        """What the last Decay sent for the next one (ghost requests and degree reports to
        answer, ghosts and cap orders to deliver); a pipeline's, still with the actors, are
        fetched into the runner first. For checkpoints and the store."""
        pipeline = getattr(self._group, "tick_pipeline", None)
        if pipeline is not None:
            self._held.extend(await pipeline.take_held())
        return self._held

    def set_held(self, held: HeldMessages) -> None:
        """Replace the held messages (a loaded store's); the next tick's Decay takes them."""
        self._held = held

    async def forget_held(self, drop: Any, doc_ids: Sequence[int], kept: dict[int, Any]) -> None:
        """After every shard forgot documents (``drop``: the NodeIds of the concepts
        removed; ``kept``: for each shard whose nodes were renumbered, the old indices of
        those it kept): the messages held between ticks follow, as a forget in a saved
        store changes them (:func:`phago.distributed.forget.forget_held`). Logged with the
        tick, so that a rollback to an earlier checkpoint does it again when its replay
        reaches this tick."""
        await self.take_held()
        self._forget_held(self._coordinator.current_tick, drop, list(doc_ids), dict(kept))

    def _forget_held(self, tick: int, drop: Any, doc_ids: list[int], kept: dict[int, Any]) -> None:
        from phago.distributed.forget import forget_held

        self._held = forget_held(self._held, drop, doc_ids, kept)
        if self._held_ops is not None:
            self._held_ops.append((tick, drop, doc_ids, kept))

    def _replay_held_ops(self, ops: list[tuple[int, Any, list[int], dict[int, Any]]]) -> None:
        """In a rollback's replay, at the tick boundary it stands at: the logged forgets
        of this tick and before, taken off ``ops`` (a copy of the log, which keeps them for
        another rollback to the same checkpoint)."""
        from phago.distributed.forget import forget_held

        tick = self._coordinator.current_tick
        while ops and ops[0][0] <= tick:
            _, drop, doc_ids, kept = ops.pop(0)
            self._held = forget_held(self._held, drop, doc_ids, kept)

    async def checkpoint_now(self) -> int:
        """Take a rollback point at the current tick; returns the tick."""
        t = self._coordinator.current_tick
        await self._checkpoint_or_recover(t)
        return t

    @property
    def can_recover(self) -> bool:
        """Whether a lost shard can be recovered now (a checkpoint exists and the cluster
        is usable)."""
        return self._checkpoint is not None and self._broken is None

    async def recover_lost(self, exc: ShardLost) -> None:
        """Recover from a shard lost outside a tick (a call between runs found its actor
        dead): roll every shard back to the last checkpoint and replay up to the current
        tick, as for a failed tick. The call that failed is the caller's to make again
        (what it sent was not logged).

        Raises:
            DistributedError: there is no checkpoint (``exc`` is raised), or the recovery
                failed (the cluster is then unusable).
        """
        if self._checkpoint is None:
            raise exc
        t = self._coordinator.current_tick
        await self._recover(t, exc, f"a call at tick {t}, between runs,")
        if self._broken is not None:
            raise DistributedError(self._broken) from exc
        self._unreported = self.recoveries[-1]

    async def restore_checkpoint(self, cp: CheckpointSet) -> None:
        """Restore every shard and the runner from a checkpoint read from disk
        (:func:`~phago.distributed.checkpoint_files.read_checkpoint`), and keep it as the
        rollback point.

        Raises:
            DistributedError: the set is for another number of shards.
        """
        if len(cp.snapshots) != len(self._handles):
            raise DistributedError(
                f"the checkpoint holds {len(cp.snapshots)} shards; this cluster has "
                f"{len(self._handles)}"
            )
        state = cp.runner_state or {}
        held = state.get("held") or HeldMessages()
        await asyncio.gather(
            *(h.restore(snap) for h, snap in zip(self._handles, cp.snapshots, strict=True))
        )
        for h in self._handles:
            h.checkpoint_taken()
        self._held_ops = []
        self._coordinator.set_tick(cp.tick)
        self._held = copy.deepcopy(held)
        self._distribution = state.get("distribution")
        self._want_distribution = bool(state.get("want_distribution", False))
        self._checkpoint = _Checkpoint(
            cp.tick, list(cp.snapshots), held, self._distribution, self._want_distribution
        )
        self._broken = None

    async def _recover(self, failed_tick: int, exc: BaseException, what: str = "") -> None:
        """Roll back and replay up to ``failed_tick`` (``what`` failed: for the log; by
        default tick ``failed_tick + 1``)."""
        self._recovering = True
        finished = False
        try:
            await self._roll_back_and_replay(failed_tick, exc, what)
            finished = True
        finally:
            self._recovering = False
            # cut short (Ctrl-C once more, or a cancel, in the middle of it), the shards may
            # stand at different ticks, or in the middle of one: the next call finishes it
            self._unfinished = None if finished else (failed_tick, exc, what)

    @property
    def recovery_unfinished(self) -> bool:
        """Whether a recovery (a rollback to the last checkpoint and its replay) was cut
        short, by an interrupt in the middle of it: the shards may then stand at different
        ticks, and :meth:`finish_recovery` must run before anything else reads or changes
        them."""
        return self._unfinished is not None

    async def finish_recovery(self) -> None:
        """Finish a recovery that was cut short (:attr:`recovery_unfinished`): roll every
        shard back to the last checkpoint again and replay to the tick it was replaying to.
        Nothing to do if none was. The next tick's result reports it.

        Raises:
            DistributedError: the recovery failed (the cluster is then unusable).
        """
        pending = self._unfinished
        if pending is None:
            return
        failed_tick, exc, what = pending
        await self._recover(failed_tick, exc, what)
        if self._broken is not None:
            raise DistributedError(self._broken) from exc
        self._unreported = self.recoveries[-1]

    async def _roll_back_and_replay(
        self, failed_tick: int, exc: BaseException, what: str = ""
    ) -> None:
        cp = self._checkpoint
        if cp is None:
            self._broken = f"tick {failed_tick} failed ({exc}) and no checkpoint exists"
            log.error("%s", self._broken)
            return
        try:
            snapshots = cp.load_snapshots()
            await asyncio.gather(
                *(h.restore(s) for h, s in zip(self._handles, snapshots, strict=True))
            )
        except (DistributedError, StoreError) as lost:  # a replacement not started, say
            self._broken = f"rolling back after a failure at tick {failed_tick} failed: {lost}"
            log.error("%s", self._broken)
            return
        self._held = copy.deepcopy(cp.held)
        self._distribution, self._want_distribution = cp.distribution, cp.want_distribution
        self._coordinator.set_tick(cp.tick)
        held_ops = list(self._held_ops or ())
        replayed = 0
        try:
            while self._coordinator.current_tick < failed_tick:
                self._replay_held_ops(held_ops)  # (the shards' ops: at their Sense)
                await self._tick_inner(self._coordinator.current_tick)
                replayed += 1
        except DistributedError as again:
            self._broken = f"replay after a failure at tick {failed_tick} failed: {again}"
            log.error("%s", self._broken)
            return
        await asyncio.gather(
            *(h.call("apply_replay_ops", self._coordinator.current_tick) for h in self._handles)
        )
        self._replay_held_ops(held_ops)
        info = RecoveryInfo(failed_tick, repr(exc), self._coordinator.current_tick, replayed)
        self.recoveries.append(info)
        log.warning(
            "%s failed (%s); rolled back to the checkpoint of tick %d and replayed %d "
            "ticks, to tick %d",
            what or f"tick {failed_tick + 1}",
            str(exc),  # (not the error: a record kept would keep its frames alive)
            cp.tick,
            replayed,
            info.restored_tick,
        )


# ---------------------------------------------------------------------- fan-out mechanics

_Step = tuple[TickPhase, list[Any]]  # a phase and each shard's payload for it
_Outcome = tuple[bool, Any]  # (finished, result or the exception raised); unfinished: (False, None)

# How long past a phase deadline the event loop waits before it gives up on the driver
# thread itself (a hung shard in the pool is reported by the driver at the deadline).
_WATCHDOG_GRACE_S = 0.05


_Until = Callable[["DistributedTickResult"], bool]  # stop a run after a tick it accepts


_PHASES = (TickPhase.SENSE, TickPhase.ACT, TickPhase.DECAY, TickPhase.ADVANCE)


class TickPipeline(Protocol):
    """Ticks submitted whole to remote shards, each phase's data passed shard to shard (a
    fan-out group offers one as ``tick_pipeline``; the Ray backend's does without a
    compiled graph). The runner keeps the barrier, timeouts and accounting. A pipeline whose
    ``sense_with_act`` is true returns Sense's results with Act's (one call per shard for
    both), and one whose ``decay_with_advance`` is true Decay's with Advance's; the runner
    waits two phase timeouts for each such pair. Optional members: ``lookahead`` (how many
    ticks to keep submitted chained ahead of the awaited one), ``wait_phases(phase,
    handles)`` (how many phase timeouts the wait for ``phase`` covers),
    ``overlap_ms(handles)`` (for an awaited tick, the slowest shard's work of its own
    phases that ran before its wait began and of the next tick's that ran inside it, so
    that the barrier counts each call's work once) and ``result_now(index, ref)`` (a
    result already at hand, else None: a phase whose every result is at hand is taken
    without waiting)."""

    def submit(
        self,
        sense_payloads: list[Any],
        resolve_ghosts: bool,
        act_payload: Any = None,
        held: HeldMessages | None = None,
        *,
        chained: bool = False,
        stop_when_idle: bool = False,
    ) -> list[list[Any]]:
        """Submit a tick (``held``: what the runner holds from last tick's Decay); each
        phase's per-shard result handles (phase order). ``chained`` (only asked of a
        pipeline whose ``chains`` is true): the tick goes in before the previous one's
        results are awaited, and the shards skip it where the runner would not have run it
        so (``stop_when_idle``: the run stops once every shard is idle); the runner then
        calls ``drop_ahead``."""

    async def result(self, index: int, ref: Any) -> Any:
        """Shard ``index``'s result behind ``ref`` (raises what the shard raised)."""

    async def take_held(self) -> HeldMessages:
        """Last tick's Decay outputs, moved to the runner (for a checkpoint or the
        store)."""

    async def drop_ahead(self, timeout_s: float) -> None:
        """Take back the chained tick submitted last, which the shards skipped (pipelines
        that chain)."""

    def reset(self) -> None:
        """Drop a failed tick's in-flight outputs (and a chained tick's)."""


def _outcomes_at_hand(
    result_now: Callable[[int, Any], Any], refs: Sequence[Any]
) -> list[_Outcome] | None:
    """Every shard's outcome of a phase whose results are all at hand (``result_now`` of
    each gives it, or raises), as :func:`_gather_outcomes` would give them; None as soon as
    one is not (the phase is then awaited).

    Example:
        >>> _outcomes_at_hand(lambda k, ref: ref, ["a", "b"])
        [(True, 'a'), (True, 'b')]
        >>> _outcomes_at_hand(lambda k, ref: ref, ["a", None]) is None
        True
    """
    outcomes: list[_Outcome] = []
    for k, ref in enumerate(refs):
        try:
            got = result_now(k, ref)
        except Exception as exc:  # (the shard's outcome, as when awaited)
            outcomes.append((True, exc))
            continue
        if got is None:
            return None
        outcomes.append((True, got))
    return outcomes


async def _gather_outcomes(calls: Sequence[Awaitable[Any]], timeout: float) -> list[_Outcome]:
    """Start every call at once; ``(finished, result or exception)`` of each after the first
    exception or ``timeout`` (unfinished calls are cancelled: ``(False, None)``)."""
    tasks = [asyncio.ensure_future(c) for c in calls]
    _, unfinished = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_EXCEPTION)
    outcomes: list[_Outcome] = []
    for task in tasks:
        if task in unfinished:
            task.cancel()
            outcomes.append((False, None))
        elif task.cancelled():
            outcomes.append((True, RuntimeError("the call was cancelled")))
        else:
            exc = task.exception()
            outcomes.append((True, exc if exc is not None else task.result()))
    return outcomes


def all_idle(advance: Iterable[Any]) -> bool:
    """True when every shard reported at the end of a tick (its Advance results) that it has
    nothing left to digest: no unconsumed document, no agent holding undigested text.

    Example:
        >>> from phago.distributed.shard import ShardPhaseResult
        >>> from phago.distributed.types import ShardId, TickPhase
        >>> idle = ShardPhaseResult(ShardId(0), TickPhase.ADVANCE, 3, busy=False)
        >>> busy = ShardPhaseResult(ShardId(1), TickPhase.ADVANCE, 3, busy=True)
        >>> all_idle([idle]), all_idle([idle, busy])
        (True, False)
    """
    return not any(getattr(r, "busy", True) for r in advance)


class UntilIdle:
    """A run's stop rule: stop after the first tick at whose end no shard has anything left
    to digest (:func:`all_idle` of its Advance results).

    The shards can decide it themselves from each other's Advance results, so a Ray run
    with this rule submits each tick before the previous one's results are in (see
    :class:`TickPipeline`); any other ``until`` waits for them.

    Example:
        >>> from phago.distributed import ConsistentHashRing, Coordinator, ShardId
        >>> from phago.distributed.shard import ShardedColony
        >>> from phago import ColonyConfig
        >>> ring = ConsistentHashRing(2)
        >>> shards = [ShardedColony(ShardId(i), ColonyConfig(), ring) for i in range(2)]
        >>> runner = DistributedRunner(Coordinator(2), shards, RunnerConfig())
        >>> len(asyncio.run(runner.run(10, until=UntilIdle())))  # nothing to digest
        1
    """

    def __call__(self, result: DistributedTickResult) -> bool:
        """True when ``result``'s tick left every shard idle."""
        return all_idle(r for r in result.phase_results if r.phase is TickPhase.ADVANCE)


class _Ran(NamedTuple):
    """A run of ticks: the completed ticks' results, the error that stopped it (the failed
    tick is then the coordinator's current tick), and whether ``until`` stopped it."""

    results: list[DistributedTickResult]
    error: Exception | None
    stopped: bool


def _timed_phase(
    shard: ShardedColony, phase: TickPhase, payload: Any, resolve_ghosts: bool
) -> tuple[Any, float]:
    """``shard.run_phase(...)`` and the CPU seconds this thread spent in it."""
    c0 = time.thread_time()
    result = shard.run_phase(phase, payload, resolve_ghosts)
    return result, time.thread_time() - c0


class _ConcurrencyPolicy:
    """Per phase, whether the driver fans local shards out to the pool or runs them itself.

    Threads of one process share the interpreter lock, so they overlap shard phases only
    where those wait (on I/O, a sleep, a remote service) or run native code that releases
    the lock. For a phase that is pure Python, fanning out only adds hand-offs and lock
    contention: on W3 (3,000 documents, 2 shards) it made the run 25% slower than running
    the shards one after another. So each phase is measured: the CPU time the shards spent,
    summed, against the phase's wall time.

    * Fanned out: a CPU/wall ratio between ``LOW`` and ``HIGH`` means the shards took turns
      on the lock (no overlap), and a phase under ``TINY_S`` is cheaper than the hand-off:
      the next ones run serially.
    * Serial: a ratio under ``LOW`` in ``WAITS_TO_FAN_OUT`` serial runs in a row means the
      shards mostly waited, so the phase fans out again (one low ratio alone is often the
      machine's doing: on a virtual machine, time the hypervisor takes from the driver's
      thread counts in the wall time and not in its CPU time); and every
      ``PROBE_EVERY``-th serial run of a phase fans out to re-measure (native code that
      releases the lock only shows overlap when fanned out).

    A phase not measured yet fans out, so ``max_parallelism`` is honoured from the first tick.
    """

    LOW = 0.5
    HIGH = 1.25
    TINY_S = 0.0005
    PROBE_EVERY = 64
    WAITS_TO_FAN_OUT = 2

    def __init__(self, adaptive: bool) -> None:
        self._adaptive = adaptive
        self._serial: dict[TickPhase, bool] = {}
        self._serial_runs: dict[TickPhase, int] = {}
        self._waits: dict[TickPhase, int] = {}  # serial runs in a row that mostly waited

    def concurrent(self, phase: TickPhase) -> bool:
        """Whether this run of ``phase`` fans out."""
        if not self._adaptive or not self._serial.get(phase, False):
            return True
        runs = self._serial_runs[phase] = self._serial_runs.get(phase, 0) + 1
        return runs % self.PROBE_EVERY == 0

    def observe(self, phase: TickPhase, concurrent: bool, wall_s: float, cpu_s: float) -> None:
        """Record a run of ``phase``: its wall time and its shards' summed CPU time."""
        if not self._adaptive:
            return
        ratio = cpu_s / wall_s if wall_s > 0 else 1.0
        if concurrent:
            serial = wall_s < self.TINY_S or self.LOW <= ratio <= self.HIGH
            if serial and not self._serial.get(phase, False):
                self._serial_runs[phase] = 0  # the next probe comes PROBE_EVERY runs later
            self._serial[phase] = serial
            self._waits[phase] = 0
        elif ratio < self.LOW and wall_s >= self.TINY_S:
            waits = self._waits[phase] = self._waits.get(phase, 0) + 1
            if waits >= self.WAITS_TO_FAN_OUT:
                self._serial[phase] = False
        else:
            self._waits[phase] = 0


class RunInterrupted(Exception):
    """What a recovery after an interrupted run names as its cause."""


class _Abandoned(Exception):
    """Raised in a driver thread whose tick the event loop has given up on."""


@dataclass(slots=True)
class _Watch:
    """What the driver thread is doing, for the event loop's watchdog (guarded by ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    phase: TickPhase | None = None  # the phase in progress, None between phases
    since: float = 0.0  # time.monotonic() when it started
    shard: ShardId | None = None  # the shard whose phase the driver runs itself, if any
    abandoned: bool = False
    results: list[DistributedTickResult] = field(default_factory=list)  # completed ticks
    stopped: bool = False  # the run's ``until`` accepted the last tick
    # the driver's pause of the cyclic collector for the tick it runs: ended by the event
    # loop too when it leaves a stuck driver behind, else the collector would stay off for
    # the whole process for as long as the driver stayed stuck
    gc: GcPause = field(default_factory=GcPause)


class _Watchdog:
    """Fires when the driver thread spends longer than ``limit`` seconds in one phase: marks
    the run abandoned, notes the phase (``stuck``) and wakes the event loop. It re-arms its
    timer until :meth:`cancel`, which also ends the reference cycle between it and the
    timer (a cycle would keep the job's tick results alive until a full collection)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        watch: _Watch,
        limit: float,
        woken: asyncio.Future[None],
    ) -> None:
        self._loop = loop
        self._watch = watch
        self._limit = limit
        self._woken = woken
        self.stuck: tuple[TickPhase, ShardId | None] | None = None
        self._timer = loop.call_later(limit, self._check)

    def _check(self) -> None:
        watch = self._watch
        with watch.lock:
            now = time.monotonic()
            if watch.phase is not None and now - watch.since >= self._limit:
                watch.abandoned = True
                self.stuck = (watch.phase, watch.shard)
                _wake(self._woken)
                return
            due = (watch.since if watch.phase is not None else now) + self._limit
        self._timer = self._loop.call_later(max(due - now, 0.0), self._check)

    def cancel(self) -> None:
        """Stop watching (the pending timer is cancelled, which drops its callback)."""
        self._timer.cancel()


def _take_unstarted(futures: list[Future[Any] | None]) -> Iterator[int]:
    """Indices of the calls the pool has not started, last first, each cancelled (and its
    slot cleared) just before it is yielded, so the caller can run it instead."""
    for k in reversed(range(len(futures))):
        f = futures[k]
        if f is not None and f.cancel():
            futures[k] = None
            yield k


def _new_driver() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="phago-driver")


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _wake_threadsafe(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[None]) -> None:
    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
        loop.call_soon_threadsafe(_wake, fut)
