"""Back to the notes: the documents that answer a query, and the documents behind a concept.

Concept retrieval (:func:`phago.query.retrieve`) answers with concepts; an agent that reads
the answer usually wants the notes themselves. Two functions lead there:

* :func:`documents` — the digested documents that best match the query by BM25 (the
  document scores of :func:`phago.query.bm25.document_scores`; a document's title counts as
  its words too), each with a snippet around the query's words: only documents that hold
  a word of the query (score above 0). With ``concepts=c`` each document also names which
  of the query's top ``c`` concepts (by ``method``) it was digested into; with
  ``related=True`` too, when BM25 finds fewer than ``n`` documents, documents of those
  concepts fill the list (with score 0: no word of the query is in them; they are there
  because of the concepts they name). A document stored but not digested yet is not
  searched: the index holds the documents digested into the graph.
* :func:`concept_documents` — the documents a concept was digested from (its provenance),
  the best match for a query first.

Both give :class:`RetrievedDocument`: id, title, BM25 score, snippet and concepts.

Example:
    >>> from phago.query.base import example_source
    >>> [(d.title, round(d.score, 3)) for d in documents(example_source(), "gene dna")]
    [('Genes', 1.147)]
    >>> documents(example_source(), "gene dna")[0].snippet
    'gene dna protein gene'
    >>> [d.title for d in concept_documents(example_source(), "membrane", text="ribosome")]
    ['Cells', 'Membranes']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from phago._arrays import unique_sorted
from phago.config import whole_number
from phago.errors import ConfigError, InvalidQuery, NodeNotFound
from phago.ids import DocumentId, NodeId
from phago.query.base import CONCEPT_CODE, GraphSource, RetrievedConcept, query_terms
from phago.query.bm25 import top_documents
from phago.query.index import DocumentIndex, query_index
from phago.query.retrieve import resolve_method, retrieve

__all__ = [
    "DEFAULT_SNIPPET",
    "RetrievedDocument",
    "concept_documents",
    "documents",
    "snippet",
]

DEFAULT_SNIPPET = 200
"""Characters of a snippet (about two lines of text)."""

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class RetrievedDocument:
    """A document that answers a query.

    Attributes:
        id: the document's id (``Document.id``; :meth:`phago.colony.Colony.documents`).
        title: its title.
        score: its BM25 score for the query (0.0: none of the query's words is in it).
        snippet: a short passage of its content around the query's words (or the
            concepts'), whitespace collapsed, ``…`` where it was cut.
        concepts: labels of the query's top concepts it was digested into, best first.

    Example:
        >>> d = RetrievedDocument(DocumentId(7), "Cells", 1.25, "the cell …", ("cell",))
        >>> d.to_dict()["id"], d.to_dict()["concepts"]
        ('7', ['cell'])
    """

    id: DocumentId
    title: str
    score: float
    snippet: str
    concepts: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly dict, the id as a string (a 64-bit id loses digits as a JSON
        number in JavaScript; ``phago query --json`` prints it so too)."""
        return {
            "id": str(int(self.id)),
            "title": self.title,
            "score": self.score,
            "snippet": self.snippet,
            "concepts": list(self.concepts),
        }


def snippet(content: str, words: Collection[str], width: int = DEFAULT_SNIPPET) -> str:
    """About ``width`` characters of ``content`` where most of ``words`` occur.

    Words are matched as :func:`phago.text.tokenize` splits text (lowercase letters and
    digits). The passage starts a little before the first word of the densest stretch, at a
    word boundary; whitespace is collapsed, and ``…`` marks a cut. Without any of the words
    in ``content``, its beginning.

    Raises:
        ConfigError: ``width`` is not a whole number >= 0 (0 gives ``""``).

    Example:
        >>> text = "Stars form in nebulae. " * 3 + "Comets are icy bodies that orbit the Sun."
        >>> snippet(text, {"comets", "orbit"}, 50)
        '… in nebulae. Comets are icy bodies that orbit the …'
        >>> snippet(text, {"sun"}, 30)
        '… icy bodies that orbit the Sun.'
        >>> snippet("Short note.", {"absent"})
        'Short note.'
    """
    width = whole_number(width, "width", 0)
    text = unicodedata.normalize("NFC", content)
    if width == 0 or not text.strip():
        return ""
    wanted = {w.lower() for w in words}
    hits = [m.span() for m in _WORD.finditer(text) if m.group().lower() in wanted]
    start = 0
    if hits:
        lead = min(width // 4, 40)
        best, most, end = 0, 0, 0
        for i, (lo, _) in enumerate(hits):  # the window with most hits, by its first hit
            end = max(end, i)
            while end < len(hits) and hits[end][1] <= lo - lead + width:
                end += 1
            if end - i > most:
                best, most = i, end - i
        first = hits[best][0]
        start = max(0, min(first - lead, len(text) - width))  # (a full window at the end)
        if start <= lead:  # (near the beginning: from the beginning)
            start = 0
        if start > 0 and not text[start - 1].isspace():
            space = _SPACE.search(text, start, first)
            start = space.end() if space is not None else first
    end = min(len(text), start + width)
    if end < len(text):
        cut = max(text.rfind(c, start, end + 1) for c in " \n\t")
        if cut > start:
            end = cut
    body = _SPACE.sub(" ", text[start:end]).strip()
    return ("… " if start > 0 else "") + body + (" …" if end < len(text) else "")


def _resolve_concept(source: GraphSource, concept: str | int | RetrievedConcept) -> int | None:
    """The index of ``concept`` (a label, a node id or a retrieved concept), or None."""
    g = source.graph
    if isinstance(concept, RetrievedConcept):
        concept = int(concept.node_id)
    if isinstance(concept, str):
        nid = g.find_by_label(concept)
        return None if nid is None else g.index_of(nid)
    if isinstance(concept, bool) or not isinstance(concept, int | np.integer):
        raise InvalidQuery(
            f"a concept is a label, a node id or a RetrievedConcept, got {concept!r}"
        )
    try:
        i = g.index_of(NodeId(int(concept)))
    except NodeNotFound:
        return None
    return i if g.type_codes()[i] == CONCEPT_CODE else None


def _rows_of(di: DocumentIndex, ids: Sequence[int]) -> npt.NDArray[np.int64]:
    """Rows of the indexed documents among ``ids`` (ascending, each once)."""
    if not di.n_docs or not len(ids):
        return np.zeros(0, dtype=np.int64)
    want = unique_sorted(np.asarray(ids, dtype=np.uint64))
    at = np.minimum(np.searchsorted(di.doc_ids, want), di.n_docs - 1)
    rows: npt.NDArray[np.int64] = at[di.doc_ids[at] == want].astype(np.int64)
    return rows


def _occurrences(
    di: DocumentIndex, rows: npt.NDArray[np.int64], node: int
) -> npt.NDArray[np.float64]:
    """How often the label of ``node`` occurs in each document of ``rows`` (at least 1)."""
    owner, nodes, vals = di.row_concepts(rows)
    out = np.zeros(len(rows), dtype=np.float64)
    hit = nodes == node
    out[owner[hit]] = vals[hit]
    return out


def concept_documents(
    source: GraphSource,
    concept: str | int | RetrievedConcept,
    n: int = 3,
    *,
    text: str | None = None,
    width: int = DEFAULT_SNIPPET,
) -> list[RetrievedDocument]:
    """The documents ``concept`` was digested from (its provenance), best first.

    Ordered by BM25 score for ``text`` (when given), then by how often the concept's
    label occurs in the document, then by id.

    Args:
        source: a colony, distributed colony or any :class:`~phago.query.base.GraphSource`.
        concept: a concept label, a node id or a :class:`~phago.query.base.RetrievedConcept`.
        n: how many documents at most.
        text: the query the concept answers (orders the documents; None: by occurrences).
        width: characters of each snippet (around the label and the query's words).

    Returns:
        Up to ``n`` documents, ``concepts`` the concept's label; none for a label or id that
        is not a concept of the graph.

    Raises:
        ConfigError: ``n`` or ``width`` is not a whole number >= 0.
        InvalidQuery: ``text`` is neither None nor text, or ``concept`` is none of the above.

    Example:
        >>> from phago.query.base import example_source
        >>> [(d.title, d.score) for d in concept_documents(example_source(), "protein", 2)]
        [('Cells', 0.0), ('Genes', 0.0)]
    """
    n = whole_number(n, "n", 0)
    width = whole_number(width, "width", 0)
    terms = [] if text is None else query_terms(text)
    i = _resolve_concept(source, concept)
    if i is None or n == 0:
        return []
    g = source.graph
    di = query_index(source).documents(source)
    rows = _rows_of(di, g.documents_of_index(i))
    if not len(rows):
        return []
    bm25 = di.scores(terms)[rows] if terms else np.zeros(len(rows), dtype=np.float64)
    occurs = _occurrences(di, rows, i)
    pick = np.lexsort((rows, -occurs, -np.round(bm25, 10)))[:n]
    label = g.label_at(i)
    words = [{label, *terms}] * len(pick)
    return _make(di, rows[pick], bm25[pick], words, width, [(label,)] * len(pick))


def _make(
    di: DocumentIndex,
    rows: npt.NDArray[np.int64],
    scores: npt.NDArray[np.float64],
    words: Sequence[Collection[str]],
    width: int,
    concepts: Sequence[tuple[str, ...]],
) -> list[RetrievedDocument]:
    """The documents at ``rows``, each with a snippet around its ``words``."""
    out = []
    for r, s, near, named in zip(rows.tolist(), scores.tolist(), words, concepts, strict=True):
        doc = di.document(r)
        body = "" if doc is None else snippet(doc.content, near, width)
        out.append(RetrievedDocument(DocumentId(int(di.doc_ids[r])), di.title(r), s, body, named))
    return out


def documents(
    source: GraphSource,
    text: str,
    n: int = 5,
    *,
    concepts: int = 0,
    related: bool = False,
    method: str = "best",
    width: int = DEFAULT_SNIPPET,
    only: Collection[int] | None = None,
) -> list[RetrievedDocument]:
    """The documents that answer ``text``: BM25 over the digested documents, with snippets.

    Only digested documents are searched (those the graph holds concepts of): a document
    stored but not digested yet (:meth:`phago.colony.Colony.ingest_document` before the
    colony runs, or ``phago ingest`` whose ``--max-ticks`` ran out) is found once it is
    digested.

    Args:
        source: a colony, distributed colony or any :class:`~phago.query.base.GraphSource`.
        text: the query.
        n: how many documents at most.
        concepts: also retrieve the query's top ``concepts`` concepts by ``method``: each
            document names those it was digested into. 0: BM25 only.
        related: when BM25 finds fewer than ``n`` documents, fill the list with documents
            of the top ``concepts`` concepts that hold none of the query's words (score 0.0;
            most of the top concepts first, then the best ranked concept, then id). False:
            only documents that hold a word of the query (score above 0).
        method: the retrieval method of the concepts (:func:`phago.query.retrieve`).
        width: characters of each snippet (0: none).
        only: the ids of the documents to answer from (such as a store's documents with a
            tag: :func:`phago.store.tagged_documents`); None: every one.

    Returns:
        Up to ``n`` documents, best first: BM25 score descending (ties by id), then (with
        ``related``) the documents found through the concepts only. Empty for a query
        without terms (:func:`phago.query.base.query_terms`: stopwords and words under 3
        letters are not terms).

    Raises:
        ConfigError: ``n``, ``concepts`` or ``width`` not a whole number >= 0, an unknown
            method, ``related`` not True or False, or ``related`` without ``concepts``.
        InvalidQuery: ``text`` is not text.

    Example:
        >>> from phago.query.base import example_source
        >>> hits = documents(example_source(), "ribosome", 2, concepts=5)
        >>> [(d.title, d.score > 0, d.concepts[:2]) for d in hits]
        [('Cells', True, ('ribosome', 'cell'))]
        >>> hits = documents(example_source(), "ribosome", 2, concepts=5, related=True)
        >>> [(d.title, d.score > 0, d.concepts[:2]) for d in hits]
        [('Cells', True, ('ribosome', 'cell')), ('Membranes', False, ('cell', 'membrane'))]
    """
    n = whole_number(n, "n", 0)
    concepts = whole_number(concepts, "concepts", 0)
    width = whole_number(width, "width", 0)
    if not isinstance(related, bool):
        raise ConfigError(f"related must be True or False, got {related!r}")
    if related and not concepts:
        raise ConfigError(
            "related=True fills the list with documents of the top concepts: give concepts > 0"
        )
    name = resolve_method(method)
    terms = query_terms(text)
    if n == 0 or not terms:
        return []
    g = source.graph
    di = query_index(source).documents(source)
    allowed = None
    if only is not None:
        wanted = np.fromiter((int(d) for d in only), dtype=np.uint64)
        allowed = np.isin(np.asarray(di.doc_ids, dtype=np.uint64), wanted)
    rows, scores = top_documents(di, terms, n, allowed)
    top = retrieve(source, text, concepts, name) if concepts else []
    # documents of the top concepts: row -> ranks of the concepts it holds
    held: dict[int, list[int]] = {}
    for rank, r in enumerate(top):
        if r.node_id in g:
            for row in _rows_of(di, g.node_documents(r.node_id)).tolist():
                held.setdefault(row, []).append(rank)
    labels = [r.label for r in top]
    found = rows.tolist()
    taken = set(found)
    extra = (
        sorted(
            (row for row in held if row not in taken and (allowed is None or allowed[row])),
            key=lambda row: (-len(held[row]), held[row][0], int(di.doc_ids[row])),
        )[: n - len(found)]
        if related
        else []
    )
    all_rows = np.asarray([*found, *extra], dtype=np.int64)
    all_scores = np.concatenate([scores, np.zeros(len(extra), dtype=np.float64)])
    named = [tuple(labels[k] for k in held.get(row, [])) for row in all_rows.tolist()]
    # snippets around the query's words, or (documents without any) the concepts' labels
    words = [set(terms)] * len(found) + [set(named[len(found) + j]) for j in range(len(extra))]
    return _make(di, all_rows, all_scores, words, width, named)
