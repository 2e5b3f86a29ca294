"""One distributed tick driven inline over in-process shards, for tests.

The runner's calls, order and routing (``DistributedRunner._tick_steps``), one shard after
another, with no threads, barrier or checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from phago.distributed import ShardedColony, TickPhase
from phago.distributed.messages import HeldMessages


def inline_tick(
    shards: list[ShardedColony],
    held: HeldMessages | None = None,
    on_act: Callable[[ShardedColony], None] | None = None,
) -> HeldMessages:
    """Run one tick; ``held`` is what last tick's Decay sent (asks to answer, answers to
    deliver), and this tick's is returned (``on_act`` is called with each shard just
    before its Act)."""
    held = held or HeldMessages()
    for s in shards:
        s.run_phase(TickPhase.SENSE, {"collect": False, "distribution": None})
    inbound: dict[int, list[Any]] = {k: list(v) for k, v in held.answers.items()}
    for s in shards:
        if on_act is not None:
            on_act(s)
        for b in s.run_phase(TickPhase.ACT).updates:  # type: ignore[attr-defined]
            inbound.setdefault(b.dest, []).append(b)
    out = HeldMessages()
    for s in shards:
        sid = int(s.shard_id)
        payload = {"asks": held.asks.get(sid, {}), "inbound": inbound.get(sid, [])}
        r: Any = s.run_phase(TickPhase.DECAY, payload)
        out.add(sid, r.ghost_requests, r.ghost_answers)
    for s in shards:
        s.run_phase(TickPhase.ADVANCE)
    return out
