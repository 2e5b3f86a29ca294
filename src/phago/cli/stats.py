"""``phago stats``: counts, tick, top concepts and growth of a stored colony."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from phago.cli._store import db_option, fail, sparkline
from phago.cli.common import echo_json, out, stats_table
from phago.errors import PhagoError


@click.command()
@db_option()
@click.option(
    "--top",
    type=click.IntRange(min=0, max=20),
    default=10,
    show_default=True,
    help="How many top concepts to show.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON (the ColonyStats fields, sources: documents taken from files, "
    "source_files: files, top concepts, history).",
)
def stats(db: Path, top: int, as_json: bool) -> None:
    """Show what the store DB holds, without loading the colony.

    It reads the summary saved with the store, so it is quick on any size of store; it does
    not verify the stored graph's checksums (``query``, ``export`` and loading do).
    """
    from phago.store import read_summary

    try:
        summary = read_summary(db)
    except PhagoError as exc:
        raise fail(exc) from exc
    if as_json:
        d = summary.to_dict()
        d["top_concepts"] = d["top_concepts"][:top]
        echo_json(d)
        return
    out.print(
        f"{db} ({summary.kind}, saved {summary.saved_at})",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    out.print(
        stats_table(
            {
                **summary.stats,
                "sources": summary.sources,
                "source_files": summary.source_files,
            },
            title=None,
        )
    )
    if summary.top_concepts and top:
        t = Table(title="Top concepts")
        for col in ("concept", "access count", "degree"):
            t.add_column(col)
        for c in summary.top_concepts[:top]:
            t.add_row(Text(str(c["label"])), str(c["access_count"]), str(c["degree"]))
        out.print(t)
    h = summary.history
    if len(h) > 1:
        out.print(
            f"nodes {sparkline([p.nodes for p in h])}  {h[0].nodes} → {h[-1].nodes}",
            highlight=False,
            soft_wrap=True,
        )
        out.print(
            f"edges {sparkline([p.edges for p in h])}  {h[0].edges} → {h[-1].edges}",
            highlight=False,
            soft_wrap=True,
        )
        out.print(
            f"ticks {h[0].tick} → {h[-1].tick} ({len(h)} points)", highlight=False, soft_wrap=True
        )
