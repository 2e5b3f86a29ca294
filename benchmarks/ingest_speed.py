"""Ingest speed: documents per second from a list of W3 documents to stored, per path.

Usage:
    python benchmarks/ingest_speed.py [--docs 100000] [--shards 1,2,8] [--backends local,ray]
                                      [--rounds 2]

Paths: a single colony one document at a time (``Colony.ingest_document``) and in one call
(``Colony.ingest_documents``, where this version has it), and a distributed colony's
``ingest_documents`` on each backend and shard count (on Ray: the driver checks, hashes and
routes, the actors store; timed until every actor has stored its part), then its
``spawn_digesters`` with W3's one digester per 100 documents. Each distributed colony first
ingests 1,000 other documents, untimed, so that the actors' first-call costs (imports,
compiled kernels) stay out of the figure. Best of ``--rounds``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from phago import Colony, ColonyConfig, Position
from phago.distributed import DistributedColony, RunnerConfig
from w3common import w3_arguments, w3_items

Item = tuple[str, str, tuple[float, float]]  # a W3 document: title, text, position
Row = tuple[str, float, float | None]  # path, ingest seconds, spawn seconds or None


def single(items: list[Item], batch: bool) -> float:
    """Seconds for one colony to store ``items``."""
    colony = Colony(ColonyConfig.for_large_corpora())
    t0 = time.perf_counter()
    if batch:
        colony.ingest_documents(items)
    else:
        for title, text, (x, y) in items:
            colony.ingest_document(title, text, Position(x, y))
    return time.perf_counter() - t0


def distributed(
    items: list[Item], warm: list[Item], backend: str, shards: int
) -> tuple[float, float]:
    """Seconds for a distributed colony's ``ingest_documents(items)`` (actors warmed), then
    for ``spawn_digesters`` of one digester per 100 documents."""
    dc = DistributedColony(
        shards,
        backend=backend,
        config=ColonyConfig.for_large_corpora(),
        runner_config=RunnerConfig(checkpoint_every=None),
        ray_options={"num_cpus": 0.25} if backend == "ray" else None,
    )
    try:
        dc.ingest_documents(warm)
        t0 = time.perf_counter()
        dc.ingest_documents(items)
        t1 = time.perf_counter()
        dc.spawn_digesters(max(1, len(items) // 100 // shards))
        return t1 - t0, time.perf_counter() - t1
    finally:
        dc.close()


def one_round(
    items: list[Item], warm: list[Item], backends: list[str], shards: list[int]
) -> list[Row]:
    """``(path, ingest seconds, spawn seconds or None)`` of every path once."""
    rows: list[Row] = [("Colony.ingest_document, one by one", single(items, False), None)]
    if hasattr(Colony, "ingest_documents"):
        rows.append(("Colony.ingest_documents", single(items, True), None))
    for backend in backends:
        for n in shards:
            name = f"DistributedColony, {backend}, {n} shard(s)"
            rows.append((name, *distributed(items, warm, backend, n)))
    return rows


def main() -> None:
    ap = w3_arguments(__doc__, 100_000, "1,2,8")
    ap.add_argument("--backends", default="local,ray")
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    items = w3_items(a.docs + 1000)
    warm, items = items[:1000], items[1000:]
    backends = a.backends.split(",")
    shards = [int(s) for s in a.shards.split(",")]
    if "ray" in backends:
        import ray
        from phago.distributed.backends.ray import local_ray_options, usable_cores

        ray.init(**local_ray_options(usable_cores()))
    rounds = [one_round(items, warm, backends, shards) for _ in range(a.rounds)]
    print(f"Ingest, W3 documents, D = {a.docs} (best of {a.rounds})")
    print("| path | ingest s | documents/s | spawn_digesters s |")
    print("|---|---:|---:|---:|")
    for same in zip(*rounds, strict=True):
        ingest = min(r[1] for r in same)
        spawn = "" if same[0][2] is None else f"{min(r[2] for r in same):.2f}"
        print(f"| {same[0][0]} | {ingest:.2f} | {a.docs / ingest:,.0f} | {spawn} |")


if __name__ == "__main__":
    main()
