"""One distributed tick driven inline over in-process shards, for tests.

The runner's calls, order and routing (``DistributedRunner._tick_steps``), one shard after
another, with no threads, barrier or checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from phago.distributed import ShardedColony, TickPhase


def inline_tick(
    shards: list[ShardedColony],
    asks: dict[int, dict[int, list[Any]]] | None = None,
    on_act: Callable[[ShardedColony], None] | None = None,
) -> dict[int, dict[int, list[Any]]]:
    """Run one tick; ``asks`` are last tick's Decay outputs (owner -> requesting shard ->
    node ids and a degree report), and this tick's are returned (``on_act`` is called with
    each shard just before its Act)."""
    asks = asks or {}
    inbound: dict[int, list[Any]] = {}
    for s in shards:
        r = s.run_phase(
            TickPhase.SENSE,
            {"asks": asks.get(int(s.shard_id), {}), "collect": False, "distribution": None},
        )
        for req, got in r.ghost_answers.items():  # type: ignore[attr-defined]
            inbound.setdefault(req, []).extend(got)
    for s in shards:
        if on_act is not None:
            on_act(s)
        for b in s.run_phase(TickPhase.ACT).updates:  # type: ignore[attr-defined]
            inbound.setdefault(b.dest, []).append(b)
    out: dict[int, dict[int, list[Any]]] = {}
    for s in shards:
        r = s.run_phase(TickPhase.DECAY, inbound.get(int(s.shard_id), []))
        for owner, items in r.ghost_requests.items():  # type: ignore[attr-defined]
            out.setdefault(owner, {})[int(s.shard_id)] = items
    for s in shards:
        s.run_phase(TickPhase.ADVANCE)
    return out
