"""``phago viz`` and the viz writers: ``-`` (standard output), FIFOs, names that are no
page's, and ``--color-by shard`` without shards.

A command that could hang runs as a subprocess with a time limit; a FIFO's reader thread is
let go at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from store_helpers import make_colony

from phago.cli import main
from phago.errors import ConfigError
from phago.export import GraphTable, is_stream_output
from phago.store import save
from phago.viz import render_html, write_html, write_html_and_png, write_png

PHAGO = [sys.executable, "-m", "phago"]
LIMIT = 120  # seconds: a command that takes longer hangs


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    c = make_colony(6, digesters=2)
    c.run_until_digested(200)
    return save(c, tmp_path_factory.mktemp("store") / "c.db")


@pytest.fixture(scope="module")
def table(db: Path) -> GraphTable:
    return GraphTable.from_store(db)


@pytest.fixture(scope="module")
def page(db: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The page ``phago viz`` writes to a file."""
    out = tmp_path_factory.mktemp("page") / "v.html"
    r = CliRunner().invoke(main, ["viz", "--db", str(db), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out.read_bytes()


def _viz(db: Path, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["viz", "--db", str(db), *args])
    return r.exit_code, r.stdout, r.stderr


def _let_go(fifo: Path) -> None:
    with contextlib.suppress(OSError):  # (no reader waits)
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


# ---------------------------------------------------------------------------- standard output


def test_out_dash_writes_the_page_to_standard_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Path, page: bytes
) -> None:
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["viz", "--db", str(db), "--out", "-"])
    assert r.exit_code == 0, r.output
    assert r.stdout_bytes == page  # the page alone: what is said goes to stderr
    assert r.stderr.splitlines()[0] == "Wrote the page to standard output"
    assert "Open it in a browser" not in r.stderr
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def test_dev_stdout_on_a_file_gets_the_page_through_standard_output(
    tmp_path: Path, db: Path, page: bytes
) -> None:
    """``phago viz --out /dev/stdout >> log.txt`` appends the page to log.txt, in place."""
    log = tmp_path / "log.txt"
    log.write_bytes(b"previous line 1\n")
    inode = log.stat().st_ino
    with open(log, "ab") as fh:
        try:
            r = subprocess.run(
                [*PHAGO, "viz", "--db", str(db), "--out", "/dev/stdout"],
                stdout=fh,
                stderr=subprocess.PIPE,
                timeout=LIMIT,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"phago viz --out /dev/stdout hung (still running after {LIMIT} s)")
    assert r.returncode == 0, r.stderr
    assert log.read_bytes() == b"previous line 1\n" + page  # appended, as >> asks
    assert log.stat().st_ino == inode  # the same file: not replaced by another
    said = r.stderr.decode().splitlines()
    assert said[0] == "Wrote /dev/stdout" and not any("Open it" in s for s in said)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.txt"]  # no temporary


def test_the_writers_take_dash_for_standard_output(
    capsysbinary: pytest.CaptureFixture[bytes], table: GraphTable
) -> None:
    assert write_html(table, "-", max_nodes=50) == Path("-")
    assert capsysbinary.readouterr().out == render_html(table, max_nodes=50).encode()
    write_png(table, "-", max_nodes=50)
    assert capsysbinary.readouterr().out[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ConfigError, match="both go to standard output"):
        write_html_and_png(table, "-", "-")
    assert capsysbinary.readouterr().out == b""


def test_png_and_json_need_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _viz(db, "--out", "-", "--png")
    assert code == 2 and out == ""
    assert err.strip().splitlines()[-1].startswith("Error: --png writes the picture next to")
    for args in (["--png"], []):  # (--json with --out -: the page would be no JSON)
        code, out, _ = _viz(db, "--out", "-", *args, "--json")
        err = json.loads(out)["error"]
        assert (code, err["type"]) == (2, "ConfigError") and "--" in err["message"]
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- FIFOs


def test_a_fifo_gets_the_page_in_place(tmp_path: Path, db: Path, page: bytes) -> None:
    fifo = tmp_path / "view"
    os.mkfifo(fifo)
    got: dict[str, bytes] = {}

    def read() -> None:
        with open(fifo, "rb") as fh:
            got["data"] = fh.read()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        r = subprocess.run(
            [*PHAGO, "viz", "--db", str(db), "--out", str(fifo)],
            capture_output=True,
            timeout=LIMIT,
        )
        reader.join(LIMIT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"phago viz --out FIFO hung (still running after {LIMIT} s)")
    finally:
        _let_go(fifo)
    assert r.returncode == 0, r.stderr
    assert got["data"] == page and is_stream_output(fifo)
    assert r.stdout.decode().splitlines()[0] == f"Wrote {fifo}"


def test_png_next_to_a_fifo_is_refused(tmp_path: Path, db: Path) -> None:
    fifo = tmp_path / "view.html"
    os.mkfifo(fifo)
    try:
        r = subprocess.run(
            [*PHAGO, "viz", "--db", str(db), "--out", str(fifo), "--png", "--json"],
            capture_output=True,
            timeout=LIMIT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"phago viz --out FIFO --png hung (still running after {LIMIT} s)")
    finally:
        _let_go(fifo)
    assert r.returncode == 2
    err = json.loads(r.stdout)["error"]
    assert err["type"] == "ConfigError" and "--png" in err["message"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["view.html"]


# ---------------------------------------------------------------------------- names


def test_out_must_name_a_page_or_a_picture(tmp_path: Path, db: Path) -> None:
    for name in ("a.svg", "a.json", "a.txt", "page"):
        out = tmp_path / name
        code, stdout, stderr = _viz(db, "--out", str(out))
        assert code == 2
        message = stderr.strip().splitlines()[-1]
        assert message.startswith(f"Error: --out {out} does not end in .html or .htm: ")
        assert f"--out {out.with_suffix('.png').name} for the picture alone" in message
        code, stdout, _ = _viz(db, "--out", str(out), "--json")
        err = json.loads(stdout)["error"]
        assert (code, err["type"], err["exit_code"]) == (2, "ConfigError", 2)
        assert err["message"] == message.removeprefix("Error: ")
    assert list(tmp_path.iterdir()) == []  # nothing written
    for name in ("a.htm", "b.HTML", "c.png"):
        code, _, stderr = _viz(db, "--out", str(tmp_path / name))
        assert code == 0, stderr
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.htm", "b.HTML", "c.png"]


# ---------------------------------------------------------------------------- colours


def test_colour_by_shard_without_shards_is_a_config_error(
    tmp_path: Path, db: Path, table: GraphTable
) -> None:
    out = tmp_path / "v.html"
    code, stdout, _ = _viz(db, "--out", str(out), "--color-by", "shard", "--json")
    err = json.loads(stdout)["error"]
    assert (code, err["type"], err["exit_code"]) == (2, "ConfigError", 2)
    assert err["message"].startswith("--color-by shard needs a distributed store")
    assert "\n" not in err["message"] and not out.exists()
    for draw in (
        lambda: render_html(table, color_by="shard"),
        lambda: write_html(table, out, color_by="shard"),
        lambda: write_png(table, tmp_path / "v.png", color_by="shard"),
        lambda: write_html_and_png(table, out, tmp_path / "v.png", color_by="shard"),
        lambda: write_png(table, tmp_path / "v.png", color_by="mood"),
    ):
        with pytest.raises(ConfigError, match="colour"):
            draw()
    assert list(tmp_path.iterdir()) == []
