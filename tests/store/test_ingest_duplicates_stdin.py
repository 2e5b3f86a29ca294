"""``phago ingest``: duplicate files as sources of the documents holding their text, changed
files whose text another file holds, texts from standard input and ``--text``, and the ids
of replaced files' forgotten documents (the review of an agent's note memory)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from store_helpers import write

from phago import Colony
from phago.cli import main
from phago.ids import document_id
from phago.ingest import TextInput, discover, ingest_paths
from phago.store import Catalog, SourceRecord, read_catalog, read_distributed_catalog


def ingest(*args: str, stdin: str | bytes | None = None, code: int = 0) -> dict[str, Any]:
    """``phago ingest ARGS --json``: its JSON report (or error), the exit status checked."""
    r = CliRunner().invoke(main, ["ingest", *args, "--json"], input=stdin)
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def phago(*args: str, code: int = 0) -> dict[str, Any]:
    r = CliRunner().invoke(main, [*args, "--json"])
    assert r.exit_code == code, r.output
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def titles_found(db: Path, words: str) -> list[str]:
    hits = phago("query", words, "--db", str(db), "--documents")["documents"]
    return [h["title"] for h in hits]


def catalog(db: Path) -> list[tuple[str, int]]:
    """The store's file records, as (file name, document id)."""
    cat = read_distributed_catalog(db) if db.is_dir() else read_catalog(db)
    return sorted((Path(s.path).name, s.doc_id) for s in cat.sources)


def store_args(tmp_path: Path, shards: str | None) -> tuple[Path, list[str]]:
    db = tmp_path / ("d" if shards else "s.db")
    return db, ["--db", str(db), *(["--shards", shards] if shards else [])]


# ------------------------------------------------------------ 1. duplicate files


@pytest.mark.parametrize("shards", [None, "2"])
def test_a_file_changed_to_another_files_text_forgets_its_old_version(
    tmp_path: Path, shards: str | None
) -> None:
    """(A): wed.txt said "Call the dentist", then the text tue.txt holds; its old version
    stayed stored (the duplicate replaced nothing)."""
    tue, wed = tmp_path / "tue.txt", tmp_path / "wed.txt"
    write(tue, "Buy milk and eggs")
    write(wed, "Call the dentist")
    db, where = store_args(tmp_path, shards)
    first = ingest(str(tue), str(wed), *where)
    milk, dentist = (int(a["documents"][0]) for a in first["added"])
    write(wed, "Buy milk and eggs")
    got = ingest(str(wed), *where)
    assert got["duplicates"] == 1 and got["duplicate_files"] == [str(wed)]
    assert got["duplicate_of"] == [{"path": str(wed), "source": "file", "documents": [str(milk)]}]
    assert got["replaced_files"] == [str(wed)]
    assert got["replaced"] == [{"path": str(wed), "forgotten": [str(dentist)], "kept": []}]
    assert got["stats"]["documents_total"] == 1
    assert titles_found(db, "dentist") == []
    assert catalog(db) == [("tue.txt", milk), ("wed.txt", milk)]


def test_a_changed_file_whose_text_another_file_holds_keeps_the_document(
    tmp_path: Path,
) -> None:
    """(B): mon.txt and tue.txt both said "Buy bread today"; mon.txt changed, and bread
    could no longer be found, nor tue.txt forgotten."""
    notes = tmp_path / "notes"
    mon, tue = notes / "mon.txt", notes / "tue.txt"
    write(mon, "Buy bread today")
    write(tue, "Buy bread today")
    db = tmp_path / "s.db"
    first = ingest(str(notes), "--db", str(db))
    bread = int(first["added"][0]["documents"][0])
    assert first["duplicate_files"] == [str(tue)]
    assert first["duplicate_of"] == [
        {"path": str(tue), "source": "file", "documents": [str(bread)]}
    ]
    assert catalog(db) == [("mon.txt", bread), ("tue.txt", bread)]
    write(mon, "Buy cheese today")
    got = ingest(str(mon), "--db", str(db))
    cheese = int(got["added"][0]["documents"][0])
    assert got["replaced_files"] == [str(mon)]
    assert got["replaced"] == [{"path": str(mon), "forgotten": [], "kept": [str(bread)]}]
    assert got["stats"]["documents_total"] == 2
    assert titles_found(db, "bread") == ["mon"]  # (titled by the file it was stored from)
    assert catalog(db) == sorted([("mon.txt", cheese), ("tue.txt", bread)])
    # tue.txt now holds it alone: forgetting tue.txt forgets it
    assert phago("forget", str(tue), "--db", str(db))["documents_removed"] == [str(bread)]
    assert titles_found(db, "bread") == []


def test_a_duplicate_file_ingested_on_its_own_is_recorded_once(tmp_path: Path) -> None:
    mon, tue = tmp_path / "mon.txt", tmp_path / "tue.txt"
    write(mon, "Buy bread today")
    write(tue, "Buy bread today")
    db = tmp_path / "s.db"
    bread = int(ingest(str(mon), "--db", str(db))["added"][0]["documents"][0])
    got = ingest(str(tue), "--db", str(db))
    assert got["documents_added"] == 0 and got["replaced"] == []
    assert got["duplicate_of"][0]["documents"] == [str(bread)]
    assert catalog(db) == [("mon.txt", bread), ("tue.txt", bread)]
    # again: nothing changes, the store is not written
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    again = ingest(str(tmp_path), "--db", str(db))
    assert again["duplicates"] == 2 and [d["documents"] for d in again["duplicate_of"]] == [
        [str(bread)],
        [str(bread)],
    ]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_replaced_gives_the_ids_it_forgot(tmp_path: Path) -> None:
    a = tmp_path / "a.txt"
    write(a, "alpha beta gamma delta")
    db = tmp_path / "s.db"
    old = ingest(str(a), "--db", str(db))["added"][0]["documents"]
    write(a, "alpha beta gamma epsilon")
    got = ingest(str(a), "--db", str(db))
    assert got["replaced_files"] == [str(a)]
    assert got["replaced"] == [{"path": str(a), "forgotten": old, "kept": []}]
    write(a, "alpha beta gamma zeta")
    r = CliRunner().invoke(main, ["ingest", str(a), "--db", str(db)])
    assert r.exit_code == 0 and "the old version is forgotten (document " in r.stderr


def test_ingest_paths_records_a_duplicate_as_another_source(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Cells have membranes.")
    write(tmp_path / "b" / "copy.md", "Cells have membranes.")
    write(tmp_path / "c.txt", "Cells have membranes.")
    colony = Colony()
    report, sources = ingest_paths(colony, [tmp_path / "a.txt", tmp_path / "b"])
    (doc,) = report.added[0].doc_ids
    assert [(Path(s.path).name, s.doc_id) for s in sources] == [("a.txt", doc), ("copy.md", doc)]
    assert [(d.path, d.doc_ids) for d in report.duplicate_of] == [
        (str(tmp_path / "b" / "copy.md"), (doc,))
    ]
    again, more = ingest_paths(colony, [tmp_path], known_sources=sources)
    assert again.documents_added == 0 and [d.doc_ids for d in again.duplicate_of] == [(doc,)] * 3
    assert [(Path(s.path).name, s.doc_id) for s in more] == [("c.txt", doc)]


def test_catalog_release_forgets_only_what_no_other_file_holds() -> None:
    cat = Catalog(
        [
            SourceRecord("/n/mon.txt", "h", 7),
            SourceRecord("/n/tue.txt", "h", 7),
            SourceRecord("/n/old.txt", "g", 8),
        ]
    )
    assert cat.release(["/n/mon.txt", "/n/old.txt"], keep=[8]) == []
    assert [s.path for s in cat.sources] == ["/n/tue.txt"]
    assert cat.release(["/n/"]) == [7] and cat.sources == []


# ------------------------------------------------------------ 2. texts without a file


@pytest.mark.parametrize("shards", [None, "2"])
def test_standard_input_is_a_document_and_again_a_duplicate(
    tmp_path: Path, shards: str | None
) -> None:
    db, where = store_args(tmp_path, shards)
    note = "Shopping\n\nBuy apples and pears.\n"
    got = ingest("-", *where, stdin=note)
    did = document_id("Shopping", note.strip())
    assert got["added"] == [
        {"path": None, "source": "stdin", "title": "Shopping", "documents": [str(did)], "chars": 31}
    ]
    assert got["files_added"] == 0 and got["texts_added"] == 1 and got["documents_added"] == 1
    assert catalog(db) == []  # no source file
    again = ingest("-", *where, stdin=note)
    assert again["documents_added"] == 0 and again["duplicates"] == 1
    assert again["duplicate_of"] == [{"path": None, "source": "stdin", "documents": [str(did)]}]
    assert again["duplicate_files"] == [] and again["stats"]["documents_total"] == 1
    assert phago("forget", str(did), "--db", str(db))["documents_removed"] == [str(did)]


def test_titles_of_texts(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    one = ingest("-", "--db", str(db), stdin="just one line about comets")
    assert one["added"][0]["title"] == "stdin"
    named = ingest("-", "--title", "Comets", "--db", str(db), stdin="comets have tails")
    assert named["added"][0]["documents"] == [str(document_id("Comets", "comets have tails"))]
    texts = ingest("--text", "Planets\n\norbit stars", "--text", "moons orbit", "--db", str(db))
    assert [(a["title"], a["source"]) for a in texts["added"]] == [
        ("Planets", "text"),
        ("text", "text"),
    ]
    # a new title is a new document (ids hash title and text); --encoding reads stdin
    latin = ingest(
        "-", "--encoding", "latin-1", "--db", str(db), stdin="café crème".encode("latin-1")
    )
    assert latin["added"][0]["chars"] == len("café crème")


def test_a_text_with_a_stored_files_text_is_its_duplicate(tmp_path: Path) -> None:
    f = tmp_path / "milk.txt"
    write(f, "Buy milk and eggs")
    db = tmp_path / "s.db"
    milk = ingest(str(f), "--db", str(db))["added"][0]["documents"]
    got = ingest("--text", "Buy milk and eggs", "--text", "Call the dentist", "--db", str(db))
    assert got["duplicate_of"] == [{"path": None, "source": "text", "documents": milk}]
    assert got["texts_added"] == 1 and got["stats"]["documents_total"] == 2
    assert catalog(db) == [("milk.txt", int(milk[0]))]


@pytest.mark.parametrize("shards", [None, "2"])
def test_a_stored_texts_text_is_a_duplicate_under_any_title_and_as_a_file(
    tmp_path: Path, shards: str | None
) -> None:
    # "a file or text whose text is already stored adds nothing": a text given again under
    # another title, or a file of it, was stored a second time (ids hash title and text)
    db, where = store_args(tmp_path, shards)
    first = ingest("--text", "Golgi bodies package proteins", "--title", "Golgi", *where)
    did = first["added"][0]["documents"]
    again = ingest("--text", "Golgi bodies package proteins", "--title", "Other", *where)
    assert again["documents_added"] == 0
    assert again["duplicate_of"] == [{"path": None, "source": "text", "documents": did}]
    f = tmp_path / "golgi.txt"
    write(f, "Golgi bodies package proteins")
    as_file = ingest(str(f), *where)
    assert as_file["documents_added"] == 0 and as_file["duplicate_files"] == [str(f)]
    assert as_file["duplicate_of"][0]["documents"] == did
    assert catalog(db) == [("golgi.txt", int(did[0]))]  # recorded as a source of the text's
    listed = json.loads(CliRunner().invoke(main, ["list", "--db", str(db), "--json"]).stdout)
    assert [d["sources"] for d in listed] == [[str(f)]]
    # forgetting the file keeps the document: the text holds it, and the report says so
    gone = phago("forget", str(f), "--db", str(db))
    assert gone["documents_removed"] == [] and gone["held_by_texts"] == [str(f)]
    words = CliRunner().invoke(main, ["forget", str(f), "--db", str(db)])
    assert words.exit_code == 1  # (no longer a source: nothing names it)
    assert phago("stats", "--db", str(db))["documents_total"] == 1
    # forgetting the document forgets the text: given again, it is added again
    assert phago("forget", did[0], "--db", str(db))["documents_removed"] == did
    back = ingest("--text", "Golgi bodies package proteins", "--title", "Other", *where)
    assert back["documents_added"] == 1


@pytest.mark.parametrize("shards", [None, 2])
def test_texts_stored_before_stores_recorded_them_are_duplicates_too(
    tmp_path: Path, shards: int | None
) -> None:
    # a store from before (or a colony saved from Python) holds texts with no record
    from phago.distributed import DistributedColony
    from phago.store import save, save_distributed

    text = "Centrioles organise the spindle"
    if shards is None:
        colony = Colony()
        did = colony.ingest_document("old note", text)
        db = save(colony, tmp_path / "s.db")
    else:
        with DistributedColony(shards, seed=0) as dc:
            did = dc.ingest_document("old note", text)
            db = save_distributed(dc, tmp_path / "d")
    where = ["--db", str(db)]
    again = ingest("--text", text, *where)
    assert again["documents_added"] == 0
    assert again["duplicate_of"] == [{"path": None, "source": "text", "documents": [str(did)]}]
    write(tmp_path / "c.txt", text)
    as_file = ingest(str(tmp_path / "c.txt"), "--text", "Asters radiate", *where)
    assert as_file["duplicate_of"][0]["documents"] == [str(did)]
    assert as_file["texts_added"] == 1  # (and the unrecorded text is recorded now)
    cat = read_distributed_catalog(db) if shards else read_catalog(db)
    assert (int(did),) in cat.texts.values()


def test_the_stored_texts_survive_every_command_that_writes_the_store(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    did = ingest("--text", "Lysosomes digest old parts", "--db", str(db))["added"][0]
    hashed = {h: tuple(map(int, did["documents"])) for h in read_catalog(db).texts}
    assert len(hashed) == 1
    write(tmp_path / "a.txt", "Cells have membranes.")
    ingest(str(tmp_path / "a.txt"), "--db", str(db))
    phago("tag", did["documents"][0], "--add", "organelles", "--db", str(db))
    phago("forget", str(tmp_path / "a.txt"), "--db", str(db))
    assert read_catalog(db).texts == hashed


def test_ingest_paths_finds_stored_texts(tmp_path: Path) -> None:
    colony = Colony()
    first, _ = ingest_paths(colony, [], texts=[TextInput("Vacuoles store water.", title="A")])
    cat = Catalog()
    first.record_in(cat)
    ((h, ids),) = cat.texts.items()
    assert ids == tuple(int(d) for d in first.texts[0].doc_ids) and h == first.texts[0].content_hash
    write(tmp_path / "v.txt", "Vacuoles store water.")
    again, sources = ingest_paths(
        colony,
        [tmp_path / "v.txt"],
        texts=[TextInput("Vacuoles store water.", title="B")],
        known_texts=cat.texts,
    )
    assert again.documents_added == 0 and len(again.duplicate_of) == 2
    assert {d.doc_ids for d in again.duplicate_of} == {first.texts[0].doc_ids}
    assert [(Path(s.path).name, s.doc_id, s.content_hash) for s in sources] == [
        ("v.txt", ids[0], h)
    ]
    cat.keep_documents([])
    assert cat.texts == {}


@pytest.mark.parametrize(
    ("args", "stdin", "error", "said"),
    [
        (["-"], "", "EmptyDocument", "stdin: empty text"),
        (["-"], " \n\t\n", "EmptyDocument", "stdin: only whitespace"),
        (["-"], b"notes\x00\x01", "DocumentError", "stdin: binary text"),
        (["-"], b"caf\xe9", "DocumentError", "stdin: not valid utf-8 text"),
        (["--text", "https://example.org/x"], None, "EmptyDocument", "text: no text to digest"),
    ],
)
def test_a_bad_text_is_a_typed_error_and_writes_nothing(
    tmp_path: Path, args: list[str], stdin: str | bytes | None, error: str, said: str
) -> None:
    db = tmp_path / "s.db"
    got = ingest(*args, "--db", str(db), stdin=stdin, code=1)["error"]
    assert got["type"] == error and said in got["message"], got
    assert not db.exists()


def test_a_bad_text_beside_a_good_file_is_skipped(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    write(f, "Cells have membranes.")
    got = ingest(str(f), "--text", "  ", "--db", str(tmp_path / "s.db"))
    assert got["files_added"] == 1 and got["skipped"] == 1
    assert got["skipped_files"] == [
        {"path": None, "reason": "text: only whitespace", "source": "text"}
    ]


def test_ingest_paths_takes_texts(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Cells have membranes.")
    colony = Colony()
    texts = [
        TextInput(b"Cells have membranes."),
        TextInput("Genes\n\nGenes code proteins.", source="stdin"),
        TextInput("Genes\n\nGenes code proteins."),
        TextInput("\x00"),
    ]
    report, sources = ingest_paths(colony, [tmp_path], texts=texts)
    (cells,) = report.added[0].doc_ids
    genes = document_id("Genes", "Genes\n\nGenes code proteins.")
    assert [(t.source, t.title, t.doc_ids) for t in report.texts] == [("stdin", "Genes", (genes,))]
    assert [(d.path, d.source, d.doc_ids) for d in report.duplicate_of] == [
        (None, "text", (cells,)),
        (None, "text", (genes,)),
    ]
    assert [(s.reason, s.error, s.source) for s in report.skipped] == [
        ("text 3: binary text (contains NUL characters)", "DocumentError", "text")
    ]
    assert report.new_document_ids == [cells, genes] and len(sources) == 1
    assert report.duplicate_count == 2


def test_usage_errors_and_help(tmp_path: Path) -> None:
    db = ["--db", str(tmp_path / "s.db")]
    for args, said in [
        (["-", "-"], "named more than once"),
        (["--text", "a", "--text", "b", "--title", "t"], "--title names the one text"),
        (["--title", "t", str(tmp_path)], "--title names the one text"),
        ([], "Missing argument 'PATHS...'"),
    ]:
        r = CliRunner().invoke(main, ["ingest", *args, *db, "--json"], input="x")
        assert r.exit_code == 2 and said in json.loads(r.stdout)["error"]["message"], r.output
    text = " ".join(CliRunner().invoke(main, ["ingest", "--help"]).stdout.split())
    assert "A PATH of - reads one text from standard input" in text
    assert "--text TEXT" in text and "--title TEXT" in text


def test_a_device_named_as_a_file_points_to_dash() -> None:
    (skipped,) = discover(["/dev/null"])[1]
    assert (
        skipped.reason
        == "/dev/null: not a regular file (to read a text from standard input, name -)"
    )
