"""GraphML and GEXF are streamed from the table's columns: read back with networkx, they are
the graph networkx's own writers give for ``to_networkx``'s graph, down to value types, node
order, edge order and GEXF edge ids."""

from __future__ import annotations

import doctest
import gzip
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from store_helpers import make_colony

import phago._xml_export as xml_export
from phago.export import GraphTable, export_graph, to_networkx
from phago.graph import HebbianGraph

FORMATS = ("graphml", "gexf")
TRICKY = [
    "salt & pepper",
    'say "hi"',
    "it's",
    "<b>bold</b>",
    "]]> & &amp;",
    "日本語",
    "café crème",
    "🦠 phage",
    "tab\there",
    "two\nlines",
    "  padded  ",
]


def _read(path: Path, fmt: str) -> Any:
    return nx.read_graphml(path) if fmt == "graphml" else nx.read_gexf(path)


def _networkx_writer(table: GraphTable, fmt: str, path: Path) -> Path:
    """What ``write_graphml`` / ``write_gexf`` wrote before: networkx's writer on
    ``to_networkx``'s graph."""
    g = to_networkx(table)
    (nx.write_graphml if fmt == "graphml" else nx.write_gexf)(g, path)
    return path


def _typed(data: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Attribute values with their types (``1 == 1.0`` and ``nan != nan`` otherwise)."""
    return {k: (type(v).__name__, repr(v)) for k, v in data.items()}


def _content(g: Any) -> tuple[Any, ...]:
    return (
        g.is_directed(),
        _typed(g.graph),
        [(n, _typed(d)) for n, d in g.nodes(data=True)],
        [(a, b, _typed(d)) for a, b, d in g.edges(data=True)],
    )


def _assert_same_as_networkx(table: GraphTable, fmt: str, folder: Path) -> Any:
    new = _read(export_graph(table, fmt, folder / f"new.{fmt}"), fmt)
    old = _read(_networkx_writer(table, fmt, folder / f"old.{fmt}"), fmt)
    assert _content(new) == _content(old)
    return new


def _table(labels: list[str], edges: list[tuple[int, int]], **columns: Any) -> GraphTable:
    """A table built column by column (ids 10, 11, ...; edge weights 0.5, 1.5, ...)."""
    n, m = len(labels), len(edges)
    cols: dict[str, Any] = {
        "ids": np.arange(10, 10 + n, dtype=np.uint64),
        "labels": labels,
        "node_types": ["concept"] * n,
        "access": np.arange(n, dtype=np.int64) + 1,
        "created": np.arange(n, dtype=np.int64) * 7,
        "x": np.linspace(-1.5, 2.25, n),
        "y": np.linspace(0.1, 1e-9, n),
        "edge_a": np.array([a for a, _ in edges], dtype=np.int64),
        "edge_b": np.array([b for _, b in edges], dtype=np.int64),
        "weight": np.arange(m, dtype=np.float64) + 0.5,
        "co_activations": np.arange(m, dtype=np.int64) + 2,
        "edge_created": np.arange(m, dtype=np.int64) * 3,
        "edge_last": np.arange(m, dtype=np.int64) * 5,
    }
    cols.update(columns)
    return GraphTable(**cols)


def _tricky_table(**columns: Any) -> GraphTable:
    n = len(TRICKY)
    edges = [(i, (i * 5 + 3) % n) for i in range(n)] + [(n - 1, 0), (2, 9), (4, 1)]
    return _table(TRICKY, edges, **columns)


def test_doctests() -> None:
    r = doctest.testmod(xml_export)
    assert r.attempted > 0 and r.failed == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_tricky_labels_read_back_as_networkx_writes_them(tmp_path: Path, fmt: str) -> None:
    back = _assert_same_as_networkx(_tricky_table(), fmt, tmp_path)
    assert [d["label"] for _, d in back.nodes(data=True)] == TRICKY


@pytest.mark.parametrize("fmt", FORMATS)
def test_carriage_returns_are_kept(tmp_path: Path, fmt: str) -> None:
    # (networkx's GraphML writer lost them: "cr\r\nlf" read back as "cr\nlf")
    labels = ["cr\r\nlf", "lone\rcr", "end\r"]
    table = _table(labels, [(0, 1), (1, 2)])
    back = _read(export_graph(table, fmt, tmp_path / f"g.{fmt}"), fmt)
    assert [d["label"] for _, d in back.nodes(data=True)] == labels


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_colony_reads_back_as_networkx_writes_it(tmp_path: Path, fmt: str) -> None:
    c = make_colony(10, digesters=3)
    c.run_until_digested(200)
    c.run(60)
    table = GraphTable.from_colony(c)
    assert table.edge_count > 50
    back = _assert_same_as_networkx(table, fmt, tmp_path)
    assert back.number_of_edges() == table.edge_count


@pytest.mark.parametrize("fmt", FORMATS)
def test_shards_are_node_attributes(tmp_path: Path, fmt: str) -> None:
    g1 = HebbianGraph()
    _ = g1.wire_clique(g1.present(["a", "b", "c"]), 0)
    g2 = HebbianGraph()
    _ = g2.wire_clique(g2.present(["c", "d"]), 1)
    table = GraphTable.merge(
        [GraphTable.from_graph(g1, shard=0), GraphTable.from_graph(g2, shard=1)]
    )
    back = _assert_same_as_networkx(table, fmt, tmp_path)
    assert sorted(d["shard"] for _, d in back.nodes(data=True)) == [0, 0, 0, 1]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("nodes", [0, 1, 3])
def test_a_graph_without_edges(tmp_path: Path, fmt: str, nodes: int) -> None:
    table = _table(["a", "b", "c"][:nodes], [])
    back = _assert_same_as_networkx(table, fmt, tmp_path)
    assert (back.number_of_nodes(), back.number_of_edges()) == (nodes, 0)


@pytest.mark.parametrize("fmt", FORMATS)
def test_many_chunks(tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xml_export, "CHUNK", 4)
    table = _tricky_table()
    chunks = list(
        xml_export.graphml_chunks(table)
        if fmt == "graphml"
        else xml_export.gexf_chunks(table, date="2024-01-01", creator="test")
    )
    assert len(chunks) > 4
    _assert_same_as_networkx(table, fmt, tmp_path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_networkx_writes_nothing(tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the export streams itself")

    monkeypatch.setattr(nx, f"write_{fmt}", refuse)
    monkeypatch.setattr(nx, "Graph", refuse)
    out = export_graph(_tricky_table(), fmt, tmp_path / f"g.{fmt}")
    monkeypatch.undo()
    back = _read(out, fmt)
    assert back.number_of_nodes() == len(TRICKY)


@pytest.mark.parametrize("fmt", FORMATS)
def test_characters_xml_cannot_carry_are_replaced(tmp_path: Path, fmt: str) -> None:
    # (networkx's writers wrote them as they were: a file no XML parser reads)
    labels = ["bell\x07", "nul\x00", "esc\x1b[0m", "lone \ud800", "not \ufffe", "fine\u00a0"]
    table = _table(labels, [(0, 1), (2, 3), (4, 5)])
    back = _read(export_graph(table, fmt, tmp_path / f"g.{fmt}"), fmt)
    got = [d["label"] for _, d in back.nodes(data=True)]
    assert got == [
        "bell\ufffd",
        "nul\ufffd",
        "esc\ufffd[0m",
        "lone \ufffd",
        "not \ufffd",
        "fine\u00a0",
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_finite_positions(tmp_path: Path, fmt: str) -> None:
    inf = float("inf")
    table = _table(["a", "b", "c"], [(0, 1)], x=np.array([inf, -inf, np.nan]))
    back = _assert_same_as_networkx(table, fmt, tmp_path)
    assert [repr(d["x"]) for _, d in back.nodes(data=True)] == ["inf", "-inf", "nan"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_repeated_nodes_and_edges_as_networkx_merges_them(tmp_path: Path, fmt: str) -> None:
    # no constructor makes such a table; written as networkx would merge it all the same
    ids = np.array([5, 6, 5, 7, 6], dtype=np.uint64)
    edges = [(0, 1), (3, 2), (1, 2), (2, 1), (4, 0), (3, 3), (1, 3)]
    table = _table(["a", "b", "a2", "c", "b2"], edges, ids=ids)
    back = _assert_same_as_networkx(table, fmt, tmp_path)
    assert (back.number_of_nodes(), back.number_of_edges()) == (3, 4)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_gz_name_gives_a_compressed_file(tmp_path: Path, fmt: str) -> None:
    out = export_graph(_tricky_table(), fmt, tmp_path / f"g.{fmt}.gz")
    with gzip.open(out, "rt", encoding="utf-8") as fh:
        assert fh.read(5) == "<?xml"
    old = _networkx_writer(_tricky_table(), fmt, tmp_path / f"old.{fmt}.gz")
    assert _content(_read(out, fmt)) == _content(_read(old, fmt))
