"""The incremental document index: BM25 equal to ``bm25s``, refreshes equal to fresh builds."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import bm25s
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import phago.query.index as qindex
import phago.query.term_counts as term_counts
from phago import Colony, Position
from phago.graph import HebbianGraph
from phago.ids import document_id
from phago.ingest import digest_new_documents
from phago.query import retrieve
from phago.query.base import StaticSource
from phago.query.bm25 import bm25, document_scores
from phago.query.index import DocumentIndex, _DocStore, query_index
from phago.state import capture, forget_documents, restore
from phago.text import tokenize
from phago.types import Document, NodeType

SourceFactory = Callable[..., StaticSource]

WORDS = [
    "cell", "membrane", "protein", "ribosome", "gene", "dna", "polymerase", "qubit", "spin",
    "gate", "star", "galaxy", "nebula", "river", "delta", "stone", "glacier", "enzyme",
    "lipid", "channel", "orbit", "comet", "photon", "quark",
]  # fmt: skip


def random_texts(
    n: int, seed: int, *, min_words: int = 0, max_words: int = 40
) -> list[tuple[str, str]]:
    """``n`` titled texts of ``min_words`` to ``max_words`` words of :data:`WORDS` (Zipf)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, len(WORDS) + 1)
    p /= p.sum()
    out = []
    for i in range(n):
        k = int(rng.integers(min_words, max_words + 1))
        words = [WORDS[j] for j in rng.choice(len(WORDS), size=k, p=p).tolist()]
        out.append((f"doc {seed}-{i}", " ".join(words)))
    return out


@pytest.fixture(autouse=True, scope="module", params=["python", "kernel"])
def term_counting(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test twice: the index built with NumPy and Python, then with its Numba kernels
    (terms counted, label counts found, postings built)."""
    size = 1 << 62 if request.param == "python" else 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(term_counts, "KERNEL_MIN_BYTES", size)
        mp.setattr(term_counts, "KERNEL_MIN_BYTES_LOADED", size)
        mp.setattr(qindex, "_KERNEL_LOADED_MIN", size)
        mp.setattr(qindex, "_KERNEL_COLD_MIN", size)
        yield request.param


QUERIES: list[list[str]] = [
    ["cell"],
    ["membrane", "protein"],
    ["qubit", "qubit", "spin"],
    ["star", "unknownterm", "galaxy"],
    ["quark"],
    ["unknownterm"],
    [],
]


def assert_same_index(a: DocumentIndex, b: DocumentIndex) -> None:
    """Every public part of two document indexes is equal (scores to the last bit)."""
    assert a.n_docs == b.n_docs
    assert a.doc_ids.tolist() == b.doc_ids.tolist()
    assert a.titles == b.titles
    assert np.array_equal(a.doc_len, b.doc_len)
    assert np.array_equal(a.concept_df, b.concept_df)
    assert np.array_equal(a.idf, b.idf)
    assert a.doc_concepts.shape == b.doc_concepts.shape
    assert (a.doc_concepts != b.doc_concepts).nnz == 0
    rows = np.arange(a.n_docs, dtype=np.int64)[::2]
    for x, y in zip(a.row_concepts(rows), b.row_concepts(rows), strict=True):
        assert np.array_equal(x, y)
    for terms in QUERIES:
        assert np.array_equal(a.scores(terms), b.scores(terms)), terms


# ---------------------------------------------------------------- BM25 against bm25s


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_bm25s_lucene(seed: int, make_source: SourceFactory) -> None:
    texts = random_texts(300, seed)
    src = make_source(texts, wire=False)
    di = query_index(src).documents(src)
    by_id = {int(document_id(t, c)): f"{t}\n{c}" for t, c in texts}  # (titles are searched)
    tokens = [tokenize(by_id[int(d)]) for d in di.doc_ids.tolist()]
    ref = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    ref.index(tokens, show_progress=False)
    rng = np.random.default_rng(seed)
    queries = [*QUERIES, *([WORDS[j] for j in rng.integers(len(WORDS), size=3)] for _ in range(20))]
    for terms in queries:
        ours = di.scores(terms)
        ids = ref.get_tokens_ids(terms)
        theirs = ref.get_scores(ids) if ids else np.zeros(len(tokens))
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
        assert ours.dtype == np.float64


def test_postings_built_and_pending_score_alike(make_source: SourceFactory) -> None:
    """Scores over built postings, over entries not yet in them, and split, are equal."""
    texts = random_texts(120, 7)
    src = make_source(texts, wire=False)
    with small_delta(0):
        built = DocumentIndex.build(src, src.graph)
    with small_delta(1 << 30):
        scanned = DocumentIndex.build(src, src.graph)
    assert len(built._delta_col) == 0 and len(scanned._post_slot) == 0
    assert len(built._pairs[1][0]) == 0 and len(scanned._pairs[0][0]) == 0
    assert_same_index(built, scanned)


def test_recent_and_merged_parts_read_alike(make_source: SourceFactory) -> None:
    """A snapshot whose latest postings and pairs are apart reads like a merged one."""
    texts = random_texts(40, 9, min_words=3)
    src = make_source(texts[:30], wire=False)
    with small_delta(0):
        query_index(src).documents(src)  # everything merged
    for title, text in texts[30:]:  # then a few more, kept apart
        doc = Document(document_id(title, text), title, text, Position(0, 0))
        src.docs.append(doc)
        labels = list(dict.fromkeys(tokenize(text)))
        src.graph.present(labels, NodeType.CONCEPT, Position(0, 0), tick=1, document=doc.id)
    with small_delta(1 << 30):
        di = query_index(src).documents(src)
    with small_delta(0):
        merged = DocumentIndex.build(src, src.graph)
    assert len(di._pairs[1][0]) and len(di._delta_col)
    assert not len(merged._pairs[1][0]) and not len(merged._delta_col)
    assert_same_index(di, merged)
    rows = np.arange(di.n_docs, dtype=np.int64)
    for x, y in zip(di.row_concepts(rows), merged.row_concepts(rows), strict=True):
        assert np.array_equal(x, y)


@contextmanager
def small_delta(entries: int) -> Iterator[None]:
    """Build postings once more than ``entries`` token entries wait (and an eighth of those
    built), and merge the recent provenance pairs once more than ``entries`` (and so on)."""
    with (
        mock.patch.object(qindex, "_MIN_DELTA", entries),
        mock.patch.object(qindex, "_MIN_RECENT_PAIRS", entries),
    ):
        yield


# ---------------------------------------------------------------- a colony, step by step

POOL = random_texts(40, 11, min_words=2, max_words=12)


def add(colony: Colony, picks: list[int], digest: bool) -> list[int]:
    ids = [
        colony.ingest_document(POOL[i][0], POOL[i][1], Position(2.0 * (i % 5), 2.0 * (i // 5)))
        for i in picks
    ]
    if digest:
        digest_new_documents(colony, ids, digesters=1, max_ticks=400)
    return [int(d) for d in ids]


def forget(colony: Colony, doc: int) -> Colony:
    state = capture(colony)
    forget_documents(state, [doc])
    return restore(state)


def fresh(colony: Colony) -> StaticSource:
    """The colony's graph (a copy: a cache of its own) and documents."""
    return StaticSource(copy.deepcopy(colony.graph), colony.documents(), colony.current_tick)


def check(colony: Colony, store: _DocStore) -> None:
    """The colony's cached index, a store that has seen every step, and a fresh build agree."""
    scratch = DocumentIndex.build(colony, colony.graph)
    assert_same_index(query_index(colony).documents(colony), scratch)
    assert_same_index(store.refresh(colony, colony.graph), scratch)
    copy_src = fresh(colony)
    for text in ("cell membrane protein", "qubit spin star", "glacier river"):
        assert bm25(colony, text, k=8) == bm25(copy_src, text, k=8)
        assert document_scores(colony, text) == document_scores(copy_src, text)
        assert retrieve(colony, text, 8) == retrieve(copy_src, text, 8)


step = st.one_of(
    st.tuples(
        st.just("add"),
        st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=3),
        st.booleans(),
    ),
    st.tuples(st.just("forget"), st.integers(0, 1000)),
)


@settings(max_examples=50)
@given(steps=st.lists(step, min_size=1, max_size=5), delta=st.sampled_from([0, 40, 1 << 30]))
def test_refreshes_equal_fresh_builds(steps: list[tuple[Any, ...]], delta: int) -> None:
    with small_delta(delta):
        colony = Colony(seed=0)
        store = _DocStore()
        for op in steps:
            if op[0] == "add":
                add(colony, op[1], op[2])
            else:
                docs = colony.documents()
                if docs:
                    colony = forget(colony, int(docs[op[1] % len(docs)].id))
            check(colony, store)


def test_add_forget_and_reingest() -> None:
    colony = Colony(seed=0)
    store = _DocStore()
    first = add(colony, [0, 1, 2, 3], True)
    check(colony, store)
    add(colony, [4], False)  # stored, not digested: not indexed
    check(colony, store)
    colony = forget(colony, first[1])
    check(colony, store)
    assert first[1] not in query_index(colony).documents(colony).doc_ids.tolist()
    again = add(colony, [1], True)
    assert again == [first[1]]
    check(colony, store)
    assert first[1] in query_index(colony).documents(colony).doc_ids.tolist()


# ---------------------------------------------------------------- incremental, and when not


def test_refresh_tokenises_only_new_documents(counted_texts: list[str]) -> None:
    seen = counted_texts
    colony = Colony(seed=0)
    add(colony, list(range(12)), True)
    before = query_index(colony).documents(colony)
    assert len(seen) == before.n_docs == 12
    assert query_index(colony).documents(colony) is before  # nothing changed: same snapshot
    seen.clear()
    new = add(colony, [20], True)
    after = query_index(colony).documents(colony)
    assert [f"{POOL[20][0]}\n{POOL[20][1]}"] == seen  # its title and content
    assert after.n_docs == 13 and new[0] in after.doc_ids.tolist()
    assert before.n_docs == 12  # the earlier snapshot is unchanged
    assert_same_index(after, DocumentIndex.build(colony, colony.graph))


def test_growing_provenance_of_an_indexed_document(make_source: SourceFactory) -> None:
    """Concepts presented from an already indexed document later are added to its row."""
    text = "cell membrane protein ribosome membrane"
    did = document_id("t", text)
    src = make_source([("t", text)], wire=False)
    g = src.graph
    before = query_index(src).documents(src)
    late = "lipid"  # a label that is no term of the document: count 1
    g.present(["membrane", late], NodeType.CONCEPT, Position(0, 0), tick=1, document=did)
    after = query_index(src).documents(src)
    assert after.doc_concepts.nnz == before.doc_concepts.nnz + 1
    assert_same_index(after, DocumentIndex.build(src, g))
    membrane = g.indices_with_label("membrane")[0]
    assert after.doc_concepts[0, membrane] == 2.0
    # "lipid" became a node before any indexed document held the term; one does now
    other = ("u", "lipid lipid cell")
    src.docs.append(Document(document_id(*other), *other, Position(1, 0)))
    labels = list(dict.fromkeys(tokenize(other[1])))
    g.present(labels, NodeType.CONCEPT, Position(1, 0), tick=2, document=src.docs[-1].id)
    di = query_index(src).documents(src)
    assert_same_index(di, DocumentIndex.build(src, g))
    lipid = g.indices_with_label(late)[0]
    assert sorted(di.doc_concepts[:, lipid].data.tolist()) == [1.0, 2.0]


def test_indexed_document_leaving_the_source_is_dropped(make_source: SourceFactory) -> None:
    src = make_source(random_texts(20, 3), wire=False)
    full = query_index(src).documents(src)
    gone = src.docs[5]
    fewer = StaticSource(src.graph, [d for d in src.docs if d is not gone], src.current_tick)
    di = query_index(fewer).documents(fewer)
    assert di.n_docs == full.n_docs - 1 and int(gone.id) not in di.doc_ids.tolist()
    assert_same_index(di, DocumentIndex.build(fewer, src.graph))
    # and the same source object losing it in place
    src.docs.remove(gone)
    assert_same_index(query_index(src).documents(src), DocumentIndex.build(fewer, src.graph))


def test_document_with_provenance_appearing_later_is_indexed(make_source: SourceFactory) -> None:
    texts = random_texts(10, 4)
    src = make_source(texts, wire=False)
    missing = src.docs[3]
    partial = StaticSource(src.graph, [d for d in src.docs if d is not missing], 0)
    assert query_index(partial).documents(partial).n_docs == 9
    partial.docs.append(missing)
    di = query_index(partial).documents(partial)
    assert di.n_docs == 10
    assert_same_index(di, DocumentIndex.build(src, src.graph))
    # the same, with the documents in another order (the source's list is read again)
    store = _DocStore()
    assert store.refresh(partial, src.graph).n_docs == 10
    fewer = StaticSource(src.graph, [d for d in src.docs if d is not missing][::-1], 0)
    assert store.refresh(fewer, src.graph).n_docs == 9
    every = StaticSource(src.graph, src.docs[::-1], 0)
    assert_same_index(store.refresh(every, src.graph), DocumentIndex.build(src, src.graph))


def test_a_replaced_graph_is_detected(make_source: SourceFactory) -> None:
    """One store refreshed over graphs that rewrite the provenance it saw starts again."""
    store = _DocStore()
    texts = random_texts(12, 5)
    a = make_source(texts, wire=False)
    assert_same_index(store.refresh(a, a.graph), DocumentIndex.build(a, a.graph))
    b = make_source(texts, wire=False, order=list(reversed(range(len(texts)))))
    assert_same_index(store.refresh(b, b.graph), DocumentIndex.build(b, b.graph))
    c = make_source(texts[:6], wire=False)  # fewer nodes and pairs
    assert_same_index(store.refresh(c, c.graph), DocumentIndex.build(c, c.graph))
    d = make_source([*texts[:6], *random_texts(6, 6)], wire=False)  # same prefix, then more
    assert_same_index(store.refresh(d, d.graph), DocumentIndex.build(d, d.graph))


def test_a_replaced_graph_with_equal_counts_is_detected() -> None:
    """Graphs with as many nodes and pairs, the same last node, but other pairs or labels."""

    texts = [("a", "cell cell membrane"), ("b", "protein membrane"), ("c", "cell protein")]
    docs = [Document(document_id(t, c), t, c, Position(0, 0)) for t, c in texts]

    def source(presented: list[tuple[int, list[str]]]) -> StaticSource:
        g = HebbianGraph()
        for tick, (i, labels) in enumerate(presented):
            g.present(labels, NodeType.CONCEPT, Position(0, 0), tick=tick, document=docs[i].id)
        return StaticSource(g, list(docs), 0)

    base = source([(0, ["cell"]), (1, ["membrane"])])
    other_docs = source([(2, ["cell"]), (1, ["membrane"])])
    other_labels = source([(0, ["protein"]), (1, ["membrane"])])
    for replaced in (other_docs, other_labels):
        store = _DocStore()
        store.refresh(base, base.graph)
        got = store.refresh(replaced, replaced.graph)
        assert_same_index(got, DocumentIndex.build(replaced, replaced.graph))


def test_documents_without_content_and_empty_index(make_source: SourceFactory) -> None:
    empty = StaticSource(make_source([]).graph, [], 0)
    di = query_index(empty).documents(empty)
    assert di.n_docs == 0 and di.scores(["cell"]).shape == (0,)
    src = make_source([("one", "cell cell")], wire=False)
    blank = Document(document_id("a", "the of and"), "a", "the of and", Position(0, 0))
    src.docs.append(blank)  # no terms, but a concept presented from it
    src.graph.present(["cell"], NodeType.CONCEPT, Position(0, 0), tick=1, document=blank.id)
    di = query_index(src).documents(src)
    assert sorted(di.doc_len.tolist()) == [0.0, 2.0]
    assert sorted(di.scores(["cell"]).tolist())[0] == 0.0
    assert sorted(di.doc_concepts.data.tolist()) == [1.0, 2.0]
    assert_same_index(di, DocumentIndex.build(src, src.graph))


def test_snapshot_rows_are_in_id_order_for_any_arrival_order(make_source: SourceFactory) -> None:
    texts = random_texts(30, 8)
    forward = make_source(texts, wire=False)
    backward = make_source(texts, wire=False, order=list(reversed(range(len(texts)))))
    a = query_index(forward).documents(forward)
    b = query_index(backward).documents(backward)
    assert bool(np.all(a.doc_ids[1:] > a.doc_ids[:-1]))
    assert a.doc_ids.tolist() == b.doc_ids.tolist() and a.titles == b.titles
    for terms in QUERIES:
        assert np.array_equal(a.scores(terms), b.scores(terms))
