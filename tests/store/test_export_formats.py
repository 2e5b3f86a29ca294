"""Export: GraphML and GEXF read back with networkx, JSON, CSV and the weighted triples."""

from __future__ import annotations

import csv
import doctest
import json
from pathlib import Path

import networkx as nx
import pytest
from store_helpers import make_colony

import phago.export as export_mod
from phago import Colony
from phago.errors import PhagoError
from phago.export import GraphTable, export_graph, to_networkx, triples
from phago.store import save


@pytest.fixture(scope="module")
def colony() -> Colony:
    c = make_colony(10, digesters=3)
    c.run_until_digested(200)
    c.run(60)  # decay and cap: weights differ from one another
    return c


def test_doctests() -> None:
    r = doctest.testmod(export_mod)
    assert r.attempted > 0 and r.failed == 0


def _weights(g: nx.Graph) -> dict[tuple[str, str], float]:
    return {
        tuple(sorted((g.nodes[a]["label"], g.nodes[b]["label"]))): float(d["weight"])
        for a, b, d in g.edges(data=True)
    }  # type: ignore[misc]


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_graphml_and_gexf_read_back(tmp_path: Path, colony: Colony, fmt: str) -> None:
    table = GraphTable.from_store(save(colony, tmp_path / "c.db"))
    out = export_graph(table, fmt, tmp_path / f"g.{fmt}")
    back = nx.read_graphml(out) if fmt == "graphml" else nx.read_gexf(out)
    g = colony.graph
    assert back.number_of_nodes() == g.node_count
    assert back.number_of_edges() == g.edge_count
    assert not back.is_directed()
    want = {}
    for a, b, e in g.edges():
        want[tuple(sorted((g.label_at(g.index_of(a)), g.label_at(g.index_of(b)))))] = e.weight
    got = _weights(back)
    assert got.keys() == want.keys()
    for k, w in want.items():
        assert got[k] == pytest.approx(w, rel=1e-12), k
    node = next(iter(back.nodes(data=True)))[1]
    assert {"label", "access_count", "node_type"} <= set(node)
    if fmt == "graphml":
        nid = str(int(g.id_at(0)))
        assert back.nodes[nid]["access_count"] == int(g.access_counts()[0])


def test_json_and_csv(tmp_path: Path, colony: Colony) -> None:
    table = GraphTable.from_colony(colony)
    data = json.loads(export_graph(table, "json", tmp_path / "g.json").read_text())
    assert len(data["nodes"]) == table.node_count and len(data["edges"]) == table.edge_count
    assert data["stats"]["tick"] == colony.current_tick
    with open(export_graph(table, "csv", tmp_path / "g.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == table.edge_count
    assert sum(float(r["weight"]) for r in rows) == pytest.approx(float(table.weight.sum()))
    assert rows[0]["source_label"] == table.labels[int(table.edge_a[0])]


def test_triples_follow_the_reference(tmp_path: Path, colony: Colony) -> None:
    table = GraphTable.from_colony(colony)
    ts, st = triples(table)
    ws = sorted(float(w) for w in table.weight)
    assert st.total == len(ts) == table.edge_count
    assert [t.weight for t in ts] == sorted((t.weight for t in ts), reverse=True)
    assert {t.predicate for t in ts} == {"related_to"}
    assert st.median_weight == ws[len(ws) // 2]
    assert (st.min_weight, st.max_weight) == (ws[0], ws[-1])
    assert st.mean_weight == pytest.approx(sum(ws) / len(ws))
    assert st.mean_co_activations == pytest.approx(float(table.co_activations.mean()))
    data = json.loads(export_graph(table, "triples", tmp_path / "t.json").read_text())
    assert data["stats"]["total"] == st.total and len(data["triples"]) == st.total
    lines = export_graph(table, "triples", tmp_path / "t.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert len(lines) == st.total and first["subject"] == ts[0].subject


def test_networkx_graph_and_errors(tmp_path: Path) -> None:
    empty = GraphTable.from_colony(Colony())
    assert to_networkx(empty).number_of_nodes() == 0
    assert triples(empty)[1].total == 0
    with pytest.raises(PhagoError, match="unknown export format"):
        export_graph(empty, "xls", tmp_path / "x")
    with pytest.raises(PhagoError, match="cannot write"):
        export_graph(empty, "json", tmp_path / "missing" / "x.json")
