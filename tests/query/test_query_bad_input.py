"""Queries given something that is not a query: typed errors, never a bare TypeError from
deep inside (thirty-fifth session: a float ``k`` reached ``np.partition``, ``None`` reached
Unicode normalisation)."""

from __future__ import annotations

import dataclasses

import pytest

from phago.errors import ConfigError, GraphError, InvalidQuery, PhagoError
from phago.query import METHODS
from phago.query.base import example_source
from phago.query.retrieve import retrieve
from phago.query.structural import betweenness_centrality, bridge_nodes

EVERY_METHOD = ["best", *METHODS]


@pytest.mark.parametrize("method", EVERY_METHOD)
@pytest.mark.parametrize("text", [None, b"qubit", 5, ["qubit"]])
def test_a_query_that_is_not_text_is_an_invalid_query(method: str, text: object) -> None:
    with pytest.raises(InvalidQuery, match="a query must be text, got"):
        retrieve(example_source(), text, 3, method)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", EVERY_METHOD)
@pytest.mark.parametrize("k", [2.5, None, "3", -1, True])
def test_a_k_that_is_not_a_whole_number_at_least_zero_is_a_config_error(
    method: str, k: object
) -> None:
    with pytest.raises(ConfigError, match="k must be a whole number >= 0"):
        retrieve(example_source(), "protein", k, method)  # type: ignore[arg-type]
    assert retrieve(example_source(), "protein", 0, method) == []
    two = retrieve(example_source(), "protein", 2, method)
    assert retrieve(example_source(), "protein", 2.0, method) == two  # type: ignore[arg-type]


def test_structural_counts_are_whole_numbers_at_least_zero() -> None:
    src = example_source()
    top5 = betweenness_centrality(src, samples=50, top_k=5)
    for bad in (-1, 1.5, "2"):
        with pytest.raises(ConfigError, match="top_k must be a whole number >= 0"):
            betweenness_centrality(src, samples=50, top_k=bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="k must be a whole number >= 0"):
            bridge_nodes(src, k=bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="samples must be a whole number >= 0"):
            betweenness_centrality(src, samples=bad)  # type: ignore[arg-type]
    # (a negative top_k once dropped the last-ranked node without a word)
    assert betweenness_centrality(src, samples=50, top_k=0) == []
    assert betweenness_centrality(src, samples=50, top_k=2) == top5[:2]


def test_graph_lookups_and_edits_raise_graph_errors() -> None:
    g = example_source().graph
    a, b = g.find_by_label("cell"), g.find_by_label("protein")
    assert a is not None and b is not None
    edge = g.get_edge(a, b)
    assert edge is not None
    for call in (
        lambda: g.find_by_label(None),  # type: ignore[arg-type]
        lambda: g.edge_between(None, "cell"),  # type: ignore[arg-type]
        lambda: g.add_node(""),
        lambda: g.add_node("   "),
        lambda: g.present([""]),
        lambda: g.present("cell"),
        lambda: g.set_edge(a, a, edge),
        lambda: g.set_edge(a, b, dataclasses.replace(edge, weight=1.5)),
    ):
        with pytest.raises(GraphError):
            call()
    assert issubclass(GraphError, PhagoError) and issubclass(GraphError, ValueError)
    assert g.get_edge(a, b) == edge  # nothing changed


def test_a_decay_rate_outside_zero_to_one_is_a_graph_error() -> None:
    g = example_source().graph
    weights = g.edge_arrays()
    for rate, threshold in ((-5.0, 0.05), (float("nan"), 0.05), (1.5, 0.05), (0.1, float("nan"))):
        with pytest.raises(GraphError, match="decay rate must be in"):
            g.decay_edges(rate, threshold)
    for before, after in zip(weights, g.edge_arrays(), strict=True):  # nothing changed
        assert (before == after).all()
