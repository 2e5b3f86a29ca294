"""SQLite persistence: save a colony, load it back, continue the run identically.

A store is one SQLite file (stdlib :mod:`sqlite3`). Schema version 2:

* ``phago_schema(version, kind, phago_version, saved_at)``: one row; ``kind`` is ``colony``
  (or ``shard`` inside a distributed store). A file without it is not a phago store; a newer
  or unknown version is refused.
* ``blobs(name, encoding, data, sha256)``: the colony's arrays (``np.save`` bytes, no
  pickles) and JSON parts (config, generator state, counters, labels, payloads, summary),
  each with a SHA-256 checksum checked on load.
* ``documents(seq, doc_id, title, content, x, y, digested)``: every document, in order.
* ``agents(seq, agent_type, class_path, state)``: every live agent's ``state_dict()`` as JSON,
  with its class (``module:qualname``).
* ``sources(path, content_hash, doc_id, part, parts)``: which file each ingested document
  came from and the hash of that file's text (duplicates by content are skipped).
* ``history(tick, nodes, edges, documents, digested)``: graph size over ticks (sparklines).

Blobs named ``terms.*`` keep the documents' term counts by document id (with the
tokeniser's version: :mod:`phago.query.term_counts`), so a colony's first query after a load
does not tokenise every document again. A save counts only documents not counted before; a
store without them, or with damaged ones or another tokeniser's, loads as ever and counts
them again.

The rows of ``documents``, ``agents``, ``sources`` and ``history`` are covered by one digest
stored as a blob, so a damaged file is refused with :class:`~phago.errors.StoreError`
instead of loading wrong data. Version 2 hashes the rows column by column
(:class:`phago._store_digest.ColumnDigest`: about a tenth of a second for 50,000 notes,
against half a second row by row); version 1 stores, hashed row by row, load as before and
are written as version 2 when saved again. A phago that reads only version 1 refuses a
version 2 store as "written by a newer phago". A document at ``x`` or ``y`` = ``-0.0`` is
stored at ``0.0`` (SQLite keeps a REAL zero without its sign; in version 1 such a store's
checksum failed and it would not load).

**Crash safety.** A save writes a new file, except where a colony is saved back to the store
it was loaded from (or last saved) and finds it unchanged: then the file is changed in place.

*A new file*: ``<path>.tmp`` is written in one transaction, closed and fsynced, then
atomically renamed over ``<path>`` with :func:`os.replace`, and the directory fsynced. The
temporary file needs no journal of its own (nothing reads it before the rename, and a save
that fails removes it), so it is written without one, each page once. Readers that opened
the old file keep reading it across the rename.

*In place* (an ``ingest`` of one note into 50,000 writes its row, not 50,000): one SQLite
transaction with SQLite's rollback journal (``<path>-journal``, deleted at the commit) and
its syncs writes the documents and sources rows after the first that differs (an ingest adds
rows at the end; a forget rewrites those after the first document forgotten), the positions
and digested flags that changed, the agents and history tables, and the parts whose checksum
changed; the bytes of deleted rows are zeroed (``secure_delete``). Only a store file of this
phago's schema with one name is changed in place (another hard link to it would change too:
it is replaced instead), and only while SQLite's change counter in its header is the one the
colony's load or last save left: a file changed since by something else (rows edited with
the ``sqlite3`` shell, whose checksum phago's parts would no longer match) is replaced
whole by the colony's version, as any save did before saves in place. Readers read inside
one read transaction, so a save in place waits for them to finish (up to a minute) and each
sees one version.

Either way the store stays one self-contained file between saves (no ``-wal`` file to lose,
readable from read-only media). A process killed at any point leaves the previous store
loadable: a killed save in place leaves its journal, which the next process to open the
store rolls back (one that may write the store's folder; others are told so). A full disk,
a read-only directory or a missing permission raises :class:`~phago.errors.StoreError`
naming the file, and nothing of the failed save is kept. A save keeps the file's permission
bits, writes through a symbolic link (the link stays), and refuses to overwrite a store
whose permission bits make it read-only.

**Concurrent writers.** Saves of one store take turns (a lock on its folder). A
load-change-save is made safe two ways. :func:`store_lock` holds the store for writing from
the load to the save (the ``phago`` commands that change a store, ``ingest``, ``forget`` and
``query --reinforce``, hold it, so a second one waits for the first and then starts from its
result). And a colony loaded from a store remembers which version of it it was loaded
from: saving it back to that store raises :class:`~phago.errors.StoreError` ("changed since
it was loaded") when the store was saved by someone else in between, instead of silently
dropping their changes; load it again and redo the change, or save to another path. After
a successful save the colony remembers the version it wrote. A colony that was not loaded
from the store it is saved to overwrites it (as a new store).

Example:
    >>> import tempfile, pathlib
    >>> from phago import Colony, Digester, Position
    >>> c = Colony(seed=1)
    >>> _ = c.ingest_document("t", "cell membrane protein", Position(0, 0))
    >>> _ = c.spawn(Digester(Position(1, 0)))
    >>> _ = c.run(3)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "colony.db"
    >>> _ = save(c, path)
    >>> twin = load(path)
    >>> _ = c.run(10); _ = twin.run(10)
    >>> twin.stats() == c.stats()
    True
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import operator
import os
import shutil
import sqlite3
import stat
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phago._lazy import lazy_module
from phago._store_digest import ColumnDigest, RowDigest, columns_of
from phago.errors import PhagoError, StoreChanged, StoreError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from phago.colony import Colony
    from phago.query.term_counts import SavedTermCounts
    from phago.state import AgentState, ColonyState, ForgetReport
else:
    # NumPy, the colony and its state are imported when first used: reading a store's
    # summary (``phago stats``) needs none of them
    np = lazy_module("numpy")

__all__ = [
    "DISTRIBUTED_FORMAT",
    "SCHEMA_VERSION",
    "Catalog",
    "DocumentInfo",
    "HistoryPoint",
    "RepairReport",
    "SourceRecord",
    "StoreSummary",
    "StoredDocuments",
    "TagReport",
    "added_since",
    "forget_in_store",
    "is_distributed_store",
    "is_store",
    "load",
    "load_distributed",
    "load_distributed_with_catalog",
    "load_state",
    "load_with_catalog",
    "merged_graph",
    "read_catalog",
    "read_distributed_catalog",
    "read_document_ids",
    "read_document_info",
    "read_documents",
    "read_extra",
    "read_manifest",
    "read_shard_states",
    "read_state",
    "read_summary",
    "repair_information",
    "save",
    "save_distributed",
    "save_state",
    "store_lock",
    "tag_documents",
    "tag_in_store",
    "tagged_documents",
]

SCHEMA_VERSION = 2
"""The store layout this phago writes; it reads versions 1..SCHEMA_VERSION. Version 2
(the thirty-eighth session) checksums the rows column by column (:class:`ColumnDigest`);
version 1 stores, checksummed row by row, load as before."""

_ROWS_DIGEST = "columns_digest"
"""The key of the rows' checksum in the ``rows`` blob (version 1: ``rows_digest``)."""

PathLike = str | os.PathLike[str]
_TOP_CONCEPTS = 20

_SCHEMA = """
CREATE TABLE phago_schema (
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    phago_version TEXT NOT NULL,
    saved_at TEXT NOT NULL
);
CREATE TABLE blobs (
    name TEXT PRIMARY KEY,
    encoding TEXT NOT NULL,
    data BLOB NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE TABLE documents (
    seq INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL UNIQUE,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    x REAL NOT NULL,
    y REAL NOT NULL,
    digested INTEGER NOT NULL
);
CREATE TABLE agents (
    seq INTEGER PRIMARY KEY,
    agent_type TEXT NOT NULL,
    class_path TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE sources (
    seq INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    doc_id INTEGER NOT NULL,
    part INTEGER NOT NULL,
    parts INTEGER NOT NULL
);
CREATE INDEX sources_by_hash ON sources(content_hash);
CREATE INDEX sources_by_path ON sources(path);
CREATE TABLE history (
    seq INTEGER PRIMARY KEY,
    tick INTEGER NOT NULL,
    nodes INTEGER NOT NULL,
    edges INTEGER NOT NULL,
    documents INTEGER NOT NULL,
    digested INTEGER NOT NULL
);
"""


# ---------------------------------------------------------------------------- catalog


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """Where one stored document came from: file path, hash of the file's text, part."""

    path: str
    content_hash: str
    doc_id: int
    part: int = 1
    parts: int = 1


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """Graph and corpus size at one tick."""

    tick: int
    nodes: int
    edges: int
    documents: int = 0
    digested: int = 0


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """When a stored document was added and the tags it carries.

    Attributes:
        added: when it was first added, UTC (``2026-12-06T18:30:00Z``; "" where the store
            does not say: documents stored before the forty-first session, or saved from
            Python without :meth:`Catalog.note_added`).
        tags: its tags (:func:`phago.tags.tag_name`), sorted: those of every ``phago
            ingest --tag`` that added it or a copy of it and of ``phago tag``, and those the
            front matter ``tags:`` of each Markdown file it is stored from names now.
    """

    added: str = ""
    tags: tuple[str, ...] = ()


def tagged_documents(info: dict[int, DocumentInfo], tags: Iterable[str]) -> set[int]:
    """The documents of ``info`` (:meth:`Catalog.document_info`, :func:`read_document_info`)
    that carry every one of ``tags`` (compared as :func:`phago.tags.tag_name` writes them).

    Raises:
        ConfigError: a tag :func:`phago.tags.tag_name` refuses.

    Example:
        >>> tagged_documents({7: DocumentInfo("", ("cells", "lab"))}, ["#Lab"])
        {7}
    """
    from phago.tags import tag_names

    wanted = set(tag_names(tags))
    return {d for d, i in info.items() if wanted <= set(i.tags)}


def added_since(info: dict[int, DocumentInfo], stamp: str) -> set[int]:
    """The documents of ``info`` added at or after ``stamp`` (a time as a store records it:
    :func:`phago.tags.utc_stamp`); a document whose time is not known is not one.

    Example:
        >>> added_since({7: DocumentInfo("2026-12-06T10:00:00Z"), 8: DocumentInfo()},
        ...             "2026-12-06T00:00:00Z")
        {7}
    """
    return {d for d, i in info.items() if i.added and i.added >= stamp}


@dataclass
class Catalog:
    """What a store keeps besides the colony: file sources, size history, each document's
    :class:`DocumentInfo` (``info``, by document id: the tags given to it, by ``phago
    ingest --tag`` and ``phago tag``), the tags each ingested file's front matter names
    (``file_tags``, by path; a file ingested again sets its own anew) and the texts stored
    without a file (``texts``: the hash of each text, as a file's
    :attr:`SourceRecord.content_hash`, to the documents holding it; so that the same text
    given again, or a file of it, is a duplicate). :meth:`document_info` gives each
    document's time added and all its tags.

    Example:
        >>> cat = Catalog()
        >>> cat.add_point(HistoryPoint(1, 3, 2))
        >>> cat.add_point(HistoryPoint(1, 4, 3))
        >>> [p.nodes for p in cat.history]
        [4]
    """

    sources: list[SourceRecord] = field(default_factory=list)
    history: list[HistoryPoint] = field(default_factory=list)
    info: dict[int, DocumentInfo] = field(default_factory=dict)
    file_tags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    texts: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def copy(self) -> Catalog:
        """A catalog of the same records (new lists, so changing one leaves the other)."""
        return Catalog(
            list(self.sources),
            list(self.history),
            dict(self.info),
            dict(self.file_tags),
            dict(self.texts),
        )

    def set_file_tags(self, path: str, tags: Iterable[str]) -> None:
        """Record the tags the front matter of the ingested file ``path`` (absolute) names
        now, in place of those it named before.

        Example:
            >>> cat = Catalog([SourceRecord("/n/a.md", "h", 7)])
            >>> cat.set_file_tags("/n/a.md", ["draft"]); cat.set_file_tags("/n/a.md", ["final"])
            >>> cat.document_info()[7].tags
            ('final',)
        """
        from phago.tags import tag_names

        names = tag_names(tags)
        if names:
            self.file_tags[path] = names
        else:
            self.file_tags.pop(path, None)

    def document_info(self) -> dict[int, DocumentInfo]:
        """Each document's time added and all its tags: those given to it (:attr:`info`)
        and those of the files it is stored from (:attr:`file_tags`); documents with
        neither are left out.

        Example:
            >>> cat = Catalog([SourceRecord("/n/a.md", "h", 7)])
            >>> cat.note_added([7], ["lab"], when="2026-12-06T10:00:00Z")
            >>> cat.set_file_tags("/n/a.md", ["cells"])
            >>> cat.document_info()[7]
            DocumentInfo(added='2026-12-06T10:00:00Z', tags=('cells', 'lab'))
        """
        out = dict(self.info)
        if not self.file_tags:
            return out
        extra: dict[int, set[str]] = {}
        for s in self.sources:
            named = self.file_tags.get(s.path)
            if named:
                extra.setdefault(s.doc_id, set()).update(named)
        for d, more in extra.items():
            had = out.get(d, DocumentInfo())
            if not more <= set(had.tags):
                out[d] = DocumentInfo(had.added, tuple(sorted(more | set(had.tags))))
        return out

    def note_added(
        self, doc_ids: Iterable[int], tags: Iterable[str] = (), when: str | None = None
    ) -> None:
        """Record that the documents ``doc_ids`` were added (or added again, as a copy)
        ``when`` (None: now) with ``tags``: a document new to the catalog takes that time,
        one it knows keeps its first; either way its tags gain ``tags``.

        Raises:
            ConfigError: a tag :func:`phago.tags.tag_name` refuses.

        Example:
            >>> cat = Catalog()
            >>> cat.note_added([7], ["Lab"], when="2026-12-01T09:00:00Z")
            >>> cat.note_added([7], ["#cells"], when="2026-12-06T10:00:00Z")
            >>> cat.info[7]
            DocumentInfo(added='2026-12-01T09:00:00Z', tags=('cells', 'lab'))
        """
        from phago.tags import tag_names, utc_now

        names = tag_names(tags)
        stamp = utc_now() if when is None else when
        for d in doc_ids:
            had = self.info.get(int(d))
            if had is None:
                self.info[int(d)] = DocumentInfo(stamp, names)
            elif names and not set(names) <= set(had.tags):
                self.info[int(d)] = DocumentInfo(had.added, tuple(sorted({*had.tags, *names})))

    def content_hashes(self) -> set[str]:
        """Hashes of every file already stored."""
        return {s.content_hash for s in self.sources}

    def documents_from(self, path: PathLike) -> list[int]:
        """Ids of the documents that came from ``path`` (a file, or every file under a folder).

        Example:
            >>> Catalog([SourceRecord("/a/b.txt", "h", 7)]).documents_from("/a")
            [7]
        """
        p = os.path.abspath(os.fspath(path))
        prefix = p.rstrip(os.sep) + os.sep
        return [s.doc_id for s in self.sources if s.path == p or s.path.startswith(prefix)]

    def drop_files(self, paths: Iterable[PathLike]) -> int:
        """Drop the records of ``paths`` (each a file, or every file under a folder, as
        :meth:`documents_from` names them); returns how many went.

        Example:
            >>> cat = Catalog([SourceRecord("/a/b.txt", "h", 7), SourceRecord("/c.txt", "h", 7)])
            >>> cat.drop_files(["/a"]), [s.path for s in cat.sources]
            (1, ['/c.txt'])
        """
        names = [os.path.abspath(os.fspath(p)) for p in paths]
        exact = set(names)
        prefixes = tuple(n.rstrip(os.sep) + os.sep for n in names)
        before = len(self.sources)
        self.sources = [
            s for s in self.sources if not (s.path in exact or s.path.startswith(prefixes))
        ]
        self._keep_file_tags()
        return before - len(self.sources)

    def _keep_file_tags(self) -> None:
        """Drop the front-matter tags of files no source record names any more."""
        if self.file_tags:
            held = {s.path for s in self.sources}
            self.file_tags = {p: t for p, t in self.file_tags.items() if p in held}

    def release(self, paths: Iterable[PathLike], *, keep: Iterable[int] = ()) -> list[int]:
        """Drop the records of ``paths`` (:meth:`drop_files`) and return the ids of their
        documents that no remaining record holds and that are not in ``keep``: the documents
        to forget. A document another file, or a text stored without a file
        (:attr:`texts`), still holds stays (only these records go):
        ``phago ingest`` forgets the old version of a changed file this way, and ``phago
        forget PATH`` a file's documents.

        Example:
            >>> cat = Catalog([SourceRecord("/n/mon.txt", "h", 7),
            ...                SourceRecord("/n/tue.txt", "h", 7),
            ...                SourceRecord("/n/wed.txt", "g", 8)])
            >>> cat.release(["/n/mon.txt"]), [s.path for s in cat.sources]
            ([], ['/n/tue.txt', '/n/wed.txt'])
            >>> cat.release(["/n"]), cat.sources
            ([7, 8], [])
        """
        names = list(paths)
        gone = {d for p in names for d in self.documents_from(p)}
        self.drop_files(names)
        return sorted(gone - self.recorded_documents() - {int(d) for d in keep})

    def recorded_documents(self) -> set[int]:
        """The documents a file record or a text (:attr:`texts`) holds.

        Example:
            >>> cat = Catalog([SourceRecord("/a.txt", "h", 7)], texts={"g": (8, 9)})
            >>> sorted(cat.recorded_documents())
            [7, 8, 9]
        """
        held = {s.doc_id for s in self.sources}
        held.update(d for ids in self.texts.values() for d in ids)
        return held

    def add_point(self, point: HistoryPoint) -> None:
        """Record a history point; points at or after its tick are replaced (a new run)."""
        while self.history and self.history[-1].tick >= point.tick:
            self.history.pop()
        self.history.append(point)

    def keep_documents(self, doc_ids: Iterable[int]) -> None:
        """Drop source rows and information of documents not in ``doc_ids``, and the texts
        of which a document is not kept (their text is no longer stored whole).

        Example:
            >>> cat = Catalog(texts={"h": (7, 8), "g": (9,)})
            >>> cat.keep_documents([7, 9]); cat.texts
            {'g': (9,)}
        """
        keep = {int(d) for d in doc_ids}
        self.sources = [s for s in self.sources if s.doc_id in keep]
        if not keep.issuperset(self.info):
            self.info = {d: i for d, i in self.info.items() if d in keep}
        if self.texts:
            self.texts = {h: ids for h, ids in self.texts.items() if keep.issuperset(ids)}
        self._keep_file_tags()


@dataclass(frozen=True)
class StoreSummary:
    """What :func:`read_summary` returns: stats without restoring the colony."""

    path: str
    kind: str
    schema_version: int
    phago_version: str
    saved_at: str
    stats: dict[str, int]
    top_concepts: list[dict[str, Any]]
    history: list[HistoryPoint]
    sources: int
    """Documents ingested from files (each part of a file split into parts counts; a text
    two files hold, once)."""
    source_files: int = 0
    """Files ingested (distinct paths)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict: the ``ColonyStats`` fields at top level, then the rest."""
        return {
            **self.stats,
            "path": self.path,
            "kind": self.kind,
            "schema_version": self.schema_version,
            "phago_version": self.phago_version,
            "saved_at": self.saved_at,
            "sources": self.sources,
            "source_files": self.source_files,
            "top_concepts": self.top_concepts,
            "history": [
                {
                    "tick": p.tick,
                    "nodes": p.nodes,
                    "edges": p.edges,
                    "documents": p.documents,
                    "digested": p.digested,
                }
                for p in self.history
            ],
        }


# ---------------------------------------------------------------------------- helpers


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= (1 << 63) else v


def _unsigned(v: int) -> int:
    return v + (1 << 64) if v < 0 else v


_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1


def _npy(arr: np.ndarray) -> bytes:
    """``np.save`` bytes; int64 arrays whose values fit are stored as int32 (read back as int64)."""
    if arr.dtype == np.int64 and arr.size and arr.min() >= _I32_MIN and arr.max() <= _I32_MAX:
        arr = arr.astype(np.int32)
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_SQLITE_DISK_FULL = frozenset({"SQLITE_FULL", "SQLITE_IOERR_SHMSIZE"})
"""SQLite error names that mean the disk (or the shared-memory file system) is full."""


def _file_size_limit() -> int | None:
    """The largest file this process may write (``ulimit -f``, in bytes), or None where
    there is no limit (or no way to know it)."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    except (ImportError, OSError, ValueError):
        return None
    return None if soft == resource.RLIM_INFINITY or soft < 0 else int(soft)


def _reason(exc: BaseException) -> str:
    """What went wrong, in words, for an error raised while reading or writing a store.

    Example:
        >>> err = sqlite3.OperationalError("disk I/O error")
        >>> err.sqlite_errorname = "SQLITE_IOERR_SHMSIZE"
        >>> _reason(err)
        'the disk is full'
    """
    name = getattr(exc, "sqlite_errorname", None)
    if name in _SQLITE_DISK_FULL:
        return "the disk is full"
    if isinstance(name, str) and name.startswith("SQLITE_READONLY"):
        return "the file system is read-only"
    if isinstance(name, str) and name.startswith("SQLITE_IOERR"):
        limit = _file_size_limit()
        if limit is not None:  # (SQLite reports a write past it as an I/O error)
            return (
                f"{exc} (this process may write files of at most {limit:,} bytes: "
                "ulimit -f; or the disk failed)"
            )
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno == errno.ENOSPC:
            return "the disk is full"
        if exc.errno == errno.EFBIG:
            limit = _file_size_limit()
            where = f"at most {limit:,} bytes: ulimit -f" if limit is not None else "its limit"
            return f"the file grew too large for this process or file system ({where})"
        if exc.errno == errno.EROFS:
            return "the file system is read-only"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
        if exc.errno == errno.ENOENT:
            return "the directory does not exist"
    text = str(exc).lower()
    if "full" in text:
        return "the disk is full"
    if "readonly" in text or "read-only" in text:
        return "the file system is read-only"
    if "unable to open" in text:
        return "the file cannot be created there (read-only directory or no permission)"
    return str(exc) or type(exc).__name__


def _fsync_path(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:
            return  # some platforms cannot open directories; the rename is still atomic
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        if not directory or exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _tmp_paths(path: Path) -> list[Path]:
    tmp = path.with_name(path.name + ".tmp")
    return [tmp, *(tmp.with_name(tmp.name + s) for s in ("-wal", "-shm", "-journal"))]


def _remove_quietly(paths: Iterable[Path]) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass


_held = threading.local()


def _held_locks() -> set[tuple[int, int]]:
    """The files and folders (device, inode) this thread holds a phago lock on."""
    held: set[tuple[int, int]] | None = getattr(_held, "locks", None)
    if held is None:
        held = _held.locks = set()
    return held


@contextlib.contextmanager
def _flock(fd: int, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the open file or folder ``fd`` (the caller closes it).

    Reentrant per thread: a thread that already holds a lock on the same file (a
    :func:`store_lock` around a save, which locks the store's folder again) just goes on.
    ``on_wait`` is called once if another holder makes this one wait.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    st = os.fstat(fd)
    key = (st.st_dev, st.st_ino)
    held = _held_locks()
    if key in held:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if on_wait is not None:
            on_wait()
        fcntl.flock(fd, fcntl.LOCK_EX)
    held.add(key)
    try:
        yield
    finally:
        held.discard(key)
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``directory`` (POSIX ``flock``): one save at a time writes
    its temporary files there, so concurrent savers of one store never mix them up."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        yield  # cannot open the folder for locking: the save itself reports the real problem
        return
    try:
        with _flock(fd):
            yield
    finally:
        os.close(fd)


def _real(path: Path) -> Path:
    """``path`` with symbolic links resolved (a store is written where a link points)."""
    return Path(os.path.realpath(path))


def _refuse_read_only(path: Path, mode: int, what: str = "", fix: str = "") -> None:
    """Raise if the permission bits ``mode`` of the store ``path`` (or, ``what``, of a part
    of it) make it read-only (by the bits, not by :func:`os.access`: a user running as root
    still means the store to stay); ``fix`` is the command to suggest."""
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise StoreError(
            f"refusing to overwrite {path}: the store is read-only ({what or f'mode {mode:04o}'}"
            f"); make it writable ({fix or f'chmod u+w {path}'}) to save to it"
        )


@contextlib.contextmanager
def store_lock(path: PathLike, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the store at ``path`` (a file or a distributed store folder) for writing.

    Hold it from loading a store to saving it back, so that another writer holding it (such
    as another ``phago ingest``) waits instead of overwriting the changes; saves and
    :func:`forget_in_store` in the same thread go on under it. A store that does not exist
    yet is held by locking the folder it will be created in. The lock is advisory (POSIX
    ``flock``; none on other systems) and released when the block ends or the process dies.

    Args:
        path: the store file or folder (it need not exist yet; its folder must).
        on_wait: called once, before waiting, if another process holds the store.

    Raises:
        StoreError: the store is made read-only (the permission bits of its file, or of a
            distributed store's folder or ``CURRENT``), or its folder does not exist.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.db"
        >>> with store_lock(p):
        ...     _ = save(Colony(seed=2), p)
        ...     c = load(p)
        ...     _ = save(c, p)
        >>> load(p).seed
        2
    """
    p = _real(Path(path))
    while True:
        target = p if p.exists() else p.parent
        try:
            fd = os.open(target, os.O_RDONLY)
        except FileNotFoundError:
            if target == p:
                continue  # replaced or removed just now: look again
            raise StoreError(
                f"cannot write {path}: the directory {target} does not exist"
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot lock {path} for writing: {_reason(exc)}") from exc
        try:
            with _flock(fd, on_wait):
                on_wait = None  # tell the user once
                if not _still_the_store(p, target, fd):
                    continue  # another writer replaced or created it meanwhile: lock that
                if target == p and p.is_file():
                    _refuse_read_only(p, stat.S_IMODE(os.fstat(fd).st_mode))
                elif target == p and (p / _CURRENT).is_file():
                    _refuse_read_only_folder(p)
                yield
                return
        finally:
            os.close(fd)


def _still_the_store(p: Path, target: Path, fd: int) -> bool:
    """Whether the lock taken on ``target`` (the store ``p`` itself, or its folder while
    there is no store) still guards ``p``: a save replaces a store file by a new one, so a
    lock on the old file guards nothing."""
    if target != p:
        return not p.exists()
    try:
        now = os.stat(p)
    except FileNotFoundError:
        return False
    st = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)


# The store version each colony was loaded from (or last saved to): id of the colony to
# (a weak reference to it, the store's resolved path, the version, the rows that version
# holds where known). See the module docstring.
_ORIGINS: dict[int, tuple[weakref.ref[Any], str, str, _WrittenRows | _ShardRows | None]] = {}


def _remember(
    obj: Any, path: Path, version: str, rows: _WrittenRows | _ShardRows | None = None
) -> None:
    """Note that ``obj`` was loaded from (or saved to) version ``version`` of ``path``, which
    holds the rows ``rows`` (None: not known)."""
    key = id(obj)

    def forget(_ref: weakref.ref[Any]) -> None:
        entry = _ORIGINS.get(key)
        if entry is not None and entry[0] is _ref:
            del _ORIGINS[key]

    try:
        ref = weakref.ref(obj, forget)
    except TypeError:  # pragma: no cover - not weakly referenceable: nothing is checked
        return
    _ORIGINS[key] = (ref, os.fspath(_real(path)), version, rows)


def _origin(obj: Any, path: Path) -> str | None:
    """The version of the store at ``path`` that ``obj`` was loaded from, or None if it was
    not loaded from that store."""
    entry = _ORIGINS.get(id(obj))
    if entry is None or entry[0]() is not obj or entry[1] != os.fspath(_real(path)):
        return None
    return entry[2]


def _origin_rows(obj: Any, path: Path) -> _WrittenRows | _ShardRows | None:
    """The rows of the version of ``path`` that ``obj`` was loaded from (or last saved),
    where known: a colony's store file's, or each shard file's of a distributed store."""
    entry = _ORIGINS.get(id(obj))
    if entry is None or entry[0]() is not obj or entry[1] != os.fspath(_real(path)):
        return None
    return entry[3]


def _changed(path: Path) -> StoreChanged:
    return StoreChanged(
        f"refusing to overwrite {path}: the store changed since it was loaded (another "
        "process or colony saved it in between); load it again and redo the change, or save "
        "to another path"
    )


_WRITE_WAIT_S = 60.0
"""How long a save in place waits for readers of the store to finish (they hold it for the
length of one read: a load of 50,000 notes takes a second)."""


def _connect_write(path: Path) -> sqlite3.Connection:
    """A connection writing the new temporary store file ``path``: no journal and no syncs of
    SQLite's own (the file replaces the store only once it is complete and fsynced; a save
    that fails removes it), which writes each page once: a fifth less time than writing it
    through a WAL journal and checkpointing it (50 instead of 70 ms for 3,000 notes)."""
    con = sqlite3.connect(os.fspath(path), isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    return con


def _connect_read(path: Path) -> sqlite3.Connection:
    """A read-only connection to the store file ``path``, inside one read transaction: a
    save in place (:func:`_write_in_place`) waits for it to close, so every read through
    it sees one version. A save in place that was cut short (its process killed) left its
    journal beside the file; it is rolled back first (:func:`_roll_back_cut_save`).

    Raises:
        sqlite3.Error: the file cannot be opened or read.
        StoreError: such a journal is there, and this process cannot roll it back.
    """
    real = path.resolve()
    try:
        return _begin_read(real)
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorname", None) != "SQLITE_READONLY_ROLLBACK":
            raise
    _roll_back_cut_save(real)
    return _begin_read(real)


def _begin_read(path: Path) -> sqlite3.Connection:
    """A read-only connection to ``path`` with a read transaction begun (its first read
    made: SQLite takes the file's shared lock there), waiting as long as a save in place
    waits for readers while one commits (a large store's commit can outlast SQLite's
    default five seconds)."""
    con = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True, timeout=_WRITE_WAIT_S)
    try:
        con.execute("BEGIN")
        con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except BaseException:
        con.close()
        raise
    return con


def _roll_back_cut_save(path: Path) -> None:
    """Roll back the save in place of the store file ``path`` that its journal
    (``<path>-journal``) says was cut short, as SQLite does on opening the file for writing.

    Raises:
        StoreError: this process may not write the file or its folder.
    """
    try:
        con = sqlite3.connect(os.fspath(path), isolation_level=None, timeout=_WRITE_WAIT_S)
        try:
            con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot read {path}: a save into it was cut short, and its journal "
            f"({path.name}-journal) must be rolled back by a process that may write the file "
            f"and its folder ({_reason(exc)}); run the command again as such a user"
        ) from exc


# ---------------------------------------------------------------------------- writing


def _blob_rows(state: ColonyState) -> Iterator[tuple[str, str, bytes]]:
    from phago.state import GRAPH_ARRAYS, SIGNAL_COLUMNS, tick_runs, to_jsonable

    g, s = state.graph, state.substrate
    yield "colony", "json", _json_bytes(state.scalars())
    for name in GRAPH_ARRAYS:
        yield f"graph.{name}", "npy", _npy(np.asarray(getattr(g, name)))
    yield "graph.labels", "json", _json_bytes(g.labels)
    if g.prov_tick is not None:  # as runs: (first row, tick) of each run of equal ticks
        rows, ticks = tick_runs(g.prov_tick)
        runs = np.array([rows, ticks], dtype=np.int64).T.reshape(-1, 2)
        yield _PROV_TICK_RUNS, "npy", _npy(runs)
    for name in SIGNAL_COLUMNS:
        yield f"signals.{name}", "npy", _npy(np.asarray(s.signals[name]))
        yield f"traces.{name}", "npy", _npy(np.asarray(s.traces[name]))
    yield "traces.payloads", "json", _json_bytes(to_jsonable(list(s.trace_payloads)))
    if state.timeline is not None and len(state.timeline):
        yield _TIMELINE, "npy", _npy(np.asarray(state.timeline, dtype=np.float64))


_TIMELINE = "timeline"
"""The part holding a colony's timeline (:meth:`phago.colony.Colony.timeline`; absent where
it has none, and in stores written before timelines were kept). A damaged one is read as
none, as damaged term counts are counted anew: the colony is whole without it."""

_CLUSTER_TIMELINE = "cluster_timeline"
"""The extra part of a distributed store's shard 0 holding the cluster's timeline
(:meth:`phago.distributed.DistributedColony.timeline`)."""


def _summary(state: ColonyState) -> dict[str, Any]:
    g, s = state.graph, state.substrate
    n = g.node_count
    deg = np.zeros(n, dtype=np.int64)
    if g.edge_count:
        deg = np.bincount(g.edge_a, minlength=n) + np.bincount(g.edge_b, minlength=n)
    order: list[int] = np.lexsort((np.arange(n), -g.access))[:_TOP_CONCEPTS].tolist() if n else []
    refs = s.signals["ref"]
    tied = refs >= 0
    live = s.signals["intensity"] > 0
    if tied.any():
        live[tied] &= ~s.doc_digested[refs[tied]]
    digested = int(np.count_nonzero(s.doc_digested))
    stats = {
        "tick": s.tick,
        "agents_alive": len(state.agents),
        "agents_died": state.total_died,
        "total_spawned": state.total_spawned,
        "agents_retired": state.total_retired,
        "graph_nodes": n,
        "graph_edges": g.edge_count,
        "total_signals": int(np.count_nonzero(live)),
        "documents_total": s.document_count,
        "documents_digested": digested,
    }
    top = [
        {
            "label": g.labels[int(i)],
            "access_count": int(g.access[int(i)]),
            "degree": int(deg[int(i)]),
        }
        for i in order
    ]
    return {"stats": stats, "top_concepts": top}


@dataclass(frozen=True, slots=True)
class _FileRows:
    """The rows of a store file's tables as a save writes them, and their checksum."""

    documents: list[Any]
    """The documents table as columns: seq, doc_id (signed), title, content, x, y,
    digested."""
    agents: list[tuple[Any, ...]]
    sources: list[tuple[Any, ...]]
    history: list[tuple[Any, ...]]
    digest: str
    """:class:`ColumnDigest` of the four tables (the ``rows`` part)."""

    def document_rows(self, start: int = 0) -> Iterator[tuple[Any, ...]]:
        """The documents table's rows from row ``start`` on."""
        cols = [
            c[start:].tolist() if isinstance(c, np.ndarray) else c[start:] for c in self.documents
        ]
        return zip(*cols, strict=True)


def _document_columns(state: ColonyState) -> list[Any]:
    """The documents table of ``state`` as a store holds it, as new columns (seq,
    doc_id as SQLite's signed integers, title, content, x, y, digested)."""
    s = state.substrate
    n = len(s.doc_titles)
    # ``+ 0.0`` turns -0.0 into 0.0, which is what SQLite gives back for either
    pos = np.asarray(s.doc_pos, dtype=np.float64).reshape(-1, 2) + 0.0
    return [
        np.arange(n, dtype=np.int64),
        np.array(s.doc_ids, dtype=np.uint64).view(np.int64),
        list(s.doc_titles),
        list(s.doc_contents),
        np.ascontiguousarray(pos[:, 0]),
        np.ascontiguousarray(pos[:, 1]),
        np.asarray(s.doc_digested, dtype=np.bool_).astype(np.int64),
    ]


@dataclass(frozen=True, slots=True)
class _WrittenRows:
    """The documents and sources one version of a store file holds, as the colony that
    loaded or saved that version had them: a save of the colony to the same version
    writes only the rows that differ (:func:`_write_in_place`)."""

    documents: list[Any]
    """As :func:`_document_columns` gives them."""
    sources: list[SourceRecord]
    counter: int | None = None
    """SQLite's change counter of the file holding them (:func:`_change_counter`; None: not
    known, and the next save writes a new file): a file changed since by something other
    than phago (rows edited with the ``sqlite3`` shell) is not changed in place."""

    @classmethod
    def of(cls, state: ColonyState, catalog: Catalog, counter: int | None = None) -> _WrittenRows:
        """The rows a save of ``state`` and ``catalog`` writes (or a load read)."""
        return cls(_document_columns(state), list(catalog.sources), counter)

    @classmethod
    def of_rows(cls, rows: _FileRows, catalog: Catalog, counter: int | None) -> _WrittenRows:
        """The rows a save wrote (``rows``, with ``catalog``'s sources) into a file whose
        change counter is then ``counter``."""
        return cls(rows.documents, list(catalog.sources), counter)


def _change_counter(path: Path) -> int | None:
    """SQLite's file change counter of the store file ``path`` (bytes 24–27 of its header,
    which every write transaction committed in a rollback-journal mode changes), or None
    where it cannot be read or the file is in WAL mode (whose commits leave it).

    Only called while this process holds no SQLite connection to ``path``: closing any
    other descriptor of a file drops the POSIX locks SQLite holds on it."""
    try:
        with open(path, "rb") as f:
            head = f.read(28)
    except OSError:
        return None
    if len(head) < 28 or not head.startswith(b"SQLite format 3\0") or head[18:20] != b"\1\1":
        return None
    return int.from_bytes(head[24:28], "big")


def _load_counted(
    path: Path, shard: bool = False, *, terms: bool = True, info: bool = True
) -> tuple[ColonyState, Catalog, str, SavedTermCounts | None, int | None]:
    """:func:`_load_with_terms`, and the file's change counter as it was while it was read
    (:func:`_change_counter`; None where a write came in between: the rows read may be
    either version)."""
    before = _change_counter(path)
    state, catalog, version, saved = _load_with_terms(path, shard, terms=terms, info=info)
    after = _change_counter(path)
    return state, catalog, version, saved, before if before == after else None


_ShardRows = tuple[tuple[str | None, _WrittenRows], ...]
"""Each shard file's version (None: not known) and rows, in a distributed store's
generation."""


def _file_rows(state: ColonyState, catalog: Catalog) -> _FileRows:
    """The table rows a save of ``state`` with ``catalog`` writes."""
    digest = ColumnDigest()
    documents = _document_columns(state)
    digest.table("documents", documents, len(documents[0]))
    agent_rows = [
        (i, a.agent_type, a.class_path, _agent_state_json(a)) for i, a in enumerate(state.agents)
    ]
    source_rows = [
        (i, r.path, r.content_hash, _signed(int(r.doc_id)), int(r.part), int(r.parts))
        for i, r in enumerate(catalog.sources)
    ]
    history_rows = [
        (i, int(p.tick), int(p.nodes), int(p.edges), int(p.documents), int(p.digested))
        for i, p in enumerate(catalog.history)
    ]
    digest.rows("agents", agent_rows, 4)
    digest.rows("sources", source_rows, 6)
    digest.rows("history", history_rows, 6)
    return _FileRows(documents, agent_rows, source_rows, history_rows, digest.hexdigest())


def _blob_items(
    state: ColonyState,
    catalog: Catalog,
    extra: dict[str, Any],
    terms: SavedTermCounts | None,
    rows_digest: str,
) -> Iterator[tuple[str, str, bytes, str]]:
    """Every part (blob) a save of ``state`` writes: name, encoding, data, checksum."""
    from phago.state import to_jsonable

    for name, enc, data in _blob_rows(state):
        yield name, enc, data, _sha(data)
    for key, value in extra.items():
        if isinstance(value, np.ndarray):
            enc, data = "npy", _npy(value)
        else:
            enc, data = "json", _json_bytes(to_jsonable(value))
        yield f"extra.{key}", enc, data, _sha(data)
    for name, enc, data in _term_blobs(terms):
        yield name, enc, data, _sha(data)
    info = _info_json(catalog)
    if info is not None:
        data = _json_bytes(info)
        yield _DOCUMENT_INFO, "json", data, _sha(data)
    summary = _json_bytes(_summary(state))
    yield "summary", "json", summary, _sha(summary)
    rows = _json_bytes({_ROWS_DIGEST: rows_digest})
    yield "rows", "json", rows, _sha(rows)


_INSERT = {
    "documents": "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
    "agents": "INSERT INTO agents VALUES (?, ?, ?, ?)",
    "sources": "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?)",
    "history": "INSERT INTO history VALUES (?, ?, ?, ?, ?, ?)",
    "blobs": "INSERT INTO blobs VALUES (?, ?, ?, ?)",
}


def _write(
    con: sqlite3.Connection,
    state: ColonyState,
    catalog: Catalog,
    kind: str,
    extra: dict[str, Any],
    terms: SavedTermCounts | None = None,
    rows: _FileRows | None = None,
) -> tuple[str, _FileRows]:
    """Write a whole store into the new, empty file of ``con`` (its rows ``rows``: None,
    made here); returns its version and the rows written."""
    con.executescript(_SCHEMA)
    con.execute("BEGIN IMMEDIATE")
    if rows is None:
        rows = _file_rows(state, catalog)
    con.executemany(_INSERT["documents"], rows.document_rows())
    con.executemany(_INSERT["agents"], rows.agents)
    con.executemany(_INSERT["sources"], rows.sources)
    con.executemany(_INSERT["history"], rows.history)
    con.executemany(_INSERT["blobs"], _blob_items(state, catalog, extra, terms, rows.digest))
    _write_schema_row(con, kind, new=True)
    con.execute("COMMIT")
    return _file_version(con), rows


def _write_schema_row(con: sqlite3.Connection, kind: str, *, new: bool) -> None:
    """Write the schema table's row (``new``: insert it; else update its phago version and
    save time)."""
    from phago import __version__

    saved_at = datetime.now(UTC).isoformat(timespec="seconds")
    if new:
        con.execute(
            "INSERT INTO phago_schema VALUES (?, ?, ?, ?)",
            (SCHEMA_VERSION, kind, __version__, saved_at),
        )
    else:
        con.execute(
            "UPDATE phago_schema SET phago_version = ?, saved_at = ?", (__version__, saved_at)
        )


def _connect_in_place(path: Path, private: bool = False) -> sqlite3.Connection:
    """A connection changing the store file ``path`` itself: with SQLite's rollback journal
    (``<path>-journal``, gone after each commit) and its syncs, so a save that is cut short
    leaves the store as it was, and with deleted rows' bytes zeroed (``secure_delete``).
    ``private``: a copy no one reads until it is complete (a new generation's shard file),
    changed without journal or syncs, as a new file is written (a save that fails removes
    it; the caller fsyncs it)."""
    con = sqlite3.connect(os.fspath(path), isolation_level=None, timeout=_WRITE_WAIT_S)
    try:
        con.execute(f"PRAGMA journal_mode={'OFF' if private else 'DELETE'}")
        con.execute(f"PRAGMA synchronous={'OFF' if private else 'FULL'}")
        con.execute("PRAGMA secure_delete=ON")
    except BaseException:
        con.close()
        raise
    return con


def _writable_in_place(st: os.stat_result, schema: int, file_kind: str, kind: str) -> bool:
    """Whether a save may change the store file of status ``st`` (schema version
    ``schema``, kind ``file_kind``) in place, as store kind ``kind``: a file of this
    phago's schema and the same kind, with no other name (a hard link would change too)."""
    return _sole_name(st) and schema == SCHEMA_VERSION and file_kind == kind


def _sole_name(st: os.stat_result) -> bool:
    """Whether the file of status ``st`` is a plain file with no other name (hard link),
    which a change in place would change too."""
    return stat.S_ISREG(st.st_mode) and st.st_nlink == 1


def _first_difference(new: Sequence[Any], old: Sequence[Any]) -> int:
    """How many leading items ``new`` and ``old`` share (compared with ``==``)."""
    m = min(len(new), len(old))
    if new[:m] == old[:m]:
        return m
    return list(map(operator.ne, new[:m], old[:m])).index(True)


def _kept_documents(new: list[Any], old: list[Any]) -> int:
    """How many leading rows of the documents table ``old`` (columns as
    :func:`_document_columns` gives them) hold the same documents in ``new`` (their
    positions and digested flags may differ)."""
    ids_new, ids_old = new[1], old[1]
    m = min(len(ids_new), len(ids_old))
    same = ids_new[:m] == ids_old[:m]
    k = m if bool(same.all()) else int(np.argmin(same))
    k = _first_difference(new[2][:k], old[2][:k])
    return _first_difference(new[3][:k], old[3][:k])


def _write_in_place(
    path: Path,
    state: ColonyState,
    catalog: Catalog,
    kind: str,
    extra: dict[str, Any],
    terms: SavedTermCounts | None,
    before: _WrittenRows,
    expect: str,
    rows: _FileRows,
    kept: tuple[int, int],
    private: bool = False,
) -> str:
    """Save ``state`` into the store file ``path`` itself, in one transaction, writing only
    what differs from version ``expect`` of it (whose rows are ``before``): the documents
    and sources rows after the first that differs (``kept``: :func:`_kept_rows`; an ingest
    adds rows at the end), the positions and digested flags that changed, the agents and
    history tables, and the parts whose checksum changed (``rows``: :func:`_file_rows` of
    ``state`` and ``catalog``). Returns the new version.

    Raises:
        StoreChanged: the file is not version ``expect``.
        sqlite3.Error: the file cannot be written (nothing of this save is kept).
    """
    con = _connect_in_place(path, private)
    try:
        con.execute("BEGIN IMMEDIATE")
        if _file_version(con) != expect:
            raise _changed(path)
        new, old = rows.documents, before.documents
        k = kept[0]
        if k < len(old[0]):
            con.execute("DELETE FROM documents WHERE seq >= ?", (k,))
        moved = np.flatnonzero(
            (new[4][:k] != old[4][:k]) | (new[5][:k] != old[5][:k]) | (new[6][:k] != old[6][:k])
        )
        con.executemany(
            "UPDATE documents SET x = ?, y = ?, digested = ? WHERE seq = ?",
            zip(
                new[4][moved].tolist(),
                new[5][moved].tolist(),
                new[6][moved].tolist(),
                moved.tolist(),
                strict=True,
            ),
        )
        con.executemany(_INSERT["documents"], rows.document_rows(k))
        k = kept[1]
        if k < len(before.sources):
            con.execute("DELETE FROM sources WHERE seq >= ?", (k,))
        con.executemany(_INSERT["sources"], rows.sources[k:])
        for table in ("agents", "history"):
            con.execute(f"DELETE FROM {table}")
            con.executemany(_INSERT[table], getattr(rows, table))
        have = {
            name: (enc, sha)
            for name, enc, sha in con.execute("SELECT name, encoding, sha256 FROM blobs")
        }
        names: set[str] = set()

        def changed_blobs() -> Iterator[tuple[str, str, bytes, str]]:
            for item in _blob_items(state, catalog, extra, terms, rows.digest):
                names.add(item[0])
                if have.get(item[0]) != (item[1], item[3]):
                    yield item

        con.executemany("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?, ?)", changed_blobs())
        con.executemany(
            "DELETE FROM blobs WHERE name = ?", [(name,) for name in sorted(set(have) - names)]
        )
        _write_schema_row(con, kind, new=False)
        con.execute("COMMIT")
        version = _file_version(con)
    finally:
        con.close()  # (without the commit: the transaction is rolled back)
    if private:
        _fsync_path(path)
    return version


_IN_PLACE_ROWS = 1000
"""A save in place may rewrite this many rows of the documents and sources tables whatever
their size (see :func:`_worth_in_place`)."""


def _kept_rows(rows: _FileRows, catalog: Catalog, before: _WrittenRows) -> tuple[int, int]:
    """How many leading rows of the documents and of the sources table of the version
    holding ``before`` a save of ``rows`` (with ``catalog``'s sources) keeps as they are."""
    return (
        _kept_documents(rows.documents, before.documents),
        _first_difference(catalog.sources, before.sources),
    )


def _worth_in_place(kept: tuple[int, int], rows: _FileRows, before: _WrittenRows) -> bool:
    """Whether saving ``rows`` in place of the version holding ``before``, keeping ``kept``
    (:func:`_kept_rows`), rewrites few enough rows to beat writing a new file: at most a
    quarter of the documents and sources rows (or :data:`_IN_PLACE_ROWS`). A row deleted
    and written again in place costs about twice what writing it into a new file does:
    forgetting the middle one of 50,000 notes took 2.6 s in place against 2.1 s."""
    old = len(before.documents[0]) + len(before.sources)
    new = len(rows.documents[0]) + len(rows.sources)
    rewritten = (old - sum(kept)) + (new - sum(kept))
    return rewritten <= max(_IN_PLACE_ROWS, (old + new) // 8)


def _agent_state_json(agent: AgentState) -> str:
    """The agent's saved state as JSON text, or a :class:`StoreError` naming the agent and
    the field JSON cannot hold (an object of the user's, say).

    Example:
        >>> from phago.state import AgentState
        >>> _agent_state_json(AgentState("rock", {"id": 3, "age": 2}, "m:Rock"))
        '{"id":3,"age":2}'
        >>> _agent_state_json(AgentState("rock", {"id": 3, "pet": object()}, "m:Rock"))
        Traceback (most recent call last):
        ...
        phago.errors.StoreError: agent 3 (m:Rock): its state field 'pet' (object) cannot be \
saved: an agent's state_dict() holds numbers, text, booleans, None, and lists and dicts of \
them (NumPy arrays and tuples are saved as lists)
    """
    from phago.state import to_jsonable

    try:
        return json.dumps(to_jsonable(agent.state), separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        bad = next((k for k, v in agent.state.items() if not _json_holds(v)), "(one of its fields)")
        value = agent.state.get(bad)
        raise StoreError(
            f"agent {agent.state.get('id', '?')} ({agent.class_path or agent.agent_type}): its "
            f"state field {bad!r} ({type(value).__name__}) cannot be saved: an agent's "
            "state_dict() holds numbers, text, booleans, None, and lists and dicts of them "
            "(NumPy arrays and tuples are saved as lists)"
        ) from exc


def _json_holds(value: object) -> bool:
    from phago.state import to_jsonable

    try:
        json.dumps(to_jsonable(value))
    except (TypeError, ValueError):
        return False
    return True


def _check_agents_restorable(state: ColonyState, path: Path) -> None:
    """Refuse, before anything is written, a state with an agent a load could not rebuild
    (a class of the user's that was never registered): the store would save, and fail only
    when loaded, perhaps in another program much later."""
    from phago.state import _resolve_agent_class

    for kind in {(a.agent_type, a.class_path) for a in state.agents}:
        try:
            _resolve_agent_class(*kind)
        except StoreError as exc:
            why = str(exc).replace("before loading", "before saving")
            raise StoreError(
                f"cannot save colony to {path}: {why} (a store with it could not be loaded)"
            ) from exc


def _file_version(con: sqlite3.Connection) -> str:
    """A token naming one saved version of a store file: a digest of its save time and of
    the checksums of its parts (which cover the rows too). Two saves with the same token hold
    the same data."""
    h = hashlib.sha256()
    for (saved_at,) in con.execute("SELECT saved_at FROM phago_schema"):
        h.update(f"{saved_at}\n".encode())
    for name, sha in con.execute("SELECT name, sha256 FROM blobs ORDER BY name"):
        h.update(f"{name}\0{sha}\n".encode())
    return h.hexdigest()


def save_state(
    state: ColonyState,
    path: PathLike,
    *,
    catalog: Catalog | None = None,
    kind: str = "colony",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``state`` to the store at ``path`` atomically (see the module docstring).

    Args:
        state: a captured colony state.
        path: the store file; its directory must exist.
        catalog: sources and history to store; None keeps those of the store already at
            ``path``. Either way sources of documents no longer present are dropped and a
            history point for the state's tick is added.
        kind: the store kind (``colony``, or ``shard`` inside a distributed store).
        extra: more named parts to store (NumPy arrays, or JSON-able values), read back by
            :func:`read_extra`.

    Returns:
        The path written.

    Raises:
        StoreError: the directory is missing or not writable, the disk is full, or ``path``
            holds something that is not a phago store (it is never overwritten).

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> from phago.state import capture
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.db"
        >>> save_state(capture(Colony()), p).name
        's.db'
    """
    _save_state(state, Path(path), catalog, kind, extra, None)
    return Path(path)


def _save_state(
    state: ColonyState,
    path: Path,
    catalog: Catalog | None,
    kind: str,
    extra: dict[str, Any] | None,
    expect: str | None,
    terms: SavedTermCounts | None = None,
    before: _WrittenRows | None = None,
    private: bool = False,
) -> tuple[Path, str, _WrittenRows]:
    """:func:`save_state`, refusing if ``expect`` (a version; None: no check) is not the
    version of the store found at ``path``, with the documents' term counts ``terms`` if
    given. With ``before``, the rows version ``expect`` holds, the file is changed in place
    where it can be (:func:`_write_in_place`; ``private``: the file is a copy no one reads
    yet). Returns the path, the version written and its rows."""
    if path.is_symlink():  # write where the link points; the link stays
        path = _real(path)
    if path.is_dir():
        raise StoreError(f"cannot save colony to {path}: it is a directory")
    if not path.parent.is_dir():
        raise StoreError(
            f"cannot save colony to {path}: the directory {path.parent} does not exist"
        )
    with _directory_lock(path.parent):
        return _save_state_locked(state, path, catalog, kind, extra, expect, terms, before, private)


def _read_old(
    path: Path, catalog: bool = True
) -> tuple[Catalog, str, os.stat_result, tuple[int, str]]:
    """The catalog (empty unless ``catalog``), version, status, and schema version and kind
    of the store file ``path`` about to be replaced.

    Raises:
        StoreError: ``path`` is not a readable phago store (it is never overwritten).
    """
    try:
        st = os.stat(path)
        con, schema, kind = _open(path)[:3]
        try:
            if catalog:
                found = _read_catalog_rows(con, path)
            else:  # checked in SQL only (a damaged store is never overwritten)
                _check_catalog_types(con, path)
                found = Catalog()
            return found, _file_version(con), st, (schema, kind)
        finally:
            con.close()
    except (StoreError, sqlite3.Error) as exc:  # (StoreError first: it is an OSError)
        problem = str(exc)
        cause: BaseException = exc
    except OSError as exc:
        problem, cause = _reason(exc), exc
    raise StoreError(
        f"refusing to overwrite {path}: it is not a readable phago store ({problem}); "
        "remove it or choose another path"
    ) from cause


def _save_state_locked(
    state: ColonyState,
    path: Path,
    catalog: Catalog | None,
    kind: str,
    extra: dict[str, Any] | None,
    expect: str | None,
    terms: SavedTermCounts | None = None,
    before: _WrittenRows | None = None,
    private: bool = False,
) -> tuple[Path, str, _WrittenRows]:
    _check_agents_restorable(state, path)
    old = Catalog()
    old_stat: os.stat_result | None = None
    in_place = False
    if path.exists():
        # (its catalog only where none is given: 0.17 s for 50,000 notes' sources)
        old, version, old_stat, (schema, file_kind) = _read_old(path, catalog=catalog is None)
        _refuse_read_only(path, stat.S_IMODE(old_stat.st_mode))
        if expect is not None and version != expect:
            raise _changed(path)
        in_place = (
            before is not None
            and _writable_in_place(old_stat, schema, file_kind, kind)
            and before.counter is not None
            and _change_counter(path) == before.counter  # (not changed behind phago's back)
        )
    src = old if catalog is None else catalog
    catalog = src.copy()
    s = state.substrate
    catalog.keep_documents(int(d) for d in s.doc_ids.tolist())
    catalog.add_point(
        HistoryPoint(
            s.tick,
            state.graph.node_count,
            state.graph.edge_count,
            s.document_count,
            int(np.count_nonzero(s.doc_digested)),
        )
    )
    rows: _FileRows | None = None
    if in_place and before is not None and expect is not None:
        rows = _file_rows(state, catalog)
        kept = _kept_rows(rows, catalog, before)
        if _worth_in_place(kept, rows, before):
            try:
                written = _write_in_place(
                    path,
                    state,
                    catalog,
                    kind,
                    extra or {},
                    terms,
                    before,
                    expect,
                    rows,
                    kept,
                    private,
                )
            except StoreError:
                raise
            except (sqlite3.Error, OSError) as exc:
                raise StoreError(f"cannot save colony to {path}: {_reason(exc)}") from exc
            return path, written, _WrittenRows.of_rows(rows, catalog, _change_counter(path))
    tmps = _tmp_paths(path)
    tmp = tmps[0]
    _remove_quietly(tmps)
    try:
        con = _connect_write(tmp)
        try:
            written, rows = _write(con, state, catalog, kind, extra or {}, terms, rows)
        finally:
            con.close()
        counter = _change_counter(tmp)
        _put_in_place(tmp, path, old_stat)
    except BaseException as exc:
        _remove_quietly(tmps)
        if isinstance(exc, StoreError):
            raise
        if isinstance(exc, sqlite3.Error | OSError):
            raise StoreError(f"cannot save colony to {path}: {_reason(exc)}") from exc
        raise
    return path, written, _WrittenRows.of_rows(rows, catalog, counter)


def _put_in_place(tmp: Path, path: Path, old: os.stat_result | None) -> None:
    """Replace the store file ``path`` with the finished file ``tmp``: given the owner and
    mode of the file it replaces (``old``, its status; None: there was none), fsynced,
    renamed over it, and the folder fsynced."""
    if old is not None:
        _keep_owner_and_mode(tmp, old)
    _fsync_path(tmp)
    os.replace(tmp, path)
    _fsync_path(path.parent, directory=True)


def _keep_owner_and_mode(tmp: Path, old: os.stat_result) -> None:
    """Give the new store file ``tmp`` the permission bits (and, where allowed, the owner
    and group) of the store file it replaces."""
    new = os.stat(tmp)
    if (old.st_uid, old.st_gid) != (new.st_uid, new.st_gid):
        with contextlib.suppress(OSError):  # only root may give a file away
            os.chown(tmp, old.st_uid, old.st_gid)
    os.chmod(tmp, stat.S_IMODE(old.st_mode))


def save(colony: Colony, path: PathLike, *, catalog: Catalog | None = None) -> Path:
    """Save ``colony`` to the SQLite store at ``path`` (atomic; see :func:`save_state`).

    A colony loaded from this store (:func:`load`) is saved only if the store is still the
    version it was loaded from (or last saved by it): a store another process or colony
    saved in between is not overwritten. A colony not loaded from ``path`` replaces
    whatever store is there. See "Concurrent writers" in the module docstring.

    Args:
        colony: a colony between ticks.
        path: the store file (a symbolic link is followed and kept).
        catalog: sources and history (None: keep those already stored at ``path``).

    Returns:
        The path written.

    Raises:
        StoreError: the store cannot be written, is read-only (its permission bits), or
            changed since ``colony`` was loaded from it.
        PhaseOrderError: the colony is in the middle of a tick.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.db"
        >>> save(Colony(seed=4), p).exists()
        True
    """
    from phago.query.index import term_counts_to_save
    from phago.state import capture

    p = store_path(path)
    state = capture(colony)
    terms = term_counts_to_save(colony)  # (counted only for documents not counted before)
    origin = _origin(colony, p)
    before = _origin_rows(colony, p)
    _, version, rows = _save_state(
        state,
        p,
        catalog,
        "colony",
        None,
        origin,
        terms,
        before if isinstance(before, _WrittenRows) else None,
    )
    colony.saved_term_counts = terms
    if origin is not None:
        _remember(colony, p, version, rows)
    return p


# ---------------------------------------------------------------------------- reading


def store_path(path: object) -> Path:
    """``path`` as a :class:`~pathlib.Path`, or a :class:`StoreError` where it is none (None,
    a number, a colony given in the path's place).

    Example:
        >>> store_path("notes.db").name
        'notes.db'
        >>> store_path(None)
        Traceback (most recent call last):
        ...
        phago.errors.StoreError: a store's path is text or a path, got NoneType
    """
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise StoreError(f"a store's path is text or a path, got {type(path).__name__}")
    return Path(path)


def _damaged(path: Path, exc: BaseException | str) -> StoreError:
    err = StoreError(f"cannot load {path}: the store is damaged or not a phago store ({exc})")
    err.damaged = True
    return err


def _open(path: Path) -> tuple[sqlite3.Connection, int, str, str, str]:
    if not path.exists():
        raise StoreError(f"cannot load {path}: no such file")
    if path.is_dir():
        if is_distributed_store(path):
            raise StoreError(
                f"cannot load {path} as one colony: it is a distributed store (load it with "
                "load_distributed or DistributedColony.load)"
            )
        raise StoreError(
            f"cannot load {path}: it is a folder, and not a distributed store either (no "
            f"{_CURRENT} file in it)"
        )
    try:
        con = _connect_read(path)
    except UnicodeDecodeError as exc:  # (SQLite's own tables' text damaged)
        raise _damaged(path, exc) from exc
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorname", None) in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            raise _damaged(path, exc) from exc
        raise StoreError(f"cannot load {path}: {_reason(exc)}") from exc
    try:
        rows = con.execute(
            "SELECT version, kind, phago_version, saved_at FROM phago_schema"
        ).fetchall()
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        con.close()
        if "no such table" in str(exc):
            raise StoreError(f"cannot load {path}: not a phago store (no schema table)") from exc
        raise _damaged(path, exc) from exc
    if len(rows) != 1:
        con.close()
        raise _damaged(path, "the schema table must have exactly one row")
    version, kind, phago_version, saved_at = rows[0]
    if not isinstance(version, int) or version < 1:
        con.close()
        raise StoreError(f"cannot load {path}: unknown store schema version {version!r}")
    if version > SCHEMA_VERSION:
        con.close()
        raise StoreError(
            f"cannot load {path}: it was written by a newer phago ({phago_version}, schema "
            f"version {version}); this phago reads schema versions 1 to {SCHEMA_VERSION}. "
            "Upgrade phago to read it."
        )
    return con, version, str(kind), str(phago_version), str(saved_at)


def _blob(con: sqlite3.Connection, path: Path, name: str) -> tuple[str, bytes]:
    row = con.execute("SELECT encoding, data, sha256 FROM blobs WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise _damaged(path, f"missing part {name!r}")
    enc, data, sha = row
    if not isinstance(data, bytes | bytearray | memoryview):  # (text or a number there)
        raise _damaged(path, f"part {name!r} is not bytes")
    data = bytes(data)
    if _sha(data) != sha:
        raise _damaged(path, f"checksum mismatch in {name!r}")
    return str(enc), data


def _json_blob(con: sqlite3.Connection, path: Path, name: str) -> Any:
    _, data = _blob(con, path, name)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _damaged(path, f"invalid JSON in {name!r}") from exc


_PROV_TICK_RUNS = "graph.prov_tick_runs"
"""The blob of the provenance ticks (absent from stores saved before they were kept)."""


def _timeline_rows(con: sqlite3.Connection, path: Path) -> np.ndarray | None:
    """The colony's timeline rows (:data:`_TIMELINE`); None if not stored."""
    if con.execute("SELECT 1 FROM blobs WHERE name = ?", (_TIMELINE,)).fetchone() is None:
        return None
    rows = _array_blob(con, path, _TIMELINE)
    if not _timeline_shaped(rows):
        raise _damaged(path, f"invalid array in {_TIMELINE!r}")
    return rows


def _timeline_shaped(rows: object) -> bool:
    """Whether ``rows`` are timeline rows (:data:`phago.timeline.TIMELINE_FIELDS` floats each)."""
    from phago.timeline import TIMELINE_FIELDS

    return (
        isinstance(rows, np.ndarray)
        and rows.ndim == 2
        and rows.shape[1] == len(TIMELINE_FIELDS)
        and rows.dtype == np.float64
    )


def _prov_ticks(con: sqlite3.Connection, path: Path, rows: int) -> np.ndarray | None:
    """The provenance ticks stored as runs, one per provenance row; None if not stored."""
    if con.execute("SELECT 1 FROM blobs WHERE name = ?", (_PROV_TICK_RUNS,)).fetchone() is None:
        return None
    runs = _array_blob(con, path, _PROV_TICK_RUNS)
    starts = runs[:, 0] if runs.ndim == 2 and runs.shape[1] == 2 else None
    if starts is None or (
        len(starts)
        and (starts[0] < 0 or starts[-1] >= rows or bool((starts[1:] <= starts[:-1]).any()))
    ):
        raise _damaged(path, f"invalid array in {_PROV_TICK_RUNS!r}")
    out = np.full(rows, -1, dtype=np.int64)
    stops = np.append(starts[1:], rows) if len(starts) else starts
    for start, stop, tick in zip(starts.tolist(), stops.tolist(), runs[:, 1].tolist(), strict=True):
        out[start:stop] = tick
    return out


def _array_blob(con: sqlite3.Connection, path: Path, name: str) -> np.ndarray:
    _, data = _blob(con, path, name)
    try:
        arr: np.ndarray = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _damaged(path, f"invalid array in {name!r}") from exc
    if arr.dtype == np.int32:
        arr = arr.astype(np.int64)
    return arr


def _row_error(table: str, row: tuple[Any, ...], types: tuple[type, ...]) -> str | None:
    """What is wrong with a row of ``table`` whose columns should have ``types`` (None: it is
    fine). SQLite keeps whatever was written to a column, so a damaged row can hold text
    where a number belongs."""
    for name, value, want in zip(_COLUMNS[table], row, types, strict=True):
        if type(value) is not want:  # (SQLite returns exact types: no bools, no subclasses)
            return (
                f"row {row[0]!r} of table {table!r} is damaged: column {name!r} holds "
                f"{value!r}, not {'an integer' if want is int else 'text'}"
            )
    return None


_COLUMNS = {
    "sources": ("seq", "path", "content_hash", "doc_id", "part", "parts"),
    "history": ("seq", "tick", "nodes", "edges", "documents", "digested"),
}
_SOURCE_TYPES = (int, str, str, int, int, int)
_HISTORY_TYPES = (int, int, int, int, int, int)

_Columns = list[Sequence[Any]]
"""A table as read: one sequence of values per column."""


def _read_columns(con: sqlite3.Connection, table: str, columns: str) -> _Columns:
    """Every row of ``table`` (``columns``, comma-separated), in ``seq`` order, as columns."""
    rows = con.execute(f"SELECT {columns} FROM {table} ORDER BY seq").fetchall()
    return columns_of(rows, columns.count(",") + 1)


def _check_types(path: Path, table: str, cols: _Columns, types: tuple[type, ...]) -> None:
    """Refuse a row of ``table`` holding a value of another type than its column's.

    Raises:
        StoreError: naming the first such row.
    """
    if all(set(map(type, col)) <= {want} for col, want in zip(cols, types, strict=True)):
        return
    for row in zip(*cols, strict=True):
        problem = _row_error(table, row, types)
        if problem is not None:
            raise _damaged(path, problem)


def _check_catalog_types(con: sqlite3.Connection, path: Path) -> None:
    """Refuse a store whose ``sources`` or ``history`` table is missing or holds a value of
    another type than its column's, as reading its catalog would, without reading it.

    Raises:
        StoreError: the first such table.
        sqlite3.Error: a table cannot be read.
    """
    for table, types in (("sources", _SOURCE_TYPES), ("history", _HISTORY_TYPES)):
        wrong = " OR ".join(
            f"typeof({name}) != '{'integer' if want is int else 'text'}'"
            for name, want in zip(_COLUMNS[table], types, strict=True)
        )
        (bad,) = con.execute(f"SELECT count(*) FROM {table} WHERE {wrong}").fetchone()
        if bad:
            raise _damaged(path, f"table {table!r} holds {bad} damaged row(s)")


_DOCUMENT_INFO = "document_info"
"""The blob of the documents' :class:`DocumentInfo`, absent where the catalog has none (and
from stores saved before the forty-first session, whose phago ignores it); its form is
:func:`_info_json`'s."""


def _info_json(catalog: Catalog) -> dict[str, Any] | None:
    """The catalog's document information as :data:`_DOCUMENT_INFO` holds it (None: none),
    in columns a store of 50,000 notes writes and reads in a few hundredths of a second:
    ``ids``, each document's id as 16 hexadecimal digits, one after another; ``added``, its
    time ("" where there is none); ``tags``, all its tags (what readers take), and
    ``given``, the tags given to it (a catalog's :attr:`Catalog.info`), each by the
    document's place in ``ids``, only for documents that have any; ``given_added``, "1" for
    each document a catalog's :attr:`Catalog.info` holds; and ``files``, the files'
    front-matter tags (``given``, ``given_added`` and ``files`` are what a writer takes); and
    ``texts``, each text stored without a file (:attr:`Catalog.texts`: its hash to its
    documents' ids, 16 hexadecimal digits each, one after another)."""
    if not catalog.info and not catalog.file_tags and not catalog.texts:
        return None
    merged = catalog.document_info()
    ids = sorted(merged)
    return {
        "form": 2,
        "ids": np.asarray(ids, dtype=">u8").tobytes().hex(),
        "added": [merged[d].added for d in ids],
        "tags": {str(i): list(merged[d].tags) for i, d in enumerate(ids) if merged[d].tags},
        "given": {
            str(i): list(catalog.info[d].tags)
            for i, d in enumerate(ids)
            if d in catalog.info and catalog.info[d].tags
        },
        "given_added": "".join("1" if d in catalog.info else "0" for d in ids),
        "files": {p: list(t) for p, t in sorted(catalog.file_tags.items())},
        **(
            {
                "texts": {
                    h: np.asarray(ids, dtype=">u8").tobytes().hex()
                    for h, ids in sorted(catalog.texts.items())
                }
            }
            if catalog.texts
            else {}
        ),
    }


def _tag_lists(value: object, n: int, what: str) -> dict[int, tuple[str, ...]]:
    """A sparse column of tag lists (document place -> tags) from :func:`_info_json`.

    Raises:
        ValueError: not of that form.
    """
    if not isinstance(value, dict):
        raise ValueError(f"the {what} are not an object")
    out = {}
    for k, names in value.items():
        if not (isinstance(k, str) and k.isdigit() and int(k) < n):
            raise ValueError(f"the {what} name a document that is not there: {k!r}")
        if not (isinstance(names, list) and all(isinstance(t, str) and t for t in names)):
            raise ValueError(f"the {what} hold a tag that is not text")
        out[int(k)] = tuple(names)
    return out


def _info_from_json(
    data: object, *, given: bool = False
) -> tuple[dict[int, DocumentInfo], dict[str, tuple[str, ...]], dict[str, tuple[int, ...]]]:
    """Document information from :func:`_info_json`'s form: each document's time and all
    its tags (with ``given``, the documents given tags or a time by a catalog, with those:
    its :attr:`Catalog.info`), the files' front-matter tags, and the texts stored without a
    file (:attr:`Catalog.texts`; none in a store of a phago before them).

    Raises:
        ValueError: ``data`` is not of that form.
    """
    if not isinstance(data, dict) or data.get("form") != 2:
        raise ValueError("not an object of the form this phago writes")
    hexes, stamps, files = data.get("ids"), data.get("added"), data.get("files", {})
    marks = data.get("given_added", "")
    if not (isinstance(hexes, str) and isinstance(stamps, list) and isinstance(marks, str)):
        raise ValueError("no columns of ids and times")
    n, rest = divmod(len(hexes), 16)
    if rest or len(stamps) != n or len(marks) != n:
        raise ValueError("columns of ids, times and marks that do not fit together")
    if not all(isinstance(t, str) for t in stamps):
        raise ValueError("a time that is not text")
    try:
        ids = np.frombuffer(bytes.fromhex(hexes), dtype=">u8").tolist()
    except ValueError as exc:
        raise ValueError("ids that are not hexadecimal") from exc
    tags = _tag_lists(data.get("given" if given else "tags", {}), n, "tags")
    if not isinstance(files, dict):
        raise ValueError("the files' tags are not an object")
    column = [tags.get(i, ()) for i in range(n)] if tags else [()] * n
    out = dict(zip(ids, map(DocumentInfo, stamps, column), strict=True))
    if given and "0" in marks:  # (documents with only their files' tags)
        for i in (i for i, m in enumerate(marks) if m != "1"):
            del out[ids[i]]
    file_tags = {}
    for p, names in files.items():
        if not (isinstance(names, list) and all(isinstance(t, str) and t for t in names)):
            raise ValueError("a file's tags that are not a list of text")
        file_tags[str(p)] = tuple(names)
    return out, file_tags, _texts_from_json(data.get("texts", {}))


def _texts_from_json(value: object) -> dict[str, tuple[int, ...]]:
    """:attr:`Catalog.texts` from :func:`_info_json`'s ``texts``.

    Raises:
        ValueError: not of that form.
    """
    if not isinstance(value, dict):
        raise ValueError("the texts are not an object")
    texts: dict[str, tuple[int, ...]] = {}
    for h, hexes in value.items():
        if not (isinstance(h, str) and isinstance(hexes, str) and hexes and len(hexes) % 16 == 0):
            raise ValueError("a text's documents that are not ids")
        try:
            texts[h] = tuple(np.frombuffer(bytes.fromhex(hexes), dtype=">u8").tolist())
        except ValueError as exc:
            raise ValueError("a text's ids that are not hexadecimal") from exc
    return texts


def _read_catalog_rows(
    con: sqlite3.Connection,
    path: Path,
    tables: dict[str, _Columns] | None = None,
    *,
    info: bool = True,
) -> Catalog:
    """The ``sources`` and ``history`` rows (put into ``tables`` by name too, as columns,
    when given, for the rows' checksum), and with ``info`` the documents' information.

    Raises:
        StoreError: a row holds a value of the wrong type.
        sqlite3.Error: the tables cannot be read.
    """
    src = _read_columns(con, "sources", "seq, path, content_hash, doc_id, part, parts")
    _check_types(path, "sources", src, _SOURCE_TYPES)
    hist = _read_columns(con, "history", "seq, tick, nodes, edges, documents, digested")
    _check_types(path, "history", hist, _HISTORY_TYPES)
    ids = [v + (1 << 64) if v < 0 else v for v in src[3]]  # (without NumPy: ``phago stats``)
    cat = Catalog(
        list(map(SourceRecord, src[1], src[2], ids, src[4], src[5])),
        list(map(HistoryPoint, *hist[1:])),
    )
    if info:
        _read_information(con, path, cat)
    if tables is not None:
        tables["sources"], tables["history"] = src, hist
    return cat


def _read_checked_tables(
    con: sqlite3.Connection, path: Path, *, info: bool
) -> tuple[dict[str, _Columns], Catalog]:
    """The documents and agents tables' columns and the catalog (with ``info``, the
    documents' information too), the rows checked against the store's checksum of them.

    Raises:
        StoreError: a row of the wrong type, or the checksum does not match.
        sqlite3.Error: the tables cannot be read.
    """
    tables = {
        "documents": _read_columns(con, "documents", "seq, doc_id, title, content, x, y, digested"),
        "agents": _read_columns(con, "agents", "seq, agent_type, class_path, state"),
    }
    catalog = _read_catalog_rows(con, path, tables, info=info)
    _check_rows(con, path, tables)
    return tables, catalog


def _read_information(con: sqlite3.Connection, path: Path, cat: Catalog) -> None:
    """Read the documents' information part (:data:`_DOCUMENT_INFO`), if any, into ``cat``.

    Raises:
        StoreError: the part is damaged.
    """
    if con.execute("SELECT 1 FROM blobs WHERE name = ?", (_DOCUMENT_INFO,)).fetchone():
        try:
            cat.info, cat.file_tags, cat.texts = _info_from_json(
                _json_blob(con, path, _DOCUMENT_INFO), given=True
            )
        except StoreError:
            raise
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            raise _damaged(path, f"invalid {_DOCUMENT_INFO!r}: {exc}") from exc


def _check_rows(con: sqlite3.Connection, path: Path, tables: dict[str, _Columns]) -> None:
    """Check ``tables`` (documents, agents, sources and history, as read) against the
    store's checksum of their rows, in the form the store holds.

    Raises:
        StoreError: the checksum is missing or does not match.
    """
    sums = _json_blob(con, path, "rows")
    names = ("documents", "agents", "sources", "history")
    if _ROWS_DIGEST in sums:
        expected = sums[_ROWS_DIGEST]
        by_column = ColumnDigest()
        for name in names:
            by_column.table(name, tables[name], len(tables[name][0]))
        got = by_column.hexdigest()
    else:  # schema version 1: row by row
        expected = sums.get("rows_digest")
        by_row = RowDigest()
        for name in names:
            for row in zip(*tables[name], strict=True):
                by_row.add(*row)
        got = by_row.hexdigest()
    if expected != got:
        raise _damaged(path, "checksum mismatch in documents, agents, sources or history")


def _read_state(
    con: sqlite3.Connection, path: Path, *, info: bool = True
) -> tuple[ColonyState, Catalog]:
    from phago.state import (
        GRAPH_ARRAYS,
        SIGNAL_COLUMNS,
        AgentState,
        from_jsonable,
        state_from_scalars,
    )

    tables, catalog = _read_checked_tables(con, path, info=info)
    agent_cols, doc_cols = tables["agents"], tables["documents"]
    agents = [
        AgentState(kind, json.loads(text), where)
        for kind, where, text in zip(agent_cols[1], agent_cols[2], agent_cols[3], strict=True)
    ]
    del tables, agent_cols
    scalars = _json_blob(con, path, "colony")
    graph = {name: _array_blob(con, path, f"graph.{name}") for name in GRAPH_ARRAYS}
    labels = _json_blob(con, path, "graph.labels")
    signals = {name: _array_blob(con, path, f"signals.{name}") for name in SIGNAL_COLUMNS}
    traces = {name: _array_blob(con, path, f"traces.{name}") for name in SIGNAL_COLUMNS}
    payloads = from_jsonable(_json_blob(con, path, "traces.payloads"))
    docs = (
        np.array(doc_cols[1], dtype=np.int64).view(np.uint64),
        list(doc_cols[2]),
        list(doc_cols[3]),
        np.column_stack(
            [np.array(doc_cols[4], dtype=np.float64), np.array(doc_cols[5], dtype=np.float64)]
        ).reshape(-1, 2),
        np.array(doc_cols[6], dtype=np.bool_),
    )
    state = state_from_scalars(scalars, graph, labels, docs, signals, traces, payloads, agents)
    state.graph.prov_tick = _prov_ticks(con, path, len(state.graph.prov_node))
    try:  # (a damaged timeline, a record of the run alone, leaves the colony loadable)
        state.timeline = _timeline_rows(con, path)
    except StoreError:
        state.timeline = None
    return state, catalog


def load_state(path: PathLike) -> ColonyState:
    """Read the colony state stored at ``path``, verifying schema and checksums.

    Raises:
        StoreError: no such file, not a phago store, a newer or unknown schema, or damaged.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.db"
        >>> _ = save(Colony(seed=5), p)
        >>> load_state(p).seed
        5
    """
    return _load(Path(path))[0]


def read_state(path: PathLike) -> tuple[ColonyState, Catalog]:
    """The colony state and the catalog stored at ``path`` (no colony is rebuilt).

    Raises:
        StoreError: as :func:`load_state`.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.db"
        >>> _ = save(Colony(seed=8), p)
        >>> state, catalog = read_state(p)
        >>> state.seed, len(catalog.sources)
        (8, 0)
    """
    state, catalog, _ = _load(Path(path))
    return state, catalog


def _load(path: Path, shard: bool = False) -> tuple[ColonyState, Catalog, str]:
    """The state, catalog and version (see :func:`_file_version`) stored at ``path``
    (``shard``: a distributed store's shard file, which is refused otherwise)."""
    state, catalog, version, _ = _load_with_terms(path, shard, terms=False)
    return state, catalog, version


def _load_with_terms(
    path: Path, shard: bool = False, *, terms: bool = True, info: bool = True
) -> tuple[ColonyState, Catalog, str, SavedTermCounts | None]:
    """:func:`_load`, and the documents' term counts kept there (``terms``; see
    :func:`_read_terms`), read through the same connection; without ``info`` the catalog
    lacks the documents' information (when added, tags)."""
    con, _, kind, _, _ = _open(path)
    try:
        if kind == "shard" and not shard:  # one shard's part of a sharded colony
            raise StoreError(
                f"cannot load {path}: it is one shard of a distributed store; load the "
                "store's folder (DistributedColony.load, or --db FOLDER)"
            )
        state, catalog = _read_state(con, path, info=info)
        saved = _read_terms(con, path) if terms else None
        return state, catalog, _file_version(con), saved
    except StoreError:
        raise
    except (sqlite3.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise _damaged(path, exc) from exc
    finally:
        con.close()


def load(path: PathLike) -> Colony:
    """Load the colony saved at ``path``; running it continues the saved run exactly.

    The colony remembers the version of the store it came from: :func:`save` back to
    ``path`` refuses to overwrite a version someone else saved since.

    Raises:
        StoreError: the store cannot be read (see :func:`load_state`) or its state is
            inconsistent (an unknown agent type, non-finite positions, ...).

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony, Position
        >>> c = Colony(seed=6)
        >>> _ = c.ingest_document("t", "alpha beta", Position(0, 0))
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.db"
        >>> _ = save(c, p)
        >>> load(p).stats().documents_total
        1
    """
    return _load_colony(store_path(path), info=False)[0]  # (no catalog: no tags read)


def load_with_catalog(path: PathLike) -> tuple[Colony, Catalog]:
    """Load the colony and the store's catalog (sources and history).

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.db"
        >>> _ = save(Colony(), p)
        >>> _, cat = load_with_catalog(p)
        >>> [h.tick for h in cat.history]
        [0]
    """
    return _load_colony(store_path(path), info=True)


def _load_colony(p: Path, *, info: bool) -> tuple[Colony, Catalog]:
    """:func:`load_with_catalog`; without ``info`` the catalog lacks the documents'
    information (0.1 s of reading at 50,000 notes)."""
    from phago.state import restore

    state, catalog, version, terms, counter = _load_counted(p, info=info)
    rows = _WrittenRows.of(state, catalog, counter)  # (before the colony changes the state)
    try:
        colony = restore(state)
    except StoreError as exc:
        raise StoreError(f"cannot load {p}: {exc}") from exc
    except PhagoError as exc:
        raise StoreError(f"cannot load {p}: inconsistent state ({exc})") from exc
    _remember(colony, p, version, rows)
    colony.saved_term_counts = terms
    return colony, catalog


_TERMS = "terms."
"""Blob names of the documents' term counts kept with a colony (:mod:`phago.query.term_counts`:
its document index starts from them instead of tokenising every document again)."""

_TERM_ARRAYS = {"doc_ids": "uint64", "ptr": "int64", "cols": "int32", "cnts": "int32"}
"""The array parts of the term counts and their dtypes (names: NumPy is imported lazily)."""


def _term_blobs(terms: SavedTermCounts | None) -> Iterator[tuple[str, str, bytes]]:
    """The blobs of ``terms`` (none for None)."""
    if terms is None:
        return
    from phago.text import TOKENIZER_VERSION

    meta = {"tokenizer": TOKENIZER_VERSION, "terms": terms.terms}
    yield f"{_TERMS}meta", "json", _json_bytes(meta)
    for name in _TERM_ARRAYS:
        yield f"{_TERMS}{name}", "npy", _npy(np.asarray(getattr(terms, name)))
    yield f"{_TERMS}lens", "npy", _npy(np.asarray(terms.lens, dtype=np.int64))


def _read_terms(con: sqlite3.Connection, path: Path) -> SavedTermCounts | None:
    """The term counts kept in the store open as ``con``, if this tokeniser made them and
    they are whole (None otherwise: the documents are then tokenised again on the first
    query)."""
    from phago.query.term_counts import SavedTermCounts
    from phago.text import TOKENIZER_VERSION

    try:
        if con.execute("SELECT 1 FROM blobs WHERE name = ?", (f"{_TERMS}meta",)).fetchone() is None:
            return None
        meta = _json_blob(con, path, f"{_TERMS}meta")
        if meta.get("tokenizer") != TOKENIZER_VERSION:
            return None
        arrays = {
            name: np.asarray(_array_blob(con, path, f"{_TERMS}{name}"), dtype=dtype)
            for name, dtype in {**_TERM_ARRAYS, "lens": "int64"}.items()
        }
        saved = SavedTermCounts(terms=[str(t) for t in meta["terms"]], **arrays)
        return saved if saved.is_valid() else None
    except (StoreError, sqlite3.Error, ValueError, TypeError, KeyError, AttributeError):
        return None  # (damaged: the counts are made again; the colony itself was checked)


def read_extra(path: PathLike) -> dict[str, Any]:
    """The extra parts saved with :func:`save_state` (``extra=``), checksums verified.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> from phago.state import capture
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.db"
        >>> _ = save_state(capture(Colony()), p, extra={"note": {"a": 1}})
        >>> read_extra(p)
        {'note': {'a': 1}}
    """
    p = Path(path)
    con = _open(p)[0]
    try:
        names = [r[0] for r in con.execute("SELECT name FROM blobs WHERE name LIKE 'extra.%'")]
        out: dict[str, Any] = {}
        for name in names:
            enc, _ = _blob(con, p, name)
            out[name[len("extra.") :]] = (
                _array_blob(con, p, name) if enc == "npy" else _json_blob(con, p, name)
            )
        return out
    except sqlite3.Error as exc:
        raise _damaged(p, exc) from exc
    finally:
        con.close()


def read_catalog(path: PathLike) -> Catalog:
    """The sources and history stored at ``path`` (the colony is not read).

    Raises:
        StoreError: as :func:`load_state`.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.db"
        >>> _ = save(Colony(), p, catalog=Catalog([SourceRecord("/a.txt", "h", 1)]))
        >>> read_catalog(p).sources
        []
    """
    p = Path(path)
    con, _, _, _, _ = _open(p)
    try:
        return _read_catalog_rows(con, p)
    except sqlite3.Error as exc:
        raise _damaged(p, exc) from exc
    finally:
        con.close()


def read_document_info(path: PathLike) -> dict[int, DocumentInfo]:
    """Each document's :class:`DocumentInfo` (when added, tags) in the store at ``path``, a
    file or a distributed folder (documents without any are left out), read without the
    rest of the catalog.

    Raises:
        StoreError: as :func:`load_state`, or the information is damaged.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> c = Colony(); d = c.ingest_document("t", "cell wall")
        >>> cat = Catalog(); cat.note_added([d], ["lab"], when="2026-12-06T10:00:00Z")
        >>> p = save(c, pathlib.Path(tempfile.mkdtemp()) / "c.db", catalog=cat)
        >>> read_document_info(p)[d].tags
        ('lab',)
    """
    p = Path(path)
    if is_distributed_store(p):
        return read_distributed_catalog(p).document_info()
    con, _, _, _, _ = _open(p)
    try:
        if not con.execute("SELECT 1 FROM blobs WHERE name = ?", (_DOCUMENT_INFO,)).fetchone():
            return {}
        try:
            return _info_from_json(_json_blob(con, p, _DOCUMENT_INFO))[0]
        except ValueError as exc:
            raise _damaged(p, f"invalid {_DOCUMENT_INFO!r}: {exc}") from exc
    except sqlite3.Error as exc:
        raise _damaged(p, exc) from exc
    finally:
        con.close()


@dataclass(frozen=True)
class StoredDocuments:
    """The documents a store holds, as columns in the order they were added (shard by
    shard in a distributed store), and its catalog: what :func:`read_documents` reads."""

    ids: list[int]
    titles: list[str]
    contents: list[str]
    digested: list[bool]
    catalog: Catalog
    damaged: str | None = None
    """Why the documents' information (tags, times added, texts' hashes) was left out of
    :attr:`catalog`, where ``strict=False`` let :func:`read_documents` read a store whose
    part of it is damaged; None: it was read (or the store has none)."""


def read_documents(path: PathLike, *, strict: bool = True) -> StoredDocuments:
    """The documents of the store at ``path`` (a file, or a distributed store's folder)
    and its catalog, read from their tables alone, not the colony's other parts (its graph,
    agents' states, signals): checked against the store's checksums as loading it checks
    them, in about half the time loading takes (50,000 notes: 0.4 s against 0.9 s).

    With ``strict=False`` a store file whose documents' information alone is damaged (the
    part holding tags, times added and texts' hashes: what neither the colony nor the
    documents need) is read without it, and :attr:`StoredDocuments.damaged` says why, so
    that the documents can still be listed and read.

    Raises:
        StoreError: the store cannot be read, or is damaged.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony, Position
        >>> c = Colony()
        >>> d = c.ingest_document("t", "alpha beta", Position(0, 0))
        >>> p = save(c, pathlib.Path(tempfile.mkdtemp()) / "c.db")
        >>> docs = read_documents(p)
        >>> docs.ids == [d], docs.titles, docs.digested
        (True, ['t'], [False])
    """
    p = store_path(path)
    damaged = None
    if is_distributed_store(p):  # (its catalog is in the manifest, checked whole)
        manifest = read_manifest(p)
        parts = [_read_document_rows(f, shard=True)[0] for f in _shard_files(p, manifest)]
        catalog = _catalog_from_json(manifest.get("catalog", {}))
    else:
        cols, catalog, damaged = _read_document_rows(p, shard=False, strict=strict)
        parts = [cols]
    return StoredDocuments(
        [_unsigned(v) for part in parts for v in part[1]],
        [t for part in parts for t in part[2]],
        [c for part in parts for c in part[3]],
        [bool(x) for part in parts for x in part[6]],
        catalog,
        damaged,
    )


def _read_document_rows(
    path: Path, *, shard: bool, strict: bool = True
) -> tuple[_Columns, Catalog, str | None]:
    """The documents table's columns (as :func:`_read_state` reads them) and the catalog
    of the store file ``path``, the rows checked against the file's checksum of them; and
    why the documents' information was left out (``strict=False``; see
    :func:`read_documents`)."""
    con, _, kind, _, _ = _open(path)
    try:
        if kind == "shard" and not shard:
            raise StoreError(
                f"cannot read {path}: it is one shard of a distributed store; read the store's "
                "folder"
            )
        tables, catalog = _read_checked_tables(con, path, info=False)
        damaged = None
        if not shard:
            try:
                _read_information(con, path, catalog)
            except StoreError as exc:
                if strict:
                    raise
                damaged = str(exc)
        cols = tables["documents"]
        if any(type(v) is not int for v in cols[1]):
            raise _damaged(path, "a document id in table 'documents' is not a whole number")
        return cols, catalog, damaged
    except StoreError:
        raise
    except (sqlite3.Error, ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise _damaged(path, exc) from exc
    finally:
        con.close()


def read_document_ids(path: PathLike) -> list[int]:
    """The ids of the documents in the colony store file ``path``, in order, read from its
    ``documents`` table alone: quick, and not checked against the store's checksums (loading
    the store checks them), so a damaged store can give wrong ids.

    Raises:
        StoreError: as :func:`load_state`, or an id that is not a whole number.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony, Position
        >>> c = Colony()
        >>> d = c.ingest_document("t", "alpha beta", Position(0, 0))
        >>> p = save(c, pathlib.Path(tempfile.mkdtemp()) / "c.db")
        >>> read_document_ids(p) == [d]
        True
    """
    p = Path(path)
    con = _open(p)[0]
    try:
        ids = [row[0] for row in con.execute("SELECT doc_id FROM documents ORDER BY seq")]
    except sqlite3.Error as exc:
        raise _damaged(p, exc) from exc
    finally:
        con.close()
    if any(type(v) is not int for v in ids):
        raise _damaged(p, "a document id in table 'documents' is not a whole number")
    return [_unsigned(v) for v in ids]


def read_summary(path: PathLike) -> StoreSummary:
    """Counts, top concepts and history of the store at ``path`` without restoring it.

    ``path`` may be a colony store file or a distributed store folder. A store file whose
    summary part alone is damaged is summarised from its colony (read, not restored), as a
    save would summarise it.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.db"
        >>> _ = save(Colony(), p)
        >>> read_summary(p).stats["graph_nodes"]
        0
    """
    p = store_path(path)
    stats: dict[str, int] | None
    if is_distributed_store(p):
        m = read_manifest(p)
        try:
            n = int(m["num_shards"])
            gen = Path(m["_generation"])
            for i in range(n):
                _check_shard_file(p, gen, i, n, _shard_version(m, i))
            catalog = _catalog_from_json(m.get("catalog", {}))
            kind, version = f"distributed ({n} shards)", int(m["schema_version"])
            phago_version, saved_at = str(m["phago_version"]), str(m["saved_at"])
            stats = {k: int(v) for k, v in m["summary"]["stats"].items()}
            top = list(m["summary"]["top_concepts"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _damaged(p, f"invalid manifest ({exc!r})") from exc
    else:
        con, version, kind, phago_version, saved_at = _open(p)
        try:
            catalog = _read_catalog_rows(con, p, info=False)  # (0.1 s for 50,000 notes)
            try:
                summary = _json_blob(con, p, "summary")
                stats = {k: int(v) for k, v in summary["stats"].items()}
                top = list(summary["top_concepts"])
            except (StoreError, KeyError, TypeError, ValueError, AttributeError):
                stats, top = None, []
        except sqlite3.Error as exc:
            raise _damaged(p, exc) from exc
        finally:
            con.close()
        if stats is None:  # a damaged summary: made again from the colony, which it is made of
            summary = _summary(_load_with_terms(p, terms=False, info=False)[0])
            stats = {k: int(v) for k, v in summary["stats"].items()}
            top = json.loads(_json_bytes(summary["top_concepts"]))  # (as a stored one reads)
    return StoreSummary(
        path=os.fspath(p),
        kind=kind,
        schema_version=version,
        phago_version=phago_version,
        saved_at=saved_at,
        stats=stats,
        top_concepts=top,
        history=catalog.history,
        sources=len({r.doc_id for r in catalog.sources}),
        source_files=len({r.path for r in catalog.sources}),
    )


def is_store(path: PathLike) -> bool:
    """True if ``path`` is a readable phago store of a supported version.

    Example:
        >>> is_store("/nonexistent.db")
        False
    """
    try:
        con = _open(Path(path))[0]
    except StoreError:
        return False
    con.close()
    return True


# ---------------------------------------------------------------------------- distributed

DISTRIBUTED_FORMAT = "phago-distributed"
"""The ``format`` of a distributed store's manifest."""

_CURRENT = "CURRENT"


def _write_file_atomic(path: Path, data: bytes) -> None:
    if path.is_symlink():  # write where the link points; the link stays
        path = _real(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_path(path.parent, directory=True)


def is_distributed_store(path: PathLike) -> bool:
    """True if ``path`` is a folder holding a distributed store: a ``CURRENT`` file, or
    generation folders (``gen-000001``; a store whose ``CURRENT`` is missing is one, and
    loading or writing it says what is wrong).

    Example:
        >>> is_distributed_store("/nonexistent")
        False
    """
    p = Path(path)
    if not p.is_dir():
        return False
    return (p / _CURRENT).is_file() or bool(_generations(p))


def _generations(d: Path) -> list[str]:
    """The names of the whole generation folders of ``d`` (``gen-NNNNNN``, not the
    temporary ``.tmp`` ones), oldest first."""
    # by name first, then whether a folder (from the listing, without a stat on most file
    # systems): a check that an output is not inside a store looks at every folder above
    # it, a home folder or /tmp among them, where a stat of every entry took most of the
    # time of an export (BENCHMARKS.md, forty-ninth session)
    try:
        with os.scandir(d) as entries:
            names = [
                e.name
                for e in entries
                if _generation_number(e.name) is not None
                and not e.name.endswith(".tmp")
                and e.is_dir()
            ]
    except OSError:
        return []
    return sorted(names, key=lambda n: _generation_number(n) or 0)


def _pending_generation(d: Path) -> Path | None:
    """The generation a save had finished and was switching ``CURRENT`` to when it
    stopped (killed, or the machine lost power) on a store's first save: the one
    ``CURRENT.tmp`` names, if it is whole (its manifest written); else None."""
    try:
        name = (d / (_CURRENT + ".tmp")).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if _generation_number(name) is None or name.endswith(".tmp"):
        return None
    gen = d / name
    return gen if (gen / "manifest.json").is_file() else None


def _no_current(d: Path, doing: str) -> StoreError:
    """The error for the store folder ``d`` without a ``CURRENT`` file (``doing``: "cannot
    load" or "refusing to write into")."""
    gens = _generations(d)
    if not gens:
        return StoreError(f"{doing} {d}: not a distributed phago store (no {_CURRENT} file)")
    return StoreError(
        f"{doing} {d}: its {_CURRENT} file, which names the generation in use, is missing "
        f"(removed, or a first save stopped before writing it; the folder holds "
        f"{', '.join(gens)}); nothing there was changed. If the newest is whole, restore it "
        f"with: echo {gens[-1]} > {d / _CURRENT}"
    )


def _current_generation(d: Path) -> Path:
    try:
        name = (d / _CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pending = _pending_generation(d)  # a first save stopped just before its switch
        if pending is None:
            raise _no_current(d, "cannot load") from None
        return pending
    except OSError as exc:
        raise StoreError(
            f"cannot load {d}: not a distributed phago store ({_reason(exc)})"
        ) from exc
    except UnicodeDecodeError as exc:  # (bytes no save writes)
        raise _damaged(d, f"invalid {_CURRENT} pointer (not text: {exc.reason})") from exc
    if not name.startswith("gen-") or "/" in name or os.sep in name:
        raise _damaged(d, f"invalid {_CURRENT} pointer {name!r}")
    gen = d / name
    if not gen.is_dir():
        raise _damaged(d, f"generation {name} is missing")
    return gen


_MANIFESTS_CHECKED: dict[tuple[str, int, int, int, int, int], str] = {}
"""Manifest files whose checksum this process found good: (path, device, inode, size,
modification and change times) to the checksum. A generation's manifest is written once and never
changed, so a second read (a command loads the colony, then reads its catalog) parses it
but does not serialise it again to check it (0.1 s for a manifest of 50,000 notes)."""


def _checked_version(d: Path) -> str | None:
    """The version of the distributed store folder ``d`` where this process read and
    checked its current manifest and the file has not changed since (None otherwise), without
    reading it again."""
    try:
        gen = _current_generation(d)
        f = gen / "manifest.json"
        sha = _MANIFESTS_CHECKED.get(_manifest_key(f, os.stat(f)))
    except (StoreError, OSError):
        return None
    return None if sha is None else f"{gen.name}:{sha}"


def _manifest_key(f: Path, st: os.stat_result) -> tuple[str, int, int, int, int, int]:
    """The key of the manifest file ``f`` (of status ``st``) in :data:`_MANIFESTS_CHECKED`."""
    return (os.fspath(f), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_manifest(path: PathLike) -> dict[str, Any]:
    """The manifest of the distributed store in folder ``path`` (schema and checksum verified).

    Raises:
        StoreError: not a distributed store, damaged, or a newer or unknown schema.
    """
    d = Path(path)
    gen = _current_generation(d)
    f = gen / "manifest.json"
    try:
        with open(f, "rb") as fh:
            st = os.fstat(fh.fileno())
            raw = json.loads(fh.read())
        body, sha = raw["body"], raw["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _damaged(d, f"unreadable manifest ({exc})") from exc
    key = _manifest_key(f, st)
    if _MANIFESTS_CHECKED.get(key) != sha:
        if _sha(_json_bytes(body)) != sha:
            raise _damaged(d, "checksum mismatch in the manifest")
        if len(_MANIFESTS_CHECKED) >= 64:
            _MANIFESTS_CHECKED.clear()
        _MANIFESTS_CHECKED[key] = sha
    if body.get("format") != DISTRIBUTED_FORMAT:
        raise StoreError(f"cannot load {d}: not a distributed phago store")
    version = body.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise StoreError(f"cannot load {d}: unknown store schema version {version!r}")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"cannot load {d}: it was written by a newer phago (schema version {version}); "
            f"this phago reads schema versions 1 to {SCHEMA_VERSION}. Upgrade phago to read it."
        )
    body["_generation"] = os.fspath(gen)
    body["_sha256"] = sha
    return dict(body)


def _shard_objects(dc: Any) -> list[Any]:
    from phago.distributed.runner import LocalShardHandle
    from phago.distributed.shard import ShardedColony

    out = []
    for i, h in enumerate(dc.runner.handles):
        if isinstance(h, LocalShardHandle):
            out.append(h.target)
        else:  # (an actor found dead is recovered from the last checkpoint first)
            out.append(ShardedColony.from_snapshot(dc._call(i, "snapshot"), dc.ring))
    return out


def _ghost_dict(g: Any) -> dict[str, Any]:
    """A ghost, or a degree-cap order travelling with the ghost answers, as JSON data."""
    from phago.distributed.degree_cap import CapOrder

    if isinstance(g, CapOrder):
        return {
            "cap_order": {
                "owner": int(g.owner),
                "drop": g.drop.tolist(),
                "ask": g.ask.tolist(),
                "ask_local": g.ask_local.tolist(),
                "learn": g.learn.tolist(),
            }
        }
    d = g.full_data
    data = None
    if d is not None:
        data = {
            "id": int(d.id),
            "label": d.label,
            "node_type": d.node_type.value,
            "position": [d.position.x, d.position.y],
            "access_count": d.access_count,
            "created_tick": d.created_tick,
            "documents": [int(x) for x in d.documents],
            "embedding": None if d.embedding is None else list(d.embedding),
        }
    return {"node_id": int(g.node_id), "shard_id": int(g.shard_id), "label": g.label, "data": data}


def _ghost(d: dict[str, Any]) -> Any:
    from phago.distributed.degree_cap import CapOrder
    from phago.distributed.types import GhostNode, ShardId
    from phago.ids import DocumentId, NodeId
    from phago.types import NodeData, NodeType, Position

    if "cap_order" in d:
        o = d["cap_order"]
        return CapOrder(
            int(o["owner"]),
            np.asarray(o["drop"], dtype=np.int64).reshape(-1, 2),
            np.asarray(o["ask"], dtype=np.uint64),
            np.asarray(o.get("ask_local", []), dtype=np.int64),
            np.asarray(o.get("learn", []), dtype=np.int64).reshape(-1, 2),
        )

    data = d["data"]
    full = None
    if data is not None:
        full = NodeData(
            NodeId(int(data["id"])),
            str(data["label"]),
            NodeType(data["node_type"]),
            Position(*data["position"]),
            int(data["access_count"]),
            int(data["created_tick"]),
            tuple(DocumentId(int(x)) for x in data["documents"]),
            None if data["embedding"] is None else tuple(data["embedding"]),
        )
    return GhostNode(NodeId(int(d["node_id"])), ShardId(int(d["shard_id"])), str(d["label"]), full)


def _ask_dict(item: Any) -> Any:
    """An item of the asks held between ticks as JSON data: a node id (a ghost request) or
    a degree report."""
    from dataclasses import asdict

    from phago.distributed.degree_cap import DegreeReport

    if isinstance(item, DegreeReport):
        body = {k: np.asarray(v).tolist() for k, v in asdict(item).items()}
        return {"degree_report": body}
    return int(item)


def _ask(d: Any) -> Any:
    from phago.distributed.degree_cap import DegreeReport

    if not isinstance(d, dict):
        return int(d)
    body = d["degree_report"]
    blank = DegreeReport(0)  # each array field's dtype and row shape, as a report sends it
    arrays = {
        name: np.asarray(body.get(name, []), dtype=empty.dtype).reshape(-1, *empty.shape[1:])
        for name, empty in ((f, getattr(blank, f)) for f in DegreeReport.__dataclass_fields__)
        if name != "source"
    }
    return DegreeReport(int(body["source"]), **arrays)


def _held_json(held: Any) -> dict[str, Any]:
    """The messages held between ticks (a :class:`~phago.distributed.messages.HeldMessages`)
    as the manifest's ``asks`` and ``ghost_answers``."""
    return {
        "asks": {
            str(owner): {str(req): [_ask_dict(x) for x in items] for req, items in by.items()}
            for owner, by in held.asks.items()
        },
        "ghost_answers": {
            str(req): [_ghost_dict(g) for g in items] for req, items in held.answers.items()
        },
    }


def _held_from_json(manifest: dict[str, Any]) -> Any:
    """:func:`_held_json` read back (a store from before asks were held has none)."""
    from phago.distributed.messages import HeldMessages

    return HeldMessages(
        {
            int(owner): {int(req): [_ask(x) for x in items] for req, items in by.items()}
            for owner, by in manifest.get("asks", {}).items()
        },
        {int(req): [_ghost(g) for g in v] for req, v in manifest.get("ghost_answers", {}).items()},
    )


def _renumber_asks(
    asks: dict[str, dict[str, list[Any]]], renumbered: dict[int, dict[int, int]]
) -> None:
    """Degree reports held between ticks name nodes by local index: the reported nodes and
    edge ends by the sending shard's, the asked-for nodes (and the nodes of capped edges)
    by the owner's. After a forget
    renumbers some shards' nodes (old index to new), renumber the reports, dropping the
    entries of removed nodes; the owner indices a sender had learnt are only a cache and
    are forgotten (-1: the owner looks the node up by id)."""
    if not renumbered:
        return
    for owner, held in asks.items():
        there = renumbered.get(int(owner))
        for items in held.values():
            for item in items:
                if not isinstance(item, dict):
                    continue
                r = item["degree_report"]
                here = renumbered.get(int(r["source"]))
                keep = [here is None or int(x) in here for x in r["nodes_here"]]
                for name in ("nodes", "degrees", "nodes_here"):
                    r[name] = [v for v, k in zip(r[name], keep, strict=True) if k]
                if here is not None:
                    r["nodes_here"] = [here[int(x)] for x in r["nodes_here"]]
                r["nodes_there"] = [-1] * len(r["nodes"])
                edges = [
                    (there is None or int(n) in there)
                    and (here is None or (int(a) in here and int(b) in here))
                    for n, (a, b) in zip(r["edge_node"], r["edge_local"], strict=True)
                ]
                for name in (
                    "edge_node",
                    "edge_other",
                    "edge_weight",
                    "edge_created",
                    "edge_local",
                ):
                    r[name] = [v for v, k in zip(r[name], edges, strict=True) if k]
                if there is not None:
                    r["edge_node"] = [there[int(n)] for n in r["edge_node"]]
                # edges the sender's own cap removed, by the owner's index of their node
                capped = [there is None or int(n) in there for n in r.get("capped_node", [])]
                for name in ("capped_node", "capped_other", "capped_weight", "capped_created"):
                    if name in r:
                        r[name] = [v for v, k in zip(r[name], capped, strict=True) if k]
                if there is not None and "capped_node" in r:
                    r["capped_node"] = [there[int(n)] for n in r["capped_node"]]
                if here is not None:
                    r["edge_local"] = [[here[int(a)], here[int(b)]] for a, b in r["edge_local"]]


def merged_graph(manifest: dict[str, Any], states: list[ColonyState]) -> Any:
    """The global graph of a distributed store's shard states (owned nodes, stored edges).

    Returns:
        ``(graph, ring)``: a :class:`~phago.graph.HebbianGraph` and the cluster's hash ring.
    """
    from phago.config import ColonyConfig
    from phago.distributed import ConsistentHashRing, ShardId, merge_owned_graphs
    from phago.distributed.shard import ShardedColony
    from phago.state import restore

    ring = ConsistentHashRing(int(manifest["num_shards"]), int(manifest["virtual_nodes"]))
    config = ColonyConfig.from_dict(manifest["config"])
    parts = []
    for i, st in enumerate(states):
        sh = ShardedColony(ShardId(i), config, ring, seed=int(manifest["seed"]))
        try:
            sh.colony = restore(st)
        except StoreError as exc:
            raise StoreError(f"shard {i}: {exc}") from exc
        sh.colony.presentation_hook = sh
        parts.append(sh.owned_graph())
    return merge_owned_graphs(parts), ring


def _summary_from_states(
    meta: dict[str, Any], states: list[ColonyState], graph: Any = None
) -> dict[str, Any]:
    """The summary of a distributed store: its shards' counts, and its top concepts, as
    the merged graph of ``states`` (``graph`` where given) has them: the concepts each on
    its owner shard, in id order, with their degrees over every shard's stored edges
    (found from the states' columns: nothing is restored or merged)."""
    if graph is not None:
        n = graph.node_count
        acc, deg, edges = graph.access_counts(), graph.degrees(), graph.edge_count
        label_at = graph.label_at
    else:
        acc, deg, edges, labels = _owned_concepts(meta, states)
        n = len(acc)
        label_at = labels.__getitem__
    order = np.lexsort((np.arange(n), -acc))[:_TOP_CONCEPTS].tolist() if n else []
    per = [_summary(st)["stats"] for st in states]
    stats = {
        "tick": int(meta["tick"]),
        "agents_alive": sum(p["agents_alive"] for p in per),
        "agents_died": sum(p["agents_died"] for p in per),
        "total_spawned": sum(p["total_spawned"] for p in per),
        "agents_retired": sum(p["agents_retired"] for p in per),
        "graph_nodes": n,
        "graph_edges": edges,
        "total_signals": sum(p["total_signals"] for p in per),
        "documents_total": sum(p["documents_total"] for p in per),
        "documents_digested": sum(p["documents_digested"] for p in per),
    }
    top = [
        {"label": label_at(i), "access_count": int(acc[i]), "degree": int(deg[i])} for i in order
    ]
    return {"stats": stats, "top_concepts": top}


def _owned_concepts(
    meta: dict[str, Any], states: list[ColonyState]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int, list[str]]:
    """The concepts of a distributed store's shard states as its merged graph holds them
    (each from its owner shard, in id order): their access counts, their degrees over every
    shard's stored edges, the number of those edges, and the concepts' labels."""
    from phago.distributed import ConsistentHashRing

    ring = ConsistentHashRing(int(meta["num_shards"]), int(meta["virtual_nodes"]))
    ids, access, ends = [], [], []
    labels: list[str] = []
    for i, st in enumerate(states):
        g = st.graph
        node_ids = np.asarray(g.ids, dtype=np.uint64)
        own = np.flatnonzero(ring.get_shards(node_ids) == i)
        ids.append(node_ids[own])
        access.append(np.asarray(g.access, dtype=np.int64)[own])
        labels.extend(g.labels[k] for k in own.tolist())
        ends += [
            node_ids[np.asarray(g.edge_a, dtype=np.int64)],
            node_ids[np.asarray(g.edge_b, dtype=np.int64)],
        ]
    all_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.uint64)
    order = np.argsort(all_ids, kind="stable")
    acc = (np.concatenate(access) if access else np.zeros(0, dtype=np.int64))[order]
    both = np.concatenate(ends) if ends else np.zeros(0, dtype=np.uint64)
    deg = np.bincount(np.searchsorted(all_ids[order], both), minlength=len(order))
    return (
        acc,
        deg[: len(order)].astype(np.int64),
        len(both) // 2,
        [labels[k] for k in order.tolist()],
    )


def _generation_number(name: str) -> int | None:
    """N of a generation folder ``gen-N`` or ``gen-N.tmp`` (None for other names)."""
    digits = name[4:].removesuffix(".tmp")
    return int(digits) if name.startswith("gen-") and digits.isdigit() else None


def _manifest_version(manifest: dict[str, Any]) -> str:
    """A token naming one saved version of a distributed store: its generation and the
    checksum of its manifest."""
    return f"{Path(manifest['_generation']).name}:{manifest['_sha256']}"


def _make_store_dir(d: Path) -> None:
    """Create the store folder ``d`` if absent (its lock is taken on it)."""
    if d.exists() and not d.is_dir():
        raise StoreError(f"cannot save distributed colony to {d}: it is a file")
    try:
        d.mkdir(exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot save distributed colony to {d}: {_reason(exc)}") from exc


def _prepare_dir(d: Path, catalog: bool = True) -> tuple[Catalog, int, str | None]:
    """The old catalog (empty unless ``catalog``), highest generation number and version of
    the store folder ``d`` (created if absent; version None when it holds no store yet)."""
    _make_store_dir(d)
    current = d / _CURRENT
    pending = None if current.exists() else _pending_generation(d)
    if pending is not None:
        # a first save stopped between writing CURRENT.tmp and renaming it: finish it
        _refuse_read_only_folder(d)
        try:
            os.replace(d / (_CURRENT + ".tmp"), current)
            _fsync_path(d, directory=True)
        except OSError as exc:
            raise StoreError(
                f"cannot finish the save that stopped in {d} (its {_CURRENT}.tmp names "
                f"{pending.name}): {_reason(exc)}"
            ) from exc
    numbers = [n for n in (_generation_number(p.name) for p in d.iterdir()) if n is not None]
    last = max(numbers, default=0)
    if current.exists():
        known = None if catalog else _checked_version(d)
        if known is not None:  # (read and checked by this process, unchanged since)
            _refuse_read_only_folder(d)
            return Catalog(), last, known
        try:
            manifest = read_manifest(d)
        except StoreError as exc:
            raise StoreError(
                f"refusing to overwrite {d}: it is not a readable phago store ({exc})"
            ) from exc
        _refuse_read_only_folder(d)
        old = _catalog_from_json(manifest.get("catalog", {})) if catalog else Catalog()
        return old, last, _manifest_version(manifest)
    if _generations(d):  # a store that lost its CURRENT: never replaced by a new one
        raise _no_current(d, "refusing to write into")
    if any(p for p in d.iterdir() if not _save_leftover(p.name)):
        raise StoreError(
            f"refusing to write into {d}: the folder is not empty and not a phago store"
        )
    return Catalog(), last, None


def _save_leftover(name: str) -> bool:
    """Whether ``name`` in a store folder without a store is what an unfinished first save
    leaves (a temporary generation folder, a temporary ``CURRENT``), removed by the next."""
    return name == _CURRENT + ".tmp" or (
        _generation_number(name) is not None and name.endswith(".tmp")
    )


def _refuse_read_only_folder(d: Path) -> None:
    """Raise if the permission bits of the store folder ``d`` or of its ``CURRENT`` file
    make it read-only (by the bits, as :func:`_refuse_read_only` for a store file: also for
    root)."""
    for path in (d, d / _CURRENT):
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            continue  # (no CURRENT yet: a save stopped before its switch)
        _refuse_read_only(d, mode, f"{path.name} has mode {mode:04o}", f"chmod -R u+w {d}")


def _write_distributed(
    d: Path,
    meta: dict[str, Any],
    states: list[ColonyState],
    extras: list[dict[str, Any]],
    catalog: Catalog | None,
    expect: str | None = None,
    terms: Sequence[SavedTermCounts | None] | None = None,
    graph: Any = None,
    before: _ShardRows | None = None,
) -> tuple[Path, str, _ShardRows]:
    """Write a new generation of the store folder ``d`` (refusing if ``expect``, a version,
    is not the store's; None: no check), each shard file with its documents' term counts
    ``terms`` where given (``graph``: the merged graph of ``states`` if the caller has it).
    ``before``: the shard files' versions and rows in version ``expect``; a shard file
    found there is copied into the new generation and changed in place (as a save in
    place: :func:`_write_in_place`) instead of written anew. Returns the folder, the
    version written and its shard files' versions and rows."""
    created = not d.exists()
    with _store_dir_lock(d):
        # under the lock: another saver may have finished (the old catalog only where no
        # catalog is given: 50,000 notes' sources take 0.1 s)
        try:
            old_catalog, last, version = _prepare_dir(d, catalog=catalog is None)
            if expect is not None and version != expect:
                raise _changed(d)
            _remove_stale_generations(d)
            return _write_distributed_locked(
                d, meta, states, extras, catalog, old_catalog, last, terms, graph, before
            )
        except BaseException:
            if created:  # a first save that failed leaves no empty folder behind (removed
                # under the lock: a saver waiting for it finds the folder gone, and makes
                # and locks a new one)
                with contextlib.suppress(OSError):
                    d.rmdir()
            raise


@contextlib.contextmanager
def _store_dir_lock(d: Path) -> Iterator[None]:
    """Make the store folder ``d`` if absent and hold an exclusive lock on it, taken again
    if the folder was removed (a first save that failed) or replaced while this one waited:
    a lock on a folder no longer at ``d`` would guard nothing."""
    while True:
        _make_store_dir(d)
        try:
            fd = os.open(d, os.O_RDONLY)
        except FileNotFoundError:
            continue  # removed just now: make it again
        except OSError:
            yield  # cannot open the folder to lock it: the save reports the real problem
            return
        try:
            with _flock(fd):
                if not _still_the_store(d, d, fd):
                    continue
                yield
                return
        finally:
            os.close(fd)


def _remove_stale_generations(d: Path) -> None:
    """Remove the generation folders of ``d`` that ``CURRENT`` does not name: left by a
    save that was killed (or hit a full disk) before it switched ``CURRENT``, or that could
    not remove the generation it replaced. Called under the store's lock; readers only read
    the generation ``CURRENT`` names."""
    try:
        current = (d / _CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return  # (no generation is known to be stale without it)
    for p in d.iterdir():
        if _generation_number(p.name) is not None and p.name != current:
            _rmtree(p)


def _write_distributed_locked(
    d: Path,
    meta: dict[str, Any],
    states: list[ColonyState],
    extras: list[dict[str, Any]],
    catalog: Catalog | None,
    old_catalog: Catalog,
    last: int,
    terms: Sequence[SavedTermCounts | None] | None = None,
    graph: Any = None,
    before: _ShardRows | None = None,
) -> tuple[Path, str, _ShardRows]:
    from phago import __version__
    from phago.state import to_jsonable

    try:  # (where shard files of the version ``before`` holds are)
        current: Path | None = _current_generation(d) if before is not None else None
    except StoreError:
        current = None
    written_rows: list[tuple[str | None, _WrittenRows]] = []

    src = old_catalog if catalog is None else catalog
    cat = src.copy()
    for tick, nodes, edges in meta.get("history", []):
        cat.add_point(HistoryPoint(int(tick), int(nodes), int(edges)))

    def write(tmp: Path) -> dict[str, Any]:
        doc_ids: list[int] = []
        n = len(states)
        versions: list[str] = []  # each shard file's, in the manifest: a file from
        # another store or save is refused on loading
        for i, (state, extra) in enumerate(zip(states, extras, strict=True)):
            doc_ids.extend(int(x) for x in state.substrate.doc_ids.tolist())
            shard_extra = {**extra, _SHARD_INDEX: i, _SHARD_COUNT: n}
            target = tmp / f"shard-{i:03d}.db"
            shard_terms = terms[i] if terms is not None else None
            prior = before[i] if before is not None and i < len(before) else None
            try:
                done = None
                if prior is not None and prior[0] is not None and current is not None:
                    done = _shard_changed_in_copy(
                        current / target.name, target, state, shard_extra, shard_terms, prior
                    )
                if done is None:
                    done = _save_state(
                        state, target, Catalog(), "shard", shard_extra, None, shard_terms
                    )
                versions.append(done[1])
                written_rows.append((done[1], done[2]))
            except StoreError as exc:  # name the store, not the temporary shard file
                cause = exc.__cause__
                reason = _reason(cause) if cause is not None else str(exc)
                raise StoreError(
                    f"cannot save distributed colony to {d} (shard {i}): {reason}"
                ) from (cause or exc)
        cat.keep_documents(doc_ids)
        summary = _summary_from_states(meta, states, graph)
        st = summary["stats"]
        cat.add_point(
            HistoryPoint(
                int(meta["tick"]),
                st["graph_nodes"],
                st["graph_edges"],
                st["documents_total"],
                st["documents_digested"],
            )
        )
        body: dict[str, Any] = to_jsonable(
            {
                "format": DISTRIBUTED_FORMAT,
                "schema_version": SCHEMA_VERSION,
                "phago_version": __version__,
                "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
                **{k: v for k, v in meta.items() if not k.startswith("_")},
                "summary": summary,
            }
        )
        # (plain lists of text and numbers already: to_jsonable's walk over 50,000 notes'
        # sources took 0.6 s)
        body["catalog"] = _catalog_to_json(cat)
        body[_SHARD_VERSIONS] = versions
        return body

    version = _new_generation(d, last, write, "cannot save distributed colony to")
    return d, version, tuple(written_rows)


def _shard_changed_in_copy(
    source: Path,
    target: Path,
    state: ColonyState,
    extra: dict[str, Any],
    terms: SavedTermCounts | None,
    prior: tuple[str | None, _WrittenRows],
) -> tuple[Path, str, _WrittenRows] | None:
    """Save a shard's ``state`` as a copy of its file ``source`` (of the version and rows
    ``prior``) changed in place at ``target``, in a new generation no one reads yet; None
    where the copy is not that version (``target`` is then removed: the caller writes it
    anew)."""
    shutil.copyfile(source, target)
    try:
        return _save_state(
            state, target, Catalog(), "shard", extra, prior[0], terms, prior[1], private=True
        )
    except StoreChanged:
        target.unlink(missing_ok=True)
        return None


def _new_generation(
    d: Path, last: int, write: Callable[[Path], dict[str, Any]], failed: str
) -> str:
    """Make the next generation of the store folder ``d`` (above ``last``) and switch
    ``CURRENT`` to it: ``write`` puts its files in the temporary folder it is given and
    returns the manifest's body, which is written with its checksum; the older generations
    are then removed. Returns the new version (``name:checksum``).

    Raises:
        StoreError: ``failed`` and the reason (nothing changed: the temporary folder, or the
            new generation if ``CURRENT`` was not switched to it, is removed).
    """
    name = f"gen-{last + 1:06d}"  # above every generation there, even one left behind
    tmp = d / (name + ".tmp")
    renamed = False
    try:
        if tmp.exists():
            _rmtree(tmp)
        tmp.mkdir()
        body = write(tmp)
        data = _json_bytes(body)  # (serialised once: 8 MB for 50,000 notes' catalog)
        sha = _sha(data)
        manifest = b'{"body":' + data + b',"sha256":' + _json_bytes(sha) + b"}"
        _write_file_atomic(tmp / "manifest.json", manifest)  # (_json_bytes of both)
        _fsync_path(tmp, directory=True)
        os.replace(tmp, d / name)
        renamed = True
        _fsync_path(d, directory=True)
        _write_file_atomic(d / _CURRENT, (name + "\n").encode("ascii"))
    except BaseException as exc:
        _rmtree(tmp)
        if renamed:  # CURRENT still names the previous generation: this one is not live
            _rmtree(d / name)
        if isinstance(exc, StoreError):
            raise
        if isinstance(exc, sqlite3.Error | OSError):
            raise StoreError(f"{failed} {d}: {_reason(exc)}") from exc
        raise
    for old in d.iterdir():
        if _generation_number(old.name) is not None and old.name != name:
            _rmtree(old)
    return f"{name}:{sha}"


_SHARD_INDEX = "shard_index"
_SHARD_COUNT = "shard_count"
"""Extra parts of each shard file: which shard of how many it holds (checked on loading)."""

_SHARD_VERSIONS = "shard_versions"
"""The manifest's list of its shard files' versions (:func:`_file_version`), checked on
loading (stores saved before the fortieth session have none)."""


def _shard_version(manifest: dict[str, Any], index: int) -> str | None:
    """The version the manifest records for shard file ``index`` (None where it records
    none)."""
    versions = manifest.get(_SHARD_VERSIONS)
    if isinstance(versions, list) and 0 <= index < len(versions):
        return str(versions[index])
    return None


def _check_shard_file(
    d: Path, gen: Path, index: int, count: int, version: str | None = None
) -> None:
    """Check that shard file ``index`` of ``count`` of generation ``gen`` of the store ``d``
    is there and holds that shard (stores saved before shard files recorded their index are
    not checked for it), and, given the ``version`` the manifest records, that it is the
    file that save wrote.

    Raises:
        StoreError: the file is missing, not a shard store, holds another shard, or is not
            the file the manifest's save wrote (copied from another store or save).
    """
    f = gen / f"shard-{index:03d}.db"
    rel = f"{gen.name}/{f.name}"
    if not f.is_file():
        raise _damaged(d, f"shard file {rel} is missing")
    con, _, kind, _, _ = _open(f)
    try:
        if kind != "shard":
            raise _damaged(d, f"{rel} is not a shard of a distributed store (kind {kind!r})")
        names = {
            str(r[0])
            for r in con.execute(
                "SELECT name FROM blobs WHERE name IN (?, ?)",
                (f"extra.{_SHARD_INDEX}", f"extra.{_SHARD_COUNT}"),
            )
        }
        if names:  # (not in stores saved before shard files recorded their index)
            held = _json_blob(con, f, f"extra.{_SHARD_INDEX}")
            of = _json_blob(con, f, f"extra.{_SHARD_COUNT}")
            if held != index or of != count:
                raise StoreError(
                    f"cannot load {d}: {rel} holds shard {held!r} of {of!r}, not shard {index} "
                    f"of {count} (shard files swapped, or copied from another store)"
                )
        if version is not None and _file_version(con) != version:
            raise StoreError(
                f"cannot load {d}: {rel} is not the shard file this store's manifest was "
                "saved with (copied from another store, or from another save of this one)"
            )
    except sqlite3.Error as exc:
        raise _damaged(f, exc) from exc
    finally:
        con.close()


def save_distributed(dc: Any, directory: PathLike, *, catalog: Catalog | None = None) -> Path:
    """Save a :class:`~phago.distributed.DistributedColony` to the folder ``directory``.

    Layout: ``CURRENT`` names the live generation ``gen-NNNNNN/``, which holds
    ``manifest.json`` (cluster settings, tick, layout cursor, pending ghost answers, catalog,
    summary; checksummed) and one colony store ``shard-XXX.db`` per shard (kind ``shard``,
    with the shard's ghost cache). A save writes a new generation in ``gen-NNNNNN.tmp/``,
    fsyncs it, renames it, then atomically replaces ``CURRENT``; older generations are
    removed afterwards. A process killed at any point leaves the previous generation loadable
    (and the next save removes what it left). Each shard file records its shard index, so
    swapped shard files are refused on loading. A colony loaded from this store is saved
    only if the store is still the version it was loaded from, as with :func:`save`; its
    shard files are then copied into the new generation and only what changed written into
    them (as a save in place writes a store file), where a new file would be written whole.

    Args:
        dc: the distributed colony (between ticks).
        directory: the store folder (created if absent; its parent must exist).
        catalog: sources and history (None: keep the store's; the colony's per-tick history
            is added either way).

    Returns:
        The folder.

    Raises:
        StoreError: the folder cannot be written, holds something that is not a store, or
            the store changed since ``dc`` was loaded from it.

    Example:
        >>> import tempfile, pathlib
        >>> from phago.distributed import DistributedColony
        >>> d = pathlib.Path(tempfile.mkdtemp()) / "cluster"
        >>> with DistributedColony(num_shards=2, seed=0) as dc:
        ...     _ = dc.ingest_document("Cells", "cell membrane protein transport")
        ...     _ = dc.spawn_digesters(1)
        ...     _ = dc.run(3)
        ...     _ = save_distributed(dc, d)
        >>> with load_distributed(d) as again:
        ...     again.current_tick, again.stats().documents_total
        (3, 1)
    """
    from phago.state import capture

    states: list[ColonyState] = []
    extras: list[dict[str, Any]] = []
    # held while its shards are read, so that another thread's run is refused (ColonyBusy)
    # rather than caught mid-tick
    with dc._held():
        captured = dc._version
        for sh in _shard_objects(dc):
            states.append(capture(sh.colony))
            known, pending = sh.ghost_flags()
            extras.append(
                {
                    "ghost_known": known,
                    "ghost_pending": np.flatnonzero(pending).tolist(),
                    "ghosts": [_ghost_dict(g) for g in sh.ghost_cache.all_nodes()],
                    "ghost_capacity": int(sh.ghost_cache.capacity),
                    **sh.degree_cap_state(),
                }
            )
        if extras and len(dc._timeline):  # the cluster's timeline, with shard 0's parts
            extras[0][_CLUSTER_TIMELINE] = dc._timeline.rows()
        meta = {
            "num_shards": int(dc.num_shards),
            "backend": dc.backend,
            "seed": int(dc.seed),
            "config": dc.config.to_dict(),
            "virtual_nodes": int(dc.coordinator.config.virtual_nodes_per_shard),
            "tick": int(dc.current_tick),
            "layout_next": int(dc._layout_next),
            "history": [[int(x) for x in h] for h in getattr(dc, "history", [])],
            # what the last Decay sent for the next one: asks to answer, answers to deliver
            **_held_json(dc._run(dc.runner.take_held())),
        }
    d = store_path(directory)
    version = _origin(dc, d)
    merged, terms = _distributed_term_counts(dc, states)
    # the summary's graph: the cluster's own where one is merged and it did not change since
    # its shards were captured, else the summary is found from the captured states
    graph = dc.cached_graph() if dc._version == captured else None
    before = _origin_rows(dc, d) if version is not None else None
    _, written, rows = _write_distributed(
        d,
        meta,
        states,
        extras,
        catalog,
        version,
        terms,
        graph,
        before if isinstance(before, tuple) else None,
    )
    dc.saved_term_counts = merged
    if version is not None:
        _remember(dc, d, written, rows)
    return d


def _distributed_term_counts(
    dc: Any, states: list[ColonyState]
) -> tuple[SavedTermCounts, list[SavedTermCounts]]:
    """The term counts of a distributed colony's documents (``states``: its shards'), all
    of them and each shard's: from the document index of its merged graph where that is
    current and indexed, else from the counts it was loaded or last saved with, counting
    only the documents neither holds."""
    from phago.query.index import term_counts_to_save
    from phago.query.term_counts import saved_counts_of

    if dc.cached_graph() is not None:  # (no merged graph is built for this)
        merged = term_counts_to_save(dc)
    else:
        subs = [st.substrate for st in states]
        ids = np.concatenate([np.asarray(ss.doc_ids, dtype=np.uint64) for ss in subs])
        titles = [t for ss in subs for t in ss.doc_titles]
        contents = [c for ss in subs for c in ss.doc_contents]
        merged = saved_counts_of(dc.saved_term_counts, ids, titles, contents)
    parts = [merged.keep(np.asarray(st.substrate.doc_ids, dtype=np.uint64)) for st in states]
    # (each with only the terms it uses: a cluster's whole vocabulary in every shard file
    # would grow with shards times terms)
    return merged, [part.compact() for part in parts]


def _renumber_inflight_drops(
    extras: list[dict[str, Any]], renumbered: dict[int, dict[int, int]]
) -> None:
    """The degree-cap drops an owner ordered at its last Decay (rows of storing shard, that
    shard's local edge ends, the owner's node) name nodes by local index on two shards: after
    a forget renumbers some shards' nodes (old index to new), renumber them (dropping those
    naming a removed node).

    Example:
        >>> ex = [{"cap_inflight": np.array([[1, 5, 7, 0], [1, 5, 9, 0]])}, {}]
        >>> _renumber_inflight_drops(ex, {1: {5: 2, 7: 3}})
        >>> ex[0]["cap_inflight"].tolist()
        [[1, 2, 3, 0]]
    """
    if not renumbered:
        return
    for i, ex in enumerate(extras):
        rows = np.asarray(ex.get("cap_inflight", []), dtype=np.int64).reshape(-1, 4)
        if not len(rows):
            continue
        out = []
        here = renumbered.get(i)
        for src, a, b, node in rows.tolist():
            there = renumbered.get(src)
            if there is not None:
                if a not in there or b not in there:
                    continue
                a, b = there[a], there[b]
            if here is not None:
                if node not in here:
                    continue
                node = here[node]
            out.append((src, a, b, node))
        ex["cap_inflight"] = np.asarray(out, dtype=np.int64).reshape(-1, 4)


def _renumber_cap_orders(
    answers: dict[str, list[dict[str, Any]]], renumbered: dict[int, dict[int, int]]
) -> None:
    """Degree-cap orders held between ticks name nodes by local index: the edges to drop by
    the receiving shard's, the asked nodes by the owner's. After a forget renumbers some
    shards' nodes (old index to new), renumber the orders (dropping removed nodes)."""
    for req, items in answers.items():
        for item in items:
            order = item.get("cap_order")
            if order is None:
                continue
            if renumbered:  # what a shard learnt of the owners' indices is only a cache
                order["learn"] = []
            here = renumbered.get(int(req))
            if here is not None:
                order["drop"] = [
                    [here[a], here[b]] for a, b in order["drop"] if a in here and b in here
                ]
            there = renumbered.get(int(order["owner"]))
            if there is not None:
                kept = [
                    (nid, there[li])
                    for nid, li in zip(order["ask"], order.get("ask_local", []), strict=True)
                    if li in there
                ]
                order["ask"] = [nid for nid, _ in kept]
                order["ask_local"] = [li for _, li in kept]


def forget_in_store(
    path: PathLike, doc_ids: Iterable[int], *, files: Iterable[PathLike] = ()
) -> ForgetReport:
    """Forget documents in the store at ``path`` (a file or a distributed folder), in place.

    Follows :func:`phago.state.forget_documents`. In a distributed store what goes is decided
    once for the whole cluster (:func:`phago.state.plan_forget`): a concept that no remaining
    document presented goes from every shard, with every edge to it that any shard stores,
    and the co-activations of a document's presentation are withdrawn on whichever shard
    stores each edge; the cluster's graph is the one forgetting in a single colony would
    leave. The new state is checked to restore cleanly before it replaces the old one
    (atomically).

    The store is held with :func:`store_lock` from reading to writing.

    Args:
        path: the store.
        doc_ids: ids of the documents to forget (ids the store does not hold are reported
            as ``unknown``; where it holds none of them, and no file record goes, the store
            is left untouched).
        files: ingested files (or folders) whose records in the store's catalog go too
            (``phago forget PATH``: a file whose text another file also holds loses its
            record, and the document stays, held by the other).

    Returns:
        A :class:`~phago.state.ForgetReport` (for a distributed store, one marked
        ``distributed``: ``nodes_removed`` counts the cluster's concepts, not their copies
        on each shard, and there is no ``kept_nodes``).

    Raises:
        DocumentError: an id that is not a whole number in [0, 2**64) (nothing is read).
        StoreError: the store cannot be read or written (or is read-only).

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony, Position
        >>> c = Colony()
        >>> d = c.ingest_document("t", "alpha beta", Position(0, 0))
        >>> p = save(c, pathlib.Path(tempfile.mkdtemp()) / "c.db")
        >>> forget_in_store(p, [d]).documents_removed == [d], load(p).stats().documents_total
        (True, 0)
    """
    from phago.state import checked_document_ids

    p = store_path(path)
    ids = checked_document_ids(doc_ids)
    dropped = [os.fspath(f) for f in files]
    with store_lock(p):
        return _forget_locked(p, ids, dropped)


@dataclass(frozen=True, slots=True)
class TagReport:
    """What :func:`tag_documents` did.

    Attributes:
        info: each document's information afterwards (all its tags), by id, in the order
            the ids were given.
        changed: the documents whose tags changed (all of them: those the front matter of
            a file they are stored from names count too), in that order.
    """

    info: dict[int, DocumentInfo]
    changed: list[int]


def tag_in_store(
    path: PathLike,
    doc_ids: Iterable[int],
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> dict[int, DocumentInfo]:
    """:func:`tag_documents`, returning each document's information afterwards (its
    :attr:`TagReport.info`).

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> c = Colony(); d = c.ingest_document("t", "cell wall")
        >>> p = save(c, pathlib.Path(tempfile.mkdtemp()) / "c.db")
        >>> tag_in_store(p, [d], add=["Lab", "draft"])[d].tags
        ('draft', 'lab')
        >>> tag_in_store(p, [d], remove=["draft"])[d].tags, read_document_info(p)[d].tags
        (('lab',), ('lab',))
    """
    return tag_documents(path, doc_ids, add=add, remove=remove).info


def tag_documents(
    path: PathLike,
    doc_ids: Iterable[int],
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> TagReport:
    """Add the tags ``add`` to the documents ``doc_ids`` of the store at ``path`` (a file or
    a distributed folder) and take ``remove`` from them, in place; nothing else changes (a
    document never tagged before takes no time added: "" where the store did not say).
    Tags are compared as :func:`phago.tags.tag_name` writes them. A tag the front matter of
    a file the document is stored from names stays while the file names it (edit the file
    and ingest it again).

    The store is held with :func:`store_lock` from reading to writing, and written only
    when a document's tags change.

    Returns:
        A :class:`TagReport`: each document's information afterwards (all its tags,
        :meth:`Catalog.document_info`) and the documents whose tags changed.

    Raises:
        ConfigError: a tag :func:`phago.tags.tag_name` refuses (nothing is read).
        DocumentError: an id that is not a whole number in [0, 2**64).
        UnknownDocument: an id the store does not hold (nothing changes).
        StoreError: the store cannot be read or written.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> c = Colony(); d = c.ingest_document("t", "cell wall")
        >>> p = save(c, pathlib.Path(tempfile.mkdtemp()) / "c.db")
        >>> report = tag_documents(p, [d], add=["Lab"])
        >>> report.info[d].tags, report.changed == [d]
        (('lab',), True)
        >>> tag_documents(p, [d], add=["lab"]).changed
        []
    """
    from phago.errors import UnknownDocument
    from phago.state import checked_document_ids
    from phago.tags import tag_names

    p = store_path(path)
    ids = checked_document_ids(doc_ids)
    plus, minus = set(tag_names(add)), set(tag_names(remove))
    with store_lock(p):
        distributed = is_distributed_store(p)
        if distributed:  # (only the manifest is written: its shard files are linked)
            manifest = read_manifest(p)
            catalog = _catalog_from_json(manifest.get("catalog", {}))
            held = set(distributed_document_ids(p, manifest))
        else:
            con, schema, kind, _, _ = _open(p)
            con.close()
            state: ColonyState | None = None
            if schema == SCHEMA_VERSION and kind == "colony":  # (only the part is written)
                catalog = read_catalog(p)
                held = set(read_document_ids(p))
            else:  # (an older store is saved in this phago's form)
                state, catalog, version, terms = _load_with_terms(p)
                held = {int(d) for d in state.substrate.doc_ids.tolist()}
        missing = [d for d in ids if d not in held]
        if missing:
            raise UnknownDocument(
                f"{p} holds no document with the id {', '.join(map(str, missing))}"
            )
        before = catalog.document_info()
        written = False  # (a document's own tags changed: those the store records for it)
        for d in ids:
            had = catalog.info.get(d, DocumentInfo())
            tags = tuple(sorted((set(had.tags) | plus) - minus))
            if tags != had.tags:
                catalog.info[d] = DocumentInfo(had.added, tags)
                written = True
        merged = catalog.document_info()
        none = DocumentInfo()
        changed = [d for d in ids if merged.get(d, none).tags != before.get(d, none).tags]
        if written and distributed:
            _replace_distributed_catalog(p, manifest, catalog)
        elif written and state is None:
            _replace_document_info(p, catalog)
        elif written and state is not None:
            _save_state(state, p, catalog, "colony", read_extra(p), version, terms)
    return TagReport({d: merged.get(d, DocumentInfo()) for d in ids}, changed)


@dataclass(frozen=True)
class RepairReport:
    """What :func:`repair_information` did: ``damaged`` is why the documents' information
    part was found damaged (None: it was sound, and nothing changed); ``set_aside`` the file
    its bytes were copied to before anything changed; ``salvaged`` whether its content
    still read as information (then kept, under a new checksum) or was dropped."""

    damaged: str | None = None
    set_aside: Path | None = None
    salvaged: bool = False


def repair_information(path: PathLike) -> RepairReport:
    """Make the store file ``path`` whose documents' information part (tags, times added,
    texts' hashes) is damaged usable again: its bytes are first copied to
    ``<path>.document_info-<UTC time>.damaged`` beside the store (nothing is lost); then
    the part is written back as it reads if it still reads as information (a damaged
    checksum, or bytes changed where the form allows), else removed (the documents keep no
    tags and no times added). The rest of the store is not changed; the store is held as a
    save holds it. A store whose part is sound is left as it is.

    Raises:
        StoreError: the store's colony is damaged (loading it would still fail: nothing
            is changed; :func:`phago.rebuild.rebuild_colony` makes a new one from its
            documents), or it cannot be written. A distributed store keeps its documents'
            information in its manifest, checked whole: it is sound, or it is refused so.

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> p = save(Colony(), pathlib.Path(tempfile.mkdtemp()) / "c.db")
        >>> repair_information(p)
        RepairReport(damaged=None, set_aside=None, salvaged=False)
    """
    p = store_path(path)
    if is_distributed_store(p):  # (its information is in its manifest, checked whole)
        with store_lock(p):
            try:
                load_distributed(p, backend="local").close()
            except StoreError as exc:
                raise StoreError(f"{exc}; {_REBUILD_HINT}") from exc
        return RepairReport()
    with store_lock(p):
        damaged, raw = _information_damage(p)
        # the colony's own parts and the catalog's rows must read (else nothing is changed)
        try:
            catalog = _load_with_terms(p, terms=False, info=False)[1]
        except StoreError as exc:
            raise StoreError(f"{exc}; {_REBUILD_HINT}") from exc
        if damaged is None:
            return RepairReport()
        salvaged = False
        if raw is not None:
            try:
                catalog.info, catalog.file_tags, catalog.texts = _info_from_json(
                    json.loads(raw.decode("utf-8")), given=True
                )
                salvaged = True
            except (UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError):
                pass
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = p.with_name(f"{p.name}.{_DOCUMENT_INFO}-{stamp}.damaged")
        try:
            _write_file_atomic(aside, raw if raw is not None else b"")
        except OSError as exc:
            raise StoreError(f"cannot repair {p}: cannot write {aside}: {_reason(exc)}") from exc
        _replace_document_info(p, catalog)
    return RepairReport(damaged, aside, salvaged)


_REBUILD_HINT = (
    "its documents can be digested into a new colony in its place, the damaged store kept "
    "beside it: phago repair --rebuild (phago.rebuild.rebuild_colony)"
)


def _information_damage(path: Path) -> tuple[str | None, bytes | None]:
    """Why the store file ``path``'s documents' information part is damaged (None: it is
    sound, or there is none) and its raw bytes (None where they are not bytes)."""
    con = _open(path)[0]
    try:
        try:
            _read_information(con, path, Catalog())
            return None, None
        except StoreError as exc:
            row = con.execute("SELECT data FROM blobs WHERE name = ?", (_DOCUMENT_INFO,)).fetchone()
            data = row[0] if row is not None else None
            raw = bytes(data) if isinstance(data, bytes | bytearray | memoryview) else None
            return str(exc), raw
    except sqlite3.Error as exc:
        raise _damaged(path, exc) from exc
    finally:
        con.close()


def _replace_document_info(path: Path, catalog: Catalog) -> None:
    """Write ``catalog``'s :data:`_DOCUMENT_INFO` part into the store file ``path``,
    everything else as it was (the caller holds :func:`store_lock`): only the part and the
    save time are written, where loading and saving the colony took seconds for a store of
    50,000 notes.

    The file is changed in place in one transaction, as a save in place is
    (:func:`_write_in_place`); a file with another hard link is copied, changed, fsynced
    and renamed over the store instead, as a save does. A symbolic link is followed (the
    file it points to is changed; the link stays), as a save does.
    """
    if path.is_symlink():
        path = _real(path)
    with _directory_lock(path.parent):
        _replace_document_info_locked(path, catalog)


def _replace_document_info_locked(path: Path, catalog: Catalog) -> None:
    old = os.stat(path)
    _refuse_read_only(path, stat.S_IMODE(old.st_mode))
    info = _info_json(catalog)
    data = _json_bytes(info) if info is not None else None
    if _sole_name(old):
        try:
            con = _connect_in_place(path)
            try:
                _write_document_info(con, data)
            finally:
                con.close()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot save {path}: {_reason(exc)}") from exc
        return
    tmps = _tmp_paths(path)
    tmp = tmps[0]
    _remove_quietly(tmps)
    try:
        shutil.copyfile(path, tmp)
        con = _connect_write(tmp)
        try:
            _write_document_info(con, data)
        finally:
            con.close()
        _put_in_place(tmp, path, old)
    except BaseException as exc:
        _remove_quietly(tmps)
        if isinstance(exc, sqlite3.Error | OSError) and not isinstance(exc, StoreError):
            raise StoreError(f"cannot save {path}: {_reason(exc)}") from exc
        raise


def _write_document_info(con: sqlite3.Connection, data: bytes | None) -> None:
    """Replace the :data:`_DOCUMENT_INFO` part (JSON ``data``; None: no part) and the save
    time of the store file of ``con``, in one transaction."""
    con.execute("BEGIN IMMEDIATE")
    con.execute("DELETE FROM blobs WHERE name = ?", (_DOCUMENT_INFO,))
    if data is not None:
        con.execute(
            "INSERT INTO blobs VALUES (?, ?, ?, ?)", (_DOCUMENT_INFO, "json", data, _sha(data))
        )
    kind = con.execute("SELECT kind FROM phago_schema").fetchone()[0]
    _write_schema_row(con, str(kind), new=False)
    con.execute("COMMIT")


def distributed_document_ids(path: PathLike, manifest: dict[str, Any] | None = None) -> list[int]:
    """The ids of the documents in the distributed store folder ``path``, shard by shard,
    read from each shard file's documents table (:func:`read_document_ids`; the shard files
    are checked to be the manifest's, ``manifest`` being :func:`read_manifest`'s if given).

    Raises:
        StoreError: as :func:`read_manifest`, or a shard file is missing or not the
            manifest's.

    Example:
        >>> import tempfile, pathlib
        >>> from phago.distributed import DistributedColony
        >>> with DistributedColony(2, seed=0) as dc:
        ...     d = dc.ingest_document("t", "cell wall")
        ...     p = save_distributed(dc, pathlib.Path(tempfile.mkdtemp()) / "s")
        >>> distributed_document_ids(p) == [d]
        True
    """
    d = Path(path)
    manifest = read_manifest(d) if manifest is None else manifest
    return [x for f in _shard_files(d, manifest) for x in read_document_ids(f)]


def _shard_files(d: Path, manifest: dict[str, Any]) -> list[Path]:
    """The shard files of the store folder ``d``'s current generation, in shard order, each
    checked to be the one ``manifest`` (:func:`read_manifest`'s) names.

    Raises:
        StoreError: the manifest's shard count is invalid, or a shard file is missing or
            not the manifest's.
    """
    gen = Path(manifest["_generation"])
    try:
        n = int(manifest["num_shards"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _damaged(d, f"invalid manifest ({exc!r})") from exc
    for i in range(n):
        _check_shard_file(d, gen, i, n, _shard_version(manifest, i))
    return [gen / f"shard-{i:03d}.db" for i in range(n)]


def _replace_distributed_catalog(d: Path, manifest: dict[str, Any], catalog: Catalog) -> None:
    """Make a new generation of the store folder ``d`` holding the current one's files
    (hard links, or copies where the file system makes none) and its manifest with
    ``catalog`` in it, and switch to it, as a save does (the caller holds the store's lock).

    Tagging a sharded store wrote every shard file again; only the manifest changes.
    """
    from phago import __version__

    _, last, version = _prepare_dir(d, catalog=False)
    if version != _manifest_version(manifest):
        raise _changed(d)
    current = Path(manifest["_generation"])

    def write(tmp: Path) -> dict[str, Any]:
        for f in sorted(current.iterdir()):
            if f.name != "manifest.json" and f.is_file():
                try:
                    os.link(f, tmp / f.name)
                except OSError:
                    shutil.copy2(f, tmp / f.name)
        body = {k: v for k, v in manifest.items() if not k.startswith("_")}
        body["catalog"] = _catalog_to_json(catalog)
        body["phago_version"] = __version__
        body["saved_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        return body

    _new_generation(d, last, write, "cannot save")


def _rewritable_meta(manifest: dict[str, Any]) -> dict[str, Any]:
    """What of a distributed store's ``manifest`` a rewrite of its shards writes again (not
    the summary, catalog, format and versions, which the writer makes anew)."""
    skipped = {"summary", "catalog", "format", "schema_version", "phago_version", "saved_at"}
    return {k: v for k, v in manifest.items() if k not in skipped and not k.startswith("_")}


def _owned_node_count(manifest: dict[str, Any], states: list[ColonyState]) -> int:
    """The concepts of a distributed store's shard states: each counted on its owner."""
    from phago.distributed import ConsistentHashRing

    ring = ConsistentHashRing(int(manifest["num_shards"]), int(manifest["virtual_nodes"]))
    return sum(
        int(np.count_nonzero(ring.get_shards(st.graph.ids) == i)) for i, st in enumerate(states)
    )


def _forget_ghosts(ghosts: list[dict[str, Any]], drop: set[int], docs: set[int]) -> None:
    """Ghost data held in a distributed store (cached, or answers held between ticks) after
    a forget: the ghosts of removed nodes go, the others no longer name forgotten documents
    (degree-cap orders travelling with the answers are left to :func:`_renumber_cap_orders`)."""
    kept = []
    for g in ghosts:
        if "cap_order" not in g:
            if int(g["node_id"]) in drop:
                continue
            data = g.get("data")
            if data is not None:
                data["documents"] = [d for d in data["documents"] if int(d) not in docs]
        kept.append(g)
    ghosts[:] = kept


def _forget_distributed(p: Path, ids: list[int], files: list[str]) -> ForgetReport:
    from phago.distributed import ConsistentHashRing
    from phago.state import ForgetReport, forget_documents, plan_forget

    manifest, states, extras, counts, _ = _read_shards(p, terms=True)
    version = _manifest_version(manifest)
    ring = ConsistentHashRing(int(manifest["num_shards"]), int(manifest["virtual_nodes"]))
    plan = plan_forget(states, ids)  # one decision for the cluster: every shard follows it
    total = ForgetReport(distributed=True)  # (no kept_nodes: each shard renumbers its own)
    held: set[int] = set()
    renumbered: dict[int, dict[int, int]] = {}  # shard: old node index to new
    # a concept has a copy on every shard that holds one of its edges: count those its
    # owner no longer holds (the cluster's concepts), not the copies
    nodes_before = _owned_node_count(manifest, states)
    for i, (st, ex) in enumerate(zip(states, extras, strict=True)):
        owned = ring.get_shards(st.graph.ids) == i
        r = forget_documents(st, ids, plan, owned)
        held.update(r.documents_removed)
        total.edges_removed += r.edges_removed
        total.edges_weakened += r.edges_weakened
        if r.nodes_removed:
            kept = r.kept_nodes
            ex["ghost_known"] = np.asarray(ex["ghost_known"], dtype=np.bool_)[kept]
            new_index = {int(old): i for i, old in enumerate(kept.tolist())}
            ex["ghost_pending"] = sorted(
                new_index[int(x)] for x in ex.get("ghost_pending", []) if int(x) in new_index
            )
            for key in ("cap_reported", "cap_table"):  # degree-cap rows per node
                if key in ex:
                    ex[key] = np.asarray(ex[key])[kept]
            renumbered[i] = new_index
    total.nodes_removed = nodes_before - _owned_node_count(manifest, states)
    drop = {int(x) for x in plan.drop.tolist()}
    for ex in extras:
        _forget_ghosts(ex.get("ghosts", []), drop, set(ids))
    for answers in manifest.get("ghost_answers", {}).values():
        _forget_ghosts(answers, drop, set(ids))
    for by_requester in manifest.get("asks", {}).values():  # ghost requests, by NodeId
        for req, items in by_requester.items():
            by_requester[req] = [x for x in items if isinstance(x, dict) or int(x) not in drop]
    _renumber_asks(manifest.get("asks", {}), renumbered)
    _renumber_inflight_drops(extras, renumbered)
    _renumber_cap_orders(manifest.get("ghost_answers", {}), renumbered)
    total.documents_removed = [d for d in ids if d in held]
    total.unknown = [d for d in ids if d not in held]
    catalog = _catalog_from_json(manifest.get("catalog", {}))
    if not catalog.drop_files(files) and not held:  # nothing to forget: the store stays
        return total
    meta = _rewritable_meta(manifest)
    try:
        graph = merged_graph(meta, states)[0]  # every shard restores, the shards fit together
    except PhagoError as exc:
        raise StoreError(f"cannot forget in {p}: the result would not load ({exc})") from exc
    terms = [
        None if t is None else t.keep(np.asarray(st.substrate.doc_ids, dtype=np.uint64)).compact()
        for t, st in zip(counts, states, strict=True)
    ]
    _write_distributed(p, meta, states, extras, catalog, version, terms, graph)
    return total


def _forget_locked(p: Path, ids: list[int], files: list[str]) -> ForgetReport:
    from phago.state import forget_documents, restore

    if is_distributed_store(p):
        return _forget_distributed(p, ids, files)
    state, catalog, version, terms, counter = _load_counted(p)
    before = _WrittenRows.of(state, catalog, counter)  # (rows after the first forgotten go)
    report = forget_documents(state, ids)
    if not catalog.drop_files(files) and not report.documents_removed:
        return report  # nothing to forget: the store stays as it is
    try:
        restore(state)
    except StoreError as exc:
        raise StoreError(f"cannot forget in {p}: the result would not load ({exc})") from exc
    if terms is not None:  # the kept documents' counts stay
        terms = terms.keep(state.substrate.doc_ids.astype(np.uint64)).compact()
    _save_state(state, p, catalog, "colony", read_extra(p), version, terms, before)
    return report


def _rmtree(p: Path) -> None:
    import shutil

    shutil.rmtree(p, ignore_errors=True)


def _catalog_to_json(cat: Catalog) -> dict[str, Any]:
    """A catalog as a distributed store's manifest holds it (:func:`_catalog_from_json`)."""
    info = _info_json(cat)
    return {
        **({} if info is None else {_DOCUMENT_INFO: info}),
        "sources": [
            [str(s.path), str(s.content_hash), str(s.doc_id), int(s.part), int(s.parts)]
            for s in cat.sources
        ],
        "history": [
            [int(h.tick), int(h.nodes), int(h.edges), int(h.documents), int(h.digested)]
            for h in cat.history
        ],
    }


def _catalog_from_json(d: dict[str, Any]) -> Catalog:
    """The catalog a distributed store's manifest holds (:func:`_catalog_to_json`).

    Raises:
        StoreError: its documents' information is damaged.
    """
    cat = Catalog(
        [
            SourceRecord(str(p), str(h), int(i), int(k), int(n))
            for p, h, i, k, n in d.get("sources", [])
        ],
        [HistoryPoint(*map(int, row)) for row in d.get("history", [])],
    )
    if _DOCUMENT_INFO in d:
        try:
            cat.info, cat.file_tags, cat.texts = _info_from_json(d[_DOCUMENT_INFO], given=True)
        except ValueError as exc:
            raise StoreError(f"the store's manifest is damaged: {_DOCUMENT_INFO}: {exc}") from exc
    return cat


def read_distributed_catalog(path: PathLike) -> Catalog:
    """The catalog (sources, history) of a distributed store."""
    return _catalog_from_json(read_manifest(path).get("catalog", {}))


def read_shard_states(
    path: PathLike,
) -> tuple[dict[str, Any], list[ColonyState], list[dict[str, Any]]]:
    """Manifest, each shard's colony state and extras of a distributed store (no cluster is
    started)."""
    manifest, states, extras, _, _ = _read_shards(Path(path), terms=False)
    return manifest, states, extras


def _read_shards(
    d: Path, terms: bool
) -> tuple[
    dict[str, Any],
    list[ColonyState],
    list[dict[str, Any]],
    list[SavedTermCounts | None],
    list[int | None],
]:
    """:func:`read_shard_states`, each shard file's term counts (``terms``; else None for
    each) and change counter (:func:`_change_counter`, None where a write came in while it
    was read)."""
    manifest = read_manifest(d)
    states, extras, counts = [], [], []
    counters: list[int | None] = []
    for f in _shard_files(d, manifest):
        state, _, _, saved, counter = _load_counted(f, shard=True, terms=terms)
        counters.append(counter)
        states.append(state)
        counts.append(saved)
        extra = read_extra(f)
        extra.pop(_SHARD_INDEX, None)
        extra.pop(_SHARD_COUNT, None)
        extras.append(extra)
    return manifest, states, extras, counts, counters


def load_distributed(directory: PathLike, backend: str | None = None, **options: Any) -> Any:
    """Load a distributed colony saved with :func:`save_distributed`; running it continues the
    saved run exactly. As with :func:`load`, the colony remembers the version of the store
    it came from, and :func:`save_distributed` back to it refuses to overwrite a newer one.

    Args:
        directory: the store folder.
        backend: ``local`` or ``ray``; None uses the one it was saved with.
        options: more :class:`~phago.distributed.DistributedColony` arguments (runner
            configuration, Ray address, checkpoints, ...); the shard count, seed, ring,
            ghost caches and colony configuration are the store's.

    Raises:
        StoreError: the store cannot be read or is inconsistent (a shard file missing, or
            holding another shard than its name says).
        ConfigError: an option the store fixes (``seed``, ``num_shards``, ``config``,
            ``virtual_nodes``, ``ghost_cache_size``), or an unknown one.
    """
    return _load_distributed(directory, backend, options)[0]


def load_distributed_with_catalog(
    directory: PathLike, backend: str | None = None, **options: Any
) -> tuple[Any, Catalog]:
    """:func:`load_distributed`, and the store's catalog (sources, history, the documents'
    information), taken from the manifest the load read (not read again).

    Raises:
        StoreError: as :func:`load_distributed`, or the catalog is damaged (the colony
            is closed again).
    """
    dc, manifest = _load_distributed(directory, backend, options)
    try:
        return dc, _catalog_from_json(manifest.get("catalog", {}))
    except BaseException:
        dc.close()
        raise


def _load_distributed(
    directory: PathLike, backend: str | None, options: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """:func:`load_distributed`, and the manifest it read."""
    from phago.config import ColonyConfig
    from phago.distributed import DistributedColony
    from phago.distributed.colony import check_resume_options
    from phago.distributed.runner import LocalShardHandle
    from phago.distributed.shard import ShardedColony
    from phago.distributed.types import ShardId
    from phago.query.term_counts import merge_saved_counts
    from phago.state import restore

    d = store_path(directory)
    check_resume_options(options, f"the store {d}")
    manifest, states, extras, counts, counters = _read_shards(d, terms=True)
    # each shard file's version and rows (taken before the shards change the states): a
    # save back copies a shard file and writes only what changed
    rows = tuple(
        (_shard_version(manifest, i), _WrittenRows.of(st, Catalog(), counter))
        for i, (st, counter) in enumerate(zip(states, counters, strict=True))
    )
    try:
        config = ColonyConfig.from_dict(manifest["config"])
    except (PhagoError, TypeError, ValueError) as exc:
        raise StoreError(f"cannot load {d}: invalid colony config ({exc})") from exc
    capacity = int(extras[0].get("ghost_capacity", 1000)) if extras else 1000
    options["ghost_cache_size"] = capacity
    options["virtual_nodes"] = int(manifest["virtual_nodes"])
    dc = DistributedColony(
        int(manifest["num_shards"]),
        backend or str(manifest.get("backend", "local")),
        config,
        int(manifest["seed"]),
        **options,
    )
    try:
        for i, h in enumerate(dc.runner.handles):
            try:
                colony = restore(states[i])
            except StoreError as exc:
                raise StoreError(f"cannot load {d} (shard {i}): {exc}") from exc
            sh = ShardedColony(ShardId(i), config, dc.ring, ghost_cache_size=capacity, seed=dc.seed)
            sh.colony = colony
            colony.presentation_hook = sh
            known = np.asarray(extras[i].get("ghost_known", []), dtype=np.bool_)
            pending = np.zeros(len(known), dtype=np.bool_)
            pending_idx = np.asarray(extras[i].get("ghost_pending", []), dtype=np.int64)
            if len(pending_idx) and (pending_idx.min() < 0 or pending_idx.max() >= len(known)):
                raise _damaged(d, f"shard {i} pending ghosts name unknown nodes")
            pending[pending_idx] = True
            try:
                sh.set_ghost_flags(known, pending)
            except ValueError as exc:
                raise _damaged(d, f"shard {i} ghost flags do not match its graph") from exc
            for g in extras[i].get("ghosts", []):
                sh.ghost_cache.insert(_ghost(g))
            if "cap_reported" in extras[i]:
                try:
                    sh.set_degree_cap_state(
                        extras[i]["cap_reported"],
                        extras[i]["cap_table"],
                        extras[i].get("cap_inflight"),
                        extras[i],
                    )
                except (KeyError, ValueError) as exc:
                    raise _damaged(d, f"shard {i} degree-cap state: {exc}") from exc
            if isinstance(h, LocalShardHandle):  # (in this process: the object itself)
                h.adopt(sh)
            else:
                dc._run(h.restore(sh.snapshot()))
        dc.coordinator.set_tick(int(manifest["tick"]))
        dc._layout_next = int(manifest["layout_next"])
        dc.history = [tuple(h) for h in manifest.get("history", [])]
        timeline = extras[0].get(_CLUSTER_TIMELINE) if extras else None
        if timeline is not None:
            if not _timeline_shaped(timeline):
                raise _damaged(d, f"invalid array in shard 0's {_CLUSTER_TIMELINE!r}")
            dc._timeline.extend_rows(timeline)
        try:
            held = _held_from_json(manifest)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _damaged(d, f"the messages held between ticks: {exc!r}") from exc
        dc.runner.set_held(held)
        dc._version += 1
    except BaseException:
        dc.close()
        raise
    # the shards' term counts, so that the first query does not count every document again
    # (a store saved before they kept them, or a damaged part: counted then)
    parts = [c for c in counts if c is not None]
    dc.saved_term_counts = merge_saved_counts(parts) if len(parts) == len(counts) else None
    _remember(dc, d, _manifest_version(manifest), rows)
    return dc, manifest
