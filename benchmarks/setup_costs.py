"""What a cluster pays before any tick, and an export before any write (forty-ninth session).

- building the hash ring (``ConsistentHashRing``, 4096 virtual nodes a shard) for 2, 3 and
  8 shards: every colony, shard, save and load builds one;
- ``is_distributed_store`` on a folder of ``--entries`` entries (half folders, half files)
  and ``check_output_path`` of a file in it (it asks the same of every folder above).

Usage:
    python benchmarks/setup_costs.py [--entries 10000] [--repeat 20]
    PYTHONPATH=/tmp/old/src python benchmarks/setup_costs.py   # an older version's figures

Prints a table of milliseconds (the least of ``--repeat`` calls; the ring from a fresh
ring each time, its virtual nodes' positions cached as they are in use).
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from phago.distributed.hashing import ConsistentHashRing
from phago.export import check_output_path
from phago.store import is_distributed_store


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    """The least milliseconds one call of ``fn`` took over ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    rows: list[tuple[str, float]] = []
    for shards in (2, 3, 8):
        ConsistentHashRing(shards)  # (the positions' cache filled, as in a running process)
        ring = best_ms(functools.partial(ConsistentHashRing, shards), args.repeat)
        rows.append((f"hash ring, {shards} shards", ring))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "crowded"
        folder.mkdir()
        for i in range(args.entries // 2):
            (folder / f"d{i}").mkdir()
            (folder / f"f{i}").touch()
        out = folder / "graph.html"
        rows.append(
            (
                f"is_distributed_store, {args.entries:,} entries",
                best_ms(lambda: is_distributed_store(folder), args.repeat),
            )
        )
        rows.append(
            (
                "check_output_path of a file there",
                best_ms(lambda: check_output_path(out), args.repeat),
            )
        )
    print("| what | ms |")
    print("|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.1f} |")


if __name__ == "__main__":
    main()
