"""LRU cache of ghost nodes: local stand-ins for nodes owned by other shards.

REFERENCE.md §7.7 with the defects of §8 item 27 fixed: every operation is O(1) (an
:class:`~collections.OrderedDict` keeps recency order; the reference scans a list), and a
cache of capacity 0 stores nothing (the reference keeps one entry). Hits, misses and
evictions are counted.

The cache belongs to one shard and is not thread-safe; the shard's lock guards it.

Example:
    >>> from phago.ids import NodeId
    >>> from phago.distributed.types import GhostNode, ShardId
    >>> cache = GhostNodeCache(capacity=2)
    >>> for i in range(3):
    ...     _ = cache.insert(GhostNode(NodeId(i), ShardId(1), f"n{i}"))
    >>> sorted(cache.all_nodes(), key=lambda g: g.node_id)[0].label  # n0 was evicted
    'n1'
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from phago.distributed.types import GhostNode, ShardId, as_shard_id
from phago.errors import ConfigError
from phago.ids import DocumentId, NodeId
from phago.types import NodeData, NodeType, Position

__all__ = ["GhostCacheStats", "GhostNodeCache"]


@dataclass(slots=True)
class GhostCacheStats:
    """Counters of a :class:`GhostNodeCache`.

    Example:
        >>> GhostCacheStats(total_nodes=0, max_capacity=10).hits
        0
    """

    total_nodes: int
    max_capacity: int
    nodes_by_shard: dict[ShardId, int] = field(default_factory=dict)
    nodes_with_full_data: int = 0
    hits: int = 0
    misses: int = 0
    evictions: int = 0


class GhostNodeCache:
    """Least-recently-used cache from NodeId to :class:`GhostNode`.

    Args:
        capacity: the most ghosts kept (default 1000); 0 disables caching.

    Raises:
        ConfigError: if ``capacity`` is negative.

    Example:
        >>> from phago.ids import NodeId
        >>> from phago.distributed.types import GhostNode, ShardId
        >>> cache = GhostNodeCache(capacity=2)
        >>> _ = cache.insert(GhostNode(NodeId(1), ShardId(0), "a"))
        >>> _ = cache.insert(GhostNode(NodeId(2), ShardId(0), "b"))
        >>> cache.get(NodeId(1)).label  # touches 1, so 2 is now least recent
        'a'
        >>> cache.insert(GhostNode(NodeId(3), ShardId(1), "c")).label  # evicts 2
        'b'
        >>> NodeId(2) in cache, len(cache), cache.stats().evictions
        (False, 2, 1)
    """

    def __init__(self, capacity: int = 1000) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise ConfigError(f"capacity must be an integer >= 0, got {capacity!r}")
        self._capacity = capacity
        self._nodes: OrderedDict[NodeId, GhostNode] = OrderedDict()
        self._hits = 0
        self._misses = 0
        self._evictions = 0

    def __getstate__(self) -> dict[str, Any]:
        """Compact state (plain tuples, not dataclasses), so shard snapshots stay cheap.

        Runs at every rollback checkpoint of a shard, so it avoids per-ghost function calls
        (the shard id is read as its ``value``; enum members are memoised by pickle).
        """
        rows = [
            (
                g.node_id,
                g.shard_id.value,
                g.label,
                None
                if (d := g.full_data) is None
                else (
                    d.id,
                    d.label,
                    d.node_type,
                    d.position.x,
                    d.position.y,
                    d.access_count,
                    d.created_tick,
                    tuple(map(int, d.documents)) if d.documents else (),
                ),
            )
            for g in self._nodes.values()
        ]
        return {
            "capacity": self._capacity,
            "rows": rows,
            "counters": (self._hits, self._misses, self._evictions),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild from :meth:`__getstate__` (LRU order kept)."""
        self._capacity = state["capacity"]
        self._hits, self._misses, self._evictions = state["counters"]
        self._nodes = OrderedDict()
        for nid, shard, label, data in state["rows"]:
            full = None
            if data is not None:
                did, dlabel, dtype, x, y, access, created, docs = data
                full = NodeData(
                    NodeId(did),
                    dlabel,
                    NodeType(dtype),
                    Position(x, y),
                    access,
                    created,
                    tuple(DocumentId(doc) for doc in docs),
                )
            self._nodes[NodeId(nid)] = GhostNode(NodeId(nid), ShardId(shard), label, full)

    @property
    def capacity(self) -> int:
        """The most ghosts kept."""
        return self._capacity

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def contains(self, node_id: NodeId) -> bool:
        """True if a ghost for ``node_id`` is cached (does not touch it)."""
        return node_id in self._nodes

    def get(self, node_id: NodeId) -> GhostNode | None:
        """The cached ghost, made most recent; None (a miss) if absent."""
        ghost = self._nodes.get(node_id)
        if ghost is None:
            self._misses += 1
            return None
        self._nodes.move_to_end(node_id)
        self._hits += 1
        return ghost

    def peek(self, node_id: NodeId) -> GhostNode | None:
        """The cached ghost without touching it or counting a hit/miss."""
        return self._nodes.get(node_id)

    def insert(self, ghost: GhostNode) -> GhostNode | None:
        """Cache ``ghost`` as most recent, replacing a ghost of the same node.

        When the cache is full the least recent ghost is evicted first.

        Returns:
            The evicted ghost, if any.
        """
        if self._capacity == 0:
            return None
        if ghost.node_id in self._nodes:
            self._nodes[ghost.node_id] = ghost
            self._nodes.move_to_end(ghost.node_id)
            return None
        evicted = None
        if len(self._nodes) >= self._capacity:
            _, evicted = self._nodes.popitem(last=False)
            self._evictions += 1
        self._nodes[ghost.node_id] = ghost
        return evicted

    def insert_many(self, ghosts: Iterable[GhostNode]) -> int:
        """:meth:`insert` each ghost in turn (a shard stores a tick's ghost answers so).

        Returns:
            The number of ghosts evicted.

        Example:
            >>> from phago.ids import NodeId
            >>> from phago.distributed.types import GhostNode, ShardId
            >>> cache = GhostNodeCache(capacity=2)
            >>> cache.insert_many(GhostNode(NodeId(i), ShardId(0), f"n{i}") for i in range(3))
            1
            >>> [g.label for g in cache.all_nodes()]
            ['n1', 'n2']
        """
        if self._capacity == 0:
            return 0
        nodes, capacity, evicted = self._nodes, self._capacity, 0
        to_end, pop = nodes.move_to_end, nodes.popitem
        for ghost in ghosts:
            key = ghost.node_id
            if key in nodes:
                nodes[key] = ghost
                to_end(key)
                continue
            if len(nodes) >= capacity:
                pop(last=False)
                evicted += 1
            nodes[key] = ghost
        self._evictions += evicted
        return evicted

    def update_full_data(self, node_id: NodeId, data: NodeData) -> bool:
        """Resolve the cached ghost of ``node_id`` with ``data`` (recency unchanged).

        Returns:
            True if the ghost was cached.

        Raises:
            ValueError: if ``data`` describes another node.
        """
        ghost = self._nodes.get(node_id)
        if ghost is None:
            return False
        ghost.resolve(data)
        return True

    def remove(self, node_id: NodeId) -> GhostNode | None:
        """Drop and return the ghost of ``node_id``, if cached."""
        return self._nodes.pop(node_id, None)

    def clear(self) -> None:
        """Drop every ghost (the hit/miss/eviction counters are kept)."""
        self._nodes.clear()

    def nodes_from_shard(self, shard: ShardId | int) -> list[GhostNode]:
        """Cached ghosts owned by ``shard``, least recent first."""
        sid = as_shard_id(shard)
        return [g for g in self._nodes.values() if g.shard_id == sid]

    def all_nodes(self) -> list[GhostNode]:
        """Every cached ghost, least recent first."""
        return list(self._nodes.values())

    def invalidate_shard(self, shard: ShardId | int) -> int:
        """Drop every ghost owned by ``shard``; return how many were dropped."""
        sid = as_shard_id(shard)
        stale = [n for n, g in self._nodes.items() if g.shard_id == sid]
        for n in stale:
            del self._nodes[n]
        return len(stale)

    def stats(self) -> GhostCacheStats:
        """Current size, capacity, per-shard counts and counters."""
        by_shard: dict[ShardId, int] = {}
        for g in self._nodes.values():
            by_shard[g.shard_id] = by_shard.get(g.shard_id, 0) + 1
        return GhostCacheStats(
            total_nodes=len(self._nodes),
            max_capacity=self._capacity,
            nodes_by_shard=dict(sorted(by_shard.items())),
            nodes_with_full_data=sum(g.is_resolved for g in self._nodes.values()),
            hits=self._hits,
            misses=self._misses,
            evictions=self._evictions,
        )

    def __repr__(self) -> str:
        return f"GhostNodeCache(len={len(self._nodes)}, capacity={self._capacity})"
