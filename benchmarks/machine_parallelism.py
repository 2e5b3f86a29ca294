"""How much work this machine does with n processes at once, against one: the ceiling of any
n-shard speed-up here, whatever phago does.

Usage:
    python benchmarks/machine_parallelism.py [--processes 2] [--rounds 3]

Each round times a fixed amount of work in one process alone, then the same work in each of
n processes started together (a ``multiprocessing`` pool), twice over: pure-Python arithmetic
(what an agent's state machine is) and NumPy sorting and copying (what the graph's columns
are). Throughput with n processes against one is ``n * alone / slowest of n``; on a machine
with n idle physical cores it is close to n. On a virtual machine whose cores share a host
(hyperthreads, memory bandwidth, a hypervisor taking time) it is less, and no n-shard run
can gain more than that, before the shards' extra work and the runner's costs.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

import numpy as np


def python_work(_: int = 0) -> float:
    """Seconds for a fixed loop of Python integer arithmetic."""
    t0 = time.perf_counter()
    s = 0
    for i in range(4_000_000):
        s += i * i % 7
    return time.perf_counter() - t0


def numpy_work(_: int = 0) -> float:
    """Seconds for sorting and copying two million floats twenty times."""
    t0 = time.perf_counter()
    a = np.random.default_rng(0).random(2_000_000)
    for _ in range(20):
        a = np.sort(a)[::-1].copy()
    return time.perf_counter() - t0


def main() -> None:
    """Time each kind of work alone and n at once; print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.processes
    print(f"| work | alone s (best of {args.rounds}) | {n} at once, slowest s | throughput ×1 |")
    print("|---|---:|---:|---:|")
    with mp.Pool(n) as pool:
        for name, work in (("python", python_work), ("numpy", numpy_work)):
            pool.map(work, range(n))  # warm the pool's processes
            alone = min(work() for _ in range(args.rounds))
            together = min(max(pool.map(work, range(n))) for _ in range(args.rounds))
            print(f"| {name} | {alone:.2f} | {together:.2f} | {n * alone / together:.2f} |")


if __name__ == "__main__":
    main()
