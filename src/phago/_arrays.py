"""Array helpers shared by hot paths: NumPy operations done the fast way for our inputs.

NumPy 2.3 and later find the distinct values of an integer array by hashing when no index,
inverse or counts are asked for. On this project's inputs (node indices, edge slots, pair
keys: hundreds to hundreds of thousands of 64-bit integers) that measured 10 to 27 times
slower than sorting and keeping each first value (NumPy 2.4.6: 1,000 values 146 µs against
14 µs, 100,000 values 35 ms against 1.3 ms; BENCHMARKS.md, "Profiling"). The distributed
degree cap and edge removals call it every tick, so they use :func:`unique_sorted`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["unique_sorted"]


def unique_sorted(values: npt.ArrayLike) -> npt.NDArray[Any]:
    """The sorted distinct values of ``values`` (flattened): ``np.unique(values)``, by sorting.

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
    out = np.sort(a, axis=None)
    if len(out) < 2:
        return out
    first = np.empty(len(out), dtype=np.bool_)
    first[0] = True
    np.not_equal(out[1:], out[:-1], out=first[1:])
    return out[first]
