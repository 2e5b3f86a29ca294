"""Document batches: checked columns, and a colony storing a batch as it stores documents."""

from __future__ import annotations

import gc
import math
import pickle
from typing import Any, Literal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phago import Colony, ColonyConfig, Digester, Position
from phago.corpus import CorpusDocument, grid_positions, load_sample_corpus
from phago.document_batch import DocumentBatch, checked_columns
from phago.errors import DocumentError, EmptyDocument, InvalidPosition
from phago.ids import document_id
from phago.types import POSITION_LIMIT
from sample_colony import build_sample_colony

SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
TEXT = st.text(
    st.characters(blacklist_categories=SURROGATES, blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() != "")
COORD = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.floats(-POSITION_LIMIT, POSITION_LIMIT))
DOC = st.tuples(st.sampled_from(["a", "b", "c", ""]), TEXT, st.tuples(COORD, COORD))


def substrate_state(c: Colony) -> tuple[Any, ...]:
    s = c.substrate
    docs = [(d.id, d.title, d.content, d.position, d.digested) for d in c.documents()]
    return (
        docs,
        {k: list(v) for k, v in s._doc_grid.items()},
        list(s._sig_pending),
        s.undigested_count,
        len(s._digested_arr),
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(DOC, max_size=30))
def test_a_batch_stores_what_one_by_one_stores(
    docs: list[tuple[str, str, tuple[float, float]]],
) -> None:
    # duplicates (same title and text) included: stored once, first position kept
    one, batch = Colony(), Colony()
    for t, c, p in docs:
        one.ingest_document(t, c, p)
    stored = batch.ingest_batch(DocumentBatch.of(docs))
    assert stored == len({document_id(t, c) for t, c, _ in docs})
    assert substrate_state(batch) == substrate_state(one)
    assert batch.ingest_batch(DocumentBatch.of(docs)) == 0  # all known: nothing new
    assert substrate_state(batch) == substrate_state(one)


def test_a_colony_fed_a_batch_digests_into_the_same_graph() -> None:
    docs = load_sample_corpus()
    fed = Colony(seed=0)
    fed.ingest_batch(
        DocumentBatch.of(
            (d.title, d.content, p) for d, p in zip(docs, grid_positions(len(docs)), strict=True)
        )
    )
    step = len(docs) // 8
    for j in range(8):
        p = fed.documents()[j * step].position
        fed.spawn(Digester(Position(p.x + 1, p.y + 1), seed=j, max_idle=60))
    ref = build_sample_colony()
    ref.run(25)
    fed.run(25)
    edges = sorted((a, b, e.weight, e.co_activations) for a, b, e in ref.graph.edges())
    assert edges and edges == sorted(
        (a, b, e.weight, e.co_activations) for a, b, e in fed.graph.edges()
    )


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (("blank", "  \n\t"), EmptyDocument, "'blank' is empty"),
        (("bin", "a\x00b", (0, 0)), DocumentError, "'bin' looks binary"),
        (("long", "x" * 101, (0, 0)), DocumentError, "'long' has 101 characters"),
        (("text", 42, (0, 0)), DocumentError, "'text': content must be text"),
        (("nan", "ok", (math.nan, 0)), InvalidPosition, "'nan': position must be finite"),
        (("inf", "ok", (0, -math.inf)), InvalidPosition, "'inf': position must be finite"),
        (("three", "ok", (1, 2, 3)), InvalidPosition, "'three': position must be two numbers"),
        (("word", "ok", ("left", 2)), InvalidPosition, "'word': position must be two numbers"),
        (("scalar", "ok", 5), InvalidPosition, "'scalar': position must be two numbers"),
        (("sur", "ab\ud800c", (0, 0)), DocumentError, "'sur': content is not valid Unicode"),
        (("t\udc80", "ok", (0, 0)), DocumentError, "title is not valid Unicode text"),
        ((7, "ok", (0, 0)), DocumentError, "document 7: title must be text, got int"),
        # items of no document's shape, named by their place in the input (the middle one)
        (("alone",), DocumentError, r"document #1: expected \(title, content\) or"),
        ("a string", DocumentError, r"document #1: .*got 'a string'"),
        (("t", "c", (0, 0), "extra"), DocumentError, "document #1: expected"),
        (None, DocumentError, "document #1: expected .* got None"),
    ],
)
def test_a_bad_document_is_named_by_its_typed_error(
    bad: object, error: type[Exception], match: str
) -> None:
    good = [("g1", "cell wall", (0, 0)), ("g2", "gene", (1, 1))]
    with pytest.raises(error, match=match):
        checked_columns([good[0], bad, good[1]], max_chars=100, place=lambda: (0.0, 0.0))  # type: ignore[list-item]


def test_a_colony_given_a_bad_batch_stores_none_of_it() -> None:
    c = Colony()
    batch = DocumentBatch(
        ["ok", "bad", "ok2"],
        ["cell wall", "a\x00b", "gene"],
        np.zeros((3, 2)),
        np.array([1, 2, 3], np.uint64),
    )
    with pytest.raises(DocumentError, match="'bad'"):
        c.ingest_batch(batch)
    nowhere = DocumentBatch(["a"], ["cell"], np.array([[0.0, math.nan]]), np.ones(1, np.uint64))
    with pytest.raises(InvalidPosition, match="'a'"):
        c.ingest_batch(nowhere)
    assert c.substrate.document_count == 0 and c.substrate.undigested_count == 0


def test_positions_come_from_the_input_or_from_place_in_input_order() -> None:
    spots = iter([(5.0, 0.0), (10.0, 0.0)])
    titles, contents, xy = checked_columns(
        [
            CorpusDocument("c1", "corpus text", "c1.txt"),
            ("p", "a position", Position(1.5, -2)),
            ("n", "no position"),
            ("t", "a tuple", (3, 4)),
        ],
        place=lambda: next(spots),
    )
    assert titles == ["c1", "p", "n", "t"] and contents[0] == "corpus text"
    assert xy.dtype == np.float64
    assert xy.tolist() == [[5.0, 0.0], [1.5, -2.0], [10.0, 0.0], [3.0, 4.0]]
    with pytest.raises(InvalidPosition, match="'n': no position"):
        checked_columns([("n", "no position")])


def test_batches_cut_travel_and_read_back_as_rows() -> None:
    rows = [(f"t{i}", f"text {i}", (float(i), -float(i)), 100 + i) for i in range(5)]
    b = DocumentBatch.from_rows(rows)
    assert len(b) == 5 and list(b.rows()) == rows
    part = b.take(np.array([3, 0]))
    assert list(part.rows()) == [rows[3], rows[0]]
    back = pickle.loads(pickle.dumps(b))
    assert list(back.rows()) == rows and back.ids.dtype == np.uint64
    empty = DocumentBatch.from_rows([])
    assert len(empty) == 0 and empty.xy.shape == (0, 2) and Colony().ingest_batch(empty) == 0
    of = DocumentBatch.of([(t, c, p) for t, c, p, _ in rows])
    assert of.ids.tolist() == [document_id(t, c) for t, c, _, _ in rows]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=30), st.integers(4, 6))
def test_a_batch_cut_by_owner_keeps_each_owners_documents_in_order(
    owners: list[int], n: int
) -> None:
    rows = [(f"t{i}", f"text {i}", (float(i), 0.0), 10 + i) for i in range(len(owners))]
    b = DocumentBatch(*_columns(rows), checked_chars=50, checked_keywords=9)
    parts = b.by_owner(np.array(owners, dtype=np.int64), n)
    assert len(parts) == n
    for s, part in enumerate(parts):
        assert list(part.rows()) == [r for r, o in zip(rows, owners, strict=True) if o == s]
        assert (part.checked_chars, part.checked_keywords) == (50, 9)
    assert b.by_owner(np.zeros(len(rows), dtype=np.int64), 1) == [b]


def test_a_batch_cut_by_owners_that_do_not_fit_it_is_refused() -> None:
    b = DocumentBatch.from_rows([("a", "x", (0.0, 0.0), 1), ("b", "y", (0.0, 0.0), 2)])
    with pytest.raises(ValueError, match="one shard per document"):
        b.by_owner([0], 2)
    with pytest.raises(ValueError, match="one shard per document"):
        b.by_owner([0.0, 1.0], 2)
    with pytest.raises(ValueError, match="from 0 to 1"):
        b.by_owner([0, 2], 2)
    with pytest.raises(ValueError, match="from 0 to 1"):
        b.by_owner([-1, 0], 2)


def test_stored_documents_go_to_the_collectors_oldest_generation_at_once() -> None:
    # documents hold no cycles: walking them in the young generations' collections (the
    # first right after a large ingest) cost a third of a shard's time storing them
    colony = Colony()
    colony.ingest_batch(DocumentBatch.of([(f"d{i}", f"text {i}", (0.0, 0.0)) for i in range(50)]))
    doc = colony.substrate.documents()[7]
    assert gc.isenabled()
    young = gc.get_objects(generation=0) + gc.get_objects(generation=1)
    assert not any(o is doc or o is doc.position for o in young)
    assert any(o is doc for o in gc.get_objects(generation=2))


def _columns(
    rows: list[tuple[str, str, tuple[float, float], int]],
) -> tuple[list[str], list[str], Any, Any]:
    base = DocumentBatch.from_rows(rows)
    return base.titles, base.contents, base.xy, base.ids


def test_a_batch_of_array_views_owns_copies_of_them_and_shares_its_text() -> None:
    rows = [(f"t{i}", f"text {i}", (float(i), 2.0), 7 + i) for i in range(4)]
    b = DocumentBatch.from_rows(rows)
    assert b.owned() is b  # arrays of its own: nothing to copy
    # what Ray hands a shard: read-only views of the received object's buffer
    buf = np.concatenate([b.xy.ravel(), b.ids.view(np.float64)]).tobytes()
    xy = np.frombuffer(buf, dtype=np.float64, count=8).reshape(4, 2)
    ids = np.frombuffer(buf, dtype=np.uint64, offset=64)
    viewed = DocumentBatch(b.titles, b.contents, xy, ids, b.checked_chars)
    own = viewed.owned()
    assert own is not viewed and list(own.rows()) == rows
    assert own.xy.base is None and own.ids.base is None and own.xy.flags.writeable
    assert own.titles is b.titles and own.contents is b.contents


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), TEXT, st.none() | st.tuples(COORD, COORD))))
def test_ingest_documents_places_and_stores_as_ingest_document_does(
    docs: list[tuple[str, str, tuple[float, float] | None]],
) -> None:
    one, many = Colony(), Colony()
    ids = [one.ingest_document(t, c, p) for t, c, p in docs]
    assert many.ingest_documents(docs) == ids
    assert substrate_state(many) == substrate_state(one)
    assert many.ingest_document("later", "text") == one.ingest_document("later", "text")
    assert substrate_state(many) == substrate_state(one)  # the layout continued alike


def test_a_lone_surrogate_is_a_document_error_on_every_ingest_path() -> None:
    # ids hash a document's UTF-8 bytes: text that has none is refused before any is stored
    bad = ("broken", "cell \udcff membrane")
    one = Colony()
    with pytest.raises(DocumentError, match="'broken': content is not valid Unicode text"):
        one.ingest_document(*bad)
    with pytest.raises(DocumentError, match="'broken'"):
        one.ingest_documents([("fine", "cell wall"), bad])
    assert one.substrate.document_count == 0


def test_a_batch_checked_against_a_looser_limit_is_checked_again() -> None:
    docs = [("short", "cell wall"), ("long", "gene " * 30)]
    loose = DocumentBatch.of(docs, place=lambda: (0.0, 0.0))  # no limit: checked_chars inf
    strict = Colony(ColonyConfig(max_document_chars=100))
    with pytest.raises(DocumentError, match="'long' has 150 characters"):
        strict.ingest_batch(loose)
    assert strict.substrate.document_count == 0
    tight = DocumentBatch.of(docs[:1], max_chars=50, place=lambda: (0.0, 0.0))
    assert tight.checked_chars == 50 and tight.take(np.array([0])).checked_chars == 50
    assert strict.ingest_batch(tight) == 1
    assert DocumentBatch.from_rows([]).checked_chars is None
