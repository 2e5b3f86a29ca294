"""Helpers shared by CLI commands: consoles, progress bars, JSON output, colony building."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from phago.agents.digester import Digester
from phago.colony import Colony
from phago.config import ColonyConfig
from phago.corpus import CorpusDocument, grid_positions
from phago.types import Position

console = Console(stderr=True)
out = Console()


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def progress() -> Progress:
    """A progress bar on stderr (hidden when stderr is not a terminal and not forced)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=not sys.stderr.isatty(),
        disable=not sys.stderr.isatty(),
    )


def build_colony(
    docs: Sequence[CorpusDocument],
    *,
    digesters: int,
    seed: int,
    config: ColonyConfig | None = None,
    max_idle: int = 30,
) -> Colony:
    """A colony with ``docs`` on a grid and ``digesters`` spread over them (W1 layout)."""
    colony = Colony(config, seed=seed)
    positions = grid_positions(len(docs))
    for d, p in zip(docs, positions, strict=True):
        colony.ingest_document(d.title, d.content, p)
    step = max(1, len(docs) // max(digesters, 1))
    for j in range(digesters):
        p = positions[(j * step) % len(positions)] if positions else Position(0, 0)
        colony.spawn(Digester(Position(p.x + 1, p.y + 1), seed=j, max_idle=max_idle))
    return colony


def stats_table(stats: dict[str, Any], title: str = "Colony") -> Table:
    """A two-column table of stats."""
    t = Table(title=title, show_header=False)
    for k, v in stats.items():
        t.add_row(k, str(v))
    return t
