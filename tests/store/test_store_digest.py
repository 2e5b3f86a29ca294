"""The rows' checksum: column by column (schema version 2), row by row for version 1 stores.

A store is checksummed from the colony's arrays when saved and from what SQLite gives back
when loaded; the two must agree for every value SQLite can hold, and differ for damage.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phago import Colony, Position
from phago._store_digest import ColumnDigest, RowDigest, columns_of
from phago.errors import StoreError
from phago.store import SCHEMA_VERSION, load, read_state, save
from sample_colony import build_sample_colony

INT64 = st.integers(-(2**63), 2**63 - 1)
FLOAT = st.floats(allow_nan=False)  # (SQLite keeps NaN as NULL)
SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
TEXT = st.text(st.characters(exclude_categories=SURROGATES), max_size=12)


def _sqlite_round_trip(rows: list[tuple[Any, ...]], types: tuple[str, ...]) -> list[Any]:
    con = sqlite3.connect(":memory:")
    cols = ", ".join(f"c{i} {t}" for i, t in enumerate(types))
    con.execute(f"CREATE TABLE t ({cols})")
    con.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(types))})", rows)
    return con.execute("SELECT * FROM t ORDER BY rowid").fetchall()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(INT64, TEXT, FLOAT, st.booleans()), max_size=40),
)
def test_arrays_in_memory_and_rows_read_back_have_one_digest(
    rows: list[tuple[int, str, float, bool]],
) -> None:
    """What a save hashes (NumPy columns, -0.0 made 0.0) equals what a load hashes (rows as
    SQLite returns them)."""
    n = len(rows)
    ints = np.array([r[0] for r in rows], dtype=np.int64)
    texts = [r[1] for r in rows]
    floats = np.array([r[2] for r in rows], dtype=np.float64) + 0.0
    flags = np.array([r[3] for r in rows], dtype=np.bool_)
    saved = ColumnDigest()
    saved.table("t", [np.arange(n, dtype=np.int64), ints, texts, floats, flags], n)
    back = _sqlite_round_trip(
        [(i, *r) for i, r in enumerate(rows)], ("INTEGER", "INTEGER", "TEXT", "REAL", "INTEGER")
    )
    loaded = ColumnDigest()
    loaded.rows("t", back, width=5)
    assert loaded.hexdigest() == saved.hexdigest()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(INT64, TEXT, FLOAT), min_size=1, max_size=20),
    st.data(),
)
def test_any_changed_value_or_row_changes_the_digest(
    rows: list[tuple[int, str, float]], data: st.DataObject
) -> None:
    def digest(table: list[tuple[Any, ...]]) -> str:
        d = ColumnDigest()
        d.rows("t", table, width=3)
        return d.hexdigest()

    before = digest(rows)
    i = data.draw(st.integers(0, len(rows) - 1))
    j = data.draw(st.integers(0, 2))
    new = data.draw([INT64, TEXT, FLOAT][j].filter(lambda v: v != rows[i][j]))
    changed = [list(r) for r in rows]
    changed[i][j] = new
    assert digest([tuple(r) for r in changed]) != before
    assert digest(rows[:-1]) != before  # a row lost
    # the same text split differently between two values is another table
    a, b = data.draw(TEXT), data.draw(TEXT)
    if a and b:
        assert digest([(0, a + b, 0.0), (1, "", 0.0)]) != digest([(0, a, 0.0), (1, b, 0.0)])


def test_damage_that_changes_a_values_type_changes_the_digest() -> None:
    good = [(0, "a", 1.0), (1, "b", 2.0)]
    for damaged in ([(0, "a", "1.0"), (1, "b", 2.0)], [(0, "a", 1), (1, "b", 2.0)]):
        d1, d2 = ColumnDigest(), ColumnDigest()
        d1.rows("t", good, 3)
        d2.rows("t", damaged, 3)
        assert d1.hexdigest() != d2.hexdigest()
    with pytest.raises(TypeError):
        ColumnDigest().rows("t", [(0, b"bytes", 1.0)], 3)
    with pytest.raises(ValueError, match="not 3"):
        columns_of([(0, "a")], 3)


def test_a_document_at_minus_zero_loads(tmp_path: Path) -> None:
    """SQLite gives -0.0 back as 0.0; such a store was refused as damaged until schema 2."""
    c = Colony(seed=1)
    c.ingest_document("t", "cell membrane protein", Position(-0.0, 2.0))
    c.ingest_document("u", "ion channel gate", Position(3.0, -0.0))
    twin = load(save(c, tmp_path / "z.db"))
    assert twin.stats() == c.stats()
    assert [d.position for d in twin.substrate.documents()] == [
        Position(0.0, 2.0),
        Position(3.0, 0.0),
    ]


def _as_version_1(path: Path) -> None:
    """Rewrite a store as schema version 1 wrote it: the rows checksummed row by row."""
    con = sqlite3.connect(path)
    d = RowDigest()
    for table, cols in (
        ("documents", "seq, doc_id, title, content, x, y, digested"),
        ("agents", "seq, agent_type, class_path, state"),
        ("sources", "seq, path, content_hash, doc_id, part, parts"),
        ("history", "seq, tick, nodes, edges, documents, digested"),
    ):
        for row in con.execute(f"SELECT {cols} FROM {table} ORDER BY seq"):
            d.add(*row)
    rows = json.dumps({"rows_digest": d.hexdigest()}, separators=(",", ":")).encode()
    con.execute(
        "UPDATE blobs SET data = ?, sha256 = ? WHERE name = 'rows'",
        (rows, hashlib.sha256(rows).hexdigest()),
    )
    con.execute("UPDATE phago_schema SET version = 1")
    con.commit()
    con.close()


def test_a_version_1_store_loads_and_its_damage_is_found(tmp_path: Path) -> None:
    c = build_sample_colony(digesters=2)
    c.run(5)
    path = save(c, tmp_path / "v1.db")
    _as_version_1(path)
    state, _ = read_state(path)
    assert state.substrate.doc_titles == [d.title for d in c.substrate.documents()]
    twin = load(path)
    assert twin.stats() == c.stats()
    assert SCHEMA_VERSION == 2
    # saved again, it is a version 2 store
    again = save(twin, tmp_path / "v2.db")
    with sqlite3.connect(again) as con:
        assert con.execute("SELECT version FROM phago_schema").fetchone() == (2,)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE documents SET title = title || 'x' WHERE seq = 0")
    with pytest.raises(StoreError, match="checksum mismatch in documents"):
        load(path)


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE documents SET x = 'left' WHERE seq = 1",
        "UPDATE documents SET digested = 2 WHERE seq = 0",
        "DELETE FROM documents WHERE seq = 2",
        "UPDATE agents SET state = state || ' ' WHERE seq = 0",
        "UPDATE history SET nodes = nodes + 1 WHERE seq = 0",
    ],
)
def test_damaged_rows_are_refused(tmp_path: Path, damage: str) -> None:
    c = build_sample_colony(digesters=2)
    c.run(5)
    path = save(c, tmp_path / "c.db")
    with sqlite3.connect(path) as con:
        con.execute(damage)
    with pytest.raises(StoreError, match="damaged"):
        load(path)


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE sources SET doc_id = 'x' WHERE seq = 0",
        "DROP TABLE sources",
        "UPDATE history SET nodes = 'many'",
        "DROP TABLE history",
    ],
)
def test_a_damaged_store_is_not_overwritten_when_a_catalog_is_given(
    tmp_path: Path, damage: str
) -> None:
    """Saving with a catalog does not read the old catalog; its tables are still checked."""
    from phago.store import Catalog, SourceRecord

    c = build_sample_colony(digesters=1)
    docs = c.substrate.documents()
    cat = Catalog([SourceRecord("/notes/a.txt", "h", int(docs[0].id))])
    path = save(c, tmp_path / "c.db", catalog=cat)
    with sqlite3.connect(path) as con:
        con.execute(damage)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="refusing to overwrite"):
        save(c, path, catalog=cat)
    assert path.read_bytes() == before
