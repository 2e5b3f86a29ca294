"""The substrate: documents, signals and traces on a 2-D plane, with spatial indexes.

Signals and traces live in NumPy columns and decay in one vectorised step per tick. Each
kind is found through a uniform grid, so "what is near me" costs what is nearby, not what
exists. Documents are indexed by a grid of the undigested ones.

Differences from the reference, on purpose (REFERENCE.md §2, §8):

* ``traces_near`` searches a disc, not a square, and scans grid cells, not 0.1-unit keys.
* A document's Input signal is tied to the document: it does not decay while the document is
  undigested (a document keeps calling until eaten) and it is removed when the document is
  consumed, so digested documents stop attracting agents.
* Iteration orders are insertion orders.

Example:
    >>> from phago.substrate import Substrate
    >>> from phago.types import Position
    >>> s = Substrate()
    >>> d = s.add_document("t", "some text", Position(0, 0))
    >>> s.nearest_undigested(Position(3, 4), 10.0) == d
    True
    >>> s.consume_document(d)
    'some text'
    >>> s.consume_document(d) is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from phago import _kernels as K
from phago._arrays import unique_sorted
from phago.config import real_number
from phago.errors import DocumentError, EmptyDocument, UnknownDocument
from phago.ids import AgentId, DocumentId, document_id
from phago.types import (
    Document,
    Gradient,
    Position,
    Signal,
    SignalType,
    Trace,
    TraceType,
    placed_xy,
    trusted_position,
)

__all__ = ["MIN_CELL_SIZE", "PointIndex", "RankedDocuments", "Substrate"]

_SIGNAL_TYPES: tuple[SignalType, ...] = tuple(SignalType)
_SIGNAL_CODE = {t: i for i, t in enumerate(_SIGNAL_TYPES)}
_TRACE_TYPES: tuple[TraceType, ...] = tuple(TraceType)
_TRACE_CODE = {t: i for i, t in enumerate(_TRACE_TYPES)}
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


MIN_CELL_SIZE = 1.0
"""The smallest grid cell size a :class:`Substrate` (or :class:`PointIndex`) takes. A
coordinate divided by it stays finite, and a document's cell (its coordinates are within
:data:`~phago.types.POSITION_LIMIT`) fits a 64-bit integer many times over."""

# the cells of points farther out than this many cells (agents may stand anywhere finite,
# and signals and traces lie where they do) are clamped to it, so that they fit int64
_CELL_CLAMP = 1 << 62


def _cell_size(value: object) -> float:
    """A grid cell size: a finite number >= :data:`MIN_CELL_SIZE`; else ConfigError."""
    return real_number(value, "cell_size", MIN_CELL_SIZE)


def _clamped_cell(v: float) -> int:
    """``floor(v)`` clamped to ``±_CELL_CLAMP`` (``v``: a coordinate over the cell size), as
    :meth:`PointIndex.rebuild` computes cells in NumPy.

    Example:
        >>> _clamped_cell(-2.5), _clamped_cell(1e300) == _CELL_CLAMP
        (-3, True)
    """
    if -_CELL_CLAMP < v < _CELL_CLAMP:
        return math.floor(v)
    return _CELL_CLAMP if v > 0 else -_CELL_CLAMP


def _cell_key(cx: int, cy: int) -> int:
    """The key of cell ``(cx, cy)`` as :meth:`PointIndex.rebuild` computes it in int64
    (``(cx << 32) ^ (cy & 0xFFFFFFFF)``, wrapped as NumPy wraps it): cells far apart may
    share a key, which only adds candidates that the callers' distance test drops.

    Example:
        >>> cx = np.array([3, -3, 2**40], dtype=np.int64); cy = np.array([-7, 7, 5], np.int64)
        >>> ((cx << 32) ^ (cy & 0xFFFFFFFF)).tolist() == [
        ...     _cell_key(3, -7), _cell_key(-3, 7), _cell_key(2**40, 5)]
        True
    """
    key = ((cx << 32) ^ (cy & 0xFFFFFFFF)) & 0xFFFFFFFFFFFFFFFF
    return key - (1 << 64) if key >= 1 << 63 else key


class PointIndex:
    """A uniform-grid index over point columns, rebuilt lazily after changes.

    Points whose cell lies beyond ``±2**62`` cells (agents may stand anywhere finite, and
    leave signals and traces where they stand) are kept apart and are candidates of the
    queries that reach that far only.

    Example:
        >>> idx = PointIndex(10.0)
        >>> idx.rebuild(np.array([0.0, 50.0, 1e300]), np.array([0.0, 0.0, 0.0]))
        >>> idx.candidates(1.0, 1.0, 5.0).tolist(), idx.candidates(1e300, 0.0, 5.0).tolist()
        ([0], [2])
        >>> idx.within(1.0, 1.0, 5.0, np.array([0.0, 50.0, 1e300]), np.zeros(3)).tolist()
        [0]
    """

    def __init__(self, cell: float) -> None:
        self.cell = _cell_size(cell)
        self._order: IntArray = np.zeros(0, dtype=np.int64)
        self._cells: dict[int, tuple[int, int]] = {}
        self._far: IntArray = np.zeros(0, dtype=np.int64)  # rows beyond ±2**62 cells

    def __setstate__(self, state: dict[str, Any]) -> None:
        # (an index pickled before points far out were kept apart has none)
        self.__dict__.update(state)
        self.__dict__.setdefault("_far", np.zeros(0, dtype=np.int64))

    def rebuild(self, x: FloatArray, y: FloatArray) -> None:
        """Index the points ``(x[i], y[i])`` (finite)."""
        self._far = np.zeros(0, dtype=np.int64)
        if len(x) == 0:
            self._order = np.zeros(0, dtype=np.int64)
            self._cells = {}
            return
        fx, fy = np.floor(x / self.cell), np.floor(y / self.cell)
        bound = float(_CELL_CLAMP)
        far = (np.abs(fx) >= bound) | (np.abs(fy) >= bound)
        rows: IntArray | None = None
        if far.any():
            self._far = np.flatnonzero(far)
            rows = np.flatnonzero(~far)
            fx, fy = fx[rows], fy[rows]
            if not len(rows):  # (every point far out)
                self._order = rows
                self._cells = {}
                return
        cx, cy = fx.astype(np.int64), fy.astype(np.int64)
        key = (cx << 32) ^ (cy & 0xFFFFFFFF)
        order = np.argsort(key, kind="stable")
        sk = key[order]
        uniq, starts = np.unique(sk, return_index=True)
        ends = np.append(starts[1:], len(sk))
        self._order = order if rows is None else rows[order]
        self._cells = dict(
            zip(uniq.tolist(), zip(starts.tolist(), ends.tolist(), strict=True), strict=True)
        )

    def candidates(self, x: float, y: float, r: float) -> IntArray:
        """Row indices of points in grid cells overlapping the square around (x, y)."""
        return self._candidates(x, y, r)[0]

    def _candidates(self, x: float, y: float, r: float) -> tuple[IntArray, bool]:
        """:meth:`candidates`, and whether they may include the points far out."""
        c = self.cell
        x0, x1 = _clamped_cell((x - r) / c), _clamped_cell((x + r) / c)
        y0, y1 = _clamped_cell((y - r) / c), _clamped_cell((y + r) / c)
        parts = []
        cells = self._cells
        # (the grid holds no cell at ±2**62 or beyond: those points are the far ones)
        edge = _CELL_CLAMP - 1
        for cx in range(max(x0, -edge), min(x1, edge) + 1):
            for cy in range(max(y0, -edge), min(y1, edge) + 1):
                se = cells.get(_cell_key(cx, cy))
                if se is not None:
                    parts.append(self._order[se[0] : se[1]])
        far = len(self._far) > 0 and (
            x0 <= -_CELL_CLAMP or x1 >= _CELL_CLAMP or y0 <= -_CELL_CLAMP or y1 >= _CELL_CLAMP
        )
        if far:
            parts.append(self._far)
        if not parts:
            return np.zeros(0, dtype=np.int64), False
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        out.sort()
        return out, far

    def within(self, x: float, y: float, r: float, px: FloatArray, py: FloatArray) -> IntArray:
        """Row indices (ascending) of the indexed points, whose coordinates are ``px`` and
        ``py``, within ``r`` of (x, y), the disc's edge included."""
        # the squared distance, which decides, may round a point just outside the square
        # in (a few ulps), or underflow to 0 (both offsets below 1e-162): cells that far
        # out of the square are read too
        cand, far = self._candidates(x, y, r + (r * 1e-9 + 1e-150))
        if len(cand) == 0:
            return cand
        if far:  # (distances between points far out may overflow: they are not within r)
            with np.errstate(over="ignore", invalid="ignore"):
                return self._within(cand, x, y, r, px, py)
        return self._within(cand, x, y, r, px, py)

    @staticmethod
    def _within(
        cand: IntArray, x: float, y: float, r: float, px: FloatArray, py: FloatArray
    ) -> IntArray:
        dx = px[cand] - x
        dy = py[cand] - y
        out: IntArray = cand[dx * dx + dy * dy <= r * r]
        return out


@dataclass(slots=True)
class _Columns:
    x: FloatArray
    y: FloatArray
    intensity: FloatArray
    kind: npt.NDArray[np.int8]
    tick: IntArray
    owner: npt.NDArray[np.uint64]
    ref: IntArray  # signals: document sequence number or -1; traces: payload slot or -1

    @classmethod
    def empty(cls) -> _Columns:
        return cls(
            np.zeros(0),
            np.zeros(0),
            np.zeros(0),
            np.zeros(0, dtype=np.int8),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.uint64),
            np.zeros(0, dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.x)

    def append(self, rows: list[tuple[float, float, float, int, int, int, int]]) -> None:
        if not rows:
            return
        a = list(zip(*rows, strict=True))
        self.x = np.concatenate([self.x, np.asarray(a[0], dtype=np.float64)])
        self.y = np.concatenate([self.y, np.asarray(a[1], dtype=np.float64)])
        self.intensity = np.concatenate([self.intensity, np.asarray(a[2], dtype=np.float64)])
        self.kind = np.concatenate([self.kind, np.asarray(a[3], dtype=np.int8)])
        self.tick = np.concatenate([self.tick, np.asarray(a[4], dtype=np.int64)])
        self.owner = np.concatenate([self.owner, np.asarray(a[5], dtype=np.uint64)])
        self.ref = np.concatenate([self.ref, np.asarray(a[6], dtype=np.int64)])

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        self.x, self.y, self.intensity = self.x[mask], self.y[mask], self.intensity[mask]
        self.kind, self.tick, self.owner, self.ref = (
            self.kind[mask],
            self.tick[mask],
            self.owner[mask],
            self.ref[mask],
        )


_CELL_LIMIT = 1 << 40  # documents in cells beyond this: undigested_near uses the dict grid


class _DocIndex:
    """Every document's position and grid cell in columns, plus a static CSR grid over them.

    Documents are only appended and never move, so the grid is built once and rebuilt only
    after many documents were appended since (those are scanned separately until then).
    Digested documents stay in it; queries skip them.
    """

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the documents: the substrate that owns the index pickles them,
        and gives them back to it when unpickled."""
        state = self.__dict__.copy()
        state["docs"] = None
        return state

    def __init__(self, docs: list[Document], cell: float) -> None:
        self.docs = docs
        self.cell = cell
        self.n = 0  # documents taken in
        self.xy: FloatArray = np.zeros((64, 2))
        self.cxy: IntArray = np.zeros((64, 2), dtype=np.int64)
        self.out_d: FloatArray = np.zeros(64)  # query results (room for every document)
        self.out_s: IntArray = np.zeros(64, dtype=np.int64)
        self.bx0 = self.by0 = 0  # bounding box of the documents' cells
        self.bx1 = self.by1 = -1
        self.dense = True  # False: too sparse (or too far out) for a grid
        self.n_grid = 0  # documents [0, n_grid) are in the grid
        # (gx0, gy0, nx, ny, n_grid, n) for the kernel
        self.grid: IntArray = np.zeros(6, dtype=np.int64)
        self.start: IntArray = np.zeros(1, dtype=np.int64)
        self.members: IntArray = np.zeros(0, dtype=np.int64)

    def sync(self) -> None:
        """Take in documents appended since the last call; rebuild the grid when many are
        not in it yet."""
        docs = self.docs
        n = len(docs)
        if n > self.n:
            if n > len(self.xy):
                cap = max(2 * len(self.xy), n)
                for name in ("xy", "cxy", "out_d", "out_s"):
                    old = getattr(self, name)
                    new = np.zeros((cap, *old.shape[1:]), dtype=old.dtype)
                    new[: self.n] = old[: self.n]
                    setattr(self, name, new)
            c = self.cell
            xy, cxy = self.xy, self.cxy
            for seq in range(self.n, n):
                p = docs[seq].position
                cx, cy = math.floor(p.x / c), math.floor(p.y / c)  # Substrate._doc_cell
                if abs(cx) >= _CELL_LIMIT or abs(cy) >= _CELL_LIMIT:
                    self.dense = False
                    continue
                xy[seq, 0], xy[seq, 1], cxy[seq, 0], cxy[seq, 1] = p.x, p.y, cx, cy
                if self.bx1 < self.bx0:
                    self.bx0, self.bx1, self.by0, self.by1 = cx, cx, cy, cy
                else:
                    self.bx0, self.bx1 = min(self.bx0, cx), max(self.bx1, cx)
                    self.by0, self.by1 = min(self.by0, cy), max(self.by1, cy)
            self.n = n
            self.grid[5] = n
        if self.dense and self.n - self.n_grid > 256 + self.n // 32:
            self._build()

    def _build(self) -> None:
        n = self.n
        nx, ny = self.bx1 - self.bx0 + 1, self.by1 - self.by0 + 1
        if nx * ny > max(4 * n, 1 << 16):
            self.dense = False
            return
        key = (self.cxy[:n, 0] - self.bx0) * ny + (self.cxy[:n, 1] - self.by0)
        start = np.zeros(nx * ny + 1, dtype=np.int64)
        np.cumsum(np.bincount(key, minlength=nx * ny), out=start[1:])
        self.members = np.argsort(key, kind="stable").astype(np.int64)
        self.start = start
        self.n_grid = n
        self.grid[:] = (self.bx0, self.by0, nx, ny, n, n)


class RankedDocuments(Sequence[tuple[float, DocumentId]]):
    """One query's documents ``(distance, id)``, nearest first, read from a batch's arrays
    only as they are asked for (most askers look at one of them).

    Compares equal to any sequence of the same pairs.

    Example:
        >>> s = Substrate()
        >>> for k in range(300):  # enough documents for the static grid
        ...     _ = s.add_document(f"d{k}", "text", Position(10 * k, 0))
        >>> _ = s.nearest_undigested_anywhere(Position(0, 0))  # builds the far index
        >>> found = s.nearest_undigested_anywhere_many([Position(21, 0)], 2, [None])[0]
        >>> len(found), found[0][0], [round(d) for d, _ in found]
        (2, 1.0, [1, 9])
    """

    __slots__ = ("_dist", "_docs", "_n", "_row", "_seq")

    def __init__(
        self, dist: FloatArray, seq: IntArray, row: int, n: int, docs: list[Document]
    ) -> None:
        self._dist, self._seq, self._row, self._n, self._docs = dist, seq, row, n, docs

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, k: int) -> tuple[float, DocumentId]: ...

    @overload
    def __getitem__(self, k: slice) -> list[tuple[float, DocumentId]]: ...

    def __getitem__(
        self, k: int | slice
    ) -> tuple[float, DocumentId] | list[tuple[float, DocumentId]]:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(self._n))]
        if k < 0:
            k += self._n
        if not 0 <= k < self._n:
            raise IndexError("RankedDocuments index out of range")
        r = self._row
        return float(self._dist[r, k]), self._docs[int(self._seq[r, k])].id

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RankedDocuments({list(self)!r})"


class _DocumentColumns:
    """A substrate's documents as columns, the form they are pickled in: a list of titles,
    a list of contents, and arrays of ids, positions and digested flags. One object per
    document (a :class:`Document` and its :class:`Position`), as pickle writes them by
    default, took about 2.4 µs a document each way; columns take about 1.3 µs to write
    (W3 documents of about 1 KB)."""

    __slots__ = ("contents", "digested", "ids", "titles", "xy")

    def __init__(self, docs: Sequence[Document]) -> None:
        self.ids = np.fromiter((d.id for d in docs), dtype=np.uint64, count=len(docs))
        self.titles = [d.title for d in docs]
        self.contents = [d.content for d in docs]
        xy = np.empty((len(docs), 2))
        xy[:, 0] = [d.position.x for d in docs]
        xy[:, 1] = [d.position.y for d in docs]
        self.xy = xy
        self.digested = np.fromiter((d.digested for d in docs), dtype=np.bool_, count=len(docs))

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.ids, self.titles, self.contents, self.xy, self.digested)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.ids, self.titles, self.contents, self.xy, self.digested = state

    def documents(self) -> list[Document]:
        """The documents again (positions as they were checked when first stored)."""
        make = trusted_position
        return [
            Document(DocumentId(i), t, c, make(x, y), g)
            for i, t, c, (x, y), g in zip(
                self.ids.tolist(),
                self.titles,
                self.contents,
                self.xy.tolist(),
                self.digested.tolist(),
                strict=True,
            )
        ]


class Substrate:
    """Documents, signals and traces with spatial indexes, and the substrate tick.

    Args:
        cell_size: grid cell size for documents, signals and traces (about the agents'
            sense radius is best); at least :data:`MIN_CELL_SIZE`.

    Raises:
        ConfigError: a cell size that is not a finite number >= :data:`MIN_CELL_SIZE`.
    """

    def __init__(self, cell_size: float = 10.0) -> None:
        cell_size = _cell_size(cell_size)
        self.tick = 0
        self._docs: list[Document] = []
        self._doc_seq: dict[DocumentId, int] = {}
        self._doc_grid: dict[tuple[int, int], list[int]] = {}
        self._undigested = 0
        self._cell = cell_size
        self._sig = _Columns.empty()
        self._sig_pending: list[tuple[float, float, float, int, int, int, int]] = []
        self._sig_index = PointIndex(cell_size)
        self._sig_dirty = True
        self._digested_arr = np.zeros(64, dtype=np.bool_)
        self._far_tree: Any = None
        self._far_emptied = 0
        self._far_cxy: IntArray = np.zeros((0, 2), dtype=np.int64)  # the far index's cells
        self._far_builds = 0  # far_index_version
        self._tr = _Columns.empty()
        self._tr_pending: list[tuple[float, float, float, int, int, int, int]] = []
        self._tr_payloads: list[bytes] = []
        self._tr_index = PointIndex(cell_size)
        self._tr_dirty = True  # traces added or removed since _tr_index was built
        self._claims: dict[int, int] = {}  # document seq -> claiming agent id
        # the same claims for the kernel: per document seq, the claimant's number in
        # _claimant_code (-1: unclaimed); _claimed lists the seqs set
        self._claim_of = np.full(64, -1, dtype=np.int64)
        self._claimant_code: dict[int, int] = {}
        self._claimed: list[int] = []
        # every document's position and cell in columns, with a static grid over them
        # (documents never move), for undigested_near; built lazily
        self._dindex: _DocIndex | None = None
        # per trace type: bumped when a trace of that type is added or removed, so the k-d
        # tree of traces_near_many is rebuilt only when that type's traces change
        self._tr_version: dict[int, int] = {}
        self._tr_trees: dict[int, tuple[int, Any]] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Pickled state, with the documents as columns (:class:`_DocumentColumns`): each
        checkpoint of a shard pickles all of them."""
        state = self.__dict__.copy()
        state["_docs"] = _DocumentColumns(self._docs)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        docs = state["_docs"]
        if isinstance(docs, _DocumentColumns):
            state["_docs"] = docs.documents()
        self.__dict__.update(state)
        if self._dindex is not None:  # it indexes the same list (pickled without it)
            self._dindex.docs = self._docs

    # ------------------------------------------------------------------ documents

    def add_document(
        self,
        title: str,
        content: str,
        position: Position,
        doc_id: DocumentId | None = None,
        *,
        emit_signal: bool = True,
    ) -> DocumentId:
        """Store a document (idempotent by id) and emit its Input signal.

        Returns:
            The document's id; re-adding the same document returns the same id and changes
            nothing.

        Raises:
            EmptyDocument: if ``content`` is empty or whitespace.
            DocumentError: ``doc_id`` is already the id of a different document.
            InvalidPosition: ``position`` beyond :data:`~phago.types.POSITION_LIMIT`.
        """
        if not content or not content.strip():
            raise EmptyDocument(f"document {title!r} has no content")
        placed_xy(position.x, position.y)
        did = doc_id if doc_id is not None else document_id(title, content)
        if did in self._doc_seq:
            held = self._docs[self._doc_seq[did]]
            if held.title != title or held.content != content:
                raise DocumentError(
                    f"document {title!r}: id {did} is already the id of document {held.title!r}"
                )
            return did
        seq = len(self._docs)
        doc = Document(did, title, content, position)
        self._docs.append(doc)
        self._doc_seq[did] = seq
        self._doc_grid.setdefault(self._doc_cell(position), []).append(seq)
        self._far_tree = None
        self._undigested += 1
        if emit_signal:
            self._sig_pending.append(
                (position.x, position.y, 1.0, _SIGNAL_CODE[SignalType.INPUT], self.tick, 0, seq)
            )
            self._sig_dirty = True
        if seq >= len(self._digested_arr):
            grown = np.zeros(2 * len(self._digested_arr), dtype=np.bool_)
            grown[: len(self._digested_arr)] = self._digested_arr
            self._digested_arr = grown
        return did

    def add_documents(
        self,
        titles: Sequence[str],
        contents: Sequence[str],
        xy: npt.NDArray[np.float64],
        ids: npt.NDArray[np.uint64],
    ) -> int:
        """Store documents in order, as :meth:`add_document` would one by one, in one pass.

        The caller has checked them (content not empty, positions finite and within
        :data:`~phago.types.POSITION_LIMIT`: :func:`phago.document_batch.check_positions`).
        A document already stored, or earlier in the batch, is skipped. Returns how many
        were new.

        Example:
            >>> import numpy as np
            >>> s = Substrate()
            >>> ids = np.array([7, 7], np.uint64)
            >>> s.add_documents(["a", "a"], ["x", "x"], np.zeros((2, 2)), ids)
            1
        """
        docs, seqs, grid, pending = self._docs, self._doc_seq, self._doc_grid, self._sig_pending
        code, tick = _SIGNAL_CODE[SignalType.INPUT], self.tick
        c, floor = self._cell, math.floor
        before = len(docs)
        for title, content, x, y, did in zip(
            titles, contents, xy[:, 0].tolist(), xy[:, 1].tolist(), ids.tolist(), strict=True
        ):
            if did in seqs:
                continue
            cx, cy = floor(x / c), floor(y / c)  # Substrate._doc_cell
            seq = len(docs)
            docs.append(Document(did, title, content, trusted_position(x, y)))
            seqs[did] = seq
            cell = grid.get((cx, cy))
            if cell is None:
                grid[(cx, cy)] = [seq]
            else:
                cell.append(seq)
            pending.append((x, y, 1.0, code, tick, 0, seq))
        stored = len(docs) - before
        if stored:
            self._far_tree = None
            self._undigested += stored
            self._sig_dirty = True
            while len(docs) > len(self._digested_arr):
                grown = np.zeros(2 * len(self._digested_arr), dtype=np.bool_)
                grown[: len(self._digested_arr)] = self._digested_arr
                self._digested_arr = grown
        return stored

    def _doc_cell(self, p: Position) -> tuple[int, int]:
        return (math.floor(p.x / self._cell), math.floor(p.y / self._cell))

    def get_document(self, doc_id: DocumentId) -> Document:
        """The document with this id; raises :class:`~phago.errors.UnknownDocument`."""
        seq = self._doc_seq.get(doc_id)
        if seq is None:
            raise UnknownDocument(f"unknown document id {doc_id}")
        return self._docs[seq]

    def has_document(self, doc_id: DocumentId) -> bool:
        """True if a document with this id is stored."""
        return doc_id in self._doc_seq

    def documents(self) -> list[Document]:
        """All documents, in insertion order."""
        return list(self._docs)

    def undigested_documents(self) -> list[Document]:
        """Undigested documents, in insertion order."""
        return [d for d in self._docs if not d.digested]

    @property
    def document_count(self) -> int:
        """Number of documents stored."""
        return len(self._docs)

    @property
    def undigested_count(self) -> int:
        """Number of documents not yet digested."""
        return self._undigested

    def consume_document(self, doc_id: DocumentId) -> str | None:
        """Mark a document digested and return its content; None if unknown or already eaten.

        Its Input signal is withdrawn.
        """
        seq = self._undigested_seq(doc_id)
        if seq is None:
            return None
        doc = self._docs[seq]
        doc.digested = True
        self._undigested -= 1
        cell = self._doc_grid.get(self._doc_cell(doc.position))
        if cell is not None:
            cell.remove(seq)
            if not cell:
                del self._doc_grid[self._doc_cell(doc.position)]
                self._far_emptied += 1
        self._digested_arr[seq] = True
        return doc.content

    def _live_rows(self, rows: IntArray) -> npt.NDArray[np.bool_]:
        # a document's signal is live while the document is undigested
        s = self._sig
        ref = s.ref[rows]
        ok = s.intensity[rows] > 0.0
        tied = ref >= 0
        if tied.any():
            ok[tied] &= ~self._digested_arr[ref[tied]]
        return ok

    def set_claims(self, claims: Iterable[tuple[DocumentId, AgentId]]) -> None:
        """Record which agent is heading for which document (first claim of a document wins).

        Claims only steer :meth:`undigested_near` and :meth:`nearest_undigested_anywhere` when a
        ``claimant`` is given; they never stop a document from being consumed.
        """
        out: dict[int, int] = {}
        seqs = self._doc_seq
        for doc, agent in claims:
            seq = seqs.get(doc)
            if seq is not None and seq not in out:
                out[seq] = int(agent)
        self._claims = out
        claim_of = self._claim_of
        if self._claimed:
            claim_of[self._claimed] = -1
        if len(claim_of) < len(self._docs):
            claim_of = self._claim_of = np.full(2 * len(self._docs), -1, dtype=np.int64)
        codes: dict[int, int] = {}
        for seq, claimer in out.items():
            claim_of[seq] = codes.setdefault(claimer, len(codes))
        self._claimant_code = codes
        self._claimed = list(out)

    def available_document_position(
        self, doc_id: DocumentId, claimant: AgentId | None = None
    ) -> Position | None:
        """Where ``doc_id`` lies if it is undigested and (with ``claimant``) not claimed by
        another agent; else None."""
        seq = self._undigested_seq(doc_id)
        if seq is None:
            return None
        if claimant is not None and self._claims.get(seq, int(claimant)) != int(claimant):
            return None
        return self._docs[seq].position

    def _undigested_seq(self, doc_id: DocumentId) -> int | None:
        seq = self._doc_seq.get(doc_id)
        if seq is None or self._docs[seq].digested:
            return None
        return seq

    def undigested_near(
        self,
        position: Position,
        radius: float,
        claimant: AgentId | None = None,
        limit: int | None = None,
    ) -> list[tuple[float, DocumentId]]:
        """``(distance, id)`` of undigested documents within ``radius``, nearest first
        (ties by insertion order).

        With ``claimant``, documents that another agent has claimed (see :meth:`set_claims`)
        are left out unless they lie within 1 of ``position`` (close enough to engulf). With
        ``limit``, only the first ``limit`` of the list are returned.

        The documents are found through a static grid over all documents by a Numba kernel;
        the distance is ``math.hypot``, computed the way Python computes it.
        """
        c = self._cell
        r = float(radius)
        px, py = position.x, position.y
        x0, x1 = math.floor((px - r) / c), math.floor((px + r) / c)
        y0, y1 = math.floor((py - r) / c), math.floor((py + r) / c)
        index = self._dindex
        if (
            index is None
            or index.n != len(self._docs)
            or index.docs is not self._docs
            or index.cell != c
        ):
            index = self._doc_index()
        if not index.dense:
            found = self._undigested_near_py(px, py, r, x0, x1, y0, y1, claimant)
            return found if limit is None else found[: max(int(limit), 0)]
        # only cells within the documents' bounding box can hold one
        x0, x1 = max(x0, index.bx0), min(x1, index.bx1)
        y0, y1 = max(y0, index.by0), min(y1, index.by1)
        if x0 > x1 or y0 > y1:
            return []
        if claimant is None:
            use_claims, me = False, -2
        else:
            use_claims = bool(self._claims)
            me = self._claimant_code.get(int(claimant), -2)
        k = K.docs_near(
            *self._grid_columns(index),
            px,
            py,
            r,
            x0,
            x1,
            y0,
            y1,
            me,
            use_claims,
            index.n if limit is None else max(int(limit), 0),
            index.out_d,
            index.out_s,
        )
        if k == 0:
            return []
        docs = self._docs
        return [
            (d, docs[seq].id)
            for d, seq in zip(index.out_d[:k].tolist(), index.out_s[:k].tolist(), strict=True)
        ]

    def undigested_near_many(
        self,
        positions: Sequence[Position],
        radius: float,
        claimants: Sequence[AgentId | None],
        limit: int,
    ) -> list[list[tuple[float, DocumentId]]]:
        """:meth:`undigested_near` of each position (with its claimant), the same radius and
        limit, in one pass: the same answers, in order.

        Example:
            >>> s = Substrate()
            >>> for k in range(3):
            ...     _ = s.add_document(f"d{k}", "text", Position(k, 0))
            >>> [[round(d) for d, _ in near] for near in
            ...  s.undigested_near_many([Position(0, 0), Position(9, 9)], 1.5, [None, None], 5)]
            [[0, 1], []]
        """
        if len(positions) != len(claimants):
            raise ValueError("undigested_near_many needs one claimant (or None) per position")
        limit = max(int(limit), 0)
        r = float(radius)
        index = self._dindex
        if (
            index is None
            or index.n != len(self._docs)
            or index.docs is not self._docs
            or index.cell != self._cell
        ):
            index = self._doc_index()
        pxy = np.array([(p.x, p.y) for p in positions], dtype=np.float64).reshape(-1, 2)
        if (
            not index.dense
            or not len(pxy)
            or not limit
            or not math.isfinite(r)
            or not (np.abs(pxy) < 2.0**52).all()
        ):
            return [
                self.undigested_near(p, r, c, limit)
                for p, c in zip(positions, claimants, strict=True)
            ]
        me, use = self._claimant_columns(claimants)
        q = len(pxy)
        head_d = np.empty((q, limit))
        head_s = np.empty((q, limit), dtype=np.int64)
        counts = np.empty(q, dtype=np.int64)
        K.docs_near_many(
            *self._grid_columns(index),
            np.array([index.bx0, index.bx1, index.by0, index.by1], dtype=np.int64),
            self._cell,
            pxy,
            r,
            me,
            use,
            limit,
            index.out_d,
            index.out_s,
            head_d,
            head_s,
            counts,
        )
        docs = self._docs
        out: list[list[tuple[float, DocumentId]]] = []
        for k, ds, ss in zip(counts.tolist(), head_d.tolist(), head_s.tolist(), strict=True):
            out.append([(ds[t], docs[ss[t]].id) for t in range(k)])
        return out

    def _grid_columns(
        self, index: _DocIndex
    ) -> tuple[IntArray, IntArray, FloatArray, IntArray, npt.NDArray[np.bool_], IntArray, IntArray]:
        """The document grid's columns as the query kernels take them first: ``(start,
        members, xy, cxy, digested, claim, grid)``."""
        return (
            index.start,
            index.members,
            index.xy,
            index.cxy,
            self._digested_arr,
            self._claim_of,
            index.grid,
        )

    def _claimant_columns(
        self, claimants: Sequence[AgentId | None]
    ) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        """Per query, the claimant's code in the kernels' claim column (-2: none or no
        claim) and whether claims apply to it, as the batched query kernels take them."""
        codes = self._claimant_code
        with_claims = bool(self._claims)
        me = np.array([-2 if c is None else codes.get(int(c), -2) for c in claimants], np.int64)
        use = np.array([c is not None and with_claims for c in claimants], dtype=np.bool_)
        return me, use

    def _cell_columns(
        self, index: _DocIndex
    ) -> tuple[IntArray, IntArray, FloatArray, npt.NDArray[np.bool_], IntArray, IntArray]:
        """The document grid's columns as the cell-ranking kernels take them first:
        ``(start, members, xy, digested, claim, grid)``."""
        return (
            index.start,
            index.members,
            index.xy,
            self._digested_arr,
            self._claim_of,
            index.grid,
        )

    def _doc_index(self) -> _DocIndex:
        """The document columns and grid, brought up to date with ``_docs``."""
        index = self._dindex
        if index is None or index.docs is not self._docs or index.cell != self._cell:
            index = self._dindex = _DocIndex(self._docs, self._cell)
        index.sync()
        if len(self._claim_of) < index.n:  # room for every document's claim
            grown = np.full(2 * index.n, -1, dtype=np.int64)
            grown[: len(self._claim_of)] = self._claim_of
            self._claim_of = grown
        return index

    def _undigested_near_py(
        self,
        px: float,
        py: float,
        r: float,
        x0: int,
        x1: int,
        y0: int,
        y1: int,
        claimant: AgentId | None,
    ) -> list[tuple[float, DocumentId]]:
        """:meth:`undigested_near` over the dict grid of undigested documents (for layouts
        too sparse for the static grid)."""
        found: list[tuple[float, int]] = []
        grid = self._doc_grid
        docs = self._docs
        claims = self._claims if claimant is not None else None
        me = int(claimant) if claimant is not None else -1
        for cx in range(x0, x1 + 1):
            for cy in range(y0, y1 + 1):
                cell = grid.get((cx, cy))
                if not cell:
                    continue
                for seq in cell:
                    p = docs[seq].position
                    d = math.hypot(p.x - px, p.y - py)
                    if d <= r:
                        if claims and d >= 1.0 and claims.get(seq, me) != me:
                            continue
                        found.append((d, seq))
        found.sort()
        return [(d, docs[seq].id) for d, seq in found]

    def nearest_undigested_anywhere(
        self,
        position: Position,
        choices: int = 1,
        rng: np.random.Generator | None = None,
        claimant: AgentId | None = None,
    ) -> tuple[float, DocumentId] | None:
        """The (about) nearest undigested document at any distance, or None if none is left.

        A k-d tree over the grid cells that held undigested documents when it was built finds
        the nearest such cells (eight, or ``choices`` if more; where every one of them has
        emptied since, four times as many, and so on); the nearest document among them is
        returned (or, with ``choices > 1`` and a generator, one of the ``choices`` nearest at
        random, so hungry agents spread out instead of herding to one document). With
        ``claimant``, documents other agents have claimed are passed over while unclaimed ones
        are among the candidates. The tree is built by the first call after documents are
        added, and rebuilt by :meth:`refresh_far_index` (or by a call) once a sixteenth of its
        cells have emptied, so a call costs O(log cells) amortised.
        """
        if self._undigested == 0:
            return None
        here = np.array([[position.x, position.y]])
        for _ in range(2):
            tree = self._far_index()
            cells = len(self._far_cxy)
            for k in _widening(min(max(8, choices), cells), cells):
                hits = _nearest_cells(tree, here, k)[0]
                found = self._pick_in_cells(hits, position, choices, rng, claimant)
                if found is not None:
                    return found
            self._far_tree = None  # every cell of the index emptied: rebuild and retry
        return None

    def _pick_in_cells(
        self,
        hits: IntArray,
        position: Position,
        choices: int,
        rng: np.random.Generator | None,
        claimant: AgentId | None,
    ) -> tuple[float, DocumentId] | None:
        """:meth:`nearest_undigested_anywhere`'s pick among the documents of the far index's
        cells ``hits``, or None when they have all emptied."""
        claims = self._claims if claimant is not None else None
        me = int(claimant) if claimant is not None else -1
        index = self._doc_index()
        if index.dense and index.n_grid == index.n:
            # the candidates' distances, claim filter and ranking in one kernel call
            limit = min(max(choices, 1), index.n)
            n_found = K.docs_in_cells(
                *self._cell_columns(index),
                self._far_cxy[hits],
                position.x,
                position.y,
                self._claimant_code.get(me, -2) if claims else -2,
                bool(claims),
                limit,
                index.out_d,
                index.out_s,
            )
            head = range(min(n_found, limit))  # the kernel ranks the first ``limit``
            ranked = [(float(index.out_d[r]), int(index.out_s[r])) for r in head]
        else:
            ranked = []
            for cx, cy in self._far_cxy[hits].tolist():
                for seq in self._doc_grid.get((cx, cy), ()):
                    p = self._docs[seq].position
                    ranked.append((math.hypot(p.x - position.x, p.y - position.y), seq))
            if claims:
                ranked = [f for f in ranked if claims.get(f[1], me) == me] or ranked
            ranked.sort()
        if not ranked:
            return None
        pick = 0
        if choices > 1 and rng is not None:
            pick = int(rng.integers(0, min(choices, len(ranked))))
        d, seq = ranked[pick]
        return d, self._docs[seq].id

    def _far_index(self) -> Any:
        if self._far_tree is None or self._far_stale():
            from scipy.spatial import cKDTree

            # the cells holding undigested documents, as rows (cx, cy), and their centres
            held = (cell for cell, docs in self._doc_grid.items() if docs)
            cxy = np.fromiter(chain.from_iterable(held), dtype=np.int64).reshape(-1, 2)
            self._far_cxy = cxy
            centers = (cxy + 0.5) * self._cell
            self._far_tree = cKDTree(centers)
            self._far_emptied = 0
            self._far_builds += 1
        return self._far_tree

    def _far_index_current(self) -> bool:
        """Whether :meth:`_far_index` would return the index as it is (no rebuild due)."""
        return self._far_tree is not None and not self._far_stale()

    def _far_stale(self) -> bool:
        """Whether enough of the far index's cells have emptied for a rebuild."""
        return self._far_emptied > max(8, len(self._far_cxy) // _FAR_STALE_PART)

    def refresh_far_index(self) -> bool:
        """Rebuild the index of :meth:`nearest_undigested_anywhere` now if a sixteenth of its
        cells (at least eight) have emptied since it was built. An index not built yet is left
        to the first call, and none is built once every document is digested. The colony
        calls this before each Sense, while no document is consumed, so that a phase's
        queries, asked one by one or in a batch, all see the same index.

        Returns:
            True when it rebuilt the index.

        Example:
            >>> s = Substrate()
            >>> docs = [s.add_document(f"d{k}", "text", Position(10 * k, 0)) for k in range(40)]
            >>> s.refresh_far_index()  # not built yet: left to the first query
            False
            >>> _ = s.nearest_undigested_anywhere(Position(0, 0))
            >>> for d in docs[:20]:
            ...     _ = s.consume_document(d)
            >>> s.refresh_far_index(), s.refresh_far_index()
            (True, False)
        """
        if self._far_tree is None or self._undigested == 0 or not self._far_stale():
            return False
        self._far_index()
        return True

    @property
    def far_index_version(self) -> int:
        """How many times the index of :meth:`nearest_undigested_anywhere` was built: the
        answers of :meth:`nearest_undigested_anywhere_many` hold while this is unchanged and
        no document is consumed."""
        return self._far_builds

    def nearest_undigested_anywhere_many(
        self,
        positions: Sequence[Position],
        choices: int,
        claimants: Sequence[AgentId | None],
    ) -> list[Sequence[tuple[float, DocumentId]] | None]:
        """For each position (with its claimant), the documents
        :meth:`nearest_undigested_anywhere` would pick from, in one pass.

        An answer lists the call's first ``choices`` candidates ``(distance, id)``, nearest
        first: the call returns the first, or with ``choices > 1`` and a generator the one at
        ``rng.integers(0, len(answer))``; an empty answer means it returns None. An answer is
        None where this pass cannot say without rebuilding the index (the call itself then
        rebuilds it, which changes later calls' answers): every answer is None while a
        rebuild is due (:meth:`refresh_far_index` does it), and where every cell of the index
        has emptied; this method never rebuilds. Answers hold while
        :attr:`far_index_version` is unchanged and no document is consumed.

        Example:
            >>> s = Substrate()
            >>> for k in range(300):  # enough documents for the static grid
            ...     _ = s.add_document(f"d{k}", "text", Position(10 * k, 0))
            >>> s.nearest_undigested_anywhere_many([Position(21, 0)], 2, [None])  # no index yet
            [None]
            >>> _ = s.nearest_undigested_anywhere(Position(0, 0))  # builds it
            >>> here = [Position(21, 0), Position(-5, 0)]
            >>> found = s.nearest_undigested_anywhere_many(here, 2, [None, None])
            >>> [[round(d) for d, _ in a] for a in found]
            [[1, 9], [5, 15]]
        """
        if len(positions) != len(claimants):
            raise ValueError(
                "nearest_undigested_anywhere_many needs one claimant (or None) per position"
            )
        q = len(positions)
        if self._undigested == 0:
            return [[] for _ in range(q)]
        if not q or not self._far_index_current():
            return [None] * q
        index = self._doc_index()
        if not (index.dense and index.n_grid == index.n):
            return [None] * q
        pxy = np.array([(p.x, p.y) for p in positions], dtype=np.float64).reshape(-1, 2)
        me, use = self._claimant_columns(claimants)
        want = min(max(choices, 1), index.n)
        head_d = np.empty((q, want))
        head_s = np.empty((q, want), dtype=np.int64)
        counts = np.zeros(q, dtype=np.int64)
        rows = np.arange(q)
        n_cells = len(self._far_cxy)
        # the rows whose cells have all emptied ask again with four times as many cells,
        # as nearest_undigested_anywhere does
        for k in _widening(min(max(8, choices), n_cells), n_cells):
            hits = _nearest_cells(self._far_tree, pxy[rows], k)
            d, s_, c = head_d[rows], head_s[rows], counts[rows]
            K.docs_in_cells_many(
                *self._cell_columns(index),
                self._far_cxy[hits],
                pxy[rows],
                me[rows],
                use[rows],
                want,
                index.out_d,
                index.out_s,
                d,
                s_,
                c,
            )
            head_d[rows], head_s[rows], counts[rows] = d, s_, c
            rows = rows[c == 0]
            if not len(rows):
                break
        docs = self._docs
        return [
            None if c == 0 else RankedDocuments(head_d, head_s, r, min(c, want), docs)
            for r, c in enumerate(counts.tolist())
        ]  # None: every cell of the index emptied, the call rebuilds it

    def nearest_undigested(self, position: Position, radius: float) -> DocumentId | None:
        """The nearest undigested document within ``radius`` (ties: earliest), or None."""
        near = self.undigested_near(position, radius)
        return near[0][1] if near else None

    # ------------------------------------------------------------------ signals

    def _flush_signals(self) -> None:
        if self._sig_pending:
            self._sig.append(self._sig_pending)
            self._sig_pending = []
        if self._sig_dirty:
            self._sig_index.rebuild(self._sig.x, self._sig.y)
            self._sig_dirty = False

    def emit_signal(self, signal: Signal) -> None:
        """Add a signal (no merging)."""
        self._sig_pending.append(
            (
                signal.position.x,
                signal.position.y,
                float(signal.intensity),
                _SIGNAL_CODE[signal.signal_type],
                int(signal.tick),
                int(signal.emitter),
                -1,
            )
        )
        self._sig_dirty = True

    @property
    def signal_count(self) -> int:
        """Number of live signals."""
        self._flush_signals()
        return int(np.count_nonzero(self._live_rows(np.arange(len(self._sig)))))

    def _signal_rows_near(self, position: Position, radius: float) -> IntArray:
        self._flush_signals()
        s = self._sig
        rows = self._sig_index.within(position.x, position.y, radius, s.x, s.y)
        if len(rows) == 0:
            return rows
        return rows[self._live_rows(rows)]

    def signal_count_near(self, position: Position, radius: float) -> int:
        """Number of live signals within ``radius`` of ``position``."""
        return len(self._signal_rows_near(position, radius))

    def signals_near(self, position: Position, radius: float) -> list[Signal]:
        """Signals within ``radius`` (inclusive) of ``position``, oldest first."""
        rows = self._signal_rows_near(position, radius)
        s = self._sig
        return [
            Signal(
                _SIGNAL_TYPES[int(s.kind[i])],
                float(s.intensity[i]),
                Position(float(s.x[i]), float(s.y[i])),
                AgentId(int(s.owner[i])),
                int(s.tick[i]),
            )
            for i in rows
        ]

    def first_signal_near(
        self,
        position: Position,
        radius: float,
        types: tuple[SignalType, ...],
        exclude_emitter: AgentId | None = None,
    ) -> Signal | None:
        """The oldest signal of one of ``types`` within ``radius`` not from ``exclude_emitter``."""
        rows = self._signal_rows_near(position, radius)
        if len(rows) == 0:
            return None
        s = self._sig
        codes = np.array([_SIGNAL_CODE[t] for t in types], dtype=np.int8)
        ok = np.isin(s.kind[rows], codes)
        if exclude_emitter is not None:
            ok &= s.owner[rows] != np.uint64(exclude_emitter)
        hit = rows[ok]
        if len(hit) == 0:
            return None
        i = int(hit[0])
        return Signal(
            _SIGNAL_TYPES[int(s.kind[i])],
            float(s.intensity[i]),
            Position(float(s.x[i]), float(s.y[i])),
            AgentId(int(s.owner[i])),
            int(s.tick[i]),
        )

    def gradient(
        self, position: Position, radius: float, signal_type: SignalType
    ) -> Gradient | None:
        """Intensity-weighted direction toward signals of ``signal_type`` within ``radius``.

        Implements REFERENCE.md §2.2: each signal contributes its intensity times the unit
        vector toward it; a signal at ``position`` contributes nothing.
        """
        rows = self._signal_rows_near(position, radius)
        if len(rows) == 0:
            return None
        s = self._sig
        rows = rows[s.kind[rows] == _SIGNAL_CODE[signal_type]]
        if len(rows) == 0:
            return None
        dx = s.x[rows] - position.x
        dy = s.y[rows] - position.y
        inten = s.intensity[rows]
        d = np.maximum(np.sqrt(dx * dx + dy * dy), 0.001)
        w = inten / d
        wx, wy = float(np.dot(dx, w)), float(np.dot(dy, w))
        eps = float(np.finfo(np.float64).eps)
        if float(inten.sum()) < eps:
            return None
        m = math.hypot(wx, wy)
        if m < eps:
            return None
        return Gradient(signal_type, Position(wx / m, wy / m), m)

    def decay_signals(self, rate: float, threshold: float) -> int:
        """Decay every signal; drop those below ``threshold`` (strict). Document signals of
        undigested documents do not decay. Returns how many were removed."""
        self._flush_signals()
        s = self._sig
        if len(s) == 0:
            return 0
        # one pass: decay, drop (zero) the rows that fall out, count removed and live rows
        removed, live = K.decay_signal_rows(
            s.intensity, s.ref, self._digested_arr, float(1.0 - rate), float(threshold)
        )
        # the columns are compacted, and the spatial index rebuilt, only once half the rows
        # are dead (every reader skips intensity-0 rows)
        if removed and 2 * live < len(s):
            tied = s.ref >= 0
            eaten = np.zeros(len(s), dtype=np.bool_)
            eaten[tied] = self._digested_arr[s.ref[tied]]
            s.keep((s.intensity >= threshold) & ~eaten & (s.intensity > 0.0))
            self._sig_dirty = True
        return int(removed)

    # ------------------------------------------------------------------ traces

    def _flush_traces(self) -> None:
        if self._tr_pending:
            self._tr.append(self._tr_pending)
            self._tr_pending = []

    def deposit_trace(self, position: Position, trace: Trace) -> None:
        """Leave a trace at ``position``."""
        ref = -1
        if trace.payload:
            ref = len(self._tr_payloads)
            self._tr_payloads.append(trace.payload)
        code = _TRACE_CODE[trace.trace_type]
        self._tr_version[code] = self._tr_version.get(code, 0) + 1
        self._tr_pending.append(
            (
                position.x,
                position.y,
                float(trace.intensity),
                _TRACE_CODE[trace.trace_type],
                int(trace.tick),
                int(trace.agent_id),
                ref,
            )
        )
        self._tr_dirty = True

    def _trace(self, i: int) -> Trace:
        t = self._tr
        ref = int(t.ref[i])
        return Trace(
            AgentId(int(t.owner[i])),
            _TRACE_TYPES[int(t.kind[i])],
            float(t.intensity[i]),
            int(t.tick[i]),
            self._tr_payloads[ref] if ref >= 0 else b"",
        )

    def traces_near(
        self, position: Position, radius: float, trace_type: TraceType | None = None
    ) -> list[Trace]:
        """Traces within ``radius`` (a disc, inclusive) of ``position``, oldest first.

        With ``trace_type``, this is :meth:`traces_near_many` for one position (a k-d tree over
        that type's traces, kept while they do not change).
        """
        if trace_type is not None:
            return self.traces_near_many([position], radius, trace_type)[0]
        self._flush_traces()
        t = self._tr
        if self._tr_dirty:  # the index over all traces is rebuilt lazily, by this query
            self._tr_index.rebuild(t.x, t.y)
            self._tr_dirty = False
        rows = self._tr_index.within(position.x, position.y, radius, t.x, t.y)
        return [self._trace(int(i)) for i in rows]

    def traces_near_many(
        self, positions: Sequence[Position], radius: float, trace_type: TraceType
    ) -> list[list[Trace]]:
        """:meth:`traces_near` of one trace type for many positions at once (one k-d tree
        query for all of them).

        Example:
            >>> from phago.ids import AgentId
            >>> s = Substrate()
            >>> s.deposit_trace(Position(0, 0), Trace(AgentId(1), TraceType.DIGESTION, 1.0, 0))
            >>> [len(h) for h in s.traces_near_many(
            ...     [Position(1, 0), Position(50, 0)], 2.0, TraceType.DIGESTION)]
            [1, 0]
        """
        self._flush_traces()
        t = self._tr
        code = _TRACE_CODE[trace_type]
        rows = np.flatnonzero(t.kind == code)
        out: list[list[Trace]] = [[] for _ in positions]
        if len(rows) == 0 or not positions:
            return out
        version = self._tr_version.get(code, 0)
        cached = self._tr_trees.get(code)
        if cached is not None and cached[0] == version:
            tree = cached[1]  # same traces of this type, same (stable) row order
        else:
            from scipy.spatial import cKDTree

            tree = cKDTree(np.column_stack([t.x[rows], t.y[rows]]))
            self._tr_trees[code] = (version, tree)
        qx = np.fromiter((p.x for p in positions), dtype=np.float64, count=len(positions))
        qy = np.fromiter((p.y for p in positions), dtype=np.float64, count=len(positions))
        # a hair wider than radius, then the exact test traces_near uses
        hits = tree.query_ball_point(np.column_stack([qx, qy]), radius * (1.0 + 1e-9) + 1e-12)
        r2 = radius * radius
        for i, h in enumerate(hits):
            if not h:
                continue
            cand = rows[np.sort(np.asarray(h, dtype=np.int64))]
            dx = t.x[cand] - qx[i]
            dy = t.y[cand] - qy[i]
            out[i] = [self._trace(int(k)) for k in cand[dx * dx + dy * dy <= r2]]
        return out

    def traces_at(self, position: Position) -> list[Trace]:
        """Traces in the 0.1-unit cell of ``position`` (the reference's location key)."""
        self._flush_traces()
        t = self._tr
        qx, qy = _round_half_away(position.x * 10), _round_half_away(position.y * 10)
        with np.errstate(over="ignore"):  # (a trace far out: its key is infinite)
            ok = (_round_half_away_arr(t.x * 10) == qx) & (_round_half_away_arr(t.y * 10) == qy)
        return [self._trace(int(i)) for i in np.flatnonzero(ok)]

    def decay_traces(self, rate: float, threshold: float) -> int:
        """Decay every trace; keep those with intensity >= ``threshold``. Returns removed."""
        self._flush_traces()
        t = self._tr
        if len(t) == 0:
            return 0
        t.intensity *= 1.0 - rate
        keep = t.intensity >= threshold
        removed = int(len(t) - keep.sum())
        if removed:
            for code in unique_sorted(t.kind[~keep]).tolist():
                self._tr_version[code] = self._tr_version.get(code, 0) + 1
            t.keep(keep)
            self._tr_dirty = True
            if len(t) == 0:
                self._tr_payloads = []
        return removed

    @property
    def trace_count(self) -> int:
        """Total number of traces."""
        self._flush_traces()
        return len(self._tr)

    def iter_traces(self) -> Iterator[tuple[Position, Trace]]:
        """Every trace with its position, oldest first."""
        self._flush_traces()
        for i in range(len(self._tr)):
            yield Position(float(self._tr.x[i]), float(self._tr.y[i])), self._trace(i)

    def iter_signals(self) -> Iterator[tuple[Signal, int]]:
        """Every live signal with its document sequence number (-1 if none), oldest first."""
        self._flush_signals()
        s = self._sig
        for i in np.flatnonzero(self._live_rows(np.arange(len(s)))):
            yield (
                Signal(
                    _SIGNAL_TYPES[int(s.kind[i])],
                    float(s.intensity[i]),
                    Position(float(s.x[i]), float(s.y[i])),
                    AgentId(int(s.owner[i])),
                    int(s.tick[i]),
                ),
                int(s.ref[i]),
            )

    def advance_tick(self) -> int:
        """Advance the substrate tick by one and return it."""
        self.tick += 1
        return self.tick


# the far index is rebuilt once this part of its cells (1/16; at least 8) has emptied. A
# fresher index gives hungry agents more free candidates: W3 D = 100k took 548 ticks and
# 24,904 hunts rebuilding at 1/4, 537 and 14,981 at 1/16 (61 rebuilds of ~5 ms)
_FAR_STALE_PART = 16


def _widening(k: int, cells: int) -> Iterator[int]:
    """How many of the far index's ``cells`` nearest cells a query looks at, try after try:
    ``k``, then four times as many, until all of them.

    Example:
        >>> list(_widening(8, 100)), list(_widening(8, 8)), list(_widening(0, 0))
        ([8, 32, 100], [8], [])
    """
    if cells <= 0:
        return
    k = max(1, min(k, cells))
    while True:
        yield k
        if k >= cells:
            return
        k = min(4 * k, cells)


def _nearest_cells(tree: Any, pxy: FloatArray, k: int) -> IntArray:
    """The ``k`` nearest of the k-d tree's points (cell centres) to each row of ``pxy``, as
    ``(rows, k)`` indices. Where the tree finds fewer (squared distances overflow for a
    position around 1e154 or more), that row is ranked by ``np.hypot``, which does not."""
    _, hits = tree.query(pxy, k=k)
    hits = np.asarray(hits, dtype=np.int64).reshape(len(pxy), k)
    lost = np.flatnonzero((hits >= tree.n).any(axis=1))
    for r in lost.tolist():
        centres = tree.data
        d = np.hypot(centres[:, 0] - pxy[r, 0], centres[:, 1] - pxy[r, 1])
        hits[r] = np.argsort(d, kind="stable")[:k]
    return hits


def _round_half_away(v: float) -> float:
    """``v`` rounded half away from zero, as a float (infinite for an infinite ``v``: a
    coordinate far out times 10), as :func:`_round_half_away_arr` rounds.

    Example:
        >>> _round_half_away(2.5), _round_half_away(-2.5), _round_half_away(float("inf"))
        (3.0, -3.0, inf)
    """
    a = abs(v) + 0.5
    r = float(math.floor(a)) if a != math.inf else a
    return r if v >= 0 else -r


def _round_half_away_arr(v: FloatArray) -> FloatArray:
    out: FloatArray = np.floor(np.abs(v) + 0.5) * np.sign(v)
    return out
