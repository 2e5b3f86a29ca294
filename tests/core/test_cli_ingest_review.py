"""``phago ingest`` after a review of what it tells its user: files that cannot be decoded
(or parsed) are skipped, never a traceback; codecs that are no text encodings are refused;
an ingest cut short by ``--max-ticks`` says so, and the next one digests the rest and
retires the leftover digesters; missing paths are an error; every error has its type in
JSON; reasons, counts and help say what is true."""

from __future__ import annotations

import codecs
import json
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phago import Colony, Digester, Position
from phago.cli import main
from phago.ingest import SUPPORTED_SUFFIXES, digest_new_documents, ingest_paths

WORDS = ["cell", "wall", "ion", "gate", "star", "gas", "river", "stone", "gene", "code"]


def ingest(*args: str) -> Result:
    """``phago ingest ARGS`` in this process (stdout and stderr apart)."""
    return CliRunner().invoke(main, ["ingest", *args])


def ok(r: Result) -> Result:
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    return r


def json_of(r: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def error_of(r: Result, exit_code: int = 1) -> dict[str, Any]:
    """The JSON error object of a failed ``--json`` call."""
    assert r.exit_code == exit_code, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    error: dict[str, Any] = json_of(r)["error"]
    assert error["exit_code"] == exit_code
    return error


def notes(folder: Path, n: int) -> Path:
    """``n`` short notes, each of a few concepts, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"n{i:03d}.txt").write_text(
            f"{WORDS[i % 10]} {WORDS[(i + 3) % 10]} note{i} topic{i % 7} membrane", "utf-8"
        )
    return folder


def stats_of(db: Path) -> dict[str, Any]:
    r = ok(CliRunner().invoke(main, ["stats", "--db", str(db), "--json"]))
    return json_of(r)


# ----------------------------------------------------------------------- 1. encodings


@pytest.mark.parametrize("encoding", ["utf-16", "punycode", "undefined"])
def test_a_file_not_valid_in_the_encoding_is_skipped_not_a_traceback(
    tmp_path: Path, encoding: str
) -> None:
    """``--encoding utf-16`` on a UTF-8 file without a byte-order mark raised UnicodeError
    (not UnicodeDecodeError) out of the command: a traceback, exit 1, no JSON."""
    note = tmp_path / "x.txt"
    note.write_text("Cells have membranes and proteins.\n", "utf-8")
    r = ingest(str(note), "--db", str(tmp_path / "g.db"), "--encoding", encoding, "--json")
    error = error_of(r)
    assert error["type"] == "DocumentError"
    assert f"x.txt: not valid {encoding} text" in error["message"]
    assert not (tmp_path / "g.db").exists()
    # in a folder: that file is skipped and reported, the others are added
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "utf8.txt").write_text("Cells have membranes and proteins.\n", "utf-8")
    good = "Ribosomes translate messenger RNA."
    (folder / "wide.txt").write_bytes(
        codecs.BOM_UTF16_LE + good.encode("utf-16-le")
        if encoding == "utf-16"
        else good.encode("ascii")
    )
    if encoding == "utf-16":
        r = ok(ingest(str(folder), "--db", str(tmp_path / "f.db"), "--encoding", encoding))
        assert "utf8.txt: not valid utf-16 text" in r.stderr
        assert "Added 1 document from 1 file" in r.stdout


@pytest.mark.parametrize("encoding", ["rot13", "base64", "uu", "hex", "zlib", "bz2", "quopri"])
def test_a_codec_that_is_no_text_encoding_is_refused(tmp_path: Path, encoding: str) -> None:
    note = tmp_path / "x.txt"
    note.write_text("Cells have membranes.", "utf-8")
    r = ingest(str(note), "--db", str(tmp_path / "g.db"), "--encoding", encoding, "--json")
    error = error_of(r, exit_code=2)
    assert error["type"] == "BadParameter"
    assert f"{encoding!r} is not a text encoding" in error["message"]
    r = ingest(str(note), "--db", str(tmp_path / "g.db"), "--encoding", encoding)
    assert r.exit_code == 2 and "is not a text encoding" in r.stderr
    assert not (tmp_path / "g.db").exists()


def test_lone_surrogates_and_unparsable_html_are_skipped(tmp_path: Path) -> None:
    """Text that decodes to lone surrogates (utf-7, unicode_escape) crashed the hashing of
    the file with UnicodeEncodeError; HTML with a marked section html.parser does not know
    raised AssertionError."""
    (tmp_path / "u7.txt").write_bytes(b"Cells +2D0- membranes")
    r = ingest(str(tmp_path / "u7.txt"), "--db", str(tmp_path / "a.db"), "--encoding", "utf-7")
    assert r.exit_code == 1 and "u7.txt: not valid utf-7 text" in r.stderr
    assert "lone surrogate" in r.stderr and "Traceback" not in r.output
    (tmp_path / "esc.txt").write_bytes(b"Cells \\ud800 membranes")
    r = ingest(
        str(tmp_path / "esc.txt"), "--db", str(tmp_path / "b.db"), "--encoding", "unicode_escape"
    )
    assert r.exit_code == 1 and "lone surrogate" in r.stderr
    folder = tmp_path / "web"
    folder.mkdir()
    (folder / "bad.html").write_text("<p>Cells and membranes</p><![foo[ x ]]>", "utf-8")
    (folder / "good.html").write_text("<p>Ribosomes translate RNA</p>", "utf-8")
    r = ok(ingest(str(folder), "--db", str(tmp_path / "c.db"), "--json"))
    data = json_of(r)
    assert data["documents_added"] == 1
    [skipped] = data["skipped_files"]
    assert skipped["reason"].endswith(
        "bad.html: cannot parse the HTML (unknown status keyword 'foo' in marked section)"
    )


def test_a_pdf_page_with_lone_surrogates_is_read_with_replacement_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken font map can make pypdf give lone surrogates, which no store can hold."""
    import pypdf

    class Page:
        def extract_text(self) -> str:
            return "Cells \ud800 membranes"

    class Reader:
        is_encrypted = False

        def __init__(self, _path: Path) -> None:
            self.pages = [Page()]

    monkeypatch.setattr(pypdf, "PdfReader", Reader)
    (tmp_path / "p.pdf").write_bytes(b"%PDF-1.4 (stands in)")
    r = ok(ingest(str(tmp_path / "p.pdf"), "--db", str(tmp_path / "p.db"), "--json"))
    assert json_of(r)["documents_added"] == 1


def test_a_file_name_that_is_not_valid_text_is_skipped(tmp_path: Path) -> None:
    """A name with bytes the file system's encoding cannot decode: the store records every
    file's path as text, and saving raised UnicodeEncodeError."""
    folder = tmp_path / "names"
    folder.mkdir()
    try:
        with open(os.path.join(os.fsencode(folder), b"\xff notes.txt"), "wb") as fh:
            fh.write(b"Cells have membranes.")
    except (OSError, UnicodeError):  # pragma: no cover - a file system that refuses it
        pytest.skip("this file system takes no such name")
    (folder / "good.txt").write_text("Ribosomes translate RNA.", "utf-8")
    db = tmp_path / "n.db"
    r = ok(ingest(str(folder), "--db", str(db), "--json"))
    data = json_of(r)
    assert data["documents_added"] == 1
    assert "its path is not valid" in data["skipped_files"][0]["reason"]
    assert stats_of(db)["documents_total"] == 1


ENCODINGS = ["utf-8", "utf-16", "utf-32", "utf-7", "punycode", "idna", "unicode_escape"]
PIECES = [
    b"cells membranes ",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"+2D0-",
    b"\\ud800",
    b"<![foo[ x ]]>",
    b"---\nkey: v\n---\n",
    b"https://x.org/a ",
    b"\xc3\x28",
    b"\n\n",
    b"\x00",
]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(st.sampled_from(PIECES), max_size=6).map(b"".join),
    suffix=st.sampled_from(sorted(s for s, kind in SUPPORTED_SUFFIXES.items() if kind != "pdf")),
    encoding=st.sampled_from(ENCODINGS),
)
def test_no_file_makes_ingest_raise(data: bytes, suffix: str, encoding: str) -> None:
    """Whatever a text or HTML file holds, in whatever text encoding, it is added or
    skipped with a reason, and what is added is valid text."""
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / f"f{suffix}"
        f.write_bytes(data)
        colony = Colony(seed=0)
        report, _ = ingest_paths(colony, [f], encoding=encoding)
        assert len(report.added) + len(report.skipped) + len(report.duplicates) == 1
        for doc in colony.documents():
            doc.content.encode("utf-8")
            doc.title.encode("utf-8")
        for s in report.skipped:
            assert s.reason.startswith(str(f.resolve()))


# ----------------------------------------------------------------------- 2. --max-ticks


@pytest.mark.parametrize("shards", [None, "2"], ids=["file", "sharded"])
def test_an_ingest_cut_short_warns_and_the_next_ones_finish_and_retire(
    tmp_path: Path, shards: str | None
) -> None:
    """The review: ``Digested in 2 ticks: 10/40 documents`` with no warning; and the
    digesters left holding text were never retired (``agents_alive`` 10 after two more
    ingests that digested everything)."""
    folder = notes(tmp_path / "many", 40)
    db = tmp_path / ("m.d" if shards else "m.db")
    extra = ["--shards", shards] if shards else []
    r = ok(ingest(str(folder), "--db", str(db), "--max-ticks", "2", "--json", *extra))
    data = json_of(r)
    left = data["stats"]["documents_total"] - data["stats"]["documents_digested"]
    held = stats_of(db)["agents_alive"]  # digesters still holding text are kept
    assert left > 0 and held > 0
    assert data["undigested"] == left + held  # (taken in by a digester is not digested)
    assert f"{left + held} of the 40 documents in {db} are not digested yet" in r.stderr
    assert "--max-ticks 2 ran out" in r.stderr and "next phago ingest" in r.stderr
    for i in range(2):
        note = tmp_path / f"new{i}.txt"
        note.write_text(f"glacier melt and river deltas {i}", "utf-8")
        r = ok(ingest(str(note), "--db", str(db), "--json"))
        assert json_of(r)["undigested"] == 0 and "not digested yet" not in r.stderr
    summary = stats_of(db)
    assert summary["documents_digested"] == summary["documents_total"] == 42
    assert summary["agents_alive"] == 0


def test_the_warning_in_text_and_an_ingest_of_nothing_new_digests_the_rest(
    tmp_path: Path,
) -> None:
    folder = notes(tmp_path / "many", 40)
    db = tmp_path / "m.db"
    r = ok(ingest(str(folder), "--db", str(db), "--max-ticks", "2"))
    assert "Added 40 documents from 40 files; 0 duplicates; 0 skipped." in r.stdout
    assert "warning" in r.stderr and "not digested yet" in r.stderr
    assert "Saved to" in r.stdout  # (and it succeeds: nothing is lost)
    r = ok(ingest(str(folder), "--db", str(db), "--json"))  # every file a duplicate
    data = json_of(r)
    assert data["documents_added"] == 0 and data["duplicates"] == 40
    assert data["ticks"] > 0 and data["undigested"] == 0
    summary = stats_of(db)
    assert summary["documents_digested"] == summary["documents_total"] == 40
    assert summary["agents_alive"] == 0
    r = ok(ingest(str(folder), "--db", str(db)))  # and then there is nothing left to do
    assert "Nothing new" in r.stdout and "not digested" not in r.stderr


def test_digest_new_documents_retires_an_earlier_runs_leftovers_once_done() -> None:
    """Digesters a call left holding text (``max_ticks`` ran out), named as ``leftovers``,
    are retired by the next call once they hold none; other agents are left alone."""
    c = Colony(seed=0)
    first = [
        c.ingest_document(f"n{i}", f"{WORDS[i % 10]} {WORDS[(i + 3) % 10]} note{i}")
        for i in range(30)
    ]
    digest_new_documents(c, first, digesters=5, max_ticks=2)
    held = {a.id for a in c.agents if a.is_digesting}
    assert held and held == {a.id for a in c.agents}
    bystander = c.spawn(Digester(Position(0.0, 0.0), max_idle=10_000))
    note = c.ingest_document("new", "glacier melt and river deltas")
    digest_new_documents(c, [note], digesters=1, max_ticks=2000, leftovers=held)
    assert c.stats().documents_digested == c.stats().documents_total == 31
    assert {a.id for a in c.agents} == {bystander}  # the leftovers are retired, not it
    # a call without new documents finishes an earlier run's, and retires its leftovers
    more = [c.ingest_document(f"m{i}", f"{WORDS[i % 10]} more{i}") for i in range(20)]
    digest_new_documents(c, more, digesters=2, max_ticks=2)
    assert c.substrate.undigested_count > 0
    left = {a.id for a in c.agents if a.is_digesting} - {bystander}
    assert left
    assert digest_new_documents(c, [], digesters=2, max_ticks=2000, leftovers=left) > 0
    assert not c.has_undigested_work()
    assert not {a.id for a in c.agents} - {bystander}


def test_retire_leftovers_finds_an_earlier_runs_digesters_itself() -> None:
    """``retire_leftovers=True`` retires what ``leftovers`` would name (every agent holding
    text when the call starts, as ``phago ingest`` does), in one colony and across shards;
    an agent that holds no text is left alone."""
    from phago.distributed import DistributedColony
    from phago.ingest import DistributedSink, digest_new_distributed

    c = Colony(seed=0)
    first = [
        c.ingest_document(f"n{i}", f"{WORDS[i % 10]} {WORDS[(i + 3) % 10]} note{i}")
        for i in range(30)
    ]
    digest_new_documents(c, first, digesters=5, max_ticks=2)
    held = set(c.agent_ids(digesting=True))
    assert held and held == set(c.agent_ids()) and c.total_retired == 0
    bystander = c.spawn(Digester(Position(0.0, 0.0), max_idle=10_000))
    note = c.ingest_document("new", "glacier melt and river deltas")
    digest_new_documents(c, [note], digesters=1, max_ticks=2000, retire_leftovers=True)
    assert c.stats().documents_digested == c.stats().documents_total == 31
    assert c.agent_ids() == [bystander]  # the leftovers are retired, not it
    assert c.total_retired == len(held) + 1  # (and the run's own digester)

    with DistributedColony(2, seed=0) as dc:
        sink = DistributedSink(dc)
        ids = [
            sink.ingest_document(f"n{i}", f"{WORDS[i % 10]} {WORDS[(i + 5) % 10]} note{i}")
            for i in range(30)
        ]
        digest_new_distributed(sink, ids, digesters=4, max_ticks=2)
        assert dc.agent_ids(digesting=True)
        digest_new_distributed(sink, [], digesters=1, max_ticks=2000, retire_leftovers=True)
        assert not dc.has_undigested_work()
        assert dc.stats().agents_alive == 0  # the earlier run's digesters left too


# ----------------------------------------------------------------------- 3. --shards on a file


def test_shards_on_a_file_says_what_the_file_is(tmp_path: Path) -> None:
    text = tmp_path / "v.txt"
    text.write_text("Cells have membranes.", "utf-8")
    md = tmp_path / "v.md"
    md.write_text("# Cells", "utf-8")
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    for db in (text, md, other):
        before = db.read_bytes()
        r = ingest(str(text), "--db", str(db), "--shards", "2", "--json")
        error = error_of(r)
        assert error["type"] == "StoreError"
        assert error["message"] == f"{db} is a file, not a folder; --shards needs a folder"
        assert db.read_bytes() == before
    store = tmp_path / "s.db"
    ok(ingest(str(text), "--db", str(store)))
    r = ingest(str(text), "--db", str(store), "--shards", "2")
    assert r.exit_code == 1
    assert f"{store} is a colony store file; --shards needs a folder" in r.stderr


# ----------------------------------------------------------------------- 4. missing paths


def test_a_missing_path_is_an_error_before_anything_is_added(tmp_path: Path) -> None:
    good = tmp_path / "v.txt"
    good.write_text("Cells have membranes.", "utf-8")
    db = tmp_path / "g.db"
    gone, typo = tmp_path / "nonexistent.txt", tmp_path / "typo" / "dir"
    r = ingest(str(good), str(gone), str(typo), "--db", str(db))
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "no such file or directory" in r.stderr
    assert str(gone) in r.stderr and str(typo) in r.stderr
    assert not db.exists()  # nothing added, no store made
    ok(ingest(str(good), "--db", str(db)))
    before = db.read_bytes()
    other = tmp_path / "w.txt"
    other.write_text("Ribosomes translate RNA.", "utf-8")
    error = error_of(ingest(str(other), str(gone), "--db", str(db), "--json"))
    assert error["type"] == "FileNotFoundError" and str(gone) in error["message"]
    assert db.read_bytes() == before  # the store is unchanged
    assert stats_of(db)["documents_total"] == 1


# ----------------------------------------------------------------------- 5. reasons


def test_a_file_of_only_web_addresses_or_front_matter_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "links.txt").write_text("https://example.org/a\nwww.example.com/b\n", "utf-8")
    (folder / "meta.md").write_text("---\ntitle: x\ntags: [a, b]\n---\n\n", "utf-8")
    (folder / "both.md").write_text("---\ntitle: x\n---\nhttps://example.org\n", "utf-8")
    (folder / "blank.txt").write_text("  \n\t\n", "utf-8")
    (folder / "good.txt").write_text("Cells have membranes.", "utf-8")
    data = json_of(ok(ingest(str(folder), "--db", str(tmp_path / "r.db"), "--json")))
    reasons = {Path(s["path"]).name: s["reason"] for s in data["skipped_files"]}
    assert reasons["links.txt"].endswith(
        "links.txt: no text to digest (only web addresses, which ingestion drops)"
    )
    assert reasons["meta.md"].endswith(
        "meta.md: no text to digest (only YAML front matter, which ingestion drops)"
    )
    assert reasons["both.md"].endswith(
        "both.md: no text to digest (only YAML front matter and web addresses, which "
        "ingestion drops)"
    )
    assert reasons["blank.txt"].endswith("blank.txt: only whitespace")


# ----------------------------------------------------------------------- 6. typed errors


def test_json_errors_have_their_types(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "blank.md").write_bytes(b"  \n")
    (bad / "binary.txt").write_bytes(b"a\x00b")
    (bad / "latin.txt").write_bytes(b"caf\xe9 cells")
    db = tmp_path / "good.db"
    for name, kind in [
        ("empty.txt", "EmptyDocument"),
        ("blank.md", "EmptyDocument"),
        ("binary.txt", "DocumentError"),
        ("latin.txt", "DocumentError"),
    ]:
        error = error_of(ingest(str(bad / name), "--db", str(db), "--json"))
        assert error["type"] == kind, (name, error)
        assert error["message"].startswith("nothing was added: "), error
    error = error_of(
        ingest(str(bad / "empty.txt"), str(bad / "blank.md"), "--db", str(db), "--json")
    )
    assert error["type"] == "EmptyDocument"
    assert error_of(ingest(str(bad), "--db", str(db), "--json"))["type"] == "DocumentError"
    assert not db.exists()
    empty_dir = tmp_path / "emptydir"
    empty_dir.mkdir()
    error = error_of(ingest(str(bad), "--db", str(empty_dir), "--json"))
    assert error["type"] == "StoreError" and "not a distributed store" in error["message"]
    error = error_of(
        ingest(str(bad), "--db", str(tmp_path / "no" / "x.d"), "--shards", "2", "--json")
    )
    assert error["type"] == "StoreError" and "does not exist" in error["message"]
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    error = error_of(ingest(str(nothing), "--db", str(db), "--json"))
    assert error["type"] == "DocumentError" and "files found in" in error["message"]


# ----------------------------------------------------------------------- 7. words


def test_counts_are_singular_or_plural(tmp_path: Path) -> None:
    one = tmp_path / "one.txt"
    one.write_text("Cells have membranes.", "utf-8")
    db = tmp_path / "c.db"
    r = ok(ingest(str(one), "--db", str(db)))
    assert "Added 1 document from 1 file; 0 duplicates; 0 skipped." in r.stdout
    assert "Digested in " in r.stdout and "1/1 document," in r.stdout
    r = ok(ingest(str(one), "--db", str(db)))
    assert "Added 0 documents from 0 files; 1 duplicate; 0 skipped." in r.stdout


def test_help_lists_every_suffix_the_reader_takes() -> None:
    r = ok(CliRunner().invoke(main, ["ingest", "--help"]))
    text = " ".join(r.stdout.split())
    listed = ", ".join(list(SUPPORTED_SUFFIXES)[:-1]) + " and " + list(SUPPORTED_SUFFIXES)[-1]
    assert listed in text
    for suffix in SUPPORTED_SUFFIXES:
        assert suffix in text
    top = ok(CliRunner().invoke(main, ["--help"]))
    assert "ingest" in top.stdout and "{suffixes}" not in top.stdout + r.stdout


def test_a_digester_the_caller_did_not_name_stays_even_while_digesting() -> None:
    """The review: a user's own long-lived digester, digesting when the call started, was
    retired as if an earlier run had left it."""
    c = Colony(seed=0)
    a = c.ingest_document("a", " ".join(f"alpha{i}" for i in range(300)))
    p = c.substrate.get_document(a).position
    mine = c.spawn(Digester(Position(p.x + 1, p.y + 1), max_idle=10_000))
    for _ in range(10):
        c.run(1)
        if any(x.id == mine and x.is_digesting for x in c.agents):
            break
    assert any(x.id == mine and x.is_digesting for x in c.agents)
    b = c.ingest_document("b", "glacier melt river delta")
    digest_new_documents(c, [b], digesters=1, max_ticks=500)
    assert any(x.id == mine for x in c.agents)


def test_an_ingest_whose_documents_are_all_taken_in_but_not_digested_warns(
    tmp_path: Path,
) -> None:
    """The review: with every document taken in by a digester when ``--max-ticks`` ran out,
    the store had no concepts and the command said nothing."""
    folder = tmp_path / "long"
    folder.mkdir()
    for i in range(6):
        words = " ".join(f"{WORDS[(i + j) % 10]}{j}" for j in range(400))
        (folder / f"d{i}.txt").write_text(words, "utf-8")
    for extra in ([], ["--shards", "2"]):
        db = tmp_path / ("s.d" if extra else "s.db")
        r = ok(ingest(str(folder), "--db", str(db), "--max-ticks", "2", "--json", *extra))
        data = json_of(r)
        assert data["undigested"] > 0 and "not digested yet" in r.stderr, (extra, r.stderr)


def test_a_name_that_cannot_be_looked_at_is_a_json_error_not_a_traceback(
    tmp_path: Path,
) -> None:
    r = ingest(str(tmp_path / ("a" * 300 + ".txt")), "--db", str(tmp_path / "x.db"), "--json")
    error = error_of(r)
    assert "name too long" in error["message"].lower()
    assert not (tmp_path / "x.db").exists()


def test_sharded_leftovers_are_found_when_a_document_is_added_again() -> None:
    """The review: an id already stored and digested among the new ones hid an earlier
    run's leftover on another shard, which then got no digester (the run went to
    ``max_ticks``)."""
    import numpy as np

    from phago.distributed import DistributedColony
    from phago.ids import document_id
    from phago.ingest import DistributedSink, digest_new_distributed

    with DistributedColony(3, seed=0) as dc:

        def owners(*ids: int) -> list[int]:
            return list(dc.coordinator.route_documents(np.array(ids, np.uint64)).tolist())

        sink = DistributedSink(dc)
        x = sink.ingest_document("X", "cell membrane protein lipid bilayer")
        z_id = document_id("Z", "zeta theta iota kappa lambda")
        taken = set(owners(int(x), int(z_id)))
        title = next(
            f"Y{i}"
            for i in range(200)
            if owners(int(document_id(f"Y{i}", "leftover words")))[0] not in taken
        )
        digest_new_distributed(sink, [x], digesters=1, max_ticks=200)
        sink.ingest_document(title, "leftover words")  # left for a later run
        sink.flush()
        again = sink.ingest_document("X", "cell membrane protein lipid bilayer")
        assert again == x  # (stored and digested already)
        z = sink.ingest_document("Z", "zeta theta iota kappa lambda")
        ran = digest_new_distributed(sink, [again, z], digesters=1, max_ticks=300)
        assert ran < 300 and not dc.has_undigested_work()
