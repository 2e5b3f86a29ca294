"""Ingestion of real files: discover, extract text, split, skip duplicates and bad input.

Supported files (found recursively under folders; symbolic links to folders are not
followed): ``.txt``, ``.text``, ``.md``, ``.markdown``, ``.rst`` (read as text),
``.html``, ``.htm``, ``.xhtml`` (text extracted with :mod:`html.parser`; ``script``,
``style``, ``noscript`` and ``template`` are skipped; the ``<title>`` becomes the document
title) and ``.pdf`` (text extracted with :mod:`pypdf`, page by page).

Every file is read in chunks of 1 MiB and split into documents of at most ``max_chars``
characters on paragraph boundaries (then line, sentence, word boundaries), so a huge file is
never loaded as one string. A file is read twice: first to validate it completely (text
encoding, NUL bytes, emptiness) and hash its text, then to add its parts; a bad file is
therefore skipped whole and never half-added.

Bad input is reported, never fatal: empty or whitespace-only files
(:class:`~phago.errors.EmptyDocument`), binary files (NUL bytes) and text that is not valid in
the chosen encoding (:class:`~phago.errors.DocumentError`), unreadable files and unsupported
types are listed in :attr:`IngestReport.skipped` with the reason; every message names the file.

Duplicates by content: the SHA-256 of a file's extracted text (over its parts) is kept in the
store's catalog; a file whose text is already stored, under any name, is a duplicate and is
skipped, so ingesting the same paths again changes nothing.

Example:
    >>> import tempfile, pathlib
    >>> from phago import Colony
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.txt").write_text("Cells have membranes.\\n\\nMembranes hold proteins.")
    >>> _ = (d / "copy.md").write_text("Cells have membranes.\\n\\nMembranes hold proteins.")
    >>> _ = (d / "empty.txt").write_text("   ")
    >>> colony = Colony()
    >>> report, sources = ingest_paths(colony, [d])
    >>> report.documents_added, len(report.duplicates), [s.reason[-26:] for s in report.skipped]
    (1, 1, ['empty.txt: only whitespace'])
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from phago._arrays import unique_sorted
from phago.agents.digester import Digester
from phago.colony import Colony, check_document, check_keyword_counts
from phago.config import ColonyConfig
from phago.errors import ConfigError, DocumentError, EmptyDocument, PhagoError
from phago.ids import AgentId, DocumentId, document_id
from phago.store import SourceRecord
from phago.types import Position

if TYPE_CHECKING:
    from phago.distributed import DistributedTickResult

__all__ = [
    "DEFAULT_MAX_CHARS",
    "SUPPORTED_SUFFIXES",
    "AddedFile",
    "DistributedSink",
    "DocumentSink",
    "FileInfo",
    "IngestReport",
    "SkippedFile",
    "digest_new_distributed",
    "digest_new_documents",
    "discover",
    "ingest_paths",
    "inspect_file",
    "read_parts",
    "split_text",
    "text_chunks",
]

SUPPORTED_SUFFIXES: dict[str, str] = {
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".markdown": "text",
    ".rst": "text",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
}
"""File suffix → extractor kind."""

DEFAULT_MAX_CHARS = 50_000
"""Default largest document (characters); longer files are split into parts."""

READ_CHUNK = 1 << 20


class DocumentSink(Protocol):
    """Where ingested documents go: a :class:`~phago.colony.Colony` or a
    :class:`~phago.distributed.DistributedColony`."""

    @property
    def config(self) -> ColonyConfig:
        """The colony configuration (``max_document_chars`` bounds the parts)."""
        ...

    def ingest_document(self, title: str, content: str) -> DocumentId:
        """Store one document; returns its id."""
        ...


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A file that was not ingested, and why (``reason`` names the file)."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class AddedFile:
    """A file whose text was added as ``len(doc_ids)`` documents."""

    path: str
    doc_ids: tuple[DocumentId, ...]
    content_hash: str
    chars: int


@dataclass
class IngestReport:
    """What an ingestion did: files added, duplicates, files skipped with the reason."""

    added: list[AddedFile] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    @property
    def documents_added(self) -> int:
        """Documents added (a split file counts each part)."""
        return sum(len(a.doc_ids) for a in self.added)

    @property
    def new_document_ids(self) -> list[DocumentId]:
        """Ids of the documents added, in order."""
        return [d for a in self.added for d in a.doc_ids]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (counts and details)."""
        return {
            "files_added": len(self.added),
            "documents_added": self.documents_added,
            "duplicates": len(self.duplicates),
            "skipped": len(self.skipped),
            "added": [
                {"path": a.path, "documents": [str(d) for d in a.doc_ids], "chars": a.chars}
                for a in self.added
            ],
            "duplicate_files": list(self.duplicates),
            "skipped_files": [{"path": s.path, "reason": s.reason} for s in self.skipped],
        }


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A validated file: its title, the hash of its text, how many parts, how many chars."""

    path: Path
    title: str
    content_hash: str
    parts: int
    chars: int


# ---------------------------------------------------------------------------- discovery


def discover(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[SkippedFile]]:
    """Supported files under ``paths`` (folders recursively), sorted per argument, no repeats.

    Named files of an unsupported type, missing paths and folders that cannot be read are
    returned as skipped.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "b.md").write_text("x"); _ = (d / "a.bin").write_bytes(b"x")
        >>> files, skipped = discover([d, d / "nope.txt"])
        >>> [f.name for f in files], len(skipped)
        (['b.md'], 1)
    """
    files: list[Path] = []
    skipped: list[SkippedFile] = []
    seen: set[str] = set()

    def take(p: Path) -> None:
        key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            files.append(p)

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found: list[Path] = []

            def unreadable(exc: OSError, top: Path = p) -> None:
                where = exc.filename or top
                skipped.append(
                    SkippedFile(str(where), f"{where}: cannot read ({exc.strerror or exc})")
                )

            for root, dirs, names in os.walk(p, onerror=unreadable, followlinks=False):
                dirs.sort()
                for name in names:
                    f = Path(root) / name
                    if f.suffix.lower() in SUPPORTED_SUFFIXES and f.is_file():
                        found.append(f)
            for f in sorted(found):
                take(f)
        elif p.is_file():
            if p.suffix.lower() in SUPPORTED_SUFFIXES:
                take(p)
            else:
                skipped.append(SkippedFile(str(p), f"{p}: unsupported file type {p.suffix!r}"))
        elif p.exists():
            skipped.append(SkippedFile(str(p), f"{p}: not a regular file"))
        else:
            skipped.append(SkippedFile(str(p), f"{p}: no such file or directory"))
    return files, skipped


# ---------------------------------------------------------------------------- extraction


_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template"})
_WS = re.compile(r"\s+")


class _HTMLText(HTMLParser):
    """Collects visible text; block elements become paragraph breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in _BLOCK_TAGS:
            self.pieces.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in _BLOCK_TAGS:
            self.pieces.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title = (self.title + " " + _WS.sub(" ", data)).strip()
            return
        text = _WS.sub(" ", data)
        if text.strip():
            self.pieces.append(text)

    def drain(self) -> str:
        out = "".join(self.pieces)
        self.pieces = []
        return out


def _decoded(path: Path, encoding: str, chunk_size: int) -> Iterator[str]:
    """The file's text in chunks; raises DocumentError on NUL bytes or undecodable bytes."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError as exc:
        raise DocumentError(f"{path}: unknown text encoding {encoding!r}") from exc
    offset = 0
    first = True
    with open(path, "rb") as fh:
        while True:
            raw = fh.read(chunk_size)
            final = not raw
            if raw and b"\x00" in raw:
                raise DocumentError(f"{path}: binary file (contains NUL bytes)")
            try:
                text = decoder.decode(raw, final=final)
            except UnicodeDecodeError as exc:
                raise DocumentError(
                    f"{path}: not valid {encoding} text (undecodable byte at offset "
                    f"{offset + max(exc.start, 0)})"
                ) from exc
            offset += len(raw)
            if first and text:
                text = text.removeprefix("\ufeff")
                first = False
            if text:
                yield text
            if final:
                return


def _html_chunks(path: Path, encoding: str, chunk_size: int, meta: dict[str, str]) -> Iterator[str]:
    parser = _HTMLText()
    for text in _decoded(path, encoding, chunk_size):
        parser.feed(text)
        out = parser.drain()
        if parser.title:
            meta["title"] = parser.title
        if out:
            yield out
    parser.close()
    if parser.title:
        meta["title"] = parser.title
    out = parser.drain()
    if out:
        yield out


def _pdf_chunks(path: Path) -> Iterator[str]:
    try:
        from pypdf import PdfReader
    except ImportError as exc:  # pragma: no cover - pypdf is a declared dependency
        raise DocumentError(f"{path}: reading PDF needs the 'pypdf' package") from exc
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(f"{path}: the PDF is encrypted")
        for page in reader.pages:
            text = page.extract_text() or ""
            if "\x00" in text:
                text = text.replace("\x00", "")
            yield text + "\n\n"
    except (DocumentError, OSError):
        raise
    except Exception as exc:  # pypdf raises many kinds of errors on broken files
        raise DocumentError(f"{path}: cannot read the PDF ({type(exc).__name__}: {exc})") from exc


def text_chunks(
    path: str | os.PathLike[str],
    *,
    encoding: str = "utf-8",
    chunk_size: int | None = None,
    meta: dict[str, str] | None = None,
) -> Iterator[str]:
    """The extracted text of a supported file, as a stream of chunks.

    Args:
        path: the file.
        encoding: text encoding of text and HTML files (a leading BOM is dropped).
        chunk_size: bytes read at a time (None: :data:`READ_CHUNK`, 1 MiB).
        meta: filled with ``title`` when the file declares one (HTML ``<title>``).

    Raises:
        DocumentError: binary, undecodable, unsupported or unreadable as PDF (names the file).
        OSError: the file cannot be opened.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.html"
        >>> _ = p.write_text("<html><script>var x;</script><p>Hello <b>cells</b></p></html>")
        >>> "".join(text_chunks(p)).strip()
        'Hello cells'
    """
    p = Path(path)
    kind = SUPPORTED_SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise DocumentError(f"{p}: unsupported file type {p.suffix!r}")
    size = READ_CHUNK if chunk_size is None else max(1, int(chunk_size))
    if kind == "pdf":
        return _pdf_chunks(p)
    if kind == "html":
        return _html_chunks(p, encoding, size, meta if meta is not None else {})
    return _decoded(p, encoding, size)


def _cut(buf: str, limit: int) -> int:
    lo = limit // 2
    for sep in ("\n\n", "\n", ". ", " "):
        k = buf.rfind(sep, lo, limit)  # the separator lies wholly inside buf[lo:limit]
        if k >= 0:
            return k + len(sep)
    return limit


def split_text(chunks: Iterable[str], max_chars: int) -> Iterator[str]:
    """Split a stream of text into stripped parts of at most ``max_chars`` characters.

    Cuts at the last paragraph break in the second half of the window, else a line break,
    a sentence end, a space, else hard at ``max_chars``. Whitespace-only parts are dropped.

    Example:
        >>> list(split_text(["aaa bbb\\n\\nccc ", "ddd"], 8))
        ['aaa bbb', 'ccc ddd']
    """
    if max_chars < 1:
        raise ConfigError("max_chars must be >= 1")
    buf = ""
    for chunk in chunks:
        buf += chunk
        while len(buf) > max_chars:
            k = _cut(buf, max_chars)
            part, buf = buf[:k].strip(), buf[k:]
            if part:
                yield part
    part = buf.strip()
    if part:
        yield part


def _parts(p: Path, max_chars: int, encoding: str, meta: dict[str, str]) -> Iterator[str]:
    return split_text(text_chunks(p, encoding=encoding, meta=meta), max_chars)


def inspect_file(
    path: str | os.PathLike[str],
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    encoding: str = "utf-8",
    max_keywords: int | None = None,
) -> FileInfo:
    """Validate a file completely and describe it (nothing is kept in memory but counts).

    Args:
        path: the file.
        max_chars: the longest part; a longer text is split into parts.
        encoding: of a text file.
        max_keywords: refuse the file if a part has more distinct keywords than this (a
            colony config's :attr:`~phago.config.ColonyConfig.clique_keyword_limit`);
            None: no limit.

    Raises:
        EmptyDocument: the file is empty, whitespace only, or has no extractable text.
        DocumentError: binary, undecodable, unsupported, a broken PDF, or a part with more
            than ``max_keywords`` distinct keywords.
        OSError: the file cannot be read.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> _ = p.write_text("one\\n\\ntwo three")
        >>> info = inspect_file(p, max_chars=5)
        >>> info.parts, info.title
        (3, 'x')
    """
    p = Path(path)
    meta: dict[str, str] = {}
    h = hashlib.sha256()
    parts = chars = 0
    for part in _parts(p, max_chars, encoding, meta):
        check_keyword_counts([f"{p.name} (part {parts + 1})"], [part], max_keywords)
        data = part.encode("utf-8")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
        parts += 1
        chars += len(part)
    if parts == 0:
        if p.stat().st_size == 0:
            raise EmptyDocument(f"{p}: empty file")
        if SUPPORTED_SUFFIXES.get(p.suffix.lower()) == "text":
            raise EmptyDocument(f"{p}: only whitespace")
        raise EmptyDocument(f"{p}: no text could be extracted")
    # (a file name that is not UTF-8 holds lone surrogates, which no title may)
    title = meta.get("title") or p.stem.encode("utf-8", "surrogateescape").decode(
        "utf-8", "replace"
    )
    return FileInfo(p, title, h.hexdigest(), parts, chars)


def read_parts(
    path: str | os.PathLike[str], *, max_chars: int = DEFAULT_MAX_CHARS, encoding: str = "utf-8"
) -> Iterator[str]:
    """The parts of a file (as :func:`inspect_file` counted them), streamed.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> _ = p.write_text("one\\n\\ntwo three")
        >>> list(read_parts(p, max_chars=9))
        ['one', 'two three']
    """
    return _parts(Path(path), max_chars, encoding, {})


# ---------------------------------------------------------------------------- ingestion


def ingest_paths(
    colony: DocumentSink,
    paths: Iterable[str | os.PathLike[str]],
    *,
    known_hashes: set[str] | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    encoding: str = "utf-8",
    on_file: Callable[[Path, str], None] | None = None,
    files: Sequence[Path] | None = None,
) -> tuple[IngestReport, list[SourceRecord]]:
    """Add the supported files under ``paths`` to ``colony`` as documents.

    Each file is validated first (see :func:`inspect_file`); a bad file is skipped whole.
    Documents are placed on the colony's layout grid. Files whose text hash is in
    ``known_hashes`` (or that appeared earlier in this call) are duplicates.

    Args:
        colony: the colony to add documents to.
        paths: files and folders.
        known_hashes: hashes of files already stored (updated in place).
        max_chars: largest document; longer files are split (at most the colony's
            ``max_document_chars``).
        encoding: text encoding of text and HTML files.
        on_file: called after each file with its path and outcome
            (``added``, ``duplicate`` or ``skipped``).
        files: files the caller already found with :func:`discover`; when given, ``paths``
            is ignored.

    Returns:
        The report and the source records of the documents added (for the store's catalog).

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "bin.txt").write_bytes(b"\\x00\\x01")
        >>> report, _ = ingest_paths(Colony(), [d])
        >>> report.skipped[0].reason.endswith("bin.txt: binary file (contains NUL bytes)")
        True
    """
    known = known_hashes if known_hashes is not None else set()
    limit = max(1, min(int(max_chars), colony.config.max_document_chars))
    report = IngestReport()
    if files is None:
        found, skipped = discover(paths)
        report.skipped.extend(skipped)
    else:
        found = list(files)
    sources: list[SourceRecord] = []
    for f in found:
        outcome = "skipped"
        try:
            info = inspect_file(
                f,
                max_chars=limit,
                encoding=encoding,
                max_keywords=colony.config.clique_keyword_limit,
            )
        except DocumentError as exc:
            report.skipped.append(SkippedFile(str(f), str(exc)))
        except OSError as exc:
            report.skipped.append(
                SkippedFile(str(f), f"{f.name}: cannot read ({exc.strerror or exc})")
            )
        else:
            if info.content_hash in known:
                report.duplicates.append(str(f))
                outcome = "duplicate"
            else:
                outcome = _add_file(colony, f, info, limit, encoding, report, sources)
                if outcome == "added":
                    known.add(info.content_hash)
        if on_file is not None:
            on_file(f, outcome)
    return report, sources


def _add_file(
    colony: DocumentSink,
    f: Path,
    info: FileInfo,
    limit: int,
    encoding: str,
    report: IngestReport,
    sources: list[SourceRecord],
) -> str:
    abspath = os.path.abspath(f)
    ids: list[DocumentId] = []
    try:
        for k, part in enumerate(read_parts(f, max_chars=limit, encoding=encoding), 1):
            title = info.title if info.parts == 1 else f"{info.title} (part {k}/{info.parts})"
            did = colony.ingest_document(title, part)
            ids.append(did)
            sources.append(SourceRecord(abspath, info.content_hash, int(did), k, info.parts))
    except (PhagoError, OSError) as exc:
        # the file changed between validation and reading; keep what was added, say so
        reason = f"{f}: changed or failed while reading ({exc}); {len(ids)} part(s) kept"
        report.skipped.append(SkippedFile(str(f), reason))
        if ids:
            report.added.append(AddedFile(abspath, tuple(ids), info.content_hash, info.chars))
        return "skipped"
    report.added.append(AddedFile(abspath, tuple(ids), info.content_hash, info.chars))
    return "added"


def digest_new_documents(
    colony: Colony,
    doc_ids: Sequence[DocumentId],
    *,
    digesters: int = 10,
    max_ticks: int = 5000,
    max_idle: int = 60,
    on_tick: Callable[[int], None] | None = None,
    retire: bool = True,
) -> int:
    """Spawn digesters next to new documents, run until every document is digested, then
    retire the digesters.

    ``min(digesters, len(doc_ids))`` digesters are spawned one unit from documents spread
    evenly over ``doc_ids`` (their seeds come from the colony's generator, so runs are
    reproducible). Returns the number of ticks run.

    With ``retire`` (the default, and what ``phago ingest`` does) the digesters spawned
    here leave the colony once the run ends (:meth:`Colony.retire_agents
    <phago.colony.Colony.retire_agents>`), so a store ingested into again and again does not
    pile up idle digesters; one still holding undigested text (``max_ticks`` ran out) is
    kept, so that a later run finishes its document. Agents that were in the colony before
    are left alone. ``retire=False`` keeps them all.

    Example:
        >>> from phago import Colony
        >>> c = Colony(seed=0)
        >>> d = c.ingest_document("t", "cell membrane protein")
        >>> digest_new_documents(c, [d], digesters=1) > 0, c.stats().documents_digested
        (True, 1)
        >>> c.stats().agents_alive, c.total_retired
        (0, 1)
    """
    spawned: list[AgentId] = []
    if doc_ids and digesters > 0:
        k = min(int(digesters), len(doc_ids))
        step = len(doc_ids) / k
        for j in range(k):
            p = colony.substrate.get_document(doc_ids[int(j * step)]).position
            spawned.append(
                colony.spawn(Digester(Position(p.x + 1.0, p.y + 1.0), max_idle=max_idle))
            )
    ran = colony.run_until_digested(max_ticks, on_tick=on_tick)
    if retire and spawned:
        done = {a.id for a in colony.agents if not a.is_digesting}
        colony.retire_agents([a for a in spawned if a in done])
    return ran


class DistributedSink:
    """A :class:`DocumentSink` over a :class:`~phago.distributed.DistributedColony` that
    remembers where each document it added was placed (for :func:`digest_new_distributed`).

    Documents are checked and given their id and place at once, and queued: they reach
    their shards at :meth:`flush` (many per call: on Ray one call per document costs about
    2 ms, a batch of thousands under 0.1 ms per document), which
    :func:`digest_new_distributed` and leaving a ``with`` block do first.

    Example:
        >>> from phago.distributed import DistributedColony
        >>> with DistributedColony(num_shards=2, seed=0) as dc:
        ...     with DistributedSink(dc) as sink:
        ...         d = sink.ingest_document("Cells", "cell membrane protein")
        ...         queued = sink.pending
        ...     queued, [doc.id for doc in dc.documents()] == [d], sink.pending
        (1, True, 0)
    """

    def __init__(self, dc: Any, batch: int = 1024) -> None:
        self.dc = dc
        self.batch = max(1, int(batch))
        self.positions: dict[int, Position] = {}
        self._queue: list[tuple[str, str, Position]] = []

    def __enter__(self) -> DistributedSink:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self.flush()

    @property
    def config(self) -> ColonyConfig:
        """The cluster's colony configuration."""
        config: ColonyConfig = self.dc.config
        return config

    @property
    def pending(self) -> int:
        """Documents queued and not yet sent to their shards."""
        return len(self._queue)

    def ingest_document(self, title: str, content: str) -> DocumentId:
        """Check the document, place it on the cluster's layout grid and queue it.

        Raises:
            EmptyDocument: empty or whitespace-only content.
            DocumentError: binary or oversized content.
        """
        check_document(title, content, self.dc.config.max_document_chars)
        check_keyword_counts([title], [content], self.dc.config.clique_keyword_limit)
        p = Position(*self.dc._next_xy())
        did = document_id(title, content)
        self._queue.append((title, content, p))
        self.positions.setdefault(int(did), p)
        return did

    def flush(self) -> int:
        """Send the queued documents to their shards (a batch per shard); returns how many.

        Raises:
            DistributedError: a shard could not store its batch (the queue is kept; sending
                it again stores each document once, also on shards that stored theirs).
        """
        if not self._queue:
            return 0
        self.dc.ingest_documents(self._queue)
        sent, self._queue = len(self._queue), []
        return sent

    def flush_when_full(self) -> int:
        """:meth:`flush` once ``batch`` documents are queued (else nothing); returns how
        many were sent."""
        return self.flush() if len(self._queue) >= self.batch else 0


def digest_new_distributed(
    sink: DistributedSink,
    doc_ids: Sequence[DocumentId],
    *,
    digesters: int = 10,
    max_ticks: int = 5000,
    max_idle: int = 60,
    on_tick: Callable[[int], None] | None = None,
    on_progress: Callable[[DistributedTickResult], None] | None = None,
    retire: bool = True,
) -> int:
    """As :func:`digest_new_documents`, for a distributed colony: each digester is spawned on
    the shard that holds the document it starts beside. Returns the ticks run.
    ``on_tick`` and ``on_progress`` as in :meth:`DistributedColony.run
    <phago.distributed.DistributedColony.run>` (``on_progress`` is the cheap one on Ray).

    Agents never leave their shard, so the digesters are shared out by shard: each shard
    holding new documents gets a share of ``digesters`` in proportion to its share of them,
    and at least one (a shard without a digester would never digest its documents), placed
    beside documents spread evenly over its own; so up to one digester per shard more than
    ``digesters`` may be spawned. With ``retire`` (the default) they are retired once the
    run ends, as in :func:`digest_new_documents`
    (:meth:`DistributedColony.retire_agents
    <phago.distributed.DistributedColony.retire_agents>`).

    Example:
        >>> from phago.distributed import DistributedColony
        >>> with DistributedColony(num_shards=2, seed=0) as dc:
        ...     sink = DistributedSink(dc)
        ...     d = sink.ingest_document("Cells", "cell membrane protein")
        ...     _ = digest_new_distributed(sink, [d], digesters=1)
        ...     dc.stats().documents_digested, dc.stats().agents_alive
        (1, 0)
    """
    sink.flush()
    dc = sink.dc
    spawned: list[AgentId] = []
    if doc_ids and digesters > 0:
        owners = dc.coordinator.route_documents(np.array([int(d) for d in doc_ids], np.uint64))
        for shard in unique_sorted(owners).tolist():
            mine = [doc_ids[i] for i in np.flatnonzero(owners == shard).tolist()]
            k = max(1, min(len(mine), round(int(digesters) * len(mine) / len(doc_ids))))
            step = len(mine) / k
            agents = []
            for j in range(k):
                p = sink.positions[int(mine[int(j * step)])]
                agents.append(Digester(Position(p.x + 1.0, p.y + 1.0), max_idle=max_idle))
            spawned.extend(dc._call(shard, "spawn_many", agents))
        dc._version += 1
    ran: int = dc.run_until_digested(max_ticks, on_tick=on_tick, on_progress=on_progress)
    if retire and spawned:
        done = set(dc.agent_ids(digesting=False))
        dc.retire_agents([a for a in spawned if a in done])
    return ran
