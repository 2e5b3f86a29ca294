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
  sorted by id, a BM25 index over their tokens (``bm25s``) and a sparse document × concept
  matrix of term counts built from the graph's provenance; keyed on the provenance length
  and the source object.

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

import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp  # type: ignore[import-untyped]

from phago._arrays import unique_sorted
from phago.graph import HebbianGraph
from phago.query.base import CONCEPT_CODE, GraphSource, source_tick
from phago.text import label_terms, tokenize

__all__ = [
    "DEFAULT_FANOUT",
    "Adjacency",
    "DocumentIndex",
    "LabelIndex",
    "QueryIndex",
    "gather",
    "invalidate",
    "query_index",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(slots=True)
class LabelIndex:
    """Inverted index over concept label terms.

    Attributes:
        postings: term -> (concept indices, term count in the label), ascending indices.
        concepts: number of concept nodes indexed (the TF-IDF collection size).
        nodes_seen: graph node count this index covers.
    """

    postings: dict[str, tuple[list[int], list[int]]] = field(default_factory=dict)
    concepts: int = 0
    nodes_seen: int = 0

    def extend(self, graph: HebbianGraph) -> None:
        """Index the nodes added since the last call."""
        n = graph.node_count
        if n <= self.nodes_seen:
            return
        codes = graph.type_codes()
        for i in range(self.nodes_seen, n):
            if codes[i] != CONCEPT_CODE:
                continue
            self.concepts += 1
            for term, count in Counter(label_terms(graph.label_at(i))).items():
                entry = self.postings.get(term)
                if entry is None:
                    self.postings[term] = ([i], [count])
                else:
                    entry[0].append(i)
                    entry[1].append(count)
        self.nodes_seen = n

    def df(self, term: str) -> int:
        """Number of concept nodes whose label contains ``term``."""
        entry = self.postings.get(term)
        return 0 if entry is None else len(entry[0])


DEFAULT_FANOUT = 64
"""Edges followed per node by activation and graph walks (each node's strongest)."""


def gather(indptr: IntArray, rows: IntArray) -> tuple[IntArray, IntArray]:
    """Entry positions of every CSR row in ``rows`` and, per entry, its position in ``rows``.

    Example:
        >>> pos, owner = gather(np.array([0, 2, 3, 5]), np.array([2, 0]))
        >>> pos.tolist(), owner.tolist()
        ([3, 4, 0, 1], [0, 0, 1, 1])
    """
    starts = indptr[rows]
    lens = indptr[rows + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), lens)
    offsets = np.cumsum(lens) - lens
    pos = np.arange(total, dtype=np.int64) - np.repeat(offsets, lens) + np.repeat(starts, lens)
    return pos, owner


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
            self._matrix = sp.csr_matrix(
                (self.weight, self.nbr, self.indptr), shape=(self.n, self.n)
            )
        return self._matrix


@dataclass(slots=True)
class DocumentIndex:
    """BM25 index over digested documents and their document × concept term counts.

    Attributes:
        doc_ids: ids of the indexed documents (those with provenance), ascending.
        titles: their titles.
        retriever: a ``bm25s.BM25`` index over their tokens (None when there are none).
        doc_concepts: CSR matrix (documents × nodes): count of the concept's label in the
            document's tokens, for every (node, document) provenance pair.
        doc_len: token count of each document.
        concept_df: number of indexed documents each node was presented from.
        n_docs: number of indexed documents.
        idf: smoothed inverse document frequency of every node, ``ln(1 + N / max(df, 1))``.
    """

    doc_ids: npt.NDArray[np.uint64]
    titles: list[str]
    retriever: object | None
    doc_concepts: sp.csr_matrix
    doc_len: FloatArray
    concept_df: FloatArray
    n_docs: int
    idf: FloatArray

    @classmethod
    def build(cls, source: GraphSource, graph: HebbianGraph) -> DocumentIndex:
        """Index the documents that have provenance in ``graph``."""
        import bm25s

        n = graph.node_count
        nodes, docs = graph.provenance_arrays()
        doc_ids = unique_sorted(docs)
        content = {int(d.id): (d.title, d.content) for d in source.documents()}
        doc_ids = np.array([d for d in doc_ids.tolist() if d in content], dtype=np.uint64)
        nd = len(doc_ids)
        titles = [content[int(d)][0] for d in doc_ids.tolist()]
        tokens = [tokenize(content[int(d)][1]) for d in doc_ids.tolist()]
        retriever: object | None = None
        if nd:
            bm = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
            bm.index(tokens, show_progress=False)
            retriever = bm
        # (node, document) provenance pairs -> term counts of the label in the document
        if nd:
            row_of = np.minimum(np.searchsorted(doc_ids, docs), nd - 1)
            valid = doc_ids[row_of] == docs
            width = max(n, 1)
            keys = row_of[valid].astype(np.int64) * width + nodes[valid].astype(np.int64)
            pair = unique_sorted(keys)
            rows, cols = pair // width, pair % width
        else:
            rows = cols = np.zeros(0, dtype=np.int64)
        counts = [Counter(t) for t in tokens]
        labels = [graph.label_at(c) for c in range(n)]
        vals = np.fromiter(
            (
                max(counts[r].get(labels[c], 0), 1)
                for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
            ),
            dtype=np.float64,
            count=len(rows),
        )
        mat = sp.csr_matrix((vals, (rows, cols)), shape=(nd, n))
        mat.sum_duplicates()
        concept_df = np.bincount(cols, minlength=n).astype(np.float64)
        doc_len = np.array([len(t) for t in tokens], dtype=np.float64)
        idf = np.log1p(max(nd, 1) / np.maximum(concept_df, 1.0))
        return cls(doc_ids, titles, retriever, mat, doc_len, concept_df, nd, idf)

    def scores(self, terms: list[str]) -> FloatArray:
        """BM25 score of every indexed document for the query ``terms``."""
        if self.retriever is None or not terms:
            return np.zeros(self.n_docs, dtype=np.float64)
        bm = self.retriever
        ids = bm.get_tokens_ids(terms)  # type: ignore[attr-defined]
        if not ids:
            return np.zeros(self.n_docs, dtype=np.float64)
        return np.asarray(bm.get_scores(ids), dtype=np.float64)  # type: ignore[attr-defined]


class _Cache:
    """The cached parts of one graph's index (held in a weak dictionary keyed by the graph)."""

    __slots__ = (
        "__weakref__",
        "adj",
        "adj_key",
        "docs",
        "docs_key",
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
        self.docs: DocumentIndex | None = None
        self.docs_key: tuple[int, ...] | None = None
        self.pres: IntArray | None = None
        self.pres_key: tuple[int, ...] | None = None
        self.version = 0


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
        if c.labels.nodes_seen != self.graph.node_count:
            with c.lock:
                c.labels.extend(self.graph)
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
        """The document index over ``source``'s documents, up to date."""
        g, c = self.graph, self._cache
        nodes, _ = g.provenance_arrays()
        # documents never change under an id; new digestion grows the provenance
        key = (g.node_count, len(nodes), id(source))
        docs = c.docs
        if docs is None or key != c.docs_key:
            with c.lock:
                if c.docs is None or key != c.docs_key:
                    c.docs = DocumentIndex.build(source, g)
                    c.docs_key = key
                docs = c.docs
        return docs


_CACHES: weakref.WeakKeyDictionary[HebbianGraph, _Cache] = weakref.WeakKeyDictionary()


def query_index(source: GraphSource) -> QueryIndex:
    """The cached indexes of ``source.graph``, viewed at ``source``'s current tick.

    Example:
        >>> from phago.query.base import example_source
        >>> src = example_source()
        >>> query_index(src).adjacency() is query_index(src).adjacency()
        True
    """
    g = source.graph
    cache = _CACHES.get(g)
    if cache is None:
        cache = _Cache()
        _CACHES[g] = cache
    return QueryIndex(g, cache, source_tick(source))


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
