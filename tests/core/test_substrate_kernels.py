"""Substrate document queries: the Numba path must match the plain-Python reference exactly."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from phago import _kernels as K
from phago.ids import AgentId, DocumentId
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
