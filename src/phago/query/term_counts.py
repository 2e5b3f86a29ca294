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

from phago._arrays import csr_take, unique_sorted
from phago._text_kernels import TermTable
from phago.ids import document_ids
from phago.text import tokenize, without_urls
from phago.types import Document

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

    __slots__ = ("_saved", "_synced", "_table", "_table_vocab", "ids")

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self._table: TermTable | None = None
        self._table_vocab = np.zeros(0, dtype=np.int64)  # table index -> vocabulary id
        self._synced = 0  # ids the table has seen
        self._saved: SavedTermCounts | None = None  # counts in this vocabulary's ids

    @property
    def has_saved(self) -> bool:
        """Whether saved counts were adopted (:meth:`adopt`)."""
        return self._saved is not None

    def adopt(self, saved: SavedTermCounts) -> bool:
        """Start from ``saved`` (an empty vocabulary only): its terms become this vocabulary's
        first ids, and :meth:`count` takes its documents' rows instead of counting them.
        Returns whether it was adopted."""
        if self.ids:
            return False
        self.ids.update(zip(saved.terms, range(len(saved.terms)), strict=True))
        if len(self.ids) != len(saved.terms):  # (a term saved twice: not a saved vocabulary)
            self.ids.clear()
            return False
        self._saved = saved
        return True

    def count(
        self,
        texts: Sequence[str],
        *,
        kernel: bool | None = None,
        doc_ids: npt.NDArray[np.uint64] | None = None,
        usable: npt.NDArray[np.bool_] | None = None,
    ) -> TermCounts:
        """Count the terms of ``texts``, adding new terms to the vocabulary.

        Args:
            texts: the documents' texts.
            kernel: count ASCII texts with the Numba kernel (True), in Python (False), or
                as the batch's size says (None; see the module docstring). The result is
                the same.
            doc_ids: the texts' document ids: the rows of documents in the adopted saved
                counts (:meth:`adopt`) are taken from them.
            usable: which texts may take a saved row (None: all). Only a document whose id
                hashes its title and content (:func:`phago.ids.document_id`) may: an id
                given by hand can name other text after a forget.

        Returns:
            A :class:`TermCounts`, one row per text.
        """
        saved = self._saved
        if saved is not None and doc_ids is not None and len(texts):
            at = saved.rows_of(doc_ids)
            if usable is not None:
                at = np.where(usable, at, -1)
            have = np.flatnonzero(at >= 0)
            if len(have):
                known = saved.rows(at[have])
                if len(have) == len(texts):
                    return known
                rest = np.flatnonzero(at < 0)
                fresh = self.count([texts[i] for i in rest.tolist()], kernel=kernel)
                return _interleave(known, have.tolist(), fresh, rest.tolist())
        return self._count(texts, kernel)

    def _count(self, texts: Sequence[str], kernel: bool | None) -> TermCounts:
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


class SavedTermCounts(NamedTuple):
    """Documents' term counts as a store keeps them (:func:`phago.store.save`), keyed by
    document id (a document's id hashes its title and content, so its counts never change
    under it; :data:`phago.text.TOKENIZER_VERSION` names the tokeniser that made them).

    ``terms[c]`` is term ``c``; the document ``doc_ids[i]`` (ascending) has the terms
    ``cols[ptr[i]:ptr[i + 1]]`` (ascending) with counts ``cnts[...]``, ``lens[i]`` in all.
    """

    terms: list[str]
    doc_ids: npt.NDArray[np.uint64]
    ptr: IntArray
    cols: npt.NDArray[np.int32]
    cnts: npt.NDArray[np.int32]
    lens: IntArray

    def rows_of(self, ids: npt.NDArray[np.uint64]) -> IntArray:
        """Each id's row, or -1 for an id not saved."""
        if not len(self.doc_ids):
            return np.full(len(ids), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.doc_ids, ids), len(self.doc_ids) - 1)
        out: IntArray = np.where(self.doc_ids[at] == ids, at, -1).astype(np.int64)
        return out

    def rows(self, at: IntArray) -> TermCounts:
        """The rows ``at`` as :class:`TermCounts`."""
        ptr, pos = csr_take(self.ptr, at)
        return TermCounts(ptr, self.cols[pos].astype(np.int64), self.cnts[pos], self.lens[at])

    def keep(self, ids: npt.NDArray[np.uint64]) -> SavedTermCounts:
        """Only the documents among ``ids``."""
        at = np.flatnonzero(np.isin(self.doc_ids, ids))
        part = self.rows(at)
        return SavedTermCounts(
            self.terms, self.doc_ids[at], part.ptr, part.cols.astype(np.int32), part.cnts, part.lens
        )

    def is_valid(self) -> bool:
        """Whether the arrays fit together (a damaged or foreign part does not)."""
        n, ptr, cols = len(self.doc_ids), self.ptr, self.cols
        if len(ptr) != n + 1 or len(self.lens) != n or int(ptr[0]) != 0:
            return False
        if int(ptr[-1]) != len(cols) or len(cols) != len(self.cnts):
            return False
        if not bool((np.diff(ptr) >= 0).all()):
            return False
        if n > 1 and not bool((self.doc_ids[1:] > self.doc_ids[:-1]).all()):
            return False
        if len(cols) and (int(cols.min()) < 0 or int(cols.max()) >= len(self.terms)):
            return False
        # ascending within each row (the index bisects them): every step up, but where a
        # row starts
        up = np.diff(cols.astype(np.int64)) > 0
        starts = ptr[1:-1]
        up[starts[(starts > 0) & (starts < len(cols))] - 1] = True
        return bool(up.all())

    def compact(self) -> SavedTermCounts:
        """The same rows with only the terms they use (in the same order, so each row stays
        ascending): what one shard of a distributed store keeps.

        Example:
            >>> c = saved_counts_of(None, np.array([1, 2], dtype=np.uint64), ["a", "b"],
            ...                     ["cell wall", "ion pump"])
            >>> c.keep(np.array([2], dtype=np.uint64)).compact().terms
            ['ion', 'pump']
        """
        # (one counting pass: term ids are below len(terms), which is_valid checks)
        seen = np.bincount(self.cols, minlength=len(self.terms)) > 0
        if seen.all():
            return self
        used = np.flatnonzero(seen)
        new_id = np.cumsum(seen, dtype=np.int64) - 1
        cols = new_id[self.cols].astype(np.int32)
        return self._replace(terms=[self.terms[i] for i in used.tolist()], cols=cols)


def content_addressed(
    docs: Sequence[Document], ids: npt.NDArray[np.uint64]
) -> npt.NDArray[np.bool_]:
    """Which documents' ids hash their title and content (:func:`phago.ids.document_id`):
    only their saved counts can be trusted to be of their text.

    Example:
        >>> from phago.ids import document_id
        >>> from phago.types import Document, Position
        >>> own = Document(document_id("t", "cell"), "t", "cell", Position(0, 0))
        >>> given = Document(5, "t", "cell", Position(0, 0))
        >>> ids = np.array([own.id, given.id], dtype=np.uint64)
        >>> content_addressed([own, given], ids).tolist()
        [True, False]
    """
    out: npt.NDArray[np.bool_] = (
        document_ids([d.title for d in docs], [d.content for d in docs]) == ids
    )
    return out


def saved_counts_for(base: SavedTermCounts | None, docs: Sequence[Document]) -> SavedTermCounts:
    """The saved counts of the documents ``docs``: ``base``'s rows for those it holds, the
    others counted (their title, then content, as the document index reads them; new terms
    extend ``base``'s vocabulary).

    Example:
        >>> from phago.types import Document, Position
        >>> a = Document(7, "a", "cell wall", Position(0, 0))
        >>> b = Document(3, "b", "cell gate", Position(0, 0))
        >>> first = saved_counts_for(None, [a, b])
        >>> first.terms, first.doc_ids.tolist(), first.cols.tolist()
        (['cell', 'wall', 'gate'], [3, 7], [0, 2, 0, 1])
        >>> c = Document(5, "c", "ion wall", Position(0, 0))
        >>> more = saved_counts_for(first, [b, c])
        >>> more.terms[3:], more.doc_ids.tolist(), more.cols.tolist()
        (['ion'], [3, 5], [0, 2, 1, 3])
    """
    ids = np.fromiter((int(d.id) for d in docs), dtype=np.uint64, count=len(docs))
    return saved_counts_of(base, ids, [d.title for d in docs], [d.content for d in docs])


def saved_counts_of(
    base: SavedTermCounts | None,
    ids: npt.NDArray[np.uint64],
    titles: Sequence[str],
    contents: Sequence[str],
) -> SavedTermCounts:
    """:func:`saved_counts_for` of the documents given as their ids, titles and contents
    (a captured state's columns: no :class:`~phago.types.Document` is made).

    Example:
        >>> first = saved_counts_of(None, np.array([7], dtype=np.uint64), ["a"], ["cell"])
        >>> first.terms, first.lens.tolist()
        (['cell'], [1])
    """
    ids = np.asarray(ids, dtype=np.uint64)
    vocabulary = Vocabulary()
    at = np.full(len(ids), -1, dtype=np.int64)  # each document's row in ``base``, if taken
    if base is not None and vocabulary.adopt(base):  # (only ids that hash their text)
        at = np.where(document_ids(titles, contents) == ids, base.rows_of(ids), -1)
    have, missing = np.flatnonzero(at >= 0), np.flatnonzero(at < 0)
    fresh = vocabulary.count([f"{titles[i]}\n{contents[i]}" for i in missing.tolist()])
    if base is not None and _only_added(base, at[have], ids[missing]):
        return _rows_added(base, list(vocabulary.ids), ids[missing], fresh)
    known = base.rows(at[have]) if base is not None and len(have) else _no_counts()
    # the taken rows, then the counted ones, put in id order in one step (an id twice: the
    # row of its first document)
    pos = np.concatenate([have, missing])
    order = np.lexsort((pos, ids[pos]))
    by_id = ids[pos][order]
    first = order[np.r_[True, by_id[1:] != by_id[:-1]]] if len(order) else order
    ptr = np.concatenate([known.ptr, fresh.ptr[1:] + known.ptr[-1]])
    out_ptr, rows = csr_take(ptr, first.astype(np.int64))
    out = SavedTermCounts(
        list(vocabulary.ids),
        ids[pos][first],
        out_ptr,
        np.concatenate([known.cols, fresh.cols])[rows].astype(np.int32),
        np.concatenate([known.cnts, fresh.cnts])[rows].astype(np.int32),
        np.concatenate([known.lens, fresh.lens])[first].astype(np.int64),
    )
    if base is not None and len(have) < len(base.doc_ids):
        # rows of ``base`` left out (documents forgotten): their words go too
        out = out.compact()
    return out


_ADDED_ROWS_MAX = 1024
"""Most new rows :func:`_rows_added` puts between saved ones (one slice each)."""


def _only_added(base: SavedTermCounts, taken: IntArray, added: npt.NDArray[np.uint64]) -> bool:
    """Whether the documents are every row of ``base`` (``taken``: each one's row, each row
    once) and a few more (their ids ``added``, distinct, none in ``base``): an ingest's
    save, which :func:`_rows_added` makes without gathering every row."""
    n = len(base.doc_ids)
    if len(taken) != n or not 0 < len(added) <= _ADDED_ROWS_MAX:
        return False
    if n and int(np.bincount(taken, minlength=n).max()) != 1:
        return False
    return len(unique_sorted(added)) == len(added) and bool((base.rows_of(added) < 0).all())


def _rows_added(
    base: SavedTermCounts, terms: list[str], added: npt.NDArray[np.uint64], fresh: TermCounts
) -> SavedTermCounts:
    """``base``'s rows with the rows ``fresh`` of the documents ``added`` (not in ``base``)
    put in id order; ``terms``: ``base``'s terms, then the new ones ``fresh`` uses."""
    order = np.argsort(added, kind="stable")
    ids = added[order]
    at = np.searchsorted(base.doc_ids, ids)  # each new row goes before this saved one
    cut = base.ptr[at].tolist()
    cols: list[npt.NDArray[np.int32]] = []
    cnts: list[npt.NDArray[np.int32]] = []
    start = 0
    for row, end in zip(order.tolist(), cut, strict=True):
        a, b = int(fresh.ptr[row]), int(fresh.ptr[row + 1])
        cols += [base.cols[start:end], fresh.cols[a:b].astype(np.int32)]
        cnts += [base.cnts[start:end], fresh.cnts[a:b].astype(np.int32)]
        start = end
    cols.append(base.cols[start:])
    cnts.append(base.cnts[start:])
    lengths = np.insert(np.diff(base.ptr), at, np.diff(fresh.ptr)[order])
    ptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    return SavedTermCounts(
        terms,
        np.insert(base.doc_ids, at, ids),
        ptr,
        np.concatenate(cols),
        np.concatenate(cnts),
        np.insert(base.lens, at, fresh.lens[order]).astype(np.int64),
    )


def _no_counts() -> TermCounts:
    """No rows."""
    return TermCounts(
        np.zeros(1, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int32),
        np.zeros(0, dtype=np.int64),
    )


def merge_saved_counts(parts: Sequence[SavedTermCounts]) -> SavedTermCounts | None:
    """One :class:`SavedTermCounts` holding the documents of ``parts`` (the shard files of a
    distributed store, each with the terms its own documents use): the first part's terms
    keep their ids and the others' new terms follow. A document in several parts
    keeps its first part's row. None when there is no part, or a part does not fit
    together (:meth:`SavedTermCounts.is_valid`).

    Example:
        >>> a = saved_counts_of(None, np.array([7], dtype=np.uint64), ["a"], ["cell wall"])
        >>> b = saved_counts_of(None, np.array([3], dtype=np.uint64), ["b"], ["ion wall"])
        >>> m = merge_saved_counts([a, b])
        >>> m.terms, m.doc_ids.tolist(), m.cols.tolist()
        (['cell', 'wall', 'ion'], [3, 7], [1, 2, 0, 1])
    """
    if not parts or not all(p.is_valid() for p in parts):
        return None
    ids: dict[str, int] = {}
    cols = []
    for part in parts:
        if len(set(part.terms)) != len(part.terms):  # (a term twice: no saved vocabulary)
            return None
        for t in part.terms:
            ids.setdefault(t, len(ids))
        mapping = np.fromiter((ids[t] for t in part.terms), dtype=np.int32, count=len(part.terms))
        cols.append(mapping[part.cols])
    merged = _merge_rows(list(ids), [p._replace(cols=c) for p, c in zip(parts, cols, strict=True)])
    # (a part's columns are ascending within a row; mapped to the merged ids they need not be)
    row = np.repeat(np.arange(len(merged.doc_ids), dtype=np.int64), np.diff(merged.ptr))
    by = np.argsort(row * max(len(ids), 1) + merged.cols, kind="stable")
    return merged._replace(cols=merged.cols[by], cnts=merged.cnts[by])


def _merge_rows(terms: list[str], parts: Sequence[SavedTermCounts]) -> SavedTermCounts:
    """The rows of ``parts`` (their columns ids of ``terms``) in one, by document id (a
    document in several parts: its first part's row)."""
    all_ids = np.concatenate([p.doc_ids for p in parts])
    ptr = np.concatenate([np.zeros(1, dtype=np.int64)] + [p.ptr[1:] for p in parts])
    offsets = np.cumsum([0] + [int(p.ptr[-1]) for p in parts[:-1]])
    ptr[1:] += np.repeat(offsets, [len(p.doc_ids) for p in parts])
    order = np.argsort(all_ids, kind="stable")
    keep = order[np.r_[True, all_ids[order][1:] != all_ids[order][:-1]]] if len(order) else order
    out_ptr, pos = csr_take(ptr, keep.astype(np.int64))
    return SavedTermCounts(
        terms,
        all_ids[keep],
        out_ptr,
        np.concatenate([p.cols for p in parts])[pos].astype(np.int32),
        np.concatenate([p.cnts for p in parts])[pos].astype(np.int32),
        np.concatenate([p.lens for p in parts])[keep].astype(np.int64),
    )


def _interleave(a: TermCounts, a_rows: list[int], b: TermCounts, b_rows: list[int]) -> TermCounts:
    """The rows of ``a`` and ``b`` (texts ``a_rows`` and ``b_rows`` of a batch) in the
    batch's order."""
    n = len(a_rows) + len(b_rows)
    lens = np.empty(n, dtype=np.int64)
    lens[a_rows], lens[b_rows] = a.lens, b.lens
    both = np.concatenate([a.ptr, b.ptr[1:] + a.ptr[-1]])  # a's rows, then b's
    row = np.empty(n, dtype=np.int64)  # each text's row in ``both``
    row[a_rows], row[b_rows] = np.arange(len(a_rows)), np.arange(len(a_rows), n)
    ptr, pos = csr_take(both, row)
    cols = np.concatenate([a.cols, b.cols])[pos]
    cnts = np.concatenate([a.cnts, b.cnts])[pos]
    return TermCounts(ptr, cols, cnts, lens)
