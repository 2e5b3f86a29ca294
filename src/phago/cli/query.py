"""``phago query``: retrieve concepts for a question from a stored or freshly built colony."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from phago.cli.common import console, echo_json, load_corpus_directory, out
from phago.config import ColonyConfig
from phago.errors import PhagoError
from phago.query.base import GraphSource
from phago.query.evaluate import build_retrieval_colony
from phago.query.retrieve import METHODS, resolve_method, retrieve


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
    "--store",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A colony saved by phago (SQLite store) to query instead of building one.",
)
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Directory of .txt files to build a colony from (default: the sample corpus).",
)
@click.option(
    "--ticks",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Ticks when building a colony.",
)
@click.option("--seed", default=0, show_default=True, help="Seed when building a colony.")
@click.option(
    "--reinforce",
    is_flag=True,
    help="Reinforce edges between the query's concepts and the results "
    "(with --store, the reinforced colony is saved back).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def query(
    text: str,
    method: str,
    k: int,
    store: Path | None,
    corpus: Path | None,
    ticks: int,
    seed: int,
    reinforce: bool,
    as_json: bool,
) -> None:
    """Retrieve the concepts that answer TEXT."""
    if store is not None and corpus is not None:
        raise click.UsageError("give either --store or --corpus, not both")
    try:
        source: GraphSource
        if store is not None:
            from phago.store import load

            source = load(store)
        else:
            docs, _ = load_corpus_directory(corpus, ColonyConfig().max_document_chars)
            if not as_json:
                console.print(f"building a colony from {len(docs)} documents ({ticks} ticks) …")
            source = build_retrieval_colony(
                [(d.title, d.content) for d in docs], ticks=ticks, seed=seed
            )
        name = resolve_method(method)
        results = retrieve(source, text, k, name, reinforce=reinforce)
        if reinforce and store is not None:
            from phago.colony import Colony
            from phago.store import save

            if isinstance(source, Colony):
                save(source, store)
    except PhagoError as exc:
        raise click.ClickException(str(exc)) from exc
    g = source.graph
    if as_json:
        echo_json(
            {
                "query": text,
                "method": name,
                "results": [r.to_dict() for r in results],
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
