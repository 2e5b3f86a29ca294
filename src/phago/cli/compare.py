"""``phago compare``: the timelines of several runs side by side, in one chart."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from phago.cli._store import fail
from phago.cli.common import echo_json, out
from phago.errors import PhagoError


@click.command(name="compare")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The chart to write: .svg, or .html (with a table of where each run ended).",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="NAME",
    help="Name of each run, in the order of FILES (default: each file's name without its ending).",
)
@click.option("--title", default="runs", show_default=True, help="The chart's title.")
@click.option("--json", "as_json", is_flag=True, help="Print where each run ended as JSON.")
def compare(
    files: tuple[Path, ...],
    out_path: Path,
    labels: tuple[str, ...],
    title: str,
    as_json: bool,
) -> None:
    """Draw the timelines FILES (written by `phago run --timeline`, .csv, .jsonl or .json)
    in one chart: a panel per count (concepts, edges, documents digested, agents alive, ms
    per tick), a line per run in its own colour (at most 8 runs). Prints where each run
    ended."""
    from phago.compare import read_timeline, write_comparison

    if labels and len(labels) != len(files):
        raise click.UsageError(f"give a --label for each of the {len(files)} files, or none")
    names = list(labels) or [f.stem for f in files]
    if len(set(names)) != len(names):
        raise click.UsageError("two runs have the same name: give each a --label")
    try:
        runs = {name: read_timeline(f) for name, f in zip(names, files, strict=True)}
        write_comparison(runs, out_path, title=title)
    except PhagoError as exc:
        raise fail(exc) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot read a timeline: {exc}") from exc
    ended = [
        {
            "run": name,
            "ticks": records[-1].tick if records else 0,
            "nodes": records[-1].nodes if records else 0,
            "edges": records[-1].edges if records else 0,
            "documents_digested": records[-1].documents_digested if records else 0,
            "agents_alive": records[-1].agents_alive if records else 0,
            "seconds": round(sum(r.tick_ms for r in records) / 1000, 3),
        }
        for name, records in runs.items()
    ]
    if as_json:
        echo_json({"out": str(out_path.absolute()), "runs": ended})
        return
    table = Table(title=Text(f"{len(ended)} runs"))
    for col in ("run", "ticks", "nodes", "edges", "documents_digested", "agents_alive", "seconds"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for row in ended:
        table.add_row(Text(str(row["run"])), *(str(v) for k, v in row.items() if k != "run"))
    out.print(table)
    out.print(f"Wrote {out_path}.", highlight=False, markup=False)
