"""TF-IDF over concept labels: the reference's baseline (REFERENCE.md §6.2), indexed.

Every concept node is a "document" whose terms are its label's terms
(:func:`phago.text.label_terms`)::

    N     = max(1, number of concept nodes)
    df[t] = number of concept labels containing term t
    score = sum over query terms qt (with repeats) of tf(qt, label) * (ln(N / df[qt]) + 1)
          + 10 for every query term equal to the whole label (the exact-label boost)

Only nodes with a positive score are returned. Unlike the reference, only concept nodes
count (insight and anomaly texts are not concepts, REFERENCE.md §8 item 11), candidates come
from a cached inverted index (never a scan over every node), and ties are broken by label.

Example:
    >>> from phago.query.base import example_source
    >>> [r.label for r in tfidf(example_source(), "Which protein does a ribosome build?")]
    ['protein', 'ribosome']
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import numpy.typing as npt

from phago.config import whole_number
from phago.query.base import GraphSource, RetrievedConcept, query_terms, rank_top
from phago.query.index import query_index
from phago.query.reinforce import reinforce as _reinforce

__all__ = ["EXACT_LABEL_BOOST", "tfidf", "tfidf_scores"]

EXACT_LABEL_BOOST = 10.0
"""Added for every query term that equals the whole label (the reference's constant)."""


def tfidf_scores(
    source: GraphSource, terms: list[str]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Label TF-IDF of every concept that shares a term with the query.

    Args:
        source: the graph source.
        terms: query terms, repeats counted.

    Returns:
        ``(node indices, tf-idf part, exact-label boost)``, indices ascending; the score is
        the sum of the two parts.

    Example:
        >>> from phago.query.base import example_source
        >>> idx, tf, boost = tfidf_scores(example_source(), ["dna", "dna"])
        >>> idx.tolist(), [round(x, 3) for x in tf.tolist()], boost.tolist()
        ([5], [6.394], [20.0])
    """
    qi = query_index(source)
    lab = qi.labels()
    g = source.graph
    n = max(lab.concepts, 1)
    acc: dict[int, float] = {}
    boost: dict[int, float] = {}
    for term, qcount in Counter(terms).items():
        entry = lab.postings.get(term)
        if entry is None:
            continue
        nodes, tfs = entry
        idf = math.log(n / max(len(nodes), 1)) + 1.0
        for i, tf in zip(nodes, tfs, strict=True):
            acc[i] = acc.get(i, 0.0) + qcount * tf * idf
            if g.label_at(i) == term:
                boost[i] = boost.get(i, 0.0) + EXACT_LABEL_BOOST * qcount
    idx = np.array(sorted(acc), dtype=np.int64)
    tf_part = np.array([acc[i] for i in idx.tolist()], dtype=np.float64)
    boost_part = np.array([boost.get(i, 0.0) for i in idx.tolist()], dtype=np.float64)
    return idx, tf_part, boost_part


def tfidf(
    source: GraphSource, text: str, k: int = 10, *, reinforce: bool = False
) -> list[RetrievedConcept]:
    """The top ``k`` concepts by label TF-IDF (the reference's ``tfidf_query``).

    Args:
        source: a colony, distributed colony or any :class:`~phago.query.base.GraphSource`.
        text: the query.
        k: how many results at most.
        reinforce: reinforce edges between query-term concepts and the results.

    Returns:
        Concepts by score, components ``tfidf`` and ``exact``.

    Raises:
        ConfigError: ``k`` is not a whole number >= 0.
        InvalidQuery: ``text`` is not text.

    Example:
        >>> from phago.query.base import example_source
        >>> r = tfidf(example_source(), "gene", k=1)[0]
        >>> r.label, sorted(r.components)
        ('gene', ['exact', 'tfidf'])
    """
    k = whole_number(k, "k", 0)
    terms = query_terms(text)
    if not terms or k <= 0:
        return []
    g = source.graph
    idx, tf_part, boost = tfidf_scores(source, terms)
    total = tf_part + boost
    pos = {i: p for p, i in enumerate(idx.tolist())}
    out = []
    for i, s in rank_top(g, idx, total, k):
        p = pos[i]
        out.append(
            RetrievedConcept(
                g.label_at(i),
                s,
                g.id_at(i),
                {"tfidf": float(tf_part[p]), "exact": float(boost[p])},
            )
        )
    if reinforce:
        _reinforce(source, terms, out)
    return out
