"""``phago bench``: the reference's phago-bench commands with digesters doing real work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from phago.bench import PRESETS, BenchConfig, BenchResult, run_benchmark, to_csv
from phago.cli.common import console, echo_json, fitted_table, out
from phago.errors import PhagoError

_COLUMNS = [
    ("shards", "shards"),
    ("backend", "backend"),
    ("documents", "docs"),
    ("ticks", "ticks"),
    ("docs_per_sec", "docs/s"),
    ("ticks_per_sec", "ticks/s"),
    ("queries_per_sec", "queries/s"),
    ("nodes", "nodes"),
    ("edges", "edges"),
    ("total_time_ms", "total ms"),
    ("documents_digested", "digested"),
    ("cross_shard_edges", "cross-shard"),
    ("barrier_ms_per_tick", "barrier ms/tick"),
]


def _emit(results: list[BenchResult], as_json: bool, csv: bool) -> None:
    if as_json:
        echo_json([r.to_dict() for r in results])
        return
    if csv:
        click.echo(to_csv(results))
        return
    rows = [[_cell(r.to_dict()[k], k) for k, _ in _COLUMNS] for r in results]
    out.print(fitted_table("phago bench (W2)", [h for _, h in _COLUMNS], rows, key_columns=2))


def _cell(value: Any, key: str = "") -> str:
    """A figure as the table shows it: thousands separated, one decimal for rates, two for
    the barrier's milliseconds (a fraction of one, often)."""
    if isinstance(value, float):
        return f"{value:,.2f}" if key == "barrier_ms_per_tick" else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _run(configs: list[BenchConfig], as_json: bool, csv: bool) -> None:
    if as_json and csv:
        raise click.UsageError("--json and --csv are two outputs: choose one")
    run_benchmark(BenchConfig(shards=1, documents=4, ticks=8, queries=1))  # warm-up, untimed
    results = []
    for cfg in configs:
        if not as_json:
            console.print(
                f"[dim]running {cfg.shards} shard(s), {cfg.documents} documents on {cfg.backend}..."
            )
        try:
            results.append(run_benchmark(cfg))
        except PhagoError as exc:  # Ray unavailable, a shard lost, ...
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
        except MemoryError:
            raise click.ClickException(
                f"not enough memory for {cfg.documents:,} documents on {cfg.shards} shard(s)"
            ) from None
    _emit(results, as_json, csv)


F = TypeVar("F", bound=Callable[..., Any])

MAX_SHARDS = 256
"""The most shards ``bench custom`` runs (each local shard holds a colony of its own)."""
MAX_DOCUMENTS = 10_000_000
"""The most documents ``bench custom`` generates (W2's documents, held in memory)."""


def _options(f: F) -> F:
    f = click.option(
        "--json", "as_json", is_flag=True, help="Print a JSON list, one object per configuration."
    )(f)
    f = click.option("--csv", is_flag=True, help="Print the reference's CSV.")(f)
    f = click.option(
        "--backend",
        type=click.Choice(["local", "ray"]),
        default="local",
        show_default=True,
        help="Where shards run.",
    )(f)
    return f


@click.group()
def bench() -> None:
    """Benchmarks: quick, full, compare (1, 3, 5 shards), scale (1, 2, 4, 8 shards), custom."""


def _preset(name: str, doc: str) -> click.Command:
    @_options
    def cmd(backend: str, csv: bool, as_json: bool) -> None:
        cfgs = [
            BenchConfig(c.shards, c.documents, c.ticks, c.queries, backend) for c in PRESETS[name]
        ]
        _run(cfgs, as_json, csv)

    cmd.__doc__ = doc
    return click.command(name=name)(cmd)


bench.add_command(_preset("quick", "3 shards, 50 documents, 10 ticks, 10 query rounds."))
bench.add_command(_preset("full", "3 shards, 100 documents, 20 ticks, 20 query rounds."))
bench.add_command(
    _preset("compare", "1, 3 and 5 shards; 100 documents, 20 ticks, 20 query rounds.")
)
bench.add_command(
    _preset("scale", "1, 2, 4 and 8 shards; 100 documents, 20 ticks, 20 query rounds.")
)


@bench.command()
@click.option(
    "--shards",
    type=click.IntRange(1, MAX_SHARDS),
    default=3,
    show_default=True,
    help=f"Shards (at most {MAX_SHARDS}).",
)
@click.option(
    "--docs",
    type=click.IntRange(1, MAX_DOCUMENTS),
    default=100,
    show_default=True,
    help=f"Documents (at most {MAX_DOCUMENTS:,}).",
)
@click.option(
    "--ticks",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Ticks (more run if documents remain).",
)
@click.option(
    "--queries",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Rounds of the sample queries.",
)
@_options
def custom(
    shards: int, docs: int, ticks: int, queries: int, backend: str, csv: bool, as_json: bool
) -> None:
    """One configuration of your choice."""
    _run([BenchConfig(shards, docs, ticks, queries, backend)], as_json, csv)
