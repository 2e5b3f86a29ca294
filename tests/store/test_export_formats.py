"""Export: GraphML and GEXF read back with networkx, JSON, CSV and the weighted triples."""

from __future__ import annotations

import csv
import doctest
import errno
import json
import os
import stat
from pathlib import Path
from typing import IO, Any

import networkx as nx
import pytest
from click.testing import CliRunner
from store_helpers import make_colony

import phago.export as export_mod
from phago import Colony
from phago.cli import main
from phago.errors import PhagoError, StoreError
from phago.export import GraphTable, export_graph, to_networkx, triples
from phago.store import is_store, save


@pytest.fixture(scope="module")
def colony() -> Colony:
    c = make_colony(10, digesters=3)
    c.run_until_digested(200)
    c.run(60)  # decay and cap: weights differ from one another
    return c


def test_doctests() -> None:
    r = doctest.testmod(export_mod)
    assert r.attempted > 0 and r.failed == 0


def _weights(g: nx.Graph) -> dict[tuple[str, ...], float]:
    return {
        tuple(sorted((g.nodes[a]["label"], g.nodes[b]["label"]))): float(d["weight"])
        for a, b, d in g.edges(data=True)
    }


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


# ---------------------------------------------------------------------------- output files


def _fake_distributed_store(folder: Path) -> Path:
    """A folder that is a distributed store as far as recognising one goes."""
    folder.mkdir()
    (folder / "CURRENT").write_text("gen-000001\n")
    return folder


@pytest.mark.parametrize("fmt", export_mod.FORMATS)
def test_export_refuses_to_write_over_a_store(tmp_path: Path, colony: Colony, fmt: str) -> None:
    db = save(colony, tmp_path / "c.db")
    before = db.read_bytes()
    table = GraphTable.from_store(db)
    link = tmp_path / "link.db"
    link.symlink_to(db)
    dstore = _fake_distributed_store(tmp_path / "dstore")
    for out in (db, link, dstore / "CURRENT", dstore / "new.json"):
        with pytest.raises(StoreError, match=r"refusing to write .*phago store"):
            export_graph(table, fmt, out)
    assert db.read_bytes() == before and is_store(db)
    assert sorted(p.name for p in dstore.iterdir()) == ["CURRENT"]


def _export(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["export", *args], catch_exceptions=False)
    return r.exit_code, r.output


def test_phago_export_refuses_the_store_itself(tmp_path: Path, colony: Colony) -> None:
    db = save(colony, tmp_path / "c.db")
    before = db.read_bytes()
    hard = tmp_path / "hard.db"
    os.link(db, hard)
    soft = tmp_path / "soft.json"
    soft.symlink_to(db)
    for out in (db, hard, soft):
        code, text = _export("--db", str(db), "--format", "json", "--out", str(out))
        assert code == 1, text
        assert "it is the store being read" in text
    assert db.read_bytes() == before and is_store(db)
    other = save(Colony(), tmp_path / "other.db")
    code, text = _export("--db", str(db), "--format", "csv", "--out", str(other))
    assert code == 1 and "it is a phago store" in text and is_store(other)
    code, text = _export("--db", str(db), "--format", "csv", "--out", str(tmp_path / "g.csv"))
    assert code == 0, text  # (a plain file is written as before)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "c.db",
        "g.csv",
        "hard.db",
        "other.db",
        "soft.json",
    ]


class _FullDisk:
    """A text file on a disk that fills after ``room`` characters."""

    def __init__(self, fh: IO[str], room: int) -> None:
        self._fh, self._room = fh, room

    def write(self, text: str) -> int:
        if len(text) > self._room:
            self._fh.write(text[: self._room])
            self._fh.flush()
            self._room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(text)
        return self._fh.write(text)

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


def _fill_the_disk_midway(monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    """Make the next export in ``fmt`` write part of its file, then find the disk full."""

    def small_disk_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fh = open(file, mode, *args, **kwargs)  # noqa: SIM115 (closed by the caller)
        return _FullDisk(fh, 200) if "w" in mode else fh

    monkeypatch.setattr(export_mod, "open", small_disk_open, raising=False)


@pytest.mark.parametrize("fmt", export_mod.FORMATS)
def test_a_full_disk_keeps_the_previous_export_whole(
    tmp_path: Path, colony: Colony, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = GraphTable.from_colony(colony)
    out = export_graph(table, fmt, tmp_path / f"g.{fmt}")
    out.chmod(0o640)
    before = out.read_bytes()
    assert len(before) > 1000
    _fill_the_disk_midway(monkeypatch, fmt)
    with pytest.raises(PhagoError, match=r"cannot write .*g\." + fmt + ".*No space left"):
        export_graph(table, fmt, out)
    monkeypatch.undo()
    assert out.read_bytes() == before  # the previous file, whole
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left
    # a new file: nothing at all is left
    _fill_the_disk_midway(monkeypatch, fmt)
    with pytest.raises(PhagoError, match="No space left"):
        export_graph(table, fmt, tmp_path / f"new.{fmt}")
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    # the disk has room again: the file is replaced whole, its permissions kept
    export_graph(table, fmt, out)
    assert out.read_bytes() == before and stat.S_IMODE(out.stat().st_mode) == 0o640


def test_an_export_through_a_link_replaces_the_file_it_points_to(
    tmp_path: Path, colony: Colony
) -> None:
    table = GraphTable.from_colony(colony)
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    export_graph(table, "json", link)
    assert link.is_symlink() and json.loads(real.read_text())["stats"]["edges"] > 0
