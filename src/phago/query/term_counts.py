"""Each document's terms with their counts, over a growing vocabulary: what the BM25 document
index (:mod:`phago.query.index`) is built from.

A document's terms are :func:`phago.text.tokenize`'s. :meth:`Vocabulary.count` gives, for a
batch of texts, each one's distinct terms as vocabulary ids (ascending) with their counts
and its number of terms, adding the terms it has not seen to the vocabulary in order of
first occurrence. ASCII texts can be counted by a Numba kernel instead of one Python string
per token (W3, 30,000 documents of ~1,000 characters: 1.7 s of tokenising alone in Python);
the result is the same either way. The kernel is used for a batch holding at least
:data:`KERNEL_MIN_BYTES` of ASCII text, or ``KERNEL_MIN_BYTES_LOADED`` where Numba is
already loaded (a colony that digested its documents in this process): starting Numba costs
about 0.35 s, which a ``phago query`` on a small store would otherwise pay.

Example:
    >>> v = Vocabulary()
    >>> c = v.count(["the cell wall, the cell", "wall of stone"])
    >>> v.ids, c.ptr.tolist(), c.cols.tolist(), c.cnts.tolist(), c.lens.tolist()
    ({'cell': 0, 'wall': 1, 'stone': 2}, [0, 2, 4], [0, 1, 1, 2], [2, 1, 1, 1], [3, 2])
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from itertools import chain, islice, pairwise
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from phago._text_kernels import TermTable
from phago.text import tokenize, without_urls

IntArray = npt.NDArray[np.int64]

KERNEL_MIN_BYTES = 8 << 20
"""ASCII text in one batch from which :meth:`Vocabulary.count` starts Numba to count it."""

KERNEL_MIN_BYTES_LOADED = 1 << 14
"""ASCII text in one batch from which it uses the kernel when Numba is already loaded."""


class TermCounts(NamedTuple):
    """Per text of a batch: its distinct terms' ids ``cols[ptr[i]:ptr[i + 1]]`` (ascending),
    their counts ``cnts``, and its number of terms ``lens[i]``."""

    ptr: IntArray
    cols: IntArray
    cnts: npt.NDArray[np.int32]
    lens: IntArray


class Vocabulary:
    """Terms numbered in order of first occurrence (``ids``: term → id, a plain dict that
    only grows), with a kernel's hash table of its ASCII terms kept in step on demand."""

    __slots__ = ("_synced", "_table", "_table_vocab", "ids")

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self._table: TermTable | None = None
        self._table_vocab = np.zeros(0, dtype=np.int64)  # table index -> vocabulary id
        self._synced = 0  # ids the table has seen

    def count(self, texts: Sequence[str], *, kernel: bool | None = None) -> TermCounts:
        """Count the terms of ``texts``, adding new terms to the vocabulary.

        Args:
            texts: the documents' texts.
            kernel: count ASCII texts with the Numba kernel (True), in Python (False), or
                as the batch's size says (None; see the module docstring). The result is
                the same.

        Returns:
            A :class:`TermCounts`, one row per text.
        """
        if kernel is False:
            return self._count_python(texts)
        ascii_rows = [i for i, t in enumerate(texts) if t.isascii()]
        if kernel is None:
            size = sum(len(texts[i]) for i in ascii_rows)
            loaded = "numba" in sys.modules
            kernel = size >= (KERNEL_MIN_BYTES_LOADED if loaded else KERNEL_MIN_BYTES)
        if not kernel or not ascii_rows:
            return self._count_python(texts)
        if len(ascii_rows) == len(texts):
            return self._count_ascii(texts)
        other_rows = sorted(set(range(len(texts))) - set(ascii_rows))
        first = self._count_python([texts[i] for i in other_rows])
        second = self._count_ascii([texts[i] for i in ascii_rows])
        return _interleave(first, other_rows, second, ascii_rows)

    def _count_python(self, texts: Sequence[str]) -> TermCounts:
        toks = [tokenize(t) for t in texts]
        flat = list(chain.from_iterable(toks))
        vocab = self.ids
        new_terms = [t for t in dict.fromkeys(flat) if t not in vocab]
        vocab.update(zip(new_terms, range(len(vocab), len(vocab) + len(new_terms)), strict=True))
        cols = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
        lens = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
        # each text's distinct terms, ascending, with their counts: (text, term) keys
        # sorted and counted
        width = max(len(vocab), 1)
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), lens)
        keys, counts = np.unique(rows * width + cols, return_counts=True)
        ptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys // width, minlength=len(texts)), out=ptr[1:])
        return TermCounts(ptr, keys % width, counts.astype(np.int32), lens)

    def _count_ascii(self, texts: Sequence[str]) -> TermCounts:
        from phago._text_kernels import count_ascii_terms
        from phago.text import _STOP

        table = self._synced_table()
        plain = [without_urls(t) for t in texts]
        buf = np.frombuffer("\n".join(plain).encode("ascii"), dtype=np.uint8)
        # text i and the separator after it (no term holds one)
        doc_off = np.zeros(len(plain) + 1, dtype=np.int64)
        sizes = np.fromiter(map(len, plain), dtype=np.int64, count=len(plain))
        np.cumsum(sizes + 1, out=doc_off[1:])
        doc_off[-1] = len(buf)
        count0, next_vocab = table.count, len(self.ids)
        ptr, cols, cnts, lens, raw, off, buckets, count, used = count_ascii_terms(
            buf,
            doc_off,
            *_STOP,
            table.raw,
            table.off,
            table.buckets,
            table.count,
            table.used,
            self._table_vocab,
            next_vocab,
        )
        table.raw, table.off, table.buckets, table.count, table.used = (
            raw,
            off,
            buckets,
            int(count),
            int(used),
        )
        if count > count0:
            new = bytes(raw[off[count0] : off[count]]).decode("ascii")
            cuts = (off[count0 : count + 1] - off[count0]).tolist()
            self.ids.update((new[a:b], next_vocab + k) for k, (a, b) in enumerate(pairwise(cuts)))
            added = np.arange(next_vocab, next_vocab + count - count0, dtype=np.int64)
            self._table_vocab = np.concatenate([self._table_vocab, added])
        self._synced = len(self.ids)
        return TermCounts(ptr, cols, cnts, lens)

    def _synced_table(self) -> TermTable:
        """The kernel's table, holding every ASCII term of the vocabulary."""
        if self._table is None:
            self._table = TermTable()
        if self._synced < len(self.ids):
            table = self._table
            later = list(islice(self.ids.items(), self._synced, None))
            kept = [(t, i) for t, i in later if t.isascii() and t.isalnum()]
            before = table.count
            table.add([t for t, _ in kept])
            if table.count - before != len(kept):  # pragma: no cover - ids are distinct
                raise AssertionError("the term table and the vocabulary disagree")
            ids = np.fromiter((i for _, i in kept), dtype=np.int64, count=len(kept))
            self._table_vocab = np.concatenate([self._table_vocab, ids])
            self._synced = len(self.ids)
        return self._table


def _interleave(a: TermCounts, a_rows: list[int], b: TermCounts, b_rows: list[int]) -> TermCounts:
    """The rows of ``a`` and ``b`` (texts ``a_rows`` and ``b_rows`` of a batch) in the
    batch's order."""
    n = len(a_rows) + len(b_rows)
    lens = np.empty(n, dtype=np.int64)
    lens[a_rows], lens[b_rows] = a.lens, b.lens
    width = np.empty(n, dtype=np.int64)
    width[a_rows], width[b_rows] = np.diff(a.ptr), np.diff(b.ptr)
    start = np.empty(n, dtype=np.int64)  # each row's first entry in a's entries, then b's
    start[a_rows], start[b_rows] = a.ptr[:-1], b.ptr[:-1] + a.ptr[-1]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(width, out=ptr[1:])
    pos = np.arange(ptr[-1], dtype=np.int64) - np.repeat(ptr[:-1] - start, width)
    cols = np.concatenate([a.cols, b.cols])[pos]
    cnts = np.concatenate([a.cnts, b.cnts])[pos]
    return TermCounts(ptr, cols, cnts, lens)
