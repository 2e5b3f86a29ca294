"""Where a Ray run's CPU goes: W3 on Ray shards, CPU seconds per process and thread kind.

Usage:
    python benchmarks/ray_cpu.py [--docs 30000] [--shards 2] [--ray-fan-out auto]
                                 [--ray-inline-bytes N] [--json]

Wall time on a shared machine swings by tens of per cent; CPU time moves much less, so a
change to the Ray path (fewer calls, cheaper pickles, less driver work) shows here before it
shows in ``ray_scaling.py``. The W3 corpus is generated and ingested first (untimed), then
the CPU time of every process of the run is read from ``/proc`` (Linux) just before the
ticks and again after them: the driver (this process: its main thread, and Ray's threads),
each shard actor (its main thread, where the phases run, and Ray's threads), the raylet,
the GCS and Ray's helper processes. Printed per process kind in seconds and in ms per tick,
next to the shards' own work (their phases' compute time, summed) and the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from phago.distributed.backends.ray import INLINE_OBJECT_BYTES, local_ray_options
from w3common import w3_colony, w3_items, warm_up

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of ``pid``, keyed ``main`` (the process's first thread)
    or ``other`` (summed), from ``/proc``; empty when the process is gone."""
    out: dict[str, float] = defaultdict(float)
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return {}
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime
        out["main" if tid == str(pid) else "other"] += cpu
    return dict(out)


def ray_processes() -> dict[int, str]:
    """This machine's Ray service processes by pid: ``raylet``, ``gcs`` or ``ray helpers``."""
    found: dict[int, str] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "raylet/raylet" in cmd:
            found[int(name)] = "raylet"
        elif "gcs_server" in cmd:
            found[int(name)] = "gcs"
        elif "/ray/" in cmd and ("agent" in cmd or "monitor" in cmd):
            found[int(name)] = "ray helpers"
    return found


def snapshot(kinds: dict[int, str]) -> dict[tuple[str, str], float]:
    """CPU seconds by (process kind, thread kind) for the processes in ``kinds``."""
    out: dict[tuple[str, str], float] = defaultdict(float)
    for pid, kind in kinds.items():
        for thread, cpu in thread_cpu(pid).items():
            out[(kind, thread)] += cpu
    return out


@dataclass
class CpuReport:
    """One run's CPU by (process kind, thread kind), with the run's totals."""

    docs: int
    shards: int
    fan_out: str
    ticks: int
    wall_s: float
    phases_wall_s: float  # the shards' phases, summed
    phases_cpu_s: float
    cpu_s: dict[str, float] = field(default_factory=dict)  # "process / thread" -> seconds

    @property
    def total_cpu_s(self) -> float:
        """CPU seconds of every process measured."""
        return sum(self.cpu_s.values())


def measure(docs: int, shards: int, fan_out: str) -> CpuReport:
    """Run W3 with ``docs`` documents on ``shards`` Ray shards; CPU by process kind."""
    dc = w3_colony(
        w3_items(docs), shards, backend="ray", ray_options={"num_cpus": 1}, ray_fan_out=fan_out
    )
    try:
        kinds = {os.getpid(): "driver", **ray_processes()}
        for pid in dc._call_all("pid"):
            kinds[int(pid)] = "shard actors"
        before = snapshot(kinds)
        start = time.perf_counter()
        results = dc.run(2000, stop_when_idle=True)
        wall = time.perf_counter() - start
        after = snapshot(kinds)
    finally:
        dc.close()
    phases = [p for r in results for p in r.phase_results]
    return CpuReport(
        docs,
        shards,
        fan_out,
        len(results),
        wall,
        sum(getattr(p, "compute_ms", 0.0) for p in phases) / 1e3,
        sum(getattr(p, "compute_cpu_ms", 0.0) for p in phases) / 1e3,
        {f"{k} / {t}": cpu - before.get((k, t), 0.0) for (k, t), cpu in sorted(after.items())},
    )


def main() -> None:
    """Measure one configuration and print a table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=30_000)
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--ray-fan-out", default="auto", choices=["auto", "compiled", "calls"])
    ap.add_argument(
        "--ray-inline-bytes",
        type=int,
        default=None,
        help="objects Ray passes inline, not through its object store, up to this size "
        f"(default: phago's, {INLINE_OBJECT_BYTES}; Ray's own default is 102400)",
    )
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not os.path.isdir("/proc/self/task"):
        sys.exit("ray_cpu.py reads CPU times from /proc: Linux only")
    import ray

    warm_up()
    options = local_ray_options(max(os.cpu_count() or 1, a.shards))
    if a.ray_inline_bytes is not None:
        options["_system_config"]["max_direct_call_object_size"] = a.ray_inline_bytes
    ray.init(**options)
    try:
        m = measure(a.docs, a.shards, a.ray_fan_out)
    finally:
        ray.shutdown()
    if a.json:
        print(json.dumps({**asdict(m), "total_cpu_s": m.total_cpu_s}, indent=2))
        return
    per_tick = 1e3 / max(m.ticks, 1)
    print(
        f"W3, D = {m.docs}, {m.shards} Ray shard(s), fan-out {m.fan_out}, "
        f"cpus = {os.cpu_count()}: {m.ticks} ticks in {m.wall_s:.1f} s"
    )
    print("| process / thread | CPU s | CPU ms per tick |")
    print("|---|---:|---:|")
    for name, cpu in m.cpu_s.items():
        print(f"| {name} | {cpu:.2f} | {cpu * per_tick:.1f} |")
    print(f"| all | {m.total_cpu_s:.2f} | {m.total_cpu_s * per_tick:.1f} |")
    rest = m.total_cpu_s - m.phases_cpu_s
    print(
        f"shards' phases, summed: {m.phases_wall_s:.2f} s of wall time, {m.phases_cpu_s:.2f} s "
        f"of CPU ({m.phases_cpu_s * per_tick:.1f} ms per tick); everything else "
        f"{rest * per_tick:.1f} ms of CPU per tick; cores busy on average "
        f"{m.total_cpu_s / m.wall_s:.2f}"
    )


if __name__ == "__main__":
    main()
