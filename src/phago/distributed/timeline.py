"""Where pipelined shards wait: a summary of the actors' call timelines.

A pipelined Ray tick runs in two halves on each shard (see
:class:`~phago.distributed.backends.ray.RayTickPipeline`): Sense and Act, then Decay and
Advance (one Ray call runs a tick's Decay and Advance and the next tick's Sense and Act).
Each actor notes every half it ran as a :class:`CallSpan` (the tick the shard was at when
the half began, which half, and when it began and ended on ``time.monotonic``). From
every shard's spans :func:`wait_summary` tells, per shard, how long it worked, how long it
sat between its own calls, and how late its Decay started after the last input it waits for
(the other shards' Act parts and last Decay's parts): the hop between actors.

The clocks of one machine agree (``CLOCK_MONOTONIC``), so the hop is meaningful only for
shards on one machine; the rest holds anywhere.

:func:`replayed_span` replays the calls with the durations they had and asks what the
waits cost: how long the ticks would have taken had each Decay needed the other shards'
parts of ``lag`` ticks before (0: as the runner runs them; 1: one tick of slack between
the shards, which the runner does not do; docs/distributed.md, "Slack between shards").

Example:
    >>> A, D = SENSE_ACT, DECAY_ADVANCE
    >>> spans = [
    ...     [CallSpan(0, A, 0.0, 1.0), CallSpan(0, D, 1.5, 2.0),
    ...      CallSpan(1, A, 2.0, 3.0), CallSpan(1, D, 3.5, 4.0)],
    ...     [CallSpan(0, A, 0.0, 1.2), CallSpan(0, D, 1.3, 2.0),
    ...      CallSpan(1, A, 2.0, 3.2), CallSpan(1, D, 3.3, 4.0)],
    ... ]
    >>> s = wait_summary(spans)
    >>> [round(x.before_decay_s, 2) for x in s.shards]  # shard 0 waits for shard 1's Act
    [1.0, 0.2]
    >>> round(s.mean_hop_ms)  # at tick 1, shard 1's Act ended at 3.2: hops of 0.3 and 0.1 s
    200
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "DECAY_ADVANCE",
    "SENSE_ACT",
    "CallSpan",
    "ShardWaits",
    "WaitSummary",
    "replayed_span",
    "wait_summary",
]

SENSE_ACT = 0  # a tick's first pipelined call
DECAY_ADVANCE = 1  # its second


class CallSpan(NamedTuple):
    """One pipelined call an actor ran: the shard's tick when it began, which call
    (:data:`SENSE_ACT` or :data:`DECAY_ADVANCE`), and its start and end (``time.monotonic``,
    seconds)."""

    tick: int
    call: int
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class ShardWaits:
    """One shard's side of :func:`wait_summary`.

    Attributes:
        calls: calls counted (both kinds, ticks every shard ran).
        busy_s: seconds inside those calls.
        before_sense_s: seconds from each Decay-and-Advance call's end to the next tick's
            Sense-and-Act call's start (the actor waiting for its next call).
        before_decay_s: seconds from each Sense-and-Act call's end to the same tick's
            Decay-and-Advance call's start (waiting for the other shards' parts).
        hop_s: of those, seconds after the last input the Decay waited for had been made
            (the other shards' Act calls of the tick, their Decay calls of the tick before,
            and its own Act call).
    """

    calls: int
    busy_s: float
    before_sense_s: float
    before_decay_s: float
    hop_s: float


@dataclass(frozen=True, slots=True)
class WaitSummary:
    """Per shard waits of a pipelined run, over the ticks every shard ran.

    Attributes:
        ticks: ticks counted.
        span_s: from the first counted call's start to the last one's end.
        shards: each shard's :class:`ShardWaits`, in shard order.
        mean_hop_ms: the hop of a Decay call, averaged over shards and ticks (ms).
    """

    ticks: int
    span_s: float
    shards: list[ShardWaits]
    mean_hop_ms: float


def _ticks_run_everywhere(
    by_shard: Sequence[dict[tuple[int, int], CallSpan]],
) -> list[int]:
    """The ticks at which every shard ran both calls, in order."""
    if not by_shard:
        return []
    everywhere = set.intersection(*({t for t, _ in d} for d in by_shard))
    return sorted(
        t
        for t in everywhere
        if all((t, SENSE_ACT) in d and (t, DECAY_ADVANCE) in d for d in by_shard)
    )


def wait_summary(spans: Sequence[Sequence[CallSpan]]) -> WaitSummary:
    """Summarise every shard's call spans (``spans[i]``: shard ``i``'s, in any order).

    Only ticks at which every shard ran both calls count; a Decay's hop needs the tick
    before too, so the first counted tick has none.

    Returns:
        The summary (zero ticks when no tick was run by every shard).
    """
    by_shard = [{(s.tick, s.call): s for s in shard} for shard in spans]
    ticks = _ticks_run_everywhere(by_shard)
    if not ticks:
        idle = ShardWaits(0, 0.0, 0.0, 0.0, 0.0)
        return WaitSummary(0, 0.0, [idle] * len(spans), 0.0)
    counted = set(ticks)
    out: list[ShardWaits] = []
    hops = 0
    hop_total = 0.0
    for i, d in enumerate(by_shard):
        busy = before_sense = before_decay = hop = 0.0
        for t in ticks:
            act, decay = d[(t, SENSE_ACT)], d[(t, DECAY_ADVANCE)]
            busy += (act.end - act.start) + (decay.end - decay.start)
            before_decay += decay.start - act.end
            if t - 1 in counted:
                before_sense += act.start - d[(t - 1, DECAY_ADVANCE)].end
                ready = max(
                    [act.end]
                    + [o[(t, SENSE_ACT)].end for j, o in enumerate(by_shard) if j != i]
                    + [o[(t - 1, DECAY_ADVANCE)].end for j, o in enumerate(by_shard) if j != i]
                )
                hop += max(decay.start - ready, 0.0)
                hops += 1
        hop_total += hop
        out.append(ShardWaits(2 * len(ticks), busy, before_sense, before_decay, hop))
    first = min(d[(ticks[0], SENSE_ACT)].start for d in by_shard)
    last = max(d[(ticks[-1], DECAY_ADVANCE)].end for d in by_shard)
    return WaitSummary(len(ticks), last - first, out, 1000.0 * hop_total / max(hops, 1))


def replayed_span(spans: Sequence[Sequence[CallSpan]], lag: int = 0, hop_s: float = 0.0) -> float:
    """Seconds the ticks every shard ran would take, replayed with each call as long as it
    was, if each shard's Decay of a tick waited for the other shards' parts made ``lag``
    ticks before.

    A shard's calls follow one another without a gap (chained ticks), its Decay-and-Advance
    call starts once its own Sense and Act are done and every other shard has finished the
    Sense-and-Act call of ``lag`` ticks before (the call that returns its Act parts and the
    previous Decay's asks and answers), ``hop_s`` after that, and the replay ends when the
    last shard's last Decay does. With ``lag`` 0 this is the runner's order, and the replay
    comes near the run's own span where the calls ran back to back; a larger ``lag`` tells
    what slack between the shards would save, with the durations unchanged (fair where
    each shard has a core of its own: with more shards than cores, a shard that no longer
    waits takes CPU from the others). The last shard's own work bounds it from below.

    Example:
        >>> A, D = SENSE_ACT, DECAY_ADVANCE
        >>> slow_then_fast = [CallSpan(0, A, 0, 2), CallSpan(0, D, 2, 3),
        ...                   CallSpan(1, A, 3, 4), CallSpan(1, D, 4, 5)]
        >>> fast_then_slow = [CallSpan(0, A, 0, 1), CallSpan(0, D, 2, 3),
        ...                   CallSpan(1, A, 3, 5), CallSpan(1, D, 5, 6)]
        >>> spans = [slow_then_fast, fast_then_slow]
        >>> replayed_span(spans), replayed_span(spans, lag=1)  # 5 s of work each
        (6.0, 5.0)

    Raises:
        ValueError: a negative ``lag`` or ``hop_s``.
    """
    if lag < 0 or hop_s < 0:
        raise ValueError(f"lag and hop_s must not be negative (got {lag}, {hop_s})")
    by_shard = [{(s.tick, s.call): s for s in shard} for shard in spans]
    ticks = _ticks_run_everywhere(by_shard)
    if not ticks:
        return 0.0
    n = len(by_shard)
    act_end = [[0.0] * len(ticks) for _ in range(n)]
    decay_end = [0.0] * n
    for i, t in enumerate(ticks):
        for s, d in enumerate(by_shard):
            act = d[(t, SENSE_ACT)]
            act_end[s][i] = decay_end[s] + (act.end - act.start)
        for s, d in enumerate(by_shard):
            inputs = [act_end[o][i - lag] + hop_s for o in range(n) if o != s and i >= lag]
            decay = d[(t, DECAY_ADVANCE)]
            decay_end[s] = max([act_end[s][i], *inputs]) + (decay.end - decay.start)
    return max(decay_end)
