"""Array helpers shared by hot paths: NumPy operations done the fast way for our inputs.

NumPy 2.3 and later find the distinct values of an integer array by hashing when no index,
inverse or counts are asked for. On this project's inputs (node indices, edge slots, pair
keys: hundreds to hundreds of thousands of 64-bit integers) that measured 10 to 27 times
slower than sorting and keeping each first value (NumPy 2.4.6: 1,000 values 146 µs against
14 µs, 100,000 values 35 ms against 1.3 ms; BENCHMARKS.md, "Profiling"). The distributed
degree cap and edge removals call it every tick, so they use :func:`unique_sorted`.
"""

from __future__ import annotations

from functools import cache
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["csr_take", "frozen_empty", "gather", "stable_groups", "unique_sorted"]


def frozen_empty(dtype: npt.DTypeLike, columns: int | None = None) -> npt.NDArray[Any]:
    """A read-only empty array of ``dtype`` (shape ``(0,)``, or ``(0, columns)``), the same
    one every call: the default of a message's array fields. A message is made several
    times a tick per destination, and a fresh empty array costs about as much as the rest
    of a small message; read-only, no message can change another's.

    Example:
        >>> a = frozen_empty(np.int32, 2)
        >>> a.shape, a.flags.writeable, a is frozen_empty("int32", 2)
        ((0, 2), False, True)
    """
    return _frozen_empty(np.dtype(dtype), columns)


@cache
def _frozen_empty(dtype: np.dtype[Any], columns: int | None) -> npt.NDArray[Any]:
    a = np.zeros((0,) if columns is None else (0, columns), dtype=dtype)
    a.flags.writeable = False
    return a


def unique_sorted(values: npt.ArrayLike) -> npt.NDArray[Any]:
    """The sorted distinct values of ``values`` (flattened): ``np.unique(values)``, by sorting
    (or by one pass, when they are sorted already).

    Integer and boolean arrays are sorted and each run of equal values kept once; other
    kinds (floats, with their NaN rules, strings, objects) go to :func:`numpy.unique`.

    Example:
        >>> unique_sorted(np.array([7, 3, 7, 1, 3])).tolist()
        [1, 3, 7]
        >>> unique_sorted([]).dtype
        dtype('float64')
    """
    a = np.asarray(values)
    if a.dtype.kind not in "iub":
        return np.unique(a)
    out = a.ravel()
    if len(out) < 2:
        return out.copy()
    if not (out[1:] >= out[:-1]).all():  # (already sorted, as many callers' values are)
        out = np.sort(out)
    first = np.empty(len(out), dtype=np.bool_)
    first[0] = True
    np.not_equal(out[1:], out[:-1], out=first[1:])
    return out[first]


def stable_groups(keys: npt.ArrayLike) -> tuple[npt.NDArray[np.intp], list[tuple[int, int, int]]]:
    """Group positions by key with one stable sort: what a loop of ``keys == k`` selections
    over the distinct keys gives, without a pass over all keys per group.

    Returns:
        ``(order, groups)``: ``order`` lists the positions by ascending key, positions with
        equal keys in their original order; ``groups`` holds ``(key, start, stop)`` for each
        distinct key, ascending, where ``order[start:stop]`` are that key's positions.

    Example:
        >>> order, groups = stable_groups(np.array([2, 0, 2, 1, 0]))
        >>> order.tolist(), groups
        ([1, 4, 3, 0, 2], [(0, 0, 2), (1, 2, 3), (2, 3, 5)])
    """
    k = np.asarray(keys).reshape(-1)
    sortable = k
    if k.dtype.kind in "iu" and len(k) and k.min() >= 0 and k.max() < 1 << 16:
        # small keys (shards, destinations): NumPy sorts 16-bit integers stably by radix,
        # 5-8x faster than its merge sort of 64-bit ones
        sortable = k.astype(np.uint16)
    order = np.argsort(sortable, kind="stable")
    ordered = k[order]
    if not len(ordered):
        return order, []
    cuts = [0, *(np.flatnonzero(ordered[1:] != ordered[:-1]) + 1).tolist(), len(ordered)]
    return order, [(int(ordered[c0]), c0, c1) for c0, c1 in pairwise(cuts)]


def csr_take(
    indptr: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The CSR rows ``rows`` of a matrix with row pointers ``indptr``, as the row pointers of
    the taken rows and the positions of their entries in the matrix (row by row).

    Example:
        >>> ptr, pos = csr_take(np.array([0, 2, 3, 5]), np.array([2, 0]))
        >>> ptr.tolist(), pos.tolist()
        ([0, 2, 4], [3, 4, 0, 1])
    """
    starts = indptr[rows]
    lens = indptr[rows + 1] - starts
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lens, out=ptr[1:])
    pos = np.arange(ptr[-1], dtype=np.int64) - np.repeat(ptr[:-1] - starts, lens)
    return ptr, pos


def gather(
    indptr: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Entry positions of every CSR row in ``rows`` and, per entry, its position in ``rows``.

    Example:
        >>> pos, owner = gather(np.array([0, 2, 3, 5]), np.array([2, 0]))
        >>> pos.tolist(), owner.tolist()
        ([3, 4, 0, 1], [0, 0, 1, 1])
    """
    ptr, pos = csr_take(indptr, rows)
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), np.diff(ptr))
    return pos, owner
