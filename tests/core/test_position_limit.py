"""Positions: documents and input signals are placed within ``POSITION_LIMIT``, refused as
InvalidPosition beyond it (alone or batched, on either colony); the substrate's grids never
overflow, for placed things or for agents standing anywhere finite."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from phago import Colony, Digester, Position
from phago.agents.base import Agent
from phago.cli import main
from phago.distributed import DistributedColony
from phago.document_batch import DocumentBatch, checked_columns
from phago.errors import ConfigError, InvalidPosition, StoreError
from phago.ids import AgentId
from phago.state import capture, restore
from phago.store import save
from phago.substrate import MIN_CELL_SIZE, PointIndex, Substrate
from phago.types import (
    POSITION_LIMIT,
    AgentAction,
    Deposit,
    Emit,
    Signal,
    SignalType,
    Trace,
    TraceType,
    placed_position,
    placed_xy,
    trusted_position,
)

BEYOND = r"too far out: \|x\| and \|y\| must be at most 1e\+15 \(phago.types.POSITION_LIMIT\)"

# coordinates beyond the limit: just past it, far, and near the float range
FAR = st.one_of(
    st.floats(POSITION_LIMIT, 1e25, exclude_min=True),
    st.floats(1e25, 1.7e308),
    st.sampled_from([np.nextafter(POSITION_LIMIT, math.inf), 1e20, 1e300, 1.7e308]),
).flatmap(lambda v: st.sampled_from([v, -v]))
# coordinates within it, its edges included
NEAR = st.one_of(
    st.floats(-POSITION_LIMIT, POSITION_LIMIT),
    st.sampled_from([POSITION_LIMIT, -POSITION_LIMIT, 0.0, 2.0**31 * 10, -(2.0**40)]),
)


@contextmanager
def no_warnings() -> Iterator[None]:
    """Fail on any warning (NumPy's overflow and cast warnings included)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def far_pair(draw_far: float, draw_near: float, first: bool) -> tuple[float, float]:
    return (draw_far, draw_near) if first else (draw_near, draw_far)


def test_the_limit_is_documented_and_inclusive() -> None:
    assert POSITION_LIMIT == 1e15
    assert placed_xy(POSITION_LIMIT, -POSITION_LIMIT) == (1e15, -1e15)
    assert placed_position(Position(1e15, 0)) == Position(1e15, 0)
    with pytest.raises(InvalidPosition, match=BEYOND):
        placed_xy(np.nextafter(POSITION_LIMIT, math.inf), 0)
    # a Position itself may lie anywhere finite (an agent wanders): only placing is bounded
    assert Position(1e300, -1e300).x == 1e300


def test_the_reviewers_far_document_is_refused_and_later_runs_work() -> None:
    c = Colony(seed=0)
    with pytest.raises(InvalidPosition, match=BEYOND):
        c.ingest_document("far", "cell membrane", Position(1e20, 0))
    assert c.substrate.document_count == 0
    c.ingest_document("near", "cell membrane", Position(1e15, -1e15))
    c.spawn(Digester(Position(0, 0)))
    with no_warnings():
        c.run(3)  # (an OverflowError in the far index before)
    assert c.current_tick == 3


@settings(max_examples=40, deadline=None)
@given(far=FAR, near=NEAR, first=st.booleans(), as_position=st.booleans())
def test_a_far_document_is_refused_alone_and_batched(
    far: float, near: float, first: bool, as_position: bool
) -> None:
    xy = far_pair(far, near, first)
    pos: Any = Position(*xy) if as_position else xy
    c = Colony()
    with pytest.raises(InvalidPosition, match=BEYOND):
        c.ingest_document("far", "cell membrane", pos)
    with pytest.raises(InvalidPosition, match="document 'far': position .*" + BEYOND):
        c.ingest_documents([("ok", "gene code", (0, 0)), ("far", "cell membrane", pos)])
    with pytest.raises(InvalidPosition, match="document 'far': position .*" + BEYOND):
        checked_columns([("far", "cell membrane", pos)])
    # a batch built without checked_columns is checked by the colony
    built = DocumentBatch(["far"], ["cell membrane"], np.array([xy]), np.ones(1, np.uint64))
    with pytest.raises(InvalidPosition, match="document 'far': position .*" + BEYOND):
        c.ingest_batch(built)
    with pytest.raises(InvalidPosition, match=BEYOND):
        c.substrate.add_document("far", "cell membrane", Position(*xy))
    assert c.substrate.document_count == 0


def test_a_distributed_colony_refuses_far_documents_alone_and_batched() -> None:
    with DistributedColony(2, seed=0) as dc:
        with pytest.raises(InvalidPosition, match=BEYOND):
            dc.ingest_document("far", "cell membrane", Position(1e20, 0))
        with pytest.raises(InvalidPosition, match="document 'far': .*" + BEYOND):
            dc.ingest_documents([("ok", "gene", (0.0, 0.0)), ("far", "cell", (0.0, -2e15))])
        assert dc.stats().documents_total == 0
        # at the limit: stored, and every later run works (it failed with RpcError before)
        dc.ingest_documents([("edge", "cell membrane", (1e15, 1e15)), ("o", "gene", (0, 0))])
        dc.spawn_digesters(1)
        with no_warnings():
            dc.run(3)
        assert dc.current_tick == 3 and dc.stats().documents_total == 2


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(NEAR, NEAR), min_size=1, max_size=6))
def test_documents_anywhere_within_the_limit_run(spots: list[tuple[float, float]]) -> None:
    c = Colony(seed=0)
    c.ingest_documents([(f"d{i}", f"cell gene {i}", p) for i, p in enumerate(spots)])
    for d in c.documents():  # each document's signal calls from where it lies
        assert c.substrate.signal_count_near(d.position, 0.5) >= 1
    c.spawn(Digester(Position(0, 0), seed=1))
    c.spawn(Digester(Position(*spots[-1]), seed=2))
    with no_warnings():
        c.run(3)
    assert c.current_tick == 3


def test_emit_input_signal_refuses_far_positions() -> None:
    c = Colony()
    spots: list[Position | tuple[float, float]] = [(1e300, 0), (0, -2e15), Position(1e20, 1)]
    for far in spots:
        with pytest.raises(InvalidPosition, match=BEYOND):
            c.emit_input_signal(far)
    assert c.substrate.signal_count == 0
    c.emit_input_signal((1e15, -1e15))
    assert c.substrate.signal_count == 1


class _Marker(Agent):
    """An agent that emits a signal and leaves a trace where it stands, every tick."""

    agent_type = "marker"

    def sense(self, view: Any) -> AgentAction:
        self.age += 1
        if self.age % 2:
            return Emit(Signal(SignalType.PRESENCE, 1.0, self.position, self.id, view.tick))
        return Deposit(self.position, Trace(self.id, TraceType.VISIT, 1.0, view.tick))


@pytest.mark.parametrize("x", [1e300, -1.7e308, 4e19, 1e12])
def test_agents_far_out_leave_signals_and_traces_without_overflow(x: float) -> None:
    """Agents may stand anywhere finite (spawn takes an agent at 1e300: a digester there
    hunts its way back); what they leave there is indexed without overflow or warnings."""
    c = Colony(seed=0)
    c.ingest_document("d", "cell membrane", Position(0, 0))
    a, b = _Marker(Position(x, 0)), _Marker(Position(x, -3.0))
    c.spawn(a)
    c.spawn(b)
    c.spawn(Digester(Position(x, 1.0)))
    with no_warnings():
        for _ in range(4):
            c.tick()
        s = c.substrate
        here = Position(x, 0)
        # both markers' signals and traces are found where they are, and only there
        assert {int(sig.emitter) for sig in s.signals_near(here, 5.0)} == {a.id, b.id}
        assert {int(t.agent_id) for t in s.traces_near(here, 5.0)} == {a.id, b.id}
        assert all(sig.emitter == 0 for sig in s.signals_near(Position(0, 0), 5.0))
        assert [t.agent_id for t in s.traces_at(here)] == [a.id, a.id]


def test_a_signal_far_out_is_found_again() -> None:
    """Grid cells beyond 2**31 had keys that the query computed differently (a signal at
    x = 1e11 was never found)."""
    s = Substrate()
    for x in (1e9, 1e11, 1e15):
        s.emit_signal(Signal(SignalType.INPUT, 1.0, Position(x, 5.0), AgentId(0), 0))
        assert s.signal_count_near(Position(x, 5.0), 3.0) == 1


WIDE = st.one_of(
    st.floats(-100.0, 100.0),
    st.floats(-POSITION_LIMIT, POSITION_LIMIT),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([2.0**31 * 10, -(2.0**31) * 10, 2.0**62 * 10, 1e300, -1e300]),
)


@settings(max_examples=80, deadline=None)
@example(points=[(1e300, 0.0)], query=(0.0, 0.0), pick=0, r=1.0)  # (every point far out)
@example(points=[(0.0, 0.0), (2.0**62 * 10, 0.0)], query=(0.0, 0.0), pick=5, r=1.0)
# (a point in the next cell whose squared distance underflows to 0: found by Hypothesis)
@example(points=[(0.0, 0.0), (0.0, -2.225073858507e-311)], query=(0.0, 0.0), pick=0, r=0.0)
@given(
    points=st.lists(st.tuples(WIDE, WIDE), max_size=30),
    query=st.tuples(WIDE, WIDE),
    pick=st.integers(0, 29),
    r=st.floats(0.0, 50.0),
)
def test_point_index_finds_what_a_scan_finds(
    points: list[tuple[float, float]], query: tuple[float, float], pick: int, r: float
) -> None:
    if points and pick < len(points):  # (a query at a point, often)
        query = points[pick]
    px = np.array([p[0] for p in points], dtype=np.float64)
    py = np.array([p[1] for p in points], dtype=np.float64)
    idx = PointIndex(10.0)
    with no_warnings():
        idx.rebuild(px, py)
        got = idx.within(query[0], query[1], r, px, py).tolist()
    with np.errstate(over="ignore", invalid="ignore"):  # (a scan of every point)
        dx, dy = px - query[0], py - query[1]
        want = np.flatnonzero(dx * dx + dy * dy <= r * r).tolist()
    assert got == want


@pytest.mark.parametrize("cell", [0.5, 0.0, -1.0, math.nan, math.inf, "10"])
def test_cell_sizes_too_small_to_keep_cells_in_int64_are_refused(cell: object) -> None:
    with pytest.raises(ConfigError, match="cell_size"):
        Substrate(cell_size=cell)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cell_size"):
        PointIndex(cell)  # type: ignore[arg-type]
    assert Substrate(cell_size=MIN_CELL_SIZE)._cell == 1.0


def test_a_saved_state_with_a_far_document_is_a_store_error() -> None:
    c = Colony(seed=0)
    c.ingest_document("d", "cell membrane", Position(0, 0))
    state = capture(c)
    state.substrate.doc_pos[0, 0] = 1e20  # (what an older phago saved)
    with pytest.raises(StoreError, match="beyond the position limit"):
        restore(state)
    state.substrate.doc_pos[0, 0] = 0.0
    state.substrate.cell_size = 1e-9
    with pytest.raises(StoreError, match="cell size"):
        restore(state)


def test_phago_ingest_into_a_store_with_a_far_document_says_why(tmp_path: Any) -> None:
    c = Colony(seed=0)
    c.ingest_document("far", "cell membrane", Position(0, 0))
    c.substrate._docs[0].position = trusted_position(1e20, 0.0)  # (an older phago's store)
    db = tmp_path / "s.db"
    save(c, db)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("cells divide membrane protein", "utf-8")
    r = CliRunner().invoke(main, ["ingest", str(notes), "--db", str(db), "--json"])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    error = __import__("json").loads(r.stdout)["error"]
    assert error["type"] == "StoreError" and "POSITION_LIMIT" in error["message"]


def test_an_index_pickled_by_an_older_phago_still_answers() -> None:
    idx = PointIndex(10.0)
    xs, ys = np.array([0.0, 30.0]), np.array([0.0, 0.0])
    idx.rebuild(xs, ys)
    state = dict(idx.__dict__)
    del state["_far"]  # (what a checkpoint written before far points were kept apart holds)
    old = PointIndex.__new__(PointIndex)
    old.__setstate__(state)
    assert old.within(1.0, 0.0, 2.0, xs, ys).tolist() == [0]
