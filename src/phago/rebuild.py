"""Rebuilding a store file's colony from the documents it holds, when the colony's other
parts are damaged.

A store file keeps the user's documents (title, text, position, id), where they came from
(``sources``) and what the user said of them (tags, times added), beside the colony that
digested them: its graph, signals, agents and counters. The colony is made from the
documents; the documents are made from nothing else. So when a part of the colony is
damaged (a checksum that no longer matches, a part missing), the documents are still
worth everything, and a colony can be made from them again.

:func:`salvage_store` reads what still reads of a store file, row by row and part by part,
and says what does not. :func:`rebuild_colony` copies the damaged file aside whole (nothing
is lost), makes a new colony with the store's settings and seed, stores the salvaged
documents in it under their own ids and positions, digests them as ``phago ingest`` does,
and puts the new store in the damaged one's place, with its sources, tags and times added.
The new graph is the documents' graph, not the lost one: what the old colony learnt from
its history (reinforcements by queries, the order documents came in over many ingests) is
kept only in the copy set aside.

Example:
    >>> import sqlite3, tempfile, pathlib
    >>> from phago import Colony, Position
    >>> from phago.store import load, save
    >>> c = Colony(seed=3)
    >>> _ = c.ingest_document("Cells", "The cell membrane controls ions.", Position(0, 0))
    >>> p = save(c, pathlib.Path(tempfile.mkdtemp()) / "c.db")
    >>> with sqlite3.connect(p) as con:  # a graph part damaged under its checksum
    ...     _ = con.execute("UPDATE blobs SET data = x'00' WHERE name = 'graph.weight'")
    >>> report = rebuild_colony(p)
    >>> report.documents, report.set_aside.exists(), load(p).stats().documents_digested
    (1, True, 1)
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phago.errors import PhagoError, StoreError
from phago.store import (
    _DOCUMENT_INFO,
    Catalog,
    HistoryPoint,
    PathLike,
    SourceRecord,
    _fsync_path,
    _info_from_json,
    _load_with_terms,
    _open,
    _put_in_place,
    _read_checked_tables,
    _real,
    _reason,
    _remove_quietly,
    _sha,
    _unsigned,
    is_distributed_store,
    save,
    store_lock,
    store_path,
)

if TYPE_CHECKING:
    from phago.config import ColonyConfig

__all__ = ["RebuildReport", "Salvage", "SalvagedDocument", "rebuild_colony", "salvage_store"]


@dataclass(frozen=True, slots=True)
class SalvagedDocument:
    """One document as its store row still reads: its id, title, text and position."""

    doc_id: int
    title: str
    content: str
    x: float
    y: float


@dataclass
class Salvage:
    """What :func:`salvage_store` read of a store file.

    Attributes:
        documents: the documents whose rows read, in the store's order.
        catalog: the sources whose rows read, and the documents' information (tags, times
            added, the texts' hashes) where that part still reads; no size history.
        config: the colony's settings as stored (the defaults where they do not read).
        seed: the colony's seed as stored (0 where it does not read).
        verified: whether the rows read match the store's checksum of its rows (when not,
            some row holds other bytes than were saved, or was lost).
        lost: what could not be read or was read unchecked, each said in words.
    """

    documents: list[SalvagedDocument]
    catalog: Catalog
    config: ColonyConfig
    seed: int
    verified: bool
    lost: list[str] = field(default_factory=list)


_DOCUMENT_COLUMNS = "seq, doc_id, title, content, x, y, digested"
_LOSSY_DOCUMENTS = "seq, doc_id, CAST(title AS BLOB), CAST(content AS BLOB), x, y, digested"
_SOURCE_COLUMNS = "seq, path, content_hash, doc_id, part, parts"


def salvage_store(path: PathLike) -> Salvage:
    """Read what still reads of the store file ``path``: its documents and sources row by
    row (a row of the wrong types, or the rows after one SQLite cannot read, are left out),
    its documents' information and its colony's settings and seed part by part (read even
    where their checksum fails, if they still parse; else left out). Nothing is written.

    Raises:
        StoreError: ``path`` is not a phago store file SQLite can open, or is a
            distributed store or one shard of one.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony, Position
        >>> from phago.store import save
        >>> c = Colony(seed=7)
        >>> _ = c.ingest_document("t", "alpha beta", Position(2, 3))
        >>> s = salvage_store(save(c, pathlib.Path(tempfile.mkdtemp()) / "c.db"))
        >>> [(d.title, d.x, d.y) for d in s.documents], s.seed, s.verified, s.lost
        ([('t', 2.0, 3.0)], 7, True, [])
    """
    p = store_path(path)
    if is_distributed_store(p):
        raise StoreError(f"cannot salvage {p}: it is a distributed store, not a store file")
    return _salvage_file(p, "colony")


def _salvage_file(p: Path, kind: str) -> Salvage:
    """:func:`salvage_store` of the file ``p`` of ``kind`` (``"colony"``, or ``"shard"``: a
    distributed store's shard file, whose sources and documents' information are in the
    store's manifest)."""
    con, _, found, _, _ = _open(p)
    try:
        if found != kind:
            raise StoreError(
                f"cannot salvage {p}: it is one shard of a distributed store"
                if found == "shard"
                else f"cannot salvage {p}: it is a {found!r} file, not a {kind!r} one"
            )
        lost: list[str] = []
        documents = [
            SalvagedDocument(_unsigned(row[1]), row[2], row[3], float(row[4]), float(row[5]))
            for row in _rows(
                con, "documents", _DOCUMENT_COLUMNS, _document_error, lost, _LOSSY_DOCUMENTS
            )
        ]
        sources = [
            SourceRecord(row[1], row[2], _unsigned(row[3]), row[4], row[5])
            for row in _rows(con, "sources", _SOURCE_COLUMNS, _source_error, lost)
        ]
        catalog = Catalog(sources)
        raw, checked = _part(con, _DOCUMENT_INFO)
        if raw is not None:
            try:
                catalog.info, catalog.file_tags, catalog.texts = _info_from_json(
                    json.loads(raw.decode("utf-8")), given=True
                )
                if not checked:
                    lost.append(
                        "the documents' information (tags, times added) failed its checksum; "
                        "kept as it reads"
                    )
            except (UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError):
                lost.append("the documents' information (tags, times added) does not read")
        config, seed, note = _settings(con)
        if note is not None:
            lost.append(note)
        try:
            _read_checked_tables(con, p, info=False)
            verified = True
        except (StoreError, sqlite3.Error, ValueError, TypeError, UnicodeDecodeError):
            verified = False
            lost.append(
                "the documents' and sources' rows do not match the store's checksum of them: "
                "kept as they read"
            )
        return Salvage(documents, catalog, config, seed, verified, lost)
    finally:
        con.close()


def _settings(con: sqlite3.Connection) -> tuple[ColonyConfig, int, str | None]:
    """The colony's settings and seed in a store file (its ``colony`` part), and what was
    wrong with them if anything (then the defaults and seed 0, or the part as it reads)."""
    from phago.config import ColonyConfig

    raw, checked = _part(con, "colony")
    try:
        if raw is None:
            raise ValueError("missing")
        scalars = json.loads(raw.decode("utf-8"))
        config, seed = ColonyConfig.from_dict(scalars["config"]), int(scalars["seed"])
    except (UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError, PhagoError):
        return (
            ColonyConfig(),
            0,
            "the colony's settings and seed do not read: the defaults and seed 0",
        )
    note = None if checked else "the colony's settings failed their checksum; kept as they read"
    return config, seed, note


def _rows(
    con: sqlite3.Connection,
    table: str,
    columns: str,
    error: Callable[[tuple[Any, ...]], str | None],
    lost: list[str],
    lossy: str | None = None,
) -> list[tuple[Any, ...]]:
    """The rows of ``table`` that read and that ``error`` passes, in ``seq`` order; what
    is left out is said in ``lost``.

    Where SQLite cannot give a row (a damaged page, text that is not UTF-8), the rows from
    there on are looked up one ``seq`` at a time (the table's key), so that the rows past a
    damaged one still read; with ``lossy`` (the columns with the text ones cast to bytes) a
    row whose text is not UTF-8 is read with U+FFFD for the bytes that are not.
    """
    out: list[tuple[Any, ...]] = []

    def take(row: tuple[Any, ...]) -> None:
        wrong = error(row)
        if wrong is None:
            out.append(row)
        else:
            lost.append(f"row {row[0]!r} of table {table!r}: {wrong}")

    after = -1
    try:
        for row in con.execute(f"SELECT {columns} FROM {table} ORDER BY seq"):
            take(row)
            after = row[0] if type(row[0]) is int else after
        return out
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        first_error = exc
    try:
        (end,) = con.execute(f"SELECT max(seq) FROM {table}").fetchone()
    except (sqlite3.Error, UnicodeDecodeError):
        end = None
    if type(end) is not int:
        lost.append(f"table {table!r} after row {after}: {first_error}")
        return out
    unread: list[int] = []
    for seq in range(after + 1, end + 1):
        try:
            row = con.execute(f"SELECT {columns} FROM {table} WHERE seq = ?", (seq,)).fetchone()
        except (sqlite3.Error, UnicodeDecodeError):  # (text that is not UTF-8 is either)
            row = _lossy_row(con, table, lossy, seq) if lossy else None
            if row is None:
                unread.append(seq)
                continue
            lost.append(
                f"row {seq} of table {table!r}: its text holds bytes that are not UTF-8, "
                "read with U+FFFD in their place"
            )
        if row is not None:
            take(row)
    if unread:
        lost.append(f"rows {_ranges(unread)} of table {table!r} do not read ({first_error})")
    return out


def _lossy_row(
    con: sqlite3.Connection, table: str, columns: str, seq: int
) -> tuple[Any, ...] | None:
    """Row ``seq`` of ``table`` read through ``columns`` (text cast to bytes), its bytes
    decoded as UTF-8 with U+FFFD for those that are not (None: it does not read so)."""
    try:
        row = con.execute(f"SELECT {columns} FROM {table} WHERE seq = ?", (seq,)).fetchone()
    except sqlite3.Error:
        return None
    if row is None:
        return None
    return tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in row)


def _ranges(seqs: list[int]) -> str:
    """``seqs`` (ascending) as ranges: ``3, 7-9``.

    Example:
        >>> _ranges([3, 7, 8, 9])
        '3, 7-9'
    """
    parts: list[str] = []
    start = prev = seqs[0]
    for s in [*seqs[1:], None]:
        if s is not None and s == prev + 1:
            prev = s
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if s is not None:
            start = prev = s
    return ", ".join(parts)


def _document_error(row: tuple[Any, ...]) -> str | None:
    """What is wrong with a ``documents`` row (None: it reads as a document)."""
    _, doc_id, title, content, x, y, _ = row
    if type(doc_id) is not int:
        return "its id is not a whole number"
    if type(title) is not str or type(content) is not str:
        return "its title or text is not text"
    if not all(type(v) in (int, float) and math.isfinite(v) for v in (x, y)):
        return "its position is not two finite numbers"
    return None


def _source_error(row: tuple[Any, ...]) -> str | None:
    """What is wrong with a ``sources`` row (None: it reads as a source)."""
    types = (int, str, str, int, int, int)
    if any(type(v) is not t for v, t in zip(row, types, strict=True)):
        return "a column holds a value of the wrong type"
    return None


def _part(con: sqlite3.Connection, name: str) -> tuple[bytes | None, bool]:
    """The bytes of the part ``name`` (None: there is none; empty: it does not read as
    bytes) and whether they match their checksum."""
    try:
        row = con.execute("SELECT data, sha256 FROM blobs WHERE name = ?", (name,)).fetchone()
    except (sqlite3.Error, UnicodeDecodeError):
        return b"", False
    if row is None:
        return None, False
    if not isinstance(row[0], bytes | bytearray | memoryview):
        return b"", False
    data = bytes(row[0])
    return data, _sha(data) == row[1]


@dataclass(frozen=True)
class RebuildReport:
    """What :func:`rebuild_colony` did.

    Attributes:
        damaged: why the store's colony did not load (None: it loaded, and nothing was
            done).
        set_aside: the copy of the damaged file, beside it.
        documents: the documents in the rebuilt colony.
        ticks: the ticks its digesters ran.
        verified: whether the documents' rows matched the store's checksum of them.
        lost: what of the damaged store the rebuilt one lacks or took unchecked (it is all
            in the copy set aside).
    """

    damaged: str | None = None
    set_aside: Path | None = None
    documents: int = 0
    ticks: int = 0
    verified: bool = True
    lost: tuple[str, ...] = ()


def rebuild_colony(
    path: PathLike,
    *,
    digesters: int = 10,
    max_ticks: int = 5000,
    on_tick: Callable[[int, int], None] | None = None,
) -> RebuildReport:
    """Make a new colony from the documents of the store file ``path`` whose colony is
    damaged (it does not load), and put it in the store's place.

    The damaged file is first copied beside the store (``<path>.<UTC time>.damaged``), so
    nothing is lost. The documents whose rows still read (:func:`salvage_store`) are stored
    in a new colony with the store's settings and seed, under their own ids and positions,
    and digested as ``phago ingest`` digests (:func:`phago.ingest.digest_new_documents`:
    ``digesters`` or more, at most ``max_ticks`` ticks); the new store keeps the sources,
    tags and times added that still read. It replaces the damaged file atomically, with
    its permission bits. A store whose colony loads is left as it is (its documents'
    information alone damaged: :func:`phago.store.repair_information`).

    A distributed store (a folder) is rebuilt the same way on local shards, as many as it
    had, with the sources, tags and settings of its manifest where that still reads (else
    shard 0's settings, and none); the new store is written beside it, then the damaged
    folder is renamed aside whole (``<path>.<UTC time>.damaged``) and the new one takes
    its name. A document whose title or text no longer gives its id is stored under the
    id they give (a distributed store's ids are always its documents'), its sources and
    tags moved with it.

    Args:
        path: the store file or folder (a symbolic link is followed; the link stays).
        digesters: digesters to spawn (more for many documents).
        max_ticks: the most ticks to run.
        on_tick: called after every tick with the documents digested and their total.

    Raises:
        StoreError: ``path`` is not a phago store SQLite can open (a distributed store:
            none of its shard files, or it has no current generation), or cannot be
            written (nothing is changed then).
    """
    from phago.colony import Colony
    from phago.ids import DocumentId
    from phago.ingest import digest_new_documents

    p = store_path(path)
    if is_distributed_store(p):
        return _rebuild_distributed(p, digesters, max_ticks, on_tick)
    with store_lock(p):
        p = _real(p)
        try:
            _load_with_terms(p, terms=False, info=False)
            return RebuildReport()
        except StoreError as exc:
            damaged = str(exc)
        salvage = salvage_store(p)
        lost = list(salvage.lost)
        colony = Colony(salvage.config, seed=salvage.seed)
        ids: list[DocumentId] = []
        for d in salvage.documents:
            try:
                ids.append(
                    colony.ingest_document(
                        d.title, d.content, (d.x, d.y), doc_id=DocumentId(d.doc_id)
                    )
                )
            except PhagoError as exc:
                lost.append(f"document {d.doc_id} ({d.title[:40]!r}) is not stored: {exc}")
        ids = list(dict.fromkeys(ids))  # (a row twice: one document)
        catalog = salvage.catalog

        def tick(t: int) -> None:
            s = colony.stats()
            catalog.add_point(
                HistoryPoint(
                    t, s.graph_nodes, s.graph_edges, s.documents_total, s.documents_digested
                )
            )
            if on_tick is not None:
                on_tick(s.documents_digested, s.documents_total)

        ticks = digest_new_documents(
            colony, ids, digesters=digesters, max_ticks=max_ticks, on_tick=tick, retire=True
        )
        aside = _aside_path(p)
        _copy_aside(p, aside)
        new = p.with_name(f".{p.name}.rebuilt-{os.getpid()}")
        try:
            save(colony, new, catalog=catalog)
            _put_in_place(new, p, os.stat(p))
        except BaseException as exc:
            _remove_quietly([new])
            if isinstance(exc, OSError) and not isinstance(exc, StoreError):
                raise StoreError(f"cannot rebuild {p}: {_reason(exc)}") from exc
            raise
    return RebuildReport(damaged, aside, len(ids), ticks, salvage.verified, tuple(lost))


def _copy_aside(path: Path, aside: Path) -> None:
    """Copy the store file ``path`` to ``aside`` (fsynced, then named so).

    Raises:
        StoreError: the copy cannot be written (nothing is left of it).
    """
    tmp = aside.with_name(f".{aside.name}.tmp")
    try:
        shutil.copyfile(path, tmp)
        _fsync_path(tmp)
        os.replace(tmp, aside)
        _fsync_path(aside.parent, directory=True)
    except OSError as exc:
        _remove_quietly([tmp])
        raise StoreError(f"cannot rebuild {path}: cannot write {aside}: {_reason(exc)}") from exc


def _aside_path(p: Path) -> Path:
    """Where a rebuild sets the damaged store ``p`` aside: ``<p>.<UTC time>.damaged``, or
    ``<p>.<UTC time>-<n>.damaged`` where that is taken (two rebuilds in one second)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside, n = p.with_name(f"{p.name}.{stamp}.damaged"), 1
    while aside.exists() or aside.is_symlink():
        n += 1
        aside = p.with_name(f"{p.name}.{stamp}-{n}.damaged")
    return aside


def _salvage_distributed(p: Path) -> tuple[Salvage, int, int | None]:
    """What still reads of the distributed store ``p``: its documents (shard by shard), its
    manifest's catalog and settings (else shard 0's settings), and its shard count and
    virtual nodes per shard (None: the default) from the manifest (else the shard files
    found in its current generation).

    Raises:
        StoreError: the store has no current generation, or no shard file of it reads.
    """
    from phago.config import ColonyConfig
    from phago.store import _catalog_from_json, _current_generation, read_manifest

    lost: list[str] = []
    problems = (StoreError, KeyError, TypeError, ValueError, AttributeError, PhagoError)

    def from_manifest(body: dict[str, Any]) -> tuple[Any, ...]:
        shards = int(body["num_shards"])
        return (
            shards,
            [gen / f"shard-{i:03d}.db" for i in range(shards)],
            ColonyConfig.from_dict(body["config"]),
            int(body["seed"]),
            int(body["virtual_nodes"]),
            _catalog_from_json(body.get("catalog", {})),
        )

    gen = _current_generation(p)
    try:
        shards, files, config, seed, vnodes, catalog = from_manifest(read_manifest(p))
        found = True
    except problems as exc:
        try:  # (read as it is: its checksum, or a part of it, damaged)
            raw = json.loads((gen / "manifest.json").read_bytes())["body"]
            shards, files, config, seed, vnodes, catalog = from_manifest(raw)
            lost.append(f"the manifest does not read as saved ({exc}): kept as it reads")
            found = True
        except (OSError, *problems):
            lost.append(
                f"the manifest does not read ({exc}): no sources, tags or times added; the "
                "shard files found, and shard 0's settings"
            )
            files = sorted(gen.glob("shard-*.db"))
            shards, vnodes, catalog, found = len(files), None, Catalog(), False
            config, seed = ColonyConfig(), 0
    documents: list[SalvagedDocument] = []
    verified, read = True, 0
    for f in files:
        try:
            part = _salvage_file(f, "shard")
        except StoreError as exc:
            lost.append(f"{f.name} does not read: {exc}")
            verified = False
            continue
        if not found and read == 0:
            config, seed = part.config, part.seed
        read += 1
        documents.extend(part.documents)
        verified = verified and part.verified
        lost.extend(f"{f.name}: {x}" for x in part.lost if "settings" not in x)
    if not read:
        raise StoreError(f"cannot rebuild {p}: none of its shard files reads")
    return Salvage(documents, catalog, config, seed, verified, lost), max(shards, 1), vnodes


def _rebuild_distributed(
    p: Path,
    digesters: int,
    max_ticks: int,
    on_tick: Callable[[int, int], None] | None,
) -> RebuildReport:
    """:func:`rebuild_colony` of the distributed store folder ``p``: the shards rebuilt on
    the local backend, saved as a new store folder beside it, which takes its name once the
    damaged folder is renamed aside (whole: its every generation)."""
    from phago.distributed import DistributedColony
    from phago.distributed.types import DEFAULT_VIRTUAL_NODES
    from phago.ids import DocumentId
    from phago.ingest import DistributedSink, digest_new_distributed
    from phago.store import load_distributed, save_distributed

    with store_lock(p):
        p = _real(p)
        try:
            load_distributed(p, backend="local").close()
            return RebuildReport()
        except StoreError as exc:
            damaged = str(exc)
        salvage, shards, vnodes = _salvage_distributed(p)
        lost = list(salvage.lost)
        catalog = salvage.catalog
        catalog.history.clear()
        with DistributedColony(
            shards,
            "local",
            salvage.config,
            salvage.seed,
            virtual_nodes=DEFAULT_VIRTUAL_NODES if vnodes is None else vnodes,
        ) as dc:
            sink = DistributedSink(dc)
            ids: list[DocumentId] = []
            for d in salvage.documents:
                try:
                    new = sink.ingest_document(d.title, d.content, (d.x, d.y))
                except PhagoError as exc:
                    lost.append(f"document {d.doc_id} ({d.title[:40]!r}) is not stored: {exc}")
                    continue
                ids.append(new)
                if int(new) != d.doc_id:  # (a title or text changed: its id follows it)
                    _renumber(catalog, d.doc_id, int(new))
                    lost.append(
                        f"document {d.doc_id} ({d.title[:40]!r}) no longer matches its id: "
                        f"stored as {int(new)}"
                    )
            ids = list(dict.fromkeys(ids))  # (a row twice: one document)

            def progress(result: Any) -> None:
                if on_tick is not None:
                    on_tick(result.documents_digested(), len(ids))

            ticks = digest_new_distributed(
                sink,
                ids,
                digesters=digesters,
                max_ticks=max_ticks,
                on_progress=progress,
                retire=True,
            )
            if not dc.has_undigested_work():  # the cap across shards acts ticks after growth
                ticks += dc.settle_degree_cap()
            stats = dc.stats()
            catalog.add_point(
                HistoryPoint(
                    dc.current_tick,
                    stats.graph_nodes,
                    stats.graph_edges,
                    stats.documents_total,
                    stats.documents_digested,
                )
            )
            new_dir = p.with_name(f".{p.name}.rebuilt-{os.getpid()}")
            shutil.rmtree(new_dir, ignore_errors=True)
            try:
                save_distributed(dc, new_dir, catalog=catalog)
            except BaseException:
                shutil.rmtree(new_dir, ignore_errors=True)
                raise
        aside = _aside_path(p)
        try:
            os.rename(p, aside)
        except OSError as exc:
            shutil.rmtree(new_dir, ignore_errors=True)
            raise StoreError(f"cannot rebuild {p}: cannot rename it aside: {_reason(exc)}") from exc
        try:
            os.rename(new_dir, p)
        except OSError as exc:
            try:
                os.rename(aside, p)  # (the damaged store back where it was)
            except OSError:
                raise StoreError(
                    f"cannot rebuild {p}: {_reason(exc)}; the damaged store is in {aside} "
                    f"and the rebuilt one in {new_dir}"
                ) from exc
            shutil.rmtree(new_dir, ignore_errors=True)
            raise StoreError(f"cannot rebuild {p}: {_reason(exc)}") from exc
        _fsync_path(p.parent, directory=True)
    return RebuildReport(damaged, aside, len(ids), ticks, salvage.verified, tuple(lost))


def _renumber(catalog: Catalog, old: int, new: int) -> None:
    """Move what ``catalog`` holds of document ``old`` (its sources, tags, time added) to
    document ``new``."""
    catalog.sources = [
        SourceRecord(s.path, s.content_hash, new, s.part, s.parts) if s.doc_id == old else s
        for s in catalog.sources
    ]
    if old in catalog.info:
        catalog.info[new] = catalog.info.pop(old)
    catalog.texts = {
        h: tuple(new if d == old else d for d in ds) for h, ds in catalog.texts.items()
    }
