"""Export outputs that are no regular file (``-``, a pipe, a FIFO, a device), and file names
that contradict the format.

Every command that could hang runs as a subprocess with a time limit, and every FIFO has a
reader thread that is let go at the end, so that a hang fails the test instead of blocking.
"""

from __future__ import annotations

import contextlib
import doctest
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import phago.cli._output as output_mod
import phago.export as export_mod
from phago import Colony
from phago.cli import main
from phago.errors import ConfigError
from phago.export import GraphTable, export_graph, is_stream_output
from phago.store import save

PHAGO = [sys.executable, "-m", "phago"]
LIMIT = 120  # seconds: a command that takes longer hangs
QUICK = 30  # seconds: a call in this process that takes longer hangs


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store whose CSV export (~0.9 MB) is far bigger than a pipe's buffer."""
    c = Colony(seed=0)
    c.graph.wire_clique(c.graph.present([f"concept{i:03d}" for i in range(150)]), 0)
    return save(c, tmp_path_factory.mktemp("store") / "c.db")


@pytest.fixture(scope="module")
def table(db: Path) -> GraphTable:
    return GraphTable.from_store(db)


@pytest.fixture(scope="module")
def csv_bytes(db: Path, table: GraphTable, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    data = export_graph(table, "csv", tmp_path_factory.mktemp("plain") / "e.csv").read_bytes()
    assert len(data) > 1 << 18
    return data


@pytest.fixture()
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in an empty folder (to see that no file named ``-`` is made)."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def _fifo_reader(fifo: Path) -> tuple[threading.Thread, dict[str, bytes]]:
    """A thread reading ``fifo`` to its end into ``got["data"]``."""
    got: dict[str, bytes] = {}

    def read() -> None:
        with open(fifo, "rb") as fh:
            got["data"] = fh.read()

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t, got


def _let_go(fifo: Path) -> None:
    """Open ``fifo`` for writing and close it: a reader waiting on it (the reader thread, or
    a store check reading it) gets its end."""
    with contextlib.suppress(OSError):  # (no reader waits)
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def _through_fifo(fifo: Path, write: Callable[[], object]) -> bytes:
    """What ``write`` writes to ``fifo``, read by another thread; fails if either hangs."""
    os.mkfifo(fifo)
    reader, got = _fifo_reader(fifo)
    try:
        write()
        reader.join(LIMIT)
        assert not reader.is_alive(), "the reader never got to the end of the FIFO"
    finally:
        _let_go(fifo)
    return got["data"]


def _phago(*args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run([*PHAGO, *args], capture_output=True, timeout=LIMIT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"phago {' '.join(args)} hung (still running after {LIMIT} s)")


def test_output_sink_examples_run() -> None:
    r = doctest.testmod(output_mod)
    assert r.attempted >= 10 and r.failed == 0


# ---------------------------------------------------------------------------- pipes, FIFOs


def test_export_to_a_fifo_is_written_in_place(tmp_path: Path, db: Path, csv_bytes: bytes) -> None:
    fifo = tmp_path / "edges.csv"
    got = _through_fifo(
        fifo, lambda: _phago("export", "--db", str(db), "--format", "csv", "--out", str(fifo))
    )
    assert got == csv_bytes
    assert is_stream_output(fifo)  # (still the FIFO: not replaced by a file)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edges.csv"]  # no temporary


def test_export_graph_to_a_fifo_is_not_compressed_by_its_name(
    tmp_path: Path, table: GraphTable, csv_bytes: bytes
) -> None:
    fifo = tmp_path / "edges.csv.gz"
    done: list[Path] = []
    writer = threading.Thread(
        target=lambda: done.append(export_graph(table, "csv", fifo)), daemon=True
    )

    def write() -> None:
        writer.start()
        writer.join(QUICK)
        assert not writer.is_alive(), "export_graph hung on a FIFO"

    assert _through_fifo(fifo, write) == csv_bytes  # plain: a stream is never compressed
    assert done == [fifo]


def test_export_to_dev_stdout_on_a_pipe(db: Path, csv_bytes: bytes) -> None:
    r = _phago("export", "--db", str(db), "--format", "csv", "--out", "/dev/stdout")
    assert r.returncode == 0, r.stderr
    assert r.stdout == csv_bytes  # (the message went to stderr)
    assert b"Wrote" in r.stderr and b"to /dev/stdout" in r.stderr


@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
def test_dev_stdout_on_a_file_is_written_through_standard_output(
    tmp_path: Path, db: Path, csv_bytes: bytes, name: str
) -> None:
    """``phago export --out /dev/stdout >> log.txt`` appends to log.txt, in place."""
    log = tmp_path / "log.txt"
    log.write_bytes(b"previous line 1\n")
    inode = log.stat().st_ino
    with open(log, "ab") as fh:
        try:
            r = subprocess.run(
                [*PHAGO, "export", "--db", str(db), "--format", "csv", "--out", name],
                stdout=fh,
                stderr=subprocess.PIPE,
                timeout=LIMIT,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"phago export --out {name} hung (still running after {LIMIT} s)")
    assert r.returncode == 0, r.stderr
    assert log.read_bytes() == b"previous line 1\n" + csv_bytes  # appended, as >> asks
    assert log.stat().st_ino == inode  # the same file: not replaced by another
    assert b"Wrote" in r.stderr  # (the message went to stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.txt"]  # no temporary


@pytest.mark.parametrize("fmt", ["csv", "triples", "graphml"])
def test_out_dash_writes_the_export_to_standard_output(
    in_tmp: Path, db: Path, table: GraphTable, fmt: str
) -> None:
    plain = export_graph(table, fmt, in_tmp / f"plain.{fmt}").read_bytes()
    r = CliRunner().invoke(main, ["export", "--db", str(db), "--format", fmt, "--out", "-"])
    assert r.exit_code == 0, r.output
    assert r.stdout_bytes == plain  # nothing else on stdout
    assert f"as {fmt} to standard output" in r.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == [f"plain.{fmt}"]  # no file named "-"


def test_out_dash_is_no_json_summary(in_tmp: Path, db: Path) -> None:
    args = ["export", "--db", str(db), "--format", "csv", "--out", "-", "--json"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2
    err = json.loads(r.stdout)["error"]
    assert err["type"] == "ConfigError" and "--json" in err["message"]
    assert list(in_tmp.iterdir()) == []


def test_a_reader_that_stops_early_ends_the_export_quietly(db: Path, csv_bytes: bytes) -> None:
    """``phago export --out - | head -1``."""
    cmd = [*PHAGO, "export", "--db", str(db), "--format", "csv", "--out", "-"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stop = threading.Timer(LIMIT, p.kill)  # (a hang fails the test instead of blocking it)
    stop.start()
    try:
        assert p.stdout is not None
        first = p.stdout.readline()
        p.stdout.close()  # (as head does once it has its line)
        _, err = p.communicate(timeout=LIMIT)
        code = p.returncode
    finally:
        stop.cancel()
        if p.poll() is None:
            p.kill()
            p.wait()
    assert code != -9, "phago export did not end when its reader went away"
    assert first == csv_bytes.split(b"\n", 1)[0] + b"\n"
    assert code == 1  # (as click ends any phago command whose pipe closed)
    assert b"Traceback" not in err and b"BrokenPipe" not in err and b"Exception" not in err, err
    assert b"Wrote" not in err  # (it did not write it all)


def test_a_store_check_never_reads_what_is_no_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    checked: list[Path] = []
    t = threading.Thread(
        target=lambda: checked.append(export_mod.check_output_path(fifo)), daemon=True
    )
    t.start()
    try:
        t.join(QUICK)
        finished = not t.is_alive()
    finally:
        _let_go(fifo)  # (a check that reads it waits here for a writer)
    assert finished and checked == [fifo]


# ---------------------------------------------------------------------------- names


REFUSED = [  # (format, name, what the name is for)
    ("csv", "x.jsonl", "JSON Lines triples"),
    ("csv", "x.jsonl.gz", "JSON Lines triples"),
    ("json", "x.csv", "a CSV edge list"),
    ("graphml", "x.gexf.bz2", "GEXF"),
    ("triples", "x.graphml", "GraphML"),
    ("json", "x.html", "an HTML page (phago viz writes those)"),
]
TAKEN = [  # (format, name): names that fit, or name no format
    ("csv", "x.txt"),
    ("csv", "x.out"),
    ("csv", "edges"),
    ("triples", "t.json"),
    ("triples", "t.jsonl.gz"),
    ("gexf", "g.xml"),
    ("json", "g.json.bz2"),
]


def test_only_a_name_for_another_format_is_refused(
    tmp_path: Path, db: Path, table: GraphTable
) -> None:
    for fmt, name, named in REFUSED:
        out = tmp_path / name
        said = f"{name} is named for {named}, not format {fmt}"
        with pytest.raises(ConfigError, match=re.escape(said)):
            export_graph(table, fmt, out)
        args = ["export", "--db", str(db), "--format", fmt, "--out", str(out)]
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2, r.output
        message = r.stderr.strip().splitlines()[-1]
        assert message.startswith(f"Error: {said}: "), message
        j = CliRunner().invoke(main, [*args, "--json"])
        assert j.exit_code == 2
        err = json.loads(j.stdout)["error"]
        assert err["type"] == "ConfigError" and err["exit_code"] == 2
        assert err["message"] == message.removeprefix("Error: ")
    assert list(tmp_path.iterdir()) == []  # nothing written
    for fmt, name in TAKEN:
        assert export_graph(table, fmt, tmp_path / name).is_file()
    args = ["export", "--db", str(db), "--format", "csv", "--out", str(tmp_path / "e.out")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output


def test_the_temporary_of_an_export_killed_mid_write_goes_with_a_later_write(
    db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "g.csv"
    killed = subprocess.run(  # writes half a file, then is killed -9 before renaming it
        [
            sys.executable,
            "-c",
            "import os, signal, sys\nfrom phago.export import atomic_output\n"
            "with atomic_output(sys.argv[1]) as tmp:\n"
            "    tmp.write_text('half')\n    os.kill(os.getpid(), signal.SIGKILL)\n",
            str(out),
        ],
        timeout=LIMIT,
    )
    assert killed.returncode == -9
    (left,) = [p for p in tmp_path.iterdir() if p.name.startswith(".g.csv.")]
    assert left.read_text() == "half" and not out.exists()
    mine = tmp_path / f".g.csv.{os.getpid()}-0badf00d.tmp.csv"  # a live writer's
    mine.write_text("being written")
    older = tmp_path / ".g.csv.0a1b2c3d.tmp.csv"  # an earlier phago's, an hour old
    older.write_text("half")
    os.utime(older, (time.time() - 3600, time.time() - 3600))
    export_graph(GraphTable.from_store(db), "csv", out)
    assert left.exists()  # a minute's grace: a writer that just died may be on another host
    for p in (left, mine):
        os.utime(p, (0, 0))
    export_graph(GraphTable.from_store(db), "csv", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [older.name, mine.name, "g.csv"]
    os.utime(older, (0, 0))  # a day old: no export takes that long
    export_graph(GraphTable.from_store(db), "csv", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [mine.name, "g.csv"]
    assert out.stat().st_size > 1 << 18  # the whole export
