"""BM25 over the digested documents, mapped to the concepts they were digested into.

Documents are scored with Okapi BM25 (Lucene variant, k1 = 1.5, b = 0.75, the scores of
``bm25s``'s ``method="lucene"``; :func:`phago.query.index.bm25_term_scores`) over the one
tokeniser's terms. The graph's provenance (which document each concept was presented
from) maps documents to concepts: a concept's score is the sum of the BM25 scores of the
top ``documents`` documents it came from. So a concept that recurs across the best-matching
documents ranks first, and a concept of only one of them ranks by that document's score;
among equal scores the query's own concepts come first, then those that occur most often in
the top documents. A document's title counts among its words (:mod:`phago.query.index`).

This is the document-retrieval baseline: it finds concepts the query does not name, but
only through whole documents, and it knows nothing of the Hebbian edges.

Example:
    >>> from phago.query.base import example_source
    >>> [r.label for r in bm25(example_source(), "ribosome", k=4)]
    ['ribosome', 'cell', 'membrane', 'protein']
    >>> [(d.title, round(d.score, 3)) for d in document_scores(example_source(), "qubit")]
    [('Qubits', 0.518)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from phago.config import whole_number
from phago.ids import DocumentId
from phago.query.base import GraphSource, RetrievedConcept, query_terms, rank_top, seed_indices
from phago.query.index import DocumentIndex, query_index
from phago.query.reinforce import reinforce as _reinforce

__all__ = ["DEFAULT_DOCUMENTS", "ScoredDocument", "bm25", "document_scores", "top_documents"]

DEFAULT_DOCUMENTS = 5
"""How many best-matching documents pass their scores on to concepts."""


@dataclass(frozen=True, slots=True)
class ScoredDocument:
    """A document and its BM25 score for a query."""

    id: DocumentId
    title: str
    score: float


def top_documents(
    index: DocumentIndex,
    terms: list[str],
    n: int,
    allowed: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Rows of the ``n`` best documents with a positive BM25 score, and their scores (with
    ``allowed``, a flag per row of ``index``, only among the rows it flags).

    Ties are broken by document id (rows are in id order), so the result does not depend
    on the order documents were ingested in.

    Raises:
        ConfigError: ``n`` is not a whole number >= 0.

    Example:
        >>> from phago.query.base import example_source
        >>> from phago.query.index import query_index
        >>> src = example_source()
        >>> rows, scores = top_documents(query_index(src).documents(src), ["protein"], 10)
        >>> len(rows), bool(scores.min() > 0)
        (3, True)
    """
    n = whole_number(n, "n", 0)
    scores = index.scores(terms)
    if len(scores) == 0 or n <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    rounded = np.round(scores, 10)
    cand = np.flatnonzero(rounded > 0 if allowed is None else (rounded > 0) & allowed)
    order = cand[np.lexsort((cand, -rounded[cand]))[:n]]
    return order.astype(np.int64), scores[order]


def document_scores(source: GraphSource, text: str, n: int = 10) -> list[ScoredDocument]:
    """The ``n`` digested documents that best match ``text``, by BM25.

    :func:`phago.query.documents` gives the same documents with a snippet of each.

    Raises:
        ConfigError: ``n`` is not a whole number >= 0.
        InvalidQuery: ``text`` is not text.

    Example:
        >>> from phago.query.base import example_source
        >>> [d.title for d in document_scores(example_source(), "membrane cell")]
        ['Cells', 'Membranes']
    """
    n = whole_number(n, "n", 0)
    terms = query_terms(text)
    di = query_index(source).documents(source)
    rows, scores = top_documents(di, terms, n)
    return [
        ScoredDocument(DocumentId(int(di.doc_ids[r])), di.title(r), float(s))
        for r, s in zip(rows.tolist(), scores.tolist(), strict=True)
    ]


def bm25(
    source: GraphSource,
    text: str,
    k: int = 10,
    *,
    documents: int = DEFAULT_DOCUMENTS,
    reinforce: bool = False,
) -> list[RetrievedConcept]:
    """Concepts of the best BM25 documents, each scored by the sum of its documents' scores.

    Args:
        source: a colony, distributed colony or any :class:`~phago.query.base.GraphSource`.
        text: the query.
        k: how many results at most.
        documents: how many top documents pass their scores on.
        reinforce: reinforce edges between query-term concepts and the results.

    Returns:
        Concepts by score, components ``bm25`` (the summed score) and ``documents`` (how
        many of the top documents hold the concept). Concepts with equal scores (every
        concept of a document that is the only match has its score) are ordered with the
        query's own concepts first, then by how often they occur in the top documents,
        then by label.

    Raises:
        ConfigError: ``k`` or ``documents`` is not a whole number >= 0.
        InvalidQuery: ``text`` is not text.

    Example:
        >>> from phago.query.base import example_source
        >>> [(r.label, r.components["documents"]) for r in bm25(example_source(), "gene", k=2)]
        [('gene', 1.0), ('dna', 1.0)]
    """
    k = whole_number(k, "k", 0)
    documents = whole_number(documents, "documents", 0)
    terms = query_terms(text)
    if not terms or k <= 0:
        return []
    g = source.graph
    di = query_index(source).documents(source)
    rows, scores = top_documents(di, terms, documents)
    if len(rows) == 0:
        return []
    owner, cols, vals = di.row_concepts(rows)
    uniq, inv = np.unique(cols, return_inverse=True)
    total = np.asarray(
        np.bincount(inv, weights=scores[owner], minlength=len(uniq)), dtype=np.float64
    )
    count = np.bincount(inv, minlength=len(uniq)).astype(np.float64)
    # ties (every concept of one matching document has its score): the query's own concepts
    # first, then those that occur most often in the top documents
    named = np.isin(uniq, np.asarray(seed_indices(g, terms), dtype=np.int64))
    occurs = np.bincount(inv, weights=vals, minlength=len(uniq))
    pos = {i: p for p, i in enumerate(uniq.tolist())}
    out = [
        RetrievedConcept(
            g.label_at(i),
            s,
            g.id_at(i),
            {"bm25": float(total[pos[i]]), "documents": float(count[pos[i]])},
        )
        for i, s in rank_top(g, uniq, total, k, (named, occurs))
    ]
    if reinforce:
        _reinforce(source, terms, out)
    return out
