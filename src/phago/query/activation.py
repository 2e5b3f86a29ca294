"""Spreading activation: personalised PageRank over Hebbian edge weights, truncated.

The query's concepts (labels equal to a query term) are the seeds, each weighted by how
specific it is (``ln(1 + D / df)`` over the digested documents). Activation then spreads
along Hebbian edges, each node passing a share ``damping`` of what it received to its
neighbours in proportion to edge weight::

    x_0 = seed weights (sum 1)
    x_t = damping * P^T x_{t-1}        P[u, v] = w(u, v) / strength(u)
    activation = sum_{t=0..hops} x_t

This is personalised PageRank truncated after ``hops`` steps. Strong, often co-activated
edges carry the most activation, so concepts the query never names but that the colony has
repeatedly seen next to the query's concepts surface. Hub concepts collect activation from
everywhere; dividing a non-seed's activation by ``degree ** hub_penalty`` keeps them in check.

The cost depends on the seeds' neighbourhoods, not on the graph: each hop gathers only the
rows of active nodes from the cached CSR view (:mod:`phago.query.index`), and each node
passes activation along at most its ``fanout`` (64) strongest edges, so hub concepts with
thousands of edges cost no more than others. Under the default degree cap (30 edges per
node) every edge is followed.

Example:
    >>> from phago.query.base import example_source
    >>> [r.label for r in activation(example_source(), "gene", k=4)]
    ['gene', 'dna', 'protein', 'cell']
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from phago._arrays import unique_sorted
from phago.config import real_number, whole_number
from phago.query.base import (
    GraphSource,
    RetrievedConcept,
    optional_whole_number,
    query_terms,
    rank_top,
    seed_indices,
)
from phago.query.index import DEFAULT_FANOUT, Adjacency, gather, query_index
from phago.query.reinforce import reinforce as _reinforce

__all__ = ["activation", "seed_weights", "spread"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def seed_weights(source: GraphSource, seeds: list[int]) -> FloatArray:
    """Specificity of each seed: ``ln(1 + D / df)`` over digested documents (1.0 without any).

    Example:
        >>> from phago.query.base import example_source
        >>> src = example_source()
        >>> g = src.graph
        >>> w = seed_weights(src, [g.index_of(g.find_by_label(x)) for x in ("protein", "dna")])
        >>> bool(w[0] < w[1])
        True
    """
    if not seeds:
        return np.zeros(0, dtype=np.float64)
    di = query_index(source).documents(source)
    if di.n_docs == 0:
        return np.ones(len(seeds), dtype=np.float64)
    return np.asarray(di.idf[np.asarray(seeds, dtype=np.int64)], dtype=np.float64)


def spread(
    adj: Adjacency,
    nodes: IntArray,
    values: FloatArray,
    hops: int = 2,
    damping: float = 0.5,
    fanout: int | None = DEFAULT_FANOUT,
) -> tuple[IntArray, FloatArray]:
    """Spread ``values`` from ``nodes`` over ``hops`` weighted hops; returns what arrived.

    Each hop, every active node sends ``damping * value * w / strength`` along each of its
    ``fanout`` strongest edges (``strength`` is the sum of all its edge weights, so what
    would flow over weaker edges is dropped, not redistributed). The returned activation
    sums the hops ``1..hops`` (the starting values are not included).

    Returns:
        ``(node indices ascending, activation)``.

    Raises:
        ConfigError: ``hops`` not a whole number >= 0, ``damping`` outside [0, 1], or
            ``fanout`` neither None nor a whole number >= 1.

    Example:
        >>> from phago.query.base import example_source
        >>> from phago.query.index import query_index
        >>> adj = query_index(example_source()).adjacency()
        >>> idx, act = spread(adj, np.array([5]), np.array([1.0]), hops=1)
        >>> idx.tolist(), [round(a, 3) for a in act.tolist()]
        ([2, 4], [0.25, 0.25])
    """
    hops = whole_number(hops, "hops", 0)
    damping = real_number(damping, "damping", 0, 1)
    fanout = optional_whole_number(fanout, "fanout", 1)
    indptr, nbr, weight, _ = adj.pruned(fanout)
    total_idx: list[IntArray] = []
    total_val: list[FloatArray] = []
    cur_idx = np.asarray(nodes, dtype=np.int64)
    cur_val = np.asarray(values, dtype=np.float64)
    strength = adj.strength
    for _ in range(hops):
        if len(cur_idx) == 0:
            break
        pos, owner = gather(indptr, cur_idx)
        if len(pos) == 0:
            break
        src = cur_idx[owner]
        flow = damping * cur_val[owner] * weight[pos] / np.maximum(strength[src], 1e-12)
        uniq, inv = np.unique(nbr[pos], return_inverse=True)
        cur_idx = uniq
        cur_val = np.asarray(np.bincount(inv, weights=flow, minlength=len(uniq)), np.float64)
        total_idx.append(cur_idx)
        total_val.append(cur_val)
    if not total_idx:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    all_idx = np.concatenate(total_idx)
    all_val = np.concatenate(total_val)
    uniq, inv = np.unique(all_idx, return_inverse=True)
    return uniq, np.asarray(np.bincount(inv, weights=all_val, minlength=len(uniq)), np.float64)


def activation(
    source: GraphSource,
    text: str,
    k: int = 10,
    *,
    hops: int = 2,
    damping: float = 0.5,
    hub_penalty: float = 0.5,
    fanout: int | None = DEFAULT_FANOUT,
    reinforce: bool = False,
) -> list[RetrievedConcept]:
    """Concepts ranked by spreading activation from the query's concepts.

    Args:
        source: a colony, distributed colony or any :class:`~phago.query.base.GraphSource`.
        text: the query.
        k: how many results at most.
        hops: how far activation spreads (edges).
        damping: share of activation passed on per hop.
        hub_penalty: a non-seed's activation is divided by ``degree ** hub_penalty``.
        fanout: edges followed per node (its strongest; None: all).
        reinforce: reinforce edges between query-term concepts and the results.

    Returns:
        Concepts by activation, components ``seed`` (starting activation) and ``spread``
        (activation received over edges, after the hub penalty).

    Raises:
        ConfigError: ``k`` or ``hops`` not a whole number >= 0, ``damping`` outside [0, 1],
            ``hub_penalty`` not a finite number >= 0, or ``fanout`` neither None nor a whole
            number >= 1.
        InvalidQuery: ``text`` is not text.

    Example:
        >>> from phago.query.base import example_source
        >>> r = activation(example_source(), "qubit", k=3)
        >>> [x.label for x in r], r[0].components["seed"]
        (['qubit', 'entanglement', 'spin'], 1.0)
    """
    k = whole_number(k, "k", 0)
    hops = whole_number(hops, "hops", 0)
    damping = real_number(damping, "damping", 0, 1)
    hub_penalty = real_number(hub_penalty, "hub_penalty", 0)
    fanout = optional_whole_number(fanout, "fanout", 1)
    terms = query_terms(text)
    if not terms or k <= 0:
        return []
    g = source.graph
    seeds = seed_indices(g, terms)
    if not seeds:
        return []
    seed_arr = np.asarray(seeds, dtype=np.int64)
    w = seed_weights(source, seeds)
    x0 = w / w.sum() if w.sum() > 0 else np.full(len(seeds), 1.0 / len(seeds))
    adj = query_index(source).adjacency()
    idx, act = spread(adj, seed_arr, x0, hops=hops, damping=damping, fanout=fanout)
    if hub_penalty and len(idx):
        act = act / np.power(np.maximum(adj.degree[idx], 1).astype(np.float64), hub_penalty)
    seed_val = dict(zip(seeds, x0.tolist(), strict=True))
    spread_val = dict(zip(idx.tolist(), act.tolist(), strict=True))
    cand = unique_sorted(np.concatenate([seed_arr, idx]))
    scores = np.array(
        [seed_val.get(i, 0.0) + spread_val.get(i, 0.0) for i in cand.tolist()], dtype=np.float64
    )
    out = [
        RetrievedConcept(
            g.label_at(i),
            s,
            g.id_at(i),
            {"seed": seed_val.get(i, 0.0), "spread": spread_val.get(i, 0.0)},
        )
        for i, s in rank_top(g, cand, scores, k)
    ]
    if reinforce:
        _reinforce(source, terms, out)
    return out
