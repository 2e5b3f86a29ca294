"""Ingestion of real files: discover, extract text, split, skip duplicates and bad input.

Supported files (found recursively under folders; symbolic links to folders are not
followed): ``.txt``, ``.text``, ``.md``, ``.markdown``, ``.rst`` (read as text),
``.html``, ``.htm``, ``.xhtml`` (text extracted with :mod:`html.parser`; ``script``,
``style``, ``noscript`` and ``template`` are skipped; the ``<title>`` becomes the document
title) and ``.pdf`` (text extracted with :mod:`pypdf`, page by page).

Text files are read in the chosen encoding (UTF-8 by default), except that a file starting
with a UTF-16 or UTF-32 byte-order mark is read as such. In ``.txt``, ``.text``, ``.md``,
``.markdown`` and ``.rst`` files, web addresses (``https://…``, ``www.…``) are dropped, so
they do not become concepts (``https``, ``com``), and so is encoded data (the lines of a PEM
key or of a mail's base64 attachment, hexadecimal dumps: :func:`without_encoded`); in
Markdown, YAML front matter (between ``---`` lines at the top) is dropped and the first ``# ``
heading outside code blocks is the title; in the other text files a first line set apart by
a blank line (or underlined, as reStructuredText underlines titles) is the title
(:func:`phago.corpus.leading_title`).
Without a title, a document is titled by its file name without the suffix.

Every file is read in chunks of 1 MiB and split into documents of at most ``max_chars``
characters on paragraph boundaries (then line, sentence, word boundaries), so a huge file is
never loaded as one string; with ``split_keywords`` (what :func:`ingest_paths` gives: the
colony's :attr:`~phago.config.ColonyConfig.clique_keyword_limit`), a part with more distinct
keywords than that is split further, the same way, so that a text of any size fits a colony
whose wiring refuses wide documents. A file is read twice: first to validate it completely
(text encoding, NUL bytes, emptiness) and hash its text, then to add its parts; a bad file is
therefore skipped whole and never half-added.

Bad input is reported, never fatal: empty files, and files with nothing to digest (only
whitespace, or only the web addresses and front matter that are dropped)
(:class:`~phago.errors.EmptyDocument`), binary files (NUL bytes) and text that is not valid in
the chosen encoding (:class:`~phago.errors.DocumentError`), HTML that :mod:`html.parser`
cannot parse, unreadable files and PDFs too damaged to read are listed in
:attr:`IngestReport.skipped` with the reason; every message names the file by its absolute
path. An encoding that is not a text encoding (``base64``, ``rot13``: see :func:`text_codec`)
skips every text and HTML file. Files of unsupported types inside folders are counted in
:attr:`IngestReport.unsupported`. A file that is added but gives no concept at all (only
emoji, numbers of two digits, stopwords) and a damaged PDF whose text could be recovered are
added with a line in :attr:`IngestReport.warnings` (a colony accepts a document without
concepts: it is stored and digested, and adds nothing to the graph).

Duplicates by content: the SHA-256 of a file's extracted text (over its parts) is kept in the
store's catalog; a file whose text is already stored, under any name, is a duplicate: nothing
is added, and given the catalog's records (``known_sources``) it is recorded as another source
of the documents that hold its text (:attr:`IngestReport.duplicate_of` names them), so the
catalog knows every file holding a document. Ingesting the same paths again changes nothing.

Text without a file (standard input, a string: :class:`TextInput`) is read as a ``.txt`` file
is, titled by its first line set apart by a blank line, else by its source; it has no source
file, so the catalog records it by the hash of its text alone (:attr:`phago.store.Catalog.texts`).
A text is a duplicate when a stored file or text, or another text of the call, has the same
text (whatever its title), or when its documents (the same title and text: the same ids) are
stored already; a file is a duplicate of a stored text as of a stored file, and is recorded as
a source of the text's documents.

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
import errno
import hashlib
import io
import logging
import os
import re
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

import numpy as np

from phago._arrays import unique_sorted
from phago.agents.digester import Digester
from phago.colony import Colony, check_document, check_keyword_counts
from phago.config import ColonyConfig
from phago.corpus import TITLE_MAX_CHARS, leading_title
from phago.errors import ConfigError, DocumentError, EmptyDocument, PhagoError
from phago.ids import AgentId, DocumentId, document_id
from phago.store import Catalog, SourceRecord
from phago.tags import front_matter_tags
from phago.text import URL, term_bound, tokenize
from phago.types import Document, Position, placed_position

if TYPE_CHECKING:
    from phago.distributed import DistributedColony, DistributedTickResult

__all__ = [
    "DEFAULT_MAX_CHARS",
    "MAX_FILE_CLIQUE_PAIRS",
    "SUPPORTED_SUFFIXES",
    "AddedFile",
    "AddedText",
    "DistributedSink",
    "DocumentSink",
    "Duplicate",
    "FileInfo",
    "IngestReport",
    "SkippedFile",
    "TextInput",
    "digest_new_distributed",
    "digest_new_documents",
    "discover",
    "ingest_paths",
    "inspect_file",
    "read_parts",
    "split_by_keywords",
    "split_text",
    "text_chunks",
    "text_codec",
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

MAX_FILE_CLIQUE_PAIRS = 50_000_000
"""The most keyword pairs one file's parts may wire together where every pair of a
document's keywords is wired (a file split to fit ``max_clique_keywords`` is wired part by
part, and each part of ~2,000 keywords makes ~2 million pairs): about 15 s of digestion and
a few hundred MB at peak, a dense text of ~700 kB. A 3 MB file took 64 s and 2.1 GB
(thirty-sixth session); wider files are refused, to be ingested with bounded wiring."""


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
    """An input that was not ingested, and why (``reason`` names it); ``error`` is the
    name of the kind of error that skipped it: ``"EmptyDocument"`` (no text to digest),
    ``"DocumentError"`` (binary, undecodable, unsupported, too wide, a broken PDF) or
    ``"OSError"`` (missing or unreadable). ``source`` is ``"file"``, or for a
    :class:`TextInput` its source (``"stdin"``, ``"text"``), whose ``path`` is ``""``."""

    path: str
    reason: str
    error: str = "DocumentError"
    source: str = "file"


def _error_kind(exc: BaseException) -> str:
    """The kind of error that skipped an input, as :attr:`SkippedFile.error` names it:
    ``"OSError"`` for an ``OSError`` (the input could not be read), ``"EmptyDocument"`` for
    an :class:`~phago.errors.EmptyDocument` (no text to digest), else ``"DocumentError"``.

    Example:
        >>> [_error_kind(e) for e in (EmptyDocument("x"), PermissionError(13, "x"), ValueError())]
        ['EmptyDocument', 'OSError', 'DocumentError']
    """
    if isinstance(exc, OSError):
        return "OSError"
    if isinstance(exc, EmptyDocument):
        return "EmptyDocument"
    return "DocumentError"


@dataclass(frozen=True, slots=True)
class AddedFile:
    """A file whose text was added as ``len(doc_ids)`` documents (``tags``: those its
    Markdown front matter names, :func:`phago.tags.front_matter_tags`)."""

    path: str
    doc_ids: tuple[DocumentId, ...]
    content_hash: str
    chars: int
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AddedText:
    """A :class:`TextInput` added as ``len(doc_ids)`` documents (it has no source file)."""

    source: str
    title: str
    doc_ids: tuple[DocumentId, ...]
    content_hash: str
    chars: int


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An input whose text was stored already, so nothing of it was added: a file
    (``path``; ``source`` ``"file"``) or a :class:`TextInput` (``path`` None). ``doc_ids``
    are the stored documents that hold its text (empty where only its hash was known:
    ``known_hashes`` without ``known_sources``)."""

    path: str | None
    doc_ids: tuple[DocumentId, ...]
    content_hash: str
    source: str = "file"
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TextInput:
    """A document's text given without a file, for :func:`ingest_paths`.

    Attributes:
        text: the text; bytes are decoded in the ingest's ``encoding`` (a UTF-16 or UTF-32
            byte-order mark switches to that encoding, as for a file).
        title: its title; None: the first line set apart by a blank line
            (:func:`phago.corpus.leading_title`), else ``source``.
        source: where it came from, as reports name it: ``"stdin"`` or ``"text"``.
    """

    text: str | bytes
    title: str | None = None
    source: str = "text"


@dataclass
class IngestReport:
    """What an ingestion did: files added, duplicates, files skipped with the reason, files
    of unsupported types found in folders, and warnings about files that were added (no
    concepts, a damaged PDF); every path is absolute.

    ``duplicates`` lists the paths of duplicate files, ``duplicate_of`` every duplicate
    input (files and texts) with the documents holding its text; ``texts`` the
    :class:`TextInput` added.
    """

    added: list[AddedFile] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    texts: list[AddedText] = field(default_factory=list)
    duplicate_of: list[Duplicate] = field(default_factory=list)

    def record_in(self, catalog: Catalog, tags: Iterable[str] = ()) -> None:
        """Record in a store's ``catalog`` when the documents this ingestion added were
        added, and their tags: ``tags`` for every input (the documents holding a
        duplicate's text gain them too, and keep the time they were first added:
        :meth:`phago.store.Catalog.note_added`), and the tags each file's front matter
        names now, in place of those it named before
        (:meth:`phago.store.Catalog.set_file_tags`); and each text added, by the hash of its
        text (:attr:`phago.store.Catalog.texts`).

        Raises:
            ConfigError: a tag :func:`phago.tags.tag_name` refuses (nothing is recorded).

        Example:
            >>> from phago.store import Catalog
            >>> report = IngestReport(added=[AddedFile("/n/a.md", (7,), "h", 5, ("lab",))])
            >>> cat = Catalog()
            >>> report.record_in(cat, ["Cells"])
            >>> cat.info[7].tags, cat.file_tags
            (('cells',), {'/n/a.md': ('lab',)})
        """
        from phago.tags import tag_names, utc_now

        given, when = tag_names(tags), utc_now()
        for a in self.added:
            catalog.note_added(a.doc_ids, given, when)
            catalog.set_file_tags(a.path, a.tags)
        for t in self.texts:
            catalog.note_added(t.doc_ids, given, when)
            catalog.texts[t.content_hash] = tuple(int(d) for d in t.doc_ids)
        for d in self.duplicate_of:
            catalog.note_added(d.doc_ids, given, when)
            if d.path is not None:
                catalog.set_file_tags(d.path, d.tags)

    @property
    def documents_added(self) -> int:
        """Documents added (a split file counts each part), texts' included."""
        return sum(len(a.doc_ids) for a in self.added) + sum(len(t.doc_ids) for t in self.texts)

    @property
    def new_document_ids(self) -> list[DocumentId]:
        """Ids of the documents added, in order (files', then texts')."""
        return [d for a in self.added for d in a.doc_ids] + [
            d for t in self.texts for d in t.doc_ids
        ]

    @property
    def duplicate_count(self) -> int:
        """Duplicate inputs: files (``duplicates``) and texts."""
        return len(self.duplicates) + sum(1 for d in self.duplicate_of if d.path is None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (counts and details). Document ids are strings; a text's entries
        in ``added``, ``duplicate_of`` and ``skipped_files`` have ``"path": None`` and say
        their ``source``.

        Example:
            >>> from phago import Colony
            >>> report, _ = ingest_paths(Colony(), [], texts=[TextInput("Cells have walls.")])
            >>> entry = report.to_dict()["added"][0]
            >>> entry["path"], entry["source"], entry["title"], entry["chars"]
            (None, 'text', 'text', 17)
        """
        return {
            "files_added": len(self.added),
            "texts_added": len(self.texts),
            "documents_added": self.documents_added,
            "duplicates": self.duplicate_count,
            "skipped": len(self.skipped),
            "added": [
                {
                    "path": a.path,
                    "source": "file",
                    "documents": [str(d) for d in a.doc_ids],
                    "chars": a.chars,
                }
                for a in self.added
            ]
            + [
                {
                    "path": None,
                    "source": t.source,
                    "title": t.title,
                    "documents": [str(d) for d in t.doc_ids],
                    "chars": t.chars,
                }
                for t in self.texts
            ],
            "duplicate_files": list(self.duplicates),
            "duplicate_of": [
                {"path": d.path, "source": d.source, "documents": [str(x) for x in d.doc_ids]}
                for d in self.duplicate_of
            ],
            "skipped_files": [
                {"path": s.path if s.source == "file" else None, "reason": s.reason}
                | ({} if s.source == "file" else {"source": s.source})
                for s in self.skipped
            ],
            "unsupported": len(self.unsupported),
            "unsupported_files": list(self.unsupported),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A validated file: its title, the hash of its text, how many parts, how many chars;
    whether its text has any term (:func:`phago.text.tokenize`), and notes on how it was
    read (a damaged PDF's repairs)."""

    path: Path
    title: str
    content_hash: str
    parts: int
    chars: int
    has_terms: bool = True
    notes: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


# ---------------------------------------------------------------------------- discovery


def discover(
    paths: Iterable[str | os.PathLike[str]], *, unsupported: list[str] | None = None
) -> tuple[list[Path], list[SkippedFile]]:
    """Supported files under ``paths`` (folders recursively), sorted per argument, no repeats.

    Named files of an unsupported type, missing paths and folders that cannot be read are
    returned as skipped (by absolute path). Inside folders, an entry with a supported suffix
    that is not a regular file (a FIFO, a device, a socket, a symbolic link to one of them,
    a symbolic-link loop, a link to nothing) is skipped with the reason, and never opened;
    entries of other types are passed over, and their absolute paths are appended to
    ``unsupported`` when it is given (hidden files, and files in hidden folders, are not
    counted). Symbolic links to folders are not followed.

    Example:
        >>> import os, tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "b.md").write_text("x"); _ = (d / "a.bin").write_bytes(b"x")
        >>> os.mkfifo(d / "pipe.txt"); os.symlink("loop.md", d / "loop.md")
        >>> other: list[str] = []
        >>> files, skipped = discover([d, d / "nope.txt"], unsupported=other)
        >>> [f.name for f in files], [pathlib.Path(o).name for o in other]
        (['b.md'], ['a.bin'])
        >>> [s.reason.rsplit("/", 1)[1] for s in skipped]
        ['loop.md: a symbolic link loop', 'pipe.txt: not a regular file', \
'nope.txt: no such file or directory']
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
            odd: list[SkippedFile] = []

            def unreadable(exc: OSError, top: Path = p) -> None:
                where = os.path.abspath(exc.filename or top)
                reason = f"{where}: cannot read ({exc.strerror or exc})"
                skipped.append(SkippedFile(where, reason, "OSError"))

            others: list[str] = []
            for root, dirs, names in os.walk(p, onerror=unreadable, followlinks=False):
                dirs.sort()
                hidden = any(
                    part.startswith(".") and part not in (".", "..")
                    for part in Path(os.path.relpath(root, p)).parts
                )
                for name in names:
                    f = Path(root) / name
                    why = _not_regular(f)
                    if f.suffix.lower() in SUPPORTED_SUFFIXES:
                        if why is None:
                            found.append(f)
                        else:
                            where = os.path.abspath(f)
                            odd.append(SkippedFile(where, f"{where}: {why[0]}", why[1]))
                    elif not hidden and not name.startswith("."):
                        others.append(os.path.abspath(f))
            for f in sorted(found):
                take(f)
            for sk in sorted(odd, key=lambda s: s.path):
                if sk.path not in seen:
                    seen.add(sk.path)
                    skipped.append(sk)
            if unsupported is not None:
                unsupported.extend(sorted(others))
        else:
            where = os.path.abspath(p)
            why = _not_regular(p)
            # (/dev/stdin, or <(echo ...) as /dev/fd/63: standard input is read with -)
            hint = " (to read a text from standard input, name -)"
            stream = where.startswith(("/dev/", "/proc/"))
            if why is None:
                if p.suffix.lower() in SUPPORTED_SUFFIXES:
                    take(p)
                else:
                    reason = f"{where}: unsupported file type {p.suffix!r}"
                    skipped.append(SkippedFile(where, reason + hint * stream))
            else:
                reason = f"{where}: {why[0]}" + hint * (stream and why[1] == "DocumentError")
                skipped.append(SkippedFile(where, reason, why[1]))
    return files, skipped


def _not_regular(path: Path) -> tuple[str, str] | None:
    """Why ``path`` (followed through symbolic links) is not a regular file to read, with
    the :attr:`SkippedFile.error` kind; None for a regular file. It is looked at with
    ``stat``, never opened: reading a FIFO would wait for a writer.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "a.txt").write_text("x"); os.mkfifo(d / "p.txt")
        >>> _not_regular(d / "a.txt"), _not_regular(d / "p.txt"), _not_regular(d / "no.txt")
        (None, ('not a regular file', 'DocumentError'), ('no such file or directory', 'OSError'))
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop", "OSError"
        if isinstance(exc, FileNotFoundError):
            if os.path.islink(path):
                return "a symbolic link to nothing (no such file or directory)", "OSError"
            return "no such file or directory", "OSError"
        return f"cannot read ({exc.strerror or exc})", "OSError"
    if stat.S_ISREG(mode):
        return None
    return "not a regular file", "DocumentError"


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


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # (before UTF-16's: it starts with the same two bytes)
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _bom_encoding(head: bytes) -> str | None:
    """``"utf-16"`` or ``"utf-32"`` when ``head`` starts with their byte-order mark."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return None


def text_codec(encoding: str) -> codecs.CodecInfo:
    """The codec of a text encoding.

    Raises:
        ConfigError: ``encoding`` is unknown, or a codec that is no text encoding (one that
            turns bytes into bytes or text into text, such as ``base64``, ``rot13`` or
            ``zlib``).

    Example:
        >>> text_codec("latin-1").name
        'iso8859-1'
        >>> text_codec("rot13")
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: 'rot13' is not a text encoding (it does not decode bytes to text)
    """
    try:
        info = codecs.lookup(encoding)
    except LookupError as exc:
        raise ConfigError(f"unknown text encoding {encoding!r}") from exc
    if not getattr(info, "_is_text_encoding", True):
        raise ConfigError(f"{encoding!r} is not a text encoding (it does not decode bytes to text)")
    return info


# Codecs whose strict decoders never give lone surrogates (which no stored text may hold);
# text decoded with any other codec (utf-7, unicode_escape, ...) is checked for them.
_NO_SURROGATES = frozenset(
    ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading bytes, if it is a regular file. The check is made on the
    opened file (and a FIFO is opened without waiting for a writer), so that a file that
    became a FIFO or a device after :func:`discover` found it is refused, not read.

    Raises:
        DocumentError: not a regular file.
        OSError: it cannot be opened.

    Example:
        >>> import tempfile, pathlib
        >>> fifo = pathlib.Path(tempfile.mkdtemp()) / "p.txt"
        >>> os.mkfifo(fifo)
        >>> try:
        ...     _open_regular(fifo)
        ... except DocumentError as exc:
        ...     str(exc).endswith("p.txt: not a regular file")
        True
    """
    return open(path, "rb", opener=_regular_opener)


def _regular_opener(path: str | bytes, flags: int) -> int:
    """``os.open`` for :func:`_open_regular`: without blocking (a FIFO would wait for a
    writer), and only a regular file (checked with ``fstat`` on what was opened)."""
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags | nonblocking)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise DocumentError(f"{os.fsdecode(path)}: not a regular file")
        if nonblocking:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _decoded(path: Path, encoding: str, chunk_size: int) -> Iterator[str]:
    """The file's text in chunks; raises DocumentError on NUL bytes or text that cannot be
    decoded in ``encoding`` (or that decodes to lone surrogates, which no text may hold).

    With a UTF-8 ``encoding`` (the default), a file that starts with a UTF-16 or UTF-32
    byte-order mark is read in that encoding; in UTF-16 and UTF-32 a NUL character, not a
    NUL byte, marks a binary file.
    """
    try:
        text_codec(encoding)
    except ConfigError as exc:
        raise DocumentError(f"{path}: {exc}") from exc
    with _open_regular(path) as fh:
        yield from _decoded_stream(fh, str(path), encoding, chunk_size)


def _decoded_stream(
    fh: BinaryIO, label: str, encoding: str, chunk_size: int, what: str = "file"
) -> Iterator[str]:
    """:func:`_decoded` of an open binary stream (its errors name ``label``, and call it a
    binary ``what``)."""
    try:
        name = text_codec(encoding).name
    except ConfigError as exc:
        raise DocumentError(f"{label}: {exc}") from exc
    offset = 0
    first = True
    raw = fh.read(max(chunk_size, 4))
    if name in ("utf-8", "utf-8-sig"):
        wider = _bom_encoding(raw)
        if wider is not None:
            encoding = name = wider
    wide = name.startswith(("utf-16", "utf-32"))
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    while True:
        if offset:
            raw = fh.read(chunk_size)
        final = not raw
        if raw and not wide and b"\x00" in raw:
            raise DocumentError(f"{label}: binary {what} (contains NUL bytes)")
        try:
            text = decoder.decode(raw, final=final)
        except UnicodeDecodeError as exc:
            raise DocumentError(
                f"{label}: not valid {encoding} text (undecodable byte at offset "
                f"{offset + max(exc.start, 0)})"
            ) from exc
        except UnicodeError as exc:  # (UTF-16 without a byte-order mark, punycode, ...)
            raise DocumentError(f"{label}: not valid {encoding} text ({exc})") from exc
        if name not in _NO_SURROGATES and not text.isascii():
            lone = _SURROGATE.search(text)
            if lone is not None:
                raise DocumentError(
                    f"{label}: not valid {encoding} text (it decodes to a lone surrogate, "
                    f"U+{ord(lone.group()):04X})"
                )
        offset += len(raw)
        if wide and "\x00" in text:
            raise DocumentError(f"{label}: binary {what} (contains NUL characters)")
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
        _parse_html(parser, path, text)
        out = parser.drain()
        if parser.title:
            meta["title"] = parser.title
        if out:
            yield out
    _parse_html(parser, path, None)
    if parser.title:
        meta["title"] = parser.title
    out = parser.drain()
    if out:
        yield out


def _parse_html(parser: _HTMLText, path: Path, text: str | None) -> None:
    """Feed ``text`` to ``parser`` (None: close it); raises DocumentError where
    :mod:`html.parser` gives up (it raises AssertionError on a marked section it does not
    know, such as ``<![foo[ ... ]]>``)."""
    try:
        if text is None:
            parser.close()
        else:
            parser.feed(text)
    except AssertionError as exc:
        raise DocumentError(f"{path}: cannot parse the HTML ({exc})") from exc


class _PdfNotes(logging.Handler):
    """pypdf's log records (its notes on repairing a damaged file: "EOF marker not found")
    while phago reads a PDF, kept for the file's report instead of reaching stderr.

    While any thread reads a PDF, the ``pypdf`` logger stops propagating and this handler
    takes its records: those of a thread reading a PDF go to the PDF it opened last, the
    others are handed to the root logger as they would have been.
    """

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self._guard = threading.Lock()
        self._readers = 0
        self._propagate = True
        self._notes: dict[int, list[list[str]]] = {}  # thread → the notes of its open PDFs

    def emit(self, record: logging.LogRecord) -> None:
        open_pdfs = self._notes.get(threading.get_ident())
        if not open_pdfs:
            logging.getLogger().handle(record)
        elif len(open_pdfs[-1]) < 20:
            open_pdfs[-1].append(record.getMessage())

    @contextmanager
    def collecting(self) -> Iterator[list[str]]:
        """Collect this thread's pypdf records in the list it yields."""
        logger = logging.getLogger("pypdf")
        me = threading.get_ident()
        notes: list[str] = []
        with self._guard:
            if self._readers == 0:
                self._propagate = logger.propagate
                logger.addHandler(self)
                logger.propagate = False
            self._readers += 1
            self._notes.setdefault(me, []).append(notes)
        try:
            yield notes
        finally:
            with self._guard:
                open_pdfs = self._notes[me]
                del open_pdfs[next(i for i, n in enumerate(open_pdfs) if n is notes)]
                if not open_pdfs:
                    del self._notes[me]
                self._readers -= 1
                if self._readers == 0:
                    logger.removeHandler(self)
                    logger.propagate = self._propagate


_PDF_NOTES = _PdfNotes()


def _pdf_chunks(path: Path, meta: dict[str, str]) -> Iterator[str]:
    try:
        from pypdf import PdfReader
    except ImportError as exc:  # pragma: no cover - pypdf is a declared dependency
        raise DocumentError(f"{path}: reading PDF needs the 'pypdf' package") from exc
    with _open_regular(path) as fh, _PDF_NOTES.collecting() as notes:
        try:
            reader = PdfReader(fh)
            if reader.is_encrypted and not reader.decrypt(""):
                raise DocumentError(f"{path}: the PDF is encrypted")
            for page in reader.pages:
                text = page.extract_text() or ""
                if "\x00" in text:
                    text = text.replace("\x00", "")
                if not text.isascii():  # (a broken font map can give lone surrogates)
                    text = _SURROGATE.sub("\ufffd", text)
                if notes:
                    meta["damaged"] = "; ".join(dict.fromkeys(notes))
                yield text + "\n\n"
        except (DocumentError, OSError):
            raise
        except Exception as exc:  # pypdf raises many kinds of errors on broken files
            damaged = f"damaged PDF ({'; '.join(dict.fromkeys(notes))}), " if notes else ""
            raise DocumentError(
                f"{path}: cannot read the PDF, {damaged}{type(exc).__name__}: {exc}"
            ) from exc
        if notes:
            meta["damaged"] = "; ".join(dict.fromkeys(notes))


_FRONT_MATTER = re.compile(
    r"---[ \t]*\r?\n(?P<body>.*?\n)??(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL
)
_FRONT_MATTER_MAX = 1 << 16
_LONG_LINE = 1 << 20
_YAML_KEY = re.compile(r"^[\w-]+[ \t]*:", re.MULTILINE)
# a fence line, or an ATX heading of level 1 (its text in group 2)
_MD_LINE = re.compile(r"^ {0,3}(?:(```|~~~)|#[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$)", re.MULTILINE)
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def _front_matter_end(text: str, at_end: bool = False) -> int:
    """Where the YAML front matter that ``text`` starts with ends (-1: none, or not yet
    closed by a line end unless ``text`` is the whole file, ``at_end``): between ``---``
    lines, empty or with a ``key:`` line (a Markdown rule is not front matter)."""
    m = _FRONT_MATTER.match(text)
    if m is None or (m.end() == len(text) and not at_end and not text.endswith("\n")):
        return -1
    body = m.group("body") or ""
    if body.strip() and _YAML_KEY.search(body) is None:
        return -1
    return m.end()


def _heading_title(text: str) -> str:
    """A Markdown heading's text as a title: links as their text, no emphasis marks."""
    title = URL.sub("", _MD_LINK.sub(r"\1", text)).replace("*", "").replace("`", "")
    return _WS.sub(" ", title).strip()


def _text_file_chunks(
    decoded: Iterable[str], markdown: bool, meta: dict[str, str]
) -> Iterator[str]:
    """A text file's chunks (its ``decoded`` text) without web addresses; for Markdown,
    without YAML front matter and with the first ``# `` heading outside code blocks as
    ``meta["title"]``; for plain text, with the first line set apart as a title as
    ``meta["title"]``. What was dropped is noted in ``meta`` (``"urls"``,
    ``"front_matter"``: ``"dropped"``).

    Chunks end at a line end (or, in a line longer than 1 MiB, at a space), so no address or
    heading is cut in two.
    """
    carry = ""
    head = markdown  # the front matter is still to be looked for
    fenced = False
    titled = False
    probe: str | None = None if markdown else ""  # plain text: its start, to find a title
    for text in decoded:
        buf = carry + text
        if head:
            if len(buf) < 3 and "---".startswith(buf):
                carry = buf  # too short to tell
                continue
            end = _front_matter_end(buf)
            if end < 0 and buf.startswith("---") and len(buf) < _FRONT_MATTER_MAX:
                carry = buf  # (the front matter may not be closed yet)
                continue
            head = False
            if end > 0:
                _drop_front_matter(buf[:end], meta)
            buf = buf[max(end, 0) :]
        cut = buf.rfind("\n") + 1
        if cut == 0 and len(buf) > _LONG_LINE:
            cut = max(buf.rfind(" "), buf.rfind("\t")) + 1 or len(buf)
        block, carry = buf[:cut], buf[cut:]
        if not titled and probe is None:
            fenced, title = _md_title(block, fenced)
            if title:
                meta["title"], titled = title, True
        block = _without_addresses_and_data(block, meta)
        if not titled and probe is not None:
            probe = (probe + block).lstrip("\n\r\t ")
            if _title_decided(probe):
                titled = _note_title(probe, meta)
        if block:
            yield block
    if head:
        end = _front_matter_end(carry, at_end=True)
        if end > 0:
            _drop_front_matter(carry[:end], meta)
        carry = carry[max(end, 0) :]
    if not titled and probe is None:
        _, title = _md_title(carry, fenced)
        if title:
            meta["title"] = title
    carry = _without_addresses_and_data(carry, meta)
    if not titled and probe is not None:
        _note_title(probe + carry, meta)
    if carry:
        yield carry


def _drop_front_matter(front: str, meta: dict[str, str]) -> None:
    """Note in ``meta`` that the front matter ``front`` was dropped, and the tags it names
    (``meta["tags"]``, comma-separated)."""
    meta["front_matter"] = "dropped"
    tags = front_matter_tags(front)
    if tags:
        meta["tags"] = ",".join(tags)


def _title_decided(start: str) -> bool:
    """Whether ``start``, the beginning of a plain text, is enough to tell whether its first
    line is a title (:func:`phago.corpus.leading_title`): three lines, the third not blank,
    or more than a title's length of a first line."""
    lines = start.lstrip("\n\r\t ").split("\n", 3)
    return (len(lines) >= 3 and bool("\n".join(lines[2:]).strip())) or (
        len(lines[0]) > TITLE_MAX_CHARS
    )


def _note_title(start: str, meta: dict[str, str]) -> bool:
    """Record in ``meta`` the title the plain text beginning ``start`` states, if any;
    returns True (the title is decided)."""
    title = leading_title(start)
    if title:
        meta["title"] = title
    return True


def _without_addresses_and_data(text: str, meta: dict[str, str]) -> str:
    """``text`` without its web addresses (noted in ``meta["urls"]`` when there were any)
    and without encoded data (:func:`without_encoded`; noted in ``meta["encoded"]``)."""
    text, dropped = URL.subn("", text)
    if dropped:
        meta["urls"] = "dropped"
    kept = without_encoded(text)
    if len(kept) != len(text):
        meta["encoded"] = "dropped"
    return kept


_ENCODED_MIN = 32
"""The fewest characters of a run :func:`without_encoded` takes for encoded data."""

_ENCODED_RUN = re.compile(
    rf"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{{{_ENCODED_MIN},}}={{0,2}}(?![A-Za-z0-9+/=])"
)
_HEX_RUN = re.compile(r"[0-9a-f]+|[0-9A-F]+")
_HASH_DIGITS = 64
"""The most hexadecimal digits of a hash a note may name (SHA-256's): longer runs are data."""


def without_encoded(text: str) -> str:
    """``text`` without encoded data: each run of 32 or more base64 characters (letters,
    digits, ``+`` and ``/``, up to two ``=`` at its end) that is base64 or a hexadecimal
    dump (:func:`is_encoded`), such as the lines of a PEM key or of a mail's attachment,
    which would otherwise each make a meaningless concept. ``phago ingest`` reads every
    file and text so.

    Example:
        >>> without_encoded("key MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHC end")
        'key  end'
        >>> without_encoded("see src/phago/distributed/backends/ray2 and Pneumonoultramicroscopic")
        'see src/phago/distributed/backends/ray2 and Pneumonoultramicroscopic'
    """
    if _LONG_RUN not in text.encode("utf-8", "surrogatepass").translate(_RUN_BYTES):
        return text  # (no run that long: 1.8 µs for 1 kB, against 12 µs for the search)
    return _ENCODED_RUN.sub(_drop_encoded, text)


_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_RUN_BYTES = bytes(0x61 if i in _BASE64 else 0x20 for i in range(256))
"""Each base64 character's byte to ``a``, every other byte to a space."""
_LONG_RUN = b"a" * _ENCODED_MIN


def _drop_encoded(m: re.Match[str]) -> str:
    run = m.group()
    return "" if is_encoded(run) else run


def is_encoded(run: str) -> bool:
    """Whether ``run``, characters of base64 without a space, is encoded data rather than
    words: base64 as bytes encode (a digit or more, and each case at least a seventh of
    it), or a hexadecimal number with digits and letters longer than a SHA-256 digest's 64
    digits (a dump). A hash of up to 64 digits (a commit's, a file's) is not: a note names
    it, and a query for it finds the note. Nor is a path or an identifier in one case, or a
    long word without a digit.

    Example:
        >>> is_encoded("0f" * 40), is_encoded("d41d8cd98f00b204e9800998ecf8427e")
        (True, False)
        >>> is_encoded("a" * 40)
        False
        >>> is_encoded("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHC")
        True
        >>> is_encoded("src/phago/distributed/backends/ray2")
        False
    """
    core = run.rstrip("=")
    n = len(core)
    digits = sum(c.isdigit() for c in core)
    if 0 < digits < n and _HEX_RUN.fullmatch(core):
        return n > _HASH_DIGITS
    upper = sum(c.isupper() for c in core)
    lower = sum(c.islower() for c in core)
    return digits > 0 and 7 * upper >= n and 7 * lower >= n


def _md_title(block: str, fenced: bool) -> tuple[bool, str]:
    """The first heading title in ``block`` outside code fences (``fenced``: the block
    starts inside one); returns whether the block ends inside one, and the title or ""."""
    for m in _MD_LINE.finditer(block):
        if m.group(1):
            fenced = not fenced
        elif not fenced:
            title = _heading_title(m.group(2))
            if title:
                return fenced, title
    return fenced, ""


def text_chunks(
    path: str | os.PathLike[str],
    *,
    encoding: str = "utf-8",
    chunk_size: int | None = None,
    meta: dict[str, str] | None = None,
) -> Iterator[str]:
    """The extracted text of a supported file, as a stream of chunks.

    Text files lose their web addresses, Markdown files their YAML front matter (see the
    module docstring).

    Args:
        path: the file.
        encoding: text encoding of text and HTML files (a leading BOM is dropped; with
            UTF-8, a UTF-16 or UTF-32 byte-order mark switches to that encoding).
        chunk_size: bytes read at a time (None: :data:`READ_CHUNK`, 1 MiB).
        meta: filled with ``title`` when the file declares one (HTML ``<title>``, a
            Markdown ``# `` heading, a text's first line set apart as a title), ``damaged``
            with pypdf's notes when a PDF is
            damaged but could be read, and ``urls`` and ``front_matter`` when a text file's
            web addresses or YAML front matter were dropped.

    Raises:
        DocumentError: binary, undecodable, unsupported or unreadable as PDF (names the file).
        OSError: the file cannot be opened.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.html"
        >>> _ = p.write_text("<html><script>var x;</script><p>Hello <b>cells</b></p></html>")
        >>> "".join(text_chunks(p)).strip()
        'Hello cells'
        >>> md = p.with_name("notes.md")
        >>> _ = md.write_text("---\\ntags: [x]\\n---\\n# Cell *walls*\\nSee https://x.org/a.")
        >>> meta = {}
        >>> "".join(text_chunks(md, meta=meta)), meta["title"]
        ('# Cell *walls*\\nSee .', 'Cell walls')
    """
    p = Path(path)
    kind = SUPPORTED_SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise DocumentError(f"{p}: unsupported file type {p.suffix!r}")
    size = READ_CHUNK if chunk_size is None else max(1, int(chunk_size))
    info = meta if meta is not None else {}
    if kind == "pdf":
        return _pdf_chunks(p, info)
    if kind == "html":
        return _html_chunks(p, encoding, size, info)
    markdown = p.suffix.lower() in (".md", ".markdown")
    return _text_file_chunks(_decoded(p, encoding, size), markdown, info)


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


# Where a part too wide in keywords is cut, coarsest first: after a blank line, after a line,
# after a sentence (or a Chinese / Japanese full stop), after a space. Every cut falls on
# characters no term contains, so the terms of the pieces are the terms of the whole.
_KEYWORD_CUTS = (
    re.compile(r"\n[ \t\r\f\v]*\n\s*"),
    re.compile(r"\n\s*"),
    re.compile(r"[.!?]\s+|[。！？]\s*"),
    re.compile(r"\s+"),
)


def split_by_keywords(text: str, max_keywords: int) -> Iterator[str]:
    """Split ``text`` into stripped parts of at most ``max_keywords`` distinct keywords each.

    Text within the limit is one part. Wider text is cut into paragraphs, and consecutive
    paragraphs are joined into parts as long as their keywords stay within the limit; a
    paragraph wider than the limit is cut the same way into lines, a line into sentences, a
    sentence into words, and a run of characters without spaces, last, into pieces of
    ``max_keywords`` characters. Whitespace-only parts are dropped.

    Args:
        text: a document's text.
        max_keywords: the most distinct keywords (:func:`phago.text.tokenize` terms) a part
            may have (a colony's :attr:`~phago.config.ColonyConfig.clique_keyword_limit`).

    Example:
        >>> list(split_by_keywords("cell wall\\n\\ncell membrane\\n\\nion channel", 3))
        ['cell wall\\n\\ncell membrane', 'ion channel']
    """
    if max_keywords < 1:
        raise ConfigError("max_keywords must be >= 1")
    if term_bound(text) <= max_keywords or len(set(tokenize(text))) <= max_keywords:
        part = text.strip()
        if part:
            yield part
        return
    for piece in _pack(text, max_keywords):
        part = piece.strip()
        if part:
            yield part


def _pack(text: str, limit: int) -> Iterator[str]:
    """``text`` in pieces of at most ``limit`` distinct terms: the pieces of
    :func:`_atoms`, consecutive ones joined while their terms stay within the limit."""
    start = end = 0  # the piece being packed is text[start:end]
    terms: set[str] = set()
    for segment, seg_terms, alone in _atoms(text, limit, 0):
        if alone or len(terms) + len(seg_terms - terms) > limit:
            if end > start:
                yield text[start:end]
            start, terms = end, set(seg_terms)
        else:
            terms |= seg_terms
        end += len(segment)
        if alone:
            yield text[start:end]
            start, terms = end, set()
    if end > start:
        yield text[start:end]


def _atoms(text: str, limit: int, level: int) -> Iterator[tuple[str, set[str], bool]]:
    """``text`` cut at the ``level``-th kind of cut, each piece with its terms; a piece with
    more than ``limit`` terms is cut at the next kind. Past the last kind, ``text`` is cut
    every ``limit`` characters (at most ``limit`` terms), into pieces marked to stay alone:
    such a cut can fall inside a word, so joined pieces may hold terms that neither has."""
    if level == len(_KEYWORD_CUTS):
        for k in range(0, len(text), limit):
            piece = text[k : k + limit]
            yield piece, set(), True
        return
    end = 0
    for cut in [*(m.end() for m in _KEYWORD_CUTS[level].finditer(text)), len(text)]:
        if cut <= end:
            continue
        segment = text[end:cut]
        terms = set(tokenize(segment))
        if len(terms) > limit:
            yield from _atoms(segment, limit, level + 1)
        else:
            yield segment, terms, False
        end = cut


def _parts(
    p: Path,
    max_chars: int,
    encoding: str,
    meta: dict[str, str],
    split_keywords: int | None = None,
) -> Iterator[str]:
    return _split(
        split_text(text_chunks(p, encoding=encoding, meta=meta), max_chars), split_keywords
    )


def _split(parts: Iterator[str], split_keywords: int | None) -> Iterator[str]:
    """``parts``, each split further by :func:`split_by_keywords` (None: as they are)."""
    if split_keywords is None:
        return parts
    return (q for part in parts for q in split_by_keywords(part, split_keywords))


def inspect_file(
    path: str | os.PathLike[str],
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    encoding: str = "utf-8",
    max_keywords: int | None = None,
    split_keywords: int | None = None,
) -> FileInfo:
    """Validate a file completely and describe it (nothing is kept in memory but counts).

    Args:
        path: the file.
        max_chars: the longest part; a longer text is split into parts.
        encoding: of a text file.
        max_keywords: refuse the file if a part has more distinct keywords than this (a
            colony config's :attr:`~phago.config.ColonyConfig.clique_keyword_limit`);
            None: no limit.
        split_keywords: split a part with more distinct keywords than this further
            (:func:`split_by_keywords`), and refuse a file whose parts would wire more than
            :data:`MAX_FILE_CLIQUE_PAIRS` keyword pairs in all (every pair of a part's
            keywords, as a colony whose ``clique_keyword_limit`` this is wires them);
            None: parts are cut by ``max_chars`` only.

    Raises:
        EmptyDocument: the file is empty, whitespace only (or only web addresses or front
            matter, which are dropped), or has no extractable text.
        DocumentError: binary, undecodable, unsupported, a broken PDF, a part with more
            than ``max_keywords`` distinct keywords, or too many pairs to wire in all.
        OSError: the file cannot be read.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> _ = p.write_text("cells\\n\\nwall membrane")
        >>> info = inspect_file(p, max_chars=8)
        >>> info.parts, info.title, info.has_terms
        (3, 'cells', True)
        >>> inspect_file(p, split_keywords=1).parts
        3
    """
    p = Path(path)
    meta: dict[str, str] = {}
    parts_of = _parts(p, max_chars, encoding, meta, split_keywords)
    digest, parts, chars, has_terms = _measure(
        parts_of, str(p), p.name, max_keywords, split_keywords
    )
    if parts == 0:
        if p.stat().st_size == 0:
            raise EmptyDocument(f"{p}: empty file")
        if SUPPORTED_SUFFIXES.get(p.suffix.lower()) == "text":
            raise EmptyDocument(f"{p}: {_nothing_left(meta)}")
        raise EmptyDocument(f"{p}: no text could be extracted")
    # (a file name that is not UTF-8 holds lone surrogates, which no title may)
    title = meta.get("title") or p.stem.encode("utf-8", "surrogateescape").decode(
        "utf-8", "replace"
    )
    notes = (f"damaged PDF, text recovered ({meta['damaged']})",) if "damaged" in meta else ()
    tags = tuple(meta["tags"].split(",")) if meta.get("tags") else ()
    return FileInfo(p, title, digest, parts, chars, has_terms, notes, tags)


def _hash_part(h: Any, part: str) -> None:
    """Add one part of a text to ``h`` (a SHA-256), as the hash of a text's parts is made."""
    data = part.encode("utf-8")
    h.update(len(data).to_bytes(8, "little"))
    h.update(data)


def unrecorded_texts(documents: Iterable[Document], catalog: Catalog) -> dict[str, tuple[int, ...]]:
    """The texts of ``documents`` that no file record and no recorded text of ``catalog``
    holds (documents a store kept from before stores recorded texts, or added from Python),
    each as a one-part text: the hash of its text (as :func:`inspect_file` and texts make it)
    to its id. So the same text given again is found a duplicate.

    Example:
        >>> from phago.store import Catalog
        >>> from phago.types import Document, DocumentId, Position
        >>> doc = Document(DocumentId(7), "note", "Cells divide.", Position(0, 0))
        >>> list(unrecorded_texts([doc], Catalog()).values())
        [(7,)]
        >>> unrecorded_texts([doc], Catalog(texts={"h": (7,)}))
        {}
    """
    held = catalog.recorded_documents()
    out: dict[str, tuple[int, ...]] = {}
    for doc in documents:
        if int(doc.id) not in held:
            h = hashlib.sha256()
            _hash_part(h, doc.content)
            out.setdefault(h.hexdigest(), (int(doc.id),))
    return out


def _measure(
    parts: Iterable[str],
    label: str,
    name: str,
    max_keywords: int | None,
    split_keywords: int | None,
    keep: list[str] | None = None,
) -> tuple[str, int, int, bool]:
    """Check a text's ``parts`` as :func:`inspect_file` does (errors name ``label``, the
    parts ``name (part k)``) and return the hash of the text, the parts, the characters and
    whether it has a term; the parts are appended to ``keep`` when given.

    Raises:
        DocumentError: a part with more than ``max_keywords`` distinct keywords, or more
            than :data:`MAX_FILE_CLIQUE_PAIRS` keyword pairs to wire in all.
    """
    h = hashlib.sha256()
    count = chars = pairs = 0
    has_terms = False
    for part in parts:
        check_keyword_counts([f"{name} (part {count + 1})"], [part], max_keywords)
        if split_keywords is not None:  # (every pair of a part's keywords will be wired)
            k = len(set(tokenize(part)))
            pairs += k * (k - 1) // 2
            if pairs > MAX_FILE_CLIQUE_PAIRS:
                raise DocumentError(
                    f"{label}: wiring every pair of keywords in each part would make more "
                    f"than {MAX_FILE_CLIQUE_PAIRS:,} pairs (minutes of work and gigabytes of "
                    "memory): ingest it into a store made with --large "
                    "(ColonyConfig.for_large_corpora(): wiring within a window of words)"
                )
        if not has_terms:
            has_terms = bool(tokenize(part))
        _hash_part(h, part)
        count += 1
        chars += len(part)
        if keep is not None:
            keep.append(part)
    return h.hexdigest(), count, chars, has_terms


def _nothing_left(meta: dict[str, str]) -> str:
    """Why a text file that is not empty gave no text, from what reading it dropped.

    Example:
        >>> _nothing_left({}), _nothing_left({"urls": "dropped"})
        ('only whitespace', 'no text to digest (only web addresses, which ingestion drops)')
    """
    dropped = [what for key, what in _DROPPED if key in meta]
    if not dropped:
        return "only whitespace"
    return f"no text to digest (only {' and '.join(dropped)}, which ingestion drops)"


_DROPPED = (
    ("front_matter", "YAML front matter"),
    ("urls", "web addresses"),
    ("encoded", "encoded data"),
)


def read_parts(
    path: str | os.PathLike[str],
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    encoding: str = "utf-8",
    split_keywords: int | None = None,
) -> Iterator[str]:
    """The parts of a file (as :func:`inspect_file` counted them with the same arguments),
    streamed.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> _ = p.write_text("one\\n\\ntwo three")
        >>> list(read_parts(p, max_chars=9))
        ['one', 'two three']
    """
    return _parts(Path(path), max_chars, encoding, {}, split_keywords)


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
    known_sources: Iterable[SourceRecord] | None = None,
    texts: Sequence[TextInput] = (),
    known_texts: Mapping[str, Sequence[int]] | None = None,
) -> tuple[IngestReport, list[SourceRecord]]:
    """Add the supported files under ``paths``, and ``texts``, to ``colony`` as documents.

    Each file is validated first (see :func:`inspect_file`); a bad file is skipped whole.
    A file is split into parts of at most ``max_chars`` characters and, where the colony
    refuses documents with more distinct keywords than its
    :attr:`~phago.config.ColonyConfig.clique_keyword_limit`, of at most that many keywords
    (:func:`split_by_keywords`). Documents are placed on the colony's layout grid. Files
    whose text hash is in ``known_hashes`` or ``known_sources`` (or that appeared earlier in
    this call) are duplicates: nothing is added, :attr:`IngestReport.duplicate_of` names the
    documents that hold their text, and each is returned as another source of those
    documents (unless it is one already). Paths in the report are absolute.

    Texts (after the files) are read as ``.txt`` files are (web addresses dropped, split the
    same way) and titled as :class:`TextInput` says; a bad one (empty, binary, undecodable,
    too wide) is skipped with the reason, named by its source. A text is a duplicate of a
    file or text of the same text (stored: ``known_sources``, ``known_texts``; or of this
    call), or of the documents it would add where ``colony`` holds them all (the same title
    and text). Texts have no source records; a file of a stored text's text is a duplicate
    of it and returned as a source of its documents.

    Args:
        colony: the colony to add documents to.
        paths: files and folders.
        known_hashes: hashes of files already stored (updated in place).
        max_chars: largest document; longer files are split (at most the colony's
            ``max_document_chars``).
        encoding: text encoding of text and HTML files, and of texts given as bytes.
        on_file: called after each file with its path and outcome
            (``added``, ``duplicate`` or ``skipped``).
        files: files the caller already found with :func:`discover`; when given, ``paths``
            is ignored (and the report's ``unsupported`` is left to the caller).
        known_sources: the store's catalog records (:attr:`phago.store.Catalog.sources`):
            their texts are stored, and a duplicate of one is recorded as another source of
            its documents.
        texts: texts without a file, each one document (or parts, where it is long).
        known_texts: the texts the store holds without a file, by the hash of their text
            (:attr:`phago.store.Catalog.texts`), with the ids of their documents.

    Returns:
        The report and the source records of the documents added, and of the duplicate
        files as new sources of stored documents (for the store's catalog).

    Example:
        >>> import tempfile, pathlib
        >>> from phago import Colony
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "bin.txt").write_bytes(b"\\x00\\x01")
        >>> _ = (d / "smile.md").write_text("🙂 🙂")
        >>> report, _ = ingest_paths(Colony(), [d])
        >>> report.skipped[0].reason.endswith("bin.txt: binary file (contains NUL bytes)")
        True
        >>> report.documents_added, report.warnings[0].split(": ", 1)[1]
        (1, 'no concepts (no word of three letters that is not a stopword); added anyway')

        A copy of a stored file is recorded as another source of its document:

        >>> c = Colony()
        >>> _ = (d / "smile.md").write_text("Cell walls hold.")
        >>> _ = (d / "copy.txt").write_text("Cell walls hold.")
        >>> first, stored = ingest_paths(c, [d / "smile.md"])
        >>> again, more = ingest_paths(c, [d / "copy.txt"], known_sources=stored)
        >>> again.duplicate_of[0].doc_ids == first.added[0].doc_ids
        True
        >>> [(pathlib.Path(s.path).name, s.doc_id == stored[0].doc_id) for s in more]
        [('copy.txt', True)]
    """
    known = known_hashes if known_hashes is not None else set()
    limit = max(1, min(int(max_chars), colony.config.max_document_chars))
    keywords = colony.config.clique_keyword_limit
    report = IngestReport()
    if files is None:
        found, skipped = discover(paths, unsupported=report.unsupported)
        report.skipped.extend(skipped)
    else:
        found = list(files)
    held = _Held(known_sources or ())
    known.update(held.records)
    stored_texts = {
        h: tuple(DocumentId(int(d)) for d in ids) for h, ids in (known_texts or {}).items()
    }
    sources: list[SourceRecord] = []
    for given in found:
        f = Path(os.path.abspath(given))
        outcome = "skipped"
        try:
            info = inspect_file(
                f,
                max_chars=limit,
                encoding=encoding,
                max_keywords=keywords,
                split_keywords=keywords,
            )
        except DocumentError as exc:
            report.skipped.append(SkippedFile(str(f), str(exc), _error_kind(exc)))
        except OSError as exc:
            reason = f"{f}: cannot read ({exc.strerror or exc})"
            report.skipped.append(SkippedFile(str(f), reason, "OSError"))
        else:
            h = info.content_hash
            if h in known or h in stored_texts:
                report.duplicates.append(str(f))
                if h not in held.records and h in stored_texts:  # (a text's, stored before)
                    held.add_text(str(f), h, stored_texts[h])
                records = held.records.get(h, [])
                ids = tuple(DocumentId(r.doc_id) for r in records)
                report.duplicate_of.append(Duplicate(str(f), ids, h, tags=info.tags))
                sources.extend(held.another_source(str(f), h))
                outcome = "duplicate"
            else:
                first = len(sources)
                outcome = _add_file(colony, f, info, limit, encoding, report, sources)
                held.add(sources[first:])
                if outcome == "added":
                    known.add(info.content_hash)
                    report.warnings.extend(f"{f}: {note}" for note in info.notes)
                    if not info.has_terms:
                        report.warnings.append(
                            f"{f}: no concepts (no word of three letters that is not a "
                            "stopword); added anyway"
                        )
        if on_file is not None:
            on_file(given, outcome)
    counts: dict[str, int] = {}
    for t in texts:
        counts[t.source] = counts.get(t.source, 0) + 1
    seen: dict[str, int] = {}
    by_text: dict[str, tuple[DocumentId, ...]] = {}  # this call's texts, by hash
    for t in texts:
        seen[t.source] = seen.get(t.source, 0) + 1
        label = t.source if counts[t.source] == 1 else f"{t.source} {seen[t.source]}"
        _add_text(colony, t, label, limit, encoding, report, known, held, by_text, stored_texts)
    return report, sources


def _part_number(record: SourceRecord) -> int:
    """Which part of its file a record's document is."""
    return record.part


class _Held:
    """The files a text is stored from, by the hash of the text: for each hash the records
    of one file (by part), and every (path, hash) recorded."""

    def __init__(self, records: Iterable[SourceRecord]) -> None:
        self.records: dict[str, list[SourceRecord]] = {}
        self.pairs: set[tuple[str, str]] = set()
        self.add(records)

    def add(self, records: Iterable[SourceRecord]) -> None:
        """Take ``records`` in: a hash keeps the file it was first recorded from."""
        touched: set[str] = set()  # (hashes given a second part: sorted by part after)
        pairs, held = self.pairs, self.records
        for r in records:
            path, h = r.path, r.content_hash
            pairs.add((path, h))
            got = held.get(h)
            if got is None:
                held[h] = [r]
            elif got[0].path == path:
                got.append(r)
                touched.add(h)
        for h in touched:
            held[h].sort(key=_part_number)

    def add_text(self, path: str, content_hash: str, doc_ids: Sequence[DocumentId]) -> None:
        """Take in the text stored without a file whose documents are ``doc_ids`` (by part),
        as the records a file ``path`` of that text would have, which
        :meth:`another_source` then returns for it."""
        n = len(doc_ids)
        records = [SourceRecord(path, content_hash, int(d), k, n) for k, d in enumerate(doc_ids, 1)]
        self.records[content_hash] = records

    def another_source(self, path: str, content_hash: str) -> list[SourceRecord]:
        """Records of ``path`` as a source of the documents stored from ``content_hash``
        (none where it is one already, or where no file's records are known)."""
        if (path, content_hash) in self.pairs:
            return []
        self.pairs.add((path, content_hash))
        return [
            SourceRecord(path, content_hash, r.doc_id, r.part, r.parts)
            for r in self.records.get(content_hash, [])
        ]


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
    keywords = colony.config.clique_keyword_limit
    try:
        parts = read_parts(f, max_chars=limit, encoding=encoding, split_keywords=keywords)
        for k, part in enumerate(parts, 1):
            title = info.title if info.parts == 1 else f"{info.title} (part {k}/{info.parts})"
            did = colony.ingest_document(title, part)
            ids.append(did)
            sources.append(SourceRecord(abspath, info.content_hash, int(did), k, info.parts))
    except (PhagoError, OSError) as exc:
        # the file changed between validation and reading; keep what was added, say so
        reason = f"{f}: changed or failed while reading ({exc}); {len(ids)} part(s) kept"
        report.skipped.append(SkippedFile(str(f), reason, _error_kind(exc)))
        if ids:
            report.added.append(
                AddedFile(abspath, tuple(ids), info.content_hash, info.chars, info.tags)
            )
        return "skipped"
    report.added.append(AddedFile(abspath, tuple(ids), info.content_hash, info.chars, info.tags))
    return "added"


def _text_of(t: TextInput, label: str, encoding: str) -> Iterator[str]:
    """The text of ``t`` (bytes decoded in ``encoding``), checked as a file's is.

    Raises:
        DocumentError: NUL characters or bytes, text not valid in ``encoding`` or holding a
            lone surrogate (as a command line's undecodable bytes do).
    """
    if isinstance(t.text, bytes):
        yield from _decoded_stream(io.BytesIO(t.text), label, encoding, READ_CHUNK, "text")
        return
    if "\x00" in t.text:
        raise DocumentError(f"{label}: binary text (contains NUL characters)")
    lone = _SURROGATE.search(t.text)
    if lone is not None:
        raise DocumentError(
            f"{label}: not valid text (it holds a lone surrogate, U+{ord(lone.group()):04X}: "
            "bytes that are not valid in the system's encoding)"
        )
    yield t.text.removeprefix("\ufeff")


def _add_text(
    colony: DocumentSink,
    t: TextInput,
    label: str,
    limit: int,
    encoding: str,
    report: IngestReport,
    known: set[str],
    held: _Held,
    by_text: dict[str, tuple[DocumentId, ...]],
    stored_texts: Mapping[str, tuple[DocumentId, ...]],
) -> None:
    """Add the text ``t`` (see :func:`ingest_paths`), or report it a duplicate or skipped."""
    keywords = colony.config.clique_keyword_limit
    meta: dict[str, str] = {}
    parts: list[str] = []
    try:
        chunks = _text_file_chunks(_text_of(t, label, encoding), False, meta)
        pieces = _split(split_text(chunks, limit), keywords)
        digest, count, chars, has_terms = _measure(pieces, label, label, keywords, keywords, parts)
        if count == 0:
            empty = len(t.text) == 0
            raise EmptyDocument(f"{label}: {'empty text' if empty else _nothing_left(meta)}")
        title = (t.title or "").strip() or meta.get("title") or t.source
        titles = [
            title if count == 1 else f"{title} (part {k}/{count})" for k in range(1, 1 + count)
        ]
        try:
            check_document(title, "x", limit)  # (a title given with lone surrogates)
        except DocumentError as exc:
            raise DocumentError(f"{label}: {exc}") from exc
    except DocumentError as exc:
        report.skipped.append(SkippedFile("", str(exc), _error_kind(exc), t.source))
        return
    ids = tuple(document_id(name, part) for name, part in zip(titles, parts, strict=True))
    stored = held.records.get(digest)
    if stored:
        found: tuple[DocumentId, ...] | None = tuple(DocumentId(r.doc_id) for r in stored)
    elif digest in by_text:
        found = by_text[digest]
    elif digest in stored_texts:
        found = stored_texts[digest]
    elif _holds_all(colony, ids):
        found = ids
    elif digest in known:
        found = ()
    else:
        found = None
    if found is not None:
        report.duplicate_of.append(Duplicate(None, found, digest, t.source))
        return
    added: list[DocumentId] = []
    try:
        for name, part in zip(titles, parts, strict=True):
            added.append(colony.ingest_document(name, part))
    except PhagoError as exc:  # (the checks above make this unlikely: a sink's own refusal)
        reason = f"{label}: {exc}; {len(added)} part(s) kept"
        report.skipped.append(SkippedFile("", reason, _error_kind(exc), t.source))
        if not added:
            return
    by_text[digest] = tuple(added)
    report.texts.append(AddedText(t.source, title, tuple(added), digest, chars))
    if not has_terms:
        report.warnings.append(
            f"{label}: no concepts (no word of three letters that is not a stopword); added anyway"
        )


def _holds_all(sink: DocumentSink, ids: Sequence[DocumentId]) -> bool:
    """Whether ``sink`` (a colony, or a sink with ``has_document``) stores every one of
    ``ids``; False where it cannot tell."""
    has = getattr(sink, "has_document", None)
    if has is None:
        substrate = getattr(sink, "substrate", None)
        has = getattr(substrate, "has_document", None)
    if has is None or not ids:
        return False
    return all(bool(has(d)) for d in ids)


DOCUMENTS_PER_DIGESTER = 100
"""Documents per digester :func:`digest_new_documents` spawns at least (W3 runs one per 100
documents: a 15,000-note folder is digested in ~500 ticks, where 10 digesters left a third
of it after 5,000)."""


def digest_new_documents(
    colony: Colony,
    doc_ids: Sequence[DocumentId],
    *,
    digesters: int = 10,
    max_ticks: int = 5000,
    max_idle: int = 60,
    on_tick: Callable[[int], None] | None = None,
    retire: bool = True,
    leftovers: Iterable[AgentId] = (),
    retire_leftovers: bool = False,
) -> int:
    """Spawn digesters next to new documents, run until every document is digested, then
    retire the digesters.

    The digesters are ``digesters``, or one per :data:`DOCUMENTS_PER_DIGESTER` documents to
    digest where that is more: the new ones, and those an earlier run left undigested (its
    ``max_ticks`` ran out), which get digesters beside them too (also when ``doc_ids`` is
    empty: a call without new documents finishes an earlier run's). So a large batch, or a
    store an earlier run left part-digested, is digested in a few hundred ticks instead of
    every later call running to ``max_ticks`` (10 digesters took 5,000 ticks for 10,000 of
    15,000 short notes, and each later one-note ingest then ran all 5,000 ticks).

    They are spawned one unit from documents spread evenly over the documents to digest (the
    new ones first; never more digesters than documents), and their seeds come from the
    colony's generator, so runs are reproducible. Returns the number of ticks run.

    With ``retire`` (the default, and what ``phago ingest`` does) the digesters spawned
    here leave the colony once the run ends (:meth:`Colony.retire_agents
    <phago.colony.Colony.retire_agents>`), so a store ingested into again and again does not
    pile up idle digesters; one still holding undigested text (``max_ticks`` ran out) is
    kept, so that a later run finishes its document. ``leftovers`` names such agents of an
    earlier run: they leave too once they hold no undigested text. ``retire_leftovers``
    finds them instead: every agent holding undigested text when the call starts leaves
    too once it holds none (what ``phago ingest`` does, since its stores hold only the
    digesters it spawned; in a colony with agents of its own, one of them digesting would
    leave too: name the leftovers then). Other agents that were in the colony before are
    left alone. ``retire=False`` keeps them all.

    Example:
        >>> from phago import Colony
        >>> c = Colony(seed=0)
        >>> d = c.ingest_document("t", "cell membrane protein")
        >>> digest_new_documents(c, [d], digesters=1) > 0, c.stats().documents_digested
        (True, 1)
        >>> c.stats().agents_alive, c.total_retired
        (0, 1)
    """
    spawned = _earlier_digesters(colony, leftovers, retire=retire, find=retire_leftovers)
    targets = list(doc_ids)
    if colony.substrate.undigested_count:  # an earlier run's leftovers, if any
        new = {int(d) for d in targets}
        targets += [d.id for d in colony.substrate.undigested_documents() if d.id not in new]
    if targets and digesters > 0:
        k = min(max(int(digesters), -(-len(targets) // DOCUMENTS_PER_DIGESTER)), len(targets))
        step = len(targets) / k
        for j in range(k):
            p = colony.substrate.get_document(targets[int(j * step)]).position
            spawned.append(
                colony.spawn(Digester(Position(p.x + 1.0, p.y + 1.0), max_idle=max_idle))
            )
    ran = colony.run_until_digested(max_ticks, on_tick=on_tick)
    if retire and spawned:
        done = {a.id for a in colony.agents if not a.is_digesting}
        colony.retire_agents([a for a in spawned if a in done])
    return ran


def _earlier_digesters(
    colony: Colony | DistributedColony,
    leftovers: Iterable[AgentId],
    *,
    retire: bool,
    find: bool,
) -> list[AgentId]:
    """An earlier run's digesters, to retire with this run's once done: none without
    ``retire``; else the ``leftovers`` named, and with ``find`` every agent of ``colony``
    that holds undigested text now (each id once, in that order).

    Example:
        >>> from phago import Digester, Position
        >>> c = Colony(seed=0)
        >>> a = c.spawn(Digester(Position(0, 0)))
        >>> _earlier_digesters(c, [a], retire=True, find=True) == [a]
        True
        >>> _earlier_digesters(c, [a], retire=False, find=True)
        []
    """
    if not retire:
        return []
    named = [AgentId(a) for a in leftovers]
    if find:
        named += colony.agent_ids(digesting=True)
    return list(dict.fromkeys(named))


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
        self._stored: set[int] | None = None  # the cluster's ids, once asked for

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

    def ingest_document(
        self, title: str, content: str, position: Position | tuple[float, float] | None = None
    ) -> DocumentId:
        """Check the document, place it at ``position`` (None: on the cluster's layout
        grid) and queue it.

        Raises:
            EmptyDocument: empty or whitespace-only content.
            DocumentError: binary or oversized content.
            InvalidPosition: a position that is not two finite numbers, or beyond
                :data:`~phago.types.POSITION_LIMIT`.
        """
        check_document(title, content, self.dc.config.max_document_chars)
        check_keyword_counts([title], [content], self.dc.config.clique_keyword_limit)
        p = Position(*self.dc._next_xy()) if position is None else placed_position(position)
        did = document_id(title, content)
        self._queue.append((title, content, p))
        self.positions.setdefault(int(did), p)
        return did

    def has_document(self, doc_id: DocumentId | int) -> bool:
        """Whether the document ``doc_id`` is queued here or stored on a shard (the
        cluster's document ids are fetched on the first call, once).

        Example:
            >>> from phago.distributed import DistributedColony
            >>> with DistributedColony(num_shards=2, seed=0) as dc:
            ...     sink = DistributedSink(dc)
            ...     d = sink.ingest_document("Cells", "cell membrane protein")
            ...     sink.has_document(d), sink.has_document(int(d) ^ 1)
            (True, False)
        """
        if int(doc_id) in self.positions:
            return True
        if self._stored is None:
            self._stored = {int(d.id) for d in self.dc.documents()}
        return int(doc_id) in self._stored

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
    leftovers: Iterable[AgentId] = (),
    retire_leftovers: bool = False,
) -> int:
    """As :func:`digest_new_documents`, for a distributed colony: each digester is spawned on
    the shard that holds the document it starts beside. Returns the ticks run. At least one
    digester per :data:`DOCUMENTS_PER_DIGESTER` documents to digest is spawned: the new
    ones, and those an earlier run left undigested (by id and place,
    :meth:`DistributedColony.undigested_places
    <phago.distributed.DistributedColony.undigested_places>`; ``doc_ids`` may be empty).
    ``on_tick`` and ``on_progress`` as in :meth:`DistributedColony.run
    <phago.distributed.DistributedColony.run>` (``on_progress`` is the cheap one on Ray).

    Agents never leave their shard, so the digesters are shared out by shard: each shard
    holding new documents gets a share of ``digesters`` in proportion to its share of them,
    and at least one (a shard without a digester would never digest its documents), placed
    beside documents spread evenly over its own; so up to one digester per shard more than
    ``digesters`` may be spawned. With ``retire`` (the default) they are retired once the
    run ends, as in :func:`digest_new_documents`, and so are the ``leftovers`` named (with
    ``retire_leftovers``, every agent holding undigested text when the call starts) once
    they hold no undigested text (:meth:`DistributedColony.retire_agents
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
    spawned = _earlier_digesters(dc, leftovers, retire=retire, find=retire_leftovers)
    targets = list(doc_ids)
    left = dict(dc.undigested_places(excluding=targets))  # an earlier run's, by id and place
    targets += left

    def place(doc: int) -> Position:
        return left[DocumentId(doc)] if doc in left else sink.positions[doc]

    if targets and digesters > 0:
        digesters = max(int(digesters), -(-len(targets) // DOCUMENTS_PER_DIGESTER))
        owners = dc.coordinator.route_documents(np.array([int(d) for d in targets], np.uint64))
        for shard in unique_sorted(owners).tolist():
            mine = [targets[i] for i in np.flatnonzero(owners == shard).tolist()]
            k = max(1, min(len(mine), round(int(digesters) * len(mine) / len(targets))))
            step = len(mine) / k
            agents = []
            for j in range(k):
                p = place(int(mine[int(j * step)]))
                agents.append(Digester(Position(p.x + 1.0, p.y + 1.0), max_idle=max_idle))
            spawned.extend(dc._call(shard, "spawn_many", agents))
        dc._version += 1
    ran: int = dc.run_until_digested(max_ticks, on_tick=on_tick, on_progress=on_progress)
    if retire and spawned:
        done = set(dc.agent_ids(digesting=False))
        dc.retire_agents([a for a in spawned if a in done])
    return ran
