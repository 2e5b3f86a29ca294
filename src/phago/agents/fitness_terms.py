"""The quality and connectivity terms of fitness (REFERENCE.md §5.5, §8 item 16).

The colony records each presentation's concepts (with how many were new: *novelty*) and edges
wired (*productivity*). This module supplies the other two terms, per presentation:

* **strong edges** (*quality*): wired pairs whose edge, after wiring, has at least
  ``strong_min_coactivations`` co-activations (default 2), i.e. the presentation confirmed a
  relation another presentation had already seen. Counting co-activations rather than weight
  keeps the term independent of the wiring weights an evolving digester chooses.
* **bridge edges** (*connectivity*): wired pairs that created a new edge between two concepts
  that both existed before the presentation, i.e. a new link between known parts of the graph.
  (An earlier draft also required the two to share no neighbour; that needs a neighbourhood
  scan per presentation, which does not scale, so the definition is pinned by a test.)

:class:`FitnessRecorder` computes both right after a presentation was wired, in O(pairs)
through the graph's edge table, and records them in a
:class:`~phago.agents.fitness.FitnessTracker`. The colony calls it from ``_present``.

Example:
    >>> from phago.graph import HebbianGraph
    >>> from phago.agents.fitness_terms import edge_terms
    >>> g = HebbianGraph()
    >>> first = g.present(["cell", "membrane"])
    >>> g.wire_clique(first, tick=0)
    1
    >>> second = g.present(["cell", "membrane", "protein"])  # one new concept
    >>> g.wire_clique(second, tick=1)
    3
    >>> edge_terms(g, second, None, tick=1, created=1)  # cell-membrane confirmed; no bridge
    EdgeTerms(strong=1, bridges=0)
    >>> third = g.present(["cell", "ribosome"])
    >>> g.wire_clique(third, tick=2)
    1
    >>> fourth = g.present(["protein", "ribosome"])
    >>> g.wire_clique(fourth, tick=3)
    1
    >>> edge_terms(g, fourth, None, tick=3, created=0)  # new edge between known concepts
    EdgeTerms(strong=0, bridges=1)
    >>> fifth = g.present(["protein", "ribosome"])
    >>> g.wire_clique(fifth, tick=4)
    1
    >>> edge_terms(g, fifth, None, tick=4, created=0)  # seen before: strong, not a bridge
    EdgeTerms(strong=1, bridges=0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from phago.agents.distribution import CONCEPT_CODE
from phago.events import Presented
from phago.ids import AgentId
from phago.types import concept_labels

if TYPE_CHECKING:
    from phago.agents.fitness import FitnessTracker
    from phago.colony import Colony
    from phago.graph import HebbianGraph
    from phago.types import PresentFragments

__all__ = ["EdgeTerms", "FitnessRecorder", "edge_terms"]

IntArray = npt.NDArray[np.int64]


class EdgeTerms(NamedTuple):
    """Strong and bridge edge counts of one presentation."""

    strong: int
    bridges: int


def edge_terms(
    graph: HebbianGraph,
    indices: IntArray | Any,
    pairs: IntArray | None,
    tick: int,
    created: int,
    strong_min_coactivations: int = 2,
    wired: tuple[IntArray, IntArray] | None = None,
) -> EdgeTerms:
    """Strong and bridge counts of a presentation just wired, in O(pairs).

    A wired edge is *strong* once it has at least ``strong_min_coactivations``
    co-activations. It is a *bridge* when this presentation created it between two concepts
    that both existed before the presentation: a new connection between known parts of the
    graph. A pair given twice counts twice. The edges are found through the graph's edge table,
    so the cost does not depend on the size of the graph.

    Args:
        graph: the graph, after the presentation's wiring.
        indices: node indices of the presented concepts (the colony's ``idx``).
        pairs: ``(m, 2)`` positions into ``indices`` that were wired; None: every pair.
        tick: the tick of the wiring.
        created: nodes the presentation created (the ``Presented`` event's ``created``);
            nodes with index ``>= node_count - created`` are new.
        strong_min_coactivations: co-activations that make an edge strong.
        wired: the node-index pairs ``(lo, hi)`` the wiring used (what
            :meth:`~phago.graph.HebbianGraph.wire_index_pairs` returns), if known: then
            ``indices`` and ``pairs`` are not gathered again.

    Returns:
        The counts.
    """
    from phago import _kernels

    if wired is not None:
        lo, hi = wired
    else:
        idx = np.asarray(indices, dtype=np.int64)
        k = len(idx)
        if k < 2:
            return EdgeTerms(0, 0)
        if pairs is None:
            i, j = np.triu_indices(k, 1)
            pa, pb = idx[i], idx[j]
        else:
            p = np.asarray(pairs, dtype=np.int64)
            if len(p) == 0:
                return EdgeTerms(0, 0)
            pa, pb = idx[p[:, 0]], idx[p[:, 1]]
        ok = pa != pb
        lo = np.minimum(pa[ok], pb[ok])
        hi = np.maximum(pa[ok], pb[ok])
    if len(lo) == 0:
        return EdgeTerms(0, 0)
    strong, bridges = _kernels.edge_term_counts(
        graph._tkeys,
        graph._tslots,
        lo,
        hi,
        graph._co,
        graph._ct,
        int(tick),
        graph.node_count - int(created),
        int(strong_min_coactivations),
        np.zeros(0, dtype=np.int64),  # no slots: look the edges up
    )
    return EdgeTerms(strong, bridges)


class FitnessRecorder:
    """Records the strong and bridge terms of each presentation in a fitness tracker.

    Args:
        strong_min_coactivations: co-activations that make an edge strong.

    Example:
        >>> from phago import Colony, Digester, Position
        >>> from phago.agents.fitness_terms import FitnessRecorder
        >>> colony = Colony(seed=0)
        >>> FitnessRecorder().attach(colony)
        >>> for t in ("cell membrane", "cell membrane protein"):
        ...     _ = colony.ingest_document(t, t, Position(0, 0))
        >>> aid = colony.spawn(Digester(Position(0, 0)))
        >>> _ = colony.run_until_digested(30)
        >>> colony.fitness.get(aid).strong_edges
        1
    """

    def __init__(self, strong_min_coactivations: int = 2) -> None:
        self.strong_min_coactivations = int(strong_min_coactivations)

    def record(
        self,
        tracker: FitnessTracker,
        agent_id: AgentId,
        graph: HebbianGraph,
        indices: IntArray | Any,
        pairs: IntArray | None,
        tick: int,
        created: int,
        wired: tuple[IntArray, IntArray] | None = None,
    ) -> EdgeTerms:
        """Compute :func:`edge_terms` and add them to ``agent_id``'s record (``wired``: the
        node-index pairs wired, if known)."""
        terms = edge_terms(
            graph, indices, pairs, tick, created, self.strong_min_coactivations, wired
        )
        if terms.strong or terms.bridges:
            tracker.record_edge_terms(agent_id, terms.strong, terms.bridges)
        return terms

    def record_event(
        self,
        colony: Colony,
        presented: Presented,
        pairs: IntArray | None = None,
        tick: int | None = None,
    ) -> EdgeTerms:
        """Record from a ``Presented`` event just applied (its concept nodes only).

        Args:
            colony: the colony.
            presented: the event.
            pairs: the wired pairs (positions among the concepts); None: every pair.
            tick: the tick of the wiring (None: the colony's current tick, right during Act).
        """
        g = colony.graph
        idx = np.array([g.index_of(n) for n in presented.node_ids], dtype=np.int64)
        if len(idx):
            idx = idx[g.type_codes()[idx] == CONCEPT_CODE]
        t = colony.current_tick if tick is None else tick
        return self.record(colony.fitness, presented.agent_id, g, idx, pairs, t, presented.created)

    def attach(self, colony: Colony) -> None:
        """Make ``colony`` record the terms after every presentation.

        Uses the colony's ``fitness_recorder`` hook when it has one; otherwise wraps the
        colony instance's ``_present`` (the colony class is left untouched).
        """
        if hasattr(colony, "fitness_recorder"):
            setattr(colony, "fitness_recorder", self)  # noqa: B010
            return
        inner = colony._present

        def present(agent: Any, action: PresentFragments, tick: int, events: list[Any]) -> None:
            start = len(events)
            inner(agent, action, tick, events)
            for e in events[start:]:
                if isinstance(e, Presented):
                    all_concepts = concept_labels(action.fragments) is not None
                    self.record_event(colony, e, action.pairs if all_concepts else None, tick)
                    break

        colony._present = present  # type: ignore[method-assign]
