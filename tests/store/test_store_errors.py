"""Damaged, foreign, newer and unwritable stores give clear errors; nothing is half-written."""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from store_helpers import assert_same_state, fill_disk_at_eight_pages, make_colony

import phago.store as store_mod
from phago.corpus import load_sample_corpus
from phago.errors import StoreError
from phago.state import capture
from phago.store import (
    Catalog,
    SourceRecord,
    forget_in_store,
    load,
    read_catalog,
    read_summary,
    save,
)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    c = make_colony(4, digesters=2)
    c.run(3)
    return save(c, tmp_path / "c.db")


def _sql(path: Path, statement: str, *args: object) -> None:
    con = sqlite3.connect(path)
    con.execute(statement, args)
    con.commit()
    con.close()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"nope\.db.*no such file"):
        load(tmp_path / "nope.db")


def test_not_a_database(tmp_path: Path) -> None:
    p = tmp_path / "junk.db"
    p.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match=r"junk\.db.*damaged or not a phago store"):
        load(p)


def test_sqlite_but_not_a_store(tmp_path: Path) -> None:
    p = tmp_path / "other.db"
    _sql(p, "CREATE TABLE t (x INTEGER)")
    with pytest.raises(StoreError, match=r"other\.db.*not a phago store"):
        load(p)
    with pytest.raises(StoreError, match="refusing to overwrite"):
        save(make_colony(1, digesters=1), p)
    assert sqlite3.connect(p).execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_newer_schema_is_refused(saved: Path) -> None:
    _sql(saved, "UPDATE phago_schema SET version = ?", store_mod.SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match=r"c\.db.*newer phago.*Upgrade"):
        load(saved)
    with pytest.raises(StoreError, match="newer"):
        read_summary(saved)


@pytest.mark.parametrize("version", [0, -3, "one"])
def test_unknown_schema_is_refused(saved: Path, version: object) -> None:
    _sql(saved, "UPDATE phago_schema SET version = ?", version)
    with pytest.raises(StoreError, match="unknown store schema version"):
        load(saved)


def test_tampered_array_is_detected(saved: Path) -> None:
    con = sqlite3.connect(saved)
    data = bytearray(con.execute("SELECT data FROM blobs WHERE name='graph.weight'").fetchone()[0])
    data[-1] ^= 0x55
    con.execute("UPDATE blobs SET data=? WHERE name='graph.weight'", (bytes(data),))
    con.commit()
    con.close()
    with pytest.raises(StoreError, match=r"checksum mismatch in 'graph\.weight'"):
        load(saved)


def test_tampered_document_is_detected(saved: Path) -> None:
    _sql(saved, "UPDATE documents SET content = content || ' extra' WHERE seq = 0")
    with pytest.raises(StoreError, match="checksum mismatch in documents"):
        load(saved)


def test_missing_part_is_detected(saved: Path) -> None:
    _sql(saved, "DELETE FROM blobs WHERE name = 'graph.labels'")
    with pytest.raises(StoreError, match=r"missing part 'graph\.labels'"):
        load(saved)


def test_truncated_file_is_refused(saved: Path) -> None:
    size = saved.stat().st_size
    with open(saved, "r+b") as fh:
        fh.truncate(size // 2)
    with pytest.raises(StoreError, match=r"c\.db"):
        load(saved)


def test_directory_and_missing_parent(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder, and not a distributed store either"):
        load(tmp_path)
    from phago.distributed import DistributedColony

    with DistributedColony(2, seed=0) as dc:
        dc.save(tmp_path / "cluster")
    with pytest.raises(StoreError, match=r"it is a distributed store \(load it with"):
        load(tmp_path / "cluster")
    with pytest.raises(StoreError, match="does not exist"):
        save(make_colony(1, digesters=1), tmp_path / "missing" / "c.db")


def _assert_untouched(path: Path, before: bytes) -> None:
    assert path.read_bytes() == before
    leftovers = [p.name for p in path.parent.iterdir() if p.name != path.name]
    assert leftovers == [], leftovers


def test_full_disk_leaves_previous_store_intact(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's real 'database or disk is full' error (a page limit stands in for the disk)."""
    before = saved.read_bytes()
    good = capture(load(saved))
    fill_disk_at_eight_pages(monkeypatch)
    big = make_colony(16, digesters=4)
    big.run_until_digested(200)
    with pytest.raises(StoreError, match=r"cannot save colony to .*c\.db: the disk is full"):
        save(big, saved)
    _assert_untouched(saved, before)
    assert_same_state(capture(load(saved)), good)


@pytest.mark.parametrize(
    ("err", "message"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EROFS, "the file system is read-only"),
        (errno.EACCES, "permission denied"),
    ],
)
def test_os_errors_are_named(
    saved: Path, monkeypatch: pytest.MonkeyPatch, err: int, message: str
) -> None:
    """fsync or rename failing (full disk, read-only file system, no permission)."""
    before = saved.read_bytes()

    def boom(*_a: object, **_k: object) -> None:
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(store_mod.os, "replace", boom)  # type: ignore[attr-defined]
    with pytest.raises(StoreError, match=f"c\\.db: {message}"):
        save(make_colony(2, digesters=1), saved)
    _assert_untouched(saved, before)


def test_read_only_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    target = ro / "c.db"
    save(make_colony(2, digesters=1), target)
    before = target.read_bytes()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):  # root ignores permission bits: make sqlite fail the same way
            real = store_mod._connect_write

            def denied(path: Path) -> sqlite3.Connection:
                if path.parent == ro:
                    raise sqlite3.OperationalError("unable to open database file")
                return real(path)

            monkeypatch.setattr(store_mod, "_connect_write", denied)
        with pytest.raises(StoreError, match=r"c\.db: the file cannot be created there"):
            save(make_colony(3, digesters=1), target)
    finally:
        ro.chmod(0o755)
    _assert_untouched(target, before)
    assert load(target).stats().documents_total == 2


def test_interrupt_during_save_cleans_up(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = saved.read_bytes()

    def interrupted(*_a: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store_mod, "_fsync_path", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(make_colony(2, digesters=1), saved)
    _assert_untouched(saved, before)


def test_loading_works_from_a_read_only_copy(saved: Path) -> None:
    saved.chmod(0o444)
    try:
        assert load(saved).stats().documents_total == 4
    finally:
        saved.chmod(0o644)


def test_concurrent_saves_to_one_store(tmp_path: Path) -> None:
    """Savers of one store take turns (a folder lock): the result is always one whole save."""
    import threading

    path = tmp_path / "c.db"
    colonies = [make_colony(3 + i, digesters=1) for i in range(4)]
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            for _ in range(3):
                save(colonies[i], path)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert load(path).stats().documents_total in (3, 4, 5, 6)
    assert [p.name for p in tmp_path.iterdir()] == ["c.db"]


def test_save_through_a_symlink_writes_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = save(make_colony(2, digesters=1), real_dir / "c.db")
    link = tmp_path / "link.db"
    link.symlink_to(target)
    bigger = make_colony(5, digesters=1)
    assert save(bigger, link) == link
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert load(target).stats().documents_total == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.db", "real"]
    assert [p.name for p in real_dir.iterdir()] == ["c.db"]
    again = load(link)  # loaded through the link, saved to the target: the same store
    save(again, target)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604])
def test_save_keeps_the_file_mode(saved: Path, mode: int) -> None:
    saved.chmod(mode)
    save(make_colony(3, digesters=1), saved)
    assert stat.S_IMODE(saved.stat().st_mode) == mode
    assert load(saved).stats().documents_total == 3


@pytest.mark.parametrize("mode", [0o444, 0o400])
def test_read_only_store_is_not_overwritten(saved: Path, mode: int) -> None:
    """Read-only by its permission bits, also for root (whom the kernel lets write it)."""
    before = saved.read_bytes()
    saved.chmod(mode)
    try:
        with pytest.raises(StoreError, match=rf"c\.db: the store is read-only \(mode 0{mode:o}\)"):
            save(make_colony(3, digesters=1), saved)
        held = int(capture(load(saved)).substrate.doc_ids[0])
        with pytest.raises(StoreError, match="read-only"):
            forget_in_store(saved, [held])
        assert stat.S_IMODE(saved.stat().st_mode) == mode
    finally:
        saved.chmod(0o644)
    _assert_untouched(saved, before)


def _store_with_sources(tmp_path: Path) -> Path:
    c = make_colony(3, digesters=1)
    ids = [int(x) for x in capture(c).substrate.doc_ids.tolist()]
    cat = Catalog([SourceRecord(f"/docs/{i}.txt", f"h{i}", d) for i, d in enumerate(ids)])
    return save(c, tmp_path / "c.db", catalog=cat)


@pytest.mark.parametrize(
    "action",
    [
        read_summary,
        read_catalog,
        load,
        lambda p: forget_in_store(p, [1]),
        lambda p: save(make_colony(2, digesters=1), p),
    ],
    ids=["read_summary", "read_catalog", "load", "forget_in_store", "save"],
)
@pytest.mark.parametrize(
    ("column", "value"),
    [("doc_id", "x"), ("path", b"\xff"), ("part", 1.5)],
)
def test_damaged_sources_row_is_a_store_error(
    tmp_path: Path, action: Callable[[Path], object], column: str, value: object
) -> None:
    path = _store_with_sources(tmp_path)
    assert len(read_catalog(path).sources) == 3
    _sql(path, f"UPDATE sources SET {column} = ? WHERE seq = 0", value)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=rf"c\.db.*damaged.*{column}"):
        action(path)
    assert path.read_bytes() == before


def test_damaged_history_row_is_a_store_error(saved: Path) -> None:
    _sql(saved, "UPDATE history SET nodes = 'many' WHERE seq = 0")
    with pytest.raises(StoreError, match=r"table 'history' is damaged: column 'nodes'"):
        read_summary(saved)


@pytest.mark.parametrize("name", ["SQLITE_FULL", "SQLITE_IOERR_SHMSIZE"])
def test_sqlite_disk_full_errors_say_the_disk_is_full(
    saved: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """SQLite reports a full disk as SQLITE_FULL, or while growing its shared memory as
    SQLITE_IOERR_SHMSIZE ("disk I/O error"): both mean the disk is full."""
    before = saved.read_bytes()

    def full(*_a: object, **_k: object) -> str:
        err = sqlite3.OperationalError("disk I/O error")
        err.sqlite_errorname = name
        raise err

    monkeypatch.setattr(store_mod, "_write", full)
    with pytest.raises(StoreError, match=r"cannot save colony to .*c\.db: the disk is full$"):
        save(make_colony(2, digesters=1), saved)
    _assert_untouched(saved, before)


def test_a_shard_file_is_not_loaded_as_a_colony(tmp_path: Path) -> None:
    from phago.distributed import DistributedColony
    from phago.store import load_distributed, save_distributed

    with DistributedColony(2, seed=1) as dc:
        dc.ingest_documents([(d.title, d.content) for d in load_sample_corpus()[:6]])
        d = save_distributed(dc, tmp_path / "dist")
    shard = next(d.glob("gen-*/shard-000.db"))
    with pytest.raises(StoreError, match="it is one shard of a distributed store"):
        load(shard)  # (it loaded as a colony holding part of the graph)
    with load_distributed(d) as again:  # the store itself still loads
        assert again.stats().documents_total == 6


def test_a_save_past_the_file_size_limit_says_so(tmp_path: Path) -> None:
    """Past ``ulimit -f`` SQLite reports only "disk I/O error"; the message names the limit
    (the old store is kept, as on a full disk)."""
    import subprocess
    import sys

    script = (
        "import resource, sys\n"
        "from phago import Colony, Position\n"
        "from phago.store import save\n"
        "from phago.errors import StoreError\n"
        "c = Colony(seed=0)\n"
        "c.ingest_documents([(f'd{i}', 'cell wall ' * 400 + str(i), (0.0, 0.0))"
        " for i in range(200)])\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))\n"
        "try:\n"
        "    save(c, sys.argv[1])\n"
        "except StoreError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "big.db")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "cannot save colony to" in out.stdout, out.stderr
    assert "at most 200,000 bytes: ulimit -f" in out.stdout
    assert not (tmp_path / "big.db").exists()
