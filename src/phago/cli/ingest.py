"""``phago ingest``: add files, standard input (``-``) and ``--text`` to a stored colony
and digest them.

Errors it reports itself (exit status 1) carry the phago error they stand for, which
``--json`` gives as the error's ``type``: ``FileNotFoundError`` for a named path that does
not exist or cannot be looked at (checked before anything is read), ``StoreError`` for a
``--db`` that cannot be the store asked for, ``EmptyDocument``, ``DocumentError`` or
``OSError`` (every file unreadable) when nothing could be added (an empty or binary text
from standard input or ``--text`` as an empty or binary file). An
ingest whose ``--max-ticks`` ran out before every document was digested succeeds (the
documents are saved) with a warning, and ``undigested`` in its JSON; the next ingest into
the store digests them, also one that adds nothing new.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click
from rich.markup import escape

from phago.cli._store import fail, writing
from phago.cli.common import (
    LazyDefault,
    collector_paused,
    console,
    echo_json,
    out,
    plural,
    progress,
    say_ignored,
    supported_suffixes,
)
from phago.config import ColonyConfig
from phago.errors import ConfigError, DocumentError, EmptyDocument, PhagoError, StoreError

if TYPE_CHECKING:
    from phago.colony import Colony, ColonyStats
    from phago.distributed import DistributedStats, DistributedTickResult
    from phago.ids import DocumentId
    from phago.ingest import DistributedSink, IngestReport, TextInput
    from phago.store import Catalog, SourceRecord


def _default_max_chars() -> int:
    from phago.ingest import DEFAULT_MAX_CHARS

    return DEFAULT_MAX_CHARS


def _known_encoding(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """``value`` if it names a text encoding (:func:`phago.ingest.text_codec`)."""
    from phago.ingest import text_codec

    try:
        text_codec(value)
    except PhagoError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


_TAKES = "{suffixes}"
"""Where ``phago ingest --help`` lists the suffixes it takes."""


class _IngestCommand(click.Command):
    """``phago ingest``: its help lists the files the reader takes
    (:data:`phago.ingest.SUPPORTED_SUFFIXES`), looked up when the help is shown, so that
    importing the command line, or ``phago --help``, does not load the reader."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write the help text, with the suffixes the reader takes."""
        text = inspect.cleandoc(self.help or "").partition("\f")[0]
        text = text.replace(_TAKES, supported_suffixes())
        if text:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(text)


@click.command(
    cls=_IngestCommand,
    short_help="Add text, Markdown, HTML and PDF files to a store.",
)
@click.argument("paths", nargs=-1, type=click.Path())
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
    help="Encoding of text and HTML files, and of standard input.",
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
    help=(
        "Stop digesting after this many ticks (a sharded store's degree cap then takes 8 "
        "more once every document is digested)."
    ),
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of a new store's colony.",
)
@click.option(
    "--text",
    "texts",
    multiple=True,
    metavar="TEXT",
    help="Add TEXT as a document of its own, without a file (repeatable).",
)
@click.option(
    "--title",
    default=None,
    help="Title of the one text given with - or --text (default: its first line, where a "
    "blank line sets it apart; else 'stdin' or 'text').",
)
@click.option(
    "--tag",
    "tag_options",
    multiple=True,
    metavar="TAG",
    help="Tag every document added (and those a duplicate's text is stored in) with TAG "
    "(repeatable; one word, compared without case): list, show and query --documents "
    "--tag keep to the documents carrying it. A Markdown file's front matter tags: count "
    "too.",
)
@click.option(
    "--forget-missing",
    is_flag=True,
    help="Also forget the documents of files ingested from the folders named that are no "
    "longer there (deleted or moved away), as phago forget FILE would: a document another "
    "file, or a text, still holds stays. So ingesting a folder again follows it: new and "
    "changed files in, deleted ones out.",
)
@click.option("--large", is_flag=True, help="New store: bounded extraction for big corpora.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ingest(
    paths: tuple[str, ...],
    db: Path,
    shards: int | None,
    backend: str,
    max_chars: int,
    encoding: str,
    digesters: int,
    max_ticks: int,
    seed: int,
    texts: tuple[str, ...],
    title: str | None,
    tag_options: tuple[str, ...],
    forget_missing: bool,
    large: bool,
    as_json: bool,
) -> None:
    """Add text, Markdown, reStructuredText, HTML and PDF files, and texts without a file,
    to the store DB.

    Takes {suffixes} files (folders recursively). Every path named must exist. A PATH of -
    reads one text from standard input (in --encoding), and each --text TEXT is one more:
    such a text is added as a document without a source file (read as a .txt file is),
    titled by --title, else by its first line where a blank line sets it apart, else
    "stdin" or "text"; "phago forget ID" forgets it. A file or text whose text is already
    stored adds nothing: it is a duplicate, and the report names the documents holding it
    (a duplicate file is recorded as one more source of them). Running it again changes
    nothing. A file ingested before whose text has changed replaces its old version, which
    is forgotten (as "phago forget" would) unless another file still holds that text (with
    --forget-missing, so are the files once ingested from the folders named that are gone); empty,
    binary or undecodable files and texts are reported and skipped, and if nothing
    could be added the command fails and writes nothing. Then digesters spawned
    beside the new documents (and beside any an earlier run left undigested) run until they
    are digested, leave the colony (so the store does not pile up idle digesters run after
    run; one that ran out of ticks still holding text stays until a later ingest), and the
    store is saved atomically. If --max-ticks runs out first, the command says how many
    documents wait to be digested; they are saved, and the next ingest digests them. The
    store is held from loading to saving: another command writing it meanwhile waits for
    this one.
    """
    from phago.store import is_distributed_store, is_store
    from phago.tags import tag_names

    try:
        tags = tag_names(tag_options)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--tag") from exc
    notes = _texts(paths, texts, title, encoding)
    paths = tuple(p for p in paths if p != "-")
    if forget_missing and not any(Path(p).is_dir() for p in paths):
        raise click.UsageError("--forget-missing looks in the folders named: name a folder")
    missing = [why for why in map(_unreachable, map(Path, paths)) if why is not None]
    if missing:
        raise _failed(FileNotFoundError(f"nothing was added: {'; '.join(missing)}"))
    distributed = shards is not None or is_distributed_store(db)
    if not distributed and db.is_dir():
        raise _failed(StoreError(f"{db} is a folder but not a distributed store; use --shards N"))
    if distributed and db.exists() and not db.is_dir():
        what = "a colony store file" if is_store(db) else "a file, not a folder"
        raise _failed(StoreError(f"{db} is {what}; --shards needs a folder"))
    if not db.parent.is_dir():
        raise _failed(StoreError(f"cannot create {db}: the directory {db.parent} does not exist"))
    if backend == "ray" and not distributed:
        raise click.UsageError("--backend ray runs a sharded store: add --shards N")
    if db.exists():  # a store keeps the configuration and seed it was made with
        say_ignored(["large", "seed"], f"{db} keeps the configuration and seed it was made with")
    request = _Request(
        paths=tuple(map(Path, paths)),
        notes=tuple(notes),
        db=db,
        shards=shards,
        backend=backend,
        config=ColonyConfig.for_large_corpora() if large else ColonyConfig(),
        seed=seed,
        max_chars=max_chars,
        encoding=encoding,
        digesters=digesters,
        max_ticks=max_ticks,
        as_json=as_json,
        tags=tags,
        forget_missing=forget_missing,
    )
    try:
        with writing(db):  # from loading to saving: another writer waits, nothing is lost
            _ingest(_ShardedStore(request) if distributed else _ColonyStore(request), request)
    except PhagoError as exc:
        raise fail(exc) from exc


def _failed(cause: Exception) -> click.ClickException:
    """The command's error (exit status 1) saying ``cause``, which it carries, so that
    ``--json`` gives the error's type (``StoreError``, ``FileNotFoundError``, ...).

    Example:
        >>> from phago.cli.common import error_type
        >>> err = _failed(StoreError("x.db holds 3 shards, not 2"))
        >>> err.exit_code, err.message, error_type(err)
        (1, 'x.db holds 3 shards, not 2', 'StoreError')
    """
    err = fail(cause)
    err.__cause__ = cause
    return err


@dataclass(frozen=True)
class _Request:
    """What one ``phago ingest`` was asked to do: the files (``paths``) and texts
    (``notes``) to add to the store ``db``, and how (its options)."""

    paths: tuple[Path, ...]
    notes: tuple[TextInput, ...]
    db: Path
    shards: int | None
    backend: str
    config: ColonyConfig
    seed: int
    max_chars: int
    encoding: str
    digesters: int
    max_ticks: int
    as_json: bool
    tags: tuple[str, ...] = ()
    forget_missing: bool = False


def _texts(
    paths: tuple[str, ...], texts: tuple[str, ...], title: str | None, encoding: str
) -> list[TextInput]:
    """The texts to add without a file: standard input where a PATH is ``-`` (read here, as
    bytes, decoded in ``encoding`` by the reader), then each ``--text``; ``title`` names the
    one text there must then be.

    Raises:
        click.UsageError: ``-`` named twice, ``--title`` without a text or with several,
            or nothing to add at all.
    """
    from phago.ingest import TextInput

    dashes = sum(1 for p in paths if p == "-")
    if dashes > 1:
        raise click.UsageError("- (standard input) is named more than once")
    count = dashes + len(texts)
    if count == 0 and not paths:
        ctx = click.get_current_context()
        param = next(p for p in ctx.command.params if p.name == "paths")
        raise click.MissingParameter(
            "Name files or folders, - (standard input), or give --text TEXT.",
            ctx=ctx,
            param=param,
            param_hint="'PATHS...'",
        )
    if title is not None and count != 1:
        raise click.UsageError(
            "--title names the one text given with - or --text"
            + (f"; {count} are given" if count else ", and none is given")
        )
    notes: list[TextInput] = []
    if dashes:
        stdin = sys.stdin
        raw = getattr(stdin, "buffer", None)  # (bytes: decoded in --encoding)
        data: str | bytes = (
            b"" if stdin is None else raw.read() if raw is not None else stdin.read()
        )
        notes.append(TextInput(data, title, "stdin"))
    notes.extend(TextInput(t, title, "text") for t in texts)
    return notes


def _add_files(
    sink: Colony | DistributedSink, request: _Request, catalog: Catalog
) -> tuple[IngestReport, list[_Replaced], list[_Replaced], list[int], bool]:
    """Ingest the files under the request's ``paths``, and its texts ``notes``, into
    ``sink``, recording the files' sources in ``catalog`` (a duplicate file as another
    source of the documents holding its text); returns the report, the files that replaced
    an older version of themselves, the files gone from the folders named (with
    ``--forget-missing``), the ids of the documents of both to forget (those no other
    source holds) and whether the catalog changed.

    Raises:
        click.ClickException: nothing was found, or everything was skipped.
    """
    from phago.ingest import (
        DistributedSink,
        SkippedFile,
        discover,
        ingest_paths,
        unrecorded_texts,
    )

    paths, notes = request.paths, request.notes
    found: list[str] = []
    files, skipped = discover(paths, unsupported=found) if paths else ([], [])
    named = []
    for f in files:  # (a store records each file's path as text)
        where = os.path.abspath(f)
        if _is_text(where):
            named.append(f)
        else:
            reason = f"{where}: its path is not valid text (bytes the file system's encoding "
            skipped.append(SkippedFile(where, reason + "cannot decode): rename it"))
    files = named
    # the store itself (and its lock and temporary files) is no note
    store = os.path.abspath(request.db)
    unsupported = [p for p in found if p != store and not p.startswith((store + ".", store + "/"))]
    missing = _missing_files(catalog, paths) if request.forget_missing else []
    if not files and not skipped and not notes and not missing:
        raise _failed(
            DocumentError(
                f"no {supported_suffixes('or')} files found in "
                + ", ".join(str(p) for p in paths)
                + (f" ({_unsupported_summary(unsupported)})" if unsupported else "")
            )
        )
    queued = sink if isinstance(sink, DistributedSink) else None
    if notes or files:  # texts stored before the store recorded texts: found duplicates too
        colony: Any = sink.dc if isinstance(sink, DistributedSink) else sink
        if colony.stats().documents_total > len(catalog.recorded_documents()):  # (else all are)
            catalog.texts.update(unrecorded_texts(colony.documents(), catalog))

    with progress() as bar:
        task = bar.add_task("reading files", total=len(files))

        def on_file(_path: Path, _outcome: str) -> None:
            bar.advance(task)
            if queued is not None:  # documents go to the shards in batches, between files
                queued.flush_when_full()

        report, sources = ingest_paths(
            sink,
            paths,
            known_sources=catalog.sources,
            known_texts=catalog.texts,
            max_chars=request.max_chars,
            encoding=request.encoding,
            files=files,
            on_file=on_file,
            texts=notes,
        )
        if queued is not None:
            queued.flush()
    report.skipped[:0] = skipped
    report.unsupported = unsupported
    if not (report.added or report.texts or report.duplicate_of or missing):  # nothing to save
        reasons = "; ".join(s.reason for s in report.skipped[:5])
        more = f" (and {len(report.skipped) - 5} more)" if len(report.skipped) > 5 else ""
        message = f"nothing was added: {reasons}{more}"
        raise _failed(_error_of({s.error for s in report.skipped}, message))
    replaced, stale = _older_versions(catalog, report, sources)
    gone, forgotten = _released(catalog, missing, report, sources)
    stale = sorted({*stale, *forgotten})
    catalog.sources.extend(sources)
    before = (dict(catalog.info), dict(catalog.file_tags), dict(catalog.texts))
    report.record_in(catalog, request.tags)
    _inherit_tags(catalog, report, replaced)
    changed = (catalog.info, catalog.file_tags, catalog.texts) != before
    return report, replaced, gone, stale, bool(sources or replaced or gone or changed)


def _missing_files(catalog: Catalog, paths: Sequence[Path]) -> list[str]:
    """The files ``catalog`` records under the folders among ``paths`` that are no longer
    there (each once, sorted)."""
    folders = [os.path.abspath(p).rstrip(os.sep) + os.sep for p in paths if p.is_dir()]
    if not folders:
        return []
    under = {s.path for s in catalog.sources if s.path.startswith(tuple(folders))}
    return sorted(p for p in under if not os.path.lexists(p))


def _released(
    catalog: Catalog, missing: list[str], report: IngestReport, sources: list[SourceRecord]
) -> tuple[list[_Replaced], list[int]]:
    """Drop ``missing`` files' records from ``catalog``; returns each with the ids of its
    documents forgotten and kept (another file or a text holds them, or this ingest's new
    records: ``report``'s, ``sources``), and the ids to forget."""
    if not missing:
        return [], []
    had = {p: set(catalog.documents_from(p)) for p in missing}
    new = {int(d) for d in report.new_document_ids} | {s.doc_id for s in sources}
    stale = set(catalog.release(missing, keep=new))
    gone = [_Replaced(p, sorted(had[p] & stale), sorted(had[p] - stale)) for p in missing]
    return gone, sorted(stale)


def _inherit_tags(catalog: Catalog, report: IngestReport, replaced: list[_Replaced]) -> None:
    """A changed file's new documents take the tags its old version's were given (``--tag``,
    ``phago tag``), so that a note tagged once keeps its tags through its edits (its front
    matter's tags are the file's, as it reads now)."""
    if not replaced:
        return
    new: dict[str, list[int]] = {}
    for a in report.added:
        new.setdefault(a.path, []).extend(int(d) for d in a.doc_ids)
    for d in report.duplicate_of:
        if d.path is not None:
            new.setdefault(d.path, []).extend(int(i) for i in d.doc_ids)
    for r in replaced:
        infos = [catalog.info.get(d) for d in (*r.forgotten, *r.kept)]
        old = {t for i in infos if i is not None for t in i.tags}
        if old:
            catalog.note_added(new.get(r.path, ()), old)


def _error_of(kinds: set[str], message: str) -> Exception:
    """The error, saying ``message``, that stands for inputs skipped for errors of the
    ``kinds`` named (:attr:`phago.ingest.SkippedFile.error`): one kind, ``EmptyDocument`` or
    ``OSError``, gives an error of it; any other kind, or a mix, a ``DocumentError``.

    Example:
        >>> [type(_error_of(k, "x")).__name__ for k in ({"OSError"}, {"OSError", "EmptyDocument"})]
        ['OSError', 'DocumentError']
    """
    if kinds == {"EmptyDocument"}:
        return EmptyDocument(message)
    if kinds == {"OSError"}:
        return OSError(message)
    return DocumentError(message)


def _unreachable(path: Path) -> str | None:
    """Why the named ``path`` cannot be read (it does not exist, its name is too long, a
    folder on the way is closed to us, ...), or None when it can be looked at.

    Example:
        >>> _unreachable(Path("/no/such/notes.txt"))
        '/no/such/notes.txt: no such file or directory'
    """
    try:
        path.stat()
    except FileNotFoundError:
        return f"{os.path.abspath(path)}: no such file or directory"
    except OSError as exc:  # (Path.exists raises these)
        return f"{os.path.abspath(path)}: {exc.strerror or exc}"
    return None


def _is_text(path: str) -> bool:
    """Whether ``path`` is valid text (not bytes the file system's encoding could not decode,
    which Python keeps as lone surrogates).

    Example:
        >>> _is_text("/notes/a.txt"), _is_text(os.fsdecode(b"/notes/\\xff.txt"))
        (True, False)
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unsupported_summary(paths: list[str]) -> str:
    """``"3 files of other types passed over (.csv, .json)"``."""
    kinds = sorted({Path(p).suffix.lower() or "no suffix" for p in paths})
    shown = ", ".join(kinds[:8]) + (", ..." if len(kinds) > 8 else "")
    n = len(paths)
    return f"{n} file{'s' if n != 1 else ''} of other types passed over ({shown})"


class _Replaced(NamedTuple):
    """A file whose text changed since it was ingested: the ids of its old version's
    documents that are forgotten, and of those kept because another file still holds
    them."""

    path: str
    forgotten: list[int]
    kept: list[int]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, ids as strings."""
        return {
            "path": self.path,
            "forgotten": [str(d) for d in self.forgotten],
            "kept": [str(d) for d in self.kept],
        }


def _older_versions(
    catalog: Catalog, report: IngestReport, sources: list[SourceRecord]
) -> tuple[list[_Replaced], list[int]]:
    """Drop from ``catalog`` the sources of files just read (added, or found duplicates of
    another text) whose text has changed since they were ingested; returns those files
    (with the ids of their old documents, forgotten or kept) and the ids of the old
    documents that no other source holds (nor ``sources``, the new records)."""

    now = {a.path: a.content_hash for a in report.added}
    now.update({d.path: d.content_hash for d in report.duplicate_of if d.path is not None})
    old: dict[str, set[int]] = {}
    for s in catalog.sources:
        if s.path in now and s.content_hash != now[s.path]:
            old.setdefault(s.path, set()).add(s.doc_id)
    if not old:
        return [], []
    new = {int(d) for d in report.new_document_ids} | {s.doc_id for s in sources}
    stale = set(catalog.release(sorted(old), keep=new))
    replaced = [
        _Replaced(path, sorted(ids & stale), sorted(ids - stale))
        for path, ids in sorted(old.items())
    ]
    return replaced, sorted(stale)


def _ingest(store: _ColonyStore | _ShardedStore, request: _Request) -> None:
    """What ``phago ingest`` does to a store opened for it, of either kind: add the
    request's files and texts, digest them (and any an earlier run left), save the store
    when anything changed, forget the old versions of changed files, and report."""
    from phago.store import forget_in_store, read_summary

    try:
        report, replaced, gone, stale, listed = _add_files(store.sink, request, store.catalog)
        new = report.new_document_ids
        # (an earlier ingest's --max-ticks ran out: its documents are digested now, new or not)
        digest = bool(new) or store.has_undigested_work()
        ticks = store.digest(new, request) if digest else 0
        saved = bool(digest or listed or not store.existed)
        if saved:
            store.save()
        stats, held = store.summary()
    finally:
        store.close()
    if stale:  # the old versions of changed files, and files gone (--forget-missing)
        forget_in_store(request.db, stale)
        stats = {k: v for k, v in read_summary(request.db).stats.items() if k != "shards"}
    _report(report, ticks, stats, request, saved, replaced, held, gone)


def _digest(
    run: Callable[[Callable[[int], None]], int], before: ColonyStats | DistributedStats
) -> int:
    """``run(show)`` under a bar of the documents being digested (the new ones and any an
    earlier run left); ``show`` takes the colony's documents digested (``before`` holds the
    counts before the run). Returns what ``run`` returns, the ticks run."""
    with progress() as bar:
        task = bar.add_task("digesting", total=before.documents_total - before.documents_digested)
        return run(
            lambda digested: bar.update(task, completed=digested - before.documents_digested)
        )


class _ColonyStore:
    """A store file opened for one ingest: its colony and catalog (new ones when there is no
    file yet, made as the request says)."""

    def __init__(self, request: _Request) -> None:
        from phago.colony import Colony
        from phago.store import Catalog, load_with_catalog

        self.db = request.db
        self.existed = request.db.exists()
        if self.existed:
            with collector_paused():
                self.colony, self.catalog = load_with_catalog(request.db)
        else:
            self.colony, self.catalog = Colony(request.config, seed=request.seed), Catalog()

    @property
    def sink(self) -> Colony:
        """Where the documents go: the colony."""
        return self.colony

    def has_undigested_work(self) -> bool:
        """Whether documents wait to be digested (an earlier run's)."""
        return self.colony.has_undigested_work()

    def digest(self, new: list[DocumentId], request: _Request) -> int:
        """Digest ``new`` and what waits (under a bar), a history point per tick; the ticks."""
        from phago.ingest import digest_new_documents
        from phago.store import HistoryPoint

        colony = self.colony

        def point(tick: int) -> None:
            s = colony.stats()
            self.catalog.add_point(
                HistoryPoint(
                    tick, s.graph_nodes, s.graph_edges, s.documents_total, s.documents_digested
                )
            )

        def run(show: Callable[[int], None]) -> int:
            def both(t: int) -> None:
                point(t)
                show(colony.stats().documents_digested)

            return digest_new_documents(
                colony,
                new,
                digesters=request.digesters,
                max_ticks=request.max_ticks,
                on_tick=both,
                retire=True,
                # an earlier ingest's digesters still holding text (its --max-ticks ran
                # out): this store's agents are the digesters ingest spawned, so they leave
                # once done
                retire_leftovers=True,
            )

        return _digest(run, colony.stats())

    def save(self) -> None:
        """Save the colony and catalog to the store file."""
        from phago.store import save

        with collector_paused():
            save(self.colony, self.db, catalog=self.catalog)

    def summary(self) -> tuple[dict[str, Any], int]:
        """The colony's stats, and how many documents digesters hold undigested."""
        held = sum(1 for a in self.colony.agents if a.is_digesting)  # taken in, not digested
        return self.colony.stats().to_dict(), held

    def close(self) -> None:
        """Nothing to let go: the colony is in this process."""


class _ShardedStore:
    """A distributed store folder opened for one ingest: its shards (started locally or on
    Ray, as the request says) and catalog; new ones when there is no store yet.

    Raises:
        click.ClickException: the store holds another number of shards than ``--shards``.
    """

    def __init__(self, request: _Request) -> None:
        from phago.distributed import DistributedColony
        from phago.ingest import DistributedSink
        from phago.store import (
            Catalog,
            is_distributed_store,
            load_distributed_with_catalog,
        )

        db, shards = request.db, request.shards
        self.db = db
        self.existed = is_distributed_store(db)
        if self.existed:
            dc, self.catalog = load_distributed_with_catalog(db, backend=request.backend)
            if shards is not None and shards != dc.num_shards:
                dc.close()
                raise _failed(StoreError(f"{db} holds {dc.num_shards} shards, not {shards}"))
        else:
            dc = DistributedColony(
                num_shards=shards or 3,
                backend=request.backend,
                config=request.config,
                seed=request.seed,
            )
            self.catalog = Catalog()
        self.dc = dc
        self.sink = DistributedSink(dc)

    def has_undigested_work(self) -> bool:
        """Whether documents wait to be digested (an earlier run's)."""
        return bool(self.dc.has_undigested_work())

    def digest(self, new: list[DocumentId], request: _Request) -> int:
        """Digest ``new`` and what waits (under a bar), then let the degree cap act across
        the shards; the ticks."""
        from phago.ingest import digest_new_distributed

        dc = self.dc

        def run(show: Callable[[int], None]) -> int:
            # the shards' Advance reports count the digested documents, so the bar moves
            # without a call to every shard, and Ray shards chain ticks
            def reached(result: DistributedTickResult) -> None:
                show(result.documents_digested())

            return digest_new_distributed(
                self.sink,
                new,
                digesters=request.digesters,
                max_ticks=request.max_ticks,
                on_progress=reached,
                retire=True,
                retire_leftovers=True,  # (as in _ColonyStore.digest)
            )

        ticks = _digest(run, dc.stats())
        if not dc.has_undigested_work():  # the cap across shards acts ticks after growth
            ticks += dc.settle_degree_cap()
        return ticks

    def save(self) -> None:
        """Save the shards and catalog to the store folder."""
        from phago.store import save_distributed

        save_distributed(self.dc, self.db, catalog=self.catalog)

    def summary(self) -> tuple[dict[str, Any], int]:
        """The cluster's stats (without each shard's), and how many documents digesters
        hold undigested."""
        stats = self.dc.stats().to_dict()
        stats.pop("shards", None)
        return stats, len(self.dc.agent_ids(digesting=True))  # (taken in, not yet digested)

    def close(self) -> None:
        """Stop the shards."""
        self.dc.close()


def _fate(r: _Replaced, whose: str, holders: str) -> str:
    """What became of the documents of ``r`` (a replaced or a missing file), in words.

    Example:
        >>> _fate(_Replaced("/n/a.md", [7], [8]), "the old version is", "another file")
        'the old version is forgotten (document 7); document 8 kept: another file holds them'
    """
    if r.kept and not r.forgotten:
        return f"{whose} kept: {holders} still holds its text"
    what = f"{whose} forgotten ({_ids('document', r.forgotten)})"
    if r.kept:
        what += f"; {_ids('document', r.kept)} kept: {holders} holds them"
    return what


def _report(
    report: IngestReport,
    ticks: int,
    stats: dict[str, Any],
    request: _Request,
    saved: bool,
    replaced: list[_Replaced],
    held: int,
    gone: Sequence[_Replaced] = (),
) -> None:
    """Print what the ingest did: JSON (``--json``), or lines for a person (stdout; skipped
    files and warnings on stderr). Documents left undigested (``--max-ticks`` ran out: those
    no digester took in, and the ``held`` ones digesters took in and have not turned into
    concepts yet) are warned of on stderr either way, and counted in the JSON's
    ``undigested``."""
    db, max_ticks = request.db, request.max_ticks
    undigested = int(stats["documents_total"]) - int(stats["documents_digested"]) + held
    if request.as_json:
        echo_json(
            {
                **report.to_dict(),
                "replaced_files": [r.path for r in replaced],
                "replaced": [r.to_dict() for r in replaced],
                **({"missing": [r.to_dict() for r in gone]} if request.forget_missing else {}),
                "ticks": ticks,
                "undigested": undigested,
                "stats": stats,
                "db": str(db),
            }
        )
        _warn_undigested(undigested, int(stats["documents_total"]), db, max_ticks)
        return
    for s in report.skipped:
        console.print(
            f"[yellow]skipped[/yellow] {escape(s.reason)}", highlight=False, soft_wrap=True
        )
    for w in report.warnings:
        console.print(f"[yellow]warning[/yellow] {escape(w)}", highlight=False, soft_wrap=True)
    if report.unsupported:
        passed = escape(_unsupported_summary(report.unsupported))
        console.print(
            f"[yellow]note[/yellow] {passed}; phago ingest takes {supported_suffixes()} files",
            highlight=False,
            soft_wrap=True,
        )
    for label, files, why, whose, holders in (
        ("replaced", replaced, "its text changed", "the old version is", "another file"),
        ("missing", gone, "no longer there", "its documents are", "another file or a text"),
    ):
        for r in files:
            console.print(
                f"[cyan]{label}[/cyan] {escape(r.path)}: {why}, {_fate(r, whose, holders)}",
                highlight=False,
                soft_wrap=True,
            )
    for t in report.texts:
        console.print(
            f"[cyan]added[/cyan] {escape(t.source)} as {_ids('document', list(t.doc_ids))} "
            f"titled {escape(repr(t.title))}",
            highlight=False,
            soft_wrap=True,
        )
    for d in report.duplicate_of:
        if d.path is None:
            where = f": stored as {_ids('document', list(d.doc_ids))}" if d.doc_ids else ""
            console.print(
                f"[cyan]duplicate[/cyan] {escape(d.source)}{where}", highlight=False, soft_wrap=True
            )
    other = f"; {len(report.unsupported)} of other types passed over" if report.unsupported else ""
    texts = f" and {plural(len(report.texts), 'text')}" if report.texts else ""
    out.print(
        f"Added {plural(report.documents_added, 'document')} from "
        f"{plural(len(report.added), 'file')}{texts}; "
        f"{plural(report.duplicate_count, 'duplicate')}; "
        f"{len(report.skipped)} skipped{other}.",
        highlight=False,
        soft_wrap=True,
    )
    if report.documents_added or ticks:
        out.print(
            f"Digested in {plural(ticks, 'tick')}: {stats['documents_digested']}/"
            f"{plural(stats['documents_total'], 'document')}, "
            f"{plural(stats['graph_nodes'], 'concept')}, {plural(stats['graph_edges'], 'edge')}.",
            highlight=False,
            soft_wrap=True,
        )
    _warn_undigested(undigested, int(stats["documents_total"]), db, max_ticks)
    out.print(
        f"Saved to {db}." if saved else f"Nothing new; {db} is unchanged.",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )


def _ids(noun: str, ids: list[int] | list[DocumentId]) -> str:
    """``"document 12"``, ``"documents 12, 34"``.

    Example:
        >>> _ids("document", [12]), _ids("document", [12, 34])
        ('document 12', 'documents 12, 34')
    """
    return f"{noun if len(ids) == 1 else noun + 's'} {', '.join(str(int(d)) for d in ids)}"


def _warn_undigested(undigested: int, total: int, db: Path, max_ticks: int) -> None:
    """Say on stderr that ``undigested`` of the store's ``total`` documents wait to be
    digested (``--max-ticks`` ran out), and what digests them; nothing when none do."""
    if not undigested:
        return
    one = undigested == 1
    where = escape(str(db))
    console.print(
        f"[yellow]warning[/yellow] {undigested} of the {plural(total, 'document')} in {where} "
        f"{'is' if one else 'are'} not digested yet: --max-ticks {max_ticks} ran out. "
        f"{'It is' if one else 'They are'} saved, and the next phago ingest into this store "
        f"digests {'it' if one else 'them'} (also one that adds nothing new); a larger "
        "--max-ticks digests more at once.",
        highlight=False,
        soft_wrap=True,
    )
