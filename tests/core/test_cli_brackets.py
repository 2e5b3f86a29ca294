"""Square brackets in what a user names (folders, files, stores, titles, tags, query text)
print literally through every command: the rich consoles read ``[...]`` as markup, where
``[/b]`` raised a MarkupError (a traceback instead of the message) and ``[abc]`` vanished
from the line (``Saved to /tmp//s.db``)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from click.testing import CliRunner, Result

from phago.cli import main

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

TITLE = "Title [/b] x"


def phago(*args: str | Path, code: int = 0) -> Result:
    """``phago ARGS`` in this process (wide enough that no table cell wraps), checked to
    exit with ``code`` and never with an exception (a MarkupError, say)."""
    r = CliRunner().invoke(main, [str(a) for a in args], env={"COLUMNS": "500"})
    said = r.output + repr(r.exception)
    assert "Traceback" not in said and "MarkupError" not in said, said
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == code, r.output
    return r


def stdout(r: Result) -> str:
    return _ANSI.sub("", r.stdout)


def stderr(r: Result) -> str:
    return _ANSI.sub("", r.stderr)


def corpus(tmp_path: Path) -> Path:
    """A folder ``a[x]`` holding ``[red]note.md`` (titled with ``[/b]``), ``b[/i]c.txt``
    (a file ``i]c.txt`` in a folder ``b[``) and an empty ``empty[1].txt``."""
    folder = tmp_path / "c" / "a[x]"
    (folder / "b[").mkdir(parents=True)
    (folder / "[red]note.md").write_text(
        f"# {TITLE}\n\ncell membrane protein gate channel ion [red]flow[/red] calcium\n", "utf-8"
    )
    (folder / "b[" / "i]c.txt").write_text(
        "river stone water flow erosion valley sediment\n", "utf-8"
    )
    (folder / "empty[1].txt").write_text("", "utf-8")
    return folder


def test_store_commands_say_bracketed_names_literally(tmp_path: Path) -> None:
    folder = corpus(tmp_path)
    note, other = folder / "[red]note.md", folder / "b[" / "i]c.txt"
    empty = os.path.abspath(folder / "empty[1].txt")
    (tmp_path / "s[1]").mkdir()
    db = tmp_path / "s[1]" / "n.db"

    r = phago("ingest", folder, "--db", db, "--max-ticks", "50")
    assert f"skipped {empty}: empty file" in stderr(r)
    assert f"Saved to {db}." in stdout(r)

    r = phago("stats", "--db", db)
    assert stdout(r).startswith(f"{db} (colony, saved ")

    r = phago("list", "--db", db)
    for text in (f"2 documents in {db}", TITLE, "i]c", str(note), str(other)):
        assert text in stdout(r), text
    docs = json.loads(phago("list", "--db", db, "--json").stdout)
    (doc_id,) = [d["id"] for d in docs if d["title"] == TITLE]

    r = phago("show", doc_id, "--db", db)
    assert f"{TITLE} ({doc_id})" in stdout(r)
    assert "ion [red]flow[/red] calcium" in stdout(r)

    r = phago("query", "cell [/b]", "--db", db, "-k", "3")
    assert "'cell [/b]' · " in stdout(r)
    r = phago("query", "flow [red]", "--db", db, "--documents")
    for text in ("'flow [red]' · documents", TITLE, "ion [red]flow[/red] calcium"):
        assert text in stdout(r), text
    r = phago("query", "[/b] a", "--db", db)
    assert "the query has no searchable words: '[/b] a' holds only" in stderr(r)
    r = phago("query", "membrane calcium", "--db", db, "--reinforce")
    assert f"Reinforced the answers' edges and saved {db}." in stderr(r)

    r = phago("tag", note, "--add", "lab", "--db", db)
    assert f"{doc_id}: lab" in stdout(r)
    assert f"Tagged 1 document in {db}." in stdout(r)

    # the note changed (replaced), a text titled with brackets, an option the store ignores,
    # and too few ticks to digest the new documents (a warning naming the store)
    note.write_text(f"# {TITLE}\n\ncell membrane wall changed [b]bold\n", "utf-8")
    r = phago(
        "ingest", folder, "--db", db, "--seed", "3", "--max-ticks", "1",
        "--text", "alpha [/i] gamma delta", "--title", "T [x] [/b]",
    )  # fmt: skip
    err = stderr(r)
    assert f"--seed ignored: {db} keeps the configuration" in err
    assert f"skipped {empty}: empty file" in err
    assert f"replaced {os.path.abspath(note)}: its text changed" in err
    assert "titled 'T [x] [/b]'" in err
    assert f"documents in {db} are not digested yet" in err
    assert f"Saved to {db}." in stdout(r)

    r = phago("forget", other, "--db", db)
    assert f"Saved to {db}." in stdout(r)

    (tmp_path / "o[2]").mkdir()
    edges = tmp_path / "o[2]" / "e[x].csv"
    r = phago("export", "--db", db, "--format", "csv", "--out", edges)
    assert f"edges as csv to {edges}." in stdout(r)
    nowhere = tmp_path / "o[2]" / "gone[/b]" / "e.csv"
    r = phago("export", "--db", db, "--format", "csv", "--out", nowhere, code=1)
    assert f"cannot write {nowhere}" in stderr(r)

    page = tmp_path / "o[2]" / "g[/b].html"
    (tmp_path / "o[2]" / "g[").mkdir()
    r = phago("viz", "--db", db, "--out", page)
    assert f"Wrote {page}" in stdout(r)
    assert "Open it in a browser: file://" in stdout(r)


def test_errors_name_bracketed_paths_literally(tmp_path: Path) -> None:
    folder = corpus(tmp_path)
    db = tmp_path / "s[1]" / "n.db"  # (its folder does not exist)
    r = phago("ingest", folder, "--db", db, code=1)
    assert f"{tmp_path / 's[1]'}" in stderr(r) and "Error: " in stderr(r)
    r = phago("ingest", folder, "--db", db, "--json", code=1)
    assert str(tmp_path / "s[1]") in json.loads(r.stdout)["error"]["message"]
    r = phago("stats", "--db", tmp_path / "no[/b]" / "n.db", code=2)
    assert "no[/b]" in stderr(r)
    bare = tmp_path / "e[5]"  # (a folder of no usable document: an error naming it)
    bare.mkdir()
    (bare / "n[1].txt").write_text(" ", "utf-8")
    r = phago("query", "cells", "--corpus", bare, code=1)
    assert f"skipped {os.path.abspath(bare / 'n[1].txt')}: only whitespace" in stderr(r)
    assert f") in {bare}: add such files" in stderr(r)


def test_run_and_demo_say_bracketed_names_literally(tmp_path: Path) -> None:
    folder = corpus(tmp_path)
    (tmp_path / "t[3]").mkdir()
    timeline = tmp_path / "t[3]" / "tl[x].csv"
    r = phago("run", "--corpus", folder, "--ticks", "2", "--timeline", timeline)
    assert f"skipped {os.path.abspath(folder / 'empty[1].txt')}: empty file" in stderr(r)
    assert f"timeline of 2 ticks (ticks 1 to 2) written to {timeline}" in stderr(r)
    assert timeline.is_file()
    r = phago(
        "run", "--corpus", folder, "--ticks", "2", "--timeline", tmp_path / "t[3]" / "x[/b].csv",
        code=2,
    )  # fmt: skip
    assert f"the folder {tmp_path / 't[3]' / 'x['} does not exist" in stderr(r)

    out_dir = tmp_path / "d[4]" / "x[/b]"
    r = phago("demo", "--out-dir", out_dir, "--max-ticks", "5", "--digesters", "2")
    db = os.path.abspath(out_dir / "phago-demo.db")
    assert f"Saved the colony to {db} (try: phago stats --db {db})." in stdout(r)
    assert "HTML view: file://" in stdout(r)
