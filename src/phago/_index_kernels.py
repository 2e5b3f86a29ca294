"""Numba kernels for the BM25 document index (:mod:`phago.query.index`) on large builds.

Each computes exactly what the index's NumPy code computes; the index calls them when the
work is large enough to pay for Numba (see :func:`phago._jit.kernel_pays`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numba import njit
else:  # Numba is imported on a kernel's first call (see phago._jit)
    from phago._jit import njit

__all__ = ["find_in_rows", "postings"]


@njit(cache=True)
def find_in_rows(
    indptr: np.ndarray, values: np.ndarray, rows: np.ndarray, wanted: np.ndarray
) -> np.ndarray:
    """Position of each ``wanted[i]`` in CSR row ``rows[i]`` (whose values ascend), or -1:
    a bisection of the row for each."""
    out = np.full(rows.shape[0], -1, dtype=np.int64)
    for i in range(rows.shape[0]):
        w = wanted[i]
        if w < 0:
            continue
        lo = indptr[rows[i]]
        hi = indptr[rows[i] + 1]
        while lo < hi:
            mid = (lo + hi) >> 1
            if values[mid] < w:
                lo = mid + 1
            else:
                hi = mid
        if lo < indptr[rows[i] + 1] and values[lo] == w:
            out[i] = lo
    return out


@njit(cache=True)
def postings(
    tok_ptr: np.ndarray, tok_col: np.ndarray, tok_cnt: np.ndarray, n_terms: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The term × slot postings (CSC: ``indptr``, slots, counts) of the slot × term counts
    ``(tok_ptr, tok_col, tok_cnt)``: a counting sort by term, slots ascending in each."""
    n_slots = tok_ptr.shape[0] - 1
    nnz = tok_ptr[n_slots]
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    for e in range(nnz):
        indptr[tok_col[e] + 1] += 1
    for t in range(n_terms):
        indptr[t + 1] += indptr[t]
    fill = indptr[:-1].copy()
    slots = np.empty(nnz, dtype=np.int32)
    counts = np.empty(nnz, dtype=np.int32)
    for s in range(n_slots):
        for e in range(tok_ptr[s], tok_ptr[s + 1]):
            at = fill[tok_col[e]]
            slots[at] = s
            counts[at] = tok_cnt[e]
            fill[tok_col[e]] = at + 1
    return indptr, slots, counts
