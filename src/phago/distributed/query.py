"""Distributed hybrid query: scatter-gather over shards, same ranking as one colony (I4).

The reference's distributed query mixed local node counts with global substring document
frequencies and had no graph component (REFERENCE.md §8 item 23). Here a query is answered in
two scatter-gather rounds, and the result is exactly :func:`phago.query.hybrid` on a single
colony holding the merged graph (DESIGN.md I4):

1. **Label statistics.** Every shard returns how many concepts it owns and, for each query
   term, the postings of its owned concepts (label-term frequencies). The driver sums them
   into the global concept count ``N`` and document frequencies ``df``, scores every posted
   concept with label TF-IDF, and keeps the global top ``max_results × candidate_multiplier``
   (every candidate is posted by its owner, so no shard-local cut can lose one).
2. **Graph evidence.** Every shard returns, for the candidates and the seeds (concepts named
   exactly by a query term), the edges it stores between a seed and a candidate, how many of
   its stored edges touch each candidate (global degree is their sum, because every edge is
   stored on exactly one shard), and the presentation counts (provenance) of the candidates it
   owns, which the hybrid score uses in place of access counts.

The driver then applies the hybrid formula (:mod:`phago.query.hybrid`) and ranks with the same
deterministic tie-break (score rounded to 10 decimals, then label, then node id).

Example:
    >>> from phago.distributed import DistributedColony
    >>> with DistributedColony(2, seed=0) as dc:
    ...     _ = dc.ingest_documents([("a", "cell membrane protein"), ("b", "cell protein gene")])
    ...     _ = dc.spawn_digesters(1)
    ...     _ = dc.run_until_digested(100)
    ...     [r.label for r in dc.query("protein cell")]
    ['cell', 'protein']
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from phago.config import real_number, whole_number
from phago.ids import NodeId
from phago.query.base import RetrievedConcept, query_terms
from phago.query.tfidf import EXACT_LABEL_BOOST

__all__ = ["DistributedHybridConfig", "DistributedQueryEngine", "LocalQueryResult", "merge_results"]

_DECIMALS = 10


@dataclass(frozen=True, slots=True)
class DistributedHybridConfig:
    """Distributed hybrid query settings (the reference's defaults).

    Raises:
        ConfigError: ``alpha`` not a number in [0, 1], or a count that is not a whole
            number >= 1.

    Attributes:
        alpha: weight of normalised TF-IDF; ``1 - alpha`` weighs the graph score.
        max_local_results: per-shard cap of scored nodes returned by :meth:`local_query`.
        max_results: results returned.
        candidate_multiplier: TF-IDF candidates re-ranked = ``max_results`` × this.
    """

    alpha: float = 0.5
    max_local_results: int = 30
    max_results: int = 10
    candidate_multiplier: int = 3

    def __post_init__(self) -> None:
        # (frozen: the checked values are set through object.__setattr__)
        object.__setattr__(self, "alpha", real_number(self.alpha, "alpha", 0, 1))
        for name in ("max_local_results", "max_results", "candidate_multiplier"):
            object.__setattr__(self, name, whole_number(getattr(self, name), name, 1))


@dataclass(frozen=True, slots=True)
class LocalQueryResult:
    """One shard's answer to the first round: owned concept count and term postings."""

    shard_id: int
    concepts: int
    postings: dict[str, list[tuple[int, str, int]]]


def _rank(items: list[tuple[int, str, float]], k: int) -> list[tuple[int, str, float]]:
    """Top ``k`` of ``(node id, label, score)``: positive rounded scores, ties by label, id."""
    rounded = [(nid, lab, round(s, _DECIMALS)) for nid, lab, s in items]
    kept = [x for x in rounded if x[2] > 0.0]
    kept.sort(key=lambda x: (-x[2], x[1], x[0]))
    return kept[:k]


def merge_results(lists: Sequence[Sequence[RetrievedConcept]], k: int) -> list[RetrievedConcept]:
    """Concatenate per-shard results, keep each node once (best score), sort, cut to ``k``.

    Example:
        >>> from phago.ids import NodeId
        >>> a = [RetrievedConcept("x", 1.0, NodeId(1))]
        >>> b = [RetrievedConcept("x", 2.0, NodeId(1)), RetrievedConcept("y", 1.5, NodeId(2))]
        >>> [(r.label, r.score) for r in merge_results([a, b], 5)]
        [('x', 2.0), ('y', 1.5)]
    """
    best: dict[int, RetrievedConcept] = {}
    for lst in lists:
        for r in lst:
            cur = best.get(int(r.node_id))
            if cur is None or r.score > cur.score:
                best[int(r.node_id)] = r
    return sorted(best.values(), key=lambda r: (-r.score, r.label, int(r.node_id)))[:k]


class DistributedQueryEngine:
    """Answers hybrid queries over the shards of a :class:`DistributedColony`.

    Args:
        colony: the distributed colony (its shards are called through the runner's handles).
        config: hybrid settings.
    """

    def __init__(self, colony: Any, config: DistributedHybridConfig | None = None) -> None:
        self._colony = colony
        self.config = config or DistributedHybridConfig()

    def query(self, text: str) -> list[RetrievedConcept]:
        """The hybrid ranking of ``text`` (see the module docstring).

        Raises:
            InvalidQuery: ``text`` is not text.
        """
        cfg = self.config
        terms = query_terms(text)
        if not terms:
            return []
        counts = Counter(terms)
        answers: list[LocalQueryResult] = self._colony._call_all("query_postings", list(counts))
        n = max(sum(a.concepts for a in answers), 1)
        postings: dict[str, list[tuple[int, str, int]]] = {}
        for a in answers:
            for term, plist in a.postings.items():
                postings.setdefault(term, []).extend(plist)
        score: dict[int, float] = {}
        boost: dict[int, float] = {}
        labels: dict[int, str] = {}
        for term, q in counts.items():
            plist = postings.get(term, [])
            if not plist:
                continue
            idf = math.log(n / max(len(plist), 1)) + 1.0
            for nid, label, tf in sorted(plist):
                labels[nid] = label
                score[nid] = score.get(nid, 0.0) + q * tf * idf
                if label == term:
                    boost[nid] = boost.get(nid, 0.0) + EXACT_LABEL_BOOST * q
        if not score:
            return []
        top = _rank(
            [(nid, labels[nid], score[nid] + boost.get(nid, 0.0)) for nid in sorted(score)],
            cfg.max_results * cfg.candidate_multiplier,
        )
        if not top:
            return []
        best = max(top[0][2], 0.001)
        seeds: list[int] = []
        for t in terms:
            for nid, label, _ in postings.get(t, []):
                if label == t and nid not in seeds:
                    seeds.append(nid)
        cands = [nid for nid, _, _ in top]
        stats = self._colony._call_all("query_graph_stats", seeds, cands)
        max_w = dict.fromkeys(cands, 0.0)
        coacts = dict.fromkeys(cands, 0)
        degree = dict.fromkeys(cands, 0)
        access = dict.fromkeys(cands, 0)
        presented = dict.fromkeys(cands, 0)
        any_provenance = any(st["has_provenance"] for st in stats)
        for st in stats:
            for s, c, w, co in st["edges"]:
                if s != c:
                    max_w[c] = max(max_w[c], w)
                    coacts[c] += co
            for c, d in st["degree"].items():
                degree[c] += d
            for c, a in st["access"].items():
                access[c] = a
            for c, p in st["presented"].items():
                presented[c] = p
        if any_provenance:  # as phago.query.hybrid: presentations, not inflatable access counts
            access = presented
        final = []
        parts: dict[int, tuple[float, float]] = {}
        for nid, label, raw in top:
            gs = 0.4 * max_w[nid]
            if coacts[nid] > 0:
                gs += 0.1 * max(0.0, math.log(coacts[nid]))
            if degree[nid] > 0:
                gs += 0.2 * min(1.0, max(0.0, math.log(degree[nid])) / 5.0)
            if access[nid] > 0:
                gs += 0.3 * min(1.0, max(0.0, math.log(access[nid])) / 5.0)
            graph = min(gs, 1.0)
            tfn = raw / best
            parts[nid] = (tfn, graph)
            final.append((nid, label, cfg.alpha * tfn + (1.0 - cfg.alpha) * graph))
        return [
            RetrievedConcept(
                label, s, NodeId(nid), {"tfidf": parts[nid][0], "graph": parts[nid][1]}
            )
            for nid, label, s in _rank(final, cfg.max_results)
        ]

    def local_query(self, shard: int, text: str) -> list[RetrievedConcept]:
        """TF-IDF over one shard's owned concepts only (global statistics not applied).

        Raises:
            InvalidQuery: ``text`` is not text.
        """
        terms = query_terms(text)
        if not terms:
            return []
        counts = Counter(terms)
        a: LocalQueryResult = self._colony._call(shard, "query_postings", list(counts))
        n = max(a.concepts, 1)
        score: dict[int, tuple[str, float]] = {}
        for term, q in counts.items():
            plist = a.postings.get(term, [])
            idf = math.log(n / max(len(plist), 1)) + 1.0
            for nid, label, tf in plist:
                prev = score.get(nid, (label, 0.0))[1]
                extra = EXACT_LABEL_BOOST * q if label == term else 0.0
                score[nid] = (label, prev + q * tf * idf + extra)
        ranked = _rank(
            [(nid, lab, s) for nid, (lab, s) in score.items()], self.config.max_local_results
        )
        return [RetrievedConcept(lab, s, NodeId(nid), {"tfidf": s}) for nid, lab, s in ranked]
