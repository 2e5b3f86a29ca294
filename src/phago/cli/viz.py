"""``phago viz``: draw the stored graph as one self-contained HTML page (and a PNG)."""

from __future__ import annotations

from pathlib import Path

import click

from phago.cli._store import db_option, fail, open_table
from phago.cli.common import LazyChoice, echo_json, out
from phago.errors import PhagoError


def _colours() -> tuple[str, ...]:
    from phago.viz import COLOR_BY

    return COLOR_BY


@click.command()
@db_option()
@click.option(
    "--out",
    "out_path",
    default=Path("graph.html"),
    show_default=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="HTML file to write (a .png name writes only the picture).",
)
@click.option("--png", is_flag=True, help="Also write a static PNG next to the HTML file.")
@click.option(
    "--color-by",
    type=LazyChoice(_colours),
    default=None,
    help="Colour nodes by community, shard or type [default: shard for a distributed "
    "store, else community].",
)
@click.option(
    "--max-nodes",
    type=click.IntRange(min=1),
    default=800,
    show_default=True,
    help="Draw at most this many nodes (the most accessed; nodes with no edges are not drawn).",
)
@click.option("--title", default="phago knowledge graph", show_default=True, help="Page title.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the files written and what they show as JSON."
)
def viz(
    db: Path,
    out_path: Path,
    png: bool,
    color_by: str | None,
    max_nodes: int,
    title: str,
    as_json: bool,
) -> None:
    """Write an HTML view of the graph in DB: node size by access count, edge thickness by
    weight, colour by community or shard, a search box and hover details. It needs no network
    access to open. The files are written whole or not at all, and never over the store
    itself nor any other phago store. After the files written it prints the page's note:
    how many of how many nodes are drawn (with --json, as "note")."""
    import numpy as np

    from phago.export import check_output_path
    from phago.viz import (
        page_note,
        select_nodes,
        write_html,
        write_html_and_png,
        write_png,
    )

    to_png = out_path.suffix.lower() == ".png"
    targets = [out_path] if to_png or not png else [out_path, out_path.with_suffix(".png")]
    try:
        for target in targets:  # all of them before anything is written
            check_output_path(target, source=db)
    except PhagoError as exc:
        raise fail(exc) from exc
    table = open_table(db)
    colour = color_by or ("shard" if table.shard is not None else "community")
    written: list[str] = []
    try:
        if to_png:
            written.append(
                str(write_png(table, out_path, color_by=colour, max_nodes=max_nodes, title=title))
            )
        else:
            if png:
                both = write_html_and_png(
                    table,
                    out_path,
                    out_path.with_suffix(".png"),
                    color_by=colour,
                    max_nodes=max_nodes,
                    title=title,
                )
                written.extend(str(p) for p in both)
            else:
                written.append(
                    str(
                        write_html(
                            table, out_path, color_by=colour, max_nodes=max_nodes, title=title
                        )
                    )
                )
    except PhagoError as exc:
        raise fail(exc) from exc
    keep = select_nodes(table, max_nodes)
    note = page_note(table, len(keep))  # (what the page's header says)
    if as_json:
        inside = np.zeros(table.node_count, dtype=np.bool_)
        inside[keep] = True
        drawn = int(np.count_nonzero(inside[table.edge_a] & inside[table.edge_b]))
        echo_json(
            {
                "files": written,
                "nodes": table.node_count,
                "edges": table.edge_count,
                "shown_nodes": len(keep),  # (nodes with no edges are not drawn)
                "shown_edges": drawn,
                "note": note,
            }
        )
        return
    for w in written:
        out.print(f"Wrote {w}", highlight=False, soft_wrap=True)
    out.print(note, highlight=False, markup=False, soft_wrap=True)
    if out_path.suffix.lower() != ".png":
        out.print(
            f"Open it in a browser: {out_path.resolve().as_uri()}", highlight=False, soft_wrap=True
        )
