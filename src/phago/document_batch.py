"""Documents in columns: a checked, placed batch that a colony stores in one call.

Ingesting documents one at a time costs microseconds of Python per document in checks,
position objects and, on Ray, in serialising a tuple per document. A :class:`DocumentBatch`
holds titles and contents as lists and positions and ids as NumPy arrays: its positions are
validated in one NumPy pass, it is cut per shard with index arrays, and it travels to a
shard actor as one object. :func:`checked_columns` does the checks every ingest path shares
(content, then position), so a bad document raises its typed error before anything is
stored.

Example:
    >>> batch = DocumentBatch.of([("a", "cell membrane", (0.0, 0.0)), ("b", "gene", (5, 0))])
    >>> len(batch), batch.xy.tolist()
    (2, [[0.0, 0.0], [5.0, 0.0]])
    >>> batch.take(np.array([1])).titles
    ['b']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from phago.colony import check_document
from phago.corpus import CorpusDocument
from phago.errors import DocumentError, InvalidPosition
from phago.ids import document_ids
from phago.types import POSITION_LIMIT, Position, coordinate, placed_xy

__all__ = ["DocumentBatch", "DocumentInput", "check_positions", "checked_columns"]

# what the ingest_documents methods accept: a corpus document, (title, content) or
# (title, content, position); a None or missing position is placed by the colony
DocumentInput = (
    CorpusDocument | tuple[str, str] | tuple[str, str, Position | tuple[float, float] | None]
)


@dataclass(frozen=True, slots=True)
class DocumentBatch:
    """Checked documents with their positions and ids, in columns.

    Attributes:
        titles: the documents' titles.
        contents: their texts (checked: text, not empty, no NUL bytes, not too long).
        xy: their positions, shape ``(n, 2)``, float64, finite and within
            :data:`~phago.types.POSITION_LIMIT`.
        ids: their document ids, uint64.
        checked_chars: the content length limit :meth:`of` checked content and positions
            against (``inf`` for none), or None for a batch built otherwise; a colony whose
            limit is at least this does not check the batch again.
        checked_keywords: the most distinct keywords a document may have that every
            document was counted against (:func:`phago.colony.check_keyword_counts`), or
            None where they were not counted; a colony whose
            :attr:`~phago.config.ColonyConfig.clique_keyword_limit` is at least this does
            not count them again (a sharded ingest counts on the driver, before any shard
            stores a document; counting again on the shard doubled the time a batch of
            long documents took).

    Example:
        >>> b = DocumentBatch.of([("t", "some text", (1, 2))])
        >>> list(b.rows()) == [("t", "some text", (1.0, 2.0), int(b.ids[0]))]
        True
    """

    titles: list[str]
    contents: list[str]
    xy: npt.NDArray[np.float64]
    ids: npt.NDArray[np.uint64]
    checked_chars: float | None = None
    checked_keywords: int | None = None

    def keywords_checked_within(self, limit: int | None) -> bool:
        """Whether the documents' distinct keywords were counted against ``limit`` or a
        lower one, so that a colony with that limit need not count them again.

        Example:
            >>> b = DocumentBatch.of([("t", "some text", (1, 2))])
            >>> b.keywords_checked_within(2000)
            False
            >>> counted = DocumentBatch(b.titles, b.contents, b.xy, b.ids, checked_keywords=50)
            >>> counted.keywords_checked_within(2000), counted.keywords_checked_within(20)
            (True, False)
        """
        return self.checked_keywords is not None and (
            limit is None or self.checked_keywords <= limit
        )

    def __len__(self) -> int:
        return len(self.titles)

    @classmethod
    def of(
        cls,
        docs: Iterable[DocumentInput],
        max_chars: int | None = None,
        place: Callable[[], tuple[float, float]] | None = None,
    ) -> DocumentBatch:
        """Check ``docs`` (see :func:`checked_columns`) and hash their ids.

        Args:
            docs: documents as ``ingest_documents`` accepts them.
            max_chars: the longest content allowed; None: no limit.
            place: where a document without a position goes; None: such a document is an
                :class:`~phago.errors.InvalidPosition`.
        """
        titles, contents, xy = checked_columns(docs, max_chars, place)
        limit = float("inf") if max_chars is None else max_chars
        return cls(titles, contents, xy, document_ids(titles, contents), limit)

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, str, tuple[float, float], int]]) -> DocumentBatch:
        """A batch of ``(title, content, (x, y), doc_id)`` rows, taken as they are.

        Example:
            >>> DocumentBatch.from_rows([("t", "x y", (0.0, 1.0), 7)]).ids.tolist()
            [7]
        """
        xy = np.array([r[2] for r in rows], dtype=np.float64).reshape(len(rows), 2)
        ids = np.fromiter((int(r[3]) for r in rows), dtype=np.uint64, count=len(rows))
        return cls([r[0] for r in rows], [r[1] for r in rows], xy, ids)

    def take(self, idx: npt.NDArray[np.intp]) -> DocumentBatch:
        """The documents at positions ``idx``, in that order."""
        titles, contents = self.titles, self.contents
        order = idx.tolist()
        return DocumentBatch(
            [titles[i] for i in order],
            [contents[i] for i in order],
            self.xy[idx],
            self.ids[idx],
            self.checked_chars,
            self.checked_keywords,
        )

    def by_owner(self, owners: npt.ArrayLike, n: int) -> list[DocumentBatch]:
        """The batch cut into ``n`` parts: part ``s`` holds the documents ``owners`` gives
        to ``s`` (one owner per document, each from 0 to ``n - 1``), in the batch's order.

        Raises:
            ValueError: ``owners`` is not one whole number from 0 to ``n - 1`` per document.

        Example:
            >>> b = DocumentBatch.of([(t, "some text", (0, 0)) for t in "abc"])
            >>> [p.titles for p in b.by_owner([1, 0, 1], 2)]
            [['b'], ['a', 'c']]
        """
        own = np.asarray(owners)
        if own.shape != (len(self),) or (len(own) and own.dtype.kind not in "iu"):
            raise ValueError(f"owners must name one shard per document ({len(self)})")
        if len(own) and not (int(own.min()) >= 0 and int(own.max()) < n):
            raise ValueError(f"owners must be shards from 0 to {n - 1}")
        if n == 1:
            return [self]
        counts = np.bincount(own, minlength=n)
        order = np.argsort(own, kind="stable")
        ends = np.cumsum(counts).tolist()
        return [self.take(order[e - c : e]) for c, e in zip(counts.tolist(), ends, strict=True)]

    def owned(self) -> DocumentBatch:
        """This batch with positions and ids in arrays of its own: itself when they are,
        else a copy of them (the titles and contents are shared).

        A batch received from Ray holds its arrays as read-only views of the object store's
        shared memory, which keep the whole received object (its documents' text too) in
        the store for as long as they live; a shard that keeps a batch (its op log) keeps
        this instead.

        Example:
            >>> b = DocumentBatch.of([("t", "some text", (1, 2))])
            >>> b.owned() is b
            True
        """
        if not (_borrowed(self.xy) or _borrowed(self.ids)):
            return self
        return DocumentBatch(
            self.titles,
            self.contents,
            self.xy.copy(),
            self.ids.copy(),
            self.checked_chars,
            self.checked_keywords,
        )

    def rows(self) -> Iterator[tuple[str, str, tuple[float, float], int]]:
        """``(title, content, (x, y), doc_id)`` per document."""
        xs, ys = self.xy[:, 0].tolist(), self.xy[:, 1].tolist()
        for t, c, x, y, d in zip(
            self.titles, self.contents, xs, ys, self.ids.tolist(), strict=True
        ):
            yield t, c, (x, y), d


def _borrowed(a: npt.NDArray[Any]) -> bool:
    """Whether ``a``'s memory belongs to something other than a NumPy array (a buffer it
    was made from, such as a received Ray object's)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a.base is not None


def checked_columns(
    docs: Iterable[DocumentInput],
    max_chars: int | None = None,
    place: Callable[[], tuple[float, float]] | None = None,
) -> tuple[list[str], list[str], npt.NDArray[np.float64]]:
    """Titles, contents and positions of ``docs``, every one checked.

    Content is checked as :func:`phago.colony.check_document` checks it; a position must be a
    :class:`~phago.types.Position` or two finite numbers, with ``|x|`` and ``|y|`` at most
    :data:`~phago.types.POSITION_LIMIT` (checked in one NumPy pass). ``place()`` gives the
    position of a document that has none, in input order.

    Raises:
        EmptyDocument: a document with empty or whitespace-only content.
        DocumentError: content that is not text, binary or longer than ``max_chars``.
        InvalidPosition: a position that is not two finite numbers, or beyond
            :data:`~phago.types.POSITION_LIMIT` (the message names the document).
        DocumentError: ``docs`` not an iterable of items, or an item that is not a
            CorpusDocument, ``(title, content)`` or ``(title, content, position)`` (the
            message gives its place in ``docs``).

    Example:
        >>> checked_columns([("a", "text", None)], place=lambda: (5.0, 0.0))[2].tolist()
        [[5.0, 0.0]]
        >>> checked_columns([("a", "text", (float("nan"), 0))])
        Traceback (most recent call last):
        ...
        phago.errors.InvalidPosition: document 'a': position must be finite, got (nan, 0)
    """
    if isinstance(docs, str | bytes) or not isinstance(docs, Iterable):
        raise DocumentError(
            "documents must be an iterable of (title, content[, position]) items, got "
            f"{type(docs).__name__}"
        )
    limit = max_chars if max_chars is not None else float("inf")
    titles: list[str] = []
    contents: list[str] = []
    xs: list[float] = []
    ys: list[float] = []
    raw: list[Any] = []
    for k, d in enumerate(docs):
        pos: Any
        if isinstance(d, CorpusDocument):
            title, content, pos = d.title, d.content, None
        else:
            n = _item_size(d)
            if n == 2:
                title, content = d  # type: ignore[misc]
                pos = None
            elif n == 3:
                title, content, pos = d  # type: ignore[misc]
            else:
                raise DocumentError(
                    f"document #{k}: expected (title, content) or (title, content, position),"
                    f" got {_short(d)}"
                )
        check_document(title, content, limit)  # type: ignore[arg-type]
        if pos is None:
            if place is None:
                raise InvalidPosition(f"document {title!r}: no position")
            x, y = place()
        elif isinstance(pos, Position):
            x, y = pos.x, pos.y
        else:
            try:
                px, py = pos
            except (TypeError, ValueError):
                _raise_position(title, pos)
            fx, fy = coordinate(px), coordinate(py)
            if fx is None or fy is None:
                _raise_position(title, pos)
            x, y = fx, fy
        titles.append(title)
        contents.append(content)
        xs.append(x)
        ys.append(y)
        raw.append(pos)
    xy = np.empty((len(xs), 2), dtype=np.float64)
    xy[:, 0] = xs
    xy[:, 1] = ys
    check_positions(titles, xy, raw)
    return titles, contents, xy


def check_positions(
    titles: Sequence[str], xy: npt.NDArray[np.float64], raw: Sequence[Any] | None = None
) -> None:
    """Refuse documents whose positions (rows of ``xy``) are not finite or lie beyond
    :data:`~phago.types.POSITION_LIMIT`, in one NumPy pass; the error is the one
    :func:`~phago.types.placed_xy` gives for the first such document, naming it.

    Args:
        titles: the documents' titles (for the message).
        xy: their positions, shape ``(n, 2)``.
        raw: the positions as given, for the message (None, or a None item: ``xy``'s row).

    Raises:
        InvalidPosition: a position that is not finite or lies beyond the limit.

    Example:
        >>> check_positions(["a"], np.array([[1e15, -1e15]]))
        >>> check_positions(["a", "b"], np.array([[0.0, 0.0], [0.0, 3e15]]))
        Traceback (most recent call last):
        ...
        phago.errors.InvalidPosition: document 'b': position (0.0, 3000000000000000.0) is \
too far out: |x| and |y| must be at most 1e+15 (phago.types.POSITION_LIMIT); place it nearer \
the origin
    """
    with np.errstate(invalid="ignore"):  # (NaN compares false: refused with the rest)
        placed = (np.abs(xy) <= POSITION_LIMIT).all(axis=1)
    if not placed.all():
        k = int(np.flatnonzero(~placed)[0])
        given = raw[k] if raw is not None else None
        _raise_position(titles[k], given if given is not None else tuple(xy[k].tolist()))


def _item_size(item: Any) -> int:
    """How many fields an input item has: its length for a tuple, a list or another
    sequence that is not a string; 0 for anything else."""
    if isinstance(item, tuple | list) or (
        isinstance(item, Sequence) and not isinstance(item, str | bytes)
    ):
        return len(item)
    return 0


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _raise_position(title: str, pos: Any) -> NoReturn:
    """Raise the InvalidPosition that :func:`~phago.types.placed_xy` raises for ``pos`` (a
    Position or a pair), naming the document."""
    try:
        if isinstance(pos, Position):
            placed_xy(pos.x, pos.y)
        else:
            placed_xy(*pos)
    except InvalidPosition as exc:
        raise InvalidPosition(f"document {title!r}: {exc}") from exc
    except TypeError as exc:
        raise InvalidPosition(
            f"document {title!r}: position must be two numbers, got {pos!r}"
        ) from exc
    raise InvalidPosition(f"document {title!r}: position must be two numbers, got {pos!r}")
