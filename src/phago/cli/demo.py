"""``phago demo``: digest the bundled sample corpus and show what the colony learnt.

The demo also saves the colony to ``phago-demo.db`` (a store the ``stats``, ``export``,
``viz``, ``ingest`` and ``forget`` commands work on) and writes the HTML view
``phago-demo.html``, in the current directory or ``--out-dir``, and ends by saying where the
HTML view is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from phago.cli.common import build_colony, echo_json, out, progress, stats_table
from phago.errors import PhagoError

if TYPE_CHECKING:
    from phago.colony import Colony

DEMO_QUERIES = ("how do stars form in a nebula", "how do antibodies recognise pathogens")


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
@click.option(
    "--digesters",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Digesters to spawn.",
)
@click.option(
    "--max-ticks",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Stop after this many ticks.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Random seed."
)
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Where to write phago-demo.db and phago-demo.html.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def demo(digesters: int, max_ticks: int, seed: int, out_dir: Path, as_json: bool) -> None:
    """Digest the bundled 40-document sample corpus and show the knowledge graph.

    Saves the colony to phago-demo.db and writes the HTML view phago-demo.html.
    """
    from phago.corpus import load_sample_corpus
    from phago.export import GraphTable
    from phago.query import retrieve
    from phago.store import Catalog, HistoryPoint, save
    from phago.viz import write_html

    docs = load_sample_corpus()
    colony = build_colony(docs, digesters=digesters, seed=seed, max_idle=60)
    catalog = Catalog()
    with progress() as bar:
        task = bar.add_task("digesting", total=len(docs))

        def on_tick(tick: int) -> None:
            st = colony.stats()
            bar.update(task, completed=st.documents_digested)
            catalog.add_point(
                HistoryPoint(
                    tick, st.graph_nodes, st.graph_edges, st.documents_total, st.documents_digested
                )
            )

        ticks = colony.run_until_digested(max_ticks, on_tick=on_tick)
    stats = colony.stats().to_dict()
    edges = strongest_edges(colony, 10)
    answers = {q: [(r.label, r.score) for r in retrieve(colony, q, k=6)] for q in DEMO_QUERIES}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        db = save(colony, out_dir / "phago-demo.db", catalog=catalog)
        html = write_html(
            GraphTable.from_colony(colony),
            out_dir / "phago-demo.html",
            title="phago demo: sample corpus",
        )
    except (PhagoError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        echo_json(
            {
                "ticks": ticks,
                "stats": stats,
                "strongest_edges": edges,
                "queries": answers,
                "db": str(db),
                "html": str(html),
            }
        )
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
            + (", ".join(f"{lab} ({w:.2f})" for lab, w in ans) or "(nothing found)"),
            soft_wrap=True,
        )
    out.print(
        f"Saved the colony to {db} (try: phago stats --db {db}).", highlight=False, soft_wrap=True
    )
    out.print(f"[bold]HTML view:[/bold] {html.resolve().as_uri()}", highlight=False, soft_wrap=True)
