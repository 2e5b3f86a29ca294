"""Forgetting documents in a live colony, in place: the parts of its state a forget reads
and changes, and putting the result back.

A store's forget (:func:`phago.state.forget_documents`) works on a whole captured state.
A live colony needs less: its graph and documents (:func:`forget_view`), and of each agent
only the part the rule reads and changes (:func:`forget_state`); the rest of an agent's
state stays as its ``state_dict()`` gave it (:func:`reload_agents`), where a whole capture
would turn every agent's state into JSON data and back (most of a forget's time). Both
:meth:`Colony.forget_documents <phago.colony.Colony.forget_documents>` and each shard of a
distributed colony forget this way.

Example:
    >>> from phago import Colony, Digester, Position
    >>> from phago.state import forget_documents
    >>> c = Colony(seed=0)
    >>> a = c.ingest_document("a", "alpha beta gamma", Position(0, 0))
    >>> b = c.ingest_document("b", "alpha beta delta", Position(1, 0))
    >>> _ = c.spawn(Digester(Position(0, 0))); _ = c.run_until_digested(50)
    >>> state, whole = forget_state(c)
    >>> report = forget_documents(state, [b])
    >>> graph, substrate = restored_parts(state)
    >>> sorted(graph.labels()), [d.title for d in substrate.documents()]
    (['alpha', 'beta', 'gamma'], ['a'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from phago._gc import cyclic_gc_paused
from phago.colony import Colony
from phago.config import ColonyConfig
from phago.errors import PhagoError, StoreError
from phago.graph import HebbianGraph
from phago.state import (
    AgentState,
    ColonyState,
    _capture_graph,
    _capture_substrate,
    _restore_graph,
    _restore_substrate,
    from_jsonable,
    to_jsonable,
)
from phago.substrate import Substrate

__all__ = ["forget_state", "forget_view", "reload_agents", "restored_parts"]


def forget_view(colony: Colony) -> ColonyState:
    """What planning a forget reads of a colony: its graph and documents as a
    :class:`~phago.state.ColonyState` (copies; no agents, counters or generator state)."""
    return ColonyState(
        config=colony.config.to_dict(),
        seed=0,
        rng={},
        total_spawned=0,
        total_died=0,
        layout_next=0,
        graph=_capture_graph(colony.graph),
        substrate=_capture_substrate(colony.substrate),
    )


# what :func:`phago.state.forget_documents` reads and changes of an agent's state
_AGENT_KEYS = ("target", "current_document", "engulfed", "text_for_pairs", "state", "seen_nodes")


def forget_state(colony: Colony) -> tuple[ColonyState, list[dict[str, Any]]]:
    """What forgetting in a colony reads and changes: :func:`forget_view` with, for each
    agent, the part of its ``state_dict()`` that :func:`phago.state.forget_documents`
    reads (the documents it holds, its cursor over the graph's nodes); and each agent's
    whole ``state_dict()``, for :func:`reload_agents`. (A whole capture would turn every
    agent's state into JSON data and back, most of the time of a forget.)"""
    state = forget_view(colony)
    whole = [a.state_dict() for a in colony.agents]
    state.agents = [
        AgentState(a.agent_type, {k: sd[k] for k in _AGENT_KEYS if k in sd})
        for a, sd in zip(colony.agents, whole, strict=True)
    ]
    return state, whole


def reload_agents(
    colony: Colony,
    agents: Sequence[AgentState],
    before: Sequence[Mapping[str, Any]],
    whole: Sequence[dict[str, Any]],
) -> None:
    """After a forget in the state :func:`forget_state` gave (``agents``: its agents'
    parts after the forget): each agent whose part changed (``before``: the parts as they
    were) loads its whole state with the changes. Only the changed part goes through JSON
    data, as a store's state holds it; the rest is what the agent's ``state_dict()`` gave,
    which its ``load_state_dict`` takes back as it is (turning an agent's whole state into
    JSON data and back was a third of a forget's time)."""
    for agent, old, got, sd in zip(colony.agents, before, agents, whole, strict=True):
        if got.state != old:
            agent.load_state_dict({**sd, **from_jsonable(to_jsonable(got.state))})


def restored_parts(state: ColonyState) -> tuple[HebbianGraph, Substrate]:
    """A state's graph and substrate, rebuilt as :func:`phago.state.restore` rebuilds them
    (and checked as it checks them).

    Raises:
        StoreError: the state is inconsistent.
    """
    try:
        config = ColonyConfig.from_dict(dict(state.config))
    except (PhagoError, TypeError, ValueError) as exc:
        raise StoreError(f"colony config is invalid: {exc}") from exc
    fresh = Colony(config)
    with cyclic_gc_paused():
        try:
            _restore_graph(state.graph, fresh.graph)
            _restore_substrate(state.substrate, fresh.substrate)
        except StoreError:
            raise
        except (PhagoError, TypeError, ValueError, KeyError, IndexError) as exc:
            raise StoreError(f"colony state is inconsistent after the forget: {exc}") from exc
    return fresh.graph, fresh.substrate
