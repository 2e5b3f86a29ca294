"""CPU an idle Ray colony's shard actors burn between runs, per fan-out (Linux: ``/proc``).

For each way ticks reach the actors (``calls``; ``compiled`` with its graph kept up, as
before the forty-ninth session; ``compiled`` as it is, the graph torn down after
``IDLE_TEARDOWN_S`` unused), a colony of ``--shards`` shards on the sample corpus runs 3
ticks, waits ``--wait`` seconds, then each actor's CPU-seconds over ``--seconds`` idle
seconds are read from ``/proc/PID/stat``.

Usage:
    python benchmarks/ray_idle_cpu.py [--shards 2] [--wait 3] [--seconds 1]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import phago.distributed.backends.ray as backend
import ray
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import DistributedColony


def cpu_seconds(pid: int) -> float:
    """User and system CPU-seconds process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--wait", type=float, default=3.0)
    ap.add_argument("--seconds", type=float, default=1.0)
    args = ap.parse_args()
    ray.init(**backend.local_ray_options(2))
    docs = load_sample_corpus()
    items = [(d.title, d.content, p) for d, p in zip(docs, grid_positions(len(docs)), strict=True)]
    teardown = backend.IDLE_TEARDOWN_S
    print("| fan-out | CPU-seconds per actor over the idle span |")
    print("|---|---|")
    for name, fan_out, idle_s in (
        ("calls", "calls", teardown),
        ("compiled, graph kept up", "compiled", 1e9),
        (f"compiled, torn down after {teardown:g} s", "compiled", teardown),
    ):
        backend.IDLE_TEARDOWN_S = idle_s
        dc = DistributedColony(
            args.shards, backend="ray", seed=0, ray_options={"num_cpus": 0.25}, ray_fan_out=fan_out
        )
        try:
            dc.ingest_documents(items)
            dc.spawn_digesters(2, max_idle=60)
            dc.run(3)
            time.sleep(args.wait)
            pids = [ray.get(dc.ray_actor(k).pid.remote()) for k in range(args.shards)]
            before = [cpu_seconds(p) for p in pids]
            time.sleep(args.seconds)
            used = [cpu_seconds(p) - b for p, b in zip(pids, before, strict=True)]
        finally:
            dc.close()
        print(f"| {name} | {', '.join(f'{u:.2f}' for u in used)} |")
    backend.IDLE_TEARDOWN_S = teardown
    ray.shutdown()


if __name__ == "__main__":
    main()
