"""The Ray barrier's own cost per tick: whole distributed ticks on shards with no work to do.

Usage:
    python benchmarks/ray_barrier.py [--shards 1,2,4] [--ticks 300] [--loaded] [--json]

For each shard count and each way phases reach the actors (``calls``: whole ticks submitted
as ``.remote()`` calls, data passed actor to actor; ``compiled``: a Ray Compiled Graph per
phase), a ``DistributedColony(backend="ray")`` runs 20 warm-up ticks, then ``--ticks`` timed
ones. It prints the wall time per tick and the barrier per tick as the runner reckons it
(wall time beyond the slowest shard's compute, phase by phase). The shards are empty, or with
``--loaded`` hold the bundled 40-document sample corpus and two digesters each, so the
figures are the runner's and Ray's cost of a tick, not the shards' work: what the "Ray
barrier under 5 ms per tick with 4 shards" goal measures once the work is taken away.
(``benchmarks/ray_scaling.py`` reports the barrier with W3's work, where shards that share
too few cores also wait for each other's CPU.)

Ray is started for each configuration with as many CPUs as shards (at least the cores).
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony, RunnerConfig


def measure(shards: int, fan_out: str, ticks: int, loaded: bool) -> dict[str, float | int | str]:
    """Time ``ticks`` ticks of a fresh Ray cluster of ``shards`` shards."""
    dc = DistributedColony(
        shards,
        backend="ray",
        runner_config=RunnerConfig(checkpoint_every=None),
        ray_fan_out=fan_out,
    )
    try:
        if loaded:
            docs = load_sample_corpus()
            pos = grid_positions(len(docs))
            dc.ingest_documents([(d.title, d.content, p) for d, p in zip(docs, pos, strict=True)])
            dc.spawn_digesters(2)
        dc.run(20)
        start = time.perf_counter()
        results = dc.run(ticks)
        wall = time.perf_counter() - start
    finally:
        dc.close()
    return {
        "shards": shards,
        "fan_out": fan_out,
        "loaded": loaded,
        "ticks": len(results),
        "tick_ms": 1000.0 * wall / len(results),
        "barrier_ms_per_tick": sum(r.barrier_ms for r in results) / len(results),
    }


def main() -> None:
    """Measure every configuration and print a table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", default="1,2,4")
    ap.add_argument("--ticks", type=int, default=300)
    ap.add_argument("--loaded", action="store_true", help="the sample corpus on the shards")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    logging.getLogger("phago.distributed").setLevel(logging.ERROR)  # the crowded warning
    rows = [
        measure(n, fan_out, a.ticks, a.loaded)
        for n in (int(x) for x in a.shards.split(","))
        for fan_out in ("calls", "compiled")
    ]
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    print("| shards | fan-out | shards loaded | tick ms | barrier ms/tick |")
    print("|---:|---|---|---:|---:|")
    for r in rows:
        print(
            f"| {r['shards']} | {r['fan_out']} | {'yes' if r['loaded'] else 'no'} | "
            f"{r['tick_ms']:.2f} | {r['barrier_ms_per_tick']:.2f} |"
        )


if __name__ == "__main__":
    main()
