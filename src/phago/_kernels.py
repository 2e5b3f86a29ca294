"""Numba kernels for the edge table of :class:`phago.graph.HebbianGraph` (and a few for the
substrate's document queries).

The edge table is an open-addressing hash table (linear probing) from a pair key
``(lo << 32) | hi`` of two node indices to a slot in the edge columns. Keys are
non-negative and ``EMPTY`` marks a free bucket. A deletion moves the entries after the
removed one back towards their home buckets (backward shift), so the table holds no
tombstones: it only fills with live keys, and edges that come and go (the degree cap
removes most edges soon after they are made) do not fill it up. These kernels are internal;
the graph keeps the invariants (capacity, load factor) before calling them.
Each kernel that replaces a NumPy or Python form computes exactly what that form did (same
operations in the same order, so the same floats); the tests compare them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numba import njit
else:  # Numba is imported on a kernel's first call (see phago._jit)
    from phago._jit import njit

EMPTY = np.int64(-1)


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


@njit(cache=True, inline="always")
def _shift_back(tkeys: np.ndarray, tslots: np.ndarray, hole: np.int64, mask: np.int64) -> None:
    """Empty bucket ``hole`` of a linear-probing table without a tombstone: each later entry
    of its cluster whose probe path (home bucket to its bucket) passes the hole moves into
    it, and the bucket it leaves becomes the hole; the last hole is emptied."""
    j = hole
    while True:
        j = (j + 1) & mask
        k = tkeys[j]
        if k == EMPTY:
            break
        # the hole lies on the entry's path when it is no further from the entry than its home
        if ((j - _bucket(k, mask)) & mask) >= ((j - hole) & mask):
            tkeys[hole] = k
            tslots[hole] = tslots[j]
            hole = j
    tkeys[hole] = EMPTY


@njit(cache=True)
def table_delete_many(tkeys: np.ndarray, tslots: np.ndarray, keys: np.ndarray) -> int:
    """Remove ``keys`` (absent ones are skipped); returns how many were found."""
    mask = np.int64(tkeys.shape[0] - 1)
    found = 0
    for i in range(keys.shape[0]):
        key = keys[i]
        b = _bucket(key, mask)
        while True:
            k = tkeys[b]
            if k == key:
                _shift_back(tkeys, tslots, b, mask)
                found += 1
                break
            if k == EMPTY:
                break
            b = (b + 1) & mask
    return found


@njit(cache=True)
def table_find_pairs(
    tkeys: np.ndarray, tslots: np.ndarray, a: np.ndarray, b: np.ndarray, n_nodes: int
) -> tuple[np.ndarray, bool]:
    """Slot of each pair ``{a[i], b[i]}`` of node indices, or -1 (a self-pair has none); and
    whether every index is below ``n_nodes`` and not negative (if not, the slots are -1)."""
    out = np.full(a.shape[0], -1, dtype=np.int64)
    for i in range(a.shape[0]):
        if a[i] < 0 or b[i] < 0 or a[i] >= n_nodes or b[i] >= n_nodes:
            return out, False
    mask = np.int64(tkeys.shape[0] - 1)
    for i in range(a.shape[0]):
        x = np.int64(a[i])
        y = np.int64(b[i])
        if x == y:
            continue
        key = (x << 32) | y if x < y else (y << 32) | x
        h = _bucket(key, mask)
        while True:
            k = tkeys[h]
            if k == key:
                out[i] = tslots[h]
                break
            if k == EMPTY:
                break
            h = (h + 1) & mask
    return out, True


@njit(cache=True, inline="always")
def _ranks_before(
    e: np.int64, p: np.int64, w: np.ndarray, ct: np.ndarray, other: np.ndarray
) -> bool:
    """Whether entry ``e`` ranks before entry ``p``: heavier, then older (``ct``), then
    smaller ``other``, then the earlier entry (a total order: a stable sort's)."""
    if w[e] != w[p]:
        return bool(w[e] > w[p])
    if ct[e] != ct[p]:
        return bool(ct[e] < ct[p])
    if other[e] != other[p]:
        return bool(other[e] < other[p])
    return bool(e < p)


@njit(cache=True)
def rank_drops_grouped(
    node: np.ndarray, n_nodes: int, other: np.ndarray, w: np.ndarray, ct: np.ndarray, k: int
) -> np.ndarray:
    """Entries outside their node's ``k`` best; ``node`` holds indices below ``n_nodes``.
    Best: heavier, then older (``ct``), then smaller ``other``; equal entries keep their
    order. Entries are grouped by node with a counting sort; each group longer than ``k``
    is partitioned around its ``k``-th best (quickselect), and the entries after it drop."""
    n = node.shape[0]
    drop = np.zeros(n, dtype=np.bool_)
    count = np.zeros(n_nodes + 1, dtype=np.int64)
    for i in range(n):
        count[node[i] + 1] += 1
    over = False
    for v in range(n_nodes):
        if count[v + 1] > k:
            over = True
        count[v + 1] += count[v]
    if not over:
        return drop
    order = np.empty(n, dtype=np.int64)
    fill = count[:n_nodes].copy()
    for i in range(n):
        order[fill[node[i]]] = i
        fill[node[i]] += 1
    for v in range(n_nodes):
        start = count[v]
        g = count[v + 1] - start
        if g <= k:
            continue
        # quickselect (Lomuto, middle pivot) until position start + k holds the best entry
        # that drops: every entry before it ranks before it, every entry after it after
        lo = start
        hi = start + g - 1
        target = start + k
        while lo < hi:
            mid = (lo + hi) >> 1
            order[mid], order[hi] = order[hi], order[mid]
            pivot = order[hi]
            store = lo
            for i in range(lo, hi):
                if _ranks_before(order[i], pivot, w, ct, other):
                    order[i], order[store] = order[store], order[i]
                    store += 1
            order[store], order[hi] = order[hi], order[store]
            if store == target:
                break
            if store < target:
                lo = store + 1
            else:
                hi = store - 1
        for i in range(target, start + g):
            drop[order[i]] = True
    return drop


@njit(cache=True)
def changed_remote_degrees(
    owner: np.ndarray, me: int, deg: np.ndarray, extra: np.ndarray, reported: np.ndarray, n: int
) -> np.ndarray:
    """Nodes below ``n`` that another shard owns (``owner[v] != me``) whose degree
    (``deg[v] + extra[v]``) differs from ``reported[v]``, ascending; ``reported`` takes
    their degrees."""
    out = np.empty(n, dtype=np.int64)
    c = 0
    for v in range(n):
        d = deg[v] + extra[v]
        if owner[v] != me and d != reported[v]:
            reported[v] = d
            out[c] = v
            c += 1
    return out[:c]


@njit(cache=True)
def over_cap_owned(
    owner: np.ndarray,
    me: int,
    deg: np.ndarray,
    extra: np.ndarray,
    elsewhere: np.ndarray,
    k: int,
    n: int,
) -> np.ndarray:
    """Nodes below ``n`` owned by ``me`` with edges elsewhere (``elsewhere[v] > 0``) whose
    degree here (``deg[v] + extra[v]``) plus elsewhere exceeds ``k``, ascending."""
    out = np.empty(n, dtype=np.int64)
    c = 0
    for v in range(n):
        if owner[v] == me and elsewhere[v] > 0 and deg[v] + extra[v] + elsewhere[v] > k:
            out[c] = v
            c += 1
    return out[:c]


@njit(cache=True)
def wanted_ends(
    ea: np.ndarray, eb: np.ndarray, ranked_out: np.ndarray, w: np.ndarray, ct: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each end of the capped edges ``(ea[i], eb[i])`` that did not rank the edge out
    (``ranked_out[i]``: bit 1 ``ea``'s end did, bit 2 ``eb``'s), as ``(node, other,
    weight, created)`` rows: first every wanting ``ea`` end, then every wanting ``eb``."""
    m = ea.shape[0]
    c = 0
    for i in range(m):
        c += (ranked_out[i] & 1) == 0
        c += (ranked_out[i] & 2) == 0
    node = np.empty(c, dtype=np.int64)
    other = np.empty(c, dtype=np.int64)
    weight = np.empty(c, dtype=np.float64)
    created = np.empty(c, dtype=np.int64)
    j = 0
    for side in range(2):
        bit = 1 if side == 0 else 2
        for i in range(m):
            if ranked_out[i] & bit:
                continue
            node[j] = ea[i] if side == 0 else eb[i]
            other[j] = eb[i] if side == 0 else ea[i]
            weight[j] = w[i]
            created[j] = ct[i]
            j += 1
    return node, other, weight, created


@njit(cache=True)
def rows_of_marked(node: np.ndarray, marked: np.ndarray) -> np.ndarray:
    """Positions ``i`` (ascending) whose ``node[i]`` is marked (``marked[node[i]] >= 0``;
    a node at or past ``len(marked)``, or negative, is not)."""
    out = np.empty(node.shape[0], dtype=np.int64)
    c = 0
    m = marked.shape[0]
    for i in range(node.shape[0]):
        v = node[i]
        if 0 <= v < m and marked[v] >= 0:
            out[c] = i
            c += 1
    return out[:c]


@njit(cache=True)
def incident_live(
    alive: np.ndarray, m: int, ea: np.ndarray, eb: np.ndarray, listed: np.ndarray, bound: int
) -> tuple[np.ndarray, np.ndarray]:
    """The live slots (below ``m``) with a ``listed`` endpoint, ascending, once per listed
    endpoint (``a`` before ``b``), with that endpoint; ``bound`` is at least their number
    (e.g. twice the live edges)."""
    slots = np.empty(bound, dtype=np.int64)
    ends = np.empty(bound, dtype=np.int64)
    c = 0
    for s in range(m):
        if alive[s]:
            a = ea[s]
            b = eb[s]
            if listed[a]:
                slots[c] = s
                ends[c] = a
                c += 1
            if listed[b]:
                slots[c] = s
                ends[c] = b
                c += 1
    return slots[:c], ends[:c]


@njit(cache=True)
def incident_grouped(
    alive: np.ndarray,
    m: int,
    ea: np.ndarray,
    eb: np.ndarray,
    listed: np.ndarray,
    key: np.ndarray,
    lead: int,
    n_keys: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`incident_live` with its entries grouped by their endpoint's ``key`` (below
    ``n_keys``): the ``lead`` key's entries first, then each other key's in ascending key
    order, every group in the order :func:`incident_live` gives (a stable partition then a
    stable grouping of its output, in two passes over the slots). Also returns each key's
    first position in the output and its number of entries (``starts``, ``counts``)."""
    counts = np.zeros(n_keys, dtype=np.int64)
    for s in range(m):
        if alive[s]:
            a = ea[s]
            b = eb[s]
            if listed[a]:
                counts[key[a]] += 1
            if listed[b]:
                counts[key[b]] += 1
    starts = np.empty(n_keys, dtype=np.int64)
    starts[lead] = 0
    total = counts[lead]
    for k in range(n_keys):
        if k != lead:
            starts[k] = total
            total += counts[k]
    slots = np.empty(total, dtype=np.int64)
    ends = np.empty(total, dtype=np.int64)
    fill = starts.copy()
    for s in range(m):
        if alive[s]:
            a = ea[s]
            b = eb[s]
            if listed[a]:
                c = fill[key[a]]
                slots[c] = s
                ends[c] = a
                fill[key[a]] = c + 1
            if listed[b]:
                c = fill[key[b]]
                slots[c] = s
                ends[c] = b
                fill[key[b]] = c + 1
    return slots, ends, starts, counts


@njit(cache=True)
def owned_distinct(
    rows: np.ndarray, owner: np.ndarray, me: int, n: int, scratch: np.ndarray
) -> np.ndarray:
    """The distinct ``rows`` below ``n`` that ``me`` owns, ascending (``scratch``: at least
    ``n`` entries, all -1, and left so)."""
    out = np.empty(rows.shape[0], dtype=np.int64)
    c = 0
    for r in rows:
        if 0 <= r < n and owner[r] == me and scratch[r] == -1:
            scratch[r] = 0
            out[c] = r
            c += 1
    out = np.sort(out[:c])
    for r in out:
        scratch[r] = -1
    return out


@njit(cache=True, inline="always")
def _empty_buckets(m: int) -> np.ndarray:
    """An empty open-addressing table for ``m`` keys: a power of two at least ``2 m`` (and
    16) buckets, all ``EMPTY``."""
    size = 16
    while size < 2 * m:
        size *= 2
    return np.full(size, EMPTY, dtype=np.int64)


@njit(cache=True, inline="always")
def _tagged_bucket(
    keys: np.ndarray, tags: np.ndarray, key: np.int64, tag: np.int64, mask: np.int64
) -> np.int64:
    """The bucket holding ``(key, tag)`` in a table of non-negative keys with a tag each,
    or the empty bucket where it would go."""
    h = _bucket(key ^ (tag << 56), mask)
    while keys[h] != EMPTY and not (keys[h] == key and tags[h] == tag):
        h = (h + 1) & mask
    return h


@njit(cache=True)
def key_counts(set_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """How many times each of ``queries`` occurs in ``set_keys`` (non-negative integers):
    one hash table of the set, one probe per query."""
    n = queries.shape[0]
    out = np.zeros(n, dtype=np.int64)
    m = set_keys.shape[0]
    if m == 0 or n == 0:
        return out
    keys = _empty_buckets(m)
    mask = np.int64(len(keys) - 1)
    tags = np.zeros(len(keys), dtype=np.int64)  # (one tag for all)
    counts = np.zeros(len(keys), dtype=np.int64)
    for j in range(m):
        key = np.int64(set_keys[j])
        h = _tagged_bucket(keys, tags, key, np.int64(0), mask)
        keys[h] = key
        counts[h] += 1
    for i in range(n):
        out[i] = counts[_tagged_bucket(keys, tags, np.int64(queries[i]), np.int64(0), mask)]
    return out


@njit(cache=True)
def triples_among(
    s: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    set_s: np.ndarray,
    set_a: np.ndarray,
    set_b: np.ndarray,
) -> np.ndarray:
    """For each triple ``(s[i], a[i], b[i])``, whether it is one of the triples
    ``(set_s[j], set_a[j], set_b[j])`` (``a`` and ``b`` non-negative and below 2**31):
    one hash table of the set (the pair as the key, the first field as its tag), then one
    probe per triple: O(len(a) + len(set_a))."""
    n = a.shape[0]
    m = set_a.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    if m == 0 or n == 0:
        return out
    keys = _empty_buckets(m)
    mask = np.int64(len(keys) - 1)
    tags = np.zeros(len(keys), dtype=np.int64)
    for j in range(m):
        key = (np.int64(set_a[j]) << 32) | np.int64(set_b[j])
        tag = np.int64(set_s[j])
        h = _tagged_bucket(keys, tags, key, tag, mask)
        keys[h] = key
        tags[h] = tag
    for i in range(n):
        key = (np.int64(a[i]) << 32) | np.int64(b[i])
        out[i] = keys[_tagged_bucket(keys, tags, key, np.int64(s[i]), mask)] != EMPTY
    return out


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
    slots: np.ndarray,
) -> tuple[int, int]:
    """Reinforce existing edges ``{lo[i], hi[i]}`` or create tentative ones.

    Returns ``(new edge count, number created)``. The caller guarantees room for
    ``len(lo)`` new slots and buckets. Duplicate pairs in one call reinforce twice. When
    ``slots`` is not empty (it then has room for ``len(lo)``), ``slots[i]`` receives pair
    ``i``'s edge slot.
    """
    keep_slots = slots.shape[0] > 0
    mask = np.int64(tkeys.shape[0] - 1)
    created = 0
    n = n_edges
    for i in range(lo.shape[0]):
        key = (np.int64(lo[i]) << np.int64(32)) | np.int64(hi[i])
        b = _bucket(key, mask)
        slot = np.int64(-1)
        while True:
            k = tkeys[b]
            if k == key:
                slot = np.int64(tslots[b])
                break
            if k == EMPTY:
                break
            b = (b + 1) & mask
        if slot >= 0:
            nw = w[slot] + increment
            w[slot] = nw if nw < 1.0 else 1.0
            co[slot] += 1
            lt[slot] = tick
            if keep_slots:
                slots[i] = slot
        else:
            tkeys[b] = key
            tslots[b] = n
            if keep_slots:
                slots[i] = n
            ea[n] = lo[i]
            eb[n] = hi[i]
            w[n] = tentative if tentative < 1.0 else 1.0
            co[n] = 1
            ct[n] = tick
            lt[n] = tick
            n += 1
            created += 1
    return n, created


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
    slots: np.ndarray,
) -> tuple[int, int]:
    """(strong, bridge) counts over the wired pairs ``{lo[i], hi[i]}`` (see fitness_terms).

    With ``slots`` not empty, ``slots[i]`` is pair ``i``'s edge slot (as the wiring found it)
    and the table is not searched.
    """
    strong = 0
    bridges = 0
    known = slots.shape[0] > 0
    for i in range(lo.shape[0]):
        if known:
            s = np.int64(slots[i])
        else:
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


@njit(cache=True)
def decay_activity(
    alive: np.ndarray,
    m: int,
    w: np.ndarray,
    co: np.ndarray,
    ct: np.ndarray,
    lt: np.ndarray,
    base_rate: float,
    threshold: float,
    now: int,
    staleness_factor: float,
    maturation: int,
) -> np.ndarray:
    """Activity-aware decay of the live slots below ``m``, in place; returns pruned slots.

    Per live slot, exactly the arithmetic of the vectorised form: a mature edge (age at
    least ``maturation``) decays at
    ``base_rate * (1 + staleness_factor * (stale / 100) * 1 / (1 + 0.5 * co))``, a young one at
    ``base_rate``; the weight is multiplied by ``1 - min(rate, 0.5)``. Returns the slots
    (ascending) of mature edges whose weight fell below ``threshold``.
    """
    gone = np.empty(m, dtype=np.int64)
    g = 0
    young = 1.0 - (base_rate if base_rate < 0.5 else 0.5)
    for s in range(m):
        if not alive[s]:
            continue
        age = now - np.int64(ct[s])
        if (age if age > 0 else 0) < maturation:
            w[s] *= young
            continue
        stale = now - np.int64(lt[s])
        st = np.float64(stale) if stale > 0 else 0.0
        activity = 1.0 / (1.0 + 0.5 * co[s])
        rate = base_rate * (1.0 + staleness_factor * (st / 100.0) * activity)
        nw = w[s] * (1.0 - (rate if rate < 0.5 else 0.5))
        w[s] = nw
        if nw < threshold:
            gone[g] = s
            g += 1
    return gone[:g]


@njit(cache=True)
def live_slots(alive: np.ndarray, m: int) -> np.ndarray:
    """Slots ``< m`` whose ``alive`` flag is set, ascending."""
    # branch-free: every slot is written and the cursor moves past the flagged ones (where
    # flags are scattered, a branch per slot is mispredicted often: 3-7x slower)
    n = 0
    for s in range(m):
        n += alive[s]
    out = np.empty(n + 1, dtype=np.int64)
    c = 0
    for s in range(m):
        out[c] = s
        c += alive[s]
    return out[:n]


@njit(cache=True)
def table_fill_live(
    tkeys: np.ndarray,
    tslots: np.ndarray,
    alive: np.ndarray,
    m: int,
    ea: np.ndarray,
    eb: np.ndarray,
) -> int:
    """Clear the table, then map the pair key of every live slot below ``m`` to that slot.

    Returns the number of keys inserted.
    """
    tkeys[:] = EMPTY
    mask = np.int64(tkeys.shape[0] - 1)
    n = 0
    for s in range(m):
        if not alive[s]:
            continue
        key = (np.int64(ea[s]) << np.int64(32)) | np.int64(eb[s])
        b = _bucket(key, mask)
        while tkeys[b] >= 0:
            b = (b + 1) & mask
        tkeys[b] = key
        tslots[b] = s
        n += 1
    return n


@njit(cache=True)
def compact_live(
    alive: np.ndarray,
    m: int,
    ea: np.ndarray,
    eb: np.ndarray,
    w: np.ndarray,
    co: np.ndarray,
    ct: np.ndarray,
    lt: np.ndarray,
) -> int:
    """Move the live slots below ``m`` to the front, in order, in place; returns their count.

    Afterwards exactly the first (returned) count of slots are flagged alive.
    """
    n = 0
    for s in range(m):
        if alive[s]:
            if n != s:
                ea[n] = ea[s]
                eb[n] = eb[s]
                w[n] = w[s]
                co[n] = co[s]
                ct[n] = ct[s]
                lt[n] = lt[s]
            n += 1
    for s in range(m):
        alive[s] = s < n
    return n


@njit(cache=True)
def _kth_smallest(buf: np.ndarray, n: int, k: int) -> float:
    """The ``k``-th smallest (0-based) of ``buf[:n]``, reordering ``buf[:n]`` (quickselect)."""
    lo = 0
    hi = n - 1
    while lo < hi:
        pivot = buf[(lo + hi) >> 1]
        i = lo
        j = hi
        while i <= j:
            while buf[i] < pivot:
                i += 1
            while buf[j] > pivot:
                j -= 1
            if i <= j:
                buf[i], buf[j] = buf[j], buf[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    kth: float = buf[k]
    return kth


@njit(cache=True)
def degree_cap_live(
    alive: np.ndarray,
    m: int,
    ea: np.ndarray,
    eb: np.ndarray,
    w: np.ndarray,
    deg: np.ndarray,
    n_nodes: int,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The degree cap (``HebbianGraph.prune_to_max_degree``) over the live slots below ``m``,
    given every node's live degree (``deg``, read only; the graph keeps it).

    Slots (ascending) of live edges outside some endpoint's ``k`` strongest, and for each
    which ends ranked it out (bit 1: ``ea``'s node, bit 2: ``eb``'s); ties in weight keep
    the earlier slot. Only the edges of over-cap nodes are gathered, and each such node
    selects its ``k``-th heaviest weight instead of sorting its edges.
    """
    start = np.zeros(n_nodes + 1, dtype=np.int64)
    over = 0
    longest = 0
    for v in range(n_nodes):
        d = deg[v]
        if d > k:
            over += 1
            longest = max(longest, d)
        else:
            d = 0
        start[v + 1] = start[v] + d
    if over == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    # incident slots of over-cap nodes, in slot order
    fill = start[:-1].copy()
    inc = np.empty(start[n_nodes], dtype=np.int64)
    for s in range(m):
        if alive[s]:
            a = ea[s]
            b = eb[s]
            if deg[a] > k:
                inc[fill[a]] = s
                fill[a] += 1
            if deg[b] > k:
                inc[fill[b]] = s
                fill[b] += 1
    mark = np.zeros(m, dtype=np.bool_)
    by = np.zeros(m, dtype=np.uint8)
    buf = np.empty(longest, dtype=np.float64)
    for v in range(n_nodes):
        lo = start[v]
        hi = start[v + 1]
        if hi - lo <= k:
            continue
        if k == 0:
            for q in range(lo, hi):
                s = inc[q]
                mark[s] = True
                by[s] |= 1 if ea[s] == v else 2
            continue
        # a stable sort by descending weight keeps the first k: every edge heavier than the
        # k-th heaviest weight, then edges of exactly that weight in slot order (inc is in
        # slot order) until k are kept
        for q in range(lo, hi):
            buf[q - lo] = -w[inc[q]]
        kth = _kth_smallest(buf, hi - lo, k - 1)
        ties = k
        for q in range(lo, hi):
            if -w[inc[q]] < kth:
                ties -= 1
        for q in range(lo, hi):
            x = -w[inc[q]]
            if x < kth:
                continue
            if x == kth and ties > 0:
                ties -= 1
                continue
            s = inc[q]
            mark[s] = True
            by[s] |= 1 if ea[s] == v else 2
    gone = live_slots(mark, m)
    return gone, by[gone]


@njit(cache=True)
def window_pairs(kid: np.ndarray, pos: np.ndarray, window: int, k: int) -> np.ndarray:
    """``(i, j)`` rows (ascending, unique, ``i < j``) of the keyword ids occurring within
    ``window`` positions: :func:`window_pair_codes` as an ``(m, 2)`` array.

    For up to 128 keywords the pairs are marked in a ``k * k`` table read back in order (no
    sort); otherwise the codes are sorted and split.
    """
    if k > 128:
        codes = window_pair_codes(kid, pos, window, k)
        res = np.empty((codes.shape[0], 2), dtype=np.int64)
        for t in range(codes.shape[0]):
            res[t, 0] = codes[t] // k
            res[t, 1] = codes[t] % k
        return res
    n = kid.shape[0]
    seen = np.zeros(k * k, dtype=np.bool_)
    m = 0
    for a in range(n):
        pa = pos[a]
        xa = kid[a]
        for b in range(a + 1, n):
            if pos[b] - pa > window:
                break
            x = xa
            y = kid[b]
            if x == y:
                continue
            if x > y:
                x, y = y, x
            code = x * k + y
            if not seen[code]:
                seen[code] = True
                m += 1
    out = np.empty((m, 2), dtype=np.int64)
    c = 0
    for code in range(k * k):
        if seen[code]:
            out[c, 0] = code // k
            out[c, 1] = code % k
            c += 1
    return out


@njit(cache=True)
def order_pairs(a: np.ndarray, b: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The node-index pairs ``{a[t], b[t]}`` as ``(lo, hi)``, self-pairs dropped, in order.

    Returns ``(lo, hi, status)``: status 0 when every (non-self) pair names node indices in
    ``[0, n_nodes)``, else 2 (the numbering of :func:`gather_pairs`).
    """
    m = a.shape[0]
    lo = np.empty(m, dtype=np.int64)
    hi = np.empty(m, dtype=np.int64)
    c = 0
    status = 0
    for t in range(m):
        x = np.int64(a[t])
        y = np.int64(b[t])
        if x == y:
            continue
        if x < 0 or y < 0 or x >= n_nodes or y >= n_nodes:
            status = 2
        if x < y:
            lo[c] = x
            hi[c] = y
        else:
            lo[c] = y
            hi[c] = x
        c += 1
    return lo[:c], hi[:c], status


@njit(cache=True)
def gather_pairs(
    idx: np.ndarray, pairs: np.ndarray, n_nodes: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Node-index pairs ``{idx[pairs[t, 0]], idx[pairs[t, 1]]}`` as ``(lo, hi)``, self-pairs
    dropped, in order.

    Returns ``(lo, hi, status)``: status 0 when every position and node index is valid, 1 when
    a position is outside ``idx`` (negative positions count from the end, as in NumPy), 2
    when a (non-self) pair names a node index outside ``[0, n_nodes)``.
    """
    m = pairs.shape[0]
    k = idx.shape[0]
    a = np.empty(m, dtype=np.int64)
    b = np.empty(m, dtype=np.int64)
    for t in range(m):
        p = np.int64(pairs[t, 0])
        q = np.int64(pairs[t, 1])
        if p < 0:
            p += k
        if q < 0:
            q += k
        if p < 0 or p >= k or q < 0 or q >= k:
            return a[:0], b[:0], 1
        a[t] = idx[p]
        b[t] = idx[q]
    return order_pairs(a, b, n_nodes)


@njit(cache=True)
def wire_groups(
    tkeys: np.ndarray,
    tslots: np.ndarray,
    idx: np.ndarray,
    node_ends: np.ndarray,
    pairs: np.ndarray,
    pair_ends: np.ndarray,
    before: np.ndarray,
    ea: np.ndarray,
    eb: np.ndarray,
    w: np.ndarray,
    co: np.ndarray,
    ct: np.ndarray,
    lt: np.ndarray,
    n_edges: int,
    n_nodes: int,
    tentative: np.ndarray,
    increment: np.ndarray,
    tick: int,
    strong_min: int,
    out_wired: np.ndarray,
    out_strong: np.ndarray,
    out_bridges: np.ndarray,
    out_created: np.ndarray,
    first: int,
    stop: int,
) -> tuple[int, int, int]:
    """Wire several presentations one after another, as :func:`gather_pairs`,
    :func:`upsert_pairs` and (with ``strong_min >= 0``) :func:`edge_term_counts` would for
    each in turn.

    Group ``k``'s nodes are ``idx[node_ends[k-1]:node_ends[k]]``, its pairs (positions into
    those nodes) ``pairs[pair_ends[k-1]:pair_ends[k]]``, its new-edge weight and
    reinforcement ``tentative[k]`` / ``increment[k]``, and ``before[k]`` the node count before
    it was presented. Its wired-pair count goes to ``out_wired[k]``, the number of those
    edges it created to ``out_created[k]``, its strong and bridge counts to
    ``out_strong[k]`` / ``out_bridges[k]``. Only groups ``first <= k < stop`` are
    wired; the caller guarantees room for each of their pairs' new slot and bucket.

    Returns ``(new edge count, number created, status)``; a status other
    than 0 is :func:`gather_pairs`' for the first group that failed (groups before it are
    wired, it and those after are not).
    """
    n = n_edges
    created = 0
    n0 = node_ends[first - 1] if first > 0 else 0
    p0 = pair_ends[first - 1] if first > 0 else 0
    for k in range(first, stop):
        n1 = node_ends[k]
        p1 = pair_ends[k]
        lo, hi, status = gather_pairs(idx[n0:n1], pairs[p0:p1], n_nodes)
        if status != 0:
            return n, created, status
        out_wired[k] = lo.shape[0]
        if lo.shape[0] > 0:
            slots = np.empty(lo.shape[0], dtype=np.int64)
            n, c = upsert_pairs(
                tkeys,
                tslots,
                lo,
                hi,
                ea,
                eb,
                w,
                co,
                ct,
                lt,
                n,
                tentative[k],
                increment[k],
                tick,
                slots,
            )
            created += c
            out_created[k] = c
            if strong_min >= 0:
                s, b = edge_term_counts(
                    tkeys, tslots, lo, hi, co, ct, tick, before[k], strong_min, slots
                )
                out_strong[k] = s
                out_bridges[k] = b
        n0 = n1
        p0 = p1
    return n, created, 0


@njit(cache=True)
def all_in_range(indices: np.ndarray, lo: int, hi: int) -> bool:
    """Whether every index ``i`` has ``lo <= i < hi``."""
    for t in range(indices.shape[0]):
        i = indices[t]
        if i < lo or i >= hi:
            return False
    return True


@njit(cache=True)
def add_at(values: np.ndarray, indices: np.ndarray, amount: int) -> None:
    """``values[indices[t]] += amount`` for each ``t`` (repeats add repeatedly)."""
    for t in range(indices.shape[0]):
        values[indices[t]] += amount


# ---------------------------------------------------------------------- substrate kernels

_T27 = 134217729.0  # 2**27 + 1: Veltkamp-Dekker splitting


@njit(cache=True, inline="always")
def _acc(csum: float, frac: float, x: float) -> tuple[float, float]:
    old = csum
    csum += x
    frac += (old - csum) + x
    return csum, frac


@njit(cache=True)
def py_hypot(x: float, y: float) -> float:
    """``math.hypot(x, y)`` exactly as CPython 3.10–3.11 computes it (``vector_norm``).

    Lossless power-of-two scaling, Dekker splitting, compensated summation and one
    differential correction of the square root, in the same operation order, so the result
    is bit for bit Python's (not the C library's ``hypot``, which differs in the last bit).
    """
    x = abs(x)
    y = abs(y)
    found_nan = (x != x) or (y != y)
    mx = 0.0
    if x > mx:
        mx = x
    if y > mx:
        mx = y
    if math.isinf(mx):
        return mx
    if found_nan:
        return math.nan
    if mx == 0.0:
        return mx
    e = math.frexp(mx)[1]
    csum = 1.0
    frac1 = 0.0
    frac2 = 0.0
    frac3 = 0.0
    if e >= -1023:
        scale = math.ldexp(1.0, -e)
        for v in (x, y):
            v = v * scale
            t = v * _T27
            hi = t - (t - v)
            lo = v - hi
            csum, frac1 = _acc(csum, frac1, hi * hi)
            csum, frac2 = _acc(csum, frac2, 2.0 * hi * lo)
            frac3 += lo * lo
        h = math.sqrt(csum - 1.0 + (frac1 + frac2 + frac3))
        t = h * _T27
        hi = t - (t - h)
        lo = h - hi
        csum, frac1 = _acc(csum, frac1, -hi * hi)
        csum, frac2 = _acc(csum, frac2, -2.0 * hi * lo)
        csum, frac3 = _acc(csum, frac3, -lo * lo)
        v = csum - 1.0 + (frac1 + frac2 + frac3)
        return (h + v / (2.0 * h)) / scale
    # tiny (subnormal) coordinates: divide by the largest instead of scaling
    for v in (x, y):
        v = v / mx
        csum, frac1 = _acc(csum, frac1, v * v)
    return mx * math.sqrt(csum - 1.0 + frac1)


@njit(cache=True, inline="always")
def _doc_distance(
    seq: int,
    xy: np.ndarray,
    digested: np.ndarray,
    claim: np.ndarray,
    me: int,
    use_claims: bool,
    px: float,
    py: float,
    r: float,
) -> float:
    """Distance of document ``seq`` if :func:`docs_near` keeps it, else -1."""
    if digested[seq]:
        return -1.0
    dx = xy[seq, 0] - px
    dy = xy[seq, 1] - py
    # clearly outside the disc: the squared distance has a relative error of a few ulps (a
    # bound far above the subnormal range, where products can round up a lot)
    bound = r * r * 1.000000000001
    if bound > 1e-300 and dx * dx + dy * dy > bound:
        return -1.0
    d = py_hypot(dx, dy)
    if not d <= r:
        return -1.0
    if use_claims and d >= 1.0 and claim[seq] >= 0 and claim[seq] != me:
        return -1.0
    return d


@njit(cache=True)
def _order_head(out_d: np.ndarray, out_s: np.ndarray, c: int, limit: int) -> int:
    """Put the first ``min(limit, c)`` of the ``c`` candidates ``(out_d, out_s)`` in order
    of distance then seq (seqs are distinct), in place; returns how many."""
    if limit > c:
        limit = c
    if limit <= 4:  # the few smallest by selection
        for k in range(limit):
            best = k
            for q in range(k + 1, c):
                if out_d[q] < out_d[best] or (out_d[q] == out_d[best] and out_s[q] < out_s[best]):
                    best = q
            out_d[k], out_d[best] = out_d[best], out_d[k]
            out_s[k], out_s[best] = out_s[best], out_s[k]
        return limit
    ds = out_d[:c].copy()
    ss = out_s[:c].copy()
    by_seq = np.argsort(ss)
    order = by_seq[np.argsort(ds[by_seq], kind="mergesort")][:limit]
    for k in range(limit):
        out_d[k] = ds[order[k]]
        out_s[k] = ss[order[k]]
    return limit


@njit(cache=True)
def docs_near(
    start: np.ndarray,
    members: np.ndarray,
    xy: np.ndarray,
    cxy: np.ndarray,
    digested: np.ndarray,
    claim: np.ndarray,
    grid: np.ndarray,
    px: float,
    py: float,
    r: float,
    cx0: int,
    cx1: int,
    cy0: int,
    cy1: int,
    me: int,
    use_claims: bool,
    limit: int,
    out_d: np.ndarray,
    out_s: np.ndarray,
) -> int:
    """Undigested documents of the cells ``[cx0, cx1] x [cy0, cy1]`` within ``r`` of
    ``(px, py)``, sorted by distance then seq, at most ``limit``: their distances and seqs go
    to ``out_d`` / ``out_s`` (room for every document) and their count is returned.

    ``grid`` is ``(gx0, gy0, nx, ny, n_grid, n)``: grid cell ``(i, j)`` (origin ``(gx0,
    gy0)``) lists documents ``members[start[i * ny + j] : start[i * ny + j + 1]]`` of the first
    ``n_grid``; documents ``n_grid <= seq < n`` are checked by their cells ``cxy[seq]``.
    ``xy[seq]`` is a document's position and the distance is Python's ``math.hypot(x - px,
    y - py)``. With ``use_claims``, documents at distance 1 or more claimed by an agent other
    than ``me`` (``claim[seq] >= 0`` and ``!= me``) are left out.
    """
    c = _scan_cells(
        start, members, xy, cxy, digested, claim, grid, px, py, r, cx0, cx1, cy0, cy1, me,
        use_claims, out_d, out_s,
    )  # fmt: skip
    return _order_head(out_d, out_s, c, limit)


@njit(cache=True, inline="always")
def _scan_cells(
    start: np.ndarray,
    members: np.ndarray,
    xy: np.ndarray,
    cxy: np.ndarray,
    digested: np.ndarray,
    claim: np.ndarray,
    grid: np.ndarray,
    px: float,
    py: float,
    r: float,
    cx0: int,
    cx1: int,
    cy0: int,
    cy1: int,
    me: int,
    use_claims: bool,
    out_d: np.ndarray,
    out_s: np.ndarray,
) -> int:
    """The unordered candidates of :func:`docs_near` into ``out_d`` / ``out_s``; their count."""
    gx0 = grid[0]
    gy0 = grid[1]
    ny = grid[3]
    i0 = max(cx0, gx0) - gx0
    i1 = min(cx1, gx0 + grid[2] - 1) - gx0
    j0 = max(cy0, gy0) - gy0
    j1 = min(cy1, gy0 + ny - 1) - gy0
    if j0 > j1:
        i1 = i0 - 1
    c = 0
    for i in range(i0, i1 + 1):
        for t in range(start[i * ny + j0], start[i * ny + j1 + 1]):
            seq = members[t]
            d = _doc_distance(seq, xy, digested, claim, me, use_claims, px, py, r)
            if d >= 0.0:
                out_d[c] = d
                out_s[c] = seq
                c += 1
    for seq in range(grid[4], grid[5]):
        if cx0 <= cxy[seq, 0] <= cx1 and cy0 <= cxy[seq, 1] <= cy1:
            d = _doc_distance(seq, xy, digested, claim, me, use_claims, px, py, r)
            if d >= 0.0:
                out_d[c] = d
                out_s[c] = seq
                c += 1
    return c


@njit(cache=True)
def docs_near_many(
    start: np.ndarray,
    members: np.ndarray,
    xy: np.ndarray,
    cxy: np.ndarray,
    digested: np.ndarray,
    claim: np.ndarray,
    grid: np.ndarray,
    bounds: np.ndarray,
    cell: float,
    pxy: np.ndarray,
    r: float,
    me: np.ndarray,
    use_claims: np.ndarray,
    limit: int,
    out_d: np.ndarray,
    out_s: np.ndarray,
    head_d: np.ndarray,
    head_s: np.ndarray,
    counts: np.ndarray,
) -> None:
    """:func:`docs_near` for each query ``q``: position ``pxy[q]``, claimant code ``me[q]``
    and ``use_claims[q]``, the same radius and limit, its cells computed as the substrate does
    (``floor((p - r) / cell)`` to ``floor((p + r) / cell)``, clipped to the documents'
    bounding box ``bounds = (bx0, bx1, by0, by1)``). Query ``q``'s ``counts[q]`` answers go to
    ``head_d[q, :]`` / ``head_s[q, :]``; ``out_d`` / ``out_s`` are scratch (room for every
    document). Positions must be finite and below 2**52 in magnitude.
    """
    for q in range(pxy.shape[0]):
        px = pxy[q, 0]
        py = pxy[q, 1]
        x0 = max(math.floor((px - r) / cell), bounds[0])
        x1 = min(math.floor((px + r) / cell), bounds[1])
        y0 = max(math.floor((py - r) / cell), bounds[2])
        y1 = min(math.floor((py + r) / cell), bounds[3])
        counts[q] = 0
        if x0 > x1 or y0 > y1:
            continue
        c = _scan_cells(
            start, members, xy, cxy, digested, claim, grid, px, py, r, x0, x1, y0, y1, me[q],
            use_claims[q], out_d, out_s,
        )  # fmt: skip
        k = _order_head(out_d, out_s, c, limit)
        for t in range(k):
            head_d[q, t] = out_d[t]
            head_s[q, t] = out_s[t]
        counts[q] = k


@njit(cache=True)
def docs_in_cells(
    start: np.ndarray,
    members: np.ndarray,
    xy: np.ndarray,
    digested: np.ndarray,
    claim: np.ndarray,
    grid: np.ndarray,
    cells: np.ndarray,
    px: float,
    py: float,
    me: int,
    use_claims: bool,
    limit: int,
    out_d: np.ndarray,
    out_s: np.ndarray,
) -> int:
    """Undigested documents of the grid cells ``cells`` (rows ``(cx, cy)``), as
    :meth:`Substrate.nearest_undigested_anywhere` ranks them.

    Each gets its distance, Python's ``math.hypot(x - px, y - py)``. With ``use_claims``, if
    any of them is free (unclaimed, or claimed by ``me``), the claimed ones are dropped. The
    survivors are counted (the return value) and the first ``limit`` of them by distance then
    seq go to ``out_d`` / ``out_s`` (room for every document). Every document must be in the
    grid (``grid`` as in :func:`docs_near`).
    """
    return _rank_cells(
        start, members, xy, digested, claim, grid, cells, px, py, me, use_claims, limit, out_d,
        out_s,
    )  # fmt: skip


@njit(cache=True)
def docs_in_cells_many(
    start: np.ndarray,
    members: np.ndarray,
    xy: np.ndarray,
    digested: np.ndarray,
    claim: np.ndarray,
    grid: np.ndarray,
    cells: np.ndarray,
    pxy: np.ndarray,
    me: np.ndarray,
    use_claims: np.ndarray,
    limit: int,
    out_d: np.ndarray,
    out_s: np.ndarray,
    head_d: np.ndarray,
    head_s: np.ndarray,
    counts: np.ndarray,
) -> None:
    """:func:`docs_in_cells` for each query ``q``: cells ``cells[q]`` (shape ``(q, k, 2)``),
    position ``pxy[q]``, claimant code ``me[q]`` and ``use_claims[q]``, the same limit. Query
    ``q``'s survivor count goes to ``counts[q]`` and its first ``min(limit, counts[q])``
    documents to ``head_d[q, :]`` / ``head_s[q, :]``; ``out_d`` / ``out_s`` are scratch."""
    for q in range(pxy.shape[0]):
        c = _rank_cells(
            start, members, xy, digested, claim, grid, cells[q], pxy[q, 0], pxy[q, 1], me[q],
            use_claims[q], limit, out_d, out_s,
        )  # fmt: skip
        for t in range(min(limit, c)):
            head_d[q, t] = out_d[t]
            head_s[q, t] = out_s[t]
        counts[q] = c


@njit(cache=True, inline="always")
def _rank_cells(
    start: np.ndarray,
    members: np.ndarray,
    xy: np.ndarray,
    digested: np.ndarray,
    claim: np.ndarray,
    grid: np.ndarray,
    cells: np.ndarray,
    px: float,
    py: float,
    me: int,
    use_claims: bool,
    limit: int,
    out_d: np.ndarray,
    out_s: np.ndarray,
) -> int:
    """The body of :func:`docs_in_cells`."""
    gx0 = grid[0]
    gy0 = grid[1]
    nx = grid[2]
    ny = grid[3]
    c = 0
    for h in range(cells.shape[0]):
        i = cells[h, 0] - gx0
        j = cells[h, 1] - gy0
        if i < 0 or i >= nx or j < 0 or j >= ny:
            continue
        for t in range(start[i * ny + j], start[i * ny + j + 1]):
            seq = members[t]
            if digested[seq]:
                continue
            out_d[c] = py_hypot(xy[seq, 0] - px, xy[seq, 1] - py)
            out_s[c] = seq
            c += 1
    if use_claims:
        free = 0
        for q in range(c):
            who = claim[out_s[q]]
            if who < 0 or who == me:
                free += 1
        if 0 < free < c:
            f = 0
            for q in range(c):
                who = claim[out_s[q]]
                if who < 0 or who == me:
                    out_d[f] = out_d[q]
                    out_s[f] = out_s[q]
                    f += 1
            c = free
    _order_head(out_d, out_s, c, limit)
    return c


@njit(cache=True)
def decay_signal_rows(
    intensity: np.ndarray,
    ref: np.ndarray,
    digested: np.ndarray,
    factor: float,
    threshold: float,
) -> tuple[int, int]:
    """One signal-decay step in place; returns ``(removed, live)``.

    A row tied to a document (``ref >= 0``) keeps its intensity while the document is
    undigested and is dropped once it is digested; any other row is multiplied by
    ``factor``. A row that was live (intensity above 0) and is not kept (intensity below
    ``threshold``, or its document digested) is dropped: its intensity becomes 0.
    ``removed`` counts the dropped rows, ``live`` the kept rows with intensity above 0.
    """
    removed = 0
    live = 0
    for i in range(intensity.shape[0]):
        r = ref[i]
        eaten = r >= 0 and digested[r]
        was_live = intensity[i] > 0.0
        if not (r >= 0 and not eaten):
            intensity[i] = intensity[i] * factor
        keep = intensity[i] >= threshold and not eaten
        if was_live and not keep:
            removed += 1
            intensity[i] = 0.0
        elif keep and intensity[i] > 0.0:
            live += 1
    return removed, live


@njit(cache=True, inline="always")
def _number_ends(
    ends: np.ndarray,
    j0: int,
    j1: int,
    scratch: np.ndarray,
    free: int,
    nodes: np.ndarray,
    count: int,
    refs: np.ndarray,
) -> int:
    """Number the nodes ``ends[j0:j1]`` not numbered yet (see :func:`first_appearance_refs`),
    write each one's number to ``refs``; returns the new count."""
    for j in range(j0, j1):
        x = ends[j]
        r = scratch[x]
        if r == free:
            r = count
            scratch[x] = r
            nodes[count] = x
            count += 1
        refs[j] = r
    return count


@njit(cache=True)
def first_unsent(nodes: np.ndarray, sent: np.ndarray, bit: np.uint64) -> np.ndarray:
    """Positions in ``nodes`` (node indices, in order) of each node's first occurrence
    whose ``bit`` is not set in ``sent``; sets the bit of those nodes (so a node's later
    occurrences are not listed)."""
    out = np.empty(nodes.shape[0], dtype=np.int64)
    k = 0
    for p in range(nodes.shape[0]):
        i = nodes[p]
        if (sent[i] & bit) == 0:
            sent[i] |= bit
            out[k] = p
            k += 1
    return out[:k]


@njit(cache=True)
def first_appearance_refs(
    a: np.ndarray,
    b: np.ndarray,
    calls: np.ndarray,
    part_ends: np.ndarray,
    scratch: np.ndarray,
    free: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Number the nodes of the pairs ``(a[j], b[j])`` by first appearance.

    The pairs come in parts (part ``p`` ends at ``part_ends[p]``); within a part, a run of
    equal ``calls`` values is one wiring call. The walk takes call after call, each call's
    ``a`` ends and then its ``b`` ends. ``scratch`` (one entry per node, all ``free``) holds
    the numbers during the walk and is all ``free`` again on return.

    Returns:
        ``(nodes, ref_a, ref_b)``: the nodes in numbering order, and each pair's ends'
        numbers (int32).
    """
    m = a.shape[0]
    nodes = np.empty(2 * m, dtype=np.int64)
    ref_a = np.empty(m, dtype=np.int32)
    ref_b = np.empty(m, dtype=np.int32)
    count = 0
    p = 0
    j0 = 0
    while j0 < m:
        while part_ends[p] <= j0:
            p += 1
        stop = part_ends[p]
        j1 = j0 + 1
        while j1 < stop and calls[j1] == calls[j0]:
            j1 += 1
        count = _number_ends(a, j0, j1, scratch, free, nodes, count, ref_a)
        count = _number_ends(b, j0, j1, scratch, free, nodes, count, ref_b)
        j0 = j1
    for t in range(count):
        scratch[nodes[t]] = free
    return nodes[:count], ref_a, ref_b


@njit(cache=True, inline="always")
def _id_bucket(x: np.uint64, mask: np.uint64) -> np.uint64:
    # Fibonacci hashing: the high half of the product spreads any ids over the buckets
    return ((x * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) & mask


@njit(cache=True)
def id_table_insert(
    keys: np.ndarray, vals: np.ndarray, ids: np.ndarray, start: int, stop: int
) -> None:
    """Insert ``ids[i] -> i`` for ``start <= i < stop`` into the open-addressing table
    ``keys`` / ``vals`` (power-of-two size, ``vals`` -1 where empty). The ids must be new to
    the table, and the table must keep an empty bucket."""
    mask = np.uint64(keys.shape[0] - 1)
    for i in range(start, stop):
        x = ids[i]
        b = _id_bucket(x, mask)
        while vals[b] >= 0:
            b = (b + np.uint64(1)) & mask
        keys[b] = x
        vals[b] = i


@njit(cache=True)
def id_table_find(keys: np.ndarray, vals: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The value of each of ``queries`` in the table of :func:`id_table_insert`, -1 where
    absent."""
    mask = np.uint64(keys.shape[0] - 1)
    out = np.empty(queries.shape[0], dtype=np.int64)
    for t in range(queries.shape[0]):
        x = queries[t]
        b = _id_bucket(x, mask)
        found = -1
        while True:
            v = vals[b]
            if v < 0:
                break
            if keys[b] == x:
                found = v
                break
            b = (b + np.uint64(1)) & mask
        out[t] = found
    return out
