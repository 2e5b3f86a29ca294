"""``phago export``: write the stored graph as GraphML, GEXF, JSON, CSV or weighted triples."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from phago.cli._store import db_option, fail, open_table
from phago.cli.common import LazyChoice, console, echo_json, out
from phago.errors import ConfigError, PhagoError


def _formats() -> tuple[str, ...]:
    from phago.export import FORMATS

    return FORMATS


def usage_error(exc: ConfigError) -> click.UsageError:
    """A usage error (exit status 2, ``UsageError`` text) carrying ``exc`` (so that a
    ``--json`` error names its type, ``ConfigError``). Raise it ``from exc``.

    Example:
        >>> err = usage_error(ConfigError("--png needs a file"))
        >>> err.exit_code, err.message
        (2, '--png needs a file')
    """
    err = click.UsageError(str(exc))
    err.__cause__ = exc
    return err


def is_standard_output(path: Path) -> bool:
    """True if writing ``path`` writes this process's standard output: ``-`` or another name
    of it (``/dev/stdout``, ``/dev/fd/1``; see :func:`phago.export.writes_standard_output`),
    or a path that is the file standard output is (the pipe or terminal it is, the file it
    was redirected to), so that the messages of a command that writes it go to stderr.

    Example:
        >>> is_standard_output(Path("-")), is_standard_output(Path("/nonexistent/x.csv"))
        (True, False)
    """
    from phago.export import writes_standard_output

    if writes_standard_output(path):
        return True
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):
        return False  # (not there, or standard output is no file: a test's capture)


def refuse_json_on_stdout(as_json: bool, path: Path) -> None:
    """Refuse ``--json`` (a summary on standard output) when ``--out`` writes standard output.

    Raises:
        click.UsageError: both (from a ConfigError).
    """
    if as_json and is_standard_output(path):
        exc = ConfigError(
            f"--json prints on standard output, which --out {path} fills with the output: "
            "leave out --json (the summary then goes to stderr) or give --out a file"
        )
        raise usage_error(exc) from exc


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
    from phago.export import check_format_name, check_output_path, export_graph

    refuse_json_on_stdout(as_json, out_path)
    to_stdout = os.fspath(out_path) == "-"
    try:
        if not to_stdout:
            check_output_path(out_path, source=db)
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
    where = "standard output" if to_stdout else str(path)
    say = console if is_standard_output(out_path) else out
    say.print(
        f"Wrote {table.node_count} nodes and {table.edge_count} edges as {fmt} to {where}.",
        highlight=False,
        soft_wrap=True,
    )
