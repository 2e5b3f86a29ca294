"""Numba kernels for keyword analysis of ASCII text (see :func:`phago.text.analyse_keywords`).

The kernels work on a document's bytes and reproduce :func:`phago.text.tokenize_with_positions`
for ASCII text: a raw piece is a run of ``[A-Za-z0-9]`` (underscore and every other byte
separate pieces), it is lowercased, and it is kept when it has at least three bytes and is not
a stopword. Stopwords and distinct terms are found with open-addressing hash tables (linear
probing) whose hits are confirmed by comparing bytes, so a hash collision can never merge two
terms. These kernels are internal; :mod:`phago.text` builds their inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from numba import njit
else:  # Numba is imported on a kernel's first call (see phago._jit)
    from phago._jit import njit

__all__ = [
    "StopTable",
    "TermTable",
    "analyse_ascii",
    "analyse_ascii_known",
    "count_ascii_terms",
    "known_terms",
    "rank_terms",
    "scan_ascii",
    "stop_table",
]

StopTable = tuple[
    npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]
"""``(bytes, offsets, buckets, max_len)``: stopword bytes concatenated, their ``len + 1``
offsets, a power-of-two bucket array holding stopword indices (-1: empty), and a one-element
array with the longest stopword's length."""

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = (1 << 64) - 1


@njit(cache=True, inline="always")
def _lower(c: np.uint8) -> np.uint8:
    # only called on [A-Za-z0-9]: setting bit 0x20 lowercases letters and keeps digits
    return c | np.uint8(0x20)


@njit(cache=True, inline="always")
def _is_alnum(c: np.uint8) -> bool:
    # [a-z] or [A-Z] (bit 0x20 folds them together) or [0-9]
    lc = c | np.uint8(0x20)
    return bool(
        (lc >= np.uint8(97) and lc <= np.uint8(122)) or (c >= np.uint8(48) and c <= np.uint8(57))
    )


@njit(cache=True, inline="always")
def _same_lowered(
    a: np.ndarray, a0: int, b: np.ndarray, b0: int, length: int, lower_b: bool
) -> bool:
    """Whether ``a[a0:a0+length]`` lowercased equals ``b[b0:b0+length]`` (lowercased too
    when ``lower_b``)."""
    for q in range(length):
        c = b[b0 + q]
        if _lower(a[a0 + q]) != (_lower(c) if lower_b else c):
            return False
    return True


def _hash_bytes(data: bytes) -> int:
    """FNV-1a (64 bit) of ``data``; the kernels compute the same over lowercased bytes."""
    h = _FNV_OFFSET
    for c in data:
        h = ((h ^ c) * _FNV_PRIME) & _MASK64
    return h


def stop_table(words: Iterable[str]) -> StopTable:
    """Build the stopword hash table the kernels take (words must be lowercase ASCII).

    Example:
        >>> raw, off, buckets, longest = stop_table(["the", "and"])
        >>> bytes(raw).decode(), off.tolist(), int((buckets >= 0).sum()), int(longest[0])
        ('andthe', [0, 3, 6], 2, 3)
    """
    encoded = [w.encode("ascii") for w in sorted(set(words))]
    for w in encoded:
        if w != w.lower() or not all(chr(c).isalnum() for c in w):
            raise ValueError(f"stopword {w!r} is not lowercase ASCII alphanumeric")
    raw = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
    off = np.zeros(len(encoded) + 1, dtype=np.int64)
    off[1:] = np.cumsum([len(w) for w in encoded], dtype=np.int64)
    size = 16
    while size < 4 * max(len(encoded), 1):
        size *= 2
    buckets = np.full(size, -1, dtype=np.int64)
    for i, w in enumerate(encoded):
        b = _hash_bytes(w) & (size - 1)
        while buckets[b] >= 0:
            b = (b + 1) & (size - 1)
        buckets[b] = i
    longest = np.array([max((len(w) for w in encoded), default=0)], dtype=np.int64)
    return raw, off, buckets, longest


@njit(cache=True, inline="always")
def _is_stopword(
    buf: np.ndarray,
    start: int,
    length: int,
    h: np.uint64,
    stop_raw: np.ndarray,
    stop_off: np.ndarray,
    stop_buckets: np.ndarray,
    smask: np.uint64,
) -> bool:
    """Whether the token ``buf[start:start+length]`` (its lowercased FNV-1a hash ``h``) is a
    stopword of the table ``(stop_raw, stop_off, stop_buckets)`` (bucket mask ``smask``)."""
    b = h & smask
    while True:
        s = stop_buckets[b]
        if s < 0:
            return False
        s0 = stop_off[s]
        if stop_off[s + 1] - s0 == length and _same_lowered(
            buf, start, stop_raw, s0, length, False
        ):
            return True
        b = (b + np.uint64(1)) & smask


@njit(cache=True)
def scan_ascii(
    buf: np.ndarray,
    stop_raw: np.ndarray,
    stop_off: np.ndarray,
    stop_buckets: np.ndarray,
    stop_longest: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Kept tokens and distinct terms of the ASCII bytes ``buf``.

    Returns ``(terms, toks, names, nd, nt)``: ``terms[:, :nd]`` holds per distinct term (in
    first-occurrence order) the byte span ``(start, end)`` of its first occurrence, its count
    and the raw-token index of its first occurrence (rows 0-3); ``toks[:, :nt]`` per kept token
    (in text order) its distinct-term id and raw-token index (rows 0-1); ``names`` the
    lowercased distinct terms, each followed by a space.
    """
    n = buf.shape[0]
    cap = n // 4 + 1  # a kept token takes >= 3 bytes plus a separator
    terms = np.empty((4, cap), dtype=np.int64)
    toks = np.empty((2, cap), dtype=np.int64)
    names = np.empty(n + 1, dtype=np.uint8)
    size = 16
    while size < 2 * cap:
        size *= 2
    mask = np.uint64(size - 1)
    buckets = np.full(size, -1, dtype=np.int64)
    smask = np.uint64(stop_buckets.shape[0] - 1)
    longest = stop_longest[0]
    nd = 0
    nt = 0
    nn = 0
    raw = 0
    i = 0
    while i < n:
        if not _is_alnum(buf[i]):
            i += 1
            continue
        start = i
        h = np.uint64(0xCBF29CE484222325)
        while i < n and _is_alnum(buf[i]):
            h = (h ^ np.uint64(_lower(buf[i]))) * np.uint64(0x100000001B3)
            i += 1
        length = i - start
        r = raw
        raw += 1
        if length < 3:
            continue
        if length <= longest and _is_stopword(
            buf, start, length, h, stop_raw, stop_off, stop_buckets, smask
        ):
            continue
        b = h & mask
        term = -1
        while True:
            t = buckets[b]
            if t < 0:
                break
            t0 = terms[0, t]
            if terms[1, t] - t0 == length and _same_lowered(buf, start, buf, t0, length, True):
                term = t
                break
            b = (b + np.uint64(1)) & mask
        if term < 0:
            term = nd
            nd += 1
            buckets[b] = term
            terms[0, term] = start
            terms[1, term] = i
            terms[2, term] = 1
            terms[3, term] = r
            for q in range(start, i):
                names[nn] = _lower(buf[q])
                nn += 1
            names[nn] = np.uint8(32)
            nn += 1
        else:
            terms[2, term] += 1
        toks[0, nt] = term
        toks[1, nt] = r
        nt += 1
    return terms, toks, names[:nn], nd, nt


@njit(cache=True)
def rank_terms(
    buf: np.ndarray,
    terms: np.ndarray,
    toks: np.ndarray,
    nd: int,
    nt: int,
    boosted: np.ndarray,
    boost: float,
    has_limit: bool,
    limit: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rank the distinct terms of :func:`scan_ascii` and select the keywords' tokens.

    A term's score is its count plus ``boost`` where ``boosted`` is true (``boosted`` may be
    empty: no boosts). Terms are sorted by score descending, ties in first-occurrence order,
    and the first ones are the keywords: all of them without ``has_limit``, else as many as
    the Python slice ``[:limit]`` keeps (a negative ``limit`` drops that many from the end).

    Returns ``(names, meta, scores, kid, pos)``: the keywords' lowercased labels, each followed
    by a space; ``meta`` ``(2, keep)``: the keywords' first raw-token indices and counts;
    their scores; and for each token of a keyword (in text order) its keyword index and
    raw-token index.
    """
    neg = np.empty(nd, dtype=np.float64)
    if boosted.shape[0] > 0:
        for t in range(nd):
            neg[t] = -(np.float64(terms[2, t]) + (boost if boosted[t] else 0.0))
    else:
        for t in range(nd):
            neg[t] = -np.float64(terms[2, t])
    order = np.argsort(neg, kind="mergesort")  # stable: ties keep first occurrence
    keep = nd
    if has_limit:
        keep = min(limit, nd) if limit >= 0 else max(nd + limit, 0)
    meta = np.empty((2, keep), dtype=np.int64)
    scores = np.empty(keep, dtype=np.float64)
    remap = np.full(nd, -1, dtype=np.int64)
    names = np.empty(buf.shape[0] + 1, dtype=np.uint8)
    nn = 0
    for r in range(keep):
        t = order[r]
        remap[t] = r
        meta[0, r] = terms[3, t]
        meta[1, r] = terms[2, t]
        scores[r] = -neg[t]
        for q in range(terms[0, t], terms[1, t]):
            names[nn] = _lower(buf[q])
            nn += 1
        names[nn] = np.uint8(32)
        nn += 1
    kid = np.empty(nt, dtype=np.int64)
    pos = np.empty(nt, dtype=np.int64)
    m = 0
    for a in range(nt):
        k = remap[toks[0, a]]
        if k >= 0:
            kid[m] = k
            pos[m] = toks[1, a]
            m += 1
    return names[:nn], meta, scores, kid[:m], pos[:m]


@njit(cache=True)
def analyse_ascii(
    buf: np.ndarray,
    stop_raw: np.ndarray,
    stop_off: np.ndarray,
    stop_buckets: np.ndarray,
    stop_longest: np.ndarray,
    has_limit: bool,
    limit: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`scan_ascii` then :func:`rank_terms` without boosts, in one call."""
    terms, toks, _names, nd, nt = scan_ascii(buf, stop_raw, stop_off, stop_buckets, stop_longest)
    return rank_terms(buf, terms, toks, nd, nt, np.zeros(0, dtype=np.bool_), 0.0, has_limit, limit)


# ---------------------------------------------------------------------- a growing term set


class TermTable:
    """A set of terms the kernels can look tokens up in, grown term by term.

    The layout of a stopword table (terms' bytes concatenated, their offsets, a power-of-two
    bucket array of term indices, -1 empty) with room to grow: ``add`` appends in place and
    doubles an array only when it is full, so learning a few terms costs a few microseconds.
    Terms are stored as given, except those no token can equal (empty, or holding anything
    but ASCII letters and digits), which are skipped; :func:`known_terms` compares a
    lowercased token with them byte for byte.

    Example:
        >>> t = TermTable()
        >>> t.add(["cell", "wall", "cell", "caf\u00e9", "cell-wall", "Cell"])
        >>> t.count, bytes(t.raw[: t.used]).decode()
        (3, 'cellwallCell')
    """

    __slots__ = ("buckets", "count", "off", "raw", "used")

    def __init__(self) -> None:
        self.raw = np.empty(256, dtype=np.uint8)
        self.off = np.zeros(33, dtype=np.int64)
        self.buckets = np.full(64, -1, dtype=np.int64)
        self.count = 0
        self.used = 0

    def add(self, terms: Iterable[str]) -> None:
        """Add ``terms`` (those already present, or that no token can equal, are skipped)."""
        terms = terms if isinstance(terms, list) else list(terms)
        if not terms:
            return
        joined = "\0".join(terms)
        if joined.count("\0") != len(terms) - 1:  # a term holding the separator
            terms = [t for t in terms if "\0" not in t]
            joined = "\0".join(terms)
        # a character that is not ASCII becomes "?", which no token holds: its term is skipped
        data = np.frombuffer(joined.encode("ascii", "replace"), dtype=np.uint8)
        if self.used + len(data) > len(self.raw):
            raw = np.empty(max(2 * len(self.raw), self.used + len(data)), dtype=np.uint8)
            raw[: self.used] = self.raw[: self.used]
            self.raw = raw
        if self.count + len(terms) + 1 > len(self.off):
            off = np.zeros(max(2 * len(self.off), self.count + len(terms) + 1), dtype=np.int64)
            off[: self.count + 1] = self.off[: self.count + 1]
            self.off = off
        if 2 * (self.count + len(terms)) > len(self.buckets):
            size = len(self.buckets)
            while 2 * (self.count + len(terms)) > size:
                size *= 2
            self.buckets = _rehash_terms(self.raw, self.off, self.count, size)
        self.count, self.used = _insert_terms(
            self.raw, self.off, self.buckets, self.count, self.used, data
        )


@njit(cache=True, inline="always")
def _same_bytes(a: np.ndarray, a0: int, b: np.ndarray, b0: int, length: int) -> bool:
    for q in range(length):  # noqa: SIM110 - a plain loop compiles; all() over a generator may not
        if a[a0 + q] != b[b0 + q]:
            return False
    return True


@njit(cache=True, inline="always")
def _fnv(a: np.ndarray, a0: int, length: int, lower: bool) -> np.uint64:
    h = np.uint64(0xCBF29CE484222325)
    for q in range(length):
        c = _lower(a[a0 + q]) if lower else a[a0 + q]
        h = (h ^ np.uint64(c)) * np.uint64(0x100000001B3)
    return h


@njit(cache=True)
def _rehash_terms(raw: np.ndarray, off: np.ndarray, count: int, size: int) -> np.ndarray:
    """A bucket array of ``size`` (a power of two) for the first ``count`` terms."""
    buckets = np.full(size, -1, dtype=np.int64)
    for t in range(count):  # distinct terms: each finds its empty bucket
        b, _ = _probe(raw, off, buckets, raw, off[t], off[t + 1] - off[t], False)
        buckets[b] = t
    return buckets


@njit(cache=True, inline="always")
def _probe(
    raw: np.ndarray,
    off: np.ndarray,
    buckets: np.ndarray,
    a: np.ndarray,
    a0: int,
    length: int,
    lower: bool,
) -> tuple[np.uint64, bool]:
    """Look ``a[a0:a0+length]`` (lowercased when ``lower``) up in the table ``(raw, off,
    buckets)``: its bucket and True, or the empty bucket where it would go and False."""
    mask = np.uint64(buckets.shape[0] - 1)
    b = _fnv(a, a0, length, lower) & mask
    while True:
        t = buckets[b]
        if t < 0:
            return b, False
        t0 = off[t]
        if off[t + 1] - t0 == length:
            if lower:
                same = _same_lowered(a, a0, raw, t0, length, False)
            else:
                same = _same_bytes(a, a0, raw, t0, length)
            if same:
                return b, True
        b = (b + np.uint64(1)) & mask


@njit(cache=True)
def _insert_terms(
    raw: np.ndarray,
    off: np.ndarray,
    buckets: np.ndarray,
    count: int,
    used: int,
    data: np.ndarray,
) -> tuple[int, int]:
    """Insert the terms ``data`` holds separated by zero bytes, skipping those already in
    the table and those with a byte outside ``[A-Za-z0-9]`` (no token can equal them); the
    arrays have room. Returns the new ``(count, used)``."""
    n = data.shape[0]
    at = 0
    while at <= n:
        end = at
        plain = True
        while end < n and data[end] != 0:
            plain = plain and _is_alnum(data[end])
            end += 1
        length = end - at
        if plain and length > 0:
            b, found = _probe(raw, off, buckets, data, at, length, False)
            if not found:
                for q in range(length):
                    raw[used + q] = data[at + q]
                used += length
                buckets[b] = count
                count += 1
                off[count] = used
        at = end + 1
    return count, used


@njit(cache=True)
def known_terms(
    buf: np.ndarray,
    terms: np.ndarray,
    nd: int,
    raw: np.ndarray,
    off: np.ndarray,
    buckets: np.ndarray,
) -> np.ndarray:
    """Whether each of :func:`scan_ascii`'s ``nd`` distinct terms (lowercased) is in the
    :class:`TermTable` ``(raw, off, buckets)``."""
    out = np.zeros(nd, dtype=np.bool_)
    for d in range(nd):
        start = terms[0, d]
        out[d] = _probe(raw, off, buckets, buf, start, terms[1, d] - start, True)[1]
    return out


@njit(cache=True)
def analyse_ascii_known(
    buf: np.ndarray,
    stop_raw: np.ndarray,
    stop_off: np.ndarray,
    stop_buckets: np.ndarray,
    stop_longest: np.ndarray,
    raw: np.ndarray,
    off: np.ndarray,
    buckets: np.ndarray,
    boost: float,
    has_limit: bool,
    limit: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`scan_ascii`, :func:`known_terms` in the :class:`TermTable` ``(raw, off,
    buckets)`` and :func:`rank_terms` with those terms boosted by ``boost``, in one call."""
    terms, toks, _names, nd, nt = scan_ascii(buf, stop_raw, stop_off, stop_buckets, stop_longest)
    boosted = known_terms(buf, terms, nd, raw, off, buckets)
    return rank_terms(buf, terms, toks, nd, nt, boosted, boost, has_limit, limit)


@njit(cache=True, inline="always")
def _grown(a: np.ndarray, need: int) -> np.ndarray:
    """``a``, or a copy twice as long (at least ``need``) when it is shorter than ``need``."""
    if need <= a.shape[0]:
        return a
    out = np.empty(max(2 * a.shape[0], need), dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True)
def count_ascii_terms(
    buf: np.ndarray,
    doc_off: np.ndarray,
    stop_raw: np.ndarray,
    stop_off: np.ndarray,
    stop_buckets: np.ndarray,
    stop_longest: np.ndarray,
    raw: np.ndarray,
    off: np.ndarray,
    buckets: np.ndarray,
    count: int,
    used: int,
    table_vocab: np.ndarray,
    next_vocab: int,
) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int
]:
    """Count the terms of every document ``buf[doc_off[d]:doc_off[d + 1]]`` (ASCII bytes)
    in a growing vocabulary.

    A document's terms are its kept tokens as :func:`scan_ascii` keeps them (lowercase runs
    of ``[a-z0-9]`` of three or more bytes that are not stopwords). Each is looked up in the
    :class:`TermTable` ``(raw, off, buckets)`` holding ``count`` terms in ``used`` bytes, whose
    term ``t`` has vocabulary id ``table_vocab[t]``; a term not there is added (lowercased),
    with vocabulary id ``next_vocab`` plus its rank among the added terms.

    Returns ``(ptr, cols, cnts, lens, raw, off, buckets, count, used)``: document ``d``'s
    distinct terms' vocabulary ids, ascending, are ``cols[ptr[d]:ptr[d + 1]]`` with their
    counts in ``cnts``; ``lens[d]`` is its number of kept tokens; then the table (its arrays
    regrown where they were full) and its new term count and bytes used.
    """
    n_docs = doc_off.shape[0] - 1
    count0 = count
    smask = np.uint64(stop_buckets.shape[0] - 1)
    longest = stop_longest[0]
    widest = 0
    for d in range(n_docs):
        widest = max(widest, doc_off[d + 1] - doc_off[d])
    doc_terms = np.empty(widest // 4 + 1, dtype=np.int64)  # a kept token takes >= 4 bytes
    ptr = np.zeros(n_docs + 1, dtype=np.int64)
    lens = np.zeros(n_docs, dtype=np.int64)
    cols = np.empty(max(buf.shape[0] // 32, 16), dtype=np.int64)
    cnts = np.empty(cols.shape[0], dtype=np.int32)
    nnz = 0
    for d in range(n_docs):
        i = doc_off[d]
        end = doc_off[d + 1]
        k = 0
        while i < end:
            if not _is_alnum(buf[i]):
                i += 1
                continue
            start = i
            h = np.uint64(0xCBF29CE484222325)
            while i < end and _is_alnum(buf[i]):
                h = (h ^ np.uint64(_lower(buf[i]))) * np.uint64(0x100000001B3)
                i += 1
            length = i - start
            if length < 3:
                continue
            if length <= longest and _is_stopword(
                buf, start, length, h, stop_raw, stop_off, stop_buckets, smask
            ):
                continue
            mask = np.uint64(buckets.shape[0] - 1)
            b = h & mask
            term = -1
            while True:
                t = buckets[b]
                if t < 0:
                    break
                t0 = off[t]
                if off[t + 1] - t0 == length and _same_lowered(buf, start, raw, t0, length, False):
                    term = t
                    break
                b = (b + np.uint64(1)) & mask
            if term < 0:
                raw = _grown(raw, used + length)
                for q in range(length):
                    raw[used + q] = _lower(buf[start + q])
                used += length
                off = _grown(off, count + 2)
                term = count
                buckets[b] = term
                count += 1
                off[count] = used
                if 2 * count > buckets.shape[0]:
                    buckets = _rehash_terms(raw, off, count, 2 * buckets.shape[0])
            if term < count0:
                doc_terms[k] = table_vocab[term]
            else:
                doc_terms[k] = next_vocab + (term - count0)
            k += 1
        lens[d] = k
        if k:
            ids = np.sort(doc_terms[:k])
            cols = _grown(cols, nnz + k)
            if cnts.shape[0] < cols.shape[0]:
                cnts = _grown(cnts, cols.shape[0])
            prev = ids[0]
            run = 1
            for j in range(1, k):
                if ids[j] == prev:
                    run += 1
                else:
                    cols[nnz] = prev
                    cnts[nnz] = run
                    nnz += 1
                    prev = ids[j]
                    run = 1
            cols[nnz] = prev
            cnts[nnz] = run
            nnz += 1
        ptr[d + 1] = nnz
    return ptr, cols[:nnz], cnts[:nnz], lens, raw, off, buckets, count, used
