"""Label TF-IDF: the reference formula on hand-built graphs, concepts only, one tokeniser."""

from __future__ import annotations

import math

import pytest

from phago.query.base import StaticSource, query_terms
from phago.query.tfidf import tfidf, tfidf_scores
from phago.text import tokenize
from phago.types import NodeType


def test_single_word_labels_score_idf_plus_exact_boost(bio: StaticSource) -> None:
    res = tfidf(bio, "How is the membrane protein made?")
    idf = math.log(17) + 1.0
    assert [r.label for r in res] == ["membrane", "protein"]
    for r in res:
        assert r.components == {"tfidf": pytest.approx(idf), "exact": 10.0}
        assert r.score == pytest.approx(idf + 10.0)


def test_repeated_terms_count_repeatedly(bio: StaticSource) -> None:
    res = tfidf(bio, "gene gene dna")
    assert res[0].label == "gene"
    assert res[0].score == pytest.approx(2 * (math.log(17) + 1.0) + 20.0)


def test_multi_word_labels_use_label_terms_and_df(bio: StaticSource) -> None:
    bio.graph.add_node("cell membrane")  # a concept whose label has two terms
    idx, tf, boost = tfidf_scores(bio, ["membrane"])
    labels = [bio.graph.label_at(i) for i in idx.tolist()]
    assert sorted(labels) == ["cell membrane", "membrane"]
    n, df = 18, 2
    for lab, t, b in zip(labels, tf.tolist(), boost.tolist(), strict=True):
        assert t == pytest.approx(math.log(n / df) + 1.0)
        assert b == (10.0 if lab == "membrane" else 0.0)


def test_only_concepts_are_documents(bio: StaticSource) -> None:
    bio.graph.add_node("membrane protein insight", node_type=NodeType.INSIGHT)
    bio.graph.add_node("membrane", node_type=NodeType.ANOMALY)
    res = tfidf(bio, "membrane")
    assert [r.label for r in res] == ["membrane"]
    assert res[0].components["tfidf"] == pytest.approx(math.log(17) + 1.0)


def test_no_match_empty_query_and_k(bio: StaticSource) -> None:
    assert tfidf(bio, "telescope") == []
    assert tfidf(bio, "the of and") == []
    assert tfidf(bio, "membrane protein cell", k=0) == []
    assert len(tfidf(bio, "membrane protein cell", k=2)) == 2


def test_query_uses_the_one_tokeniser() -> None:
    text = "The, cell's MEMBRANE-protein (and DNA)!"
    assert query_terms(text) == tokenize(text) == ["cell", "membrane", "protein", "dna"]


def test_index_extends_when_nodes_are_added(bio: StaticSource) -> None:
    assert tfidf(bio, "telescope") == []
    bio.graph.add_node("telescope")
    assert [r.label for r in tfidf(bio, "telescope")] == ["telescope"]
