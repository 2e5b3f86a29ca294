"""Tags and the time added on stored documents: ``phago ingest --tag`` and Markdown front
matter give them; ``list``, ``show`` and ``query --documents`` show them, and ``--tag`` keeps
to the documents that carry them; copies, edits, forgetting and both store kinds keep them
right (phago.tags, phago.store.DocumentInfo)."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st

from phago import Colony
from phago.cli import main
from phago.errors import ConfigError, StoreError
from phago.query.base import example_source
from phago.query.documents import documents
from phago.store import (
    Catalog,
    DocumentInfo,
    read_catalog,
    read_document_info,
    save,
    tagged_documents,
)
from phago.tags import front_matter_tags, tag_name, tag_names

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def phago(*args: str, code: int = 0) -> str:
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert r.exit_code == code, r.stderr + r.stdout
    return r.stdout if code == 0 else r.stderr


def listed(db: Path, *tags: str) -> dict[str, dict[str, object]]:
    extra = [a for t in tags for a in ("--tag", t)]
    return {d["title"]: d for d in json.loads(phago("list", "--db", str(db), "--json", *extra))}


def notes(root: Path) -> Path:
    root.mkdir(exist_ok=True)
    (root / "membranes.md").write_text(
        "---\ntitle: x\ntags:\n  - Biology\n  - '#cells'\n---\n# Membranes\n\n"
        "Lipid bilayers enclose cells and regulate transport of ions.\n"
    )
    (root / "glaciers.md").write_text(
        "---\ntags: [geology, ice]\n---\n# Glaciers\n\nGlaciers carve valleys and move ice.\n"
    )
    (root / "plain.txt").write_text(
        "Ribosomes\n\nRibosomes translate RNA into proteins in cells.\n"
    )
    return root


@pytest.mark.parametrize("shards", [None, 2])
def test_ingest_tags_documents_and_list_and_query_keep_to_a_tag(
    tmp_path: Path, shards: int | None
) -> None:
    db = tmp_path / ("n.db" if shards is None else "n.d")
    more = [] if shards is None else ["--shards", str(shards)]
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    phago("ingest", str(notes(tmp_path / "notes")), "--db", str(db), "--tag", "Lab", *more)
    phago("ingest", "--text", "Cells divide by mitosis.", "--db", str(db), "--tag", "#quick")
    docs = listed(db)
    assert docs["Membranes"]["tags"] == ["biology", "cells", "lab"]
    assert docs["Glaciers"]["tags"] == ["geology", "ice", "lab"]
    assert docs["Ribosomes"]["tags"] == ["lab"] and docs["text"]["tags"] == ["quick"]
    for d in docs.values():
        assert STAMP.fullmatch(str(d["added"])) and str(d["added"]) >= before
    assert sorted(listed(db, "LAB")) == ["Glaciers", "Membranes", "Ribosomes"]
    assert sorted(listed(db, "lab", "cells")) == ["Membranes"]  # every tag given
    assert listed(db, "nothing") == {}
    # "cells" is in three documents; only the tagged ones answer
    every = json.loads(phago("query", "cells", "--db", str(db), "--documents", "--json"))
    assert {d["title"] for d in every["documents"]} == {"Membranes", "Ribosomes", "text"}
    only = json.loads(
        phago("query", "cells", "--db", str(db), "--documents", "--json", "--tag", "quick")
    )
    assert [(d["title"], d["tags"]) for d in only["documents"]] == [("text", ["quick"])]
    assert STAMP.fullmatch(only["documents"][0]["added"])
    shown = phago("show", str(docs["text"]["id"]), "--db", str(db))
    assert "tags: quick" in shown and "added 20" in shown


def test_bad_tags_and_tags_without_a_store_are_usage_errors(tmp_path: Path) -> None:
    text = tmp_path / "a.txt"
    text.write_text("Cells divide.")
    db = str(tmp_path / "n.db")
    said = phago("ingest", str(text), "--db", db, "--tag", "two words", code=2)
    assert "--tag" in said and "one word" in said and not Path(db).exists()
    phago("ingest", str(text), "--db", db)
    assert "with --documents --db" in phago("query", "cells", "--db", db, "--tag", "x", code=2)
    assert "--tag" in phago("list", "--db", db, "--tag", "a,b", code=2)


def test_a_copy_adds_its_tags_an_edit_keeps_them_and_forgetting_drops_them(
    tmp_path: Path,
) -> None:
    db = tmp_path / "n.db"
    a = tmp_path / "a.txt"
    a.write_text("Mitochondria make ATP for cells.")
    phago("ingest", str(a), "--db", str(db), "--tag", "first")
    first = listed(db)["a"]
    copy = tmp_path / "copy.txt"
    copy.write_text(a.read_text())
    time.sleep(1.1)  # (times are to the second)
    phago("ingest", str(copy), "--db", str(db), "--tag", "second")
    again = listed(db)["a"]
    assert again["tags"] == ["first", "second"] and again["added"] == first["added"]
    saved = db.stat().st_mtime_ns
    phago("ingest", str(copy), "--db", str(db), "--tag", "second")  # nothing new: not saved
    assert db.stat().st_mtime_ns == saved
    a.write_text("Mitochondria make ATP for cells, and keep their own DNA.")
    phago("ingest", str(a), "--db", str(db))  # the edit keeps the old version's tags
    edited = json.loads(phago("list", "--db", str(db), "--json"))  # (both titled "a")
    assert [d["tags"] for d in edited] == [["first", "second"], ["first", "second"]]
    assert edited[1]["added"] > first["added"]  # the new version's time
    ids = {str(d["id"]) for d in edited}
    for i in ids:
        phago("forget", i, "--db", str(db))
    assert read_document_info(db) == {}
    assert read_catalog(db).info == {}


def test_a_store_without_document_information_reads_as_before(tmp_path: Path) -> None:
    c = Colony()
    d = c.ingest_document("t", "cell wall")
    db = save(c, tmp_path / "old.db")  # (as stores saved before the forty-first session)
    with sqlite3.connect(db) as con:
        assert con.execute(
            "SELECT count(*) FROM blobs WHERE name = 'document_info'"
        ).fetchone() == (0,)
    assert read_document_info(db) == {} and read_catalog(db).info == {}
    assert listed(db)["t"]["added"] == "" and listed(db)["t"]["tags"] == []
    cat = Catalog()
    cat.note_added([d], ["kept"], when="2026-12-01T00:00:00Z")
    save(c, db, catalog=cat)
    save(c, db)  # a save without a catalog keeps the stored one, information included
    assert read_document_info(db) == {d: DocumentInfo("2026-12-01T00:00:00Z", ("kept",))}


def test_damaged_document_information_is_refused(tmp_path: Path) -> None:
    import hashlib

    c = Colony()
    d = c.ingest_document("t", "cell wall")
    cat = Catalog()
    cat.note_added([d], ["lab"])
    db = save(c, tmp_path / "c.db", catalog=cat)
    bad = json.dumps({"ids": [str(d)], "added": [""], "tags": [[7]]}).encode()
    with sqlite3.connect(db) as con:  # well checksummed, but not what a store holds
        con.execute(
            "UPDATE blobs SET data = ?, sha256 = ? WHERE name = 'document_info'",
            (bad, hashlib.sha256(bad).hexdigest()),
        )
    with pytest.raises(StoreError, match="document_info"):
        read_document_info(db)
    with pytest.raises(StoreError, match="document_info"):
        read_catalog(db)


_IDS = st.integers(min_value=0, max_value=2**64 - 1)
_TAGS = st.lists(st.sampled_from(["lab", "cells", "todo"]), unique=True, max_size=2)


@given(
    st.dictionaries(_IDS, st.tuples(st.sampled_from(["", "2026-12-07T00:00:00Z"]), _TAGS)),
    st.dictionaries(
        st.sampled_from(["/n/a.md", "/n/b.txt"]),
        st.lists(st.sampled_from(["lab", "cells"]), unique=True, min_size=1),
    ),
    st.dictionaries(
        st.text("0123456789abcdef", min_size=64, max_size=64),
        st.lists(_IDS, min_size=1, max_size=3).map(tuple),
    ),
)
def test_prop_the_document_information_reads_back_as_written(
    info: dict[int, tuple[str, list[str]]],
    file_tags: dict[str, list[str]],
    texts: dict[str, tuple[int, ...]],
) -> None:
    from phago.store import DocumentInfo, SourceRecord, _info_from_json, _info_json

    cat = Catalog(
        [SourceRecord(p, "h", 1) for p in file_tags],
        info={d: DocumentInfo(added, tuple(tags)) for d, (added, tags) in info.items()},
        file_tags={p: tuple(t) for p, t in file_tags.items()},
        texts=texts,
    )
    data = _info_json(cat)
    if data is None:
        assert not (info or file_tags or texts)
        return
    got = _info_from_json(json.loads(json.dumps(data)), given=True)
    assert got == (cat.info, cat.file_tags, cat.texts)
    bads: list[object] = [{"h": "0f"}, {"h": 5}, {"h": "zz" * 8}, []]
    for bad in bads:
        with pytest.raises(ValueError, match="text"):
            _info_from_json({**data, "texts": bad}, given=True)


def test_the_python_api_answers_from_the_documents_it_is_given() -> None:
    src = example_source()
    every = documents(src, "protein", 5)
    assert len(every) > 1
    kept = {int(every[-1].id)}
    assert [int(d.id) for d in documents(src, "protein", 5, only=kept)] == list(kept)
    assert documents(src, "protein", 5, only=set()) == []


def test_tags_are_one_word_without_case_or_a_leading_hash() -> None:
    assert tag_name("#Lab") == "lab" and tag_names(["b", "#B", "a"]) == ("a", "b")
    for bad in ("", "#", "two words", "a,b", "x" * 101, 5):
        with pytest.raises(ConfigError):
            tag_name(bad)
    with pytest.raises(ConfigError, match="collection"):
        tag_names("lab")
    assert tagged_documents({1: DocumentInfo("", ("a", "b")), 2: DocumentInfo()}, ["A"]) == {1}


@pytest.mark.parametrize(
    ("front", "tags"),
    [
        ("tags: [a, 'B', \"#c\"]\n", ("a", "b", "c")),
        ("Tags: one two, three\n", ("one", "three", "two")),
        ("tag: solo\n", ("solo",)),
        ("tags:\n  - x\n  - y\ntitle: t\n", ("x", "y")),
        ("tags:\n\ntitle: t\n", ()),
        ("title: no tags here\n", ()),
        ("tags: [" + "z" * 200 + ", ok]\n", ("ok",)),
        ("tags:\r\n  - alpha\r\n  - beta\r\n", ("alpha", "beta")),
        ("tags: [gamma, delta]\r\n", ("delta", "gamma")),
        ("tags: [a, b]  # mine\n", ("a", "b")),
        ("tags:\n  # mine\n  - a # x\n\n  - b\nauthor: me\n", ("a", "b")),
        ("tags: [a,\n  [b, c]]\n", ("a", "b", "c")),
        ("tags: null\n", ()),
        ("tags: ~\n", ()),
        ("tags: true\n", ()),
        ("tags: |\n  a\n", ()),
        ("tags: {a: 1}\n", ()),
        ("tags: - a\n", ("a",)),
        ("tags: ['##x']\n", ("x",)),
    ],
)
def test_front_matter_tags_in_its_usual_forms(front: str, tags: tuple[str, ...]) -> None:
    assert front_matter_tags(front) == tags


@example("##a")
@example("İstanbul")
@example("ﬁle")
@example("\uab70")  # (Cherokee small letter a: case-folds to the capital, U+13A0)
@given(st.text(min_size=1, max_size=30))
def test_prop_a_tag_name_is_stable(text: str) -> None:
    try:
        name = tag_name(text)
    except ConfigError:
        return
    # (case-folded, not lowered: Cherokee folds to its capitals, "ꭰ" to "Ꭰ")
    assert tag_name(name) == name and name == name.casefold() and name.strip() == name


@pytest.mark.parametrize("shards", [None, 2])
def test_phago_tag_adds_and_removes_tags_by_id_or_file_and_nothing_else(
    tmp_path: Path, shards: int | None
) -> None:
    db = tmp_path / ("n.db" if shards is None else "n.d")
    more = [] if shards is None else ["--shards", str(shards)]
    phago("ingest", str(notes(tmp_path / "notes")), "--db", str(db), *more)
    before = listed(db)
    graph = json.loads(phago("export", "--db", str(db), "--format", "json", "--out", "-"))
    membranes = str(tmp_path / "notes" / "membranes.md")
    said = json.loads(phago("tag", membranes, "--db", str(db), "--add", "Review", "--json"))
    assert [d["tags"] for d in said] == [["biology", "cells", "review"]]
    # a tag the file's front matter names stays while it names it
    said = json.loads(
        phago(
            "tag", membranes, "--db", str(db), "--remove", "review", "--remove", "cells", "--json"
        )
    )
    assert [d["tags"] for d in said] == [["biology", "cells"]]
    phago("tag", membranes, "--db", str(db), "--add", "Review")
    glaciers = str(before["Glaciers"]["id"])
    phago("tag", glaciers, "--db", str(db), "--add", "review")
    assert sorted(listed(db, "review")) == ["Glaciers", "Membranes"]
    after = listed(db)
    assert after["Membranes"]["added"] == before["Membranes"]["added"]
    assert after["Ribosomes"] == before["Ribosomes"]
    assert json.loads(phago("export", "--db", str(db), "--format", "json", "--out", "-")) == graph
    files = [db] if db.is_file() else sorted(p for p in db.rglob("*") if p.is_file())
    stamp = [p.stat().st_mtime_ns for p in files]
    phago("tag", glaciers, "--db", str(db), "--add", "review")  # no change: not rewritten
    assert [p.stat().st_mtime_ns for p in files] == stamp and files
    assert "no stored document" in phago("tag", "12345", "--db", str(db), "--add", "x", code=1)
    assert "--add TAG or --remove TAG" in phago("tag", glaciers, "--db", str(db), code=2)
    assert "both name x" in phago(
        "tag", glaciers, "--db", str(db), "--add", "x", "--remove", "X", code=2
    )
    assert "No tag changed on 1 document" in phago(
        "tag", glaciers, "--db", str(db), "--remove", "zz"
    )


def test_front_matter_tags_follow_the_file_as_it_reads_now(tmp_path: Path) -> None:
    db = str(tmp_path / "n.db")
    note = tmp_path / "note.md"
    body = "# Photosynthesis\n\nPlants turn sunlight and water into glucose.\n"
    note.write_text("---\ntags: [draft]\n---\n" + body)
    phago("ingest", str(note), "--db", db, "--tag", "given")
    note.write_text("---\ntags: [final]\n---\n" + body)  # only the tags changed
    phago("ingest", str(note), "--db", db)
    assert listed(Path(db))["Photosynthesis"]["tags"] == ["final", "given"]
    note.write_text("---\ntags: [final]\n---\n" + body + "\nAnd oxygen.\n")  # an edit
    phago("ingest", str(note), "--db", db)
    assert listed(Path(db))["Photosynthesis"]["tags"] == ["final", "given"]
    copy = tmp_path / "copy.md"  # a copy's front matter counts for the document it holds
    copy.write_text("---\ntags: [copied]\n---\n" + body + "\nAnd oxygen.\n")
    phago("ingest", str(copy), "--db", db)
    assert listed(Path(db))["Photosynthesis"]["tags"] == ["copied", "final", "given"]
    phago("forget", str(copy), "--db", db)  # the copy's record goes, and its tags with it
    assert listed(Path(db))["Photosynthesis"]["tags"] == ["final", "given"]


def test_brackets_in_titles_tags_and_queries_are_printed_as_they_are(tmp_path: Path) -> None:
    notes = tmp_path / "mk"
    notes.mkdir()
    (notes / "m.md").write_text(
        '---\ntags: ["[/b]", lab]\n---\n# Markup [/i] title\n\nLichens grow on granite [/b].\n'
    )
    db = str(tmp_path / "mk.db")
    phago("ingest", str(notes), "--db", db)
    assert "[/i] title" in phago("list", "--db", db)
    shown = phago("query", "lichens [/x]", "--documents", "--db", db)
    assert "granite [/b]" in shown and "'lichens [/x]'" in shown
    assert "[/x]" in phago("query", "lichens [/x]", "--db", db)
    doc = listed(Path(db))["Markup [/i] title"]
    assert doc["tags"] == ["/b", "lab"]
    assert "Markup [/i] title" in phago("show", str(doc["id"]), "--db", db)


def test_list_and_query_keep_to_documents_added_since_a_time(tmp_path: Path) -> None:
    c = Colony()
    old = c.ingest_document("Old", "Mitochondria make energy for cells.")
    new = c.ingest_document("New", "Mitochondria divide inside cells.")
    unknown = c.ingest_document("Unknown", "Mitochondria hold their own genome, cells too.")
    c.spawn_digesters(2)
    c.run_until_digested(300)
    cat = Catalog()
    cat.note_added([old], ["lab"], when="2026-12-01T09:00:00Z")
    cat.note_added([new], ["lab"], when="2026-12-06T18:30:00Z")
    db = str(save(c, tmp_path / "c.db", catalog=cat))
    assert sorted(listed(Path(db))) == ["New", "Old", "Unknown"]
    assert sorted(
        d["title"] for d in json.loads(phago("list", "--db", db, "--json", "--since", "2026-12-06"))
    ) == ["New"]
    # a time with an offset is turned to UTC (19:00 in +01:00 is 18:00 UTC)
    assert json.loads(phago("list", "--db", db, "--json", "--since", "2026-12-06T19:00+01:00"))[0][
        "id"
    ] == str(new)
    assert json.loads(phago("list", "--db", db, "--json", "--since", "2026-12-07")) == []
    found = json.loads(
        phago(
            "query",
            "mitochondria",
            "--db",
            db,
            "--documents",
            "--json",
            "--since",
            "2026-12-02",
            "--tag",
            "lab",
        )
    )["documents"]
    assert [d["title"] for d in found] == ["New"]
    assert "--since" in phago("list", "--db", db, "--since", "yesterday", code=2)
    assert "with --documents --db" in phago(
        "query", "cells", "--db", db, "--since", "2026-12-01", code=2
    )
    recent = json.loads(phago("list", "--db", db, "--json", "--since", "2000-01-01"))
    assert str(unknown) not in {d["id"] for d in recent}  # its time is not known


def test_phago_tags_counts_each_tags_documents(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    phago("ingest", str(notes(tmp_path / "notes")), "--db", str(db), "--tag", "lab")
    counted = json.loads(phago("tags", "--db", str(db), "--json"))
    assert counted[0] == {"tag": "lab", "documents": 3}
    assert {c["tag"]: c["documents"] for c in counted} == {
        "lab": 3,
        "biology": 1,
        "cells": 1,
        "geology": 1,
        "ice": 1,
    }
    assert "5 tags in" in phago("tags", "--db", str(db))
    plain = save(Colony(), tmp_path / "plain.db")
    assert json.loads(phago("tags", "--db", str(plain), "--json")) == []
    assert "carries a tag" in " ".join(phago("tags", "--db", str(plain)).split())


def _store_rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the store file ``db``, row by row (the blobs by name and checksum)."""
    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            t: sorted(
                con.execute(
                    "SELECT name, encoding, sha256 FROM blobs"
                    if t == "blobs"
                    else f"SELECT * FROM {t}"
                ).fetchall(),
                key=repr,
            )
            for t in tables
        }


def test_tagging_a_store_file_writes_only_the_documents_information(tmp_path: Path) -> None:
    import os

    from phago.errors import StoreChanged
    from phago.store import load, tag_in_store

    db = tmp_path / "n.db"
    phago("ingest", str(notes(tmp_path / "notes")), "--db", str(db))
    os.chmod(db, 0o640)
    held = load(db)  # (loaded before the tag: its save must see the store changed)
    before = _store_rows(db)
    glaciers = next(d for d, i in read_document_info(db).items() if "geology" in i.tags)
    inode = db.stat().st_ino
    assert tag_in_store(db, [glaciers], add=["review"])[glaciers].tags == (
        "geology",
        "ice",
        "review",
    )
    after = _store_rows(db)
    # the colony, sources, history and every other part as they were
    assert {t: r for t, r in after.items() if t not in ("blobs", "phago_schema")} == {
        t: r for t, r in before.items() if t not in ("blobs", "phago_schema")
    }
    changed = set(after["blobs"]) ^ set(before["blobs"])
    assert {name for name, _, _ in changed} == {"document_info"}
    assert after["phago_schema"][0][:3] == before["phago_schema"][0][:3]  # (and its save time)
    assert os.stat(db).st_mode & 0o777 == 0o640
    assert db.stat().st_ino == inode  # changed in place
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary
    assert not db.with_name("n.db-journal").exists()
    assert read_document_info(db)[glaciers].tags == ("geology", "ice", "review")
    assert load(db).substrate.document_count == 3  # (it loads, every checksum good)
    with pytest.raises(StoreChanged):
        save(held, db)
    link = tmp_path / "link.db"  # a store reached by a link: the file it names changes
    link.symlink_to(db)
    tag_in_store(link, [glaciers], add=["linked"])
    assert link.is_symlink() and "linked" in read_document_info(db)[glaciers].tags
    os.chmod(db, 0o440)
    with pytest.raises(StoreError, match="read-only"):
        tag_in_store(db, [glaciers], add=["more"])
    assert read_document_info(db)[glaciers].tags == ("geology", "ice", "linked", "review")
    # a file with another hard link is replaced: the other name keeps what it held
    os.chmod(db, 0o640)
    backup = tmp_path / "backup.db"
    os.link(db, backup)
    kept = backup.read_bytes()
    tag_in_store(db, [glaciers], remove=["linked"])
    assert backup.read_bytes() == kept and db.stat().st_ino != backup.stat().st_ino
    assert read_document_info(db)[glaciers].tags == ("geology", "ice", "review")
    assert os.stat(db).st_mode & 0o777 == 0o640


def test_tagging_a_sharded_store_writes_only_its_manifest(tmp_path: Path) -> None:
    from phago.store import load_distributed, read_manifest, tag_in_store

    db = tmp_path / "n.d"
    phago("ingest", str(notes(tmp_path / "notes")), "--db", str(db), "--shards", "2")
    gen = Path(read_manifest(db)["_generation"])
    shard_files = sorted(gen.glob("shard-*.db"))
    inodes = [f.stat().st_ino for f in shard_files]
    glaciers = next(d for d, i in read_document_info(db).items() if "geology" in i.tags)
    tag_in_store(db, [glaciers], add=["review"])
    new = Path(read_manifest(db)["_generation"])
    assert new != gen and not gen.exists()  # a new generation, the old one gone
    # the same shard files, linked into it (not written again)
    assert [f.stat().st_ino for f in sorted(new.glob("shard-*.db"))] == inodes
    assert read_document_info(db)[glaciers].tags == ("geology", "ice", "review")
    with load_distributed(db, backend="local") as dc:  # (every shard file checked)
        assert dc.stats().documents_total == 3


def test_tag_documents_reports_whose_tags_changed_and_writes_only_then(tmp_path: Path) -> None:
    from phago.store import tag_documents

    db = tmp_path / "n.db"
    phago("ingest", str(notes(tmp_path / "notes")), "--db", str(db))
    info = read_document_info(db)
    glaciers = next(d for d, i in info.items() if "geology" in i.tags)
    plain = next(d for d, i in info.items() if not i.tags)
    report = tag_documents(db, [plain, glaciers], add=["review"])
    assert report.changed == [plain, glaciers]
    assert report.info[plain].tags == ("review",)
    assert report.info[glaciers].tags == ("geology", "ice", "review")
    before = (db.read_bytes(), db.stat().st_mtime_ns)
    again = tag_documents(db, [glaciers, plain], add=["review"])
    assert again.changed == [] and list(again.info) == [glaciers, plain]
    assert (db.read_bytes(), db.stat().st_mtime_ns) == before  # nothing written
    # a tag the front matter names already: recorded as the document's own (it stays when
    # the file no longer names it), yet no tag of the document changed
    own = tag_documents(db, [glaciers], add=["ice"])
    assert own.changed == [] and db.read_bytes() != before[0]
    assert read_catalog(db).info[glaciers].tags == ("ice", "review")
