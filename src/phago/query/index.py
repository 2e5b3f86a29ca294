"""Cached query indexes over a graph: label postings, adjacency (CSR) and a document index.

Queries must not loop over every node or edge in Python. Each graph gets one
:class:`QueryIndex` (held weakly, so it goes with the graph) with three parts, each rebuilt
only when what it depends on changed:

* **labels** (:class:`LabelIndex`): an inverted index from label term to concept nodes, with
  the term's count in the label. Nodes are only ever appended, so it is extended in place
  when the node count grows.
* **edges** (:class:`Adjacency`): a symmetric CSR view of the live edges with weights and
  co-activations, degrees, weighted strengths and the weight percentiles; keyed on
  (node count, edge count, tick, local version). Query reinforcement bumps the version.
* **documents** (:class:`DocumentIndex`): the digested documents (those with provenance),
  sorted by id, a BM25 index over their tokens (title and content: a document is found by
  the words of its title too; Lucene BM25, scored here over the query terms' postings) and
  the document × concept term counts of the graph's provenance. It is incremental: the
  tokens, vocabulary, postings and pairs are kept between snapshots, and a refresh after
  digestion tokenises only the newly digested documents and reads only the new provenance
  pairs (see :class:`_DocStore` for when it starts again from scratch).

**Another graph of the same source.** A distributed colony's ``graph`` is a new merged graph
after every change of the cluster (nodes in id order, so a new node shifts the indices of
those after it). When a source is queried through a graph the index has not seen, the caches
of the graph it was queried through last carry over (:func:`query_index`): the label index is
re-indexed by node id (node ids name their labels, :mod:`phago.ids`) and only the new
concepts' labels are split, and the documents keep their tokens, vocabulary and postings, so
only documents not indexed yet are tokenised and the provenance pairs are read again
(:meth:`_DocStore.rebase`). Nothing carries over where the result could differ from a fresh
build: node order changed (a graph that is not ordered the same way) or an indexed document
has left the source or lost its provenance.

Example:
    >>> from phago.query.base import example_source
    >>> from phago.query.index import query_index
    >>> src = example_source()
    >>> qi = query_index(src)
    >>> qi.labels().postings["protein"]
    ([2], [1])
    >>> int(qi.adjacency().degree[2])
    5
    >>> qi.documents(src).n_docs
    4
"""

from __future__ import annotations

import bisect
import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from phago._arrays import csr_take, gather, unique_sorted
from phago._gc import cyclic_gc_paused
from phago._jit import kernel_pays
from phago.graph import HebbianGraph
from phago.query.base import CONCEPT_CODE, GraphSource, source_tick
from phago.query.term_counts import (
    SavedTermCounts,
    Vocabulary,
    content_addressed,
    saved_counts_for,
)
from phago.text import label_terms
from phago.types import Document

if TYPE_CHECKING:  # SciPy is imported where a matrix is asked for (0.15 s a process)
    import scipy.sparse as sp  # type: ignore[import-untyped]

__all__ = [
    "BM25_B",
    "BM25_K1",
    "DEFAULT_FANOUT",
    "Adjacency",
    "DocumentIndex",
    "LabelIndex",
    "QueryIndex",
    "bm25_term_scores",
    "gather",
    "invalidate",
    "query_index",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Int32Array = npt.NDArray[np.int32]


class _Column:
    """A growing 1-D array: appends write past the end of its buffer (regrown to twice what
    it holds: zeroed pages cost nothing until written), so views of a shorter prefix, held
    by earlier snapshots, never change."""

    __slots__ = ("data", "size")

    def __init__(self, dtype: npt.DTypeLike) -> None:
        self.data: npt.NDArray[Any] = np.zeros(0, dtype=dtype)
        self.size = 0

    def extend(self, values: npt.ArrayLike) -> None:
        """Append ``values``."""
        v = np.asarray(values, dtype=self.data.dtype)
        end = self.size + len(v)
        if end > len(self.data):
            grown = np.zeros(max(2 * end, 64), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = v
        self.size = end

    def view(self) -> npt.NDArray[Any]:
        """The filled prefix (a view)."""
        return self.data[: self.size]


@dataclass(slots=True)
class LabelIndex:
    """Inverted index over concept label terms.

    Attributes:
        postings: term -> (concept indices, term count in the label), ascending indices.
        concepts: number of concept nodes indexed (the TF-IDF collection size).
        nodes_seen: graph node count this index covers.
        node_ids: the ids of those nodes, by index (what :meth:`remapped` maps by).
    """

    postings: dict[str, tuple[list[int], list[int]]] = field(default_factory=dict)
    concepts: int = 0
    nodes_seen: int = 0
    node_ids: _Column = field(default_factory=lambda: _Column(np.uint64), compare=False)

    def extend(self, graph: HebbianGraph) -> None:
        """Index the nodes added since the last call."""
        n = graph.node_count
        if n <= self.nodes_seen:
            return
        codes = graph.type_codes()
        for i in range(self.nodes_seen, n):
            if codes[i] == CONCEPT_CODE:
                self._add(i, graph.label_at(i), append=True)
        self.node_ids.extend(np.array(graph.ids_at(range(self.nodes_seen, n)), dtype=np.uint64))
        self.nodes_seen = n

    def _add(self, i: int, label: str, *, append: bool) -> None:
        """Post concept ``i`` under its label's terms (appended, or inserted in index order)."""
        self.concepts += 1
        for term, count in Counter(label_terms(label)).items():
            entry = self.postings.get(term)
            if entry is None:
                self.postings[term] = ([i], [count])
            elif append:
                entry[0].append(i)
                entry[1].append(count)
            else:
                at = bisect.bisect_left(entry[0], i)
                entry[0].insert(at, i)
                entry[1].insert(at, count)

    def remapped(self, graph: HebbianGraph) -> LabelIndex | None:
        """This index carried over to ``graph``, another graph of the same nodes and more (or
        fewer), by node id: the same as a fresh index of ``graph``, or None where the nodes
        kept are in another order there (build afresh then).

        Example:
            >>> a, b = HebbianGraph(), HebbianGraph()
            >>> _ = a.present(["cell", "gene"]); _ = b.present(["dna", "cell", "gene"])
            >>> old = LabelIndex(); old.extend(a)
            >>> new = old.remapped(b)
            >>> new.postings["gene"], new.concepts, new.nodes_seen
            (([2], [1]), 3, 3)
            >>> fresh = LabelIndex(); fresh.extend(b); fresh.postings == new.postings
            True
        """
        n = graph.node_count
        remap = graph.indices_of_ids(self.node_ids.view())
        kept = remap[remap >= 0]
        if len(kept) > 1 and not bool((kept[1:] > kept[:-1]).all()):
            return None
        out = LabelIndex()
        gone = len(kept) < len(remap)
        r = remap.tolist()
        postings = out.postings
        for term, (nodes, counts) in self.postings.items():
            if not gone:
                postings[term] = ([r[i] for i in nodes], list(counts))
                continue
            pairs = [(r[i], c) for i, c in zip(nodes, counts, strict=True) if r[i] >= 0]
            if pairs:
                postings[term] = ([i for i, _ in pairs], [c for _, c in pairs])
        added = np.ones(n, dtype=np.bool_)
        added[kept] = False
        codes = graph.type_codes()
        out.concepts = int(np.count_nonzero(codes[kept] == CONCEPT_CODE))
        fresh = np.flatnonzero(added & (codes == CONCEPT_CODE)).tolist()
        for i, label in zip(fresh, graph.labels_of(fresh), strict=True):
            out._add(i, label, append=False)
        out.node_ids.extend(np.array(graph.node_ids(), dtype=np.uint64))
        out.nodes_seen = n
        return out

    def df(self, term: str) -> int:
        """Number of concept nodes whose label contains ``term``."""
        entry = self.postings.get(term)
        return 0 if entry is None else len(entry[0])


DEFAULT_FANOUT = 64
"""Edges followed per node by activation and graph walks (each node's strongest)."""


@dataclass(slots=True)
class Adjacency:
    """Symmetric CSR view of the live edges.

    Attributes:
        n: node count.
        indptr: CSR row pointers (length ``n + 1``).
        nbr: neighbour index per entry, sorted by neighbour index within a row.
        weight: edge weight per entry.
        co: co-activations per entry.
        degree: degree per node.
        strength: sum of incident weights per node.
        weight_quantile75: the reference's edge threshold (sorted weights at ``len*75//100``).
        edges: number of undirected edges.
        node_ids: node id per index (for insertion-order independent tie-breaks).
    """

    n: int
    indptr: IntArray
    nbr: IntArray
    weight: FloatArray
    co: IntArray
    degree: IntArray
    strength: FloatArray
    weight_quantile75: float
    edges: int
    node_ids: npt.NDArray[np.uint64]
    _matrix: sp.csr_matrix | None = None
    _pruned: dict[int, tuple[IntArray, IntArray, FloatArray, IntArray]] = field(
        default_factory=dict
    )

    @classmethod
    def build(cls, graph: HebbianGraph) -> Adjacency:
        """Build from the graph's edge columns (O(E log E), once per change)."""
        n = graph.node_count
        a, b, w, co, _, _ = graph.edge_arrays()
        m = len(a)
        src = np.concatenate([a, b])
        dst = np.concatenate([b, a])
        ww = np.concatenate([w, w])
        cc = np.concatenate([co, co])
        order = np.lexsort((dst, src))
        counts = np.bincount(src, minlength=n).astype(np.int64)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        strength = np.bincount(src, weights=ww, minlength=n).astype(np.float64)
        q75 = float(np.partition(w, m * 75 // 100)[m * 75 // 100]) if m else 0.0
        return cls(
            n=n,
            indptr=indptr,
            nbr=dst[order].astype(np.int64),
            weight=ww[order].astype(np.float64),
            co=cc[order].astype(np.int64),
            degree=counts,
            strength=strength,
            weight_quantile75=q75,
            edges=m,
            node_ids=np.array(graph.node_ids(), dtype=np.uint64).reshape(n),
        )

    def pruned(self, fanout: int | None) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
        """CSR ``(indptr, nbr, weight, co)`` keeping each node's ``fanout`` strongest edges.

        Ties are broken by co-activations, then by neighbour node id, so the choice does not
        depend on insertion order. ``None`` (or a fanout of at least the largest degree)
        keeps every edge. Cached per fanout.
        """
        if fanout is None or self.n == 0 or int(self.degree.max()) <= fanout:
            return self.indptr, self.nbr, self.weight, self.co
        got = self._pruned.get(fanout)
        if got is None:
            rows = np.repeat(np.arange(self.n, dtype=np.int64), self.degree)
            order = np.lexsort((self.node_ids[self.nbr], -self.co, -self.weight, rows))
            rank = np.arange(len(order), dtype=np.int64) - self.indptr[rows]
            keep = order[rank < fanout]
            counts = np.minimum(self.degree, fanout)
            indptr = np.zeros(self.n + 1, dtype=np.int64)
            np.cumsum(counts, out=indptr[1:])
            got = (indptr, self.nbr[keep], self.weight[keep], self.co[keep])
            self._pruned[fanout] = got
        return got

    def row(self, i: int) -> tuple[IntArray, FloatArray, IntArray]:
        """Neighbours, weights and co-activations of node ``i``."""
        lo, hi = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.nbr[lo:hi], self.weight[lo:hi], self.co[lo:hi]

    def gather(self, rows: IntArray) -> tuple[IntArray, IntArray]:
        """Entry positions of every row in ``rows`` and, per entry, its position in ``rows``."""
        return gather(self.indptr, rows)

    def matrix(self) -> sp.csr_matrix:
        """The weighted adjacency as a ``scipy.sparse.csr_matrix`` (cached)."""
        if self._matrix is None:
            import scipy.sparse as sp  # type: ignore[import-untyped]

            self._matrix = sp.csr_matrix(
                (self.weight, self.nbr, self.indptr), shape=(self.n, self.n)
            )
        return self._matrix


BM25_K1 = 1.5
"""BM25 term-frequency saturation (Lucene variant, as ``bm25s`` uses it)."""

BM25_B = 0.75
"""BM25 document-length normalisation."""

_SHIFT = np.int64(32)
_LOW = np.int64((1 << 32) - 1)
_KERNEL_LOADED_MIN = 1 << 16
"""Pairs or token entries from which the index uses its Numba kernels (Numba loaded)."""

_KERNEL_COLD_MIN = 1 << 23
"""... and from which it starts Numba for them: importing it and loading a cached kernel
cost 0.4-0.5 s, and on 2.4 million entries (a store of 50,000 notes) the kernels saved 0.07
s (label counts) and 0.12 s (postings) over NumPy, so a one-off query paid about 0.5 s for
them below some 8 million (it was 1 << 20 until the forty-second session)."""

_MIN_DELTA = 1 << 15
"""Token entries indexed since the last postings build that queries scan directly; beyond
this (and beyond an eighth of the built postings) the postings are built again."""


def bm25_term_scores(
    tf: FloatArray, doc_len: FloatArray, df: int, n_docs: int, avg_len: float
) -> FloatArray:
    """One term's Lucene BM25 contribution to each document holding it.

    ``ln(1 + (N - df + 0.5) / (df + 0.5)) * tf / (tf + k1 * (1 - b + b * dl / avgdl))`` with
    k1 = 1.5 and b = 0.75: exactly ``bm25s``'s ``method="lucene"`` (whose term-frequency part
    has no ``k1 + 1`` factor), in float64.

    Args:
        tf: the term's count in each document.
        doc_len: those documents' token counts.
        df: number of indexed documents holding the term.
        n_docs: number of indexed documents.
        avg_len: mean token count of the indexed documents.

    Example:
        >>> s = bm25_term_scores(np.array([1.0, 2.0]), np.array([4.0, 4.0]), 2, 3, 4.0)
        >>> np.round(s, 4).tolist()
        [0.188, 0.2686]
    """
    idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    norm = BM25_K1 * (1.0 - BM25_B + BM25_B * doc_len / avg_len)
    out: FloatArray = idf * tf / (tf + norm)
    return out


_MIN_RECENT_PAIRS = 1 << 12
"""Provenance pairs kept apart from the rest (sorted on their own) until merged."""


def _contains(sorted_keys: IntArray, keys: IntArray) -> npt.NDArray[np.bool_]:
    """Which ``keys`` are in the ascending array ``sorted_keys``."""
    if not len(sorted_keys) or not len(keys):
        return np.zeros(len(keys), dtype=np.bool_)
    j = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    out: npt.NDArray[np.bool_] = sorted_keys[j] == keys
    return out


def _find_in_rows(
    indptr: IntArray, values: Int32Array, rows: IntArray, wanted: IntArray
) -> IntArray:
    """Position of each ``wanted[i]`` in CSR row ``rows[i]`` (whose values ascend), or -1.

    One search for all of them: the entries of the rows asked about, keyed by (row, value),
    form one ascending array.

    Example:
        >>> values = np.array([1, 4, 9, 2, 3], dtype=np.int32)
        >>> indptr = np.array([0, 3, 5])
        >>> _find_in_rows(indptr, values, np.array([0, 0, 1, 1]), np.array([9, 5, 3, -1]))
        array([ 2, -1,  4, -1])
    """
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    if bool((rows[1:] >= rows[:-1]).all()):  # (ascending, as the index asks: no sort)
        starts = np.r_[True, rows[1:] != rows[:-1]]
        distinct, which = rows[starts], np.cumsum(starts, dtype=np.int64) - 1
    else:
        distinct, which = np.unique(rows, return_inverse=True)
    pos, owner = gather(indptr, distinct)
    width = int(values[pos].max()) + 1 if len(pos) else 1
    keys = owner * width + values[pos]
    asked = which.astype(np.int64) * width + wanted
    j = np.minimum(np.searchsorted(keys, asked), max(len(keys) - 1, 0))
    valid = (wanted >= 0) & (wanted < width)
    found = valid & (keys[j] == asked) if len(keys) else valid & False
    out: IntArray = np.where(found, pos[j] if len(pos) else 0, -1)
    return out


class DocumentIndex:
    """BM25 index over digested documents (their titles' and contents' tokens) and their
    document × concept term counts.

    An immutable snapshot: :func:`query_index` keeps the data it is made from between
    snapshots and extends it as documents are digested (see :class:`_DocStore`).
    :meth:`build` makes one from scratch.

    Rows are the indexed documents (those with provenance and present in the source) in
    ascending id order, so ties broken by row are broken by document id.

    Attributes:
        doc_ids: ids of the indexed documents, ascending.
        n_docs: number of indexed documents.
        concept_df: number of indexed documents each node was presented from.
        titles: their titles (built on first use).
        doc_len: token count of each document (built on first use).
        doc_concepts: CSR matrix (documents × nodes): count of the concept's label in the
            document's tokens (at least 1), for every (node, document) provenance pair
            (built on first use; :meth:`row_concepts` reads a few rows without it).
        idf: smoothed inverse document frequency of every node, ``ln(1 + N / max(df, 1))``.

    Example:
        >>> from phago.query.base import example_source
        >>> src = example_source()
        >>> di = DocumentIndex.build(src, src.graph)
        >>> di.n_docs, di.titles
        (4, ['Cells', 'Qubits', 'Genes', 'Membranes'])
        >>> np.round(di.scores(["qubit"]), 3).tolist()
        [0.0, 0.518, 0.0, 0.0]
    """

    __slots__ = (
        "_avg_len",
        "_by_id",
        "_delta_cnt",
        "_delta_col",
        "_delta_start",
        "_doc_concepts",
        "_doc_len",
        "_idf",
        "_n_nodes",
        "_n_terms",
        "_order",
        "_pairs",
        "_post_ptr",
        "_post_slot",
        "_post_tf",
        "_slot_len",
        "_slot_titles",
        "_titles",
        "_tok_ptr",
        "_vocab",
        "concept_df",
        "doc_ids",
        "n_docs",
    )

    def __init__(self, store: _DocStore) -> None:
        nnz = store.tok_col.size
        self.doc_ids: npt.NDArray[np.uint64] = store.sorted_ids
        self.n_docs: int = len(store.sorted_ids)
        self.concept_df: FloatArray = store.concept_df
        self._order: IntArray = store.order
        self._slot_titles = store.slot_titles
        self._by_id = store.by_id
        self._slot_len: FloatArray = store.slot_len.view()
        self._avg_len = store.total_len / self.n_docs if self.n_docs else 0.0
        self._vocab = store.vocab
        self._n_terms = len(store.vocab)
        self._post_ptr, self._post_slot, self._post_tf = store.postings
        done = store.post_entries
        self._delta_start = done
        self._delta_col: Int32Array = store.tok_col.data[done:nnz]
        self._delta_cnt: Int32Array = store.tok_cnt.data[done:nnz]
        self._tok_ptr: IntArray = store.tok_ptr.view()
        self._pairs = store.pairs
        self._n_nodes = store.n_nodes
        self._titles: list[str] | None = None
        self._doc_len: FloatArray | None = None
        self._idf: FloatArray | None = None
        self._doc_concepts: sp.csr_matrix | None = None

    @classmethod
    def build(cls, source: GraphSource, graph: HebbianGraph) -> DocumentIndex:
        """Index the documents that have provenance in ``graph``, from scratch.

        Example:
            >>> from phago.query.base import example_source
            >>> src = example_source()
            >>> DocumentIndex.build(src, src.graph).doc_len.tolist()  # (titles included)
            [6.0, 4.0, 5.0, 4.0]
        """
        return _DocStore().refresh(source, graph)

    @property
    def titles(self) -> list[str]:
        """Titles of the indexed documents, by row."""
        if self._titles is None:
            self._titles = list(map(self._slot_titles.__getitem__, self._order.tolist()))
        return self._titles

    def title(self, row: int) -> str:
        """Title of the document at ``row``."""
        return self._slot_titles[int(self._order[row])]

    def document(self, row: int) -> Document | None:
        """The document at ``row`` (None if its source no longer holds it).

        Example:
            >>> from phago.query.base import example_source
            >>> src = example_source()
            >>> DocumentIndex.build(src, src.graph).document(1).content
            'qubit spin entanglement'
        """
        return self._by_id.get(int(self.doc_ids[row]))

    @property
    def doc_len(self) -> FloatArray:
        """Token count of each indexed document, by row."""
        if self._doc_len is None:
            self._doc_len = self._slot_len[self._order]
        return self._doc_len

    @property
    def idf(self) -> FloatArray:
        """Smoothed inverse document frequency of every node, ``ln(1 + N / max(df, 1))``."""
        if self._idf is None:
            self._idf = np.log1p(max(self.n_docs, 1) / np.maximum(self.concept_df, 1.0))
        return self._idf

    @property
    def doc_concepts(self) -> sp.csr_matrix:
        """CSR matrix (documents × nodes) of the concepts' label counts in the documents."""
        if self._doc_concepts is None:
            import scipy.sparse as sp  # type: ignore[import-untyped]

            rank = np.empty(self.n_docs, dtype=np.int64)
            rank[self._order] = np.arange(self.n_docs, dtype=np.int64)
            keys = np.concatenate([k for k, _ in self._pairs])
            vals = np.concatenate([v for _, v in self._pairs]).astype(np.float64)
            rows = rank[keys >> _SHIFT]
            mat = sp.csr_matrix((vals, (rows, keys & _LOW)), shape=(self.n_docs, self._n_nodes))
            mat.sum_duplicates()
            self._doc_concepts = mat
        return self._doc_concepts

    def row_concepts(self, rows: IntArray) -> tuple[IntArray, IntArray, FloatArray]:
        """The concept entries of ``rows``: per entry its position in ``rows``, its node and
        its value (as ``doc_concepts[rows].tocoo()``: row by row, nodes ascending).

        Example:
            >>> from phago.query.base import example_source
            >>> src = example_source()
            >>> di = DocumentIndex.build(src, src.graph)
            >>> owner, nodes, vals = di.row_concepts(np.array([0, 1]))
            >>> owner.tolist(), vals.tolist()
            ([0, 0, 0, 0, 1, 1, 1], [2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
            >>> [src.graph.label_at(i) for i in nodes[owner == 1].tolist()]
            ['qubit', 'spin', 'entanglement']
        """
        slots = self._order[np.asarray(rows, dtype=np.int64)]
        owners, keys, vals = [], [], []
        for pair_key, pair_val in self._pairs:
            lo = np.searchsorted(pair_key, slots << _SHIFT)
            hi = np.searchsorted(pair_key, (slots + 1) << _SHIFT)
            indptr = np.zeros(len(slots) + 1, dtype=np.int64)
            np.cumsum(hi - lo, out=indptr[1:])
            pos, owner = gather(indptr, np.arange(len(slots), dtype=np.int64))
            pos = pos - indptr[owner] + lo[owner]
            owners.append(owner)
            keys.append(pair_key[pos])
            vals.append(pair_val[pos])
        owner, key, val = np.concatenate(owners), np.concatenate(keys), np.concatenate(vals)
        if len(keys[1]):  # recent pairs: back into row order, nodes ascending
            order = np.lexsort((key, owner))
            owner, key, val = owner[order], key[order], val[order]
        return owner, key & _LOW, val.astype(np.float64)

    def _postings(self, col: int) -> tuple[IntArray, FloatArray]:
        """Slots and counts of the documents holding vocabulary term ``col``."""
        ptr = self._post_ptr
        if col + 1 < len(ptr):
            lo, hi = int(ptr[col]), int(ptr[col + 1])
            slots = self._post_slot[lo:hi].astype(np.int64)
            tf = self._post_tf[lo:hi].astype(np.float64)
        else:
            slots, tf = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        if len(self._delta_col):
            hit = np.flatnonzero(self._delta_col == col)
            if len(hit):
                at = np.searchsorted(self._tok_ptr, hit + self._delta_start, side="right") - 1
                slots = np.concatenate([slots, at])
                tf = np.concatenate([tf, self._delta_cnt[hit].astype(np.float64)])
        return slots, tf

    def scores(self, terms: list[str]) -> FloatArray:
        """BM25 score of every indexed document (by row) for the query ``terms``.

        Lucene BM25 (:func:`bm25_term_scores`) summed over the terms, a repeated term
        counting again (once per distinct term, times its count: a query of a word a
        million times costs what the word once does); terms no indexed document holds add
        nothing.
        """
        n = self.n_docs
        out = np.zeros(n, dtype=np.float64)
        if not n or not terms or self._avg_len <= 0.0:
            return out
        for term, times in Counter(terms).items():  # (first-seen order)
            col = self._vocab.get(term)
            if col is None or col >= self._n_terms:  # a term of a later snapshot
                continue
            slots, tf = self._postings(col)
            part = bm25_term_scores(tf, self._slot_len[slots], len(slots), n, self._avg_len)
            out[slots] += part if times == 1 else part * times
        return out[self._order]


class _DocStore:
    """What the document index keeps between snapshots (one per graph, used under its lock).

    Documents are indexed in *slots*, in the order they are first seen with provenance:
    their tokens as a growing doc × term count matrix (CSR by slot, columns from one growing
    vocabulary), their lengths and titles. BM25 postings (term × slot, CSC) are built over the
    slots indexed so far and, between builds, queries scan the token entries added since.
    The (slot, node) provenance pairs are kept as sorted keys with their label counts.

    Tokens are the title's, then the content's (:func:`phago.text.tokenize` of both).

    A refresh reads only what changed: provenance pairs past the last length seen, nodes past
    the last count seen, documents past the last list seen. It starts again from scratch when
    what it indexed may have changed: fewer nodes or pairs than before, a different node at
    the last index seen, the provenance pairs seen rewritten, an indexed document no longer in
    the source, or a document that had provenance without being in the source appearing.
    Documents never change under an id (ids hash the title and content).

    The source's documents are read when the graph's nodes or provenance changed, or when the
    source is another object than last time or one that cannot be referenced weakly (a
    :class:`~phago.query.base.StaticSource`: read every time). A colony's documents change
    only with its graph: a forgotten document leaves with a restored colony and graph, and
    a stored document joins the index when its digestion adds provenance.
    """

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget everything (the next refresh indexes from scratch)."""
        self.terms = Vocabulary()
        self.vocab: dict[str, int] = self.terms.ids
        self.slot_len = _Column(np.float64)
        self.slot_titles: list[str] = []
        self.total_len = 0.0
        # doc × term counts, CSR by slot (terms ascending within a slot)
        self.tok_ptr = _Column(np.int64)
        self.tok_ptr.extend([0])
        self.tok_col = _Column(np.int32)
        self.tok_cnt = _Column(np.int32)
        self.sorted_ids = np.zeros(0, dtype=np.uint64)
        self.order = np.zeros(0, dtype=np.int64)  # row -> slot
        # term × slot counts, CSC (indptr, slots, counts) over the first post_entries entries
        self.postings: tuple[IntArray, Int32Array, Int32Array] = (
            np.zeros(1, dtype=np.int64),
            np.zeros(0, dtype=np.int32),
            np.zeros(0, dtype=np.int32),
        )
        self.post_entries = 0  # token entries the postings cover
        self.docs_seen: list[Document] = []
        self.by_id: dict[int, Document] = {}
        self.source_ref: weakref.ref[GraphSource] | None = None
        self._clear_graph()

    def rebase(self) -> None:
        """Keep the documents' tokens and forget what depends on the graph (node indices,
        provenance pairs), for another graph of the same source: the next refresh reads
        every provenance pair again but tokenises only documents not indexed yet, and starts
        from scratch if an indexed document has no provenance in that graph."""
        self._clear_graph()
        self.check_indexed = True

    def _clear_graph(self) -> None:
        # (slot << 32 | node, label count) pairs, ascending: most in the first part, the
        # latest in the second (merged into the first when it grows past an eighth of it)
        no_pairs = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32))
        self.pairs: tuple[tuple[IntArray, Int32Array], ...] = (no_pairs, no_pairs)
        self.concept_df = np.zeros(0, dtype=np.float64)
        self.node_col = _Column(np.int64)  # node -> vocabulary term of its label, or -1
        self.node_ids = _Column(np.uint64)
        self.n_nodes = 0
        self.n_prov = 0
        self.prov: tuple[IntArray, npt.NDArray[np.uint64]] | None = None
        self.last_node_id: int | None = None
        self.pending: set[int] = set()
        self.snapshot: DocumentIndex | None = None
        self.check_indexed = False  # (after rebase: every indexed document has provenance?)

    # ---------------------------------------------------------------- checks

    def _graph_unchanged(
        self, graph: HebbianGraph, nodes: IntArray, docs: npt.NDArray[np.uint64]
    ) -> bool:
        """True when the nodes and provenance pairs indexed are still the graph's first."""
        if graph.node_count < self.n_nodes or len(nodes) < self.n_prov:
            return False
        if self.n_nodes and int(graph.id_at(self.n_nodes - 1)) != self.last_node_id:
            return False
        k, m = self.n_prov, self.n_nodes
        if self.prov is None or not (k or m):
            return True
        old_nodes, old_docs = self.prov
        # the graph only appends to its provenance buffers (and nodes): the same buffers hold
        # the same prefix; after other buffers (regrown, or the graph's columns replaced
        # wholesale) the pairs and node ids are compared
        if (
            k
            and nodes.base is not None
            and nodes.base is old_nodes.base
            and docs.base is not None
            and docs.base is old_docs.base
        ):
            return True
        ids = np.array(graph.node_ids()[:m], dtype=np.uint64)
        return bool(
            np.array_equal(nodes[:k], old_nodes)
            and np.array_equal(docs[:k], old_docs)
            and np.array_equal(ids, self.node_ids.view())
        )

    def _same_source(self, source: GraphSource) -> bool:
        ref = self.source_ref
        return ref is not None and ref() is source

    def _sync_documents(self, docs: list[Document]) -> bool:
        """Take the source's current documents; False when a rebuild is needed."""
        seen = self.docs_seen
        k = len(seen)
        if len(docs) >= k and (docs[:k] if len(docs) > k else docs) == seen:
            added = docs[k:]
            if added:
                ids = [int(d.id) for d in added]
                if self.pending and not self.pending.isdisjoint(ids):
                    return False
                self.by_id.update(zip(ids, added, strict=True))
        else:
            by_id = {int(d.id): d for d in docs}
            if self.pending and not self.pending.isdisjoint(by_id):
                return False
            if len(self.sorted_ids):
                have = np.fromiter(by_id, dtype=np.uint64, count=len(by_id))
                if not bool(np.isin(self.sorted_ids, have).all()):
                    return False
                # an id given by hand names other text after its document was forgotten
                old = self.by_id
                for i in self.sorted_ids.tolist():
                    was, now = old.get(i), by_id[i]
                    if was is now or was is None:  # (the same document object: unchanged)
                        continue
                    if was.content != now.content or was.title != now.title:
                        return False
            self.by_id = by_id
        self.docs_seen = docs
        return True

    # ---------------------------------------------------------------- refresh

    def refresh(self, source: GraphSource, graph: HebbianGraph) -> DocumentIndex:
        """The index over ``source``'s documents with provenance in ``graph``, up to date."""
        nodes, pdocs = graph.provenance_arrays()
        n = graph.node_count
        if not self._graph_unchanged(graph, nodes, pdocs):
            self.clear()
        unchanged = n == self.n_nodes and len(nodes) == self.n_prov
        if self.snapshot is not None and unchanged and self._same_source(source):
            return self.snapshot
        docs = list(source.documents())
        if not self._sync_documents(docs):
            self.clear()
            self._sync_documents(docs)
        try:
            self.source_ref = weakref.ref(source)
        except TypeError:  # (not weakly referable: its documents are compared every time)
            self.source_ref = None
        if self.snapshot is not None and n == self.n_nodes and len(nodes) == self.n_prov:
            return self.snapshot
        if self.check_indexed:
            self.check_indexed = False
            if len(self.sorted_ids) and not bool(np.isin(self.sorted_ids, pdocs).all()):
                self.clear()
                self._sync_documents(docs)
        if not self.vocab:  # (a first build: start from the counts a store kept, if any)
            saved = getattr(source, "saved_term_counts", None)
            if isinstance(saved, SavedTermCounts):
                self.terms.adopt(saved)
        # a first build makes a list of terms per document: the collector's walks over the
        # caller's heap would cost more than the build (W3, 30,000 documents in a sharded
        # colony: 4.3 s instead of ~1.5)
        with cyclic_gc_paused():
            self._update(graph, nodes, pdocs)
        self.snapshot = DocumentIndex(self)
        return self.snapshot

    def _update(self, graph: HebbianGraph, nodes: IntArray, docs: npt.NDArray[np.uint64]) -> None:
        """Index the provenance pairs past ``n_prov`` and the documents they bring."""
        new_nodes = nodes[self.n_prov :].astype(np.int64)
        new_docs = docs[self.n_prov :]
        # a document's pairs come in runs (presented together): one entry per run to sort
        if len(new_docs) > 1:
            fresh = unique_sorted(new_docs[np.r_[True, new_docs[1:] != new_docs[:-1]]])
        else:
            fresh = new_docs.copy()
        if len(self.sorted_ids) and len(fresh):
            at = np.minimum(np.searchsorted(self.sorted_ids, fresh), len(self.sorted_ids) - 1)
            fresh = fresh[self.sorted_ids[at] != fresh]
        add: list[Document] = []
        for d in fresh.tolist():
            doc = self.by_id.get(d)
            if doc is None:
                self.pending.add(d)  # provenance of a document the source lacks
            else:
                add.append(doc)
        if add:
            self._index_documents(add)
        self._extend_nodes(graph)
        self._add_pairs(graph, new_nodes, new_docs)
        self.n_prov = len(nodes)
        self.prov = (nodes, docs)
        self.n_nodes = graph.node_count
        self.last_node_id = int(graph.id_at(self.n_nodes - 1)) if self.n_nodes else None
        behind = self.tok_col.size - self.post_entries
        if behind > max(_MIN_DELTA, self.post_entries // 8):
            self._build_postings()

    def _index_documents(self, docs: list[Document]) -> None:
        """Tokenise ``docs`` (title, then content) into new slots (extending the vocabulary)
        and place them by id."""
        ids = np.fromiter((int(d.id) for d in docs), dtype=np.uint64, count=len(docs))
        texts = [f"{d.title}\n{d.content}" for d in docs]
        if self.terms.has_saved:
            usable = content_addressed(docs, ids)
            counts = self.terms.count(texts, doc_ids=ids, usable=usable)
        else:
            counts = self.terms.count(texts)
        lens = counts.lens
        first = len(self.slot_titles)
        slots = np.arange(first, first + len(docs), dtype=np.int64)
        self.tok_ptr.extend(counts.ptr[1:] + self.tok_col.size)
        self.tok_col.extend(counts.cols)
        self.tok_cnt.extend(counts.cnts)
        self.slot_len.extend(lens.astype(np.float64))
        self.total_len += float(lens.sum())
        self.slot_titles.extend(d.title for d in docs)
        by_id = np.argsort(ids, kind="stable")
        at = np.searchsorted(self.sorted_ids, ids[by_id])
        self.sorted_ids = np.insert(self.sorted_ids, at, ids[by_id])
        self.order = np.insert(self.order, at, slots[by_id])

    def saved_counts(self) -> SavedTermCounts:
        """The indexed documents' term counts, by document id (what a store keeps)."""
        slots = self.order  # (the slot of each id of sorted_ids)
        out_ptr, pos = csr_take(self.tok_ptr.view(), slots)
        return SavedTermCounts(
            list(self.vocab),
            self.sorted_ids.copy(),
            out_ptr,
            self.tok_col.view()[pos].astype(np.int32),
            self.tok_cnt.view()[pos].astype(np.int32),
            self.slot_len.view()[slots].astype(np.int64),
        )

    def _extend_nodes(self, graph: HebbianGraph) -> None:
        """Map the nodes added since the last refresh to their label's vocabulary term."""
        n0, n = self.node_col.size, graph.node_count
        if n > n0:
            labels = graph.labels_of(range(n0, n))
            get = self.vocab.get
            self.node_col.extend(
                np.fromiter(map(get, labels, repeat(-1)), dtype=np.int64, count=len(labels))
            )
            self.node_ids.extend(np.array(graph.ids_at(range(n0, n)), dtype=np.uint64))

    def _add_pairs(
        self, graph: HebbianGraph, nodes: IntArray, docs: npt.NDArray[np.uint64]
    ) -> None:
        """Add the (slot, node) pairs of new provenance of indexed documents, with counts."""
        n = graph.node_count
        df = self.concept_df
        if len(df) < n:
            df = np.concatenate([df, np.zeros(n - len(df), dtype=np.float64)])
        nd = len(self.sorted_ids)
        if nd and len(nodes):
            at = np.minimum(np.searchsorted(self.sorted_ids, docs), nd - 1)
            ok = self.sorted_ids[at] == docs
            keys = unique_sorted((self.order[at[ok]] << _SHIFT) | nodes[ok])
            (main_key, main_val), (recent_key, recent_val) = self.pairs
            keys = keys[~_contains(main_key, keys) & ~_contains(recent_key, keys)]
            if len(keys):
                slot, node = keys >> _SHIFT, keys & _LOW
                vals = self._label_counts(graph, slot, node)
                if len(recent_key):
                    at_key = np.searchsorted(recent_key, keys)
                    recent_key = np.insert(recent_key, at_key, keys)
                    recent_val = np.insert(recent_val, at_key, vals)
                else:  # (keys are sorted)
                    recent_key, recent_val = keys, vals
                if len(recent_key) > max(_MIN_RECENT_PAIRS, len(main_key) // 8):
                    if len(main_key):
                        all_key = np.concatenate([main_key, recent_key])
                        order = np.argsort(all_key, kind="stable")  # (two sorted runs)
                        main_key = all_key[order]
                        main_val = np.concatenate([main_val, recent_val])[order]
                    else:  # (a first build: nothing to merge with)
                        main_key, main_val = recent_key, recent_val
                    recent_key, recent_val = recent_key[:0], recent_val[:0]
                self.pairs = ((main_key, main_val), (recent_key, recent_val))
                df = df + np.bincount(node, minlength=n)
        self.concept_df = df

    def _label_counts(self, graph: HebbianGraph, slot: IntArray, node: IntArray) -> Int32Array:
        """Count of each node's label among its slot's tokens, at least 1."""
        node_col = self.node_col.data
        col = node_col[node]
        unmapped = np.flatnonzero(col < 0)
        if len(unmapped):  # labels that were no term when the node was mapped may be now
            get = self.vocab.get
            for i in unique_sorted(node[unmapped]).tolist():
                node_col[i] = get(graph.label_at(i), -1)
            col = node_col[node]
        ptr = self.tok_ptr.data
        if kernel_pays(len(slot), loaded_min=_KERNEL_LOADED_MIN, cold_min=_KERNEL_COLD_MIN):
            from phago._index_kernels import find_in_rows

            at = find_in_rows(ptr, self.tok_col.data, slot.astype(np.int64), col)
        else:
            at = _find_in_rows(ptr, self.tok_col.data, slot, col)
        cnt = self.tok_cnt.data
        counts = np.where(at >= 0, cnt[np.maximum(at, 0)] if len(cnt) else 0, 0)
        out: Int32Array = np.maximum(counts, 1).astype(np.int32)
        return out

    def _build_postings(self) -> None:
        """Build the term × slot postings over every token entry."""
        nnz, slots = self.tok_col.size, len(self.slot_titles)
        if kernel_pays(nnz, loaded_min=_KERNEL_LOADED_MIN, cold_min=_KERNEL_COLD_MIN):
            from phago._index_kernels import postings

            ptr = self.tok_ptr.view()
            self.postings = postings(ptr, self.tok_col.view(), self.tok_cnt.view(), len(self.vocab))
            self.post_entries = nnz
            return
        col = self.tok_col.view()
        slot_of = np.repeat(np.arange(slots, dtype=np.int32), np.diff(self.tok_ptr.view()))
        by_term = np.argsort(col, kind="stable")  # term by term, slots ascending
        indptr = np.zeros(len(self.vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(col, minlength=len(self.vocab)), out=indptr[1:])
        self.postings = (
            indptr,
            slot_of[by_term],
            self.tok_cnt.view()[by_term].astype(np.int32),
        )
        self.post_entries = nnz


class _Cache:
    """The cached parts of one graph's index (held in a weak dictionary keyed by the graph)."""

    __slots__ = (
        "__weakref__",
        "adj",
        "adj_key",
        "docs",
        "inherited",
        "labels",
        "lock",
        "pres",
        "pres_key",
        "version",
    )

    def __init__(self) -> None:
        self.labels = LabelIndex()
        self.lock = threading.RLock()
        self.adj: Adjacency | None = None
        self.adj_key: tuple[int, ...] | None = None
        self.docs = _DocStore()
        self.pres: IntArray | None = None
        self.pres_key: tuple[int, ...] | None = None
        self.version = 0
        # the label index of the graph this one's source was queried through before, and
        # that cache's lock: carried over on first use (see :meth:`carry_over`)
        self.inherited: tuple[LabelIndex, threading.RLock] | None = None

    def carry_over(self, prev: _Cache) -> None:
        """Start from ``prev``, the cache of the graph the same source was queried through
        before: take its document store (rebased) and, for the first use of the labels, its
        label index (``prev`` keeps its labels and gets an empty document store)."""
        with prev.lock:
            store, prev.docs = prev.docs, _DocStore()
            inherited = prev.inherited
            if inherited is None and prev.labels.nodes_seen:
                inherited = (prev.labels, prev.lock)
        store.rebase()
        self.docs = store
        self.inherited = inherited

    def labels_for(self, graph: HebbianGraph) -> LabelIndex:
        """The label index, carried over or extended to ``graph`` (under :attr:`lock`)."""
        inherited, self.inherited = self.inherited, None
        if inherited is not None and not self.labels.nodes_seen:
            old, old_lock = inherited
            with old_lock:
                carried = old.remapped(graph)
            if carried is not None:
                self.labels = carried
        self.labels.extend(graph)
        return self.labels


class QueryIndex:
    """A view of one graph's cached indexes at the source's current tick.

    Get it with :func:`query_index`; the parts are built or refreshed on first use.
    """

    __slots__ = ("_cache", "graph", "tick")

    def __init__(self, graph: HebbianGraph, cache: _Cache, tick: int) -> None:
        self.graph = graph
        self._cache = cache
        self.tick = tick

    @property
    def version(self) -> int:
        """Bumped by :func:`invalidate` (in-place weight changes)."""
        return self._cache.version

    def labels(self) -> LabelIndex:
        """The label inverted index, up to date."""
        c = self._cache
        if c.labels.nodes_seen != self.graph.node_count or c.inherited is not None:
            with c.lock:
                return c.labels_for(self.graph)
        return c.labels

    def adjacency(self) -> Adjacency:
        """The CSR adjacency, up to date."""
        g, c = self.graph, self._cache
        key = (g.node_count, g.edge_count, self.tick, c.version)
        adj = c.adj
        if adj is None or key != c.adj_key:
            with c.lock:
                if c.adj is None or key != c.adj_key:
                    c.adj = Adjacency.build(g)
                    c.adj_key = key
                adj = c.adj
        return adj

    def presentations(self) -> IntArray | None:
        """How many times each node was presented from a document (its provenance count).

        None when the graph records no provenance at all (e.g. a hand-built graph).
        """
        g, c = self.graph, self._cache
        nodes, _ = g.provenance_arrays()
        if len(nodes) == 0:
            return None
        key = (g.node_count, len(nodes))
        pres = c.pres
        if pres is None or key != c.pres_key:
            with c.lock:
                pres = np.bincount(nodes, minlength=g.node_count).astype(np.int64)
                c.pres, c.pres_key = pres, key
        return pres

    def documents(self, source: GraphSource) -> DocumentIndex:
        """The document index over ``source``'s documents, up to date.

        After digestion it is extended with the new documents and provenance pairs only.
        """
        c = self._cache
        with c.lock:
            return c.docs.refresh(source, self.graph)


_CACHES: weakref.WeakKeyDictionary[HebbianGraph, _Cache] = weakref.WeakKeyDictionary()

_LAST: weakref.WeakKeyDictionary[Any, _Cache] = weakref.WeakKeyDictionary()
"""The cache each source was last queried through (sources that can be referenced weakly)."""

_NEW_CACHE = threading.Lock()


def query_index(source: GraphSource) -> QueryIndex:
    """The cached indexes of ``source.graph``, viewed at ``source``'s current tick.

    The first query through a graph the index has not seen starts from the caches of the
    graph ``source`` was queried through last, if any (a distributed colony's merged graph
    after a change; see the module docstring).

    Example:
        >>> from phago.query.base import example_source
        >>> src = example_source()
        >>> query_index(src).adjacency() is query_index(src).adjacency()
        True
    """
    g = source.graph
    cache = _CACHES.get(g)
    if cache is None:
        with _NEW_CACHE:
            cache = _CACHES.get(g)
            if cache is None:
                cache = _Cache()
                prev = _last_cache(source)
                if prev is not None:
                    cache.carry_over(prev)
                _CACHES[g] = cache
    _remember(source, cache)
    return QueryIndex(g, cache, source_tick(source))


def _last_cache(source: GraphSource) -> _Cache | None:
    try:
        return _LAST.get(source)
    except TypeError:  # (cannot be referenced weakly, or not hashable)
        return None


def _remember(source: GraphSource, cache: _Cache) -> None:
    try:
        if _LAST.get(source) is not cache:
            with _NEW_CACHE:
                _LAST[source] = cache
    except TypeError:
        pass


def term_counts_to_save(source: GraphSource) -> SavedTermCounts:
    """The term counts of ``source``'s documents for a store to keep: taken from its graph's
    document index where one was built, else from those ``source`` was loaded with
    (``source.saved_term_counts``), and counted for the documents neither holds.

    Example:
        >>> from phago.query.base import example_source
        >>> src = example_source()
        >>> saved = term_counts_to_save(src)
        >>> len(saved.doc_ids) == len(src.documents()), saved.terms[:3]
        (True, ['cells', 'cell', 'membrane'])
    """
    base = getattr(source, "saved_term_counts", None)
    base = base if isinstance(base, SavedTermCounts) else None
    cache = _CACHES.get(source.graph)
    if cache is not None:
        with cache.lock:
            store = cache.docs
            if store.snapshot is not None:
                store.refresh(source, source.graph)
                base = store.saved_counts()
    return saved_counts_for(base, list(source.documents()))


def invalidate(graph: HebbianGraph) -> None:
    """Mark the edge view of ``graph`` stale (after changing weights in place).

    Example:
        >>> from phago.query.base import example_source
        >>> src = example_source()
        >>> v = query_index(src).version
        >>> invalidate(src.graph); query_index(src).version == v + 1
        True
    """
    cache = _CACHES.get(graph)
    if cache is not None:
        cache.version += 1
