"""Substrate document queries: the Numba path must match the plain-Python reference exactly."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phago import _kernels as K
from phago.ids import AgentId, DocumentId, document_id
from phago.substrate import Substrate
from phago.types import Position

finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=500, deadline=None)
@given(st.floats() | st.sampled_from([0.0, -0.0, 5e-324, 1e-310, 1e308]), st.floats())
def test_py_hypot_is_pythons_hypot(x: float, y: float) -> None:
    want = math.hypot(x, y)
    got = K.py_hypot(x, y)
    assert (math.isnan(got) and math.isnan(want)) or got == want


@settings(max_examples=300, deadline=None)
@given(
    st.integers(-2000, 2000).map(lambda k: k * 0.25) | st.floats(-300, 300),
    st.integers(-2000, 2000).map(lambda k: k * 0.25) | st.floats(-300, 300),
    st.integers(-400, 400).map(lambda k: k * 5.0),
    st.integers(-400, 400).map(lambda k: k * 5.0),
)
def test_py_hypot_on_grid_offsets(px: float, py: float, dx: float, dy: float) -> None:
    assert K.py_hypot(dx - px, dy - py) == math.hypot(dx - px, dy - py)


def reference(
    s: Substrate,
    position: Position,
    radius: float,
    claimant: AgentId | None,
) -> list[tuple[float, DocumentId]]:
    """The former ``Substrate.undigested_near``: scan the dict grid of undigested documents."""
    c = s._cell
    r = float(radius)
    px, py = position.x, position.y
    x0, x1 = math.floor((px - r) / c), math.floor((px + r) / c)
    y0, y1 = math.floor((py - r) / c), math.floor((py + r) / c)
    found: list[tuple[float, int]] = []
    claims = s._claims if claimant is not None else None
    me = int(claimant) if claimant is not None else -1
    for cx in range(x0, x1 + 1):
        for cy in range(y0, y1 + 1):
            for seq in s._doc_grid.get((cx, cy), []):
                p = s._docs[seq].position
                d = math.hypot(p.x - px, p.y - py)
                if d <= r:
                    if claims and d >= 1.0 and claims.get(seq, me) != me:
                        continue
                    found.append((d, seq))
    found.sort()
    return [(d, s._docs[seq].id) for d, seq in found]


coordinate = st.integers(-60, 60).map(lambda k: k * 2.5) | st.floats(-150, 150)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(coordinate, coordinate), min_size=0, max_size=400),
    st.lists(st.integers(0, 399), max_size=150),
    st.lists(st.tuples(st.integers(0, 399), st.integers(1, 4)), max_size=40),
    st.lists(
        st.tuples(coordinate, coordinate, st.floats(0.0, 60.0), st.integers(0, 5)),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from([None, 1, 2, 3, 7]),
)
def test_undigested_near_matches_reference(
    docs: list[tuple[float, float]],
    eaten: list[int],
    claims: list[tuple[int, int]],
    queries: list[tuple[float, float, float, int]],
    limit: int | None,
) -> None:
    s = Substrate()
    ids = [s.add_document(f"d{i}", f"text {i}", Position(x, y)) for i, (x, y) in enumerate(docs)]
    for k in eaten:
        if k < len(ids):
            s.consume_document(ids[k])
    s.set_claims([(ids[k], AgentId(a)) for k, a in claims if k < len(ids)])
    for x, y, r, who in queries:
        here = Position(x, y)
        claimant = None if who == 0 else AgentId(who)
        want = reference(s, here, r, claimant)
        got = s.undigested_near(here, r, claimant, limit)
        assert got == (want if limit is None else want[:limit])
        assert s.undigested_near(here, r, claimant) == want
    # all queries at once (at each query's radius in turn): the same answers, in order
    many = 3 if limit is None else limit
    here_all = [Position(x, y) for x, y, _, _ in queries]
    who_all = [None if w == 0 else AgentId(w) for _, _, _, w in queries]
    for _, _, r, _ in queries:
        assert s.undigested_near_many(here_all, r, who_all, many) == [
            s.undigested_near(p, r, c, many) for p, c in zip(here_all, who_all, strict=True)
        ]


def test_undigested_near_sees_documents_added_after_the_grid() -> None:
    s = Substrate()
    ids = [
        s.add_document(f"d{i}", f"t {i}", Position(5.0 * (i % 40), 5.0 * (i // 40)))
        for i in range(800)
    ]
    here = Position(52.0, 51.0)
    assert s.undigested_near(here, 12.0) == reference(s, here, 12.0, None)  # grid built
    late = [s.add_document(f"late{i}", f"l {i}", Position(50.0 + i, 50.0)) for i in range(5)]
    s.consume_document(ids[410])
    got = s.undigested_near(here, 12.0)
    assert got == reference(s, here, 12.0, None)
    assert {d for _, d in got} >= set(late)
    far = s.add_document("far", "f", Position(1e6, -1e6))  # outside the grid's box
    assert s.undigested_near(Position(1e6, -1e6), 1.0) == [(0.0, far)]


def test_undigested_near_sparse_layout_uses_the_dict_grid() -> None:
    s = Substrate()
    a = s.add_document("a", "x", Position(0.0, 0.0))
    b = s.add_document("b", "y", Position(1e15, 1e15))
    assert s.undigested_near(Position(1.0, 0.0), 5.0) == [(1.0, a)]
    assert s.undigested_near(Position(1e15, 1e15 + 2.0), 5.0) == [(2.0, b)]
    here = [Position(1.0, 0.0), Position(1e15, 1e15 + 2.0)]
    assert s.undigested_near_many(here, 5.0, [None, None], 2) == [[(1.0, a)], [(2.0, b)]]


def test_undigested_near_many_edge_cases() -> None:
    s = Substrate()
    ids = [s.add_document(f"d{i}", "t", Position(float(i), 0.0)) for i in range(300)]
    s.set_claims([(ids[3], AgentId(7))])
    here = [Position(1.5, 0.0), Position(3.0, 0.5), Position(-9.0, 0.0)]
    who = [AgentId(8), AgentId(7), None]
    want = [s.undigested_near(p, 2.0, c, 4) for p, c in zip(here, who, strict=True)]
    assert s.undigested_near_many(here, 2.0, who, 4) == want
    # d3 is claimed by 7: passed over by 8 (1.5 away), seen by 7
    side = math.hypot(1.0, 0.5)
    assert [[d for d, _ in w] for w in want] == [[0.5, 0.5, 1.5], [0.5, side, side], []]
    # a position too far out for the kernel: every query asked one by one
    far = [*here, Position(1e300, 0.0)]
    assert s.undigested_near_many(far, 2.0, [*who, None], 4) == [*want, []]
    assert s.undigested_near_many(here, 2.0, who, 0) == [[], [], []]
    assert s.undigested_near_many([], 2.0, [], 3) == []
    with pytest.raises(ValueError, match="claimant"):
        s.undigested_near_many(here, 2.0, who[:1], 3)
    with pytest.raises(ValueError):  # math.floor of NaN, as undigested_near raises
        s.undigested_near_many(here, math.nan, who, 3)


def reference_anywhere(
    s: Substrate,
    position: Position,
    choices: int,
    rng: np.random.Generator | None,
    claimant: AgentId | None,
) -> tuple[float, DocumentId] | None:
    """The former ``nearest_undigested_anywhere``: the k-d tree's nearest cells, scanned in
    Python (on the same tree): 8 cells (or ``choices``), four times as many where all of them
    have emptied, and so on; with every cell of the index emptied, it is rebuilt once."""
    if s._undigested == 0:
        return None
    claims = s._claims if claimant is not None else None
    me = int(claimant) if claimant is not None else -1
    for _ in range(2):
        tree = s._far_index()
        cells = len(s._far_cxy)
        k = min(max(8, choices), cells)
        while k:
            _, hits = tree.query([position.x, position.y], k=k)
            seqs = [
                q
                for h in np.atleast_1d(hits).tolist()
                for q in s._doc_grid.get(tuple(s._far_cxy[h].tolist()), [])
            ]
            free = [q for q in seqs if claims is None or claims.get(q, me) == me]
            ranked = sorted(
                (
                    math.dist(
                        (s._docs[q].position.x, s._docs[q].position.y), (position.x, position.y)
                    ),
                    q,
                )
                for q in (free or seqs)
            )
            if ranked:
                pick = 0
                if choices > 1 and rng is not None:
                    pick = int(rng.integers(0, min(choices, len(ranked))))
                d, seq = ranked[pick]
                return d, s._docs[seq].id
            k = 0 if k >= cells else min(4 * k, cells)
        s._far_tree = None
    return None


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=400),
    st.lists(st.integers(0, 399), max_size=300),
    st.lists(st.tuples(st.integers(0, 399), st.integers(1, 4)), max_size=60),
    st.lists(st.tuples(coordinate, coordinate, st.integers(0, 5)), min_size=1, max_size=8),
    st.sampled_from([1, 3, 64]),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_nearest_undigested_anywhere_matches_reference(
    docs: list[tuple[float, float]],
    eaten: list[int],
    claims: list[tuple[int, int]],
    queries: list[tuple[float, float, int]],
    choices: int,
    seed: int,
    built_first: bool,
) -> None:
    s = Substrate()
    ids = [s.add_document(f"d{i}", f"text {i}", Position(x, y)) for i, (x, y) in enumerate(docs)]
    if built_first:  # the documents are then eaten from a built index (cells empty in it)
        s.nearest_undigested_anywhere(Position(0, 0))
    for k in eaten:
        if k < len(ids):
            s.consume_document(ids[k])
    s.set_claims([(ids[k], AgentId(a)) for k, a in claims if k < len(ids)])
    rng_a, rng_b = np.random.default_rng(seed), np.random.default_rng(seed)
    for x, y, who in queries:
        here = Position(x, y)
        claimant = None if who == 0 else AgentId(who)
        want = reference_anywhere(s, here, choices, rng_a, claimant)
        assert s.nearest_undigested_anywhere(here, choices, rng_b, claimant) == want


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 5, 64]))
def test_nearest_undigested_anywhere_on_a_built_grid(seed: int, choices: int) -> None:
    gen = np.random.default_rng(seed)
    s = Substrate()
    ids = [
        s.add_document(f"d{i}", f"text {i}", Position(5.0 * (i % 30), 5.0 * (i // 30)))
        for i in range(900)
    ]
    for k in gen.choice(900, int(gen.integers(0, 890)), replace=False).tolist():
        s.consume_document(ids[k])
    claimed = gen.choice(900, 200, replace=False).tolist()
    s.set_claims([(ids[k], AgentId(int(gen.integers(1, 5)))) for k in claimed])
    assert s._doc_index().n_grid == 900  # the kernel path
    rng_a, rng_b = np.random.default_rng(seed), np.random.default_rng(seed)
    for _ in range(10):
        here = Position(float(gen.uniform(-50, 200)), float(gen.uniform(-50, 200)))
        who = int(gen.integers(0, 5))
        claimant = None if who == 0 else AgentId(who)
        want = reference_anywhere(s, here, choices, rng_a, claimant)
        assert s.nearest_undigested_anywhere(here, choices, rng_b, claimant) == want


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.0, 0.01, 0.0105, 1.0]) | st.floats(0.0, 2.0),
            st.integers(-1, 5),
        ),
        max_size=40,
    ),
    st.lists(st.booleans(), min_size=6, max_size=6),
    st.floats(0.0, 0.99),
    st.sampled_from([0.0, 0.01, 0.5]),
)
def test_decay_signal_rows_matches_numpy(
    rows: list[tuple[float, int]], digested: list[bool], rate: float, threshold: float
) -> None:
    intensity = np.array([r[0] for r in rows], dtype=np.float64)
    ref = np.array([r[1] for r in rows], dtype=np.int64)
    dig = np.array(digested, dtype=np.bool_)
    # the former vectorised decay_signals
    tied = ref >= 0
    eaten = np.zeros(len(ref), dtype=np.bool_)
    eaten[tied] = dig[ref[tied]]
    was_live = intensity > 0.0
    want = np.where(tied & ~eaten, intensity, intensity * (1.0 - rate))
    keep = (want >= threshold) & ~eaten
    dropped = was_live & ~keep
    want[dropped] = 0.0
    got = intensity.copy()
    removed, live = K.decay_signal_rows(got, ref, dig, 1.0 - rate, threshold)
    assert got.tobytes() == want.tobytes()
    assert removed == int(dropped.sum())
    assert live == int((keep & (want > 0.0)).sum())


def _pick(
    found: Sequence[tuple[float, DocumentId]] | None, choices: int, rng: np.random.Generator | None
) -> tuple[float, DocumentId] | None:
    """What the view makes of a batched answer (ColonyView.nearest_undigested_anywhere)."""
    assert found is not None
    if not found:
        return None
    pick = int(rng.integers(0, len(found))) if choices > 1 and rng is not None else 0
    return found[pick]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 5, 64]), st.booleans())
def test_nearest_undigested_anywhere_many_answers_as_each_call(
    seed: int, choices: int, dense: bool
) -> None:
    """The batched hunt candidates give every call's answer (and draw), as long as the index
    is not rebuilt; the batch itself never rebuilds it."""
    gen = np.random.default_rng(seed)
    s = Substrate()
    n = 900 if dense else 60
    spread = 5.0 if dense else 1e6  # a sparse layout has no static grid: nothing batched
    ids = [
        s.add_document(f"d{i}", f"text {i}", Position(spread * (i % 30), spread * (i // 30)))
        for i in range(n)
    ]
    for k in gen.choice(n, int(gen.integers(0, n - 10)), replace=False).tolist():
        s.consume_document(ids[k])
    claimed = gen.choice(n, n // 4, replace=False).tolist()
    s.set_claims([(ids[k], AgentId(int(gen.integers(1, 5)))) for k in claimed])
    here = [Position(float(gen.uniform(-50, 200)), float(gen.uniform(-50, 200))) for _ in range(12)]
    who = [None if w == 0 else AgentId(w) for w in gen.integers(0, 5, 12).tolist()]
    assert s.nearest_undigested_anywhere_many(here, choices, who) == [None] * 12  # no index yet
    s.nearest_undigested_anywhere(here[0], choices, None, who[0])  # builds it
    version = s.far_index_version
    answers = s.nearest_undigested_anywhere_many(here, choices, who)
    assert s.far_index_version == version
    if not dense:
        assert answers == [None] * 12
        return
    rng_a, rng_b = np.random.default_rng(seed), np.random.default_rng(seed)
    for p, c, found in zip(here, who, answers, strict=True):
        if found is None:  # every candidate cell emptied: the call rebuilds the index
            s.nearest_undigested_anywhere(p, choices, rng_a, c)
            assert s.far_index_version == version + 1
            return
        assert 1 <= len(found) <= choices
        assert [d for d, _ in found] == sorted(d for d, _ in found)
        assert _pick(found, choices, rng_b) == s.nearest_undigested_anywhere(p, choices, rng_a, c)
    assert s.far_index_version == version


def test_nearest_undigested_anywhere_many_edges() -> None:
    s = Substrate()
    ids = [s.add_document(f"d{i}", "text", Position(10.0 * i, 0.0)) for i in range(300)]
    s.nearest_undigested_anywhere(Position(0, 0))
    assert s._doc_index().n_grid == 300  # the kernel path
    assert s.nearest_undigested_anywhere_many([], 3, []) == []
    with pytest.raises(ValueError, match="claimant"):
        s.nearest_undigested_anywhere_many([Position(0, 0)], 3, [])
    # an answer holds while the index is current; a rebuild due makes every answer None
    for doc in ids[:290]:
        s.consume_document(doc)
    assert s.nearest_undigested_anywhere_many([Position(0, 0)], 3, [None]) == [None]
    version = s.far_index_version
    assert s.nearest_undigested_anywhere(Position(0, 0)) == (2900.0, ids[290])
    assert s.far_index_version == version + 1
    got = s.nearest_undigested_anywhere_many([Position(0, 0), Position(2995, 0)], 2, [None] * 2)
    assert got == [[(2900.0, ids[290]), (2910.0, ids[291])], [(5.0, ids[299]), (15.0, ids[298])]]
    for doc in ids[290:]:
        s.consume_document(doc)
    assert s.nearest_undigested_anywhere_many([Position(0, 0)], 3, [None]) == [[]]
    assert s.nearest_undigested_anywhere(Position(0, 0)) is None


def test_ranked_documents_reads_its_rows_as_a_sequence() -> None:
    from phago.substrate import RankedDocuments
    from phago.types import Document

    docs = [
        Document(document_id(f"d{k}", "text"), f"d{k}", "text", Position(k, 0)) for k in range(4)
    ]
    dist = np.array([[0.5, 1.5, 9.0], [2.0, 3.0, 4.0]])
    seq = np.array([[3, 1, 0], [0, 1, 2]])
    ranked = RankedDocuments(dist, seq, 0, 2, docs)
    want = [(0.5, docs[3].id), (1.5, docs[1].id)]
    assert len(ranked) == 2 and list(ranked) == want and ranked == want and ranked == tuple(want)
    assert ranked[-1] == want[1] and ranked[1:] == want[1:] and ranked[::-1] == want[::-1]
    assert isinstance(ranked[0][0], float) and ranked != want[:1] and ranked != "ab"
    with pytest.raises(IndexError):
        ranked[2]  # the row's third column is not one of its answers
    with pytest.raises(IndexError):
        ranked[-3]
    assert RankedDocuments(dist, seq, 1, 3, docs) == [(2.0, d.id) for d in docs[:1]] + [
        (3.0, docs[1].id),
        (4.0, docs[2].id),
    ]
    assert repr(ranked).startswith("RankedDocuments([(0.5, ")
    with pytest.raises(TypeError):
        hash(ranked)


def test_a_query_whose_nearest_cells_emptied_looks_further_without_a_rebuild() -> None:
    """Cells emptied since the far index was built are passed over: a query whose eight
    nearest cells have all emptied looks at four times as many, on the same index, one by
    one and in a batch alike; refresh_far_index rebuilds once enough cells have emptied."""
    s = Substrate()
    ids = [s.add_document(f"d{i}", "text", Position(20.0 * i, 0.0)) for i in range(400)]
    assert s.nearest_undigested_anywhere(Position(0, 0)) == (0.0, ids[0])  # builds the index
    version = s.far_index_version
    for d in ids[:10]:  # ten cells, fewer than a rebuild needs (400 // 16)
        s.consume_document(d)
    assert s.nearest_undigested_anywhere(Position(0, 0)) == (200.0, ids[10])
    assert s.far_index_version == version  # looked further, did not rebuild
    batch = s.nearest_undigested_anywhere_many([Position(0, 0), Position(4000, 0)], 2, [None] * 2)
    assert batch[0] is not None and list(batch[0]) == [(200.0, ids[10]), (220.0, ids[11])]
    assert batch[1] is not None and batch[1][0] == (0.0, ids[200])
    assert s.refresh_far_index() is False  # 10 of 400 cells emptied: not yet
    for d in ids[10:40]:
        s.consume_document(d)
    assert s.refresh_far_index() is True and s.far_index_version == version + 1
    assert s.nearest_undigested_anywhere(Position(0, 0)) == (800.0, ids[40])
