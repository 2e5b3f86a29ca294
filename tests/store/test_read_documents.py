"""``phago.store.read_documents``: a store's documents and catalog without its colony's other
parts, checked as loading checks them (what ``phago list`` and ``phago show`` read)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from store_helpers import BYTE_CHANGES, changed_bytes, make_colony

from phago.cli import main
from phago.distributed import DistributedColony
from phago.errors import StoreError
from phago.store import (
    Catalog,
    SourceRecord,
    load_distributed,
    load_with_catalog,
    read_documents,
    save,
    save_distributed,
)
from phago.types import Document


def _expected(docs: list[Document]) -> tuple[list[int], list[str], list[str], list[bool]]:
    return (
        [int(d.id) for d in docs],
        [d.title for d in docs],
        [d.content for d in docs],
        [bool(d.digested) for d in docs],
    )


def test_a_store_files_documents_and_catalog_are_those_loading_reads(tmp_path: Path) -> None:
    colony = make_colony(9, digesters=2)
    colony.run(15)  # some digested, some not
    catalog = Catalog([SourceRecord("/n/a.md", "h", int(colony.documents()[0].id))])
    catalog.note_added([int(colony.documents()[1].id)], ["lab"])
    path = save(colony, tmp_path / "c.db", catalog=catalog)
    got = read_documents(path)
    loaded, stored = load_with_catalog(path)
    assert (got.ids, got.titles, got.contents, got.digested) == _expected(loaded.documents())
    assert got.catalog.sources == stored.sources and got.catalog.info == stored.info
    assert True in got.digested and False in got.digested


def test_a_sharded_stores_documents_come_shard_by_shard(tmp_path: Path) -> None:
    with DistributedColony(3, seed=2) as dc:
        dc.ingest_documents([(f"d{i}", f"cell gene protein {i}") for i in range(10)])
        save_distributed(dc, tmp_path / "d")
    got = read_documents(tmp_path / "d")
    with load_distributed(tmp_path / "d") as dc:
        by_shard = [d for h in dc.runner.handles for d in h.target.colony.documents()]
    assert (got.ids, got.titles, got.contents, got.digested) == _expected(by_shard)
    shard = next((tmp_path / "d").glob("gen-*/shard-000.db"))
    with pytest.raises(StoreError, match="one shard of a distributed store"):
        read_documents(shard)


def test_rows_changed_behind_the_stores_back_are_refused(tmp_path: Path) -> None:
    path = save(make_colony(4), tmp_path / "c.db")
    with sqlite3.connect(path) as con:
        con.execute("UPDATE documents SET title = 'edited' WHERE seq = 0")
    con.close()
    with pytest.raises(StoreError, match="checksum mismatch in documents"):
        read_documents(path)
    listed = CliRunner().invoke(main, ["list", "--db", str(path)])
    assert listed.exit_code == 1 and "checksum mismatch" in listed.output


def test_a_damaged_information_part_leaves_the_documents_readable(tmp_path: Path) -> None:
    colony = make_colony(3)
    catalog = Catalog()
    catalog.note_added([int(d.id) for d in colony.documents()], ["lab"])
    path = save(colony, tmp_path / "c.db", catalog=catalog)
    with sqlite3.connect(path) as con:  # bytes changed under the part's checksum
        (data,) = con.execute("SELECT data FROM blobs WHERE name = 'document_info'").fetchone()
        con.execute(
            "UPDATE blobs SET data = ? WHERE name = 'document_info'", (b"\x00" + bytes(data),)
        )
    con.close()
    with pytest.raises(StoreError, match="checksum mismatch in 'document_info'"):
        read_documents(path)
    got = read_documents(path, strict=False)
    assert got.ids == [int(d.id) for d in colony.documents()] and got.catalog.info == {}
    assert got.damaged is not None and "checksum mismatch in 'document_info'" in got.damaged
    with sqlite3.connect(path) as con:  # not even bytes: text where the part was
        con.execute("UPDATE blobs SET data = 'x' WHERE name = 'document_info'")
    con.close()
    assert read_documents(path, strict=False).damaged is not None
    listed = CliRunner().invoke(main, ["list", "--db", str(path), "--json"])
    assert listed.exit_code == 0, listed.output
    assert [d["tags"] for d in json.loads(listed.stdout)] == [[], [], []]
    assert "shown without their tags and times added" in listed.stderr
    one = str(colony.documents()[0].id)
    shown = CliRunner().invoke(main, ["show", one, "--db", str(path), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)[0]["content"] == colony.documents()[0].content
    # what needs the information refuses, as before, saying which part is damaged
    for args in (["tags"], ["tag", one, "--add", "x"], ["ingest", "--text", "a new note"]):
        r = CliRunner().invoke(main, [*args, "--db", str(path)])
        assert r.exit_code == 1 and "document_info" in r.output, (args, r.output)


def test_a_store_whose_own_table_names_are_damaged_is_a_damaged_store(tmp_path: Path) -> None:
    # a byte that is not UTF-8 in SQLite's own record of a table's name made SQLite's
    # error message undecodable: a raw UnicodeDecodeError, where a StoreError belongs
    path = save(make_colony(2), tmp_path / "c.db")
    data = bytearray(path.read_bytes())
    at = data.find(b"tablehistory") + len("table")
    assert at > len("table")
    data[at] = 0x91
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged"):
        read_documents(path)
    for args in (["list"], ["stats"], ["query", "cells"]):
        r = CliRunner().invoke(main, [*args, "--db", str(path)])
        assert r.exit_code == 1 and "damaged" in r.output, (args, r.output)


_STORE_BYTES: dict[str, bytes] = {}


def _small_store_bytes(tmp: Path) -> bytes:
    if "c" not in _STORE_BYTES:
        colony = make_colony(3, digesters=1)
        colony.run(10)
        catalog = Catalog([SourceRecord("/n/a.md", "h", int(colony.documents()[0].id))])
        catalog.note_added([int(colony.documents()[1].id)], ["lab"])
        _STORE_BYTES["c"] = save(colony, tmp / "small.db", catalog=catalog).read_bytes()
    return _STORE_BYTES["c"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(BYTE_CHANGES)
def test_prop_a_store_damaged_anywhere_loads_or_says_it_is_damaged(
    tmp_path: Path, changes: list[tuple[int, int]]
) -> None:
    # bytes changed anywhere past the header: every reader either reads the store or raises
    # StoreError (never another exception: a user sees a clear error, not a traceback)
    from phago.store import load, read_summary

    path = tmp_path / "damaged.db"
    path.write_bytes(changed_bytes(_small_store_bytes(tmp_path), changes))
    for read in (load_with_catalog, load, read_documents, read_summary):
        with contextlib.suppress(StoreError):
            read(path)


def _damage_information(path: Path, change: bytes | None = None) -> None:
    """Change the information part's bytes (None: prefix a NUL) under its checksum."""
    with sqlite3.connect(path) as con:
        (data,) = con.execute("SELECT data FROM blobs WHERE name = 'document_info'").fetchone()
        new = b"\x00" + bytes(data) if change is None else change
        con.execute("UPDATE blobs SET data = ? WHERE name = 'document_info'", (new,))
    con.close()


def _tagged_store(tmp_path: Path) -> tuple[Path, list[str]]:
    colony = make_colony(3)
    catalog = Catalog()
    ids = [int(d.id) for d in colony.documents()]
    catalog.note_added(ids[:2], ["lab"])
    return save(colony, tmp_path / "c.db", catalog=catalog), [str(d) for d in ids]


def test_repair_sets_the_damaged_information_aside_and_the_store_works_again(
    tmp_path: Path,
) -> None:
    path, ids = _tagged_store(tmp_path)
    sound = CliRunner().invoke(main, ["repair", "--db", str(path), "--json"])
    assert json.loads(sound.stdout)["damaged"] is None and not list(tmp_path.glob("*.damaged"))
    _damage_information(path)  # unreadable: removed
    with sqlite3.connect(path) as con:
        (was,) = con.execute("SELECT data FROM blobs WHERE name = 'document_info'").fetchone()
    con.close()
    assert CliRunner().invoke(main, ["tags", "--db", str(path)]).exit_code == 1
    fixed = CliRunner().invoke(main, ["repair", "--db", str(path), "--json"])
    assert fixed.exit_code == 0, fixed.output
    said = json.loads(fixed.stdout)
    assert "checksum mismatch in 'document_info'" in said["damaged"] and not said["salvaged"]
    assert Path(said["set_aside"]).read_bytes() == bytes(was)  # nothing lost
    for args in (["tags"], ["tag", ids[0], "--add", "new"], ["ingest", "--text", "A note."]):
        r = CliRunner().invoke(main, [*args, "--db", str(path)])
        assert r.exit_code == 0, (args, r.output)
    listed = json.loads(CliRunner().invoke(main, ["list", "--db", str(path), "--json"]).stdout)
    assert [d["tags"] for d in listed][:2] == [["new"], []]


def test_repair_keeps_information_that_still_reads(tmp_path: Path) -> None:
    path, _ = _tagged_store(tmp_path)
    with sqlite3.connect(path) as con:  # the checksum damaged, the bytes as they were
        con.execute("UPDATE blobs SET sha256 = 'x' WHERE name = 'document_info'")
    con.close()
    fixed = CliRunner().invoke(main, ["repair", "--db", str(path)])
    assert fixed.exit_code == 0 and "written back as it still reads" in fixed.output
    tags = json.loads(CliRunner().invoke(main, ["tags", "--db", str(path), "--json"]).stdout)
    assert tags == [{"tag": "lab", "documents": 2}]


def test_repair_refuses_a_store_whose_colony_is_damaged_and_a_sharded_one(
    tmp_path: Path,
) -> None:
    path, _ = _tagged_store(tmp_path)
    _damage_information(path)
    with sqlite3.connect(path) as con:  # the rows too
        con.execute("UPDATE documents SET title = 'edited' WHERE seq = 0")
    con.close()
    before = path.read_bytes()
    r = CliRunner().invoke(main, ["repair", "--db", str(path)])
    assert r.exit_code == 1 and "checksum mismatch in documents" in r.output
    assert path.read_bytes() == before and not list(tmp_path.glob("*.damaged"))
    with DistributedColony(2, seed=1) as dc:
        dc.ingest_documents([("a", "cell gene"), ("b", "gene protein")])
        save_distributed(dc, tmp_path / "d")
    r = CliRunner().invoke(main, ["repair", "--db", str(tmp_path / "d")])
    assert r.exit_code == 0 and "nothing to repair" in r.output  # (sound: checked whole)


def test_a_damaged_summary_is_made_again_from_the_colony(tmp_path: Path) -> None:
    from phago.store import read_summary

    path, _ = _tagged_store(tmp_path)
    whole = read_summary(path)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE blobs SET sha256 = 'x' WHERE name = 'summary'")
    con.close()
    again = read_summary(path)
    assert (again.stats, again.top_concepts, again.history) == (
        whole.stats,
        whole.top_concepts,
        whole.history,
    )
    r = CliRunner().invoke(main, ["stats", "--db", str(path), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["graph_nodes"] == whole.stats["graph_nodes"]
