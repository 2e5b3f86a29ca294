"""What sharding costs in work: W3 on n local shards, run one after another, against one shard.

Usage:
    python benchmarks/shard_cost.py [--docs 10000] [--shards 1,2,4] [--block 25] [--json]
                                    [--no-decay] [--cap N|none] [--fragments N|none] [--lag]

Every configuration is a ``DistributedColony`` on the local backend (one shard included), built
on the same W3 corpus and digesters as ``ray_scaling.py``. They then run until digested in
turns of ``--block`` ticks each, interleaved in one process, so that all of them see the same
background load; the runner keeps each phase serial on this machine, so the time is the
shards' summed work plus the runner's small overhead. The ratio to one shard is the most a
perfectly parallel n-shard run could gain: n / ratio.

After the timed run every configuration runs ``SETTLE`` more ticks (two rounds of the degree
cap across shards, untimed; everything is digested, so nothing new is wired) and reports its
edges and the largest degree of the global graph: the cap trims a node four to seven ticks
after it grew, so by then nearly every node is within ``max_edge_degree`` (30). A node can
need another round (its edges changed between a report and the order that follows it;
docs/distributed.md, "Drops in flight"), so the script then runs up to ``SETTLE_MORE``
further quiet ticks until every node is within the cap and reports how many quiet ticks
that took (edges and Jaccard are those after ``SETTLE``). With
``--lag`` it also counts, after every block (untimed), the global graph's nodes over the cap
and its largest degree: during a run, hubs that keep growing stay over the cap.

It reports the nodes one shard's graph holds (its own and replicas of other shards' nodes),
on average, as a share of the global graph's nodes, and how close each graph is to one
shard's (which equals one colony's): the Jaccard index of their edge sets (edges named by
their endpoints' labels). ``--no-decay``, ``--cap none`` and ``--fragments none`` change
``ColonyConfig.for_large_corpora()`` (cap 30, 32 keywords per document) to separate the
sources of difference: with all three, the graphs are identical (DESIGN.md I2).
"""

from __future__ import annotations

import argparse
import json
import time

from phago import ColonyConfig
from phago.distributed import DistributedColony
from phago.distributed.degree_cap import ROUND_TICKS
from w3common import w3_colony, w3_items, warm_up

# quiet ticks after the run: two rounds of the cap across shards, then at most SETTLE_MORE
# more for it to hold everywhere
SETTLE = 2 * ROUND_TICKS
SETTLE_MORE = 2 * ROUND_TICKS


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
    seconds = [0.0] * len(counts)
    ticks = [0] * len(counts)
    done = [False] * len(counts)
    lag: list[list[tuple[int, int]]] = [[] for _ in counts]  # per block: (nodes over, largest)
    while not all(done):
        for k, dc in enumerate(colonies):
            if done[k]:
                continue
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
    rows = []
    reference: set[tuple[str, str]] | None = None
    cap = config.max_edge_degree
    for n, s, t, dc, sampled in zip(counts, seconds, ticks, colonies, lag, strict=True):
        # untimed, quiet ticks: the cap across shards settles; the first tick at which every
        # node is within the cap is noted (another round may be due after SETTLE)
        quiet, within = 0, None
        while quiet < SETTLE or (within is None and quiet < SETTLE + SETTLE_MORE):
            dc.run(1)
            quiet += 1
            largest = int(dc.graph.degrees().max(initial=0))
            if within is None and (cap is None or largest <= cap):
                within = quiet
            if quiet == SETTLE:
                st, edges, after_settle = dc.stats(), edge_set(dc), largest
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
                "largest_degree": after_settle,
                "quiet_ticks_to_cap": within if cap is not None else None,
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
