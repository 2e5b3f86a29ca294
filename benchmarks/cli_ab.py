"""Two copies of phago side by side on one command-line call, alternating, many rounds.

``benchmarks/cli_latency.py`` times every command a few times; on a shared 2-core machine
its medians move by a few tenths of a second from run to run, which hides a change of that
size. This times one call, ``query`` or ``ingest`` of one note, ``--rounds`` times for each
copy of phago (``--src DIR``, given twice: the first is "old"), one after the other in each
round, and prints the median, least and mean seconds of each. ``ingest``, ``tag`` (a tag
added to the store's first document) and ``forget`` (of the document in the middle of the
store) run on a fresh copy of the store every time (the copy is not timed).

Usage:
    python benchmarks/cli_ab.py --store /tmp/s42/n50.db --src /tmp/old/src --src src query
    python benchmarks/cli_ab.py --store /tmp/s42/n50.db --src /tmp/old/src --src src ingest
    python benchmarks/cli_ab.py --store /tmp/s42/n50.db --src /tmp/old/src --src src tag
    python benchmarks/cli_ab.py --store /tmp/s42/n50.db --src /tmp/old/src --src src forget

The store is one ``benchmarks/cli_latency.py --store PATH --notes N [--shards S]`` built
(a file, or a distributed store's folder).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("call", choices=["query", "ingest", "tag", "forget"])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--src", action="append", required=True, help="old, then new")
    ap.add_argument("--rounds", type=int, default=12)
    a = ap.parse_args()
    if len(a.src) != 2:
        raise SystemExit("give --src twice: the old copy of phago, then the new")
    names = ("old", "new")
    seconds: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "store.db"
        for r in range(a.rounds):
            for name, src in zip(names, a.src, strict=True):
                if a.call == "query":
                    args = ["query", "membrane protein channel", "--db", str(a.store), "--json"]
                elif a.call == "tag":
                    _copy(a.store, copy)
                    args = ["tag", _document(a.store), "--add", f"r{r}", "--db", str(copy)]
                elif a.call == "forget":
                    _copy(a.store, copy)
                    args = ["forget", _document(a.store, middle=True), "--db", str(copy)]
                else:
                    note = Path(tmp) / f"note{r}.txt"
                    note.write_text(f"A short note {r} on calcium channels in the membrane.\n")
                    _copy(a.store, copy)
                    args = ["ingest", str(note), "--db", str(copy)]
                env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
                began = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "phago", *args],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    check=True,
                )
                seconds[name].append(time.perf_counter() - began)
    print(f"{a.call}, {a.rounds} rounds        median    least     mean")
    for name, src in zip(names, a.src, strict=True):
        v = seconds[name]
        print(
            f"{name} ({src})".ljust(28)
            + f"{statistics.median(v):7.3f}  {min(v):7.3f}  {statistics.mean(v):7.3f}"
        )


def _copy(store: Path, to: Path) -> None:
    """A fresh copy of the store (a file, or a distributed store's folder) at ``to``."""
    if to.is_dir():
        shutil.rmtree(to)
    if store.is_dir():
        shutil.copytree(store, to)
    else:
        shutil.copyfile(store, to)


def _document(store: Path, *, middle: bool = False) -> str:
    """The id of the first (or the middle) document of the store file ``store``, as
    ``phago tag`` and ``phago forget`` read it."""
    if store.is_dir():  # (a distributed store: its first shard's documents)
        current = (store / "CURRENT").read_text().strip()
        store = store / current / "shard-000.db"
    con = sqlite3.connect(store)
    try:
        (n,) = con.execute("SELECT count(*) FROM documents").fetchone()
        (doc_id,) = con.execute(
            "SELECT doc_id FROM documents ORDER BY seq LIMIT 1 OFFSET ?", (n // 2 if middle else 0,)
        ).fetchone()
    finally:
        con.close()
    return str(doc_id % (1 << 64))  # (SQLite keeps it signed)


if __name__ == "__main__":
    main()
