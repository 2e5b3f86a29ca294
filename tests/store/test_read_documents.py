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
from hypothesis import strategies as st
from store_helpers import make_colony

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
@given(
    st.lists(st.tuples(st.integers(min_value=100), st.integers(0, 255)), min_size=1, max_size=24)
)
def test_prop_a_store_damaged_anywhere_loads_or_says_it_is_damaged(
    tmp_path: Path, changes: list[tuple[int, int]]
) -> None:
    # bytes changed anywhere past the header: every reader either reads the store or raises
    # StoreError (never another exception: a user sees a clear error, not a traceback)
    from phago.store import load, read_summary

    data = bytearray(_small_store_bytes(tmp_path))
    for at, value in changes:
        data[at % len(data)] = value
    path = tmp_path / "damaged.db"
    path.write_bytes(bytes(data))
    for read in (load_with_catalog, load, read_documents, read_summary):
        with contextlib.suppress(StoreError):
            read(path)
