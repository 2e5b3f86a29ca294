"""Registry of the shards of a cluster: addresses, status, heartbeats and load metrics.

Follows REFERENCE.md §7.3 with the defects of §8 item 22 fixed:

* ``register(info)`` honours ``info.id`` when it is set (the reference ignores it) and only
  assigns the next free id when it is ``None``; registering a taken id raises.
* A heartbeat revives a shard marked ``Offline`` or ``Recovering``: a shard that heartbeats is
  alive. ``Draining`` is an operator decision and is kept.
* ``check_dead_shards`` marks every shard that is not already ``Offline`` and has missed the
  heartbeat timeout (the reference only looks at ``Online`` ones).

The clock is injectable (a callable returning milliseconds), so tests need no sleeping. All
methods are thread-safe; the infos handed out are copies, never live state.

Example:
    >>> from phago.distributed.types import ShardId, ShardInfo
    >>> reg = ShardRegistry(heartbeat_timeout_ms=1000, clock=lambda: 0.0)
    >>> reg.register(ShardInfo(ShardId(5), "10.0.0.5:7000"))
    ShardId(5)
    >>> reg.register(ShardInfo())
    ShardId(6)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from phago.distributed.types import ShardId, ShardInfo, ShardStatus, as_shard_id
from phago.errors import ConfigError, ShardNotFound

__all__ = ["ShardRegistry"]

# Accepted metric keywords of heartbeat(), mapped to ShardInfo fields.
_METRIC_FIELDS = {
    "documents": "document_count",
    "document_count": "document_count",
    "nodes": "node_count",
    "node_count": "node_count",
    "edges": "edge_count",
    "edge_count": "edge_count",
    "memory_bytes": "memory_bytes",
}


def _wall_clock_ms() -> float:
    return time.time() * 1000.0


class ShardRegistry:
    """Thread-safe map from shard id to :class:`ShardInfo`.

    Args:
        heartbeat_timeout_ms: a shard whose last heartbeat is older than this is dead.
        clock: returns the current time in milliseconds (default: wall clock since the epoch).

    Raises:
        ConfigError: if ``heartbeat_timeout_ms`` is not positive.

    Example:
        >>> now = [0.0]
        >>> reg = ShardRegistry(heartbeat_timeout_ms=100, clock=lambda: now[0])
        >>> a, b = reg.register(ShardInfo()), reg.register(ShardInfo())
        >>> now[0] = 150.0
        >>> reg.heartbeat(b, documents=4)
        >>> reg.check_dead_shards()
        [ShardId(0)]
        >>> reg.online_shards(), reg.total_documents()
        ([ShardId(1)], 4)
    """

    def __init__(
        self,
        heartbeat_timeout_ms: float = 30_000,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not heartbeat_timeout_ms > 0:
            raise ConfigError(f"heartbeat_timeout_ms must be > 0, got {heartbeat_timeout_ms!r}")
        self._timeout_ms = float(heartbeat_timeout_ms)
        self._clock = clock if clock is not None else _wall_clock_ms
        self._lock = threading.Lock()
        self._shards: dict[ShardId, ShardInfo] = {}
        self._next_id = 0

    @property
    def heartbeat_timeout_ms(self) -> float:
        """Heartbeat timeout in milliseconds."""
        return self._timeout_ms

    # -- membership ---------------------------------------------------------------------------

    def register(self, info: ShardInfo) -> ShardId:
        """Register a shard under ``info.id``, or under the next free id when it is ``None``.

        The stored record is a copy of ``info`` with its id set, its heartbeat set to now and
        its status ``Online``.

        Returns:
            The shard's id.

        Raises:
            ConfigError: if ``info.id`` is already registered.
        """
        with self._lock:
            if info.id is None:
                while ShardId(self._next_id) in self._shards:
                    self._next_id += 1
                shard = ShardId(self._next_id)
            else:
                shard = as_shard_id(info.id)
            return self._insert(info, shard)

    def register_with_id(self, info: ShardInfo, shard_id: ShardId | int) -> ShardId:
        """Register a shard under ``shard_id``, whatever ``info.id`` says.

        Raises:
            ConfigError: if ``shard_id`` is already registered.
        """
        with self._lock:
            return self._insert(info, as_shard_id(shard_id))

    def _insert(self, info: ShardInfo, shard: ShardId) -> ShardId:
        if shard in self._shards:
            raise ConfigError(f"{shard} is already registered")
        self._shards[shard] = replace(
            info, id=shard, last_heartbeat_ms=self._clock(), status=ShardStatus.ONLINE
        )
        self._next_id = max(self._next_id, shard.value + 1)
        return shard

    def remove(self, shard_id: ShardId | int) -> ShardInfo:
        """Remove a shard and return its last record.

        Raises:
            ShardNotFound: if the shard is not registered.
        """
        shard = as_shard_id(shard_id)
        with self._lock:
            info = self._shards.pop(shard, None)
        if info is None:
            raise ShardNotFound(shard)
        return info

    def get(self, shard_id: ShardId | int) -> ShardInfo | None:
        """A copy of the shard's record, or None if it is not registered."""
        with self._lock:
            info = self._shards.get(as_shard_id(shard_id))
            return None if info is None else replace(info)

    def all(self) -> list[ShardInfo]:
        """Copies of every record, sorted by id."""
        with self._lock:
            return [replace(self._shards[s]) for s in sorted(self._shards)]

    def all_ids(self) -> list[ShardId]:
        """Every registered id, sorted."""
        with self._lock:
            return sorted(self._shards)

    def count(self) -> int:
        """Number of registered shards."""
        with self._lock:
            return len(self._shards)

    def __len__(self) -> int:
        return self.count()

    def contains(self, shard_id: ShardId | int) -> bool:
        """True if the shard is registered."""
        with self._lock:
            return as_shard_id(shard_id) in self._shards

    def __contains__(self, shard_id: object) -> bool:
        if not isinstance(shard_id, ShardId | int):
            return False
        try:
            return self.contains(shard_id)
        except ConfigError:
            return False

    # -- liveness and metrics -----------------------------------------------------------------

    def _record(self, shard: ShardId) -> ShardInfo:
        info = self._shards.get(shard)
        if info is None:
            raise ShardNotFound(shard)
        return info

    def heartbeat(
        self, shard_id: ShardId | int, now_ms: float | None = None, **metrics: int
    ) -> None:
        """Record a heartbeat, optionally with fresh metrics.

        ``Offline`` and ``Recovering`` shards become ``Online`` (the reference keeps Offline
        shards dead forever); ``Draining`` stays ``Draining``.

        Args:
            shard_id: the shard.
            now_ms: heartbeat time (default: the registry's clock).
            **metrics: any of ``documents``/``document_count``, ``nodes``/``node_count``,
                ``edges``/``edge_count``, ``memory_bytes``.

        Raises:
            ShardNotFound: if the shard is not registered.
            TypeError: for an unknown metric name.
        """
        unknown = set(metrics) - set(_METRIC_FIELDS)
        if unknown:
            raise TypeError(f"unknown heartbeat metrics: {sorted(unknown)}")
        shard = as_shard_id(shard_id)
        with self._lock:
            info = self._record(shard)
            info.last_heartbeat_ms = self._clock() if now_ms is None else float(now_ms)
            if info.status in (ShardStatus.OFFLINE, ShardStatus.RECOVERING):
                info.status = ShardStatus.ONLINE
            for name, value in metrics.items():
                setattr(info, _METRIC_FIELDS[name], int(value))

    def set_status(self, shard_id: ShardId | int, status: ShardStatus) -> None:
        """Set a shard's status.

        Raises:
            ShardNotFound: if the shard is not registered.
        """
        with self._lock:
            self._record(as_shard_id(shard_id)).status = status

    def get_status(self, shard_id: ShardId | int) -> ShardStatus | None:
        """A shard's status, or None if it is not registered."""
        with self._lock:
            info = self._shards.get(as_shard_id(shard_id))
            return None if info is None else info.status

    def update_metrics(
        self,
        shard_id: ShardId | int,
        documents: int,
        memory_bytes: int,
        nodes: int | None = None,
        edges: int | None = None,
    ) -> None:
        """Update a shard's load metrics (``nodes``/``edges`` only when given).

        Raises:
            ShardNotFound: if the shard is not registered.
        """
        with self._lock:
            info = self._record(as_shard_id(shard_id))
            info.document_count = int(documents)
            info.memory_bytes = int(memory_bytes)
            if nodes is not None:
                info.node_count = int(nodes)
            if edges is not None:
                info.edge_count = int(edges)

    def shards_with_status(self, status: ShardStatus) -> list[ShardId]:
        """Ids of the shards with ``status``, sorted."""
        with self._lock:
            return sorted(s for s, info in self._shards.items() if info.status is status)

    def online_shards(self) -> list[ShardId]:
        """Ids of the ``Online`` shards, sorted."""
        return self.shards_with_status(ShardStatus.ONLINE)

    def total_documents(self) -> int:
        """Sum of the document counts of all registered shards."""
        with self._lock:
            return sum(info.document_count for info in self._shards.values())

    def total_memory(self) -> int:
        """Sum of the memory of all registered shards, in bytes."""
        with self._lock:
            return sum(info.memory_bytes for info in self._shards.values())

    def least_loaded_shard(self) -> ShardId | None:
        """The ``Online`` shard with the fewest documents (lowest id on ties), or None."""
        with self._lock:
            online = [
                (info.document_count, s)
                for s, info in self._shards.items()
                if info.status is ShardStatus.ONLINE
            ]
        return min(online)[1] if online else None

    def check_dead_shards(self, now_ms: float | None = None) -> list[ShardId]:
        """Mark ``Offline`` every shard whose last heartbeat is older than the timeout.

        Args:
            now_ms: the current time (default: the registry's clock).

        Returns:
            The shards newly marked ``Offline``, sorted. Already-offline shards are not
            reported again.
        """
        with self._lock:
            now = self._clock() if now_ms is None else float(now_ms)
            dead = sorted(
                s
                for s, info in self._shards.items()
                if info.status is not ShardStatus.OFFLINE
                and now - info.last_heartbeat_ms > self._timeout_ms
            )
            for s in dead:
                self._shards[s].status = ShardStatus.OFFLINE
        return dead

    def __repr__(self) -> str:
        return f"ShardRegistry(shards={[s.value for s in self.all_ids()]})"
