"""Events a colony tick reports (REFERENCE.md §4.4).

Example:
    >>> from phago.events import TickComplete
    >>> TickComplete(tick=1, alive=3, dead_this_tick=0).tick
    1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from phago.ids import AgentId, DocumentId, NodeId
from phago.types import DeathSignal, Position

__all__ = [
    "CapabilityExported",
    "CapabilityIntegrated",
    "ColonyEvent",
    "Deposited",
    "Died",
    "Dissolved",
    "Engulfed",
    "Moved",
    "Presented",
    "Spawned",
    "Symbiosis",
    "TickComplete",
    "Wired",
]


@dataclass(frozen=True, slots=True)
class Spawned:
    """An agent joined the colony."""

    agent_id: AgentId
    agent_type: str


@dataclass(frozen=True, slots=True)
class Moved:
    """An agent moved."""

    agent_id: AgentId
    to: Position


@dataclass(frozen=True, slots=True)
class Engulfed:
    """An agent consumed a document."""

    agent_id: AgentId
    document: DocumentId


@dataclass(frozen=True, slots=True)
class Presented:
    """An agent presented fragments; ``node_ids`` are the nodes they became."""

    agent_id: AgentId
    fragment_count: int
    node_ids: tuple[NodeId, ...]
    document: DocumentId | None = None
    created: int = 0


@dataclass(frozen=True, slots=True)
class Deposited:
    """An agent left a trace."""

    agent_id: AgentId
    location: Position


@dataclass(frozen=True, slots=True)
class Wired:
    """An agent's presentation wired ``connection_count`` pairs (created or reinforced),
    ``created`` of them new edges.

    Where a presentation hook wires (a distributed colony's shards: the edges are wired when
    Act ends, some on other shards), ``created`` is 0: which edges are new is not known when
    the event is made.
    """

    agent_id: AgentId
    connection_count: int
    created: int = 0


@dataclass(frozen=True, slots=True)
class Died:
    """An agent died."""

    signal: DeathSignal


@dataclass(frozen=True, slots=True)
class TickComplete:
    """A tick finished: the new tick, agents alive, agents that died during it."""

    tick: int
    alive: int
    dead_this_tick: int


@dataclass(frozen=True, slots=True)
class CapabilityExported:
    """An agent published its vocabulary."""

    agent_id: AgentId
    terms_count: int


@dataclass(frozen=True, slots=True)
class CapabilityIntegrated:
    """An agent integrated another agent's published vocabulary."""

    agent_id: AgentId
    from_agent: AgentId
    terms_count: int


@dataclass(frozen=True, slots=True)
class Symbiosis:
    """A host absorbed another agent."""

    host: AgentId
    absorbed: AgentId
    host_type: str
    absorbed_type: str


@dataclass(frozen=True, slots=True)
class Dissolved:
    """An agent's boundary dissolved and it reinforced its vocabulary in the graph."""

    agent_id: AgentId
    permeability: float
    terms_externalized: int


ColonyEvent: TypeAlias = (
    Spawned
    | Moved
    | Engulfed
    | Presented
    | Deposited
    | Wired
    | Died
    | TickComplete
    | CapabilityExported
    | CapabilityIntegrated
    | Symbiosis
    | Dissolved
)
