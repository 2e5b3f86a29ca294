"""Export: a name ending ``.gz`` gzips every format, holding exactly the plain export's bytes."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner
from store_helpers import make_colony

import phago.export as export_mod
from phago import Colony
from phago.cli import main
from phago.errors import PhagoError, StoreError
from phago.export import GraphTable, export_graph
from phago.store import is_store, save

GZIP_MAGIC = b"\x1f\x8b"
FNAME = 0x08  # the gzip header flag: a file name follows

# (format, plain file name): every format, and triples both as JSON and as JSON Lines
CASES = [
    ("graphml", "g.graphml"),
    ("gexf", "g.gexf"),
    ("json", "g.json"),
    ("csv", "g.csv"),
    ("triples", "t.json"),
    ("triples", "t.jsonl"),
]
IDS = [name for _, name in CASES]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    c: Colony = make_colony(6, digesters=2)
    c.run_until_digested(150)
    c.run(20)
    return save(c, tmp_path_factory.mktemp("store") / "c.db")


@pytest.fixture(scope="module")
def table(db: Path) -> GraphTable:
    return GraphTable.from_store(db)


def _cli(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["export", *args], catch_exceptions=False)
    return r.exit_code, r.output


def _assert_gzip_of(gz: Path, plain: Path) -> bytes:
    """``gz`` is a gzip file whose content is ``plain``'s bytes; returns them."""
    raw = gz.read_bytes()
    assert raw[:2] == GZIP_MAGIC, raw[:16]
    # no stored name (it would be the hidden temporary's, which gunzip -N restores) nor time
    assert raw[3] & FNAME == 0 and raw[4:8] == bytes(4), raw[:32]
    want = plain.read_bytes()
    assert len(want) > 100
    assert gzip.decompress(raw) == want
    return want


def test_every_format_is_covered() -> None:
    assert {fmt for fmt, _ in CASES} == set(export_mod.FORMATS)


@pytest.mark.parametrize(("fmt", "name"), CASES, ids=IDS)
def test_export_graph_gz_is_the_plain_export_gzipped(
    tmp_path: Path, table: GraphTable, fmt: str, name: str
) -> None:
    plain = export_graph(table, fmt, tmp_path / name)
    gz = export_graph(table, fmt, tmp_path / f"{name}.gz")
    assert gz == tmp_path / f"{name}.gz"
    _assert_gzip_of(gz, plain)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, f"{name}.gz"])


@pytest.mark.parametrize(("fmt", "name"), CASES, ids=IDS)
def test_phago_export_gz_is_the_plain_export_gzipped(
    tmp_path: Path, db: Path, fmt: str, name: str
) -> None:
    plain, gz = tmp_path / name, tmp_path / f"{name}.gz"
    for out in (plain, gz):
        code, text = _cli("--db", str(db), "--format", fmt, "--out", str(out))
        assert code == 0, text
    _assert_gzip_of(gz, plain)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, gz.name])


def test_phago_export_gz_json_flag_names_the_file(tmp_path: Path, db: Path) -> None:
    out = tmp_path / "e.json.gz"
    code, text = _cli("--db", str(db), "--format", "json", "--out", str(out), "--json")
    assert code == 0, text
    assert json.loads(text)["out"] == str(out)
    data = json.loads(gzip.decompress(out.read_bytes()))
    assert data["format"] == "phago-graph" and data["edges"]


def test_triples_jsonl_gz_is_gzipped_json_lines(tmp_path: Path, table: GraphTable) -> None:
    out = export_graph(table, "triples", tmp_path / "e.jsonl.gz")
    lines = gzip.decompress(out.read_bytes()).decode("utf-8").splitlines()
    assert len(lines) == table.edge_count
    rows = [json.loads(line) for line in lines]
    assert {r["predicate"] for r in rows} == {"related_to"}
    weights = [r["weight"] for r in rows]
    assert weights == sorted(weights, reverse=True)
    # and a .json.gz name is the JSON document with its statistics
    doc = json.loads(
        gzip.decompress(export_graph(table, "triples", tmp_path / "e.json.gz").read_bytes())
    )
    assert doc["stats"]["total"] == table.edge_count and doc["triples"] == rows


def test_csv_gz_is_one_gzipped_csv_file(tmp_path: Path, table: GraphTable) -> None:
    out = export_graph(table, "csv", tmp_path / "e.csv.gz")
    assert [p.name for p in tmp_path.iterdir()] == ["e.csv.gz"]
    text = gzip.decompress(out.read_bytes()).decode("utf-8")
    assert text.startswith("source,target,source_label,target_label,weight,")
    assert len(text.splitlines()) == table.edge_count + 1


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_networkx_reads_the_gz_file(tmp_path: Path, table: GraphTable, fmt: str) -> None:
    out = export_graph(table, fmt, tmp_path / f"g.{fmt}.gz")
    back = nx.read_graphml(out) if fmt == "graphml" else nx.read_gexf(out)
    assert (back.number_of_nodes(), back.number_of_edges()) == (
        table.node_count,
        table.edge_count,
    )


@pytest.mark.parametrize(
    ("fmt", "name"),
    [c for c in CASES if c[0] != "gexf"],  # (GEXF carries the day's date)
)
def test_the_gz_file_is_the_same_bytes_each_time(
    tmp_path: Path, table: GraphTable, fmt: str, name: str
) -> None:
    a = export_graph(table, fmt, tmp_path / f"a.{name}.gz").read_bytes()
    b = export_graph(table, fmt, tmp_path / f"b.{name}.gz").read_bytes()
    assert a[:2] == GZIP_MAGIC
    assert a == b  # no file name (the temporary's or the target's) nor time inside


@pytest.mark.parametrize("suffix", [".GZ", ".gzip"])
def test_other_gzip_names(tmp_path: Path, table: GraphTable, suffix: str) -> None:
    plain = export_graph(table, "json", tmp_path / "g.json")
    _assert_gzip_of(export_graph(table, "json", tmp_path / f"g.json{suffix}"), plain)


@pytest.mark.parametrize(("fmt", "name"), CASES, ids=IDS)
def test_bz2_names_too(tmp_path: Path, table: GraphTable, fmt: str, name: str) -> None:
    plain = export_graph(table, fmt, tmp_path / name)
    out = export_graph(table, fmt, tmp_path / f"{name}.bz2")
    assert bz2.decompress(out.read_bytes()) == plain.read_bytes()


@pytest.mark.parametrize("fmt", export_mod.FORMATS)
def test_a_failed_gz_export_keeps_the_previous_file_whole(
    tmp_path: Path, table: GraphTable, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = export_graph(table, fmt, tmp_path / f"g.{fmt}.gz")
    before = out.read_bytes()

    class Boom(gzip.GzipFile):
        def write(self, data: object) -> int:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(gzip, "GzipFile", Boom)
    with pytest.raises(PhagoError, match=r"cannot write .*No space left"):
        export_graph(table, fmt, out)
    monkeypatch.undo()
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left


@pytest.mark.parametrize("fmt", export_mod.FORMATS)
def test_a_gz_name_never_writes_over_a_store(tmp_path: Path, db: Path, fmt: str) -> None:
    store = tmp_path / "s.db.gz"
    store.write_bytes(db.read_bytes())  # a store, whatever its name says
    before = store.read_bytes()
    with pytest.raises(StoreError, match=r"refusing to write .*phago store"):
        export_graph(GraphTable.from_store(db), fmt, store)
    code, text = _cli("--db", str(db), "--format", fmt, "--out", str(store))
    assert code == 1 and "it is a phago store" in text, text
    assert store.read_bytes() == before and is_store(store)
    assert [p.name for p in tmp_path.iterdir()] == ["s.db.gz"]
    ok = export_graph(GraphTable.from_store(db), fmt, tmp_path / f"ok.{fmt}.gz")
    assert ok.read_bytes()[:2] == GZIP_MAGIC  # (any other .gz name is written, gzipped)


def test_the_name_given_decides_compression_not_a_links_target(
    tmp_path: Path, table: GraphTable
) -> None:
    export_graph(table, "csv", tmp_path / "plain.csv")
    plain = (tmp_path / "plain.csv").read_bytes()
    (tmp_path / "e.csv.gz").symlink_to(tmp_path / "real.data")  # a link named .gz
    export_graph(table, "csv", tmp_path / "e.csv.gz")
    assert gzip.decompress((tmp_path / "real.data").read_bytes()) == plain
    (tmp_path / "p.csv").symlink_to(tmp_path / "real2.csv.gz")  # a plain name, a .gz target
    export_graph(table, "csv", tmp_path / "p.csv")
    assert (tmp_path / "real2.csv.gz").read_bytes() == plain
