"""Query caches carry over to another graph of the same source (a distributed colony's merged
graph after a change): the audit found the first query after every change re-indexing
every label and re-tokenising every document. Carried over or fresh, the index is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

import phago.query.index as qindex
from phago.distributed import DistributedColony
from phago.graph import HebbianGraph
from phago.ids import document_id
from phago.ingest import DistributedSink, digest_new_distributed
from phago.query import retrieve
from phago.query.index import DocumentIndex, LabelIndex, query_index
from phago.text import tokenize
from phago.types import Document, NodeType, Position

NOTES = [
    ("Cells", "The cell membrane holds protein channels and lipid rafts."),
    ("Genes", "A gene is read into protein by the ribosome and polymerase."),
    ("Stars", "A star forms in a nebula when gravity pulls dust together."),
    ("Qubits", "A qubit holds a superposition; entanglement links qubit states."),
    ("Rivers", "A river carries sediment to its delta and carves a canyon."),
    ("Comets", "A comet is ice and dust on an orbit around the star."),
]
QUERIES = [["cell"], ["protein", "gene"], ["star", "dust"], ["qubit", "qubit"], ["unknown"]]


def same_index(a: DocumentIndex, b: DocumentIndex) -> None:
    assert a.doc_ids.tolist() == b.doc_ids.tolist() and a.titles == b.titles
    assert np.array_equal(a.doc_len, b.doc_len) and np.array_equal(a.concept_df, b.concept_df)
    assert (a.doc_concepts != b.doc_concepts).nnz == 0
    for terms in QUERIES:
        assert np.array_equal(a.scores(terms), b.scores(terms)), terms


def same_labels(a: LabelIndex, graph: HebbianGraph) -> None:
    fresh = LabelIndex()
    fresh.extend(graph)
    assert a.postings == fresh.postings
    assert (a.concepts, a.nodes_seen) == (fresh.concepts, fresh.nodes_seen)
    assert a.node_ids.view().tolist() == fresh.node_ids.view().tolist()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch, counted_texts: list[str]) -> dict[str, list[str]]:
    """What the index tokenises and which labels it splits."""
    seen: dict[str, list[str]] = {"texts": counted_texts, "labels": []}

    def lab(label: str) -> list[str]:
        seen["labels"].append(label)
        real: Callable[[str], list[str]] = qindex.__dict__["_real_label_terms"]
        return real(label)

    monkeypatch.setitem(qindex.__dict__, "_real_label_terms", qindex.__dict__["label_terms"])
    monkeypatch.setattr(qindex, "label_terms", lab)
    return seen


@pytest.fixture
def cluster() -> Iterator[tuple[DistributedColony, DistributedSink]]:
    with DistributedColony(num_shards=2, seed=0) as dc:
        yield dc, DistributedSink(dc)


def test_a_distributed_colony_indexes_only_what_is_new_after_a_change(
    cluster: tuple[DistributedColony, DistributedSink], counted: dict[str, list[str]]
) -> None:
    dc, sink = cluster
    for i, (title, text) in enumerate(NOTES):
        doc = sink.ingest_document(title, text)
        digest_new_distributed(sink, [doc], digesters=1)
        before = dc.graph.node_count
        counted["texts"].clear()
        counted["labels"].clear()
        top = [r.label for r in retrieve(dc, "protein star qubit", 5)]  # fusion: both parts
        assert top
        assert counted["texts"] == [f"{title}\n{text}"]  # only the new note is tokenised
        if i:  # only the new concepts' labels are split (all of them the first time)
            assert len(counted["labels"]) < before
        qi = query_index(dc)
        same_labels(qi.labels(), dc.graph)
        same_index(qi.documents(dc), DocumentIndex.build(dc, dc.graph))
        assert [r.label for r in retrieve(dc, "gravity dust", 5, "tfidf")] == [
            r.label for r in retrieve(_copy(dc), "gravity dust", 5, "tfidf")
        ]


class _Source:
    """A source whose graph and documents can be swapped (as a colony's are)."""

    def __init__(self, graph: HebbianGraph, docs: list[Document]) -> None:
        self.graph = graph
        self.docs = docs
        self.current_tick = 0

    def documents(self) -> list[Document]:
        return list(self.docs)


def _copy(source: object) -> _Source:
    """A new source over the same graph and documents (indexed from scratch)."""
    g: HebbianGraph = source.graph  # type: ignore[attr-defined]
    docs: list[Document] = source.documents()  # type: ignore[attr-defined]
    return _Source(_rebuilt(g, sorted_by_id=False), docs)


def _rebuilt(g: HebbianGraph, *, sorted_by_id: bool, drop: set[int] | None = None) -> HebbianGraph:
    """``g`` rebuilt from its columns (nodes by id when ``sorted_by_id``, reversed if not;
    the provenance of the documents in ``drop`` left out)."""
    n = g.node_count
    ids = np.array(g.node_ids(), dtype=np.uint64)
    order = np.argsort(ids) if sorted_by_id else np.arange(n)[::-1]
    a, b, w, co, created, last = g.edge_arrays()
    pn, pd = g.provenance_arrays()
    keep = ~np.isin(pd, np.array(sorted(drop or ()), dtype=np.uint64))
    return HebbianGraph.from_arrays(
        node_ids=ids[order],
        labels=[g.label_at(int(i)) for i in order],
        node_types=[g.node_type_at(int(i)).value for i in order],
        access=g.access_counts()[order],
        created=g.created_ticks()[order],
        positions=g.positions()[order],
        edge_a=ids[a],
        edge_b=ids[b],
        weight=w,
        co_activations=co,
        created_tick=created,
        last_activated_tick=last,
        prov_nodes=ids[pn[keep]],
        prov_docs=pd[keep],
    )


def _source(texts: list[tuple[str, str]]) -> _Source:
    g = HebbianGraph()
    docs = []
    for tick, (title, text) in enumerate(texts):
        doc = Document(document_id(title, text), title, text, Position(0, 0), True)
        docs.append(doc)
        g.present(list(dict.fromkeys(tokenize(text))), NodeType.CONCEPT, doc.position, tick=tick,
                  document=doc.id)  # fmt: skip
    return _Source(g, docs)


def test_what_cannot_carry_over_is_built_afresh(counted: dict[str, list[str]]) -> None:
    src = _source(NOTES[:4])
    query_index(src).documents(src)
    query_index(src).labels()
    # the same nodes in another order: labels indexed afresh, documents still carried over
    src.graph = _rebuilt(src.graph, sorted_by_id=False)
    counted["texts"].clear()
    counted["labels"].clear()
    qi = query_index(src)
    labels = qi.labels()
    assert len(counted["labels"]) == src.graph.node_count
    same_labels(labels, src.graph)
    di = qi.documents(src)
    assert counted["texts"] == []  # (tokens kept: no document is new)
    same_index(di, DocumentIndex.build(src, src.graph))
    # a document forgotten (its provenance gone, itself gone): built afresh, without it
    gone = src.docs.pop(1)
    src.graph = _rebuilt(src.graph, sorted_by_id=True, drop={int(gone.id)})
    di = query_index(src).documents(src)
    assert int(gone.id) not in di.doc_ids.tolist()
    same_index(di, DocumentIndex.build(src, src.graph))
    same_labels(query_index(src).labels(), src.graph)
    # its provenance gone but the document still in the source: not indexed either
    src2 = _source(NOTES[:3])
    query_index(src2).documents(src2)
    src2.graph = _rebuilt(src2.graph, sorted_by_id=True, drop={int(src2.docs[0].id)})
    di = query_index(src2).documents(src2)
    assert di.n_docs == 2
    same_index(di, DocumentIndex.build(src2, src2.graph))


def test_nodes_leaving_and_arriving_between_graphs() -> None:
    src = _source(NOTES[:3])
    query_index(src).labels()
    grown = _source(NOTES[1:5]).graph  # some nodes gone, some new, ids in another order
    src.graph = _rebuilt(grown, sorted_by_id=True)
    src.docs = _source(NOTES[1:5]).docs
    qi = query_index(src)
    same_labels(qi.labels(), src.graph)
    same_index(qi.documents(src), DocumentIndex.build(src, src.graph))
