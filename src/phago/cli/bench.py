"""``phago bench``: the reference's phago-bench commands with digesters doing real work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from phago.bench import PRESETS, BenchConfig, BenchResult, run_benchmark, to_csv
from phago.cli.common import console, echo_json, fitted_table, out, progress
from phago.errors import ConfigError, PhagoError

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
    """Run ``configs`` in order and print their results: what they share (Ray, on that
    backend, and a warm-up run) started once before the first, untimed, and said on stderr
    (``startup_ms`` in each result); each configuration under a progress bar on stderr when
    stderr is a terminal and the output is the table."""
    import sys

    from phago.bench import bench_session

    if as_json and csv:
        raise click.UsageError("--json and --csv are two outputs: choose one")
    backend = configs[0].backend if configs else "local"
    cfg: BenchConfig | None = None
    results = []
    try:
        with bench_session(backend, max((c.shards for c in configs), default=1)) as startup_s:
            if not as_json:
                what = "Ray started (or joined) and warmed up" if backend == "ray" else "warmed up"
                console.print(
                    f"[dim]{what} in {startup_s:.1f} s (startup_ms; in no configuration's figures)",
                    highlight=False,
                )
            for cfg in configs:
                if not as_json:
                    console.print(
                        f"[dim]running {cfg.shards} shard(s), {cfg.documents} documents on "
                        f"{cfg.backend}...",
                        highlight=False,
                    )
                shown = not (as_json or csv) and sys.stderr.isatty()
                r = _run_one(cfg, shown)
                r.startup_ms = startup_s * 1000.0
                results.append(r)
    except PhagoError as exc:  # Ray unavailable, a shard lost, ...
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    except MemoryError:
        where = "" if cfg is None else f" for {cfg.documents:,} documents on {cfg.shards} shard(s)"
        message = f"not enough memory{where}: choose fewer documents or shards"
        raise click.ClickException(message) from ConfigError(message)
    _emit(results, as_json, csv)


def _run_one(cfg: BenchConfig, shown: bool) -> BenchResult:
    """:func:`run_benchmark` of ``cfg``, under a progress bar on stderr if ``shown``."""
    if not shown:
        return run_benchmark(cfg)
    with progress() as bar:
        task = bar.add_task(f"{cfg.shards} shard(s): ingesting", total=cfg.documents)

        def moved(phase: str, done: int, total: int) -> None:
            bar.update(
                task,
                description=f"{cfg.shards} shard(s): {phase}",
                completed=done,
                total=total,
            )

        return run_benchmark(cfg, on_progress=moved)


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
