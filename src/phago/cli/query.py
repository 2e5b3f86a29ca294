"""``phago query``: retrieve concepts (or documents) for a question from a stored or freshly
built colony."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from phago.cli._store import writing
from phago.cli.common import (
    LazyChoice,
    collector_paused,
    console,
    echo_json,
    error_message,
    load_corpus_directory,
    out,
    say_ignored,
)
from phago.cli.documents import since_option_stamp, tag_option_names
from phago.config import ColonyConfig
from phago.errors import PhagoError

if TYPE_CHECKING:
    from phago.graph import HebbianGraph
    from phago.query.base import GraphSource, RetrievedConcept
    from phago.query.documents import RetrievedDocument
    from phago.store import DocumentInfo


def _methods() -> list[str]:
    from phago.query.retrieve import METHODS

    return ["best", *METHODS]


def _components(comp: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in comp.items() if v)


@click.command(name="query")
@click.argument("text")
@click.option(
    "--method",
    "-m",
    default="best",
    show_default=True,
    type=LazyChoice(_methods),
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
@click.option(
    "--documents",
    "show_documents",
    is_flag=True,
    help="Print the documents that answer TEXT (BM25 over the digested documents' titles "
    "and contents, each with id, title, score, a snippet and which of the top 10 concepts "
    "by --method it holds) instead of concepts; -k counts documents. Only documents that "
    "hold a word of TEXT (score above 0), as phago.query.documents gives them; a document "
    "stored but not digested yet is not searched (the next phago ingest digests it).",
)
@click.option(
    "--related",
    is_flag=True,
    help="With --documents: when fewer than -k documents hold a word of TEXT, fill the "
    "list with documents of its top concepts that hold none (score 0), as "
    "documents(..., related=True).",
)
@click.option(
    "--tag",
    "tag_options",
    multiple=True,
    metavar="TAG",
    help="With --documents and --db: only the documents tagged TAG (repeatable: tagged "
    "with every one; phago ingest --tag).",
)
@click.option(
    "--since",
    metavar="TIME",
    default=None,
    help="With --documents and --db: only the documents added at TIME or later (a date, "
    "or a date and time, UTC unless it says).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the results as JSON: the query's terms (empty: no searchable words), and "
    "each concept with up to 3 of its source documents (every concept with the same keys, "
    "path [] where the method walks none; ids as strings) or, with --documents, each "
    "document's id, title, score, snippet, concepts, when it was added and its tags.",
)
def query(
    text: str,
    method: str,
    k: int,
    db: Path | None,
    corpus: Path | None,
    ticks: int,
    seed: int,
    reinforce: bool,
    show_documents: bool,
    related: bool,
    tag_options: tuple[str, ...],
    since: str | None,
    as_json: bool,
) -> None:
    """Retrieve the concepts that answer TEXT (or, with --documents, the documents).

    TEXT is split into terms as documents are (stopwords and words under 3 letters are
    not terms); a query without any answers nothing, and says so on stderr (with --json,
    its "terms" are empty).
    """
    from phago.query.retrieve import resolve_method
    from phago.store import is_distributed_store

    if db is not None and corpus is not None:
        raise click.UsageError("give either --db or --corpus, not both")
    if reinforce and show_documents:
        raise click.UsageError("--reinforce reinforces concept results: not with --documents")
    if related and not show_documents:
        raise click.UsageError("--related fills a list of documents: only with --documents")
    if tag_options and not (show_documents and db is not None):
        raise click.UsageError("--tag keeps to a store's tagged documents: with --documents --db")
    if since is not None and not (show_documents and db is not None):
        raise click.UsageError("--since keeps to a store's recent documents: with --documents --db")
    tags = tag_option_names(tag_options)
    stamp = since_option_stamp(since)
    name = resolve_method(method)
    if db is not None:
        say_ignored(["ticks", "seed"], "they build a colony, and --db queries the stored one")
    asked = _Asked(text, name, k, reinforce, show_documents, related, as_json)
    info: dict[int, DocumentInfo] = {}
    if db is not None and show_documents:
        from phago.store import added_since, read_document_info, tagged_documents

        try:
            info = read_document_info(db)
        except PhagoError as exc:
            raise click.ClickException(error_message(exc)) from exc
        only = tagged_documents(info, tags) if tags else None
        if stamp is not None:
            recent = added_since(info, stamp)
            only = recent if only is None else only & recent
        asked = asked._replace(only=only)
    asked = asked._replace(info=info)
    if db is not None and is_distributed_store(db):
        found = _query_distributed(asked, db)
        _say_saved(reinforce and found > 0, db)
        return
    try:
        # reinforcing a store changes it: hold it from loading to saving
        with (
            writing(db) if reinforce and db is not None else contextlib.nullcontext(),
            collector_paused() if db is not None else contextlib.nullcontext(),
        ):
            source: GraphSource
            if db is not None:
                from phago.store import load

                source = load(db)
            else:
                docs, _ = load_corpus_directory(corpus, ColonyConfig())
                if not as_json:
                    console.print(f"building a colony from {len(docs)} documents ({ticks} ticks) …")
                from phago.query.evaluate import build_retrieval_colony

                source = build_retrieval_colony(
                    [(d.title, d.content) for d in docs], ticks=ticks, seed=seed
                )
            shown, found = _answer(source, asked)
            if reinforce and found and db is not None:  # (nothing reinforced: nothing to save)
                from phago.colony import Colony
                from phago.store import save

                if isinstance(source, Colony):
                    save(source, db)
    except PhagoError as exc:
        raise click.ClickException(error_message(exc)) from exc
    shown()
    _say_saved(reinforce and found > 0, db)


def _say_saved(saved: bool, db: Path | None) -> None:
    """Say on stderr that a reinforced store was saved back (the JSON answer is on stdout)."""
    if saved and db is not None:
        console.print(
            f"Reinforced the answers' edges and saved {db}.",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )


def _query_distributed(asked: _Asked, db: Path) -> int:
    """``query`` on a distributed store: its shards loaded in this process, queried on
    their merged graph (as :func:`retrieve` takes a distributed colony), and with
    ``reinforce`` saved back, shards and catalog, when there are results. Returns how many
    there are."""
    from phago.store import load_distributed, save_distributed

    try:
        with (
            writing(db) if asked.reinforce else contextlib.nullcontext(),
            load_distributed(db, backend="local") as dc,
        ):
            shown, found = _answer(dc, asked)
            if asked.reinforce and found:  # (nothing reinforced: nothing to save)
                save_distributed(dc, db)
    except PhagoError as exc:
        raise click.ClickException(error_message(exc)) from exc
    shown()
    return found


SOURCE_DOCUMENTS = 3
"""Source documents listed per concept in ``query --json``."""

DOCUMENT_CONCEPTS = 10
"""Top concepts (by the query's method) that ``query --documents`` names in each document."""


class _Asked(NamedTuple):
    """What a ``query`` asks: its text, method name, how many results, whether it
    reinforces, answers with documents (from ``only``, when given, and with the stored
    ``info`` of each), fills them with related ones, and prints JSON."""

    text: str
    name: str
    k: int
    reinforce: bool
    show_documents: bool
    related: bool
    as_json: bool
    only: set[int] | None = None
    info: dict[int, DocumentInfo] | None = None


def _answer(source: GraphSource, asked: _Asked) -> tuple[Callable[[], None], int]:
    """Answer the query on ``source`` (while it is open); returns what prints the answer,
    and how many results it has."""
    from phago.query.base import query_terms
    from phago.query.documents import concept_documents, documents
    from phago.query.retrieve import retrieve

    text, name, k, as_json = asked.text, asked.name, asked.k, asked.as_json
    g = source.graph
    terms = list(dict.fromkeys(query_terms(text)))  # (each once, in order)
    if asked.show_documents:
        found = documents(
            source,
            text,
            k,
            concepts=DOCUMENT_CONCEPTS,
            related=asked.related,
            method=name,
            only=asked.only,
        )
        return (
            lambda: _show_documents(text, terms, name, found, g, as_json, asked.info),
            len(found),
        )
    results = retrieve(source, text, k, name, reinforce=asked.reinforce)
    sources = (
        [concept_documents(source, r, SOURCE_DOCUMENTS, text=text, width=0) for r in results]
        if as_json
        else []
    )
    return lambda: _show(text, terms, name, results, sources, g, as_json), len(results)


def _say_no_terms(text: str, terms: list[str]) -> None:
    """Say on stderr that ``text`` has no searchable words (so nothing could match it)."""
    if not terms:
        console.print(
            f"[yellow]the query has no searchable words: {escape(repr(text))} holds only "
            "stopwords, words under 3 letters or no words at all",
            highlight=False,
            soft_wrap=True,
        )


def _show(
    text: str,
    terms: list[str],
    name: str,
    results: list[RetrievedConcept],
    sources: list[list[RetrievedDocument]],
    g: HebbianGraph,
    as_json: bool,
) -> None:
    """Print the results as a table, or as JSON (with each concept's source documents)."""
    if as_json:
        echo_json(
            {
                "query": text,
                "terms": terms,
                "method": name,
                # (ids as strings, as every command prints them: to_dict gives them so)
                "results": [
                    {
                        **r.to_dict(),
                        "documents": [{"id": str(d.id), "title": d.title} for d in docs],
                    }
                    for r, docs in zip(results, sources, strict=True)
                ],
                "nodes": g.node_count,
                "edges": g.edge_count,
            }
        )
        return
    _say_no_terms(text, terms)
    if not results:  # (no empty table)
        out.print(
            f"[yellow]no concept matches this query[/yellow] ({name}; {g.node_count} nodes, "
            f"{g.edge_count} edges)",
            highlight=False,
        )
        return
    t = Table(title=Text(f"{text!r} · {name} · {g.node_count} nodes, {g.edge_count} edges"))
    for col, just in (("#", "right"), ("concept", "left"), ("score", "right"), ("from", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for i, r in enumerate(results, 1):
        # (labels as plain text: brackets in them are no markup)
        detail = Text(" → ".join(r.path)) if len(r.path) > 1 else _components(dict(r.components))
        t.add_row(str(i), Text(r.label), f"{r.score:.4g}", detail)
    out.print(t)


def _added_and_tags(
    info: dict[int, DocumentInfo] | None, doc_id: int
) -> tuple[str, tuple[str, ...]]:
    """When the document ``doc_id`` was added and its tags, as ``info`` has them ("" and
    none where it has nothing of it, or there is no ``info``)."""
    got = None if info is None else info.get(int(doc_id))
    return ("", ()) if got is None else (got.added, got.tags)


def _show_documents(
    text: str,
    terms: list[str],
    name: str,
    found: list[RetrievedDocument],
    g: HebbianGraph,
    as_json: bool,
    info: dict[int, DocumentInfo] | None,
) -> None:
    """Print the documents as a table, or as JSON (each with when it was added and its
    tags, from ``info``: "" and [] where the store does not say)."""
    if as_json:
        echo_json(
            {
                "query": text,
                "terms": terms,
                "method": name,
                "documents": [
                    {**d.to_dict(), "added": added, "tags": list(tags)}
                    for d, (added, tags) in ((d, _added_and_tags(info, d.id)) for d in found)
                ],
                "nodes": g.node_count,
                "edges": g.edge_count,
            }
        )
        return
    _say_no_terms(text, terms)
    if not found:  # (no empty table)
        out.print("[yellow]no document matches this query[/yellow]")
        return
    t = Table(title=Text(f"{text!r} · documents (BM25; concepts by {name})"))
    columns = (("#", "right"), ("document", "left"), ("score", "right"), ("snippet", "left"))
    for col, just in columns:
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for i, d in enumerate(found, 1):
        # (the documents' own words as plain text: brackets in them are no markup)
        detail = Text(d.snippet)
        if d.concepts:
            detail.append(f"\nconcepts: {', '.join(d.concepts)}", style="dim")
        tags = _added_and_tags(info, d.id)[1]
        if tags:
            detail.append(f"\ntags: {', '.join(tags)}", style="dim")
        title = Text(d.title).append(f"\n{d.id}", style="dim")
        t.add_row(str(i), title, f"{d.score:.4g}", detail)
    out.print(t)
