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
are broken by label, not adjacency order.

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

from phago.query.base import GraphSource, RetrievedConcept, query_terms, rank_top, seed_indices
from phago.query.index import query_index
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
        reinforce: reinforce edges between query-term concepts and the results.

    Returns:
        Concepts by score, with ``path`` (labels from a seed) and components ``seed``,
        ``edge`` and ``overlap``.

    Example:
        >>> from phago.query.base import example_source
        >>> r = graph_walk(example_source(), "qubit spin", k=3)
        >>> [(x.label, x.score) for x in r][:2]
        [('qubit', 15.0), ('spin', 15.0)]
    """
    terms = query_terms(text)
    if not terms or k <= 0:
        return []
    g = source.graph
    seeds = seed_indices(g, terms)
    if not seeds:
        return []
    adj = query_index(source).adjacency()
    threshold = adj.weight_quantile75 if percentile_filter else 0.0
    seed_set = set(seeds)

    def overlap(i: int) -> int:
        lab = g.label_at(i)
        return sum(1 for t in terms if t in lab)

    score: dict[int, float] = {}
    parts: dict[int, tuple[float, float, float]] = {}  # seed, edge, overlap
    path: dict[int, tuple[str, ...]] = {}
    best_prio: dict[int, float] = {}
    heap: list[tuple[float, str, int, int, tuple[str, ...]]] = []
    for s in seeds:
        ov = OVERLAP_SCORE * overlap(s)
        score[s] = SEED_SCORE + ov
        parts[s] = (SEED_SCORE, 0.0, ov)
        path[s] = (g.label_at(s),)
        best_prio[s] = 1.0
        heapq.heappush(heap, (-1.0, g.label_at(s), s, 0, path[s]))
    done: set[int] = set()
    expansions = 0
    while heap and expansions < max_expansions:
        neg_prio, _, u, depth, upath = heapq.heappop(heap)
        if u in done:
            continue
        done.add(u)
        expansions += 1
        if depth >= max_depth:
            continue
        prio = -neg_prio
        nbrs, ws, cos = adj.row(u)
        from_seed = u in seed_set
        decay = 0.5 ** (depth + 1)
        for v, w, co in zip(nbrs.tolist(), ws.tolist(), cos.tolist(), strict=True):
            if v in seed_set or (not from_seed and w < threshold):
                continue
            vlabel = g.label_at(v)
            p = prio * w
            edge = p * decay * (1.0 + 0.1 * co)
            if v not in parts:
                parts[v] = (0.0, 0.0, OVERLAP_SCORE * overlap(v))
            ov = parts[v][2]
            if edge + ov > score.get(v, -1.0):
                score[v] = edge + ov
                parts[v] = (0.0, edge, ov)
                path[v] = (*upath, vlabel)
            if v not in done and p > best_prio.get(v, 0.0):
                best_prio[v] = p
                heapq.heappush(heap, (-p, vlabel, v, depth + 1, (*upath, vlabel)))
    idx = list(score)
    out = [
        RetrievedConcept(
            g.label_at(i),
            s,
            g.id_at(i),
            {"seed": parts[i][0], "edge": parts[i][1], "overlap": parts[i][2]},
            path[i],
        )
        for i, s in rank_top(g, idx, [score[i] for i in idx], k)
    ]
    if reinforce:
        _reinforce(source, terms, out)
    return out
