"""The reference's hybrid scoring, with deduplicated seeds."""

from __future__ import annotations

import math

import pytest

from phago.errors import ConfigError
from phago.query.base import StaticSource
from phago.query.hybrid import HybridConfig, hybrid


def expected_graph(max_w: float, coacts: int, degree: int, access: int) -> float:
    g = 0.4 * max_w
    if coacts > 0:
        g += 0.1 * max(0.0, math.log(coacts))
    g += 0.2 * min(1.0, max(0.0, math.log(degree)) / 5.0)
    g += 0.3 * min(1.0, max(0.0, math.log(access)) / 5.0)
    return min(g, 1.0)


def test_reference_formula(bio: StaticSource) -> None:
    res = {r.label: r for r in hybrid(bio, "membrane protein")}
    g = bio.graph
    # membrane: degree 6 (cell, protein, ribosome, lipid, transport, channel), presented 3x;
    # its seed edge to protein has weight 0.3 and 3 co-activations.
    membrane = g.find_by_label("membrane")
    assert membrane is not None
    assert g.degree(membrane) == 6
    want = expected_graph(0.3, 3, 6, 3)
    assert res["membrane"].components["graph"] == pytest.approx(want)
    assert res["membrane"].components["tfidf"] == pytest.approx(1.0)
    assert res["membrane"].score == pytest.approx(0.5 * 1.0 + 0.5 * want)


def test_repeated_terms_do_not_double_count_seeds(bio: StaticSource) -> None:
    once = {r.label: r for r in hybrid(bio, "membrane protein")}
    twice = {r.label: r for r in hybrid(bio, "membrane membrane protein")}
    assert twice["protein"].components["graph"] == pytest.approx(
        once["protein"].components["graph"]
    )
    assert twice["protein"].components["tfidf"] == pytest.approx(0.5)


def test_alpha_and_k(bio: StaticSource) -> None:
    only_tfidf = hybrid(bio, "gene dna qubit", config=HybridConfig(alpha=1.0))
    assert all(r.score == pytest.approx(1.0) for r in only_tfidf)
    assert len(hybrid(bio, "gene dna qubit", k=2)) == 2
    assert len(hybrid(bio, "gene dna qubit", config=HybridConfig(max_results=1))) == 1


def test_config_validation() -> None:
    with pytest.raises(ConfigError):
        HybridConfig(alpha=1.5)
    with pytest.raises(ValueError):
        HybridConfig(candidate_multiplier=0)
    assert HybridConfig() == HybridConfig(0.5, 10, 3)


def test_no_candidates(bio: StaticSource) -> None:
    assert hybrid(bio, "telescope") == []


def test_access_count_inflation_does_not_move_hybrid(bio: StaticSource) -> None:
    before = [(r.label, r.score) for r in hybrid(bio, "membrane protein gene")]
    g = bio.graph
    gene = g.find_by_label("gene")
    assert gene is not None
    g.increment_access([g.index_of(gene)] * 50)  # dissolution-style boost
    after = [(r.label, r.score) for r in hybrid(bio, "membrane protein gene")]
    assert before == after


def test_graph_without_provenance_falls_back_to_access_count() -> None:
    from phago.graph import HebbianGraph

    g = HebbianGraph()
    a, b = g.add_node("alpha"), g.add_node("beta", access_count=20)
    g.wire_pairs([g.index_of(a)], [g.index_of(b)], tick=0)
    res = {r.label: r for r in hybrid(StaticSource(g, []), "alpha beta")}
    want = expected_graph(0.1, 1, 1, 20)
    assert res["beta"].components["graph"] == pytest.approx(want)
