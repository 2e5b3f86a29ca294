"""Runner overhead per tick: empty and loaded shards, 1–8 shards, local backend.

Usage:
    python benchmarks/runner_overhead.py [--ticks 200] [--json]

The overhead is the runner's wall time per tick minus the wall time of the same ticks driven
directly: the same shards' ``run_phase`` calls and update exchange made inline, one shard after
another, with no threads, asyncio or barrier. Both drivers do identical, deterministic work on
twin clusters, alternating in blocks of ``--block`` ticks (so both see the same background
load), after a warm-up that loads the compiled kernels once per process. Reported per tick and
per shard, without rollback checkpoints, with ``checkpoint_every=10`` and with the default
cadence (the snapshot cost is part of the runner's overhead).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from phago import ColonyConfig, Digester, Position
from phago.corpus import grid_positions, load_sample_corpus
from phago.distributed import (
    Coordinator,
    DistributedRunner,
    RunnerConfig,
    ShardedColony,
    ShardId,
    TickPhase,
)
from phago.ids import document_id


def direct_ticks(shards: list[ShardedColony], ticks: int) -> None:
    """The runner's tick, inline: same calls, same order, no threads or barrier."""
    answers: dict[int, list[Any]] = {}
    for _ in range(ticks):
        for s in shards:
            s.run_phase(TickPhase.SENSE, answers.get(int(s.shard_id), []))
        answers = {}
        inbound: dict[int, list[Any]] = {}
        for s in shards:
            for b in s.run_phase(TickPhase.ACT).updates:  # type: ignore[attr-defined]
                inbound.setdefault(b.dest, []).append(b)
        asks: dict[int, dict[int, list[int]]] = {}
        for s in shards:
            r = s.run_phase(TickPhase.DECAY, inbound.get(int(s.shard_id), []))
            for owner, ids in r.ghost_requests.items():  # type: ignore[attr-defined]
                asks.setdefault(owner, {})[int(s.shard_id)] = ids
        for s in shards:
            r = s.run_phase(TickPhase.ADVANCE, asks.get(int(s.shard_id), {}))
            for req, got in r.ghost_answers.items():  # type: ignore[attr-defined]
                answers.setdefault(req, []).extend(got)


def build(n: int, loaded: bool, checkpoint_every: int | None) -> DistributedRunner:
    coordinator = Coordinator(n)
    ring = coordinator.ring
    shards = [ShardedColony(ShardId(i), ColonyConfig(), ring, seed=0) for i in range(n)]
    if loaded:
        docs = load_sample_corpus()
        for d, p in zip(docs, grid_positions(len(docs)), strict=True):
            owner = int(ring.get_shard(int(document_id(d.title, d.content))))
            shards[owner].ingest_document(d.title, d.content, p)
        for s in shards:
            for j, (x, y) in enumerate(s.document_positions()[:3]):
                s.spawn(Digester(Position(x + 1, y + 1), seed=j, max_idle=1000))
    return DistributedRunner(coordinator, shards, RunnerConfig(checkpoint_every=checkpoint_every))


def warm_up() -> None:
    """Load what the first digestion in a process loads (kernels, imports); not timed."""
    runner = build(1, True, None)
    direct_ticks(runner.shards, 30)
    runner.close()


def measure(
    n: int, loaded: bool, ticks: int, checkpoint_every: int | None, block: int
) -> dict[str, float]:
    runner = build(n, loaded, checkpoint_every)
    twin = build(n, loaded, None)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(runner.run(3))  # start the threads
    loop.run_until_complete(twin.run(3))
    wall = work = 0.0
    done = 0
    while done < ticks:
        k = min(block, ticks - done)
        t0 = time.perf_counter()
        loop.run_until_complete(runner.run(k))
        wall += time.perf_counter() - t0
        t0 = time.perf_counter()
        direct_ticks(twin.shards, k)
        work += time.perf_counter() - t0
        done += k
    loop.close()
    runner.close()
    twin.close()
    overhead_ms = (wall - work) * 1000.0 / ticks
    return {
        "shards": n,
        "loaded": loaded,
        "checkpoint_every": checkpoint_every or 0,
        "tick_ms": wall * 1000.0 / ticks,
        "direct_ms": work * 1000.0 / ticks,
        "overhead_ms_per_tick": overhead_ms,
        "overhead_ms_per_tick_per_shard": overhead_ms / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--ticks", type=int, default=200)
    ap.add_argument("--block", type=int, default=10, help="ticks per alternation")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    warm_up()
    cadences = list(dict.fromkeys([None, 10, RunnerConfig().checkpoint_every]))
    rows = [
        measure(n, loaded, a.ticks, cp, a.block)
        for loaded in (False, True)
        for cp in cadences
        for n in (1, 2, 4, 8)
    ]
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        "| shards | shards loaded | checkpoint every | runner tick ms | direct tick ms "
        "| overhead ms/tick | per shard |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['shards']} | {'yes' if r['loaded'] else 'no'} | "
            f"{r['checkpoint_every'] or 'off'} | "
            f"{r['tick_ms']:.3f} | {r['direct_ms']:.3f} | {r['overhead_ms_per_tick']:.3f} | "
            f"{r['overhead_ms_per_tick_per_shard']:.3f} |"
        )


if __name__ == "__main__":
    main()
