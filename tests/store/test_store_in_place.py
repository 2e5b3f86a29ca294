"""A colony saved back to the store it was loaded from: the file is changed in place (one
SQLite transaction, only the rows and parts that differ), and it then holds exactly what a
whole new save of the same colony and catalog writes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_helpers import assert_same_state, make_colony

import phago.store as store_mod
from phago import Colony, Position
from phago.errors import StoreChanged, StoreError
from phago.state import capture
from phago.store import (
    Catalog,
    DocumentInfo,
    SourceRecord,
    load,
    load_with_catalog,
    read_state,
    save,
)

_TABLES = {
    "documents": "seq, doc_id, title, content, x, y, digested",
    "agents": "seq, agent_type, class_path, state",
    "sources": "seq, path, content_hash, doc_id, part, parts",
    "history": "seq, tick, nodes, edges, documents, digested",
}


def _contents(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the store file's tables and every part's name, encoding and checksum."""
    con = sqlite3.connect(path)
    try:
        out = {
            table: con.execute(f"SELECT {cols} FROM {table} ORDER BY seq").fetchall()
            for table, cols in _TABLES.items()
        }
        out["blobs"] = con.execute(
            "SELECT name, encoding, sha256 FROM blobs ORDER BY name"
        ).fetchall()
        out["schema"] = con.execute("SELECT version, kind FROM phago_schema").fetchall()
        return out
    finally:
        con.close()


def _assert_as_a_new_save(path: Path, colony: Colony, catalog: Catalog, tmp: Path) -> None:
    """The store file ``path`` holds what saving ``colony`` with ``catalog`` to a new file
    writes: the same rows, the same parts (by checksum), and it loads to the same state."""
    fresh = tmp / f"fresh-{time.monotonic_ns()}.db"
    save(colony, fresh, catalog=catalog.copy())
    assert _contents(path) == _contents(fresh)
    a, cat_a = read_state(path)
    b, cat_b = read_state(fresh)
    assert_same_state(a, b)
    assert cat_a == cat_b
    fresh.unlink()


def _stored(tmp_path: Path, docs: int = 8) -> Path:
    colony = make_colony(docs, digesters=2)
    colony.run_until_digested(200)
    catalog = Catalog()
    for d in colony.documents():
        catalog.sources.append(SourceRecord(f"/notes/{d.title}.md", f"h{d.id}", int(d.id)))
    return save(colony, tmp_path / "c.db", catalog=catalog)


def _add(colony: Colony, catalog: Catalog, title: str, text: str) -> int:
    doc = colony.ingest_document(title, text, Position(2.0, 3.0))
    catalog.sources.append(SourceRecord(f"/notes/{title}.md", f"h-{title}", int(doc)))
    return int(doc)


def _ingest(colony: Colony, catalog: Catalog) -> None:
    _add(colony, catalog, "kelp", "kelp forest holdfast blade canopy urchin otter")
    colony.run_until_digested(200)


def _nothing(colony: Colony, catalog: Catalog) -> None:
    del colony, catalog


def _forget(colony: Colony, catalog: Catalog) -> None:
    ids = [d.id for d in colony.documents()][2:4]  # rows in the middle of the table
    colony.forget_documents(ids)
    catalog.keep_documents(int(d.id) for d in colony.documents())


def _sources(colony: Colony, catalog: Catalog) -> None:
    first = catalog.sources[1]
    catalog.sources[1] = SourceRecord(first.path, "another-hash", first.doc_id)


def _tags(colony: Colony, catalog: Catalog) -> None:
    d = int(next(iter(colony.documents())).id)
    catalog.info[d] = DocumentInfo("2026-12-06T10:00:00Z", ("lab",))


def _agents(colony: Colony, catalog: Catalog) -> None:
    colony.spawn_digesters(3)
    colony.run(4)


@pytest.mark.parametrize("change", [_ingest, _nothing, _forget, _sources, _tags, _agents])
def test_a_save_in_place_writes_what_a_new_save_would(
    tmp_path: Path, change: Callable[[Colony, Catalog], None]
) -> None:
    path = _stored(tmp_path)
    inode = path.stat().st_ino
    colony, catalog = load_with_catalog(path)
    change(colony, catalog)
    save(colony, path, catalog=catalog)
    assert path.stat().st_ino == inode  # changed in place, not replaced
    assert not path.with_name("c.db-journal").exists()
    assert not path.with_name("c.db.tmp").exists()
    _assert_as_a_new_save(path, colony, catalog, tmp_path)
    # the colony remembers the version (and rows) it wrote: it saves in place again
    _add(colony, catalog, "tide", "tide pool anemone barnacle limpet")
    colony.run_until_digested(200)
    save(colony, path, catalog=catalog)
    assert path.stat().st_ino == inode
    _assert_as_a_new_save(path, colony, catalog, tmp_path)


_OPS = st.lists(
    st.sampled_from(["ingest", "tick", "forget", "tag", "source", "save"]), min_size=1, max_size=7
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=_OPS)
def test_any_sequence_of_saves_in_place_matches_a_new_save(
    tmp_path_factory: pytest.TempPathFactory, ops: list[str]
) -> None:
    tmp = tmp_path_factory.mktemp("ops")
    path = _stored(tmp, docs=6)
    inode = path.stat().st_ino
    colony, catalog = load_with_catalog(path)
    for k, op in enumerate(ops):
        if op == "ingest":
            _add(colony, catalog, f"n{k}", f"note {k} about coral reef spawning number {k}")
        elif op == "tick":
            colony.spawn_digesters(1)
            colony.run(3)
        elif op == "forget" and colony.stats().documents_total > 1:
            colony.forget_documents([next(iter(colony.documents())).id])
            catalog.keep_documents(int(d.id) for d in colony.documents())
        elif op == "tag" and catalog.sources:
            catalog.info[catalog.sources[-1].doc_id] = DocumentInfo("", (f"t{k}",))
        elif op == "source" and catalog.sources:
            catalog.sources.pop()
        save(colony, path, catalog=catalog)
    assert path.stat().st_ino == inode
    _assert_as_a_new_save(path, colony, catalog, tmp)


def test_a_hard_linked_store_is_replaced_not_changed(tmp_path: Path) -> None:
    path = _stored(tmp_path)
    other = tmp_path / "backup.db"
    os.link(path, other)
    before = other.read_bytes()
    colony, catalog = load_with_catalog(path)
    _ingest(colony, catalog)
    save(colony, path, catalog=catalog)
    assert path.stat().st_ino != other.stat().st_ino  # a new file under the name
    assert other.read_bytes() == before  # the other name keeps the version it had
    assert load(path).stats().documents_total == 9


def test_a_store_edited_by_hand_since_the_load_is_written_whole(tmp_path: Path) -> None:
    # rows changed with SQLite behind phago's back: the colony's save must not keep them
    # beside its own parts (the rows' checksum would no longer match: the store unreadable)
    path = _stored(tmp_path)
    colony, catalog = load_with_catalog(path)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE documents SET title = 'edited' WHERE seq = 0")
    con.close()
    inode = path.stat().st_ino
    _ingest(colony, catalog)
    save(colony, path, catalog=catalog)
    assert path.stat().st_ino != inode  # written whole: the colony's version, as before
    _assert_as_a_new_save(path, colony, catalog, tmp_path)
    again, catalog = load_with_catalog(path)
    assert "edited" not in {d.title for d in again.substrate.documents()}
    _add(again, catalog, "reef", "coral reef polyp algae lagoon")  # and the file
    inode = path.stat().st_ino  # written whole is changed in place again
    save(again, path, catalog=catalog)
    assert path.stat().st_ino == inode
    assert load(path).stats().documents_total == 10


def test_a_shard_file_edited_by_hand_is_written_anew(tmp_path: Path) -> None:
    from phago.distributed import DistributedColony

    d = tmp_path / "dist"
    with DistributedColony(2, seed=3) as dc:
        dc.ingest_documents([(f"d{i}", f"cell gene protein membrane {i}") for i in range(12)])
        dc.spawn_digesters(1)
        dc.run(20)
        store_mod.save_distributed(dc, d)
    with store_mod.load_distributed(d) as dc:
        shard = next((d / (d / "CURRENT").read_text().strip()).glob("shard-000.db"))
        with sqlite3.connect(shard) as con:
            con.execute("UPDATE documents SET title = 'edited' WHERE seq = 0")
        con.close()
        dc.ingest_documents([("late", "ribosome protein synthesis")])
        store_mod.save_distributed(dc, d)
    with store_mod.load_distributed(d) as dc:
        assert dc.stats().documents_total == 13
        titles = {
            doc.title for h in dc.runner.handles for doc in h.target.colony.substrate.documents()
        }
        assert "edited" not in titles


def test_a_colony_not_loaded_from_the_store_replaces_it(tmp_path: Path) -> None:
    path = _stored(tmp_path)
    inode = path.stat().st_ino
    save(make_colony(3, digesters=1), path)
    assert path.stat().st_ino != inode
    assert load(path).stats().documents_total == 3


def test_a_stale_colony_is_refused_in_place_too(tmp_path: Path) -> None:
    path = _stored(tmp_path)
    first, cat1 = load_with_catalog(path)
    second, cat2 = load_with_catalog(path)
    _ingest(first, cat1)
    save(first, path, catalog=cat1)
    _ingest(second, cat2)
    with pytest.raises(StoreChanged):
        save(second, path, catalog=cat2)
    assert load(path).stats().documents_total == 9


def test_a_forgotten_text_is_gone_from_the_bytes_after_a_save_in_place(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    colony = Colony(seed=3)
    for i, (title, text) in enumerate(
        [
            ("membranes", "lipid bilayer membrane protein channel transport ion gradient"),
            ("glaciers", "glacier ice valley erosion moraine meltwater sediment"),
            ("ribosomes", "ribosome protein translation messenger codon peptide"),
        ]
    ):
        colony.ingest_document(title, text, Position(3.0 * i, 1.0))
    colony.spawn_digesters(2)
    colony.run(30)
    save(colony, path)
    colony = load(path)
    inode = path.stat().st_ino
    assert b"moraine meltwater" in path.read_bytes()
    colony.forget_documents([d.id for d in colony.documents() if d.title == "glaciers"])
    save(colony, path)
    assert path.stat().st_ino == inode
    data = path.read_bytes()
    assert b"moraine meltwater" not in data and b"glaciers" not in data
    assert load(path).stats().documents_total == 2


def test_a_full_disk_in_place_keeps_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's real "database or disk is full" (the file may not grow: a page limit stands
    in for the disk): the transaction is rolled back, the file as it was."""
    path = _stored(tmp_path)
    before = path.read_bytes()
    good = capture(load(path))
    real = store_mod._connect_in_place

    def full(p: Path, private: bool = False) -> sqlite3.Connection:
        con = real(p, private)
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        con.execute(f"PRAGMA max_page_count = {pages}")
        return con

    monkeypatch.setattr(store_mod, "_connect_in_place", full)
    colony, catalog = load_with_catalog(path)
    for k in range(30):
        _add(colony, catalog, f"big{k}", " ".join(f"word{k}x{j}" for j in range(300)))
    with pytest.raises(StoreError, match=r"cannot save colony to .*c\.db: the disk is full$"):
        save(colony, path, catalog=catalog)
    assert path.read_bytes() == before
    assert not path.with_name("c.db-journal").exists()
    assert_same_state(capture(load(path)), good)
    monkeypatch.setattr(store_mod, "_connect_in_place", real)
    save(colony, path, catalog=catalog)  # with room again, the same colony saves
    assert load(path).stats().documents_total == 38


def test_a_save_in_place_waits_for_a_reader_which_sees_one_version(tmp_path: Path) -> None:
    path = _stored(tmp_path)
    colony, catalog = load_with_catalog(path)
    _ingest(colony, catalog)
    con = store_mod._open(path)[0]  # a reader in the middle of reading the store
    try:
        assert con.execute("SELECT count(*) FROM documents").fetchone() == (8,)
        errors: list[BaseException] = []

        def saving() -> None:
            try:
                save(colony, path, catalog=catalog)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        writer = threading.Thread(target=saving)
        writer.start()
        time.sleep(0.5)
        assert writer.is_alive()  # waiting for the reader
        assert con.execute("SELECT count(*) FROM documents").fetchone() == (8,)
    finally:
        con.close()
    writer.join(timeout=60)
    assert not writer.is_alive() and not errors
    assert load(path).stats().documents_total == 9


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import phago.store as store
    from phago import Position

    path = sys.argv[1]
    colony, catalog = store.load_with_catalog(path)
    for k in range(40):
        colony.ingest_document(f"n{k}", " ".join(f"w{k}x{j}" for j in range(200)),
                               Position(1.0, 1.0))
    real = store._connect_in_place

    def small_cache(p, private=False):
        con = real(p, private)
        con.execute("PRAGMA cache_size = 2")  # pages reach the file before the commit
        return con

    def die(*_a, **_k):
        os.kill(os.getpid(), signal.SIGKILL)

    store._connect_in_place = small_cache
    store._write_schema_row = die  # the last write before the commit
    store.save(colony, path, catalog=catalog)
    """
)


def _cut_save(path: Path) -> bytes:
    """Kill a child in the middle of a save in place into ``path``; returns the bytes the
    store had before."""
    before = path.read_bytes()
    r = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr.decode()
    assert path.with_name("c.db-journal").exists()  # the cut save's journal...
    assert path.read_bytes() != before  # ...and the pages it had written into the store
    return before


def test_a_save_in_place_killed_is_rolled_back_by_the_next_reader(tmp_path: Path) -> None:
    path = _stored(tmp_path)
    good = capture(load(path))
    before = _cut_save(path)
    assert_same_state(capture(load(path)), good)  # a read-only open rolls it back first
    assert not path.with_name("c.db-journal").exists()
    assert path.read_bytes() == before
    colony, catalog = load_with_catalog(path)
    _ingest(colony, catalog)
    save(colony, path, catalog=catalog)
    assert load(path).stats().documents_total == 9


def test_a_cut_save_that_cannot_be_rolled_back_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _stored(tmp_path)
    _cut_save(path)
    real = sqlite3.connect

    def no_writing(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        if not kwargs.get("uri"):  # (the rollback's connection for writing)
            err = sqlite3.OperationalError("attempt to write a readonly database")
            err.sqlite_errorname = "SQLITE_READONLY"
            raise err
        connection: sqlite3.Connection = real(database, *args, **kwargs)
        return connection

    monkeypatch.setattr(sqlite3, "connect", no_writing)
    with pytest.raises(StoreError, match=r"c\.db-journal\) must be rolled back") as info:
        load(path)
    assert "cut short" in str(info.value) and "read-only" in str(info.value)
    monkeypatch.setattr(sqlite3, "connect", real)
    assert load(path).stats().documents_total == 8


@pytest.mark.parametrize(("which", "in_place"), [(0, False), (-1, True)])
def test_a_save_that_would_rewrite_most_rows_writes_a_new_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: int, in_place: bool
) -> None:
    """Rows deleted and written again in place cost more than a new file: forgetting the
    first document rewrites every row after it (a new file), the last only itself."""
    monkeypatch.setattr(store_mod, "_IN_PLACE_ROWS", 0)
    path = _stored(tmp_path, docs=16)
    inode = path.stat().st_ino
    colony, catalog = load_with_catalog(path)
    colony.forget_documents([list(colony.documents())[which].id])
    catalog.keep_documents(int(d.id) for d in colony.documents())
    save(colony, path, catalog=catalog)
    assert (path.stat().st_ino == inode) is in_place
    _assert_as_a_new_save(path, colony, catalog, tmp_path)
