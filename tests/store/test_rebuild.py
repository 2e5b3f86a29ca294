"""``phago.rebuild`` and ``phago repair --rebuild``: a store file whose colony is damaged is
made again from the documents it holds, the damaged file kept whole beside it."""

from __future__ import annotations

import errno
import json
import sqlite3
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from store_helpers import BYTE_CHANGES, changed_bytes, make_colony

from phago import ColonyConfig
from phago.cli import main
from phago.corpus import load_sample_corpus
from phago.errors import StoreError
from phago.rebuild import rebuild_colony, salvage_store
from phago.store import (
    load,
    load_distributed,
    load_with_catalog,
    read_documents,
    save,
)


def _invoke(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.output


def _ingested_store(tmp_path: Path, n: int = 12) -> Path:
    """A store ``phago ingest`` made of ``n`` sample documents' files in one run, tagged."""
    folder = tmp_path / "notes"
    folder.mkdir()
    for i, d in enumerate(load_sample_corpus()[:n]):
        (folder / f"{i:02d}.txt").write_text(f"{d.title}\n\n{d.content}", encoding="utf-8")
    db = tmp_path / "notes.db"
    code, output = _invoke("ingest", str(folder), "--db", str(db), "--tag", "lab")
    assert code == 0, output
    return db


def _damage_part(db: Path, name: str, data: bytes = b"\x00") -> None:
    """Replace the bytes of the part ``name`` under its checksum."""
    with sqlite3.connect(db) as con:
        assert con.execute("UPDATE blobs SET data = ? WHERE name = ?", (data, name)).rowcount == 1
    con.close()


def _documents(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT doc_id, title, content, x, y FROM documents ORDER BY seq")
        out = [(r[0] % (1 << 64), *r[1:]) for r in rows]  # the ids as phago gives them
    con.close()
    return out


def test_a_damaged_graph_is_refused_by_repair_and_rebuilt_to_the_graph_ingest_made(
    tmp_path: Path,
) -> None:
    db = _ingested_store(tmp_path)
    whole = load(db).stats()
    before_docs = _documents(db)
    listed = json.loads(_invoke("list", "--db", str(db), "--json")[1])
    _damage_part(db, "graph.weight")
    damaged = db.read_bytes()
    code, output = _invoke("query", "cell", "--db", str(db))
    assert code == 1 and "checksum mismatch in 'graph.weight'" in output
    # without --rebuild: refused, nothing changed, and told how
    code, output = _invoke("repair", "--db", str(db))
    assert code == 1 and "--rebuild" in output, output
    assert db.read_bytes() == damaged and not list(tmp_path.glob("*.damaged"))
    code, output = _invoke("repair", "--db", str(db), "--rebuild", "--json")
    assert code == 0, output
    said = json.loads(output)["rebuilt"]
    assert "checksum mismatch in 'graph.weight'" in said["damaged"]
    assert said["documents"] == 12 and said["verified"] and said["lost"] == []
    assert Path(said["set_aside"]).read_bytes() == damaged  # nothing lost
    # the documents, their ids, positions, sources and tags are the store's; and since
    # this store was ingested in one run, digesting them again made the very same graph
    colony, catalog = load_with_catalog(db)
    assert _documents(db) == before_docs
    assert colony.stats().graph_nodes == whole.graph_nodes
    assert colony.stats().graph_edges == whole.graph_edges
    assert colony.stats().documents_digested == 12 and not colony.agents
    assert json.loads(_invoke("list", "--db", str(db), "--json")[1]) == listed
    assert len(catalog.sources) == 12 and catalog.history[-1].digested == 12
    # the store works as before: a query, an ingest of a new note, and nothing to repair
    assert _invoke("query", "cell", "--db", str(db))[0] == 0
    assert _invoke("ingest", "--text", "A new note on cells.", "--db", str(db))[0] == 0
    code, output = _invoke("repair", "--db", str(db), "--rebuild")
    assert code == 0 and "nothing to repair" in output


def test_the_colonys_settings_and_seed_are_kept_and_a_sound_store_is_left_alone(
    tmp_path: Path,
) -> None:
    config = ColonyConfig.for_large_corpora()
    colony = make_colony(6, seed=11, config=config)
    colony.run(5)
    db = save(colony, tmp_path / "c.db")
    sound = db.read_bytes()
    assert rebuild_colony(db).damaged is None and db.read_bytes() == sound
    _damage_part(db, "signals.x")
    report = rebuild_colony(db, digesters=2)
    rebuilt = load(db)
    assert rebuilt.seed == 11 and rebuilt.config == config
    assert report.documents == 6 and rebuilt.stats().documents_digested == 6
    assert report.set_aside is not None and report.set_aside.parent == tmp_path


def test_settings_that_no_longer_read_give_the_defaults_and_say_so(tmp_path: Path) -> None:
    db = save(make_colony(4, seed=9), tmp_path / "c.db")
    _damage_part(db, "colony", b"{not json")
    report = rebuild_colony(db)
    assert any("settings and seed do not read" in x for x in report.lost)
    assert load(db).seed == 0 and report.documents == 4


def test_rows_changed_under_the_checksum_are_kept_as_they_read_and_bad_ones_left_out(
    tmp_path: Path,
) -> None:
    colony = make_colony(5)
    db = save(colony, tmp_path / "c.db")
    docs = _documents(db)
    with sqlite3.connect(db) as con:  # a title edited, a text made bytes
        con.execute("UPDATE documents SET title = 'edited' WHERE seq = 1")
        con.execute("UPDATE documents SET content = x'00ff' WHERE seq = 3")
    con.close()
    salvage = salvage_store(db)
    assert not salvage.verified and [d.doc_id for d in salvage.documents] == [
        d[0] for i, d in enumerate(docs) if i != 3
    ]
    report = rebuild_colony(db)
    assert not report.verified and report.documents == 4
    bad = "row 3 of table 'documents': its title or text is not text"
    assert any(bad in x for x in report.lost)
    assert any("do not match the store's checksum" in x for x in report.lost)
    got = read_documents(db)
    assert got.ids == [d[0] for i, d in enumerate(docs) if i != 3]
    assert got.titles[1] == "edited" and got.contents[0] == docs[0][2]
    # the row left out is in the copy set aside, as it was
    assert report.set_aside is not None
    assert _documents(report.set_aside)[3][2] == b"\x00\xff"


def test_a_document_the_new_colony_refuses_is_left_out_and_named(tmp_path: Path) -> None:
    db = save(make_colony(3), tmp_path / "c.db")
    with sqlite3.connect(db) as con:
        con.execute("UPDATE documents SET content = '   ' WHERE seq = 0")
    con.close()
    report = rebuild_colony(db)
    assert report.documents == 2
    assert any("is not stored" in x and "empty" in x.lower() for x in report.lost), report.lost


def test_a_failed_copy_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = save(make_colony(3), tmp_path / "c.db")
    _damage_part(db, "graph.ids")
    damaged = db.read_bytes()

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("phago.rebuild.shutil.copyfile", full)
    with pytest.raises(StoreError, match="the disk is full"):
        rebuild_colony(db)
    assert db.read_bytes() == damaged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.db"]


def test_a_link_to_the_store_stays_a_link(tmp_path: Path) -> None:
    db = save(make_colony(3), tmp_path / "c.db")
    link = tmp_path / "link.db"
    link.symlink_to(db)
    _damage_part(db, "graph.labels", b"[")
    assert rebuild_colony(link).documents == 3
    assert link.is_symlink() and load(link).stats().documents_total == 3


def _sharded_store(tmp_path: Path, n: int = 12) -> Path:
    """A distributed store of 2 shards ``phago ingest`` made of ``n`` sample documents'
    files in one run, tagged."""
    folder = tmp_path / "notes"
    folder.mkdir()
    for i, d in enumerate(load_sample_corpus()[:n]):
        (folder / f"{i:02d}.txt").write_text(f"{d.title}\n\n{d.content}", encoding="utf-8")
    db = tmp_path / "notes.d"
    args = ("ingest", str(folder), "--db", str(db), "--shards", "2", "--tag", "lab")
    code, output = _invoke(*args)
    assert code == 0, output
    return db


def _manifest(db: Path) -> Path:
    (found,) = db.glob("gen-*/manifest.json")
    return found


def test_a_distributed_store_with_a_damaged_shard_is_rebuilt_on_as_many_shards(
    tmp_path: Path,
) -> None:
    db = _sharded_store(tmp_path)
    with load_distributed(db) as dc:
        whole = dc.stats()
    listed = json.loads(_invoke("list", "--db", str(db), "--json")[1])
    (shard,) = db.glob("gen-*/shard-001.db")
    _damage_part(shard, "graph.weight")
    damaged = shard.read_bytes()
    code, output = _invoke("repair", "--db", str(db))
    assert code == 1 and "--rebuild" in output and "shard-001.db" in output, output
    code, output = _invoke("repair", "--db", str(db), "--rebuild", "--json")
    assert code == 0, output
    said = json.loads(output)["rebuilt"]
    assert said["documents"] == 12 and said["lost"] == [] and said["verified"]
    aside = Path(said["set_aside"])
    assert (aside / shard.parent.name / shard.name).read_bytes() == damaged  # kept whole
    with load_distributed(db) as dc:
        assert dc.num_shards == 2
        got = dc.stats()
        assert (got.graph_nodes, got.graph_edges) == (whole.graph_nodes, whole.graph_edges)
        assert got.documents_digested == 12
    assert json.loads(_invoke("list", "--db", str(db), "--json")[1]) == listed
    code, output = _invoke("repair", "--db", str(db), "--rebuild")
    assert code == 0 and "nothing to repair" in output


def test_a_damaged_manifest_is_rebuilt_from_what_of_it_reads(tmp_path: Path) -> None:
    db = _sharded_store(tmp_path, n=6)
    manifest = _manifest(db)
    raw = json.loads(manifest.read_bytes())
    raw["body"]["catalog"] = json.loads(json.dumps(raw["body"]["catalog"]).replace("lab", "lax"))
    manifest.write_text(json.dumps(raw))  # changed under its checksum, still JSON
    report = rebuild_colony(db)
    assert report.documents == 6 and any("kept as it reads" in x for x in report.lost)
    tags = json.loads(_invoke("tags", "--db", str(db), "--json")[1])
    assert tags == [{"tag": "lax", "documents": 6}]
    _manifest(db).write_text("{not json")  # unreadable: the documents alone
    report = rebuild_colony(db)
    assert report.documents == 6 and any("no sources, tags" in x for x in report.lost)
    assert json.loads(_invoke("tags", "--db", str(db), "--json")[1]) == []
    assert len(list(tmp_path.glob("notes.d.*.damaged"))) == 2  # each kept, in one second too
    with load_distributed(db) as dc:
        assert dc.num_shards == 2 and dc.stats().documents_digested == 6


def test_what_is_not_a_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="damaged or not a phago store"):
        rebuild_colony(tmp_path / "x.db")
    with pytest.raises(StoreError, match="no such file"):
        rebuild_colony(tmp_path / "missing.db")


_SMALL: dict[str, bytes] = {}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(BYTE_CHANGES)
def test_prop_a_store_damaged_anywhere_is_rebuilt_loadable_or_refused_unchanged(
    tmp_path: Path, changes: list[tuple[int, int]]
) -> None:
    if "c" not in _SMALL:
        _SMALL["c"] = save(make_colony(3, digesters=1), tmp_path / "small.db").read_bytes()
    data = changed_bytes(_SMALL["c"], changes)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = folder / "damaged.db"
    path.write_bytes(data)
    try:
        report = rebuild_colony(path)
    except StoreError:  # nothing SQLite can open as a phago store: left as it was
        assert path.read_bytes() == data
        assert [p.name for p in folder.iterdir()] == ["damaged.db"]
        return
    if report.damaged is None:  # it loaded: left as it was
        assert path.read_bytes() == data
        return
    assert report.set_aside is not None and report.set_aside.read_bytes() == data
    assert load(path).stats().documents_total == report.documents <= 3


def test_the_command_lists_the_first_things_lost_and_json_all(tmp_path: Path) -> None:
    db = save(make_colony(30, digesters=3), tmp_path / "c.db")
    with sqlite3.connect(db) as con:  # 25 texts made bytes: 25 rows left out, and the checksum
        con.execute("UPDATE documents SET content = x'00' WHERE seq < 25")
    con.close()
    copy = tmp_path / "copy.db"
    copy.write_bytes(db.read_bytes())
    code, output = _invoke("repair", "--db", str(db), "--rebuild")
    assert code == 0 and "its 5 documents" in output
    assert output.count("  - ") == 20 and "... and 6 more (--json lists them all)" in output
    code, output = _invoke("repair", "--db", str(copy), "--rebuild", "--json")
    assert code == 0 and len(json.loads(output)["rebuilt"]["lost"]) == 26


def test_commands_refusing_a_damaged_store_say_how_to_mend_it(tmp_path: Path) -> None:
    db = save(make_colony(3), tmp_path / "c.db")
    with pytest.raises(StoreError) as missing:
        load(tmp_path / "missing.db")
    assert not missing.value.damaged  # (nothing to mend: no such file)
    _damage_part(db, "graph.ids")
    with pytest.raises(StoreError) as refused:
        load(db)
    assert refused.value.damaged
    for args in (["query", "cell"], ["ingest", "--text", "a note"], ["forget", "x"]):
        code, output = _invoke(*args, "--db", str(db))
        assert code == 1 and "phago repair --db STORE" in output, (args, output)
    code, output = _invoke("query", "cell", "--db", str(db), "--json")
    error = json.loads(output)["error"]
    assert error["type"] == "StoreError" and "it says when --rebuild is needed" in error["message"]


def test_rows_past_one_that_does_not_read_are_salvaged(tmp_path: Path) -> None:
    db = save(make_colony(6), tmp_path / "c.db")
    docs = _documents(db)
    with sqlite3.connect(db) as con:  # a title whose bytes are not UTF-8 (a flipped byte)
        con.execute("UPDATE documents SET title = CAST(x'41ff42' AS TEXT) WHERE seq = 1")
    con.close()
    salvage = salvage_store(db)
    assert [d.doc_id for d in salvage.documents] == [d[0] for d in docs]  # none lost
    assert salvage.documents[1].title == "A\ufffdB"
    assert salvage.documents[5].content == docs[5][2]
    assert any("not UTF-8, read with U+FFFD" in x for x in salvage.lost), salvage.lost
    report = rebuild_colony(db)
    assert report.documents == 6 and read_documents(db).titles[1] == "A\ufffdB"


def test_a_distributed_store_that_cannot_take_the_rebuilt_one_is_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    db = _sharded_store(tmp_path, n=4)
    (shard,) = db.glob("gen-*/shard-000.db")
    _damage_part(shard, "graph.weight")
    before = sorted((p.relative_to(db), p.read_bytes()) for p in db.rglob("*") if p.is_file())
    real_rename = os.rename

    def rename(src: object, dst: object) -> None:
        if ".rebuilt-" in str(src):  # the rebuilt store cannot take the store's name
            raise OSError(errno.EACCES, "Permission denied")
        real_rename(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr("phago.rebuild.os.rename", rename)
    with pytest.raises(StoreError, match="permission denied"):
        rebuild_colony(db)
    after = sorted((p.relative_to(db), p.read_bytes()) for p in db.rglob("*") if p.is_file())
    assert after == before  # the damaged store back where it was, as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "notes.d"]


def test_repair_does_not_tell_to_run_repair(tmp_path: Path) -> None:
    (tmp_path / "x.db").write_bytes(b"not a database at all" * 100)
    for args in (["repair"], ["repair", "--rebuild"]):
        code, output = _invoke(*args, "--db", str(tmp_path / "x.db"))
        assert code == 1 and "damaged or not a phago store" in output
        assert "to mend it" not in output, output
