"""Where pipelined shards wait: summaries of call timelines (phago.distributed.timeline)."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phago.distributed import timeline
from phago.distributed.timeline import DECAY_ADVANCE, SENSE_ACT, CallSpan, wait_summary

A, D = SENSE_ACT, DECAY_ADVANCE


def test_doctests() -> None:
    result = doctest.testmod(timeline)
    assert result.attempted >= 4 and result.failed == 0


def test_no_spans_no_ticks() -> None:
    assert wait_summary([]).ticks == 0
    s = wait_summary([[], []])
    assert (s.ticks, s.span_s, s.mean_hop_ms, len(s.shards)) == (0, 0.0, 0.0, 2)
    assert s.shards[0].calls == 0


def test_only_ticks_every_shard_ran_count() -> None:
    one = [CallSpan(0, A, 0.0, 1.0), CallSpan(0, D, 1.0, 2.0), CallSpan(1, A, 2.0, 3.0)]
    other = [CallSpan(0, A, 0.0, 1.0), CallSpan(0, D, 1.0, 2.0)]
    s = wait_summary([one, other])
    assert s.ticks == 1 and s.span_s == pytest.approx(2.0)
    assert [w.calls for w in s.shards] == [2, 2]
    assert [w.busy_s for w in s.shards] == pytest.approx([2.0, 2.0])


def test_a_decay_waits_for_the_last_input_made_anywhere() -> None:
    # at tick 1 the last input of either Decay is shard 1's Act (ended at 2.9, after shard
    # 1's Decay of tick 0 at 2.6 and shard 0's Act at 2.5): shard 0's Decay began at 3.0
    # (a hop of 0.1 s), shard 1's at 3.1 (0.2 s)
    spans = [
        [CallSpan(0, A, 0.0, 1.0), CallSpan(0, D, 1.0, 2.0), CallSpan(1, A, 2.0, 2.5),
         CallSpan(1, D, 3.0, 3.5)],
        [CallSpan(0, A, 0.0, 1.0), CallSpan(0, D, 1.1, 2.6), CallSpan(1, A, 2.6, 2.9),
         CallSpan(1, D, 3.1, 3.6)],
    ]  # fmt: skip
    s = wait_summary(spans)
    assert [w.hop_s for w in s.shards] == pytest.approx([0.1, 0.2])
    assert s.mean_hop_ms == pytest.approx(150.0)
    assert [w.before_sense_s for w in s.shards] == pytest.approx([0.0, 0.0])
    assert [w.before_decay_s for w in s.shards] == pytest.approx([0.5, 0.3])


@st.composite
def timelines(draw: st.DrawFn) -> list[list[CallSpan]]:
    shards = draw(st.integers(1, 4))
    ticks = draw(st.integers(1, 6))
    gap = st.floats(0.0, 2.0)
    out = []
    for _ in range(shards):
        t, spans = draw(gap), []
        for k in range(ticks):
            for call in (A, D):
                start = t + draw(gap)
                t = start + draw(gap)
                spans.append(CallSpan(k, call, start, t))
        out.append(draw(st.permutations(spans)))
    return out


@given(timelines())
def test_each_shard_is_busy_or_waiting_from_its_first_call_to_its_last(
    spans: list[list[CallSpan]],
) -> None:
    s = wait_summary(spans)
    assert s.ticks == len(spans[0]) // 2
    for shard, w in zip(spans, s.shards, strict=True):
        first, last = min(c.start for c in shard), max(c.end for c in shard)
        total = w.busy_s + w.before_sense_s + w.before_decay_s
        assert total == pytest.approx(last - first, abs=1e-9)
        assert 0.0 <= w.hop_s <= w.before_decay_s + 1e-9
        assert w.calls == 2 * s.ticks
    assert s.span_s >= max(w.busy_s for w in s.shards) - 1e-9
