"""``phago viz``: draw the stored graph as one self-contained HTML page (and a PNG)."""

from __future__ import annotations

from pathlib import Path

import click

from phago.cli._output import output_sink, usage_error
from phago.cli._store import db_option, fail, is_distributed, open_table
from phago.cli.common import LazyChoice, echo_json
from phago.errors import ConfigError, PhagoError

_PAGE_SUFFIXES = (".html", ".htm")
_PICTURE_SUFFIX = ".png"


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
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="HTML file to write (.html or .htm; a .png name writes only the picture), or - for "
    "the page on standard output (/dev/stdout too). A FIFO or device is written in place, "
    "whatever its name.",
)
@click.option(
    "--png",
    is_flag=True,
    help="Also write a static PNG next to the HTML file (same name, .png; needs a file "
    "--out, not - nor a FIFO).",
)
@click.option(
    "--color-by",
    type=LazyChoice(_colours),
    default=None,
    help="Colour nodes by community, shard (a distributed store only) or type [default: "
    "shard for a distributed store, else community].",
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
    "--json",
    "as_json",
    is_flag=True,
    help="Print the files written and what they show as JSON (not with --out -).",
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
    how many of how many nodes are drawn (with --json, as "note").

    --out names an .html or .htm file (or a .png one, for the picture alone); other names
    are refused. --out - (or /dev/stdout) writes the page to standard output, and what is
    said goes to stderr; an existing FIFO, terminal or device is written in place."""
    import numpy as np

    from phago.viz import (
        page_note,
        select_nodes,
        write_html,
        write_html_and_png,
        write_png,
    )

    sink = output_sink(out_path)
    sink.refuse_json(as_json)
    to_png = not sink.is_dash and out_path.suffix.lower() == _PICTURE_SUFFIX
    picture = None if to_png or not png else out_path.with_suffix(_PICTURE_SUFFIX)  # (--png's)
    try:
        sink.refuse_stores(db, beside=picture)  # (both before anything is written)
        _check_names(out_path, stream=sink.is_stream, to_png=to_png, png=png)
        if color_by == "shard" and not is_distributed(db):
            raise ConfigError(
                "--color-by shard needs a distributed store (one made with --shards): "
                "colour by community or type"
            )
    except ConfigError as exc:
        raise usage_error(exc) from exc
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
        elif picture is not None:
            both = write_html_and_png(
                table, out_path, picture, color_by=colour, max_nodes=max_nodes, title=title
            )
            written.extend(str(p) for p in both)
        else:
            written.append(
                str(write_html(table, out_path, color_by=colour, max_nodes=max_nodes, title=title))
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
    say = sink.messages
    for w in written:
        where = "the page to standard output" if w == "-" else w
        say.print(f"Wrote {where}", highlight=False, soft_wrap=True, markup=False)
    say.print(note, highlight=False, markup=False, soft_wrap=True)
    if not to_png and not sink.is_stream:
        say.print(
            f"Open it in a browser: {out_path.resolve().as_uri()}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )


def _check_names(out_path: Path, *, stream: bool, to_png: bool, png: bool) -> None:
    """Refuse a --out name that is not a page's (nor a picture's), and --png where no
    picture file can be named next to --out.

    Raises:
        ConfigError: the one that is wrong.
    """
    if png and stream and not to_png:
        raise ConfigError(
            f"--png writes the picture next to the page's file, and --out {out_path} is "
            "no file: give --out a file name (e.g. graph.html), or --out x.png for the "
            "picture alone"
        )
    if stream or to_png:
        return
    suffix = out_path.suffix.lower()
    if suffix not in _PAGE_SUFFIXES:
        picture = out_path.with_suffix(_PICTURE_SUFFIX).name
        hint = f" (for a picture: --png, or --out {picture} for the picture alone)"
        raise ConfigError(
            f"--out {out_path} does not end in .html or .htm: phago viz writes an HTML page; "
            f"name it e.g. {out_path.with_suffix('.html').name}{hint}"
        )
