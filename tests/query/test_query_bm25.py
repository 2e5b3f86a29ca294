"""BM25 over documents, mapped to concepts through provenance."""

from __future__ import annotations

import pytest

from phago.ids import document_id
from phago.query.base import StaticSource
from phago.query.bm25 import bm25, document_scores
from phago.types import Document, Position


def test_concepts_of_the_only_matching_document_share_its_score(bio: StaticSource) -> None:
    docs = document_scores(bio, "polymerase")
    assert [d.title for d in docs] == ["Replication"]
    res = bm25(bio, "polymerase")
    assert sorted(r.label for r in res) == ["dna", "gene", "polymerase", "replication"]
    for r in res:
        assert r.score == pytest.approx(docs[0].score, rel=1e-6)
        assert r.components["documents"] == 1.0


def test_concept_score_is_the_sum_over_its_top_documents(bio: StaticSource) -> None:
    docs = {d.title: d.score for d in document_scores(bio, "protein")}
    assert set(docs) == {"Cells", "Membranes", "Transport", "Genes"}
    res = {r.label: r for r in bm25(bio, "protein", k=20)}
    assert res["protein"].score == pytest.approx(sum(docs.values()), rel=1e-6)
    assert res["protein"].components["documents"] == 4.0
    expected = docs["Cells"] + docs["Membranes"] + docs["Transport"]
    assert res["membrane"].score == pytest.approx(expected, rel=1e-6)
    assert next(iter(res)) == "protein"


def test_documents_limit(bio: StaticSource) -> None:
    res = bm25(bio, "protein", k=20, documents=1)
    assert all(r.components["documents"] == 1.0 for r in res)


def test_documents_without_provenance_are_ignored(bio: StaticSource) -> None:
    before = [(r.label, r.score) for r in bm25(bio, "protein membrane")]
    text = "protein protein membrane"
    extra = Document(document_id("x", text), "x", text, Position(0, 0), False)
    other = StaticSource(bio.graph, [*bio.docs, extra], bio.current_tick)
    after = [(r.label, r.score) for r in bm25(other, "protein membrane")]
    assert before == after


def test_document_order_does_not_matter(bio: StaticSource) -> None:
    before = [(r.label, r.score) for r in bm25(bio, "qubit gate")]
    shuffled = StaticSource(bio.graph, list(reversed(bio.docs)), bio.current_tick)
    assert [(r.label, r.score) for r in bm25(shuffled, "qubit gate")] == before


def test_no_match(bio: StaticSource) -> None:
    assert bm25(bio, "telescope") == []
    assert bm25(bio, "") == []
    assert bm25(StaticSource(bio.graph, [], 0), "protein") == []


def test_a_repeated_term_counts_once_per_repeat(bio: StaticSource) -> None:
    """Each distinct term is scored once and weighted by its repeats (a query of one word a
    million times took 13 s, scored word by word)."""
    from phago.query.index import query_index

    index = query_index(bio).documents(bio)
    once, other = index.scores(["protein"]), index.scores(["membrane"])
    mixed = index.scores(["protein", "membrane", "protein", "protein"])
    assert mixed == pytest.approx(3 * once + other, rel=1e-12)
    assert index.scores(["protein"] * 200_000) == pytest.approx(200_000 * once, rel=1e-12)
    assert document_scores(bio, " ".join(["protein"] * 50_000))[0].score == pytest.approx(
        50_000 * document_scores(bio, "protein")[0].score, rel=1e-9
    )
