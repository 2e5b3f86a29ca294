"""Two writers of one store: nothing either of them wrote is lost.

The ``phago`` commands that change a store hold it from loading to saving, so a second one
waits and then starts from the first one's result; a colony loaded from a store refuses to
overwrite it when someone else saved it since.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from store_helpers import make_colony, write

from phago import Position
from phago.cli import main
from phago.distributed import DistributedColony
from phago.errors import StoreChanged
from phago.state import capture
from phago.store import (
    load,
    load_distributed,
    read_catalog,
    read_distributed_catalog,
    read_summary,
    save,
    save_distributed,
    store_lock,
)

PHAGO = [sys.executable, "-m", "phago"]
WAITING = "waiting for another phago process writing"


def corpus(root: Path, tag: str, n: int) -> Path:
    """``n`` small text files whose words are unique to ``tag`` (so no file is a duplicate)."""
    folder = root / tag
    for i in range(n):
        words = " ".join(f"{tag}word{i}x{j}" for j in range(6))
        write(folder / f"{tag}{i}.txt", f"{words} cell membrane protein {tag} transport {i}")
    return folder


def cli(*args: str) -> str:
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert r.exit_code == 0, r.stderr + r.stdout
    return r.stdout


def total_documents(db: Path) -> int:
    return int(read_summary(db).stats["documents_total"])


def ingested_paths(db: Path) -> set[str]:
    cat = read_distributed_catalog(db) if db.is_dir() else read_catalog(db)
    return {Path(s.path).parent.name for s in cat.sources}


@pytest.mark.parametrize("sharded", [False, True], ids=["file", "sharded"])
def test_two_ingests_into_one_store_keep_both(tmp_path: Path, sharded: bool) -> None:
    """The audit's repro: two ``phago ingest`` processes into one store at the same time."""
    db = tmp_path / ("cluster" if sharded else "kb.db")
    shards = ["--shards", "2"] if sharded else []
    cli("ingest", str(corpus(tmp_path, "base", 4)), "--db", str(db), "--digesters", "2", *shards)
    before = total_documents(db)
    procs = [
        subprocess.Popen(
            [*PHAGO, "ingest", str(corpus(tmp_path, tag, 12)), "--db", str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("two", "three")
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "Saved to" in out
    assert total_documents(db) == before + 24
    assert {"two", "three"} <= ingested_paths(db)


class Reader:
    """Collects a child process's stderr lines on a thread (so a test can wait for one)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        assert proc.stderr is not None
        stream = proc.stderr
        self.text = ""
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.put(line)

    def wait_for(self, needle: str, timeout: float) -> bool:
        try:
            while needle not in self.text:
                self.text += self.lines.get(timeout=timeout)
        except queue.Empty:
            return False
        return True


@pytest.mark.parametrize("command", ["ingest", "forget", "query"])
def test_a_second_writer_waits_and_says_so(tmp_path: Path, command: str) -> None:
    """While the store is held (here by this test, as by another ``phago ingest``), a command
    that changes it waits, says so on stderr, and then works on the holder's result."""
    db = tmp_path / "kb.db"
    base = corpus(tmp_path, "base", 4)
    cli("ingest", str(base), "--db", str(db), "--digesters", "2")
    args, change = {
        "ingest": (["ingest", str(corpus(tmp_path, "late", 3))], 3),
        "forget": (["forget", str(base / "base0.txt")], -1),
        "query": (["query", "cell membrane protein", "--reinforce"], 0),
    }[command]
    with store_lock(db):
        proc = subprocess.Popen(
            [*PHAGO, *args, "--db", str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        reader = Reader(proc)
        try:
            assert reader.wait_for(WAITING, timeout=60), reader.text
            assert proc.poll() is None
            # the holder changes the store meanwhile: the waiting command must keep it
            colony = load(db)
            colony.ingest_document("held", "holder wrote this glacier valley", Position(0, 0))
            save(colony, db)
        except BaseException:
            proc.kill()
            raise
    out, _ = proc.communicate(timeout=300)
    reader.thread.join(timeout=10)
    assert proc.returncode == 0, reader.text
    assert str(db) in reader.text and ("Saved to" in out or command == "query")
    titles = capture(load(db)).substrate.doc_titles
    assert "held" in titles
    assert len(titles) == 4 + 1 + change


def test_saving_a_stale_colony_is_refused(tmp_path: Path) -> None:
    """A colony loaded before another one saved the store does not overwrite that save."""
    path = save(make_colony(4, digesters=1), tmp_path / "c.db")
    first, second = load(path), load(path)
    first.ingest_document("first", "alpha beta gamma", Position(0, 0))
    save(first, path)
    first.ingest_document("again", "delta epsilon", Position(1, 0))
    save(first, path)  # its own save is the version it now remembers
    before = path.read_bytes()
    second.ingest_document("second", "zeta eta theta", Position(0, 1))
    with pytest.raises(StoreChanged, match=r"c\.db: the store changed since it was loaded"):
        save(second, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.db"]
    assert load(path).stats().documents_total == 6
    fresh = load(path)  # loaded again, the change can be redone
    fresh.ingest_document("second", "zeta eta theta", Position(0, 1))
    save(fresh, path)
    assert load(path).stats().documents_total == 7
    save(second, tmp_path / "other.db")  # another path is not the store it came from
    assert load(tmp_path / "other.db").stats().documents_total == 5


def test_saving_a_stale_colony_is_refused_after_another_process_saved(tmp_path: Path) -> None:
    path = save(make_colony(3, digesters=1), tmp_path / "c.db")
    mine = load(path)
    subprocess.run(
        [*PHAGO, "ingest", str(corpus(tmp_path, "other", 2)), "--db", str(path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    with pytest.raises(StoreChanged, match="changed since it was loaded"):
        save(mine, path)
    assert total_documents(path) == 5


def test_saving_a_stale_distributed_colony_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "cluster"
    with DistributedColony(2, seed=0) as dc:
        dc.ingest_document("Cells", "cell membrane protein transport")
        dc.spawn_digesters(1)
        dc.run(2)
        save_distributed(dc, d)
    with load_distributed(d) as first, load_distributed(d) as second:
        first.ingest_document("First", "glacier valley erosion")
        save_distributed(first, d)
        first.run(1)
        save_distributed(first, d)
        second.ingest_document("Second", "volcano lava ash")
        with pytest.raises(StoreChanged, match=r"cluster: the store changed since it was loaded"):
            save_distributed(second, d)
    assert read_summary(d).stats["documents_total"] == 2
    assert len(list(d.glob("gen-*"))) == 1
