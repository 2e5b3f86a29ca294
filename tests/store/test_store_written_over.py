"""Saving over a store file of this phago's schema writes into a copy of it: the documents
it already holds stay (their digested flags updated), everything else is written anew, and
the result is the store a save into an empty file makes."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from phago import Colony, Position, store
from phago.store import forget_in_store, load, read_document_ids, save

TEXTS = [
    ("membranes", "lipid bilayer membrane protein channel transport ion gradient"),
    ("glaciers", "glacier ice valley erosion moraine meltwater sediment"),
    ("ribosomes", "ribosome protein translation messenger codon peptide"),
    ("volcanoes", "magma eruption lava ash crater basalt volcano"),
]


def _rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the store file, in order (the blobs by name, encoding and checksum)."""
    with sqlite3.connect(db) as con:
        return {
            t: con.execute(
                "SELECT name, encoding, sha256 FROM blobs ORDER BY name"
                if t == "blobs"
                else f"SELECT * FROM {t} ORDER BY 1"
            ).fetchall()
            for t in ("documents", "agents", "sources", "history", "blobs")
        }


def _colony(texts: list[tuple[str, str]], ticks: int) -> Colony:
    c = Colony(seed=3)
    for i, (title, text) in enumerate(texts):
        c.ingest_document(title, text, Position(3.0 * i, 1.0))
    c.spawn_digesters(2)
    c.run(ticks)
    return c


@pytest.mark.parametrize("change", ["more documents", "digested", "same"])
def test_a_save_over_a_store_equals_a_save_into_a_new_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    over, fresh = tmp_path / "over.db", tmp_path / "fresh.db"
    save(_colony(TEXTS[:2], 0), over)
    shutil.copyfile(over, fresh)  # (both files hold the first save)
    colony = load(over)
    if change == "more documents":
        for i, (title, text) in enumerate(TEXTS[2:]):
            colony.ingest_document(title, text, Position(10.0 + i, 2.0))
    if change != "same":
        colony.run(40)  # (digests some: flags change on rows the file keeps)
    kept: list[int] = []
    real_kept = store._kept_documents

    def counted(*args: Any) -> int:
        kept.append(real_kept(*args))
        return kept[-1]

    with monkeypatch.context() as m:
        m.setattr(store, "_kept_documents", counted)
        save(colony, over)  # written over a copy of the file
    assert kept == [2]  # (the two documents of the first save stayed in the table)
    real = store._read_old
    with monkeypatch.context() as m:  # (an older schema's file: written whole)
        m.setattr(store, "_read_old", lambda *a, **k: (*real(*a, **k)[:3], None))
        save(colony, fresh)
    a, b = _rows(over), _rows(fresh)
    assert {t: r for t, r in a.items() if t != "blobs"} == {
        t: r for t, r in b.items() if t != "blobs"
    }
    # the same parts with the same contents (the summary holds no time: equal too)
    assert a["blobs"] == b["blobs"]
    assert load(over).stats() == load(fresh).stats()  # (every checksum verified)
    assert any(row[6] for row in a["documents"]) is (change != "same")


def test_a_store_whose_documents_changed_order_is_written_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "c.db"
    save(_colony(TEXTS, 30), db)
    forgotten = read_document_ids(db)[1]
    monkeypatch.setattr(store, "_kept_documents", None)  # (never called: a new file)
    report = forget_in_store(db, [forgotten])
    assert report.documents_removed == [forgotten]
    # the forgotten text is gone from the file's bytes, not only from its tables
    assert b"moraine meltwater" not in db.read_bytes()
    assert "glaciers" not in [d[2] for d in _rows(db)["documents"]]
    assert load(db).stats().documents_total == 3
