"""What in-memory checkpoints cost a sharded W3 run.

Usage:
    python benchmarks/checkpoint_cost.py [--docs 100000] [--shards 2] [--backend local|ray]
        [--json]

Runs W3 (``w3common``: the corpus, layout and one digester per 100 documents) until
digested four ways, each in a fresh process so that its peak memory is its own: no
checkpoints; the local backend's default, at least 50 ticks apart and spaced by what they
cost (``RunnerConfig.checkpoint_cost_share``); exactly every 50 ticks; and every 50 ticks
also written to disk (``checkpoint_dir``: a temporary directory, removed after). Prints the run's
seconds, the checkpoints taken and the seconds they took, the bytes the last one holds, and
the peak RSS of this process (with ``--backend ray`` the driver's, which holds the
checkpoints; the shards are actors in processes of their own).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

from phago.distributed import DistributedColony, RunnerConfig
from phago.distributed.runner import DEFAULT_CHECKPOINT_COST_SHARE, DistributedRunner
from w3common import w3_items, warm_up

CONFIGS: dict[str, dict[str, Any]] = {
    "none": {"checkpoint_every": None},
    "default (spaced by cost)": {"checkpoint_cost_share": DEFAULT_CHECKPOINT_COST_SHARE},
    "every 50 ticks": {"checkpoint_every": 50},
    "every 50 ticks, written to disk": {"checkpoint_every": 50, "checkpoint_dir": "<temp>"},
}


def measure(docs: int, shards: int, name: str, backend: str = "local") -> dict[str, Any]:
    """One run of configuration ``name``; its figures."""
    from phago.config import ColonyConfig

    warm_up()
    items = w3_items(docs)
    settings = dict(CONFIGS[name])
    temp = None
    if settings.get("checkpoint_dir") == "<temp>":
        temp = tempfile.TemporaryDirectory(prefix="phago-ckpt-")
        settings["checkpoint_dir"] = temp.name
    rc = RunnerConfig(cross_shard_edge_lists=False, **settings)
    dc = DistributedColony(
        shards, backend=backend, config=ColonyConfig.for_large_corpora(), runner_config=rc
    )
    dc.ingest_documents(items)
    dc.spawn_digesters(max(1, docs // 100 // shards))
    taken = [0, 0.0]
    take = DistributedRunner._take_checkpoint

    async def timed(self: DistributedRunner, tick: int, *rest: Any) -> None:
        began = time.perf_counter()
        await take(self, tick, *rest)
        taken[0] += 1
        taken[1] += time.perf_counter() - began

    DistributedRunner._take_checkpoint = timed  # type: ignore[method-assign,assignment]
    began = time.perf_counter()
    dc.run_until_digested(5000)
    seconds = time.perf_counter() - began
    cp = dc.runner._checkpoint
    held = sum(len(s) for s in cp.snapshots) if cp is not None and cp.snapshots else 0
    dc.close()
    if temp is not None:
        temp.cleanup()
    return {
        "config": name,
        "seconds": round(seconds, 2),
        "checkpoints": taken[0],
        "checkpoint_s": round(taken[1], 2),
        "held_mib": round(held / 2**20),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--backend", choices=("local", "ray"), default="local")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # a configuration, in a child process
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.docs, args.shards, args.one, args.backend)))
        return
    rows = []
    for name in CONFIGS:
        cmd = [sys.executable, __file__, "--docs", str(args.docs), "--shards", str(args.shards)]
        cmd += ["--backend", args.backend]
        out = subprocess.run([*cmd, "--one", name], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps(rows))
        return
    print(f"W3, D = {args.docs}, {args.shards} {args.backend} shards")
    rss = "peak RSS MiB" if args.backend == "local" else "driver's peak RSS MiB"
    print(f"| checkpoints | seconds | taken | their seconds | last one held MiB | {rss} |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['config']} | {r['seconds']} | {r['checkpoints']} | {r['checkpoint_s']} "
            f"| {r['held_mib']} | {r['peak_rss_mib']} |"
        )


if __name__ == "__main__":
    main()
