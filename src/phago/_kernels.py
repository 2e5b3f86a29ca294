"""Numba kernels for the edge table of :class:`phago.graph.HebbianGraph`.

The edge table is an open-addressing hash table (linear probing) from a pair key
``(lo << 32) | hi`` of two node indices to a slot in the edge columns. Keys are
non-negative, ``EMPTY`` marks a free bucket and ``TOMBSTONE`` a deleted one. These kernels
are internal; the graph keeps the invariants (capacity, load factor) before calling them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

EMPTY = np.int64(-1)
TOMBSTONE = np.int64(-2)


@njit(cache=True, inline="always")
def _bucket(key: np.int64, mask: np.int64) -> np.int64:
    # splitmix64 finaliser: spreads consecutive node indices over the table.
    z = np.uint64(key) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.int64(z & np.uint64(mask))


@njit(cache=True)
def table_find(tkeys: np.ndarray, tslots: np.ndarray, key: np.int64) -> np.int64:
    """Slot of ``key`` or -1."""
    mask = np.int64(tkeys.shape[0] - 1)
    b = _bucket(key, mask)
    while True:
        k = tkeys[b]
        if k == key:
            return np.int64(tslots[b])
        if k == EMPTY:
            return np.int64(-1)
        b = (b + 1) & mask


@njit(cache=True)
def table_find_many(tkeys: np.ndarray, tslots: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Slots of ``keys`` (-1 where absent)."""
    out = np.empty(keys.shape[0], dtype=np.int64)
    for i in range(keys.shape[0]):
        out[i] = table_find(tkeys, tslots, keys[i])
    return out


@njit(cache=True)
def table_delete_many(tkeys: np.ndarray, tslots: np.ndarray, keys: np.ndarray) -> int:
    """Mark ``keys`` deleted; returns how many were found."""
    mask = np.int64(tkeys.shape[0] - 1)
    found = 0
    for i in range(keys.shape[0]):
        key = keys[i]
        b = _bucket(key, mask)
        while True:
            k = tkeys[b]
            if k == key:
                tkeys[b] = TOMBSTONE
                found += 1
                break
            if k == EMPTY:
                break
            b = (b + 1) & mask
    return found


@njit(cache=True)
def table_build(tkeys: np.ndarray, tslots: np.ndarray, keys: np.ndarray) -> None:
    """Fill an empty table with ``keys[i] -> i``."""
    mask = np.int64(tkeys.shape[0] - 1)
    for i in range(keys.shape[0]):
        b = _bucket(keys[i], mask)
        while tkeys[b] >= 0:
            b = (b + 1) & mask
        tkeys[b] = keys[i]
        tslots[b] = i


@njit(cache=True)
def upsert_pairs(
    tkeys: np.ndarray,
    tslots: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    ea: np.ndarray,
    eb: np.ndarray,
    w: np.ndarray,
    co: np.ndarray,
    ct: np.ndarray,
    lt: np.ndarray,
    n_edges: int,
    tentative: float,
    increment: float,
    tick: int,
) -> tuple[int, int, int]:
    """Reinforce existing edges ``{lo[i], hi[i]}`` or create tentative ones.

    Returns ``(new edge count, number created, tombstones reused)``. The caller guarantees room for
    ``len(lo)`` new slots and buckets. Duplicate pairs in one call reinforce twice.
    """
    mask = np.int64(tkeys.shape[0] - 1)
    created = 0
    reused = 0
    n = n_edges
    for i in range(lo.shape[0]):
        key = (np.int64(lo[i]) << np.int64(32)) | np.int64(hi[i])
        b = _bucket(key, mask)
        first_tomb = np.int64(-1)
        slot = np.int64(-1)
        while True:
            k = tkeys[b]
            if k == key:
                slot = np.int64(tslots[b])
                break
            if k == EMPTY:
                break
            if k == TOMBSTONE and first_tomb < 0:
                first_tomb = b
            b = (b + 1) & mask
        if slot >= 0:
            nw = w[slot] + increment
            w[slot] = nw if nw < 1.0 else 1.0
            co[slot] += 1
            lt[slot] = tick
        else:
            if first_tomb >= 0:
                b = first_tomb
                reused += 1
            tkeys[b] = key
            tslots[b] = n
            ea[n] = lo[i]
            eb[n] = hi[i]
            w[n] = tentative if tentative < 1.0 else 1.0
            co[n] = 1
            ct[n] = tick
            lt[n] = tick
            n += 1
            created += 1
    return n, created, reused


@njit(cache=True)
def rank_within_groups(sorted_groups: np.ndarray) -> np.ndarray:
    """0-based rank of each element within its run of equal values (input sorted by group)."""
    out = np.empty(sorted_groups.shape[0], dtype=np.int64)
    r = 0
    for i in range(sorted_groups.shape[0]):
        if i > 0 and sorted_groups[i] != sorted_groups[i - 1]:
            r = 0
        out[i] = r
        r += 1
    return out


@njit(cache=True)
def degree_cap_marks(
    slots: np.ndarray, ea: np.ndarray, eb: np.ndarray, w: np.ndarray, n_nodes: int, k: int
) -> np.ndarray:
    """Slots (ascending) of live edges that fall outside some endpoint's ``k`` strongest.

    ``slots`` are the live slots in ascending (insertion) order; ties in weight keep the
    earlier slot.
    """
    deg = np.zeros(n_nodes, dtype=np.int64)
    for t in range(slots.shape[0]):
        s = slots[t]
        deg[ea[s]] += 1
        deg[eb[s]] += 1
    over = 0
    for v in range(n_nodes):
        if deg[v] > k:
            over += 1
    if over == 0:
        return np.zeros(0, dtype=np.int64)
    # CSR of incident slots for over-cap nodes only
    start = np.zeros(n_nodes + 1, dtype=np.int64)
    for v in range(n_nodes):
        start[v + 1] = start[v] + (deg[v] if deg[v] > k else 0)
    fill = start[:-1].copy()
    inc = np.empty(start[n_nodes], dtype=np.int64)
    for t in range(slots.shape[0]):
        s = slots[t]
        a = ea[s]
        b = eb[s]
        if deg[a] > k:
            inc[fill[a]] = s
            fill[a] += 1
        if deg[b] > k:
            inc[fill[b]] = s
            fill[b] += 1
    mark = np.zeros(w.shape[0], dtype=np.bool_)
    for v in range(n_nodes):
        lo = start[v]
        hi = start[v + 1]
        if hi - lo <= k:
            continue
        seg = inc[lo:hi]
        neg = np.empty(hi - lo, dtype=np.float64)
        for q in range(hi - lo):
            neg[q] = -w[seg[q]]
        order = np.argsort(neg, kind="mergesort")
        for q in range(k, hi - lo):
            mark[seg[order[q]]] = True
    count = 0
    for t in range(slots.shape[0]):
        if mark[slots[t]]:
            count += 1
    out = np.empty(count, dtype=np.int64)
    c = 0
    for t in range(slots.shape[0]):
        if mark[slots[t]]:
            out[c] = slots[t]
            c += 1
    return out


@njit(cache=True)
def window_pair_codes(kid: np.ndarray, pos: np.ndarray, window: int, k: int) -> np.ndarray:
    """Sorted unique codes ``i * k + j`` (``i < j``) of keyword ids occurring within ``window``."""
    n = kid.shape[0]
    seen = np.zeros(k * k, dtype=np.bool_) if k <= 2048 else np.zeros(0, dtype=np.bool_)
    out = np.empty(n * min(window, n), dtype=np.int64)
    m = 0
    for a in range(n):
        pa = pos[a]
        for b in range(a + 1, n):
            if pos[b] - pa > window:
                break
            x = kid[a]
            y = kid[b]
            if x == y:
                continue
            if x > y:
                x, y = y, x
            code = x * k + y
            if seen.shape[0] > 0:
                if seen[code]:
                    continue
                seen[code] = True
            out[m] = code
            m += 1
    res = out[:m]
    res.sort()
    if seen.shape[0] == 0 and m > 1:
        uniq = np.empty(m, dtype=np.int64)
        u = 0
        for t in range(m):
            if t == 0 or res[t] != res[t - 1]:
                uniq[u] = res[t]
                u += 1
        return uniq[:u]
    return res


@njit(cache=True)
def edge_term_counts(
    tkeys: np.ndarray,
    tslots: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    co: np.ndarray,
    ct: np.ndarray,
    tick: int,
    before: int,
    strong_min: int,
) -> tuple[int, int]:
    """(strong, bridge) counts over the wired pairs ``{lo[i], hi[i]}`` (see fitness_terms)."""
    strong = 0
    bridges = 0
    for i in range(lo.shape[0]):
        key = (np.int64(lo[i]) << np.int64(32)) | np.int64(hi[i])
        s = table_find(tkeys, tslots, key)
        if s < 0:
            continue
        c = co[s]
        if c >= strong_min:
            strong += 1
        elif c == 1 and ct[s] == tick and lo[i] < before and hi[i] < before:
            bridges += 1
    return strong, bridges
