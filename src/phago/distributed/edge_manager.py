"""Bookkeeping of one shard's cross-shard edges.

REFERENCE.md §7.8 with the defects of §8 item 27 fixed:

* Edges carry ``from_shard``, so :meth:`CrossShardEdgeManager.remove_shard_edges` drops the
  outgoing edges *to* a lost shard **and** the incoming edges *from* it (the reference filters
  incoming edges by ``to_shard``, which is always the local shard, so it drops all or none).
* :meth:`~CrossShardEdgeManager.decay_edges` returns pruned edges with their *decayed* weight,
  the weight that fell under the threshold (the reference returns the pre-decay weight).
* Adding an edge between a pair that already has one replaces it instead of storing a
  duplicate that would then be decayed and counted twice.

Outgoing edges are keyed by ``from_node`` (a local node), incoming edges by ``to_node`` (also
local). Every added outgoing edge is also queued as *pending* until the runner takes it for
delivery to its owner shard. Edges are immutable; updates replace them.

The manager belongs to one shard and is not thread-safe; the shard's lock guards it.

Example:
    >>> from phago.ids import NodeId
    >>> from phago.distributed.types import CrossShardEdge, ShardId
    >>> m = CrossShardEdgeManager()
    >>> m.add_outgoing_edge(CrossShardEdge(NodeId(1), NodeId(9), ShardId(0), ShardId(2), 0.4))
    >>> m.connected_shards(), m.pending_count()
    ([ShardId(2)], 1)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from phago.distributed.types import CrossShardEdge, ShardId, as_shard_id
from phago.errors import ConfigError
from phago.ids import NodeId

__all__ = ["CrossShardEdgeManager", "CrossShardEdgeStats"]


@dataclass(slots=True)
class CrossShardEdgeStats:
    """Counters of a :class:`CrossShardEdgeManager`.

    Example:
        >>> CrossShardEdgeStats(0, 0, 0).average_weight
        0.0
    """

    outgoing_edges: int
    incoming_edges: int
    pending_resolution: int
    connected_shards: list[ShardId] = field(default_factory=list)
    edges_by_shard: dict[ShardId, int] = field(default_factory=dict)
    average_weight: float = 0.0


def _upsert(table: dict[NodeId, list[CrossShardEdge]], key: NodeId, edge: CrossShardEdge) -> None:
    """Put ``edge`` under ``key``, replacing an edge between the same two nodes."""
    edges = table.setdefault(key, [])
    for i, old in enumerate(edges):
        if old.from_node == edge.from_node and old.to_node == edge.to_node:
            edges[i] = edge
            return
    edges.append(edge)


def _filter(
    table: dict[NodeId, list[CrossShardEdge]], drop: Callable[[CrossShardEdge], bool]
) -> int:
    """Remove the edges for which ``drop`` is true (and emptied keys); return how many."""
    removed = 0
    for key in list(table):
        kept = [e for e in table[key] if not drop(e)]
        removed += len(table[key]) - len(kept)
        if kept:
            table[key] = kept
        else:
            del table[key]
    return removed


class CrossShardEdgeManager:
    """Outgoing, incoming and pending cross-shard edges of one shard.

    Example:
        >>> from phago.ids import NodeId
        >>> from phago.distributed.types import CrossShardEdge, ShardId
        >>> m = CrossShardEdgeManager()
        >>> e = CrossShardEdge(NodeId(1), NodeId(9), ShardId(0), ShardId(2), 0.5)
        >>> m.add_outgoing_edge(e)
        >>> m.strengthen_edge(NodeId(1), NodeId(9), 0.7).weight  # capped at 1.0
        1.0
        >>> [round(p.weight, 3) for p in m.decay_edges(rate=0.5, threshold=0.6)]
        [0.5]
        >>> m.outgoing_count()
        0
    """

    def __init__(self) -> None:
        self._outgoing: dict[NodeId, list[CrossShardEdge]] = {}
        self._incoming: dict[NodeId, list[CrossShardEdge]] = {}
        self._pending: list[CrossShardEdge] = []

    # -- adding -------------------------------------------------------------------------------

    def add_outgoing_edge(self, edge: CrossShardEdge) -> None:
        """Store an edge from a local node to a remote one and queue it for delivery."""
        _upsert(self._outgoing, edge.from_node, edge)
        self._pending.append(edge)

    def add_incoming_edge(self, edge: CrossShardEdge) -> None:
        """Store an edge from a remote node to a local one."""
        _upsert(self._incoming, edge.to_node, edge)

    # -- pending ------------------------------------------------------------------------------

    def pending_edges(self) -> list[CrossShardEdge]:
        """The edges waiting for delivery, oldest first (a copy)."""
        return list(self._pending)

    def pending_count(self) -> int:
        """Number of edges waiting for delivery."""
        return len(self._pending)

    def has_pending(self) -> bool:
        """True if any edge waits for delivery."""
        return bool(self._pending)

    def clear_pending(self) -> None:
        """Forget the edges waiting for delivery."""
        self._pending.clear()

    def take_pending(self) -> list[CrossShardEdge]:
        """Remove and return the edges waiting for delivery, oldest first."""
        taken, self._pending = self._pending, []
        return taken

    def pending_by_shard(self) -> dict[ShardId, list[CrossShardEdge]]:
        """The pending edges grouped by destination shard (sorted by shard; not drained)."""
        groups: dict[ShardId, list[CrossShardEdge]] = {}
        for e in self._pending:
            groups.setdefault(e.to_shard, []).append(e)
        return dict(sorted(groups.items()))

    def take_pending_by_shard(self) -> dict[ShardId, list[CrossShardEdge]]:
        """Drain the pending edges, grouped by destination shard (sorted by shard)."""
        groups = self.pending_by_shard()
        self._pending = []
        return groups

    # -- lookups ------------------------------------------------------------------------------

    def get_outgoing(self, node: NodeId) -> list[CrossShardEdge]:
        """Outgoing edges of local node ``node`` (a copy)."""
        return list(self._outgoing.get(node, ()))

    def has_outgoing(self, node: NodeId) -> bool:
        """True if local node ``node`` has outgoing cross-shard edges."""
        return node in self._outgoing

    def get_incoming(self, node: NodeId) -> list[CrossShardEdge]:
        """Incoming edges of local node ``node`` (a copy)."""
        return list(self._incoming.get(node, ()))

    def has_incoming(self, node: NodeId) -> bool:
        """True if local node ``node`` has incoming cross-shard edges."""
        return node in self._incoming

    def outgoing_edges(self) -> list[CrossShardEdge]:
        """Every outgoing edge, in insertion order of their source nodes."""
        return [e for edges in self._outgoing.values() for e in edges]

    def incoming_edges(self) -> list[CrossShardEdge]:
        """Every incoming edge, in insertion order of their target nodes."""
        return [e for edges in self._incoming.values() for e in edges]

    def outgoing_count(self) -> int:
        """Number of outgoing edges."""
        return sum(len(edges) for edges in self._outgoing.values())

    def incoming_count(self) -> int:
        """Number of incoming edges."""
        return sum(len(edges) for edges in self._incoming.values())

    def total_edges(self) -> int:
        """Outgoing plus incoming edges."""
        return self.outgoing_count() + self.incoming_count()

    # -- removal ------------------------------------------------------------------------------

    def remove_shard_edges(self, shard: ShardId | int) -> int:
        """Forget every edge to or from ``shard`` (e.g. when it goes offline).

        Drops outgoing edges to ``shard``, incoming edges from ``shard`` and pending edges
        involving it.

        Returns:
            Number of outgoing plus incoming edges removed (pending copies not counted).
        """
        sid = as_shard_id(shard)
        removed = _filter(self._outgoing, lambda e: e.to_shard == sid)
        removed += _filter(self._incoming, lambda e: e.from_shard == sid)
        self._pending = [e for e in self._pending if sid not in (e.to_shard, e.from_shard)]
        return removed

    def remove_node_edges(self, node: NodeId) -> int:
        """Forget every edge with ``node`` as either endpoint, pending ones included.

        Returns:
            Number of outgoing plus incoming edges removed.
        """

        def touches(e: CrossShardEdge) -> bool:
            return node in (e.from_node, e.to_node)

        removed = _filter(self._outgoing, touches) + _filter(self._incoming, touches)
        self._pending = [e for e in self._pending if not touches(e)]
        return removed

    # -- weights ------------------------------------------------------------------------------

    def decay_edges(self, rate: float, threshold: float) -> list[CrossShardEdge]:
        """Multiply every weight by ``1 - rate`` and prune edges that fall under ``threshold``.

        Args:
            rate: decay rate in ``[0, 1]``.
            threshold: edges whose decayed weight is below this are removed.

        Returns:
            The pruned *outgoing* edges, carrying their decayed weight. Pruned incoming edges
            are dropped silently (their owner shard reports them).

        Raises:
            ConfigError: if ``rate`` is outside ``[0, 1]``.
        """
        if not 0.0 <= rate <= 1.0:
            raise ConfigError(f"decay rate must be in [0, 1], got {rate!r}")
        keep = 1.0 - rate
        pruned: list[CrossShardEdge] = []
        for table, report in ((self._outgoing, True), (self._incoming, False)):
            for key in list(table):
                kept: list[CrossShardEdge] = []
                for e in table[key]:
                    decayed = e.with_weight(e.weight * keep)
                    if decayed.weight < threshold:
                        if report:
                            pruned.append(decayed)
                    else:
                        kept.append(decayed)
                if kept:
                    table[key] = kept
                else:
                    del table[key]
        return pruned

    def strengthen_edge(
        self, from_node: NodeId, to_node: NodeId, amount: float
    ) -> CrossShardEdge | None:
        """Add ``amount`` to the weight of the outgoing edge ``from_node -> to_node``.

        The weight is clamped to ``[0, 1]``.

        Returns:
            The updated edge, or None if there is no such outgoing edge.
        """
        edges = self._outgoing.get(from_node, [])
        for i, e in enumerate(edges):
            if e.to_node == to_node:
                edges[i] = e.with_weight(min(1.0, max(0.0, e.weight + amount)))
                return edges[i]
        return None

    # -- summaries ----------------------------------------------------------------------------

    def connected_shards(self) -> list[ShardId]:
        """Distinct destination shards of the outgoing edges, sorted."""
        return sorted({e.to_shard for edges in self._outgoing.values() for e in edges})

    def edges_by_shard(self) -> dict[ShardId, int]:
        """Number of outgoing edges per destination shard (sorted by shard)."""
        counts: dict[ShardId, int] = {}
        for edges in self._outgoing.values():
            for e in edges:
                counts[e.to_shard] = counts.get(e.to_shard, 0) + 1
        return dict(sorted(counts.items()))

    def stats(self) -> CrossShardEdgeStats:
        """Counts, connected shards and the mean outgoing weight (0.0 when there is none)."""
        outgoing = self.outgoing_edges()
        mean = sum(e.weight for e in outgoing) / len(outgoing) if outgoing else 0.0
        return CrossShardEdgeStats(
            outgoing_edges=len(outgoing),
            incoming_edges=self.incoming_count(),
            pending_resolution=len(self._pending),
            connected_shards=self.connected_shards(),
            edges_by_shard=self.edges_by_shard(),
            average_weight=mean,
        )

    def __repr__(self) -> str:
        return (
            f"CrossShardEdgeManager(outgoing={self.outgoing_count()}, "
            f"incoming={self.incoming_count()}, pending={len(self._pending)})"
        )
