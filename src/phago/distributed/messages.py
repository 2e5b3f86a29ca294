"""Batched messages between shards: node presentations and edge co-activations.

One :class:`UpdateBatch` carries everything one shard sends another in one tick (batched per
(source, destination, tick)): presentations of concepts the destination owns, and
co-activations of edges it owns. Arrays, not objects, so a batch is cheap to build, pickle and
apply. :class:`HeldMessages` is what a tick's Decay sends for the next tick's (ghost requests
and degree reports to answer, ghosts and cap orders to deliver), held between ticks.

Example:
    >>> b = UpdateBatch(source=0, dest=1, tick=3)
    >>> b.is_empty
    True
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from typing import Any, NamedTuple, overload

import numpy as np
import numpy.typing as npt

from phago._arrays import frozen_empty
from phago.distributed.types import CrossShardEdge, ShardId
from phago.graph import _TYPE_CODE, _TYPES
from phago.ids import NodeId
from phago.types import NodeType

__all__ = [
    "CrossShardEdgeArray",
    "HeldMessages",
    "PresentationGroup",
    "PresentationGroups",
    "TickOutlook",
    "UpdateBatch",
]


class TickOutlook(NamedTuple):
    """What a shard's Advance reports for deciding the next tick: whether it has anything
    left to digest, and whether it wants the merged distribution at its next Sense.

    ``steady``: the shard cannot come to want the distribution within its next tick (no
    agent of its wants it, it has no spawn policy and no logged call to replay), and every
    agent's Sense reads only the substrate: what lets a pipelined shard run its next Sense
    before the other shards' parts for its Decay arrive (see
    :class:`~phago.distributed.backends.ray.ShardActorImpl`).

    Example:
        >>> TickOutlook(busy=True, wants_distribution=False).busy
        True
    """

    busy: bool
    wants_distribution: bool
    steady: bool = False


@dataclass(slots=True)
class PresentationGroup:
    """Concepts presented together (one fragment list) for nodes the destination owns."""

    labels: list[str]
    node_type: str
    x: float
    y: float
    document: int | None


# empty array fields share read-only arrays (``frozen_empty``): a batch is made per
# destination every tick
def _no_codes() -> npt.NDArray[np.int8]:
    return frozen_empty(np.int8)


def _no_ids() -> npt.NDArray[np.uint64]:
    return frozen_empty(np.uint64)


def _no_ends() -> npt.NDArray[np.int64]:
    return frozen_empty(np.int64)


def _no_floats() -> npt.NDArray[np.float64]:
    return frozen_empty(np.float64)


def _no_flags() -> npt.NDArray[np.bool_]:
    return frozen_empty(np.bool_)


@dataclass(slots=True)
class PresentationGroups:
    """A run of presentations as columns (what an :class:`UpdateBatch` carries): group
    ``k``'s labels are ``labels[ends[k - 1]:ends[k]]`` (from 0 for the first), its node type
    ``tuple(NodeType)[types[k]]``, its place ``(x[k], y[k])`` and its document ``docs[k]``
    where ``has_doc[k]``. Arrays, not one object per presentation: a tick's presentations
    for another shard are cheap to build, pickle and apply. A shard routing its own
    presentations also sends each label's NodeId (``ids``, one per label, else empty): its
    labels are normalised already, so the receiver finds and creates nodes by id, without
    normalising and hashing each label again.

    Example:
        >>> g = PresentationGroups.from_groups(
        ...     [PresentationGroup(["cell", "wall"], "concept", 1.0, 2.0, 7),
        ...      PresentationGroup(["dna"], "concept", 0.0, 0.0, None)])
        >>> len(g), g.ends.tolist(), g.has_doc.tolist()
        (2, [2, 3], [True, False])
        >>> list(g)[1].labels, list(g)[1].document
        (['dna'], None)
    """

    labels: list[str] = field(default_factory=list)
    ends: npt.NDArray[np.int64] = field(default_factory=_no_ends)
    types: npt.NDArray[np.int8] = field(default_factory=_no_codes)
    x: npt.NDArray[np.float64] = field(default_factory=_no_floats)
    y: npt.NDArray[np.float64] = field(default_factory=_no_floats)
    docs: npt.NDArray[np.uint64] = field(default_factory=_no_ids)
    has_doc: npt.NDArray[np.bool_] = field(default_factory=_no_flags)
    ids: npt.NDArray[np.uint64] = field(default_factory=_no_ids)

    def __len__(self) -> int:
        return len(self.ends)

    def __iter__(self) -> Iterator[PresentationGroup]:
        start = 0
        for k, end in enumerate(self.ends.tolist()):
            yield PresentationGroup(
                self.labels[start:end],
                _TYPES[int(self.types[k])].value,
                float(self.x[k]),
                float(self.y[k]),
                int(self.docs[k]) if self.has_doc[k] else None,
            )
            start = end

    @classmethod
    def from_groups(cls, groups: Sequence[PresentationGroup]) -> PresentationGroups:
        """The columns of ``groups``, in order."""
        return cls(
            [label for grp in groups for label in grp.labels],
            np.cumsum([len(grp.labels) for grp in groups], dtype=np.int64),
            np.array([_TYPE_CODE[NodeType(grp.node_type)] for grp in groups], dtype=np.int8),
            np.array([grp.x for grp in groups], dtype=np.float64),
            np.array([grp.y for grp in groups], dtype=np.float64),
            np.array([grp.document or 0 for grp in groups], dtype=np.uint64),
            np.array([grp.document is not None for grp in groups], dtype=np.bool_),
        )

    @classmethod
    def concat(cls, parts: Sequence[PresentationGroups]) -> PresentationGroups:
        """``parts``' groups, one part after another."""
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return cls()
        sizes = [len(p.labels) for p in parts]
        offsets = np.cumsum(sizes) - sizes  # where each part's labels start
        with_ids = all(len(p.ids) == len(p.labels) for p in parts)
        return cls(
            [label for p in parts for label in p.labels],
            np.concatenate([p.ends + off for p, off in zip(parts, offsets.tolist(), strict=True)]),
            np.concatenate([p.types for p in parts]),
            np.concatenate([p.x for p in parts]),
            np.concatenate([p.y for p in parts]),
            np.concatenate([p.docs for p in parts]),
            np.concatenate([p.has_doc for p in parts]),
            np.concatenate([p.ids for p in parts]) if with_ids else _no_ids(),
        )

    def runs(self) -> Iterator[tuple[int, int, int]]:
        """``(type code, first group, end group)`` of each run of groups of one node type."""
        types = self.types
        n = len(types)
        if not n:
            return
        cuts = np.flatnonzero(types[1:] != types[:-1]) + 1
        bounds = [0, *cuts.tolist(), n]
        for g0, g1 in pairwise(bounds):
            yield int(types[g0]), g0, g1


def _no_refs() -> npt.NDArray[np.int32]:
    return frozen_empty(np.int32)


@dataclass(slots=True)
class UpdateBatch:
    """All updates from ``source`` to ``dest`` produced in the Act phase of ``tick``.

    Edge endpoints are indices into the reference table ``ref_ids`` / ``ref_labels`` /
    ``ref_types`` so labels travel once per batch, not once per edge. The reference table
    lists each node once, in order of first appearance over the source's wiring calls'
    endpoints (call 0's ``a`` ends, call 0's ``b`` ends, call 1's ``a`` ends, ...), so the
    destination creates missing nodes in that order.

    Co-activations come in groups, one per run of wiring calls with the same weights on the
    source, applied in order with those weights: group ``k`` is ``edge_a[s:e]`` /
    ``edge_b[s:e]`` with ``s = edge_ends[k - 1]`` (0 for the first) and ``e = edge_ends[k]``.

    Attributes:
        source: the sending shard.
        dest: the receiving shard.
        tick: the tick whose Act phase produced the batch.
        groups: presentations of concepts ``dest`` owns, in order (as columns).
        ref_ids: NodeIds of the referenced nodes.
        ref_labels: their labels.
        ref_types: their node type codes (indices into ``tuple(NodeType)``).
        edge_a: first endpoints (reference indices, uint16 or int32), all groups
            concatenated.
        edge_b: second endpoints (reference indices).
        edge_ends: end offset of each group in ``edge_a`` / ``edge_b``.
        edge_tentative: each group's tentative weight (None: the graph's default).
        edge_increment: each group's reinforcement (None: the graph's default).
    """

    source: int
    dest: int
    tick: int
    groups: PresentationGroups = field(default_factory=PresentationGroups)
    ref_ids: npt.NDArray[np.uint64] = field(default_factory=_no_ids)
    ref_labels: list[str] = field(default_factory=list)
    ref_types: npt.NDArray[np.int8] = field(default_factory=_no_codes)
    edge_a: npt.NDArray[np.integer[Any]] = field(default_factory=_no_refs)
    edge_b: npt.NDArray[np.integer[Any]] = field(default_factory=_no_refs)
    edge_ends: list[int] = field(default_factory=list)
    edge_tentative: list[float | None] = field(default_factory=list)
    edge_increment: list[float | None] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """True if the batch carries nothing."""
        return not len(self.groups) and not len(self.edge_a)

    @property
    def edge_count(self) -> int:
        """Number of edge co-activations carried."""
        return len(self.edge_a)

    def edge_groups(
        self,
    ) -> Iterator[tuple[int, int, float | None, float | None]]:
        """``(start, end, tentative, increment)`` of each co-activation group, in order."""
        start = 0
        for end, tentative, increment in zip(
            self.edge_ends, self.edge_tentative, self.edge_increment, strict=True
        ):
            yield start, end, tentative, increment
            start = end


@cache
def _no_edges() -> CrossShardEdgeArray:
    """The one empty :class:`CrossShardEdgeArray` (read-only zero-length columns: nothing in
    it can change); what :meth:`CrossShardEdgeArray.empty` and its unpickling give."""
    return CrossShardEdgeArray(
        frozen_empty(np.uint64),
        frozen_empty(np.uint64),
        frozen_empty(np.int64),
        frozen_empty(np.int64),
        frozen_empty(np.float64),
    )


class CrossShardEdgeArray(Sequence[CrossShardEdge]):
    """A compact, lazily materialised sequence of :class:`CrossShardEdge`.

    Example:
        >>> arr = CrossShardEdgeArray.empty()
        >>> len(arr), list(arr)
        (0, [])
    """

    __slots__ = ("from_nodes", "from_shards", "to_nodes", "to_shards", "weights")

    def __init__(
        self,
        from_nodes: npt.NDArray[np.uint64],
        to_nodes: npt.NDArray[np.uint64],
        from_shards: npt.NDArray[np.int64],
        to_shards: npt.NDArray[np.int64],
        weights: npt.NDArray[np.float64],
    ) -> None:
        self.from_nodes = from_nodes
        self.to_nodes = to_nodes
        self.from_shards = from_shards
        self.to_shards = to_shards
        self.weights = weights

    @classmethod
    def empty(cls) -> CrossShardEdgeArray:
        """No edges (one shared instance)."""
        return _no_edges()

    @classmethod
    def concat(cls, parts: Sequence[CrossShardEdgeArray]) -> CrossShardEdgeArray:
        """Concatenate several arrays."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.from_nodes for p in parts]),
            np.concatenate([p.to_nodes for p in parts]),
            np.concatenate([p.from_shards for p in parts]),
            np.concatenate([p.to_shards for p in parts]),
            np.concatenate([p.weights for p in parts]),
        )

    def __len__(self) -> int:
        return len(self.weights)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # an empty one (every Act result when the runner does not list the edges) as a
        # call of empty(): its five zero-length arrays took longer to pickle and load than
        # the rest of the result
        if not len(self.weights):  # (a module-level function: cloudpickle, Ray's own
            # pickler, would send a classmethod's code by value)
            return (_no_edges, ())
        return (
            CrossShardEdgeArray,
            (self.from_nodes, self.to_nodes, self.from_shards, self.to_shards, self.weights),
        )

    def _item(self, i: int) -> CrossShardEdge:
        return CrossShardEdge(
            NodeId(int(self.from_nodes[i])),
            NodeId(int(self.to_nodes[i])),
            ShardId(int(self.from_shards[i])),
            ShardId(int(self.to_shards[i])),
            float(self.weights[i]),
        )

    @overload
    def __getitem__(self, i: int) -> CrossShardEdge: ...

    @overload
    def __getitem__(self, i: slice) -> list[CrossShardEdge]: ...

    def __getitem__(self, i: int | slice) -> CrossShardEdge | list[CrossShardEdge]:
        if isinstance(i, slice):
            return [self._item(k) for k in range(len(self))[i]]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._item(i)

    def __iter__(self) -> Iterator[CrossShardEdge]:
        for i in range(len(self)):
            yield self._item(i)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CrossShardEdgeArray | list):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"CrossShardEdgeArray(len={len(self)})"


@dataclass(slots=True)
class HeldMessages:
    """What a tick's Decay sent for the next tick's Decay, held between ticks.

    Attributes:
        asks: owner -> requesting shard -> node ids whose ghosts it lacks, then a
            :class:`~phago.distributed.degree_cap.DegreeReport` when there is one.
        answers: requesting shard -> ghosts, then a
            :class:`~phago.distributed.degree_cap.CapOrder` per owner when there is one
            (owner order).

    Example:
        >>> held = HeldMessages()
        >>> held.add(1, {0: [42]}, {0: ["ghost"]})
        >>> held.asks, held.answers
        ({0: {1: [42]}}, {0: ['ghost']})
    """

    asks: dict[int, dict[int, list[Any]]] = field(default_factory=dict)
    answers: dict[int, list[Any]] = field(default_factory=dict)

    def add(
        self, source: int, requests: dict[int, list[Any]], answers: dict[int, list[Any]]
    ) -> None:
        """Take shard ``source``'s Decay outputs (take shards in order: answers to one
        shard keep the owners' order)."""
        for owner, items in requests.items():
            self.asks.setdefault(owner, {})[source] = items
        for req, items in answers.items():
            self.answers.setdefault(req, []).extend(items)

    def extend(self, other: HeldMessages) -> None:
        """Add ``other``'s messages to these."""
        for owner, held in other.asks.items():
            for req, items in held.items():
                self.asks.setdefault(owner, {}).setdefault(req, []).extend(items)
        for req, items in other.answers.items():
            self.answers.setdefault(req, []).extend(items)

    def __bool__(self) -> bool:
        return bool(self.asks) or bool(self.answers)
