"""Ingest speed: documents per second from a list of W3 documents to stored, per path.

Usage:
    python benchmarks/ingest_speed.py [--docs 100000] [--shards 1,2,8] [--backends local,ray]
                                      [--rounds 2]

Paths: a single colony one document at a time (``Colony.ingest_document``) and in one call
(``Colony.ingest_documents``, where this version has it), and a distributed colony's
``ingest_documents`` on each backend and shard count (on Ray: the driver checks, hashes and
routes, the actors store; timed until every actor has stored its part). Each distributed
colony first ingests 1,000 other documents, untimed, so that the actors' first-call costs
(imports, compiled kernels) stay out of the figure. Best of ``--rounds``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from phago import Colony, ColonyConfig, Position
from phago.distributed import DistributedColony, RunnerConfig
from w3common import w3_arguments, w3_items


def single(items: list, batch: bool) -> float:
    """Seconds for one colony to store ``items``."""
    colony = Colony(ColonyConfig.for_large_corpora())
    t0 = time.perf_counter()
    if batch:
        colony.ingest_documents(items)
    else:
        for title, text, (x, y) in items:
            colony.ingest_document(title, text, Position(x, y))
    return time.perf_counter() - t0


def distributed(items: list, warm: list, backend: str, shards: int) -> float:
    """Seconds for a distributed colony's ``ingest_documents(items)``, actors warmed."""
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
        return time.perf_counter() - t0
    finally:
        dc.close()


def main() -> None:
    ap = w3_arguments(__doc__, 100_000, "1,2,8")
    ap.add_argument("--backends", default="local,ray")
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    items = w3_items(a.docs + 1000)
    warm, items = items[:1000], items[1000:]
    backends = a.backends.split(",")
    if "ray" in backends:
        import ray
        from phago.distributed.backends.ray import local_ray_options, usable_cores

        ray.init(**local_ray_options(usable_cores()))
    rows: list[tuple[str, float]] = []
    rows.append(("Colony.ingest_document, one by one", single(items, False)))
    if hasattr(Colony, "ingest_documents"):
        rows.append(("Colony.ingest_documents", single(items, True)))
    for backend in backends:
        for n in (int(s) for s in a.shards.split(",")):
            rows.append(
                (
                    f"DistributedColony, {backend}, {n} shard(s)",
                    distributed(items, warm, backend, n),
                )
            )
    # further rounds: keep each path's best
    for _ in range(a.rounds - 1):
        again = [single(items, False)]
        if hasattr(Colony, "ingest_documents"):
            again.append(single(items, True))
        for backend in backends:
            for n in (int(s) for s in a.shards.split(",")):
                again.append(distributed(items, warm, backend, n))
        rows = [(name, min(s, t)) for (name, s), t in zip(rows, again, strict=True)]
    print(f"Ingest, W3 documents, D = {a.docs} (best of {a.rounds})")
    print("| path | seconds | documents/s |")
    print("|---|---:|---:|")
    for name, s in rows:
        print(f"| {name} | {s:.2f} | {a.docs / s:,.0f} |")


if __name__ == "__main__":
    main()
