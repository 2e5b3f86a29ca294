"""``phago query``: retrieve concepts for a question from a stored or freshly built colony."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click
from rich.table import Table

from phago.cli._store import writing
from phago.cli.common import console, echo_json, load_corpus_directory, out
from phago.config import ColonyConfig
from phago.errors import PhagoError
from phago.graph import HebbianGraph
from phago.query.base import GraphSource, RetrievedConcept
from phago.query.evaluate import build_retrieval_colony
from phago.query.retrieve import METHODS, resolve_method, retrieve
from phago.store import is_distributed_store


def _components(comp: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in comp.items() if v)


@click.command(name="query")
@click.argument("text")
@click.option(
    "--method",
    "-m",
    default="best",
    show_default=True,
    type=click.Choice(["best", *METHODS]),
    help="Retrieval method.",
)
@click.option(
    "-k",
    "--top",
    "k",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many concepts.",
)
@click.option(
    "--db",
    "--store",
    "db",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="The store to query instead of building a colony, as the other store commands "
    "take it: a file, or a folder holding a distributed colony (phago ingest --shards N).",
)
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder of .txt, .md, .rst, .html and .pdf files to build a colony from "
    "(default: the sample corpus).",
)
@click.option(
    "--ticks",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Ticks when building a colony.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed when building a colony.",
)
@click.option(
    "--reinforce",
    is_flag=True,
    help="Reinforce edges between the query's concepts and the results "
    "(with --db, the reinforced colony is saved back).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def query(
    text: str,
    method: str,
    k: int,
    db: Path | None,
    corpus: Path | None,
    ticks: int,
    seed: int,
    reinforce: bool,
    as_json: bool,
) -> None:
    """Retrieve the concepts that answer TEXT."""
    if db is not None and corpus is not None:
        raise click.UsageError("give either --db or --corpus, not both")
    if db is not None and is_distributed_store(db):
        _query_distributed(text, method, k, db, reinforce, as_json)
        return
    try:
        # reinforcing a store changes it: hold it from loading to saving
        with writing(db) if reinforce and db is not None else contextlib.nullcontext():
            source: GraphSource
            if db is not None:
                from phago.store import load

                source = load(db)
            else:
                docs, _ = load_corpus_directory(corpus, ColonyConfig())
                if not as_json:
                    console.print(f"building a colony from {len(docs)} documents ({ticks} ticks) …")
                source = build_retrieval_colony(
                    [(d.title, d.content) for d in docs], ticks=ticks, seed=seed
                )
            name = resolve_method(method)
            results = retrieve(source, text, k, name, reinforce=reinforce)
            if reinforce and db is not None:
                from phago.colony import Colony
                from phago.store import save

                if isinstance(source, Colony):
                    save(source, db)
    except PhagoError as exc:
        raise click.ClickException(str(exc)) from exc
    _show(text, name, results, source.graph, as_json)


def _query_distributed(
    text: str, method: str, k: int, db: Path, reinforce: bool, as_json: bool
) -> None:
    """``query`` on a distributed store: its shards loaded in this process, queried on
    their merged graph (as :func:`retrieve` takes a distributed colony), and with
    ``reinforce`` saved back, shards and catalog."""
    from phago.store import load_distributed, save_distributed

    try:
        with (
            writing(db) if reinforce else contextlib.nullcontext(),
            load_distributed(db, backend="local") as dc,
        ):
            name = resolve_method(method)
            results = retrieve(dc, text, k, name, reinforce=reinforce)
            if reinforce:
                save_distributed(dc, db)
            graph = dc.graph
    except PhagoError as exc:
        raise click.ClickException(str(exc)) from exc
    _show(text, name, results, graph, as_json)


def _show(
    text: str, name: str, results: list[RetrievedConcept], g: HebbianGraph, as_json: bool
) -> None:
    """Print the results as a table, or as JSON."""
    if as_json:
        echo_json(
            {
                "query": text,
                "method": name,
                # ids as strings, as every other command prints them (64-bit ids lose
                # digits as JSON numbers in JavaScript)
                "results": [{**r.to_dict(), "node_id": str(r.node_id)} for r in results],
                "nodes": g.node_count,
                "edges": g.edge_count,
            }
        )
        return
    t = Table(title=f"{text!r} · {name} · {g.node_count} nodes, {g.edge_count} edges")
    for col, just in (("#", "right"), ("concept", "left"), ("score", "right"), ("from", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for i, r in enumerate(results, 1):
        detail = " → ".join(r.path) if len(r.path) > 1 else _components(dict(r.components))
        t.add_row(str(i), r.label, f"{r.score:.4g}", detail)
    out.print(t)
    if not results:
        out.print("[yellow]no concept matches this query[/yellow]")
