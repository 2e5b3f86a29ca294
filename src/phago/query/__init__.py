"""Queries over the knowledge graph: retrieval, structural queries, IR metrics, evaluation.

Retrieval methods all have the shape ``(source, text, k, *, reinforce=False) ->
list[RetrievedConcept]``, where ``source`` is a :class:`~phago.colony.Colony`, a
distributed colony (its merged global graph) or any :class:`GraphSource`:

* :func:`tfidf` — label TF-IDF (the reference's baseline);
* :func:`bm25` — BM25 over the digested documents, mapped to their concepts;
* :func:`graph_walk` (``"graph"``) — the reference's best-first traversal, fixed;
* :func:`hybrid` — the reference's TF-IDF + graph re-ranking (:class:`HybridConfig`);
* :func:`activation` — spreading activation (truncated personalised PageRank) over
  Hebbian edge weights;
* :func:`fusion` — query concepts + document evidence + Hebbian activation (the best).

:func:`retrieve` dispatches by name (``method="best"`` is :data:`BEST_METHOD`). Back to the
notes: :func:`documents` gives the documents that answer a query (BM25, with id, title and a
snippet; optionally naming the top concepts each holds) and :func:`concept_documents` the
documents a concept came from (:mod:`phago.query.documents`). Query text is
split by :func:`phago.text.tokenize` with :data:`phago.text.STOPWORDS`, the same tokeniser and
stopword list digestion uses. Reinforcement is off unless asked for
(:mod:`phago.query.reinforce`).

Structural queries: :func:`shortest_path`, :func:`betweenness_centrality`,
:func:`bridge_nodes`, :func:`connected_components`, :func:`communities`.
Metrics: :mod:`phago.query.metrics`. Evaluation: :func:`evaluate`.

Example:
    >>> from phago.query import example_source, retrieve
    >>> [r.label for r in retrieve(example_source(), "How is a gene read?", k=3)]
    ['gene', 'dna', 'protein']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from phago._lazy import lazy_package

if TYPE_CHECKING:
    from phago.query.activation import activation
    from phago.query.base import (
        GraphSource,
        RetrievedConcept,
        StaticSource,
        example_source,
        query_terms,
    )
    from phago.query.bm25 import ScoredDocument, bm25, document_scores
    from phago.query.documents import RetrievedDocument, concept_documents, documents, snippet
    from phago.query.evaluate import (
        Evaluation,
        LabelledQuery,
        MethodResult,
        build_retrieval_colony,
        evaluate,
        parse_queries,
    )
    from phago.query.fusion import fusion
    from phago.query.graph_walk import graph_walk
    from phago.query.hybrid import HybridConfig, hybrid
    from phago.query.metrics import (
        AggregateScores,
        QueryScores,
        aggregate,
        ndcg_at_k,
        precision_at_k,
        precision_at_k_returned,
        recall_at_k,
        reciprocal_rank,
        score_query,
    )
    from phago.query.reinforce import reinforce
    from phago.query.retrieve import BEST_METHOD, METHODS, resolve_method, retrieve
    from phago.query.structural import (
        Communities,
        Components,
        NodeScore,
        PathResult,
        betweenness_centrality,
        bridge_nodes,
        communities,
        connected_components,
        shortest_path,
    )
    from phago.query.tfidf import tfidf

lazy_package(
    __name__,
    {
        "activation": ".activation",
        "GraphSource": ".base",
        "RetrievedConcept": ".base",
        "StaticSource": ".base",
        "example_source": ".base",
        "query_terms": ".base",
        "ScoredDocument": ".bm25",
        "bm25": ".bm25",
        "document_scores": ".bm25",
        "RetrievedDocument": ".documents",
        "concept_documents": ".documents",
        "documents": ".documents",
        "snippet": ".documents",
        "Evaluation": ".evaluate",
        "LabelledQuery": ".evaluate",
        "MethodResult": ".evaluate",
        "build_retrieval_colony": ".evaluate",
        "evaluate": ".evaluate",
        "parse_queries": ".evaluate",
        "fusion": ".fusion",
        "graph_walk": ".graph_walk",
        "HybridConfig": ".hybrid",
        "hybrid": ".hybrid",
        "AggregateScores": ".metrics",
        "QueryScores": ".metrics",
        "aggregate": ".metrics",
        "ndcg_at_k": ".metrics",
        "precision_at_k": ".metrics",
        "precision_at_k_returned": ".metrics",
        "recall_at_k": ".metrics",
        "reciprocal_rank": ".metrics",
        "score_query": ".metrics",
        "reinforce": ".reinforce",
        "BEST_METHOD": ".retrieve",
        "METHODS": ".retrieve",
        "resolve_method": ".retrieve",
        "retrieve": ".retrieve",
        "Communities": ".structural",
        "Components": ".structural",
        "NodeScore": ".structural",
        "PathResult": ".structural",
        "betweenness_centrality": ".structural",
        "bridge_nodes": ".structural",
        "communities": ".structural",
        "connected_components": ".structural",
        "shortest_path": ".structural",
        "tfidf": ".tfidf",
    },
)

__all__ = [
    "BEST_METHOD",
    "METHODS",
    "AggregateScores",
    "Communities",
    "Components",
    "Evaluation",
    "GraphSource",
    "HybridConfig",
    "LabelledQuery",
    "MethodResult",
    "NodeScore",
    "PathResult",
    "QueryScores",
    "RetrievedConcept",
    "RetrievedDocument",
    "ScoredDocument",
    "StaticSource",
    "activation",
    "aggregate",
    "betweenness_centrality",
    "bm25",
    "bridge_nodes",
    "build_retrieval_colony",
    "communities",
    "concept_documents",
    "connected_components",
    "document_scores",
    "documents",
    "evaluate",
    "example_source",
    "fusion",
    "graph_walk",
    "hybrid",
    "ndcg_at_k",
    "parse_queries",
    "precision_at_k",
    "precision_at_k_returned",
    "query_terms",
    "recall_at_k",
    "reciprocal_rank",
    "reinforce",
    "resolve_method",
    "retrieve",
    "score_query",
    "shortest_path",
    "snippet",
    "tfidf",
]
