"""Graph distributions for sentinels and synthesizers, read through a pluggable provider.

A :class:`~phago.agents.sentinel.Sentinel` learns the colony's *normal* concept distribution
(each concept's share of all concept accesses) and edge-weight distribution; a
:class:`~phago.agents.synthesizer.Synthesizer` needs concepts' access counts. They read these
through a :class:`DistributionProvider` rather than straight from the graph:

* :class:`LocalDistribution` (the default) measures the agent's own graph. On a single colony
  that *is* the global distribution.
* On a distributed colony each shard's graph holds only the concepts it owns. The coordinator
  gathers every shard's :class:`GraphDistribution` (``LocalDistribution().measure(graph)``) after
  the Decay phase, merges them with :meth:`GraphDistribution.merge` (sums of counts and of edge
  moments, so the merge is exact and order-independent) and hands the result to each shard's
  :class:`AggregatedDistribution` with :meth:`AggregatedDistribution.update`. Sentinels and
  synthesizers on that shard then compare against the global distribution, while structure
  (neighbourhoods, clusters, bridges, outlier edges) is read from the shard's own graph.
  Until the first update an :class:`AggregatedDistribution` falls back to the local graph.

Example:
    >>> from phago.graph import HebbianGraph
    >>> from phago.agents.distribution import GraphDistribution, LocalDistribution
    >>> g = HebbianGraph()
    >>> idx = g.present(["cell", "membrane", "cell"])
    >>> g.wire_clique(idx[:2], tick=0)
    1
    >>> d = LocalDistribution().measure(g)
    >>> d.count("cell"), d.total, d.edge_n
    (2, 3, 1)
    >>> GraphDistribution.merge([d, d]).count("cell")
    4
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from phago.ids import NodeId
from phago.types import NodeType

if TYPE_CHECKING:
    from phago.graph import HebbianGraph

__all__ = [
    "CONCEPT_CODE",
    "AggregatedDistribution",
    "DistributionProvider",
    "GraphDistribution",
    "LocalDistribution",
    "link_plan",
    "room_to_wire",
]

#: Type code of concept nodes in :meth:`HebbianGraph.type_codes`.
CONCEPT_CODE: int = list(NodeType).index(NodeType.CONCEPT)


@dataclass(frozen=True, slots=True)
class GraphDistribution:
    """Concept access counts and edge-weight moments of a graph (or of several, merged).

    Attributes:
        counts: concept label -> summed access count (insertion order of the graph).
        edge_n: number of concept-concept edges.
        edge_sum: sum of their weights.
        edge_sumsq: sum of their squared weights.
        tick: the tick it was measured at (the latest one for a merge).
    """

    counts: dict[str, int] = field(default_factory=dict)
    edge_n: int = 0
    edge_sum: float = 0.0
    edge_sumsq: float = 0.0
    tick: int = 0

    @property
    def total(self) -> int:
        """Sum of all concept access counts."""
        return sum(self.counts.values())

    def count(self, label: str) -> int:
        """Access count of ``label`` (0 if absent)."""
        return self.counts.get(label, 0)

    @property
    def edge_mean(self) -> float:
        """Mean edge weight (0 without edges)."""
        return self.edge_sum / self.edge_n if self.edge_n else 0.0

    @property
    def edge_std(self) -> float:
        """Population standard deviation of the edge weights (0 without edges)."""
        if not self.edge_n:
            return 0.0
        m = self.edge_mean
        return math.sqrt(max(self.edge_sumsq / self.edge_n - m * m, 0.0))

    @staticmethod
    def merge(parts: Iterable[GraphDistribution]) -> GraphDistribution:
        """Exact merge of shard distributions: counts and moments add up.

        Labels keep first-seen order over ``parts`` (in the given order).
        """
        counts: dict[str, int] = {}
        n, s, ss, tick = 0, 0.0, 0.0, 0
        for p in parts:
            for label, c in p.counts.items():
                counts[label] = counts.get(label, 0) + c
            n += p.edge_n
            s += p.edge_sum
            ss += p.edge_sumsq
            tick = max(tick, p.tick)
        return GraphDistribution(counts, n, s, ss, tick)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form (for shipping from shards to the coordinator)."""
        return {
            "counts": list(self.counts.items()),
            "edge_n": self.edge_n,
            "edge_sum": self.edge_sum,
            "edge_sumsq": self.edge_sumsq,
            "tick": self.tick,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> GraphDistribution:
        """Inverse of :meth:`to_dict`."""
        raw = data["counts"]
        assert isinstance(raw, list)
        return cls(
            {str(k): int(v) for k, v in raw},
            int(data["edge_n"]),  # type: ignore[call-overload]
            float(data["edge_sum"]),  # type: ignore[arg-type]
            float(data["edge_sumsq"]),  # type: ignore[arg-type]
            int(data["tick"]),  # type: ignore[call-overload]
        )


class DistributionProvider(Protocol):
    """Where sentinels and synthesizers read the (global) graph distribution from."""

    def distribution(self, graph: HebbianGraph, tick: int) -> GraphDistribution:
        """The distribution to compare against at ``tick`` (``graph``: the agent's own)."""
        ...


class LocalDistribution:
    """Measures the agent's own graph; caches the result per (tick, graph size).

    Example:
        >>> from phago.graph import HebbianGraph
        >>> LocalDistribution().distribution(HebbianGraph(), 0).total
        0
    """

    def __init__(self) -> None:
        self._key: tuple[int, int, int, int, int] | None = None
        self._cached: GraphDistribution | None = None

    @staticmethod
    def measure(graph: HebbianGraph, tick: int = 0) -> GraphDistribution:
        """The concept counts and concept-edge moments of ``graph``."""
        codes = graph.type_codes()
        access = graph.access_counts()
        labels = graph.labels()
        concept = codes == CONCEPT_CODE
        idx = np.flatnonzero(concept)
        counts = {labels[int(i)]: int(access[i]) for i in idx}
        a, b, w, _co, _ct, _lt = graph.edge_arrays()
        if len(a):
            keep = concept[a] & concept[b]
            w = w[keep]
        return GraphDistribution(counts, len(w), float(w.sum()), float((w * w).sum()), int(tick))

    def distribution(self, graph: HebbianGraph, tick: int) -> GraphDistribution:
        """The local graph's distribution (recomputed when the graph or tick changed)."""
        access = int(graph.access_counts().sum())
        key = (id(graph), int(tick), graph.node_count, graph.edge_count, access)
        if self._cached is None or key != self._key:
            self._cached = self.measure(graph, tick)
            self._key = key
        return self._cached


class AggregatedDistribution:
    """A coordinator-fed global distribution, falling back to the local graph until fed.

    Example:
        >>> from phago.graph import HebbianGraph
        >>> p = AggregatedDistribution()
        >>> p.update(GraphDistribution({"dna": 5}, tick=3))
        >>> p.distribution(HebbianGraph(), 3).count("dna")
        5
    """

    def __init__(self) -> None:
        self._global: GraphDistribution | None = None
        self._local = LocalDistribution()

    def update(self, distribution: GraphDistribution) -> None:
        """Install the merged distribution (called by the distributed runner each tick)."""
        self._global = distribution

    def distribution(self, graph: HebbianGraph, tick: int) -> GraphDistribution:
        """The last global distribution, or the local one before the first update."""
        if self._global is None:
            return self._local.distribution(graph, tick)
        return self._global


def room_to_wire(
    graph: HebbianGraph, index: int, max_degree: int | None, protect_weight: float | None
) -> bool:
    """Whether a new edge to the node at ``index`` can be added without costing it knowledge.

    True when the node is below the degree cap, or when its weakest edge is weaker than
    ``protect_weight`` (the cap then drops that weak edge, never a strong one). Sentinels and
    synthesizers use it so that their anomaly and insight edges never evict strong concept
    edges, which would change the very structure they report on.

    Example:
        >>> from phago.graph import HebbianGraph
        >>> g = HebbianGraph()
        >>> idx = g.present(["a", "b", "c"])
        >>> g.wire_clique(idx, 0)
        3
        >>> room_to_wire(g, int(idx[0]), 2, 0.05), room_to_wire(g, int(idx[0]), 2, 0.15)
        (False, True)
    """
    if max_degree is None or protect_weight is None:
        return True
    _nbrs, weights = graph.neighbor_indices(index)
    if len(weights) < max_degree:
        return True
    return bool(weights.min() < protect_weight)


def link_plan(
    graph: HebbianGraph,
    source: NodeId,
    related: Iterable[str],
    weight: float,
    renew_below: float,
    max_degree: int | None,
    protect_weight: float | None,
    crowded: set[NodeId],
) -> list[tuple[NodeId, NodeId, float]]:
    """Edges to add or top up from ``source`` (an insight or anomaly node) to related concepts.

    An existing edge below ``renew_below`` is topped up to ``weight``; a missing edge is added
    only where :func:`room_to_wire` allows it, and a protected concept already at the cap takes
    one new edge per batch (``crowded`` is updated).

    Returns:
        ``(source, concept, weight to add)`` triples for a ``WireNodes`` action.
    """
    out: list[tuple[NodeId, NodeId, float]] = []
    for rel in related:
        cid = graph.find_by_label(rel, NodeType.CONCEPT)
        if cid is None:
            continue
        e = graph.get_edge(source, cid)
        if e is not None:
            if e.weight < renew_below:
                out.append((source, cid, weight - e.weight))
            continue
        if cid in crowded:
            continue
        i = graph.index_of(cid)
        if not room_to_wire(graph, i, max_degree, protect_weight):
            continue
        if (
            protect_weight is not None
            and max_degree is not None
            and len(graph.neighbor_indices(i)[0]) >= max_degree
        ):
            crowded.add(cid)
        out.append((source, cid, weight))
    return out
