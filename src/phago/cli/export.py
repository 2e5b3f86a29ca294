"""``phago export``: write the stored graph as GraphML, GEXF, JSON, CSV or weighted triples."""

from __future__ import annotations

from pathlib import Path

import click

from phago.cli._output import output_sink, usage_error
from phago.cli._store import db_option, fail, open_table
from phago.cli.common import LazyChoice, echo_json
from phago.errors import ConfigError, PhagoError


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
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="File to write, or - for standard output (pipe it: --out - | head). A name ending "
    ".gz (or .gzip) gzips it, .bz2 bzip2s it, in every format (e.g. e.csv.gz, e.jsonl.gz: "
    "compressed, exactly the plain export). A name for another format (csv into x.jsonl) "
    "is refused. /dev/stdout is standard output, as -. A FIFO or device is written in place, "
    "never compressed.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print what was written as JSON (not with --out -)."
)
def export(db: Path, fmt: str, out_path: Path, as_json: bool) -> None:
    """Export the knowledge graph stored in DB. The --out file is written whole or not at
    all, and never over the store itself nor any other phago store. A --out name ending
    .gz compresses it (gzip; .bz2: bzip2) in every format; a name ending for another format
    than --format (.graphml, .gexf, .xml, .json, .jsonl, .csv, .html, .png, .svg) is refused.

    --out - writes the export to standard output, and what is said goes to stderr; a reader
    that stops early (head) ends the export quietly (exit status 1). --out /dev/stdout (or
    /dev/fd/1) is the same: written where standard output is, so that >> appends to a file.
    An existing FIFO, terminal or device is written in place (not whole-or-nothing, and
    uncompressed)."""
    from phago.export import check_format_name, export_graph

    sink = output_sink(out_path)
    sink.refuse_json(as_json)
    try:
        sink.refuse_stores(db)
        check_format_name(fmt, out_path)
    except ConfigError as exc:
        raise usage_error(exc) from exc
    except PhagoError as exc:
        raise fail(exc) from exc
    table = open_table(db)
    try:
        path = export_graph(table, fmt, out_path)  # (a closed pipe: click exits quietly)
    except PhagoError as exc:
        raise fail(exc) from exc
    if as_json:
        echo_json(
            {"out": str(path), "format": fmt, "nodes": table.node_count, "edges": table.edge_count}
        )
        return
    sink.messages.print(
        f"Wrote {table.node_count} nodes and {table.edge_count} edges as {fmt} to {sink.name}.",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
