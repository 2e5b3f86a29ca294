"""The degree cap across shards: each node keeps its ``max_edge_degree`` strongest edges in the
global graph, not on each shard.

A node's edges are stored on the owners of their smaller endpoints, so they are spread over
shards. Every shard caps the edges it stores at once (in its colony's Decay), which bounds a
node's degree per shard; this module bounds it over all shards, two ticks later, with
messages that travel with the ghost exchange (no extra phase, no extra round trip):

* **Decay**, storing shard to owner, with the ghost requests: a :class:`DegreeReport` with
  the local degrees of the owner's nodes that changed since the last report, and the local
  edges of the nodes the owner asked for.
* **Advance**, owner to storing shard, with the ghost answers (applied at the next Sense): a
  :class:`CapOrder`. The owner keeps each of its nodes' degrees per shard
  (:class:`GlobalDegreeCap`). It ranks the edges it was sent of a node together with its
  own, keeps the strongest ``max_edge_degree`` and orders the rest dropped; and it asks every
  shard storing edges of a node now over the cap for that node's edges.

A node pushed over the cap in the Act of tick ``t`` is reported at Decay ``t``, asked for at
Advance ``t``, ranked at Advance ``t + 1`` and trimmed at Sense ``t + 2``. Edges are ranked
by weight (heaviest first), then creation tick (oldest first), then the other endpoint's
NodeId, so the order does not depend on the shard count. As in one colony, an edge is
removed when either endpoint drops it. A shard that applies an order re-reports the
affected nodes' degrees, so the owners' tables are exact again a tick later.

Example:
    >>> import numpy as np
    >>> drop = rank_drops(
    ...     node=np.array([7, 7, 7, 9]), other=np.array([1, 2, 3, 1], dtype=np.uint64),
    ...     weight=np.array([0.5, 0.9, 0.5, 0.2]), created=np.array([3, 1, 2, 0]), k=2)
    >>> drop.tolist()  # node 7 keeps 0.9 and the older 0.5; node 9 has one edge
    [True, False, False, False]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from phago.graph import HebbianGraph

__all__ = ["CapOrder", "DegreeReport", "GlobalDegreeCap", "rank_drops"]

_INT = np.int64
_IDS = np.uint64


def _no_ids() -> npt.NDArray[np.uint64]:
    return np.zeros(0, dtype=_IDS)


def _no_ints() -> npt.NDArray[np.int64]:
    return np.zeros(0, dtype=_INT)


def _no_floats() -> npt.NDArray[np.float64]:
    return np.zeros(0, dtype=np.float64)


@dataclass(slots=True)
class DegreeReport:
    """What a storing shard tells an owner at Decay (sent with its ghost requests).

    Attributes:
        source: the storing shard.
        nodes: owner's nodes whose degree on ``source`` changed since the last report.
        degrees: their degrees on ``source`` now.
        edge_node: for the nodes the owner asked for, one entry per stored edge: the node,
        edge_other: the edge's other endpoint,
        edge_weight: its weight,
        edge_created: its creation tick.
    """

    source: int
    nodes: npt.NDArray[np.uint64] = field(default_factory=_no_ids)
    degrees: npt.NDArray[np.int64] = field(default_factory=_no_ints)
    edge_node: npt.NDArray[np.uint64] = field(default_factory=_no_ids)
    edge_other: npt.NDArray[np.uint64] = field(default_factory=_no_ids)
    edge_weight: npt.NDArray[np.float64] = field(default_factory=_no_floats)
    edge_created: npt.NDArray[np.int64] = field(default_factory=_no_ints)


@dataclass(slots=True)
class CapOrder:
    """What an owner tells a storing shard at Advance (sent with its ghost answers, applied
    at the next Sense).

    Attributes:
        owner: the owning shard.
        drop_a: edges to remove: one endpoint (a node ``owner`` owns) ...
        drop_b: ... and the other.
        ask: nodes ``owner`` owns whose edges to report at the next Decay.
    """

    owner: int
    drop_a: npt.NDArray[np.uint64] = field(default_factory=_no_ids)
    drop_b: npt.NDArray[np.uint64] = field(default_factory=_no_ids)
    ask: npt.NDArray[np.uint64] = field(default_factory=_no_ids)


def rank_drops(
    node: npt.ArrayLike,
    other: npt.ArrayLike,
    weight: npt.ArrayLike,
    created: npt.ArrayLike,
    k: int,
) -> npt.NDArray[np.bool_]:
    """Which edges fall outside their node's ``k`` strongest.

    Each entry is one edge seen from ``node``. A node's edges are ranked by weight
    (descending), then creation tick (ascending), then ``other`` (ascending); entries ranked
    ``k`` or later are dropped.

    Returns:
        One flag per entry, True for a dropped one.

    Raises:
        ValueError: the arrays differ in length, or ``k`` is negative.

    Example:
        >>> rank_drops([1, 1, 1], [5, 4, 6], [0.3, 0.3, 0.3], [0, 0, 0], k=1).tolist()
        [True, False, True]
    """
    nd = np.asarray(node)
    ot = np.asarray(other)
    w = np.asarray(weight, dtype=np.float64)
    ct = np.asarray(created, dtype=_INT)
    if not (len(nd) == len(ot) == len(w) == len(ct)):
        raise ValueError("node, other, weight and created must have one entry per edge")
    if k < 0:
        raise ValueError("k must be >= 0")
    drop = np.zeros(len(nd), dtype=np.bool_)
    if len(nd) <= k:
        return drop
    order = np.lexsort((ot, ct, -w, nd))  # the last key sorts first
    sorted_nodes = nd[order]
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = sorted_nodes[1:] != sorted_nodes[:-1]
    starts = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    drop[order] = (np.arange(len(order)) - starts) >= k
    return drop


def _local(graph: HebbianGraph, ids: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Local indices of node ``ids`` (-1 for a node this graph lacks)."""
    if not len(ids):
        return _no_ints()
    get = graph._index.get
    return np.fromiter((get(i, -1) for i in ids.tolist()), dtype=_INT, count=len(ids))


class GlobalDegreeCap:
    """One shard's side of the degree cap across shards (see the module docstring).

    It keeps, per local node index, the degree last reported to the node's owner (for nodes
    other shards own) and, for the nodes this shard owns, their degrees on every other shard.
    Both grow with the graph. State only: the shard passes its graph and node owners in.

    Args:
        me: this shard's id.
        k: the cap (``ColonyConfig.max_edge_degree``).

    Example:
        >>> cap = GlobalDegreeCap(me=0, k=30)
        >>> cap.pending_asks, cap.dropped
        (0, 0)
    """

    def __init__(self, me: int, k: int) -> None:
        if k < 0:
            raise ValueError("k must be >= 0")
        self.me = int(me)
        self.k = int(k)
        self._reported = np.zeros(0, dtype=np.int32)  # -1: report at the next Decay
        self._table = np.zeros((0, 0), dtype=np.int32)  # [local index, shard] degree there
        self._asks: list[tuple[int, npt.NDArray[np.uint64]]] = []
        self.dropped = 0  # edges this shard removed for the cap across shards

    @property
    def pending_asks(self) -> int:
        """Nodes owners asked for whose edges go out at the next Decay."""
        return sum(len(ids) for _, ids in self._asks)

    def _grow(self, n: int, shards: int = 0) -> None:
        rows, cols = self._table.shape
        if n > len(self._reported):
            cap = max(n, 2 * len(self._reported), 64)
            grown = np.zeros(cap, dtype=np.int32)
            grown[: len(self._reported)] = self._reported
            self._reported = grown
        if n > rows or shards > cols:
            table = np.zeros(
                (max(n, 2 * rows, 64) if n > rows else rows, max(cols, shards)), dtype=np.int32
            )
            table[:rows, :cols] = self._table
            self._table = table

    def state(self) -> dict[str, npt.NDArray[np.int32]]:
        """Copies of the reported degrees and the owner's table (what :mod:`phago.store`
        saves between ticks, when no asks are pending)."""
        return {"reported": self._reported.copy(), "table": self._table.copy()}

    def set_state(self, reported: npt.ArrayLike, table: npt.ArrayLike) -> None:
        """Restore :meth:`state`.

        Raises:
            ValueError: ``table`` is not two-dimensional.
        """
        r = np.asarray(reported, dtype=np.int32)
        t = np.asarray(table, dtype=np.int32)
        if t.ndim != 2:
            raise ValueError("the degree table must be two-dimensional")
        self._reported = r.copy()
        self._table = t.copy()
        self._asks = []

    # ------------------------------------------------------------------ Sense

    def apply_orders(
        self, graph: HebbianGraph, owner: npt.NDArray[np.int64], orders: Iterable[CapOrder]
    ) -> int:
        """Remove the edges the orders name (those still present) and keep their asks.

        Nodes of a removed edge that other shards own are re-reported at the next Decay.

        Returns:
            The number of edges removed.
        """
        removed = 0
        for order in orders:
            if len(order.ask):
                self._asks.append((int(order.owner), order.ask))
            if not len(order.drop_a):
                continue
            a = _local(graph, order.drop_a)
            b = _local(graph, order.drop_b)
            ok = (a >= 0) & (b >= 0)
            gone = graph.remove_index_pairs(a[ok], b[ok])
            removed += len(gone)
            self.dropped += len(gone)
            if len(gone):
                ends = np.concatenate([a[ok], b[ok]])
                self._grow(graph.node_count)
                remote = ends[owner[ends] != self.me]
                self._reported[remote] = -1
        return removed

    # ------------------------------------------------------------------ Decay

    def reports(self, graph: HebbianGraph, owner: npt.NDArray[np.int64]) -> dict[int, DegreeReport]:
        """Degree changes of other shards' nodes, and the edges of the nodes asked for, by
        owner (after this shard's own Decay)."""
        n = graph.node_count
        self._grow(n)
        out: dict[int, DegreeReport] = {}
        ids = graph._ids_arr
        if n:
            deg = graph.degrees()
            changed = np.flatnonzero((owner[:n] != self.me) & (deg != self._reported[:n]))
            if len(changed):
                self._reported[changed] = deg[changed]
                owners = owner[changed]
                for o in np.unique(owners).tolist():
                    sel = changed[owners == o]
                    out[o] = DegreeReport(self.me, ids[sel], deg[sel].astype(_INT))
        asks, self._asks = self._asks, []
        for o, ask in asks:
            li = _local(graph, ask)
            li = li[li >= 0]
            if not len(li):
                continue
            node, other, w, ct = graph.incident_edges(np.unique(li))
            rep = out.setdefault(o, DegreeReport(self.me))
            rep.edge_node = np.concatenate([rep.edge_node, ids[node]])
            rep.edge_other = np.concatenate([rep.edge_other, ids[other]])
            rep.edge_weight = np.concatenate([rep.edge_weight, w])
            rep.edge_created = np.concatenate([rep.edge_created, ct])
        return out

    # ------------------------------------------------------------------ Advance

    def orders(
        self,
        graph: HebbianGraph,
        owner: npt.NDArray[np.int64],
        reports: Sequence[DegreeReport],
        shards: int,
    ) -> dict[int, CapOrder]:
        """Take the reports (in source order), trim the ranked nodes (this shard's own edges
        at once), and ask for the edges of nodes over the cap; the orders by shard."""
        n = graph.node_count
        self._grow(n, shards)
        table = self._table
        mine = owner[:n] == self.me
        ids = graph._ids_arr
        parts: list[
            tuple[
                int,
                npt.NDArray[np.int64],
                npt.NDArray[np.uint64],
                npt.NDArray[np.float64],
                npt.NDArray[np.int64],
            ]
        ] = []
        for rep in reports:
            source = int(rep.source)
            if len(rep.nodes):
                li = _local(graph, rep.nodes)
                ok = li >= 0
                ok[ok] = mine[li[ok]]
                table[li[ok], source] = rep.degrees[ok]
            if len(rep.edge_node):
                li = _local(graph, rep.edge_node)
                ok = li >= 0
                ok[ok] = mine[li[ok]]
                parts.append(
                    (source, li[ok], rep.edge_other[ok], rep.edge_weight[ok], rep.edge_created[ok])
                )
        out: dict[int, CapOrder] = {}
        if parts:
            ranked = np.unique(np.concatenate([p[1] for p in parts]))
            node, other, w, ct = graph.incident_edges(ranked)
            sender = np.concatenate(
                [np.full(len(node), self.me, dtype=_INT)]
                + [np.full(len(p[1]), p[0], dtype=_INT) for p in parts]
            )
            all_node = np.concatenate([node] + [p[1] for p in parts])
            all_other = np.concatenate([ids[other]] + [p[2] for p in parts])
            all_w = np.concatenate([w] + [p[3] for p in parts])
            all_ct = np.concatenate([ct] + [p[4] for p in parts])
            drop = rank_drops(all_node, all_other, all_w, all_ct, self.k)
            own = drop[: len(node)]
            if own.any():
                self.dropped += len(graph.remove_index_pairs(node[own], other[own]))
            rest = np.flatnonzero(drop[len(node) :]) + len(node)
            if len(rest):
                np.subtract.at(table, (all_node[rest], sender[rest]), 1)
                for dest in np.unique(sender[rest]).tolist():
                    sel = rest[sender[rest] == dest]
                    out[dest] = CapOrder(self.me, ids[all_node[sel]], all_other[sel])
        if n:
            elsewhere = table[:n].sum(axis=1)
            over = np.flatnonzero(mine & (elsewhere > 0))
            if len(over):
                over = over[graph.degrees()[over] + elsewhere[over] > self.k]
            for s in range(table.shape[1]):
                if s == self.me or not len(over):
                    continue
                asked = over[table[over, s] > 0]
                if len(asked):
                    out.setdefault(s, CapOrder(self.me)).ask = ids[asked]
        return dict(sorted(out.items()))
