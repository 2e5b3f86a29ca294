"""Spreading activation and fusion on hand-built graphs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from phago.errors import ConfigError
from phago.graph import HebbianGraph
from phago.query.activation import activation, spread
from phago.query.base import StaticSource
from phago.query.fusion import fusion
from phago.query.index import query_index
from phago.types import EdgeData


def path_graph() -> StaticSource:
    g = HebbianGraph()
    for lab in ("root", "mid", "leaf"):
        g.add_node(lab)
    root, mid, leaf = (g.find_by_label(x) for x in ("root", "mid", "leaf"))
    assert root is not None and mid is not None and leaf is not None
    g.set_edge(root, mid, EdgeData(1.0, 1, 0, 0))
    g.set_edge(mid, leaf, EdgeData(1.0, 1, 0, 0))
    return StaticSource(g, [])


def test_spread_known_values() -> None:
    src = path_graph()
    adj = query_index(src).adjacency()
    idx, act = spread(adj, np.array([0]), np.array([1.0]), hops=2, damping=0.5)
    got = dict(zip(idx.tolist(), act.tolist(), strict=True))
    # hop 1: mid gets 0.5; hop 2: mid (strength 2) sends 0.125 back to root and to leaf
    assert got == {0: pytest.approx(0.125), 1: pytest.approx(0.5), 2: pytest.approx(0.125)}
    with pytest.raises(ConfigError):
        spread(adj, np.array([0]), np.array([1.0]), damping=2.0)


def test_activation_scores_and_hub_penalty() -> None:
    src = path_graph()
    res = {r.label: r for r in activation(src, "root", hub_penalty=0.0)}
    assert res["root"].score == pytest.approx(1.125)
    assert res["mid"].score == pytest.approx(0.5)
    assert res["leaf"].score == pytest.approx(0.125)
    penalised = {r.label: r.score for r in activation(src, "root", hub_penalty=1.0)}
    assert penalised["mid"] == pytest.approx(0.25)  # degree 2


def test_activation_reaches_unnamed_concepts(bio: StaticSource) -> None:
    labels = [r.label for r in activation(bio, "gene")]
    assert labels[0] == "gene"
    assert labels[1] == "dna"  # the strongest Hebbian neighbour
    assert "qubit" not in labels
    assert activation(bio, "telescope") == []


def test_fusion_components_add_up(bio: StaticSource) -> None:
    res = fusion(bio, "How is a gene copied?")
    assert res[0].label == "gene"
    for r in res:
        assert sum(r.components.values()) == pytest.approx(r.score, abs=1e-9)
    dna = next(r for r in res if r.label == "dna")
    assert dna.components["seed"] == 0.0
    assert dna.components["graph"] > 0 and dna.components["documents"] > 0


def test_fusion_weights_switch_parts_off(bio: StaticSource) -> None:
    no_graph = fusion(bio, "gene", graph_weight=0.0)
    assert all(r.components["graph"] == 0.0 for r in no_graph)
    no_docs = fusion(bio, "gene", document_weight=0.0)
    assert all(r.components["documents"] == 0.0 for r in no_docs)
    only_seeds = fusion(bio, "gene dna", document_weight=0.0, graph_weight=0.0)
    assert [r.label for r in only_seeds] == ["dna", "gene"]


def test_fusion_without_seeds_uses_documents(bio: StaticSource) -> None:
    bio.graph.add_node("unrelated")
    res = fusion(bio, "polymerase replication")
    assert {"polymerase", "replication"} <= {r.label for r in res[:2]}
    assert fusion(bio, "telescope") == []
