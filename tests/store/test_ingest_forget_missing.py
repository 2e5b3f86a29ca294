"""``phago ingest --forget-missing``: ingesting a folder again follows it, deleted files out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from store_helpers import write

from phago.cli import main
from phago.store import read_catalog, read_distributed_catalog


def ingest(*args: str, code: int = 0) -> dict[str, Any]:
    r = CliRunner().invoke(main, ["ingest", *args, "--json"])
    assert r.exit_code == code, r.output
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def stored_files(db: Path) -> list[str]:
    cat = read_distributed_catalog(db) if db.is_dir() else read_catalog(db)
    return sorted(Path(s.path).name for s in cat.sources)


@pytest.mark.parametrize("shards", [None, "2"])
def test_files_gone_from_the_folder_are_forgotten_only_when_asked(
    tmp_path: Path, shards: str | None
) -> None:
    notes = tmp_path / "notes"
    write(notes / "keep.txt", "Ribosomes translate messenger RNA into protein.")
    write(notes / "gone.txt", "Mitochondria make ATP for the cell.")
    write(notes / "copy.md", "Golgi bodies package proteins.")
    write(notes / "sub" / "twin.txt", "Golgi bodies package proteins.")
    db = tmp_path / ("d" if shards else "s.db")
    where = ["--db", str(db), *(["--shards", shards] if shards else [])]
    first = ingest(str(notes), *where)
    ids = {Path(a["path"]).name: a["documents"] for a in first["added"]}
    (notes / "gone.txt").unlink()
    (notes / "copy.md").unlink()
    plain = ingest(str(notes), *where)  # without the flag nothing is forgotten
    assert "missing" not in plain and plain["stats"]["documents_total"] == 3
    followed = ingest(str(notes), "--forget-missing", *where)
    assert followed["missing"] == [
        # the twin still holds the copy's text: its document stays
        {"path": str(notes / "copy.md"), "forgotten": [], "kept": ids["copy.md"]},
        {"path": str(notes / "gone.txt"), "forgotten": ids["gone.txt"], "kept": []},
    ]
    assert followed["stats"]["documents_total"] == 2
    assert stored_files(db) == ["keep.txt", "twin.txt"]
    # a folder emptied: everything under it goes, and a folder not named is left alone
    other = tmp_path / "other"
    write(other / "o.txt", "Lysosomes digest worn parts.")
    ingest(str(other), *where)
    (notes / "keep.txt").unlink()
    (notes / "sub" / "twin.txt").unlink()
    emptied = ingest(str(notes), "--forget-missing", *where)
    assert [Path(m["path"]).name for m in emptied["missing"]] == ["keep.txt", "twin.txt"]
    assert emptied["stats"]["documents_total"] == 1 and stored_files(db) == ["o.txt"]
    again = ingest(str(notes), "--forget-missing", *where, code=1)  # nothing left to do
    assert again["error"]["type"] == "DocumentError"


def test_forget_missing_needs_a_folder(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    write(f, "Centrioles organise the spindle.")
    for args in (["--text", "a note"], [str(f)]):
        r = CliRunner().invoke(
            main, ["ingest", *args, "--db", str(tmp_path / "s.db"), "--forget-missing"]
        )
        assert r.exit_code == 2 and "--forget-missing looks in the folders named" in r.output
    assert not (tmp_path / "s.db").exists()


def test_a_missing_file_is_said_in_words(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    write(notes / "a.txt", "Ribosomes translate messenger RNA into protein.")
    write(notes / "b.txt", "Mitochondria make ATP for the cell.")
    db = str(tmp_path / "s.db")
    assert CliRunner().invoke(main, ["ingest", str(notes), "--db", db]).exit_code == 0
    (notes / "b.txt").unlink()
    r = CliRunner().invoke(main, ["ingest", str(notes), "--db", db, "--forget-missing"])
    assert r.exit_code == 0, r.output
    assert (
        f"missing {notes / 'b.txt'}: no longer there, its documents are forgotten (document "
        in " ".join(r.output.split())
    )
