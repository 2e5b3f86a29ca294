"""The Hebbian knowledge graph: exact-label nodes, array-backed undirected weighted edges.

Nodes are concepts (or insights, anomalies, documents) identified by their type and
normalised label; each has a stable :data:`~phago.ids.NodeId`. Edges are undirected, at most
one per pair, never self-loops. Edge state lives in NumPy columns (weight, co-activations,
created and last-activated ticks) behind a Numba hash table from pair key to slot, so wiring a
document's concepts, decaying and pruning are vectorised.

Hebbian rules (REFERENCE.md §3, §4.5): a new edge starts at the tentative weight 0.1, each
later co-activation adds 0.1 up to 1.0 and counts one co-activation; activity-aware decay
shrinks unused mature edges faster and prunes them below a threshold; a degree cap keeps each
node's strongest edges.

Example:
    >>> from phago.graph import HebbianGraph
    >>> from phago.types import Position
    >>> g = HebbianGraph()
    >>> idx = g.present(["cell", "membrane", "protein"], tick=0)
    >>> g.wire_clique(idx, tick=0)
    3
    >>> g.wire_clique(idx[:2], tick=1)
    1
    >>> round(g.edge_between("cell", "membrane").weight, 3)
    0.2
    >>> g.node_count, g.edge_count
    (3, 3)
"""

from __future__ import annotations

import contextlib
import math
import operator
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # (networkx is imported where a graph is exported, not with this module)
    import networkx as nx

from phago import _kernels as K
from phago._arrays import unique_sorted
from phago._gc import cyclic_gc_paused
from phago._jit import kernel_pays
from phago.config import real_number
from phago.errors import ConfigError, GraphError, GraphReadOnly, NodeNotFound
from phago.ids import DocumentId, NodeId, node_id, normalise_label
from phago.types import EdgeData, NodeData, NodeType, Position

__all__ = ["GroupWiring", "HebbianGraph", "PrunedEdges"]

_TYPES: tuple[NodeType, ...] = tuple(NodeType)
_TYPE_CODE: dict[NodeType, int] = {t: i for i, t in enumerate(_TYPES)}
# type codes by type value (NodeType is a StrEnum: its members find theirs too)
_CODE_OF_VALUE: dict[str, int] = {t.value: i for i, t in enumerate(_TYPES)}
_INT = np.int64
IntArray = npt.NDArray[np.int64]


class GroupWiring(NamedTuple):
    """What :meth:`HebbianGraph.present_and_wire_groups` did, per group (presentation)."""

    indices: IntArray
    """The node indices of every label, in order (all groups)."""
    created: IntArray
    """Nodes each group created."""
    wired: IntArray
    """Pairs each group wired (created or reinforced; self-pairs are not wired)."""
    strong: IntArray
    """Of those, edges with at least ``strong_min_coactivations`` co-activations after the
    group's wiring (zeros when not asked for)."""
    bridges: IntArray
    """Of those, edges the group created between two nodes that existed before it (zeros
    when not asked for; see :func:`phago.agents.fitness_terms.edge_terms`)."""
    edges_created: IntArray
    """Of the pairs each group wired, the edges it created (the rest reinforced one)."""


class PrunedEdges:
    """Edges removed by a decay or pruning step: endpoint ids, final weights and creation
    ticks (arrays; ``created`` defaults to zeros); for a degree cap also which ends ranked
    each edge out (``ranked_out``: bit 1 the source, bit 2 the target) and the ends' node
    indices in the graph (``local_ends``, shape ``(n, 2)``); None otherwise.

    Example:
        >>> len(PrunedEdges.empty())
        0
    """

    __slots__ = ("created", "local_ends", "ranked_out", "sources", "targets", "weights")

    def __init__(
        self,
        sources: npt.NDArray[np.uint64],
        targets: npt.NDArray[np.uint64],
        weights: npt.NDArray[np.float64],
        created: npt.NDArray[np.int64] | None = None,
        ranked_out: npt.NDArray[np.uint8] | None = None,
        local_ends: npt.NDArray[np.int64] | None = None,
    ) -> None:
        self.sources = sources
        self.targets = targets
        self.weights = weights
        self.created = np.zeros(len(weights), dtype=_INT) if created is None else created
        self.ranked_out = ranked_out
        self.local_ends = local_ends

    @classmethod
    def empty(cls) -> PrunedEdges:
        """No edges."""
        return cls(np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros(0))

    def __len__(self) -> int:
        return len(self.weights)

    def __iter__(self) -> Iterator[tuple[NodeId, NodeId, float]]:
        for a, b, w in zip(self.sources, self.targets, self.weights, strict=True):
            yield NodeId(int(a)), NodeId(int(b)), float(w)


# most pairs wired by one call of a wiring kernel (see present_and_wire_groups, _upsert)
_WIRE_CHUNK = 2048


# what a deleted bucket of the edge table held until the table shifted entries back on
# deletion instead (graphs pickled before that are rebuilt when loaded)
_OLD_TOMBSTONE = -2

_COLD_KERNEL_MIN = 1 << 23
"""Below this many items, where Numba is not imported yet, the graph takes its NumPy or
Python paths instead of starting Numba (0.9-1.1 s with its cached kernels: importing it,
its registries, the kernels; what a command that loads a store and answers one query would
pay): :meth:`HebbianGraph.indices_of_ids` asks the id dictionary for a few ids and searches
the sorted ids for many (0.12 s for a million ids among 10,000 nodes, the dictionary 0.31
s), and a graph built from columns finds duplicate edges by sorting instead of through the
edge table. It was 1 << 18 until the fifty-first session: a distributed store of 20,000
notes merged its graph for a query with more provenance pairs than that, and started Numba
for them."""

_DICT_LOOKUP_MAX = 1 << 14
"""Below this many ids (Numba not imported), :meth:`HebbianGraph.indices_of_ids` asks the
id dictionary (~0.3 µs an id) rather than sorting the graph's ids to search them."""

# "no slots wanted" for the wiring kernel
_NO_SLOTS: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)


# The provenance columns grow by appending only, by millions of entries in a large run, and
# every growth copies them whole: at W3 D = 300k a shard's copy of 7 million entries took
# 155 ms, a pause the other shards wait for at the next barrier. Growing fourfold copies a
# sixth as much as growing by half (a third of the final size in all, against twice it), and
# costs no memory until it is written: NumPy takes large zeroed arrays from fresh pages,
# which the system maps only when touched.
_PROVENANCE_GROWTH = 4.0


def _grow(arr: np.ndarray, needed: int, factor: float = 2.0) -> np.ndarray:
    if needed <= arr.shape[0]:
        return arr
    cap = max(needed, int(factor * arr.shape[0]), 64)
    out = np.zeros((cap, *arr.shape[1:]), dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


class HebbianGraph:
    """Undirected weighted graph with Hebbian wiring, activity-aware decay and a degree cap.

    Args:
        tentative_weight: weight of a newly created edge.
        reinforcement: weight added on each later co-activation (capped at 1.0).
        node_cell_size: cell size of the spatial index over node positions.

    Example:
        >>> g = HebbianGraph()
        >>> a = g.add_node("dna")
        >>> g.find_by_label("DNA") == a
        True
    """

    # why the graph may not be changed now (see read_only), or None; a class default, so
    # that graphs pickled before it read as writable
    _read_only: str | None = None

    def __init__(
        self,
        tentative_weight: float = 0.1,
        reinforcement: float = 0.1,
        node_cell_size: float = 15.0,
    ) -> None:
        self.tentative_weight = real_number(
            tentative_weight, "tentative_weight", 0, 1, low_open=True
        )
        self.reinforcement = real_number(reinforcement, "reinforcement", 0, 1)
        # nodes
        self._ids: list[NodeId] = []
        self._labels: list[str] = []
        self._index: dict[int, int] = {}
        self._label_index: dict[str, list[int]] = {}
        self._by_type: list[dict[str, int]] = [{} for _ in _TYPES]
        self._type = np.zeros(0, dtype=np.int8)
        self._access = np.zeros(0, dtype=_INT)
        self._created = np.zeros(0, dtype=_INT)
        self._pos = np.zeros((0, 2), dtype=np.float64)
        self._ids_arr = np.zeros(0, dtype=np.uint64)
        self._n = 0
        # provenance (node index, document id) pairs in presentation order: the first
        # ``_prov_n`` entries of two growing columns
        self._prov_node: IntArray = np.zeros(0, dtype=_INT)
        self._prov_doc: npt.NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)
        self._prov_n = 0
        self._prov_csr: tuple[IntArray, npt.NDArray[np.uint64]] | None = None
        # the tick of each provenance pair, as runs: run k starts at row _prov_tick_rows[k]
        # and was presented at tick _prov_tick_vals[k] (-1: not known, as for rows before the
        # first run); forgetting a document compares it with the creation tick of each edge
        self._prov_tick_rows: list[int] = []
        self._prov_tick_vals: list[int] = []
        self._cell = float(node_cell_size)
        self._grid: dict[tuple[int, int], list[int]] = {}
        # edges
        self._ea = np.zeros(0, dtype=np.int32)
        self._eb = np.zeros(0, dtype=np.int32)
        self._w = np.zeros(0, dtype=np.float64)
        # compact columns: 29 bytes per edge slot
        self._co = np.zeros(0, dtype=np.int32)
        self._ct = np.zeros(0, dtype=np.int32)
        self._lt = np.zeros(0, dtype=np.int32)
        self._alive = np.zeros(0, dtype=np.bool_)
        self._m = 0  # slots used
        self._m_alive = 0
        # the edge table: open addressing from each live edge's pair key to its slot, built
        # again on first use where ``_table_due`` (a graph restored from a store answers
        # queries without it, and without starting Numba)
        self._tk = np.full(1024, K.EMPTY, dtype=_INT)
        self._ts = np.zeros(1024, dtype=np.int32)
        self._table_due = False
        self._csr: tuple[IntArray, IntArray, IntArray] | None = None
        # each node's number of live edges once counted (see _live_degrees), then kept up to
        # date by every edge creation and removal; may be longer than the node count
        self._deg: IntArray | None = None
        self._grew_since_cap = True
        self._last_cap = -1
        self._forget_id_table()

    @classmethod
    def from_arrays(
        cls,
        *,
        node_ids: Sequence[int] | npt.NDArray[np.uint64],
        labels: Sequence[str],
        node_types: Sequence[str],
        access: Sequence[int] | IntArray,
        created: Sequence[int] | IntArray,
        positions: npt.NDArray[np.float64] | None,
        edge_a: Sequence[int] | npt.NDArray[np.uint64],
        edge_b: Sequence[int] | npt.NDArray[np.uint64],
        weight: Sequence[float] | npt.NDArray[np.float64],
        co_activations: Sequence[int] | IntArray,
        created_tick: Sequence[int] | IntArray,
        last_activated_tick: Sequence[int] | IntArray,
        prov_nodes: Sequence[int] | npt.NDArray[np.uint64] | None = None,
        prov_docs: Sequence[int] | npt.NDArray[np.uint64] | None = None,
        tentative_weight: float = 0.1,
        reinforcement: float = 0.1,
    ) -> HebbianGraph:
        """Build a graph from columns (nodes in the given order, edges by node id).

        The nodes are created all at once, with the same result as creating them one at a
        time in order (ids, labels and lookups by label, type and place alike), and the edges
        in one pass.

        Args:
            node_ids: each node's id, distinct.
            labels: each node's label, as stored (not normalised again).
            node_types: each node's type (a :class:`~phago.types.NodeType` or its value).
            access: each node's access count.
            created: each node's creation tick.
            positions: each node's position, shape ``(n, 2)`` (None: all at the origin).
            edge_a: each edge's first end, by node id.
            edge_b: each edge's other end, by node id.
            weight: each edge's weight, in (0, 1].
            co_activations: each edge's co-activation count.
            created_tick: each edge's creation tick.
            last_activated_tick: each edge's last activation tick.
            prov_nodes: the node of each provenance pair, by id, in presentation order.
            prov_docs: the document of each provenance pair.
            tentative_weight: the new graph's tentative weight.
            reinforcement: the new graph's reinforcement.

        Raises:
            NodeNotFound: an edge names a node that is not in ``node_ids``.
            GraphError: duplicate nodes or edges, self-loops, weights outside (0, 1] or a
                node id that is not a 64-bit unsigned integer.
            ValueError: node columns of different lengths, or an unknown node type.
        """
        g = cls(tentative_weight, reinforcement)
        # a list per node and per cell, none in a cycle: the collector's walks would cost more
        # than building them (two thirds of the time at 500,000 nodes)
        with cyclic_gc_paused():
            g._add_node_columns(node_ids, labels, node_types, access, created, positions)
        w = np.asarray(weight, dtype=np.float64)
        if len(w):
            if not ((w > 0.0) & (w <= 1.0)).all():
                raise GraphError("edge weights must be in (0, 1]")
            a = g._indices_of_known(edge_a, len(w), "edge endpoint")
            b = g._indices_of_known(edge_b, len(w), "edge endpoint")
            if (a == b).any():
                raise GraphError("self-loops are not allowed")
            g._add_edge_columns(a, b)
            g._w[: g._m] = w
            g._co[: g._m] = np.asarray(co_activations, dtype=np.int32)
            g._ct[: g._m] = np.asarray(created_tick, dtype=np.int32)
            g._lt[: g._m] = np.asarray(last_activated_tick, dtype=np.int32)
        if prov_nodes is not None and prov_docs is not None and len(prov_nodes):
            idx = g._indices_of_known(prov_nodes, len(prov_nodes), "provenance node")
            g._append_provenance(idx, np.asarray(prov_docs, dtype=np.uint64))
        return g

    # ------------------------------------------------------------------ nodes

    @property
    def node_count(self) -> int:
        """Number of nodes."""
        return self._n

    @property
    def edge_count(self) -> int:
        """Number of live edges."""
        return self._m_alive

    def __len__(self) -> int:
        return self._n

    def __contains__(self, node: object) -> bool:
        return isinstance(node, int) and node in self._index

    def index_of(self, node: NodeId) -> int:
        """Internal index of ``node``; raises :class:`~phago.errors.NodeNotFound`."""
        try:
            return self._index[node]
        except KeyError:
            raise NodeNotFound(f"no node with id {node}") from None

    def indices_of_ids(self, ids: npt.ArrayLike) -> IntArray:
        """Internal index of each node id in ``ids``, -1 for an id not in the graph, in one
        pass (what ``index_of`` gives one id at a time, without raising).

        Example:
            >>> g = HebbianGraph()
            >>> idx = g.present(["a", "b"])
            >>> g.indices_of_ids([g.id_at(1), 12345, g.id_at(0)]).tolist()
            [1, -1, 0]

        Raises:
            TypeError: an id that is not an integer.
        """
        q, invalid = _as_node_ids(ids)
        out: IntArray
        if kernel_pays(len(q), loaded_min=0, cold_min=_COLD_KERNEL_MIN):
            if self._id_synced != self._n:
                self._sync_id_table()
            out = K.id_table_find(self._id_keys, self._id_vals, q)
        elif len(q) < _DICT_LOOKUP_MAX:
            find = self._index.get
            out = np.fromiter((find(x, -1) for x in q.tolist()), dtype=_INT, count=len(q))
        else:
            out = _positions_among(self._ids_arr[: self._n], q)
        if invalid is not None:
            out[invalid] = -1
        return out

    def _indices_of_known(
        self, ids: Sequence[int] | npt.NDArray[np.uint64], count: int, what: str
    ) -> IntArray:
        """Indices of ``count`` node ids that must all be nodes (the first that is not
        raises :class:`~phago.errors.NodeNotFound`, a count mismatch ``ValueError``)."""
        idx = self.indices_of_ids(ids)
        if len(idx) != count:
            raise ValueError(f"expected {count} {what}s, got {len(idx)}")
        missing = np.flatnonzero(idx < 0)
        if len(missing):
            raise NodeNotFound(f"{what} {int(ids[int(missing[0])])} is not a node")
        return idx

    @contextlib.contextmanager
    def read_only(self, reason: str) -> Iterator[HebbianGraph]:
        """Within the block, every method that changes the graph raises
        :class:`~phago.errors.GraphReadOnly` saying ``reason`` (reading is as fast as
        ever). A colony holds its graph read-only while its agents sense.

        Example:
            >>> g = HebbianGraph()
            >>> with g.read_only("agents only read it during Sense"):
            ...     g.add_node("cell")
            Traceback (most recent call last):
            ...
            phago.errors.GraphReadOnly: the graph is read-only: agents only read it during Sense
            >>> g.add_node("cell") == g.find_by_label("cell")
            True
        """
        before = self._read_only
        self._read_only = reason
        try:
            yield self
        finally:
            if before is None:
                self.__dict__.pop("_read_only", None)
            else:
                self._read_only = before

    def _check_writable(self) -> None:
        if self._read_only is not None:
            raise GraphReadOnly(f"the graph is read-only: {self._read_only}")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        # rebuilt on demand; and a copy made while the graph is read-only (an agent's
        # scratch copy during Sense) is the copy's own to change
        for name in ("_id_keys", "_id_vals", "_id_synced", "_read_only"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_deg", None)
        self.__dict__.setdefault("_prov_tick_rows", [])  # (pickled before ticks were kept)
        self.__dict__.setdefault("_prov_tick_vals", [])
        self.__dict__.pop("_t_used", None)  # (tombstones were counted; the table has none)
        if "_tkeys" in self.__dict__:  # (pickled before the table could be built on first use)
            self._tk = self.__dict__.pop("_tkeys")
            self._ts = self.__dict__.pop("_tslots")
        self.__dict__.setdefault("_table_due", False)
        if not self._table_due and (self._tk == _OLD_TOMBSTONE).any():
            self._table_due = True
        self._forget_id_table()

    def _forget_id_table(self) -> None:
        """Drop the id table (built again on the next lookup): for code that replaces the
        node columns wholesale."""
        self._id_keys = np.zeros(1, dtype=np.uint64)
        self._id_vals = np.full(1, -1, dtype=_INT)
        self._id_synced = 0

    def _sync_id_table(self) -> None:
        """Bring the id table up to the node count (nodes are only ever appended)."""
        n = self._n
        if self._id_synced > n:
            self._forget_id_table()
        if 2 * n >= len(self._id_keys):  # load factor at most one half
            size = 1024
            while size < 4 * n:
                size *= 2
            self._id_keys = np.zeros(size, dtype=np.uint64)
            self._id_vals = np.full(size, -1, dtype=_INT)
            self._id_synced = 0
        K.id_table_insert(self._id_keys, self._id_vals, self._ids_arr, self._id_synced, n)
        self._id_synced = n

    def id_at(self, index: int) -> NodeId:
        """NodeId of the node at internal ``index``."""
        return self._ids[index]

    def ids_at(self, indices: IntArray | Sequence[int]) -> list[NodeId]:
        """NodeIds of the nodes at internal ``indices``."""
        return list(map(self._ids.__getitem__, np.asarray(indices, dtype=_INT).tolist()))

    def label_at(self, index: int) -> str:
        """Label of the node at internal ``index``."""
        return self._labels[index]

    def _reserve_nodes(self, extra: int) -> None:
        need = self._n + extra
        if need > self._access.shape[0]:
            self._type = _grow(self._type, need)
            self._access = _grow(self._access, need)
            self._created = _grow(self._created, need)
            self._pos = _grow(self._pos, need)
            self._ids_arr = _grow(self._ids_arr, need)

    def _new_node(
        self, nid: NodeId, label: str, code: int, x: float, y: float, tick: int, access: int
    ) -> int:
        i = self._n
        self._reserve_nodes(1)
        self._ids.append(nid)
        self._labels.append(label)
        self._index[nid] = i
        self._label_index.setdefault(label, []).append(i)
        self._by_type[code][label] = i
        self._type[i] = code
        self._ids_arr[i] = nid
        self._access[i] = access
        self._created[i] = tick
        self._pos[i, 0] = x
        self._pos[i, 1] = y
        self._grid.setdefault(self._cell_of(x, y), []).append(i)
        self._n += 1
        return i

    def _new_nodes(
        self,
        nids: Sequence[int] | npt.NDArray[np.uint64],
        labels: Sequence[str],
        codes: Sequence[int] | int,
        x: float | npt.NDArray[np.float64],
        y: float | npt.NDArray[np.float64],
        tick: int,
        access: int | IntArray,
    ) -> range:
        """:meth:`_new_node` for each (id, label), of one type code or one each, at one
        place or one each, with one access count or one each: the nodes must be distinct
        and new, their labels normalised. Returns their indices.

        Raises:
            NodeNotFound: a label is empty (another shard sent the node's id without its
                label, taking this graph to hold it already); nothing is changed.
        """
        if "" in labels:
            bare = list(labels).index("")
            raise NodeNotFound(
                f"node {int(nids[bare])} is not in this graph and came without its label"
            )
        k = len(nids)
        start = self._n
        self._reserve_nodes(k)
        at = range(start, start + k)
        id_list = nids.tolist() if isinstance(nids, np.ndarray) else nids
        self._ids.extend(map(NodeId, id_list))
        self._labels.extend(labels)
        self._index.update(zip(self._ids[start:], at, strict=True))
        label_index, by_type, grid = self._label_index, self._by_type, self._grid
        code_list = [codes] * k if isinstance(codes, int) else codes
        for label, code, i in zip(labels, code_list, at, strict=True):
            label_index.setdefault(label, []).append(i)
            by_type[code][label] = i
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            xs = np.broadcast_to(np.asarray(x, dtype=np.float64), (k,))
            ys = np.broadcast_to(np.asarray(y, dtype=np.float64), (k,))
            cell_of = self._cell_of
            for cx, cy, i in zip(xs.tolist(), ys.tolist(), at, strict=True):
                grid.setdefault(cell_of(cx, cy), []).append(i)
        else:
            grid.setdefault(self._cell_of(x, y), []).extend(at)
        end = start + k
        self._type[start:end] = codes
        self._ids_arr[start:end] = nids
        self._access[start:end] = access
        self._created[start:end] = tick
        self._pos[start:end, 0] = x
        self._pos[start:end, 1] = y
        self._n = end
        return at

    def _add_node_columns(
        self,
        node_ids: Sequence[int] | npt.NDArray[np.uint64],
        labels: Sequence[str],
        node_types: Sequence[str],
        access: Sequence[int] | IntArray,
        created: Sequence[int] | IntArray,
        positions: npt.NDArray[np.float64] | None,
    ) -> None:
        """Create the nodes of :meth:`from_arrays` in this empty graph, all at once: the same
        columns and lookups as :meth:`_new_node` of each node in order.

        Raises:
            GraphError: a node id repeated, or not a 64-bit unsigned integer.
            ValueError: columns of different lengths, or an unknown node type.
        """
        if self._n:
            raise GraphError("node columns can only be added to an empty graph")
        n = len(labels)
        ids, invalid = _as_node_ids(node_ids)
        if invalid is not None:
            bad = int(np.flatnonzero(invalid)[0])
            raise GraphError(f"node id {node_ids[bad]} is not a 64-bit unsigned integer")
        pos = np.zeros((n, 2)) if positions is None else np.asarray(positions, dtype=np.float64)
        acc = np.asarray(access, dtype=_INT)
        ct = np.asarray(created, dtype=_INT)
        shapes = {
            "node_ids": (len(ids),),
            "node_types": (len(node_types),),
            "access": acc.shape,
            "created": ct.shape,
            "positions": pos.shape,
        }
        for name, shape in shapes.items():
            want = (n, 2) if name == "positions" else (n,)
            if shape != want:
                raise ValueError(f"{n} labels but {name} of shape {shape}, expected {want}")
        codes = np.fromiter(map(_CODE_OF_VALUE.get, node_types, repeat(-1)), np.int8, n)
        for k in np.flatnonzero(codes < 0).tolist():  # ValueError for an unknown type
            codes[k] = _TYPE_CODE[NodeType(node_types[k])]
        id_list: list[NodeId] = ids.tolist()
        index: dict[int, int] = dict(zip(id_list, range(n), strict=True))
        if len(index) != n:  # name the first node whose id an earlier node has
            later = np.ones(n, dtype=np.bool_)
            later[np.unique(ids, return_index=True)[1]] = False
            raise GraphError(f"duplicate node id {id_list[int(np.flatnonzero(later)[0])]}")
        self._reserve_nodes(n)
        self._ids = id_list
        self._labels = list(labels)
        self._index = index
        self._type[:n] = codes
        self._ids_arr[:n] = ids
        self._access[:n] = acc
        self._created[:n] = ct
        self._pos[:n] = pos
        self._n = n
        self._index_nodes()

    def _index_nodes(self) -> None:
        """Build the label, per-type label and spatial lookups of every node from the node
        columns, all at once: the same dicts (keys in the same order, lists in index order)
        as :meth:`_new_node` of each node in index order."""
        n = self._n
        labels = self._labels
        at = range(n)
        # the label index: a list per label, a single node's in the usual case
        label_index: dict[str, list[int]] = dict(zip(labels, [[i] for i in at], strict=True))
        if len(label_index) != n:  # labels that several nodes (of different types) share
            # each label kept the list of its last node: the nodes before it are missing
            last = map(operator.itemgetter(0), label_index.values())
            earlier = np.ones(n, dtype=np.bool_)
            earlier[np.fromiter(last, _INT, len(label_index))] = False
            shared: dict[str, list[int]] = {}
            for i in np.flatnonzero(earlier).tolist():
                shared.setdefault(labels[i], []).append(i)
            for label, where in shared.items():
                where.extend(label_index[label])
                label_index[label] = where
        self._label_index = label_index
        # each type's labels
        codes = self._type[:n]
        self._by_type = [{} for _ in _TYPES]
        counts = np.bincount(codes, minlength=len(_TYPES)) if n else np.zeros(len(_TYPES))
        for code in np.flatnonzero(counts).tolist():
            if counts[code] == n:
                self._by_type[code] = dict(zip(labels, at, strict=True))
            else:
                of_type = np.flatnonzero(codes == code).tolist()
                self._by_type[code] = dict(
                    zip(map(labels.__getitem__, of_type), of_type, strict=True)
                )
        self._grid = self._grid_of(self._pos[:n])

    def _grid_of(self, pos: npt.NDArray[np.float64]) -> dict[tuple[int, int], list[int]]:
        """The spatial grid of nodes at ``pos`` (node ``i`` at ``pos[i]``), as
        :meth:`_new_node` of each node in order builds it: cells in the order of their first
        node, each cell's nodes in increasing order."""
        n = len(pos)
        grid: dict[tuple[int, int], list[int]] = {}
        if not n:
            return grid
        with np.errstate(divide="ignore", invalid="ignore"):  # (a cell size of 0: see below)
            fx = np.floor(pos[:, 0] / self._cell)
            fy = np.floor(pos[:, 1] / self._cell)
        if not (np.abs(fx).max() < 2.0**62 and np.abs(fy).max() < 2.0**62):
            # a cell beyond int64, or none (a position that is not finite, a cell size of
            # 0): node by node, with _cell_of's cells or errors
            cell_of = self._cell_of
            for i, (x, y) in enumerate(pos.tolist()):
                grid.setdefault(cell_of(x, y), []).append(i)
            return grid
        cx, cy = fx.astype(_INT), fy.astype(_INT)
        order = np.lexsort((cy, cx))  # by cell, each cell's nodes in index order
        sx, sy = cx[order], cy[order]
        starts = np.flatnonzero(np.concatenate(([True], (sx[1:] != sx[:-1]) | (sy[1:] != sy[:-1]))))
        ends = np.append(starts[1:], n)
        first = order[starts]  # each cell's first node
        by_first = np.argsort(first)
        flat = order.tolist()
        cells = [
            flat[a:b]
            for a, b in zip(starts[by_first].tolist(), ends[by_first].tolist(), strict=True)
        ]
        keys = zip(cx[first[by_first]].tolist(), cy[first[by_first]].tolist(), strict=True)
        grid.update(zip(keys, cells, strict=True))
        return grid

    def _cell_of(self, x: float, y: float) -> tuple[int, int]:
        return (math.floor(x / self._cell), math.floor(y / self._cell))

    def add_node(
        self,
        label: str,
        node_type: NodeType = NodeType.CONCEPT,
        position: Position | None = None,
        tick: int = 0,
        access_count: int = 1,
    ) -> NodeId:
        """Add a node, or return the id of the existing node of that type and label.

        An existing node is left unchanged. Use :meth:`present` to reinforce.

        Raises:
            GraphError: a label that is not text or is empty once normalised.
        """
        self._check_writable()
        norm = normalise_label(label)
        if not norm:
            raise GraphError("a node label must not be empty")
        nid = node_id(node_type.value, norm)
        if nid not in self._index:
            p = position or Position(0.0, 0.0)
            self._new_node(nid, norm, _TYPE_CODE[node_type], p.x, p.y, tick, access_count)
        return nid

    def present(
        self,
        labels: Sequence[str],
        node_type: NodeType = NodeType.CONCEPT,
        position: Position | None = None,
        tick: int = 0,
        document: DocumentId | None = None,
    ) -> IntArray:
        """Present labels: create missing nodes (access 1), add 1 to existing ones' access count.

        Labels are normalised; identity is exact (type, label), never a substring match.

        Returns:
            The internal node indices, one per label, in order.

        Raises:
            GraphError: a label that is not text or is empty once normalised, or one
                string given for ``labels`` (each of its characters would be a label).
        """
        self._check_writable()
        if isinstance(labels, str):
            raise GraphError(
                f"labels must be a sequence of labels, got the string {labels[:40]!r}: "
                "wrap one label in a list"
            )
        x, y = (position.x, position.y) if position is not None else (0.0, 0.0)
        return self.present_groups(labels, (len(labels),), node_type, (x,), (y,), tick, (document,))

    def present_groups(
        self,
        labels: Sequence[str],
        ends: Sequence[int],
        node_type: NodeType,
        xs: Sequence[float],
        ys: Sequence[float],
        tick: int,
        documents: Sequence[DocumentId | None],
    ) -> IntArray:
        """:meth:`present` of several groups at once, with the same result as presenting
        them one after another: group ``k`` is ``labels[ends[k-1]:ends[k]]``, presented at
        ``(xs[k], ys[k])`` with document ``documents[k]``.

        Returns:
            The internal node indices, one per label, in order.

        Example:
            >>> g = HebbianGraph()
            >>> g.present_groups(["a", "b", "b"], [2, 3], NodeType.CONCEPT, [0, 5], [0, 5], 0,
            ...                  [None, None]).tolist()
            [0, 1, 1]
            >>> g.access_counts().tolist()
            [1, 2]
        """
        self._check_writable()
        return self._present_groups(labels, ends, node_type, xs, ys, tick, documents)[0]

    def _present_groups(
        self,
        labels: Sequence[str],
        ends: Sequence[int],
        node_type: NodeType,
        xs: Sequence[float],
        ys: Sequence[float],
        tick: int,
        documents: Sequence[DocumentId | None] = (),
        doc_columns: tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]] | None = None,
        ids: npt.NDArray[np.uint64] | None = None,
    ) -> tuple[IntArray, IntArray | None]:
        """:meth:`present_groups`, also returning the nodes each group created (None when
        no group created any). ``doc_columns``, when given, replaces ``documents``: each
        group's document id and whether it has one, as two arrays. ``ids``, when given,
        are the labels' NodeIds (of this node type) and the labels are normalised already
        (another graph's labels): nodes are then found and created by id, each label neither
        normalised nor hashed again."""
        if doc_columns is None:
            with_doc = np.fromiter((d is not None for d in documents), np.bool_, len(documents))
            doc_ids = np.fromiter((d or 0 for d in documents), np.uint64, len(documents))
        else:
            doc_ids, with_doc = doc_columns
        if len(with_doc) != len(ends) or len(doc_ids) != len(ends):
            raise ValueError(f"{len(ends)} groups but {len(with_doc)} documents")
        code = _TYPE_CODE[node_type]
        if ids is not None:
            found, new_per_group = self._present_known_ids(labels, ends, code, xs, ys, tick, ids)
            self._provenance_of_groups(found, ends, doc_ids, with_doc, tick)
            return found, new_per_group
        tval = node_type.value
        by_label = self._by_type[code]
        # known labels looked up in one C-level pass (-1: not found as given); only the
        # others are visited in Python, in order
        out = np.array(list(map(by_label.get, labels, repeat(-1))), dtype=_INT)
        created: IntArray | None = None
        missing = np.flatnonzero(out < 0)
        if len(missing):
            created = np.zeros(len(ends), dtype=_INT)
            made: list[int] = []  # positions that created their node (with access 1)
            group = 0
            for k in missing.tolist():
                while k >= ends[group]:
                    group += 1
                norm = normalise_label(labels[k])
                if not norm:
                    raise GraphError("a node label must not be empty")
                i = by_label.get(norm)
                if i is None:
                    nid = node_id(tval, norm)
                    x, y = float(xs[group]), float(ys[group])
                    out[k] = self._new_node(nid, norm, code, x, y, tick, 1)
                    created[group] += 1
                    made.append(k)
                    continue
                out[k] = i
            existing = out
            if made:
                keep = np.ones(len(out), dtype=np.bool_)
                keep[made] = False
                existing = out[keep]
            if len(existing):
                K.add_at(self._access, existing, 1)
        elif len(out):
            K.add_at(self._access, out, 1)
        self._provenance_of_groups(out, ends, doc_ids, with_doc, tick)
        return out, created

    def _present_known_ids(
        self,
        labels: Sequence[str],
        ends: Sequence[int],
        code: int,
        xs: Sequence[float],
        ys: Sequence[float],
        tick: int,
        ids: npt.NDArray[np.uint64],
    ) -> tuple[IntArray, IntArray | None]:
        """The presentation part of :meth:`_present_groups` given each label's NodeId: the
        same nodes, created in the same order at the same places, and the same access
        counts as finding them label by label (:meth:`_meet_ids` of presentations alone)."""
        nids = np.asarray(ids, dtype=np.uint64)
        if len(nids) != len(labels):
            raise ValueError(f"{len(labels)} labels but {len(nids)} ids")
        bounds = np.asarray(ends, dtype=_INT)
        sizes = np.diff(bounds, prepend=0)
        k = len(nids)
        out, made = self._meet_ids(
            nids,
            labels,
            np.full(k, code, dtype=np.int8),
            np.repeat(np.asarray(xs, dtype=np.float64), sizes),
            np.repeat(np.asarray(ys, dtype=np.float64), sizes),
            tick,
            np.ones(k, dtype=np.bool_),
        )
        if not len(made):
            return out, None
        group = np.searchsorted(bounds, made, side="right")
        return out, np.bincount(group, minlength=len(bounds)).astype(_INT)

    def _meet_ids(
        self,
        nids: npt.NDArray[np.uint64],
        labels: Sequence[str],
        codes: npt.NDArray[np.int8],
        xs: npt.NDArray[np.float64],
        ys: npt.NDArray[np.float64],
        tick: int,
        presented: npt.NDArray[np.bool_],
    ) -> tuple[IntArray, IntArray]:
        """Local indices of a run of node occurrences given by id (normalised labels, type
        codes and places alongside), each a presentation (``presented``) or a mere
        reference, and the positions of the occurrences that created their node. A missing
        node is created at its first occurrence, with that occurrence's label, type and
        place, and access 1 if it is a presentation, else 0; every other presentation
        counts one access. Taking the occurrences run by run (presentations, then missing
        references added with access 0) gives the same nodes, created in the same order,
        with the same access counts: one lookup and one creation for all of them."""
        out = self.indices_of_ids(nids)
        counted = presented
        missing = np.flatnonzero(out < 0)
        made = missing
        if len(missing):
            _, first = np.unique(nids[missing], return_index=True)
            made = missing[np.sort(first)]
            out[made] = self._new_nodes(
                nids[made],
                [labels[k] for k in made.tolist()],
                codes[made].tolist(),
                xs[made],
                ys[made],
                tick,
                presented[made].astype(_INT),
            )
            if len(made) < len(missing):
                out[missing] = self.indices_of_ids(nids[missing])
            counted = presented.copy()
            counted[made] = False
        seen = out[counted]
        if len(seen):
            K.add_at(self._access, seen, 1)
        return out, made

    def _provenance_of_groups(
        self,
        out: IntArray,
        ends: Sequence[int],
        doc_ids: npt.NDArray[np.uint64],
        with_doc: npt.NDArray[np.bool_],
        tick: int = -1,
    ) -> None:
        """Record each group's nodes (``out``, group after group) with its document, as
        presented at ``tick``."""
        if len(out) and with_doc.any():
            # every group's nodes with its document, in group order, in one append
            bounds = np.asarray(ends, dtype=_INT)
            sizes = bounds - np.concatenate(([0], bounds[:-1]))
            per_node = np.repeat(doc_ids, sizes)
            grouped = out[: len(per_node)]  # (the groups cover the labels)
            if with_doc.all():
                self._append_provenance(grouped, per_node, tick)
            else:
                keep = np.repeat(with_doc, sizes)
                self._append_provenance(grouped[keep], per_node[keep], tick)

    def present_and_wire_groups(
        self,
        labels: Sequence[str],
        ends: Sequence[int],
        node_type: NodeType,
        xs: Sequence[float],
        ys: Sequence[float],
        tick: int,
        documents: Sequence[DocumentId | None],
        pairs: IntArray,
        pair_ends: Sequence[int],
        tentative: Sequence[float | None] | None = None,
        increment: Sequence[float | None] | None = None,
        strong_min_coactivations: int | None = None,
    ) -> GroupWiring:
        """Present several groups of labels and wire each group's pairs, with the same
        result as presenting and wiring them one after another (:meth:`present` then
        :meth:`wire_index_pairs`, group by group).

        Args:
            labels: every group's labels, group after group; group ``k`` is
                ``labels[ends[k-1]:ends[k]]``.
            ends: where each group's labels end.
            node_type: the nodes' type.
            xs: where a node a group creates lies (x), per group.
            ys: as ``xs`` (y).
            tick: the tick of the presentations.
            documents: each group's document (provenance), or None.
            pairs: ``(m, 2)`` positions into the group's own labels, group after group;
                group ``k``'s are ``pairs[pair_ends[k-1]:pair_ends[k]]``.
            pair_ends: where each group's pairs end.
            tentative: weight of a new edge per group (None, or None for a group: the
                graph's tentative weight).
            increment: weight added to an existing edge per group (None, or None for a
                group: the graph's reinforcement).
            strong_min_coactivations: when given, also count each group's strong and bridge
                edges (see :func:`phago.agents.fitness_terms.edge_terms`).

        Returns:
            The node indices and the per-group counts.

        Raises:
            IndexError: a pair position outside its group (nothing is changed).

        Example:
            >>> g = HebbianGraph()
            >>> r = g.present_and_wire_groups(
            ...     ["a", "b", "b", "c"], [2, 4], NodeType.CONCEPT, [0, 0], [0, 0], 0,
            ...     [None, None], np.array([[0, 1], [0, 1]]), [1, 2])
            >>> r.indices.tolist(), r.created.tolist(), r.wired.tolist(), g.edge_count
            ([0, 1, 1, 2], [2, 1], [1, 1], 2)
        """
        self._check_writable()
        groups = len(ends)
        node_ends = np.asarray(ends, dtype=_INT)
        pe = np.asarray(pair_ends, dtype=_INT)
        pp = np.asarray(pairs, dtype=_INT).reshape(-1, 2)
        if len(pe) != groups or (len(pe) and pe[-1] != len(pp)):
            raise ValueError("pair_ends must give one end per group, the last at len(pairs)")
        if len(pp):  # every position within its own group (negative ones count from the end)
            sizes = np.diff(node_ends, prepend=0)
            size = np.repeat(sizes, np.diff(pe, prepend=0))[:, None]
            if not ((pp >= -size) & (pp < size)).all():
                raise IndexError("present_and_wire_groups got a pair position outside its group")
        before_all = self._n
        out, created = self._present_groups(labels, ends, node_type, xs, ys, tick, documents)
        if created is None:
            created = np.zeros(groups, dtype=_INT)
        before = before_all + np.cumsum(created) - created
        tent = np.full(groups, self.tentative_weight)
        inc = np.full(groups, self.reinforcement)
        if tentative is not None:
            tent = np.array(
                [self.tentative_weight if t is None else t for t in tentative], dtype=np.float64
            )
        if increment is not None:
            inc = np.array(
                [self.reinforcement if t is None else t for t in increment], dtype=np.float64
            )
        wired = np.zeros(groups, dtype=_INT)
        strong = np.zeros(groups, dtype=_INT)
        bridges = np.zeros(groups, dtype=_INT)
        edges_created = np.zeros(groups, dtype=_INT)
        # in chunks of groups of at most _WIRE_CHUNK pairs (or one group), each with room
        # reserved for its pairs: reserving for a whole run at once would size the edge
        # table for every pair being new
        pe_list = pe.tolist()
        first = 0
        while first < groups:
            start = pe_list[first - 1] if first else 0
            stop = first + 1
            while stop < groups and pe_list[stop] - start <= _WIRE_CHUNK:
                stop += 1
            self._reserve_edges(pe_list[stop - 1] - start)
            new_m, n_created, status = K.wire_groups(
                self._tkeys,
                self._tslots,
                out,
                node_ends,
                pp,
                pe,
                before,
                self._ea,
                self._eb,
                self._w,
                self._co,
                self._ct,
                self._lt,
                self._m,
                self._n,
                tent,
                inc,
                int(tick),
                -1 if strong_min_coactivations is None else int(strong_min_coactivations),
                wired,
                strong,
                bridges,
                edges_created,
                first,
                stop,
            )
            self._wired(int(new_m), int(n_created))
            if status:  # cannot happen: positions were checked, indices come from present
                raise NodeNotFound("present_and_wire_groups got a node index that does not exist")
            first = stop
        return GroupWiring(out, created, wired, strong, bridges, edges_created)

    def _append_provenance(
        self, nodes: IntArray, docs: npt.NDArray[np.uint64] | int, tick: int = -1
    ) -> None:
        """Record that ``nodes`` were presented from ``docs`` (one id, or one per node) at
        ``tick`` (-1: not known)."""
        n = self._prov_n
        end = n + len(nodes)
        if end > n and (self._prov_tick_vals[-1:] or [-1])[0] != tick:
            self._prov_tick_rows.append(n)
            self._prov_tick_vals.append(int(tick))
        if end > len(self._prov_node):  # fourfold: see _PROVENANCE_GROWTH
            self._prov_node = _grow(self._prov_node, end, _PROVENANCE_GROWTH)
            self._prov_doc = _grow(self._prov_doc, end, _PROVENANCE_GROWTH)
        self._prov_node[n:end] = nodes
        self._prov_doc[n:end] = docs
        self._prov_n = end
        self._prov_csr = None

    def increment_access(self, indices: IntArray | Sequence[int], amount: int = 1) -> None:
        """Add ``amount`` to the access count of each index (repeats add repeatedly)."""
        self._check_writable()
        idx = np.asarray(indices, dtype=_INT)
        size = len(self._access)
        if type(amount) is int and K.all_in_range(idx, -size, size):
            K.add_at(self._access, idx, amount)  # np.add.at's result, without its overhead
        else:
            np.add.at(self._access, idx, amount)

    def get_node(self, node: NodeId) -> NodeData | None:
        """A copy of the node's data, or None."""
        i = self._index.get(node)
        return None if i is None else self._node_data(i)

    def node_at(self, index: int, with_documents: bool = True) -> NodeData:
        """A copy of the data of the node at internal ``index`` (provenance optional)."""
        return self._node_data(index, with_documents)

    def _node_data(self, i: int, with_documents: bool = True) -> NodeData:
        return NodeData(
            id=self._ids[i],
            label=self._labels[i],
            node_type=_TYPES[int(self._type[i])],
            position=Position(float(self._pos[i, 0]), float(self._pos[i, 1])),
            access_count=int(self._access[i]),
            created_tick=int(self._created[i]),
            documents=self.documents_of_index(i) if with_documents else (),
        )

    def documents_of_index(self, i: int) -> tuple[DocumentId, ...]:
        """Ids of the documents the node at index ``i`` was presented from, in order."""
        if not self._prov_n:
            return ()
        if self._prov_csr is None:
            nodes, docs = self.provenance_arrays()
            order = np.argsort(nodes, kind="stable")
            indptr = np.zeros(self._n + 1, dtype=_INT)
            np.cumsum(np.bincount(nodes, minlength=self._n), out=indptr[1:])
            self._prov_csr = (indptr, docs[order])
        indptr, sorted_docs = self._prov_csr
        if i + 1 >= len(indptr):
            return ()
        return tuple(DocumentId(int(d)) for d in sorted_docs[indptr[i] : indptr[i + 1]])

    def node_documents(self, node: NodeId) -> tuple[DocumentId, ...]:
        """Ids of the documents ``node`` was presented from (its provenance)."""
        return self.documents_of_index(self.index_of(node))

    def provenance_ticks(self) -> IntArray:
        """The tick at which each provenance pair of :meth:`provenance_arrays` was
        presented (-1 where it is not known: pairs from a graph built from columns, or
        saved by a phago that did not keep them).

        Example:
            >>> g = HebbianGraph()
            >>> _ = g.present(["a", "b"], NodeType.CONCEPT, Position(0, 0), 3, DocumentId(1))
            >>> _ = g.present(["c"], NodeType.CONCEPT, Position(0, 0), 5, DocumentId(2))
            >>> g.provenance_ticks().tolist()
            [3, 3, 5]
        """
        out = np.full(self._prov_n, -1, dtype=_INT)
        rows, vals = self._prov_tick_rows, self._prov_tick_vals
        for k, (start, tick) in enumerate(zip(rows, vals, strict=True)):
            stop = rows[k + 1] if k + 1 < len(rows) else self._prov_n
            out[start:stop] = tick
        return out

    def provenance_arrays(self) -> tuple[IntArray, npt.NDArray[np.uint64]]:
        """All (node index, document id) provenance pairs, in presentation order (read-only
        views: later presentations do not change them)."""
        n = self._prov_n
        nodes, docs = self._prov_node[:n], self._prov_doc[:n]
        nodes.flags.writeable = False
        docs.flags.writeable = False
        return nodes, docs

    def find_by_label(self, label: str, node_type: NodeType = NodeType.CONCEPT) -> NodeId | None:
        """The id of the node of ``node_type`` with exactly this (normalised) label, O(1)."""
        i = self._by_type[_TYPE_CODE[node_type]].get(normalise_label(label))
        return None if i is None else self._ids[i]

    def find_nodes_by_exact_label(self, label: str) -> list[NodeId]:
        """Ids of every node (any type) whose normalised label equals ``label``."""
        return [self._ids[i] for i in self._label_index.get(normalise_label(label), ())]

    def indices_with_label(self, label: str) -> list[int]:
        """Internal indices of every node (any type) with this normalised label."""
        return self._label_index.get(label, [])

    def indices_with_labels(self, labels: Iterable[str]) -> list[int]:
        """:meth:`indices_with_label` of each label, concatenated in order."""
        get = self._label_index.get
        return [k for label in labels for k in get(label, ())]

    def find_nodes_containing(self, text: str) -> list[NodeId]:
        """Ids of nodes whose label contains ``text`` (case-insensitive), insertion order."""
        q = normalise_label(text)
        return [self._ids[i] for i, lab in enumerate(self._labels) if q in lab]

    def node_ids(self) -> list[NodeId]:
        """All node ids in insertion order."""
        return list(self._ids)

    def nodes(self) -> Iterator[NodeData]:
        """Every node's data, in insertion order."""
        for i in range(self._n):
            yield self._node_data(i)

    def labels(self) -> list[str]:
        """All node labels in insertion order."""
        return list(self._labels)

    def node_type_at(self, index: int) -> NodeType:
        """Type of the node at internal ``index``."""
        return _TYPES[int(self._type[index])]

    def type_codes(self) -> npt.NDArray[np.int8]:
        """Node type codes by index (a view; codes index ``tuple(NodeType)``)."""
        return self._type[: self._n]

    def access_counts(self) -> IntArray:
        """Access counts by node index (a view)."""
        return self._access[: self._n]

    def created_ticks(self) -> IntArray:
        """Creation ticks by node index (a view)."""
        return self._created[: self._n]

    def positions(self) -> npt.NDArray[np.float64]:
        """Node positions by index, shape (n, 2) (a view)."""
        return self._pos[: self._n]

    def indices_near(self, position: Position, radius: float, since: int = 0) -> list[int]:
        """Indices ``>= since`` of nodes within ``radius`` of ``position`` (inclusive).

        Uses the spatial grid, so the cost depends on the nodes nearby, not on the graph.
        """
        r = float(radius)
        c = self._cell
        px, py = position.x, position.y
        x0, x1 = math.floor((px - r) / c), math.floor((px + r) / c)
        y0, y1 = math.floor((py - r) / c), math.floor((py + r) / c)
        grid = self._grid
        found: list[int] = []
        for cx in range(x0, x1 + 1):
            for cy in range(y0, y1 + 1):
                cell = grid.get((cx, cy))
                if not cell:
                    continue
                # cells list indices in increasing order, so ``since`` is a bisection
                start = bisect_left(cell, since) if since > 0 else 0
                if start < len(cell):
                    found.extend(cell[start:] if start else cell)
        if not found:
            return []
        idx = np.fromiter(found, dtype=np.int64, count=len(found))
        pos = self._pos
        dx = pos[idx, 0] - px
        dy = pos[idx, 1] - py
        out: list[int] = idx[dx * dx + dy * dy <= r * r].tolist()
        out.sort()
        return out

    def indices_near_many(
        self, positions: Sequence[Position], radius: float, since: Sequence[int]
    ) -> list[list[int]]:
        """:meth:`indices_near` for many positions, each with its own ``since``.

        Positions sharing a ``since`` are answered by one k-d tree query over the nodes added
        since then (typically the few added in the last tick), instead of one grid scan each.

        Example:
            >>> from phago.graph import HebbianGraph
            >>> from phago.types import NodeType, Position
            >>> g = HebbianGraph()
            >>> _ = g.present(["a", "b"], NodeType.CONCEPT, Position(0, 0))
            >>> _ = g.present(["c"], NodeType.CONCEPT, Position(50, 0))
            >>> g.indices_near_many([Position(1, 0), Position(49, 0)], 5.0, [0, 1])
            [[0, 1], [2]]
        """
        n = self._n
        out: list[list[int]] = [[] for _ in positions]
        groups: dict[int, list[int]] = {}
        for i, s in enumerate(since):
            if s < n:
                groups.setdefault(max(int(s), 0), []).append(i)
        r = float(radius)
        for start, members in groups.items():
            if len(members) < 8 or n - start > 65_536:  # few queries, or most of the graph
                for i in members:
                    out[i] = self.indices_near(positions[i], r, since=start)
                continue
            from scipy.spatial import cKDTree

            pos = self._pos
            tree = cKDTree(pos[start:n])
            qx = np.fromiter((positions[i].x for i in members), np.float64, len(members))
            qy = np.fromiter((positions[i].y for i in members), np.float64, len(members))
            # a hair wider than radius, then the exact test indices_near uses
            hits = tree.query_ball_point(
                np.column_stack([qx, qy]), r * (1.0 + 1e-9) + 1e-12, return_sorted=True
            )
            lengths = np.fromiter(map(len, hits), _INT, len(hits))
            total = int(lengths.sum())
            if not total:
                continue
            # every hit at once (by query, ascending within each), then the exact test
            flat = np.fromiter(chain.from_iterable(hits), _INT, total) + start
            query = np.repeat(np.arange(len(hits)), lengths)
            dx = pos[flat, 0] - qx[query]
            dy = pos[flat, 1] - qy[query]
            keep = dx * dx + dy * dy <= r * r
            flat = flat[keep]
            bounds = np.searchsorted(query[keep], np.arange(len(hits) + 1)).tolist()
            for q, i in enumerate(members):
                lo, hi = bounds[q], bounds[q + 1]
                if hi > lo:
                    out[i] = flat[lo:hi].tolist()
        return out

    # ------------------------------------------------------------------ edges

    def _reserve_edges(self, extra: int) -> None:
        need = self._m + extra
        if need > self._w.shape[0]:
            for name in ("_ea", "_eb", "_w", "_co", "_ct", "_lt", "_alive"):
                setattr(self, name, _grow(getattr(self, name), need, 1.5))
        # a load factor above 0.6 (or a table not built yet)
        if self._table_due or 5 * (self._m_alive + extra) > 3 * self._tk.shape[0]:
            self._rebuild_table(min_live=self._m_alive + extra)

    @property
    def _tkeys(self) -> IntArray:
        """The edge table's keys (built first where it is due)."""
        if self._table_due:
            self._rebuild_table(min_live=self._m_alive)
        return self._tk

    @property
    def _tslots(self) -> npt.NDArray[np.int32]:
        """The edge table's slots (built first where it is due)."""
        if self._table_due:
            self._rebuild_table(min_live=self._m_alive)
        return self._ts

    def _defer_table(self) -> None:
        """Build the edge table on its first use: for code that replaces the edge columns
        wholesale."""
        self._table_due = True

    def _rebuild_table(self, min_live: int) -> None:
        cap = 1024
        while cap < 2 * max(min_live, 1):
            cap *= 2
        if cap != self._tk.shape[0]:
            self._tk = np.empty(cap, dtype=_INT)
            self._ts = np.zeros(cap, dtype=np.int32)
        # every live slot's key, inserted in slot order (the kernel clears the table first)
        K.table_fill_live(self._tk, self._ts, self._alive, self._m, self._ea, self._eb)
        self._table_due = False

    @staticmethod
    def _pair_key(a: int, b: int) -> int:
        lo, hi = (a, b) if a < b else (b, a)
        return (lo << 32) | hi

    def _slot(self, a: int, b: int) -> int:
        return int(K.table_find(self._tkeys, self._tslots, np.int64(self._pair_key(a, b))))

    def wire_pairs(
        self,
        a: IntArray | Sequence[int],
        b: IntArray | Sequence[int],
        tick: int,
        tentative: float | None = None,
        increment: float | None = None,
    ) -> int:
        """Co-activate each pair ``{a[i], b[i]}`` of node indices; self-pairs are ignored.

        A missing edge is created at the tentative weight; an existing one gains
        ``increment`` (capped at 1.0), one co-activation and ``last_activated_tick = tick``.

        Returns:
            The number of pairs wired (created or reinforced).
        """
        self._check_writable()
        aa = np.asarray(a, dtype=_INT)
        bb = np.asarray(b, dtype=_INT)
        if aa.ndim == 1 and aa.shape == bb.shape:  # the usual case: one kernel pass
            lo, hi, status = K.order_pairs(aa, bb, self._n)
            if status:
                raise NodeNotFound("wire_pairs got a node index that does not exist")
            return self._upsert(lo, hi, tick, tentative, increment) if len(lo) else 0
        keep = aa != bb
        if not keep.all():
            aa, bb = aa[keep], bb[keep]
        if len(aa) == 0:
            return 0
        if (aa < 0).any() or (bb < 0).any() or (aa >= self._n).any() or (bb >= self._n).any():
            raise NodeNotFound("wire_pairs got a node index that does not exist")
        return self._upsert(np.minimum(aa, bb), np.maximum(aa, bb), tick, tentative, increment)

    def wire_index_pairs(
        self,
        indices: IntArray,
        pairs: IntArray,
        tick: int,
        tentative: float | None = None,
        increment: float | None = None,
    ) -> tuple[IntArray, IntArray]:
        """:meth:`wire_pairs` of ``indices[pairs[:, 0]]`` and ``indices[pairs[:, 1]]``.

        Gathering, dropping self-pairs and checking the node indices take one kernel pass.

        Args:
            indices: node indices (a presentation's concepts).
            pairs: ``(m, 2)`` positions into ``indices``.
            tick: the tick of the co-activation.
            tentative: weight of a new edge (None: the graph's tentative weight).
            increment: weight added to an existing edge (None: the graph's reinforcement).

        Returns:
            ``(lo, hi)``: the node-index pairs wired, ``lo < hi``, in order (their count is
            what :meth:`wire_pairs` returns).

        Raises:
            IndexError: a position outside ``indices``.
            NodeNotFound: a node index that does not exist.

        Example:
            >>> g = HebbianGraph()
            >>> idx = g.present(["a", "b", "c"])
            >>> lo, hi = g.wire_index_pairs(idx, np.array([[2, 0], [1, 1]]), tick=0)
            >>> lo.tolist(), hi.tolist(), g.edge_count
            ([0], [2], 1)
        """
        self._check_writable()
        lo, hi, status = K.gather_pairs(
            np.asarray(indices, dtype=_INT), np.asarray(pairs, dtype=_INT), self._n
        )
        if status == 1:
            raise IndexError("wire_index_pairs got a pair position outside the indices")
        if status == 2:
            raise NodeNotFound("wire_pairs got a node index that does not exist")
        if len(lo):
            self._upsert(lo, hi, tick, tentative, increment)
        return lo, hi

    def _upsert(
        self,
        lo: IntArray,
        hi: IntArray,
        tick: int,
        tentative: float | None,
        increment: float | None,
    ) -> int:
        """Reinforce or create the edges ``{lo[i], hi[i]}`` (valid, ``lo < hi``), in order.

        In chunks of at most ``_WIRE_CHUNK`` pairs, each with room reserved for all its pairs
        being new: reserving for a whole large call at once would size the edge table as if
        every pair were new, when most reinforce an edge."""
        tent = self.tentative_weight if tentative is None else float(tentative)
        inc = self.reinforcement if increment is None else float(increment)
        total = len(lo)
        for start in range(0, total, _WIRE_CHUNK):
            stop = min(start + _WIRE_CHUNK, total)
            self._reserve_edges(stop - start)
            new_m, created = K.upsert_pairs(
                self._tkeys,
                self._tslots,
                lo[start:stop],
                hi[start:stop],
                self._ea,
                self._eb,
                self._w,
                self._co,
                self._ct,
                self._lt,
                self._m,
                tent,
                inc,
                int(tick),
                _NO_SLOTS,
            )
            self._wired(int(new_m), int(created))
        return total

    def _add_edge_columns(self, a: IntArray, b: IntArray) -> None:
        """Create the edges ``{a[i], b[i]}`` (valid node indices, no self-pair) in this graph
        without edges, in order, at the tentative weight: what :meth:`wire_pairs` at tick 0
        creates, in one pass, with room reserved once for every edge (:meth:`_upsert` wires
        in chunks, growing the columns and rebuilding the table as it goes).

        Raises:
            GraphError: the same pair twice (its edge is then wired twice; the graph is
                left in that state).
        """
        if self._m:
            raise GraphError("edge columns can only be added to a graph without edges")
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        m = len(lo)
        if not kernel_pays(m, loaded_min=0, cold_min=_COLD_KERNEL_MIN):
            # without Numba: the same columns, duplicates found by sorting, and the edge
            # table left to its first use (a graph merged for one query needs none)
            key = np.sort((lo.astype(_INT) << 32) | hi.astype(_INT))
            if m > 1 and (key[1:] == key[:-1]).any():
                raise GraphError("duplicate edges")
            if m > self._w.shape[0]:
                for name in ("_ea", "_eb", "_w", "_co", "_ct", "_lt", "_alive"):
                    setattr(self, name, _grow(getattr(self, name), m, 1.0))
            self._ea[:m], self._eb[:m] = lo, hi
            self._w[:m] = min(self.tentative_weight, 1.0)
            self._co[:m], self._ct[:m], self._lt[:m] = 1, 0, 0
            self._defer_table()
            self._wired(m, m)
            return
        self._reserve_edges(m)
        new_m, created = K.upsert_pairs(
            self._tkeys,
            self._tslots,
            lo,
            hi,
            self._ea,
            self._eb,
            self._w,
            self._co,
            self._ct,
            self._lt,
            self._m,
            self.tentative_weight,
            self.reinforcement,
            0,
            _NO_SLOTS,
        )
        self._wired(int(new_m), int(created))
        if created != m:
            raise GraphError("duplicate edges")

    def _wired(self, new_m: int, created: int) -> None:
        """Account for a wiring kernel that created ``created`` edges (slots up to ``new_m``)."""
        if created:
            self._alive[self._m : new_m] = True
            if self._deg is not None:
                deg = self._live_degrees()  # (room for new nodes)
                K.add_at(deg, self._ea[self._m : new_m], 1)
                K.add_at(deg, self._eb[self._m : new_m], 1)
            self._m = new_m
            self._m_alive += created
            self._csr = None
            self._grew_since_cap = True

    def wire_clique(self, indices: IntArray | Sequence[int], tick: int) -> int:
        """Co-activate every pair ``i < j`` of ``indices`` (a document's concepts)."""
        self._check_writable()
        idx = np.asarray(indices, dtype=_INT)
        k = len(idx)
        if k < 2:
            return 0
        i, j = _triu(k)
        return self.wire_pairs(idx[i], idx[j], tick)

    def get_edge(self, a: NodeId, b: NodeId) -> EdgeData | None:
        """The edge between two node ids (either order), or None."""
        ia, ib = self._index.get(a), self._index.get(b)
        if ia is None or ib is None:
            return None
        s = self._slot(ia, ib)
        return None if s < 0 else self._edge_data(s)

    def edge_between(self, label_a: str, label_b: str) -> EdgeData | None:
        """The edge between two concepts given by label, or None."""
        a, b = self.find_by_label(label_a), self.find_by_label(label_b)
        return None if a is None or b is None else self.get_edge(a, b)

    def _edge_data(self, s: int) -> EdgeData:
        return EdgeData(
            weight=float(self._w[s]),
            co_activations=int(self._co[s]),
            created_tick=int(self._ct[s]),
            last_activated_tick=int(self._lt[s]),
        )

    def set_edge(self, a: NodeId, b: NodeId, data: EdgeData) -> None:
        """Create or replace the edge ``{a, b}``. Both nodes must exist; no self-loops.

        Raises:
            NodeNotFound: ``a`` or ``b`` is not a node.
            GraphError: ``a == b``, or a weight outside (0, 1].
        """
        self._check_writable()
        ia, ib = self.index_of(a), self.index_of(b)
        if ia == ib:
            raise GraphError("self-loops are not allowed")
        if not 0.0 < data.weight <= 1.0:
            raise GraphError(f"edge weight must be in (0, 1], got {data.weight}")
        s = self._slot(ia, ib)
        if s < 0:
            self.wire_pairs([ia], [ib], data.created_tick, tentative=data.weight)
            s = self._slot(ia, ib)
        self._w[s] = data.weight
        self._co[s] = data.co_activations
        self._ct[s] = data.created_tick
        self._lt[s] = data.last_activated_tick

    def remove_edge(self, a: NodeId, b: NodeId) -> EdgeData | None:
        """Remove and return the edge ``{a, b}``, or None if there is none."""
        self._check_writable()
        ia, ib = self._index.get(a), self._index.get(b)
        if ia is None or ib is None:
            return None
        s = self._slot(ia, ib)
        if s < 0:
            return None
        data = self._edge_data(s)
        self._remove_slots(np.array([s], dtype=_INT))
        return data

    def _remove_slots(self, slots: IntArray) -> None:
        """Remove the edges in ``slots`` (live, distinct). When that leaves over a quarter
        of the slots dead, the columns are compacted and the table built again from the
        live edges, so the removed keys are not deleted from it one by one first."""
        if len(slots) == 0:
            return
        dead = self._m - self._m_alive + len(slots)
        compact = dead > 4096 and dead > self._m // 4
        if not compact:
            keys = (self._ea[slots].astype(_INT) << 32) | self._eb[slots].astype(_INT)
            K.table_delete_many(self._tkeys, self._tslots, keys)
        if self._deg is not None:
            K.add_at(self._deg, self._ea[slots], -1)
            K.add_at(self._deg, self._eb[slots], -1)
        self._alive[slots] = False
        self._m_alive -= len(slots)
        self._csr = None
        if compact:
            self._compact_edges()

    def _live_degrees(self) -> IntArray:
        """Every node's number of live edges (indices below the node count; the array may
        be longer, with zeros). Counted in one pass over the edges the first time, then
        kept up to date by edge creation and removal (a degree cap, a Decay's degree
        report and :meth:`degrees` then skip that pass)."""
        deg = self._deg
        if deg is None:
            live = self._alive[: self._m]
            ends_a, ends_b = self._ea[: self._m][live], self._eb[: self._m][live]
            if kernel_pays(self._m, loaded_min=0, cold_min=_COLD_KERNEL_MIN):
                deg = np.zeros(self._n, dtype=_INT)
                K.add_at(deg, ends_a, 1)
                K.add_at(deg, ends_b, 1)
            else:  # (a store's summary, written by a command that starts no Numba)
                deg = np.bincount(ends_a, minlength=self._n).astype(_INT)
                deg += np.bincount(ends_b, minlength=self._n)
            self._deg = deg
        elif len(deg) < self._n:
            grown = np.zeros(max(self._n, 2 * len(deg)), dtype=_INT)
            grown[: len(deg)] = deg
            self._deg = deg = grown
        return deg

    def _compact_edges(self) -> None:
        """Move the live edges to the front of the columns, in order, shrink the columns,
        and build the table again from the live edges (at the size they need)."""
        n = int(
            K.compact_live(
                self._alive, self._m, self._ea, self._eb, self._w, self._co, self._ct, self._lt
            )
        )
        cap = max(int(1.25 * n), 64)
        for name in ("_ea", "_eb", "_w", "_co", "_ct", "_lt"):
            arr = getattr(self, name)
            out = np.zeros(cap, dtype=arr.dtype)
            out[:n] = arr[:n]
            setattr(self, name, out)
        self._alive = np.zeros(cap, dtype=np.bool_)
        self._alive[:n] = True
        self._m = n
        self._rebuild_table(min_live=n)

    def _live_slots(self) -> IntArray:
        if self._m_alive == self._m:
            return np.arange(self._m, dtype=_INT)
        return np.flatnonzero(self._alive[: self._m]).astype(_INT)

    def edge_arrays(
        self,
    ) -> tuple[IntArray, IntArray, npt.NDArray[np.float64], IntArray, IntArray, IntArray]:
        """Copies of the live edges' columns in insertion order:
        ``(a_index, b_index, weight, co_activations, created_tick, last_activated_tick)``."""
        s = self._live_slots()
        return (
            self._ea[s].astype(_INT),
            self._eb[s].astype(_INT),
            self._w[s].copy(),
            self._co[s].astype(_INT),
            self._ct[s].astype(_INT),
            self._lt[s].astype(_INT),
        )

    def edges(self) -> Iterator[tuple[NodeId, NodeId, EdgeData]]:
        """Every live edge as ``(id, id, data)`` in insertion order."""
        for s in self._live_slots():
            yield self._ids[int(self._ea[s])], self._ids[int(self._eb[s])], self._edge_data(int(s))

    def _adjacency(self) -> tuple[IntArray, IntArray, IntArray]:
        if self._csr is None:
            s = self._live_slots()
            a = self._ea[s].astype(_INT)
            b = self._eb[s].astype(_INT)
            src = np.concatenate([a, b])
            dst = np.concatenate([b, a])
            slot = np.concatenate([s, s])
            order = np.lexsort((slot, src))
            counts = np.bincount(src, minlength=self._n)
            indptr = np.zeros(self._n + 1, dtype=_INT)
            np.cumsum(counts, out=indptr[1:])
            self._csr = (indptr, dst[order], slot[order])
        return self._csr

    def neighbor_indices(self, index: int) -> tuple[IntArray, npt.NDArray[np.float64]]:
        """Neighbour indices and edge weights of the node at ``index`` (edge insertion order)."""
        indptr, nbr, slot = self._adjacency()
        lo, hi = indptr[index], indptr[index + 1]
        return nbr[lo:hi], self._w[slot[lo:hi]]

    def neighbors(self, node: NodeId) -> list[tuple[NodeId, EdgeData]]:
        """``(neighbour id, edge data)`` for each edge of ``node``, edge insertion order."""
        i = self.index_of(node)
        indptr, nbr, slot = self._adjacency()
        return [
            (self._ids[int(n)], self._edge_data(int(s)))
            for n, s in zip(
                nbr[indptr[i] : indptr[i + 1]], slot[indptr[i] : indptr[i + 1]], strict=True
            )
        ]

    def degree(self, node: NodeId) -> int:
        """Number of edges of ``node``."""
        i = self.index_of(node)
        indptr = self._adjacency()[0]
        return int(indptr[i + 1] - indptr[i])

    def degrees(self) -> IntArray:
        """Degree of every node by index."""
        return self.degrees_and_incident_edges(())[0]

    def incident_edges(
        self, indices: IntArray | Sequence[int]
    ) -> tuple[IntArray, IntArray, npt.NDArray[np.float64], IntArray]:
        """Every live edge of the nodes at ``indices``, once per listed endpoint.

        Returns:
            ``(node, other, weight, created_tick)``: the listed endpoint's index, the other
            endpoint's index, the weight and the creation tick of each edge, in slot order
            (an edge with both endpoints listed appears twice, first endpoint first).

        Raises:
            NodeNotFound: an index outside ``[0, node_count)``.

        Example:
            >>> g = HebbianGraph()
            >>> _ = [g.add_node(f"n{i}") for i in range(3)]
            >>> g.wire_pairs([0, 0], [1, 2], tick=4)
            2
            >>> node, other, w, ct = g.incident_edges([2])
            >>> node.tolist(), other.tolist(), w.tolist(), ct.tolist()
            ([2], [0], [0.1], [4])
        """
        return self.degrees_and_incident_edges(indices)[1]

    def degrees_and_incident_edges(
        self, indices: IntArray | Sequence[int]
    ) -> tuple[IntArray, tuple[IntArray, IntArray, npt.NDArray[np.float64], IntArray]]:
        """:meth:`degrees` and :meth:`incident_edges` of ``indices``, in one pass.

        Raises:
            NodeNotFound: an index outside ``[0, node_count)``.

        Example:
            >>> g = HebbianGraph()
            >>> for label in ("sun", "moon", "star"):
            ...     _ = g.add_node(label)
            >>> g.wire_pairs([1, 2], [0, 0], tick=4)  # sun-moon, sun-star
            2
            >>> deg, (node, other, w, ct) = g.degrees_and_incident_edges([1])
            >>> deg.tolist(), node.tolist(), other.tolist()
            ([2, 1, 1], [1], [0])
        """
        idx, listed = self._listed_nodes(indices)
        deg = self._live_degrees()[: self._n].copy()
        if len(idx):
            slots, node = K.incident_live(
                self._alive, self._m, self._ea, self._eb, listed, 2 * self._m_alive
            )
        else:
            slots = node = np.zeros(0, dtype=_INT)
        return deg, self._incident_columns(slots, node)

    def _listed_nodes(
        self, indices: IntArray | Sequence[int]
    ) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        """``indices`` checked to name nodes, and a flag per node for them."""
        idx = np.asarray(indices, dtype=_INT)
        if kernel_pays(len(idx), loaded_min=0, cold_min=_COLD_KERNEL_MIN):
            inside = K.all_in_range(idx, 0, self._n)
        else:
            inside = not len(idx) or (int(idx.min()) >= 0 and int(idx.max()) < self._n)
        if not inside:
            raise NodeNotFound(f"node indices outside [0, {self._n})")
        listed = np.zeros(self._n, dtype=np.bool_)
        listed[idx] = True
        return idx, listed

    def _incident_columns(
        self, slots: IntArray, node: IntArray
    ) -> tuple[IntArray, IntArray, npt.NDArray[np.float64], IntArray]:
        """``(node, other end, weight, creation tick)`` of the edges in ``slots``, each
        seen from its listed end ``node``."""
        other = (self._ea[slots] + self._eb[slots]).astype(_INT) - node
        return node, other, self._w[slots], self._ct[slots].astype(_INT)

    def degrees_and_grouped_incident_edges(
        self, indices: IntArray | Sequence[int], keys: IntArray, lead: int
    ) -> tuple[
        IntArray,
        tuple[IntArray, IntArray, npt.NDArray[np.float64], IntArray],
        list[tuple[int, int, int]],
    ]:
        """:meth:`degrees_and_incident_edges` with the edges grouped by their listed
        endpoint's key (``keys[node]``, non-negative, one per node): key ``lead``'s edges
        first, then every other key's in ascending key order, each group in slot order.
        One pass to count and one to place, where a partition and a grouping of
        :meth:`degrees_and_incident_edges`'s edges take a sort and a gather each.

        Returns:
            ``(degrees, edges, groups)``: ``groups`` holds ``(key, start, stop)``, the lead
            key's first (even when empty), then the other keys with edges, ascending.

        Raises:
            NodeNotFound: an index outside ``[0, node_count)``.
            ValueError: ``keys`` names fewer than ``node_count`` nodes, or a key or
                ``lead`` is negative.

        Example:
            >>> g = HebbianGraph()
            >>> for label in ("sun", "moon", "star"):
            ...     _ = g.add_node(label)
            >>> g.wire_pairs([1, 2, 1], [0, 0, 2], tick=4)
            3
            >>> keys = np.array([0, 1, 0])  # sun and star in group 0, moon in group 1
            >>> deg, (node, other, w, ct), groups = g.degrees_and_grouped_incident_edges(
            ...     [0, 1], keys, lead=1)
            >>> node.tolist(), other.tolist(), groups
            ([1, 1, 0, 0], [0, 2, 1, 2], [(1, 0, 2), (0, 2, 4)])
        """
        idx, listed = self._listed_nodes(indices)
        key = np.asarray(keys, dtype=_INT)
        if len(key) < self._n:
            raise ValueError(f"keys name {len(key)} nodes, the graph has {self._n}")
        if lead < 0 or (len(idx) and int(key[idx].min()) < 0):
            raise ValueError("keys must be non-negative")
        n_keys = max(int(lead), int(key[idx].max()) if len(idx) else 0) + 1
        deg = self._live_degrees()[: self._n].copy()
        if not len(idx):  # nothing listed: no pass over the edges
            none = np.zeros(0, dtype=_INT)
            return deg, self._incident_columns(none, none), [(int(lead), 0, 0)]
        slots, node, starts, counts = K.incident_grouped(
            self._alive, self._m, self._ea, self._eb, listed, key, int(lead), n_keys
        )
        groups = [(int(lead), 0, int(counts[lead]))]
        for k in np.flatnonzero(counts).tolist():
            if k != lead:
                groups.append((k, int(starts[k]), int(starts[k] + counts[k])))
        return deg, self._incident_columns(slots, node), groups

    def remove_index_pairs(
        self, a: IntArray | Sequence[int], b: IntArray | Sequence[int]
    ) -> PrunedEdges:
        """Remove the edges ``{a[k], b[k]}`` that exist (absent pairs are skipped).

        Returns:
            The removed edges, each once, in slot order.

        Raises:
            ValueError: ``a`` and ``b`` differ in length.
            NodeNotFound: an index outside ``[0, node_count)``.

        Example:
            >>> g = HebbianGraph()
            >>> _ = [g.add_node(f"n{i}") for i in range(3)]
            >>> g.wire_pairs([0, 1], [1, 2], tick=0)
            2
            >>> len(g.remove_index_pairs([1, 2, 0], [0, 0, 2])), g.edge_count
            (1, 1)
        """
        self._check_writable()
        ia = np.ascontiguousarray(a, dtype=_INT)
        ib = np.ascontiguousarray(b, dtype=_INT)
        if ia.shape != ib.shape or ia.ndim != 1:
            raise ValueError(f"{len(ia)} first endpoints but {len(ib)} second endpoints")
        found, ok = K.table_find_pairs(self._tkeys, self._tslots, ia, ib, self._n)
        if not ok:
            raise NodeNotFound(f"node indices outside [0, {self._n})")
        slots = unique_sorted(found[found >= 0])
        out = self._pruned(slots)
        self._remove_slots(slots)
        return out

    def _pruned(self, slots: IntArray) -> PrunedEdges:
        ids = self._ids_arr
        return PrunedEdges(
            ids[self._ea[slots]],
            ids[self._eb[slots]],
            self._w[slots].copy(),
            self._ct[slots].astype(_INT),
        )

    def decay_edges(self, rate: float, threshold: float) -> PrunedEdges:
        """Plain decay: every weight times ``1 - rate``; edges below ``threshold`` removed.

        Raises:
            GraphError: ``rate`` outside [0, 1], or ``threshold`` not a finite number.
        """
        self._check_writable()
        if not (math.isfinite(rate) and 0.0 <= rate <= 1.0 and math.isfinite(threshold)):
            raise GraphError(
                f"decay rate must be in [0, 1] and the threshold finite, got {rate!r}, "
                f"{threshold!r}"
            )
        s = self._live_slots()
        self._w[s] *= 1.0 - rate
        gone = s[self._w[s] < threshold]
        out = self._pruned(gone)
        self._remove_slots(gone)
        return out

    def decay_edges_activity(
        self,
        base_rate: float,
        threshold: float,
        now: int,
        staleness_factor: float,
        maturation: int,
    ) -> PrunedEdges:
        """Activity-aware decay (REFERENCE.md §3.2), vectorised.

        Young edges (age < maturation) decay at ``base_rate`` and are never pruned; mature
        edges decay faster the longer since their last co-activation, slower the more
        co-activations they have; the per-call factor is at least 0.5. Mature edges below
        ``threshold`` are removed and returned.
        """
        self._check_writable()
        if self._m_alive == 0:
            return PrunedEdges.empty()
        # one pass over the slots (see the kernel for the per-edge arithmetic)
        gone = K.decay_activity(
            self._alive,
            self._m,
            self._w,
            self._co,
            self._ct,
            self._lt,
            float(base_rate),
            float(threshold),
            int(now),
            float(staleness_factor),
            int(maturation),
        )
        out = self._pruned(gone)
        self._remove_slots(gone)
        return out

    def prune_to_max_degree(self, max_degree: int) -> PrunedEdges:
        """Competitive pruning: each node keeps its ``max_degree`` strongest edges.

        Ties keep the earlier-created edge. An edge is removed if either endpoint drops it
        (the reference's behaviour, kept and pinned by a test: it bounds every degree).
        """
        self._check_writable()
        if max_degree < 0:
            raise ConfigError("max_degree must be >= 0")
        if not self._grew_since_cap and max_degree >= self._last_cap:
            return PrunedEdges.empty()
        self._grew_since_cap = False
        self._last_cap = max_degree
        if self._m_alive == 0:
            return PrunedEdges.empty()
        gone, ranked_out = K.degree_cap_live(
            self._alive,
            self._m,
            self._ea,
            self._eb,
            self._w,
            self._live_degrees(),
            self._n,
            int(max_degree),
        )
        out = self._pruned(gone)
        out.ranked_out = ranked_out
        out.local_ends = np.column_stack([self._ea[gone], self._eb[gone]]).astype(_INT)
        self._remove_slots(gone)
        return out

    def edge_memory_bytes(self) -> int:
        """Bytes held for edges: the edge columns (with their spare capacity) and the table
        as it is (a table due to be built is not built to be measured)."""
        return int(
            sum(
                a.nbytes
                for a in (
                    self._ea,
                    self._eb,
                    self._w,
                    self._co,
                    self._ct,
                    self._lt,
                    self._alive,
                    self._tk,
                    self._ts,
                )
            )
        )

    def node_memory_bytes(self) -> int:
        """Bytes held by the node columns (labels and dictionaries not included)."""
        return int(
            sum(
                a.nbytes
                for a in (self._type, self._access, self._created, self._pos, self._ids_arr)
            )
        )

    # ------------------------------------------------------------------ export

    def to_networkx(self) -> nx.Graph:
        """A :class:`networkx.Graph` keyed by NodeId with the documented attributes.

        Node attributes: ``label``, ``node_type``, ``access_count``, ``created_tick``,
        ``x``, ``y``. Edge attributes: ``weight``, ``co_activations``, ``created_tick``,
        ``last_activated_tick``.
        """
        import networkx as nx

        g = nx.Graph()
        acc, ct, pos = self.access_counts(), self.created_ticks(), self.positions()
        for i in range(self._n):
            g.add_node(
                self._ids[i],
                label=self._labels[i],
                node_type=_TYPES[int(self._type[i])].value,
                access_count=int(acc[i]),
                created_tick=int(ct[i]),
                x=float(pos[i, 0]),
                y=float(pos[i, 1]),
            )
        a, b, w, co, ect, lt = self.edge_arrays()
        ids = self._ids
        g.add_edges_from(
            (
                ids[int(a[k])],
                ids[int(b[k])],
                {
                    "weight": float(w[k]),
                    "co_activations": int(co[k]),
                    "created_tick": int(ect[k]),
                    "last_activated_tick": int(lt[k]),
                },
            )
            for k in range(len(a))
        )
        return g

    def labels_of(self, indices: Iterable[int]) -> list[str]:
        """Labels of the given internal indices."""
        return [self._labels[int(i)] for i in indices]


_TRIU_CACHE: dict[int, tuple[IntArray, IntArray]] = {}
TRIU_CACHED_UP_TO = 128
"""Index pairs of cliques of up to this many keywords are kept for reuse (a few MB in all;
every size up to 512 grew to about 360 MB in a long run, and as much again in
:mod:`phago.colony`'s stacked copies); larger cliques compute theirs, work of the order of
wiring them."""


def _positions_among(keys: npt.NDArray[np.uint64], wanted: npt.NDArray[np.uint64]) -> IntArray:
    """The position of each of ``wanted`` in ``keys`` (distinct), -1 where it is not there:
    by sorting ``keys`` and searching them, in NumPy (what the graph's id table answers
    with a kernel).

    Example:
        >>> keys = np.array([30, 10, 20], dtype=np.uint64)
        >>> _positions_among(keys, np.array([20, 5, 30, 10], dtype=np.uint64)).tolist()
        [2, -1, 0, 1]
    """
    out = np.full(len(wanted), -1, dtype=_INT)
    if not len(keys) or not len(wanted):
        return out
    order = np.argsort(keys)
    ordered = keys[order]
    at = np.searchsorted(ordered, wanted)
    at[at == len(ordered)] = 0
    hit = ordered[at] == wanted
    out[hit] = order[at[hit]]
    return out


def _as_node_ids(
    ids: npt.ArrayLike,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_] | None]:
    """``ids`` as a flat ``uint64`` array, and where an id cannot name a node (negative, or
    beyond 64 bits) the mask of those entries (None when every id can).

    Raises:
        TypeError: an id that is not an integer.
    """
    if isinstance(ids, np.ndarray):
        arr = ids.reshape(-1)
        if arr.dtype.kind == "u":
            return arr.astype(np.uint64, copy=False), None
        if arr.dtype.kind == "i":
            negative = arr < 0
            return arr.astype(np.uint64), negative if negative.any() else None
        if arr.dtype.kind != "O" and len(arr):
            raise TypeError(f"node ids must be integers, got an array of {arr.dtype}")
        items = arr.tolist()
    else:
        items = list(ids)  # type: ignore[arg-type]
        if all(type(x) is int for x in items):
            try:  # exact for Python ints (no float on the way, unlike np.asarray)
                return np.array(items, dtype=np.uint64).reshape(-1), None
            except OverflowError:
                pass
    values = [operator.index(x) for x in items]  # TypeError for anything but an integer
    ok = [0 <= v < 1 << 64 for v in values]
    q = np.array([v if good else 0 for v, good in zip(values, ok, strict=True)], dtype=np.uint64)
    invalid = ~np.array(ok, dtype=np.bool_)
    return q, invalid if invalid.any() else None


def _triu(k: int) -> tuple[IntArray, IntArray]:
    got = _TRIU_CACHE.get(k)
    if got is None:
        i, j = np.triu_indices(k, 1)
        got = (i.astype(_INT), j.astype(_INT))
        if k <= TRIU_CACHED_UP_TO:
            _TRIU_CACHE[k] = got
    return got
