"""Checksums over a store's table rows (``documents``, ``agents``, ``sources``, ``history``).

A store keeps one digest of its rows, so a damaged file is refused instead of loading wrong
data. Two forms exist, and a store says which one it holds:

* :class:`ColumnDigest` (schema version 2 on), SHA-256 (as the store's blobs; about twice
  BLAKE2b's speed where the processor has SHA instructions): each table's header, then each
  column as one piece: whole numbers as little-endian int64, floats as little-endian
  float64, text as its character counts followed by its UTF-8 bytes, anything else value
  by value as in the second form. Columns are hashed from NumPy arrays or with a few
  C-level passes, so a store of 50,000 notes is checked in about a tenth of a second.
* :class:`RowDigest` (schema version 1), BLAKE2b: every value in row order, each as
  :func:`value_bytes` gives it, with a Python step per value (about five times slower).

Both hash what SQLite gives back, so a value must be passed as it will be read: a REAL
``-0.0`` is read as ``0.0``, and document ids are stored as signed 64-bit integers.

Example:
    >>> import numpy as np
    >>> a, b = ColumnDigest(), ColumnDigest()
    >>> a.table("t", [np.array([1, 2]), ["x", "yz"], np.array([0.5, 1.0])], rows=2)
    >>> b.rows("t", [(1, "x", 0.5), (2, "yz", 1.0)], width=3)
    >>> a.hexdigest() == b.hexdigest()
    True
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from phago._lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
else:  # (``phago stats`` reads a store's summary without NumPy)
    np = lazy_module("numpy")

__all__ = ["ColumnDigest", "RowDigest", "columns_of", "value_bytes"]

_PACK_LENGTH = struct.Struct("<Q").pack
_PACK_FLOAT = struct.Struct("<d").pack

_TEXT_BATCH = 4096
"""Text values joined and encoded at once (bounds the memory a column's text takes)."""


def value_bytes(v: Any) -> bytes:
    """What a digest hashes for one value outside a uniform column: ``s`` + UTF-8 length
    (8 bytes, little endian) + UTF-8 text, ``i`` + 16-byte signed little-endian integer
    (bools as 0 and 1), or ``f`` + 8-byte little-endian double.

    Raises:
        TypeError: any other type.

    Example:
        >>> value_bytes(True) == value_bytes(1), value_bytes("é")[:2]
        (True, b's\\x02')
    """
    if isinstance(v, str):
        b = v.encode("utf-8")
        return b"s" + _PACK_LENGTH(len(b)) + b
    if isinstance(v, bool | int):
        return b"i" + int(v).to_bytes(16, "little", signed=True)
    if isinstance(v, float):
        return b"f" + _PACK_FLOAT(v)
    raise TypeError(type(v))


class RowDigest:
    """The row-by-row digest of schema version 1: :func:`value_bytes` of every value, in
    row order, gathered and hashed in batches (the same digest as hashing each value in
    turn, a few times faster).

    Example:
        >>> d = RowDigest()
        >>> d.add(0, "title", 1.5)
        >>> len(d.hexdigest())
        64
    """

    __slots__ = ("_h", "_parts")

    _BATCH = 4096
    """Pieces gathered before they are hashed."""

    def __init__(self) -> None:
        self._h = hashlib.blake2b(digest_size=32)
        self._parts: list[bytes] = []

    def add(self, *values: Any) -> None:
        """Hash one row's values."""
        parts = self._parts
        for v in values:
            t = type(v)  # (the exact types SQLite returns first; anything else as it is)
            if t is str:
                b = v.encode("utf-8")
                parts += (b"s", _PACK_LENGTH(len(b)), b)
            elif t is int:
                parts += (b"i", v.to_bytes(16, "little", signed=True))
            elif t is float:
                parts += (b"f", _PACK_FLOAT(v))
            else:
                parts.append(value_bytes(v))
        if len(parts) >= self._BATCH:
            self._h.update(b"".join(parts))
            parts.clear()

    def hexdigest(self) -> str:
        """The digest of every row added so far."""
        if self._parts:
            self._h.update(b"".join(self._parts))
            self._parts.clear()
        return self._h.hexdigest()


def columns_of(rows: Sequence[tuple[Any, ...]], width: int) -> list[Sequence[Any]]:
    """``rows`` (each ``width`` values) as ``width`` columns.

    Raises:
        ValueError: a row of another width.

    Example:
        >>> columns_of([(1, "a"), (2, "b")], 2), columns_of([], 2)
        ([(1, 2), ('a', 'b')], [(), ()])
    """
    if not rows:
        return [()] * width
    if len(rows[0]) != width:
        raise ValueError(f"a row has {len(rows[0])} values, not {width}")
    return list(zip(*rows, strict=True))


class ColumnDigest:
    """The column-by-column digest of schema version 2 (see the module docstring).

    A column may be a NumPy array (int64, bool or float64: hashed as it is) or any
    sequence of values; both give the same digest for the same values.

    Example:
        >>> d = ColumnDigest()
        >>> d.rows("history", [(0, 5), (1, 7)], width=2)
        >>> len(d.hexdigest())
        64
    """

    __slots__ = ("_h",)

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def table(self, name: str, columns: Sequence[Any], rows: int) -> None:
        """Hash one table given as its columns (each ``rows`` long).

        Raises:
            ValueError: a column of another length.
            TypeError: a value that is neither text nor a number.
        """
        key = name.encode("utf-8")
        self._h.update(
            b"T" + _PACK_LENGTH(len(key)) + key + _PACK_LENGTH(rows) + _PACK_LENGTH(len(columns))
        )
        for col in columns:
            if len(col) != rows:
                raise ValueError(f"a column of table {name!r} has {len(col)} values, not {rows}")
            self._column(col)

    def rows(self, name: str, rows: Sequence[tuple[Any, ...]], width: int) -> None:
        """Hash one table given as its rows (each ``width`` values)."""
        self.table(name, columns_of(rows, width), len(rows))

    def hexdigest(self) -> str:
        """The digest of every table hashed so far."""
        return self._h.hexdigest()

    def _column(self, col: Any) -> None:
        h = self._h
        if not len(col):
            h.update(b"E")
            return
        if isinstance(col, np.ndarray):
            if col.dtype == np.bool_ or col.dtype == np.int64:
                h.update(b"I")
                h.update(np.ascontiguousarray(col, dtype="<i8").data)
                return
            if col.dtype == np.float64:
                h.update(b"F")
                h.update(np.ascontiguousarray(col, dtype="<f8").data)
                return
            col = col.tolist()
        kinds = set(map(type, col))
        if all(issubclass(k, int) for k in kinds):  # (bools are 0 and 1, as SQLite keeps them)
            try:
                ints = np.array(col, dtype="<i8")
            except OverflowError:  # outside SQLite's range: value by value below
                pass
            else:
                h.update(b"I")
                h.update(ints.data)
                return
        elif all(issubclass(k, float) for k in kinds):
            h.update(b"F")
            h.update(np.array(col, dtype="<f8").data)
            return
        elif all(issubclass(k, str) for k in kinds):
            h.update(b"S")
            h.update(np.fromiter(map(len, col), dtype="<i8", count=len(col)).data)
            for i in range(0, len(col), _TEXT_BATCH):
                h.update("".join(col[i : i + _TEXT_BATCH]).encode("utf-8"))
            return
        h.update(b"V")  # mixed or other types (a damaged row): value by value
        for i in range(0, len(col), _TEXT_BATCH):
            h.update(b"".join(map(value_bytes, col[i : i + _TEXT_BATCH])))
