"""Two ways for a tick's parts to travel between Ray actors, on a synthetic tick.

Usage:
    python benchmarks/ray_exchange.py [--actors 2,4] [--ticks 300] [--act-ms 20]
                                      [--decay-ms 10] [--kib 100] [--json]

Each of n actors runs a tick of two calls: an "Act" that burns ``--act-ms`` of CPU and makes
a part of ``--kib`` KiB for every other actor, then a "Decay" that starts once the parts
addressed to it are there and burns ``--decay-ms``. Every tick is submitted ahead, as the
runner's pipelined calls are. The parts travel

* ``driver``: as the Decay call's arguments (object references to the Act calls' results,
  the runner's way: Ray's core worker in the driver owns them and passes them on), or
* ``push``: pushed actor to actor (the Act calls each other actor's ``mail`` method, which
  runs in a concurrency group of its own; Decay waits on a condition until its parts came).

It prints the wall time per tick, what that is beyond the CPU the tick needs on this
machine's cores, and (push) the mean wait from the last part's arrival to the Decay start.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from typing import Any, cast

import numpy as np

import ray
from phago.distributed.backends.ray import local_ray_options


def _burn(ms: float) -> None:
    """Spin for ``ms`` of this thread's CPU time."""
    end = time.thread_time() + ms / 1000.0
    while time.thread_time() < end:
        pass


# (Ray types ray.remote without the concurrency_groups option that actor classes take)
@cast(Any, ray.remote)(num_cpus=0, concurrency_groups={"mail": 1})
class _Shard:
    def __init__(self, me: int, n: int, act_ms: float, decay_ms: float, kib: int) -> None:
        self.me, self.n = me, n
        self.act_ms, self.decay_ms, self.kib = act_ms, decay_ms, kib
        self.peers: list[Any] = []
        self.box: dict[int, list[float]] = {}
        self.ready = threading.Condition()
        self.hops: list[float] = []

    def meet(self, peers: list[Any]) -> None:
        self.peers = peers

    def _part(self) -> np.ndarray:
        return np.zeros(self.kib * 128)  # float64: kib KiB

    def act(self, t: int) -> tuple[Any, ...] | Any:
        _burn(self.act_ms)
        parts = [self._part() if j != self.me else None for j in range(self.n)]
        return tuple(parts) if self.n > 1 else parts[0]

    def decay(self, t: int, *parts: Any) -> int:
        _burn(self.decay_ms)
        return len(parts)

    def act_push(self, t: int) -> None:
        _burn(self.act_ms)
        part = self._part()
        for j, peer in enumerate(self.peers):
            if j != self.me:
                peer.mail.remote(t, part)

    @ray.method(concurrency_group="mail")
    def mail(self, t: int, part: Any) -> None:
        with self.ready:
            self.box.setdefault(t, []).append(time.perf_counter())
            self.ready.notify_all()

    def decay_push(self, t: int) -> int:
        with self.ready:
            while len(self.box.get(t, ())) < self.n - 1:
                self.ready.wait()
            came = self.box.pop(t)
        if came:
            self.hops.append(time.perf_counter() - max(came))
        _burn(self.decay_ms)
        return len(came)

    def hop_ms(self) -> float:
        return 1000.0 * float(np.mean(self.hops)) if self.hops else 0.0


def _ticks(actors: list[Any], way: str, first: int, count: int) -> None:
    """Submit ``count`` ticks from ``first`` ahead, gathering every 50 (as a run would)."""
    n = len(actors)
    last: list[Any] = []
    for t in range(first, first + count):
        if way == "push":
            for a in actors:
                a.act_push.remote(t)
            last = [a.decay_push.remote(t) for a in actors]
        else:
            parts = [a.act.options(num_returns=n).remote(t) for a in actors]
            last = [
                actors[i].decay.remote(t, *[parts[j][i] for j in range(n) if j != i])
                for i in range(n)
            ]
        if (t - first) % 50 == 49:
            ray.get(last)
    ray.get(last)


def measure(
    n: int, way: str, ticks: int, act_ms: float, decay_ms: float, kib: int
) -> dict[str, Any]:
    """One configuration: n actors, parts through the driver or pushed."""
    actors = [_Shard.remote(i, n, act_ms, decay_ms, kib) for i in range(n)]  # type: ignore[attr-defined]
    ray.get([a.meet.remote(actors) for a in actors])
    _ticks(actors, way, 0, 20)  # warm up
    t0 = time.perf_counter()
    _ticks(actors, way, 20, ticks)
    per = 1000.0 * (time.perf_counter() - t0) / ticks
    cores = os.cpu_count() or 1
    need = (act_ms + decay_ms) * max(1.0, n / cores)  # the tick's CPU spread over the cores
    hops = ray.get([a.hop_ms.remote() for a in actors]) if way == "push" else []
    for a in actors:
        ray.kill(a)
    return {
        "actors": n,
        "way": way,
        "ms_per_tick": round(per, 2),
        "beyond_cpu_ms": round(per - need, 2),
        "hop_ms": round(float(np.mean(hops)), 2) if hops else None,
    }


def main() -> None:
    """Run every actor count both ways and print a table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actors", default="2,4")
    ap.add_argument("--ticks", type=int, default=300)
    ap.add_argument("--act-ms", type=float, default=20.0)
    ap.add_argument("--decay-ms", type=float, default=10.0)
    ap.add_argument("--kib", type=int, default=100)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    counts = [int(x) for x in args.actors.split(",")]
    ray.init(**local_ray_options(max([*counts, os.cpu_count() or 1])))
    try:
        rows = [
            measure(n, way, args.ticks, args.act_ms, args.decay_ms, args.kib)
            for n in counts
            for way in ("driver", "push")
        ]
    finally:
        ray.shutdown()
    if args.json:
        print(json.dumps(rows))
        return
    print(
        f"synthetic tick: Act {args.act_ms:g} ms + Decay {args.decay_ms:g} ms of CPU per actor, "
        f"{args.kib} KiB parts, {args.ticks} ticks, {os.cpu_count()} cores"
    )
    print("| actors | parts travel | ms per tick | beyond the CPU it needs, ms | hop ms |")
    print("|---:|---|---:|---:|---:|")
    for r in rows:
        hop = "" if r["hop_ms"] is None else f"{r['hop_ms']:.2f}"
        print(
            f"| {r['actors']} | {r['way']} | {r['ms_per_tick']:.2f} | {r['beyond_cpu_ms']:.2f} "
            f"| {hop} |"
        )


if __name__ == "__main__":
    main()
