"""What sharding costs in work: W3 on n local shards, run one after another, against one shard.

Usage:
    python benchmarks/shard_cost.py [--docs 10000] [--shards 1,2,4] [--block 25] [--json]
                                    [--no-decay] [--cap N|none] [--fragments N|none] [--lag]
                                    [--parts]

Every configuration is a ``DistributedColony`` on the local backend (one shard included), built
on the same W3 corpus and digesters as ``ray_scaling.py``. They then run until digested in
turns of ``--block`` ticks each, interleaved in one process, so that all of them see the same
background load; the runner keeps each phase serial on this machine, so the time is the
shards' summed work plus the runner's small overhead. The ratio to one shard is the most a
perfectly parallel n-shard run could gain: n / ratio.

After the timed run every configuration runs four more ticks (untimed; everything is digested,
so nothing new is wired) and reports its edges and the largest degree of the global graph:
the degree cap across shards acts four ticks after the growth, so by then nearly every node is
within ``max_edge_degree`` (30). A node can need a second round (its edges changed between a
report and the order that follows it; docs/distributed.md, "Drops in flight"), so the script
then runs up to ``SETTLE_MORE`` further quiet ticks until every node is within the cap and
reports how many quiet ticks that took (edges and Jaccard are those after four). With
``--lag`` it also counts, after every block (untimed), the global graph's nodes over the cap
and its largest degree: during a run, hubs that keep growing stay over the cap.

It reports the nodes one shard's graph holds (its own and replicas of other shards' nodes),
on average, as a share of the global graph's nodes, and how close each graph is to one
shard's (which equals one colony's): the Jaccard index of their edge sets (edges named by
their endpoints' labels). ``--no-decay``, ``--cap none`` and ``--fragments none`` change
``ColonyConfig.for_large_corpora()`` (cap 30, 32 keywords per document) to separate the
sources of difference: with all three, the graphs are identical (DESIGN.md I2).

With ``--parts`` it also says where each configuration's work goes: the thread CPU time
(``time.thread_time``, which a busy machine's stolen time does not inflate) of each part of
a shard's tick, summed over shards, and how much more than one shard each part costs. The
parts are the colony's four phases, routing the Act's presentations and wiring to their
shards, sealing the outgoing batches, applying other shards' batches, the degree cap across
shards (reports, the owners' ranking, applying their orders) and the ghost exchange;
"other" is the rest of the shards' phase calls.
"""

from __future__ import annotations

import argparse
import functools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from phago import Colony, ColonyConfig
from phago.distributed import DistributedColony
from phago.distributed.shard import ShardedColony
from w3common import w3_colony, w3_items, warm_up

# quiet ticks run beyond the first four, at most, for the cap across shards to hold everywhere
SETTLE_MORE = 8

# --parts: (part, class, method); none of these calls another of them on the shards' path
# except ``run_phase``, the whole of a shard's phase call ("other" is what the parts leave)
PARTS: list[tuple[str, type, str]] = [
    ("Sense", Colony, "sense"),
    ("Act", Colony, "act"),
    ("Decay", Colony, "decay"),
    ("Advance", Colony, "advance"),
    ("routing the Act's output", ShardedColony, "flush_act"),
    ("sealing outgoing batches", ShardedColony, "_seal"),
    ("applying other shards' batches", ShardedColony, "receive_updates"),
    ("degree cap: reports", ShardedColony, "degree_reports"),
    ("degree cap: owners' ranking", ShardedColony, "cap_orders"),
    ("degree cap: applying orders", ShardedColony, "apply_cap_orders"),
    ("ghosts: answering", ShardedColony, "_resolve_ghost_groups"),
    ("ghosts: storing answers", ShardedColony, "store_ghosts"),
]
WHOLE = ("all phase calls", ShardedColony, "run_phase")


class PartClock:
    """Thread CPU seconds per part for the configuration running now (``current``)."""

    def __init__(self, configurations: int) -> None:
        self.current = 0
        self.seconds = [
            dict.fromkeys([p for p, _, _ in [*PARTS, WHOLE]], 0.0) for _ in range(configurations)
        ]
        self._local = threading.local()  # per thread: how deep in parts it is
        self._lock = threading.Lock()

    def install(self) -> None:
        """Wrap every part's method (for the rest of this process)."""
        for part, cls, name in [*PARTS, WHOLE]:
            setattr(cls, name, self._timed(part, getattr(cls, name), part == WHOLE[0]))

    def _timed(self, part: str, method: Callable[..., Any], whole: bool) -> Callable[..., Any]:
        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            # a part inside another part (a ``flush_act`` inside ``take_outbox``'s) counts
            # once, in the outer one
            depth = getattr(self._local, "depth", 0)
            if not whole and depth:
                return method(*args, **kwargs)
            t0 = time.thread_time()
            self._local.depth = depth + (0 if whole else 1)
            try:
                return method(*args, **kwargs)
            finally:
                self._local.depth = depth
                spent = time.thread_time() - t0
                with self._lock:
                    self.seconds[self.current][part] += spent

        return timed


def main() -> None:
    """Run the interleaved configurations and print a table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--shards", default="1,2,4")
    ap.add_argument("--block", type=int, default=25)
    ap.add_argument("--max-ticks", type=int, default=2000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-decay", action="store_true", help="edge decay off")
    ap.add_argument("--cap", default="30", help="max_edge_degree (or none)")
    ap.add_argument("--fragments", default="32", help="max_fragments (or none)")
    ap.add_argument(
        "--lag",
        action="store_true",
        help="after every block (untimed), count the global graph's nodes over the cap",
    )
    ap.add_argument(
        "--parts",
        action="store_true",
        help="thread CPU seconds of each part of the shards' ticks, per configuration",
    )
    args = ap.parse_args()
    counts = [int(x) for x in args.shards.split(",")]
    if 1 not in counts:
        counts = [1, *counts]
    warm_up()
    items = w3_items(args.docs)
    config = ColonyConfig.for_large_corpora().replace(
        max_edge_degree=None if args.cap == "none" else int(args.cap),
        max_fragments=None if args.fragments == "none" else int(args.fragments),
        **({"edge_decay_rate": 0.0} if args.no_decay else {}),
    )
    colonies = []
    for n in counts:
        colonies.append(w3_colony(items, n, config=config))
    clock = PartClock(len(counts)) if args.parts else None
    if clock is not None:
        clock.install()
    seconds = [0.0] * len(counts)
    ticks = [0] * len(counts)
    done = [False] * len(counts)
    lag: list[list[tuple[int, int]]] = [[] for _ in counts]  # per block: (nodes over, largest)
    while not all(done):
        for k, dc in enumerate(colonies):
            if done[k]:
                continue
            if clock is not None:
                clock.current = k
            t0 = time.perf_counter()
            ran = dc.run_until_digested(min(args.block, args.max_ticks - ticks[k]))
            seconds[k] += time.perf_counter() - t0
            ticks[k] += ran
            if args.lag and config.max_edge_degree is not None:
                degrees = dc.graph.degrees()
                over = int((degrees > config.max_edge_degree).sum())
                lag[k].append((over, int(degrees.max(initial=0))))
            if ran < args.block or ticks[k] >= args.max_ticks:
                done[k] = True
    parts = None if clock is None else [dict(c) for c in clock.seconds]  # the timed run's
    if clock is not None:
        clock.current = len(counts)  # the settling ticks below go uncounted
        clock.seconds.append(dict(clock.seconds[0]))
    rows = []
    reference: set[tuple[str, str]] | None = None
    cap = config.max_edge_degree
    for n, s, t, dc, sampled in zip(counts, seconds, ticks, colonies, lag, strict=True):
        dc.run(4)  # untimed: the cap across shards settles
        st = dc.stats()
        edges = edge_set(dc)
        largest = after_four = int(dc.graph.degrees().max(initial=0))
        quiet = 4  # quiet ticks until every node is within the cap (a second round may be due)
        while cap is not None and largest > cap and quiet < 4 + SETTLE_MORE:
            dc.run(1)
            quiet += 1
            largest = int(dc.graph.degrees().max(initial=0))
        if reference is None:
            reference = edges
        jaccard = len(edges & reference) / max(len(edges | reference), 1)
        rows.append(
            {
                "shards": n,
                "seconds": round(s, 3),
                "ticks": t,
                "ratio": round(s / seconds[0], 3),
                "best_speed_up": round(n * seconds[0] / s, 3),
                "edges": st.graph_edges,
                "nodes": st.graph_nodes,
                # what one shard's graph holds (its nodes and replicas), as a share of the
                # global graph's nodes: every per-node pass of a shard's tick runs over these
                "nodes_held_share": round(
                    sum(r["nodes_held"] for r in st.shards) / n / max(st.graph_nodes, 1), 3
                ),
                "largest_degree": after_four,
                "quiet_ticks_to_cap": quiet if cap is not None and largest <= cap else None,
                "jaccard_vs_one_shard": round(jaccard, 3),
                # during the run (--lag): nodes over the cap per sampled block, on average,
                # and the largest degree seen
                "over_cap_mean": (
                    round(sum(o for o, _ in sampled) / len(sampled), 1) if sampled else None
                ),
                "largest_degree_in_run": max((d for _, d in sampled), default=None),
                "digested": st.documents_digested,
            }
        )
        dc.close()
    if parts is not None:
        for row, p in zip(rows, parts, strict=True):
            row["parts_cpu_s"] = {k: round(v, 3) for k, v in p.items()}
    if args.json:
        print(json.dumps(rows))
        return
    print(f"W3, D = {args.docs}, local shards run one after another, interleaved")
    if args.lag:
        print(
            f"during the run, sampled every {args.block} ticks: nodes over the cap on average, "
            "largest degree: "
            + "; ".join(
                f"{r['shards']} shard(s) {r['over_cap_mean']}, {r['largest_degree_in_run']}"
                for r in rows
            )
        )
    print(
        "| shards | seconds | ticks | time / one shard | best speed-up n / ratio | nodes | edges "
        "| nodes held per shard / nodes | largest degree | quiet ticks to the cap "
        "| edge Jaccard vs one shard |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['shards']} | {r['seconds']:.2f} | {r['ticks']} | {r['ratio']:.2f} "
            f"| {r['best_speed_up']:.2f} | {r['nodes']:,} | {r['edges']:,} "
            f"| {r['nodes_held_share']:.2f} | {r['largest_degree']} "
            f"| {_or_dash(r['quiet_ticks_to_cap'])} "
            f"| {r['jaccard_vs_one_shard']:.3f} |"
        )
    if parts is not None:
        print_parts(counts, parts)


def print_parts(counts: list[int], parts: list[dict[str, float]]) -> None:
    """Where each configuration's work went: thread CPU seconds per part, summed over
    shards, and the extra over one shard."""
    whole = WHOLE[0]
    print()
    print("thread CPU seconds of the timed ticks, summed over shards (extra over one shard)")
    print("| part | " + " | ".join(f"{n} shard(s)" for n in counts) + " |")
    print("|---|" + "---:|" * len(counts))
    names = [p for p, _, _ in PARTS]
    for name in [*names, "other", whole]:
        cells = []
        for p in parts:
            v = p[whole] - sum(p[x] for x in names) if name == "other" else p[name]
            base = (
                parts[0][whole] - sum(parts[0][x] for x in names)
                if name == "other"
                else parts[0][name]
            )
            cells.append(f"{v:.2f}" if p is parts[0] else f"{v:.2f} ({v - base:+.2f})")
        print(f"| {name} | " + " | ".join(cells) + " |")


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def edge_set(dc: DistributedColony) -> set[tuple[str, str]]:
    """The global graph's edges as sorted label pairs."""
    g = dc.graph
    labels = g.labels()
    a, b, *_ = g.edge_arrays()
    return {
        (x, y) if x <= y else (y, x)
        for x, y in ((labels[i], labels[j]) for i, j in zip(a.tolist(), b.tolist(), strict=True))
    }


if __name__ == "__main__":
    main()
