"""``phago export``: write the stored graph as GraphML, GEXF, JSON, CSV or weighted triples."""

from __future__ import annotations

from pathlib import Path

import click

from phago.cli._store import db_option, fail, open_table
from phago.cli.common import LazyChoice, echo_json, out
from phago.errors import PhagoError


def _formats() -> tuple[str, ...]:
    from phago.export import FORMATS

    return FORMATS


@click.command()
@db_option()
@click.option(
    "--format",
    "fmt",
    required=True,
    type=LazyChoice(_formats),
    help="graphml / gexf (Gephi, networkx), json, csv (edge list), triples "
    "(weighted related_to triples with statistics; .jsonl for JSON Lines).",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="File to write. A name ending .gz (or .gzip) gzips it, .bz2 bzip2s it, in every "
    "format (e.g. e.csv.gz, e.jsonl.gz: compressed, exactly the plain export).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def export(db: Path, fmt: str, out_path: Path, as_json: bool) -> None:
    """Export the knowledge graph stored in DB. The --out file is written whole or not at
    all, and never over the store itself nor any other phago store. A --out name ending
    .gz compresses it (gzip; .bz2: bzip2) in every format."""
    from phago.export import check_output_path, export_graph

    try:
        check_output_path(out_path, source=db)
    except PhagoError as exc:
        raise fail(exc) from exc
    table = open_table(db)
    try:
        path = export_graph(table, fmt, out_path)
    except PhagoError as exc:
        raise fail(exc) from exc
    if as_json:
        echo_json(
            {"out": str(path), "format": fmt, "nodes": table.node_count, "edges": table.edge_count}
        )
    else:
        out.print(
            f"Wrote {table.node_count} nodes and {table.edge_count} edges as {fmt} to {path}.",
            highlight=False,
            soft_wrap=True,
        )
