"""Substrate: documents, signals, traces, spatial lookups and decay."""

from __future__ import annotations

import math

import pytest

from phago.errors import EmptyDocument, InvalidPosition, UnknownDocument
from phago.ids import AgentId
from phago.substrate import Substrate
from phago.types import Position, Signal, SignalType, Trace, TraceType


def sig(x: float, y: float, intensity: float = 1.0, kind: SignalType = SignalType.INPUT) -> Signal:
    return Signal(kind, intensity, Position(x, y), AgentId(7), 0)


def test_documents_idempotent_and_consumed_once() -> None:
    s = Substrate()
    a = s.add_document("t", "text here", Position(0, 0))
    assert s.add_document("t", "text here", Position(9, 9)) == a
    assert s.document_count == 1 and s.undigested_count == 1
    assert s.consume_document(a) == "text here"
    assert s.consume_document(a) is None
    assert s.undigested_count == 0 and s.get_document(a).digested
    with pytest.raises(UnknownDocument):
        s.get_document(12345)  # type: ignore[arg-type]


def test_empty_document_refused() -> None:
    with pytest.raises(EmptyDocument):
        Substrate().add_document("t", "   \n", Position(0, 0))


def test_position_must_be_finite() -> None:
    with pytest.raises(InvalidPosition):
        Position(math.nan, 0)
    with pytest.raises(InvalidPosition):
        Position(0, math.inf)
    with pytest.raises(InvalidPosition):
        Position("a", 0)  # type: ignore[arg-type]


def test_undigested_near_nearest_first_inclusive() -> None:
    s = Substrate()
    far = s.add_document("far", "x1", Position(10, 0))
    near = s.add_document("near", "x2", Position(3, 0))
    s.add_document("out", "x3", Position(10.01, 0))
    found = s.undigested_near(Position(0, 0), 10.0)
    assert [d for _, d in found] == [near, far]
    s.consume_document(near)
    assert s.nearest_undigested(Position(0, 0), 10.0) == far


def test_signal_decay_and_strict_removal() -> None:
    s = Substrate()
    s.emit_signal(sig(0, 0))
    steps = 0
    while s.signal_count:
        s.decay_signals(0.05, 0.01)
        steps += 1
    assert steps == 90  # REFERENCE.md §1.6: survives 89 decays, removed at the 90th


def test_document_signal_persists_until_digested_then_withdrawn() -> None:
    s = Substrate()
    d = s.add_document("t", "text", Position(0, 0))
    for _ in range(200):
        s.decay_signals(0.05, 0.01)
    assert s.signal_count == 1
    assert s.gradient(Position(5, 0), 10, SignalType.INPUT) is not None
    s.consume_document(d)
    assert s.signal_count == 0
    assert s.gradient(Position(5, 0), 10, SignalType.INPUT) is None


def test_gradient_points_to_intensity_weighted_side() -> None:
    s = Substrate()
    s.emit_signal(sig(4, 0, 1.0))
    s.emit_signal(sig(-4, 0, 0.5))
    g = s.gradient(Position(0, 0), 10, SignalType.INPUT)
    assert (
        g is not None
        and g.direction.x == pytest.approx(1.0)
        and g.direction.y == pytest.approx(0.0)
    )
    # signal exactly at the point contributes nothing
    s2 = Substrate()
    s2.emit_signal(sig(0, 0))
    assert s2.gradient(Position(0, 0), 10, SignalType.INPUT) is None


def test_signals_near_inclusive_disc_any_type() -> None:
    s = Substrate()
    s.emit_signal(sig(10, 0, kind=SignalType.QUORUM))
    s.emit_signal(sig(7.1, 7.1))
    assert [x.signal_type for x in s.signals_near(Position(0, 0), 10)] == [SignalType.QUORUM]
    hit = s.first_signal_near(Position(0, 0), 10, (SignalType.QUORUM,), exclude_emitter=AgentId(7))
    assert hit is None


def test_traces_disc_not_square_and_decay_inclusive() -> None:
    s = Substrate()
    t = Trace(AgentId(1), TraceType.DIGESTION, 1.0, 0)
    s.deposit_trace(Position(7.5, 7.5), t)  # in the square of r=10, outside the disc
    s.deposit_trace(Position(0.04, 0), t)
    assert len(s.traces_near(Position(0, 0), 10, TraceType.DIGESTION)) == 1
    assert len(s.traces_at(Position(0.0, 0.0))) == 1
    steps = 0
    while s.trace_count:
        s.decay_traces(0.02, 0.01)
        steps += 1
    assert steps == 228  # REFERENCE.md §2.3


def test_trace_payload_round_trip() -> None:
    s = Substrate()
    s.deposit_trace(Position(1, 1), Trace(AgentId(3), TraceType.CAPABILITY_DEPOSIT, 1.0, 5, b"{}"))
    (tr,) = s.traces_near(Position(0, 0), 5)
    assert tr.payload == b"{}" and tr.tick == 5 and tr.agent_id == 3


def test_spatial_index_scales_with_neighbourhood() -> None:
    s = Substrate()
    for i in range(2000):
        s.add_document(f"d{i}", f"content {i}", Position((i % 50) * 5.0, (i // 50) * 5.0))
    near = s.undigested_near(Position(100, 100), 10.0)
    assert 10 <= len(near) <= 20
    assert all(d <= 10.0 for d, _ in near)


def test_traces_near_many_matches_traces_near_as_traces_come_and_go() -> None:
    s = Substrate()
    cap, dig = TraceType.CAPABILITY_DEPOSIT, TraceType.DIGESTION
    at = [Position(0, 0), Position(9, 0), Position(30, 30), Position(10, 0)]
    for i, p in enumerate(at):
        s.deposit_trace(p, Trace(AgentId(i + 1), cap, 1.0 - 0.2 * i, 0, b"x"))
        s.deposit_trace(p, Trace(AgentId(i + 1), dig, 1.0, 0))
    queries = [Position(0, 0), Position(10, 0), Position(29, 29), Position(100, 100)]

    def same() -> None:
        many = s.traces_near_many(queries, 10.0, cap)
        assert many == [s.traces_near(q, 10.0, cap) for q in queries]

    same()
    assert [len(h) for h in s.traces_near_many(queries, 10.0, cap)] == [3, 3, 1, 0]
    s.decay_traces(0.5, 0.3)  # the weakest capability deposit (0.4 -> 0.2) is dropped
    same()
    assert [len(h) for h in s.traces_near_many(queries, 10.0, cap)] == [2, 2, 1, 0]
    s.deposit_trace(Position(95, 95), Trace(AgentId(9), cap, 1.0, 1, b"y"))
    same()
    assert len(s.traces_near_many(queries, 10.0, cap)[3]) == 1
    assert s.traces_near_many([], 10.0, cap) == []
