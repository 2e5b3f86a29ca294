"""``phago demo``: digest the bundled sample corpus and show what the colony learnt."""

from __future__ import annotations

import click
from rich.table import Table

from phago.cli.common import build_colony, echo_json, out, progress, stats_table
from phago.colony import Colony
from phago.corpus import load_sample_corpus

DEMO_QUERIES = ("telescope", "antibody")


def strongest_edges(colony: Colony, k: int) -> list[tuple[str, str, float, int]]:
    """The ``k`` strongest edges as ``(label, label, weight, co_activations)``."""
    g = colony.graph
    a, b, w, co, _, _ = g.edge_arrays()
    order = sorted(range(len(w)), key=lambda i: (-w[i], -co[i], i))[:k]
    return [(g.label_at(int(a[i])), g.label_at(int(b[i])), float(w[i]), int(co[i])) for i in order]


def neighbours_of(colony: Colony, label: str, k: int) -> list[tuple[str, float]]:
    """The ``k`` strongest neighbours of the concept ``label`` (exact label lookup)."""
    g = colony.graph
    nid = g.find_by_label(label)
    if nid is None:
        return []
    nbrs = sorted(g.neighbors(nid), key=lambda ne: (-ne[1].weight, -ne[1].co_activations))
    return [(g.label_at(g.index_of(n)), e.weight) for n, e in nbrs[:k]]


@click.command()
@click.option("--digesters", default=10, show_default=True, help="Digesters to spawn.")
@click.option("--max-ticks", default=500, show_default=True, help="Stop after this many ticks.")
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def demo(digesters: int, max_ticks: int, seed: int, as_json: bool) -> None:
    """Digest the bundled 40-document sample corpus and show the knowledge graph."""
    docs = load_sample_corpus()
    colony = build_colony(docs, digesters=digesters, seed=seed, max_idle=60)
    with progress() as bar:
        task = bar.add_task("digesting", total=len(docs))

        def on_tick(_: int) -> None:
            bar.update(task, completed=colony.stats().documents_digested)

        ticks = colony.run_until_digested(max_ticks, on_tick=on_tick)
    stats = colony.stats().to_dict()
    edges = strongest_edges(colony, 10)
    answers = {q: neighbours_of(colony, q, 5) for q in DEMO_QUERIES}
    if as_json:
        echo_json({"ticks": ticks, "stats": stats, "strongest_edges": edges, "queries": answers})
        return
    out.print(
        f"[bold green]Digested {stats['documents_digested']}/{stats['documents_total']} "
        f"documents in {ticks} ticks."
    )
    out.print(stats_table(stats))
    t = Table(title="Strongest edges")
    for col in ("concept", "concept", "weight", "co-activations"):
        t.add_column(col)
    for a, b, w, co in edges:
        t.add_row(a, b, f"{w:.2f}", str(co))
    out.print(t)
    for q, ans in answers.items():
        out.print(
            f"[bold]{q}[/bold] → "
            + (", ".join(f"{lab} ({w:.2f})" for lab, w in ans) or "(not in the graph)")
        )
