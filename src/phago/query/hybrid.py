"""The reference's hybrid scoring: label TF-IDF candidates re-ranked by graph evidence.

REFERENCE.md §6.4, with the defects of §8 item 11 fixed:

1. Candidates: the top ``k * candidate_multiplier`` concepts by label TF-IDF
   (:mod:`phago.query.tfidf`); ``tfidf_norm = raw / max(best raw, 0.001)``.
2. Seeds: the concepts labelled exactly by a query term, **deduplicated** (the reference
   listed a seed once per repeated term and so double-counted co-activations).
3. For each candidate ``n``, over the seed edges ``s–n`` (``s != n``)::

       graph = min(1, 0.4 * max weight
                    + 0.1 * max(0, ln(sum of co-activations))
                    + 0.2 * min(1, max(0, ln(degree(n))) / 5)
                    + 0.3 * min(1, max(0, ln(presentations(n))) / 5))
       final = alpha * tfidf_norm + (1 - alpha) * graph

``presentations(n)`` is how many times the concept was presented from a document (its
provenance count). The reference used ``access_count``, which is that count inflated by the
agents' boundary dissolution every tick (REFERENCE.md §8 item 2 says this corrupts hybrid
scoring); the inflation also depends on which agent sits where, so it differs between a
single colony and a sharded one that built the same graph. A graph without any provenance
(hand-built) falls back to ``access_count``.

Only concept nodes are candidates (the reference let insight and anomaly texts compete).
Because labels are single words, TF-IDF candidates are the query's own concepts, so hybrid
re-orders them but finds nothing the query does not name.

Example:
    >>> from phago.query.base import example_source
    >>> r = hybrid(example_source(), "protein cell")
    >>> [x.label for x in r], sorted(r[0].components)
    (['protein', 'cell'], ['graph', 'tfidf'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from phago.config import real_number, whole_number
from phago.errors import ConfigError
from phago.query.base import GraphSource, RetrievedConcept, query_terms, rank_top, seed_indices
from phago.query.index import query_index
from phago.query.reinforce import reinforce as _reinforce
from phago.query.tfidf import tfidf_scores

__all__ = ["HybridConfig", "hybrid"]


@dataclass(frozen=True, slots=True)
class HybridConfig:
    """Hybrid query settings (the reference's defaults).

    Attributes:
        alpha: weight of normalised TF-IDF; ``1 - alpha`` weighs the graph score.
        max_results: results returned when no ``k`` is given.
        candidate_multiplier: TF-IDF candidates considered = results × this.

    Example:
        >>> HybridConfig()
        HybridConfig(alpha=0.5, max_results=10, candidate_multiplier=3)
    """

    alpha: float = 0.5
    max_results: int = 10
    candidate_multiplier: int = 3

    def __post_init__(self) -> None:
        # (frozen: the checked values are set through object.__setattr__)
        object.__setattr__(self, "alpha", real_number(self.alpha, "alpha", 0, 1))
        for name in ("max_results", "candidate_multiplier"):
            object.__setattr__(self, name, whole_number(getattr(self, name), name, 1))


def hybrid(
    source: GraphSource,
    text: str,
    k: int | None = None,
    *,
    config: HybridConfig | None = None,
    reinforce: bool = False,
) -> list[RetrievedConcept]:
    """TF-IDF candidates re-ranked by their edges to the query's concepts (the reference's).

    Args:
        source: a colony, distributed colony or any :class:`~phago.query.base.GraphSource`.
        text: the query.
        k: how many results at most (None: ``config.max_results``).
        config: alpha and candidate multiplier (None: the defaults).
        reinforce: reinforce edges between query-term concepts and the results.

    Returns:
        Concepts by final score, components ``tfidf`` (normalised) and ``graph``.

    Raises:
        ConfigError: ``k`` neither None nor a whole number >= 0, or a ``config`` that is
            not a :class:`HybridConfig`.
        InvalidQuery: ``text`` is not text.

    Example:
        >>> from phago.query.base import example_source
        >>> r = hybrid(example_source(), "gene dna", k=1, config=HybridConfig(alpha=1.0))
        >>> r[0].score
        1.0
    """
    if config is not None and not isinstance(config, HybridConfig):
        raise ConfigError(f"config must be a HybridConfig, got {type(config).__name__}")
    cfg = config or HybridConfig()
    kk = cfg.max_results if k is None else whole_number(k, "k", 0)
    terms = query_terms(text)
    if not terms or kk <= 0:
        return []
    g = source.graph
    idx, tf_part, boost = tfidf_scores(source, terms)
    if len(idx) == 0:
        return []
    top = rank_top(g, idx, tf_part + boost, kk * cfg.candidate_multiplier)
    if not top:
        return []
    best = max(top[0][1], 0.001)
    seeds = seed_indices(g, terms)
    qi = query_index(source)
    adj = qi.adjacency()
    pres = qi.presentations()
    access = g.access_counts() if pres is None else pres
    cand = np.array([i for i, _ in top], dtype=np.int64)
    tfn = np.array([s / best for _, s in top], dtype=np.float64)
    graph_score = np.zeros(len(cand), dtype=np.float64)
    for p, n in enumerate(cand.tolist()):
        max_w = 0.0
        coacts = 0
        for s in seeds:
            if s == n:
                continue
            nbrs, ws, cos = adj.row(s)
            j = int(np.searchsorted(nbrs, n))
            if j < len(nbrs) and nbrs[j] == n:
                max_w = max(max_w, float(ws[j]))
                coacts += int(cos[j])
        gs = 0.4 * max_w
        if coacts > 0:
            gs += 0.1 * max(0.0, math.log(coacts))
        deg = int(adj.degree[n])
        if deg > 0:
            gs += 0.2 * min(1.0, max(0.0, math.log(deg)) / 5.0)
        acc = int(access[n])
        if acc > 0:
            gs += 0.3 * min(1.0, max(0.0, math.log(acc)) / 5.0)
        graph_score[p] = min(gs, 1.0)
    final = cfg.alpha * tfn + (1.0 - cfg.alpha) * graph_score
    pos = {i: p for p, i in enumerate(cand.tolist())}
    out = [
        RetrievedConcept(
            g.label_at(i),
            s,
            g.id_at(i),
            {"tfidf": float(tfn[pos[i]]), "graph": float(graph_score[pos[i]])},
        )
        for i, s in rank_top(g, cand, final, kk)
    ]
    if reinforce:
        _reinforce(source, terms, out)
    return out
