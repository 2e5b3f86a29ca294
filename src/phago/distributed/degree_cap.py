"""The degree cap across shards: each node keeps its ``max_edge_degree`` strongest edges in the
global graph, not on each shard.

A node's edges are stored on the owners of their smaller endpoints, so they are spread over
shards. Every shard caps the edges it stores at once (in its colony's Decay), which bounds a
node's degree per shard; this module bounds it over all shards, four to seven ticks later, with
messages that travel with the ghost exchange (no extra phase, no extra round trip):

* **Decay**, storing shard to owner, with the ghost requests (answered at the owner's next
  Decay): a :class:`DegreeReport` with the local degrees of the owner's nodes that changed
  since the last report, and the local edges of the nodes the owner asked for.
* **Next Decay**, owner to storing shard, with the ghost answers (applied at the storing
  shard's Decay after that, before the update batches): a :class:`CapOrder`. The owner
  keeps each of its nodes' degrees per shard (:class:`GlobalDegreeCap`). It ranks the edges
  it was sent of a node together with its own, keeps the strongest ``max_edge_degree`` and
  orders the rest dropped; and it asks every shard storing edges of a node now over the cap
  for that node's edges.

The cap works in rounds of :data:`ROUND_TICKS` (4) ticks, each step at the Decay of its own
tick of the round (``tick % ROUND_TICKS``): storing shards report degrees at 0, owners take
them and ask at 1, storing shards report the asked edges at 2, owners rank them at 3, and the
storing shards drop what they were ordered to at the next 0, before they report again. A node
pushed over the cap in the Act of tick ``t`` is trimmed at the Decay of tick ``t + 4`` to
``t + 7``. (With every step at every Decay, as until the twenty-third session, a hub that
kept growing was asked for, reported and ranked at nearly every tick, and the cap was a third
to a half of what sharding added to the shards' work; in rounds, each Decay does one step.)
:meth:`GlobalDegreeCap.reports` and :meth:`GlobalDegreeCap.orders` given no tick do every step
at once. The edges a shard's own cap removed keep their places in the owners' rankings of
their other ends for a round (:class:`CappedEdges`): one colony's single pass counts them,
and without them sharded graphs kept far more edges than one colony. Edges are ranked by
weight (heaviest first), then creation tick (oldest first), then the other endpoint's
NodeId, so the order does not depend on the shard count.
As in one colony, an edge is removed when either endpoint drops it. A shard that applies an
order re-reports the degrees of every node it names, so the owners' tables are exact again
once they take that report. A node asked for at consecutive Decays (every step at once) is
ranked from edges reported before the storing shards applied the drops the owner ordered at
its previous Decay: the owner keeps those drops (in flight until the storing shards' next
Decay), leaves them out of its next ranking and takes them off the degrees reported with
them, so no drop is counted twice.

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
from typing import Any

import numpy as np
import numpy.typing as npt

from phago import _kernels as K
from phago._arrays import frozen_empty, stable_groups, unique_sorted
from phago.graph import HebbianGraph, PrunedEdges

__all__ = [
    "ROUND_TICKS",
    "CapOrder",
    "CappedEdges",
    "DegreeReport",
    "GlobalDegreeCap",
    "asks_at",
    "rank_drops",
    "reports_degrees_at",
]

ROUND_TICKS = 4
"""Ticks in a round of the degree cap across shards (see the module docstring)."""


def reports_degrees_at(tick: int | None, round_ticks: int = ROUND_TICKS) -> bool:
    """Whether storing shards report degrees at the Decay of ``tick`` (None: every step at
    every Decay).

    Example:
        >>> [t for t in range(9) if reports_degrees_at(t)]
        [0, 4, 8]
    """
    return tick is None or tick % round_ticks == 0


def asks_at(tick: int | None, round_ticks: int = ROUND_TICKS) -> bool:
    """Whether owners ask for the edges of nodes over the cap at the Decay of ``tick`` (the
    Decay after the degrees were reported; None: at every Decay).

    Example:
        >>> [t for t in range(9) if asks_at(t)], asks_at(5, round_ticks=1)
        ([1, 5], True)
    """
    return tick is None or tick % round_ticks == 1 % round_ticks


_INT = np.int64
_IDS = np.uint64
_SMALL = np.int32  # local indices, degrees and ticks as they travel (half the bytes)


def _no_ids() -> npt.NDArray[np.uint64]:
    return frozen_empty(_IDS)


def _no_ints() -> npt.NDArray[np.int64]:
    return frozen_empty(_INT)


def _no_small() -> npt.NDArray[np.int32]:
    return frozen_empty(_SMALL)


def _no_floats() -> npt.NDArray[np.float64]:
    return frozen_empty(np.float64)


def _no_pairs() -> npt.NDArray[np.int32]:
    return frozen_empty(_SMALL, 2)


def _no_inflight() -> npt.NDArray[np.int64]:
    return np.zeros((0, 4), dtype=_INT)


@dataclass(slots=True)
class CappedEdges:
    """Edges a shard's own degree cap removed lately (its colony's Decay), each kept for the
    end that ranked it among its strongest until the owners have ranked that end's edges
    once (a round, :data:`ROUND_TICKS` Decays): in that ranking it keeps its place.

    One colony ranks every node's edges in one pass and removes an edge when either end
    drops it, so an edge a hub drops still counts against its other end's cap in that pass.
    A shard's own cap removes such an edge before the owners rank the node's edges on every
    shard; were it left out of those rankings, each would free a place for an edge one
    colony drops (two shards' graph at W3 D = 300k held 52% more edges than one colony's,
    now 7%; docs/distributed.md).

    Attributes:
        node: the end that ranked the edge among its strongest (local index).
        other: the other end (local index).
        weight: the edge's weight when removed.
        created: its creation tick.
        removed: the tick of the Decay that removed it.

    Example:
        >>> len(CappedEdges.empty())
        0
    """

    node: npt.NDArray[np.int64]
    other: npt.NDArray[np.int64]
    weight: npt.NDArray[np.float64]
    created: npt.NDArray[np.int64]
    removed: npt.NDArray[np.int64]

    @classmethod
    def empty(cls) -> CappedEdges:
        """No edges."""
        return cls(_no_ints(), _no_ints(), _no_floats(), _no_ints(), _no_ints())

    def __len__(self) -> int:
        return len(self.weight)

    def _columns(self) -> tuple[npt.NDArray[Any], ...]:
        return (self.node, self.other, self.weight, self.created, self.removed)


class _CappedLog:
    """:class:`CappedEdges` as a shard keeps them: appended in removal order, forgotten from
    the oldest, with how many each node holds (``count``, one entry per local node index,
    at least as long as the graph)."""

    __slots__ = ("_cols", "_hi", "_lo", "count")

    def __init__(self, edges: CappedEdges | None = None, nodes: int = 0) -> None:
        e = CappedEdges.empty() if edges is None else edges
        self._cols = [c.copy() for c in e._columns()]
        self._lo, self._hi = 0, len(e)
        self.count = np.zeros(max(nodes, 0), dtype=np.int32)
        if len(e):  # (a count from NumPy: a restored shard need not start Numba here)
            self.grow_nodes(int(e.node.max()) + 1)
            self.count += np.bincount(e.node, minlength=len(self.count)).astype(np.int32)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_CappedLog, (self.edges(), len(self.count)))

    def __len__(self) -> int:
        return self._hi - self._lo

    def grow_nodes(self, n: int) -> None:
        """Make room in ``count`` for ``n`` nodes."""
        if n > len(self.count):
            count = np.zeros(max(n, 2 * len(self.count), 64), dtype=np.int32)
            count[: len(self.count)] = self.count
            self.count = count

    def forget_before(self, tick: int) -> None:
        """Forget the edges removed before ``tick``."""
        lo, hi = self._lo, self._hi
        removed = self._cols[4]
        j = lo + int(np.searchsorted(removed[lo:hi], tick, side="left"))
        if j > lo:
            K.add_at(self.count, self._cols[0][lo:j], -1)
            self._lo = j

    def append(self, edges: CappedEdges) -> None:
        """Add edges removed no earlier than those held."""
        m = len(edges)
        if not m:
            return
        lo, hi = self._lo, self._hi
        size = len(self._cols[0])
        if hi + m > size:  # move the live ones to the front, in room at least twice theirs
            live = hi - lo
            if 2 * (live + m) > size:
                size = max(2 * (live + m), 1024)
                cols = []
                for c in self._cols:
                    grown = np.empty(size, dtype=c.dtype)
                    grown[:live] = c[lo:hi]
                    cols.append(grown)
                self._cols = cols
            else:
                for c in self._cols:
                    c[:live] = c[lo:hi]  # numpy copies overlapping slices safely
            self._lo, self._hi = 0, live
            lo, hi = 0, live
        for c, new in zip(self._cols, edges._columns(), strict=True):
            c[hi : hi + m] = new
        self._hi = hi + m
        self.grow_nodes(int(edges.node.max()) + 1)
        K.add_at(self.count, edges.node, 1)

    def edges(self) -> CappedEdges:
        """Copies of the edges held."""
        lo, hi = self._lo, self._hi
        return CappedEdges(*(c[lo:hi].copy() for c in self._cols))

    def of(self, wanted: npt.NDArray[np.int64]) -> CappedEdges:
        """The edges held whose node ``wanted`` marks (a lookup by local index, ``>= 0``
        where wanted)."""
        lo, hi = self._lo, self._hi
        at = K.rows_of_marked(self._cols[0][lo:hi], wanted) + lo
        return CappedEdges(*(c[at] for c in self._cols))


@dataclass(slots=True)
class DegreeReport:
    """What a storing shard tells an owner at Decay (sent with its ghost requests, read at
    the owner's next Decay).

    Attributes:
        source: the storing shard.
        nodes: owner's nodes whose degree on ``source`` changed since the last report.
        degrees: their degrees on ``source`` now.
        nodes_here: their local indices on ``source``;
        nodes_there: their local indices on the owner as far as ``source`` has learnt them
            (-1 where not; the owner checks each against the NodeId and teaches the rest).
        edge_node: for the nodes the owner asked for, one entry per stored edge: the node
            (as the owner's local index, from the ask),
        edge_other: the edge's other endpoint,
        edge_weight: its weight,
        edge_created: its creation tick,
        edge_local: and the edge's two endpoints as ``source``'s local node indices (shape
            ``(n, 2)``), which an order to drop it echoes back.
        capped_node: for the nodes the owner asked for, one entry per edge of the node that
            ``source``'s own degree cap removed in the last round (:data:`ROUND_TICKS`
            ticks): the node (the owner's local index),
        capped_other: the edge's other endpoint,
        capped_weight: its weight when removed,
        capped_created: and its creation tick. Such an edge keeps its place in the node's
            ranking (it was ranked with the node's other edges in one colony's pass).

    A shard sends local indices, degrees and ticks as 32-bit integers (a report is the
    largest message of a tick, and Ray passes one over 100 KiB through its object store);
    an owner takes any integer type.
    """

    source: int
    nodes: npt.NDArray[np.uint64] = field(default_factory=_no_ids)
    degrees: npt.NDArray[np.integer[Any]] = field(default_factory=_no_small)
    nodes_here: npt.NDArray[np.integer[Any]] = field(default_factory=_no_small)
    nodes_there: npt.NDArray[np.integer[Any]] = field(default_factory=_no_small)
    edge_node: npt.NDArray[np.integer[Any]] = field(default_factory=_no_small)
    edge_other: npt.NDArray[np.uint64] = field(default_factory=_no_ids)
    edge_weight: npt.NDArray[np.float64] = field(default_factory=_no_floats)
    edge_created: npt.NDArray[np.integer[Any]] = field(default_factory=_no_small)
    edge_local: npt.NDArray[np.integer[Any]] = field(default_factory=_no_pairs)
    capped_node: npt.NDArray[np.integer[Any]] = field(default_factory=_no_small)
    capped_other: npt.NDArray[np.uint64] = field(default_factory=_no_ids)
    capped_weight: npt.NDArray[np.float64] = field(default_factory=_no_floats)
    capped_created: npt.NDArray[np.integer[Any]] = field(default_factory=_no_small)


@dataclass(slots=True)
class CapOrder:
    """What an owner tells a storing shard at Decay (sent with its ghost answers, applied
    at the storing shard's next Decay).

    Attributes:
        owner: the owning shard.
        drop: edges to remove, each as the two local node indices of the receiving shard
            (shape ``(n, 2)``, from its report's ``edge_local``).
        ask: nodes ``owner`` owns whose edges to report at the next Decay ...
        ask_local: ... and their local indices on ``owner`` (echoed in the report).
        learn: pairs (local index on the receiving shard, local index on ``owner``) of
            reported nodes, so that later reports name them the owner's way (a cache).
    """

    owner: int
    drop: npt.NDArray[np.integer[Any]] = field(default_factory=_no_pairs)
    ask: npt.NDArray[np.uint64] = field(default_factory=_no_ids)
    ask_local: npt.NDArray[np.int64] = field(default_factory=_no_ints)
    learn: npt.NDArray[np.integer[Any]] = field(default_factory=_no_pairs)


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
    if len(nd) <= k:
        return np.zeros(len(nd), dtype=np.bool_)
    nodes, index = np.unique(nd, return_inverse=True)
    return _rank_drops_indexed(index.astype(_INT), len(nodes), ot, w, ct, k)


def _rank_drops_indexed(
    node: npt.NDArray[np.int64],
    n_nodes: int,
    other: npt.NDArray[Any],
    weight: npt.NDArray[np.float64],
    created: npt.NDArray[np.int64],
    k: int,
) -> npt.NDArray[np.bool_]:
    """:func:`rank_drops` for nodes given as indices below ``n_nodes``."""
    return K.rank_drops_grouped(node, int(n_nodes), other, weight, created, int(k))  # type: ignore[no-any-return]


def _ranked_rows(
    reports: Sequence[DegreeReport],
    owner: npt.NDArray[np.int64],
    me: int,
    n: int,
    scratch: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """The nodes of this shard (``me``) whose edges ``reports`` carry: the ones its
    ranking will rank, each once, in index order (``scratch``: all -1, at least ``n``)."""
    if not reports:
        return _no_ints()
    rows = np.concatenate([r.edge_node for r in reports] + [r.capped_node for r in reports])
    return K.owned_distinct(rows.astype(_INT, copy=False), owner, me, n, scratch)  # type: ignore[no-any-return]


def _leave_out_inflight(
    keep: npt.NDArray[np.bool_],
    local: npt.NDArray[np.integer[Any]],
    sources: npt.NDArray[np.int64],
    inflight: npt.NDArray[np.int64],
) -> None:
    """Clear ``keep`` (one flag per reported edge, reports in order; ``local``: each
    edge's local ends on its storing shard, ``sources``: that shard) for the edges a drop
    in flight names: same storing shard, same local ends there."""
    gone = K.triples_among(
        sources, local[:, 0], local[:, 1], inflight[:, 0], inflight[:, 1], inflight[:, 2]
    )
    keep &= ~gone


def _owners_of(owner: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.int64]:
    """``owner`` checked to name every one of the graph's ``n`` nodes (the kernels read it
    without bounds checks)."""
    if len(owner) < n:
        raise ValueError(f"owner names {len(owner)} nodes, the graph has {n}")
    return owner


class GlobalDegreeCap:
    """One shard's side of the degree cap across shards (see the module docstring).

    It keeps, per local node index, the degree last reported to the node's owner (for nodes
    other shards own) and, for the nodes this shard owns, their degrees on every other shard.
    Both grow with the graph. State only: the shard passes its graph and node owners in.

    Args:
        me: this shard's id.
        k: the cap (``ColonyConfig.max_edge_degree``).
        round_ticks: ticks in a round (:data:`ROUND_TICKS`; 1: every step at every Decay).

    Example:
        >>> cap = GlobalDegreeCap(me=0, k=30)
        >>> cap.pending_asks, cap.dropped
        (0, 0)
    """

    def __init__(self, me: int, k: int, round_ticks: int = ROUND_TICKS) -> None:
        if k < 0:
            raise ValueError("k must be >= 0")
        if round_ticks < 1:
            raise ValueError("round_ticks must be >= 1")
        self.round_ticks = int(round_ticks)
        self.me = int(me)
        self.k = int(k)
        self._reported = np.zeros(0, dtype=np.int32)  # -1: report at the next Decay
        self._table = np.zeros((0, 0), dtype=np.int32)  # [local index, shard] degree there
        self._elsewhere = np.zeros(0, dtype=np.int32)  # each row of the table summed
        self._there = np.zeros(0, dtype=_INT)  # a remote node's index on its owner, or -1
        self._scratch = np.zeros(0, dtype=_INT)  # all -1 between calls (a lookup by index)
        self._asks: list[CapOrder] = []  # orders with asks, answered in the same Decay
        # from :meth:`reports` to :meth:`orders` in the same Decay: the degrees, and the
        # ranked nodes with their edges here as (node, other, weight, tick)
        self._degrees: npt.NDArray[np.int64] | None = None
        self._own_edges: tuple[npt.NDArray[Any], ...] | None = None
        # the drops this owner ordered at its last Decay, applied at the storing shards' next:
        # rows of (storing shard, its local indices of the edge's two ends, the node here)
        self._inflight = _no_inflight()
        # the edges this shard's own cap removed and the owners have yet to rank (they keep
        # their places there), in removal order
        self._capped = _CappedLog()
        self.dropped = 0  # edges this shard removed for the cap across shards

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle (a shard pickled before drops in flight were kept has none; one pickled
        before rounds goes on running every step at every Decay)."""
        self.__dict__.update(state)
        self.__dict__.setdefault("_inflight", _no_inflight())
        self.__dict__.setdefault("_capped", _CappedLog())
        self.__dict__.setdefault("round_ticks", 1)  # pickled before rounds: as it ran

    @property
    def pending_asks(self) -> int:
        """Nodes owners asked for whose edges go out at the next Decay."""
        return sum(len(o.ask) for o in self._asks)

    def _grow(self, n: int, shards: int = 0) -> None:
        rows, cols = self._table.shape
        if n > len(self._reported):
            cap = max(n, 2 * len(self._reported), 64)
            grown = np.zeros(cap, dtype=np.int32)
            grown[: len(self._reported)] = self._reported
            self._reported = grown
        if n > len(self._there):
            there = np.full(max(n, 2 * len(self._there), 64), -1, dtype=_INT)
            there[: len(self._there)] = self._there
            self._there = there
        if n > len(self._scratch):
            self._scratch = np.full(max(n, 2 * len(self._scratch), 64), -1, dtype=_INT)
        if n > rows or shards > cols:
            new_rows = max(n, 2 * rows, 64) if n > rows else rows
            table = np.zeros((new_rows, max(cols, shards)), dtype=np.int32)
            table[:rows, :cols] = self._table
            self._table = table
            elsewhere = np.zeros(new_rows, dtype=np.int32)
            elsewhere[:rows] = self._elsewhere
            self._elsewhere = elsewhere
        self._capped.grow_nodes(n)

    @property
    def capped(self) -> CappedEdges:
        """The edges this shard's own degree cap removed in the last round (see
        :class:`CappedEdges`)."""
        return self._capped.edges()

    def state(self) -> dict[str, npt.NDArray[Any]]:
        """Copies of the reported degrees, the owner's table and the drops in flight (what
        :mod:`phago.store` saves between ticks, when no asks are pending; :attr:`capped`
        names nodes by local index, so the shard saves it by NodeId)."""
        return {
            "reported": self._reported.copy(),
            "table": self._table.copy(),
            "inflight": self._inflight.copy(),
        }

    def set_state(
        self,
        reported: npt.ArrayLike,
        table: npt.ArrayLike,
        inflight: npt.ArrayLike | None = None,
        capped: CappedEdges | None = None,
    ) -> None:
        """Restore :meth:`state` and :attr:`capped` (a state saved before drops in flight,
        or before capped edges, were kept has none).

        Raises:
            ValueError: ``table`` is not two-dimensional, or ``inflight`` is not rows of four
                or names a node outside ``reported`` (one entry per node).
        """
        r = np.asarray(reported, dtype=np.int32)
        t = np.asarray(table, dtype=np.int32)
        if t.ndim != 2:
            raise ValueError("the degree table must be two-dimensional")
        f = _no_inflight() if inflight is None else np.asarray(inflight, dtype=_INT)
        if f.size == 0:
            f = _no_inflight()
        if f.ndim != 2 or f.shape[1] != 4:
            raise ValueError("the drops in flight must be rows of four integers")
        if len(f) and (f[:, 3].min() < 0 or f[:, 3].max() >= len(r)):
            raise ValueError(f"a drop in flight names a node outside the graph's {len(r)}")
        c = CappedEdges.empty() if capped is None else capped
        ends = np.concatenate([c.node, c.other])
        if len(c) and (ends.min() < 0 or ends.max() >= len(r)):
            raise ValueError(f"a capped edge names a node outside the graph's {len(r)}")
        order = np.argsort(c.removed, kind="stable")  # the log is in removal order
        self._capped = _CappedLog(CappedEdges(*(x[order] for x in c._columns())), len(r))
        self._inflight = f.copy()
        self._reported = r.copy()
        self._table = t.copy()
        self._elsewhere = t.sum(axis=1, dtype=np.int32)
        self._there = np.zeros(0, dtype=_INT)
        self._asks = []
        self._degrees = self._own_edges = None

    # ------------------------------------------------------------------ storing: own cap

    def record_capped(self, graph: HebbianGraph, capped: PrunedEdges, tick: int) -> None:
        """Keep the edges this shard's own degree cap removed at the Decay of ``tick`` (what
        :meth:`phago.colony.Colony.decay` returns) until the owners have ranked them once,
        and forget those they have (see :class:`CappedEdges`).

        In rounds an edge removed at the last Decay of a round, or at the first three of the
        next, is counted in the degrees and reported with the asked edges of that next round
        and ranked at its last Decay; with every step at every Decay, for four Decays (a
        report of degrees reaches a ranking three Decays later).
        """
        self._grow(graph.node_count)
        r = self.round_ticks
        # the oldest removals still to be ranked: since the last round's last Decay
        start = tick - ROUND_TICKS + 1 if r == 1 else tick - 1 - tick % r
        self._capped.forget_before(start)
        if len(capped):
            m = len(capped)
            if capped.local_ends is not None:
                a, b = capped.local_ends[:, 0], capped.local_ends[:, 1]
            else:
                ends = graph.indices_of_ids(np.concatenate([capped.sources, capped.targets]))
                a, b = ends[:m], ends[m:]
            out = np.zeros(m, np.uint8) if capped.ranked_out is None else capped.ranked_out
            w, ct = capped.weights, capped.created
            known = (a >= 0) & (b >= 0)
            if not known.all():
                a, b, out, w, ct = a[known], b[known], out[known], w[known], ct[known]
            # each end that ranked the edge among its strongest keeps it in its rankings
            node, other, w, ct = K.wanted_ends(
                np.ascontiguousarray(a, dtype=_INT),
                np.ascontiguousarray(b, dtype=_INT),
                np.ascontiguousarray(out, dtype=np.uint8),
                np.ascontiguousarray(w, dtype=np.float64),
                np.ascontiguousarray(ct, dtype=_INT),
            )
            self._capped.append(
                CappedEdges(node, other, w, ct, np.full(len(node), tick, dtype=_INT))
            )

    # ------------------------------------------------------------------ storing: orders

    def apply_orders(
        self, graph: HebbianGraph, owner: npt.NDArray[np.int64], orders: Iterable[CapOrder]
    ) -> int:
        """Remove the edges the orders name (those still present) and keep their asks.

        The nodes the orders name that other shards own are re-reported at the next Decay,
        whether or not their edges were still here (the owners counted the drops in advance;
        a report puts their tables right).

        Returns:
            The number of edges removed.
        """
        drops = []
        for order in orders:
            if len(order.learn):
                self._grow(graph.node_count)
                here = order.learn[:, 0]
                ok = (here >= 0) & (here < graph.node_count)
                self._there[here[ok]] = order.learn[ok, 1]
            if len(order.ask):
                self._asks.append(order)
            if len(order.drop):
                drops.append(order.drop)
        if not drops:
            return 0
        pairs = np.concatenate(drops)
        gone = len(graph.remove_index_pairs(pairs[:, 0], pairs[:, 1]))
        self.dropped += gone
        n = graph.node_count
        self._grow(n)
        ends = pairs.ravel().astype(_INT, copy=False)
        ends = ends[(ends >= 0) & (ends < n)]
        self._reported[ends[owner[ends] != self.me]] = -1
        return gone

    # ------------------------------------------------------------------ Decay

    def reports(
        self,
        graph: HebbianGraph,
        owner: npt.NDArray[np.int64],
        ranking: Sequence[DegreeReport] = (),
        tick: int | None = None,
    ) -> dict[int, DegreeReport]:
        """Degree changes of other shards' nodes (at the Decays :func:`reports_degrees_at`
        names for ``tick``; None: now), and the edges of the nodes asked for, by owner (after
        this shard's own Decay). ``ranking`` are the reports :meth:`orders` ranks next, in the
        same Decay: the same pass over the edges gathers this shard's edges of the nodes they
        rank, and the degrees, for it."""
        n = graph.node_count
        owner = _owners_of(owner, n)
        self._grow(n)
        out: dict[int, DegreeReport] = {}
        if not n:
            return out
        ids = graph._ids_arr
        # the nodes other shards' owners asked for: their edges come with the degrees, in
        # one pass
        li = theirs = _no_ints()
        asks, self._asks = self._asks, []
        if asks:
            li = graph.indices_of_ids(np.concatenate([o.ask for o in asks]))
            theirs = np.concatenate([o.ask_local for o in asks])
            ok = li >= 0
            ok[ok] = owner[li[ok]] != self.me
            li, theirs = li[ok], theirs[ok]
        rows = _ranked_rows(ranking, owner, self.me, n, self._scratch)
        degrees_now = reports_degrees_at(tick, self.round_ticks)
        if not degrees_now and not len(li) and not len(rows):  # no step of a round today
            self._degrees = self._own_edges = None
            return out
        # the edges of this shard's own nodes (for its ranking) first, then the others by
        # owner
        deg, (node, other, w, ct), groups = graph.degrees_and_grouped_incident_edges(
            np.concatenate([li, rows]), owner, self.me
        )
        self._degrees = deg
        n_mine = groups[0][2]
        self._own_edges = (rows, node[:n_mine], other[:n_mine], w[:n_mine], ct[:n_mine])
        changed = (
            K.changed_remote_degrees(owner, self.me, deg, self._capped.count, self._reported, n)
            if degrees_now
            else _no_ints()
        )
        if len(changed):
            # grouped by owner with one stable sort (each group keeps index order)
            order, owners = stable_groups(owner[changed])
            sel = changed[order]
            gids = ids[sel]
            gdeg = self._reported[sel].astype(_SMALL)  # with the capped edges
            ghere, gthere = sel.astype(_SMALL), self._there[sel].astype(_SMALL)
            for o, c0, c1 in owners:
                out[o] = DegreeReport(
                    self.me, gids[c0:c1], gdeg[c0:c1], ghere[c0:c1], gthere[c0:c1]
                )
        if len(li):
            at_owner = self._scratch
            at_owner[li] = theirs
            node, other, w, ct = node[n_mine:], other[n_mine:], w[n_mine:], ct[n_mine:]
            e_node, e_other = at_owner[node].astype(_SMALL), ids[other]
            e_local = np.stack([node, other], axis=1).astype(_SMALL)
            ct = ct.astype(_SMALL)
            for o, g0, g1 in groups[1:]:
                c0, c1 = g0 - n_mine, g1 - n_mine
                rep = out.setdefault(o, DegreeReport(self.me))
                rep.edge_node = e_node[c0:c1]
                rep.edge_other = e_other[c0:c1]
                rep.edge_weight = w[c0:c1]
                rep.edge_created = ct[c0:c1]
                rep.edge_local = e_local[c0:c1]
            capped = self._capped.of(at_owner)
            if len(capped):
                order, owners = stable_groups(owner[capped.node])
                c_there = at_owner[capped.node[order]].astype(_SMALL)
                c_ids, c_w = ids[capped.other[order]], capped.weight[order]
                c_ct = capped.created[order].astype(_SMALL)
                for o, c0, c1 in owners:
                    rep = out.setdefault(o, DegreeReport(self.me))
                    rep.capped_node = c_there[c0:c1]
                    rep.capped_other = c_ids[c0:c1]
                    rep.capped_weight = c_w[c0:c1]
                    rep.capped_created = c_ct[c0:c1]
            at_owner[li] = -1
        return out

    # ------------------------------------------------------------------ owner: ranking

    def _take_degrees(
        self,
        graph: HebbianGraph,
        owner: npt.NDArray[np.int64],
        reports: Sequence[DegreeReport],
        learnt: dict[int, npt.NDArray[np.int64]],
        inflight: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """Put the degrees ``reports`` give (each with nodes, sources distinct) into the
        table, all reports in one pass. A reported node is found by the sender's guess of
        its local index here where the guess names it, else looked up by NodeId, and the
        lookups go into ``learnt`` for the sender (a later report names them right). The
        drops ``inflight`` (rows of storing shard, its edge ends, node here) were ordered
        after the reports were made: they come off the reported degrees."""
        n = graph.node_count
        sizes = np.fromiter((len(r.nodes) for r in reports), dtype=_INT, count=len(reports))
        nodes = np.concatenate([r.nodes for r in reports])
        li = np.concatenate(
            [
                r.nodes_there if len(r.nodes_there) == len(r.nodes) else np.full(len(r.nodes), -1)
                for r in reports
            ]
        ).astype(_INT, copy=False)
        ok = (li >= 0) & (li < n)
        ok[ok] = graph._ids_arr[li[ok]] == nodes[ok]
        if not ok.all():
            miss = np.flatnonzero(~ok)
            found = graph.indices_of_ids(nodes[miss])
            li[miss] = found
            starts = np.cumsum(sizes) - sizes
            which = np.searchsorted(starts, miss, side="right") - 1  # the report of each
            for k in unique_sorted(which).tolist():
                rep = reports[k]
                if len(rep.nodes_here) == len(rep.nodes):
                    sel = which == k
                    m, f = miss[sel] - starts[k], found[sel]
                    known = f >= 0
                    learnt[int(rep.source)] = np.stack([rep.nodes_here[m[known]], f[known]], axis=1)
        mine = li >= 0
        mine[mine] = owner[li[mine]] == self.me
        rows = li[mine]
        sources = np.repeat(np.array([int(r.source) for r in reports], dtype=_INT), sizes)[mine]
        degrees = np.concatenate([r.degrees for r in reports])[mine].astype(_INT, copy=False)
        table = self._table
        if inflight is not None and len(inflight) and len(rows):
            cols = table.shape[1]
            pending = K.key_counts(inflight[:, 3] * cols + inflight[:, 0], rows * cols + sources)
            if pending.any():
                degrees = np.maximum(degrees - pending, 0)
        change = degrees - table[rows, sources]
        table[rows, sources] = degrees
        np.add.at(self._elsewhere, rows, change.astype(np.int32))

    def orders(
        self,
        graph: HebbianGraph,
        owner: npt.NDArray[np.int64],
        reports: Sequence[DegreeReport],
        shards: int,
        tick: int | None = None,
    ) -> dict[int, CapOrder]:
        """Take the reports (in source order), trim the ranked nodes (this shard's own edges
        at once), and ask for the edges of nodes over the cap (at the Decays :func:`asks_at`
        names for ``tick``; None: now); the orders by shard."""
        n = graph.node_count
        owner = _owners_of(owner, n)
        self._grow(n, shards)
        # the degrees and own edges :meth:`reports` gathered just before, else read now
        deg = self._degrees if self._degrees is not None and len(self._degrees) == n else None
        own_edges, self._own_edges, self._degrees = self._own_edges, None, None
        if deg is None:
            deg, own_edges = graph.degrees(), None
        ids = graph._ids_arr
        # the drops ordered at the last Decay: the storing shards apply them at this Decay,
        # after the reports read now were made
        inflight, self._inflight = self._inflight, _no_inflight()
        learnt: dict[int, npt.NDArray[np.int64]] = {}
        listed = [rep for rep in reports if len(rep.nodes)]
        if len({int(rep.source) for rep in listed}) == len(listed):
            batches = [listed] if listed else []
        else:  # a source twice (not what a runner sends): report by report, in order
            batches = [[rep] for rep in listed]
        for batch in batches:
            self._take_degrees(graph, owner, batch, learnt, inflight)
        ranked = [rep for rep in reports if len(rep.edge_node) or len(rep.capped_node)]
        out: dict[int, CapOrder] = {}
        if ranked:
            out = self._rank(graph, owner, ranked, deg, own_edges, inflight)
        over = (
            K.over_cap_owned(owner, self.me, deg, self._capped.count, self._elsewhere, self.k, n)
            if asks_at(tick, self.round_ticks)
            else _no_ints()
        )
        if len(over):
            stored = self._table[over] > 0  # [over node, shard]: has edges there
            stored[:, self.me] = False
            for s in np.flatnonzero(stored.any(axis=0)).tolist():
                asked = over[stored[:, s]]
                order = out.setdefault(s, CapOrder(self.me))
                order.ask, order.ask_local = ids[asked], asked
        for s, pairs in learnt.items():
            out.setdefault(s, CapOrder(self.me)).learn = pairs
        return dict(sorted(out.items()))

    def _rank(
        self,
        graph: HebbianGraph,
        owner: npt.NDArray[np.int64],
        reports: Sequence[DegreeReport],
        deg: npt.NDArray[np.int64],
        own_edges: tuple[npt.NDArray[Any], ...] | None = None,
        inflight: npt.NDArray[np.int64] | None = None,
    ) -> dict[int, CapOrder]:
        """Rank the reported edges of owned nodes with this shard's own edges of them; drop
        the own ones outside the cap at once (``deg`` follows), and return orders for the
        rest (kept as the drops in flight). ``own_edges`` are the nodes and their edges
        :meth:`reports` gathered in the same Decay for these reports (else they are gathered
        here). Reported edges among ``inflight`` (ordered dropped at the last Decay, after
        the reports were made) are left out: they are gone at this Decay."""
        ids = graph._ids_arr
        n = graph.node_count
        if not n:
            return {}
        sizes = np.fromiter((len(r.edge_node) for r in reports), dtype=_INT, count=len(reports))
        e_node = np.concatenate([r.edge_node for r in reports]).astype(_INT, copy=False)
        keep = (e_node >= 0) & (e_node < n)
        keep[keep] = owner[e_node[keep]] == self.me
        sources = np.array([int(r.source) for r in reports], dtype=_INT)
        report_of_edge = np.repeat(np.arange(len(reports), dtype=_INT), sizes)
        local = np.concatenate([np.asarray(r.edge_local).reshape(-1, 2) for r in reports])
        if inflight is not None and len(inflight):
            _leave_out_inflight(keep, local, sources[report_of_edge], inflight)
        kept = np.flatnonzero(keep)  # gathered by index: a quarter of a mask selection
        rows = e_node[kept]
        # edges the storing shards' own caps removed lately keep their places (CappedEdges)
        c_rows = np.concatenate([r.capped_node for r in reports]).astype(_INT, copy=False)
        c_ok = (c_rows >= 0) & (c_rows < n)
        c_ok[c_ok] = owner[c_rows[c_ok]] == self.me
        c_kept = np.flatnonzero(c_ok)
        c_rows = c_rows[c_kept]
        nodes = unique_sorted(np.concatenate([rows, c_rows]) if len(c_rows) else rows)
        if own_edges is not None and np.array_equal(own_edges[0], nodes):
            node, other, w, ct = own_edges[1:]
        else:  # ranked without this Decay's reports before it
            node, other, w, ct = graph.incident_edges(nodes)
        own = len(node)
        # ranked by position among the ranked nodes (the kernel's pass over nodes is then
        # over those few, not over the graph), looked up through the scratch index (a
        # searchsorted of unsorted keys costs ~70 ns each, 30 times the lookup)
        position = self._scratch
        position[nodes] = np.arange(len(nodes), dtype=_INT)
        capped = self._capped.of(position)  # this shard's own, of the ranked nodes
        all_node = np.concatenate([node, rows, c_rows, capped.node])
        all_other = np.concatenate(
            [
                ids[other],
                np.concatenate([r.edge_other for r in reports])[kept],
                np.concatenate([r.capped_other for r in reports])[c_kept],
                ids[capped.other],
            ]
        )
        all_w = np.concatenate(
            [
                w,
                np.concatenate([r.edge_weight for r in reports])[kept],
                np.concatenate([r.capped_weight for r in reports])[c_kept],
                capped.weight,
            ]
        )
        all_ct = np.concatenate(
            [
                ct,
                np.concatenate([r.edge_created for r in reports])[kept],
                np.concatenate([r.capped_created for r in reports])[c_kept],
                capped.created,
            ]
        )
        at = position[all_node]
        position[nodes] = -1
        drop = _rank_drops_indexed(at, len(nodes), all_other, all_w, all_ct.astype(_INT), self.k)
        drop = drop[: own + len(kept)]  # the capped edges are gone already
        if drop[:own].any():
            a, b = node[drop[:own]], other[drop[:own]]
            key = unique_sorted((np.minimum(a, b) << 32) | np.maximum(a, b))  # each edge once
            lo, hi = key >> 32, key & 0xFFFFFFFF
            self.dropped += len(graph.remove_index_pairs(lo, hi))
            K.add_at(deg, lo, -1)
            K.add_at(deg, hi, -1)
        out: dict[int, CapOrder] = {}
        theirs = np.flatnonzero(drop[own:])
        if len(theirs):
            rows_dropped = rows[theirs]
            report_of = report_of_edge[kept[theirs]]
            table = self._table  # C-contiguous: its flat view is the same memory
            K.add_at(table.reshape(-1), rows_dropped * table.shape[1] + sources[report_of], -1)
            K.add_at(self._elsewhere, rows_dropped, -1)
            local = local[kept[theirs]]
            order, groups = stable_groups(report_of)
            dropped = local[order]
            for k, c0, c1 in groups:
                out[int(sources[k])] = CapOrder(self.me, dropped[c0:c1])
            self._inflight = np.column_stack(
                [sources[report_of], local.astype(_INT, copy=False), rows_dropped]
            )
        return out
