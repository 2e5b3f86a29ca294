"""Forgetting documents in a live sharded colony (:meth:`DistributedColony.forget_documents
<phago.distributed.colony.DistributedColony.forget_documents>`).

The rule is :func:`phago.state.forget_documents`'s, decided once for the whole cluster as
:func:`phago.state.plan_forget` decides it over every shard's saved state, but without
sending any shard's state to the driver. The plan is assembled from three rounds of small
answers, each shard working on its own graph and documents:

1. :func:`presented_pairs`: the pairs the forgotten documents this shard holds wired (with
   their presentation ticks), and the concepts it records presented from them;
2. :func:`support_needs`: given the pairs, which of the edges it stores keep co-activations
   once the forgotten presentations are withdrawn (those need a remaining document's
   support), since when; and which of the candidate concepts another of its documents
   presented (those stay);
3. :func:`supported_pairs`: which of those edges a remaining document it holds wired.

The driver merges the answers (:func:`plan_from_parts`) into the very plan
:func:`~phago.state.plan_forget` makes from the states themselves. Every shard then applies
it (:meth:`ShardedColony.forget_documents
<phago.distributed.shard.ShardedColony.forget_documents>`), and the messages held between
ticks are renumbered as a forget in a saved store renumbers them (:func:`forget_held`).

Example:
    >>> from phago import Colony, Digester, Position
    >>> from phago.state import capture, plan_forget
    >>> c = Colony(seed=0)
    >>> a = c.ingest_document("a", "alpha beta gamma", Position(0, 0))
    >>> b = c.ingest_document("b", "alpha beta delta", Position(1, 0))
    >>> _ = c.spawn(Digester(Position(0, 0))); _ = c.run_until_digested(50)
    >>> view = forget_view(c)
    >>> pairs, ticks, had = presented_pairs(view, [b])
    >>> plan = plan_from_parts([b], [(pairs, ticks, had)], lambda p, c: [support_needs(view, p, c)],
    ...                        lambda p, s, n: [supported_pairs(view, p, s, n)])
    >>> whole = plan_forget([capture(c)], [b])
    >>> bool(np.array_equal(plan.drop, whole.drop) and np.array_equal(plan.keys, whole.keys))
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from phago._arrays import unique_sorted
from phago.forgetting import forget_state, forget_view, reload_agents, restored_parts
from phago.state import ColonyState, ForgetPlan, _pair_rows, _supported_pairs

if TYPE_CHECKING:
    from phago.distributed.messages import HeldMessages

__all__ = [
    "forget_held",
    "forget_state",
    "forget_view",
    "plan_from_parts",
    "presented_pairs",
    "reload_agents",
    "restored_parts",
    "support_needs",
    "supported_pairs",
]

IntArray = npt.NDArray[np.int64]
U64Array = npt.NDArray[np.uint64]
BoolArray = npt.NDArray[np.bool_]

PresentedPart = tuple[U64Array, IntArray, U64Array]
"""A shard's answer to round 1: pairs ``(k, 2)``, their presentation ticks, concepts."""
NeedsPart = tuple[IntArray, IntArray, U64Array]
"""A shard's answer to round 2: pair slots, their edges' creation ticks, concepts kept."""


def _forgotten(doc_ids: Sequence[int]) -> U64Array:
    return np.array([int(d) for d in doc_ids], dtype=np.uint64)


def presented_pairs(state: ColonyState, doc_ids: Sequence[int]) -> PresentedPart:
    """Round 1 on one shard: every pair the presentations of the forgotten documents it
    holds wired (NodeIds, smaller first, one row per presentation), each one's presentation
    tick, and the NodeIds of the nodes it records presented from a forgotten document."""
    forgotten = _forgotten(doc_ids)
    pairs, ticks = _pair_rows(state, forgotten)
    gs = state.graph
    had = np.zeros(gs.node_count, dtype=np.bool_)
    had[gs.prov_node[np.isin(gs.prov_doc, forgotten)]] = True
    return pairs, ticks, gs.ids[had]


def support_needs(state: ColonyState, plan: ForgetPlan, candidates: U64Array) -> NeedsPart:
    """Round 2 on one shard: the slots of the pairs whose edge here keeps co-activations
    once the forgotten presentations are withdrawn (so it stays only with a remaining
    document's support) with each edge's creation tick, and the ``candidates`` (NodeIds
    presented from a forgotten document somewhere) presented here from another document."""
    gs = state.graph
    s, created = plan.edges_needing_support(gs)
    kept = ~np.isin(gs.prov_doc, _forgotten(plan.documents))
    still = np.zeros(gs.node_count, dtype=np.bool_)
    still[gs.prov_node[kept]] = True
    ids = gs.ids[still]
    return s.astype(np.int64), created, ids[np.isin(ids, candidates)]


def supported_pairs(
    state: ColonyState, plan: ForgetPlan, since: IntArray, needed: BoolArray
) -> IntArray:
    """Round 3 on one shard: the slots of the ``needed`` pairs that a remaining document it
    holds wired at or after ``since`` (the edge's creation)."""
    n = len(plan.ends)
    found = ~needed
    pair_ends = np.stack([plan.keys // n, plan.keys % n], axis=1)
    _supported_pairs(state, _forgotten(plan.documents), plan.ends, pair_ends, since, found)
    return np.flatnonzero(found & needed).astype(np.int64)


def plan_from_parts(
    doc_ids: Sequence[int],
    presented: Sequence[PresentedPart],
    needs: Callable[[ForgetPlan, U64Array], Sequence[NeedsPart]],
    supported: Callable[[ForgetPlan, IntArray, BoolArray], Sequence[IntArray]],
) -> ForgetPlan:
    """The cluster's plan from every shard's round-1 answer (``presented``, in shard order)
    and the answers to rounds 2 and 3, which ``needs(plan, candidates)`` and
    ``supported(plan, since, needed)`` ask every shard for. The result equals
    :func:`~phago.state.plan_forget` over every shard's state."""
    wanted = [int(d) for d in doc_ids]
    if presented:
        pairs = np.concatenate([p for p, _, _ in presented]).reshape(-1, 2)
        ticks = np.concatenate([t for _, t, _ in presented]).astype(np.int64)
        had = np.concatenate([h for _, _, h in presented]).astype(np.uint64)
    else:
        pairs, ticks = np.zeros((0, 2), np.uint64), np.zeros(0, np.int64)
        had = np.zeros(0, np.uint64)
    ends = unique_sorted(pairs.ravel()).astype(np.uint64)
    n = len(ends)
    fkey = np.searchsorted(ends, pairs[:, 0]).astype(np.int64) * n + np.searchsorted(
        ends, pairs[:, 1]
    )
    keys = unique_sorted(fkey).astype(np.int64)
    slots = np.searchsorted(keys, fkey).astype(np.int64)
    plan = ForgetPlan(
        wanted,
        ends,
        keys,
        slots,
        ticks,
        np.zeros(len(keys), dtype=np.bool_),
        np.zeros(0, dtype=np.uint64),
    )
    candidates = unique_sorted(had).astype(np.uint64)
    since = np.full(len(keys), np.iinfo(np.int64).min, dtype=np.int64)
    needed = np.zeros(len(keys), dtype=np.bool_)
    still: list[U64Array] = []
    for s, created, kept in needs(plan, candidates):
        needed[s] = True
        np.maximum.at(since, s, created)
        still.append(kept)
    if needed.any():
        found = np.zeros(len(keys), dtype=np.bool_)
        for hit in supported(plan, since, needed):
            found[hit] = True
        plan.supported = needed & found
    if len(candidates):
        kept_ids = np.concatenate(still) if still else np.zeros(0, np.uint64)
        plan.drop = np.setdiff1d(candidates, kept_ids).astype(np.uint64)
    return plan


def forget_held(
    held: HeldMessages,
    drop: U64Array,
    doc_ids: Sequence[int],
    kept: Mapping[int, IntArray],
) -> HeldMessages:
    """The messages held between ticks after a forget, as a forget in a saved store leaves
    them (:func:`phago.store.forget_in_store`): ghost answers of removed nodes and ghost
    requests for them go, the other ghosts no longer name the forgotten documents, and the
    degree reports and cap orders are renumbered to each shard's new node indices.

    Args:
        held: what the runner holds (not changed).
        drop: NodeIds of the concepts the plan removed.
        doc_ids: the forgotten documents' ids.
        kept: for each shard whose nodes were renumbered, the old indices of the nodes it
            kept, in their new order.
    """
    from phago import store

    data: dict[str, Any] = store._held_json(held)
    renumbered = {
        int(s): {int(old): new for new, old in enumerate(np.asarray(k).tolist())}
        for s, k in kept.items()
    }
    gone = {int(x) for x in np.asarray(drop).tolist()}
    docs = {int(d) for d in doc_ids}
    for answers in data["ghost_answers"].values():
        store._forget_ghosts(answers, gone, docs)
    for by_requester in data["asks"].values():  # ghost requests, by NodeId
        for req, items in by_requester.items():
            by_requester[req] = [x for x in items if isinstance(x, dict) or int(x) not in gone]
    store._renumber_asks(data["asks"], renumbered)
    store._renumber_cap_orders(data["ghost_answers"], renumbered)
    out: HeldMessages = store._held_from_json(data)
    return out
