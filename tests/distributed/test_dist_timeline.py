"""Where pipelined shards wait: summaries of call timelines (phago.distributed.timeline)."""

from __future__ import annotations

import doctest
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phago.distributed import timeline
from phago.distributed.timeline import (
    DECAY_ADVANCE,
    SENSE_ACT,
    CallSpan,
    replayed_span,
    wait_summary,
)

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


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[list[CallSpan]], bool]:
    """Timelines as the runner makes them: each Decay starts once its own Act and every
    other shard's Act of the tick are done, after a gap (zero for all, or drawn)."""
    shards = draw(st.integers(1, 4))
    ticks = draw(st.integers(1, 6))
    length = st.floats(0.0, 2.0, allow_nan=False)
    back_to_back = draw(st.booleans())
    gap = st.just(0.0) if back_to_back else length
    out: list[list[CallSpan]] = [[] for _ in range(shards)]
    free = [0.0] * shards
    for k in range(ticks):
        act_end = []
        for s in range(shards):
            start = free[s] + draw(gap)
            end = start + draw(length)
            out[s].append(CallSpan(k, A, start, end))
            act_end.append(end)
        ready = max(act_end)
        for s in range(shards):
            start = ready + draw(gap)
            free[s] = start + draw(length)
            out[s].append(CallSpan(k, D, start, free[s]))
    return out, back_to_back


@given(runs(), st.floats(0.0, 0.5, allow_nan=False))
def test_a_replay_never_beats_the_shards_own_work_and_slack_never_slows_it(
    run: tuple[list[list[CallSpan]], bool], hop: float
) -> None:
    spans, _ = run
    own = max(sum(c.end - c.start for c in shard) for shard in spans)
    ticks = len(spans[0]) // 2
    spans_by_lag = [replayed_span(spans, lag, hop) for lag in range(ticks + 2)]
    assert spans_by_lag[0] >= own - 1e-9
    for earlier, later in itertools.pairwise(spans_by_lag):
        assert later <= earlier + 1e-9
    assert spans_by_lag[-1] == pytest.approx(own)  # nothing to wait for
    assert replayed_span(spans, 0, hop) >= replayed_span(spans, 0, 0.0) - 1e-9


@given(runs())
def test_a_replay_in_the_runners_order_takes_the_run_without_its_gaps(
    run: tuple[list[list[CallSpan]], bool],
) -> None:
    spans, back_to_back = run
    replay = replayed_span(spans)
    last = max(c.end for shard in spans for c in shard)
    if back_to_back:
        assert replay == pytest.approx(last)
    else:
        assert replay <= last + 1e-9


def test_one_tick_of_slack_absorbs_turns_at_being_late() -> None:
    # each shard is slow at every other tick, the other one at the others: in the runner's
    # order both wait for the slow one every tick (3.5 s a tick); with a tick of slack each
    # one's work (3 s a tick) is all that counts
    spans: list[list[CallSpan]] = [[], []]
    for s in range(2):
        t = 0.0
        for k in range(4):
            act = 2.0 if (k + s) % 2 == 0 else 1.0
            spans[s] += [CallSpan(k, A, t, t + act), CallSpan(k, D, t + act, t + act + 1.5)]
            t += act + 1.5
    assert replayed_span(spans) == pytest.approx(4 * 3.5)
    assert replayed_span(spans, lag=1) == pytest.approx(4 * 3.0)
    assert replayed_span([[], []], lag=1) == 0.0
    with pytest.raises(ValueError, match="must not be negative"):
        replayed_span(spans, lag=-1)
