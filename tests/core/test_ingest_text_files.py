"""Reading files for ``phago ingest``: parts that fit the keyword limit, UTF-16/32 files,
damaged PDFs, absolute paths, unsupported files in folders, Markdown titles, front matter
and web addresses, and files that give no concepts."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import phago
from phago import Colony, ColonyConfig
from phago.cli import main
from phago.corpus import leading_title, load_sample_corpus
from phago.errors import DocumentError
from phago.ingest import (
    discover,
    ingest_paths,
    inspect_file,
    is_encoded,
    read_parts,
    split_by_keywords,
    text_chunks,
    without_encoded,
)
from phago.synthetic import pseudo_word
from phago.text import tokenize


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def wide_text(paragraphs: int = 400, words: int = 80) -> str:
    """~200 kB of prose-like text with thousands of distinct words, in paragraphs."""
    return "\n\n".join(
        " ".join(pseudo_word((p * 37 + w * 101) % 9000) for w in range(words)) + "."
        for p in range(paragraphs)
    )


# ------------------------------------------------------------------- parts within the limit


def test_an_ordinary_big_text_file_ingests_with_defaults(tmp_path: Path) -> None:
    text = wide_text()
    f = write(tmp_path / "all.txt", text)
    assert len(text) > 150_000 and len(set(tokenize(text[:50_000]))) > 2000
    c = Colony()
    report, sources = ingest_paths(c, [f])
    assert report.skipped == [] and report.documents_added > 4
    limit = ColonyConfig().clique_keyword_limit
    assert limit is not None
    contents = [d.content for d in c.documents()]
    assert all(len(set(tokenize(x))) <= limit for x in contents)
    assert " ".join(contents).split() == text.split()  # nothing lost or reordered
    n = report.documents_added
    assert [d.title for d in c.documents()] == [f"all (part {k}/{n})" for k in range(1, n + 1)]
    assert [s.part for s in sources] == list(range(1, n + 1))


def test_the_command_line_ingests_it_into_a_default_store(tmp_path: Path) -> None:
    f = write(tmp_path / "all.txt", wide_text(60))
    r = CliRunner().invoke(main, ["ingest", str(f), "--db", str(tmp_path / "s.db"), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["files_added"] == 1 and out["documents_added"] > 1 and out["skipped"] == 0


def test_inspect_and_read_agree_on_the_parts(tmp_path: Path) -> None:
    f = write(tmp_path / "a.txt", wide_text(120))
    info = inspect_file(f, max_chars=30_000, max_keywords=500, split_keywords=500)
    parts = list(read_parts(f, max_chars=30_000, split_keywords=500))
    assert info.parts == len(parts) > 2
    assert all(len(p) <= 30_000 and len(set(tokenize(p))) <= 500 for p in parts)
    with pytest.raises(DocumentError, match="distinct keywords"):  # (without splitting)
        inspect_file(f, max_chars=30_000, max_keywords=500)


def test_split_by_keywords_packs_paragraphs_then_finer_cuts() -> None:
    assert list(split_by_keywords("cell wall", 5)) == ["cell wall"]
    text = "cell wall\n\ncell membrane\n\nion channel pump"
    assert list(split_by_keywords(text, 3)) == ["cell wall\n\ncell membrane", "ion channel pump"]
    # one paragraph too wide: its sentences, then its words
    assert list(split_by_keywords("alpha beta. gamma delta. epsilon zeta", 2)) == [
        "alpha beta.",
        "gamma delta.",
        "epsilon zeta",
    ]
    assert list(split_by_keywords("alpha beta gamma delta epsilon", 2)) == [
        "alpha beta",
        "gamma delta",
        "epsilon",
    ]
    # Chinese without punctuation: cut every `limit` characters
    zh = "".join(chr(0x4E00 + i) for i in range(10))
    assert list(split_by_keywords(zh, 4)) == [zh[:4], zh[4:8], zh[8:]]


_WORDS = ["cell", "wall", "ion", "pump", "gene", "北京是中国", "首都", "दिल्ली", "the", "of"]
_PROSE = st.sampled_from([*_WORDS, " ", "  ", "\n", "\n\n", ". ", "。", "!"])


@settings(max_examples=200)
@given(st.lists(_PROSE, max_size=80), st.integers(1, 6))
def test_split_parts_fit_and_keep_every_word(pieces: list[str], limit: int) -> None:
    text = "".join(pieces)
    parts = list(split_by_keywords(text, limit))
    assert all(p == p.strip() and p for p in parts)
    assert all(len(set(tokenize(p))) <= limit for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


# ---------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32", "utf-32-be"])
def test_utf16_and_utf32_files_with_a_bom_are_read(tmp_path: Path, codec: str) -> None:
    bom = {"utf-16-be": "\ufeff", "utf-32-be": "\ufeff"}.get(codec, "")
    f = write(tmp_path / "note.txt", (bom + "UTF16 note about the nucléolus\n").encode(codec))
    assert "".join(text_chunks(f, chunk_size=3)) == "UTF16 note about the nucléolus\n"
    report, _ = ingest_paths(Colony(), [f])
    assert report.skipped == [] and report.documents_added == 1


def test_utf16_by_name_and_binary_utf16(tmp_path: Path) -> None:
    f = write(tmp_path / "le.txt", "membrane proteins".encode("utf-16-le"))
    with pytest.raises(DocumentError, match="binary file"):  # no BOM, read as UTF-8
        inspect_file(f)
    assert "".join(text_chunks(f, encoding="utf-16-le")) == "membrane proteins"
    nul = write(tmp_path / "nul.txt", "\ufeffcell\x00wall".encode("utf-16"))
    with pytest.raises(DocumentError, match="binary file"):
        inspect_file(nul)


# ---------------------------------------------------------------------------------- PDF


def test_a_damaged_pdf_is_reported_and_pypdf_stays_quiet(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path / "broken.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    logger = logging.getLogger("pypdf")
    before = (logger.propagate, list(logger.handlers))
    report, _ = ingest_paths(Colony(), [bad])
    err = capfd.readouterr().err
    assert "EOF marker" not in err and err == ""
    [skipped] = report.skipped
    assert "cannot read the PDF, damaged PDF (EOF marker not found" in skipped.reason
    assert (logger.propagate, list(logger.handlers)) == before


def test_pypdf_records_of_other_code_still_reach_the_root_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from phago.ingest import _PDF_NOTES

    with caplog.at_level(logging.WARNING), _PDF_NOTES.collecting() as notes:
        logging.getLogger("pypdf._reader").warning("mine")
        import threading

        t = threading.Thread(target=lambda: logging.getLogger("pypdf").warning("theirs"))
        t.start()
        t.join()
    assert notes == ["mine"]
    assert [r.getMessage() for r in caplog.records] == ["theirs"]
    # two PDFs open at once (the second pass of one file while another is read), closed in
    # any order: each keeps its own notes, and the logger is put back as it was
    logger = logging.getLogger("pypdf")
    first, second = _PDF_NOTES.collecting(), _PDF_NOTES.collecting()
    a = first.__enter__()
    b = second.__enter__()
    logger.warning("to b")
    first.__exit__(None, None, None)
    logger.warning("to b again")
    second.__exit__(None, None, None)
    assert (a, b) == ([], ["to b", "to b again"])
    assert logger.propagate and _PDF_NOTES not in logger.handlers


# -------------------------------------------------------------------------------- paths


def test_every_path_in_the_report_is_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "notes" / "a.txt", "Ribosomes translate messenger RNA.")
    write(tmp_path / "notes" / "copy.txt", "Ribosomes translate messenger RNA.")
    write(tmp_path / "notes" / "empty.txt", "")
    write(tmp_path / "notes" / "data.json", "{}")
    write(tmp_path / "photo.jpg", b"\xff")
    monkeypatch.chdir(tmp_path)
    report, sources = ingest_paths(Colony(), ["notes", "photo.jpg", "gone.txt"])
    paths = [a.path for a in report.added] + report.duplicates + report.unsupported
    paths += [s.path for s in report.skipped] + [s.path for s in sources]
    # (8: copy.txt, a duplicate of a.txt, is recorded as another source of its document)
    assert len(paths) == 8 and all(os.path.isabs(p) for p in paths)
    for s in report.skipped:
        assert s.reason.startswith(s.path + ": ")
    assert report.skipped[0].path == str(tmp_path / "photo.jpg")


def test_unsupported_files_in_folders_are_counted(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "Mitochondria make ATP.")
    write(tmp_path / "i.json", "{}")
    write(tmp_path / "sub" / "n.csv", "a,b")
    write(tmp_path / ".hidden.json", "{}")
    write(tmp_path / ".git" / "config", "x")
    other: list[str] = []
    files, skipped = discover([tmp_path], unsupported=other)
    assert [f.name for f in files] == ["a.md"] and skipped == []
    assert other == [str(tmp_path / "i.json"), str(tmp_path / "sub" / "n.csv")]
    report, _ = ingest_paths(Colony(), [tmp_path])
    assert report.unsupported == other and report.to_dict()["unsupported"] == 2
    r = CliRunner().invoke(main, ["ingest", str(tmp_path), "--db", str(tmp_path / "s.db")])
    assert r.exit_code == 0, r.output
    assert "2 files of other types passed over (.csv, .json)" in r.output
    write(tmp_path / "b.md", "Chloroplasts hold chlorophyll.")  # the store itself is no note
    r = CliRunner().invoke(main, ["ingest", str(tmp_path), "--db", str(tmp_path / "s.db")])
    assert r.exit_code == 0 and "2 files of other types passed over (.csv, .json)" in r.output
    only = tmp_path / "only"
    write(only / "x.csv", "a")
    r = CliRunner().invoke(main, ["ingest", str(only), "--db", str(tmp_path / "t.db")])
    assert r.exit_code != 0 and "1 file of other types passed over (.csv)" in r.output


# ---------------------------------------------------------------------- Markdown and URLs

NOTE = """---
title: Frontmatter Title
tags: [biology]
---
Intro line before the heading.

```python
# not a heading: a comment
```

# Ribosome *Notes* [link](https://example.com/x)

Ribosomes **translate** messenger RNA. See [docs](https://example.com/x) and
www.example.org/page, or <https://phago.dev/docs?q=1>.
"""


def test_markdown_title_front_matter_and_web_addresses(tmp_path: Path) -> None:
    f = write(tmp_path / "ribosome.md", NOTE)
    c = Colony()
    ingest_paths(c, [f])
    [doc] = c.documents()
    assert doc.title == "Ribosome Notes link"
    assert "tags" not in doc.content and "Frontmatter" not in doc.content
    assert not re.search(r"https|www|example|phago\.dev", doc.content)
    assert {"ribosomes", "translate", "messenger", "docs", "intro"} <= set(tokenize(doc.content))
    assert not {"https", "com", "www", "title", "tags"} & set(tokenize(doc.content))


_PEM = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n"
    "RTESMBAGA1UEChMJQmFsdGltb3JlMRMwEQYDVQQLEwpDeWJlclRydXN0MSIwIAYD\n"
    "VQQDExlCYWx0aW1vcmUgQ3liZXJUcnVzdCBSb290MB4XDTAwMDUxMjE4NDYwMFoX\n"
    "Rw==\n"
    "-----END CERTIFICATE-----\n"
)


def test_encoded_data_in_a_note_makes_no_concepts(tmp_path: Path) -> None:
    # a PEM certificate, a mail's attachment lines and a hash: each line a meaningless term
    text = (
        "Baltimore root certificate\n\nThe gateway trusts this certificate:\n\n"
        + _PEM
        + "\nCommit d41d8cd98f00b204e9800998ecf8427e9a0b1c2d fixed the gateway.\n"
        + "Its dump: "
        + "00ff13a7" * 12
        + "\n"
        + "Paths like src/phago/distributed/backends/ray2 and CamelCaseWordsWithoutDigits stay.\n"
    )
    f = write(tmp_path / "cert.txt", text)
    c = Colony()
    report, _ = ingest_paths(c, [f])
    [doc] = c.documents()
    terms = set(tokenize(doc.content))
    assert {"gateway", "trusts", "certificate", "fixed", "phago", "backends", "ray2"} <= terms
    assert "camelcasewordswithoutdigits" in terms
    # a commit's hash stays (a query for it finds the note); the dump and the key go
    long_terms = [t for t in terms if len(t) >= 20 and any(ch.isdigit() for ch in t)]
    assert long_terms == ["d41d8cd98f00b204e9800998ecf8427e9a0b1c2d"]
    assert "00ff13a7" not in doc.content
    assert "MIIDdzCCAl" not in doc.content and "rw" not in terms
    assert report.documents_added == 1
    lines = "\n".join(_PEM.splitlines()[1:4]) + "\n"  # the key's full lines alone
    only = write(tmp_path / "key.txt", lines)
    nothing, _ = ingest_paths(Colony(), [only])
    assert nothing.documents_added == 0
    assert nothing.skipped[0].reason == (
        f"{only}: no text to digest (only encoded data, which ingestion drops)"
    )


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@given(
    st.lists(
        st.one_of(
            st.text(alphabet=_B64, min_size=24, max_size=70),  # runs around the 32 mark
            st.text(alphabet="abcdef0123456789", min_size=28, max_size=44),  # hashes
            st.text(alphabet="=", max_size=3),
            st.text(alphabet=" \n.,é-", min_size=1, max_size=3),
        ),
        max_size=12,
    ).map("".join)
)
def test_prop_dropping_encoded_data_drops_whole_runs_and_nothing_else(text: str) -> None:
    # the text as maximal runs of base64 characters and runs of anything else: a run goes
    # whole when it is 32+ base64 characters (up to two "=" at its end) and encoded data
    pieces = re.findall(r"[A-Za-z0-9+/=]+|[^A-Za-z0-9+/=]+", text)
    expected = "".join(
        p for p in pieces if not (re.fullmatch(r"[A-Za-z0-9+/]{32,}={0,2}", p) and is_encoded(p))
    )
    kept = without_encoded(text)
    assert kept == expected
    assert without_encoded(kept) == kept
    assert all(any(ch.isdigit() for ch in p) for p in pieces if is_encoded(p))


def test_is_encoded_tells_data_from_words() -> None:
    assert is_encoded("0123456789abcdef" * 5)  # a hexadecimal dump
    assert not is_encoded("0123456789abcdef" * 4)  # a SHA-256 digest: an id a note names
    assert is_encoded("QmFsdGltb3JlMRMwEQYDVQQLEwpDeWJlclRydXN0MSIwIAYD")
    assert not is_encoded("0123456789" * 4)  # digits alone: a number
    assert not is_encoded("abcdefabcdefabcdefabcdefabcdefab")  # hex letters alone
    assert not is_encoded("the/quick/brown/fox/jumps/over/the/lazy/dog/2026")
    assert not is_encoded("Pneumonoultramicroscopicsilicovolcanoconiosis")


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
def test_markdown_reading_is_the_same_in_any_chunk_size(tmp_path: Path, chunk: int) -> None:
    f = write(tmp_path / "ribosome.md", NOTE * 3)
    meta: dict[str, str] = {}
    text = "".join(text_chunks(f, chunk_size=chunk, meta=meta))
    whole: dict[str, str] = {}
    assert text == "".join(text_chunks(f, meta=whole)) and meta == whole
    assert meta["title"] == "Ribosome Notes link" and "https" not in text


def test_a_rule_at_the_top_is_not_front_matter_and_txt_keeps_its_name(tmp_path: Path) -> None:
    md = write(tmp_path / "rule.md", "---\nJust a rule\n---\nCells divide.")
    assert "".join(text_chunks(md)) == "---\nJust a rule\n---\nCells divide."
    txt = write(tmp_path / "plain.txt", "# Heading\nVisit https://x.org/a for cells.")
    c = Colony()
    ingest_paths(c, [txt])
    assert [(d.title, d.content) for d in c.documents()] == [
        ("plain", "# Heading\nVisit  for cells.")
    ]


@pytest.mark.parametrize(
    ("name", "text", "title"),
    [
        ("sun.txt", "The Sun as a Star\n\nThe Sun is a star.", "The Sun as a Star"),
        ("sun.txt", "\n\n  The Sun  \r\n\r\nIt shines.\n", "The Sun"),
        ("rivers.rst", "Rivers\n======\n\nWater flows.", "Rivers"),
        ("letter.txt", "Dear Ann,\n\nThanks for the cells.", "letter"),  # a clause
        ("one.txt", "Cells divide.\n\nThey grow.", "one"),  # a sentence
        ("run.txt", "Cells divide\nand grow\n\nMore.", "run"),  # no blank line after
        ("bare.txt", "A title alone\n\n", "bare"),  # nothing after it
        ("long.txt", "cell " * 30 + "\n\nMore cells.", "long"),  # too long for a title
        ("web.txt", "https://x.org/a\n\nCells divide.", "web"),  # (the address is dropped)
        ("rule.txt", "----------\n\nCells divide.", "rule"),  # a rule, not a title
        ("bom.txt", "\ufeffRivers\n\nWater flows.", "Rivers"),  # (the mark is no part of it)
    ],
)
def test_a_text_files_first_line_set_apart_is_its_title(
    tmp_path: Path, name: str, text: str, title: str
) -> None:
    f = write(tmp_path / name, text)
    c = Colony()
    ingest_paths(c, [f])
    [doc] = c.documents()
    assert doc.title == title
    # the text stays whole (less a dropped address and a byte-order mark)
    assert doc.content == text.replace("https://x.org/a", "").lstrip("\ufeff").strip()


@settings(max_examples=60, deadline=None)
@given(
    st.text(st.sampled_from("ab .,:\n\r\t="), max_size=40),
    st.text(st.sampled_from("ab .\n"), max_size=40),
    st.integers(1, 12),
)
def test_a_text_files_title_does_not_depend_on_the_chunk_size(
    tmp_path_factory: pytest.TempPathFactory, head: str, body: str, chunk: int
) -> None:
    f = write(tmp_path_factory.mktemp("t") / "n.txt", head + body)
    meta: dict[str, str] = {}
    text = "".join(text_chunks(f, chunk_size=chunk, meta=meta))
    whole: dict[str, str] = {}
    assert text == "".join(text_chunks(f, meta=whole)) and meta == whole
    assert meta.get("title", "") == leading_title(text)


def test_run_reads_the_sample_corpus_as_run_corpus_reads_its_folder() -> None:
    """The bundled corpus is read with the same titles and texts as ``--corpus`` reads the
    same files (they used to differ: the first line was the title and left the text)."""
    folder = Path(phago.__file__).parent / "data" / "sample_corpus"
    runner = CliRunner()
    stats = [
        json.loads(runner.invoke(main, ["run", *extra, "--json"]).stdout)
        for extra in ([], ["--corpus", str(folder)])
    ]
    for key in ("tick", "graph_nodes", "graph_edges", "documents_digested"):
        assert stats[0][key] == stats[1][key]
    assert stats[0]["documents_digested"] == 40
    c = Colony()
    ingest_paths(c, [folder / "astronomy_01.txt"])
    [doc] = c.documents()
    [bundled] = [d for d in load_sample_corpus() if d.source == "sample:astronomy_01.txt"]
    assert (doc.title, doc.content) == (bundled.title, bundled.content)
    assert doc.title == "The Sun as a Star"


def test_html_text_is_unchanged(tmp_path: Path) -> None:
    f = write(tmp_path / "p.html", "<p>See https://example.com/x now</p>")
    assert "".join(text_chunks(f)).strip() == "See https://example.com/x now"


# -------------------------------------------------------------------------- no concepts


@pytest.mark.parametrize("text", ["🍕🚀😀", "the and of to in it is was", "42 7 AI ML"])
def test_a_file_without_concepts_is_added_with_a_warning(tmp_path: Path, text: str) -> None:
    f = write(tmp_path / "note.md", text)
    report, _ = ingest_paths(Colony(), [f])
    assert report.documents_added == 1
    assert report.warnings == [
        f"{f}: no concepts (no word of three letters that is not a stopword); added anyway"
    ]
    r = CliRunner().invoke(main, ["ingest", str(f), "--db", str(tmp_path / "s.db")])
    assert r.exit_code == 0 and "warning" in r.output and "no concepts" in r.output
