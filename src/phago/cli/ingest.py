"""``phago ingest``: add files to a stored colony and digest them."""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from phago.cli._store import fail, writing
from phago.cli.common import LazyDefault, collector_paused, console, echo_json, out, progress
from phago.config import ColonyConfig
from phago.errors import PhagoError

if TYPE_CHECKING:
    from phago.distributed import DistributedTickResult
    from phago.ingest import IngestReport
    from phago.store import Catalog


def _default_max_chars() -> int:
    from phago.ingest import DEFAULT_MAX_CHARS

    return DEFAULT_MAX_CHARS


def _known_encoding(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise click.BadParameter(f"unknown text encoding {value!r}") from None
    return value


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--db",
    "db",
    required=True,
    type=click.Path(path_type=Path),
    help="The store (created if absent): a file, or a folder with --shards.",
)
@click.option(
    "--shards",
    type=click.IntRange(min=1),
    default=None,
    help="Store a distributed colony with this many shards (the store is a folder).",
)
@click.option(
    "--backend",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Distributed engine for --shards.",
)
@click.option(
    "--max-chars",
    type=click.IntRange(min=100),
    default=LazyDefault(_default_max_chars),
    show_default=True,
    help="Split longer files into documents of at most this many characters.",
)
@click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    callback=_known_encoding,
    help="Encoding of text and HTML files.",
)
@click.option(
    "--digesters",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Digesters spawned beside the new documents (retired once they are digested); "
    "at least one per 100 documents to digest, an earlier run's leftovers included.",
)
@click.option(
    "--max-ticks",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Stop digesting after this many ticks.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of a new store's colony.",
)
@click.option("--large", is_flag=True, help="New store: bounded extraction for big corpora.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ingest(
    paths: tuple[Path, ...],
    db: Path,
    shards: int | None,
    backend: str,
    max_chars: int,
    encoding: str,
    digesters: int,
    max_ticks: int,
    seed: int,
    large: bool,
    as_json: bool,
) -> None:
    """Add .txt, .md, .rst, .html and .pdf files (folders recursively) to the store DB.

    Files whose text is already stored are skipped (running it again changes nothing); a
    file ingested before whose text has changed replaces its old version (which is
    forgotten, as ``phago forget`` would); empty, binary or undecodable files are reported
    and skipped, and if nothing could be added the command fails and writes nothing. Then
    digesters spawned beside the new documents run until they are digested, leave the
    colony (so the store does not pile up idle digesters run after run; one that ran out of
    ticks still holding text stays), and the store is saved atomically. The store is held
    from loading to saving: another command writing it meanwhile waits for this one.
    """
    from phago.store import is_distributed_store

    distributed = shards is not None or is_distributed_store(db)
    if not distributed and db.is_dir():
        raise click.ClickException(f"{db} is a folder but not a distributed store; use --shards N")
    if distributed and db.exists() and not db.is_dir():
        raise click.ClickException(f"{db} is a colony store file; --shards needs a folder")
    if not db.parent.is_dir():
        raise click.ClickException(f"cannot create {db}: the directory {db.parent} does not exist")
    if backend == "ray" and not distributed:
        raise click.UsageError("--backend ray runs a sharded store: add --shards N")
    if db.exists():  # a store keeps the configuration and seed it was made with
        ctx = click.get_current_context()
        ignored = [
            f"--{name}"
            for name in ("large", "seed")
            if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
        ]
        if ignored:
            console.print(
                f"[yellow]{' and '.join(ignored)} ignored: {db} keeps the configuration and "
                "seed it was made with",
                highlight=False,
                soft_wrap=True,
            )
    config = ColonyConfig.for_large_corpora() if large else ColonyConfig()
    try:
        with writing(db):  # from loading to saving: another writer waits, nothing is lost
            if distributed:
                _ingest_distributed(
                    paths,
                    db,
                    shards,
                    backend,
                    config,
                    seed,
                    max_chars,
                    encoding,
                    digesters,
                    max_ticks,
                    as_json,
                )
            else:
                _ingest_colony(
                    paths, db, config, seed, max_chars, encoding, digesters, max_ticks, as_json
                )
    except PhagoError as exc:
        raise fail(exc) from exc


def _add_files(
    sink: Any,
    paths: tuple[Path, ...],
    catalog: Catalog,
    max_chars: int,
    encoding: str,
    db: Path,
) -> tuple[IngestReport, list[str], list[int]]:
    """Ingest the files under ``paths`` into ``sink``, recording their sources in
    ``catalog``; returns the report, the files that replaced an older version of themselves
    and the ids of the old versions' documents to forget (those no other source holds).

    Raises:
        click.ClickException: no file was found, or every one was skipped.
    """
    from phago.ingest import DistributedSink, discover, ingest_paths

    found: list[str] = []
    files, skipped = discover(paths, unsupported=found)
    store = os.path.abspath(db)  # the store itself (and its lock and temporary files) is no note
    unsupported = [p for p in found if p != store and not p.startswith((store + ".", store + "/"))]
    if not files and not skipped:
        raise click.ClickException(
            "no .txt, .md, .rst, .html or .pdf files found in "
            + ", ".join(str(p) for p in paths)
            + (f" ({_unsupported_summary(unsupported)})" if unsupported else "")
        )
    queued = sink if isinstance(sink, DistributedSink) else None

    with progress() as bar:
        task = bar.add_task("reading files", total=len(files))

        def on_file(_path: Path, _outcome: str) -> None:
            bar.advance(task)
            if queued is not None:  # documents go to the shards in batches, between files
                queued.flush_when_full()

        report, sources = ingest_paths(
            sink,
            paths,
            known_hashes=catalog.content_hashes(),
            max_chars=max_chars,
            encoding=encoding,
            files=files,
            on_file=on_file,
        )
        if queued is not None:
            queued.flush()
    report.skipped[:0] = skipped
    report.unsupported = unsupported
    if not report.added and not report.duplicates:  # nothing to save
        reasons = "; ".join(s.reason for s in report.skipped[:5])
        more = f" (and {len(report.skipped) - 5} more)" if len(report.skipped) > 5 else ""
        raise click.ClickException(f"nothing was added: {reasons}{more}")
    replaced, stale = _older_versions(catalog, report)
    catalog.sources.extend(sources)
    return report, replaced, stale


def _unsupported_summary(paths: list[str]) -> str:
    """``"3 files of other types passed over (.csv, .json)"``."""
    kinds = sorted({Path(p).suffix.lower() or "no suffix" for p in paths})
    shown = ", ".join(kinds[:8]) + (", ..." if len(kinds) > 8 else "")
    n = len(paths)
    return f"{n} file{'s' if n != 1 else ''} of other types passed over ({shown})"


def _older_versions(catalog: Catalog, report: IngestReport) -> tuple[list[str], list[int]]:
    """Drop from ``catalog`` the sources of files just added whose text has changed since
    they were ingested; returns those files and the ids of their old documents that no
    other source holds."""
    now = {a.path: a.content_hash for a in report.added}
    old = [s for s in catalog.sources if s.path in now and s.content_hash != now[s.path]]
    if not old:
        return [], []
    catalog.sources = [s for s in catalog.sources if not (s.path in now and s in old)]
    held = {s.doc_id for s in catalog.sources} | {int(d) for d in report.new_document_ids}
    return sorted({s.path for s in old}), sorted({s.doc_id for s in old} - held)


def _digest(run: Callable[[Callable[[int], None]], int], total_new: int, start: int) -> int:
    """``run(show)`` under a bar of the ``total_new`` documents being digested; ``show``
    takes the colony's documents digested (``start`` before the run). Returns what ``run``
    returns, the ticks run."""
    with progress() as bar:
        task = bar.add_task("digesting", total=total_new)
        return run(lambda digested: bar.update(task, completed=digested - start))


def _ingest_colony(
    paths: tuple[Path, ...],
    db: Path,
    config: ColonyConfig,
    seed: int,
    max_chars: int,
    encoding: str,
    digesters: int,
    max_ticks: int,
    as_json: bool,
) -> None:
    from phago.colony import Colony
    from phago.ingest import digest_new_documents
    from phago.store import (
        Catalog,
        HistoryPoint,
        forget_in_store,
        load_with_catalog,
        read_summary,
        save,
    )

    existed = db.exists()
    if existed:
        with collector_paused():
            colony, catalog = load_with_catalog(db)
    else:
        colony, catalog = Colony(config, seed=seed), Catalog()
    report, replaced, stale = _add_files(colony, paths, catalog, max_chars, encoding, db)
    new = report.new_document_ids
    ticks = 0
    if new:

        def point(tick: int) -> None:
            s = colony.stats()
            catalog.add_point(
                HistoryPoint(
                    tick, s.graph_nodes, s.graph_edges, s.documents_total, s.documents_digested
                )
            )

        def run(show: Callable[[int], None]) -> int:
            def both(t: int) -> None:
                point(t)
                show(colony.stats().documents_digested)

            return digest_new_documents(
                colony, new, digesters=digesters, max_ticks=max_ticks, on_tick=both, retire=True
            )

        ticks = _digest(run, len(new), colony.stats().documents_digested)
    saved = bool(new or replaced or not existed)
    stats = colony.stats().to_dict()
    if saved:
        with collector_paused():
            save(colony, db, catalog=catalog)
    if stale:  # the old versions of changed files
        forget_in_store(db, stale)
        stats = read_summary(db).stats
    _report(report, ticks, stats, db, as_json, saved, replaced)


def _ingest_distributed(
    paths: tuple[Path, ...],
    db: Path,
    shards: int | None,
    backend: str,
    config: ColonyConfig,
    seed: int,
    max_chars: int,
    encoding: str,
    digesters: int,
    max_ticks: int,
    as_json: bool,
) -> None:
    from phago.distributed import DistributedColony
    from phago.ingest import DistributedSink, digest_new_distributed
    from phago.store import (
        Catalog,
        forget_in_store,
        is_distributed_store,
        load_distributed,
        read_distributed_catalog,
        read_summary,
        save_distributed,
    )

    existed = is_distributed_store(db)
    if existed:
        dc = load_distributed(db, backend=backend)
        catalog = read_distributed_catalog(db)
        if shards is not None and shards != dc.num_shards:
            dc.close()
            raise click.ClickException(f"{db} holds {dc.num_shards} shards, not {shards}")
    else:
        dc = DistributedColony(num_shards=shards or 3, backend=backend, config=config, seed=seed)
        catalog = Catalog()
    try:
        sink = DistributedSink(dc)
        report, replaced, stale = _add_files(sink, paths, catalog, max_chars, encoding, db)
        new = report.new_document_ids
        ticks = 0
        if new:

            def run(show: Callable[[int], None]) -> int:
                # the shards' Advance reports count the digested documents, so the bar
                # moves without a call to every shard, and Ray shards chain ticks
                def reached(result: DistributedTickResult) -> None:
                    show(result.documents_digested())

                return digest_new_distributed(
                    sink,
                    new,
                    digesters=digesters,
                    max_ticks=max_ticks,
                    on_progress=reached,
                    retire=True,
                )

            ticks = _digest(run, len(new), dc.stats().documents_digested)
        saved = bool(new or replaced or not existed)
        if saved:
            save_distributed(dc, db, catalog=catalog)
        st = dc.stats().to_dict()
        st.pop("shards", None)
    finally:
        dc.close()
    if stale:  # the old versions of changed files
        forget_in_store(db, stale)
        st = {k: v for k, v in read_summary(db).stats.items() if k != "shards"}
    _report(report, ticks, st, db, as_json, saved, replaced)


def _report(
    report: IngestReport,
    ticks: int,
    stats: dict[str, Any],
    db: Path,
    as_json: bool,
    saved: bool,
    replaced: list[str],
) -> None:
    if as_json:
        echo_json(
            {
                **report.to_dict(),
                "replaced_files": replaced,
                "ticks": ticks,
                "stats": stats,
                "db": str(db),
            }
        )
        return
    for s in report.skipped:
        console.print(f"[yellow]skipped[/yellow] {s.reason}", highlight=False, soft_wrap=True)
    for w in report.warnings:
        console.print(f"[yellow]warning[/yellow] {w}", highlight=False, soft_wrap=True)
    if report.unsupported:
        console.print(
            f"[yellow]note[/yellow] {_unsupported_summary(report.unsupported)}; phago ingest "
            "takes .txt, .text, .md, .markdown, .rst, .html, .htm, .xhtml and .pdf files",
            highlight=False,
            soft_wrap=True,
        )
    for path in replaced:
        console.print(
            f"[cyan]replaced[/cyan] {path}: its text changed, the old version is forgotten",
            highlight=False,
            soft_wrap=True,
        )
    other = f"; {len(report.unsupported)} of other types passed over" if report.unsupported else ""
    out.print(
        f"Added {report.documents_added} documents from {len(report.added)} files; "
        f"{len(report.duplicates)} duplicates; {len(report.skipped)} skipped{other}.",
        highlight=False,
        soft_wrap=True,
    )
    if report.documents_added:
        out.print(
            f"Digested in {ticks} ticks: {stats['documents_digested']}/"
            f"{stats['documents_total']} documents, {stats['graph_nodes']} concepts, "
            f"{stats['graph_edges']} edges.",
            highlight=False,
            soft_wrap=True,
        )
    out.print(
        f"Saved to {db}." if saved else f"Nothing new; {db} is unchanged.",
        highlight=False,
        soft_wrap=True,
    )
