"""Coordinator: the cluster's routing table, shard registry, tick counter and tick barrier.

REFERENCE.md §7.5 with the defects of §8 items 21–22 fixed:

* The ring is populated with shards ``0 .. num_shards - 1`` once. Registering a shard that is
  already in the ring does not add it again, so ``shard_count`` stays ``num_shards`` (the
  reference reports 6 after ``Coordinator(3)`` plus three registrations).
* ``register_shard`` honours ``ShardInfo.id``; a shard that heartbeats again comes back
  ``Online``.
* ``deregister_shard`` removes the shard from the registry, the ring *and* the barrier, so
  its keys move to the next shards and phases stop waiting for it.
* The barrier expects the ring's shard ids and has a single deadline per wait; ``set_tick``
  (checkpoint restore) clears every completion so a replayed tick cannot see stale ones.

Marking a silent shard ``Offline`` (``check_shard_health``) does not change routing: moving
ownership means moving data, which is the runner's decision (roll back, or deregister).

Example:
    >>> from phago.distributed.types import ShardInfo, ShardId, TickPhase
    >>> coord = Coordinator(3)
    >>> for i in range(3):
    ...     _ = coord.register_shard(ShardInfo(ShardId(i)))
    >>> coord.shard_count, coord.route_document(42) in coord.ring.all_shards()
    (3, True)
    >>> for i in range(3):
    ...     coord.phase_complete(ShardId(i), TickPhase.SENSE, 0)
    >>> coord.wait_for_phase(TickPhase.SENSE, 0)
    >>> coord.advance_tick()
    1
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import numpy.typing as npt

from phago.distributed.barrier import TickBarrier
from phago.distributed.hashing import ConsistentHashRing, RingKey
from phago.distributed.registry import ShardRegistry
from phago.distributed.types import (
    ClusterStats,
    DistributedConfig,
    ShardId,
    ShardInfo,
    TickPhase,
    as_shard_id,
)
from phago.errors import ShardNotFound

__all__ = ["Coordinator"]


class Coordinator:
    """Routes documents and nodes to shards and synchronises the phases of each tick.

    Args:
        num_shards: shards ``0 .. num_shards - 1`` are placed on the ring (default 3).
        phase_timeout_s: default timeout of :meth:`wait_for_phase`, in seconds.
        heartbeat_timeout_ms: a registered shard silent for longer is marked ``Offline``.
        clock: the registry's clock in milliseconds (for tests).

    Raises:
        ConfigError: for an invalid shard count or timeout.

    Example:
        >>> from phago.distributed.types import DistributedConfig
        >>> coord = Coordinator.with_config(DistributedConfig(num_shards=4, replication_factor=1))
        >>> len(coord.get_replica_shards(7)), coord.current_tick
        (2, 0)
    """

    def __init__(
        self,
        num_shards: int = 3,
        *,
        phase_timeout_s: float = 30.0,
        heartbeat_timeout_ms: float = 30_000,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._setup(
            DistributedConfig(num_shards=num_shards).validate(),
            phase_timeout_s,
            heartbeat_timeout_ms,
            clock,
        )

    @classmethod
    def with_config(
        cls,
        config: DistributedConfig,
        *,
        phase_timeout_s: float = 30.0,
        heartbeat_timeout_ms: float = 30_000,
        clock: Callable[[], float] | None = None,
    ) -> Coordinator:
        """A coordinator for ``config`` (its ring uses ``config.virtual_nodes_per_shard``).

        Raises:
            ConfigError: if ``config`` is invalid.
        """
        coord = cls.__new__(cls)
        coord._setup(config.validate(), phase_timeout_s, heartbeat_timeout_ms, clock)
        return coord

    def _setup(
        self,
        config: DistributedConfig,
        phase_timeout_s: float,
        heartbeat_timeout_ms: float,
        clock: Callable[[], float] | None,
    ) -> None:
        self._config = config
        self._ring = ConsistentHashRing(config.num_shards, config.virtual_nodes_per_shard)
        self._registry = ShardRegistry(heartbeat_timeout_ms, clock)
        self._barrier = TickBarrier(self._ring.all_shards(), timeout_s=phase_timeout_s)
        self._lock = threading.Lock()
        self._tick = 0
        self._global_df: dict[str, int] = {}

    # -- parts --------------------------------------------------------------------------------

    @property
    def config(self) -> DistributedConfig:
        """The cluster configuration."""
        return self._config

    @property
    def ring(self) -> ConsistentHashRing:
        """The hash ring (shared: shards may route with it directly)."""
        return self._ring

    @property
    def registry(self) -> ShardRegistry:
        """The shard registry."""
        return self._registry

    @property
    def barrier(self) -> TickBarrier:
        """The tick barrier."""
        return self._barrier

    @property
    def shard_count(self) -> int:
        """Number of shards on the ring."""
        return self._ring.shard_count

    # -- membership ---------------------------------------------------------------------------

    def register_shard(self, info: ShardInfo) -> ShardId:
        """Register a shard (honouring ``info.id``) and make sure it is on the ring.

        A shard already on the ring (e.g. one of the initial ``0 .. num_shards - 1``) is not
        added again.

        Returns:
            The shard's id.

        Raises:
            ConfigError: if the id is already registered.
        """
        with self._lock:
            shard = self._registry.register(info)
            if self._ring.add_shard(shard):
                self._barrier.add_shard(shard)
            return shard

    def deregister_shard(self, shard_id: ShardId | int) -> ShardInfo | None:
        """Remove a shard from the registry, the ring and the barrier.

        Returns:
            The shard's last registry record, or None if it was only on the ring.

        Raises:
            ShardNotFound: if the shard is neither registered nor on the ring.
        """
        shard = as_shard_id(shard_id)
        with self._lock:
            registered = self._registry.contains(shard)
            on_ring = self._ring.contains(shard)
            if not (registered or on_ring):
                raise ShardNotFound(shard)
            info = self._registry.remove(shard) if registered else None
            if on_ring:
                self._ring.remove_shard(shard)
            self._barrier.remove_shard(shard)
            return info

    def get_shard(self, shard_id: ShardId | int) -> ShardInfo | None:
        """A copy of a registered shard's record, or None."""
        return self._registry.get(shard_id)

    def all_shards(self) -> list[ShardInfo]:
        """Copies of every registered shard's record, sorted by id."""
        return self._registry.all()

    def online_shards(self) -> list[ShardId]:
        """Ids of the registered shards that are ``Online``, sorted."""
        return self._registry.online_shards()

    # -- routing ------------------------------------------------------------------------------

    def route_document(self, doc_id: RingKey) -> ShardId:
        """The shard owning document ``doc_id``.

        Raises:
            RoutingFailed: if the ring is empty.
        """
        return self._ring.get_shard(doc_id)

    def route_documents(self, doc_ids: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The shards owning documents ``doc_ids`` (integer ids), in one vectorised pass.

        Raises:
            RoutingFailed: if the ring is empty and ``doc_ids`` is not.

        Example:
            >>> coord = Coordinator(3)
            >>> ids = [12, 34, 56]
            >>> coord.route_documents(ids).tolist() == [int(coord.route_document(i)) for i in ids]
            True
        """
        return self._ring.get_shards(np.asarray(doc_ids, dtype=np.uint64))

    def route_node(self, node_id: RingKey) -> ShardId:
        """The shard owning graph node ``node_id``.

        Raises:
            RoutingFailed: if the ring is empty.
        """
        return self._ring.get_shard(node_id)

    def get_replica_shards(self, doc_id: RingKey) -> list[ShardId]:
        """The owner of ``doc_id`` followed by up to ``replication_factor`` other shards."""
        return self._ring.get_replica_shards(doc_id, self._config.replication_factor)

    # -- ticks and phases ---------------------------------------------------------------------

    def phase_complete(self, shard_id: ShardId | int, phase: TickPhase, tick: int) -> None:
        """Record that a shard finished ``phase`` of ``tick``.

        Raises:
            ShardNotFound: if the shard is not on the ring.
        """
        self._barrier.complete(shard_id, phase, tick)

    def phases_complete(
        self, shard_ids: Iterable[ShardId | int], phase: TickPhase, tick: int
    ) -> None:
        """Record that each of ``shard_ids`` finished ``phase`` of ``tick`` (one barrier update).

        Raises:
            ShardNotFound: if a shard is not on the ring (then none is recorded).
        """
        self._barrier.complete_many(shard_ids, phase, tick)

    def wait_for_phase(self, phase: TickPhase, tick: int, timeout_s: float | None = None) -> None:
        """Block until every shard finished ``phase`` of ``tick``.

        Raises:
            PhaseTimeout: if the deadline passes first (the message names pending shards).
            BarrierFailed: if no shard is on the ring.
        """
        self._barrier.wait_all(phase, tick, timeout_s)

    async def wait_for_phase_async(
        self, phase: TickPhase, tick: int, timeout_s: float | None = None
    ) -> None:
        """Asyncio version of :meth:`wait_for_phase`."""
        await self._barrier.wait_all_async(phase, tick, timeout_s)

    @property
    def current_tick(self) -> int:
        """The current tick (starts at 0)."""
        with self._lock:
            return self._tick

    def advance_tick(self) -> int:
        """Increment the tick atomically, forget older completions and return the new tick."""
        with self._lock:
            self._tick += 1
            tick = self._tick
        self._barrier.reset_for_tick(tick)
        return tick

    def set_tick(self, tick: int) -> None:
        """Set the tick (checkpoint restore) and forget every barrier completion.

        Raises:
            ValueError: if ``tick`` is negative.
        """
        if tick < 0:
            raise ValueError(f"tick must be >= 0, got {tick}")
        with self._lock:
            self._tick = int(tick)
            self._barrier.clear()

    # -- global document frequencies ----------------------------------------------------------

    @staticmethod
    def aggregate_global_df(per_shard: Iterable[Mapping[str, int]]) -> dict[str, int]:
        """Key-wise sum of per-shard document frequencies.

        Example:
            >>> Coordinator.aggregate_global_df([{"a": 1, "b": 2}, {"a": 3}])
            {'a': 4, 'b': 2}
        """
        total: dict[str, int] = {}
        for df in per_shard:
            for term, n in df.items():
                total[term] = total.get(term, 0) + n
        return total

    def record_global_df(self, df: Mapping[str, int]) -> None:
        """Store the cluster-wide document frequencies (replacing the previous ones)."""
        with self._lock:
            self._global_df = dict(df)

    def global_df(self) -> dict[str, int]:
        """A copy of the stored cluster-wide document frequencies."""
        with self._lock:
            return dict(self._global_df)

    # -- health and metrics -------------------------------------------------------------------

    def shard_heartbeat(self, shard_id: ShardId | int, **metrics: int) -> None:
        """Record a heartbeat of a registered shard (reviving it if it was ``Offline``).

        Raises:
            ShardNotFound: if the shard is not registered.
        """
        self._registry.heartbeat(shard_id, **metrics)

    def check_shard_health(self) -> list[ShardId]:
        """Mark silent shards ``Offline``; return the ones newly marked."""
        return self._registry.check_dead_shards()

    def update_shard_metrics(
        self,
        shard_id: ShardId | int,
        documents: int,
        memory_bytes: int,
        nodes: int | None = None,
        edges: int | None = None,
    ) -> None:
        """Update a registered shard's load metrics.

        Raises:
            ShardNotFound: if the shard is not registered.
        """
        self._registry.update_metrics(shard_id, documents, memory_bytes, nodes, edges)

    def total_documents(self) -> int:
        """Sum of the registered shards' document counts."""
        return self._registry.total_documents()

    def cluster_stats(self) -> ClusterStats:
        """Registered and online shard counts, documents, memory and the current tick."""
        return ClusterStats(
            total_shards=self._registry.count(),
            online_shards=len(self._registry.online_shards()),
            total_documents=self._registry.total_documents(),
            total_memory_bytes=self._registry.total_memory(),
            current_tick=self.current_tick,
        )

    def __repr__(self) -> str:
        return (
            f"Coordinator(shards={[s.value for s in self._ring.all_shards()]}, "
            f"tick={self.current_tick})"
        )
