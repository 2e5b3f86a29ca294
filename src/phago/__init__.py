"""phago: biological-style agents digest documents into a self-organising Hebbian knowledge graph.

The public names below are imported on first use (``import phago`` alone loads none of
NumPy, Numba or SciPy: a command line that only prints its help starts at once).

Example:
    >>> import phago
    >>> colony = phago.Colony(seed=0)
    >>> _ = colony.ingest_document("t", "ribosome protein synthesis", phago.Position(0, 0))
    >>> _ = colony.spawn(phago.Digester(phago.Position(0, 0)))
    >>> colony.run_until_digested(20) > 0
    True
"""

from typing import TYPE_CHECKING

from phago._lazy import lazy_package

__version__ = "0.1.0"

if TYPE_CHECKING:
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

lazy_package(
    __name__,
    {
        **dict.fromkeys(["Agent", "Digester", "DigesterState", "FitnessTracker"], "phago.agents"),
        **dict.fromkeys(["Colony", "ColonySnapshot", "ColonyStats"], "phago.colony"),
        "ColonyConfig": "phago.config",
        "PhagoError": "phago.errors",
        "HebbianGraph": "phago.graph",
        **dict.fromkeys(["AgentId", "DocumentId", "NodeId", "document_id", "node_id"], "phago.ids"),
        **dict.fromkeys(
            [
                "CellHealth",
                "Document",
                "EdgeData",
                "NodeData",
                "NodeType",
                "Position",
                "Signal",
                "SignalType",
                "Trace",
                "TraceType",
            ],
            "phago.types",
        ),
    },
)

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
