"""``phago demo``'s store: a phago-demo.db the user changed is refused (``--force``
overwrites it), the store is held for writing while it is checked and saved, the JSON
gives absolute paths, and an output folder that cannot be written is an OutputError."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from phago.cli import main
from phago.store import read_document_ids, read_summary

DEMO = ["demo", "--digesters", "4", "--max-ticks", "60"]


def demo(out_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*DEMO, "--out-dir", str(out_dir), "--json", *args])


def error_of(r: Result) -> dict[str, Any]:
    data = json.loads(r.stdout)
    assert set(data) == {"error"}, data
    error: dict[str, Any] = data["error"]
    assert error["exit_code"] == r.exit_code
    return error


def test_a_demo_store_files_were_ingested_into_is_refused_and_force_overwrites_it(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    db = out / "phago-demo.db"
    for _ in range(2):  # (a demo over its own untouched output just works)
        r = demo(out)
        assert r.exit_code == 0, r.output
    note = tmp_path / "note.txt"
    note.write_text("Mitochondria make the energy of the cell from sugar and oxygen.")
    r = CliRunner().invoke(main, ["ingest", str(note), "--db", str(db), "--json"])
    assert r.exit_code == 0, r.output
    r = demo(out)
    error = error_of(r)
    assert r.exit_code == 1 and error["type"] == "StoreError", error
    assert str(db) in error["message"] and "--force" in error["message"], error
    assert "1 file was ingested" in error["message"] and "\n" not in error["message"]
    summary = read_summary(db)  # the note is still there
    assert (summary.stats["documents_total"], summary.sources) == (41, 1)
    r = CliRunner().invoke(main, [*DEMO, "--out-dir", str(out)])  # text output: one line
    assert r.exit_code == 1 and r.output.startswith("Error: refusing to overwrite"), r.output
    r = demo(out, "--force")
    assert r.exit_code == 0, r.output
    summary = read_summary(db)
    assert (summary.stats["documents_total"], summary.sources) == (40, 0)


def test_a_demo_store_documents_were_forgotten_from_is_refused(tmp_path: Path) -> None:
    from phago.store import forget_in_store

    out = tmp_path / "out"
    db = out / "phago-demo.db"
    assert demo(out).exit_code == 0
    forget_in_store(db, read_document_ids(db)[:1])
    error = error_of(demo(out))
    assert error["type"] == "StoreError"
    assert "39 documents, not the 40 of the sample corpus" in error["message"], error
    assert len(read_document_ids(db)) == 39


def test_a_demo_store_the_user_tagged_is_refused_and_keeps_its_tags(tmp_path: Path) -> None:
    from phago.store import read_document_info

    out = tmp_path / "out"
    db = out / "phago-demo.db"
    assert demo(out).exit_code == 0
    first = str(read_document_ids(db)[0])
    r = CliRunner().invoke(main, ["tag", first, "--add", "mine", "--db", str(db)])
    assert r.exit_code == 0, r.output
    error = error_of(demo(out))
    assert error["type"] == "StoreError" and "1 document of it carries tags" in error["message"]
    assert [i.tags for i in read_document_info(db).values()] == [("mine",)]
    assert demo(out, "--force").exit_code == 0  # (overwritten when asked)
    assert not any(i.tags for i in read_document_info(db).values())


def test_a_file_that_is_no_store_or_a_folder_in_its_place_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "phago-demo.db").write_text("my own notes")
    error = error_of(demo(tmp_path / "a"))
    assert error["type"] == "StoreError" and "not a readable phago store" in error["message"]
    assert (tmp_path / "a" / "phago-demo.db").read_text() == "my own notes"
    (tmp_path / "b" / "phago-demo.db").mkdir(parents=True)
    error = error_of(demo(tmp_path / "b"))
    assert error["type"] == "StoreError" and "it is a folder" in error["message"]


def test_demo_waits_for_a_writer_holding_the_store_and_then_sees_its_changes(
    tmp_path: Path,
) -> None:
    # an ingest under way when the demo saves: the demo waits for it, then finds the note
    from phago.corpus import grid_positions
    from phago.store import SourceRecord, load_with_catalog, save, store_lock

    out = tmp_path / "out"
    db = out / "phago-demo.db"
    assert demo(out).exit_code == 0
    with store_lock(db):
        proc = subprocess.Popen(
            [sys.executable, "-m", "phago", *DEMO, "--out-dir", str(out), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        waited = False
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:  # (exited without waiting)
                break
            if "waiting for another phago process writing" in line:
                waited = True
                break
        if waited:  # what the ingest holding the store adds meanwhile
            colony, catalog = load_with_catalog(db)
            doc = colony.ingest_document("note", "ribosomes and chaperones", grid_positions(41)[40])
            catalog.sources.append(SourceRecord(str(tmp_path / "note.txt"), "hash", int(doc)))
            save(colony, db, catalog=catalog)
    stdout, _ = proc.communicate(timeout=240)
    assert waited, "the demo saved without holding the store"
    assert proc.returncode == 1
    assert json.loads(stdout)["error"]["type"] == "StoreError"
    assert read_summary(db).stats["documents_total"] == 41


def test_demo_json_gives_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, [*DEMO, "--out-dir", "rel", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    for key, name in (("db", "phago-demo.db"), ("html", "phago-demo.html")):
        assert Path(data[key]).is_absolute() and data[key] == str(tmp_path / "rel" / name)


def test_an_output_folder_that_cannot_be_made_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    for where in (tmp_path / "file" / "out", tmp_path / "file" / "a" / "b"):
        r = demo(where)
        error = error_of(r)
        assert r.exit_code == 1 and error["type"] == "OutputError", error
        assert str(where) in error["message"] and "--out-dir" in error["message"]
        assert "Errno" not in error["message"]
    if Path("/proc/self").is_dir():  # (Linux: nothing can be made there)
        assert error_of(demo(Path("/proc/phago-demo")))["type"] == "OutputError"


def test_demo_helpers_examples_run() -> None:
    from phago.cli import demo as demo_cli

    for f in (demo_cli.prepare_out_dir, demo_cli.check_demo_store):
        finder = doctest.DocTestFinder()
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        for test in finder.find(f, globs=vars(demo_cli).copy()):
            runner.run(test)
        assert runner.summarize(verbose=False).attempted > 0
        assert runner.summarize(verbose=False).failed == 0


def test_a_demo_store_an_earlier_phago_wrote_is_the_demos_own(tmp_path: Path) -> None:
    """Before the fortieth session the sample corpus's texts lost their title line, so its
    documents had other ids: such a demo store is replaced without --force."""
    from phago import Colony
    from phago.corpus import load_sample_corpus
    from phago.store import save

    out = tmp_path / "out"
    out.mkdir()
    earlier = Colony(seed=0)
    earlier.ingest_documents(
        [(d.title, d.content[len(d.title) :].strip(), (0.0, 0.0)) for d in load_sample_corpus()]
    )
    save(earlier, out / "phago-demo.db")
    r = demo(out)
    assert r.exit_code == 0, r.output
    assert read_summary(out / "phago-demo.db").stats["documents_total"] == 40
