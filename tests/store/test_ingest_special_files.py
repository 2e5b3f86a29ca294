"""Entries of a folder that are not regular files (a FIFO, a link to a device, a link loop,
a link to nothing) are reported, never passed over silently and never read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from phago import Colony
from phago.cli import main
from phago.errors import DocumentError
from phago.ingest import discover, ingest_paths, inspect_file

pytestmark = pytest.mark.timeout(60)  # (reading a FIFO would wait for a writer forever)


def odd_folder(root: Path) -> Path:
    """A folder with one good note and, under supported and other names, a FIFO, a link to
    /dev/zero, a link loop and a link to nothing."""
    folder = root / "notes"
    folder.mkdir()
    (folder / "good.txt").write_text("cells divide and membranes hold proteins", "utf-8")
    for name in ("pipe.txt", "pipe"):
        os.mkfifo(folder / name)
    for name in ("zero.md", "zero"):
        (folder / name).symlink_to("/dev/zero")
    for name in ("loop.html", "loop"):
        (folder / name).symlink_to(folder / name)
    for name in ("gone.rst", "gone"):
        (folder / name).symlink_to(folder / "nowhere")
    return folder


EXPECTED = {
    "gone.rst": ("a symbolic link to nothing (no such file or directory)", "OSError"),
    "loop.html": ("a symbolic link loop", "OSError"),
    "pipe.txt": ("not a regular file", "DocumentError"),
    "zero.md": ("not a regular file", "DocumentError"),
}
OTHERS = ["gone", "loop", "pipe", "zero"]


def test_discover_reports_them(tmp_path: Path) -> None:
    folder = odd_folder(tmp_path)
    other: list[str] = []
    files, skipped = discover([folder], unsupported=other)
    assert [f.name for f in files] == ["good.txt"]
    assert {Path(s.path).name: (s.reason, s.error) for s in skipped} == {
        name: (f"{folder / name}: {why}", kind) for name, (why, kind) in EXPECTED.items()
    }
    assert [Path(p).name for p in other] == OTHERS
    # named on their own, each says the same
    for name, (why, _) in EXPECTED.items():
        assert discover([folder / name])[1][0].reason == f"{folder / name}: {why}"


def test_ingest_paths_reports_them_and_adds_the_rest(tmp_path: Path) -> None:
    folder = odd_folder(tmp_path)
    report, _ = ingest_paths(Colony(), [folder])
    assert [Path(a.path).name for a in report.added] == ["good.txt"]
    assert sorted(Path(s.path).name for s in report.skipped) == sorted(EXPECTED)
    assert [Path(p).name for p in report.unsupported] == OTHERS
    data = report.to_dict()
    assert data["skipped"] == 4 and data["unsupported"] == 4


def test_phago_ingest_json_reports_them(tmp_path: Path) -> None:
    folder = odd_folder(tmp_path)
    db = tmp_path / "s.db"
    r = CliRunner().invoke(main, ["ingest", str(folder), "--db", str(db), "--json"])
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    data = json.loads(r.stdout)
    assert data["files_added"] == 1 and data["skipped"] == 4 and data["unsupported"] == 4
    reasons = {Path(s["path"]).name: s["reason"] for s in data["skipped_files"]}
    assert reasons == {name: f"{folder / name}: {why}" for name, (why, _) in EXPECTED.items()}
    assert sorted(Path(p).name for p in data["unsupported_files"]) == OTHERS


def test_a_folder_of_only_such_entries_adds_nothing_and_says_why(tmp_path: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    os.mkfifo(folder / "pipe.txt")
    r = CliRunner().invoke(main, ["ingest", str(folder), "--db", str(tmp_path / "s.db"), "--json"])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    error = json.loads(r.stdout)["error"]
    assert error["type"] == "DocumentError" and "pipe.txt: not a regular file" in error["message"]


def test_a_fifo_given_to_the_readers_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "late.txt"
    os.mkfifo(fifo)  # (a file that became a FIFO after discovery, or named to the API)
    with pytest.raises(DocumentError, match=r"late\.txt: not a regular file"):
        inspect_file(fifo)
    pdf = tmp_path / "late.pdf"
    os.mkfifo(pdf)
    with pytest.raises(DocumentError, match=r"late\.pdf: not a regular file"):
        inspect_file(pdf)
    report, _ = ingest_paths(Colony(), [], files=[fifo])
    assert report.skipped[0].reason == f"{fifo}: not a regular file"
