"""Every public query function's numbers: a bad one is a typed phago error, never a bare
``TypeError`` or NumPy's ``UFuncTypeError`` from deep inside (the audit:
``document_scores(c, q, n=1.5)`` raised ``TypeError``, ``fusion(..., graph_weight="x")``
NumPy's ``UFuncTypeError``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from phago.distributed.query import DistributedHybridConfig
from phago.errors import ConfigError, InvalidQuery, PhagoError
from phago.query import (
    HybridConfig,
    activation,
    betweenness_centrality,
    bm25,
    build_retrieval_colony,
    communities,
    concept_documents,
    document_scores,
    documents,
    evaluate,
    fusion,
    graph_walk,
    hybrid,
    ndcg_at_k,
    parse_queries,
    precision_at_k,
    precision_at_k_returned,
    recall_at_k,
    reinforce,
    resolve_method,
    retrieve,
    shortest_path,
    snippet,
    tfidf,
)
from phago.query.activation import spread
from phago.query.base import example_source, rank_top
from phago.query.bm25 import top_documents
from phago.query.index import query_index

SRC = example_source()


def _top_documents(n: Any) -> object:
    return top_documents(query_index(SRC).documents(SRC), ["protein"], n)


def _spread(**kw: Any) -> object:
    adj = query_index(SRC).adjacency()
    return spread(adj, np.array([0]), np.array([1.0]), **kw)


def _reinforce(increment: Any) -> object:
    return reinforce(example_source(), ["gene"], retrieve(SRC, "gene dna", 2), increment)


QUERIES = parse_queries([{"query": "gene", "relevant": ["dna"]}])
DOCS = [("a", "cell membrane protein"), ("b", "gene dna protein")]

BAD: list[tuple[str, Callable[[], object], str]] = [
    # (what, the call, the parameter the message names)
    ("document_scores n=1.5", lambda: document_scores(SRC, "protein", n=1.5), "n"),  # type: ignore[arg-type]
    ("document_scores n='3'", lambda: document_scores(SRC, "protein", n="3"), "n"),  # type: ignore[arg-type]
    ("document_scores n=-1", lambda: document_scores(SRC, "protein", n=-1), "n"),
    ("top_documents n=2.5", lambda: _top_documents(2.5), "n"),
    ("bm25 k='3'", lambda: bm25(SRC, "protein", "3"), "k"),  # type: ignore[arg-type]
    ("bm25 documents=1.5", lambda: bm25(SRC, "protein", documents=1.5), "documents"),  # type: ignore[arg-type]
    ("tfidf k='3'", lambda: tfidf(SRC, "protein", "3"), "k"),  # type: ignore[arg-type]
    ("fusion graph_weight='x'", lambda: fusion(SRC, "gene", graph_weight="x"), "graph_weight"),  # type: ignore[arg-type]
    ("fusion seed_weight=nan", lambda: fusion(SRC, "gene", seed_weight=math.nan), "seed_weight"),
    (
        "fusion document_weight=-1",
        lambda: fusion(SRC, "gene", document_weight=-1),
        "document_weight",
    ),
    ("fusion documents=2.5", lambda: fusion(SRC, "gene", documents=2.5), "documents"),  # type: ignore[arg-type]
    ("fusion hops='2'", lambda: fusion(SRC, "gene", hops="2"), "hops"),  # type: ignore[arg-type]
    ("fusion damping=1.5", lambda: fusion(SRC, "gene", damping=1.5), "damping"),
    ("fusion hub_penalty=None", lambda: fusion(SRC, "gene", hub_penalty=None), "hub_penalty"),  # type: ignore[arg-type]
    ("fusion fanout=0", lambda: fusion(SRC, "gene", fanout=0), "fanout"),
    ("fusion fanout=2.5", lambda: fusion(SRC, "gene", fanout=2.5), "fanout"),  # type: ignore[arg-type]
    ("fusion k='3'", lambda: fusion(SRC, "gene", "3"), "k"),  # type: ignore[arg-type]
    ("activation hops=-1", lambda: activation(SRC, "gene", hops=-1), "hops"),
    ("activation damping='x'", lambda: activation(SRC, "gene", damping="x"), "damping"),  # type: ignore[arg-type]
    (
        "activation hub_penalty=inf",
        lambda: activation(SRC, "gene", hub_penalty=math.inf),
        "hub_penalty",
    ),
    ("activation fanout='8'", lambda: activation(SRC, "gene", fanout="8"), "fanout"),  # type: ignore[arg-type]
    ("spread hops=1.5", lambda: _spread(hops=1.5), "hops"),
    ("spread damping='x'", lambda: _spread(damping="x"), "damping"),
    ("graph_walk max_depth='3'", lambda: graph_walk(SRC, "gene", max_depth="3"), "max_depth"),  # type: ignore[arg-type]
    (
        "graph_walk max_expansions=2.5",
        lambda: graph_walk(SRC, "gene", max_expansions=2.5),  # type: ignore[arg-type]
        "max_expansions",
    ),
    ("graph_walk fanout=0", lambda: graph_walk(SRC, "gene", fanout=0), "fanout"),
    ("hybrid k='2'", lambda: hybrid(SRC, "gene", "2"), "k"),  # type: ignore[arg-type]
    ("hybrid config='x'", lambda: hybrid(SRC, "gene", config="x"), "config"),  # type: ignore[arg-type]
    ("HybridConfig alpha='x'", lambda: HybridConfig(alpha="x"), "alpha"),  # type: ignore[arg-type]
    ("HybridConfig max_results=1.5", lambda: HybridConfig(max_results=1.5), "max_results"),  # type: ignore[arg-type]
    (
        "HybridConfig candidate_multiplier='3'",
        lambda: HybridConfig(candidate_multiplier="3"),  # type: ignore[arg-type]
        "candidate_multiplier",
    ),
    ("reinforce increment='x'", lambda: _reinforce("x"), "increment"),
    ("reinforce increment=2", lambda: _reinforce(2.0), "increment"),
    ("retrieve method=['x']", lambda: retrieve(SRC, "gene", 3, ["x"]), "method"),  # type: ignore[arg-type]
    ("resolve_method None", lambda: resolve_method(None), "method"),  # type: ignore[arg-type]
    ("rank_top k=1.5", lambda: rank_top(SRC.graph, [0], [1.0], 1.5), "k"),  # type: ignore[arg-type]
    ("betweenness seed='x'", lambda: betweenness_centrality(SRC, seed="x"), "seed"),  # type: ignore[arg-type]
    ("communities resolution=0", lambda: communities(SRC, resolution=0), "resolution"),
    ("communities resolution='x'", lambda: communities(SRC, resolution="x"), "resolution"),  # type: ignore[arg-type]
    ("communities seed=1.5", lambda: communities(SRC, seed=1.5), "seed"),  # type: ignore[arg-type]
    ("evaluate k=0", lambda: evaluate(SRC, QUERIES, ["tfidf"], k=0), "k"),
    ("evaluate k='10'", lambda: evaluate(SRC, QUERIES, ["tfidf"], k="10"), "k"),  # type: ignore[arg-type]
    ("build shards=1.5", lambda: build_retrieval_colony(DOCS, shards=1.5, ticks=1), "shards"),  # type: ignore[arg-type]
    ("build ticks='3'", lambda: build_retrieval_colony(DOCS, ticks="3"), "ticks"),  # type: ignore[arg-type]
    ("build seed=-1", lambda: build_retrieval_colony(DOCS, seed=-1, ticks=1), "seed"),
    ("build spacing=0", lambda: build_retrieval_colony(DOCS, spacing=0, ticks=1), "spacing"),
    ("build columns=2.5", lambda: build_retrieval_colony(DOCS, columns=2.5, ticks=1), "columns"),  # type: ignore[arg-type]
    ("build digesters=0", lambda: build_retrieval_colony(DOCS, digesters=0, ticks=1), "digesters"),
    ("build max_idle='9'", lambda: build_retrieval_colony(DOCS, max_idle="9", ticks=1), "max_idle"),  # type: ignore[arg-type]
    ("precision_at_k k=1.5", lambda: precision_at_k(["a"], {"a"}, 1.5), "k"),  # type: ignore[arg-type]
    ("precision_at_k_returned k='5'", lambda: precision_at_k_returned(["a"], {"a"}, "5"), "k"),  # type: ignore[arg-type]
    ("recall_at_k k=None", lambda: recall_at_k(["a"], {"a"}, None), "k"),  # type: ignore[arg-type]
    ("ndcg_at_k k=-1", lambda: ndcg_at_k(["a"], {"a"}, -1), "k"),
    ("documents n=1.5", lambda: documents(SRC, "gene", 1.5), "n"),  # type: ignore[arg-type]
    ("documents concepts='x'", lambda: documents(SRC, "gene", concepts="x"), "concepts"),  # type: ignore[arg-type]
    ("documents width=-1", lambda: documents(SRC, "gene", width=-1), "width"),
    ("documents method='x'", lambda: documents(SRC, "gene", method="x"), "method"),
    ("concept_documents n=2.5", lambda: concept_documents(SRC, "gene", 2.5), "n"),  # type: ignore[arg-type]
    ("snippet width='x'", lambda: snippet("a text", {"text"}, "x"), "width"),  # type: ignore[arg-type]
    (
        "DistributedHybridConfig alpha='x'",
        lambda: DistributedHybridConfig(alpha="x"),  # type: ignore[arg-type]
        "alpha",
    ),
    (
        "DistributedHybridConfig max_results=2.5",
        lambda: DistributedHybridConfig(max_results=2.5),  # type: ignore[arg-type]
        "max_results",
    ),
]


@pytest.mark.parametrize(("what", "call", "name"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_number_is_a_config_error_naming_it(
    what: str, call: Callable[[], object], name: str
) -> None:
    with pytest.raises(ConfigError) as info:
        call()
    assert name in str(info.value), (what, str(info.value))


NOT_TEXT: list[tuple[str, Callable[[], object]]] = [
    ("shortest_path a=1.5", lambda: shortest_path(SRC, 1.5, "dna")),  # type: ignore[arg-type]
    ("shortest_path b=None", lambda: shortest_path(SRC, "dna", None)),  # type: ignore[arg-type]
    ("documents text=None", lambda: documents(SRC, None)),  # type: ignore[arg-type]
    ("concept_documents text=5", lambda: concept_documents(SRC, "gene", text=5)),  # type: ignore[arg-type]
    ("concept_documents concept=1.5", lambda: concept_documents(SRC, 1.5)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("what", "call"), NOT_TEXT, ids=[b[0] for b in NOT_TEXT])
def test_what_is_neither_text_nor_a_node_id_is_an_invalid_query(
    what: str, call: Callable[[], object]
) -> None:
    with pytest.raises(InvalidQuery):
        call()


def test_good_numbers_in_other_forms_are_taken() -> None:
    """Whole floats and NumPy numbers are numbers; checked values give the same results."""
    assert fusion(SRC, "gene", 3.0, hops=np.int64(2), damping=np.float32(0.5)) == fusion(  # type: ignore[arg-type]
        SRC, "gene", 3
    )
    assert document_scores(SRC, "protein", n=2.0) == document_scores(SRC, "protein", n=2)  # type: ignore[arg-type]
    assert HybridConfig(max_results=np.int64(4)).max_results == 4  # type: ignore[arg-type]
    assert activation(SRC, "gene", fanout=None) == activation(SRC, "gene", fanout=10**9)
    assert isinstance(ConfigError("x"), PhagoError)


def test_reinforce_refuses_terms_and_results_of_the_wrong_kind_and_changes_nothing() -> None:
    """Strings where RetrievedConcepts belong raised AttributeError; a string where a
    collection of terms belongs was read letter by letter (and reinforced nothing)."""
    src = example_source()
    hits = retrieve(src, "gene dna", 2)
    before = src.graph.edge_arrays()
    bad: list[tuple[Any, Any, str]] = [
        (["star"], ["gravity"], "a result must be a RetrievedConcept"),
        (["gene"], [hits[0], "dna"], "a result must be a RetrievedConcept"),
        (["gene"], None, "results must be a collection"),
        (["gene"], "dna", "results must be a collection"),
        ("gene", hits, "query terms must be a collection of strings, got str"),
        (None, hits, "query terms must be a collection of strings"),
        (["gene", 3], hits, "a query term must be text"),
    ]
    for terms, results, message in bad:
        with pytest.raises(InvalidQuery, match=message):
            reinforce(src, terms, results)
    for got, want in zip(src.graph.edge_arrays(), before, strict=True):
        assert np.array_equal(got, want)
    assert reinforce(src, ("gene",), iter(hits)) == reinforce(example_source(), ["gene"], hits)  # type: ignore[arg-type]
