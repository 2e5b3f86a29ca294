"""Best-first graph traversal from the query's concepts (REFERENCE.md §6.3, defects fixed).

1. Seeds: the concepts whose label is exactly a query term (the reference also took every
   label *containing* a term, which matched "cell" inside "cellular").
2. Each seed scores ``10 + 5 * overlap`` where ``overlap`` is the number of query terms
   (with repeats) contained in the label.
3. Best-first expansion (at most ``max_expansions`` pops, depth < ``max_depth``): the frontier
   entry with the highest priority (the product of edge weights along its path) is expanded;
   each neighbour reached over an edge with ``co`` co-activations from a node at depth ``d``
   scores ``p * 0.5 ** (d + 1) * (1 + 0.1 * co) + 5 * overlap``, where ``p`` is the product of
   the edge weights along the path (for a seed's neighbour, the edge weight itself).
4. Edges lighter than the 75th percentile of all edge weights are not followed, except
   edges of a seed.

Fixed defects of the reference (REFERENCE.md §8 item 10): reinforcement is off unless asked
for and then moves ``last_activated_tick``; the percentile filter no longer blocks the
seeds' own edges; a concept keeps its best score over every path the walk explored (the
reference kept the first path that discovered it); the score uses the whole path's strength,
not just its last edge (in the reference a concept two weak-then-strong edges away could
outscore a direct neighbour); a node is expanded once, from its highest-priority path; ties
are broken by label, not adjacency order. An expansion considers the node's ``fanout`` (64)
strongest edges, which under the default degree cap (30) is all of them, and is vectorised,
so hub concepts with thousands of edges do not stall the walk.

Example:
    >>> from phago.query.base import example_source
    >>> r = graph_walk(example_source(), "gene")
    >>> [x.label for x in r]
    ['gene', 'dna', 'protein', 'cell', 'membrane']
    >>> r[3].path
    ('gene', 'protein', 'cell')
"""

from __future__ import annotations

import heapq
from collections import Counter

import numpy as np

from phago.config import whole_number
from phago.query.base import (
    GraphSource,
    RetrievedConcept,
    optional_whole_number,
    query_terms,
    rank_top,
    seed_indices,
)
from phago.query.index import DEFAULT_FANOUT, query_index
from phago.query.reinforce import reinforce as _reinforce

__all__ = ["graph_walk"]

SEED_SCORE = 10.0
OVERLAP_SCORE = 5.0


def graph_walk(
    source: GraphSource,
    text: str,
    k: int = 10,
    *,
    max_depth: int = 3,
    max_expansions: int = 200,
    percentile_filter: bool = True,
    fanout: int | None = DEFAULT_FANOUT,
    reinforce: bool = False,
) -> list[RetrievedConcept]:
    """Concepts found by a best-first walk over Hebbian edges from the query's concepts.

    Args:
        source: a colony, distributed colony or any :class:`~phago.query.base.GraphSource`.
        text: the query.
        k: how many results at most.
        max_depth: how many edges from a seed the walk goes.
        max_expansions: how many nodes it expands at most.
        percentile_filter: skip non-seed edges below the 75th weight percentile.
        fanout: edges considered per expanded node (its strongest; None: all). Under the
            default degree cap (30) every edge is considered.
        reinforce: reinforce edges between query-term concepts and the results.

    Returns:
        Concepts by score, with ``path`` (labels from a seed) and components ``seed``,
        ``edge`` and ``overlap``.

    Raises:
        ConfigError: ``k``, ``max_depth`` or ``max_expansions`` not a whole number >= 0,
            or ``fanout`` neither None nor a whole number >= 1.
        InvalidQuery: ``text`` is not text.

    Example:
        >>> from phago.query.base import example_source
        >>> r = graph_walk(example_source(), "qubit spin", k=3)
        >>> [(x.label, x.score) for x in r][:2]
        [('qubit', 15.0), ('spin', 15.0)]
    """
    k = whole_number(k, "k", 0)
    max_depth = whole_number(max_depth, "max_depth", 0)
    max_expansions = whole_number(max_expansions, "max_expansions", 0)
    fanout = optional_whole_number(fanout, "fanout", 1)
    terms = query_terms(text)
    if not terms or k <= 0:
        return []
    g = source.graph
    seeds = seed_indices(g, terms)
    if not seeds:
        return []
    adj = query_index(source).adjacency()
    indptr, nbr, weight, co = adj.pruned(fanout)
    threshold = adj.weight_quantile75 if percentile_filter else 0.0
    n = adj.n
    is_seed = np.zeros(n, dtype=np.bool_)
    is_seed[seeds] = True
    edge_best = np.full(n, -1.0)  # best edge part of the score over explored paths
    best_from = np.full(n, -1, dtype=np.int64)  # the expanded node that gave it
    best_prio = np.zeros(n)
    done = np.zeros(n, dtype=np.bool_)
    expanded_path: dict[int, tuple[str, ...]] = {}
    # heap entries: -priority, 0 for seeds (expanded first), label, node, depth, parent
    heap: list[tuple[float, int, str, int, int, int]] = []
    for s in seeds:
        best_prio[s] = 1.0
        heapq.heappush(heap, (-1.0, 0, g.label_at(s), s, 0, -1))
    expansions = 0
    while heap and expansions < max_expansions:
        neg_prio, _, label, u, depth, parent = heapq.heappop(heap)
        if done[u]:
            continue
        done[u] = True
        expansions += 1
        expanded_path[u] = (*expanded_path[parent], label) if parent >= 0 else (label,)
        if depth >= max_depth:
            continue
        lo, hi = int(indptr[u]), int(indptr[u + 1])
        v, w, c = nbr[lo:hi], weight[lo:hi], co[lo:hi]
        keep = ~is_seed[v]
        if not is_seed[u]:
            keep &= w >= threshold
        if not keep.all():
            v, w, c = v[keep], w[keep], c[keep]
        if len(v) == 0:
            continue
        p = -neg_prio * w
        edge = p * (0.5 ** (depth + 1)) * (1.0 + 0.1 * c)
        better = edge > edge_best[v]
        edge_best[v[better]] = edge[better]
        best_from[v[better]] = u
        push = (p > best_prio[v]) & ~done[v]
        if not push.any():
            continue
        v, p = v[push], p[push]
        best_prio[v] = p
        room = max_expansions - expansions
        if room <= 0:
            break
        if len(p) > room:  # entries beyond the remaining budget can never be popped
            cut = np.partition(p, len(p) - room)[len(p) - room]
            sel = p >= cut
            v, p = v[sel], p[sel]
        for vi, pi in zip(v.tolist(), p.tolist(), strict=True):
            heapq.heappush(heap, (-pi, 1, g.label_at(vi), vi, depth + 1, u))

    counted = Counter(terms)  # (each distinct term once, times its repeats)

    def overlap(i: int) -> float:
        lab = g.label_at(i)
        return OVERLAP_SCORE * sum(times for t, times in counted.items() if t in lab)

    reached = np.flatnonzero(edge_best >= 0.0).tolist()
    parts: dict[int, tuple[float, float, float]] = {s: (SEED_SCORE, 0.0, overlap(s)) for s in seeds}
    for i in reached:
        parts[i] = (0.0, float(edge_best[i]), overlap(i))
    idx = list(parts)
    out = []
    for i, sc in rank_top(g, idx, [sum(parts[i]) for i in idx], k):
        path: tuple[str, ...]
        if is_seed[i]:
            path = (g.label_at(i),)
        else:
            path = (*expanded_path[int(best_from[i])], g.label_at(i))
        seed_part, edge_part, overlap_part = parts[i]
        out.append(
            RetrievedConcept(
                g.label_at(i),
                sc,
                g.id_at(i),
                {"seed": seed_part, "edge": edge_part, "overlap": overlap_part},
                path,
            )
        )
    if reinforce:
        _reinforce(source, terms, out)
    return out
