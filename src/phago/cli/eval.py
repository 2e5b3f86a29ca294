"""``phago eval``: score every retrieval method on a labelled query set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from phago.cli.common import (
    LazyDefault,
    console,
    corpus_argument,
    echo_json,
    error_message,
    given_corpus,
    load_corpus_directory,
    out,
)
from phago.config import ColonyConfig
from phago.errors import ConfigError, PhagoError

if TYPE_CHECKING:
    from phago.query.evaluate import Evaluation


def _all_methods() -> str:
    from phago.query.retrieve import METHODS

    return ",".join(METHODS)


def load_query_file(path: Path) -> object:
    """The parsed JSON of the query file ``path`` (UTF-8).

    Raises:
        ConfigError: the file cannot be read, is not UTF-8 or is not JSON (the message
            says which and where).

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "q.json"
        >>> _ = p.write_text('[{"query": "cells", "relevant": ["cell"]}]')
        >>> load_query_file(p)
        [{'query': 'cells', 'relevant': ['cell']}]
        >>> _ = p.write_text("query: cells")
        >>> load_query_file(p)
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: cannot read query file ...q.json: it is not JSON (line 1, ...
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read query file {path}: {exc.strerror or exc}; name a readable JSON file"
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"cannot read query file {path}: it is not UTF-8 text (byte {exc.start}); "
            "save it as UTF-8 JSON"
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"cannot read query file {path}: it is not JSON (line {exc.lineno}, column "
            f'{exc.colno}: {exc.msg}); write [{{"query": ..., "relevant": [labels]}}, ...]'
        ) from exc


def evaluation_table(ev: Evaluation, title: str) -> Table:
    """One row per method: P@5, P@10, R@5, R@10, MRR, NDCG@10 and the reference's P@5."""
    t = Table(title=title)
    t.add_column("method")
    for col in ("P@5", "P@10", "R@5", "R@10", "MRR", "NDCG@10", "P@5 (returned)"):
        t.add_column(col, justify="right")
    for name, res in ev.methods.items():
        s = res.scores
        label = f"[bold]{name} *[/bold]" if name == ev.best else name
        t.add_row(
            label,
            *(
                f"{v:.3f}"
                for v in (
                    s.p_at_5,
                    s.p_at_10,
                    s.r_at_5,
                    s.r_at_10,
                    s.mrr,
                    s.ndcg_at_10,
                    s.p_at_5_returned,
                )
            ),
        )
    return t


@click.command(name="eval")
@corpus_argument
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder of .txt, .md, .rst, .html and .pdf files (default: the bundled sample corpus); "
    "also taken as the argument: phago eval FOLDER --queries FILE.",
)
@click.option(
    "--queries",
    "queries_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help='JSON query file [{"query": ..., "relevant": [labels]}] '
    "(default with the sample corpus: its held-out query set).",
)
@click.option(
    "--shards",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Shards (more than 1: distributed).",
)
@click.option(
    "--digesters",
    default=None,
    type=click.IntRange(min=1),
    help="Digesters in all (default: one per four documents, as the bio-rag demo).",
)
@click.option(
    "--ticks",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Ticks to run before querying.",
)
@click.option(
    "--max-idle",
    type=click.IntRange(min=1),
    default=120,
    show_default=True,
    help="Digesters' idle limit.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the colony, of where its digesters start and of how they walk "
    "(0: the bio-rag demo's layout, as BENCHMARKS.md reports).",
)
@click.option(
    "--methods",
    default=LazyDefault(_all_methods),
    show_default=True,
    help="Comma-separated methods to evaluate.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def eval_command(
    corpus_folder: Path | None,
    corpus: Path | None,
    queries_path: Path | None,
    shards: int,
    digesters: int | None,
    ticks: int,
    max_idle: int,
    seed: int,
    methods: str,
    as_json: bool,
) -> None:
    """Build a colony from CORPUS (or --corpus; default: the bundled sample corpus) as the
    reference's bio-rag demo does (5-column grid,
    one digester with max_idle 120 per four documents, 200 ticks), run every retrieval
    method on a labelled query set and print P@5, P@10, R@5, R@10, MRR and NDCG@10."""
    from phago.corpus import sample_queries
    from phago.query.evaluate import build_retrieval_colony, evaluate, parse_queries
    from phago.query.retrieve import resolve_method

    corpus = given_corpus(corpus, corpus_folder)
    if corpus is not None and queries_path is None:
        raise click.UsageError("--queries is required with a corpus other than the sample")
    # checked before the colony is built; a bad --methods is a usage error (exit 2) raised
    # from a ConfigError, empty or not a method alike
    wanted = [m.strip() for m in methods.split(",") if m.strip()]
    try:
        if not wanted:
            raise ConfigError(f"name at least one method, comma-separated: {_all_methods()}")
        for m in wanted:
            resolve_method(m)
    except PhagoError as exc:
        raise click.BadParameter(str(exc), param_hint="--methods") from exc
    docs, _ = load_corpus_directory(corpus, ColonyConfig())
    try:
        raw = load_query_file(queries_path) if queries_path else sample_queries(heldout=True)
        queries = parse_queries(raw)
        if not queries:
            raise ConfigError(
                f"no queries in {queries_path}: nothing to evaluate; add "
                '{"query": ..., "relevant": [labels]} objects to it'
            )
        if not as_json:
            console.print(f"building the colony: {len(docs)} documents, {ticks} ticks …")
        source = build_retrieval_colony(
            [(d.title, d.content) for d in docs],
            shards=shards,
            digesters=digesters,
            ticks=ticks,
            max_idle=max_idle,
            seed=seed,
        )
        try:
            ev = evaluate(source, queries, methods=wanted)
        finally:
            close = getattr(source, "close", None)
            if callable(close):
                close()
    except PhagoError as exc:
        raise click.ClickException(error_message(exc)) from exc
    if as_json:
        echo_json(ev.to_report())
        return
    title = (
        f"{len(queries)} queries · {ev.nodes} nodes · {ev.edges} edges · "
        f"{ev.documents_digested}/{len(docs)} documents digested"
    )
    out.print(evaluation_table(ev, title))
    out.print(f"best (NDCG@10): [bold]{ev.best}[/bold]")
