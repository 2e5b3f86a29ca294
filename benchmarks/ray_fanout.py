"""Ray fan-out latency: ``.remote()`` calls against a Ray Compiled Graph, and what its
channels cost while they wait.

Usage:
    python benchmarks/ray_fanout.py [--actors 1,2,4] [--reps 300] [--ray-cpus 4] [--json]

For each actor count: the wall time of one fan-out (every actor runs a no-op method on its
own payload, the results are gathered) with asyncio-awaited ``.remote()`` calls and with a
compiled graph of one node per actor, for a small payload and for 1 MB per actor. Then, with
the compiled graph idle, the CPU seconds each actor burns per second of wall time, and the
driver's CPU seconds while it waits on a 50 ms phase. These are the figures behind
``DistributedColony(ray_fan_out="auto")`` (BENCHMARKS.md, "Ray scaling").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from typing import Any

from ray.dag import InputNode, MultiOutputNode

import ray
from phago.distributed.backends.ray import local_ray_options


@ray.remote(num_cpus=1)
class _Echo:
    def step(self, x: Any) -> int:
        return len(x) if isinstance(x, bytes) else int(x)

    def nap(self, x: Any) -> int:
        time.sleep(0.05)
        return 0

    def cpu(self) -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime


def _per_call_ms(fn: Any, reps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps * 1000.0


def measure(n: int, reps: int) -> dict[str, float]:
    """Fan-out figures for ``n`` actors."""
    actors = [_Echo.remote() for _ in range(n)]  # type: ignore[attr-defined]
    ray.get([a.step.remote(1) for a in actors])
    small: list[Any] = [1] * n
    big: list[Any] = [b"z" * 1_000_000] * n
    loop = asyncio.new_event_loop()

    async def calls(args: list[Any]) -> list[int]:
        refs = [a.step.remote(x) for a, x in zip(actors, args, strict=True)]
        return list(await asyncio.gather(*refs))

    row = {
        "actors": float(n),
        "calls_ms": _per_call_ms(lambda: loop.run_until_complete(calls(small)), reps),
        "calls_1mb_ms": _per_call_ms(lambda: loop.run_until_complete(calls(big)), reps // 10),
    }
    with InputNode() as inp:
        dag = MultiOutputNode([a.step.bind(inp[k]) for k, a in enumerate(actors)])
    graph = dag.experimental_compile()
    ray.get(graph.execute(*small))
    row["compiled_ms"] = _per_call_ms(lambda: ray.get(graph.execute(*small), timeout=30), reps)
    row["compiled_1mb_ms"] = _per_call_ms(
        lambda: ray.get(graph.execute(*big), timeout=30), reps // 10
    )
    before = ray.get([a.cpu.remote() for a in actors])
    time.sleep(1.0)
    after = ray.get([a.cpu.remote() for a in actors])
    row["idle_actor_cpu_per_s"] = max(b - a for a, b in zip(before, after, strict=True))
    graph.teardown()
    with InputNode() as inp:
        naps = MultiOutputNode([a.nap.bind(inp) for a in actors])
    graph = naps.experimental_compile()
    ray.get(graph.execute(0))
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(10):
        ray.get(graph.execute(0), timeout=30)
    row["driver_cpu_per_s_waiting"] = (time.process_time() - c0) / (time.perf_counter() - t0)
    graph.teardown()
    loop.close()
    for a in actors:
        ray.kill(a)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--actors", default="1,2,4")
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--ray-cpus", type=int, default=4)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    ray.init(**local_ray_options(a.ray_cpus))
    rows = [measure(int(n), a.reps) for n in a.actors.split(",")]
    ray.shutdown()
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        "| actors | calls ms | compiled ms | calls 1 MB ms | compiled 1 MB ms "
        "| idle actor CPU s/s | waiting driver CPU s/s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {int(r['actors'])} | {r['calls_ms']:.2f} | {r['compiled_ms']:.2f} | "
            f"{r['calls_1mb_ms']:.2f} | {r['compiled_1mb_ms']:.2f} | "
            f"{r['idle_actor_cpu_per_s']:.2f} | {r['driver_cpu_per_s_waiting']:.2f} |"
        )


if __name__ == "__main__":
    main()
