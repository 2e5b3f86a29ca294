"""phago: biological-style agents digest documents into a self-organising Hebbian knowledge graph.

Example:
    >>> import phago
    >>> colony = phago.Colony(seed=0)
    >>> _ = colony.ingest_document("t", "ribosome protein synthesis", phago.Position(0, 0))
    >>> _ = colony.spawn(phago.Digester(phago.Position(0, 0)))
    >>> colony.run_until_digested(20) > 0
    True
"""

from phago.agents import Agent, Digester, DigesterState, FitnessTracker
from phago.colony import Colony, ColonySnapshot, ColonyStats
from phago.config import ColonyConfig
from phago.errors import PhagoError
from phago.graph import HebbianGraph
from phago.ids import AgentId, DocumentId, NodeId, document_id, node_id
from phago.types import (
    CellHealth,
    Document,
    EdgeData,
    NodeData,
    NodeType,
    Position,
    Signal,
    SignalType,
    Trace,
    TraceType,
)

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentId",
    "CellHealth",
    "Colony",
    "ColonyConfig",
    "ColonySnapshot",
    "ColonyStats",
    "Digester",
    "DigesterState",
    "Document",
    "DocumentId",
    "EdgeData",
    "FitnessTracker",
    "HebbianGraph",
    "NodeData",
    "NodeId",
    "NodeType",
    "PhagoError",
    "Position",
    "Signal",
    "SignalType",
    "Trace",
    "TraceType",
    "__version__",
    "document_id",
    "node_id",
]
