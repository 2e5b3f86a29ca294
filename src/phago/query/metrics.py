"""IR metrics with binary relevance on concept labels (REFERENCE.md §6.6, one fix).

``precision_at_k`` divides by ``k`` (the standard definition); the reference divided by
``min(k, number returned)``, which rewards returning little. That variant is kept as
:func:`precision_at_k_returned` and reported beside it. A relevant label counts once, at its
first position; labels are compared after :func:`phago.ids.normalise_label`. A ``k`` that is
not a whole number >= 0 is a :class:`~phago.errors.ConfigError`.

Example:
    >>> got = ["cell", "gene", "dna"]
    >>> rel = {"dna", "cell", "rna", "protein"}
    >>> precision_at_k(got, rel, 5), precision_at_k_returned(got, rel, 5)
    (0.4, 0.6666666666666666)
    >>> recall_at_k(got, rel, 5), reciprocal_rank(got, rel)
    (0.5, 1.0)
    >>> round(ndcg_at_k(got, rel, 10), 4)
    0.5856
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, fields

from phago.config import whole_number
from phago.ids import normalise_label

__all__ = [
    "AggregateScores",
    "QueryScores",
    "aggregate",
    "ndcg_at_k",
    "precision_at_k",
    "precision_at_k_returned",
    "recall_at_k",
    "reciprocal_rank",
    "score_query",
]


def _norm_set(labels: Iterable[str]) -> set[str]:
    return {normalise_label(x) for x in labels}


def _hits(retrieved: Sequence[str], relevant: set[str], k: int) -> list[bool]:
    """Per position of the top ``k``: a relevant label not seen earlier."""
    seen: set[str] = set()
    out = []
    for lab in retrieved[: max(k, 0)]:
        x = normalise_label(lab)
        out.append(x in relevant and x not in seen)
        seen.add(x)
    return out


def precision_at_k(retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Relevant labels among the first ``k`` retrieved, divided by ``k``.

    Example:
        >>> precision_at_k(["a", "b"], {"a"}, 4)
        0.25
    """
    k = whole_number(k, "k", 0)
    if k <= 0:
        return 0.0
    return sum(_hits(retrieved, _norm_set(relevant), k)) / k


def precision_at_k_returned(retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """The reference's precision: divided by ``min(k, len(retrieved))`` (0 if none retrieved).

    Example:
        >>> precision_at_k_returned(["a", "b"], {"a"}, 4)
        0.5
    """
    k = whole_number(k, "k", 0)
    n = min(k, len(retrieved))
    if n <= 0:
        return 0.0
    return sum(_hits(retrieved, _norm_set(relevant), n)) / n


def recall_at_k(retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Relevant labels among the first ``k`` retrieved, divided by the number relevant.

    Example:
        >>> recall_at_k(["a", "b"], {"a", "c"}, 4)
        0.5
    """
    k = whole_number(k, "k", 0)
    rel = _norm_set(relevant)
    if not rel:
        return 0.0
    return sum(_hits(retrieved, rel, k)) / len(rel)


def reciprocal_rank(retrieved: Sequence[str], relevant: Collection[str]) -> float:
    """1 / (1-based rank of the first relevant label), 0 if there is none.

    Example:
        >>> reciprocal_rank(["x", "y", "a"], {"a"})
        0.3333333333333333
    """
    rel = _norm_set(relevant)
    for i, lab in enumerate(retrieved):
        if normalise_label(lab) in rel:
            return 1.0 / (i + 1)
    return 0.0


def ndcg_at_k(retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Binary NDCG@k: DCG = sum of 1/log2(i + 2) over relevant positions i < k (0-based),
    divided by the ideal DCG of ``min(len(relevant), k)`` relevant results.

    Example:
        >>> ndcg_at_k(["a", "b"], {"a", "b"}, 10)
        1.0
        >>> round(ndcg_at_k(["x", "a"], {"a"}, 10), 4)
        0.6309
    """
    k = whole_number(k, "k", 0)
    rel = _norm_set(relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), max(k, 0))))
    if ideal == 0.0:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, h in enumerate(_hits(retrieved, rel, k)) if h)
    return dcg / ideal


@dataclass(frozen=True, slots=True)
class QueryScores:
    """The metrics of one query."""

    query: str
    p_at_5: float
    p_at_10: float
    r_at_5: float
    r_at_10: float
    mrr: float
    ndcg_at_10: float
    p_at_5_returned: float
    p_at_10_returned: float


def score_query(query: str, retrieved: Sequence[str], relevant: Collection[str]) -> QueryScores:
    """Every metric of one query's ranked labels.

    Example:
        >>> s = score_query("q", ["a", "x", "b"], ["a", "b"])
        >>> s.p_at_5, s.p_at_5_returned, s.r_at_10, s.mrr
        (0.4, 0.6666666666666666, 1.0, 1.0)
    """
    return QueryScores(
        query=query,
        p_at_5=precision_at_k(retrieved, relevant, 5),
        p_at_10=precision_at_k(retrieved, relevant, 10),
        r_at_5=recall_at_k(retrieved, relevant, 5),
        r_at_10=recall_at_k(retrieved, relevant, 10),
        mrr=reciprocal_rank(retrieved, relevant),
        ndcg_at_10=ndcg_at_k(retrieved, relevant, 10),
        p_at_5_returned=precision_at_k_returned(retrieved, relevant, 5),
        p_at_10_returned=precision_at_k_returned(retrieved, relevant, 10),
    )


@dataclass(frozen=True, slots=True)
class AggregateScores:
    """Arithmetic means of :class:`QueryScores` over a query set (zeros for none)."""

    query_count: int
    p_at_5: float
    p_at_10: float
    r_at_5: float
    r_at_10: float
    mrr: float
    ndcg_at_10: float
    p_at_5_returned: float
    p_at_10_returned: float

    def to_dict(self) -> dict[str, float | int]:
        """The means as a plain dict (field names)."""
        return asdict(self)

    def to_report(self) -> dict[str, float]:
        """The ``phago eval --json`` keys: ``p@5 p@10 r@5 r@10 mrr ndcg@10 p@5_returned``."""
        return {
            "p@5": self.p_at_5,
            "p@10": self.p_at_10,
            "r@5": self.r_at_5,
            "r@10": self.r_at_10,
            "mrr": self.mrr,
            "ndcg@10": self.ndcg_at_10,
            "p@5_returned": self.p_at_5_returned,
        }


def aggregate(scores: Sequence[QueryScores]) -> AggregateScores:
    """Mean of every metric over ``scores``.

    Example:
        >>> a = aggregate([score_query("q1", ["a"], ["a"]), score_query("q2", ["x"], ["a"])])
        >>> a.query_count, a.mrr, a.p_at_5
        (2, 0.5, 0.1)
    """
    names = [f.name for f in fields(AggregateScores) if f.name != "query_count"]
    n = len(scores)
    if n == 0:
        return AggregateScores(0, *([0.0] * len(names)))
    means = [sum(float(getattr(s, name)) for s in scores) / n for name in names]
    return AggregateScores(n, *means)
