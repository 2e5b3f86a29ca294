"""kill -9 during a save leaves the previous store intact and loadable."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from store_helpers import assert_same_state, make_colony

from phago.state import capture
from phago.store import load, save

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import phago.store as store
    from phago import Colony, Digester, Position
    from phago.corpus import grid_positions, load_sample_corpus

    path, mode = sys.argv[1], sys.argv[2]
    docs = load_sample_corpus()
    c = Colony(seed=11)
    for d, p in zip(docs, grid_positions(len(docs))):
        c.ingest_document(d.title, d.content, p)
    for j in range(6):
        c.spawn(Digester(Position(5.0 * j, 1.0)))
    c.run(12)

    def die(*_a, **_k):
        os.kill(os.getpid(), signal.SIGKILL)

    if mode == "mid-transaction":
        real, calls = store._npy, [0]
        def npy(arr):
            calls[0] += 1
            if calls[0] == 6:
                die()
            return real(arr)
        store._npy = npy
    elif mode == "before-rename":
        store._fsync_path = die
    print("ready", flush=True)
    while True:
        c.run(1)
        store.save(c, path)
    """
)


@pytest.fixture
def previous(tmp_path: Path) -> tuple[Path, object]:
    c = make_colony(6, digesters=2)
    c.run(5)
    path = save(c, tmp_path / "c.db")
    return path, capture(c)


def _check(path: Path, expected: object) -> None:
    st = capture(load(path))
    assert_same_state(st, expected)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["mid-transaction", "before-rename"])
def test_kill_9_inside_save(previous: tuple[Path, object], mode: str) -> None:
    path, expected = previous
    before = path.read_bytes()
    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode], capture_output=True, timeout=120
    )
    assert r.returncode == -signal.SIGKILL, r.stderr.decode()
    assert path.with_name("c.db.tmp").exists()  # the half-written save is left behind...
    assert path.read_bytes() == before  # ...and the store itself was never touched
    _check(path, expected)
    # the next save cleans the leftover up
    c = make_colony(3, digesters=1)
    save(c, path)
    assert not path.with_name("c.db.tmp").exists()
    assert_same_state(capture(load(path)), capture(c))


def test_kill_9_at_random_moments(previous: tuple[Path, object]) -> None:
    """A child saves in a loop; it is killed from outside while a save is in progress."""
    path, _ = previous
    tmp = path.with_name("c.db.tmp")
    for attempt in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), "loop"], stdout=subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 60
        while not tmp.exists() and time.monotonic() < deadline:
            time.sleep(0.0005)
        time.sleep(0.002 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        st = load(path).stats()  # always a complete store: the old one or a finished new one
        assert st.documents_total in (6, 40)
