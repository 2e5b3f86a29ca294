"""Ray scaling on workload W3 (WORKLOADS.md): 1, 2, 4 (and 8) shards, local and Ray.

Usage:
    python benchmarks/ray_scaling.py [--docs 10000] [--shards 1,2,4] [--backends local,ray]
                                     [--ray-cpus N] [--json]

Each configuration generates the W3 corpus (untimed), then times ingest → digested → wired
with ``ColonyConfig.for_large_corpora()`` and one digester per 100 documents. Reports
documents/s, speed-up over one shard of the same backend, barrier overhead per tick (phase
wall time beyond the slowest shard), the shards' own work (their phases' compute time: the
slowest shard's and the sum over shards; set against the same shard count on the local
backend, it shows how much sharing the cores slowed each shard) and peak memory per shard.
For Ray shards running whole ticks actor to actor, a second table says where they waited
(``phago.distributed.timeline``): between their own calls, before Decay (for the other
shards' parts), and the hop from a Decay's last input to its start; and the driver
process's CPU per tick (its Python thread and Ray's threads in it), which on a machine with
no core to spare comes out of the shards'; and the ticks replayed from the calls as they
ran (``timeline.replayed_span``): in the runner's order, and with one tick of slack between
the shards, which tells what the waits before Decay cost (docs/distributed.md, "Slack
between shards"); and how many calls ran their next Sense ahead of the other shards' parts
and how long they then still waited for them (docs/distributed.md, "The next Sense ahead").
Ray shards are actors with one CPU each; Ray is started once for the whole run with
``--ray-cpus`` CPUs (default: the cores this process may use, or the most shards asked for if
that is more).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from phago.distributed.backends.ray import local_ray_options, usable_cores
from w3common import run_w3, w3_arguments, warm_up


def main() -> None:
    ap = w3_arguments(__doc__)
    ap.add_argument("--backends", default="local,ray")
    ap.add_argument(
        "--ray-cpus",
        type=int,
        default=None,
        help="CPUs Ray declares (default: the cores this process may use, or the most shards if "
        "more, so that every one-CPU shard is placed)",
    )
    ap.add_argument(
        "--ray-fan-out",
        default="auto",
        choices=["auto", "compiled", "calls"],
        help="how phases reach the Ray actors (DistributedColony's ray_fan_out)",
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--jsonl", default=None, help="Also append each result as a JSON line here.")
    a = ap.parse_args()
    shard_counts = [int(x) for x in a.shards.split(",")]
    if a.ray_cpus is None:
        a.ray_cpus = max(usable_cores(), *shard_counts)
    backends = a.backends.split(",")
    warm_up()
    if "ray" in backends:
        import ray

        ray.init(**local_ray_options(a.ray_cpus))
    rows = []
    for backend in backends:
        base = None
        for n in shard_counts:
            res = run_w3(
                a.docs,
                backend=backend,
                shards=n,
                ray_options={"num_cpus": 1} if backend == "ray" else None,
                ray_fan_out=a.ray_fan_out,
            )
            row = res.row()
            base = base or res.docs_per_s
            row["speedup"] = res.docs_per_s / base
            rows.append(row)
            if a.jsonl:
                with open(a.jsonl, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
            if not a.json:
                print(f"# {backend} {n} shard(s): {res.docs_per_s:.0f} docs/s", file=sys.stderr)
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"W3, D = {a.docs}, cores usable = {usable_cores()}, Ray CPUs = {a.ray_cpus}")
    print(
        "| backend | shards | seconds | ticks | digested | docs/s | words/s | speed-up | "
        "barrier ms/tick | slowest shard's work s | work summed s | cross-shard edges | "
        "peak RSS/shard MiB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['backend']} | {r['shards']} | {r['seconds']:.1f} | {r['ticks']} | "
            f"{r['digested']} | {r['docs_per_s']:.0f} | {r['words_per_s']:.0f} | "
            f"{r['speedup']:.2f} | {r['barrier_ms_per_tick']:.2f} | {r['work_slowest_s']:.1f} | "
            f"{r['work_summed_s']:.1f} | {r['cross_shard_edges']} | "
            f"{r['peak_rss_per_shard_mib']:.0f} |"
        )
    piped = [r for r in rows if r["hop_ms"] is not None]
    if piped:  # where pipelined Ray shards waited (phago.distributed.timeline)
        print()
        print(
            "| backend | shards | ticks | waiting before Sense s/shard | "
            "waiting before Decay s/shard | hop ms | driver CPU ms/tick | "
            "ticks replayed s | replayed with a tick of slack s | calls with the Sense ahead | "
            "then waiting for parts s/shard |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in piped:
            print(
                f"| {r['backend']} | {r['shards']} | {r['ticks']} | "
                f"{r['wait_before_sense_s']:.2f} | {r['wait_before_decay_s']:.2f} | "
                f"{r['hop_ms']:.2f} | {r['driver_cpu_ms_per_tick']:.2f} | "
                f"{r['replayed_s']:.1f} | {r['replayed_slack_s']:.1f} | {r['senses_ahead']} | "
                f"{_seconds(r['parts_wait_s'])} |"
            )


def _seconds(value: float | None) -> str:
    """A table cell of seconds, or "None" where a revision did not report them."""
    return "None" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    main()
